#!/usr/bin/env bash
# The migrations and the audit trail's guarantees, against the stack that
# tests/run.sh started: migrate.sh is idempotent and fits a second database on
# the same cluster; schema/061 voids (and audits) the sign codes of before
# it that are still live; schema/065 applies on a database holding two
# pending companies with one NIB or NPWP, names them and keeps a third
# out; every application role appends audit events through
# audit_append() and can neither change, delete nor truncate them, nor read
# them; the triggers stop even the superuser; pki_auditor reads and cannot
# write.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

: "${PKI_TEST_PG_URI:?tests/run.sh sets PKI_TEST_PG_URI}"
: "${PKI_PG_HOST:?the stack.env of tests/run.sh sets PKI_PG_HOST}"
SU=$PKI_TEST_PG_URI
role_uri() { echo "host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=${2:-pki} user=$1"; }
APP_ROLES=(pki_admin pki_ca pki_ra pki_ocsp pki_crl pki_tsa pki_sign)

# --- migrations ----------------------------------------------------------------------
n_files=$(find "$REPO/schema" -maxdepth 1 -name '[0-9][0-9][0-9]_*.sql' | wc -l)
[ "$(sql_as "$SU" 'SELECT count(*) FROM schema_version')" = "$n_files" ] ||
	fail "schema_version does not list every file in schema/"
before=$(sql_as "$SU" "SELECT string_agg(version || sha256 || applied_at, ',') FROM schema_version")
out=$("$REPO/deploy/migrate.sh" "$SU" "$REPO/schema") || fail "migrate.sh again failed: $out"
grep -q '^migrate: 0 applied' <<<"$out" || fail "second migrate.sh applied something: $out"
grep -q 'migrate: applied' <<<"$out" && fail "second migrate.sh applied a file: $out"
after=$(sql_as "$SU" "SELECT string_agg(version || sha256 || applied_at, ',') FROM schema_version")
[ "$before" = "$after" ] || fail "schema_version changed on a second run"

# The same files in a fresh database of the same cluster (roles already exist).
sql_as "$(role_uri "$(sql_as "$SU" 'SELECT current_user')" postgres)" \
	'DROP DATABASE IF EXISTS pki_migrate_test' >/dev/null 2>&1
sql_as "$(role_uri "$(sql_as "$SU" 'SELECT current_user')" postgres)" \
	'CREATE DATABASE pki_migrate_test' >/dev/null
SU2=${SU/dbname=pki/dbname=pki_migrate_test}
out=$("$REPO/deploy/migrate.sh" "$SU2" "$REPO/schema") || fail "migrations in a second database: $out"
grep -q "^migrate: $n_files applied, 0 already applied" <<<"$out" || fail "second database: $out"
sql_as "$(role_uri "$(sql_as "$SU" 'SELECT current_user')" postgres)" \
	'DROP DATABASE pki_migrate_test' >/dev/null

# schema/061 on a database with sign codes of before it: a live one (bound
# to documents, schema/060, but to no credential) is made dead, as max_attempts
# wrong codes would, and audited (ra.otp.void by migration:061); a used
# sign code and a code of another purpose are left as they were.
sql_as "$(role_uri "$(sql_as "$SU" 'SELECT current_user')" postgres)" \
	'DROP DATABASE IF EXISTS pki_migrate_061' >/dev/null 2>&1
sql_as "$(role_uri "$(sql_as "$SU" 'SELECT current_user')" postgres)" \
	'CREATE DATABASE pki_migrate_061' >/dev/null
SU3=${SU/dbname=pki/dbname=pki_migrate_061}
mig060=$PKI_TEST_DIR/mig060
mkdir -p "$mig060"
for f in "$REPO"/schema/[0-9][0-9][0-9]_*.sql; do
	b=${f##*/}
	[ "$((10#${b%%_*}))" -le 60 ] && cp "$f" "$mig060/"
done
"$REPO/deploy/migrate.sh" "$SU3" "$mig060" >/dev/null || fail "migrations up to 060"
acct=$(sql_as "$SU3" "INSERT INTO ra_account (email, phone, password_hash)
    VALUES ('m061@example.com', '+6281200000061', '\$argon2id\$x') RETURNING id")
live=$(sql_as "$SU3" "INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts, binding)
    VALUES ($acct, 'sms', 'sign', sha256('a'), now() + interval '5 minutes', 3, sha256('b')) RETURNING id")
used=$(sql_as "$SU3" "INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts, binding, consumed_at)
    VALUES ($acct, 'sms', 'sign', sha256('c'), now() + interval '5 minutes', 3, sha256('d'), now()) RETURNING id")
other=$(sql_as "$SU3" "INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts)
    VALUES ($acct, 'sms', 'revoke', sha256('e'), now() + interval '5 minutes', 3) RETURNING id")
out=$("$REPO/deploy/migrate.sh" "$SU3" "$REPO/schema") || fail "migrations after 060 on a database with sign codes: $out"
grep -q '^migrate: applied 061_' <<<"$out" || fail "061 not applied: $out"
[ "$(sql_as "$SU3" "SELECT string_agg(id || ':' || attempts || '/' || (consumed_at IS NULL), ',' ORDER BY id) FROM ra_otp")" = \
  "$live:3/true,$used:0/false,$other:0/true" ] ||
	fail "061: the codes after it: $(sql_as "$SU3" "SELECT string_agg(id || ':' || attempts || '/' || (consumed_at IS NULL), ',' ORDER BY id) FROM ra_otp")"
[ "$(sql_as "$SU3" "SELECT string_agg(actor || '|' || object_type || ':' || object_id || '|' || (details->>'account_id'), ',')
    FROM audit_event WHERE action = 'ra.otp.void'")" = "migration:061|ra_otp:$live|$acct" ] ||
	fail "061: the voided code's event: $(sql_as "$SU3" "SELECT string_agg(actor || ' ' || object_id || ' ' || details::text, ',') FROM audit_event WHERE action = 'ra.otp.void'")"
sql_as "$(role_uri "$(sql_as "$SU" 'SELECT current_user')" postgres)" \
	'DROP DATABASE pki_migrate_061' >/dev/null

# schema/065 on a database that already holds two pending or active
# companies with one NIB (and two with one NPWP), registered before it:
# the migration applies, changes none of them, and names them in a
# WARNING; a rejected company's NIB is not named; a third company with
# the NIB is refused from then on.
sql_as "$(role_uri "$(sql_as "$SU" 'SELECT current_user')" postgres)" \
	'DROP DATABASE IF EXISTS pki_migrate_065' >/dev/null 2>&1
sql_as "$(role_uri "$(sql_as "$SU" 'SELECT current_user')" postgres)" \
	'CREATE DATABASE pki_migrate_065' >/dev/null
SU4=${SU/dbname=pki/dbname=pki_migrate_065}
mig064=$PKI_TEST_DIR/mig064
mkdir -p "$mig064"
for f in "$REPO"/schema/[0-9][0-9][0-9]_*.sql; do
	b=${f##*/}
	[ "$((10#${b%%_*}))" -le 64 ] && cp "$f" "$mig064/"
done
"$REPO/deploy/migrate.sh" "$SU4" "$mig064" >/dev/null || fail "migrations up to 064"
# company065 N NIB NPWP STATUS: a company of its own account, its
# application STATUS (submitted or rejected); prints the company's id.
company065() {
	sql_as "$SU4" "WITH x AS (INSERT INTO ra_account (email, phone, password_hash)
	        VALUES ('m065-$1@example.com', '+6281200000065', '\$argon2id\$x') RETURNING id),
	    a AS (INSERT INTO ra_application (account_id, kind, status, profile, subject, decided_at, decision_reason)
	        SELECT x.id, 'corporate', '$4', 'company', '{}', CASE WHEN '$4' = 'rejected' THEN now() END,
	        CASE WHEN '$4' = 'rejected' THEN 'x' END FROM x RETURNING id, account_id)
	    INSERT INTO ra_company (application_id, representative_id, name, nib, npwp, deed_number, deed_date,
	        decree_number, sysadmin_email) SELECT a.id, a.account_id, 'PT M065 $1', '$2', '$3', '1', '2020-01-01',
	        'AHU-1', 'sa-$1@m065.example' FROM a RETURNING id" | sed -n 1p
}
d1=$(company065 1 1111111111111 111111111111111 submitted)
d2=$(company065 2 1111111111111 222222222222222 submitted)
d3=$(company065 3 3333333333333 222222222222222 submitted)
d4=$(company065 4 4444444444444 444444444444444 rejected)
d5=$(company065 5 4444444444444 555555555555555 submitted)
# Two pending companies under the two forms of one NPWP (PMK 112/2022: 0
# and the 15 digits): 065 does not see them, 115 names them (below).
d7=$(company065 7 7777777777777 777777777777777 submitted)
d8=$(company065 8 8888888888888 0777777777777777 submitted)
before065=$(sql_as "$SU4" "SELECT string_agg(id || ':' || nib || ':' || npwp, ',' ORDER BY id) FROM ra_company")
out=$("$REPO/deploy/migrate.sh" "$SU4" "$REPO/schema" 2>&1) || fail "migrations after 064 on a database with duplicate NIBs: $out"
grep -q '^migrate: applied 065_' <<<"$out" || fail "065 not applied: $out"
has -F "WARNING:  065: companies $d1, $d2 (pending or active) share NIB 1111111111111" <<<"$out" ||
	fail "065 does not name the companies sharing a NIB: $out"
has -F "WARNING:  065: companies $d2, $d3 (pending or active) share NPWP 222222222222222" <<<"$out" ||
	fail "065 does not name the companies sharing an NPWP: $out"
! has -F '4444444444444' <<<"$out" || fail "065 names a rejected company's NIB: $out"
! has -F '777777777777777' <<<"$(grep '065:' <<<"$out")" || fail "065 names the NPWP's two forms: $out"
grep -q '^migrate: applied 115_' <<<"$out" || fail "115 not applied: $out"
has -F "WARNING:  115: companies $d7, $d8 (pending or active) share NPWP 0777777777777777 (typed 0777777777777777, 777777777777777)" <<<"$out" ||
	fail "115 does not name the companies sharing an NPWP's two forms: $out"
! has -F "115: companies $d2, $d3" <<<"$out" || fail "115 names the companies 065 named: $out"
[ "$(sql_as "$SU4" "SELECT string_agg(id || ':' || nib || ':' || npwp, ',' ORDER BY id) FROM ra_company")" = "$before065" ] ||
	fail "065 changed the companies"
if out=$(company065 6 1111111111111 666666666666666 submitted 2>&1); then
	fail "a third company with a NIB two hold was inserted after 065"
fi
has -F "NIB 1111111111111 is held by company $d1, pending or active" <<<"$out" ||
	fail "a third company with a shared NIB: wrong error: $out"
if out=$(company065 9 9999999999999 777777777777777 submitted 2>&1); then
	fail "a third company with an NPWP two hold in its two forms was inserted after 115"
fi
has -F "NPWP 777777777777777 is held by company $d7, pending or active" <<<"$out" ||
	fail "a third company with a shared NPWP: wrong error: $out"
sql_as "$(role_uri "$(sql_as "$SU" 'SELECT current_user')" postgres)" \
	'DROP DATABASE pki_migrate_065' >/dev/null

# A failing migration leaves nothing behind and is not recorded.
mig=$PKI_TEST_DIR/mig
mkdir -p "$mig"
cp "$REPO"/schema/[0-9][0-9][0-9]_*.sql "$mig/"
printf 'CREATE TABLE migrate_test_half (x int);\nSELECT no_such_function();\n' >"$mig/999_broken.sql"
if out=$("$REPO/deploy/migrate.sh" "$SU" "$mig" 2>&1); then fail "a broken migration succeeded"; fi
grep -q '999_broken.sql failed' <<<"$out" || fail "broken migration message: $out"
[ "$(sql_as "$SU" "SELECT count(*) FROM pg_tables WHERE tablename = 'migrate_test_half'")" = 0 ] ||
	fail "a failed migration left a table behind"
[ "$(sql_as "$SU" 'SELECT count(*) FROM schema_version WHERE version = 999')" = 0 ] ||
	fail "a failed migration was recorded"
# Files are applied in one psql session, each in its own transaction: the
# one before a failing file stays applied, the failing one leaves nothing.
rm "$mig/999_broken.sql"
printf 'CREATE TABLE migrate_test_before (x int);\n' >"$mig/998_before.sql"
printf 'CREATE TABLE migrate_test_half (x int);\nSELECT no_such_function();\n' >"$mig/999_broken.sql"
if out=$("$REPO/deploy/migrate.sh" "$SU" "$mig" 2>&1); then fail "a broken migration after a good one succeeded"; fi
grep -q '^migrate: applied 998_before.sql' <<<"$out" && grep -q '999_broken.sql failed' <<<"$out" ||
	fail "a good then a broken migration: $out"
[ "$(sql_as "$SU" "SELECT count(*) FROM pg_tables WHERE tablename IN ('migrate_test_before', 'migrate_test_half')")|$(
	sql_as "$SU" 'SELECT string_agg(version::text, $$,$$) FROM schema_version WHERE version >= 998')" = '1|998' ] ||
	fail "a good then a broken migration: not the good one alone applied"
sql_as "$SU" 'DROP TABLE migrate_test_before; DELETE FROM schema_version WHERE version = 998' >/dev/null
rm "$mig/998_before.sql" "$mig/999_broken.sql"
# A string, comment or body left open would swallow the files after it in
# that session: refused before anything runs.
for stmt in "SELECT 'open;" 'SELECT 1; /* open' 'DO $x$ BEGIN PERFORM 1; END;' 'SELECT "open;'; do
	printf 'CREATE TABLE migrate_test_half (x int);\n%s\n' "$stmt" >"$mig/999_open.sql"
	if out=$("$REPO/deploy/migrate.sh" "$SU" "$mig" 2>&1); then fail "a migration with '$stmt' ran"; fi
	grep -q '999_open.sql has a .* left open at its end' <<<"$out" || fail "'$stmt': $out"
	[ "$(sql_as "$SU" "SELECT count(*) FROM pg_tables WHERE tablename = 'migrate_test_half'")" = 0 ] ||
		fail "'$stmt': a table was left behind"
done
printf 'CREATE TABLE migrate_test_half (x int);\nSELECT 1\n' >"$mig/999_open.sql"
if out=$("$REPO/deploy/migrate.sh" "$SU" "$mig" 2>&1); then fail "a migration ending without ';' ran"; fi
grep -q "999_open.sql has a last statement without its ';' at its end" <<<"$out" || fail "no ';' at the end: $out"
rm "$mig/999_open.sql"
# What a file sets for its session ends with it: the next file does not see it.
printf "SET application_name = 'migrate-998';\n" >"$mig/998_set.sql"
printf '%s\n' "DO \$\$ BEGIN IF current_setting('application_name') = 'migrate-998' THEN" \
	"RAISE EXCEPTION 'a setting of 998 reached 999'; END IF; END \$\$;" >"$mig/999_see.sql"
out=$("$REPO/deploy/migrate.sh" "$SU" "$mig" 2>&1) || fail "a setting carried from one migration to the next: $out"
sql_as "$SU" 'DELETE FROM schema_version WHERE version >= 998' >/dev/null
rm "$mig/998_set.sql" "$mig/999_see.sql"
# A file with its own transaction control, in any spelling, is refused before
# anything runs: its COMMIT would keep what came before it unrecorded.
# Dollar-quoted bodies, strings and comments may say BEGIN and END.
printf '%s\n' 'CREATE TABLE migrate_test_half (x int);' 'COMMIT TRANSACTION;' 'SELECT 1/0;' >"$mig/999_half.sql"
if out=$("$REPO/deploy/migrate.sh" "$SU" "$mig" 2>&1); then fail "a migration with COMMIT TRANSACTION ran"; fi
grep -q '999_half.sql has its own transaction control (COMMIT TRANSACTION)' <<<"$out" || fail "COMMIT TRANSACTION: $out"
[ "$(sql_as "$SU" "SELECT count(*) FROM pg_tables WHERE tablename = 'migrate_test_half'")" = 0 ] ||
	fail "a migration with its own COMMIT left a table behind"
for stmt in 'END;' 'abort;' 'commit work;' 'SAVEPOINT a;' '\connect postgres' $'COMMIT;\r' \
    'SELECT 1 \connect postgres' $'DO $q1$ BEGIN PERFORM \'x\'; END $q1$;\nCOMMIT;'; do
	printf 'SELECT 1;\n%s\n' "$stmt" >"$mig/999_half.sql"
	if out=$("$REPO/deploy/migrate.sh" "$SU" "$mig" 2>&1); then fail "a migration with '$stmt' ran"; fi
	grep -q 'has its own transaction control' <<<"$out" || fail "'$stmt': $out"
done
printf '%s\n' "SELECT 'COMMIT;' AS \"END;\"; -- COMMIT;" '/* ROLLBACK; */' \
    'DO $do$ BEGIN PERFORM 1; END $do$;' 'DO $b1$ BEGIN PERFORM 2; END $b1$;' \
    'CREATE FUNCTION pg_temp.migrate_atomic() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;' \
    >"$mig/999_half.sql"
out=$("$REPO/deploy/migrate.sh" "$SU" "$mig" 2>&1) || fail "a migration that only mentions COMMIT was refused: $out"
grep -q 'migrate: applied 999_half.sql' <<<"$out" || fail "999_half.sql: $out"
sql_as "$SU" 'DELETE FROM schema_version WHERE version = 999' >/dev/null
rm "$mig/999_half.sql"
# An applied file that changed is refused.
first=$(ls "$mig" | sed -n 1p)
echo '-- edited' >>"$mig/$first"
if out=$("$REPO/deploy/migrate.sh" "$SU" "$mig" 2>&1); then fail "an edited applied migration was accepted"; fi
grep -q 'applied with different content' <<<"$out" || fail "edited migration message: $out"

# --- audit_append for every application role -----------------------------------------------
sql_as "$SU" 'SELECT count(*) FROM audit_event' >/dev/null
for r in "${APP_ROLES[@]}"; do
	u=$(role_uri "$r")
	id=$(sql_as "$u" "SELECT audit_append('test:$r', 'test.append', 'test', '42', '{\"k\": 1}'::jsonb)") ||
		fail "$r cannot call audit_append"
	[[ $id =~ ^[0-9]+$ ]] || fail "audit_append returned '$id' for $r"
	# The statement lib/audit.c prepares, with untyped parameters.
	id2=$(psql -X -q -At -v ON_ERROR_STOP=1 "$u" <<-'EOF'
		PREPARE a AS SELECT audit_append($1,$2,$3,$4,$5::jsonb);
		EXECUTE a('test:prepared', 'test.prepared', 'test', NULL, NULL);
	EOF
	) || fail "$r: the prepared audit_append of lib/audit.c fails"
	[ "$id2" -gt "$id" ] || fail "$r: ids not increasing ($id, $id2)"
	row=$(sql_as "$SU" "SELECT actor, action, object_type, object_id, details::text, at <= clock_timestamp(), txid > 0, db_role FROM audit_event WHERE id = $id")
	[ "$row" = "test:$r|test.append|test|42|{\"k\": 1}|t|t|$r" ] || fail "$r: stored event is '$row'"
	[ "$(sql_as "$SU" "SELECT db_role FROM audit_event WHERE id = $id2")" = "$r" ] ||
		fail "$r: the prepared audit_append's event does not name its login role"
	[ "$(sql_as "$SU" "SELECT object_id IS NULL AND details = '{}'::jsonb FROM audit_event WHERE id = $id2")" = t ] ||
		fail "$r: NULL details not stored as {}"

	sql_fails "$u" "UPDATE audit_event SET actor = 'x' WHERE id = $id" 'permission denied'
	sql_fails "$u" "DELETE FROM audit_event WHERE id = $id" 'permission denied'
	sql_fails "$u" 'TRUNCATE audit_event' 'permission denied'
	sql_fails "$u" 'SELECT count(*) FROM audit_event' 'permission denied'
	# Only the server sets the time and the transaction id.
	sql_fails "$u" "INSERT INTO audit_event (actor, action, object_type, at) VALUES ('x', 'y', 'z', '2000-01-01')" 'permission denied'
	sql_fails "$u" "INSERT INTO audit_event (actor, action, object_type, txid) VALUES ('x', 'y', 'z', 1)" 'permission denied'
	# ... and the role that wrote it (schema/083): actor is the caller's word.
	sql_fails "$u" "INSERT INTO audit_event (actor, action, object_type, db_role) VALUES ('officer:1', 'y', 'z', 'pki_admin')" 'permission denied'
	sql_fails "$u" "SELECT setval('audit_event_id_seq', 1)" 'permission denied'
	sql_fails "$u" 'CREATE TABLE public.t_by_app (x int)' 'permission denied'
	sql_fails "$u" 'ALTER TABLE audit_event DISABLE TRIGGER ALL' 'must be owner'
	sql_fails "$u" "SELECT audit_append('', 'a', 'b', NULL, NULL)" 'violates check constraint'
	sql_fails "$u" "SELECT audit_append('a', 'b', 'c', NULL, '[1]')" 'violates check constraint'
done

# db_role (schema/083): no role but the owner may write it, the roles of
# signd's SAM and of the sealer included; in a SECURITY DEFINER function,
# which runs as its owner (the superuser), it still names the login role
# (session_user, not current_user); a new event never has it NULL.
for r in "${APP_ROLES[@]}" pki_sam pki_sealer pki_auditor; do
	[ "$(sql_as "$SU" "SELECT has_column_privilege('$r', 'audit_event', 'db_role', 'INSERT')")" = f ] ||
		fail "$r may insert audit_event.db_role"
done
at_exit "sql_as '$SU' 'DROP FUNCTION IF EXISTS public.t_definer_append()' >/dev/null 2>&1"
sql_as "$SU" "CREATE FUNCTION public.t_definer_append() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS \$\$ SELECT audit_append('test:definer', 'test.definer', 'test', NULL, NULL) \$\$;
    GRANT EXECUTE ON FUNCTION public.t_definer_append() TO pki_ra" >/dev/null
id=$(sql_as "$(role_uri pki_ra)" 'SELECT t_definer_append()') || fail "pki_ra cannot call a SECURITY DEFINER function that audits"
sql_as "$SU" 'DROP FUNCTION public.t_definer_append()' >/dev/null
[ "$(sql_as "$SU" "SELECT db_role FROM audit_event WHERE id = $id")" = pki_ra ] ||
	fail "an event written inside a SECURITY DEFINER function names $(sql_as "$SU" "SELECT db_role FROM audit_event WHERE id = $id"), not the login role pki_ra"
sql_fails "$SU" "INSERT INTO audit_event (actor, action, object_type, db_role) VALUES ('x', 'y', 'z', NULL)" 'audit_event_db_role_set'

# --- the triggers: even the superuser, even after a mistaken GRANT ---------------------------
id=$(sql_as "$SU" "SELECT max(id) FROM audit_event")
sql_fails "$SU" "UPDATE audit_event SET actor = 'x' WHERE id = $id" 'append-only: UPDATE refused'
sql_fails "$SU" "DELETE FROM audit_event WHERE id = $id" 'append-only: DELETE refused'
sql_fails "$SU" 'DELETE FROM audit_event WHERE false' 'append-only: DELETE refused'
sql_fails "$SU" 'TRUNCATE audit_event' 'append-only: TRUNCATE refused'
sql_fails "$SU" "BEGIN; GRANT ALL ON audit_event TO pki_ca; SET ROLE pki_ca; UPDATE audit_event SET actor = 'x' WHERE id = $id" \
	'append-only: UPDATE refused'
sql_fails "$SU" "BEGIN; GRANT ALL ON audit_event TO pki_ca; SET ROLE pki_ca; TRUNCATE audit_event" \
	'append-only: TRUNCATE refused'
[ "$(sql_as "$SU" "SELECT count(*) FROM information_schema.role_table_grants WHERE table_name = 'audit_event' AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE') AND grantee <> (SELECT tableowner FROM pg_tables WHERE tablename = 'audit_event')")" = 0 ] ||
	fail "a role other than the owner holds UPDATE/DELETE/TRUNCATE on audit_event"
[ "$(sql_as "$SU" "SELECT has_schema_privilege('public', 'public', 'CREATE')")" = f ] ||
	fail "PUBLIC may still CREATE in schema public"

# --- pki_auditor reads, never writes ----------------------------------------------------------
ua=$(role_uri pki_auditor)
n=$(sql_as "$ua" 'SELECT count(*) FROM audit_event') || fail "pki_auditor cannot read audit_event"
[ "$n" -ge ${#APP_ROLES[@]} ] || fail "pki_auditor sees $n events"
sql_fails "$ua" "INSERT INTO audit_event (actor, action, object_type) VALUES ('a', 'b', 'c')" 'permission denied'
sql_fails "$ua" "SELECT audit_append('a', 'b', 'c', NULL, NULL)" 'permission denied'
sql_fails "$ua" "UPDATE audit_event SET actor = 'x'" 'permission denied'
sql_fails "$ua" 'DELETE FROM audit_event' 'permission denied'
sql_fails "$ua" 'TRUNCATE audit_event' 'permission denied'
# Officers: who and what, never the password hash or the sealed TOTP secret.
sql_as "$ua" 'SELECT count(id), count(username), count(role), count(disabled_at) FROM ra_officer' >/dev/null ||
	fail "pki_auditor cannot read the officers"
sql_fails "$ua" 'SELECT password_hash FROM ra_officer' 'permission denied'
sql_fails "$ua" 'SELECT totp_secret_enc FROM ra_officer' 'permission denied'
sql_as "$ua" 'SELECT count(*) FROM audit_seal' >/dev/null || fail "pki_auditor cannot read the seals"
sql_fails "$ua" "INSERT INTO audit_seal (id, tree_size, txid_xmin, root, frontier, sealed_at, key_label, signature) VALUES (999, 1, 1, '\\x00', '{}', now(), 'k', '\\x00')" 'permission denied'

# --- pki_sealer reads the trail and adds seals; a seal is never changed -------------------
us=$(role_uri pki_sealer)
sql_as "$us" 'SELECT count(*) FROM audit_event' >/dev/null || fail "pki_sealer cannot read audit_event"
sql_fails "$us" "UPDATE audit_event SET actor = 'x'" 'permission denied'
sql_fails "$us" 'DELETE FROM audit_seal' 'append-only|permission denied'
sql_fails "$us" "UPDATE audit_seal SET key_label = 'x'" 'append-only|permission denied'
sql_fails "$SU" 'DELETE FROM audit_seal' 'append-only'
sql_fails "$SU" 'TRUNCATE audit_seal' 'append-only'
# A new seal follows the last one (schema/098): a row no one can remove
# that is numbered ahead, over a smaller tree, below the last boundary or
# dated before the last seal would stop the sealer for good. The sealer's
# role and the superuser alike; one that follows passes (rolled back).
seal_ins() { # seal_ins ID_ADD SIZE_ADD XMIN_ADD AT_EXPR
	echo "INSERT INTO audit_seal (id, tree_size, txid_xmin, root, frontier, sealed_at, key_label, signature)
	    SELECT max(id) + $1, max(tree_size) + $2, max(txid_xmin) + $3, decode(repeat('00', 32), 'hex'),
	    '{}', $4, 'audit-1', '\\x00' FROM audit_seal"
}
for u in "$us" "$SU"; do
	sql_fails "$u" "$(seal_ins 2 1 1 'now()')" 'does not follow the last seal'
	sql_fails "$u" "$(seal_ins 1 0 1 'now()')" 'not more than seal'
	sql_fails "$u" "$(seal_ins 1 1 -1 'now()')" 'boundary .* is below seal'
	sql_fails "$u" "$(seal_ins 1 1 1 "max(sealed_at) - interval '1 second'")" 'dated .* before seal'
done
n=$(sql_as "$SU" 'SELECT count(*) FROM audit_seal')
sql_as "$us" "BEGIN; $(seal_ins 1 1 1 'now()'); ROLLBACK" >/dev/null || fail "a seal that follows the last one was refused"
[ "$(sql_as "$SU" 'SELECT count(*) FROM audit_seal')" = "$n" ] || fail "the rolled-back seal stayed"
for r in "${APP_ROLES[@]}"; do
	sql_fails "$(role_uri "$r")" 'SELECT count(*) FROM audit_seal' 'permission denied'
done

# --- no role's own objects in the way of a check or the owner's rights (schema/070) ---------
# Every function run with its owner's rights and every PL/pgSQL function
# (the triggers checking what the roles do) searches pg_temp last: a
# temporary table never stands in for one of the schema's.
unpinned=$(sql_as "$SU" "SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY 1) FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
    WHERE n.nspname = 'public' AND (p.prosecdef OR l.lanname = 'plpgsql')
    AND NOT coalesce('search_path=pg_catalog, public, pg_temp' = ANY (p.proconfig), false)")
[ -z "$unpinned" ] || fail "functions without search_path = pg_catalog, public, pg_temp: $unpinned"
# Temporary tables only for crlgen's users (pki_crl, pki_admin).
[ "$(sql_as "$SU" "SELECT count(*) FROM pg_database, unnest(datacl) a WHERE datname = current_database() AND a::text ~ '^=[^/]*T'")" = 0 ] ||
	fail "PUBLIC may still make temporary tables"
for r in "${APP_ROLES[@]}" pki_sam pki_sealer pki_auditor; do
	want=f
	case $r in pki_crl | pki_admin) want=t ;; esac
	[ "$(sql_as "$SU" "SELECT has_database_privilege('$r', current_database(), 'TEMP')")" = $want ] ||
		fail "$r: TEMP on the database is not $want"
done
# No role stores large objects (schema/101): pg_largeobject is outside
# every table grant, and PUBLIC could fill the disk with it, the read-only
# roles too. The libpq large-object calls go through the same functions.
for r in "${APP_ROLES[@]}" pki_sam pki_sealer pki_auditor; do
	sql_fails "$(role_uri "$r")" "SELECT lo_from_bytea(0, '\\x00'::bytea)" 'permission denied'
	sql_fails "$(role_uri "$r")" 'SELECT lo_creat(-1)' 'permission denied'
done
[ "$(sql_as "$SU" "SELECT count(*) FROM pg_largeobject_metadata")" = 0 ] || fail "large objects in the database"
# ...nor in the cluster's other databases, which have large objects of
# their own (a review found them open to every role): no CONNECT there.
for db in postgres template1; do
	for r in pki_ocsp pki_auditor; do
		sql_fails "$(role_uri "$r" "$db")" "SELECT lo_from_bytea(0, '\\x00'::bytea)" \
			"permission denied for database|not have CONNECT privilege"
	done
done
# What the review did as pki_sign: a temporary sign_service to make
# sign_token_issue insert a token for a service without its secret.
sql_fails "$(role_uri pki_sign)" 'CREATE TEMP TABLE sign_service (id bigint, client_id text, disabled_at timestamptz, secret_sha256 bytea)' \
	'permission denied'
# A CA's own certificates change status only through pkictl: not by rad
# (as pki_ra, revoking the issuing CA's row turned the root responder's
# answer to revoked), not by cad (no UPDATE at all).
ca_rows=$(sql_as "$SU" "SELECT count(*) FROM certificate c JOIN ca_certificate r ON r.issuer_id = c.issuer_id AND r.serial = c.serial")
[ "$ca_rows" -ge 2 ] || fail "test setup: $ca_rows CA certificates in certificate"
for change in "revoked_at = now(), revocation_reason = 0, revoked_by = 'officer:1'" "revoked_at = now(), revocation_reason = 6"; do
	sql_fails "$(role_uri pki_ra)" "BEGIN; UPDATE certificate c SET $change FROM ca_certificate r
	    WHERE r.issuer_id = c.issuer_id AND r.serial = c.serial; ROLLBACK" 'is a CA certificate: its status changes only through pkictl'
done
sql_fails "$(role_uri pki_ca)" "BEGIN; UPDATE certificate SET revoked_at = now(), revocation_reason = 0; ROLLBACK" 'permission denied'
[ "$(sql_as "$SU" "SELECT count(*) FROM certificate c JOIN ca_certificate r ON r.issuer_id = c.issuer_id AND r.serial = c.serial WHERE c.revoked_at IS NOT NULL")" = 0 ] ||
	fail "a CA certificate's status changed"
# pkictl (pki_admin) still may: a hold, rolled back.
[ "$(sql_as "$(role_uri pki_admin)" "BEGIN; UPDATE certificate c SET revoked_at = now(), revocation_reason = 6 FROM ca_certificate r
    WHERE r.issuer_id = c.issuer_id AND r.serial = c.serial AND r.role = 'tsa'; ROLLBACK" 2>&1)" = "" ] ||
	fail "pki_admin may no longer hold a CA certificate"
# Advisory locks only for the roles that take them (schema/073): as
# pki_ocsp, a shared lock on every certificate's sign lock key held off
# every revocation (rad's failed at its lock_timeout, pkictl's waited).
cert1=$(sql_as "$SU" 'SELECT min(id) FROM certificate')
# no_advisory_locks ROLE...: every form of pg_catalog's advisory locks refused.
no_advisory_locks() {
	local r f
	for r in "$@"; do
		for f in pg_advisory_lock pg_advisory_lock_shared pg_advisory_xact_lock pg_advisory_xact_lock_shared \
		    pg_try_advisory_lock pg_try_advisory_lock_shared pg_try_advisory_xact_lock pg_try_advisory_xact_lock_shared; do
			sql_fails "$(role_uri "$r")" "SELECT $f(certificate_sign_lock_key($cert1))" "permission denied for function $f"
			sql_fails "$(role_uri "$r")" "SELECT $f(1, 2)" "permission denied for function $f"
		done
	done
}
no_advisory_locks pki_ca pki_ocsp pki_tsa pki_sign pki_auditor
# Those that take them still do: the revocation guard (pki_ra, pki_admin),
# the SAM's sign lock, the publisher's and the sealer's locks.
for r in pki_ra pki_admin; do
	[ "$(sql_as "$SU" "BEGIN; INSERT INTO certificate (issuer_id, serial, subject, profile, not_before, not_after, sha256, der)
	    SELECT id, '7307', 'CN=073', 'personal', now(), now() + interval '1 day', '00', '\\x00' FROM ca_certificate
	    WHERE name = 'issuing'; SET ROLE $r; UPDATE certificate SET revoked_at = now(), revocation_reason = 6,
	    revoked_by = 'test:073' WHERE serial = '7307' RETURNING revocation_reason; ROLLBACK" 2>&1)" = 6 ] ||
		fail "$r: a hold fails after 073"
done
sql_as "$(role_uri pki_sam)" "BEGIN; SELECT certificate_sign_lock($cert1); ROLLBACK" >/dev/null ||
	fail "pki_sam cannot take the sign lock"
# cad takes its issuing CA's sign lock and no other (schema/099): as
# pki_ca, a CA certificate's only, through ca_issuer_sign_lock.
[ "$(sql_as "$(role_uri pki_ca)" "BEGIN; SELECT name FROM ca_issuer_sign_lock((SELECT id FROM ca_certificate
    WHERE name = 'issuing')); ROLLBACK")" = issuing ] || fail "pki_ca cannot take its issuing CA's sign lock"
for r in pki_ra pki_ocsp pki_sam pki_auditor; do
	sql_fails "$(role_uri "$r")" "SELECT ca_issuer_sign_lock(1)" "permission denied for function ca_issuer_sign_lock"
done
# The SAM takes that lock and no other (schema/087): with the general shared
# form, a SAM taken over held off the sealer or any revocation by any key.
no_advisory_locks pki_sam
sql_as "$(role_uri pki_admin)" 'BEGIN; SELECT pg_advisory_xact_lock(7251001); ROLLBACK' >/dev/null ||
	fail "pki_admin cannot take a transaction-level advisory lock"
# crld's and the sealer's roles take their own lock and no other (schema/077):
# with the general functions 073 left them, either held a certificate's
# sign lock key as long as it liked, and every revocation waited.
no_advisory_locks pki_crl pki_sealer
[ "$(sql_as "$(role_uri pki_crl)" 'BEGIN; SELECT publish_queue_lock(false); ROLLBACK')" = t ] ||
	fail "pki_crl cannot try the publisher's lock"
for r in pki_crl pki_admin; do
	[ "$(sql_as "$(role_uri "$r")" 'BEGIN; SELECT publish_queue_lock(true); ROLLBACK')" = t ] ||
		fail "$r cannot take the publisher's lock"
done
sql_as "$(role_uri pki_sealer)" 'BEGIN; SELECT audit_seal_lock(); ROLLBACK' >/dev/null ||
	fail "pki_sealer cannot take the seal lock"
for r in "${APP_ROLES[@]}" pki_sam pki_sealer pki_auditor; do
	case $r in pki_crl | pki_admin) ;; *)
		sql_fails "$(role_uri "$r")" 'SELECT publish_queue_lock(true)' 'permission denied for function publish_queue_lock' ;;
	esac
	[ "$r" = pki_sealer ] ||
		sql_fails "$(role_uri "$r")" 'SELECT audit_seal_lock()' 'permission denied for function audit_seal_lock'
done
# Each takes the key the code took before 077 (an older pkictl, as
# pki_admin, takes turns with a newer crld), held to the transaction's end.
open_tx
echo "BEGIN; SET LOCAL ROLE pki_crl; SELECT publish_queue_lock(false);" >&"$tx_in"
read -r -t 10 got <&"$tx_out" && [ "$got" = t ] || fail "test setup: the publisher's lock not taken: $got"
[ "$(sql_as "$SU" "SELECT pg_try_advisory_xact_lock(hashtextextended('lib/publish.c publisher', 0))")" = f ] ||
	fail "publish_queue_lock does not hold the publisher's key"
[ "$(sql_as "$(role_uri pki_admin)" 'SELECT publish_queue_lock(false)')" = f ] ||
	fail "publish_queue_lock(false) took a lock another transaction holds"
sql_fails "$(role_uri pki_admin)" "SET lock_timeout = '200ms'; SELECT publish_queue_lock(true)" 'lock timeout'
commit_tx
open_tx
echo "BEGIN; SET LOCAL ROLE pki_sealer; SELECT 't' FROM (SELECT audit_seal_lock()) l;" >&"$tx_in"
read -r -t 10 got <&"$tx_out" && [ "$got" = t ] || fail "test setup: the seal lock not taken: $got"
[ "$(sql_as "$SU" "SELECT pg_try_advisory_xact_lock(hashtextextended('ca/auditcmd.c sealer', 0))")" = f ] ||
	fail "audit_seal_lock does not hold the sealers' key"
sql_fails "$(role_uri pki_sealer)" "SET lock_timeout = '200ms'; SELECT audit_seal_lock()" 'lock timeout'
# Not 077's 32-bit key, which rad's hashtext-keyed functions can reach (087).
[ "$(sql_as "$SU" 'SELECT pg_try_advisory_xact_lock(7251001)')" = t ] ||
	fail "audit_seal_lock still takes a 32-bit key"
commit_tx
# rad's role takes its own locks and no other (schema/082): with the
# general functions, as pki_ra, a certificate's sign lock key held open
# held up every revocation and hold (the guard waits for it).
no_advisory_locks pki_ra
ra_locks=(ra_otp_phone_lock ra_company_sysadmin_lock ra_company_invite_lock ra_company_identifiers_lock)
for r in "${APP_ROLES[@]}" pki_sam pki_sealer pki_auditor; do
	[ "$r" = pki_ra ] && continue
	for f in "${ra_locks[@]}"; do
		case $f in ra_company_invite_lock | ra_company_identifiers_lock) args="'1', '2'" ;; *) args="'1'" ;; esac
		sql_fails "$(role_uri "$r")" "SELECT $f($args)" "permission denied for function $f"
	done
done
# Each takes the key rad took before 082 (a rad started before it takes
# turns with one started after), held to the transaction's end; the NPWP's
# of its 16-digit form since 115 (the key of 0 and the 15 digits).
open_tx
echo "BEGIN; SET LOCAL ROLE pki_ra; SELECT 't' FROM (SELECT ra_otp_phone_lock('+6281200000082'),
    ra_company_sysadmin_lock('sa082@example.com'), ra_company_invite_lock('82', 'inv082@example.com'),
    ra_company_identifiers_lock('8200000000082', '820000000000082')) l;" >&"$tx_in"
read -r -t 10 got <&"$tx_out" && [ "$got" = t ] || fail "test setup: rad's locks not taken: $got"
for k in "ra_otp_phone:+6281200000082" "ra_company_sysadmin:sa082@example.com" "ra_company_invite:82" \
    "ra_company_invite_email:inv082@example.com" "ra_company_nib:8200000000082" "ra_company_npwp:0820000000000082"; do
	[ "$(sql_as "$SU" "SELECT pg_try_advisory_xact_lock(hashtext('$k'))")" = f ] ||
		fail "rad's lock functions do not hold the key of $k"
done
sql_fails "$(role_uri pki_ra)" "SET lock_timeout = '200ms'; SELECT ra_otp_phone_lock('+6281200000082')" 'lock timeout'
commit_tx
# The revocation guard still waits, as pki_ra, for a signature in progress
# with the certificate's key (049: the SAM's shared lock), then goes through.
open_tx
echo "BEGIN; SET LOCAL ROLE pki_sam; SELECT 't' FROM (SELECT certificate_sign_lock(8200000082)) l;" >&"$tx_in"
read -r -t 10 got <&"$tx_out" && [ "$got" = t ] || fail "test setup: the sign lock not taken: $got"
revoke082="BEGIN; INSERT INTO certificate (id, issuer_id, serial, subject, profile, not_before, not_after, sha256, der)
    SELECT 8200000082, id, '8207', 'CN=082', 'personal', now(), now() + interval '1 day', '00', '\\x00' FROM ca_certificate
    WHERE name = 'issuing'; SET ROLE pki_ra; SET lock_timeout = '200ms'; UPDATE certificate SET revoked_at = now(),
    revocation_reason = 0, revoked_by = 'test:082' WHERE id = 8200000082 RETURNING revocation_reason; ROLLBACK"
sql_fails "$SU" "$revoke082" 'lock timeout'
commit_tx
[ "$(sql_as "$SU" "$revoke082" 2>&1)" = 0 ] || fail "pki_ra: a revocation fails after 082"
# crld and pkictl write only the publication queue's columns lib/publish.c
# and lib/crlgen.c write, and never change the record of an issued CRL
# (schema/078): a queued row's entry or attribute, its time of queueing, an
# issued CRL's hash or times.
for r in pki_crl pki_admin; do
	u=$(role_uri "$r")
	for col in dn attribute created_at id; do
		sql_fails "$u" "UPDATE publish_queue SET $col = $col WHERE false" 'permission denied for table publish_queue'
	done
	sql_fails "$u" "INSERT INTO publish_queue (dn, attribute, der, done_at) VALUES ('cn=x', 'cACertificate;binary', '\\x00', now())" \
		'permission denied for table publish_queue'
	sql_fails "$u" "INSERT INTO publish_queue (dn, attribute, der, created_at) VALUES ('cn=x', 'cACertificate;binary', '\\x00', now())" \
		'permission denied for table publish_queue'
	sql_as "$u" "BEGIN; INSERT INTO publish_queue (dn, attribute, der) VALUES ('cn=x', 'cACertificate;binary', '\\x00');
	    UPDATE publish_queue SET done_at = now(), attempts = attempts + 1, last_error = NULL, der = NULL,
	    next_attempt_at = now() WHERE dn = 'cn=x'; ROLLBACK" >/dev/null ||
		fail "$r can no longer queue and update a publication row"
	for col in sha256 this_update next_update max_seq snapshot number; do
		sql_fails "$u" "UPDATE crl SET $col = $col WHERE false" 'permission denied for table crl'
	done
done
# A queued row's DER is never rewritten, only emptied (schema/081): with
# UPDATE of der, crld or pkictl put any bytes on a pending CRL row, and the
# publisher wrote them into the directory. As each role, and the superuser.
q081="INSERT INTO publish_queue (dn, attribute, der) VALUES ('cn=x', 'certificateRevocationList;binary', '\\x0102')"
for u in "$(role_uri pki_crl)" "$(role_uri pki_admin)" "$SU"; do
	for set in "der = '\\x0103'" "der = der || '\\x00'" "der = '\\x'"; do
		sql_fails "$u" "BEGIN; $q081; UPDATE publish_queue SET $set WHERE dn = 'cn=x'; ROLLBACK" \
			'der is set only when the row is queued; an update may only set it to NULL'
	done
	sql_fails "$u" "BEGIN; $q081; UPDATE publish_queue SET done_at = now(), der = NULL WHERE dn = 'cn=x';
	    UPDATE publish_queue SET der = '\\x0102' WHERE dn = 'cn=x'; ROLLBACK" \
		'der is set only when the row is queued; an update may only set it to NULL'
	# lib/publish.c's updates still pass: a retry, a done row's der set to
	# itself (as a certificate's is) or to NULL (as a CRL's is).
	[ "$(sql_as "$u" "BEGIN; $q081; UPDATE publish_queue SET attempts = attempts + 1, last_error = 'x',
	    next_attempt_at = now() WHERE dn = 'cn=x';
	    UPDATE publish_queue SET done_at = now(), der = CASE WHEN attribute = 'cACertificate;binary' THEN NULL ELSE der END
	    WHERE dn = 'cn=x' RETURNING encode(der, 'hex');
	    UPDATE publish_queue SET der = NULL WHERE dn = 'cn=x' RETURNING der IS NULL; ROLLBACK" 2>&1)" = $'0102\nt' ] ||
		fail "[$u] publish_queue's own updates are refused"
done
# cad queues nothing for the directory (schema/073).
sql_fails "$(role_uri pki_ca)" "INSERT INTO publish_queue (dn, attribute, der) VALUES ('cn=x', 'cACertificate;binary', '\\x00')" \
	'permission denied for table publish_queue'
sql_fails "$(role_uri pki_ca)" "UPDATE publish_queue SET done_at = now()" 'permission denied for table publish_queue'
# A subscriber's status mail only with a change of that status made in the
# caller's transaction (schema/074): pkictl's role, which writes no mail,
# queued "Your certificate was revoked" with any reason to the subscriber
# of any certificate through ra_queue_status_notice. In one rolled-back
# transaction: an issued application's certificate, then as each caller.
notice074() { # ROLE STATEMENTS: the outbox rows the statements queued, or the error
	sql_as "$SU" "BEGIN;
	WITH x AS (INSERT INTO ra_account (email, phone, password_hash)
	    VALUES ('n074@example.com', '+6281200000074', '\$argon2id\$x') RETURNING id),
	c AS (INSERT INTO certificate (issuer_id, serial, subject, profile, not_before, not_after, sha256, der)
	    SELECT id, '7407', 'CN=074', 'personal', now(), now() + interval '1 day', '00', '\\x00'
	    FROM ca_certificate WHERE name = 'issuing' RETURNING id),
	o AS (INSERT INTO issuance_order (kind, profile, subject, key_type, requested_by, status, certificate_id, done_at)
	    SELECT 'personal', 'personal', '{}', 'ec-p256', 'test:074', 'done', c.id, now() FROM c RETURNING id)
	INSERT INTO ra_application (account_id, kind, status, profile, subject, decided_at, agreed_at, order_id)
	    SELECT x.id, 'personal', 'issued', 'personal', '{}', now(), now(), o.id FROM x, o;
	SET ROLE $1; $2;
	RESET ROLE; SELECT count(*) FROM ra_mail_outbox WHERE recipient = 'n074@example.com'; ROLLBACK" 2>&1 || true
}
c074="(SELECT id FROM certificate WHERE serial = '7407')"
for r in pki_admin pki_ra; do
	for ev in revoked suspended released; do
		out=$(notice074 "$r" "SELECT ra_queue_status_notice($c074, '$ev', 'keyCompromise', 'x')")
		has -F "was not $ev in this transaction" <<<"$out" || fail "$r: a $ev notice with no change: $out"
	done
	out=$(notice074 "$r" "UPDATE certificate SET revoked_at = now(), revocation_reason = 6, revoked_by = 'test:074'
	    WHERE id = $c074; SELECT ra_queue_status_notice($c074, 'revoked', 'keyCompromise', 'x')")
	has -F "was not revoked in this transaction" <<<"$out" || fail "$r: a revoked notice for a hold: $out"
	[ "$(notice074 "$r" "UPDATE certificate SET revoked_at = now(), revocation_reason = 6, revoked_by = 'test:074'
	    WHERE id = $c074; SELECT ra_queue_status_notice($c074, 'suspended', 'certificateHold', 'x')")" = $'t\n1' ] ||
		fail "$r: no notice for its own hold"
	[ "$(notice074 "$r" "UPDATE certificate SET revoked_at = now(), revocation_reason = 1, revoked_by = 'test:074'
	    WHERE id = $c074; SELECT ra_queue_status_notice($c074, 'revoked', 'keyCompromise', 'x')")" = $'t\n1' ] ||
		fail "$r: no notice for its own revocation"
done
# pkictl lists officers but reads neither their password hashes nor their
# sealed TOTP secrets (schema/075): with ra.officer_key_file, which pkictl
# reads, those made a CA administrator any RA officer.
sql_as "$(role_uri pki_admin)" 'SELECT count(id), count(username), count(role), count(account_id),
    count(locked_until), count(disabled_at), count(created_at) FROM ra_officer' >/dev/null ||
	fail "pki_admin cannot list the officers"
sql_fails "$(role_uri pki_admin)" 'SELECT password_hash FROM ra_officer' 'permission denied'
sql_fails "$(role_uri pki_admin)" 'SELECT totp_secret_enc FROM ra_officer' 'permission denied'
# The auditor reads subscriber keys' rows, never the wrapped private key.
sql_as "$ua" 'SELECT count(id), count(spki), count(wrapping_key_label) FROM subscriber_key' >/dev/null ||
	fail "pki_auditor cannot read subscriber_key's public columns"
sql_fails "$ua" 'SELECT wrapped FROM subscriber_key' 'permission denied'
# signd's SAM reads and updates only the one-time codes of purpose sign
# (schema/080): it holds the OTP HMAC key, and with every row's code_hmac
# it found any live code of any purpose (a password reset's, a
# revocation's) offline in a million HMACs. In one rolled-back transaction:
# an account's live revoke and password_reset codes and a used sign code,
# expired ones of each purpose two days old, then as each role.
otp080() { # ROLE STATEMENTS: what the statements print, then each row's purpose:attempts/used, or the error
	sql_as "$SU" "BEGIN;
	DO \$t\$ DECLARE a bigint; BEGIN
	INSERT INTO ra_account (email, phone, password_hash)
	    VALUES ('o080@example.com', '+6281200000080', '\$argon2id\$x') RETURNING id INTO a;
	PERFORM set_config('pki_test.account', a::text, true);
	INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts, consumed_at, created_at)
	    VALUES (a, 'sms', 'revoke', sha256('1'), now() + interval '5 minutes', 3, NULL, now()),
	    (a, 'sms', 'revoke', sha256('2'), now() - interval '2 days', 3, NULL, now() - interval '2 days'),
	    (a, 'sms', 'password_reset', sha256('3'), now() + interval '5 minutes', 3, NULL, now()),
	    (a, 'sms', 'password_reset', sha256('4'), now() - interval '2 days', 3, NULL, now() - interval '2 days'),
	    (a, 'sms', 'sign', sha256('5'), now() + interval '5 minutes', 3, now(), now()),
	    (a, 'sms', 'sign', sha256('6'), now() - interval '2 days', 3, now(), now() - interval '2 days');
	END \$t\$;
	SET ROLE $1; $2;
	RESET ROLE; SELECT string_agg(purpose || ':' || attempts || '/' || (consumed_at IS NOT NULL), ',' ORDER BY id)
	    FROM ra_otp WHERE account_id = current_setting('pki_test.account')::bigint; ROLLBACK" 2>&1 || true
}
o080="account_id = current_setting('pki_test.account')::bigint"
all080='revoke:0/false,revoke:0/false,password_reset:0/false,password_reset:0/false,sign:0/true,sign:0/true'
out=$(otp080 pki_sam "SELECT string_agg(purpose, ',') FROM ra_otp WHERE $o080;
    SELECT count(*) FROM ra_otp WHERE purpose <> 'sign'")
[ "$out" = $'sign,sign\n0\n'"$all080" ] || fail "pki_sam reads codes of other purposes than sign: $out"
out=$(otp080 pki_sam "SELECT purpose FROM ra_otp WHERE $o080 ORDER BY id FOR UPDATE")
[ "$out" = $'sign\nsign\n'"$all080" ] || fail "pki_sam locks codes of other purposes than sign: $out"
out=$(otp080 pki_sam "UPDATE ra_otp SET attempts = attempts + 1 WHERE $o080 RETURNING purpose;
    UPDATE ra_otp SET consumed_at = now() WHERE $o080 AND purpose <> 'sign' RETURNING purpose")
[ "$out" = $'sign\nsign\n'"${all080//sign:0/sign:1}" ] || fail "pki_sam updates codes of other purposes than sign: $out"
# It still inserts and deletes none, and rad keeps every code.
sql_fails "$(role_uri pki_sam)" "INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts)
    VALUES (1, 'sms', 'sign', sha256('x'), now(), 3)" 'permission denied for table ra_otp'
sql_fails "$(role_uri pki_sam)" 'DELETE FROM ra_otp WHERE false' 'permission denied for table ra_otp'
out=$(otp080 pki_ra "SELECT string_agg(purpose, ',' ORDER BY id) FROM ra_otp WHERE $o080;
    UPDATE ra_otp SET attempts = attempts + 1 WHERE $o080 AND purpose <> 'sign';
    UPDATE ra_otp SET consumed_at = now() WHERE $o080 AND purpose = 'revoke';
    INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts)
    SELECT id, 'email', 'agreement', sha256('y'), now() + interval '5 minutes', 3 FROM ra_account WHERE id = current_setting('pki_test.account')::bigint")
[ "$out" = "revoke,revoke,password_reset,password_reset,sign,sign
revoke:1/true,revoke:1/true,password_reset:1/false,password_reset:1/false,sign:0/true,sign:0/true,agreement:0/false" ] ||
	fail "pki_ra no longer reads, updates or inserts every code: $out"
# pkictl purge (ra_purge_ended, SECURITY DEFINER) still deletes the expired
# codes of every purpose.
out=$(otp080 pki_admin "SELECT (ra_purge_ended(1)->>'ra_otp')::int >= 3")
[ "$out" = $'t\nrevoke:0/false,password_reset:0/false,sign:0/true' ] ||
	fail "ra_purge_ended no longer deletes every expired code: $out"
note ok
