#!/usr/bin/env bash
# cad sustained issuance (not a timed test): orders → signed, stored
# certificates per second with 1 and 2 workers, for EC P-256 and RSA-2048
# subscriber keys, beside, in the same run, the HSM's own rate for the same
# work (generate + wrap a key, sign with the issuing key through a session
# copy as cad's signer does: one process) and
# `openssl ca -batch` (software keys, one process per certificate).
#	tests/bench/bench_cad.sh BUILD [orders-for-ec]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/tests/bench/lib.sh"
BUILD=$(realpath "${1:-build}")
N_EC=${2:-600}
N_RSA=$((N_EC / 20 > 10 ? N_EC / 20 : 10))
dir=$(mktemp -d /tmp/pki-bench-cad.XXXXXX)
[ "$(id -u)" -ne 0 ] || { chown pki:pki "$dir"; chmod 0711 "$dir"; }
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	bench_stack_down "$dir"
}
trap cleanup EXIT
"$REPO/deploy/stack.sh" up --dir "$dir/stack" --ports auto --build "$BUILD" --ephemeral >"$dir/up.log" 2>&1 ||
	{ cat "$dir/up.log"; exit 1; }
set -a; . "$dir/stack/stack.env"; set +a
conf=$PKI_CONFIG
val() { sed -n "s/^$1 *= *//p" "$conf" | head -n1; }
su_uri="host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=pki user=$PKI_STACK_USER"
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$su_uri" -c "$1"; }
now() { date +%s.%N; }

# run KEYTYPE N WORKERS: orders per second, workers started and waiting first.
run() {
	local kt=$1 n=$2 w=$3 i first t0 t1 done_n
	for ((i = 1; i <= w; i++)); do
		PKI_CAD_INSTANCE=bench$i PKI_CAD_POLL_SECONDS=1 "$BUILD/cad" --config "$conf" \
			>>"$dir/cad$i.log" 2>&1 &
		pids+=($!)
	done
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -c 'issuing with' "$dir"/cad*.log 2>/dev/null | awk -F: '{s += $NF} END {print s}')" -ge "$w" ] && break
		sleep 0.1
	done
	first=$(q "SELECT coalesce(max(id), 0) FROM issuance_order")
	t0=$(now)
	q "INSERT INTO issuance_order (kind, profile, subject, key_type, requested_by)
	   SELECT 'personal', 'personal', jsonb_build_object('C', 'ID', 'CN', 'Bench ' || g,
	   'serialNumber', 'NIK:' || g), '$kt', 'bench' FROM generate_series(1, $n) g" >/dev/null
	while :; do
		done_n=$(q "SELECT count(*) FROM issuance_order WHERE id > $first AND status <> 'pending'")
		[ "$done_n" -ge "$n" ] && break
		sleep 0.05
	done
	t1=$(now)
	for i in "${pids[@]}"; do kill -TERM "$i" 2>/dev/null || true; done
	wait "${pids[@]}" 2>/dev/null || true
	pids=()
	rm -f "$dir"/cad*.log
	[ "$(q "SELECT count(*) FROM issuance_order WHERE id > $first AND status = 'done'")" = "$n" ] ||
		{ echo "bench_cad: some $kt orders failed" >&2; exit 1; }
	awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", n / (b - a)}'
}

echo "== cad (EC: $N_EC orders, RSA: $N_RSA orders per cell; $(nproc) cores)"
ec1=$(run ec-p256 "$N_EC" 1); ec2=$(run ec-p256 "$N_EC" 2)
rsa1=$(run rsa2048 "$N_RSA" 1); rsa2=$(run rsa2048 "$N_RSA" 2)

# The HSM alone: generate + wrap (throw-away token), sign with the issuing key.
"$BUILD/tests/bench/bench_p11wrap" "$dir" 2 >"$dir/wrap.out" 2>&1
gen_ec=$(awk -F'|' '/generate \+ wrap/ {gsub(/ /, "", $3); print $3}' "$dir/wrap.out")
gen_rsa=$(awk -F'|' '/generate \+ wrap/ {gsub(/ /, "", $4); print $4}' "$dir/wrap.out")
sign=$("$BUILD/tests/bench/bench_p11_key" "$PKI_HSM_MODULE" "$(val ca_token)" "$(val ca_pin_file)" \
	issuing-ca-1 2 session | awk '{print $1}')
hsm() { awk -v g="$1" -v s="$sign" 'BEGIN {printf "%.1f", 1 / (1 / g + 1 / s)}'; }

# openssl ca -batch, software P-384 CA key, one process per certificate.
mkdir -p "$dir/oca/new"
: >"$dir/oca/index.txt"
openssl ecparam -genkey -name secp384r1 -noout -out "$dir/oca/ca.key" 2>/dev/null
openssl req -new -x509 -key "$dir/oca/ca.key" -subj "/CN=bench CA" -days 30 -out "$dir/oca/ca.pem" 2>/dev/null
cat >"$dir/oca/ca.cnf" <<CNF
[ ca ]
default_ca = bench
[ bench ]
dir = $dir/oca
database = \$dir/index.txt
new_certs_dir = \$dir/new
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
rand_serial = yes
default_md = sha384
default_days = 365
policy = anything
unique_subject = no
x509_extensions = ext
[ anything ]
C = optional
CN = supplied
[ ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
CNF
oca() { # oca KEYOPT COUNT: certificates/s, key generation included
	local i t0 t1
	t0=$(now)
	for ((i = 0; i < $2; i++)); do
		openssl req -new -newkey "$1" -nodes -keyout "$dir/oca/k.pem" -subj "/C=ID/CN=Bench $i" \
			-out "$dir/oca/r.csr" 2>/dev/null
		openssl ca -batch -config "$dir/oca/ca.cnf" -in "$dir/oca/r.csr" -out "$dir/oca/c.pem" 2>/dev/null
	done
	t1=$(now)
	awk -v n="$2" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", n / (b - a)}'
}
oca_ec=$(oca ec:<(openssl ecparam -name prime256v1) 100)
oca_rsa=$(oca rsa:2048 20)

printf '| certificates/s | EC P-256 | RSA-2048 |\n|---|---:|---:|\n'
printf '| cad, 1 worker | %s | %s |\n' "$ec1" "$rsa1"
printf '| cad, 2 workers | %s | %s |\n' "$ec2" "$rsa2"
printf '| HSM alone, 1 process: generate + wrap, then issuing-key sign (%s/s) | %s | %s |\n' \
	"$sign" "$(hsm "$gen_ec")" "$(hsm "$gen_rsa")"
printf '| openssl ca -batch + openssl req -newkey, one process each | %s | %s |\n' "$oca_ec" "$oca_rsa"
awk -v a="$ec1" -v b="$(hsm "$gen_ec")" -v c="$rsa1" -v d="$(hsm "$gen_rsa")" \
	'BEGIN {printf "cad 1 worker vs the HSM-bound limit: EC %.0f %%, RSA %.0f %%\n", 100 * a / b, 100 * c / d}'
