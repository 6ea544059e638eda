#!/usr/bin/env bash
# Rotating the audit key (audit/README.md "Rotating the audit key"), on a
# stack of its own: `pkictl audit rotate --label audit-2` makes the key in
# the audit token, records it (audit.key.create with its public key and the
# previous key's, as pki_admin) and makes the handover seal, signed by
# audit-1 and naming audit-2 with its SHA-256 (the exported line's
# next_key); run again, it changes nothing. The sealer with the old label
# refuses from then on, naming the new key; with audit-2 it seals, after
# checking the handover seal with audit-1's recorded public key. `pkiaudit
# verify --pubkey audit-1's` follows the handover and names both keys and
# their seals; a handover line whose next key's digest was changed, or a
# seal put back under the retired key, fails; a proof of an audit-2 seal
# checks with audit-2's key. `stack.sh up` keeps [audit] key_label in the
# pki.conf it rewrites and restarts the sealer with it. A rotation whose
# handover cannot be sealed (a transaction left open holds the boundary
# back) exits 1 saying so and, run again, keeps its key and only seals.
. "$(dirname "$0")/lib.sh"
T=$(test_tmpdir)
S=$T/stack
# A periodic sealer (run.sh's stacks run none), idle between its seals.
export PKI_STACK_SEAL_EVERY=600
stack_new "$S"
stack_use "$S"
pki=$PKI_DIR/pki
anchor=$pki/audit-pub.pem
pkiaudit() { "$BUILD/pkiaudit" "$@"; }
spki_sha256() { openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
export_to() { # export_to NAME: a fresh export in $T/NAME.events, .seals
	rm -f "$T/$1.events" "$T/$1.seals"
	pkictl audit export --events "$T/$1.events" --seals "$T/$1.seals" >/dev/null
}
verify_fails() { # verify_fails NAME SEALS PATTERN WHAT
	local rc=0
	pkiaudit verify --events "$T/$1.events" --seals "$2" --pubkey "$anchor" >"$T/v.out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || { cat "$T/v.out"; fail "$4: pkiaudit verify exit $rc, not 1"; }
	grep -qE -- "$3" "$T/v.out" || { cat "$T/v.out"; fail "$4: no '$3' in the report"; }
}

# --- before: audit-1 seals ------------------------------------------------------------
# pki_ra may write an event with any action: 300 audit.key.create events with a
# public_key filled pkiaudit's key ring (256) and made every genuine rotation
# after them unverifiable. verify reads only pki_admin's, when a handover names it.
junk=$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout -outform DER | base64 -w0)
sql_as "${STACK_PG/user=*/user=pki_ra}" "INSERT INTO audit_event (actor, action, object_type, object_id, details)
	SELECT 'subscriber:1', 'audit.key.create', 'hsm_key', 'junk-' || i, jsonb_build_object('public_key', '$junk')
	FROM generate_series(1, 300) AS i" >/dev/null || fail "pki_ra's audit.key.create events"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'audit.key.create' AND db_role = 'pki_ra'")" = 300 ] ||
	fail "pki_ra's 300 audit.key.create events not written"
pkictl sigservice add --name rotate-1 >/dev/null
pkictl audit seal >"$T/seal.out" || fail "audit seal with audit-1: $(cat "$T/seal.out")"
rc=0; pkictl audit rotate --label audit-1 >"$T/r.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "audit rotate to the current label: exit $rc, not 2"
rc=0; pkictl audit rotate >"$T/r.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "audit rotate without --label: exit $rc, not 2"

# --- the rotation ---------------------------------------------------------------------
pkictl audit rotate --label audit-2 >"$T/rotate.out" 2>&1 || { cat "$T/rotate.out"; fail "audit rotate --label audit-2"; }
has 'hands over to the next audit key audit-2' "$T/rotate.out" || { cat "$T/rotate.out"; fail "no handover seal reported"; }
has 'set audit.key_label = audit-2' "$T/rotate.out" || fail "rotate does not say what to do next"
new=$pki/audit-pub-audit-2.pem
[ -s "$new" ] || fail "no $new"
openssl pkey -pubin -in "$new" -noout -text | has 'NIST CURVE: P-256' || fail "audit-2 is not P-256"
d1=$(spki_sha256 "$anchor")
d2=$(spki_sha256 "$new")
ev=$(q "SELECT details->>'public_key_sha256' || ' ' || (details->>'previous_label') || ' ' || db_role
	FROM audit_event WHERE action = 'audit.key.create' AND object_id = 'audit-2'")
[ "$ev" = "$d2 audit-1 pki_admin" ] || fail "audit-2's event: '$ev', not '$d2 audit-1 pki_admin'"
[ "$(q "SELECT details->>'public_key' FROM audit_event WHERE action = 'audit.key.create' AND object_id = 'audit-2'")" = \
	"$(openssl pkey -pubin -in "$new" -outform DER | base64 -w0)" ] || fail "the event's public_key is not audit-2's"
[ "$(q "SELECT details->>'previous_public_key' FROM audit_event WHERE action = 'audit.key.create' AND object_id = 'audit-2'")" = \
	"$(openssl pkey -pubin -in "$anchor" -outform DER | base64 -w0)" ] || fail "the event's previous_public_key is not audit-1's"
h=$(q "SELECT id FROM audit_seal WHERE next_key_label = 'audit-2' AND key_label = 'audit-1' AND encode(next_key_sha256, 'hex') = '$d2'")
[ -n "$h" ] && [ "$h" = "$(q "SELECT max(id) FROM audit_seal")" ] || fail "the last seal is not audit-1's handover to audit-2"
# Again: nothing new (no second key, no second handover).
pkictl audit rotate --label audit-2 >"$T/rotate2.out" 2>&1 || { cat "$T/rotate2.out"; fail "audit rotate again"; }
has "seal $h already hands over" "$T/rotate2.out" || { cat "$T/rotate2.out"; fail "rotate again does not say it was done"; }
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'audit.key.create' AND object_id = 'audit-2'")" = 1 ] ||
	fail "a second rotate recorded a second key"
[ "$(q "SELECT max(id) FROM audit_seal")" = "$h" ] || fail "a second rotate sealed again"
# To another key while the handover to audit-2 stands: refused.
rc=0; pkictl audit rotate --label audit-9 >"$T/r9.out" 2>&1 || rc=$?
[ "$rc" = 3 ] || { cat "$T/r9.out"; fail "a rotation past a handover: exit $rc, not 3"; }
note "rotate: audit-2 made and recorded (its public key and audit-1's), handover seal $h names it; run again changes nothing"

# --- the sealers: the old label refused, the new one accepted --------------------------
pkictl sigservice add --name rotate-2 >/dev/null
rc=0; pkictl audit seal >"$T/old.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$T/old.out"; fail "the old key's sealer after the handover: exit $rc, not 1"; }
has "the audit key was rotated to audit-2 at seal $h: set audit.key_label = audit-2" "$T/old.out" ||
	{ cat "$T/old.out"; fail "the old key's sealer does not say why"; }
PKI_AUDIT_KEY_LABEL=audit-2 pkictl audit seal >"$T/new.out" 2>&1 || { cat "$T/new.out"; fail "audit seal with audit-2"; }
has 'signed with audit-2' "$T/new.out" || fail "the seal after the handover is not audit-2's: $(cat "$T/new.out")"
pkictl sigservice add --name rotate-3 >/dev/null
PKI_AUDIT_KEY_LABEL=audit-2 pkictl audit seal >/dev/null || fail "a second seal with audit-2"
last=$(q "SELECT max(id) FROM audit_seal")
note "seal: audit-1's sealer refused after the handover; audit-2's seals $((h + 1))-$last"

# --- the auditor ----------------------------------------------------------------------
export_to a
line=$(sed -n "${h}p" "$T/a.seals")
[ "$(jq -r '.next_key.label + " " + .next_key.public_key_sha256' <<<"$line")" = "audit-2 $d2" ] ||
	fail "the handover line does not name audit-2: $line"
[ "$(head -n 1 "$T/a.seals" | jq 'has("next_key")')" = false ] || fail "seal 1's line names a next key"
pkiaudit verify --events "$T/a.events" --seals "$T/a.seals" --pubkey "$anchor" >"$T/v.out" ||
	{ cat "$T/v.out"; fail "pkiaudit verify refused the rotated trail (after pki_ra's 300 audit.key.create events)"; }
has -E "^key audit-1: SHA-256 $d1 \(--pubkey, the trust anchor\): seals 1-$h\$" "$T/v.out" ||
	{ cat "$T/v.out"; fail "verify does not name audit-1 and its seals"; }
has -E "^key audit-2: SHA-256 $d2 \(event [0-9]+ of the export\): seals $((h + 1))-$last\$" "$T/v.out" ||
	{ cat "$T/v.out"; fail "verify does not name audit-2 and its seals"; }
has "seal $last: verified: .* by key audit-2" "$T/v.out" || fail "seal $last not verified"
# audit-2 given as a file too: found there.
pkiaudit verify --events "$T/a.events" --seals "$T/a.seals" --pubkey "$anchor" --pubkey "$new" >"$T/v2.out" ||
	{ cat "$T/v2.out"; fail "verify with audit-2 as a --pubkey file"; }
has -F "key audit-2: SHA-256 $d2 ($new)" "$T/v2.out" || { cat "$T/v2.out"; fail "audit-2 not taken from its file"; }
# audit-2 as the anchor: seal 1 is audit-1's.
rc=0; pkiaudit verify --events "$T/a.events" --seals "$T/a.seals" --pubkey "$new" >"$T/v3.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "audit-2 as the trust anchor: exit $rc, not 1"
# The handover line's next digest changed (audit-1's own): its signature fails, and
# audit-2's seals are of a key no verified seal handed over to.
jq -c --arg d "$d1" '.next_key.public_key_sha256 = $d' <<<"$line" >"$T/line"
awk -v h="$h" -v f="$T/line" 'NR == h { getline l < f; print l; next } { print }' "$T/a.seals" >"$T/x1.seals"
verify_fails a "$T/x1.seals" "seal $h: FAILED: .*signature does not verify" "a handover naming another digest"
has -F "seal $((h + 1)): FAILED: signed by key audit-2, but the audit key is audit-1 (the key changed without a handover seal" "$T/v.out" ||
	{ cat "$T/v.out"; fail "audit-2's seal after a broken handover"; }
# The handover line without its next key: the signature fails.
jq -c 'del(.next_key)' <<<"$line" >"$T/line"
awk -v h="$h" -v f="$T/line" 'NR == h { getline l < f; print l; next } { print }' "$T/a.seals" >"$T/x2.seals"
verify_fails a "$T/x2.seals" "seal $h: FAILED: .*signature does not verify" "a handover line without next_key"
# The last seal put back under the retired key.
jq -c '.key = "audit-1"' <<<"$(tail -n 1 "$T/a.seals")" >"$T/line"
{ head -n -1 "$T/a.seals"; cat "$T/line"; } >"$T/x3.seals"
verify_fails a "$T/x3.seals" "seal $last: FAILED: signed by key audit-1, but the audit key is audit-2 \(that key was retired by a handover seal\)" \
	"a seal by the retired key"
# audit-2's event gone from the export: its key is nowhere.
grep -v '"action": "audit.key.create"' "$T/a.events" >"$T/b.events" || true
verify_fails b "$T/a.seals" "seal $((h + 1)): FAILED: seal $h hands over to key audit-2 \(SHA-256 $d2\), whose public key is in no" \
	"a next key found nowhere"
# A proof of an audit-2 seal: checked with audit-2's key, not audit-1's.
# The first event audit-2 sealed.
ev=$(sed -n "$(($(jq .tree_size <<<"$line") + 1))p" "$T/a.events" | jq .id)
pkiaudit prove --events "$T/a.events" --seals "$T/a.seals" --event "$ev" --seal "$last" >"$T/proof.json" || fail "prove event $ev"
pkiaudit check --proof "$T/proof.json" --pubkey "$new" >"$T/c.out" || { cat "$T/c.out"; fail "check a proof of seal $last with audit-2"; }
rc=0; pkiaudit check --proof "$T/proof.json" --pubkey "$anchor" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a proof of an audit-2 seal checked with audit-1: exit $rc, not 1"
note "verify: both keys named with their seals; a changed or removed handover, a seal by the retired key, a next key found nowhere each FAILED; proofs of audit-2 seals check with its key"

# --- the stack keeps the label across up ------------------------------------------------
sealer_pid=$(pidfile_of "$S" sealer)
[ -n "$sealer_pid" ] || fail "the stack runs no sealer"
sed -i '/^\[audit\]/a key_label = audit-2' "$PKI_CONFIG"
stack_up "$S"
[ "$(sed -n '/^\[audit\]/,/^\[/s/^key_label *= *//p' "$PKI_CONFIG")" = audit-2 ] ||
	fail "stack.sh up did not keep [audit] key_label"
has 'sealer: restarting: audit.key_label is now audit-2' "$S.up.log" || { cat "$S.up.log"; fail "up did not restart the sealer"; }
[ "$(pidfile_of "$S" sealer)" != "$sealer_pid" ] || fail "the sealer runs on with the old key (pid $sealer_pid)"
pkictl sigservice add --name rotate-4 >/dev/null
pkictl audit seal >"$T/seal4.out" 2>&1 || { cat "$T/seal4.out"; fail "audit seal with the kept label"; }
has 'signed with audit-2' "$T/seal4.out" || fail "not audit-2 after up: $(cat "$T/seal4.out")"
note "stack.sh up keeps key_label = audit-2 and restarts the sealer with it"

# --- a handover that cannot be sealed yet, then run again -----------------------------
# An event before the holder's transaction, sealed after it began: that seal's own
# audit.seal event is then above the boundary too, and nothing below it is left.
pkictl sigservice add --name rotate-5 >/dev/null
(psql -X -q -v ON_ERROR_STOP=1 "$STACK_PG" >/dev/null 2>&1 <<'SQL'
BEGIN;
SELECT txid_current();
SELECT pg_sleep(120);
COMMIT;
SQL
) &
holder=$!
at_exit "kill $holder 2>/dev/null || true"
for _ in $(seq 50); do
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND state = 'active' AND pid <> pg_backend_pid()")" -ge 1 ] && break
	sleep 0.1
done
pkictl audit seal >"$T/seal5.out" 2>&1 || { cat "$T/seal5.out"; fail "audit seal beside the holder"; }
has 'event(s) added' "$T/seal5.out" || { cat "$T/seal5.out"; fail "rotate-5's event not sealed"; }
rc=0; pkictl audit rotate --label audit-3 >"$T/r3.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$T/r3.out"; fail "a rotation whose handover cannot be sealed: exit $rc, not 1"; }
has 'nothing could be sealed for' "$T/r3.out" || { cat "$T/r3.out"; fail "rotate does not say why"; }
[ "$(q "SELECT count(*) FROM audit_seal WHERE next_key_label = 'audit-3'")" = 0 ] || fail "a handover to audit-3 was sealed"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$holder" 2>/dev/null || true
pkictl audit rotate --label audit-3 >"$T/r3b.out" 2>&1 || { cat "$T/r3b.out"; fail "audit rotate --label audit-3 again"; }
has 'not generated again' "$T/r3b.out" || { cat "$T/r3b.out"; fail "rotate again generated audit-3 anew"; }
has 'hands over to the next audit key audit-3' "$T/r3b.out" || { cat "$T/r3b.out"; fail "no handover to audit-3"; }
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'audit.key.create' AND object_id = 'audit-3'")" = 1 ] ||
	fail "audit-3 recorded more than once"
pkictl sigservice add --name rotate-6 >/dev/null
PKI_AUDIT_KEY_LABEL=audit-3 pkictl audit seal >/dev/null || fail "audit seal with audit-3"
export_to c
pkiaudit verify --events "$T/c.events" --seals "$T/c.seals" --pubkey "$anchor" >"$T/v.out" ||
	{ cat "$T/v.out"; fail "verify over two handovers"; }
has -E '^key audit-3: SHA-256 [0-9a-f]{64} \(event [0-9]+ of the export\): seals ' "$T/v.out" ||
	{ cat "$T/v.out"; fail "verify does not name audit-3"; }
note "a handover held back by an open transaction: exit 1 with the reason; run again, the key kept and only the handover sealed; two handovers verify"

# --- a label used before: refused, nothing changed ------------------------------------
# audit-1 -> 2 -> 3 -> 2 (or back to audit-1) was accepted: the handover named a
# key whose event follows another, and every sealer stalled.
nev=$(q "SELECT count(*) FROM audit_event WHERE action = 'audit.key.create'")
nseal=$(q "SELECT max(id) FROM audit_seal")
for back in audit-2 audit-1; do
	rc=0; PKI_AUDIT_KEY_LABEL=audit-3 pkictl audit rotate --label "$back" >"$T/back.out" 2>&1 || rc=$?
	[ "$rc" = 3 ] || { cat "$T/back.out"; fail "rotate from audit-3 back to $back: exit $rc, not 3"; }
	has "the label $back was used before" "$T/back.out" || { cat "$T/back.out"; fail "rotate back to $back does not say why"; }
done
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'audit.key.create'")" = "$nev" ] &&
	[ "$(q "SELECT max(id) FROM audit_seal")" = "$nseal" ] || fail "a refused rotation back recorded or sealed something"
PKI_AUDIT_KEY_LABEL=audit-3 pkictl audit seal >/dev/null || fail "audit-3 seals after the refused rotations back"
note "rotate back to audit-2 or audit-1 (labels used before): exit 3, nothing recorded or sealed; audit-3 seals on"

# --- a known handover replaced by a seal of the same tree without it ------------------
# A superuser deletes the handover to audit-3 and the events after it (triggers
# off); a sealer of audit-2 never restarted seals the same events again, with
# no next line: same number, size and root. --known-seals holding the handover
# refuses the export (it compares the whole seal), which alone verifies. The
# auditor's earlier export ends at the handover (seal lines kept up to it):
# the seals after it are of other events, and their roots differ anyway.
h3=$(q "SELECT id FROM audit_seal WHERE next_key_label = 'audit-3'")
export_to k
head -n "$h3" "$T/k.seals" >"$T/known.seals"
hroot=$(q "SELECT encode(root, 'hex') FROM audit_seal WHERE id = $h3")
nroot=
for _ in 1 2 3; do
	hx=$(q "SELECT txid_xmin FROM audit_seal WHERE id = $h3")
	q "ALTER TABLE audit_seal DISABLE TRIGGER audit_seal_no_update_delete;
	   ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update_delete;
	   DELETE FROM audit_seal WHERE id >= $h3;
	   DELETE FROM audit_event WHERE txid >= $hx;
	   ALTER TABLE audit_seal ENABLE TRIGGER audit_seal_no_update_delete;
	   ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_update_delete;" >/dev/null
	PKI_AUDIT_KEY_LABEL=audit-2 pkictl audit seal >"$T/reseal.out" 2>&1 || { cat "$T/reseal.out"; fail "the stale audit-2 sealer"; }
	nroot=$(q "SELECT encode(root, 'hex') FROM audit_seal WHERE id = $h3")
	[ "$nroot" = "$hroot" ] && break
done
[ "$nroot" = "$hroot" ] || fail "seal $h3 could not be made again over the same tree"
[ "$(q "SELECT key_label || ' ' || coalesce(next_key_label, '-') FROM audit_seal WHERE id = $h3")" = "audit-2 -" ] ||
	fail "seal $h3 made again is not audit-2's without a handover"
pkictl sigservice add --name rotate-7 >/dev/null
PKI_AUDIT_KEY_LABEL=audit-2 pkictl audit seal >/dev/null || fail "the stale audit-2 sealer seals on"
export_to r
pkiaudit verify --events "$T/r.events" --seals "$T/r.seals" --pubkey "$anchor" >"$T/v.out" ||
	{ cat "$T/v.out"; fail "the replaced trail does not verify alone (the case needs it to)"; }
rc=0; pkiaudit verify --events "$T/r.events" --seals "$T/r.seals" --pubkey "$anchor" \
	--known-seals "$T/known.seals" >"$T/v.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$T/v.out"; fail "a known handover replaced by a seal without it: verify --known-seals exit $rc, not 1"; }
has "^seal $h3: FAILED: not the seal known from an earlier export .*no handover where one was" "$T/v.out" ||
	{ cat "$T/v.out"; fail "verify --known-seals does not name the handover that went"; }
note "a known handover (seal $h3) replaced by the same tree sealed without it: verify --known-seals FAILED"

# --- a forged handover: refused by the sealer of the key it names ----------------------
# Someone holding a superuser and pki_admin replaces the last seal with a handover
# audit-2 -> audit-3 (the token's audit-3 digest) signed by a key of theirs, and
# records audit-3 again as pki_admin with their key as previous_public_key. The
# audit-3 sealer checks that key against the first pki_admin audit.key.create
# event of audit-2 the seal covers: another key, refused.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ka.pem" 2>/dev/null
kab=$(openssl pkey -in "$T/ka.pem" -pubout -outform DER | base64 -w0)
d3=$(spki_sha256 "$pki/audit-pub-audit-3.pem")
last=$(q "SELECT max(id) FROM audit_seal")
row=$(q "SELECT id, tree_size, encode(root, 'hex'), to_char(sealed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM audit_seal WHERE id = $last")
IFS='|' read -r _ size root at <<<"$row"
printf 'pki-audit-tree-head-v1\nseal %s\nsize %s\nroot %s\ntime %s\nkey audit-2\nnext audit-3 %s\n' "$last" "$size" "$root" "$at" "$d3" >"$T/head"
sig=$(openssl dgst -sha256 -sign "$T/ka.pem" "$T/head" | od -An -v -tx1 | tr -d ' \n')
q "ALTER TABLE audit_seal DISABLE TRIGGER audit_seal_no_update_delete;
   CREATE TEMP TABLE keep AS SELECT * FROM audit_seal WHERE id = $last;
   DELETE FROM audit_seal WHERE id = $last;
   ALTER TABLE audit_seal ENABLE TRIGGER audit_seal_no_update_delete;
   INSERT INTO audit_seal (id, tree_size, txid_xmin, root, frontier, sealed_at, key_label, signature, next_key_label, next_key_sha256)
     SELECT id, tree_size, txid_xmin, root, frontier, sealed_at, 'audit-2', decode('$sig', 'hex'), 'audit-3', decode('$d3', 'hex') FROM keep;" >/dev/null ||
	fail "forge the handover seal"
sql_as "${STACK_PG/user=*/user=pki_admin}" "INSERT INTO audit_event (actor, action, object_type, object_id, details)
	VALUES ('pkictl:audit', 'audit.key.create', 'hsm_key', 'audit-3', '{\"public_key_sha256\": \"$d3\", \"previous_label\": \"audit-2\", \"previous_public_key\": \"$kab\"}')" >/dev/null ||
	fail "pki_admin's second audit-3 event"
pkictl sigservice add --name rotate-8 >/dev/null
rc=0; PKI_AUDIT_KEY_LABEL=audit-3 pkictl audit seal >"$T/forged.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$T/forged.out"; fail "the audit-3 sealer after a forged handover: exit $rc, not 1"; }
has "but the first audit.key.create event by pki_admin of audit-2 that seal $last covers records" "$T/forged.out" ||
	{ cat "$T/forged.out"; fail "the audit-3 sealer does not say why it refused the forged handover"; }
[ "$(q "SELECT max(id) FROM audit_seal")" = "$last" ] || fail "sealed after a forged handover"
note "a forged handover (seal $last, signed by another key, with a pki_admin event naming it): the audit-3 sealer refuses"
