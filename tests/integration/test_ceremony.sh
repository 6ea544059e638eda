#!/usr/bin/env bash
# The CA ceremony, judged by independent tools: OpenSSL, GnuTLS certtool, NSS
# vfychain, OpenSC pkcs11-tool, psql and ldapsearch. Runs against the stack
# that tests/run.sh started (its `up` ran `pkictl ca init`).
set -euo pipefail
# grep -q that reads all its input (lib.sh has the why).
has() { grep "$@" >/dev/null; }
here=$(cd "$(dirname "$0")" && pwd)
REPO_POLICY=$here/../../policy
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
BUILD=${BUILD:-${1:-build}}
# shellcheck disable=SC1091
. "$PKI_STACK_DIR/stack.env"
pki=$PKI_DIR/pki
conf=$PKI_CONFIG
pkictl() { "$PKICTL" --config "$conf" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- the files of the contract exist -------------------------------------------
for f in root issuing chain ocsp-root ocsp-issuing tsa; do
	[ -s "$pki/$f.pem" ] || fail "$pki/$f.pem missing"
done
[ "$PKI_ROOT_CERT" = "$pki/root.pem" ] || fail "stack.env PKI_ROOT_CERT=$PKI_ROOT_CERT"

# --- OpenSSL: chains and purposes ---------------------------------------------
openssl verify -x509_strict -CAfile "$pki/root.pem" "$pki/root.pem" >/dev/null ||
	fail "root does not verify as self-signed"
openssl verify -x509_strict -CAfile "$pki/root.pem" "$pki/issuing.pem" >/dev/null ||
	fail "issuing CA does not verify against root"
openssl verify -x509_strict -purpose ocsphelper -CAfile "$pki/root.pem" \
	-untrusted "$pki/issuing.pem" "$pki/ocsp-issuing.pem" >/dev/null ||
	fail "OCSP responder (issuing) does not verify"
openssl verify -x509_strict -purpose ocsphelper -CAfile "$pki/root.pem" \
	"$pki/ocsp-root.pem" >/dev/null || fail "OCSP responder (root) does not verify"
openssl verify -x509_strict -purpose timestampsign -CAfile "$pki/root.pem" \
	-untrusted "$pki/issuing.pem" "$pki/tsa.pem" >/dev/null ||
	fail "TSA certificate does not verify for timestampsign"
# A wrong chain must fail: the TSA certificate is not signed by the root directly.
if openssl verify -CAfile "$pki/root.pem" "$pki/tsa.pem" >/dev/null 2>&1; then
	fail "TSA verified without its issuing CA"
fi

text() { openssl x509 -noout -text -in "$pki/$1.pem"; }
text root | has 'CA:TRUE, pathlen:1' || fail "root path length"
text root | has 'Certificate Sign, CRL Sign' || fail "root key usage"
text issuing | has 'CA:TRUE, pathlen:0' || fail "issuing path length"
text issuing | has 'OCSP - URI:http://127.0.0.1' || fail "issuing AIA OCSP"
text issuing | has 'URI:http://127.0.0.1.*/root.crl' || fail "issuing CRL DP"
text issuing | has 'Policy: 2.999.1.1.2' || fail "issuing policies"
text ocsp-issuing | has 'OCSP Signing' || fail "OCSP EKU"
text ocsp-issuing | has 'OCSP No Check' || fail "OCSP nocheck"
text tsa | grep -A1 'Extended Key Usage: critical' | has 'Time Stamping' ||
	fail "TSA EKU not critical timeStamping"
# Keys from the HSM, of the profile's type, and serials of at least 64 random bits.
text root | has 'ASN1 OID: secp384r1' || fail "root key is not P-384"
text ocsp-issuing | has 'ASN1 OID: prime256v1' || fail "OCSP key is not P-256"
serial=$(openssl x509 -noout -serial -in "$pki/issuing.pem" | cut -d= -f2)
[ ${#serial} -ge 16 ] || fail "issuing serial too short: $serial"
# Each signature's digest fits its issuer's key (Mozilla Root Store Policy
# 5.1.2, CA/B BR §7.1.3.2: ecdsa-with-SHA384 only with P-384, SHA256 with
# P-256): the root and the issuing CA are P-384, so everything they sign is
# ecdsa-with-SHA384, whatever the profile's digest says (until 2026-12-07
# the ocsp-responder and tsa profiles' SHA256 was used).
# sig_fits FILE ISSUER_FILE WHAT: FILE's signature algorithm (a certificate,
# or a CRL with -crl) is the one ISSUER_FILE's key fixes.
sig_fits() {
	local kind=x509 f=$1 iss=$2 curve want got
	if [ "$f" = -crl ]; then kind=crl; f=$2; iss=$3; shift; fi
	curve=$(openssl x509 -noout -text -in "$iss" | sed -n 's/^ *NIST CURVE: *//p')
	case $curve in
	P-256) want=ecdsa-with-SHA256 ;; P-384) want=ecdsa-with-SHA384 ;;
	P-521) want=ecdsa-with-SHA512 ;; *) fail "$3: issuer $iss has no NIST curve ($curve)" ;;
	esac
	if [ $kind = crl ]; then
		got=$(openssl crl -inform DER -noout -text -in "$f" | sed -n 's/^ *Signature Algorithm: *//p' | head -1)
	else
		got=$(openssl x509 -noout -text -in "$f" | sed -n 's/^ *Signature Algorithm: *//p' | head -1)
	fi
	[ "$got" = "$want" ] || fail "$3: signed $got, its issuer's key is $curve ($want)"
}
sig_fits "$pki/root.pem" "$pki/root.pem" "root (self-signed)"
sig_fits "$pki/issuing.pem" "$pki/root.pem" "issuing CA"
sig_fits "$pki/ocsp-root.pem" "$pki/root.pem" "the root's OCSP responder"
sig_fits "$pki/ocsp-issuing.pem" "$pki/issuing.pem" "the issuing CA's OCSP responder"
sig_fits "$pki/tsa.pem" "$pki/issuing.pem" "TSA certificate"
echo "ceremony: every certificate is signed with the digest its issuer's curve fixes (P-384: SHA384)"
# The OCSP responder's name says which issuer it answers for.
openssl x509 -noout -subject -in "$pki/ocsp-root.pem" | has 'Root CA)' ||
	fail "OCSP responder (root) subject"
# The TSA cannot outlive its issuer.
na_tsa=$(date -d "$(openssl x509 -noout -enddate -in "$pki/tsa.pem" | cut -d= -f2)" +%s)
na_iss=$(date -d "$(openssl x509 -noout -enddate -in "$pki/issuing.pem" | cut -d= -f2)" +%s)
[ "$na_tsa" -le "$na_iss" ] || fail "TSA outlives its issuer"

# --- GnuTLS certtool ----------------------------------------------------------
for leaf in issuing ocsp-issuing tsa; do
	if [ "$leaf" = issuing ]; then cat "$pki/issuing.pem" >"$tmp/chain"
	else cat "$pki/$leaf.pem" "$pki/issuing.pem" >"$tmp/chain"; fi
	certtool --verify --load-ca-certificate "$pki/root.pem" --infile "$tmp/chain" \
		>"$tmp/certtool.out" 2>&1 || { cat "$tmp/certtool.out"; fail "certtool rejects $leaf"; }
	grep -q 'Chain verification output: Verified' "$tmp/certtool.out" ||
		fail "certtool did not verify $leaf"
done
certtool --verify --load-ca-certificate "$pki/root.pem" --infile "$pki/ocsp-root.pem" \
	>"$tmp/certtool.out" 2>&1 || fail "certtool rejects ocsp-root"

# --- NSS vfychain (its own trust database, root trusted) ----------------------
certutil -N -d "sql:$tmp/nss" --empty-password 2>/dev/null || { mkdir -p "$tmp/nss"; certutil -N -d "sql:$tmp/nss" --empty-password; }
certutil -A -d "sql:$tmp/nss" -n root -t "C,C,C" -a -i "$pki/root.pem"
nss() { # nss MODE ARGS...: vfychain with CERT_VerifyCertificate (-p) or libpkix (-pp)
	local mode=$1
	shift
	vfychain -d "sql:$tmp/nss" "$mode" "$@" >"$tmp/vfy.out" 2>&1 || { cat "$tmp/vfy.out"; return 1; }
	grep -q 'Chain is good' "$tmp/vfy.out"
}
nss -pp -u 11 -a "$pki/issuing.pem" || fail "vfychain rejects the issuing CA"
nss -pp -u 10 -a "$pki/ocsp-issuing.pem" -a "$pki/issuing.pem" || fail "vfychain rejects the OCSP responder"
nss -pp -u 10 -a "$pki/ocsp-root.pem" || fail "vfychain rejects the root's OCSP responder"
# NSS has no time-stamping usage. Usage 9 (protected object signer) checks the
# chain, signatures, validity and the digitalSignature key usage with no EKU
# constraint; the critical timeStamping EKU must still keep it out of TLS.
nss -p -u 9 -a "$pki/tsa.pem" -a "$pki/issuing.pem" || fail "vfychain rejects the TSA chain"
if vfychain -d "sql:$tmp/nss" -p -u 1 -a "$pki/tsa.pem" -a "$pki/issuing.pem" 2>&1 |
    has 'Chain is good'; then
	fail "vfychain accepts the TSA certificate for a TLS server"
fi

# --- the HSM: every private key sensitive, never extractable -------------------
for role in root ca ocsp tsa; do
	token=$(sed -n "s/^${role}_token *= *//p" "$conf")
	pinfile=$(sed -n "s/^${role}_pin_file *= *//p" "$conf")
	# The PIN goes through the environment (env:VAR), never argv.
	PKCS11_TEST_PIN=$(cat "$pinfile") pkcs11-tool --module "$PKI_HSM_MODULE" \
		--token-label "$token" --login --pin env:PKCS11_TEST_PIN \
		--list-objects --type privkey >"$tmp/objs" 2>&1 ||
		{ cat "$tmp/objs"; fail "pkcs11-tool cannot list $token"; }
	n=$(grep -c '^Private Key Object' "$tmp/objs" || true)
	[ "$n" -ge 1 ] || { cat "$tmp/objs"; fail "no private key in $token"; }
	s=$(grep -c 'Access:.*sensitive.*never extractable' "$tmp/objs" || true)
	[ "$s" -eq "$n" ] || { cat "$tmp/objs"; fail "a key in $token is not sensitive + never extractable"; }
done
# No private key in any file outside the token store, nor in the repository,
# but PostgreSQL's own TLS key (deploy/stack.sh pg_tls: the server's, read
# by PostgreSQL alone, no CA key). grep -l lists matches even when another
# file could not be read (its status is then 2: not relied on).
keys=$(grep -rlsE -- '-----BEGIN ([A-Z]+ )?PRIVATE KEY-----' "$PKI_DIR" --exclude-dir=tokens |
	grep -vxF "$PKI_DIR/pg/server.key" || true)
if [ -n "$keys" ]; then
	fail "a private key file exists in the stack directory: $keys"
fi
if git -C "$here/../.." grep -lE -- '-----BEGIN ([A-Z]+ )?PRIVATE KEY-----' -- . ':!tests/fuzz' 2>/dev/null; then
	fail "a private key is committed"
fi

# pkictl's key commands on the stack's tokens (hsm.lock_dir set: the token's
# lock file is <dir>/<token>.lock, as the signers name it).
pkictl key list --token pki-ca >"$tmp/keys" 2>&1 || { cat "$tmp/keys"; fail "pkictl key list --token pki-ca"; }
grep -q 'issuing-ca-1' "$tmp/keys" || { cat "$tmp/keys"; fail "key list lacks issuing-ca-1"; }

# --- PostgreSQL: certificates stored, ceremony audited, ceremony refuses twice -
q() { psql "${PKI_TEST_PG_URI:?tests/run.sh sets it}" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
[ "$(q "SELECT count(*) FROM ca_certificate")" = 5 ] || fail "ca_certificate rows"
db_fp=$(q "SELECT sha256 FROM ca_certificate WHERE name = 'root'")
file_fp=$(openssl x509 -in "$pki/root.pem" -outform DER | sha256sum | cut -d' ' -f1)
[ "$db_fp" = "$file_fp" ] || fail "root in PostgreSQL differs from root.pem"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ca.key.generate'")" = 5 ] ||
	fail "key generation not audited"
# Each of the stack's tokens was initialized by pkictl, audited.
for t in pki-root pki-ca pki-ocsp pki-tsa pki-audit pki-wrap; do
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'hsm.token.init' AND object_id = '$t'")" = 1 ] ||
		fail "token init $t not audited"
done
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ca.cert.issue'")" = 5 ] ||
	fail "certificate issuance not audited"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ca.init'")" = 1 ] ||
	fail "ceremony not audited"
# The events of the ceremony were committed in one transaction with the rows.
[ "$(q "SELECT count(DISTINCT txid) FROM audit_event WHERE action LIKE 'ca.%'")" = 1 ] ||
	fail "ceremony events span several transactions"
set +e
out=$(pkictl ca init 2>&1); rc=$?
set -e
[ $rc -eq 3 ] || fail "second ceremony exited $rc, want 3 (refused): $out"
grep -q 'already initialized' <<<"$out" || fail "second ceremony message: $out"
[ "$(q "SELECT count(*) FROM ca_certificate")" = 5 ] || fail "refused ceremony changed rows"
pkictl ca status | has '^root ' || fail "ca status does not list the root"

# --- LDAP: the CA certificates are in the directory ---------------------------
for ca in root issuing; do
	cn=$(openssl x509 -noout -subject -nameopt multiline -in "$pki/$ca.pem" |
		sed -n 's/^ *commonName *= *//p')
	ldapsearch -x -LLL -H "$PKI_LDAP_URI" -b "cn=$cn,$PKI_LDAP_BASE" -s base \
		'cACertificate;binary' -o ldif-wrap=no -t -T "$tmp" >"$tmp/ldap.out" 2>&1 ||
		{ cat "$tmp/ldap.out"; fail "ldapsearch for $cn"; }
	f=$(sed -n 's/^cACertificate;binary:< file:\/\///p' "$tmp/ldap.out")
	[ -n "$f" ] || { cat "$tmp/ldap.out"; fail "no cACertificate on $cn"; }
	cmp -s "$f" <(openssl x509 -in "$pki/$ca.pem" -outform DER) ||
		fail "directory holds a different certificate for $cn"
done
[ "$(q "SELECT count(*) FROM publish_queue WHERE done_at IS NULL")" = 0 ] ||
	fail "publications left pending"
echo "ceremony: ok"

# --- a ceremony that fails after generating its keys leaves none behind ---------
# Its own tokens (same PIN files, another token directory) and its own
# database. As the read-only auditor role it is refused before any key
# (schema/073: no advisory lock, so not the key generation lock). As
# pki_admin without INSERT on ca_ceremony, recording the hierarchy fails
# after the five keys exist. The signer destroys exactly the keys it
# generated, so the same ceremony as pki_admin then succeeds on those tokens
# (before, it stopped at "exists" until the tokens were re-created).
ct=$tmp/fresh
mkdir -p "$ct/tokens" "$ct/pki"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$ct/tokens" >"$ct/softhsm2.conf"
db=ceremony_$$
dburi() { echo "${PKI_TEST_PG_URI/dbname=pki/dbname=$db} user=$1"; }
psql -X -q -v ON_ERROR_STOP=1 "$PKI_TEST_PG_URI" -c "CREATE DATABASE $db" ||
	fail "CREATE DATABASE $db"
trap 'psql -X -q "$PKI_TEST_PG_URI" -c "DROP DATABASE IF EXISTS '"$db"'" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
"$here/../../deploy/migrate.sh" "${PKI_TEST_PG_URI/dbname=pki/dbname=$db}" "$here/../../schema" >/dev/null ||
	fail "migrations of $db"
# fresh ROLE ARGS...: pkictl on the fresh tokens and database, LDAP unreachable
# (the stack's directory keeps its CA), certificates into $ct/pki.
fresh() {
	local role=$1
	shift
	PKI_HSM_SOFTHSM2_CONF=$ct/softhsm2.conf PKI_PG_ADMIN_URI=$(dburi "$role") \
	    PKI_LDAP_URI=ldap://127.0.0.1:9 PKI_PKI_OUT_DIR=$ct/pki pkictl "$@"
}
for t in root ca ocsp tsa audit wrap; do
	fresh pki_admin token init --label "pki-$t" --so-pin-file "$PKI_DIR/pins/pki-$t.so-pin" \
	    --pin-file "$PKI_DIR/pins/pki-$t.pin" >/dev/null 2>"$tmp/token.err" ||
		fail "token init pki-$t: $(cat "$tmp/token.err")"
done
set +e
out=$(fresh pki_auditor ca init 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "a ceremony as the read-only role succeeded: $out"
has 'pkictl_keygen_lock: permission denied' <<<"$out" && ! has 'was destroyed' <<<"$out" ||
	fail "the read-only role's ceremony was not refused before its keys: $out"
psql -X -q -v ON_ERROR_STOP=1 "${PKI_TEST_PG_URI/dbname=pki/dbname=$db}" -c "REVOKE INSERT ON ca_ceremony FROM pki_admin" ||
	fail "REVOKE INSERT ON ca_ceremony"
set +e
out=$(fresh pki_admin ca init 2>&1); rc=$?
set -e
psql -X -q -v ON_ERROR_STOP=1 "${PKI_TEST_PG_URI/dbname=pki/dbname=$db}" -c "GRANT INSERT ON ca_ceremony TO pki_admin" ||
	fail "GRANT INSERT ON ca_ceremony"
[ $rc -ne 0 ] || fail "a ceremony that cannot record itself succeeded: $out"
[ "$(grep -c 'was destroyed' <<<"$out")" = 5 ] || fail "the failed ceremony did not destroy its 5 keys: $out"
# The next one commits, but the answer to its COMMIT is lost (the
# connection breaks just after the server committed): pkictl asks again,
# finds the hierarchy recorded, and keeps the keys the database now names.
set +e
out=$(LD_PRELOAD=$BUILD/tests/preload/lost_commit.so ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0 \
    fresh pki_admin ca init 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "a ceremony whose COMMIT answer was lost reported success: $out"
has 'although its answer to COMMIT was lost; the keys are kept' <<<"$out" ||
	fail "the lost COMMIT answer was not recognized: $out"
! has 'was destroyed' <<<"$out" || fail "keys of a committed ceremony were destroyed: $out"
for tk in root:root-ca-1 ca:issuing-ca-1; do
	fresh pki_admin key list --token "pki-${tk%%:*}" --pin-file "$PKI_DIR/pins/pki-${tk%%:*}.pin" >"$tmp/keys" 2>&1 ||
		fail "key list pki-${tk%%:*}: $(cat "$tmp/keys")"
	has "^${tk#*:}	" "$tmp/keys" || fail "pki-${tk%%:*} lost ${tk#*:} after the lost COMMIT answer: $(cat "$tmp/keys")"
done
fresh pki_admin ca export >"$tmp/export.out" 2>&1 || fail "ca export after the lost COMMIT answer: $(cat "$tmp/export.out")"
openssl verify -CAfile "$ct/pki/root.pem" "$ct/pki/issuing.pem" >/dev/null ||
	fail "the second ceremony's issuing CA does not verify"
! cmp -s "$ct/pki/root.pem" "$pki/root.pem" || fail "the fresh ceremony wrote the stack's root"
echo "ceremony: a failed ceremony destroyed its keys; the next one, whose COMMIT answer was lost, kept them"

# --- the ARL lists a revoked certificate that expired since the last ARL ----------
# ARLs are a year apart (arl.next_update_days): with crld's 7-day grace
# (crl.expired_grace_seconds) a certificate of the root revoked and expired
# between two ARLs was left out of the next one, listed by none after its
# expiry (RFC 5280 §3.3). On the fresh hierarchy: its root's OCSP responder,
# revoked 40 days ago and expired 30 days ago, is on the ARL; a policy whose
# ARL grace is shorter than its nextUpdate is refused. The ARL goes to
# $ct/pki, not the stack's directory (crl.out_dir).
fq() { psql -X -q -At -v ON_ERROR_STOP=1 "${PKI_TEST_PG_URI/dbname=pki/dbname=$db}" -c "$1"; }
rser=$(fq "UPDATE certificate SET revoked_at = now() - interval '40 days', revocation_reason = 1,
      revoked_by = 'test_ceremony', not_after = now() - interval '30 days'
    WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = 'root') AND profile = 'ocsp-responder'
    RETURNING serial")
[ -n "$rser" ] || fail "no certificate of the fresh root to revoke"
nozero() { tr 'a-f' 'A-F' | sed 's/^0*//'; }
PKI_CRL_OUT_DIR=$ct/pki fresh pki_admin crl arl >"$tmp/arl.out" 2>&1 || fail "pkictl crl arl: $(cat "$tmp/arl.out")"
openssl crl -inform DER -in "$ct/pki/root.crl" -noout -text >"$tmp/arl.txt" ||
	fail "the fresh ARL does not parse"
sed -n 's/^ *Serial Number: *//p' "$tmp/arl.txt" | nozero | has -x "$(nozero <<<"$rser")" ||
	fail "the ARL dropped $rser, revoked and expired 30 days ago (grace shorter than the ARL's nextUpdate): $(cat "$tmp/arl.txt")"
printf '[arl]\nnext_update_days = 365\nexpired_grace_days = 30\n' >"$tmp/arl-short.conf"
set +e
out=$(PKI_CRL_OUT_DIR=$ct/pki PKI_CRL_POLICY_FILE=$tmp/arl-short.conf fresh pki_admin crl arl 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "an ARL grace of 30 days under a nextUpdate of 365 days was accepted: $out"
has 'arl.expired_grace_days (30) must be at least arl.next_update_days (365)' <<<"$out" ||
	fail "short ARL grace: $out"
echo "ceremony: the ARL lists a root certificate revoked and expired 30 days ago; a shorter ARL grace is refused"
sig_fits -crl "$ct/pki/root.crl" "$ct/pki/root.pem" "the ARL"

# --- the issuer's curve fixes the digest, whatever the profile says -------------
# A policy directory whose ocsp-responder and tsa profiles still say
# `digest = SHA256` (as ours did until 2026-12-07, and as a pki.policy_dir
# copied before then does): the fresh issuing CA's next responder and TSA
# certificates are ecdsa-with-SHA384 all the same (profile_sign takes the
# digest from the issuer's key; the profile's is an RSA issuer's).
cp -r "$REPO_POLICY" "$ct/policy"
sed -i 's/^digest = .*/digest = SHA256/' "$ct/policy/profiles/ocsp-responder.cnf" "$ct/policy/profiles/tsa.cnf"
PKI_PKI_POLICY_DIR=$ct/policy fresh pki_admin ca responder >"$tmp/resp.out" 2>&1 ||
	fail "ca responder with a SHA256 profile: $(cat "$tmp/resp.out")"
PKI_PKI_POLICY_DIR=$ct/policy fresh pki_admin ca tsa >"$tmp/tsa.out" 2>&1 ||
	fail "ca tsa with a SHA256 profile: $(cat "$tmp/tsa.out")"
sig_fits "$ct/pki/ocsp-issuing-2.pem" "$ct/pki/issuing.pem" "a responder of a profile saying SHA256"
sig_fits "$ct/pki/tsa-2.pem" "$ct/pki/issuing.pem" "a TSA certificate of a profile saying SHA256"
echo "ceremony: a profile's digest = SHA256 does not make a P-384 issuer sign ecdsa-with-SHA256"

# audit init the same way: its event committed, the answer lost; pkictl
# finds the event (as the auditor) and keeps the key and its public key.
set +e
out=$(PKI_PG_AUDITOR_URI=$(dburi pki_auditor) LD_PRELOAD=$BUILD/tests/preload/lost_commit.so \
    ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0 \
    fresh pki_admin audit init --out "$ct/audit-pub.pem" 2>&1); rc=$?
set -e
[ $rc -eq 0 ] || fail "audit init whose COMMIT answer was lost: exit $rc: $out"
[ -s "$ct/audit-pub.pem" ] || fail "audit init removed the public key of a recorded key: $out"
! has 'destroyed' <<<"$out" || fail "audit init destroyed a recorded key: $out"
[ "$(psql -X -At "$(dburi pki_auditor)" -c "SELECT count(*) FROM audit_event WHERE action = 'audit.key.create'")" = 1 ] ||
	fail "audit init's event is not in the database"
fresh pki_admin key list --token pki-audit --pin-file "$PKI_DIR/pins/pki-audit.pin" >"$tmp/keys" 2>&1 ||
	fail "key list pki-audit: $(cat "$tmp/keys")"
[ "$(wc -l <"$tmp/keys")" = 1 ] || fail "pki-audit does not hold exactly the audit key: $(cat "$tmp/keys")"
echo "ceremony: audit init whose COMMIT answer was lost kept its recorded key"
