#!/usr/bin/env bash
# tsad judged by `openssl ts` and `openssl cms`, over HTTP with curl: every
# digest, with and without nonce and certReq; every documented rejection;
# records in PostgreSQL; the spill file across a database outage, restarts
# during it and a change of tsa.workers, its reload chunk by chunk inside
# the sandbox, a database that stalls at shutdown; the clock check. Runs
# against the stack of tests/run.sh (which started tsad).
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
reject() { # reject NAME QUERYFILE FAILURE-TEXT
	local code
	code=$(post "$2" "$tmp/$1.tsr")
	[ "$code" = 200 ] || fail "$1: HTTP $code"
	[ "$(status_of "$tmp/$1.tsr")" = "Rejected." ] || { reply_text "$tmp/$1.tsr"; fail "$1: not rejected"; }
	reply_text "$tmp/$1.tsr" | has "$3" || { reply_text "$tmp/$1.tsr"; fail "$1: want failure info '$3'"; }
}
openssl ts -query -data "$tmp/doc" -sha1 -out "$tmp/sha1.tsq" 2>/dev/null
reject weak-hash "$tmp/sha1.tsq" 'unrecognized or unsupported algorithm'
openssl ts -query -data "$tmp/doc" -md5 -out "$tmp/md5.tsq" 2>/dev/null
reject md5 "$tmp/md5.tsq" 'unrecognized or unsupported algorithm'
openssl ts -query -data "$tmp/doc" -sha256 -tspolicy 1.2.3.4 -out "$tmp/pol.tsq" 2>/dev/null
reject unknown-policy "$tmp/pol.tsq" 'requested TSA policy is not supported'
head -c 20 "$tmp/sha256-nonce-cert.tsq" >"$tmp/trunc.tsq"
reject truncated "$tmp/trunc.tsq" 'wrong format'
{ cat "$tmp/sha256-nonce-cert.tsq"; printf '\0\0'; } >"$tmp/trail.tsq"
reject trailing-bytes "$tmp/trail.tsq" 'wrong format'
: >"$tmp/empty.tsq"
reject empty "$tmp/empty.tsq" 'wrong format'
head -c 200 /dev/urandom >"$tmp/garbage.tsq"
reject garbage "$tmp/garbage.tsq" 'wrong format'
head -c $((2 * 1024 * 1024)) /dev/zero >"$tmp/huge.tsq"
code=$(post "$tmp/huge.tsq" "$tmp/huge.out")
[ "$code" = 413 ] || fail "huge body: HTTP $code, want 413"
grep -q '"status":413' "$tmp/huge.out" || fail "huge body: no problem JSON"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' \
	--data-binary "@$tmp/sha256-none.tsq" "$url/")
[ "$code" = 415 ] || fail "wrong content type: HTTP $code, want 415"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$url/")
[ "$code" = 405 ] || fail "GET: HTTP $code, want 405"
code=$(post "$tmp/sha256-none.tsq" "$tmp/again.tsr")
[ "$code" = 200 ] && [ "$(status_of "$tmp/again.tsr")" = "Granted." ] ||
	fail "tsad stopped serving after bad queries"
curl -sS "$url/health" | has '"records_queued"' || fail "/health"

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
nofork=$(nofork_on "$sup" 2>/dev/null || true)
if [ -z "$nofork" ]; then
	note "cannot make fork() fail for the supervisor here (no pids cgroup): case skipped"
else
	at_exit "nofork_off $sup '$nofork' 2>/dev/null || true"
	kill -KILL "$victim"
	for _ in $(seq 50); do
		grep -q "fork: Resource temporarily unavailable" "$PKI_DIR/log/tsa.log" && break
		sleep 0.1
	done
	grep -q "fork: Resource temporarily unavailable" "$PKI_DIR/log/tsa.log" ||
		fail "no fork failure logged while fork() fails"
	sleep 2	# two more failed tries: they must not spend the restart budget
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
declare -A want_nonce=([ff]=-01 [eeddccbbaa998878]=-1122334455667788 [$n64]=$n64)
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
reject nonce-65-octets "$tmp/n65.tsq" 'wrong format'
note "nonces recorded with their sign and in full (64 octets); 65 octets: badDataFormat"

# --- a second instance: database outage, clean shutdown, spill, replay ------------
port=$(free_port)
spill=$tmp/tsa2.spill
start_tsa2() {	# start_tsa2 [WORKERS]: returns once each worker serves
	local workers=${1:-1} before
	before=$(grep -c 'serving RFC 3161' "$tmp/tsa2.log" 2>/dev/null || true)
	PKI_TSA_PORT=$port PKI_TSA_INSTANCE=test-tsa2 PKI_TSA_SPILL_FILE=$spill PKI_TSA_WORKERS=$workers \
	PKI_TSA_FLUSH_TIMEOUT_SECONDS=2 \
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
q "GRANT INSERT ON tsa_token TO pki_tsa"
# A worker that got no token left an empty file (SO_REUSEPORT may well send
# all 4 to one worker): the one worker removes empty files of the family too.
: >"$spill.7"
# A queue of 4 loads the 9 records 2 at a time: only the first chunk before
# the sandbox, the others after it (reading the open file, no open()).
log_from=$(($(wc -l <"$tmp/tsa2.log") + 1))
PKI_TSA_MAX_QUEUE=4 start_tsa2 1
n=0
for _ in $(seq 100); do
	n=$(q "SELECT count(*) FROM tsa_token WHERE serial IN ($(printf "'%s'," "${outage[@]}" | sed 's/,$//'))")
	[ "$n" -eq "${#outage[@]}" ] && break
	sleep 0.1
done
[ "$n" -eq "${#outage[@]}" ] || { cat "$tmp/tsa2.log"; fail "spilled tokens not recorded after restart ($n of ${#outage[@]})"; }
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
start_tsa2
open_tx
echo "BEGIN; LOCK TABLE tsa_token IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"$tx_in"
read -r -t 10 locked <&"$tx_out" && [ "$locked" = locked ] || fail "could not lock tsa_token: $locked"
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
echo "ROLLBACK;" >&"$tx_in"
exec {tx_in}>&-
wait "$tx_pid" 2>/dev/null || true
start_tsa2
for _ in $(seq 100); do
	n=$(q "SELECT count(*) FROM tsa_token WHERE serial IN ($(printf "'%s'," "${outage[@]}" | sed 's/,$//'))")
	[ "$n" -eq "${#outage[@]}" ] && break
	sleep 0.1
done
[ "$n" -eq "${#outage[@]}" ] || { cat "$tmp/tsa2.log"; fail "tokens spilled while the database stalled not recorded ($n of ${#outage[@]})"; }
stop_tsa2 "after a stalled database"
note "a stalled database at shutdown: tsad stopped in $took ms, its records kept in the spill file and recorded at the next start"

# tsa.flush_timeout_seconds must leave room under the service stop timeouts.
if PKI_TSA_PORT=$port PKI_TSA_FLUSH_TIMEOUT_SECONDS=16 timeout 30 "$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/tsa5.log" 2>&1; then
	fail "tsad started with tsa.flush_timeout_seconds = 16"
fi
grep -q 'flush_timeout_seconds: 16 is over 15' "$tmp/tsa5.log" || { cat "$tmp/tsa5.log"; fail "no reason given for refusing flush_timeout_seconds = 16"; }

# --- genTime only from a synchronized clock -------------------------------------
port=$(free_port)
PKI_TSA_PORT=$port PKI_TSA_INSTANCE=test-tsa3 PKI_TSA_ALLOW_UNSYNCHRONIZED_CLOCK=false PKI_TSA_WORKERS=1 \
	"$BUILD/tsad" --config "$PKI_CONFIG" >"$tmp/tsa3.log" 2>&1 &
tsa3=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/health" >"$tmp/h3" 2>/dev/null && break; sleep 0.1; done
post "$tmp/sha256-none.tsq" "$tmp/clock.tsr" "http://127.0.0.1:$port" >/dev/null
if grep -q '"clock_synchronized":true' "$tmp/h3"; then
	[ "$(status_of "$tmp/clock.tsr")" = "Granted." ] || fail "synchronized clock but not granted"
else
	reply_text "$tmp/clock.tsr" | has 'time source is not available' ||
		{ reply_text "$tmp/clock.tsr"; fail "unsynchronized clock: want timeNotAvailable"; }
fi
kill -TERM "$tsa3"
wait "$tsa3" || fail "tsad #3 exited non-zero"
note ok
