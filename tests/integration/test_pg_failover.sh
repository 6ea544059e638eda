#!/usr/bin/env bash
# PostgreSQL high availability on a stack of its own (`stack.sh up
# --standby`): a hot standby streams from the primary and ocspd reads from
# it (LISTEN is refused there: it polls); then the primary fails, the
# standby is promoted, and every daemon carries on in the same processes
# (their conninfo lists both nodes; target_session_attrs finds the new
# primary); finally the next `up` re-joins the old primary as a standby
# (pg_rewind) and it replicates what the new primary writes. The stack's
# sealer seals the audit trail every second throughout, and the trail
# exported from the new primary verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
. "$(dirname "$0")/lib_survive.sh"
tmp=$(test_tmpdir)
S=$tmp/s
PKI_STACK_SEAL_EVERY=1 stack_new "$S" --standby
set -a
# shellcheck disable=SC1091
. "$S/stack.env"
set +a
[ -n "${PKI_PG_STANDBY_PORT:-}" ] || fail "stack.env has no PKI_PG_STANDBY_PORT"
surl=$PKI_SIGN_URL
rurl=$PKI_RA_URL
sms=$PKI_DIR/spool/ra-sms
mail=$PKI_DIR/spool/ra-mail
node() { # node 1|2: the stack user's conninfo to one node
	echo "host=$PKI_PG_HOST port=$([ "$1" = 1 ] && echo "$PKI_PG_PORT" || echo "$PKI_PG_STANDBY_PORT") dbname=pki user=$PKI_STACK_USER"
}
# The superuser on whichever node is the primary, as the daemons find it.
q() { sql_as "host=$PKI_PG_HOST,$PKI_PG_HOST port=$PKI_PG_PORT,$PKI_PG_STANDBY_PORT dbname=pki user=$PKI_STACK_USER target_session_attrs=read-write" "$1"; }
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
pw='Failover-Otter4'
secrets=("$pw")

# --- the standby ------------------------------------------------------------------
[ "$(sql_as "$(node 1)" 'SELECT pg_is_in_recovery()')" = f ] || fail "node 1 is not the primary"
[ "$(sql_as "$(node 2)" 'SELECT pg_is_in_recovery()')" = t ] || fail "node 2 is not a standby"
[ "$(sql_as "$(node 1)" "SELECT state FROM pg_stat_replication WHERE application_name = 'node2'")" = streaming ] ||
	fail "node 2 does not stream from node 1"
"$STACK_SH" status --dir "$S" >"$tmp/status" || { cat "$tmp/status"; fail "status after up --standby"; }
grep -qE '^postgres +up .* primary$' "$tmp/status" && grep -qE '^postgres2 +up .* standby$' "$tmp/status" ||
	{ cat "$tmp/status"; fail "status does not show the primary and the standby"; }
curl -sS "$PKI_OCSP_URL/health" >"$tmp/health"
[ "$(jq -r .database_standby "$tmp/health")" = true ] || fail "ocspd does not read from the standby: $(cat "$tmp/health")"
grep -q 'reading from a standby' "$PKI_DIR/log/ocsp.log" || fail "ocspd did not log that it polls a standby"

survive_before failover
sealer=$(pidfile_of "$PKI_DIR" sealer)
[ -n "$sealer" ] || fail "the stack's sealer does not run"
# ocspd on the standby sees a revocation made on the primary by polling.
cred0=$(issue "$aid" personal personal ec-p256 "Rudi Hartono Nol")
cert_pem "$cred0" "$tmp/cred0.pem"
serial0=$(openssl x509 -in "$tmp/cred0.pem" -noout -serial | cut -d= -f2)
t0=$(date +%s%N)
pkictl cert revoke --issuer issuing --serial "$serial0" --reason privilegeWithdrawn >/dev/null ||
	fail "pkictl cert revoke"
survive_revoked "$tmp/cred0.pem" "on the standby"
note "a revocation reached ocspd through the standby in $(( ($(date +%s%N) - t0) / 1000000 )) ms (poll period 1000 ms)"

# --- the failover: the primary stops, the standby is promoted ----------------------
pg=$(pidfile_of "$PKI_DIR" postgres)
[ -n "$pg" ] || fail "no PostgreSQL pid file"
kill -INT "$pg"
for _ in $(seq 200); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pg" 2>/dev/null || fail "the primary did not stop"
[ "$(sql_as "$(node 2)" 'SELECT pg_promote()')" = t ] || fail "pg_promote on node 2"
[ "$(sql_as "$(node 2)" 'SELECT pg_is_in_recovery()')" = f ] || fail "node 2 was not promoted"
# ocspd, still connected to node 2, sees the promotion and LISTENs again.
for _ in $(seq 50); do
	[ "$(curl -sS "$PKI_OCSP_URL/health" | jq -r .database_standby)" = false ] && break
	sleep 0.1
done
[ "$(curl -sS "$PKI_OCSP_URL/health" | jq -r .database_standby)" = false ] ||
	fail "ocspd did not notice the promotion: $(curl -sS "$PKI_OCSP_URL/health")"
grep -q 'the standby was promoted: LISTENing' "$PKI_DIR/log/ocsp.log" || fail "ocspd did not log the promotion"
seals_before=$(q "SELECT coalesce(max(id), 0) FROM audit_seal")
survive_after "after the failover"
# The sealer (a new connection for each seal) seals what happened since.
for _ in $(seq 100); do
	[ "$(q "SELECT coalesce(max(id), 0) FROM audit_seal")" -gt "$seals_before" ] && break
	sleep 0.1
done
[ "$(q "SELECT coalesce(max(id), 0) FROM audit_seal")" -gt "$seals_before" ] ||
	fail "no audit seal on the new primary: $(tail -n 3 "$PKI_DIR/log/sealer.log")"
[ "$(pidfile_of "$PKI_DIR" sealer)" = "$sealer" ] || fail "the sealer was restarted"
pkictl audit export --events "$tmp/a.events" --seals "$tmp/a.seals" >/dev/null || fail "audit export"
"$BUILD/pkiaudit" verify --events "$tmp/a.events" --seals "$tmp/a.seals" --pubkey "$PKI_AUDIT_PUBKEY" \
	>"$tmp/v.out" || { cat "$tmp/v.out"; fail "pkiaudit verify after the failover"; }
note "primary stopped, standby promoted; rad, signd (threads and SAMs), cad, ocspd, crld and tsad served with the same processes"

# --- the old primary re-joins as a standby ------------------------------------------
stack_up "$S"
grep -q 'postgres: a former primary; re-joining it as a standby of postgres2' "$S.up.log" ||
	{ cat "$S.up.log"; fail "up did not re-join the old primary"; }
"$STACK_SH" status --dir "$S" >"$tmp/status" || { cat "$tmp/status"; fail "status after the re-join"; }
grep -qE '^postgres +up .* standby$' "$tmp/status" && grep -qE '^postgres2 +up .* primary$' "$tmp/status" ||
	{ cat "$tmp/status"; fail "status does not show the swapped roles"; }
[ "$(sql_as "$(node 1)" 'SELECT pg_is_in_recovery()')" = t ] || fail "node 1 is not a standby after the re-join"
# What the new primary writes (an account rad registers) reaches the re-joined node.
rreq POST /v1/register "{\"email\":\"rejoin-$$@example.com\",\"phone\":\"+6281299990003\",\"password\":\"$pw\"}"
[ "$code" = 201 ] || fail "rad after the re-join: register $code $(cat "$tmp/out")"
for _ in $(seq 100); do
	[ "$(sql_as "$(node 1)" "SELECT count(*) FROM ra_account WHERE email = 'rejoin-$$@example.com'")" = 1 ] && break
	sleep 0.1
done
[ "$(sql_as "$(node 1)" "SELECT count(*) FROM ra_account WHERE email = 'rejoin-$$@example.com'")" = 1 ] ||
	fail "the re-joined node does not replicate from the new primary"
note "the next up re-joined the old primary as a standby (pg_rewind); it streams from the new primary"
survive_logs
exit 0
