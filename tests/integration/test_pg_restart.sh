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
. "$(dirname "$0")/lib_survive.sh"
subscriber_env
pw='Restart-Otter4'
secrets=("$pw")

survive_before restart

# unavailable WHO: the answer in $tmp/out is 503 with Retry-After.
unavailable() {
	[ "$code" = 503 ] || fail "$1: $code $(cat "$tmp/out")"
	grep -qi '^retry-after: 5' "$tmp/hdr" || fail "$1: 503 without Retry-After"
}
# A SAM that cannot reach the database (its role refused, its backends
# ended) answers through signd with 503 temporarily_unavailable, then
# signs again once the database takes it back.
q "ALTER ROLE pki_sam NOLOGIN" >/dev/null
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'pki_sam'" >/dev/null
hashes sha256 1
authorize "$cred" "$H" $SHA256 '"PIN":"640213"'
q "ALTER ROLE pki_sam LOGIN" >/dev/null
unavailable "signd authorize while its SAM has no database"
[ "$(jq -r .error "$tmp/out")" = temporarily_unavailable ] || fail "signd's 503: $(cat "$tmp/out")"
for i in 1 2; do	# each SAM connects again
	hashes sha256 1
	authorize "$cred" "$H" $SHA256 '"PIN":"640213"'
	[ "$code" = 200 ] || fail "signd authorize #$i once the SAM's role is back: $code $(cat "$tmp/out")"
done

# --- the restart ----------------------------------------------------------------------
pg=$(pidfile_of "$PKI_DIR" postgres)
[ -n "$pg" ] || fail "no PostgreSQL pid file"
kill -INT "$pg"	# fast shutdown: every connection is closed by the server
for _ in $(seq 200); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pg" 2>/dev/null || fail "PostgreSQL did not stop"
sleep 1	# every daemon sees its connection closed while the server is away
# While it is away: 503 with Retry-After, in each service's error form.
rreq POST /v1/login "{\"email\":\"restart-$$@example.com\",\"password\":\"$pw\"}"
unavailable "rad while PostgreSQL is down"
[ "$(jq -r .status "$tmp/out")" = 503 ] || fail "rad's 503 is not problem JSON: $(cat "$tmp/out")"
sreq credentials/list '{}' "$at"
unavailable "signd while PostgreSQL is down"
[ "$(jq -r .error "$tmp/out")" = temporarily_unavailable ] || fail "signd's 503: $(cat "$tmp/out")"
stack_up "$PKI_STACK_DIR"	# starts only what is down: PostgreSQL
[ "$(pidfile_of "$PKI_DIR" postgres)" != "$pg" ] || fail "PostgreSQL was not restarted"

# --- after: every daemon works again, the same processes ----------------------------
survive_after "after the restart"
note "PostgreSQL restarted; rad, signd (threads and SAMs), cad, ocspd, crld and tsad served with the same processes"
survive_logs
exit 0
