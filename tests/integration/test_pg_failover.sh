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

# --- a standby that stops replaying: thisUpdate held, /health degraded -------------
# A standby stays readable when replication stops (link down, slot lost,
# replay paused): its data is as old as the WAL it replayed, not as the
# read (RFC 6960 §4.2.2.1). A second ocspd on the standby allows it 6 s
# of lag; the standby asks the idle primary for a message every 1.5 s
# (wal_receiver_timeout / 2), so a healthy standby is within that.
sql_as "$(node 2)" "ALTER SYSTEM SET wal_receiver_timeout = '3s'" >/dev/null || fail "ALTER SYSTEM on the standby"
sql_as "$(node 2)" 'SELECT pg_reload_conf()' >/dev/null
at_exit "sql_as '$(node 2)' 'SELECT pg_wal_replay_resume()' >/dev/null 2>&1 || true"
lport=$(free_port)
lurl=http://127.0.0.1:$lport
PKI_OCSP_PORT=$lport PKI_OCSP_MAX_STANDBY_LAG_SECONDS=6 \
	"$BUILD/ocspd" --config "$PKI_CONFIG" >"$tmp/ocsp-lag.log" 2>&1 &
olag=$!
at_exit "kill $olag 2>/dev/null || true"
lhealth() { curl -sS "$lurl/health" >"$tmp/lh" 2>/dev/null || echo '{}' >"$tmp/lh"; jq -r "$1" "$tmp/lh"; }
# lstatus PEM NONCE: the line `openssl ocsp` prints for PEM, the response in $tmp/l.der.
lstatus() {
	ocsp_client -issuer "$PKI_DIR/pki/issuing.pem" -cert "$1" -url "$lurl" -CAfile "$PKI_DIR/pki/root.pem" \
		"$2" -respout "$tmp/l.der" | grep "^$1:"
}
this_update() { date -d "$(openssl ocsp -respin "$tmp/l.der" -noverify -resp_text 2>/dev/null |
	sed -n 's/^ *This Update: //p' | sed -n 1p)" +%s; }
for _ in $(seq 100); do
	[ "$(lhealth '.status + "/" + (.database_ok|tostring)')" = ok/true ] && break
	kill -0 "$olag" 2>/dev/null || { cat "$tmp/ocsp-lag.log"; fail "ocspd (lag) died at start"; }
	sleep 0.2
done
[ "$(lhealth '.status + "/" + (.database_ok|tostring) + "/" + (.database_standby|tostring)')" = ok/true/true ] ||
	{ cat "$tmp/lh" "$tmp/ocsp-lag.log"; fail "ocspd (lag) on a healthy standby is not ok"; }
lag=$(lhealth .standby_lag_seconds)
[[ $lag =~ ^[0-9]+$ ]] && [ "$lag" -le 6 ] || { cat "$tmp/lh"; fail "standby_lag_seconds '$lag' on a healthy standby"; }
cred1=$(issue "$aid" personal personal ec-p256 "Rudi Hartono Satu")
cert_pem "$cred1" "$tmp/cred1.pem"
serial1=$(openssl x509 -in "$tmp/cred1.pem" -noout -serial | cut -d= -f2)
for _ in $(seq 50); do lstatus "$tmp/cred1.pem" -no_nonce | has ': good' && break; sleep 0.1; done
lstatus "$tmp/cred1.pem" -no_nonce | has ': good' || fail "ocspd (lag): a new certificate is not good"

sql_as "$(node 2)" 'SELECT pg_wal_replay_pause()' >/dev/null || fail "pg_wal_replay_pause on the standby"
tp=$(date +%s)
pkictl cert revoke --issuer issuing --serial "$serial1" --reason keyCompromise >/dev/null || fail "pkictl cert revoke"
for _ in $(seq 150); do
	[ "$(lhealth .database_ok)" = false ] && break
	sleep 0.1
done
[ "$(lhealth '.status + "/" + (.database_ok|tostring)')" = degraded/false ] ||
	{ cat "$tmp/lh"; fail "ocspd (lag): /health with replay paused for $(($(date +%s) - tp)) s is not degraded"; }
lag=$(jq -r .standby_lag_seconds "$tmp/lh")
[[ $lag =~ ^[0-9]+$ ]] && [ "$lag" -gt 6 ] || { cat "$tmp/lh"; fail "ocspd (lag): standby_lag_seconds '$lag', want > 6"; }
# Live answers (a nonce) keep the thisUpdate of the data before the pause;
# the standby does not know of the revocation yet, and no answer says it
# knows anything newer than what it replayed.
lstatus "$tmp/cred1.pem" -nonce | has ': good' || fail "ocspd (lag): answer with replay paused"
tu1=$(this_update)
[ "$tu1" -le "$tp" ] || fail "ocspd (lag): thisUpdate $tu1 after the replay was paused ($tp)"
sleep 2
lstatus "$tmp/cred1.pem" -nonce | has ': good' || fail "ocspd (lag): second answer with replay paused"
[ "$(this_update)" = "$tu1" ] || fail "ocspd (lag): thisUpdate moved from $tu1 to $(this_update) with replay paused"
[ "$(lhealth .synced_at)" -le "$tp" ] || { cat "$tmp/lh"; fail "ocspd (lag): synced_at after the pause"; }
[ "$(grep -c "standby's data is .* behind" "$tmp/ocsp-lag.log")" = 1 ] ||
	{ cat "$tmp/ocsp-lag.log"; fail "ocspd (lag): the lag is not logged exactly once"; }

sql_as "$(node 2)" 'SELECT pg_wal_replay_resume()' >/dev/null || fail "pg_wal_replay_resume"
tr=$(date +%s)
# A commit on the primary, as a CA at work makes: with the primary quiet
# since the revocation, the standby's newest known time could stay the
# revocation's (its last commit replayed, ~10 s ago) until the WAL
# sender's next message, which a loaded machine delays (2026-12-06).
sql_as "$(node 1)" 'SELECT txid_current()' >/dev/null || fail "a commit on the primary"
for _ in $(seq 100); do
	lstatus "$tmp/cred1.pem" -nonce | has ': revoked' && [ "$(this_update)" -ge $((tr - 6)) ] && break
	sleep 0.1
done
lstatus "$tmp/cred1.pem" -nonce | has ': revoked' || fail "ocspd (lag): revocation not seen after the resume"
[ "$(this_update)" -ge $((tr - 6)) ] || fail "ocspd (lag): thisUpdate $(this_update) after the resume at $tr"
for _ in $(seq 50); do
	[ "$(lhealth '.status + "/" + (.database_ok|tostring)')" = ok/true ] && break
	sleep 0.1
done
[ "$(lhealth '.status + "/" + (.database_ok|tostring)')" = ok/true ] ||
	{ cat "$tmp/lh"; fail "ocspd (lag): /health not ok after the resume"; }
grep -q "standby's data is current again" "$tmp/ocsp-lag.log" ||
	{ cat "$tmp/ocsp-lag.log"; fail "ocspd (lag): the recovery is not logged"; }
kill -TERM "$olag"
wait "$olag" || { cat "$tmp/ocsp-lag.log"; fail "ocspd (lag) exited non-zero on SIGTERM"; }
sql_as "$(node 2)" 'ALTER SYSTEM RESET wal_receiver_timeout' >/dev/null
sql_as "$(node 2)" 'SELECT pg_reload_conf()' >/dev/null
note "replay paused: ocspd on the standby held thisUpdate at $tu1 ($((tp - tu1)) s before the pause), /health degraded at a lag of $lag s; resumed: revoked, ok"

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
