#!/usr/bin/env bash
# pkictl cert: issuance from a CSR with a policy profile, judged by openssl
# verify and certtool; revocation, hold and release; the audit trail; and the
# refusals, each of which must change nothing.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
count() { q "SELECT count(*) FROM certificate"; }

newcsr() { # newcsr NAME SUBJECT [keyopts...]
	local name=$1 subj=$2
	shift 2
	openssl req -new -newkey "${@:-ec}" -nodes -keyout "$tmp/$name.key" -subj "$subj" \
		-out "$tmp/$name.csr" 2>/dev/null
}
newcsr ec "/C=ID/CN=Budi Santoso/serialNumber=NIK3174012345670001" ec -pkeyopt ec_paramgen_curve:P-256
pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" --out "$tmp/ec.pem" ||
	fail "issue from an EC CSR"
newcsr rsa "/C=ID/CN=Siti Rahma" rsa:2048
pkictl cert issue --profile subscriber --csr "$tmp/rsa.csr" >"$tmp/rsa.pem" ||
	fail "issue from an RSA CSR (to stdout)"
for c in ec rsa; do
	openssl verify -x509_strict -purpose smimesign -CAfile "$PKI_ROOT_CERT" \
		-untrusted "$PKI_ISSUING_CERT" "$tmp/$c.pem" >/dev/null || fail "$c does not verify"
	cat "$tmp/$c.pem" "$PKI_ISSUING_CERT" >"$tmp/$c.chain"
	certtool --verify --load-ca-certificate "$PKI_ROOT_CERT" --infile "$tmp/$c.chain" \
		>"$tmp/ct.out" 2>&1 || { cat "$tmp/ct.out"; fail "certtool rejects $c"; }
	# The certificate carries the CSR's key and subject, the profile's extensions.
	[ "$(openssl x509 -noout -pubkey -in "$tmp/$c.pem")" = \
	  "$(openssl req -noout -pubkey -in "$tmp/$c.csr")" ] || fail "$c: not the CSR's key"
done
text=$(openssl x509 -noout -text -in "$tmp/ec.pem")
for want in 'serialNumber = NIK3174012345670001' 'Digital Signature, Non Repudiation' \
    'E-mail Protection' 'Policy: 2.999.1.1.2' 'OCSP - URI:http://127.0.0.1' \
    '/issuing.crl' '/issuing-delta.crl' 'CA:FALSE'; do
	grep -qF -- "$want" <<<"$text" || fail "subscriber certificate lacks: $want"
done
ser=$(openssl x509 -noout -serial -in "$tmp/ec.pem" | cut -d= -f2)
rser=$(openssl x509 -noout -serial -in "$tmp/rsa.pem" | cut -d= -f2)
[ ${#ser} -ge 16 ] || fail "serial too short"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.issue' AND details->>'serial' = '$ser'")" = 1 ] ||
	fail "issuance not audited"
[ "$(q "SELECT encode(sha256(der), 'hex') FROM certificate WHERE serial = '$ser'")" = \
  "$(openssl x509 -in "$tmp/ec.pem" -outform DER | sha256sum | cut -d' ' -f1)" ] ||
	fail "stored certificate differs from the one handed out"
# The ceremony's certificates are in the registry too (the root's responder answers for the issuing CA).
[ "$(q "SELECT count(*) FROM certificate WHERE profile IN ('issuing-ca', 'ocsp-responder', 'tsa')")" = 4 ] ||
	fail "ceremony certificates missing from the status registry"

# --- refusals change nothing --------------------------------------------------------
n0=$(count)
expect_refused() { # expect_refused WANT-EXIT WHAT CMD...
	local want=$1 what=$2 rc=0
	shift 2
	"$@" >"$tmp/out" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$tmp/out"; fail "$what: exit $rc, want $want"; }
}
# A CSR whose signature does not match its key (proof of possession fails).
openssl req -in "$tmp/ec.csr" -outform DER -out "$tmp/ec.der"
# Flip one bit of the signature's last byte.
n=$(stat -c %s "$tmp/ec.der")
{ head -c $((n - 1)) "$tmp/ec.der"; tail -c 1 "$tmp/ec.der" | tr '\000-\377' '\001-\377\000'; } >"$tmp/bad.csr"
openssl req -inform DER -in "$tmp/bad.csr" -noout -verify 2>&1 | has "verify OK" &&
	fail "test CSR still verifies"
expect_refused 1 "tampered CSR" pkictl cert issue --profile subscriber --csr "$tmp/bad.csr"
echo "not a csr" >"$tmp/junk.csr"
expect_refused 1 "junk CSR" pkictl cert issue --profile subscriber --csr "$tmp/junk.csr"
expect_refused 3 "CA profile outside a ceremony" pkictl cert issue --profile issuing-ca --csr "$tmp/ec.csr"
expect_refused 1 "unknown profile" pkictl cert issue --profile no-such --csr "$tmp/ec.csr"
# A CSR over 64 KiB is refused before it is parsed, whatever it is.
{ cat "$tmp/ec.csr"; head -c 70000 /dev/zero | tr '\0' '#'; } >"$tmp/big.csr"
expect_refused 1 "a CSR over 64 KiB" pkictl cert issue --profile subscriber --csr "$tmp/big.csr"
grep -q 'larger than 65536 bytes' "$tmp/out" || fail "oversized CSR: $(cat "$tmp/out")"
expect_refused 1 "unknown issuer" pkictl cert issue --issuer nobody --profile subscriber --csr "$tmp/ec.csr"
# The responder's and the TSA's certificates come from the ceremony only, the
# root signs only there, weak keys are refused, and an unwritable --out
# fails before anything is signed.
expect_refused 3 "OCSP responder profile outside a ceremony" pkictl cert issue --profile ocsp-responder --csr "$tmp/ec.csr"
expect_refused 3 "TSA profile outside a ceremony" pkictl cert issue --profile tsa --csr "$tmp/ec.csr"
echo "an earlier file" >"$tmp/keep.pem"
expect_refused 3 "a refusal with --out an existing file" pkictl cert issue --profile tsa --csr "$tmp/ec.csr" \
	--out "$tmp/keep.pem"
[ "$(cat "$tmp/keep.pem")" = "an earlier file" ] || fail "a refused issuance changed the existing --out file"
expect_refused 3 "the root signing a subscriber" pkictl cert issue --issuer root --profile subscriber --csr "$tmp/ec.csr"
newcsr weak "/C=ID/CN=Weak Key" rsa:1024
expect_refused 3 "an RSA-1024 CSR" pkictl cert issue --profile subscriber --csr "$tmp/weak.csr"
grep -q 'at least 2048' "$tmp/out" || fail "weak key: $(cat "$tmp/out")"
newcsr p521 "/C=ID/CN=P521 Key" ec -pkeyopt ec_paramgen_curve:P-521
expect_refused 3 "a P-521 CSR" pkictl cert issue --profile subscriber --csr "$tmp/p521.csr"
expect_refused 1 "--out in a missing directory" pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" \
	--out "$tmp/no/such/dir.pem"
[ "$(count)" = "$n0" ] || fail "a refused issuance stored a certificate"
# A profile without extendedKeyUsage (eseal) is not taken for a CA usage.
pkictl cert issue --profile eseal --csr "$tmp/ec.csr" --out "$tmp/eseal.pem" >"$tmp/out" 2>&1 ||
	{ cat "$tmp/out"; fail "pkictl cert issue --profile eseal"; }
openssl verify -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" "$tmp/eseal.pem" >/dev/null ||
	fail "the eseal certificate does not verify"

# --- revocation, hold, release --------------------------------------------------------
expect_refused 2 "bad reason" pkictl cert revoke --serial "$ser" --reason removeFromCRL
expect_refused 2 "bad serial" pkictl cert revoke --serial "xyz" --reason keyCompromise
expect_refused 3 "unknown serial" pkictl cert revoke --serial 0ABC --reason keyCompromise
expect_refused 3 "release a good certificate" pkictl cert release --serial "$ser"
pkictl cert revoke --serial "$ser" --reason certificateHold --invalidity-date 2026-11-02T00:00:00.5Z >/dev/null ||
	fail "hold"
pkictl cert status --serial "$ser" | has 'status on-hold' || fail "status after hold"
held=$(q "SELECT revoked_at || '/' || invalidity_date FROM certificate WHERE serial = '$ser'")
expect_refused 3 "a second hold" pkictl cert revoke --serial "$ser" --reason certificateHold
[ "$(q "SELECT revoked_at || '/' || invalidity_date FROM certificate WHERE serial = '$ser'")" = "$held" ] ||
	fail "a second hold rewrote the first"
pkictl cert release --serial "$ser" >/dev/null || fail "release"
pkictl cert status --serial "$ser" | has 'status good' || fail "status after release"
# Lower-case and leading zeros name the same certificate.
pkictl cert revoke --serial "00$(tr 'A-F' 'a-f' <<<"$ser")" --reason keyCompromise \
	--invalidity-date 2026-11-01T00:00:00Z >/dev/null || fail "revoke"
pkictl cert status --serial "$ser" | has 'status revoked .* reason keyCompromise' ||
	fail "status after revoke"
expect_refused 3 "revoke twice" pkictl cert revoke --serial "$ser" --reason superseded
expect_refused 3 "release a revoked certificate" pkictl cert release --serial "$ser"
expect_refused 2 "an invalidity date in the future" pkictl cert revoke --serial "$rser" --reason keyCompromise \
	--invalidity-date 2099-01-01T00:00:00Z
expect_refused 2 "a malformed invalidity date" pkictl cert revoke --serial "$rser" --reason keyCompromise \
	--invalidity-date notadate
grep -q 'YYYY-MM-DDTHH:MM:SSZ' "$tmp/out" || fail "invalidity date message: $(cat "$tmp/out")"
pkictl cert status --serial "$rser" | has 'status good' || fail "a refused revocation changed $rser"
[ "$(q "SELECT revocation_reason || ' ' || to_char(invalidity_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM certificate WHERE serial = '$ser'")" = "1 2026-11-01" ] ||
	fail "revocation row"
for a in cert.revoke cert.release; do
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = '$a' AND details->>'serial' = '$ser'")" -ge 1 ] ||
		fail "$a not audited"
done
# A serial whose first octet is below 0x10 ("0F..." as openssl prints it) names its certificate too.
for i in $(seq 80); do
	pkictl cert issue --profile subscriber --csr "$tmp/rsa.csr" --out "$tmp/z.pem" || fail "issue #$i"
	zser=$(openssl x509 -noout -serial -in "$tmp/z.pem" | cut -d= -f2)
	[ "${zser:0:1}" = 0 ] && break
done
[ "${zser:0:1}" = 0 ] || fail "no serial with a leading zero nibble in 80 issuances"
pkictl cert revoke --serial "$zser" --reason superseded >/dev/null || fail "revoke $zser"
pkictl cert status --serial "$zser" | has 'status revoked' || fail "status of $zser"
# A later invalidity date is a new revocation entry: a new revocation_seq
# (delta CRLs and ocspd's poll key on it) and a notification.
seq0=$(q "SELECT revocation_seq FROM certificate WHERE serial = '$zser'")
notified=$(psql -X -q -At -v ON_ERROR_STOP=1 "$PKI_TEST_PG_URI" <<SQL
LISTEN certificate_status;
UPDATE certificate SET invalidity_date = now() - interval '2 days' WHERE serial = '$zser';
SELECT 1;
SQL
)
seq1=$(q "SELECT revocation_seq FROM certificate WHERE serial = '$zser'")
[ "$seq1" -gt "$seq0" ] || fail "an invalidity date set later kept revocation_seq $seq0"
grep -q "certificate_status.*:$zser" <<<"$notified" || fail "no certificate_status notification for the invalidity date: $notified"
# Even the superuser cannot undo a revocation or delete a certificate.
sql_fails "$PKI_TEST_PG_URI" "UPDATE certificate SET revoked_at = NULL, revocation_reason = NULL WHERE serial = '$ser'" 'final'
sql_fails "$PKI_TEST_PG_URI" "DELETE FROM certificate WHERE serial = '$ser'" 'never deleted'
note ok
