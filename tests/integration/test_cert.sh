#!/usr/bin/env bash
# pkictl cert: issuance from a CSR with a policy profile, judged by openssl
# verify and certtool; revocation, hold and release; the audit trail; and the
# refusals, each of which must change nothing.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
# count: the certificates pkictl could have stored (none of an order's:
# cad issues an order an earlier test left whenever it polls, in any
# window) and the orders (a command that made one is seen here).
count() {
	q "SELECT (SELECT count(*) FROM certificate c WHERE NOT EXISTS
	    (SELECT 1 FROM issuance_order o WHERE o.certificate_id = c.id)) || '/' ||
	    (SELECT count(*) FROM issuance_order)"
}

newcsr() { # newcsr NAME SUBJECT [keyopts...]
	local name=$1 subj=$2
	shift 2
	openssl req -new -newkey "${@:-ec}" -nodes -keyout "$tmp/$name.key" -subj "$subj" \
		-out "$tmp/$name.csr" 2>/dev/null
}
# rawcsr NAME ATTR=VALUE...: a P-256 CSR with exactly this subject (C,
# CN, serialNumber, emailAddress, or a dotted OID; \uXXXX escapes in
# VALUE; ATTR/TAG, TAG in hex, for another string type than the usual;
# +ATTR in the RDN before it), DER, self-signed, for the subjects
# `openssl req` will not write (a CN over 64 characters).
cat >"$tmp/csr.py" <<'PY'
import subprocess, sys
from der import tlv
key, attrs = sys.argv[1], sys.argv[2:]
oid = {"C": "550406", "CN": "550403", "serialNumber": "550405",
       "emailAddress": "2a864886f70d010901"}
tag = {"C": 0x13, "serialNumber": 0x13, "emailAddress": 0x16}
def dotted(s):
    a = [int(x) for x in s.split(".")]
    out = bytes([40 * a[0] + a[1]])
    for n in a[2:]:
        b = [n & 0x7F]
        while n > 0x7F:
            n >>= 7
            b.insert(0, 0x80 | (n & 0x7F))
        out += bytes(b)
    return out.hex()
rdns = []
for a in attrs:
    k, v = a.split("=", 1)
    k, t = (k.split("/") + [None])[:2]
    plus = k.startswith("+")
    k = k.lstrip("+")
    t = int(t, 16) if t else tag.get(k, 0x0C)
    v = v.encode("ascii").decode("unicode_escape").encode("utf-8")
    atv = tlv(0x30, tlv(0x06, bytes.fromhex(oid.get(k) or dotted(k))) + tlv(t, v))
    if plus:
        rdns[-1] += atv
    else:
        rdns.append(atv)
name = b"".join(tlv(0x31, r) for r in rdns)
run = lambda args, data=None: subprocess.run(args, input=data, check=True,
                                             capture_output=True).stdout
spki = run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"])
cri = tlv(0x30, b"\x02\x01\x00" + tlv(0x30, name) + spki + b"\xa0\x00")
sig = run(["openssl", "dgst", "-sha256", "-sign", key], cri)
alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a8648ce3d040302")))  # ecdsa-with-SHA256
sys.stdout.buffer.write(tlv(0x30, cri + alg + tlv(0x03, b"\x00" + sig)))
PY
rawcsr() {
	local name=$1
	shift
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/$name.key" 2>/dev/null
	PYTHONPATH=$(dirname "$0") python3 "$tmp/csr.py" "$tmp/$name.key" "$@" >"$tmp/$name.csr" ||
		fail "test setup: rawcsr $name"
	openssl req -inform DER -in "$tmp/$name.csr" -noout -verify 2>&1 | has 'verify OK' ||
		fail "test setup: $name.csr does not verify"
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
# Keys cad_lint_pubkey (ca/worker/lint.c) refuses, each checked before
# anything is signed, nothing stored, no audit event: an RSA public
# exponent 1, with which anyone forges signatures that verify under the
# certificate (such a CSR "signs" itself with the encoded message: no
# factorization needed), a modulus not of whole octets; EC
# P-256 by explicit parameters (RFC 5480 §2.1.1: namedCurve only; OpenSSL
# 3 names the curve and the name check passed).
cat >"$tmp/rsae1.py" <<'PY'
import hashlib, secrets, sys
from der import tlv
bits = int(sys.argv[1])
def integer(v):
    return tlv(0x02, v.to_bytes((v.bit_length() + 8) // 8, "big"))
n = secrets.randbits(bits) | (1 << (bits - 1)) | 1
name = tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, bytes.fromhex("550403")) + tlv(0x0c, b"E One"))))
alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
spki = tlv(0x30, alg + tlv(0x03, b"\x00" + tlv(0x30, integer(n) + integer(1))))
cri = tlv(0x30, b"\x02\x01\x00" + name + spki + b"\xa0\x00")
di = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(cri).digest()
k = (bits + 7) // 8
em = b"\x00\x01" + b"\xff" * (k - 3 - len(di)) + b"\x00" + di
sigalg = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d01010b")) + b"\x05\x00")
sys.stdout.buffer.write(tlv(0x30, cri + sigalg + tlv(0x03, b"\x00" + em)))
PY
a0=$(q "SELECT $AUDIT_MAX_OWN")
PYTHONPATH=$(dirname "$0") python3 "$tmp/rsae1.py" 2048 >"$tmp/e1.csr" || fail "test setup: e1.csr"
openssl req -inform DER -in "$tmp/e1.csr" -noout -verify 2>&1 | has 'verify OK' ||
	fail "test setup: e1.csr does not verify"
expect_refused 3 "an RSA key of public exponent 1" pkictl cert issue --profile subscriber --csr "$tmp/e1.csr" \
	--out "$tmp/e1.pem"
grep -q "the CSR's key: RSA public exponent 1 refused: it must be odd, at least 65537" "$tmp/out" ||
	fail "e = 1: $(cat "$tmp/out")"
[ ! -e "$tmp/e1.pem" ] || fail "a refused key left its --out file"
PYTHONPATH=$(dirname "$0") python3 "$tmp/rsae1.py" 2049 >"$tmp/r2049.csr" || fail "test setup: r2049.csr"
expect_refused 3 "an RSA key of 2049 bits" pkictl cert issue --profile subscriber --csr "$tmp/r2049.csr"
grep -q 'RSA modulus of 2049 bits: it must be odd and a multiple of 8 bits' "$tmp/out" ||
	fail "2049 bits: $(cat "$tmp/out")"
openssl ecparam -name prime256v1 -param_enc explicit -genkey -noout -out "$tmp/ecx.key" 2>/dev/null
openssl req -new -key "$tmp/ecx.key" -subj "/C=ID/CN=Explicit Curve" -out "$tmp/ecx.csr"
openssl req -in "$tmp/ecx.csr" -noout -text | has 'Field Type: prime-field' ||
	fail "test setup: ecx.csr has no explicit parameters"
expect_refused 3 "an EC key with explicit curve parameters" pkictl cert issue --profile subscriber \
	--csr "$tmp/ecx.csr"
grep -q 'EC key with explicit curve parameters: a named curve only (RFC 5480' "$tmp/out" ||
	fail "explicit EC: $(cat "$tmp/out")"
[ "$(q "SELECT $AUDIT_MAX_OWN")" = "$a0" ] || fail "a refused key wrote an audit event"
expect_refused 1 "--out in a missing directory" pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" \
	--out "$tmp/no/such/dir.pem"
# An existing --out that is a symbolic link (even a dangling one), a hard
# link to a file of another name, or a FIFO is refused before anything is
# signed (exit 1), the file it leads to left as it was: pkictl followed the
# link, and as root overwrote whatever file it named.
echo "precious" >"$tmp/victim"
ln -s "$tmp/victim" "$tmp/link.pem"
ln -s "$tmp/nowhere.pem" "$tmp/dangling.pem"
ln "$tmp/victim" "$tmp/hard.pem"
mkfifo "$tmp/fifo.pem"
c0=$(count)
expect_refused 1 "--out a symbolic link" pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" --out "$tmp/link.pem"
grep -q -- "--out $tmp/link.pem: a symbolic link: refused" "$tmp/out" || fail "--out a symbolic link: $(cat "$tmp/out")"
expect_refused 1 "--out a dangling symbolic link" pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" \
	--out "$tmp/dangling.pem"
grep -q -- "--out $tmp/dangling.pem: a symbolic link: refused" "$tmp/out" ||
	fail "--out a dangling symbolic link: $(cat "$tmp/out")"
[ ! -e "$tmp/nowhere.pem" ] || fail "--out a dangling symbolic link created the file it names"
expect_refused 1 "--out a hard link" pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" --out "$tmp/hard.pem"
grep -q -- "--out $tmp/hard.pem: a file with 2 names (hard links): refused" "$tmp/out" ||
	fail "--out a hard link: $(cat "$tmp/out")"
# (A FIFO without a reader: refused at once, ENXIO, not waited on.)
expect_refused 1 "--out a FIFO" timeout 60 "$PKICTL" --config "$PKI_CONFIG" cert issue --profile subscriber \
	--csr "$tmp/ec.csr" --out "$tmp/fifo.pem"
grep -q -- "--out $tmp/fifo.pem: " "$tmp/out" || fail "--out a FIFO: $(cat "$tmp/out")"
[ "$(cat "$tmp/victim")" = "precious" ] && [ -L "$tmp/link.pem" ] || fail "a refused --out changed the file its link names"
[ "$(count)" = "$c0" ] || fail "a refused --out: a certificate was stored ($c0 -> $(count))"
# The CSR's subject is judged as cad judges its own (ca/worker/lint.c)
# before the issuing key signs: RFC 5280 Appendix A lengths in characters,
# no control or bidirectional formatting character, an emailAddress only
# with its subjectAltName rfc822Name (the subscriber profile makes none).
a0=$(q "SELECT $AUDIT_MAX_OWN")
cn65=$(printf 'a%.0s' $(seq 65))
rawcsr cn65 C=ID "CN=$cn65"
expect_refused 3 "a CN of 65 characters" pkictl cert issue --profile subscriber --csr "$tmp/cn65.csr"
grep -q 'subject attribute CN is longer than 64 characters' "$tmp/out" || fail "a CN of 65: $(cat "$tmp/out")"
rawcsr cn200 C=ID "CN=$(printf 'b%.0s' $(seq 200))"
expect_refused 3 "a CN of 200 characters" pkictl cert issue --profile subscriber --csr "$tmp/cn200.csr" \
	--out "$tmp/cn200.pem"
[ ! -e "$tmp/cn200.pem" ] || fail "a refused subject left its --out file"
rawcsr ctrl C=ID 'CN=Budi\u0001Santoso'
expect_refused 3 "a control character in the CN" pkictl cert issue --profile subscriber --csr "$tmp/ctrl.csr"
grep -q 'control character (U+0001)' "$tmp/out" || fail "control character: $(cat "$tmp/out")"
rawcsr bidi C=ID 'CN=Budi \u202eosotnaS'
expect_refused 3 "a right-to-left override in the CN" pkictl cert issue --profile subscriber --csr "$tmp/bidi.csr"
grep -q 'bidirectional formatting character (U+202E)' "$tmp/out" || fail "bidi character: $(cat "$tmp/out")"
# The subscriber profile makes no subjectAltName, so it allows no
# emailAddress (subject_allowed); personal copies it (email:copy).
rawcsr mail C=ID 'CN=Budi Santoso' emailAddress=budi@example.com
expect_refused 3 "an emailAddress without its subjectAltName" pkictl cert issue --profile subscriber \
	--csr "$tmp/mail.csr"
grep -q 'subject attribute emailAddress not allowed by profile subscriber' "$tmp/out" ||
	fail "emailAddress: $(cat "$tmp/out")"
# Only what the profile's subject_allowed names, each attribute once and
# in an RDN of its own, with every one of subject_required: until
# 2026-12-07 any OID, a second CN or a multi-valued RDN a CSR's writer
# chose was signed as encoded.
rawcsr oddoid C=ID 'CN=Budi Santoso' 1.3.6.1.4.1.99999.1=admin
expect_refused 3 "an attribute OID nobody verified" pkictl cert issue --profile subscriber \
	--csr "$tmp/oddoid.csr" --out "$tmp/oddoid.pem"
grep -q 'CSR .* refused, nothing signed: lint: subject attribute 1.3.6.1.4.1.99999.1 not allowed by profile subscriber' \
	"$tmp/out" || fail "unknown OID: $(cat "$tmp/out")"
[ ! -e "$tmp/oddoid.pem" ] || fail "a refused subject left its --out file"
newcsr org "/C=ID/O=PT Contoh/CN=Budi Santoso" ec -pkeyopt ec_paramgen_curve:P-256
expect_refused 3 "an O in a subscriber's CSR" pkictl cert issue --profile subscriber --csr "$tmp/org.csr"
grep -q 'subject attribute O not allowed by profile subscriber' "$tmp/out" || fail "O: $(cat "$tmp/out")"
rawcsr twocn C=ID 'CN=Budi Santoso' 'CN=Siti Rahma'
expect_refused 3 "two CNs" pkictl cert issue --profile subscriber --csr "$tmp/twocn.csr"
grep -q 'subject attribute CN appears more than once' "$tmp/out" || fail "two CNs: $(cat "$tmp/out")"
rawcsr multi C=ID 'CN=Budi Santoso' +serialNumber=NIK3174012345670001
expect_refused 3 "a multi-valued RDN" pkictl cert issue --profile subscriber --csr "$tmp/multi.csr"
grep -q 'subject attribute serialNumber shares an RDN with another (a multi-valued RDN)' "$tmp/out" ||
	fail "multi-valued RDN: $(cat "$tmp/out")"
newcsr nocn "/C=ID/serialNumber=NIK3174012345670001" ec -pkeyopt ec_paramgen_curve:P-256
expect_refused 3 "a CSR without a CN" pkictl cert issue --profile subscriber --csr "$tmp/nocn.csr"
grep -q 'subject attribute CN required by profile subscriber is missing' "$tmp/out" || fail "no CN: $(cat "$tmp/out")"
expect_refused 3 "a person's CSR for a seal" pkictl cert issue --profile eseal --csr "$tmp/ec.csr"
grep -q 'subject attribute serialNumber not allowed by profile eseal' "$tmp/out" ||
	fail "eseal with a person's subject: $(cat "$tmp/out")"
# RFC 5280 §4.1.2.4, Appendix A: string types as the CSR encoded them
# were signed until 2026-12-07 (a countryName in a UTF8String, a CN in a
# TeletexString, which `openssl req` writes for "Budi_Santoso" with
# string_mask = default).
rawcsr cutf8 C/0c=ID 'CN=Budi Santoso'
expect_refused 3 "a countryName in a UTF8String" pkictl cert issue --profile subscriber --csr "$tmp/cutf8.csr"
grep -q 'subject attribute C is a UTF8STRING, not a PrintableString' "$tmp/out" ||
	fail "UTF8String C: $(cat "$tmp/out")"
rawcsr cnt61 C=ID 'CN/14=Budi_Santoso'
expect_refused 3 "a CN in a TeletexString" pkictl cert issue --profile subscriber --csr "$tmp/cnt61.csr"
grep -q 'subject attribute CN is a T61STRING' "$tmp/out" || fail "T61String CN: $(cat "$tmp/out")"
# A profile of cad's gets cad's whole lint (cad_lint), its key_types
# among it: an RSA-4096 key under eseal, whose key_types exclude it, and
# an RSA-2056 key (a size in no key_types) under personal were signed.
newcsr seal4k "/C=ID/O=PT Contoh/CN=Contoh Seal/organizationIdentifier=NTRID-0123456789" rsa:4096
expect_refused 3 "an RSA-4096 key under eseal" pkictl cert issue --profile eseal --csr "$tmp/seal4k.csr"
grep -q 'nothing signed: lint: key type rsa4096 not allowed by profile eseal' "$tmp/out" ||
	fail "RSA-4096 under eseal: $(cat "$tmp/out")"
newcsr p2056 "/C=ID/CN=Odd Size/serialNumber=NIK:3174012345670001" rsa:2056
expect_refused 3 "an RSA-2056 key under personal" pkictl cert issue --profile personal --csr "$tmp/p2056.csr"
grep -q 'nothing signed: lint: key type rsa-other not allowed by profile personal' "$tmp/out" ||
	fail "RSA-2056 under personal: $(cat "$tmp/out")"
[ "$(q "SELECT $AUDIT_MAX_OWN")" = "$a0" ] || fail "a refused subject wrote an audit event: $(q "SELECT action FROM audit_event WHERE id > $a0")"
[ "$(count)" = "$n0" ] || fail "a refused issuance stored a certificate"
# A profile without extendedKeyUsage (eseal) is not taken for a CA usage.
newcsr seal "/C=ID/O=PT Contoh/CN=Contoh Seal/organizationIdentifier=NTRID-0123456789" ec -pkeyopt ec_paramgen_curve:P-256
pkictl cert issue --profile eseal --csr "$tmp/seal.csr" --out "$tmp/eseal.pem" >"$tmp/out" 2>&1 ||
	{ cat "$tmp/out"; fail "pkictl cert issue --profile eseal"; }
openssl verify -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" "$tmp/eseal.pem" >/dev/null ||
	fail "the eseal certificate does not verify"
# The lint refuses only what it names: 64 characters (of three octets each)
# pass, from the same CSR writer.
rawcsr cn64 C=ID "CN=$(printf '\\u6771%.0s' $(seq 64))"
pkictl cert issue --profile subscriber --csr "$tmp/cn64.csr" --out "$tmp/cn64.pem" >"$tmp/out" 2>&1 ||
	{ cat "$tmp/out"; fail "a CN of 64 characters refused"; }

# --- revocation, hold, release --------------------------------------------------------
expect_refused 2 "bad reason" pkictl cert revoke --serial "$ser" --reason removeFromCRL
expect_refused 2 "bad serial" pkictl cert revoke --serial "xyz" --reason keyCompromise
# A serial or issuer that does not exist fails (exit 1, saying which), not
# the refusal (3) of a certificate already in that state: a script taking 3
# for "already done" revoked nothing after a typo.
expect_refused 1 "unknown serial" pkictl cert revoke --serial 0ABC --reason keyCompromise
grep -q 'no certificate with serial 0ABC under issuer issuing$' "$tmp/out" || fail "unknown serial: $(cat "$tmp/out")"
expect_refused 1 "unknown issuer" pkictl cert revoke --serial "$ser" --issuer issuing9 --reason keyCompromise
grep -q 'no issuer named issuing9 ' "$tmp/out" || fail "unknown issuer: $(cat "$tmp/out")"
expect_refused 1 "a hold under an unknown issuer" pkictl cert revoke --serial "$ser" --issuer issuing9 \
	--reason certificateHold
grep -q 'no issuer named issuing9 ' "$tmp/out" || fail "a hold under an unknown issuer: $(cat "$tmp/out")"
expect_refused 1 "release of an unknown serial" pkictl cert release --serial 0ABC
grep -q 'no certificate with serial 0ABC under issuer issuing$' "$tmp/out" ||
	fail "release of an unknown serial: $(cat "$tmp/out")"
expect_refused 1 "release under an unknown issuer" pkictl cert release --serial "$ser" --issuer issuing9
grep -q 'no issuer named issuing9 ' "$tmp/out" || fail "release under an unknown issuer: $(cat "$tmp/out")"
pkictl cert status --serial "$ser" | has 'status good' || fail "a failed revocation changed $ser"
expect_refused 3 "release a good certificate" pkictl cert release --serial "$ser"
grep -q "certificate $ser of issuer issuing is not on hold" "$tmp/out" || fail "release a good certificate: $(cat "$tmp/out")"
# The certificate's row held by a transaction left open (as an application
# role could hold it): the hold waits 10 s for the lock, then fails (exit 1),
# changes nothing and names the session in the way. Until 2026-12-07 it
# waited for ever (pki_admin has no lock_timeout).
open_tx
echo "BEGIN; SELECT 'locked' FROM certificate WHERE serial = '$ser' FOR UPDATE;" >&"$tx_in"
read -r -t 10 got <&"$tx_out" && [ "$got" = locked ] || fail "test setup: could not lock $ser: $got"
holder=$(q "SELECT pid FROM pg_locks WHERE relation = 'certificate'::regclass AND granted AND mode = 'RowShareLock' LIMIT 1")
# A plain reader in an open transaction blocks nothing: not named.
PGAPPNAME=test_cert_reader psql -X -q -At "$PKI_TEST_PG_URI" -c "BEGIN; SELECT count(*) FROM certificate; SELECT pg_sleep(25); COMMIT" >/dev/null 2>&1 &
reader=$!
at_exit "kill $reader 2>/dev/null || true"
for ((i = 0; i < 50; i++)); do
	rpid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'test_cert_reader' AND state = 'active'")
	[ -n "$rpid" ] && break
	sleep 0.1
done
[ -n "$rpid" ] || fail "test setup: the reader did not start"
t0=$SECONDS
expect_refused 1 "a hold of a certificate locked elsewhere" timeout 60 "$PKICTL" --config "$PKI_CONFIG" cert revoke --serial "$ser" --reason certificateHold
[ $((SECONDS - t0)) -lt 30 ] || fail "a hold of a locked certificate took $((SECONDS - t0)) s"
grep -q "certificate $ser of issuer issuing: nothing changed: it stayed locked by another session for 10s" "$tmp/out" &&
	grep -q "may be held by backend $holder " "$tmp/out" || fail "a hold of a locked certificate: $(cat "$tmp/out")"
! grep -q "backend $rpid " "$tmp/out" || fail "a plain reader named as a lock holder: $(cat "$tmp/out")"
kill "$reader" 2>/dev/null || true
commit_tx
pkictl cert status --serial "$ser" | has 'status good' || fail "a hold that timed out changed $ser"
pkictl cert revoke --serial "$ser" --reason certificateHold --invalidity-date 2026-11-02T00:00:00.5Z >/dev/null ||
	fail "hold"
pkictl cert status --serial "$ser" | has 'status on-hold' || fail "status after hold"
held=$(q "SELECT revoked_at || '/' || invalidity_date FROM certificate WHERE serial = '$ser'")
expect_refused 3 "a second hold" pkictl cert revoke --serial "$ser" --reason certificateHold
grep -q "certificate $ser of issuer issuing is already on hold" "$tmp/out" || fail "a second hold: $(cat "$tmp/out")"
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
grep -q "certificate $ser of issuer issuing is already revoked (keyCompromise)" "$tmp/out" ||
	fail "revoke twice: $(cat "$tmp/out")"
expect_refused 3 "release a revoked certificate" pkictl cert release --serial "$ser"
grep -q "certificate $ser of issuer issuing is already revoked (keyCompromise)" "$tmp/out" ||
	fail "release a revoked certificate: $(cat "$tmp/out")"
expect_refused 2 "an invalidity date in the future" pkictl cert revoke --serial "$rser" --reason keyCompromise \
	--invalidity-date 2099-01-01T00:00:00Z
expect_refused 2 "a malformed invalidity date" pkictl cert revoke --serial "$rser" --reason keyCompromise \
	--invalidity-date notadate
grep -q 'YYYY-MM-DDTHH:MM:SSZ' "$tmp/out" || fail "invalidity date message: $(cat "$tmp/out")"
# A date strptime takes and the calendar has not: the operator's mistake
# (exit 2), judged before the database (which refused it: exit 1).
for d in 2026-02-30T00:00:00Z 2025-02-29T00:00:00Z 2026-04-31T12:00:00Z 2026-01-01T23:59:60Z; do
	expect_refused 2 "the invalidity date $d" pkictl cert revoke --serial "$rser" --reason keyCompromise \
		--invalidity-date "$d"
	grep -q 'YYYY-MM-DDTHH:MM:SSZ' "$tmp/out" || fail "invalidity date $d: $(cat "$tmp/out")"
done
# Options a verb does not use are refused, not ignored.
expect_refused 2 "release --reason" pkictl cert release --serial "$rser" --reason keyCompromise
grep -q -- '--reason is not an option of release' "$tmp/out" || fail "release --reason: $(cat "$tmp/out")"
expect_refused 2 "release --invalidity-date" pkictl cert release --serial "$rser" --invalidity-date 2026-11-01T00:00:00Z
grep -q -- '--invalidity-date is not an option of release' "$tmp/out" || fail "release --invalidity-date: $(cat "$tmp/out")"
expect_refused 2 "status --profile" pkictl cert status --serial "$rser" --profile subscriber
grep -q -- '--profile is not an option of status' "$tmp/out" || fail "status --profile: $(cat "$tmp/out")"
expect_refused 2 "status --reason" pkictl cert status --serial "$rser" --reason keyCompromise
expect_refused 2 "revoke --csr" pkictl cert revoke --serial "$rser" --reason keyCompromise --csr "$tmp/ec.csr"
expect_refused 2 "issue --serial" pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" --serial "$rser"
pkictl cert status --serial "$rser" | has 'status good' || fail "a refused revocation changed $rser"
[ "$(q "SELECT revocation_reason || ' ' || to_char(invalidity_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM certificate WHERE serial = '$ser'")" = "1 2026-11-01" ] ||
	fail "revocation row"
for a in cert.revoke cert.release; do
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = '$a' AND details->>'serial' = '$ser'")" -ge 1 ] ||
		fail "$a not audited"
done
# A hold, or a release, of a certificate that has expired is refused (exit
# 3, nothing changed, no event): it signs nothing more, and its release
# queued a "valid again ... can sign" notice and put removeFromCRL in the
# next CRL (rad refuses both, 409). A revocation for another reason takes
# it. Expired in its row only (its DER's dates restored after).
pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" --out "$tmp/expired.pem" >/dev/null || fail "issue expired.pem"
eser=$(openssl x509 -noout -serial -in "$tmp/expired.pem" | cut -d= -f2)
eid=$(q "SELECT id FROM certificate WHERE serial = '$eser'")
edates=$(q "SELECT format('not_before = %L, not_after = %L', not_before, not_after) FROM certificate WHERE id = $eid")
set_dates() { q "SET session_replication_role = replica; UPDATE certificate SET $1 WHERE id = $eid" >/dev/null; }
expired_row() {
	q "SELECT coalesce(revoked_at::text, '-') || '/' || coalesce(revocation_reason::text, '-') || '/' ||
	    (SELECT count(*) FROM audit_event WHERE object_type = 'certificate' AND object_id = '$eid')
	    FROM certificate WHERE id = $eid"
}
set_dates "not_before = now() - interval '30 days', not_after = now() - interval '2 days'"
r0=$(expired_row)
expect_refused 3 "a hold of an expired certificate" pkictl cert revoke --serial "$eser" --reason certificateHold
grep -q "certificate $eser of issuer issuing expired at 20[0-9-]*T[0-9:]*Z: only a valid certificate is put on hold" "$tmp/out" ||
	fail "a hold of an expired certificate: $(cat "$tmp/out")"
[ "$(expired_row)" = "$r0" ] || fail "a refused hold of an expired certificate changed it: $r0 -> $(expired_row)"
set_dates "$edates"
pkictl cert revoke --serial "$eser" --reason certificateHold >/dev/null || fail "hold $eser while valid"
set_dates "not_before = now() - interval '30 days', not_after = now() - interval '2 days'"
r1=$(expired_row)
expect_refused 3 "a release of an expired certificate" pkictl cert release --serial "$eser"
grep -q "certificate $eser of issuer issuing expired at 20[0-9-]*T[0-9:]*Z: only a valid certificate is put on hold or released" "$tmp/out" ||
	fail "a release of an expired certificate: $(cat "$tmp/out")"
[ "$(expired_row)" = "$r1" ] || fail "a refused release of an expired certificate changed it: $r1 -> $(expired_row)"
pkictl cert status --serial "$eser" | has 'status on-hold' || fail "$eser not on hold after the refused release"
pkictl cert revoke --serial "$eser" --reason keyCompromise >/dev/null || fail "revoke the expired $eser (keyCompromise)"
pkictl cert status --serial "$eser" | has 'status revoked .* reason keyCompromise' || fail "status of the expired $eser"
set_dates "$edates"
# A revocation, then a release, whose COMMIT answers are lost (the
# connection breaks just after the server committed): pkictl asks again,
# finds its own event (by the nonce in its details) and reports the change
# done, exit 0; until 2026-12 it exited 1 and the operator's retry was
# refused as "already revoked" (exit 3).
lost() { LD_PRELOAD=$BUILD/tests/preload/lost_commit.so ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0 \
	pkictl "$@"; }
# An issuance whose COMMIT answer is lost: the certificate was recorded
# (OCSP answers good, LDAP publishes it), so it is written out and pkictl
# exits 0 (pkictl asks for its transaction's fate); until 2026-12-07 it
# said "it was not issued", wrote nothing, and a run again gave the key a
# second certificate.
rc=0; lost cert issue --profile subscriber --csr "$tmp/ec.csr" --out "$tmp/lost.pem" >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q 'the answer to COMMIT was lost, but the certificate and its audit event were committed: issued' \
	"$tmp/out" || fail "an issuance whose COMMIT answer was lost: exit $rc: $(cat "$tmp/out")"
lser=$(openssl x509 -noout -serial -in "$tmp/lost.pem" | cut -d= -f2)
[ "$(q "SELECT count(*) FROM certificate WHERE serial = '$lser'")" = 1 ] &&
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.issue' AND details->>'serial' = '$lser'")" = 1 ] ||
	fail "the lost-answer issuance's certificate or event"
pkictl cert status --serial "$lser" | has 'status good' || fail "the lost-answer issuance is not good
rc=0; lost cert revoke --serial "$lser" --reason certificateHold >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "a hold whose COMMIT answer was lost: exit $rc: $(cat "$tmp/out")"
grep -q "certificate $lser on hold" "$tmp/out" && grep -q 'the answer to COMMIT was lost' "$tmp/out" ||
	fail "a hold whose COMMIT answer was lost: $(cat "$tmp/out")"
pkictl cert status --serial "$lser" | has 'status on-hold' || fail "the lost-answer hold is not on hold"
rc=0; lost cert release --serial "$lser" >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q "certificate $lser released" "$tmp/out" ||
	fail "a release whose COMMIT answer was lost: exit $rc: $(cat "$tmp/out")"
rc=0; lost cert revoke --serial "$lser" --reason keyCompromise >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q "certificate $lser revoked" "$tmp/out" ||
	fail "a revocation whose COMMIT answer was lost: exit $rc: $(cat "$tmp/out")"
pkictl cert status --serial "$lser" | has 'status revoked .* reason keyCompromise' ||
	fail "the lost-answer revocation is not there"
[ "$(q "SELECT string_agg(action || ':' || (details->>'nonce' ~ '^[0-9a-f]{32}$'), ',' ORDER BY id) FROM audit_event
    WHERE action IN ('cert.revoke', 'cert.release') AND details->>'serial' = '$lser'")" = \
  'cert.revoke:true,cert.release:true,cert.revoke:true' ] || fail "the lost-answer changes' events"
# pkictl order add: an unknown kind, key type or profile is the operator's
# mistake (exit 2), refused before the database (whose CHECK failed the
# insert: exit 1; an unknown profile was taken, and cad failed the order).
o0=$(q "SELECT count(*) FROM issuance_order")
subj='{"C":"ID","CN":"Budi Santoso","serialNumber":"NIK:3174012345670001"}'
expect_refused 2 "order add --kind unknown" pkictl order add --kind personel --profile personal --key-type ec-p256 --subject "$subj"
grep -q -- '--kind personel: one of personal, corporate, eseal' "$tmp/out" || fail "order --kind: $(cat "$tmp/out")"
expect_refused 2 "order add --key-type unknown" pkictl order add --kind personal --profile personal --key-type ec-p521 --subject "$subj"
grep -q -- '--key-type ec-p521: one of' "$tmp/out" || fail "order --key-type: $(cat "$tmp/out")"
expect_refused 2 "order add --profile unknown" pkictl order add --kind personal --profile no-such --key-type ec-p256 --subject "$subj"
grep -q -- '--profile no-such: no such profile' "$tmp/out" || fail "order --profile: $(cat "$tmp/out")"
expect_refused 2 "order add --profile a path" pkictl order add --kind personal --profile ../profiles/personal --key-type ec-p256 --subject "$subj"
expect_refused 2 "order add --subject not an object" pkictl order add --kind personal --profile personal --key-type ec-p256 --subject '[1]'
[ "$(q "SELECT count(*) FROM issuance_order")" = "$o0" ] || fail "a refused order add inserted an order"
# A hold with an invalidity date, then its revocation without one: the
# hold's date stays (RFC 5280 §5.3.2: when the key was compromised, which
# the revocation does not move), in the row and in the OCSP answer; so it
# does when an RA officer revokes a certificate pkictl put on hold.
invalidity() { q "SELECT revocation_reason || ' ' || to_char(invalidity_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM certificate WHERE serial = '$1'"; }
pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" --out "$tmp/held.pem" >/dev/null || fail "issue held.pem"
hser=$(openssl x509 -noout -serial -in "$tmp/held.pem" | cut -d= -f2)
pkictl cert revoke --serial "$hser" --reason certificateHold --invalidity-date 2026-12-01T08:00:00Z >/dev/null ||
	fail "hold $hser with an invalidity date"
[ "$(invalidity "$hser")" = "6 2026-12-01 08:00:00" ] || fail "the hold's row: $(invalidity "$hser")"
pkictl cert revoke --serial "$hser" --reason keyCompromise >/dev/null || fail "revoke $hser, on hold"
[ "$(invalidity "$hser")" = "1 2026-12-01 08:00:00" ] ||
	fail "revoking a hold without --invalidity-date lost the hold's: '$(invalidity "$hser")'"
for _ in $(seq 50); do
	out=$(ocsp_client -url "$PKI_OCSP_URL" -CAfile "$PKI_ROOT_CERT" -issuer "$PKI_ISSUING_CERT" \
	    -cert "$tmp/held.pem" -resp_text)
	grep -q 'Reason: keyCompromise' <<<"$out" && break
	sleep 0.1
done
grep -q 'held.pem: revoked' <<<"$out" && grep -q 'Reason: keyCompromise' <<<"$out" ||
	{ echo "$out"; fail "OCSP: $hser is not revoked for keyCompromise"; }
grep -A1 'Invalidity Date' <<<"$out" | has 'Dec  1 08:00:00 2026 GMT' ||
	{ echo "$out"; fail "OCSP: the revocation of $hser lost the hold's invalidity date"; }
# The RA officer's revocation (ra/review.c) of a certificate on pkictl's hold.
. "$(dirname "$0")/lib_ra.sh"
url=$PKI_RA_URL
secrets=()
(umask 077; printf '%s\n' 'Officer-Cert-2026' >"$tmp/officer.pw")
ra_officer cert-revoker ra_officer "$tmp/officer.pw"
pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" --out "$tmp/held2.pem" >/dev/null || fail "issue held2.pem"
hser2=$(openssl x509 -noout -serial -in "$tmp/held2.pem" | cut -d= -f2)
pkictl cert revoke --serial "$hser2" --reason certificateHold --invalidity-date 2026-12-01T08:00:00Z >/dev/null ||
	fail "hold $hser2 with an invalidity date"
tok=$otok
req POST "/v1/officer/certificates/$(q "SELECT id FROM certificate WHERE serial = '$hser2'")/revoke" \
	'{"reason":"keyCompromise","comment":"token lost while on hold"}'
expect 200 "the officer's revocation of $hser2, on hold"
tok=
[ "$(invalidity "$hser2")" = "1 2026-12-01 08:00:00" ] ||
	fail "an officer revoking a hold without invalidity_date lost the hold's: '$(invalidity "$hser2")'"
# Each revocation's audit event records the date stored (the hold's), not
# the request's none.
for s in "$hser" "$hser2"; do
	[ "$(q "SELECT e.details->>'invalidity_date' FROM audit_event e JOIN certificate c ON e.object_id = c.id::text
	    WHERE e.object_type = 'certificate' AND e.action = 'cert.revoke' AND c.serial = '$s'
	    AND e.details->>'reason' = 'keyCompromise'")" = 2026-12-01T08:00:00Z ] ||
		fail "the revocation of $s, on hold, audits another invalidity date"
done
# A hold without an invalidity date, revoked by the RA officer: the hold's
# time becomes the invalidity date (schema/116; until 2026-12-07 it had
# none, and the hold's time was lost), in the row and in the audit event;
# revoked_at stays the revocation's. (test_crl.sh checks pkictl's, in the
# CRL, the delta and OCSP.)
pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" --out "$tmp/held3.pem" >/dev/null || fail "issue held3.pem"
hser3=$(openssl x509 -noout -serial -in "$tmp/held3.pem" | cut -d= -f2)
pkictl cert revoke --serial "$hser3" --reason certificateHold >/dev/null || fail "hold $hser3"
hold3=$(q "SELECT to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM certificate WHERE serial = '$hser3'")
tok=$otok
req POST "/v1/officer/certificates/$(q "SELECT id FROM certificate WHERE serial = '$hser3'")/revoke" \
	'{"reason":"keyCompromise","comment":"compromised while on hold"}'
expect 200 "the officer's revocation of $hser3, on hold without an invalidity date"
tok=
[ "$(q "SELECT revocation_reason || ' ' || to_char(invalidity_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || ' ' ||
    (revoked_at > invalidity_date) FROM certificate WHERE serial = '$hser3'")" = "1 $hold3 true" ] ||
	fail "an officer revoking a hold (since $hold3) without invalidity_date: $(q "SELECT revocation_reason, invalidity_date, revoked_at FROM certificate WHERE serial = '$hser3'")"
[ "$(q "SELECT e.details->>'invalidity_date' FROM audit_event e JOIN certificate c ON e.object_id = c.id::text
    WHERE e.object_type = 'certificate' AND e.action = 'cert.revoke' AND c.serial = '$hser3'
    AND e.details->>'reason' = 'keyCompromise'")" = "$(sed 's/ /T/; s/\..*/Z/' <<<"$hold3")" ] ||
	fail "the officer's revocation event of $hser3 does not record the hold's time"
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
# The CA's own certificates are never put on hold (certificateHold is for
# subscribers): the issuing CA by the root, its OCSP responder by it. The
# refusal changes nothing and writes no event.
ca_serial() { q "SELECT serial FROM ca_certificate WHERE name = '$1'"; }
ca_status() { q "SELECT coalesce(revocation_reason::text, 'good') FROM certificate c JOIN ca_certificate r
    ON r.issuer_id = c.issuer_id AND r.serial = c.serial WHERE r.name = '$1'"; }
a0=$(q "SELECT $AUDIT_MAX_OWN")
for pair in root:issuing issuing:ocsp-issuing; do
	by=${pair%%:*} name=${pair#*:}
	rc=0; pkictl cert revoke --issuer "$by" --serial "$(ca_serial "$name")" --reason certificateHold \
		>"$tmp/out" 2>&1 || rc=$?
	if [ "$rc" != 3 ]; then
		pkictl cert release --issuer "$by" --serial "$(ca_serial "$name")" >/dev/null 2>&1
		fail "a hold on the CA certificate $name: exit $rc, want 3: $(cat "$tmp/out")"
	fi
	grep -q "is the CA certificate $name: certificateHold is for subscribers" "$tmp/out" ||
		fail "a hold on $name: $(cat "$tmp/out")"
	[ "$(ca_status "$name")" = good ] || fail "a refused hold changed $name: $(ca_status "$name")"
done
[ "$(q "SELECT $AUDIT_MAX_OWN")" = "$a0" ] || fail "a refused hold of a CA certificate wrote an audit event"
# An issuing CA whose certificate is on hold (the superuser's, or one held
# before the refusal above) or revoked signs nothing more: refused before
# the signer starts, nothing stored.
n0=$(count)
held_issuing() { q "UPDATE certificate SET revoked_at = $1, revocation_reason = $2, revoked_by = 'test_cert'
    WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = 'root') AND serial = '$(ca_serial issuing)'" >/dev/null; }
held_issuing 'now()' 6
rc=0; pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" --out "$tmp/underhold.pem" >"$tmp/out" 2>&1 || rc=$?
held_issuing NULL NULL
[ "$(ca_status issuing)" = good ] || fail "test setup: the issuing CA was not released"
[ "$rc" = 3 ] || fail "issuance under an issuing CA on hold: exit $rc, want 3: $(cat "$tmp/out")"
grep -q 'issuer issuing: its certificate was put on hold at' "$tmp/out" || fail "issuer on hold: $(cat "$tmp/out")"
[ ! -e "$tmp/underhold.pem" ] || fail "a refused issuance left its --out file"
[ "$(count)" = "$n0" ] || fail "an issuing CA on hold issued a certificate"
pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" >/dev/null || fail "issuance once the issuing CA is released"
# A hold (or revocation) of the issuing CA committed after that check but
# before the certificate is recorded: pkictl re-reads the CA's row FOR
# SHARE in the recording transaction and refuses (exit 3) after signing,
# the signed certificate discarded: nothing stored, no --out, one
# cert.discard audit event naming its serial (as cad's). Here the hold is under way when pkictl signs (its row locked by
# an open transaction), so pkictl waits, then sees it; until 2026-12-07
# the certificate was recorded under the CA on hold.
n0=$(count)
a0=$(q "SELECT $AUDIT_MAX_OWN")
open_tx
echo "BEGIN; UPDATE certificate SET revoked_at = now(), revocation_reason = 6, revoked_by = 'test_cert'
    WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = 'root') AND serial = '$(ca_serial issuing)';
    SELECT 'held';" >&"$tx_in"
read -r -t 10 got <&"$tx_out" && [ "$got" = held ] || fail "test setup: could not hold the issuing CA: $got"
pkictl cert issue --profile subscriber --csr "$tmp/ec.csr" --out "$tmp/race.pem" >"$tmp/race.out" 2>&1 &
rpid=$!
for ((i = 0; i < 100; i++)); do
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
	    AND query LIKE '%FOR SHARE OF c%'")" -ge 1 ] && break
	kill -0 "$rpid" 2>/dev/null || break
	sleep 0.1
done
commit_tx
rc=0; wait "$rpid" || rc=$?
held_issuing NULL NULL
[ "$(ca_status issuing)" = good ] || fail "test setup: the issuing CA was not released"
[ "$rc" = 3 ] || fail "issuance while the issuing CA is put on hold: exit $rc, want 3: $(cat "$tmp/race.out")"
grep -q 'issuer issuing: its certificate was put on hold at .* while this certificate (serial [0-9A-F]*) was being signed: it signs nothing more; the signed certificate was discarded (not recorded, not published, never handed out)' \
	"$tmp/race.out" || fail "issuer held meanwhile: $(cat "$tmp/race.out")"
[ ! -e "$tmp/race.pem" ] || fail "a discarded certificate left its --out file"
[ "$(count)" = "$n0" ] || fail "a certificate was recorded under an issuing CA put on hold meanwhile"
dser=$(sed -n 's/.*while this certificate (serial \([0-9A-F]*\)) was being signed.*/\1/p' "$tmp/race.out")
[ "$(q "SELECT string_agg(action || '/' || object_type || '/' || (details->>'serial') || '/' || (details->>'issuer'), ',')
    FROM audit_event WHERE id > $a0 AND action NOT IN $AUDIT_BACKGROUND AND actor NOT LIKE 'cad:%'
    AND actor <> 'ra:notifier'")" = \
    "cert.discard/ca_certificate/$dser/issuing" ] ||
	fail "the discarded certificate: not one cert.discard event naming serial $dser: $(q "SELECT action, details FROM audit_event WHERE id > $a0")"
# Even the superuser cannot undo a revocation or delete a certificate.
sql_fails "$PKI_TEST_PG_URI" "UPDATE certificate SET revoked_at = NULL, revocation_reason = NULL WHERE serial = '$ser'" 'final'
sql_fails "$PKI_TEST_PG_URI" "DELETE FROM certificate WHERE serial = '$ser'" 'never deleted'
# A serial is hex as stored (schema/055: upper case, 1 to 40 digits): one
# that is not would stop every CRL of its issuer (lib/crlgen.c), so even
# the superuser cannot write it. Each insert is rolled back, should it pass.
ins() { printf '%s\n' "BEGIN; INSERT INTO certificate (issuer_id, serial, subject, profile, not_before, not_after,
    sha256, der) SELECT id, $1, 'CN=serial test', 'subscriber', now(), now() + interval '1 day', 'x',
    '\\x30' FROM ca_certificate WHERE name = 'issuing'; ROLLBACK"; }
for bad in "'0a1f'" "'0x1F'" "''" "'-01'" "' 01'" "E'1F\\n'" "'1G'" "repeat('F', 41)"; do
	sql_fails "$PKI_TEST_PG_URI" "$(ins "$bad")" 'violates check constraint "certificate_serial_hex"'
done
q "$(ins "repeat('F', 40)")" >/dev/null || fail "a serial of 40 hex digits refused"
[ "$(q "SELECT convalidated FROM pg_constraint WHERE conname = 'certificate_serial_hex'")" = t ] ||
	fail "certificate_serial_hex is not validated"
# One text per serial (schema/106): BN_bn2hex's, as every writer stores it
# (whole octets, no leading 00 octet, no sign octet), so UNIQUE (issuer_id,
# serial) is unique per integer and a lookup by that text finds the row.
# '0A', '000A' and 'A' are one serial: only '0A' is taken. As cad's role
# too (the review's probe): it recorded '000A' and 'A' under one issuer.
for bad in "'A'" "'000A'" "'00'" "'0'" "'0080'" "'100'" "'00' || repeat('F', 38)" "repeat('F', 39)"; do
	sql_fails "$PKI_TEST_PG_URI" "$(ins "$bad")" 'violates check constraint "certificate_serial_octets"'
done
for good in "'0A'" "'80'" "'0100'" "'0' || repeat('F', 39)"; do
	q "$(ins "$good")" >/dev/null || fail "serial $good (BN_bn2hex's form) refused"
done
alias_as_ca="BEGIN; SET ROLE pki_ca; INSERT INTO certificate (issuer_id, serial, subject, profile, not_before, not_after,
    sha256, der) SELECT id, s, 'CN=alias ' || s, 'subscriber', now(), now() + interval '1 year', 'y', '\\x01'
    FROM ca_certificate, unnest(ARRAY['0A', '000A', 'A']) AS s WHERE name = 'issuing'; ROLLBACK"
sql_fails "$PKI_TEST_PG_URI" "$alias_as_ca" 'violates check constraint "certificate_serial_octets"'
sql_fails "$PKI_TEST_PG_URI" "BEGIN; INSERT INTO ca_certificate (name, role, key_id, issuer_id, serial, subject, issuer,
    not_before, not_after, sha256, der) SELECT 'serial-test', 'issuing', key_id, issuer_id, 'A' || serial, subject,
    issuer, not_before, not_after, 'x', der FROM ca_certificate WHERE name = 'issuing'; ROLLBACK" \
	'violates check constraint "ca_certificate_serial_octets"'
[ "$(q "SELECT string_agg(conname || '=' || convalidated, ',' ORDER BY conname) FROM pg_constraint
    WHERE conname IN ('certificate_serial_octets', 'ca_certificate_serial_octets')")" = \
    "ca_certificate_serial_octets=true,certificate_serial_octets=true" ] || fail "the serial form constraints are missing or not validated"
note ok
