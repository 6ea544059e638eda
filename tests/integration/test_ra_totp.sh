#!/usr/bin/env bash
# Subscriber TOTP and the sensitive account changes (issue 3) over HTTP with
# curl against the stack of tests/run.sh: TOTP enrolled with an SMS OTP of
# purpose totp_enrol, confirmed with a code computed here by oathtool
# (RFC 6238), then used as the factor of POST /v1/pin; a replayed code 401
# (not counted), wrong codes counted to the factor lock-out (429); the
# secret stored sealed, not in clear; a new enrolment replaces the old one
# only once confirmed; each confirmation, and each PIN it authorizes, mails
# the account a notice (the outbox, queued with the change). Password
# change (weak 400, wrong current 401 and counted, other sessions revoked,
# new password logs in), email change (pending: the address kept, email
# OTPs to it, until the link to the new address is opened; duplicate 409,
# also when the address is registered while the opened link's change waits
# on the unique index, and the link then fails, used up; a code mailed to
# the old address 401 once the change is made), phone change (verification
# reset, same number 409, codes of any purpose sent to the old number 401).
# Each change queues its notice ("Your password was changed", "... email
# address ...", "... phone number ...") in the outbox in its own
# transaction (the email change's: the link's): there when the answer
# comes (its created_at is the now() of the change's transaction), none for
# a refused or rolled-back change (an email change whose link cannot be
# mailed: 503). Each is made while its delivery fails (the mail sink
# refuses rad): it waits in the outbox with its failure and arrives once
# the sink accepts again; the email change's notice goes to the old
# address. test_ra_email.sh tests the rest of POST /v1/email. Every refusal
# changes nothing but the failure counters; no secret in rad's log,
# audit_event or a detail.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
url=$PKI_RA_URL
mail=$PKI_DIR/spool/ra-mail
sms=$PKI_DIR/spool/ra-sms
log=$PKI_DIR/log/ra.log
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
secrets=()	# every code, PIN, password, secret and token used
touch "$tmp/details"
command -v oathtool >/dev/null || fail "oathtool missing (deploy/packages.txt; make deps)"

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
req_patient() {
	local i
	for i in 1 2 3; do
		req "$@"
		[ "$code" = 429 ] || return 0
		sleep "$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/ip' "$tmp/hdr" | sed -n 1p)"
	done
}
me() { # me TOKEN: GET /v1/me into $tmp/out
	code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $1" "$url/v1/me")
}
# Everything a refusal must leave alone; the failure counters separately.
state() {
	q "SELECT (SELECT count(*) FROM ra_account) || '/' ||
	    (SELECT string_agg(md5(email || phone || password_hash || email_verified || phone_verified ||
		coalesce(pin_hash, '') || coalesce(encode(totp_secret_enc, 'hex'), '') ||
		coalesce(encode(totp_pending_enc, 'hex'), '') || totp_last_step), ',' ORDER BY id) FROM ra_account) || '/' ||
	    (SELECT count(*) FROM ra_otp) || '/' ||
	    (SELECT count(*) FROM ra_otp WHERE consumed_at IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM ra_session WHERE revoked_at IS NULL) || '/' ||
	    (SELECT count(*) FROM ra_email_verification WHERE used_at IS NULL) || '/' ||
	    (SELECT count(*) FROM ra_email_verification) || '/' ||
	    $AUDIT_MAX_OWN"
	{ grep -E -i -l -- "^To: <$own_mail>" "$mail"/*.eml 2>/dev/null || true; } | wc -l
	find "$sms" -type f 2>/dev/null | wc -l
}
# The mail sink counted by this test's recipients (rad's outbox sends the
# other tests' mail, @example.com too, whenever it comes), and this test's
# own queued mail (the notices of a factor or an address changed) sent
# before the snapshot, not during the request. The SMS sink is counted
# whole: only a request's handler sends an SMS (ra/factor.c), no daemon in
# the background. The audit without the events of rad's notifier and the
# stack's cad (AUDIT_MAX_OWN): they write theirs for an earlier test's
# application, order or outbox mail in any window, and a request to rad's
# HTTP API writes neither.
own_mail="(tari|tari\.new|uma|race-$$)@example\.com"
counters() {
	q "SELECT factor_failures || '/' || failed_logins || '/' || (factor_locked_until IS NOT NULL) || '/' ||
	    (locked_until IS NOT NULL) FROM ra_account WHERE id = $aid"
}
before() {
	outbox_settled_re "^$own_mail\$" || fail "rad's outbox did not send this test's mail within 30 s"
	state >"$tmp/state.before"
	counters >"$tmp/counters.before"
}
unchanged() { # unchanged WHAT [counters-too]
	state >"$tmp/state.after"
	cmp -s "$tmp/state.before" "$tmp/state.after" ||
		fail "$1 changed state: $(tr '\n' ' ' <"$tmp/state.before") -> $(tr '\n' ' ' <"$tmp/state.after")"
	[ "$(counters)" = "$(cat "$tmp/counters.before")" ] ||
		fail "$1 changed the failure counters: $(cat "$tmp/counters.before") -> $(counters)"
}
newest() { # newest DIR [PATTERN]: the newest file of a sink (holding PATTERN, grep)
	local f
	f=$(grep -l -- "${2:-}" "$1"/* 2>/dev/null | xargs -r ls -t | sed -n 1p)
	[ -n "$f" ] || fail "no message${2:+ with '$2'} in $1"
	echo "$f"
}
# The newest one-time code mail, not the newest mail of the sink: rad's
# outbox sends the other tests' mail (and this test's notices) whenever it
# comes, while only a request's handler mails a one-time code (ra/factor.c),
# never the outbox.
otp_mail='^Subject: Your one-time code'
sms_code() { # sms_code PHONE
	local f
	f=$(newest "$sms")
	grep -q "^To: $1" "$f" || fail "newest SMS is not to $1"
	sed -n 's/.*PKI RA code \([0-9]\{6\}\) for.*/\1/p' "$f" | sed -n 1p
}
mail_code() { # mail_code EMAIL: the code of the newest one-time code mail, sent to EMAIL
	local f
	f=$(newest "$mail" "$otp_mail")
	grep -q "^To: <$1>" "$f" || fail "newest one-time code mail is not to $1"
	tr -d '\r' <"$f" | sed -n 's/^ *\([0-9]\{6\}\)$/\1/p' | sed -n 1p
}
mail_token() { # mail_token EMAIL [DIR]: the token of the newest link to EMAIL in DIR ($mail)
	local f
	f=$(grep -l -- "^To: <$1>" "${2:-$mail}"/*.eml | xargs ls -t | sed -n 1p)
	sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$f" | tr -d '\r' | sed -n 1p
}
pw='Totp-Horse9-staple'
secrets+=("$pw")
account() { # account EMAIL PHONE: registered, verified, logged in; sets aid and tok
	req_patient POST /v1/register "{\"email\":\"$1\",\"phone\":\"$2\",\"password\":\"$pw\"}"
	expect 201 "register $1"
	aid=$(jq -r .id "$tmp/out")
	local v
	v=$(mail_token "$1")
	secrets+=("$v")
	req POST /v1/verify-email "{\"token\":\"$v\"}"
	expect 200 "verify $1"
	login "$1" "$pw"
	tok=$t
}
login() { # login EMAIL PASSWORD: sets t
	req_patient POST /v1/login "{\"email\":\"$1\",\"password\":\"$2\"}"
	expect 200 "login $1"
	t=$(jq -r .token "$tmp/out")
	secrets+=("$t")
}
otp() { # otp CHANNEL PURPOSE: sets oid and c (the code, from the sink)
	req POST /v1/otp "{\"channel\":\"$1\",\"purpose\":\"$2\"}" application/json "$tok"
	expect 201 "otp $1 $2"
	oid=$(jq -r .otp_id "$tmp/out")
	c=$(sms_code "$phone")
	secrets+=("$c")
}
otpf() { echo "{\"type\":\"otp\",\"otp_id\":$1,\"code\":\"$2\"}"; }
totpf() { echo "{\"type\":\"totp\",\"code\":\"$1\"}"; }
# code SECRET [OFFSET]: the TOTP code of now + OFFSET seconds.
code_of() { oathtool --totp -b -N "now ${2:-+ 0} seconds" "$1"; }
other() { printf '%06d' $(((10#$1 + 1) % 1000000)); }
# A code matching none of the steps now-1..now+1 of SECRET.
wrong_code() {
	local w=$(other "$(code_of "$1")")
	while [ "$w" = "$(code_of "$1" '- 30')" ] || [ "$w" = "$(code_of "$1" '+ 30')" ] ||
	    [ "$w" = "$(code_of "$1")" ]; do
		w=$(other "$w")
	done
	echo "$w"
}
failures() { q "SELECT factor_failures FROM ra_account WHERE id = $aid"; }
# notice EMAIL SUBJECT: how many notices of SUBJECT the outbox holds for EMAIL.
notice() { q "SELECT count(*) FROM ra_mail_outbox WHERE recipient = '$1' AND subject = '$2'"; }
# notice_id EMAIL SUBJECT: the newest such notice's outbox id.
notice_id() { q "SELECT max(id) FROM ra_mail_outbox WHERE recipient = '$1' AND subject = '$2'"; }
# outbox_row ID: tried, sent, failing (last_error) and the text kept, as t|f.
outbox_row() { q "SELECT attempts >= 1, sent_at IS NOT NULL, last_error IS NOT NULL, body <> '' FROM ra_mail_outbox WHERE id = $1"; }
# notice_failing ID: the notice was tried while mail fails (within 10 s) and
# waits in the outbox, backed off, with its failure.
notice_failing() {
	local i
	for ((i = 0; i < 100; i++)); do [ "$(outbox_row "$1")" = 't|f|t|t' ] && break; sleep 0.1; done
	[ "$(outbox_row "$1")" = 't|f|t|t' ] &&
	    [ "$(q "SELECT next_attempt_at > now() FROM ra_mail_outbox WHERE id = $1")" = t ] ||
		fail "outbox mail $1 is not waiting with its failure: $(outbox_row "$1")"
}
# notice_delivered ID EMAIL SUBJECT: the sink accepts again; the notice, due
# now rather than after its back-off, is mailed to EMAIL by the notifier's
# next round; prints the message's file. Its row then sent, its text gone.
notice_delivered() {
	local i f
	chmod 0700 "$mail"
	q "UPDATE ra_mail_outbox SET next_attempt_at = now() WHERE id = $1;
	    SELECT pg_notify('ra_mail', '')" >/dev/null
	f=$(wait_mail "$2" "^Subject: $3") || fail "the notice \"$3\" never reached $2 once mail worked again"
	for ((i = 0; i < 50; i++)); do [ "$(outbox_row "$1")" = 't|t|f|f' ] && break; sleep 0.1; done
	[ "$(outbox_row "$1")" = 't|t|f|f' ] || fail "outbox mail $1 after sending: $(outbox_row "$1")"
	echo "$f"
}
audits() { q "SELECT count(*) FROM audit_event WHERE action = '$1' AND object_id = '$aid'"; }

# --- enrolment: an OTP of purpose totp_enrol, then the confirmation ---------------------
phone=+6281299997001
account tari@example.com "$phone"
acct1=$aid
otp sms set_pin
before
req POST /v1/totp "{\"factor\":$(otpf "$oid" "$c")}" application/json "$tok"
expect 401 "an OTP of another purpose"
detail | has 'issued for set_pin, not totp_enrol' || fail "purpose detail: $(detail)"
req POST /v1/totp "{\"factor\":$(otpf "$oid" "$c")}" text/plain "$tok"
expect 415 "enrol content type"
req POST /v1/totp "{\"factor\":$(otpf "$oid" "$c"),\"label\":\"x\"}" application/json "$tok"
expect 400 "unknown member"
req POST /v1/totp "{\"factor\":$(otpf "$oid" "$c")}"
expect 401 "enrol without a session"
req POST /v1/totp "{\"factor\":$(totpf 123456)}" application/json "$tok"
expect 400 "TOTP factor before any enrolment"
detail | has 'not enrolled' || fail "not-enrolled detail: $(detail)"
req POST /v1/totp/confirm '{"code":"123456"}' application/json "$tok"
expect 409 "confirm without a pending enrolment"
unchanged "refused enrolments"
otp sms totp_enrol
req POST /v1/totp "{\"factor\":$(otpf "$oid" "$c")}" application/json "$tok"
expect 201 "enrol"
grep -qi '^cache-control: no-store' "$tmp/hdr" || fail "the secret's reply is cacheable"
secret=$(jq -r .secret "$tmp/out")
uri=$(jq -r .otpauth_uri "$tmp/out")
secrets+=("$secret")
[[ $secret =~ ^[A-Z2-7]{32}$ ]] || fail "secret is not 32 base32 characters"
[[ $uri == "otpauth://totp/PKI%20RA:tari%40example.com?secret=$secret&issuer=PKI%20RA&algorithm=SHA1&digits=6&period=30" ]] ||
	fail "otpauth URI: $uri"
[ "$(jq -r .status "$tmp/out")" = pending ] || fail "enrolment not pending"
hex=$(printf '%s' "$secret" | base32 -d | od -An -tx1 | tr -d ' \n')
[ ${#hex} = 40 ] || fail "secret is not 20 bytes"
[ "$(q "SELECT length(totp_pending_enc) || '/' || (totp_secret_enc IS NULL) || '/' ||
	(position(decode('$hex', 'hex') IN totp_pending_enc) = 0) FROM ra_account WHERE id = $aid")" = 48/true/true ] ||
	fail "pending secret not sealed (48 bytes without the secret in clear)"
[ "$(q "SELECT count(*) FROM ra_otp WHERE id = $oid AND consumed_at IS NOT NULL")" = 1 ] || fail "OTP not consumed"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.totp.enrol' AND object_id = '$aid'
	AND details->>'factor' = 'otp' AND details->>'otp_id' = '$oid'")" = 1 ] || fail "no audit of the enrolment"
# Not usable before confirmation.
before
req POST /v1/pin "{\"pin\":\"402917\",\"factor\":$(totpf "$(code_of "$secret")")}" application/json "$tok"
expect 400 "TOTP before confirmation"
w=$(wrong_code "$secret")
req POST /v1/totp/confirm "{\"code\":\"$w\"}" application/json "$tok"
expect 422 "confirm with a wrong code"
req POST /v1/totp/confirm '{"code":"12345"}' application/json "$tok"
expect 400 "confirm with five digits"
req POST /v1/totp/confirm "{\"code\":\"$w\",\"code\":\"$w\"}" application/json "$tok"
expect 400 "confirm with a duplicate key"
unchanged "refused confirmations"
[ "$(notice tari@example.com 'An authenticator app was set up for your account')" = 0 ] ||
	fail "an enrolment or a refused confirmation queued a notice"
c0=$(code_of "$secret")
secrets+=("$c0")
req POST /v1/totp/confirm "{\"code\":\"$c0\"}" application/json "$tok"
expect 200 "confirm"
[ "$(jq -r '"\(.totp_enrolled)/\(.replaced)"' "$tmp/out")" = true/false ] || fail "confirm reply: $(cat "$tmp/out")"
[ "$(q "SELECT length(totp_secret_enc) || '/' || (totp_pending_enc IS NULL) || '/' || (totp_confirmed_at IS NOT NULL) || '/' ||
	(position(decode('$hex', 'hex') IN totp_secret_enc) = 0) || '/' ||
	(totp_last_step BETWEEN $(( $(date +%s) / 30 - 2 )) AND $(( $(date +%s) / 30 + 1 ))) FROM ra_account WHERE id = $aid")" = 48/true/true/true/true ] ||
	fail "confirmed secret: not sealed, still pending, or the step not stored"
[ "$(audits ra.totp.confirm)" = 1 ] || fail "no audit of the confirmation"
# The owner is told, by the outbox, queued in the confirmation's transaction.
[ "$(notice tari@example.com 'An authenticator app was set up for your account')" = 1 ] ||
	fail "no notice queued with the confirmation"
f=$(wait_mail tari@example.com 'An authenticator app \(TOTP\) was set up for your account on [0-9-]{10}T[0-9:]{8}Z \(UTC\)') ||
	fail "no notice of the TOTP mailed"
tr -d '\r' <"$f" | has '^If you did not do this, contact us at once' || fail "the TOTP notice does not say what to do"
! grep -qF "$secret" "$f" || fail "the TOTP secret is in its notice"
note "enrolment (OTP totp_enrol), sealed storage, confirmation, its notice: ok"

# --- TOTP as a factor: replay, success, wrong codes and the lock-out ---------------------
before
req POST /v1/pin "{\"pin\":\"402917\",\"factor\":$(totpf "$c0")}" application/json "$tok"
expect 401 "replayed TOTP code"
detail | has 'already used' || fail "replay detail: $(detail)"
unchanged "a replayed code (not counted)"
c1=$(code_of "$secret" '+ 30')
secrets+=("$c1" 402917 580263)
req POST /v1/pin "{\"pin\":\"402917\",\"factor\":$(totpf "$c1")}" application/json "$tok"
expect 200 "PIN set with TOTP"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.pin.set' AND object_id = '$aid' AND details->>'factor' = 'totp'")" = 1 ] ||
	fail "no audit of the PIN set with TOTP"
wait_mail tari@example.com 'A PIN was set for your account on .*, authorized by your authenticator app' >/dev/null ||
	fail "no notice of the PIN set with TOTP"
req POST /v1/pin "{\"pin\":\"580263\",\"factor\":$(totpf "$c1")}" application/json "$tok"
expect 401 "the same code again"
for i in 1 2 3 4 5; do
	req POST /v1/pin "{\"pin\":\"580263\",\"factor\":$(totpf "$(wrong_code "$secret")")}" application/json "$tok"
	expect 401 "wrong TOTP code $i"
	detail | has 'wrong TOTP code' || fail "wrong code detail: $(detail)"
	[ "$(failures)" = "$i" ] || fail "wrong TOTP code $i not counted ($(failures))"
done
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.factor.failed' AND object_id = '$aid' AND details->>'type' = 'totp'")" = 5 ] ||
	fail "wrong TOTP codes not audited"
[ "$(audits ra.factor.lock)" = 1 ] || fail "no lock after 5 wrong factors"
q "UPDATE ra_account SET totp_last_step = 0 WHERE id = $aid" >/dev/null	# test shortcut: no 30 s wait
before
req POST /v1/pin "{\"pin\":\"580263\",\"factor\":$(totpf "$(code_of "$secret")")}" application/json "$tok"
expect 429 "a right code while locked"
grep -qi '^retry-after: [1-9]' "$tmp/hdr" || fail "429 without Retry-After"
unchanged "a factor while locked"
q "UPDATE ra_account SET factor_failures = 0, factor_locked_until = NULL WHERE id = $aid" >/dev/null
note "TOTP factor: replay 401, success, wrong codes counted, lock-out 429: ok"

# --- a new enrolment replaces the old one only when confirmed ---------------------------
old_enc=$(q "SELECT encode(totp_secret_enc, 'hex') FROM ra_account WHERE id = $aid")
req POST /v1/totp '{"factor":{"type":"pin","pin":"402917"}}' application/json "$tok"
expect 201 "a second enrolment, authorized by the PIN"
[ "$(jq -r .replaces_active "$tmp/out")" = true ] || fail "replaces_active"
secret2=$(jq -r .secret "$tmp/out")
secrets+=("$secret2")
[ "$secret2" != "$secret" ] || fail "the same secret twice"
[ "$(q "SELECT encode(totp_secret_enc, 'hex') FROM ra_account WHERE id = $aid")" = "$old_enc" ] ||
	fail "an unconfirmed enrolment replaced the active secret"
q "UPDATE ra_account SET totp_last_step = 0 WHERE id = $aid" >/dev/null
req POST /v1/pin "{\"pin\":\"580263\",\"factor\":$(totpf "$(code_of "$secret")")}" application/json "$tok"
expect 200 "the old TOTP still works while the new one is pending"
wait_mail tari@example.com 'The PIN of your account was changed' >/dev/null || fail "no notice of the PIN replaced"
[ "$(notice tari@example.com 'Your authenticator app was replaced')" = 0 ] ||
	fail "a pending enrolment queued a notice of a replacement"
# Pending too long: expired, nothing changes.
q "UPDATE ra_account SET totp_pending_at = now() - interval '11 minutes' WHERE id = $aid" >/dev/null
before
req POST /v1/totp/confirm "{\"code\":\"$(code_of "$secret2")\"}" application/json "$tok"
expect 409 "an expired pending enrolment"
detail | has 'expired' || fail "expired detail: $(detail)"
unchanged "an expired confirmation"
q "UPDATE ra_account SET totp_pending_at = now() WHERE id = $aid" >/dev/null
req POST /v1/totp/confirm "{\"code\":\"$(code_of "$secret2")\"}" application/json "$tok"
expect 200 "confirm the second secret"
[ "$(jq -r .replaced "$tmp/out")" = true ] || fail "replacement not reported"
[ "$(q "SELECT encode(totp_secret_enc, 'hex') FROM ra_account WHERE id = $aid")" != "$old_enc" ] ||
	fail "the confirmed enrolment did not replace the old one"
[ "$(notice tari@example.com 'Your authenticator app was replaced')" = 1 ] || fail "no notice queued with the replacement"
f=$(wait_mail tari@example.com 'The authenticator app \(TOTP\) of your account was replaced') ||
	fail "no notice of the TOTP replacement mailed"
tr -d '\r' <"$f" | has 'previous one no longer work' || fail "the replacement's notice: $(tr -d '\r' <"$f")"
q "UPDATE ra_account SET totp_last_step = 0 WHERE id = $aid" >/dev/null
req POST /v1/pin "{\"pin\":\"402917\",\"factor\":$(totpf "$(wrong_code "$secret2")")}" application/json "$tok"
expect 401 "a code of neither secret"
c_old=$(code_of "$secret")
if [ "$c_old" != "$(code_of "$secret2")" ] && [ "$c_old" != "$(code_of "$secret2" '- 30')" ] &&
    [ "$c_old" != "$(code_of "$secret2" '+ 30')" ]; then
	req POST /v1/pin "{\"pin\":\"402917\",\"factor\":$(totpf "$c_old")}" application/json "$tok"
	expect 401 "the replaced secret's code"
fi
q "UPDATE ra_account SET factor_failures = 0 WHERE id = $aid" >/dev/null
note "replacement only on confirmation (then its notice), expiry: ok"

# --- password change ----------------------------------------------------------------------
pin=580263	# the PIN now set (by the last successful POST /v1/pin)
q "SELECT count(*) FROM ra_account WHERE id = $aid AND pin_hash IS NOT NULL" | has -x 1 || fail "no PIN"
login tari@example.com "$pw"
tok2=$t
tok2_sid=$(q "SELECT max(id) FROM ra_session WHERE account_id = $aid")
newpw='Second-Lantern7-river'
secrets+=("$newpw")
before
req POST /v1/password "{\"current_password\":\"$pw\",\"new_password\":\"short\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" application/json "$tok"
expect 400 "a weak new password"
req POST /v1/password "{\"current_password\":\"$pw\",\"new_password\":\"$pw\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" application/json "$tok"
expect 400 "the same password"
req POST /v1/password "{\"current_password\":\"$pw\",\"new_password\":\"$newpw\"}" application/json "$tok"
expect 400 "no factor"
req POST /v1/password "{\"current_password\":\"$pw\",\"new_password\":\"$newpw\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" text/plain "$tok"
expect 415 "password content type"
unchanged "refused password changes"
before
req POST /v1/password "{\"current_password\":\"Wrong-Horse9-staple\",\"new_password\":\"$newpw\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" application/json "$tok"
expect 401 "a wrong current password"
grep -qi '^www-authenticate' "$tmp/hdr" && fail "401 of a wrong password asks for a Bearer token"
[ "$(counters)" = 0/1/false/false ] || fail "wrong current password not counted in failed_logins: $(counters)"
[ "$(audits ra.account.password_failed)" = 1 ] || fail "wrong current password not audited"
q "UPDATE ra_account SET failed_logins = 0 WHERE id = $aid" >/dev/null
# Only the count and its audit event: the account, OTPs, sessions, mail alike.
[ "$(state | sed -n 1p | cut -d/ -f1-7)" = "$(head -n1 "$tmp/state.before" | cut -d/ -f1-7)" ] &&
    [ "$(state | tail -n+2)" = "$(tail -n+2 "$tmp/state.before")" ] ||
	fail "a wrong current password changed the account, an OTP, a session or sent mail"
before
req POST /v1/password "{\"current_password\":\"$pw\",\"new_password\":\"$newpw\",\"factor\":{\"type\":\"pin\",\"pin\":\"402918\"}}" application/json "$tok"
expect 401 "a wrong PIN"
[ "$(failures)" = 1 ] || fail "wrong PIN not counted"
q "UPDATE ra_account SET factor_failures = 0 WHERE id = $aid" >/dev/null
[ "$(notice tari@example.com 'Your password was changed')" = 0 ] ||
	fail "a refused password change (committed failure counts included) queued a notice"
h=$(q "SELECT password_hash FROM ra_account WHERE id = $aid")
# The mail sink refuses rad (user pki-ra; root passes) while the password
# changes: the change stands, its notice waits in the outbox.
chmod 0500 "$mail"
at_exit "chmod 0700 '$mail'"
req POST /v1/password "{\"current_password\":\"$pw\",\"new_password\":\"$newpw\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" application/json "$tok"
expect 200 "password change while mail cannot be sent"
[ "$(jq -r .sessions_revoked "$tmp/out")" = 1 ] || fail "sessions_revoked: $(cat "$tmp/out")"
# Queued by the change's transaction: there with the answer, created at
# that transaction's now() (the revocation time of the other session).
[ "$(notice tari@example.com 'Your password was changed')" = 1 ] || fail "no notice queued with the password change"
nid=$(notice_id tari@example.com 'Your password was changed')
[ "$(q "SELECT m.created_at = s.revoked_at FROM ra_mail_outbox m, ra_session s WHERE m.id = $nid AND s.id = $tok2_sid")" = t ] ||
	fail "the password change's notice was not queued in its transaction"
notice_failing "$nid"
h2=$(q "SELECT password_hash FROM ra_account WHERE id = $aid")
[ "$h2" != "$h" ] && [[ $h2 == '$argon2id$'* ]] || fail "password not re-hashed with Argon2id"
me "$tok2"
[ "$code" = 401 ] || fail "the other session survived the password change"
me "$tok"
[ "$code" = 200 ] || fail "the changing session was revoked"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.password_change' AND object_id = '$aid'
	AND details->>'factor' = 'pin' AND details->>'sessions_revoked' = '1'")" = 1 ] || fail "no audit of the password change"
req POST /v1/login "{\"email\":\"tari@example.com\",\"password\":\"$pw\"}"
expect 401 "the old password"
q "UPDATE ra_account SET failed_logins = 0 WHERE id = $aid" >/dev/null
login tari@example.com "$newpw"
f=$(notice_delivered "$nid" tari@example.com 'Your password was changed')
tr -d '\r' <"$f" | has '^The password of your account was changed, and every other session was logged out\.$' &&
    tr -d '\r' <"$f" | has '^If you did not do this, contact us at once\.$' ||
	fail "the password change's notice: $(tr -d '\r' <"$f")"
! grep -qF -e "$pw" -e "$newpw" "$f" || fail "a password is in the password change's notice"
note "password change: weak 400, wrong current 401 (counted), sessions revoked, new password, notice through the outbox despite a failing sink: ok"

# --- email change -------------------------------------------------------------------------
phone2=+6281299997002
saved_tok=$tok; saved_aid=$aid; saved_phone=$phone
account uma@example.com "$phone2"
uma_tok=$tok; uma_aid=$aid
tok=$saved_tok; aid=$saved_aid
before
req POST /v1/email "{\"email\":\"UMA@example.com\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" application/json "$tok"
expect 409 "a taken email"
req POST /v1/email "{\"email\":\"not-an-email\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" application/json "$tok"
expect 400 "a malformed email"
req POST /v1/email "{\"email\":\"tari@example.com\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" application/json "$tok"
expect 409 "the same email"
unchanged "refused email changes (the PIN's success rolled back too)"
[ "$(notice tari@example.com 'Your email address was changed')" = 0 ] || fail "a refused email change queued a notice"
# A code mailed to the old address, of another purpose, must die once the
# change is made.
req POST /v1/otp '{"channel":"email","purpose":"set_pin"}' application/json "$tok"
expect 201 "an email OTP to the old address"
old_mail_oid=$(jq -r .otp_id "$tmp/out")
old_mail_c=$(mail_code tari@example.com)
[ -n "$old_mail_c" ] || fail "no code in the mail to the old address"
secrets+=("$old_mail_c")
otp sms change_email
before
req POST /v1/email "{\"email\":\"uma@example.com\",\"factor\":$(otpf "$oid" "$c")}" application/json "$tok"
expect 409 "a taken email with an OTP"
unchanged "a taken email: the OTP stays usable"
# The link to the new address cannot be mailed (the sink refuses rad): 503,
# the transaction rolled back (the request's audit event with it).
chmod 0500 "$mail"
before
req POST /v1/email "{\"email\":\"Tari.New@Example.com\",\"factor\":$(otpf "$oid" "$c")}" application/json "$tok"
expect 503 "an email change whose link cannot be mailed"
chmod 0700 "$mail"
unchanged "an email change whose link could not be mailed"
# The address registered while the change is made: the link's check found
# it free, its UPDATE waits on the unique index for the registration, which
# then commits (23505). An open transaction stands in for another rad
# process's registration. 409 as taken, rolled back (the link stays, and
# fails when opened again, used up then), nothing else changed.
race_email=race-$$@example.com
req POST /v1/email "{\"email\":\"$race_email\",\"factor\":$(otpf "$oid" "$c")}" application/json "$tok"
expect 202 "a change to an address about to be registered"
race_link=$(mail_token "$race_email")
secrets+=("$race_link")
open_tx
echo "BEGIN; INSERT INTO ra_account (email, phone, password_hash)
    VALUES ('$race_email', '+6281299997009', '\$argon2id\$race') RETURNING id;" >&"$tx_in"
read -r -t 10 race_aid <&"$tx_out" || fail "the open transaction did not insert"
[[ $race_aid =~ ^[0-9]+$ ]] || fail "the open transaction: $race_aid"
before
curl -sS -X POST -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Content-Type: application/json" \
    --data-binary "{\"token\":\"$race_link\"}" "$url/v1/verify-email" >"$tmp/race.code" &
race_pid=$!
waiting=0
wait_lock pki_ra && waiting=1
commit_tx
wait "$race_pid" || fail "curl POST /v1/verify-email failed"
[ "$waiting" = 1 ] || fail "rad's email change did not wait for the registration (the race was not tested)"
code=$(cat "$tmp/race.code")
jq -r '.detail // empty' "$tmp/out" >>"$tmp/details" 2>/dev/null || true
expect 409 "an email registered while the change waited"
detail | has 'another account holds' || fail "race detail: $(detail)"
# The one change: the account of the open transaction.
state >"$tmp/state.race"
b1=$(sed -n 1p "$tmp/state.before")
a1=$(sed -n 1p "$tmp/state.race")
[ "${a1%%/*}" = $((${b1%%/*} + 1)) ] && [ "$(cut -d/ -f3- <<<"$a1")" = "$(cut -d/ -f3- <<<"$b1")" ] &&
    [ "$(tail -n+2 "$tmp/state.race")" = "$(tail -n+2 "$tmp/state.before")" ] &&
    [ "$(counters)" = "$(cat "$tmp/counters.before")" ] ||
	fail "the refused change changed more than the open transaction did: $(tr '\n' ' ' <"$tmp/state.before") -> $(tr '\n' ' ' <"$tmp/state.race")"
[ "$(q "SELECT email FROM ra_account WHERE id = $aid")" = tari@example.com ] || fail "the email changed in the race"
req POST /v1/verify-email "{\"token\":\"$race_link\"}"
expect 409 "the raced link opened again"
[ "$(q "SELECT used_at IS NOT NULL FROM ra_email_verification WHERE new_email = '$race_email'")" = t ] ||
	fail "the raced link is not used up"
[ "$(audits ra.account.email_change_failed)" = 1 ] || fail "the failed change is not audited"
[ "$(notice tari@example.com 'Your email address was changed')" = 0 ] ||
	fail "a refused or failed email change queued a notice"
# The change (the PIN: otp.per_hour is near): pending until the link is
# opened, the address kept meanwhile.
req POST /v1/email "{\"email\":\"Tari.New@Example.com\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" application/json "$tok"
expect 202 "an email change"
[ "$(jq -r '"\(.email)/\(.email_verified)/\(.pending_email)"' "$tmp/out")" = tari@example.com/true/tari.new@example.com ] ||
	fail "email reply: $(cat "$tmp/out")"
[ "$(q "SELECT email || '/' || email_verified FROM ra_account WHERE id = $aid")" = tari@example.com/true ] ||
	fail "the address changed before its link was opened"
[ "$(audits ra.account.email_change_request)" -ge 1 ] || fail "no audit of the email change request"
req POST /v1/otp '{"channel":"email","purpose":"agreement"}' application/json "$tok"
expect 201 "an email OTP while a change is pending"
grep -q '^To: <tari@example.com>' "$(newest "$mail" "$otp_mail")" || fail "the email OTP did not go to the address kept"
v=$(mail_token tari.new@example.com)
[ -n "$v" ] || fail "no link to the new address"
secrets+=("$v")
# The link opened while mail fails: the notice to the old address is
# queued in the change's transaction and waits in the outbox.
chmod 0500 "$mail"
req POST /v1/verify-email "{\"token\":\"$v\"}"
expect 200 "open the new address's link while mail cannot be sent"
[ "$(notice tari@example.com 'Your email address was changed')" = 1 ] || fail "no notice queued with the email change"
nid=$(notice_id tari@example.com 'Your email address was changed')
# In the change's transaction: created at its now(), when the link was used up.
[ "$(q "SELECT m.created_at = v.used_at FROM ra_mail_outbox m, ra_email_verification v
	WHERE m.id = $nid AND v.new_email = 'tari.new@example.com' AND v.used_at IS NOT NULL")" = t ] ||
	fail "the email change's notice was not queued in its transaction"
notice_failing "$nid"
f=$(notice_delivered "$nid" tari@example.com 'Your email address was changed')
tr -d '\r' <"$f" | has '^The email address of your account was changed to tari.new@example.com\.$' &&
    tr -d '\r' <"$f" | has '^If you did not do this, contact us at once\.$' ||
	fail "the email change's notice: $(tr -d '\r' <"$f")"
[ "$(notice tari.new@example.com 'Your email address was changed')" = 0 ] ||
	fail "the email change's notice went to the new address"
[ "$(q "SELECT email || '/' || email_verified || '/' || (email_verified_at IS NOT NULL) FROM ra_account WHERE id = $aid")" = tari.new@example.com/true/true ] ||
	fail "email not changed to the new, verified one"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.email_change' AND object_id = '$aid'
	AND details->>'old_email' = 'ta…@example.com' AND details->>'new_email' = 'ta…@example.com'")" = 1 ] ||
	fail "no audit of the email change"
before
req POST /v1/pin "{\"pin\":\"402917\",\"factor\":$(otpf "$old_mail_oid" "$old_mail_c")}" application/json "$tok"
expect 401 "a set_pin code mailed to the previous address"
jq -r .detail "$tmp/out" | grep -q "no longer valid" || fail "a set_pin code mailed to the previous address: $(cat "$tmp/out")"
unchanged "a set_pin code mailed to the previous address"
me "$tok"
[ "$(jq -r '"\(.email)/\(.email_verified)"' "$tmp/out")" = tari.new@example.com/true ] || fail "/v1/me after verification"
req POST /v1/otp '{"channel":"email","purpose":"agreement"}' application/json "$tok"
expect 201 "an email OTP once verified"
grep -q '^To: <tari.new@example.com>' "$(newest "$mail" "$otp_mail")" || fail "the email OTP did not go to the new address"
note "email change: 409 taken (also when registered while the link is opened), 503 unmailable link, pending (the old address kept), link makes it, notice to the old address through the outbox, old codes void: ok"

# --- phone change ---------------------------------------------------------------------------
otp sms phone_verify
req POST /v1/phone/verify "{\"otp_id\":$oid,\"code\":\"$c\"}" application/json "$tok"
expect 200 "verify the first phone"
before
req POST /v1/phone "{\"phone\":\"$phone\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" application/json "$tok"
expect 409 "the same phone"
req POST /v1/phone "{\"phone\":\"0812\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" application/json "$tok"
expect 400 "a malformed phone"
req POST /v1/phone "{\"phone\":\"+6281299997003\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"},\"x\":1}" application/json "$tok"
expect 400 "phone: unknown member"
unchanged "refused phone changes"
[ "$(notice tari.new@example.com 'Your phone number was changed')" = 0 ] || fail "a refused phone change queued a notice"
q "UPDATE ra_account SET totp_last_step = 0 WHERE id = $aid" >/dev/null
phone=+6281299997003
chmod 0500 "$mail"
req POST /v1/phone "{\"phone\":\"$phone\",\"factor\":$(totpf "$(code_of "$secret2")")}" application/json "$tok"
expect 200 "phone change with TOTP while mail cannot be sent"
[ "$(notice tari.new@example.com 'Your phone number was changed')" = 1 ] || fail "no notice queued with the phone change"
nid=$(notice_id tari.new@example.com 'Your phone number was changed')
notice_failing "$nid"
f=$(notice_delivered "$nid" tari.new@example.com 'Your phone number was changed')
tr -d '\r' <"$f" | has '^The phone number of your account was changed\. It must be verified again by SMS\.$' ||
	fail "the phone change's notice: $(tr -d '\r' <"$f")"
[ "$(q "SELECT phone || '/' || phone_verified || '/' || (phone_verified_at IS NULL) FROM ra_account WHERE id = $aid")" = "$phone/false/true" ] ||
	fail "phone not changed, or its verification not reset"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.phone_change' AND object_id = '$aid'
	AND details->>'factor' = 'totp' AND details->>'new_phone' = '${phone:0:6}****${phone: -4}'
	AND details->>'old_phone' ~ '^\+[0-9]{5}\*{4}[0-9]{4}$'")" = 1 ] ||
	fail "no audit of the phone change, or its numbers not masked: $(q "SELECT details FROM audit_event WHERE action = 'ra.account.phone_change' AND object_id = '$aid'")"
# A code sent to a number cannot verify the number that replaced it.
otp sms phone_verify
stale_oid=$oid stale_c=$c
otp sms set_pin		# another purpose: voided all the same
stale_pin_oid=$oid stale_pin_c=$c
phone=+6281299997004
req POST /v1/phone "{\"phone\":\"$phone\",\"factor\":{\"type\":\"pin\",\"pin\":\"$pin\"}}" application/json "$tok"
expect 200 "a second phone change (PIN)"
[ "$(notice tari.new@example.com 'Your phone number was changed')" = 2 ] || fail "no notice queued with the second phone change"
[ "$(q "SELECT details->>'phone_verify_codes_voided' FROM audit_event WHERE action = 'ra.account.phone_change'
	AND object_id = '$aid' AND details->>'new_phone' = '${phone:0:6}****${phone: -4}'")" = 1 ] || fail "the pending code not voided (audit)"
before
req POST /v1/pin "{\"pin\":\"402917\",\"factor\":$(otpf "$stale_pin_oid" "$stale_pin_c")}" application/json "$tok"
expect 401 "a set_pin code sent to the previous number"
jq -r .detail "$tmp/out" | grep -q "no longer valid" || fail "a set_pin code sent to the previous number: $(cat "$tmp/out")"
unchanged "a set_pin code sent to the previous number"
req POST /v1/phone/verify "{\"otp_id\":$stale_oid,\"code\":\"$stale_c\"}" application/json "$tok"
expect 401 "a code sent to the previous number"
[ "$(q "SELECT phone_verified FROM ra_account WHERE id = $aid")" = f ] ||
	fail "a code sent to the previous number verified the new one"
otp sms phone_verify
req POST /v1/phone/verify "{\"otp_id\":$oid,\"code\":\"$c\"}" application/json "$tok"
expect 200 "verify the new phone"
note "phone change: reset verification, 409 same number, notice through the outbox despite a failing sink, old codes void, verify again: ok"

# --- a sealed secret copied to another account does not open there -------------------------
q "UPDATE ra_account SET totp_secret_enc = (SELECT totp_secret_enc FROM ra_account WHERE id = $acct1),
	totp_confirmed_at = now() WHERE id = $uma_aid" >/dev/null
req POST /v1/pin "{\"pin\":\"402917\",\"factor\":$(totpf "$(code_of "$secret2")")}" application/json "$uma_tok"
expect 500 "another account's sealed secret"
[ "$(q "SELECT count(*) FROM ra_account WHERE id = $uma_aid AND pin_hash IS NULL AND totp_last_step = 0")" = 1 ] ||
	fail "a moved sealed secret authorized something"
grep -q "the TOTP secret of account $uma_aid does not open" "$log" || fail "the unopenable seal not logged"
note "a sealed secret bound to its account: ok"

# --- pki_ra: no DELETE, the grants are column-level ------------------------------------------
[ "$(q "SELECT has_table_privilege('pki_ra', 'ra_account', 'DELETE')::text || '/' ||
	has_column_privilege('pki_ra', 'ra_account', 'totp_secret_enc', 'UPDATE')::text || '/' ||
	has_column_privilege('pki_ra', 'ra_account', 'created_at', 'UPDATE')::text")" = false/true/false ] ||
	fail "pki_ra grants on ra_account"

# --- no secret in rad's log, audit_event or a problem detail ----------------------------------
secrets+=("$(cat "$PKI_DIR/secrets/ra-totp.key")" "$hex")
audit_text "$tmp/audit.txt"
no_secret_in "$log" "$log"
no_secret_in audit_event "$tmp/audit.txt"
no_secret_in "a problem detail" "$tmp/details"
# The errors expected: the moved seal above, and lib/db's of the race's
# unique violation (answered 409).
! grep '"level":"err"' "$log" | grep -v "TOTP secret of account $uma_aid does not open" |
    grep -v 'ra_email_complete_update: .*SQLSTATE 23505' || fail "errors in $log"
note "no secret in the log, the audit trail or a detail: ok"
