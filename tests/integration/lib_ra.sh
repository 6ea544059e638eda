# Helpers for the tests of rad's HTTP API (test_ra_cancel.sh,
# test_ra_eseal.sh); source it after lib.sh. The caller sets tmp, url
# (rad's base URL), mail (the mail sink's directory), q (SQL as the test
# superuser), a secrets array (what the helpers learn is appended to it),
# and a state function whose output before/unchanged compare.
# shellcheck shell=bash

# req METHOD PATH [BODY]: Bearer $tok when set; sets code, body in $tmp/out,
# headers in $tmp/hdr.
req() {
	local args=(-sS -X "$1" -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}')
	[ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' --data-binary "$3")
	[ -z "${tok:-}" ] || args+=(-H "Authorization: Bearer $tok")
	code=$(curl "${args[@]}" "$url$2")
}
# req_patient: req, once more after Retry-After when rate-limited (429).
req_patient() {
	req "$@"
	if [ "$code" = 429 ]; then
		sleep "$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/Ip' "$tmp/hdr")"
		req "$@"
	fi
}
before() { state >"$tmp/state.before"; }
# unchanged WHAT: the state is the one saved by before.
unchanged() {
	state >"$tmp/state.after"
	cmp -s "$tmp/state.before" "$tmp/state.after" ||
		fail "$1 changed state: $(tr '\n' ' ' <"$tmp/state.before") -> $(tr '\n' ' ' <"$tmp/state.after")"
}
# refuse STATUS WHAT METHOD PATH [BODY]: the request fails, nothing changes.
refuse() {
	local st=$1 what=$2
	shift 2
	before
	req "$@"
	expect "$st" "$what"
	unchanged "$what"
}
# mail_to EMAIL: the newest message to EMAIL in the mail sink.
mail_to() { grep -l -- "^To: <$1>" "$mail"/*.eml | xargs ls -t | sed -n 1p; }

# ra_account EMAIL PHONE PASSWORD: registered, email verified by the
# sink's link, phone flagged verified (SQL: test_ra_factors tests the OTP
# path), logged in; sets aid and tok.
ra_account() {
	local v
	tok=
	req_patient POST /v1/register "{\"email\":\"$1\",\"phone\":\"$2\",\"password\":\"$3\"}"
	expect 201 "register $1"
	aid=$(jq -r .id "$tmp/out")
	v=$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$(mail_to "$1")" | tr -d '\r' | sed -n 1p)
	secrets+=("$v")
	req POST /v1/verify-email "{\"token\":\"$v\"}"
	expect 200 "verify $1"
	q "UPDATE ra_account SET phone_verified = true, phone_verified_at = now() WHERE id = $aid" >/dev/null
	req_patient POST /v1/login "{\"email\":\"$1\",\"password\":\"$3\"}"
	expect 200 "login $1"
	tok=$(jq -r .token "$tmp/out")
	secrets+=("$tok")
}

# ra_officer USER ROLE PASSWORD-FILE: an officer made with pkictl, logged in
# with password and TOTP (oathtool); sets oid and otok.
ra_officer() {
	local s
	command -v oathtool >/dev/null || fail "oathtool missing (deploy/packages.txt; make deps)"
	"$PKICTL" --config "$PKI_CONFIG" officer add --username "$1" --role "$2" --password-file "$3" \
	    >"$tmp/add.out" 2>"$tmp/add.err" || fail "officer add $1: $(cat "$tmp/add.err")"
	s=$(sed -n 's/^totp_secret //p' "$tmp/add.out")
	secrets+=("$s")
	oid=$(q "SELECT id FROM ra_officer WHERE username = '$1'")
	tok=
	req POST /v1/officer/login "{\"username\":\"$1\",\"password\":\"$(cat "$3")\",\"totp\":\"$(oathtool --totp -b "$s")\"}"
	expect 200 "officer login $1"
	otok=$(jq -r .token "$tmp/out")
	secrets+=("$otok")
}

# sms_code PHONE: the code of the newest SMS to PHONE in the SMS sink ($sms).
sms_code() {
	sed -n 's/.*PKI RA code \([0-9]\{6\}\) for.*/\1/p' \
		"$(grep -l -- "^To: $1" "$sms"/* | xargs ls -t | sed -n 1p)" | sed -n 1p
}
