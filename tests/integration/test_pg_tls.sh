#!/usr/bin/env bash
# PostgreSQL reached as a remote cluster is: TCP, TLS with
# sslmode=verify-full and a password file. libpq reads the root
# certificate and the password file at every connection, reconnects
# included, so a daemon under its seccomp filter needs to open them
# read-only, and its Landlock rules to name them (daemon_limit_files,
# lib/daemon.h): before, the first reconnect ended it (SIGSYS). A second
# ocspd on the stack's database connects so; the server then closes its
# connections, and it must connect again, over TLS, and keep serving.
. "$(dirname "$0")/lib.sh"
tmp=$(test_tmpdir)
[ -s "${PKI_PG_TLS_CERT:-}" ] || fail "stack.env names no PostgreSQL TLS certificate (PKI_PG_TLS_CERT)"

role=t_pg_tls_$$
pw=$(openssl rand -hex 16)
# The password reaches psql on stdin, never in argv.
psql -X -q -v ON_ERROR_STOP=1 "$PKI_TEST_PG_URI" >/dev/null <<EOF || fail "CREATE ROLE"
CREATE ROLE $role LOGIN PASSWORD '$pw' IN ROLE pki_ocsp;
EOF
at_exit "sql_as '$PKI_TEST_PG_URI' \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '$role'\" >/dev/null; sleep 0.2; sql_as '$PKI_TEST_PG_URI' 'DROP ROLE IF EXISTS $role' >/dev/null"
printf '*:*:pki:%s:%s\n' "$role" "$pw" >"$tmp/pgpass"
chmod 0600 "$tmp/pgpass"
if [ "$(id -u)" -eq 0 ]; then chown pki-ocsp "$tmp/pgpass"; fi

uri="host=localhost port=$PKI_PG_PORT dbname=pki user=$role sslmode=verify-full sslrootcert=$PKI_PG_TLS_CERT passfile=$tmp/pgpass connect_timeout=5"
# tls_backends t|f: how many of the role's connections use TLS (or not).
tls_backends() {
	sql_as "$PKI_TEST_PG_URI" "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = '$role' AND s.ssl = $1"
}
port=$(free_port)
PKI_OCSP_PORT=$port PKI_PG_OCSP_URI=$uri "$BUILD/ocspd" --config "$PKI_CONFIG" >"$tmp/ocsp.log" 2>&1 &
ocspd=$!
at_exit "kill $ocspd 2>/dev/null; wait $ocspd 2>/dev/null"
wait_port "$port" "$ocspd" ocsp
# The port is bound as root before the demotion (lib/http.h): the first
# answer comes only once the sandbox is in place.
for _ in $(seq 100); do
	curl -s -o /dev/null "http://127.0.0.1:$port/health" && break
	sleep 0.1
done
sandboxed "$ocspd" "ocspd over TLS" pki-ocsp
has -F "reads only the system's files and $tmp/pgpass, $PKI_PG_TLS_CERT" "$tmp/ocsp.log" ||
	{ cat "$tmp/ocsp.log" >&2; fail "ocspd's Landlock rules do not name the root certificate and the password file"; }
health() { curl -sS "http://127.0.0.1:$port/health" | jq -r .database_ok; }
[ "$(health)" = true ] || fail "ocspd over TLS: database_ok is not true"
[ "$(tls_backends true)" -ge 1 ] && [ "$(tls_backends false)" = 0 ] ||
	fail "ocspd's connections do not all use TLS"

# The server closes every connection of the role: ocspd connects again.
before=$(sql_as "$PKI_TEST_PG_URI" "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = '$role'")
sql_as "$PKI_TEST_PG_URI" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '$role'" >/dev/null
again=''
for _ in $(seq 100); do
	kill -0 "$ocspd" 2>/dev/null || { cat "$tmp/ocsp.log" >&2; fail "ocspd ended when it reconnected over TLS"; }
	now=$(sql_as "$PKI_TEST_PG_URI" "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = '$role'")
	if [ -n "$now" ] && [ "$now" != "$before" ] && [ "$(health)" = true ]; then again=1; break; fi
	sleep 0.1
done
[ -n "$again" ] || { cat "$tmp/ocsp.log" >&2; fail "ocspd did not connect again within 10 s"; }
[ "$(tls_backends true)" -ge 1 ] && [ "$(tls_backends false)" = 0 ] ||
	fail "ocspd's new connections do not all use TLS"
# The same status answers as the stack's own ocspd, after the reconnect.
ocsp_client -issuer "$PKI_ISSUING_CERT" -cert "$PKI_OCSP_CERT" -url "http://127.0.0.1:$port" \
	-CAfile "$PKI_ROOT_CERT" >"$tmp/ocsp.out"
has -Fx "$PKI_OCSP_CERT: good" "$tmp/ocsp.out" || { cat "$tmp/ocsp.out" >&2; fail "openssl ocsp against ocspd over TLS"; }
kill -0 "$ocspd" 2>/dev/null || { cat "$tmp/ocsp.log" >&2; fail "ocspd ended"; }
grep -q "SIGSYS\|Bad system call" "$tmp/ocsp.log" && fail "ocspd's log shows a seccomp kill"
note "ocspd reconnected over TLS (verify-full, password file) inside its sandbox"
