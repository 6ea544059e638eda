#!/usr/bin/env bash
# CPU time per token of tsad's workers and signers, and of the raw HSM signing
# (bench_p11_key), read from /proc: robust to a shared, loaded machine.
#	tests/bench/bench_tsa_cpu.sh BUILD [seconds]   (not part of make bench)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/tests/bench/lib.sh"
BUILD=$(realpath "${1:-build}"); SECS=${2:-10}
dir=$(mktemp -d /tmp/tsa-cpu.XXXXXX); chmod o+x "$dir"
cleanup() { bench_stack_down "$dir"; }
trap cleanup EXIT
"$REPO/deploy/stack.sh" up --dir "$dir/stack" --ports auto --build "$BUILD" --ephemeral >"$dir/up.log" 2>&1 || { tail "$dir/up.log"; exit 1; }
set -a; . "$dir/stack/stack.env"; set +a
conf=$PKI_CONFIG
val() { sed -n "s/^$1 *= *//p" "$conf" | head -n1; }
echo "bench" | openssl ts -query -sha256 -cert -out "$dir/q.tsq" 2>/dev/null
cat >"$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/timestamp-query"
local f = io.open(os.getenv("TSQ"), "rb")
wrk.body = f:read("*a")
f:close()
LUA
sup=$(head -n1 "$PKI_DIR/run/tsa.pid")
workers=$(pgrep -P "$sup" | tr '\n' ' ')
signers=$(for w in $workers; do pgrep -P "$w"; done | tr '\n' ' ')
tick=$(getconf CLK_TCK)
cpu() { local s=0; for p in "$@"; do set -- $(cut -d' ' -f14,15 /proc/$p/stat); s=$((s + $1 + $2)); done; echo $s; }
w0=$(cpu $workers); s0=$(cpu $signers)
TSQ=$dir/q.tsq wrk -t2 -c16 -d"${SECS}s" -s "$dir/post.lua" "$PKI_TSA_URL/" >"$dir/wrk.out"
w1=$(cpu $workers); s1=$(cpu $signers)
n=$(awk '/requests in/ {print $1}' "$dir/wrk.out")
rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$dir/wrk.out")
/usr/bin/time -f "%U %S" -o "$dir/raw.time" "$BUILD/tests/bench/bench_p11_key" "$PKI_HSM_MODULE" "$(val tsa_token)" "$(val tsa_pin_file)" tsa-1 "$SECS" >"$dir/raw.out"
raw=$(cat "$dir/raw.out"); rawcpu=$(awk '{print $1 + $2}' "$dir/raw.time")
awk -v n="$n" -v w=$((w1 - w0)) -v s=$((s1 - s0)) -v t="$tick" -v rps="$rps" -v raw="$raw" -v rc="$rawcpu" -v secs="$SECS" 'BEGIN {
	printf "tokens %d (%d/s)  worker %.1f us/token  signer %.1f us/token  raw HSM sign %.1f us/signature (%d/s)\n",
	    n, rps, 1e6 * w / t / n, 1e6 * s / t / n, 1e6 * rc / (raw * secs), raw }'
