"""The RA console in headless Chromium, as an officer or an auditor uses it.

console_browser.py SCENARIO URL USERNAME PASSWORD-FILE TOTP-SECRET-FILE ARGS...

Drives Chromium through the DevTools protocol over --remote-debugging-pipe
(Python's standard library only). Every scenario logs in with password and
TOTP, does its work, logs out; any console error, uncaught exception or
Content-Security-Policy violation fails it. Prints one line per step; exit
status 0 only when every step passed.

  review APP-ID SERIAL  an officer finds application APP-ID in the queue,
                        checks its automatic checks, views both evidence
                        images, tries to approve without a reason (the form
                        refuses), approves with one, cancels it with a
                        reason, then finds certificate SERIAL, puts it on
                        hold and releases it (each with a reason; the form
                        refuses none), and revokes it (keyCompromise)
  auditor APP-ID SERIAL an auditor opens APP-ID and finds SERIAL: no button
                        that decides is shown
  revreq REQ-ID NOTE    an officer carries out the sysadmin's revocation
                        request REQ-ID with NOTE
  company APP-ID NIB SYSADMIN
                        a corporate application APP-ID shows its company
  deactivate COMPANY-ID REASON
                        an officer finds the company among the active ones,
                        opens it, tries to deactivate it without a reason
                        (the form refuses), then deactivates it with REASON,
                        revoking its certificates; the company is then shown
                        deactivated, without the form, and listed so
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

STEP_TIMEOUT = 15


class Chromium:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix='console-chromium.')
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        args = [shutil.which('chromium') or '/usr/bin/chromium', '--headless=new',
                '--remote-debugging-pipe', '--user-data-dir=' + self.profile,
                '--no-first-run', '--no-default-browser-check', '--disable-gpu',
                '--disable-extensions', '--disable-background-networking',
                '--disable-sync', '--metrics-recording-only', '--mute-audio']
        if os.geteuid() == 0:
            args.append('--no-sandbox')  # Chromium refuses root otherwise
        args.append('about:blank')
        # Chromium reads commands on fd 3 and writes answers on fd 4; the
        # shell (bash: dash takes one-digit descriptors only) moves the pipes
        # there, from numbers that cannot be 3 or 4.
        to_chrome_r = self._high(to_chrome_r, 100)
        from_chrome_w = self._high(from_chrome_w, 101)
        shell = 'exec "$0" "$@" 3<&%d 4>&%d %d<&- %d>&-' % (
            to_chrome_r, from_chrome_w, to_chrome_r, from_chrome_w)
        self.log = open(os.path.join(self.profile, 'stderr.log'), 'wb')
        self.proc = subprocess.Popen(['/bin/bash', '-c', shell] + args,
                                     pass_fds=(to_chrome_r, from_chrome_w),
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b''
        self.next_id = 0
        self.events = []
        self.session = None

    @staticmethod
    def _high(fd, to):
        os.dup2(fd, to, inheritable=False)
        os.close(fd)
        return to

    def _read_message(self, deadline):
        while b'\0' not in self.buf:
            if time.time() > deadline:
                raise TimeoutError('no answer from Chromium')
            chunk = os.read(self.from_chrome, 65536)
            if not chunk:
                raise RuntimeError('Chromium closed its pipe')
            self.buf += chunk
        msg, self.buf = self.buf.split(b'\0', 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True):
        self.next_id += 1
        msg = {'id': self.next_id, 'method': method, 'params': params or {}}
        if session and self.session:
            msg['sessionId'] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b'\0')
        deadline = time.time() + STEP_TIMEOUT
        while True:
            m = self._read_message(deadline)
            if m.get('id') == self.next_id:
                if 'error' in m:
                    raise RuntimeError('%s: %s' % (method, m['error']))
                return m.get('result', {})
            self.events.append(m)

    def open_page(self):
        targets = self.call('Target.getTargets', session=False)['targetInfos']
        page = next(t for t in targets if t['type'] == 'page')
        self.session = self.call('Target.attachToTarget',
                                 {'targetId': page['targetId'], 'flatten': True},
                                 session=False)['sessionId']
        for domain in ('Page', 'Runtime', 'Log'):
            self.call(domain + '.enable')

    def js(self, expression):
        r = self.call('Runtime.evaluate', {'expression': expression, 'awaitPromise': True,
                                           'returnByValue': True})
        if 'exceptionDetails' in r:
            raise RuntimeError('page script failed: %s' % json.dumps(r['exceptionDetails'])[:500])
        return r['result'].get('value')

    def wait(self, expression, what):
        deadline = time.time() + STEP_TIMEOUT
        while time.time() < deadline:
            if self.js(expression):
                return
            time.sleep(0.1)
        raise TimeoutError('waited %d s for %s; message: %r' % (
            STEP_TIMEOUT, what, self.js("document.getElementById('message').textContent")))

    def problems(self):
        """Console errors, uncaught exceptions and CSP violations seen so far."""
        out = []
        for e in self.events:
            method, p = e.get('method'), e.get('params', {})
            if method == 'Runtime.exceptionThrown':
                out.append('exception: %s' % p['exceptionDetails'].get('text'))
            elif method == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'assert'):
                out.append('console.%s: %s' % (p['type'], [a.get('value') for a in p.get('args', [])]))
            elif method == 'Log.entryAdded':
                entry = p['entry']
                # The browser's own favicon request is not the page's.
                if entry.get('level') == 'error' and 'favicon.ico' not in entry.get('url', ''):
                    out.append('log %s: %s' % (entry.get('source'), entry.get('text')))
        return out

    def close(self):
        try:
            self.call('Browser.close', session=False)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def stderr_tail(self):
        try:
            with open(os.path.join(self.profile, 'stderr.log'), 'rb') as f:
                return f.read()[-2000:].decode(errors='replace')
        except OSError:
            return ''


def totp(secret_b32):
    """RFC 6238: SHA-1, 30 s, 6 digits."""
    key = base64.b32decode(secret_b32.strip().upper() + '=' * (-len(secret_b32.strip()) % 8))
    mac = hmac.new(key, struct.pack('>Q', int(time.time()) // 30), hashlib.sha1).digest()
    off = mac[-1] & 0x0f
    return '%06d' % ((struct.unpack('>I', mac[off:off + 4])[0] & 0x7fffffff) % 1000000)


def q(s):
    return json.dumps(s)


def login(b, url, username, password, secret):
    b.call('Page.navigate', {'url': url + '/console/'})
    b.wait("document.readyState === 'complete' && !document.getElementById('login-view').hidden",
           'the log-in form')
    print('console: loaded, log-in form shown')
    b.js("""(() => {
        document.getElementById('login-username').value = %s;
        document.getElementById('login-password').value = %s;
        document.getElementById('login-totp').value = %s;
        document.getElementById('login-submit').click(); })()""" % (q(username), q(password), q(totp(secret))))
    b.wait("!document.getElementById('main-view').hidden && "
           "document.getElementById('who-name').textContent === %s" % q(username), 'the queue after log-in')
    assert b.js("document.getElementById('login-password').value") == '', 'password left in the form'
    role = b.js("document.getElementById('who-role').textContent")
    print('console: logged in as %s (%s)' % (username, role))
    return role


def open_application(b, app_id):
    b.wait("!!document.querySelector('#queue-table tr[data-id=\"%s\"]')" % app_id,
           'application %s in the queue' % app_id)
    print('console: application %s listed among %s' % (
        app_id, b.js("document.getElementById('queue-page').textContent")))
    b.js("document.querySelector('#queue-table tr[data-id=\"%s\"] button.open').click()" % app_id)
    b.wait("!document.getElementById('detail-view').hidden && "
           "document.getElementById('detail-id').textContent === %s" % q(app_id), 'the detail view')


def find_certificate(b, serial):
    b.js("document.getElementById('nav-certs').click()")
    b.wait("!document.getElementById('certs-view').hidden", 'the certificates view')
    b.js("document.getElementById('certs-q').value = %s;"
         "document.getElementById('certs-search').click()" % q(serial))
    b.wait("!!document.querySelector('#certs-table tr[data-serial=\"%s\"]')" % serial,
           'certificate %s' % serial)


def review(b, app_id, serial):
    open_application(b, app_id)
    checks = b.js("[...document.querySelectorAll('#detail-checks tbody tr')]"
                  ".map(tr => [tr.dataset.check, tr.className])")
    assert len(checks) >= 9, 'checks shown: %r' % checks
    failing = [c for c, cls in checks if cls != 'pass']
    assert not failing, 'failing checks: %r' % failing
    nik = b.js("[...document.querySelectorAll('#detail-kyc dt')].some(dt => dt.textContent === 'nik')")
    assert nik, 'the identity data has no NIK'
    print('console: detail of %s with %d automatic checks, all passing' % (app_id, len(checks)))

    b.js("document.getElementById('show-ktp').click()")
    b.wait("(() => { const i = document.getElementById('evidence-ktp_photo');"
           " return i && i.complete && i.naturalWidth === 96 && i.naturalHeight === 64; })()",
           'the e-KTP photo (96x64 PNG)')
    b.js("document.getElementById('show-selfie').click()")
    b.wait("(() => { const i = document.getElementById('evidence-selfie');"
           " return i && i.complete && i.naturalWidth === 64; })()", 'the selfie (64x64 JPEG)')
    print('console: e-KTP photo (96x64) and selfie (64x64) shown')

    b.js("document.getElementById('approve').click()")  # no reason: the form refuses
    time.sleep(0.5)
    status = b.js("[...document.querySelectorAll('#detail-facts dd')][1].textContent")
    assert status == 'submitted', 'status after approving without a reason: %r' % status
    b.js("document.getElementById('decision-reason').value = 'documents consistent, checks pass';"
         "document.getElementById('approve').click()")
    b.wait("document.getElementById('message').className === 'ok' && "
           "document.getElementById('message').textContent.includes('status approved')",
           'the approval')
    print('console: %s' % b.js("document.getElementById('message').textContent"))

    # Approved, not agreed to: the officer may cancel it, not order it again.
    assert not b.js("document.getElementById('end-form').hidden"), 'no cancel form once approved'
    assert b.js("document.getElementById('reorder-app').hidden"), 'a new order offered without a failed one'
    b.js("document.getElementById('end-reason').value = 'the subscriber withdrew it by phone';"
         "document.getElementById('cancel-app').click()")
    b.wait("document.getElementById('message').className === 'ok' && "
           "document.getElementById('message').textContent.includes('cancelled')", 'the cancellation')
    b.wait("document.getElementById('end-form').hidden && "
           "[...document.querySelectorAll('#detail-facts dd')][1].textContent === 'cancelled'",
           'the cancelled status')
    print('console: %s' % b.js("document.getElementById('message').textContent"))

    find_certificate(b, serial)
    # Suspended, then released, each with a reason; then revoked.
    row = "document.querySelector('#certs-table tr[data-serial=\"%s\"]')" % serial
    for action, shown, said in (('hold', 'hold', 'is on hold'), ('release', 'good', 'is valid again')):
        b.wait("!!%s.querySelector('button.%s')" % (row, action), 'the %s button' % action)
        b.js("%s.querySelector('button.%s').click()" % (row, action))
        b.js("document.getElementById('hold-submit').click()")  # no reason: the form refuses
        time.sleep(0.3)
        assert not b.js("document.getElementById('hold-form').hidden"), '%s without a reason went through' % action
        b.js("document.getElementById('hold-reason').value = %s;"
             "document.getElementById('hold-submit').click()" % q('subscriber phoned the helpdesk (%s)' % action))
        b.wait("document.getElementById('message').className === 'ok' && "
               "document.getElementById('message').textContent.includes(%s)" % q(said), 'the %s' % action)
        b.wait("%s.children[5].textContent.startsWith(%s)" % (row, q(shown)), 'status %s in the table' % shown)
        print('console: %s' % b.js("document.getElementById('message').textContent"))
    b.js("document.querySelector('#certs-table tr[data-serial=\"%s\"] button.revoke').click();"
         "document.getElementById('revoke-reason').value = 'keyCompromise';"
         "document.getElementById('revoke-comment').value = 'key reported lost by the subscriber';"
         "document.getElementById('revoke-submit').click()" % serial)
    b.wait("document.getElementById('message').className === 'ok' && "
           "document.getElementById('message').textContent.includes('revoked (keyCompromise)')",
           'the revocation')
    b.wait("document.querySelector('#certs-table tr[data-serial=\"%s\"]').textContent"
           ".includes('revoked')" % serial, 'the revoked status in the table')
    print('console: %s' % b.js("document.getElementById('message').textContent"))


def auditor(b, app_id, serial):
    open_application(b, app_id)
    assert b.js("document.getElementById('decision-form').hidden"), 'an auditor is offered a decision'
    assert b.js("document.getElementById('end-form').hidden"), 'an auditor is offered a cancellation'
    assert b.js("document.getElementById('show-ktp').hidden && document.getElementById('show-selfie').hidden"), \
        'an auditor is offered the images (403 since schema/111)'
    find_certificate(b, serial)
    assert b.js("!document.querySelector('#certs-table tr[data-serial=\"%s\"] button.revoke')" % serial), \
        'an auditor is offered a revocation'
    assert b.js("!document.querySelector('#certs-table tr[data-serial=\"%s\"] button.hold')" % serial), \
        'an auditor is offered a hold'
    print('console: the auditor reads application %s and certificate %s without any button '
          'that decides' % (app_id, serial))


def revreq(b, req_id, note):
    b.js("document.getElementById('nav-revreqs').click()")
    # The pending ones only (the API's status filter), one page of them.
    b.js("document.getElementById('revreqs-status').value = 'pending';"
         "document.getElementById('revreqs-form').requestSubmit()")
    b.wait("!!document.querySelector('#revreqs-table tr[data-id=\"%s\"][data-status=\"pending\"] "
           "button.decide') && [...document.querySelectorAll('#revreqs-table tbody tr')]"
           ".every(tr => tr.dataset.status === 'pending')" % req_id,
           'pending request %s among the pending ones only' % req_id)
    assert b.js("document.getElementById('revreqs-page').textContent.startsWith('page 1 of ')"), \
        'no pager under the revocation requests'
    b.js("document.querySelector('#revreqs-table tr[data-id=\"%s\"] button.decide').click();"
         "document.getElementById('revreq-text').value = %s;"
         "document.getElementById('revreq-revoke').click()" % (req_id, q(note)))
    b.wait("document.getElementById('message').className === 'ok' && "
           "document.getElementById('message').textContent.startsWith('Request %s: done')" % req_id,
           'the request carried out')
    b.js("document.getElementById('revreqs-status').value = 'done';"
         "document.getElementById('revreqs-form').requestSubmit()")
    b.wait("document.querySelector('#revreqs-table tr[data-id=\"%s\"]')?.dataset.status === 'done'" % req_id,
           'the request shown as done')
    print('console: %s' % b.js("document.getElementById('message').textContent"))


def company(b, app_id, nib, sysadmin):
    """A corporate application's company data, whatever its status."""
    b.js("document.getElementById('queue-status').value = ''")
    b.js("document.getElementById('queue-kind').value = 'corporate'")
    b.js("document.getElementById('queue-form').requestSubmit()")
    open_application(b, app_id)
    b.wait("!document.getElementById('detail-company-part').hidden", 'the company part')
    shown = b.js("Object.fromEntries([...document.querySelectorAll('#detail-company dt')]"
                 ".map(dt => [dt.textContent, dt.nextElementSibling.textContent]))")
    assert shown.get('NIB') == nib, 'NIB shown: %r' % shown
    assert shown.get('Sysadmin email') == sysadmin, 'sysadmin shown: %r' % shown
    assert all(shown.get(k) for k in ('Name', 'NPWP', 'Deed', 'Ministry decree', 'Representative')), \
        'company facts missing: %r' % shown
    print('console: corporate application %s shows its company (%s)' % (app_id, ', '.join(sorted(shown))))


def deactivate(b, company_id, reason):
    b.js("document.getElementById('nav-companies').click()")
    b.js("document.getElementById('companies-status').value = 'active';"
         "document.getElementById('companies-form').requestSubmit()")
    row = "#companies-table tr[data-id=\"%s\"]" % company_id
    b.wait("!!document.querySelector('%s[data-status=\"active\"] button.open')" % row,
           'company %s among the active ones' % company_id)
    b.js("document.querySelector('%s button.open').click()" % row)
    b.wait("!document.getElementById('detail-view').hidden && "
           "!document.getElementById('deactivate-form').hidden", 'the deactivation form')
    b.js("document.getElementById('deactivate-reason').value = '   ';"
         "document.getElementById('deactivate-company').click()")
    b.wait("document.getElementById('message').className === 'error'", 'a refusal without a reason')
    b.js("document.getElementById('deactivate-reason').value = %s;"
         "document.getElementById('deactivate-revoke').checked = true;"
         "document.getElementById('deactivate-company').click()" % q(reason))
    b.wait("document.getElementById('message').className === 'ok' && "
           "document.getElementById('message').textContent.startsWith('Company ')", 'the company deactivated')
    print('console: %s' % b.js("document.getElementById('message').textContent"))
    b.wait("[...document.querySelectorAll('#detail-company dt')].some(dt => dt.textContent === 'Status' && "
           "dt.nextElementSibling.textContent === 'deactivated') && "
           "document.getElementById('deactivate-form').hidden", 'the company shown deactivated, no form')
    b.js("document.getElementById('nav-companies').click()")
    b.js("document.getElementById('companies-status').value = 'deactivated';"
         "document.getElementById('companies-form').requestSubmit()")
    b.wait("!!document.querySelector('%s[data-status=\"deactivated\"]')" % row,
           'company %s among the deactivated ones' % company_id)
    b.wait("document.getElementById('companies-page').textContent.startsWith('page 1 of ') && "
           "document.getElementById('companies-prev').disabled", 'the companies pager on page 1')
    print('console: company %s shown deactivated, in its detail (no form) and in the list' % company_id)


SCENARIOS = {'review': review, 'auditor': auditor, 'revreq': revreq, 'company': company,
             'deactivate': deactivate}


def main():
    scenario, url, username, pw_file, secret_file = sys.argv[1:6]
    args = sys.argv[6:]
    password = open(pw_file).read().rstrip('\n')
    secret = open(secret_file).read().strip()
    b = Chromium()
    step = 'start'
    try:
        b.open_page()
        step = 'log-in'
        login(b, url, username, password, secret)
        # Several scenarios in one log-in ("revreq,company"): a second
        # log-in within the same 30-s TOTP step would be a refused replay.
        for name in scenario.split(','):
            step = name
            fn = SCENARIOS[name]
            n = fn.__code__.co_argcount - 1
            fn(b, *args[:n])
            args = args[n:]
        assert not args, 'arguments no scenario took: %r' % args
        step = 'log-out'
        b.js("document.getElementById('logout').click()")
        b.wait("!document.getElementById('login-view').hidden", 'the log-in form after log-out')
        assert b.js("sessionStorage.length + localStorage.length") == 0, 'the page stored something'
        print('console: logged out, nothing in sessionStorage or localStorage')
        step = 'page reports'
        problems = b.problems()
        assert not problems, 'the page reported: %r' % problems
        print('console: no console error, exception or CSP violation')
        return 0
    except Exception as e:  # one line saying which step failed and why
        print('console: FAILED at %s: %s: %s' % (step, type(e).__name__, e))
        for p in b.problems():
            print('console:   page: %s' % p)
        print('console:   chromium stderr: %s' % b.stderr_tail())
        return 1
    finally:
        b.close()


if __name__ == '__main__':
    sys.exit(main())
