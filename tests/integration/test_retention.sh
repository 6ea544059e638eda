#!/usr/bin/env bash
# pkictl purge (ra/README.md "Retention", schema/053): what ended at least
# retention.ended_days (30) ago goes — subscribers' and officers' sessions,
# one-time codes, email-verification and password-reset tokens that
# expired, LDAP publications done — in one transaction with one audit
# event (retention.purge) giving the counts it prints; what ended later,
# what lives and what is a record stays (a sent reset mail's outbox row
# loses only its link to the token). A reset token whose mail is still
# queued stays; so does a publication not done. A bad retention is a usage
# error (2) and deletes nothing; a purge with nothing to do writes no
# event. pki_admin itself cannot DELETE those rows, and rad's
# role cannot call the purge.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
url=$PKI_RA_URL
mail=$PKI_DIR/spool/ra-mail
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
role_uri() { echo "host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=pki user=$1"; }
secrets=()
. "$(dirname "$0")/lib_ra.sh"

# --- what there is to purge ----------------------------------------------------------------
spw='Retain-Sub-Pass9'
opw='Retain-Officer-2026'
secrets+=("$spw" "$opw")
(umask 077; printf '%s\n' "$opw" >"$tmp/officer.pw")
ra_officer retention.officer ra_officer "$tmp/officer.pw"
ra_account retention.sub@example.com +6281299900531 "$spw"
live=$tok
s_live=$(q "SELECT max(id) FROM ra_session WHERE account_id = $aid AND expires_at > now()")
# A reset token, its mail sent by rad's outbox.
tok=
req POST /v1/password/forgot '{"email":"retention.sub@example.com"}'
expect 202 "forgot"
reset=$(q "SELECT max(id) FROM ra_password_reset WHERE account_id = $aid")
[ -n "$reset" ] || fail "no reset token was made"
for ((i = 0; i < 100; i++)); do
	[ "$(q "SELECT count(*) FROM ra_mail_outbox WHERE password_reset_id = $reset AND sent_at IS NOT NULL")" = 1 ] && break
	sleep 0.1
done
[ "$i" -lt 100 ] || fail "the reset mail was not sent"
outbox=$(q "SELECT id FROM ra_mail_outbox WHERE password_reset_id = $reset")

# Rows that ended 40 days ago (to go) and 20 days ago (to stay), beside the
# live session, the officer's and the email verification the helpers made.
# The test superuser backdates them.
ins() { q "$1 RETURNING id"; }
s_old=$(ins "INSERT INTO ra_session (account_id, token_sha256, client_addr, expires_at, created_at)
    VALUES ($aid, sha256('retention-s-old'), '127.0.0.1', now() - interval '40 days', now() - interval '41 days')")
s_mid=$(ins "INSERT INTO ra_session (account_id, token_sha256, client_addr, expires_at, revoked_at, created_at)
    VALUES ($aid, sha256('retention-s-mid'), '127.0.0.1', now() - interval '20 days', now() - interval '20 days',
    now() - interval '21 days')")
o_old=$(ins "INSERT INTO ra_officer_session (officer_id, token_sha256, client_addr, expires_at)
    VALUES ($oid, sha256('retention-o-old'), '127.0.0.1', now() - interval '40 days')")
otp_old=$(ins "INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts, consumed_at)
    VALUES ($aid, 'email', 'agreement', sha256('retention-otp-old'), now() - interval '40 days', 3,
    now() - interval '40 days')")
otp_mid=$(ins "INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts)
    VALUES ($aid, 'email', 'agreement', sha256('retention-otp-mid'), now() - interval '20 days', 3)")
pq_old=$(ins "INSERT INTO publish_queue (dn, attribute, der, done_at) VALUES
    ('cn=retention-test', 'userCertificate;binary', '\\x30', now() - interval '40 days')")
pq_mid=$(ins "INSERT INTO publish_queue (dn, attribute, der, done_at) VALUES
    ('cn=retention-test', 'userCertificate;binary', '\\x30', now() - interval '20 days')")
# A subscriber certificate's directory publications: one done 40 days ago
# (to go), one pending as long (to stay: not published yet). Until
# 2026-12-06 none ever went (schema/072).
cert=$(q "SELECT min(id) FROM certificate")
[ -n "$cert" ] || fail "no certificate to hang publications on"
pc_old=$(ins "INSERT INTO publish_certificate (certificate_id, created_at, done_at)
    VALUES ($cert, now() - interval '41 days', now() - interval '40 days')")
pc_pending=$(ins "INSERT INTO publish_certificate (certificate_id, created_at, next_attempt_at)
    VALUES ($cert, now() - interval '41 days', 'infinity')")
ev=$(q "SELECT max(id) FROM ra_email_verification WHERE account_id = $aid")
[ -n "$ev" ] || fail "no email verification row"
q "UPDATE ra_email_verification SET expires_at = now() - interval '40 days' WHERE id = $ev" >/dev/null
q "UPDATE ra_password_reset SET expires_at = now() - interval '40 days' WHERE id = $reset" >/dev/null
o_live=$(q "SELECT max(id) FROM ra_officer_session WHERE officer_id = $oid AND expires_at > now()")
[ -n "$o_live" ] && [ -n "$s_live" ] || fail "the live sessions are not there"

# present: "table:id" per row still there, in this order.
rows=(ra_session:$s_old ra_session:$s_mid ra_session:$s_live ra_officer_session:$o_old
	ra_officer_session:$o_live ra_otp:$otp_old ra_otp:$otp_mid ra_email_verification:$ev
	ra_password_reset:$reset publish_queue:$pq_old publish_queue:$pq_mid ra_mail_outbox:$outbox
	publish_certificate:$pc_old)
present() {
	local r out=
	for r in "${rows[@]}"; do
		[ "$(q "SELECT count(*) FROM ${r%%:*} WHERE id = ${r#*:}")" = 1 ] && out+="${r%%:*}:${r#*:} "
	done
	echo "$out"
}
all=$(present)
[ "$(wc -w <<<"$all")" = "${#rows[@]}" ] || fail "rows missing before the purge: $all"
events() { q "SELECT count(*) FROM audit_event WHERE action = 'retention.purge'"; }
ev0=$(events)

# --- refusals: nothing deleted ---------------------------------------------------------------
for bad in 0 -1 3651 x ''; do
	set +e
	pkictl purge --days "$bad" >"$tmp/p.out" 2>"$tmp/p.err"
	rc=$?
	set -e
	[ "$rc" = 2 ] || fail "purge --days '$bad': exit $rc, not 2"
done
[ "$(present)" = "$all" ] && [ "$(events)" = "$ev0" ] || fail "a refused purge changed something: $(present)"
# Least privilege: pkictl's role has no DELETE of its own, rad's no purge.
sql_fails "$(role_uri pki_admin)" "DELETE FROM ra_session WHERE id = $s_old" 'permission denied'
sql_fails "$(role_uri pki_admin)" "DELETE FROM publish_queue WHERE id = $pq_old" 'permission denied'
sql_fails "$(role_uri pki_ra)" "SELECT ra_purge_ended(30)" 'permission denied'
sql_fails "$PKI_TEST_PG_URI" "SELECT ra_purge_ended(0)" 'at least 1'
note "refused: --days 0, -1, 3651, x, empty (2); pki_admin cannot DELETE, pki_ra cannot purge"

# --- the purge -------------------------------------------------------------------------------
pkictl purge >"$tmp/p.out" 2>"$tmp/p.err" || fail "pkictl purge: $(cat "$tmp/p.err")"
want="ra_session:$s_mid ra_session:$s_live ra_officer_session:$o_live ra_otp:$otp_mid publish_queue:$pq_mid ra_mail_outbox:$outbox "
[ "$(present)" = "$want" ] || fail "after the purge: $(present), want $want"
[ "$(q "SELECT count(*) FROM publish_certificate WHERE id = $pc_pending")" = 1 ] ||
	fail "the purge deleted a certificate publication not done yet"
q "DELETE FROM publish_certificate WHERE id = $pc_pending" >/dev/null	# no other test's publisher sees it
[ "$(q "SELECT password_reset_id IS NULL AND sent_at IS NOT NULL FROM ra_mail_outbox WHERE id = $outbox")" = t ] ||
	fail "the sent reset mail's record is not kept, unlinked"
[ "$(events)" = $((ev0 + 1)) ] || fail "the purge wrote $(($(events) - ev0)) events, not 1"
# What it printed is what the event says, table by table; each count is at
# least this test's rows (earlier tests may have left more that ended).
ev_row=$(q "SELECT actor || ' ' || (details->>'retention_days') FROM audit_event WHERE action = 'retention.purge'
    ORDER BY id DESC LIMIT 1")
case $ev_row in "pkictl:"*" 30") ;; *) fail "the purge event: $ev_row" ;; esac
declare -A least=([ra_session]=1 [ra_officer_session]=1 [ra_otp]=1 [ra_email_verification]=1
	[ra_password_reset]=1 [publish_queue]=1 [publish_certificate]=1)
[ "$(wc -l <"$tmp/p.out")" = "${#least[@]}" ] || fail "purge printed: $(cat "$tmp/p.out")"
while IFS=$'\t' read -r table n; do
	[ -n "${least[$table]:-}" ] || fail "purge printed an unknown table $table"
	[ "$n" -ge "${least[$table]}" ] || fail "purge printed $table $n"
	[ "$(q "SELECT details->'deleted'->>'$table' FROM audit_event WHERE action = 'retention.purge'
	    ORDER BY id DESC LIMIT 1")" = "$n" ] || fail "the event's count of $table is not the printed $n"
done <"$tmp/p.out"
# The live session still works; so does the officer's.
tok=$live
req GET /v1/me
expect 200 "the live session after the purge"
tok=$otok
req GET /v1/officer/applications
expect 200 "the officer's live session after the purge"
note "purged what ended 40 days ago (each table, audited with the printed counts); 20 days ago and live kept"

# Nothing left to do: zeros, no event.
pkictl purge >"$tmp/p.out" 2>"$tmp/p.err" || fail "pkictl purge (again): $(cat "$tmp/p.err")"
[ "$(cut -f2 "$tmp/p.out" | sort -u)" = 0 ] || fail "a second purge deleted: $(cat "$tmp/p.out")"
[ "$(events)" = $((ev0 + 1)) ] || fail "a purge with nothing to do wrote an event"
# --days 15 takes the 20-day-old rows too.
pkictl purge --days 15 >"$tmp/p.out" 2>"$tmp/p.err" || fail "pkictl purge --days 15: $(cat "$tmp/p.err")"
want="ra_session:$s_live ra_officer_session:$o_live ra_mail_outbox:$outbox "
[ "$(present)" = "$want" ] || fail "after purge --days 15: $(present)"
[ "$(q "SELECT details->>'retention_days' FROM audit_event WHERE action = 'retention.purge' ORDER BY id DESC LIMIT 1")" = 15 ] ||
	fail "the second event's retention"
note "a purge with nothing to do: zeros, no event; --days 15 takes the 20-day-old rows"

# --- what stays whatever its age ---------------------------------------------------------------
# In one transaction of the test superuser (rad's outbox never sees it): an
# expired reset token whose mail is queued, not given up, a publication not
# done, and one of the same entry done after it (lib/publish.c would
# otherwise publish the older one over it), all 40 days old, survive
# ra_purge_ended(); the same token once its mail is given up goes.
out=$(psql -X -q -At -v ON_ERROR_STOP=1 "$PKI_TEST_PG_URI" <<-EOF
	BEGIN;
	INSERT INTO ra_password_reset (id, account_id, token_sha256, expires_at, created_at)
	    VALUES (-53, $aid, sha256('retention-queued'), now() - interval '40 days', now() - interval '40 days');
	INSERT INTO ra_mail_outbox (id, recipient, subject, body, password_reset_id)
	    VALUES (-53, 'retention.sub@example.com', 'reset', 'queued', -53);
	INSERT INTO publish_queue (id, dn, attribute, der, created_at)
	    VALUES (-53, 'cn=retention-test', 'userCertificate;binary', '\\x30', now() - interval '40 days');
	INSERT INTO publish_queue (id, dn, attribute, der, done_at)
	    VALUES (-52, 'cn=retention-test', 'userCertificate;binary', NULL, now() - interval '40 days');
	SELECT ra_purge_ended(30)->>'ra_password_reset', ra_purge_ended(30)->>'publish_queue';
	SELECT count(*) FROM ra_password_reset WHERE id = -53;
	SELECT count(*) FROM publish_queue WHERE id IN (-53, -52);
	UPDATE ra_mail_outbox SET body = '', next_attempt_at = 'infinity' WHERE id = -53;
	SELECT ra_purge_ended(30)->>'ra_password_reset';
	SELECT count(*) FROM ra_password_reset WHERE id = -53;
	ROLLBACK;
EOF
) || fail "the transaction of what stays: $out"
[ "$(tr '\n' ' ' <<<"$out")" = "0|0 1 2 1 0 " ] || fail "what stays: $(tr '\n' ' ' <<<"$out")"
note "a reset token whose mail is still queued stays, and goes once the mail is given up; a pending publication stays, and so does a newer done one of its entry"

audit_text "$tmp/audit.txt"
no_secret_in "the audit trail" "$tmp/audit.txt" "$tmp/p.out" "$tmp/p.err"
