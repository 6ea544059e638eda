#!/usr/bin/env bash
# ocspd's bounds against what it does not control, with ocspd processes of
# its own on the stack's database and token (ocsp/README.md):
#  - the maintenance thread's backend stops answering (SIGSTOP: no
#    statement_timeout, no keepalive can see it): the poll gives up at its
#    client-side deadline, the connection is made anew, and the responder
#    carries on (a revocation made meanwhile is answered) while the old
#    backend is still stopped.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
pki=$PKI_DIR/pki
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
now_ms() { date +%s%3N; }
ocsp_at() { local u=$1; shift; ocsp_client -url "$u" -CAfile "$pki/root.pem" "$@"; }

issue() { # issue NAME -> NAME.pem, prints the serial
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/$1.key" -subj "/CN=ocsp bounds $1" -out "$tmp/$1.csr" 2>/dev/null
	"$PKICTL" --config "$PKI_CONFIG" cert issue --issuer issuing --profile subscriber \
		--csr "$tmp/$1.csr" >"$tmp/$1.pem" || fail "pkictl cert issue"
	openssl x509 -in "$tmp/$1.pem" -noout -serial | cut -d= -f2
}
# start_ocspd NAME [VAR=VALUE...]: an ocspd of one loop on a free port,
# its URL in url_NAME and its pid in pid_NAME, once it has pre-signed.
start_ocspd() {
	local name=$1 port u p
	shift
	port=$(free_port)
	u=http://127.0.0.1:$port
	env PKI_OCSP_PORT="$port" PKI_OCSP_THREADS=1 "$@" \
		"$BUILD/ocspd" --config "$PKI_CONFIG" >"$tmp/$name.log" 2>&1 &
	p=$!
	at_exit "kill $p 2>/dev/null || true"
	for _ in $(seq 300); do
		curl -s "$u/health" >"$tmp/$name.h" 2>/dev/null && grep -q '"unsigned":0' "$tmp/$name.h" && break
		kill -0 "$p" 2>/dev/null || { cat "$tmp/$name.log"; fail "ocspd $name died at start"; }
		sleep 0.1
	done
	grep -q '"unsigned":0' "$tmp/$name.h" || { cat "$tmp/$name.h" "$tmp/$name.log"; fail "ocspd $name did not pre-sign"; }
	printf -v "url_$name" '%s' "$u"
	printf -v "pid_$name" '%s' "$p"
}
# stop_ocspd NAME: SIGTERM, a clean exit and no sanitizer report.
stop_ocspd() {
	local p
	p=pid_$1
	kill -TERM "${!p}"
	wait "${!p}" || { cat "$tmp/$1.log"; fail "ocspd $1 exited non-zero on SIGTERM"; }
	grep -q 'Sanitizer' "$tmp/$1.log" && { cat "$tmp/$1.log"; fail "ocspd $1: a sanitizer report"; }
	return 0
}

# --- the maintenance thread's backend stops answering -----------------------------
# ocsp/sync.c: every statement of the maintenance thread is awaited with a
# client-side deadline (db_exec_bounded), 10 s for a poll. Until then a
# stopped backend held the thread in libpq for ever: nothing was read
# again (a revocation stayed "good" in the cache and in every answer
# signed meanwhile) and /health kept database_ok true.
s1=$(issue stuck1)
before=$(q "SELECT coalesce(string_agg(pid::text, ','), '0') FROM pg_stat_activity WHERE usename = 'pki_ocsp'")
start_ocspd st
ocsp_at "$url_st" -issuer "$pki/issuing.pem" -cert "$tmp/stuck1.pem" -no_nonce | has 'stuck1.pem: good' ||
	fail "ocspd st: stuck1 not good at start"
# Its maintenance backend: the one that runs the reconciliation query.
for _ in $(seq 50); do
	mpid=$(q "SELECT pid FROM pg_stat_activity WHERE usename = 'pki_ocsp' AND pid NOT IN ($before)
		AND query LIKE '%pg_snapshot_xmin(pg_current_snapshot())%'")
	[[ $mpid =~ ^[0-9]+$ ]] && break
	sleep 0.1
done
[[ $mpid =~ ^[0-9]+$ ]] || fail "ocspd st's maintenance backend not found: '$mpid'"
kill -STOP "$mpid"
at_exit "kill -CONT $mpid 2>/dev/null || true"
t0=$(now_ms)
"$PKICTL" --config "$PKI_CONFIG" cert revoke --issuer issuing --serial "$s1" \
	--reason keyCompromise >/dev/null || fail "pkictl cert revoke stuck1"
# Carried on: a new backend polls, the revocation is answered (pre-signed
# and live), /health is ok again, all while the old backend is stopped.
until ocsp_at "$url_st" -issuer "$pki/issuing.pem" -cert "$tmp/stuck1.pem" -no_nonce | has 'stuck1.pem: revoked'; do
	[ $(($(now_ms) - t0)) -lt 60000 ] || { tail -n 20 "$tmp/st.log"; fail "a stopped maintenance backend: the revocation not answered within 60 s"; }
	sleep 0.5
done
waited=$(($(now_ms) - t0))
grep -q '^State:.*stopped' "/proc/$mpid/status" || fail "the maintenance backend $mpid is no longer stopped"
ocsp_at "$url_st" -issuer "$pki/issuing.pem" -cert "$tmp/stuck1.pem" | has 'stuck1.pem: revoked' ||
	fail "a stopped maintenance backend: the live answer is not revoked"
for _ in $(seq 100); do
	curl -sS "$url_st/health" >"$tmp/st.h" && jq -e '.database_ok and .synced_seconds_ago <= 5' "$tmp/st.h" >/dev/null && break
	sleep 0.1
done
jq -e '.database_ok and .synced_seconds_ago <= 5' "$tmp/st.h" >/dev/null || { cat "$tmp/st.h"; fail "a stopped maintenance backend: /health not current again"; }
grep -q 'ocsp_sync_poll: no answer within 10000 ms' "$tmp/st.log" || { cat "$tmp/st.log"; fail "the poll's deadline was not logged"; }
new=$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'pki_ocsp' AND pid NOT IN ($before, $mpid)
	AND query LIKE '%pg_snapshot_xmin(pg_current_snapshot())%'")
[ "$new" -ge 1 ] || fail "no new maintenance backend"
note "a stopped maintenance backend: the revocation answered $waited ms after it, on a new connection"
kill -CONT "$mpid"
stop_ocspd st
