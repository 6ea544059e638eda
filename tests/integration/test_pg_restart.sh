#!/usr/bin/env bash
# Every daemon survives a PostgreSQL restart (an upgrade, a failover, a
# crash) without being restarted itself: the stack's PostgreSQL is stopped
# and started again, then with the same daemon processes rad registers an
# account, signd (its HTTP threads and its SAMs) authorizes and signs,
# cad issues an order, a revocation reaches ocspd and crld, and tsad
# records its tokens. lib/db.c connects again before a statement when the
# server has closed the connection.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
. "$(dirname "$0")/lib_survive.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
surl=$PKI_SIGN_URL
rurl=$PKI_RA_URL
sms=$PKI_DIR/spool/ra-sms
mail=$PKI_DIR/spool/ra-mail
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
pw='Restart-Otter4'
secrets=("$pw")

survive_before restart

# --- the restart ----------------------------------------------------------------------
pg=$(pidfile_of "$PKI_DIR" postgres)
[ -n "$pg" ] || fail "no PostgreSQL pid file"
kill -INT "$pg"	# fast shutdown: every connection is closed by the server
for _ in $(seq 200); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pg" 2>/dev/null || fail "PostgreSQL did not stop"
sleep 1	# every daemon sees its connection closed while the server is away
stack_up "$PKI_STACK_DIR"	# starts only what is down: PostgreSQL
[ "$(pidfile_of "$PKI_DIR" postgres)" != "$pg" ] || fail "PostgreSQL was not restarted"

# --- after: every daemon works again, the same processes ----------------------------
survive_after "after the restart"
note "PostgreSQL restarted; rad, signd (threads and SAMs), cad, ocspd, crld and tsad served with the same processes"
survive_logs
exit 0
