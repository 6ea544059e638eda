#!/usr/bin/env bash
# The product's main path, end to end, against a running local stack (make
# up), through the same interfaces the provider's apps, an RA officer and a
# relying party use:
#
#	deploy/walkthrough.sh [--dir DIR] [--out DIR]
#
#  1. a subscriber registers (rad), verifies her email by the mailed link and
#     her phone by an SMS code (the stack's file sinks stand in for mail and
#     SMS), logs in and submits her KYC: e-KTP data, an e-KTP photo and a
#     selfie (the identity-verification LOCAL SIMULATOR scores them);
#  2. an RA officer, made with pkictl, logs in with password + TOTP, opens
#     the application and approves it;
#  3. the subscriber accepts the certificate agreement with an SMS code; cad
#     issues the certificate (her key generated in the HSM, kept wrapped);
#     openssl verifies it against the root and OCSP says good;
#  4. she sets a signing PIN and lets the document-signing service (pkisign
#     serve, registered at signd as local-pades) use her certificate; it
#     signs a PDF with her HSM-held key through signd at PAdES B-T (a
#     time-stamp from tsad), and pdfsig reports the signature valid;
#  5. an auditor's view: the audit trail sealed (pkictl audit seal, the HSM
#     audit key), exported and verified offline by pkiaudit, with the
#     events this walk-through made.
#
# DIR is the stack's (default: the repository's var/, as make up makes it).
# The certificate and the signed PDF are left in --out (default: a new
# directory under /tmp, printed at the end). Secrets (the password, codes,
# the PIN, tokens) reach curl and jq only in files (written by the shell's
# printf, a builtin), never on a command line, where any local user could
# read them in /proc.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=$REPO/var
OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--dir) DIR=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*) echo "usage: $0 [--dir DIR] [--out DIR]" >&2; exit 2 ;;
	esac
done
die() { echo "walkthrough: $*" >&2; exit 1; }
[ -f "$DIR/stack.env" ] || die "no stack in $DIR (run make up first)"
for t in curl jq python3 openssl oathtool pdfsig certutil; do
	command -v "$t" >/dev/null || die "$t missing (make deps installs it)"
done
set -a; . "$DIR/stack.env"; set +a
# Every daemon the walk goes through must be up: with cad down, say, it
# used to leave her application agreed and give up 30 s later ("not issued").
down=$("$REPO/deploy/stack.sh" status --dir "$DIR" --build "$(dirname "$PKICTL")" 2>/dev/null |
	awk '$1 ~ /^(ra|ocsp|crl|tsa|sign|pades|cad)$/ && $2 != "up" { printf " %s", $1 }') || true
[ -z "$down" ] || die "not running in $DIR:$down (make up, or deploy/stack.sh up --dir $DIR)"
[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/pki-walkthrough.XXXXXX)
mkdir -p "$OUT"
# Absolute: step 4 reads the signed PDF from inside $work.
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d)
chmod 0700 "$work"
trap 'rm -rf "$work"' EXIT
mail=$PKI_DIR/spool/ra-mail
sms=$PKI_DIR/spool/ra-sms
step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }

# req METHOD URL [BODY-FILE [TOKEN]]: sets code, the answer in $work/out.
# A 429 (rad limits registrations and log-ins per address) is waited out.
req() {
	local args=(-sS -X "$1" -o "$work/out" -D "$work/hdr" -w '%{http_code}') try wait
	[ -z "${3:-}" ] || args+=(-H 'Content-Type: application/json' --data-binary "@$3")
	if [ -n "${4:-}" ]; then
		(umask 077; printf 'Authorization: Bearer %s\n' "$4" >"$work/auth")
		args+=(-H "@$work/auth")
	fi
	for try in 1 2 3; do
		code=$(curl "${args[@]}" "$2")
		[ "$code" = 429 ] || return 0
		wait=$(tr -d '\r' <"$work/hdr" | sed -n 's/^retry-after: *\([0-9]*\)$/\1/ip' | sed -n 1p)
		[ "$try" = 3 ] || { say "(rate limited: again in ${wait:-1} s)"; sleep "$((${wait:-1} > 60 ? 60 : ${wait:-1}))"; }
	done
}
# body JQ-ARGS... FILTER: a JSON body built by jq into $work/body (0600).
# Secrets are given as --rawfile of a file kept by keep.
body() { (umask 077; jq -n "$@" >"$work/body"); }
# keep NAME VALUE: VALUE in $work/NAME (0600), by printf, a builtin.
keep() { (umask 077; printf '%s' "$2" >"$work/$1"); }
want() { [ "$code" = "$1" ] || die "$2: HTTP $code: $(head -c 600 "$work/out")"; }
j() { jq -r "$1" "$work/out"; }
# newest DIR PATTERN [PATTERN2]: the newest file in DIR holding PATTERN
# (and PATTERN2), within 10 s.
newest() {
	local f i
	for ((i = 0; i < 100; i++)); do
		f=$(grep -l -- "$2" "$1"/* 2>/dev/null | xargs -r grep -l -- "${3:-.}" | xargs -r ls -t | sed -n 1p)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.1
	done
	die "nothing in $1 holds '$2'${3:+ and '$3'}"
}
# sms_otp PURPOSE: an SMS code of PURPOSE for the session; the factor
# ({type, otp_id, code}) in $work/factor.json.
sms_otp() {
	local f
	body --arg p "$1" '{channel: "sms", purpose: $p}'
	req POST "$PKI_RA_URL/v1/otp" "$work/body" "$tok"
	want 201 "SMS code for $1"
	# The newest SMS to her phone, for that purpose.
	f=$(newest "$sms" "^To: $phone" " for $1,")
	keep code "$(sed -n 's/.*PKI RA code \([0-9]\{6\}\) for.*/\1/p' "$f")"
	body --argjson id "$(j .otp_id)" --rawfile c "$work/code" '{type: "otp", otp_id: $id, code: $c}'
	mv "$work/body" "$work/factor.json"
}

started=$(date -u +%Y-%m-%dT%H:%M:%S)
run=$(date +%s)$$
email=walkthrough-$run@example.com
phone=+62812$(printf '%08d' $((run % 100000000)))
keep pw "Walk-$(openssl rand -hex 8)-9x"
# A NIK of a woman born on 21 April 1992 in Jakarta (3174 01): the day
# plus 40, then a 4-digit number.
birth=1992-04-21
nik=317401610492$(printf '%04d' $((RANDOM % 9000 + 1000)))

step "1. A subscriber registers, verifies her email and phone, and submits her KYC ($PKI_RA_URL)"
body --arg e "$email" --arg p "$phone" --rawfile w "$work/pw" '{email: $e, phone: $p, password: $w}'
req POST "$PKI_RA_URL/v1/register" "$work/body"
want 201 "register"
aid=$(j .id)
keep link "$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$(newest "$mail" "^To: <$email>")" | tr -d '\r' | sed -n 1p)"
body --rawfile t "$work/link" '{token: $t}'
req POST "$PKI_RA_URL/v1/verify-email" "$work/body"
want 200 "verify the email"
body --arg e "$email" --rawfile w "$work/pw" '{email: $e, password: $w}'
req POST "$PKI_RA_URL/v1/login" "$work/body"
want 200 "log in"
tok=$(j .token)
say "account $aid ($email): registered, email verified by the link in $mail, logged in"
sms_otp phone_verify
body --slurpfile f "$work/factor.json" '$f[0] | del(.type)'
req POST "$PKI_RA_URL/v1/phone/verify" "$work/body" "$tok"
want 200 "verify the phone"
say "phone $phone verified by the SMS code in $sms"
python3 - "$work/kyc.json" "$nik" "$birth" <<'EOF'
# An e-KTP photo (PNG) and a selfie (JPEG), small but real images: rad
# checks their headers (each side 64 to 8000 pixels: policy kyc.image_*)
# and the simulator scores what it is given.
import base64, json, struct, sys, zlib
out, nik, birth = sys.argv[1:4]
def chunk(t, d):
    return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
raw = b''.join(b'\x00' + bytes((x * 7 + y * 3) & 0xff for x in range(288)) for y in range(64))
png = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 96, 64, 8, 2, 0, 0, 0))
       + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
# A baseline grey JPEG of 64x64 (ITU-T T.81): each of its 64 blocks is the
# bits "00" (DC category 0, EOB), 16 bytes in all.
dht = lambda tc: b'\xff\xc4\x00\x14' + bytes([tc]) + b'\x01' + b'\x00' * 16
jpeg = (b'\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00'
        + b'\xff\xdb\x00\x43\x00' + b'\x01' * 64
        + b'\xff\xc0\x00\x0b\x08\x00\x40\x00\x40\x01\x01\x11\x00' + dht(0x00) + dht(0x10)
        + b'\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00' + b'\x00' * 16 + b'\xff\xd9')
json.dump({'nik': nik, 'full_name': 'Dewi Lestari', 'birth_place': 'Jakarta', 'birth_date': birth,
           'sex': 'F', 'address': 'Jl. Merdeka Barat No. 9, Jakarta Pusat',
           'consents': {'privacy_policy': '1.0', 'subscriber_agreement': '1.0', 'guarantee_policy': '1.0'},
           'ktp_photo': base64.b64encode(png).decode(), 'selfie': base64.b64encode(jpeg).decode()},
          open(out, 'w'))
EOF
req POST "$PKI_RA_URL/v1/applications" "$work/kyc.json" "$tok"
want 201 "submit the KYC"
app=$(j .id)
say "KYC application $app submitted (NIK $nik): $(j .status)"

step "2. An RA officer logs in with password + TOTP and approves it"
officer=walk-$run
(umask 077; openssl rand -hex 12 | sed 's/$/-Ok9/' >"$work/officer.pw")
"$PKICTL" --config "$PKI_CONFIG" officer add --username "$officer" --role ra_officer \
	--password-file "$work/officer.pw" >"$work/officer.out" 2>"$work/officer.err" ||
	die "pkictl officer add: $(cat "$work/officer.err")"
(umask 077; sed -n 's/^totp_secret //p' "$work/officer.out" >"$work/officer.totp")
[ -s "$work/officer.totp" ] || die "pkictl officer add printed no TOTP secret"
oathtool --totp -b - <"$work/officer.totp" >"$work/officer.code"
body --arg u "$officer" --rawfile w "$work/officer.pw" --rawfile t "$work/officer.code" \
	'{username: $u, password: ($w | rtrimstr("\n")), totp: ($t | rtrimstr("\n"))}'
req POST "$PKI_RA_URL/v1/officer/login" "$work/body"
want 200 "officer log-in"
otok=$(j .token)
req GET "$PKI_RA_URL/v1/officer/applications/$app" "" "$otok"
want 200 "the application's detail"
say "officer $officer (pkictl officer add): the automatic checks: $(jq -r '[.checks[] | "\(.name) \(if .pass then "ok" else "FAILS" end)"] | join(", ")' "$work/out")"
body '{decision: "approve", reason: "e-KTP, selfie and identity-verification scores consistent"}'
req POST "$PKI_RA_URL/v1/officer/applications/$app/decision" "$work/body" "$otok"
want 200 "approve"
say "application $app: $(j .status)"

step "3. She accepts the certificate agreement; cad issues her certificate"
req GET "$PKI_RA_URL/v1/applications/$app/agreement" "" "$tok"
want 200 "the agreement"
say "to be issued: $(j '.certificate.subject_dn + " (profile " + .certificate.profile + ")"')"
terms=$(j .terms)	# what she read is what she agrees to
sms_otp agreement
body --arg t "$terms" --slurpfile f "$work/factor.json" '{accept: true, terms: $t, factor: $f[0]}'
req POST "$PKI_RA_URL/v1/applications/$app/agreement" "$work/body" "$tok"
want 202 "I agree"
say "I agree (an SMS code): issuance order $(j .order_id)"
for ((i = 0; i < 300; i++)); do
	req GET "$PKI_RA_URL/v1/applications/$app" "" "$tok"
	[ "$(j .status)" = issued ] && break
	sleep 0.1
done
[ "$(j .status)" = issued ] || die "application $app not issued within 30 s: $(cat "$work/out")"
req GET "$PKI_RA_URL/v1/certificates" "" "$tok"
want 200 "my certificates"
cid=$(j '.certificates[0].id')
req GET "$PKI_RA_URL/v1/certificates/$cid" "" "$tok"
want 200 "my certificate"
j .pem >"$OUT/certificate.pem"
say "certificate $cid, serial $(j .serial): $OUT/certificate.pem"
openssl verify -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" "$OUT/certificate.pem" | sed 's/^/   openssl verify: /'
openssl ocsp -issuer "$PKI_ISSUING_CERT" -cert "$OUT/certificate.pem" -url "$PKI_OCSP_URL" \
	-CAfile "$PKI_ROOT_CERT" >"$work/ocsp.out" 2>&1 || die "openssl ocsp: $(cat "$work/ocsp.out")"
grep -q '^Response verify OK' "$work/ocsp.out" && grep -q 'certificate.pem: good$' "$work/ocsp.out" ||
	die "OCSP does not say good: $(cat "$work/ocsp.out")"
say "openssl ocsp ($PKI_OCSP_URL): response verified, good"

step "4. She sets a signing PIN, grants the signing service; it signs a PDF with her key at PAdES B-T"
# Six digits, not one repeated nor a run (rad refuses those).
pin=2$(printf '%05d' $((RANDOM % 100000)))
case $pin in 222222 | 234567 | 210987) pin=250731 ;; esac
keep pin "$pin"
sms_otp set_pin
body --rawfile p "$work/pin" --slurpfile f "$work/factor.json" '{pin: $p, factor: $f[0]}'
req POST "$PKI_RA_URL/v1/pin" "$work/body" "$tok"
want 200 "set the PIN"
say "PIN set (authorized by an SMS code)"
# signd serves a signing service only the subscribers who granted it.
req GET "$PKI_RA_URL/v1/sign-services" "" "$tok"
want 200 "list the signing services"
svc=$(j '.services[] | select(.name == "local-pades") | .id')
[ -n "$svc" ] || die "the stack's pkisign serve (local-pades) is not among the signing services: $(cat "$work/out")"
echo '{}' >"$work/body"
req POST "$PKI_RA_URL/v1/sign-services/$svc/grant" "$work/body" "$tok"
[ "$code" = 201 ] || [ "$code" = 200 ] || die "grant local-pades: HTTP $code: $(head -c 600 "$work/out")"
say "granted the signing service local-pades (id $svc)"
python3 - "$OUT/agreement.pdf" <<'EOF'
# A one-page PDF with a classic xref table.
import sys
text = b'BT /F1 20 Tf 72 760 Td (Perjanjian kerja sama) Tj ET'
objs = [b'<< /Type /Catalog /Pages 2 0 R >>', b'<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        b'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R'
        b' /Resources << /Font << /F1 5 0 R >> >> >>',
        b'<< /Length %d >>\nstream\n' % len(text) + text + b'\nendstream',
        b'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>']
pdf, offs = b'%PDF-1.4\n', []
for i, o in enumerate(objs, 1):
    offs.append(len(pdf))
    pdf += b'%d 0 obj\n' % i + o + b'\nendobj\n'
x = len(pdf)
pdf += b'xref\n0 6\n0000000000 65535 f \n' + b''.join(b'%010d 00000 n \n' % o for o in offs)
pdf += b'trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' % x
open(sys.argv[1], 'wb').write(pdf)
EOF
base64 -w0 "$OUT/agreement.pdf" >"$work/pdf.b64"
body --arg u "$aid" --arg c "$cid" --rawfile p "$work/pin" --rawfile pdf "$work/pdf.b64" \
	'{user: $u, credential: $c, factor: {type: "pin", code: $p}, level: "B-T",
	  reason: "Menyetujui", location: "Jakarta", documents: [{name: "agreement.pdf", pdf: $pdf}]}'
req POST "$PKI_PADES_URL" "$work/body" "$(cat "$PKI_PADES_TOKEN_FILE")"
want 200 "sign the PDF"
jq -r '.documents[0].pdf' "$work/out" | base64 -d >"$OUT/agreement.signed.pdf"
say "signed at $(j .level): $OUT/agreement.signed.pdf"
# pdfsig judges it with an NSS database that trusts the stack's root.
certutil -N -d "sql:$work/nss" --empty-password 2>/dev/null || { mkdir -p "$work/nss" && certutil -N -d "sql:$work/nss" --empty-password; }
certutil -A -d "sql:$work/nss" -n "stack root" -t CT,C,C -i "$PKI_ROOT_CERT"
pdfsig -nssdir "sql:$work/nss" "$OUT/agreement.signed.pdf" >"$work/pdfsig.out" 2>&1 || { cat "$work/pdfsig.out"; die "pdfsig"; }
grep -E 'Signer Certificate Common Name|Signature Type|Signature Validation|Certificate Validation|Signature Timestamp|Total document signed' \
	"$work/pdfsig.out" | sed 's/^ *- */   pdfsig: /'
grep -q 'Signature Validation: Signature is Valid\.' "$work/pdfsig.out" &&
	grep -q 'Certificate Validation: Certificate is Trusted\.' "$work/pdfsig.out" ||
	die "pdfsig does not find the signature valid and its certificate trusted"
# B-T: the CMS carries tsad's signature-time-stamp (pdfsig does not show it).
(cd "$work" && cp "$OUT/agreement.signed.pdf" s.pdf && pdfsig -nssdir "sql:$work/nss" -dump s.pdf >/dev/null 2>&1)
openssl asn1parse -inform DER -in "$work/s.pdf.sig0" >"$work/sig.asn1" 2>&1 || die "the CMS does not parse"
grep -q id-smime-aa-timeStampToken "$work/sig.asn1" || die "the signature has no time-stamp token"
say "the signature carries a time-stamp token from tsad ($PKI_TSA_URL)"

step "5. The audit trail: sealed, exported, verified offline (audit/README.md)"
"$PKICTL" --config "$PKI_CONFIG" audit seal >"$work/seal.out" 2>&1 || die "pkictl audit seal: $(cat "$work/seal.out")"
say "$(cat "$work/seal.out")"
"$PKICTL" --config "$PKI_CONFIG" audit export --events "$OUT/audit-events.jsonl" --seals "$OUT/audit-seals.jsonl" \
	>/dev/null 2>"$work/export.err" || die "pkictl audit export: $(cat "$work/export.err")"
"$(dirname "$PKICTL")/pkiaudit" verify --events "$OUT/audit-events.jsonl" --seals "$OUT/audit-seals.jsonl" \
	--pubkey "$PKI_AUDIT_PUBKEY" >"$work/verify.out" 2>&1 || { cat "$work/verify.out"; die "pkiaudit verify"; }
say "pkiaudit: $(tail -n 1 "$work/verify.out")"
say "this walk-through's events (action, actor):"
jq -r --arg t "$started" 'select(.at >= $t) | "\(.action) (\(.actor | sub(":[^:]*$"; "")))"' \
	"$OUT/audit-events.jsonl" | awk '!seen[$0]++ { printf "%s%s", (n++ ? ", " : ""), $0 } END { print "" }' |
	fold -s -w 96 | sed 's/^/     /'

step "Done: files in $OUT"
