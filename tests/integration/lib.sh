# Helpers for tests/integration/test_*.sh; source it first:
#	. "$(dirname "$0")/lib.sh"
# It sets -euo pipefail, REPO, BUILD (absolute), STACK_SH, TEST_TMP (this
# test's directory under /tmp) and an EXIT trap that stops every stack started
# with stack_new and removes TEST_TMP, even when the test fails or is
# interrupted (PKI_TEST_KEEP=1 keeps it after a failure).
# tests/run.sh exports PKI_STACK_DIR (its stack), the stack's stack.env
# (PKI_CONFIG, PKI_PG_URI, ...) and PKI_TEST_PG_URI (superuser).
# shellcheck shell=bash
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-${1:-$REPO/build}}
BUILD=$(realpath -m -- "$BUILD")
STACK_SH=$REPO/deploy/stack.sh
TEST_NAME=$(basename "$0" .sh)

_lib_stacks=()
# One directory per test, made here (not in a $(...) subshell) so that the
# EXIT trap knows it; test_tmpdir makes directories inside it.
TEST_TMP=$(mktemp -d "/tmp/pki-$TEST_NAME.XXXXXX")
# The stack user (pki when root) owns it; every daemon's user traverses it.
if [ "$(id -u)" -eq 0 ]; then chown pki:pki -- "$TEST_TMP"; chmod 0711 -- "$TEST_TMP"; fi

# Each test's curl speaks from its own loopback address (127.0.0.N, all on
# lo under Linux), so per-address rate limits (rad's log-in and
# registration limits) count each test apart: one test's requests never
# make the next wait. A test that needs another address passes --interface.
TEST_ADDR=127.0.0.$(( $(cksum <<<"$TEST_NAME" | cut -d' ' -f1) % 200 + 20 ))
printf 'interface = %s\n' "$TEST_ADDR" >"$TEST_TMP/.curlrc"
export CURL_HOME=$TEST_TMP

# at_exit CMD: CMD (eval'd) runs at the test's end, before the stack
# restarts and clean-up. Never put commands before _lib_cleanup in an EXIT
# trap: it must see the test's own exit status first.
_lib_at_exit=()
at_exit() { _lib_at_exit+=("$1"); }

_lib_cleanup() {
	local rc=$? d h st
	set +e
	for h in "${_lib_at_exit[@]}"; do eval "$h"; done
	# A hold of the shared stack's TSA or issuing CA that the test has
	# released: tsad sees the release within 2 s (tsa/certwatch.c), and
	# the next test is to find it issuing.
	if [ -n "${PKI_TSA_URL:-}" ]; then
		for _ in $(seq 50); do
			curl -s --max-time 2 "$PKI_TSA_URL/health" 2>/dev/null |
				jq -e '.cert_revoked != null' >/dev/null 2>&1 || break
			sleep 0.2
		done
	fi
	for d in "${_lib_restart[@]}"; do
		# Not when the test started the daemon again itself: status
		# costs ~0.5 s, an up with nothing to do ~5 s.
		st=$("$STACK_SH" status --dir "$d" --build "$BUILD" 2>&1) &&
			! grep -q ' down ' <<<"$st" && continue
		"$STACK_SH" up --dir "$d" --ports auto --build "$BUILD" --ephemeral >"$TEST_TMP/restart.log" 2>&1 ||
			{ echo "$TEST_NAME: could not restart the stack's daemons:" >&2; cat "$TEST_TMP/restart.log" >&2; rc=1; }
	done
	for d in "${_lib_stacks[@]}"; do
		"$STACK_SH" down --dir "$d" >/dev/null 2>&1 ||
			echo "$TEST_NAME: could not stop the stack in $d" >&2
	done
	if [ "$rc" -ne 0 ] && [ -n "${PKI_TEST_KEEP:-}" ]; then
		echo "$TEST_NAME: kept $TEST_TMP" >&2
	else
		rm -rf -- "$TEST_TMP"
	fi
	exit "$rc"
}
trap _lib_cleanup EXIT
# A signal ends the test through exit, so the EXIT trap runs.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

fail() { echo "FAIL: $*" >&2; exit 1; }

# ocsp_client ARGS...: `openssl ocsp ARGS` as a relying party runs it, its
# output on stdout (never fails: the checks read it). Unless the response
# verified ("Response verify OK"), the status, reason and time lines are
# marked UNVERIFIED, so that a check for ": good", ": revoked" or
# "Reason: …" cannot pass on a response nobody checked.
ocsp_client() {
	local out
	out=$(openssl ocsp "$@" 2>&1) || true
	if ! grep -q '^Response verify OK' <<<"$out"; then
		out=$(sed -E 's/: (good|revoked|unknown)/:UNVERIFIED \1/; s/(Reason|Revocation Time|Invalidity Date):/\1:UNVERIFIED/' <<<"$out")
	fi
	# cat, not printf: a reader that stops early (grep -q) kills the
	# writer with SIGPIPE; an external cat's 141 is swallowed here, a
	# builtin's would end the function's subshell with it (pipefail).
	cat <<<"$out" || true
}
note() { echo "$TEST_NAME: $*"; }

# test_tmpdir: prints a new directory inside TEST_TMP (removed at exit);
# usable as d=$(test_tmpdir). When root, it belongs to the stack user, who
# must traverse it to run a stack there.
test_tmpdir() {
	local d
	d=$(mktemp -d "$TEST_TMP/t.XXXXXX")
	if [ "$(id -u)" -eq 0 ]; then chown pki:pki -- "$d"; chmod 0711 -- "$d"; fi
	echo "$d"
}

# stack_new DIR [ARGS...]: `stack.sh up` on free ports, stopped at exit.
# Output goes to DIR.up.log (shown when it fails).
stack_new() {
	local dir=$1
	shift
	_lib_stacks+=("$dir")
	stack_up "$dir" "$@"
}

# stack_up DIR [ARGS...]: another `up` of an existing (or new) stack.
stack_up() {
	local dir=$1
	shift
	if ! "$STACK_SH" up --dir "$dir" --ports auto --build "$BUILD" --ephemeral "$@" \
	    >"$dir.up.log" 2>&1; then
		cat "$dir.up.log" >&2
		fail "stack.sh up --dir $dir failed"
	fi
}

stack_down() {
	"$STACK_SH" down --dir "$1" >"$1.down.log" 2>&1 ||
		{ cat "$1.down.log" >&2; fail "stack.sh down --dir $1 failed"; }
}

# stack_get DIR KEY: a value from DIR/stack.env.
stack_get() {
	sed -n "s/^$2=//p" "$1/stack.env"
}

# stack_use DIR: what follows works on the private stack DIR (stack_new)
# rather than run.sh's: PKI_CONFIG, PKI_DIR, SOFTHSM2_CONF and STACK_PG
# (its superuser's conninfo) become DIR's, and `q SQL` and `pkictl ARGS`
# use them. run.sh exports its stack's stack.env, whose PKI_LDAP_* and
# PKI_PG_URI override ldap.* and pg.uri (lib/config.h): they are unset, so
# that pkictl and the daemons a test starts use DIR's slapd and database.
stack_use() {
	PKI_CONFIG=$(stack_get "$1" PKI_CONFIG)
	PKI_DIR=$(stack_get "$1" PKI_DIR)
	SOFTHSM2_CONF=$(stack_get "$1" SOFTHSM2_CONF)
	STACK_PG="host=$(stack_get "$1" PKI_PG_HOST) port=$(stack_get "$1" PKI_PG_PORT) dbname=pki user=$(stack_get "$1" PKI_STACK_USER)"
	export PKI_CONFIG PKI_DIR SOFTHSM2_CONF
	unset PKI_LDAP_URI PKI_LDAP_BASE PKI_PG_URI
	q() { sql_as "$STACK_PG" "$1"; }
	pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
}

# stack_daemon_stop NAME: stops the shared stack's daemon NAME (SIGTERM, waits
# up to 20 s), e.g. so a test can run its own cad workers alone; the EXIT
# trap starts it again with `stack.sh up` (which starts only what is down).
_lib_restart=()
stack_daemon_stop() {
	local pid i
	pid=$(pidfile_of "$PKI_STACK_DIR" "$1")
	[ -n "$pid" ] || return 0
	_lib_restart+=("$PKI_STACK_DIR")
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	fail "stack daemon $1 (pid $pid) did not stop on SIGTERM"
}

# stack_stop DIR NAME: stops daemon NAME of a test's own stack DIR
# (SIGTERM, waits up to 20 s) once the token files pkictl made are the HSM
# user's (tokens_given), so that the next stack_up starts it with them.
stack_stop() {
	local pid
	tokens_given "$(dirname "$(stack_get "$1" SOFTHSM2_CONF)")/tokens"
	pid=$(pidfile_of "$1" "$2")
	kill -TERM "$pid"
	for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null || fail "$2 (pid $pid) did not stop"
}

# The newest audit event that a test's own request could have written: the
# stack's daemons keep appending theirs in the background (crld's CRLs and
# directory publication, tsad's token batches), and a refusal-changes-nothing
# check must not trip over them.
AUDIT_BACKGROUND="('crl.issue', 'publish.ldap', 'publish.queue', 'tsa.tokens.record')"
AUDIT_MAX="(SELECT coalesce(max(id), 0) FROM audit_event WHERE action NOT IN
    $AUDIT_BACKGROUND)"
# AUDIT_MAX_OWN: AUDIT_MAX without the events of the stack's cad (actor
# cad:...) and rad's notifier (ra:notifier) either: for an order or an
# application an earlier test left behind they write theirs whenever cad
# polls or the notifier's round comes, in any window. For a check of a
# command that writes neither (pkictl's, a request to rad's HTTP API),
# with the order count beside it when the command could make an order.
AUDIT_MAX_OWN="(SELECT coalesce(max(id), 0) FROM audit_event WHERE action NOT IN
    $AUDIT_BACKGROUND AND actor NOT LIKE 'cad:%' AND actor <> 'ra:notifier')"

# For HTTP tests whose req() leaves the status in $code, the body in
# $tmp/out and the headers in $tmp/hdr:
# expect STATUS WHAT: the answer had STATUS and, for an error, RFC 9457
# problem JSON (application/problem+json) carrying the same status.
expect() {
	[ "$code" = "$1" ] || fail "$2: HTTP $code, expected $1: $(head -c 600 "$tmp/out")"
	if [ "$1" -ge 400 ]; then
		grep -qi '^content-type: application/problem+json' "$tmp/hdr" ||
			fail "$2: not RFC 9457 problem JSON"
		[ "$(jq -r .status "$tmp/out")" = "$1" ] || fail "$2: problem status"
	fi
}
# detail: the problem's detail member.
detail() { jq -r .detail "$tmp/out"; }

# pidfile_of DIR NAME: the PID in DIR/run/NAME.pid, or nothing.
pidfile_of() {
	[ -s "$1/run/$2.pid" ] && head -n1 "$1/run/$2.pid" || true
}

# procs_mentioning STR: PIDs (other than this shell and its ancestors) whose
# command line contains STR.
procs_mentioning() {
	local p self=" $$ $BASHPID " pid
	# Our ancestors mention the directory too (e.g. bash test.sh --dir ...).
	pid=$$
	while [ "$pid" -gt 1 ]; do
		self="$self$pid "
		pid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null || echo 1)
	done
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		case $self in *" $p "*) continue ;; esac
		tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | has -F -- "$1" && echo "$p"
	done
	return 0
}

# start_code PID: field 26 of /proc/PID/stat as this process sees it: the
# address, or 1 when ptrace_may_access(PTRACE_MODE_READ) refuses, as it
# does to the process's own user for a process that is not dumpable.
start_code() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $24}'; }
# as_owner_of PID CMD...: CMD as PID's uid and gid, and (root) without
# CAP_SYS_PTRACE, which ignores dumpability; its other capabilities stay,
# so that a root process's (tsad's, signd's supervisor) are a subset.
as_owner_of() {
	local p=$1 uid gid
	shift
	uid=$(awk '/^Uid:/ {print $2}' "/proc/$p/status")
	gid=$(awk '/^Gid:/ {print $2}' "/proc/$p/status")
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid="$uid" --regid="$gid" --clear-groups --bounding-set=-sys_ptrace -- "$@"
	else
		"$@"
	fi
}
# no_dumps PID WHAT: the process may leave no core file (RLIMIT_CORE 0,
# soft and hard) and is not dumpable (PR_SET_DUMPABLE 0: lib/sandbox.h
# sandbox_no_dumps): its own user cannot look into it (start_code).
no_dumps() {
	local code
	has -E '^Max core file size +0 +0 ' <"/proc/$1/limits" ||
		fail "$2 (pid $1) may dump core: $(grep '^Max core' "/proc/$1/limits")"
	code=$(as_owner_of "$1" bash -c "$(declare -f start_code); start_code $1") ||
		fail "$2 (pid $1) is not running"
	[ "$code" = 1 ] || fail "$2 (pid $1) is dumpable: its user sees its start_code $code in /proc/$1/stat"
}

# sandboxed PID WHAT USER: every thread of the process runs demoted (as
# USER, e.g. pki-ocsp or pki-hsm, when the tests run as root: real, effective
# and saved uid; deploy/README.md "Users"), with no_new_privs and a seccomp
# filter (lib/sandbox.c; a sanitizer build installs no filter); the process
# is not dumpable and leaves no core file (no_dumps).
sandboxed() {
	local st uid t filtered=1 n=0
	ldd "$BUILD/pkictl" | has libasan && filtered=0
	[ -d "/proc/$1/task" ] || fail "$2 (pid $1) is not running"
	# Every thread: uids, no_new_privs and filters are each thread's own.
	for t in "/proc/$1"/task/*; do
		st=$(cat "$t/status" 2>/dev/null) || continue	# a thread that ended
		n=$((n + 1))
		uid=$(awk '/^Uid:/ {print $2 " " $3 " " $4}' <<<"$st")
		if [ "$(id -u)" -eq 0 ] && [ "$uid" != "$(id -u "$3") $(id -u "$3") $(id -u "$3")" ]; then
			fail "$2 (pid $1, thread ${t##*/}) runs as uids $uid ($(id -nu "${uid%% *}" 2>/dev/null)), not $3"
		fi
		[ "$(awk '/^NoNewPrivs:/ {print $2}' <<<"$st")" = 1 ] ||
			fail "$2 (pid $1, thread ${t##*/}) runs without no_new_privs"
		if [ "$filtered" = 1 ]; then
			[ "$(awk '/^Seccomp:/ {print $2}' <<<"$st")" = 2 ] ||
				fail "$2 (pid $1, thread ${t##*/}) runs without its seccomp filter"
		fi
	done
	[ "$n" -gt 0 ] || fail "$2 (pid $1) is not running"
	no_dumps "$1" "$2"
}

# publish_all: `pkictl publish` until nothing is pending. The stack's crld
# publishes the same queue (FOR UPDATE SKIP LOCKED): rows it holds at that
# moment count as pending, and are done a moment later.
publish_all() {
	local i out=$TEST_TMP/publish.out
	for i in $(seq 50); do
		"$PKICTL" --config "$PKI_CONFIG" publish >"$out" 2>&1 && return 0
		sleep 0.2
	done
	cat "$out" >&2
	fail "pkictl publish: $(tail -n1 "$out")"
}

# agreement_terms RA_URL TOKEN APP: the terms of APP's agreement preview
# (GET .../agreement), which POST .../agreement must name back; fails
# unless the preview answers 200. Leaves $tmp/out and $code alone.
# NO_TERMS: well-formed terms no preview has, for refusals decided before
# the terms are compared.
agreement_terms() {
	curl -fsS -H "Authorization: Bearer $2" "$1/v1/applications/$3/agreement" | jq -er .terms
}
NO_TERMS=$(printf '0%.0s' $(seq 64))

# sql_as CONNINFO SQL: one statement, unaligned output, errors fatal to psql.
sql_as() {
	psql -X -q -At -v ON_ERROR_STOP=1 "$1" -c "$2"
}

# open_tx: a psql coprocess on the test database, to hold a transaction open
# while a daemon races it. Sets tx_pid, tx_in (write SQL there) and tx_out
# (read its answers): bash unsets TX and TX_PID as soon as the coprocess
# ends, so these are copies. commit_tx [SQL]: runs SQL (e.g. RELEASE
# SAVEPOINT s;) and COMMIT, checks that it committed, and ends psql.
open_tx() {
	coproc TX { psql -X -q -At -v ON_ERROR_STOP=1 "$PKI_TEST_PG_URI" 2>&1; }
	tx_pid=$TX_PID
	tx_in=${TX[1]}
	tx_out=${TX[0]}
	at_exit "kill $tx_pid 2>/dev/null || true"
}
commit_tx() {
	local ok=
	echo "${1:-} COMMIT; SELECT 'committed';" >&"$tx_in"
	read -r -t 10 ok <&"$tx_out" && [ "$ok" = committed ] || fail "the open transaction did not commit: $ok"
	exec {tx_in}>&-
	wait "$tx_pid" 2>/dev/null || true
}
# wait_lock ROLE: 0 once a backend of ROLE waits for a lock (within 10 s), else 1.
wait_lock() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(sql_as "$PKI_TEST_PG_URI" "SELECT count(*) FROM pg_stat_activity
		    WHERE usename = '$1' AND wait_event_type = 'Lock'")" -ge 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# has [GREP OPTION...] PATTERN: grep -q for the end of a pipeline. grep -q
# exits at the first match, and a writer still writing then gets SIGPIPE,
# which under pipefail fails the whole check (ldd in sandboxed(), openssl
# asn1parse, -resp_text: each failed a run once). has reads everything.
has() { grep "$@" >/dev/null; }
# tokens_given DIR: pkictl run as root left no file under DIR (SoftHSM2's
# token directory) of root's while DIR is another user's: the signers,
# demoted to that user, read them (ca/pkictl.c give_token_files).
tokens_given() {
	local left
	[ "$(id -u)" -eq 0 ] && [ "$(stat -c %u "$1")" -ne 0 ] || return 0
	left=$(find "$1" -user 0 -printf '%M %u %p\n')
	[ -z "$left" ] || fail "pkictl left token files of root's in $1: $left"
}

# sql_fails CONNINFO SQL PATTERN: the statement must fail with an error
# matching PATTERN (grep -E).
sql_fails() {
	local out
	if out=$(psql -X -q -At -v ON_ERROR_STOP=1 "$1" -c "$2" 2>&1); then
		fail "succeeded but must fail: [$1] $2"
	fi
	# Not echo | grep -q: grep may exit before echo has written everything,
	# and under pipefail echo's SIGPIPE failed the check (test_schema, once).
	grep -qE -- "$3" <<<"$out" || fail "[$1] $2: wrong error: $out"
}

# no_secret_in WHAT FILE...: fails when a member of the caller's "secrets"
# array occurs in one of the files as a whole word. Whole words, because a
# 6-digit code may well occur inside a longer number, a NIK or a hex serial
# (once in a few hundred runs: a flaky test, not a leak).
no_secret_in() {
	local what=$1 s
	shift
	for s in "${secrets[@]}"; do
		[ -n "$s" ] || continue
		! grep -qwF -- "$s" "$@" || fail "a secret is in $what"
	done
}

# audit_text FILE: every audit event as one line of text, for no_secret_in.
audit_text() {
	sql_as "${PKI_TEST_PG_URI:?tests/run.sh sets it}" \
		"SELECT actor || ' ' || action || ' ' || coalesce(object_id, '') || ' ' || details::text FROM audit_event" >"$1"
}

# wait_port PORT PID WHAT: until 127.0.0.1:PORT accepts, while PID (a
# server of the test's own, logging to $tmp/WHAT.log) lives.
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || fail "$3 died: $(cat "$tmp/$3.log")"
		sleep 0.1
	done
	fail "$3 does not listen on 127.0.0.1:$1: $(cat "$tmp/$3.log")"
}

# wait_line FILE STRING: waits up to 5 s for a line containing STRING
# (grep -F) in FILE; status 1 if none came. A daemon answers /health as
# soon as its HTTP threads run, before its start-up line is logged.
wait_line() {
	local i
	for ((i = 0; i < 50; i++)); do
		grep -qF -- "$2" "$1" && return 0
		sleep 0.1
	done
	return 1
}

# wait_mail EMAIL PATTERN: prints the path of a message to EMAIL in the mail
# sink ($mail) with a line matching PATTERN (grep -E), waiting up to 10 s
# (notices go through rad's outbox, schema/033); status 1 if none came.
wait_mail() {
	local i f
	for ((i = 0; i < 100; i++)); do
		f=$(grep -l -- "^To: <$1>" "$mail"/*.eml 2>/dev/null | xargs -r grep -l -E -- "$2" 2>/dev/null |
		    sed -n 1p || true)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.1
	done
	echo "no mail to $1 matching $2" >&2
	return 1
}

# outbox_settled PATTERN: waits up to 30 s until rad's outbox holds no
# mail to a recipient LIKE PATTERN (e.g. '%@cancel.example') that is still
# to be sent: each one sent (in the mail sink) or given up (a reset mail
# whose token died: ra.mail.expired). The outbox thread sends a mail a
# moment after the request that queued it, so a snapshot of the sink or
# of audit_event taken before then changes by itself; status 1 if some
# still wait. outbox_settled_re REGEX: the same for the recipients
# matching the POSIX regular expression REGEX (case-insensitive, e.g.
# '^(ann|bob)@example\.com$'), for a test whose recipients share their
# domain with other tests'.
outbox_settled() { _outbox_settled "LIKE '$1'"; }
outbox_settled_re() { _outbox_settled "~* '$1'"; }
_outbox_settled() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(_lib_q "SELECT count(*) FROM ra_mail_outbox WHERE recipient $1
		    AND sent_at IS NULL AND next_attempt_at <> 'infinity'" || true)" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# hold_cad: the stack's cad and its signer held still (SIGSTOP: this stack's
# processes only; SIGCONT at exit in any case); sets cad_pids for
# "kill -CONT $cad_pids".
_proc_tree() { local p; for p in "$@"; do echo "$p"; _proc_tree $(pgrep -P "$p" || true); done; }
hold_cad() {
	cad_pids=$(_proc_tree "$(cat "$PKI_DIR/run/cad.pid")")
	[ -n "$cad_pids" ] || fail "no cad process"
	at_exit "kill -CONT $(echo $cad_pids) 2>/dev/null || true"
	kill -STOP $cad_pids
}

# order_issued KIND SUBJECT-JSON [KEY-TYPE]: a pkictl order (profile KIND,
# key type ec-p256 unless given) that the stack's cad issues within 30 s;
# sets order and cert. pkictl's orders belong to no RA account: a test
# links one by SQL where it needs to.
order_issued() {
	local i st=
	order=$("$PKICTL" --config "$PKI_CONFIG" order add --kind "$1" --profile "$1" \
	    --key-type "${3:-ec-p256}" --subject "$2") || fail "pkictl order add ($1)"
	for ((i = 0; i < 300; i++)); do
		st=$(_lib_q "SELECT status FROM issuance_order WHERE id = $order" || true)
		[ "$st" = done ] || [ "$st" = failed ] && break
		sleep 0.1
	done
	[ "$st" = done ] || fail "the stack's cad did not issue order $order ($st): $(_lib_q \
	    "SELECT last_error FROM issuance_order WHERE id = $order")"
	cert=$(_lib_q "SELECT certificate_id FROM issuance_order WHERE id = $order")
}

# _lib_q SQL: the test's own q (a test on a stack of its own defines one
# for that stack's database), else the run's stack.
_lib_q() {
	if declare -F q >/dev/null; then q "$1"; else sql_as "$PKI_TEST_PG_URI" "$1"; fi
}

# agreed_by_sql APP ORDER: APP approved and agreed to with ORDER, by SQL
# (the review and the agreement are other tests' subject): once ORDER is
# done, a notifier issues it.
agreed_by_sql() {
	_lib_q "UPDATE ra_application SET status = 'approved', decided_at = now(),
	    decision_reason = 'test' WHERE id = $1" >/dev/null
	_lib_q "UPDATE ra_application SET status = 'agreed', agreed_at = now(),
	    order_id = $2 WHERE id = $1" >/dev/null
}

# app_issued APP [SECONDS]: 0 once APP is issued, 1 after SECONDS (30).
app_issued() {
	local i
	for ((i = 0; i < ${2:-30} * 10; i++)); do
		[ "$(_lib_q "SELECT status FROM ra_application WHERE id = $1" || true)" = issued ] && return 0
		sleep 0.1
	done
	return 1
}

# start_rad NAME [VAR=VALUE...]: another rad on a free port, with the stack's
# configuration and these overrides of it (lib/config.h: PKI_<SECTION>_<KEY>),
# the same database and sinks; logs to $tmp/NAME.log, stopped at exit; sets
# rad_pid and rad_url.
start_rad() {
	local name=$1 port
	shift
	port=$(free_port)
	env PKI_RA_PORT="$port" "$@" "$BUILD/rad" --config "$PKI_CONFIG" >"$tmp/$name.log" 2>&1 &
	rad_pid=$!
	at_exit "kill -TERM $rad_pid 2>/dev/null; wait $rad_pid 2>/dev/null"
	wait_port "$port" "$rad_pid" "$name"
	rad_url=http://127.0.0.1:$port
}

# free_port: a TCP port for a server of the test's own.
. "$(dirname "${BASH_SOURCE[0]}")/../free_port.sh"

# pg_proxy NAME USER MATCH NTH [SLOW_MS]: pg_stall_proxy.py in front of the
# run's PostgreSQL (its socket), stalling at MATCH (its NTH, 0: every one;
# '' never), each connection's set-up SLOW_MS longer; stopped at exit.
# Sets uri_NAME (a conninfo for USER through it) and ppid_NAME (its pid:
# kill -USR1 stops the stalling; kill, then pg_proxy NAME ... again, takes
# the server away and brings it back behind the same uri_NAME). Its stalls
# go to $tmp/NAME.px (emptied at each start), its errors to $tmp/NAME.pxlog.
pg_proxy() {
	local name=$1 user=$2 match=$3 nth=$4 slow=${5:-0} host port d dv p i
	host=$(stack_get "$PKI_STACK_DIR" PKI_PG_HOST)
	port=$(stack_get "$PKI_STACK_DIR" PKI_PG_PORT)
	[ -S "$host/.s.PGSQL.$port" ] || fail "the stack's PostgreSQL socket not found: $host/.s.PGSQL.$port"
	# A short directory of its own (a socket's path is at most 107
	# bytes), the same when NAME starts again.
	dv=pxdir_$name
	d=${!dv:-}
	if [ -z "$d" ]; then
		d=$(mktemp -d /tmp/pgpx.XXXXXX)
		chmod 0755 "$d"
		printf -v "$dv" '%s' "$d"
	fi
	rm -f -- "$d/.s.PGSQL.$port"
	: >"$tmp/$name.px"
	python3 "$REPO/tests/integration/pg_stall_proxy.py" "$d" "$port" "$host/.s.PGSQL.$port" \
		"$match" "$nth" "$tmp/$name.px" "$slow" 2>>"$tmp/$name.pxlog" &
	p=$!
	at_exit "kill $p 2>/dev/null || true; rm -rf -- $d"
	# 20 s: python3's start on a loaded machine; it is seldom 0.1 s late.
	for ((i = 0; i < 200; i++)); do
		[ -S "$d/.s.PGSQL.$port" ] && break
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	[ -S "$d/.s.PGSQL.$port" ] || { cat "$tmp/$name.pxlog" >&2; fail "pg_stall_proxy.py $name did not start"; }
	printf -v "uri_$name" 'host=%s port=%s dbname=pki user=%s' "$d" "$port" "$user"
	printf -v "ppid_$name" '%s' "$p"
}

# to_closed_pipe CMD [ARGS...]: runs CMD with its stdout a pipe whose read
# end is closed before CMD starts (a reader that has gone: a write gets
# EPIPE, or SIGPIPE), not racing a reader's exit as `CMD | true` does;
# returns CMD's exit status (128 + N when signal N ended it).
to_closed_pipe() {
	python3 -c 'import os, subprocess, sys
r, w = os.pipe()
os.close(r)
rc = subprocess.run(sys.argv[1:], stdout=w).returncode
sys.exit(128 - rc if rc < 0 else rc)' "$@"
}
