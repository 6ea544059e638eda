#!/usr/bin/env bash
# tsad's /health and start-up messages, with tsads of their own on the
# stack's database:
#  - a signer that runs but makes no signature (it refuses each TSTInfo:
#    its genTime, from a clock moved by a shim, is 10 minutes from the
#    signer's): each query gets systemFailure, /health says degraded with
#    HTTP 503 and the signatures' counts and times; the clocks agreeing
#    again, the next query gets its token and /health says ok.
#    Until 2026-12-07 /health said ok all along. The worker logs the
#    failures once (then once a minute), not once per query; a signature
#    TS_RESP_CTX asked for counts too.
#  - the TSA certificate not valid now, the clock not usable: /health 503
#    while it lasts (until 2026-12-07 200).
#  - the query for its certificates refused at start-up: tsad says the
#    database failed (until 2026-12-07: "run `pkictl ca init`"); stalled
#    by the server, it gives up after tsa.db_timeout_seconds and says so
#    (until 2026-12-07 it waited for ever).
#  - the record queue full (tsa.max_queue 2, tsa_token locked): /health
#    503, and no signature made for the queries refused (until 2026-12-07
#    200, and the HSM signed each refused token, thrown away).
#  - the database not taking records and the spill file failing (a shim):
#    queries refused with Retry-After, /health 503 spill_ok false, until a
#    keep succeeds (until 2026-12-07 every token granted, lost on a crash).
# Runs against the stack of tests/run.sh.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
reply_text() { openssl ts -reply -in "$1" -text 2>/dev/null; }
status_of() { reply_text "$1" | sed -n 's/^Status: //p'; }
post() { # post QUERYFILE REPLYFILE -> HTTP status on stdout
	curl -sS -o "$2" -w '%{http_code}' -H 'Content-Type: application/timestamp-query' \
		--data-binary "@$1" "$url/"
}
echo "health document" >"$tmp/doc"
openssl ts -query -data "$tmp/doc" -sha256 -out "$tmp/q.tsq" 2>/dev/null

# --- a signer that makes no signature ---------------------------------------------
# The signer refuses a TSTInfo whose genTime is more than 300 s from its
# own clock (hsm/README.md, "What the signer checks"). A shim (LD_PRELOAD)
# moves the worker's gettimeofday(), which genTime comes from, by the
# seconds read from a file at each call (opened at load, read with pread:
# the worker's sandbox allows no open); the signer's time() is the
# kernel's. The signer then runs and answers, and signs nothing.
cat >"$tmp/shift.c" <<'C'
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

static int shift_fd = -1;
static long fail_seen;

/* The file's "SHIFT [FAIL [UNSYNC]]" (missing: 0). */
static void
shift_read(long *shift, long *fail, long *unsync)
{
	char buf[64], *p = buf;
	ssize_t n;

	*shift = *fail = *unsync = 0;
	if (shift_fd == -1 || (n = pread(shift_fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return;
	buf[n] = '\0';
	*shift = strtol(p, &p, 10);
	*fail = strtol(p, &p, 10);
	*unsync = strtol(p, &p, 10);
}

/* Moved by SHIFT s; fails once each time FAIL changes. */
int
gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;
	long shift, fail, unsync;

	(void)tz;
	shift_read(&shift, &fail, &unsync);
	if (fail != fail_seen) {
		fail_seen = fail;
		errno = EIO;
		return -1;
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	tv->tv_sec = ts.tv_sec + shift;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

/* Synchronized (maxerror 1 ms), or with UNSYNC 1 not (STA_UNSYNC, TIME_ERROR). */
int
adjtimex(struct timex *tx)
{
	long shift, fail, unsync;

	shift_read(&shift, &fail, &unsync);
	memset(tx, 0, sizeof(*tx));
	tx->maxerror = unsync ? 16000000 : 1000;
	tx->status = unsync ? STA_UNSYNC : STA_PLL;
	return unsync ? TIME_ERROR : TIME_OK;
}

__attribute__((constructor)) static void
shift_init(void)
{
	const char *f;

	if ((f = getenv("TSA_CLOCK_SHIFT")) != NULL &&
	    (shift_fd = open(f, O_RDONLY | O_CLOEXEC)) == -1)
		_exit(98);
}
C
${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -o "$tmp/shift.so" "$tmp/shift.c" ||
	fail "cannot build the clock shim"
echo 0 >"$tmp/shift"
chmod 0644 "$tmp/shift"
port=$(free_port)
url=http://127.0.0.1:$port
LD_PRELOAD=$tmp/shift.so ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" TSA_CLOCK_SHIFT=$tmp/shift \
PKI_TSA_ALLOW_UNSYNCHRONIZED_CLOCK=false \
PKI_TSA_PORT=$port PKI_TSA_INSTANCE=test-tsa-health PKI_TSA_WORKERS=1 \
PKI_TSA_SPILL_FILE=$tmp/tsa.spill \
	"$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/tsa.log" 2>&1 &
tsa=$!
at_exit "kill -TERM $tsa 2>/dev/null; wait $tsa 2>/dev/null"
for _ in $(seq 300); do
	grep -q 'serving RFC 3161' "$tmp/tsa.log" && break
	kill -0 "$tsa" 2>/dev/null || { cat "$tmp/tsa.log"; fail "tsad died at start"; }
	sleep 0.1
done
grep -q 'serving RFC 3161' "$tmp/tsa.log" || { cat "$tmp/tsa.log"; fail "tsad did not start"; }
# health: /health's HTTP status, then the fields asked (jq paths).
health() {
	local code
	code=$(curl -sS -o "$tmp/h" -w '%{http_code}' "$url/health")
	echo "$code $(jq -r "[$1] | map(tostring) | join(\" \")" "$tmp/h")"
}
[ "$(post "$tmp/q.tsq" "$tmp/r1.tsr")" = 200 ] && [ "$(status_of "$tmp/r1.tsr")" = "Granted." ] ||
	{ reply_text "$tmp/r1.tsr"; cat "$tmp/tsa.log"; fail "no token"; }
[ "$(health '.status, .signatures.ok, .signatures.made, .signatures.failed, .signatures.failed_in_a_row, .signatures.last_failed_at')" = \
    "200 ok true 1 0 0 null" ] || fail "/health after a token: $(cat "$tmp/h")"
[ "$(jq -r '.signatures.last_ok_at >= now - 60' "$tmp/h")" = true ] || fail "/health: last_ok_at $(cat "$tmp/h")"

# genTime 10 minutes ahead of the signer's clock: it refuses each signature.
echo 600 1<>"$tmp/shift"
for i in 1 2 3; do
	[ "$(post "$tmp/q.tsq" "$tmp/f$i.tsr")" = 200 ] || fail "signer refusing: HTTP status"
	[ "$(status_of "$tmp/f$i.tsr")" = "Rejected." ] &&
		reply_text "$tmp/f$i.tsr" | has 'Failure info: the request cannot be handled due to system failure$' ||
		{ reply_text "$tmp/f$i.tsr"; tail -n 20 "$tmp/tsa.log"; fail "signer refusing: want systemFailure"; }
done
# The failures are logged as a lasting condition: the first, then at most
# once a minute (until 2026-12-07 one line per query, at the query rate).
n=$(grep -c 'tsa: signer: .*answering rejection' "$tmp/tsa.log")
[ "$n" = 1 ] || { cat "$tmp/tsa.log"; fail "3 signatures refused: $n log lines from the worker, want 1"; }
[ "$(health '.status, .signatures.ok, .signatures.made, .signatures.failed, .signatures.failed_in_a_row')" = \
    "503 degraded false 1 3 3" ] ||
	{ tail -n 20 "$tmp/tsa.log"; fail "/health while the signer signs nothing: $(cat "$tmp/h")"; }
[ "$(jq -r '.signatures.last_failed_at >= .signatures.last_ok_at and .signatures.last_failed_at >= now - 60' "$tmp/h")" = true ] ||
	fail "/health: last_failed_at $(cat "$tmp/h")"
code=$(curl -sS -o /dev/null -w '%{http_code}' -I "$url/health")
[ "$code" = 503 ] || fail "HEAD /health while the signer signs nothing: $code, want 503"

# The clock agreed again: the next query gets its token, /health says ok.
printf '0  \n' 1<>"$tmp/shift"
[ "$(post "$tmp/q.tsq" "$tmp/r2.tsr")" = 200 ] && [ "$(status_of "$tmp/r2.tsr")" = "Granted." ] ||
	{ reply_text "$tmp/r2.tsr"; tail -n 20 "$tmp/tsa.log"; fail "the signer signing again: no token"; }
[ "$(health '.status, .signatures.ok, .signatures.made, .signatures.failed, .signatures.failed_in_a_row')" = \
    "200 ok true 2 3 0" ] || fail "/health once a signature was made again: $(cat "$tmp/h")"
grep -q 'a signature was made again after 3 that failed' "$tmp/tsa.log" ||
	{ cat "$tmp/tsa.log"; fail "the signer's return not logged"; }

# A token TS_RESP_CTX signs: the direct path fails (here its one reading
# of the clock, the shim failing it once), TS_RESP_CTX asks the signer,
# which refuses (no TSTInfo comes with its request): systemFailure, and a
# signature failed. Until 2026-12-07 it was not counted: /health said ok.
echo '0 1' 1<>"$tmp/shift"
[ "$(post "$tmp/q.tsq" "$tmp/c1.tsr")" = 200 ] && [ "$(status_of "$tmp/c1.tsr")" = "Rejected." ] &&
	reply_text "$tmp/c1.tsr" | has 'Failure info: the request cannot be handled due to system failure$' ||
	{ reply_text "$tmp/c1.tsr"; tail -n 20 "$tmp/tsa.log"; fail "TS_RESP_CTX's signature refused: want systemFailure"; }
grep -q 'no response from TS_RESP_CTX' "$tmp/tsa.log" ||
	{ tail -n 20 "$tmp/tsa.log"; fail "test setup: the query did not go through TS_RESP_CTX"; }
[ "$(health '.status, .signatures.ok, .signatures.made, .signatures.failed, .signatures.failed_in_a_row')" = \
    "503 degraded false 2 4 1" ] || fail "/health after TS_RESP_CTX's signature failed: $(cat "$tmp/h")"
[ "$(post "$tmp/q.tsq" "$tmp/r3.tsr")" = 200 ] && [ "$(status_of "$tmp/r3.tsr")" = "Granted." ] ||
	{ reply_text "$tmp/r3.tsr"; tail -n 20 "$tmp/tsa.log"; fail "after TS_RESP_CTX's failure: no token"; }
[ "$(health '.status, .signatures.ok, .signatures.made, .signatures.failed, .signatures.failed_in_a_row')" = \
    "200 ok true 3 4 0" ] || fail "/health after a token again: $(cat "$tmp/h")"
note "a signature TS_RESP_CTX asked for and the signer refused: counted in /health's signatures"

# Every query refused while the TSA certificate is not valid (genTime 100
# years on) or the clock is not usable: /health 503 while it lasts, as for
# a signer refusing (until 2026-12-07 200, degraded only).
echo '3153600000 1' 1<>"$tmp/shift"
[ "$(post "$tmp/q.tsq" "$tmp/v1.tsr")" = 200 ] && [ "$(status_of "$tmp/v1.tsr")" = "Rejected." ] ||
	{ reply_text "$tmp/v1.tsr"; fail "the certificate not valid: want rejection"; }
[ "$(health '.status, .cert_valid, .signatures.ok')" = "503 degraded false true" ] ||
	fail "/health while the certificate is not valid: $(cat "$tmp/h")"
code=$(curl -sS -o /dev/null -w '%{http_code}' -I "$url/health")
[ "$code" = 503 ] || fail "HEAD /health while the certificate is not valid: $code, want 503"
printf '0 1 1          \n' 1<>"$tmp/shift"
[ "$(post "$tmp/q.tsq" "$tmp/v2.tsr")" = 200 ] && reply_text "$tmp/v2.tsr" | has 'time source is not available' ||
	{ reply_text "$tmp/v2.tsr"; fail "the clock not synchronized: want timeNotAvailable"; }
[ "$(health '.status, .clock_usable, .cert_valid, .signatures.ok')" = "503 degraded false true true" ] ||
	fail "/health while the clock is not usable: $(cat "$tmp/h")"
printf '0 1 0          \n' 1<>"$tmp/shift"
[ "$(health '.status, .clock_usable, .cert_valid')" = "200 ok true true" ] ||
	fail "/health with the clock and certificate right again: $(cat "$tmp/h")"
[ "$(post "$tmp/q.tsq" "$tmp/r4.tsr")" = 200 ] && [ "$(status_of "$tmp/r4.tsr")" = "Granted." ] ||
	{ reply_text "$tmp/r4.tsr"; tail -n 20 "$tmp/tsa.log"; fail "clock and certificate right again: no token"; }
note "the certificate not valid or the clock not usable: /health 503 while it lasts"
kill -TERM "$tsa"
wait "$tsa" || { cat "$tmp/tsa.log"; fail "tsad exited non-zero on SIGTERM"; }
note "a signer refusing every signature: /health 503 degraded with the counts; ok again after a signature"

# --- the certificates' query refused at start-up ------------------------------------
at_exit "sql_as '$PKI_TEST_PG_URI' 'GRANT SELECT ON ca_certificate TO pki_tsa' >/dev/null 2>&1"
q "REVOKE SELECT ON ca_certificate FROM pki_tsa"
if PKI_TSA_PORT=$(free_port) PKI_TSA_WORKERS=1 PKI_TSA_SPILL_FILE=$tmp/tsa2.spill \
    timeout 30 "$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/tsa2.log" 2>&1; then
	fail "tsad started without SELECT on ca_certificate"
fi
q "GRANT SELECT ON ca_certificate TO pki_tsa"
grep -q 'database: the TSA certificate could not be read' "$tmp/tsa2.log" &&
	grep -q 'permission denied' "$tmp/tsa2.log" ||
	{ cat "$tmp/tsa2.log"; fail "a refused query at start-up: the database's failure not said"; }
! grep -q 'pkictl ca init' "$tmp/tsa2.log" ||
	{ cat "$tmp/tsa2.log"; fail "a refused query at start-up: told to run the ceremony"; }
note "a refused query for the certificates at start-up: said so, not 'run pkictl ca init'"

# --- a server that stalls the query for its certificates ----------------------------
# A proxy (pg_stall_proxy.py) passes the connection and stalls at the
# statement: tsad gives up after tsa.db_timeout_seconds (2 here) and says
# so; until 2026-12-07 it waited for ever before saying anything.
pg_proxy px pki_tsa cadb_load_current 0
t0=$(date +%s)
rc=0
PKI_PG_TSA_URI=$uri_px PKI_TSA_DB_TIMEOUT_SECONDS=2 \
PKI_TSA_PORT=$(free_port) PKI_TSA_WORKERS=1 PKI_TSA_SPILL_FILE=$tmp/tsa3.spill \
	timeout 20 "$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/tsa3.log" 2>&1 || rc=$?
took=$(($(date +%s) - t0))
grep -q stalled "$tmp/px.px" || { cat "$tmp/tsa3.log"; fail "test setup: the proxy stalled nothing"; }
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] ||
	{ cat "$tmp/tsa3.log"; fail "a stalled query at start-up: tsad exit status $rc after $took s (124: still waiting at 20 s)"; }
grep -q 'no answer within 2000 ms' "$tmp/tsa3.log" && grep -q 'database: the TSA certificate could not be read' "$tmp/tsa3.log" ||
	{ cat "$tmp/tsa3.log"; fail "a stalled query at start-up: not said"; }
note "a query stalled at start-up: tsad stopped after $took s, saying so"
# --- a full record queue --------------------------------------------------------------
# tsa.max_queue 2 and tsa_token locked (the recorder's INSERT waits for
# the lock): two tokens fill the queue, and every later query gets
# systemFailure with Retry-After, signed by nobody: a slot of the queue is
# taken before the signature is asked for. /health answers 503 with
# records_queue_full while it lasts. Until 2026-12-07 /health said 200 and
# the HSM signed each refused token, which was thrown away (signatures.made
# 6 for 2 tokens issued).
port=$(free_port)
url=http://127.0.0.1:$port
PKI_TSA_PORT=$port PKI_TSA_INSTANCE=test-tsa-qfull PKI_TSA_WORKERS=1 PKI_TSA_MAX_QUEUE=2 \
PKI_TSA_SPILL_FILE=$tmp/qfull.spill \
	"$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/qfull.log" 2>&1 &
tsa=$!
at_exit "kill -TERM $tsa 2>/dev/null; wait $tsa 2>/dev/null"
for _ in $(seq 300); do
	grep -q 'serving RFC 3161' "$tmp/qfull.log" && break
	kill -0 "$tsa" 2>/dev/null || { cat "$tmp/qfull.log"; fail "tsad (max_queue 2) died at start"; }
	sleep 0.1
done
open_tx
echo "BEGIN; LOCK TABLE tsa_token IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"$tx_in"
read -r -t 10 l <&"$tx_out" && [ "$l" = locked ] || fail "tsa_token not locked: $l"
granted=0 full=0
for i in 1 2 3 4 5 6; do
	code=$(curl -sS -D "$tmp/qf$i.hdr" -o "$tmp/qf$i.tsr" -w '%{http_code}' \
		-H 'Content-Type: application/timestamp-query' --data-binary "@$tmp/q.tsq" "$url/")
	[ "$code" = 200 ] || fail "queue full: HTTP $code"
	if [ "$(status_of "$tmp/qf$i.tsr")" = "Granted." ]; then
		granted=$((granted + 1))
	elif reply_text "$tmp/qf$i.tsr" | has 'Failure info: the request cannot be handled due to system failure$' &&
	    grep -qi '^retry-after: 5' "$tmp/qf$i.hdr"; then
		full=$((full + 1))
	else
		reply_text "$tmp/qf$i.tsr"; fail "queue full: query $i neither granted nor systemFailure with Retry-After"
	fi
done
[ "$granted" = 2 ] && [ "$full" = 4 ] || fail "max_queue 2, tsa_token locked: $granted granted, $full refused (want 2 and 4)"
[ "$(health '.status, .records_queue_full, .records_queued, .signatures.made, .signatures.failed')" = \
    "503 degraded true 2 2 0" ] ||
	{ tail -n 20 "$tmp/qfull.log"; fail "/health with the record queue full: $(cat "$tmp/h") (want 503, 2 signatures made for 2 tokens)"; }
commit_tx
for _ in $(seq 100); do
	[ "$(health '.records_queue_full, .records_queued')" = "200 false 0" ] && break
	sleep 0.1
done
[ "$(health '.status, .records_queue_full, .records_queued')" = "200 ok false 0" ] ||
	fail "/health once the records are in: $(cat "$tmp/h")"
[ "$(post "$tmp/q.tsq" "$tmp/qf7.tsr")" = 200 ] && [ "$(status_of "$tmp/qf7.tsr")" = "Granted." ] ||
	{ reply_text "$tmp/qf7.tsr"; fail "the queue drained: no token"; }
[ "$(health '.signatures.made')" = "200 3" ] || fail "/health: signatures made $(cat "$tmp/h"), want 3 for 3 tokens"
kill -TERM "$tsa"
wait "$tsa" || { cat "$tmp/qfull.log"; fail "tsad (max_queue 2) exited non-zero on SIGTERM"; }
note "the record queue full: /health 503, nothing signed for the refused queries; 200 once drained"
# --- the database not taking records and the spill file failing ---------------------
# tsa_token locked (the recorder's INSERT waits) and the spill file's disk
# full (tests/preload/spill_fail.so: ENOSPC on its writes, EIO on its
# fdatasync): a token issued then would be in memory only, and a crash
# would lose it. Once the keeper could not keep the records, queries get
# systemFailure with Retry-After, /health 503 with spill_ok false; the disk
# back, the next keep succeeds and tokens are issued again. Until
# 2026-12-07 every query was granted (20 of 20, none recorded after a
# kill -9), /health 200 ok.
port=$(free_port)
url=http://127.0.0.1:$port
echo 0 >"$tmp/spillflag"
chmod 0644 "$tmp/spillflag"
LD_PRELOAD=$BUILD/tests/preload/spill_fail.so ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
SPILL_FAIL_FLAG=$tmp/spillflag \
PKI_TSA_PORT=$port PKI_TSA_INSTANCE=test-tsa-spillfail PKI_TSA_WORKERS=1 \
PKI_TSA_SPILL_FILE=$tmp/spillfail.spill \
	"$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/spillfail.log" 2>&1 &
tsa=$!
at_exit "kill -TERM $tsa 2>/dev/null; wait $tsa 2>/dev/null"
for _ in $(seq 300); do
	grep -q 'serving RFC 3161' "$tmp/spillfail.log" && break
	kill -0 "$tsa" 2>/dev/null || { cat "$tmp/spillfail.log"; fail "tsad (spill shim) died at start"; }
	sleep 0.1
done
[ "$(post "$tmp/q.tsq" "$tmp/sf0.tsr")" = 200 ] && [ "$(status_of "$tmp/sf0.tsr")" = "Granted." ] ||
	{ reply_text "$tmp/sf0.tsr"; fail "spill shim loaded: no token"; }
open_tx
echo "BEGIN; LOCK TABLE tsa_token IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"$tx_in"
read -r -t 10 l <&"$tx_out" && [ "$l" = locked ] || fail "tsa_token not locked: $l"
echo "1 $(stat -c %i "$tmp/spillfail.spill")" 1<>"$tmp/spillflag"
granted=0 refused=0
for i in $(seq 20); do
	code=$(curl -sS -D "$tmp/sf$i.hdr" -o "$tmp/sf$i.tsr" -w '%{http_code}' \
		-H 'Content-Type: application/timestamp-query' --data-binary "@$tmp/q.tsq" "$url/")
	[ "$code" = 200 ] || fail "spill failing: HTTP $code"
	if [ "$(status_of "$tmp/sf$i.tsr")" = "Granted." ]; then
		granted=$((granted + 1))
	elif reply_text "$tmp/sf$i.tsr" | has 'Failure info: the request cannot be handled due to system failure$' &&
	    grep -qi '^retry-after: 5' "$tmp/sf$i.hdr"; then
		refused=$((refused + 1))
	else
		reply_text "$tmp/sf$i.tsr"; fail "spill failing: query $i neither granted nor systemFailure with Retry-After"
	fi
	sleep 0.1
done
# The keeper tries once the write has been out 500 ms, then every 100 ms.
[ "$refused" -ge 10 ] ||
	{ tail -n 20 "$tmp/spillfail.log"; fail "database behind, spill file failing: $granted of 20 granted, $refused refused (want 10 refused at least)"; }
grep -q 'the spill file cannot keep them.*no token is issued until' "$tmp/spillfail.log" ||
	{ tail -n 20 "$tmp/spillfail.log"; fail "the failing spill file not logged"; }
[ "$(health '.status, .spill_ok')" = "503 degraded false" ] ||
	{ tail -n 20 "$tmp/spillfail.log"; fail "/health with the spill file failing: $(cat "$tmp/h")"; }
# The disk back: the next keep succeeds, tokens again (the database still behind).
echo 0 1<>"$tmp/spillflag"
for _ in $(seq 50); do
	[ "$(health '.spill_ok')" = "200 true" ] && break
	sleep 0.1
done
[ "$(health '.spill_ok')" = "200 true" ] || fail "/health once the spill file keeps them again: $(cat "$tmp/h")"
[ "$(post "$tmp/q.tsq" "$tmp/sf21.tsr")" = 200 ] && [ "$(status_of "$tmp/sf21.tsr")" = "Granted." ] ||
	{ reply_text "$tmp/sf21.tsr"; tail -n 20 "$tmp/spillfail.log"; fail "the spill file back: no token"; }
grep -q 'the spill file keeps the records again: tokens are issued' "$tmp/spillfail.log" ||
	{ tail -n 20 "$tmp/spillfail.log"; fail "the spill file's return not logged"; }
commit_tx
kill -TERM "$tsa"
wait "$tsa" || { cat "$tmp/spillfail.log"; fail "tsad (spill shim) exited non-zero on SIGTERM"; }
note "database behind and spill file failing: $refused of 20 queries refused, /health 503 spill_ok false; the disk back: tokens again"
note ok
