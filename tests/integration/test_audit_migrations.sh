#!/usr/bin/env bash
# Migrations that change rows write their audit events (audit/README.md:
# every state change writes one). 020, 044 and 060 changed rows a database
# held without any; 094 writes them late (actor migration:094, naming the
# migration and its time). A database migrated step by step, with rows
# made before each of the three: a signing credential added by 020 to an
# application issued before it, a sysadmin made by 044 (the verified
# account of the company's sysadmin_email), a live sign code made dead by
# 060, each get exactly one event; what those migrations did not change, or
# what an event already accounts for (a code exhausted by wrong codes, one
# expired, a company with no such account, an application not issued),
# gets none. The stack's own database, created empty, has none of them.
# And every migration that changes rows writes its events, or is listed
# here with the reason it needs none (migration_writes.py reads schema/).
. "$(dirname "$0")/lib.sh"
: "${PKI_PG_HOST:?the stack.env of tests/run.sh sets PKI_PG_HOST}"
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }

# --- every migration that changes rows audits them, or says here why not ------
# The migrations whose statements (top level, or in a DO block; not function
# bodies) change rows, and whether the file writes an event (audit_append):
# a new migration that changes rows without one fails here.
scan=$(python3 "$REPO/tests/integration/migration_writes.py" "$REPO"/schema/[0-9][0-9][0-9]_*.sql) || fail "scanning schema/"
# Those that write none: why none is needed, or where their events are.
declare -A unaudited_ok=(
	[020]='its events written by 094'
	[044]='its events written by 094'
	[045]='verified_once derived from the trail itself (ra.account.verify_email)'
	[046]='the DER of CRL rows published already dropped (storage: crl keeps the sha256 of each, crl_current the newest)'
	[060]='its events written by 094'
)
while read -r v what; do
	[ "$what" = audited ] && continue
	[ -n "${unaudited_ok[$v]:-}" ] ||
		fail "schema/${v}_*.sql changes rows without an audit event (write them with audit_append in the migration, as 061 and 079 do)"
done <<<"$scan"
grep -q '^061 audited$' <<<"$scan" || fail "the scan of schema/ does not see 061's events: $scan"

[ "$(q "SELECT count(*) FROM audit_event WHERE actor = 'migration:094'")" = 0 ] ||
	fail "094 wrote events into a database created empty: $(q "SELECT action, object_id FROM audit_event WHERE actor = 'migration:094'")"

tmp=$(test_tmpdir)
mdb=pki_audit_094
mdb_uri() { echo "host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=$mdb user=$1 connect_timeout=5"; }
su=$(q 'SELECT current_user')
pg_uri="host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=postgres user=$su connect_timeout=5"
sql_as "$pg_uri" "DROP DATABASE IF EXISTS $mdb" >/dev/null 2>&1
sql_as "$pg_uri" "CREATE DATABASE $mdb" >/dev/null
at_exit "sql_as '$pg_uri' 'DROP DATABASE IF EXISTS $mdb' >/dev/null 2>&1"
mq() { sql_as "$(mdb_uri "$su")" "$1"; }
# migrate_to N: the migrations up to N (none after it).
migrate_to() {
	local f b
	rm -rf "$tmp/mig"
	mkdir -p "$tmp/mig"
	for f in "$REPO"/schema/[0-9][0-9][0-9]_*.sql; do
		b=${f##*/}
		[ "$((10#${b%%_*}))" -le "$1" ] && cp "$f" "$tmp/mig/"
	done
	"$REPO/deploy/migrate.sh" "$(mdb_uri "$su")" "$tmp/mig" >/dev/null || fail "migrations up to $1"
}
# Rows as rad and cad left them; the guards (triggers) are not what is tested.
rows() {
	psql -X -q -At -v ON_ERROR_STOP=1 "$(mdb_uri "$su")" >/dev/null <<SQL || fail "rows before $1"
SET session_replication_role = replica;
$2
SQL
}

migrate_to 19
rows 020 "
INSERT INTO ca_key (id, role, token_label, key_label, key_type, spki, spki_sha256)
    VALUES (1, 'issuing', 'ca', 'issuing-1', 'ec-p256', '\x00', 'x');
INSERT INTO ca_certificate (id, name, role, key_id, serial, subject, issuer, not_before, not_after, sha256, der)
    VALUES (1, 'issuing', 'issuing', 1, '01', 'CN=CA', 'CN=CA', now() - interval '1 day', now() + interval '1 year', 'x', '\x00');
INSERT INTO certificate (id, issuer_id, serial, subject, profile, not_before, not_after, sha256, der)
    VALUES (10, 1, '0A', 'CN=Budi', 'personal', now() - interval '1 day', now() + interval '1 year', 'x', '\x00');
INSERT INTO ra_account (id, email, phone, password_hash, email_verified, email_verified_at) VALUES
    (1, 'budi@example.com', '+6281234567890', '\$argon2id\$x', true, now()),
    (2, 'admin@example.com', '+6281234567891', '\$argon2id\$x', true, now());
INSERT INTO issuance_order (id, kind, profile, subject, key_type, status, certificate_id, requested_by, done_at)
    VALUES (20, 'personal', 'personal', '{}', 'ec-p256', 'done', 10, 'test', now()),
    (21, 'personal', 'personal', '{}', 'ec-p256', 'pending', NULL, 'test', NULL);
INSERT INTO ra_application (id, account_id, kind, status, profile, subject, decided_at, agreed_at, order_id) VALUES
    (30, 1, 'personal', 'issued', 'personal', '{}', now(), now(), 20),
    (31, 2, 'personal', 'agreed', 'personal', '{}', now(), now(), 21);"
migrate_to 43
rows 044 "
INSERT INTO ra_application (id, account_id, kind, status, profile, subject, decided_at) VALUES
    (40, 1, 'corporate', 'approved', 'company', '{}', now()),
    (41, 1, 'corporate', 'submitted', 'company', '{}', NULL);
INSERT INTO ra_company (id, application_id, representative_id, name, nib, npwp, deed_number, deed_date, decree_number, sysadmin_email) VALUES
    (50, 40, 1, 'PT Satu', '1234567890123', '123456789012345', 'D1', '2020-01-01', 'AHU-1', 'admin@example.com'),
    (51, 41, 1, 'PT Dua', '1234567890124', '123456789012346', 'D2', '2020-01-01', 'AHU-2', 'nobody@example.com');"
migrate_to 59
rows 060 "
INSERT INTO ra_otp (id, account_id, channel, purpose, code_hmac, expires_at, attempts, max_attempts) VALUES
    (60, 1, 'email', 'sign', sha256('a'), now() + interval '5 minutes', 0, 3),
    (61, 1, 'email', 'sign', sha256('b'), now() + interval '5 minutes', 3, 3),
    (62, 1, 'email', 'sign', sha256('c'), now() - interval '1 minute', 0, 3),
    (63, 1, 'email', 'agreement', sha256('d'), now() + interval '5 minutes', 0, 3),
    (64, 1, 'email', 'sign', sha256('e'), now() + interval '5 minutes', 1, 3);
SELECT audit_append('subscriber:1', 'ra.otp.failed', 'ra_otp', '61', '{\"attempts\": 3}');
SELECT audit_append('subscriber:1', 'ra.otp.failed', 'ra_otp', '64', '{\"attempts\": 1}');"
# Holds placed before schema/104: their revoked_role from revoked_by's
# prefix, audited; a hold of no known writer and a final revocation stay
# NULL.
rows 104 "
INSERT INTO certificate (id, issuer_id, serial, subject, profile, not_before, not_after, sha256, der,
    revoked_at, revocation_reason, revoked_by) VALUES
    (70, 1, '70', 'CN=H1', 'personal', now() - interval '1 day', now() + interval '1 year', 'x', '\x00', now(), 6, 'pkictl:operator'),
    (71, 1, '71', 'CN=H2', 'personal', now() - interval '1 day', now() + interval '1 year', 'x', '\x00', now(), 6, 'officer:1'),
    (72, 1, '72', 'CN=H3', 'personal', now() - interval '1 day', now() + interval '1 year', 'x', '\x00', now(), 6, 'ra:notifier'),
    (73, 1, '73', 'CN=H4', 'personal', now() - interval '1 day', now() + interval '1 year', 'x', '\x00', now(), 6, 'test'),
    (74, 1, '74', 'CN=R1', 'personal', now() - interval '1 day', now() + interval '1 year', 'x', '\x00', now(), 1, 'pkictl:operator');"
# SADs made before schema/112: each (subscriber, enabled service) pair of
# them becomes a grant, audited once; a disabled service's makes none.
rows 112 "
INSERT INTO sign_service (id, name, client_id, secret_sha256, disabled_at) VALUES
    (80, 'app-a', 'aaaaaaaaaaaaaaaaaaaaaa', sha256('a'), NULL),
    (81, 'app-b', 'bbbbbbbbbbbbbbbbbbbbbb', sha256('b'), now()),
    (82, 'app-c', 'cccccccccccccccccccccc', sha256('c'), NULL);
INSERT INTO sign_sad (id, sad_sha256, certificate_id, account_id, service_id, hash_algo, num_signatures,
    remaining, factor, expires_at) VALUES
    (90, sha256('s90'), 10, 1, 80, 'SHA256', 1, 0, 'pin', now()),
    (91, sha256('s91'), 10, 1, 80, 'SHA256', 1, 1, 'pin', now()),
    (92, sha256('s92'), 10, 2, 81, 'SHA256', 1, 0, 'pin', now()),
    (93, sha256('s93'), 10, 2, 80, 'SHA256', 1, 0, 'otp', now());"
out=$("$REPO/deploy/migrate.sh" "$(mdb_uri "$su")" "$REPO/schema" 2>&1) || fail "migrations after 059: $out"
grep -q '^migrate: applied 094_' <<<"$out" || fail "094 not applied: $out"
[ "$(mq "SELECT string_agg(account_id || ':' || service_id, ',' ORDER BY account_id, service_id) FROM sign_grant")" = '1:80,2:80' ] ||
	fail "112's grants: $(mq "SELECT account_id, service_id FROM sign_grant")"
[ "$(mq "SELECT string_agg(object_type || ':' || object_id || ':' || (details->>'service_id'), ',' ORDER BY id) FROM audit_event
    WHERE actor = 'migration:112' AND action = 'ra.sign_grant.add'")" = 'ra_account:1:80,ra_account:2:80' ] ||
	fail "112's events: $(mq "SELECT object_id, details FROM audit_event WHERE actor = 'migration:112'")"
echo "ok: 112 grants the services the subscribers had authorized, audited"

ev() { # ev ACTION: "object_id|details" of migration:094's events of ACTION
	mq "SELECT object_type || ':' || object_id || '|' || (details - 'at')::text FROM audit_event
	    WHERE actor = 'migration:094' AND action = '$1' ORDER BY id"
}
[ "$(ev sign.credential.add)" = 'sign_credential:10|{"reason": "the certificate of an application issued before schema/020", "serial": "0A", "migration": "020", "account_id": "1", "application_id": "30", "certificate_id": "10"}' ] ||
	fail "020's signing credential: $(ev sign.credential.add)"
[ "$(ev ra.corporate.sysadmin_grant)" = 'ra_company:50|{"reason": "the verified account of its sysadmin_email, the rule before schema/044", "migration": "044", "account_id": "2", "company_id": "50"}' ] ||
	fail "044's sysadmin: $(ev ra.corporate.sysadmin_grant)"
# 60 and 64 were live and made dead by 060 (64 had one wrong code, not
# three); 61 was dead already (its event says so), 62 expired, 63 no sign code.
[ "$(ev ra.otp.void)" = 'ra_otp:60|{"reason": "a sign code bound to no documents (schema/060)", "purpose": "sign", "migration": "060", "account_id": "1"}
ra_otp:64|{"reason": "a sign code bound to no documents (schema/060)", "purpose": "sign", "migration": "060", "account_id": "1"}' ] ||
	fail "060's voided codes: $(ev ra.otp.void)"
# The time of each is the migration's own.
[ "$(mq "SELECT count(*) FROM audit_event e JOIN schema_version v ON v.version = (e.details->>'migration')::int
    WHERE e.actor = 'migration:094' AND e.details->>'at' = to_char(v.applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")" = 4 ] ||
	fail "the events do not carry their migration's time: $(mq "SELECT details FROM audit_event WHERE actor = 'migration:094'")"
# Written with the migration: no event of 094 without it.
[ "$(mq "SELECT count(DISTINCT e.txid) FROM audit_event e WHERE e.actor = 'migration:094'")" = 1 ] ||
	fail "094's events are not of one transaction"
echo "ok: 020, 044 and 060's changes audited by 094"
[ "$(mq "SELECT string_agg(id || ':' || coalesce(revoked_role, '-'), ',' ORDER BY id) FROM certificate WHERE id BETWEEN 70 AND 74")" = \
    '70:pki_admin,71:pki_ra,72:pki_ra,73:-,74:-' ] ||
	fail "104: the holds' revoked_role: $(mq "SELECT id, revoked_by, revoked_role FROM certificate WHERE id BETWEEN 70 AND 74")"
[ "$(mq "SELECT string_agg(object_id || ':' || (details->>'revoked_role'), ',' ORDER BY id) FROM audit_event
    WHERE actor = 'migration:104' AND action = 'cert.hold.revoked_role' AND object_type = 'certificate'")" = \
    '70:pki_admin,71:pki_ra,72:pki_ra' ] ||
	fail "104's events: $(mq "SELECT object_id, details FROM audit_event WHERE actor = 'migration:104'")"
echo "ok: 104 fills the holds' revoked_role, audited"

# schema/106 checks the serials stored before it: those above ('01', '0A',
# BN_bn2hex's form, as cad and pkictl write them) passed; a database
# holding another form ('000A') stops at 106, naming the row.
mdb=pki_serial_106
sql_as "$pg_uri" "DROP DATABASE IF EXISTS $mdb" >/dev/null 2>&1
sql_as "$pg_uri" "CREATE DATABASE $mdb" >/dev/null
at_exit "sql_as '$pg_uri' 'DROP DATABASE IF EXISTS $mdb' >/dev/null 2>&1"
migrate_to 105
rows 106 "
INSERT INTO ca_key (id, role, token_label, key_label, key_type, spki, spki_sha256)
    VALUES (1, 'issuing', 'ca', 'issuing-1', 'ec-p256', '\x00', 'x');
INSERT INTO ca_certificate (id, name, role, key_id, serial, subject, issuer, not_before, not_after, sha256, der)
    VALUES (1, 'issuing', 'issuing', 1, '01', 'CN=CA', 'CN=CA', now() - interval '1 day', now() + interval '1 year', 'x', '\x00');
INSERT INTO certificate (id, issuer_id, serial, subject, profile, not_before, not_after, sha256, der)
    VALUES (10, 1, '0A', 'CN=Budi', 'personal', now() - interval '1 day', now() + interval '1 year', 'x', '\x00'),
    (11, 1, '000A', 'CN=Budi', 'personal', now() - interval '1 day', now() + interval '1 year', 'x', '\x00');"
out=$("$REPO/deploy/migrate.sh" "$(mdb_uri "$su")" "$REPO/schema" 2>&1) && fail "106 took a database holding serial '000A'"
grep -qF "106: serials not in BN_bn2hex form (whole octets, no leading 00 octet): certificate 11 serial '000A'" <<<"$out" ||
	fail "106's refusal: $out"
echo "ok: 106 refuses a database holding a serial in another form than BN_bn2hex's, naming it"
