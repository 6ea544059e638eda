#!/usr/bin/env bash
# Renewing the issuing CA, on a stack of its own (ca/README.md "Renewing
# the issuing CA"). `pkictl ca issuing` makes issuing-2 (a new key in the
# CA token, its certificate from the issuing-ca profile signed by the root,
# its CN numbered), recorded with its audit events, exported, published to
# the directory; `pkictl ca responder --issuer issuing-2` its first
# responder, `ca tsa --issuer issuing-2` tsa-2. Then crld, ocspd, tsad and
# cad restarted (cad with cad.issuer = issuing-2): tsad's time-stamps
# carry tsa-2 and issuing-2 and verify with the root; an order issued under issuing-2
# verifies to the root with chain-issuing-2.pem and names issuing-2's own
# URLs; its CRL, fetched from
# its CDP, verifies with issuing-2; OCSP says good for it and still for a
# certificate issuing issued before; revoked, it is on issuing-2's CRL and
# not on issuing's, and OCSP says revoked. The old CA's CRLs are still
# issued and served; with issuing-2's key missing from the token, crld
# still serves every CA's documents and signs issuing's.
. "$(dirname "$0")/lib.sh"
T=$(test_tmpdir)
S=$T/stack
stack_new "$S"
stack_use "$S"
pki=$PKI_DIR/pki
url=$(stack_get "$S" PKI_OCSP_URL)
crl_url=$(stack_get "$S" PKI_CRL_URL)
B=${crl_url%/issuing.crl}
# restart NAME...: the stack's daemons NAME stopped together (stack_stop's
# checks: the token files the HSM user's, each gone within 30 s), so that
# the next stack_up starts them again. Each takes about 2 s to end on
# SIGTERM: one after the other, four cost 8 s.
restart() {
	local n pid pids=() left
	tokens_given "$(dirname "$(stack_get "$S" SOFTHSM2_CONF)")/tokens"
	for n in "$@"; do
		pid=$(pidfile_of "$S" "$n")
		[ -n "$pid" ] && kill -TERM "$pid" || fail "$n: no process to stop (pid '$pid')"
		pids+=("$n=$pid")
	done
	for _ in $(seq 300); do
		left=
		for n in "${pids[@]}"; do ! kill -0 "${n#*=}" 2>/dev/null || left="$left ${n%%=*}"; done
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	fail "did not stop on SIGTERM within 30 s:$left"
}

# --- a certificate of the first issuing CA, before the renewal --------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/old.key" \
	-subj "/CN=before renewal" -out "$T/old.csr" 2>/dev/null
pkictl cert issue --issuer issuing --profile subscriber --csr "$T/old.csr" >"$T/old.pem" || fail "pkictl cert issue (issuing)"

# --- a crld that runs while issuing-2 is made: it takes it -----------------------------
# Until 2026-12-06 crld read the issuing CAs at start-up only: a CA made by
# `pkictl ca issuing` while it ran had no CRL (its paths answered 404) until
# a restart. This one (reconcile_interval_seconds 2, which paces its CA
# watch too) is not restarted: issuing-2's CRLs must come within 2 rounds.
rec=2
crlnum() { echo $((16#$(openssl crl -inform DER -in "$1" -noout -crlnumber | cut -d= -f2 | sed 's/^0x//'))); }
mkdir -p "$T/crl-watch"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$T/crl-watch"
chmod 0711 "$T"
wport=$(free_port)
W=http://127.0.0.1:$wport/crl
PKI_CRL_PORT=$wport PKI_CRL_OUT_DIR=$T/crl-watch PKI_CRL_INSTANCE=test-watch \
PKI_CRL_RECONCILE_INTERVAL_SECONDS=$rec \
	"$BUILD/crld" --config "$PKI_CONFIG" >"$T/crld-watch.log" 2>&1 &
wpid=$!
at_exit "kill -TERM $wpid 2>/dev/null || true"
wcode() { curl -s -o "$T/w.out" -w '%{http_code}' --max-time 5 "$W/$1"; }
for _ in $(seq 100); do [ "$(wcode issuing.crl)" = 200 ] && break; sleep 0.1; done
[ "$(wcode issuing.crl)" = 200 ] || { cat "$T/crld-watch.log"; fail "the watching crld serves no issuing.crl"; }
[ "$(wcode issuing-2.crl)" = 404 ] || fail "the watching crld serves issuing-2.crl before there is one"

# --- pkictl ca issuing --------------------------------------------------------------------
a0=$(q "SELECT coalesce(max(id), 0) FROM audit_event")
pkictl ca issuing >"$T/iss.out" 2>&1 || { cat "$T/iss.out"; fail "pkictl ca issuing"; }
has -F "issuing CA certificate issuing-2 for root in $pki/issuing-2.pem" "$T/iss.out" ||
	{ cat "$T/iss.out"; fail "ca issuing: no summary line"; }
new=$pki/issuing-2.pem
[ -s "$new" ] && [ -s "$pki/chain-issuing-2.pem" ] || fail "issuing-2.pem or chain-issuing-2.pem not exported"
openssl verify -CAfile "$pki/root.pem" "$new" >"$T/v.out" 2>&1 || { cat "$T/v.out"; fail "issuing-2 does not verify against the root"; }
openssl x509 -in "$new" -noout -text >"$T/new.txt"
has -F "CA:TRUE, pathlen:0" "$T/new.txt" && has -F "Certificate Sign, CRL Sign" "$T/new.txt" ||
	{ cat "$T/new.txt"; fail "issuing-2 is not a CA of the issuing-ca profile"; }
has -F "URI:$B/root.crl" "$T/new.txt" || { cat "$T/new.txt"; fail "issuing-2's CDP is not the root's CRL"; }
subj_old=$(openssl x509 -in "$pki/issuing.pem" -noout -subject -nameopt RFC2253)
subj_new=$(openssl x509 -in "$new" -noout -subject -nameopt RFC2253)
[ "$subj_new" = "${subj_old/Issuing CA 1/Issuing CA 2}" ] && [ "$subj_new" != "$subj_old" ] ||
	fail "issuing-2's subject: $subj_new (old: $subj_old)"
[ "$(openssl x509 -in "$new" -noout -pubkey | openssl sha256)" != \
	"$(openssl x509 -in "$pki/issuing.pem" -noout -pubkey | openssl sha256)" ] || fail "issuing-2 reuses the old key"
[ "$(q "SELECT k.key_label || ' ' || k.role || ' ' || c.role || ' ' || i.name FROM ca_certificate c JOIN ca_key k ON k.id = c.key_id
	JOIN ca_certificate i ON i.id = c.issuer_id WHERE c.name = 'issuing-2'")" = "issuing-2 issuing issuing root" ] ||
	fail "issuing-2 not recorded with its key and issuer"
serial=$(openssl x509 -in "$new" -noout -serial | cut -d= -f2)
[ "$(q "SELECT count(*) FROM certificate c JOIN ca_certificate r ON r.id = c.issuer_id WHERE r.name = 'root'
	AND upper(c.serial) = upper('$serial')")" = 1 ] || fail "the root does not answer for issuing-2 (no certificate row)"
for action in ca.key.generate ca.cert.issue ca.issuing; do
	[ "$(q "SELECT count(*) FROM audit_event WHERE id > $a0 AND action = '$action'")" -ge 1 ] ||
		fail "no $action audit event"
done
[ "$(q "SELECT details->>'serial' FROM audit_event WHERE id > $a0 AND action = 'ca.issuing'")" = "$serial" ] ||
	fail "ca.issuing does not name the serial"
pkictl key list --token "$(sed -n 's/^ca_token *= *//p' "$PKI_CONFIG")" >"$T/keys" 2>&1 && has -P "^issuing-2\t" "$T/keys" ||
	{ cat "$T/keys"; fail "no key issuing-2 in the CA token"; }
ldap_uri=$(stack_get "$S" PKI_LDAP_URI)
ldap_base=$(stack_get "$S" PKI_LDAP_BASE)
cn_new=$(openssl x509 -in "$new" -noout -subject -nameopt sep_multiline | sed -n 's/^ *CN=//p')
ldapsearch -LLL -x -H "$ldap_uri" -b "cn=$cn_new,$ldap_base" -s base 'cACertificate;binary' >"$T/ldap.out" 2>&1 &&
	has -i "^cACertificate;binary::" "$T/ldap.out" || { cat "$T/ldap.out" "$T/iss.out"; fail "issuing-2 not in the directory (cn=$cn_new)"; }
note "issuing-2: a new key, its CN numbered, verifies to the root as a CA, recorded, audited, exported, in the directory"

# The running crld: issuing-2's certificate, its first base CRL and delta,
# signed by issuing-2's key (made after that crld's signer started), within
# its rounds; the CRL follows a revocation of a certificate issuing-2 issued.
t0=$(date +%s.%N)
for _ in $(seq 200); do [ "$(wcode issuing-2.crl)" = 200 ] && break; sleep 0.1; done
t1=$(date +%s.%N)
cp "$T/w.out" "$T/w2.crl"
[ "$(wcode issuing-2.crl)" = 200 ] || { cat "$T/crld-watch.log"; fail "the running crld did not take issuing-2 (no issuing-2.crl within 20 s)"; }
awk -v a="$t0" -v b="$t1" -v m="$rec" 'BEGIN { exit !(b - a <= 2 * m + 3) }' ||
	fail "issuing-2.crl served $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s after pkictl ca issuing (reconcile_interval_seconds $rec)"
has -F "serving CRLs of issuer issuing-2 too, taken while running" "$T/crld-watch.log" ||
	{ cat "$T/crld-watch.log"; fail "the running crld does not say it took issuing-2"; }
openssl crl -inform DER -in "$T/w2.crl" -noout -verify -CAfile "$pki/chain-issuing-2.pem" >"$T/c.out" 2>&1 &&
	has 'verify OK' "$T/c.out" || { cat "$T/c.out"; fail "issuing-2.crl of the running crld does not verify with issuing-2"; }
[ "$(wcode issuing-2-delta.crl)" = 200 ] && openssl crl -inform DER -in "$T/w.out" -noout -verify \
	-CAfile "$pki/chain-issuing-2.pem" 2>&1 | has 'verify OK' || fail "issuing-2-delta.crl of the running crld"
[ "$(wcode issuing-2.crt)" = 200 ] && cmp -s "$T/w.out" <(openssl x509 -in "$new" -outform DER) ||
	fail "issuing-2.crt of the running crld is not issuing-2's certificate"
curl -s -o "$T/w.health" "${W%/crl}/health" && jq -e '.status == "ok" and .not_signed == []' "$T/w.health" >/dev/null ||
	{ cat "$T/w.health"; fail "/health of the running crld after it took issuing-2"; }
jq -e '.issuing_cas | map(.name) == ["issuing", "issuing-2"]' "$T/crl-watch/crld-cas.json" >/dev/null ||
	{ cat "$T/crl-watch/crld-cas.json"; fail "the running crld's crld-cas.json does not list issuing-2"; }
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/w.key" \
	-subj "/CN=watched renewal" -out "$T/w.csr" 2>/dev/null
pkictl cert issue --issuer issuing-2 --profile subscriber --csr "$T/w.csr" >"$T/w.pem" || fail "pkictl cert issue (issuing-2)"
wserial=$(openssl x509 -in "$T/w.pem" -noout -serial | cut -d= -f2)
pkictl cert revoke --issuer issuing-2 --serial "$wserial" --reason keyCompromise >"$T/wrev.out" 2>&1 ||
	{ cat "$T/wrev.out"; fail "cert revoke --issuer issuing-2"; }
listed=
for _ in $(seq 100); do
	[ "$(wcode issuing-2.crl)" = 200 ] &&
		openssl crl -inform DER -in "$T/w.out" -noout -text | grep -qi "Serial Number: *$wserial" && { listed=1; break; }
	sleep 0.1
done
[ -n "$listed" ] || { cat "$T/crld-watch.log"; fail "the running crld's issuing-2.crl does not list a revocation within 10 s"; }
openssl crl -inform DER -in "$T/w.out" -out "$T/w2.pem"
openssl verify -crl_check -CAfile "$pki/root.pem" -untrusted "$pki/chain-issuing-2.pem" -CRLfile "$T/w2.pem" \
	"$T/w.pem" >"$T/v.out" 2>&1 && fail "openssl verify -crl_check accepted a certificate revoked on the running crld's CRL"
has "certificate revoked" "$T/v.out" || { cat "$T/v.out"; fail "openssl verify -crl_check with the running crld's CRL: not 'certificate revoked'"; }
[ "$(wcode issuing.crl)" = 200 ] && openssl crl -inform DER -in "$T/w.out" -noout -verify -CAfile "$pki/chain.pem" 2>&1 |
	has 'verify OK' || fail "the running crld's issuing.crl after it took issuing-2"
kill -TERM "$wpid"
wait "$wpid" || { cat "$T/crld-watch.log"; fail "the running crld exited non-zero on SIGTERM"; }
note "a running crld took issuing-2 within $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: its CRLs verify with it, list its revocation (openssl verify -crl_check)"

# --- an ocspd started before issuing-2 has a responder: says so, /health degraded ----------
# Its certificates get unauthorized until `ca responder` and a restart;
# until 2026-12-07 nothing said so (no log line, /health ok).
oport=$(free_port)
PKI_OCSP_PORT=$oport "$BUILD/ocspd" --config "$PKI_CONFIG" >"$T/ocsp-unserved.log" 2>&1 &
opid=$!
at_exit "kill -TERM $opid 2>/dev/null || true"
for _ in $(seq 300); do curl -sf -o "$T/o.health" "http://127.0.0.1:$oport/health" && break; sleep 0.1; done
jq -e '.status == "degraded" and .not_served == ["issuing-2"]' "$T/o.health" >/dev/null ||
	{ cat "$T/o.health" "$T/ocsp-unserved.log"; fail "ocspd's /health does not name issuing-2 as not served"; }
has -F "issuer issuing-2 has no OCSP responder certificate" "$T/ocsp-unserved.log" ||
	{ cat "$T/ocsp-unserved.log"; fail "ocspd did not say issuing-2 has no responder"; }
kill -TERM "$opid"
wait "$opid" || { cat "$T/ocsp-unserved.log"; fail "ocspd exited non-zero on SIGTERM"; }
note "an ocspd started before issuing-2 had a responder: the log and /health (degraded, not_served) name it"

# --- its first responder; a TSA certificate from it; refusals ------------------------------
pkictl ca responder --issuer issuing-2 >"$T/resp.out" 2>&1 || { cat "$T/resp.out"; fail "ca responder --issuer issuing-2"; }
resp=$pki/ocsp-issuing-2-1.pem
has -F "responder certificate ocsp-issuing-2-1 for issuing-2 in $resp" "$T/resp.out" ||
	{ cat "$T/resp.out"; fail "ca responder --issuer issuing-2: no summary line"; }
openssl verify -CAfile "$pki/root.pem" -untrusted "$new" -purpose ocsphelper "$resp" >"$T/v.out" 2>&1 ||
	{ cat "$T/v.out"; fail "ocsp-issuing-2-1 does not verify for OCSP signing under issuing-2"; }
has -F "Issuing CA 2)" <(openssl x509 -in "$resp" -noout -subject) || fail "ocsp-issuing-2-1 is not named after issuing-2"
st=0
pkictl ca tsa --issuer root >"$T/bad.out" 2>&1 || st=$?
[ "$st" = 1 ] && has -F "no issuing CA named root" "$T/bad.out" || { cat "$T/bad.out"; fail "ca tsa --issuer root: exit $st, want 1"; }
pkictl ca tsa --issuer issuing-2 >"$T/tsa.out" 2>&1 && has -F "TSA certificate tsa-2 for issuing-2 in $pki/tsa-2.pem" "$T/tsa.out" ||
	{ cat "$T/tsa.out"; fail "ca tsa --issuer issuing-2 did not make tsa-2"; }
openssl verify -CAfile "$pki/root.pem" -untrusted "$new" -purpose timestampsign "$pki/tsa-2.pem" >"$T/v.out" 2>&1 ||
	{ cat "$T/v.out"; fail "tsa-2 does not verify for time-stamping under issuing-2"; }
has -F "URI:$B/issuing-2.crl" <(openssl x509 -in "$pki/tsa-2.pem" -noout -text) || fail "tsa-2's CDP is not issuing-2's CRL"
note "ocsp-issuing-2-1 and tsa-2 under issuing-2; ca tsa --issuer root refused"

# --- crld, ocspd and cad restarted; cad issues under issuing-2 ------------------------------
restart crl ocsp cad tsa
# cad.poll_seconds 1 (5 by default): the running cad's rounds below (an
# order it must leave alone, one it must fail once its issuer is revoked)
# come sooner and more often; orders wake it by NOTIFY all the same.
PKI_CAD_ISSUER=issuing-2 PKI_CAD_POLL_SECONDS=1 stack_up "$S"
has -F "issuing with" "$(stack_get "$S" PKI_DIR)/log/cad.log" || fail "cad did not start"
curl -sf -o "$T/o.health" "$(stack_get "$S" PKI_OCSP_URL)/health" && jq -e '.not_served == []' "$T/o.health" >/dev/null ||
	{ cat "$T/o.health"; fail "ocspd restarted with issuing-2's responder still names a CA not served"; }
# stack.env names the CA cad issues under: its chain, CRL and responder.
for kv in "PKI_ISSUING_CERT=$new" "PKI_CHAIN=$pki/chain-issuing-2.pem" \
	"PKI_OCSP_CERT=$pki/ocsp-issuing-2-1.pem" "PKI_CRL_URL=$B/issuing-2.crl"; do
	[ "$(stack_get "$S" "${kv%%=*}")" = "${kv#*=}" ] ||
		fail "stack.env's ${kv%%=*} with PKI_CAD_ISSUER=issuing-2: $(stack_get "$S" "${kv%%=*}"), want ${kv#*=}"
done
order=$(pkictl order add --kind personal --profile personal --key-type ec-p256 \
	--subject '{"C":"ID","CN":"Renewal Test","serialNumber":"NIK:3174012345670009"}') || fail "pkictl order add"
for _ in $(seq 300); do
	st=$(q "SELECT status FROM issuance_order WHERE id = $order")
	[ "$st" = done ] || [ "$st" = failed ] && break
	sleep 0.1
done
[ "$st" = done ] || fail "cad did not issue order $order under issuing-2 ($st): $(q "SELECT last_error FROM issuance_order WHERE id = $order")"
cert=$(q "SELECT certificate_id FROM issuance_order WHERE id = $order")
[ "$(q "SELECT r.name FROM certificate c JOIN ca_certificate r ON r.id = c.issuer_id WHERE c.id = $cert")" = issuing-2 ] ||
	fail "order $order was not issued by issuing-2"
q "SELECT encode(der, 'base64') FROM certificate WHERE id = $cert" | base64 -d | openssl x509 -inform DER -out "$T/n.pem"
openssl verify -CAfile "$pki/root.pem" -untrusted "$pki/chain-issuing-2.pem" "$T/n.pem" >"$T/v.out" 2>&1 ||
	{ cat "$T/v.out"; fail "the new certificate does not verify to the root with chain-issuing-2.pem"; }
if openssl verify -CAfile "$pki/root.pem" -untrusted "$pki/chain.pem" "$T/n.pem" >/dev/null 2>&1; then
	fail "the new certificate verified with the old chain"
fi
openssl x509 -in "$T/n.pem" -noout -text >"$T/n.txt"
for want in "URI:$B/issuing-2.crl" "URI:$B/issuing-2-delta.crl" "CA Issuers - URI:$B/issuing-2.crt"; do
	has -F "$want" "$T/n.txt" || { cat "$T/n.txt"; fail "the new certificate lacks $want"; }
done
note "cad (cad.issuer = issuing-2) issued a certificate that verifies with chain-issuing-2.pem and names issuing-2's URLs"

# --- an order names its issuer: only a cad for that issuer issues it --------------------
# The subscriber agreed to a certificate of the issuer the order names
# (schema/084: rad sets it from its preview; here pkictl order add
# --issuer). Before, any cad took any order: a rad still on `issuing` showed
# issuing's subject and the cad on issuing-2 issued under issuing-2. The
# running cad (issuing-2), woken by the order's NOTIFY, leaves an order of
# issuing; a cad for issuing issues it, under issuing.
st=0
pkictl order add --kind personal --profile personal --key-type ec-p256 --issuer root \
	--subject '{"C":"ID","CN":"No Such Issuer","serialNumber":"NIK:3174012345670011"}' >"$T/oi.out" 2>&1 || st=$?
[ "$st" = 1 ] && has -F "no issuing CA of that name" "$T/oi.out" || { cat "$T/oi.out"; fail "order add --issuer root: exit $st, want 1"; }
old_order=$(pkictl order add --kind personal --profile personal --key-type ec-p256 --issuer issuing \
	--subject '{"C":"ID","CN":"Agreed Under Issuing","serialNumber":"NIK:3174012345670012"}') || fail "pkictl order add --issuer issuing"
[ "$(q "SELECT r.name FROM issuance_order o JOIN ca_certificate r ON r.id = o.issuer_id WHERE o.id = $old_order")" = issuing ] ||
	fail "order $old_order does not name issuing"
new_order=$(pkictl order add --kind personal --profile personal --key-type ec-p256 --issuer issuing-2 \
	--subject '{"C":"ID","CN":"Agreed Under Issuing 2","serialNumber":"NIK:3174012345670013"}') || fail "pkictl order add --issuer issuing-2"
for _ in $(seq 300); do
	[ "$(q "SELECT status FROM issuance_order WHERE id = $new_order")" = done ] && break
	sleep 0.1
done
[ "$(q "SELECT status FROM issuance_order WHERE id = $new_order")" = done ] ||
	fail "the cad of issuing-2 did not issue order $new_order, which names issuing-2"
sleep 1
[ "$(q "SELECT status || ' ' || attempts FROM issuance_order WHERE id = $old_order")" = "pending 0" ] ||
	fail "the cad of issuing-2 took order $old_order, which names issuing: $(q "SELECT status, attempts, last_error FROM issuance_order WHERE id = $old_order")"
PKI_CAD_ISSUER=issuing PKI_CAD_INSTANCE=once-issuing "$BUILD/cad" --config "$PKI_CONFIG" --once >"$T/cad-issuing.log" 2>&1 ||
	{ cat "$T/cad-issuing.log"; fail "cad --once for issuing"; }
[ "$(q "SELECT o.status || ' ' || r.name FROM issuance_order o JOIN certificate c ON c.id = o.certificate_id
	JOIN ca_certificate r ON r.id = c.issuer_id WHERE o.id = $old_order")" = "done issuing" ] ||
	{ cat "$T/cad-issuing.log"; fail "order $old_order not issued under issuing by a cad for issuing: $(q "SELECT status, last_error FROM issuance_order WHERE id = $old_order")"; }
note "an order naming issuing waited for a cad of issuing (the one of issuing-2 left it); one naming issuing-2 issued by issuing-2's"

# --- tsad, restarted, signs with tsa-2 (under issuing-2) --------------------------------------
tsa_url=$(stack_get "$S" PKI_TSA_URL)
echo "renewal" | openssl ts -query -sha256 -cert -out "$T/q.tsq" 2>/dev/null
curl -sf -H 'Content-Type: application/timestamp-query' --data-binary "@$T/q.tsq" "$tsa_url/" -o "$T/r.tsr" ||
	fail "tsad answered no time-stamp with tsa-2"
# policy/tsa.conf's include_chain: the token carries tsa-2 and issuing-2,
# enough for a relying party holding only the root.
openssl ts -verify -in "$T/r.tsr" -queryfile "$T/q.tsq" -CAfile "$pki/root.pem" >"$T/tv.out" 2>&1 ||
	{ cat "$T/tv.out"; fail "the time-stamp of tsa-2 does not verify with the root alone"; }
openssl ts -reply -in "$T/r.tsr" -token_out -out "$T/tok.der" 2>/dev/null &&
	openssl pkcs7 -inform DER -in "$T/tok.der" -print_certs -out "$T/tokcerts.pem" 2>/dev/null ||
	fail "no certificates in the time-stamp token"
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
[ "$(fp "$T/tokcerts.pem")" = "$(fp "$pki/tsa-2.pem")" ] || fail "the time-stamp token is not signed by tsa-2"
csplit -s -z -f "$T/tokcert." "$T/tokcerts.pem" '/-----BEGIN/' '{*}'
tokfps=$(for c in "$T"/tokcert.*; do fp "$c"; done)
has -F "$(fp "$new")" <<<"$tokfps" || fail "the time-stamp token's chain lacks issuing-2"
if has -F "$(fp "$pki/issuing.pem")" <<<"$tokfps"; then fail "the time-stamp token's chain holds the old issuing CA"; fi
note "tsad, restarted, signs with tsa-2, its chain issuing-2: openssl ts -verify accepts it with the root"

# --- crld: issuing-2's CRLs, certificate; the old CA's still served --------------------------
cdp=$(sed -n 's/^ *URI:\(.*issuing-2\.crl\)$/\1/p' "$T/n.txt" | head -1)
got_crl() { # URL FILE: 200 within 10 s
	for _ in $(seq 100); do curl -sf -o "$2" "$1" && return 0; sleep 0.1; done
	return 1
}
got_crl "$cdp" "$T/i2.crl" || fail "GET $cdp"
openssl crl -inform DER -in "$T/i2.crl" -noout -CAfile "$pki/chain-issuing-2.pem" >"$T/c.out" 2>&1 && has 'verify OK' "$T/c.out" ||
	{ cat "$T/c.out"; fail "issuing-2.crl does not verify with issuing-2"; }
[ "$(openssl crl -inform DER -in "$T/i2.crl" -noout -issuer | sed 's/^issuer=//')" = \
	"$(openssl x509 -in "$new" -noout -subject | sed 's/^subject=//')" ] || fail "issuing-2.crl is not issuing-2's"
has -F "URI:$B/issuing-2.crl" <(openssl crl -inform DER -in "$T/i2.crl" -noout -text) || fail "issuing-2.crl's IDP is not its URL"
got_crl "$B/issuing-2-delta.crl" "$T/i2d.crl" || fail "GET issuing-2-delta.crl"
openssl crl -inform DER -in "$T/i2d.crl" -noout -CAfile "$pki/chain-issuing-2.pem" 2>&1 | has 'verify OK' ||
	fail "issuing-2-delta.crl does not verify"
curl -sf -o "$T/i2.crt" "$B/issuing-2.crt" || fail "GET issuing-2.crt"
cmp -s "$T/i2.crt" <(openssl x509 -in "$new" -outform DER) || fail "issuing-2.crt is not issuing-2's certificate"
for f in issuing.crl issuing-delta.crl issuing.crt root.crl root.crt; do
	curl -sf -o "$T/$f" "$B/$f" || fail "GET $f after the renewal"
done
openssl crl -inform DER -in "$T/issuing.crl" -noout -CAfile "$pki/chain.pem" 2>&1 | has 'verify OK' ||
	fail "issuing.crl does not verify after the renewal"
[ -s "$pki/crl/issuing-2.crl" ] && [ -s "$pki/crl/issuing-2-delta.crl" ] || fail "crld wrote no issuing-2 CRL files"
jq -e '.issuing_cas | map(.name) == ["issuing", "issuing-2"]' "$pki/crl/crld-cas.json" >/dev/null ||
	{ cat "$pki/crl/crld-cas.json"; fail "crld-cas.json does not list both issuing CAs"; }
note "crld serves issuing-2.crl (its CDP), -delta.crl and .crt, signed by issuing-2, and the old CA's documents"

# --- OCSP: good for the new certificate and for the old one ---------------------------------
ocsp_good() { # CERT ISSUER-PEM WANT
	local out
	for _ in $(seq 100); do
		out=$(ocsp_client -url "$url" -CAfile "$pki/root.pem" -issuer "$2" -cert "$1" -resp_text 2>&1 || true)
		grep -q ": $3" <<<"$out" && grep -q "Response verify OK" <<<"$out" && return 0
		sleep 0.1
	done
	echo "$out"
	return 1
}
ocsp_good "$T/n.pem" "$new" good || fail "OCSP: the new certificate not good (verified)"
ocsp_good "$T/old.pem" "$pki/issuing.pem" good || fail "OCSP: the certificate of issuing not good after the renewal"
note "OCSP: good for the certificate of issuing-2 and still for the one of issuing"

# --- revoked: on issuing-2's CRL, not on issuing's; OCSP revoked --------------------------------
nserial=$(openssl x509 -in "$T/n.pem" -noout -serial | cut -d= -f2)
pkictl cert revoke --issuer issuing-2 --serial "$nserial" --reason keyCompromise >"$T/rev.out" 2>&1 ||
	{ cat "$T/rev.out"; fail "cert revoke --issuer issuing-2"; }
# crld issues a complete CRL, then a delta, after a revocation: the
# complete one is what openssl verify gets below, so wait for it there (a
# new delta fetched after an old complete CRL is not enough).
listed=
for _ in $(seq 100); do
	curl -sf -o "$T/i2.crl" "$B/issuing-2.crl" &&
		openssl crl -inform DER -in "$T/i2.crl" -noout -text | grep -qi "Serial Number: *$nserial" &&
		{ listed=1; break; }
	sleep 0.1
done
[ -n "$listed" ] || fail "the revoked certificate is not on issuing-2's complete CRL within 10 s"
curl -sf -o "$T/issuing.crl" "$B/issuing.crl" && curl -sf -o "$T/issuing-delta.crl" "$B/issuing-delta.crl" || fail "GET issuing's CRLs"
if { openssl crl -inform DER -in "$T/issuing.crl" -noout -text; openssl crl -inform DER -in "$T/issuing-delta.crl" -noout -text; } |
	grep -qi "Serial Number: *$nserial"; then
	fail "issuing-2's revoked certificate is on a CRL of issuing"
fi
openssl verify -crl_check -CAfile "$pki/root.pem" -untrusted "$pki/chain-issuing-2.pem" \
	-CRLfile <(openssl crl -inform DER -in "$T/i2.crl") "$T/n.pem" >"$T/v.out" 2>&1 &&
	fail "openssl verify -crl_check accepted the revoked certificate"
has "certificate revoked" "$T/v.out" || { cat "$T/v.out"; fail "openssl verify -crl_check: not 'certificate revoked'"; }
ocsp_good "$T/n.pem" "$new" revoked || fail "OCSP: the revoked certificate not revoked"
ocsp_good "$T/old.pem" "$pki/issuing.pem" good || fail "OCSP: the certificate of issuing not good after the revocation"
note "revoked: on issuing-2's CRL, not on issuing's; OCSP revoked"

# --- crld started while PostgreSQL is down, from crld-cas.json: this one, and
# one as a crld of a single issuing CA wrote it (no issuing_cas) ---------------------------
crlnum() { echo $((16#$(openssl crl -inform DER -in "$1" -noout -crlnumber | cut -d= -f2 | sed 's/^0x//'))); }
for form in new old; do
	mkdir -p "$T/crl-$form"
	cp "$pki"/crl/*.crl "$T/crl-$form/"
done
cp "$pki/crl/crld-cas.json" "$T/crl-new/"
jq -c '{root, issuing}' "$pki/crl/crld-cas.json" >"$T/crl-old/crld-cas.json"
[ "$(id -u)" -ne 0 ] || chown -R pki-crl "$T/crl-new" "$T/crl-old"
chmod 0711 "$T"
pgpid=$(pidfile_of "$S" postgres)
[ -n "$pgpid" ] || fail "no PostgreSQL pid file"
kill -INT "$pgpid"
for _ in $(seq 200); do kill -0 "$pgpid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pgpid" 2>/dev/null || fail "PostgreSQL did not stop"
for form in new old; do
	port=$(free_port)
	PKI_CRL_PORT=$port PKI_CRL_OUT_DIR=$T/crl-$form PKI_CRL_INSTANCE=test-$form \
		"$BUILD/crld" --config "$PKI_CONFIG" >>"$T/crld-$form.log" 2>&1 &
	pid=$!
	at_exit "kill -TERM $pid 2>/dev/null || true"
	code() { curl -s -o "$T/down.crl" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/crl/$1"; }
	up=
	for _ in $(seq 100); do [ "$(code issuing.crl)" = 200 ] && { up=1; break; }; sleep 0.1; done
	[ -n "$up" ] && [ "$(crlnum "$T/down.crl")" = "$(crlnum "$T/crl-$form/issuing.crl")" ] ||
		{ cat "$T/crld-$form.log"; fail "crld ($form crld-cas.json, database down) does not serve issuing.crl of its files"; }
	if [ "$form" = new ]; then
		[ "$(code issuing-2.crl)" = 200 ] && [ "$(crlnum "$T/down.crl")" = "$(crlnum "$T/crl-new/issuing-2.crl")" ] &&
			[ "$(code issuing-2.crt)" = 200 ] ||
			{ cat "$T/crld-$form.log"; fail "crld (database down) does not serve issuing-2's CRL and certificate"; }
	else
		[ "$(code issuing-2.crl)" = 404 ] || fail "crld from a crld-cas.json of one issuing CA serves issuing-2.crl"
	fi
	kill -TERM "$pid"
	wait "$pid" || { cat "$T/crld-$form.log"; fail "crld ($form crld-cas.json) exited non-zero on SIGTERM"; }
done
stack_up "$S"
# Without PKI_CAD_ISSUER stack.env names issuing again, and its own
# responder (ocsp-issuing-2-1.pem is issuing-2's, though named ocsp-issuing-*).
for kv in "PKI_ISSUING_CERT=$pki/issuing.pem" "PKI_CHAIN=$pki/chain.pem" \
	"PKI_OCSP_CERT=$pki/ocsp-issuing.pem" "PKI_CRL_URL=$B/issuing.crl"; do
	[ "$(stack_get "$S" "${kv%%=*}")" = "${kv#*=}" ] ||
		fail "stack.env's ${kv%%=*} without PKI_CAD_ISSUER: $(stack_get "$S" "${kv%%=*}"), want ${kv#*=}"
done
note "PostgreSQL down: crld serves both issuing CAs' CRLs from crld-cas.json, and the one CA of a file an older crld wrote"

# --- an issuing CA's key missing: crld serves every CA, and signs for the others ---------------
# Until 2026-12-06 crld exited ("no private key labelled ...") when one
# issuing CA's key was not in the token, and every distribution point
# (issuing.crl, issuing-2.crl, root.crl, the .crt files) refused
# connections, though the CRLs were in its out_dir and the other key
# worked. Now that CA is left out of signing: its last CRLs and its
# certificate are still served, the log and /health name it, and the
# other CA's CRLs are issued as before. With no key at all, crld refuses.
crl_log=$(stack_get "$S" PKI_DIR)/log/crl.log
key2="(SELECT key_id FROM ca_certificate WHERE name = 'issuing-2')"
label2=$(q "SELECT key_label FROM ca_key WHERE id = $key2")
[ "$label2" = issuing-2 ] || fail "issuing-2's key label: $label2"
curl -sf -o "$T/i2.crl" "$B/issuing-2.crl" || fail "GET issuing-2.crl"
n2=$(crlnum "$T/i2.crl")
at_exit "sql_as '$STACK_PG' \"UPDATE ca_key SET key_label = '$label2' WHERE id = $key2\" >/dev/null 2>&1"
q "UPDATE ca_key SET key_label = 'issuing-2-gone' WHERE id = $key2" >/dev/null
lines=$(wc -l <"$crl_log")
restart crl
stack_up "$S"
tail -n +"$((lines + 1))" "$crl_log" >"$T/gone.log"
has 'issuing CA issuing-2: .*issuing-2-gone.*: its CRLs are not signed by this crld' "$T/gone.log" ||
	{ cat "$T/gone.log"; fail "crld does not say it leaves issuing-2, whose key is missing, out"; }
gone_up() { curl -sf -o /dev/null "$B/issuing-2.crl"; }
for _ in $(seq 100); do gone_up && break; sleep 0.1; done
for f in issuing.crl issuing-delta.crl issuing.crt issuing-2.crl issuing-2-delta.crl issuing-2.crt root.crl root.crt; do
	curl -sf -o "$T/gone-$f" "$B/$f" || { cat "$T/gone.log"; fail "GET $f with issuing-2's key missing"; }
done
[ "$(crlnum "$T/gone-issuing-2.crl")" = "$n2" ] || fail "issuing-2.crl with its key missing: CRL $(crlnum "$T/gone-issuing-2.crl"), want $n2"
cmp -s "$T/gone-issuing-2.crt" <(openssl x509 -in "$new" -outform DER) || fail "issuing-2.crt with its key missing is not its certificate"
curl -s -o "$T/gone.health" "${B%/crl}/health" || fail "GET /health"
jq -e '.status == "degraded" and .not_signed == ["issuing-2"]' "$T/gone.health" >/dev/null ||
	{ cat "$T/gone.health"; fail "/health with issuing-2's key missing: not degraded naming issuing-2"; }
# issuing's CRLs are still issued: a base on SIGHUP; none of issuing-2.
top=$(q "SELECT max(id) FROM crl")
kill -HUP "$(pidfile_of "$S" crl)"
base1() { [ "$(q "SELECT count(*) FROM crl c JOIN ca_certificate i ON i.id = c.issuer_id WHERE c.id > $top AND i.name = 'issuing' AND c.is_base")" -ge 1 ]; }
for _ in $(seq 100); do base1 && break; sleep 0.1; done
base1 || { tail -n +"$((lines + 1))" "$crl_log"; fail "no base CRL of issuing on SIGHUP with issuing-2's key missing"; }
sleep 1
[ "$(q "SELECT count(*) FROM crl c JOIN ca_certificate i ON i.id = c.issuer_id WHERE c.id > $top AND i.name = 'issuing-2'")" = 0 ] ||
	fail "a CRL of issuing-2 was issued with its key missing"
# No key at all: refused.
q "UPDATE ca_key SET key_label = key_label || '-gone' WHERE id = (SELECT key_id FROM ca_certificate WHERE name = 'issuing')" >/dev/null
st=0
PKI_CRL_OUT_DIR=$T/crl-new "$BUILD/crld" --config "$PKI_CONFIG" --once >"$T/nokey.out" 2>&1 || st=$?
q "UPDATE ca_key SET key_label = regexp_replace(key_label, '-gone$', '') WHERE id = (SELECT key_id FROM ca_certificate WHERE name = 'issuing')" >/dev/null
[ "$st" != 0 ] && has -E "none of the 2 granted keys is in the tokens|no issuing CA's key can sign CRLs" "$T/nokey.out" ||
	{ cat "$T/nokey.out"; fail "crld with no issuing CA's key: exit $st, want a refusal"; }
q "UPDATE ca_key SET key_label = '$label2' WHERE id = $key2" >/dev/null
# crld is restarted with the key back below, with ocspd (one stack_up for
# both: each costs seconds), the ended CA's rows already there: an issuing
# CA past its grace, which crld does not read.

# --- an issuing CA that has ended: ocspd starts and answers for the others --------------
# Once a renewed CA is past its notAfter no responder of it can be valid
# (nor made: profiles clamp to the issuer); ocspd skipped nothing then and
# refused to start, taking OCSP down for issuing-2 too. An ended CA and its
# responder, made with openssl ca (dates of 2020), stand in for it here.
ex=$T/ended
mkdir -p "$ex"
: >"$ex/index.txt"
echo 01 >"$ex/serial"
cat >"$ex/ca.cnf" <<CNF
[ ca ]
default_ca = d
[ d ]
dir = $ex
database = $ex/index.txt
new_certs_dir = $ex
serial = $ex/serial
default_md = sha256
policy = p
unique_subject = no
[ p ]
commonName = supplied
[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
[ v3_ocsp ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
CNF
for who in ca ocsp; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ex/$who.key" \
		-subj "/CN=Ended Issuing CA $who" -out "$ex/$who.csr" 2>/dev/null || fail "ended CA: req $who"
done
openssl ca -batch -config "$ex/ca.cnf" -selfsign -keyfile "$ex/ca.key" -in "$ex/ca.csr" -extensions v3_ca \
	-startdate 20200101000000Z -enddate 20210101000000Z -out "$ex/ca.pem" >"$ex/ca.out" 2>&1 ||
	{ cat "$ex/ca.out"; fail "ended CA: openssl ca -selfsign"; }
openssl ca -batch -config "$ex/ca.cnf" -cert "$ex/ca.pem" -keyfile "$ex/ca.key" -in "$ex/ocsp.csr" -extensions v3_ocsp \
	-startdate 20200101000000Z -enddate 20201201000000Z -out "$ex/ocsp.pem" >"$ex/ocsp.out" 2>&1 ||
	{ cat "$ex/ocsp.out"; fail "ended CA: its responder"; }
hexder() { openssl x509 -in "$1" -outform DER | od -An -v -tx1 | tr -d ' \n'; }
hexspki() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | od -An -v -tx1 | tr -d ' \n'; }
# add NAME ROLE KEY-LABEL PEM ISSUER-NAME NOT-AFTER: a ca_key and ca_certificate row.
add() {
	local spki der
	spki=$(hexspki "$4")
	der=$(hexder "$4")
	q "WITH k AS (INSERT INTO ca_key (role, token_label, key_label, key_type, spki, spki_sha256)
	    VALUES ('$2', 'ended', '$3', 'ec-p256', decode('$spki', 'hex'), encode(sha256(decode('$spki', 'hex')), 'hex'))
	    RETURNING id)
	    INSERT INTO ca_certificate (name, role, key_id, issuer_id, serial, subject, issuer, not_before, not_after, sha256, der)
	    SELECT '$1', '$2', k.id, (SELECT id FROM ca_certificate WHERE name = '$5'),
	        '$(openssl x509 -in "$4" -noout -serial | cut -d= -f2)', '$(openssl x509 -in "$4" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')',
	        '$(openssl x509 -in "$4" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')',
	        '2020-01-01Z', '$6', encode(sha256(decode('$der', 'hex')), 'hex'), decode('$der', 'hex') FROM k" >/dev/null ||
		fail "ended CA: inserting $1"
}
add ended issuing ended-ca "$ex/ca.pem" root 2021-01-01Z
add ocsp-ended-1 ocsp ended-ocsp "$ex/ocsp.pem" ended 2020-12-01Z
restart crl ocsp
stack_up "$S"
curl -s -o "$T/back.health" "${B%/crl}/health" && jq -e '.not_signed == []' "$T/back.health" >/dev/null ||
	{ cat "$T/back.health"; fail "/health with issuing-2's key back: still names it"; }
note "issuing-2's key missing: crld starts, serves every CA's CRLs and certificates, names it (log, /health degraded), issues issuing's; with no key at all, refuses"
has 'issuer ended ended at 2021-01-01T00:00:00Z: not answered for' "$(stack_get "$S" PKI_DIR)/log/ocsp.log" ||
	fail "ocspd did not say it skips the ended CA"
ocsp_good "$T/n.pem" "$new" revoked || fail "OCSP for issuing-2 with an ended CA in the database"
ocsp_good "$T/old.pem" "$pki/issuing.pem" good || fail "OCSP for issuing with an ended CA in the database"
note "an issuing CA that has ended (and its responder): ocspd starts, says it skips it, and answers for the others"

# --- at most CADB_MAX_ISSUING (8) issuing CAs not ended: crld serves no more --------------
# Six stand-ins (rows only, their notAfter in 2099) beside issuing and
# issuing-2: a ninth is refused before any key is made. A crld running
# meanwhile takes them: their certificates served, their keys (in no token
# of its) named in /health, and it goes on signing issuing's and issuing-2's.
# Its CA watch runs a round every second (reconcile_interval_seconds 1):
# the checks below count rounds (a message logged once over several), not
# seconds, and wait for as many rounds as at 2 s a round.
rec=1
mkdir -p "$T/crl-watch2"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$T/crl-watch2"
PKI_CRL_PORT=$wport PKI_CRL_OUT_DIR=$T/crl-watch2 PKI_CRL_INSTANCE=test-watch2 \
PKI_CRL_RECONCILE_INTERVAL_SECONDS=$rec \
	"$BUILD/crld" --config "$PKI_CONFIG" >"$T/crld-watch2.log" 2>&1 &
wpid=$!
at_exit "kill -TERM $wpid 2>/dev/null || true"
for _ in $(seq 100); do [ "$(wcode issuing-2.crl)" = 200 ] && break; sleep 0.1; done
[ "$(wcode issuing-2.crl)" = 200 ] || { cat "$T/crld-watch2.log"; fail "the second watching crld serves no issuing-2.crl"; }
for i in 1 2 3 4 5 6; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ex/s$i.key" -days 1 \
		-subj "/CN=Stand-in Issuing CA $i" -out "$ex/s$i.pem" 2>/dev/null || fail "stand-in $i"
	add "standin-$i" issuing "standin-$i" "$ex/s$i.pem" root 2099-01-01Z
done
keys0=$(q "SELECT count(*) FROM ca_key")
! pkictl ca issuing >"$T/nine.out" 2>&1 || fail "pkictl ca issuing made a ninth live issuing CA"
has '8 issuing CAs have not ended yet, as many as crld serves' "$T/nine.out" || { cat "$T/nine.out"; fail "the ninth: no reason"; }
[ "$(q "SELECT count(*) FROM ca_key")" = "$keys0" ] && ! grep -q 'generated' "$T/nine.out" ||
	{ cat "$T/nine.out"; fail "the refused ninth made a key"; }
note "a ninth issuing CA not ended is refused (crld serves 8), before a key is made"

standins_taken() {
	curl -s -o "$T/w2.health" "${W%/crl}/health" &&
		jq -e '.not_signed | sort == ["standin-1", "standin-2", "standin-3", "standin-4", "standin-5", "standin-6"]' \
			"$T/w2.health" >/dev/null
}
for _ in $(seq 100); do standins_taken && break; sleep 0.1; done
standins_taken || { cat "$T/w2.health" "$T/crld-watch2.log"; fail "the running crld did not take the stand-ins (left out of signing)"; }
[ "$(wcode standin-3.crt)" = 200 ] && cmp -s "$T/w.out" <(openssl x509 -in "$ex/s3.pem" -outform DER) ||
	fail "standin-3.crt of the running crld"
has 'issuing CA standin-1: its key is in token ended, not in hsm.ca_token' "$T/crld-watch2.log" ||
	{ cat "$T/crld-watch2.log"; fail "the running crld does not say why standin-1 is not signed"; }
# The others are still signed: a base of each on SIGHUP.
[ "$(wcode issuing.crl)" = 200 ] && n1=$(crlnum "$T/w.out")
[ "$(wcode issuing-2.crl)" = 200 ] && n2=$(crlnum "$T/w.out")
kill -HUP "$wpid"
bases() {
	[ "$(wcode issuing.crl)" = 200 ] && [ "$(crlnum "$T/w.out")" -gt "$n1" ] &&
		[ "$(wcode issuing-2.crl)" = 200 ] && [ "$(crlnum "$T/w.out")" -gt "$n2" ] &&
		openssl crl -inform DER -in "$T/w.out" -noout -verify -CAfile "$pki/chain-issuing-2.pem" 2>&1 | has 'verify OK'
}
for _ in $(seq 100); do bases && break; sleep 0.1; done
bases || { cat "$T/crld-watch2.log"; fail "with the stand-ins taken, the running crld issued no new base of issuing and issuing-2 on SIGHUP"; }

# --- a CA crld can never serve is logged once, not at every round of its CA watch -------
# Two more (over CRL_MAX_ISSUING): until 2026-12-06 each was logged every
# other round (only the last one refused was remembered), and a CA whose
# name is no file name, or without a CN, every round.
for i in 1 2; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ex/x$i.key" -days 1 \
		-subj "/CN=Extra Issuing CA $i" -out "$ex/x$i.pem" 2>/dev/null || fail "extra $i"
	add "extra-$i" issuing "extra-$i" "$ex/x$i.pem" root 2099-01-01Z
done
for _ in $(seq 100); do has -F 'issuing CA \"extra-2\" not served' "$T/crld-watch2.log" && break; sleep 0.1; done
sleep $((4 * rec))	# four more rounds of the CA watch
for i in 1 2; do
	[ "$(grep -c "extra-$i" "$T/crld-watch2.log")" = 1 ] ||
		{ grep extra "$T/crld-watch2.log"; fail "the running crld did not log extra-$i exactly once"; }
done
has -F 'CA watch: issuing CA \"extra-1\" not served: crld serves 8 issuing CAs already' "$T/crld-watch2.log" ||
	{ grep extra "$T/crld-watch2.log"; fail "the running crld does not say why extra-1 is not served"; }
note "two issuing CAs over the limit: each logged once over five rounds of the CA watch"

# --- an issuing CA held, then revoked by the root: still issued, /health and the log say so ---
# (the superuser holds and releases its row: pkictl refuses a hold of a CA
# certificate; pkictl revokes it) Until 2026-12-06 neither /health nor the
# log said anything. The root's CRL (the ARL) is signed only at a ceremony:
# until 2026-12-07 pkictl said nothing of it, /health said root.crl was not
# stale, and a leaf of the revoked CA verified with the CRLs served
# (openssl verify -crl_check_all) until someone ran `pkictl crl arl`. Now
# pkictl says to (and its audit event has arl_due), crld's /health says
# "arl_behind" (degraded, root.crl stale) and its log once, until an ARL
# listing the change is served.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/arl.key" \
	-subj "/CN=leaf of issuing-2 for the ARL" -out "$T/arl.csr" 2>/dev/null
pkictl cert issue --issuer issuing-2 --profile subscriber --csr "$T/arl.csr" >"$T/arl-leaf.pem" || fail "pkictl cert issue (issuing-2, ARL leaf)"
i2serial=$(q "SELECT serial FROM ca_certificate WHERE name = 'issuing-2'")
arl0=$(q "SELECT number FROM crl_current WHERE kind = 'full' AND issuer_id = (SELECT id FROM ca_certificate WHERE name = 'root')")
# verify_leaf OUT: the leaf of issuing-2 against the running crld's ARL and issuing-2.crl.
verify_leaf() {
	[ "$(wcode root.crl)" = 200 ] && openssl crl -inform DER -in "$T/w.out" -out "$T/arl.pem" &&
		[ "$(wcode issuing-2.crl)" = 200 ] && openssl crl -inform DER -in "$T/w.out" -out "$T/i2crl.pem" ||
		fail "GET root.crl and issuing-2.crl of the running crld"
	openssl verify -crl_check_all -CAfile "$pki/root.pem" -untrusted "$pki/issuing-2.pem" -CRLfile "$T/arl.pem" \
		-CRLfile "$T/i2crl.pem" "$T/arl-leaf.pem" >"$1" 2>&1
}
ca2_status() { q "UPDATE certificate SET revoked_at = $1, revocation_reason = $2, revoked_by = $3
    WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = 'root')
    AND serial = (SELECT serial FROM ca_certificate WHERE name = 'issuing-2')" >/dev/null; }
health_ca2() {
	curl -s -o "$T/w2.health" "${W%/crl}/health" && jq -e "$1" "$T/w2.health" >/dev/null
}
health_ca2 '.ca_revoked == {} and .arl_behind == null and .documents["/crl/root.crl"].stale == false' ||
	{ cat "$T/w2.health"; fail "/health names a revoked issuing CA, or an ARL behind, before any"; }
ca2_status 'now()' 6 "'test_renewal'"
at_exit "ca2_status NULL NULL NULL 2>/dev/null"
for _ in $(seq 100); do health_ca2 '.ca_revoked["issuing-2"].status == "on-hold"' && break; sleep 0.1; done
health_ca2 '.status == "degraded" and .ca_revoked["issuing-2"].status == "on-hold" and .ca_revoked["issuing-2"].reason == "certificateHold" and (.ca_revoked["issuing-2"].since | test("Z$")) and (.ca_revoked | keys) == ["issuing-2"]' ||
	{ cat "$T/w2.health" "$T/crld-watch2.log"; fail "/health does not say issuing-2's certificate is on hold"; }
for _ in $(seq 100); do health_ca2 '.arl_behind != null' && break; sleep 0.1; done
health_ca2 ".arl_behind.arl_number == $arl0 and (.arl_behind.since | test(\"Z\$\")) and .documents[\"/crl/root.crl\"].stale == true" ||
	{ cat "$T/w2.health" "$T/crld-watch2.log"; fail "/health does not say the ARL does not list the hold of issuing-2"; }
sleep $((2 * rec))
[ "$(grep -c 'issuing CA issuing-2: its own certificate was put on hold by its issuer' "$T/crld-watch2.log")" = 1 ] ||
	{ cat "$T/crld-watch2.log"; fail "the running crld did not log the hold of issuing-2 once"; }
ca2_status NULL NULL NULL
# Released before any ARL listed the hold: the ARL is right again.
for _ in $(seq 100); do health_ca2 '.ca_revoked == {} and .arl_behind == null' && break; sleep 0.1; done
health_ca2 '.ca_revoked == {} and .arl_behind == null and .documents["/crl/root.crl"].stale == false' ||
	{ cat "$T/w2.health"; fail "/health still names issuing-2, or the ARL behind, once released"; }
has 'issuing CA issuing-2: its own certificate is no longer revoked or on hold' "$T/crld-watch2.log" ||
	{ cat "$T/crld-watch2.log"; fail "the running crld does not say issuing-2 was released"; }
verify_leaf "$T/v.out" || { cat "$T/v.out"; fail "the leaf of issuing-2 does not verify with the CRLs before the revocation"; }
# keyCompromise is a subscriber's reason: a CA's key is cACompromise (RFC
# 5280 §5.3.1). Until 2026-12-07 pkictl took it.
a1=$(q "SELECT coalesce(max(id), 0) FROM audit_event")
st=0; pkictl cert revoke --issuer root --serial "$i2serial" --reason keyCompromise >"$T/kc.out" 2>&1 || st=$?
[ "$st" = 3 ] && has -F 'cACompromise, not keyCompromise (RFC 5280 §5.3.1)' "$T/kc.out" ||
	{ cat "$T/kc.out"; fail "cert revoke of issuing-2 with keyCompromise: exit $st, want 3 naming cACompromise"; }
[ "$(q "SELECT revoked_at IS NULL FROM certificate WHERE serial = '$i2serial'")" = t ] &&
	[ "$(q "SELECT count(*) FROM audit_event WHERE id > $a1 AND action = 'cert.revoke'")" = 0 ] ||
	fail "the refused keyCompromise revoked issuing-2, or wrote an event"
# A revocation is for good (the last step of this test).
l0=$(wc -l <"$T/crld-watch2.log")
pkictl cert revoke --issuer root --serial "$i2serial" --reason cACompromise >"$T/i2rev.out" 2>"$T/i2rev.err" ||
	{ cat "$T/i2rev.out" "$T/i2rev.err"; fail "cert revoke of issuing-2 (cACompromise)"; }
has -F 'run `pkictl crl arl` now' "$T/i2rev.err" ||
	{ cat "$T/i2rev.err"; fail "pkictl cert revoke of a CA the root issued does not say the ARL must be signed"; }
[ "$(q "SELECT details->>'arl_due' FROM audit_event WHERE id > $a1 AND action = 'cert.revoke'
    AND details->>'serial' = '$i2serial'")" = true ] || fail "the cert.revoke event of issuing-2 has no arl_due"
for _ in $(seq 100); do health_ca2 '.ca_revoked["issuing-2"].status == "revoked" and .arl_behind != null' && break; sleep 0.1; done
health_ca2 '.ca_revoked["issuing-2"].status == "revoked" and .ca_revoked["issuing-2"].reason == "cACompromise"' ||
	{ cat "$T/w2.health" "$T/crld-watch2.log"; fail "/health does not say issuing-2's certificate is revoked"; }
health_ca2 ".status == \"degraded\" and .arl_behind.arl_number == $arl0 and .arl_behind.since == .ca_revoked[\"issuing-2\"].since and .documents[\"/crl/root.crl\"].stale == true" ||
	{ cat "$T/w2.health" "$T/crld-watch2.log"; fail "/health does not say the ARL does not list the revocation of issuing-2 (arl_behind)"; }
# The gap the ARL leaves: the CRLs served still take the leaf.
verify_leaf "$T/v.out" || { cat "$T/v.out"; fail "test setup: the leaf of issuing-2 does not verify with the ARL before the revocation"; }
# Its CRLs are still issued: a base on SIGHUP.
[ "$(wcode issuing-2.crl)" = 200 ] && n2=$(crlnum "$T/w.out")
kill -HUP "$wpid"
issued2() { [ "$(wcode issuing-2.crl)" = 200 ] && [ "$(crlnum "$T/w.out")" -gt "$n2" ]; }
for _ in $(seq 100); do issued2 && break; sleep 0.1; done
issued2 || { cat "$T/crld-watch2.log"; fail "the running crld issued no base of the revoked issuing-2 on SIGHUP"; }
sleep $((2 * rec))
[ "$(grep -c 'issuing CA issuing-2: its own certificate was revoked by its issuer at .* (cACompromise): its CRLs are still issued' "$T/crld-watch2.log")" = 1 ] ||
	{ cat "$T/crld-watch2.log"; fail "the running crld did not log the revocation of issuing-2 once"; }
[ "$(tail -n +"$((l0 + 1))" "$T/crld-watch2.log" | grep -c "the root's CRL served (ARL $arl0) does not list 1 change(s)")" = 1 ] ||
	{ cat "$T/crld-watch2.log"; fail "the running crld did not log once that the ARL does not list the revocation"; }
# The ceremony: the next ARL lists it, /health clears, the leaf is refused.
pkictl crl arl >"$T/arl.out" 2>&1 || { cat "$T/arl.out"; fail "pkictl crl arl"; }
for _ in $(seq 100); do health_ca2 '.arl_behind == null' && break; sleep 0.1; done
health_ca2 ".arl_behind == null and .documents[\"/crl/root.crl\"].stale == false and .documents[\"/crl/root.crl\"].number > $arl0" ||
	{ cat "$T/w2.health" "$T/crld-watch2.log"; fail "/health still says arl_behind once a new ARL is served"; }
has "lists every change of the certificates the root issued: caught up" "$T/crld-watch2.log" ||
	{ cat "$T/crld-watch2.log"; fail "the running crld does not say the ARL caught up"; }
! verify_leaf "$T/v.out" || { cat "$T/v.out"; fail "openssl verify -crl_check_all took a leaf of the revoked issuing-2 with the new ARL"; }
has "certificate revoked" "$T/v.out" || { cat "$T/v.out"; fail "openssl verify -crl_check_all with the new ARL: not 'certificate revoked'"; }
note "issuing-2 held, released, revoked by the root (keyCompromise refused): its CRLs still issued; /health ca_revoked and the log (once each) said so; pkictl, /health arl_behind and the log said the ARL was due until \`pkictl crl arl\`, then the leaf was refused"
kill -TERM "$wpid"
wait "$wpid" || { cat "$T/crld-watch2.log"; fail "the second running crld exited non-zero on SIGTERM"; }
note "a running crld takes six CAs whose keys it cannot use: served, named in /health, the others still signed"

# --- an order naming an issuing CA that can no longer issue ends: failed ---------------
# Since schema/084 only a cad for the issuer an order names issues it, and
# none while that issuer's certificate is revoked or on hold; rad cancels no
# pending order. So an order agreed under an issuing CA since revoked for
# good waited for ever (as one under an issuer that had ended, with no cad
# left for it). Now any cad fails it (order.fail, last_error naming the
# issuer and why); on hold it waits, a hold may be released. standin-1
# gets its row under the root (as `pkictl ca issuing` makes one) and is put
# on hold (by SQL: pkictl holds no CA certificate), then revoked.
s1serial=$(openssl x509 -in "$ex/s1.pem" -noout -serial | cut -d= -f2)
q "INSERT INTO certificate (issuer_id, serial, subject, profile, not_before, not_after, sha256, der)
    SELECT r.id, i.serial, i.subject, 'issuing-ca', i.not_before, i.not_after, i.sha256, i.der
    FROM ca_certificate i, ca_certificate r WHERE i.name = 'standin-1' AND r.name = 'root'" >/dev/null ||
	fail "standin-1's certificate row"
q "UPDATE certificate SET revoked_at = now(), revocation_reason = 6, revoked_by = 'test_renewal'
    WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = 'root') AND serial = '$s1serial'" >/dev/null
held_order=$(pkictl order add --kind personal --profile personal --key-type ec-p256 --issuer standin-1 \
	--subject '{"C":"ID","CN":"Agreed Under Standin","serialNumber":"NIK:3174012345670014"}') || fail "order add --issuer standin-1"
ended_order=$(pkictl order add --kind personal --profile personal --key-type ec-p256 --issuer ended \
	--subject '{"C":"ID","CN":"Agreed Under Ended","serialNumber":"NIK:3174012345670015"}') || fail "order add --issuer ended"
pkictl order show --id "$held_order" >"$T/show.out" || fail "order show --id $held_order"
[ "$(sed -n 's/^issuer\t//p' "$T/show.out")" = standin-1 ] && [ "$(sed -n 's/^status\t//p' "$T/show.out")" = pending ] ||
	{ cat "$T/show.out"; fail "order show does not name the order's issuer (standin-1)"; }
pkictl order show --id "$order" >"$T/show.out" && [ "$(grep -c "^issuer	" "$T/show.out")" = 1 ] &&
	[ -z "$(sed -n 's/^issuer\t//p' "$T/show.out")" ] || { cat "$T/show.out"; fail "order show of an order naming no issuer"; }
# A cad --once looks at once: the ended issuer's order fails, the held one waits.
PKI_CAD_ISSUER=issuing PKI_CAD_INSTANCE=once-ended "$BUILD/cad" --config "$PKI_CONFIG" --once >"$T/cad-ended.log" 2>&1 ||
	{ cat "$T/cad-ended.log"; fail "cad --once (orders of ended issuers)"; }
[ "$(q "SELECT status || ' ' || attempts FROM issuance_order WHERE id = $ended_order")" = "failed 1" ] ||
	{ cat "$T/cad-ended.log"; fail "the order naming an issuing CA that ended is not failed: $(q "SELECT status, last_error FROM issuance_order WHERE id = $ended_order")"; }
[ "$(q "SELECT last_error FROM issuance_order WHERE id = $ended_order")" = \
	"the issuing CA ended ended at 2021-01-01T00:00:00Z: no certificate is issued under it; the subscriber must agree again" ] ||
	fail "last_error of the ended issuer's order: $(q "SELECT last_error FROM issuance_order WHERE id = $ended_order")"
[ "$(q "SELECT status || ' ' || attempts FROM issuance_order WHERE id = $held_order")" = "pending 0" ] ||
	fail "an order naming an issuing CA on hold did not wait: $(q "SELECT status, last_error FROM issuance_order WHERE id = $held_order")"
# Revoked for good: the running cad (of issuing-2) fails it, within its rounds.
# --sign-arl: the ARL signed right after, at the same ceremony.
arl1=$(q "SELECT number FROM crl_current WHERE kind = 'full' AND issuer_id = (SELECT id FROM ca_certificate WHERE name = 'root')")
pkictl cert revoke --issuer root --serial "$s1serial" --reason cACompromise --sign-arl >"$T/s1rev.out" 2>&1 ||
	{ cat "$T/s1rev.out"; fail "cert revoke --sign-arl of standin-1's certificate"; }
has "^ARL $((arl1 + 1)) of the root issued" "$T/s1rev.out" && ! has -F 'run `pkictl crl arl` now' "$T/s1rev.out" ||
	{ cat "$T/s1rev.out"; fail "cert revoke --sign-arl did not sign ARL $((arl1 + 1))"; }
q "SELECT encode(der, 'hex') FROM crl_current WHERE kind = 'full' AND issuer_id = (SELECT id FROM ca_certificate WHERE name = 'root')" |
	xxd -r -p | openssl crl -inform DER -noout -text | has -i "Serial Number: *$s1serial" ||
	fail "the ARL signed by --sign-arl does not list standin-1"
for _ in $(seq 150); do
	[ "$(q "SELECT status FROM issuance_order WHERE id = $held_order")" = failed ] && break
	sleep 0.1
done
[ "$(q "SELECT status || ' ' || attempts FROM issuance_order WHERE id = $held_order")" = "failed 1" ] ||
	fail "an order naming a revoked issuing CA still waits after 15 s: $(q "SELECT status, attempts FROM issuance_order WHERE id = $held_order")"
has -E "^the issuing CA standin-1 was revoked at [0-9T:-]+Z \(cACompromise\): no certificate is issued under it" \
	<<<"$(q "SELECT last_error FROM issuance_order WHERE id = $held_order")" ||
	fail "last_error of the revoked issuer's order: $(q "SELECT last_error FROM issuance_order WHERE id = $held_order")"
for o in "$held_order" "$ended_order"; do
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'order.fail' AND object_id = '$o' AND actor LIKE 'cad:%'
	    AND details->>'error' = (SELECT last_error FROM issuance_order WHERE id = $o)")" = 1 ] ||
		fail "order $o: not one order.fail audit event naming its error"
	[ "$(q "SELECT certificate_id IS NULL FROM issuance_order WHERE id = $o")" = t ] || fail "order $o: a certificate"
done
pkictl order show --id "$held_order" >"$T/show.out" && has -P "^status\tfailed$" "$T/show.out" &&
	has -P "^issuer\tstandin-1$" "$T/show.out" || { cat "$T/show.out"; fail "order show of the failed order"; }
note "orders naming an issuing CA that ended or was revoked fail (audited, last_error says why); on hold one waits; order show names the issuer"
