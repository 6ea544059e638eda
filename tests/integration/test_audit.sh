#!/usr/bin/env bash
# The sealed audit trail (DESIGN.md "Audit", audit/README.md) against the
# stack: `make up` made the HSM audit key and a first seal; new events are
# sealed by `pkictl audit seal` into an RFC 9162 Merkle tree whose signed
# heads verify with OpenSSL alone; `pkictl audit export` + `pkiaudit verify`
# (no database, no HSM) accept the trail and refuse it after an event is
# changed in the database (as a superuser can, triggers disabled), after a
# line of the export is changed, removed or moved, and after a seal is
# altered; an event of a transaction still open at sealing time is sealed
# the next time, never skipped; two sealers at once do not collide; an
# event over the size limits (which pkiaudit could not read) is refused by
# the database; an inclusion proof of one event verifies alone and fails
# when the event or the key differs; each event names the login role that
# wrote it (db_role, schema/083) in its sealed line, and a trail whose
# first events were written (and sealed) before 083 still verifies.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
pkiaudit() { "$BUILD/pkiaudit" "$@"; }
# A jq filter: the seal line's root with its first hex digit changed.
flip_root='.root = ((if .root[0:1] == "0" then "1" else "0" end) + .root[1:])'
n=0
export_to() { # export_to NAME: a fresh export in $tmp/NAME.events, .seals
	rm -f "$tmp/$1.events" "$tmp/$1.seals"
	pkictl audit export --events "$tmp/$1.events" --seals "$tmp/$1.seals" >/dev/null
}
verify_ok() { # verify_ok NAME WHAT
	pkiaudit verify --events "$tmp/$1.events" --seals "$tmp/$1.seals" --pubkey "$PKI_AUDIT_PUBKEY" \
		>"$tmp/v.out" || { cat "$tmp/v.out"; fail "$2: pkiaudit verify refused a true trail"; }
}
verify_fails() { # verify_fails EVENTS SEALS PATTERN WHAT [PUBKEY]
	local rc=0
	pkiaudit verify --events "$1" --seals "$2" --pubkey "${5:-$PKI_AUDIT_PUBKEY}" >"$tmp/v.out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || { cat "$tmp/v.out"; fail "$4: pkiaudit verify exit $rc, not 1"; }
	grep -qE -- "$3" "$tmp/v.out" || { cat "$tmp/v.out"; fail "$4: no '$3' in the report"; }
}

# --- the stack's key and first seal -----------------------------------------------
[ -s "$PKI_AUDIT_PUBKEY" ] || fail "stack.env PKI_AUDIT_PUBKEY ($PKI_AUDIT_PUBKEY) missing"
openssl pkey -pubin -in "$PKI_AUDIT_PUBKEY" -noout -text | has 'NIST CURVE: P-256' ||
	fail "the audit public key is not P-256"
[ "$(q "SELECT count(*) FROM audit_seal WHERE id = 1")" = 1 ] || fail "make up made no first seal"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'audit.key.create'")" = 1 ] ||
	fail "the audit key's creation is not audited"
rc=0; pkictl audit init >"$tmp/init.out" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "a second audit init: exit $rc, not 3 (refused)"
grep -q 'exists' "$tmp/init.out" || fail "a second audit init does not say why"
# An init that fails after generating its key (here: it cannot write the
# audit event, its session read-only; it takes the key generation lock
# first, which a read-only session may) leaves neither the key nor the
# public key file: the same init fails the same way again, not "exists".
for i in 1 2; do
	rc=0
	PKI_AUDIT_KEY_LABEL=audit-failing PGOPTIONS='-c default_transaction_read_only=on' \
		pkictl audit init --out "$tmp/failing.pem" >"$tmp/fail$i.out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || { cat "$tmp/fail$i.out"; fail "a failing audit init (#$i): exit $rc, not 1"; }
	grep -q 'the key generated was destroyed' "$tmp/fail$i.out" ||
		{ cat "$tmp/fail$i.out"; fail "a failing audit init (#$i) does not say it cleaned up"; }
	[ ! -e "$tmp/failing.pem" ] || fail "a failing audit init left its public key file"
done
note "audit key: P-256 in the audit token, its creation audited, a second init refused, a failed one leaves no key; make up sealed"

# --- a seal, checked by OpenSSL alone --------------------------------------------
pkictl sigservice add --name audit-test >/dev/null
pkictl audit seal >"$tmp/seal.out"
grep -qE '^audit seal [0-9]+: [0-9]+ event\(s\) added' "$tmp/seal.out" || fail "audit seal: $(cat "$tmp/seal.out")"
last=$(q "SELECT max(id) FROM audit_seal")
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'audit.seal' AND object_id = '$last'")" = 1 ] ||
	fail "seal $last is not audited"
export_to a
verify_ok a "after seal $last"
grep -q "seal $last: verified" "$tmp/v.out" || fail "seal $last not reported verified"
# The tree head text and its signature, with nothing of ours: OpenSSL verifies.
tail -n 1 "$tmp/a.seals" >"$tmp/seal.json"
printf 'pki-audit-tree-head-v1\nseal %s\nsize %s\nroot %s\ntime %s\nkey %s\n' \
	"$(jq -r .seal "$tmp/seal.json")" "$(jq -r .tree_size "$tmp/seal.json")" \
	"$(jq -r .root "$tmp/seal.json")" "$(jq -r .sealed_at "$tmp/seal.json")" \
	"$(jq -r .key "$tmp/seal.json")" >"$tmp/head.txt"
jq -r .signature "$tmp/seal.json" | xxd -r -p >"$tmp/head.sig"
openssl dgst -sha256 -verify "$PKI_AUDIT_PUBKEY" -signature "$tmp/head.sig" "$tmp/head.txt" >/dev/null ||
	fail "openssl does not verify the tree head's signature"
# ... and recomputes the root from the exported lines (RFC 9162, in Python).
python3 - "$tmp/a.events" "$(jq -r .tree_size "$tmp/seal.json")" "$(jq -r .root "$tmp/seal.json")" <<'PY' ||
import hashlib, sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')[:int(sys.argv[2])]
def mth(d):
    if len(d) == 1:
        return hashlib.sha256(b'\x00' + d[0]).digest()
    k = 1
    while 2 * k < len(d):
        k *= 2
    return hashlib.sha256(b'\x01' + mth(d[:k]) + mth(d[k:])).digest()
sys.exit(0 if mth(lines).hex() == sys.argv[3] else 1)
PY
	fail "an independent RFC 9162 computation does not give the seal's root"
rc=0; pkiaudit verify --events "$tmp/a.events" --seals "$tmp/a.seals" --pubkey "$PKI_ROOT_CERT" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "a certificate given as the public key: exit $rc"
openssl ecparam -genkey -name prime256v1 -noout 2>/dev/null | openssl pkey -pubout >"$tmp/other.pem"
verify_fails "$tmp/a.events" "$tmp/a.seals" 'signature does not verify' "another public key" "$tmp/other.pem"
note "seal: signed tree head verified by openssl dgst, root recomputed by an independent RFC 9162 implementation"

# --- tampering with the database, the export, the seals ------------------------------
victim=$(q "SELECT min(id) FROM audit_event WHERE action = 'sign.service.add'")
[ -n "$victim" ] || fail "no sign.service.add event to tamper with"
orig=$(q "SELECT details::text FROM audit_event WHERE id = $victim")
at_exit "q \"ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_update_delete\" >/dev/null 2>&1"
q "ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update_delete" >/dev/null
q "UPDATE audit_event SET details = details || '{\"name\":\"forged\"}' WHERE id = $victim" >/dev/null
q "ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_update_delete" >/dev/null
export_to t
verify_fails "$tmp/t.events" "$tmp/t.seals" "seal $last: FAILED: the first" "an event changed in the database"
q "ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update_delete" >/dev/null
q "UPDATE audit_event SET details = '$orig'::jsonb WHERE id = $victim" >/dev/null
q "ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_update_delete" >/dev/null
export_to r
verify_ok r "the event restored"
# The export itself: a changed, a removed and a moved line; a changed seal.
sed '3s/"actor": "/"actor": "x/' "$tmp/a.events" >"$tmp/e1"
verify_fails "$tmp/e1" "$tmp/a.seals" 'seal 1: FAILED' "a changed line"
sed '2d' "$tmp/a.events" >"$tmp/e2"
verify_fails "$tmp/e2" "$tmp/a.seals" 'seal 1: FAILED' "a removed line"
sed -n '2p' "$tmp/a.events" >"$tmp/line2"; sed '2d' "$tmp/a.events" | sed "3r $tmp/line2" >"$tmp/e3"
verify_fails "$tmp/e3" "$tmp/a.seals" 'seal 1: FAILED' "two lines swapped"
head -n 5 "$tmp/a.events" >"$tmp/e4"
verify_fails "$tmp/e4" "$tmp/a.seals" 'the export has 5 events' "a truncated export"
jq -c '.tree_size -= 1' "$tmp/seal.json" >"$tmp/s1"; { head -n -1 "$tmp/a.seals"; cat "$tmp/s1"; } >"$tmp/s1.seals"
verify_fails "$tmp/a.events" "$tmp/s1.seals" 'signature does not verify' "a seal's size changed"
printf 'not json\n' >"$tmp/bad.seals"
rc=0; pkiaudit verify --events "$tmp/a.events" --seals "$tmp/bad.seals" --pubkey "$PKI_AUDIT_PUBKEY" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "an unreadable seal file: exit $rc, not 2"
# The sealer itself refuses to extend a last seal changed in the database.
at_exit "q \"ALTER TABLE audit_seal ENABLE TRIGGER audit_seal_no_update_delete\" >/dev/null 2>&1"
sz=$(q "SELECT tree_size FROM audit_seal WHERE id = $last")
q "ALTER TABLE audit_seal DISABLE TRIGGER audit_seal_no_update_delete" >/dev/null
q "UPDATE audit_seal SET tree_size = tree_size + 1 WHERE id = $last" >/dev/null
q "ALTER TABLE audit_seal ENABLE TRIGGER audit_seal_no_update_delete" >/dev/null
pkictl sigservice add --name audit-test-3 >/dev/null
rc=0; pkictl audit seal >"$tmp/seal2.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "audit seal extended a changed seal (exit $rc)"
grep -q 'does not verify with the audit key' "$tmp/seal2.out" || fail "audit seal over a changed seal: $(cat "$tmp/seal2.out")"
[ "$(q "SELECT max(id) FROM audit_seal")" = "$last" ] || fail "a seal was added over a changed one"
q "ALTER TABLE audit_seal DISABLE TRIGGER audit_seal_no_update_delete" >/dev/null
q "UPDATE audit_seal SET tree_size = $sz WHERE id = $last" >/dev/null
q "ALTER TABLE audit_seal ENABLE TRIGGER audit_seal_no_update_delete" >/dev/null
note "tampering refused: an event changed in the database (restored after), the sealer over a changed seal, a changed, removed, moved line, a truncated export, a changed seal, another key"

# --- an event of a transaction still open is sealed later, never lost ----------------
(psql -X -q -v ON_ERROR_STOP=1 "$PKI_TEST_PG_URI" >/dev/null <<'SQL'
BEGIN;
SELECT audit_append('test:audit', 'test.inflight', 'test', 'inflight', '{}'::jsonb);
SELECT pg_sleep(3);
COMMIT;
SQL
) &
holder=$!
for _ in $(seq 50); do
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' AND state = 'active'")" -ge 1 ] && break
	sleep 0.1
done
pkictl audit seal >/dev/null
wait "$holder" || fail "the holding transaction failed"
ev=$(q "SELECT id FROM audit_event WHERE action = 'test.inflight'")
export_to b
# Not in a seal made while its transaction was open: after the last seal's size.
size=$(tail -n 1 "$tmp/b.seals" | jq .tree_size)
pos=$(grep -n "\"id\": $ev," "$tmp/b.events" | cut -d: -f1)
[ "$pos" -gt "$size" ] || fail "event $ev (line $pos) was sealed while its transaction was open (tree size $size)"
pkictl audit seal >/dev/null
export_to c
verify_ok c "after the in-flight event"
size=$(tail -n 1 "$tmp/c.seals" | jq .tree_size)
pos=$(grep -n "\"id\": $ev," "$tmp/c.events" | cut -d: -f1)
[ "$pos" -le "$size" ] || fail "event $ev was not sealed once its transaction ended"
note "an event whose transaction was open at sealing time: left out, sealed by the next seal"

# --- two sealers at once ------------------------------------------------------------
pkictl sigservice add --name audit-test-2 >/dev/null
pkictl audit seal >"$tmp/p1" 2>&1 & p1=$!
pkictl audit seal >"$tmp/p2" 2>&1 & p2=$!
wait "$p1" || { cat "$tmp/p1"; fail "concurrent sealer 1 failed"; }
wait "$p2" || { cat "$tmp/p2"; fail "concurrent sealer 2 failed"; }
export_to d
verify_ok d "after two concurrent sealers"
note "two sealers at once: both succeed, every seal verifies"

# --- the periodic sealer: pkictl audit seal --every N ------------------------------
seals() { q "SELECT count(*) FROM audit_seal"; }
n0=$(seals)
# The binary itself, not the pkictl function: $! must be its PID.
"$PKICTL" --config "$PKI_CONFIG" audit seal --every 1 >"$tmp/every.log" 2>&1 & sealer=$!
at_exit "kill $sealer 2>/dev/null || true"
for _ in $(seq 50); do grep -q 'sealing the audit trail every 1 s' "$tmp/every.log" && break; sleep 0.1; done
grep -q 'sealing the audit trail every 1 s' "$tmp/every.log" || { cat "$tmp/every.log"; fail "the sealer did not start"; }
# Its signer is a process of its own, demoted and sandboxed, and does not
# keep the sealer's SIGTERM handler (SigCgt bit 15).
spid=$(pgrep -P "$sealer")
[ -n "$spid" ] || fail "the sealer has no signer process"
sandboxed "$sealer" "the sealer" pki-audit
sandboxed "$spid" "the sealer's signer" pki-hsm
cgt=$(awk '/^SigCgt:/ {print $2}' "/proc/$spid/status")
(( ((16#$cgt >> 14) & 1) == 0 )) ||
	fail "the sealer's signer catches SIGTERM with the sealer's handler"
for i in 1 2; do	# an event, then a seal of it without anyone asking
	before=$(seals)
	pkictl sigservice add --name "audit-every-$i" >/dev/null
	for _ in $(seq 50); do [ "$(seals)" -gt "$before" ] && break; sleep 0.1; done
	[ "$(seals)" -gt "$before" ] || { cat "$tmp/every.log"; fail "the periodic sealer did not seal new event $i"; }
done
kill -TERM "$sealer"
st=0; wait "$sealer" || st=$?
[ "$st" = 0 ] || { cat "$tmp/every.log"; fail "the sealer exited $st on SIGTERM, not 0"; }
grep -q 'audit sealer: signal 15: stopping' "$tmp/every.log" || fail "the sealer did not say why it stopped"
# A database not reachable at start: tried again each period, and a
# SIGTERM still ends it cleanly.
PKI_PG_SEALER_URI="host=127.0.0.1 port=$(free_port) dbname=pki user=pki_sealer connect_timeout=2" \
	"$PKICTL" --config "$PKI_CONFIG" audit seal --every 1 >"$tmp/nodb.log" 2>&1 & nodb=$!
at_exit "kill $nodb 2>/dev/null || true"
for _ in $(seq 50); do [ "$(grep -c 'no database yet' "$tmp/nodb.log" 2>/dev/null)" -ge 2 ] 2>/dev/null && break; sleep 0.1; done
[ "$(grep -c 'no database yet' "$tmp/nodb.log")" -ge 2 ] || { cat "$tmp/nodb.log"; fail "the sealer did not retry the database"; }
kill -TERM "$nodb"
st=0; wait "$nodb" || st=$?
[ "$st" = 0 ] || { cat "$tmp/nodb.log"; fail "the sealer waiting for its database exited $st on SIGTERM"; }
rc=0; pkictl audit seal --every 0 >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "audit seal --every 0: exit $rc, not 2 (usage)"
export_to e
verify_ok e "after the periodic sealer"
note "periodic sealer: $(( $(seals) - n0 )) seal(s) in its run, each new event sealed within a period, stopped cleanly"

# --- the seals of an earlier export (--known-seals) ------------------------------------
# A superuser who cuts the seals back (and rewrites what followed, then lets
# the sealer sign again) leaves an export that verifies alone; the auditor
# keeps each verified seals file and gives it to the next verification.
# Here the later export is the earlier one cut back by its last seal.
export_to k
if [ "$(wc -l <"$tmp/k.seals")" -lt 2 ]; then
	pkictl sigservice add --name audit-test-known >/dev/null
	pkictl audit seal >/dev/null
	export_to k
fi
head -n -1 "$tmp/k.seals" >"$tmp/cut.seals"
head -n "$(tail -n 1 "$tmp/cut.seals" | jq .tree_size)" "$tmp/k.events" >"$tmp/cut.events"
verify_ok cut "the export cut back by a seal, alone"
kept=$(tail -n 1 "$tmp/k.seals" | jq .seal)
rc=0
pkiaudit verify --events "$tmp/cut.events" --seals "$tmp/cut.seals" --pubkey "$PKI_AUDIT_PUBKEY" \
	--known-seals "$tmp/k.seals" >"$tmp/v.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$tmp/v.out"; fail "an export missing a known seal: exit $rc, not 1"; }
grep -q "^seal $kept: FAILED: known from an earlier export .* the seals were cut back" "$tmp/v.out" ||
	{ cat "$tmp/v.out"; fail "the missing known seal $kept is not named"; }
pkiaudit verify --events "$tmp/k.events" --seals "$tmp/k.seals" --pubkey "$PKI_AUDIT_PUBKEY" \
	--known-seals "$tmp/cut.seals" >"$tmp/v.out" 2>&1 || { cat "$tmp/v.out"; fail "a later export refused against its earlier seals"; }
grep -q 'known from an earlier export: all in this one, unchanged' "$tmp/v.out" || fail "no word on the known seals: $(cat "$tmp/v.out")"
{ head -n 1 "$tmp/cut.seals" | jq -c "$flip_root"; tail -n +2 "$tmp/cut.seals"; } >"$tmp/other.known"
rc=0
pkiaudit verify --events "$tmp/k.events" --seals "$tmp/k.seals" --pubkey "$PKI_AUDIT_PUBKEY" \
	--known-seals "$tmp/other.known" >"$tmp/v.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q '^seal 1: FAILED: not the seal known from an earlier export' "$tmp/v.out" ||
	{ cat "$tmp/v.out"; fail "a seal that differs from the known one: exit $rc"; }
# One seal line kept alone (not the whole file) anchors as well.
sed -n 2p "$tmp/k.seals" >"$tmp/one.known"
pkiaudit verify --events "$tmp/k.events" --seals "$tmp/k.seals" --pubkey "$PKI_AUDIT_PUBKEY" \
	--known-seals "$tmp/one.known" >"$tmp/v.out" 2>&1 || { cat "$tmp/v.out"; fail "a single kept seal line (seal 2) refused"; }
jq -c "$flip_root" "$tmp/one.known" >"$tmp/one.other"
rc=0
pkiaudit verify --events "$tmp/k.events" --seals "$tmp/k.seals" --pubkey "$PKI_AUDIT_PUBKEY" \
	--known-seals "$tmp/one.other" >"$tmp/v.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q '^seal 2: FAILED: not the seal known from an earlier export' "$tmp/v.out" ||
	{ cat "$tmp/v.out"; fail "a kept seal 2 that differs: exit $rc"; }
# An empty file of known seals checks nothing: a wrong file, not a pass.
: >"$tmp/empty.known"
rc=0; pkiaudit verify --events "$tmp/k.events" --seals "$tmp/k.seals" --pubkey "$PKI_AUDIT_PUBKEY" \
	--known-seals "$tmp/empty.known" >"$tmp/v.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'empty.known: no seal line' "$tmp/v.out" ||
	{ cat "$tmp/v.out"; fail "an empty --known-seals file: exit $rc, not 2"; }
note "--known-seals: an export cut back by a seal, and one whose seal 1 differs from the known one, refused; a single kept seal line checked alike; an empty file is a usage error"

# --- pkiaudit names the key it verified with --------------------------------------------
pkiaudit verify --events "$tmp/k.events" --seals "$tmp/k.seals" --pubkey "$PKI_AUDIT_PUBKEY" >"$tmp/v.out"
keysum=$(q "SELECT details->>'public_key_sha256' FROM audit_event WHERE action = 'audit.key.create' ORDER BY id DESC LIMIT 1")
grep -qx "audit key: SHA-256 $keysum (the public_key_sha256 of its audit.key.create event)" "$tmp/v.out" ||
	{ cat "$tmp/v.out"; fail "pkiaudit does not name the key's SHA-256 $keysum"; }

# --- a session's DateStyle and TimeZone do not change the stored seal ---------------------
# The seal's time is stored from the signed ISO text: read back as the
# export reads it, it is the time signed. (It went through the session's
# text form: 'SQL, MDY' in Asia/Shanghai wrote "CST", read back as US
# Central time, 14 hours off, and the seal never verified.)
pkictl sigservice add --name audit-test-tz >/dev/null
PGDATESTYLE='SQL, MDY' PGTZ=Asia/Shanghai pkictl audit seal >"$tmp/tz.out" 2>&1 ||
	{ cat "$tmp/tz.out"; fail "audit seal in another DateStyle and TimeZone"; }
grep -qE '^audit seal [0-9]+: ' "$tmp/tz.out" || fail "no seal made: $(cat "$tmp/tz.out")"
export_to tz
verify_ok tz "a seal made in DateStyle 'SQL, MDY', TimeZone Asia/Shanghai"
note "a seal made with the session in DateStyle 'SQL, MDY' and TimeZone Asia/Shanghai verifies"

# --- nothing new but the last seal's own event: no seal -----------------------------------
# Each seal writes an audit.seal event; sealing that alone would add a seal
# every period of an idle trail, for ever. (Other daemons of the stack may
# write an event meanwhile: then it is sealed, and the next try is idle.)
for _ in 1 2 3 4 5; do
	pkictl audit seal >"$tmp/idle.out" 2>&1 || { cat "$tmp/idle.out"; fail "audit seal"; }
	grep -q 'no event to seal since seal [0-9]* (only its own audit.seal event)' "$tmp/idle.out" && break
done
grep -q 'no event to seal since seal [0-9]* (only its own audit.seal event)' "$tmp/idle.out" ||
	fail "an idle trail was sealed again and again: $(cat "$tmp/idle.out")"
note "an idle trail: no seal of the last seal's own event"

# --- transaction ids below the last seal's boundary: refused, said why ------------------
# As after a pg_dump and restore, which starts the ids again: no event
# would ever fall in the next seal's range, and sealing stopped silently.
last=$(q "SELECT max(id) FROM audit_seal")
restore_xmin() {
	q "ALTER TABLE audit_seal DISABLE TRIGGER audit_seal_no_update_delete;
	   UPDATE audit_seal SET txid_xmin = txid_xmin - 1000000000000 WHERE id = $last AND txid_xmin > 1000000000000;
	   ALTER TABLE audit_seal ENABLE TRIGGER audit_seal_no_update_delete" >/dev/null
}
at_exit "restore_xmin 2>/dev/null || true"
q "ALTER TABLE audit_seal DISABLE TRIGGER audit_seal_no_update_delete;
   UPDATE audit_seal SET txid_xmin = txid_xmin + 1000000000000 WHERE id = $last;
   ALTER TABLE audit_seal ENABLE TRIGGER audit_seal_no_update_delete" >/dev/null
pkictl sigservice add --name audit-test-epoch >/dev/null
rc=0; pkictl audit seal >"$tmp/epoch.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "below seal $last's boundary .* without its transaction-id epoch" "$tmp/epoch.out" ||
	{ cat "$tmp/epoch.out"; fail "ids below the last seal's boundary: exit $rc"; }
[ "$(q "SELECT max(id) FROM audit_seal")" = "$last" ] || fail "a seal was made below the boundary"
restore_xmin
pkictl audit seal >"$tmp/epoch2.out" 2>&1 || { cat "$tmp/epoch2.out"; fail "audit seal after the boundary was restored"; }
export_to ep
verify_ok ep "after the boundary was restored"
note "transaction ids below the last seal's boundary: audit seal refuses and says why; nothing sealed"
# ... and keeps refusing after the ids have passed the boundary again: the
# events written meanwhile have ids below a sealed boundary, no seal would
# ever take them, and every later export would fail verification. (The
# boundary is not signed: raised a little above the current ids, as a
# restore leaves it.)
last=$(q "SELECT max(id) FROM audit_seal")
xmin0=$(q "SELECT txid_xmin FROM audit_seal WHERE id = $last")
cur=$(q "SELECT txid_current()")
set_xmin() {
	q "ALTER TABLE audit_seal DISABLE TRIGGER audit_seal_no_update_delete;
	   UPDATE audit_seal SET txid_xmin = $1 WHERE id = $last;
	   ALTER TABLE audit_seal ENABLE TRIGGER audit_seal_no_update_delete" >/dev/null
}
at_exit "set_xmin $xmin0 2>/dev/null || true"
set_xmin $((cur + 15))
rc=0; pkictl audit seal >"$tmp/window.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$tmp/window.out"; fail "a seal below the raised boundary: exit $rc"; }
for i in $(seq 20); do
	q "SELECT audit_append('test:audit', 'test.below_boundary', 'test', '$i', '{}')" >/dev/null
done
[ "$(q "SELECT txid_current() > $((cur + 15))")" = t ] || fail "test setup: the ids did not pass the boundary"
size=$(q "SELECT tree_size FROM audit_seal WHERE id = $last")
rc=0; pkictl audit seal >"$tmp/window2.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "[0-9]* event(s) have transaction ids below seal $last's boundary ($((cur + 15))), which sealed $size: .*without its transaction-id epoch" "$tmp/window2.out" ||
	{ cat "$tmp/window2.out"; fail "events written below a sealed boundary, ids past it again: exit $rc"; }
[ "$(q "SELECT max(id) FROM audit_seal")" = "$last" ] || fail "a seal was made over events below a sealed boundary"
set_xmin "$xmin0"
pkictl audit seal >"$tmp/window3.out" 2>&1 || { cat "$tmp/window3.out"; fail "audit seal after the boundary was put back"; }
export_to wi
verify_ok wi "after the boundary was put back"
note "events written below a sealed boundary: audit seal keeps refusing once the ids have passed it, naming both counts"

# --- an event pkiaudit could not read is refused by the database -------------------
# pkiaudit stops at an exported line over 1 MiB, which would leave every
# later seal unverifiable: schema/040 bounds details to 64 KiB as text and
# the other text columns to 1 KiB, for every role, the superuser too. The
# largest allowed event is tried in a transaction rolled back: nothing of
# this section stays in the shared trail.
big=test.oversize.$$
events_big() { q "SELECT count(*) FROM audit_event WHERE action = '$big'"; }
# {"pad": "<n bytes>"} is n + 11 bytes as text.
sql_fails "$PKI_TEST_PG_URI" "SELECT audit_append('test:audit', '$big', 'test', NULL,
	jsonb_build_object('pad', repeat('a', 65526)))" 'audit_event_details_size'
sql_fails "$PKI_TEST_PG_URI" "INSERT INTO audit_event (actor, action, object_type, details)
	VALUES ('test:audit', '$big', 'test', jsonb_build_object('pad', repeat('a', 2000000)))" \
	'audit_event_details_size'
sql_fails "$PKI_TEST_PG_URI" "SELECT audit_append(repeat('a', 1025), '$big', 'test', NULL, '{}')" \
	'audit_event_text_size'
sql_fails "$PKI_TEST_PG_URI" "SELECT audit_append('test:audit', '$big', 'test', repeat('a', 1025), '{}')" \
	'audit_event_text_size'
out=$(psql -X -q -At -v ON_ERROR_STOP=1 "$PKI_TEST_PG_URI" <<SQL
BEGIN;
SELECT audit_append('test:audit', '$big', 'test', repeat('a', 1024),
	jsonb_build_object('pad', repeat('a', 65525))) AS id \gset
SELECT octet_length(details::text) FROM audit_event WHERE id = :id;
ROLLBACK;
SQL
) || fail "an event of exactly 64 KiB of details was refused"
[ "$out" = 65536 ] || fail "the largest allowed event: $out bytes of details, not 65536"
[ "$(events_big)" = 0 ] || fail "a refused or rolled-back event of $big stayed in audit_event"
[ "$(q "SELECT count(*) FROM pg_constraint WHERE conrelid = 'audit_event'::regclass AND convalidated
	AND conname IN ('audit_event_details_size', 'audit_event_text_size')")" = 2 ] ||
	fail "the size constraints of audit_event are missing or NOT VALID on the stack"
note "an event over 64 KiB of details or 1 KiB of actor or object id: refused by the database (superuser too), nothing left"

# --- an inclusion proof -------------------------------------------------------------
pkiaudit prove --events "$tmp/d.events" --seals "$tmp/d.seals" --event "$victim" >"$tmp/proof.json" ||
	fail "pkiaudit prove failed"
[ "$(jq -r .event "$tmp/proof.json" | jq .id)" = "$victim" ] || fail "the proof is not of event $victim"
pkiaudit check --proof "$tmp/proof.json" --pubkey "$PKI_AUDIT_PUBKEY" >"$tmp/check.out" ||
	{ cat "$tmp/check.out"; fail "a true proof was refused"; }
jq '.event |= sub("\"actor\": \""; "\"actor\": \"x")' "$tmp/proof.json" >"$tmp/proof2.json"
cmp -s "$tmp/proof.json" "$tmp/proof2.json" && fail "the test did not change the proof's event"
rc=0; pkiaudit check --proof "$tmp/proof2.json" --pubkey "$PKI_AUDIT_PUBKEY" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a proof of a changed event: exit $rc, not 1"
jq '.leaf_index += 1' "$tmp/proof.json" >"$tmp/proof3.json"
rc=0; pkiaudit check --proof "$tmp/proof3.json" --pubkey "$PKI_AUDIT_PUBKEY" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a proof with another leaf index: exit $rc, not 1"
rc=0; pkiaudit check --proof "$tmp/proof.json" --pubkey "$tmp/other.pem" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a proof checked with another key: exit $rc, not 1"
rc=0; pkiaudit prove --events "$tmp/d.events" --seals "$tmp/d.seals" --event 999999999 >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a proof of an event that is not there: exit $rc"
note "inclusion proof of event $victim: verifies alone; a changed event, index or key is refused"

# --- who wrote an event: db_role (schema/083), sealed; a trail of before and after it ------
# The stack's events name the login role that wrote them, in the table and
# in their sealed line.
[ "$(q "SELECT string_agg(DISTINCT coalesce(db_role, '-'), ',') FROM audit_event WHERE action = 'sign.service.add'")" = pki_admin ] ||
	fail "pkictl's events do not name pki_admin: $(q "SELECT string_agg(DISTINCT coalesce(db_role, '-'), ',') FROM audit_event WHERE action = 'sign.service.add'")"
[ "$(q "SELECT string_agg(DISTINCT coalesce(db_role, '-'), ',') FROM audit_event WHERE action = 'audit.seal'")" = pki_sealer ] ||
	fail "the sealer's events do not name pki_sealer"
grep -q "\"id\": $victim, .*\"db_role\": \"pki_admin\"" "$tmp/d.events" ||
	fail "the exported line of event $victim has no db_role: $(grep "\"id\": $victim," "$tmp/d.events")"
# A database migrated up to 082, with events written as pki_ra (one
# claiming to be an officer) and as the superuser; their lines as the
# sealer wrote them before 083 (the expression lib/auditseal.h had then).
# Migrated to 083: those events keep db_role NULL and exactly those lines,
# so a seal made over them before still verifies; a new event's line has
# its role, covered by the seal: a trail of both kinds verifies.
: "${PKI_PG_HOST:?the stack.env of tests/run.sh sets PKI_PG_HOST}"
mdb=pki_audit_083
mdb_uri() { echo "host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=$mdb user=$1 connect_timeout=5"; }
su=$(q 'SELECT current_user')
pg_uri="host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=postgres user=$su connect_timeout=5"
sql_as "$pg_uri" "DROP DATABASE IF EXISTS $mdb" >/dev/null 2>&1
sql_as "$pg_uri" "CREATE DATABASE $mdb" >/dev/null
at_exit "sql_as '$pg_uri' 'DROP DATABASE IF EXISTS $mdb' >/dev/null 2>&1"
mq() { sql_as "$(mdb_uri "$su")" "$1"; }
mkdir -p "$tmp/mig082"
for f in "$REPO"/schema/[0-9][0-9][0-9]_*.sql; do
	b=${f##*/}
	[ "$((10#${b%%_*}))" -le 82 ] && cp "$f" "$tmp/mig082/"
done
"$REPO/deploy/migrate.sh" "$(mdb_uri "$su")" "$tmp/mig082" >/dev/null || fail "migrations up to 082"
sql_as "$(mdb_uri pki_ra)" "SELECT audit_append('officer:1', 'test.before_083', 'ra_application', '7', '{\"n\": 1}')" >/dev/null
sql_as "$(mdb_uri pki_ra)" "SELECT audit_append('subscriber:2', 'test.before_083', 'ra_account', NULL, NULL)" >/dev/null
mq "SELECT audit_append('migration:test', 'test.before_083', 'test', 'x', '{\"a\": [1, \"x y\"], \"b\": null}')" >/dev/null
psql -X -q -At -v ON_ERROR_STOP=1 "$(mdb_uri "$su")" >"$tmp/old.lines" <<'SQL' || fail "the lines before 083"
SELECT jsonb_build_object('id', e.id, 'at', to_char(e.at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'actor', e.actor, 'action', e.action,
    'object_type', e.object_type, 'object_id', e.object_id, 'details',
    e.details)::text FROM audit_event e ORDER BY e.id
SQL
[ "$(wc -l <"$tmp/old.lines")" = 3 ] || fail "3 events before 083, not $(wc -l <"$tmp/old.lines")"
out=$("$REPO/deploy/migrate.sh" "$(mdb_uri "$su")" "$REPO/schema" 2>&1) || fail "migrations after 082: $out"
grep -q '^migrate: applied 083_' <<<"$out" || fail "083 not applied: $out"
[ "$(mq "SELECT count(*) FROM audit_event WHERE db_role IS NULL")" = 3 ] ||
	fail "083 gave the events before it a db_role: $(mq "SELECT id, db_role FROM audit_event")"
# Sealed with nothing after them, once no transaction older than theirs is
# open anywhere in the cluster (the boundary, "Which events a seal takes").
for _ in $(seq 100); do
	[ "$(mq "SELECT txid_snapshot_xmin(txid_current_snapshot()) > max(txid) FROM audit_event")" = t ] && break
	sleep 0.1
done
mpkictl() { PKI_PG_SEALER_URI=$(mdb_uri pki_sealer) PKI_PG_AUDITOR_URI=$(mdb_uri pki_auditor) pkictl "$@"; }
mpkictl audit seal >"$tmp/m1.out" 2>&1 || { cat "$tmp/m1.out"; fail "audit seal of the events before 083"; }
[ "$(mq "SELECT tree_size FROM audit_seal WHERE id = 1")" = 3 ] ||
	fail "seal 1 of $mdb: $(cat "$tmp/m1.out")"
# Its root is the RFC 9162 root of the lines of before 083: the seal a
# sealer of before 083 would have signed over them.
python3 - "$tmp/old.lines" "$(mq "SELECT encode(root, 'hex') FROM audit_seal WHERE id = 1")" <<'PY' ||
import hashlib, sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')[:3]
def mth(d):
    if len(d) == 1:
        return hashlib.sha256(b'\x00' + d[0]).digest()
    k = 1
    while 2 * k < len(d):
        k *= 2
    return hashlib.sha256(b'\x01' + mth(d[:k]) + mth(d[k:])).digest()
sys.exit(0 if mth(lines).hex() == sys.argv[2] else 1)
PY
	fail "seal 1 over the events of before 083 is not the root of their lines of before 083"
# After 083: pki_ra may not name a role, and its event names pki_ra.
sql_fails "$(mdb_uri pki_ra)" "INSERT INTO audit_event (actor, action, object_type, db_role)
	VALUES ('officer:1', 'test.forged', 'test', 'pki_admin')" 'permission denied'
new=$(sql_as "$(mdb_uri pki_ra)" "SELECT audit_append('officer:1', 'test.after_083', 'ra_application', '7', '{\"n\": 2}')")
[ "$(mq "SELECT db_role FROM audit_event WHERE id = $new")" = pki_ra ] ||
	fail "an event written as pki_ra names $(mq "SELECT db_role FROM audit_event WHERE id = $new")"
mpkictl audit seal >"$tmp/m2.out" 2>&1 || { cat "$tmp/m2.out"; fail "audit seal after 083"; }
rm -f "$tmp/m.events" "$tmp/m.seals"
mpkictl audit export --events "$tmp/m.events" --seals "$tmp/m.seals" >/dev/null || fail "audit export of $mdb"
verify_ok m "a trail of events before and after 083"
[ "$(grep -c '^seal [12]: verified' "$tmp/v.out")" = 2 ] || { cat "$tmp/v.out"; fail "not both seals of $mdb verified"; }
head -n 3 "$tmp/m.events" | cmp -s - "$tmp/old.lines" ||
	fail "the events of before 083 are not exported as they were sealed: $(head -n 3 "$tmp/m.events")"
grep -q "^{\"at\": \"[^\"]*\", \"id\": $new, \"actor\": \"officer:1\", \"action\": \"test.after_083\", \"db_role\": \"pki_ra\", \"details\": {\"n\": 2}," "$tmp/m.events" ||
	fail "the line of event $new has no db_role pki_ra: $(grep "\"id\": $new," "$tmp/m.events")"
grep -q '"action": "audit.seal", "db_role": "pki_sealer"' "$tmp/m.events" ||
	fail "the sealer's event has no db_role pki_sealer"
# The role is sealed: the same line naming another role does not verify.
sed "/\"id\": $new,/s/\"db_role\": \"pki_ra\"/\"db_role\": \"pki_admin\"/" "$tmp/m.events" >"$tmp/m2.events"
cmp -s "$tmp/m.events" "$tmp/m2.events" && fail "the test did not change event $new's role"
verify_fails "$tmp/m2.events" "$tmp/m.seals" 'seal 2: FAILED: the first' "an event's db_role changed in the export"
pkiaudit prove --events "$tmp/m.events" --seals "$tmp/m.seals" --event "$new" >"$tmp/mproof.json" ||
	fail "pkiaudit prove of event $new"
pkiaudit check --proof "$tmp/mproof.json" --pubkey "$PKI_AUDIT_PUBKEY" >/dev/null ||
	fail "the proof of event $new (with its db_role) was refused"
pkiaudit prove --events "$tmp/m.events" --seals "$tmp/m.seals" --event "$(head -n 1 "$tmp/old.lines" | jq .id)" \
	>"$tmp/mproof0.json" || fail "pkiaudit prove of an event of before 083"
pkiaudit check --proof "$tmp/mproof0.json" --pubkey "$PKI_AUDIT_PUBKEY" >/dev/null ||
	fail "the proof of an event of before 083 was refused"
note "db_role: the login role in every new event and its sealed line (pki_admin, pki_sealer, pki_ra), not insertable by pki_ra; events of before 083 keep their lines, their seal and proofs verify in a trail with newer events; a changed role is refused"

# --- two audit inits at once: one key --------------------------------------------------
# Each checked the label free, then generated: two keys under one label,
# and no seal could be made again (the signer refuses an ambiguous label).
# audit init takes the key generation lock of the other ceremonies first.
for try in 1 2 3; do
	L=audit-race$try
	PKI_AUDIT_KEY_LABEL=$L pkictl audit init --out "$tmp/race$try-a.pem" >"$tmp/race$try-a.out" 2>&1 & r1=$!
	PKI_AUDIT_KEY_LABEL=$L pkictl audit init --out "$tmp/race$try-b.pem" >"$tmp/race$try-b.out" 2>&1 & r2=$!
	s1=0; wait "$r1" || s1=$?
	s2=0; wait "$r2" || s2=$?
	[ "$(printf '%s\n' "$s1" "$s2" | sort | tr '\n' ' ')" = "0 3 " ] ||
		{ cat "$tmp/race$try-a.out" "$tmp/race$try-b.out"; fail "two audit inits of $L at once: exits $s1 and $s2, not 0 and 3"; }
	grep -qE 'another pkictl command is generating|exists in token' "$tmp/race$try-a.out" "$tmp/race$try-b.out" ||
		fail "the refused audit init of $L does not say why"
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'audit.key.create' AND object_id = '$L'")" = 1 ] ||
		fail "two audit inits of $L at once: not one audit.key.create event"
	# One key: the sealer finds it (and refuses only because the trail's
	# seals are of audit-1), not "several public keys".
	rc=0; PKI_AUDIT_KEY_LABEL=$L pkictl audit seal >"$tmp/race$try-seal.out" 2>&1 || rc=$?
	[ "$rc" = 1 ] && grep -q 'does not verify with the audit key' "$tmp/race$try-seal.out" ||
		{ cat "$tmp/race$try-seal.out"; fail "after two audit inits of $L at once: not exactly one key"; }
done
note "two audit inits at once, three times: one succeeds, the other is refused (exit 3), one key and one event"

# --- the export reads as the read-only auditor ----------------------------------------
# The sealer's role may insert seals, and a bogus one could never be
# removed: the export does not use it (a sealer URI that leads nowhere).
rm -f "$tmp/ro.events" "$tmp/ro.seals"
(umask 022; PKI_PG_SEALER_URI="host=127.0.0.1 port=$(free_port) dbname=pki user=pki_sealer connect_timeout=2" \
	pkictl audit export --events "$tmp/ro.events" --seals "$tmp/ro.seals" >"$tmp/ro.out" 2>&1) ||
	{ cat "$tmp/ro.out"; fail "audit export needs the sealer's role"; }
verify_ok ro "an export made as pki_auditor"
# The trail names subscribers and officers: the files are the owner's
# alone, whatever the umask.
for f in "$tmp/ro.events" "$tmp/ro.seals"; do
	[ "$(stat -c %a "$f")" = 600 ] || fail "audit export made $f mode $(stat -c %a "$f"), not 600 (umask $(umask))"
done
rm -f "$tmp/ro.events" "$tmp/ro.seals"
rc=0; PKI_PG_AUDITOR_URI="host=127.0.0.1 port=$(free_port) dbname=pki user=pki_auditor connect_timeout=2" \
	pkictl audit export --events "$tmp/ro.events" --seals "$tmp/ro.seals" >"$tmp/ro.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && [ ! -e "$tmp/ro.events" ] && [ ! -e "$tmp/ro.seals" ] ||
	{ cat "$tmp/ro.out"; fail "audit export with no auditor database: exit $rc, or files left"; }
note "audit export connects as pki_auditor (pg.auditor_uri), not as the sealer's role"
