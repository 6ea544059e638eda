#!/usr/bin/env bash
# tsad judged by `openssl ts` and `openssl cms`, over HTTP with curl: every
# digest, with and without nonce and certReq; every documented rejection;
# records in PostgreSQL; the spill file across a database outage, restarts
# during it and a change of tsa.workers, its reload chunk by chunk inside
# the sandbox, a database that stalls at shutdown (and tsad ending without
# running exit handlers under the thread it left behind); a full record
# queue answered with systemFailure; a serial recorded twice (a replay
# skipped, another token kept apart); the clock check, with the kernel's
# error bound (adjtimex faked by a shim); tsa.workers' default on a host
# with many CPUs or none counted (sysconf faked); tsa.spill_file required.
# Runs against the stack of tests/run.sh (which started tsad).
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
pki=$PKI_DIR/pki
url=$PKI_TSA_URL
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }

echo "some document" >"$tmp/doc"
cat "$pki/tsa.pem" "$pki/issuing.pem" >"$tmp/untrusted.pem"

post() { # post QUERYFILE REPLYFILE [URL] -> HTTP status on stdout
	curl -sS -o "$2" -w '%{http_code}' -H 'Content-Type: application/timestamp-query' \
		--data-binary "@$1" "${3:-$url}/"
}
reply_text() { openssl ts -reply -in "$1" -text 2>/dev/null; }
status_of() { reply_text "$1" | sed -n 's/^Status: //p'; }

# A shim for tsad (LD_PRELOAD), built here:
#  - TSA_FAKE_ADJTIMEX=FILE: adjtimex() answers "STATE STATUS MAXERROR_US"
#    read from FILE at each call (opened at load, read with pread: the
#    worker's sandbox allows no open), without asking the kernel;
#  - TSA_EXIT_PROBE=FILE: when exit handlers run (exit(), not _exit()),
#    they append to FILE how many threads pthread_create started whose
#    start routine has not returned;
#  - TSA_FAKE_NPROCESSORS=N: sysconf(_SC_NPROCESSORS_ONLN) answers N (-1:
#    it cannot tell).
cat >"$tmp/probe.c" <<'C'
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/timex.h>
#include <unistd.h>

static int fake_fd = -1, probe_fd = -1, running;

int
adjtimex(struct timex *tx)
{
	static int (*real)(struct timex *);
	char buf[64];
	ssize_t n;
	long maxerror;
	int state, status;

	if (fake_fd == -1) {
		if (real == NULL)
			*(void **)&real = dlsym(RTLD_NEXT, "adjtimex");
		return real(tx);
	}
	if ((n = pread(fake_fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return errno = EIO, -1;
	buf[n] = '\0';
	if (sscanf(buf, "%d %d %ld", &state, &status, &maxerror) != 3)
		return errno = EIO, -1;
	if (state == -1)
		return errno = EPERM, -1;
	tx->status = status;
	tx->maxerror = maxerror;
	tx->esterror = maxerror / 2;
	return state;
}

long
sysconf(int name)
{
	static long (*real)(int);
	const char *n;

	if (name == _SC_NPROCESSORS_ONLN &&
	    (n = getenv("TSA_FAKE_NPROCESSORS")) != NULL)
		return strtol(n, NULL, 10);
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "sysconf");
	return real(name);
}

struct start {
	void	*(*fn)(void *);
	void	*arg;
};

static void *
trampoline(void *p)
{
	struct start s = *(struct start *)p;
	void *ret;

	free(p);
	ret = s.fn(s.arg);
	__atomic_sub_fetch(&running, 1, __ATOMIC_SEQ_CST);
	return ret;
}

int
pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
    void *arg)
{
	static int (*real)(pthread_t *, const pthread_attr_t *,
	    void *(*)(void *), void *);
	struct start *s;
	int rc;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
	if ((s = malloc(sizeof(*s))) == NULL)
		return EAGAIN;
	s->fn = fn;
	s->arg = arg;
	__atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST);
	if ((rc = real(t, a, trampoline, s)) != 0) {
		__atomic_sub_fetch(&running, 1, __ATOMIC_SEQ_CST);
		free(s);
	}
	return rc;
}

static void
probe_exit(void)
{
	char b[128];
	int n;

	n = snprintf(b, sizeof(b), "pid %d: exit handlers ran with %d "
	    "thread(s) running\n", (int)getpid(),
	    __atomic_load_n(&running, __ATOMIC_SEQ_CST));
	if (write(probe_fd, b, (size_t)n) != n)
		_exit(99);
}

__attribute__((constructor)) static void
probe_init(void)
{
	const char *f;

	if ((f = getenv("TSA_FAKE_ADJTIMEX")) != NULL &&
	    (fake_fd = open(f, O_RDONLY | O_CLOEXEC)) == -1)
		_exit(98);
	if ((f = getenv("TSA_EXIT_PROBE")) != NULL) {
		if ((probe_fd = open(f, O_WRONLY | O_APPEND | O_CREAT |
		    O_CLOEXEC, 0644)) == -1)
			_exit(98);
		atexit(probe_exit);
	}
}
C
${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -o "$tmp/probe.so" "$tmp/probe.c" -ldl ||
	fail "cannot build the adjtimex and exit shim"
# Its environment for a tsad: the shim first (ASan: it need not come first).
probe_env=(LD_PRELOAD="$tmp/probe.so" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0")

# --- granted tokens, verified by two tools --------------------------------------
serials=()
for d in sha256 sha384 sha512; do
	for variant in "nonce cert" "nonce" "cert" "none"; do
		args=(-data "$tmp/doc" "-$d")
		case $variant in *nonce*) ;; *) args+=(-no_nonce) ;; esac
		case $variant in *cert*) args+=(-cert) ;; esac
		base=$tmp/$d-${variant// /-}
		openssl ts -query "${args[@]}" -out "$base.tsq" 2>/dev/null
		code=$(post "$base.tsq" "$base.tsr")
		[ "$code" = 200 ] || fail "$d $variant: HTTP $code"
		[ "$(status_of "$base.tsr")" = "Granted." ] ||
			{ reply_text "$base.tsr"; fail "$d $variant: not granted"; }
		openssl ts -verify -in "$base.tsr" -queryfile "$base.tsq" \
			-CAfile "$pki/root.pem" -untrusted "$tmp/untrusted.pem" >"$base.v" 2>&1 ||
			{ cat "$base.v"; fail "openssl ts -verify rejects $d $variant"; }
		# The nonce is echoed.
		qn=$(openssl ts -query -in "$base.tsq" -text 2>/dev/null | sed -n 's/^Nonce: //p')
		rn=$(reply_text "$base.tsr" | sed -n 's/^Nonce: //p')
		[ "$qn" = "$rn" ] || fail "$d $variant: nonce $qn echoed as $rn"
		# certReq is honoured: the TSA certificate only when asked.
		openssl ts -reply -in "$base.tsr" -token_out -out "$base.tok" 2>/dev/null
		ncerts=$(openssl pkcs7 -inform DER -in "$base.tok" -print_certs 2>/dev/null |
			grep -c '^subject=' || true)
		case $variant in
		*cert*) [ "$ncerts" -ge 1 ] || fail "$d $variant: certReq but no certificate" ;;
		*) [ "$ncerts" -eq 0 ] || fail "$d $variant: certificates without certReq" ;;
		esac
		# RFC 5816: ESSCertIDv2 (signing-certificate-v2), policy from policy/tsa.conf.
		openssl cms -cmsout -print -inform DER -in "$base.tok" >"$base.cms" 2>&1
		grep -q 'id-smime-aa-signingCertificateV2' "$base.cms" ||
			fail "$d $variant: no signing-certificate-v2 attribute"
		reply_text "$base.tsr" | has '^Policy OID: 2.999.1.2.1' || fail "$d $variant: policy"
		reply_text "$base.tsr" | has '^Accuracy: 0x01 seconds' || fail "$d $variant: accuracy"
		serials+=("$(reply_text "$base.tsr" | sed -n 's/^Serial number: 0x//p')")
	done
done
# A second verifier: the token as CMS SignedData, checked by openssl cms.
base=$tmp/sha256-nonce-cert
openssl cms -verify -inform DER -in "$base.tok" -CAfile "$pki/root.pem" \
	-certfile "$pki/issuing.pem" -purpose timestampsign -out "$tmp/tstinfo.der" \
	>"$tmp/cms.out" 2>&1 || { cat "$tmp/cms.out"; fail "openssl cms -verify rejects the token"; }
openssl asn1parse -inform DER -in "$tmp/tstinfo.der" | has '2.999.1.2.1' ||
	fail "the CMS content is not our TSTInfo"
# A token does not verify for other data.
echo "other document" >"$tmp/other"
if openssl ts -verify -in "$base.tsr" -data "$tmp/other" -CAfile "$pki/root.pem" \
    -untrusted "$tmp/untrusted.pem" >/dev/null 2>&1; then
	fail "token verified for different data"
fi
# Serials are unique.
[ "$(printf '%s\n' "${serials[@]}" | sort -u | wc -l)" -eq "${#serials[@]}" ] ||
	fail "duplicate serial numbers"

# --- rejections, each with its documented status, and the daemon keeps serving --
# OpenSSL's text for each PKIFailureInfo bit (RFC 3161 §2.4.2) we expect.
bad_alg='unrecognized or unsupported algorithm identifier'
bad_request='transaction not permitted or supported'
bad_format='the data submitted has the wrong format'
bad_policy='the requested TSA policy is not supported by the TSA'
bad_ext='the requested extension is not supported by the TSA'
reject() { # reject NAME QUERYFILE FAILURE-TEXT: that failInfo bit, and no other
	local code
	code=$(post "$2" "$tmp/$1.tsr")
	[ "$code" = 200 ] || fail "$1: HTTP $code"
	[ "$(status_of "$tmp/$1.tsr")" = "Rejected." ] || { reply_text "$tmp/$1.tsr"; fail "$1: not rejected"; }
	reply_text "$tmp/$1.tsr" | has -Fx "Failure info: $3" ||
		{ reply_text "$tmp/$1.tsr"; fail "$1: want failure info '$3' (only)"; }
}
openssl ts -query -data "$tmp/doc" -sha1 -out "$tmp/sha1.tsq" 2>/dev/null
reject weak-hash "$tmp/sha1.tsq" "$bad_alg"
openssl ts -query -data "$tmp/doc" -md5 -out "$tmp/md5.tsq" 2>/dev/null
reject md5 "$tmp/md5.tsq" "$bad_alg"
openssl ts -query -data "$tmp/doc" -sha256 -tspolicy 1.2.3.4 -out "$tmp/pol.tsq" 2>/dev/null
reject unknown-policy "$tmp/pol.tsq" "$bad_policy"
head -c 20 "$tmp/sha256-nonce-cert.tsq" >"$tmp/trunc.tsq"
reject truncated "$tmp/trunc.tsq" "$bad_format"
{ cat "$tmp/sha256-nonce-cert.tsq"; printf '\0\0'; } >"$tmp/trail.tsq"
reject trailing-bytes "$tmp/trail.tsq" "$bad_format"
: >"$tmp/empty.tsq"
reject empty "$tmp/empty.tsq" "$bad_format"
head -c 200 /dev/urandom >"$tmp/garbage.tsq"
reject garbage "$tmp/garbage.tsq" "$bad_format"
# Queries no client of ours sends, in DER: version 2, an extension we do
# not support (basicConstraints), a SHA-256 imprint of 20 octets.
cat >"$tmp/odd.py" <<'PY'
import sys
from der import tlv
SHA256 = tlv(0x06, bytes.fromhex("608648016503040201"))
version, length, ext = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "ext"
body = tlv(0x02, bytes([version])) + tlv(0x30, tlv(0x30, SHA256 + b"\x05\x00") +
    tlv(0x04, b"\x5c" * length))
if ext:	# extensions [0] IMPLICIT: one Extension, basicConstraints CA:FALSE
    body += tlv(0xa0, tlv(0x30, tlv(0x06, bytes.fromhex("551d13")) +
        tlv(0x04, tlv(0x30, b""))))
sys.stdout.buffer.write(tlv(0x30, body))
PY
odd() { PYTHONPATH=$(dirname "$0") python3 "$tmp/odd.py" "$@"; }
odd 1 32 - >"$tmp/odd-ok.tsq"	# the builder makes queries we grant
[ "$(post "$tmp/odd-ok.tsq" "$tmp/odd-ok.tsr")" = 200 ] && [ "$(status_of "$tmp/odd-ok.tsr")" = "Granted." ] ||
	{ reply_text "$tmp/odd-ok.tsr"; fail "a version 1 query from odd.py is not granted"; }
odd 2 32 - >"$tmp/v2.tsq"
reject version-2 "$tmp/v2.tsq" "$bad_request"
odd 1 32 ext >"$tmp/ext.tsq"
reject extension "$tmp/ext.tsq" "$bad_ext"
odd 1 20 - >"$tmp/short.tsq"
reject imprint-20-octets "$tmp/short.tsq" "$bad_format"
head -c $((2 * 1024 * 1024)) /dev/zero >"$tmp/huge.tsq"
code=$(post "$tmp/huge.tsq" "$tmp/huge.out")
[ "$code" = 413 ] || fail "huge body: HTTP $code, want 413"
grep -q '"status":413' "$tmp/huge.out" || fail "huge body: no problem JSON"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' \
	--data-binary "@$tmp/sha256-none.tsq" "$url/")
[ "$code" = 415 ] || fail "wrong content type: HTTP $code, want 415"
# RFC 9110 §8.3.1: whitespace may come before a parameter's ';'.
code=$(curl -sS -o "$tmp/ows.tsr" -w '%{http_code}' -H 'Content-Type: application/timestamp-query ; charset=x' \
	--data-binary "@$tmp/sha256-none.tsq" "$url/")
[ "$code" = 200 ] && [ "$(status_of "$tmp/ows.tsr")" = "Granted." ] ||
	fail "content type with a space before ';': HTTP $code, want 200 and a token"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/timestamp-queryx' \
	--data-binary "@$tmp/sha256-none.tsq" "$url/")
[ "$code" = 415 ] || fail "content type application/timestamp-queryx: HTTP $code, want 415"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$url/")
[ "$code" = 405 ] || fail "GET: HTTP $code, want 405"
code=$(post "$tmp/sha256-none.tsq" "$tmp/again.tsr")
[ "$code" = 200 ] && [ "$(status_of "$tmp/again.tsr")" = "Granted." ] ||
	fail "tsad stopped serving after bad queries"
curl -sS "$url/health" | has '"records_queued"' || fail "/health"
# Refusals and the health answer are no cache's to keep; HEAD /health is
# GET's headers (RFC 9110 §9.1), another method on it 405 with Allow.
for r in "GET /" "GET /nowhere" "POST /health" "GET /health" "HEAD /health"; do
	m=${r% *} p=${r#* }
	if [ "$m" = HEAD ]; then
		curl -sS -o /dev/null -D "$tmp/h.hdr" -I "$url$p"
	else
		curl -sS -o /dev/null -D "$tmp/h.hdr" -X "$m" "$url$p"
	fi
	grep -qi '^cache-control: no-store' "$tmp/h.hdr" || fail "$r: no Cache-Control: no-store: $(cat "$tmp/h.hdr")"
done
code=$(curl -sS -o /dev/null -D "$tmp/h.hdr" -w '%{http_code}' -I "$url/health")
[ "$code" = 200 ] || fail "HEAD /health: HTTP $code, want 200"
code=$(curl -sS -o /dev/null -D "$tmp/h.hdr" -w '%{http_code}' -X POST "$url/health")
[ "$code" = 405 ] && grep -qi '^allow: GET, HEAD' "$tmp/h.hdr" || fail "POST /health: HTTP $code, want 405 with Allow: GET, HEAD"

# --- queries in flight together, each answered with its own token ----------------
# Every query is sent, one per connection, before any answer is read: a
# worker holds several signatures in flight (hsm/signloop.c), and
# the SHA-1 ones among them are answered by TS_RESP_CTX in between.
hostport=${url#http://}
pipelined() { python3 "$(dirname "$0")/pipelined.py" "$@"; }
pipe_queries=()
for i in $(seq 0 23); do
	echo "pipelined document $i" >"$tmp/p$i.doc"
	md=-sha256
	[ $((i % 6)) -eq 5 ] && md=-sha1
	openssl ts -query -data "$tmp/p$i.doc" "$md" -cert -out "$tmp/p$i.tsq" 2>/dev/null
	pipe_queries+=("$tmp/p$i.tsq")
done
mkdir "$tmp/pipe"
pipelined "${hostport%:*}" "${hostport##*:}" "$tmp/pipe" "${pipe_queries[@]}" ||
	fail "queries in flight together"
pipe_verify() {	# pipe_verify DIR QUERY...: answer i verifies for the i-th QUERY (SHA-1: badAlg)
	local dir=$1 i=0 qf
	shift
	for qf in "$@"; do
		if openssl ts -query -in "$qf" -text 2>/dev/null | has 'Hash Algorithm: sha1'; then
			[ "$(status_of "$dir/$i.tsr")" = "Rejected." ] &&
				reply_text "$dir/$i.tsr" | has -Fx "Failure info: $bad_alg" ||
				{ reply_text "$dir/$i.tsr"; fail "in flight: SHA-1 query $i not rejected with badAlg"; }
		else
			openssl ts -verify -in "$dir/$i.tsr" -queryfile "$qf" \
				-CAfile "$pki/root.pem" -untrusted "$tmp/untrusted.pem" >"$dir/$i.v" 2>&1 ||
				{ cat "$dir/$i.v"; reply_text "$dir/$i.tsr"; fail "in flight: answer $i does not verify for its query"; }
		fi
		i=$((i + 1))
	done
}
pipe_verify "$tmp/pipe" "${pipe_queries[@]}"
# The TSA certificate the stack made is valid now, and /health says for how long.
[ "$(curl -sS "$url/health" | jq -r '.cert_valid and .cert_days_left > 0')" = true ] ||
	fail "/health: the TSA certificate: $(curl -sS "$url/health")"

# --- the stack's tsad runs worker processes; a dead worker is replaced ------------
sup=$(head -n1 "$PKI_DIR/run/tsa.pid")
# replaced PID WHY: kills PID, waits until the supervisor runs as many workers
# as before without worker $victim, then four queries must be granted.
replaced() {
	local workers now i
	workers=$(pgrep -P "$sup" | sort)
	kill -KILL "$1"
	for _ in $(seq 100); do
		now=$(pgrep -P "$sup" | sort)
		[ "$(echo "$now" | wc -l)" -eq "$(echo "$workers" | wc -l)" ] &&
			! grep -qx "$victim" <<<"$now" && break
		sleep 0.1
	done
	! grep -qx "$victim" <<<"$now" || fail "worker $victim still runs after $2"
	[ "$(echo "$now" | wc -l)" -eq "$(echo "$workers" | wc -l)" ] ||
		fail "worker $victim not replaced after $2: workers $(echo $workers) -> $(echo $now)"
	for i in 1 2 3 4; do
		code=$(post "$tmp/sha256-none.tsq" "$tmp/w$i.tsr")
		[ "$code" = 200 ] && [ "$(status_of "$tmp/w$i.tsr")" = "Granted." ] ||
			fail "tsad does not serve after $2"
	done
}
workers=$(pgrep -P "$sup" | sort)
[ "$(echo "$workers" | wc -l)" -ge 2 ] || fail "tsad runs fewer than 2 workers: $workers"
victim=$(echo "$workers" | sed -n 1p)
replaced "$victim" "a worker was killed"

# A worker whose signer dies stops, and the supervisor replaces it.
victim=$(pgrep -P "$sup" | sort | sed -n 1p)
signer=$(pgrep -P "$victim" | sed -n 1p)
[ -n "$signer" ] || fail "worker $victim has no signer process"
replaced "$signer" "a worker's signer was killed"
grep -q "child process $signer (the signer) ended: stopping" "$PKI_DIR/log/tsa.log" ||
	fail "the worker did not log its signer's end"
note "a killed worker, and a worker whose signer was killed, replaced; tokens granted again"

# A worker lost while fork() fails is started once fork works again: the
# slot is not left empty for good. fork() is made to fail with a pids
# cgroup of one task around the supervisor (it runs as root, whom
# RLIMIT_NPROC does not stop), or RLIMIT_NPROC 1 when it is not root.
nofork_on() {	# nofork_on PID: prints how to undo, "" when neither works
	local pid=$1 v1=/sys/fs/cgroup/pids v2=/sys/fs/cgroup cg was
	if [ "$(ps -o uid= -p "$pid" | tr -d ' ')" != 0 ]; then
		prlimit --pid "$pid" --nproc=1:1 && echo rlimit
	elif [ -w "$v1/cgroup.procs" ]; then
		cg=$v1/pki-test-$$ was=$v1$(sed -n 's/^[0-9]*:pids://p' "/proc/$pid/cgroup")
		mkdir "$cg" && echo 1 >"$cg/pids.max" && echo "$pid" >"$cg/cgroup.procs" &&
			echo "cgroup $cg $was"
	elif grep -qw pids "$v2/cgroup.controllers" 2>/dev/null && grep -qw pids "$v2/cgroup.subtree_control"; then
		cg=$v2/pki-test-$$ was=$v2$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
		mkdir "$cg" && echo 1 >"$cg/pids.max" && echo "$pid" >"$cg/cgroup.procs" &&
			echo "cgroup $cg $was"
	fi
}
nofork_off() {	# nofork_off PID HOW
	set -- "$1" $2
	case $2 in
	rlimit) prlimit --pid "$1" --nproc=unlimited:unlimited ;;
	cgroup) echo "$1" >"$4/cgroup.procs"; rmdir "$3" ;;
	esac
}
victim=$(pgrep -P "$sup" | sort | sed -n 1p)
# Tests never skip (STYLE.md §7): a host where fork() cannot be made to fail
# fails here, saying what it lacks.
nofork=$(nofork_on "$sup" 2>"$tmp/nofork.err" || true)
if [ -z "$nofork" ]; then
	fail "cannot make fork() fail for tsad's supervisor (pid $sup, uid $(ps -o uid= -p "$sup" | tr -d ' ')): as root (whom RLIMIT_NPROC does not stop) it needs a pids cgroup, a writable /sys/fs/cgroup/pids/cgroup.procs or cgroup v2 with pids in /sys/fs/cgroup/cgroup.subtree_control; otherwise prlimit --nproc must work. $(cat "$tmp/nofork.err")"
else
	at_exit "nofork_off $sup '$nofork' 2>/dev/null || true"
	forks() { grep -c "fork: Resource temporarily unavailable" "$PKI_DIR/log/tsa.log" || true; }
	nforks=$(forks)
	kill -KILL "$victim"
	for _ in $(seq 200); do
		[ "$(forks)" -gt "$nforks" ] && break
		sleep 0.1
	done
	[ "$(forks)" -gt "$nforks" ] || fail "no fork failure logged while fork() fails"
	# Two more failed tries (one a second): they must not spend the restart budget.
	for _ in $(seq 200); do
		[ "$(forks)" -ge $((nforks + 3)) ] && break
		sleep 0.1
	done
	[ "$(forks)" -ge $((nforks + 3)) ] || fail "fork() not tried again while it fails: $(forks) failures logged"
	[ "$(pgrep -P "$sup" | wc -l)" -eq $(($(echo "$workers" | wc -l) - 1)) ] ||
		fail "test setup: a worker was started while fork() fails"
	nofork_off "$sup" "$nofork"
	for _ in $(seq 50); do
		[ "$(pgrep -P "$sup" | wc -l)" -eq "$(echo "$workers" | wc -l)" ] && break
		sleep 0.1
	done
	[ "$(pgrep -P "$sup" | wc -l)" -eq "$(echo "$workers" | wc -l)" ] ||
		fail "the worker lost while fork() failed was not started again"
	code=$(post "$tmp/sha256-none.tsq" "$tmp/fork.tsr")
	[ "$code" = 200 ] && [ "$(status_of "$tmp/fork.tsr")" = "Granted." ] ||
		fail "tsad does not serve after fork() failures"
	note "a worker lost while fork() failed was started again once it worked ($nofork)"
fi

# --- every token recorded, with an audit event per batch ------------------------
for i in $(seq 50); do
	n=$(q "SELECT count(*) FROM tsa_token WHERE serial IN ($(printf "'%s'," "${serials[@]}" | sed 's/,$//'))")
	[ "$n" -eq "${#serials[@]}" ] && break
	sleep 0.1
done
[ "$n" -eq "${#serials[@]}" ] || fail "only $n of ${#serials[@]} tokens recorded"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'tsa.tokens.record'")" -ge 1 ] ||
	fail "token batches not audited"
[ "$(q "SELECT count(*) FROM tsa_token WHERE serial = '${serials[0]}' AND policy = '2.999.1.2.1' AND imprint_alg = '2.16.840.1.101.3.4.2.1' AND cert_req AND nonce IS NOT NULL")" = 1 ] ||
	fail "token record fields"

# --- nonces recorded whole, with their sign; one over 64 octets refused ------------
cat >"$tmp/nonce.py" <<'PY'
import sys
from der import tlv, content
# A query without nonce or certReq, plus the INTEGER whose content octets are argv[2] (hex).
q = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(tlv(0x30, content(q) + tlv(0x02, bytes.fromhex(sys.argv[2]))))
PY
openssl ts -query -data "$tmp/doc" -sha256 -no_nonce -out "$tmp/plain.tsq" 2>/dev/null
n64=$(for i in $(seq 1 64); do printf '%02x' "$i"; done)
# 64 octets with the top bit set, positive (a 0x00 before them in DER) and
# negative: the signer refused both until 2026-12-07 (systemFailure).
top64=$(printf 'ff%.0s' $(seq 64))
neg64=ff7f$(printf 'ff%.0s' $(seq 63))
neg64_mag=80$(printf '00%.0s' $(seq 62))01
declare -A want_nonce=([ff]=-01 [eeddccbbaa998878]=-1122334455667788 [$n64]=$n64
	[00$top64]=$top64 [$neg64]=-$neg64_mag)
for hex in "${!want_nonce[@]}"; do
	PYTHONPATH=$(dirname "$0") python3 "$tmp/nonce.py" "$tmp/plain.tsq" "$hex" >"$tmp/n.tsq"
	[ "$(post "$tmp/n.tsq" "$tmp/n.tsr")" = 200 ] || fail "nonce $hex: HTTP status"
	[ "$(status_of "$tmp/n.tsr")" = "Granted." ] || { reply_text "$tmp/n.tsr"; fail "nonce $hex: not granted"; }
	openssl ts -verify -in "$tmp/n.tsr" -queryfile "$tmp/n.tsq" -CAfile "$pki/root.pem" \
		-untrusted "$tmp/untrusted.pem" >"$tmp/n.v" 2>&1 || { cat "$tmp/n.v"; fail "nonce $hex: does not verify"; }
	ser=$(reply_text "$tmp/n.tsr" | sed -n 's/^Serial number: 0x//p')
	for _ in $(seq 50); do
		got=$(q "SELECT nonce FROM tsa_token WHERE serial = '$ser'")
		[ -n "$got" ] && break
		sleep 0.1
	done
	[ "$got" = "${want_nonce[$hex]}" ] || fail "nonce $hex recorded as '$got', want '${want_nonce[$hex]}'"
done
PYTHONPATH=$(dirname "$0") python3 "$tmp/nonce.py" "$tmp/plain.tsq" "01$n64" >"$tmp/n65.tsq"
reject nonce-65-octets "$tmp/n65.tsq" "$bad_format"
note "nonces recorded with their sign and in full (64 octets); 65 octets: badDataFormat"

# --- a second instance: database outage, clean shutdown, spill, replay ------------
port=$(free_port)
spill=$tmp/tsa2.spill
# tsa2_instance names it (test-tsa2); tsa2_env holds more of its environment;
# tsa2_flush its tsa.flush_timeout_seconds (2 unless set).
tsa2_instance=test-tsa2
tsa2_env=()
tsa2_flush=2
# A test that fails while tsad #2 or #3 runs stops it (the last one started).
stop_leftover() {
	[ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && grep -q tsad "/proc/$1/cmdline" 2>/dev/null &&
		kill -TERM "$1" && wait "$1" 2>/dev/null
	return 0
}
at_exit 'stop_leftover "${tsa2:-}"; stop_leftover "${tsa3:-}"'
start_tsa2() {	# start_tsa2 [WORKERS]: returns once each worker serves
	local workers=${1:-1} before
	before=$(grep -c 'serving RFC 3161' "$tmp/tsa2.log" 2>/dev/null || true)
	env ${tsa2_env[@]+"${tsa2_env[@]}"} \
	PKI_TSA_PORT=$port PKI_TSA_INSTANCE=$tsa2_instance PKI_TSA_SPILL_FILE=$spill PKI_TSA_WORKERS=$workers \
	PKI_TSA_FLUSH_TIMEOUT_SECONDS=$tsa2_flush \
		"$BUILD/tsad" --config "$PKI_CONFIG" >>"$tmp/tsa2.log" 2>&1 &
	tsa2=$!
	for _ in $(seq 100); do
		[ "$(grep -c 'serving RFC 3161' "$tmp/tsa2.log" || true)" -ge $((before + workers)) ] &&
			curl -s "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
		kill -0 "$tsa2" 2>/dev/null || { cat "$tmp/tsa2.log"; fail "tsad #2 died at start"; }
		sleep 0.1
	done
	cat "$tmp/tsa2.log"; fail "tsad #2 did not start"
}
# outage_tokens N: N tokens from tsad #2, their serials added to outage.
outage_tokens() {
	local i
	for i in $(seq "$1"); do
		openssl ts -query -data "$tmp/doc" -sha256 -out "$tmp/o.tsq" 2>/dev/null
		[ "$(post "$tmp/o.tsq" "$tmp/o.tsr" "http://127.0.0.1:$port")" = 200 ] || fail "outage: HTTP"
		[ "$(status_of "$tmp/o.tsr")" = "Granted." ] || fail "outage: tokens must still be issued"
		outage+=("$(reply_text "$tmp/o.tsr" | sed -n 's/^Serial number: 0x//p')")
	done
}
# outage_recorded WHAT: waits up to 10 s until every outage token is in
# tsa_token; fails with WHAT otherwise.
outage_recorded() {
	local n=0
	for _ in $(seq 100); do
		n=$(q "SELECT count(*) FROM tsa_token WHERE serial IN ($(printf "'%s'," "${outage[@]}" | sed 's/,$//'))")
		[ "$n" -eq "${#outage[@]}" ] && return 0
		sleep 0.1
	done
	cat "$tmp/tsa2.log"
	fail "$1 ($n of ${#outage[@]})"
}
# lock_tokens: a session of its own (open_tx) holds tsa_token locked, so
# that the recorder's INSERT waits (as a COMMIT waits for a lost standby).
lock_tokens() {
	open_tx
	echo "BEGIN; LOCK TABLE tsa_token IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"$tx_in"
	read -r -t 10 locked <&"$tx_out" && [ "$locked" = locked ] || fail "could not lock tsa_token: $locked"
}
stop_tsa2() {
	kill -TERM "$tsa2"
	wait "$tsa2" || { cat "$tmp/tsa2.log"; fail "tsad #2 exited non-zero on SIGTERM ($1)"; }
}
# spilled FILE...: the serials the spill files hold (no record is in the
# database while it refuses them, so the header's offset is the first line).
spilled() { cat -- "$@" 2>/dev/null | grep -v '^#' | cut -f1; }
# expect_spilled WHEN FILE...: exactly the outage serials, each once.
expect_spilled() {
	local when=$1
	shift
	[ "$(spilled "$@" | wc -l)" -eq "${#outage[@]}" ] &&
		[ "$(spilled "$@" | sort -u | wc -l)" -eq "${#outage[@]}" ] ||
		{ cat "$tmp/tsa2.log"; fail "$when: the spill files hold $(spilled "$@" | wc -l) records ($(spilled "$@" | sort -u | wc -l) distinct), want the ${#outage[@]} tokens issued"; }
	for s in "${outage[@]}"; do
		spilled "$@" | grep -qx "$s" || fail "$when: serial $s not spilled"
	done
}
# SIGTERM while signatures are in flight: tsad #2's signer is stopped, 12
# queries sent, /health (still answered) reports all 12 in flight, SIGTERM,
# the signer continued: every query is answered with its token, recorded,
# and tsad exits 0. (A SHA-1 query among in-flight ones is answered at once:
# the rejection needs no signature; the stack's run above mixes them.)
spill_kept=$spill
spill=$tmp/tsa2-hold.spill
start_tsa2
hold_signer=$(pgrep -P "$tsa2" | head -1)
[ -n "$hold_signer" ] || fail "tsad #2 has no signer process"
hold_queries=()
for i in $(seq 0 11); do
	echo "held document $i" >"$tmp/h$i.doc"
	openssl ts -query -data "$tmp/h$i.doc" -sha256 -out "$tmp/h$i.tsq" 2>/dev/null
	hold_queries+=("$tmp/h$i.tsq")
done
mkdir "$tmp/hold"
pipelined 127.0.0.1 "$port" "$tmp/hold" "${hold_queries[@]}" --hold "$hold_signer" "$tsa2" ||
	{ cat "$tmp/tsa2.log"; fail "queries in flight at SIGTERM"; }
wait "$tsa2" || { cat "$tmp/tsa2.log"; fail "tsad #2 exited non-zero on SIGTERM with signatures in flight"; }
pipe_verify "$tmp/hold" "${hold_queries[@]}"
for i in $(seq 0 11); do
	s=$(reply_text "$tmp/hold/$i.tsr" | sed -n 's/^Serial number: 0x//p')
	[ "$(q "SELECT count(*) FROM tsa_token WHERE serial = '$s'")" = 1 ] ||
		fail "a token answered during shutdown was not recorded ($s)"
done
spill=$spill_kept

# The stops during the outage below wait out the flush time-out (the
# database refuses every record): 1 s each, not 2; what is spilled is the same.
tsa2_flush=1
start_tsa2
# Cut the recorder off: its role may not log in, and its session is ended.
at_exit "sql_as '$PKI_TEST_PG_URI' 'ALTER ROLE pki_tsa LOGIN' >/dev/null 2>&1"
q "ALTER ROLE pki_tsa NOLOGIN"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'pki_tsa'" >/dev/null
outage=()
for i in 1 2 3; do
	openssl ts -query -data "$tmp/doc" -sha256 -out "$tmp/o$i.tsq" 2>/dev/null
	[ "$(post "$tmp/o$i.tsq" "$tmp/o$i.tsr" "http://127.0.0.1:$port")" = 200 ] || fail "outage: HTTP"
	[ "$(status_of "$tmp/o$i.tsr")" = "Granted." ] || fail "outage: tokens must still be issued"
	outage+=("$(reply_text "$tmp/o$i.tsr" | sed -n 's/^Serial number: 0x//p')")
done
sleep 0.5
kill -TERM "$tsa2"
wait "$tsa2" || { cat "$tmp/tsa2.log"; fail "tsad #2 exited non-zero on SIGTERM"; }
[ "$(wc -l <"$spill")" -ge 3 ] || { cat "$tmp/tsa2.log"; fail "spill file has $(wc -l <"$spill") lines, want 3"; }
for s in "${outage[@]}"; do grep -q "^$s	" "$spill" || fail "serial $s not spilled"; done
expect_spilled "after the outage" "$spill"

# Restarted while the database still refuses the records (tsad needs it to
# start: the role logs in but may not insert): the records it loads again
# are not appended again at shutdown, new ones are, none is erased.
q "ALTER ROLE pki_tsa LOGIN"
q "REVOKE INSERT ON tsa_token FROM pki_tsa"
at_exit "sql_as '$PKI_TEST_PG_URI' 'GRANT INSERT ON tsa_token TO pki_tsa' >/dev/null 2>&1"
start_tsa2
outage_tokens 2
stop_tsa2 "restarted during the outage"
expect_spilled "after a restart during the outage" "$spill"

# tsa.workers changed to 2 (files tsa2.spill.0 and .1): worker 0 takes over
# tsa2.spill; then back to 1 worker, which takes over both.
start_tsa2 2
outage_tokens 4
stop_tsa2 "2 workers"
[ ! -e "$spill" ] || fail "tsa2.spill was not taken over by worker 0 of 2"
expect_spilled "after 2 workers" "$spill.0" "$spill.1"
tsa2_flush=2
q "GRANT INSERT ON tsa_token TO pki_tsa"
# A worker that got no token left an empty file (SO_REUSEPORT may well send
# all 4 to one worker): the one worker removes empty files of the family too.
: >"$spill.7"
# A queue of 4 loads the 9 records 2 at a time: only the first chunk before
# the sandbox, the others after it (reading the open file, no open()).
log_from=$(($(wc -l <"$tmp/tsa2.log") + 1))
PKI_TSA_MAX_QUEUE=4 start_tsa2 1
outage_recorded "spilled tokens not recorded after restart"
for _ in $(seq 50); do [ -s "$spill" ] || break; sleep 0.1; done
[ ! -s "$spill" ] || fail "spill file not emptied after replay"
[ ! -e "$spill.0" ] && [ ! -e "$spill.1" ] || fail "tsa2.spill.0/.1 not taken over by the one worker"
[ ! -e "$spill.7" ] || fail "the empty tsa2.spill.7 was not removed"
tail -n +"$log_from" "$tmp/tsa2.log" >"$tmp/replay.log"
[ "$(grep -c 'record(s) of the spill file queued' "$tmp/replay.log")" -ge 3 ] ||
	{ cat "$tmp/replay.log"; fail "the spill file was not reloaded in chunks"; }
sed -n '/serving RFC 3161/,$p' "$tmp/replay.log" | has 'record(s) of the spill file queued' ||
	{ cat "$tmp/replay.log"; fail "no chunk of the spill file reloaded inside the sandbox"; }
stop_tsa2 "after the replay"
note "spilled tokens: none lost or repeated across restarts during an outage and changes of tsa.workers, reloaded in chunks inside the sandbox (${#outage[@]} recorded)"

# --- a database that never answers at shutdown: the records are on disk first ---
# The recorder's INSERT waits for a lock held by another session (as a
# COMMIT waits for a synchronous standby that is down): SIGTERM appends the
# records to the spill file at once, and tsad exits after
# tsa.flush_timeout_seconds (2) and the 2 s grace, well before a service
# manager's SIGKILL, without losing them.
spill=$tmp/tsa4.spill
outage=()
# The exit probe: exit handlers must not run under the recorder thread
# tsad leaves behind (OpenSSL's cleanup would free what it uses).
tsa2_env=("${probe_env[@]}" TSA_EXIT_PROBE="$tmp/exit.probe")
start_tsa2
lock_tokens
lockwaits() { q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'pki_tsa' AND wait_event_type = 'Lock'"; }
waiting=$(lockwaits)
outage_tokens 2
for _ in $(seq 100); do [ "$(lockwaits)" -gt "$waiting" ] && break; sleep 0.1; done
[ "$(lockwaits)" -gt "$waiting" ] || fail "tsad #2's recorder does not wait for the lock"
t0=$(date +%s%N)
kill -TERM "$tsa2"
# As a service manager would: SIGKILL after 20 s (deploy/stack.sh).
for _ in $(seq 200); do kill -0 "$tsa2" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$tsa2" 2>/dev/null; then
	kill -KILL "$tsa2"
	fail "tsad #2 still runs 20 s after SIGTERM with a stalled database"
fi
wait "$tsa2" || { cat "$tmp/tsa2.log"; fail "tsad #2 exited non-zero on SIGTERM with a stalled database"; }
took=$((($(date +%s%N) - t0) / 1000000))
[ "$took" -lt 10000 ] || fail "tsad #2 took $took ms to stop with a stalled database (flush timeout 2 s)"
expect_spilled "a stalled database at shutdown" "$spill"
grep -q 'the database did not answer within 2 s' "$tmp/tsa2.log" ||
	{ cat "$tmp/tsa2.log"; fail "tsad #2 did not say it left the stalled database behind"; }
if grep -v ' 0 thread(s) running' "$tmp/exit.probe" 2>/dev/null | grep -q .; then
	cat "$tmp/exit.probe"
	fail "tsad ran its exit handlers (exit(), not _exit()) while the recorder thread it left behind still ran"
fi
echo "ROLLBACK;" >&"$tx_in"
exec {tx_in}>&-
wait "$tx_pid" 2>/dev/null || true
start_tsa2
outage_recorded "tokens spilled while the database stalled not recorded"
stop_tsa2 "after a stalled database"
# The probe works: a stop that joined its thread ran the exit handlers.
[ "$(cat "$tmp/exit.probe")" = "pid $tsa2: exit handlers ran with 0 thread(s) running" ] ||
	{ cat "$tmp/exit.probe"; fail "the exit probe: want one line, from the stop that joined its recorder thread"; }
tsa2_env=()
note "a stalled database at shutdown: tsad stopped in $took ms (with _exit, its recorder thread left behind), its records kept in the spill file and recorded at the next start"

# --- a crash while the database does not take records: the keeper kept them ---
# The review's case: the recorder's INSERT waits for a lock, tokens are
# granted, then tsad is killed (SIGKILL, no shutdown): the records went to
# the spill file while it ran (tsa/record.c's keeper), and the next start
# records every one. Until 2026-12-06 they were in memory only: none was.
spill=$tmp/tsa9.spill
outage=()
start_tsa2
lock_tokens
waiting=$(lockwaits)
outage_tokens 3
for _ in $(seq 100); do [ "$(lockwaits)" -gt "$waiting" ] && break; sleep 0.1; done
[ "$(lockwaits)" -gt "$waiting" ] || fail "tsad #2's recorder does not wait for the lock"
outage_tokens 3		# granted behind the stalled write
for _ in $(seq 100); do [ "$(spilled "$spill" | wc -l)" -ge "${#outage[@]}" ] && break; sleep 0.1; done
expect_spilled "the keeper, while the write stalls" "$spill"
grep -q 'the database is not taking records: they go to the spill file too' "$tmp/tsa2.log" ||
	{ cat "$tmp/tsa2.log"; fail "the keeper did not say it keeps the records"; }
kids=$(pgrep -P "$tsa2" || true)
kill -KILL "$tsa2" $kids
wait "$tsa2" 2>/dev/null || true
for k in $kids; do for _ in $(seq 100); do kill -0 "$k" 2>/dev/null || break; sleep 0.1; done; done
echo "ROLLBACK;" >&"$tx_in"
exec {tx_in}>&-
wait "$tx_pid" 2>/dev/null || true
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/health" >/dev/null 2>&1 || break; sleep 0.1; done
start_tsa2
outage_recorded "tokens granted before a SIGKILL while the write stalled not recorded"
stop_tsa2 "after a SIGKILL with a stalled database"
note "SIGKILL while the recorder's write stalled: the ${#outage[@]} tokens granted were in the spill file (the keeper) and recorded at the next start"

# --- a recorder blocked on a lock: /health degraded while tokens are granted ---
# The recorder's INSERT waits for a lock (as a COMMIT waits for a lost
# synchronous standby): tokens are still granted (queued), and /health
# must not say ok until the queue fills; after TSA_WRITE_STUCK_S (5 s) of
# one write outstanding it says degraded, database_ok false. The lock
# released, it is ok again and every token is recorded.
spill=$tmp/tsa8.spill
outage=()
health2() { curl -sS "http://127.0.0.1:$port/health" >"$tmp/h2"; jq -r "[$1] | map(tostring) | join(\" \")" "$tmp/h2"; }
start_tsa2
[ "$(health2 '.status, .database_ok, .write_pending_seconds, .records_queue_high')" = "ok true 0 false" ] ||
	fail "/health before the lock: $(cat "$tmp/h2")"
lock_tokens
waiting=$(lockwaits)
outage_tokens 2
for _ in $(seq 100); do [ "$(lockwaits)" -gt "$waiting" ] && break; sleep 0.1; done
[ "$(lockwaits)" -gt "$waiting" ] || fail "tsad #2's recorder does not wait for the lock"
t0=$(date +%s%N)
degraded=
for _ in $(seq 40); do
	outage_tokens 1		# still granted: the queue has room
	if [ "$(health2 '.status, .database_ok')" = "degraded false" ]; then
		degraded=$((($(date +%s%N) - t0) / 1000000))
		break
	fi
	sleep 0.25
done
[ -n "$degraded" ] || { cat "$tmp/h2" "$tmp/tsa2.log"; fail "/health not degraded with the recorder blocked on a lock"; }
[ "$degraded" -le 8000 ] || fail "/health degraded only $degraded ms after the recorder blocked (bound 5 s)"
[ "$(jq -r '.write_pending_seconds >= 5 and .records_queued >= 1' "$tmp/h2")" = true ] ||
	fail "/health with the recorder blocked: $(cat "$tmp/h2")"
outage_tokens 2
commit_tx
outage_recorded "tokens issued while the recorder was blocked not recorded"
[ "$(health2 '.status, .database_ok, .write_pending_seconds, .records_queued')" = "ok true 0 0" ] ||
	fail "/health after the lock was released: $(cat "$tmp/h2")"
# The record keeps genTime as the token has it, fraction and all.
last=${outage[${#outage[@]}-1]}
tok_time=$(reply_text "$tmp/o.tsr" | sed -n 's/^Time stamp: //p')
db_time=$(q "SELECT to_char(gen_time AT TIME ZONE 'UTC', 'HH24:MI:SS') || rtrim(rtrim(to_char(gen_time AT TIME ZONE 'UTC', '.US'), '0'), '.') FROM tsa_token WHERE serial = '$last'")
case $tok_time in
*" $db_time "*) ;;
*) fail "token $last: genTime '$tok_time', recorded as '$db_time' (the fraction must be kept)" ;;
esac
stop_tsa2 "after a blocked recorder"
note "a recorder blocked on a lock: /health degraded after $degraded ms (database_ok false, write_pending_seconds), ${#outage[@]} tokens granted meanwhile, all recorded once it was released"

# --- a full record queue: a TimeStampResp, rejection with systemFailure ----------
# RFC 3161 clients expect application/timestamp-reply: a token that cannot
# be recorded is refused as any other query is (HTTP 200), with Retry-After.
spill=$tmp/tsa6.spill
outage=()
q "REVOKE INSERT ON tsa_token FROM pki_tsa"
log_from=$(($(wc -l <"$tmp/tsa2.log") + 1))
PKI_TSA_MAX_QUEUE=1 start_tsa2
outage_tokens 1		# it fills the queue: the database takes no record
openssl ts -query -data "$tmp/doc" -sha256 -out "$tmp/full.tsq" 2>/dev/null
for i in 1 2 3; do
	code=$(curl -sS -D "$tmp/full.hdr" -o "$tmp/full.tsr" -w '%{http_code}' \
		-H 'Content-Type: application/timestamp-query' --data-binary "@$tmp/full.tsq" \
		"http://127.0.0.1:$port/")
	[ "$code" = 200 ] || fail "full record queue: HTTP $code, want 200 with a TimeStampResp"
	grep -qi '^content-type: application/timestamp-reply' "$tmp/full.hdr" ||
		{ cat "$tmp/full.hdr"; fail "full record queue: not application/timestamp-reply"; }
	grep -qi '^retry-after: 5' "$tmp/full.hdr" || fail "full record queue: no Retry-After"
	[ "$(status_of "$tmp/full.tsr")" = "Rejected." ] ||
		{ reply_text "$tmp/full.tsr"; fail "full record queue: not a rejection"; }
	reply_text "$tmp/full.tsr" | has 'Failure info: the request cannot be handled due to system failure$' ||
		{ reply_text "$tmp/full.tsr"; fail "full record queue: want failInfo systemFailure (only)"; }
	reply_text "$tmp/full.tsr" | has 'record queue is full' ||
		{ reply_text "$tmp/full.tsr"; fail "full record queue: no status text"; }
done
[ "$(tail -n +"$log_from" "$tmp/tsa2.log" | grep -c 'the token record queue is full')" = 1 ] ||
	{ tail -n +"$log_from" "$tmp/tsa2.log"; fail "full record queue: want one log line for three refusals"; }
# The database is back: the queued record goes, tokens are issued again.
q "GRANT INSERT ON tsa_token TO pki_tsa"
for _ in $(seq 100); do
	[ "$(q "SELECT count(*) FROM tsa_token WHERE serial = '${outage[0]}'")" = 1 ] && break
	sleep 0.1
done
code=$(post "$tmp/full.tsq" "$tmp/full.tsr" "http://127.0.0.1:$port")
[ "$code" = 200 ] && [ "$(status_of "$tmp/full.tsr")" = "Granted." ] ||
	{ reply_text "$tmp/full.tsr"; fail "the record queue has room again, but no token"; }
grep -q 'the token record queue has room again' "$tmp/tsa2.log" || fail "full record queue: its end not logged"
stop_tsa2 "after a full record queue"
note "a full record queue: HTTP 200, application/timestamp-reply, rejection with failInfo systemFailure and Retry-After; logged once"

# --- a serial recorded twice: the same token skipped, another one kept apart ----
# A spill file (as a crash leaves it) holds a token PostgreSQL has already,
# another token with the same serial, and a new one: one row is inserted
# and counted, the replay is skipped, the other token goes to
# tsa_token_conflict and is logged loudly; replaying the file again
# inserts and keeps nothing twice.
spill=$tmp/tsa7.spill
tsa2_instance=test-tsa7
known=${serials[0]}
row=$(q "SELECT concat_ws(E'\t', serial, to_char(gen_time AT TIME ZONE 'UTC',
    'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), policy, imprint_alg, imprint, coalesce(nonce, '-'),
    cert_req::int) FROM tsa_token WHERE serial = '$known'")
[ -n "$row" ] || fail "token $known not recorded"
other=$(awk -F'\t' -v OFS='\t' '{ $5 = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"; print }' <<<"$row")
fresh_serial=$(openssl rand -hex 16 | tr a-f A-F | sed 's/^./4/')
fresh=$(awk -F'\t' -v OFS='\t' -v s="$fresh_serial" '{ $1 = s; print }' <<<"$row")
printf '%s\n' "$row" "$other" "$fresh" >"$tmp/tsa7.lines"
imprint_before=$(q "SELECT imprint FROM tsa_token WHERE serial = '$known'")
events() { q "SELECT count(*) FROM audit_event WHERE action = 'tsa.tokens.record' AND details->>'instance' = 'test-tsa7'"; }
event() { q "SELECT concat_ws(' ', details->>'count', details->>'replayed', details->>'conflicts', details->'conflict_serials'->>0) FROM audit_event WHERE action = 'tsa.tokens.record' AND details->>'instance' = 'test-tsa7' ORDER BY id DESC LIMIT 1"; }
for round in 1 2; do
	cp "$tmp/tsa7.lines" "$spill"
	start_tsa2
	for _ in $(seq 100); do [ "$(events)" -ge "$round" ] && break; sleep 0.1; done
	[ "$(events)" = "$round" ] || { cat "$tmp/tsa2.log"; fail "serial collision (round $round): $(events) audit events, want $round"; }
	stop_tsa2 "after a serial collision"
	case $round in
	1) want="1 1 1 $known" ;;	# the new one inserted, the replay skipped
	2) want="0 2 1 $known" ;;	# all replayed: nothing inserted
	esac
	[ "$(event)" = "$want" ] ||
		fail "serial collision (round $round): audit event count/replayed/conflicts/serial '$(event)', want '$want'"
	[ "$(q "SELECT count(*) FROM tsa_token WHERE serial = '$fresh_serial'")" = 1 ] ||
		fail "serial collision: the new token was not recorded"
	[ "$(q "SELECT imprint FROM tsa_token WHERE serial = '$known'")" = "$imprint_before" ] ||
		fail "serial collision: the recorded token was changed"
	[ "$(q "SELECT count(*) FROM tsa_token_conflict WHERE serial = '$known' AND imprint LIKE 'ffff%' AND instance = 'test-tsa7'")" = 1 ] ||
		fail "serial collision (round $round): the other token is not kept once in tsa_token_conflict"
done
[ "$(grep -c "SERIAL COLLISION: serial $known " "$tmp/tsa2.log")" = 2 ] ||
	{ cat "$tmp/tsa2.log"; fail "serial collision: not logged (once per replay)"; }
tsa2_instance=test-tsa2
note "a serial recorded twice: the replayed token skipped, the other one kept in tsa_token_conflict and logged, the audit count the rows inserted"

# tsa.flush_timeout_seconds must leave room under the service stop timeouts.
if PKI_TSA_PORT=$port PKI_TSA_FLUSH_TIMEOUT_SECONDS=16 timeout 30 "$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/tsa5.log" 2>&1; then
	fail "tsad started with tsa.flush_timeout_seconds = 16"
fi
grep -q 'flush_timeout_seconds: 16 is over 15' "$tmp/tsa5.log" || { cat "$tmp/tsa5.log"; fail "no reason given for refusing flush_timeout_seconds = 16"; }

# A policy tsad cannot honour is refused at start-up, naming the settings:
# RFC 3161 §2.4.2 ordering (genTime alone orders every token), with several
# workers or one; genTime truncated to 10^-precision s beyond the accuracy.
# refused WHY PATTERN ENV...: tsad must exit non-zero, its log matching PATTERN.
refused() {
	local why=$1 pattern=$2
	shift 2
	if env "$@" PKI_TSA_PORT="$(free_port)" timeout 30 "$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/tsa9.log" 2>&1; then
		fail "tsad started with $why"
	fi
	grep -q -- "$pattern" "$tmp/tsa9.log" || { cat "$tmp/tsa9.log"; fail "no reason given for refusing $why"; }
}
refused "tsa.ordering = true, 2 workers" 'tsa.ordering = true with tsa.workers = 2 is refused' \
	PKI_TSA_ORDERING=true PKI_TSA_WORKERS=2
refused "tsa.ordering = true, 1 worker" 'tsa.ordering = true is refused (with tsa.workers = 1 too)' \
	PKI_TSA_ORDERING=true PKI_TSA_WORKERS=1
refused "precision 0 digits, accuracy 100 ms" \
	'tsa.clock_precision_digits = 0 truncates genTime by up to 1000000 us, not less than the accuracy tokens claim (tsa.accuracy_seconds/_millis/_micros: 100000 us' \
	PKI_TSA_WORKERS=1 PKI_TSA_CLOCK_PRECISION_DIGITS=0 PKI_TSA_ACCURACY_SECONDS=0 PKI_TSA_ACCURACY_MILLIS=100
# As large as the accuracy: nothing would be left for the clock's own error.
refused "precision 3 digits, accuracy 1 ms" \
	'tsa.clock_precision_digits = 3 truncates genTime by up to 1000 us, not less than the accuracy tokens claim (tsa.accuracy_seconds/_millis/_micros: 1000 us' \
	PKI_TSA_WORKERS=1 PKI_TSA_CLOCK_PRECISION_DIGITS=3 PKI_TSA_ACCURACY_SECONDS=0 PKI_TSA_ACCURACY_MILLIS=1
# A signing digest its signer does not sign with (SHA-256/384/512 only):
# until 2026-12-07 tsad started and answered every query systemFailure.
refused "tsa.signing_digest = SHA1" 'tsa.signing_digest = SHA1: not one tsad signs with' \
	PKI_TSA_WORKERS=1 PKI_TSA_SIGNING_DIGEST=SHA1
note "a policy tsad cannot honour is refused at start-up: tsa.ordering = true (2 workers, 1 worker), genTime precision as coarse as the accuracy or coarser, a signing digest the signer refuses"

# --- tsa.spill_file is required ---------------------------------------------------
# Without it the records the database has not taken at a clean shutdown
# would be lost (issue 5): tsad refuses to start, unless the development
# flag says so, and then it says what that costs.
refused "no tsa.spill_file" 'config: tsa.spill_file is not set' PKI_TSA_WORKERS=1 PKI_TSA_SPILL_FILE=
port=$(free_port)
env PKI_TSA_SPILL_FILE= PKI_TSA_INSECURE_NO_SPILL_FILE=true PKI_TSA_PORT=$port \
	PKI_TSA_INSTANCE=test-tsa11 PKI_TSA_WORKERS=1 "$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/tsa11.log" 2>&1 &
tsa3=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
code=$(post "$tmp/sha256-none.tsq" "$tmp/nospill.tsr" "http://127.0.0.1:$port")
[ "$code" = 200 ] && [ "$(status_of "$tmp/nospill.tsr")" = "Granted." ] ||
	{ cat "$tmp/tsa11.log"; fail "tsa.insecure_no_spill_file = true: tsad does not serve"; }
grep -q 'tsa.insecure_no_spill_file is set and tsa.spill_file is not: .* LOST (development only)' "$tmp/tsa11.log" ||
	{ cat "$tmp/tsa11.log"; fail "tsa.insecure_no_spill_file: no warning at start"; }
kill -TERM "$tsa3"; wait "$tsa3" || { cat "$tmp/tsa11.log"; fail "tsad without a spill file exited non-zero"; }
note "tsa.spill_file unset: refused, unless tsa.insecure_no_spill_file (then a warning)"

# --- tsa.workers unset: the online CPUs, within [1, TSA_MAX_WORKERS] -------------
# The supervisor keeps the pids of at most 16 workers: 32 CPUs must not
# make 32 workers (its tables overflowed), nor a count sysconf cannot give
# (-1) none. The shim fakes the count. With tsa.ordering = true tsad
# refuses to start before it forks, naming the number of workers.
refused "32 CPUs, tsa.workers unset" 'tsa.ordering = true with tsa.workers = 16 is refused' \
	-u PKI_TSA_WORKERS "${probe_env[@]}" TSA_FAKE_NPROCESSORS=32 PKI_TSA_ORDERING=true
port=$(free_port)
env -u PKI_TSA_WORKERS "${probe_env[@]}" TSA_FAKE_NPROCESSORS=-1 PKI_TSA_PORT=$port \
	PKI_TSA_INSTANCE=test-tsa10 PKI_TSA_SPILL_FILE="$tmp/tsa10.spill" \
	"$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/tsa10.log" 2>&1 &
tsa3=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
code=$(post "$tmp/sha256-none.tsq" "$tmp/cpus.tsr" "http://127.0.0.1:$port")
[ "$code" = 200 ] && [ "$(status_of "$tmp/cpus.tsr")" = "Granted." ] ||
	{ cat "$tmp/tsa10.log"; fail "CPUs not counted (sysconf -1), tsa.workers unset: tsad does not serve"; }
wait_line "$tmp/tsa10.log" 'serving RFC 3161' && [ "$(grep -c 'serving RFC 3161' "$tmp/tsa10.log")" = 1 ] ||
	{ cat "$tmp/tsa10.log"; fail "CPUs not counted (sysconf -1), tsa.workers unset: want one worker"; }
kill -TERM "$tsa3"; wait "$tsa3" || { cat "$tmp/tsa10.log"; fail "tsad with one worker by default exited non-zero"; }
note "tsa.workers unset: 32 CPUs give 16 workers, CPUs not counted give 1"

# --- genTime only from a usable clock ---------------------------------------------
# start_tsa3 [ENV...]: tsad #3 (one worker, no override unless ENV sets it).
start_tsa3() {
	port=$(free_port)
	env PKI_TSA_ALLOW_UNSYNCHRONIZED_CLOCK=false "$@" PKI_TSA_PORT=$port PKI_TSA_INSTANCE=test-tsa3 \
		PKI_TSA_WORKERS=1 "$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/tsa3.log" 2>&1 &
	tsa3=$!
	for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/health" >"$tmp/h3" 2>/dev/null && return 0; sleep 0.1; done
	cat "$tmp/tsa3.log"; fail "tsad #3 did not start"
}
stop_tsa3() { kill -TERM "$tsa3"; wait "$tsa3" || fail "tsad #3 exited non-zero"; }
# health3 FIELDS: /health's fields (jq paths), space-separated.
health3() { curl -sS "http://127.0.0.1:$port/health" >"$tmp/h3"; jq -r "[$1] | map(tostring) | join(\" \")" "$tmp/h3"; }
# The kernel as it is.
start_tsa3
post "$tmp/sha256-none.tsq" "$tmp/clock.tsr" "http://127.0.0.1:$port" >/dev/null
if [ "$(jq -r .clock_usable "$tmp/h3")" = true ]; then
	[ "$(status_of "$tmp/clock.tsr")" = "Granted." ] || fail "usable clock but not granted"
else
	reply_text "$tmp/clock.tsr" | has 'time source is not available' ||
		{ reply_text "$tmp/clock.tsr"; fail "unusable clock ($(cat "$tmp/h3")): want timeNotAvailable"; }
fi
stop_tsa3
# The kernel as the shim says (state 0 TIME_OK, status 1 STA_PLL): called
# synchronized, its error bound 1.5 s over the policy's accuracy of 1 s, as
# ~50 min after the NTP daemon stopped; then back within it.
clock=$tmp/adjtimex
printf '0 1 %010d\n' 1500000 >"$clock"
start_tsa3 "${probe_env[@]}" TSA_FAKE_ADJTIMEX="$clock"
[ "$(health3 '.status, .clock_synchronized, .clock_usable, .clock_maxerror_us, .clock_accuracy_us')" = \
    "degraded true false 1500000 1000000" ] || fail "/health with maxerror 1.5 s: $(cat "$tmp/h3")"
for i in 1 2 3; do
	code=$(post "$tmp/sha256-none.tsq" "$tmp/clock.tsr" "http://127.0.0.1:$port")
	[ "$code" = 200 ] && reply_text "$tmp/clock.tsr" | has 'time source is not available' ||
		{ reply_text "$tmp/clock.tsr"; fail "maxerror 1.5 s over an accuracy of 1 s: want timeNotAvailable"; }
done
[ "$(grep -c 'exceeds the accuracy tokens claim' "$tmp/tsa3.log")" = 1 ] ||
	{ cat "$tmp/tsa3.log"; fail "maxerror over the accuracy: want one log line for /health and three queries"; }
printf '0 1 %010d\n' 250000 1<>"$clock"
code=$(post "$tmp/sha256-none.tsq" "$tmp/clock.tsr" "http://127.0.0.1:$port")
[ "$code" = 200 ] && [ "$(status_of "$tmp/clock.tsr")" = "Granted." ] ||
	{ reply_text "$tmp/clock.tsr"; fail "maxerror 0.25 s within an accuracy of 1 s: want a token"; }
[ "$(health3 '.status, .clock_usable')" = "ok true" ] || fail "/health with maxerror 0.25 s: $(cat "$tmp/h3")"
grep -q 'the clock is usable again' "$tmp/tsa3.log" || fail "the clock's return not logged"
stop_tsa3
# The local stack's override still issues tokens, and says what the clock is.
printf '0 1 %010d\n' 5000000 1<>"$clock"
start_tsa3 "${probe_env[@]}" TSA_FAKE_ADJTIMEX="$clock" PKI_TSA_ALLOW_UNSYNCHRONIZED_CLOCK=true
[ "$(health3 '.status, .clock_usable, .clock_override')" = "ok false true" ] ||
	fail "/health with the override: $(cat "$tmp/h3")"
code=$(post "$tmp/sha256-none.tsq" "$tmp/clock.tsr" "http://127.0.0.1:$port")
[ "$code" = 200 ] && [ "$(status_of "$tmp/clock.tsr")" = "Granted." ] ||
	{ reply_text "$tmp/clock.tsr"; fail "tsa.allow_unsynchronized_clock: want a token"; }
stop_tsa3
note "the clock: maxerror over the policy's accuracy answers timeNotAvailable (logged once, /health degraded), within it a token; the override still issues"
note ok
