#!/usr/bin/env bash
# CRL generation (not a timed test): crld --once (a base CRL streamed from
# PostgreSQL, signed through the signer with the issuing CA key in SoftHSM2)
# against `openssl ca -gencrl` with a software key of the same type (P-384,
# SHA-384) over an index.txt holding the same serials and reasons, for
# 100,000 and 1,000,000 revoked entries. Time and peak memory from
# /usr/bin/time -v (max RSS of the process tree: crld's worker or signer,
# whichever is larger); crld's own split (query + DER, signature, database)
# and its worker's CPU time in query + DER from its --once report.
#	tests/bench/bench_crl.sh BUILD [sizes...]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/tests/bench/lib.sh"
BUILD=$(realpath "${1:-build}")
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100000 1000000)
dir=$(mktemp -d /tmp/pki-bench-crl.XXXXXX)
[ "$(id -u)" -ne 0 ] || { chown pki:pki "$dir"; chmod 0711 "$dir"; }
cleanup() { bench_stack_down "$dir"; }
trap cleanup EXIT
[ -z "${PKI_BENCH_KEEP:-}" ] || trap - EXIT
"$REPO/deploy/stack.sh" up --dir "$dir/stack" --ports auto --build "$BUILD" --ephemeral >"$dir/up.log" 2>&1 ||
	{ cat "$dir/up.log"; exit 1; }
set -a; . "$dir/stack/stack.env"; set +a
# The stack's own crld would race us for the same rows, and ocspd would spend
# a core taking in the synthetic revocations (LISTEN/NOTIFY, reconciliation)
# while crld runs: a 2-vCPU machine then times ocspd too. Only PostgreSQL
# and slapd stay up, as for openssl ca after it.
for d in crl ocsp cad tsa sign ra pades sealer; do
	[ -s "$dir/stack/run/$d.pid" ] || continue
	kill "$(cat "$dir/stack/run/$d.pid")" 2>/dev/null || true
done
sleep 1
SU="host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=pki user=$PKI_STACK_USER"
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$SU" -c "$1"; }
iss=$(q "SELECT id FROM ca_certificate WHERE name = 'issuing'")

# The peer: openssl ca with a software P-384 key.
openssl ecparam -genkey -name secp384r1 -noout -out "$dir/sw.key" 2>/dev/null
openssl req -new -x509 -key "$dir/sw.key" -sha384 -subj "/CN=bench CA" -days 2 -out "$dir/sw.pem" 2>/dev/null
cat >"$dir/ca.cnf" <<CNF
[ ca ]
default_ca = bench
[ bench ]
database = $dir/index.txt
crlnumber = $dir/crlnumber
certificate = $dir/sw.pem
private_key = $dir/sw.key
default_md = sha384
default_crl_days = 1
unique_subject = no
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
CNF

# field NAME FILE: a number from /usr/bin/time -v's report.
tv() { awk -F': ' -v k="$1" '$1 ~ k {print $2}' "$2" | head -n1; }
secs() { # "m:ss.cc" or "h:mm:ss" -> seconds
	awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }' <<<"$1"
}

have=0
echo "== crld CRL generation vs openssl ca -gencrl (goal: >= 5x faster at <= 1/4 of its peak memory)"
printf '%-9s | %-34s | %-22s | %-8s | %s\n' entries "crld: gen (query+DER, sign) / wall" "crld max RSS (worker)" "openssl" "ratio"
for n in "${SIZES[@]}"; do
	add=$((n - have))
	# Synthetic revoked certificates of the issuing CA: 16-byte serials, the reasons spread.
	q "INSERT INTO certificate (issuer_id, serial, subject, profile, not_before, not_after, sha256, der,
	    revoked_at, revocation_reason, revoked_by, revocation_seq)
	    SELECT $iss, '7' || lpad(upper(to_hex(i)), 31, '0'), 'CN=bench ' || i, 'subscriber',
	    now() - interval '1 day', now() + interval '365 days', md5(i::text), '\\x00'::bytea,
	    now() - (i % 10000) * interval '1 second', (ARRAY[1, 1, 4, 5, 3, 0, 2])[i % 7 + 1], 'bench',
	    nextval('revocation_seq')
	    FROM generate_series($have + 1, $n) AS i" >/dev/null
	have=$n
	# VACUUM, not only ANALYZE: revocations come one by one over months, and
	# autovacuum keeps the visibility map of all but the newest pages set;
	# these came in one statement a moment ago. Without it the index-only
	# scan of a complete CRL's entries (schema/092) would have to visit
	# every heap page, and PostgreSQL plans the sequential scan instead.
	q "VACUUM (ANALYZE) certificate" >/dev/null
	total=$(q "SELECT count(*) FROM certificate WHERE issuer_id = $iss AND revoked_at IS NOT NULL")

	/usr/bin/time -v "$BUILD/crld" --config "$PKI_CONFIG" --once >"$dir/once.json" 2>"$dir/once.time" ||
		{ tail -20 "$dir/once.time"; exit 1; }
	base=$(grep '"kind":"base"' "$dir/once.json")
	j() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$base"; }
	gen=$(awk -v b="$(j build_s)" -v s="$(j sign_s)" 'BEGIN {printf "%.2f", b + s}')
	wall=$(secs "$(tv 'Elapsed \\(wall clock\\)' "$dir/once.time")")
	rss=$(($(tv 'Maximum resident set size' "$dir/once.time") / 1024))
	whwm=$(($(j worker_vmhwm_kib) / 1024))
	[ "$(j entries)" = "$total" ] || { echo "bench_crl: crld listed $(j entries) of $total"; exit 1; }
	curl -fsS -o /dev/null "$PKI_CRL_URL" 2>/dev/null || true
	# The same CRL from crld's file, checked by openssl.
	openssl crl -inform DER -in "$PKI_DIR/pki/crl/issuing.crl" -CAfile "$PKI_CHAIN" -noout 2>&1 |
		grep -q 'verify OK' || { echo "bench_crl: crld's CRL does not verify"; exit 1; }

	# The same serials and reasons as an openssl index.txt.
	psql -X -q -At -v ON_ERROR_STOP=1 "$SU" -F $'\t' -c "SELECT 'R', to_char(not_after AT TIME ZONE 'UTC', 'YYMMDDHH24MISS') || 'Z',
	    to_char(revoked_at AT TIME ZONE 'UTC', 'YYMMDDHH24MISS') || 'Z' ||
	    CASE revocation_reason WHEN 1 THEN ',keyCompromise' WHEN 3 THEN ',affiliationChanged'
	    WHEN 4 THEN ',superseded' WHEN 5 THEN ',cessationOfOperation' WHEN 2 THEN ',CACompromise' ELSE '' END,
	    CASE WHEN length(serial) % 2 = 1 THEN '0' ELSE '' END || serial, 'unknown', '/' || replace(subject, ',', '/')
	    FROM certificate WHERE issuer_id = $iss AND revoked_at IS NOT NULL" >"$dir/index.txt"
	echo 01 >"$dir/crlnumber"
	/usr/bin/time -v openssl ca -config "$dir/ca.cnf" -gencrl -out "$dir/o.crl" >/dev/null 2>"$dir/o.time" ||
		{ tail -20 "$dir/o.time"; exit 1; }
	owall=$(secs "$(tv 'Elapsed \\(wall clock\\)' "$dir/o.time")")
	orss=$(($(tv 'Maximum resident set size' "$dir/o.time") / 1024))
	on=$(openssl crl -in "$dir/o.crl" -noout -text | grep -c 'Serial Number:')
	[ "$on" = "$total" ] || { echo "bench_crl: openssl listed $on of $total"; exit 1; }

	# From the unrounded times ($gen is rounded for display; 0.00 at 1,000 entries).
	speed=$(awk -v o="$owall" -v b="$(j build_s)" -v s="$(j sign_s)" \
		'BEGIN {g = b + s; if (g > 0) printf "%.1f", o / g; else print "n/a"}')
	mem=$(awk -v o="$orss" -v c="$rss" 'BEGIN {printf "%.2f", c / o}')
	met=$(awk -v s="$speed" -v m="$mem" 'BEGIN {print (s >= 5 && m <= 0.25) ? "goal met" : "goal NOT met"}')
	printf '%-9s | %5.2f s (%s + %s) / %5.2f s | %5d MiB (%4d) | %5.2f s %4d MiB | %sx faster, %s of its memory: %s\n' \
		"$total" "$gen" "$(j build_s)" "$(j sign_s)" "$wall" "$rss" "$whwm" "$owall" "$orss" "$speed" "$mem" "$met"
	echo "           crld database record (crl, crl_current, publish_queue, audit, commit): $(j record_s) s; DER $(j bytes) bytes"
	# CPU, unlike the times above, is not inflated by other work on a shared machine.
	echo "           crld worker CPU in query+DER: $(j build_cpu_s) s (PostgreSQL's share not included)"
done
