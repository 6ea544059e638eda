#!/bin/sh
# Runs the benchmarks against a throw-away SoftHSM2 token: run.sh BUILD [seconds]
# (make bench calls it with the build directory).
set -eu
# nginx (bench_ocsp.sh) is in /usr/sbin, which a user's PATH on Debian lacks.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
export PATH
BUILD=${1:-build}
SECS=${2:-3}
dir=$(mktemp -d /tmp/pki-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM
echo "== bench_signer (token in $dir)"
"$BUILD/tests/bench/bench_signer" "$dir" "$SECS"
"$(dirname "$0")/bench_tsa.sh" "$BUILD" 5
"$(dirname "$0")/bench_ocsp.sh" "$BUILD" 5
echo "== bench_p11wrap (wrapped subscriber keys)" && "$BUILD/tests/bench/bench_p11wrap" "$dir" "$SECS"
"$(dirname "$0")/bench_crl.sh" "$BUILD"
"$(dirname "$0")/bench_cad.sh" "$BUILD"
"$(dirname "$0")/bench_signd.sh" "$BUILD"
