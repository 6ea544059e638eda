#!/usr/bin/env bash
# POST /v1/email (ra/change.c; ra/README.md "Account changes") over HTTP
# with curl, against a rad of its own on the stack of tests/run.sh (the
# per-address limits of registration and log-in raised):
# - the link quota: every verification link of the account counts
#   (email_verification.per_hour, per_day), a change beyond it is 429 with
#   Retry-After before its factor is tried, and nothing is changed,
#   mailed or queued;
# - no password, PIN, token or code in rad's log, audit_event or a detail.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
mail=$PKI_DIR/spool/ra-mail
sms=$PKI_DIR/spool/ra-sms
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
secrets=()	# every password, PIN, token and code used; none may be logged
touch "$tmp/details"

. "$(dirname "$0")/lib_ra.sh"
# req (lib_ra.sh), the problem's detail kept for the secrets check.
_req=$(declare -f req)
eval "${_req/req ()/_lib_req ()}"
req() { _lib_req "$@"; jq -r '.detail // empty' "$tmp/out" >>"$tmp/details" 2>/dev/null || true; }

start_rad rad-email PKI_RATE_REGISTER_PER_MINUTE=100000 PKI_RATE_LOGIN_PER_MINUTE=100000
url=$rad_url
rlog=$tmp/rad-email.log

pw='Email-Change9-horse'
pin=402917
secrets+=("$pw" "$pin")
# Everything a refused change must leave alone.
state() {
	q "SELECT (SELECT string_agg(id || ':' || email || ':' || email_verified || ':' || factor_failures,
	        ',' ORDER BY id) FROM ra_account) || '/' ||
	    (SELECT count(*) || ':' || count(used_at) FROM ra_email_verification) || '/' ||
	    (SELECT count(*) FROM ra_otp WHERE consumed_at IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM ra_password_reset WHERE used_at IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM ra_mail_outbox) || '/' || $AUDIT_MAX"
	find "$mail" -type f | wc -l
}
pinf() { echo "{\"type\":\"pin\",\"pin\":\"${1:-$pin}\"}"; }
# account EMAIL PHONE: registered, verified, logged in, PIN $pin (an SMS
# code of purpose set_pin); sets aid and tok.
account() {
	local oid c
	ra_account "$1" "$2" "$pw"
	req POST /v1/otp '{"channel":"sms","purpose":"set_pin"}'
	expect 201 "otp set_pin for $1"
	oid=$(jq -r .otp_id "$tmp/out")
	c=$(sms_code "$2")
	secrets+=("$c")
	req POST /v1/pin "{\"pin\":\"$pin\",\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$c\"}}"
	expect 200 "set the PIN of $1"
}
mails_to() { grep -l -- "^To: <$1>" "$mail"/*.eml 2>/dev/null | wc -l; }
# change EMAIL [FACTOR]: POST /v1/email with session $tok.
change() { req POST /v1/email "{\"email\":\"$1\",\"factor\":${2:-$(pinf)}}"; }

# --- the link quota ---------------------------------------------------------------------------
account rate@example.com +6281277771005
r=$aid
# The registration's link an hour old: the hour's count starts empty.
q "UPDATE ra_email_verification SET created_at = now() - interval '2 hours' WHERE account_id = $r" >/dev/null
for i in 1 2 3; do
	change "rate$i@example.com"
	expect 200 "change $i within the hour"
done
before
change rate4@example.com
expect 429 "the fourth change within the hour"
ra=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/Ip' "$tmp/hdr")
[ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 3600 ] || fail "the hour's Retry-After: '$ra'"
detail | has 'per_hour, per_day' || fail "the 429's detail: $(detail)"
unchanged "the fourth change within the hour"
[ "$(mails_to rate4@example.com)" = 0 ] || fail "a refused change mailed its address"
# Refused before the factor: a wrong PIN is not even counted.
change rate4@example.com "$(pinf 111111)"
expect 429 "a fifth change, with a wrong PIN"
unchanged "a refused change with a wrong PIN"
# The day's cap: the registration's link and three changes out of the hour.
q "UPDATE ra_email_verification SET created_at = now() - interval '2 hours' WHERE account_id = $r" >/dev/null
for i in 5 6; do
	change "rate$i@example.com"
	expect 200 "change $i within the day"
done
before
change rate7@example.com
expect 429 "the seventh link within the day"
ra=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/Ip' "$tmp/hdr")
[ -n "$ra" ] && [ "$ra" -gt 3600 ] && [ "$ra" -le 86400 ] || fail "the day's Retry-After: '$ra'"
unchanged "the seventh link within the day"
[ "$(mails_to rate7@example.com)" = 0 ] || fail "a refused change mailed its address"
note "the link quota: the fourth change of the hour and the seventh link of the day 429 with Retry-After, before the factor, nothing changed or mailed: ok"

# --- no secret in the logs, the audit trail or a detail --------------------------------------------
audit_text "$tmp/audit.txt"
no_secret_in "rad's log" "$rlog" "$PKI_DIR/log/ra.log"
no_secret_in audit_event "$tmp/audit.txt"
no_secret_in "a problem detail" "$tmp/details"
! grep -q '"level":"err"' "$rlog" || { grep '"level":"err"' "$rlog"; fail "errors in $rlog"; }
note "no secret in the logs, the audit trail or a detail: ok"
