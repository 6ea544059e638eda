#!/usr/bin/env bash
# Issue 3's end-to-end certificate life-cycle against the stack of
# tests/run.sh (real rad, cad, ocspd, crld, slapd), through the public
# interfaces only: HTTP to rad with curl + jq, pkictl for what an
# administrator does (officers, pushing the directory queue now), oathtool
# for TOTP codes, the mail and SMS file sinks for links and codes; openssl,
# ldapsearch and READ-ONLY psql (a read-only transaction: no state change by
# SQL) to judge.
#
# 1. personal: register → verify email → log in → SMS OTP → verify phone →
#    KYC with images → an officer finds it in the queue, opens the detail
#    (every check passes) and the evidence, approves with a reason → the
#    applicant is mailed → the subscriber enrols a TOTP, previews the
#    agreement and agrees with a TOTP code → cad issues → the notifier marks
#    it issued and mails → GET /v1/certificates → `openssl verify` against
#    root and issuing CA → OCSP good → LDAP entry status=valid;
# 2. rekey: the one exception to "only the stack": a second rad started with
#    the documented environment override PKI_REKEY_WINDOW_DAYS=400 (as
#    test_ra_cert.sh does), since a fresh 365-day certificate is outside the
#    30-day window; rekey with an SMS OTP → another officer approves →
#    agreement → a new certificate → the old one revoked as superseded
#    (database reason 4, OCSP, LDAP after `pkictl publish`);
# 3. the subscriber revokes the new certificate (privilegeWithdrawn, an OTP)
#    → database reason 9, OCSP revoked, LDAP updated;
# 4. corporate: step 1's subscriber (an approved personal application) is
#    the representative of a company that two distinct officers approve
#    (four eyes: still submitted after the first); the sysadmin registers
#    with the named email, verifies, invites an employee, who registers,
#    verifies, accepts, verifies the phone and submits KYC with company_id;
#    two officers approve (corporate is four-eyes), the employee agrees, cad
#    issues with O = the company; the sysadmin requests the revocation
#    (affiliationChanged, an email OTP), an officer carries it out → OCSP
#    revoked, database reason 3, LDAP updated;
# 5. every state change above has its audit_event (action, actor, object
#    type and id, time within this test).
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
url=$PKI_RA_URL
mail=$PKI_DIR/spool/ra-mail
sms=$PKI_DIR/spool/ra-sms
log=$PKI_DIR/log/ra.log
# Read-only checks: every psql of this test runs in a read-only transaction.
q() { PGOPTIONS='-c default_transaction_read_only=on' sql_as "$PKI_TEST_PG_URI" "$1"; }
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
secrets=()	# passwords and tokens; none may reach rad's log
rad2=
base=
# The second rad (stage 2) is ours: stop it on a failure too.
fail() {
	[ -z "$rad2" ] || kill -TERM "$rad2" 2>/dev/null || true
	echo "FAIL: $*" >&2
	exit 1
}
command -v oathtool >/dev/null || fail "oathtool missing (deploy/packages.txt; make deps)"
t0=$(q "SELECT now()")

# --- HTTP -------------------------------------------------------------------------------
# req METHOD PATH [BODY]: Bearer $tok against ${base:-$url}; sets code, body in $tmp/out.
# A BODY starting with @ is a file.
req() {
	local args=(-sS -X "$1" -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}')
	[ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' --data-binary "$3")
	[ -z "${tok:-}" ] || args+=(-H "Authorization: Bearer $tok")
	code=$(curl "${args[@]}" "${base:-$url}$2")
}
# req_patient: req, waiting out a per-address rate limit (429 Retry-After).
req_patient() {
	local i
	for i in 1 2 3; do
		req "$@"
		[ "$code" = 429 ] || return 0
		sleep "$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/ip' "$tmp/hdr" | sed -n 1p)"
	done
}
expect() {
	[ "$code" = "$1" ] || fail "$2: HTTP $code, expected $1: $(head -c 600 "$tmp/out")"
}
j() { jq -r "$1" "$tmp/out"; }

# --- the sinks -------------------------------------------------------------------------
mail_to() { # mail_to EMAIL [PATTERN]: the newest message to EMAIL (holding PATTERN)
	local f
	f=$(grep -l -- "^To: <$1>" "$mail"/*.eml 2>/dev/null | xargs -r grep -l -- "${2:-.}" | xargs -r ls -t | sed -n 1p)
	[ -n "$f" ] || fail "no mail to $1${2:+ with '$2'}"
	echo "$f"
}
mail_token() { sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$(mail_to "$1" "${2:-token=}")" | tr -d '\r' | sed -n 1p; }
mail_code() { tr -d '\r' <"$(mail_to "$1" "one-time code for $2")" | sed -n 's/^ *\([0-9]\{6\}\)$/\1/p' | sed -n 1p; }
sms_code() { # sms_code PHONE PURPOSE: the code of the newest SMS of PURPOSE to PHONE
	local f
	f=$(grep -l -- "^To: $1" "$sms"/*.sms 2>/dev/null | xargs -r grep -l -- " for $2," | xargs -r ls -t | sed -n 1p)
	[ -n "$f" ] || fail "no SMS for $2 to $1"
	sed -n 's/.*PKI RA code \([0-9]\{6\}\) for.*/\1/p' "$f" | sed -n 1p
}
# sms_otp PHONE PURPOSE [MEMBERS FOR] / mail_otp EMAIL PURPOSE: an OTP for
# the session $tok; sets oid and oc. MEMBERS: more of the request (",..."),
# FOR: what the SMS says the code is for, when not PURPOSE.
sms_otp() {
	req POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"$2\"${3:-}}"
	expect 201 "SMS OTP $2"
	oid=$(j .otp_id)
	oc=$(sms_code "$1" "${4:-$2}")
	[ ${#oc} = 6 ] || fail "no code in the SMS for $2"
	audit ra.otp.send ra_otp "$oid" '^subscriber:[0-9]+$' "details->>'purpose' = '$2'"
}
mail_otp() {
	req POST /v1/otp "{\"channel\":\"email\",\"purpose\":\"$2\"}"
	expect 201 "email OTP $2"
	oid=$(j .otp_id)
	oc=$(mail_code "$1" "$2")
	[ ${#oc} = 6 ] || fail "no code in the mail for $2"
	audit ra.otp.send ra_otp "$oid" '^subscriber:[0-9]+$' "details->>'purpose' = '$2'"
}
otpf() { echo "{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$oc\"}"; }

# --- the audit expectations (checked in stage 5) -------------------------------------------
# audit ACTION OBJECT_TYPE OBJECT_ID ACTOR_REGEX [SQL-CONDITION]: an event
# that must exist (OBJECT_ID '*': any, for objects this test cannot name).
audits=()
audit() { audits+=("$1|$2|$3|$4|${5:-true}"); }

# --- subscribers ------------------------------------------------------------------------
pw='Life-Cycle-Pass9'
secrets+=("$pw")
# account EMAIL PHONE: registered, email verified by the mailed link, logged
# in; sets aid and tok.
account() {
	local v
	tok=
	req_patient POST /v1/register "{\"email\":\"$1\",\"phone\":\"$2\",\"password\":\"$pw\"}"
	expect 201 "register $1"
	aid=$(j .id)
	v=$(mail_token "$1" verify-email)
	[ ${#v} = 43 ] || fail "no verification link mailed to $1"
	secrets+=("$v")
	req POST /v1/verify-email "{\"token\":\"$v\"}"
	expect 200 "verify $1"
	req_patient POST /v1/login "{\"email\":\"$1\",\"password\":\"$pw\"}"
	expect 200 "login $1"
	tok=$(j .token)
	secrets+=("$tok")
	req GET /v1/me
	expect 200 "me $1"
	[ "$(j '"\(.email_verified)/\(.phone_verified)"')" = true/false ] || fail "account $1: $(cat "$tmp/out")"
	audit ra.account.register ra_account "$aid" '^subscriber:[0-9]+$'
	audit ra.account.verify_email ra_account "$aid" '^subscriber:[0-9]+$'
	audit ra.session.login ra_session '*' '^subscriber:[0-9]+$' "details->>'account_id' = '$aid'"
}
verify_phone() { # verify_phone PHONE: by an SMS OTP of purpose phone_verify
	sms_otp "$1" phone_verify
	req POST /v1/phone/verify "{\"otp_id\":$oid,\"code\":\"$oc\"}"
	expect 200 "phone verify $1"
	audit ra.phone.verify ra_account "$aid" '^subscriber:[0-9]+$'
	req GET /v1/me
	[ "$(j .phone_verified)" = true ] || fail "phone of account $aid not verified"
}
# KYC bodies: an e-KTP PNG and a JPEG selfie (kyc_body.py).
mk_kyc() { python3 "$(dirname "$0")/kyc_body.py" "$@"; }
# wait_status APP STATUS: the subscriber ($tok) sees APP in STATUS within 30 s.
wait_status() {
	local i
	for ((i = 0; i < 300; i++)); do
		req GET "/v1/applications/$1"
		expect 200 "application $1"
		[ "$(j .status)" = "$2" ] && return 0
		sleep 0.1
	done
	req GET "/v1/applications/$1/agreement"
	fail "application $1 not $2 within 30 s: $(cat "$tmp/out")"
}

# --- officers ------------------------------------------------------------------------------
opw='Officer-Life-Cycle-2026'
secrets+=("$opw")
(umask 077; printf '%s\n' "$opw" >"$tmp/officer.pw")
# officer USER: pkictl officer add (ra_officer), then log-in with password
# and TOTP; sets offid and otok. One log-in per officer: a TOTP code works
# once per 30 s step, and the session (900 s) outlives this test.
officer() {
	local s
	pkictl officer add --username "$1" --role ra_officer --password-file "$tmp/officer.pw" \
		>"$tmp/add.out" 2>"$tmp/add.err" || fail "officer add $1: $(cat "$tmp/add.err")"
	offid=$(sed -n 's/^officer .* created, id \([0-9]*\).*/\1/p' "$tmp/add.out")
	s=$(sed -n 's/^totp_secret //p' "$tmp/add.out")
	[ -n "$offid" ] && [ -n "$s" ] || fail "officer add $1: $(cat "$tmp/add.out")"
	tok=
	req POST /v1/officer/login "{\"username\":\"$1\",\"password\":\"$opw\",\"totp\":\"$(oathtool --totp -b "$s")\"}"
	expect 200 "officer login $1"
	otok=$(j .token)
	secrets+=("$otok")
	audit ra.officer.create ra_officer "$offid" '^pkictl:'
	audit ra.officer.login ra_officer_session '*' "^officer:$offid\$"
}
# decide OFFICER-TOKEN OFFICER-ID APP REASON: an approval; the reply in $tmp/out.
decide() {
	tok=$1
	req POST "/v1/officer/applications/$3/decision" "{\"decision\":\"approve\",\"reason\":\"$4\"}"
	expect 200 "approval of $3 by officer $2"
	audit ra.application.decide ra_application "$3" "^officer:$2\$" "details->>'reason' = '$4'"
}
# all_checks_pass: the detail in $tmp/out has every automatic check passing.
all_checks_pass() {
	jq -e '(.checks | length) >= 9 and all(.checks[]; .pass == true)' "$tmp/out" >/dev/null ||
		fail "$1: failing checks: $(jq -c '[.checks[] | select(.pass != true)]' "$tmp/out")"
}

# --- OCSP, LDAP ---------------------------------------------------------------------------
ocsp_of() {
	ocsp_client -url "$PKI_OCSP_URL" -CAfile "$PKI_ROOT_CERT" -issuer "$PKI_ISSUING_CERT" \
		-cert "$1" -no_nonce
}
ocsp_good() { ocsp_of "$1" | has ": good" || fail "OCSP does not say $1 is good: $(ocsp_of "$1")"; }
wait_ocsp_revoked() { # wait_ocsp_revoked PEM REASON-REGEX
	local i out
	for ((i = 0; i < 50; i++)); do
		out=$(ocsp_of "$1")
		if grep -q ": revoked" <<<"$out"; then
			grep -q "Reason: \($2\)" <<<"$out" || fail "OCSP reason of $1 not $2: $out"
			return 0
		fi
		sleep 0.2
	done
	fail "OCSP does not say $1 is revoked: $out"
}
# Subscriber entries are readable only with the directory's bind DN.
bind_dn=$(sed -n 's/^bind_dn = //p' "$PKI_CONFIG")
bind_pw=$(sed -n 's/^bind_pw_file = //p' "$PKI_CONFIG")
# ldap_status SERIAL PEM DESCRIPTION-REGEX: after `pkictl publish` (the
# directory queue now, not at crld's next round), the entry
# cn=SERIAL,ou=subscribers holds PEM's certificate and that description.
ldap_status() {
	publish_all
	ldapsearch -x -LLL -o ldif-wrap=no -H "$PKI_LDAP_URI" -D "$bind_dn" -y "$bind_pw" \
		-b "cn=$1,ou=subscribers,$PKI_LDAP_BASE" -s base '(objectClass=pkiUser)' \
		'userCertificate;binary' description >"$tmp/entry.ldif" 2>&1 ||
		fail "ldapsearch for subscriber $1: $(cat "$tmp/entry.ldif")"
	sed -n 's/^userCertificate;binary:: //p' "$tmp/entry.ldif" | base64 -d |
		openssl x509 -inform DER | cmp -s - <(openssl x509 -in "$2") ||
		fail "the directory's userCertificate of $1 is not the certificate"
	grep -q "^description: $3" "$tmp/entry.ldif" ||
		fail "directory entry $1: $(grep description "$tmp/entry.ldif"), expected $3"
	audit publish.ldap publish_certificate '*' '.' "details->>'serial' = '$1'"
}
# cert_pem CERT-ID FILE: GET /v1/certificates/ID (session $tok) → FILE, verified
# by openssl against the stack's root and issuing CA; sets serial.
cert_pem() {
	req GET "/v1/certificates/$1"
	expect 200 "certificate $1"
	j .pem >"$2"
	serial=$(j .serial)
	openssl verify -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" "$2" >"$tmp/verify.out" 2>&1 ||
		fail "openssl verify refuses certificate $1: $(cat "$tmp/verify.out")"
	[ "$(openssl x509 -in "$2" -noout -serial | cut -d= -f2)" = "$serial" ] || fail "serial of certificate $1"
}
subject_of() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
db_revocation() { # db_revocation CERT-ID: reason|revoked_by, from the database
	q "SELECT coalesce(revocation_reason::text, '-') || '|' || coalesce(revoked_by, '-') ||
	    '|' || (revoked_at IS NOT NULL) FROM certificate WHERE id = $1"
}

# ===========================================================================================
# 1. A personal certificate
# ===========================================================================================
n=$$
email=life-$n@example.com
phone=+62812$(printf '%08d' $((RANDOM * 3 + n % 1000)))
account "$email" "$phone"
acc=$aid
verify_phone "$phone"
serial4=$(printf '%04d' $((RANDOM % 9000 + 1000)))
nik=$(mk_kyc "$tmp/kyc.json" 'Dewi Lestari' 1992-04-21 F "$serial4")
req POST /v1/applications "@$tmp/kyc.json"
expect 201 "KYC submission"
app=$(j .id)
[ "$(j '.kind + "/" + .status')" = personal/submitted ] || fail "application: $(cat "$tmp/out")"
audit ra.application.submit ra_application "$app" '^subscriber:[0-9]+$'
stok=$tok
# A PIN from the identity just submitted (the NIK is in the certificate's
# subject, which any signing service may read): refused before the code
# is looked at, so the same code then sets a PIN that is not.
sms_otp "$phone" set_pin
for p in 210492 920421 042192 "${nik:6:6}" "${nik:0:6}" "${nik:10:6}"; do
	secrets+=("$p")
	req POST /v1/pin "{\"pin\":\"$p\",\"factor\":$(otpf)}"
	expect 400 "a PIN from the identity ($p)"
	detail | has 'NIK, or your date of birth' || fail "PIN $p: $(detail)"
done
[ "$(q "SELECT pin_hash IS NULL FROM ra_account WHERE id = $acc")/$(q "SELECT attempts || '/' || (consumed_at IS NULL) FROM ra_otp WHERE id = $oid")/$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.pin.set' AND object_id = '$acc'")" = t/0/true/0 ] ||
	fail "a refused PIN set one, used the code or was audited: $(q "SELECT pin_hash IS NULL FROM ra_account WHERE id = $acc")/$(q "SELECT attempts || '/' || (consumed_at IS NULL) FROM ra_otp WHERE id = $oid")/$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.pin.set' AND object_id = '$acc'")"
req POST /v1/pin "{\"pin\":\"518364\",\"factor\":$(otpf)}"
expect 200 "a PIN not from the identity, with the same code"
secrets+=(518364)
note "1. account $acc: registered, email and phone verified, KYC application $app submitted; PINs from its NIK or date of birth refused (400)"

officer "life-one-$n"
off1=$offid otok1=$otok
officer "life-two-$n"
off2=$offid otok2=$otok
tok=$otok1
req GET "/v1/officer/applications?status=submitted&q=${email/@/%40}"
expect 200 "queue"
[ "$(j '[.applications[] | .id] | map(tostring) | join(",")')" = "$app" ] || fail "queue: $(cat "$tmp/out")"
req GET "/v1/officer/applications/$app"
expect 200 "detail"
[ "$(j '.kyc.nik + "/" + .account.email + "/" + (.four_eyes | tostring)')" = "$nik/$email/false" ] ||
	fail "detail: $(jq -c 'del(.checks)' "$tmp/out")"
all_checks_pass "application $app"
code=$(curl -sS -o "$tmp/ev.bin" -w '%{http_code}' -H "Authorization: Bearer $otok1" \
	"$url/v1/officer/applications/$app/evidence/ktp_photo")
[ "$code" = 200 ] && cmp -s "$tmp/ev.bin" "$tmp/kyc.json.ktp.png" || fail "evidence: HTTP $code or other bytes"
audit ra.evidence.view ra_application "$app" "^officer:$off1\$"
decide "$otok1" "$off1" "$app" 'e-KTP, selfie and IDV scores consistent'
[ "$(j .status)" = approved ] || fail "not approved: $(cat "$tmp/out")"
audit ra.application.approve ra_application "$app" "^officer:$off1\$"
grep -q "^Subject: .*application $app is approved" "$(mail_to "$email" "application $app is approved")" ||
	fail "no approval mail"

# The subscriber enrols a TOTP (authorized by an SMS OTP) and agrees with it.
tok=$stok
sms_otp "$phone" totp_enrol
req POST /v1/totp "{\"factor\":$(otpf)}"
expect 201 "TOTP enrolment"
totp_secret=$(j .secret)
secrets+=("$totp_secret")
audit ra.totp.enrol ra_account "$acc" '^subscriber:[0-9]+$'
req POST /v1/totp/confirm "{\"code\":\"$(oathtool --totp -b "$totp_secret")\"}"
expect 200 "TOTP confirmation"
audit ra.totp.confirm ra_account "$acc" '^subscriber:[0-9]+$'
req GET "/v1/applications/$app/agreement"
expect 200 "agreement preview"
dn="CN=Dewi Lestari,serialNumber=NIK:$nik,C=ID"
[ "$(j '.status + "|" + .certificate.subject_dn + "|" + .certificate.profile')" = "approved|$dn|personal" ] ||
	fail "agreement preview: $(cat "$tmp/out")"
# The confirmation used this step's code: the next step's is accepted now (±1 step).
req POST "/v1/applications/$app/agreement" \
	"{\"accept\":true,\"terms\":\"$(agreement_terms "$url" "$tok" "$app")\",\"factor\":{\"type\":\"totp\",\"code\":\"$(oathtool --totp -b -N 'now + 30 seconds' "$totp_secret")\"}}"
expect 202 "agreement with a TOTP code"
order=$(j .order_id)
audit ra.application.agree ra_application "$app" '^subscriber:[0-9]+$' "details->>'order_id' = '$order' AND details->>'factor' = 'totp'"
wait_status "$app" issued
req GET /v1/certificates
expect 200 "my certificates"
[ "$(j '.certificates | length')" = 1 ] && [ "$(j '.certificates[0].status')" = valid ] ||
	fail "my certificates: $(cat "$tmp/out")"
cid=$(j '.certificates[0].id')
cert_pem "$cid" "$tmp/c1.pem"
serial1=$serial
[ "$(subject_of "$tmp/c1.pem")" = "$dn" ] || fail "issued subject $(subject_of "$tmp/c1.pem") is not the agreed $dn"
# Queued with the issued state; the outbox thread sends it.
m=$(wait_mail "$email" '^Subject: Your certificate has been issued') || fail "no issuance mail"
grep -q "Serial:  $serial1" "$m" || fail "the issuance mail lacks serial $serial1"
audit cert.issue certificate "$cid" '^cad:' "details->>'serial' = '$serial1'"
audit order.done issuance_order "$order" '^cad:'
audit ra.application.issued ra_application "$app" '^ra:notifier$' "details->>'certificate_id' = '$cid'"
ocsp_good "$tmp/c1.pem"
ldap_status "$serial1" "$tmp/c1.pem" 'status=valid$'
note "1. officer $off1 approved (checks pass), TOTP agreement, order $order issued as certificate $cid ($serial1): openssl verify, OCSP good, LDAP valid"

# --- 1b. the certificate is the subscriber's signing credential at signd -------------------
# A document-signing service (registered by an administrator) finds it for
# this userID; the subscriber authorizes one hash with an SMS OTP of purpose
# sign; signHash returns a signature that openssl verifies with c1.pem's key.
pkictl sigservice add --name "lifecycle-$$" >"$tmp/svc" || fail "pkictl sigservice add"
secrets+=("$(sed -n 's/^client_secret\t//p' "$tmp/svc")")
csc() { # csc METHOD BODY: signd with the service's token; sets code, body in $tmp/out
	code=$(curl -sS -X POST -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $stoken" --data-binary "$2" "$PKI_SIGN_URL/$1")
}
code=$(curl -sS -X POST -o "$tmp/out" -w '%{http_code}' --data-urlencode grant_type=client_credentials \
	--data-urlencode "client_id=$(sed -n 's/^client_id\t//p' "$tmp/svc")" \
	--data-urlencode "client_secret@"<(sed -n 's/^client_secret\t//p' "$tmp/svc" | tr -d '\n') \
	"$PKI_SIGN_URL/oauth2/token")
expect 200 "signd oauth2/token"
stoken=$(j .access_token)
secrets+=("$stoken")
audit sign.service.add sign_service '*' '^pkictl:'
# The service finds nothing of hers until she grants it at the RA
# (schema/112): her session lists the services, and she grants this one.
csc credentials/list "{\"userID\":\"$acc\"}"
expect 200 "credentials/list before the grant"
[ "$(j '.credentialIDs | length')" = 0 ] || fail "credentials/list before the grant: $(cat "$tmp/out")"
req GET /v1/sign-services
expect 200 "the signing services she may grant"
svcid=$(j ".services[] | select(.name == \"lifecycle-$$\") | .id")
[ -n "$svcid" ] && [ "$(j ".services[] | select(.id == $svcid) | .granted")" = false ] ||
	fail "GET /v1/sign-services: $(cat "$tmp/out")"
req POST "/v1/sign-services/$svcid/grant" '{}'
expect 201 "grant the signing service"
audit ra.sign_grant.add ra_account "$acc" '^subscriber:[0-9]+$' "details->>'service_id' = '$svcid'"
csc credentials/list "{\"userID\":\"$acc\"}"
expect 200 "credentials/list"
[ "$(j '.credentialIDs | join(",")')" = "$cid" ] || fail "credentials/list for account $acc: $(cat "$tmp/out")"
head -c 100 /dev/urandom >"$tmp/doc"
openssl dgst -sha256 -binary "$tmp/doc" >"$tmp/doc.sha256"
h=$(base64 -w0 "$tmp/doc.sha256")
# A sign code names the key and the document it is for (schema/060, 061):
# its reference is the first 8 bytes of SHA-256("pki-sign-binding-v2|" +
# credentialID + "|SHA256|1|" + hash hex).
ref=$(printf 'pki-sign-binding-v2|%s|SHA256|1|%s' "$cid" "$(od -An -tx1 -v "$tmp/doc.sha256" | tr -d ' \n')" |
	openssl dgst -sha256 -r | cut -c1-16 | tr a-f A-F | sed 's/\(....\)\(....\)\(....\)/\1-\2-\3-/')
sms_otp "$phone" sign ",\"credential_id\":\"$cid\",\"hash_algo\":\"sha256\",\"hashes\":[\"$h\"]" "signing 1 document(s), ref $ref"
[ "$(j .binding_ref)/$(j .documents)" = "$ref/1" ] || fail "sign OTP: binding_ref $(j .binding_ref), documents $(j .documents), want $ref/1"
csc credentials/authorize "{\"credentialID\":\"$cid\",\"numSignatures\":1,\"hashes\":[\"$h\"],\"hashAlgorithmOID\":\"2.16.840.1.101.3.4.2.1\",\"OTP\":\"$oc\",\"otpID\":$oid}"
expect 200 "credentials/authorize with an SMS OTP"
sad=$(j .SAD)
secrets+=("$sad")
csc signatures/signHash "{\"credentialID\":\"$cid\",\"SAD\":\"$sad\",\"hashes\":[\"$h\"],\"hashAlgorithmOID\":\"2.16.840.1.101.3.4.2.1\",\"signAlgo\":\"1.2.840.10045.2.1\"}"
expect 200 "signHash"
j '.signatures[0]' | base64 -d >"$tmp/doc.sig"
openssl x509 -in "$tmp/c1.pem" -noout -pubkey >"$tmp/c1.pub"
openssl pkeyutl -verify -pubin -inkey "$tmp/c1.pub" -in "$tmp/doc.sha256" -sigfile "$tmp/doc.sig" >/dev/null 2>&1 ||
	fail "the signHash signature does not verify with certificate $cid's key"
audit sign.authorize sign_sad "*" "^sam:authorize$"
audit sign.hash sign_credential "$cid" "^sam:sign$"
note "1b. certificate $cid listed at signd for account $acc; OTP authorization; signHash verified by openssl"

# ===========================================================================================
# 2. Rekey
# ===========================================================================================
# The exception to "only the stack's daemons": a fresh 365-day certificate
# is outside the 30-day rekey window, so a second rad (same configuration,
# database and sinks) runs with the documented environment override of
# policy/ra.conf's rekey.window_days, as test_ra_cert.sh does.
port2=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PKI_RA_PORT=$port2 PKI_REKEY_WINDOW_DAYS=400 "$BUILD/rad" --config "$PKI_CONFIG" >"$tmp/rad2.log" 2>&1 &
rad2=$!
for ((i = 0; i < 100; i++)); do
	curl -sf "http://127.0.0.1:$port2/health" >/dev/null 2>&1 && break
	kill -0 "$rad2" 2>/dev/null || { cat "$tmp/rad2.log" >&2; rad2=; fail "the second rad died"; }
	sleep 0.1
done
tok=$stok
sms_otp "$phone" rekey
base=http://127.0.0.1:$port2
req POST "/v1/certificates/$cid/rekey" "{\"factor\":$(otpf)}"
expect 201 "rekey (second rad)"
base=
rapp=$(j .id)
audit ra.application.rekey ra_application "$rapp" '^subscriber:[0-9]+$' "details->>'previous_certificate_id' = '$cid'"
kill -TERM "$rad2"
wait "$rad2" || { cat "$tmp/rad2.log" >&2; rad2=; fail "the second rad did not stop cleanly"; }
rad2=
tok=$otok2
req GET "/v1/officer/applications?kind=rekey&status=submitted&q=${email/@/%40}"
expect 200 "rekey queue"
[ "$(j '[.applications[] | .id] | map(tostring) | join(",")')" = "$rapp" ] || fail "rekey queue: $(cat "$tmp/out")"
req GET "/v1/officer/applications/$rapp"
expect 200 "rekey detail"
[ "$(j '.kind + "/" + .kyc.nik')" = "rekey/$nik" ] || fail "rekey detail: $(jq -c 'del(.checks)' "$tmp/out")"
all_checks_pass "rekey application $rapp"
decide "$otok2" "$off2" "$rapp" 'Rekey of a valid certificate, same identity'
[ "$(j .status)" = approved ] || fail "rekey not approved: $(cat "$tmp/out")"
audit ra.application.approve ra_application "$rapp" "^officer:$off2\$"
mail_to "$email" "application $rapp is approved" >/dev/null
tok=$stok
req GET "/v1/applications/$rapp/agreement"
expect 200 "rekey agreement preview"
[ "$(j '.kind + "|" + (.previous_certificate_id | tostring) + "|" + .certificate.subject_dn')" = "rekey|$cid|$dn" ] ||
	fail "rekey preview: $(cat "$tmp/out")"
sms_otp "$phone" agreement
req POST "/v1/applications/$rapp/agreement" "{\"accept\":true,\"terms\":\"$(agreement_terms "$url" "$tok" "$rapp")\",\"factor\":$(otpf)}"
expect 202 "rekey agreement"
rorder=$(j .order_id)
audit ra.application.agree ra_application "$rapp" '^subscriber:[0-9]+$' "details->>'order_id' = '$rorder'"
wait_status "$rapp" issued
req GET /v1/certificates
expect 200 "my certificates after rekey"
cid2=$(j "[.certificates[] | select(.id != $cid)] | .[0].id")
[ "$(j "[.certificates[] | \"\(.id):\(.status)\"] | sort | join(\",\")")" = \
  "$(printf '%s\n' "$cid:revoked" "$cid2:valid" | sort | paste -sd,)" ] || fail "certificates after rekey: $(cat "$tmp/out")"
cert_pem "$cid2" "$tmp/c2.pem"
serial2=$serial
[ "$(subject_of "$tmp/c2.pem")" = "$dn" ] || fail "the rekeyed certificate has another subject"
[ "$(openssl x509 -in "$tmp/c1.pem" -noout -pubkey)" != "$(openssl x509 -in "$tmp/c2.pem" -noout -pubkey)" ] ||
	fail "the rekeyed certificate has the old key"
req GET "/v1/certificates/$cid"
[ "$(j '.status + "/" + .revocation.reason')" = revoked/superseded ] || fail "old certificate: $(jq -c 'del(.pem)' "$tmp/out")"
[ "$(db_revocation "$cid")" = "4|ra:notifier|true" ] || fail "old certificate in the database: $(db_revocation "$cid")"
audit cert.issue certificate "$cid2" '^cad:'
audit order.done issuance_order "$rorder" '^cad:'
audit ra.application.issued ra_application "$rapp" '^ra:notifier$' "details->>'certificate_id' = '$cid2'"
audit cert.revoke certificate "$cid" '^ra:notifier$' "details->>'reason' = 'superseded' AND details->>'by_certificate_id' = '$cid2'"
wait_ocsp_revoked "$tmp/c1.pem" superseded
ocsp_good "$tmp/c2.pem"
ldap_status "$serial1" "$tmp/c1.pem" 'status=revoked; reason=superseded; revoked_at=20'
ldap_status "$serial2" "$tmp/c2.pem" 'status=valid$'
note "2. rekey (second rad, PKI_REKEY_WINDOW_DAYS=400): application $rapp approved by officer $off2, certificate $cid2 ($serial2); $serial1 superseded (DB 4, OCSP, LDAP)"

# ===========================================================================================
# 3. The subscriber revokes
# ===========================================================================================
sms_otp "$phone" revoke
req POST "/v1/certificates/$cid2/revoke" "{\"reason\":\"privilegeWithdrawn\",\"factor\":$(otpf)}"
expect 200 "revocation privilegeWithdrawn"
[ "$(db_revocation "$cid2")" = "9|subscriber:$acc|true" ] || fail "revocation in the database: $(db_revocation "$cid2")"
audit cert.revoke certificate "$cid2" "^subscriber:$acc\$" "details->>'reason' = 'privilegeWithdrawn' AND details->>'factor' = 'otp'"
# OpenSSL's reason table stops at removeFromCRL (8): reason 9 prints as (UNKNOWN).
wait_ocsp_revoked "$tmp/c2.pem" '(UNKNOWN)\|privilegeWithdrawn'
ldap_status "$serial2" "$tmp/c2.pem" 'status=revoked; reason=privilegeWithdrawn; revoked_at=20'
req GET "/v1/certificates/$cid2"
[ "$(j '.status + "/" + .revocation.reason')" = revoked/privilegeWithdrawn ] || fail "revoked view: $(jq -c 'del(.pem)' "$tmp/out")"
note "3. certificate $cid2 revoked by the subscriber (privilegeWithdrawn): DB reason 9, OCSP revoked, LDAP updated"

# ===========================================================================================
# 4. Corporate
# ===========================================================================================
company="PT Siklus Hidup $n"
sysmail=admin-$n@siklus$n.co.id
nib=$(printf '%013d' $((RANDOM * 32768 + RANDOM + 1)))
# Its own NPWP too: one pending or active company holds an NPWP
# (schema/065), and the other tests' companies share the stack.
npwp=$(printf '%015d' $((RANDOM * 32768 + RANDOM + 1)))
tok=$stok	# the representative: step 1's subscriber, whose personal application was approved
req POST /v1/corporate "{\"company_name\":\"$company\",\"nib\":\"$nib\",\"npwp\":\"$npwp\",
	\"deed_number\":\"17\",\"deed_date\":\"2021-06-01\",\"decree_number\":\"AHU-0017001.AH.01.01.Tahun 2021\",
	\"sysadmin_email\":\"$sysmail\"}"
expect 201 "company submission"
comp=$(j .id)
capp=$(j .application_id)
[ "$(j .status)" = pending ] || fail "company: $(cat "$tmp/out")"
audit ra.corporate.submit ra_company "$comp" '^subscriber:[0-9]+$' "details->>'application_id' = '$capp'"
mail_to "$sysmail" sysadmin >/dev/null
tok=$otok1
req GET "/v1/officer/applications/$capp"
expect 200 "company application detail"
[ "$(j '.kind + "/" + (.four_eyes | tostring)')" = corporate/true ] || fail "company application: $(jq -c 'del(.checks)' "$tmp/out")"
decide "$otok1" "$off1" "$capp" 'Deed, NIB and decree checked'
[ "$(j '.status + "/" + (.approvals | tostring) + "/" + (.approvals_required | tostring)')" = submitted/1/2 ] ||
	fail "four eyes: one approval must leave it submitted: $(cat "$tmp/out")"
req GET "/v1/officer/applications/$capp"
[ "$(j .status)" = submitted ] || fail "company application not submitted after one approval"
decide "$otok2" "$off2" "$capp" 'Second look: company documents fine'
[ "$(j .status)" = approved ] || fail "company not approved by the second officer: $(cat "$tmp/out")"
audit ra.application.approve ra_application "$capp" "^officer:$off2\$"
mail_to "$email" "application $capp is approved" >/dev/null
note "4. company $comp ($company) approved by officers $off1 and $off2 (four eyes)"

sphone=+62813$(printf '%08d' $((RANDOM * 3 + n % 1000)))
account "$sysmail" "$sphone"
sysacc=$aid systok=$tok
# The role is the account's that brings back the token mailed at submission.
req GET "/v1/corporate/$comp"
expect 404 "company before the sysadmin's claim"
sysclaim=$(mail_token "$sysmail" sysadmin/claim)
secrets+=("$sysclaim")
req POST /v1/corporate/sysadmin/claim "{\"token\":\"$sysclaim\"}"
expect 200 "sysadmin claim"
audit ra.corporate.sysadmin_claim ra_company "$comp" "^subscriber:$sysacc\$"
req GET "/v1/corporate/$comp"
expect 200 "company (sysadmin)"
[ "$(j '.status + "/" + (.your_roles | join(",")) + "/" + (.sysadmin_account_id | tostring)')" = "active/sysadmin/$sysacc" ] ||
	fail "company as the sysadmin: $(cat "$tmp/out")"
empmail=emp-$n@example.com
req POST "/v1/corporate/$comp/employees" "{\"email\":\"$empmail\"}"
expect 201 "invitation"
inv=$(j .invitation_id)
audit ra.corporate.invite ra_company_invitation "$inv" '^subscriber:[0-9]+$'
ephone=+62814$(printf '%08d' $((RANDOM * 3 + n % 1000)))
account "$empmail" "$ephone"
emp=$aid etok=$tok
itok=$(mail_token "$empmail" /v1/corporate/enrolments/accept)
[ ${#itok} = 43 ] || fail "no enrolment token mailed to $empmail"
secrets+=("$itok")
req POST /v1/corporate/enrolments/accept "{\"token\":\"$itok\"}"
expect 200 "enrolment"
audit ra.corporate.enrol ra_company_member '*' '^subscriber:[0-9]+$' "details->>'account_id' = '$emp'"
verify_phone "$ephone"
eserial4=$(printf '%04d' $((RANDOM % 9000 + 1000)))
enik=$(mk_kyc "$tmp/ekyc.json" 'Agus Pratama' 1988-11-03 M "$eserial4" "$comp")
req POST /v1/applications "@$tmp/ekyc.json"
expect 201 "employee's KYC"
eapp=$(j .id)
[ "$(j '.kind + "/" + (.company_id | tostring)')" = "corporate/$comp" ] || fail "employee application: $(cat "$tmp/out")"
audit ra.application.submit ra_application "$eapp" '^subscriber:[0-9]+$'
tok=$otok1
req GET "/v1/officer/applications/$eapp"
expect 200 "employee application detail"
[ "$(j '.kind + "/" + (.four_eyes | tostring) + "/" + .kyc.nik')" = "corporate/true/$enik" ] ||
	fail "employee application: $(jq -c 'del(.checks)' "$tmp/out")"
all_checks_pass "employee application $eapp"
decide "$otok1" "$off1" "$eapp" 'Employee identity verified'
[ "$(j .status)" = submitted ] || fail "four eyes: employee application approved by one officer"
decide "$otok2" "$off2" "$eapp" 'Employee identity verified, second officer'
[ "$(j .status)" = approved ] || fail "employee application not approved: $(cat "$tmp/out")"
audit ra.application.approve ra_application "$eapp" "^officer:$off2\$"
mail_to "$empmail" "application $eapp is approved" >/dev/null
tok=$etok
req GET "/v1/applications/$eapp/agreement"
expect 200 "employee agreement preview"
edn=$(j .certificate.subject_dn)
[[ $edn == *"O=$company"* && $edn == *"serialNumber=NIK:$enik"* && $(j .certificate.profile) == corporate ]] ||
	fail "employee preview: $(cat "$tmp/out")"
sms_otp "$ephone" agreement
req POST "/v1/applications/$eapp/agreement" "{\"accept\":true,\"terms\":\"$(agreement_terms "$url" "$tok" "$eapp")\",\"factor\":$(otpf)}"
expect 202 "employee agreement"
eorder=$(j .order_id)
audit ra.application.agree ra_application "$eapp" '^subscriber:[0-9]+$' "details->>'order_id' = '$eorder'"
wait_status "$eapp" issued
req GET /v1/certificates
expect 200 "employee's certificates"
ecid=$(j '.certificates[0].id')
cert_pem "$ecid" "$tmp/e.pem"
eserial=$serial
[ "$(subject_of "$tmp/e.pem")" = "$edn" ] || fail "employee certificate subject $(subject_of "$tmp/e.pem") is not $edn"
openssl x509 -in "$tmp/e.pem" -noout -subject | has -F "O = $company" || fail "no O = $company in the certificate"
audit cert.issue certificate "$ecid" '^cad:'
audit order.done issuance_order "$eorder" '^cad:'
audit ra.application.issued ra_application "$eapp" '^ra:notifier$' "details->>'certificate_id' = '$ecid'"
ocsp_good "$tmp/e.pem"
note "4. sysadmin $sysacc invited employee $emp; application $eapp (four eyes) agreed, certificate $ecid with O = $company"

tok=$systok
req GET "/v1/corporate/$comp"
expect 200 "company after issuance"
[ "$(j ".applications[] | select(.id == $eapp) | .certificate.id")" = "$ecid" ] ||
	fail "the sysadmin does not see the employee's certificate: $(cat "$tmp/out")"
mail_otp "$sysmail" revoke
req POST "/v1/corporate/$comp/revocation-requests" \
	"{\"certificate_id\":$ecid,\"reason\":\"affiliationChanged\",\"comment\":\"left the company\",\"factor\":$(otpf)}"
expect 201 "revocation request"
rid=$(j .id)
audit ra.corporate.revocation_request ra_revocation_request "$rid" '^subscriber:[0-9]+$' "details->>'factor' = 'otp'"
ocsp_good "$tmp/e.pem"	# not before an officer decides
tok=$otok1
req GET /v1/officer/revocation-requests
expect 200 "officer's revocation requests"
[ "$(j ".revocation_requests[] | select(.id == $rid) | .status + \"/\" + .reason + \"/\" + .company_name")" = \
  "pending/affiliationChanged/$company" ] || fail "revocation requests: $(cat "$tmp/out")"
req POST "/v1/officer/revocation-requests/$rid" '{"decision":"revoke","reason_text":"HR letter checked"}'
expect 200 "the officer revokes"
[ "$(db_revocation "$ecid")" = "3|officer:$off1|true" ] || fail "employee certificate in the database: $(db_revocation "$ecid")"
audit cert.revoke certificate "$ecid" "^officer:$off1\$" "details->>'reason' = 'affiliationChanged'"
audit ra.revocation_request.decide ra_revocation_request "$rid" "^officer:$off1\$" "details->>'decision' = 'revoke'"
wait_ocsp_revoked "$tmp/e.pem" affiliationChanged
ldap_status "$eserial" "$tmp/e.pem" 'status=revoked; reason=affiliationChanged; revoked_at=20'
tok=$etok
req GET "/v1/certificates/$ecid"
[ "$(j '.status + "/" + .revocation.reason')" = revoked/affiliationChanged ] || fail "employee's view: $(jq -c 'del(.pem)' "$tmp/out")"
note "4. sysadmin's revocation request $rid (affiliationChanged) carried out by officer $off1: DB reason 3, OCSP revoked, LDAP updated"

# ===========================================================================================
# 5. The audit trail
# ===========================================================================================
missing=()
for a in "${audits[@]}"; do
	IFS='|' read -r action otype oid_ actor cond <<<"$a"
	where="action = '$action' AND object_type = '$otype' AND actor ~ \$re\$$actor\$re\$ AND actor <> ''
	    AND at >= '$t0' AND at <= now() AND ($cond)"
	[ "$oid_" = '*' ] && where="$where AND object_id IS NOT NULL" || where="$where AND object_id = '$oid_'"
	[ "$(q "SELECT count(*) FROM audit_event WHERE $where")" -ge 1 ] || missing+=("$action $otype/$oid_ ($actor; $cond)")
done
[ ${#missing[@]} = 0 ] || fail "audit events missing: $(printf '\n  %s' "${missing[@]}")"
note "5. audit: ${#audits[@]} expected events found (action, actor, object type and id, time)"

no_secret_in "rad's log" "$log"
