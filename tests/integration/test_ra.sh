#!/usr/bin/env bash
# rad, the subscriber account API, over HTTP with curl against the stack of
# tests/run.sh: register → mail file (the local file sink) → verify → login
# → /v1/me → logout → the token is refused; then every documented rejection
# with its status and no state change (tables, audit_event, mail files);
# a new verification link (earlier ones voided, an hourly limit, none once
# verified);
# the lock-out with back-off and its audit events; the per-address log-in
# rate limit; no password or token in rad's log or in audit_event.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
url=$PKI_RA_URL
mail=$PKI_DIR/spool/ra-mail
log=$PKI_DIR/log/ra.log
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
secrets=()	# every password and token used, none may be logged

# req METHOD PATH [BODY [CONTENT-TYPE [AUTH]]]: sets code; body in $tmp/out, headers in $tmp/hdr.
req() {
	local args=(-sS -X "$1" -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}')
	if [ $# -ge 3 ]; then
		args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3")
	fi
	[ -z "${5:-}" ] || args+=(-H "Authorization: Bearer $5")
	code=$(curl "${args[@]}" "$url$2")
}
state() {
	q "SELECT (SELECT count(*) FROM ra_account) || '/' ||
	    (SELECT count(*) FROM ra_account WHERE email_verified) || '/' ||
	    (SELECT coalesce(sum(failed_logins), 0) FROM ra_account) || '/' ||
	    (SELECT count(*) FROM ra_account WHERE locked_until IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM ra_email_verification) || '/' ||
	    (SELECT count(*) FROM ra_email_verification WHERE used_at IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM ra_session) || '/' ||
	    (SELECT count(*) FROM ra_session WHERE revoked_at IS NOT NULL) || '/' ||
	    $AUDIT_MAX_OWN"
	{ grep -E -i -l -- "^To: <($own_mail)>" "$mail"/*.eml 2>/dev/null || true; } | wc -l
}
# The mail sink counted by this test's recipients, every address its
# requests name (rad's outbox sends the other tests' mail, @example.com too,
# whenever it comes), and this test's own queued mail sent before the
# snapshot, not during the request. The audit without the events of rad's
# notifier and the stack's cad (AUDIT_MAX_OWN): they write theirs for an
# earlier test's application, order or outbox mail in any window, and a
# request to rad's HTTP API writes neither.
own_mail='(alice|bob|carol|dana|dave|erin|eve|nobody[0-9]*|a\.\.b|sp ace|ttl[0-9]+)@example\.com|no-at-sign\.example\.com|a@-bad-\.nodot'
# unchanged WHAT: the state is the one saved by `before`.
before() {
	outbox_settled_re "^($own_mail)\$" || fail "rad's outbox did not send this test's mail within 30 s"
	state >"$tmp/state.before"
}
unchanged() {
	state >"$tmp/state.after"
	cmp -s "$tmp/state.before" "$tmp/state.after" ||
		fail "$1 changed state: $(tr '\n' ' ' <"$tmp/state.before") -> $(tr '\n' ' ' <"$tmp/state.after")"
}
# mail_token EMAIL: the token of the newest message to EMAIL in the file sink.
mail_token() {
	local f
	f=$(grep -l -- "^To: <$1>" "$mail"/*.eml | xargs ls -t | sed -n 1p)
	[ -n "$f" ] || fail "no mail to $1 in $mail"
	[ "$(stat -c %a "$f")" = 600 ] || fail "mail file $f is not 0600"
	sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$f" | tr -d '\r' | sed -n 1p
}
register() { # register EMAIL PASSWORD
	req POST /v1/register "{\"email\":\"$1\",\"phone\":\"+6281234567890\",\"password\":\"$2\"}"
}
login() { req POST /v1/login "{\"email\":\"$1\",\"password\":\"$2\"}"; }

# --- the happy path -------------------------------------------------------------
pw='Correct-Horse9'
secrets+=("$pw")
register 'Alice@Example.COM' "$pw"
expect 201 register
[ "$(jq -r .email "$tmp/out")" = alice@example.com ] || fail "email not lower-cased"
[ "$(jq -r .email_verified "$tmp/out")" = false ] || fail "new account verified"
id=$(jq -r .id "$tmp/out")
[ "$(q "SELECT email_verified FROM ra_account WHERE id = $id")" = f ] ||
	fail "new account not marked unverified"
q "SELECT password_hash FROM ra_account WHERE id = $id" | has '^\$argon2id\$v=19\$m=19456,t=2,p=1\$' ||
	fail "password not hashed with Argon2id at the policy's cost"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.register' AND object_id = '$id'")" = 1 ] ||
	fail "no audit event for the registration"
vtok=$(mail_token alice@example.com)
[ ${#vtok} -eq 43 ] || fail "no verification token in the mail"
secrets+=("$vtok")
# Stored hashed: the digest of the token's 32 bytes, never the token.
[ "$(q "SELECT count(*) FROM ra_email_verification WHERE account_id = $id
	AND expires_at BETWEEN now() + interval '23 hours' AND now() + interval '25 hours'")" = 1 ] ||
	fail "verification expiry is not the policy's 24 h"
# The mail says how long: in hours when whole, else in minutes (it said
# "valid for 0 hours" of a 30-minute link).
vmail() { grep -l -- "^To: <$1>" "$mail"/*.eml | xargs ls -t | sed -n 1p; }
tr -d '\r' <"$(vmail alice@example.com)" | grep -q '(valid for 24 hours, usable once)' ||
	fail "the verification mail does not say 24 hours"
# An unverified account may log in; /v1/me says it is unverified.
login alice@example.com "$pw"
expect 200 "login before verification"
t0=$(jq -r .token "$tmp/out")
secrets+=("$t0")
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $t0" "$url/v1/me")
expect 200 "/v1/me unverified"
[ "$(jq -r .email_verified "$tmp/out")" = false ] || fail "/v1/me: verified too early"

req POST /v1/verify-email "{\"token\":\"$vtok\"}"
expect 200 verify-email
[ "$(q "SELECT email_verified FROM ra_account WHERE id = $id")" = t ] || fail "not verified"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.verify_email' AND object_id = '$id'")" = 1 ] ||
	fail "no audit event for the verification"

login alice@example.com "$pw"
expect 200 login
tok=$(jq -r .token "$tmp/out")
secrets+=("$tok")
[ "$(jq -r .token_type "$tmp/out")" = Bearer ] || fail "token_type"
[ ${#tok} -eq 43 ] || fail "session token is not 256 bits in base64url"
sid=$(q "SELECT id FROM ra_session WHERE account_id = $id ORDER BY id DESC LIMIT 1")
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.session.login' AND object_id = '$sid'")" = 1 ] ||
	fail "no audit event for the log-in"
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok" "$url/v1/me")
expect 200 /v1/me
[ "$(jq -r .email "$tmp/out")" = alice@example.com ] || fail "/v1/me email"
[ "$(jq -r .email_verified "$tmp/out")" = true ] || fail "/v1/me email_verified"

code=$(curl -sS -X POST -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok" "$url/v1/logout")
expect 204 logout
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.session.logout' AND object_id = '$sid'")" = 1 ] ||
	fail "no audit event for the log-out"
before
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok" "$url/v1/me")
expect 401 "/v1/me after logout"
grep -qi '^www-authenticate: Bearer' "$tmp/hdr" || fail "401 without WWW-Authenticate"
code=$(curl -sS -X POST -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok" "$url/v1/logout")
expect 401 "second logout"
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' "$url/v1/me")
expect 401 "/v1/me without a token"
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer not-a-token" "$url/v1/me")
expect 401 "/v1/me with a malformed token"
unchanged "refused tokens"
# An expired session is refused too.
q "UPDATE ra_session SET expires_at = now() - interval '1 second' WHERE token_sha256 = sha256(decode(translate('$t0', '-_', '+/') || '=', 'base64'))" >/dev/null
before
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $t0" "$url/v1/me")
expect 401 "expired session"
unchanged "expired session"
note "register, verify, login, /v1/me, logout: ok"

# --- registration rejections: documented status, nothing stored, no mail -----------
before
for bad in 'Short1!a' 'alllower1!x' 'ALLUPPER1!X' 'NoDigits!!x' 'NoSymbol1xx'; do
	secrets+=("$bad")
	register bob@example.com "$bad"
	expect 400 "weak password"
	case $bad in
	Short1!a) detail | has 'at least 9 characters' || fail "length: $(detail)" ;;
	alllower1!x) detail | has 'upper-case' || fail "upper: $(detail)" ;;
	ALLUPPER1!X) detail | has 'lower-case' || fail "lower: $(detail)" ;;
	NoDigits!!x) detail | has 'digit' || fail "digit: $(detail)" ;;
	NoSymbol1xx) detail | has 'symbol' || fail "symbol: $(detail)" ;;
	esac
	detail | has -F -- "$bad" && fail "the detail quotes the password"
done
# (The other malformed forms are covered by tests/fuzz/fuzz_ra_request.c's
# corpus; each registration counts toward the per-address rate limit.)
for e in 'no-at-sign.example.com' 'a..b@example.com' 'a@-bad-.nodot' 'sp ace@example.com'; do
	register "$e" "$pw"
	expect 400 "malformed email $e"
	detail | has '^email:' || fail "email detail: $(detail)"
done
req POST /v1/register '{"email":"bob@example.com","phone":"0812","password":"Correct-Horse9"}'
expect 400 "malformed phone"
register alice@example.com "$pw"
expect 409 "duplicate email"
register ALICE@example.com "$pw"
expect 409 "duplicate email, other case"
req POST /v1/register '{"email":"bob@example.com","email":"eve@example.com","phone":"+6281234567890","password":"Correct-Horse9"}'
expect 400 "duplicate JSON key"
detail | has 'duplicate' || fail "duplicate key detail: $(detail)"
req POST /v1/register '{"email":"bob@example.com","phone":"+6281234567890","password":"Correct-Horse9","role":"officer"}'
expect 400 "unknown field"
detail | has 'role' || fail "unknown field detail: $(detail)"
req POST /v1/register '{"email":"bob@example.com","password":"Correct-Horse9"}'
expect 400 "missing field"
req POST /v1/register '{"email":"bob@example.com","phone":"+6281234567890","password":12345}'
expect 400 "password not a string"
req POST /v1/register '{"email":"bob@example.com","phone":"+6281234567890","password":"Correct-Horse9"'
expect 400 "truncated JSON"
req POST /v1/register '["bob@example.com"]'
expect 400 "not an object"
req POST /v1/register '{"email":"bob@example.com","phone":"+6281234567890","password":"Correct-Horse9"}' text/plain
expect 415 "wrong content type"
head -c 17000 /dev/zero | tr '\0' 'a' | sed 's/^/{"email":"/; s/$/"}/' >"$tmp/big.json"
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary "@$tmp/big.json" "$url/v1/register")
expect 413 "oversized body"
req GET /v1/register
expect 405 "GET /v1/register"
grep -qi '^allow: POST' "$tmp/hdr" || fail "405 without Allow"
req GET /v1/nothing
expect 404 "unknown path"
# HEAD (RFC 9110 §9.3.2) on what changes and records nothing: the GET's
# status and headers, no body; the API's GETs (an evidence view is audited)
# and POSTs answer HEAD 405, naming only what they take.
for p in /health /console/ /console/console.js; do
	code=$(curl -sS -I -o /dev/null -D "$tmp/hdr" -w '%{http_code}/%{size_download}' "$url$p")
	[ "$code" = 200/0 ] || fail "HEAD $p: $code"
	want=$(curl -sS -o /dev/null -D - "$url$p" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Tt]ype: //p')
	[ "$(tr -d '\r' <"$tmp/hdr" | sed -n 's/^[Cc]ontent-[Tt]ype: //p')" = "$want" ] || fail "HEAD $p: not GET's type"
done
code=$(curl -sS -X POST -o /dev/null -D "$tmp/hdr" -w '%{http_code}' "$url/health")
[ "$code" = 405 ] && tr -d '\r' <"$tmp/hdr" | grep -qix 'allow: GET, HEAD' || fail "POST /health: $code $(cat "$tmp/hdr")"
code=$(curl -sS -I -o /dev/null -D "$tmp/hdr" -w '%{http_code}' "$url/v1/me")
[ "$code" = 405 ] && tr -d '\r' <"$tmp/hdr" | grep -qix 'allow: GET' || fail "HEAD /v1/me: $code $(cat "$tmp/hdr")"
unchanged "refused registrations"
[ "$(q "SELECT count(*) FROM ra_account WHERE email = 'bob@example.com'")" = 0 ] || fail "bob stored"
note "registration rejections: ok"

# --- verification tokens: wrong, malformed, reused, expired -----------------------
register carol@example.com "$pw"
expect 201 "register carol"
cid=$(jq -r .id "$tmp/out")
ctok=$(mail_token carol@example.com)
secrets+=("$ctok")
before
req POST /v1/verify-email "{\"token\":\"$vtok\"}"
expect 404 "reused token"
wrong=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
req POST /v1/verify-email "{\"token\":\"$wrong\"}"
expect 404 "wrong token"
req POST /v1/verify-email '{"token":"short"}'
expect 400 "malformed token"
req POST /v1/verify-email "{\"token\":\"$ctok\",\"extra\":1}"
expect 400 "unknown field in verify-email"
req POST /v1/verify-email "{\"token\":\"$ctok\"}" text/plain
expect 415 "verify-email content type"
q "UPDATE ra_email_verification SET expires_at = now() - interval '1 second' WHERE account_id = $cid" >/dev/null
req POST /v1/verify-email "{\"token\":\"$ctok\"}"
expect 404 "expired token"
unchanged "refused verifications"
[ "$(q "SELECT email_verified FROM ra_account WHERE id = $cid")" = f ] || fail "carol verified"
note "verification rejections: ok"

# --- a new link for carol, whose link expired: resend, voiding, the hourly limit ----
login carol@example.com "$pw"
expect 200 "carol logs in unverified"
ctk=$(jq -r .token "$tmp/out")
secrets+=("$ctk")
before
req POST /v1/verify-email/resend
expect 401 "resend without a session"
req POST /v1/verify-email/resend '{}' application/json "$ctk"
expect 400 "resend with a body"
unchanged "refused resends"
req POST /v1/verify-email/resend '' application/json "$ctk"
expect 202 "resend"
[ "$(jq -r .email "$tmp/out")" = carol@example.com ] || fail "resend answer: $(cat "$tmp/out")"
r1=$(mail_token carol@example.com)
secrets+=("$r1")
[ "$r1" != "$ctok" ] || fail "the resend mailed the old link"
req POST /v1/verify-email/resend '' application/json "$ctk"
expect 202 "second resend"
r2=$(mail_token carol@example.com)
secrets+=("$r2")
[ "$(q "SELECT details->>'links_voided' FROM audit_event WHERE action = 'ra.account.verify_resend'
    AND object_id = '$cid' ORDER BY id DESC LIMIT 1")" = 1 ] || fail "the second resend did not void the first link"
# The registration's link and two resends: policy per_hour = 3.
before
req POST /v1/verify-email/resend '' application/json "$ctk"
expect 429 "a fourth link within the hour"
ra=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/ip' "$tmp/hdr")
[ -n "$ra" ] && [ "$ra" -ge 3000 ] && [ "$ra" -le 3600 ] || fail "Retry-After of the hourly limit: '$ra'"
req POST /v1/verify-email "{\"token\":\"$r1\"}"
expect 404 "a link voided by a newer one"
unchanged "the hourly limit and the voided link"
req POST /v1/verify-email "{\"token\":\"$r2\"}"
expect 200 "the newest link"
[ "$(q "SELECT email_verified FROM ra_account WHERE id = $cid")" = t ] || fail "carol not verified by the resent link"
before
req POST /v1/verify-email/resend '' application/json "$ctk"
expect 409 "resend once verified"
unchanged "resend once verified"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.verify_resend' AND object_id = '$cid'
    AND actor = 'subscriber:$cid'")" = 2 ] || fail "resends not audited"
note "resend: a new link, earlier ones voided, 3 an hour (429 with Retry-After), 409 once verified: ok"
# The daily cap (per_day 6): the hour's links moved two hours back, twice.
register dana@example.com "$pw"
expect 201 "register dana"
dnid=$(jq -r .id "$tmp/out")
login dana@example.com "$pw"
expect 200 "dana logs in"
dtk=$(jq -r .token "$tmp/out")
secrets+=("$dtk")
back2h() { q "UPDATE ra_email_verification SET created_at = created_at - interval '2 hours' WHERE account_id = $dnid" >/dev/null; }
for i in 1 2; do
	req POST /v1/verify-email/resend '' application/json "$dtk"
	expect 202 "dana's resend $i"
done
back2h
for i in 3 4 5; do
	req POST /v1/verify-email/resend '' application/json "$dtk"
	expect 202 "dana's resend $i"
done
back2h
before
req POST /v1/verify-email/resend '' application/json "$dtk"
expect 429 "a seventh link within a day"
unchanged "a seventh link within a day"
ra=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/ip' "$tmp/hdr")
[ -n "$ra" ] && [ "$ra" -gt 3600 ] && [ "$ra" -le 86400 ] || fail "Retry-After of the daily cap: '$ra'"
note "resend: 6 links a day (429, Retry-After beyond the hour): ok"

# --- the mail's link, for people without an app: GET a page, its button POSTs -------
register erin@example.com "$pw"
expect 201 "register erin"
eid=$(jq -r .id "$tmp/out")
f=$(grep -l -- "^To: <erin@example.com>" "$mail"/*.eml | xargs ls -t | sed -n 1p)
link=$(tr -d '\r' <"$f" | grep -o 'http[^ ]*/verify-email?token=[A-Za-z0-9_-]\{43\}' | sed -n 1p)
[ -n "$link" ] || fail "no verification link in the mail: $(cat "$f")"
secrets+=("${link##*=}")
code=$(curl -sS -o "$tmp/page" -D "$tmp/hdr" -w '%{http_code}' "$link")
[ "$code" = 200 ] && grep -qi '^content-type: text/html' "$tmp/hdr" &&
	grep -q "name=\"token\" value=\"${link##*=}\"" "$tmp/page" || fail "GET of the mail's link: $code $(cat "$tmp/page")"
grep -qi "^referrer-policy: no-referrer" "$tmp/hdr" || fail "the link's page leaks its URL (no Referrer-Policy)"
[ "$(q "SELECT email_verified FROM ra_account WHERE id = $eid")" = f ] || fail "a GET of the link verified the address"
form() { curl -sS -o "$tmp/page" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "$1" "$url/verify-email"; }
[ "$(form "token=${link##*=}")" = 200 ] && grep -q 'verified' "$tmp/page" || fail "the link's button: $(cat "$tmp/page")"
[ "$(q "SELECT email_verified FROM ra_account WHERE id = $eid")" = t ] || fail "the link's button did not verify"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.account.verify_email' AND object_id = '$eid'")" = 1 ] ||
	fail "the link's verification not audited"
[ "$(form "token=${link##*=}")" = 404 ] || fail "the link's token used twice"
[ "$(form "token=short")" = 400 ] || fail "a malformed form token"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$url/verify-email?token=short")" = 400 ] || fail "GET of a malformed link"
note "the mail's link: a page (GET verifies nothing), its button verifies once: ok"

# --- log-in: wrong password, lock-out with back-off, its audit ---------------------
register dave@example.com "$pw"
expect 201 "register dave"
did=$(jq -r .id "$tmp/out")
before
login nobody@example.com "$pw"
expect 401 "unknown email"
req POST /v1/login '{"email":"dave@example.com","password":"x","x":1}'
expect 400 "unknown login field"
req POST /v1/login "{\"email\":\"dave@example.com\",\"password\":\"$pw\"}" text/plain
expect 415 "login content type"
unchanged "refused log-ins"
for i in 1 2 3 4 5; do
	login dave@example.com "Wrong-Pass$i"
	secrets+=("Wrong-Pass$i")
	expect 401 "wrong password $i"
done
[ "$(q "SELECT failed_logins FROM ra_account WHERE id = $did")" = 5 ] || fail "failures not counted"
[ "$(q "SELECT count(*) FROM ra_account WHERE id = $did AND locked_until > now() + interval '50 seconds'")" = 1 ] ||
	fail "not locked for 60 s after 5 failures"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.login.failed' AND object_id = '$did'")" = 5 ] ||
	fail "failed log-ins not audited"
[ "$(q "SELECT details->>'locked_seconds' FROM audit_event WHERE action = 'ra.account.lock' AND object_id = '$did'")" = 60 ] ||
	fail "lock not audited"
before
login dave@example.com "$pw"
expect 429 "locked account, right password"
grep -qi '^retry-after: [0-9]' "$tmp/hdr" || fail "429 without Retry-After"
unchanged "a log-in while locked"
# Back-off: the next failure after the lock doubles it.
q "UPDATE ra_account SET locked_until = now() - interval '1 second' WHERE id = $did" >/dev/null
login dave@example.com "Wrong-Pass6"
secrets+=("Wrong-Pass6")
expect 401 "sixth wrong password"
[ "$(q "SELECT details->>'locked_seconds' FROM audit_event WHERE action = 'ra.account.lock' AND object_id = '$did' ORDER BY id DESC LIMIT 1")" = 120 ] ||
	fail "back-off did not double"
q "UPDATE ra_account SET locked_until = now() - interval '1 second' WHERE id = $did" >/dev/null
login dave@example.com "$pw"
expect 200 "log-in after the lock"
secrets+=("$(jq -r .token "$tmp/out")")
[ "$(q "SELECT failed_logins || '/' || (locked_until IS NULL) FROM ra_account WHERE id = $did")" = 0/true ] ||
	fail "a successful log-in does not reset the count"
note "lock-out and back-off: ok"

# --- rate limit per client address ------------------------------------------------
limited=0
for i in $(seq 1 65); do
	before
	login "nobody$i@example.com" "$pw"
	if [ "$code" = 429 ]; then
		limited=1
		break
	fi
	expect 401 "log-in $i before the limit"
done
[ "$limited" = 1 ] || fail "no 429 after 65 log-ins from one address"
expect 429 "rate-limited log-in"
grep -qi '^retry-after: [1-9]' "$tmp/hdr" || fail "429 without Retry-After"
unchanged "a rate-limited log-in"
login dave@example.com "$pw"
expect 429 "rate limit applies to good passwords too"
note "log-in rate limit after $i attempts: ok"

# --- the link's lifetime in the mail, under other policies ------------------------
ttl_mail() { # ttl_mail SECONDS EMAIL TEXT: a rad of that policy mails TEXT
	start_rad "rad-ttl$1" PKI_EMAIL_VERIFICATION_TTL_SECONDS="$1"
	code=$(curl -sS -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data-binary "{\"email\":\"$2\",\"phone\":\"+6281234567890\",\"password\":\"$pw\"}" \
	    "$rad_url/v1/register")
	expect 201 "register $2 (email_verification.ttl_seconds $1)"
	secrets+=("$(mail_token "$2")")
	tr -d '\r' <"$(vmail "$2")" | grep -q "(valid for $3, usable once)" ||
		fail "ttl_seconds $1: the mail does not say $3: $(tr -d '\r' <"$(vmail "$2")" | grep 'valid for')"
	kill -TERM "$rad_pid"
	wait "$rad_pid" 2>/dev/null || true
}
ttl_mail 1800 ttl1800@example.com '30 minutes'
ttl_mail 5400 ttl5400@example.com '90 minutes'
ttl_mail 3600 ttl3600@example.com '1 hour'
note "the link's lifetime in the mail (hours when whole, else minutes): ok"

# --- no secret in rad's log or in audit_event --------------------------------------
audit_text "$tmp/audit.txt"
no_secret_in "$log" "$log"
no_secret_in audit_event "$tmp/audit.txt"
! grep -q '"level":"err"' "$log" || { grep '"level":"err"' "$log"; fail "errors in $log"; }
note "no secret in the log or the audit trail: ok"
