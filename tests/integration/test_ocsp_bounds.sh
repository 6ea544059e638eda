#!/usr/bin/env bash
# ocspd's bounds against what it does not control, with ocspd processes of
# its own on the stack's database and token (ocsp/README.md):
#  - the maintenance thread's backend stops answering (SIGSTOP: no
#    statement_timeout, no keepalive can see it): the poll gives up at its
#    client-side deadline, the connection is made anew, and the responder
#    carries on (a revocation made meanwhile is answered) while the old
#    backend is still stopped.
#  - a server that accepts the connection made again and stalls at its
#    LISTEN (pg_stall_proxy.py): the LISTEN gives up at its deadline, and
#    the next connection LISTENs and reads; at start, the issuers' query
#    and the schema check give up the same way, and ocspd stops.
#  - a lookup connection whose set-up takes longer than a lookup's
#    deadline: made anew over two lookups, not restarted by each.
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

# The ocspds of "start-up against a server that stalls" (below) start now:
# each stops after its 10 s deadline, meanwhile the other sections run (it
# stops before it polls or looks anything up, so no backend of its runs
# the statements by which they find theirs). su_pid_STMT, su_t0_STMT.
for stmt in ocsp_main_issuers lib_db_schema_version; do
	pg_proxy "su_$stmt" pki_ocsp "$stmt" 1
	uri=uri_su_$stmt
	env PKI_OCSP_PORT="$(free_port)" PKI_OCSP_THREADS=1 PKI_PG_OCSP_URI="${!uri}" \
		"$BUILD/ocspd" --config "$PKI_CONFIG" >"$tmp/su_$stmt.log" 2>&1 &
	printf -v "su_pid_$stmt" '%s' "$!"
	at_exit "kill $! 2>/dev/null || true"
	printf -v "su_t0_$stmt" '%s' "$(now_ms)"
done

# --- the maintenance thread's backend stops answering -----------------------------
# ocsp/sync.c: every statement of the maintenance thread is awaited with a
# client-side deadline (db_exec_bounded), 10 s for a poll. Until then a
# stopped backend held the thread in libpq for ever: nothing was read
# again (a revocation stayed "good" in the cache and in every answer
# signed meanwhile) and /health kept database_ok true.
# --- a server that stalls at the LISTEN -------------------------------------------
# ocspd's connections through pg_stall_proxy.py, a PostgreSQL that passes
# everything but the second "LISTEN certificate_status" it sees: the first
# (at start) is answered; the maintenance backend is then ended, and the
# connection made again for it hangs at its LISTEN. ocsp/sync.c LISTENs
# with a deadline (db_listen_bounded, lib/db.h): the thread gives up after
# 10 s, connects anew (LISTENed: the proxy passes the third) and goes on.
# Until then the LISTEN was a PQexec without one: the maintenance thread
# hung there for ever (a revocation stayed "good", /health 503 at last).
# The two ocspds (st and ls) wait out their 10 s at the same time: ls is
# set up while st's backend is stopped. Each one's backends carry an
# application_name of its own, by which its maintenance backend is found
# (not another ocspd's, nor the stack's).
# maint_pid NAME [EXCEPT]: the pid of ocspd NAME's maintenance backend,
# the one that runs the reconciliation query (not EXCEPT), within 5 s.
maint_pid() {
	local m
	for _ in $(seq 50); do
		m=$(q "SELECT pid FROM pg_stat_activity WHERE usename = 'pki_ocsp'
			AND application_name = 'test_ocsp_bounds_$1' AND pid <> ${2:-0}
			AND query LIKE '%pg_snapshot_xmin(pg_current_snapshot())%'")
		[[ $m =~ ^[0-9]+$ ]] && break
		sleep 0.1
	done
	[[ $m =~ ^[0-9]+$ ]] || fail "ocspd $1's maintenance backend${2:+ (a new one, not $2)} not found: '$m'"
	echo "$m"
}
ocsp_uri=$(sed -n '/^\[pg\]/,/^\[/s/^ocsp_uri *= *//p' "$PKI_CONFIG")
[ -n "$ocsp_uri" ] || fail "no pg.ocsp_uri in $PKI_CONFIG"
s1=$(issue stuck1)
start_ocspd st PKI_PG_OCSP_URI="$ocsp_uri application_name=test_ocsp_bounds_st"
ocsp_at "$url_st" -issuer "$pki/issuing.pem" -cert "$tmp/stuck1.pem" -no_nonce | has 'stuck1.pem: good' ||
	fail "ocspd st: stuck1 not good at start"
mpid=$(maint_pid st)
kill -STOP "$mpid"
at_exit "kill -CONT $mpid 2>/dev/null || true"
t0=$(now_ms)
"$PKICTL" --config "$PKI_CONFIG" cert revoke --issuer issuing --serial "$s1" \
	--reason keyCompromise >/dev/null || fail "pkictl cert revoke stuck1"

s3=$(issue stall3)
pg_proxy lp pki_ocsp 'LISTEN certificate_status' 2
start_ocspd ls PKI_PG_OCSP_URI="$uri_lp application_name=test_ocsp_bounds_ls"
ocsp_at "$url_ls" -issuer "$pki/issuing.pem" -cert "$tmp/stall3.pem" -no_nonce | has 'stall3.pem: good' ||
	fail "ocspd ls: stall3 not good at start"
mpid_ls=$(maint_pid ls)
q "SELECT pg_terminate_backend($mpid_ls)" >/dev/null
for _ in $(seq 300); do
	grep -q stalled "$tmp/lp.px" && break
	sleep 0.1
done
grep -q stalled "$tmp/lp.px" || { tail -n 20 "$tmp/ls.log"; fail "ocspd ls did not LISTEN again after its backend ended"; }
t0_ls=$(now_ms)
"$PKICTL" --config "$PKI_CONFIG" cert revoke --issuer issuing --serial "$s3" \
	--reason keyCompromise >/dev/null || fail "pkictl cert revoke stall3"

# st carried on: a new backend polls, the revocation is answered (pre-signed
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
mpid2=$(maint_pid st "$mpid")
note "a stopped maintenance backend: the revocation answered $waited ms after it, on a new connection (backend $mpid2, not $mpid)"
kill -CONT "$mpid"
stop_ocspd st

# ls carried on: the revocation is answered, /health is ok again.
until ocsp_at "$url_ls" -issuer "$pki/issuing.pem" -cert "$tmp/stall3.pem" -no_nonce | has 'stall3.pem: revoked'; do
	[ $(($(now_ms) - t0_ls)) -lt 60000 ] || { tail -n 20 "$tmp/ls.log"; fail "a server stalled at the LISTEN: the revocation not answered within 60 s"; }
	sleep 0.5
done
waited=$(($(now_ms) - t0_ls))
grep -q 'LISTEN certificate_status: no answer within 10000 ms' "$tmp/ls.log" || { cat "$tmp/ls.log"; fail "the LISTEN's deadline was not logged"; }
for _ in $(seq 100); do
	curl -sS "$url_ls/health" >"$tmp/ls.h" && jq -e '.database_ok and .synced_seconds_ago <= 5' "$tmp/ls.h" >/dev/null && break
	sleep 0.1
done
jq -e '.database_ok and .synced_seconds_ago <= 5' "$tmp/ls.h" >/dev/null || { cat "$tmp/ls.h"; fail "a server stalled at the LISTEN: /health not current again"; }
note "a server stalled at the LISTEN: the revocation answered $waited ms after it, on a new connection"
stop_ocspd ls

# --- signing on demand is bounded (ocsp.live_per_*, ocsp/budget.c) --------------------
# An ocspd allowing 2 signatures a second per client address. A flood of
# nonce requests from one client: each answer is a verified response with
# its own nonce (signed live), the pre-signed response without a nonce
# (RFC 9654 §2.1 lets a responder ignore one), or tryLater; never a hang,
# never another answer. Nonce requests for a serial the cache does not
# hold (so no answer without a signature): signed or tryLater. A
# pre-signed GET is answered all along. One log line for many refusals.
s2=$(issue flood)
start_ocspd bud PKI_OCSP_LIVE_PER_CLIENT_PER_SECOND=2 PKI_OCSP_LIVE_PER_SECOND=0
port_bud=${url_bud##*:}
openssl ocsp -issuer "$pki/issuing.pem" -cert "$tmp/flood.pem" -no_nonce -reqout "$tmp/flood.req" >/dev/null 2>&1 ||
	fail "openssl ocsp -reqout flood"
get_bud="$url_bud/$(base64 -w0 "$tmp/flood.req")"
curl -sS -o "$tmp/flood.pre" "$get_bud" || fail "pre-signed GET"
N=40
reqs=() ureqs=()
for i in $(seq 0 $((N - 1))); do
	openssl ocsp -issuer "$pki/issuing.pem" -cert "$tmp/flood.pem" -reqout "$tmp/flood$i.req" >/dev/null 2>&1 ||
		fail "openssl ocsp -reqout (nonce)"
	reqs+=("$tmp/flood$i.req")
	openssl ocsp -issuer "$pki/issuing.pem" -serial "0x7E57F100D$i" -reqout "$tmp/uflood$i.req" >/dev/null 2>&1 ||
		fail "openssl ocsp -reqout (nonce, never issued)"
	ureqs+=("$tmp/uflood$i.req")
done
mkdir "$tmp/flood" "$tmp/uflood"
# Cached GETs go on answering while the floods are in flight.
( for _ in $(seq 20); do
	curl -sS -m 5 -o "$tmp/flood.get" "$get_bud" && cmp -s "$tmp/flood.get" "$tmp/flood.pre" || exit 1
	sleep 0.05
  done ) &
getter=$!
python3 "$(dirname "$0")/pipelined.py" --type application/ocsp-request --ext der \
	127.0.0.1 "$port_bud" "$tmp/flood" "${reqs[@]}" || fail "a flood of nonce requests: not every answer HTTP 200"
tried0=$(curl -sS "$url_bud/health" | jq .lookups.tried)
python3 "$(dirname "$0")/pipelined.py" --type application/ocsp-request --ext der \
	127.0.0.1 "$port_bud" "$tmp/uflood" "${ureqs[@]}" || fail "a flood of nonce requests (never issued): not every answer HTTP 200"
wait "$getter" || fail "a pre-signed GET not answered, or another answer, during the floods"
# Each of those needs a database lookup before its signature: both on the
# client's budget, taken before the lookup. Until 2026-12-07 the budget was
# asked after it, and every request of the flood cost a query.
tried1=$(curl -sS "$url_bud/health" | jq .lookups.tried)
[ "$((tried1 - tried0))" -le $((N / 2)) ] ||
	fail "a flood of $N never-issued serials at 2 signatures a second made $((tried1 - tried0)) database lookups"
with=0 without=0 later=0
for i in $(seq 0 $((N - 1))); do
	for k in flood uflood; do
		d=$tmp/$k/$i.der
		openssl ocsp -reqin "$tmp/$k$i.req" -respin "$d" -verify_other "$pki/issuing.pem" \
			-CAfile "$pki/root.pem" -resp_text >"$d.txt" 2>&1 || true
		if grep -q 'Responder Error: trylater' "$d.txt"; then
			later=$((later + 1))
		elif [ "$k" = flood ] && cmp -s "$d" "$tmp/flood.pre"; then
			grep -q '^Response verify OK' "$d.txt" && grep -q 'Cert Status: good' "$d.txt" ||
				{ cat "$d.txt"; fail "flood: answer $i (pre-signed) does not verify"; }
			without=$((without + 1))
		else
			grep -q '^Response verify OK' "$d.txt" && grep -q 'Cert Status: \(good\|revoked\)' "$d.txt" &&
				! grep -qiE 'nonce (verify error|.*missing)|WARNING' "$d.txt" ||
				{ cat "$d.txt"; fail "$k: answer $i is neither signed with its nonce, nor the pre-signed one, nor tryLater"; }
			with=$((with + 1))
		fi
	done
done
[ "$without" -ge 1 ] || fail "a flood of $N nonce requests at 2 a second: none answered without its nonce"
curl -sS "$url_bud/health" >"$tmp/bud.h"
jq -e '.over_budget.without_nonce >= 1 and .over_budget.try_later >= 1' "$tmp/bud.h" >/dev/null ||
	{ cat "$tmp/bud.h"; fail "/health does not count the answers over budget"; }
refused=$(jq '.over_budget.without_nonce + .over_budget.try_later' "$tmp/bud.h")
lines=$(grep -c 'on-demand signing over budget' "$tmp/bud.log" || true)
[ "$lines" -ge 1 ] && [ "$lines" -lt "$refused" ] ||
	fail "over budget: $lines log line(s) for $refused refusals (want one a minute, not one each)"
# Still answering: pre-signed, and live once the budget has refilled.
curl -sS -o "$tmp/flood.get" "$get_bud" && cmp -s "$tmp/flood.get" "$tmp/flood.pre" || fail "pre-signed GET after the floods"
sleep 1.1
ocsp_at "$url_bud" -issuer "$pki/issuing.pem" -cert "$tmp/flood.pem" -resp_text >"$tmp/o"
grep -q 'flood.pem: good' "$tmp/o" && grep -q 'OCSP Nonce' "$tmp/o" || { cat "$tmp/o"; fail "a nonce request after the floods: not signed with its nonce"; }
note "a flood of $((2 * N)) nonce requests at 2 signatures a second: $with signed, $without pre-signed without the nonce, $later tryLater; $lines log line(s)"
stop_ocspd bud


# --- the lookup connection fails, the maintenance thread's works ---------------------
# ocspd's connections through a proxy that stalls every connection at its
# first lookup (the statement ocsp_sync_lookup): each serial the cache does
# not hold gets tryLater (the lookup's 500 ms deadline, its connection made
# anew each time) while the maintenance thread reads fine. /health says so
# (ocsp/README.md "/health"): lookups.ok false and "degraded" after three
# in a row, HTTP 200 (the cache's answers are right); until
# then /health said "ok" all along. Once lookups work again it is "ok".
pg_proxy kp pki_ocsp ocsp_sync_lookup 0
start_ocspd lk PKI_PG_OCSP_URI="$uri_kp"
curl -sS -D "$tmp/lk.hdr" -o "$tmp/lk.h" "$url_lk/health" || fail "ocspd lk: /health"
grep -qi '^Cache-Control: no-store' "$tmp/lk.hdr" || { cat "$tmp/lk.hdr"; fail "/health without Cache-Control: no-store"; }
jq -e '.status == "ok" and .lookups.ok and .lookups.failed == 0 and .lookups.last_ok_at == null' "$tmp/lk.h" >/dev/null ||
	{ cat "$tmp/lk.h"; fail "ocspd lk: /health not ok with no lookup yet"; }
for i in 1 2 3 4; do
	ocsp_at "$url_lk" -issuer "$pki/issuing.pem" -serial "0x7E57AB1E0$i" -no_nonce >"$tmp/lk.o" 2>&1 || true
	grep -qi 'trylater' "$tmp/lk.o" || { cat "$tmp/lk.o"; tail -n 20 "$tmp/lk.log"; fail "a failing lookup: not tryLater"; }
done
grep -q stalled "$tmp/kp.px" || fail "the lookups were not stalled by the proxy"
code=$(curl -sS -o "$tmp/lk.h" -w '%{http_code}' "$url_lk/health") || fail "ocspd lk: /health"
[ "$code" = 200 ] || { cat "$tmp/lk.h"; fail "failing lookups: /health HTTP $code, want 200"; }
jq -e '.status == "degraded" and .database_ok and (.lookups.ok | not) and .lookups.failed >= 3
	and .lookups.failed_in_a_row >= 3' "$tmp/lk.h" >/dev/null ||
	{ cat "$tmp/lk.h"; fail "failing lookups: /health does not say so"; }
kill -USR1 "$ppid_kp"
for _ in $(seq 20); do
	ocsp_at "$url_lk" -issuer "$pki/issuing.pem" -serial "0x7E57AB1E09" -no_nonce >"$tmp/lk.o" 2>&1 || true
	grep -q ': revoked' "$tmp/lk.o" && break
	sleep 0.5
done
grep -q ': revoked' "$tmp/lk.o" || { cat "$tmp/lk.o"; fail "lookups working again: a never-issued serial not answered"; }
curl -sS -o "$tmp/lk.h" "$url_lk/health" || fail "ocspd lk: /health"
jq -e '.status == "ok" and .lookups.ok and .lookups.failed_in_a_row == 0 and .lookups.last_ok_at > 0' "$tmp/lk.h" >/dev/null ||
	{ cat "$tmp/lk.h"; fail "lookups working again: /health not ok"; }
note "failing lookups: /health degraded (HTTP 200) after $(jq .lookups.failed "$tmp/lk.h") failures, ok again after one that worked"
stop_ocspd lk

# --- start-up against a server that stalls ----------------------------------------
# ocspd's start-up statements are awaited with a deadline too (10 s): the
# issuers' query (ocspd_load_issuers) and the schema check of the
# maintenance connection (db_schema_check_bounded). A server that accepts
# the connection and stalls at either makes ocspd stop with a message
# naming the statement; until 2026-12-06 both were db_exec, and ocspd
# hung there for ever, before serving, with nothing in its log.
# (Started at the top, both at once: each waits out its 10 s while the
# sections above run.)
for stmt in ocsp_main_issuers lib_db_schema_version; do
	p=su_pid_$stmt
	p=${!p}
	t0=su_t0_$stmt
	t0=${!t0}
	while kill -0 "$p" 2>/dev/null; do
		[ $(($(now_ms) - t0)) -lt 60000 ] || { cat "$tmp/su_$stmt.log"; fail "a server stalled at $stmt: ocspd still starting after 60 s"; }
		sleep 0.2
	done
	rc=0
	wait "$p" || rc=$?
	[ "$rc" -ne 0 ] || { cat "$tmp/su_$stmt.log"; fail "a server stalled at $stmt: ocspd exited 0"; }
	grep -q stalled "$tmp/su_$stmt.px" || fail "the proxy did not stall at $stmt"
	grep -q "$stmt: no answer within 10000 ms" "$tmp/su_$stmt.log" || { cat "$tmp/su_$stmt.log"; fail "a server stalled at $stmt: the deadline not logged"; }
	grep -q 'Sanitizer' "$tmp/su_$stmt.log" && { cat "$tmp/su_$stmt.log"; fail "ocspd stalled at $stmt: a sanitizer report"; }
	note "a server stalled at $stmt at start: ocspd stopped (exit $rc), seen $(($(now_ms) - t0)) ms after its start"
done

# --- a lookup connection slower to make than a lookup's deadline ------------------
# Each connection through this proxy takes 800 ms to set up (the server's
# first bytes held: TCP, TLS and SCRAM over a long round trip), more than
# a lookup's 500 ms deadline. The lookup's backend is ended; lib/db makes
# the connection anew without blocking, and a set-up not done by one
# lookup's deadline is gone on with by the next (db_reset_until). Until
# 2026-12-06 each lookup started it again and gave up at 500 ms: every
# serial the cache does not hold was tryLater until ocspd restarted.
pg_proxy sl pki_ocsp '' 0 800
before=$(q "SELECT coalesce(string_agg(pid::text, ','), '0') FROM pg_stat_activity WHERE usename = 'pki_ocsp'")
start_ocspd sl PKI_PG_OCSP_URI="$uri_sl"
ocsp_at "$url_sl" -issuer "$pki/issuing.pem" -serial 0x7E5751000 -no_nonce >"$tmp/sl.o" 2>&1 || true
grep -q ': revoked' "$tmp/sl.o" || { cat "$tmp/sl.o"; fail "ocspd sl: a never-issued serial not answered at start"; }
lpid=$(q "SELECT pid FROM pg_stat_activity WHERE usename = 'pki_ocsp' AND pid NOT IN ($before)
	AND query LIKE '%ocsp_standby_data_time() AS d LEFT JOIN certificate%'")
[[ $lpid =~ ^[0-9]+$ ]] || fail "ocspd sl's lookup backend not found: '$lpid'"
q "SELECT pg_terminate_backend($lpid)" >/dev/null
later=0
for i in $(seq 1 20); do
	ocsp_at "$url_sl" -issuer "$pki/issuing.pem" -serial "0x7E575100$i" -no_nonce >"$tmp/sl.o" 2>&1 || true
	grep -q ': revoked' "$tmp/sl.o" && break
	grep -qi 'trylater' "$tmp/sl.o" || { cat "$tmp/sl.o"; fail "a slow lookup connection: neither answered nor tryLater"; }
	later=$((later + 1))
done
grep -q ': revoked' "$tmp/sl.o" || { tail -n 20 "$tmp/sl.log"; fail "a lookup connection slower to make than 500 ms: $later lookups tryLater, none answered"; }
[ "$(grep -c '^slow' "$tmp/sl.px")" -ge 4 ] || fail "the proxy did not slow the connections: $(cat "$tmp/sl.px")"
curl -sS -o "$tmp/sl.h" "$url_sl/health" || fail "ocspd sl: /health"
jq -e '.lookups.ok and .lookups.failed_in_a_row == 0' "$tmp/sl.h" >/dev/null || { cat "$tmp/sl.h"; fail "ocspd sl: /health lookups not ok"; }
note "a lookup connection slower to make than a lookup's deadline: made anew after $later tryLater"
stop_ocspd sl
