#!/usr/bin/env bash
# Corporate accounts (ra/corporate.c, schema/018) over HTTP against the stack
# of tests/run.sh: a representative (verified account, approved personal
# KYC) registers a company; every refusal (government or used sysadmin
# email, malformed NIB / NPWP / decree, unknown member, unverified or
# un-KYC'd representative, a second pending company) with its status and
# no change; another company with a pending company's NIB or NPWP refused
# (409, nothing stored, audited or mailed), by the database too
# (schema/065's trigger, also for two inserts at once and for rad waiting
# on an open transaction), while a rejected or deactivated company's NIB
# is free; the officers' detail of a company's application shows its checks
# (company_data, duplicate_nib and duplicate_npwp naming the other
# companies with their status, representative_identity, failing once the
# representative's certificate is revoked), no failing kyc check; the
# company application approved (SQL, see approve_by_sql);
# the sysadmin registers with the named email and enrols an employee by a
# mailed token; the employee's own KYC with company_id becomes a corporate
# application with O in its subject; strangers get 404 / 403; a corporate
# certificate issued by the stack's cad for that application; its rekey
# (kind rekey, profile corporate) stays the company's and is four-eyes: one
# officer's approval leaves it submitted, a second officer's approves it; a
# rekey whose certificate is put on hold or revoked while it waits is not
# approved (409, nothing changed); officers linked to the company's
# representative or sysadmin neither decide nor read its employees'
# applications (detail and evidence 403, nothing audited); a sysadmin
# claim token or an enrolment
# token older than its policy lifetime is refused as an unknown one (404,
# nothing changed), a younger one or a new invitation still works; the
# representative has a new claim token mailed (202; the old one 404 from
# then, the new one claims), not twice within the policy interval (429),
# nor once the company has its sysadmin or is deactivated (409); nobody
# else may (404 stranger, 403 sysadmin or employee), nothing changed;
# the sysadmin requests its revocation with an email OTP (a wrong code refused), a
# sysadmin of another company cannot; an officer (password + TOTP) revokes
# it and `openssl ocsp` then says revoked, and rad's notifier cancels the
# employee's approved rekey of it (audited, mailed); the sysadmin removes an
# employee (403 employee, 404 stranger or non-member, 401 wrong OTP): the
# membership kept as history, the open application cancelled, the
# certificate's revocation requested, audited and mailed; the removed
# employee's KYC for the company 403, view 404, earlier invitation 404,
# rekey 409; re-invited, they enrol and apply again; a new invitation to
# an address voids the live one, the fourth to one address in a day (from
# any company) and one over the company's hourly cap are 429 with nothing
# mailed; with policy review.revocation_reasons narrowed (a second rad),
# a sysadmin's request for an excluded reason is 400, an officer's carrying
# out of one 409, a deactivation's revocation 400; the officers' queue of
# revocation requests by status, company name or serial, in pages (the
# console filters it too); a request whose certificate its subscriber, an
# officer directly or pkictl revokes is closed as moot in that transaction
# (schema/079: audited with the revoker as actor, no officer named, the
# queue shows it, deciding it 409), a hold closes nothing; a request for
# an expired certificate is 409 (nothing stored; the database refuses it,
# schema/097), and carrying out one filed while it was valid closes it as
# moot, nothing revoked (audited as the notifier would, the officer as
# actor); no token in the log or audit.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
url=$PKI_RA_URL
mail=$PKI_DIR/spool/ra-mail
log=$PKI_DIR/log/ra.log
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
secrets=()

# req METHOD PATH [BODY] (Bearer $tok): sets code; body in $tmp/out.
req() {
	local args=(-sS -X "$1" -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}')
	[ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' --data-binary "$3")
	[ -z "${tok:-}" ] || args+=(-H "Authorization: Bearer $tok")
	code=$(curl "${args[@]}" "$url$2")
}
req_patient() {
	req "$@"
	if [ "$code" = 429 ]; then
		sleep "$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/Ip' "$tmp/hdr")"
		req "$@"
	fi
}
# Revocations and closed revocation requests of this test's own
# certificates (those of the orders it makes: ids above order0) and of the
# CA's: an earlier test's rekey left agreed, its order issued by cad in
# any window, has rad's notifier supersede (or hold, or revoke) that
# test's certificate and close or move its requests meanwhile.
order0=$(q "SELECT coalesce(max(id), 0) FROM issuance_order")
own_certs="SELECT certificate_id FROM issuance_order WHERE id > $order0 UNION
    SELECT id FROM certificate WHERE profile IN ('root', 'issuing-ca')"
state() {
	q "SELECT (SELECT count(*) FROM ra_application) || '/' ||
	    (SELECT count(*) FROM ra_company) || '/' ||
	    (SELECT count(*) FROM ra_company_member) || '/' ||
	    (SELECT count(*) FROM ra_company_member WHERE removed_at IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM ra_company_sysadmin_role) || '/' ||
	    (SELECT count(*) || ':' || coalesce(max(created_at)::text, '') || ':' ||
	        coalesce(md5(string_agg(encode(token_sha256, 'hex'), ',' ORDER BY company_id)), '')
	        FROM ra_company_sysadmin_claim) || '/' ||
	    (SELECT count(*) FROM ra_company_invitation) || '/' ||
	    (SELECT count(*) FROM ra_company_invitation WHERE accepted_at IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM ra_company_invitation WHERE voided_at IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM ra_company_application) || '/' ||
	    (SELECT count(*) FROM ra_revocation_request) || '/' ||
	    (SELECT count(*) FROM ra_revocation_request WHERE status <> 'pending' AND
	        certificate_id IN ($own_certs)) || '/' ||
	    (SELECT count(*) FROM certificate WHERE revoked_at IS NOT NULL AND id IN ($own_certs)) || '/' ||
	    (SELECT count(*) FROM issuance_order) || '/' ||
	    $AUDIT_MAX_OWN"
}
# The audit without the events of rad's notifier and the stack's cad
# (AUDIT_MAX_OWN): they write theirs for an earlier test's application,
# order or outbox mail in any window, and a request to rad's HTTP API
# writes neither; the order count beside it (no daemon makes an order)
# shows a refused request that made one, whose issuance only cad audits.
before() { state >"$tmp/state.before"; }
unchanged() {
	state >"$tmp/state.after"
	cmp -s "$tmp/state.before" "$tmp/state.after" ||
		fail "$1 changed state: $(cat "$tmp/state.before") -> $(cat "$tmp/state.after")"
}
# refuse STATUS WHAT METHOD PATH [BODY]: refused, nothing changed.
refuse() {
	before
	req "$3" "$4" "${5-}"
	expect "$1" "$2"
	unchanged "$2"
}
newest_to() { grep -l -- "^To: <$1>" "$mail"/*.eml | xargs ls -t | sed -n 1p; }
# n_mail_to EMAIL: how many messages to EMAIL the mail sink holds (the
# whole sink's count grows with the other tests' mail whenever rad's outbox
# sends it).
n_mail_to() { { grep -l -- "^To: <$1>" "$mail"/*.eml 2>/dev/null || true; } | wc -l; }
mail_token() { sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$(newest_to "$1")" | tr -d '\r' | sed -n 1p; }
mail_code() { tr -d '\r' <"$(newest_to "$1")" | sed -n 's/^ *\([0-9]\{6\}\)$/\1/p' | sed -n 1p; }
pw='Corp-Test-Pass9'
# account EMAIL: registered, email verified, logged in; sets aid and tok.
account() {
	tok=
	req_patient POST /v1/register "{\"email\":\"$1\",\"phone\":\"+6281234500001\",\"password\":\"$pw\"}"
	expect 201 "register $1"
	aid=$(jq -r .id "$tmp/out")
	local v
	v=$(mail_token "$1")
	secrets+=("$v")
	req POST /v1/verify-email "{\"token\":\"$v\"}"
	expect 200 "verify $1"
	req_patient POST /v1/login "{\"email\":\"$1\",\"password\":\"$pw\"}"
	expect 200 "login $1"
	tok=$(jq -r .token "$tmp/out")
	secrets+=("$tok")
}
# The phone OTP is test_ra_factors' subject; here the flag is set by SQL
# (test superuser) as setup.
verify_phone() {
	q "UPDATE ra_account SET phone_verified = true, phone_verified_at = now() WHERE id = $1" >/dev/null
}
# approve_by_sql APPLICATION: the officers' decision, made here by SQL to keep
# this test on the corporate endpoints; test_lifecycle.sh walks the same path
# with two officers (four-eyes) through the officer API.
approve_by_sql() {
	q "UPDATE ra_application SET status = 'approved', decided_at = now() WHERE id = $1" >/dev/null
}

# A KYC body (e-KTP PNG, selfie JPEG) as in test_ra_kyc.
cat >"$tmp/mk.py" <<'EOF'
import base64, json, sys
from kyc_body import png, jpeg
name, dob, serial = sys.argv[1:4]
y, m, d = (int(x) for x in dob.split('-'))
b = {'nik': '317401%02d%02d%02d%s' % (d, m, y % 100, serial), 'full_name': name,
     'birth_place': 'Jakarta', 'birth_date': dob, 'sex': 'M', 'address': 'Jl. Sudirman No. 1',
     'consents': {'privacy_policy': '1.0', 'subscriber_agreement': '1.0', 'guarantee_policy': '1.0'},
     'ktp_photo': base64.b64encode(png(96, 64, int(serial))).decode(),
     'selfie': base64.b64encode(jpeg()).decode()}
if len(sys.argv) > 4:
    b['company_id'] = int(sys.argv[4])
open(sys.argv[0][:-5] + 'kyc.json', 'w').write(json.dumps(b))
EOF
# kyc NAME DOB SERIAL [COMPANY_ID]: POST /v1/applications.
kyc() {
	PYTHONPATH="$REPO/tests/integration" python3 "$tmp/mk.py" "$@"
	code=$(curl -sS -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H 'Content-Type: application/json' \
	    -H "Authorization: Bearer $tok" --data-binary "@$tmp/kyc.json" "$url/v1/applications")
}
company() { # company SYSADMIN-EMAIL [KEY=VALUE...]: a POST /v1/corporate body
	python3 - "$@" <<'EOF'
import json, sys
b = {'company_name': 'PT Contoh Sejahtera', 'nib': '1234567890123', 'npwp': '012345678901000',
     'deed_number': '12', 'deed_date': '2020-01-15',
     'decree_number': 'AHU-0012345.AH.01.01.Tahun 2020', 'sysadmin_email': sys.argv[1]}
for kv in sys.argv[2:]:
    k, v = kv.split('=', 1)
    if v == '-': b.pop(k)
    else: b[k] = v
print(json.dumps(b))
EOF
}

# --- the representative ------------------------------------------------------------
account rep-corp@example.com
rep=$aid; rtok=$tok
refuse 403 "company before phone verification" POST /v1/corporate "$(company admin@contoh.co.id)"
verify_phone "$rep"
refuse 403 "company before an approved personal KYC" POST /v1/corporate "$(company admin@contoh.co.id)"
jq -r .detail "$tmp/out" | has 'personal application' || fail "403 detail: $(jq -r .detail "$tmp/out")"
kyc 'Rudi Hartono' 1980-03-04 0001
expect 201 "representative's personal KYC"
rpapp=$(jq -r .id "$tmp/out")
approve_by_sql "$rpapp"
tok=
refuse 401 "company without a session" POST /v1/corporate "$(company admin@contoh.co.id)"
tok=$rtok
note "representative rules (401, 403 unverified phone, 403 no approved KYC): ok"

# --- refusals ---------------------------------------------------------------------------
account other-corp@example.com	# an existing account's email; a representative too
rep2tok=$tok
verify_phone "$aid"
kyc 'Agus Salim' 1975-01-02 0004
expect 201 "second representative's personal KYC"
approve_by_sql "$(jq -r .id "$tmp/out")"
tok=$rtok
refuse 400 "sysadmin at .go.id" POST /v1/corporate "$(company it@kemenkeu.go.id)"
jq -r .detail "$tmp/out" | has 'go.id' || fail "government detail"
refuse 400 "sysadmin at a subdomain of .mil.id" POST /v1/corporate "$(company it@x.tni.mil.id)"
refuse 400 "sysadmin at go.id itself" POST /v1/corporate "$(company it@GO.ID)"
refuse 409 "sysadmin email of an existing account" POST /v1/corporate "$(company Other-Corp@example.com)"
refuse 409 "sysadmin email = the representative's" POST /v1/corporate "$(company rep-corp@example.com)"
refuse 400 "NIB of 12 digits" POST /v1/corporate "$(company admin@contoh.co.id nib=123456789012)"
refuse 400 "NIB with a letter" POST /v1/corporate "$(company admin@contoh.co.id nib=12345678901a3)"
refuse 400 "NPWP of 14 digits" POST /v1/corporate "$(company admin@contoh.co.id npwp=01234567890100)"
refuse 400 "NPWP with separators" POST /v1/corporate "$(company admin@contoh.co.id npwp=01.234.567.8-901.000)"
refuse 400 "NPWP all zero" POST /v1/corporate "$(company admin@contoh.co.id npwp=000000000000000)"
refuse 400 "decree without AHU-" POST /v1/corporate "$(company admin@contoh.co.id decree_number=0012345.AH.01.01)"
refuse 400 "deed_date not a date" POST /v1/corporate "$(company admin@contoh.co.id deed_date=2020-02-30)"
refuse 422 "deed_date in the future" POST /v1/corporate "$(company admin@contoh.co.id deed_date=2999-01-01)"
refuse 400 "unknown member" POST /v1/corporate "$(company admin@contoh.co.id role=admin)"
refuse 400 "missing NPWP" POST /v1/corporate "$(company admin@contoh.co.id npwp=-)"
refuse 400 "duplicate member" POST /v1/corporate '{"company_name":"A","company_name":"B"}'
# The company name becomes O= in certificates and officers compare it:
# one that hides a character would pass two officers and fail cad's lint.
refuse 400 "a company name with a zero width space" POST /v1/corporate \
	"$(company admin@contoh.co.id "company_name=PT Contoh$(printf '\xe2\x80\x8b') Sejahtera")"
jq -r .detail "$tmp/out" | has -F 'company_name: holds an invisible format character (U+200B)' ||
	fail "invisible company name: $(jq -r .detail "$tmp/out")"
account stranger-corp@example.com
stok=$tok
verify_phone "$aid"
refuse 403 "non-representative (no approved KYC)" POST /v1/corporate "$(company admin@contoh.co.id)"
tok=$rtok
note "refusals (government email, used email, NIB, NPWP, decree, deed date, members, non-representative): ok"

# --- the company ---------------------------------------------------------------------
n_mail=$(n_mail_to admin@contoh.co.id)
req POST /v1/corporate "$(company Admin@Contoh.co.id)"
expect 201 "POST /v1/corporate"
cid=$(jq -r .id "$tmp/out")
capp=$(jq -r .application_id "$tmp/out")
[ "$(jq -r .status "$tmp/out")" = pending ] || fail "new company not pending"
[ "$(q "SELECT kind || '/' || profile || '/' || status || '/' || (subject->>'O') || '/' || (subject->>'nib')
    FROM ra_application WHERE id = $capp AND account_id = $rep")" = "corporate/company/submitted/PT Contoh Sejahtera/1234567890123" ] ||
	fail "company application row"
[ "$(q "SELECT sysadmin_email || '/' || npwp || '/' || representative_id FROM ra_company WHERE id = $cid")" = \
  "admin@contoh.co.id/012345678901000/$rep" ] || fail "company row (email not lower-cased?)"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.corporate.submit' AND object_id = '$cid'
    AND details->>'application_id' = '$capp'")" = 1 ] || fail "ra.corporate.submit not audited"
[ "$(n_mail_to admin@contoh.co.id)" -gt "$n_mail" ] && grep -q 'sysadmin' "$(newest_to admin@contoh.co.id)" ||
	fail "no invitation mailed to the sysadmin"
# The company application takes no open slot: the representative's own
# applications are unaffected; but one company waits at a time.
refuse 409 "a second pending company" POST /v1/corporate "$(company admin2@contoh.co.id)"
tok=$rep2tok
refuse 409 "another company with a pending company's sysadmin" POST /v1/corporate "$(company admin@contoh.co.id)"
tok=$rtok
# A company application is never agreed to (schema/018's trigger).
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_application SET status = 'approved', decided_at = now() WHERE id = $capp;
   UPDATE ra_application SET status = 'agreed', agreed_at = now() WHERE id = $capp" 'certifies no key' ||
	fail "a company application was agreed to"
note "company submitted (201, rows, audit, mail to the sysadmin, 409 on a second one): ok"

# --- one pending or active company per NIB and per NPWP (schema/065) ------------------
# Another representative registers another name with the pending company's
# NIB, or its NPWP: 409, nothing stored, audited or mailed.
tok=$rep2tok
# The mail sink counted by this test's recipients (rad's outbox sends the
# other tests' mail whenever it comes), this test's own queued mail sent
# first (outbox_settled_re): here and at the race below, a refused company
# would mail its sysadmin's address or an account of this test.
own_mail='[^>@]*@([a-z0-9-]+\.)+(co|go|mil)\.id|[^>@]*@(b\.co|balapan\.example)|([a-z0-9-]+-corp|invitee[0-9]+|late)@example\.com'
own_mail_count() { { grep -E -i -l -- "^To: <($own_mail)>" "$mail"/*.eml 2>/dev/null || true; } | wc -l; }
outbox_settled_re "^($own_mail)\$" || fail "rad's outbox did not send this test's mail within 30 s"
n_mail=$(own_mail_count)
refuse 409 "a company with a pending company's NIB" POST /v1/corporate \
	"$(company admin@palsu.co.id 'company_name=PT Asli Jaya Palsu' npwp=012345678902000)"
detail | has -F 'nib: another company registered with the RA, pending or active, holds this NIB' ||
	fail "taken NIB detail: $(detail)"
refuse 409 "a company with a pending company's NPWP" POST /v1/corporate \
	"$(company admin@palsu.co.id 'company_name=PT Asli Jaya Palsu' nib=1234567890124)"
detail | has -F 'npwp: another company registered with the RA, pending or active, holds this NPWP' ||
	fail "taken NPWP detail: $(detail)"
# The NPWP's other form is the same NPWP (schema/115; PMK 112/2022: a
# company's 16 digits are 0 and its 15): the same 409. Until 2026-12-07
# "PT Palsu" registered with 0 and the pending company's 15 digits (201),
# and its duplicate_npwp check passed.
refuse 409 "a company with a pending company's NPWP, in its 16-digit form" POST /v1/corporate \
	"$(company admin@palsu.co.id 'company_name=PT Palsu' nib=1234567890126 npwp=0012345678901000)"
detail | has -F 'npwp: another company registered with the RA, pending or active, holds this NPWP' ||
	fail "taken NPWP (16-digit form) detail: $(detail)"
[ "$(own_mail_count)" = "$n_mail" ] || fail "a refused company mailed someone"
[ "$(q "SELECT count(*) FROM ra_company WHERE nib IN ('1234567890123', '1234567890124', '1234567890126')
    OR npwp IN ('012345678901000', '0012345678901000')")" = 1 ] ||
	fail "a second company holds the NIB or NPWP"
# The database refuses it too, whatever writes the row (the trigger
# ra_company_identifier_guard). company_sql ACCOUNT NAME NIB NPWP EMAIL: a
# company and its (submitted) application, as rad inserts them.
company_sql() {
	echo "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($1, 'corporate', 'company', '{}');
	    INSERT INTO ra_company (application_id, representative_id, name, nib, npwp, deed_number, deed_date,
	    decree_number, sysadmin_email) VALUES (currval('ra_application_id_seq'), $1, '$2', '$3', '$4', '1',
	    '2020-01-01', 'AHU-1', '$5') RETURNING id;"
}
# corp_account EMAIL: an account made by SQL, for companies made by SQL.
corp_account() {
	q "INSERT INTO ra_account (email, phone, password_hash) VALUES ('$1', '+6281200000065', '\$argon2id\$x') RETURNING id" |
		sed -n 1p
}
race1=$(corp_account race1@balapan.example)
race2=$(corp_account race2@balapan.example)
race3=$(corp_account race3@balapan.example)
before
sql_fails "$PKI_TEST_PG_URI" "$(company_sql "$race1" 'PT Asli Jaya Palsu' 1234567890123 012345678902000 a@palsu.co.id)" \
	"NIB 1234567890123 is held by company $cid, pending or active"
sql_fails "$PKI_TEST_PG_URI" "$(company_sql "$race1" 'PT Asli Jaya Palsu' 1234567890124 012345678901000 a@palsu.co.id)" \
	"NPWP 012345678901000 is held by company $cid, pending or active"
sql_fails "$PKI_TEST_PG_URI" "$(company_sql "$race1" 'PT Palsu' 1234567890126 0012345678901000 a@palsu.co.id)" \
	"NPWP 0012345678901000 is held by company $cid, pending or active"
sql_fails "$PKI_TEST_PG_URI" "BEGIN ISOLATION LEVEL REPEATABLE READ;
    $(company_sql "$race1" 'PT Baca Ulang' 1234567890125 012345678902500 a@ulang.co.id) COMMIT;" 'READ COMMITTED or SERIALIZABLE'
unchanged "companies refused by the database"
# A rejected company holds nothing: its NIB is free (a record inserted
# closed, by hand, passes the trigger too).
rejected=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($race1, 'corporate', 'company', '{}');
   UPDATE ra_application SET status = 'rejected', decided_at = now(), decision_reason = 'test'
       WHERE id = currval('ra_application_id_seq');
   INSERT INTO ra_company (application_id, representative_id, name, nib, npwp, deed_number, deed_date,
       decree_number, sysadmin_email) VALUES (currval('ra_application_id_seq'), $race1, 'PT Ditolak', '1234567890123',
       '012345678901000', '1', '2020-01-01', 'AHU-1', 'x@ditolak.co.id') RETURNING id" | sed -n 1p)
[[ $rejected =~ ^[0-9]+$ ]] || fail "a rejected company with a held NIB refused"
# A rejected one with the 16-digit form of the pending company's NPWP (and
# a NIB of its own): the officers see it in duplicate_npwp (below).
rejected16=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($race1, 'corporate', 'company', '{}');
   UPDATE ra_application SET status = 'rejected', decided_at = now(), decision_reason = 'test'
       WHERE id = currval('ra_application_id_seq');
   INSERT INTO ra_company (application_id, representative_id, name, nib, npwp, deed_number, deed_date,
       decree_number, sysadmin_email) VALUES (currval('ra_application_id_seq'), $race1, 'PT Palsu Enam Belas',
       '1234567890199', '0012345678901000', '1', '2020-01-01', 'AHU-1', 'x@enambelas.co.id') RETURNING id" | sed -n 1p)
[[ $rejected16 =~ ^[0-9]+$ ]] || fail "a rejected company with a held NPWP's other form refused"
# The other way round: a pending company with a 16-digit NPWP (made by
# SQL, as before 065 or by hand) holds its 15-digit form too, for rad.
alias16=$(corp_account alias16@balapan.example)
held16=$(q "$(company_sql "$alias16" 'PT Enam Belas Digit' 1234567890188 0012345678918800 d@balapan.example)" | sed -n 1p)
[[ $held16 =~ ^[0-9]+$ ]] || fail "test setup: a company with a 16-digit NPWP: $held16"
tok=$rep2tok
refuse 409 "a company with a pending company's 16-digit NPWP, in its 15-digit form" POST /v1/corporate \
	"$(company admin@palsu.co.id 'company_name=PT Palsu Lima Belas' nib=1234567890189 npwp=012345678918800)"
detail | has -F 'holds this NPWP' || fail "taken NPWP (15-digit form) detail: $(detail)"
[ "$(q "SELECT string_agg(id::text, ',') FROM ra_company WHERE npwp IN ('012345678918800', '0012345678918800')")" = "$held16" ] ||
	fail "a second company holds the 16-digit NPWP's 15-digit form"
# Two writers at once: the first (an open transaction) holds the NIB's
# lock until its COMMIT; the second waits for it, then sees its company.
su_role=$(q 'SELECT current_user')
# company_race WHAT SQL1 SQL2: SQL1 (a company's insert) in an open
# transaction, SQL2 meanwhile: SQL2 must wait for SQL1's lock and fail once
# it commits; sets first (SQL1's company id), its error in $tmp/race.out.
company_race() {
	local race_pid waiting=0
	open_tx
	echo "BEGIN; $2" >&"$tx_in"
	read -r -t 10 first <&"$tx_out" && [[ $first =~ ^[0-9]+$ ]] || fail "the open transaction did not insert: $first"
	sql_as "$PKI_TEST_PG_URI" "$3" >"$tmp/race.out" 2>&1 &
	race_pid=$!
	wait_lock "$su_role" && waiting=1
	commit_tx
	! wait "$race_pid" || fail "two companies with $1 inserted at once: $(cat "$tmp/race.out")"
	[ "$waiting" = 1 ] || fail "the second insert ($1) did not wait for the first's lock (the race was not tested)"
}
company_race "one NIB" "$(company_sql "$race1" 'PT Balapan Satu' 1234567890555 012345678905550 a@balapan.example)" \
	"$(company_sql "$race2" 'PT Balapan Dua' 1234567890555 012345678905551 b@balapan.example)"
has -F "NIB 1234567890555 is held by company $first" <"$tmp/race.out" ||
	fail "the second insert's error: $(cat "$tmp/race.out")"
[ "$(q "SELECT string_agg(id::text, ',') FROM ra_company WHERE nib = '1234567890555'")" = "$first" ] ||
	fail "the race left other companies with the NIB"
# The NPWP's lock is one for its two forms (schema/115): a second writer
# with the other form (another NIB) waits for the first, then sees it.
race4=$(corp_account race4@balapan.example)
race5=$(corp_account race5@balapan.example)
company_race "one NPWP's two forms" \
	"$(company_sql "$race4" 'PT Balapan Lima' 1234567890777 012345678907770 e@balapan.example)" \
	"$(company_sql "$race5" 'PT Balapan Enam' 1234567890778 0012345678907770 f@balapan.example)"
has -F "NPWP 0012345678907770 is held by company $first" <"$tmp/race.out" ||
	fail "the second insert's error (the NPWP's other form): $(cat "$tmp/race.out")"
# The same with rad as the second: its submission waits for the lock, then
# answers 409, nothing stored, audited or mailed.
open_tx
echo "BEGIN; $(company_sql "$race3" 'PT Balapan Tiga' 1234567890666 012345678906660 c@balapan.example)" >&"$tx_in"
read -r -t 10 first <&"$tx_out" && [[ $first =~ ^[0-9]+$ ]] || fail "the open transaction did not insert: $first"
n_apps=$(q "SELECT count(*) FROM ra_application WHERE account_id = (SELECT id FROM ra_account WHERE email = 'other-corp@example.com')")
n_audit=$(q "SELECT $AUDIT_MAX_OWN || '/' || (SELECT count(*) FROM issuance_order)")
company admin@balapan.example 'company_name=PT Balapan Empat' nib=1234567890666 npwp=012345678906661 >"$tmp/race.json"
curl -sS -X POST -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $rep2tok" --data-binary "@$tmp/race.json" "$url/v1/corporate" >"$tmp/race.code" &
race_pid=$!
waiting=0
wait_lock pki_ra && waiting=1
commit_tx
wait "$race_pid" || fail "curl POST /v1/corporate failed"
[ "$waiting" = 1 ] || fail "rad's submission did not wait for the NIB's lock (the race was not tested)"
code=$(cat "$tmp/race.code")
expect 409 "a submission while another company with its NIB commits"
detail | has -F 'nib: another company' || fail "race detail: $(detail)"
[ "$(q "SELECT string_agg(id::text, ',') FROM ra_company WHERE nib = '1234567890666'")" = "$first" ] &&
    [ "$(q "SELECT count(*) FROM ra_application WHERE account_id = (SELECT id FROM ra_account WHERE email = 'other-corp@example.com')")" = "$n_apps" ] &&
    [ "$(q "SELECT $AUDIT_MAX_OWN || '/' || (SELECT count(*) FROM issuance_order)")" = "$n_audit" ] || fail "the refused submission changed something"
[ "$(own_mail_count)" = "$n_mail" ] || fail "the refused submission mailed someone"
note "one pending or active company per NIB and NPWP: 409 from rad, refused by the database, also two at once; a rejected one's NIB is free: ok"
tok=$rtok

# --- the sysadmin ---------------------------------------------------------------------
# claim_mail EMAIL: the newest sysadmin claim mail to EMAIL; claim_token
# EMAIL: its token.
claim_mail() { grep -l -- 'sysadmin/claim' "$mail"/*.eml | xargs grep -l -- "^To: <$1>" | xargs ls -t | sed -n 1p; }
claim_token() { sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$(claim_mail "$1")" | tr -d '\r' | sed -n 1p; }
account admin@contoh.co.id
sys=$aid; systok=$tok
# A verified account of the address is not the sysadmin: whoever registered
# it first could be someone else. The role is the account's that brings
# back the mailed token.
refuse 404 "the address's account before its claim" GET "/v1/corporate/$cid"
ctok=$(claim_token admin@contoh.co.id)
secrets+=("$ctok")
# Another last character that a 32-byte token can end with (its two low
# bits zero, RFC 4648 §3.5: 'B' after 'A' was refused as malformed, 400).
refuse 404 "a claim with an unknown token" POST /v1/corporate/sysadmin/claim "{\"token\":\"${ctok%?}$([ "${ctok: -1}" = A ] && echo E || echo A)\"}"
unknown_claim=$(detail)
tok=$stok
refuse 403 "another address's account claims the role" POST /v1/corporate/sysadmin/claim "{\"token\":\"$ctok\"}"
# The claim token lives corporate.claim_ttl_seconds (7 days, policy/ra.conf)
# from its mailing, as the mail says. Mailed longer ago, it is refused as an
# unknown one (404, the same detail: an expired token tells nothing, as in
# verify-email and password reset) and nothing changes; mailed a minute
# less long ago, it still claims.
claim_until=$(q "SELECT to_char((created_at + interval '7 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
    FROM ra_company_sysadmin_claim WHERE company_id = $cid")
tr -d '\r' <"$(claim_mail admin@contoh.co.id)" | has -F "valid until $claim_until, usable once" ||
	fail "the claim mail does not say its token is valid until $claim_until"
q "UPDATE ra_company_sysadmin_claim SET created_at = created_at - interval '7 days' WHERE company_id = $cid" >/dev/null
tok=$systok
refuse 404 "a claim token older than corporate.claim_ttl_seconds" POST /v1/corporate/sysadmin/claim "{\"token\":\"$ctok\"}"
[ "$(detail)" = "$unknown_claim" ] || fail "an expired claim token is told from an unknown one: $(detail)"
tok=$stok
refuse 404 "another address's account with an expired claim token" POST /v1/corporate/sysadmin/claim "{\"token\":\"$ctok\"}"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.corporate.sysadmin_claim' AND object_id = '$cid'")" = 0 ] ||
	fail "an expired claim was audited"
# The token expired unclaimed: the representative, and only they, has a new
# one mailed to the sysadmin_email (POST /v1/corporate/{id}/sysadmin/claim-token);
# it replaces the old one, which is then refused as an unknown one.
claim_mails() { grep -l -- 'sysadmin/claim' "$mail"/*.eml | xargs grep -l -- '^To: <admin@contoh.co.id>' | wc -l; }
n_claim=$(claim_mails)
tok=$stok
refuse 404 "a stranger asks for a new claim token" POST "/v1/corporate/$cid/sysadmin/claim-token"
[ "$(detail)" = "no such company" ] || fail "stranger's claim-token detail: $(detail)"
tok=$systok
refuse 404 "the sysadmin address's account (no member yet) asks for a new claim token" POST "/v1/corporate/$cid/sysadmin/claim-token"
tok=
refuse 401 "a new claim token without a session" POST "/v1/corporate/$cid/sysadmin/claim-token"
tok=$rtok
refuse 400 "a new claim token with a body" POST "/v1/corporate/$cid/sysadmin/claim-token" '{}'
refuse 404 "a new claim token for no such company" POST /v1/corporate/999999/sysadmin/claim-token
[ "$(claim_mails)" = "$n_claim" ] || fail "a refused claim-token request mailed the sysadmin"
req POST "/v1/corporate/$cid/sysadmin/claim-token"
expect 202 "the representative has a new claim token mailed"
[ "$(jq -r '(.company_id | tostring) + "/" + .sysadmin_email' "$tmp/out")" = "$cid/admin@contoh.co.id" ] ||
	fail "claim-token answer: $(cat "$tmp/out")"
! jq -r '.. | strings' "$tmp/out" | grep -qE '^[A-Za-z0-9_-]{43}$' || fail "the claim-token answer carries a token"
new_until=$(jq -r .expires_at "$tmp/out")
[ "$new_until" = "$(q "SELECT to_char((created_at + interval '7 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
    FROM ra_company_sysadmin_claim WHERE company_id = $cid AND created_at > now() - interval '1 minute'")" ] ||
	fail "the new claim token's expires_at ($new_until) is not its created_at (now) + corporate.claim_ttl_seconds"
[ "$(claim_mails)" = $((n_claim + 1)) ] || fail "no new claim mail to the sysadmin"
ctok2=$(claim_token admin@contoh.co.id)
secrets+=("$ctok2")
[ -n "$ctok2" ] && [ "$ctok2" != "$ctok" ] || fail "the new claim mail has no new token"
tr -d '\r' <"$(claim_mail admin@contoh.co.id)" | has -F "valid until $new_until, usable once" ||
	fail "the new claim mail does not say its token is valid until $new_until"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.corporate.sysadmin_claim_token' AND object_id = '$cid'
    AND actor = 'subscriber:$rep' AND details->>'expires_at' = '$new_until'")" = 1 ] ||
	fail "ra.corporate.sysadmin_claim_token not audited"
# At most one per corporate.claim_resend_interval_seconds (600, policy/ra.conf).
refuse 429 "a second new claim token at once" POST "/v1/corporate/$cid/sysadmin/claim-token"
retry=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/Ip' "$tmp/hdr")
[ -n "$retry" ] && [ "$retry" -ge 1 ] && [ "$retry" -le 600 ] || fail "429 Retry-After: '$retry'"
[ "$(claim_mails)" = $((n_claim + 1)) ] || fail "a refused second claim-token request mailed the sysadmin"
tok=$systok
refuse 404 "the replaced claim token" POST /v1/corporate/sysadmin/claim "{\"token\":\"$ctok\"}"
[ "$(detail)" = "$unknown_claim" ] || fail "a replaced claim token is told from an unknown one: $(detail)"
# The new token's lifetime counts from its own mailing.
q "UPDATE ra_company_sysadmin_claim SET created_at = now() - interval '7 days' + interval '1 minute' WHERE company_id = $cid" >/dev/null
ctok=$ctok2
tok=$systok
req POST /v1/corporate/sysadmin/claim "{\"token\":\"$ctok\"}"
expect 200 "the sysadmin claims the role with the new token (a minute short of its lifetime)"
[ "$(jq -r '.role + "/" + (.company_id | tostring) + "/" + (.account_id | tostring)' "$tmp/out")" = "sysadmin/$cid/$sys" ] ||
	fail "claim answer: $(cat "$tmp/out")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.corporate.sysadmin_claim' AND object_id = '$cid'
    AND actor = 'subscriber:$sys'")" = 1 ] || fail "ra.corporate.sysadmin_claim not audited"
refuse 409 "a second claim" POST /v1/corporate/sysadmin/claim "{\"token\":\"$ctok\"}"
refuse 403 "the sysadmin asks for a new claim token" POST "/v1/corporate/$cid/sysadmin/claim-token"
jq -r .detail "$tmp/out" | has 'representative' || fail "sysadmin's claim-token detail: $(detail)"
tok=$rtok
refuse 409 "a new claim token once the sysadmin claimed the role" POST "/v1/corporate/$cid/sysadmin/claim-token"
[ "$(detail)" = "the company's sysadmin role is claimed already" ] || fail "claimed claim-token detail: $(detail)"
tok=$systok
req GET "/v1/corporate/$cid"
expect 200 "sysadmin GET before approval"
[ "$(jq -r '.status + "/" + (.your_roles | join(","))' "$tmp/out")" = pending/sysadmin ] || fail "GET: $(cat "$tmp/out")"
refuse 409 "invite before approval" POST "/v1/corporate/$cid/employees" '{"email":"emp-corp@example.com"}'
approve_by_sql "$capp"
# Approved, a company application still has nothing to agree to: 409, not 500.
tok=$rtok
refuse 409 "the company application's agreement preview" GET "/v1/applications/$capp/agreement"
refuse 409 "agreeing to the company application" POST "/v1/applications/$capp/agreement" \
	"{\"accept\":true,\"terms\":\"$NO_TERMS\",\"factor\":{\"type\":\"pin\",\"pin\":\"000000\"}}"
tok=$systok
req GET "/v1/corporate/$cid"
expect 200 "sysadmin GET"
[ "$(jq -r '.status + "/" + (.sysadmin_account_id | tostring)' "$tmp/out")" = "active/$sys" ] || fail "GET active: $(cat "$tmp/out")"
tok=$rtok
refuse 403 "the representative invites (not the sysadmin)" POST "/v1/corporate/$cid/employees" '{"email":"emp-corp@example.com"}'
tok=$stok
refuse 404 "a stranger invites" POST "/v1/corporate/$cid/employees" '{"email":"emp-corp@example.com"}'
refuse 404 "a stranger reads the company" GET "/v1/corporate/$cid"
refuse 404 "no such company" GET "/v1/corporate/999999"
tok=$systok
refuse 400 "invite: bad email" POST "/v1/corporate/$cid/employees" '{"email":"not-an-email"}'
refuse 400 "invite: unknown member" POST "/v1/corporate/$cid/employees" '{"email":"a@b.co","role":"sysadmin"}'
req POST "/v1/corporate/$cid/employees" '{"email":"Emp-Corp@example.com"}'
expect 201 "invite an employee"
inv=$(jq -r .invitation_id "$tmp/out")
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.corporate.invite' AND object_id = '$inv'")" = 1 ] ||
	fail "ra.corporate.invite not audited"
note "sysadmin (expired claim token 404, a new one mailed at the representative's request: the old 404, 429 at once, 409 once claimed; pending → active), invitation; 403 representative, 404 strangers: ok"

# --- the employee ------------------------------------------------------------------------
itok=$(mail_token emp-corp@example.com)
[ -n "$itok" ] || fail "no enrolment token mailed"
secrets+=("$itok")
tok=$stok
refuse 403 "another account accepts the invitation" POST /v1/corporate/enrolments/accept "{\"token\":\"$itok\"}"
account emp-corp@example.com
emp=$aid; etok=$tok
verify_phone "$emp"
refuse 404 "employee GET before accepting" GET "/v1/corporate/$cid"
refuse 400 "accept: malformed token" POST /v1/corporate/enrolments/accept '{"token":"x"}'
refuse 404 "accept: unknown token" POST /v1/corporate/enrolments/accept "{\"token\":\"$(printf 'A%.0s' {1..43})\"}"
unknown_enrol=$(detail)
# The enrolment token lives corporate.invite_ttl_seconds (7 days) from its
# invitation. Invited longer ago, it is refused as an unknown one (404, the
# same detail) and nothing changes; the sysadmin invites again and the new
# token enrols.
[ "$(q "SELECT extract(epoch FROM expires_at - created_at) = 604800 FROM ra_company_invitation WHERE id = $inv")" = t ] ||
	fail "the invitation's lifetime is not corporate.invite_ttl_seconds"
q "UPDATE ra_company_invitation SET created_at = created_at - interval '7 days', expires_at = expires_at - interval '7 days'
   WHERE id = $inv" >/dev/null
refuse 404 "accept: an enrolment token older than corporate.invite_ttl_seconds" POST /v1/corporate/enrolments/accept "{\"token\":\"$itok\"}"
[ "$(detail)" = "$unknown_enrol" ] || fail "an expired enrolment token is told from an unknown one: $(detail)"
tok=$systok
req POST "/v1/corporate/$cid/employees" '{"email":"emp-corp@example.com"}'
expect 201 "invite the employee again"
itok=$(mail_token emp-corp@example.com)
secrets+=("$itok")
tok=$etok
req POST /v1/corporate/enrolments/accept "{\"token\":\"$itok\"}"
expect 200 "employee accepts"
[ "$(q "SELECT count(*) FROM ra_company_member WHERE company_id = $cid AND account_id = $emp AND role = 'employee'")" = 1 ] ||
	fail "no member row"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.corporate.enrol' AND details->>'account_id' = '$emp'")" = 1 ] ||
	fail "ra.corporate.enrol not audited"
refuse 403 "an employee asks for a new claim token" POST "/v1/corporate/$cid/sysadmin/claim-token"
refuse 404 "accept the same token again" POST /v1/corporate/enrolments/accept "{\"token\":\"$itok\"}"
req GET "/v1/corporate/$cid"
expect 200 "employee GET"
[ "$(jq -r '(.your_roles | join(",")) + "/" + (.employees | length | tostring) + "/" + (has("revocation_requests") | tostring)' "$tmp/out")" = employee/1/false ] ||
	fail "employee's view: $(cat "$tmp/out")"
# The employee's own KYC for the company.
tok=$stok
before
kyc 'Orang Asing' 1985-06-07 0002 "$cid"
expect 404 "KYC for a company one is not enrolled in"
unchanged "KYC for a foreign company"
tok=$etok
kyc 'Siti Rahma' 1990-05-15 0003 "$cid"
expect 201 "employee's corporate KYC"
eapp=$(jq -r .id "$tmp/out")
[ "$(jq -r '.kind + "/" + (.company_id | tostring)' "$tmp/out")" = "corporate/$cid" ] || fail "KYC reply: $(cat "$tmp/out")"
[ "$(q "SELECT kind || '/' || profile || '/' || (subject->>'O') || '/' || (subject->>'CN') || '/' || (subject->>'serialNumber')
    FROM ra_application WHERE id = $eapp")" = "corporate/corporate/PT Contoh Sejahtera/Siti Rahma/NIK:3174011505900003" ] ||
	fail "employee application subject"
[ "$(q "SELECT company_id FROM ra_company_application WHERE application_id = $eapp")" = "$cid" ] ||
	fail "application not linked to the company"
note "enrolment (wrong account 403, expired token 404, reuse 404), employee's corporate KYC with O: ok"

# --- a certificate for the employee's application -----------------------------------
# Ordered with pkictl, issued by the stack's cad and linked by SQL, to keep
# this test on the revocation request; test_lifecycle.sh gets the employee's
# certificate through the agreement.
order_issued corporate "$(q "SELECT subject::text FROM ra_application WHERE id = $eapp")"
q "UPDATE ra_application SET status = 'approved', decided_at = now() WHERE id = $eapp;
   UPDATE ra_application SET status = 'agreed', agreed_at = now() WHERE id = $eapp;
   UPDATE ra_application SET status = 'issued', order_id = $order WHERE id = $eapp" >/dev/null
q "SELECT encode(der, 'base64') FROM certificate WHERE id = $cert" | base64 -d |
	openssl x509 -inform DER -out "$tmp/emp.pem"
openssl x509 -in "$tmp/emp.pem" -noout -subject | has 'O = PT Contoh Sejahtera' || fail "certificate without O"
ocsp() { ocsp_client -url "$PKI_OCSP_URL" -CAfile "$PKI_DIR/pki/root.pem" -issuer "$PKI_DIR/pki/issuing.pem" \
    -cert "$tmp/emp.pem" -no_nonce; }
ocsp | has 'emp.pem: good' || fail "new certificate not good: $(ocsp)"

# --- a second company: its sysadmin cannot touch the first's certificates -----------
tok=$rtok
req POST /v1/corporate "$(company admin@lain.co.id company_name='PT Lain Jaya' nib=2234567890123 npwp=022345678901000)"
expect 201 "a second company"
cid2=$(jq -r .id "$tmp/out") capp2=$(jq -r .application_id "$tmp/out")
approve_by_sql "$capp2"
# As a company submitted before schema/044 (no claim row): its sysadmin is
# the verified account of the address, the rule of then.
q "DELETE FROM ra_company_sysadmin_claim WHERE company_id = $cid2" >/dev/null
account admin@lain.co.id
sys2=$aid; sys2tok=$tok
req GET "/v1/corporate/$cid2"
expect 200 "a pre-claim company's sysadmin"
[ "$(jq -r '(.your_roles | join(",")) + "/" + (.sysadmin_account_id | tostring)' "$tmp/out")" = "sysadmin/$sys2" ] ||
	fail "a pre-claim company's sysadmin: $(cat "$tmp/out")"
tok=$rtok
refuse 409 "a new claim token for a pre-claim company with its sysadmin" POST "/v1/corporate/$cid2/sysadmin/claim-token"

otp_for() { # otp_for TOKEN EMAIL [PURPOSE]: an email OTP (default revoke); sets oid, ocode
	tok=$1
	req POST /v1/otp "{\"channel\":\"email\",\"purpose\":\"${3:-revoke}\"}"
	expect 201 "otp ${3:-revoke}"
	oid=$(jq -r .otp_id "$tmp/out")
	ocode=$(mail_code "$2")
	secrets+=("$ocode")
}

# --- an employee's rekey stays the company's ---------------------------------------------
# A second rad with a wide rekey window (the documented override, as test_ra_cert.sh).
start_rad rad2 PKI_REKEY_WINDOW_DAYS=400
rad2_pid=$rad_pid
otp_for "$etok" emp-corp@example.com rekey
url_main=$url
url=$rad_url
req POST "/v1/certificates/$cert/rekey" "{\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$ocode\"}}"
expect 201 "the employee rekeys"
url=$url_main
rkapp=$(jq -r .id "$tmp/out")
[ "$(q "SELECT company_id FROM ra_company_application WHERE application_id = $rkapp")" = "$cid" ] ||
	fail "the rekey application is not linked to the company"
# The representative's approved company application is no open application:
# their own certificate can be rekeyed.
ecert=$cert
order_issued personal "$(q "SELECT (jsonb_build_object('C', 'ID', 'CN', k.full_name, 'serialNumber', 'NIK:' || k.nik))::text
	FROM ra_kyc k WHERE k.application_id = $rpapp")"
rorder=$order rcert=$cert cert=$ecert
q "UPDATE ra_application SET status = 'agreed', agreed_at = now() WHERE id = $rpapp;
   UPDATE ra_application SET status = 'issued', order_id = $rorder WHERE id = $rpapp" >/dev/null
[ "$(q "SELECT status FROM ra_application WHERE id = $capp")" = approved ] || fail "test setup: company not approved"
otp_for "$rtok" rep-corp@example.com rekey
url=$rad_url
req POST "/v1/certificates/$rcert/rekey" "{\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$ocode\"}}"
expect 201 "the representative rekeys (the company application is no open application)"
rrkapp=$(jq -r .id "$tmp/out")
url=$url_main
note "an employee's rekey application stays linked to the company; the representative can rekey: ok"

# --- officers --------------------------------------------------------------------------
command -v oathtool >/dev/null || fail "oathtool missing"
opw='Officer-Corp-2026'
(umask 077; printf '%s\n' "$opw" >"$tmp/off.pw")
# officer USER [ACCOUNT-EMAIL]: a ra_officer (of role $role if set) made
# with pkictl (linked to the subscriber account ACCOUNT-EMAIL if given),
# logged in; sets oid and otok.
officer() {
	local s
	pkictl officer add --username "$1" --role "${role:-ra_officer}" --password-file "$tmp/off.pw" \
	    ${2:+--account-email "$2"} >"$tmp/add.out" || fail "officer add $1"
	s=$(sed -n 's/^totp_secret //p' "$tmp/add.out")
	secrets+=("$s")
	oid=$(q "SELECT id FROM ra_officer WHERE username = '$1'")
	tok=
	req POST /v1/officer/login "{\"username\":\"$1\",\"password\":\"$opw\",\"totp\":\"$(oathtool --totp -b "$s")\"}"
	expect 200 "officer log-in $1"
	otok=$(jq -r .token "$tmp/out")
	secrets+=("$otok")
}
officer corp.rekey.one
offr1=$oid tok_r1=$otok
officer corp.rekey.two
offr2=$oid tok_r2=$otok
approve() { echo "{\"decision\":\"approve\",\"reason\":\"$1\"}"; }
# The automatic checks of a company's own application (ra/review.c): no
# failing kyc check, but the company's data, the other companies with its
# NIB or NPWP, and its representative's standing. check NAME: pass of the
# named check in $tmp/out; check_detail NAME: its detail.
check() { jq -r --arg n "$1" '.checks[] | select(.name == $n) | .pass' "$tmp/out"; }
check_detail() { jq -r --arg n "$1" '.checks[] | select(.name == $n) | .detail' "$tmp/out"; }
company_checks='company_data,duplicate_nib,duplicate_npwp,representative_identity'
tok=$tok_r1
req GET "/v1/officer/applications/$capp2"
expect 200 "officer detail of the second company's application"
[ "$(jq -r '[.checks[].name] | join(",")' "$tmp/out")" = "$company_checks" ] ||
	fail "a company application's checks: $(jq -c .checks "$tmp/out")"
[ "$(jq -r '[.checks[].pass] | all | tostring' "$tmp/out")" = true ] ||
	fail "the second company's checks should pass: $(jq -c .checks "$tmp/out")"
check_detail duplicate_nib | has -F 'no other company registered with the RA has this NIB' ||
	fail "duplicate_nib detail: $(check_detail duplicate_nib)"
check_detail representative_identity | has -F "the representative (account $rep) has email and phone verified" ||
	fail "representative_identity detail: $(check_detail representative_identity)"

# --- an officer whose account belongs to the company acts on none of its files ---------
# Officers linked to the company's sysadmin and to its employee (schema/028):
# 403 from rad, and the database refuses the decision row itself.
officer corp.sysadmin.officer admin@contoh.co.id
offsys=$oid tok_sys_off=$otok
officer corp.representative.officer rep-corp@example.com
tok_rep_off=$otok
officer corp.employee.officer emp-corp@example.com
tok_emp_off=$otok
tok=$tok_sys_off
refuse 403 "the company's sysadmin, as officer, decides an employee's rekey" \
    POST "/v1/officer/applications/$rkapp/decision" "$(approve 'My colleague')"
jq -r .detail "$tmp/out" | has 'belongs to this company' || fail "company-conflict detail: $(cat "$tmp/out")"
refuse 403 "the company's sysadmin, as officer, cancels an employee's rekey" \
    POST "/v1/officer/applications/$rkapp/cancel" '{"reason":"not needed"}'
tok=$tok_rep_off
refuse 403 "the company's representative, as officer, decides an employee's rekey" \
    POST "/v1/officer/applications/$rkapp/decision" "$(approve 'Our team')"
jq -r .detail "$tmp/out" | has 'belongs to this company' || fail "company-conflict detail: $(cat "$tmp/out")"
# Nor do they read an employee's identity: the detail (full NIK, birth
# date, address) and the images are 403 as the decision is, nothing
# audited (until 2026-12-07 both were served, 200).
[ "$(q "SELECT count(*) FROM ra_kyc WHERE application_id = $rkapp AND selfie IS NOT NULL")" = 1 ] ||
	fail "test setup: the employee's rekey carries no KYC evidence"
refuse 403 "the company's representative, as officer, reads an employee's application" \
    GET "/v1/officer/applications/$rkapp"
jq -r .detail "$tmp/out" | has 'belongs to this company' || fail "company-conflict detail: $(cat "$tmp/out")"
refuse 403 "the company's representative, as officer, views an employee's selfie" \
    GET "/v1/officer/applications/$rkapp/evidence/selfie"
jq -r .detail "$tmp/out" | has 'belongs to this company' || fail "company-conflict detail: $(cat "$tmp/out")"
refuse 403 "the company's representative, as officer, views an employee's e-KTP photo" \
    GET "/v1/officer/applications/$rkapp/evidence/ktp_photo"
tok=$tok_sys_off
refuse 403 "the company's sysadmin, as officer, reads an employee's application" \
    GET "/v1/officer/applications/$rkapp"
sql_fails "$PKI_TEST_PG_URI" "INSERT INTO ra_decision (application_id, officer_id, decision, reason)
    VALUES ($rkapp, $offsys, 'approve', 'x')" 'may not decide'
sql_fails "$PKI_TEST_PG_URI" "INSERT INTO ra_decision (application_id, officer_id, decision, reason)
    VALUES ((SELECT application_id FROM ra_company WHERE id = $cid), $offsys, 'approve', 'x')" 'may not decide'
note "officers linked to the company's sysadmin or representative: 403 on its applications (decision, detail, evidence), refused in the database: ok"

# --- an employee's rekey is four-eyes, as the corporate certificate it renews ----------
# Its kind is rekey, its profile corporate: review.four_eyes_kinds (corporate
# eseal) names the profile, so one officer's approval leaves it submitted.
[ "$(q "SELECT kind || '/' || profile || '/' || status FROM ra_application WHERE id = $rkapp")" = rekey/corporate/submitted ] ||
	fail "test setup: the employee's rekey application"
tok=$tok_r1
req POST "/v1/officer/applications/$rkapp/decision" "$(approve 'Same employee, same company')"
expect 200 "first approval of the employee's rekey"
[ "$(jq -r '.status + "/" + (.approvals|tostring) + "/" + (.approvals_required|tostring)' "$tmp/out")" = submitted/1/2 ] ||
	fail "one officer approved a corporate rekey: $(cat "$tmp/out")"
[ "$(q "SELECT status FROM ra_application WHERE id = $rkapp")" = submitted ] ||
	fail "the employee's rekey is no longer submitted after one approval"
[ "$(q "SELECT details->>'four_eyes' FROM audit_event WHERE action = 'ra.application.decide' AND object_id = '$rkapp'")" = true ] ||
	fail "the decision's audit event does not say four-eyes"
req GET "/v1/officer/applications/$rkapp"
expect 200 "officer detail of the employee's rekey"
[ "$(jq -r .four_eyes "$tmp/out")" = true ] || fail "a corporate rekey shown without four-eyes"
tok=$tok_r2
req POST "/v1/officer/applications/$rkapp/decision" "$(approve 'Second look: fine')"
expect 200 "second approval of the employee's rekey"
[ "$(jq -r '.status + "/" + (.approvals|tostring)' "$tmp/out")" = approved/2 ] ||
	fail "two officers' approvals must approve: $(cat "$tmp/out")"
[ "$(q "SELECT count(DISTINCT officer_id) FROM ra_decision WHERE application_id = $rkapp AND decision = 'approve'")" = 2 ] ||
	fail "the corporate rekey's approvers"
note "an employee's corporate rekey needs two officers' approvals (four-eyes by its profile): ok"

# --- a rekey is approved only while the certificate it renews is valid ----------------
# The representative's rekey waits for an officer; meanwhile its certificate
# is put on hold, then revoked: each approval is 409 and changes nothing
# (no decision, no audit event, no mail). A rejection still closes it.
[ "$(q "SELECT kind || '/' || status || '/' || previous_certificate_id FROM ra_application WHERE id = $rrkapp")" = \
  "rekey/submitted/$rcert" ] || fail "test setup: the representative's rekey application"
rserial=$(q "SELECT serial FROM certificate WHERE id = $rcert")
# Mail to this test's recipients other than pkictl's status notices to the
# representative (schema/034): rad-lapse's outbox, below, sends whatever
# the paused rads left queued, and its notifier's first round queues
# notices of the other tests' applications too.
# (grep -L exits 1 when no line matches anywhere, i.e. when every file is listed.)
other_mail() {
	{ grep -E -i -l -- "^To: <($own_mail)>" "$mail"/*.eml 2>/dev/null || true; } |
		{ xargs -r grep -L -E '^Subject: Your certificate (was (suspended|revoked)|is valid again)' || true; } | wc -l
}
# rad's notifier cancels a submitted rekey whose old certificate was revoked
# (ra_notifier_lapse, within its 5 s interval), so the refused approval
# below raced it, and lost once under ASan ("the application is
# cancelled"). For this section the stack's rad and rad2 are paused and a
# rad of the test's own answers, whose notifier's rounds are an hour apart
# (the first, at its start, comes before the revocation).
stack_rad=$(cat "$PKI_DIR/run/ra.pid")
at_exit "kill -CONT $stack_rad $rad2_pid 2>/dev/null || true"
kill -STOP "$stack_rad" "$rad2_pid"
url_paused=$url rad_url_paused=$rad_url
start_rad rad-lapse PKI_REKEY_WINDOW_DAYS=400 PKI_NOTIFIER_INTERVAL_SECONDS=3600
url=$rad_url
outbox_settled_re "^($own_mail)\$" || fail "rad's outbox did not send this test's mail within 30 s"
n_mail=$(other_mail)
pkictl cert revoke --serial "$rserial" --reason certificateHold >/dev/null || fail "pkictl cert revoke (hold)"
tok=$tok_r1
refuse 409 "approving the rekey of a certificate on hold" POST "/v1/officer/applications/$rrkapp/decision" \
	"$(approve 'Same person, same NIK')"
detail | has 'on hold' || fail "409 detail (hold): $(detail)"
pkictl cert release --serial "$rserial" >/dev/null || fail "pkictl cert release"
pkictl cert revoke --serial "$rserial" --reason keyCompromise >/dev/null || fail "pkictl cert revoke"
tok=$tok_r2
refuse 409 "approving the rekey of a revoked certificate" POST "/v1/officer/applications/$rrkapp/decision" \
	"$(approve 'Same person, same NIK')"
detail | has 'revoked' || fail "409 detail (revoked): $(detail)"
[ "$(q "SELECT status || '/' || (decided_at IS NULL) || '/' || (SELECT count(*) FROM ra_decision WHERE application_id = $rrkapp)
    FROM ra_application WHERE id = $rrkapp")" = submitted/true/0 ] || fail "a refused rekey approval changed the application"
[ "$(q "SELECT count(*) FROM audit_event WHERE object_id = '$rrkapp' AND action LIKE 'ra.application.%' AND action <> 'ra.application.rekey'")" = 0 ] ||
	fail "a refused rekey approval was audited"
[ "$(other_mail)" = "$n_mail" ] || fail "a refused rekey approval mailed someone"
wait_mail rep-corp@example.com '^Subject: Your certificate was revoked' >/dev/null ||
	fail "the representative was not told of pkictl's revocation"
req POST "/v1/officer/applications/$rrkapp/decision" '{"decision":"reject","reason":"the certificate to renew is revoked"}'
expect 200 "rejecting the rekey of a revoked certificate"
[ "$(q "SELECT status FROM ra_application WHERE id = $rrkapp")" = rejected ] || fail "the rekey is not rejected"
kill -TERM "$rad_pid"
wait "$rad_pid" 2>/dev/null || true
kill -CONT "$stack_rad" "$rad2_pid"
url=$url_paused rad_url=$rad_url_paused
note "a rekey of a certificate on hold or revoked meanwhile: approval 409, nothing changed; rejection ok"
# The representative's identity no longer stands (their certificate was
# revoked, though its application stays "issued"): no new company, no seal.
tok=$rtok
refuse 403 "a company from a representative whose certificate is revoked" POST /v1/corporate \
	"$(company admin@ketiga.co.id company_name='PT Ketiga' nib=1234567890999 npwp=012345678901999)"
detail | has 'not revoked or suspended' || fail "revoked representative, company detail: $(detail)"
refuse 403 "an e-seal from a representative whose certificate is revoked" POST "/v1/corporate/$cid/eseals" \
	'{"name":"Segel Faktur Elektronik"}'
detail | has 'not revoked or suspended' || fail "revoked representative, e-seal detail: $(detail)"
note "a representative whose certificate was revoked: company 403, e-seal 403"

# --- the revocation request -------------------------------------------------------------
rr() { echo "{\"certificate_id\":$1,\"reason\":\"$2\",\"comment\":\"left the company\",\"factor\":{\"type\":\"otp\",\"otp_id\":$3,\"code\":\"$4\"}}"; }
otp_for "$sys2tok" admin@lain.co.id
refuse 404 "another company's sysadmin, on their own company" POST "/v1/corporate/$cid2/revocation-requests" "$(rr "$cert" affiliationChanged "$oid" "$ocode")"
refuse 404 "another company's sysadmin, on this company" POST "/v1/corporate/$cid/revocation-requests" "$(rr "$cert" affiliationChanged "$oid" "$ocode")"
tok=$etok
refuse 403 "an employee requests a revocation" POST "/v1/corporate/$cid/revocation-requests" "$(rr "$cert" affiliationChanged 1 123456)"
otp_for "$systok" admin@contoh.co.id
refuse 400 "unknown reason" POST "/v1/corporate/$cid/revocation-requests" "$(rr "$cert" keyCompromise "$oid" "$ocode")"
refuse 400 "no factor" POST "/v1/corporate/$cid/revocation-requests" "{\"certificate_id\":$cert,\"reason\":\"unspecified\"}"
refuse 404 "a certificate not of this company" POST "/v1/corporate/$cid/revocation-requests" "$(rr 1 affiliationChanged "$oid" "$ocode")"
wrong=$(printf '%06d' $(((10#$ocode + 1) % 1000000)))
req POST "/v1/corporate/$cid/revocation-requests" "$(rr "$cert" affiliationChanged "$oid" "$wrong")"
expect 401 "a wrong OTP"
[ "$(q "SELECT count(*) FROM ra_revocation_request WHERE certificate_id = $cert")" = 0 ] ||
	fail "a request stored despite a wrong OTP"	# this certificate's: other tests (test_lifecycle) make requests too
[ "$(q "SELECT attempts FROM ra_otp WHERE id = $oid")" = 1 ] || fail "the wrong OTP was not counted"
# On hold (the CA suspended it meanwhile): still the company's to have revoked.
"$PKICTL" --config "$PKI_CONFIG" cert revoke --serial "$(q "SELECT serial FROM certificate WHERE id = $cert")" \
    --reason certificateHold >/dev/null || fail "pkictl cert revoke (hold)"
req POST "/v1/corporate/$cid/revocation-requests" "$(rr "$cert" affiliationChanged "$oid" "$ocode")"
expect 201 "sysadmin requests the revocation of a held certificate"
rid=$(jq -r .id "$tmp/out")
[ "$(q "SELECT status || '/' || reason || '/' || requested_by FROM ra_revocation_request WHERE id = $rid")" = "pending/affiliationChanged/$sys" ] ||
	fail "request row"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.corporate.revocation_request' AND object_id = '$rid' AND details->>'factor' = 'otp'")" = 1 ] ||
	fail "ra.corporate.revocation_request not audited"
otp_for "$systok" admin@contoh.co.id
refuse 409 "a second request while one is pending" POST "/v1/corporate/$cid/revocation-requests" "$(rr "$cert" unspecified "$oid" "$ocode")"
for _ in $(seq 50); do ocsp | has 'emp.pem: revoked' && break; sleep 0.1; done
ocsp_client -url "$PKI_OCSP_URL" -CAfile "$PKI_DIR/pki/root.pem" -issuer "$PKI_DIR/pki/issuing.pem" \
    -cert "$tmp/emp.pem" -no_nonce -resp_text | has 'Reason: certificateHold' || fail "not on hold before an officer decided: $(ocsp)"
note "revocation request (404 other sysadmin, 403 employee, 401 wrong OTP counted, 201 for a held certificate, 409 pending): ok"

# --- the officer carries it out ------------------------------------------------------
officer corp.officer
off=$oid
otok_main=$otok
tok=$systok
refuse 401 "a subscriber token on the officer list" GET /v1/officer/revocation-requests
refuse 401 "a subscriber decides" POST "/v1/officer/revocation-requests/$rid" '{"decision":"revoke"}'
tok=$otok
req GET /v1/officer/revocation-requests
expect 200 "officer list"
[ "$(jq -r ".revocation_requests[] | select(.id == $rid) | .status + \"/\" + .reason + \"/\" + .company_name" "$tmp/out")" = \
  "pending/affiliationChanged/PT Contoh Sejahtera" ] || fail "officer list: $(cat "$tmp/out")"
# The certificate's subject: whole for an officer, the NIK masked for an
# auditor (ra_mask_dn, ra/README.md "Masked identifiers"; until 2026-12-07
# an auditor read serialNumber=NIK:<all 16 digits> here). q never matches
# the subject, for any role.
empnik=$(q "SELECT k.nik FROM ra_kyc k JOIN ra_application a ON a.id = k.application_id
    JOIN issuance_order o ON o.id = a.order_id WHERE o.certificate_id = $cert")
[ "${#empnik}" = 16 ] || fail "test setup: the employee certificate's NIK: $empnik"
jq -r ".revocation_requests[] | select(.id == $rid) | .subject" "$tmp/out" | has -F "NIK:$empnik" ||
	fail "the officer's list lacks the subject: $(cat "$tmp/out")"
oid_main=$oid
role=auditor officer corp.auditor
tok=$otok oid=$oid_main otok=$otok_main
req GET /v1/officer/revocation-requests?per_page=100
expect 200 "the auditor's list"
jq -r ".revocation_requests[] | select(.id == $rid) | .subject" "$tmp/out" | has -F "NIK:************${empnik: -4}" ||
	fail "the auditor's list does not mask the subject: $(cat "$tmp/out")"
grep -Eq 'NIK:[0-9]{5}' "$tmp/out" && fail "the auditor's list shows a NIK: $(grep -Eo 'NIK:[0-9]+' "$tmp/out" | head -3)"
req GET "/v1/officer/revocation-requests?q=${empnik:0:10}"
expect 200 "the auditor's search by part of a NIK"
[ "$(jq -r .total "$tmp/out")" = 0 ] || fail "the auditor finds revocation requests by NIK digits: $(cat "$tmp/out")"
tok=$otok
refuse 400 "reject without a reason" POST "/v1/officer/revocation-requests/$rid" '{"decision":"reject"}'
refuse 400 "unknown decision" POST "/v1/officer/revocation-requests/$rid" '{"decision":"hold"}'
refuse 404 "no such request" POST /v1/officer/revocation-requests/999999 '{"decision":"revoke"}'
tok=$tok_emp_off
refuse 403 "an officer linked to an employee decides the company's revocation request" \
    POST "/v1/officer/revocation-requests/$rid" '{"decision":"reject","reason_text":"keep it"}'
jq -r .detail "$tmp/out" | has 'belongs to this company' || fail "company-conflict detail: $(cat "$tmp/out")"
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_revocation_request SET status = 'rejected', decided_at = now(),
    decided_by = (SELECT id FROM ra_officer WHERE username = 'corp.employee.officer') WHERE id = $rid" 'may not decide'
tok=$otok
# The decision itself: a second officer in the RA console (headless Chromium).
pkictl officer add --username corp.console --role ra_officer --password-file "$tmp/off.pw" >"$tmp/add2.out" ||
	fail "officer add corp.console"
(umask 077; sed -n 's/^totp_secret //p' "$tmp/add2.out" >"$tmp/console.totp")
secrets+=("$(cat "$tmp/console.totp")")
off=$(q "SELECT id FROM ra_officer WHERE username = 'corp.console'")
# The same log-in also opens the company application (one TOTP step: a
# second log-in in it would be a refused replay).
python3 "$REPO/tests/integration/console_browser.py" revreq,company "$url" corp.console "$tmp/off.pw" \
	"$tmp/console.totp" "$rid" "HR letter checked" "$capp" 1234567890123 admin@contoh.co.id \
	>"$tmp/browser.out" 2>&1 || { cat "$tmp/browser.out"; fail "the console in Chromium"; }
sed "s/^/$TEST_NAME: /" "$tmp/browser.out"
# The company application's detail shows its company (the API here; the
# console in the Chromium run above).
req GET "/v1/officer/applications/$capp"
expect 200 "officer detail of the company application"
[ "$(jq -r '[.company.name, .company.nib, .company.npwp, .company.deed_number, .company.deed_date,
    .company.sysadmin_email, (.company.representative.id | tostring)] | join("/")' "$tmp/out")" = \
  "PT Contoh Sejahtera/1234567890123/012345678901000/12/2020-01-15/admin@contoh.co.id/$rep" ] ||
	fail "officer detail: company $(jq -c .company "$tmp/out")"
# Its checks: the rejected company with its NIB and NPWP is named; its
# representative's certificate was revoked by the CA meanwhile.
[ "$(jq -r '[.checks[].name] | join(",")' "$tmp/out")" = "$company_checks" ] ||
	fail "the company application's checks: $(jq -c .checks "$tmp/out")"
[ "$(check company_data)/$(check duplicate_nib)/$(check duplicate_npwp)/$(check representative_identity)" = \
    true/false/false/false ] || fail "the company application's checks: $(jq -c .checks "$tmp/out")"
check_detail duplicate_nib | has -F "1 other company(ies) with this NIB: company $rejected \"PT Ditolak\" (rejected)" ||
	fail "duplicate_nib detail: $(check_detail duplicate_nib)"
check_detail duplicate_npwp | has -F "2 other company(ies) with this NPWP, in either form (15 digits, or 16: 0 and the 15): company $rejected \"PT Ditolak\" (rejected), company $rejected16 \"PT Palsu Enam Belas\" (rejected)" ||
	fail "duplicate_npwp detail: $(check_detail duplicate_npwp)"
check_detail representative_identity | has -F "the representative (account $rep): no personal application the RA approved" ||
	fail "representative_identity detail: $(check_detail representative_identity)"
[ "$(q "SELECT decision_reason FROM ra_revocation_request WHERE id = $rid")" = "HR letter checked" ] ||
	fail "the console's note is not the request's decision reason"
[ "$(q "SELECT revocation_reason || '/' || revoked_by FROM certificate WHERE id = $cert AND revoked_at IS NOT NULL")" = "3/officer:$off" ] ||
	fail "certificate not revoked (affiliationChanged, by the officer)"
[ "$(q "SELECT status || '/' || decided_by FROM ra_revocation_request WHERE id = $rid")" = "done/$off" ] || fail "request not closed"
[ "$(q "SELECT count(*) FROM audit_event WHERE actor = 'officer:$off' AND ((action = 'cert.revoke' AND object_id = '$cert')
    OR (action = 'ra.revocation_request.decide' AND object_id = '$rid'))")" = 2 ] || fail "revocation not audited"
wait_mail emp-corp@example.com "at your company's request" >/dev/null || fail "the employee was not told of the revocation"
# The employee's approved rekey of that certificate can no longer be agreed
# to (409): rad's notifier cancels it, audited, and tells the employee
# (before, it stayed approved and held the account's open application).
for _ in $(seq 300); do [ "$(q "SELECT status FROM ra_application WHERE id = $rkapp")" = cancelled ] && break; sleep 0.1; done
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.application.cancel' AND object_id = '$rkapp' AND actor = 'ra:notifier'
    AND details->>'from' = 'approved' AND details->>'previous' = 'revoked' AND details->>'previous_certificate_id' = '$cert'")" = 1 ] ||
	fail "the employee's approved rekey of the revoked certificate was not cancelled by the notifier: $(q "SELECT status FROM ra_application WHERE id = $rkapp")"
wait_mail emp-corp@example.com "^Subject: Your certificate application $rkapp was cancelled" >/dev/null ||
	fail "the employee was not told their rekey was cancelled"
refuse 409 "decide twice" POST "/v1/officer/revocation-requests/$rid" '{"decision":"reject","reason_text":"x"}'
for _ in $(seq 50); do ocsp | has 'emp.pem: revoked' && break; sleep 0.1; done
ocsp | has 'emp.pem: revoked' || fail "OCSP does not say revoked: $(ocsp)"
tok=$systok
req GET "/v1/corporate/$cid"
expect 200 "sysadmin GET after revocation"
[ "$(jq -r ".applications[] | select(.id == $eapp) | .certificate.revoked" "$tmp/out")" = true ] ||
	fail "GET does not show the revocation"
[ "$(jq -r ".revocation_requests[] | select(.id == $rid) | .status" "$tmp/out")" = done ] || fail "GET request status"
note "officer revokes in the console (API: 401 subscriber, 400, 404, 409 twice), OCSP revoked: ok"

# --- the sysadmin removes an employee ------------------------------------------------
# In the second company (the first's employee keeps their open rekey for
# the deactivation below). The employee holds a corporate certificate of
# it and has an application for it waiting; invited twice before enrolling
# (the older, unused invitation must not bring them back). The removal (a
# factor of purpose revoke) ends the membership (kept as history), cancels
# the open application, asks the officers to revoke the certificate
# (affiliationChanged) and tells the employee; their KYC for the company is
# then 403, their rekey 409; a new invitation enrols them again.
cert_before_removal=$cert
tok=$sys2tok
req POST "/v1/corporate/$cid2/employees" '{"email":"emp2-corp@example.com"}'
expect 201 "invite a second company's employee"
itok_old=$(mail_token emp2-corp@example.com)
secrets+=("$itok_old")
sleep 1	# the next invitation is the newest mail
req POST "/v1/corporate/$cid2/employees" '{"email":"emp2-corp@example.com"}'
expect 201 "invite them again before they enrol"
itok2=$(mail_token emp2-corp@example.com)
secrets+=("$itok2")
[ "$itok2" != "$itok_old" ] || fail "test setup: the same enrolment token twice"
account emp2-corp@example.com
emp2=$aid; e2tok=$tok
verify_phone "$emp2"
req POST /v1/corporate/enrolments/accept "{\"token\":\"$itok2\"}"
expect 200 "the second company's employee enrols"
m2=$(q "SELECT id FROM ra_company_member WHERE company_id = $cid2 AND account_id = $emp2")
kyc 'Budi Santoso' 1988-02-03 0005 "$cid2"
expect 201 "the employee's corporate KYC"
e2app=$(jq -r .id "$tmp/out")
order_issued corporate "$(q "SELECT subject::text FROM ra_application WHERE id = $e2app")"
e2cert=$cert
q "UPDATE ra_application SET status = 'approved', decided_at = now() WHERE id = $e2app;
   UPDATE ra_application SET status = 'agreed', agreed_at = now() WHERE id = $e2app;
   UPDATE ra_application SET status = 'issued', order_id = $order WHERE id = $e2app" >/dev/null
kyc 'Budi Santoso' 1988-02-03 0005 "$cid2"
expect 201 "a second corporate KYC of the employee, waiting for the officers"
e2open=$(jq -r .id "$tmp/out")
rm_body() { echo "{\"comment\":\"left on 2026-11-30\",\"factor\":{\"type\":\"otp\",\"otp_id\":$1,\"code\":\"$2\"}}"; }
# Who may remove: the sysadmin only; a stranger learns nothing.
tok=$e2tok
refuse 403 "an employee removes a colleague" POST "/v1/corporate/$cid2/employees/$emp2/remove" "$(rm_body 1 123456)"
tok=$systok
refuse 404 "another company's sysadmin removes" POST "/v1/corporate/$cid2/employees/$emp2/remove" "$(rm_body 1 123456)"
tok=
refuse 401 "a removal without a session" POST "/v1/corporate/$cid2/employees/$emp2/remove" "$(rm_body 1 123456)"
otp_for "$sys2tok" admin@lain.co.id
refuse 404 "removing an account that is no employee" POST "/v1/corporate/$cid2/employees/$rep/remove" "$(rm_body "$oid" "$ocode")"
refuse 400 "a removal without a factor" POST "/v1/corporate/$cid2/employees/$emp2/remove" '{"comment":"x"}'
refuse 400 "a removal with an unknown member" POST "/v1/corporate/$cid2/employees/$emp2/remove" \
	"{\"now\":true,\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$ocode\"}}"
refuse 400 "a removal with a reason no company may give" POST "/v1/corporate/$cid2/employees/$emp2/remove" \
	"{\"revocation_reason\":\"keyCompromise\",\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$ocode\"}}"
wrong=$(printf '%06d' $(((10#$ocode + 1) % 1000000)))
req POST "/v1/corporate/$cid2/employees/$emp2/remove" "$(rm_body "$oid" "$wrong")"
expect 401 "a removal with a wrong OTP"
[ "$(q "SELECT (removed_at IS NULL) || '/' || (SELECT status FROM ra_application WHERE id = $e2open) || '/' ||
    (SELECT count(*) FROM ra_revocation_request WHERE certificate_id = $e2cert) FROM ra_company_member WHERE id = $m2")" = true/submitted/0 ] ||
	fail "a refused removal changed something"
[ "$(q "SELECT attempts FROM ra_otp WHERE id = $oid")" = 1 ] || fail "the wrong OTP of a removal was not counted"
tok=$sys2tok
req POST "/v1/corporate/$cid2/employees/$emp2/remove" "$(rm_body "$oid" "$ocode")"
expect 200 "the sysadmin removes the employee"
[ "$(jq -r '[(.membership_id | tostring), (.account_id | tostring), (.cancelled_applications | map(tostring) | join(",")),
    (.revocation_requests | map(.certificate_id | tostring) | join(",")), (.requests_already_pending | length | tostring)] | join("/")' \
    "$tmp/out")" = "$m2/$emp2/$e2open/$e2cert/0" ] || fail "the removal's answer: $(cat "$tmp/out")"
rid3=$(jq -r '.revocation_requests[0].id' "$tmp/out")
# The membership is kept as history; the application cancelled; the request pending.
[ "$(q "SELECT (removed_at IS NOT NULL) || '/' || removed_by FROM ra_company_member WHERE id = $m2")" = "true/$sys2" ] ||
	fail "the membership row after the removal"
[ "$(q "SELECT status FROM ra_application WHERE id = $e2open")" = cancelled ] || fail "the open application was not cancelled"
[ "$(q "SELECT status FROM ra_application WHERE id = $e2app")" = issued ] || fail "the issued application changed"
[ "$(q "SELECT status || '/' || reason || '/' || requested_by || '/' || comment FROM ra_revocation_request WHERE id = $rid3")" = \
    "pending/affiliationChanged/$sys2/left on 2026-11-30" ] || fail "the removal's revocation request"
[ "$(q "SELECT count(*) FROM audit_event WHERE actor = 'subscriber:$sys2' AND (
    (action = 'ra.corporate.remove' AND object_type = 'ra_company_member' AND object_id = '$m2'
        AND details->>'account_id' = '$emp2' AND details->>'factor' = 'otp') OR
    (action = 'ra.application.cancel' AND object_id = '$e2open' AND details->>'member_removed' = '$m2') OR
    (action = 'ra.corporate.revocation_request' AND object_id = '$rid3' AND details->>'member_removed' = '$m2'))")" = 3 ] ||
	fail "the removal is not audited"
wait_mail emp2-corp@example.com 'removed you from its employees' >/dev/null || fail "the employee was not told of the removal"
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_company_member SET removed_at = NULL, removed_by = NULL WHERE id = $m2" 'only its removal'
otp_for "$sys2tok" admin@lain.co.id
refuse 404 "removing the employee twice" POST "/v1/corporate/$cid2/employees/$emp2/remove" "$(rm_body "$oid" "$ocode")"
# The former employee: no KYC in the company's name (403), no view of it,
# no enrolment with the invitation mailed before the removal.
tok=$e2tok
before
kyc 'Budi Santoso' 1988-02-03 0005 "$cid2"
expect 403 "a removed employee's KYC for the company"
unchanged "a removed employee's KYC for the company"
detail | has 'removed this account' || fail "removed KYC detail: $(detail)"
refuse 404 "a removed employee reads the company" GET "/v1/corporate/$cid2"
refuse 404 "a removed employee enrols with an invitation mailed before the removal" \
	POST /v1/corporate/enrolments/accept "{\"token\":\"$itok_old\"}"
[ "$(detail)" = "$unknown_enrol" ] || fail "a pre-removal invitation is told from an unknown one: $(detail)"
tok=$sys2tok
req GET "/v1/corporate/$cid2"
expect 200 "the sysadmin's view after the removal"
[ "$(jq -r "[(.employees | map(select(.account_id == $emp2)) | length | tostring),
    (.former_employees | map(select(.account_id == $emp2)) | .[0] | (.membership_id | tostring) + \":\" + (.removed_by | tostring))] | join(\"/\")" \
    "$tmp/out")" = "0/$m2:$sys2" ] || fail "the sysadmin's view of the removed employee: $(cat "$tmp/out")"
# An officer may still reject the request; the certificate is then not renewed.
tok=$tok_r1
req POST "/v1/officer/revocation-requests/$rid3" '{"decision":"reject","reason_text":"HR letter pending"}'
expect 200 "an officer rejects the removal's revocation request"
otp_for "$e2tok" emp2-corp@example.com rekey
url=$rad_url
refuse 409 "a removed employee rekeys the company's certificate" POST "/v1/certificates/$e2cert/rekey" \
	"{\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$ocode\"}}"
url=$url_main
detail | has 'removed you' || fail "removed rekey detail: $(detail)"
# Invited again: a new membership beside the old one.
tok=$sys2tok
req POST "/v1/corporate/$cid2/employees" '{"email":"emp2-corp@example.com"}'
expect 201 "re-inviting the removed employee"
itok3=$(mail_token emp2-corp@example.com)
secrets+=("$itok3")
tok=$e2tok
req POST /v1/corporate/enrolments/accept "{\"token\":\"$itok3\"}"
expect 200 "the removed employee enrols again"
[ "$(q "SELECT count(*) || '/' || count(*) FILTER (WHERE removed_at IS NULL) FROM ra_company_member
    WHERE company_id = $cid2 AND account_id = $emp2")" = 2/1 ] || fail "re-enrolment: the memberships"
kyc 'Budi Santoso' 1988-02-03 0005 "$cid2"
expect 201 "the re-enrolled employee's KYC for the company"
cert=$cert_before_removal
note "removal by the sysadmin (403 employee, 404 stranger/non-member/twice, 400s, 401 wrong OTP counted): membership kept as history, open application cancelled, revocation requested, audited, mailed; then KYC 403, GET 404, old invitation 404, rekey 409; re-invited: enrolled and KYC 201"

# --- invitations are capped; a new one replaces the live one -------------------------
# Policy corporate.invite_address_per_day (3, from any company) and
# corporate.invite_company_per_hour (20): beyond, 429 with Retry-After,
# nothing stored or mailed. Each new invitation of the company to an
# address voids its live one: only the newest token enrols.
mails_to() { { grep -l -- "^To: <$1>" "$mail"/*.eml 2>/dev/null || true; } | wc -l; }
tok=$sys2tok
invs=()
itoks=()
for i in 1 2 3; do
	req POST "/v1/corporate/$cid2/employees" '{"email":"invitee3@example.com"}'
	expect 201 "invitation $i of one address"
	invs+=("$(jq -r .invitation_id "$tmp/out")")
	itoks+=("$(mail_token invitee3@example.com)")
	secrets+=("${itoks[-1]}")
	[ "$i" = 3 ] || sleep 1	# the next mail is the newest
done
[ "$(q "SELECT string_agg((voided_at IS NOT NULL)::text, ',' ORDER BY id) FROM ra_company_invitation
    WHERE id IN (${invs[0]}, ${invs[1]}, ${invs[2]})")" = true,true,false ] || fail "a new invitation did not void the live one"
[ "$(q "SELECT string_agg(details->>'voided', ',' ORDER BY id) FROM audit_event WHERE action = 'ra.corporate.invite'
    AND object_id IN ('${invs[0]}', '${invs[1]}', '${invs[2]}')")" = 0,1,1 ] || fail "the invitations' audit does not count the voided ones"
grep -q 'the invitation mailed before no longer works' "$(newest_to invitee3@example.com)" ||
	fail "the replacing invitation's mail does not say the earlier one no longer works"
n_inv_mail=$(mails_to invitee3@example.com)
[ "$n_inv_mail" = 3 ] || fail "three invitations, $n_inv_mail mails"
refuse 429 "a fourth invitation of one address in a day" POST "/v1/corporate/$cid2/employees" '{"email":"invitee3@example.com"}'
retry=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/Ip' "$tmp/hdr")
[ -n "$retry" ] && [ "$retry" -ge 86000 ] && [ "$retry" -le 86400 ] || fail "the address cap's Retry-After: '$retry'"
detail | has 'corporate.invite_address_per_day' || fail "address cap detail: $(detail)"
# From another company too: the cap is the address's.
tok=$systok
refuse 429 "another company invites the same address" POST "/v1/corporate/$cid/employees" '{"email":"invitee3@example.com"}'
[ "$(mails_to invitee3@example.com)" = "$n_inv_mail" ] || fail "a refused invitation was mailed"
# The replaced tokens enrol nobody (404, as an unknown token); the newest does.
account invitee3@example.com
i3tok=$tok
for i in 0 1; do
	refuse 404 "accepting replaced invitation $((i + 1))" POST /v1/corporate/enrolments/accept "{\"token\":\"${itoks[$i]}\"}"
	[ "$(detail)" = "$unknown_enrol" ] || fail "a replaced invitation is told from an unknown one: $(detail)"
done
req POST /v1/corporate/enrolments/accept "{\"token\":\"${itoks[2]}\"}"
expect 200 "accepting the newest invitation"
# The company's hourly cap, by a rad whose policy allows as many as the
# company sent this hour and one more.
rad_url_saved=$rad_url
sent=$(q "SELECT count(*) FROM ra_company_invitation WHERE company_id = $cid2 AND created_at > now() - interval '1 hour'")
start_rad rad_invites PKI_CORPORATE_INVITE_COMPANY_PER_HOUR=$((sent + 1))
url=$rad_url
tok=$sys2tok
req POST "/v1/corporate/$cid2/employees" '{"email":"invitee4@example.com"}'
expect 201 "the company's last invitation of the hour"
refuse 429 "one invitation over the company's hourly cap" POST "/v1/corporate/$cid2/employees" '{"email":"invitee5@example.com"}'
retry=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/Ip' "$tmp/hdr")
[ -n "$retry" ] && [ "$retry" -ge 1 ] && [ "$retry" -le 3600 ] || fail "the company cap's Retry-After: '$retry'"
detail | has 'corporate.invite_company_per_hour' || fail "company cap detail: $(detail)"
[ "$(mails_to invitee5@example.com)" = 0 ] || fail "an invitation over the company's cap was mailed"
url=$url_main
rad_url=$rad_url_saved
note "invitations: a new one voids the live one (404 for the old token, audited), 4th to one address 429 (from any company), the company's hourly cap 429, nothing mailed: ok"

# --- policy review.revocation_reasons binds every officer's revocation -----------------
# A rad whose policy allows officers only keyCompromise and superseded: a
# sysadmin's request (or a removal's) for another reason is refused (400),
# an officer may not carry out one made before (409; rejecting it is
# fine), and a deactivation may not revoke as cessationOfOperation (400);
# rad says so at start-up. Nothing changes on a refusal.
rad_url_saved=$rad_url
start_rad rad_reasons 'PKI_REVIEW_REVOCATION_REASONS=keyCompromise superseded'
url_reasons=$rad_url
rad_url=$rad_url_saved
for r in unspecified affiliationChanged cessationOfOperation privilegeWithdrawn; do
	grep -q "review.revocation_reasons excludes $r" "$tmp/rad_reasons.log" ||
		fail "rad did not warn at start-up that the policy excludes $r: $(cat "$tmp/rad_reasons.log")"
done
otp_for "$sys2tok" admin@lain.co.id
url=$url_reasons
refuse 400 "a sysadmin's request for a reason the policy excludes" POST "/v1/corporate/$cid2/revocation-requests" \
	"$(rr "$e2cert" affiliationChanged "$oid" "$ocode")"
detail | has -F 'reason: affiliationChanged is not a reason the RA' || fail "excluded reason detail: $(detail)"
refuse 400 "a removal whose revocation reason the policy excludes" POST "/v1/corporate/$cid2/employees/$emp2/remove" \
	"$(rm_body "$oid" "$ocode")"
detail | has -F 'revocation_reason: affiliationChanged is not' || fail "excluded removal reason detail: $(detail)"
url=$url_main
req POST "/v1/corporate/$cid2/revocation-requests" "$(rr "$e2cert" affiliationChanged "$oid" "$ocode")"
expect 201 "the same request where the policy allows it"
rid4=$(jq -r .id "$tmp/out")
url=$url_reasons
tok=$tok_r1
refuse 400 "an officer's own revocation for an excluded reason" POST "/v1/officer/certificates/$e2cert/revoke" \
	'{"reason":"affiliationChanged","comment":"left the company"}'
refuse 409 "carrying out a request whose reason the policy excludes" POST "/v1/officer/revocation-requests/$rid4" \
	'{"decision":"revoke"}'
detail | has -F "the request's reason, affiliationChanged, is not a reason the RA" || fail "excluded request detail: $(detail)"
[ "$(q "SELECT revoked_at IS NULL FROM certificate WHERE id = $e2cert")" = t ] || fail "the certificate was revoked"
refuse 400 "a deactivation revoking as cessationOfOperation" POST "/v1/officer/companies/$cid2/deactivate" \
	'{"reason":"contract ended","revoke_certificates":true}'
detail | has -F 'revoke_certificates: cessationOfOperation is not' || fail "deactivation reason detail: $(detail)"
req POST "/v1/officer/revocation-requests/$rid4" '{"decision":"reject","reason_text":"not a reason of our CPS"}'
expect 200 "rejecting the request is allowed"
url=$url_main
note "review.revocation_reasons: a sysadmin's request or removal 400, carrying out a request 409, a deactivation's revocation 400, warned at start-up: ok"

# --- the officers' queue of revocation requests: filter, search, pages ----------------
# ra_parse_list_query's rules, as for the companies: status (pending, done,
# rejected), q (part of the company's name, its NIB, or the serial in any
# case), page, per_page; {revocation_requests, total, page, per_page};
# anything else 400. The second company's two rejected requests:
tok=$tok_r2
req GET "/v1/officer/revocation-requests?status=rejected&q=lain+JAYA"
expect 200 "the rejected requests of a company by part of its name"
[ "$(jq -r '([.revocation_requests[].id | tostring] | join(",")) + "/" + (.total | tostring) + "/" +
    (.page | tostring) + "/" + (.per_page | tostring)' "$tmp/out")" = "$rid4,$rid3/2/1/20" ] ||
	fail "revocation requests by status and name: $(cat "$tmp/out")"
req GET "/v1/officer/revocation-requests?q=Lain%20Jaya&per_page=1&page=2"
expect 200 "the second page of one request each"
[ "$(jq -r '([.revocation_requests[].id | tostring] | join(",")) + "/" + (.total | tostring) + "/" + (.page | tostring)' "$tmp/out")" = \
    "$rid3/2/2" ] || fail "revocation requests, page 2 of 1 each: $(cat "$tmp/out")"
e2serial=$(q "SELECT lower(serial) FROM certificate WHERE id = $e2cert")
req GET "/v1/officer/revocation-requests?q=$e2serial"
expect 200 "the requests of a certificate by its serial"
[ "$(jq -r '[.revocation_requests[] | .serial + ":" + (.id | tostring)] | join(",")' "$tmp/out")" = \
    "${e2serial^^}:$rid4,${e2serial^^}:$rid3" ] || fail "revocation requests by serial: $(cat "$tmp/out")"
req GET "/v1/officer/revocation-requests?status=pending&q=lain+jaya"
expect 200 "no pending request of the company"
[ "$(jq -r '(.revocation_requests | length | tostring) + "/" + (.total | tostring)' "$tmp/out")" = 0/0 ] ||
	fail "pending filter: $(cat "$tmp/out")"
refuse 400 "an unknown request status" GET "/v1/officer/revocation-requests?status=approved"
refuse 400 "a kind filter on revocation requests" GET "/v1/officer/revocation-requests?kind=corporate"
detail | has -F 'known: status, q, page, per_page' || fail "unknown parameter detail: $(detail)"
refuse 400 "status twice" GET "/v1/officer/revocation-requests?status=done&status=rejected"
refuse 400 "page 0" GET "/v1/officer/revocation-requests?page=0"
refuse 400 "per_page 101" GET "/v1/officer/revocation-requests?per_page=101"
note "the officers' revocation requests: status, search by name and serial, pages with a total; unknown or malformed parameters 400: ok"

# --- a request ends when its certificate is revoked otherwise (schema/079) ----------------
# The subscriber revokes it, an officer revokes it directly, pkictl revokes
# it: the request pending on it is closed as moot in that transaction
# (decided_by none, the decision reason naming the revocation, audited with
# the revoker as actor), the officers' queue shows it so, and carrying it
# out or rejecting it is 409. A hold closes nothing.
# moot RID ACTOR: RID closed as moot by ACTOR's revocation, audited once.
moot() {
	[ "$(q "SELECT status || '/' || coalesce(decided_by::text, '-') || '/' || (decided_at IS NOT NULL) || '/' ||
	    (strpos(decision_reason, 'by $2') > 0) FROM ra_revocation_request WHERE id = $1")" = moot/-/true/true ] ||
		fail "request $1 not closed as moot by $2: $(q "SELECT status || '/' || coalesce(decided_by::text, '-') || '/' ||
		    coalesce(decision_reason, '') FROM ra_revocation_request WHERE id = $1")"
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.revocation_request.moot' AND object_id = '$1' AND
	    actor = '$2' AND details->>'certificate_id' = (SELECT certificate_id::text FROM ra_revocation_request WHERE id = $1)")" = 1 ] ||
		fail "the closing of request $1 is not audited as $2's"
}
# lain_cert CN NIK: a corporate certificate of the second company issued to
# its sysadmin's account (by SQL and the stack's cad, as above); sets cert.
lain_cert() {
	local app
	app=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($sys2, 'corporate', 'corporate',
	    '{\"C\":\"ID\",\"O\":\"PT Lain Jaya\",\"CN\":\"$1\",\"serialNumber\":\"NIK:$2\"}') RETURNING id" | sed -n 1p)
	q "INSERT INTO ra_company_application (application_id, company_id) VALUES ($app, $cid2)" >/dev/null
	order_issued corporate "$(q "SELECT subject::text FROM ra_application WHERE id = $app")"
	q "UPDATE ra_application SET status = 'approved', decided_at = now() WHERE id = $app;
	   UPDATE ra_application SET status = 'agreed', agreed_at = now() WHERE id = $app;
	   UPDATE ra_application SET status = 'issued', order_id = $order WHERE id = $app" >/dev/null
}
# The employee revokes their own certificate while the company's request waits.
otp_for "$sys2tok" admin@lain.co.id
req POST "/v1/corporate/$cid2/revocation-requests" "$(rr "$e2cert" affiliationChanged "$oid" "$ocode")"
expect 201 "the sysadmin asks to revoke the employee's certificate"
rid5=$(jq -r .id "$tmp/out")
otp_for "$e2tok" emp2-corp@example.com
req POST "/v1/certificates/$e2cert/revoke" "{\"reason\":\"unspecified\",\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$ocode\"}}"
expect 200 "the employee revokes their certificate themselves"
moot "$rid5" "subscriber:$emp2"
tok=$tok_r2
req GET "/v1/officer/revocation-requests?status=moot&q=lain+jaya"
expect 200 "the moot requests of the company"
[ "$(jq -r ".revocation_requests[] | select(.id == $rid5) | [.status, (.decided_by | tostring), (.decided_at != null | tostring),
    (.decision_reason | contains(\"subscriber:$emp2\") | tostring)] | join(\"/\")" "$tmp/out")" = moot/null/true/true ] ||
	fail "the officers' queue of a moot request: $(cat "$tmp/out")"
req GET "/v1/officer/revocation-requests?status=pending&q=lain+jaya"
expect 200 "no pending request left"
[ "$(jq -r .total "$tmp/out")" = 0 ] || fail "a request of a revoked certificate is still pending: $(cat "$tmp/out")"
refuse 409 "carrying out a moot request" POST "/v1/officer/revocation-requests/$rid5" '{"decision":"revoke"}'
detail | has 'revoked otherwise' || fail "moot request detail: $(detail)"
refuse 409 "rejecting a moot request" POST "/v1/officer/revocation-requests/$rid5" '{"decision":"reject","reason_text":"x"}'
tok=$sys2tok
req GET "/v1/corporate/$cid2"
expect 200 "the sysadmin's view of the moot request"
[ "$(jq -r ".revocation_requests[] | select(.id == $rid5) | .status" "$tmp/out")" = moot ] ||
	fail "the sysadmin's view of the moot request: $(cat "$tmp/out")"
# An officer revokes a certificate directly while a request for it waits.
lain_cert 'Lain Satu' 3174011505900021
lc1=$cert cert=$cert_before_removal
otp_for "$sys2tok" admin@lain.co.id
req POST "/v1/corporate/$cid2/revocation-requests" "$(rr "$lc1" cessationOfOperation "$oid" "$ocode")"
expect 201 "a request for a second certificate"
rid6=$(jq -r .id "$tmp/out")
tok=$tok_r1
offr1_id=$(q "SELECT id FROM ra_officer WHERE username = 'corp.rekey.one'")
req POST "/v1/officer/certificates/$lc1/revoke" '{"reason":"keyCompromise","comment":"key reported lost"}'
expect 200 "an officer revokes the certificate directly"
moot "$rid6" "officer:$offr1_id"
# pkictl: a hold leaves the request pending, the revocation closes it.
lain_cert 'Lain Dua' 3174011505900022
lc2=$cert cert=$cert_before_removal
otp_for "$sys2tok" admin@lain.co.id
req POST "/v1/corporate/$cid2/revocation-requests" "$(rr "$lc2" unspecified "$oid" "$ocode")"
expect 201 "a request for a third certificate"
rid7=$(jq -r .id "$tmp/out")
lc2serial=$(q "SELECT serial FROM certificate WHERE id = $lc2")
pkictl cert revoke --serial "$lc2serial" --reason certificateHold >/dev/null || fail "pkictl cert revoke (hold)"
[ "$(q "SELECT status FROM ra_revocation_request WHERE id = $rid7")" = pending ] || fail "a hold closed the request"
pkictl cert revoke --serial "$lc2serial" --reason cessationOfOperation >/dev/null || fail "pkictl cert revoke"
moot "$rid7" "$(q "SELECT revoked_by FROM certificate WHERE id = $lc2")"
# The database keeps to it: a moot request names no officer, a decided one does.
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_revocation_request SET status = 'done' WHERE id = $rid5" 'final'
note "a request whose certificate the subscriber, an officer or pkictl revoked is closed as moot (audited, the queue shows it, deciding it 409); a hold leaves it pending: ok"

# --- an expired certificate leaves nothing to revoke -------------------------------------
# Expired in its row only (test_cert's way). The sysadmin's request is 409,
# nothing stored, and the database refuses it too (schema/097). A request
# filed while it was valid and carried out once it expired is closed as
# moot, with the notifier's wording and event (the officer as actor), and
# nothing revoked. Until 2026-12-07 both went through and the expired
# certificate was revoked. rad's notifier closes such a request too
# (test_ra_notifier_sweeps), within a round: the request is made again if
# it came first.
lain_cert 'Lain Tiga' 3174011505900023
lc3=$cert cert=$cert_before_removal
lc3dates=$(q "SELECT format('not_before = %L, not_after = %L', not_before, not_after) FROM certificate WHERE id = $lc3")
lc3_dates() { q "SET session_replication_role = replica; UPDATE certificate SET $1 WHERE id = $lc3" >/dev/null; }
lc3_dates "not_after = now() - interval '1 minute'"
otp_for "$sys2tok" admin@lain.co.id
refuse 409 "a request for an expired certificate" POST "/v1/corporate/$cid2/revocation-requests" \
	"$(rr "$lc3" unspecified "$oid" "$ocode")"
detail | has 'expired' || fail "expired request detail: $(detail)"
[ "$(q "SELECT count(*) FROM ra_revocation_request WHERE certificate_id = $lc3")" = 0 ] ||
	fail "a request for an expired certificate was stored"
sql_fails "$PKI_TEST_PG_URI" "INSERT INTO ra_revocation_request (company_id, certificate_id, requested_by, reason, comment)
    VALUES ($cid2, $lc3, $sys2, 'unspecified', 'x')" 'nothing is left to revoke'
tok=$tok_r1
for try in 1 2 3 4 5; do
	lc3_dates "$lc3dates"
	rid8=$(q "INSERT INTO ra_revocation_request (company_id, certificate_id, requested_by, reason, comment)
	    VALUES ($cid2, $lc3, $sys2, 'unspecified', 'filed while valid') RETURNING id" | sed -n 1p)
	lc3_dates "not_after = now() - interval '1 minute'"
	req POST "/v1/officer/revocation-requests/$rid8" '{"decision":"revoke"}'
	[ "$code" = 409 ] && [ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.revocation_request.moot'
	    AND object_id = '$rid8' AND actor = 'ra:notifier'")" = 1 ] && continue	# the notifier came first
	break
done
expect 200 "an officer carries out a request whose certificate expired"
[ "$(jq -r .status "$tmp/out")" = moot ] || fail "the expired request's answer: $(cat "$tmp/out")"
[ "$(q "SELECT status || '/' || coalesce(decided_by::text, '-') || '/' || (decision_reason LIKE
    'the certificate expired (%) unrevoked while the request waited: nothing is left to revoke')
    FROM ra_revocation_request WHERE id = $rid8")" = moot/-/true ] ||
	fail "the expired request was not closed as moot: $(q "SELECT status || ' ' || coalesce(decision_reason, '')
	    FROM ra_revocation_request WHERE id = $rid8")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.revocation_request.moot' AND object_id = '$rid8'
    AND actor = 'officer:$offr1_id' AND details->>'reason' = 'expired' AND details->>'requested_reason' = 'unspecified'
    AND details->>'certificate_id' = '$lc3'")" = 1 ] || fail "the expired request's closing is not audited once"
[ "$(q "SELECT (revoked_at IS NULL) || '/' || (SELECT count(*) FROM audit_event WHERE object_type = 'certificate'
    AND object_id = '$lc3' AND action = 'cert.revoke') FROM certificate WHERE id = $lc3")" = true/0 ] ||
	fail "the expired certificate was revoked"
refuse 409 "deciding the closed request" POST "/v1/officer/revocation-requests/$rid8" '{"decision":"revoke"}'
note "an expired certificate: the sysadmin's request 409 (refused by the database too); an older one carried out closes as moot, audited, nothing revoked: ok"

# --- an officer deactivates the company --------------------------------------------------
# Before: an application of the employee made for the company (oapp) is
# open (their rekey was cancelled with its revoked certificate, above: a new
# corporate application, submitted); the sysadmin holds
# a valid corporate certificate of the company (issued by cad, linked by SQL
# as above) and has asked to revoke it.
sapp=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($sys, 'corporate', 'corporate',
    '{\"C\":\"ID\",\"O\":\"PT Contoh Sejahtera\",\"CN\":\"Admin Contoh\",\"serialNumber\":\"NIK:3174011505900009\"}') RETURNING id" | sed -n 1p)
q "INSERT INTO ra_company_application (application_id, company_id) VALUES ($sapp, $cid)" >/dev/null
order_issued corporate "$(q "SELECT subject::text FROM ra_application WHERE id = $sapp")"
scert=$cert cert=$ecert
q "UPDATE ra_application SET status = 'approved', decided_at = now() WHERE id = $sapp;
   UPDATE ra_application SET status = 'agreed', agreed_at = now() WHERE id = $sapp;
   UPDATE ra_application SET status = 'issued', order_id = $order WHERE id = $sapp" >/dev/null
q "SELECT encode(der, 'base64') FROM certificate WHERE id = $scert" | base64 -d | openssl x509 -inform DER -out "$tmp/sys.pem"
ocsp_sys() { ocsp_client -url "$PKI_OCSP_URL" -CAfile "$PKI_DIR/pki/root.pem" -issuer "$PKI_DIR/pki/issuing.pem" \
    -cert "$tmp/sys.pem" -no_nonce; }
otp_for "$systok" admin@contoh.co.id
req POST "/v1/corporate/$cid/revocation-requests" "$(rr "$scert" cessationOfOperation "$oid" "$ocode")"
expect 201 "the sysadmin asks to revoke their corporate certificate"
rid2=$(jq -r .id "$tmp/out")
# While the request waits, the certificate cannot be rekeyed (a new one
# would outlive the company's request): 409, nothing stored.
otp_for "$systok" admin@contoh.co.id rekey
url=$rad_url
refuse 409 "a rekey while the company's revocation request is pending" POST "/v1/certificates/$scert/rekey" \
	"{\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$ocode\"}}"
url=$url_main
detail | has 'asked for this certificate' || fail "pending-request rekey detail: $(detail)"
# A rekey submitted before the request (made here as rad would have): once
# issued, the old certificate is superseded and the pending request moves
# to the new one, the certificate the sysadmin now holds.
srk=$(q "INSERT INTO ra_application (account_id, kind, profile, subject, previous_certificate_id)
    SELECT account_id, 'rekey', profile, subject, $scert FROM ra_application WHERE id = $sapp RETURNING id" | sed -n 1p)
q "INSERT INTO ra_company_application (application_id, company_id) VALUES ($srk, $cid)" >/dev/null
order_issued corporate "$(q "SELECT subject::text FROM ra_application WHERE id = $srk")"
snew=$cert cert=$ecert
q "UPDATE ra_application SET status = 'approved', decided_at = now() WHERE id = $srk;
   UPDATE ra_application SET status = 'agreed', agreed_at = now(), order_id = $order WHERE id = $srk" >/dev/null
moved() { [ "$(q "SELECT certificate_id || '/' || status FROM ra_revocation_request WHERE id = $rid2")" = "$snew/pending" ]; }
for _ in $(seq 100); do moved && break; sleep 0.1; done
moved || fail "the pending request $rid2 did not move to the rekeyed certificate $snew:
    $(q "SELECT certificate_id || '/' || status FROM ra_revocation_request WHERE id = $rid2")"
[ "$(q "SELECT revocation_reason FROM certificate WHERE id = $scert")" = 4 ] || fail "the old certificate is not superseded"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ra.revocation_request.move' AND object_id = '$rid2'
    AND details->>'from_certificate_id' = '$scert' AND details->>'to_certificate_id' = '$snew'")" = 1 ] ||
	fail "the request's move is not audited"
# Only that move: pki_ra cannot point the pending request at another
# certificate (here another company's employee's; schema/105). Until
# 2026-12-07 any pki_ra session could, and an officer then revoked it.
sql_fails "$PKI_TEST_PG_URI" "SET ROLE pki_ra; UPDATE ra_revocation_request SET certificate_id = $lc3 WHERE id = $rid2" \
	'is not the rekey of certificate'
sql_fails "$PKI_TEST_PG_URI" "SET ROLE pki_ra; UPDATE ra_revocation_request SET certificate_id = $scert WHERE id = $rid2" \
	'is not the rekey of certificate'
[ "$(q "SELECT certificate_id FROM ra_revocation_request WHERE id = $rid2")" = "$snew" ] ||
	fail "the pending request $rid2 was moved off the rekeyed certificate"
scert=$snew
q "SELECT encode(der, 'base64') FROM certificate WHERE id = $scert" | base64 -d | openssl x509 -inform DER -out "$tmp/sys.pem"
note "a pending revocation request: rekey 409; a rekey issued meanwhile carries the request to the new certificate, and to no other (schema/105)"
oapp=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) SELECT account_id, 'corporate', 'corporate', subject
    FROM ra_application WHERE id = $rkapp RETURNING id" | sed -n 1p)
q "INSERT INTO ra_company_application (application_id, company_id) VALUES ($oapp, $cid)" >/dev/null
[ "$(q "SELECT status FROM ra_application WHERE id = $oapp")" = submitted ] || fail "test setup: the employee's application"
deact() { echo "{\"reason\":\"$1\",\"revoke_certificates\":$2}"; }
# An application made for the company, agreed, whose order cad holds (cad
# held still): the deactivation waits for it (409); once the order failed,
# the deactivation cancels it like the others.
hold_cad
psub='{"C":"ID","O":"PT Contoh Sejahtera","CN":"Pending Person","serialNumber":"NIK:3174011505900010"}'
porder=$(q "INSERT INTO issuance_order (kind, profile, subject, key_type, requested_by)
    VALUES ('corporate', 'corporate', '$psub', 'ec-p256', 'test') RETURNING id" | sed -n 1p)
papp=$(q "INSERT INTO ra_application (account_id, kind, profile, subject)
    VALUES ($sys2, 'corporate', 'corporate', '$psub') RETURNING id" | sed -n 1p)
q "INSERT INTO ra_company_application (application_id, company_id) VALUES ($papp, $cid);
   UPDATE ra_application SET status = 'approved', decided_at = now() WHERE id = $papp;
   UPDATE ra_application SET status = 'agreed', agreed_at = now(), order_id = $porder WHERE id = $papp" >/dev/null
tok=$tok_r1
refuse 409 "a deactivation while an order made for the company is pending" POST "/v1/officer/companies/$cid/deactivate" \
    "$(deact 'x' true)"
detail | has "application $papp is being issued" || fail "pending-order detail: $(detail)"
q "UPDATE issuance_order SET status = 'failed', attempts = 5, done_at = now(), last_error = 'test' WHERE id = $porder" >/dev/null
kill -CONT $cad_pids
tok=$systok
refuse 401 "a subscriber deactivates" POST "/v1/officer/companies/$cid/deactivate" "$(deact 'x' true)"
tok=$tok_sys_off
refuse 403 "the company's sysadmin, as officer, deactivates it" POST "/v1/officer/companies/$cid/deactivate" "$(deact 'x' true)"
jq -r .detail "$tmp/out" | has 'belongs to this company' || fail "company-conflict detail: $(cat "$tmp/out")"
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_company SET deactivated_at = now(), deactivation_reason = 'x',
    deactivated_by = $offsys WHERE id = $cid" 'may not deactivate'
sql_fails "$PKI_TEST_PG_URI" "UPDATE ra_company SET name = 'PT Lain' WHERE id = $cid" 'only its deactivation'
tok=$tok_r1
refuse 400 "a deactivation without a reason" POST "/v1/officer/companies/$cid/deactivate" '{"revoke_certificates":true}'
refuse 400 "a deactivation with an unknown member" POST "/v1/officer/companies/$cid/deactivate" '{"reason":"x","now":1}'
refuse 400 "revoke_certificates not a boolean" POST "/v1/officer/companies/$cid/deactivate" '{"reason":"x","revoke_certificates":"yes"}'
refuse 404 "a deactivation of no company" POST /v1/officer/companies/999999999/deactivate "$(deact 'x' true)"
# The deactivation's mail counted by this test's recipients, after the
# outbox sent what it held for them: the other tests' mail, sent whenever
# it comes, made up for any missing.
outbox_settled_re "^($own_mail)\$" || fail "rad's outbox did not send this test's mail within 30 s"
n_mail=$(own_mail_count)
# The deactivation itself: an officer in the RA console (headless Chromium).
pkictl officer add --username corp.deactivator --role ra_officer --password-file "$tmp/off.pw" >"$tmp/add3.out" ||
	fail "officer add corp.deactivator"
(umask 077; sed -n 's/^totp_secret //p' "$tmp/add3.out" >"$tmp/deact.totp")
secrets+=("$(cat "$tmp/deact.totp")")
offr1=$(q "SELECT id FROM ra_officer WHERE username = 'corp.deactivator'")
python3 "$REPO/tests/integration/console_browser.py" deactivate "$url" corp.deactivator "$tmp/off.pw" \
	"$tmp/deact.totp" "$cid" 'Contract ended on 2026-11-30' >"$tmp/browser2.out" 2>&1 ||
	{ cat "$tmp/browser2.out"; fail "the deactivation in Chromium"; }
sed "s/^/$TEST_NAME: /" "$tmp/browser2.out"
grep -q 'deactivated: 2 application(s) cancelled, 1 certificate(s) revoked' "$tmp/browser2.out" ||
	fail "the console's deactivation counts: $(cat "$tmp/browser2.out")"
[ "$(q "SELECT deactivated_by || '/' || deactivation_reason || '/' || (deactivated_at IS NOT NULL) FROM ra_company WHERE id = $cid")" = \
    "$offr1/Contract ended on 2026-11-30/true" ] || fail "the company row after deactivation"
[ "$(q "SELECT string_agg(status, ',') FROM ra_application WHERE id IN ($oapp, $papp)")" = cancelled,cancelled ] ||
	fail "the open application and the failed order's application were not cancelled"
[ "$(q "SELECT revocation_reason || '/' || revoked_by FROM certificate WHERE id = $scert AND revoked_at IS NOT NULL")" = "5/officer:$offr1" ] ||
	fail "the company's certificate was not revoked (cessationOfOperation)"
[ "$(q "SELECT revocation_reason FROM certificate WHERE id = $ecert")" = 3 ] || fail "an earlier revocation changed"
[ "$(q "SELECT status || '/' || decided_by FROM ra_revocation_request WHERE id = $rid2")" = "done/$offr1" ] ||
	fail "the pending revocation request was not closed"
[ "$(q "SELECT count(*) FROM audit_event WHERE actor = 'officer:$offr1' AND (
    (action = 'ra.company.deactivate' AND object_id = '$cid' AND details->>'revoked_certificates' = '1') OR
    (action = 'ra.application.cancel' AND object_id = '$oapp' AND details->>'company_id' = '$cid') OR
    (action = 'cert.revoke' AND object_id = '$scert' AND details->>'reason' = 'cessationOfOperation') OR
    (action = 'ra.revocation_request.decide' AND object_id = '$rid2'))")" = 4 ] || fail "the deactivation is not audited"
# The representative, the sysadmin and both applicants are told; the
# sysadmin also, as its subscriber, of their certificate's revocation.
for who in rep-corp@example.com admin@contoh.co.id emp-corp@example.com admin@lain.co.id; do
	wait_mail "$who" 'Contract ended on 2026-11-30' >/dev/null || fail "no deactivation mail to $who"
done
m=$(wait_mail admin@contoh.co.id 'as your company was deactivated') || fail "the sysadmin was not told of the revocation"
grep -q 'Reason: cessationOfOperation' "$m" || fail "the revocation notice: $(cat "$m")"
[ "$(own_mail_count)" -ge $((n_mail + 5)) ] || fail "the deactivation sent fewer than five mails"
for _ in $(seq 50); do ocsp_sys | has 'sys.pem: revoked' && break; sleep 0.1; done
ocsp_sys | grep -A4 'sys.pem: revoked' | has 'Reason: cessationOfOperation' || fail "OCSP after deactivation: $(ocsp_sys)"
note "deactivation (401, 403 conflict, 400s, 404; done in the console): open application cancelled, certificate revoked (OCSP), request closed, mailed, audited"

# Nothing acts in the deactivated company's name any more.
tok=$tok_r1
refuse 409 "a second deactivation" POST "/v1/officer/companies/$cid/deactivate" "$(deact 'again' false)"
req GET "/v1/officer/applications/$capp"
expect 200 "officer detail of a deactivated company's application"
[ "$(jq -r .company.status "$tmp/out")" = deactivated ] || fail "officer detail: $(jq -c .company "$tmp/out")"
tok=$systok
req GET "/v1/corporate/$cid"
expect 200 "sysadmin GET of the deactivated company"
[ "$(jq -r '.status + "/" + (.deactivated_at != null | tostring)' "$tmp/out")" = deactivated/true ] ||
	fail "GET after deactivation: $(cat "$tmp/out")"
refuse 409 "the sysadmin invites into a deactivated company" POST "/v1/corporate/$cid/employees" '{"email":"late@example.com"}'
jq -r .detail "$tmp/out" | has 'deactivated' || fail "not-active detail: $(cat "$tmp/out")"
tok=$rtok
refuse 409 "an e-seal for a deactivated company" POST "/v1/corporate/$cid/eseals" '{"name":"Segel Contoh"}'
refuse 409 "a new claim token for a deactivated company" POST "/v1/corporate/$cid/sysadmin/claim-token"
detail | has 'deactivated' || fail "deactivated claim-token detail: $(detail)"
tok=$etok
before
kyc 'Siti Rahma' 1990-05-15 0003 "$cid"
expect 404 "an employee's KYC for a deactivated company"
unchanged "an employee's KYC for a deactivated company"
# An application made for it that is still submitted (here by SQL) is not approved.
lapp=$(q "INSERT INTO ra_application (account_id, kind, profile, subject) VALUES ($sys2, 'corporate', 'corporate',
    '{\"C\":\"ID\",\"O\":\"PT Contoh Sejahtera\",\"CN\":\"Late\"}') RETURNING id" | sed -n 1p)
q "INSERT INTO ra_company_application (application_id, company_id) VALUES ($lapp, $cid)" >/dev/null
tok=$tok_r2
refuse 409 "approving an application made for a deactivated company" POST "/v1/officer/applications/$lapp/decision" \
    "$(approve 'looks fine')"
jq -r .detail "$tmp/out" | has 'not active' || fail "inactive-company detail: $(cat "$tmp/out")"
req POST "/v1/officer/applications/$lapp/decision" '{"decision":"reject","reason":"the company is deactivated"}'
expect 200 "rejecting it"
# A deactivated company's NIB and NPWP are free again (schema/065): here
# another representative registers them (the real company after a false
# registration, say).
tok=$rep2tok
req POST /v1/corporate "$(company admin@asli.co.id 'company_name=PT Contoh Sejahtera Asli')"
expect 201 "a company with a deactivated company's NIB and NPWP"
cid3=$(jq -r .id "$tmp/out") capp3=$(jq -r .application_id "$tmp/out")
tok=$tok_r2
req GET "/v1/officer/applications/$capp3"
expect 200 "officer detail of the company with a deactivated company's NIB"
[ "$(check duplicate_nib)/$(check duplicate_npwp)/$(check representative_identity)" = false/false/true ] ||
	fail "the new company's checks: $(jq -c .checks "$tmp/out")"
check_detail duplicate_nib | has -F "2 other company(ies) with this NIB: company $cid \"PT Contoh Sejahtera\" (deactivated), company $rejected \"PT Ditolak\" (rejected)" ||
	fail "duplicate_nib detail of the new company: $(check_detail duplicate_nib)"
# The officers' list of companies: by status, by name, NIB or sysadmin email.
tok=$tok_r2
req GET "/v1/officer/companies?status=deactivated&q=contoh"
expect 200 "the deactivated companies named like contoh"
[ "$(jq -r ".companies[] | select(.id == $cid) | [.status, .name, .sysadmin_email, .representative_email,
    (.employees | tostring), (.deactivated_at != null | tostring), (.application_id | tostring)] | join(\"/\")" "$tmp/out")" = \
    "deactivated/PT Contoh Sejahtera/admin@contoh.co.id/rep-corp@example.com/1/true/$capp" ] ||
	fail "the company list: $(cat "$tmp/out")"
[ "$(jq -r '[.companies[].status] | unique | join(",")' "$tmp/out")" = deactivated ] || fail "status filter: $(cat "$tmp/out")"
req GET "/v1/officer/companies?status=active&q=admin%40lain.co.id"
expect 200 "the active companies by sysadmin email"
[ "$(jq -r '([.companies[].id | tostring] | join(",")) + "/" + (.total | tostring)' "$tmp/out")" = "$cid2/1" ] ||
	fail "search by sysadmin email (company $cid2): $(cat "$tmp/out")"
req GET "/v1/officer/companies?q=1234567890123&per_page=1"
expect 200 "companies by NIB, one per page"
[ "$(jq -r '(.companies | length | tostring) + "/" + (.per_page | tostring)' "$tmp/out")" = 1/1 ] &&
    [ "$(jq -r .total "$tmp/out")" -ge 2 ] || fail "search by NIB: $(cat "$tmp/out")"
refuse 400 "an unknown company status" GET "/v1/officer/companies?status=approved"
refuse 400 "a kind filter on companies" GET "/v1/officer/companies?kind=corporate"
tok=$systok
refuse 401 "a subscriber lists companies" GET /v1/officer/companies
note "after deactivation: 409 again, status deactivated, invite/e-seal 409, KYC 404, approval 409 (rejection ok); the officers' company list (status, name, email, NIB, paging)"

# --- no secret in rad's log or the audit --------------------------------------------
audit_text "$tmp/audit.txt"
no_secret_in "rad's log" "$log"
no_secret_in "the audit" "$tmp/audit.txt"
! grep -q '"level":"err"' "$log" || { grep '"level":"err"' "$log"; fail "errors in $log"; }
note "no token or password in the log or audit, no error logged: ok"
