#!/usr/bin/env bash
# rad's SMTP sender (ra.mail = smtp, libcurl) against a real SMTP server:
# Debian's python3-aiosmtpd with its Maildir handler on a loopback port of
# its own, and a second rad (the documented environment overrides of
# pki.conf [ra]) under its seccomp sandbox. A registration's verification
# mail arrives there (envelope, To, Subject, MIME fields, the link), the
# link verifies the account; with the server stopped, registration answers
# 503 and stores nothing (no account, no audit event); no token in rad's log.
# rad refuses to start with mail = smtp and no smtp_url. Then TLS: STARTTLS
# with AUTH against a test CA (ra.smtp_ca_file), implicit TLS (smtps://),
# and the refusals (wrong password, untrusted certificate, no STARTTLS
# offered): 503, nothing stored, nothing delivered. (A To with CR/LF never
# reaching a server is tests/unit/ra/test_mail.c.)
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
# Debian's interpreter, which has aiosmtpd (another python3 may come first in PATH).
PY=/usr/bin/python3
rad2=
smtpd=

# The second rad and the SMTP server are ours: stop them whatever happens.
smtp_cleanup() {
	[ -z "$rad2" ] || { kill -TERM "$rad2" 2>/dev/null; wait "$rad2" 2>/dev/null; }
	[ -z "$smtpd" ] || { kill -TERM "$smtpd" 2>/dev/null; wait "$smtpd" 2>/dev/null; }
}
at_exit smtp_cleanup

req() { # req PATH BODY: POST to the second rad; sets code, body in $tmp/out
	code=$(curl -sS -X POST -o "$tmp/out" -w '%{http_code}' \
	    -H 'Content-Type: application/json' --data-binary "$2" "$base$1") ||
		fail "POST $1: no answer; rad2: $(cat "$tmp/rad2.log")"
}

# --- rad refuses mail = smtp without smtp_url -------------------------------------
if PKI_RA_PORT=0 PKI_RA_MAIL=smtp PKI_RA_SMTP_FROM=ra@pki.test \
    timeout 20 "$BUILD/rad" --config "$PKI_CONFIG" >"$tmp/refuse.log" 2>&1; then
	fail "rad started with mail = smtp and no smtp_url"
fi
grep -q 'mail = smtp needs smtp_url and smtp_from' "$tmp/refuse.log" ||
	fail "no clear message for the missing smtp_url: $(cat "$tmp/refuse.log")"
if PKI_RA_PORT=0 PKI_RA_MAIL=smtp PKI_RA_SMTP_URL=smtp://127.0.0.1:1 \
    timeout 20 "$BUILD/rad" --config "$PKI_CONFIG" >"$tmp/refuse.log" 2>&1; then
	fail "rad started with mail = smtp and no smtp_from"
fi
grep -q 'mail = smtp needs smtp_url and smtp_from' "$tmp/refuse.log" ||
	fail "no clear message for the missing smtp_from: $(cat "$tmp/refuse.log")"
note "mail = smtp without smtp_url or smtp_from: refused at start-up"

# --- the SMTP server and the second rad ----------------------------------------------
sport=$(free_port)
maildir=$tmp/maildir
"$PY" -m aiosmtpd -n -l "127.0.0.1:$sport" -c aiosmtpd.handlers.Mailbox "$maildir" \
    >"$tmp/smtpd.log" 2>&1 &
smtpd=$!
wait_port "$sport" "$smtpd" smtpd
port2=$(free_port)
PKI_RA_PORT=$port2 PKI_RA_MAIL=smtp PKI_RA_SMTP_URL="smtp://127.0.0.1:$sport" \
    PKI_RA_SMTP_FROM=ra@pki.test PKI_RA_SMTP_STARTTLS=no \
    "$BUILD/rad" --config "$PKI_CONFIG" >"$tmp/rad2.log" 2>&1 &
rad2=$!
wait_port "$port2" "$rad2" rad2
base=http://127.0.0.1:$port2
grep -q "mail: SMTP to smtp://127.0.0.1:$sport as ra@pki.test" "$tmp/rad2.log" ||
	fail "rad2 does not say it sends by SMTP: $(cat "$tmp/rad2.log")"
# Under its sandbox unless this is a sanitizer build (lib/sandbox.c).
grep -q 'insecure_no_sandbox' "$tmp/rad2.log" && fail "rad2 runs without its sandbox"

# --- a registration: the mail arrives at the server, the link verifies ------------
email=smtp.alice@example.com
pw='Smtp-Horse9-Battery'
sinkfiles=$(find "$PKI_DIR/spool/ra-mail" -type f | wc -l)
req /v1/register "{\"email\":\"$email\",\"phone\":\"+6281234567891\",\"password\":\"$pw\"}"
[ "$code" = 201 ] || fail "register through the SMTP rad: HTTP $code $(cat "$tmp/out")"
id=$(jq -r .id "$tmp/out")
kill -0 "$rad2" 2>/dev/null || fail "rad2 died sending (seccomp?): $(cat "$tmp/rad2.log")"
# The send finished before the answer: the message is in the Maildir now.
n=$(find "$maildir/new" -type f 2>/dev/null | wc -l)
[ "$n" = 1 ] || fail "$n messages at the SMTP server, expected 1: $(cat "$tmp/smtpd.log")"
[ "$(find "$PKI_DIR/spool/ra-mail" -type f | wc -l)" = "$sinkfiles" ] ||
	fail "the SMTP rad wrote to the file sink"
"$PY" - "$maildir/new"/* >"$tmp/parsed" <<'PYEOF' || fail "the stored message: $(cat "$tmp/parsed")"
import email, email.policy, re, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.default)
def need(cond, what):
    if not cond:
        print("bad message: " + what)
        sys.exit(1)
# aiosmtpd's Message handler records the envelope.
need(m["X-MailFrom"] == "ra@pki.test", "envelope from %r" % m["X-MailFrom"])
need(m["X-RcptTo"] == "smtp.alice@example.com", "envelope rcpt %r" % m["X-RcptTo"])
need(m["From"] == "ra@pki.test", "From %r" % m["From"])
need(m["To"] == "smtp.alice@example.com", "To %r" % m["To"])
need(m["Subject"] == "Verify your email address", "Subject %r" % m["Subject"])
need(re.fullmatch(r"<[0-9a-f]{32}@pki\.test>", m["Message-ID"] or ""), "Message-ID")
need(m["Date"] is not None and m["Date"].datetime is not None, "Date")
need(m["MIME-Version"] == "1.0", "MIME-Version")
need(m.get_content_type() == "text/plain" and m.get_content_charset() == "utf-8", "Content-Type")
need(m["Content-Transfer-Encoding"] == "8bit", "Content-Transfer-Encoding")
need(m["X-PKI-Mail-Sink"] is None, "file sink mark in an SMTP message")
need(len(m.get_all("To")) == 1 and m["Bcc"] is None and m["Cc"] is None, "extra recipients")
t = re.findall(r"verify-email\?token=([A-Za-z0-9_-]{43})\s", m.get_content())
need(len(t) == 1, "no link in the body")
print(t[0])
PYEOF
vtok=$(cat "$tmp/parsed")
[ "$(q "SELECT email_verified FROM ra_account WHERE id = $id")" = f ] || fail "verified too early"
req /v1/verify-email "{\"token\":\"$vtok\"}"
[ "$code" = 200 ] || fail "verify-email with the mailed link: HTTP $code $(cat "$tmp/out")"
[ "$(q "SELECT email_verified FROM ra_account WHERE id = $id")" = t ] || fail "not verified"
grep -q 'smtp: message sent to an account' "$tmp/rad2.log" || fail "no log line for the send"
note "registration: the mail reached the SMTP server (envelope, header fields, link); the link verified"

# --- the server down: 503, nothing stored ------------------------------------------
kill -TERM "$smtpd"
wait "$smtpd" 2>/dev/null || true
smtpd=
email2=smtp.bob@example.com
before=$(q "SELECT (SELECT count(*) FROM ra_account) || '/' ||
    (SELECT count(*) FROM ra_email_verification) || '/' || $AUDIT_MAX")
req /v1/register "{\"email\":\"$email2\",\"phone\":\"+6281234567892\",\"password\":\"$pw\"}"
[ "$code" = 503 ] || fail "register with the SMTP server down: HTTP $code $(cat "$tmp/out")"
[ "$(q "SELECT count(*) FROM ra_account WHERE email = '$email2'")" = 0 ] ||
	fail "an account was stored although the mail failed"
after=$(q "SELECT (SELECT count(*) FROM ra_account) || '/' ||
    (SELECT count(*) FROM ra_email_verification) || '/' || $AUDIT_MAX")
[ "$before" = "$after" ] || fail "a failed send changed state: $before -> $after"
grep -q 'smtp: sending to an account failed' "$tmp/rad2.log" || fail "the failed send is not logged"
kill -0 "$rad2" 2>/dev/null || fail "rad2 died: $(cat "$tmp/rad2.log")"
note "SMTP server down: 503, no account, no audit event"

# --- the log: no token, no password, no recipient -------------------------------
for s in "$vtok" "$pw" "$email" "$email2"; do
	grep -qF -- "$s" "$tmp/rad2.log" && fail "rad2's log holds a secret or an address: $s"
done
kill -TERM "$rad2"
wait "$rad2" || { cat "$tmp/rad2.log" >&2; rad2=; fail "the second rad did not stop cleanly"; }
rad2=
note "rad2's log: no token, password or address; clean stop"

# === TLS: STARTTLS with AUTH, and implicit TLS (smtps://) =============================
# A test CA and a server certificate for 127.0.0.1 made here; aiosmtpd
# requires STARTTLS and AUTH (LOGIN/PLAIN) after TLS, and checks the
# password it reads from a file. rad trusts the test CA by ra.smtp_ca_file.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=SMTP test CA" -keyout "$tmp/smtpca.key" -out "$tmp/smtpca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
	-keyout "$tmp/smtpd.key" -out "$tmp/smtpd.csr" 2>/dev/null
printf 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n' >"$tmp/smtpd.ext"
openssl x509 -req -in "$tmp/smtpd.csr" -CA "$tmp/smtpca.pem" -CAkey "$tmp/smtpca.key" \
	-CAcreateserial -days 2 -extfile "$tmp/smtpd.ext" -out "$tmp/smtpd.pem" 2>/dev/null
smtp_pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s' "$smtp_pw" >"$tmp/smtp.pw"
chmod 0600 "$tmp/smtp.pw"
[ "$(id -u)" -ne 0 ] || chown pki-ra "$tmp/smtp.pw" "$tmp/smtpca.pem"  # rad's user reads the CA file at each message
printf '%s' 'not-the-password' >"$tmp/wrong.pw"
chmod 0600 "$tmp/wrong.pw"
[ "$(id -u)" -ne 0 ] || chown pki-ra "$tmp/wrong.pw"
cat >"$tmp/tls_smtpd.py" <<'PYEOF'
# tls_smtpd.py MODE PORT MAILDIR CERT KEY PASSWORD-FILE: MODE starttls or smtps.
import signal, ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
mode, port, maildir, cert, key, pwfile = sys.argv[1:7]
password = open(pwfile, "rb").read()
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
def check(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == b"rad" and data.password == password
    print("AUTH %s %s" % (mechanism, "ok" if ok else "refused"), flush=True)
    return AuthResult(success=ok)
kw = dict(auth_required=True, auth_require_tls=True, authenticator=check)
if mode == "starttls":
    c = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port),
                   tls_context=ctx, require_starttls=True, **kw)
else:
    # Implicit TLS: aiosmtpd counts only STARTTLS as TLS for auth_require_tls.
    kw["auth_require_tls"] = False
    c = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port),
                   ssl_context=ctx, **kw)
c.start()
print("listening", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
stop.wait()
c.stop()
PYEOF
# tls_server MODE: starts it on a new port (sport), Maildir $tmp/tls-MODE.
tls_server() {
	sport=$(free_port)
	maildir=$tmp/tls-$1
	"$PY" "$tmp/tls_smtpd.py" "$1" "$sport" "$maildir" "$tmp/smtpd.pem" "$tmp/smtpd.key" \
		"$tmp/smtp.pw" >"$tmp/smtpd.log" 2>&1 &
	smtpd=$!
	wait_port "$sport" "$smtpd" smtpd
}
stop_server() { kill -TERM "$smtpd"; wait "$smtpd" 2>/dev/null || true; smtpd=; }
# rad_tls URL PASSWORD-FILE [CA-FILE]: a second rad sending with AUTH over TLS.
rad_tls() {
	port2=$(free_port)
	env PKI_RA_PORT="$port2" PKI_RA_MAIL=smtp PKI_RA_SMTP_URL="$1" PKI_RA_SMTP_FROM=ra@pki.test \
	    PKI_RA_SMTP_STARTTLS=required PKI_RA_SMTP_USER=rad PKI_RA_SMTP_PASSWORD_FILE="$2" \
	    ${3:+PKI_RA_SMTP_CA_FILE="$3"} "$BUILD/rad" --config "$PKI_CONFIG" >"$tmp/rad2.log" 2>&1 &
	rad2=$!
	wait_port "$port2" "$rad2" rad2
	base=http://127.0.0.1:$port2
}
# stop_rad: each TLS rad2's log is scanned for the SMTP password before the
# next one overwrites it.
stop_rad() {
	kill -TERM "$rad2"
	wait "$rad2" || { cat "$tmp/rad2.log" >&2; rad2=; fail "rad2 did not stop cleanly"; }
	rad2=
	! grep -qF -- "$smtp_pw" "$tmp/rad2.log" || fail "rad2's log holds the SMTP password"
}
# register_via N EXPECT-HTTP: registers smtp.tlsN@example.com through rad2.
register_via() {
	req /v1/register "{\"email\":\"smtp.tls$1@example.com\",\"phone\":\"+628123456790$1\",\"password\":\"$pw\"}"
	[ "$code" = "$2" ] || fail "register smtp.tls$1 through rad2: HTTP $code, want $2: $(cat "$tmp/out")"
	kill -0 "$rad2" 2>/dev/null || fail "rad2 died sending over TLS (seccomp?): $(cat "$tmp/rad2.log")"
}
delivered() { find "$maildir/new" -type f 2>/dev/null | wc -l; }

# STARTTLS + AUTH, the test CA trusted: delivered, AUTH accepted after TLS.
tls_server starttls
rad_tls "smtp://127.0.0.1:$sport" "$tmp/smtp.pw" "$tmp/smtpca.pem"
grep -q 'STARTTLS required' "$tmp/rad2.log" || fail "rad2 does not say STARTTLS is required"
register_via 1 201
[ "$(delivered)" = 1 ] || fail "STARTTLS: $(delivered) messages delivered, want 1: $(cat "$tmp/smtpd.log")"
grep -q '^AUTH .* ok$' "$tmp/smtpd.log" || fail "STARTTLS: the server saw no successful AUTH: $(cat "$tmp/smtpd.log")"
grep -l 'smtp.tls1@example.com' "$maildir/new"/* >/dev/null || fail "STARTTLS: the message is not for smtp.tls1"
# The wrong password: refused by the server, 503, no account.
stop_rad
rad_tls "smtp://127.0.0.1:$sport" "$tmp/wrong.pw" "$tmp/smtpca.pem"
register_via 2 503
[ "$(q "SELECT count(*) FROM ra_account WHERE email = 'smtp.tls2@example.com'")" = 0 ] ||
	fail "an account was stored although AUTH failed"
grep -q '^AUTH .* refused$' "$tmp/smtpd.log" || fail "the server saw no refused AUTH"
# The server's certificate not trusted (the system's CA store only): 503.
stop_rad
rad_tls "smtp://127.0.0.1:$sport" "$tmp/smtp.pw"
register_via 3 503
[ "$(delivered)" = 1 ] || fail "a message went to a server whose certificate is not trusted"
stop_rad
stop_server
# STARTTLS required but the server offers none (the plain aiosmtpd): 503.
sport=$(free_port)
maildir=$tmp/plain2
"$PY" -m aiosmtpd -n -l "127.0.0.1:$sport" -c aiosmtpd.handlers.Mailbox "$maildir" >"$tmp/smtpd.log" 2>&1 &
smtpd=$!
wait_port "$sport" "$smtpd" smtpd
rad_tls "smtp://127.0.0.1:$sport" "$tmp/smtp.pw" "$tmp/smtpca.pem"
register_via 4 503
[ "$(delivered)" = 0 ] || fail "a message (with the password) went to a server without STARTTLS"
stop_rad
stop_server
note "STARTTLS + AUTH: delivered; wrong password, untrusted certificate, no STARTTLS offered: 503, nothing stored"

# Implicit TLS (smtps://) + AUTH: delivered.
tls_server smtps
rad_tls "smtps://127.0.0.1:$sport" "$tmp/smtp.pw" "$tmp/smtpca.pem"
register_via 5 201
[ "$(delivered)" = 1 ] || fail "smtps: $(delivered) messages delivered, want 1: $(cat "$tmp/smtpd.log")"
grep -q '^AUTH .* ok$' "$tmp/smtpd.log" || fail "smtps: no successful AUTH"
for s in "$smtp_pw"; do
	grep -qF -- "$s" "$tmp/rad2.log" && fail "rad2's log holds the SMTP password"
done
stop_rad
stop_server
note "smtps:// + AUTH: delivered; the SMTP password never in rad's log"
