#!/usr/bin/env bash
# rad after an issuing CA's compromise, on a stack of its own (ra/README.md
# "Rekey"; ca/README.md "Renewing the issuing CA"): subscribers hold
# certificates of `issuing`, then `pkictl ca issuing` makes issuing-2, the
# root revokes issuing (cACompromise) and cad and rad are restarted on
# issuing-2. A certificate under the revoked issuing CA is worthless
# however far from expiry: it may be rekeyed at once (before, only within
# rekey.window_days of its notAfter, so a new application with a new KYC
# was left): the rekey is audited with why the window did not apply, an
# officer approves it, the subscriber agrees, cad issues it under
# issuing-2 and the old certificate is superseded. One the CA revoked as
# cACompromise may be rekeyed too (its new certificate is not revoked
# with it); one its subscriber revoked may not. Rekeys agreed to under the
# revoked CA whose orders cad fails: agreed again, or cancelled and told to
# apply again when the old certificate was revoked meanwhile, or left
# waiting while it is on hold. An approved rekey whose old certificate is
# revoked before its agreement, and a submitted one whose old certificate
# is revoked before an officer decides it: cancelled by the notifier,
# mailed.
. "$(dirname "$0")/lib.sh"
T=$(test_tmpdir)
tmp=$T
S=$T/stack
stack_new "$S"
stack_use "$S"
pki=$PKI_DIR/pki
url=$(stack_get "$S" PKI_RA_URL)
mail=$PKI_DIR/spool/ra-mail
sms=$PKI_DIR/spool/ra-sms
log=$PKI_DIR/log/ra.log
secrets=()
state() {
	q "SELECT (SELECT string_agg(id || status || coalesce(order_id::text, ''), ',' ORDER BY id) FROM ra_application) || '/' ||
	    (SELECT count(*) FROM issuance_order) || '/' ||
	    (SELECT count(*) FROM certificate WHERE revoked_at IS NOT NULL) || '/' || $AUDIT_MAX_OWN"
}
. "$(dirname "$0")/lib_ra.sh"
status_of() { q "SELECT status FROM ra_application WHERE id = $1"; }
cert_of() { q "SELECT o.certificate_id FROM ra_application a JOIN issuance_order o ON o.id = a.order_id WHERE a.id = $1"; }
issuer_of() { q "SELECT i.name FROM certificate c JOIN ca_certificate i ON i.id = c.issuer_id WHERE c.id = $1"; }
revocation_of() { q "SELECT coalesce(revocation_reason::text, 'valid') || '|' || coalesce(revoked_by, '') FROM certificate WHERE id = $1"; }

spw='Compromise-Sub-Pass9'
opw='Officer-Compromise-2026'
secrets+=("$spw" "$opw")
(umask 077; printf '%s\n' "$opw" >"$tmp/officer.pw")
ra_officer comp-off ra_officer "$tmp/officer.pw"
tok_o=$otok

# factor PURPOSE PHONE: an SMS OTP of PURPOSE, as a factor member.
factor() {
	local c
	req POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"$1\"}"
	expect 201 "otp $1"
	c=$(sms_code "$2")
	secrets+=("$c")
	echo "{\"type\":\"otp\",\"otp_id\":$(jq -r .otp_id "$tmp/out"),\"code\":\"$c\"}"
}
# approve APP: an officer's approval.
approve() {
	local t=$tok
	tok=$tok_o
	req POST "/v1/officer/applications/$1/decision" '{"decision":"approve","reason":"identity as verified before"}'
	expect 200 "approval of $1"
	[ "$(status_of "$1")" = approved ] || fail "application $1 not approved: $(status_of "$1")"
	tok=$t
}
# agree APP PHONE: "I agree", 202; sets order.
agree() {
	local f
	f=$(factor agreement "$2")
	req POST "/v1/applications/$1/agreement" "{\"accept\":true,\"terms\":\"$(agreement_terms "$url" "$tok" "$1")\",\"factor\":$f}"
	expect 202 "agreement to $1"
	order=$(jq -r .order_id "$tmp/out")
}
# holder N NAME DOB SEX SERIAL: account cN@compromise.example (phone
# +62812000004N0) holding an issued personal certificate; sets tok, acc,
# app, cert, phone.
holder() {
	phone=+62812000004${1}0
	ra_account "c$1@compromise.example" "$phone" "$spw"
	acc=$aid
	python3 "$(dirname "$0")/kyc_body.py" "$tmp/kyc.json" "$2" "$3" "$4" "$5" >/dev/null
	req POST /v1/applications "@$tmp/kyc.json"
	expect 201 "application of $2"
	app=$(jq -r .id "$tmp/out")
	approve "$app"
	agree "$app" "$phone"
	app_issued "$app" || fail "application $app not issued: $(q "SELECT status, last_error FROM issuance_order WHERE id = $order")"
	cert=$(cert_of "$app")
	[ "$(issuer_of "$cert")" = issuing ] || fail "certificate $cert not of issuing"
}
# rekey CERT PHONE: POST .../rekey with a factor; sets code (and rapp on 201).
rekey() {
	local f
	f=$(factor rekey "$2")
	req POST "/v1/certificates/$1/rekey" "{\"factor\":$f}"
	rapp=
	[ "$code" != 201 ] || rapp=$(jq -r .id "$tmp/out")
}

# --- before the compromise: certificates of issuing, far from expiry -------------------
holder 1 'Ayu Kompromi Satu' 1991-03-11 F 0401
tok1=$tok phone1=$phone cert1=$cert
holder 2 'Bima Kompromi Dua' 1987-07-22 M 0402
tok2=$tok phone2=$phone cert2=$cert
holder 3 'Citra Kompromi Tiga' 1993-12-01 F 0403
tok3=$tok phone3=$phone cert3=$cert
tok=$tok1
rekey "$cert1" "$phone1"
expect 409 "a rekey outside the window while the issuing CA stands"
detail | has 'rekey opens' || fail "rekey outside the window: $(detail)"
# The subscriber's own revocation is final, also once the CA is compromised.
tok=$tok3
f=$(factor revoke "$phone3")
req POST "/v1/certificates/$cert3/revoke" "{\"reason\":\"privilegeWithdrawn\",\"factor\":$f}"
expect 200 "the subscriber's revocation of $cert3"
note "three certificates of issuing; a rekey outside the window refused (409)"

# Three rekeys agreed to under issuing before the compromise, through a rad
# with a 400-day window (lib/config.h overrides), while cad is stopped: their
# orders wait, and once issuing is revoked cad fails them.
holder 4 'Dewi Kompromi Empat' 1990-05-04 F 0404
tok4=$tok phone4=$phone cert4=$cert
holder 5 'Eko Kompromi Lima' 1985-01-15 M 0405
tok5=$tok phone5=$phone cert5=$cert
holder 6 'Fitri Kompromi Enam' 1994-08-30 F 0406
tok6=$tok phone6=$phone cert6=$cert
holder 7 'Gilang Kompromi Tujuh' 1989-02-17 M 0407
tok7=$tok phone7=$phone cert7=$cert acc7=$acc
holder 8 'Hana Kompromi Delapan' 1992-11-05 F 0408
tok8=$tok phone8=$phone cert8=$cert acc8=$acc
start_rad rad-window PKI_REKEY_WINDOW_DAYS=400
main_url=$url
url=$rad_url
for n in 4 5 6 7 8; do
	eval "tok=\$tok$n; c=\$cert$n; p=\$phone$n"
	rekey "$c" "$p"
	expect 201 "a rekey inside the window of $c"
	eval "rapp$n=$rapp"
done
url=$main_url
kill -TERM "$rad_pid"
wait "$rad_pid" 2>/dev/null || true
for r in "$rapp4" "$rapp5" "$rapp6" "$rapp7"; do approve "$r"; done
stack_stop "$S" cad
tok=$tok4; agree "$rapp4" "$phone4"; order4=$order
tok=$tok5; agree "$rapp5" "$phone5"; order5=$order
tok=$tok6; agree "$rapp6" "$phone6"; order6=$order
[ "$(q "SELECT string_agg(status, ',') FROM issuance_order WHERE id IN ($order4, $order5, $order6)")" = pending,pending,pending ] ||
	fail "the rekeys' orders are not pending"
# The certificate of the fifth revoked by its subscriber, the sixth's put
# on hold by an officer, while their rekeys' orders wait.
tok=$tok5
f=$(factor revoke "$phone5")
req POST "/v1/certificates/$cert5/revoke" "{\"reason\":\"privilegeWithdrawn\",\"factor\":$f}"
expect 200 "the subscriber's revocation of $cert5"
tok=$tok_o
req POST "/v1/officer/certificates/$cert6/hold" '{"reason":"a phone reported stolen"}'
expect 200 "the hold of $cert6"
note "three rekeys agreed to under issuing, their orders pending; one's old certificate then revoked, one's held"

# An approved rekey whose old certificate its subscriber revokes before
# agreeing: the agreement would refuse it (409, "cancel and apply again"),
# and it held the account's one open application for ever (before: still
# approved). rad's notifier cancels it (audited, actor ra:notifier) and
# mails the subscriber to apply again.
tok=$tok7
f=$(factor revoke "$phone7")
req POST "/v1/certificates/$cert7/revoke" "{\"reason\":\"unspecified\",\"factor\":$f}"
expect 200 "the subscriber's revocation of $cert7"
for ((i = 0; i < 300; i++)); do
	[ "$(status_of "$rapp7")" = cancelled ] && break
	sleep 0.1
done
[ "$(status_of "$rapp7")" = cancelled ] ||
	fail "the approved rekey $rapp7 whose old certificate was revoked is $(status_of "$rapp7"), not cancelled"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.application.cancel' AND object_id = '$rapp7' AND actor = 'ra:notifier'
    AND details->>'from' = 'approved' AND details->>'previous' = 'revoked' AND details->>'previous_certificate_id' = '$cert7'")" = 1 ] ||
	fail "the notifier's cancellation of $rapp7 is not audited: $(q "SELECT actor, details FROM audit_event WHERE action = 'ra.application.cancel' AND object_id = '$rapp7'")"
[ "$(q "SELECT count(*) FROM ra_application WHERE account_id = $acc7 AND status IN ('submitted', 'approved', 'agreed')")" = 0 ] ||
	fail "the account of $rapp7 still has an open application"
m=$(wait_mail c7@compromise.example "^Subject: Your certificate application $rapp7 was cancelled") || fail "no cancellation mail to c7"
has 'apply again with a' "$m" && has 'was revoked at' "$m" || fail "the cancellation mail of $rapp7: $(cat "$m")"
note "an approved rekey whose old certificate was then revoked: cancelled by the notifier (audited, mailed)"

# A submitted rekey whose old certificate its subscriber revokes before an
# officer decides it: approving it is refused (409), so it sat in the
# officers' queue until one rejected it by hand (before: still submitted).
# rad's notifier cancels it as the approved one (audited, from submitted;
# mailed), and it leaves the queue.
[ "$(status_of "$rapp8")" = submitted ] || fail "the rekey $rapp8 is $(status_of "$rapp8"), not submitted"
tok=$tok8
f=$(factor revoke "$phone8")
req POST "/v1/certificates/$cert8/revoke" "{\"reason\":\"unspecified\",\"factor\":$f}"
expect 200 "the subscriber's revocation of $cert8"
for ((i = 0; i < 300; i++)); do
	[ "$(status_of "$rapp8")" = cancelled ] && break
	sleep 0.1
done
[ "$(status_of "$rapp8")" = cancelled ] ||
	fail "the submitted rekey $rapp8 whose old certificate was revoked is $(status_of "$rapp8"), not cancelled"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.application.cancel' AND object_id = '$rapp8' AND actor = 'ra:notifier'
    AND details->>'from' = 'submitted' AND details->>'previous' = 'revoked' AND details->>'previous_certificate_id' = '$cert8'")" = 1 ] ||
	fail "the notifier's cancellation of $rapp8 is not audited: $(q "SELECT actor, details FROM audit_event WHERE action = 'ra.application.cancel' AND object_id = '$rapp8'")"
[ "$(q "SELECT count(*) FROM ra_application WHERE account_id = $acc8 AND status IN ('submitted', 'approved', 'agreed')")" = 0 ] ||
	fail "the account of $rapp8 still has an open application"
tok=$tok_o
req GET "/v1/officer/applications?status=submitted&kind=rekey"
expect 200 "the officers' queue of submitted rekeys"
jq -e --argjson a "$rapp8" '[.applications[].id] | index($a) == null' "$tmp/out" >/dev/null ||
	fail "the cancelled rekey $rapp8 is still in the officers' queue: $(cat "$tmp/out")"
m=$(wait_mail c8@compromise.example "^Subject: Your certificate application $rapp8 was cancelled") || fail "no cancellation mail to c8"
has 'was submitted, but' "$m" && has 'before an officer decided on it' "$m" && has 'apply again with a' "$m" ||
	fail "the cancellation mail of $rapp8: $(cat "$m")"
note "a submitted rekey whose old certificate was then revoked: cancelled by the notifier (audited, mailed), out of the queue"

# --- the compromise: issuing-2, issuing revoked by the root, cad and rad on issuing-2 ---
pkictl ca issuing >"$tmp/iss.out" 2>&1 || { cat "$tmp/iss.out"; fail "pkictl ca issuing"; }
pkictl ca responder --issuer issuing-2 >"$tmp/resp.out" 2>&1 || { cat "$tmp/resp.out"; fail "pkictl ca responder"; }
iserial=$(openssl x509 -in "$pki/issuing.pem" -noout -serial | cut -d= -f2)
pkictl cert revoke --issuer root --serial "$iserial" --reason cACompromise >"$tmp/rev.out" 2>&1 ||
	{ cat "$tmp/rev.out"; fail "cert revoke of issuing's certificate"; }
stack_stop "$S" ra
PKI_CAD_ISSUER=issuing-2 stack_up "$S"
revoked_at=$(q "SELECT to_char(x.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM certificate x, ca_certificate i
    WHERE i.name = 'issuing' AND x.issuer_id = i.issuer_id AND x.serial = i.serial")
note "issuing-2 made; issuing revoked by the root (cACompromise) at $revoked_at; cad and rad on issuing-2"

# --- rekeys agreed to under the revoked CA: agree again, or told to apply again ----------
# cad fails their orders; rad's notifier gives an application back to its
# subscriber's agreement (schema/089). A rekey whose old certificate was
# revoked meanwhile could not be agreed to (409: only a certificate that
# stands is rekeyed), yet was mailed "please agree again" and left
# approved, holding the account's one open application: it is cancelled
# (audited, actor ra:notifier) and its subscriber told to apply again. One
# whose old certificate is on hold waits for the hold's end.
for ((i = 0; i < 300; i++)); do
	[ "$(status_of "$rapp4")" = approved ] && [ "$(status_of "$rapp5")" = cancelled ] && break
	sleep 0.1
done
[ "$(q "SELECT string_agg(status, ',') FROM issuance_order WHERE id IN ($order4, $order5, $order6)")" = failed,failed,failed ] ||
	fail "cad did not fail the orders under the revoked issuing CA: $(q "SELECT string_agg(status, ',') FROM issuance_order WHERE id IN ($order4, $order5, $order6)")"
[ "$(status_of "$rapp4")" = approved ] || fail "the rekey $rapp4 is $(status_of "$rapp4"), not approved again"
[ "$(status_of "$rapp5")" = cancelled ] || fail "the rekey $rapp5 whose old certificate was revoked is $(status_of "$rapp5"), not cancelled"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.application.cancel' AND object_id = '$rapp5' AND actor = 'ra:notifier'
    AND details->>'failed_order_id' = '$order5' AND details->>'previous' = 'revoked' AND details->>'from' = 'agreed'
    AND details->>'previous_certificate_id' = '$cert5'")" = 1 ] ||
	fail "the notifier's cancellation is not audited: $(q "SELECT details FROM audit_event WHERE action = 'ra.application.cancel' AND object_id = '$rapp5'")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.application.reopen' AND object_id = '$rapp5'")" = 0 ] ||
	fail "the rekey $rapp5 was reopened"
m=$(wait_mail c5@compromise.example "^Subject: Your certificate application $rapp5 was cancelled") || fail "no cancellation mail"
has 'apply again with a new e-KTP photo and selfie' "$m" && has 'was revoked meanwhile' "$m" || fail "the cancellation mail: $(cat "$m")"
! grep -l -- "please agree again" $(grep -l -- '^To: <c5@compromise.example>' "$mail"/*.eml) >/dev/null 2>&1 ||
	fail "the subscriber of $rapp5 was asked to agree again"
m=$(wait_mail c4@compromise.example "^Subject: Your certificate application $rapp4: please agree again") || fail "no agree-again mail"
has "Agree before .*, when the certificate this rekey replaces" "$m" || fail "the agree-again mail of a rekey: $(cat "$m")"
q "NOTIFY issuance_done, '0:test'" >/dev/null
sleep 2
[ "$(status_of "$rapp6")" = agreed ] || fail "the rekey $rapp6 whose old certificate is on hold is $(status_of "$rapp6"), not agreed"
tok=$tok4
agree "$rapp4" "$phone4"
app_issued "$rapp4" || fail "the rekey $rapp4 agreed again was not issued"
[ "$(issuer_of "$(cert_of "$rapp4")")" = issuing-2 ] || fail "the rekey $rapp4 is not of issuing-2"
[ "$(revocation_of "$cert4")" = "4|ra:notifier" ] || fail "the old certificate $cert4 not superseded: $(revocation_of "$cert4")"
tok=$tok_o
req POST "/v1/officer/certificates/$cert6/release" '{"reason":"the phone was found"}'
expect 200 "the release of $cert6"
for ((i = 0; i < 300; i++)); do
	[ "$(status_of "$rapp6")" = approved ] && break
	sleep 0.1
done
[ "$(status_of "$rapp6")" = approved ] || fail "the rekey $rapp6 is $(status_of "$rapp6") once the hold was released, not approved"
tok=$tok6
agree "$rapp6" "$phone6"
app_issued "$rapp6" || fail "the rekey $rapp6 agreed again was not issued"
note "rekeys under the revoked CA: agreed again and issued; cancelled (audited, mailed) when the old certificate was revoked; waiting while it is on hold"

# --- the subscribers of the revoked CA told, once: rekey now, no new KYC ---------------
# Before, nobody was told: "issuer-revoked" showed only in My certificates,
# and the expiry reminders still said "rekey before <expiry>". The notifier
# mails each subscriber whose certificate may be rekeyed because its
# issuing CA was revoked (cert1, cert2), once (ra_issuer_revoked_notice,
# schema/090), audited; not those revoked (3, 5, 7), nor those being
# rekeyed (4, 6).
for n in 1 2; do
	eval "c=\$cert$n"
	m=$(wait_mail "c$n@compromise.example" '^Subject: Your certificate no longer validates: its issuing CA was revoked') ||
		fail "the subscriber of $c was not told its issuing CA was revoked"
	has "was revoked on $revoked_at" "$m" && has 'no new' "$m" && has "/v1/certificates/$c/rekey" "$m" ||
		fail "the notice of the issuing CA's revocation: $(cat "$m")"
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.certificate.issuer_revoked' AND object_id = '$c'
	    AND actor = 'ra:notifier' AND details->>'issuer_revoked_at' = '$revoked_at' AND details->>'issuer_reason' = 'cACompromise'")" = 1 ] ||
		fail "the notice to the subscriber of $c is not audited once: $(q "SELECT actor, details FROM audit_event WHERE action = 'ra.certificate.issuer_revoked' AND object_id = '$c'")"
done
notices() { q "SELECT string_agg(certificate_id::text, ',' ORDER BY certificate_id) FROM ra_issuer_revoked_notice"; }
[ "$(notices)" = "$cert1,$cert2" ] || fail "notices recorded: $(notices), not $cert1,$cert2"
# Another rad (a restart, or several): nothing told twice; and its expiry
# reminders (every certificate within 400 days) of such a certificate say
# the same, not "rekey before then".
start_rad rad-remind PKI_REKEY_WINDOW_DAYS=400 PKI_REKEY_REMINDER_DAYS=400 PKI_NOTIFIER_INTERVAL_SECONDS=1
m=$(wait_mail c1@compromise.example '^Subject: Your certificate expires in [0-9]+ day\(s\); its issuing CA was revoked: rekey it now') ||
	fail "the expiry reminder of $cert1 does not say its issuing CA was revoked: $(grep -l '^Subject: Your certificate expires' $(grep -l -- '^To: <c1@compromise.example>' "$mail"/*.eml) | xargs -r cat)"
has "was revoked on $revoked_at" "$m" && has 'Rekey it now' "$m" && has 'no new KYC' "$m" && ! has 'before then' "$m" ||
	fail "the expiry reminder of $cert1: $(cat "$m")"
[ "$(q "SELECT details->>'issuer_revoked_at' FROM audit_event WHERE action = 'ra.certificate.expiry_reminder' AND object_id = '$cert1'")" = "$revoked_at" ] ||
	fail "the expiry reminder's audit event does not name the issuer's revocation"
kill -TERM "$rad_pid"
wait "$rad_pid" 2>/dev/null || true
[ "$(notices)" = "$cert1,$cert2" ] || fail "notices recorded after another rad: $(notices)"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.certificate.issuer_revoked'")" = 2 ] ||
	fail "notices audited twice: $(q "SELECT count(*) FROM audit_event WHERE action = 'ra.certificate.issuer_revoked'")"
[ "$(grep -l -- '^Subject: Your certificate no longer validates' $(grep -l -- '^To: <c1@compromise.example>' "$mail"/*.eml) | wc -l)" = 1 ] ||
	fail "the subscriber of $cert1 was told more than once"
note "the subscribers of the revoked CA told once (audited, recorded; not twice by another rad), its expiry reminders say to rekey now"

# --- a valid certificate under the revoked CA: rekeyed at once -------------------------
tok=$tok1
req GET "/v1/certificates/$cert1"
expect 200 "My certificate under the revoked issuing CA"
[ "$(jq -r .status "$tmp/out")" = issuer-revoked ] || fail "status: $(jq -r .status "$tmp/out")"
[ "$(jq -r .rekey_from "$tmp/out")" = "$revoked_at" ] ||
	fail "rekey_from is not the issuing CA's revocation: $(jq -r .rekey_from "$tmp/out") (revoked $revoked_at)"
rekey "$cert1" "$phone1"
expect 201 "a rekey of a certificate whose issuing CA was revoked, outside the window"
rapp1=$rapp
[ "$(q "SELECT kind || '|' || status || '|' || previous_certificate_id FROM ra_application WHERE id = $rapp1")" = "rekey|submitted|$cert1" ] ||
	fail "the rekey application: $(q "SELECT kind, status, previous_certificate_id FROM ra_application WHERE id = $rapp1")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.application.rekey' AND object_id = '$rapp1'
    AND actor = 'subscriber:$(q "SELECT account_id FROM ra_application WHERE id = $rapp1")'
    AND details->>'previous_issuer_revoked_at' = '$revoked_at' AND details->>'previous_revoked' = 'false'
    AND details->>'previous_issuer' = (SELECT subject FROM ca_certificate WHERE name = 'issuing')")" = 1 ] ||
	fail "the rekey's audit event does not say why the window did not apply: $(q "SELECT details FROM audit_event WHERE action = 'ra.application.rekey' AND object_id = '$rapp1'")"
approve "$rapp1"
tok=$tok1
req GET "/v1/applications/$rapp1/agreement"
expect 200 "the rekey's agreement preview"
[ "$(jq -r .certificate.issuer "$tmp/out")" = "$(q "SELECT subject FROM ca_certificate WHERE name = 'issuing-2'")" ] ||
	fail "the rekey's preview does not show issuing-2: $(cat "$tmp/out")"
agree "$rapp1" "$phone1"
[ "$(q "SELECT i.name FROM issuance_order o JOIN ca_certificate i ON i.id = o.issuer_id WHERE o.id = $order")" = issuing-2 ] ||
	fail "the rekey's order does not name issuing-2"
app_issued "$rapp1" || fail "the rekey $rapp1 was not issued: $(q "SELECT status, last_error FROM issuance_order WHERE id = $order")"
new1=$(cert_of "$rapp1")
[ "$(issuer_of "$new1")" = issuing-2 ] || fail "the new certificate is not of issuing-2"
[ "$(revocation_of "$new1")" = "valid|" ] || fail "the new certificate is revoked: $(revocation_of "$new1")"
[ "$(revocation_of "$cert1")" = "4|ra:notifier" ] || fail "the old certificate not superseded: $(revocation_of "$cert1")"
q "SELECT encode(der, 'base64') FROM certificate WHERE id = $new1" | base64 -d | openssl x509 -inform DER -out "$tmp/new1.pem"
openssl verify -CAfile "$pki/root.pem" -untrusted "$pki/chain-issuing-2.pem" "$tmp/new1.pem" >"$tmp/v.out" 2>&1 ||
	{ cat "$tmp/v.out"; fail "the new certificate does not verify with chain-issuing-2.pem"; }
note "a valid certificate under the revoked CA: rekeyed outside the window (audited why), approved, agreed, issued under issuing-2, the old one superseded"

# --- revoked by the CA as cACompromise: rekeyed too, the new one not revoked with it ----
# The notifier revokes a rekey's new certificate with the reason of the
# old one's revocation (one that came after the agreement: an
# affiliationChanged must not be undone), but not keyCompromise, and not
# cACompromise when the new certificate is of another issuing CA: before,
# the new certificate was revoked (cACompromise) as soon as it was issued.
s2serial=$(q "SELECT serial FROM certificate WHERE id = $cert2")
pkictl cert revoke --issuer issuing --serial "$s2serial" --reason cACompromise >"$tmp/rev2.out" 2>&1 ||
	{ cat "$tmp/rev2.out"; fail "cert revoke of $cert2 (cACompromise)"; }
# Its subscriber's notice of the revocation names the next step, a rekey
# with no new KYC; before, "Apply for a new certificate" (a new KYC).
m=$(wait_mail c2@compromise.example '^Subject: Your certificate was revoked') || fail "no revocation notice to c2"
has 'no new KYC' "$m" && has "/v1/certificates/$cert2/rekey" "$m" && ! has 'Apply for a new certificate' "$m" ||
	fail "the notice of $cert2's revocation as cACompromise under the revoked CA: $(cat "$m")"
m=$(wait_mail c3@compromise.example '^Subject: Your certificate was revoked') || fail "no revocation notice to c3"
has 'Apply for a new certificate' "$m" || fail "the notice of $cert3's revocation by its subscriber: $(cat "$m")"
tok=$tok2
req GET "/v1/certificates/$cert2"
expect 200 "My certificate revoked as cACompromise"
[ "$(jq -r '.status + "|" + .revocation.reason' "$tmp/out")" = "revoked|cACompromise" ] ||
	fail "the certificate revoked as cACompromise: $(jq -c '{status, revocation}' "$tmp/out")"
rekey "$cert2" "$phone2"
expect 201 "a rekey of a certificate the CA revoked as cACompromise, its issuing CA revoked"
rapp2=$rapp
[ "$(q "SELECT details->>'previous_revoked' FROM audit_event WHERE action = 'ra.application.rekey' AND object_id = '$rapp2'")" = true ] ||
	fail "the rekey's audit event does not say the old certificate was revoked"
approve "$rapp2"
tok=$tok2
agree "$rapp2" "$phone2"
app_issued "$rapp2" || fail "the rekey $rapp2 was not issued: $(q "SELECT status, last_error FROM issuance_order WHERE id = $order")"
new2=$(cert_of "$rapp2")
[ "$(issuer_of "$new2")" = issuing-2 ] || fail "the new certificate is not of issuing-2"
[ "$(revocation_of "$new2")" = "valid|" ] ||
	fail "the new certificate of issuing-2 was revoked with the old issuer's compromise: $(revocation_of "$new2")"
[ "$(q "SELECT revocation_reason FROM certificate WHERE id = $cert2")" = 2 ] ||
	fail "the old certificate's revocation changed: $(revocation_of "$cert2")"
m=$(wait_mail c2@compromise.example 'has been issued') || fail "no issuance mail"
! has 'revoked at once' "$m" || fail "the issuance mail says the new certificate was revoked: $(cat "$m")"
# Once: it stays revoked as cACompromise (not superseded), and a second
# rekey of it would give one more valid certificate for one identity
# (until 2026-12-07 it did: 201, approved, agreed, issued).
tok=$tok2
rekey "$cert2" "$phone2"
expect 409 "a second rekey of a certificate already rekeyed"
detail | has "the certificate was rekeyed already: certificate serial $(q "SELECT serial FROM certificate WHERE id = $new2") replaces it" ||
	fail "the second rekey's refusal: $(detail)"
[ "$(q "SELECT count(*) FROM ra_application WHERE previous_certificate_id = $cert2")" = 1 ] ||
	fail "a second rekey application of $cert2 was made"
note "a certificate the CA revoked as cACompromise: rekeyed once, the new one of issuing-2 valid (not revoked with it); a second rekey refused (409)"

# --- revoked by its subscriber: final, compromise or not ---------------------------------
tok=$tok3
f=$(factor rekey "$phone3")
before
req POST "/v1/certificates/$cert3/rekey" "{\"factor\":$f}"
expect 409 "a rekey of a certificate its subscriber revoked"
detail | has 'revoked; a revocation is final' || fail "rekey of a revoked certificate: $(detail)"
unchanged "a rekey of a certificate its subscriber revoked"
note "a certificate its subscriber revoked: no rekey (409), compromise or not"

no_secret_in "rad's log" "$log"
