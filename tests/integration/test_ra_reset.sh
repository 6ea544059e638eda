#!/usr/bin/env bash
# rad's password reset and the replacement of stale unverified accounts
# (issue 3; ra/reset.c, ra/account.c, schema/045) over HTTP with curl,
# against a rad of its own on the stack of tests/run.sh (the per-address
# limits raised, tested apart on a third rad):
# - POST /v1/password/forgot answers an unknown, an unverified and a
#   verified address alike (status and body); only the verified account
#   gets a token (stored as SHA-256, password_reset.ttl_seconds) and a
#   mail (outbox), audited; a new request voids the earlier token; at most
#   password_reset.per_hour an hour, still 202;
# - an account whose phone is verified needs an SMS code of purpose
#   password_reset (POST /v1/password/reset/otp): without one, or with a
#   wrong one (counted as every OTP), nothing changes; a weak new password
#   changes nothing; with token and code the password changes, every
#   session is revoked, the log-in lock-out is cleared, the old password
#   fails and the new one logs in, a notice is queued, audited; the token
#   is single use, an expired one is refused; POST /v1/otp refuses the
#   purpose; an account without a verified phone resets with the token;
# - POST /v1/register for the address of an account never verified and
#   past its window replaces it (201: its address freed as replaced:<id>,
#   its session and link dead, audited), and the new password works; an
#   unverified account inside its window, one with a link still valid, and
#   one verified before (an email change since) keep their address (409);
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
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.password_reset_request'
	AND object_id = '$rita' AND details->>'tokens_voided' = '0'")" = 1 ] || fail "the reset request is not audited"
t1=$(reset_token rita@example.com)
[ ${#t1} -eq 43 ] || fail "no reset token in the mail"
secrets+=("$t1")
[ "$(q "SELECT count(*) FROM ra_password_reset WHERE token_sha256 = sha256(decode(translate('$t1', '-_', '+/') || '=', 'base64'))")" = 1 ] ||
	fail "the stored digest is not the SHA-256 of the token's bytes"
req POST /v1/password/forgot '{"email":"rita@example.com","x":1}'
expect 400 "forgot with an unknown member"
req POST /v1/password/forgot 'email=rita@example.com'
[ "$code" = 400 ] || [ "$code" = 415 ] || fail "forgot with a form body: HTTP $code"
note "forgot: one answer for unknown, unverified and verified addresses; token stored as SHA-256, mailed, audited: ok"

# --- a new request voids the earlier token ---------------------------------------------------
forgot rita@example.com
t2=$(reset_token rita@example.com)
secrets+=("$t2")
[ "$t2" != "$t1" ] || fail "the same token twice"
[ "$(resets "$rita")" = 2/1 ] || fail "the earlier token was not voided: $(resets "$rita")"
refuse 404 "the voided token (SMS step)" POST /v1/password/reset/otp "{\"token\":\"$t1\"}"
refuse 404 "the voided token (reset)" POST /v1/password/reset "{\"token\":\"$t1\",\"new_password\":\"$new\"}"

# --- the SMS step ------------------------------------------------------------------------------
tok=$s1
req POST /v1/otp '{"channel":"sms","purpose":"password_reset"}'
expect 400 "POST /v1/otp for purpose password_reset"
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
	AND details->>'purpose' = 'password_reset'")" = 1 ] || fail "the SMS code is not audited"

# The lock-out of log-ins, to be lifted by the reset.
q "UPDATE ra_account SET failed_logins = 7, locked_until = now() + interval '1 hour' WHERE id = $rita" >/dev/null
h0=$(hash_of "$rita")
[ "$(live_sessions "$rita")" = 2 ] || fail "rita's two sessions"

# A wrong code: counted (the OTP's attempts, the account's factor failures),
# nothing else changes.
req POST /v1/password/reset "{\"token\":\"$t2\",\"new_password\":\"$new\",\"otp_id\":$oid,\"code\":\"$(other "$c")\"}"
expect 401 "a wrong SMS code"
[ "$(hash_of "$rita")/$(live_sessions "$rita")/$(resets "$rita")" = "$h0/2/2/1" ] ||
	fail "a wrong code changed the password, the sessions or the token"
[ "$(q "SELECT attempts FROM ra_otp WHERE id = $oid")/$(q "SELECT factor_failures FROM ra_account WHERE id = $rita")" = 1/1 ] ||
	fail "the wrong code was not counted"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.otp.failed' AND object_id = '$oid'")" = 1 ] ||
	fail "the wrong code is not audited"
# Another account's OTP: refused, nothing counted.
refuse 401 "an OTP that is not the account's" POST /v1/password/reset \
	"{\"token\":\"$t2\",\"new_password\":\"$new\",\"otp_id\":999999999,\"code\":\"$c\"}"
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
[ "$(live_sessions "$rita")/$(resets "$rita")" = 0/2/2 ] || fail "sessions or token after the reset"
[ "$(q "SELECT consumed_at IS NOT NULL FROM ra_otp WHERE id = $oid")" = t ] || fail "the OTP was not used up"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.password_reset' AND object_id = '$rita'
	AND details->>'sessions_revoked' = '2' AND details->>'sms_code' = 'true' AND details->>'otp_id' = '$oid'")" = 1 ] ||
	fail "the reset is not audited"
wait_mail rita@example.com 'password of your account was reset' >/dev/null || fail "no notice of the reset"
for s in "$s1" "$s2"; do
	me "$s"
	expect 401 "an old session after the reset"
done
login rita@example.com "$pw"
expect 401 "the old password"
login rita@example.com "$new"
expect 200 "the new password"
secrets+=("$(jq -r .token "$tmp/out")")
refuse 404 "the token a second time" POST /v1/password/reset \
	"{\"token\":\"$t2\",\"new_password\":\"Reset-Third-Pass9\",\"otp_id\":$oid,\"code\":\"$c\"}"
refuse 404 "the used token, SMS step" POST /v1/password/reset/otp "{\"token\":\"$t2\"}"
note "reset with mailed token and SMS code: password, sessions, lock-out, notice, audit; single use: ok"

# --- an expired token ----------------------------------------------------------------------
forgot rita@example.com
t3=$(reset_token rita@example.com)
secrets+=("$t3")
q "UPDATE ra_password_reset SET expires_at = now() - interval '1 second', created_at = now() - interval '31 minutes'
	WHERE account_id = $rita AND used_at IS NULL" >/dev/null
refuse 404 "an expired token (SMS step)" POST /v1/password/reset/otp "{\"token\":\"$t3\"}"
refuse 404 "an expired token (reset)" POST /v1/password/reset "{\"token\":\"$t3\",\"new_password\":\"Reset-Third-Pass9\"}"
note "expired token refused: ok"

# --- password_reset.per_hour: still 202, nothing more -----------------------------------------
ra_account capped@example.com +6281277770002 "$pw"
capped=$aid
for i in 1 2 3; do forgot capped@example.com; done
[ "$(resets "$capped")" = 3/2 ] || fail "three requests: $(resets "$capped")"
before
forgot capped@example.com
cmp -s "$tmp/out" "$tmp/unknown.out" || fail "forgot over the hourly cap answers otherwise"
unchanged "a fourth request in the hour"
note "password_reset.per_hour: 3, then 202 and nothing: ok"

# --- an account whose phone is not verified: the token alone ------------------------------------
ra_account nophone@example.com +6281277770003 "$pw"
np=$aid
q "UPDATE ra_account SET phone_verified = false, phone_verified_at = NULL WHERE id = $np" >/dev/null
forgot nophone@example.com
t4=$(reset_token nophone@example.com)
secrets+=("$t4")
refuse 409 "the SMS step without a verified phone" POST /v1/password/reset/otp "{\"token\":\"$t4\"}"
req POST /v1/password/reset "{\"token\":\"$t4\",\"new_password\":\"$new\"}"
expect 200 "a reset by the mailed token alone"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.password_reset' AND object_id = '$np'
	AND details->>'sms_code' = 'false'")" = 1 ] || fail "the token-only reset is not audited"
login nophone@example.com "$new"
expect 200 "the new password (no phone)"
secrets+=("$(jq -r .token "$tmp/out")")
note "no verified phone: the mailed token alone: ok"

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
refuse 409 "the address of an unverified account inside its window" POST /v1/register \
	"{\"email\":\"victim@example.com\",\"phone\":\"+6281277770667\",\"password\":\"$new\"}"
# Older than the window, but its link still valid (a resend): kept.
q "UPDATE ra_account SET created_at = now() - interval '25 hours' WHERE id = $old" >/dev/null
refuse 409 "an unverified account whose link is still valid" POST /v1/register \
	"{\"email\":\"victim@example.com\",\"phone\":\"+6281277770667\",\"password\":\"$new\"}"
# Past its window: replaced.
q "UPDATE ra_email_verification SET expires_at = now() - interval '1 hour' WHERE account_id = $old" >/dev/null
req POST /v1/register "{\"email\":\"victim@example.com\",\"phone\":\"+6281277770667\",\"password\":\"$new\"}"
expect 201 "the owner registers the address of a stale account"
vid=$(jq -r .id "$tmp/out")
[ "$vid" != "$old" ] || fail "the same account id"
[ "$(q "SELECT email || '/' || (replaced_at IS NOT NULL) FROM ra_account WHERE id = $old")" = "replaced:$old/true" ] ||
	fail "the stale account: $(q "SELECT email, replaced_at FROM ra_account WHERE id = $old")"
[ "$(live_sessions "$old")" = 0 ] || fail "the squatter's session still lives"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.unverified_replaced' AND object_id = '$old'
	AND details->>'replaced_by' = '$vid' AND details->>'email' = 'victim@example.com'
	AND details->>'sessions_revoked' = '1'")" = 1 ] || fail "the replacement is not audited"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.register' AND object_id = '$vid'
	AND details->>'replaced_account_id' = '$old'")" = 1 ] || fail "the registration does not name the replaced account"
me "$sqtok"
expect 401 "the squatter's session after the replacement"
refuse 404 "the squatter's old verification link" POST /v1/verify-email "{\"token\":\"$vsq\"}"
login victim@example.com "$sq"
expect 401 "the squatter's password"
login victim@example.com "$new"
expect 200 "the owner's password"
secrets+=("$(jq -r .token "$tmp/out")")
v=$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$(mail_to victim@example.com)" | tr -d '\r' | sed -n 1p)
secrets+=("$v")
req POST /v1/verify-email "{\"token\":\"$v\"}"
expect 200 "the owner verifies the address"
[ "$(q "SELECT verified_once FROM ra_account WHERE id = $vid")" = t ] || fail "verified_once not set"
# An account verified once, whose address is unverified again (an email
# change) and old: kept, whatever its age.
ra_account moved@example.com +6281277770004 "$pw"
mv=$aid
q "UPDATE ra_account SET email_verified = false, email_verified_at = NULL, created_at = now() - interval '30 days' WHERE id = $mv;
   UPDATE ra_email_verification SET expires_at = now() - interval '1 hour' WHERE account_id = $mv" >/dev/null
[ "$(q "SELECT verified_once FROM ra_account WHERE id = $mv")" = t ] || fail "verified_once was unset"
refuse 409 "the unverified address of an account verified before" POST /v1/register \
	"{\"email\":\"moved@example.com\",\"phone\":\"+6281277770668\",\"password\":\"$new\"}"
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_account SET verified_once = false WHERE id = $mv" 'never unset'
note "stale unverified account replaced (audited, its session and link dead); within its window, with a valid link, or verified once: 409: ok"

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
