#!/usr/bin/env bash
# tsad once its TSA certificate, or its issuing CA's own certificate, is
# on hold or revoked (tsa/README.md "Revoked or on hold"), on a stack of
# its own: the shared stack's TSA and issuing CA are never revoked.
# Until 2026-12-07 nothing in tsad read revocations: after `pkictl cert
# revoke --reason keyCompromise` of its certificate it granted tokens,
# /health ok, also after a restart. Now:
# - the TSA certificate on hold: within a few seconds every query gets
#   rejection, systemFailure, nothing signed or recorded; /health 503
#   naming it (cert_revoked); logged once; the hold released: tokens again;
# - the same for the issuing CA's own certificate on hold (by the root);
# - a newer TSA certificate (tsa-2) revoked: tsad restarted signs with
#   the older one, valid (until 2026-12-07 the dates alone chose tsa-2);
# - the TSA certificate revoked for good (keyCompromise), then tsad
#   restarted: it starts (as with no certificate valid now), says so,
#   refuses every query and /health 503.
. "$(dirname "$0")/lib.sh"
T=$(test_tmpdir)
S=$T/stack
stack_new "$S"
stack_use "$S"
pki=$PKI_DIR/pki
url=$(stack_get "$S" PKI_TSA_URL)
log=$PKI_DIR/log/tsa.log
serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
tsa_serial=$(serial "$(stack_get "$S" PKI_TSA_CERT)")
issuing_serial=$(serial "$pki/issuing.pem")
cat "$pki/tsa.pem" "$pki/issuing.pem" >"$T/untrusted.pem"
echo "revoked tsa document" >"$T/doc"
openssl ts -query -data "$T/doc" -sha256 -cert -out "$T/q.tsq" 2>/dev/null

# ask NAME: POSTs the query; the reply's text in $T/NAME.txt.
ask() {
	local code
	code=$(curl -sS -o "$T/$1.tsr" -w '%{http_code}' -H 'Content-Type: application/timestamp-query' \
		--data-binary "@$T/q.tsq" "$url/")
	[ "$code" = 200 ] || fail "$1: HTTP $code"
	openssl ts -reply -in "$T/$1.tsr" -text >"$T/$1.txt" 2>&1 || true
}
granted() {
	ask "$1"
	grep -q '^Status: Granted.$' "$T/$1.txt" || { cat "$T/$1.txt"; fail "$1: not granted"; }
	openssl ts -verify -in "$T/$1.tsr" -queryfile "$T/q.tsq" -CAfile "$pki/root.pem" \
		-untrusted "$T/untrusted.pem" >/dev/null 2>&1 || fail "$1: the token does not verify"
}
refused() {
	ask "$1"
	grep -q '^Status: Rejected.$' "$T/$1.txt" &&
		grep -q 'Failure info: the request cannot be handled due to system failure$' "$T/$1.txt" &&
		grep -q 'revoked or on hold' "$T/$1.txt" ||
		{ cat "$T/$1.txt"; fail "$1: want rejection, systemFailure (revoked or on hold)"; }
}
# health: /health's HTTP status and the fields asked (jq paths).
health() {
	local code
	code=$(curl -sS -o "$T/h" -w '%{http_code}' "$url/health")
	echo "$code $(jq -r "[$1] | map(tostring) | join(\" \")" "$T/h")"
}
# until_health WANT PATHS: /health says WANT within 15 s, 3 times in a
# row, then a poll's time more: each worker polls on its own
# (TSA_CERT_POLL_S, 2 s) and the answer comes from any of them.
until_health() {
	local i n=0
	for ((i = 0; i < 150; i++)); do
		if [ "$(health "$2")" = "$1" ]; then
			n=$((n + 1))
			[ "$n" -ge 3 ] && { sleep 2.5; return 0; }
		else
			n=0
		fi
		sleep 0.1
	done
	fail "/health: want '$1' for $2, have $(cat "$T/h")"
}
tokens() { q "SELECT count(*) FROM tsa_token"; }

granted before
until_health "200 ok null" '.status, .cert_revoked'

# --- the TSA certificate on hold, then released ---------------------------------
# pkictl refuses certificateHold for a certificate in ca_certificate (the
# TSA's too): the hold is made in SQL, as test_sign_issuer does, and
# released with pkictl.
hold() {	# hold ISSUER-NAME SERIAL
	[ "$(q "UPDATE certificate SET revoked_at = now(), revocation_reason = 6
	    WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = '$1')
	    AND serial = '$2' AND revoked_at IS NULL RETURNING 1")" = 1 ] ||
		fail "no certificate $2 of $1 to hold"
}
hold issuing "$tsa_serial"
until_health "503 degraded tsa certificateHold $tsa_serial" \
	'.status, .cert_revoked.certificate, .cert_revoked.reason, .cert_revoked.serial'
sleep 0.5	# the records of the token above: in the database
n0=$(tokens)
for i in 1 2 3 4; do refused "held$i"; done
sleep 0.5
[ "$(tokens)" = "$n0" ] || fail "tokens recorded while the TSA certificate was on hold: $(tokens) against $n0"
grep -q 'certificate status: the TSA certificate tsa (serial '"$tsa_serial"') is on hold (certificateHold' "$log" ||
	{ tail -n 20 "$log"; fail "the hold not logged"; }
n=$(grep -c 'the TSA certificate tsa (serial .*) is on hold' "$log")
w=$(grep -c 'serving RFC 3161' "$log")
[ "$n" -le "$w" ] || { tail -n 20 "$log"; fail "the hold logged $n times by $w worker(s): want once each"; }
note "the TSA certificate on hold: every query systemFailure, nothing recorded, /health 503"

pkictl cert release --serial "$tsa_serial" >"$T/release.out" 2>&1 ||
	{ cat "$T/release.out"; fail "cert release (tsa)"; }
until_health "200 ok null" '.status, .cert_revoked'
granted released
grep -q 'is no longer revoked or on hold (the hold was released): tokens are issued again' "$log" ||
	{ tail -n 20 "$log"; fail "the release not logged"; }
note "the hold released: tokens again, /health 200"

# --- the issuing CA's own certificate on hold (by the root) ---------------------
hold root "$issuing_serial"
until_health "503 degraded issuer issuing certificateHold" \
	'.status, .cert_revoked.certificate, .cert_revoked.name, .cert_revoked.reason'
refused iheld
pkictl cert release --issuer root --serial "$issuing_serial" >"$T/irelease.out" 2>&1 ||
	{ cat "$T/irelease.out"; fail "cert release (issuing)"; }
until_health "200 ok null" '.status, .cert_revoked'
granted ireleased
note "the issuing CA's certificate on hold: refused; released: tokens again"

# --- a newer TSA certificate revoked: the older one valid is chosen -------------
# Until 2026-12-07 the dates alone chose: tsad restarted signed with the
# newer, revoked, tsa-2.
pkictl ca tsa >"$T/tsa2.out" 2>&1 && [ -s "$pki/tsa-2.pem" ] || { cat "$T/tsa2.out"; fail "ca tsa did not make tsa-2"; }
pkictl cert revoke --serial "$(serial "$pki/tsa-2.pem")" --reason keyCompromise >"$T/revoke2.out" 2>&1 ||
	{ cat "$T/revoke2.out"; fail "cert revoke --reason keyCompromise (tsa-2)"; }
restart_tsa() {
	local lines
	lines=$(wc -l <"$log")
	stack_stop "$S" tsa
	stack_up "$S"
	tail -n +"$((lines + 1))" "$log" >"$T/restart.log"
	grep -q 'serving RFC 3161' "$T/restart.log" || { cat "$T/restart.log"; fail "tsad did not start again"; }
}
restart_tsa
grep -q 'serving RFC 3161 .*certificate tsa, id' "$T/restart.log" ||
	{ cat "$T/restart.log"; fail "restarted with tsa-2 revoked: not serving with tsa"; }
until_health "200 ok null" '.status, .cert_revoked'
granted older
# stack.env names the certificate clients check tokens against: tsad's.
[ "$(stack_get "$S" PKI_TSA_CERT)" = "$pki/tsa.pem" ] ||
	fail "stack.env's PKI_TSA_CERT is $(stack_get "$S" PKI_TSA_CERT), not tsad's $pki/tsa.pem"
note "a newer TSA certificate revoked: tsad restarted signs with the older one, valid, and stack.env names it"

# --- revoked for good, and tsad restarted -----------------------------------------
pkictl cert revoke --serial "$tsa_serial" --reason keyCompromise >"$T/revoke.out" 2>&1 ||
	{ cat "$T/revoke.out"; fail "cert revoke --reason keyCompromise (tsa)"; }
until_health "503 degraded keyCompromise" '.status, .cert_revoked.reason'
refused revoked
# Both revoked now: tsad starts (as with no certificate valid now), says
# so, and refuses every query.
restart_tsa
grep -q 'at start: the TSA certificate tsa.* (serial .*) is revoked (keyCompromise' "$T/restart.log" ||
	{ cat "$T/restart.log"; fail "the revocation not said at start"; }
until_health "503 degraded tsa keyCompromise" '.status, .cert_revoked.certificate, .cert_revoked.reason'
n0=$(tokens)
refused restarted
sleep 0.5
[ "$(tokens)" = "$n0" ] || fail "a token recorded after the restart with the certificate revoked"
note "revoked for good, tsad restarted: it starts, refuses every query (systemFailure), /health 503"
note ok
