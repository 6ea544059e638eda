#!/usr/bin/env bash
# An application that will not be issued, at rad against the stack of
# tests/run.sh with its own cad: the subscriber cancels a submitted
# application and may apply again; another subscriber cannot touch it; an
# officer cannot cancel a submitted one (rejects it instead) but cancels an
# approved one with a reason, mailed to the subscriber; an agreed
# application is refused by all three requests while its order is pending
# (cad held still with SIGSTOP); once the order has failed (marked by SQL as
# cad marks it), an officer orders it again (not while the issuing CA it
# names is on hold, 503, or ending, 409) and the stack's cad issues it
# (openssl verify accepts the certificate), or the subscriber cancels it and
# applies again. An order failed under an issuing CA that will never issue
# again sends its application back to approved (rad's notifier: audited,
# mailed) and the subscriber agrees again, issued under the current CA
# (schema/089); a pending order under a held issuer ends with its
# application's cancellation, unless a cad holds it (409), audited by
# schema/096's function even when pki_ra calls it directly. Refusals change
# nothing (tables, mail sink, audit); every
# change is audited with its actor; no secret in rad's log. Then evidence
# retention: `pkictl kyc erase` erases the images of applications
# cancelled 90+ days ago (policy), keeps an issued one's and a recent one's,
# and officers get 410 for erased images; schema/027's guard holds.
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
# makes or deletes an application or an order, so both are counted whole.
acct0=$(q "SELECT coalesce(max(id), 0) FROM ra_account")
state() {
	q "SELECT (SELECT count(*) FROM ra_application) || '/' ||
	    (SELECT coalesce(string_agg(id || status || coalesce(order_id::text, ''), ',' ORDER BY id), '')
	    FROM ra_application WHERE account_id > $acct0) || '/' ||
	    (SELECT count(*) FROM issuance_order) || '/' || $AUDIT_MAX_OWN"
	{ grep -l -- '^To: <[^>]*@cancel\.example>' "$mail"/*.eml 2>/dev/null || true; } | wc -l
}
# The mail sink counted by this test's recipients (the other tests' mail
# goes out of rad's outbox whenever it comes), and this test's own queued
# mail (an issuance's) sent before the snapshot, not during the request.
before() {
	outbox_settled '%@cancel.example' || fail "rad's outbox did not send this test's mail within 30 s"
	state >"$tmp/state.before"
}
status_of() { q "SELECT status FROM ra_application WHERE id = $1"; }
audits() { # audits ACTION OBJECT_ID ACTOR
	q "SELECT count(*) FROM audit_event WHERE action = '$1' AND object_id = '$2' AND actor = '$3'"
}

# --- subscribers and officers ---------------------------------------------------------
spw='Cancel-Sub-Pass9'
secrets+=("$spw")
# apply NAME DOB SEX SERIAL: a personal application of the logged-in subscriber; sets app.
apply() {
	python3 "$(dirname "$0")/kyc_body.py" "$tmp/kyc.json" "$1" "$2" "$3" "$4" >/dev/null
	curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' --data-binary "@$tmp/kyc.json" "$url/v1/applications" >"$tmp/code"
	code=$(cat "$tmp/code")
	expect 201 "application of $1"
	app=$(jq -r .id "$tmp/out")
}
# agree APP PHONE: "I agree" with an SMS OTP of purpose agreement (sink).
agree() {
	local c
	req POST /v1/otp '{"channel":"sms","purpose":"agreement"}'
	expect 201 "otp agreement"
	c=$(sms_code "$2")
	secrets+=("$c")
	req POST "/v1/applications/$1/agreement" "{\"accept\":true,\"terms\":\"$(agreement_terms "$url" "$tok" "$1")\",\"factor\":{\"type\":\"otp\",\"otp_id\":$(jq -r .otp_id "$tmp/out"),\"code\":\"$c\"}}"
	expect 202 "agreement to $1"
}
opw='Officer-Cancel-2026'
secrets+=("$opw")
(umask 077; printf '%s\n' "$opw" >"$tmp/officer.pw")
officer() { ra_officer "$1" "$2" "$tmp/officer.pw"; }
subscriber() { ra_account "$1" "$2" "$spw"; }
officer can-off ra_officer
off=$oid tok_o=$otok
officer can-aud auditor
tok_a=$otok
subscriber c1@cancel.example +6281200000101
acc1=$aid tok1=$tok
subscriber c2@cancel.example +6281200000102
acc2=$aid tok2=$tok
note "subscribers and officers: ok"

# --- the subscriber withdraws a submitted application ---------------------------------
tok=$tok1
apply 'Sari Cancel Satu' 1990-04-05 F 0101
app1=$app
tok=$tok2
refuse 404 "another subscriber's cancellation" POST "/v1/applications/$app1/cancel"
tok=
refuse 401 "a cancellation without a session" POST "/v1/applications/$app1/cancel"
tok=$tok1
refuse 400 "a cancellation with a body" POST "/v1/applications/$app1/cancel" '{"x":1}'
refuse 405 "GET of the cancel resource" GET "/v1/applications/$app1/cancel"
req POST "/v1/applications/$app1/cancel"
expect 200 "the subscriber's cancellation"
[ "$(jq -r .status "$tmp/out")" = cancelled ] || fail "cancel answer: $(cat "$tmp/out")"
[ "$(status_of "$app1")" = cancelled ] || fail "application $app1 not cancelled"
[ "$(audits ra.application.cancel "$app1" "subscriber:$acc1")" = 1 ] || fail "no cancel audit event"
[ "$(q "SELECT details->>'from' FROM audit_event WHERE action = 'ra.application.cancel' AND object_id = '$app1'")" = submitted ] ||
	fail "the audit event does not say what was cancelled"
refuse 409 "a second cancellation" POST "/v1/applications/$app1/cancel"
detail | has final || fail "second cancellation: $(detail)"
refuse 409 "the agreement of a cancelled application" GET "/v1/applications/$app1/agreement"
detail | has 'was cancelled: it has no agreement' || fail "agreement of a cancelled application: $(detail)"
apply 'Sari Cancel Satu' 1990-04-05 F 0101
app1b=$app
note "subscriber: a submitted application cancelled (404 for another subscriber, 409 twice), a new one accepted"

# --- an officer: not a submitted application; an approved one, with a reason -----------
tok=$tok_o
refuse 409 "an officer's cancellation of a submitted application" POST "/v1/officer/applications/$app1b/cancel" '{"reason":"no"}'
detail | has reject || fail "officer, submitted: $(detail)"
req POST "/v1/officer/applications/$app1b/decision" '{"decision":"approve","reason":"documents in order"}'
expect 200 "approval of $app1b"
refuse 400 "an officer's cancellation without a reason" POST "/v1/officer/applications/$app1b/cancel" '{}'
refuse 400 "an officer's cancellation with a blank reason" POST "/v1/officer/applications/$app1b/cancel" '{"reason":"  "}'
refuse 415 "an officer's cancellation without JSON" POST "/v1/officer/applications/$app1b/cancel"
refuse 409 "a new order for an approved application" POST "/v1/officer/applications/$app1b/reorder" '{"reason":"retry"}'
tok=$tok_a
refuse 403 "an auditor's cancellation" POST "/v1/officer/applications/$app1b/cancel" '{"reason":"no"}'
tok=$tok1
refuse 401 "a subscriber at the officer's cancellation" POST "/v1/officer/applications/$app1b/cancel" '{"reason":"no"}'
tok=$tok_o
req POST "/v1/officer/applications/$app1b/cancel" '{"reason":"The subscriber asked us by phone to withdraw it."}'
expect 200 "the officer's cancellation of an approved application"
[ "$(status_of "$app1b")" = cancelled ] || fail "application $app1b not cancelled"
[ "$(audits ra.application.cancel "$app1b" "officer:$off")" = 1 ] || fail "no officer cancel audit event"
m=$(mail_to c1@cancel.example)
has "^Subject: Your certificate application $app1b was cancelled" "$m" || fail "no cancellation mail: $(cat "$m")"
has "asked us by phone to withdraw" "$m" || fail "the mail lacks the reason"
note "officer: submitted → 409 (reject instead); approved → cancelled with a reason, mailed and audited"

# --- an agreed application: refused while cad holds its order; reordered once it failed --
# fail_order APP: agreed while cad is held still, the order then failed as cad fails it.
fail_order() {
	local o
	hold_cad
	agree "$1" "$2"
	o=$(q "SELECT order_id FROM ra_application WHERE id = $1")
	[ "$(q "SELECT status FROM issuance_order WHERE id = $o")" = pending ] || fail "cad took order $o while stopped"
	tok=$3
	refuse 409 "a subscriber's cancellation while the order is pending" POST "/v1/applications/$1/cancel"
	detail | has "being issued" || fail "pending: $(detail)"
	tok=$tok_o
	refuse 409 "an officer's cancellation while the order is pending" POST "/v1/officer/applications/$1/cancel" '{"reason":"x"}'
	refuse 409 "a new order while the order is pending" POST "/v1/officer/applications/$1/reorder" '{"reason":"x"}'
	q "UPDATE issuance_order SET status = 'failed', attempts = 5, done_at = now(),
	    last_error = 'signer: token not present (test)' WHERE id = $o;
	   SELECT audit_append('cad:test', 'order.fail', 'issuance_order', '$o',
	    '{\"error\": \"signer: token not present (test)\"}')" >/dev/null
	kill -CONT $cad_pids
	failed_order=$o
}
tok=$tok2
apply 'Budi Cancel Dua' 1988-09-21 M 0202
app2=$app
tok=$tok_o
req POST "/v1/officer/applications/$app2/decision" '{"decision":"approve","reason":"ok"}'
expect 200 "approval of $app2"
tok=$tok2
fail_order "$app2" +6281200000102 "$tok2"
tok=$tok2
req GET "/v1/applications/$app2/agreement"
expect 200 "the agreement view of a failed order"
[ "$(jq -r .order.status "$tmp/out")" = failed ] || fail "the subscriber does not see the failure: $(cat "$tmp/out")"
refuse 401 "a subscriber at the officer's reorder" POST "/v1/officer/applications/$app2/reorder" '{"reason":"x"}'
tok=$tok_a
refuse 403 "an auditor's reorder" POST "/v1/officer/applications/$app2/reorder" '{"reason":"x"}'
tok=$tok_o
req GET "/v1/officer/applications/$app2"
expect 200 "the officer's detail of a failed order"
[ "$(jq -r '.order_status + "|" + .order_error' "$tmp/out")" = "failed|signer: token not present (test)" ] ||
	fail "the officer does not see the failed order: $(jq -c '{order_id, order_status, order_error}' "$tmp/out")"
refuse 400 "a reorder without a reason" POST "/v1/officer/applications/$app2/reorder" '{"reason":1}'
# The reorder names the issuer agreed to, the failed order's, and only
# while cad would issue under it (the agreement's checks): on hold 503 (a
# hold may be released). Before, the reorder copied the issuer unchecked:
# an order that waited or failed again.
[ "$(q "SELECT i.name FROM issuance_order o JOIN ca_certificate i ON i.id = o.issuer_id WHERE o.id = $failed_order")" = issuing ] ||
	fail "the failed order does not name issuing"
issuer_na=$(q "SELECT not_after FROM ca_certificate WHERE name = 'issuing'")
held_issuing() { q "UPDATE certificate SET revoked_at = $1, revocation_reason = $2, revoked_by = $3
    WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = 'root')
    AND serial = (SELECT serial FROM ca_certificate WHERE name = 'issuing')" >/dev/null; }
at_exit "held_issuing NULL NULL NULL"
held_issuing 'now()' 6 "'test_ra_cancel'"
refuse 503 "a reorder under an issuing CA on hold" POST "/v1/officer/applications/$app2/reorder" '{"reason":"x"}'
detail | has 'agreed under (issuing) is on hold' || fail "reorder, issuer on hold: $(detail)"
# A hold lasts until an operator releases it: come back in an hour
# (RA_ISSUER_RETRY_AFTER_S; until 2026-12-07 no Retry-After).
grep -qi '^retry-after: 3600' "$tmp/hdr" || fail "reorder, issuer on hold: 503 without Retry-After: 3600"
held_issuing NULL NULL NULL
# Revoked or ending, rad's notifier gives such an application back to the
# subscriber (schema/089, tested below), so the reorder's 409 is only seen
# in a race with it.
req POST "/v1/officer/applications/$app2/reorder" '{"reason":"the token is back"}'
expect 202 "the officer's new order"
new_order=$(jq -r .order_id "$tmp/out")
[ "$new_order" != "$failed_order" ] || fail "no new order"
[ "$(q "SELECT order_id FROM ra_application WHERE id = $app2")" = "$new_order" ] || fail "the application keeps the failed order"
[ "$(q "SELECT count(*) FROM issuance_order n, issuance_order f WHERE n.id = $new_order AND f.id = $failed_order
    AND n.kind = f.kind AND n.profile = f.profile AND n.subject = f.subject AND n.key_type = f.key_type
    AND n.requested_by = 'ra:officer:$off' AND n.issuer_id = f.issuer_id")" = 1 ] || fail "the new order is not what was agreed to"
[ "$(audits ra.application.reorder "$app2" "officer:$off")" = 1 ] || fail "no reorder audit event"
[ "$(q "SELECT count(*) FROM audit_event e, ca_certificate i WHERE e.action = 'ra.application.reorder' AND e.object_id = '$app2'
    AND i.name = 'issuing' AND e.details->>'issuer_id' = i.id::text AND e.details->>'issuer' = i.subject")" = 1 ] ||
	fail "the reorder's audit event does not name the issuer: $(q "SELECT details FROM audit_event WHERE action = 'ra.application.reorder' AND object_id = '$app2'")"
for ((i = 0; i < 300; i++)); do
	[ "$(status_of "$app2")" = issued ] && break
	sleep 0.1
done
[ "$(status_of "$app2")" = issued ] || fail "the new order was not issued: $(q "SELECT status, last_error FROM issuance_order WHERE id = $new_order")"
q "SELECT encode(c.der, 'base64') FROM issuance_order o JOIN certificate c ON c.id = o.certificate_id
    WHERE o.id = $new_order" | base64 -d | openssl x509 -inform DER -out "$tmp/c2.pem"
openssl verify -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" "$tmp/c2.pem" >/dev/null ||
	fail "openssl verify rejects the reordered certificate"
openssl x509 -in "$tmp/c2.pem" -noout -subject | has 'Budi Cancel Dua' || fail "the certificate's subject"
# The subscriber's history keeps the failed order's events (schema/029).
tok=$tok2
req GET "/v1/certificates/$(q "SELECT certificate_id FROM issuance_order WHERE id = $new_order")"
expect 200 "the subscriber's reordered certificate"
[ "$(jq -r '[.history[].action | select(. == "ra.application.agree" or . == "order.fail" or
    . == "ra.application.reorder")] | join(" ")' "$tmp/out")" = "ra.application.agree order.fail ra.application.reorder" ] ||
	fail "the history after a reorder: $(jq -c '[.history[].action]' "$tmp/out")"
tok=$tok2
refuse 409 "cancelling an issued application" POST "/v1/applications/$app2/cancel"
tok=$tok_o
refuse 409 "a new order for an issued application" POST "/v1/officer/applications/$app2/reorder" '{"reason":"x"}'
note "agreed: refused while pending; failed → ordered again → issued (openssl verify ok); issued is final"

# --- a failed order the subscriber cancels, then applies again ------------------------
tok=$tok1
apply 'Sari Cancel Satu' 1990-04-05 F 0101
app3=$app
tok=$tok_o
req POST "/v1/officer/applications/$app3/decision" '{"decision":"approve","reason":"ok"}'
expect 200 "approval of $app3"
tok=$tok1
fail_order "$app3" +6281200000101 "$tok1"
tok=$tok1
req POST "/v1/applications/$app3/cancel"
expect 200 "the subscriber's cancellation after a failed order"
[ "$(status_of "$app3")" = cancelled ] || fail "application $app3 not cancelled"
[ "$(q "SELECT details->>'failed_order_id' FROM audit_event WHERE action = 'ra.application.cancel' AND object_id = '$app3'")" = "$failed_order" ] ||
	fail "the audit event does not name the failed order"
tok=$tok_o
refuse 409 "a new order for a cancelled application" POST "/v1/officer/applications/$app3/reorder" '{"reason":"x"}'
# A fourth submission today: cancelling does not lift kyc.per_day (3).
tok=$tok1
python3 "$(dirname "$0")/kyc_body.py" "$tmp/kyc.json" 'Sari Cancel Satu' 1990-04-05 F 0101 >/dev/null
before
code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok" \
	-H 'Content-Type: application/json' --data-binary "@$tmp/kyc.json" "$url/v1/applications")
expect 429 "a fourth KYC submission in a day"
unchanged "a fourth KYC submission in a day"
ra=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/ip' "$tmp/hdr")
[ -n "$ra" ] && [ "$ra" -gt 80000 ] && [ "$ra" -le 86400 ] || fail "Retry-After of kyc.per_day: '$ra'"
note "failed order: the subscriber cancels; a fourth submission today is 429 (kyc.per_day)"

# --- evidence retention: pkictl kyc erase -------------------------------------------------
# app1 and app1b (cancelled) and app2 (issued) ended 100 days ago; app3
# (cancelled) today. The application guard stamps updated_at itself, so
# the backdating runs with triggers off (the test superuser).
q "SET session_replication_role = replica;
   UPDATE ra_application SET updated_at = now() - interval '100 days' WHERE id IN ($app1, $app1b, $app2)" >/dev/null
erased() { q "SELECT string_agg(application_id || ':' || (ktp_photo IS NULL)::int || (selfie IS NULL)::int ||
    (evidence_erased_at IS NOT NULL)::int, ',' ORDER BY application_id) FROM ra_kyc
    WHERE application_id IN ($app1, $app1b, $app2, $app3)"; }
[ "$(erased)" = "$app1:000,$app1b:000,$app2:000,$app3:000" ] || fail "evidence before erasure: $(erased)"
set +e
pkictl kyc erase --days 0 >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "kyc erase --days 0: exit $rc, not 2 (usage)"
pkictl kyc erase >"$tmp/erase.out" 2>"$tmp/erase.err" || fail "pkictl kyc erase: $(cat "$tmp/erase.err")"
[ "$(cat "$tmp/erase.out")" = "$(printf 'erased\t2\nerased_issued\t0')" ] || fail "kyc erase printed: $(cat "$tmp/erase.out")"
[ "$(erased)" = "$app1:111,$app1b:111,$app2:000,$app3:000" ] || fail "evidence after erasure: $(erased)"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.kyc.erase_evidence' AND object_id IN ('$app1', '$app1b')
    AND actor LIKE 'pkictl:%' AND details->>'status' = 'cancelled' AND (details->>'bytes')::int > 0
    AND details->>'retention_days' = '90'")" = 2 ] || fail "the erasure is not audited"
pkictl kyc erase >"$tmp/erase.out" 2>"$tmp/erase.err" || fail "pkictl kyc erase (again)"
[ "$(cat "$tmp/erase.out")" = "$(printf 'erased\t0\nerased_issued\t0')" ] || fail "a second erasure erased: $(cat "$tmp/erase.out")"
tok=$tok_o
refuse 410 "the officer asks for erased evidence" GET "/v1/officer/applications/$app1/evidence/selfie"
detail | has 'erased at' || fail "410 detail: $(detail)"
req GET "/v1/officer/applications/$app1"
expect 200 "the detail of an application whose evidence is erased"
[ "$(jq -r '.kyc.evidence.erased_at != null and .kyc.full_name == "Sari Cancel Satu"' "$tmp/out")" = true ] ||
	fail "the detail after erasure: $(jq -c .kyc "$tmp/out")"
req GET "/v1/officer/applications/$app2/evidence/ktp_photo"
expect 200 "an issued application's evidence is kept"
# schema/027's guard, even for the superuser: only the images, only of an
# application that certified nothing, only once.
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_kyc SET ktp_photo = NULL, selfie = NULL, evidence_erased_at = now()
    WHERE application_id = $app2" 'or of an ended certificate' || fail "a living certificate's evidence erased"
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_kyc SET full_name = 'X' WHERE application_id = $app1" 'only the evidence' ||
	fail "the KYC data of an erased application changed"
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_kyc SET ktp_photo = '\\x00', selfie = '\\x00', evidence_erased_at = NULL
    WHERE application_id = $app1" 'erased once' || fail "erased evidence replaced"
# pkictl's role erases the images without reading them (schema/110).
sql_fails "$PKI_TEST_PG_URI" "SET ROLE pki_admin; SELECT octet_length(selfie) FROM ra_kyc WHERE application_id = $app2" \
    'permission denied' || fail "pki_admin reads a subscriber's selfie"
sql_fails "$PKI_TEST_PG_URI" "SET ROLE pki_admin; SELECT ktp_photo FROM ra_kyc WHERE application_id = $app2" \
    'permission denied' || fail "pki_admin reads a subscriber's e-KTP photo"
note "kyc erase: cancelled 90+ days ago erased (audited, 410 to officers, data kept), issued and recent kept; the guard holds"

# An issued application's evidence goes kyc.issued_evidence_days after its
# certificate ended (schema/030): not while it lives, not while on hold.
cert2=$(q "SELECT o.certificate_id FROM ra_application a JOIN issuance_order o ON o.id = a.order_id WHERE a.id = $app2")
# erase_prints [ARGS...] EXPECTED: pkictl kyc erase ARGS prints EXPECTED (printf format).
erase_prints() {
	local want=${*: -1}
	pkictl kyc erase "${@:1:$#-1}" >"$tmp/erase.out" 2>"$tmp/erase.err" || fail "pkictl kyc erase $*: $(cat "$tmp/erase.err")"
	[ "$(cat "$tmp/erase.out")" = "$(printf "$want")" ] || fail "kyc erase ${*:1:$#-1} printed: $(cat "$tmp/erase.out")"
}
set +e
pkictl kyc erase --issued-days 0 >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "kyc erase --issued-days 0: exit $rc, not 2 (usage)"
q "UPDATE certificate SET revoked_at = now() - interval '5 days', revocation_reason = 6 WHERE id = $cert2" >/dev/null
erase_prints --issued-days 1 'erased\t0\nerased_issued\t0'
q "UPDATE certificate SET revoked_at = now() - interval '2 days', revocation_reason = 9 WHERE id = $cert2" >/dev/null
erase_prints 'erased\t0\nerased_issued\t0'
erase_prints --issued-days 1 'erased\t0\nerased_issued\t1'
[ "$(erased)" = "$app1:111,$app1b:111,$app2:111,$app3:000" ] || fail "evidence after the issued erasure: $(erased)"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.kyc.erase_evidence' AND object_id = '$app2'
    AND details->>'status' = 'issued' AND details->>'certificate_id' = '$cert2' AND details->>'retention_days' = '1'
    AND (details->>'certificate_ended_at')::timestamptz < now() - interval '1 day'")" = 1 ] ||
	fail "the issued erasure is not audited"
note "kyc erase: an issued application's evidence kept while its certificate lives or is held, erased kyc.issued_evidence_days after its revocation (audited)"

# --- the issuing CA will never issue: the subscriber agrees again (schema/089) ---------
# An agreed application whose order failed, its issuer then ending within
# a day (cad's lint refuses it, a reorder is refused) or revoked for good:
# before, only its cancellation was left, and the subscriber applied again
# with a new KYC. Now rad's notifier moves it back to approved, audited
# ra.application.reopen and mailed in one transaction; the subscriber sees
# the agreement under rad's current issuing CA and agrees again with a
# factor: a new order, issued. The failed order stays, in the history.
subscriber c3@cancel.example +6281200000103
acc3=$aid tok3=$tok
apply 'Dewi Cancel Tiga' 1992-02-14 F 0303
app4=$app
tok=$tok_o
req POST "/v1/officer/applications/$app4/decision" '{"decision":"approve","reason":"ok"}'
expect 200 "approval of $app4"
tok=$tok3
fail_order "$app4" +6281200000103 "$tok3"
order4=$failed_order
# round: the notifier's round now (it runs on every issuance_done).
round() { q "NOTIFY issuance_done, '0:test'" >/dev/null; }
round
sleep 1
[ "$(status_of "$app4")" = agreed ] || fail "an application whose issuer can still issue left agreed: $(status_of "$app4")"
# The guard (schema/089): back to approved only from a failed order, left.
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_application SET status = 'approved' WHERE id = $app4" \
	'back to approved only from a failed order' || fail "the guard let an application keep its order when approved again"
at_exit "q \"UPDATE ca_certificate SET not_after = '$issuer_na' WHERE name = 'issuing'\" >/dev/null"
q "UPDATE ca_certificate SET not_after = now() + interval '2 hours' WHERE name = 'issuing'" >/dev/null
round
for ((i = 0; i < 100; i++)); do
	[ "$(status_of "$app4")" = approved ] && break
	sleep 0.1
done
[ "$(status_of "$app4")" = approved ] || fail "the application of a failed order under an ending issuer is $(status_of "$app4"), not approved"
[ "$(q "SELECT (order_id IS NULL AND agreed_at IS NULL)::text FROM ra_application WHERE id = $app4")" = true ] ||
	fail "approved again, the application keeps its order or agreement"
[ "$(q "SELECT status FROM issuance_order WHERE id = $order4")" = failed ] || fail "the failed order changed"
[ "$(q "SELECT count(*) FROM audit_event e, ca_certificate i WHERE e.action = 'ra.application.reopen' AND e.object_id = '$app4'
    AND e.actor = 'ra:notifier' AND e.details->>'failed_order_id' = '$order4' AND i.name = 'issuing'
    AND e.details->>'issuer_id' = i.id::text AND e.details->>'because' LIKE 'ends at %'")" = 1 ] ||
	fail "no ra.application.reopen event: $(q "SELECT details FROM audit_event WHERE action = 'ra.application.reopen' AND object_id = '$app4'")"
for ((i = 0; i < 100; i++)); do
	m=$(mail_to c3@cancel.example)
	has "^Subject: Your certificate application $app4: please agree again" "$m" && break
	sleep 0.1
done
has "^Subject: Your certificate application $app4: please agree again" "$m" || fail "no agree-again mail: $(cat "$m")"
has "agree to it again" "$m" || fail "the agree-again mail: $(cat "$m")"
# rad's own issuer is the ending one: no agreement under it (503).
tok=$tok3
refuse 503 "the agreement under an ending issuing CA" GET "/v1/applications/$app4/agreement"
detail | has 'ends at' || fail "agreement, issuer ending: $(detail)"
q "UPDATE ca_certificate SET not_after = '$issuer_na' WHERE name = 'issuing'" >/dev/null
req GET "/v1/applications/$app4/agreement"
expect 200 "the agreement of an application approved again"
[ "$(jq -r '.status + "|" + (.order == null | tostring) + "|" + .certificate.issuer' "$tmp/out")" = \
    "approved|true|$(q "SELECT subject FROM ca_certificate WHERE name = 'issuing'")" ] ||
	fail "the agreement after the failed order: $(cat "$tmp/out")"
tok=$tok_o
refuse 409 "a reorder of an application approved again" POST "/v1/officer/applications/$app4/reorder" '{"reason":"x"}'
tok=$tok3
agree "$app4" +6281200000103
order4b=$(jq -r .order_id "$tmp/out")
[ "$order4b" != "$order4" ] || fail "no new order"
[ "$(q "SELECT count(*) FROM issuance_order o, ca_certificate i WHERE o.id = $order4b AND i.name = 'issuing'
    AND o.issuer_id = i.id AND o.requested_by = 'ra:account:$acc3'")" = 1 ] || fail "the new order"
[ "$(audits ra.application.agree "$app4" "subscriber:$acc3")" = 2 ] || fail "not two agreements audited"
app_issued "$app4" || fail "the new order was not issued: $(q "SELECT status, last_error FROM issuance_order WHERE id = $order4b")"
req GET "/v1/certificates/$(q "SELECT certificate_id FROM issuance_order WHERE id = $order4b")"
expect 200 "the certificate agreed to again"
[ "$(jq -r '[.history[].action | select(. == "ra.application.agree" or . == "order.fail" or
    . == "ra.application.reopen" or . == "ra.application.issued")] | join(" ")' "$tmp/out")" = \
    "ra.application.agree order.fail ra.application.reopen ra.application.agree ra.application.issued" ] ||
	fail "the history after agreeing again: $(jq -c '[.history[].action]' "$tmp/out")"
note "failed order, issuer ending: approved again by the notifier (audited, mailed); 503 while rad's issuer ends; agreed again, issued"

# --- a pending order under an issuing CA on hold ends with its application -------------
# cad claims no order of a held issuer, and rad refused to cancel an
# application while its order was pending: as long as the hold lasted the
# subscriber could neither leave nor apply again. Now the cancellation
# locks the order as cad's claim does and, still pending under a held
# issuer, fails it in the same transaction (order.cancel). One a cad holds
# (claimed before the hold) is left to it: 409, nothing changes.
tok=$tok3
apply 'Dewi Cancel Tiga' 1992-02-14 F 0303
app5=$app
tok=$tok_o
req POST "/v1/officer/applications/$app5/decision" '{"decision":"approve","reason":"ok"}'
expect 200 "approval of $app5"
tok=$tok3
hold_cad
agree "$app5" +6281200000103
order5=$(q "SELECT order_id FROM ra_application WHERE id = $app5")
held_issuing 'now()' 6 "'test_ra_cancel'"
kill -CONT $cad_pids
[ "$(q "SELECT status FROM issuance_order WHERE id = $order5")" = pending ] || fail "order $order5 under a held issuer is not pending"
open_tx
echo "BEGIN; SELECT id FROM issuance_order WHERE id = $order5 FOR UPDATE;" >&"$tx_in"
read -r -t 10 line <&"$tx_out" && [ "$line" = "$order5" ] || fail "could not lock order $order5 as a cad would: $line"
refuse 409 "a cancellation while a cad holds the order" POST "/v1/applications/$app5/cancel"
detail | has "being issued" || fail "cancel, order held by a cad: $(detail)"
commit_tx
req POST "/v1/applications/$app5/cancel"
expect 200 "the cancellation of an application whose order waits for a held issuer"
[ "$(status_of "$app5")" = cancelled ] || fail "application $app5 not cancelled"
[ "$(q "SELECT status || '|' || last_error || '|' || (done_at IS NOT NULL) || '|' || (certificate_id IS NULL) FROM issuance_order WHERE id = $order5")" = \
    "failed|cancelled with its application by the subscriber while its issuing CA was on hold: nothing was issued|true|true" ] ||
	fail "the order of the cancelled application: $(q "SELECT status, last_error FROM issuance_order WHERE id = $order5")"
[ "$(audits order.cancel "$order5" "subscriber:$acc3")" = 1 ] || fail "no order.cancel audit event"
[ "$(q "SELECT details->>'failed_order_id' || '|' || (details->>'order_error' LIKE 'cancelled with its application%') FROM audit_event
    WHERE action = 'ra.application.cancel' AND object_id = '$app5' AND actor = 'subscriber:$acc3'")" = "$order5|true" ] ||
	fail "the cancellation's audit event does not name the order it ended"
held_issuing NULL NULL NULL
q "NOTIFY issuance_order, '$order5'" >/dev/null
sleep 1
[ "$(q "SELECT status FROM issuance_order WHERE id = $order5")" = failed ] || fail "the cancelled order was issued once the hold was released"
note "pending order under a held issuer: refused while a cad holds it; else cancelled with its application, the order failed (audited)"

# cad fails the order (its own error) while the subscriber's cancellation
# waits for the application's lock: the cancellation read the order
# pending, and ra_order_cancel_held finds it failed and leaves it. The
# application is cancelled, its event naming cad's error and no
# order.cancel made up; until 2026-12-07 it said "cancelled ... while its
# issuing CA was on hold", which it was not, and cad's error was lost.
subscriber c4@cancel.example +6281200000104
acc4=$aid tok4=$tok
apply 'Eka Cancel Empat' 1991-04-05 F 0404
app6=$app
tok=$tok_o
req POST "/v1/officer/applications/$app6/decision" '{"decision":"approve","reason":"ok"}'
expect 200 "approval of $app6"
tok=$tok4
hold_cad
agree "$app6" +6281200000104
order6=$(q "SELECT order_id FROM ra_application WHERE id = $app6")
[ "$(q "SELECT status FROM issuance_order WHERE id = $order6")" = pending ] || fail "order $order6 is not pending"
open_tx
echo "BEGIN; SELECT 1 FROM ra_application WHERE id = $app6 FOR UPDATE;
	UPDATE issuance_order SET status = 'failed', last_error = 'lint: a failure of cad''s', done_at = now()
	WHERE id = $order6;" >&"$tx_in"
read -r -t 10 line <&"$tx_out" && [ "$line" = 1 ] || fail "could not lock application $app6: $line"
( req POST "/v1/applications/$app6/cancel"; echo "$code" >"$tmp/cancel6.code" ) &
cpid=$!
wait_lock pki_ra || fail "rad's cancellation did not wait for the application's lock"
commit_tx
wait "$cpid"
[ "$(cat "$tmp/cancel6.code")" = 200 ] || fail "the cancellation that waited: $(cat "$tmp/cancel6.code") $(cat "$tmp/out")"
[ "$(status_of "$app6")" = cancelled ] || fail "application $app6 not cancelled"
[ "$(q "SELECT details->>'order_error' FROM audit_event WHERE action = 'ra.application.cancel' AND object_id = '$app6'")" = \
    "lint: a failure of cad's" ] ||
	fail "the cancellation's event does not name cad's error: $(q "SELECT details FROM audit_event WHERE action = 'ra.application.cancel' AND object_id = '$app6'")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'order.cancel' AND object_id = '$order6'")" = 0 ] ||
	fail "an order.cancel event for an order cad failed"
kill -CONT $cad_pids
note "an order cad failed while a cancellation waited: the application cancelled, its event naming cad's error"

# ra_order_cancel_held (schema/089) is pki_ra's only way to end an order;
# it left order.cancel to its caller, so a pki_ra session calling it
# directly failed a pending order with no event (before: none here). Since
# schema/096 it writes the event itself, in the caller's transaction, and
# rad no longer does (one event above); without an actor it refuses.
held_issuing 'now()' 6 "'test_ra_cancel'"
n=$$$RANDOM
dacc=$(q "INSERT INTO ra_account (email, phone, password_hash, email_verified, email_verified_at)
	VALUES ('direct-$n@example.com', '+6281400$((n % 100000))', '\$argon2id\$v=19\$m=8,t=1,p=1\$c2FsdHNhbHQ\$aGFzaGhhc2g', true, now())
	RETURNING id" | head -n1)
dapp=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($dacc, 'personal', 'personal',
	'{\"C\":\"ID\",\"CN\":\"Direct Cancel\"}') RETURNING id" | head -n1)
dorder=$(q "INSERT INTO issuance_order (kind, profile, subject, key_type, requested_by, issuer_id)
	SELECT 'personal', 'personal', '{\"C\":\"ID\",\"CN\":\"Direct Cancel\"}', 'ec-p256', 'test:direct', id
	FROM ca_certificate WHERE name = 'issuing' RETURNING id" | head -n1)
agreed_by_sql "$dapp" "$dorder"
sql_fails "$PKI_TEST_PG_URI" "SET ROLE pki_ra; SELECT ra_order_cancel_held($dorder, $dapp, 'x', '', '{}')" 'no actor'
[ "$(q "SELECT status FROM issuance_order WHERE id = $dorder")" = pending ] || fail "a call without an actor changed order $dorder"
[ "$(q "SET ROLE pki_ra; SELECT ra_order_cancel_held($dorder, $dapp, 'failed by a direct call', 'test:direct', '{\"client\":\"psql\"}')")" = failed ] ||
	fail "pki_ra's direct call did not fail order $dorder: $(q "SELECT status FROM issuance_order WHERE id = $dorder")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'order.cancel' AND object_type = 'issuance_order' AND object_id = '$dorder'
    AND actor = 'test:direct' AND details->>'error' = 'failed by a direct call' AND details->>'application_id' = '$dapp'
    AND details->>'client' = 'psql'")" = 1 ] ||
	fail "pki_ra failed order $dorder with no order.cancel event: $(q "SELECT actor, details FROM audit_event WHERE object_id = '$dorder'")"
held_issuing NULL NULL NULL
note "ra_order_cancel_held called directly as pki_ra: the order failed and audited by the function; no actor, refused"

no_secret_in "rad's log" "$log"
audit_text "$tmp/audit.txt"
no_secret_in audit_event "$tmp/audit.txt"
note "no secret in rad's log or the audit"
