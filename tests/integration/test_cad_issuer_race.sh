#!/usr/bin/env bash
# cad and a revocation or hold of its issuing CA racing (ca/README.md "One
# order, one transaction"; schema/099): the claim's check is seconds old
# when cad signs, so cad reads the CA's status again right before the
# signature, under the CA certificate's sign lock.
#  1. held while cad generates the key (its signer stopped): nothing
#     signed, the order pending, not counted, no audit event; issued once
#     released;
#  2. held while cad stores (a table lock): the hold waits for cad's
#     COMMIT and is stamped after it;
#  3. revoked (cACompromise, pkictl) while cad generates the key: the
#     order failed (order.fail, "... the subscriber must agree again"),
#     nothing signed, stored or left of the key.
# Until 2026-12-07 cases 1 and 3 signed and stored a certificate under the
# held or revoked CA, and case 2's hold did not wait. A stack of its own:
# case 3 revokes the issuing CA for good.
. "$(dirname "$0")/lib.sh"
T=$(test_tmpdir)
S=$T/stack
stack_new "$S"
stack_use "$S"
log=$PKI_DIR/log/cad.log

ca_row="issuer_id = (SELECT issuer_id FROM ca_certificate WHERE name = 'issuing')
    AND serial = (SELECT serial FROM ca_certificate WHERE name = 'issuing')"
# (the superuser holds it: pkictl refuses a hold of a CA certificate)
held_issuing() { q "UPDATE certificate SET revoked_at = $1, revocation_reason = $2, revoked_by = $3 WHERE $ca_row" >/dev/null; }
order() {
	pkictl order add --kind personal --profile personal --key-type ec-p256 --issuer issuing \
	    --subject "{\"C\":\"ID\",\"CN\":\"Race $1\",\"serialNumber\":\"NIK:31740123456790$1\"}"
}
st() { q "SELECT status || ' ' || attempts || ' ' || coalesce(last_error, '') FROM issuance_order WHERE id = $1"; }
actions() { q "SELECT string_agg(action, ',' ORDER BY id) FROM audit_event WHERE object_type = 'issuance_order' AND object_id = '$1'"; }
claimed() { # claimed ORDER: 0 once a worker holds its row (within 10 s)
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(q "SELECT count(*) FROM (SELECT 1 FROM issuance_order WHERE id = $1 FOR UPDATE SKIP LOCKED) s")" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}
until_not() { # until_not ORDER STATUS: 0 once ORDER's status is not STATUS (within 10 s)
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(q "SELECT status FROM issuance_order WHERE id = $1")" != "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
certs() { q "SELECT count(*) FROM certificate WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = 'issuing')"; }
signer=$(pgrep -P "$(cat "$PKI_DIR/run/cad.pid")" | sed -n 1p)
[ -n "$signer" ] || fail "no signer process under cad"
at_exit "kill -CONT $signer 2>/dev/null || true"

# --- 1. put on hold while the key is generated ----------------------------------------
n0=$(certs)
kill -STOP "$signer"
o1=$(order 01)
claimed "$o1" || fail "cad did not claim order $o1"
held_issuing 'now()' 6 "'test_cad_issuer_race'"
kill -CONT "$signer"
# (logged after the rollback)
wait_line "$log" "order $o1: the issuing CA issuing was put on hold at" ||
	fail "cad did not say it left order $o1 under a hold: $(st "$o1"), $(tail -5 "$log")"
[ "$(st "$o1")" = "pending 0 " ] || fail "order $o1 under an issuing CA put on hold: $(st "$o1")"
[ "$(certs)" = "$n0" ] || fail "a certificate was stored under the issuing CA on hold"
[ "$(q "SELECT count(*) FROM subscriber_key WHERE order_id = $o1")" = 0 ] || fail "order $o1's key stored"
[ "$(actions "$o1")" = order.add ] || fail "order $o1 under a hold: audit $(actions "$o1")"
held_issuing NULL NULL NULL
q "NOTIFY issuance_order" >/dev/null
until_not "$o1" pending || fail "order $o1 not issued once released: $(st "$o1")"
[ "$(st "$o1")" = "done 1 " ] || fail "order $o1 once released: $(st "$o1")"
note "put on hold while cad generated the key: order $o1 waited (nothing signed, not counted), issued once released"

# --- 2. a hold while cad stores waits for its COMMIT ----------------------------------
coproc TX { psql -X -q -At -v ON_ERROR_STOP=1 "$STACK_PG" 2>&1; }
tx_pid=$TX_PID
tx_in=${TX[1]}
tx_out=${TX[0]}
at_exit "kill $tx_pid 2>/dev/null || true"
echo "BEGIN; LOCK TABLE subscriber_key IN SHARE MODE; SELECT 'locked';" >&"$tx_in"
read -r -t 10 ok <&"$tx_out" && [ "$ok" = locked ] || fail "LOCK TABLE subscriber_key: $ok"
o2=$(order 02)
waiting() { # waiting ROLE EVENT: 0 once a backend of ROLE waits on EVENT (within 10 s)
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = '$1' AND wait_event_type = 'Lock' AND wait_event = '$2'")" -ge 1 ] && return 0
		sleep 0.1
	done
	return 1
}
waiting pki_ca relation || fail "cad did not reach the INSERT of order $o2's key"
held_issuing 'now()' 6 "'test_cad_issuer_race'" &
hold=$!
at_exit "kill $hold 2>/dev/null || true"
su=$(stack_get "$S" PKI_STACK_USER)
waiting "$su" advisory || { wait "$hold"; held_issuing NULL NULL NULL
	fail "the hold did not wait for cad's transaction (order $o2: $(st "$o2"))"; }
echo "COMMIT; SELECT 'committed';" >&"$tx_in"
read -r -t 10 ok <&"$tx_out" && [ "$ok" = committed ] || fail "COMMIT: $ok"
wait "$hold" || fail "the hold failed"
[ "$(st "$o2")" = "done 1 " ] || fail "order $o2: $(st "$o2")"
[ "$(q "SELECT (SELECT revoked_at FROM certificate WHERE $ca_row) > o.done_at FROM issuance_order o WHERE o.id = $o2")" = t ] ||
	fail "the hold is stamped before order $o2 was done"
held_issuing NULL NULL NULL
note "a hold while cad stored order $o2 waited for its COMMIT, stamped after it"

# --- 3. revoked (cACompromise) while the key is generated ----------------------------
n0=$(certs)
kill -STOP "$signer"
o3=$(order 03)
claimed "$o3" || fail "cad did not claim order $o3"
iser=$(q "SELECT serial FROM ca_certificate WHERE name = 'issuing'")
pkictl cert revoke --issuer root --serial "$iser" --reason cACompromise >"$T/revoke.out" 2>&1 ||
	fail "pkictl cert revoke of the issuing CA: $(cat "$T/revoke.out")"
kill -CONT "$signer"
until_not "$o3" pending || fail "order $o3 still pending after the revocation"
case $(st "$o3") in
"failed 1 the issuing CA issuing was revoked at "*" (cACompromise): no certificate is issued under it; the subscriber must agree again") ;;
*) fail "order $o3 under a revoked issuing CA: $(st "$o3") (certificate $(q "SELECT coalesce(certificate_id::text, 'none') FROM issuance_order WHERE id = $o3"))" ;;
esac
[ "$(certs)" = "$n0" ] || fail "a certificate was stored under the revoked issuing CA"
[ "$(q "SELECT count(*) FROM subscriber_key WHERE order_id = $o3")" = 0 ] || fail "order $o3's key stored"
[ "$(actions "$o3")" = order.add,order.fail ] || fail "order $o3: audit $(actions "$o3")"
[ "$(q "SELECT details->>'error' FROM audit_event WHERE object_type = 'issuance_order' AND object_id = '$o3' AND action = 'order.fail'")" = \
    "$(q "SELECT last_error FROM issuance_order WHERE id = $o3")" ] || fail "order $o3: order.fail's error is not its last_error"
! has -F "certificate serial" <(grep -F "order $o3" "$log") || fail "cad signed for order $o3: $(grep -F "order $o3" "$log")"
note "revoked while cad generated the key: order $o3 failed (order.fail), nothing signed or stored"
