#!/usr/bin/env bash
# cad, a worker that ends while issuing (ca/README.md "A worker that ends
# while issuing"): killed with SIGKILL while it holds an order, every time
# it claims that order, the worker's next start counts the attempt from its
# in-flight marker (order.retry, backed off, the worker that ended named),
# issues the order behind it meanwhile, and after cad.max_attempts fails the
# order (order.fail); the next order is issued. A marker that is garbage,
# names no order, a finished one, or lies in another free slot; a slot that
# is a link or writable by others; two workers sharing the directory; a
# missing or world-writable cad.state_dir. Certificates signed and discarded
# whose attempts cannot be counted: each serial still in the order's audit
# events (cert.discard), kept in the marker while even that is refused; and
# none for an order whose COMMIT committed and had its answer lost.
#
# The kill lands while the worker holds the order, deterministically: its
# signer is stopped (SIGSTOP) before the order is claimed, so the worker
# waits in the key generation, inside the order's transaction, until killed.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
CAD=$BUILD/cad
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
pids=()
signer=
stop_workers() {
	local p
	# A signer this test stopped: the worker would wait for it (hsm.keygen_timeout_seconds).
	[ -z "$signer" ] || kill -CONT "$signer" 2>/dev/null || true
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
at_exit stop_workers
# The stack's cad would race this test's workers.
stack_daemon_stop cad

# This test's workers serve a profile of their own (a copy of personal), so
# that no order another test left pending comes between them and theirs.
policy=$(sed -n 's/^policy_dir = //p' "$PKI_CONFIG")
mkdir -p "$tmp/policy/profiles"
cp "$policy/profiles/personal.cnf" "$tmp/policy/profiles/crashtest.cnf"
state=$tmp/state
mkdir -m 0700 "$state"
W=(PKI_PKI_POLICY_DIR="$tmp/policy" PKI_CAD_PROFILES=crashtest PKI_CAD_STATE_DIR="$state"
	PKI_CAD_MAX_ATTEMPTS=3 PKI_CAD_RETRY_HOURS=0 PKI_CAD_RETRY_BACKOFF_MS=3000 PKI_CAD_POLL_SECONDS=1)

start_worker() { # start_worker NAME [ENV=VAL...]: a cad in the background; sets pid
	local name=$1
	shift
	env "${W[@]}" "$@" PKI_CAD_INSTANCE="$name" "$CAD" --config "$PKI_CONFIG" >>"$tmp/$name.log" 2>&1 &
	pid=$!
	pids+=("$pid")
}
started() { # started NAME: until its log says "issuing with" (30 s)
	local i
	for ((i = 0; i < 300; i++)); do
		grep -qF 'issuing with' "$tmp/$1.log" && return 0
		sleep 0.1
	done
	cat "$tmp/$1.log"
	fail "worker $1 did not start"
}
run_once() { # run_once NAME [ENV=VAL...]: cad --once, which must end with status 0
	local name=$1 st=0
	shift
	timeout 120 env "${W[@]}" "$@" PKI_CAD_INSTANCE="$name" "$CAD" --config "$PKI_CONFIG" --once \
		>"$tmp/$name.log" 2>&1 || st=$?
	[ "$st" = 0 ] || { cat "$tmp/$name.log"; fail "cad --once ($name): exit $st"; }
}
order() { # order CN: a crashtest order; prints its id
	q "INSERT INTO issuance_order (kind, profile, subject, key_type, requested_by) VALUES ('personal',
	   'crashtest', jsonb_build_object('C', 'ID', 'CN', '$1', 'serialNumber', 'NIK:3174019999990001'),
	   'ec-p256', 'test_cad_crash') RETURNING id" | head -n1
}
st() { q "SELECT status || ' ' || attempts || ' ' || coalesce(last_error, '') FROM issuance_order WHERE id = $1"; }
wait_status() { # wait_status ORDER STATUS SECONDS
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(q "SELECT status FROM issuance_order WHERE id = $1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
audits() { # audits ACTION ORDER: how many
	q "SELECT count(*) FROM audit_event WHERE action = '$1' AND object_type = 'issuance_order' AND object_id = '$2'"
}
marker_of() { # marker_of ORDER: the slot whose record names ORDER, if any
	grep -l "^order=$1 " "$state"/cad-inflight.* 2>/dev/null | head -n1 || true
}
signer_of() { # signer_of PID: the worker's signer
	local s i
	for ((i = 0; i < 100; i++)); do
		s=$(pgrep -P "$1" | head -n1 || true)
		[ -n "$s" ] && { echo "$s"; return 0; }
		sleep 0.1
	done
	fail "worker $1 has no signer"
}
# crash_on ORDER NAME: the worker NAME (pid), its signer stopped, claims
# ORDER and waits in its key generation; it is killed there with SIGKILL.
crash_on() {
	local order=$1 name=$2 i m=
	for ((i = 0; i < 300; i++)); do
		m=$(marker_of "$order")
		[ -n "$m" ] && break
		kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.log"; fail "worker $name ended by itself"; }
		sleep 0.1
	done
	[ -n "$m" ] || { cat "$tmp/$name.log"; fail "worker $name never named order $order in its marker ($(st "$order"))"; }
	# In the order's transaction: the worker's backend holds the order.
	[ "$(q "SELECT count(*) FROM (SELECT 1 FROM issuance_order WHERE id = $order FOR UPDATE SKIP LOCKED) s")" = 0 ] ||
		fail "order $order named in $m but not held by worker $name"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	kill -KILL "$signer" 2>/dev/null || true
	pids=()
	killed+=("cad:$name:$pid")
	# Its backend sees the connection end and rolls back: the order is free again.
	for ((i = 0; i < 100; i++)); do
		[ "$(q "SELECT count(*) FROM (SELECT 1 FROM issuance_order WHERE id = $order FOR UPDATE SKIP LOCKED) s")" = 1 ] &&
			break
		sleep 0.1
	done
	[ "$(st "$order")" = "pending $((round - 1)) $prev_error" ] ||
		fail "order $order after the kill: $(st "$order"), want it as before (nothing of the attempt committed)"
	grep -q "^order=$order worker=cad:$name:$pid\$" "$m" || fail "$m: $(cat "$m")"
}
killed=()

# --- the same order kills the worker every time ---------------------------------------
round=1
prev_error=
start_worker crash1
started crash1
signer=$(signer_of "$pid")
kill -STOP "$signer"
x=$(order 'Crashes Every Time')
crash_on "$x" crash1
y=$(order 'Behind The Crash')
note "worker ${killed[0]} killed while issuing order $x; order $y waits behind it"

# Restarted: the attempt is counted and backed off, audited, the worker
# named; meanwhile the order behind it is issued. Its signer is stopped as
# soon as that order is done, before the checks that need no hurry: the
# worker must not have claimed order x again (due 3 s after the count).
start_worker crash2
started crash2
want_error="the worker ${killed[0]} ended while issuing it (crash or kill)"
[ "$(q "SELECT next_attempt_at > now() AND first_failed_at IS NOT NULL FROM issuance_order WHERE id = $x")" = t ] ||
	fail "order $x: not backed off"
wait_status "$y" "done" 30 || { cat "$tmp/crash2.log"; fail "order $y not issued behind the backed-off order $x: $(st "$y")"; }
# The marker is empty between orders.
[ ! -s "$state/cad-inflight.0" ] || fail "marker not emptied after order $y: $(cat "$state/cad-inflight.0")"
round=2
prev_error=$want_error
signer=$(signer_of "$pid")
kill -STOP "$signer"
grep -qF "order $x: the worker ${killed[0]} ended while issuing it (crash or kill): attempt 1 counted, due again in 3000 ms" \
	"$tmp/crash2.log" || { cat "$tmp/crash2.log"; fail "the restart did not log the attempt it counted"; }
[ "$(st "$x")" = "pending 1 $want_error" ] || fail "order $x after a restart: $(st "$x")"
[ "$(audits order.retry "$x")" = 1 ] || fail "order $x: $(audits order.retry "$x") order.retry events, want 1"
[ "$(q "SELECT details->>'worker' || ' ' || (details->>'attempts') || ' ' || (details->>'retry_in_ms') || ' ' ||
        (details->>'error') || ' ' || (details->>'profile') || ' ' || split_part(actor, ':', 2)
      FROM audit_event WHERE action = 'order.retry' AND object_id = '$x'")" = \
  "${killed[0]} 1 3000 $want_error crashtest crash2" ] ||
	fail "order.retry of order $x: $(q "SELECT actor || ' ' || details::text FROM audit_event WHERE action = 'order.retry' AND object_id = '$x'")"

# Once due (3 s), the same worker claims the order again, and is killed again.
crash_on "$x" crash2
start_worker crash3
started crash3
grep -qF "order $x: the worker ${killed[1]} ended while issuing it (crash or kill): attempt 2 counted, due again in 6000 ms" \
	"$tmp/crash3.log" || { cat "$tmp/crash3.log"; fail "the second restart did not count the attempt"; }
want_error="the worker ${killed[1]} ended while issuing it (crash or kill)"
[ "$(st "$x")" = "pending 2 $want_error" ] || fail "order $x after a second restart: $(st "$x")"
[ "$(q "SELECT string_agg(details->>'retry_in_ms', ',' ORDER BY id) FROM audit_event
      WHERE action = 'order.retry' AND object_id = '$x'")" = 3000,6000 ] || fail "order $x: back-offs not doubling"

# The third time: cad.max_attempts (3) reached and cad.retry_hours 0: failed.
round=3
prev_error=$want_error
signer=$(signer_of "$pid")
kill -STOP "$signer"
crash_on "$x" crash3
z=$(order 'After The Failure')
start_worker crash4
started crash4
grep -qF "order $x: the worker ${killed[2]} ended while issuing it (crash or kill): attempt 3 counted, given up" \
	"$tmp/crash4.log" || { cat "$tmp/crash4.log"; fail "the third restart did not give the order up"; }
want_error="the worker ${killed[2]} ended while issuing it (crash or kill)"
[ "$(st "$x")" = "failed 3 $want_error" ] || fail "order $x after three kills: $(st "$x")"
[ "$(audits order.fail "$x")" = 1 ] || fail "order $x: given up without one order.fail"
[ "$(audits order.retry "$x")" = 2 ] || fail "order $x: $(audits order.retry "$x") order.retry events, want 2"
[ "$(q "SELECT (details->>'worker') || ' ' || (details->>'retry_in_ms') FROM audit_event
      WHERE action = 'order.fail' AND object_id = '$x'")" = "${killed[2]} -1" ] || fail "order.fail of order $x"
[ "$(q "SELECT certificate_id IS NULL AND done_at IS NOT NULL FROM issuance_order WHERE id = $x")" = t ] &&
	[ "$(q "SELECT count(*) FROM subscriber_key WHERE order_id = $x")" = 0 ] || fail "order $x: issued after all?"
wait_status "$z" "done" 30 || { cat "$tmp/crash4.log"; fail "order $z not issued after order $x failed: $(st "$z")"; }
# Sandboxed as ever: it wrote its marker through the descriptor it opened before.
grep -qF 'sandbox: cad writes no file' "$tmp/crash4.log" || { cat "$tmp/crash4.log"; fail "cad's Landlock rules changed"; }
sandboxed "$pid" "cad" pki-cad
if [ "$(id -u)" -eq 0 ]; then
	[ "$(stat -c '%U %a' "$state/cad-inflight.0")" = "root 600" ] ||
		fail "marker: $(stat -c '%U %a' "$state/cad-inflight.0"), want root's 0600"
fi
stop_workers
[ ! -s "$state/cad-inflight.0" ] || fail "marker not empty after a clean stop: $(cat "$state/cad-inflight.0")"
note "order $x: three workers killed while issuing it, each attempt counted at the next start (3000, 6000 ms), then failed; orders $y and $z issued"

# --- killed after the signature, before the certificate is stored ----------------------
# The certificate table locked against inserts: the worker names the serial
# in its marker, signs, and waits in its INSERT, where it is killed. The
# next start says which certificate was signed and never stored, in the
# log, the order's last_error and its order.retry event.
s=$(order 'Signed Then Killed')
open_tx
echo "BEGIN; LOCK TABLE certificate IN SHARE ROW EXCLUSIVE MODE; SELECT 'locked';" >&"$tx_in"
read -r -t 10 got <&"$tx_out" && [ "$got" = locked ] || fail "could not lock the certificate table: $got"
start_worker signed1
for ((i = 0; i < 300; i++)); do
	m=$(marker_of "$s")
	[ -n "$m" ] && has -E "^order=$s signed=[0-9A-F]+ worker=" "$m" && break
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/signed1.log"; fail "worker signed1 ended by itself"; }
	sleep 0.1
done
has -E "^order=$s signed=[0-9A-F]+ worker=cad:signed1:$pid\$" "$m" ||
	{ cat "$tmp/signed1.log"; fail "no signed serial in the marker for order $s: $(cat "$m" 2>/dev/null)"; }
wait_lock pki_ca || fail "worker signed1 is not waiting to store the certificate of order $s"
serial=$(sed -n 's/^order=[0-9]* signed=\([0-9A-F]*\) .*/\1/p' "$m")
signer=$(signer_of "$pid")
dead=$pid
kill -KILL "$pid" "$signer"
wait "$pid" 2>/dev/null || true
pids=()
signer=
commit_tx
# Its backend, let through, finds its client gone and rolls back.
for ((i = 0; i < 100; i++)); do
	[ "$(q "SELECT count(*) FROM (SELECT 1 FROM issuance_order WHERE id = $s FOR UPDATE SKIP LOCKED) s")" = 1 ] &&
		break
	sleep 0.1
done
[ "$(st "$s")" = "pending 0 " ] || fail "order $s after the kill: $(st "$s")"
start_worker signed2
want_error="the worker cad:signed1:$dead ended while issuing it (crash or kill), certificate serial $serial signed or being signed, never stored"
for ((i = 0; i < 300; i++)); do
	has -F "order $s: $want_error: attempt 1 counted" "$tmp/signed2.log" && break
	sleep 0.1
done
has -F "order $s: $want_error: attempt 1 counted" "$tmp/signed2.log" ||
	{ cat "$tmp/signed2.log"; fail "the restart did not name the certificate signed and not stored"; }
[ "$(q "SELECT details->>'error' FROM audit_event WHERE action = 'order.retry' AND object_id = '$s'")" = "$want_error" ] ||
	fail "order.retry of order $s: $(q "SELECT details::text FROM audit_event WHERE action = 'order.retry' AND object_id = '$s'")"
wait_status "$s" "done" 30 || { cat "$tmp/signed2.log"; fail "order $s not issued after the kill: $(st "$s")"; }
[ "$(q "SELECT count(*) FROM certificate WHERE ltrim(upper(serial), '0') = ltrim('$serial', '0')")" = 0 ] ||
	fail "the certificate signed for order $s before the kill was stored"
[ "$(q "SELECT ltrim(upper(c.serial), '0') <> ltrim('$serial', '0') FROM issuance_order o
      JOIN certificate c ON c.id = o.certificate_id WHERE o.id = $s")" = t ] ||
	fail "order $s: issued with the serial of the killed attempt"
stop_workers
note "order $s: the worker killed between its signature and the INSERT; the next start audited serial $serial as signed and never stored, then issued the order anew"

# --- signed, discarded, and the attempt not recorded ---------------------------------------
# PostgreSQL refuses the certificate's INSERT and every UPDATE of the order
# (triggers): each attempt signs a certificate, discards it, and cannot be
# counted (order.retry). Every serial so signed still ends in the order's
# audit events (cert.discard). While even that is refused, the worker's
# marker names the serial and it claims nothing: it records the serial once
# the database takes it, or its next start does.
d=$(order 'Discard Me')
q "CREATE FUNCTION test_cad_discard_cert() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN IF NEW.subject LIKE '%Discard Me%' THEN RAISE EXCEPTION 'test_cad_crash: certificate refused'; END IF;
   RETURN NEW; END \$\$;
   CREATE FUNCTION test_cad_discard_order() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN IF OLD.subject->>'CN' = 'Discard Me' THEN RAISE EXCEPTION 'test_cad_crash: order update refused'; END IF;
   RETURN NEW; END \$\$;
   CREATE FUNCTION test_cad_discard_audit() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN IF NEW.object_type = 'issuance_order' AND NEW.object_id = '$d' THEN
     RAISE EXCEPTION 'test_cad_crash: audit refused'; END IF;
   RETURN NEW; END \$\$;
   CREATE TRIGGER test_cad_discard BEFORE INSERT ON certificate FOR EACH ROW EXECUTE FUNCTION test_cad_discard_cert();
   CREATE TRIGGER test_cad_discard BEFORE UPDATE ON issuance_order FOR EACH ROW EXECUTE FUNCTION test_cad_discard_order()" >/dev/null
audit_refused() { q "CREATE TRIGGER test_cad_discard BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION test_cad_discard_audit()" >/dev/null; }
audit_taken() { q "DROP TRIGGER IF EXISTS test_cad_discard ON audit_event" >/dev/null; }
drop_discard() {
	q "DROP TRIGGER IF EXISTS test_cad_discard ON certificate; DROP TRIGGER IF EXISTS test_cad_discard ON issuance_order;
	   DROP TRIGGER IF EXISTS test_cad_discard ON audit_event; DROP FUNCTION IF EXISTS test_cad_discard_cert();
	   DROP FUNCTION IF EXISTS test_cad_discard_order(); DROP FUNCTION IF EXISTS test_cad_discard_audit()" >/dev/null 2>&1 || true
}
at_exit drop_discard
until_n() { # until_n N SECONDS COMMAND...: until COMMAND prints at least N
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ "$("${@:3}")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
halts() { grep -c "order $d: certificate serial [0-9A-F]* signed and discarded, and no trace" "$tmp/$1.log" || true; }
D=(PKI_CAD_RETRY_BACKOFF_MS=200 PKI_CAD_RETRY_BACKOFF_MAX_SECONDS=3)
start_worker discard1 "${D[@]}"
until_n 3 60 audits cert.discard "$d" ||
	{ cat "$tmp/discard1.log"; fail "order $d: $(audits cert.discard "$d") cert.discard events, want 3 (certificates signed and discarded, nothing recorded)"; }
# Even the cert.discard refused: the marker names the serial, nothing is claimed.
audit_refused
until_n 1 30 halts discard1 || { audit_taken; cat "$tmp/discard1.log"; fail "order $d: no discarded certificate left unrecorded"; }
m=$(marker_of "$d")
serial=$(grep -o "order $d: certificate serial [0-9A-F]* signed and discarded, and no trace" "$tmp/discard1.log" |
	tail -n1 | cut -d' ' -f5)
[ -n "$m" ] && has -E "^order=$d signed=$serial worker=cad:discard1:$pid\$" "$m" ||
	{ audit_taken; fail "order $d: the marker does not name serial $serial: $(cat "$m" 2>/dev/null)"; }
g=$(order 'Behind Discard')
sleep 2
[ "$(q "SELECT status FROM issuance_order WHERE id = $g")" = pending ] ||
	{ audit_taken; fail "order $g claimed while serial $serial had no trace: $(st "$g")"; }
n=$(audits cert.discard "$d")
audit_taken
until_n $((n + 1)) 30 audits cert.discard "$d" || { cat "$tmp/discard1.log"; fail "serial $serial not recorded once the database took it"; }
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.discard' AND object_id = '$d' AND details->>'serial' = '$serial'")" = 1 ] ||
	fail "serial $serial: not in one cert.discard of order $d"
wait_status "$g" done 30 || { cat "$tmp/discard1.log"; fail "order $g not issued after the trace was recorded: $(st "$g")"; }
# Again, and the worker stops meanwhile: its next start records the serial.
h=$(halts discard1)
audit_refused
until_n $((h + 1)) 30 halts discard1 || { audit_taken; cat "$tmp/discard1.log"; fail "order $d: no second discarded certificate left unrecorded"; }
serial=$(grep -o "order $d: certificate serial [0-9A-F]* signed and discarded, and no trace" "$tmp/discard1.log" |
	tail -n1 | cut -d' ' -f5)
dead=$pid
stop_workers
has -F "order $d: certificate serial $serial signed and discarded, still not recorded: the in-flight marker names it for the next start" \
	"$tmp/discard1.log" || { audit_taken; cat "$tmp/discard1.log"; fail "the stop did not say serial $serial was left in the marker"; }
m=$(marker_of "$d")
[ -n "$m" ] && has -E "^order=$d signed=$serial worker=cad:discard1:$dead\$" "$m" ||
	{ audit_taken; fail "order $d: after the stop, the marker does not name serial $serial: $(cat "$m" 2>/dev/null)"; }
audit_taken
start_worker discard2 "${D[@]}"
started discard2
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.discard' AND object_id = '$d' AND details->>'serial' = '$serial'
      AND details->>'worker' = 'cad:discard1:$dead'")" = 1 ] ||
	{ cat "$tmp/discard2.log"; fail "serial $serial: not recorded by the next start"; }
drop_discard
wait_status "$d" done 30 || { cat "$tmp/discard2.log"; fail "order $d not issued once the database took it: $(st "$d")"; }
stop_workers
# Every serial a worker said it signed and discarded is in the order's audit events.
serials=$(cat "$tmp/discard1.log" "$tmp/discard2.log" | grep -o "certificate serial [0-9A-F]* signed and discarded" |
	cut -d' ' -f3 | sort -u)
k=0
for x in $serials; do
	[ "$(q "SELECT count(*) FROM audit_event WHERE object_type = 'issuance_order' AND object_id = '$d'
	      AND details::text LIKE '%$x%'")" -ge 1 ] || fail "order $d: serial $x signed and discarded, not in its audit events"
	[ "$(q "SELECT count(*) FROM certificate WHERE ltrim(upper(serial), '0') = ltrim('$x', '0')")" = 0 ] ||
		fail "serial $x: said discarded, yet stored"
	k=$((k + 1))
done
[ "$k" -ge 5 ] || fail "order $d: only $k serials signed and discarded"
[ ! -s "$state/cad-inflight.0" ] || fail "marker not empty after a clean stop: $(cat "$state/cad-inflight.0")"
note "order $d: $k certificates signed and discarded with nothing of their attempts recorded, each in a cert.discard event (one recorded late by the same worker, one by the next start), then issued; order $g waited meanwhile"

# --- what a marker may hold ------------------------------------------------------------
# Garbage (a control character included): ignored with a warning, emptied.
printf 'order=12 wor\001ker\n' >"$state/cad-inflight.0"
run_once garbage
grep -qF "cad-inflight.0: not a record (" "$tmp/garbage.log" || { cat "$tmp/garbage.log"; fail "garbage marker: no warning"; }
[ ! -s "$state/cad-inflight.0" ] || fail "garbage marker not emptied"
# An order that does not exist, and one already done: nothing counted.
n=$(q "SELECT count(*) FROM audit_event WHERE action IN ('order.retry', 'order.fail')")
printf 'order=9000000000000000001 worker=cad:ghost:1\n' >"$state/cad-inflight.0"
run_once ghost
grep -qF 'in-flight marker of cad:ghost:1: order 9000000000000000001 does not exist: ignored' "$tmp/ghost.log" ||
	{ cat "$tmp/ghost.log"; fail "a marker naming no order: no warning"; }
printf 'order=%s worker=cad:late:2\n' "$y" >"$state/cad-inflight.0"
run_once late
grep -qF "order $y (done): the worker cad:late:2 ended after its transaction: nothing to count" "$tmp/late.log" ||
	{ cat "$tmp/late.log"; fail "a marker naming a done order"; }
[ "$(q "SELECT count(*) FROM audit_event WHERE action IN ('order.retry', 'order.fail')")" = "$n" ] ||
	fail "a marker naming no pending order was counted"
[ "$(st "$y")" = "done 1 " ] || fail "order $y: $(st "$y")"

# The order held by another backend (as the ended worker's own is until it
# notices its client is gone): asked again for 2 s, then left to it.
l=$(order 'Held Meanwhile')
open_tx
echo "BEGIN; SELECT id FROM issuance_order WHERE id = $l FOR UPDATE;" >&"$tx_in"
read -r -t 10 got <&"$tx_out" && [ "$got" = "$l" ] || fail "could not lock order $l: $got"
printf 'order=%s worker=cad:held:3
' "$l" >"$state/cad-inflight.0"
run_once heldlong
grep -qF "order $l: the worker cad:held:3 ended while issuing it; another worker has held it for 2000 ms: left to it, not counted" \
	"$tmp/heldlong.log" || { cat "$tmp/heldlong.log"; fail "order $l held: not left to its holder"; }
[ "$(audits order.retry "$l")" = 0 ] && [ ! -s "$state/cad-inflight.0" ] || fail "order $l held: counted, or the marker kept"
# Released while the start-up asks again: counted.
printf 'order=%s worker=cad:held:4
' "$l" >"$state/cad-inflight.0"
env "${W[@]}" PKI_CAD_RETRY_BACKOFF_MS=10 PKI_CAD_INSTANCE=heldshort "$CAD" --config "$PKI_CONFIG" --once >"$tmp/heldshort.log" 2>&1 &
once=$!
for _ in $(seq 300); do grep -qF '; 1 order(s) in hand when their process ended' "$tmp/heldshort.log" && break; sleep 0.1; done
sleep 0.3
commit_tx
wait "$once" || { cat "$tmp/heldshort.log"; fail "cad --once (heldshort) failed"; }
grep -qF "order $l: the worker cad:held:4 ended while issuing it (crash or kill): attempt 1 counted" "$tmp/heldshort.log" ||
	{ cat "$tmp/heldshort.log"; fail "order $l released during the start-up: not counted"; }
[ "$(audits order.retry "$l")" = 1 ] || fail "order $l: $(audits order.retry "$l") order.retry events"
run_once heldshort2
[ "$(q "SELECT status FROM issuance_order WHERE id = $l")" = done ] || fail "order $l: $(st "$l")"

# The slot of another process that ended (the worker takes slot 0, this is
# slot 7): counted all the same, and the slot removed.
w=$(order 'Orphan Slot')
printf 'order=%s worker=cad:gone:7\n' "$w" >"$state/cad-inflight.7"
run_once orphan PKI_CAD_RETRY_BACKOFF_MS=10
grep -qF "order $w: the worker cad:gone:7 ended while issuing it (crash or kill): attempt 1 counted" "$tmp/orphan.log" ||
	{ cat "$tmp/orphan.log"; fail "order $w named in another free slot: not counted"; }
[ ! -e "$state/cad-inflight.7" ] || fail "the other slot was not removed once counted"
[ "$(q "SELECT (details->>'worker') || ' ' || (details->>'attempts') || ' ' || (details->>'error') FROM audit_event
      WHERE action = 'order.retry' AND object_id = '$w'")" = \
  "cad:gone:7 1 the worker cad:gone:7 ended while issuing it (crash or kill)" ] ||
	fail "order $w: not audited as cad:gone:7's attempt"
# Due again 10 ms later: issued by that run or the next, at its second attempt.
run_once orphan2
[ "$(st "$w")" = "done 2 " ] || fail "order $w: $(st "$w")"

# A slot others could write: what it names is not believed.
w2=$(order 'Planted')
printf 'order=%s worker=cad:planted:1\n' "$w2" >"$state/cad-inflight.0"
chmod 0666 "$state/cad-inflight.0"
run_once planted
grep -qF 'cad-inflight.0: was writable by group or others: emptied unread, now 0600' "$tmp/planted.log" ||
	{ cat "$tmp/planted.log"; fail "a world-writable marker: no warning"; }
[ "$(stat -c %a "$state/cad-inflight.0")" = 600 ] && [ ! -s "$state/cad-inflight.0" ] ||
	fail "a world-writable marker was not made 0600 and emptied"
# Issued at its first attempt: nothing was counted from the planted record.
[ "$(st "$w2")" = "done 1 " ] && [ "$(audits order.retry "$w2")" = 0 ] ||
	fail "order $w2 counted from a world-writable marker: $(st "$w2")"

# A link planted as slot 0: left alone (its target untouched), slot 1 used.
echo 'not yours' >"$tmp/victim"
chmod 0644 "$tmp/victim"
mv "$state/cad-inflight.0" "$state/aside"
ln -s "$tmp/victim" "$state/cad-inflight.0"
run_once link
grep -qF 'cad-inflight.0: a symbolic link: left alone' "$tmp/link.log" || { cat "$tmp/link.log"; fail "a link: no warning"; }
grep -qF "in-flight marker $state/cad-inflight.1;" "$tmp/link.log" || { cat "$tmp/link.log"; fail "not slot 1 beside a link"; }
[ "$(cat "$tmp/victim")" = 'not yours' ] && [ "$(stat -c %a "$tmp/victim")" = 644 ] || fail "cad wrote through a link"
rm -f "$state/cad-inflight.0"
mv "$state/aside" "$state/cad-inflight.0"

# Two workers sharing the directory hold a slot each; the one running keeps
# its own while the other starts, issues and ends.
start_worker share1
started share1
grep -qF "in-flight marker $state/cad-inflight.0;" "$tmp/share1.log" || { cat "$tmp/share1.log"; fail "share1: not slot 0"; }
v=$(order 'Shared Directory')
wait_status "$v" "done" 30 || fail "order $v: $(st "$v")"
run_once share2
# Not taking the running worker's slot for one whose process ended.
grep -qF "in-flight marker $state/cad-inflight.1; 0 order(s) in hand when their process ended" "$tmp/share2.log" ||
	{ cat "$tmp/share2.log"; fail "share2: not slot 1, or it found an order in hand"; }
stop_workers

# --- the answer to the issuing COMMIT lost ----------------------------------------------
# The connection breaks after the server committed the order's transaction
# and before the worker read the answer (tests/preload/lost_commit.so): the
# order is done with its certificate, and no event says otherwise. Until
# 2026-12-07 the worker took the certificate it had just stored for one
# signed and discarded: a cert.discard on the order named the very serial
# its cert.issue and order.done did ("nothing issued").
l=$(order 'Lost Commit Answer')
lst=0
timeout 120 env "${W[@]}" LD_PRELOAD="$BUILD/tests/preload/lost_commit.so" \
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" PKI_CAD_INSTANCE=lost \
	"$CAD" --config "$PKI_CONFIG" --once >"$tmp/lost.log" 2>&1 || lst=$?
[ "$lst" = 0 ] || { cat "$tmp/lost.log"; fail "cad --once with the COMMIT's answer lost: exit $lst"; }
[ "$(st "$l")" = "done 1 " ] || fail "order $l: $(st "$l")"
lser=$(q "SELECT c.serial FROM issuance_order o JOIN certificate c ON c.id = o.certificate_id WHERE o.id = $l")
[ -n "$lser" ] || fail "order $l: no certificate"
[ "$(audits cert.discard "$l")" = 0 ] ||
	fail "order $l: its certificate $lser taken for discarded: $(q "SELECT details::text FROM audit_event WHERE action = 'cert.discard' AND object_id = '$l'")"
[ "$(audits order.retry "$l")" = 0 ] || fail "order $l: an attempt counted though it issued"
grep -qF 'the answer to its COMMIT was lost' "$tmp/lost.log" || { cat "$tmp/lost.log"; fail "no COMMIT's answer was lost"; }
for f in "$state"/cad-inflight.*; do
	[ ! -s "$f" ] || fail "in-flight marker $f still names $(cat "$f")"
done
note "order $l: the answer to its COMMIT lost, issued (serial $lser), no cert.discard"

# --- cad.state_dir required, not writable by others --------------------------------------
refused() { # refused NAME PATTERN [ENV=VAL...]: cad exits 1 saying PATTERN
	local name=$1 want=$2 st=0
	shift 2
	timeout 60 env "${W[@]}" "$@" PKI_CAD_INSTANCE="$name" "$CAD" --config "$PKI_CONFIG" --once >"$tmp/$name.log" 2>&1 || st=$?
	[ "$st" = 1 ] || { cat "$tmp/$name.log"; fail "cad $name: exit $st, want 1"; }
	has -F -- "$want" "$tmp/$name.log" || { cat "$tmp/$name.log"; fail "cad $name: no '$want'"; }
}
refused nostate 'config: cad.state_dir is not set' PKI_CAD_STATE_DIR=
mkdir -m 0777 "$tmp/open"
chmod 0777 "$tmp/open"
refused openstate "cad.state_dir $tmp/open: writable by others (mode 0777)" PKI_CAD_STATE_DIR="$tmp/open"
refused missing "cad.state_dir $tmp/missing: No such file or directory" PKI_CAD_STATE_DIR="$tmp/missing"
[ -z "$(ls -A "$tmp/open")" ] || fail "cad wrote into a directory writable by others"
run_once insecure PKI_CAD_STATE_DIR= PKI_CAD_INSECURE_NO_STATE_DIR=true
grep -qF 'cad.insecure_no_state_dir is set and cad.state_dir is not' "$tmp/insecure.log" ||
	{ cat "$tmp/insecure.log"; fail "cad without a state_dir: no warning"; }
note "markers: garbage, no order, a done order ignored; an order held by another backend waited for 2 s; another free slot counted; a link and a world-writable slot refused; two workers, two slots; state_dir required"

[ "$(q "SELECT count(*) FROM issuance_order WHERE profile = 'crashtest' AND status = 'pending'")" = 0 ] ||
	fail "crashtest orders left pending"
# Nothing logged a PIN or a key; no sanitizer report.
! grep -qiE 'pin[^a-z]*[0-9a-f]{48}|AddressSanitizer|runtime error' "$tmp"/*.log ||
	fail "a worker log holds a secret or a sanitizer report"
exit 0
