#!/usr/bin/env bash
# crld's /health says how the database answers it (database_ok,
# database_unavailable_since), with a crld of its own on the stack's
# database reached through a proxy (pg_stall_proxy.py, stalling nothing)
# that the test can take away:
#  - the CA watch's backend stopped (SIGSTOP: no error, no keepalive sees
#    it): its query gives up after 10 s (CRLD_WATCH_TIMEOUT_MS), and
#    /health says degraded, the database unavailable since then, while
#    the CRLs are still served; the next round, on a new connection,
#    makes it ok again (the old backend still stopped).
#  - the server gone (the proxy stopped: every connection lost, none
#    made): degraded, unavailable; the server back, ok again.
#  - a CRL refused with the database up (INSERT on crl revoked): degraded,
#    "issuance" says the issuing CA's attempts fail and why; granted
#    again, the next CRL issued makes it ok.
# Until 2026-12-07 /health reported the documents only: a crld that could
# issue no CRL said ok until the CRLs it served went stale.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
now_ms() { date +%s%3N; }
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
# The proxy: passes everything (no MATCH); stopped, its socket refuses.
pg_proxy px pki_crl '' 0
proxy_stop() { kill "$ppid_px" && wait "$ppid_px" 2>/dev/null || true; }

mkdir -p "$tmp/crl"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$tmp/crl"
chmod 0711 "$tmp"
before=$(q "SELECT coalesce(string_agg(pid::text, ','), '0') FROM pg_stat_activity WHERE usename = 'pki_crl'")
port=$(free_port)
url=http://127.0.0.1:$port
PKI_PG_CRL_URI=$uri_px PKI_CRL_PORT=$port \
PKI_CRL_OUT_DIR=$tmp/crl PKI_CRL_INSTANCE=test-crl-health \
	"$BUILD/crld" --config "$PKI_CONFIG" >"$tmp/crld.log" 2>&1 &
crld=$!
at_exit "kill -TERM $crld 2>/dev/null; wait $crld 2>/dev/null"
# health FIELDS: /health's fields (jq paths), space-separated.
health() { curl -sS --max-time 5 "$url/health" >"$tmp/h" 2>/dev/null && jq -r "[$1] | map(tostring) | join(\" \")" "$tmp/h"; }
is_ok() { [ "$(health '.status, .database_ok, .database_unavailable_since')" = "ok true null" ]; }
is_down() { [ "$(health '.status, .database_ok')" = "degraded false" ]; }
# since_recent: database_unavailable_since is ISO 8601 and within the last minute.
since_recent() {
	local s
	s=$(jq -r .database_unavailable_since "$tmp/h")
	[[ $s =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] &&
		[ $(($(date +%s) - $(date -d "$s" +%s))) -le 60 ]
}
until_ms 60000 is_ok || { cat "$tmp/crld.log"; fail "crld's /health not ok at start: $(cat "$tmp/h")"; }

# --- the CA watch's backend stopped -------------------------------------------------
# (its last statement: the CAs' status, or since 2026-12-07 the changes
# the served ARL does not list)
watch_backend() {
	wpid=$(q "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = 'pki_crl'
		AND pid NOT IN ($before) AND (query LIKE '%revocation_reason%' OR query LIKE '%ORDER BY x.revoked_at%')")
	[[ $wpid =~ ^[0-9]+$ ]]
}
until_ms 10000 watch_backend || fail "the CA watch's backend not found: '$wpid'"
kill -STOP "$wpid"
at_exit "kill -CONT $wpid 2>/dev/null || true"
t0=$(now_ms)
kill -HUP "$crld"	# a round of the CA watch now
until_ms 30000 is_down || { kill -CONT "$wpid"; tail -n 20 "$tmp/crld.log"; fail "the CA watch's backend stopped: /health $(cat "$tmp/h")"; }
waited=$(($(now_ms) - t0))
since_recent || { kill -CONT "$wpid"; fail "database_unavailable_since: $(cat "$tmp/h")"; }
grep -q 'no answer within 10000 ms' "$tmp/crld.log" || { kill -CONT "$wpid"; cat "$tmp/crld.log"; fail "the watch's time-out not logged"; }
code=$(curl -sS -o "$tmp/cur.crl" -w '%{http_code}' "$url/crl/issuing.crl")
[ "$code" = 200 ] || { kill -CONT "$wpid"; fail "the CRL not served while the database is unavailable: $code"; }
# The next round connects anew: ok again, the old backend still stopped.
kill -HUP "$crld"
until_ms 30000 is_ok || { kill -CONT "$wpid"; tail -n 20 "$tmp/crld.log"; fail "/health after the watch's next round: $(cat "$tmp/h")"; }
grep -q '^State:.*stopped' "/proc/$wpid/status" || fail "the watch's old backend $wpid is no longer stopped"
kill -CONT "$wpid"
note "the CA watch's backend stopped: /health degraded, database unavailable, after $waited ms; ok again on a new connection"

# --- the server gone, then back ------------------------------------------------------
proxy_stop
until_ms 30000 is_down || { tail -n 20 "$tmp/crld.log"; fail "the server gone: /health $(cat "$tmp/h")"; }
since_recent || fail "database_unavailable_since: $(cat "$tmp/h")"
sleep 2
is_down || fail "the server still gone: /health $(cat "$tmp/h")"
pg_proxy px pki_crl '' 0
kill -HUP "$crld"	# the issuers' back-off and the watch, woken now
until_ms 60000 is_ok || { tail -n 20 "$tmp/crld.log"; fail "the server back: /health $(cat "$tmp/h")"; }
note "the server gone: /health degraded, database unavailable; ok again once it is back"

# --- a CRL refused with the database up ----------------------------------------------
# INSERT on crl revoked from pki_crl: the base CRL a SIGHUP asks for fails
# (permission denied: "recording CRL N failed"), the database answering. /health: degraded, the
# issuing CA's issuance failing with its error, database_ok still true.
# Granted again, the next attempt (the back-off, woken by a SIGHUP) issues
# one: ok. Until 2026-12-07 /health said ok until the CRLs went stale.
issuance() { health '.status, .database_ok, .issuance.issuing.ok, .issuance.issuing.failed_in_a_row > 0, .issuance.issuing.last_failed_at != null'; }
made_before=$(health '.issuance.issuing.made')
at_exit "sql_as '$PKI_TEST_PG_URI' 'GRANT INSERT ON crl TO pki_crl' >/dev/null 2>&1"
q "REVOKE INSERT ON crl FROM pki_crl"
kill -HUP "$crld"
refused() { [ "$(issuance)" = "degraded true false true true" ]; }
until_ms 30000 refused || { q "GRANT INSERT ON crl TO pki_crl"; tail -n 20 "$tmp/crld.log"; fail "a CRL refused: /health $(cat "$tmp/h")"; }
jq -r '.issuance.issuing.last_error' "$tmp/h" | has 'recording CRL [0-9]* failed' ||
	{ q "GRANT INSERT ON crl TO pki_crl"; fail "a CRL refused: last_error $(cat "$tmp/h")"; }
[ "$(jq -r '.issuance.issuing.last_failed_at >= now - 60' "$tmp/h")" = true ] ||
	{ q "GRANT INSERT ON crl TO pki_crl"; fail "a CRL refused: last_failed_at $(cat "$tmp/h")"; }
code=$(curl -sS -o /dev/null -w '%{http_code}' "$url/crl/issuing.crl")
[ "$code" = 200 ] || { q "GRANT INSERT ON crl TO pki_crl"; fail "the CRL not served while issuance fails: $code"; }
q "GRANT INSERT ON crl TO pki_crl"
kill -HUP "$crld"
made_again() { [ "$(health '.status, .issuance.issuing.ok, .issuance.issuing.failed_in_a_row, .issuance.issuing.made > '"${made_before:-0}")" = "ok true 0 true" ]; }
until_ms 60000 made_again || { tail -n 20 "$tmp/crld.log"; fail "a CRL issued again: /health $(cat "$tmp/h")"; }
kill -TERM "$crld"
wait "$crld" || { cat "$tmp/crld.log"; fail "crld exited non-zero on SIGTERM"; }
grep -q 'Sanitizer' "$tmp/crld.log" && { cat "$tmp/crld.log"; fail "crld: a sanitizer report"; }
note "a CRL refused with the database up: /health degraded, the issuance's counts and error; ok once one is issued"
note ok
