#!/usr/bin/env bash
# The next key and certificate of the roles whose certificates end before
# their issuer's, on a stack of its own. `pkictl ca responder`: the next
# delegated OCSP responder of the issuing CA and of the root (responder
# certificates live 90 days). The new certificate verifies to the root for
# OCSP signing, has id-pkix-ocsp-nocheck, is recorded with its audit events
# and exported; its issuer answers for it; ocspd, restarted, signs with the
# new key, and `openssl ocsp` accepts the answers. `pkictl ca tsa`: the
# TSA's next (5 years); tsad, restarted, signs time-stamps that `openssl ts
# -verify` accepts with the new certificate. Each token's record names the
# certificate that signed it (schema/064), the one its ESSCertIDv2 hashes:
# tsa before the rotation, tsa-2 after, and tsa for a token whose record
# waited in the spill file (the database refusing it) across the rotation
# and the restart. Bad issuers are refused with the reason, changing
# nothing.
. "$(dirname "$0")/lib.sh"
T=$(test_tmpdir)
S=$T/stack
stack_new "$S"
stack_use "$S"
pki=$PKI_DIR/pki
url=$(stack_get "$S" PKI_OCSP_URL)
audit_max() { q "SELECT coalesce(max(id), 0) FROM audit_event WHERE action LIKE 'ca.%'"; }

# --- refused: an issuer that is not root or issuing, an unknown one, bad usage ---------
a0=$(audit_max)
n0=$(q "SELECT count(*) FROM ca_certificate")
for bad in tsa ocsp-issuing nope; do
	st=0
	pkictl ca responder --issuer "$bad" >"$T/bad.out" 2>&1 || st=$?
	[ "$st" = 1 ] && has -F "no root or issuing CA named $bad" "$T/bad.out" ||
		{ cat "$T/bad.out"; fail "ca responder --issuer $bad: exit $st, want 1 and why"; }
done
st=0
pkictl ca responder --issuer >"$T/bad.out" 2>&1 || st=$?
[ "$st" = 2 ] || { cat "$T/bad.out"; fail "ca responder --issuer without a name: exit $st, want 2"; }
[ "$(audit_max)" = "$a0" ] && [ "$(q "SELECT count(*) FROM ca_certificate")" = "$n0" ] ||
	fail "a refused ca responder changed something"
note "issuers tsa, ocsp-issuing, nope and a missing name refused, nothing changed"

# --- one key-generating pkictl at a time; a key nothing recorded does not stay ----------
# Two `ca responder` runs at once both took ocsp-issuing-N, both generated
# a key with that label, and ocspd then refused the token's key as
# ambiguous; the loser even kept its key (until 2026-12-06). A session
# holding the lock stands for the other run: refused, nothing generated.
ocsp_token=$(sed -n 's/^ocsp_token *= *//p' "$PKI_CONFIG")
coproc HOLD { psql -X -q -At -v ON_ERROR_STOP=1 "$STACK_PG" 2>&1; }
hold_pid=$HOLD_PID hold_in=${HOLD[1]} hold_out=${HOLD[0]}
at_exit "kill $hold_pid 2>/dev/null || true"
echo "SELECT 'held' FROM (SELECT pg_advisory_lock(hashtextextended('ca/pkictl.c key generation', 0))) l;" >&"$hold_in"
read -r -t 10 held <&"$hold_out" && [ "$held" = held ] || fail "test setup: the ceremony lock not taken: $held"
st=0
pkictl ca responder --issuer issuing >"$T/locked.out" 2>&1 || st=$?
[ "$st" = 3 ] && has -F "another pkictl command is generating a CA key" "$T/locked.out" ||
	{ cat "$T/locked.out"; fail "ca responder while another holds the ceremony lock: exit $st, want 3 and why"; }
st=0
pkictl key gen --token "$ocsp_token" --label probe-locked --type ec-p256 >"$T/locked.out" 2>&1 || st=$?
[ "$st" = 3 ] || { cat "$T/locked.out"; fail "key gen while another holds the ceremony lock: exit $st, want 3"; }
exec {hold_in}>&-
wait "$hold_pid" 2>/dev/null || true
pkictl key list --token "$ocsp_token" >"$T/keys" 2>&1 || { cat "$T/keys"; fail "key list"; }
! has -E "ocsp-issuing-2|probe-locked" "$T/keys" || { cat "$T/keys"; fail "a refused run generated a key"; }
[ "$(audit_max)" = "$a0" ] && [ "$(q "SELECT count(*) FROM ca_certificate")" = "$n0" ] ||
	fail "a run refused for the ceremony lock changed something"
# key gen whose audit event fails: the key goes (until 2026-12-06 it
# stayed, in no event, and held its label).
q "CREATE FUNCTION test_refuse_keygen_event() RETURNS trigger LANGUAGE plpgsql
   SET search_path = pg_catalog, public, pg_temp AS \$\$BEGIN RAISE EXCEPTION 'test: event refused'; END\$\$"
q "CREATE TRIGGER test_refuse_keygen_event BEFORE INSERT ON audit_event FOR EACH ROW
   WHEN (NEW.action = 'hsm.key.generate') EXECUTE FUNCTION test_refuse_keygen_event()"
st=0
pkictl key gen --token "$ocsp_token" --label probe-1 --type ec-p256 >"$T/gen.out" 2>&1 || st=$?
q "DROP TRIGGER test_refuse_keygen_event ON audit_event"
q "DROP FUNCTION test_refuse_keygen_event()"
[ "$st" = 1 ] && has -F "recording it failed; the key was destroyed" "$T/gen.out" ||
	{ cat "$T/gen.out"; fail "key gen whose event failed: exit $st, want 1 and the key destroyed"; }
pkictl key list --token "$ocsp_token" >"$T/keys" 2>&1 || { cat "$T/keys"; fail "key list"; }
! has -F probe-1 "$T/keys" || { cat "$T/keys"; fail "key gen left a key no event names"; }
pkictl key gen --token "$ocsp_token" --label probe-1 --type ec-p256 >"$T/gen.out" 2>&1 ||
	{ cat "$T/gen.out"; fail "key gen probe-1 again, the event allowed"; }
fp=$(q "SELECT details->>'spki_sha256' FROM audit_event WHERE action = 'hsm.key.generate' AND object_id = 'probe-1'")
[ ${#fp} = 64 ] || fail "hsm.key.generate does not name the key's public key (spki_sha256: '$fp')"
tokens_given "$(dirname "$SOFTHSM2_CONF")/tokens"
note "ca responder and key gen refused (3) while the ceremony lock is held; a key gen whose event failed destroyed its key"
# A responder whose recording fails after its key exists: the key is
# destroyed, and the sealed trail says so (ca.ceremony.fail, in a
# transaction of its own; until 2026-12-06 only the log did).
q "CREATE FUNCTION test_refuse_ca_cert() RETURNS trigger LANGUAGE plpgsql
   SET search_path = pg_catalog, public, pg_temp AS \$\$BEGIN RAISE EXCEPTION 'test: recording refused'; END\$\$"
q "CREATE TRIGGER test_refuse_ca_cert BEFORE INSERT ON ca_certificate FOR EACH ROW EXECUTE FUNCTION test_refuse_ca_cert()"
st=0
pkictl ca responder --issuer issuing >"$T/refused.out" 2>&1 || st=$?
q "DROP TRIGGER test_refuse_ca_cert ON ca_certificate"
q "DROP FUNCTION test_refuse_ca_cert()"
[ "$st" = 1 ] && has -F "recording ocsp-issuing-2 failed; nothing was committed" "$T/refused.out" ||
	{ cat "$T/refused.out"; fail "ca responder whose recording failed: exit $st, want 1 and why"; }
pkictl key list --token "$ocsp_token" >"$T/keys" 2>&1 || { cat "$T/keys"; fail "key list"; }
! has -F ocsp-issuing-2 "$T/keys" || { cat "$T/keys"; fail "the key of a responder nothing recorded was kept"; }
[ "$(q "SELECT count(*) FROM ca_certificate")" = "$n0" ] || fail "a responder whose recording failed left a certificate"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ca.ceremony.fail' AND object_id = 'responder'
	AND details->'keys'->0->>'label' = 'ocsp-issuing-2' AND (details->'keys'->0->>'destroyed')::boolean
	AND length(details->'keys'->0->>'spki_sha256') = 64")" = 1 ] ||
	fail "no ca.ceremony.fail naming the destroyed key: $(q "SELECT details FROM audit_event WHERE action = 'ca.ceremony.fail'")"
note "a responder whose recording failed destroyed its key and audited ca.ceremony.fail"
a0=$(audit_max)

# --- the issuing CA's next responder ---------------------------------------------------
pkictl ca responder --issuer issuing >"$T/resp.out" 2>&1 || { cat "$T/resp.out"; fail "ca responder --issuer issuing"; }
has -F "responder certificate ocsp-issuing-2 for issuing in $pki/ocsp-issuing-2.pem" "$T/resp.out" ||
	{ cat "$T/resp.out"; fail "ca responder: no summary line"; }
new=$pki/ocsp-issuing-2.pem
[ -s "$new" ] || fail "$new not exported"
openssl verify -CAfile "$pki/root.pem" -untrusted "$pki/issuing.pem" -purpose ocsphelper "$new" >"$T/v.out" 2>&1 ||
	{ cat "$T/v.out"; fail "the new responder certificate does not verify for OCSP signing"; }
openssl x509 -in "$new" -noout -text >"$T/new.txt"
has -F "OCSP Signing" "$T/new.txt" && has -F "OCSP No Check" "$T/new.txt" ||
	{ cat "$T/new.txt"; fail "the new responder certificate lacks id-kp-OCSPSigning or ocsp-nocheck"; }
[ "$(openssl x509 -in "$new" -noout -pubkey | openssl sha256)" != \
	"$(openssl x509 -in "$pki/ocsp-issuing.pem" -noout -pubkey | openssl sha256)" ] ||
	fail "the new responder certificate reuses the old key"
[ "$(openssl x509 -in "$new" -noout -subject)" = "$(openssl x509 -in "$pki/ocsp-issuing.pem" -noout -subject)" ] ||
	fail "the new responder is not named as the ceremony's"
[ "$(q "SELECT k.key_label || ' ' || k.role || ' ' || i.name FROM ca_certificate c JOIN ca_key k ON k.id = c.key_id
	JOIN ca_certificate i ON i.id = c.issuer_id WHERE c.name = 'ocsp-issuing-2'")" = "ocsp-issuing-2 ocsp issuing" ] ||
	fail "ocsp-issuing-2 not recorded with its key and issuer"
serial=$(openssl x509 -in "$new" -noout -serial | cut -d= -f2)
[ "$(q "SELECT count(*) FROM certificate WHERE upper(serial) = upper('$serial')")" = 1 ] ||
	fail "the issuing CA does not answer for its new responder certificate (no certificate row)"
for action in ca.key.generate ca.cert.issue ca.responder; do
	[ "$(q "SELECT count(*) FROM audit_event WHERE id > $a0 AND action = '$action'")" -ge 1 ] ||
		fail "no $action audit event"
done
[ "$(q "SELECT details->>'serial' FROM audit_event WHERE action = 'ca.responder'")" = "$serial" ] ||
	fail "ca.responder does not name the serial"
pkictl key list --token "$(sed -n 's/^ocsp_token *= *//p' "$PKI_CONFIG")" >"$T/keys" 2>&1 && has -F ocsp-issuing-2 "$T/keys" ||
	{ cat "$T/keys"; fail "no key ocsp-issuing-2 in the OCSP token"; }
note "ocsp-issuing-2: a new key, verifies for OCSP signing, recorded, audited, exported"

# --- ocspd, restarted, answers with the new responder -----------------------------------
# restart NAME: the stack's daemon NAME stopped and started again. The
# signers demote to the stack's HSM user and read the token files as it:
# pkictl, run as root, gave it the files it made (checked first, since the
# stack's up would chown them anyway, as a systemctl restart would not).
restart() { stack_stop "$S" "$1"; stack_up "$S"; }
restart ocsp
[ "$(stack_get "$S" PKI_OCSP_CERT)" = "$new" ] ||
	fail "stack.env's PKI_OCSP_CERT after the rotation: $(stack_get "$S" PKI_OCSP_CERT), want $new"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/sub.key" \
	-subj "/CN=responder test" -out "$T/sub.csr" 2>/dev/null
pkictl cert issue --issuer issuing --profile subscriber --csr "$T/sub.csr" >"$T/sub.pem" || fail "pkictl cert issue"
ok=
for _ in $(seq 50); do
	out=$(ocsp_client -url "$url" -CAfile "$pki/root.pem" -issuer "$pki/issuing.pem" -cert "$T/sub.pem" -resp_text)
	grep -q 'sub.pem: good' <<<"$out" && { ok=1; break; }
	sleep 0.1
done
[ -n "$ok" ] || { echo "$out"; fail "no verified good answer after the rotation"; }
ski=$(openssl x509 -in "$new" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
grep -q "Responder Id: $ski" <<<"$out" || { echo "$out"; fail "the answer is not by ocsp-issuing-2"; }
# A live (nonce) answer is signed now, by the new key.
out=$(ocsp_client -url "$url" -CAfile "$pki/root.pem" -issuer "$pki/issuing.pem" -cert "$T/sub.pem" -resp_text -nonce)
grep -q 'sub.pem: good' <<<"$out" && grep -q "Responder Id: $ski" <<<"$out" ||
	{ echo "$out"; fail "a nonce answer not verified or not by ocsp-issuing-2"; }
want=$(date -d "$(openssl x509 -in "$new" -noout -enddate | cut -d= -f2)" +%s)
curl -sf "$url/health" >"$T/health" || fail "ocspd /health"
[ "$(jq -r .responder_not_after.issuing "$T/health")" = "$want" ] ||
	{ cat "$T/health"; fail "/health: not the new responder's notAfter"; }
note "ocspd restarted answers (cached and nonce) as ocsp-issuing-2; /health gives its notAfter"

# --- the root's next responder, at a ceremony with the root key --------------------------
pkictl ca responder --issuer root >"$T/root.out" 2>&1 || { cat "$T/root.out"; fail "ca responder --issuer root"; }
openssl verify -CAfile "$pki/root.pem" -purpose ocsphelper "$pki/ocsp-root-2.pem" >"$T/v.out" 2>&1 ||
	{ cat "$T/v.out"; fail "ocsp-root-2 does not verify for OCSP signing"; }
[ "$(openssl x509 -in "$pki/ocsp-root-2.pem" -noout -issuer)" = "$(openssl x509 -in "$pki/root.pem" -noout -subject | sed 's/^subject/issuer/')" ] ||
	fail "ocsp-root-2 is not issued by the root"
# A third of the issuing CA's: numbered on.
pkictl ca responder >"$T/third.out" 2>&1 && has -F ocsp-issuing-3 "$T/third.out" ||
	{ cat "$T/third.out"; fail "ca responder (default issuer) did not make ocsp-issuing-3"; }
note "ocsp-root-2 signed by the root; ocsp-issuing-3 next"

# --- the TSA's next key and certificate; tsad, restarted, signs with it -------------------
tsa_url=$(stack_get "$S" PKI_TSA_URL)
# ts_get NAME: a time-stamp (certReq) for NAME in $T/NAME.tsr; its serial.
ts_get() {
	echo "$1" | openssl ts -query -sha256 -cert -out "$T/$1.tsq" 2>/dev/null
	curl -sf -H 'Content-Type: application/timestamp-query' --data-binary "@$T/$1.tsq" \
		"$tsa_url/" -o "$T/$1.tsr" || fail "tsad answered no time-stamp ($1)"
	openssl ts -reply -in "$T/$1.tsr" -text 2>/dev/null | sed -n 's/^Serial number: 0x//p'
}
# ess_hash NAME: the certHash of the ESSCertIDv2 (RFC 5035, SHA-256: the
# default, no hashAlgorithm) in the token of $T/NAME.tsr, lower-case hex.
ess_hash() {
	openssl ts -reply -in "$T/$1.tsr" -token_out -out "$T/$1.tok" 2>/dev/null ||
		fail "no token in $1.tsr"
	openssl asn1parse -inform DER -in "$T/$1.tok" |
		awk '/:id-smime-aa-signingCertificateV2/ { f = 1 }
		     f == 1 && /OCTET STRING/ { sub(/.*\[HEX DUMP\]:/, ""); print tolower($0); f = 2 }'
}
# recorded_cert SERIAL: the cert_id of its tsa_token row (NULL shown as
# NULL), once it is recorded (within 20 s).
recorded_cert() {
	local _
	for _ in $(seq 200); do
		[ "$(q "SELECT count(*) FROM tsa_token WHERE serial = '$1'")" = 1 ] && break
		sleep 0.1
	done
	q "SELECT coalesce(cert_id::text, 'NULL') FROM tsa_token WHERE serial = '$1'"
}
tsa1_id=$(q "SELECT id FROM ca_certificate WHERE name = 'tsa'")
tsa1_hash=$(q "SELECT lower(sha256) FROM ca_certificate WHERE name = 'tsa'")
[ -n "$tsa1_id" ] && [ -n "$tsa1_hash" ] || fail "no ca_certificate tsa"
s_before=$(ts_get before)
[ -n "$s_before" ] || fail "no serial in the time-stamp before the rotation"
[ "$(ess_hash before)" = "$tsa1_hash" ] || fail "the token before the rotation does not name tsa in its ESSCertIDv2"
got=$(recorded_cert "$s_before")
[ "$got" = "$tsa1_id" ] ||
	fail "the token $s_before signed with tsa (id $tsa1_id) is recorded with certificate '$got'"
# The database refuses records: the next token's record waits in memory,
# then in the spill file when tsad stops for the restart below; the next
# tsad, with tsa-2, replays it.
q "REVOKE INSERT ON tsa_token FROM pki_tsa"
at_exit "sql_as '$STACK_PG' 'GRANT INSERT ON tsa_token TO pki_tsa' >/dev/null 2>&1"
s_spilled=$(ts_get spilled)
[ -n "$s_spilled" ] || fail "no serial in the time-stamp of the outage"
[ "$(ess_hash spilled)" = "$tsa1_hash" ] || fail "the token of the outage does not name tsa in its ESSCertIDv2"
pkictl ca tsa >"$T/tsa.out" 2>&1 && has -F "TSA certificate tsa-2 for issuing in $pki/tsa-2.pem" "$T/tsa.out" ||
	{ cat "$T/tsa.out"; fail "ca tsa did not make tsa-2"; }
openssl verify -CAfile "$pki/root.pem" -untrusted "$pki/issuing.pem" -purpose timestampsign "$pki/tsa-2.pem" >"$T/v.out" 2>&1 ||
	{ cat "$T/v.out"; fail "tsa-2 does not verify for time-stamping"; }
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'ca.tsa' AND details->>'certificate' = 'tsa-2'")" = 1 ] ||
	fail "no ca.tsa audit event"
restart tsa
[ "$(stack_get "$S" PKI_TSA_CERT)" = "$pki/tsa-2.pem" ] ||
	fail "stack.env's PKI_TSA_CERT after the rotation: $(stack_get "$S" PKI_TSA_CERT), want $pki/tsa-2.pem"
echo "rotation" | openssl ts -query -sha256 -cert -out "$T/q.tsq" 2>/dev/null
curl -sf -H 'Content-Type: application/timestamp-query' --data-binary "@$T/q.tsq" "$tsa_url/" -o "$T/r.tsr" ||
	fail "tsad answered no time-stamp after the rotation"
openssl ts -verify -in "$T/r.tsr" -queryfile "$T/q.tsq" -CAfile "$pki/root.pem" -untrusted "$pki/chain.pem" >"$T/tv.out" 2>&1 ||
	{ cat "$T/tv.out"; fail "the time-stamp after the rotation does not verify"; }
openssl ts -reply -in "$T/r.tsr" -token_out -out "$T/tok.der" 2>/dev/null &&
	openssl pkcs7 -inform DER -in "$T/tok.der" -print_certs -out "$T/tokcerts.pem" 2>/dev/null ||
	fail "no certificates in the token"
[ "$(openssl x509 -in "$T/tokcerts.pem" -noout -fingerprint -sha256)" = \
	"$(openssl x509 -in "$pki/tsa-2.pem" -noout -fingerprint -sha256)" ] ||
	fail "the token is not signed by tsa-2 (its first certificate is another)"
# The first certificate of the token's set is the signer's (certReq): tsad
# signs with the TSA key tsa-2 and no longer the ceremony's tsa-1.
has -F "key tsa-2" "$(stack_get "$S" PKI_DIR)/log/tsa.log" || fail "tsad's log does not name key tsa-2"
note "tsa-2: verifies for time-stamping, audited; tsad restarted signs with it (openssl ts -verify)"

# Each record names the certificate that signed its token, across the rotation.
tsa2_id=$(q "SELECT id FROM ca_certificate WHERE name = 'tsa-2'")
tsa2_hash=$(q "SELECT lower(sha256) FROM ca_certificate WHERE name = 'tsa-2'")
[ -n "$tsa2_id" ] && [ "$tsa2_id" != "$tsa1_id" ] || fail "no ca_certificate tsa-2"
[ "$(q "SELECT count(*) FROM tsa_token WHERE serial = '$s_spilled'")" = 0 ] ||
	fail "test setup: the token of the outage was recorded while the database refused it"
q "GRANT INSERT ON tsa_token TO pki_tsa"
got=$(recorded_cert "$s_spilled")
[ "$got" = "$tsa1_id" ] ||
	fail "the token $s_spilled signed with tsa (id $tsa1_id), replayed from the spill file after the rotation, is recorded with certificate '$got'"
s_after=$(ts_get after)
[ -n "$s_after" ] || fail "no serial in the time-stamp after the rotation"
[ "$(ess_hash after)" = "$tsa2_hash" ] || fail "the token after the rotation does not name tsa-2 in its ESSCertIDv2"
got=$(recorded_cert "$s_after")
[ "$got" = "$tsa2_id" ] ||
	fail "the token $s_after signed with tsa-2 (id $tsa2_id) is recorded with certificate '$got'"
got=$(recorded_cert "$s_before")
[ "$got" = "$tsa1_id" ] || fail "the token $s_before is recorded with certificate '$got' after the rotation"
# As an auditor would check it: each record's certificate is the one its token's ESSCertIDv2 hashes.
for n in before spilled after; do
	s=$(openssl ts -reply -in "$T/$n.tsr" -text 2>/dev/null | sed -n 's/^Serial number: 0x//p')
	[ "$(q "SELECT lower(c.sha256) FROM tsa_token t JOIN ca_certificate c ON c.id = t.cert_id WHERE t.serial = '$s'")" = \
		"$(ess_hash "$n")" ] || fail "token $n: the recorded certificate is not the one its ESSCertIDv2 names"
done
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'tsa.tokens.record' AND details->'certificates' @> '[$tsa2_id]'")" -ge 1 ] ||
	fail "no tsa.tokens.record audit event lists certificate tsa-2 ($tsa2_id)"
note "records name their signing certificate: tsa ($tsa1_id) before the rotation and for a record replayed from the spill file after it, tsa-2 ($tsa2_id) after; each the one the token's ESSCertIDv2 hashes"
