#!/usr/bin/env bash
# Every daemon survives a PostgreSQL restart (an upgrade, a failover, a
# crash) without being restarted itself: the stack's PostgreSQL is stopped
# and started again, then with the same daemon processes rad registers an
# account, signd (its HTTP threads and its SAMs) authorizes and signs,
# cad issues an order, a revocation reaches ocspd and crld, and tsad
# records its tokens. lib/db.c connects again before a statement when the
# server has closed the connection.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
surl=$PKI_SIGN_URL
rurl=$PKI_RA_URL
sms=$PKI_DIR/spool/ra-sms
mail=$PKI_DIR/spool/ra-mail
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
pw='Restart-Otter4'
secrets=("$pw")

# --- before: a signing service, a subscriber with a credential ---------------------
pkictl sigservice add --name "restart-$$" >"$tmp/svc" || fail "pkictl sigservice add"
cid=$(sed -n 's/^client_id\t//p' "$tmp/svc")
csec=$(sed -n 's/^client_secret\t//p' "$tmp/svc")
secrets+=("$csec")
code=$(curl -sS -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "grant_type=client_credentials&client_id=$cid&client_secret=$csec" "$surl/oauth2/token")
[ "$code" = 200 ] || fail "oauth2/token: $code"
at=$(jq -r .access_token "$tmp/out")
secrets+=("$at")
account "restart-$$@example.com" +6281299990001 640213
cred=$(issue "$aid" personal personal ec-p256 "Rudi Hartono")
cert_pem "$cred" "$tmp/cred.pem"
serial=$(openssl x509 -in "$tmp/cred.pem" -noout -serial | cut -d= -f2)

# Each daemon's processes now; none may be replaced by the restart.
daemons="ra ocsp crl tsa sign pades cad"
pids_of() {
	local d p
	for d in $daemons; do
		p=$(pidfile_of "$PKI_DIR" "$d")
		[ -n "$p" ] || fail "no pid file for $d"
		echo "$d=$p children=$(pgrep -P "$p" | sort | tr '\n' ,)"
	done
}
pids_of >"$tmp/pids.before"
crl_before=$(q "SELECT coalesce(max(id), 0) FROM crl")

# --- the restart ----------------------------------------------------------------------
pg=$(pidfile_of "$PKI_DIR" postgres)
[ -n "$pg" ] || fail "no PostgreSQL pid file"
kill -INT "$pg"	# fast shutdown: every connection is closed by the server
for _ in $(seq 200); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pg" 2>/dev/null || fail "PostgreSQL did not stop"
sleep 1	# every daemon sees its connection closed while the server is away
stack_up "$PKI_STACK_DIR"	# starts only what is down: PostgreSQL
[ "$(pidfile_of "$PKI_DIR" postgres)" != "$pg" ] || fail "PostgreSQL was not restarted"
pids_of >"$tmp/pids.after"
diff "$tmp/pids.before" "$tmp/pids.after" >"$tmp/pids.diff" ||
	{ cat "$tmp/pids.diff"; fail "a daemon was restarted instead of reconnecting"; }

# --- after: every daemon works again, the same processes ----------------------------
# rad: the first request after the restart already succeeds.
rreq POST /v1/register "{\"email\":\"after-$$@example.com\",\"phone\":\"+6281299990002\",\"password\":\"$pw\"}"
[ "$code" = 201 ] || fail "rad after the restart: register $code $(cat "$tmp/out")"
# signd: a token (HTTP thread), an authorization and a signature (a SAM).
hashes sha256 1
authorize "$cred" "$H" $SHA256 '"PIN":"640213"'
[ "$code" = 200 ] || fail "signd after the restart: authorize $code $(cat "$tmp/out")"
signhash "$cred" "$SAD" "$H" $SHA256 $EC
[ "$code" = 200 ] || fail "signd after the restart: signHash $code $(cat "$tmp/out")"
verify "$tmp/cred.pem" 0
# The other SAM too: each HTTP thread has its own, so sign a few more times.
for i in 1 2 3 4; do
	hashes sha256 1
	authorize "$cred" "$H" $SHA256 '"PIN":"640213"'
	[ "$code" = 200 ] || fail "signd after the restart: authorize #$i $code $(cat "$tmp/out")"
	signhash "$cred" "$SAD" "$H" $SHA256 $EC
	[ "$code" = 200 ] || fail "signd after the restart: signHash #$i $code $(cat "$tmp/out")"
done
# cad: a new order is issued (LISTEN made again, or its poll).
cred2=$(issue "$aid" personal personal ec-p256 "Rudi Hartono Dua")
[ -n "$cred2" ] || fail "cad after the restart: no certificate"
# ocspd and crld: a revocation reaches both.
pkictl cert revoke --issuer issuing --serial "$serial" --reason keyCompromise >/dev/null ||
	fail "pkictl cert revoke"
for _ in $(seq 100); do
	out=$(ocsp_client -issuer "$PKI_DIR/pki/issuing.pem" -cert "$tmp/cred.pem" -url "$PKI_OCSP_URL" \
		-CAfile "$PKI_DIR/pki/root.pem")
	echo "$out" | grep -q ': revoked' && break
	sleep 0.1
done
echo "$out" | grep -q ': revoked' || fail "ocspd after the restart: $out"
for _ in $(seq 100); do
	[ "$(q "SELECT coalesce(max(id), 0) FROM crl")" -gt "$crl_before" ] && break
	sleep 0.1
done
[ "$(q "SELECT coalesce(max(id), 0) FROM crl")" -gt "$crl_before" ] ||
	fail "crld after the restart: no new CRL after a revocation"
# tsad: a token granted and recorded.
openssl ts -query -data "$tmp/cred.pem" -sha256 -cert -out "$tmp/q.tsq" 2>/dev/null
curl -sS -o "$tmp/r.tsr" -H 'Content-Type: application/timestamp-query' --data-binary "@$tmp/q.tsq" "$PKI_TSA_URL/" ||
	fail "tsad after the restart"
tserial=$(openssl ts -reply -in "$tmp/r.tsr" -text 2>/dev/null | sed -n 's/^Serial number: 0x//p')
[ -n "$tserial" ] || fail "tsad after the restart: no token"
for _ in $(seq 150); do
	[ "$(q "SELECT count(*) FROM tsa_token WHERE ltrim(lower(serial), '0') = ltrim(lower('$tserial'), '0')")" -ge 1 ] && break
	sleep 0.1
done
[ "$(q "SELECT count(*) FROM tsa_token WHERE ltrim(lower(serial), '0') = ltrim(lower('$tserial'), '0')")" -ge 1 ] ||
	fail "tsad after the restart: token $tserial not recorded"
pids_of >"$tmp/pids.end"
diff "$tmp/pids.before" "$tmp/pids.end" >"$tmp/pids.diff" ||
	{ cat "$tmp/pids.diff"; fail "a daemon or SAM was replaced while working after the restart"; }
note "PostgreSQL restarted; rad, signd (threads and SAMs), cad, ocspd, crld and tsad served with the same processes"

# The reconnections were logged, and nothing secret was.
for d in ra sign cad; do
	grep -q 'connected to PostgreSQL again\|database connection back' "$PKI_DIR/log/$d.log" ||
		fail "$d did not log its reconnection"
done
no_secret_in "the daemons' logs" "$PKI_DIR"/log/*.log
exit 0
