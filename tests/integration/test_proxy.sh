#!/usr/bin/env bash
# The daemons behind nginx, as deploy/nginx/pki.conf.in puts them in
# production: the template rendered against this stack (nginx -t accepts
# it), TLS for the RA and CSC (curl trusts our test certificate only), and
# plain HTTP for OCSP, CRL and TSA. rad trusts the proxy
# (ra.trusted_proxies): the audit trail and the per-address log-in limit
# see each client's own address (curl from 127.0.0.24x), never the proxy's,
# and never what a client wrote in its own X-Forwarded-For; a client that
# reaches rad directly cannot choose its address either. OCSP GETs are
# cached by nginx (MISS, then HIT) and still verify with openssl; openssl
# ocsp, openssl ts and openssl crl accept what comes through the proxy.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
command -v nginx >/dev/null || fail "nginx missing (deploy/packages.txt; make deps)"
tmp=$(test_tmpdir)
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
port_of() { sed -E 's|^https?://[^:/]+:([0-9]+).*|\1|' <<<"$1"; }

# --- rad trusting the proxy, then nginx --------------------------------------------------
start_rad rad-proxied PKI_RA_TRUSTED_PROXIES=127.0.0.1 PKI_RATE_LOGIN_PER_MINUTE=3
ra_port=$(port_of "$rad_url")
https_port=$(free_port)
http_port=$(free_port)
ngx=$tmp/nginx
mkdir -p "$ngx/cache" "$ngx/tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=ra.test \
    -addext "subjectAltName=DNS:ra.test,DNS:sign.test" -keyout "$ngx/tls.key" -out "$ngx/tls.pem" 2>/dev/null ||
	fail "test TLS certificate"
sed -e "s|@CACHE_DIR@|$ngx/cache|" -e "s|@RA_PORT@|$ra_port|" \
    -e "s|@SIGN_PORT@|$(port_of "$PKI_SIGN_URL")|" -e "s|@OCSP_PORT@|$(port_of "$PKI_OCSP_URL")|" \
    -e "s|@CRL_PORT@|$(port_of "$PKI_CRL_URL")|" -e "s|@TSA_PORT@|$(port_of "$PKI_TSA_URL")|" \
    -e "s|@LISTEN@|127.0.0.1|" -e "s|@HTTPS_PORT@|$https_port|" -e "s|@HTTP_PORT@|$http_port|" \
    -e "s|@RA_HOST@|ra.test|" -e "s|@SIGN_HOST@|sign.test|" -e "s|@OCSP_HOST@|ocsp.test|" \
    -e "s|@CRL_HOST@|crl.test|" -e "s|@TSA_HOST@|tsa.test|" \
    -e "s|@TLS_CERT@|$ngx/tls.pem|" -e "s|@TLS_KEY@|$ngx/tls.key|" \
    "$REPO/deploy/nginx/pki.conf.in" >"$ngx/pki.conf"
! grep -v "^#" "$ngx/pki.conf" | grep -n "@[A-Z_]*@" || fail "a placeholder of deploy/nginx/pki.conf.in is not filled in"
user=
if [ "$(id -u)" -eq 0 ]; then
	# Its workers need the cache and temporary directories under $tmp,
	# which only the stack user may traverse.
	user="user pki pki;"
	chown -R pki:pki "$ngx/cache" "$ngx/tmp"
fi
cat >"$ngx/nginx.conf" <<CONF
$user
worker_processes 1;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
daemon off;
events { worker_connections 256; }
http {
	access_log $ngx/access.log;
	client_body_temp_path $ngx/tmp/body;
	proxy_temp_path $ngx/tmp/proxy;
	fastcgi_temp_path $ngx/tmp/fastcgi;
	uwsgi_temp_path $ngx/tmp/uwsgi;
	scgi_temp_path $ngx/tmp/scgi;
	include $ngx/pki.conf;
}
CONF
nginx -t -q -e "$ngx/error.log" -c "$ngx/nginx.conf" -p "$ngx" 2>"$ngx/t.log" || fail "nginx -t: $(cat "$ngx/t.log")"
# As an operator installs it: in Debian's own nginx.conf (conf.d/), whose
# http{} sets ssl_protocols and ssl_prefer_server_ciphers of its own.
if [ -r /etc/nginx/nginx.conf ]; then
	# Its modules-enabled/ (nginx-light's echo module, say) loads them by a
	# path relative to the prefix: Debian's prefix has modules/ (a link).
	[ ! -d /usr/share/nginx/modules ] || ln -sfn /usr/share/nginx/modules "$ngx/modules"
	sed -e "s|/etc/nginx/conf.d/\*.conf|$ngx/pki.conf|" -e '\|/etc/nginx/sites-enabled/|d' \
	    -e "s|/var/log/nginx/|$ngx/|" -e "s|^pid .*|pid $ngx/debian.pid;|" -e '/^user /d' \
	    /etc/nginx/nginx.conf >"$ngx/debian.conf"
	nginx -t -e "$ngx/error.log" -c "$ngx/debian.conf" -p "$ngx" 2>"$ngx/t.log" ||
		fail "the template in Debian's nginx.conf: $(cat "$ngx/t.log")"
	! grep -i 'warn\|emerg' "$ngx/t.log" || fail "nginx -t warns about the template in Debian's nginx.conf"
fi
nginx -e "$ngx/error.log" -c "$ngx/nginx.conf" -p "$ngx" >"$tmp/nginx.log" 2>&1 &
ngx_pid=$!
at_exit "kill -QUIT $ngx_pid 2>/dev/null; wait $ngx_pid 2>/dev/null"
wait_port "$https_port" "$ngx_pid" nginx
wait_port "$http_port" "$ngx_pid" nginx
note "nginx from deploy/nginx/pki.conf.in: https $https_port (ra.test, sign.test), http $http_port (ocsp.test, crl.test, tsa.test)"

# tls PATH [CURL-ARGS...]: https://ra.test through nginx, trusting our certificate only.
tls() {
	local p=$1
	shift
	curl -sS --cacert "$ngx/tls.pem" --resolve "ra.test:$https_port:127.0.0.1" \
	    --resolve "sign.test:$https_port:127.0.0.1" -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' "$@" "https://ra.test:$https_port$p"
}
[ "$(tls /health)" = 200 ] && jq -e '.status == "ok"' "$tmp/out" >/dev/null || fail "RA /health through TLS: $(cat "$tmp/out")"
grep -qi '^strict-transport-security: max-age=' "$tmp/hdr" || fail "no HSTS on the RA"
curl -sS -o /dev/null "https://ra.test:$https_port/health" --resolve "ra.test:$https_port:127.0.0.1" 2>/dev/null &&
	fail "curl trusted the proxy's certificate without --cacert"
code=$(curl -sS --cacert "$ngx/tls.pem" --resolve "sign.test:$https_port:127.0.0.1" -o "$tmp/out" -w '%{http_code}' \
    -X POST -H 'Content-Type: application/json' --data '{}' "https://sign.test:$https_port/csc/v2/info")
[ "$code" = 200 ] && jq -e '.specs' "$tmp/out" >/dev/null || fail "CSC info through TLS: $code $(cat "$tmp/out")"
# Body limits: 16 KiB on the RA but for the KYC route, whose large body
# reaches rad (which wants a session first: 401, not nginx's 413).
head -c 20000 /dev/zero | tr '\0' 'x' >"$tmp/big"
code=$(tls /v1/login -X POST -H 'Content-Type: application/json' --data-binary "@$tmp/big")
[ "$code" = 413 ] || fail "a 20 KB log-in through nginx: $code, not 413"
code=$(tls /v1/applications -X POST -H 'Content-Type: application/json' --data-binary "@$tmp/big")
[ "$code" = 401 ] || fail "a 20 KB KYC body without a session through nginx: $code, not rad's 401"
note "nginx: a 20 KB log-in body 413, a 20 KB KYC body reaches rad (401 without a session)"
# Plain HTTP: the RA's host is sent to https, an unknown host gets nothing.
[ "$(curl -sS -H 'Host: ra.test' -o /dev/null -D "$tmp/rhdr" -w '%{http_code}' "http://127.0.0.1:$http_port/v1/login")" = 301 ] &&
	grep -qi "^location: https://ra.test:$https_port/v1/login" "$tmp/rhdr" || fail "plain HTTP to the RA host is not sent to https: $(cat "$tmp/rhdr")"
note "TLS: RA /health and CSC info through nginx, HSTS, our certificate only; plain HTTP to the RA redirected"

# --- the client's address: the audit trail and the rate limit -----------------------------
# register ADDR EMAIL [XFF] [DIRECT]: a registration from ADDR; prints the client audited.
register() {
	local args=(-sS --interface "$1" -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/json'
	    --data "{\"email\":\"$2\",\"phone\":\"+628$RANDOM$RANDOM\",\"password\":\"Proxy-Pass-1x\"}")
	[ -z "${3:-}" ] || args+=(-H "X-Forwarded-For: $3")
	if [ -n "${4:-}" ]; then
		code=$(curl "${args[@]}" "$rad_url/v1/register")
	else
		code=$(curl "${args[@]}" --cacert "$ngx/tls.pem" --resolve "ra.test:$https_port:127.0.0.1" \
		    "https://ra.test:$https_port/v1/register")
	fi
	[ "$code" = 201 ] || fail "registration of $2 from $1: $code $(cat "$tmp/out")"
	q "SELECT e.details->>'client' FROM audit_event e JOIN ra_account a ON e.object_id = a.id::text
	    WHERE e.action = 'ra.account.register' AND a.email = '$2'"
}
n=$$$RANDOM
c=$(register 127.0.0.241 "proxy1-$n@example.com")
[ "$c" = 127.0.0.241 ] || fail "through the proxy the audit names client '$c', not 127.0.0.241"
c=$(register 127.0.0.242 "proxy2-$n@example.com" 203.0.113.9)
[ "$c" = 127.0.0.242 ] || fail "a client's own X-Forwarded-For was believed: '$c'"
c=$(register 127.0.0.243 "proxy3-$n@example.com" 203.0.113.9 direct)
[ "$c" = 127.0.0.243 ] || fail "X-Forwarded-For was believed from a peer that is not a trusted proxy: '$c'"
note "audit client: the address behind the proxy; a forged X-Forwarded-For is ignored, through the proxy or not"

# login ADDR: a failed log-in through the proxy from ADDR; prints the status.
login() {
	curl -sS --interface "$1" --cacert "$ngx/tls.pem" --resolve "ra.test:$https_port:127.0.0.1" -o /dev/null \
	    -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data "{\"email\":\"nobody-$n@example.com\",\"password\":\"Wrong-Pass-1x\"}" "https://ra.test:$https_port/v1/login"
}
for i in 1 2 3; do
	c=$(login 127.0.0.244)
	[ "$c" != 429 ] || fail "log-in $i of 3 from 127.0.0.244 already limited"
done
[ "$(login 127.0.0.244)" = 429 ] || fail "the fourth log-in a minute from 127.0.0.244 was not limited"
c=$(login 127.0.0.245)
[ "$c" != 429 ] || fail "127.0.0.245 was limited for 127.0.0.244's log-ins: the proxy counted as one client"
note "log-in limit per client behind the proxy: 127.0.0.244 limited after 3, 127.0.0.245 not"

# --- relying parties: OCSP (cached GET, POST), CRL, TSA over plain HTTP -------------------
openssl ocsp -issuer "$PKI_ISSUING_CERT" -cert "$PKI_TSA_CERT" -no_nonce -reqout "$tmp/req.der" >/dev/null 2>&1 ||
	fail "openssl ocsp -reqout"
enc=$(base64 -w0 "$tmp/req.der" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip(), safe=""))')
get() { curl -sS -H 'Host: ocsp.test' -o "$tmp/resp.der" -D "$tmp/ohdr" -w '%{http_code}' "http://127.0.0.1:$http_port/$enc"; }
c=$(get); [ "$c" = 200 ] || fail "OCSP GET through nginx: $c $(cat "$tmp/ohdr")"
grep -qi '^x-cache-status: MISS' "$tmp/ohdr" || fail "the first OCSP GET was not a cache miss: $(cat "$tmp/ohdr")"
[ "$(get)" = 200 ] || fail "second OCSP GET through nginx"
grep -qi '^x-cache-status: HIT' "$tmp/ohdr" || fail "the second OCSP GET was not served from nginx's cache: $(cat "$tmp/ohdr")"
out=$(openssl ocsp -respin "$tmp/resp.der" -issuer "$PKI_ISSUING_CERT" -cert "$PKI_TSA_CERT" -CAfile "$PKI_ROOT_CERT" 2>&1)
grep -q ': good' <<<"$out" && grep -q '^Response verify OK' <<<"$out" || fail "the cached OCSP answer: $out"
out=$(openssl ocsp -url "http://127.0.0.1:$http_port/" -header Host=ocsp.test -issuer "$PKI_ISSUING_CERT" \
    -cert "$PKI_TSA_CERT" -CAfile "$PKI_ROOT_CERT" 2>&1)
grep -q ': good' <<<"$out" && grep -q '^Response verify OK' <<<"$out" || fail "openssl ocsp (POST) through nginx: $out"
# A host the proxy does not name (or none) reaches the responder, its default.
out=$(openssl ocsp -url "http://127.0.0.1:$http_port/" -issuer "$PKI_ISSUING_CERT" \
    -cert "$PKI_TSA_CERT" -CAfile "$PKI_ROOT_CERT" 2>&1)
grep -q ': good' <<<"$out" || fail "openssl ocsp without our Host does not reach the responder: $out"
# What ocspd marks no-store is never kept (proxy_no_cache): a tryLater for
# a serial ocspd must look up while a lock on certificate holds its lookup
# (ocsp/README.md "A lock on certificate"), asked three times, is each
# time a MISS; after the lock, the real answer, not a tryLater from the
# cache. Until 2026-12-06 nginx repeated the tryLater as a HIT for 10 s.
openssl ocsp -issuer "$PKI_ISSUING_CERT" -serial 0x7E57B10C0F -no_nonce -reqout "$tmp/tl.req" >/dev/null 2>&1 ||
	fail "openssl ocsp -reqout (tryLater)"
tlenc=$(base64 -w0 "$tmp/tl.req" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip(), safe=""))')
tlget() { curl -sS -m 10 -H 'Host: ocsp.test' -o "$tmp/tl$1.der" -D "$tmp/tl$1.h" -w '%{http_code}' \
	"http://127.0.0.1:$http_port/$tlenc"; }
ocsp_status_of() { openssl ocsp -respin "$1" -resp_text -noverify 2>&1 | head -3 || true; }
open_tx
echo "BEGIN; LOCK TABLE certificate IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"$tx_in"
read -r -t 10 locked <&"$tx_out" && [ "$locked" = locked ] || fail "could not lock certificate: $locked"
for i in 1 2 3; do
	[ "$(tlget $i)" = 200 ] || fail "tryLater GET $i through nginx: $(cat "$tmp/tl$i.h")"
	ocsp_status_of "$tmp/tl$i.der" | has -i 'trylater' || fail "tryLater GET $i: $(ocsp_status_of "$tmp/tl$i.der")"
	grep -qi '^cache-control: no-store' "$tmp/tl$i.h" || fail "tryLater GET $i: not no-store: $(cat "$tmp/tl$i.h")"
	grep -qi '^x-cache-status: MISS' "$tmp/tl$i.h" ||
		fail "tryLater GET $i: not a MISS (a no-store answer kept by nginx): $(cat "$tmp/tl$i.h")"
done
commit_tx
for _ in $(seq 100); do
	curl -sf "$PKI_OCSP_URL/health" | jq -e '.database_ok' >/dev/null && break
	sleep 0.1
done
[ "$(tlget 4)" = 200 ] || fail "GET after the lock through nginx: $(cat "$tmp/tl4.h")"
openssl ocsp -respin "$tmp/tl4.der" -resp_text -noverify 2>/dev/null | has 'Reason: certificateHold' ||
	fail "after the lock: not the never-issued answer (a tryLater kept?): $(ocsp_status_of "$tmp/tl4.der")"
grep -qi '^x-cache-status: HIT' "$tmp/tl4.h" && fail "after the lock: a HIT: $(cat "$tmp/tl4.h")"
# /health is never cached: twice, no HIT, each with ocspd's own figures.
for i in 1 2; do
	[ "$(curl -sS -H 'Host: ocsp.test' -o "$tmp/health$i" -D "$tmp/health$i.h" -w '%{http_code}' \
		"http://127.0.0.1:$http_port/health")" = 200 ] || fail "/health through nginx: $(cat "$tmp/health$i.h")"
	jq -e '.database_ok' "$tmp/health$i" >/dev/null || fail "/health through nginx: $(cat "$tmp/health$i")"
	grep -qi '^x-cache-status: HIT' "$tmp/health$i.h" && fail "/health served from nginx's cache: $(cat "$tmp/health$i.h")"
done
note "no-store answers through nginx: tryLater three times a MISS, then the real answer; /health never a HIT"
crl_path=/${PKI_CRL_URL#http://*/}
[ "$(curl -sS -H 'Host: crl.test' -o "$tmp/crl.der" -w '%{http_code}' "http://127.0.0.1:$http_port$crl_path")" = 200 ] ||
	fail "CRL through nginx"
openssl crl -inform DER -in "$tmp/crl.der" -CAfile "$PKI_CHAIN" -noout 2>&1 | grep -q 'verify OK' ||
	fail "the CRL through nginx does not verify"
[ "$(curl -sS -H 'Host: crl.test' -o /dev/null -w '%{http_code}' -X POST --data x "http://127.0.0.1:$http_port$crl_path")" = 403 ] ||
	fail "a POST to the CRL host was not refused"
openssl ts -query -data "$REPO/README.md" -sha256 -cert -out "$tmp/ts.tsq" 2>/dev/null || fail "openssl ts -query"
[ "$(curl -sS -H 'Host: tsa.test' -H 'Content-Type: application/timestamp-query' --data-binary "@$tmp/ts.tsq" \
    -o "$tmp/ts.tsr" -w '%{http_code}' "http://127.0.0.1:$http_port/")" = 200 ] || fail "TSA through nginx"
openssl ts -verify -in "$tmp/ts.tsr" -queryfile "$tmp/ts.tsq" -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_CHAIN" >/dev/null 2>&1 ||
	fail "the time-stamp through nginx does not verify"
note "OCSP GET cached by nginx (MISS, HIT) and verified; openssl ocsp, openssl crl and openssl ts through the proxy: ok"
grep -q '"level":"err"' "$tmp/rad-proxied.log" && fail "errors in the proxied rad's log: $(grep '"level":"err"' "$tmp/rad-proxied.log")"
exit 0
