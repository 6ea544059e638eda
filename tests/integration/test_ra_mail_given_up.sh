#!/usr/bin/env bash
# A notice rad's outbox gives up after its 48th failed send (ra/notifier.c
# RA_OUTBOX_ATTEMPTS) was never delivered: for a revocation notice, the
# subscriber was never told. Until 2026-12-07 only ra_mail_outbox.last_error
# said so; now the give-up writes ra.mail.given_up (actor ra:notifier) in
# its own transaction, naming the mail's subject and the recipient's account,
# never its text, and GET /health counts such mails (given_up). A mail that
# fails but has attempts left is backed off, not audited.
#
# A rad of the test's own sends through an SMTP relay that is not there
# (a free port nobody listens on: each send fails at once); the stack's rad
# is stopped meanwhile, so that it does not send the test's mails itself.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }

# The stack's rad stopped before the mails are queued: its outbox, a round
# every 5 s, sent them to its file sink once in the window between
# (a clean-clone run, 2026-12-07: "48|false|false|", sent, not given up).
stack_rad=$(cat "$PKI_DIR/run/ra.pid")
at_exit "kill -CONT $stack_rad 2>/dev/null || true"
kill -STOP "$stack_rad"

n=$$$RANDOM
email=given-up-$n@example.com
acc=$(q "INSERT INTO ra_account (email, phone, password_hash, email_verified, email_verified_at)
	VALUES ('$email', '+6281300$((n % 100000))', '\$argon2id\$v=19\$m=8,t=1,p=1\$c2FsdHNhbHQ\$aGFzaGhhc2g', true, now())
	RETURNING id" | head -n1)
# A revocation notice at its last attempt, and one with attempts left; first
# in line (oldest due first), so other tests' due mails wait behind them.
# Queued 10 and 9 years ago: the oldest in the outbox, for /health's
# oldest_unsent.
last=$(q "INSERT INTO ra_mail_outbox (recipient, subject, body, attempts, next_attempt_at, created_at)
	VALUES ('$email', 'Your certificate was revoked', 'BODY-GIVEN-UP-$n', 47, now() - interval '10 years',
	now() - interval '10 years')
	RETURNING id" | head -n1)
more=$(q "INSERT INTO ra_mail_outbox (recipient, subject, body, attempts, next_attempt_at, created_at)
	VALUES ('left-$n@example.com', 'Your certificate was suspended', 'BODY-LEFT-$n', 0, now() - interval '9 years',
	now() - interval '9 years')
	RETURNING id" | head -n1)
more_created=$(q "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
	FROM ra_mail_outbox WHERE id = $more")
at_exit "q \"DELETE FROM ra_mail_outbox WHERE id IN ($last, $more)\" >/dev/null"

sport=$(free_port)
start_rad rad-given-up PKI_RA_MAIL=smtp PKI_RA_SMTP_URL="smtp://127.0.0.1:$sport" PKI_RA_SMTP_FROM=ra@pki.test \
    PKI_RA_SMTP_STARTTLS=no
row() { q "SELECT attempts || '|' || (sent_at IS NULL) || '|' || (next_attempt_at = 'infinity') || '|' ||
    coalesce(last_error, '') FROM ra_mail_outbox WHERE id = $1"; }
for ((i = 0; i < 150; i++)); do
	[ "$(row "$last")" = "48|true|true|given up after 48 attempts (see rad's log)" ] && break
	sleep 0.1
done
[ "$(row "$last")" = "48|true|true|given up after 48 attempts (see rad's log)" ] ||
	fail "the mail at its last attempt is not given up: $(row "$last") $(tail -5 "$tmp/rad-given-up.log")"

# --- the give-up is audited, in its own transaction, without the text ----------------------
ev="SELECT count(*) FROM audit_event WHERE action = 'ra.mail.given_up' AND object_type = 'ra_mail_outbox'"
[ "$(q "$ev AND object_id = '$last' AND actor = 'ra:notifier' AND details->>'subject' = 'Your certificate was revoked'
    AND details->>'account_id' = '$acc' AND details->>'attempts' = '48' AND details->'password_reset_id' = 'null'")" = 1 ] ||
	fail "the give-up of mail $last is not audited: $(q "SELECT actor, details FROM audit_event WHERE action = 'ra.mail.given_up' AND object_id = '$last'")"
[ "$(q "SELECT count(*) FROM audit_event e, ra_mail_outbox m WHERE e.action = 'ra.mail.given_up' AND e.object_id = '$last'
    AND m.id = $last AND e.txid % 4294967296 = m.xmin::text::bigint")" = 1 ] ||
	fail "the event of mail $last is not of the transaction that gave it up"
[ "$(q "SELECT count(*) FROM audit_event WHERE details::text LIKE '%BODY-GIVEN-UP-$n%' OR details::text LIKE '%$email%'")" = 0 ] ||
	fail "the mail's text or address went into the audit trail"
grep -q "outbox mail $last given up after 48 failed attempts" "$tmp/rad-given-up.log" ||
	fail "rad did not log the give-up of mail $last"
grep -q "BODY-GIVEN-UP-$n\|$email" "$tmp/rad-given-up.log" && fail "the mail's text or address is in rad's log"
curl -sS "$rad_url/health" >"$tmp/health"
jq -e '.status == "ok" and .mail_outbox.given_up >= 1' "$tmp/health" >/dev/null ||
	fail "/health does not count the mail given up: $(cat "$tmp/health")"
# Given up, it is no longer waiting to be sent: the oldest that is is the
# one with attempts left (until 2026-12-07 the given-up one stayed the
# oldest unsent for ever).
jq -e --arg t "$more_created" '.mail_outbox.oldest_unsent == $t and .mail_outbox.unsent >= 1' \
    "$tmp/health" >/dev/null ||
	fail "/health's oldest_unsent is not the mail still to be sent ($more_created): $(cat "$tmp/health")"
note "a notice given up after 48 failed sends: audited ra.mail.given_up in its transaction (subject, account), counted by /health"

# --- a failure with attempts left: backed off, no event --------------------------------------
q "SELECT pg_notify('ra_mail', '')" >/dev/null
for ((i = 0; i < 150; i++)); do
	[ "$(row "$more")" = "1|true|false|not sent (see rad's log)" ] && break
	sleep 0.1
done
[ "$(row "$more")" = "1|true|false|not sent (see rad's log)" ] || fail "the mail with attempts left: $(row "$more")"
[ "$(q "$ev AND object_id = '$more'")" = 0 ] || fail "a failed send with attempts left was audited as given up"
note "a failed send with attempts left: backed off, not audited"

kill -TERM "$rad_pid"
wait "$rad_pid" 2>/dev/null || true
# The failed sends are logged as errors (mail.c); nothing else may be.
grep '"level":"err"' "$tmp/rad-given-up.log" | grep -v '"msg":"smtp: sending to an account failed: ' &&
	fail "errors in rad's log besides the failed sends"
exit 0
