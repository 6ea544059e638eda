#!/usr/bin/env bash
# tsad throughput (not a timed test): wrk POSTing one query on loopback,
# beside, in the same run, the HSM's raw signing rate for the TSA key and
# `openssl ts -reply` scripted as a user would (one process per request).
#	tests/bench/bench_tsa.sh BUILD [seconds]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/tests/bench/lib.sh"
BUILD=$(realpath "${1:-build}")
SECS=${2:-5}
dir=$(mktemp -d /tmp/pki-bench-tsa.XXXXXX)
[ "$(id -u)" -ne 0 ] || { chown pki:pki "$dir"; chmod 0711 "$dir"; }
cleanup() { bench_stack_down "$dir"; }
trap cleanup EXIT
"$REPO/deploy/stack.sh" up --dir "$dir/stack" --ports auto --build "$BUILD" --ephemeral >"$dir/up.log" 2>&1 ||
	{ cat "$dir/up.log"; exit 1; }
set -a; . "$dir/stack/stack.env"; set +a
conf=$PKI_CONFIG
val() { sed -n "s/^$1 *= *//p" "$conf" | head -n1; }

echo "== tsad (${SECS}s each; $(nproc) cores)"
echo "bench" | openssl ts -query -sha256 -cert -out "$dir/q.tsq" 2>/dev/null
cat >"$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/timestamp-query"
local f = io.open(os.getenv("TSQ"), "rb")
wrk.body = f:read("*a")
f:close()
LUA
# Sanity: the query is granted before we measure it.
curl -sS -H 'Content-Type: application/timestamp-query' --data-binary "@$dir/q.tsq" \
	"$PKI_TSA_URL/" -o "$dir/r.tsr"
openssl ts -reply -in "$dir/r.tsr" -text 2>/dev/null | grep -q 'Status: Granted' ||
	{ echo "bench_tsa: tsad does not grant tokens"; exit 1; }

# As tsad's signer signs: through a session copy of the key (hsm.session_keys,
# the goal's denominator); and with the token object itself.
raw_key() { "$BUILD/tests/bench/bench_p11_key" "$PKI_HSM_MODULE" "$(val tsa_token)" \
	"$(val tsa_pin_file)" tsa-1 "$SECS" ${1:-}; }
raw=$(raw_key session)
raw_token=$(raw_key)
# SoftHSM2 scales with processes: the ceiling with as many processes as cores.
for i in $(seq "$(nproc)"); do raw_key session >"$dir/raw.$i" & done
wait
raw_all=$(cat "$dir"/raw.* | awk '{s += $1} END {printf "%.0f", s}')
TSQ=$dir/q.tsq wrk -t2 -c16 -d"${SECS}s" --latency -s "$dir/post.lua" "$PKI_TSA_URL/" >"$dir/wrk.out"
rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$dir/wrk.out")
p50=$(awk '$1 == "50%" {print $2}' "$dir/wrk.out")
p99=$(awk '$1 == "99%" {print $2}' "$dir/wrk.out")
errs=$(awk '/Non-2xx|Socket errors/' "$dir/wrk.out")

# openssl ts -reply with a software key of the same type: one process per request.
openssl ecparam -genkey -name prime256v1 -noout -out "$dir/sw.key" 2>/dev/null
openssl req -new -x509 -key "$dir/sw.key" -subj "/CN=bench TSA" -days 2 \
	-addext "extendedKeyUsage=critical,timeStamping" -out "$dir/sw.pem" 2>/dev/null
cat >"$dir/ts.cnf" <<CNF
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = $dir
serial = $dir/serial
signer_cert = $dir/sw.pem
signer_key = $dir/sw.key
signer_digest = sha256
default_policy = 2.999.1.2.1
digests = sha256, sha384, sha512
accuracy = secs:1
ess_cert_id_alg = sha256
CNF
echo 01 >"$dir/serial"
n=0
end=$(($(date +%s%N) + SECS * 1000000000))
while [ "$(date +%s%N)" -lt "$end" ]; do
	openssl ts -reply -config "$dir/ts.cnf" -queryfile "$dir/q.tsq" -out "$dir/o.tsr" 2>/dev/null
	n=$((n + 1))
done
ossl=$((n / SECS))

printf '| path | tokens/s | p50 | p99 |\n|---|---:|---:|---:|\n'
printf '| HSM raw sign, TSA key (P-256) as a session copy, 1 process | %s | | |\n' "$raw"
printf '| HSM raw sign, TSA key as a session copy, %s processes (sum) | %s | | |\n' "$(nproc)" "$raw_all"
printf '| HSM raw sign, TSA key as the token object, 1 process | %s | | |\n' "$raw_token"
printf '| tsad (%s workers, each with its signer), wrk -t2 -c16 | %s | %s | %s |\n' \
	"$(pgrep -P "$(head -n1 "$PKI_DIR/run/tsa.pid")" | wc -l)" "$rps" "$p50" "$p99"
printf '| openssl ts -reply, 1 process per request | %s | | |\n' "$ossl"
awk -v a="$rps" -v b="$raw" -v c="$raw_all" -v d="$raw_token" 'BEGIN {printf "tsad / raw HSM (session copy): %.0f %% of 1 process, %.0f %% of all cores (goal >= 80 %%); %.0f %% of 1 process signing with the token object\n", 100 * a / b, 100 * a / c, 100 * a / d}'
awk -v a="$rps" -v b="$ossl" 'BEGIN {printf "tsad / openssl ts -reply: %.0fx\n", a / b}'
[ -z "$errs" ] || echo "wrk: $errs"
