#!/usr/bin/env bash
# rad's second factors over HTTP with curl against the stack of tests/run.sh:
# an SMS OTP read from the SMS file sink verifies the phone; wrong codes are
# counted (401), a used, expired, dead or other-purpose OTP is refused (401)
# and changes nothing; wrong factors in a row lock the account's factors
# (429 with Retry-After, back-off doubling); the PIN is set with an OTP,
# trivial PINs are refused (400), then the PIN itself authorizes its
# replacement through the verifier, each mailing the account a notice
# (through the outbox, queued with the change); a refused factor costs no
# Argon2id of the new PIN or password (rad's CPU time); TOTP is refused as
# not enrolled; the per-account OTP rate, also when a send of another rad
# process commits while this one waits for the account's lock; no code,
# PIN, token or the OTP key in rad's log, audit_event or a problem detail.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
url=$PKI_RA_URL
mail=$PKI_DIR/spool/ra-mail
sms=$PKI_DIR/spool/ra-sms
log=$PKI_DIR/log/ra.log
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
secrets=()	# every code, PIN, password and token used; none may be logged
touch "$tmp/details"

# req METHOD PATH [BODY [CONTENT-TYPE [AUTH]]]: sets code; body in $tmp/out, headers in $tmp/hdr.
req() {
	local args=(-sS -X "$1" -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}')
	if [ $# -ge 3 ]; then
		args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3")
	fi
	[ -z "${5:-}" ] || args+=(-H "Authorization: Bearer $5")
	code=$(curl "${args[@]}" "$url$2")
	jq -r '.detail // empty' "$tmp/out" >>"$tmp/details" 2>/dev/null || true
}
# The per-address limits of /v1/register and /v1/login may still be spent
# by test_ra: wait them out.
req_patient() {
	local i
	for i in 1 2 3; do
		req "$@"
		[ "$code" = 429 ] || return 0
		sleep "$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/ip' "$tmp/hdr" | sed -n 1p)"
	done
}
state() {
	q "SELECT (SELECT count(*) FROM ra_account) || '/' ||
	    (SELECT count(*) FROM ra_account WHERE phone_verified) || '/' ||
	    (SELECT count(*) FROM ra_account WHERE pin_hash IS NOT NULL) || '/' ||
	    (SELECT coalesce(string_agg(md5(coalesce(pin_hash, '')), ',' ORDER BY id), '') FROM ra_account) || '/' ||
	    (SELECT coalesce(sum(factor_failures), 0) FROM ra_account) || '/' ||
	    (SELECT count(*) FROM ra_account WHERE factor_locked_until IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM ra_otp) || '/' ||
	    (SELECT count(*) FROM ra_otp WHERE consumed_at IS NOT NULL) || '/' ||
	    (SELECT coalesce(sum(attempts), 0) FROM ra_otp) || '/' ||
	    (SELECT count(*) FROM ra_session) || '/' ||
	    $AUDIT_MAX_OWN"
	{ grep -E -l -- "^To: <$own_mail>" "$mail"/*.eml 2>/dev/null || true; } | wc -l
	find "$sms" -type f 2>/dev/null | wc -l
}
# The mail sink counted by this test's recipients (rad's outbox sends the
# other tests' mail, @example.com too, whenever it comes), and this test's
# own queued mail (a PIN's notice) sent before the snapshot, not during the
# request. The SMS sink is counted whole: only a request's handler sends an
# SMS (ra/factor.c), no daemon in the background. The audit without the
# events of rad's notifier and the stack's cad (AUDIT_MAX_OWN): they write
# theirs for an earlier test's application, order or outbox mail in any
# window, and a request to rad's HTTP API writes neither.
own_mail="(frida|gustav|hilda|ivan|phone[0-9]+-$$)@example\.com"
before() {
	outbox_settled_re "^$own_mail\$" || fail "rad's outbox did not send this test's mail within 30 s"
	state >"$tmp/state.before"
}
unchanged() {
	state >"$tmp/state.after"
	cmp -s "$tmp/state.before" "$tmp/state.after" ||
		fail "$1 changed state: $(tr '\n' ' ' <"$tmp/state.before") -> $(tr '\n' ' ' <"$tmp/state.after")"
}
# newest DIR [PATTERN]: the newest file of a sink (holding PATTERN, grep),
# checked: 0600 and marked not delivered.
newest() {
	local f
	f=$(grep -l -- "${2:-}" "$1"/* 2>/dev/null | xargs -r ls -t | sed -n 1p)
	[ -n "$f" ] || fail "no message${2:+ with '$2'} in $1"
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f is not 0600"
	grep -q 'local file sink, not delivered' "$f" || fail "$f not marked as not delivered"
	echo "$f"
}
sms_code() { # sms_code PHONE: the code of the newest SMS, sent to PHONE
	local f
	f=$(newest "$sms")
	grep -q "^To: $1" "$f" || fail "newest SMS is not to $1"
	sed -n 's/.*PKI RA code \([0-9]\{6\}\) for.*/\1/p' "$f" | sed -n 1p
}
# mail_code EMAIL: the code of the newest one-time code mail, sent to EMAIL.
# The newest of those, not of the sink: rad's outbox sends the other tests'
# mail (and this test's notices) whenever it comes, while only a request's
# handler mails a one-time code (ra/factor.c), never the outbox.
mail_code() {
	local f
	f=$(newest "$mail" '^Subject: Your one-time code')
	grep -q "^To: <$1>" "$f" || fail "newest one-time code mail is not to $1"
	tr -d '\r' <"$f" | sed -n 's/^ *\([0-9]\{6\}\)$/\1/p' | sed -n 1p
}
mail_token() {
	local f
	f=$(grep -l -- "^To: <$1>" "$mail"/*.eml | xargs ls -t | sed -n 1p)
	sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$f" | tr -d '\r' | sed -n 1p
}
# account EMAIL PHONE: registered, verified, logged in; sets aid and tok.
pw='Factor-Horse9'
secrets+=("$pw")
account() {
	req_patient POST /v1/register "{\"email\":\"$1\",\"phone\":\"$2\",\"password\":\"$pw\"}"
	expect 201 "register $1"
	aid=$(jq -r .id "$tmp/out")
	local v
	v=$(mail_token "$1")
	secrets+=("$v")
	req POST /v1/verify-email "{\"token\":\"$v\"}"
	expect 200 "verify $1"
	req_patient POST /v1/login "{\"email\":\"$1\",\"password\":\"$pw\"}"
	expect 200 "login $1"
	tok=$(jq -r .token "$tmp/out")
	secrets+=("$tok")
}
otp() { # otp CHANNEL PURPOSE: sets oid
	req POST /v1/otp "{\"channel\":\"$1\",\"purpose\":\"$2\"}" application/json "$tok"
	expect 201 "otp $1 $2"
	oid=$(jq -r .otp_id "$tmp/out")
}
failures() { q "SELECT factor_failures FROM ra_account WHERE id = $aid"; }
notices() { q "SELECT count(*) FROM ra_mail_outbox WHERE recipient = '$1' AND subject LIKE '%PIN%'"; }
attempts() { q "SELECT attempts FROM ra_otp WHERE id = $1"; }
pin_req() { # pin_req NEWPIN FACTOR-JSON
	req POST /v1/pin "{\"pin\":\"$1\",\"factor\":$2}" application/json "$tok"
}
otpf() { echo "{\"type\":\"otp\",\"otp_id\":$1,\"code\":\"$2\"}"; }
# A code other than c (for "wrong code").
other() { printf '%06d' $(((10#$1 + 1) % 1000000)); }

# --- phone verification by SMS ----------------------------------------------------
phone=+6281299990001
account frida@example.com "$phone"
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok" "$url/v1/me")
expect 200 /v1/me
[ "$(jq -r .phone_verified "$tmp/out")" = false ] || fail "/v1/me: phone verified too early"
otp sms phone_verify
[ "$(jq -r .purpose "$tmp/out")" = phone_verify ] || fail "otp reply purpose"
c1=$(sms_code "$phone")
[ ${#c1} -eq 6 ] || fail "no 6-digit code in the SMS"
secrets+=("$c1")
[ "$(q "SELECT count(*) FROM ra_otp WHERE id = $oid AND account_id = $aid AND channel = 'sms'
	AND expires_at BETWEEN now() + interval '290 seconds' AND now() + interval '310 seconds'
	AND max_attempts = 3 AND length(code_hmac) = 32 AND code_hmac <> sha256(convert_to('$c1', 'UTF8'))")" = 1 ] ||
	fail "OTP row: channel, expiry (otp.ttl_seconds 300), max attempts or stored digest"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.otp.send' AND object_id = '$oid'
	AND details->>'purpose' = 'phone_verify' AND details->>'channel' = 'sms'")" = 1 ] ||
	fail "no audit event for the OTP"
req POST /v1/phone/verify "{\"otp_id\":$oid,\"code\":\"$(other "$c1")\"}" application/json "$tok"
expect 401 "wrong code"
detail | has 'wrong code; 2 attempt' || fail "wrong code detail: $(detail)"
[ "$(attempts "$oid")/$(failures)" = 1/1 ] || fail "wrong code not counted on the OTP and the account"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.otp.failed' AND object_id = '$oid'")" = 1 ] ||
	fail "wrong code not audited"
[ "$(q "SELECT phone_verified FROM ra_account WHERE id = $aid")" = f ] || fail "verified by a wrong code"
req POST /v1/phone/verify "{\"otp_id\":$oid,\"code\":\"$c1\"}" application/json "$tok"
expect 200 "phone verify"
[ "$(q "SELECT phone_verified || '/' || (phone_verified_at IS NOT NULL) || '/' || factor_failures FROM ra_account WHERE id = $aid")" = true/true/0 ] ||
	fail "phone not verified, or the failure count not reset"
[ "$(q "SELECT count(*) FROM ra_otp WHERE id = $oid AND consumed_at IS NOT NULL")" = 1 ] || fail "OTP not consumed"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.phone.verify' AND object_id = '$aid'")" = 1 ] ||
	fail "no audit event for the phone verification"
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok" "$url/v1/me")
[ "$(jq -r .phone_verified "$tmp/out")" = true ] || fail "/v1/me: phone_verified"
before
req POST /v1/phone/verify "{\"otp_id\":$oid,\"code\":\"$c1\"}" application/json "$tok"
expect 401 "reused code"
detail | has 'already used' || fail "reuse detail: $(detail)"
req POST /v1/otp '{"channel":"sms","purpose":"phone_verify"}' application/json "$tok"
expect 409 "phone already verified"
req POST /v1/otp '{"channel":"email","purpose":"phone_verify"}' application/json "$tok"
expect 400 "phone_verify by email"
req POST /v1/otp '{"channel":"sms","purpose":"launch"}' application/json "$tok"
expect 400 "unknown purpose"
req POST /v1/otp '{"channel":"fax","purpose":"revoke"}' application/json "$tok"
expect 400 "unknown channel"
req POST /v1/otp '{"channel":"sms","purpose":"revoke","to":"+6281"}' application/json "$tok"
expect 400 "unknown member"
req POST /v1/otp '{"channel":"sms","purpose":"revoke"}' text/plain "$tok"
expect 415 "otp content type"
req POST /v1/otp '{"channel":"sms","purpose":"revoke"}'
expect 401 "otp without a session"
req POST /v1/phone/verify "{\"otp_id\":$oid,\"code\":\"12345\"}" application/json "$tok"
expect 400 "five-digit code"
req POST /v1/phone/verify "{\"otp_id\":\"$oid\",\"code\":\"$c1\"}" application/json "$tok"
expect 400 "otp_id as a string"
req POST /v1/phone/verify "{\"otp_id\":$oid,\"otp_id\":1,\"code\":\"$c1\"}" application/json "$tok"
expect 400 "duplicate key"
unchanged "refused OTP requests and a reused code"
note "phone verification, wrong and reused codes: ok"

# --- expired, other purpose, dead after max_attempts ---------------------------------------
otp sms set_pin
ce=$(sms_code "$phone")
secrets+=("$ce")
q "UPDATE ra_otp SET expires_at = now() - interval '1 second' WHERE id = $oid" >/dev/null
before
pin_req 402917 "$(otpf "$oid" "$ce")"
expect 401 "expired OTP"
detail | has 'expired' || fail "expired detail: $(detail)"
unchanged "an expired OTP"
otp email revoke
cr=$(mail_code frida@example.com)
[ ${#cr} -eq 6 ] || fail "no code in the mail"
secrets+=("$cr")
before
pin_req 402917 "$(otpf "$oid" "$cr")"
expect 401 "OTP of another purpose"
detail | has 'issued for revoke, not set_pin' || fail "purpose detail: $(detail)"
unchanged "an OTP of another purpose"
otp email set_pin
cd3=$(mail_code frida@example.com)
secrets+=("$cd3")
for i in 1 2 3; do
	pin_req 402917 "$(otpf "$oid" "$(other "$cd3")")"
	expect 401 "wrong code $i"
done
detail | has 'now invalid' || fail "third wrong code detail: $(detail)"
[ "$(attempts "$oid")/$(failures)" = 3/3 ] || fail "attempts $(attempts "$oid"), failures $(failures)"
before
pin_req 402917 "$(otpf "$oid" "$cd3")"
expect 401 "the right code after max_attempts"
detail | has 'too many wrong codes' || fail "dead OTP detail: $(detail)"
unchanged "a dead OTP"
note "expired, other-purpose and dead OTPs: ok"

# --- lock-out after repeated wrong factors, back-off ------------------------------------
otp sms set_pin
cl=$(sms_code "$phone")
secrets+=("$cl")
lid=$oid
pin_req 402917 "$(otpf "$lid" "$(other "$cl")")"
expect 401 "fourth wrong factor"
pin_req 402917 "$(otpf "$lid" "$(other "$cl")")"
expect 401 "fifth wrong factor"
[ "$(failures)" = 5 ] || fail "failures $(failures)"
[ "$(q "SELECT details->>'locked_seconds' FROM audit_event WHERE action = 'ra.factor.lock' AND object_id = '$aid'")" = 300 ] ||
	fail "lock not audited with factor_lockout.base_seconds"
[ "$(q "SELECT count(*) FROM ra_account WHERE id = $aid AND factor_locked_until > now() + interval '290 seconds'")" = 1 ] ||
	fail "not locked for 300 s"
before
pin_req 402917 "$(otpf "$lid" "$cl")"
expect 429 "right code while locked"
grep -qi '^retry-after: [1-9]' "$tmp/hdr" || fail "429 without Retry-After"
req POST /v1/otp '{"channel":"sms","purpose":"set_pin"}' application/json "$tok"
expect 429 "OTP request while locked"
grep -qi '^retry-after: [1-9]' "$tmp/hdr" || fail "429 without Retry-After"
unchanged "factors while locked"
q "UPDATE ra_account SET factor_locked_until = now() - interval '1 second' WHERE id = $aid" >/dev/null
pin_req 402917 "$(otpf "$lid" "$(other "$cl")")"
expect 401 "sixth wrong factor"
[ "$(q "SELECT details->>'locked_seconds' FROM audit_event WHERE action = 'ra.factor.lock' AND object_id = '$aid' ORDER BY id DESC LIMIT 1")" = 600 ] ||
	fail "back-off did not double"
q "UPDATE ra_account SET factor_locked_until = now() - interval '1 second' WHERE id = $aid" >/dev/null
note "lock-out with Retry-After and back-off: ok"

# --- PIN: set with an OTP, trivial ones refused, replaced with the PIN -----------------------
otp sms set_pin
cp=$(sms_code "$phone")
secrets+=("$cp")
before
for bad in 123456 654321 111111 890123 12345 1234567 12a456; do
	pin_req "$bad" "$(otpf "$oid" "$cp")"
	expect 400 "trivial or malformed PIN $bad"
	detail | has '^pin:' || fail "PIN detail: $(detail)"
done
pin_req 402917 '{"type":"totp","code":"123456"}'
expect 400 "TOTP"
detail | has 'not enrolled' || fail "TOTP detail: $(detail)"
pin_req 402917 '{"type":"pin","pin":"402917"}'
expect 400 "PIN factor before any PIN"
detail | has 'no PIN' || fail "no-PIN detail: $(detail)"
pin_req 402917 "{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$cp\",\"x\":1}"
expect 400 "unknown factor member"
pin_req 402917 '{"type":"sms","code":"123456"}'
expect 400 "unknown factor type"
pin_req 402917 '"123456"'
expect 400 "factor not an object"
unchanged "refused PIN requests"
[ "$(notices frida@example.com)" = 0 ] || fail "a refused PIN request queued a notice"
secrets+=(402917 580263)
pin_req 402917 "$(otpf "$oid" "$cp")"
expect 200 "PIN set with an OTP"
[ "$(jq -r .replaced "$tmp/out")" = false ] || fail "first PIN said replaced"
# The owner is told, by the outbox, queued in the PIN's own transaction.
[ "$(notices frida@example.com)" = 1 ] || fail "no notice queued with the PIN"
f=$(wait_mail frida@example.com 'A PIN was set for your account') || fail "no notice of the PIN mailed"
tr -d '\r' <"$f" | has 'authorized by a one-time code' || fail "the notice does not say what authorized the PIN"
tr -d '\r' <"$f" | has '^If you did not do this, contact us at once' || fail "the notice does not say what to do"
tr -d '\r' <"$f" | has -E 'on [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z \(UTC\)' || fail "the notice does not say when"
! grep -qw 402917 "$f" || fail "the PIN is in its notice"
q "SELECT pin_hash FROM ra_account WHERE id = $aid" | has '^\$argon2id\$' || fail "PIN not hashed with Argon2id"
[ "$(failures)" = 0 ] || fail "a good factor did not reset the failures"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.pin.set' AND object_id = '$aid' AND details->>'factor' = 'otp'")" = 1 ] ||
	fail "no audit event for the PIN"
pin_req 580263 '{"type":"pin","pin":"402918"}'
expect 401 "wrong PIN"
[ "$(failures)" = 1 ] || fail "wrong PIN not counted"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.factor.failed' AND object_id = '$aid' AND details->>'type' = 'pin'")" = 1 ] ||
	fail "wrong PIN not audited"
h=$(q "SELECT pin_hash FROM ra_account WHERE id = $aid")
pin_req 580263 '{"type":"pin","pin":"402917"}'
expect 200 "PIN replaced with the PIN"
[ "$(jq -r .replaced "$tmp/out")" = true ] || fail "replacement not reported"
[ "$(q "SELECT pin_hash FROM ra_account WHERE id = $aid")" != "$h" ] || fail "PIN not replaced"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.pin.set' AND object_id = '$aid' AND details->>'factor' = 'pin'")" = 1 ] ||
	fail "no audit event for the replacement"
[ "$(notices frida@example.com)" = 2 ] || fail "no notice queued with the replacement (or one for the wrong PIN)"
f=$(wait_mail frida@example.com 'The PIN of your account was changed') || fail "no notice of the replacement mailed"
tr -d '\r' <"$f" | has 'authorized by your previous PIN' || fail "the replacement's notice does not name the PIN"
! grep -qwE '402917|580263' "$f" || fail "a PIN is in the replacement's notice"
pin_req 402917 '{"type":"pin","pin":"402917"}'
expect 401 "the old PIN after its replacement"
note "PIN set, trivial PINs refused, replaced through the verifier, notices mailed: ok"

# --- another account: no access to this one's OTPs; the per-account rate ----------------------
foid=$oid
account gustav@example.com +6281299990002
before
pin_req 402917 "$(otpf "$foid" "$cp")"
expect 401 "another account's OTP"
detail | has 'no such OTP' || fail "foreign OTP detail: $(detail)"
unchanged "another account's OTP"
limited=0
for i in $(seq 1 11); do
	req POST /v1/otp '{"channel":"email","purpose":"agreement"}' application/json "$tok"
	if [ "$code" = 429 ]; then limited=1; break; fi
	expect 201 "OTP $i within otp.per_hour"
	secrets+=("$(mail_code gustav@example.com)")
done
[ "$limited" = 1 ] && [ "$i" = 11 ] || fail "otp.per_hour (10) not enforced: 429 at $i"
expect 429 "OTP rate"
grep -qi '^retry-after: [1-9]' "$tmp/hdr" || fail "429 without Retry-After"
before
req POST /v1/otp '{"channel":"sms","purpose":"agreement"}' application/json "$tok"
expect 429 "OTP rate, sms"
unchanged "a rate-limited OTP request"
note "foreign OTP and otp.per_hour: ok"

# --- otp.per_phone_hour: SMS to one number, whichever accounts ask ----------------------------
# Three accounts on one number (numbers are not unique), against a rad
# allowing 2 SMS codes an hour to a number: the third account's is 429.
start_rad rad-phone PKI_OTP_PER_PHONE_HOUR=2
url_main=$url
url=$rad_url
shared=+62812$RANDOM$RANDOM
for who in 1 2 3; do
	account "phone$who-$$@example.com" "$shared"
	eval "ptok$who=\$tok"
done
tok=$ptok1; otp sms agreement
tok=$ptok2; otp sms agreement
# Counted by the number each code went to, not the accounts' numbers now.
[ "$(q "SELECT count(*) FROM ra_otp WHERE phone = '$shared' AND channel = 'sms'")" = 2 ] ||
	fail "the SMS codes do not record the number they went to"
tok=$ptok3
before
req POST /v1/otp '{"channel":"sms","purpose":"agreement"}' application/json "$tok"
expect 429 "a third SMS code to one number within the hour"
detail | has 'per_phone_hour' || fail "per-phone 429 detail: $(detail)"
grep -qi '^retry-after: [1-9]' "$tmp/hdr" || fail "per-phone 429 without Retry-After"
unchanged "an SMS code over otp.per_phone_hour"
otp email agreement	# the number's limit is no account's: email still goes
# An account that verified the number has a budget of its own: accounts
# that never proved they hold it (no address verified needed to register
# one) cannot spend it and so keep its owner from every SMS code.
account "phone4-$$@example.com" "$shared"
q "UPDATE ra_account SET phone_verified = true, phone_verified_at = now() WHERE id = $aid" >/dev/null
otp sms agreement
secrets+=("$(sms_code "$shared")")
otp sms agreement
secrets+=("$(sms_code "$shared")")
before
req POST /v1/otp '{"channel":"sms","purpose":"agreement"}' application/json "$tok"
expect 429 "a third SMS code to one number within the hour, among accounts that verified it"
unchanged "an SMS code over otp.per_phone_hour (verified)"
tok=$ptok3
req POST /v1/otp '{"channel":"sms","purpose":"agreement"}' application/json "$tok"
expect 429 "the unverified accounts' budget, after the verified one's codes"
[ "$(q "SELECT count(*) FILTER (WHERE phone_verified) || '/' || count(*) FILTER (WHERE NOT phone_verified)
	FROM ra_otp WHERE phone = '$shared'")" = 2/2 ] || fail "the SMS codes do not record whether the number was verified"
# Each code keeps the kind it was sent as: an account that leaves the
# number after its codes does not give the verified budget back.
q "UPDATE ra_account SET phone = '+6281299990099', phone_verified = false, phone_verified_at = NULL WHERE id = $aid" >/dev/null
account "phone5-$$@example.com" "$shared"
q "UPDATE ra_account SET phone_verified = true, phone_verified_at = now() WHERE id = $aid" >/dev/null
req POST /v1/otp '{"channel":"sms","purpose":"agreement"}' application/json "$tok"
expect 429 "the verified budget, after the account that spent it left the number"
url=$url_main
note "otp.per_phone_hour: the third account's SMS code to a shared number refused (429), its email code sent; an account that verified the number has a budget of its own"

# --- otp.per_hour across processes: a send committed while this one waited --------------------
# An open transaction stands in for another rad process's send: it holds the
# account's row lock and inserts the hour's tenth OTP. rad's request waits
# for the lock; once the other commits, rad must count the tenth (429).
account hilda@example.com +6281299990003
q "INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts)
	SELECT $aid, 'sms', 'agreement', sha256(convert_to('race' || i, 'UTF8')), now() + interval '5 minutes', 3
	FROM generate_series(1, 9) i" >/dev/null
open_tx
echo "BEGIN; SELECT 1 FROM ra_account WHERE id = $aid FOR UPDATE;
    INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts)
    VALUES ($aid, 'sms', 'agreement', sha256('race10'), now() + interval '5 minutes', 3) RETURNING id;" >&"$tx_in"
read -r -t 10 locked <&"$tx_out" && read -r -t 10 tenth <&"$tx_out" || fail "the open transaction did not insert"
[ "$locked" = 1 ] && [[ $tenth =~ ^[0-9]+$ ]] || fail "the open transaction: $locked $tenth"
before
curl -sS -X POST -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Content-Type: application/json" \
    -H "Authorization: Bearer $tok" --data-binary '{"channel":"sms","purpose":"agreement"}' \
    "$url/v1/otp" >"$tmp/race.code" &
race_pid=$!
waiting=0
wait_lock pki_ra && waiting=1
commit_tx
wait "$race_pid" || fail "curl POST /v1/otp failed"
[ "$waiting" = 1 ] || fail "rad's send did not wait for the account's lock (the race was not tested)"
code=$(cat "$tmp/race.code")
jq -r '.detail // empty' "$tmp/out" >>"$tmp/details" 2>/dev/null || true
expect 429 "an OTP over otp.per_hour, the tenth committed while rad waited"
grep -qi '^retry-after: [1-9]' "$tmp/hdr" || fail "429 without Retry-After"
[ "$(q "SELECT count(*) FROM ra_otp WHERE account_id = $aid")" = 10 ] ||
	fail "otp.per_hour exceeded across processes: $(q "SELECT count(*) FROM ra_otp WHERE account_id = $aid") OTPs"
state >"$tmp/state.race"
# The one change: the tenth OTP of the open transaction.
[ "$(sed -n 1p "$tmp/state.race" | cut -d/ -f7)" = "$(($(sed -n 1p "$tmp/state.before" | cut -d/ -f7) + 1))" ] &&
    [ "$(tail -n+2 "$tmp/state.race")" = "$(tail -n+2 "$tmp/state.before")" ] ||
	fail "the refused send changed more than the open transaction did: $(tr '\n' ' ' <"$tmp/state.before") -> $(tr '\n' ' ' <"$tmp/state.race")"
note "otp.per_hour across processes (a send committed during the lock wait): ok"

# --- a refused factor costs no Argon2id of the new PIN or password ---------------------------
# rad hashes a new PIN or password only once its factor (and, for a
# password, the lock-out and the current password) passed: a session
# looping refused requests must not keep rad's one HTTP thread in Argon2id.
# A rad of its own whose Argon2id costs 32 times the policy's (t_cost 64,
# the policy's maximum) shows it in its CPU time (utime + stime of
# /proc/PID/stat, every thread, in clock ticks): a PIN set that passes
# hashes once, the yardstick; thirteen refused requests together must cost
# less than half of it (hashing, each would cost one).
account ivan@example.com +6281299990004
start_rad rad-argon2 PKI_PASSWORD_ARGON2_T_COST=64
url_main=$url
url=$rad_url
cpu() { awk '{print $14 + $15}' "/proc/$rad_pid/stat"; }
otp sms set_pin
ci=$(sms_code +6281299990004)
secrets+=("$ci" 613847 580263)
c0=$(cpu)
pin_req 613847 "$(otpf "$oid" "$ci")"
expect 200 "PIN set by the costly rad"
yard=$(($(cpu) - c0))
h=$(q "SELECT pin_hash FROM ra_account WHERE id = $aid")
[[ $h == '$argon2id$v=19$m=19456,t=64,'* ]] || fail "the costly rad's PIN hash: $(cut -d'$' -f2-4 <<<"$h")"
[ "$yard" -ge 10 ] || fail "one Argon2id at t_cost 64 took $yard ticks: too little to tell"
wait_mail ivan@example.com 'A PIN was set for your account' >/dev/null || fail "no notice of ivan's PIN"
otp sms set_pin	# a right code, never used below
cu=$(sms_code +6281299990004)
secrets+=("$cu")
c0=$(cpu)
for i in 1 2 3 4 5; do	# refused, not counted: free to repeat
	pin_req 580263 "$(otpf 999999999 "$cu")"
	expect 401 "an unknown OTP ($i)"
done
pin_req 580263 "$(otpf "$oid" "$(other "$cu")")"
expect 401 "a wrong code"
q "UPDATE ra_account SET factor_locked_until = now() + interval '5 minutes' WHERE id = $aid" >/dev/null
for i in 1 2 3 4; do
	pin_req 580263 "$(otpf "$oid" "$cu")"
	expect 429 "a right code while the factors are locked ($i)"
done
q "UPDATE ra_account SET locked_until = now() + interval '5 minutes' WHERE id = $aid" >/dev/null
for i in 1 2 3; do
	req POST /v1/password "{\"current_password\":\"$pw\",\"new_password\":\"Other-Horse9-x\",\"factor\":$(otpf "$oid" "$cu")}" application/json "$tok"
	expect 429 "a password change while the account is locked ($i)"
done
spent=$(($(cpu) - c0))
[ $((2 * spent)) -lt "$yard" ] ||
	fail "13 refused requests cost $spent ticks of CPU, one Argon2id $yard: the new secret is hashed before its factor is checked"
[ "$(q "SELECT pin_hash FROM ra_account WHERE id = $aid")" = "$h" ] || fail "a refused request changed the PIN"
[ "$(q "SELECT consumed_at IS NULL FROM ra_otp WHERE id = $oid")" = t ] || fail "a refused request used the OTP"
[ "$(notices ivan@example.com)" = 1 ] || fail "a refused request queued a notice"
q "UPDATE ra_account SET factor_locked_until = NULL, locked_until = NULL, factor_failures = 0 WHERE id = $aid" >/dev/null
url=$url_main
note "refused PIN and password requests: no Argon2id ($spent ticks for 13, one hash $yard): ok"

# --- no secret in rad's log, audit_event or a problem detail ------------------------------------
secrets+=("$(cat "$PKI_DIR/secrets/ra-otp.key")")
audit_text "$tmp/audit.txt"
no_secret_in "$log" "$log"
no_secret_in audit_event "$tmp/audit.txt"
no_secret_in "a problem detail" "$tmp/details"
! grep -q '"level":"err"' "$log" || { grep '"level":"err"' "$log"; fail "errors in $log"; }
note "no secret in the log, the audit trail or a detail: ok"
