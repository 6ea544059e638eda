# "Every daemon lives through what happened to PostgreSQL, in the same
# processes", for test_pg_restart.sh and test_pg_failover.sh; source it
# after lib.sh and lib_subscriber.sh. The caller sets what lib_subscriber.sh
# needs (tmp, rurl, surl, sms, mail, pw, q, pkictl, secrets) and the stack's
# stack.env values (PKI_DIR, PKI_OCSP_URL, PKI_TSA_URL).
# shellcheck shell=bash
survive_daemons="ra ocsp crl tsa sign pades cad"

# survive_revoked PEM WHAT: ocspd says PEM is revoked within 5 s.
survive_revoked() {
	local out
	for _ in $(seq 100); do
		out=$(ocsp_client -issuer "$PKI_DIR/pki/issuing.pem" -cert "$1" -url "$PKI_OCSP_URL" \
			-CAfile "$PKI_DIR/pki/root.pem")
		grep -q ': revoked' <<<"$out" && return 0
		sleep 0.05
	done
	fail "ocspd $2: $out"
}

# Each daemon's PID and its children's (signer, SAMs, workers), one line each.
survive_pids() {
	local d p
	for d in $survive_daemons; do
		p=$(pidfile_of "$PKI_DIR" "$d")
		[ -n "$p" ] || fail "no pid file for $d"
		echo "$d=$p children=$(pgrep -P "$p" | sort | tr '\n' ,)"
	done
}

# survive_before NAME: a signing service (at), a subscriber with a
# credential (cred, $tmp/cred.pem, serial), the processes now
# ($tmp/pids.before) and the newest CRL (crl_before).
survive_before() {
	local cid csec
	pkictl sigservice add --name "$1-$$" >"$tmp/svc" || fail "pkictl sigservice add"
	cid=$(sed -n 's/^client_id\t//p' "$tmp/svc")
	csec=$(sed -n 's/^client_secret\t//p' "$tmp/svc")
	secrets+=("$csec")
	code=$(curl -sS -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
		--data-binary "grant_type=client_credentials&client_id=$cid&client_secret=$csec" "$surl/oauth2/token")
	[ "$code" = 200 ] || fail "oauth2/token: $code"
	at=$(jq -r .access_token "$tmp/out")
	secrets+=("$at")
	account "$1-$$@example.com" +6281299990001 640213
	grant "$tok" "$(sed -n 's/^id\t//p' "$tmp/svc")"
	cred=$(issue "$aid" personal personal ec-p256 "Rudi Hartono")
	cert_pem "$cred" "$tmp/cred.pem"
	serial=$(openssl x509 -in "$tmp/cred.pem" -noout -serial | cut -d= -f2)
	survive_pids >"$tmp/pids.before"
	crl_before=$(q "SELECT coalesce(max(id), 0) FROM crl")
}

# survive_after WHAT: with the processes of survive_before, rad registers
# an account, signd (its HTTP threads and both SAMs) authorizes and signs,
# cad issues an order, a revocation reaches ocspd and crld, tsad records a
# token. WHAT ("after the restart") goes into the failure messages.
survive_after() {
	local what=$1 i tserial
	survive_pids >"$tmp/pids.after"
	diff "$tmp/pids.before" "$tmp/pids.after" >"$tmp/pids.diff" ||
		{ cat "$tmp/pids.diff"; fail "a daemon was restarted instead of reconnecting"; }
	# rad: the first request already succeeds.
	rreq POST /v1/register "{\"email\":\"after-$$@example.com\",\"phone\":\"+6281299990002\",\"password\":\"$pw\"}"
	[ "$code" = 201 ] || fail "rad $what: register $code $(cat "$tmp/out")"
	# signd: a token (HTTP thread), an authorization and a signature (a
	# SAM); each HTTP thread has its own SAM, so sign a few times.
	for i in 1 2 3 4 5; do
		hashes sha256 1
		authorize "$cred" "$H" $SHA256 '"PIN":"640213"'
		[ "$code" = 200 ] || fail "signd $what: authorize #$i $code $(cat "$tmp/out")"
		signhash "$cred" "$SAD" "$H" $SHA256 $EC
		[ "$code" = 200 ] || fail "signd $what: signHash #$i $code $(cat "$tmp/out")"
	done
	verify "$tmp/cred.pem" 0
	# cad: a new order is issued (LISTEN made again, or its poll).
	[ -n "$(issue "$aid" personal personal ec-p256 "Rudi Hartono Dua")" ] ||
		fail "cad $what: no certificate"
	# ocspd and crld: a revocation reaches both.
	pkictl cert revoke --issuer issuing --serial "$serial" --reason keyCompromise >/dev/null ||
		fail "pkictl cert revoke"
	survive_revoked "$tmp/cred.pem" "$what"
	for _ in $(seq 100); do
		[ "$(q "SELECT coalesce(max(id), 0) FROM crl")" -gt "$crl_before" ] && break
		sleep 0.1
	done
	[ "$(q "SELECT coalesce(max(id), 0) FROM crl")" -gt "$crl_before" ] ||
		fail "crld $what: no new CRL after a revocation"
	# tsad: a token granted and recorded.
	openssl ts -query -data "$tmp/cred.pem" -sha256 -cert -out "$tmp/q.tsq" 2>/dev/null
	curl -sS -o "$tmp/r.tsr" -H 'Content-Type: application/timestamp-query' --data-binary "@$tmp/q.tsq" "$PKI_TSA_URL/" ||
		fail "tsad $what"
	tserial=$(openssl ts -reply -in "$tmp/r.tsr" -text 2>/dev/null | sed -n 's/^Serial number: 0x//p')
	[ -n "$tserial" ] || fail "tsad $what: no token"
	for _ in $(seq 150); do
		[ "$(q "SELECT count(*) FROM tsa_token WHERE ltrim(lower(serial), '0') = ltrim(lower('$tserial'), '0')")" -ge 1 ] && break
		sleep 0.1
	done
	[ "$(q "SELECT count(*) FROM tsa_token WHERE ltrim(lower(serial), '0') = ltrim(lower('$tserial'), '0')")" -ge 1 ] ||
		fail "tsad $what: token $tserial not recorded"
	survive_pids >"$tmp/pids.end"
	diff "$tmp/pids.before" "$tmp/pids.end" >"$tmp/pids.diff" ||
		{ cat "$tmp/pids.diff"; fail "a daemon or SAM was replaced while working $what"; }
}

# survive_logs: the reconnections were logged, and nothing secret was.
survive_logs() {
	local d
	for d in ra sign cad; do
		grep -q 'connected to PostgreSQL again\|database connection back' "$PKI_DIR/log/$d.log" ||
			fail "$d did not log its reconnection"
	done
	no_secret_in "the daemons' logs" "$PKI_DIR"/log/*.log
}
