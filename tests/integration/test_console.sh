#!/usr/bin/env bash
# The RA officers' console (GET /console/ on rad) in headless Chromium
# (console_browser.py, DevTools protocol over a pipe): an auditor reads an
# application and a certificate and is offered no button that decides;
# then an officer logs in with password and TOTP, finds the subscriber's
# KYC application in the queue, reads its automatic checks, views the
# e-KTP photo and the selfie, approves it with a reason (not without one),
# cancels it with a reason (the subscriber is mailed),
# puts a certificate cad issued on hold and releases it (each with a
# reason), revokes it, and logs out; the page reports no
# error and no CSP violation. (test_ra_corp.sh carries out a sysadmin's
# revocation request in the console.)
# Before that, two more officers and a second application B: the e-KTP photo
# of A, held back in the network (DevTools Fetch.requestPaused) while the
# officer goes back and opens B, is never shown under B, and B's image
# names B; after log-out the page keeps no identity data, evidence or
# table row and the images' blob: URLs no longer load; B's address, markup
# with an onerror handler, is shown as its text (no element made, nothing
# run: it fails with the facts written by innerHTML); an evidence fetch
# answered 401 (the session ended elsewhere) logs out the same way; a
# /v1/officer/me answer rewritten (DevTools Fetch) to a Date a day behind
# the client's clock and a session_expires_at 3 s after it ends the session
# in the page 3 s later, by the server's clock; 21 matching certificates
# are paged ("page 1 of 2 (21)", Next reaches the oldest); a reload asks for
# a new log-in, leaves nothing in sessionStorage or localStorage, and its
# pagehide revoked the session; a session expired in the database clears
# the detail shown, with no click, within the page's 30-s check (35 s of
# the page's virtual time, DevTools Emulation).
# Then, from the database, OpenSSL and curl: the decision, the approval,
# the evidence views, the hold, the release and the revocation, each audited with the officer as
# actor; `openssl ocsp` says the certificate is revoked (keyCompromise);
# the session is ended; the console's headers forbid inline script and
# framing; nothing secret is in rad's log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
subscriber_env
command -v chromium >/dev/null || fail "chromium missing (deploy/packages.txt; make deps)"
pw='Console-Otter4'
secrets=("$pw")

# --- the console's files and headers --------------------------------------------------
code=$(curl -sS -o "$tmp/index.html" -D "$tmp/hdr" -w '%{http_code}' "$rurl/console/")
[ "$code" = 200 ] || fail "GET /console/: $code"
grep -qi "^content-type: text/html" "$tmp/hdr" || fail "/console/ is not text/html"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self';" "$tmp/hdr" ||
	fail "/console/ has no strict CSP: $(grep -i content-security "$tmp/hdr")"
grep -qi "frame-ancestors 'none'" "$tmp/hdr" && grep -qi '^x-frame-options: DENY' "$tmp/hdr" ||
	fail "/console/ may be framed"
! grep -qi '<script>' "$tmp/index.html" || fail "inline script in index.html"
cmp -s "$tmp/index.html" "$REPO/ra/console/index.html" || fail "/console/ is not ra/console/index.html"
code=$(curl -sS -o /dev/null -D "$tmp/hdr" -w '%{http_code}' "$rurl/console")
[ "$code" = 301 ] && grep -qi '^location: /console/' "$tmp/hdr" || fail "GET /console: $code"
code=$(curl -sS -o "$tmp/out" -w '%{http_code}' "$rurl/console/other.js")
[ "$code" = 404 ] || fail "GET /console/other.js: $code"
code=$(curl -sS -o /dev/null -D "$tmp/hdr" -w '%{http_code}' "$rurl/console/console.js")
[ "$code" = 200 ] && grep -qi '^content-type: text/javascript' "$tmp/hdr" || fail "console.js: $code"

# --- an officer, a submitted application, an issued certificate --------------------------
(umask 077; printf '%s\n' "$pw" >"$tmp/officer.pw")
# new_officer USER ROLE: pkictl officer add; its TOTP secret in $tmp/USER.totp; sets offid.
new_officer() {
	pkictl officer add --username "$1" --role "$2" --password-file "$tmp/officer.pw" \
		>"$tmp/add.out" 2>"$tmp/add.err" || fail "officer add $1: $(cat "$tmp/add.err")"
	offid=$(sed -n 's/^officer .* created, id \([0-9]*\).*/\1/p' "$tmp/add.out")
	(umask 077; sed -n 's/^totp_secret //p' "$tmp/add.out" >"$tmp/$1.totp")
	[ -n "$offid" ] && [ -s "$tmp/$1.totp" ] || fail "officer add $1: $(cat "$tmp/add.out")"
	secrets+=("$(cat "$tmp/$1.totp")")
}
# browser SCENARIO USER ARGS...: console_browser.py, its lines as notes.
browser() {
	local scenario=$1 user=$2
	shift 2
	python3 "$(dirname "$0")/console_browser.py" "$scenario" "$rurl" "$user" "$tmp/officer.pw" \
		"$tmp/$user.totp" "$@" >"$tmp/browser.out" 2>&1 ||
		{ cat "$tmp/browser.out"; fail "the console in Chromium ($scenario)"; }
	sed "s/^/$TEST_NAME: /" "$tmp/browser.out"
}
new_officer "console-r-$$" ra_officer
new_officer "console-s-$$" ra_officer
offid_s=$offid
new_officer "console-a-$$" auditor
new_officer "console-t-$$" auditor
new_officer "console-u-$$" auditor
offid_u=$offid
new_officer "console-v-$$" auditor
offid_v=$offid
new_officer "console-$$" ra_officer
officer=console-$$

# applicant EMAIL NAME DOB SEX [ADDRESS]: an account with a verified phone
# and a submitted KYC application; sets aid, tok and app.
applicant() {
	local oid c
	account "$1" "+62813$(printf '%07d' $((RANDOM * 7 + $$ % 1000)))" 640213
	rreq POST /v1/otp '{"channel":"sms","purpose":"phone_verify"}' "$tok"
	[ "$code" = 201 ] || fail "otp phone_verify: $code $(cat "$tmp/out")"
	oid=$(jq -r .otp_id "$tmp/out")
	c=$(sms_code)
	secrets+=("$c")
	rreq POST /v1/phone/verify "{\"otp_id\":$oid,\"code\":\"$c\"}" "$tok"
	[ "$code" = 200 ] || fail "phone verify: $code $(cat "$tmp/out")"
	python3 "$(dirname "$0")/kyc_body.py" "$tmp/kyc.json" "$2" "$3" "$4" \
		"$(printf '%04d' $((RANDOM % 9000 + 1000)))" >/dev/null
	if [ -n "${5:-}" ]; then
		jq --arg a "$5" '.address = $a' "$tmp/kyc.json" >"$tmp/kyc.addr" && mv "$tmp/kyc.addr" "$tmp/kyc.json"
	fi
	rreq POST /v1/applications "@$tmp/kyc.json" "$tok"
	[ "$code" = 201 ] || fail "KYC submission: $code $(cat "$tmp/out")"
	app=$(jq -r .id "$tmp/out")
}
# B's address is markup: the console must show it as text and run nothing.
markup='<img src=x onerror="window.pwned=1"><b>Jl.</b> Merdeka 9'
applicant "console-b-$$@example.com" 'Bambang Sutrisno' 1984-02-27 M "$markup"
app_b=$app
applicant "console-$$@example.com" 'Sari Wulandari' 1990-06-14 F
cred=$(issue "$aid" personal personal ec-p256 "Sari Wulandari")
cert_pem "$cred" "$tmp/cert.pem"
serial=$(openssl x509 -in "$tmp/cert.pem" -noout -serial | cut -d= -f2)
audit0=$(q "SELECT coalesce(max(id), 0) FROM audit_event")

# --- evidence of A late, while B is open; what log-out leaves behind ---------------------
# Written here: console_browser.py is shared with test_ra_corp.sh. Each part
# runs even when an earlier one failed, and every failure is printed.
cat >"$tmp/console_session.py" <<'PY'
import datetime, email.utils, base64, json, os, select, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
import console_browser as cb

P = json.load(open(sys.argv[2]))
url, app_a, app_b, markup = P['url'], P['app_a'], P['app_b'], P['markup']
password = open(P['pw_file']).read().rstrip('\n')
js_q = cb.q


def sql(stmt):
    return subprocess.run(['psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', os.environ['PKI_TEST_PG_URI'],
                           '-c', stmt], check=True, capture_output=True, text=True).stdout.strip()


def secret(user):
    return open(P['totp_dir'] + '/' + user + '.totp').read().strip()


def open_sessions(offid):
    return sql('SELECT count(*) FROM ra_officer_session WHERE officer_id = %d AND revoked_at IS NULL'
               ' AND expires_at > now()' % int(offid))


def wait_for(b, expression, what, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if b.js(expression):
            return
        time.sleep(0.2)
    raise TimeoutError('waited %d s for %s' % (seconds, what))


def event(b, method, pred):
    """The first event METHOD whose params pred accepts, seen or to come."""
    deadline = time.time() + cb.STEP_TIMEOUT
    while True:
        for e in b.events:
            if e.get('method') == method and pred(e.get('params', {})):
                b.events.remove(e)
                return e['params']
        left = deadline - time.time()
        if left <= 0:
            raise TimeoutError('no %s event in %d s' % (method, cb.STEP_TIMEOUT))
        if b'\0' not in b.buf and not select.select([b.from_chrome], [], [], left)[0]:
            continue
        b.events.append(b._read_message(deadline))


def evidence(b):
    return b.js("[...document.querySelectorAll('#evidence img')]"
                ".map(i => [i.id, i.dataset.app || '', i.alt])")


def race(b):
    b.call('Network.enable')
    b.call('Fetch.enable', {'patterns': [{'urlPattern': '*/evidence/*', 'requestStage': 'Request'}]})
    cb.open_application(b, app_a)
    b.js("document.getElementById('show-ktp').click()")
    ktp_a = '/v1/officer/applications/%s/evidence/ktp_photo' % app_a
    paused = event(b, 'Fetch.requestPaused', lambda p: p['request']['url'].endswith(ktp_a))
    print('console: the e-KTP photo of %s held back in the network' % app_a)
    b.js("document.getElementById('detail-back').click()")
    cb.open_application(b, app_b)
    b.call('Fetch.continueRequest', {'requestId': paused['requestId']})
    rid = event(b, 'Network.responseReceived', lambda p: p['response']['url'].endswith(ktp_a))['requestId']
    event(b, 'Network.loadingFinished', lambda p: p['requestId'] == rid)
    b.call('Fetch.disable')
    print('console: the photo of %s arrived while %s is open' % (app_a, app_b))
    # B's selfie, asked for after A's photo was all received: once it is
    # shown, A's would have been too.
    b.js("document.getElementById('show-selfie').click()")
    b.wait("(() => { const i = document.getElementById('evidence-selfie');"
           " return i && i.complete && i.naturalWidth === 64; })()", "B's selfie")
    shown = evidence(b)
    assert b.js("document.getElementById('detail-id').textContent") == app_b, 'not on B any more'
    assert [i[:2] for i in shown] == [['evidence-selfie', app_b]], \
        'evidence under application %s: %r' % (app_b, shown)
    assert 'application %s' % app_b in shown[0][2], "B's selfie does not say whose it is: %r" % shown
    caption = b.js("document.querySelector('#evidence figcaption').textContent")
    assert 'application %s' % app_b in caption, 'caption: %r' % caption
    print('console: under %s only its own selfie (%r), not the late photo of %s' % (app_b, shown[0][2], app_a))


def loads(b, src):
    """'loads' or 'gone': src in an image outside the page (CSP: img-src
    blob:; connect-src does not admit blob:, so no fetch)."""
    return b.js("new Promise((res) => { const i = new Image(); i.onload = () => res('loads');"
                " i.onerror = () => res('gone'); i.src = %s; })" % js_q(src))


def blob_url(b):
    src = b.js("document.querySelector('#evidence img').src")
    assert src.startswith('blob:'), 'evidence not from a blob: URL: %r' % src
    assert loads(b, src) == 'loads', 'the blob: URL does not load while shown'
    return src


LEFT = """(() => {
    const left = [];
    for (const id of ['detail-facts', 'detail-kyc', 'detail-company', 'detail-decisions', 'evidence',
                      'detail-id', 'who-name'])
      if (document.getElementById(id).textContent !== '' ||
          document.getElementById(id).children.length > 0) left.push(id);
    for (const id of ['queue-table', 'detail-checks', 'certs-table', 'revreqs-table', 'companies-table'])
      if (document.getElementById(id).tBodies[0].rows.length > 0) left.push(id);
    if (document.querySelectorAll('img').length > 0) left.push('img');
    return left; })()"""


LOGGED_OUT = ("!document.getElementById('login-view').hidden && "
              "document.getElementById('main-view').hidden")
# Nothing in the browser's storage: the token is the page's variable only.
STORED = "sessionStorage.length + localStorage.length"


def cleared(b, src, how):
    b.wait(LOGGED_OUT, 'the log-in form after %s' % how)
    left = b.js(LEFT)
    assert left == [], 'left in the page after %s: %r' % (how, left)
    assert b.js(STORED) == 0, 'storage kept after %s' % how
    assert src is None or loads(b, src) == 'gone', 'the evidence blob: URL still loads after %s' % how
    print('console: after %s no identity data, evidence or row is left%s' % (
        how, '; the blob: URL is revoked' if src else ''))


def logout(b, src):
    b.js("document.getElementById('logout').click()")
    cleared(b, src, 'log-out')


def as_text(b):
    """B's address, markup, is shown as its text: no element, nothing run."""
    if b.js("document.getElementById('detail-view').hidden") is False:
        b.js("document.getElementById('detail-back').click()")
    cb.open_application(b, app_b)
    texts = b.js("[...document.querySelectorAll('#detail-kyc dd')].map(d => d.textContent)")
    assert markup in texts, 'the address is not shown as its text: %r' % texts
    extra = b.js("[...document.querySelectorAll('img, b')].filter(e => !e.closest('#evidence'))"
                 ".map(e => e.outerHTML)")
    assert extra == [], 'elements made from the address: %r' % extra
    assert b.js("typeof window.pwned") == 'undefined', 'the address ran a script'
    b.js("document.getElementById('detail-back').click()")
    b.wait("document.getElementById('detail-view').hidden", 'the queue again')
    print('console: an address of markup is shown as text; no element made, nothing run')


def expired(b):
    cb.open_application(b, app_b)
    b.js("document.getElementById('show-ktp').click()")
    b.wait("(() => { const i = document.getElementById('evidence-ktp_photo');"
           " return i && i.complete && i.naturalWidth === 96; })()", "B's e-KTP photo")
    src = blob_url(b)
    # The session ended behind the console, just before the next image.
    sql('UPDATE ra_officer_session SET revoked_at = now() WHERE officer_id = %d AND revoked_at IS NULL'
        % int(P['offid_s']))
    b.js("document.getElementById('show-selfie').click()")
    cleared(b, src, "the evidence's 401")


def login_expiring(b, user):
    """Log-in whose GET /v1/officer/me is answered, by DevTools Fetch, with
    the server's answer but for its Date a day behind (a client clock a day
    ahead, as seen from the page) and session_expires_at 3 s after that
    Date: the page must clear itself 3 s later, by the server's clock, with
    no click and no 401 (the real session lasts 15 minutes more)."""
    b.call('Fetch.enable', {'patterns': [{'urlPattern': '*/v1/officer/me', 'requestStage': 'Response'}]})
    try:
        t0 = answer_me(b, user)
    finally:
        b.call('Fetch.disable')
    cb.open_application(b, app_b)
    wait_for(b, LOGGED_OUT, 'the page to end the session at session_expires_at', 15)
    took = time.time() - t0
    assert took >= 2, 'the session ended %.1f s after log-in, not 3 s by the server\'s clock' % took
    cleared(b, None, 'session_expires_at')
    print('console: the session ended in the page %.1f s after a /me answer saying 3 s by its Date,'
          ' a day behind the client\'s clock' % took)


def answer_me(b, user):
    """Log in as USER and answer the page's /me as login_expiring says;
    the time it was answered."""
    b.call('Page.navigate', {'url': url + '/console/'})
    b.wait("document.readyState === 'complete' && !document.getElementById('login-view').hidden",
           'the log-in form')
    b.js("""(() => {
        document.getElementById('login-username').value = %s;
        document.getElementById('login-password').value = %s;
        document.getElementById('login-totp').value = %s;
        document.getElementById('login-submit').click(); })()""" % (
        js_q(user), js_q(password), js_q(cb.totp(secret(user)))))
    paused = event(b, 'Fetch.requestPaused', lambda p: p['request']['url'].endswith('/v1/officer/me'))
    headers = paused['responseHeaders']
    date = next(h['value'] for h in headers if h['name'].lower() == 'date')
    body = b.call('Fetch.getResponseBody', {'requestId': paused['requestId']})
    me = json.loads(base64.b64decode(body['body']) if body.get('base64Encoded') else body['body'])
    fake = email.utils.parsedate_to_datetime(date) - datetime.timedelta(days=1)
    me['session_expires_at'] = (fake + datetime.timedelta(seconds=3)).strftime('%Y-%m-%dT%H:%M:%SZ')
    headers = [h for h in headers if h['name'].lower() != 'date'] + \
        [{'name': 'Date', 'value': email.utils.format_datetime(fake, usegmt=True)}]
    b.call('Fetch.fulfillRequest', {'requestId': paused['requestId'], 'responseCode': 200,
                                    'responseHeaders': headers,
                                    'body': base64.b64encode(json.dumps(me).encode()).decode()})
    return time.time()


def certs_pager(b):
    """More certificates than a page: the pager shows the total and
    reaches the oldest."""
    b.js("document.getElementById('nav-certs').click()")
    b.wait("!document.getElementById('certs-view').hidden", 'the certificates view')
    b.js("document.getElementById('certs-q').value = %s;"
         "document.getElementById('certs-search').click()" % js_q(P['certs_q']))
    pages = lambda: b.js("[document.querySelectorAll('#certs-table tbody tr').length,"
                         " document.getElementById('certs-page').textContent,"
                         " document.getElementById('certs-prev').disabled,"
                         " document.getElementById('certs-next').disabled,"
                         " !document.getElementById('certs-pager').hidden,"
                         " !!document.querySelector('#certs-table tr[data-serial=\"%s\"]')]" % P['oldest'])
    n = P['certs_n']
    first = 'page 1 of 2 (%d)' % n
    b.wait("document.getElementById('certs-page').textContent === %s" % js_q(first), 'the certificates\' pager')
    assert pages() == [20, first, True, False, True, False], 'page 1: %r' % pages()
    b.js("document.getElementById('certs-next').click()")
    last = 'page 2 of 2 (%d)' % n
    b.wait("document.getElementById('certs-page').textContent === %s" % js_q(last), 'page 2')
    assert pages() == [n - 20, last, False, True, True, True], 'page 2: %r' % pages()
    b.js("document.getElementById('certs-prev').click()")
    b.wait("document.getElementById('certs-page').textContent === %s" % js_q(first), 'page 1 again')
    print('console: %d certificates match: "%s", Next reaches the oldest ("%s"), Previous goes back' % (n, first, last))


def reload(b):
    """A reload asks for a new log-in, keeps nothing in storage, and its
    pagehide revoked the session on the server."""
    assert open_sessions(P['offid_u']) == '1', 'no open session before the reload'
    b.call('Page.reload')
    b.wait("document.readyState === 'complete' && " + LOGGED_OUT, 'the log-in form after a reload')
    time.sleep(0.5)  # what the page would do with a stored token, it has done
    assert b.js(LOGGED_OUT), 'logged in again after the reload'
    assert b.js(STORED) == 0, 'storage after the reload: %r' % b.js(
        "[Object.keys(sessionStorage), Object.keys(localStorage)]")
    deadline = time.time() + cb.STEP_TIMEOUT
    while open_sessions(P['offid_u']) != '0':
        assert time.time() < deadline, 'the session is still open on the server after the reload'
        time.sleep(0.2)
    print('console: after a reload the log-in form, nothing in storage; pagehide revoked the session')


def revoked(b):
    """A session that expires in the database while the detail is shown
    clears the page within the page's 30-s check, with no click. The 35 s
    pass in the page's virtual time (DevTools Emulation: its timers run
    ahead, paused while a fetch is pending), not in the test's; the page is
    not used after that."""
    cb.login(b, url, P['user_v'], password, secret(P['user_v']))
    cb.open_application(b, app_b)
    sql('UPDATE ra_officer_session SET expires_at = now() WHERE officer_id = %d AND revoked_at IS NULL'
        % int(P['offid_v']))
    assert not b.js(LOGGED_OUT), 'logged out before the check'
    b.call('Emulation.setVirtualTimePolicy', {'policy': 'pauseIfNetworkFetchesPending', 'budget': 35000})
    event(b, 'Emulation.virtualTimeBudgetExpired', lambda p: True)
    wait_for(b, LOGGED_OUT, "the page's check to notice the expired session", 5)
    cleared(b, None, 'a session expired in the database')
    print('console: a session expired in the database cleared the detail within 35 s (page time), with no click')


failed = []


def part(name, fn, *args):
    try:
        return fn(*args)
    except Exception as e:
        print('console: FAILED at %s: %s: %s' % (name, type(e).__name__, e))
        failed.append(name)
        return None


b = cb.Chromium()
try:
    b.open_page()
    cb.login(b, url, P['user_r'], password, secret(P['user_r']))
    part('race', race, b)
    src = part('blob', blob_url, b)
    part('log-out', logout, b, src or 'blob:none')
    cb.login(b, url, P['user_s'], password, secret(P['user_s']))
    part('markup', as_text, b)
    part('401', expired, b)
    part('session_expires_at', login_expiring, b, P['user_t'])
    cb.login(b, url, P['user_u'], password, secret(P['user_u']))
    part('certificates pager', certs_pager, b)
    part('reload', reload, b)
    part('expired in the database', revoked, b)
    # The revoked blob: URLs and the 401s are the page's expected errors.
    b.events = [e for e in b.events if not (
        e.get('method') == 'Log.entryAdded' and
        (e['params']['entry'].get('url', '').startswith('blob:') or
         e['params']['entry'].get('url', '').endswith('/%s/evidence/selfie' % app_b) or
         e['params']['entry'].get('url', '').endswith('/v1/officer/me')))]
    problems = b.problems()
    if problems:
        print('console: FAILED: the page reported: %r' % problems)
        failed.append('page reports')
    else:
        print('console: no other console error, exception or CSP violation')
except Exception as e:
    print('console: FAILED: %s: %s' % (type(e).__name__, e))
    failed.append('start')
finally:
    if failed:
        print('console:   chromium stderr: %s' % b.stderr_tail())
    b.close()
sys.exit(1 if failed else 0)
PY
# More certificates than a page (20) match one search.
for i in $(seq 21); do
	order_issued personal "{\"C\":\"ID\",\"CN\":\"Console Pager $$ No $i\",\"serialNumber\":\"NIK:3174$(printf '%012d' "$i")\"}"
	[ "$i" != 1 ] || oldest=$(q "SELECT serial FROM certificate WHERE id = $cert")
done
jq -n --arg url "$rurl" --arg pw_file "$tmp/officer.pw" --arg totp_dir "$tmp" --arg app_a "$app" \
	--arg app_b "$app_b" --arg markup "$markup" --arg user_r "console-r-$$" --arg user_s "console-s-$$" \
	--arg offid_s "$offid_s" --arg user_t "console-t-$$" --arg user_u "console-u-$$" --arg offid_u "$offid_u" \
	--arg user_v "console-v-$$" --arg offid_v "$offid_v" --arg certs_q "Console Pager $$" \
	--arg oldest "$oldest" --argjson certs_n 21 '$ARGS.named' >"$tmp/session.json"
python3 "$tmp/console_session.py" "$(dirname "$0")" "$tmp/session.json" \
	>"$tmp/session.out" 2>&1 || { cat "$tmp/session.out"; fail "the console's evidence and log-out in Chromium"; }
sed "s/^/$TEST_NAME: /" "$tmp/session.out"

# --- an auditor, then the officer at work, in Chromium -----------------------------------
browser auditor "console-a-$$" "$app" "$serial"
[ "$(q "SELECT status FROM ra_application WHERE id = $app")" = submitted ] || fail "the auditor changed the application"
browser review "$officer" "$app" "$serial"

# --- what it did, seen from outside --------------------------------------------------------
[ "$(q "SELECT status FROM ra_application WHERE id = $app")" = cancelled ] ||
	fail "application $app: $(q "SELECT status FROM ra_application WHERE id = $app")"
[ "$(q "SELECT decision || '|' || reason FROM ra_decision WHERE application_id = $app AND officer_id = $offid")" = \
	'approve|documents consistent, checks pass' ] || fail "no approval by officer $offid in ra_decision"
[ "$(q "SELECT count(*) FROM ra_decision WHERE application_id = $app")" = 1 ] ||
	fail "the refused approval without a reason left a decision"
[ "$(q "SELECT revocation_reason || '|' || coalesce(revoked_by, '-') FROM certificate WHERE id = $cred")" = "1|officer:$offid" ] ||
	fail "certificate $cred: $(q "SELECT revocation_reason || '|' || coalesce(revoked_by, '-') FROM certificate WHERE id = $cred")"
events=$(q "SELECT string_agg(action, ',' ORDER BY id) FROM audit_event
	WHERE id > $audit0 AND actor = 'officer:$offid'")
for a in ra.officer.login ra.application.view ra.evidence.view ra.application.decide ra.application.approve \
	ra.application.cancel cert.revoke ra.officer.logout; do
	[[ ",$events," == *",$a,"* ]] || fail "no $a event by officer:$offid (got: $events)"
done
[ "$(q "SELECT string_agg(action || ':' || coalesce(details->>'reason', '-'), ',' ORDER BY id) FROM audit_event
	WHERE id > $audit0 AND actor = 'officer:$offid' AND object_id = '$cred' AND action LIKE 'cert.%'")" = \
	'cert.revoke:certificateHold,cert.release:-,cert.revoke:keyCompromise' ] ||
	fail "the console's hold, release and revocation of $cred are not audited in that order"
[ "$(q "SELECT count(*) FROM audit_event WHERE id > $audit0 AND actor = 'officer:$offid' AND action = 'ra.evidence.view'")" = 2 ] ||
	fail "two evidence views were not audited as two"
# The console opens the application again after each decision: one
# ra.application.view within the hour.
[ "$(q "SELECT count(*) FROM audit_event WHERE id > $audit0 AND actor = 'officer:$offid' AND action = 'ra.application.view'
	AND object_id = '$app'")" = 1 ] || fail "the console's views of application $app not audited once"
[ "$(q "SELECT count(*) FROM ra_officer_session WHERE officer_id = $offid AND revoked_at IS NULL")" = 0 ] ||
	fail "the officer's session is still open after log-out"
for _ in $(seq 50); do
	out=$(ocsp_client -issuer "$PKI_ISSUING_CERT" -cert "$tmp/cert.pem" -url "$PKI_OCSP_URL" -CAfile "$PKI_ROOT_CERT")
	grep -q ': revoked' <<<"$out" && break
	sleep 0.1
done
grep -q ': revoked' <<<"$out" && grep -q 'Reason: keyCompromise' <<<"$out" ||
	fail "openssl ocsp after the console's revocation: $out"
no_secret_in "rad's log" "$PKI_DIR/log/ra.log"
grep -l "^Subject: Your certificate application $app was cancelled" "$PKI_DIR"/spool/ra-mail/*.eml >/dev/null ||
	fail "the subscriber was not mailed the console's cancellation"
note "the console's approval, cancellation, evidence views, hold, release and revocation are in the database and the audit trail; OCSP says keyCompromise"
exit 0
