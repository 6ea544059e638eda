#!/usr/bin/env bash
# crld and cad against a PostgreSQL that stops answering (lib/db.h
# db_set_timeout, db_listen), with daemons of their own on the stack's
# database and tokens:
#  - crld's issuing connection ended, and the connection made again
#    stalled at its LISTEN (pg_stall_proxy.py): the LISTEN gives up after
#    10 s, the next connection LISTENs, and a revocation made meanwhile is
#    in the CRL this crld serves.
#  - cad's backend stopped while cad waits (SIGSTOP: no statement_timeout,
#    no keepalive can see it): its next command gives up at
#    cad.db_timeout_seconds, the connection is made anew and the order is
#    issued while the old backend is still stopped.
#  - cad's server stalled at the UPDATE that marks an order done, the
#    certificate signed and inserted in the same transaction: the
#    transaction is given up, the order retried on a new connection;
#    exactly one certificate for the order.
#  - rad's request thread, its backend stopped: 503 problem JSON with
#    Retry-After after ra.db_timeout_seconds, the next request served on a
#    new connection while the old backend is still stopped, and after it
#    resumes.
#  - signd's HTTP thread and its SAM, each backend stopped in turn: 503
#    temporarily_unavailable with Retry-After: 5 after
#    sign.db_timeout_seconds, no SAD made; then a SAD and a signature that
#    verifies on new connections.
#  - tsad's recorder, its backend stopped: the token granted meanwhile is
#    recorded after tsa.db_timeout_seconds on a new connection.
#  - db_connect through a server that stalls any query right after log-in:
#    pkictl answers (nothing is sent after the start-up packet).
# Until 2026-12-07 each hung in libpq for ever (PQexec, PQreset): crld
# served its last CRL, cad issued nothing more, rad and signd answered
# nothing on that thread again, signd's SAM slot answered 503 and tsad
# recorded nothing (until its queue filled: systemFailure), until the
# backend resumed or the daemon was restarted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
subscriber_env
now_ms() { date +%s%3N; }
pw='Stall-Heron5'
secrets=("$pw")
# role_pids ROLE: the backends of ROLE now, comma-separated ('0': none).
role_pids() { q "SELECT coalesce(string_agg(pid::text, ','), '0') FROM pg_stat_activity WHERE usename = '$1'"; }
# new_backend ROLE BEFORE [SQL]: the one backend of ROLE not in BEFORE
# (and for which SQL, a condition on pg_stat_activity, holds).
new_backend() {
	local p
	p=$(q "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = '$1'
		AND backend_type = 'client backend' AND pid NOT IN ($2) AND (${3:-true})")
	[[ $p =~ ^[0-9]+$ ]] || fail "$1: want one new backend, found '$p'"
	echo "$p"
}
# stopped PID: the backend is still stopped (SIGSTOP).
stopped() { grep -q '^State:.*stopped' "/proc/$1/status"; }
# cont_fail PID MSG: resumes the backend first (a daemon stopping waits for
# the request held in it), then fails.
cont_fail() { kill -CONT "$1" 2>/dev/null; fail "$2"; }

# until_ms MS CMD...: CMD until it succeeds, for MS at most.
until_ms() {
	local t0 ms=$1
	shift
	t0=$(now_ms)
	until "$@"; do
		[ $(($(now_ms) - t0)) -lt "$ms" ] || return 1
		sleep 0.2
	done
}
newcert() { # newcert NAME: a subscriber certificate into $tmp/NAME.pem, prints its serial
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/$1.key" -subj "/C=ID/CN=db stall $1" -out "$tmp/$1.csr" 2>/dev/null
	pkictl cert issue --profile subscriber --csr "$tmp/$1.csr" --out "$tmp/$1.pem" >/dev/null ||
		fail "pkictl cert issue $1"
	openssl x509 -noout -serial -in "$tmp/$1.pem" | cut -d= -f2
}

# --- db_connect: a server stalling right after log-in ---------------------------------
# Every connection's client_encoding comes with its start-up packet; until
# 2026-12-07 db_connect also sent "set client_encoding" (PQsetClientEncoding),
# a query no limit bounded, so a server stalling there held every daemon's
# (re)connection for ever. pkictl through a proxy that stalls that query
# answers at once.
pg_proxy ce pki_admin 'set client_encoding' 0
timeout 20 env PKI_PG_ADMIN_URI="$uri_ce" "$PKICTL" --config "$PKI_CONFIG" officer list >"$tmp/ce.out" 2>&1 ||
	{ cat "$tmp/ce.out"; fail "pkictl officer list through a server stalling at 'set client_encoding': no answer within 20 s"; }
[ ! -s "$tmp/ce.px" ] || fail "db_connect still sends 'set client_encoding'"
note "db_connect: no query after log-in (a server stalling there holds nothing)"

# --- crld: the LISTEN made again on a new connection stalls -----------------------
# A crld of its own through a proxy that passes everything but the second
# "LISTEN certificate_status; LISTEN crl_issued" it sees: the first (at
# start) is answered. Its backends are then ended; the issuing thread's
# new connection hangs at its LISTEN until db_ready gives up (10 s,
# lib/db.c DB_LISTEN_MS) and the next one (the third) is answered.
pg_proxy cl pki_crl 'LISTEN certificate_status; LISTEN crl_issued' 2
mkdir -p "$tmp/crl"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$tmp/crl"
chmod 0711 "$tmp"
before=$(q "SELECT coalesce(string_agg(pid::text, ','), '0') FROM pg_stat_activity WHERE usename = 'pki_crl'")
port=$(free_port)
PKI_PG_CRL_URI=$uri_cl PKI_CRL_PORT=$port PKI_CRL_OUT_DIR=$tmp/crl PKI_CRL_INSTANCE=test-stall \
	"$BUILD/crld" --config "$PKI_CONFIG" >"$tmp/crld.log" 2>&1 &
crld=$!
at_exit "kill -TERM $crld 2>/dev/null; wait $crld 2>/dev/null"
crl_ready() { [ -s "$tmp/crl/issuing.crl" ]; }
until_ms 30000 crl_ready || { cat "$tmp/crld.log"; fail "crld wrote no CRL file"; }
ours=$(q "SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity WHERE usename = 'pki_crl' AND pid NOT IN ($before)")
[ -n "$ours" ] || fail "crld's backends not found"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN ($ours)" >/dev/null
stalled() { grep -q stalled "$1"; }
until_ms 30000 stalled "$tmp/cl.px" || { tail -n 20 "$tmp/crld.log"; fail "crld did not LISTEN again after its backends ended"; }
crl_t0=$(now_ms)
s1=$(newcert crl1)
pkictl cert revoke --issuer issuing --serial "$s1" --reason keyCompromise >/dev/null || fail "pkictl cert revoke crl1"
crl_port=$port
has_s1() {
	curl -fs --max-time 5 -o "$tmp/cur.crl" "http://127.0.0.1:$crl_port/crl/issuing.crl" &&
		openssl crl -inform DER -in "$tmp/cur.crl" -noout -text | grep -qi "Serial Number: *$s1\$"
}
# crl_checked: the revocation in this crld's CRL within 60 s of it. Looked
# for after the rad, signd and tsad sections, which its LISTEN's 10 s
# deadline runs alongside: crld's stall and their daemons share nothing.
crl_checked() {
	until_ms $((60000 - ($(now_ms) - crl_t0))) has_s1 ||
		{ tail -n 30 "$tmp/crld.log"; fail "a server stalled at crld's LISTEN: the revocation not in its CRL within 60 s"; }
	waited=$(($(now_ms) - crl_t0))
	grep -q 'LISTEN certificate_status; LISTEN crl_issued: no answer within 10000 ms' "$tmp/crld.log" ||
		{ cat "$tmp/crld.log"; fail "crld: the LISTEN's deadline was not logged"; }
	kill -TERM "$crld"
	wait "$crld" || { cat "$tmp/crld.log"; fail "crld exited non-zero on SIGTERM"; }
	grep -q 'Sanitizer' "$tmp/crld.log" && { cat "$tmp/crld.log"; fail "crld: a sanitizer report"; }
	note "crld stalled at its LISTEN after a reconnection: the revocation in its CRL when looked for, $waited ms after it"
}

# --- rad: the request thread's backend stopped ---------------------------------------
# A rad of its own (ra.db_timeout_seconds 3): its request connection's
# backend is the one that ran /health's statement.
before=$(role_pids pki_ra)
start_rad rad_stall PKI_RA_DB_TIMEOUT_SECONDS=3
# rget PATH / rpost PATH BODY: this rad, 20 s at most; sets code.
rget() { : >"$tmp/out"; code=$(curl -sS --max-time 20 -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' "$rad_url$1") || code=none; }
rpost() {
	: >"$tmp/out"
	code=$(curl -sS --max-time 20 -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' --data-binary "$2" "$rad_url$1") || code=none
}
rget /health
[ "$code" = 200 ] || fail "rad: /health $code $(cat "$tmp/out")"
rpid=$(q "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = 'pki_ra'
	AND pid NOT IN ($before) AND query LIKE '%FROM ra_mail_outbox WHERE sent_at IS NULL%'")
[[ $rpid =~ ^[0-9]+$ ]] || fail "rad's request backend not found: '$rpid'"
kill -STOP "$rpid"
at_exit "kill -CONT $rpid 2>/dev/null || true"
t0=$(now_ms)
rpost /v1/login "{\"email\":\"stall-$$@example.com\",\"password\":\"$pw\"}"
waited=$(($(now_ms) - t0))
[ "$code" = 503 ] || cont_fail "$rpid" "rad, its backend stopped: POST /v1/login $code after $waited ms, want 503: $(cat "$tmp/out")"
grep -qi '^content-type: application/problem+json' "$tmp/hdr" && [ "$(jq -r .status "$tmp/out")" = 503 ] ||
	cont_fail "$rpid" "rad's 503 is not problem JSON: $(cat "$tmp/hdr" "$tmp/out")"
grep -qi '^retry-after: 5' "$tmp/hdr" || cont_fail "$rpid" "rad's 503 without Retry-After: 5"
[ "$waited" -ge 2500 ] && [ "$waited" -lt 15000 ] || cont_fail "$rpid" "rad answered 503 after $waited ms, want ~3000"
grep -q 'no answer within 3000 ms' "$tmp/rad_stall.log" || cont_fail "$rpid" "rad: the deadline was not logged"
# The next request: a new connection, the old backend still stopped.
rget /health
[ "$code" = 200 ] && [ "$(jq -r .status "$tmp/out")" = ok ] ||
	cont_fail "$rpid" "rad after the time-out: /health $code $(cat "$tmp/out")"
stopped "$rpid" || fail "rad's backend $rpid is no longer stopped"
kill -CONT "$rpid"
rpost /v1/login "{\"email\":\"stall-$$@example.com\",\"password\":\"$pw\"}"
[ "$code" = 401 ] || fail "rad, the backend resumed: POST /v1/login $code, want 401: $(cat "$tmp/out")"
kill -TERM "$rad_pid"
wait "$rad_pid" || { cat "$tmp/rad_stall.log"; fail "rad exited non-zero on SIGTERM"; }
grep -q 'Sanitizer' "$tmp/rad_stall.log" && { cat "$tmp/rad_stall.log"; fail "rad: a sanitizer report"; }
note "rad's backend stopped: 503 with Retry-After after $waited ms, then served on a new connection"

# --- signd: the HTTP thread's backend, then the SAM's, stopped -----------------------
# A signd of its own: one thread, one SAM, sign.db_timeout_seconds 3; a
# subscriber with a credential issued by the stack's cad.
pkictl sigservice add --name "stall-$$" >"$tmp/svc" || fail "pkictl sigservice add"
cid=$(sed -n 's/^client_id\t//p' "$tmp/svc")
csec=$(sed -n 's/^client_secret\t//p' "$tmp/svc")
secrets+=("$csec")
account "stall-sign-$$@example.com" +6281299970001 731592
grant "$tok" "$(sed -n 's/^id\t//p' "$tmp/svc")"
cred=$(issue "$aid" personal personal ec-p256 "Sari Wulandari")
cert_pem "$cred" "$tmp/cred.pem"
before_sign=$(role_pids pki_sign)
before_sam=$(role_pids pki_sam)
port=$(free_port)
PKI_SIGN_PORT=$port PKI_SIGN_THREADS=1 PKI_SIGN_DB_TIMEOUT_SECONDS=3 PKI_SIGN_SAM_TIMEOUT_SECONDS=30 \
	"$BUILD/signd" --config "$PKI_CONFIG" >"$tmp/signd.log" 2>&1 &
signd=$!
at_exit "kill -TERM $signd 2>/dev/null; wait $signd 2>/dev/null"
surl=http://127.0.0.1:$port/csc/v2
for _ in $(seq 100); do
	curl -s -o /dev/null -X POST "$surl/info" -H 'Content-Type: application/json' --data '{}' && break
	kill -0 "$signd" 2>/dev/null || { cat "$tmp/signd.log"; fail "signd died at start"; }
	sleep 0.1
done
code=$(curl -sS -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "grant_type=client_credentials&client_id=$cid&client_secret=$csec" "$surl/oauth2/token")
[ "$code" = 200 ] || fail "signd: oauth2/token $code $(cat "$tmp/out")"
at=$(jq -r .access_token "$tmp/out")
secrets+=("$at")
wpid=$(new_backend pki_sign "$before_sign")
spid=$(new_backend pki_sam "$before_sam")
# scall PATH BODY: this signd, 25 s at most; sets code.
scall() {
	: >"$tmp/out"
	code=$(curl -sS --max-time 25 -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' -H "Authorization: Bearer $at" --data-binary "$2" "$surl/$1") || code=none
}
# unavailable5 PID WHAT WAITED: CSC's 503 temporarily_unavailable, Retry-After: 5, in ~3 s.
unavailable5() {
	[ "$code" = 503 ] && [ "$(jq -r .error "$tmp/out")" = temporarily_unavailable ] ||
		cont_fail "$1" "$2: $code after $3 ms, want 503 temporarily_unavailable: $(cat "$tmp/out")"
	grep -qi '^retry-after: 5' "$tmp/hdr" || cont_fail "$1" "$2: 503 without Retry-After: 5: $(cat "$tmp/hdr")"
	[ "$3" -ge 2500 ] && [ "$3" -lt 15000 ] || cont_fail "$1" "$2: 503 after $3 ms, want ~3000"
}
nsad() { q "SELECT count(*) FROM sign_sad WHERE certificate_id = $cred"; }
kill -STOP "$wpid"
at_exit "kill -CONT $wpid 2>/dev/null || true"
t0=$(now_ms)
scall credentials/list "{\"userID\":\"$aid\"}"
unavailable5 "$wpid" "signd, its thread's backend stopped: credentials/list" $(($(now_ms) - t0))
scall credentials/list "{\"userID\":\"$aid\"}"
[ "$code" = 200 ] && [ "$(jq -c .credentialIDs "$tmp/out")" = "[\"$cred\"]" ] ||
	cont_fail "$wpid" "signd after the time-out: credentials/list $code $(cat "$tmp/out")"
stopped "$wpid" || fail "signd's backend $wpid is no longer stopped"
kill -CONT "$wpid"
n0=$(nsad)
kill -STOP "$spid"
at_exit "kill -CONT $spid 2>/dev/null || true"
hashes sha256 1
t0=$(now_ms)
scall credentials/authorize "{\"credentialID\":\"$cred\",\"numSignatures\":1,\"hashes\":$H,\"hashAlgorithmOID\":\"$SHA256\",\"PIN\":\"731592\"}"
unavailable5 "$spid" "signd, its SAM's backend stopped: authorize" $(($(now_ms) - t0))
[ "$(nsad)" = "$n0" ] || cont_fail "$spid" "a SAD was stored though authorize answered 503"
scall credentials/authorize "{\"credentialID\":\"$cred\",\"numSignatures\":1,\"hashes\":$H,\"hashAlgorithmOID\":\"$SHA256\",\"PIN\":\"731592\"}"
[ "$code" = 200 ] || cont_fail "$spid" "signd's SAM after the time-out: authorize $code $(cat "$tmp/out")"
SAD=$(jq -r .SAD "$tmp/out")
secrets+=("$SAD")
scall signatures/signHash "{\"credentialID\":\"$cred\",\"SAD\":\"$SAD\",\"hashes\":$H,\"hashAlgorithmOID\":\"$SHA256\",\"signAlgo\":\"$EC\"}"
[ "$code" = 200 ] || cont_fail "$spid" "signd's SAM after the time-out: signHash $code $(cat "$tmp/out")"
verify "$tmp/cred.pem" 0
stopped "$spid" || fail "the SAM's backend $spid is no longer stopped"
kill -CONT "$spid"
grep -q 'no answer within 3000 ms' "$tmp/signd.log" || { cat "$tmp/signd.log"; fail "signd: the deadline was not logged"; }
kill -TERM "$signd"
wait "$signd" || { cat "$tmp/signd.log"; fail "signd exited non-zero on SIGTERM"; }
grep -q 'Sanitizer' "$tmp/signd.log" && { cat "$tmp/signd.log"; fail "signd: a sanitizer report"; }
for s in "${secrets[@]}"; do
	grep -qF -- "$s" "$tmp/signd.log" "$tmp/rad_stall.log" && fail "a secret in a log"
done
note "signd's thread's and SAM's backends stopped: 503 temporarily_unavailable, then served on new connections"

# --- tsad: the recorder's backend stopped ---------------------------------------------
# A tsad of its own (one worker, tsa.db_timeout_seconds 3): a token granted
# while its recorder's backend is stopped is recorded on a new connection.
before=$(role_pids pki_tsa)
port=$(free_port)
PKI_TSA_PORT=$port PKI_TSA_WORKERS=1 PKI_TSA_INSTANCE=test-stall PKI_TSA_SPILL_FILE=$tmp/tsa.spill \
PKI_TSA_DB_TIMEOUT_SECONDS=3 "$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/tsad.log" 2>&1 &
tsad=$!
at_exit "kill -TERM $tsad 2>/dev/null; wait $tsad 2>/dev/null"
tsa_ready() { grep -q 'serving RFC 3161' "$tmp/tsad.log" && curl -s -o /dev/null "http://127.0.0.1:$port/health"; }
until_ms 30000 tsa_ready || { cat "$tmp/tsad.log"; fail "tsad did not start"; }
# stamp: a token from this tsad; prints its serial.
stamp() {
	openssl ts -query -data "$tmp/cred.pem" -sha256 -cert -out "$tmp/q.tsq" 2>/dev/null
	curl -sS --max-time 10 -o "$tmp/r.tsr" -H 'Content-Type: application/timestamp-query' \
		--data-binary "@$tmp/q.tsq" "http://127.0.0.1:$port/" || fail "tsad answered nothing"
	openssl ts -reply -in "$tmp/r.tsr" -text 2>/dev/null | sed -n 's/^Serial number: 0x//p'
}
recorded() { [ "$(q "SELECT count(*) FROM tsa_token WHERE ltrim(lower(serial), '0') = ltrim(lower('$1'), '0')")" = 1 ]; }
ts1=$(stamp)
[ -n "$ts1" ] || fail "tsad: no token"
until_ms 15000 recorded "$ts1" || { cat "$tmp/tsad.log"; fail "tsad: token $ts1 not recorded"; }
# (not its certificate watch's, tsa/certwatch.c, which reads the status)
tpid=$(new_backend pki_tsa "$before" "query NOT LIKE '%revocation_reason%'")
kill -STOP "$tpid"
at_exit "kill -CONT $tpid 2>/dev/null || true"
t0=$(now_ms)
ts2=$(stamp)
[ -n "$ts2" ] || cont_fail "$tpid" "tsad, its recorder's backend stopped: no token"
until_ms 20000 recorded "$ts2" ||
	cont_fail "$tpid" "tsad, its recorder's backend stopped: token $ts2 not recorded within 20 s: $(tail -n 20 "$tmp/tsad.log")"
waited=$(($(now_ms) - t0))
stopped "$tpid" || fail "tsad's backend $tpid is no longer stopped"
grep -q 'no answer within 3000 ms' "$tmp/tsad.log" || { cat "$tmp/tsad.log"; fail "tsad: the deadline was not logged"; }
kill -CONT "$tpid"
kill -TERM "$tsad"
wait "$tsad" || { cat "$tmp/tsad.log"; fail "tsad exited non-zero on SIGTERM"; }
grep -q 'Sanitizer' "$tmp/tsad.log" && { cat "$tmp/tsad.log"; fail "tsad: a sanitizer report"; }
note "tsad's recorder's backend stopped: the token recorded after $waited ms on a new connection"

# --- crld (above): its revocation served -------------------------------------------
crl_checked

# --- cad ---------------------------------------------------------------------------
rc=0
pkictl wrapkey create --so-pin-file "$PKI_STACK_DIR/pins/pki-wrap.so-pin" >"$tmp/wk.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || { cat "$tmp/wk.out"; fail "pkictl wrapkey create: exit $rc"; }
# The stack runs a cad of its own: these orders must be this test's cad's.
stack_daemon_stop cad
order() { # order CN NIK: prints the id
	pkictl order add --kind personal --profile personal --key-type ec-p256 \
		--subject "{\"C\":\"ID\",\"CN\":\"$1\",\"serialNumber\":\"NIK:$2\"}"
}
done_() { [ "$(q "SELECT status FROM issuance_order WHERE id = $1")" = done ]; }
# one_cert ORDER: exactly one certificate, the order's, and its key beside it.
one_cert() {
	[ "$(q "SELECT count(*) FROM certificate c JOIN issuance_order o ON o.id = $1
		WHERE c.subject = (SELECT subject FROM certificate WHERE id = o.certificate_id)")" = 1 ] ||
		fail "order $1: not exactly one certificate with its subject"
	[ "$(q "SELECT count(*) FROM subscriber_key k JOIN issuance_order o ON o.id = k.order_id
		WHERE k.order_id = $1 AND k.certificate_id = o.certificate_id")" = 1 ] ||
		fail "order $1: its wrapped key not stored once, beside its certificate"
}
pg_proxy ca pki_ca 'cad_issue_done' 1
before=$(q "SELECT coalesce(string_agg(pid::text, ','), '0') FROM pg_stat_activity WHERE usename = 'pki_ca'")
env PKI_PG_CA_URI="$uri_ca" PKI_CAD_DB_TIMEOUT_SECONDS=3 PKI_CAD_POLL_SECONDS=2 PKI_CAD_INSTANCE=stall \
	"$BUILD/cad" --config "$PKI_CONFIG" >"$tmp/cad.log" 2>&1 &
cad=$!
at_exit "kill -TERM $cad 2>/dev/null; wait $cad 2>/dev/null"

# The server stalls at the order's last statement: given up after 3 s, the
# order retried on a new connection, one certificate.
o1=$(order 'DB Stall Satu' 3174012345670811) || fail "order add 1"
until_ms 60000 done_ "$o1" || { tail -n 30 "$tmp/cad.log"; q "SELECT status, attempts, last_error FROM issuance_order WHERE id = $o1"; fail "a server stalled at cad_issue_done: order $o1 not done within 60 s"; }
stalled "$tmp/ca.px" || fail "the proxy did not stall cad_issue_done"
grep -q 'cad_issue_done: no answer within 3000 ms' "$tmp/cad.log" || { cat "$tmp/cad.log"; fail "cad: the deadline was not logged"; }
one_cert "$o1"
note "cad stalled at cad_issue_done: order $o1 done after $(q "SELECT attempts FROM issuance_order WHERE id = $o1") counted attempt(s), one certificate"

# Its backend stopped while cad waits for work: the next claim gives up
# after 3 s, a new connection claims and issues, the old backend stopped.
bpid=$(q "SELECT pid FROM pg_stat_activity WHERE usename = 'pki_ca' AND pid NOT IN ($before)
	AND state = 'idle' AND backend_type = 'client backend' ORDER BY backend_start DESC LIMIT 1")
[[ $bpid =~ ^[0-9]+$ ]] || fail "cad's backend not found: '$bpid'"
kill -STOP "$bpid"
at_exit "kill -CONT $bpid 2>/dev/null || true"
t0=$(now_ms)
o2=$(order 'DB Stall Dua' 3174012345670812) || fail "order add 2"
until_ms 60000 done_ "$o2" || { tail -n 30 "$tmp/cad.log"; fail "a stopped backend: order $o2 not done within 60 s"; }
waited=$(($(now_ms) - t0))
grep -q '^State:.*stopped' "/proc/$bpid/status" || fail "cad's backend $bpid is no longer stopped"
grep -q 'no answer within 3000 ms' "$tmp/cad.log" || fail "cad: no deadline logged"
one_cert "$o2"
kill -CONT "$bpid"
note "cad's backend stopped: order $o2 done after $waited ms on a new connection"
kill -TERM "$cad"
wait "$cad" || { cat "$tmp/cad.log"; fail "cad exited non-zero on SIGTERM"; }
grep -q 'Sanitizer' "$tmp/cad.log" && { cat "$tmp/cad.log"; fail "cad: a sanitizer report"; }
true
