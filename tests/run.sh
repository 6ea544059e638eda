#!/usr/bin/env bash
# The test driver: tests/run.sh BUILD [unit|integration|all]
#
# Starts a throw-away stack (deploy/stack.sh) in a temporary directory, runs
# every BUILD/tests/unit/*/test_* program and then every
# tests/integration/test_*.sh, prints "ok NAME" or "FAIL NAME" (with the
# test's output, and the log of any stack component that went down), then
# checks the stack itself ("stack": every component still up, a clean stop,
# no sanitizer report in its logs), removes the directory whatever happens,
# and ends with "N passed, M failed". Exits non-zero when a test failed or
# when no test ran. PKI_TEST_KEEP=1 keeps the directory after a failure;
# PKI_TEST_TIMEOUT (seconds, default 600) bounds each test. PKI_TEST_ONLY, a
# shell pattern on test names (e.g. 'integration/test_ra*'), runs only those
# (for development; make check runs everything); PKI_TEST_SHOW=1 prints a
# passing test's output too. PKI_TEST_LANE=K with PKI_TEST_CLAIMS=DIR makes
# this run one of several lanes over the same tests (tests/run_both.sh),
# each with its own stack: a lane runs a test only after claiming it in DIR,
# so each test runs once and a lane busy with a long one leaves the next to
# the others; its BUILD/tests/summary and failures files end in -K.
#
# Environment given to every test:
#   PKI_TEST_PG_URI     superuser conninfo to the migrated database pki
#   PKI_TEST_DIR        an empty scratch directory of its own
#   SOFTHSM2_CONF       unit tests: a SoftHSM2 with no tokens, of its own;
#                       integration tests: the stack's
#   PKI_TEST_HSM_MODULE the PKCS#11 module
#   PKI_STACK_DIR, PKI_CONFIG, BUILD (absolute), sanitizer options
# Integration tests also get every KEY=VALUE of the stack's stack.env.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: tests/run.sh BUILD [unit|integration|all]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
BUILD=$(realpath -m -- "$1")
MODE=${2:-all}
case $MODE in unit|integration|all) ;; *) usage ;; esac
[ -d "$BUILD" ] || { echo "run.sh: $BUILD does not exist (run make first)" >&2; exit 2; }
# Tests find the repository's files (policy/, tests/) from its root.
cd "$REPO"
TIMEOUT=${PKI_TEST_TIMEOUT:-600}
CLAIMS=${PKI_TEST_CLAIMS:-}
SUFFIX=''
if [ -n "$CLAIMS" ]; then
	[[ ${PKI_TEST_LANE:-} =~ ^[1-9][0-9]?$ ]] && [ -d "$CLAIMS" ] ||
		{ echo "run.sh: PKI_TEST_CLAIMS wants a directory and PKI_TEST_LANE a number" >&2; exit 2; }
	SUFFIX=-$PKI_TEST_LANE
fi
# claim NAME: true when this run is to run NAME (mkdir is atomic: one lane
# of those sharing CLAIMS wins each test).
claim() { [ -z "$CLAIMS" ] || mkdir -- "$CLAIMS/${1//\//_}" 2>/dev/null; }
HSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
# The tests judge with Debian's tools (deploy/packages.txt): its python3
# (with python3-aiosmtpd and python3-yaml; a pyenv shim first in PATH cost
# ~300 ms per call and lacks them), and PostgreSQL 15's psql itself, not
# Debian's Perl wrapper /usr/bin/psql (~35 ms more per call, hundreds of
# calls per test). /usr/sbin for slapadd and nginx: a user's PATH on
# Debian has no sbin directories.
export PATH=/usr/lib/postgresql/15/bin:/usr/sbin:/sbin:/usr/bin:/bin:$PATH

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ -f "$REPO/tests/lsan.supp" ]; then
	export LSAN_OPTIONS=suppressions=$REPO/tests/lsan.supp
fi

TMP=$(mktemp -d /tmp/pki-test.XXXXXX)
# The stack's PostgreSQL and slapd run as pki when we are root.
# Every daemon's own user traverses it.
if [ "$(id -u)" -eq 0 ]; then chown pki:pki -- "$TMP"; chmod 0711 -- "$TMP"; fi
STACK=$TMP/stack
passed=0
failed=0
stack_started=0
# One line per failed test (its name and its first "FAIL:" line), written
# to BUILD/tests/failures at the end: make check prints it last, where a
# log shown only by its tail still names what failed.
failures=$TMP/failures
: >"$failures"

cleanup() {
	local rc=$?
	set +e
	trap - INT TERM HUP
	if [ "$stack_started" -eq 1 ]; then
		"$REPO/deploy/stack.sh" down --dir "$STACK" >"$TMP/stack-down.log" 2>&1 ||
			{ echo "run.sh: stopping the stack failed:" >&2; cat "$TMP/stack-down.log" >&2; rc=1; }
	fi
	if [ "$failed" -gt 0 ] && [ -n "${PKI_TEST_KEEP:-}" ]; then
		echo "run.sh: kept $TMP"
	else
		rm -rf -- "$TMP"
	fi
	exit "$rc"
}
current=''
# On a signal: stop the running test (timeout passes the signal to its
# process group; the test's own EXIT trap stops any stack it started), then
# clean up through the EXIT trap.
on_signal() {
	echo "run.sh: interrupted" >&2
	failed=$((failed + 1))
	if [ -n "$current" ]; then
		kill -TERM "$current" 2>/dev/null || true
		wait "$current" 2>/dev/null || true
	fi
	exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM HUP

# stack_diagnose: for each component of the runner's stack that is down,
# its status line and the end of its log (a daemon killed by a sanitizer
# leaves its report there, not in the test's output).
SAN_RE='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'
stack_diagnose() {
	local line name logf
	{ "$REPO/deploy/stack.sh" status --dir "$STACK" --build "$BUILD" 2>&1 || true; } |
	while IFS= read -r line; do
		case $line in *" down "*) ;; *) continue ;; esac
		name=${line%% *}
		logf=$STACK/log/$name.log
		[ "$name" = postgres ] && logf=$STACK/log/postgresql.log
		echo "    ---- stack component down: $line"
		[ -s "$logf" ] || continue
		if grep -qE "$SAN_RE" "$logf"; then
			grep -m1 -A25 -E "$SAN_RE" "$logf" | sed 's/^/    | /'
		else
			tail -n 25 "$logf" | sed 's/^/    | /'
		fi
	done
	return 0
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1fs", b - a}'; }

# run_test NAME CMD...: runs CMD with its output in a file; ok/FAIL line.
run_test() {
	# shellcheck disable=SC2053
	[[ $1 == ${PKI_TEST_ONLY:-*} ]] || return 0
	claim "$1" || return 0
	local name=$1 t0 rc out
	shift
	out=$TMP/out/${name//\//_}.log
	mkdir -p "$TMP/out"
	t0=$(now)
	# In the background and waited for, so that a signal is handled at once.
	timeout -k 30 "$TIMEOUT" "$@" </dev/null >"$out" 2>&1 &
	current=$!
	set +e
	wait "$current"
	rc=$?
	set -e
	current=''
	if [ "$rc" -eq 0 ]; then
		printf 'ok   %s (%s)\n' "$name" "$(elapsed "$t0")"
		[ -z "${PKI_TEST_SHOW:-}" ] || sed 's/^/    | /' "$out"
		passed=$((passed + 1))
	else
		[ "$rc" -eq 124 ] && echo "(killed after ${TIMEOUT}s)" >>"$out"
		printf 'FAIL %s (exit %d, %s)\n' "$name" "$rc" "$(elapsed "$t0")"
		sed 's/^/    | /' "$out"
		printf '%s: %s\n' "$name" \
			"$(grep -m1 -E 'FAIL|[Ee]rror' "$out" | cut -c1-300 || tail -n1 "$out" | cut -c1-300)" \
			>>"$failures"
		stack_diagnose
		failed=$((failed + 1))
	fi
}

# --- the stack ------------------------------------------------------------------
# No periodic sealer in the shared stack: test_audit seals and counts seals
# itself (test_stack runs a stack with one).
export PKI_STACK_SEAL_EVERY=${PKI_STACK_SEAL_EVERY:-0}
t0=$(now)
if ! "$REPO/deploy/stack.sh" up --dir "$STACK" --ports auto --build "$BUILD" --ephemeral \
    >"$TMP/stack-up.log" 2>&1; then
	stack_started=1
	printf 'FAIL stack (deploy/stack.sh up --dir %s)\n' "$STACK"
	sed 's/^/    | /' "$TMP/stack-up.log"
	failed=$((failed + 1))
	# stack.env is written once PostgreSQL, slapd and the CA are up: then
	# only a daemon failed (its log's tail is above), and the tests still
	# tell us about the rest.
	if [ ! -s "$STACK/stack.env" ]; then
		for f in "$STACK"/log/*.log; do
			[ -s "$f" ] || continue
			echo "    ---- $f (last lines)"
			tail -n 15 "$f" | sed 's/^/    | /'
		done
		echo "$passed passed, $failed failed"
		mkdir -p "$BUILD/tests"
		echo "stack: deploy/stack.sh up failed" >"$BUILD/tests/failures$SUFFIX"
		exit 1
	fi
	echo "run.sh: running the tests against the partial stack"
else
	echo "stack up in $STACK ($(elapsed "$t0"))"
fi
stack_started=1

STACK_USER=$(sed -n 's/^PKI_STACK_USER=//p' "$STACK/stack.env")
PG_HOST=$(sed -n 's/^PKI_PG_HOST=//p' "$STACK/stack.env")
PG_PORT=$(sed -n 's/^PKI_PG_PORT=//p' "$STACK/stack.env")
export PKI_TEST_PG_URI="host=$PG_HOST port=$PG_PORT dbname=pki user=$STACK_USER"
export PKI_TEST_HSM_MODULE=$HSM_MODULE
export PKI_STACK_DIR=$STACK
export PKI_CONFIG=$STACK/pki.conf
export BUILD

# --- unit tests --------------------------------------------------------------------
# Each program gets its own scratch directory and its own empty SoftHSM2.
unit_env() {
	local d=$TMP/unit/$1
	mkdir -p "$d/scratch" "$d/hsm/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$d/hsm/tokens" >"$d/hsm/softhsm2.conf"
	echo "$d"
}

if [ "$MODE" != integration ]; then
	units=0
	while IFS= read -r bin; do
		name=unit/${bin#"$BUILD"/tests/unit/}
		d=$(unit_env "${name//\//_}")
		run_test "$name" env PKI_TEST_DIR="$d/scratch" SOFTHSM2_CONF="$d/hsm/softhsm2.conf" \
			"$bin"
		units=$((units + 1))
	done < <(find "$BUILD/tests/unit" -mindepth 2 -maxdepth 2 -type f -name 'test_*' \
		-perm -u+x 2>/dev/null | sort)
	# A missing or empty unit directory is a failure, not "nothing to do".
	if [ "$units" -eq 0 ] && [ -z "${PKI_TEST_ONLY:-}" ]; then
		echo "FAIL unit (no unit test program in $BUILD/tests/unit)"
		failed=$((failed + 1))
	fi
fi

# --- integration tests ----------------------------------------------------------------
if [ "$MODE" != unit ]; then
	for t in "$REPO"/tests/integration/test_*.sh; do
		[ -e "$t" ] || continue
		name=integration/$(basename "$t" .sh)
		d=$TMP/integration/$(basename "$t" .sh)
		mkdir -p "$d"
		# The stack's facts, exported, in the test's own environment only.
		run_test "$name" env PKI_TEST_DIR="$d" \
			bash -c 'set -a; . "$PKI_STACK_DIR/stack.env"; set +a; exec bash "$0" "$BUILD"' "$t"
	done
fi

# --- the stack itself: still whole, stops cleanly, no sanitizer report ----------------
ran=$((passed + failed))
if [ "$ran" -gt 0 ]; then
	problems=''
	if ! "$REPO/deploy/stack.sh" status --dir "$STACK" --build "$BUILD" >"$TMP/status.log" 2>&1; then
		problems="a component died during the tests"
	fi
	if ! "$REPO/deploy/stack.sh" down --dir "$STACK" >"$TMP/stack-down.log" 2>&1; then
		problems="${problems:+$problems; }stack.sh down failed: $(tail -n 3 "$TMP/stack-down.log")"
	fi
	stack_started=0
	reports=$(grep -lE "$SAN_RE" "$STACK"/log/*.log 2>/dev/null || true)
	[ -z "$reports" ] || problems="${problems:+$problems; }sanitizer reports in $(echo $reports)"
	if [ -z "$problems" ]; then
		echo "ok   stack (every component up after the tests, clean stop, no sanitizer report)"
		passed=$((passed + 1))
	else
		echo "FAIL stack ($problems)"
		echo "stack: $problems" >>"$failures"
		sed 's/^/    | /' "$TMP/status.log"
		for f in $reports; do
			echo "    ---- $f"
			grep -m1 -A25 -E "$SAN_RE" "$f" | sed 's/^/    | /'
		done
		failed=$((failed + 1))
	fi
fi

echo "$passed passed, $failed failed"
# For `make check`, which adds up its runs.
mkdir -p "$BUILD/tests" && echo "$passed $failed" >"$BUILD/tests/summary$SUFFIX"
cp -- "$failures" "$BUILD/tests/failures$SUFFIX"
# A lane may find every test claimed by the others (tests/run_both.sh
# checks that the lanes together ran some).
if [ "$ran" -eq 0 ] && [ -z "$CLAIMS" ]; then
	echo "run.sh: no test ran (mode $MODE, $BUILD/tests/unit, tests/integration)" >&2
	exit 1
fi
[ "$failed" -eq 0 ]
