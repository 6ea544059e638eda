#!/usr/bin/env bash
# A subscriber's whole path at rad against the stack of tests/run.sh, with
# the stack's own cad issuing: register, verify the email (mail sink), log
# in, verify the phone by SMS OTP (SMS sink), submit KYC, approval (by SQL:
# approve_by_sql), the agreement preview (subject only from the KYC data,
# issuer and root), agreement before approval → 409, a wrong OTP → 401 and
# counted, "I agree" with an OTP of purpose agreement → issuance order →
# cad → the notifier marks the application issued and mails the subscriber;
# My certificates with a PEM that `openssl verify` accepts against the
# stack's root and issuing CA, and its history; rekey outside the window →
# 409; rekey through a second rad started with the documented environment
# override PKI_REKEY_WINDOW_DAYS → a rekey application, approved, agreed,
# issued, the old certificate revoked as superseded (OCSP says so);
# subscriber revocation: keyCompromise → 400, privilegeWithdrawn with an
# OTP → OCSP revoked, twice → 409; re-KYC gets kind rekyc. Every refusal
# leaves the tables and the audit unchanged; no secret in the logs.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
url=$PKI_RA_URL
mail=$PKI_DIR/spool/ra-mail
sms=$PKI_DIR/spool/ra-sms
log=$PKI_DIR/log/ra.log
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
secrets=()
rad2=
base=
# The second rad (below) is ours: stop it on any failure too.
fail() {
	[ -z "$rad2" ] || kill -TERM "$rad2" 2>/dev/null || true
	echo "FAIL: $*" >&2
	exit 1
}

# req METHOD PATH [BODY]: Bearer $tok against ${base:-$url}; sets code.
req() {
	local args=(-sS -X "$1" -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}')
	[ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' --data-binary "$3")
	[ -z "${tok:-}" ] || args+=(-H "Authorization: Bearer $tok")
	code=$(curl "${args[@]}" "${base:-$url}$2")
}
req_patient() {
	local i
	for i in 1 2 3; do
		req "$@"
		[ "$code" = 429 ] || return 0
		sleep "$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/ip' "$tmp/hdr" | sed -n 1p)"
	done
}
# The accounts this test makes (tests run one at a time, and no daemon makes
# one) have ids above acct0: the snapshot shows the applications of those,
# while a rad's notifier (the stack's, and this test's own rads') may issue,
# reopen or cancel an earlier test's in any window, or queue a reminder,
# each with its own audit event (ra:notifier: AUDIT_MAX_OWN). No daemon
# makes or deletes an application or an order, so both are counted whole.
# The revocations of this test's own certificates, those of the orders it
# makes (ids above order0), and of the CA certificates: an earlier test's
# rekey left agreed, its order issued by cad in any window, has rad's
# notifier supersede (or hold, or revoke) that test's certificates
# meanwhile.
acct0=$(q "SELECT coalesce(max(id), 0) FROM ra_account")
order0=$(q "SELECT coalesce(max(id), 0) FROM issuance_order")
state() {
	q "SELECT (SELECT count(*) FROM ra_application) || '/' ||
	    (SELECT coalesce(string_agg(id || ':' || status || ':' || coalesce(order_id::text, '-'), ',' ORDER BY id), '')
	    FROM ra_application WHERE account_id > $acct0) || '/' ||
	    (SELECT count(*) FROM ra_kyc) || '/' ||
	    (SELECT count(*) FROM issuance_order) || '/' ||
	    (SELECT count(*) FROM certificate WHERE revoked_at IS NOT NULL AND
	        (id IN (SELECT certificate_id FROM issuance_order WHERE id > $order0)
	        OR profile IN ('root', 'issuing-ca'))) || '/' ||
	    (SELECT count(*) FROM ra_otp WHERE consumed_at IS NOT NULL) || '/' ||
	    (SELECT coalesce(sum(attempts), 0) FROM ra_otp) || '/' ||
	    (SELECT coalesce(sum(factor_failures), 0) FROM ra_account) || '/' ||
	    $AUDIT_MAX_OWN"
}
before() { state >"$tmp/state.before"; }
unchanged() {
	state >"$tmp/state.after"
	cmp -s "$tmp/state.before" "$tmp/state.after" ||
		fail "$1 changed state: $(cat "$tmp/state.before") -> $(cat "$tmp/state.after")"
}
newest() { # newest DIR PATTERN: the newest file of a sink holding PATTERN
	local f
	f=$(grep -l -- "$2" "$1"/* 2>/dev/null | xargs -r ls -t | sed -n 1p)
	[ -n "$f" ] || fail "no message with '$2' in $1"
	echo "$f"
}
sms_code() { sed -n 's/.*PKI RA code \([0-9]\{6\}\) for.*/\1/p' "$(newest "$sms" "^To: $1")" | sed -n 1p; }
otp() { # otp PURPOSE: an SMS OTP; sets oid and oc (the code)
	local b=$base
	base=$url
	req POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"$1\"}"
	base=$b
	expect 201 "otp $1"
	oid=$(jq -r .otp_id "$tmp/out")
	oc=$(sms_code "$phone")
	[ ${#oc} -eq 6 ] || fail "no code in the SMS for $1"
	secrets+=("$oc")
}
otpf() { echo "{\"type\":\"otp\",\"otp_id\":$1,\"code\":\"$2\"}"; }
other() { printf '%06d' $(((10#$1 + 1) % 1000000)); }
# approve_by_sql APP: the officer's decision, as the superuser, to keep this
# test on the subscriber's endpoints (test_lifecycle.sh approves through the
# officer API).
approve_by_sql() {
	q "UPDATE ra_application SET status = 'approved', decided_at = now(),
	    decision_reason = 'test' WHERE id = $1 AND status = 'submitted'
	    RETURNING id" | has -x "$1" || fail "approve_by_sql $1"
}
# wait_issued APP: the notifier marks it issued within 30 s (cad issues).
wait_issued() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(q "SELECT status FROM ra_application WHERE id = $1")" = issued ] && return 0
		sleep 0.1
	done
	q "SELECT o.status, o.last_error FROM ra_application a JOIN issuance_order o ON o.id = a.order_id WHERE a.id = $1" >&2
	fail "application $1 not issued within 30 s"
}
# ocsp_status PEM: good / revoked (and the reason line) from ocspd.
ocsp_status() {
	ocsp_client -url "$PKI_OCSP_URL" -CAfile "$PKI_ROOT_CERT" -issuer "$PKI_ISSUING_CERT" \
		-cert "$1" -no_nonce
}
wait_ocsp_revoked() { # wait_ocsp_revoked PEM REASON
	local i out
	for ((i = 0; i < 50; i++)); do
		out=$(ocsp_status "$1")
		if grep -q ": revoked" <<<"$out"; then
			grep -q "Reason: $2" <<<"$out" || fail "OCSP reason of $1 not $2: $out"
			return 0
		fi
		sleep 0.2
	done
	fail "OCSP does not say $1 is revoked: $out"
}

# --- images and the KYC body (as test_ra_kyc.sh) ---------------------------------
cat >"$tmp/mk.py" <<'EOF'
import base64, json, sys
from kyc_body import png
out, nik, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = {'nik': nik, 'full_name': 'Budi Santoso', 'birth_place': 'Jakarta',
     'birth_date': '1990-08-15', 'sex': 'M', 'address': 'Jl. Sudirman No. 1, Jakarta Pusat',
     'consents': {'privacy_policy': '1.0', 'subscriber_agreement': '1.0', 'guarantee_policy': '1.0'},
     'ktp_photo': base64.b64encode(png(96, 64, seed)).decode(),
     'selfie': base64.b64encode(png(64, 64, seed + 1)).decode()}
open(out, 'w').write(json.dumps(b))
EOF
nik=3174011508900$(printf '%03d' $((RANDOM % 900 + 100)))
PYTHONPATH="$REPO/tests/integration" python3 "$tmp/mk.py" "$tmp/kyc.json" "$nik" 3

# --- the subscriber: account, email, phone ----------------------------------------
email=cert-$$@example.com
phone=+62812$(printf '%08d' $((RANDOM * 3 + $$ % 1000)))
pw='Cert-Horse-9!'
secrets+=("$pw")
tok=
req_patient POST /v1/register "{\"email\":\"$email\",\"phone\":\"$phone\",\"password\":\"$pw\"}"
expect 201 register
aid=$(jq -r .id "$tmp/out")
vt=$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$(newest "$mail" "^To: <$email>")" | tr -d '\r' | sed -n 1p)
secrets+=("$vt")
req POST /v1/verify-email "{\"token\":\"$vt\"}"
expect 200 "verify email"
req_patient POST /v1/login "{\"email\":\"$email\",\"password\":\"$pw\"}"
expect 200 login
tok=$(jq -r .token "$tmp/out")
atok=$tok
secrets+=("$tok")
otp phone_verify
req POST /v1/phone/verify "{\"otp_id\":$oid,\"code\":\"$oc\"}"
expect 200 "phone verify"
req POST /v1/applications "@$tmp/kyc.json"
expect 201 "KYC submission"
app=$(jq -r .id "$tmp/out")
[ "$(jq -r .kind "$tmp/out")" = personal ] || fail "first application kind: $(cat "$tmp/out")"
note "account $aid, application $app submitted"

# --- agreement before approval: 409, nothing changes, the OTP stays usable ---------
req GET "/v1/applications/$app/agreement"
expect 409 "agreement preview before approval"
otp agreement
before
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"$NO_TERMS\",\"factor\":$(otpf "$oid" "$oc")}"
expect 409 "agreement before approval"
detail | has approved || fail "409 detail: $(detail)"
unchanged "agreement before approval"
tok=
req GET "/v1/applications/$app/agreement"
expect 401 "agreement preview without a session"
tok=$atok
approve_by_sql "$app"
note "agreement before approval: 409, unchanged; approved by SQL"

# --- the preview: the certificate to be issued -------------------------------------
issuer_dn=$(openssl x509 -in "$PKI_ISSUING_CERT" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
root_dn=$(openssl x509 -in "$PKI_ROOT_CERT" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
req GET "/v1/applications/$app/agreement"
expect 200 "agreement preview"
jq -e --arg dn "CN=Budi Santoso,serialNumber=NIK:$nik,C=ID" --arg i "$issuer_dn" --arg r "$root_dn" '
	.status == "approved" and .certificate.subject_dn == $dn and
	.certificate.subject == {"C": "ID", "CN": "Budi Santoso", "serialNumber": ("NIK:" + ($dn | capture("NIK:(?<n>[0-9]+)").n))} and
	.certificate.profile == "personal" and .certificate.key_type == "ec-p256" and
	.certificate.validity_days == 365 and .certificate.issuer == $i and
	.certificate.root == $r and .agreement_version == "1.0" and (has("order") | not)' \
	"$tmp/out" >/dev/null || fail "agreement preview: $(cat "$tmp/out")"
issuer_na=$(q "SELECT to_char(not_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ca_certificate WHERE name = 'issuing'")
jq -e --arg na "$issuer_na" '.certificate.issuer_not_after == $na' "$tmp/out" >/dev/null ||
	fail "agreement preview: issuer_not_after is not the issuing CA's ($issuer_na): $(cat "$tmp/out")"

# --- the preview is what cad issues: the issuer's end, its hold ---------------------
# cad clamps notAfter to its issuer's (ca/profile.c), refuses one that ends
# within a day (its lint) and issues nothing under an issuing CA on hold or
# revoked. Before, the preview showed the profile's 365 days and an issuer
# cad would not issue under, and the agreement made an order that waited or
# failed. (The superuser moves the issuing CA's recorded end; rad reads it,
# cad reads its own certificate.)
# issuer_retry_after WHAT: the 503 of an issuing CA cad does not issue
# under asks to come back in an hour (RA_ISSUER_RETRY_AFTER_S); until
# 2026-12-07 it carried no Retry-After.
issuer_retry_after() {
	grep -qi '^retry-after: 3600' "$tmp/hdr" || fail "$1: 503 without Retry-After: 3600: $(tr -d '\r' <"$tmp/hdr" | tr '\n' ' ')"
}
issuer_end() { q "UPDATE ca_certificate SET not_after = $1 WHERE name = 'issuing'" >/dev/null; }
at_exit "issuer_end \"'$issuer_na'::timestamptz\""
issuer_end "now() + interval '30 days 1 hour'"
req GET "/v1/applications/$app/agreement"
expect 200 "agreement preview, the issuer ending in 30 days"
jq -e '.certificate.validity_days == 30' "$tmp/out" >/dev/null ||
	fail "the preview's validity is not cut to the issuer's notAfter: $(cat "$tmp/out")"
# The terms name the issuer's notAfter, not the days left until it: the
# day's turn between reading and agreeing changes the days shown, not the
# terms (a review found a false 409 then, 2026-12-07).
issuer_end "now() + interval '30 days 6 seconds'"
req GET "/v1/applications/$app/agreement"
[ "$(jq -r .certificate.validity_days "$tmp/out")" = 30 ] || fail "30 days and 6 s: $(cat "$tmp/out")"
terms30=$(jq -r .terms "$tmp/out")
for _ in $(seq 100); do
	req GET "/v1/applications/$app/agreement"
	[ "$(jq -r .certificate.validity_days "$tmp/out")" = 29 ] && break
	sleep 0.2
done
[ "$(jq -r .certificate.validity_days "$tmp/out")" = 29 ] || fail "the days left did not turn: $(cat "$tmp/out")"
[ "$(jq -r .terms "$tmp/out")" = "$terms30" ] || fail "the terms changed with the days left alone"
issuer_end "now() + interval '30 days 1 hour'"
# Every order of the stack settled first, and the state still for 3 s: cad
# fails an order still pending under an issuer that ends within a day, and
# rad's notifier then sends its application back to approved (schema/089),
# which this test's "unchanged" would take for a change made by the refused
# agreement (an order an earlier test left for cad's next poll did so once).
settled() { [ "$(q "SELECT count(*) FROM issuance_order WHERE status = 'pending'")" = 0 ]; }
for _ in $(seq 120); do settled && break; sleep 0.5; done
settled || note "orders still pending after 60 s (not this test's): $(q "SELECT string_agg(id::text, ',') FROM issuance_order WHERE status = 'pending'")"
for _ in $(seq 10); do
	state >"$tmp/state.still"
	sleep 3
	[ "$(state)" = "$(cat "$tmp/state.still")" ] && break
done
issuer_end "now() + interval '2 hours'"
# rad's notifier now sends an agreed application whose order failed under
# this issuer back to approved (schema/089: it will not issue again), within
# its 5 s interval: an earlier test's (test_ra_cancel leaves one), which
# "unchanged" took for the refused agreement's doing.
reopenable() {
	q "SELECT count(*) FROM ra_application a JOIN issuance_order o ON o.id = a.order_id
	    WHERE a.status = 'agreed' AND o.status = 'failed'
	    AND o.issuer_id = (SELECT id FROM ca_certificate WHERE name = 'issuing')
	    AND NOT EXISTS (SELECT 1 FROM certificate h WHERE h.id = a.previous_certificate_id
	        AND h.revoked_at IS NOT NULL AND h.revocation_reason = 6)"
}
for _ in $(seq 120); do [ "$(reopenable)" = 0 ] && break; sleep 0.5; done
[ "$(reopenable)" = 0 ] ||
	fail "rad's notifier did not send back to approved the agreed applications whose order failed under an issuer ending in 2 hours"
before
req GET "/v1/applications/$app/agreement"
expect 503 "agreement preview, the issuer ending in 2 hours"
detail | has "issuing CA's certificate ends at" || fail "503 detail: $(detail)"
issuer_retry_after "agreement preview, the issuer ending in 2 hours"
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"$NO_TERMS\",\"factor\":$(otpf "$oid" "$oc")}"
expect 503 "agreement, the issuer ending in 2 hours"
issuer_retry_after "agreement, the issuer ending in 2 hours"
unchanged "agreement under an issuer ending in 2 hours"
issuer_end "'$issuer_na'::timestamptz"
held_issuing() { q "UPDATE certificate SET revoked_at = $1, revocation_reason = $2, revoked_by = $3
    WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = 'root')
    AND serial = (SELECT serial FROM ca_certificate WHERE name = 'issuing')" >/dev/null; }
held_issuing 'now()' 6 "'test_ra_cert'"
at_exit "held_issuing NULL NULL NULL"
before
req GET "/v1/applications/$app/agreement"
expect 503 "agreement preview, the issuer on hold"
detail | has "issuing CA's certificate is on hold" || fail "503 detail: $(detail)"
issuer_retry_after "agreement preview, the issuer on hold"
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"$NO_TERMS\",\"factor\":$(otpf "$oid" "$oc")}"
expect 503 "agreement, the issuer on hold"
issuer_retry_after "agreement, the issuer on hold"
unchanged "agreement under an issuer on hold"
held_issuing NULL NULL NULL
[ "$(q "SELECT consumed_at IS NULL FROM ra_otp WHERE id = $oid")" = t ] || fail "a refused agreement used the OTP"
note "preview: validity cut to the issuer's notAfter; an issuer ending or on hold: 503, nothing changed"

# --- refusals of the agreement ------------------------------------------------------
terms=$(agreement_terms "$url" "$tok" "$app")
before
req POST "/v1/applications/$app/agreement" "{\"accept\":false,\"terms\":\"$NO_TERMS\",\"factor\":$(otpf "$oid" "$oc")}"
expect 400 "accept false"
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"$NO_TERMS\",\"factor\":$(otpf "$oid" "$oc"),\"subject\":{\"CN\":\"Evil\"}}"
expect 400 "agreement with a subject of the client's"
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"$NO_TERMS\"}"
expect 400 "agreement without a factor"
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"factor\":$(otpf "$oid" "$oc")}"
expect 400 "agreement without the terms"
detail | has terms || fail "agreement without the terms: $(detail)"
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"${terms^^}\",\"factor\":$(otpf "$oid" "$oc")}"
expect 400 "agreement with terms in capitals"
req POST "/v1/applications/999999999/agreement" "{\"accept\":true,\"terms\":\"$NO_TERMS\",\"factor\":$(otpf "$oid" "$oc")}"
expect 404 "agreement of no application"
unchanged "malformed agreements"
# An OTP of another purpose authorizes nothing here and costs nothing.
aoid=$oid aoc=$oc
otp rekey
before
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"$terms\",\"factor\":$(otpf "$oid" "$oc")}"
expect 401 "agreement with an OTP of purpose rekey"
unchanged "agreement with an OTP of purpose rekey"
oid=$aoid oc=$aoc
wrong=$(other "$oc")
secrets+=("$wrong")
fails0=$(q "SELECT factor_failures FROM ra_account WHERE id = $aid")
audit0=$(q "SELECT coalesce(max(id), 0) FROM audit_event")
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"$terms\",\"factor\":$(otpf "$oid" "$wrong")}"
expect 401 "agreement with a wrong OTP"
[ "$(q "SELECT attempts FROM ra_otp WHERE id = $oid")" = 1 ] || fail "wrong OTP not counted on the OTP"
[ "$(q "SELECT factor_failures FROM ra_account WHERE id = $aid")" = $((fails0 + 1)) ] ||
	fail "wrong OTP not counted on the account"
# Only this request's events: the stack's daemons append theirs meanwhile
# (a publish.ldap once fell in between).
own_events="SELECT string_agg(action, ',') FROM audit_event WHERE id > $audit0
    AND action NOT IN $AUDIT_BACKGROUND"
[ "$(q "$own_events")" = ra.otp.failed ] ||
	fail "a wrong OTP wrote more than its failure: $(q "$own_events")"
[ "$(q "SELECT status || ':' || coalesce(order_id::text, '-') FROM ra_application WHERE id = $app")" = approved:- ] ||
	fail "a wrong OTP changed the application"
note "agreement refusals: 400, 404, wrong OTP 401 counted (and nothing else)"

# --- what is agreed is what the preview showed (terms) ----------------------------------
# The terms read from the stack's rad, agreed to at a rad whose [agreement]
# version differs (two behind a balancer during a roll-out), and terms no
# preview had: 409 naming the preview, nothing changes, the OTP stays
# usable. Until 2026-12-07 the agreement named no terms, and the answering
# rad's version and issuer were recorded as agreed.
start_rad rad-terms PKI_AGREEMENT_VERSION=2.0
before
base=$rad_url
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"$terms\",\"factor\":$(otpf "$oid" "$oc")}"
base=
expect 409 "the agreement of version 1.0 at a rad of version 2.0"
detail | has "/v1/applications/$app/agreement" || fail "terms changed: $(detail)"
req GET "/v1/applications/$app/agreement"
expect 200 "the preview, after a refused agreement"
[ "$(jq -r .terms "$tmp/out")" = "$terms" ] || fail "the terms changed with nothing else: $(cat "$tmp/out")"
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"$NO_TERMS\",\"factor\":$(otpf "$oid" "$oc")}"
expect 409 "the agreement to terms no preview had"
unchanged "agreements to other terms"
[ "$(q "SELECT consumed_at IS NULL AND attempts = 1 FROM ra_otp WHERE id = $oid")" = t ] ||
	fail "an agreement to other terms used or counted the OTP"
kill -TERM "$rad_pid"
wait "$rad_pid" 2>/dev/null || fail "rad-terms did not stop cleanly: $(tail -n 5 "$tmp/rad-terms.log")"
note "terms of another version or none: 409, nothing changed"

# --- I agree: order → cad → issued ----------------------------------------------------
orders0=$(q "SELECT count(*) FROM issuance_order")
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"$terms\",\"factor\":$(otpf "$oid" "$oc")}"
expect 202 "agreement"
order=$(jq -r .order_id "$tmp/out")
[ "$(q "SELECT count(*) FROM issuance_order")" = $((orders0 + 1)) ] || fail "not one order"
[ "$(q "SELECT kind || '|' || profile || '|' || key_type || '|' || requested_by || '|' || (subject = '{\"C\":\"ID\",\"CN\":\"Budi Santoso\",\"serialNumber\":\"NIK:$nik\"}'::jsonb)
	FROM issuance_order WHERE id = $order")" = "personal|personal|ec-p256|ra:account:$aid|true" ] ||
	fail "the order: $(q "SELECT kind, profile, subject, key_type, requested_by FROM issuance_order WHERE id = $order")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.application.agree' AND object_id = '$app'
	AND actor ~ '^subscriber:[0-9]+$' AND details->>'order_id' = '$order' AND details->>'factor' = 'otp'")" = 1 ] ||
	fail "no ra.application.agree audit event"
# The order names the issuer the preview showed, and so does the event.
iss_id=$(q "SELECT id FROM ca_certificate WHERE name = 'issuing'")
[ "$(q "SELECT issuer_id FROM issuance_order WHERE id = $order")" = "$iss_id" ] ||
	fail "the order does not name the issuer agreed to ($iss_id): $(q "SELECT issuer_id FROM issuance_order WHERE id = $order")"
[ "$(q "SELECT details->>'issuer_id' || '|' || (details->>'issuer') || '|' || (details->>'terms') FROM audit_event
	WHERE action = 'ra.application.agree' AND object_id = '$app'")" = "$iss_id|$issuer_dn|$terms" ] ||
	fail "ra.application.agree does not name the issuer and the terms"
[ "$(q "SELECT consumed_at IS NOT NULL FROM ra_otp WHERE id = $oid")" = t ] || fail "OTP not consumed"
before
req POST "/v1/applications/$app/agreement" "{\"accept\":true,\"terms\":\"$terms\",\"factor\":$(otpf "$oid" "$oc")}"
expect 409 "agreement twice"
unchanged "agreement twice"
wait_issued "$app"
cid=$(q "SELECT certificate_id FROM issuance_order WHERE id = $order")
serial=$(q "SELECT serial FROM certificate WHERE id = $cid")
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.application.issued' AND object_id = '$app'
	AND actor = 'ra:notifier' AND details->>'certificate_id' = '$cid'")" = 1 ] || fail "no ra.application.issued event"
# Queued with the issued state and sent by the outbox thread (schema/033).
m=$(wait_mail "$email" '^Subject: Your certificate has been issued') || fail "no issuance mail to $email"
grep -q "^To: <$email>" "$m" || fail "the issuance mail is not to the subscriber"
grep -q "Serial:  $serial" "$m" || fail "the issuance mail lacks the serial"
# The subject with the NIK masked (ra/README.md "Masked identifiers").
grep -qF "NIK:************${nik: -4}" "$m" || fail "the issuance mail lacks the subject, NIK masked: $(cat "$m")"
! grep -q "$nik" "$m" || fail "the issuance mail carries the full NIK"
note "agreed (order $order), issued by cad as certificate $cid (serial $serial), mailed"

# --- My certificates -------------------------------------------------------------------
req GET /v1/certificates
expect 200 "certificate list"
jq -e --argjson c "$cid" '.certificates | length == 1 and .[0].id == $c and .[0].status == "valid"' \
	"$tmp/out" >/dev/null || fail "list: $(cat "$tmp/out")"
# Under an issuing CA on hold or revoked no relying party accepts it: the
# status says so (before: "valid").
held_issuing 'now()' 6 "'test_ra_cert'"
req GET "/v1/certificates/$cid"
expect 200 "certificate, its issuer on hold"
[ "$(jq -r .status "$tmp/out")" = issuer-on-hold ] || fail "status under an issuer on hold: $(cat "$tmp/out")"
held_issuing NULL NULL NULL
req GET "/v1/certificates/$cid"
expect 200 "certificate"
[ "$(jq -r .status "$tmp/out")" = valid ] || fail "status once the issuer's hold is released: $(cat "$tmp/out")"
jq -r .pem "$tmp/out" >"$tmp/c1.pem"
openssl verify -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" "$tmp/c1.pem" >/dev/null ||
	fail "openssl verify refuses the certificate"
[ "$(openssl x509 -in "$tmp/c1.pem" -noout -subject -nameopt RFC2253)" = "subject=CN=Budi Santoso,serialNumber=NIK:$nik,C=ID" ] ||
	fail "issued subject differs from the agreement: $(openssl x509 -in "$tmp/c1.pem" -noout -subject -nameopt RFC2253)"
jq -e --arg s "$serial" --arg i "$issuer_dn" --arg r "$root_dn" '
	.serial == $s and .status == "valid" and .issuer == $i and .root == $r and
	(.not_before | test("Z$")) and (.not_after | test("Z$")) and (has("revocation") | not) and
	([.history[].action] | index("ra.application.submit") != null and index("ra.application.agree") != null and
	 index("cert.issue") != null and index("ra.application.issued") != null) and
	([.history[].actor] | all(. == "subscriber" or . == "ra" or . == "cad" or . == "officer" or test("^[a-z]+$")))' \
	"$tmp/out" >/dev/null || fail "certificate detail: $(jq 'del(.pem)' "$tmp/out")"
jq -r '.history[] | .actor' "$tmp/out" | has ':' && fail "history shows actor identities"
# An application reviewed often: 250 views of its evidence and 250 other
# events later, the history still ends with the newest events and holds no
# view (before: the oldest 200, all views, cert.issue pushed out).
q "SELECT audit_append('officer:1', 'ra.evidence.view', 'ra_application', '$app', '{}')
    FROM generate_series(1, 250)" >/dev/null
q "SELECT audit_append('ra:test', 'test.history', 'ra_application', '$app', '{}')
    FROM generate_series(1, 250)" >/dev/null
req GET "/v1/certificates/$cid"
expect 200 "certificate after many events"
jq -e '(.history | length) == 200 and ([.history[].action] | index("ra.evidence.view") == null) and
	.history[-1].action == "test.history"' "$tmp/out" >/dev/null ||
	fail "history of a busy application: $(jq -c '[.history[].action] | group_by(.) | map({(.[0]): length}) | add' "$tmp/out")"
# Another account sees nothing of it.
tok_a=$tok
tok=
email2=cert2-$$@example.com
req_patient POST /v1/register "{\"email\":\"$email2\",\"phone\":\"+6281300000001\",\"password\":\"$pw\"}"
expect 201 "register a second account"
req_patient POST /v1/login "{\"email\":\"$email2\",\"password\":\"$pw\"}"
expect 200 "login second"
tok=$(jq -r .token "$tmp/out")
secrets+=("$tok")
req GET "/v1/certificates/$cid"
expect 404 "another account's certificate"
req GET "/v1/applications/$app/agreement"
expect 404 "another account's agreement"
req GET /v1/certificates
expect 200 "empty list"
[ "$(jq '.certificates | length' "$tmp/out")" = 0 ] || fail "another account lists certificates"
tok=$tok_a
note "My certificates: list, detail, PEM verified by openssl, history; other accounts 404"

# --- expiry reminder ---------------------------------------------------------------------
# The stack's rad reminds 30 and 7 days before expiry (rekey.reminder_days);
# a rad whose reminders start 400 days ahead (the documented overrides, with
# its window as wide) mails this 365-day certificate's subscriber once.
start_rad rad3 PKI_REKEY_WINDOW_DAYS=400 PKI_REKEY_REMINDER_DAYS='400 7' PKI_NOTIFIER_INTERVAL_SECONDS=1
reminded() { q "SELECT count(*) FROM ra_expiry_reminder WHERE certificate_id = $cid"; }
for ((i = 0; i < 100; i++)); do [ "$(reminded)" = 1 ] && break; sleep 0.1; done
[ "$(q "SELECT days FROM ra_expiry_reminder WHERE certificate_id = $cid")" = 400 ] ||
	fail "no 400-day reminder recorded: $(cat "$tmp/rad3.log")"
sleep 2.5	# more notifier rounds (rad3's period is 1 s): still one reminder
[ "$(reminded)" = 1 ] || fail "the reminder was recorded $(reminded) times"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.certificate.expiry_reminder' AND object_id = '$cid'
    AND actor = 'ra:notifier' AND details->>'reminder_days' = '400' AND details->>'serial' = '$serial'")" = 1 ] ||
	fail "the reminder is not audited once"
m=$(wait_mail "$email" '^Subject: Your certificate expires in') || fail "no reminder mailed to $email"
[ "$(grep -l -- "^To: <$email>" "$mail"/*.eml | xargs grep -l '^Subject: Your certificate expires in' | wc -l)" = 1 ] ||
	fail "not one reminder mailed to $email"
grep -q "$serial" "$m" && grep -q "/v1/certificates/$cid/rekey" "$m" && grep -qF "NIK:************${nik: -4}" "$m" &&
	! grep -q "$nik" "$m" || fail "the reminder mail (serial, rekey, NIK masked): $(cat "$m")"
kill -TERM "$rad_pid"
wait "$rad_pid" || fail "the reminding rad did not stop cleanly: $(cat "$tmp/rad3.log")"
! grep -q '"level":"err"' "$tmp/rad3.log" || fail "errors in the reminding rad's log: $(grep '"level":"err"' "$tmp/rad3.log")"
note "expiry reminder: recorded, audited and mailed once (serial, how to rekey)"

# --- rekey: outside the window ------------------------------------------------------------
otp rekey
before
req POST "/v1/certificates/$cid/rekey" "{\"factor\":$(otpf "$oid" "$oc")}"
expect 409 "rekey outside the window"
detail | has 'rekey opens .* 30 days' || fail "rekey 409 detail: $(detail)"
unchanged "rekey outside the window"

# A second rad with a wide window (the documented environment override of
# policy/ra.conf's rekey.window_days); the same database and sinks.
port2=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PKI_RA_PORT=$port2 PKI_REKEY_WINDOW_DAYS=400 "$BUILD/rad" --config "$PKI_CONFIG" >"$tmp/rad2.log" 2>&1 &
rad2=$!
for ((i = 0; i < 100; i++)); do
	curl -sf "http://127.0.0.1:$port2/health" >/dev/null 2>&1 && break
	kill -0 "$rad2" 2>/dev/null || { cat "$tmp/rad2.log" >&2; fail "the second rad died"; }
	sleep 0.1
done
base=http://127.0.0.1:$port2
before
# On hold (suspended): not rekeyed, the OTP left unused; released, it may be.
"$PKICTL" --config "$PKI_CONFIG" cert revoke --serial "$serial" --reason certificateHold >/dev/null ||
	fail "pkictl cert revoke (hold)"
req POST "/v1/certificates/$cid/rekey" "{\"factor\":$(otpf "$oid" "$oc")}"
expect 409 "rekey of a certificate on hold"
detail | has 'on hold' || fail "rekey on hold: $(detail)"
# Nor revoked by its subscriber: the hold is the RA's to release or revoke
# (revoked as unspecified by the subscriber, its identity counted again).
before
req POST "/v1/certificates/$cid/revoke" "{\"reason\":\"unspecified\",\"factor\":$(otpf "$oid" "$oc")}"
expect 409 "a subscriber's revocation of a certificate on hold"
detail | has 'on hold by the RA' || fail "revocation on hold: $(detail)"
unchanged "a subscriber's revocation of a certificate on hold"
"$PKICTL" --config "$PKI_CONFIG" cert release --serial "$serial" >/dev/null || fail "pkictl cert release"
# The subscriber is told of both (schema/034, through rad's outbox).
m=$(wait_mail "$email" '^Subject: Your certificate was suspended') || fail "no suspension notice"
grep -q "$serial" "$m" && grep -q 'by the certification authority' "$m" || fail "the suspension notice: $(cat "$m")"
wait_mail "$email" '^Subject: Your certificate is valid again' >/dev/null || fail "no release notice"
# kyc.per_day counts rekeys too (each copies the KYC images): a third rad
# allowing one application a day refuses this account, which applied today.
start_rad rad-perday PKI_REKEY_WINDOW_DAYS=400 PKI_KYC_PER_DAY=1
base=$rad_url
# Also while the email is unverified (after an email change, say): the
# count is checked whatever the account's verification state.
q "UPDATE ra_account SET email_verified = false, email_verified_at = NULL WHERE id = (SELECT account_id FROM ra_application WHERE id = $app)" >/dev/null
before
req POST "/v1/certificates/$cid/rekey" "{\"factor\":$(otpf "$oid" "$oc")}"
expect 429 "a rekey over kyc.per_day"
detail | has 'kyc.per_day' || fail "rekey 429 detail: $(detail)"
grep -qi '^retry-after: [1-9]' "$tmp/hdr" || fail "rekey 429 without Retry-After: $(cat "$tmp/hdr")"
unchanged "a rekey over kyc.per_day"
q "UPDATE ra_account SET email_verified = true, email_verified_at = now() WHERE id = (SELECT account_id FROM ra_application WHERE id = $app)" >/dev/null
kill -TERM "$rad_pid"; wait "$rad_pid" 2>/dev/null || true
base=http://127.0.0.1:$port2
before
req POST "/v1/certificates/$cid/rekey" "{\"factor\":$(otpf "$oid" "$(other "$oc")")}"
expect 401 "rekey with a wrong OTP"
req POST "/v1/certificates/$cid/rekey" "{\"factor\":$(otpf "$oid" "$oc")}"
expect 201 "rekey inside the window"
rapp=$(jq -r .id "$tmp/out")
[ "$(q "SELECT kind || '|' || status || '|' || previous_certificate_id || '|' || (subject = (SELECT subject FROM ra_application WHERE id = $app))
	FROM ra_application WHERE id = $rapp")" = "rekey|submitted|$cid|true" ] || fail "rekey application"
[ "$(q "SELECT count(*) FROM ra_kyc k JOIN ra_kyc o ON o.application_id = $app WHERE k.application_id = $rapp
	AND k.nik = o.nik AND k.full_name = o.full_name AND k.idv_reference = o.idv_reference")" = 1 ] ||
	fail "the rekey application lacks the verified KYC"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.application.rekey' AND object_id = '$rapp'")" = 1 ] ||
	fail "no ra.application.rekey event"
before
req POST "/v1/certificates/$cid/rekey" "{\"factor\":$(otpf "$oid" "$oc")}"
expect 409 "a second rekey while one is open"
unchanged "a second rekey while one is open"
approve_by_sql "$rapp"
base=
req GET "/v1/applications/$rapp/agreement"
expect 200 "rekey agreement preview"
jq -e --argjson c "$cid" '.kind == "rekey" and .previous_certificate_id == $c and
	(.certificate.subject_dn | test("^CN=Budi Santoso,serialNumber=NIK:[0-9]{16},C=ID$"))' "$tmp/out" >/dev/null ||
	fail "rekey preview: $(cat "$tmp/out")"
otp agreement
# The mail sink refuses rad meanwhile: the issuance, its signing credential
# and the supersession do not wait for the mail, which waits in the outbox.
chmod 0500 "$mail"
at_exit "chmod 0700 '$mail'"
req POST "/v1/applications/$rapp/agreement" "{\"accept\":true,\"terms\":\"$(agreement_terms "$url" "$tok" "$rapp")\",\"factor\":$(otpf "$oid" "$oc")}"
expect 202 "rekey agreement"
rorder=$(jq -r .order_id "$tmp/out")
wait_issued "$rapp"
issued_mail() { q "SELECT count(*) FILTER (WHERE sent_at IS NULL AND attempts >= 1 AND last_error IS NOT NULL) || '|' ||
	count(*) FILTER (WHERE sent_at IS NOT NULL) FROM ra_mail_outbox
	WHERE recipient = '$email' AND subject = 'Your certificate has been issued'"; }
for ((i = 0; i < 100; i++)); do [ "$(issued_mail)" = "1|1" ] && break; sleep 0.1; done
[ "$(issued_mail)" = "1|1" ] || fail "the rekey's issuance mail is not waiting in the outbox with its failure: $(issued_mail)"
[ "$(q "SELECT count(*) FROM sign_credential WHERE certificate_id = (SELECT certificate_id FROM issuance_order WHERE id = $rorder)")" = 1 ] ||
	fail "no signing credential for the rekeyed certificate while mail fails"
chmod 0700 "$mail"
q "UPDATE ra_mail_outbox SET next_attempt_at = now() WHERE recipient = '$email' AND sent_at IS NULL;
	SELECT pg_notify('ra_mail', '')" >/dev/null
for ((i = 0; i < 100; i++)); do [ "$(issued_mail)" = "0|2" ] && break; sleep 0.1; done
[ "$(issued_mail)" = "0|2" ] || fail "the rekey's issuance mail was not sent once the sink accepted: $(issued_mail)"
cid2=$(q "SELECT certificate_id FROM issuance_order WHERE id = $rorder")
[ "$(q "SELECT revocation_reason || '|' || revoked_by FROM certificate WHERE id = $cid")" = "4|ra:notifier" ] ||
	fail "the old certificate is not superseded: $(q "SELECT revoked_at, revocation_reason FROM certificate WHERE id = $cid")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.revoke' AND object_id = '$cid' AND actor = 'ra:notifier'
	AND details->>'reason' = 'superseded' AND details->>'by_certificate_id' = '$cid2'")" = 1 ] ||
	fail "no cert.revoke (superseded) event"
# Superseded in the same transaction as the application's issued state.
[ "$(q "SELECT count(DISTINCT txid) FROM audit_event WHERE (action = 'ra.application.issued' AND object_id = '$rapp')
	OR (action = 'cert.revoke' AND object_id = '$cid' AND details->>'reason' = 'superseded')")" = 1 ] ||
	fail "issued and superseded in different transactions"
wait_ocsp_revoked "$tmp/c1.pem" superseded
req GET "/v1/certificates/$cid"
expect 200 "old certificate"
jq -e '.status == "revoked" and .revocation.reason == "superseded" and .revocation.reason_code == 4' "$tmp/out" >/dev/null ||
	fail "old certificate view: $(jq 'del(.pem)' "$tmp/out")"
req GET "/v1/certificates/$cid2"
expect 200 "new certificate"
jq -r .pem "$tmp/out" >"$tmp/c2.pem"
openssl verify -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" "$tmp/c2.pem" >/dev/null ||
	fail "openssl verify refuses the rekeyed certificate"
[ "$(openssl x509 -in "$tmp/c2.pem" -noout -subject -nameopt RFC2253)" = "subject=CN=Budi Santoso,serialNumber=NIK:$nik,C=ID" ] ||
	fail "the rekeyed certificate has another subject"
[ "$(openssl x509 -in "$tmp/c1.pem" -noout -pubkey)" != "$(openssl x509 -in "$tmp/c2.pem" -noout -pubkey)" ] ||
	fail "the rekeyed certificate has the old key"
kill -TERM "$rad2"
wait "$rad2" || { cat "$tmp/rad2.log" >&2; rad2=; fail "the second rad did not stop cleanly"; }
rad2=
base=
note "rekey: 409 outside the window; inside (second rad): application, approval, agreement, issued, old one superseded (OCSP)"

# --- subscriber revocation -----------------------------------------------------------------
before
req POST "/v1/certificates/$cid2/revoke" "{\"reason\":\"keyCompromise\",\"factor\":$(otpf 1 000000)}"
expect 400 "revocation reason keyCompromise"
detail | has 'privilegeWithdrawn' || fail "400 detail: $(detail)"
req POST "/v1/certificates/$cid2/revoke" "{\"reason\":\"superseded\",\"factor\":$(otpf 1 000000)}"
expect 400 "revocation reason superseded"
req POST "/v1/certificates/$cid2/revoke" "{\"reason\":\"unspecified\",\"factor\":$(otpf 1 000000),\"reason_code\":1}"
expect 400 "revocation with an unknown member"
req POST "/v1/certificates/$cid/revoke" "{\"reason\":\"unspecified\",\"factor\":$(otpf 1 000000)}"
expect 409 "revoking a revoked (superseded) certificate"
unchanged "revocation refusals"
otp revoke
req POST "/v1/certificates/$cid2/revoke" "{\"reason\":\"privilegeWithdrawn\",\"factor\":$(otpf "$oid" "$(other "$oc")")}"
expect 401 "revocation with a wrong OTP"
[ "$(q "SELECT revoked_at IS NULL FROM certificate WHERE id = $cid2")" = t ] || fail "a wrong OTP revoked"
[ "$(q "SELECT attempts FROM ra_otp WHERE id = $oid")" = 1 ] || fail "wrong revoke OTP not counted"
# The mail sink refuses rad (user pki, or the invoking user) meanwhile: the
# revocation stands, its confirmation waits in the outbox (schema/033).
chmod 0500 "$mail"
at_exit "chmod 0700 '$mail'"
req POST "/v1/certificates/$cid2/revoke" "{\"reason\":\"privilegeWithdrawn\",\"factor\":$(otpf "$oid" "$oc")}"
expect 200 "revocation privilegeWithdrawn while mail cannot be sent"
outbox() { q "SELECT attempts >= 1, sent_at IS NOT NULL, last_error IS NOT NULL FROM ra_mail_outbox
    WHERE recipient = '$email' AND subject = 'Your certificate was revoked'"; }
for ((i = 0; i < 100; i++)); do [ "$(outbox)" = "t|f|t" ] && break; sleep 0.1; done
[ "$(outbox)" = "t|f|t" ] || fail "the unsendable notice is not in the outbox with its failure: $(outbox)"
curl -sS "$url/health" >"$tmp/health"
jq -e '.status == "ok" and .mail_outbox.failing >= 1 and .mail_outbox.oldest_unsent != null' "$tmp/health" >/dev/null ||
	fail "/health does not show the failing notice: $(cat "$tmp/health")"
chmod 0700 "$mail"
# Due now rather than after its 30-s back-off; the notifier's next round sends it.
q "UPDATE ra_mail_outbox SET next_attempt_at = now() WHERE recipient = '$email' AND sent_at IS NULL" >/dev/null
m=$(wait_mail "$email" '^Subject: Your certificate was revoked') || fail "no revocation confirmation mailed to $email"
grep -q 'by you' "$m" && grep -q 'Reason: privilegeWithdrawn' "$m" || fail "the revocation confirmation: $(cat "$m")"
for ((i = 0; i < 50; i++)); do [ "$(outbox)" = "t|t|f" ] && break; sleep 0.1; done
[ "$(outbox)" = "t|t|f" ] || fail "the outbox row after sending: $(outbox)"
[ "$(q "SELECT body FROM ra_mail_outbox WHERE recipient = '$email' AND subject = 'Your certificate was revoked'")" = "" ] ||
	fail "the sent notice's text is kept in the outbox"
[ "$(q "SELECT revocation_reason || '|' || revoked_by FROM certificate WHERE id = $cid2")" = "9|subscriber:$aid" ] ||
	fail "revocation row"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.revoke' AND object_id = '$cid2' AND actor = 'subscriber:$aid'
	AND details->>'reason' = 'privilegeWithdrawn' AND details->>'factor' = 'otp'")" = 1 ] || fail "no cert.revoke event"
[ "$(q "SELECT count(*) FROM publish_certificate WHERE certificate_id = $cid2")" -ge 2 ] ||
	fail "the revocation is not queued for LDAP"
# OpenSSL's reason table stops at removeFromCRL (8): it prints reason 9 as
# "(UNKNOWN)"; the row's 9 is checked above.
wait_ocsp_revoked "$tmp/c2.pem" '(UNKNOWN)\|privilegeWithdrawn'
otp revoke
before
req POST "/v1/certificates/$cid2/revoke" "{\"reason\":\"unspecified\",\"factor\":$(otpf "$oid" "$oc")}"
expect 409 "revocation twice"
unchanged "revocation twice"
req GET "/v1/certificates/$cid2"
jq -e '.status == "revoked" and .revocation.reason == "privilegeWithdrawn"' "$tmp/out" >/dev/null || fail "revoked view"
req POST "/v1/certificates/$cid2/rekey" "{\"factor\":$(otpf "$oid" "$oc")}"
expect 409 "rekey of a revoked certificate"
unchanged "rekey of a revoked certificate"
note "revocation: keyCompromise 400, wrong OTP 401 counted, privilegeWithdrawn → OCSP revoked, twice 409"

# --- re-KYC: the account that had a certificate applies as rekyc ---------------------------
# One account is one person: a KYC under another NIK (valid, the same
# birth date) is refused, 409, nothing stored. Until 2026-12-07 it was
# taken as a rekyc, and one account held two people's certificates.
nik2=3174011508900$(((10#${nik: -3} - 99) % 900 + 100))
PYTHONPATH="$REPO/tests/integration" python3 "$tmp/mk.py" "$tmp/kyc3.json" "$nik2" 9
before
req POST /v1/applications "@$tmp/kyc3.json"
expect 409 "a KYC under another NIK"
detail | has 'another NIK' || fail "KYC under another NIK: $(detail)"
unchanged "a KYC under another NIK"
PYTHONPATH="$REPO/tests/integration" python3 "$tmp/mk.py" "$tmp/kyc2.json" "$nik" 7
req POST /v1/applications "@$tmp/kyc2.json"
expect 201 "re-KYC submission"
[ "$(jq -r .kind "$tmp/out")" = rekyc ] || fail "re-KYC kind: $(cat "$tmp/out")"
note "re-KYC: kind rekyc"

# --- a rekey whose certificate is held or revoked after the rekey was asked for ---------------
# The rekey checks run when it is asked for; the agreement checks again
# (409 while the old certificate is on hold), and a revocation after the
# agreement, before cad issues, is followed by the new certificate.
rkapp=$(jq -r .id "$tmp/out")
# Five more codes below: the ones sent so far are aged out of otp.per_hour.
q "UPDATE ra_otp SET created_at = created_at - interval '1 hour' WHERE account_id = $aid" >/dev/null
approve_by_sql "$rkapp"
otp agreement
req POST "/v1/applications/$rkapp/agreement" "{\"accept\":true,\"terms\":\"$(agreement_terms "$url" "$tok" "$rkapp")\",\"factor\":$(otpf "$oid" "$oc")}"
expect 202 "re-KYC agreement"
wait_issued "$rkapp"
cid3=$(q "SELECT o.certificate_id FROM ra_application a JOIN issuance_order o ON o.id = a.order_id WHERE a.id = $rkapp")
serial3=$(q "SELECT serial FROM certificate WHERE id = $cid3")
# A year of this subscriber's applications in one day: KYC, rekey, re-KYC
# and now a rekey again, over kyc.per_day (3), which counts rekeys too.
PKI_RA_PORT=$port2 PKI_REKEY_WINDOW_DAYS=400 PKI_KYC_PER_DAY=10 "$BUILD/rad" --config "$PKI_CONFIG" >>"$tmp/rad2.log" 2>&1 &
rad2=$!
for ((i = 0; i < 100; i++)); do
	curl -sf "http://127.0.0.1:$port2/health" >/dev/null 2>&1 && break
	kill -0 "$rad2" 2>/dev/null || { cat "$tmp/rad2.log" >&2; rad2=; fail "the second rad died"; }
	sleep 0.1
done
base=http://127.0.0.1:$port2
otp rekey
req POST "/v1/certificates/$cid3/rekey" "{\"factor\":$(otpf "$oid" "$oc")}"
expect 201 "rekey of the re-KYC certificate"
rapp3=$(jq -r .id "$tmp/out")
kill -TERM "$rad2"
wait "$rad2" || { cat "$tmp/rad2.log" >&2; rad2=; fail "the second rad did not stop cleanly"; }
rad2=
base=
approve_by_sql "$rapp3"
"$PKICTL" --config "$PKI_CONFIG" cert revoke --serial "$serial3" --reason certificateHold >/dev/null ||
	fail "pkictl cert revoke (hold)"
otp agreement
before
req POST "/v1/applications/$rapp3/agreement" "{\"accept\":true,\"terms\":\"$NO_TERMS\",\"factor\":$(otpf "$oid" "$oc")}"
expect 409 "the agreement to a rekey of a certificate on hold"
detail | has 'on hold' || fail "agreement, on hold: $(detail)"
unchanged "the agreement to a rekey of a certificate on hold"
"$PKICTL" --config "$PKI_CONFIG" cert release --serial "$serial3" >/dev/null || fail "pkictl cert release"
# cad held still (SIGSTOP, this stack's processes only) between the
# agreement and the subscriber's revocation of the old certificate.
hold_cad
req POST "/v1/applications/$rapp3/agreement" "{\"accept\":true,\"terms\":\"$(agreement_terms "$url" "$tok" "$rapp3")\",\"factor\":$(otpf "$oid" "$oc")}"
expect 202 "the agreement once the hold is released"
otp revoke
req POST "/v1/certificates/$cid3/revoke" "{\"reason\":\"privilegeWithdrawn\",\"factor\":$(otpf "$oid" "$oc")}"
expect 200 "revocation of the old certificate while its rekey is pending"
[ "$(q "SELECT o.status FROM ra_application a JOIN issuance_order o ON o.id = a.order_id WHERE a.id = $rapp3")" = pending ] ||
	fail "cad issued while stopped"
kill -CONT $cad_pids
wait_issued "$rapp3"
cid4=$(q "SELECT o.certificate_id FROM ra_application a JOIN issuance_order o ON o.id = a.order_id WHERE a.id = $rapp3")
[ "$(q "SELECT revocation_reason || '|' || revoked_by FROM certificate WHERE id = $cid3")" = "9|subscriber:$aid" ] ||
	fail "the old certificate's revocation changed: $(q "SELECT revocation_reason || '|' || revoked_by FROM certificate WHERE id = $cid3")"
[ "$(q "SELECT revocation_reason || '|' || revoked_by FROM certificate WHERE id = $cid4")" = "9|ra:notifier" ] ||
	fail "the new certificate outlives the revoked one: $(q "SELECT revoked_at, revocation_reason FROM certificate WHERE id = $cid4")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.revoke' AND object_id = '$cid4' AND actor = 'ra:notifier'
	AND details->>'reason_code' = '9' AND details->>'previous_certificate_id' = '$cid3'")" = 1 ] ||
	fail "no cert.revoke event for the new certificate"
m=$(wait_mail "$email" 'It was revoked at once \(reason code 9\)') || fail "no mail saying the new certificate was revoked"
has "^To: <$email>" <"$m" || fail "the mail saying the new certificate was revoked went elsewhere"
note "rekey: agreement refused while the old certificate is on hold; old one revoked (privilegeWithdrawn) before cad issued → the new one revoked with it"

# --- no secret in the logs, the audit or a problem detail ----------------------------------
no_secret_in "rad's log" "$log" "$tmp/rad2.log" "$tmp/rad3.log"
audit_text "$tmp/audit.txt"
no_secret_in audit_event "$tmp/audit.txt"
note "no secret in the log or the audit"
