#!/usr/bin/env bash
# rad's password reset and the replacement of stale unverified accounts
# (issue 3; ra/reset.c, ra/account.c, ra/notifier.c, schema/045, 048) over
# HTTP with curl, against a rad of its own on the stack of tests/run.sh
# (the per-address limits raised, tested apart on a third rad):
# - POST /v1/password/forgot answers an unknown, an unverified and a
#   verified address alike (status and body); only the verified account
#   gets a token (stored as SHA-256, password_reset.ttl_seconds) and a
#   mail (outbox, bound to the token), audited as subscriber:unauthenticated;
#   a request within password_reset.min_interval_seconds of the last one,
#   or beyond password_reset.per_hour, is still 202, changes nothing and is
#   logged; a new request does not void the earlier token (using one voids
#   the others);
# - the rule: the token and a second factor the account holds (an SMS code
#   to its verified phone, its PIN, a TOTP code): an account whose phone is
#   verified needs an SMS code of purpose password_reset (POST
#   /v1/password/reset/otp, audited as subscriber:unauthenticated): without
#   one, or with a wrong one (counted as every OTP), nothing changes; a weak
#   new password changes nothing; with token and code the password changes,
#   every session is revoked, the log-in lock-out is cleared, the old
#   password fails and the new one logs in, a notice is queued, audited;
#   the token is single use, an expired one is refused; POST /v1/otp
#   refuses the purpose and does not list it; a PIN holder whose phone is
#   not verified needs the PIN (a wrong one counted), a TOTP holder a TOTP
#   code; an account that holds a certificate and no such factor cannot
#   reset itself (409, support); an account with neither resets with the
#   token alone; a password change voids pending tokens;
# - a reset mail whose token expired or was used before it went is never
#   sent: its body is emptied, it is given up, audited ra.mail.expired;
# - POST /v1/register for the address of an account never verified, older
#   than email_verification.unverified_account_days, without a verified
#   phone, a PIN or a TOTP replaces it, whatever links, sessions or log-ins
#   it has (201: its address freed as replaced:<id>, its link dead and its
#   sessions revoked, audited, a notice mailed to the address), and the new
#   password works; an unverified account inside those days, one with a
#   verified phone, a PIN, and one verified before (an email change since)
#   keep their address (409);
# - the per-address limit of the reset endpoints (429 with Retry-After);
# - no token, code or password in rad's log, audit_event or a detail.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
mail=$PKI_DIR/spool/ra-mail
sms=$PKI_DIR/spool/ra-sms
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
secrets=()	# every password, token and code used; none may be logged
touch "$tmp/details"

. "$(dirname "$0")/lib_ra.sh"
# req (lib_ra.sh), the problem's detail kept for the secrets check.
_req=$(declare -f req)
eval "${_req/req ()/_lib_req ()}"
req() { _lib_req "$@"; jq -r '.detail // empty' "$tmp/out" >>"$tmp/details" 2>/dev/null || true; }

start_rad rad-reset PKI_RATE_PASSWORD_RESET_PER_MINUTE=100000 PKI_RATE_REGISTER_PER_MINUTE=100000 \
    PKI_RATE_LOGIN_PER_MINUTE=100000
url=$rad_url
rlog=$tmp/rad-reset.log

state() {
	q "SELECT (SELECT string_agg(id || ':' || md5(password_hash) || ':' || failed_logins || ':' ||
	        (locked_until IS NOT NULL) || ':' || email, ',' ORDER BY id) FROM ra_account) || '/' ||
	    (SELECT count(*) FROM ra_session WHERE revoked_at IS NULL) || '/' ||
	    (SELECT count(*) || ':' || count(used_at) FROM ra_password_reset) || '/' ||
	    (SELECT count(*) FROM ra_mail_outbox) || '/' || $AUDIT_MAX"
}
# forgot EMAIL: POST /v1/password/forgot, expected 202.
forgot() {
	tok=
	req POST /v1/password/forgot "{\"email\":\"$1\"}"
	expect 202 "forgot $1"
}
# reset_token EMAIL: the token of the newest reset mail to EMAIL (waits for
# the outbox to send it).
reset_token() {
	local f n
	n=$(q "SELECT count(*) FROM ra_mail_outbox WHERE recipient = '$1' AND subject = 'Reset your password'")
	for ((i = 0; i < 100; i++)); do
		[ "$(q "SELECT count(*) FROM ra_mail_outbox WHERE recipient = '$1'
		    AND subject = 'Reset your password' AND sent_at IS NULL")" = 0 ] && break
		sleep 0.1
	done
	[ "$n" -gt 0 ] || fail "no reset mail queued for $1"
	f=$(grep -l -- "^To: <$1>" "$mail"/*.eml | xargs grep -l 'Subject: Reset your password' | xargs ls -t | sed -n 1p)
	[ -n "$f" ] || fail "no reset mail to $1 in the sink"
	tr -d '\r' <"$f" | sed -n 's/^    \([A-Za-z0-9_-]\{43\}\)$/\1/p' | sed -n 1p
}
resets() { q "SELECT count(*) || '/' || count(used_at) FROM ra_password_reset WHERE account_id = $1"; }
hash_of() { q "SELECT md5(password_hash) FROM ra_account WHERE id = $1"; }
live_sessions() { q "SELECT count(*) FROM ra_session WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > now()"; }
login() { tok=; req POST /v1/login "{\"email\":\"$1\",\"password\":\"$2\"}"; }
me() { code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $1" "$url/v1/me"); }
other() { printf '%06d' $(((10#$1 + 1) % 1000000)); }
# age_resets ID: the account's reset requests 61 s older (past
# password_reset.min_interval_seconds, 60 by default).
age_resets() { q "UPDATE ra_password_reset SET created_at = created_at - interval '61 seconds' WHERE account_id = $1" >/dev/null; }
# set_pin PHONE PIN: the PIN of the account of session $tok, by an SMS OTP.
set_pin() {
	local oid c
	req POST /v1/otp '{"channel":"sms","purpose":"set_pin"}'
	expect 201 "otp set_pin"
	oid=$(jq -r .otp_id "$tmp/out")
	c=$(sms_code "$1")
	secrets+=("$c" "$2")
	req POST /v1/pin "{\"pin\":\"$2\",\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$c\"}}"
	expect 200 "set the PIN"
}
unphone() { q "UPDATE ra_account SET phone_verified = false, phone_verified_at = NULL WHERE id = $1" >/dev/null; }
# pin_holder EMAIL PHONE: an account with the PIN 402917 whose phone is no
# longer verified, that asked for a reset; sets aid, htok (its session) and
# rtok (the reset token); tok is cleared.
pin_holder() {
	ra_account "$1" "$2" "$pw"
	htok=$tok
	set_pin "$2" 402917
	tok=
	unphone "$aid"
	forgot "$1"
	rtok=$(reset_token "$1")
	secrets+=("$rtok")
}

pw='Reset-Old-Pass9'
new='Reset-New-Pass9'
secrets+=("$pw" "$new")

# --- forgot: the same answer for every address ---------------------------------------------
ra_account rita@example.com +6281277770001 "$pw"
rita=$aid s1=$tok
login rita@example.com "$pw"
expect 200 "a second session"
s2=$(jq -r .token "$tmp/out")
secrets+=("$s2")
tok=
req POST /v1/register "{\"email\":\"unver@example.com\",\"phone\":\"+6281277770009\",\"password\":\"$pw\"}"
expect 201 "an unverified account"
unver=$(jq -r .id "$tmp/out")

before
forgot nobody-here@example.com
cp "$tmp/out" "$tmp/unknown.out"
unchanged "forgot of an unknown address"
forgot unver@example.com
cmp -s "$tmp/out" "$tmp/unknown.out" || fail "forgot: an unverified account answers otherwise than an unknown address"
unchanged "forgot of an unverified account"
[ "$(resets "$unver")" = 0/0 ] || fail "a reset token for an unverified account"
forgot RITA@example.com
cmp -s "$tmp/out" "$tmp/unknown.out" || fail "forgot: a verified account answers otherwise than an unknown address"
[ "$(resets "$rita")" = 1/0 ] || fail "no reset token for rita: $(resets "$rita")"
[ "$(q "SELECT count(*) FROM ra_password_reset WHERE account_id = $rita AND length(token_sha256) = 32
	AND expires_at BETWEEN now() + interval '1790 seconds' AND now() + interval '1810 seconds'")" = 1 ] ||
	fail "reset token: digest or expiry (password_reset.ttl_seconds 1800)"
# Anyone may ask: not the owner's act (before: actor subscriber:<id>).
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.password_reset_request'
	AND object_id = '$rita' AND actor = 'subscriber:unauthenticated' AND details->>'account_id' = '$rita'
	AND details ? 'client' AND details ? 'reset_id'")" = 1 ] ||
	fail "the reset request is not audited as subscriber:unauthenticated: $(q "SELECT actor, details FROM audit_event
	WHERE action = 'ra.account.password_reset_request' AND object_id = '$rita'")"
[ "$(q "SELECT count(*) FROM ra_mail_outbox m JOIN ra_password_reset r ON r.id = m.password_reset_id
	WHERE r.account_id = $rita AND m.recipient = 'rita@example.com'")" = 1 ] || fail "the reset mail is not bound to its token"
t1=$(reset_token rita@example.com)
[ ${#t1} -eq 43 ] || fail "no reset token in the mail"
secrets+=("$t1")
[ "$(q "SELECT count(*) FROM ra_password_reset WHERE token_sha256 = sha256(decode(translate('$t1', '-_', '+/') || '=', 'base64'))")" = 1 ] ||
	fail "the stored digest is not the SHA-256 of the token's bytes"
grep -q 'SMS to the verified phone' "$(mail_to rita@example.com)" || fail "the mail does not say a code will be asked for"
req POST /v1/password/forgot '{"email":"rita@example.com","x":1}'
expect 400 "forgot with an unknown member"
req POST /v1/password/forgot 'email=rita@example.com'
[ "$code" = 400 ] || [ "$code" = 415 ] || fail "forgot with a form body: HTTP $code"
note "forgot: one answer for unknown, unverified and verified addresses; token stored as SHA-256, mailed, audited unauthenticated: ok"

# --- the least time between two requests; a new one voids no earlier token ------------------
before
forgot rita@example.com
cmp -s "$tmp/out" "$tmp/unknown.out" || fail "forgot within the minimum interval answers otherwise"
unchanged "a second request within password_reset.min_interval_seconds"
grep -q "forgot: account $rita: a reset request from 127\.[0-9.]* dropped (password_reset\.min_interval_seconds)" "$rlog" ||
	fail "the dropped request leaves no trace in rad's log"
age_resets "$rita"
forgot rita@example.com
t2=$(reset_token rita@example.com)
secrets+=("$t2")
[ "$t2" != "$t1" ] || fail "the same token twice"
# Before: 2/1 (the first voided, so anyone could keep voiding the owner's link).
[ "$(resets "$rita")" = 2/0 ] || fail "a second request voided the first token: $(resets "$rita")"
grep -q 'work until they' "$(mail_to rita@example.com)" || fail "the mail does not say earlier links still work"

# --- the SMS step ------------------------------------------------------------------------------
tok=$s1
req POST /v1/otp '{"channel":"sms","purpose":"password_reset"}'
expect 400 "POST /v1/otp for purpose password_reset"
req POST /v1/otp '{"channel":"sms","purpose":"no_such_purpose"}'
expect 400 "POST /v1/otp for an unknown purpose"
detail | has 'set_pin' || fail "the purposes are not listed: $(detail)"
! detail | has 'password_reset' || fail "POST /v1/otp advertises password_reset: $(detail)"
tok=
refuse 401 "a reset without the SMS code (phone verified)" POST /v1/password/reset \
	"{\"token\":\"$t2\",\"new_password\":\"$new\"}"
detail | has 'reset/otp' || fail "missing code detail: $(detail)"
req POST /v1/password/reset/otp "{\"token\":\"$t2\"}"
expect 201 "the SMS step"
[ "$(jq -r .purpose "$tmp/out")" = password_reset ] || fail "SMS step: purpose"
oid=$(jq -r .otp_id "$tmp/out")
c=$(sms_code +6281277770001)
[ ${#c} -eq 6 ] || fail "no code in the SMS"
secrets+=("$c")
[ "$(q "SELECT channel || '/' || purpose || '/' || account_id FROM ra_otp WHERE id = $oid")" = "sms/password_reset/$rita" ] ||
	fail "the OTP row"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.otp.send' AND object_id = '$oid'
	AND actor = 'subscriber:unauthenticated' AND details->>'purpose' = 'password_reset'
	AND details->>'account_id' = '$rita' AND details ? 'client'")" = 1 ] ||
	fail "the SMS code is not audited as subscriber:unauthenticated"

# The lock-out of log-ins, to be lifted by the reset.
q "UPDATE ra_account SET failed_logins = 7, locked_until = now() + interval '1 hour' WHERE id = $rita" >/dev/null
h0=$(hash_of "$rita")
[ "$(live_sessions "$rita")" = 2 ] || fail "rita's two sessions"

# A wrong code: counted (the OTP's attempts, the reset's own factor
# failures, not the account's RA ones: schema/057), nothing else changes.
req POST /v1/password/reset "{\"token\":\"$t2\",\"new_password\":\"$new\",\"otp_id\":$oid,\"code\":\"$(other "$c")\"}"
expect 401 "a wrong SMS code"
[ "$(hash_of "$rita")/$(live_sessions "$rita")/$(resets "$rita")" = "$h0/2/2/0" ] ||
	fail "a wrong code changed the password, the sessions or the token"
[ "$(q "SELECT attempts FROM ra_otp WHERE id = $oid")/$(q "SELECT reset_factor_failures || '/' || factor_failures FROM ra_account WHERE id = $rita")" = 1/1/0 ] ||
	fail "the wrong code was not counted on the reset's counter alone"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.otp.failed' AND object_id = '$oid'")" = 1 ] ||
	fail "the wrong code is not audited"
# Another account's OTP: refused, nothing counted.
refuse 401 "an OTP that is not the account's" POST /v1/password/reset \
	"{\"token\":\"$t2\",\"new_password\":\"$new\",\"otp_id\":999999999,\"code\":\"$c\"}"
# A PIN the account does not have: 400, nothing counted.
refuse 400 "a PIN the account does not have" POST /v1/password/reset \
	"{\"token\":\"$t2\",\"new_password\":\"$new\",\"factor\":{\"type\":\"pin\",\"pin\":\"402917\"}}"
# A weak new password: 400 before anything is looked at.
refuse 400 "a weak new password" POST /v1/password/reset \
	"{\"token\":\"$t2\",\"new_password\":\"weak\",\"otp_id\":$oid,\"code\":\"$c\"}"
detail | has 'password' || fail "weak password detail: $(detail)"
refuse 400 "otp_id without code" POST /v1/password/reset \
	"{\"token\":\"$t2\",\"new_password\":\"$new\",\"otp_id\":$oid}"

# --- the reset --------------------------------------------------------------------------------
req POST /v1/password/reset "{\"token\":\"$t2\",\"new_password\":\"$new\",\"otp_id\":$oid,\"code\":\"$c\"}"
expect 200 "the reset"
[ "$(jq -r .sessions_revoked "$tmp/out")" = 2 ] || fail "sessions_revoked: $(cat "$tmp/out")"
[ "$(hash_of "$rita")" != "$h0" ] || fail "the password did not change"
q "SELECT password_hash FROM ra_account WHERE id = $rita" | has '^\$argon2id\$v=19\$m=19456,t=2,p=1\$' ||
	fail "the new password is not hashed with Argon2id at the policy's cost"
[ "$(q "SELECT failed_logins || '/' || (locked_until IS NULL) FROM ra_account WHERE id = $rita")" = 0/true ] ||
	fail "the log-in lock-out was not cleared"
# Both tokens used up: the one used, and the first (using one voids the others).
[ "$(live_sessions "$rita")/$(resets "$rita")" = 0/2/2 ] || fail "sessions or tokens after the reset"
[ "$(q "SELECT consumed_at IS NOT NULL FROM ra_otp WHERE id = $oid")" = t ] || fail "the OTP was not used up"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.password_reset' AND object_id = '$rita'
	AND details->>'sessions_revoked' = '2' AND details->>'sms_code' = 'true' AND details->>'factor' = 'otp'
	AND details->>'otp_id' = '$oid'")" = 1 ] || fail "the reset is not audited"
wait_mail rita@example.com 'password of your account was reset' >/dev/null || fail "no notice of the reset"
for s in "$s1" "$s2"; do
	me "$s"
	expect 401 "an old session after the reset"
done
login rita@example.com "$pw"
expect 401 "the old password"
login rita@example.com "$new"
expect 200 "the new password"
s3=$(jq -r .token "$tmp/out")
secrets+=("$s3")
refuse 404 "the token a second time" POST /v1/password/reset \
	"{\"token\":\"$t2\",\"new_password\":\"Reset-Third-Pass9\",\"otp_id\":$oid,\"code\":\"$c\"}"
refuse 404 "the used token, SMS step" POST /v1/password/reset/otp "{\"token\":\"$t2\"}"
refuse 404 "the first token, voided by the reset" POST /v1/password/reset/otp "{\"token\":\"$t1\"}"
note "reset with mailed token and SMS code: password, sessions, lock-out, notice, audit; single use, voids the others: ok"

# --- an expired token ----------------------------------------------------------------------
age_resets "$rita"
forgot rita@example.com
t3=$(reset_token rita@example.com)
secrets+=("$t3")
q "UPDATE ra_password_reset SET expires_at = now() - interval '1 second', created_at = now() - interval '31 minutes'
	WHERE account_id = $rita AND used_at IS NULL" >/dev/null
refuse 404 "an expired token (SMS step)" POST /v1/password/reset/otp "{\"token\":\"$t3\"}"
refuse 404 "an expired token (reset)" POST /v1/password/reset "{\"token\":\"$t3\",\"new_password\":\"Reset-Third-Pass9\"}"
note "expired token refused: ok"

# --- a password change voids pending tokens ---------------------------------------------------
# Out of the hour (password_reset.per_hour: t1, t2, t3 in it).
q "UPDATE ra_password_reset SET created_at = now() - interval '2 hours' WHERE account_id = $rita" >/dev/null
forgot rita@example.com
t4=$(reset_token rita@example.com)
secrets+=("$t4")
tok=$s3
req POST /v1/otp '{"channel":"sms","purpose":"change_password"}'
expect 201 "otp change_password"
o2=$(jq -r .otp_id "$tmp/out")
c2=$(sms_code +6281277770001)
secrets+=("$c2" "Reset-Fourth-Pass9")
req POST /v1/password "{\"current_password\":\"$new\",\"new_password\":\"Reset-Fourth-Pass9\",\"factor\":{\"type\":\"otp\",\"otp_id\":$o2,\"code\":\"$c2\"}}"
expect 200 "a password change"
tok=
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.password_change' AND object_id = '$rita'
	AND details->>'resets_voided' = '1'")" = 1 ] || fail "the password change does not name the voided token"
# Before: the token stayed usable, and undid the change.
refuse 404 "a token asked for before a password change" POST /v1/password/reset/otp "{\"token\":\"$t4\"}"
note "POST /v1/password voids pending reset tokens: ok"

# --- password_reset.per_hour: still 202, nothing more -----------------------------------------
ra_account capped@example.com +6281277770002 "$pw"
capped=$aid
for i in 1 2 3; do forgot capped@example.com; age_resets "$capped"; done
[ "$(resets "$capped")" = 3/0 ] || fail "three requests: $(resets "$capped")"
before
forgot capped@example.com
cmp -s "$tmp/out" "$tmp/unknown.out" || fail "forgot over the hourly cap answers otherwise"
unchanged "a fourth request in the hour"
grep -q "forgot: account $capped: a reset request from 127\.[0-9.]* dropped (password_reset\.per_hour)" "$rlog" ||
	fail "the capped request leaves no trace in rad's log"
note "password_reset.per_hour: 3, then 202, nothing, a log line: ok"

# --- an account whose phone is not verified and that holds nothing that signs: the token alone ---
ra_account nophone@example.com +6281277770003 "$pw"
np=$aid
unphone "$np"
forgot nophone@example.com
t5=$(reset_token nophone@example.com)
secrets+=("$t5")
refuse 409 "the SMS step without a verified phone" POST /v1/password/reset/otp "{\"token\":\"$t5\"}"
detail | has 'no SMS code is needed' || fail "no-phone detail: $(detail)"
req POST /v1/password/reset "{\"token\":\"$t5\",\"new_password\":\"$new\"}"
expect 200 "a reset by the mailed token alone"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.password_reset' AND object_id = '$np'
	AND details->>'sms_code' = 'false' AND details->>'factor' = 'none'")" = 1 ] || fail "the token-only reset is not audited"
login nophone@example.com "$new"
expect 200 "the new password (no phone)"
secrets+=("$(jq -r .token "$tmp/out")")
note "no verified phone, nothing that signs: the mailed token alone: ok"

# --- a PIN holder whose phone is not verified: the PIN ----------------------------------------
pin_holder pinner@example.com +6281277770004
pn=$aid
t6=$rtok
grep -q 'the PIN' "$(mail_to pinner@example.com)" || fail "the mail does not say the PIN will be asked for"
# Before: 200 (the phone unverified, the token alone took over a PIN holder).
refuse 401 "a PIN holder's reset with the token alone" POST /v1/password/reset \
	"{\"token\":\"$t6\",\"new_password\":\"$new\"}"
detail | has 'PIN' || fail "PIN detail: $(detail)"
refuse 409 "the SMS step of a PIN holder without a verified phone" POST /v1/password/reset/otp "{\"token\":\"$t6\"}"
detail | has 'PIN' || fail "PIN detail of the SMS step: $(detail)"
h0=$(hash_of "$pn")
req POST /v1/password/reset "{\"token\":\"$t6\",\"new_password\":\"$new\",\"factor\":{\"type\":\"pin\",\"pin\":\"402918\"}}"
expect 401 "a wrong PIN"
[ "$(hash_of "$pn")/$(resets "$pn")/$(q "SELECT reset_factor_failures || '/' || factor_failures FROM ra_account WHERE id = $pn")" = "$h0/1/0/1/0" ] ||
	fail "a wrong PIN changed something or was not counted on the reset's counter alone"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.factor.failed' AND object_id = '$pn'
	AND actor = 'subscriber:unauthenticated' AND details->>'account_id' = '$pn'")" = 1 ] ||
	fail "the wrong PIN is not audited as subscriber:unauthenticated"
req POST /v1/password/reset "{\"token\":\"$t6\",\"new_password\":\"$new\",\"factor\":{\"type\":\"pin\",\"pin\":\"402917\"}}"
expect 200 "a reset with token and PIN"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.password_reset' AND object_id = '$pn'
	AND details->>'factor' = 'pin' AND details->>'sms_code' = 'false'")" = 1 ] || fail "the PIN reset is not audited"
wait_mail pinner@example.com 'reset with a link mailed to this address and your PIN' >/dev/null ||
	fail "the notice does not name the PIN"
note "a PIN holder without a verified phone: the token alone 401, with the PIN 200: ok"

# Whoever holds the mailbox and guesses PINs locks the reset, not the
# subscriber's factors (before: the account's RA counter, so that the
# mailbox alone kept the subscriber from revoking or changing the PIN).
pin_holder locker@example.com +6281277770009
lk=$aid
lktok=$htok
t11=$rtok
for i in 1 2 3 4 5; do
	req POST /v1/password/reset "{\"token\":\"$t11\",\"new_password\":\"$new\",\"factor\":{\"type\":\"pin\",\"pin\":\"40291$i\"}}"
	[ "$i" = 5 ] && [ "$code" = 429 ] && break	# the fifth may find the lock
	expect 401 "wrong PIN $i through the reset"
done
req POST /v1/password/reset "{\"token\":\"$t11\",\"new_password\":\"$new\",\"factor\":{\"type\":\"pin\",\"pin\":\"402917\"}}"
expect 429 "the right PIN through a locked reset"
[ "$(q "SELECT factor_failures || '/' || (factor_locked_until IS NULL) || '/' || (reset_factor_locked_until > now())
    FROM ra_account WHERE id = $lk")" = 0/true/true ] || fail "the reset's wrong PINs locked the account's factors"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.factor.lock' AND object_id = '$lk'
    AND details->>'scope' = 'password_reset'")" -ge 1 ] || fail "the reset's lock is not audited with its scope"
# The subscriber's own session still uses the PIN: a password change.
tok=$lktok
req POST /v1/password "{\"current_password\":\"$pw\",\"new_password\":\"Locker-New-Pass9\",\"factor\":{\"type\":\"pin\",\"pin\":\"402917\"}}"
expect 200 "the subscriber's PIN while the reset is locked"
tok=
note "five wrong PINs through the reset lock the reset (429, audited scope password_reset), not the subscriber's own PIN: ok"

# The other way round: whoever holds a session (a phished password) and
# locks the subscriber's RA factors with wrong PINs must not keep the
# owner from the SMS code of a reset, the way to end that session; and a
# locked reset sends no code it would refuse (a review finding: both went
# by the RA lock-out).
ra_account lockedout@example.com +6281277770010 "$pw"
lo=$aid
set_pin +6281277770010 402917
for i in 1 2 3 4 5; do
	req POST /v1/pin "{\"pin\":\"51836$i\",\"factor\":{\"type\":\"pin\",\"pin\":\"40291$i\"}}"
	[ "$i" = 5 ] && [ "$code" = 429 ] && break
	expect 401 "wrong PIN $i in the session"
done
[ "$(q "SELECT factor_locked_until > now() FROM ra_account WHERE id = $lo")" = t ] || fail "the RA factors did not lock"
forgot lockedout@example.com
t12=$(reset_token lockedout@example.com)
secrets+=("$t12")
req POST /v1/password/reset/otp "{\"token\":\"$t12\"}"
expect 201 "the reset's SMS code while the RA factors are locked"
oid=$(jq -r .otp_id "$tmp/out")
c=$(sms_code +6281277770010)
secrets+=("$c")
req POST /v1/password/reset "{\"token\":\"$t12\",\"new_password\":\"$new\",\"otp_id\":$oid,\"code\":\"$c\"}"
expect 200 "the reset while the RA factors are locked"
[ "$(live_sessions "$lo")" = 0 ] || fail "the reset left the session"
# A locked reset: no code sent, 429.
q "UPDATE ra_account SET reset_factor_locked_until = now() + interval '10 minutes' WHERE id = $lo" >/dev/null
age_resets "$lo"
forgot lockedout@example.com
t13=$(reset_token lockedout@example.com)
secrets+=("$t13")
n0=$(q "SELECT count(*) FROM ra_otp WHERE account_id = $lo")
req POST /v1/password/reset/otp "{\"token\":\"$t13\"}"
expect 429 "the reset's SMS code while the reset is locked"
detail | has 'password reset of this account is locked' || fail "locked reset detail: $(detail)"
[ "$(q "SELECT count(*) FROM ra_otp WHERE account_id = $lo")" = "$n0" ] || fail "a locked reset sent a code"
note "RA factors locked by a session: the reset's SMS code still comes (201, reset 200); a locked reset sends none (429): ok"

# --- a TOTP holder: a TOTP code -----------------------------------------------------------------
command -v oathtool >/dev/null || fail "oathtool missing (deploy/packages.txt; make deps)"
ra_account totper@example.com +6281277770005 "$pw"
tp=$aid
req POST /v1/otp '{"channel":"sms","purpose":"totp_enrol"}'
expect 201 "otp totp_enrol"
o3=$(jq -r .otp_id "$tmp/out")
c3=$(sms_code +6281277770005)
secrets+=("$c3")
req POST /v1/totp "{\"factor\":{\"type\":\"otp\",\"otp_id\":$o3,\"code\":\"$c3\"}}"
expect 201 "TOTP enrolment"
ts=$(jq -r .secret "$tmp/out")
secrets+=("$ts")
req POST /v1/totp/confirm "{\"code\":\"$(oathtool --totp -b "$ts")\"}"
expect 200 "TOTP confirmation"
tok=
unphone "$tp"
forgot totper@example.com
t7=$(reset_token totper@example.com)
secrets+=("$t7")
refuse 401 "a TOTP holder's reset with the token alone" POST /v1/password/reset \
	"{\"token\":\"$t7\",\"new_password\":\"$new\"}"
detail | has 'TOTP' || fail "TOTP detail: $(detail)"
# The next step's code (the confirmation used this one; ±1 step is accepted).
tc=$(oathtool --totp -b -N "now + 30 seconds" "$ts")
secrets+=("$tc")
req POST /v1/password/reset "{\"token\":\"$t7\",\"new_password\":\"$new\",\"factor\":{\"type\":\"totp\",\"code\":\"$tc\"}}"
expect 200 "a reset with token and TOTP code"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.password_reset' AND object_id = '$tp'
	AND details->>'factor' = 'totp'")" = 1 ] || fail "the TOTP reset is not audited"
note "a TOTP holder: the token alone 401, with a TOTP code 200: ok"

# --- a certificate holder with no second factor: support -----------------------------------------
ra_account signer@example.com +6281277770006 "$pw"
sg=$aid
tok=
unphone "$sg"
order_issued personal "{\"C\":\"ID\",\"CN\":\"Reset Signer\",\"serialNumber\":\"NIK:31740$RANDOM$RANDOM\"}"
q "INSERT INTO sign_credential (certificate_id, account_id) VALUES ($cert, $sg)" >/dev/null
forgot signer@example.com
t8=$(reset_token signer@example.com)
secrets+=("$t8")
grep -q 'Contact support' "$(mail_to signer@example.com)" || fail "the mail does not send a certificate holder to support"
# Before: 200 (the mailbox alone took over a key that signs).
refuse 409 "a certificate holder's reset with the token alone" POST /v1/password/reset \
	"{\"token\":\"$t8\",\"new_password\":\"$new\"}"
detail | has 'contact support' || fail "support detail: $(detail)"
refuse 409 "a certificate holder's SMS step" POST /v1/password/reset/otp "{\"token\":\"$t8\"}"
detail | has 'contact support' || fail "support detail of the SMS step: $(detail)"
login signer@example.com "$pw"
expect 200 "the certificate holder's password is unchanged"
secrets+=("$(jq -r .token "$tmp/out")")
note "a certificate holder with no second factor: 409, contact support: ok"

# An approved application is one "I agree" (an email OTP) from a key on the
# owner's identity, and a company's sysadmin acts for its employees: with
# no second factor, the mailbox alone resets neither (before: 200). Once
# the application is rejected, nothing signs: the token alone does.
ra_account approved@example.com +6281277770016 "$pw"
ap=$aid
tok=
unphone "$ap"
app_ap=$(q "INSERT INTO ra_application (account_id, kind, status, profile, subject, decided_at)
    VALUES ($ap, 'personal', 'approved', 'personal', '{\"CN\": \"Reset Approved\"}', now()) RETURNING id")
forgot approved@example.com
t9=$(reset_token approved@example.com)
secrets+=("$t9")
grep -q 'Contact support' "$(mail_to approved@example.com)" || fail "the mail does not send an applicant to support"
refuse 409 "an approved applicant's reset with the token alone" POST /v1/password/reset \
	"{\"token\":\"$t9\",\"new_password\":\"$new\"}"
detail | has 'applied for a certificate' || fail "applicant's support detail: $(detail)"
ra_account sysadmin@example.com +6281277770026 "$pw"
sa=$aid
tok=
unphone "$sa"
q "SET session_replication_role = replica;
   WITH a AS (INSERT INTO ra_application (account_id, kind, status, profile, subject, decided_at, decision_reason)
       VALUES ($ap, 'corporate', 'approved', 'company', '{}', now(), NULL) RETURNING id),
   c AS (INSERT INTO ra_company (application_id, representative_id, name, nib, npwp, deed_number, deed_date,
       decree_number, sysadmin_email) SELECT a.id, $ap, 'PT Reset', '1234567890123', '123456789012345', 'D-1',
       '2020-01-01', 'AHU-1', 'sysadmin@example.com' FROM a RETURNING id)
   INSERT INTO ra_company_sysadmin_role (company_id, account_id) SELECT c.id, $sa FROM c" >/dev/null
forgot sysadmin@example.com
t10=$(reset_token sysadmin@example.com)
secrets+=("$t10")
refuse 409 "a sysadmin's reset with the token alone" POST /v1/password/reset \
	"{\"token\":\"$t10\",\"new_password\":\"$new\"}"
# The sysadmin of a company no longer active (its application withdrawn
# here; a deactivation alike) acts for nobody: the token alone.
q "SET session_replication_role = replica;
   UPDATE ra_application SET status = 'rejected', decision_reason = 'test'
   WHERE id = (SELECT application_id FROM ra_company WHERE sysadmin_email = 'sysadmin@example.com')" >/dev/null
req POST /v1/password/reset "{\"token\":\"$t10\",\"new_password\":\"$new\"}"
expect 200 "the reset of an inactive company's sysadmin, with the token alone"
q "SET session_replication_role = replica;
   UPDATE ra_application SET status = 'rejected', decision_reason = 'test' WHERE id = $app_ap" >/dev/null
req POST /v1/password/reset "{\"token\":\"$t9\",\"new_password\":\"$new\"}"
expect 200 "the reset of an account whose application was rejected, with the token alone"
note "an approved applicant or an active company's sysadmin with no second factor: 409; once the application is rejected or the company deactivated: the token alone; a representative's company application does not count: ok"

# --- a reset mail whose token died before it went: never sent, its body emptied -------------------
# Queued as forgot queues them, bound to their tokens; one due now, one
# backed off (the mail server away) whose token was voided.
ra_account late@example.com +6281277770007 "$pw"
late=$aid
tok=
marker1=LATE-EXPIRED-$RANDOM$RANDOM marker2=LATE-VOIDED-$RANDOM$RANDOM
r1=$(q "INSERT INTO ra_password_reset (account_id, token_sha256, expires_at, created_at)
	VALUES ($late, sha256('$marker1'::bytea), now() - interval '1 second', now() - interval '31 minutes') RETURNING id")
r2=$(q "INSERT INTO ra_password_reset (account_id, token_sha256, expires_at, used_at)
	VALUES ($late, sha256('$marker2'::bytea), now() + interval '10 minutes', now()) RETURNING id")
m1=$(q "INSERT INTO ra_mail_outbox (recipient, subject, body, password_reset_id)
	VALUES ('late@example.com', 'Reset your password', 'token $marker1', $r1) RETURNING id")
m2=$(q "INSERT INTO ra_mail_outbox (recipient, subject, body, password_reset_id, next_attempt_at, attempts)
	VALUES ('late@example.com', 'Reset your password', 'token $marker2', $r2, now() + interval '1 hour', 3) RETURNING id")
q "SELECT pg_notify('ra_mail', '$m1')" >/dev/null
for ((i = 0; i < 100; i++)); do
	[ "$(q "SELECT count(*) FROM ra_mail_outbox WHERE id IN ($m1, $m2) AND body = ''")" = 2 ] && break
	sleep 0.1
done
[ "$(q "SELECT string_agg(id || ':' || (sent_at IS NULL) || ':' || body || ':' || (next_attempt_at = 'infinity') || ':' ||
	last_error, ',' ORDER BY id) FROM ra_mail_outbox WHERE id IN ($m1, $m2)")" = \
	"$m1:true::true:given up: its password reset token expired before it was sent,$m2:true::true:given up: its password reset token was used or voided before it was sent" ] ||
	fail "the dead reset mails: $(q "SELECT id, sent_at, body, next_attempt_at, last_error FROM ra_mail_outbox WHERE id IN ($m1, $m2)")"
! grep -rqs -e "$marker1" -e "$marker2" "$mail" || fail "a reset mail was sent after its token died"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.mail.expired' AND actor = 'ra:notifier'
	AND ((object_id = '$m1' AND details->>'reason' = 'expired' AND details->>'password_reset_id' = '$r1')
	OR (object_id = '$m2' AND details->>'reason' = 'used' AND details->>'password_reset_id' = '$r2'))
	AND details->>'account_id' = '$late'")" = 2 ] || fail "the given-up reset mails are not audited"
note "a reset mail whose token expired or was used is not sent, its body emptied, audited: ok"

# --- stale unverified accounts ----------------------------------------------------------------
sq='Squatter-Pass9'
secrets+=("$sq")
tok=
req POST /v1/register "{\"email\":\"victim@example.com\",\"phone\":\"+6281277770666\",\"password\":\"$sq\"}"
expect 201 "the squatter's registration"
old=$(jq -r .id "$tmp/out")
vsq=$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$(mail_to victim@example.com)" | tr -d '\r' | sed -n 1p)
secrets+=("$vsq")
login victim@example.com "$sq"
expect 200 "the squatter logs in"
sqtok=$(jq -r .token "$tmp/out")
secrets+=("$sqtok")
reg_victim() { refuse 409 "$1" POST /v1/register "{\"email\":\"victim@example.com\",\"phone\":\"+6281277770667\",\"password\":\"$new\"}"; }
reg_victim "the address of an unverified account inside its window"
# Older than the link's window (a day), but not unverified_account_days (7):
# kept (before: replaced once the link had expired).
q "UPDATE ra_account SET created_at = now() - interval '2 days' WHERE id = $old;
   UPDATE ra_session SET created_at = now() - interval '8 days', expires_at = now() - interval '7 days' WHERE account_id = $old" >/dev/null
q "UPDATE ra_email_verification SET expires_at = now() - interval '1 hour' WHERE account_id = $old" >/dev/null
reg_victim "an unverified account younger than unverified_account_days"
q "UPDATE ra_account SET created_at = now() - interval '8 days' WHERE id = $old" >/dev/null
# A verified phone, a PIN: kept (set here by SQL: a never-verified
# account gets no one-time code, so neither, nor TOTP).
q "UPDATE ra_account SET phone_verified = true, phone_verified_at = now() WHERE id = $old" >/dev/null
reg_victim "an unverified account with a verified phone"
unphone "$old"
q "UPDATE ra_account SET pin_hash = password_hash, pin_set_at = now() WHERE id = $old" >/dev/null
reg_victim "an unverified account with a PIN"
q "UPDATE ra_account SET pin_hash = NULL, pin_set_at = NULL WHERE id = $old" >/dev/null
# Its squatter logs in again and asks for a new link (a live session, a
# recent log-in, a valid link): none of that keeps the address (before:
# kept, so that logging in now and then held it for ever).
login victim@example.com "$sq"
expect 200 "the squatter logs in again"
sqtok=$(jq -r .token "$tmp/out")
secrets+=("$sqtok")
tok=$sqtok
for purpose in phone_verify set_pin totp_enrol; do
	refuse 403 "a code for $purpose to a never-verified account" POST /v1/otp \
		"{\"channel\":\"sms\",\"purpose\":\"$purpose\"}"
done
detail | has 'verify your email address first' || fail "the refused code's detail: $(detail)"
# A code to change the (perhaps mistyped) address is still sent.
req POST /v1/otp '{"channel":"sms","purpose":"change_email"}'
expect 201 "a change_email code to a never-verified account"
tok=
q "UPDATE ra_email_verification SET expires_at = now() + interval '1 hour' WHERE account_id = $old" >/dev/null
[ "$(live_sessions "$old")" -ge 1 ] || fail "the squatter has no live session"
# Stale at last: replaced.
req POST /v1/register "{\"email\":\"victim@example.com\",\"phone\":\"+6281277770667\",\"password\":\"$new\"}"
expect 201 "the owner registers the address of a stale account"
vid=$(jq -r .id "$tmp/out")
[ "$vid" != "$old" ] || fail "the same account id"
[ "$(q "SELECT email || '/' || (replaced_at IS NOT NULL) FROM ra_account WHERE id = $old")" = "replaced:$old/true" ] ||
	fail "the stale account: $(q "SELECT email, replaced_at FROM ra_account WHERE id = $old")"
[ "$(live_sessions "$old")" = 0 ] || fail "the squatter's session still lives"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.unverified_replaced' AND object_id = '$old'
	AND details->>'replaced_by' = '$vid' AND details->>'email' = 'vi…@example.com'")" = 1 ] ||
	fail "the replacement is not audited"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.register' AND object_id = '$vid'
	AND details->>'replaced_account_id' = '$old'")" = 1 ] || fail "the registration does not name the replaced account"
wait_mail victim@example.com 'Subject: An earlier unverified account at this address was replaced' >/dev/null ||
	fail "no notice of the replacement to the address"
me "$sqtok"
expect 401 "the squatter's session after the replacement"
refuse 404 "the squatter's old verification link" POST /v1/verify-email "{\"token\":\"$vsq\"}"
login victim@example.com "$sq"
expect 401 "the squatter's password"
login victim@example.com "$new"
expect 200 "the owner's password"
secrets+=("$(jq -r .token "$tmp/out")")
v=$(grep -l -- 'token=' "$mail"/*.eml | xargs grep -l -- '^To: <victim@example.com>' | xargs ls -t | sed -n 1p)
v=$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$v" | tr -d '\r' | sed -n 1p)
secrets+=("$v")
req POST /v1/verify-email "{\"token\":\"$v\"}"
expect 200 "the owner verifies the address"
[ "$(q "SELECT verified_once FROM ra_account WHERE id = $vid")" = t ] || fail "verified_once not set"
# An account verified once, whose address is unverified again (an email
# change) and old: kept, whatever its age.
ra_account moved@example.com +6281277770008 "$pw"
mv=$aid
q "UPDATE ra_account SET email_verified = false, email_verified_at = NULL, phone_verified = false,
	phone_verified_at = NULL, created_at = now() - interval '30 days' WHERE id = $mv;
   UPDATE ra_session SET created_at = now() - interval '30 days', expires_at = now() - interval '29 days' WHERE account_id = $mv;
   UPDATE ra_email_verification SET expires_at = now() - interval '1 hour' WHERE account_id = $mv" >/dev/null
[ "$(q "SELECT verified_once FROM ra_account WHERE id = $mv")" = t ] || fail "verified_once was unset"
refuse 409 "the unverified address of an account verified before" POST /v1/register \
	"{\"email\":\"moved@example.com\",\"phone\":\"+6281277770668\",\"password\":\"$new\"}"
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_account SET verified_once = false WHERE id = $mv" 'never unset'
note "stale unverified account replaced though logged in, with a valid link (audited, notice mailed, its session and link dead); younger than unverified_account_days, with a verified phone, a PIN, or verified once: 409; no code to a never-verified account (403): ok"

# --- the per-address limit of the reset endpoints ----------------------------------------------
start_rad rad-reset-rate PKI_RATE_PASSWORD_RESET_PER_MINUTE=2
url=$rad_url
forgot a1@example.com
forgot a2@example.com
req POST /v1/password/reset/otp "{\"token\":\"$t3\"}"
expect 429 "a third reset request from one address in a minute"
grep -qi '^retry-after: [1-9]' "$tmp/hdr" || fail "429 without Retry-After"
note "rate.password_reset_per_minute: ok"

# --- no secret in the logs, the audit trail or a detail --------------------------------------------
audit_text "$tmp/audit.txt"
no_secret_in "rad's log" "$rlog" "$tmp/rad-reset-rate.log" "$PKI_DIR/log/ra.log"
no_secret_in audit_event "$tmp/audit.txt"
no_secret_in "a problem detail" "$tmp/details"
! grep -q '"level":"err"' "$rlog" || { grep '"level":"err"' "$rlog"; fail "errors in $rlog"; }
note "no secret in the logs, the audit trail or a detail: ok"
