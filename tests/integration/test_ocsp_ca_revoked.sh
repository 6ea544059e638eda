#!/usr/bin/env bash
# ocspd once the issuing CA's own certificate is revoked for good by the
# root (ocsp/README.md "An issuing CA revoked"), on a stack of its own: its
# `issuing` CA is revoked here, never the shared stack's.
# Until 2026-12-07 ocspd took each answer from the leaf's own row only: a
# certificate of a CA whose key was compromised was answered `good` (fresh
# thisUpdate, pre-signed answers refreshed, nonce answers too) and /health
# stayed ok, so a client that checks OCSP for the end certificate only
# accepted it. Now, as EJBCA does:
# - a leaf of the revoked CA, asked without a nonce (the pre-signed answer,
#   signed before the revocation, is dropped) and with one: revoked,
#   cACompromise, revocationTime the CA's own;
# - a leaf revoked (keyCompromise) before the CA was: its own time and reason;
# - a leaf on hold since before the CA was revoked: its hold and the hold's
#   time, the earlier (until 2026-12-07 cACompromise at the CA's later time:
#   what was signed during the hold seemed to predate any revocation, and
#   the answer disagreed with the issuing CA's CRL);
# - a serial the CA never issued: revoked, cACompromise, the CA's time,
#   with the extended revoked definition extension and nextUpdate within
#   the hour, as any never-issued answer (until 2026-12-07: neither, and
#   the 4 days of an issued certificate's);
# - /health: degraded, "ca_revoked" naming the CA (crld's shape);
# - the same after ocspd starts again with the CA already revoked.
. "$(dirname "$0")/lib.sh"
T=$(test_tmpdir)
S=$T/stack
stack_new "$S"
stack_use "$S"
pki=$PKI_DIR/pki
url=$(stack_get "$S" PKI_OCSP_URL)

issue() {	# issue NAME: $T/NAME.pem, a subscriber certificate of issuing
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" \
		-subj "/CN=ca revoked $1" -out "$T/$1.csr" 2>/dev/null
	pkictl cert issue --issuer issuing --profile subscriber --csr "$T/$1.csr" >"$T/$1.pem" ||
		fail "pkictl cert issue ($1)"
}
serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
# ask OUT ARGS...: openssl ocsp about a certificate of issuing, verified
# against the root; the text into $T/OUT.
ask() {
	local out=$1
	shift
	openssl ocsp -url "$url" -CAfile "$pki/root.pem" -issuer "$pki/issuing.pem" "$@" >"$T/$out" 2>&1 ||
		{ cat "$T/$out"; fail "openssl ocsp $out"; }
	has -F 'Response verify OK' "$T/$out" || { cat "$T/$out"; fail "$out: the response does not verify"; }
}
# revoked_as OUT REASON TIME: $T/OUT says revoked, with that reason and time.
revoked_as() {
	grep -q ': revoked$' "$T/$1" && grep -q "Reason: $2\$" "$T/$1" &&
		grep -qF "Revocation Time: $3" "$T/$1" ||
		{ cat "$T/$1"; fail "$1: not revoked, $2, $3"; }
}
# The database's time of a revocation as openssl prints it ("Dec  7 13:05:07 2026 GMT").
rtime() {
	date -u -d "@$(q "SELECT extract(epoch FROM date_trunc('second', revoked_at))::bigint
	    FROM certificate WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = '$1')
	    AND serial = '$2'")" '+%b %e %H:%M:%S %Y GMT'
}

issue leaf
issue early
issue held
ls=$(serial "$T/leaf.pem")
es=$(serial "$T/early.pem")
hs=$(serial "$T/held.pem")
pkictl cert revoke --issuer issuing --serial "$es" --reason keyCompromise >"$T/early.rev" 2>&1 ||
	{ cat "$T/early.rev"; fail "cert revoke (early)"; }
etime=$(rtime issuing "$es")
pkictl cert revoke --issuer issuing --serial "$hs" --reason certificateHold >"$T/held.rev" 2>&1 ||
	{ cat "$T/held.rev"; fail "cert revoke --reason certificateHold (held)"; }
htime=$(rtime issuing "$hs")
# Loaded and pre-signed while the CA is good: the cached answer to drop.
for _ in $(seq 50); do
	ask before -cert "$T/leaf.pem" -no_nonce
	has -F ': good' "$T/before" && break
	sleep 0.1
done
has -F ': good' "$T/before" || { cat "$T/before"; fail "leaf not good before the CA is revoked"; }
curl -sf -o "$T/h0" "$url/health" && jq -e '(.ca_revoked // {}) == {} and .status == "ok"' "$T/h0" >/dev/null ||
	{ cat "$T/h0"; fail "/health names a revoked CA before any is"; }
sleep 1.1	# the CA's revocation a second after early's and held's, at least

# --- the root revokes the issuing CA's own certificate -----------------------------------
is=$(serial "$pki/issuing.pem")
pkictl cert revoke --issuer root --serial "$is" --reason cACompromise >"$T/ca.rev" 2>&1 ||
	{ cat "$T/ca.rev"; fail "cert revoke --issuer root (the issuing CA)"; }
ctime=$(rtime root "$is")
[ "$ctime" != "$etime" ] || fail "early and the CA revoked in the same second"
[ "$ctime" != "$htime" ] || fail "held and the CA revoked in the same second"

check() {	# check WHEN: what every answer says with the CA revoked
	local w=$1
	for _ in $(seq 50); do
		ask "$w.leaf" -cert "$T/leaf.pem" -no_nonce
		has -F ': revoked' "$T/$w.leaf" && break
		sleep 0.1
	done
	revoked_as "$w.leaf" cACompromise "$ctime"
	ask "$w.nonce" -cert "$T/leaf.pem"
	has -F 'WARNING: no nonce' "$T/$w.nonce" && fail "$w: the nonce was not echoed"
	revoked_as "$w.nonce" cACompromise "$ctime"
	ask "$w.early" -cert "$T/early.pem" -no_nonce
	revoked_as "$w.early" keyCompromise "$etime"
	ask "$w.held" -cert "$T/held.pem" -no_nonce
	revoked_as "$w.held" certificateHold "$htime"
	ask "$w.never" -serial 0x7EADBEEF0123456789 -no_nonce -resp_text -respout "$T/$w.never.der"
	revoked_as "$w.never" cACompromise "$ctime"
	# Never issued: the extended revoked definition extension (RFC 6960 §2.2,
	# id-pkix-ocsp-extended-revoke, 1.3.6.1.5.5.7.48.1.9, DER 06 09 2B 06 01
	# 05 05 07 30 01 09) and the never-issued validity, an hour.
	od -An -v -tx1 "$T/$w.never.der" | tr -d ' \n' | grep -q 06092b0601050507300109 ||
		{ cat "$T/$w.never"; fail "$w: never issued, revoked, without the extended revoked definition extension"; }
	tu=$(date -u -d "$(sed -n 's/^ *This Update: //p' "$T/$w.never" | head -1)" +%s)
	nu=$(date -u -d "$(sed -n 's/^ *Next Update: //p' "$T/$w.never" | head -1)" +%s)
	[ $((nu - tu)) -gt 0 ] && [ $((nu - tu)) -le 3600 ] ||
		{ cat "$T/$w.never"; fail "$w: never issued, nextUpdate $((nu - tu)) s after thisUpdate (an hour at most)"; }
	curl -s -o "$T/$w.health" "$url/health"
	jq -e '.status == "degraded" and .ca_revoked.issuing.status == "revoked" and
	    .ca_revoked.issuing.reason == "cACompromise" and (.ca_revoked | length) == 1' \
		"$T/$w.health" >/dev/null || { cat "$T/$w.health"; fail "$w: /health does not name issuing as revoked"; }
}
check running
has -F 'ocsp: issuer issuing: its own certificate was revoked by its issuer' "$PKI_DIR/log/ocsp.log" ||
	fail "ocspd did not log the issuing CA's revocation"

# --- ocspd started again with the CA already revoked -------------------------------------
stack_stop "$S" ocsp
stack_up "$S"
check restarted
echo "ok"
