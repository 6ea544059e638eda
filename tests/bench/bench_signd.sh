#!/usr/bin/env bash
# signd under load (issue 6; not a timed test): signHash requests per second
# and latency with 10,000 and then 100,000 subscribers' credentials, beside
# the HSM's own limits measured in the same run.
#
#	tests/bench/bench_signd.sh BUILD
#
# Environment (defaults in brackets): BENCH_SMALL [10000] and BENCH_LARGE
# [100000] credentials; BENCH_CONC [8] client connections; jobs per
# measurement BENCH_COLD [2000] (cold, authorization excluded),
# BENCH_COLD_INC [400] (cold, included), BENCH_BULK10 [300], BENCH_BULK100
# [60], BENCH_CTRL [500] (each of the 4 runs of the control below);
# BENCH_SECS [3] seconds per HSM cell; BENCH_HOT [2000] and BENCH_HOT10
# [400] jobs of the hot measurements, BENCH_HOT_KEYS [8] credentials they
# use, BENCH_KEY_CACHE [1000] the hot signd's sign.key_cache.
#
# What it does: starts an ephemeral stack (signd with its defaults:
# sign.threads 2, one SAM per thread); registers one real RA subscriber and
# sets her PIN through rad (so the PIN hash is rad's Argon2id); makes a
# throw-away software bench CA; then, for each credential, a distinct P-256
# key generated in the stack's wrap token and exported only wrapped
# (tests/bench/bench_signd_keys.c → p11wrap_generate, two processes), a
# certificate for it signed by the bench CA, an RA account with that PIN
# hash, an order, the subscriber_key row and the credential, all loaded by
# COPY. The SAM checks a credential's validity dates and, on every
# signature, the certificate's key, not its chain (samproc.c), so the bench
# CA is enough; certificate.issuer_id names the stack's issuing CA. The COPY
# runs with session_replication_role = replica so that 100,000 certificate
# inserts do not queue LDAP publications and OCSP notifications (which
# would load the machine during the measurement); the rows are checked
# afterwards by joins.
#
# Measured (tests/bench/bench_signd.c, BENCH_CONC connections, credentials
# drawn uniformly at random):
#   cold, excluded  authorize 1 hash for each job first, then time only the
#                   signHash requests (one unwrap → sign → destroy →
#                   verify, SAD consumption and audit each)
#   cold, included  authorize (PIN: one Argon2id hash, tens of ms, in the
#                   SAM) + signHash, timed as a pair
#   bulk 10 / 100   authorize 10 or 100 hashes first, then time signHash
#                   (one unwrap for all of them); signatures per second
#   control         with all credentials loaded, cold (excluded) on the
#                   small subset and on the whole set, alternated twice:
#                   "no slowdown" judged on the same stack at the same time
#   hot 1 / 10      a second signd with sign.key_cache on, BENCH_HOT_KEYS
#                   credentials (each SAM keeps them unwrapped after its
#                   first signHash for each): signHash of 1 or 10 hashes,
#                   authorization excluded; signatures per second
# and the HSM (tests/bench/bench_p11wrap.c p256, its own token, 1 and 2
# processes at once): raw signing with a resident key, and the unwrap →
# sign → destroy → verify cycle. Goals (issue 6): cold ≥ 80 % of the cycle
# limit, bulk of 10 ≥ 70 % of the resident-key rate, no slowdown from the
# small to the large set, several signer processes.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/tests/bench/lib.sh"
. "$REPO/tests/free_port.sh"
BUILD=$(realpath "${1:-build}")
SMALL=${BENCH_SMALL:-10000}
LARGE=${BENCH_LARGE:-100000}
CONC=${BENCH_CONC:-8}
COLD=${BENCH_COLD:-2000}
COLD_INC=${BENCH_COLD_INC:-400}
BULK10=${BENCH_BULK10:-300}
BULK100=${BENCH_BULK100:-60}
SECS=${BENCH_SECS:-3}
CTRL=${BENCH_CTRL:-500}
HOT=${BENCH_HOT:-2000}
HOT10=${BENCH_HOT10:-400}
HOT_KEYS=${BENCH_HOT_KEYS:-8}
KEY_CACHE=${BENCH_KEY_CACHE:-1000}
FIRST=10000001		# row ids of the bench subscribers, far above the stack's
for b in bench_signd bench_signd_keys bench_p11wrap; do
	[ -x "$BUILD/tests/bench/$b" ] || { echo "bench_signd.sh: $BUILD/tests/bench/$b missing (make $BUILD/tests/bench/$b)" >&2; exit 1; }
done
dir=$(mktemp -d /tmp/pki-bench-signd.XXXXXX)
[ "$(id -u)" -ne 0 ] || { chown pki:pki "$dir"; chmod 0711 "$dir"; }
hotpid=
trap '[ -z "$hotpid" ] || kill "$hotpid" 2>/dev/null; bench_stack_down "$dir"' EXIT
echo "== bench_signd: load before: $(uptime | sed 's/.*load average/load average/')"
# The stack's signd keeps no unwrapped key (sign.key_cache 0), so that cold
# means cold; the hot measurements use a second signd with the cache on.
PKI_SIGN_KEY_CACHE=0 "$REPO/deploy/stack.sh" up --dir "$dir/stack" --ports auto --build "$BUILD" --ephemeral >"$dir/up.log" 2>&1 ||
	{ cat "$dir/up.log"; exit 1; }
set -a; . "$dir/stack/stack.env"; set +a
su_uri="host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=pki user=$PKI_STACK_USER"
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$su_uri" -c "$1"; }
now() { date +%s.%N; }
post() { curl -sS -X POST -H "Content-Type: ${3:-application/json}" ${4:+-H "Authorization: Bearer $4"} --data-binary "$2" "$1"; }
sms() { sed -n 's/.*PKI RA code \([0-9]\{6\}\) for.*/\1/p' "$(ls -t "$PKI_DIR/spool/ra-sms"/* | head -n1)"; }
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f %%", 100 * a / b }'; }
verdict() { awk -v a="$1" -v b="$2" -v g="$3" 'BEGIN { print (a >= g * b) ? "met" : "NOT met" }'; }

# The SAMs name themselves signd-sam (children of signd's supervisor).
sup=$(head -n1 "$PKI_DIR/run/sign.pid")
sams=$(pgrep -c -P "$sup" -x signd-sam || true)

# --- a signing service, a real subscriber with a PIN set through rad --------------
(umask 077; : >"$dir/token"; : >"$dir/pin"; : >"$dir/pinhash")
[ "$(id -u)" -ne 0 ] || chown pki:pki "$dir/token" "$dir/pin" "$dir/pinhash"
"$PKICTL" --config "$PKI_CONFIG" sigservice add --name bench >"$dir/svc"
cid=$(sed -n 's/^client_id\t//p' "$dir/svc")
sec=$(sed -n 's/^client_secret\t//p' "$dir/svc")
# A fresh access token (600 s) before each measurement: the run is longer.
token() {
	post "$PKI_SIGN_URL/oauth2/token" "grant_type=client_credentials&client_id=$cid&client_secret=$sec" \
		application/x-www-form-urlencoded | jq -r .access_token >"$dir/token"
}
rm -f "$dir/svc"
pin=$(od -An -N4 -tu4 /dev/urandom | awk '{ printf "%06d", $1 % 1000000 }')
printf '%s\n' "$pin" >"$dir/pin"
aid=$(post "$PKI_RA_URL/v1/register" '{"email":"bench@example.com","phone":"+6281200000099","password":"Bench-Horse7x"}' | jq -r .id)
vt=$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$PKI_DIR"/spool/ra-mail/*.eml | tr -d '\r' | head -n1)
post "$PKI_RA_URL/v1/verify-email" "{\"token\":\"$vt\"}" >/dev/null
tok=$(post "$PKI_RA_URL/v1/login" '{"email":"bench@example.com","password":"Bench-Horse7x"}' | jq -r .token)
oid=$(post "$PKI_RA_URL/v1/otp" '{"channel":"sms","purpose":"set_pin"}' application/json "$tok" | jq -r .otp_id)
post "$PKI_RA_URL/v1/pin" "{\"pin\":\"$pin\",\"factor\":{\"type\":\"otp\",\"otp_id\":$oid,\"code\":\"$(sms)\"}}" \
	application/json "$tok" >/dev/null
unset pin
q "SELECT pin_hash FROM ra_account WHERE id = $aid AND pin_hash IS NOT NULL" >"$dir/pinhash"
[ -s "$dir/pinhash" ] || { echo "bench_signd.sh: setting the PIN through rad failed" >&2; exit 1; }
issuer=$(q "SELECT id FROM ca_certificate WHERE name = 'issuing'")

# --- the bench CA (software, throw-away) --------------------------------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" 2>/dev/null
openssl req -new -x509 -key "$dir/ca.key" -subj "/C=ID/O=Bench/CN=signd bench CA (throw-away)" -days 30 \
	-out "$dir/ca.pem" 2>/dev/null
[ "$(id -u)" -ne 0 ] || chown pki:pki "$dir/ca.key" "$dir/ca.pem"

# load FROM COUNT: makes COUNT credentials with ids FROM.. (two processes),
# COPYs them in, checks them. Prints the key rate.
load() {
	local from=$1 count=$2 half t0 t1 t rows cols
	half=$((count / 2))
	mkdir -p "$dir/rows"
	t0=$(now)
	"$BUILD/tests/bench/bench_signd_keys" "$PKI_CONFIG" "$dir/ca.key" "$dir/ca.pem" "$dir/pinhash" "$issuer" \
		"$from" "$half" "$dir/rows" &
	"$BUILD/tests/bench/bench_signd_keys" "$PKI_CONFIG" "$dir/ca.key" "$dir/ca.pem" "$dir/pinhash" "$issuer" \
		$((from + half)) $((count - half)) "$dir/rows" || { wait; exit 1; }
	wait $! || exit 1
	t1=$(now)
	{
		echo "SET session_replication_role = replica;"
		for t in ra_account issuance_order certificate subscriber_key sign_credential; do
			case $t in
			ra_account) cols="id, email, phone, password_hash, email_verified, email_verified_at, phone_verified, phone_verified_at, pin_hash, pin_set_at" ;;
			issuance_order) cols="id, kind, profile, subject, key_type, status, certificate_id, requested_by, claimed_at, claimed_by, done_at" ;;
			certificate) cols="id, issuer_id, serial, subject, profile, not_before, not_after, sha256, der" ;;
			subscriber_key) cols="id, order_id, certificate_id, key_type, wrapped, spki, spki_sha256, wrapping_key_label" ;;
			sign_credential) cols="certificate_id, account_id" ;;
			esac
			for f in "$dir/rows/$t".*; do echo "\\copy $t ($cols) FROM '$f'"; done
		done
		# Each subscriber granted the bench service (schema/112), as at the RA.
		echo "INSERT INTO sign_grant (account_id, service_id) SELECT account_id, (SELECT id FROM sign_service
		    WHERE name = 'bench') FROM sign_credential WHERE certificate_id >= $from ON CONFLICT DO NOTHING;"
		echo "ANALYZE ra_account; ANALYZE issuance_order; ANALYZE certificate; ANALYZE subscriber_key; ANALYZE sign_credential; ANALYZE sign_grant;"
	} | psql -X -q -v ON_ERROR_STOP=1 -1 "$su_uri" >/dev/null
	rm -rf "$dir/rows"
	rows=$(q "SELECT count(*) FROM sign_credential sc JOIN ra_account a ON a.id = sc.account_id
		JOIN certificate c ON c.id = sc.certificate_id JOIN subscriber_key k ON k.certificate_id = c.id
		JOIN issuance_order o ON o.id = k.order_id AND o.certificate_id = c.id
		JOIN sign_grant g ON g.account_id = a.id AND g.service_id = (SELECT id FROM sign_service WHERE name = 'bench')
		WHERE sc.certificate_id >= $FIRST AND a.pin_hash IS NOT NULL AND length(k.wrapped) = 82")
	[ "$rows" -eq $((from - FIRST + count)) ] ||
		{ echo "bench_signd.sh: $rows credentials in the database, $((from - FIRST + count)) expected" >&2; exit 1; }
	awk -v n="$count" -v a="$t0" -v b="$t1" -v c="$(now)" 'BEGIN {
		printf "   %d credentials: %d keys/s (p11wrap_generate + certificate, 2 processes), COPY %.1f s\n",
		    n, n / (b - a), c - b }'
}

# measure COUNT: the four signd measurements over the first COUNT credentials.
declare -A R
measure() {
	local n=$1 out
	for m in "cold excluded 1 $COLD" "cold_inc included 1 $COLD_INC" "bulk10 excluded 10 $BULK10" \
	    "bulk100 excluded 100 $BULK100"; do
		set -- $m
		token
		out=$("$BUILD/tests/bench/bench_signd" "$PKI_SIGN_URL" "$dir/token" "$dir/pin" "$FIRST" "$n" \
			"$2" "$3" "$4" "$CONC") || { echo "$out"; tail -n 5 "$PKI_DIR/log/sign.log"; exit 1; }
		R[$1,$n]=$out
		echo "   $n: $out"
	done
	R[load,$n]=$(uptime | sed 's/.*load average: //')
}

# control: with all LARGE loaded, cold on the first SMALL credentials and on
# all LARGE, alternated twice, so that the other work on a shared machine
# weighs on both alike; the mean req/s of each in C[small], C[large].
declare -A C
control() {
	local r n out
	C[small]=0 C[large]=0
	for r in 1 2; do
		for n in "$SMALL" "$LARGE"; do
			token
			out=$("$BUILD/tests/bench/bench_signd" "$PKI_SIGN_URL" "$dir/token" "$dir/pin" "$FIRST" "$n" \
				excluded 1 "$CTRL" "$CONC") || { echo "$out"; exit 1; }
			echo "   control $r, first $n: $out"
			[ "$n" = "$SMALL" ] && C[small]=$(awk -v a="${C[small]}" -v b="$(kv "$out" req_s)" 'BEGIN { print a + b / 2 }')
			[ "$n" = "$LARGE" ] && C[large]=$(awk -v a="${C[large]}" -v b="$(kv "$out" req_s)" 'BEGIN { print a + b / 2 }')
		done
	done
}

echo "== credentials: $SMALL"
load "$FIRST" "$SMALL"
echo "== signd with $SMALL credentials (load: $(uptime | sed 's/.*load average: //'))"
measure "$SMALL"
echo "== credentials: $LARGE"
load $((FIRST + SMALL)) $((LARGE - SMALL))
echo "== signd with $LARGE credentials (load: $(uptime | sed 's/.*load average: //'))"
measure "$LARGE"
echo "== control: cold on $SMALL vs $LARGE credentials, alternated (load: $(uptime | sed 's/.*load average: //'))"
control

# hot: a second signd (same database, same wrap token) keeping unwrapped keys.
hot() {
	local port url pid out m
	port=$(free_port)
	url=http://127.0.0.1:$port/csc/v2
	PKI_SIGN_PORT=$port PKI_SIGN_KEY_CACHE=$KEY_CACHE "$BUILD/signd" --config "$PKI_CONFIG" >"$dir/signd-hot.log" 2>&1 &
	pid=$!
	hotpid=$pid
	for _ in $(seq 100); do
		curl -s -o /dev/null -X POST "$url/info" -H 'Content-Type: application/json' --data '{}' && break
		kill -0 "$pid" 2>/dev/null || { cat "$dir/signd-hot.log"; exit 1; }
		sleep 0.1
	done
	for m in "hot excluded 1 $HOT" "hot10 excluded 10 $HOT10"; do
		set -- $m
		token
		out=$("$BUILD/tests/bench/bench_signd" "$url" "$dir/token" "$dir/pin" "$FIRST" "$HOT_KEYS" \
			"$2" "$3" "$4" "$CONC") || { echo "$out"; tail -n 5 "$dir/signd-hot.log"; kill "$pid"; exit 1; }
		R[$1]=$out
		echo "   $HOT_KEYS credentials: $out"
	done
	kill -TERM "$pid"
	wait "$pid" || true
	hotpid=
	R[hotcache]=$(grep 'unwrapped-key cache' "$dir/signd-hot.log" | sed 's/.*cache: //' | paste -sd ';' -)
	echo "   SAMs at exit: ${R[hotcache]}"
}
echo "== hot keys: a second signd with sign.key_cache $KEY_CACHE, $HOT_KEYS credentials (load: $(uptime | sed 's/.*load average: //'))"
hot

echo "== HSM limits (bench_p11wrap p256, own token, $SECS s per cell; signd idle)"
mkdir -p "$dir/h1" "$dir/h2a" "$dir/h2b"
h1=$("$BUILD/tests/bench/bench_p11wrap" "$dir/h1" "$SECS" p256)
"$BUILD/tests/bench/bench_p11wrap" "$dir/h2a" "$SECS" p256 >"$dir/h2a.out" &
h2b=$("$BUILD/tests/bench/bench_p11wrap" "$dir/h2b" "$SECS" p256)
wait $!
h2a=$(cat "$dir/h2a.out")
echo "   1 process:   $h1"
echo "   2 processes: $h2a | $h2b"
res1=$(kv "$h1" resident_s); cyc1=$(kv "$h1" cycle_s)
res2=$(awk -v a="$(kv "$h2a" resident_s)" -v b="$(kv "$h2b" resident_s)" 'BEGIN { print a + b }')
cyc2=$(awk -v a="$(kv "$h2a" cycle_s)" -v b="$(kv "$h2b" cycle_s)" 'BEGIN { print a + b }')
kept1=$(kv "$h1" kept_s)
kept2=$(awk -v a="$(kv "$h2a" kept_s)" -v b="$(kv "$h2b" kept_s)" 'BEGIN { print a + b }')
loadend=$(uptime | sed 's/.*load average: //')

S=$SMALL L=$LARGE
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; }
echo
echo "signd (sign.threads 2, $sams SAM process(es)), $CONC client connections, P-256, SHA-256; $(nproc) vCPUs"
echo "load average during the runs: $S: ${R[load,$S]}; $L: ${R[load,$L]}; at the end: $loadend"
echo
row "" "$S credentials" "$L credentials"
row "---" "---:" "---:"
row "cold: signHash req/s (1 hash; authorization excluded)" "$(kv "${R[cold,$S]}" req_s)" "$(kv "${R[cold,$L]}" req_s)"
row "cold: signHash p50 / p99 ms" "$(kv "${R[cold,$S]}" p50_ms) / $(kv "${R[cold,$S]}" p99_ms)" \
	"$(kv "${R[cold,$L]}" p50_ms) / $(kv "${R[cold,$L]}" p99_ms)"
row "cold: authorize + signHash pairs/s (authorization included: PIN = one Argon2id in the SAM)" \
	"$(kv "${R[cold_inc,$S]}" req_s)" "$(kv "${R[cold_inc,$L]}" req_s)"
row "cold: authorize + signHash p50 / p99 ms (included)" \
	"$(kv "${R[cold_inc,$S]}" p50_ms) / $(kv "${R[cold_inc,$S]}" p99_ms)" \
	"$(kv "${R[cold_inc,$L]}" p50_ms) / $(kv "${R[cold_inc,$L]}" p99_ms)"
row "authorize alone (PIN, 1 hash) p50 / p99 ms" \
	"$(kv "${R[cold,$S]}" auth_p50_ms) / $(kv "${R[cold,$S]}" auth_p99_ms)" \
	"$(kv "${R[cold,$L]}" auth_p50_ms) / $(kv "${R[cold,$L]}" auth_p99_ms)"
row "bulk 10: signatures/s (signHash of 10; authorization excluded)" "$(kv "${R[bulk10,$S]}" sig_s)" "$(kv "${R[bulk10,$L]}" sig_s)"
row "bulk 10: signHash p50 / p99 ms" "$(kv "${R[bulk10,$S]}" p50_ms) / $(kv "${R[bulk10,$S]}" p99_ms)" \
	"$(kv "${R[bulk10,$L]}" p50_ms) / $(kv "${R[bulk10,$L]}" p99_ms)"
row "bulk 100: signatures/s (signHash of 100; authorization excluded)" "$(kv "${R[bulk100,$S]}" sig_s)" "$(kv "${R[bulk100,$L]}" sig_s)"
row "bulk 100: signHash p50 / p99 ms" "$(kv "${R[bulk100,$S]}" p50_ms) / $(kv "${R[bulk100,$S]}" p99_ms)" \
	"$(kv "${R[bulk100,$L]}" p50_ms) / $(kv "${R[bulk100,$L]}" p99_ms)"
echo
row "hot keys ($HOT_KEYS credentials, sign.key_cache $KEY_CACHE)" "signatures/s" "p50 / p99 ms"
row "---" "---:" "---:"
row "hot: signHash of 1 hash (authorization excluded)" "$(kv "${R[hot]}" sig_s)" "$(kv "${R[hot]}" p50_ms) / $(kv "${R[hot]}" p99_ms)"
row "hot: signHash of 10 hashes" "$(kv "${R[hot10]}" sig_s)" "$(kv "${R[hot10]}" p50_ms) / $(kv "${R[hot10]}" p99_ms)"
echo "SAMs of the hot signd at exit: ${R[hotcache]}"
echo
row "HSM (SoftHSM2, P-256)" "1 process" "2 processes"
row "---" "---:" "---:"
row "sign/s, resident key" "$res1" "$res2"
row "sign/s, unwrap → sign → destroy → verify" "$cyc1" "$cyc2"
row "sign/s, key kept unwrapped (p11wrap cache)" "$kept1" "$kept2"
row "resident memory per kept key, KiB" "$(kv "$h1" kept_kib)" ""
echo
cs=$(kv "${R[cold,$S]}" req_s); cl=$(kv "${R[cold,$L]}" req_s)
bs=$(kv "${R[bulk10,$S]}" sig_s); bl=$(kv "${R[bulk10,$L]}" sig_s)
echo "Goals (against the 2-process HSM figures: signd runs $sams SAMs; 1-process figures in brackets):"
echo "- cold ≥ 80 % of the cycle limit: $S: $(ratio "$cs" "$cyc2") ($(ratio "$cs" "$cyc1")), $L: $(ratio "$cl" "$cyc2") ($(ratio "$cl" "$cyc1")) — $(verdict "$cl" "$cyc2" 0.8)"
echo "- bulk of 10 ≥ 70 % of the resident-key rate: $S: $(ratio "$bs" "$res2") ($(ratio "$bs" "$res1")), $L: $(ratio "$bl" "$res2") ($(ratio "$bl" "$res1")) — $(verdict "$bl" "$res2" 0.7)"
hs=$(kv "${R[hot10]}" sig_s); h1s=$(kv "${R[hot]}" sig_s)
echo "- a hot key in a bounded cache of unwrapped handles ≥ 70 % of the resident-key rate: bulk 10 $(ratio "$hs" "$res2") ($(ratio "$hs" "$res1")), 1 hash $(ratio "$h1s" "$res2") ($(ratio "$h1s" "$res1")) — $(verdict "$hs" "$res2" 0.7)"
echo "- no slowdown $S → $L (taken as ≥ 90 %): successive runs: cold $(ratio "$cl" "$cs"), bulk 10 $(ratio "$bl" "$bs");" \
	"alternated control, cold req/s on the first $S vs all $L: ${C[small]} vs ${C[large]} = $(ratio "${C[large]}" "${C[small]}") — $(verdict "${C[large]}" "${C[small]}" 0.9)"
echo "- several signer processes: $sams SAM processes — $( [ "${sams:-0}" -ge 2 ] && echo met || echo "NOT met")"
echo "- CPU seconds used by each signd process (supervisor, worker, SAMs; both SAMs busy = both cores used):" \
	"$(ps -o comm=,times= -p "$(pgrep -d, -f "signd --config $PKI_CONFIG")" | tr -s ' \n' ' ')"
echo "Authorization included means one Argon2id PIN hash per authorization (policy/ra.conf argon2_*: ~tens of ms of CPU each)."
