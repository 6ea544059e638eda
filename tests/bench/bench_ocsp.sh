#!/usr/bin/env bash
# OCSP serving, side by side in one run on loopback with wrk:
#
#	tests/bench/bench_ocsp.sh BUILD [seconds]
#
#  - ocspd from its pre-signed cache (GET and POST) vs nginx serving the same
#    response bytes as a static file (the HTTP ceiling here) and vs
#    `cfssl ocspserve` serving the same pre-signed set (POST: its GET answers
#    400, HSM-NOTES.md);
#  - ocspd live-signed (a nonce in every request) vs the raw P-256 signing
#    rate of SoftHSM2 measured now (bench_signer), and vs `openssl ocsp`
#    answering from an index file (software P-256 key; restarted before its
#    run, and wrk's connect probe disabled: it spins after a bare connect).
#
# A throw-away stack (deploy/stack.sh) gives ocspd its database and token;
# PKI_BENCH_OCSP_CERTS certificates (status rows, 10% revoked) are added.
# PKI_BENCH_OCSP_PROCS=N runs N ocspd processes sharing the port (SO_REUSEPORT).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/tests/bench/lib.sh"
BUILD=$(realpath -m -- "${1:-$REPO/build}")
SECS=${2:-5}
NCERTS=${PKI_BENCH_OCSP_CERTS:-10000}
CONNS=${PKI_BENCH_OCSP_CONNS:-32}
PROCS=${PKI_BENCH_OCSP_PROCS:-1}
THREADS=2

dir=$(mktemp -d /tmp/pki-bench-ocsp.XXXXXX)
chmod 755 "$dir"
if [ "$(id -u)" -eq 0 ]; then chown pki:pki "$dir"; chmod 0711 "$dir"; fi
pids=()
cleanup() {
	set +e
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	bench_stack_down "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
die() { echo "bench_ocsp: $*" >&2; exit 1; }
. "$REPO/tests/free_port.sh"
wait_port() { # wait_port PORT NAME
	local _
	for _ in $(seq 100); do
		ss -ltnH "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	die "$2 did not listen on $1"
}

echo "== bench_ocsp: stack in $dir/stack, $NCERTS certificates, $PROCS ocspd process(es), wrk -t$THREADS -c$CONNS -d${SECS}s"
# ocspd reads PKI_OCSP_* overrides: the stack's instance shares its port.
[ "$PROCS" -le 1 ] || export PKI_OCSP_REUSE_PORT=true
# The nonce runs measure the signing path, not its bound (ocsp/README.md
# "On-demand signing"): wrk is one client address.
export PKI_OCSP_LIVE_PER_SECOND=0 PKI_OCSP_LIVE_PER_CLIENT_PER_SECOND=0
"$REPO/deploy/stack.sh" up --dir "$dir/stack" --ports auto --build "$BUILD" --ephemeral \
	>"$dir/stack-up.log" 2>&1 || { tail -20 "$dir/stack-up.log"; die "stack up failed"; }
set -a
. "$dir/stack/stack.env"
set +a
pki=$PKI_DIR/pki
sq() { psql -X -q -At -v ON_ERROR_STOP=1 "host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=pki user=$PKI_STACK_USER" -c "$1"; }

# --- the certificate set (status rows: ocspd reads issuer, serial, revocation) ---
iss_id=$(sq "SELECT id FROM ca_certificate WHERE name = 'issuing'")
sq "INSERT INTO certificate (issuer_id, serial, subject, profile, not_before, not_after, sha256, der,
	revoked_at, revocation_reason)
    SELECT $iss_id, upper('1' || substr(md5(g::text || random()::text), 2)), 'CN=bench ' || g,
	'subscriber', now(), now() + interval '90 days', md5(g::text), '\\x00'::bytea,
	CASE WHEN g % 10 = 0 THEN now() END, CASE WHEN g % 10 = 0 THEN 1 END
    FROM generate_series(1, $NCERTS) g"
sq "SELECT serial FROM certificate WHERE issuer_id = $iss_id AND profile = 'subscriber' AND subject LIKE 'CN=bench %'" >"$dir/serials"

# Several ocspd processes on one port when asked: the stack's, plus PROCS-1.
for ((i = 1; i < PROCS; i++)); do
	"$BUILD/ocspd" --config "$PKI_CONFIG" >"$dir/ocspd$i.log" 2>&1 &
	pids+=($!)
done
# Everything pre-signed?
for _ in $(seq 600); do
	curl -s "$PKI_OCSP_URL/health" >"$dir/health" || true
	if grep -q "\"unsigned\":0" "$dir/health" &&
	    [ "$(sed -n 's/.*"certificates":\([0-9]*\).*/\1/p' "$dir/health")" -ge "$NCERTS" ]; then
		break
	fi
	sleep 0.1
done
grep -q "\"unsigned\":0" "$dir/health" || die "ocspd did not pre-sign the set: $(cat "$dir/health")"

# --- requests (python3: patch the serial of one template request) ---------------
first=$(head -1 "$dir/serials")
openssl ocsp -issuer "$pki/issuing.pem" -serial "0x$first" -no_nonce -reqout "$dir/req.der" >/dev/null 2>&1
openssl ocsp -issuer "$pki/issuing.pem" -serial "0x$first" -reqout "$dir/req-nonce.der" >/dev/null 2>&1
python3 - "$dir" "$PKI_OCSP_URL" <<'EOF'
import base64, sys, urllib.parse
d, url = sys.argv[1], sys.argv[2]
tpl = open(d + "/req.der", "rb").read()
serials = [l.strip() for l in open(d + "/serials") if l.strip()]
first = bytes.fromhex(serials[0])
at = tpl.rfind(first)
assert at > 0 and len(first) == 16
with open(d + "/curl.cfg", "w") as f:
    for i, s in enumerate(serials):
        der = tpl[:at] + bytes.fromhex(s) + tpl[at + 16:]
        path = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
        f.write('url = "%s/%s"\noutput = "%s/resp/%d.der"\n' % (url, path, d, i))
path = urllib.parse.quote(base64.b64encode(tpl).decode(), safe="")
open(d + "/get-path", "w").write("/" + path)
EOF
mkdir -p "$dir/resp" "$dir/www"
curl -s -K "$dir/curl.cfg" || die "fetching the pre-signed responses failed"
python3 - "$dir" <<'EOF'
import base64, glob, sys
d = sys.argv[1]
with open(d + "/cfssl.responses", "w") as f:
    for p in sorted(glob.glob(d + "/resp/*.der")):
        f.write(base64.b64encode(open(p, "rb").read()).decode() + "\n")
EOF
getpath=$(cat "$dir/get-path")
curl -s -o "$dir/www/resp.der" "$PKI_OCSP_URL$getpath"
openssl ocsp -respin "$dir/www/resp.der" -noverify -resp_text 2>/dev/null | grep -q 'Cert Status' ||
	die "no pre-signed response to serve"

# --- wrk ---------------------------------------------------------------------------------
cat >"$dir/post.lua" <<EOF
local f = io.open("$dir/req.der", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/ocsp-request"
-- No connect probe (openssl ocsp spins after a bare connect: HSM-NOTES.md).
function wrk.resolve(host, service) wrk.addrs = wrk.lookup(host, service) end
EOF
sed "s#req.der#req-nonce.der#" "$dir/post.lua" >"$dir/post-nonce.lua"
cat >"$dir/get.lua" <<'EOF'
function wrk.resolve(host, service) wrk.addrs = wrk.lookup(host, service) end
EOF

declare -A RPS P99
# WRK: how wrk runs (the isolated pass pins it to a CPU of its own).
WRK=(wrk -t"$THREADS")
run() { # run NAME URL SCRIPT
	local out
	out=$("${WRK[@]}" -c"$CONNS" -d"${SECS}s" --latency -s "$3" "$2" 2>&1) || { echo "$out"; die "wrk $1"; }
	echo "$out" >"$dir/wrk-$1.txt"
	if grep -q 'Non-2xx' <<<"$out"; then echo "$out"; die "$1: non-2xx answers"; fi
	RPS[$1]=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
	P99[$1]=$(echo "$out" | awk '$1 == "99%" { print $2 }')
	printf '  %-28s %10.0f req/s  p99 %s\n' "$1" "${RPS[$1]}" "${P99[$1]}"
}

# nginx: the same bytes as a static file.
nport=$(free_port)
cat >"$dir/nginx.conf" <<EOF
worker_processes $THREADS;
pid $dir/nginx.pid;
error_log $dir/nginx.err;
events { worker_connections 4096; }
http {
	access_log off;
	server {
		listen 127.0.0.1:$nport;
		root $dir/www;
		location / { default_type application/ocsp-response; }
	}
}
EOF
nginx -c "$dir/nginx.conf" -p "$dir" -g 'daemon off;' &
pids+=($!)
wait_port "$nport" nginx

# cfssl ocspserve: the same pre-signed set.
cport=$(free_port)
cfssl ocspserve -address 127.0.0.1 -port "$cport" -responses "$dir/cfssl.responses" -loglevel 5 \
	>"$dir/cfssl.log" 2>&1 &
pids+=($!)
wait_port "$cport" cfssl

echo "-- from the pre-signed cache"
run nginx-static-GET "http://127.0.0.1:$nport/resp.der" "$dir/get.lua"
run ocspd-GET "$PKI_OCSP_URL$getpath" "$dir/get.lua"
run ocspd-POST "$PKI_OCSP_URL/" "$dir/post.lua"
run cfssl-POST "http://127.0.0.1:$cport/" "$dir/post.lua"
echo "-- signed per request"
run ocspd-POST-nonce "$PKI_OCSP_URL/" "$dir/post-nonce.lua"

# The same three servers isolated from the load generator: each on CPU 0
# alone, in one process and one thread or worker (ocspd: a process of its
# own with one event loop, ocsp.threads 1; nginx one worker; cfssl
# GOMAXPROCS 1), wrk with one thread on CPU 1. On two vCPUs the shared runs
# above put wrk's threads and the server's on the same cores, and a p99
# then mostly measures how long one waits for a CPU the other holds
# (ocsp/README.md "Measured"); here each side has a core, as a responder
# has its own host in production.
iso=0
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	iso=1
	iport=$(free_port)
	PKI_OCSP_PORT=$iport PKI_OCSP_THREADS=1 PKI_OCSP_REUSE_PORT=false \
		taskset -c 0 "$BUILD/ocspd" --config "$PKI_CONFIG" >"$dir/ocspd-iso.log" 2>&1 &
	pids+=($!)
	wait_port "$iport" "ocspd (isolated)"
	for _ in $(seq 600); do
		curl -s "http://127.0.0.1:$iport/health" >"$dir/health-iso" || true
		grep -q '"unsigned":0' "$dir/health-iso" &&
		    [ "$(sed -n 's/.*"certificates":\([0-9]*\).*/\1/p' "$dir/health-iso")" -ge "$NCERTS" ] && break
		sleep 0.1
	done
	grep -q '"unsigned":0' "$dir/health-iso" || die "the isolated ocspd did not pre-sign the set"
	inport=$(free_port)
	sed -e "s/^worker_processes .*/worker_processes 1;/" -e "s/127.0.0.1:$nport/127.0.0.1:$inport/" \
		-e "s|^pid .*|pid $dir/nginx-iso.pid;|" "$dir/nginx.conf" >"$dir/nginx-iso.conf"
	taskset -c 0 nginx -c "$dir/nginx-iso.conf" -p "$dir" -g 'daemon off;' &
	pids+=($!)
	wait_port "$inport" "nginx (isolated)"
	icport=$(free_port)
	GOMAXPROCS=1 taskset -c 0 cfssl ocspserve -address 127.0.0.1 -port "$icport" \
		-responses "$dir/cfssl.responses" -loglevel 5 >"$dir/cfssl-iso.log" 2>&1 &
	pids+=($!)
	wait_port "$icport" "cfssl (isolated)"
	WRK=(taskset -c 1 wrk -t1)
	echo "-- isolated: each server on CPU 0 alone (one thread or worker), wrk -t1 on CPU 1"
	run nginx-static-GET-iso "http://127.0.0.1:$inport/resp.der" "$dir/get.lua"
	run ocspd-GET-iso "http://127.0.0.1:$iport$getpath" "$dir/get.lua"
	run ocspd-POST-iso "http://127.0.0.1:$iport/" "$dir/post.lua"
	run cfssl-POST-iso "http://127.0.0.1:$icport/" "$dir/post.lua"
	WRK=(wrk -t"$THREADS")
fi

# openssl ocsp from an index file, with a software P-256 responder key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ossl.key" \
	-subj "/CN=bench openssl responder" -days 2 -out "$dir/ossl.pem" 2>/dev/null
exp=$(date -u -d '+90 days' +%y%m%d%H%M%SZ)
awk -v e="$exp" '{ printf "V\t%s\t\t%s\tunknown\t/CN=bench %d\n", e, $1, NR }' "$dir/serials" >"$dir/index.txt"
oport=$(free_port)
openssl ocsp -index "$dir/index.txt" -port "$oport" -rsigner "$dir/ossl.pem" -rkey "$dir/ossl.key" \
	-CA "$pki/issuing.pem" -rmd sha256 -ndays 4 -ignore_err >"$dir/openssl-ocsp.log" 2>&1 &
opid=$!
pids+=($opid)
wait_port "$oport" "openssl ocsp"
run openssl-ocsp-index "http://127.0.0.1:$oport/" "$dir/post-nonce.lua"
kill "$opid" 2>/dev/null || true

# The HSM's raw rate for the responder key itself, now: one process, and as
# many processes as cores (SoftHSM2 scales with processes).
val() { sed -n "s/^$1 *= *//p" "$PKI_CONFIG" | head -n1; }
# Measured as ocspd's signer signs (through a session copy of the key,
# hsm.session_keys: the goal's denominator) and with the token object itself.
raw_key() { "$BUILD/tests/bench/bench_p11_key" "$PKI_HSM_MODULE" "$(val ocsp_token)" \
	"$(val ocsp_pin_file)" ocsp-issuing-1 "$SECS" ${1:-}; }
raw=$(raw_key session)
raw_token=$(raw_key)
rawpids=()
for i in $(seq "$(nproc)"); do raw_key session >"$dir/raw.$i" & rawpids+=($!); done
wait "${rawpids[@]}"
raw_all=$(cat "$dir"/raw.* | awk '{s += $1} END {printf "%.0f", s}')
printf '  %-28s %10.0f sign/s (%d processes: %.0f)\n' "softhsm2-raw-P256-session" "$raw" "$(nproc)" "$raw_all"
printf '  %-28s %10.0f sign/s\n' "softhsm2-raw-P256-token" "$raw_token"

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f %%", 100 * a / b }'; }
ms() { # wrk latency "1.23ms" / "850.00us" / "1.2s" -> ms
	awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
		else { sub(/s$/, "", v); print v * 1000 } }'
}
verdict() { if awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; then echo met; else echo "NOT met"; fi; }
p99ms=$(ms "${P99[ocspd-GET]}")
p99post=$(ms "${P99[ocspd-POST]}")
echo
echo "| goal | measured | verdict |"
echo "|---|---|---|"
echo "| ocspd GET ≥ 70 % of nginx static | $(pct "${RPS[ocspd-GET]}" "${RPS[nginx-static-GET]}") | $(verdict "$(awk -v a="${RPS[ocspd-GET]}" -v b="${RPS[nginx-static-GET]}" 'BEGIN{print a/b}')" 0.7) |"
echo "| ocspd POST ≥ 2× cfssl ocspserve POST | $(awk -v a="${RPS[ocspd-POST]}" -v b="${RPS[cfssl-POST]}" 'BEGIN{printf "%.1f×", a/b}') | $(verdict "$(awk -v a="${RPS[ocspd-POST]}" -v b="${RPS[cfssl-POST]}" 'BEGIN{print a/b}')" 2) |"
echo "| ocspd p99 < 2 ms (GET / POST) | $p99ms / $p99post ms | $(verdict "$(awk -v a="$p99ms" -v b="$p99post" 'BEGIN{print (a > b ? a : b) < 2}')" 1) |"
echo "| live (nonce) ≥ 80 % of raw SoftHSM2 P-256, 1 process | $(pct "${RPS[ocspd-POST-nonce]}" "$raw") | $(verdict "$(awk -v a="${RPS[ocspd-POST-nonce]}" -v b="$raw" 'BEGIN{print a/b}')" 0.8) |"
echo "| live (nonce) vs raw, all cores | $(pct "${RPS[ocspd-POST-nonce]}" "$raw_all") | – |"
echo "| live (nonce) vs raw with the token object (no session copy), 1 process | $(pct "${RPS[ocspd-POST-nonce]}" "$raw_token") | – |"
echo "| live (nonce) vs openssl ocsp -index | $(awk -v a="${RPS[ocspd-POST-nonce]}" -v b="${RPS[openssl-ocsp-index]}" 'BEGIN{printf "%.1f×", a/b}') | – |"
if [ "$iso" = 1 ]; then
	ip99=$(ms "${P99[ocspd-GET-iso]}")
	ip99post=$(ms "${P99[ocspd-POST-iso]}")
	echo "| isolated: ocspd GET ≥ 70 % of nginx static | $(pct "${RPS[ocspd-GET-iso]}" "${RPS[nginx-static-GET-iso]}") | $(verdict "$(awk -v a="${RPS[ocspd-GET-iso]}" -v b="${RPS[nginx-static-GET-iso]}" 'BEGIN{print a/b}')" 0.7) |"
	echo "| isolated: ocspd POST ≥ 2× cfssl ocspserve POST | $(awk -v a="${RPS[ocspd-POST-iso]}" -v b="${RPS[cfssl-POST-iso]}" 'BEGIN{printf "%.1f×", a/b}') | $(verdict "$(awk -v a="${RPS[ocspd-POST-iso]}" -v b="${RPS[cfssl-POST-iso]}" 'BEGIN{print a/b}')" 2) |"
	echo "| isolated: ocspd p99 < 2 ms (GET / POST; nginx $(ms "${P99[nginx-static-GET-iso]}") ms) | $ip99 / $ip99post ms | $(verdict "$(awk -v a="$ip99" -v b="$ip99post" 'BEGIN{print (a > b ? a : b) < 2}')" 1) |"
fi
