#!/usr/bin/env bash
# signd end to end (not a timed test): signatures per second through
# HTTP → worker → SAM (SAD check and consumption, unwrap → sign → destroy →
# verify against the certificate, one sign.hash audit event each, commit)
# for a bulk authorization of N hashes, EC P-256 and RSA-2048; and the cost
# of one credentials/authorize (PIN: Argon2id; SAD and N hash rows).
#	tests/bench/bench_signd.sh BUILD [rounds] [hashes-per-round]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(realpath "${1:-build}")
ROUNDS=${2:-10}
N=${3:-100}
dir=$(mktemp -d /tmp/pki-bench-signd.XXXXXX)
[ "$(id -u)" -ne 0 ] || chown pki:pki "$dir"
trap '"$REPO/deploy/stack.sh" down --dir "$dir/stack" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$REPO/deploy/stack.sh" up --dir "$dir/stack" --ports auto --build "$BUILD" --ephemeral >"$dir/up.log" 2>&1 ||
	{ cat "$dir/up.log"; exit 1; }
set -a; . "$dir/stack/stack.env"; set +a
su_uri="host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=pki user=$PKI_STACK_USER"
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$su_uri" -c "$1"; }
now() { date +%s.%N; }
post() { curl -sS -X POST -H "Content-Type: ${3:-application/json}" ${4:+-H "Authorization: Bearer $4"} --data-binary "$2" "$1"; }
sms() { sed -n 's/.*PKI RA code \([0-9]\{6\}\) for.*/\1/p' "$(ls -t "$PKI_DIR/spool/ra-sms"/* | head -n1)"; }

"$PKICTL" --config "$PKI_CONFIG" sigservice add --name bench >"$dir/svc"
cid=$(sed -n 's/^client_id\t//p' "$dir/svc")
sec=$(sed -n 's/^client_secret\t//p' "$dir/svc")
at=$(post "$PKI_SIGN_URL/oauth2/token" "grant_type=client_credentials&client_id=$cid&client_secret=$sec" \
	application/x-www-form-urlencoded | jq -r .access_token)
aid=$(post "$PKI_RA_URL/v1/register" '{"email":"bench@example.com","phone":"+6281200000099","password":"Bench-Horse7x"}' | jq -r .id)
vt=$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$PKI_DIR"/spool/ra-mail/*.eml | tr -d '\r' | head -n1)
post "$PKI_RA_URL/v1/verify-email" "{\"token\":\"$vt\"}" >/dev/null
tok=$(post "$PKI_RA_URL/v1/login" '{"email":"bench@example.com","password":"Bench-Horse7x"}' | jq -r .token)
oid=$(post "$PKI_RA_URL/v1/otp" '{"channel":"sms","purpose":"set_pin"}' application/json "$tok" | jq -r .otp_id)
post "$PKI_RA_URL/v1/pin" "{\"pin\":\"402917\",\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$(sms)\"}}" \
	application/json "$tok" >/dev/null
issue() {
	local o i
	o=$("$PKICTL" --config "$PKI_CONFIG" order add --kind "$1" --profile "$1" --key-type "$2" \
		--subject "{\"C\":\"ID\",${3:+\"O\":\"$3\",}\"CN\":\"Bench $2\",\"serialNumber\":\"NIK:3174$RANDOM$RANDOM\"}")
	for ((i = 0; i < 300; i++)); do
		[ "$(q "SELECT status FROM issuance_order WHERE id = $o")" = done ] && break
		sleep 0.1
	done
	i=$(q "SELECT certificate_id FROM issuance_order WHERE id = $o")
	[ -n "$i" ] || { q "SELECT last_error FROM issuance_order WHERE id = $o"; exit 1; }
	q "INSERT INTO sign_credential VALUES ($i, $aid)" >/dev/null
	echo "$i"
}
# bench CRED SIGNALGO LABEL
bench() {
	local cred=$1 algo=$2 r i H sad ta=0 ts=0 t0 t1 t2 n
	for ((r = 0; r < ROUNDS; r++)); do
		H=$(for ((i = 0; i < N; i++)); do head -c 32 /dev/urandom | base64 -w0; echo; done | jq -R . | jq -sc .)
		t0=$(now)
		sad=$(post "$PKI_SIGN_URL/credentials/authorize" "{\"credentialID\":\"$cred\",\"numSignatures\":$N,\"hashes\":$H,\"hashAlgorithmOID\":\"2.16.840.1.101.3.4.2.1\",\"PIN\":\"402917\"}" application/json "$at" | jq -r .SAD)
		t1=$(now)
		n=$(post "$PKI_SIGN_URL/signatures/signHash" "{\"credentialID\":\"$cred\",\"SAD\":\"$sad\",\"hashes\":$H,\"hashAlgorithmOID\":\"2.16.840.1.101.3.4.2.1\",\"signAlgo\":\"$algo\"}" application/json "$at" | jq '.signatures | length')
		t2=$(now)
		[ "$n" = "$N" ] || { echo "signHash returned $n signatures"; tail "$PKI_DIR/log/sign.log"; exit 1; }
		ta=$(echo "$ta + $t1 - $t0" | bc -l)
		ts=$(echo "$ts + $t2 - $t1" | bc -l)
	done
	printf '%-9s signHash of %d hashes: %6.0f signatures/s; authorize (PIN, %d hashes): %5.1f ms\n' \
		"$3" "$N" "$(echo "$ROUNDS * $N / $ts" | bc -l)" "$N" "$(echo "1000 * $ta / $ROUNDS" | bc -l)"
}
ec=$(issue personal ec-p256)
rsa=$(issue corporate rsa2048 "PT Bench")
bench "$ec" 1.2.840.10045.2.1 "P-256"
bench "$rsa" 1.2.840.113549.1.1.1 "RSA-2048"
