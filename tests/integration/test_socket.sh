#!/usr/bin/env bash
# Socket activation (deploy/README.md "Behind a reverse proxy", lib/http.h
# http_take_inherited_socket): a daemon started with a listening socket
# from its service manager (systemd's protocol, LISTEN_PID and LISTEN_FDS,
# driven here by systemd-socket-activate) serves that socket and binds
# nothing of its own. On a unix socket, whose permissions admit only the
# reverse proxy, the client is the one X-Forwarded-For names. tsad's
# supervisor hands the socket to both its workers, signd's to its worker;
# ocspd's event loops share it.
# Refused at start: a malformed hand-over, a socket every user may write,
# listen = systemd without a socket.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
command -v systemd-socket-activate >/dev/null || fail "systemd-socket-activate missing (package systemd)"
# systemd-socket-activate passes on only what -E names: the sanitizers' settings too.
sanenv=()
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do [ -z "${!v:-}" ] || sanenv+=(-E "$v"); done

# activate NAME SOCKET VAR=VALUE... -- PROGRAM...: PROGRAM under
# systemd-socket-activate on the unix socket SOCKET (made 0660, group pki:
# the proxy's group here), which execs it in its own place (same PID);
# logs to $tmp/NAME.log, stopped at exit. Sets pid.
activate() {
	local name=$1 sock=$2 envs=()
	shift 2
	while [ "$1" != -- ]; do envs+=(-E "$1"); shift; done
	shift
	envs+=("${sanenv[@]}")
	(umask 077; exec systemd-socket-activate -l "$sock" "${envs[@]}" "$@") >"$tmp/$name.log" 2>&1 &
	pid=$!
	at_exit "kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null"
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	[ -S "$sock" ] || { cat "$tmp/$name.log"; fail "$name: no socket $sock"; }
	if [ "$(id -u)" -eq 0 ]; then chgrp pki "$sock" && chmod 0660 "$sock"; fi
	# It execs the daemon at the first connection, which waits meanwhile.
	for _ in $(seq 200); do
		curl -s --max-time 30 --unix-socket "$sock" -o /dev/null http://local/health && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.log"; fail "$name died at start"; }
		sleep 0.1
	done
	cat "$tmp/$name.log"; fail "$name does not answer on $sock"
}

# --- rad on a unix socket ------------------------------------------------------------
sock=$tmp/ra.sock
port=$(free_port)
activate rad "$sock" PKI_CONFIG="$PKI_CONFIG" PKI_RA_PORT="$port" -- "$BUILD/rad"
wait_line "$tmp/rad.log" "http: serving the socket the service manager passed (unix)" ||
	{ cat "$tmp/rad.log"; fail "rad does not say it serves the passed socket"; }
wait_line "$tmp/rad.log" "serving the subscriber API on unix:$sock (passed by the service manager)" ||
	{ cat "$tmp/rad.log"; fail "rad's start-up line does not name the passed socket"; }
# It bound nothing of its own: its port is free.
curl -s -o /dev/null "http://127.0.0.1:$port/health" && fail "rad listens on ra.port too"
sandboxed "$pid" rad pki-ra

# register EMAIL [XFF]: a registration through the socket; prints the client audited.
register() {
	local code args=(-sS --unix-socket "$sock" -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/json'
	    --data "{\"email\":\"$1\",\"phone\":\"+628$RANDOM$RANDOM\",\"password\":\"Socket-Pass-1x\"}")
	[ -z "${2:-}" ] || args+=(-H "X-Forwarded-For: $2")
	code=$(curl "${args[@]}" http://ra.test/v1/register)
	[ "$code" = 201 ] || fail "registration of $1: $code $(cat "$tmp/out")"
	q "SELECT e.details->>'client' FROM audit_event e JOIN ra_account a ON e.object_id = a.id::text
	    WHERE e.action = 'ra.account.register' AND a.email = '$1'"
}
n=$$$RANDOM
c=$(register "sock1-$n@example.com" "198.51.100.7, 203.0.113.9")
[ "$c" = 203.0.113.9 ] || fail "on the unix socket the audit names client '$c', not X-Forwarded-For's 203.0.113.9"
c=$(register "sock2-$n@example.com")
[ "$c" = unix ] || fail "without X-Forwarded-For the audit names client '$c', not 'unix'"
# Only the proxy's group may connect.
if [ "$(id -u)" -eq 0 ]; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		curl -s -o /dev/null --unix-socket "$sock" http://ra.test/health && fail "user nobody connected to rad's socket"
	setpriv --reuid=pki --regid=pki --init-groups -- \
		curl -sf -o /dev/null --unix-socket "$sock" http://ra.test/health || fail "the proxy's group cannot connect"
fi
kill -TERM "$pid"
wait "$pid" || { cat "$tmp/rad.log"; fail "rad exited non-zero on SIGTERM"; }
note "rad on a passed unix socket: X-Forwarded-For's client audited, 'unix' without it, only the proxy's group connects"

# --- tsad: the supervisor's two workers share the socket -----------------------------
# tsa.port 0 (any port) is refused with two workers that would each bind
# one, not when they share a passed socket.
sock=$tmp/tsa.sock
activate tsad "$sock" PKI_CONFIG="$PKI_CONFIG" PKI_TSA_PORT=0 PKI_TSA_WORKERS=2 \
	PKI_TSA_INSTANCE=test-socket PKI_TSA_SPILL_FILE="$tmp/tsa.spill" -- "$BUILD/tsad"
[ "$(pgrep -c -P "$pid")" = 2 ] || fail "tsad's supervisor has $(pgrep -c -P "$pid") workers, not 2"
head -c 1000 /dev/urandom >"$tmp/doc"
chain=$(stack_get "$PKI_DIR" PKI_CHAIN)
root=$(stack_get "$PKI_DIR" PKI_ROOT_CERT)
for i in $(seq 8); do
	openssl ts -query -data "$tmp/doc" -sha256 -cert -out "$tmp/q.tsq" 2>/dev/null
	code=$(curl -sS --unix-socket "$sock" -o "$tmp/r.tsr" -w '%{http_code}' \
		-H 'Content-Type: application/timestamp-query' --data-binary @"$tmp/q.tsq" http://tsa.test/)
	[ "$code" = 200 ] || fail "time-stamp $i over the socket: HTTP $code"
	openssl ts -verify -in "$tmp/r.tsr" -queryfile "$tmp/q.tsq" -CAfile "$root" -untrusted "$chain" \
		>/dev/null 2>&1 || fail "time-stamp $i over the socket does not verify"
done
# The second worker may still be starting: one answering was enough above.
for _ in $(seq 100); do
	[ "$(grep -c 'serving the socket the service manager passed' "$tmp/tsad.log")" = 2 ] &&
		[ "$(grep -cF "serving RFC 3161 on unix:$sock (passed" "$tmp/tsad.log")" = 2 ] && break
	sleep 0.1
done
[ "$(grep -c 'serving the socket the service manager passed' "$tmp/tsad.log")" = 2 ] ||
	{ cat "$tmp/tsad.log"; fail "not both of tsad's workers serve the passed socket"; }
[ "$(grep -cF "serving RFC 3161 on unix:$sock (passed by the service manager)" "$tmp/tsad.log")" = 2 ] ||
	{ cat "$tmp/tsad.log"; fail "tsad's workers' start-up lines do not name the passed socket"; }
kill -TERM "$pid"
wait "$pid" || { cat "$tmp/tsad.log"; fail "tsad exited non-zero on SIGTERM"; }
note "tsad's two workers serve one passed socket (tsa.port 0); 8 tokens verify"

# --- ocspd: its event loops share the passed socket --------------------------------
# Each loop serves a duplicate of it (lib/http.h http_start_shared) and signs
# through a signer of its own: nonce requests are signed live.
sock=$tmp/ocsp.sock
activate ocspd "$sock" PKI_CONFIG="$PKI_CONFIG" PKI_OCSP_PORT=0 PKI_OCSP_THREADS=2 -- "$BUILD/ocspd"
issuing=$(stack_get "$PKI_DIR" PKI_ISSUING_CERT)
responder=$(stack_get "$PKI_DIR" PKI_OCSP_CERT)
root=$(stack_get "$PKI_DIR" PKI_ROOT_CERT)
for i in $(seq 8); do
	openssl ocsp -issuer "$issuing" -cert "$responder" -reqout "$tmp/o$i.req" >/dev/null 2>&1 ||
		fail "openssl ocsp -reqout"
	code=$(curl -sS --unix-socket "$sock" -o "$tmp/o$i.der" -w '%{http_code}' \
		-H 'Content-Type: application/ocsp-request' --data-binary @"$tmp/o$i.req" http://ocsp.test/)
	[ "$code" = 200 ] || fail "OCSP request $i over the socket: HTTP $code"
	openssl ocsp -reqin "$tmp/o$i.req" -respin "$tmp/o$i.der" -verify_other "$issuing" -CAfile "$root" \
		-resp_text >"$tmp/o$i.txt" 2>&1 || true
	grep -q '^Response verify OK' "$tmp/o$i.txt" && grep -q 'Cert Status: good' "$tmp/o$i.txt" &&
		! grep -qiE 'nonce (verify error|.*missing)|WARNING' "$tmp/o$i.txt" ||
		{ cat "$tmp/o$i.txt"; fail "OCSP answer $i over the socket does not verify with its nonce"; }
done
[ "$(grep -c 'serving the socket the service manager passed' "$tmp/ocspd.log")" = 2 ] ||
	{ cat "$tmp/ocspd.log"; fail "not both of ocspd's loops serve the passed socket"; }
grep -qF "serving OCSP on unix:$sock (passed by the service manager) for" "$tmp/ocspd.log" ||
	{ cat "$tmp/ocspd.log"; fail "ocspd's start-up line does not name the passed socket"; }
kill -TERM "$pid"
wait "$pid" || { cat "$tmp/ocspd.log"; fail "ocspd exited non-zero on SIGTERM"; }
note "ocspd's two loops serve one passed socket (ocsp.port 0); 8 live answers verify with their nonces"

# --- signd: its supervisor hands the socket to the worker ----------------------------
sock=$tmp/sign.sock
activate signd "$sock" PKI_CONFIG="$PKI_CONFIG" PKI_SIGN_PORT="$(free_port)" -- "$BUILD/signd"
code=$(curl -sS --unix-socket "$sock" -o "$tmp/info" -w '%{http_code}' -X POST \
	-H 'Content-Type: application/json' --data '{}' http://sign.test/csc/v2/info)
[ "$code" = 200 ] && jq -e '.specs == "2.0.0.0"' "$tmp/info" >/dev/null ||
	fail "signd's info over the socket: $code $(cat "$tmp/info")"
grep -qF "http: serving the socket the service manager passed (unix)" "$tmp/signd.log" ||
	{ cat "$tmp/signd.log"; fail "signd's worker does not serve the passed socket"; }
kill -TERM "$pid"
wait "$pid" || { cat "$tmp/signd.log"; fail "signd exited non-zero on SIGTERM"; }
note "signd's worker serves the passed socket (CSC info)"

# --- refused at start ------------------------------------------------------------------
# A socket every user may write: any of them would connect as the proxy.
sock=$tmp/open.sock
(exec systemd-socket-activate -l "$sock" -E PKI_CONFIG="$PKI_CONFIG" -E PKI_RA_PORT="$(free_port)" \
	"${sanenv[@]}" "$BUILD/rad") >"$tmp/open.log" 2>&1 &
pid=$!
at_exit "kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null"
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
chmod 0666 "$sock"
curl -s --max-time 20 -o /dev/null --unix-socket "$sock" http://ra.test/health && fail "rad served a socket every user may write"
rc=0
wait "$pid" || rc=$?
[ "$rc" != 0 ] || fail "rad exited 0 with a socket every user may write"
grep -q 'is writable by every user' "$tmp/open.log" || { cat "$tmp/open.log"; fail "no clear error for a world-writable socket"; }
# listen = systemd without a socket: no fallback to an address of its own.
rc=0
PKI_RA_LISTEN=systemd PKI_RA_PORT=$(free_port) timeout 30 "$BUILD/rad" --config "$PKI_CONFIG" \
	>"$tmp/nosock.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "rad with listen = systemd and no socket: exit $rc"
grep -q 'listen = systemd, but no socket was passed' "$tmp/nosock.log" || { cat "$tmp/nosock.log"; fail "no clear error for listen = systemd"; }
rc=0
PKI_RA_PORT=$(free_port) bash -c 'export LISTEN_PID=$$ LISTEN_FDS=2; exec "$0" --config "$1"' \
	"$BUILD/rad" "$PKI_CONFIG" >"$tmp/bad.log" 2>&1 3</dev/null 4</dev/null || rc=$?
[ "$rc" != 0 ] || fail "rad started with LISTEN_FDS=2"
grep -q 'LISTEN_FDS=2: one listening socket' "$tmp/bad.log" || { cat "$tmp/bad.log"; fail "no clear error for LISTEN_FDS=2"; }
rc=0
PKI_RA_PORT=$(free_port) bash -c 'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" --config "$1"' \
	"$BUILD/rad" "$PKI_CONFIG" >"$tmp/bad.log" 2>&1 3<"$tmp/doc" || rc=$?
[ "$rc" != 0 ] || fail "rad started with a file as its socket"
grep -q 'descriptor 3 is not a listening stream socket' "$tmp/bad.log" ||
	{ cat "$tmp/bad.log"; fail "no clear error for a file as the socket"; }
note "LISTEN_FDS=2 and a descriptor that is no listening socket: refused at start"
