#!/usr/bin/env bash
# rad's SMS gateway sender (ra.sms = gateway, libcurl) against the LOCAL
# SIMULATOR of an SMS gateway (sms_gateway_sim.py) on a loopback port of its
# own, with a second rad (the documented environment overrides of pki.conf
# [ra]) under its sandbox: rad refuses to start without a URL or token, with
# http:// to another host, or an unreadable token file; a phone-verification
# OTP reaches the gateway as {"to","sender","text"} with the Bearer token,
# and its code verifies the phone; when the gateway refuses (a token it no
# longer accepts, an outage) POST /v1/otp answers 503 and stores nothing;
# neither the token nor a code is in rad's log.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
mail=$PKI_DIR/spool/ra-mail
rad2=
sim=
secrets=()
cleanup() {
	[ -z "$rad2" ] || { kill -TERM "$rad2" 2>/dev/null; wait "$rad2" 2>/dev/null; }
	[ -z "$sim" ] || { kill -TERM "$sim" 2>/dev/null; wait "$sim" 2>/dev/null; }
}
at_exit cleanup
req() { # req METHOD PATH [BODY]: the second rad, Bearer $tok; sets code
	local args=(-sS -X "$1" -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}')
	[ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' --data-binary "$3")
	[ -z "${tok:-}" ] || args+=(-H "Authorization: Bearer $tok")
	code=$(curl "${args[@]}" "$base$2")
}
token=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
secrets+=("$token")
(umask 077; printf '%s\n' "$token" >"$tmp/token")

# --- start-up refusals ---------------------------------------------------------------------
refuses() { # refuses WHAT MESSAGE ENV...: rad does not start and says MESSAGE
	local what=$1 msg=$2
	shift 2
	if env PKI_RA_PORT=0 PKI_RA_SMS=gateway "$@" timeout 20 "$BUILD/rad" --config "$PKI_CONFIG" \
	    >"$tmp/refuse.log" 2>&1; then
		fail "rad started with $what"
	fi
	grep -qF -- "$msg" "$tmp/refuse.log" || fail "no clear message for $what: $(cat "$tmp/refuse.log")"
}
refuses "no gateway URL" "needs sms_gateway_url and sms_gateway_token_file" \
	PKI_RA_SMS_GATEWAY_TOKEN_FILE="$tmp/token"
refuses "http:// to another host" "sms_gateway_url must be https://" \
	PKI_RA_SMS_GATEWAY_URL=http://sms.example.com/v1/messages PKI_RA_SMS_GATEWAY_TOKEN_FILE="$tmp/token"
# Another host behind a loopback-looking prefix (user "localhost", password "1").
refuses "http:// to another host after a user name" "sms_gateway_url must be https://" \
	PKI_RA_SMS_GATEWAY_URL=http://localhost:1@sms.example.com/v1/messages PKI_RA_SMS_GATEWAY_TOKEN_FILE="$tmp/token"
refuses "https:// with a user name" "sms_gateway_url must be https://" \
	PKI_RA_SMS_GATEWAY_URL=https://u:p@sms.example.com/v1/messages PKI_RA_SMS_GATEWAY_TOKEN_FILE="$tmp/token"
refuses "a missing token file" "$tmp/nothing" \
	PKI_RA_SMS_GATEWAY_URL=https://sms.example.com/v1/messages PKI_RA_SMS_GATEWAY_TOKEN_FILE="$tmp/nothing"
refuses "a bad sender ID" "sms_gateway_sender" PKI_RA_SMS_GATEWAY_SENDER='PKI-RA!' \
	PKI_RA_SMS_GATEWAY_URL=https://sms.example.com/v1/messages PKI_RA_SMS_GATEWAY_TOKEN_FILE="$tmp/token"
note "start-up refusals (no URL, http:// to another host, no token file, bad sender): ok"

# --- the simulator and the second rad ------------------------------------------------------
sport=$(free_port)
mkdir -p "$tmp/sms"
cp "$tmp/token" "$tmp/sim-token"
python3 "$(dirname "$0")/sms_gateway_sim.py" "$sport" "$tmp/sim-token" "$tmp/sms" >"$tmp/sim.log" 2>&1 &
sim=$!
wait_port "$sport" "$sim" sim
port2=$(free_port)
PKI_RA_PORT=$port2 PKI_RA_SMS=gateway PKI_RA_SMS_GATEWAY_URL="http://127.0.0.1:$sport/v1/messages" \
    PKI_RA_SMS_GATEWAY_TOKEN_FILE="$tmp/token" "$BUILD/rad" --config "$PKI_CONFIG" >"$tmp/rad2.log" 2>&1 &
rad2=$!
wait_port "$port2" "$rad2" rad2
base=http://127.0.0.1:$port2
grep -q "sms: gateway http://127.0.0.1:$sport/v1/messages" "$tmp/rad2.log" ||
	fail "rad2 does not say it sends by the gateway: $(cat "$tmp/rad2.log")"
grep -q 'insecure_no_sandbox' "$tmp/rad2.log" && fail "rad2 runs without its sandbox"

# --- an account whose phone is verified through the gateway --------------------------------
pw='Sms-Gateway-Pass9'
secrets+=("$pw")
phone=+6281200000401
tok=
req POST /v1/register "{\"email\":\"sms-gw@example.com\",\"phone\":\"$phone\",\"password\":\"$pw\"}"
expect 201 register
aid=$(jq -r .id "$tmp/out")
f=$(grep -l -- "^To: <sms-gw@example.com>" "$mail"/*.eml | xargs ls -t | sed -n 1p)
v=$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$f" | tr -d '\r' | sed -n 1p)
secrets+=("$v")
req POST /v1/verify-email "{\"token\":\"$v\"}"
expect 200 verify-email
req POST /v1/login "{\"email\":\"sms-gw@example.com\",\"password\":\"$pw\"}"
expect 200 login
tok=$(jq -r .token "$tmp/out")
secrets+=("$tok")
req POST /v1/otp '{"channel":"sms","purpose":"phone_verify"}'
expect 201 "an SMS OTP through the gateway"
oid=$(jq -r .otp_id "$tmp/out")
[ -s "$tmp/sms/1.json" ] || fail "the gateway received nothing: $(cat "$tmp/rad2.log")"
[ "$(jq -r '.to + "|" + .sender' "$tmp/sms/1.json")" = "$phone|PKI RA" ] || fail "the message: $(cat "$tmp/sms/1.json")"
c=$(jq -r .text "$tmp/sms/1.json" | sed -n 's/.*PKI RA code \([0-9]\{6\}\) for phone_verify.*/\1/p')
[ ${#c} -eq 6 ] || fail "no code in the gateway's message"
secrets+=("$c")
req POST /v1/phone/verify "{\"otp_id\":$oid,\"code\":\"$c\"}"
expect 200 "the phone verified with the gateway's code"
[ "$(q "SELECT phone_verified FROM ra_account WHERE id = $aid")" = t ] || fail "the phone is not verified"
note "an OTP through the gateway (to, sender, text, Bearer token) verifies the phone: ok"

# --- the gateway refuses: 503, nothing stored --------------------------------------------------
state() { q "SELECT (SELECT count(*) FROM ra_otp WHERE account_id = $aid) || '/' || $AUDIT_MAX"; }
refused() { # refused WHAT
	local s0
	s0=$(state)
	req POST /v1/otp '{"channel":"sms","purpose":"set_pin"}'
	expect 503 "$1"
	[ "$(state)" = "$s0" ] || fail "$1 stored something: $s0 -> $(state)"
}
printf '%s\n' "another-token" >"$tmp/sim-token"
refused "an OTP the gateway refuses (401: a token it no longer accepts)"
cp "$tmp/token" "$tmp/sim-token"
touch "$tmp/sms/fail"
refused "an OTP during the gateway's outage (503)"
rm "$tmp/sms/fail"
req POST /v1/otp '{"channel":"sms","purpose":"set_pin"}'
expect 201 "an OTP once the gateway is back"
[ "$(ls "$tmp/sms"/*.json | wc -l)" = 2 ] || fail "the refused messages were stored by the gateway"
grep -q 'the gateway answered HTTP 401' "$tmp/rad2.log" && grep -q 'the gateway answered HTTP 503' "$tmp/rad2.log" ||
	fail "rad2's log does not say why: $(cat "$tmp/rad2.log")"
secrets+=("$(jq -r .text "$tmp/sms/2.json" | sed -n 's/.*PKI RA code \([0-9]\{6\}\) for.*/\1/p')")
note "a refusing gateway (401, 503): POST /v1/otp 503, nothing stored; then sent again: ok"

no_secret_in "rad2's log" "$tmp/rad2.log"
grep -q -- "$phone" "$tmp/rad2.log" && fail "the phone number is in rad2's log"
note "no token, code or phone number in rad2's log"
