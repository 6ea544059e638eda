#!/usr/bin/env bash
# No request is served before the sandbox (lib/http.h http_listen,
# http_serve; STYLE.md §2): each HTTP daemon binds its port first (as
# root), then demotes and installs its seccomp filter, and only then starts
# libmicrohttpd, whose threads accept and parse requests. crld starts its
# publisher and issuer threads inside the sandbox too. Seen through
# tests/preload/sandbox_order.so, which notes as which user and after how
# many seccomp filters each MHD_start_daemon and pthread_create ran. Until
# 2026-12-06 MHD started as root without a filter in rad, ocspd (its loops
# accepted too), tsad, signd, pkisign serve and crld, whose threads ran
# before its filter (which TSYNC then put on them).
# Then every thread of every process of each daemon runs as its user and
# (but in a sanitizer build, which installs no filter) under seccomp
# (sandboxed, lib.sh). Started with core files allowed (ulimit -c), every
# process of theirs, tsad's and signd's supervisors too, has set its core
# limit to 0 and is not dumpable (no_dumps, lib.sh; lib/sandbox.h
# sandbox_no_dumps): until 2026-12-06 the supervisors, which keep root,
# stayed dumpable with the core limit they were given.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

tmp=$(test_tmpdir)
shim=$BUILD/tests/preload/sandbox_order.so
[ -f "$shim" ] || fail "$shim missing (make)"
filtered=1
ldd "$BUILD/pkictl" | has libasan && filtered=0
root=0
[ "$(id -u)" -ne 0 ] || root=1

# start NAME READY-LINE VAR=VALUE... -- PROGRAM...: PROGRAM with the shim,
# logging to $tmp/NAME.log, stopped at exit; waits for READY-LINE. Sets pid.
start() {
	local name=$1 ready=$2 envs=()
	shift 2
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	: >"$tmp/$name.log"
	(ulimit -S -c unlimited; exec env "${envs[@]}" LD_PRELOAD="$shim" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" "$@") >"$tmp/$name.log" 2>&1 &
	pid=$!
	at_exit "kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null"
	for _ in $(seq 300); do
		has -F -- "$ready" <"$tmp/$name.log" && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.log"; fail "$name died at start"; }
		sleep 0.1
	done
	cat "$tmp/$name.log"
	fail "$name: no '$ready' in its log"
}

# ordered NAME WHAT MIN-FILTERS [PID]: every line of the shim about WHAT
# (MHD_start_daemon, pthread_create) in NAME's log, of process PID when
# given, ran demoted and, in a build that installs filters, after at least
# MIN-FILTERS of them (a supervisor's, inherited, counts: tsad and signd).
ordered() {
	local name=$1 what=$2 min=$3 who=${4:-[0-9]+} lines uid n
	lines=$(grep -E "^sandbox_order: pid $who: $what as " "$tmp/$name.log" || true)
	[ -n "$lines" ] || { cat "$tmp/$name.log"; fail "$name: the shim saw no $what"; }
	while read -r _ _ p _ _ _ uid _ n _; do
		[ "$root" = 0 ] || [ "$uid" != 0 ] ||
			fail "$name: $what in process ${p%:} ran as root, before the demotion"
		[ "$filtered" = 0 ] || [ "$n" -ge "$min" ] ||
			fail "$name: $what in process ${p%:} ran after $n seccomp filter(s), not inside its sandbox ($min)"
	done <<<"$lines"
	echo "$(wc -l <<<"$lines")"
}

# no_dumps tells a process that may dump core, and a dumpable one (with
# the capabilities of the reader as_owner_of makes), from ours.
(ulimit -S -c unlimited; exec sleep 60) &
control=$!
at_exit "kill $control 2>/dev/null"
# The subshell raises its limit after the fork: read until it has (once,
# on a loaded machine, the first read came before the ulimit).
for _ in $(seq 100); do
	has -E '^Max core file size +unlimited' <"/proc/$control/limits" && break
	sleep 0.1
done
has -E '^Max core file size +unlimited' <"/proc/$control/limits" || fail "ulimit -c did not raise the core limit"
out=$( (no_dumps "$control" "sleep") 2>&1 || true)
case $out in *"may dump core"*) ;; *) fail "no_dumps on a process that may dump core: '$out'" ;; esac
kill "$control"
if [ "$root" = 1 ]; then
	setpriv --bounding-set=-sys_ptrace -- sleep 60 &
else
	sleep 60 &
fi
control=$!
at_exit "kill $control 2>/dev/null"
sleep 0.2
code=$(as_owner_of "$control" bash -c "$(declare -f start_code); start_code $control")
[ "$code" != 1 ] || fail "no_dumps takes a dumpable process ($control) for one that is not"
kill "$control"

start rad "serving the subscriber API on" PKI_CONFIG="$PKI_CONFIG" PKI_RA_PORT="$(free_port)" -- \
	"$BUILD/rad"
ordered rad MHD_start_daemon 1 >/dev/null
sandboxed "$pid" rad pki-ra
kill -TERM "$pid"; wait "$pid" || { cat "$tmp/rad.log"; fail "rad exited non-zero on SIGTERM"; }

start ocspd "serving OCSP on" PKI_CONFIG="$PKI_CONFIG" PKI_OCSP_PORT="$(free_port)" PKI_OCSP_THREADS=2 -- \
	"$BUILD/ocspd"
n=$(ordered ocspd MHD_start_daemon 1)
[ "$n" = 2 ] || fail "ocspd: $n MHD_start_daemon calls, not one per loop (2)"
# Its loops, which accept and answer (lim.external), start inside the
# sandbox: its last two threads. The database listener (ocsp/sync.c) starts
# before, as root, and gets the filter with the rest (TSYNC).
lines=$(grep -E "^sandbox_order: pid $pid: pthread_create as " "$tmp/ocspd.log" | tail -n 2)
[ "$(wc -l <<<"$lines")" = 2 ] || fail "ocspd: fewer than two threads started"
while read -r _ _ _ _ _ _ uid _ n _; do
	[ "$root" = 0 ] || [ "$uid" != 0 ] || fail "ocspd: a loop started as root"
	[ "$filtered" = 0 ] || [ "$n" -ge 1 ] || fail "ocspd: a loop started before the seccomp filter"
done <<<"$lines"
sandboxed "$pid" ocspd pki-ocsp
for c in $(pgrep -P "$pid"); do sandboxed "$c" "ocspd's signer $c" pki-hsm; done
kill -TERM "$pid"; wait "$pid" || { cat "$tmp/ocspd.log"; fail "ocspd exited non-zero on SIGTERM"; }

mkdir -p "$tmp/crl"
[ "$root" = 0 ] || chown pki-crl "$tmp/crl"
start crld "serving CRLs on" PKI_CONFIG="$PKI_CONFIG" PKI_CRL_PORT="$(free_port)" PKI_CRL_OUT_DIR="$tmp/crl" \
	PKI_CRL_INSTANCE=test-order -- "$BUILD/crld"
ordered crld MHD_start_daemon 1 >/dev/null
# Every thread of crld itself (not its signer, a process of its own): MHD's
# two, the publisher, one issuer per issuing CA.
n=$(ordered crld pthread_create 1 "$pid")
[ "$n" -ge 4 ] || fail "crld started $n threads, not MHD's two, the publisher and an issuer"
sandboxed "$pid" crld pki-crl
for c in $(pgrep -P "$pid"); do sandboxed "$c" "crld's signer $c" pki-hsm; done
kill -TERM "$pid"; wait "$pid" || { cat "$tmp/crld.log"; fail "crld exited non-zero on SIGTERM"; }

# Two workers under the supervisor, whose filter each inherits.
start tsad "serving RFC 3161 on" PKI_CONFIG="$PKI_CONFIG" PKI_TSA_PORT="$(free_port)" PKI_TSA_WORKERS=2 \
	PKI_TSA_INSTANCE=test-order PKI_TSA_SPILL_FILE="$tmp/tsa.spill" -- "$BUILD/tsad"
for _ in $(seq 100); do [ "$(grep -c "serving RFC 3161 on" "$tmp/tsad.log")" = 2 ] && break; sleep 0.1; done
n=$(ordered tsad MHD_start_daemon 2)
[ "$n" = 2 ] || fail "tsad: $n MHD_start_daemon calls, not one per worker (2)"
no_dumps "$pid" "tsad's supervisor"
for c in $(pgrep -P "$pid"); do
	sandboxed "$c" "tsad's worker $c" pki-tsa
	for g in $(pgrep -P "$c"); do sandboxed "$g" "tsad's signer $g" pki-hsm; done
done
kill -TERM "$pid"; wait "$pid" || { cat "$tmp/tsad.log"; fail "tsad exited non-zero on SIGTERM"; }

start signd "serving the CSC API v2 on" PKI_CONFIG="$PKI_CONFIG" PKI_SIGN_PORT="$(free_port)" -- \
	"$BUILD/signd"
ordered signd MHD_start_daemon 2 >/dev/null
no_dumps "$pid" "signd's supervisor"
for c in $(pgrep -P "$pid"); do
	user=pki-sign
	[ "$(cat "/proc/$c/comm")" != signd-sam ] || user=pki-hsm
	sandboxed "$c" "signd's process $c" "$user"
done
kill -TERM "$pid"; wait "$pid" || { cat "$tmp/signd.log"; fail "signd exited non-zero on SIGTERM"; }

start pades "signing PDFs on" PKI_CONFIG="$PKI_CONFIG" PKI_PADES_PORT="$(free_port)" -- \
	"$BUILD/pkisign" serve
ordered pades MHD_start_daemon 1 >/dev/null
sandboxed "$pid" "pkisign serve" pki-pades
kill -TERM "$pid"; wait "$pid" || { cat "$tmp/pades.log"; fail "pkisign serve exited non-zero on SIGTERM"; }

if [ "$filtered" = 1 ]; then
	note "rad, ocspd, crld, tsad, signd, pkisign serve: MHD (and crld's threads) started demoted, under seccomp"
else
	note "rad, ocspd, crld, tsad, signd, pkisign serve: MHD (and crld's threads) started demoted (sanitizer build: no filter)"
fi
note "started with core files allowed, none of their processes, supervisors included, is dumpable or may dump core"
