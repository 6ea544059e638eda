#!/usr/bin/env bash
# The RA officers' review over HTTP against the stack of tests/run.sh:
# officers made with pkictl (two ra_officer, one auditor, one linked to a
# subscriber account), subscribers with personal KYC applications; the queue
# with filters, search and paging and its strict query string; the detail
# with every automatic check (the LOCAL SIMULATOR's OCR-MISMATCH,
# LIVENESS-FAIL and MATCH-FAIL triggers make checks fail; a duplicate NIK
# in another account's open application, named, not once rejected, and
# with an active certificate); evidence bytes as uploaded, each view
# audited; approve and reject with the applicant's email from the mail sink
# and a new application after a rejection; every refusal (no reason,
# auditor, the same officer twice, an officer's own application, an
# application no longer submitted) with its status and no change to the
# tables, the mail sink or the audit; four-eyes for a corporate application,
# also when the two approvals come at once (an open transaction commits the
# first while rad's second waits for the application's lock);
# officer revocation of a certificate cad issued, seen by `openssl ocsp`
# with its reason, refusals of disallowed reasons and of a second
# revocation; every change audited with the officer actor; no full NIK and
# no secret in rad's log. Caching: both log-ins (a session token), the
# queue, the detail, the evidence and the refusals under /v1/officer/ are
# Cache-Control: no-store (once); the evidence is also nosniff and inline
# with a file name saying whose it is.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
url=$PKI_RA_URL
mail=$PKI_DIR/spool/ra-mail
log=$PKI_DIR/log/ra.log
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
secrets=()

# req METHOD PATH [BODY-FILE] (Bearer $tok): sets code; body in $tmp/out.
req() {
	local args=(-sS -X "$1" -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}')
	[ $# -lt 3 ] || args+=(-H "Content-Type: application/json" --data-binary "@$3")
	[ -z "${tok:-}" ] || args+=(-H "Authorization: Bearer $tok")
	code=$(curl "${args[@]}" "$url$2")
}
req_patient() {
	req "$@"
	if [ "$code" = 429 ]; then
		sleep "$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/ip' "$tmp/hdr")"
		req "$@"
	fi
}
json() { printf '%s' "$1" >"$tmp/body.json"; echo "$tmp/body.json"; }
# The accounts this test makes (tests run one at a time, and no daemon makes
# one) have ids above acct0: the snapshot shows the applications of those,
# while rad's notifier may issue, reopen or cancel an earlier test's in any
# window (with its own audit event, ra:notifier: AUDIT_MAX_OWN). No daemon
# makes or deletes an application or an order, so both are counted whole.
# The revocations (count and newest revocation_seq) of this test's own
# certificates, those of the orders it makes (ids above order0), and of the
# CA certificates a refusal names: an earlier test's rekey left agreed, its
# order issued by cad in any window, has rad's notifier supersede (or hold,
# or revoke) that test's certificates meanwhile.
acct0=$(q "SELECT coalesce(max(id), 0) FROM ra_account")
order0=$(q "SELECT coalesce(max(id), 0) FROM issuance_order")
own_certs="certificate WHERE (id IN (SELECT certificate_id FROM issuance_order WHERE id > $order0)
    OR profile IN ('root', 'issuing-ca'))"
state() {
	q "SELECT (SELECT count(*) FROM ra_application) || '/' ||
	    (SELECT coalesce(string_agg(id || status || coalesce(order_id::text, ''), ',' ORDER BY id), '')
	    FROM ra_application WHERE account_id > $acct0) || '/' ||
	    (SELECT count(*) FROM issuance_order) || '/' ||
	    (SELECT count(*) FROM ra_decision) || '/' ||
	    (SELECT count(*) FROM $own_certs AND revoked_at IS NOT NULL) || '/' ||
	    (SELECT coalesce(max(revocation_seq), 0) FROM $own_certs) || '/' ||
	    $AUDIT_MAX_OWN"
	{ grep -l -- '^To: <[^>]*@review\.example>' "$mail"/*.eml 2>/dev/null || true; } | wc -l
}
# The mail sink counted by this test's recipients (rad's outbox sends the
# other tests' mail whenever it comes), and this test's own queued mail (an
# approval's, a hold's) sent before the snapshot, not during the request.
before() {
	outbox_settled '%@review.example' || fail "rad's outbox did not send this test's mail within 30 s"
	state >"$tmp/state.before"
}
unchanged() {
	state >"$tmp/state.after"
	cmp -s "$tmp/state.before" "$tmp/state.after" ||
		fail "$1 changed state: $(tr '\n' ' ' <"$tmp/state.before") -> $(tr '\n' ' ' <"$tmp/state.after")"
}
# refuse STATUS WHAT METHOD PATH [BODY-FILE]: the request fails, nothing changes.
refuse() {
	local st=$1 what=$2
	shift 2
	before
	req "$@"
	expect "$st" "$what"
	unchanged "$what"
}
# no_store WHAT: the answer in $tmp/hdr has exactly one Cache-Control,
# no-store, and one X-Content-Type-Options, nosniff (every /v1/ answer).
no_store() {
	[ "$(tr -d '\r' <"$tmp/hdr" | grep -i '^cache-control:' | tr 'A-Z' 'a-z')" = 'cache-control: no-store' ] ||
		fail "$1: not Cache-Control: no-store once: $(grep -i '^cache-control' "$tmp/hdr" | tr -d '\r' | tr '\n' ' ')"
	[ "$(tr -d '\r' <"$tmp/hdr" | grep -i '^x-content-type-options:' | tr 'A-Z' 'a-z')" = \
		'x-content-type-options: nosniff' ] || fail "$1: not X-Content-Type-Options: nosniff once"
}
# header NAME: the value of the response header NAME in $tmp/hdr.
header() { tr -d '\r' <"$tmp/hdr" | sed -n "s/^$1: *//Ip"; }
audits() { # audits ACTION OBJECT_ID ACTOR
	q "SELECT count(*) FROM audit_event WHERE action = '$1' AND object_id = '$2' AND actor = '$3'"
}
mail_to() { # mail_to EMAIL: the newest message to EMAIL
	grep -l -- "^To: <$1>" "$mail"/*.eml | xargs ls -t | sed -n 1p
}

# --- images and KYC bodies (python3's standard library) ----------------------------
cat >"$tmp/mk.py" <<'EOF'
import base64, json, struct, sys, zlib

def png(w, h, seed):
    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    raw = b''.join(b'\x00' + bytes((x * 7 + y * 3 + seed) & 0xff for x in range(w * 3))
                   for y in range(h))
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))

cmd = sys.argv[1]
if cmd == 'images':
    d = sys.argv[2]
    open(d + '/ktp.png', 'wb').write(png(96, 64, 1))
    open(d + '/selfie.png', 'wb').write(png(64, 64, 9))
elif cmd == 'body':
    out, name, dob, sex, serial = sys.argv[2:7]
    y, m, dd = (int(x) for x in dob.split('-'))
    nik = '317401%02d%02d%02d%s' % (dd + (40 if sex == 'F' else 0), m, y % 100, serial)
    b = {'nik': nik, 'full_name': name, 'birth_place': 'Bandung', 'birth_date': dob,
         'sex': sex, 'address': 'Jl. Asia Afrika No. 8, Bandung',
         'consents': {'privacy_policy': '1.0', 'subscriber_agreement': '1.0',
                      'guarantee_policy': '1.0'},
         'ktp_photo': base64.b64encode(open(sys.argv[7], 'rb').read()).decode(),
         'selfie': base64.b64encode(open(sys.argv[8], 'rb').read()).decode()}
    open(out, 'w').write(json.dumps(b))
    print(nik)
EOF
python3 "$tmp/mk.py" images "$tmp"

# --- subscribers -------------------------------------------------------------------
spw='Review-Sub-Pass9'
secrets+=("$spw")
# subscriber EMAIL: registered, email verified from the mail sink, logged in;
# sets $aid and $tok. The phone flag is set by SQL as the test superuser:
# the OTP path (POST /v1/otp, /v1/phone/verify) is test_ra_factors' subject.
subscriber() {
	local t f
	tok=
	req_patient POST /v1/register "$(json "{\"email\":\"$1\",\"phone\":\"+6281298765432\",\"password\":\"$spw\"}")"
	expect 201 "register $1"
	aid=$(jq -r .id "$tmp/out")
	f=$(mail_to "$1")
	t=$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$f" | tr -d '\r' | sed -n 1p)
	req POST /v1/verify-email "$(json "{\"token\":\"$t\"}")"
	expect 200 "verify $1"
	q "UPDATE ra_account SET phone_verified = true, phone_verified_at = now() WHERE id = $aid" >/dev/null
	req_patient POST /v1/login "$(json "{\"email\":\"$1\",\"password\":\"$spw\"}")"
	expect 200 "login $1"
	no_store "POST /v1/login"
	tok=$(jq -r .token "$tmp/out")
	secrets+=("$tok")
}
# apply NAME DOB SEX SERIAL: a personal application by the logged-in
# subscriber; sets $app and $nik.
apply() {
	nik=$(python3 "$tmp/mk.py" body "$tmp/kyc.json" "$1" "$2" "$3" "$4" "$tmp/ktp.png" "$tmp/selfie.png")
	req POST /v1/applications "$tmp/kyc.json"
	expect 201 "application of $1"
	app=$(jq -r .id "$tmp/out")
}

subscriber r1@review.example
acc1=$aid tok1=$tok
apply 'Ratna Dewi' 1991-03-12 F 7391
app1=$app nik1=$nik
subscriber r2@review.example
acc2=$aid tok2=$tok
# The same NIK as app1, and the simulator's three failure triggers.
apply 'Ratna OCR-MISMATCH LIVENESS-FAIL MATCH-FAIL' 1991-03-12 F 7391
app2=$app
subscriber r3@review.example
acc3=$aid
apply 'Hendra Gunawan' 1985-11-02 M 4242
app3=$app
subscriber r4@review.example
acc4=$aid
# No corporate submission endpoint exists yet: the corporate application
# is made by SQL as the test superuser.
app4=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($acc4, 'corporate',
    'corporate', '{\"C\":\"ID\",\"O\":\"PT Review Sejahtera\",\"CN\":\"Review Four Eyes\"}') RETURNING id" | sed -n 1p)
note "subscribers and applications: ok"

# --- officers ----------------------------------------------------------------------
opw='Officer-Review-2026'
secrets+=("$opw")
(umask 077; printf '%s\n' "$opw" >"$tmp/officer.pw")
officer() { # officer USER ROLE [ARGS...]: sets $oid and $otok (logged in)
	local u=$1 r=$2 s c
	shift 2
	pkictl officer add --username "$u" --role "$r" --password-file "$tmp/officer.pw" "$@" \
	    >"$tmp/add.out" 2>"$tmp/add.err" || fail "officer add $u: $(cat "$tmp/add.err")"
	s=$(sed -n 's/^totp_secret //p' "$tmp/add.out")
	secrets+=("$s")
	oid=$(q "SELECT id FROM ra_officer WHERE username = '$u'")
	c=$(oathtool --totp -b "$s")
	tok=
	req POST /v1/officer/login "$(json "{\"username\":\"$u\",\"password\":\"$opw\",\"totp\":\"$c\"}")"
	expect 200 "officer login $u"
	no_store "POST /v1/officer/login"
	otok=$(jq -r .token "$tmp/out")
	secrets+=("$otok")
}
command -v oathtool >/dev/null || fail "oathtool missing (deploy/packages.txt; make deps)"
officer rev-one ra_officer
off1=$oid tok_o1=$otok
officer rev-two ra_officer
off2=$oid tok_o2=$otok
officer rev-audit auditor
offa=$oid tok_a=$otok
officer rev-own ra_officer --account-email r3@review.example
off3=$oid tok_o3=$otok
note "officers: ok"

# --- the queue ---------------------------------------------------------------------
tok=$tok_a
req GET /v1/officer/applications
expect 200 "queue (auditor)"
no_store "the queue"
[ "$(jq -r '.per_page' "$tmp/out")" = 20 ] || fail "default per_page"
total=$(q "SELECT count(*) FROM ra_application")
[ "$(jq -r .total "$tmp/out")" = "$total" ] || fail "queue total $(jq -r .total "$tmp/out") != $total"
ids=$(jq -r '[.applications[].id] | map(tostring) | join(",")' "$tmp/out")
[ "$ids" = "$(q "SELECT string_agg(id::text, ',' ORDER BY id DESC) FROM (SELECT id FROM ra_application ORDER BY id DESC LIMIT 20) x")" ] ||
	fail "queue not newest first: $ids"
grep -Eq '[0-9]{16}' "$tmp/out" && fail "the queue shows a full NIK"
tok=$tok_o1
req GET "/v1/officer/applications?kind=corporate&status=submitted"
expect 200 "queue kind+status"
jq -e --argjson id "$app4" '[.applications[] | select(.id == $id)] | length == 1' "$tmp/out" >/dev/null ||
	fail "corporate filter misses app4"
jq -e 'all(.applications[]; .kind == "corporate" and .status == "submitted")' "$tmp/out" >/dev/null ||
	fail "kind/status filters"
req GET "/v1/officer/applications?q=R2%40review.EXAMPLE"
expect 200 "search by email"
[ "$(jq -r '[.applications[].id] | map(tostring) | join(",")' "$tmp/out")" = "$app2" ] || fail "email search: $(cat "$tmp/out")"
req GET "/v1/officer/applications?q=hendra+gunawan"
expect 200 "search by name"
[ "$(jq -r '[.applications[].id] | map(tostring) | join(",")' "$tmp/out")" = "$app3" ] || fail "name search"
req GET "/v1/officer/applications?q=${nik1: -4}"
expect 200 "search by NIK last 4"
# Other tests' rows share the stack: one of theirs may match the same four
# digits in its email (console-<pid>@…) or NIK. Every result must match
# the query; ours are exactly app1 and app2.
jq -e --arg d "${nik1: -4}" 'all(.applications[]; .nik_last4 == $d or (.email | contains($d)))' \
	"$tmp/out" >/dev/null || fail "NIK search: a result that does not match: $(cat "$tmp/out")"
[ "$(jq -r '[.applications[] | select(.email | endswith("@review.example")) | .id] | sort | map(tostring) | join(",")' \
	"$tmp/out")" = "$app1,$app2" ] || fail "NIK search: $(cat "$tmp/out")"
[ "$(jq -r --argjson a "$app1" '.applications[] | select(.id == $a) | .nik_last4' "$tmp/out")" = "${nik1: -4}" ] ||
	fail "nik_last4"
req GET "/v1/officer/applications?q=review.example&per_page=1&page=2"
expect 200 "paging"
[ "$(jq -r '.total' "$tmp/out")" -ge 4 ] || fail "paging total"
[ "$(jq -r '.applications | length' "$tmp/out")" = 1 ] || fail "per_page 1"
[ "$(jq -r '.applications[0].id' "$tmp/out")" = "$app3" ] || fail "page 2 of per_page 1: $(cat "$tmp/out")"
req GET "/v1/officer/applications?q=review.example&per_page=100&page=1000"
expect 200 "a page past the end"
[ "$(jq -r '.applications | length' "$tmp/out")" = 0 ] || fail "page past the end not empty"
for bad in 'foo=1' 'status=open' 'kind=eseal' 'per_page=101' 'per_page=0' 'page=0' 'page=-1' \
    'page=01' 'status=submitted&status=approved' 'q=%ZZ' 'q=%00' 'status' \
    "q=$(printf 'a%.0s' $(seq 101))"; do
	refuse 400 "query $bad" GET "/v1/officer/applications?$bad"
done
tok=
refuse 401 "queue without a token" GET /v1/officer/applications
no_store "the queue's 401"
req DELETE /v1/officer/applications
expect 405 "DELETE on the queue"
no_store "the queue's 405"
tok=$tok1
refuse 401 "queue with a subscriber token" GET /v1/officer/applications
note "queue, filters, search, paging, strict query: ok"

# --- the detail and its checks -----------------------------------------------------
check() { # check NAME: pass of the named check in $tmp/out
	jq -r --arg n "$1" '.checks[] | select(.name == $n) | .pass' "$tmp/out"
}
# The auditor's detail is masked (ra/README.md "Roles"): the NIK's last four
# digits, no birth date, birth place or address, the OCR without NIK and
# birth date; the checks and the rest as an officer sees them.
tok=$tok_a
req GET "/v1/officer/applications/$app1"
expect 200 "detail (auditor)"
no_store "the detail (auditor)"
[ "$(jq -r .kyc.nik_last4 "$tmp/out")" = "${nik1: -4}" ] || fail "the auditor's detail lacks nik_last4"
jq -e '.kyc | (has("nik") or has("birth_date") or has("birth_place") or has("address") or
    (.idv.ocr | has("nik") or has("birth_date"))) | not' "$tmp/out" >/dev/null ||
	fail "the auditor's detail is not masked: $(jq -c .kyc "$tmp/out")"
[ "$(jq -r .subject.serialNumber "$tmp/out")" = "NIK:************${nik1: -4}" ] ||
	fail "the auditor's subject: $(jq -c .subject "$tmp/out")"
grep -q -- "$nik1" "$tmp/out" && fail "the auditor's detail shows the full NIK"
jq -e '(.kyc.full_name | length) > 0 and (.kyc.idv.ocr | has("full_name")) and .kyc.sex != null and
    (.checks | length) >= 9 and .account.email == "r1@review.example"' "$tmp/out" >/dev/null ||
	fail "the auditor's detail lost the name, the checks or the account: $(jq -c '.kyc, .checks' "$tmp/out")"
tok=$tok_o1
req GET "/v1/officer/applications/$app1"
expect 200 "detail (officer)"
no_store "the detail"
[ "$(jq -r .kyc.nik "$tmp/out")" = "$nik1" ] || fail "the detail lacks the full NIK"
[ "$(jq -r .subject.serialNumber "$tmp/out")" = "NIK:$nik1" ] || fail "the officer's subject: $(jq -c .subject "$tmp/out")"
jq -e '.kyc | has("nik_last4") | not' "$tmp/out" >/dev/null || fail "the officer's detail has nik_last4"
jq -e '.kyc | (.birth_date | length) == 10 and (.address | length) > 0 and (.birth_place | length) > 0 and
    .idv.ocr.nik != null and .idv.ocr.birth_date != null' "$tmp/out" >/dev/null ||
	fail "the officer's detail lacks the birth date, place, address or OCR: $(jq -c .kyc "$tmp/out")"
jq -e 'has("company") and .company == null' "$tmp/out" >/dev/null || fail "a personal application with a company"
[ "$(jq -r '.account.email + "/" + (.account.email_verified|tostring) + "/" + (.account.phone_verified|tostring)' "$tmp/out")" = \
    r1@review.example/true/true ] || fail "account in detail"
for c in nik_structure nik_birth_date_sex age ocr_nik ocr_name ocr_birth_date liveness match; do
	[ "$(check $c)" = true ] || fail "app1 check $c: $(jq -c --arg n $c '.checks[] | select(.name == $n)' "$tmp/out")"
done
# dup_detail: the detail of duplicate_nik in $tmp/out.
dup_detail() { jq -r '.checks[] | select(.name == "duplicate_nik") | .detail' "$tmp/out"; }
# r2's open application with app1's NIK: neither holds a certificate yet,
# and two officers approving both would issue two certificates with one
# serialNumber; each names the other.
[ "$(check duplicate_nik)" = false ] || fail "app1: r2's open application with the same NIK not flagged: $(dup_detail)"
dup_detail | has -F "1 open application(s) of other accounts with this NIK: application $app2 (submitted, account $acc2)" ||
	fail "app1: duplicate_nik does not name r2's application: $(dup_detail)"
[ "$(jq -r '.kyc.evidence.ktp_photo.bytes' "$tmp/out")" = "$(stat -c %s "$tmp/ktp.png")" ] || fail "ktp bytes"
req GET "/v1/officer/applications/$app2"
expect 200 "detail of the failing application"
for c in ocr_nik ocr_name liveness match; do
	[ "$(check $c)" = false ] || fail "app2 check $c should fail: $(jq -c '.checks' "$tmp/out")"
done
for c in nik_structure nik_birth_date_sex age; do
	[ "$(check $c)" = true ] || fail "app2 check $c should pass"
done
[ "$(check duplicate_nik)" = false ] && dup_detail | has -F "application $app1 (submitted, account $acc1)" ||
	fail "app2: r1's open application with the same NIK not named: $(dup_detail)"
jq -r '.checks[] | select(.name == "liveness") | .detail' "$tmp/out" | has 'threshold 70' ||
	fail "liveness detail names the threshold"
# A stored NIK whose date no longer fits (the NIK check itself is recomputed).
req GET "/v1/officer/applications/$app4"
expect 200 "detail without KYC"
[ "$(check kyc)" = false ] && [ "$(jq -r .kyc "$tmp/out")" = null ] || fail "corporate detail: $(cat "$tmp/out")"
[ "$(jq -r .four_eyes "$tmp/out")" = true ] || fail "corporate is four-eyes"
refuse 404 "detail of no application" GET /v1/officer/applications/999999999
no_store "the detail's 404"
note "detail and automatic checks: ok"

# Opening the full identity record is audited ra.application.view (actor the
# officer; details role and client, never a personal value), once per
# officer and application an hour: the auditor's one view and the officer's
# one so far, the officer's second within the hour not again; once the last
# is an hour old (ra_application_view, schema/111, aged here), again.
[ "$(audits ra.application.view "$app1" "officer:$offa")/$(audits ra.application.view "$app1" "officer:$off1")" = 1/1 ] ||
	fail "detail views not audited once each: $(audits ra.application.view "$app1" "officer:$offa")/$(audits ra.application.view "$app1" "officer:$off1")"
[ "$(q "SELECT string_agg((details->>'role') || ':' || (SELECT string_agg(k, '+' ORDER BY k)
	FROM jsonb_object_keys(details) k), ',' ORDER BY id) FROM audit_event WHERE action = 'ra.application.view'
	AND object_type = 'ra_application' AND object_id = '$app1' AND actor IN ('officer:$offa', 'officer:$off1')")" = \
    'auditor:client+role,ra_officer:client+role' ] ||
	fail "ra.application.view details: $(q "SELECT string_agg(details::text, ',') FROM audit_event WHERE action = 'ra.application.view' AND object_id = '$app1'")"
tok=$tok_o1
req GET "/v1/officer/applications/$app1"
expect 200 "detail again within the hour"
[ "$(audits ra.application.view "$app1" "officer:$off1")" = 1 ] || fail "a second view within the hour audited again"
q "UPDATE ra_application_view SET audited_at = now() - interval '61 minutes'
	WHERE officer_id = $off1 AND application_id = $app1" >/dev/null
req GET "/v1/officer/applications/$app1"
expect 200 "detail an hour later"
[ "$(audits ra.application.view "$app1" "officer:$off1")" = 2 ] || fail "a view an hour after the last not audited"
req GET "/v1/officer/applications/$app1"
expect 200 "detail again"
[ "$(audits ra.application.view "$app1" "officer:$off1")" = 2 ] || fail "the view after that audited again"
note "detail views audited, once an hour per officer and application: ok"

# --- evidence ----------------------------------------------------------------------
# The auditor reads everything but the two images (schema/012): 403, no
# byte of either served, nothing audited.
tok=$tok_a
for ev in ktp_photo selfie; do
	refuse 403 "evidence $ev (auditor)" GET "/v1/officer/applications/$app1/evidence/$ev"
	[ "$(jq -r .status "$tmp/out")" = 403 ] && grep -qi '^content-type: application/problem+json' "$tmp/hdr" ||
		fail "evidence $ev (auditor): not a problem body: $(head -c 200 "$tmp/out")"
	no_store "the auditor's 403 of $ev"
done
[ "$(audits ra.evidence.view "$app1" "officer:$offa")" = 0 ] || fail "an auditor's refused evidence view audited"
n0=$(audits ra.evidence.view "$app1" "officer:$off1")
code=$(curl -sS -o "$tmp/ev.bin" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok_o1" \
    "$url/v1/officer/applications/$app1/evidence/ktp_photo")
[ "$code" = 200 ] || fail "evidence ktp_photo: $code"
cmp -s "$tmp/ev.bin" "$tmp/ktp.png" || fail "ktp_photo bytes differ from the upload"
grep -qi '^content-type: image/png' "$tmp/hdr" || fail "ktp_photo content type"
no_store "the e-KTP photo"
[ "$(header x-content-type-options)" = nosniff ] || fail "the e-KTP photo is not nosniff"
# Opened on its own (a polyglot's markup), it runs nothing.
[ "$(header content-security-policy)" = "default-src 'none'; sandbox" ] ||
	fail "the e-KTP photo's Content-Security-Policy: $(header content-security-policy)"
[ "$(header content-disposition)" = "inline; filename=\"application-$app1-ktp_photo.png\"" ] ||
	fail "the e-KTP photo's Content-Disposition: $(header content-disposition)"
code=$(curl -sS -o "$tmp/ev.bin" -D "$tmp/hdr" -w '%{http_code}' -H "Authorization: Bearer $tok_o2" \
    "$url/v1/officer/applications/$app1/evidence/selfie")
[ "$code" = 200 ] && cmp -s "$tmp/ev.bin" "$tmp/selfie.png" || fail "selfie bytes"
no_store "the selfie"
[ "$(header x-content-type-options)" = nosniff ] || fail "the selfie is not nosniff"
[ "$(header content-disposition)" = "inline; filename=\"application-$app1-selfie.png\"" ] ||
	fail "the selfie's Content-Disposition: $(header content-disposition)"
[ "$(audits ra.evidence.view "$app1" "officer:$off1")" = $((n0 + 1)) ] || fail "evidence view not audited"
[ "$(audits ra.evidence.view "$app1" "officer:$off2")" = 1 ] || fail "selfie view not audited"
tok=$tok_o1
refuse 404 "evidence of an application without KYC" GET "/v1/officer/applications/$app4/evidence/selfie"
refuse 404 "evidence of another kind" GET "/v1/officer/applications/$app1/evidence/passport"
no_store "the 404 of unknown evidence"
note "evidence: ok"

# --- decisions: refusals -----------------------------------------------------------
dec() { json "{\"decision\":\"$1\",\"reason\":\"$2\"}"; }
tok=$tok_o1
refuse 400 "decision without a reason" POST "/v1/officer/applications/$app1/decision" "$(json '{"decision":"approve"}')"
refuse 400 "decision with a blank reason" POST "/v1/officer/applications/$app1/decision" "$(dec approve '  ')"
refuse 400 "decision with an unknown member" POST "/v1/officer/applications/$app1/decision" \
    "$(json '{"decision":"approve","reason":"ok","x":1}')"
refuse 400 "decision neither approve nor reject" POST "/v1/officer/applications/$app1/decision" "$(dec maybe ok)"
refuse 400 "decision with a reason over 1000 bytes" POST "/v1/officer/applications/$app1/decision" \
    "$(dec approve "$(printf 'x%.0s' $(seq 1001))")"
refuse 404 "decision on no application" POST /v1/officer/applications/999999999/decision "$(dec approve ok)"
tok=$tok_a
refuse 403 "decision by an auditor" POST "/v1/officer/applications/$app1/decision" "$(dec approve 'looks fine')"
tok=$tok_o3
refuse 403 "decision on the officer's own application" POST "/v1/officer/applications/$app3/decision" "$(dec approve 'mine')"
jq -r .detail "$tmp/out" | has 'own' || fail "own-application detail"
# The database refuses it too, whatever rad would do.
sql_fails "$PKI_TEST_PG_URI" "INSERT INTO ra_decision (application_id, officer_id, decision, reason)
    VALUES ($app3, $off3, 'approve', 'x')" 'may not decide'
sql_fails "$PKI_TEST_PG_URI" "INSERT INTO ra_decision (application_id, officer_id, decision, reason)
    VALUES ($app3, $offa, 'approve', 'x')" 'may not decide'
note "decision refusals: ok"

# --- approve, reject, apply again ---------------------------------------------------
tok=$tok_o1
req POST "/v1/officer/applications/$app1/decision" "$(dec approve 'Documents and scores consistent')"
expect 200 "approve app1"
[ "$(jq -r .status "$tmp/out")" = approved ] || fail "app1 not approved: $(cat "$tmp/out")"
[ "$(q "SELECT status || '/' || (decided_at IS NOT NULL) FROM ra_application WHERE id = $app1")" = approved/true ] ||
	fail "app1 row"
f=$(mail_to r1@review.example)
grep -q "^Subject: .*application $app1 is approved" "$f" || fail "approval email: $(cat "$f")"
[ "$(audits ra.application.decide "$app1" "officer:$off1")" = 1 ] &&
	[ "$(audits ra.application.approve "$app1" "officer:$off1")" = 1 ] || fail "approval not audited"
refuse 409 "the same officer deciding again" POST "/v1/officer/applications/$app1/decision" "$(dec reject 'changed my mind')"
tok=$tok_o2
refuse 409 "deciding an approved application" POST "/v1/officer/applications/$app1/decision" "$(dec reject 'late')"
reason='e-KTP photo unreadable; liveness 12 below 70'
req POST "/v1/officer/applications/$app2/decision" "$(dec reject "$reason")"
expect 200 "reject app2"
[ "$(q "SELECT status || '/' || decision_reason FROM ra_application WHERE id = $app2")" = "rejected/$reason" ] ||
	fail "app2 row"
f=$(mail_to r2@review.example)
grep -q "^Subject: .*application $app2 was rejected" "$f" && grep -qF -- "$reason" "$f" ||
	fail "rejection email lacks subject or reason: $(cat "$f")"
[ "$(audits ra.application.reject "$app2" "officer:$off2")" = 1 ] || fail "rejection not audited"
[ "$(q "SELECT details->>'reason' FROM audit_event WHERE action = 'ra.application.decide' AND object_id = '$app2'")" = "$reason" ] ||
	fail "decision reason not in the audit"
# A rejected application is no longer open: app1 (approved) has no other.
tok=$tok_o1
req GET "/v1/officer/applications/$app1"
[ "$(check duplicate_nik)" = true ] || fail "app1 after app2's rejection: $(dup_detail)"
# After a rejection the applicant applies again (same NIK): the approved
# app1 and the new submission name each other.
tok=$tok2
apply 'Ratna Dewi' 1991-03-12 F 7391
app2b=$app
tok=$tok_o2
req GET "/v1/officer/applications/$app2b"
[ "$(check duplicate_nik)" = false ] && dup_detail | has -F "application $app1 (approved, account $acc1)" ||
	fail "app2b: r1's approved application with the same NIK not named: $(dup_detail)"
! dup_detail | has -F "application $app2 " || fail "app2b: r2's own rejected application named: $(dup_detail)"
req GET "/v1/officer/applications/$app1"
[ "$(check duplicate_nik)" = false ] && dup_detail | has -F "application $app2b (submitted, account $acc2)" ||
	fail "app1: r2's new application with the same NIK not named: $(dup_detail)"
note "approve and reject with emails, re-application after rejection: ok"

# --- four-eyes ---------------------------------------------------------------------
tok=$tok_o1
req POST "/v1/officer/applications/$app4/decision" "$(dec approve 'Deed and NIB checked')"
expect 200 "first approval of a corporate application"
[ "$(jq -r '.status + "/" + (.approvals|tostring) + "/" + (.approvals_required|tostring)' "$tmp/out")" = submitted/1/2 ] ||
	fail "one approval must leave it submitted: $(cat "$tmp/out")"
[ "$(q "SELECT status FROM ra_application WHERE id = $app4")" = submitted ] || fail "app4 row after one approval"
[ "$(audits ra.application.approve "$app4" "officer:$off1")" = 0 ] || fail "approve audited before the second approval"
refuse 409 "the same officer approving twice (four-eyes)" POST "/v1/officer/applications/$app4/decision" \
    "$(dec approve 'again')"
tok=$tok_o2
req POST "/v1/officer/applications/$app4/decision" "$(dec approve 'Second look: fine')"
expect 200 "second approval"
[ "$(jq -r .status "$tmp/out")" = approved ] || fail "two approvals must approve"
[ "$(q "SELECT count(DISTINCT officer_id) FROM ra_decision WHERE application_id = $app4 AND decision = 'approve'")" = 2 ] ||
	fail "two distinct approvers"
[ "$(audits ra.application.approve "$app4" "officer:$off2")" = 1 ] || fail "four-eyes approval not audited"
grep -q "^Subject: .*application $app4 is approved" "$(mail_to r4@review.example)" || fail "four-eyes email"
tok=$tok_o1
req GET "/v1/officer/applications/$app4"
[ "$(jq -r '[.decisions[].officer] | join(",")' "$tmp/out")" = rev-one,rev-two ] || fail "decisions in the detail"
note "four-eyes: ok"

# --- four-eyes: two officers approve at once ------------------------------------------
# An open transaction stands in for rev-one's approval in another rad
# process: it holds the application's row lock, as ra_decide_txn does, and
# inserts rev-one's ra_decision row (the count reads only ra_decision, not
# the audit). rev-two's approval through rad waits for the lock; once the
# other commits, rad must count both: approved, 2 of 2.
subscriber r5@review.example
acc5=$aid
app5=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($acc5, 'corporate',
    'corporate', '{\"C\":\"ID\",\"O\":\"PT Serentak Jaya\",\"CN\":\"Review Race\"}') RETURNING id" | sed -n 1p)
open_tx
echo "BEGIN; SELECT 1 FROM ra_application WHERE id = $app5 FOR UPDATE;
    INSERT INTO ra_decision (application_id, officer_id, decision, reason)
    VALUES ($app5, $off1, 'approve', 'Deed and NIB checked') RETURNING id;" >&"$tx_in"
read -r -t 10 locked <&"$tx_out" && read -r -t 10 first <&"$tx_out" || fail "the open transaction did not insert"
[ "$locked" = 1 ] && [[ $first =~ ^[0-9]+$ ]] || fail "the open transaction: $locked $first"
printf '%s' '{"decision":"approve","reason":"Second look: fine"}' >"$tmp/race.json"
curl -sS -X POST -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H "Content-Type: application/json" \
    -H "Authorization: Bearer $tok_o2" --data-binary "@$tmp/race.json" \
    "$url/v1/officer/applications/$app5/decision" >"$tmp/race.code" &
race_pid=$!
waiting=0
wait_lock pki_ra && waiting=1
commit_tx
wait "$race_pid" || fail "curl POST .../decision failed"
[ "$waiting" = 1 ] || fail "rad's decision did not wait for the application's lock (the race was not tested)"
code=$(cat "$tmp/race.code")
expect 200 "an approval while another officer's commits"
[ "$(jq -r '.status + "/" + (.approvals|tostring) + "/" + (.approvals_required|tostring)' "$tmp/out")" = approved/2/2 ] ||
	fail "two distinct approvals at once did not approve: $(cat "$tmp/out")"
[ "$(q "SELECT status || '/' || (decided_at IS NOT NULL) FROM ra_application WHERE id = $app5")" = approved/true ] ||
	fail "app5 row after two approvals: $(q "SELECT status FROM ra_application WHERE id = $app5")"
[ "$(q "SELECT count(DISTINCT officer_id) FROM ra_decision WHERE application_id = $app5 AND decision = 'approve'")" = 2 ] ||
	fail "app5's approvers"
[ "$(q "SELECT details->>'approvals' || '/' || (details->>'status') FROM audit_event
    WHERE action = 'ra.application.decide' AND object_id = '$app5' AND actor = 'officer:$off2'")" = 2/approved ] ||
	fail "rev-two's decision audited with the wrong count"
[ "$(audits ra.application.approve "$app5" "officer:$off2")" = 1 ] || fail "the approval not audited"
grep -q "^Subject: .*application $app5 is approved" "$(mail_to r5@review.example)" || fail "no approval email for app5"
note "four-eyes with two approvals at once (the first committed while rad waited for the lock): ok"

# --- four-eyes: an approval by an officer disabled since ---------------------------
# A disabled officer (left, or no longer trusted) is no longer one of the
# four eyes: rev-temp approves, is disabled, and rev-two's approval leaves
# the application submitted (1 of 2, rev-temp's shown disabled); rev-one's
# then approves it. Before, rev-temp's approval still counted.
officer rev-temp ra_officer
offt=$oid tok_t=$otok
subscriber r6@review.example
acc6=$aid
app6=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($acc6, 'corporate',
    'corporate', '{\"C\":\"ID\",\"O\":\"PT Sementara\",\"CN\":\"Review Disabled\"}') RETURNING id" | sed -n 1p)
tok=$tok_t
req POST "/v1/officer/applications/$app6/decision" "$(dec approve 'Deed and NIB checked')"
expect 200 "rev-temp's approval"
pkictl officer disable rev-temp >/dev/null 2>"$tmp/disable.err" || fail "officer disable rev-temp: $(cat "$tmp/disable.err")"
tok=$tok_o2
req POST "/v1/officer/applications/$app6/decision" "$(dec approve 'Second look: fine')"
expect 200 "rev-two's approval after rev-temp was disabled"
[ "$(jq -r '.status + "/" + (.approvals|tostring) + "/" + (.approvals_required|tostring)' "$tmp/out")" = submitted/1/2 ] ||
	fail "a disabled officer's approval still counted: $(cat "$tmp/out")"
[ "$(q "SELECT status FROM ra_application WHERE id = $app6")" = submitted ] || fail "app6 approved with a disabled officer's approval"
req GET "/v1/officer/applications/$app6"
[ "$(jq -r '[.decisions[] | .officer + ":" + (.officer_disabled|tostring)] | join(",")' "$tmp/out")" = rev-temp:true,rev-two:false ] ||
	fail "the detail does not show rev-temp disabled: $(jq -c .decisions "$tmp/out")"
req GET "/v1/officer/applications?q=r6@review.example"
[ "$(jq -r ".applications[] | select(.id == $app6) | .approvals" "$tmp/out")" = 1 ] ||
	fail "the queue counts a disabled officer's approval: $(cat "$tmp/out")"
tok=$tok_o1
req POST "/v1/officer/applications/$app6/decision" "$(dec approve 'Third look: fine')"
expect 200 "rev-one's approval"
[ "$(jq -r '.status + "/" + (.approvals|tostring)' "$tmp/out")" = approved/2 ] ||
	fail "two approvals by enabled officers did not approve: $(cat "$tmp/out")"
note "four-eyes: a disabled officer's approval no longer counts; two enabled officers approve: ok"

# --- the database's state machine follows the decisions (schema/105) ---------------
# rad records the approvals an application needs at its first decision (1,
# 2 for four eyes), and the guard approves only with that many approvals
# of distinct enabled officers in ra_decision, rejects only with a reject
# decision, and issues only from a done order with a certificate; an
# insert is a submission. Tried as pki_ra, rad's role. Until 2026-12-07
# every one of these went through: four eyes lived in ra/review.c only.
[ "$(q "SELECT string_agg(coalesce(approvals_required::text, '-'), ',' ORDER BY id) FROM ra_application
    WHERE id IN ($app1, $app2, $app4, $app5, $app6)")" = 1,1,2,2,2 ] ||
	fail "approvals_required as rad recorded it: $(q "SELECT string_agg(id || ':' ||
	    coalesce(approvals_required::text, '-'), ',' ORDER BY id) FROM ra_application WHERE id IN ($app1, $app2, $app4, $app5, $app6)")"
as_ra() { echo "SET ROLE pki_ra; $1"; }
subscriber r7@review.example
acc7=$aid
app7=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($acc7, 'corporate',
    'corporate', '{\"C\":\"ID\",\"O\":\"PT Tanpa Keputusan\",\"CN\":\"Review Guard\"}') RETURNING id" | sed -n 1p)
sql_fails "$PKI_TEST_PG_URI" "$(as_ra "UPDATE ra_application SET status = 'approved', decided_at = now(),
    decision_reason = 'ok', approvals_required = 1 WHERE id = $app7")" "approved with 0 approval\\(s\\) by distinct officers in ra_decision; required: 1"
sql_fails "$PKI_TEST_PG_URI" "$(as_ra "UPDATE ra_application SET status = 'rejected', decided_at = now(),
    decision_reason = 'no' WHERE id = $app7")" "rejected without an officer's reject decision"
tok=$tok_o1
req POST "/v1/officer/applications/$app7/decision" "$(dec approve 'Deed and NIB checked')"
expect 200 "rev-one's approval of app7"
[ "$(q "SELECT status || '/' || approvals_required FROM ra_application WHERE id = $app7")" = submitted/2 ] ||
	fail "app7 after one approval: $(q "SELECT status || '/' || coalesce(approvals_required::text, '-') FROM ra_application WHERE id = $app7")"
sql_fails "$PKI_TEST_PG_URI" "$(as_ra "UPDATE ra_application SET status = 'approved', decided_at = now(),
    decision_reason = 'ok' WHERE id = $app7")" "approved with 1 approval\\(s\\) by distinct officers in ra_decision; required: 2"
sql_fails "$PKI_TEST_PG_URI" "$(as_ra "UPDATE ra_application SET approvals_required = 1 WHERE id = $app7")" \
	'approvals_required is recorded once'
sql_fails "$PKI_TEST_PG_URI" "$(as_ra "INSERT INTO ra_application (account_id, kind, status, profile, subject,
    decided_at, decision_reason) VALUES ($acc7, 'personal', 'approved', 'personal', '{}', now(), 'x')")" \
	'a new application is submitted'
[ "$(q "SELECT status FROM ra_application WHERE id = $app7")" = submitted ] || fail "app7 left submitted"
# Issued while its order is pending: seeded in a transaction rolled back
# (no daemon sees it), then tried as pki_ra.
sql_fails "$PKI_TEST_PG_URI" "BEGIN;
    INSERT INTO ra_account (email, phone, password_hash, email_verified, email_verified_at)
        VALUES ('r8@review.example', '+6281298765438', '\$argon2id\$x', true, now());
    INSERT INTO issuance_order (kind, profile, subject, key_type, requested_by)
        VALUES ('personal', 'personal', '{}', 'ec-p256', 'test');
    INSERT INTO ra_application (account_id, kind, status, profile, subject, decided_at, agreed_at, order_id)
        VALUES (currval('ra_account_id_seq'), 'personal', 'agreed', 'personal', '{}', now(), now(),
        currval('issuance_order_id_seq'));
    SET ROLE pki_ra;
    UPDATE ra_application SET status = 'issued' WHERE id = currval('ra_application_id_seq');
    ROLLBACK;" 'issued only once its order is done with a certificate'
tok=$tok_o2
req POST "/v1/officer/applications/$app7/decision" "$(dec approve 'Second look: fine')"
expect 200 "rev-two's approval of app7"
[ "$(q "SELECT status FROM ra_application WHERE id = $app7")" = approved ] || fail "two approvals did not approve app7"
note "the database approves with the recorded approvals only, rejects with a decision, issues from a done order: ok"

# --- a certificate for app1, the duplicate-NIK check --------------------------------
order_issued personal "{\"C\":\"ID\",\"CN\":\"Ratna Dewi\",\"serialNumber\":\"NIK:$nik1\"}"
o=$order cid=$cert
# Link it to app1 as the (later) agreement and issuance slices will.
q "UPDATE ra_application SET status = 'agreed', agreed_at = now() WHERE id = $app1" >/dev/null
q "UPDATE ra_application SET status = 'issued', order_id = $o WHERE id = $app1" >/dev/null
q "SELECT encode(der, 'base64') FROM certificate WHERE id = $cid" | base64 -d |
	openssl x509 -inform DER -out "$tmp/cert.pem" || fail "certificate $cid"
serial=$(q "SELECT serial FROM certificate WHERE id = $cid")
tok=$tok_o1
req GET "/v1/officer/applications/$app2b"
expect 200 "detail of the re-application"
[ "$(check duplicate_nik)" = false ] || fail "duplicate NIK with an active certificate not flagged"
jq -r '.checks[] | select(.name == "duplicate_nik") | .detail' "$tmp/out" | has "$serial" ||
	fail "duplicate detail names the serial"
req GET "/v1/officer/certificates?q=$serial"
expect 200 "certificate search"
[ "$(jq -r '.certificates[0] | "\(.id)/\(.status)/\(.application_id)"' "$tmp/out")" = "$cid/good/$app1" ] ||
	fail "certificate list: $(cat "$tmp/out")"
refuse 400 "certificate list with status" GET "/v1/officer/certificates?status=good"
# The officer's list shows the subject whole and finds it by part of the NIK;
# the auditor's masks the NIK (ra_mask_dn, as the detail does) and finds
# nothing by its digits (ra/README.md "Masked identifiers"): until
# 2026-12-07 an auditor's ?q=<part of a NIK> was a look-up of the person.
req GET "/v1/officer/certificates?q=${nik1:0:10}&per_page=100"
expect 200 "certificate search by part of the NIK (officer)"
jq -r --argjson c "$cid" '.certificates[] | select(.id == $c) | .subject' "$tmp/out" | has -F "NIK:$nik1" ||
	fail "the officer's search by part of the NIK: $(cat "$tmp/out")"
tok=$tok_a
req GET "/v1/officer/certificates?q=$serial"
expect 200 "certificate search (auditor)"
[ "$(jq -r '.certificates[0] | "\(.id)/\(.status)/\(.application_id)"' "$tmp/out")" = "$cid/good/$app1" ] ||
	fail "the auditor's certificate list: $(cat "$tmp/out")"
jq -r '.certificates[0].subject' "$tmp/out" | has -F "NIK:************${nik1: -4}" ||
	fail "the auditor's certificate list does not mask the subject: $(cat "$tmp/out")"
grep -q -- "$nik1" "$tmp/out" && fail "the auditor's certificate list shows the full NIK"
for part in "${nik1:0:10}" "$nik1" "${nik1: -8}" "NIK%3A${nik1:0:6}"; do
	req GET "/v1/officer/certificates?q=$part"
	expect 200 "certificate search by NIK digits $part (auditor)"
	[ "$(jq -r '"\(.total)/\(.certificates | length)"' "$tmp/out")" = 0/0 ] ||
		fail "the auditor finds certificates by NIK digits $part: $(cat "$tmp/out")"
done
req GET "/v1/officer/certificates?per_page=100"
expect 200 "the certificate list (auditor)"
grep -Eq 'NIK:[0-9]{5}' "$tmp/out" && fail "the auditor's certificate list shows a NIK: $(grep -Eo 'NIK:[0-9]+' "$tmp/out" | head -3)"
tok=$tok_o1
note "duplicate NIK, certificate search (the auditor's masked, never by the NIK): ok"

# --- officer revocation ------------------------------------------------------------
rv() { json "{\"reason\":\"$1\",\"comment\":\"$2\"${3:+,\"invalidity_date\":\"$3\"}}"; }
tok=$tok_o1
refuse 400 "revocation for certificateHold" POST "/v1/officer/certificates/$cid/revoke" "$(rv certificateHold x)"
refuse 400 "revocation for cACompromise (not in policy)" POST "/v1/officer/certificates/$cid/revoke" "$(rv cACompromise x)"
refuse 400 "revocation for removeFromCRL" POST "/v1/officer/certificates/$cid/revoke" "$(rv removeFromCRL x)"
refuse 400 "revocation for an unknown reason" POST "/v1/officer/certificates/$cid/revoke" "$(rv stolen x)"
refuse 400 "revocation without a comment" POST "/v1/officer/certificates/$cid/revoke" "$(json '{"reason":"keyCompromise"}')"
refuse 400 "revocation with a future invalidity date" POST "/v1/officer/certificates/$cid/revoke" \
    "$(rv keyCompromise x 2099-01-01T00:00:00Z)"
refuse 400 "revocation with a malformed invalidity date" POST "/v1/officer/certificates/$cid/revoke" \
    "$(rv keyCompromise x 2026-02-30T00:00:00Z)"
refuse 404 "revocation of no certificate" POST /v1/officer/certificates/999999999/revoke "$(rv keyCompromise x)"
issuing=$(q "SELECT id FROM certificate WHERE profile = 'issuing-ca' ORDER BY id LIMIT 1")
[ -z "$issuing" ] || refuse 403 "revocation of the issuing CA" POST "/v1/officer/certificates/$issuing/revoke" "$(rv keyCompromise x)"
tok=$tok_a
refuse 403 "revocation by an auditor" POST "/v1/officer/certificates/$cid/revoke" "$(rv keyCompromise x)"
# ocsp_says PATTERN: within 5 s, openssl ocsp reports the certificate so.
ocsp_says() {
	local i
	for ((i = 0; i < 50; i++)); do
		out=$(ocsp_client -url "$PKI_OCSP_URL" -CAfile "$PKI_ROOT_CERT" -issuer "$PKI_ISSUING_CERT" \
		    -cert "$tmp/cert.pem" -resp_text)
		grep -q "$1" <<<"$out" && return 0
		sleep 0.1
	done
	echo "$out"
	fail "OCSP does not report '$1'"
}

# --- hold (suspension) and release by an officer -----------------------------------
hr() { json "{\"reason\":\"$1\"}"; }
cert_row() { q "SELECT coalesce(revocation_reason::text, '-') || '/' || coalesce(revoked_by, '-') || '/' || (revoked_at IS NULL) FROM certificate WHERE id = $cid"; }
tok=$tok_o1
refuse 400 "hold without a reason" POST "/v1/officer/certificates/$cid/hold" "$(json '{}')"
refuse 400 "hold with an empty reason" POST "/v1/officer/certificates/$cid/hold" "$(hr '')"
refuse 400 "hold with a revocation reason name" POST "/v1/officer/certificates/$cid/hold" "$(rv certificateHold x)"
refuse 409 "release of a certificate not on hold" POST "/v1/officer/certificates/$cid/release" "$(hr x)"
refuse 404 "hold of no certificate" POST /v1/officer/certificates/999999999/hold "$(hr x)"
[ -z "$issuing" ] || refuse 403 "hold of the issuing CA" POST "/v1/officer/certificates/$issuing/hold" "$(hr x)"
tok=$tok_a
refuse 403 "hold by an auditor" POST "/v1/officer/certificates/$cid/hold" "$(hr x)"
tok=$tok_o1
# A CPS without suspension (policy review.holds = false): 403, nothing changes.
start_rad rad-noholds PKI_REVIEW_HOLDS=false
url=$rad_url
refuse 403 "hold where policy offers none" POST "/v1/officer/certificates/$cid/hold" "$(hr x)"
has 'review.holds' <"$tmp/out" || fail "the 403 does not name review.holds: $(cat "$tmp/out")"
req GET /v1/officer/me
jq -e '.holds == false' "$tmp/out" >/dev/null || fail "officer/me does not say holds are off: $(cat "$tmp/out")"
url=$PKI_RA_URL
req GET /v1/officer/me
jq -e '.holds == true' "$tmp/out" >/dev/null || fail "officer/me does not say holds are on: $(cat "$tmp/out")"
why='Subscriber called: phone stolen, investigating'
req POST "/v1/officer/certificates/$cid/hold" "$(hr "$why")"
expect 200 "hold"
[ "$(jq -r '"\(.status)/\(.serial)"' "$tmp/out")" = "hold/$serial" ] || fail "hold answer: $(cat "$tmp/out")"
[ "$(cert_row)" = "6/officer:$off1/false" ] || fail "certificate row after the hold: $(cert_row)"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.revoke' AND object_id = '$cid' AND actor = 'officer:$off1'
    AND details->>'reason' = 'certificateHold' AND details->>'reason_code' = '6' AND details->>'comment' = '$why'")" = 1 ] ||
	fail "no cert.revoke (certificateHold) audit event"
f=$(wait_mail r1@review.example '^Subject: Your certificate was suspended') || fail "the subscriber was not told of the hold"
grep -q 'by the registration authority' "$f" || fail "the suspension notice: $(cat "$f")"
ocsp_says 'Reason: certificateHold'
refuse 409 "a second hold" POST "/v1/officer/certificates/$cid/hold" "$(hr again)"
req GET "/v1/officer/certificates?q=$serial"
[ "$(jq -r '.certificates[0].status' "$tmp/out")" = hold ] || fail "the list does not show the hold: $(cat "$tmp/out")"
# On hold is not gone: a release may make it valid again at any time.
req GET "/v1/officer/applications/$app2b"
[ "$(check duplicate_nik)" = false ] || fail "a certificate on hold is not counted as a duplicate NIK"
tok=$tok_o2
why='Phone found; the subscriber confirmed by video call'
req POST "/v1/officer/certificates/$cid/release" "$(hr "$why")"
expect 200 "release"
[ "$(jq -r .status "$tmp/out")" = good ] || fail "release answer: $(cat "$tmp/out")"
[ "$(cert_row)" = "-/officer:$off2/true" ] || fail "certificate row after the release: $(cert_row)"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.release' AND object_id = '$cid' AND actor = 'officer:$off2'
    AND details->>'previous' = 'certificateHold' AND details->>'comment' = '$why'")" = 1 ] || fail "no cert.release audit event"
wait_mail r1@review.example '^Subject: Your certificate is valid again' >/dev/null || fail "the subscriber was not told of the release"
ocsp_says 'cert.pem: good'
refuse 409 "a second release" POST "/v1/officer/certificates/$cid/release" "$(hr again)"
# A hold the CA placed (pkictl) is the CA's to release.
pkictl cert revoke --serial "$serial" --reason certificateHold >/dev/null || fail "pkictl cert revoke (hold)"
refuse 403 "an officer's release of pkictl's hold" POST "/v1/officer/certificates/$cid/release" "$(hr x)"
has 'pkictl' <"$tmp/out" || fail "the 403 does not say pkictl releases it: $(cat "$tmp/out")"
pkictl cert release --serial "$serial" >/dev/null || fail "pkictl cert release"
ocsp_says 'cert.pem: good'
# Nothing of the officer's own account (rev-own is r3's): a certificate for app3.
app3_subject='{"C":"ID","CN":"Hendra Gunawan","serialNumber":"NIK:3171010211850001"}'
order_issued personal "$app3_subject"
o3=$order cid3=$cert
q "UPDATE ra_application SET status = 'approved', decided_at = now(), decision_reason = 'test' WHERE id = $app3" >/dev/null
q "UPDATE ra_application SET status = 'agreed', agreed_at = now() WHERE id = $app3" >/dev/null
q "UPDATE ra_application SET status = 'issued', order_id = $o3 WHERE id = $app3" >/dev/null
tok=$tok_o3
for act in hold release; do
	refuse 403 "$act of the officer's own certificate" POST "/v1/officer/certificates/$cid3/$act" "$(hr x)"
done
refuse 403 "revocation of the officer's own certificate" POST "/v1/officer/certificates/$cid3/revoke" "$(rv keyCompromise x)"
# The database refuses it too (schema/035), whatever rad would do.
ra_uri=$(sed -n 's/^ra_uri = //p' "$PKI_CONFIG")
sql_fails "$ra_uri" "UPDATE certificate SET revoked_at = now(), revocation_reason = 6, revoked_by = 'officer:$off3'
    WHERE id = $cid3" 'may not change the status'
[ "$(q "SELECT revoked_at IS NULL FROM certificate WHERE id = $cid3")" = t ] || fail "the refused hold changed the certificate"
tok=$tok_o1
# A hold outlives a rekey already agreed to: app3's certificate held, then
# a rekey of it (by SQL, agreed, its order done) issued by the notifier.
req POST "/v1/officer/certificates/$cid3/hold" "$(hr 'suspected fraud, rekey in flight')"
expect 200 "hold of app3's certificate"
order_issued personal "$app3_subject"
o5=$order
rk=$(q "INSERT INTO ra_application (account_id, kind, profile, subject, previous_certificate_id)
	SELECT account_id, 'rekey', profile, subject, $cid3 FROM ra_application WHERE id = $app3 RETURNING id" | head -n1)
agreed_by_sql "$rk" "$o5"
app_issued "$rk" || fail "the rekey $rk was not issued"
cid5=$(q "SELECT certificate_id FROM issuance_order WHERE id = $o5")
[ "$(q "SELECT revocation_reason || '/' || revoked_by FROM certificate WHERE id = $cid3")" = "4/ra:notifier" ] ||
	fail "the held certificate was not superseded"
[ "$(q "SELECT revocation_reason || '/' || revoked_by FROM certificate WHERE id = $cid5")" = "6/officer:$off1" ] ||
	fail "the rekeyed certificate did not inherit the hold: $(q "SELECT revocation_reason || '/' || revoked_by FROM certificate WHERE id = $cid5")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.revoke' AND object_id = '$cid5' AND actor = 'ra:notifier'
    AND details->>'reason' = 'certificateHold' AND details->>'held_by' = 'officer:$off1'")" = 1 ] || fail "the inherited hold is not audited"
wait_mail r3@review.example 'It was put on hold at once' >/dev/null || fail "the subscriber was not told the new certificate is on hold"
req POST "/v1/officer/certificates/$cid5/release" "$(hr 'fraud ruled out')"
expect 200 "release of the inherited hold"
note "hold and release by officers: OCSP certificateHold then good, audited, subscriber told; pkictl's hold and the officer's own certificate refused; a hold carried over to a rekey issued meanwhile: ok"

comment='Subscriber reports the token lost'
req POST "/v1/officer/certificates/$cid/revoke" "$(rv keyCompromise "$comment" 2026-11-20T00:00:00Z)"
expect 200 "revocation"
f=$(wait_mail r1@review.example '^Subject: Your certificate was revoked') || fail "the subscriber was not told of the revocation"
grep -q 'by the registration authority' "$f" && grep -q 'Reason: keyCompromise' "$f" ||
	fail "the revocation notice: $(cat "$f")"
[ "$(q "SELECT revocation_reason || '/' || revoked_by || '/' || to_char(invalidity_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') || '/' || (revocation_seq IS NOT NULL) FROM certificate WHERE id = $cid")" = \
    "1/officer:$off1/2026-11-20/true" ] || fail "certificate row after revocation"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.revoke' AND object_id = '$cid' AND actor = 'officer:$off1'
    AND details->>'reason' = 'keyCompromise' AND details->>'comment' = '$comment'")" = 1 ] || fail "cert.revoke audit"
[ "$(q "SELECT count(*) FROM publish_certificate WHERE certificate_id = $cid")" -ge 2 ] || fail "LDAP update not queued"
ocsp_says 'Reason: keyCompromise'
grep -q 'cert.pem: revoked' <<<"$out" || { echo "$out"; fail "OCSP status"; }
grep -q '^Response verify OK' <<<"$out" || fail "OCSP response does not verify"
refuse 409 "a second revocation" POST "/v1/officer/certificates/$cid/revoke" "$(rv superseded again)"
tok=$tok_o2
refuse 409 "a second revocation by another officer" POST "/v1/officer/certificates/$cid/revoke" "$(rv keyCompromise again)"
refuse 409 "a hold of a revoked certificate" POST "/v1/officer/certificates/$cid/hold" "$(hr x)"
refuse 409 "a release of a revoked certificate" POST "/v1/officer/certificates/$cid/release" "$(hr x)"
req GET "/v1/officer/applications/$app2b"
[ "$(check duplicate_nik)" = true ] || fail "a revoked certificate still counts as a duplicate"
note "officer revocation, OCSP, refusals: ok"

# --- grants, log --------------------------------------------------------------------
ra_uri=$(sed -n 's/^ra_uri = //p' "$PKI_CONFIG")
sql_fails "$ra_uri" "UPDATE ra_decision SET reason = 'x'" 'permission denied|final'
sql_fails "$ra_uri" "DELETE FROM ra_decision" 'permission denied|final'
no_secret_in "rad's log" "$log"
audit_text "$tmp/audit.txt"
no_secret_in "the audit" "$tmp/audit.txt"
! grep -qF -- "$nik1" "$log" || fail "a full NIK in rad's log"
[ "$(q "SELECT count(*) FROM audit_event WHERE action LIKE 'ra.application.%' AND details::text LIKE '%$nik1%'")" = 0 ] ||
	fail "a full NIK in the review audit"
note "grants, no secret or NIK in the log: ok"
