# Subscribers with certificates from the stack's cad, and CSC calls on their
# credentials, for the tests of signd and pkisign (test_sign.sh,
# test_pades.sh, test_pg_restart.sh); source it after lib.sh. The caller
# sets tmp, rurl (the RA), sms and mail (the sinks), pw (the accounts'
# password), q (SQL as superuser), pkictl, and a secrets array (what the
# helpers learn is appended to it); for the CSC calls also surl (signd) and
# at (a signing service's access token). subscriber_env sets all but pw and
# at for run.sh's stack.
# shellcheck shell=bash

# subscriber_env: all of the above for run.sh's stack: tmp (a scratch
# directory of its own), rurl, surl, sms, mail, q, pkictl and an empty
# secrets array.
subscriber_env() {
	: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
	tmp=$(test_tmpdir)
	surl=$PKI_SIGN_URL
	rurl=$PKI_RA_URL
	sms=$PKI_DIR/spool/ra-sms
	mail=$PKI_DIR/spool/ra-mail
	secrets=()
	q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
	pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
}
# rreq METHOD PATH [BODY [AUTH]]: the RA; sets code, body in $tmp/out.
rreq() {
	local args=(-sS -X "$1" -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}')
	[ $# -ge 3 ] && args+=(-H "Content-Type: application/json" --data-binary "$3")
	[ -z "${4:-}" ] || args+=(-H "Authorization: Bearer $4")
	code=$(curl "${args[@]}" "$rurl$2")
}
rreq_patient() {
	local i
	for i in 1 2 3; do
		rreq "$@"
		[ "$code" = 429 ] || return 0
		sleep "$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/ip' "$tmp/hdr" | sed -n 1p)"
	done
}
newest() { ls -t "$1"/* 2>/dev/null | sed -n 1p; }
sms_code() { sed -n 's/.*PKI RA code \([0-9]\{6\}\) for.*/\1/p' "$(newest "$sms")" | sed -n 1p; }
mail_token() {
	local f
	f=$(grep -l -- "^To: <$1>" "$mail"/*.eml | xargs ls -t | sed -n 1p)
	sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$f" | tr -d '\r' | sed -n 1p
}
# account EMAIL PHONE PIN: registered, verified, logged in, PIN set (by an
# SMS OTP); sets aid and tok.
account() {
	local v c
	rreq_patient POST /v1/register "{\"email\":\"$1\",\"phone\":\"$2\",\"password\":\"$pw\"}"
	[ "$code" = 201 ] || fail "register $1: $code $(cat "$tmp/out")"
	aid=$(jq -r .id "$tmp/out")
	v=$(mail_token "$1")
	secrets+=("$v")
	rreq POST /v1/verify-email "{\"token\":\"$v\"}"
	[ "$code" = 200 ] || fail "verify $1: $code"
	rreq_patient POST /v1/login "{\"email\":\"$1\",\"password\":\"$pw\"}"
	[ "$code" = 200 ] || fail "login $1: $code"
	tok=$(jq -r .token "$tmp/out")
	secrets+=("$tok")
	rreq POST /v1/otp '{"channel":"sms","purpose":"set_pin"}' "$tok"
	[ "$code" = 201 ] || fail "otp set_pin $1: $code $(cat "$tmp/out")"
	c=$(sms_code)
	rreq POST /v1/pin "{\"pin\":\"$3\",\"factor\":{\"type\":\"otp\",\"otp_id\":$(jq -r .otp_id "$tmp/out"),\"code\":\"$c\"}}" "$tok"
	[ "$code" = 200 ] || fail "pin $1: $code $(cat "$tmp/out")"
	secrets+=("$3" "$c")
}
# grant SESSION SERVICE-ID: the subscriber of RA session SESSION lets the
# signing service use their credentials at signd (schema/112; 201 the first
# time, 200 after).
grant() {
	rreq POST "/v1/sign-services/$2/grant" '{}' "$1"
	[ "$code" = 201 ] || [ "$code" = 200 ] || fail "grant service $2: $code $(cat "$tmp/out")"
}
# issue ACCOUNT KIND PROFILE KEYTYPE CN [O]: prints the certificate id once cad is done.
issue() {
	[ "$3" = "$2" ] || fail "issue: profile $3 is not kind $2 (order_issued orders profile = kind)"
	order_issued "$2" "{\"C\":\"ID\",${6:+\"O\":\"$6\",}\"CN\":\"$5\",\"serialNumber\":\"NIK:31740$RANDOM$RANDOM\"}" "$4"
	# pkictl orders belong to no RA account (rad's issued applications get
	# their row from the notifier): link it as an administrator would.
	q "INSERT INTO sign_credential (certificate_id, account_id) VALUES ($cert, $1)" >/dev/null
	echo "$cert"
}
cert_pem() { # cert_pem CRED FILE
	q "SELECT encode(der, 'base64') FROM certificate WHERE id = $1" | base64 -d |
		openssl x509 -inform DER -out "$2"
}

# --- CSC calls -------------------------------------------------------------------
# sreq PATH BODY [TOKEN]: a CSC call; sets code, body in $tmp/out.
sreq() {
	local args=(-sS -X POST -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}'
		-H "Content-Type: application/json" --data-binary "$2")
	[ -z "${3:-}" ] || args+=(-H "Authorization: Bearer $3")
	code=$(curl "${args[@]}" "$surl/$1")
	jq -r '.error_description // empty' "$tmp/out" >>"$tmp/details" 2>/dev/null || true
}
# hashN ALG N: N fresh digests; sets H (base64 array, JSON) and files $tmp/hI.bin.
hashes() {
	local i arr=()
	for ((i = 0; i < $2; i++)); do
		head -c 64 /dev/urandom >"$tmp/doc$i"
		openssl dgst "-$1" -binary "$tmp/doc$i" >"$tmp/h$i.bin"
		arr+=("$(base64 -w0 "$tmp/h$i.bin")")
	done
	H=$(printf '%s\n' "${arr[@]}" | jq -R . | jq -sc .)
}
SHA256=2.16.840.1.101.3.4.2.1
SHA384=2.16.840.1.101.3.4.2.2
RSA=1.2.840.113549.1.1.1
PSS=1.2.840.113549.1.1.10
EC=1.2.840.10045.2.1
# authorize CRED HASHES-JSON HASHOID FACTOR-MEMBERS [TOKEN]: sets code, SAD
authorize() {
	sreq credentials/authorize "{\"credentialID\":\"$1\",\"numSignatures\":$(jq length <<<"$2"),\"hashes\":$2,\"hashAlgorithmOID\":\"$3\",$4}" "${5:-$at}"
	SAD=$(jq -r '.SAD // empty' "$tmp/out")
	[ -z "$SAD" ] || secrets+=("$SAD")
}
signhash() { # signhash CRED SAD HASHES-JSON HASHOID SIGNALGO [TOKEN]
	sreq signatures/signHash "{\"credentialID\":\"$1\",\"SAD\":\"$2\",\"hashes\":$3,\"hashAlgorithmOID\":\"$4\",\"signAlgo\":\"$5\"}" "${6:-$at}"
}
# waiting_advisory: 0 once a backend waits for an advisory lock (within 10 s),
# else 1: the SAM's lock on a certificate (schema/049) or its issuer (100).
waiting_advisory() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")" -ge 1 ] && return 0
		sleep 0.1
	done
	return 1
}
# signhash_racing SQL WHAT CRED SAD HASHES-JSON HASHOID SIGNALGO: SQL (a
# revocation or a hold, WHAT in messages) in a transaction left open while
# signHash runs; checks that signHash waits for it, commits it, and sets
# code and $tmp/out from the signHash that then ends.
signhash_racing() {
	local sql=$1 what=$2 signer locked=
	shift 2
	open_tx
	echo "BEGIN; $sql; SELECT 'locked';" >&"$tx_in"
	read -r -t 10 locked <&"$tx_out" && [ "$locked" = locked ] || fail "the open transaction ($what) did not start: $locked"
	(signhash "$@"; echo "$code" >"$tmp/code") &
	signer=$!
	waiting_advisory || fail "signHash did not wait for $what in progress"
	kill -0 "$signer" 2>/dev/null || fail "signHash ended while $what was in progress: $(cat "$tmp/out")"
	commit_tx
	wait "$signer"
	code=$(cat "$tmp/code")
}
# verify CERT I DIGEST [PKEYOPTS...]: signature I of $tmp/out over $tmp/hI.bin
verify() {
	local c=$1 i=$2
	shift 2
	openssl x509 -in "$c" -noout -pubkey >"$tmp/pub.pem"
	jq -r ".signatures[$i]" "$tmp/out" | base64 -d >"$tmp/sig$i"
	openssl pkeyutl -verify -pubin -inkey "$tmp/pub.pem" -in "$tmp/h$i.bin" \
		-sigfile "$tmp/sig$i" "$@" >"$tmp/verify.out" 2>&1 ||
		{ cat "$tmp/verify.out"; fail "signature $i does not verify against $c"; }
}

