#!/usr/bin/env bash
# signd, the remote-signing service (CSC API v2), against the stack's daemons:
# a signing service registered with pkictl gets an OAuth 2.0 client-credentials
# token; subscribers (RA accounts with a PIN, OTPs of purpose sign from the SMS
# sink) own certificates issued by the stack's cad; credentials/list and info;
# the subscriber authorizes (PIN or OTP) → SAD; signHash → signatures that
# openssl pkeyutl verifies with the certificate's key (ECDSA P-256 SHA-256,
# RSA PKCS#1 v1.5 SHA-256, RSA-PSS SHA-384, a bulk of 3). Refused with CSC's
# error and no state change but failure counters and, for a signHash the SAM
# refuses, one sign.refused event naming the service (wrong factors: the
# service as actor of ra.factor.failed / ra.otp.failed, with the
# credential; a refused authorization otherwise, a replayed TOTP code and
# another account's or purpose's OTP included, one sign.authorize_refused
# event): expired SAD, reused SAD, a
# hash not covered, wrong PIN / OTP (counted, then lock-out 429), a sign OTP
# of one of the subscriber's credentials on another (her personal key's code
# on her e-seal: refused, not counted, kept for its own key; schema/061), a
# sign OTP asked for another account's, an unknown or a held credential (no
# code stored or sent), a revoked
# and a suspended credential (a revocation in progress makes signHash wait,
# then refuse; a hold waits for a signature in progress and is stamped after
# it: schema/049), no / bad / expired token, a client_id that is
# not UTF-8 (401, no database error), another subscriber's
# credential (userID, OTP, SAD), a blob moved to another subscriber's row
# (no signature returned); a blob the HSM cannot unwrap is a failure, not a
# refusal (503, no sign.refused). No PIN, OTP, TOTP code, SAD, token or
# secret in the logs, audit or error descriptions. Every signature is
# audited (sign.hash). A compromised worker (tests/tools/sam_worker) names
# no service: the SAM takes the service of the access token sent (schema/063),
# refuses a token never issued, a stored token digest and an expired token,
# and pki_sign can make no token without the client secret. Beyond 30
# refusals a minute, a service's refusals of a kind already audited are
# counted and summed up in one sign.refusals_counted event.
# The HSM attacks with the user PIN and a stored blob (unwrap non-sensitive,
# unwrap extractable and re-wrap under a known key, decrypt with the wrapping
# key) are tests/unit/hsm/test_p11wrap.c, on the same p11wrap_sign path.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
subscriber_env
touch "$tmp/details"

# expect STATUS ERROR WHAT: the HTTP status and, for errors, CSC's error code.
expect() {
	[ "$code" = "$1" ] || fail "$3: HTTP $code, expected $1: $(cat "$tmp/out")"
	if [ "$1" -ge 400 ]; then
		[ "$(jq -r .error "$tmp/out")" = "$2" ] || fail "$3: error $(jq -r .error "$tmp/out"), expected $2"
		jq -e '.error_description | type == "string"' "$tmp/out" >/dev/null || fail "$3: no error_description"
	fi
}
desc() { jq -r .error_description "$tmp/out"; }

# --- state that a refusal must not change ----------------------------------------------
state() {
	q "SELECT (SELECT count(*) FROM sign_sad) || '/' ||
	    (SELECT coalesce(sum(remaining), 0) FROM sign_sad) || '/' ||
	    (SELECT count(*) FROM sign_sad_hash WHERE used_at IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM audit_event WHERE action IN ('sign.hash', 'sign.authorize')) || '/' ||
	    (SELECT count(*) FROM ra_otp WHERE consumed_at IS NOT NULL)"
}
before() { state >"$tmp/state.before"; ref0=$(nrefused); }
unchanged() {
	state >"$tmp/state.after"
	cmp -s "$tmp/state.before" "$tmp/state.after" ||
		fail "$1 changed state: $(cat "$tmp/state.before") -> $(cat "$tmp/state.after")"
}
# sign.refused: a signHash the SAM refused, audited after its rollback.
nrefused() { q "SELECT count(*) FROM audit_event WHERE action = 'sign.refused'"; }
# refused WHAT N CRED ERROR SADCRED [SERVICE]: N sign.refused events since
# before(), the newest by SERVICE (default $sid) on CRED, with enum
# sam_error's name ERROR, a reason, the hash count and the row id of the SAD
# found, a SAD of credential SADCRED (- when none was found); never the SAD
# itself.
refused() {
	local svc=${6:-$sid} row want
	[ "$(nrefused)" = $((ref0 + $2)) ] || fail "$1: $(($(nrefused) - ref0)) sign.refused event(s), want $2"
	row=$(q "SELECT actor || '|' || object_type || ':' || object_id || '|' || (details->>'service_id') || '|' ||
	    (details->>'credential_id') || '|' || (details->>'error') || '|' || (length(details->>'reason') > 0) || '|' ||
	    coalesce((SELECT 'sad:' || certificate_id FROM sign_sad WHERE id = (details->>'sad_id')::bigint), '-') || '|' ||
	    (details->>'num_hashes' ~ '^[0-9]+$') || '|' || (details ? 'sad')
	    FROM audit_event WHERE action = 'sign.refused' ORDER BY id DESC LIMIT 1")
	want="sign_service:$svc|sign_credential:$3|$svc|$3|$4|true|$([ "$5" = - ] && echo - || echo "sad:$5")|true|false"
	[ "$row" = "$want" ] || fail "$1: sign.refused event $row, want $want"
}
# sign.authorize_refused: a refused authorization but for a wrong (counted)
# factor, which lib/factor.c audits itself.
nauthref() { q "SELECT count(*) FROM audit_event WHERE action = 'sign.authorize_refused'"; }
# authorize_refused WHAT N0 CRED ERROR REASON CODE: one sign.authorize_refused
# event more than N0, the newest by $sid on CRED with enum sam_error's name
# ERROR and a reason containing REASON; the factor's CODE nowhere in it.
authorize_refused() {
	local row
	[ "$(nauthref)" = $(($2 + 1)) ] || fail "$1: $(($(nauthref) - $2)) sign.authorize_refused event(s), want 1"
	row=$(q "SELECT actor || '|' || object_id || '|' || (details->>'service_id') || '|' || (details->>'credential_id') ||
	    '|' || (details->>'error') || '|' || (details->>'reason' LIKE '%$5%') || '|' || (details::text LIKE '%$6%')
	    FROM audit_event WHERE action = 'sign.authorize_refused' ORDER BY id DESC LIMIT 1")
	[ "$row" = "sign_service:$sid|$3|$sid|$3|$4|true|false" ] ||
		fail "$1: sign.authorize_refused event $row, want sign_service:$sid|$3|$sid|$3|$4|true|false"
}
# factor_event ACTION OBJECT: actor, service, credential and account of the
# newest ACTION event on OBJECT.
factor_event() {
	q "SELECT actor || '|' || coalesce(details->>'service_id', '-') || '|' || coalesce(details->>'credential_id', '-') ||
	    '|' || coalesce(details->>'account_id', '-') FROM audit_event WHERE action = '$1' AND object_id = '$2'
	    ORDER BY id DESC LIMIT 1"
}
# signd's own count of wrong factors (schema/026), apart from rad's.
failures() { q "SELECT sign_factor_failures FROM ra_account WHERE id = $1"; }

# --- subscribers (as test_ra_factors) ------------------------------------------------
pw='Signer-Horse7'
secrets+=("$pw")
# sign_otp TOKEN CRED [ALG]: an OTP of purpose sign for credential CRED and
# the documents whose hashes (hash algorithm ALG, default sha256) are $H
# (schema/060, 061); sets oid and ocode, and checks that the SMS names them
# (count and reference) and the credential (kind, name, the certificate's
# serial) as the answer does, and that the row keeps the credential.
sign_otp() {
	local n ref kind name serial
	rreq POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"sign\",\"credential_id\":\"$2\",\"hash_algo\":\"${3:-sha256}\",\"hashes\":$H}" "$1"
	[ "$code" = 201 ] || fail "otp sign: $code $(cat "$tmp/out")"
	oid=$(jq -r .otp_id "$tmp/out")
	n=$(jq -r .documents "$tmp/out")
	ref=$(jq -r .binding_ref "$tmp/out")
	[ "$n" = "$(jq length <<<"$H")" ] && [[ $ref =~ ^[0-9A-F]{4}(-[0-9A-F]{4}){3}$ ]] ||
		fail "otp sign: documents $n, binding_ref $ref for $(jq length <<<"$H") hash(es)"
	kind=$(jq -r .credential.kind "$tmp/out")
	name=$(jq -r .credential.name "$tmp/out")
	serial=$(jq -r .credential.serial "$tmp/out")
	[ "$(jq -r .credential.id "$tmp/out")/$serial/$name" = \
	  "$2/$(q "SELECT serial FROM certificate WHERE id = $2")/$(q "SELECT substring(subject FROM 'CN=([^,]*)') FROM certificate WHERE id = $2")" ] ||
		fail "otp sign: credential $(jq -c .credential "$tmp/out") for credential $2"
	grep -qF "for signing $n document(s), ref $ref, with your $kind (serial ending ${serial: -4})," "$(ls -t "$sms"/* | head -n1)" ||
		fail "the sign OTP's SMS does not name its $n document(s), ref $ref and $kind ($serial): $(cat "$(ls -t "$sms"/* | head -n1)")"
	# The certificate's name (a person's) never goes to the SMS gateway.
	[ -z "$name" ] || ! grep -qF "$name" "$(ls -t "$sms"/* | head -n1)" ||
		fail "the sign OTP's SMS names the certificate $name: $(cat "$(ls -t "$sms"/* | head -n1)")"
	[ "$(q "SELECT credential_id FROM ra_otp WHERE id = $oid")" = "$2" ] || fail "otp sign: the row does not keep credential $2"
	ocode=$(sms_code)
	secrets+=("$ocode")
}
# rproblem STATUS WHAT: rad's answer (rreq) was STATUS, in problem JSON.
rproblem() {
	[ "$code" = "$1" ] && grep -qi '^content-type: application/problem+json' "$tmp/hdr" &&
		[ "$(jq -r .status "$tmp/out")" = "$1" ] || fail "$2: HTTP $code, want $1 in problem JSON: $(cat "$tmp/out")"
}
# otp_state ACCOUNT: what a refused POST /v1/otp must not change: the SMS
# sent, the account's codes, the ra.otp.send events.
otp_state() {
	echo "$(find "$sms" -type f | wc -l)/$(q "SELECT count(*) FROM ra_otp WHERE account_id = $1")/$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.otp.send'")"
}

# === the signing service =======================================================
pkictl sigservice add --name "docsign-$$" >"$tmp/svc" || fail "pkictl sigservice add"
sid=$(sed -n 's/^id\t//p' "$tmp/svc")
cid=$(sed -n 's/^client_id\t//p' "$tmp/svc")
csec=$(sed -n 's/^client_secret\t//p' "$tmp/svc")
secrets+=("$csec")
[ ${#csec} -eq 43 ] || fail "client_secret is not 256 bits in base64url"
[ "$(q "SELECT count(*) FROM sign_service WHERE id = $sid AND secret_sha256 = sha256(convert_to('$csec', 'UTF8'))")" = 1 ] ||
	fail "the service's secret is not stored as its SHA-256"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'sign.service.add' AND object_id = '$sid'")" = 1 ] ||
	fail "sigservice add not audited"
rc=0
pkictl sigservice add --name "docsign-$$" >/dev/null 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "a second service with the same name: exit $rc, want 3"
# A name sign_service's CHECK refuses (schema/014) is the operator's
# mistake: exit 2 with what a name may be, before the database (whose
# refused insert said exit 1); a name of 64 characters passes.
n0=$(q "SELECT count(*) FROM sign_service")
for bad in '' '-docsign' ' docsign' 'doc/sign' "docsign-$(printf 'x%.0s' $(seq 57))" 'dokumén'; do
	rc=0
	pkictl sigservice add --name "$bad" >"$tmp/svc.bad" 2>&1 || rc=$?
	[ "$rc" = 2 ] && grep -q 'sigservice add --name: 1 to 64 characters' "$tmp/svc.bad" ||
		fail "sigservice add --name '$bad': exit $rc, want 2: $(cat "$tmp/svc.bad")"
done
[ "$(q "SELECT count(*) FROM sign_service")" = "$n0" ] || fail "a refused sigservice name was stored"
# The client secret is shown only once, so it is written before COMMIT:
# when it cannot be (stdout full; a pipe whose reader has gone, SIGPIPE
# being ignored), the service is not added (exit 1, the reason on stderr),
# or it would be live with a secret nobody has.
a0=$(q "SELECT count(*) FROM audit_event WHERE action = 'sign.service.add'")
rc=0; pkictl sigservice add --name "docsign-full-$$" >/dev/full 2>"$tmp/svc.e" || rc=$?
[ "$rc" = 1 ] && grep -q "sigservice docsign-full-$$ not added: its client secret could not be written to stdout" "$tmp/svc.e" ||
	fail "sigservice add >/dev/full: exit $rc, want 1 with the reason: $(cat "$tmp/svc.e")"
rc=0; to_closed_pipe "$PKICTL" --config "$PKI_CONFIG" sigservice add --name "docsign-full-$$" 2>"$tmp/svc.e" || rc=$?
[ "$rc" = 1 ] && grep -q "sigservice docsign-full-$$ not added: its client secret could not be written to stdout" "$tmp/svc.e" ||
	fail "sigservice add to a closed pipe: exit $rc, want 1 with the reason: $(cat "$tmp/svc.e")"
[ "$(q "SELECT count(*) FROM sign_service")/$(q "SELECT count(*) FROM audit_event WHERE action = 'sign.service.add'")" = "$n0/$a0" ] ||
	fail "a sigservice whose secret was not written was stored or audited"
# The answer to COMMIT lost after the secret was printed (lost_commit.so):
# committed (pg_xact_status), the service is there and the secret printed
# is its: exit 0, warned (until 2026-12-07 exit 1, a live service whose
# secret the operator took for void).
rc=0; LD_PRELOAD=$BUILD/tests/preload/lost_commit.so ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0 \
	pkictl sigservice add --name "docsign-lost-$$" >"$tmp/svc.o" 2>"$tmp/svc.e" || rc=$?
[ "$rc" = 0 ] && grep -q "sigservice docsign-lost-$$: the answer to COMMIT was lost, but it was added: the client secret printed above is its" \
	"$tmp/svc.e" && [ -s "$tmp/svc.o" ] ||
	fail "sigservice add whose COMMIT answer was lost: exit $rc: $(cat "$tmp/svc.e")"
[ "$(q "SELECT count(*) FROM sign_service WHERE name = 'docsign-lost-$$'")" = 1 ] ||
	fail "the lost-answer sigservice is not there"
# The PID in 7 digits: Debian 12's systemd sets kernel.pid_max to 4194304,
# and 5 made a 65-character name once PIDs passed 99999.
long="D$(printf '%07d' $$)$(printf 'x%.0s' $(seq 56))"
[ ${#long} = 64 ] || fail "the 64-character name has ${#long}"
pkictl sigservice add --name "$long" >/dev/null || fail "sigservice add --name of 64 characters"

token() { # token FORM [BASIC [SCHEME]]: sets code, body in $tmp/out
	local args=(-sS -X POST -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}'
		-H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$1")
	[ -z "${2:-}" ] || args+=(-H "Authorization: ${3:-Basic} $2")
	code=$(curl "${args[@]}" "$surl/oauth2/token")
}
token "grant_type=client_credentials&client_id=$cid&client_secret=$csec"
expect 200 - "oauth2/token"
at=$(jq -r .access_token "$tmp/out")
secrets+=("$at")
[ "$(jq -r .token_type "$tmp/out")" = Bearer ] || fail "token_type"
[ "$(jq -r .expires_in "$tmp/out")" -le 3600 ] || fail "token lifetime"
grep -qi '^cache-control: no-store' "$tmp/hdr" || fail "token response is cacheable"
token "grant_type=client_credentials" "$(printf '%s:%s' "$cid" "$csec" | base64 -w0)"
expect 200 - "oauth2/token with HTTP Basic"
# The secret with its last character changed (never to itself: 1 in 64).
[ "${csec: -1}" = A ] && wrong=${csec%?}B || wrong=${csec%?}A
token "grant_type=client_credentials&client_id=$cid&client_secret=$wrong"
expect 401 invalid_client "wrong client secret"
token "grant_type=password&client_id=$cid&client_secret=$csec"
expect 400 unsupported_grant_type "password grant"
token "grant_type=client_credentials&client_id=$cid"
expect 400 invalid_request "no secret"
# A client_id not of pkictl's form is no client: 401 before any query (bytes
# that are not UTF-8 made PostgreSQL fail the query: 500 for anyone).
token "grant_type=client_credentials&client_id=%FF%FE${cid:2}&client_secret=$csec"
expect 401 invalid_client "a client_id that is not UTF-8"
token "grant_type=client_credentials" "$(printf '%%FF%s:%s' "${cid:1}" "$csec" | base64 -w0)"
expect 401 invalid_client "a client_id that is not UTF-8, in HTTP Basic"
token "grant_type=client_credentials&client_id=${cid}A&client_secret=$csec"
expect 401 invalid_client "a client_id one character too long"
# RFC 9110 §11.1: the scheme in any case. Another scheme is an
# authentication method not offered (RFC 6749 §5.2), even with the body's
# credentials; a secret longer than any client's is a wrong one, not a 400.
token "grant_type=client_credentials" "$(printf '%s:%s' "$cid" "$csec" | base64 -w0)" basic
expect 200 - "oauth2/token with HTTP Basic, scheme in lower case"
code=$(curl -sS -X POST -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
	-H "Authorization: Bearer $at" --data-binary "grant_type=client_credentials&client_id=$cid&client_secret=$csec" "$surl/oauth2/token")
expect 401 invalid_client "oauth2/token with a Bearer header and the body's credentials"
grep -qi '^www-authenticate: basic' "$tmp/hdr" || fail "invalid_client without WWW-Authenticate: Basic"
token "grant_type=client_credentials&client_id=$cid&client_secret=$csec$csec"
expect 401 invalid_client "a client_secret longer than any"
token "grant_type=client_credentials" "$(printf '%s:%s' "$cid" "$csec$csec" | base64 -w0)"
expect 401 invalid_client "a client_secret longer than any, in HTTP Basic"
! grep -q 'signd_csc_token_issue:' "$PKI_DIR/log/sign.log" ||
	fail "oauth2/token: a database error for a malformed client_id: $(grep 'signd_csc_token_issue:' "$PKI_DIR/log/sign.log")"

curl -sS -o "$tmp/out" -w '%{http_code}' "$surl/info" >"$tmp/code"
[ "$(cat "$tmp/code")" = 200 ] && jq -e '.methods | index("signatures/signHash")' "$tmp/out" >/dev/null ||
	fail "info: $(cat "$tmp/out")"
sreq info '{"lang":"en-US"}'
expect 200 - "info with a lang"
sreq info '{"bogus":1,"bogus":2'
expect 400 invalid_request "info with a malformed body"
sreq info '{"lang":"en-US","x":1}'
expect 400 invalid_request "info with an unknown member"
# docs/csc.md "Errors": a CSC method not offered, or another HTTP method.
code=$(curl -sS -o "$tmp/out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data '{}' "$surl/signatures/signDoc")
expect 404 invalid_request "signatures/signDoc (not offered)"
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' "$surl/credentials/list")
expect 405 invalid_request "GET credentials/list"
tr -d '\r' <"$tmp/hdr" | grep -qix 'allow: POST' || fail "GET credentials/list: no Allow: POST: $(cat "$tmp/hdr")"

# === subscribers and their credentials ==========================================
account "sig-a-$$@example.com" +6281277770001 402917
aA=$aid
tokA=$tok
account "sig-b-$$@example.com" +6281277770002 513829
aB=$aid
tokB=$tok
credEC=$(issue "$aA" personal personal ec-p256 "Ayu Lestari")
credRSA=$(issue "$aA" corporate corporate rsa2048 "Ayu Lestari" "PT Contoh Sejahtera")
credB=$(issue "$aB" personal personal ec-p256 "Bima Saputra")
# A's company's e-seal, which she holds as its representative (ra/README.md
# "Electronic seals"): a third credential of hers.
order_issued eseal '{"C":"ID","O":"PT Contoh Sejahtera","organizationIdentifier":"NTRID-0123456789","CN":"Contoh Invoices"}' ec-p256
credSeal=$cert
q "INSERT INTO sign_credential (certificate_id, account_id) VALUES ($credSeal, $aA)" >/dev/null
cert_pem "$credEC" "$tmp/ec.pem"
cert_pem "$credRSA" "$tmp/rsa.pem"
cert_pem "$credSeal" "$tmp/seal.pem"
note "service $sid, subscribers $aA ($credEC ec-p256, $credRSA rsa2048, e-seal $credSeal) and $aB ($credB)"

# === the subscriber's grant (schema/112) ========================================
# Until a subscriber grants the service at the RA, it finds none of their
# credentials, learns nothing of one it names (as of an id never issued),
# and cannot make them fail a factor: a wrong PIN is not counted, the right
# one gives no SAD, nothing is stored.
sreq credentials/list "{\"userID\":\"$aA\"}" "$at"
expect 200 - "credentials/list before any grant"
[ "$(jq -c .credentialIDs "$tmp/out")" = '[]' ] || fail "credentials/list before any grant: $(cat "$tmp/out")"
sreq credentials/list "{\"userID\":\"$aA\",\"credentialInfo\":true}" "$at"
[ "$(jq -c '[.credentialIDs, .credentialInfos]' "$tmp/out")" = '[[],[]]' ] ||
	fail "credentials/list with credentialInfo before any grant: $(cat "$tmp/out")"
sreq credentials/info "{\"credentialID\":\"$credEC\",\"certInfo\":true}" "$at"
expect 400 invalid_request "credentials/info before any grant"
[ "$(desc)" = "Invalid parameter credentialID" ] || fail "credentials/info before any grant: $(cat "$tmp/out")"
before
f0=$(failures "$aA")
hashes sha256 1
for pin in 000001 402917; do
	authorize "$credEC" "$H" $SHA256 "\"PIN\":\"$pin\""
	expect 400 invalid_request "authorize (PIN $pin) before any grant"
	[ "$(desc)" = "Invalid parameter credentialID" ] && [ -z "$SAD" ] || fail "authorize before any grant: $(cat "$tmp/out")"
done
[ "$(failures "$aA")" = "$f0" ] || fail "a wrong PIN from a service not granted was counted"
unchanged "authorizations by a service not granted"
grant "$tokA" "$sid"
[ "$code" = 201 ] || fail "A's grant of service $sid: $code"
grant "$tokB" "$sid"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.sign_grant.add' AND object_id IN ('$aA', '$aB')
    AND details->>'service_id' = '$sid'")" = 2 ] || fail "the grants were not audited"
note "a service not granted: credentials/list empty, credentials/info and authorize 'Invalid parameter credentialID', no PIN counted"

sreq credentials/list "{\"userID\":\"$aA\"}" "$at"
expect 200 - "credentials/list"
# RFC 6750 §2.1 / RFC 9110 §11.1: the scheme in any case, one or more spaces.
code=$(curl -sS -o "$tmp/out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-H "Authorization: bearer  $at" --data-binary "{\"userID\":\"$aA\"}" "$surl/credentials/list")
expect 200 - "credentials/list with 'bearer  <token>'"
[ "$(jq -c '.credentialIDs' "$tmp/out")" = "[\"$credEC\",\"$credRSA\",\"$credSeal\"]" ] || fail "credentials/list: $(cat "$tmp/out")"
sreq credentials/list "{\"userID\":\"$aB\"}" "$at"
[ "$(jq -c '.credentialIDs' "$tmp/out")" = "[\"$credB\"]" ] || fail "credentials/list B: $(cat "$tmp/out")"
sreq credentials/info "{\"credentialID\":\"$credEC\",\"certificates\":\"chain\",\"certInfo\":true,\"authInfo\":true}" "$at"
expect 200 - "credentials/info"
jq -r '.cert.certificates[0]' "$tmp/out" | base64 -d | openssl x509 -inform DER | cmp -s - <(openssl x509 -in "$tmp/ec.pem") ||
	fail "credentials/info: not the credential's certificate"
[ "$(jq -r '.cert.certificates | length' "$tmp/out")" = 3 ] || fail "credentials/info: chain of $(jq -r '.cert.certificates | length' "$tmp/out")"
[ "$(jq -r '.cert.status + "/" + .key.status + "/" + .key.algo[0] + "/" + .authMode + "/" + .SCAL' "$tmp/out")" = \
  "valid/enabled/$EC/explicit/2" ] || fail "credentials/info: $(cat "$tmp/out")"
[ "$(jq -r '.cert.serialNumber' "$tmp/out")" = "$(openssl x509 -in "$tmp/ec.pem" -noout -serial | cut -d= -f2)" ] ||
	fail "credentials/info: serialNumber"
# The ids a v2 client puts in authData.
[ "$(jq -r '.auth.mode + "/" + ([.auth.objects[].id] | join(","))' "$tmp/out")" = "explicit/PIN,OTP,otpID" ] ||
	fail "credentials/info auth: $(jq -c .auth "$tmp/out")"
# subjectDN / issuerDN: RFC 4514 strings, non-ASCII as UTF-8 (as CSC v2 asks).
for f in subject issuer; do
	want=$(openssl x509 -in "$tmp/ec.pem" -noout -$f -nameopt RFC2253,-esc_msb | sed "s/^$f=//")
	[ "$(jq -r ".cert.${f}DN" "$tmp/out")" = "$want" ] ||
		fail "credentials/info ${f}DN: $(jq -r ".cert.${f}DN" "$tmp/out"), want $want"
done
sreq credentials/info "{\"credentialID\":\"$credRSA\"}" "$at"
[ "$(jq -r '(.key.algo | join(",")) + "/" + (.key.len | tostring)' "$tmp/out")" = "$RSA,$PSS/2048" ] ||
	fail "credentials/info RSA key: $(cat "$tmp/out")"
# credentials/list with credentialInfo (CSC v2 §11.4): credentialInfos, for
# each id the object credentials/info gives with the same certificates,
# certInfo and authInfo, and its credentialID. Until 2026-12-07 ignored, and
# a certificates value credentials/info refuses was taken.
# list_infos_equal OPTS: the list's credentialInfos with OPTS (JSON members)
# are credentials/info's, id for id.
list_infos_equal() {
	local ids i id
	sreq credentials/list "{\"userID\":\"$aA\",\"credentialInfo\":true${1:+,$1}}" "$at"
	expect 200 - "credentials/list with credentialInfo $1"
	cp "$tmp/out" "$tmp/list.json"
	ids=$(jq -r '.credentialIDs | join(" ")' "$tmp/list.json")
	[ "$ids" = "$credEC $credRSA $credSeal" ] || fail "credentials/list with credentialInfo: ids $ids"
	[ "$(jq -r '[.credentialInfos[].credentialID] | join(" ")' "$tmp/list.json")" = "$ids" ] ||
		fail "credentialInfos: not one per id, in order: $(jq -c '[.credentialInfos[].credentialID]' "$tmp/list.json")"
	i=0
	for id in $ids; do
		sreq credentials/info "{\"credentialID\":\"$id\"${1:+,$1}}" "$at"
		expect 200 - "credentials/info $id $1"
		cmp -s <(jq -S . "$tmp/out") <(jq -S ".credentialInfos[$i] | del(.credentialID)" "$tmp/list.json") ||
			fail "credentialInfos[$i] ($1) is not credentials/info's: $(jq -c ".credentialInfos[$i]" "$tmp/list.json") vs $(cat "$tmp/out")"
		i=$((i + 1))
	done
}
list_infos_equal ''
list_infos_equal '"certificates":"chain","certInfo":true,"authInfo":true'
list_infos_equal '"certificates":"none","certInfo":false'
[ "$(jq -r '.credentialInfos[0].cert | has("certificates")' "$tmp/list.json")" = false ] ||
	fail "credentialInfos with certificates none: $(jq -c '.credentialInfos[0].cert' "$tmp/list.json")"
sreq credentials/list "{\"userID\":\"$aA\",\"credentialInfo\":true,\"maxResults\":2}" "$at"
[ "$(jq -r '[(.credentialIDs | length), (.credentialInfos | length)] | join("/")' "$tmp/out")" = 2/2 ] ||
	fail "credentials/list maxResults 2 with credentialInfo: $(jq -c . "$tmp/out" | head -c 300)"
sreq credentials/list "{\"userID\":\"$aA\"}" "$at"
jq -e 'has("credentialInfos") or has("onlyValid") | not' "$tmp/out" >/dev/null ||
	fail "credentials/list without credentialInfo: $(cat "$tmp/out")"
for bad in '"certificates":"bogus"' '"certificates":1' '"certInfo":"yes"' '"onlyValid":1' '"credentialInfo":"true"'; do
	sreq credentials/list "{\"userID\":\"$aA\",\"credentialInfo\":true,$bad}" "$at"
	expect 400 invalid_request "credentials/list with $bad"
done
grep -q 'bogus' "$tmp/details" && fail "a refusal quotes the certificates value"

# credentials/info "chain": up to the self-signed root however deep the
# hierarchy (at most 8 CAs); until 2026-12-07 two levels only. The stack's
# root is made for a moment the subordinate of a new self-signed CA (as
# under a cross-certificate), then an issuer loop, then restored.
rootid=$(q "SELECT i.issuer_id FROM certificate c JOIN ca_certificate i ON i.id = c.issuer_id WHERE c.id = $credEC")
[ -n "$rootid" ] && [ "$(q "SELECT issuer_id IS NULL FROM ca_certificate WHERE id = $rootid")" = t ] ||
	fail "the credential's issuer is not under a self-signed root"
upname="CSC chain test root $$"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/up.key" \
	-subj "/CN=$upname" -set_serial 0x43534321 -days 2 -outform DER -out "$tmp/up.der" 2>"$tmp/req.err" ||
	fail "openssl req: $(cat "$tmp/req.err")"
upid=$(q "INSERT INTO ca_certificate (name, role, key_id, serial, subject, issuer, not_before, not_after, sha256, der)
	SELECT 'csc-chain-test-$$', 'root', key_id, '43534321', 'CN=$upname', 'CN=$upname',
	    now() - interval '1 hour', now() + interval '1 day', '$(sha256sum "$tmp/up.der" | cut -c1-64)',
	    '\\x$(xxd -p "$tmp/up.der" | tr -d '\n')'::bytea
	FROM ca_certificate WHERE id = $rootid RETURNING id" | head -1)
[ -n "$upid" ] || fail "could not add the upper root"
q "UPDATE ca_certificate SET issuer_id = $upid WHERE id = $rootid" >/dev/null
sreq credentials/info "{\"credentialID\":\"$credEC\",\"certificates\":\"chain\"}" "$at"
code_deep=$code
cp "$tmp/out" "$tmp/deep.json"
q "UPDATE ca_certificate SET issuer_id = $rootid WHERE id = $upid" >/dev/null
sreq credentials/info "{\"credentialID\":\"$credEC\",\"certificates\":\"chain\"}" "$at"
code_loop=$code
cp "$tmp/out" "$tmp/loop.json"
q "UPDATE ca_certificate SET issuer_id = NULL WHERE id IN ($rootid, $upid)" >/dev/null
q "DELETE FROM ca_certificate WHERE id = $upid" >/dev/null
code=$code_deep
cp "$tmp/deep.json" "$tmp/out"
expect 200 - "credentials/info chain under three CAs"
[ "$(jq -r '.cert.certificates | length' "$tmp/out")" = 4 ] ||
	fail "credentials/info chain under three CAs: $(jq -r '.cert.certificates | length' "$tmp/out") certificates, want 4"
jq -r '.cert.certificates[3]' "$tmp/out" | base64 -d | cmp -s - "$tmp/up.der" ||
	fail "credentials/info chain does not end at the self-signed root"
code=$code_loop
cp "$tmp/loop.json" "$tmp/out"
expect 200 - "credentials/info chain with an issuer loop"
[ "$(jq -r '.cert.certificates | length' "$tmp/out")" = 9 ] ||
	fail "credentials/info chain with an issuer loop: $(jq -r '.cert.certificates | length' "$tmp/out") certificates, want 1 + 8"
sreq credentials/info "{\"credentialID\":\"$credEC\",\"certificates\":\"chain\"}" "$at"
[ "$(jq -r '.cert.certificates | length' "$tmp/out")" = 3 ] || fail "credentials/info chain after the restore"

# === authorize → signHash → openssl verifies ======================================
# ECDSA P-256, SHA-256, a bulk of 3 documents with the PIN.
hashes sha256 3
authorize "$credEC" "$H" $SHA256 '"PIN":"402917"'
expect 200 - "authorize EC with the PIN"
[ ${#SAD} -eq 43 ] || fail "SAD is not 256 bits in base64url"
[ "$(jq -r .expiresIn "$tmp/out")" -le 300 ] || fail "SAD lifetime above 5 minutes"
[ "$(q "SELECT num_signatures || '/' || remaining || '/' || factor || '/' || (expires_at <= now() + interval '300 seconds')
	FROM sign_sad WHERE certificate_id = $credEC ORDER BY id DESC LIMIT 1")" = "3/3/pin/true" ] ||
	fail "SAD row: $(q "SELECT * FROM sign_sad ORDER BY id DESC LIMIT 1")"
sad_ec=$SAD
H_ec=$H
signhash "$credEC" "$sad_ec" "$H_ec" $SHA256 $EC
expect 200 - "signHash EC"
[ "$(jq '.signatures | length' "$tmp/out")" = 3 ] || fail "3 hashes, $(jq '.signatures | length' "$tmp/out") signatures"
for i in 0 1 2; do verify "$tmp/ec.pem" "$i"; done
for i in 0 1 2; do cp "$tmp/h$i.bin" "$tmp/ec-h$i.bin"; done
# CSC API v2 puts the factors in authData, by the ids of credentials/info's
# auth.objects; v1's PIN and OTP members stay. Until 2026-12-07 a v2 client
# got "unknown member" and could never have a SAD.
hashes sha256 1
authorize "$credEC" "$H" $SHA256 '"authData":[{"id":"PIN","value":"402917"}]'
expect 200 - "authorize EC with the PIN in v2's authData"
signhash "$credEC" "$SAD" "$H" $SHA256 $EC
expect 200 - "signHash EC after a v2 authorization"
verify "$tmp/ec.pem" 0
before
for bad in '"authData":[{"id":"PIN","value":"402917"}],"PIN":"402917"' \
    '"authData":[{"id":"pin","value":"402917"}]' \
    '"authData":[{"id":"PIN","value":"402917"},{"id":"PIN","value":"402917"}]' \
    '"authData":[{"id":"PIN","value":402917}]' \
    '"authData":[{"id":"PIN","value":"402917","extra":1}]' \
    '"authData":[]' '"authData":{"id":"PIN","value":"402917"}' \
    '"authData":[{"id":"OTP","value":"402917"},{"id":"otpID","value":"012"}]'; do
	authorize "$credEC" "$H" $SHA256 "$bad"
	expect 400 invalid_request "authorize with $bad"
	grep -q 402917 "$tmp/out" && fail "the refusal of $bad quotes the PIN"
done
unchanged "malformed authData"
for i in 0 1 2; do cp "$tmp/ec-h$i.bin" "$tmp/h$i.bin"; done
H=$H_ec
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'sign.hash' AND object_id = '$credEC'
	AND details->>'account_id' = '$aA' AND details->>'service_id' = '$sid'
	AND details->>'hash' = '$(xxd -p -c 64 "$tmp/h0.bin")' AND details->>'hash_algo' = 'SHA256'")" = 1 ] ||
	fail "signature not audited with subscriber, credential, hash and service"
note "ECDSA P-256: 3 signatures in one authorization verified by openssl"

# === a SAM that dies is replaced by the supervisor ================================
sup=$(pidfile_of "$PKI_DIR" sign)
[ -n "$sup" ] || fail "no signd pid file"
sams_before=$(pgrep -P "$sup" -x signd-sam | sort | tr '\n' ' ')
[ "$(wc -w <<<"$sams_before")" = 2 ] || fail "signd runs SAMs [$sams_before], want 2 (sign.sams)"
victim=${sams_before%% *}
kill -KILL "$victim"
# Within 10 s, every request succeeds again (both HTTP threads, each with its SAM).
hashes sha256 1
ok_in_a_row=0
for _ in $(seq 100); do
	authorize "$credEC" "$H" $SHA256 '"PIN":"402917"'
	if [ "$code" = 200 ]; then
		signhash "$credEC" "$SAD" "$H" $SHA256 $EC
		[ "$code" = 200 ] && verify "$tmp/ec.pem" 0
	fi
	if [ "$code" = 200 ]; then
		ok_in_a_row=$((ok_in_a_row + 1))
		[ "$ok_in_a_row" -ge 6 ] && break
		continue
	fi
	# Meanwhile: CSC's error form, 503, and a short Retry-After.
	[ "$code" = 503 ] || fail "while a SAM is replaced: HTTP $code: $(cat "$tmp/out")"
	[ "$(jq -r .error "$tmp/out")" = temporarily_unavailable ] || fail "503 body: $(cat "$tmp/out")"
	ok_in_a_row=0
	sleep 0.1
done
[ "$ok_in_a_row" -ge 6 ] || fail "signd did not recover after a SAM was killed"
sams_after=$(pgrep -P "$sup" -x signd-sam | sort | tr '\n' ' ')
[ "$(wc -w <<<"$sams_after")" = 2 ] || fail "after the kill signd runs SAMs [$sams_after], want 2"
case " $sams_after " in *" $victim "*) fail "the killed SAM $victim is still listed" ;; esac
grep -q "sam [01] (pid $victim) was killed by signal 9: starting another" "$PKI_DIR/log/sign.log" ||
	fail "the supervisor did not log the SAM's death"
grep -q 'serves again' "$PKI_DIR/log/sign.log" || fail "the worker did not log the new SAM"
note "a killed SAM: 503 temporarily_unavailable meanwhile, replaced by the supervisor, signing verified again"

# === recycling: a second signd whose one SAM is replaced after every 2 signHash ===
port2=$(free_port)
PKI_SIGN_PORT=$port2 PKI_SIGN_THREADS=1 PKI_SIGN_SAM_RECYCLE_AFTER=2 PKI_SIGN_SAM_TIMEOUT_SECONDS=2 \
	"$BUILD/signd" --config "$PKI_CONFIG" >"$tmp/signd2.log" 2>&1 &
signd2=$!
surl1=$surl
surl=http://127.0.0.1:$port2/csc/v2
for _ in $(seq 100); do
	curl -s -o /dev/null -X POST "$surl/info" -H 'Content-Type: application/json' --data '{}' && break
	kill -0 "$signd2" 2>/dev/null || { cat "$tmp/signd2.log"; fail "signd #2 died at start"; }
	sleep 0.1
done
# sam_now: sets sam to signd #2's one SAM, polled: right after a recycle the
# old one may be gone and the new one not started yet (or both listed).
sam_now() {
	local p=
	for _ in $(seq 200); do
		p=$(pgrep -P "$signd2" -x signd-sam || true)
		[ "$(wc -w <<<"$p")" = 1 ] && { sam=$p; return 0; }
		sleep 0.1
	done
	fail "signd #2 does not run one SAM within 20 s: [$(tr '\n' ' ' <<<"$p")]"
}
sam_pids=()
for i in 1 2 3 4 5; do
	hashes sha256 1
	authorize "$credEC" "$H" $SHA256 '"PIN":"402917"'
	expect 200 - "signd #2: authorize $i"
	signhash "$credEC" "$SAD" "$H" $SHA256 $EC
	expect 200 - "signd #2: signHash $i (no 503 across a recycling)"
	verify "$tmp/ec.pem" 0
	sam_now
	sam_pids+=("$sam")
done
surl=$surl1
[ "$(printf '%s\n' "${sam_pids[@]}" | sort -u | wc -l)" = 3 ] ||
	fail "SAM pids across 5 signHash with recycling every 2: ${sam_pids[*]}"
[ "$(grep -c 'recycled after 2 signHash requests' "$tmp/signd2.log")" = 2 ] ||
	{ cat "$tmp/signd2.log"; fail "signd #2 did not log two recycles"; }
[ "$(grep -c 'recycled: starting another' "$tmp/signd2.log")" = 2 ] ||
	{ cat "$tmp/signd2.log"; fail "signd #2's supervisor did not start two SAMs"; }
# sign.key_cache: each recycled SAM unwrapped the key for its first signHash
# and signed the second with the key it kept (both verified above).
[ "$(grep -c 'unwrapped-key cache: 1 signHash with a kept key, 1 unwraps, 0 keys evicted, 1 kept at exit' "$tmp/signd2.log")" = 2 ] ||
	{ cat "$tmp/signd2.log"; fail "signd #2's SAMs did not sign with a kept key"; }
# A SAM that cannot start (its database role refused for a moment): the
# supervisor tries again every second; once the role is back, signing resumes.
victim=$(pgrep -P "$signd2" -x signd-sam)
q "ALTER ROLE pki_sam NOLOGIN" >/dev/null
at_exit 'q "ALTER ROLE pki_sam LOGIN" >/dev/null 2>&1'
kill -KILL "$victim"
for _ in $(seq 50); do
	grep -q 'sam 0: sam: database: .*(trying again in a second)' "$tmp/signd2.log" && break
	sleep 0.1
done
grep -q 'sam 0: sam: database: .*(trying again in a second)' "$tmp/signd2.log" ||
	{ cat "$tmp/signd2.log"; fail "signd #2: no failed SAM start while pki_sam cannot log in"; }
# A second apart, not a burst that spends the restart budget: watched for
# 2.5 s at least and until a second attempt (a loaded ASan build starts
# slowly: up to 30 s), no more than one a second since the first was seen
# (floor(elapsed) + 2: the first, and one starting as the log is read;
# 2..4 in 2.5 s as before).
t0=$(date +%s.%N)
for _ in $(seq 300); do
	n=$(grep -c 'sam 0: sam: database: .*(trying again in a second)' "$tmp/signd2.log")
	el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
	[ "$n" -ge 2 ] && awk -v e="$el" 'BEGIN{exit !(e >= 2.5)}' && break
	sleep 0.1
done
[ "$n" -ge 2 ] && [ "$n" -le "$(awk -v e="$el" 'BEGIN{print int(e) + 2}')" ] ||
	{ cat "$tmp/signd2.log"; fail "signd #2: $n SAM start attempts in $el s, want 2..int($el)+2"; }
q "ALTER ROLE pki_sam LOGIN" >/dev/null
surl=http://127.0.0.1:$port2/csc/v2
# sign_again WHAT: signd #2 signs again once its new SAM serves (503 until then).
sign_again() {
	for _ in $(seq 50); do
		hashes sha256 1
		authorize "$credEC" "$H" $SHA256 '"PIN":"402917"'
		[ "$code" = 200 ] && break
		[ "$code" = 503 ] || fail "signd #2 $1: HTTP $code: $(cat "$tmp/out")"
		sleep 0.2
	done
	expect 200 - "signd #2: authorize $1"
	signhash "$credEC" "$SAD" "$H" $SHA256 $EC
	expect 200 - "signd #2: signHash $1"
	verify "$tmp/ec.pem" 0
}
sign_again "once the SAM started again"
# A SAM that does not answer (here: waiting for a lock on its SAD's row):
# after sign.sam_timeout_seconds (2 s for signd #2) the request gets 503
# and the HTTP thread is free; the worker closes that SAM's socket, so once
# the lock is gone the SAM ends and the supervisor starts another.
hashes sha256 1
authorize "$credEC" "$H" $SHA256 '"PIN":"402917"'
expect 200 - "signd #2: authorize before the stuck SAM"
open_tx
echo "BEGIN; SELECT id FROM sign_sad ORDER BY id DESC LIMIT 1 FOR UPDATE;" >&"$tx_in"
read -r -t 10 locked <&"$tx_out" || fail "the open transaction did not lock the SAD"
t0=$(date +%s%N)
signhash "$credEC" "$SAD" "$H" $SHA256 $EC
t1=$(date +%s%N)
expect 503 temporarily_unavailable "signd #2: signHash while its SAM waits for a lock"
ms=$(((t1 - t0) / 1000000))
[ "$ms" -ge 1500 ] && [ "$ms" -le 6000 ] || fail "signd #2: the stuck SAM was given up after $ms ms, want ~2000"
commit_tx
sign_again "after the stuck SAM"
# Its answer refused (EPIPE), the SAM ended as on EOF, not as a crash.
grep -q 'the worker stopped waiting for this answer' "$tmp/signd2.log" ||
	{ cat "$tmp/signd2.log"; fail "signd #2: the stuck SAM did not end as one given up on"; }
note "a SAM that does not answer: 503 after sign.sam_timeout_seconds, then replaced"
surl=$surl1
kill -0 "$signd2" 2>/dev/null || fail "signd #2 stopped instead of retrying the SAM's start"
children=$(pgrep -P "$signd2" | tr '\n' ' ')
[ "$(wc -w <<<"$children")" = 2 ] || fail "signd #2: supervisor's children [$children], want the worker and one SAM"
kill -TERM "$signd2"
wait "$signd2" || { cat "$tmp/signd2.log"; fail "signd #2 exited non-zero on SIGTERM"; }
for p in $children; do
	! kill -0 "$p" 2>/dev/null || fail "signd #2 left process $p behind"
done
note "sign.sam_recycle_after: a SAM replaced every 2 signHash, every request served, the second signed with the key kept unwrapped; a SAM start refused by the database retried until it works; clean stop"

# RSA PKCS#1 v1.5, SHA-256, with an OTP of purpose sign. The code is for
# the documents it was asked for (schema/060): other hashes (a service or a
# worker swapping them) are refused, not counted, and leave it unused.
hashes sha256 1
Hbound=$H
sign_otp "$tokA" "$credRSA"
[ "$(q "SELECT encode(binding, 'hex') = details->>'binding' AND (details->>'documents')::int = 1
    FROM ra_otp o JOIN audit_event e ON e.action = 'ra.otp.send' AND e.object_id = o.id::text WHERE o.id = $oid")" = t ] ||
	fail "ra.otp.send does not record the binding stored with the sign OTP"
hashes sha256 1
f0=$(failures "$aA")
n0=$(nauthref)
before
authorize "$credRSA" "$H" $SHA256 "\"OTP\":\"$ocode\",\"otpID\":$oid"
expect 400 invalid_otp "a sign OTP with other hashes than its own"
unchanged "a sign OTP with other hashes"
[ "$(q "SELECT consumed_at IS NULL AND attempts = 0 FROM ra_otp WHERE id = $oid")" = t ] ||
	fail "a sign OTP presented with other hashes was consumed or counted"
[ "$(failures "$aA")" = "$f0" ] || fail "a sign OTP with other hashes counted as a wrong factor"
authorize_refused "a sign OTP with other hashes" "$n0" "$credRSA" otp "other documents" "$ocode"
# One more hash than it was asked for is another set too.
H=$(jq -c --argjson b "$Hbound" '$b + .' <<<"$H")
authorize "$credRSA" "$H" $SHA256 "\"OTP\":\"$ocode\",\"otpID\":$oid"
expect 400 invalid_otp "a sign OTP with one hash more than its own"
# The same set in another order is the same documents.
hashes sha256 2
H2=$H
H=$(jq -c 'reverse' <<<"$H2")
sign_otp "$tokA" "$credRSA"
H=$H2
authorize "$credRSA" "$H" $SHA256 "\"OTP\":\"$ocode\",\"otpID\":$oid"
expect 200 - "a sign OTP for two hashes, given in the other order"
# The same with v2's authData: the OTP and its id, a decimal string.
sign_otp "$tokA" "$credRSA"
authorize "$credRSA" "$H" $SHA256 "\"authData\":[{\"id\":\"OTP\",\"value\":\"$ocode\"},{\"id\":\"otpID\",\"value\":\"$oid\"}]"
expect 200 - "a sign OTP and its otpID in v2's authData"
hashes sha256 1
# A sign code is asked for with its credential and documents, or not at
# all; the table takes no live sign code without a binding (schema/060) or
# without a credential (schema/061).
rreq POST /v1/otp '{"channel":"sms","purpose":"sign"}' "$tokA"
[ "$code" = 400 ] && grep -q 'hashes' "$tmp/out" || fail "a sign OTP without hashes: $code $(cat "$tmp/out")"
rreq POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"sign\",\"hash_algo\":\"sha256\",\"hashes\":$H}" "$tokA"
[ "$code" = 400 ] && grep -q 'credential_id' "$tmp/out" || fail "a sign OTP without credential_id: $code $(cat "$tmp/out")"
! q "INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts)
    VALUES ($aA, 'sms', 'sign', sha256('x'), now() + interval '5 minutes', 3)" >/dev/null 2>&1 ||
	fail "ra_otp took a live sign code without a binding"
! q "INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts, binding)
    VALUES ($aA, 'sms', 'sign', sha256('x'), now() + interval '5 minutes', 3, sha256('y'))" >/dev/null 2>&1 ||
	fail "ra_otp took a live sign code without a credential"
! q "INSERT INTO ra_otp (account_id, channel, purpose, code_hmac, expires_at, max_attempts, credential_id)
    VALUES ($aA, 'sms', 'revoke', sha256('x'), now() + interval '5 minutes', 3, $credEC)" >/dev/null 2>&1 ||
	fail "ra_otp took a credential on a code of purpose revoke"
rreq POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"revoke\",\"hash_algo\":\"sha256\",\"hashes\":$H}" "$tokA"
[ "$code" = 400 ] || fail "hashes with an OTP of purpose revoke: $code $(cat "$tmp/out")"
rreq POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"revoke\",\"credential_id\":\"$credEC\"}" "$tokA"
[ "$code" = 400 ] || fail "a credential_id with an OTP of purpose revoke: $code $(cat "$tmp/out")"
sign_otp "$tokA" "$credRSA"
authorize "$credRSA" "$H" $SHA256 "\"OTP\":\"$ocode\",\"otpID\":$oid"
expect 200 - "authorize RSA with an OTP"
[ "$(q "SELECT consumed_at IS NOT NULL FROM ra_otp WHERE id = $oid")" = t ] || fail "the OTP was not consumed"
signhash "$credRSA" "$SAD" "$H" $SHA256 $RSA
expect 200 - "signHash RSA PKCS#1 v1.5"
verify "$tmp/rsa.pem" 0 -pkeyopt digest:sha256
# RSA-PSS, SHA-384.
hashes sha384 2
authorize "$credRSA" "$H" $SHA384 '"PIN":"402917"'
expect 200 - "authorize RSA-PSS"
signhash "$credRSA" "$SAD" "$H" $SHA384 $PSS
expect 200 - "signHash RSA-PSS"
for i in 0 1; do
	verify "$tmp/rsa.pem" "$i" -pkeyopt digest:sha384 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest
done
# CSC v2's signAlgoParams: the base64 DER of RSASSA-PSS-params (RFC 8017
# A.2.3), taken when it names what the SAM signs with (MGF1 of
# hashAlgorithmOID's hash, a salt of its length); until 2026-12-07 always
# refused, so a client that sends them could not use PSS.
# pss_params HASHOID MGFHASHOID SALT: sets P to such a value.
pss_params() {
	cat >"$tmp/pss.cnf" <<-EOF
	asn1=SEQUENCE:pss
	[pss]
	h=EXPLICIT:0,SEQUENCE:hash
	m=EXPLICIT:1,SEQUENCE:mgf
	s=EXPLICIT:2,INTEGER:$3
	[hash]
	o=OID:$1
	n=NULL
	[mgf]
	o=OID:1.2.840.113549.1.1.8
	p=SEQUENCE:mh
	[mh]
	o=OID:$2
	n=NULL
	EOF
	openssl asn1parse -genconf "$tmp/pss.cnf" -noout -out "$tmp/pss.der" >/dev/null
	P=$(base64 -w0 "$tmp/pss.der")
}
# signhash_p CRED SAD HASHES-JSON HASHOID SIGNALGO PARAMS
signhash_p() {
	sreq signatures/signHash "{\"credentialID\":\"$1\",\"SAD\":\"$2\",\"hashes\":$3,\"hashAlgorithmOID\":\"$4\",\"signAlgo\":\"$5\",\"signAlgoParams\":\"$6\"}" "$at"
}
hashes sha384 1
authorize "$credRSA" "$H" $SHA384 '"PIN":"402917"'
expect 200 - "authorize RSA-PSS with signAlgoParams"
pss_params $SHA384 $SHA384 48
signhash_p "$credRSA" "$SAD" "$H" $SHA384 $PSS "$P"
expect 200 - "signHash RSA-PSS with signAlgoParams"
verify "$tmp/rsa.pem" 0 -pkeyopt digest:sha384 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest
# Refused before the SAM is asked: nothing changes.
before
for bad in "$SHA256 $SHA256 32" "$SHA384 $SHA384 32" "$SHA384 $SHA256 48" "$SHA384 $SHA384 20"; do
	pss_params $bad
	signhash_p "$credRSA" "$SAD" "$H" $SHA384 $PSS "$P"
	expect 400 invalid_request "signHash PSS SHA-384 with signAlgoParams $bad"
	[ "$(desc)" = "${desc_pss:=$(desc)}" ] && grep -q '^Invalid parameter signAlgoParams' <<<"$(desc)" ||
		fail "signAlgoParams $bad: $(desc)"
	grep -qF "$P" "$tmp/out" && fail "the refusal of signAlgoParams $bad quotes them"
done
for bad in 'bm90IERFUg==' '!!!!' "$P$P" ''; do
	signhash_p "$credRSA" "$SAD" "$H" $SHA384 $PSS "$bad"
	expect 400 invalid_request "signHash PSS with signAlgoParams '$bad'"
	[ "$(desc)" = "$desc_pss" ] || fail "signAlgoParams '$bad': $(desc)"
done
pss_params $SHA384 $SHA384 48
signhash_p "$credRSA" "$SAD" "$H" $SHA384 $RSA "$P"
expect 400 invalid_request "signHash PKCS#1 v1.5 with signAlgoParams"
grep -q '^Invalid parameter signAlgoParams' <<<"$(desc)" || fail "signAlgoParams with rsaEncryption: $(desc)"
unchanged "signAlgoParams refused"
note "RSA-2048: PKCS#1 v1.5 (SHA-256, OTP) and PSS (SHA-384, bulk of 2; and with signAlgoParams) verified by openssl"

# === info's signAlgorithms: exactly what signHash takes ==========================
# CSC v2 info's signAlgorithms.algos (required; clients find the algorithms
# there): until 2026-12-07 missing. Each listed OID passes signHash's check
# of signAlgo (a request without hashes is then refused for them, before
# the SAM), well-known OIDs it does not take are not listed and are refused
# as signAlgo, and an EC and an RSA one from the list sign.
curl -sS -o "$tmp/out" "$surl/info"
jq -e '.signAlgorithms.algos | type == "array" and length > 0' "$tmp/out" >/dev/null ||
	fail "info: no signAlgorithms.algos: $(cat "$tmp/out")"
jq -r '.signAlgorithms.algos[]' "$tmp/out" >"$tmp/algos"
[ "$(jq -c '.signAlgorithms | keys' "$tmp/out")" = '["algos"]' ] || fail "info signAlgorithms: $(jq -c .signAlgorithms "$tmp/out")"
sadfmt=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
# (hashAlgorithmOID only for those that ask for it: the combined OIDs
# carry their hash, SHA-512 say, and a SHA-256 would not match.)
while read -r a; do
	sreq signatures/signHash "{\"credentialID\":\"$credRSA\",\"SAD\":\"$sadfmt\",\"signAlgo\":\"$a\"}" "$at"
	if grep -q '^Invalid parameter hashAlgorithmOID' <<<"$(desc)"; then
		sreq signatures/signHash "{\"credentialID\":\"$credRSA\",\"SAD\":\"$sadfmt\",\"hashAlgorithmOID\":\"$SHA256\",\"signAlgo\":\"$a\"}" "$at"
	fi
	expect 400 invalid_request "signHash without hashes, signAlgo $a"
	[ "$(desc)" = "Missing parameter hashes" ] || fail "info lists signAlgo $a, signHash says: $(desc)"
done <"$tmp/algos"
# sha1WithRSA, sha224WithRSA, ecdsa-with-SHA1, -SHA224, Ed25519, DSA, RSAES-OAEP.
for a in 1.2.840.113549.1.1.5 1.2.840.113549.1.1.14 1.2.840.10045.4.1 1.2.840.10045.4.3.1 \
    1.3.101.112 1.2.840.10040.4.1 1.2.840.113549.1.1.7; do
	grep -qx "$a" "$tmp/algos" && fail "info lists $a"
	sreq signatures/signHash "{\"credentialID\":\"$credRSA\",\"SAD\":\"$sadfmt\",\"hashAlgorithmOID\":\"$SHA256\",\"signAlgo\":\"$a\"}" "$at"
	expect 400 invalid_request "signHash with signAlgo $a"
	grep -q '^Invalid parameter signAlgo ' <<<"$(desc)" || fail "signAlgo $a not listed, signHash says: $(desc)"
done
# One of each family, from the list, signs and verifies.
for fam in "$credEC ec.pem 1.2.840.10045.4.3.2" "$credRSA rsa.pem 1.2.840.113549.1.1.11"; do
	read -r fc fp fa <<<"$fam"
	grep -qx "$fa" "$tmp/algos" || fail "info does not list $fa"
	hashes sha256 1
	authorize "$fc" "$H" $SHA256 '"PIN":"402917"'
	expect 200 - "authorize for signAlgo $fa"
	signhash "$fc" "$SAD" "$H" $SHA256 "$fa"
	expect 200 - "signHash with the listed $fa"
	case $fa in 1.2.840.113549.*) verify "$tmp/$fp" 0 -pkeyopt digest:sha256 ;; *) verify "$tmp/$fp" 0 ;; esac
done
note "info: signAlgorithms.algos lists $(wc -l <"$tmp/algos") OIDs, each taken by signHash, others refused; EC and RSA from it verified"

# === a sign code is for one key (schema/061) =====================================
# A holds three credentials: her personal certificate ($credEC), an
# employee's ($credRSA) and her company's e-seal ($credSeal). A code she
# asked for "1 document, ref X" with her personal key in mind is refused,
# with the very same hashes, on the e-seal and on the employee's key (what
# a signing service or a compromised worker choosing the key would try):
# not counted, the code left unused, one sign.authorize_refused. The e-seal
# signs with a code of its own, and the first code still serves its own key.
hashes sha256 1
sign_otp "$tokA" "$credEC"
grep -qF 'with your personal certificate (serial ending ' "$(ls -t "$sms"/* | head -n1)" &&
    ! grep -qF 'Ayu Lestari' "$(ls -t "$sms"/* | head -n1)" ||
	fail "the personal key's sign OTP does not say which key: $(cat "$(ls -t "$sms"/* | head -n1)")"
oidEC=$oid
codeEC=$ocode
[ "$(q "SELECT details->>'credential_id' FROM audit_event WHERE action = 'ra.otp.send' AND object_id = '$oidEC'")" = "$credEC" ] ||
	fail "ra.otp.send does not name the sign OTP's credential"
f0=$(failures "$aA")
n0=$(nauthref)
before
authorize "$credSeal" "$H" $SHA256 "\"OTP\":\"$codeEC\",\"otpID\":$oidEC"
expect 400 invalid_otp "the personal key's sign OTP on the e-seal"
desc | has 'another credential' || fail "the personal key's sign OTP on the e-seal: $(desc)"
unchanged "the personal key's sign OTP on the e-seal"
[ "$(q "SELECT consumed_at IS NULL AND attempts = 0 FROM ra_otp WHERE id = $oidEC")" = t ] ||
	fail "a sign OTP presented for another credential was consumed or counted"
[ "$(failures "$aA")" = "$f0" ] || fail "a sign OTP for another credential counted as a wrong factor"
authorize_refused "the personal key's sign OTP on the e-seal" "$n0" "$credSeal" otp "another credential" "$codeEC"
n0=$(nauthref)
authorize "$credRSA" "$H" $SHA256 "\"OTP\":\"$codeEC\",\"otpID\":$oidEC"
expect 400 invalid_otp "the personal key's sign OTP on the employee's key"
unchanged "the personal key's sign OTP on the employee's key"
authorize_refused "the personal key's sign OTP on the employee's key" "$n0" "$credRSA" otp "another credential" "$codeEC"
# The e-seal with a code of its own, for the same document.
sign_otp "$tokA" "$credSeal"
grep -qF 'with your e-seal (serial ending ' "$(ls -t "$sms"/* | head -n1)" ||
	fail "the e-seal's sign OTP does not say which key: $(cat "$(ls -t "$sms"/* | head -n1)")"
[ "$(q "SELECT a.binding <> b.binding FROM ra_otp a, ra_otp b WHERE a.id = $oid AND b.id = $oidEC")" = t ] ||
	fail "the same documents for two credentials have one binding"
authorize "$credSeal" "$H" $SHA256 "\"OTP\":\"$ocode\",\"otpID\":$oid"
expect 200 - "the e-seal with its own sign OTP"
signhash "$credSeal" "$SAD" "$H" $SHA256 $EC
expect 200 - "signHash with the e-seal"
verify "$tmp/seal.pem" 0
# The personal key's code, left unused, still serves its own key.
authorize "$credEC" "$H" $SHA256 "\"OTP\":\"$codeEC\",\"otpID\":$oidEC"
expect 200 - "the personal key's sign OTP on the personal key"
signhash "$credEC" "$SAD" "$H" $SHA256 $EC
expect 200 - "signHash with the personal key"
verify "$tmp/ec.pem" 0
# The RA issues a sign code only for a credential of the caller's own
# (signd's sign_credential, as credentials/list): B's, an unknown one and
# a malformed one are refused before anything is stored or sent.
s0=$(otp_state "$aA")
rreq POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"sign\",\"credential_id\":\"$credB\",\"hash_algo\":\"sha256\",\"hashes\":$H}" "$tokA"
rproblem 404 "a sign OTP for another account's credential"
detail | has credential_id || fail "a sign OTP for another account's credential: $(detail)"
rreq POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"sign\",\"credential_id\":\"987654321012345678\",\"hash_algo\":\"sha256\",\"hashes\":$H}" "$tokA"
rproblem 404 "a sign OTP for an unknown credential"
for bad in '"0"' '"01"' '"12a"' '""' 12 null; do
	rreq POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"sign\",\"credential_id\":$bad,\"hash_algo\":\"sha256\",\"hashes\":$H}" "$tokA"
	rproblem 400 "a sign OTP with credential_id $bad"
done
[ "$(otp_state "$aA")" = "$s0" ] || fail "a refused credential_id stored or sent a code: $s0 -> $(otp_state "$aA")"
note "a sign code is for one key: refused (not counted, kept) on A's e-seal and employee key, each signs with its own code; another account's, unknown or malformed credential_id: no code"

# TOTP (issue 6: "a subscriber authorizes with TOTP"): enrolled at the RA with
# the PIN, confirmed with a code of the app (oathtool), then given to
# credentials/authorize as OTP without otpID; the SAM checks it itself.
rreq POST /v1/totp '{"factor":{"type":"pin","pin":"402917"}}' "$tokA"
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "TOTP enrolment: $code $(cat "$tmp/out")"
tsecret=$(jq -r .secret "$tmp/out")
secrets+=("$tsecret")
tconfirm=$(oathtool --totp -b "$tsecret")
secrets+=("$tconfirm")
rreq POST /v1/totp/confirm "{\"code\":\"$tconfirm\"}" "$tokA"
[ "$code" = 200 ] || fail "TOTP confirmation: $code $(cat "$tmp/out")"
# The confirmation used this step's code: the next one is accepted (±1 step).
tcode=$(oathtool --totp -b -N 'now + 30 seconds' "$tsecret")
secrets+=("$tcode")
hashes sha256 1
authorize "$credEC" "$H" $SHA256 "\"OTP\":\"$tcode\""
expect 200 - "authorize with a TOTP code"
signhash "$credEC" "$SAD" "$H" $SHA256 $EC
expect 200 - "signHash after TOTP"
verify "$tmp/ec.pem" 0
# The same code again is a replay (RFC 6238 §5.2): refused (invalid_otp,
# docs/csc.md), nothing counted, and audited by the SAM: lib/factor.c writes
# no event for a code it refuses without counting.
hashes sha256 1
before
n0=$(nauthref)
f0=$(failures "$aA")
authorize "$credEC" "$H" $SHA256 "\"OTP\":\"$tcode\""
expect 400 invalid_otp "a replayed TOTP code"
unchanged "replayed TOTP code"
[ "$(failures "$aA")" = "$f0" ] || fail "a replayed TOTP code was counted as a wrong one"
authorize_refused "a replayed TOTP code" "$n0" "$credEC" otp "already used" "$tcode"
note "TOTP: authorized at the SAM, signature verified by openssl; a replayed code refused"

# === refusals =====================================================================
# Reused SAD: the same hashes again.
before
signhash "$credEC" "$sad_ec" "$H_ec" $SHA256 $EC
expect 400 invalid_request "reused SAD"
unchanged "reused SAD"
refused "reused SAD" 1 "$credEC" sad "$credEC"
[ "$(q "SELECT details->>'reason' FROM audit_event WHERE action = 'sign.refused' ORDER BY id DESC LIMIT 1")" = \
  "the SAD has 0 signature(s) left" ] || fail "reused SAD: the event's reason"
# A hash not covered by the SAD (one left of two; the other is new).
hashes sha256 2
authorize "$credEC" "$(jq -c '.[0:1]' <<<"$H")" $SHA256 '"PIN":"402917"'
expect 200 - "authorize one hash"
sad1=$SAD
before
signhash "$credEC" "$sad1" "$(jq -c '.[1:2]' <<<"$H")" $SHA256 $EC
expect 400 invalid_request "hash not covered"
desc | has 'not covered' || fail "hash not covered: $(desc)"
signhash "$credEC" "$sad1" "$H" $SHA256 $EC
expect 400 invalid_request "one covered hash and one not"
unchanged "hash not covered"
# The newest: two hashes on a SAD of one (SAM_E_SAD); the first, SAM_E_HASH.
refused "hash not covered" 2 "$credEC" sad "$credEC"
[ "$(q "SELECT details->>'error' FROM audit_event WHERE action = 'sign.refused' ORDER BY id DESC LIMIT 1 OFFSET 1")" = hash ] ||
	fail "hash not covered: the first event's error"
# The SAD still serves its own hash once, then is spent.
signhash "$credEC" "$sad1" "$(jq -c '.[0:1]' <<<"$H")" $SHA256 $EC
expect 200 - "signHash of the covered hash"
# Wrong hash algorithm for the SAD.
hashes sha384 1
authorize "$credEC" "$H" $SHA384 '"PIN":"402917"'
expect 200 - "authorize SHA-384"
sad384=$SAD
before
signhash "$credEC" "$sad384" "[\"$(openssl dgst -sha256 -binary "$tmp/doc0" | base64 -w0)\"]" $SHA256 $EC
expect 400 invalid_request "a SHA-256 hash on a SHA-384 SAD"
unchanged "hash algorithm"
# Expired SAD.
hashes sha256 1
authorize "$credEC" "$H" $SHA256 '"PIN":"402917"'
expect 200 - "authorize (to expire)"
q "UPDATE sign_sad SET expires_at = now() - interval '1 second' WHERE id = (SELECT max(id) FROM sign_sad)" >/dev/null
before
signhash "$credEC" "$SAD" "$H" $SHA256 $EC
expect 400 invalid_request "expired SAD"
[ "$(desc)" = "SAD expired" ] || fail "expired SAD: $(desc)"
unchanged "expired SAD"
refused "expired SAD" 1 "$credEC" sad_expired "$credEC"
# An unknown SAD, a malformed one.
before
signhash "$credEC" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$H" $SHA256 $EC
expect 400 invalid_request "unknown SAD"
signhash "$credEC" "not-a-sad" "$H" $SHA256 $EC
expect 400 invalid_request "malformed SAD"
# Wrong signAlgo for the key (RSA on an EC credential).
hashes sha256 1
unchanged "unknown SAD"
# The malformed one never reached the SAM (the worker's 400): not audited.
refused "unknown SAD" 1 "$credEC" sad -
authorize "$credEC" "$H" $SHA256 '"PIN":"402917"'
sad_algo=$SAD
before
signhash "$credEC" "$sad_algo" "$H" $SHA256 $RSA
expect 400 invalid_request "RSA signAlgo on an EC key"
unchanged "wrong signAlgo"

# Tokens: none, malformed, unknown, expired.
before
sreq credentials/list "{\"userID\":\"$aA\"}"
expect 401 invalid_token "no token"
grep -qi '^www-authenticate: Bearer' "$tmp/hdr" || fail "401 without WWW-Authenticate: Bearer"
# A request without credentials gets no error code in it (RFC 6750 §3.1).
! grep -qi '^www-authenticate:.*error=' "$tmp/hdr" || fail "401 without a token: WWW-Authenticate names an error"
hashes sha256 1
# The token before the body's media type (docs/csc.md "Errors"): until
# 2026-12-07 a caller with neither got 400 "must be application/json".
for m in credentials/list credentials/info credentials/authorize signatures/signHash; do
	for t in "" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"; do
		code=$(curl -sS -o "$tmp/out" -w '%{http_code}' -X POST -H 'Content-Type: text/plain' \
			${t:+-H "Authorization: Bearer $t"} --data-binary '{}' "$surl/$m")
		expect 401 invalid_token "$m as text/plain, ${t:+an unknown}${t:-no} token"
	done
	code=$(curl -sS -o "$tmp/out" -w '%{http_code}' -X POST -H 'Content-Type: text/plain' \
		-H "Authorization: Bearer $at" --data-binary '{}' "$surl/$m")
	expect 400 invalid_request "$m as text/plain with a token"
	[ "$(desc)" = "the body must be application/json" ] || fail "$m as text/plain with a token: $(cat "$tmp/out")"
done
authorize "$credEC" "$H" $SHA256 '"PIN":"402917"' "garbage"
expect 401 invalid_token "malformed token"
grep -qi '^www-authenticate: Bearer.*error="invalid_token"' "$tmp/hdr" ||
	fail "401 for a malformed token: no error=\"invalid_token\": $(cat "$tmp/hdr")"
authorize "$credEC" "$H" $SHA256 '"PIN":"402917"' "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect 401 invalid_token "unknown token"
signhash "$credEC" "$sad_algo" "$H" $SHA256 $EC "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect 401 invalid_token "signHash with an unknown token"
token "grant_type=client_credentials&client_id=$cid&client_secret=$csec"
at2=$(jq -r .access_token "$tmp/out")
secrets+=("$at2")
q "UPDATE sign_token SET expires_at = now() - interval '1 second' WHERE id = (SELECT max(id) FROM sign_token)" >/dev/null
authorize "$credEC" "$H" $SHA256 '"PIN":"402917"' "$at2"
expect 401 invalid_token "expired token"
unchanged "requests without a valid token"

# Long-expired rows go (schema/041): a new token takes its service's tokens
# that expired an hour ago or more, a new authorization such SADs with their
# hashes; the audit event of each says how many. Expired less long: kept.
old_tok=$(q "SELECT max(id) FROM sign_token WHERE service_id = $sid")
q "UPDATE sign_token SET expires_at = now() - interval '2 hours' WHERE id = $old_tok" >/dev/null
q "UPDATE sign_token SET expires_at = now() - interval '50 minutes' WHERE id = (SELECT max(id) FROM sign_token WHERE id < $old_tok AND service_id = $sid)" >/dev/null
recent_tok=$(q "SELECT max(id) FROM sign_token WHERE id < $old_tok AND service_id = $sid")
old_sad=$(q "SELECT max(id) FROM sign_sad")
[ "$(q "SELECT count(*) FROM sign_sad_hash WHERE sad_id = $old_sad")" -ge 1 ] || fail "SAD $old_sad has no hash row"
q "UPDATE sign_sad SET expires_at = now() - interval '2 hours' WHERE id = $old_sad" >/dev/null
token "grant_type=client_credentials&client_id=$cid&client_secret=$csec"
expect 200 - "oauth2/token after tokens expired"
secrets+=("$(jq -r .access_token "$tmp/out")")
[ "$(q "SELECT count(*) FROM sign_token WHERE id = $old_tok")" = 0 ] || fail "a token expired 2 hours ago was kept"
[ "$(q "SELECT count(*) FROM sign_token WHERE id = $recent_tok")" = 1 ] || fail "a token expired 50 minutes ago was removed"
[ "$(q "SELECT details->>'expired_removed' FROM audit_event WHERE action = 'sign.token' ORDER BY id DESC LIMIT 1")" -ge 1 ] ||
	fail "the token's audit event does not count the tokens removed"
hashes sha256 1
authorize "$credEC" "$H" $SHA256 '"PIN":"402917"'
expect 200 - "authorize after a SAD expired"
[ "$(q "SELECT count(*) FROM sign_sad WHERE id = $old_sad")/$(q "SELECT count(*) FROM sign_sad_hash WHERE sad_id = $old_sad")" = 0/0 ] ||
	fail "a SAD expired 2 hours ago (or its hashes) was kept"
[ "$(q "SELECT details->>'expired_removed' FROM audit_event WHERE action = 'sign.authorize' ORDER BY id DESC LIMIT 1")" -ge 1 ] ||
	fail "the authorization's audit event does not count the SADs removed"

# Another subscriber's credential.
before
hashes sha256 1
sreq credentials/authorize "{\"credentialID\":\"$credB\",\"userID\":\"$aA\",\"numSignatures\":1,\"hashes\":$H,\"hashAlgorithmOID\":\"$SHA256\",\"PIN\":\"402917\"}" "$at"
expect 400 invalid_request "authorize B's credential as A"
sreq credentials/info "{\"credentialID\":\"$credB\",\"userID\":\"$aA\"}" "$at"
expect 400 invalid_request "info of B's credential as A"
sign_otp "$tokA" "$credEC"
before
n0=$(nauthref)
authorize "$credB" "$H" $SHA256 "\"OTP\":\"$ocode\",\"otpID\":$oid"
expect 400 invalid_otp "A's OTP for B's credential"
[ "$(q "SELECT consumed_at IS NULL FROM ra_otp WHERE id = $oid")" = t ] || fail "A's OTP consumed by B's credential"
# Not counted, so not in lib/factor.c's events: the SAM's event says it.
authorize_refused "A's OTP for B's credential" "$n0" "$credB" otp "no such OTP" "$ocode"
authorize "$credEC" "$H" $SHA256 "\"OTP\":\"$ocode\",\"otpID\":$oid"
expect 200 - "A's OTP on A's credential"
sadA=$SAD
before
signhash "$credB" "$sadA" "$H" $SHA256 $EC
expect 400 invalid_request "A's SAD on B's credential"
unchanged "A's SAD on B's credential"
refused "A's SAD on B's credential" 1 "$credB" sad "$credEC"
# An OTP of another purpose: the SAM does not even see it (schema/080).
rreq POST /v1/otp '{"channel":"sms","purpose":"revoke"}' "$tokA"
roid=$(jq -r .otp_id "$tmp/out")
rcode=$(sms_code)
secrets+=("$rcode")
n0=$(nauthref)
authorize "$credEC" "$H" $SHA256 "\"OTP\":\"$rcode\",\"otpID\":$roid"
expect 400 invalid_otp "an OTP issued for revoke"
authorize_refused "an OTP issued for revoke" "$n0" "$credEC" otp "no such OTP" "$rcode"
[ "$(q "SELECT attempts || (consumed_at IS NULL)::text FROM ra_otp WHERE id = $roid")" = 0true ] ||
	fail "an OTP issued for revoke was counted or used by the SAM"

# Wrong PIN and OTP: counted, then the lock-out (policy threshold 5).
f0=$(failures "$aB")
nauthw=$(q "SELECT count(*) FROM audit_event WHERE action = 'sign.authorize_refused'")
before
authorize "$credB" "$H" $SHA256 '"PIN":"000001"'
expect 400 invalid_pin "wrong PIN"
[ "$(failures "$aB")" = $((f0 + 1)) ] || fail "wrong PIN not counted"
unchanged "wrong PIN (besides its counter)"
# The service sent it: the event is its act, and names the credential.
[ "$(factor_event ra.factor.failed "$aB")" = "sign_service:$sid|$sid|$credB|$aB" ] ||
	fail "a wrong PIN through signd: ra.factor.failed $(factor_event ra.factor.failed "$aB")"
sign_otp "$tokB" "$credB"
authorize "$credB" "$H" $SHA256 "\"OTP\":\"$(printf '%06d' $(((10#$ocode + 1) % 1000000)))\",\"otpID\":$oid"
expect 400 invalid_otp "wrong OTP"
[ "$(failures "$aB")" = $((f0 + 2)) ] || fail "wrong OTP not counted"
[ "$(q "SELECT attempts FROM ra_otp WHERE id = $oid")" = 1 ] || fail "wrong OTP not counted on the OTP"
[ "$(factor_event ra.otp.failed "$oid")" = "sign_service:$sid|$sid|$credB|$aB" ] ||
	fail "a wrong OTP through signd: ra.otp.failed $(factor_event ra.otp.failed "$oid")"
for i in 3 4 5; do
	authorize "$credB" "$H" $SHA256 '"PIN":"000001"'
	expect 400 invalid_pin "wrong factor $i"
done
[ "$(q "SELECT sign_factor_locked_until > now() FROM ra_account WHERE id = $aB")" = t ] || fail "5 wrong factors did not lock"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'sign.authorize_refused'")" = "$nauthw" ] ||
	fail "wrong factors were audited as sign.authorize_refused too (their own events say it)"
authorize "$credB" "$H" $SHA256 '"PIN":"513829"'
expect 429 access_denied "the right PIN while locked"
grep -qi '^retry-after: [1-9]' "$tmp/hdr" || fail "lock-out without Retry-After"
[ "$(q "SELECT details->>'error' FROM audit_event WHERE action = 'sign.authorize_refused' ORDER BY id DESC LIMIT 1")" = locked ] ||
	fail "an authorization refused while locked is not audited"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.factor.lock' AND object_id = '$aB'")" -ge 1 ] ||
	fail "lock-out not audited"
[ "$(factor_event ra.factor.lock "$aB")" = "sam:lockout|$sid|$credB|$aB" ] ||
	fail "lock-out by signd's wrong factors: ra.factor.lock $(factor_event ra.factor.lock "$aB")"
# Signing's lock is not the RA's: B still uses the PIN there (replacing it
# by itself), and a wrong PIN there is counted on the RA's side only.
ra_count=$(q "SELECT factor_failures || '/' || (factor_locked_until IS NULL) FROM ra_account WHERE id = $aB")
[ "$ra_count" = 0/true ] || fail "wrong factors at signd counted or locked at the RA: $ra_count"
rreq POST /v1/pin '{"pin":"513829","factor":{"type":"pin","pin":"513829"}}' "$tokB"
[ "$code" = 200 ] || fail "B's PIN at the RA while signing is locked: $code $(cat "$tmp/out")"
rreq POST /v1/pin '{"pin":"513829","factor":{"type":"pin","pin":"000001"}}' "$tokB"
[ "$code" = 401 ] || fail "a wrong PIN at the RA: $code $(cat "$tmp/out")"
# rad's own factor checks audit as before: the subscriber, no service.
[ "$(factor_event ra.factor.failed "$aB")" = "subscriber:$aB|-|-|-" ] ||
	fail "a wrong PIN at the RA: ra.factor.failed $(factor_event ra.factor.failed "$aB")"
[ "$(q "SELECT factor_failures || '/' || sign_factor_failures FROM ra_account WHERE id = $aB")" = "1/$((f0 + 5))" ] ||
	fail "a wrong PIN at the RA: counts $(q "SELECT factor_failures || '/' || sign_factor_failures FROM ra_account WHERE id = $aB")"
# A sign code goes by signing's lock, not the RA's: none is sent while
# signing is locked (it could not be used), one is while only the RA's is.
n0=$(q "SELECT count(*) FROM ra_otp WHERE account_id = $aB")
rreq POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"sign\",\"credential_id\":\"$credB\",\"hash_algo\":\"sha256\",\"hashes\":$H}" "$tokB"
[ "$code" = 429 ] && jq -r .detail "$tmp/out" | grep -q 'signing with this account is locked' ||
	fail "a sign code while signing is locked: $code $(cat "$tmp/out")"
[ "$(q "SELECT count(*) FROM ra_otp WHERE account_id = $aB")" = "$n0" ] || fail "a sign code was stored while signing is locked"
q "UPDATE ra_account SET sign_factor_failures = 0, sign_factor_locked_until = NULL,
    factor_locked_until = now() + interval '10 minutes' WHERE id = $aB" >/dev/null
sign_otp "$tokB" "$credB"
q "UPDATE ra_account SET factor_locked_until = NULL WHERE id = $aB" >/dev/null
authorize "$credB" "$H" $SHA256 '"PIN":"513829"'
expect 200 - "B's PIN after the lock is lifted"
sadB=$SAD
hB=$H

# A blob moved to another subscriber's row: signs, but nothing is returned.
origB=$(q "SELECT encode(wrapped, 'hex') FROM subscriber_key WHERE certificate_id = $credB")
q "ALTER TABLE subscriber_key DISABLE TRIGGER subscriber_key_immutable" >/dev/null
q "UPDATE subscriber_key SET wrapped = (SELECT wrapped FROM subscriber_key WHERE certificate_id = $credEC) WHERE certificate_id = $credB" >/dev/null
before
signhash "$credB" "$sadB" "$hB" $SHA256 $EC
expect 500 server_error "a moved blob"
[ "$(jq 'has("signatures")' "$tmp/out")" = false ] || fail "a moved blob returned a signature"
unchanged "a moved blob"
refused "a moved blob" 1 "$credB" key "$credB"
# A blob the token cannot unwrap (one byte changed): a failure at the HSM,
# as a token away would be, not a key that does not match its certificate:
# 503 with Retry-After, nothing consumed, no sign.refused event.
q "UPDATE subscriber_key SET wrapped = set_byte(decode('$origB', 'hex'), 20, get_byte(decode('$origB', 'hex'), 20) # 1)
    WHERE certificate_id = $credB" >/dev/null
before
signhash "$credB" "$sadB" "$hB" $SHA256 $EC
expect 503 temporarily_unavailable "a blob the HSM cannot unwrap"
grep -qi '^retry-after: [1-9]' "$tmp/hdr" || fail "a blob the HSM cannot unwrap: 503 without Retry-After"
[ "$(jq 'has("signatures")' "$tmp/out")" = false ] || fail "a blob the HSM cannot unwrap returned a signature"
unchanged "a blob the HSM cannot unwrap"
[ "$(nrefused)" = "$ref0" ] || fail "a failure at the HSM was audited as sign.refused"
grep -q "credential $credB: signing failed at the HSM: C_UnwrapKey" "$PKI_DIR/log/sign.log" ||
	fail "the SAM did not log the failure at the HSM"
q "UPDATE subscriber_key SET wrapped = decode('$origB', 'hex') WHERE certificate_id = $credB" >/dev/null
q "ALTER TABLE subscriber_key ENABLE TRIGGER subscriber_key_immutable" >/dev/null
signhash "$credB" "$sadB" "$hB" $SHA256 $EC
expect 200 - "the SAD still serves once the blob is back"
cert_pem "$credB" "$tmp/b.pem"
verify "$tmp/b.pem" 0

# Revoked and suspended credentials.
hashes sha256 1
authorize "$credRSA" "$H" $SHA256 '"PIN":"402917"'
expect 200 - "authorize before the suspension"
sad_rsa=$SAD
ser=$(openssl x509 -in "$tmp/rsa.pem" -noout -serial | cut -d= -f2)
# A revocation (a hold too) and a signHash are ordered (schema/049). A
# signature in progress (here a transaction holding the SAM's lock on the
# certificate): the hold waits for its commit and is stamped after it.
open_tx
echo "BEGIN; SELECT 'signing' FROM certificate_sign_lock($credRSA);" >&"$tx_in"
read -r -t 10 locked <&"$tx_out" && [ "$locked" = signing ] || fail "the open transaction did not take the signing lock: $locked"
pkictl cert revoke --serial "$ser" --reason certificateHold >"$tmp/revoke.out" 2>&1 &
revoker=$!
waiting_advisory || fail "the hold did not wait for the signature in progress"
echo "SELECT clock_timestamp();" >&"$tx_in"
read -r -t 10 signed_at <&"$tx_out" || fail "no time from the open transaction"
kill -0 "$revoker" 2>/dev/null || fail "the hold ended while a signature was in progress: $(cat "$tmp/revoke.out")"
commit_tx
wait "$revoker" || fail "hold: $(cat "$tmp/revoke.out")"
[ "$(q "SELECT revoked_at > '$signed_at'::timestamptz FROM certificate WHERE id = $credRSA")" = t ] ||
	fail "the hold that waited for a signature is stamped before it ($signed_at)"
before
signhash "$credRSA" "$sad_rsa" "$H" $SHA256 $RSA
expect 400 invalid_request "signHash on a suspended credential"
desc | has suspended || fail "suspended: $(desc)"
nauth0=$(q "SELECT count(*) FROM audit_event WHERE action = 'sign.authorize_refused'")
authorize "$credRSA" "$H" $SHA256 '"PIN":"402917"'
expect 400 invalid_request "authorize on a suspended credential"
unchanged "suspended credential"
# Nor does the RA send a sign code for it (schema/061).
s0=$(otp_state "$aA")
rreq POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"sign\",\"credential_id\":\"$credRSA\",\"hash_algo\":\"sha256\",\"hashes\":$H}" "$tokA"
rproblem 409 "a sign OTP for a suspended credential"
[ "$(otp_state "$aA")" = "$s0" ] || fail "a sign OTP for a suspended credential stored or sent a code"
# A refused authorization is audited after it (before: nothing), naming the
# service, the credential and why; never the PIN.
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'sign.authorize_refused'")" = $((nauth0 + 1)) ] ||
	fail "the refused authorization of a suspended credential is not audited"
[ "$(q "SELECT actor || '|' || object_id || '|' || (details->>'service_id') || '|' || (details->>'error') || '|' ||
    (details->>'num_hashes') || '|' || (details::text LIKE '%402917%') FROM audit_event
    WHERE action = 'sign.authorize_refused' ORDER BY id DESC LIMIT 1")" = "sign_service:$sid|$credRSA|$sid|credential_status|1|false" ] ||
	fail "sign.authorize_refused: $(q "SELECT details FROM audit_event WHERE action = 'sign.authorize_refused' ORDER BY id DESC LIMIT 1")"
sreq credentials/info "{\"credentialID\":\"$credRSA\"}" "$at"
[ "$(jq -r '.cert.status + "/" + .key.status' "$tmp/out")" = suspended/disabled ] || fail "info of a held credential: $(cat "$tmp/out")"
pkictl cert release --serial "$ser" >/dev/null || fail "release"
signhash "$credRSA" "$sad_rsa" "$H" $SHA256 $RSA
expect 200 - "signHash after the release"
verify "$tmp/rsa.pem" 0 -pkeyopt digest:sha256
hashes sha256 1
authorize "$credEC" "$H" $SHA256 '"PIN":"402917"'
sad_rev=$SAD
# A revocation in progress: the signHash waits for its commit, then sees it.
before
signhash_racing "UPDATE certificate SET revoked_at = now(), revocation_reason = 1 WHERE id = $credEC" \
	"a revocation" "$credEC" "$sad_rev" "$H" $SHA256 $EC
expect 400 invalid_request "signHash on a credential being revoked"
desc | has revoked || fail "being revoked: $(desc)"
unchanged "credential being revoked"
signhash "$credEC" "$sad_rev" "$H" $SHA256 $EC
expect 400 invalid_request "signHash on a revoked credential"
desc | has revoked || fail "revoked: $(desc)"
authorize "$credEC" "$H" $SHA256 '"PIN":"402917"'
expect 400 invalid_request "authorize on a revoked credential"
unchanged "revoked credential"
# credentials/list onlyValid (CSC v2 §11.4): the credentials whose
# certificate is valid and key enabled, as credentials/info says, and
# "onlyValid": true in the answer; the revoked one is not among them.
sreq credentials/list "{\"userID\":\"$aA\"}" "$at"
all=$(jq -r '.credentialIDs | join(" ")' "$tmp/out")
[ "$all" = "$credEC $credRSA $credSeal" ] || fail "credentials/list after a revocation: $all"
want=
for id in $all; do
	sreq credentials/info "{\"credentialID\":\"$id\"}" "$at"
	[ "$(jq -r '.cert.status + "/" + .key.status' "$tmp/out")" = valid/enabled ] && want="$want $id"
done
[ "$want" = " $credRSA $credSeal" ] || fail "valid credentials of A after a revocation (and a released hold):$want"
sreq credentials/list "{\"userID\":\"$aA\",\"onlyValid\":true}" "$at"
expect 200 - "credentials/list onlyValid"
[ "$(jq -r '(.credentialIDs | join(" ")) + "/" + (.onlyValid | tostring)' "$tmp/out")" = "$credRSA $credSeal/true" ] ||
	fail "credentials/list onlyValid: $(cat "$tmp/out")"
# maxResults counts the valid ones: the revoked first one does not take a place.
sreq credentials/list "{\"userID\":\"$aA\",\"onlyValid\":true,\"maxResults\":1,\"credentialInfo\":true}" "$at"
[ "$(jq -r '[.credentialIDs[0], .credentialInfos[0].credentialID, .credentialInfos[0].cert.status, (.credentialIDs | length)] | join("/")' "$tmp/out")" = \
  "$credRSA/$credRSA/valid/1" ] || fail "credentials/list onlyValid maxResults 1: $(jq -c . "$tmp/out" | head -c 300)"
sreq credentials/list "{\"userID\":\"$aA\",\"onlyValid\":false}" "$at"
[ "$(jq -c '[(.credentialIDs | length), .onlyValid]' "$tmp/out")" = "[3,null]" ] ||
	fail "credentials/list onlyValid false: $(cat "$tmp/out")"

# Malformed requests.
sreq credentials/authorize "{\"credentialID\":\"$credB\",\"numSignatures\":2,\"hashes\":$H,\"hashAlgorithmOID\":\"$SHA256\",\"PIN\":\"513829\"}" "$at"
expect 400 invalid_request "numSignatures not the hash count"
sreq credentials/authorize "{\"credentialID\":\"$credB\",\"numSignatures\":1,\"hashes\":$H,\"hashAlgorithmOID\":\"1.3.14.3.2.26\",\"PIN\":\"513829\"}" "$at"
expect 400 invalid_request "SHA-1"
sreq credentials/authorize "{\"credentialID\":\"$credB\",\"numSignatures\":1,\"hashes\":$H,\"hashAlgorithmOID\":\"$SHA256\",\"PIN\":\"513829\",\"PIN\":\"513829\"}" "$at"
expect 400 invalid_request "duplicate member"
sreq credentials/authorize "{\"credentialID\":\"$credB\",\"numSignatures\":1,\"hashes\":$H,\"hashAlgorithmOID\":\"$SHA256\",\"PIN\":\"513829\",\"x\":1}" "$at"
expect 400 invalid_request "unknown member"

# === a compromised worker ======================================================
# sam_worker (tests/tools) spawns a SAM of its own, as signd's supervisor
# does, and sends it what signd's worker would never forward. The SAM must
# refuse on its own checks, and a refusal changes nothing. Nor does the
# worker name the calling service: the wire carries the service's access
# token, and the SAM takes the service whose live token it is (schema/063).
samw() { "$BUILD/tests/tools/sam_worker" "$PKI_CONFIG" "$@" 2>>"$tmp/samw.err" || {
	cat "$tmp/samw.err" >&2; fail "sam_worker $1 did not run"; }; }
# tokfile FILE TOKEN: what sam_worker sends as the access token.
tokfile() { printf '%s' "$2" >"$1" && chmod 600 "$1"; }
# token_refused WHAT ACTION CRED: the newest ACTION event is the refusal of
# a token that finds no service: by signd:worker on CRED, no service named.
token_refused() {
	local row
	row=$(q "SELECT actor || '|' || object_id || '|' || (details->>'error') || '|' || (details ? 'service_id')
	    FROM audit_event WHERE action = '$2' ORDER BY id DESC LIMIT 1")
	[ "$row" = "signd:worker|$3|token|false" ] || fail "$1: $2 event $row, want signd:worker|$3|token|false"
}
printf 513829 >"$tmp/pinB"
chmod 600 "$tmp/pinB"
printf 000001 >"$tmp/pin.wrong"
chmod 600 "$tmp/pin.wrong"
h1=$(openssl rand -hex 32)
h2=$(openssl rand -hex 32)
h3=$(openssl rand -hex 32)
pkictl sigservice add --name "docsign2-$$" >"$tmp/svc2" || fail "pkictl sigservice add (2)"
sid2=$(sed -n 's/^id\t//p' "$tmp/svc2")
cid2=$(sed -n 's/^client_id\t//p' "$tmp/svc2")
csec2=$(sed -n 's/^client_secret\t//p' "$tmp/svc2")
secrets+=("$csec2")
token "grant_type=client_credentials&client_id=$cid2&client_secret=$csec2"
expect 200 - "oauth2/token of the second service"
at_s2=$(jq -r .access_token "$tmp/out")
secrets+=("$at_s2")
grant "$tokB" "$sid2"
tokfile "$tmp/tok1" "$at"
tokfile "$tmp/tok2" "$at_s2"
[ "$(samw authorize "$credB" "$tmp/tok1" "$tmp/pinB" "$tmp/sad.w" "$h1" "$h2")" = ok ] ||
	fail "sam_worker: B's PIN did not authorize"
[ "$(samw authorize "$credB" "$tmp/tok2" "$tmp/pinB" "$tmp/sad.w2" "$h1")" = ok ] ||
	fail "sam_worker: B's PIN did not authorize for the second service"
# Each SAD and its sign.authorize event are the token's service's.
[ "$(q "SELECT string_agg(s.service_id || '/' || (e.details->>'service_id'), ',' ORDER BY s.id) FROM sign_sad s
    JOIN audit_event e ON e.action = 'sign.authorize' AND e.object_id = s.id::text
    WHERE s.id IN (SELECT id FROM sign_sad ORDER BY id DESC LIMIT 2)")" = "$sid/$sid,$sid2/$sid2" ] ||
	fail "sam_worker: the SADs are not recorded under their tokens' services"
before
# enum sam_error (hsm/signd/extern.h): 1 request, 4 PIN, 8 SAD, 10 hash,
# 14 token.
out=$(samw signhash "$credRSA" "$tmp/tok1" "$tmp/sad.w" pkcs1 "$h1")
[ "$out" = "refused 8 the SAD was not issued for this credential" ] || fail "B's SAD on A's credential: $out"
refused "B's SAD on A's credential" 1 "$credRSA" sad "$credB"
# The second service's token with the first's SAD: refused, and audited as
# the second's act (the token's), not as the SAD's service's.
out=$(samw signhash "$credB" "$tmp/tok2" "$tmp/sad.w" ecdsa "$h1")
[ "$out" = "refused 8 the SAD was issued to another signing service" ] || fail "B's SAD from another service: $out"
refused "B's SAD from another service" 2 "$credB" sad "$credB" "$sid2"
[ "$(q "SELECT details->>'reason' FROM audit_event WHERE action = 'sign.refused' ORDER BY id DESC LIMIT 1")" = \
  "the SAD was issued to another signing service" ] || fail "B's SAD from another service: the event's reason"
out=$(samw signhash "$credB" "$tmp/tok1" "$tmp/sad.w" ecdsa "$h1" "$h3")
[[ $out == "refused 10 "* ]] || fail "a hash the SAD does not cover: $out"
refused "a hash the SAD does not cover (sam_worker)" 3 "$credB" hash "$credB"
unchanged "a compromised worker's signHash requests"
grep -q "signHash on credential $credB by service $sid2 (SAD [0-9]*) refused: the SAD was issued to another signing service" \
	"$tmp/samw.err" "$PKI_DIR/log/sign.log" || fail "the SAM's log of a refusal does not name the service"
# A wrong PIN is audited as the act of the token's service: the first's,
# then the second's.
f0=$(failures "$aB")
out=$(samw authorize "$credB" "$tmp/tok1" "$tmp/pin.wrong" "$tmp/sad.x" "$h1")
[[ $out == "refused 4 "* ]] || fail "a wrong PIN through sam_worker: $out"
[ "$(failures "$aB")" = $((f0 + 1)) ] || fail "a wrong PIN through sam_worker was not counted"
[ ! -e "$tmp/sad.x" ] || fail "a wrong PIN gave a SAD"
[ "$(factor_event ra.factor.failed "$aB")" = "sign_service:$sid|$sid|$credB|$aB" ] ||
	fail "a wrong PIN with the first service's token: ra.factor.failed $(factor_event ra.factor.failed "$aB")"
out=$(samw authorize "$credB" "$tmp/tok2" "$tmp/pin.wrong" "$tmp/sad.x" "$h1")
[[ $out == "refused 4 "* ]] || fail "a wrong PIN through sam_worker (second service): $out"
[ "$(failures "$aB")" = $((f0 + 2)) ] || fail "a wrong PIN through sam_worker (second service) was not counted"
[ "$(factor_event ra.factor.failed "$aB")" = "sign_service:$sid2|$sid2|$credB|$aB" ] ||
	fail "a wrong PIN with the second service's token: ra.factor.failed $(factor_event ra.factor.failed "$aB")"
# B revokes the second service's grant at the RA: the SAM itself (past a
# worker that would not look) refuses that service's authorizations and
# the SAD it holds, as an unknown credential; no PIN is counted, nothing is
# consumed. The first service's are untouched. Granted again, it may ask.
before
f0=$(failures "$aB")
n0=$(nauthref)
rreq POST "/v1/sign-services/$sid2/revoke" '{}' "$tokB"
[ "$code" = 200 ] || fail "B's revoke of service $sid2: $code $(cat "$tmp/out")"
[ "$(q "SELECT count(*) FROM sign_grant WHERE account_id = $aB AND service_id = $sid2")" = 0 ] || fail "the grant is still there"
nogrant="the subscriber has not granted this signing service (or revoked its grant)"
out=$(samw authorize "$credB" "$tmp/tok2" "$tmp/pin.wrong" "$tmp/sad.x" "$h1")
[ "$out" = "refused 2 $nogrant" ] || fail "a wrong PIN from a service whose grant was revoked: $out"
out=$(samw authorize "$credB" "$tmp/tok2" "$tmp/pinB" "$tmp/sad.x" "$h1")
[ "$out" = "refused 2 $nogrant" ] || fail "B's PIN from a service whose grant was revoked: $out"
[ ! -e "$tmp/sad.x" ] || fail "a service whose grant was revoked got a SAD"
[ "$(failures "$aB")" = "$f0" ] || fail "a wrong PIN from a service whose grant was revoked was counted"
[ "$(nauthref)" = $((n0 + 2)) ] || fail "the refusals of a revoked grant's authorizations: $(($(nauthref) - n0)) events, want 2"
out=$(samw signhash "$credB" "$tmp/tok2" "$tmp/sad.w2" ecdsa "$h1")
[ "$out" = "refused 2 $nogrant" ] || fail "the SAD of a service whose grant was revoked: $out"
refused "the SAD of a service whose grant was revoked" 1 "$credB" credential "$credB" "$sid2"
sreq credentials/list "{\"userID\":\"$aB\"}" "$at_s2"
[ "$(jq -c .credentialIDs "$tmp/out")" = '[]' ] || fail "credentials/list by a service whose grant was revoked: $(cat "$tmp/out")"
sreq credentials/list "{\"userID\":\"$aB\"}" "$at"
[ "$(jq -c .credentialIDs "$tmp/out")" = "[\"$credB\"]" ] || fail "the other service lost B's credential: $(cat "$tmp/out")"
unchanged "a revoked grant's requests"
grant "$tokB" "$sid2"
[ "$code" = 201 ] || fail "B's grant again: $code"
note "a revoked grant: the SAM refuses the service's authorizations and its SAD (no PIN counted), the other service keeps B"
# What names no service: a token never issued; the SHA-256 of a live
# token, as sign_token keeps it (pki_sign reads it; sent as the token, the
# SAM hashes it again); a token that expired. The SAM refuses each before
# anything else, a wrong PIN is not counted against anyone, nothing is
# stored or consumed, and the refusal is audited naming no service.
tokfile "$tmp/tok.never" "$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')"
tokfile "$tmp/tok.digest" "$(q "SELECT rtrim(translate(encode(token_sha256, 'base64'), '+/', '-_'), '=') FROM sign_token
    WHERE token_sha256 = sha256(decode(translate('$at_s2', '-_', '+/') || '=', 'base64'))")"
[ "$(wc -c <"$tmp/tok.digest")" = 43 ] || fail "the stored digest of the second service's token: $(cat "$tmp/tok.digest")"
token "grant_type=client_credentials&client_id=$cid&client_secret=$csec"
expect 200 - "oauth2/token for a token to expire"
at_old=$(jq -r .access_token "$tmp/out")
secrets+=("$at_old")
q "UPDATE sign_token SET expires_at = now() - interval '1 second'
    WHERE token_sha256 = sha256(decode(translate('$at_old', '-_', '+/') || '=', 'base64'))" >/dev/null
tokfile "$tmp/tok.expired" "$at_old"
for t in never digest expired; do
	before
	n0=$(nauthref)
	f0=$(failures "$aB")
	out=$(samw authorize "$credB" "$tmp/tok.$t" "$tmp/pinB" "$tmp/sad.x" "$h3")
	[[ $out == "refused 14 "* ]] || fail "authorize with a token ($t) that names no service: $out"
	[ ! -e "$tmp/sad.x" ] || fail "a token ($t) that names no service gave a SAD"
	token_refused "authorize with a token ($t) that names no service" sign.authorize_refused "$credB"
	[ "$(nauthref)" = $((n0 + 1)) ] || fail "authorize with a token ($t): $(($(nauthref) - n0)) sign.authorize_refused events"
	out=$(samw authorize "$credB" "$tmp/tok.$t" "$tmp/pin.wrong" "$tmp/sad.x" "$h3")
	[[ $out == "refused 14 "* ]] || fail "a wrong PIN with a token ($t) that names no service: $out"
	[ "$(failures "$aB")" = "$f0" ] || fail "a wrong PIN with a token ($t) that names no service was counted"
	out=$(samw signhash "$credB" "$tmp/tok.$t" "$tmp/sad.w" ecdsa "$h1")
	[[ $out == "refused 14 "* ]] || fail "signHash with a token ($t) that names no service: $out"
	[ "$(nrefused)" = $((ref0 + 1)) ] || fail "signHash with a token ($t): $(($(nrefused) - ref0)) sign.refused events"
	token_refused "signHash with a token ($t) that names no service" sign.refused "$credB"
	unchanged "requests with a token ($t) that names no service"
done
# Nor can such a worker make itself a token for a service that does not
# call it (schema/063): pki_sign cannot insert a token nor read a secret's
# digest, and sign_token_issue() makes one only for the right secret.
# pki_sam reads of the services only what finds the caller.
sign_uri="host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=pki user=pki_sign"
sam_uri="host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=pki user=pki_sam"
forged=$(openssl rand -hex 32)
n_tok=$(q "SELECT count(*) FROM sign_token")
sql_fails "$sign_uri" "INSERT INTO sign_token (service_id, token_sha256, expires_at)
    VALUES ($sid2, '\\x$forged', now() + interval '10 minutes')" 'permission denied'
sql_fails "$sign_uri" "SELECT secret_sha256 FROM sign_service WHERE id = $sid2" 'permission denied'
sql_fails "$sam_uri" "SELECT secret_sha256 FROM sign_service WHERE id = $sid2" 'permission denied'
sql_fails "$sam_uri" "INSERT INTO sign_token (service_id, token_sha256, expires_at)
    VALUES ($sid2, '\\x$forged', now() + interval '10 minutes')" 'permission denied'
[ "$(sql_as "$sign_uri" "SELECT coalesce(sign_token_issue('$cid2', sha256('guess'), '\\x$forged', 600)::text, 'none')")" = none ] ||
	fail "sign_token_issue made a token for a wrong secret"
[ "$(sql_as "$sign_uri" "SELECT coalesce(sign_token_issue('$cid2', '\\x$(openssl rand -hex 32)', '\\x$forged', 600)::text, 'none')")" = none ] ||
	fail "sign_token_issue made a token for a wrong secret digest"
sql_fails "$sign_uri" "SELECT sign_token_issue('$cid2', sha256(convert_to('$csec2', 'UTF8')), '\\x$forged', 86400)" 'ttl_seconds must be 60..3600'
[ "$(q "SELECT count(*) FROM sign_token")" = "$n_tok" ] || fail "a token was made without the client secret"
note "a compromised worker makes no token: pki_sign cannot insert one or read a secret's digest, sign_token_issue refuses a wrong secret; pki_sam reads no secret's digest"
# Nor take away live ones (schema/106): pki_sign may not DELETE a token,
# pki_sam not a SAD or its hashes; each purges only through its function,
# which takes what expired an hour ago or more (the purge above), nothing
# live, and which the other roles may not call.
# The rows live now, by id: one may expire meanwhile, and must stay.
live=$(q "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM sign_token WHERE expires_at > now()")
live_sad=$(q "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM sign_sad WHERE expires_at > now()")
live_hash=$(q "SELECT count(*) FROM sign_sad_hash WHERE sad_id IN (${live_sad:-0})")
[ -n "$live" ] || fail "no live token to test with"
sql_fails "$sign_uri" "DELETE FROM sign_token WHERE expires_at > now()" 'permission denied for table sign_token'
sql_fails "$sign_uri" "DELETE FROM sign_token WHERE service_id = $sid2" 'permission denied for table sign_token'
sql_fails "$sam_uri" "DELETE FROM sign_sad_hash WHERE sad_id IN (SELECT id FROM sign_sad WHERE expires_at > now())" 'permission denied for table sign_sad_hash'
sql_fails "$sam_uri" "DELETE FROM sign_sad WHERE expires_at > now()" 'permission denied for table sign_sad'
[ "$(sql_as "$sign_uri" "SELECT sign_token_purge_expired($sid2)")" = 0 ] || fail "sign_token_purge_expired removed a live token"
[ "$(sql_as "$sam_uri" "SELECT sign_sad_purge_expired()")" = 0 ] || fail "sign_sad_purge_expired removed a live SAD"
sql_fails "$sam_uri" "SELECT sign_token_purge_expired($sid2)" 'permission denied for function sign_token_purge_expired'
sql_fails "$sign_uri" "SELECT sign_sad_purge_expired()" 'permission denied for function sign_sad_purge_expired'
sql_fails "host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=pki user=pki_ra" "SELECT sign_token_purge_expired($sid2)" 'permission denied for function sign_token_purge_expired'
[ "$(q "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM sign_token WHERE id IN ($live)")" = "$live" ] ||
	fail "a live token was deleted"
[ "$(q "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM sign_sad WHERE id IN (${live_sad:-0})")" = "$live_sad" ] &&
	[ "$(q "SELECT count(*) FROM sign_sad_hash WHERE sad_id IN (${live_sad:-0})")" = "$live_hash" ] ||
	fail "a live SAD or a hash was deleted"
note "a compromised worker logs no service out: pki_sign cannot DELETE a token nor pki_sam a SAD; their purge functions take only what expired an hour ago"
# A service taken out of use: its tokens stop at once, at the worker and at
# the SAM, and so do its SADs (the SAM finds no service by the token).
pkictl sigservice disable --name "docsign2-$$" >"$tmp/dis" || fail "pkictl sigservice disable"
[ "$(q "SELECT disabled_at IS NOT NULL FROM sign_service WHERE id = $sid2")" = t ] || fail "service 2 not disabled"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'sign.service.disable' AND object_id = '$sid2'")" = 1 ] ||
	fail "sigservice disable not audited"
rc=0
pkictl sigservice disable --name "docsign2-$$" >/dev/null 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "disabling it again: exit $rc, want 3"
rc=0
pkictl sigservice disable --name "nosuch-$$" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "disabling an unknown service: exit $rc, want 1"
sreq credentials/list "{\"userID\":\"$aB\"}" "$at_s2"
expect 401 invalid_token "a disabled service's token"
token "grant_type=client_credentials&client_id=$cid2&client_secret=$csec2"
expect 401 invalid_client "a disabled service's credentials"
before
out=$(samw signhash "$credB" "$tmp/tok2" "$tmp/sad.w2" ecdsa "$h1")
[[ $out == "refused 14 "* ]] || fail "a disabled service's SAD: $out"
token_refused "a disabled service's SAD" sign.refused "$credB"
unchanged "a disabled service's SAD"
# What was refused consumed nothing: the first SAD still signs both hashes.
[ "$(samw signhash "$credB" "$tmp/tok1" "$tmp/sad.w" ecdsa "$h1" "$h2")" = "ok 2" ] ||
	fail "sam_worker: the SAD did not sign after the refusals"
[ "$(q "SELECT string_agg(DISTINCT details->>'service_id', ',') FROM audit_event WHERE action = 'sign.hash'
    AND (details->>'hash') IN ('$h1', '$h2') AND (details->>'certificate_id') = '$credB'")" = "$sid" ] ||
	fail "sam_worker: the signatures are not audited as the token's service's"
out=$(samw signhash "$credB" "$tmp/tok1" "$tmp/sad.w" ecdsa "$h1")
[ "$out" = "refused 8 the SAD has 0 signature(s) left" ] || fail "sam_worker: a spent SAD: $out"
note "a compromised worker: another credential, service or hash, a wrong PIN, a disabled service's SAD, a spent SAD: refused by the SAM"
note "a compromised worker names no service: SADs, wrong PINs, signatures and refusals are the token's service's; a token never issued, a stored token digest, an expired token: refused by the SAM, nothing counted"

# === refusals: audited, then counted ===========================================
# Any service could grow the sealed audit trail without limit, one
# sign.refused event per signHash with a random SAD. Per service and per
# minute (schema/063) the SAM audits the first sign.refusals_audited_per_minute
# refusals (30, the default) in full, after them the first of each kind
# (action/error), and only counts the others; when the minute is over, one
# sign.refusals_counted event gives the counts. A service of its own, so
# that the refusals above do not count.
K=30
pkictl sigservice add --name "docsign3-$$" >"$tmp/svc3" || fail "pkictl sigservice add (3)"
sid3=$(sed -n 's/^id\t//p' "$tmp/svc3")
cid3=$(sed -n 's/^client_id\t//p' "$tmp/svc3")
csec3=$(sed -n 's/^client_secret\t//p' "$tmp/svc3")
secrets+=("$csec3")
token "grant_type=client_credentials&client_id=$cid3&client_secret=$csec3"
expect 200 - "oauth2/token of the third service"
at3=$(jq -r .access_token "$tmp/out")
secrets+=("$at3")
grant "$tokA" "$sid3"
grant "$tokB" "$sid3"
# by3 ACTION: the third service's ACTION events.
by3() { q "SELECT count(*) FROM audit_event WHERE actor = 'sign_service:$sid3' AND action = '$1'"; }
# window3: the third service's window row: audited/refused/counted.
window3() { q "SELECT audited || '/' || refused || '/' || counted::text FROM sign_refusal_window WHERE service_id = $sid3"; }
# summary3: the newest sign.refusals_counted event of the third service.
summary3() {
	q "SELECT object_type || ':' || object_id || '|' || (details->>'service_id') || '|' || (details->>'audited') || '|' ||
	    (details->>'refused') || '|' || (details->'counted')::text || '|' || (details->>'window_seconds')
	    FROM audit_event WHERE actor = 'sign_service:$sid3' AND action = 'sign.refusals_counted' ORDER BY id DESC LIMIT 1"
}
rand_sad() { openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n'; }
N=$((K + 15))
hashes sha256 1
before
rows0=$(q "SELECT count(*) FROM audit_event")
for ((i = 1; i <= N; i++)); do
	signhash "$credB" "$(rand_sad)" "$H" $SHA256 $EC "$at3"
	expect 400 invalid_request "signHash $i of $N with a random SAD"
done
# Another kind, after the first K: audited once, then counted.
for i in 1 2; do
	authorize "$credEC" "$H" $SHA256 '"PIN":"402917"' "$at3"
	expect 400 invalid_request "authorize $i on a revoked credential (third service)"
done
unchanged "random SADs"
[ "$(by3 sign.refused)/$(by3 sign.authorize_refused)/$(by3 sign.refusals_counted)" = "$K/1/0" ] ||
	fail "$N random SADs and 2 refused authorizations: $(by3 sign.refused)/$(by3 sign.authorize_refused)/$(by3 sign.refusals_counted) events, want $K/1/0"
[ "$(($(q "SELECT count(*) FROM audit_event") - rows0))" = $((K + 1)) ] ||
	fail "$((N + 2)) refusals wrote $(($(q "SELECT count(*) FROM audit_event") - rows0)) audit events, want $((K + 1))"
[ "$(window3)" = "$((K + 1))/$((N - K + 1))/{\"sign.refused/sad\": $((N - K)), \"sign.authorize_refused/credential_status\": 1}" ] ||
	fail "the third service's window: $(window3)"
# The minute over (made so), the next refusal writes the summary and is
# the first of a new window.
q "UPDATE sign_refusal_window SET started_at = started_at - interval '61 seconds' WHERE service_id = $sid3" >/dev/null
signhash "$credB" "$(rand_sad)" "$H" $SHA256 $EC "$at3"
expect 400 invalid_request "a random SAD in the next minute"
[ "$(by3 sign.refused)/$(by3 sign.refusals_counted)" = "$((K + 1))/1" ] ||
	fail "the next minute: $(by3 sign.refused)/$(by3 sign.refusals_counted) events, want $((K + 1))/1"
[ "$(summary3)" = "sign_service:$sid3|$sid3|$((K + 1))|$((N - K + 1))|{\"sign.refused/sad\": $((N - K)), \"sign.authorize_refused/credential_status\": 1}|60" ] ||
	fail "sign.refusals_counted: $(summary3)"
[ "$(window3)" = "1/0/{}" ] || fail "the new window: $(window3)"
# A service that stops: its count is summed up by the next refusal or
# authorization of any service. A SAM with sign.refusals_audited_per_minute
# 0 audits only the first of each kind: these three are counted.
tokfile "$tmp/tok3" "$at3"
for i in 1 2 3; do
	openssl rand 32 >"$tmp/sad.rand"
	out=$(PKI_SIGN_REFUSALS_AUDITED_PER_MINUTE=0 samw signhash "$credB" "$tmp/tok3" "$tmp/sad.rand" ecdsa "$h3")
	[ "$out" = "refused 8 invalid SAD" ] || fail "sam_worker: a random SAD ($i): $out"
done
[ "$(by3 sign.refused)" = $((K + 1)) ] || fail "a SAM with sign.refusals_audited_per_minute 0 audited a kind seen"
[ "$(window3)" = "1/3/{\"sign.refused/sad\": 3}" ] || fail "counted by a SAM with 0: $(window3)"
q "UPDATE sign_refusal_window SET started_at = started_at - interval '61 seconds' WHERE service_id = $sid3" >/dev/null
hashes sha256 1
authorize "$credRSA" "$H" $SHA256 '"PIN":"402917"'
expect 200 - "another service's authorization"
[ "$(by3 sign.refusals_counted)" = 2 ] || fail "an ended window was not summed up by another service's authorization"
[ "$(summary3)" = "sign_service:$sid3|$sid3|1|3|{\"sign.refused/sad\": 3}|60" ] || fail "sign.refusals_counted (flushed): $(summary3)"
[ "$(q "SELECT refused FROM sign_refusal_window WHERE service_id = $sid3")" = 0 ] || fail "a summed-up window still counts"
note "$((N + 2)) refusals of one service in a minute: $K audited, 1 of another kind, the rest counted; one sign.refusals_counted with the counts, by its next refusal or another service's authorization"

# === no secret anywhere ========================================================
no_secret_in sign.log "$PKI_DIR/log/sign.log"
no_secret_in ra.log "$PKI_DIR/log/ra.log"
audit_text "$tmp/audit"
no_secret_in audit_event "$tmp/audit"
no_secret_in "an error_description" "$tmp/details"
[ "$(q "SELECT has_column_privilege('pki_sign', 'subscriber_key', 'wrapped', 'SELECT')")" = f ] ||
	fail "the worker's role may read wrapped keys"
[ "$(q "SELECT has_table_privilege('pki_sign', 'sign_sad', 'INSERT') OR has_table_privilege('pki_sign', 'sign_sad', 'SELECT')")" = f ] ||
	fail "the worker's role may touch SADs"
note "refusals: reused, uncovered, expired, unknown SAD; tokens; another subscriber; wrong PIN/OTP and lock-out; moved blob; held and revoked credentials"
