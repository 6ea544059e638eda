#!/usr/bin/env bash
# The RA officers' console (GET /console/ on rad) in headless Chromium
# (console_browser.py, DevTools protocol over a pipe): an auditor reads an
# application and a certificate and is offered no button that decides;
# then an officer logs in with password and TOTP, finds the subscriber's
# KYC application in the queue, reads its automatic checks, views the
# e-KTP photo and the selfie, approves it with a reason (not without one),
# cancels it with a reason (the subscriber is mailed),
# puts a certificate cad issued on hold and releases it (each with a
# reason), revokes it, and logs out; the page reports no
# error and no CSP violation. (test_ra_corp.sh carries out a sysadmin's
# revocation request in the console.)
# Then, from the database, OpenSSL and curl: the decision, the approval,
# the evidence views, the hold, the release and the revocation, each audited with the officer as
# actor; `openssl ocsp` says the certificate is revoked (keyCompromise);
# the session is ended; the console's headers forbid inline script and
# framing; nothing secret is in rad's log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
command -v chromium >/dev/null || fail "chromium missing (deploy/packages.txt; make deps)"
tmp=$(test_tmpdir)
rurl=$PKI_RA_URL
sms=$PKI_DIR/spool/ra-sms
mail=$PKI_DIR/spool/ra-mail
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
pw='Console-Otter4'
secrets=("$pw")

# --- the console's files and headers --------------------------------------------------
code=$(curl -sS -o "$tmp/index.html" -D "$tmp/hdr" -w '%{http_code}' "$rurl/console/")
[ "$code" = 200 ] || fail "GET /console/: $code"
grep -qi "^content-type: text/html" "$tmp/hdr" || fail "/console/ is not text/html"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self';" "$tmp/hdr" ||
	fail "/console/ has no strict CSP: $(grep -i content-security "$tmp/hdr")"
grep -qi "frame-ancestors 'none'" "$tmp/hdr" && grep -qi '^x-frame-options: DENY' "$tmp/hdr" ||
	fail "/console/ may be framed"
! grep -qi '<script>' "$tmp/index.html" || fail "inline script in index.html"
cmp -s "$tmp/index.html" "$REPO/ra/console/index.html" || fail "/console/ is not ra/console/index.html"
code=$(curl -sS -o /dev/null -D "$tmp/hdr" -w '%{http_code}' "$rurl/console")
[ "$code" = 301 ] && grep -qi '^location: /console/' "$tmp/hdr" || fail "GET /console: $code"
code=$(curl -sS -o "$tmp/out" -w '%{http_code}' "$rurl/console/other.js")
[ "$code" = 404 ] || fail "GET /console/other.js: $code"
code=$(curl -sS -o /dev/null -D "$tmp/hdr" -w '%{http_code}' "$rurl/console/console.js")
[ "$code" = 200 ] && grep -qi '^content-type: text/javascript' "$tmp/hdr" || fail "console.js: $code"

# --- an officer, a submitted application, an issued certificate --------------------------
(umask 077; printf '%s\n' "$pw" >"$tmp/officer.pw")
# new_officer USER ROLE: pkictl officer add; its TOTP secret in $tmp/USER.totp; sets offid.
new_officer() {
	pkictl officer add --username "$1" --role "$2" --password-file "$tmp/officer.pw" \
		>"$tmp/add.out" 2>"$tmp/add.err" || fail "officer add $1: $(cat "$tmp/add.err")"
	offid=$(sed -n 's/^officer .* created, id \([0-9]*\).*/\1/p' "$tmp/add.out")
	(umask 077; sed -n 's/^totp_secret //p' "$tmp/add.out" >"$tmp/$1.totp")
	[ -n "$offid" ] && [ -s "$tmp/$1.totp" ] || fail "officer add $1: $(cat "$tmp/add.out")"
	secrets+=("$(cat "$tmp/$1.totp")")
}
# browser SCENARIO USER ARGS...: console_browser.py, its lines as notes.
browser() {
	local scenario=$1 user=$2
	shift 2
	python3 "$(dirname "$0")/console_browser.py" "$scenario" "$rurl" "$user" "$tmp/officer.pw" \
		"$tmp/$user.totp" "$@" >"$tmp/browser.out" 2>&1 ||
		{ cat "$tmp/browser.out"; fail "the console in Chromium ($scenario)"; }
	sed "s/^/$TEST_NAME: /" "$tmp/browser.out"
}
new_officer "console-a-$$" auditor
new_officer "console-$$" ra_officer
officer=console-$$

account "console-$$@example.com" "+62813$(printf '%07d' $((RANDOM * 7 + $$ % 1000)))" 640213
rreq POST /v1/otp '{"channel":"sms","purpose":"phone_verify"}' "$tok"
[ "$code" = 201 ] || fail "otp phone_verify: $code $(cat "$tmp/out")"
oid=$(jq -r .otp_id "$tmp/out")
c=$(sms_code)
secrets+=("$c")
rreq POST /v1/phone/verify "{\"otp_id\":$oid,\"code\":\"$c\"}" "$tok"
[ "$code" = 200 ] || fail "phone verify: $code $(cat "$tmp/out")"
python3 "$(dirname "$0")/kyc_body.py" "$tmp/kyc.json" 'Sari Wulandari' 1990-06-14 F \
	"$(printf '%04d' $((RANDOM % 9000 + 1000)))" >/dev/null
rreq POST /v1/applications "@$tmp/kyc.json" "$tok"
[ "$code" = 201 ] || fail "KYC submission: $code $(cat "$tmp/out")"
app=$(jq -r .id "$tmp/out")
cred=$(issue "$aid" personal personal ec-p256 "Sari Wulandari")
cert_pem "$cred" "$tmp/cert.pem"
serial=$(openssl x509 -in "$tmp/cert.pem" -noout -serial | cut -d= -f2)
audit0=$(q "SELECT coalesce(max(id), 0) FROM audit_event")

# --- an auditor, then the officer at work, in Chromium -----------------------------------
browser auditor "console-a-$$" "$app" "$serial"
[ "$(q "SELECT status FROM ra_application WHERE id = $app")" = submitted ] || fail "the auditor changed the application"
browser review "$officer" "$app" "$serial"

# --- what it did, seen from outside --------------------------------------------------------
[ "$(q "SELECT status FROM ra_application WHERE id = $app")" = cancelled ] ||
	fail "application $app: $(q "SELECT status FROM ra_application WHERE id = $app")"
[ "$(q "SELECT decision || '|' || reason FROM ra_decision WHERE application_id = $app AND officer_id = $offid")" = \
	'approve|documents consistent, checks pass' ] || fail "no approval by officer $offid in ra_decision"
[ "$(q "SELECT count(*) FROM ra_decision WHERE application_id = $app")" = 1 ] ||
	fail "the refused approval without a reason left a decision"
[ "$(q "SELECT revocation_reason || '|' || coalesce(revoked_by, '-') FROM certificate WHERE id = $cred")" = "1|officer:$offid" ] ||
	fail "certificate $cred: $(q "SELECT revocation_reason || '|' || coalesce(revoked_by, '-') FROM certificate WHERE id = $cred")"
events=$(q "SELECT string_agg(action, ',' ORDER BY id) FROM audit_event
	WHERE id > $audit0 AND actor = 'officer:$offid'")
for a in ra.officer.login ra.evidence.view ra.application.decide ra.application.approve \
	ra.application.cancel cert.revoke ra.officer.logout; do
	[[ ",$events," == *",$a,"* ]] || fail "no $a event by officer:$offid (got: $events)"
done
[ "$(q "SELECT string_agg(action || ':' || coalesce(details->>'reason', '-'), ',' ORDER BY id) FROM audit_event
	WHERE id > $audit0 AND actor = 'officer:$offid' AND object_id = '$cred'")" = \
	'cert.revoke:certificateHold,cert.release:-,cert.revoke:keyCompromise' ] ||
	fail "the console's hold, release and revocation of $cred are not audited in that order"
[ "$(q "SELECT count(*) FROM audit_event WHERE id > $audit0 AND actor = 'officer:$offid' AND action = 'ra.evidence.view'")" = 2 ] ||
	fail "two evidence views were not audited as two"
[ "$(q "SELECT count(*) FROM ra_officer_session WHERE officer_id = $offid AND revoked_at IS NULL")" = 0 ] ||
	fail "the officer's session is still open after log-out"
for _ in $(seq 50); do
	out=$(ocsp_client -issuer "$PKI_ISSUING_CERT" -cert "$tmp/cert.pem" -url "$PKI_OCSP_URL" -CAfile "$PKI_ROOT_CERT")
	grep -q ': revoked' <<<"$out" && break
	sleep 0.1
done
grep -q ': revoked' <<<"$out" && grep -q 'Reason: keyCompromise' <<<"$out" ||
	fail "openssl ocsp after the console's revocation: $out"
no_secret_in "rad's log" "$PKI_DIR/log/ra.log"
grep -l "^Subject: Your certificate application $app was cancelled" "$PKI_DIR"/spool/ra-mail/*.eml >/dev/null ||
	fail "the subscriber was not mailed the console's cancellation"
note "the console's approval, cancellation, evidence views, hold, release and revocation are in the database and the audit trail; OCSP says keyCompromise"
exit 0
