#!/usr/bin/env bash
# crl_issued notifications are a hint, not a command (crl/issuer.c
# crl_issuer_drain): any database role may NOTIFY that channel with any
# payload. A burst of 200 fake ones naming the issuing CA's complete CRL
# with a number no CRL has ('<id>:full:999999999999', each in its own
# transaction so that PostgreSQL delivers every one) makes crld read
# crl_current's numbers, not its CRL: no "serving full CRL" line (logged at
# each load of a crl_current row) follows them, and the CRL served stays
# the same. Until 2026-12-07 each one read the whole crl_current row (tens
# of MB for a large CRL), and as the fake number never became the cached
# one, the same payload did it again at every notification: 205 loads
# here (5 of the malformed payloads below passed its sscanf too).
# Payloads that do not parse (an overflowing number, a sign, trailing
# bytes) change nothing either; crld still serves and answers /health.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }

mkdir -p "$tmp/crl"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$tmp/crl"
chmod 0711 "$tmp"
port=$(free_port)
url=http://127.0.0.1:$port
PKI_CRL_PORT=$port PKI_CRL_OUT_DIR=$tmp/crl PKI_CRL_INSTANCE=test-crl-notify \
	"$BUILD/crld" --config "$PKI_CONFIG" >"$tmp/crld.log" 2>&1 &
crld=$!
at_exit "kill -TERM $crld 2>/dev/null; wait $crld 2>/dev/null"
served() { curl -fs --max-time 5 -o "$tmp/now.crl" "$url/crl/issuing.crl"; }
for ((i = 0; i < 300; i++)); do served && break; sleep 0.2; done
served || { cat "$tmp/crld.log"; fail "crld serves no issuing.crl"; }
# Its start-up loads are done once it serves and the log is quiet.
sleep 2
cp "$tmp/now.crl" "$tmp/before.crl"
iss=$(q "SELECT id FROM ca_certificate WHERE name = 'issuing'")
[[ $iss =~ ^[0-9]+$ ]] || fail "no issuing CA: '$iss'"
loads() { grep -c 'serving full CRL' "$tmp/crld.log" || true; }
before=$(loads)

# psql runs each line of a script as its own transaction.
for ((i = 0; i < 200; i++)); do
	echo "NOTIFY crl_issued, '$iss:full:999999999999';"
done >"$tmp/burst.sql"
for p in "$iss:full:99999999999999999999999" "$iss:full:-5" "+$iss:full:9999" \
    "$iss:full:9999 " "$iss:full:9999:x" "$iss:delta:0x10" "0$iss:full:9999"; do
	echo "NOTIFY crl_issued, '$p';"
done >>"$tmp/burst.sql"
psql -X -q -At -v ON_ERROR_STOP=1 "$PKI_TEST_PG_URI" -f "$tmp/burst.sql" ||
	fail "NOTIFY burst"
# Time for crld to drain the burst and log any load.
sleep 3
after=$(loads)
n=$((after - before))
[ "$n" -eq 0 ] || { tail -n 30 "$tmp/crld.log"; fail "200 fake crl_issued notifications made crld load crl_current's CRL $n time(s)"; }
served || fail "crld no longer serves issuing.crl after the burst"
cmp -s "$tmp/before.crl" "$tmp/now.crl" || fail "the CRL served changed after fake notifications"
curl -fs --max-time 5 -o /dev/null "$url/health" || fail "/health after the burst"
kill -TERM "$crld"
wait "$crld" || { cat "$tmp/crld.log"; fail "crld exited non-zero on SIGTERM"; }
note "200 fake crl_issued notifications (and 7 that do not parse): $n load(s) of crl_current's CRL"
