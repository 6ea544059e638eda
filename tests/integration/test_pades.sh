#!/usr/bin/env bash
# pkisign, the PAdES signer (sign/), against the stack's signd, TSA, OCSP
# responder and CRL distribution point, judged by pdfsig (poppler, with an
# NSS database trusting the stack's root), qpdf --check, openssl ts and
# openssl ocsp: B-B with a PIN (classic xref table), a second signer on the
# signed file (both signatures valid), a visible QR signature on page 2,
# a bulk of 3 documents (xref table, xref stream + object streams, 3
# pages) under ONE TOTP authorization (one SAD of 3 hashes), RSA PKCS#1
# v1.5 at B-T (the signature-time-stamp token verified by openssl ts over
# the signature value), B-LT (a /DSS with certificates, OCSP responses and
# CRLs the tools accept), B-LTA (a document time-stamp over the signature and
# the DSS, verified by openssl ts over its ByteRange). Refusals: a wrong TOTP code and a revoked
# credential exit 3 and write nothing; usage errors exit 2; a document whose
# existing /DSS the B-LT update could not extend is refused (exit 1, 422)
# before any authorization or signHash. No PIN, TOTP
# code, client secret, token or SAD in pkisign's arguments, its output or
# the service's log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
subscriber_env
export LC_ALL=C
PKISIGN=$BUILD/pkisign
for t in pdfsig qpdf certutil oathtool; do
	command -v "$t" >/dev/null || fail "$t missing (deploy/packages.txt; make deps)"
done
[ -x "$PKISIGN" ] || fail "$PKISIGN not built"

pw='Pades-Horse7'
secrets+=("$pw")

# --- test documents, made here ------------------------------------------------------
# mkpdf FILE TEXT: a one-page PDF 1.4 with a classic xref table, offsets computed.
mkpdf() {
	local s off=() i content
	content="BT /F1 24 Tf 72 760 Td ($2) Tj ET"
	s=$'%PDF-1.4\n'
	off[1]=${#s}; s+=$'1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n'
	off[2]=${#s}; s+=$'2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n'
	off[3]=${#s}; s+=$'3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>\nendobj\n'
	off[4]=${#s}; s+="4 0 obj"$'\n'"<< /Length ${#content} >>"$'\n'"stream"$'\n'"$content"$'\n'"endstream"$'\n'"endobj"$'\n'
	off[5]=${#s}; s+=$'5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n'
	local x=${#s}
	s+=$'xref\n0 6\n0000000000 65535 f \n'
	for i in 1 2 3 4 5; do s+=$(printf '%010d 00000 n \n' "${off[$i]}")$'\n'; done
	s+="trailer"$'\n'"<< /Size 6 /Root 1 0 R >>"$'\n'"startxref"$'\n'"$x"$'\n%%EOF\n'
	printf '%s' "$s" >"$1"
}
mkpdf "$tmp/simple.pdf" "Perjanjian kerja sama"
mkpdf "$tmp/other.pdf" "Surat kuasa"
qpdf --object-streams=generate "$tmp/other.pdf" "$tmp/xref.pdf" || fail "qpdf --object-streams=generate"
qpdf --empty --pages "$tmp/simple.pdf" "$tmp/other.pdf" "$tmp/simple.pdf" -- "$tmp/multi.pdf" || fail "qpdf --pages"
for f in simple other xref multi; do
	qpdf --check "$tmp/$f.pdf" >"$tmp/check.out" 2>&1 || { cat "$tmp/check.out"; fail "test document $f.pdf is not clean"; }
done
grep -q '/Type */XRef' "$tmp/xref.pdf" || fail "xref.pdf has no xref stream"
# mkdss IN OUT DSS [OBJ6]: IN (made by mkpdf: objects 1-5) plus an incremental
# update whose catalog has /DSS DSS, and object 6 when OBJ6 is given.
mkdss() {
	local o1 o6= x prev
	prev=$(tail -c 64 "$1" | sed -n '/^startxref/{n;p}')
	cp "$1" "$2"
	o1=$(stat -c %s "$2")
	printf '1 0 obj\n<< /Type /Catalog /Pages 2 0 R /DSS %s >>\nendobj\n' "$3" >>"$2"
	if [ -n "${4:-}" ]; then
		o6=$(stat -c %s "$2")
		printf '6 0 obj\n%s\nendobj\n' "$4" >>"$2"
	fi
	x=$(stat -c %s "$2")
	{
		printf 'xref\n0 2\n0000000000 65535 f \n%010d 00000 n \n' "$o1"
		[ -z "$o6" ] || printf '6 1\n%010d 00000 n \n' "$o6"
		printf 'trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n' \
			"$([ -z "$o6" ] && echo 6 || echo 7)" "$prev" "$x"
	} >>"$2"
	qpdf --check "$2" >"$tmp/check.out" 2>&1 || { cat "$tmp/check.out"; fail "mkdss $2 is not clean"; }
}
# mkp2 FILE: a one-page PDF certified with DocMDP /P 2 (form filling and
# signing only; the certification's dictionary is in /Perms, no field holds
# it) with an empty signature field "Approval" merged with its widget.
mkp2() {
	local s off=() i
	s=$'%PDF-1.7\n'
	off[1]=${#s}; s+=$'1 0 obj\n<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> /Perms << /DocMDP 5 0 R >> >>\nendobj\n'
	off[2]=${#s}; s+=$'2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n'
	off[3]=${#s}; s+=$'3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R] >>\nendobj\n'
	off[4]=${#s}; s+=$'4 0 obj\n<< /FT /Sig /T (Approval) /Type /Annot /Subtype /Widget /Rect [72 100 272 160] /P 3 0 R /F 4 >>\nendobj\n'
	off[5]=${#s}; s+=$'5 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /Reference [<< /Type /SigRef /TransformMethod /DocMDP /TransformParams << /Type /TransformParams /P 2 /V /1.2 >> >>] /ByteRange [0 0 0 0] /Contents <00> >>\nendobj\n'
	local x=${#s}
	s+=$'xref\n0 6\n0000000000 65535 f \n'
	for i in 1 2 3 4 5; do s+=$(printf '%010d 00000 n \n' "${off[$i]}")$'\n'; done
	s+="trailer"$'\n'"<< /Size 6 /Root 1 0 R >>"$'\n'"startxref"$'\n'"$x"$'\n%%EOF\n'
	printf '%s' "$s" >"$1"
	qpdf --check "$1" >"$tmp/check.out" 2>&1 || { cat "$tmp/check.out"; fail "mkp2 $1 is not clean"; }
}
mkp2 "$tmp/p2.pdf"
# Existing DSSs pdf_add_dss cannot extend: a string, one array as /Certs and /OCSPs.
mkdss "$tmp/simple.pdf" "$tmp/dss-string.pdf" '(not a dictionary)'
mkdss "$tmp/simple.pdf" "$tmp/dss-shared.pdf" '<< /Certs 6 0 R /OCSPs 6 0 R >>' '[ ]'
grep -q '/Type */ObjStm' "$tmp/xref.pdf" || fail "xref.pdf has no object stream"

# --- pdfsig's trust: the stack's root -------------------------------------------------
nss=$tmp/nss
mkdir -p "$nss"
certutil -N --empty-password -d "sql:$nss" || fail "certutil -N"
certutil -A -d "sql:$nss" -n pki-root -t CT,C,C -i "$PKI_ROOT_CERT" || fail "certutil -A"
# sigcheck FILE N: pdfsig lists N signatures, every one valid with a trusted
# certificate; the output stays in $tmp/sig.out.
sigcheck() {
	pdfsig -nssdir "sql:$nss" "$1" >"$tmp/sig.out" 2>&1 || { cat "$tmp/sig.out"; fail "pdfsig $1"; }
	[ "$(grep -c '^Signature #' "$tmp/sig.out")" = "$2" ] || { cat "$tmp/sig.out"; fail "$1: not $2 signature(s)"; }
	[ "$(grep -c 'Signature Validation: Signature is Valid\.' "$tmp/sig.out")" = "$2" ] ||
		{ cat "$tmp/sig.out"; fail "$1: a signature is not valid"; }
	[ "$(grep -c 'Certificate Validation: Certificate is Trusted\.' "$tmp/sig.out")" = "$2" ] ||
		{ cat "$tmp/sig.out"; fail "$1: a certificate is not trusted"; }
	grep -q 'Signature Type: ETSI.CAdES.detached' "$tmp/sig.out" || { cat "$tmp/sig.out"; fail "$1: not ETSI.CAdES.detached"; }
	qpdf --check "$1" >"$tmp/check.out" 2>&1 || { cat "$tmp/check.out"; fail "qpdf --check $1"; }
}
# The last signature covers the whole file.
lastwhole() {
	awk '/^Signature #/ { s = "" } { s = s $0 "\n" } END { printf "%s", s }' "$tmp/sig.out" |
		has 'Total document signed' || { cat "$tmp/sig.out"; fail "$1: the last signature does not cover the file"; }
}

# === the signing service and its subscribers =====================================
pkictl sigservice add --name "pades-$$" >"$tmp/svc" || fail "pkictl sigservice add"
sid=$(sed -n 's/^id\t//p' "$tmp/svc")
cid=$(sed -n 's/^client_id\t//p' "$tmp/svc")
csec=$(sed -n 's/^client_secret\t//p' "$tmp/svc")
secrets+=("$csec")
( umask 077; printf '%s\n' "$csec" >"$tmp/client.secret" )
rm -f "$tmp/svc"

account "pades-a-$$@example.com" +6281277780001 402917
aA=$aid
tokA=$tok
account "pades-b-$$@example.com" +6281277780002 513829
aB=$aid
grant "$tokA" "$sid"
grant "$tok" "$sid"
credA=$(issue "$aA" personal personal ec-p256 "Ayu Lestari")
credRSA=$(issue "$aA" corporate corporate rsa2048 "Ayu Lestari" "PT Contoh Sejahtera")
credB=$(issue "$aB" personal personal ec-p256 "Bima Saputra")
credX=$(issue "$aB" personal personal ec-p256 "Bima Saputra")
note "subscribers $aA (EC $credA, RSA $credRSA) and $aB (EC $credB, $credX to be revoked)"
( umask 077; printf '402917\n' >"$tmp/pinA"; printf '513829\n' >"$tmp/pinB" )

# A's TOTP, enrolled with the PIN and confirmed with this step's code.
rreq POST /v1/totp '{"factor":{"type":"pin","pin":"402917"}}' "$tokA"
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "TOTP enrolment: $code $(cat "$tmp/out")"
tsecret=$(jq -r .secret "$tmp/out")
secrets+=("$tsecret")
c=$(oathtool --totp -b "$tsecret")
secrets+=("$c")
rreq POST /v1/totp/confirm "{\"code\":\"$c\"}" "$tokA"
[ "$code" = 200 ] || fail "TOTP confirmation: $code $(cat "$tmp/out")"

# sign USER CRED FACTOR FACTORFILE [ARGS...]: runs pkisign; sets rc; output in $tmp/pkisign.out.
sign() {
	local args=(--csc-url "$PKI_SIGN_URL" --client-id "$cid" --client-secret-file "$tmp/client.secret"
		--user "$1" --credential "$2" --factor "$3" --factor-file "$4")
	shift 4
	args+=("$@")
	for s in "${secrets[@]}"; do
		case " ${args[*]} " in *"$s"*) fail "a secret in pkisign's arguments" ;; esac
	done
	rc=0
	"$PKISIGN" "${args[@]}" >"$tmp/pkisign.out" 2>&1 || rc=$?
	no_secret_in "pkisign's output" "$tmp/pkisign.out"
	return 0
}
signed() { [ "$rc" = 0 ] || { cat "$tmp/pkisign.out"; fail "pkisign: exit $rc: $1"; }; }

# === B-B, one signer, then a second signer ====================================
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/simple.pdf" --out "$tmp/a.pdf" --reason "Menyetujui" --location "Jakarta"
signed "B-B with the PIN"
sigcheck "$tmp/a.pdf" 1
lastwhole "$tmp/a.pdf"
grep -q 'Signer Certificate Common Name: Ayu Lestari' "$tmp/sig.out" || { cat "$tmp/sig.out"; fail "signer name"; }
cmp -s <(head -c "$(stat -c %s "$tmp/simple.pdf")" "$tmp/a.pdf") "$tmp/simple.pdf" || fail "not an incremental update"
# The CMS itself (pdfsig -dump): no signing-time, a signing-certificate-v2.
( cd "$tmp" && pdfsig -nssdir "sql:$nss" -dump a.pdf >/dev/null 2>&1 ) || fail "pdfsig -dump"
[ -s "$tmp/a.pdf.sig0" ] || fail "pdfsig -dump wrote no a.pdf.sig0"
openssl cms -cmsout -print -inform DER -in "$tmp/a.pdf.sig0" >"$tmp/cms.txt" || fail "the CMS does not parse"
grep -q 'id-smime-aa-signingCertificateV2' "$tmp/cms.txt" || fail "no signing-certificate-v2"
grep -q 'signingTime' "$tmp/cms.txt" && fail "a signing-time attribute (EN 319 142-1 §5.3 forbids it)"
note "B-B: valid, trusted, whole document, incremental"

# B signs A's signed file: PIN from stdin.
sign "$aB" "$credB" pin - --in "$tmp/a.pdf" --out "$tmp/ab.pdf" <"$tmp/pinB"
signed "second signer"
sigcheck "$tmp/ab.pdf" 2
lastwhole "$tmp/ab.pdf"
grep -q 'Signer Certificate Common Name: Bima Saputra' "$tmp/sig.out" || fail "second signer's name"
note "two successive signers: both valid"

# === an SMS OTP for the documents ==================================================
# A sign code is bound to the hashes it is asked for (schema/060), so pkisign
# says them first; the application (here the test) asks the RA for a code
# for them and gives "OTP_ID CODE" back through the factor file.
mkfifo "$tmp/otp.fifo"
rc=0
"$PKISIGN" --csc-url "$PKI_SIGN_URL" --client-id "$cid" --client-secret-file "$tmp/client.secret" \
	--user "$aA" --credential "$credA" --factor otp --factor-file "$tmp/otp.fifo" \
	--in "$tmp/simple.pdf" --out "$tmp/otp1.pdf" --in "$tmp/ab.pdf" --out "$tmp/otp2.pdf" >"$tmp/pkisign.out" 2>&1 &
spid=$!
for ((i = 0; i < 200; i++)); do
	grep -q '^pkisign: 2 document(s), ref ' "$tmp/pkisign.out" && break
	kill -0 "$spid" 2>/dev/null || { cat "$tmp/pkisign.out"; fail "pkisign --factor otp ended before asking for the code"; }
	sleep 0.1
done
docs=$(grep '^{"credential_id"' "$tmp/pkisign.out") || { cat "$tmp/pkisign.out"; fail "pkisign did not say the credential and the documents' hashes"; }
[ "$(jq -r .credential_id <<<"$docs")" = "$credA" ] || fail "pkisign said credential $(jq -r .credential_id <<<"$docs"), not $credA"
grep -qF "pkisign: with credential $credA, certificate serial $(q "SELECT serial FROM certificate WHERE id = $credA")" "$tmp/pkisign.out" ||
	{ cat "$tmp/pkisign.out"; fail "pkisign did not name the credential's certificate"; }
ref=$(sed -n 's/^pkisign: 2 document(s), ref \(.*\)$/\1/p' "$tmp/pkisign.out")
rreq POST /v1/otp "$(jq -c '. + {channel: "sms", purpose: "sign"}' <<<"$docs")" "$tokA"
[ "$code" = 201 ] || fail "a sign OTP for pkisign's documents: $code $(cat "$tmp/out")"
[ "$(jq -r .binding_ref "$tmp/out")" = "$ref" ] || fail "the RA's binding_ref $(jq -r .binding_ref "$tmp/out"), pkisign's $ref"
grep -q "for signing 2 document(s), ref $ref, with your personal certificate (serial ending $(q "SELECT right(serial, 4) FROM certificate WHERE id = $credA"))," \
	"$(ls -t "$sms"/* | head -n1)" || fail "the SMS does not name the documents' ref $ref and the credential"
oid=$(jq -r .otp_id "$tmp/out")
ocode=$(sms_code)
secrets+=("$ocode")
printf '%s %s\n' "$oid" "$ocode" >"$tmp/otp.fifo"
wait "$spid" || rc=$?
no_secret_in "pkisign's output" "$tmp/pkisign.out"
signed "B-B with an SMS OTP for the documents"
sigcheck "$tmp/otp1.pdf" 1
sigcheck "$tmp/otp2.pdf" 3
[ "$(q "SELECT consumed_at IS NOT NULL FROM ra_otp WHERE id = $oid")" = t ] || fail "the sign OTP was not used"
note "an SMS OTP for two documents: pkisign said their hashes and ref $ref, the RA's code for them signed both"

# === a visible QR signature on page 2 =============================================
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/multi.pdf" --out "$tmp/qr.pdf" \
	--visible 2,400,60,120 --qr-url "https://verify.example.id/d/42"
signed "visible QR"
sigcheck "$tmp/qr.pdf" 1
qpdf --json "$tmp/qr.pdf" >"$tmp/qr.json" || fail "qpdf --json"
jq -e '.acroform.fields | length == 1 and .[0].fieldtype == "/Sig" and .[0].pageposfrom1 == 2' "$tmp/qr.json" >/dev/null ||
	fail "no signature field on page 2: $(jq -c .acroform "$tmp/qr.json")"
# The widget's /Rect is the square asked for, with an appearance stream.
w=$(jq -r '.acroform.fields[0].annotation.object' "$tmp/qr.json" | tr -d R | xargs | tr ' ' ,)
qpdf --show-object="$w" "$tmp/qr.pdf" >"$tmp/widget.txt"
grep -Eq '/Rect \[ *400(\.0*)? +60(\.0*)? +520(\.0*)? +180(\.0*)? *\]' "$tmp/widget.txt" ||
	fail "the widget's /Rect: $(cat "$tmp/widget.txt")"
grep -q '/AP' "$tmp/widget.txt" || fail "the widget has no appearance: $(cat "$tmp/widget.txt")"
note "visible QR signature on page 2: valid"

# === bulk: 3 documents, one TOTP authorization =====================================
sads=$(q "SELECT count(*) FROM sign_sad")
tcode=$(oathtool --totp -b -N 'now + 30 seconds' "$tsecret")
secrets+=("$tcode")
( umask 077; printf '%s\n' "$tcode" >"$tmp/totp" )
sign "$aA" "$credA" totp "$tmp/totp" --in "$tmp/simple.pdf" --out "$tmp/b1.pdf" \
	--in "$tmp/xref.pdf" --out "$tmp/b2.pdf" --in "$tmp/multi.pdf" --out "$tmp/b3.pdf"
signed "bulk of 3 with TOTP"
for f in b1 b2 b3; do
	sigcheck "$tmp/$f.pdf" 1
	lastwhole "$tmp/$f.pdf"
done
[ "$(q "SELECT count(*) FROM sign_sad")" = $((sads + 1)) ] || fail "the bulk took more than one authorization"
[ "$(q "SELECT num_signatures || '/' || remaining FROM sign_sad ORDER BY id DESC LIMIT 1")" = 3/0 ] ||
	fail "the bulk's SAD: $(q "SELECT num_signatures || '/' || remaining FROM sign_sad ORDER BY id DESC LIMIT 1")"
note "bulk: 3 documents (xref table, xref stream, 3 pages) under one TOTP authorization"

# === B-T, ECDSA =======================================================================
sign "$aB" "$credB" pin "$tmp/pinB" --level B-T --tsa-url "$PKI_TSA_URL" --in "$tmp/xref.pdf" --out "$tmp/t.pdf"
signed "B-T ECDSA"
sigcheck "$tmp/t.pdf" 1
lastwhole "$tmp/t.pdf"
grep -q 'Signing Hash Algorithm: SHA-256' "$tmp/sig.out" || fail "hash algorithm"
# The token, from the CMS: openssl ts -verify over the signature value.
( cd "$tmp" && pdfsig -nssdir "sql:$nss" -dump t.pdf >/dev/null 2>&1 ) || fail "pdfsig -dump t.pdf"
openssl asn1parse -inform DER -in "$tmp/t.pdf.sig0" >"$tmp/asn1.txt" || fail "asn1parse"
# The signature value is the OCTET STRING before [1] (unsignedAttrs), the
# token the SEQUENCE inside the attribute's SET.
# asn1line: "OFFSET HL L" of an asn1parse line.
asn1line() { sed -E 's/^ *([0-9]+):d=[0-9]+ +hl= *([0-9]+) +l= *([0-9]+).*/\1 \2 \3/'; }
read -r soff shl slen < <(grep -B1 'cont \[ 1 \]' "$tmp/asn1.txt" | grep 'OCTET STRING' | tail -n1 | asn1line)
dd if="$tmp/t.pdf.sig0" of="$tmp/sigval" bs=1 skip=$((soff + shl)) count="$slen" status=none
openssl asn1parse -inform DER -in "$tmp/sigval" >/dev/null 2>&1 || fail "the signature value is not a DER ECDSA-Sig-Value"
read -r toff thl tlen < <(grep -A2 'id-smime-aa-timeStampToken' "$tmp/asn1.txt" | sed -n 3p | asn1line)
[ -n "${tlen:-}" ] || fail "no signature-time-stamp attribute"
dd if="$tmp/t.pdf.sig0" of="$tmp/tst.der" bs=1 skip="$toff" count=$((thl + tlen)) status=none
openssl ts -verify -in "$tmp/tst.der" -token_in -data "$tmp/sigval" -CAfile "$PKI_CHAIN" >"$tmp/ts.out" 2>&1 ||
	{ cat "$tmp/ts.out"; fail "openssl ts -verify: the token is not over the signature value"; }
head -c 100 /dev/urandom >"$tmp/notsig"
openssl ts -verify -in "$tmp/tst.der" -token_in -data "$tmp/notsig" -CAfile "$PKI_CHAIN" >/dev/null 2>&1 &&
	fail "openssl ts -verify accepted the token for other data"
note "B-T: ECDSA signature valid, time-stamp token over the signature value verified by openssl ts"

# === B-LT, RSA PKCS#1 v1.5 ===========================================================
# (A third certificate: pdfsig 22.12 reports "Unknown issue with Certificate"
# for the second of two signatures by one certificate in a file, with or
# without a DSS: a poppler/NSS matter, not this file's.)
sign "$aA" "$credRSA" pin "$tmp/pinA" --level B-LT --tsa-url "$PKI_TSA_URL" --in "$tmp/ab.pdf" --out "$tmp/lt.pdf"
signed "B-LT"
sigcheck "$tmp/lt.pdf" 3
grep -q 'Signer Certificate Common Name: Ayu Lestari' "$tmp/sig.out" || fail "B-LT signer"
root=$(qpdf --show-object=trailer "$tmp/lt.pdf" | sed -n 's|.*/Root \([0-9]*\) \([0-9]*\) R.*|\1,\2|p')
[ -n "$root" ] || fail "no /Root in the trailer"
qpdf --show-object="$root" "$tmp/lt.pdf" >"$tmp/root.txt"
dss=$(sed -n 's|.*/DSS \([0-9]*\) \([0-9]*\) R.*|\1,\2|p' "$tmp/root.txt")
[ -n "$dss" ] || fail "no /DSS in the catalog: $(cat "$tmp/root.txt")"
qpdf --show-object="$dss" "$tmp/lt.pdf" >"$tmp/dss.txt"
for k in Certs OCSPs CRLs; do grep -q "/$k" "$tmp/dss.txt" || fail "no /$k in the DSS: $(cat "$tmp/dss.txt")"; done
# Every OCSP response says good, every CRL parses, every certificate too.
n_ocsp=0
for ref in $(sed -n 's|.*/OCSPs *\[\([^]]*\)\].*|\1|p' "$tmp/dss.txt" | grep -o '[0-9]* [0-9]* R' | tr ' ' ',' | sed 's/,R$//'); do
	qpdf --show-object="$ref" --filtered-stream-data "$tmp/lt.pdf" >"$tmp/ocsp.der"
	openssl ocsp -respin "$tmp/ocsp.der" -resp_text -noverify >"$tmp/ocsp.txt" 2>&1 || fail "an OCSP response in the DSS does not parse"
	grep -q 'Cert Status: good' "$tmp/ocsp.txt" || fail "an OCSP response in the DSS is not good"
	n_ocsp=$((n_ocsp + 1))
done
n_crl=0
for ref in $(sed -n 's|.*/CRLs *\[\([^]]*\)\].*|\1|p' "$tmp/dss.txt" | grep -o '[0-9]* [0-9]* R' | tr ' ' ',' | sed 's/,R$//'); do
	qpdf --show-object="$ref" --filtered-stream-data "$tmp/lt.pdf" >"$tmp/crl.der"
	openssl crl -inform DER -in "$tmp/crl.der" -noout -issuer >/dev/null || fail "a CRL in the DSS does not parse"
	n_crl=$((n_crl + 1))
done
[ "$n_ocsp" -ge 2 ] || fail "B-LT: $n_ocsp OCSP responses (signer and TSA at least)"
[ "$n_crl" -ge 1 ] || fail "B-LT: no CRL"
# /Certs: DER certificates, each once, among them the signer's, every one of
# the stack's chain and the TSA's (the B-T token's signer).
: >"$tmp/dss-fps"
for ref in $(sed -n 's|.*/Certs *\[\([^]]*\)\].*|\1|p' "$tmp/dss.txt" | grep -o '[0-9]* [0-9]* R' | tr ' ' ',' | sed 's/,R$//'); do
	qpdf --show-object="$ref" --filtered-stream-data "$tmp/lt.pdf" >"$tmp/dsscert.der"
	openssl x509 -inform DER -in "$tmp/dsscert.der" -noout -fingerprint -sha256 >>"$tmp/dss-fps" 2>/dev/null ||
		fail "a /Certs entry of the DSS is not a DER certificate"
done
[ -s "$tmp/dss-fps" ] || fail "B-LT: /Certs is empty: $(cat "$tmp/dss.txt")"
[ -z "$(sort "$tmp/dss-fps" | uniq -d)" ] || fail "B-LT: a certificate twice in /Certs"
cert_pem "$credRSA" "$tmp/rsa.pem"
awk '/BEGIN CERT/ { n++ } { print > (dir "/chain-" n ".pem") }' dir="$tmp" "$PKI_CHAIN"
for c in "$tmp/rsa.pem" "$PKI_TSA_CERT" "$tmp"/chain-*.pem; do
	fp=$(openssl x509 -in "$c" -noout -fingerprint -sha256) || fail "$c: not a certificate"
	grep -qxF "$fp" "$tmp/dss-fps" ||
		fail "B-LT: /Certs lacks $(openssl x509 -in "$c" -noout -subject)"
done
# The third signature (B-T under B-LT) carries its signature-time-stamp:
# pdfsig 22.12 prints nothing about a token (not even with -nocert), so
# it is taken from the CMS pdfsig dumps, and verified over the signature
# value as for B-T above. Its /Contents leaves no doubt it was sized for a
# token: the reserve grew past the 16384-byte default (cades_size_bound).
pdfsig -nocert "$tmp/lt.pdf" >"$tmp/sig-nocert.out" 2>&1 || fail "pdfsig -nocert lt.pdf"
[ "$(grep -c 'Signature Validation: Signature is Valid\.' "$tmp/sig-nocert.out")" = 3 ] ||
	{ cat "$tmp/sig-nocert.out"; fail "pdfsig -nocert: lt.pdf's signatures"; }
( cd "$tmp" && rm -f lt.pdf.sig* && pdfsig -nocert -dump lt.pdf >/dev/null 2>&1 ) || fail "pdfsig -dump lt.pdf"
openssl asn1parse -inform DER -in "$tmp/lt.pdf.sig2" >"$tmp/lt.asn1" || fail "asn1parse lt.pdf.sig2"
grep -q 'id-smime-aa-timeStampToken' "$tmp/lt.asn1" || fail "B-LT: the signature has no signature-time-stamp"
read -r soff shl slen < <(grep -B1 'cont \[ 1 \]' "$tmp/lt.asn1" | grep 'OCTET STRING' | tail -n1 | asn1line)
dd if="$tmp/lt.pdf.sig2" of="$tmp/lt.sigval" bs=1 skip=$((soff + shl)) count="$slen" status=none
read -r toff thl tlen < <(grep -A2 'id-smime-aa-timeStampToken' "$tmp/lt.asn1" | sed -n 3p | asn1line)
dd if="$tmp/lt.pdf.sig2" of="$tmp/lt.tst" bs=1 skip="$toff" count=$((thl + tlen)) status=none
openssl ts -verify -in "$tmp/lt.tst" -token_in -data "$tmp/lt.sigval" -CAfile "$PKI_CHAIN" >"$tmp/ts.out" 2>&1 ||
	{ cat "$tmp/ts.out"; fail "B-LT: the signature-time-stamp is not over the signature value"; }
qpdf --json "$tmp/lt.pdf" >/dev/null || fail "qpdf --json lt.pdf"
note "B-LT (RSA): DSS with $(wc -l <"$tmp/dss-fps") certificates (signer, chain, TSA), $n_ocsp OCSP responses (good) and $n_crl CRL(s); 3 signatures valid; the signature's time-stamp verified"

# === B-LTA: a document time-stamp over the signature and its DSS =====================
# pdfsig 22.12 lists the time-stamp (its signer the TSA, the whole file
# covered) but cannot validate /SubFilter /ETSI.RFC3161 ("Unable to validate
# this type of signature"): openssl ts verifies the token over the bytes
# pdfsig says it covers.
sign "$aB" "$credB" pin "$tmp/pinB" --level B-LTA --tsa-url "$PKI_TSA_URL" --in "$tmp/simple.pdf" --out "$tmp/lta.pdf"
signed "B-LTA"
pdfsig -nssdir "sql:$nss" "$tmp/lta.pdf" >"$tmp/sig.out" 2>&1 || { cat "$tmp/sig.out"; fail "pdfsig lta.pdf"; }
[ "$(grep -c '^Signature #' "$tmp/sig.out")" = 2 ] || { cat "$tmp/sig.out"; fail "B-LTA: not 2 signatures"; }
awk '/^Signature #1/,/^Signature #2/' "$tmp/sig.out" >"$tmp/sig1.out"
awk '/^Signature #2/,0' "$tmp/sig.out" >"$tmp/sig2.out"
grep -q 'Signature Validation: Signature is Valid\.' "$tmp/sig1.out" &&
	grep -q 'Certificate Validation: Certificate is Trusted\.' "$tmp/sig1.out" &&
	grep -q 'Signature Type: ETSI.CAdES.detached' "$tmp/sig1.out" &&
	grep -q 'Not total document signed' "$tmp/sig1.out" || { cat "$tmp/sig.out"; fail "B-LTA: the signature"; }
tsa_cn=$(openssl x509 -in "$PKI_TSA_CERT" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
grep -q "Signer Certificate Common Name: $tsa_cn" "$tmp/sig2.out" &&
	grep -q 'Total document signed' "$tmp/sig2.out" || { cat "$tmp/sig.out"; fail "B-LTA: the document time-stamp"; }
qpdf --check "$tmp/lta.pdf" >"$tmp/check.out" 2>&1 || { cat "$tmp/check.out"; fail "qpdf --check lta.pdf"; }
# The time-stamp's dictionary, and the DSS inside what it covers.
grep -aq '/Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161' "$tmp/lta.pdf" ||
	fail "B-LTA: no DocTimeStamp dictionary"
read -r r1 r2 r3 r4 < <(sed -n 's/.*Signed Ranges: \[\([0-9]*\) - \([0-9]*\)\], \[\([0-9]*\) - \([0-9]*\)\].*/\1 \2 \3 \4/p' "$tmp/sig2.out")
[ "${r1:-}" = 0 ] && [ "$r4" = "$(stat -c %s "$tmp/lta.pdf")" ] || fail "B-LTA: ranges $r1-$r2, $r3-$r4"
dss_at=$(grep -abo '/DSS [0-9]* 0 R' "$tmp/lta.pdf" | sed -n 1p | cut -d: -f1)
[ -n "$dss_at" ] && [ "$dss_at" -lt "$r2" ] || fail "B-LTA: the DSS is not under the document time-stamp"
{ head -c "$r2" "$tmp/lta.pdf"; tail -c +$((r3 + 1)) "$tmp/lta.pdf"; } >"$tmp/lta.covered"
( cd "$tmp" && rm -f lta.pdf.sig* && pdfsig -nssdir "sql:$nss" -dump lta.pdf >/dev/null 2>&1 ) || fail "pdfsig -dump lta.pdf"
# Through a file: head would stop reading while openssl still writes, and
# under pipefail openssl's EPIPE failed the test (silently, by set -e).
openssl asn1parse -inform DER -in "$tmp/lta.pdf.sig1" >"$tmp/lta.asn1"
len=$(head -n1 "$tmp/lta.asn1" | asn1line | awk '{print $2 + $3}')
head -c "$len" "$tmp/lta.pdf.sig1" >"$tmp/dts.der"
openssl ts -verify -in "$tmp/dts.der" -token_in -data "$tmp/lta.covered" -CAfile "$PKI_CHAIN" >"$tmp/ts.out" 2>&1 ||
	{ cat "$tmp/ts.out"; fail "openssl ts -verify: the document time-stamp is not over its ByteRange"; }
# One byte changed in the DSS's update: the token no longer matches.
cp "$tmp/lta.covered" "$tmp/lta.tampered"
printf 'X' | dd of="$tmp/lta.tampered" bs=1 seek="$dss_at" conv=notrunc status=none
openssl ts -verify -in "$tmp/dts.der" -token_in -data "$tmp/lta.tampered" -CAfile "$PKI_CHAIN" >/dev/null 2>&1 &&
	fail "openssl ts -verify accepted the document time-stamp for changed bytes"
note "B-LTA: signature valid, DSS, document time-stamp over the whole file verified by openssl ts"

# === refusals: nothing written ========================================================
# A wrong TOTP code.
printf '%06d\n' $(( (10#$(oathtool --totp -b "$tsecret") + 500000) % 1000000 )) >"$tmp/badtotp"
sign "$aA" "$credA" totp "$tmp/badtotp" --in "$tmp/simple.pdf" --out "$tmp/bad.pdf" --in "$tmp/other.pdf" --out "$tmp/bad2.pdf"
[ "$rc" = 3 ] || { cat "$tmp/pkisign.out"; fail "wrong TOTP: exit $rc, want 3"; }
grep -q 'invalid_otp' "$tmp/pkisign.out" || { cat "$tmp/pkisign.out"; fail "wrong TOTP: no CSC error in the message"; }
[ ! -e "$tmp/bad.pdf" ] && [ ! -e "$tmp/bad2.pdf" ] || fail "wrong TOTP: an output was written"
ls "$tmp" | has '^bad.*\.pdf\.' && fail "wrong TOTP: a temporary file left"
q "UPDATE ra_account SET factor_failures = 0, factor_locked_until = NULL WHERE id = $aA" >/dev/null
# A revoked credential.
cert_pem "$credX" "$tmp/x.pem"
ser=$(openssl x509 -in "$tmp/x.pem" -noout -serial | cut -d= -f2)
pkictl cert revoke --serial "$ser" --reason keyCompromise >/dev/null || fail "revoke"
sign "$aB" "$credX" pin "$tmp/pinB" --in "$tmp/simple.pdf" --out "$tmp/rev.pdf"
[ "$rc" = 3 ] || { cat "$tmp/pkisign.out"; fail "revoked credential: exit $rc, want 3"; }
grep -q 'revoked' "$tmp/pkisign.out" || { cat "$tmp/pkisign.out"; fail "revoked credential: message"; }
[ ! -e "$tmp/rev.pdf" ] || fail "revoked credential: output written"
# Another subscriber's credential (userID checked by signd).
sign "$aA" "$credB" pin "$tmp/pinA" --in "$tmp/simple.pdf" --out "$tmp/other-user.pdf"
[ "$rc" = 3 ] || { cat "$tmp/pkisign.out"; fail "another's credential: exit $rc, want 3"; }
grep -q 'Invalid parameter credentialID (no such credential of this user, or its subscriber has not granted this signing service at the RA)' \
	"$tmp/pkisign.out" || { cat "$tmp/pkisign.out"; fail "another's credential: the message does not say what to check"; }
[ ! -e "$tmp/other-user.pdf" ] || fail "another's credential: output written"
# Not a PDF.
printf 'not a pdf\n' >"$tmp/junk.pdf"
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/junk.pdf" --out "$tmp/junk.signed.pdf"
[ "$rc" = 1 ] || { cat "$tmp/pkisign.out"; fail "not a PDF: exit $rc, want 1"; }
[ ! -e "$tmp/junk.signed.pdf" ] || fail "not a PDF: output written"
# A compression bomb (640 MiB of spaces in the object stream holding the
# catalog, in a 650 KB file): refused within the default memory cap (512 MiB
# and 8 times the input) instead of exhausting the machine. Not in a
# sanitizer build, where the cap cannot be set (lib/sandbox.h).
/usr/bin/python3 "$(dirname "$0")/pdf_bomb.py" "$tmp/bomb.pdf" 640
asan=0
ldd "$PKISIGN" | has libasan && asan=1
if [ "$asan" = 0 ]; then
	sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/bomb.pdf" --out "$tmp/bomb.signed.pdf"
	[ "$rc" = 1 ] || { cat "$tmp/pkisign.out"; fail "compression bomb: exit $rc, want 1"; }
	grep -q 'needs more memory than the signer' "$tmp/pkisign.out" || { cat "$tmp/pkisign.out"; fail "compression bomb: message"; }
	[ ! -e "$tmp/bomb.signed.pdf" ] || fail "compression bomb: output written"
	note "pkisign: a PDF compression bomb refused within the memory cap"
fi
# A page tree 50,000 /Pages levels deep (650 KB, object streams): qpdf walks
# it by recursion and overflowed its stack (SIGSEGV, before any
# authorization). Refused now past 64 levels, in both builds.
/usr/bin/python3 "$(dirname "$0")/pdf_bomb.py" "$tmp/deep.pdf" deep 50000
sads=$(q "SELECT count(*) FROM sign_sad")
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/deep.pdf" --out "$tmp/deep.signed.pdf"
[ "$rc" = 1 ] || { cat "$tmp/pkisign.out"; fail "a page tree 50,000 levels deep: exit $rc, want 1"; }
grep -q 'deep.pdf: page tree deeper than 64 levels of /Pages refused' "$tmp/pkisign.out" ||
	{ cat "$tmp/pkisign.out"; fail "a deep page tree: message"; }
[ ! -e "$tmp/deep.signed.pdf" ] || fail "a deep page tree: output written"
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] || fail "a deep page tree: an authorization was spent"
note "pkisign: a page tree 50,000 levels deep refused (exit 1), no crash, nothing spent"
# 400,000 small objects (36 MB) under memory caps of 400 to 1200 MiB: qpdf
# keeps each object it reads and runs out of memory part-way. Under 400 MiB
# pkisign went on calling qpdf after its error; under 500 and 900 MiB the
# failing qpdf call itself could not allocate its error (make_shared in its
# C API): std::terminate, SIGABRT (exit 134). Now the allocation is refused
# with a reserve above the cap left for qpdf's error path (sign/memcap.h):
# exit 1 at each cap. No cap in a sanitizer build. (The file is kept for
# pkisign serve below.)
if [ "$asan" = 0 ]; then
	/usr/bin/python3 "$(dirname "$0")/pdf_bomb.py" "$tmp/many.pdf" many 400000
	for mib in 400 500 700 900 1200; do
		sign "$aA" "$credA" pin "$tmp/pinA" --memory-limit-mib "$mib" --in "$tmp/many.pdf" --out "$tmp/many.signed.pdf"
		[ "$rc" = 1 ] || { tail -n 3 "$tmp/pkisign.out"; fail "400,000 objects under a $mib MiB cap: exit $rc, want 1"; }
		grep -q 'needs more memory than the signer' "$tmp/pkisign.out" ||
			{ cat "$tmp/pkisign.out"; fail "400,000 objects under $mib MiB: message"; }
		[ ! -e "$tmp/many.signed.pdf" ] || fail "400,000 objects under $mib MiB: output written"
	done
	note "pkisign: 400,000 objects past memory caps of 400 to 1200 MiB refused (exit 1), no abort"
fi
# Ten object streams inflating to 48 MiB each, in a 480 KB file: under the
# memory cap one at a time, but reading them all takes seconds of CPU
# (minutes with larger ones): refused past --cpu-limit-seconds (1 here, 10
# by default; before: read to the end and signed).
/usr/bin/python3 "$(dirname "$0")/pdf_bomb.py" "$tmp/bombs.pdf" 48 10
sign "$aA" "$credA" pin "$tmp/pinA" --cpu-limit-seconds 1 --in "$tmp/bombs.pdf" --out "$tmp/bombs.signed.pdf"
[ "$rc" = 1 ] || { cat "$tmp/pkisign.out"; fail "many object streams: exit $rc, want 1"; }
grep -q 'takes more than 1.0 s of CPU' "$tmp/pkisign.out" || { cat "$tmp/pkisign.out"; fail "many object streams: message"; }
[ ! -e "$tmp/bombs.signed.pdf" ] || fail "many object streams: output written"
note "pkisign: a PDF of many inflating object streams refused past the CPU budget"
# Usage: a factor on the command line, unpaired --in, B-T without a TSA.
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/simple.pdf" --out "$tmp/u.pdf" 770123
[ "$rc" = 2 ] || fail "an extra argument: exit $rc, want 2"
grep -q 770123 "$tmp/pkisign.out" && fail "pkisign quoted a stray argument (it could be a PIN)"
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/simple.pdf"
[ "$rc" = 2 ] || fail "--in without --out: exit $rc, want 2"
sign "$aA" "$credA" pin "$tmp/pinA" --level B-T --in "$tmp/simple.pdf" --out "$tmp/u.pdf"
[ "$rc" = 2 ] || fail "B-T without --tsa-url: exit $rc, want 2"
sign "$aA" "$credA" otp "$tmp/pinA" --otp-id 7 --in "$tmp/simple.pdf" --out "$tmp/u.pdf"
[ "$rc" = 2 ] && grep -q 'for given documents' "$tmp/pkisign.out" ||
	{ cat "$tmp/pkisign.out"; fail "--otp-id (an OTP asked for before the documents): exit $rc, want 2"; }
# Ids and a PIN signd cannot take are usage errors (exit 2), not signd's
# refusal (exit 3, after a token and the documents read); the PIN unquoted.
sign "$aA" "0$credA" pin "$tmp/pinA" --in "$tmp/simple.pdf" --out "$tmp/u.pdf"
[ "$rc" = 2 ] && grep -q -- '--user and --credential are ids' "$tmp/pkisign.out" ||
	{ cat "$tmp/pkisign.out"; fail "--credential with a leading zero: exit $rc, want 2"; }
printf '12345\n' >"$tmp/pin5"
sign "$aA" "$credA" pin "$tmp/pin5" --in "$tmp/simple.pdf" --out "$tmp/u.pdf"
[ "$rc" = 2 ] && grep -q 'the PIN or code is 6 digits' "$tmp/pkisign.out" ||
	{ cat "$tmp/pkisign.out"; fail "a 5-digit PIN: exit $rc, want 2"; }
! grep -q 12345 "$tmp/pkisign.out" || fail "pkisign quoted a PIN"
[ ! -e "$tmp/u.pdf" ] || fail "a usage error wrote an output"
# Outputs checked before anything is signed: no SAD spent, nothing written.
sads=$(q "SELECT count(*) FROM sign_sad")
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/simple.pdf" --out "$tmp/dup.pdf" --in "$tmp/simple.pdf" --out "$tmp/./dup.pdf"
[ "$rc" = 1 ] && grep -q 'the same output' "$tmp/pkisign.out" || { cat "$tmp/pkisign.out"; fail "one --out twice: exit $rc"; }
mkdir -p "$tmp/adir"
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/simple.pdf" --out "$tmp/first.pdf" --in "$tmp/simple.pdf" --out "$tmp/adir"
[ "$rc" = 1 ] || { cat "$tmp/pkisign.out"; fail "--out a directory: exit $rc"; }
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/simple.pdf" --out "$tmp/no/such/dir.pdf"
[ "$rc" = 1 ] || { cat "$tmp/pkisign.out"; fail "--out in a missing directory: exit $rc"; }
[ ! -e "$tmp/dup.pdf" ] && [ ! -e "$tmp/first.pdf" ] && [ -z "$(ls "$tmp" | grep -E '\.pdf\.[A-Za-z0-9]{6}$')" ] ||
	fail "a refused output left a file"
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] || fail "an unusable output still spent an authorization"
# A document whose existing /DSS the B-LT update would refuse: refused before
# credentials/authorize and signHash (no SAD, no sign.hash), alone or in a
# batch with a good one; the B-LT DSS update used to refuse it after signHash.
hashes() { q "SELECT count(*) FROM audit_event WHERE action = 'sign.hash'"; }
sads=$(q "SELECT count(*) FROM sign_sad")
nhash=$(hashes)
for f in dss-string dss-shared; do
	sign "$aA" "$credA" pin "$tmp/pinA" --level B-LT --tsa-url "$PKI_TSA_URL" \
		--in "$tmp/simple.pdf" --out "$tmp/$f-ok.pdf" --in "$tmp/$f.pdf" --out "$tmp/$f.signed.pdf"
	[ "$rc" = 1 ] || { cat "$tmp/pkisign.out"; fail "$f: B-LT exit $rc, want 1"; }
	grep -q "$f.pdf: its DSS cannot be extended" "$tmp/pkisign.out" || { cat "$tmp/pkisign.out"; fail "$f: message"; }
	[ ! -e "$tmp/$f-ok.pdf" ] && [ ! -e "$tmp/$f.signed.pdf" ] || fail "$f: an output was written"
done
# The same document twice in one batch: refused before any authorization.
# (A check on the hashes to sign could never fire: each update's fresh
# second /ID makes them differ.)
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/simple.pdf" --out "$tmp/dup1.pdf" --in "$tmp/simple.pdf" --out "$tmp/dup2.pdf"
[ "$rc" = 1 ] && grep -q 'are the same document' "$tmp/pkisign.out" ||
	{ cat "$tmp/pkisign.out"; fail "the same document twice in a batch: exit $rc"; }
[ ! -e "$tmp/dup1.pdf" ] && [ ! -e "$tmp/dup2.pdf" ] || fail "the same document twice: an output was written"
sign "$aA" "$credA" pin "$tmp/pinA" --level B-LTA --tsa-url "$PKI_TSA_URL" --in "$tmp/dss-string.pdf" --out "$tmp/dss-lta.pdf"
[ "$rc" = 1 ] && grep -q 'not a dictionary' "$tmp/pkisign.out" || { cat "$tmp/pkisign.out"; fail "bad DSS at B-LTA: exit $rc"; }
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] && [ "$(hashes)" = "$nhash" ] ||
	fail "a document with a bad /DSS, or one twice in a batch, spent an authorization or a signHash"
# A --contents-size the CMS may not fit (an RSA-2048 B-T signature with its
# chain and a token of up to 16 KiB): refused before credentials/authorize
# and signHash. It used to be found after signHash, the SAD spent.
sign "$aA" "$credRSA" pin "$tmp/pinA" --level B-T --tsa-url "$PKI_TSA_URL" --contents-size 4096 \
	--in "$tmp/simple.pdf" --out "$tmp/small.pdf"
[ "$rc" = 1 ] && grep -q 'a contents size of 4096 bytes is too small' "$tmp/pkisign.out" ||
	{ cat "$tmp/pkisign.out"; fail "a too small --contents-size: exit $rc"; }
[ ! -e "$tmp/small.pdf" ] || fail "a too small --contents-size: output written"
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] && [ "$(hashes)" = "$nhash" ] ||
	fail "a too small --contents-size spent an authorization or a signHash"
# The TSA down (a closed port) at B-T and B-LT: refused before any
# authorization, the TSA asked for a time-stamp first. It used to be found
# after signHash: the SAD, a sign.hash event (and an SMS code) spent.
dead=$(free_port)
for lvl in B-T B-LT; do
	sign "$aA" "$credA" pin "$tmp/pinA" --level "$lvl" --tsa-url "http://127.0.0.1:$dead/tsa" \
		--in "$tmp/simple.pdf" --out "$tmp/dead.pdf"
	[ "$rc" = 1 ] && grep -q 'time-stamp (asked before the authorization; nothing was authorized)' "$tmp/pkisign.out" ||
		{ cat "$tmp/pkisign.out"; fail "$lvl with the TSA down: exit $rc"; }
	[ ! -e "$tmp/dead.pdf" ] || fail "$lvl with the TSA down: output written"
done
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] && [ "$(hashes)" = "$nhash" ] ||
	fail "the TSA down spent an authorization or a signHash"
note "the TSA down at B-T and B-LT: exit 1 before any authorization, nothing spent"
# DocMDP /P 2: a new signature field is refused before any authorization,
# naming the empty field to sign; --field signs that field (its widget
# kept) at B-T, valid for pdfsig. The old code added a field anyway.
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/p2.pdf" --out "$tmp/p2-new.pdf"
[ "$rc" = 1 ] && grep -q 'DocMDP /P 2' "$tmp/pkisign.out" && grep -q '"Approval"' "$tmp/pkisign.out" ||
	{ cat "$tmp/pkisign.out"; fail "DocMDP /P 2, a new field: exit $rc"; }
[ ! -e "$tmp/p2-new.pdf" ] || fail "DocMDP /P 2, a new field: output written"
sign "$aA" "$credA" pin "$tmp/pinA" --field Nope --in "$tmp/p2.pdf" --out "$tmp/p2-new.pdf"
[ "$rc" = 1 ] && grep -q 'no empty signature field named "Nope"' "$tmp/pkisign.out" ||
	{ cat "$tmp/pkisign.out"; fail "--field of a missing field: exit $rc"; }
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] && [ "$(hashes)" = "$nhash" ] ||
	fail "a DocMDP /P 2 refusal spent an authorization or a signHash"
sign "$aA" "$credA" pin "$tmp/pinA" --field Approval --visible 1,10,10,50 --qr-url https://example.com \
	--in "$tmp/p2.pdf" --out "$tmp/p2-new.pdf"
[ "$rc" = 2 ] || { cat "$tmp/pkisign.out"; fail "--field with --visible: exit $rc, want 2"; }
sign "$aA" "$credA" pin "$tmp/pinA" --level B-T --tsa-url "$PKI_TSA_URL" --field Approval \
	--in "$tmp/p2.pdf" --out "$tmp/p2-signed.pdf"
signed "--field Approval of a DocMDP /P 2 document"
sigcheck "$tmp/p2-signed.pdf" 1
lastwhole "$tmp/p2-signed.pdf"
grep -q 'Signature Field Name: Approval' "$tmp/sig.out" || { cat "$tmp/sig.out"; fail "--field: not the field Approval"; }
[ "$(qpdf --show-object=1 "$tmp/p2-signed.pdf")" = "$(qpdf --show-object=1 "$tmp/p2.pdf")" ] ||
	fail "--field: the catalog (its /Fields) was rewritten"
qpdf --show-object=4 "$tmp/p2-signed.pdf" | grep -q '/Rect \[ 72 100 272 160 \].*/V [0-9]* 0 R' ||
	fail "--field: the field's widget or /V: $(qpdf --show-object=4 "$tmp/p2-signed.pdf")"
note "DocMDP /P 2: a new field refused before authorization; --field signs the empty field Approval (B-T, valid)"
# B-B and B-T add no DSS: the same document is signed.
sign "$aA" "$credA" pin "$tmp/pinA" --in "$tmp/dss-shared.pdf" --out "$tmp/dss-bb.pdf"
signed "B-B of a document with an unusable DSS"
sigcheck "$tmp/dss-bb.pdf" 1
note "a bad /DSS refused at B-LT and B-LTA before any authorization (exit 1, alone or in a batch)"
note "refusals: wrong TOTP, revoked credential, another's credential (exit 3); junk, duplicate or unwritable outputs (1); usage (2); nothing written"

# === pkisign serve: the same as an HTTP service ========================================
sport=$(free_port)
# The applications allowed to call it: a bearer token each, the file holds
# its SHA-256 (two callers; the second's token is never sent).
apptok=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')
secrets+=("$apptok")
printf '# callers\n\nmail-app %s\nother-app %s\n' "$(printf '%s' "$apptok" | sha256sum | cut -c1-64)" \
	"$(openssl rand -hex 32)" >"$tmp/callers"
cat >"$tmp/pades.conf" <<CONF
[pades]
listen = 127.0.0.1
port = $sport
csc_url = $PKI_SIGN_URL
client_id = $cid
client_secret_file = $tmp/client.secret
tsa_url = $PKI_TSA_URL
max_body_mib = 1
memory_limit_mib = 256
read_cpu_limit_seconds = 1
callers_file = $tmp/callers
CONF
[ "$(id -u)" -ne 0 ] || chown pki "$tmp/pades.conf"
# A callers file giving two callers one token: refused at start-up (the log
# would name the wrong caller).
sed "s|$tmp/callers|$tmp/callers.dup|" "$tmp/pades.conf" >"$tmp/pades-dup.conf"
sed -n 3p "$tmp/callers" | sed 's/^mail-app/copy-app/' | cat "$tmp/callers" - >"$tmp/callers.dup"
[ "$(id -u)" -ne 0 ] || chown pki "$tmp/pades-dup.conf"
rc=0
timeout 20 "$PKISIGN" serve --config "$tmp/pades-dup.conf" >"$tmp/serve-dup.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'caller copy-app has the token of caller mail-app' "$tmp/serve-dup.log" ||
	fail "a token given to two callers: exit $rc: $(cat "$tmp/serve-dup.log")"
"$PKISIGN" serve --config "$tmp/pades.conf" >"$tmp/serve.log" 2>&1 &
spid=$!
# Also when a command fails under set -e rather than through fail().
at_exit '[ -z "${spid:-}" ] || kill -TERM "$spid" 2>/dev/null || true'
# serve_stop: SIGTERM, and pkisign serve must end with status 0.
serve_stop() {
	local st=0
	[ -n "${spid:-}" ] || return 0
	kill -TERM "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null || st=$?
	spid=
	[ "$st" = 0 ] || { echo "FAIL: pkisign serve ended with status $st: $(tail -n 5 "$tmp/serve.log")" >&2; exit 1; }
}
fail() { serve_stop; echo "FAIL: $*" >&2; exit 1; }
for ((i = 0; i < 100; i++)); do
	curl -sf "http://127.0.0.1:$sport/health" >/dev/null 2>&1 && break
	kill -0 "$spid" 2>/dev/null || fail "pkisign serve died: $(cat "$tmp/serve.log")"
	sleep 0.1
done
wait_line "$tmp/serve.log" "signing PDFs on 127.0.0.1:$sport" &&
	grep -q "signing PDFs on 127.0.0.1:$sport.*, for 2 caller(s)" "$tmp/serve.log" || fail "pkisign serve: $(cat "$tmp/serve.log")"
grep -q 'insecure_no_sandbox' "$tmp/serve.log" && fail "pkisign serve runs without its sandbox"
# sreq BODY-FILE [CONTENT-TYPE]: POST /v1/sign; sets code, body in $tmp/sout.
# As the caller whose token is ${3:-$apptok} (none when "-").
sreq() { # sreq FILE [CONTENT-TYPE [TOKEN|- [PATH]]]
	local auth=()
	[ "${3:-}" = - ] || auth=(-H "Authorization: Bearer ${3:-$apptok}")
	code=$(curl -sS -X POST -o "$tmp/sout" -D "$tmp/shdr" -w '%{http_code}' -H "Content-Type: ${2:-application/json}" \
		"${auth[@]}" --data-binary "@$1" "http://127.0.0.1:$sport${4:-/v1/sign}")
}
# body USER CRED FACTOR-JSON LEVEL FILE...: a request body into $tmp/sbody.
# Written piece by piece, the base64 straight from base64 into the file: as
# bash strings, the 36 MB of many.pdf took about 7 s to put together.
body() {
	local u=$1 c=$2 f=$3 l=$4 d sep=
	shift 4
	{
		printf '{"user":"%s","credential":"%s","factor":%s,"level":"%s","reason":"Disetujui","documents":[' \
			"$u" "$c" "$f" "$l"
		for d in "$@"; do
			printf '%s{"name":"%s","pdf":"' "$sep" "$(basename "$d")"
			base64 -w0 "$d"
			printf '"}'
			sep=,
		done
		printf ']}'
	} >"$tmp/sbody"
}
problem() { # problem STATUS WHAT: the answer is that status, as RFC 9457 JSON
	[ "$code" = "$1" ] || fail "$2: HTTP $code, want $1: $(head -c 300 "$tmp/sout")"
	jq -e --argjson s "$1" '.status == $s and (.detail | type == "string")' "$tmp/sout" >/dev/null ||
		fail "$2: not a problem body: $(head -c 300 "$tmp/sout")"
}
# Two documents, B-T, one PIN authorization.
sads=$(q "SELECT count(*) FROM sign_sad")
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-T "$tmp/simple.pdf" "$tmp/multi.pdf"
sreq "$tmp/sbody"
[ "$code" = 200 ] || fail "pkisign serve: HTTP $code: $(head -c 500 "$tmp/sout")"
[ "$(jq -r '.level + ":" + (.documents | length | tostring)' "$tmp/sout")" = "B-T:2" ] || fail "serve answer: $(head -c 300 "$tmp/sout")"
for i in 0 1; do
	jq -r ".documents[$i].pdf" "$tmp/sout" | base64 -d >"$tmp/served$i.pdf"
	sigcheck "$tmp/served$i.pdf" 1
	lastwhole "$tmp/served$i.pdf"
	grep -q 'Signer Certificate Common Name: Bima Saputra' "$tmp/sig.out" || fail "served signer"
done
[ "$(q "SELECT count(*) FROM sign_sad")" = $((sads + 1)) ] || fail "serve: not one authorization for the two documents"
grep -q "signed 2 document(s) (B-T) for account $aB, credential $credB, caller mail-app" "$tmp/serve.log" ||
	fail "serve: the caller is not in the log: $(tail -n 3 "$tmp/serve.log")"
note "pkisign serve: 2 documents at B-T under one PIN authorization, valid"
# Callers without a known token: 401 with WWW-Authenticate, before the body
# is read (a 1 MB body then draws no 413) and before any factor is tried.
fails=$(q "SELECT factor_failures + sign_factor_failures FROM ra_account WHERE id = $aB")
body "$aB" "$credB" '{"type":"pin","code":"000000"}' B-B "$tmp/simple.pdf"
for t in - "$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')" "${apptok}x" Basic; do
	if [ "$t" = Basic ]; then
		code=$(curl -sS -X POST -o "$tmp/sout" -D "$tmp/shdr" -w '%{http_code}' -H 'Content-Type: application/json' \
			-u "mail-app:$apptok" --data-binary "@$tmp/sbody" "http://127.0.0.1:$sport/v1/sign")
	else
		sreq "$tmp/sbody" application/json "$t"
	fi
	problem 401 "a caller without a known token ($t)"
	grep -qi '^www-authenticate: Bearer' "$tmp/shdr" || fail "401 without WWW-Authenticate: $(cat "$tmp/shdr")"
done
head -c $((900 * 1024)) /dev/zero >"$tmp/big"
sreq "$tmp/big" application/json -
problem 401 "an unauthenticated 900 KB body"
# On any other path too (it would be read whole before its 404 or 405).
for p in /x /health /v1/sign/; do
	code=$(curl -sS -o "$tmp/sout" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data-binary "@$tmp/big" "http://127.0.0.1:$sport$p")
	problem 401 "an unauthenticated 900 KB body to $p"
done
[ "$(q "SELECT factor_failures + sign_factor_failures FROM ra_account WHERE id = $aB")" = "$fails" ] ||
	fail "an unauthenticated request reached the signing service (factor failures $fails before)"
note "pkisign serve: no token, an unknown token, Basic: 401 before the body, no factor tried"
# An SMS OTP through the service: a sign code is bound to the documents'
# hashes (schema/060), so the application asks for them first (POST
# /v1/sign/hashes, no factor), gets the RA's code for them, and sends the
# same request with the code and the signing_time it was given: the same
# hashes, signed. Another signing_time gives other hashes: refused.
body "$aA" "$credA" '""' B-B "$tmp/simple.pdf" "$tmp/multi.pdf"
sed -i 's/"factor":"",//' "$tmp/sbody"
sreq "$tmp/sbody" "" "" /v1/sign/hashes
[ "$code" = 200 ] || fail "serve /v1/sign/hashes: HTTP $code: $(head -c 500 "$tmp/sout")"
st=$(jq -r .signing_time "$tmp/sout")
ref=$(jq -r .binding_ref "$tmp/sout")
[ "$(jq -r '(.documents | tostring) + ":" + .hash_algo + ":" + (.hashes | length | tostring)' "$tmp/sout")" = 2:sha256:2 ] ||
	fail "serve /v1/sign/hashes: $(cat "$tmp/sout")"
# Asked again with that signing_time: the same hashes.
cp "$tmp/sout" "$tmp/hashes1"
sed -i "s/\"documents\":/\"signing_time\":\"$st\",\"documents\":/" "$tmp/sbody"
sreq "$tmp/sbody" "" "" /v1/sign/hashes
[ "$(jq -c '[.hashes, .binding_ref, .signing_time]' "$tmp/sout")" = "$(jq -c --arg st "$st" '[.hashes, .binding_ref, $st]' "$tmp/hashes1")" ] ||
	fail "serve /v1/sign/hashes at the same signing_time gave other hashes: $(cat "$tmp/sout") vs $(cat "$tmp/hashes1")"
[ "$(jq -r .credential_id "$tmp/hashes1")" = "$credA" ] || fail "serve /v1/sign/hashes: credential_id $(jq -r .credential_id "$tmp/hashes1")"
rreq POST /v1/otp "$(jq -c '{credential_id, hash_algo, hashes} + {channel: "sms", purpose: "sign"}' "$tmp/hashes1")" "$tokA"
[ "$code" = 201 ] && [ "$(jq -r .binding_ref "$tmp/out")" = "$ref" ] || fail "a sign OTP for the service's hashes: $code $(cat "$tmp/out")"
oid=$(jq -r .otp_id "$tmp/out")
ocode=$(sms_code)
secrets+=("$ocode")
fac="{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$ocode\"}"
# Without the signing_time: now, other hashes, refused and the code kept.
body "$aA" "$credA" "$fac" B-B "$tmp/simple.pdf" "$tmp/multi.pdf"
# Until the clock (the service's too: the same host) is past that second.
for ((i = 0; i < 400; i++)); do
	[ "$(date -u +%s)" -gt "$(date -u -d "$st" +%s)" ] && break
	sleep 0.05
done
[ "$(date -u +%s)" -gt "$(date -u -d "$st" +%s)" ] || fail "the clock did not pass $st"
sreq "$tmp/sbody"
problem 403 "the OTP with another signing time"
grep -q invalid_otp "$tmp/sout" || fail "the OTP with another signing time: $(cat "$tmp/sout")"
sed -i "s/\"documents\":/\"signing_time\":\"$st\",\"documents\":/" "$tmp/sbody"
sreq "$tmp/sbody"
[ "$code" = 200 ] || fail "serve with a sign OTP: HTTP $code: $(head -c 500 "$tmp/sout")"
for i in 0 1; do
	jq -r ".documents[$i].pdf" "$tmp/sout" | base64 -d >"$tmp/servedotp$i.pdf"
	sigcheck "$tmp/servedotp$i.pdf" 1
done
[ "$(q "SELECT consumed_at IS NOT NULL FROM ra_otp WHERE id = $oid")" = t ] || fail "the service's sign OTP was not used"
note "pkisign serve with an SMS OTP: /v1/sign/hashes (the same hashes at the same signing_time), the RA's code for them, /v1/sign signed both"
# B-LTA through the service: the signature and a document time-stamp over it.
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-LTA "$tmp/xref.pdf"
sreq "$tmp/sbody"
[ "$code" = 200 ] && [ "$(jq -r .level "$tmp/sout")" = B-LTA ] || fail "serve B-LTA: HTTP $code: $(head -c 500 "$tmp/sout")"
jq -r '.documents[0].pdf' "$tmp/sout" | base64 -d >"$tmp/servedlta.pdf"
pdfsig -nssdir "sql:$nss" "$tmp/servedlta.pdf" >"$tmp/sig.out" 2>&1 || fail "pdfsig servedlta.pdf"
[ "$(grep -c '^Signature #' "$tmp/sig.out")" = 2 ] && grep -q 'Signature is Valid\.' "$tmp/sig.out" &&
	grep -aq '/SubFilter /ETSI.RFC3161' "$tmp/servedlta.pdf" || { cat "$tmp/sig.out"; fail "serve B-LTA: the file"; }
qpdf --check "$tmp/servedlta.pdf" >/dev/null 2>&1 || fail "serve B-LTA: qpdf --check"
# "field": the DocMDP /P 2 document's empty field, through the service; not
# with "visible" (400).
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/p2.pdf"
sed -i 's/"documents":/"field":"Approval","documents":/' "$tmp/sbody"
sreq "$tmp/sbody"
[ "$code" = 200 ] || fail "serve field: HTTP $code: $(head -c 500 "$tmp/sout")"
jq -r '.documents[0].pdf' "$tmp/sout" | base64 -d >"$tmp/servedp2.pdf"
sigcheck "$tmp/servedp2.pdf" 1
grep -q 'Signature Field Name: Approval' "$tmp/sig.out" || { cat "$tmp/sig.out"; fail "serve field: not the field Approval"; }
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/p2.pdf"
sreq "$tmp/sbody"
problem 422 "DocMDP /P 2 without a field"
grep -q 'DocMDP /P 2' "$tmp/sout" || fail "serve DocMDP /P 2: $(cat "$tmp/sout")"
sed -i 's/"documents":/"field":"Approval","visible":{"page":1,"x":1,"y":1,"size":50,"qr_text":"x"},"documents":/' "$tmp/sbody"
sreq "$tmp/sbody"
problem 400 "field with visible"
# A visible QR off the page (5000,5000): 422 naming the page's visible
# area, no document returned, before any authorization.
sads=$(q "SELECT count(*) FROM sign_sad")
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/simple.pdf"
sed -i 's|"documents":|"visible":{"page":1,"x":5000,"y":5000,"size":120,"qr_text":"https://verify.example.id/d/1"},"documents":|' "$tmp/sbody"
sreq "$tmp/sbody"
problem 422 "a QR off the page"
grep -q "the QR at \\[5000 5000 5120 5120\\] is not inside page 1's visible area \\[" "$tmp/sout" &&
	! jq -e 'has("documents")' "$tmp/sout" >/dev/null || fail "a QR off the page: $(cat "$tmp/sout")"
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] || fail "a QR off the page: an authorization was made"
# Refusals, each a problem body: wrong PIN (403, CSC's invalid_pin), not a
# PDF (422), malformed and unknown members (400), not JSON (415), too big
# (413), another path (404).
body "$aB" "$credB" '{"type":"pin","code":"000000"}' B-B "$tmp/simple.pdf"
sreq "$tmp/sbody"
problem 403 "wrong PIN"
grep -q invalid_pin "$tmp/sout" || fail "wrong PIN: no CSC error: $(cat "$tmp/sout")"
q "UPDATE ra_account SET factor_failures = 0, factor_locked_until = NULL WHERE id = $aB" >/dev/null
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/junk.pdf"
sreq "$tmp/sbody"
problem 422 "not a PDF"
# A bad /DSS at B-LT: 422 (a document problem, not 502) before any signHash.
sads=$(q "SELECT count(*) FROM sign_sad")
nhash=$(hashes)
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-LT "$tmp/simple.pdf" "$tmp/dss-shared.pdf"
sreq "$tmp/sbody"
problem 422 "a bad /DSS at B-LT"
grep -q 'dss-shared.pdf: its DSS cannot be extended' "$tmp/sout" || fail "a bad /DSS: $(head -c 300 "$tmp/sout")"
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] && [ "$(hashes)" = "$nhash" ] ||
	fail "pkisign serve: a document with a bad /DSS spent an authorization or a signHash"
if [ "$asan" = 0 ]; then
	grep -q 'memory capped at 256 MiB' "$tmp/serve.log" || fail "pkisign serve: no memory cap: $(cat "$tmp/serve.log")"
	body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/bomb.pdf"
	sreq "$tmp/sbody"
	problem 422 "a compression bomb"
	grep -q 'needs more memory than the signer' "$tmp/sout" || fail "compression bomb: $(head -c 300 "$tmp/sout")"
	# And the service lives on: the next document is signed.
	body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/simple.pdf"
	sreq "$tmp/sbody"
	[ "$code" = 200 ] || fail "pkisign serve after a compression bomb: HTTP $code: $(head -c 300 "$tmp/sout")"
	note "pkisign serve: a compression bomb gets 422 under pades.memory_limit_mib; the next request is signed"
else
	grep -q 'memory not capped in a sanitizer build' "$tmp/serve.log" || fail "pkisign serve (ASan): $(cat "$tmp/serve.log")"
fi
# The 50,000-level page tree (862 KB of base64, under max_body_mib) killed
# the whole service (SIGSEGV in qpdf, every caller's job lost). 422 now; the
# service answers /health and signs the next document.
sads=$(q "SELECT count(*) FROM sign_sad")
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/deep.pdf"
sreq "$tmp/sbody"
problem 422 "a page tree 50,000 levels deep"
# (A sanitizer build reads its 50,000 objects slower than this service's CPU
# budget of 1 s allows, and may refuse it for that first.)
grep -q 'deep.pdf: page tree deeper than 64 levels of /Pages refused' "$tmp/sout" ||
	{ [ "$asan" = 1 ] && grep -q 'deep.pdf: reading this PDF takes more than 1.0 s of CPU' "$tmp/sout"; } ||
	fail "a deep page tree: $(head -c 300 "$tmp/sout")"
kill -0 "$spid" 2>/dev/null || fail "pkisign serve died on a deep page tree: $(tail -n 5 "$tmp/serve.log")"
curl -sf "http://127.0.0.1:$sport/health" >/dev/null || fail "pkisign serve: no /health after a deep page tree"
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] || fail "pkisign serve: a deep page tree spent an authorization"
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/simple.pdf"
sreq "$tmp/sbody"
[ "$code" = 200 ] || fail "pkisign serve after a deep page tree: HTTP $code: $(head -c 300 "$tmp/sout")"
note "pkisign serve: a page tree 50,000 levels deep gets 422; /health answers and the next request is signed"
sads=$(q "SELECT count(*) FROM sign_sad")
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/bombs.pdf"
sreq "$tmp/sbody"
problem 422 "many inflating object streams"
grep -q 'takes more than 1.0 s of CPU' "$tmp/sout" || fail "many object streams: $(head -c 300 "$tmp/sout")"
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] || fail "pkisign serve: a document past the CPU budget spent an authorization"
note "pkisign serve: a document past pades.read_cpu_limit_seconds gets 422, nothing spent"
printf '{"user":"1","credential":"2","factor":{"type":"pin","code":"123456"},"documents":[],"extra":1}' >"$tmp/sbody"
sreq "$tmp/sbody"
problem 400 "unknown member"
printf '{"user":"1","credential":"2","factor":{"type":"pin","code":"123456"},"level":"B-LTX","documents":[]}' >"$tmp/sbody"
sreq "$tmp/sbody"
problem 400 "unknown level"
grep -q 'B-LTA' "$tmp/sout" || fail "unknown level: the levels are not named: $(cat "$tmp/sout")"
# A visible signature smaller than a point: the request's member (400), not
# the document (it was 422 "cannot be signed", with the PDF layer's bounds).
printf '{"user":"1","credential":"2","factor":{"type":"pin","code":"123456"},"visible":{"page":1,"x":1,"y":1,"size":0.5,"qr_text":"x"},"documents":[{"name":"a","pdf":"QUJD"}]}' >"$tmp/sbody"
sreq "$tmp/sbody"
problem 400 "a visible size of 0.5"
grep -q '\\"size\\": 1 to 14400' "$tmp/sout" || fail "a visible size of 0.5: $(cat "$tmp/sout")"
# A factor on /v1/sign/hashes; none on /v1/sign; a signing_time too old.
printf '{"user":"1","credential":"2","factor":{"type":"pin","code":"123456"},"documents":[{"name":"a","pdf":"QUJD"}]}' >"$tmp/sbody"
sreq "$tmp/sbody" "" "" /v1/sign/hashes
problem 400 "a factor on /v1/sign/hashes"
printf '{"user":"1","credential":"2","documents":[{"name":"a","pdf":"QUJD"}]}' >"$tmp/sbody"
sreq "$tmp/sbody"
problem 400 "no factor on /v1/sign"
printf '{"user":"1","credential":"2","signing_time":"%s","documents":[{"name":"a","pdf":"QUJD"}]}' \
	"$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" >"$tmp/sbody"
sreq "$tmp/sbody" "" "" /v1/sign/hashes
problem 400 "a signing_time an hour old"
printf '{"user":"1","credential":"2","factor":{"type":"pin","code":"123456"},"signing_time":"%s","documents":[{"name":"a","pdf":"QUJD"}]}' \
	"$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$tmp/sbody"
sreq "$tmp/sbody"
problem 400 "a signing_time with a PIN"
grep -q 'only with an OTP' "$tmp/sout" || fail "a signing_time with a PIN: $(cat "$tmp/sout")"
printf '{"user":"1",' >"$tmp/sbody"
sreq "$tmp/sbody"
problem 400 "truncated JSON"
# A repeated member and a NUL in a string: refused, the cause named, the
# text never quoted (it was "error at byte N" alone).
printf '{"user":"1","user":"2","credential":"2","factor":{"type":"pin","code":"123456"},"documents":[{"name":"a","pdf":"QUJD"}]}' >"$tmp/sbody"
sreq "$tmp/sbody"
problem 400 "a repeated member"
jq -e '.detail | test("error at byte [0-9]+: a duplicate member\\)$")' "$tmp/sout" >/dev/null || fail "a repeated member: $(cat "$tmp/sout")"
printf '{"user":"1","credential":"2","factor":{"type":"pin","code":"123456"},"reason":"se\\u0000cret","documents":[{"name":"a","pdf":"QUJD"}]}' >"$tmp/sbody"
grep -q 'se\\u0000cret' "$tmp/sbody" || fail "the NUL body: $(cat "$tmp/sbody")"
sreq "$tmp/sbody"
problem 400 "a NUL in a string"
jq -e '.detail | test("a NUL \\(\\\\u0000\\) in a string\\)$")' "$tmp/sout" >/dev/null &&
	! grep -q cret "$tmp/sout" || fail "a NUL in a string: $(cat "$tmp/sout")"
# Ids and a code signd would refuse as malformed are the caller's mistake
# (400 here, nothing asked of signd), not the signing service's refusal
# (they were 403 "refused by the signing service" after every document
# was read).
sads=$(q "SELECT count(*) FROM sign_sad")
nlog=$(grep -c 'refused by the signing service' "$tmp/serve.log" || true)
for bad in "0$aB|$credB|513829|user and credential" "$aB|0$credB|513829|user and credential" \
    "$aB|1234567890123456789|513829|user and credential" "$aB|$credB|51382|factor.code" \
    "$aB|$credB|5138290|factor.code"; do
	IFS='|' read -r u c p what <<<"$bad"
	body "$u" "$c" "{\"type\":\"pin\",\"code\":\"$p\"}" B-B "$tmp/simple.pdf"
	sreq "$tmp/sbody"
	problem 400 "user $u, credential $c, a code of ${#p} digits"
	jq -r .detail "$tmp/sout" | grep -q "^$what" || fail "user $u, credential $c: the detail names not $what: $(cat "$tmp/sout")"
	grep -q "$p" "$tmp/sout" && fail "the factor's code is quoted back"
done
[ "$(grep -c 'refused by the signing service' "$tmp/serve.log" || true)" = "$nlog" ] ||
	fail "a malformed id or code was logged as refused by the signing service"
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] || fail "a malformed id or code spent an authorization"
printf '{"user":"1","credential":"2","factor":{"type":"pin","code":"123456"},"documents":[{"name":"a","pdf":"%%%%"}]}' >"$tmp/sbody"
sreq "$tmp/sbody"
problem 400 "bad base64"
grep -q 123456 "$tmp/sout" && fail "the factor's code is quoted back"
sreq "$tmp/sbody" text/plain
problem 415 "text/plain"
head -c $((1024 * 1024 + 10)) /dev/zero >"$tmp/big"
sreq "$tmp/big"
problem 413 "a body over max_body_mib"
code=$(curl -sS -o "$tmp/sout" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-H "Authorization: Bearer $apptok" --data '{}' "http://127.0.0.1:$sport/v2/sign")
problem 404 "another path"
# Another method: 405 with Allow (RFC 9110 §15.5.6), as rad, ocspd, crld,
# tsad and signd answer it.
for m in GET:/v1/sign PUT:/v1/sign/hashes POST:/health; do
	code=$(curl -sS -o "$tmp/sout" -D "$tmp/shdr" -w '%{http_code}' -X "${m%%:*}" \
		-H "Authorization: Bearer $apptok" "http://127.0.0.1:$sport${m#*:}")
	problem 405 "${m%%:*} ${m#*:}"
	if [ "${m#*:}" = /health ]; then want=GET; else want=POST; fi
	tr -d '\r' <"$tmp/shdr" | grep -qix "allow: $want" || fail "405 for ${m%%:*} ${m#*:} without Allow: $want: $(cat "$tmp/shdr")"
done
kill -0 "$spid" 2>/dev/null || fail "pkisign serve died: $(cat "$tmp/serve.log")"
secrets+=(513829)
no_secret_in "pkisign serve's log" "$tmp/serve.log"
# The stack's own pkisign serve (deploy/stack.sh registers it at signd as
# local-pades), once A lets it use her credentials.
grant "$tokA" "$(q "SELECT id FROM sign_service WHERE name = 'local-pades'")"
body "$aA" "$credA" '{"type":"pin","code":"402917"}' B-B "$tmp/other.pdf"
code=$(curl -sS -o "$tmp/sout" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-H "Authorization: Bearer $(<"$PKI_PADES_TOKEN_FILE")" --data-binary "@$tmp/sbody" "$PKI_PADES_URL")
[ "$code" = 200 ] || fail "the stack's pkisign serve: HTTP $code: $(head -c 500 "$tmp/sout")"
jq -r '.documents[0].pdf' "$tmp/sout" | base64 -d >"$tmp/stackserved.pdf"
sigcheck "$tmp/stackserved.pdf" 1
serve_stop
! grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$tmp/serve.log" ||
	fail "pkisign serve: a sanitizer report: $(grep -m1 -A5 -E 'Sanitizer|runtime error' "$tmp/serve.log")"
note "pkisign serve refusals: 401 unknown caller, 403 wrong PIN, 422 not a PDF, 400 malformed, 415, 413, 404; no secret in its log"
# serve_start LOG [VAR=VALUE...]: another pkisign serve on the same
# configuration, changed by the environment, on a port of its own.
serve_start() {
	local log=$1 i
	shift
	sport=$(free_port)
	env PKI_PADES_PORT="$sport" "$@" "$PKISIGN" serve --config "$tmp/pades.conf" >"$log" 2>&1 &
	spid=$!
	for ((i = 0; i < 100; i++)); do
		curl -sf "http://127.0.0.1:$sport/health" >/dev/null 2>&1 && return 0
		kill -0 "$spid" 2>/dev/null || fail "pkisign serve died: $(cat "$log")"
		sleep 0.1
	done
	fail "pkisign serve did not answer /health: $(cat "$log")"
}
# The TSA down: 502 at B-T, before any authorization, on /v1/sign and on
# /v1/sign/hashes (no hashes given, so no SMS code asked for them).
serve_start "$tmp/serve-tsa.log" PKI_PADES_TSA_URL="http://127.0.0.1:$dead/tsa"
sads=$(q "SELECT count(*) FROM sign_sad")
nhash=$(hashes)
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-T "$tmp/simple.pdf"
sreq "$tmp/sbody"
problem 502 "B-T with the TSA down"
grep -q 'nothing was authorized' "$tmp/sout" || fail "B-T with the TSA down: $(head -c 300 "$tmp/sout")"
printf '{"user":"%s","credential":"%s","level":"B-T","documents":[{"name":"s.pdf","pdf":"%s"}]}' \
	"$aB" "$credB" "$(base64 -w0 "$tmp/simple.pdf")" >"$tmp/sbody"
sreq "$tmp/sbody" "" "" /v1/sign/hashes
problem 502 "/v1/sign/hashes at B-T with the TSA down"
[ "$(q "SELECT count(*) FROM sign_sad")" = "$sads" ] && [ "$(hashes)" = "$nhash" ] ||
	fail "pkisign serve: the TSA down spent an authorization or a signHash"
serve_stop
# A client secret signd refuses is this service's set-up, not the
# subscriber's doing: 502 and a warning naming pades.client_id, not a 403
# "refused by the signing service" logged under the subscriber's account.
( umask 077; openssl rand -base64 32 | tr "+/" "-_" | tr -d "=" >"$tmp/wrong.secret" )
serve_start "$tmp/serve-secret.log" PKI_PADES_CLIENT_SECRET_FILE="$tmp/wrong.secret"
body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/simple.pdf"
sreq "$tmp/sbody"
problem 502 "a wrong client secret"
grep -q invalid_client "$tmp/sout" || fail "a wrong client secret: $(head -c 300 "$tmp/sout")"
serve_stop
grep -q '"level":"warn".*refused this service.s own credentials (pades.client_id' "$tmp/serve-secret.log" &&
	! grep -q 'refused by the signing service: account' "$tmp/serve-secret.log" ||
	fail "a wrong client secret: the log: $(cat "$tmp/serve-secret.log")"
no_secret_in "pkisign serve's log (wrong secret)" "$tmp/serve-secret.log"
note "pkisign serve: the TSA down gets 502 before any authorization; a wrong client secret 502, warned"
# The 400,000 objects (48 MB of request body) under caps where they ended the
# whole service (the std::terminate above, SIGSYS under its seccomp filter:
# every caller's job lost): 422 now, /health answers and the next document
# is signed. A service of its own per cap (the same configuration, with
# max_body_mib 64, the cap and a CPU budget of 30 s from the environment).
if [ "$asan" = 0 ]; then
	body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/many.pdf"
	mv "$tmp/sbody" "$tmp/manybody"
	# alive WHAT: the service answered WHAT and still runs; else it fails
	# with the service's status (no final answer, 000 or curl's 100: a
	# zombie until waited for).
	alive() {
		local st=0 i
		[ "$((10#${code:-0}))" -ge 200 ] && kill -0 "$spid" 2>/dev/null && return 0
		for ((i = 0; i < 50; i++)); do
			[[ $(ps -o stat= -p "$spid" 2>/dev/null || echo Z) == Z* ]] && break
			sleep 0.1
		done
		kill -TERM "$spid" 2>/dev/null || true
		wait "$spid" || st=$?
		spid=
		fail "pkisign serve died (status $st) on $1 (HTTP $code): $(tail -n 3 "$tmp/serve-$mib.log")"
	}
	for mib in 700 800 900; do
		sport=$(free_port)
		PKI_PADES_PORT=$sport PKI_PADES_MAX_BODY_MIB=64 PKI_PADES_MEMORY_LIMIT_MIB=$mib PKI_PADES_READ_CPU_LIMIT_SECONDS=30 \
			"$PKISIGN" serve --config "$tmp/pades.conf" >"$tmp/serve-$mib.log" 2>&1 &
		spid=$!
		for ((i = 0; i < 100; i++)); do
			curl -sf "http://127.0.0.1:$sport/health" >/dev/null 2>&1 && break
			kill -0 "$spid" 2>/dev/null || fail "pkisign serve ($mib MiB) died: $(cat "$tmp/serve-$mib.log")"
			sleep 0.1
		done
		grep -q "memory capped at $mib MiB" "$tmp/serve-$mib.log" || fail "pkisign serve: no cap: $(cat "$tmp/serve-$mib.log")"
		sreq "$tmp/manybody" || true	# the service dying is judged below
		alive "400,000 objects under $mib MiB"
		problem 422 "400,000 objects under a $mib MiB cap"
		grep -q 'many.pdf: .*needs more memory than the signer' "$tmp/sout" ||
			fail "400,000 objects under $mib MiB: $(head -c 300 "$tmp/sout")"
		# Again, with the memory the first one left mapped: jansson,
		# parsing the body in what room is left, wrote past a string's
		# buffer (SIGSEGV, the service ended). 422, or 503 when the body
		# cannot be parsed within the cap now.
		sreq "$tmp/manybody" || true
		alive "the second 400,000 objects under $mib MiB"
		case $code in
		422) grep -q 'needs more memory than the signer' "$tmp/sout" ;;
		503) grep -q "the signer's memory is taken now" "$tmp/sout" ;;
		*) false ;;
		esac || fail "the second 400,000 objects under $mib MiB: HTTP $code: $(head -c 300 "$tmp/sout")"
		curl -sf "http://127.0.0.1:$sport/health" >/dev/null || fail "pkisign serve ($mib MiB): no /health after 400,000 objects"
		body "$aB" "$credB" '{"type":"pin","code":"513829"}' B-B "$tmp/simple.pdf"
		sreq "$tmp/sbody"
		[ "$code" = 200 ] || fail "pkisign serve ($mib MiB) after 400,000 objects: HTTP $code: $(head -c 300 "$tmp/sout")"
		jq -r '.documents[0].pdf' "$tmp/sout" | base64 -d >"$tmp/served-$mib.pdf"
		sigcheck "$tmp/served-$mib.pdf" 1
		serve_stop
		no_secret_in "pkisign serve's log ($mib MiB)" "$tmp/serve-$mib.log"
	done
	rm -f "$tmp/many.pdf" "$tmp/manybody"
	note "pkisign serve: 400,000 objects get 422 under caps of 700, 800 and 900 MiB, twice (422 or 503); /health answers and the next document is signed"
fi

# === no secret in the service's log ====================================================
no_secret_in sign.log "$PKI_DIR/log/sign.log"
note "no PIN, TOTP code or client secret in pkisign's arguments, its output or sign.log"
