#!/usr/bin/env bash
# A company's electronic seal, end to end at rad with the stack's cad: the
# representative of an approved company applies (POST
# /v1/corporate/{id}/eseals) for a seal certificate whose subject comes from
# the company the officers approved (O, organizationIdentifier NTRID-<NIB>)
# and the seal's name (CN); refusals (a pending company, the sysadmin, a
# stranger, bad names, a representative without a certificate of their
# own, a second open application) change nothing; two officers must approve it (four-eyes by profile) and see the
# company and the e-seal checks; between the approvals the officers' queue
# finds the company's applications by part of its name or its NIB, names
# the company in each row, lists e-seals alone (profile=eseal; an unknown
# profile 400) and, under awaiting=mine, the e-seal for the second officer
# only, and shows an auditor no NIK; the representative agrees with an SMS OTP;
# cad issues it on the eseal profile: `openssl verify` accepts it, its
# subject and key usage are a seal's, and it is the representative's
# credential for remote signing; the company view lists it; audited. The
# sysadmin cannot ask for its revocation (404 as an unknown certificate,
# nothing stored, refused by the database: schema/097); a request filed
# before is shown to the officers with the seal's profile and subject,
# carrying it out is 409 with nothing changed, rejecting it is fine. Its
# rekey (a second rad with a wide window) keeps the company and subject,
# carries no person's KYC and needs two officers again. Once the
# representative's own certificate is held or revoked, the e-seal's check
# representative fails and its approval (one waiting for the hold's
# COMMIT included), agreement and rekey are 409, nothing changed.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
url=$PKI_RA_URL
mail=$PKI_DIR/spool/ra-mail
sms=$PKI_DIR/spool/ra-sms
log=$PKI_DIR/log/ra.log
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
secrets=()

. "$(dirname "$0")/lib_ra.sh"
# The accounts this test makes (tests run one at a time, and no daemon makes
# one) have ids above acct0: the snapshot shows the applications of those,
# while rad's notifier may issue, reopen or cancel an earlier test's in any
# window (with its own audit event, ra:notifier: AUDIT_MAX_OWN). No daemon
# makes or deletes an application, a company's link to one or an order, so
# those are counted whole.
acct0=$(q "SELECT coalesce(max(id), 0) FROM ra_account")
state() {
	q "SELECT (SELECT count(*) FROM ra_application) || '/' ||
	    (SELECT coalesce(string_agg(id || status, ',' ORDER BY id), '')
	    FROM ra_application WHERE account_id > $acct0) || '/' ||
	    (SELECT count(*) FROM ra_company_application) || '/' ||
	    (SELECT count(*) FROM issuance_order) || '/' || $AUDIT_MAX_OWN"
}
pw='Eseal-Test-Pass9'
secrets+=("$pw")
account() { ra_account "$1" "$2" "$pw"; }
# The officers' decision on the company (test_ra_corp and test_lifecycle
# decide companies through the officer API).
approve_by_sql() {
	q "UPDATE ra_application SET status = 'approved', decided_at = now(), decision_reason = 'test'
	    WHERE id = $1" >/dev/null
}

# --- the representative and the company ------------------------------------------------
account rep-seal@example.com +6281200000301
rep=$aid rtok=$tok
python3 "$(dirname "$0")/kyc_body.py" "$tmp/kyc.json" 'Wahyu Segel' 1979-02-03 M 0301 >/dev/null
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok" \
	-H 'Content-Type: application/json' --data-binary "@$tmp/kyc.json" "$url/v1/applications")
expect 201 "the representative's personal KYC"
papp=$(jq -r .id "$tmp/out")
approve_by_sql "$papp"
req POST /v1/corporate '{"company_name":"PT Segel Nusantara","nib":"9876543210123","npwp":"098765432109000",
	"deed_number":"7","deed_date":"2019-05-20","decree_number":"AHU-0076543.AH.01.01.Tahun 2019",
	"sysadmin_email":"admin@segel.example"}'
expect 201 "the company"
cid=$(jq -r .id "$tmp/out") capp=$(jq -r .application_id "$tmp/out")
seal='{"name":"Segel Faktur Elektronik"}'
refuse 409 "an e-seal of a company not yet approved" POST "/v1/corporate/$cid/eseals" "$seal"
approve_by_sql "$capp"
account admin@segel.example +6281200000302
claim=$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$(grep -l 'sysadmin/claim' "$mail"/*.eml | xargs grep -l -- '^To: <admin@segel.example>')" | tr -d '\r' | sed -n 1p)
req POST /v1/corporate/sysadmin/claim "{\"token\":\"$claim\"}"
expect 200 "the sysadmin's claim"
sys=$aid stok=$tok
refuse 403 "the sysadmin applies for the seal" POST "/v1/corporate/$cid/eseals" "$seal"
account stranger-seal@example.com +6281200000303
refuse 404 "a stranger applies for the seal" POST "/v1/corporate/$cid/eseals" "$seal"
refuse 404 "no such company" POST "/v1/corporate/999999/eseals" "$seal"
tok=
refuse 401 "no session" POST "/v1/corporate/$cid/eseals" "$seal"
tok=$rtok
refuse 400 "an empty name" POST "/v1/corporate/$cid/eseals" '{"name":""}'
refuse 400 "a name with a space at the end" POST "/v1/corporate/$cid/eseals" '{"name":"Segel "}'
refuse 400 "a 65-byte name" POST "/v1/corporate/$cid/eseals" "{\"name\":\"$(printf 'S%.0s' $(seq 65))\"}"
refuse 400 "an unknown member" POST "/v1/corporate/$cid/eseals" '{"name":"Segel","o":"PT Lain"}'
refuse 405 "GET of the e-seal resource" GET "/v1/corporate/$cid/eseals"
before
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok" \
	-H 'Content-Type: text/plain' --data-binary "$seal" "$url/v1/corporate/$cid/eseals")
expect 415 "not JSON"
unchanged "not JSON"
note "refusals: 409 pending company, 403 sysadmin, 404 stranger and unknown company, 401, 400 names: ok"

# otp_sms PURPOSE PHONE WHAT: an SMS OTP of PURPOSE for session $tok; sets
# oid and c (the code, sent to PHONE).
otp_sms() {
	req POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"$1\"}"
	expect 201 "$3"
	oid=$(jq -r .otp_id "$tmp/out")
	c=$(sms_code "$2")
	secrets+=("$c")
}
# The representative holds a certificate of their own first: their
# approved personal application is agreed to and issued by the stack's cad.
refuse 403 "an e-seal before the representative's own certificate" POST "/v1/corporate/$cid/eseals" "$seal"
detail | has "certificate of their own" || fail "no personal certificate: $(detail)"
otp_sms agreement +6281200000301 "otp agreement (personal)"
req POST "/v1/applications/$papp/agreement" "{\"accept\":true,\"terms\":\"$(agreement_terms "$url" "$tok" "$papp")\",\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$c\"}}"
expect 202 "the representative agrees to their personal certificate"
for ((i = 0; i < 300; i++)); do
	[ "$(q "SELECT status FROM ra_application WHERE id = $papp")" = issued ] && break
	sleep 0.1
done
[ "$(q "SELECT status FROM ra_application WHERE id = $papp")" = issued ] || fail "the personal certificate was not issued"
req POST "/v1/corporate/$cid/eseals" "$seal"
expect 201 "the e-seal application"
sapp=$(jq -r .id "$tmp/out")
[ "$(jq -r '[.kind, .profile, .status, .subject.C, .subject.O, .subject.CN, .subject.organizationIdentifier] | join("/")' "$tmp/out")" = \
	"corporate/eseal/submitted/ID/PT Segel Nusantara/Segel Faktur Elektronik/NTRID-9876543210123" ] ||
	fail "e-seal answer: $(cat "$tmp/out")"
[ "$(q "SELECT a.account_id || '/' || (a.subject->>'organizationIdentifier') || '/' || ca.company_id
    FROM ra_application a JOIN ra_company_application ca ON ca.application_id = a.id WHERE a.id = $sapp")" = \
	"$rep/NTRID-9876543210123/$cid" ] || fail "e-seal rows"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.application.submit' AND object_id = '$sapp'
    AND actor = 'subscriber:$rep' AND details->>'profile' = 'eseal' AND details->>'company_id' = '$cid'")" = 1 ] ||
	fail "the e-seal application is not audited"
refuse 409 "a second e-seal while one is open" POST "/v1/corporate/$cid/eseals" '{"name":"Segel Kedua"}'
detail | has "open application" || fail "open slot: $(detail)"
note "the e-seal application: 403 before the representative's own certificate; subject from the approved company, linked, audited; one open at a time: ok"

# --- two officers ------------------------------------------------------------------------
opw='Officer-Eseal-2026'
secrets+=("$opw")
(umask 077; printf '%s\n' "$opw" >"$tmp/officer.pw")
officer() { ra_officer "$1" ra_officer "$tmp/officer.pw"; }
officer seal-one
tok1=$otok oid1=$oid
officer seal-two
tok2=$otok
tok=$tok1
req GET "/v1/officer/applications/$sapp"
expect 200 "the officer's detail of the e-seal application"
[ "$(jq -r '[.profile, (.four_eyes | tostring), .company.name, .company.nib, (.company.representative.id | tostring)] | join("/")' "$tmp/out")" = \
	"eseal/true/PT Segel Nusantara/9876543210123/$rep" ] || fail "e-seal detail: $(jq -c '{profile, four_eyes, company}' "$tmp/out")"
[ "$(jq -r '[.checks[] | .name + ":" + (.pass | tostring)] | join(",")' "$tmp/out")" = \
	"company_active:true,representative:true" ] || fail "e-seal checks: $(jq -c .checks "$tmp/out")"
req POST "/v1/officer/applications/$sapp/decision" '{"decision":"approve","reason":"deed and NIB checked"}'
expect 200 "the first approval"
[ "$(jq -r '.status + "/" + (.approvals | tostring) + "/" + (.approvals_required | tostring)' "$tmp/out")" = submitted/1/2 ] ||
	fail "one officer approved an e-seal: $(cat "$tmp/out")"
# The queue (GET /v1/officer/applications) reads the company: each row its
# company_name (the company's own application and those made for it);
# q finds them by part of the name (any case) or the whole NIB, never a
# prefix of it; profile filters (an unknown one 400); awaiting=mine lists
# what waits for this officer's second approval. Until 2026-12-07 the rows
# of companies and e-seals showed full_name null and nothing else, and
# q=PT%20Segel, q=<NIB>, profile= and awaiting= found nothing or were 400.
ids() { jq -r '[.applications[].id] | sort | map(tostring) | join(",")' "$tmp/out"; }
req GET "/v1/officer/applications?q=sEGEL%20nusant&per_page=100"
expect 200 "the queue by part of the company's name"
[ "$(ids)" = "$capp,$sapp" ] || fail "q by company name: $(cat "$tmp/out")"
[ "$(jq -r '[.applications[] | .company_name] | unique | join(",")' "$tmp/out")" = "PT Segel Nusantara" ] ||
	fail "company_name: $(cat "$tmp/out")"
req GET "/v1/officer/applications?q=9876543210123&per_page=100"
expect 200 "the queue by NIB"
[ "$(ids)" = "$capp,$sapp" ] || fail "q by NIB: $(cat "$tmp/out")"
req GET "/v1/officer/applications?q=987654321012&per_page=100"
expect 200 "the queue by a prefix of the NIB"
[ "$(ids)" = "" ] || fail "q by a NIB prefix: $(cat "$tmp/out")"
req GET "/v1/officer/applications?q=rep-seal%40example.com&per_page=100"
expect 200 "the queue by the representative's email"
[ "$(jq -r ".applications[] | select(.id == $papp) | .company_name" "$tmp/out")" = null ] ||
	fail "company_name of a personal application: $(cat "$tmp/out")"
req GET "/v1/officer/applications?profile=eseal&per_page=100"
expect 200 "the queue of e-seals"
[ "$(jq -r '[.applications[].profile] | unique | join(",")' "$tmp/out")" = eseal ] &&
    [ "$(jq -r ".applications[] | select(.id == $sapp) | .company_name" "$tmp/out")" = "PT Segel Nusantara" ] &&
    [ "$(jq -r .total "$tmp/out")" = "$(q "SELECT count(*) FROM ra_application WHERE profile = 'eseal'")" ] ||
	fail "profile=eseal: $(cat "$tmp/out")"
req GET "/v1/officer/applications?profile=personal&q=rep-seal%40example.com"
expect 200 "the queue of personal applications"
[ "$(ids)" = "$papp" ] || fail "profile=personal: $(cat "$tmp/out")"
refuse 400 "an unknown profile" GET "/v1/officer/applications?profile=root"
detail | has -F 'profile is one of personal, corporate, eseal, company' || fail "profile detail: $(detail)"
refuse 400 "awaiting other than mine" GET "/v1/officer/applications?awaiting=theirs"
# One approval of two: it waits for seal-two, not for seal-one who gave it.
req GET "/v1/officer/applications?awaiting=mine&per_page=100"
expect 200 "seal-one's awaiting=mine"
jq -e ".applications[] | select(.id == $sapp)" "$tmp/out" >/dev/null && fail "awaiting=mine lists seal-one's own approval"
tok=$tok2
req GET "/v1/officer/applications?awaiting=mine&per_page=100"
expect 200 "seal-two's awaiting=mine"
jq -e ".applications[] | select(.id == $sapp and .approvals == 1)" "$tmp/out" >/dev/null ||
	fail "awaiting=mine lacks the e-seal: $(cat "$tmp/out")"
[ "$(jq -r '[.applications[] | .status + "/" + (.approvals | tostring)] | unique | join(",")' "$tmp/out")" = submitted/1 ] ||
	fail "awaiting=mine lists others: $(cat "$tmp/out")"
# The auditor searches by company as officers do, and reads no NIK.
ra_officer seal-audit auditor "$tmp/officer.pw"
tok=$otok
repnik=$(q "SELECT nik FROM ra_kyc WHERE application_id = $papp")
[ "${#repnik}" = 16 ] || fail "test setup: the representative's NIK: $repnik"
for qs in 'q=PT%20Segel&per_page=100' 'q=9876543210123' 'q=rep-seal%40example.com' "q=${repnik: -4}" "q=$repnik"; do
	req GET "/v1/officer/applications?$qs"
	expect 200 "the auditor's queue ($qs)"
	has -F "$repnik" "$tmp/out" && fail "the auditor's queue shows a NIK ($qs)"
	jq -e '.applications[] | has("nik")' "$tmp/out" >/dev/null && fail "an auditor's row has nik ($qs)"
done
req GET "/v1/officer/applications?q=PT%20Segel&per_page=100"
[ "$(ids)" = "$capp,$sapp" ] || fail "the auditor's q by company name: $(cat "$tmp/out")"
req GET "/v1/officer/applications?awaiting=mine"
[ "$(jq -r .total "$tmp/out")" = 0 ] || fail "an auditor awaits approvals: $(cat "$tmp/out")"
note "queue: company_name, q by company name and NIB, profile=eseal, 400 profile, awaiting=mine (seal-two, not seal-one nor an auditor), no NIK for an auditor: ok"
tok=$tok2
req POST "/v1/officer/applications/$sapp/decision" '{"decision":"approve","reason":"second look: fine"}'
expect 200 "the second approval"
[ "$(jq -r .status "$tmp/out")" = approved ] || fail "two approvals: $(cat "$tmp/out")"
note "officers: the company and e-seal checks shown; four-eyes (1 of 2, then approved): ok"

# --- the agreement and issuance --------------------------------------------------------
tok=$rtok
req GET "/v1/applications/$sapp/agreement"
expect 200 "the e-seal's agreement view"
[ "$(jq -r '[.certificate.profile, (.certificate.validity_days | tostring), .certificate.subject_dn] | join("|")' "$tmp/out")" = \
	"eseal|730|CN=Segel Faktur Elektronik,organizationIdentifier=NTRID-9876543210123,O=PT Segel Nusantara,C=ID" ] ||
	fail "agreement view: $(jq -c .certificate "$tmp/out")"
otp_sms agreement +6281200000301 "otp agreement"
req POST "/v1/applications/$sapp/agreement" "{\"accept\":true,\"terms\":\"$(agreement_terms "$url" "$tok" "$sapp")\",\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$c\"}}"
expect 202 "the representative agrees"
order=$(jq -r .order_id "$tmp/out")
[ "$(q "SELECT kind || '/' || profile FROM issuance_order WHERE id = $order")" = eseal/eseal ] || fail "the order is not an e-seal's"
for ((i = 0; i < 300; i++)); do
	[ "$(q "SELECT status FROM ra_application WHERE id = $sapp")" = issued ] && break
	sleep 0.1
done
[ "$(q "SELECT status FROM ra_application WHERE id = $sapp")" = issued ] ||
	fail "the e-seal was not issued: $(q "SELECT status || ' ' || coalesce(last_error, '') FROM issuance_order WHERE id = $order")"
cert=$(q "SELECT certificate_id FROM issuance_order WHERE id = $order")
q "SELECT encode(der, 'base64') FROM certificate WHERE id = $cert" | base64 -d | openssl x509 -inform DER -out "$tmp/seal.pem"
openssl verify -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" "$tmp/seal.pem" >/dev/null ||
	fail "openssl verify rejects the e-seal"
openssl x509 -in "$tmp/seal.pem" -noout -subject -nameopt RFC2253 >"$tmp/subj"
has -F 'CN=Segel Faktur Elektronik,organizationIdentifier=NTRID-9876543210123,O=PT Segel Nusantara,C=ID' "$tmp/subj" ||
	fail "the e-seal's subject: $(cat "$tmp/subj")"
openssl x509 -in "$tmp/seal.pem" -noout -ext keyUsage,extendedKeyUsage >"$tmp/ku" 2>&1
has 'Digital Signature, Non Repudiation' "$tmp/ku" || fail "the e-seal's key usage: $(cat "$tmp/ku")"
has 'E-mail Protection' "$tmp/ku" && fail "an e-seal with e-mail protection"
# Its own policy (2.999.1.1.4, a legal person's seal), not the natural
# person's verified identity (2.999.1.1.2); a relying party that requires
# it gets a valid policy path through the issuing CA (until 2026-12-07 the
# seal carried 2.999.1.1.2).
openssl x509 -in "$tmp/seal.pem" -noout -ext certificatePolicies >"$tmp/cp" 2>&1
has -F 'Policy: 2.999.1.1.4' "$tmp/cp" && ! has -F 'Policy: 2.999.1.1.2' "$tmp/cp" ||
	fail "the e-seal's certificate policies: $(cat "$tmp/cp")"
openssl verify -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" -policy_check -explicit_policy \
	-policy 2.999.1.1.4 "$tmp/seal.pem" >"$tmp/pv" 2>&1 || fail "no valid policy path for 2.999.1.1.4: $(cat "$tmp/pv")"
openssl x509 -in "$tmp/seal.pem" -noout -days 729 -checkend $((729 * 86400)) >/dev/null ||
	fail "the e-seal is valid for less than 729 days"
[ "$(q "SELECT account_id FROM sign_credential WHERE certificate_id = $cert")" = "$rep" ] ||
	fail "the e-seal is not the representative's signing credential"
req GET "/v1/corporate/$cid"
expect 200 "the company view"
jq -e --argjson a "$sapp" '[.. | objects | select(.id? == $a and .status? == "issued")] | length >= 1' "$tmp/out" >/dev/null ||
	fail "the company view does not list the e-seal: $(cat "$tmp/out")"
note "agreement (eseal, 730 days, the seal's DN) → cad → issued: openssl verify ok, seal subject and key usage, a signing credential of the representative"

# --- the seal is not an employee's: the sysadmin cannot have it revoked -------------------
# The sysadmin asks for the revocation of an employee's certificate only:
# the seal is 404 as an unknown certificate, nothing stored, and the
# database refuses it too (schema/097). Until 2026-12-07 the request was
# stored, blocked the seal's rekey, and an officer carrying it out revoked
# the seal. A request filed before (made here by SQL past the trigger) is
# shown to the officers with the seal's profile and subject; carrying it
# out is 409, nothing changed; rejecting it is fine.
tok=$stok
otp_sms revoke +6281200000302 "otp revoke (sysadmin)"
refuse 404 "the sysadmin asks to revoke the company's e-seal" POST "/v1/corporate/$cid/revocation-requests" \
	"{\"certificate_id\":$cert,\"reason\":\"privilegeWithdrawn\",\"comment\":\"x\",\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$c\"}}"
detail | has "no certificate of this company's employees" || fail "e-seal request detail: $(detail)"
[ "$(q "SELECT count(*) FROM ra_revocation_request WHERE certificate_id = $cert")" = 0 ] ||
	fail "a revocation request of the e-seal was stored"
sql_fails "$PKI_TEST_PG_URI" "INSERT INTO ra_revocation_request (company_id, certificate_id, requested_by, reason, comment)
    VALUES ($cid, $cert, $sys, 'privilegeWithdrawn', 'x')" 'profile eseal\) is not an employee certificate'
oldrr=$(q "SET session_replication_role = replica; INSERT INTO ra_revocation_request (company_id, certificate_id,
    requested_by, reason, comment) VALUES ($cid, $cert, $sys, 'privilegeWithdrawn', 'filed before 097') RETURNING id")
tok=$tok1
req GET "/v1/officer/revocation-requests?status=pending&q=Segel"
expect 200 "the officers' queue"
[ "$(jq -r ".revocation_requests[] | select(.id == $oldrr) | .profile + \"|\" + .subject" "$tmp/out")" = \
	"eseal|$(q "SELECT subject FROM certificate WHERE id = $cert")" ] ||
	fail "the queue does not show the certificate's profile and subject: $(cat "$tmp/out")"
refuse 409 "an officer carries out a request for the e-seal" POST "/v1/officer/revocation-requests/$oldrr" '{"decision":"revoke"}'
detail | has 'not an employee certificate of the company (profile eseal)' || fail "e-seal decision detail: $(detail)"
[ "$(q "SELECT (c.revoked_at IS NULL) || '/' || r.status FROM certificate c, ra_revocation_request r
    WHERE c.id = $cert AND r.id = $oldrr")" = true/pending ] || fail "the refused decision changed the seal or the request"
req POST "/v1/officer/revocation-requests/$oldrr" '{"decision":"reject","reason_text":"the seal is not an employee'"'"'s"}'
expect 200 "the officer rejects the request for the e-seal"
[ "$(q "SELECT status FROM ra_revocation_request WHERE id = $oldrr")" = rejected ] || fail "the request was not rejected"
note "the e-seal: the sysadmin's request 404 (refused by the database too); an older one shown as eseal, revoke 409, reject ok"

# --- its rekey: the company's subject again, no person's KYC, four-eyes ------------------
# A second rad with a window wider than the seal's 730 days (the documented
# override, as test_ra_cert.sh).
start_rad rad2 PKI_REKEY_WINDOW_DAYS=800
tok=$rtok
otp_sms rekey +6281200000301 "otp rekey"
url_main=$url
url=$rad_url
req POST "/v1/certificates/$cert/rekey" "{\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$c\"}}"
url=$url_main
expect 201 "the representative rekeys the e-seal"
rkapp=$(jq -r .id "$tmp/out")
[ "$(q "SELECT a.kind || '/' || a.profile || '/' || (a.subject->>'organizationIdentifier') || '/' || ca.company_id || '/' ||
    (SELECT count(*) FROM ra_kyc WHERE application_id = a.id)
    FROM ra_application a JOIN ra_company_application ca ON ca.application_id = a.id WHERE a.id = $rkapp")" = \
	"rekey/eseal/NTRID-9876543210123/$cid/0" ] || fail "the e-seal's rekey application"
tok=$tok1
req POST "/v1/officer/applications/$rkapp/decision" '{"decision":"approve","reason":"same company"}'
expect 200 "first approval of the rekey"
[ "$(jq -r .status "$tmp/out")" = submitted ] || fail "one officer approved an e-seal rekey"

# --- the representative's identity withdrawn ----------------------------------------------
# The submission's rule (the representative holds a certificate of their
# own that the RA or CA has not revoked or suspended) holds at the
# approval, the agreement and a rekey too; until 2026-12-07 only the
# submission read it, and an e-seal was approved, agreed to, issued and
# rekeyed for a representative whose certificate an officer had revoked.
# A hold of their certificate being committed (SQL, left open) is waited
# for by the second approval, which then refuses it (409): no decision,
# the application still submitted, no audit event.
pcert=$(q "SELECT o.certificate_id FROM ra_application a JOIN issuance_order o ON o.id = a.order_id WHERE a.id = $papp")
rkstate() {
	q "SELECT a.status || '/' || (SELECT count(*) FROM ra_decision WHERE application_id = a.id) || '/' ||
	    (SELECT count(*) FROM audit_event WHERE object_type = 'ra_application' AND object_id = a.id::text) || '/' ||
	    (SELECT count(*) FROM issuance_order) FROM ra_application a WHERE a.id = $rkapp"
}
rk0=$(rkstate)
[ "${rk0%%/*}" = submitted ] || fail "test setup: the rekey after one approval: $rk0"
tok=$tok2
open_tx
echo "BEGIN; UPDATE certificate SET revoked_at = now(), revocation_reason = 6, revoked_by = 'officer:$oid1'
	WHERE id = $pcert; SELECT 'held';" >&"$tx_in"
read -r -t 10 line <&"$tx_out" && [ "$line" = held ] || fail "could not hold certificate $pcert: $line"
( req POST "/v1/officer/applications/$rkapp/decision" '{"decision":"approve","reason":"same company"}'
  echo "$code" >"$tmp/decide.code" ) &
dpid=$!
wait_lock pki_ra || fail "the approval did not wait for the hold of the representative's certificate"
commit_tx
wait "$dpid"
code=$(cat "$tmp/decide.code")
expect 409 "the second approval of the e-seal's rekey while its representative's certificate is on hold"
detail | has -F "the company's representative no longer has a verified identity" || fail "approval detail: $(detail)"
[ "$(rkstate)" = "$rk0" ] || fail "the refused approval changed something: $rk0 -> $(rkstate)"
tok=$tok1
req GET "/v1/officer/applications/$rkapp"
expect 200 "the officer's detail of the e-seal's rekey"
[ "$(jq -r '[.checks[] | .name + ":" + (.pass | tostring)] | join(",")' "$tmp/out")" = \
	"company_active:true,representative:false" ] || fail "e-seal checks after the hold: $(jq -c .checks "$tmp/out")"
jq -r '.checks[] | select(.name == "representative") | .detail' "$tmp/out" |
	has -F "no longer has a verified identity" || fail "representative check: $(jq -c .checks "$tmp/out")"
# Released, the identity stands again.
req POST "/v1/officer/certificates/$pcert/release" '{"reason":"the e-KTP checked again: genuine"}'
expect 200 "the hold of the representative's certificate released"
tok=$tok2
req POST "/v1/officer/applications/$rkapp/decision" '{"decision":"approve","reason":"same company"}'
expect 200 "second approval of the rekey"
[ "$(jq -r .status "$tmp/out")" = approved ] || fail "two approvals of the rekey: $(cat "$tmp/out")"
note "the representative's certificate on hold (committed while the approval waited): approval 409, nothing stored, the check fails; released: approved"
tok=$rtok
req GET "/v1/applications/$rkapp/agreement"
expect 200 "the rekey's agreement view"
[ "$(jq -r '.certificate.profile + "|" + .certificate.subject_dn' "$tmp/out")" = \
	"eseal|CN=Segel Faktur Elektronik,organizationIdentifier=NTRID-9876543210123,O=PT Segel Nusantara,C=ID" ] ||
	fail "the rekey's agreement view: $(jq -c .certificate "$tmp/out")"
note "rekey of the e-seal: linked to the company, no KYC row, four-eyes, the same seal subject: ok"

# An officer revokes the representative's certificate (the reviewer's
# case): the approved rekey is not agreed to (409, nothing ordered, the OTP
# left unused), and once cancelled, the e-seal is not rekeyed again (409).
tok=$tok1
req POST "/v1/officer/certificates/$pcert/revoke" '{"reason":"privilegeWithdrawn","comment":"the e-KTP was forged"}'
expect 200 "an officer revokes the representative's certificate"
tok=$rtok
otp_sms agreement +6281200000301 "otp agreement (the rekey)"
refuse 409 "the agreement to the e-seal's rekey after the representative's certificate was revoked" \
	POST "/v1/applications/$rkapp/agreement" "{\"accept\":true,\"terms\":\"$(agreement_terms "$url" "$tok" "$rkapp")\",\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$c\"}}"
detail | has -F "the company's representative no longer has a verified identity" || fail "agreement detail: $(detail)"
[ "$(q "SELECT status || '/' || (order_id IS NULL) FROM ra_application WHERE id = $rkapp")" = approved/true ] ||
	fail "the refused agreement changed the rekey application"
req POST "/v1/applications/$rkapp/cancel"
expect 200 "the representative cancels the approved rekey"
otp_sms rekey +6281200000301 "otp rekey (again)"
url=$rad_url
refuse 409 "a rekey of the e-seal after the representative's certificate was revoked" \
	POST "/v1/certificates/$cert/rekey" "{\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$c\"}}"
url=$url_main
detail | has -F "the company's representative no longer has a verified identity" || fail "rekey detail: $(detail)"
note "the representative's certificate revoked: agreement 409, rekey 409, nothing changed"

no_secret_in "rad's log" "$log" "$tmp/rad2.log"
audit_text "$tmp/audit.txt"
no_secret_in audit_event "$tmp/audit.txt"
