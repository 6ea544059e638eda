#!/usr/bin/env bash
# The revocation guard (schema/104, 109) as the daemons' roles: a final
# revocation is final in every column (invalidity_date, revoked_by too);
# revoked_at is the revoking transaction's now(), never back- or
# future-dated; an invalidity date only on a revoked certificate and not
# after its revocation. A superuser session (the tests' fixtures) is exempt.
#
# Each case seeds its certificates as the superuser in a transaction that
# rolls back, then acts with SET SESSION AUTHORIZATION <role>: the guard
# runs as its owner (082) and checks session_user, which SET ROLE does not
# change (a superuser session that only SET ROLEs stays a superuser's).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

: "${PKI_TEST_PG_URI:?tests/run.sh sets PKI_TEST_PG_URI}"
SU=$PKI_TEST_PG_URI

# The seeded certificates, under the stack's issuing CA: 10401 valid,
# 10402 revoked for good (keyCompromise, an invalidity date), 10403 valid.
SEED="INSERT INTO certificate (id, issuer_id, serial, subject, profile, not_before, not_after, sha256, der)
    SELECT 1040000000 + n, c.id, '7F10400' || n, 'CN=104', 'personal', now() - interval '1 day',
    now() + interval '1 year', '00', '\\x00' FROM ca_certificate c, generate_series(1, 3) n
    WHERE c.name = 'issuing';
UPDATE certificate SET revoked_at = now(), revocation_reason = 1, revoked_by = 'officer:9',
    invalidity_date = now() - interval '1 day' WHERE id = 1040000002;"
# as ROLE SQL: SQL as ROLE (its session), after the seed; rolled back.
as() {
	sql_as "$SU" "BEGIN; $SEED SET SESSION AUTHORIZATION $1; $2; ROLLBACK"
}
refused() { # refused ROLE SQL ERROR
	sql_fails "$SU" "BEGIN; $SEED SET SESSION AUTHORIZATION $1; $2; ROLLBACK" "$3"
}

# --- C1: a final revocation is final; the database dates revocations ------------
for r in pki_ra pki_admin; do
	refused "$r" "UPDATE certificate SET invalidity_date = '2000-01-01' WHERE id = 1040000002" \
		'is revoked \(reason 1\): final, its invalidity date and revoker too'
	refused "$r" "UPDATE certificate SET revoked_by = 'pkictl:root' WHERE id = 1040000002" \
		'is revoked \(reason 1\): final, its invalidity date and revoker too'
	refused "$r" "UPDATE certificate SET invalidity_date = NULL WHERE id = 1040000002" \
		'final, its invalidity date and revoker too'
	refused "$r" "UPDATE certificate SET revoked_at = '1999-01-01', revocation_reason = 0,
	    revoked_by = 'officer:1' WHERE id = 1040000001" 'is not the time of the revocation'
	refused "$r" "UPDATE certificate SET revoked_at = now() + interval '1 day', revocation_reason = 0
	    WHERE id = 1040000001" 'is not the time of the revocation'
	refused "$r" "UPDATE certificate SET revoked_at = now() - interval '1 second', revocation_reason = 6
	    WHERE id = 1040000001" 'is not the time of the revocation'
	# A hold made final: now() too, not the hold's time kept or moved.
	refused "$r" "UPDATE certificate SET revoked_at = now(), revocation_reason = 6 WHERE id = 1040000001;
	    UPDATE certificate SET revoked_at = now() - interval '1 hour', revocation_reason = 1 WHERE id = 1040000001" \
		'is not the time of the revocation'
	refused "$r" "UPDATE certificate SET invalidity_date = now() - interval '1 day' WHERE id = 1040000001" \
		'an invalidity date without a revocation'
	refused "$r" "UPDATE certificate SET revoked_at = now(), revocation_reason = 1,
	    invalidity_date = now() + interval '1 hour' WHERE id = 1040000001" 'after the revocation'
	# What the writers do still works: a revocation at now() with an
	# invalidity date before it (ca/certcmd.c, ra/review.c), a hold, then
	# made final keeping the hold's date (coalesce), a release.
	out=$(as "$r" "UPDATE certificate SET revoked_at = now(), revocation_reason = 1, revoked_by = 'test',
	    invalidity_date = coalesce(now() - interval '1 day', CASE WHEN revocation_reason = 6 THEN invalidity_date END)
	    WHERE id = 1040000001 RETURNING revocation_reason, invalidity_date = now() - interval '1 day', revoked_at = now();
	    UPDATE certificate SET revoked_at = now(), revocation_reason = 6, revoked_by = 'test',
	    invalidity_date = now() - interval '2 days' WHERE id = 1040000003;
	    UPDATE certificate SET revoked_at = NULL, revocation_reason = NULL, invalidity_date = NULL, revoked_by = 'test'
	    WHERE id = 1040000003 AND revocation_reason = 6 RETURNING revoked_at IS NULL;
	    UPDATE certificate SET revoked_at = now(), revocation_reason = 6, revoked_by = 'test',
	    invalidity_date = now() - interval '2 days' WHERE id = 1040000003;
	    UPDATE certificate SET revoked_at = now(), revocation_reason = 4, revoked_by = 'test',
	    invalidity_date = coalesce(NULL, CASE WHEN revocation_reason = 6 THEN invalidity_date END)
	    WHERE id = 1040000003 RETURNING revocation_reason, invalidity_date = now() - interval '2 days'" 2>&1) ||
		fail "$r: a legitimate revocation, hold, release or hold made final refused: $out"
	[ "$out" = $'1|t|t\nt\n4|t' ] || fail "$r: the legitimate changes gave: $out"
	# rad takes an invalidity date up to 300 s ahead (RA_REVIEW_SKEW_S, an
	# officer's clock): stored as the revocation's time.
	out=$(as "$r" "UPDATE certificate SET revoked_at = now(), revocation_reason = 1,
	    invalidity_date = now() + interval '2 minutes' WHERE id = 1040000001 RETURNING invalidity_date = revoked_at")
	[ "$out" = t ] || fail "$r: an invalidity date within the skew: $out"
done
# The superuser's session (fixtures: back-dated revocations) is exempt.
out=$(sql_as "$SU" "BEGIN; $SEED SET ROLE pki_ra; UPDATE certificate SET revoked_at = '1999-01-01', revocation_reason = 0
    WHERE id = 1040000001; UPDATE certificate SET invalidity_date = '1998-01-01' WHERE id = 1040000002
    RETURNING invalidity_date = '1998-01-01'; ROLLBACK") || fail "a superuser session may no longer back-date: $out"
[ "$out" = t ] || fail "a superuser session: $out"
# The final revocation's own columns stay frozen for everyone (049).
sql_fails "$SU" "BEGIN; $SEED UPDATE certificate SET revoked_at = now() - interval '1 hour' WHERE id = 1040000002; ROLLBACK" \
	'is revoked \(reason 1\): final'
# --- C2: a hold pkictl placed is released only by pki_admin ------------------------
hold_admin="SET SESSION AUTHORIZATION pki_admin; UPDATE certificate SET revoked_at = now(), revocation_reason = 6,
    revoked_by = 'pkictl:operator' WHERE id = 1040000001"
release="UPDATE certificate SET revoked_at = NULL, revocation_reason = NULL, invalidity_date = NULL,
    revoked_by = 'ra:notifier' WHERE id = 1040000001 RETURNING revoked_at IS NULL, revoked_role IS NULL"
out=$(sql_as "$SU" "BEGIN; $SEED $hold_admin RETURNING revoked_role; ROLLBACK")
[ "$out" = pki_admin ] || fail "pkictl's hold: revoked_role $out, not pki_admin"
refused pki_ra "$hold_admin; SET SESSION AUTHORIZATION pki_ra; $release" 'the hold was placed by pkictl'
# The hold's role recorded even with another revoked_by; and the reviewer's
# probe: a superuser's row claiming pkictl.
refused pki_ra "${hold_admin/pkictl:operator/test:hold}; SET SESSION AUTHORIZATION pki_ra; $release" 'the hold was placed by pkictl'
refused pki_ra "UPDATE certificate SET revoked_at = now(), revocation_reason = 6, revoked_by = 'pkictl:operator'
    WHERE id = 1040000001; SET SESSION AUTHORIZATION pki_ra; $release" 'the hold was placed by pkictl'
# Nor by rewriting who placed it first (schema/109): the revoker and the
# invalidity date change only with a revocation, hold or release, on a hold
# and on a valid certificate as on a final revocation.
refused pki_ra "$hold_admin; SET SESSION AUTHORIZATION pki_ra; UPDATE certificate SET revoked_by = 'officer:9'
    WHERE id = 1040000001" 'change only with a revocation, hold or release'
refused pki_ra "$hold_admin; SET SESSION AUTHORIZATION pki_ra; UPDATE certificate SET invalidity_date = now() - interval '1 day'
    WHERE id = 1040000001" 'change only with a revocation, hold or release'
for r in pki_ra pki_admin; do
	refused "$r" "UPDATE certificate SET revoked_by = 'officer:9' WHERE id = 1040000001" \
		'change only with a revocation, hold or release'
done
# pkictl releases it; rad releases its own holds; pkictl releases rad's.
out=$(sql_as "$SU" "BEGIN; $SEED $hold_admin; $release; ROLLBACK") || fail "pkictl cannot release its hold: $out"
[ "$out" = 't|t' ] || fail "pkictl's release: $out"
for r in pki_ra pki_admin; do
	out=$(as pki_ra "UPDATE certificate SET revoked_at = now(), revocation_reason = 6, revoked_by = 'officer:9'
	    WHERE id = 1040000001 RETURNING revoked_role; SET SESSION AUTHORIZATION $r; $release") ||
		fail "$r cannot release rad's hold: $out"
	[ "$out" = $'pki_ra
t|t' ] || fail "$r: rad's hold and its release: $out"
done
# No application role writes revoked_role.
refused pki_ra "UPDATE certificate SET revoked_role = 'pki_ra' WHERE id = 1040000001" 'permission denied'
refused pki_admin "UPDATE certificate SET revoked_role = 'pki_ra' WHERE id = 1040000001" 'permission denied'
out=$(as pki_ca "INSERT INTO certificate (id, issuer_id, serial, subject, profile, not_before, not_after, sha256, der,
    revoked_at, revocation_reason, revoked_by, revoked_role) SELECT 1040000009, id, '7F104009', 'CN=104', 'personal',
    now(), now() + interval '1 day', '00', '\\x00', now(), 6, 'pkictl:x', 'pki_admin' FROM ca_certificate
    WHERE name = 'issuing' RETURNING revoked_role")
[ "$out" = pki_ca ] || fail "an INSERT chose its revoked_role: $out"
note ok
