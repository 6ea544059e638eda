#!/usr/bin/env bash
# tsad's /health and start-up messages, with tsads of their own on the
# stack's database:
#  - the query for its certificates refused at start-up: tsad says the
#    database failed (until 2026-12-07: "run `pkictl ca init`").
# Runs against the stack of tests/run.sh.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }

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
note ok
