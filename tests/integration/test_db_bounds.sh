#!/usr/bin/env bash
# No daemon statement waits for ever (schema/058): each daemon's role has
# lock_timeout, statement_timeout and idle_in_transaction_session_timeout.
# A table rad needs, locked by someone else: a registration waits for the
# role's lock_timeout (5 s), then gets 503 with Retry-After and a problem
# body, and nothing is stored; once the lock is gone it succeeds. Before,
# the request hung until the client gave up, holding one of rad's threads.
. "$(dirname "$0")/lib.sh"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }

# The bounds, as the daemons' connections see them.
for role in pki_ra pki_sign pki_sam pki_ca pki_crl pki_sealer; do
	s=$(q "SELECT array_to_string(setconfig, ' ') FROM pg_db_role_setting
	    WHERE setrole = '$role'::regrole AND setdatabase = 0")
	for k in lock_timeout statement_timeout idle_in_transaction_session_timeout; do
		has -E "(^| )$k=[1-9]" <<<"$s" || fail "role $role has no $k: $s"
	done
done
for role in pki_tsa pki_ocsp; do
	s=$(q "SELECT array_to_string(setconfig, ' ') FROM pg_db_role_setting
	    WHERE setrole = '$role'::regrole AND setdatabase = 0")
	has -E "(^| )idle_in_transaction_session_timeout=[1-9]" <<<"$s" ||
		fail "role $role has no idle_in_transaction_session_timeout: $s"
done

email="bounds-$$@example.com"
body="{\"email\":\"$email\",\"phone\":\"+6281234567890\",\"password\":\"Bounded-Otter7\"}"
register() {
	code=$(curl -sS -m 30 -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' --data-binary "$body" "$PKI_RA_URL/v1/register") || code=000
}
open_tx
echo "BEGIN; LOCK TABLE ra_account IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"$tx_in"
read -r -t 10 locked <&"$tx_out" && [ "$locked" = locked ] || fail "the open transaction did not lock ra_account: $locked"
t0=$(date +%s%N)
register
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$code" = 503 ] || { cat "$tmp/out" >&2; fail "register behind a held lock: HTTP $code after $ms ms, want 503"; }
[ "$ms" -ge 4000 ] && [ "$ms" -le 12000 ] || fail "register behind a held lock answered after $ms ms, want ~5000 (lock_timeout)"
grep -qi '^retry-after: *5' "$tmp/hdr" || fail "503 without Retry-After: $(cat "$tmp/hdr")"
[ "$(jq -r .status "$tmp/out")" = 503 ] || fail "503 without a problem body: $(cat "$tmp/out")"
commit_tx
[ "$(q "SELECT count(*) FROM ra_account WHERE email = '$email'")" = 0 ] || fail "the refused registration stored an account"
grep -q '55P03' "$PKI_DIR/log/ra.log" || fail "rad's log does not name the lock time-out (55P03)"
register
[ "$code" = 201 ] || { cat "$tmp/out" >&2; fail "register once the lock is gone: HTTP $code"; }
note "a registration behind a held lock: 503 with Retry-After after the role's lock_timeout (${ms} ms), nothing stored; then 201"
