#!/usr/bin/env bash
# A mail server that accepts connections and then says nothing holds up
# mail only: rad's outbox has a thread of its own (ra/notifier.c). A rad
# whose SMTP relay is such a staller (a python3 socket that never greets)
# is left alone with the database (the stack's rad stopped meanwhile); its
# outbox thread is stuck inside libcurl on a queued mail, and an agreed
# application whose order cad has done still becomes issued within seconds,
# with its signing credential and its audit event, its issuance mail
# queued behind. Once the staller is gone the mail fails fast and backs off,
# and rad stops promptly on SIGTERM.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }

# --- the staller: accepts, counts, never answers -------------------------------------------
sport=$(free_port)
python3 - "$sport" "$tmp/accepted" >"$tmp/staller.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
held = []
while True:
    c, _ = s.accept()
    held.append(c)          # kept open, never a greeting
    with open(sys.argv[2], "a") as f:
        f.write("1\n")
PY
staller=$!
at_exit "kill $staller 2>/dev/null; wait $staller 2>/dev/null"
wait_port "$sport" "$staller" staller

# --- only our rad reconciles: the stack's is stopped meanwhile ------------------------------
stack_rad=$(cat "$PKI_DIR/run/ra.pid")
at_exit "kill -CONT $stack_rad 2>/dev/null || true"
kill -STOP "$stack_rad"
start_rad rad-slow PKI_RA_MAIL=smtp PKI_RA_SMTP_URL="smtp://127.0.0.1:$sport" PKI_RA_SMTP_FROM=ra@pki.test \
    PKI_RA_SMTP_STARTTLS=no PKI_NOTIFIER_INTERVAL_SECONDS=1
n=$$$RANDOM
email=outbox-$n@example.com
# A queued notice: the outbox thread takes it and waits on the staller.
# First in line (oldest due first): other tests' due mails wait behind it.
q "INSERT INTO ra_mail_outbox (recipient, subject, body, next_attempt_at)
	VALUES ('stalled-$n@example.com', 'Stalled', 'x', now() - interval '1 day');
	SELECT pg_notify('ra_mail', '')" >/dev/null
for ((i = 0; i < 100; i++)); do [ -s "$tmp/accepted" ] && break; sleep 0.1; done
[ -s "$tmp/accepted" ] || fail "rad's outbox never connected to the staller: $(cat "$tmp/rad-slow.log")"
stuck_at=$(date +%s)

# --- an agreed application whose order cad has done ----------------------------------------
acc=$(q "INSERT INTO ra_account (email, phone, password_hash, email_verified, email_verified_at)
	VALUES ('$email', '+6281100$((n % 100000))', '\$argon2id\$v=19\$m=8,t=1,p=1\$c2FsdHNhbHQ\$aGFzaGhhc2g', true, now())
	RETURNING id" | head -n1)
order_issued personal '{"C":"ID","CN":"Slow Mail","serialNumber":"NIK:3171010101900001"}'
o=$order cid=$cert
app=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($acc, 'personal', 'personal',
	'{\"C\":\"ID\",\"CN\":\"Slow Mail\"}') RETURNING id" | head -n1)
agreed_by_sql "$app" "$o"
# The notifier's next round (1 s) issues it, while the outbox is still stuck.
app_issued "$app" 10 || fail "application $app not issued while the mail server stalls: $(tail -5 "$tmp/rad-slow.log")"
[ $(($(date +%s) - stuck_at)) -lt 25 ] || fail "issued only after the stalled send timed out"
[ "$(q "SELECT sent_at IS NULL AND attempts = 0 FROM ra_mail_outbox WHERE recipient = 'stalled-$n@example.com'")" = t ] ||
	fail "the stalled mail is no longer in flight: the check proves nothing"
[ "$(q "SELECT count(*) FROM sign_credential WHERE certificate_id = $cid AND account_id = $acc")" = 1 ] ||
	fail "no signing credential for certificate $cid"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.application.issued' AND object_id = '$app'")" = 1 ] ||
	fail "no ra.application.issued event"
[ "$(q "SELECT count(*) FROM ra_mail_outbox WHERE recipient = '$email' AND subject = 'Your certificate has been issued' AND sent_at IS NULL")" = 1 ] ||
	fail "the issuance mail is not queued"
note "issued in $(($(date +%s) - stuck_at)) s while the outbox waited on a silent SMTP server; the issuance mail queued"

# --- the server gone: the send fails, backs off; rad stops promptly ------------------------
kill "$staller"
wait "$staller" 2>/dev/null || true
for ((i = 0; i < 100; i++)); do
	[ "$(q "SELECT attempts >= 1 AND last_error IS NOT NULL FROM ra_mail_outbox WHERE recipient = 'stalled-$n@example.com'")" = t ] && break
	sleep 0.1
done
[ "$(q "SELECT attempts >= 1 AND sent_at IS NULL AND next_attempt_at > now() FROM ra_mail_outbox WHERE recipient = 'stalled-$n@example.com'")" = t ] ||
	fail "the failed send is not backed off"
t0=$(date +%s)
kill -TERM "$rad_pid"
for ((i = 0; i < 150; i++)); do kill -0 "$rad_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$rad_pid" 2>/dev/null && fail "rad did not stop within 15 s of SIGTERM"
note "the send failed once the server went away, backed off; rad stopped $(($(date +%s) - t0)) s after SIGTERM"
q "DELETE FROM ra_mail_outbox WHERE recipient IN ('stalled-$n@example.com', '$email')" >/dev/null
# The failed sends are logged as errors (mail.c); nothing else may be.
grep '"level":"err"' "$tmp/rad-slow.log" | grep -v '"msg":"smtp: sending to an account failed: ' &&
	fail "errors in rad's log besides the failed sends"
exit 0
