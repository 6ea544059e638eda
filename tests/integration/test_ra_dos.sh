#!/usr/bin/env bash
# rad against two denials of service (ra/README.md "Body limits",
# "Password hashing cap"), against the stack of tests/run.sh:
#  - a body larger than its route allows is refused on its Content-Length
#    before a byte is read (route.c ra_admit): POST /v1/login and an
#    unknown path with Content-Length 5000000 and no body sent get 413
#    problem JSON at once (until 2026-12-07 rad waited for, and stored,
#    up to 5.6 MB on any path); a chunked body on a small route 411; the
#    KYC route without a session or with a bad one 401 before its body (to
#    a client waiting for 100 Continue), and with a session its 100
#    Continue; past the KYC limit lib/http's own 413; a normal log-in 200;
#  - at a rad of its own with the hash cap low
#    (ra.password_hashes_per_second 1, ra.password_hash_burst 2), eight
#    concurrent wrong-password log-ins for one account: some 503 with
#    Retry-After ("too many password checks"), and the account's
#    failed_logins and its ra.login.failed events count only the 401s (the
#    ones checked); after Retry-After the right password logs in.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
subscriber_env
pw='Dos-Horse7-Pass'

# raw URL METHOD PATH [HEADER-LINES]: the request's headers only (no body
# byte sent), Content-Type JSON; the answer's status in code, its headers
# in $tmp/hdr, its body in $tmp/out, the seconds it took in secs (5 s at
# most: then code is 000).
raw() {
	python3 - "$1" "$2" "$3" "${4:-}" "$tmp" <<'PY' >"$tmp/raw.res"
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
method, path, extra, tmp = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.create_connection((u.hostname, u.port))
s.settimeout(5)
req = "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" % (method, path)
for line in extra.split("|"):
    if line:
        req += line + "\r\n"
t = time.monotonic()
s.sendall((req + "\r\n").encode())
data = b""
try:
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            break
        data += d
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ")[1].decode() if head.startswith(b"HTTP/") else "000"
    if status != "100":
        n = 0
        for l in head.split(b"\r\n"):
            if l.lower().startswith(b"content-length:"):
                n = int(l.split(b":")[1])
        while len(body) < n:
            d = s.recv(65536)
            if not d:
                break
            body += d
except socket.timeout:
    head, body, status = b"", b"", "000"
open(tmp + "/hdr", "wb").write(head.replace(b"\r\n", b"\n") + b"\n")
open(tmp + "/out", "wb").write(body)
print(status, "%.2f" % (time.monotonic() - t))
PY
	read -r code secs <"$tmp/raw.res"
}
# at_once WHAT: the last raw answer came within 1.5 s.
at_once() { awk -v s="$secs" 'BEGIN { exit !(s < 1.5) }' || fail "$1: answered after $secs s"; }
detail() { jq -r .detail "$tmp/out"; }

account "dos1-$$@example.com" +6281277775001 402917
a1=$aid t1=$tok

# --- body limits on the headers -------------------------------------------------------
raw "$rurl" POST /v1/login 'Content-Length: 5000000'
expect 413 "a 5 MB log-in body"
at_once "a 5 MB log-in body"
detail | grep -q 'too large for this resource' || fail "413 of a log-in: $(cat "$tmp/out")"
raw "$rurl" POST /v1/no-such-path 'Content-Length: 5000000'
expect 413 "a 5 MB body to an unknown path"
at_once "a 5 MB body to an unknown path"
raw "$rurl" GET /v1/me 'Content-Length: 20000'
expect 413 "a 20 KB body to GET /v1/me"
raw "$rurl" POST /v1/login 'Transfer-Encoding: chunked'
expect 411 "a chunked log-in body"
at_once "a chunked log-in body"
raw "$rurl" POST /v1/applications 'Content-Length: 5000000|Expect: 100-continue'
expect 401 "a KYC body without a session"
at_once "a KYC body without a session"
grep -qi '^www-authenticate: bearer' "$tmp/hdr" || fail "the KYC route's 401 without WWW-Authenticate"
raw "$rurl" POST /v1/applications "Content-Length: 5000000|Expect: 100-continue|Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect 401 "a KYC body with an unknown token"
at_once "a KYC body with an unknown token"
raw "$rurl" POST /v1/applications "Content-Length: 5000000|Expect: 100-continue|Authorization: Bearer $t1"
[ "$code" = 100 ] || fail "a KYC body with a session: $code, not 100 Continue"
raw "$rurl" POST /v1/applications "Content-Length: 9000000|Authorization: Bearer $t1"
expect 413 "a KYC body past the server's limit"
at_once "a KYC body past the server's limit"
rreq POST /v1/login "{\"email\":\"dos1-$$@example.com\",\"password\":\"$pw\"}"
[ "$code" = 200 ] || fail "a normal log-in: $code $(cat "$tmp/out")"
secrets+=("$(jq -r .token "$tmp/out")")
note "bodies: 413 at once on a 5 MB log-in and unknown path, 411 chunked, KYC 401 before the body without a session, 100 Continue with one"

# --- the password hashing cap ---------------------------------------------------------
start_rad rad-hash PKI_RA_PASSWORD_HASHES_PER_SECOND=1 PKI_RA_PASSWORD_HASH_BURST=2
failed() { q "SELECT failed_logins FROM ra_account WHERE id = $a1"; }
events() { q "SELECT count(*) FROM audit_event WHERE action = '$1' AND object_id = '$a1'"; }
f0=$(failed) e0=$(events ra.login.failed) l0=$(events ra.account.lock) s0=$(q "SELECT count(*) FROM ra_session WHERE account_id = $a1")
pids=()
for i in 1 2 3 4 5 6 7 8; do
	curl -sS -o "$tmp/w$i.out" -D "$tmp/w$i.hdr" -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data "{\"email\":\"dos1-$$@example.com\",\"password\":\"Wrong-Pass-$i\"}" \
	    "$rad_url/v1/login" >"$tmp/w$i.code" &
	pids+=($!)
done
wait "${pids[@]}"	# not rad's, which start_rad put in the background
n401=0 n503=0
for i in 1 2 3 4 5 6 7 8; do
	case $(cat "$tmp/w$i.code") in
	401) n401=$((n401 + 1)) ;;
	503)
		n503=$((n503 + 1))
		grep -qi '^retry-after: [1-9]' "$tmp/w$i.hdr" || fail "a 503 without Retry-After: $(cat "$tmp/w$i.hdr")"
		grep -qi '^content-type: application/problem+json' "$tmp/w$i.hdr" || fail "a 503 not problem JSON"
		jq -r .detail "$tmp/w$i.out" | grep -q '^too many password checks at once; try again in [0-9]* s$' ||
			fail "the 503's detail: $(cat "$tmp/w$i.out")"
		retry=$(sed -n 's/^retry-after: *\([0-9]*\).*/\1/Ip' "$tmp/w$i.hdr")
		;;
	*) fail "wrong-password log-in $i: $(cat "$tmp/w$i.code") $(cat "$tmp/w$i.out")" ;;
	esac
done
[ "$n503" -gt 0 ] || fail "8 concurrent log-ins under a cap of 2: no 503"
[ "$n401" -gt 0 ] || fail "8 concurrent log-ins under a cap of 2: none checked"
[ "$(failed)" = $((f0 + n401)) ] || fail "failed_logins $f0 -> $(failed), with $n401 checked and $n503 refused"
[ "$(events ra.login.failed)" = $((e0 + n401)) ] || fail "ra.login.failed $e0 -> $(events ra.login.failed), with $n401 checked"
[ "$(events ra.account.lock)" = "$l0" ] || fail "a lock-out with $n401 checked"
[ "$(q "SELECT count(*) FROM ra_session WHERE account_id = $a1")" = "$s0" ] || fail "a session from refused log-ins"
grep -q 'too many password checks' "$tmp/rad-hash.log" && fail "the 503 was logged (the per-address 429 is not)"
sleep "${retry:-2}"
sleep 1
curl -sS -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data "{\"email\":\"dos1-$$@example.com\",\"password\":\"$pw\"}" "$rad_url/v1/login" >"$tmp/code"
[ "$(cat "$tmp/code")" = 200 ] || fail "the right password after Retry-After: $(cat "$tmp/code") $(cat "$tmp/out")"
secrets+=("$(jq -r .token "$tmp/out")")
note "hash cap 1/s, burst 2: of 8 concurrent wrong log-ins $n401 checked (401, counted, audited), $n503 refused (503, Retry-After, nothing counted)"
