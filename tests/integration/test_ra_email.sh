#!/usr/bin/env bash
# POST /v1/email (ra/change.c, schema/062; ra/README.md "Account changes")
# over HTTP with curl, against a rad of its own on the stack of
# tests/run.sh (the per-address limits of registration and log-in raised):
# - a change is pending until its link is opened: the account keeps its
#   verified address (log-in, email codes, reset tokens go by it), the
#   new address is no account's, so an account asking for a victim's
#   address blocks nothing: the victim registers it (201) and verifies it,
#   and the squatter's link then fails cleanly (409, link used up, audited
#   ra.account.email_change_failed, nothing else changed; the page's form
#   too); two accounts may wait for one address, the first to open its
#   link gets it;
# - the normal path end to end: a second request replaces the first (its
#   link 404), opening the link makes the address the account's, verified,
#   voids the reset tokens and email codes of the old address, queues the
#   notice to the old address (delivered), keeps the sessions; log-in by
#   the new address only;
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
	{ grep -l -- '^To: <[^>]*@mail-change\.example>' "$mail"/*.eml 2>/dev/null || true; } | wc -l
}
# The outbox sends what this test's requests queued (notices, reset mails)
# a moment later, or gives a dead reset mail up (ra.mail.expired): settled
# first, so that it is not blamed on the refused request; the mail sink
# counted by this test's recipients, not the other tests' mail.
before() {
	outbox_settled '%@mail-change.example' || fail "rad's outbox did not send this test's mail within 30 s"
	state >"$tmp/state.before"
}
me() { code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $1" "$url/v1/me"); }
login() { tok=; req POST /v1/login "{\"email\":\"$1\",\"password\":\"$pw\"}"; }
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
# link EMAIL SUBJECT: the token of the newest mail to EMAIL with SUBJECT.
link() {
	local f
	f=$(grep -l -- "^To: <$1>" "$mail"/*.eml | xargs -r grep -l -- "^Subject: $2" | xargs -r ls -t | sed -n 1p)
	[ -n "$f" ] || fail "no mail \"$2\" to $1"
	sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$f" | tr -d '\r' | sed -n 1p
}
confirm_link() { link "$1" 'Confirm your new email address'; }
mails_to() { grep -l -- "^To: <$1>" "$mail"/*.eml 2>/dev/null | wc -l; }
notices() { q "SELECT count(*) FROM ra_mail_outbox WHERE recipient = '$1' AND subject = 'Your email address was changed'"; }
# change EMAIL [FACTOR]: POST /v1/email with session $tok.
change() { req POST /v1/email "{\"email\":\"$1\",\"factor\":${2:-$(pinf)}}"; }
account_is() { # account_is ID EMAIL/VERIFIED
	[ "$(q "SELECT email || '/' || email_verified FROM ra_account WHERE id = $1")" = "$2" ] ||
		fail "account $1: $(q "SELECT email || '/' || email_verified FROM ra_account WHERE id = $1"), expected $2"
}

# --- an address asked for is pending, and blocks nobody --------------------------------------
account squat@mail-change.example +6281277771001
x=$aid xtok=$tok
before
change victim@mail-change.example
expect 202 "a change to the victim's address"
[ "$(jq -r '"\(.email)/\(.email_verified)/\(.pending_email)"' "$tmp/out")" = squat@mail-change.example/true/victim@mail-change.example ] ||
	fail "the change's answer: $(cat "$tmp/out")"
account_is "$x" squat@mail-change.example/true
[ "$(q "SELECT count(*) FROM ra_email_verification WHERE account_id = $x AND new_email = 'victim@mail-change.example'
	AND used_at IS NULL")" = 1 ] || fail "no pending link for the change"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.email_change_request' AND object_id = '$x'
	AND details->>'email' = 'sq…@mail-change.example' AND details->>'new_email' = 'vi…@mail-change.example'
	AND details->>'factor' = 'pin'")" = 1 ] || fail "the request is not audited"
[ "$(notices squat@mail-change.example)" = 0 ] || fail "a notice queued before the change is made"
me "$xtok"
[ "$(jq -r '"\(.email)/\(.email_verified)/\(.pending_email)"' "$tmp/out")" = squat@mail-change.example/true/victim@mail-change.example ] ||
	fail "/v1/me while pending: $(cat "$tmp/out")"
squat_link=$(confirm_link victim@mail-change.example)
secrets+=("$squat_link")
tr -d '\r' <"$(grep -l -- '^To: <victim@mail-change.example>' "$mail"/*.eml | sed -n 1p)" |
    has 'until then your account keeps its current address' || fail "the confirmation mail does not say the change waits"
login squat@mail-change.example
expect 200 "log-in by the address kept"
secrets+=("$(jq -r .token "$tmp/out")")
login victim@mail-change.example
expect 401 "log-in by a pending address"
# The victim registers the address and verifies it.
tok=
req POST /v1/register "{\"email\":\"victim@mail-change.example\",\"phone\":\"+6281277771002\",\"password\":\"$pw\"}"
expect 201 "the victim registers the address another account asked for"
victim=$(jq -r .id "$tmp/out")
v=$(link victim@mail-change.example 'Verify your email address')
secrets+=("$v")
req POST /v1/verify-email "{\"token\":\"$v\"}"
expect 200 "the victim verifies the address"
account_is "$victim" victim@mail-change.example/true
# The squatter's link now fails cleanly: used up, audited, nothing else.
before
req POST /v1/verify-email "{\"token\":\"$squat_link\"}"
expect 409 "the squatter's link once the victim holds the address"
detail | has 'another account holds this email address' || fail "the failed change's detail: $(detail)"
account_is "$x" squat@mail-change.example/true
account_is "$victim" victim@mail-change.example/true
[ "$(q "SELECT count(*) FROM ra_email_verification WHERE account_id = $x AND new_email = 'victim@mail-change.example'
	AND used_at IS NOT NULL")" = 1 ] || fail "the squatter's link is not used up"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.email_change_failed' AND object_id = '$x'
	AND details->>'new_email' = 'vi…@mail-change.example'")" = 1 ] || fail "the failed change is not audited"
[ "$(q "SELECT count(*) FROM audit_event WHERE id > $(sed -n 1p "$tmp/state.before" | sed 's|.*/||')
	AND action NOT IN $AUDIT_BACKGROUND AND action <> 'ra.account.email_change_failed'")" = 0 ] ||
	fail "the failed change audited something else"
[ "$(notices squat@mail-change.example)" = 0 ] || fail "a failed change queued a notice"
refuse 404 "the squatter's link opened again" POST /v1/verify-email "{\"token\":\"$squat_link\"}"
me "$xtok"
[ "$(jq -r '"\(.email)/\(.pending_email)"' "$tmp/out")" = squat@mail-change.example/null ] || fail "/v1/me after the failure: $(cat "$tmp/out")"
# Two accounts wait for one address; the first to open its link gets it.
account other@mail-change.example +6281277771003
y=$aid ytok=$tok
tok=$xtok
change shared@mail-change.example
expect 202 "the squatter asks for shared@"
xs=$(confirm_link shared@mail-change.example)
tok=$ytok
change shared@mail-change.example
expect 202 "another account asks for the same address"
ys=$(confirm_link shared@mail-change.example)
secrets+=("$xs" "$ys")
[ "$xs" != "$ys" ] || fail "one link for two accounts"
req POST /v1/verify-email "{\"token\":\"$ys\"}"
expect 200 "the second account opens its link first"
[ "$(jq -r .email "$tmp/out")" = shared@mail-change.example ] || fail "the answer: $(cat "$tmp/out")"
account_is "$y" shared@mail-change.example/true
before
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary "token=$xs" "$url/verify-email")
[ "$code" = 409 ] || fail "the page's form for a change to a taken address: HTTP $code"
has 'was not changed' "$tmp/out" || fail "the page: $(cat "$tmp/out")"
account_is "$x" squat@mail-change.example/true
[ "$(q "SELECT used_at IS NOT NULL FROM ra_email_verification WHERE account_id = $x AND new_email = 'shared@mail-change.example'")" = t ] ||
	fail "the form's failed link is not used up"
note "a pending address blocks nobody: the victim registers and verifies it, the squatter's link then 409 (used up, audited), two accounts may wait for one address: ok"

# --- the normal path end to end -------------------------------------------------------------
account nina@mail-change.example +6281277771004
n=$aid ntok=$tok
# Before the link: codes and reset tokens still go to the address kept.
req POST /v1/otp '{"channel":"email","purpose":"set_pin"}'
expect 201 "an email code while a change is pending"
old_oid=$(jq -r .otp_id "$tmp/out")
change nina.first@mail-change.example
expect 202 "a first change"
first=$(confirm_link nina.first@mail-change.example)
change nina.new@mail-change.example
expect 202 "a second change replaces it"
[ "$(jq -r .pending_email "$tmp/out")" = nina.new@mail-change.example ] || fail "the second answer: $(cat "$tmp/out")"
new=$(confirm_link nina.new@mail-change.example)
secrets+=("$first" "$new")
refuse 404 "the replaced change's link" POST /v1/verify-email "{\"token\":\"$first\"}"
account_is "$n" nina@mail-change.example/true
req POST /v1/otp '{"channel":"email","purpose":"set_pin"}'
expect 201 "an email code while a change is pending"
old_oid2=$(jq -r .otp_id "$tmp/out")
f=$(ls -t "$mail"/*.eml | sed -n 1p)
grep -q '^To: <nina@mail-change.example>' "$f" || fail "the email code did not go to the address kept"
old_c=$(tr -d '\r' <"$f" | sed -n 's/^ *\([0-9]\{6\}\)$/\1/p' | sed -n 1p)
[ -n "$old_c" ] || fail "no code in the mail to the address kept"
secrets+=("$old_c")
tok=
req POST /v1/password/forgot '{"email":"nina@mail-change.example"}'
expect 202 "a reset while a change is pending"
[ "$(q "SELECT count(*) FROM ra_password_reset WHERE account_id = $n AND used_at IS NULL")" = 1 ] ||
	fail "no reset token for the address kept"
tok=$ntok
[ "$(notices nina@mail-change.example)" = 0 ] || fail "a notice queued before the change is made"
req POST /v1/verify-email "{\"token\":\"$new\"}"
expect 200 "the new address's link"
[ "$(jq -r '"\(.id)/\(.email)/\(.email_verified)"' "$tmp/out")" = "$n/nina.new@mail-change.example/true" ] ||
	fail "the link's answer: $(cat "$tmp/out")"
account_is "$n" nina.new@mail-change.example/true
[ "$(q "SELECT count(*) FROM ra_password_reset WHERE account_id = $n AND used_at IS NULL")" = 0 ] ||
	fail "a reset token mailed to the old address survived the change"
[ "$(q "SELECT count(*) FROM ra_otp WHERE id IN ($old_oid, $old_oid2) AND attempts = max_attempts")" = 2 ] ||
	fail "codes mailed to the old address survived the change"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.email_change' AND object_id = '$n'
	AND details->>'old_email' = 'ni…@mail-change.example' AND details->>'new_email' = 'ni…@mail-change.example'
	AND details->>'otps_voided' = '2' AND details->>'resets_voided' = '1'")" = 1 ] ||
	fail "the change is not audited: $(q "SELECT details FROM audit_event WHERE action = 'ra.account.email_change' AND object_id = '$n'")"
before
req POST /v1/pin "{\"pin\":\"513802\",\"factor\":{\"type\":\"otp\",\"otp_id\":$old_oid2,\"code\":\"$old_c\"}}"
expect 401 "a code mailed to the old address"
unchanged "a code mailed to the old address"
f=$(wait_mail nina@mail-change.example '^Subject: Your email address was changed') || fail "no notice to the old address"
tr -d '\r' <"$f" | has '^The email address of your account was changed to nina.new@mail-change.example\.$' ||
	fail "the notice: $(tr -d '\r' <"$f")"
[ "$(notices nina.new@mail-change.example)" = 0 ] || fail "the notice went to the new address"
me "$ntok"
expect 200 "the session after the change"
[ "$(jq -r '"\(.email)/\(.email_verified)/\(.pending_email)"' "$tmp/out")" = nina.new@mail-change.example/true/null ] ||
	fail "/v1/me after the change: $(cat "$tmp/out")"
login nina@mail-change.example
expect 401 "log-in by the old address"
login nina.new@mail-change.example
expect 200 "log-in by the new address"
secrets+=("$(jq -r .token "$tmp/out")")
tok=$ntok
req POST /v1/otp '{"channel":"email","purpose":"set_pin"}'
expect 201 "an email code after the change"
grep -q '^To: <nina.new@mail-change.example>' "$(ls -t "$mail"/*.eml | sed -n 1p)" || fail "the email code did not go to the new address"
note "normal path: pending (log-in, codes, resets by the old address), a second request replaces the first, the link makes the change (resets and codes void, notice to the old address, sessions kept): ok"

# --- a new password voids a pending change ---------------------------------------------------
# Whoever held the session (and the PIN) asked for their own address; the
# owner changes the password, or resets it: the change must not complete.
account owner@mail-change.example +6281277771006
o=$aid
change intruder@mail-change.example
expect 202 "an intruder's change"
intr=$(confirm_link intruder@mail-change.example)
secrets+=("$intr")
req POST /v1/password "{\"current_password\":\"$pw\",\"new_password\":\"Owner-New-Pass9\",\"factor\":$(pinf)}"
expect 200 "the owner's new password"
[ "$(q "SELECT details->>'email_changes_voided' FROM audit_event WHERE action = 'ra.account.password_change'
	AND object_id = '$o' ORDER BY id DESC LIMIT 1")" = 1 ] || fail "the password change does not say it voided the change"
tok=
refuse 404 "the intruder's link after a new password" POST /v1/verify-email "{\"token\":\"$intr\"}"
account_is "$o" owner@mail-change.example/true
# The same through a password reset (the mailed token and the PIN).
pw_was=$pw
pw=Owner-New-Pass9
login owner@mail-change.example
expect 200 "log-in with the new password"
tok=$(jq -r .token "$tmp/out")
secrets+=("$tok")
change intruder2@mail-change.example
expect 202 "an intruder's second change"
intr=$(confirm_link intruder2@mail-change.example)
secrets+=("$intr")
tok=
req POST /v1/password/forgot '{"email":"owner@mail-change.example"}'
expect 202 "forgot"
for _ in $(seq 100); do
	[ "$(q "SELECT count(*) FROM ra_mail_outbox WHERE recipient = 'owner@mail-change.example'
	    AND subject = 'Reset your password' AND sent_at IS NULL")" = 0 ] && break
	sleep 0.1
done
f=$(grep -l -- "^To: <owner@mail-change.example>" "$mail"/*.eml | xargs grep -l 'Subject: Reset your password' | xargs ls -t | sed -n 1p)
rt=$(tr -d '\r' <"$f" | sed -n 's/^    \([A-Za-z0-9_-]\{43\}\)$/\1/p' | sed -n 1p)
secrets+=("$rt")
req POST /v1/password/reset "{\"token\":\"$rt\",\"new_password\":\"Owner-Reset-Pass9\",\"factor\":$(pinf)}"
expect 200 "the owner's reset"
[ "$(q "SELECT details->>'email_changes_voided' FROM audit_event WHERE action = 'ra.account.password_reset'
	AND object_id = '$o'")" = 1 ] || fail "the reset does not say it voided the change"
refuse 404 "the intruder's link after a reset" POST /v1/verify-email "{\"token\":\"$intr\"}"
account_is "$o" owner@mail-change.example/true
pw=$pw_was
secrets+=(Owner-New-Pass9 Owner-Reset-Pass9)
note "a new password, by the owner or by a reset, voids a pending address change (its link 404, audited email_changes_voided): ok"

# --- the link quota ---------------------------------------------------------------------------
account rate@mail-change.example +6281277771005
r=$aid
# The registration's link an hour old: the hour's count starts empty.
q "UPDATE ra_email_verification SET created_at = now() - interval '2 hours' WHERE account_id = $r" >/dev/null
for i in 1 2 3; do
	change "rate$i@mail-change.example"
	expect 202 "change $i within the hour"
done
before
change rate4@mail-change.example
expect 429 "the fourth change within the hour"
ra=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/Ip' "$tmp/hdr")
[ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 3600 ] || fail "the hour's Retry-After: '$ra'"
detail | has 'per_hour, per_day' || fail "the 429's detail: $(detail)"
unchanged "the fourth change within the hour"
[ "$(mails_to rate4@mail-change.example)" = 0 ] || fail "a refused change mailed its address"
# Refused before the factor: a wrong PIN is not even counted.
change rate4@mail-change.example "$(pinf 111111)"
expect 429 "a fifth change, with a wrong PIN"
unchanged "a refused change with a wrong PIN"
# The day's cap: the registration's link and three changes out of the hour.
q "UPDATE ra_email_verification SET created_at = now() - interval '2 hours' WHERE account_id = $r" >/dev/null
for i in 5 6; do
	change "rate$i@mail-change.example"
	expect 202 "change $i within the day"
done
before
change rate7@mail-change.example
expect 429 "the seventh link within the day"
ra=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/Ip' "$tmp/hdr")
[ -n "$ra" ] && [ "$ra" -gt 3600 ] && [ "$ra" -le 86400 ] || fail "the day's Retry-After: '$ra'"
unchanged "the seventh link within the day"
[ "$(mails_to rate7@mail-change.example)" = 0 ] || fail "a refused change mailed its address"
[ "$(notices rate@mail-change.example)" = 0 ] || fail "a change request queued a notice"
note "the link quota: the fourth change of the hour and the seventh link of the day 429 with Retry-After, before the factor, nothing changed or mailed: ok"

# --- no secret in the logs, the audit trail or a detail --------------------------------------------
audit_text "$tmp/audit.txt"
no_secret_in "rad's log" "$rlog" "$PKI_DIR/log/ra.log"
no_secret_in audit_event "$tmp/audit.txt"
no_secret_in "a problem detail" "$tmp/details"
! grep -q '"level":"err"' "$rlog" || { grep '"level":"err"' "$rlog"; fail "errors in $rlog"; }
note "no secret in the logs, the audit trail or a detail: ok"
