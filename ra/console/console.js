// The RA officers' console: a client of rad's officer API on this origin
// (docs/openapi.yaml). Data is only ever put into the page as text.
'use strict';

const PER_PAGE = 20;
// How often the page asks whether its session still holds (revoked
// elsewhere, the officer disabled): what it shows goes within this long.
const SESSION_CHECK_MS = 30000;
const state = { page: 1, cpage: 1, rpage: 1, tpage: 1, app: null, cert: null, holdAction: '', holds: false,
  revreq: null, role: '', opened: 0 };
// The officer's token is kept in this variable only, never in sessionStorage
// or localStorage: Chromium writes those to the profile on disk and brings
// them back with a restored tab. A reload asks for a new log-in; leaving the
// page ends the session (pagehide). expiry and check are the timers that
// end it in the page when the server does.
const session = { token: null, expiry: 0, check: 0 };

// Auditors read; only officers and admins get the buttons that decide.
function canAct() { return state.role === 'ra_officer' || state.role === 'ra_admin'; }

const $ = (id) => document.getElementById(id);

function show(id, on) { $(id).hidden = !on; }

function say(text, ok) {
  const m = $('message');
  m.textContent = text;
  m.className = ok ? 'ok' : 'error';
  m.hidden = false;
}

function quiet() { $('message').hidden = true; }

// answer(METHOD, PATH[, BODY]): { data: the parsed JSON answer, date: its
// Date header or null }, or throws an Error whose message is the problem's
// detail. A 401 ends the session; an answer that comes after the session
// ended throws too.
async function answer(method, path, body) {
  const headers = {};
  const token = session.token;
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store', credentials: 'omit',
  });
  const date = r.headers.get('Date');
  if (r.status === 204) return { data: null, date };
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  // Logged out meanwhile: the answer is not put into the page.
  if (session.token !== token) throw new Error('The session has ended.');
  if (!r.ok) {
    if (r.status === 401 && path !== '/v1/officer/login') loggedOut();
    const detail = data && (data.detail || data.title);
    const retry = r.headers.get('Retry-After');
    throw new Error((detail || 'HTTP ' + r.status) +
      (retry ? ' (try again in ' + retry + ' s)' : ''));
  }
  return { data, date };
}

// api(METHOD, PATH[, BODY]): answer()'s data.
async function api(method, path, body) {
  return (await answer(method, path, body)).data;
}

// The evidence images are shown from blob: URLs, each revoked when its
// image leaves the page, so that the bytes do not outlive what shows them.
function dropEvidence(el) {
  for (const img of el.querySelectorAll('img')) {
    if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
  }
  el.remove();
}

function clearEvidence() {
  for (const el of [...$('evidence').children]) dropEvidence(el);
}

// The end of a session, by log-out, leaving the page, a 401 or its
// session_expires_at: nothing it showed stays in the page, hidden or not
// (the identity data, the evidence, the tables).
function loggedOut() {
  session.token = null;
  clearTimeout(session.expiry);
  clearInterval(session.check);
  Object.assign(state, { page: 1, cpage: 1, rpage: 1, tpage: 1, app: null, cert: null, holdAction: '',
    holds: false, revreq: null, role: '', opened: state.opened + 1 });
  clearEvidence();
  for (const id of ['detail-facts', 'detail-company', 'detail-kyc', 'detail-decisions']) {
    $(id).replaceChildren();
  }
  for (const id of ['queue-table', 'detail-checks', 'certs-table', 'revreqs-table', 'companies-table']) {
    $(id).tBodies[0].replaceChildren();
  }
  for (const id of ['who-name', 'who-role', 'detail-id', 'queue-page', 'certs-page', 'companies-page', 'revreqs-page',
    'end-note',
    'revoke-serial', 'hold-what', 'hold-serial', 'revreq-id', 'revreq-serial']) {
    $(id).textContent = '';
  }
  for (const id of ['queue-q', 'certs-q', 'companies-q', 'revreqs-q', 'decision-reason', 'end-reason',
    'deactivate-reason', 'revoke-comment', 'hold-reason', 'revreq-text']) {
    $(id).value = '';
  }
  for (const id of ['detail-company-part', 'deactivate-form', 'end-form', 'revoke-form', 'hold-form',
    'revreq-form', 'certs-pager']) {
    show(id, false);
  }
  view('queue');
  show('main-view', false);
  show('who', false);
  show('login-view', true);
}

// The session ends in the page when it ends on the server: at
// session_expires_at, counted from the answer's Date header (rad's clock, to
// the second) so that a client clock set wrong moves nothing; without that
// header, by the client's clock. The periodic check also restarts it.
function expireAt(me, date) {
  clearTimeout(session.expiry);
  const end = Date.parse(me.session_expires_at);
  const now = date ? Date.parse(date) : Date.now();
  if (Number.isNaN(end) || Number.isNaN(now)) return;
  session.expiry = setTimeout(() => {
    loggedOut();
    say('The session has expired; log in again.', false);
  }, Math.max(0, end - now));
}

// GET /v1/officer/me every SESSION_CHECK_MS: its 401 (a session revoked or
// expired, an officer disabled) ends the session in the page (api()). A
// network failure leaves the page as it is until the next check.
async function checkSession() {
  const token = session.token;
  try {
    const r = await answer('GET', '/v1/officer/me');
    expireAt(r.data, r.date);
  } catch (e) {
    if (token !== null && session.token === null) say(e.message, false);
  }
}

async function start() {
  if (!session.token) { loggedOut(); return; }
  try {
    const r = await answer('GET', '/v1/officer/me');
    const me = r.data;
    expireAt(me, r.date);
    clearInterval(session.check);
    session.check = setInterval(checkSession, SESSION_CHECK_MS);
    $('who-name').textContent = me.username;
    $('who-role').textContent = me.role;
    state.role = me.role;
    state.holds = me.holds === true;
    show('who', true);
    show('login-view', false);
    show('main-view', true);
    view('queue');
    await loadQueue();
  } catch (e) {
    say(e.message, false);
  }
}

function view(name) {
  show('queue-view', name === 'queue');
  show('detail-view', name === 'detail');
  show('certs-view', name === 'certs');
  show('revreqs-view', name === 'revreqs');
  show('companies-view', name === 'companies');
}

function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  tr.appendChild(td);
  return td;
}

// A button of class cls in parent, calling fn when clicked.
function button(parent, cls, text, fn) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  b.textContent = text;
  b.addEventListener('click', fn);
  parent.appendChild(b);
  return b;
}

function facts(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v === null || v === undefined ? '' :
      typeof v === 'object' ? JSON.stringify(v) : String(v);
    dl.append(dt, dd);
  }
}

// The lists' query: page (state[KEY]) and per_page; pager() shows where
// the answer's total puts it, paged() turns the pages.
function listParams(page) {
  const p = new URLSearchParams();
  p.set('page', String(page));
  p.set('per_page', String(PER_PAGE));
  return p;
}

// The pager NAME-prev, NAME-page ("page x of y (total)"), NAME-next.
function pager(name, page, total) {
  const pages = Math.max(1, Math.ceil(total / PER_PAGE));
  $(name + '-page').textContent = 'page ' + page + ' of ' + pages + ' (' + total + ')';
  $(name + '-prev').disabled = page <= 1;
  $(name + '-next').disabled = page >= pages;
}

async function loadQueue() {
  const p = listParams(state.page);
  const status = $('queue-status').value, kind = $('queue-kind').value;
  const q = $('queue-q').value.trim();
  if (status) p.set('status', status);
  if (kind) p.set('kind', kind);
  if (q) p.set('q', q);
  const data = await api('GET', '/v1/officer/applications?' + p.toString());
  const body = $('queue-table').tBodies[0];
  body.replaceChildren();
  for (const a of data.applications) {
    const tr = document.createElement('tr');
    tr.dataset.id = a.id;
    button(cell(tr, ''), 'open', String(a.id),
      () => openApp(a.id).catch((e) => say(e.message, false)));
    cell(tr, a.kind); cell(tr, a.status); cell(tr, a.email);
    cell(tr, a.full_name); cell(tr, a.nik_last4 ? '…' + a.nik_last4 : '');
    cell(tr, a.approvals); cell(tr, a.updated_at);
    body.appendChild(tr);
  }
  pager('queue', state.page, data.total);
}

async function openApp(id) {
  quiet();
  // Only the last application asked for is shown, and none after log-out.
  const opened = ++state.opened;
  const a = await api('GET', '/v1/officer/applications/' + id);
  if (opened !== state.opened) return;
  state.app = a;
  $('detail-id').textContent = String(a.id);
  facts($('detail-facts'), [
    ['Kind', a.kind], ['Status', a.status], ['Profile', a.profile],
    ['Subject', a.subject], ['Four-eyes', a.four_eyes ? 'yes (two officers)' : 'no'],
    ['Email', a.account && a.account.email], ['Phone', a.account && a.account.phone],
    ['Submitted', a.created_at], ['Decided', a.decided_at], ['Decision reason', a.decision_reason],
    ['Issuance order', a.order_id && (a.order_id + ': ' + a.order_status +
      (a.order_error ? ' — ' + a.order_error : ''))],
  ]);
  const checks = $('detail-checks').tBodies[0];
  checks.replaceChildren();
  for (const c of a.checks || []) {
    const tr = document.createElement('tr');
    tr.className = c.pass ? 'pass' : 'fail';
    tr.dataset.check = c.name;
    cell(tr, c.name); cell(tr, c.pass ? 'pass' : 'FAIL'); cell(tr, c.detail);
    checks.appendChild(tr);
  }
  const co = a.company;
  show('detail-company-part', !!co);
  facts($('detail-company'), co ? [
    ['Name', co.name], ['Status', co.status], ['NIB', co.nib], ['NPWP', co.npwp],
    ['Deed', co.deed_number + ' of ' + co.deed_date], ['Ministry decree', co.decree_number],
    ['Representative', co.representative.email + ' (account ' + co.representative.id + ')'],
    ['Sysadmin email', co.sysadmin_email],
  ] : []);
  $('deactivate-reason').value = '';
  $('deactivate-revoke').checked = false;
  show('deactivate-form', !!co && co.status === 'active' && canAct());
  const kyc = a.kyc || {};
  facts($('detail-kyc'), Object.keys(kyc).map((k) => [k, kyc[k]]));
  const list = $('detail-decisions');
  list.replaceChildren();
  for (const d of a.decisions || []) {
    const li = document.createElement('li');
    li.textContent = d.created_at + ': ' + d.officer + ' — ' + d.decision + ': ' + d.reason;
    list.appendChild(li);
  }
  clearEvidence();
  // The images are the reviewers' (schema/012): an auditor's fetch is 403.
  show('show-ktp', canAct());
  show('show-selfie', canAct());
  $('decision-reason').value = '';
  show('decision-form', a.status === 'submitted' && canAct());
  // An approved application, or an agreed one whose order failed (cancel.c).
  const failed = a.status === 'agreed' && a.order_status === 'failed';
  $('end-reason').value = '';
  $('end-note').textContent = failed
    ? 'Its issuance order failed. Once the cause is mended, order it again; or cancel it.'
    : 'The subscriber has not agreed yet. Cancelling frees the account to apply again.';
  show('reorder-app', failed);
  show('end-form', canAct() && a.profile !== 'company' && (a.status === 'approved' || failed));
  view('detail');
}

const EVIDENCE = { ktp_photo: 'e-KTP photo', selfie: 'Selfie' };

// The application's image in #evidence, labelled with whose it is. The
// officer may have opened another application (or logged out) while it
// loaded: then it is dropped, never shown under the other one's identity.
async function showEvidence(which) {
  const token = session.token;
  const app = state.app;
  const id = app.id;
  const current = () => state.app !== null && state.app.id === id && session.token === token;
  const r = await fetch('/v1/officer/applications/' + id + '/evidence/' + which, {
    headers: { Authorization: 'Bearer ' + token }, cache: 'no-store', credentials: 'omit',
  });
  // A session ended meanwhile; a newer one's is not this answer's to end.
  if (r.status === 401 && session.token === token) loggedOut();
  if (!r.ok) throw new Error('evidence: HTTP ' + r.status);
  const blob = await r.blob();
  if (!current()) return;
  const name = app.kyc && app.kyc.full_name;
  const label = EVIDENCE[which] + ' of application ' + id + (name ? ' (' + name + ')' : '');
  const fig = document.createElement('figure');
  fig.id = 'evidence-' + which + '-figure';
  fig.dataset.app = String(id);
  const img = document.createElement('img');
  img.id = 'evidence-' + which;
  img.dataset.app = String(id);
  img.alt = label;
  img.title = label;
  img.src = URL.createObjectURL(blob);
  const caption = document.createElement('figcaption');
  caption.textContent = label;
  fig.append(img, caption);
  const old = $(fig.id);
  if (old) dropEvidence(old);
  $('evidence').appendChild(fig);
}

async function decide(decision) {
  const reason = $('decision-reason').value.trim();
  if (!reason) { say('A reason is required.', false); return; }
  const r = await api('POST', '/v1/officer/applications/' + state.app.id + '/decision',
    { decision, reason });
  await openApp(state.app.id);
  say('Application ' + r.id + ': ' + r.decision + ' recorded; status ' + r.status +
    ' (approvals ' + r.approvals + ' of ' + r.approvals_required + ').', true);
}

async function endApp(what) {
  const reason = $('end-reason').value.trim();
  if (!reason) { say('A reason is required.', false); return; }
  const r = await api('POST', '/v1/officer/applications/' + state.app.id + '/' + what, { reason });
  await openApp(state.app.id);
  say('Application ' + r.id + (what === 'reorder' ? ': ordered again (order ' + r.order_id + ').'
    : ': cancelled; the subscriber is told by email.'), true);
}

async function deactivate() {
  const reason = $('deactivate-reason').value.trim();
  if (!reason) { say('A reason is required.', false); return; }
  const r = await api('POST', '/v1/officer/companies/' + state.app.company.id + '/deactivate',
    { reason, revoke_certificates: $('deactivate-revoke').checked });
  await openApp(state.app.id);
  say('Company ' + r.id + ' deactivated: ' + r.cancelled_applications + ' application(s) cancelled, ' +
    r.revoked_certificates + ' certificate(s) revoked; its people are told by email.', true);
}

// Certificates by serial or subject, the newest first, a page at a time.
async function loadCerts() {
  const p = listParams(state.tpage);
  p.set('q', $('certs-q').value.trim());
  const data = await api('GET', '/v1/officer/certificates?' + p.toString());
  const body = $('certs-table').tBodies[0];
  body.replaceChildren();
  for (const c of data.certificates) {
    const tr = document.createElement('tr');
    tr.dataset.serial = c.serial;
    cell(tr, c.id); cell(tr, c.serial); cell(tr, c.subject); cell(tr, c.profile);
    cell(tr, c.not_after);
    cell(tr, c.status + (c.revocation_reason ? ' (' + c.revocation_reason + ')' : ''));
    const td = cell(tr, '');
    if ((c.status === 'good' || c.status === 'hold') && canAct()) {
      button(td, 'revoke', 'Revoke…', () => {
        show('hold-form', false);  // one form at a time: each acts on state.cert
        state.cert = c;
        $('revoke-serial').textContent = c.serial;
        $('revoke-comment').value = '';
        show('revoke-form', true);
      });
      // Suspend a valid certificate, or lift a suspension (policy review.holds).
      const hold = c.status === 'good';
      if (state.holds) button(td, hold ? 'hold' : 'release', hold ? 'Hold…' : 'Release…', () => {
        show('revoke-form', false);
        state.cert = c;
        state.holdAction = hold ? 'hold' : 'release';
        $('hold-what').textContent = hold ? 'Suspend (hold)' : 'Release';
        $('hold-serial').textContent = c.serial;
        $('hold-reason').value = '';
        show('hold-form', true);
      });
    }
    body.appendChild(tr);
  }
  pager('certs', state.tpage, data.total);
  show('certs-pager', true);
  if (data.certificates.length === 0) say('No certificate matches.', true);
}

async function holdOrRelease() {
  const reason = $('hold-reason').value.trim();
  if (!reason) { say('A reason is required.', false); return; }
  const r = await api('POST', '/v1/officer/certificates/' + state.cert.id + '/' + state.holdAction,
    { reason });
  show('hold-form', false);
  await loadCerts();
  say('Certificate ' + r.serial + (r.status === 'hold' ? ' is on hold.' : ' is valid again.'), true);
}

async function revoke() {
  const comment = $('revoke-comment').value.trim();
  if (!comment) { say('A comment is required.', false); return; }
  const r = await api('POST', '/v1/officer/certificates/' + state.cert.id + '/revoke',
    { reason: $('revoke-reason').value, comment });
  show('revoke-form', false);
  await loadCerts();
  say('Certificate ' + r.serial + ' revoked (' + r.reason + ').', true);
}

// Companies (companies.c): opening one shows its own application, whose
// detail has the company and, while it is active, the deactivation form.
async function loadCompanies() {
  const p = listParams(state.cpage);
  const status = $('companies-status').value, q = $('companies-q').value.trim();
  if (status) p.set('status', status);
  if (q) p.set('q', q);
  const data = await api('GET', '/v1/officer/companies?' + p.toString());
  const body = $('companies-table').tBodies[0];
  body.replaceChildren();
  for (const c of data.companies) {
    const tr = document.createElement('tr');
    tr.dataset.id = c.id;
    tr.dataset.status = c.status;
    cell(tr, c.id); cell(tr, c.name); cell(tr, c.nib); cell(tr, c.status);
    cell(tr, c.representative_email); cell(tr, c.sysadmin_email); cell(tr, c.employees);
    button(cell(tr, ''), 'open', 'Open',
      () => openApp(c.application_id).catch((e) => say(e.message, false)));
    body.appendChild(tr);
  }
  pager('companies', state.cpage, data.total);
  if (data.companies.length === 0) say('No company matches.', true);
}

// Revocation requests (corporate.c): pending first, then the newest; by
// status, company name, NIB or serial, a page at a time.
async function loadRevreqs() {
  const p = listParams(state.rpage);
  const status = $('revreqs-status').value, q = $('revreqs-q').value.trim();
  if (status) p.set('status', status);
  if (q) p.set('q', q);
  const data = await api('GET', '/v1/officer/revocation-requests?' + p.toString());
  const body = $('revreqs-table').tBodies[0];
  body.replaceChildren();
  for (const r of data.revocation_requests) {
    const tr = document.createElement('tr');
    tr.dataset.id = r.id;
    tr.dataset.status = r.status;
    cell(tr, r.id); cell(tr, r.company_name); cell(tr, r.serial);
    // The certificate's profile and subject: a sysadmin may ask for an
    // employee's (corporate) only; an older request may name the e-seal.
    cell(tr, r.profile + ': ' + r.subject); cell(tr, r.reason);
    cell(tr, r.comment);
    cell(tr, r.status + (r.decision_reason ? ' (' + r.decision_reason + ')' : ''));
    cell(tr, r.created_at);
    const td = cell(tr, '');
    if (r.status === 'pending' && canAct()) {
      button(td, 'decide', 'Decide…', () => {
        state.revreq = r;
        $('revreq-id').textContent = String(r.id);
        $('revreq-serial').textContent = r.serial;
        $('revreq-text').value = '';
        show('revreq-form', true);
      });
    }
    body.appendChild(tr);
  }
  pager('revreqs', state.rpage, data.total);
  if (data.revocation_requests.length === 0) say('No revocation request matches.', true);
}

async function decideRevreq(decision) {
  const text = $('revreq-text').value.trim();
  if (decision === 'reject' && !text) { say('A note is required to reject.', false); return; }
  const body = { decision };
  if (text) body.reason_text = text;
  const r = await api('POST', '/v1/officer/revocation-requests/' + state.revreq.id, body);
  show('revreq-form', false);
  await loadRevreqs();
  say('Request ' + r.id + ': ' + r.status + ' (certificate ' + r.serial + ').', true);
}

// Every handler reports its failure in the message line.
function on(id, event, fn) {
  $(id).addEventListener(event, (e) => {
    if (event === 'submit') e.preventDefault();
    quiet();
    Promise.resolve().then(() => fn(e)).catch((err) => say(err.message, false));
  });
}

// The list NAME's search form (NAME-form) shows its first page, NAME-prev and
// NAME-next the others; state[KEY] is its page, load() shows it.
function paged(name, key, load) {
  on(name + '-form', 'submit', async () => { state[key] = 1; await load(); });
  on(name + '-prev', 'click', async () => { state[key]--; await load(); });
  on(name + '-next', 'click', async () => { state[key]++; await load(); });
}

document.addEventListener('DOMContentLoaded', () => {
  on('login-form', 'submit', async () => {
    const r = await api('POST', '/v1/officer/login', {
      username: $('login-username').value.trim(),
      password: $('login-password').value,
      totp: $('login-totp').value.trim(),
    });
    $('login-password').value = '';
    $('login-totp').value = '';
    session.token = r.token;
    await start();
  });
  on('logout', 'click', async () => {
    try { await api('POST', '/v1/officer/logout'); } finally { loggedOut(); }
    say('Logged out.', true);
  });
  on('nav-queue', 'click', async () => { view('queue'); await loadQueue(); });
  on('nav-certs', 'click', () => view('certs'));
  on('nav-revreqs', 'click', async () => { view('revreqs'); state.rpage = 1; await loadRevreqs(); });
  paged('revreqs', 'rpage', loadRevreqs);
  on('nav-companies', 'click', async () => { view('companies'); state.cpage = 1; await loadCompanies(); });
  paged('companies', 'cpage', loadCompanies);
  on('revreq-form', 'submit', (e) => decideRevreq(e.submitter ? e.submitter.value : ''));
  on('revreq-cancel', 'click', () => show('revreq-form', false));
  paged('queue', 'page', loadQueue);
  on('detail-back', 'click', async () => { view('queue'); await loadQueue(); });
  on('show-ktp', 'click', () => showEvidence('ktp_photo'));
  on('show-selfie', 'click', () => showEvidence('selfie'));
  on('decision-form', 'submit', (e) => decide(e.submitter ? e.submitter.value : ''));
  on('end-form', 'submit', (e) => endApp(e.submitter ? e.submitter.value : ''));
  on('deactivate-form', 'submit', deactivate);
  paged('certs', 'tpage', loadCerts);
  on('revoke-form', 'submit', revoke);
  on('revoke-cancel', 'click', () => show('revoke-form', false));
  on('hold-form', 'submit', holdOrRelease);
  on('hold-cancel', 'click', () => show('hold-form', false));
  start();
});

// Leaving the page (closed, reloaded, navigated away) ends the session:
// the server is asked to revoke the token (keepalive outlives the page;
// best effort: a token it does not reach still expires), and nothing the
// page showed is kept, should the page come back from the back/forward cache.
window.addEventListener('pagehide', () => {
  if (session.token) {
    fetch('/v1/officer/logout', {
      method: 'POST', keepalive: true, cache: 'no-store', credentials: 'omit',
      headers: { Authorization: 'Bearer ' + session.token },
    }).catch(() => {});
  }
  loggedOut();
});
