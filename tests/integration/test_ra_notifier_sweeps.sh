#!/usr/bin/env bash
# rad's notifier (ra/notifier.c) keeps its periodic sweeps going when one of
# them fails, and reminds of every due expiry, nearest first:
#  - a sweep whose scan fails with the connection sound (here the issuer
#    notices' under a table lock: lock_timeout, 55P03) ends that sweep only,
#    warned; the expiry reminders behind it still run, and the connection
#    is kept. Until 2026-12-07 the round ended there, the connection was
#    dropped and made anew, and no reminder went out while the lock lasted;
#  - more due reminders than a batch (100) are all sent within seconds (a
#    round after a full batch), the nearest expiry first. Until 2026-12-07
#    the first 100 by certificate id went out, the rest a period (10
#    minutes) later, or never when they expired first;
#  - an account whose address cannot be mailed (the database takes it; the
#    mailer does not) gets its reminder recorded and audited without a
#    mail. Until 2026-12-07 its transaction failed, and it came back first
#    in every batch for ever;
#  - a company's revocation request on a certificate that expired unrevoked
#    is closed as moot (nothing is left to revoke). Until 2026-12-07 it
#    waited in the officers' queue for ever.
#
# A rad of the test's own (a round a second) does the work; the stack's rad
# is stopped meanwhile. The 152 certificates are copies of one the stack's
# cad issued (rows only: triggers off, so nothing publishes them), removed
# at the end.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }

n=$$$RANDOM
tag=notifier-sweeps-$n
order_issued personal '{"C":"ID","CN":"Notifier Sweeps","serialNumber":"NIK:3171010101900002"}'
tmpl=$cert tord=$order
# Before any certificate is due: the stack's rad reminds no one of them.
stack_rad=$(cat "$PKI_DIR/run/ra.pid")
at_exit "kill -CONT $stack_rad 2>/dev/null || true"
kill -STOP "$stack_rad"

# 150 accounts, each with one issued application whose certificate expires
# in 5 days less i minutes (the highest id the nearest), and one more whose
# address has a space (lower case, short: the database's CHECK takes it).
# A company (its representative a 152nd account) has two revocation
# requests pending: on the first account's certificate, and on a 152nd
# certificate that expired a minute ago. Every certificate's serial starts
# with $prefix.
prefix=$(printf '7E%04X' $((n % 65536)))
cleanup() {
	# The table lock's session first: the DELETEs would wait behind it.
	if [ -n "${tx_pid:-}" ]; then kill "$tx_pid" 2>/dev/null; wait "$tx_pid" 2>/dev/null; fi
	q "BEGIN; SET LOCAL lock_timeout = '30s'; SET LOCAL session_replication_role = replica;
	CREATE TEMP TABLE gone_cert ON COMMIT DROP AS
	    SELECT id FROM certificate WHERE serial LIKE '$prefix%';
	CREATE TEMP TABLE gone_acc ON COMMIT DROP AS
	    SELECT id FROM ra_account WHERE email LIKE '%$tag@example.com';
	DELETE FROM ra_revocation_request WHERE certificate_id IN (SELECT id FROM gone_cert);
	DELETE FROM ra_company WHERE representative_id IN (SELECT id FROM gone_acc);
	DELETE FROM ra_expiry_reminder WHERE certificate_id IN (SELECT id FROM gone_cert);
	DELETE FROM ra_issuer_revoked_notice WHERE certificate_id IN (SELECT id FROM gone_cert);
	DELETE FROM ra_application WHERE account_id IN (SELECT id FROM gone_acc);
	DELETE FROM issuance_order WHERE certificate_id IN (SELECT id FROM gone_cert);
	DELETE FROM certificate WHERE id IN (SELECT id FROM gone_cert);
	DELETE FROM ra_mail_outbox WHERE recipient LIKE '%$tag@example.com';
	DELETE FROM ra_account WHERE id IN (SELECT id FROM gone_acc);
	COMMIT;" >/dev/null
}
at_exit cleanup
q "BEGIN; SET LOCAL session_replication_role = replica;
DO \$\$
DECLARE i int; c bigint; o bigint; a bigint; t certificate; od issuance_order; addr text;
BEGIN
  SELECT * INTO t FROM certificate WHERE id = $tmpl;
  SELECT * INTO od FROM issuance_order WHERE id = $tord;
  FOR i IN 1..152 LOOP
    addr := CASE WHEN i = 151 THEN 'no mail ' WHEN i = 152 THEN 'rep-' ELSE 'r' || i || '-' END ||
      '$tag@example.com';
    INSERT INTO ra_account (email, phone, password_hash, email_verified, email_verified_at)
      VALUES (addr, '+62812' || lpad(($n % 10000)::text, 4, '0') || lpad(i::text, 4, '0'),
      '\$argon2id\$v=19\$m=8,t=1,p=1\$c2FsdHNhbHQ\$aGFzaGhhc2g', true, now()) RETURNING id INTO a;
    INSERT INTO certificate (issuer_id, serial, subject, profile, not_before, not_after, sha256, der)
      VALUES (t.issuer_id, '$prefix' || upper(lpad(to_hex(i), 6, '0')),
      t.subject, t.profile, now() - interval '300 days', CASE WHEN i = 152 THEN now() - interval '1 minute'
      ELSE now() + interval '5 days' - make_interval(mins => i) END, t.sha256, t.der) RETURNING id INTO c;
    IF i = 152 THEN
      INSERT INTO ra_application (account_id, kind, status, profile, subject, decided_at)
        VALUES (a, 'corporate', 'approved', 'company', '{}', now()) RETURNING id INTO o;
      INSERT INTO ra_company (application_id, representative_id, name, nib, npwp, deed_number, deed_date,
        decree_number, sysadmin_email)
        VALUES (o, a, 'Sweeps $n', '1234567890123', '123456789012345', 'D-1', '2020-01-01', 'AHU-1',
        'sys-$tag@example.com') RETURNING id INTO o;
      INSERT INTO ra_revocation_request (company_id, certificate_id, requested_by, reason, comment)
        SELECT o, x.id, a, 'affiliationChanged', 'left' FROM certificate x
        WHERE x.serial IN ('$prefix' || '000001', '$prefix' || '000098');
      EXIT;
    END IF;
    INSERT INTO issuance_order (kind, profile, subject, key_type, status, certificate_id, requested_by,
      done_at, issuer_id)
      VALUES (od.kind, od.profile, od.subject, od.key_type, 'done', c, 'test', now(), od.issuer_id)
      RETURNING id INTO o;
    INSERT INTO ra_application (account_id, kind, status, profile, subject, decided_at, agreed_at, order_id)
      VALUES (a, 'personal', 'issued', 'personal', '{\"C\":\"ID\"}', now(), now(), o);
  END LOOP;
END \$\$;
COMMIT;" >/dev/null
ours="FROM ra_expiry_reminder r JOIN certificate c ON c.id = r.certificate_id
	JOIN issuance_order o ON o.certificate_id = c.id JOIN ra_application a ON a.order_id = o.id
	JOIN ra_account acc ON acc.id = a.account_id WHERE acc.email LIKE '%$tag@example.com'"
[ "$(q "SELECT count(*) $ours")" = 0 ] || fail "reminders before any rad ran"

# The issuer notices' table held by someone (a migration, an admin's
# transaction): only that sweep reads it.
open_tx
echo "BEGIN; LOCK TABLE ra_issuer_revoked_notice IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"$tx_in"
read -r -t 10 ok <&"$tx_out"; [ "$ok" = locked ] || fail "lock: $ok"
start_rad rad-sweeps PKI_NOTIFIER_INTERVAL_SECONDS=1

# All 151 reminded while the lock lasts: the 7-day one (5 days left).
for ((i = 0; i < 600; i++)); do
	[ "$(q "SELECT count(*) $ours")" -ge 151 ] && break
	sleep 0.1
done
got=$(q "SELECT count(*) $ours")
[ "$got" = 151 ] || fail "$got of 151 due reminders sent within 60 s with the issuer notices' table locked: $(grep -E 'sweep failed|lost the database|reminder' "$tmp/rad-sweeps.log" | tail -5)"
[ "$(q "SELECT count(*) $ours AND r.days <> 7")" = 0 ] || fail "a reminder other than the 7-day one"
grep -q 'notifier: the issuer notice sweep failed (SQLSTATE 55P03)' "$tmp/rad-sweeps.log" ||
	fail "no warning of the issuer notice sweep's failure: $(grep notifier "$tmp/rad-sweeps.log" | tail -5)"
! grep -q 'lost the database connection' "$tmp/rad-sweeps.log" ||
	fail "the notifier dropped a sound connection: $(grep -m3 'lost the database' "$tmp/rad-sweeps.log")"
commit_tx

# The nearest expiry first: the first 100 sent (sent_at: each in its own
# transaction) are the 100 nearest.
[ "$(q "WITH s AS (SELECT c.not_after, row_number() OVER (ORDER BY r.sent_at, r.certificate_id) AS k $ours)
	SELECT (SELECT max(not_after) FROM s WHERE k <= 100) < (SELECT min(not_after) FROM s WHERE k > 100)")" = t ] ||
	fail "the first batch of reminders was not the nearest expiries"

# The unmailable address: recorded and audited, no mail queued, warned.
bad=$(q "SELECT c.id $ours AND acc.email = 'no mail $tag@example.com'")
[ -n "$bad" ] || fail "the reminder of the unmailable account was not recorded"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.certificate.expiry_reminder' AND
	object_id = '$bad'")" = 1 ] || fail "the unmailable account's reminder was not audited once"
[ "$(q "SELECT count(*) FROM ra_mail_outbox WHERE recipient = 'no mail $tag@example.com'")" = 0 ] ||
	fail "a mail was queued to an address the mailer refuses"
grep -q "notifier: certificate $bad: the account's address cannot be mailed; its expiry reminder recorded without a mail" \
	"$tmp/rad-sweeps.log" || fail "no warning for the unmailable account"
# The others' mails queued once each.
[ "$(q "SELECT count(DISTINCT recipient), count(*) FROM ra_mail_outbox WHERE recipient LIKE 'r%-$tag@example.com'
	AND subject LIKE 'Your certificate expires in 5 day(s)%'")" = "150|150" ] ||
	fail "the 150 reminder mails were not queued once each"

# The request on the certificate that expired is closed as moot by the
# notifier (no officer), audited; the one on a valid certificate waits.
req_of() { q "SELECT q.id FROM ra_revocation_request q JOIN certificate c ON c.id = q.certificate_id
	WHERE c.serial = '$prefix$1'"; }
expired=$(req_of 000098) valid=$(req_of 000001)
for ((i = 0; i < 300; i++)); do
	[ "$(q "SELECT status FROM ra_revocation_request WHERE id = $expired")" = moot ] && break
	sleep 0.1
done
why="the certificate expired (%) unrevoked while the request waited: nothing is left to revoke"
[ "$(q "SELECT status || '|' || (decided_by IS NULL) || '|' || (decision_reason LIKE '$why')
	FROM ra_revocation_request WHERE id = $expired")" = "moot|true|true" ] ||
	fail "the request on an expired certificate was not closed as moot: $(q "SELECT status, decision_reason
	FROM ra_revocation_request WHERE id = $expired")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.revocation_request.moot' AND actor = 'ra:notifier' AND
	object_id = '$expired' AND details->>'reason' = 'expired' AND details->>'serial' = '${prefix}000098'")" = 1 ] ||
	fail "the expired request's closing was not audited once"
[ "$(q "SELECT status FROM ra_revocation_request WHERE id = $valid")" = pending ] ||
	fail "the request on a valid certificate did not stay pending"
[ "$(q "SELECT revoked_at IS NULL FROM certificate WHERE serial = '${prefix}000098'")" = t ] ||
	fail "the expired certificate was revoked"
note "151 due reminders with the issuer notices locked: all sent, nearest first, sweep failure warned, connection kept;"
note "a company's revocation request on an expired certificate closed as moot, one on a valid certificate left"
exit 0
