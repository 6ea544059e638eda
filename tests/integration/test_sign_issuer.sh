#!/usr/bin/env bash
# signd and the issuing CA's own certificate (schema/100, hsm/README.md
# "The SAM's requests"): while the stack's issuing CA is on hold, signd
# refuses to authorize, to sign with a new SAD and with one issued before
# the hold (400 invalid_request, as for a held subscriber certificate,
# audited as sign.refused / sign.authorize_refused with error
# credential_status), nothing is consumed or signed, and credentials/info
# says suspended/disabled. A hold of the CA in progress makes signHash wait
# for its commit (the CA row's sign lock) and then refuse. Released, the
# same SAD signs and a new authorization works again. The hold is released
# at exit whatever happens: every later test on this stack issues under
# that CA (a revocation for good would break them; the SAM's check does not
# depend on the reason).
#
# Then `pkictl sigservice disable` and the SAM's requests (schema/107): a
# disable waits for a signHash of its service in progress (here waiting
# for the credential's sign lock), which signs, and is stamped and audited
# after it; a signHash or an authorize that comes while a disable is in
# progress waits for it, then is refused (401 invalid_token), nothing made.
# A subscriber's revoke of the service's grant is ordered the same way
# (schema/113), refused with 400 invalid_request.
# A SAD or an access token that expires while signHash waits for the sign
# lock is refused: the SAM compares with the time after the wait.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
subscriber_env
touch "$tmp/details"
pw='Signer-Horse7'
expect() {
	[ "$code" = "$1" ] || fail "$3: HTTP $code, expected $1: $(cat "$tmp/out")"
	if [ "$1" -ge 400 ]; then
		[ "$(jq -r .error "$tmp/out")" = "$2" ] || fail "$3: error $(jq -r .error "$tmp/out"), expected $2"
	fi
}
desc() { jq -r .error_description "$tmp/out"; }
state() {
	q "SELECT (SELECT count(*) FROM sign_sad) || '/' ||
	    (SELECT coalesce(sum(remaining), 0) FROM sign_sad) || '/' ||
	    (SELECT count(*) FROM sign_sad_hash WHERE used_at IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM audit_event WHERE action IN ('sign.hash', 'sign.authorize'))"
}
info() { # info CRED: cert.status/key.status
	sreq credentials/info "{\"credentialID\":\"$1\"}" "$at"
	[ "$code" = 200 ] || fail "credentials/info: HTTP $code $(cat "$tmp/out")"
	jq -r '.cert.status + "/" + .key.status' "$tmp/out"
}
last_refusal() { # last_refusal ACTION: error of the newest such event for $cred
	q "SELECT details->>'error' FROM audit_event WHERE action = '$1' AND object_id = '$cred' ORDER BY id DESC LIMIT 1"
}

pkictl sigservice add --name "issuer-$$" >"$tmp/svc" || fail "pkictl sigservice add"
cid=$(sed -n 's/^client_id\t//p' "$tmp/svc")
csec=$(sed -n 's/^client_secret\t//p' "$tmp/svc")
code=$(curl -sS -X POST -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "grant_type=client_credentials&client_id=$cid&client_secret=$csec" "$surl/oauth2/token")
[ "$code" = 200 ] || fail "oauth2/token: $code $(cat "$tmp/out")"
at=$(jq -r .access_token "$tmp/out")
account "issuer-$$@example.com" +6281277772001 402917
subtok=$tok
grant "$subtok" "$(sed -n 's/^id\t//p' "$tmp/svc")"
cred=$(issue "$aid" personal personal ec-p256 "Issuer Hold")
cert_pem "$cred" "$tmp/c.pem"
iss=$(q "SELECT ri.serial FROM certificate c JOIN ca_certificate ri ON ri.id = c.issuer_id WHERE c.id = $cred")
carow=$(q "SELECT rx.id FROM certificate c JOIN ca_certificate ri ON ri.id = c.issuer_id
    JOIN certificate rx ON rx.issuer_id = ri.issuer_id AND rx.serial = ri.serial WHERE c.id = $cred")
[ -n "$iss" ] && [ -n "$carow" ] || fail "no certificate row for the issuing CA"
[ "$(info "$cred")" = valid/enabled ] || fail "info before the hold: $(cat "$tmp/out")"

# A SAD issued before the hold, for two hashes: one signed now, one kept.
hashes sha256 2
authorize "$cred" "$H" $SHA256 '"PIN":"402917"'
expect 200 - "authorize before the hold"
sad=$SAD
Hall=$H
H0=$(jq -c '[.[0]]' <<<"$Hall")
H1=$(jq -c '[.[1]]' <<<"$Hall")
cp "$tmp/h1.bin" "$tmp/kept.bin"
signhash "$cred" "$sad" "$H0" $SHA256 $EC
expect 200 - "signHash before the hold"
verify "$tmp/c.pem" 0

# The hold of the issuing CA, in progress in an open transaction: signHash
# waits for its commit, then refuses. The release runs at exit however
# this test ends (registered before the hold).
at_exit "\"\$PKICTL\" --config \"\$PKI_CONFIG\" cert release --serial $iss --issuer root >/dev/null 2>&1 || true"
s0=$(state)
signhash_racing "UPDATE certificate SET revoked_at = now(), revocation_reason = 6 WHERE id = $carow" \
	"the hold of its issuing CA" "$cred" "$sad" "$H1" $SHA256 $EC
expect 400 invalid_request "signHash while the issuing CA is being held"
desc | has -F "issuing CA certificate is suspended" || fail "issuer held: $(desc)"
[ "$(state)" = "$s0" ] || fail "a refused signHash changed state: $s0 -> $(state)"
[ "$(last_refusal sign.refused)" = credential_status ] || fail "sign.refused: $(last_refusal sign.refused)"
note "a hold of the issuing CA in progress: signHash waited, then refused"

# Held: the outstanding SAD, a new authorization and info.
signhash "$cred" "$sad" "$H1" $SHA256 $EC
expect 400 invalid_request "signHash with an outstanding SAD, the issuing CA held"
hashes sha256 1
authorize "$cred" "$H" $SHA256 '"PIN":"402917"'
expect 400 invalid_request "authorize, the issuing CA held"
desc | has -F "issuing CA certificate is suspended" || fail "authorize, issuer held: $(desc)"
[ "$(last_refusal sign.authorize_refused)" = credential_status ] ||
	fail "sign.authorize_refused: $(last_refusal sign.authorize_refused)"
[ "$(state)" = "$s0" ] || fail "refusals changed state: $s0 -> $(state)"
[ "$(info "$cred")" = suspended/disabled ] || fail "info, the issuing CA held: $(cat "$tmp/out")"
# rad sends no sign code that signd would refuse (until 2026-12-07 it did).
rreq POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"sign\",\"credential_id\":\"$cred\",\"hash_algo\":\"sha256\",\"hashes\":$H}" "$tok"
[ "$code" = 409 ] && jq -r .detail "$tmp/out" | has -F "issuing CA" ||
	fail "a sign code, the issuing CA held: HTTP $code $(cat "$tmp/out")"
note "issuing CA held: authorize, signHash refused; info suspended/disabled; no sign code"

# Released: the kept SAD signs its second hash, and a new one works.
pkictl cert release --serial "$iss" --issuer root >"$tmp/rel.out" 2>&1 || fail "release: $(cat "$tmp/rel.out")"
signhash "$cred" "$sad" "$H1" $SHA256 $EC
expect 200 - "signHash with the kept SAD after the release"
cp "$tmp/kept.bin" "$tmp/h0.bin"
verify "$tmp/c.pem" 0
hashes sha256 1
authorize "$cred" "$H" $SHA256 '"PIN":"402917"'
expect 200 - "authorize after the release"
signhash "$cred" "$SAD" "$H" $SHA256 $EC
expect 200 - "signHash after the release"
verify "$tmp/c.pem" 0
[ "$(info "$cred")" = valid/enabled ] || fail "info after the release: $(cat "$tmp/out")"
rreq POST /v1/otp "{\"channel\":\"sms\",\"purpose\":\"sign\",\"credential_id\":\"$cred\",\"hash_algo\":\"sha256\",\"hashes\":$H}" "$tok"
[ "$code" = 201 ] || fail "a sign code after the release: HTTP $code $(cat "$tmp/out")"
for s in "${secrets[@]}"; do
	! has -F -- "$s" "$tmp/details" || fail "a secret in an error_description"
done
note "released: signs again"

# === sigservice disable and the SAM (schema/107) ================================
# newsvc NAME: a service the subscriber granted and an access token of it;
# sets svc_id, svc_at.
newsvc() {
	local c s
	pkictl sigservice add --name "$1" >"$tmp/svc.$1" || fail "sigservice add $1"
	svc_id=$(sed -n 's/^id\t//p' "$tmp/svc.$1")
	c=$(sed -n 's/^client_id\t//p' "$tmp/svc.$1")
	s=$(sed -n 's/^client_secret\t//p' "$tmp/svc.$1")
	code=$(curl -sS -X POST -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
		--data-binary "grant_type=client_credentials&client_id=$c&client_secret=$s" "$surl/oauth2/token")
	[ "$code" = 200 ] || fail "oauth2/token of $1: $code $(cat "$tmp/out")"
	svc_at=$(jq -r .access_token "$tmp/out")
	secrets+=("$s" "$svc_at")
	grant "$subtok" "$svc_id"
}
# waiting_n N: 0 once N backends wait for advisory locks (within 10 s).
waiting_n() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# signhash_waiting SAD TOKEN: the credential's sign lock held in an open
# transaction (as a revocation would hold it), and a signHash of $H with SAD
# and TOKEN started in the background, waiting for it; sets signer (its pid;
# its status code goes to $tmp/code).
signhash_waiting() {
	local locked=
	open_tx
	echo "BEGIN; SELECT 'locked' FROM pg_advisory_xact_lock(certificate_sign_lock_key($cred));" >&"$tx_in"
	read -r -t 10 locked <&"$tx_out" && [ "$locked" = locked ] || fail "the open transaction did not lock: $locked"
	(signhash "$cred" "$1" "$H" $SHA256 $EC "$2"; echo "$code" >"$tmp/code") &
	signer=$!
	waiting_n 1 || fail "signHash did not wait for the credential's sign lock"
}
# signhash_held WHAT TOKEN CMD...: a signHash of the service of TOKEN, with
# a fresh SAD, held in progress (waiting for the credential's sign lock,
# held here as a revocation would) while CMD (WHAT in messages) runs in the
# background: CMD must wait for it. Then the lock goes; sets code and
# $tmp/out from the signHash, and fails unless CMD succeeds.
signhash_held() {
	local what=$1 tok=$2 other
	shift 2
	hashes sha256 1
	authorize "$cred" "$H" $SHA256 '"PIN":"402917"' "$tok"
	expect 200 - "authorize, before $what"
	signhash_waiting "$SAD" "$tok"
	"$@" &
	other=$!
	waiting_n 2 || fail "$what did not wait for the signHash of its service in progress"
	kill -0 "$other" 2>/dev/null || fail "$what ended while a signHash of its service was in progress"
	commit_tx
	wait "$signer"
	code=$(cat "$tmp/code")
	wait "$other" || fail "$what failed"
}
# A signHash in progress: the disable waits for it; it signs; the disable
# commits after it, stamped after its sign.hash.
newsvc "dis1-$$"
sid1=$svc_id
at1=$svc_at
disable1() {
	pkictl sigservice disable --name "dis1-$$" >"$tmp/dis.out" 2>&1 || { cat "$tmp/dis.out"; return 1; }
}
signhash_held "the disable" "$at1" disable1
expect 200 - "the signHash in progress when the disable came"
verify "$tmp/c.pem" 0
[ "$(q "SELECT h.id < d.id AND h.at <= s.disabled_at FROM audit_event h, audit_event d, sign_service s
    WHERE h.action = 'sign.hash' AND h.details->>'service_id' = '$sid1' AND d.action = 'sign.service.disable'
    AND d.object_id = '$sid1' AND s.id = $sid1")" = t ] ||
	fail "the disable is not ordered after the signature it waited for"
signhash "$cred" "$SAD" "$H" $SHA256 $EC "$at1"
expect 401 invalid_token "service 1's token after its disable"
note "a disable waits for a signHash of its service in progress, and is audited and stamped after it"

# signhash_during NAME WHAT STATUS ERROR SQL: a new service NAME (svc_id),
# a SAD of it, then a signHash while SQL ("@SVC@" standing for svc_id; WHAT
# in messages) is in progress: it must wait, then get STATUS ERROR, the
# state unchanged.
signhash_during() {
	local s0
	newsvc "$1"
	hashes sha256 1
	authorize "$cred" "$H" $SHA256 '"PIN":"402917"' "$svc_at"
	expect 200 - "authorize, before $2"
	s0=$(state)
	signhash_racing "${5//@SVC@/$svc_id}" "$2" "$cred" "$SAD" "$H" $SHA256 $EC "$svc_at"
	expect "$3" "$4" "signHash during $2"
	[ "$(state)" = "$s0" ] || fail "a signHash refused during $2 changed state: $s0 -> $(state)"
}
# A disable in progress (an open transaction): a signHash waits for it, then
# is refused; nothing is consumed.
signhash_during "dis2-$$" "the disable of its service" 401 invalid_token \
	"UPDATE sign_service SET disabled_at = now() WHERE id = @SVC@"
sid2=$svc_id
[ "$(q "SELECT count(*) FROM sign_sad_hash h JOIN sign_sad s ON s.id = h.sad_id WHERE s.service_id = $sid2
    AND h.used_at IS NOT NULL")" = 0 ] || fail "a hash of service 2's SAD was consumed"
note "a signHash while its service is being disabled: waited, then refused"

# The same for an authorize: no SAD is made for a service disabled meanwhile.
newsvc "dis3-$$"
sid3=$svc_id
at3=$svc_at
hashes sha256 1
s0=$(state)
open_tx
echo "BEGIN; UPDATE sign_service SET disabled_at = now() WHERE id = $sid3; SELECT 'locked';" >&"$tx_in"
read -r -t 10 locked <&"$tx_out" && [ "$locked" = locked ] || fail "the open transaction did not disable: $locked"
(authorize "$cred" "$H" $SHA256 '"PIN":"402917"' "$at3"; echo "$code" >"$tmp/code") &
authorizer=$!
waiting_n 1 || fail "authorize did not wait for the disable of its service in progress"
kill -0 "$authorizer" 2>/dev/null || fail "authorize ended while its service was being disabled: $(cat "$tmp/out")"
commit_tx
wait "$authorizer"
code=$(cat "$tmp/code")
expect 401 invalid_token "authorize while its service is being disabled"
[ "$(q "SELECT count(*) FROM sign_sad WHERE service_id = $sid3")" = 0 ] || fail "a SAD was made for service 3 after its disable"
[ "$(state)" = "$s0" ] || fail "an authorize refused after the disable changed state: $s0 -> $(state)"
note "an authorize while its service is being disabled: waited, then refused, no SAD"

# A subscriber's revoke of a service's grant (schema/113) is ordered as a
# disable: it waits for a signHash of that service in progress, which signs
# and is audited before it; a signHash that comes while a revoke is in
# progress waits for it, then is refused, nothing consumed. Until
# 2026-12-07 the revoke took no lock, and the signature in progress was
# audited after the revoke.
newsvc "grv1-$$"
gs1=$svc_id
gat1=$svc_at
revoke1() {
	curl -sS -X POST -o "$tmp/rev.out" -w '%{http_code}' -H "Authorization: Bearer $subtok" \
		-H 'Content-Type: application/json' --data-binary '{}' "$rurl/v1/sign-services/$gs1/revoke" >"$tmp/rev.code" &&
		[ "$(cat "$tmp/rev.code")" = 200 ] || { echo "HTTP $(cat "$tmp/rev.code") $(cat "$tmp/rev.out")"; return 1; }
}
signhash_held "the grant's revoke" "$gat1" revoke1
expect 200 - "the signHash in progress when the grant's revoke came"
verify "$tmp/c.pem" 0
[ "$(q "SELECT h.id < r.id FROM audit_event h, audit_event r WHERE h.action = 'sign.hash'
    AND h.details->>'service_id' = '$gs1' AND r.action = 'ra.sign_grant.revoke'
    AND r.details->>'service_id' = '$gs1'")" = t ] ||
	fail "the grant's revoke is not ordered after the signature it waited for"
note "a grant's revoke waits for a signHash of its service in progress, and is audited after it"

signhash_during "grv2-$$" "the revoke of its grant" 400 invalid_request \
	"DELETE FROM sign_grant WHERE service_id = @SVC@ AND account_id = $aid"
note "a signHash while its service's grant is being revoked: waited, then refused"
for s in "${secrets[@]}"; do
	! has -F -- "$s" "$tmp/details" || fail "a secret in an error_description"
done

# A SAD, then an access token, that expire while signHash waits for the
# credential's sign lock (held here, as a revocation would): refused, the
# SAM compares expiries with clock_timestamp() after the wait, not with its
# transaction's start (before 2026-12-07 both signed).
# expiring_race WHAT TABLE ROW SAD TOKEN: ROW of TABLE expires 2 s from now
# while a signHash with SAD and TOKEN waits; sets code and $tmp/out.
expiring_race() {
	local what=$1 table=$2 row=$3 i
	q "UPDATE $table SET expires_at = clock_timestamp() + interval '2 seconds' WHERE id = $row" >/dev/null
	signhash_waiting "$4" "$5"
	[ "$(q "SELECT expires_at > clock_timestamp() FROM $table WHERE id = $row")" = t ] ||
		fail "$what: expired before signHash waited (too slow a machine?)"
	for ((i = 0; i < 50; i++)); do
		[ "$(q "SELECT expires_at < clock_timestamp() FROM $table WHERE id = $row")" = t ] && break
		sleep 0.1
	done
	kill -0 "$signer" 2>/dev/null || fail "$what: signHash ended while it waited"
	commit_tx
	wait "$signer"
	code=$(cat "$tmp/code")
}
hashes sha256 1
authorize "$cred" "$H" $SHA256 '"PIN":"402917"'
expect 200 - "authorize, a SAD to expire"
sadrow=$(q "SELECT max(id) FROM sign_sad WHERE certificate_id = $cred")
s0=$(state)
expiring_race "a SAD expiring" sign_sad "$sadrow" "$SAD" "$at"
expect 400 invalid_request "signHash with a SAD that expired while it waited"
desc | has -F "SAD expired" || fail "a SAD expired while signHash waited: $(desc)"
[ "$(state)" = "$s0" ] || fail "a refused signHash changed state: $s0 -> $(state)"
newsvc "exp-$$"
at4=$svc_at
hashes sha256 1
authorize "$cred" "$H" $SHA256 '"PIN":"402917"' "$at4"
expect 200 - "authorize, a token to expire"
tokrow=$(q "SELECT id FROM sign_token WHERE token_sha256 = sha256(decode(translate('$at4', '-_', '+/') || '=', 'base64'))")
[ -n "$tokrow" ] || fail "the token's row"
s0=$(state)
expiring_race "a token expiring" sign_token "$tokrow" "$SAD" "$at4"
expect 401 invalid_token "signHash with a token that expired while it waited"
[ "$(state)" = "$s0" ] || fail "a refused signHash changed state: $s0 -> $(state)"
note "a SAD, an access token that expire while signHash waits for the sign lock: refused"
