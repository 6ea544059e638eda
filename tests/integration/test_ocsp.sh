#!/usr/bin/env bash
# ocspd judged by independent clients: `openssl ocsp` (POST, nonce, SHA-1 and
# SHA-256 CertIDs, several CertIDs), curl (GET with RFC 5019 caching headers,
# rejections), GnuTLS `ocsptool` (--ask and -e), and a second ocspd cut off
# from PostgreSQL that keeps answering from its cache. Runs against the stack
# of tests/run.sh (which started ocspd).
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
pki=$PKI_DIR/pki
url=$PKI_OCSP_URL
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }

# ocsp ARGS...: openssl ocsp against our responder, verifying with the root
# (lib.sh ocsp_client: statuses only from verified responses).
ocsp() { ocsp_client -url "$url" -CAfile "$pki/root.pem" "$@"; }
now_ms() { date +%s%3N; }
# pol KEY DEFAULT: the stack's policy (deploy/stack.sh: policy_dir is the repository's).
pol() { local v; v=$(sed -n "s/^$1 *= *//p" policy/ocsp.conf); echo "${v:-$2}"; }
# hdr FILE NAME: a response header's value (curl -D), without the CR.
hdr() { tr -d '\r' <"$1" | sed -n "s/^$2: //Ip" | sed -n 1p; }
# resp_time FILE FIELD: "This Update", "Next Update" or "Revocation Time" of
# a DER response, in seconds since the epoch.
resp_time() { date -d "$(openssl ocsp -respin "$1" -noverify -resp_text 2>/dev/null |
	sed -n "s/^ *$2: //p" | sed -n 1p)" +%s; }
# check_caching FILE.h FILE.der CAP WHAT: RFC 5019 §6.2 headers of a GET
# answer: 0 < max-age <= CAP and <= nextUpdate - now, Expires = Date +
# max-age (an HTTP/1.0 cache reads Expires only), Last-Modified = thisUpdate.
check_caching() {
	local cc age nextup date ex lm
	cc=$(hdr "$1" Cache-Control)
	for w in public no-transform must-revalidate; do
		grep -q "$w" <<<"$cc" || fail "$4: Cache-Control lacks $w ($cc)"
	done
	age=$(sed -n 's/.*max-age=\([0-9]*\).*/\1/p' <<<"$cc")
	nextup=$(resp_time "$2" 'Next Update')
	[ -n "$age" ] && [ "$age" -gt 0 ] && [ "$age" -le "$3" ] ||
		fail "$4: max-age ${age:-none} not in 1..$3 ($cc)"
	[ "$age" -le $((nextup - $(date +%s) + 1)) ] || fail "$4: max-age $age beyond nextUpdate"
	date=$(date -d "$(hdr "$1" Date)" +%s) || fail "$4: no Date"
	ex=$(date -d "$(hdr "$1" Expires)" +%s) || fail "$4: no Expires"
	[ $((ex - date - age)) -ge -1 ] && [ $((ex - date - age)) -le 1 ] ||
		fail "$4: Expires $(hdr "$1" Expires) is not Date $(hdr "$1" Date) + max-age $age"
	lm=$(date -d "$(hdr "$1" Last-Modified)" +%s) || fail "$4: no Last-Modified"
	[ "$lm" = "$(resp_time "$2" 'This Update')" ] || fail "$4: Last-Modified is not thisUpdate"
}

# A subscriber certificate from the issuing CA.
issue() { # issue NAME -> NAME.pem, prints the serial
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/$1.key" -subj "/CN=ocsp test $1" -out "$tmp/$1.csr" 2>/dev/null
	"$PKICTL" --config "$PKI_CONFIG" cert issue --issuer issuing --profile subscriber \
		--csr "$tmp/$1.csr" >"$tmp/$1.pem" || fail "pkictl cert issue"
	openssl x509 -in "$tmp/$1.pem" -noout -serial | cut -d= -f2
}
# A test before this one may have restarted the stack's PostgreSQL
# (test_crl does): ocspd answers tryLater for what it must look up until
# it is connected again (its back-off), so wait for that first.
for _ in $(seq 300); do
	curl -sf "$url/health" | jq -e '.database_ok' >/dev/null && break
	sleep 0.1
done
curl -sf "$url/health" | jq -e '.database_ok' >/dev/null || fail "ocspd not connected to PostgreSQL within 30 s"
s1=$(issue sub1)
s2=$(issue sub2)
s3=$(issue sub3)
# A new certificate is announced (NOTIFY on insert): in the cache well
# within the 1 s poll period. A certificate the cache does not hold is
# answered "good" too, looked up in the database and signed anew for each
# request (ECDSA: other bytes each time), which would pass with NOTIFY
# and polling both broken; two answers byte for byte the same come from
# the cache.
s4=$(issue sub4)
t0=$(now_ms)
openssl ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub4.pem" -no_nonce -reqout "$tmp/sub4.req" >/dev/null 2>&1 ||
	fail "openssl ocsp -reqout sub4"
u4="$url/$(base64 -w0 "$tmp/sub4.req")"
until curl -sS -o "$tmp/sub4a.der" "$u4" && curl -sS -o "$tmp/sub4b.der" "$u4" &&
	cmp -s "$tmp/sub4a.der" "$tmp/sub4b.der"; do
	[ $(($(now_ms) - t0)) -lt 600 ] || fail "a new certificate is not in the cache within 600 ms of its issuance (NOTIFY)"
	sleep 0.02
done
openssl ocsp -respin "$tmp/sub4a.der" -issuer "$pki/issuing.pem" -cert "$tmp/sub4.pem" \
	-CAfile "$pki/root.pem" 2>&1 | has 'sub4.pem: good' || fail "a new certificate: its cached answer is not good"

# --- good, nonce echoed, verified ------------------------------------------------
out=$(ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -resp_text)
grep -q '^Response verify OK' <<<"$out" || { echo "$out"; fail "response does not verify"; }
grep -q "sub1.pem: good" <<<"$out" || { echo "$out"; fail "sub1 not good"; }
grep -q 'OCSP Nonce' <<<"$out" || fail "nonce not echoed"
grep -qi 'WARNING' <<<"$out" && { echo "$out"; fail "openssl ocsp warns"; }
# The delegated responder of the issuing CA signed it, its certificate included.
ski=$(openssl x509 -in "$pki/ocsp-issuing.pem" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
grep -q "Responder Id: $ski" <<<"$out" || { echo "$out"; fail "not ResponderID byKey of ocsp-issuing"; }
grep -q 'OCSP Responder (PKI Local Issuing' <<<"$out" || fail "responder certificate not included"

# --- CPU pinning: off by default (ocsp.pin_cpus; on below, ocspd #2) ---------------
# cpus_of PID_OR_TASK_DIR: its Cpus_allowed_list.
cpus_of() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$1/status"; }
# unpinned PID: its signers and threads run on any CPU it may use.
unpinned() {
	local c d
	for c in $(pgrep -P "$1") $(ls /proc/"$1"/task); do
		d=/proc/$c; [ -d "$d" ] || d=/proc/$1/task/$c
		[ "$(cpus_of "$d")" = "$(cpus_of "/proc/$1")" ] || fail "ocsp.pin_cpus = false, yet $c is pinned: $(cpus_of "$d")"
	done
}
opid=$(pidfile_of "$PKI_STACK_DIR" ocsp)
[ -n "$opid" ] || fail "no pid file of the stack's ocspd"
unpinned "$opid"
has 'pinned to CPUs' "$PKI_STACK_DIR/log/ocsp.log" && fail "ocsp.pin_cpus unset, yet the stack's ocspd logs a pinning"

# Without a nonce: the pre-signed response, the same bytes every time.
ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -no_nonce -respout "$tmp/pre1.der" >"$tmp/o" ||
	{ cat "$tmp/o"; fail "no_nonce"; }
grep -q "sub1.pem: good" "$tmp/o" || { cat "$tmp/o"; fail "no_nonce: not good"; }
ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -no_nonce -respout "$tmp/pre2.der" >/dev/null
cmp -s "$tmp/pre1.der" "$tmp/pre2.der" || fail "no_nonce answers differ: not served from the cache"
openssl ocsp -respin "$tmp/pre1.der" -resp_text -noverify 2>/dev/null | has 'OCSP Nonce' &&
	fail "a pre-signed response carries a nonce"

# SHA-256 CertIDs, and several CertIDs in one request.
out=$(ocsp -sha256 -issuer "$pki/issuing.pem" -cert "$tmp/sub2.pem" -resp_text)
grep -q 'Hash Algorithm: sha256' <<<"$out" || { echo "$out"; fail "SHA-256 CertID not echoed"; }
grep -q "sub2.pem: good" <<<"$out" || { echo "$out"; fail "SHA-256 CertID: not good"; }
out=$(ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -cert "$tmp/sub2.pem" -serial 0x7E57ABCD)
grep -q "sub1.pem: good" <<<"$out" && grep -q "sub2.pem: good" <<<"$out" &&
	grep -q "0x7E57ABCD: revoked" <<<"$out" || { echo "$out"; fail "several CertIDs"; }

# The root's responder answers for the issuing CA.
out=$(ocsp -issuer "$pki/root.pem" -cert "$pki/issuing.pem" -resp_text)
grep -q 'issuing.pem: good' <<<"$out" || { echo "$out"; fail "issuing CA via the root's responder"; }
ski=$(openssl x509 -in "$pki/ocsp-root.pem" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
grep -q "Responder Id: $ski" <<<"$out" || { echo "$out"; fail "root: not signed by ocsp-root"; }

# --- a serial never issued: revoked, certificateHold, 1970 (RFC 6960 §2.2) ------
out=$(ocsp -issuer "$pki/issuing.pem" -serial 0x0123456789ABCDEF0123 -resp_text)
grep -q '0x0123456789ABCDEF0123: revoked' <<<"$out" || { echo "$out"; fail "never-issued: not revoked"; }
grep -q 'Revocation Time: Jan  1 00:00:00 1970 GMT' <<<"$out" || { echo "$out"; fail "never-issued: time"; }
grep -q 'Reason: certificateHold' <<<"$out" || { echo "$out"; fail "never-issued: reason"; }
grep -q '^Response verify OK' <<<"$out" || fail "never-issued: does not verify"

# --- revocation reflected within one second ----------------------------------
"$PKICTL" --config "$PKI_CONFIG" cert revoke --issuer issuing --serial "$s2" \
	--reason keyCompromise --invalidity-date 2026-11-20T00:00:00.7Z >/dev/null || fail "pkictl cert revoke"
t0=$(now_ms)
while :; do
	out=$(ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub2.pem" -resp_text)
	grep -q 'sub2.pem: revoked' <<<"$out" && break
	[ $(($(now_ms) - t0)) -lt 1000 ] || { echo "$out"; fail "revocation not answered within 1 s"; }
	sleep 0.05
done
note "revocation seen after $(($(now_ms) - t0)) ms"
grep -q 'Reason: keyCompromise' <<<"$out" || { echo "$out"; fail "revocation reason"; }
grep -q '^Response verify OK' <<<"$out" || fail "revoked: does not verify"

# --- revocations and issuances that commit late are seen at once ---------------------
# A transaction takes its revocation_seq or its id, later ones commit and
# are seen, and it commits last (the reviewer's interleaving, 2026-12-06).
# X1 and Z1 (a revocation and an issuance) commit together, with their
# notifications; X2 and Z2 the same but with no notification at all (the
# triggers off for that session, the columns set as they set them: a lost
# NOTIFY), so that only the poll can find them, within its period. Each is
# asked for before it commits (Z1 and Z2 are then never-issued, kept in the
# cache). Meanwhile Y is revoked and W issued and seen, then a burst of
# notifications runs a poll every 150 ms for 11 s: past what the
# incremental query used to reach back (by id and revocation_seq, the
# marks of 10 s or 32 polls before, whichever older), so without the xid
# range (ocsp/sync.c, schema/071) and the payloads, none of the four was
# seen until the hourly full pass.
sx1=$(issue latex1)
sx2=$(issue latex2)
sly=$(issue latey)
iss_id=$(q "SELECT issuer_id FROM certificate WHERE serial = upper('$sx1')")
# late_row NAME: hex of a certificate (openssl, throw-away key) whose serial
# is NAME's, for a row of certificate made by hand; prints the serial.
late_row() {
	local z
	z=$(openssl rand -hex 7 | tr a-f A-F)
	z=7E$z
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/$1.key" \
		-subj "/CN=ocsp test $1" -set_serial "0x$z" -days 30 -outform DER -out "$tmp/$1.der" 2>/dev/null ||
		fail "openssl req ($1)"
	echo "$z"
}
# late_insert NAME SERIAL [EXTRA_COLUMN EXTRA_VALUE]: the INSERT of that row.
late_insert() {
	echo "INSERT INTO certificate (issuer_id, serial, subject, profile, not_before, not_after, sha256, der${3:+, $3})
	    VALUES ($iss_id, '$2', 'CN=ocsp test $1', 'subscriber', now() - interval '1 minute',
	        now() + interval '30 days', '$(sha256sum "$tmp/$1.der" | cut -c1-64)',
	        decode('$(od -An -v -tx1 "$tmp/$1.der" | tr -d ' \n')', 'hex')${4:+, $4}) RETURNING id;"
}
sz1=$(late_row latez1)
sz2=$(late_row latez2)
revoke_sql() { echo "UPDATE certificate SET revoked_at = now(), revocation_reason = 1, revoked_by = 'test_ocsp'${2:-}
	WHERE serial = upper('$1') RETURNING revocation_seq;"; }
open_tx
{ echo "BEGIN;"; revoke_sql "$sx1"; late_insert latez1 "$sz1"; } >&"$tx_in"
read -r -t 10 x1seq <&"$tx_out" && read -r -t 10 z1id <&"$tx_out" || fail "the open transaction did not revoke $sx1 and insert $sz1"
[[ $x1seq =~ ^[0-9]+$ && $z1id =~ ^[0-9]+$ ]] || fail "the open transaction: $x1seq $z1id"
# The second one: a psql reading a FIFO, its answers in a file.
mkfifo "$tmp/tx2.in"
psql -X -q -At -v ON_ERROR_STOP=1 "$PKI_TEST_PG_URI" <"$tmp/tx2.in" >"$tmp/tx2.out" 2>&1 &
tx2_pid=$!
at_exit "kill $tx2_pid 2>/dev/null || true"
exec {tx2}>"$tmp/tx2.in"
{ echo "BEGIN; SET LOCAL session_replication_role = replica;"
  revoke_sql "$sx2" ", revocation_seq = nextval('revocation_seq'), revocation_xid = pg_current_xact_id()"
  late_insert latez2 "$sz2" issue_xid "pg_current_xact_id()"
  echo "SELECT 'held';"; } >&"$tx2"
for _ in $(seq 100); do grep -q '^held$' "$tmp/tx2.out" && break; sleep 0.1; done
grep -q '^held$' "$tmp/tx2.out" || { cat "$tmp/tx2.out"; fail "the second open transaction did not revoke $sx2 and insert $sz2"; }
# Before they commit: good, and never issued (kept).
for c in latex1 latex2; do
	ocsp -issuer "$pki/issuing.pem" -cert "$tmp/$c.pem" -no_nonce | has "$c.pem: good" || fail "$c before its commit: not good"
done
for z in "$sz1" "$sz2"; do
	ocsp -issuer "$pki/issuing.pem" -serial "0x$z" -no_nonce -resp_text | has 'Reason: certificateHold' ||
		fail "0x$z before its commit: not never-issued"
done
"$PKICTL" --config "$PKI_CONFIG" cert revoke --issuer issuing --serial "$sly" --reason superseded >/dev/null ||
	fail "pkictl cert revoke $sly"
issue latew >/dev/null
for _ in $(seq 60); do
	ocsp -issuer "$pki/issuing.pem" -cert "$tmp/latey.pem" -no_nonce | has 'latey.pem: revoked' &&
		ocsp -issuer "$pki/issuing.pem" -cert "$tmp/latew.pem" -no_nonce | has 'latew.pem: good' && break
	sleep 0.05
done
[ "$(q "SELECT (SELECT id FROM certificate WHERE serial = upper('$(openssl x509 -in "$tmp/latew.pem" -noout -serial | cut -d= -f2)')) > $z1id
	AND (SELECT revocation_seq FROM certificate WHERE serial = upper('$sly')) > $x1seq")" = t ] ||
	fail "test setup: W's id and Y's revocation_seq are not above Z1's and X1's"
# One psql session, one transaction per NOTIFY, 150 ms apart.
for _ in $(seq 75); do echo "NOTIFY certificate_status; SELECT pg_sleep(0.15);"; done |
	psql -X -q -At -v ON_ERROR_STOP=1 "$PKI_TEST_PG_URI" >/dev/null || fail "the NOTIFY burst"
# late_seen WHAT BOUND_MS CHECK...: each CHECK (a command) succeeds within
# BOUND_MS of now; prints how long it took.
late_seen() {
	local what=$1 bound=$2 t0 c
	shift 2
	t0=$(now_ms)
	for c in "$@"; do
		until eval "$c"; do
			[ $(($(now_ms) - t0)) -lt "$bound" ] || {
				q "SELECT id, serial, revocation_seq, revocation_xid, issue_xid, revoked_at FROM certificate
				   WHERE serial IN (upper('$sx1'), upper('$sx2'), upper('$sly'), '$sz1', '$sz2')"
				tail -n 5 "$PKI_STACK_DIR/log/ocsp.log"
				fail "$what: not seen within $bound ms of the commit ($c)"
			}
			sleep 0.05
		done
	done
	note "$what: seen $(($(now_ms) - t0)) ms after the commit"
}
commit_tx
late_seen "a revocation and an issuance that committed late, with their notifications" 2000 \
	"ocsp -issuer '$pki/issuing.pem' -cert '$tmp/latex1.pem' -no_nonce | has 'latex1.pem: revoked'" \
	"ocsp -issuer '$pki/issuing.pem' -serial 0x$sz1 -no_nonce | has ': good'"
echo "COMMIT; SELECT 'committed';" >&"$tx2"
exec {tx2}>&-
for _ in $(seq 100); do grep -q '^committed$' "$tmp/tx2.out" && break; sleep 0.02; done
grep -q '^committed$' "$tmp/tx2.out" || { cat "$tmp/tx2.out"; fail "the second open transaction did not commit"; }
wait "$tx2_pid" || fail "the second open transaction's psql failed: $(cat "$tmp/tx2.out")"
# No notification: the next poll (ocsp.poll_ms, 1 s) finds them.
late_seen "a revocation and an issuance that committed late, their notifications lost" 2500 \
	"ocsp -issuer '$pki/issuing.pem' -cert '$tmp/latex2.pem' -no_nonce | has 'latex2.pem: revoked'" \
	"ocsp -issuer '$pki/issuing.pem' -serial 0x$sz2 -no_nonce | has ': good'"
# Times are GeneralizedTime without fractions: truncated, as in the CRL,
# never rounded up past the response's own thisUpdate.
echo "$out" | grep -A1 'Invalidity Date' | has 'Nov 20 00:00:00 2026 GMT' ||
	{ echo "$out"; fail "invalidity date (00:00:00.7 must read 00:00:00)"; }
want=$(date -u -d "@$(q "SELECT floor(extract(epoch FROM revoked_at)) FROM certificate
	WHERE ltrim(serial, '0') = ltrim(upper('$s2'), '0')")" '+%b %e %H:%M:%S %Y GMT')
grep -q "Revocation Time: $want" <<<"$out" ||
	{ echo "$out"; fail "revocation time is not the database's second ($want)"; }
# The pre-signed (no nonce) answer too, and the SHA-256 one.
ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub2.pem" -no_nonce | has 'sub2.pem: revoked' ||
	fail "pre-signed answer still good after revocation"
ocsp -sha256 -issuer "$pki/issuing.pem" -cert "$tmp/sub2.pem" -no_nonce | has 'sub2.pem: revoked' ||
	fail "SHA-256 answer still good after revocation"
# Hold and release, each awaited (within 3 s, as below): a fixed 0.3 s
# failed whenever the NOTIFY took longer (the sanitizer build, a loaded
# machine).
"$PKICTL" --config "$PKI_CONFIG" cert revoke --issuer issuing --serial "$s3" \
	--reason certificateHold >/dev/null || fail "pkictl cert revoke (hold)"
t0=$(now_ms)
# Not "| grep -q": the responder's certificate follows the reason, and
# openssl writing it after grep quit fails the pipeline (pipefail).
until out=$(ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub3.pem" -no_nonce -resp_text) &&
	grep -q 'Reason: certificateHold' <<<"$out"; do
	[ $(($(now_ms) - t0)) -lt 3000 ] || { echo "$out"; fail "hold not answered within 3 s"; }
	sleep 0.05
done
"$PKICTL" --config "$PKI_CONFIG" cert release --issuer issuing --serial "$s3" >/dev/null ||
	fail "pkictl cert release"
t0=$(now_ms)
until ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub3.pem" -no_nonce | has 'sub3.pem: good'; do
	[ $(($(now_ms) - t0)) -lt 3000 ] || fail "released certificate not good again within 3 s"
	sleep 0.05
done
# Revoked "unspecified" (0): revoked with no revocationReason, as on the CRL
# (RFC 5280 §5.3.1; the CA/B Forum BRs §7.3 forbid reason 0 in OCSP),
# pre-signed and live (nonce); the other reasons are still given (sub2's
# keyCompromise above, certificateHold).
su=$(issue unspec)
"$PKICTL" --config "$PKI_CONFIG" cert revoke --issuer issuing --serial "$su" \
	--reason unspecified >/dev/null || fail "pkictl cert revoke (unspecified)"
t0=$(now_ms)
until ocsp -issuer "$pki/issuing.pem" -cert "$tmp/unspec.pem" -no_nonce | has 'unspec.pem: revoked'; do
	[ $(($(now_ms) - t0)) -lt 3000 ] || fail "unspecified: revocation not seen within 3 s"
	sleep 0.05
done
for n in -no_nonce -nonce; do
	out=$(ocsp -issuer "$pki/issuing.pem" -cert "$tmp/unspec.pem" $n -resp_text)
	grep -q 'unspec.pem: revoked' <<<"$out" && grep -q 'Revocation Time:' <<<"$out" ||
		{ echo "$out"; fail "unspecified $n: not revoked with a time"; }
	grep -qiE 'Reason:|unspecified' <<<"$out" &&
		{ echo "$out"; fail "unspecified $n: a revocationReason (0) in the response"; }
done

# --- GET (RFC 6960 A.1, RFC 5019 §5) with caching headers (§6.2) ----------------
openssl ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -no_nonce -reqout "$tmp/get.req" >/dev/null 2>&1
b64=$(base64 -w0 "$tmp/get.req")
enc=$(printf %s "$b64" | sed 's/+/%2B/g; s#/#%2F#g; s/=/%3D/g')
code=$(curl -sS -D "$tmp/get.h" -o "$tmp/get.der" -w '%{http_code}' "$url/$enc")
[ "$code" = 200 ] || fail "GET: HTTP $code"
[ "$(hdr "$tmp/get.h" Content-Type)" = application/ocsp-response ] || fail "GET: content type"
# max-age is bounded by the policy, not by nextUpdate (days away): a CDN
# would go on serving "good" that long after a revocation.
check_caching "$tmp/get.h" "$tmp/get.der" "$(pol max_age_seconds 3600)" GET
etag=$(hdr "$tmp/get.h" ETag)
[ -n "$etag" ] || fail "GET: no ETag"
openssl ocsp -respin "$tmp/get.der" -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" \
	-CAfile "$pki/root.pem" 2>&1 | has 'sub1.pem: good' || fail "GET: response not good or not verified"
cmp -s "$tmp/get.der" "$tmp/pre1.der" || fail "GET and POST answers differ"
# Plain '+', '/' and '=' in the path work too, and give the same bytes and ETag.
curl -sS -D "$tmp/get2.h" -o "$tmp/get2.der" "$url/$b64"
cmp -s "$tmp/get.der" "$tmp/get2.der" || fail "GET with unencoded base64 differs"
grep -qF "$etag" "$tmp/get2.h" || fail "ETag changes between identical answers"
# "//" + base64, as a client sends it that joins an AIA URL ending in '/'
# and "/" + base64 (boulder#2774): the same bytes (until 2026-12-07
# malformedRequest, no-store).
code=$(curl -sS -D "$tmp/get_ss.h" -o "$tmp/get_ss.der" -w '%{http_code}' "$url//$b64")
[ "$code" = 200 ] && cmp -s "$tmp/get.der" "$tmp/get_ss.der" ||
	fail "GET //base64: HTTP $code, not the bytes of GET /base64"
grep -qF "$etag" "$tmp/get_ss.h" || fail "GET //base64: not the ETag of GET /base64"
case $b64 in *[+/]*) ;; *) note "(this request's base64 has no '+' or '/')" ;; esac
# Base64 padding is optional (ocsp_path_decode): a request whose base64
# ends in '=' gets the same answer without it. The SHA-1 or the SHA-256
# request for sub1 is padded: the latter is 28 octets longer, so their
# lengths are not both multiples of 3.
for h in sha1 sha256; do
	openssl ocsp -"$h" -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -no_nonce \
		-reqout "$tmp/pad.req" >/dev/null 2>&1 || fail "openssl ocsp -reqout ($h)"
	b64p=$(base64 -w0 "$tmp/pad.req")
	case $b64p in *=) break ;; esac
done
case $b64p in *=) ;; *) fail "test setup: no padded base64 request" ;; esac
# A SHA-2 answer signed at the first request may be replaced once by the
# maintenance thread's: compare once two padded answers agree.
for _ in $(seq 20); do
	curl -sS -o "$tmp/pad1.der" "$url/$(printf %s "$b64p" | sed 's/+/%2B/g; s#/#%2F#g; s/=/%3D/g')"
	code=$(curl -sS -o "$tmp/pad2.der" -w '%{http_code}' "$url/${b64p%%=*}")
	cmp -s "$tmp/pad1.der" "$tmp/pad2.der" && break
	sleep 0.1
done
[ "$code" = 200 ] && cmp -s "$tmp/pad1.der" "$tmp/pad2.der" ||
	fail "GET without base64 padding ($h): HTTP $code or another answer than with it"
openssl ocsp -respin "$tmp/pad2.der" -"$h" -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" \
	-CAfile "$pki/root.pem" 2>&1 | has 'sub1.pem: good' || fail "GET without base64 padding: not good"

# --- conditional GET (RFC 9110 §13) -------------------------------------------------
# cget NAME URL [CURL ARGS...]: a GET, headers in NAME.h, body in NAME.der;
# prints the HTTP status.
cget() { local n=$1 u=$2; shift 2; curl -sS -D "$tmp/$n.h" -o "$tmp/$n.der" -w '%{http_code}' "$@" "$u"; }
# check_304 NAME FULL.h FULL.der CAP WHAT: a 304 without a body, with the
# ETag and Last-Modified of the 200 and its caching headers (RFC 9110
# §15.4.5), no Content-Type.
check_304() {
	[ ! -s "$tmp/$1.der" ] || fail "$5: a 304 with a body"
	[ -n "$(hdr "$tmp/$1.h" ETag)" ] && [ "$(hdr "$tmp/$1.h" ETag)" = "$(hdr "$2" ETag)" ] ||
		fail "$5: 304 ETag '$(hdr "$tmp/$1.h" ETag)', the 200's '$(hdr "$2" ETag)'"
	[ "$(hdr "$tmp/$1.h" Last-Modified)" = "$(hdr "$2" Last-Modified)" ] ||
		fail "$5: 304 Last-Modified '$(hdr "$tmp/$1.h" Last-Modified)', the 200's '$(hdr "$2" Last-Modified)'"
	check_caching "$tmp/$1.h" "$3" "$4" "$5"
	[ -z "$(hdr "$tmp/$1.h" Content-Type)" ] || fail "$5: a 304 with a Content-Type"
}
lm=$(hdr "$tmp/get.h" Last-Modified)
[ -n "$lm" ] || fail "GET: no Last-Modified"
code=$(cget c1 "$url/$enc" -H "If-None-Match: $etag")
[ "$code" = 304 ] || fail "If-None-Match with the current ETag: HTTP $code, want 304"
check_304 c1 "$tmp/get.h" "$tmp/get.der" "$(pol max_age_seconds 3600)" "If-None-Match"
# A list, weak comparison (RFC 9110 §13.1.2), and "*".
code=$(cget c2 "$url/$enc" -H "If-None-Match: \"0011223344556677\", W/$etag")
[ "$code" = 304 ] || fail "If-None-Match list with W/ETag: HTTP $code, want 304"
code=$(cget c3 "$url/$enc" -H "If-None-Match: *")
[ "$code" = 304 ] || fail "If-None-Match: *: HTTP $code, want 304"
# Another tag: the whole answer, even with an If-Modified-Since equal to
# Last-Modified (ocspd ignores If-Modified-Since, RFC 9110 §13.1.3).
code=$(cget c4 "$url/$enc" -H 'If-None-Match: "0011223344556677"' -H "If-Modified-Since: $lm")
[ "$code" = 200 ] && cmp -s "$tmp/c4.der" "$tmp/get.der" ||
	fail "If-None-Match with another tag: HTTP $code or another body, want 200 and the answer"
[ "$(hdr "$tmp/c4.h" ETag)" = "$etag" ] || fail "If-None-Match with another tag: ETag changed"
# Not an If-None-Match value (our tag unquoted): ignored, the whole answer.
code=$(cget c5 "$url/$enc" -H "If-None-Match: ${etag//\"/}")
[ "$code" = 200 ] && cmp -s "$tmp/c5.der" "$tmp/get.der" || fail "an unquoted If-None-Match: HTTP $code, want 200"
# If-Modified-Since alone is ignored (RFC 9110 §13.1.3): Last-Modified
# counts seconds, and a "revoked" answer of this ocspd, of another on the
# port (ocsp.reuse_port) or of one restarted in that second may carry the
# Last-Modified of a "good" one. Whatever the date (not an HTTP-date, a
# second before, equal, an hour later in RFC 850 and asctime forms, or
# with the matching ETag only as If-Modified-Since's neighbour): 200 and
# the whole answer, with its ETag.
code=$(cget c6 "$url/$enc" -H "If-Modified-Since: $(date -u -d "$lm" +%s)")
[ "$code" = 200 ] && cmp -s "$tmp/c6.der" "$tmp/get.der" || fail "If-Modified-Since not a date: HTTP $code, want 200"
code=$(cget c7 "$url/$enc" -H "If-Modified-Since: $(date -u -d "$lm - 1 second" '+%a, %d %b %Y %H:%M:%S GMT')")
[ "$code" = 200 ] && cmp -s "$tmp/c7.der" "$tmp/get.der" ||
	fail "If-Modified-Since a second before Last-Modified: HTTP $code, want 200"
code=$(cget c7a "$url/$enc" -H "If-Modified-Since: $lm")
[ "$code" = 200 ] && cmp -s "$tmp/c7a.der" "$tmp/get.der" && [ "$(hdr "$tmp/c7a.h" ETag)" = "$etag" ] &&
	[ "$(hdr "$tmp/c7a.h" Last-Modified)" = "$lm" ] ||
	fail "If-Modified-Since equal to Last-Modified: HTTP $code, want 200 and the answer"
code=$(cget c7b "$url/$enc" -H "If-Modified-Since: $(date -u -d "$lm + 1 hour" '+%A, %d-%b-%y %H:%M:%S GMT')")
[ "$code" = 200 ] && cmp -s "$tmp/c7b.der" "$tmp/get.der" ||
	fail "If-Modified-Since an hour later, RFC 850 form: HTTP $code, want 200 and the answer"
code=$(cget c7c "$url/$enc" -H "If-Modified-Since: $(LC_ALL=C date -u -d "$lm + 1 hour" '+%a %b %e %H:%M:%S %Y')")
[ "$code" = 200 ] && cmp -s "$tmp/c7c.der" "$tmp/get.der" ||
	fail "If-Modified-Since an hour later, asctime form: HTTP $code, want 200 and the answer"
# With the matching ETag, If-None-Match still gives the 304 (the date,
# even one before Last-Modified, has no say).
code=$(cget c7d "$url/$enc" -H "If-None-Match: $etag" \
	-H "If-Modified-Since: $(date -u -d "$lm - 1 second" '+%a, %d %b %Y %H:%M:%S GMT')")
[ "$code" = 304 ] || fail "If-None-Match with the ETag and an earlier If-Modified-Since: HTTP $code, want 304"
# Never over POST, for a live answer or an error.
code=$(curl -sS -o "$tmp/c8.der" -w '%{http_code}' -H 'If-None-Match: *' -H "If-Modified-Since: $lm" \
	-H 'Content-Type: application/ocsp-request' --data-binary "@$tmp/get.req" "$url/")
[ "$code" = 200 ] && cmp -s "$tmp/c8.der" "$tmp/get.der" || fail "POST with If-None-Match: HTTP $code, want 200"
openssl ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -reqout "$tmp/getn.req" >/dev/null 2>&1
code=$(cget c9 "$url/$(base64 -w0 "$tmp/getn.req")" -H 'If-None-Match: *' -H "If-Modified-Since: $lm")
[ "$code" = 200 ] && [ -s "$tmp/c9.der" ] && [ "$(hdr "$tmp/c9.h" Cache-Control)" = no-store ] ||
	fail "GET with a nonce (live) and If-None-Match: *: HTTP $code, want 200 no-store"
code=$(cget c10 "$url/not%base64!" -H 'If-None-Match: *')
openssl ocsp -respin "$tmp/c10.der" -resp_text -noverify >"$tmp/c10.txt" 2>&1 || true
[ "$code" = 200 ] && has 'malformedrequest' "$tmp/c10.txt" ||
	fail "a malformed GET with If-None-Match: *: HTTP $code, want 200 malformedRequest"
# A revocation: a new answer, a new ETag; the old one gets it whole. The
# old Last-Modified gets it whole too (the revoked answer may carry the
# same one: one-second steps), as does any If-Modified-Since.
sc=$(issue cond)
openssl ocsp -issuer "$pki/issuing.pem" -cert "$tmp/cond.pem" -no_nonce -reqout "$tmp/cond.req" >/dev/null 2>&1
cu="$url/$(base64 -w0 "$tmp/cond.req")"
t0=$(now_ms)
until [ "$(cget cd1 "$cu")" = 200 ] && openssl ocsp -respin "$tmp/cd1.der" -noverify -issuer "$pki/issuing.pem" \
	-cert "$tmp/cond.pem" 2>/dev/null | has 'cond.pem: good'; do
	[ $(($(now_ms) - t0)) -lt 3000 ] || fail "conditional: a new certificate not good within 3 s"
	sleep 0.05
done
oldtag=$(hdr "$tmp/cd1.h" ETag)
oldlm=$(hdr "$tmp/cd1.h" Last-Modified)
"$PKICTL" --config "$PKI_CONFIG" cert revoke --issuer issuing --serial "$sc" --reason keyCompromise >/dev/null ||
	fail "pkictl cert revoke $sc"
t0=$(now_ms)
while :; do
	code=$(cget cd2 "$cu" -H "If-None-Match: $oldtag")
	[ "$code" = 200 ] && openssl ocsp -respin "$tmp/cd2.der" -noverify -issuer "$pki/issuing.pem" \
		-cert "$tmp/cond.pem" 2>/dev/null | has 'cond.pem: revoked' && break
	[ "$code" = 304 ] || [ "$code" = 200 ] || fail "If-None-Match during a revocation: HTTP $code"
	[ $(($(now_ms) - t0)) -lt 3000 ] || fail "the old ETag after a revocation: HTTP $code, not the revoked answer within 3 s"
	sleep 0.05
done
newtag=$(hdr "$tmp/cd2.h" ETag)
[ -n "$newtag" ] && [ "$newtag" != "$oldtag" ] || fail "the ETag did not change with the revocation ($oldtag)"
code=$(cget cd3 "$cu" -H "If-Modified-Since: $oldlm")
[ "$code" = 200 ] && openssl ocsp -respin "$tmp/cd3.der" -noverify -issuer "$pki/issuing.pem" \
	-cert "$tmp/cond.pem" 2>/dev/null | has 'cond.pem: revoked' ||
	fail "If-Modified-Since of the answer before the revocation: HTTP $code, want 200 and the revoked answer"
# The answer signed at the first request after the revocation and the
# maintenance thread's may both be stored, one after the other: take the
# ETag once two answers in a row carry it.
for _ in $(seq 30); do
	cget cd2 "$cu" >/dev/null
	[ "$(hdr "$tmp/cd2.h" ETag)" = "$newtag" ] && break
	newtag=$(hdr "$tmp/cd2.h" ETag)
	sleep 0.1
done
code=$(cget cd4 "$cu" -H "If-None-Match: $newtag")
[ "$code" = 304 ] || fail "If-None-Match with the ETag after the revocation: HTTP $code, want 304"
check_304 cd4 "$tmp/cd2.h" "$tmp/cd2.der" "$(pol max_age_seconds 3600)" "If-None-Match after the revocation"
# A serial never issued: a short max-age. A certificate issued a moment ago
# and not yet loaded is answered so, and a CDN must not repeat that for the
# hour the response is valid.
openssl ocsp -issuer "$pki/issuing.pem" -serial 0x0123456789ABCDEF0125 -no_nonce \
	-reqout "$tmp/getni.req" >/dev/null 2>&1
curl -sS -D "$tmp/getni.h" -o "$tmp/getni.der" "$url/$(base64 -w0 "$tmp/getni.req")"
openssl ocsp -respin "$tmp/getni.der" -noverify -resp_text 2>/dev/null | has 'Reason: certificateHold' ||
	fail "GET never-issued: not answered as never issued"
check_caching "$tmp/getni.h" "$tmp/getni.der" "$(pol nonissued_max_age_seconds 10)" "GET never-issued"

# --- thisUpdate is never before the revocationTime it reports -------------------------
# The database's clock 2 s ahead of ours (or a status applied before the
# time of its read is published): thisUpdate follows the revocation.
sk=$(issue skew)
q "UPDATE certificate SET revoked_at = now() + interval '2 seconds', revocation_reason = 1,
	revoked_by = 'test_ocsp' WHERE upper(serial) = upper('$sk')" >/dev/null
t0=$(now_ms)
until ocsp -issuer "$pki/issuing.pem" -cert "$tmp/skew.pem" -no_nonce | has 'skew.pem: revoked'; do
	[ $(($(now_ms) - t0)) -lt 3000 ] || fail "skew: revocation not seen within 3 s"
	sleep 0.05
done
for n in -no_nonce -nonce; do
	ocsp -issuer "$pki/issuing.pem" -cert "$tmp/skew.pem" $n -respout "$tmp/skew.der" >"$tmp/skew.txt"
	has 'skew.pem: revoked' <"$tmp/skew.txt" || { cat "$tmp/skew.txt"; fail "skew $n: not revoked"; }
	[ "$(resp_time "$tmp/skew.der" 'This Update')" -ge "$(resp_time "$tmp/skew.der" 'Revocation Time')" ] || {
		openssl ocsp -respin "$tmp/skew.der" -noverify -resp_text 2>/dev/null | grep -E 'Update|Revocation Time'
		fail "skew $n: thisUpdate before revocationTime"
	}
done

# --- GnuTLS ocsptool accepts our responses -------------------------------------------
ocsptool --ask="$url" --load-issuer "$pki/issuing.pem" --load-cert "$tmp/sub1.pem" >"$tmp/gt" 2>&1 ||
	{ cat "$tmp/gt"; fail "ocsptool --ask failed"; }
grep -q 'Verifying OCSP Response: Success' "$tmp/gt" || { cat "$tmp/gt"; fail "ocsptool --ask: not verified"; }
grep -q 'Certificate Status: good' "$tmp/gt" || { cat "$tmp/gt"; fail "ocsptool --ask: not good"; }
ocsptool -e --load-trust "$pki/issuing.pem" --infile "$tmp/get.der" --inder >"$tmp/gt2" 2>&1 ||
	{ cat "$tmp/gt2"; fail "ocsptool -e rejects our response"; }
grep -q 'Verifying OCSP Response: Success' "$tmp/gt2" || { cat "$tmp/gt2"; fail "ocsptool -e"; }
ocsptool -e --load-signer "$pki/ocsp-issuing.pem" --infile "$tmp/pre1.der" --inder >"$tmp/gt3" 2>&1 ||
	{ cat "$tmp/gt3"; fail "ocsptool -e --load-signer rejects our response"; }

# --- rejections --------------------------------------------------------------------
resp_status() { openssl ocsp -respin "$1" -resp_text -noverify 2>&1 | head -3 || true; }
post() { # post FILE OUT -> HTTP status
	curl -sS -o "$2" -w '%{http_code}' -H 'Content-Type: application/ocsp-request' \
		--data-binary "@$1" "$url/"
}
# A foreign issuer (a throw-away CA): unauthorized.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/fca.key" \
	-subj "/CN=Foreign CA" -days 2 -out "$tmp/fca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/fee.key" \
	-subj "/CN=foreign leaf" -out "$tmp/fee.csr" 2>/dev/null
openssl x509 -req -in "$tmp/fee.csr" -CA "$tmp/fca.pem" -CAkey "$tmp/fca.key" -set_serial 0x1234 \
	-days 1 -out "$tmp/fee.pem" 2>/dev/null
ocsp -issuer "$tmp/fca.pem" -cert "$tmp/fee.pem" | has 'Responder Error: unauthorized' ||
	fail "foreign issuer: want unauthorized"
# Our issuer's name with another key: unauthorized too (name hash AND key hash).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/fake.key" \
	-subj "$(openssl x509 -in "$pki/issuing.pem" -noout -subject -nameopt compat | sed 's/^subject=//')" \
	-days 2 -out "$tmp/fake.pem" 2>/dev/null
namehash() { openssl ocsp -issuer "$1" -serial 0x1 -reqout "$tmp/nh.req" >/dev/null 2>&1
	openssl ocsp -reqin "$tmp/nh.req" -req_text | sed -n 's/^ *Issuer Name Hash: //p'; }
[ "$(namehash "$tmp/fake.pem")" = "$(namehash "$pki/issuing.pem")" ] ||
	fail "test setup: the fake issuer's name hash differs from the issuing CA's"
ocsp -issuer "$tmp/fake.pem" -serial "0x$s1" | has 'Responder Error: unauthorized' ||
	fail "issuer name with a foreign key: want unauthorized"
# CertIDs of two of our issuers in one request: unauthorized (one signer per response).
ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -issuer "$pki/root.pem" -cert "$pki/issuing.pem" |
	has 'Responder Error: unauthorized' || fail "mixed issuers: want unauthorized"
# Not an OCSP request: malformedRequest, over POST and GET.
head -c 200 /dev/urandom >"$tmp/garbage"
[ "$(post "$tmp/garbage" "$tmp/garbage.out")" = 200 ] || fail "garbage: HTTP status"
resp_status "$tmp/garbage.out" | has 'malformedrequest' || fail "garbage: want malformedRequest"
{ cat "$tmp/get.req"; printf '\0\0'; } >"$tmp/trail"
post "$tmp/trail" "$tmp/trail.out" >/dev/null
resp_status "$tmp/trail.out" | has 'malformedrequest' || fail "trailing bytes: want malformedRequest"
head -c 30 "$tmp/get.req" >"$tmp/trunc"
post "$tmp/trunc" "$tmp/trunc.out" >/dev/null
resp_status "$tmp/trunc.out" | has 'malformedrequest' || fail "truncated: want malformedRequest"
: >"$tmp/empty"
post "$tmp/empty" "$tmp/empty.out" >/dev/null
resp_status "$tmp/empty.out" | has 'malformedrequest' || fail "empty: want malformedRequest"
# Nonces (RFC 9654 §2.1, which obsoletes RFC 8954): a responder must echo
# 16 to 32 octets and may answer 1 to 15 and 33 to 128 without the nonce;
# ocspd echoes 1 to 128. 0 octets, or more than 128: malformedRequest. Until
# 2026-12-07 (RFC 8954's 1..32) 33 octets were malformedRequest.
cat >"$tmp/nonce.py" <<'PY'
import sys
from der import tlv, content
req = open(sys.argv[1], "rb").read()
tbs = content(content(req))            # TBSRequest's fields: the requestList only
nonce = tlv(0x04, tlv(0x04, bytes(range(int(sys.argv[2])))))
ext = tlv(0x30, tlv(0x06, bytes.fromhex("2b0601050507300102")) + nonce)
sys.stdout.buffer.write(tlv(0x30, tlv(0x30, tbs + tlv(0xA2, tlv(0x30, ext)))))
PY
ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -no_nonce -reqout "$tmp/plain.req" >/dev/null
PYTHONPATH=$(dirname "$0") python3 "$tmp/nonce.py" "$tmp/plain.req" 32 >"$tmp/n32.req"
openssl ocsp -reqin "$tmp/n32.req" -req_text | has 'OCSP Nonce' || fail "test setup: no nonce in n32.req"
post "$tmp/n32.req" "$tmp/n32.out" >/dev/null
openssl ocsp -respin "$tmp/n32.out" -resp_text -noverify >"$tmp/n32.txt" 2>&1 || true
grep -A1 'OCSP Nonce' "$tmp/n32.txt" >"$tmp/n32.nonce" || true
grep -q '0420000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F' "$tmp/n32.nonce" ||
	{ cat "$tmp/n32.txt"; fail "a 32-octet nonce is not echoed"; }
# 33, 64 and 128 octets: answered, verified, and the nonce echoed as sent
# (openssl ocsp compares it with -reqin's).
for n in 33 64 128; do
	PYTHONPATH=$(dirname "$0") python3 "$tmp/nonce.py" "$tmp/plain.req" "$n" >"$tmp/n$n.req"
	openssl ocsp -reqin "$tmp/n$n.req" -req_text | has 'OCSP Nonce' || fail "test setup: no nonce in n$n.req"
	post "$tmp/n$n.req" "$tmp/n$n.out" >/dev/null
	openssl ocsp -reqin "$tmp/n$n.req" -respin "$tmp/n$n.out" -verify_other "$pki/issuing.pem" \
		-CAfile "$pki/root.pem" -resp_text >"$tmp/n$n.txt" 2>&1 || true
	grep -q '^Response verify OK' "$tmp/n$n.txt" && grep -q 'Cert Status: good' "$tmp/n$n.txt" &&
		! grep -qiE 'nonce (verify error|.*missing)|WARNING' "$tmp/n$n.txt" ||
		{ cat "$tmp/n$n.txt"; fail "a $n-octet nonce (RFC 9654 §2.1): not answered with it echoed"; }
done
grep -A3 'OCSP Nonce' "$tmp/n64.txt" | tr -d ' \n' | grep -q '0440000102030405060708090A0B0C0D0E0F' ||
	{ cat "$tmp/n64.txt"; fail "a 64-octet nonce is not echoed as sent"; }
for n in 0 129; do
	PYTHONPATH=$(dirname "$0") python3 "$tmp/nonce.py" "$tmp/plain.req" "$n" >"$tmp/n$n.req"
	post "$tmp/n$n.req" "$tmp/n$n.out" >/dev/null
	resp_status "$tmp/n$n.out" | has 'malformedrequest' || fail "a $n-octet nonce: want malformedRequest"
done
# Extensions (RFC 6960 §4.4): an unknown one is ignored unless critical, in
# the request or in a single request; a critical nonce is understood (echoed).
cat >"$tmp/ext.py" <<'PY'
import sys
from der import tlv, content
req, where, oid, crit, value = sys.argv[1:6]
request = content(content(content(open(req, "rb").read())))  # the one Request
ext = tlv(0x30, tlv(0x06, bytes.fromhex(oid)) + (tlv(0x01, b"\xff") if crit == "1" else b"") +
          tlv(0x04, bytes.fromhex(value)))
if where == "single":              # Request ::= SEQUENCE { reqCert, [0] EXPLICIT Extensions }
    tbs = tlv(0x30, tlv(0x30, content(request) + tlv(0xA0, tlv(0x30, ext))))
else:                              # TBSRequest's [2] EXPLICIT Extensions
    tbs = tlv(0x30, request) + tlv(0xA2, tlv(0x30, ext))
sys.stdout.buffer.write(tlv(0x30, tlv(0x30, tbs)))
PY
ext_case() {	# name where oid critical value -> the response status
	PYTHONPATH=$(dirname "$0") python3 "$tmp/ext.py" "$tmp/plain.req" "$2" "$3" "$4" "$5" >"$tmp/$1.req"
	openssl ocsp -reqin "$tmp/$1.req" -req_text >/dev/null 2>&1 || fail "test setup: $1.req does not parse"
	post "$tmp/$1.req" "$tmp/$1.out" >/dev/null
	resp_status "$tmp/$1.out"
}
ext_case crit_top top 2a0304 1 0500 | has 'malformedrequest' ||
	fail "an unknown critical request extension: want malformedRequest"
ext_case crit_single single 2a0304 1 0500 | has 'malformedrequest' ||
	fail "an unknown critical single-request extension: want malformedRequest"
ext_case noncrit_top top 2a0304 0 0500 | has 'successful' ||
	fail "an unknown non-critical request extension must be ignored"
ext_case noncrit_single single 2a0304 0 0500 | has 'successful' ||
	fail "an unknown non-critical single-request extension must be ignored"
ext_case crit_nonce top 2b0601050507300102 1 0408a1a2a3a4a5a6a7a8 | has 'successful' ||
	fail "a critical nonce: want successful"
openssl ocsp -respin "$tmp/crit_nonce.out" -resp_text -noverify 2>/dev/null | grep -A1 'OCSP Nonce' |
	has '0408A1A2A3A4A5A6A7A8' || fail "a critical nonce is not echoed"
# A nonce whose extnValue is its raw octets, no OCTET STRING
# (BouncyCastle's new Extension(id_pkix_ocsp_nonce, false, new
# DEROctetString(raw))): no RFC 9654 Nonce. Not critical: the pre-signed
# answer, without a nonce (until 2026-12-07 malformedRequest); critical:
# malformedRequest (RFC 6960 §4.4).
raw=a1a2a3a4a5a6a7a8a9aaabacadaeafb0
ext_case raw_nonce top 2b0601050507300102 0 "$raw" | has 'successful' ||
	fail "a raw-octets nonce, not critical: want successful"
post "$tmp/plain.req" "$tmp/raw_plain.out" >/dev/null
cmp -s "$tmp/raw_nonce.out" "$tmp/raw_plain.out" ||
	fail "a raw-octets nonce, not critical: not the pre-signed answer of the request without it"
ext_case raw_nonce_crit top 2b0601050507300102 1 "$raw" | has 'malformedrequest' ||
	fail "a raw-octets nonce, critical: want malformedRequest"
# A CertID whose hashAlgorithm has no parameters (RFC 5754 §2 allows it for
# SHA-2; some clients send it so for SHA-1 too): the SingleResponse repeats
# it byte for byte (signed live), not the pre-signed CertID with NULL
# parameters, which a client comparing CertIDs by their encoding
# (BouncyCastle's CertificateID.equals) would not take for its answer.
cat >"$tmp/certid.py" <<'PY'
import sys
from der import tlv, content

def items(der):
    """The TLVs that make up der, each whole."""
    out, i = [], 0
    while i < len(der):
        n, h = der[i + 1], 2
        if n & 0x80:
            k = n & 0x7F
            n, h = int.from_bytes(der[i + 2:i + 2 + k], "big"), 2 + k
        out.append(der[i:i + h + n])
        i += h + n
    return out

def req_certid(req):       # OCSPRequest > TBSRequest > requestList > Request > CertID
    return items(content(content(content(content(req)))))[0]

def resp_certid(resp):     # OCSPResponse > [0] > ResponseBytes > BasicOCSPResponse
    basic = content(items(content(content(items(content(resp))[1])))[1])
    tbs = items(content(basic))[0]      # tbsResponseData: responses, the first SEQUENCE
    responses = [x for x in items(content(tbs)) if x[0] == 0x30][0]
    return items(content(items(content(responses))[0]))[0]

mode, path = sys.argv[1:3]
der = open(path, "rb").read()
if mode == "strip":        # the request with the NULL after the hash OID left out
    cid = req_certid(der)
    alg, rest = items(content(cid))[0], b"".join(items(content(cid))[1:])
    oid, null = items(content(alg))
    assert null == b"\x05\x00", null
    cid2 = tlv(0x30, tlv(0x30, oid) + rest)
    sys.stdout.buffer.write(tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, cid2)))))
else:
    print((req_certid if mode == "req" else resp_certid)(der).hex())
PY
certid() { PYTHONPATH=$(dirname "$0") python3 "$tmp/certid.py" "$@"; }
for h in sha1 sha256; do
	openssl ocsp -"$h" -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -no_nonce \
		-reqout "$tmp/np_$h.req" >/dev/null 2>&1
	certid strip "$tmp/np_$h.req" >"$tmp/np0_$h.req"
	openssl ocsp -reqin "$tmp/np0_$h.req" -req_text 2>&1 | has "Hash Algorithm: $h" ||
		fail "test setup: np0_$h.req does not parse"
	want=$(certid req "$tmp/np0_$h.req")
	[ "$want" != "$(certid req "$tmp/np_$h.req")" ] ||
		fail "test setup: np0_$h.req has the CertID of np_$h.req"
	post "$tmp/np0_$h.req" "$tmp/np0_$h.out" >/dev/null
	openssl ocsp -respin "$tmp/np0_$h.out" -resp_text -"$h" -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" \
		-CAfile "$pki/root.pem" >"$tmp/np0_$h.txt" 2>&1 || true
	grep -q '^Response verify OK' "$tmp/np0_$h.txt" && grep -q 'sub1.pem: good' "$tmp/np0_$h.txt" ||
		{ cat "$tmp/np0_$h.txt"; fail "$h CertID without parameters: not good, or not verified"; }
	got=$(certid resp "$tmp/np0_$h.out")
	[ "$got" = "$want" ] || fail "$h CertID without parameters: answered for $got, asked $want"
	# Over GET too, and not for caches: signed for this request.
	curl -sS -D "$tmp/np0_$h.h" -o "$tmp/np0_$h.get" "$url/$(base64 -w0 "$tmp/np0_$h.req")"
	[ "$(certid resp "$tmp/np0_$h.get")" = "$want" ] || fail "$h CertID without parameters, GET: another CertID"
	[ "$(hdr "$tmp/np0_$h.h" Cache-Control)" = no-store ] ||
		fail "$h CertID without parameters, GET: a live answer without Cache-Control: no-store"
	# NULL parameters (OpenSSL, Java): the cache's CertID is theirs.
	post "$tmp/np_$h.req" "$tmp/np_$h.out" >/dev/null
	[ "$(certid resp "$tmp/np_$h.out")" = "$(certid req "$tmp/np_$h.req")" ] ||
		fail "$h CertID with NULL parameters: another CertID"
done
cmp -s "$tmp/np_sha1.out" "$tmp/pre1.der" || fail "SHA-1 CertID with NULL parameters: not the pre-signed answer"
# Error answers are not authoritative: no cache may keep them (RFC 5019 §6.2).
curl -sS -D "$tmp/badget.h" -o "$tmp/badget.out" "$url/not%base64!"
resp_status "$tmp/badget.out" | has 'malformedrequest' || fail "bad GET path: want malformedRequest"
[ "$(hdr "$tmp/badget.h" Cache-Control)" = no-store ] || fail "bad GET path: no Cache-Control: no-store"
curl -sS -D "$tmp/badget2.h" -o "$tmp/badget2.out" "$url/$(printf 'hello' | base64)"
resp_status "$tmp/badget2.out" | has 'malformedrequest' || fail "GET of non-DER: want malformedRequest"
[ "$(hdr "$tmp/badget2.h" Cache-Control)" = no-store ] || fail "GET of non-DER: no Cache-Control: no-store"
# HTTP-level refusals: problem JSON.
head -c $((64 * 1024)) /dev/zero >"$tmp/huge"
code=$(post "$tmp/huge" "$tmp/huge.out")
[ "$code" = 413 ] || fail "huge body: HTTP $code, want 413"
grep -q '"status":413' "$tmp/huge.out" || fail "huge body: no problem JSON"
code=$(curl -sS -o "$tmp/ct.out" -w '%{http_code}' -H 'Content-Type: text/plain' \
	--data-binary "@$tmp/get.req" "$url/")
[ "$code" = 415 ] || fail "wrong content type: HTTP $code, want 415"
grep -q '"status":415' "$tmp/ct.out" || fail "415 without problem JSON"
code=$(curl -sS -D "$tmp/put.h" -o "$tmp/put.out" -w '%{http_code}' -X PUT --data-binary "@$tmp/get.req" "$url/")
[ "$code" = 405 ] || fail "PUT: HTTP $code, want 405"
grep -q '"status":405' "$tmp/put.out" || fail "405 without problem JSON"
# A 405 is heuristically cacheable (RFC 9110 §15.5.6).
[ "$(hdr "$tmp/put.h" Cache-Control)" = no-store ] || fail "405: no Cache-Control: no-store"
hdr "$tmp/put.h" Allow | grep -qw HEAD || fail "405: Allow does not name HEAD"
# HEAD is GET without the body (RFC 9110 §9.3.2, §9.1): the cached answer's
# status and headers, its length; a bad path's no-store; /health. Until
# 2026-12-06 each was a 405.
code=$(curl -sS -I -D "$tmp/head.h" -o /dev/null -w '%{http_code}' "$url/$b64")
[ "$code" = 200 ] || fail "HEAD of a cached GET answer: HTTP $code, want 200"
curl -sS -D "$tmp/head_get.h" -o "$tmp/head_get.der" "$url/$b64"
for f in Content-Type ETag Last-Modified; do
	[ "$(hdr "$tmp/head.h" $f)" = "$(hdr "$tmp/head_get.h" $f)" ] ||
		fail "HEAD: $f $(hdr "$tmp/head.h" $f) differs from GET's $(hdr "$tmp/head_get.h" $f)"
done
[ "$(hdr "$tmp/head.h" Content-Length)" = "$(stat -c %s "$tmp/head_get.der")" ] ||
	fail "HEAD: Content-Length $(hdr "$tmp/head.h" Content-Length), the GET's body $(stat -c %s "$tmp/head_get.der")"
hdr "$tmp/head.h" Cache-Control | grep -q max-age= || fail "HEAD: no max-age"
code=$(curl -sS -I -D "$tmp/head_bad.h" -o /dev/null -w '%{http_code}' "$url/not%base64!")
[ "$code" = 200 ] && [ "$(hdr "$tmp/head_bad.h" Cache-Control)" = no-store ] ||
	fail "HEAD of a bad GET path: HTTP $code, Cache-Control $(hdr "$tmp/head_bad.h" Cache-Control)"
code=$(curl -sS -I -o /dev/null -w '%{http_code}' "$url/health")
[ "$code" = 200 ] || fail "HEAD /health: HTTP $code, want 200"
# Still serving after all that.
ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" | has 'sub1.pem: good' ||
	fail "ocspd stopped answering after bad requests"
curl -sS "$url/health" >"$tmp/health"
grep -q '"database_ok":true' "$tmp/health" && grep -q '"certificates":' "$tmp/health" ||
	{ cat "$tmp/health"; fail "/health"; }

# --- a lock queued on certificate (a migration behind a long transaction) -------------
# Nothing waits on it for long (ocsp/sync.c ocsp_sync_conninfo): cached
# answers keep coming, a serial the cache does not hold is tryLater within
# the lookup's 200 ms bounds, and the maintenance thread gives up its poll
# after 2 s (database_ok false) instead of hanging; all is normal after.
# Without the timeouts the first lookup held an HTTP thread until the lock
# went, and /health said database_ok true throughout.
lk_code() { curl -sS -m 5 -o "$2" -w '%{http_code}' -H 'Content-Type: application/ocsp-request' \
	--data-binary "@$1" "$url/" || echo timeout; }
openssl ocsp -issuer "$pki/issuing.pem" -serial 0x7E57B10C01 -no_nonce -reqout "$tmp/lk_new.req" >/dev/null 2>&1 ||
	fail "openssl ocsp -reqout 0x7E57B10C01"
curl -sS -o "$tmp/lk_get0.der" "$url/$enc"
open_tx
echo "BEGIN; LOCK TABLE certificate IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"$tx_in"
read -r -t 10 locked <&"$tx_out" && [ "$locked" = locked ] || fail "could not lock certificate: $locked"
t0=$(now_ms)
code=$(curl -sS -m 5 -o "$tmp/lk_get.der" -w '%{http_code}' "$url/$enc" || echo timeout)
[ "$code" = 200 ] && cmp -s "$tmp/lk_get.der" "$tmp/lk_get0.der" || fail "locked: cached GET: HTTP $code or another answer"
[ "$(lk_code "$tmp/lk_new.req" "$tmp/lk_new.out")" = 200 ] || fail "locked: an uncached serial: no answer"
resp_status "$tmp/lk_new.out" | has 'trylater' || { resp_status "$tmp/lk_new.out"; fail "locked: an uncached serial: want tryLater"; }
[ $(($(now_ms) - t0)) -lt 1500 ] || fail "locked: a cached GET and a lookup took $(($(now_ms) - t0)) ms"
# The maintenance thread's poll times out; meanwhile every answer is prompt.
until curl -sS -m 5 "$url/health" >"$tmp/lk_health" && grep -q '"database_ok":false' "$tmp/lk_health"; do
	t1=$(now_ms)
	[ "$(lk_code "$tmp/get.req" "$tmp/lk_post.out")" = 200 ] && cmp -s "$tmp/lk_post.out" "$tmp/lk_get0.der" ||
		fail "locked: cached POST: no answer or another one"
	[ "$(lk_code "$tmp/lk_new.req" "$tmp/lk_new.out")" = 200 ] && resp_status "$tmp/lk_new.out" | has 'trylater' ||
		fail "locked: an uncached serial: want tryLater"
	[ $(($(now_ms) - t1)) -lt 1500 ] || fail "locked: a cached POST and a lookup took $(($(now_ms) - t1)) ms"
	[ $(($(now_ms) - t0)) -lt 6000 ] || { cat "$tmp/lk_health"; fail "locked: /health still says database_ok after 6 s"; }
	sleep 0.2
done
grep -q '"status":"degraded"' "$tmp/lk_health" || { cat "$tmp/lk_health"; fail "locked: /health not degraded"; }
note "a lock on certificate: the poll gave up after $(($(now_ms) - t0)) ms"
commit_tx
t0=$(now_ms)
until curl -sS "$url/health" | has '"database_ok":true'; do
	[ $(($(now_ms) - t0)) -lt 5000 ] || { tail -n 5 "$PKI_STACK_DIR/log/ocsp.log"; fail "lock released: database_ok not true within 5 s"; }
	sleep 0.1
done
post "$tmp/lk_new.req" "$tmp/lk_new.out" >/dev/null
openssl ocsp -respin "$tmp/lk_new.out" -resp_text -noverify 2>/dev/null | has 'Reason: certificateHold' ||
	{ resp_status "$tmp/lk_new.out"; fail "lock released: an uncached serial not answered as never issued"; }
grep -q 'a poll timed out' "$PKI_STACK_DIR/log/ocsp.log" || fail "the poll's timeout was not logged"

# --- a lookup whose backend stops answering holds no loop ----------------------------
# ocspd #6, one loop: a serial the cache does not hold is looked up on
# sync.c's lookup thread while the loop goes on (ocsp/README.md "Expired
# certificates"). Its lookup backend stopped (SIGSTOP: no statement_timeout
# can fire), a POST for a serial never seen is tryLater within the lookup's
# own bound, and meanwhile 6 keep-alive clients asking a cached GET every
# 50 ms are each answered within a second. Until 2026-12-06 the loop ran
# the lookup itself and every answer on it waited for the database (4 of
# 6 clients 5.97 s in a review). After SIGCONT, a new serial is answered
# (the lookup connection made anew).
before6=$(q "SELECT coalesce(string_agg(pid::text, ','), '0') FROM pg_stat_activity WHERE usename = 'pki_ocsp'")
port6=$(free_port)
url6=http://127.0.0.1:$port6
PKI_OCSP_PORT=$port6 PKI_OCSP_THREADS=1 "$BUILD/ocspd" --config "$PKI_CONFIG" >"$tmp/ocsp6.log" 2>&1 &
ocsp6=$!
at_exit "kill $ocsp6 2>/dev/null || true"
for _ in $(seq 100); do
	curl -s "$url6/health" >"$tmp/h6" 2>/dev/null && grep -q '"unsigned":0' "$tmp/h6" && break
	kill -0 "$ocsp6" 2>/dev/null || { cat "$tmp/ocsp6.log"; fail "ocspd #6 died at start"; }
	sleep 0.1
done
for n in 0A 0B 0C; do
	openssl ocsp -issuer "$pki/issuing.pem" -serial "0x7E57B10C$n" -no_nonce -reqout "$tmp/stuck$n.req" >/dev/null 2>&1 ||
		fail "openssl ocsp -reqout 0x7E57B10C$n"
done
# A first lookup, so that its backend shows the lookup's statement.
curl -sS -o "$tmp/stuck0A.out" -H 'Content-Type: application/ocsp-request' --data-binary "@$tmp/stuck0A.req" "$url6/"
resp_status "$tmp/stuck0A.out" | has 'successful' || fail "ocspd #6: a first lookup: $(resp_status "$tmp/stuck0A.out")"
lkpid=$(q "SELECT pid FROM pg_stat_activity WHERE usename = 'pki_ocsp' AND pid NOT IN ($before6)
	AND query LIKE '%ocsp_standby_data_time() AS d LEFT JOIN certificate%'")
[[ $lkpid =~ ^[0-9]+$ ]] || fail "ocspd #6's lookup backend not found: '$lkpid'"
kill -STOP "$lkpid"
at_exit "kill -CONT $lkpid 2>/dev/null || true"
python3 - 127.0.0.1 "$port6" "/$b64" "$tmp/stuck0B.req" >"$tmp/stuck.txt" 2>&1 <<'PY' || { kill -CONT "$lkpid"; cat "$tmp/stuck.txt"; fail "cached answers held by a stuck lookup"; }
import http.client, sys, threading, time
host, port, path, req = sys.argv[1], int(sys.argv[2]), sys.argv[3], open(sys.argv[4], "rb").read()
conns = [http.client.HTTPConnection(host, port, timeout=5) for _ in range(6)]
worst, bad, post = [0.0] * 6, [], {}
def get(i, until):
    while time.monotonic() < until:
        t = time.monotonic()
        try:
            conns[i].request("GET", path)
            r = conns[i].getresponse(); body = r.read()
            if r.status != 200 or len(body) < 100: bad.append((i, r.status, len(body)))
        except Exception as e:
            bad.append((i, repr(e))); return
        worst[i] = max(worst[i], time.monotonic() - t)
        time.sleep(0.05)
for c in conns:            # each connection open (and kept) before the lookup
    c.request("GET", path); c.getresponse().read()
def lookup():
    t = time.monotonic()
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.request("POST", "/", req, {"Content-Type": "application/ocsp-request"})
    r = c.getresponse(); post["body"] = r.read(); post["t"] = time.monotonic() - t
until = time.monotonic() + 2.5
ts = [threading.Thread(target=get, args=(i, until)) for i in range(6)]
lt = threading.Thread(target=lookup)
lt.start(); time.sleep(0.05)
for t in ts: t.start()
for t in ts + [lt]: t.join()
print("cached GETs, slowest per client (s):", " ".join("%.3f" % w for w in worst))
print("lookup: %.3f s, %s" % (post.get("t", -1), post.get("body", b"").hex()))
ok = not bad and max(worst) < 1.0 and post.get("body") == bytes.fromhex("30030a0103") and post["t"] < 2.0
if bad: print("failures:", bad)
sys.exit(0 if ok else 1)
PY
kill -CONT "$lkpid"
note "a lookup on a stopped backend: $(tr '\n' ';' <"$tmp/stuck.txt")"
t0=$(now_ms)
until curl -sS -o "$tmp/stuck0C.out" -H 'Content-Type: application/ocsp-request' --data-binary "@$tmp/stuck0C.req" "$url6/" &&
	openssl ocsp -respin "$tmp/stuck0C.out" -resp_text -noverify 2>/dev/null | has 'Reason: certificateHold'; do
	[ $(($(now_ms) - t0)) -lt 3000 ] || { resp_status "$tmp/stuck0C.out"; cat "$tmp/ocsp6.log"; fail "after SIGCONT: a new serial not answered within 3 s"; }
	sleep 0.1
done
kill -TERM "$ocsp6"
wait "$ocsp6" || { cat "$tmp/ocsp6.log"; fail "ocspd #6 exited non-zero on SIGTERM"; }
grep -q 'Sanitizer' "$tmp/ocsp6.log" && { cat "$tmp/ocsp6.log"; fail "ocspd #6: a sanitizer report"; }
grep -q 'no answer within 500 ms' "$tmp/ocsp6.log" || { cat "$tmp/ocsp6.log"; fail "ocspd #6 did not log the lookup's timeout"; }

# --- certificates expired past ocsp.expired_grace_seconds (7 days) ---------------------
# Certificates are never deleted: ocspd keeps (and pre-signs) only those
# whose notAfter is within the grace, and answers the others live from the
# database with their recorded status, never as never issued. The second
# ocspd below loads after their notAfter is moved back (the table's
# triggers, which keep a certificate immutable, off for this session only).
issue expold >/dev/null	# good, expired 30 days ago
issue exprev >/dev/null	# revoked, expired a day ago (within the grace)
issue expoldrev >/dev/null	# revoked, expired 30 days ago
for n in exprev expoldrev; do
	"$PKICTL" --config "$PKI_CONFIG" cert revoke --issuer issuing \
		--serial "$(openssl x509 -in "$tmp/$n.pem" -noout -serial | cut -d= -f2)" \
		--reason keyCompromise >/dev/null || fail "pkictl cert revoke $n"
done
back() { # back NAME INTERVAL: notAfter moved INTERVAL into the past
	q "SET session_replication_role = replica;
	   UPDATE certificate SET not_before = now() - interval '400 days', not_after = now() - interval '$2'
	   WHERE upper(serial) = upper('$(openssl x509 -in "$tmp/$1.pem" -noout -serial | cut -d= -f2)')" >/dev/null ||
		fail "moving $1's notAfter back"
}
back expold '30 days'
back exprev '1 day'
back expoldrev '30 days'

# --- a second ocspd: PostgreSQL unreachable, answers from its cache ---------------------
port=$(free_port)
url2=http://127.0.0.1:$port
# This instance answers "unknown" for never-issued serials and ignores nonces
# (the policy's other choices), lets HTTP caches keep an answer 2 minutes,
# and keeps 4 never-issued responses.
# Its URL has a path, as a deployment's urls.ocsp may (http://host/ocsp/):
# clients GET {url}/{base64}, and ocspd takes the path off.
PKI_OCSP_PORT=$port PKI_OCSP_NONISSUED=unknown PKI_OCSP_NONCE=ignore \
	PKI_OCSP_MAX_AGE_SECONDS=120 PKI_OCSP_MAX_NONISSUED=4 PKI_OCSP_PIN_CPUS=true \
	PKI_URLS_OCSP="$url2/ocsp/" \
	"$BUILD/ocspd" --config "$PKI_CONFIG" >"$tmp/ocsp2.log" 2>&1 &
ocsp2=$!
at_exit "kill $ocsp2 2>/dev/null || true"
restore() { q "ALTER ROLE pki_ocsp LOGIN" >/dev/null 2>&1 || true; }
for _ in $(seq 100); do
	curl -s "$url2/health" >"$tmp/h2" 2>/dev/null && grep -q '"unsigned":0' "$tmp/h2" && break
	kill -0 "$ocsp2" 2>/dev/null || { cat "$tmp/ocsp2.log"; fail "ocspd #2 died at start"; }
	sleep 0.1
done
grep -q '"unsigned":0' "$tmp/h2" || { cat "$tmp/h2" "$tmp/ocsp2.log"; fail "ocspd #2 did not pre-sign"; }
# ocsp.pin_cpus = true: each loop's signer on one CPU of its own and the
# loop's thread beside it; the pre-signing thread's signer is not pinned.
if [ "$(nproc)" -ge 2 ]; then
	all_cpus=$(for c in $(pgrep -P "$ocsp2"); do cpus_of "/proc/$c"; done)
	signer_cpus=$(grep -v '[-,]' <<<"$all_cpus" | sort -u)
	[ "$(grep -c . <<<"$signer_cpus")" -ge 2 ] && [ "$(grep -c '[-,]' <<<"$all_cpus")" -eq 1 ] ||
		fail "ocspd #2's loop signers are not each on one CPU of their own (and the pre-signing one free): $(tr '\n' ' ' <<<"$all_cpus")"
	pinned=0
	for t in /proc/"$ocsp2"/task/*; do
		c=$(cpus_of "$t")
		grep -q '[-,]' <<<"$c" && continue
		grep -qx -- "$c" <<<"$signer_cpus" || fail "ocspd #2 thread $(cat "$t/comm") on CPU $c, where no signer runs"
		pinned=$((pinned + 1))
	done
	[ "$pinned" -ge 2 ] || fail "$pinned thread(s) of ocspd #2 pinned to a signer's CPU, not its 2 loops"
	has 'pinned to CPUs in turn from' "$tmp/ocsp2.log" || fail "ocspd #2 does not log its pinning"
	note "ocsp.pin_cpus: signers on CPUs $(tr '\n' ' ' <<<"$all_cpus")with $pinned loop thread(s) beside them"
fi
o2() { ocsp_client -url "$url2" -CAfile "$pki/root.pem" "$@"; }
# Expired past the grace: not in the cache (each answer signed anew: ECDSA
# signatures differ), the database's status. Within it: revoked, cached.
for i in 1 2; do
	o2 -issuer "$pki/issuing.pem" -cert "$tmp/expold.pem" -no_nonce -respout "$tmp/expold$i.der" >"$tmp/o" || true
	grep -q 'expold.pem: good' "$tmp/o" || { cat "$tmp/o"; fail "expired past the grace: want good from the database"; }
	o2 -issuer "$pki/issuing.pem" -cert "$tmp/expoldrev.pem" -no_nonce -resp_text -respout "$tmp/expoldrev$i.der" >"$tmp/o" || true
	grep -q 'expoldrev.pem: revoked' "$tmp/o" && grep -q 'Reason: keyCompromise' "$tmp/o" ||
		{ cat "$tmp/o"; fail "revoked, expired past the grace: want revoked, keyCompromise"; }
	grep -q '1970' "$tmp/o" && { cat "$tmp/o"; fail "revoked, expired past the grace: answered as never issued"; }
	o2 -issuer "$pki/issuing.pem" -cert "$tmp/exprev.pem" -no_nonce -resp_text -respout "$tmp/exprev$i.der" >"$tmp/o" || true
	grep -q 'exprev.pem: revoked' "$tmp/o" && grep -q 'Reason: keyCompromise' "$tmp/o" ||
		{ cat "$tmp/o"; fail "revoked, expired within the grace: want revoked, keyCompromise"; }
done
cmp -s "$tmp/expold1.der" "$tmp/expold2.der" &&
	fail "expired past the grace: the same bytes twice (kept in the cache)"
cmp -s "$tmp/expoldrev1.der" "$tmp/expoldrev2.der" &&
	fail "revoked, expired past the grace: the same bytes twice (kept in the cache)"
cmp -s "$tmp/exprev1.der" "$tmp/exprev2.der" ||
	fail "revoked, expired within the grace: not answered from the cache"
openssl ocsp -issuer "$pki/issuing.pem" -cert "$tmp/expold.pem" -no_nonce -reqout "$tmp/expold.req" >/dev/null 2>&1 ||
	fail "openssl ocsp -reqout"
o2 -issuer "$pki/issuing.pem" -serial 0x0123456789ABCDEF0124 | has ': unknown' ||
	fail "policy nonissued=unknown not honoured"
curl -sS -D "$tmp/get3.h" -o "$tmp/get3.der" "$url2/$b64"
check_caching "$tmp/get3.h" "$tmp/get3.der" 120 "GET, max_age_seconds = 120"
# urls.ocsp http://…/ocsp/: GET /ocsp/{base64} (and /ocsp//{base64}) is
# GET /{base64} (until 2026-12-07 every GET under it was malformedRequest,
# POST working); /ocsp alone is the responder's "/".
grep -q 'GET requests under /ocsp/' "$tmp/ocsp2.log" || fail "ocspd #2 does not log urls.ocsp's path"
for pfx in /ocsp/ /ocsp//; do
	code=$(curl -sS -o "$tmp/get3p.der" -w '%{http_code}' "$url2$pfx$b64")
	[ "$code" = 200 ] && cmp -s "$tmp/get3.der" "$tmp/get3p.der" ||
		fail "urls.ocsp with the path /ocsp: GET $pfx{base64}: HTTP $code, not the bytes of GET /{base64}"
done
code=$(curl -sS -o /dev/null -w '%{http_code}' "$url2/ocsp")
[ "$code" = 400 ] || fail "urls.ocsp with the path /ocsp: GET /ocsp: HTTP $code, want 400"
# A second ocspd on the same data: If-Modified-Since with the first
# instance's Last-Modified, or this one's, or later, gets the whole answer
# here too (this process knows nothing of the other's answers); the
# ETag of its own answer a 304.
code=$(cget ims1 "$url2/$b64" -H "If-Modified-Since: $lm")
[ "$code" = 200 ] && [ -s "$tmp/ims1.der" ] ||
	fail "ocspd #2, If-Modified-Since of ocspd #1's answer: HTTP $code, want 200 and an answer"
code=$(cget ims2 "$url2/$b64" -H "If-Modified-Since: $(hdr "$tmp/get3.h" Last-Modified)")
[ "$code" = 200 ] && cmp -s "$tmp/ims2.der" "$tmp/get3.der" ||
	fail "ocspd #2, If-Modified-Since equal to Last-Modified: HTTP $code, want 200 and the answer"
code=$(cget ims3 "$url2/$b64" -H "If-Modified-Since: $(date -u -d "$(hdr "$tmp/get3.h" Last-Modified) + 1 hour" \
	'+%A, %d-%b-%y %H:%M:%S GMT')")
[ "$code" = 200 ] && cmp -s "$tmp/ims3.der" "$tmp/get3.der" ||
	fail "ocspd #2, If-Modified-Since an hour later, RFC 850 form: HTTP $code, want 200 and the answer"
code=$(cget ims4 "$url2/$b64" -H "If-None-Match: $(hdr "$tmp/get3.h" ETag)")
[ "$code" = 304 ] || fail "ocspd #2, If-None-Match with its ETag: HTTP $code, want 304"
check_304 ims4 "$tmp/get3.h" "$tmp/get3.der" 120 "ocspd #2, If-None-Match"
# max_nonissued counts responses, not serials: a serial asked with SHA-256,
# SHA-384 and SHA-512 CertIDs holds three (with 0124's SHA-1 one: 4), so a
# third serial is answered but not kept.
for h in -sha256 -sha384 -sha512; do
	o2 $h -issuer "$pki/issuing.pem" -serial 0x0123456789ABCDEF0125 | has ': unknown' ||
		fail "never-issued $h: not unknown"
done
o2 -issuer "$pki/issuing.pem" -serial 0x0123456789ABCDEF0126 | has ': unknown' ||
	fail "never-issued over the bound: not answered"
# /health counts the cache once a second (ocsp_cache_stats), so it may be
# up to 2 s behind. No /health came between the never-issued requests
# above: no count can have seen 2 where a wrong bound keeps 3.
for _ in $(seq 30); do
	curl -sS "$url2/health" >"$tmp/h2"
	grep -q '"nonissued":2,' "$tmp/h2" && break
	sleep 0.1
done
grep -q '"nonissued":2,' "$tmp/h2" || { cat "$tmp/h2"; fail "max_nonissued = 4: want 2 never-issued serials kept (4 responses)"; }
# Nonces ignored: a plain one is not echoed, whatever its length (129
# octets too, as before RFC 9654); a critical one is not understood.
for n in 32 129; do
	curl -sS -o "$tmp/n${n}b.out" -H 'Content-Type: application/ocsp-request' --data-binary "@$tmp/n$n.req" "$url2/"
	resp_status "$tmp/n${n}b.out" | has 'successful' || fail "nonce=ignore: a $n-octet nonce request must be answered"
	openssl ocsp -respin "$tmp/n${n}b.out" -resp_text -noverify 2>/dev/null | has 'OCSP Nonce' &&
		fail "nonce=ignore: the $n-octet nonce was echoed"
done
curl -sS -o "$tmp/crit_nonce2.out" -H 'Content-Type: application/ocsp-request' --data-binary "@$tmp/crit_nonce.req" "$url2/"
resp_status "$tmp/crit_nonce2.out" | has 'malformedrequest' ||
	fail "nonce=ignore: a critical nonce (not understood) must be malformedRequest"
q "ALTER ROLE pki_ocsp NOLOGIN"
at_exit restore
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'pki_ocsp'" >/dev/null
t_cut=$(date +%s)	# no read of ocspd #2 after this
for _ in $(seq 50); do
	curl -s "$url2/health" >"$tmp/h2"
	grep -q '"database_ok":false' "$tmp/h2" && break
	sleep 0.1
done
grep -q '"database_ok":false' "$tmp/h2" || { cat "$tmp/h2"; fail "/health does not say the database is down"; }
grep -q '"status":"degraded"' "$tmp/h2" || { cat "$tmp/h2"; fail "/health: want degraded"; }
# Waiting for the database is not a busy loop: over 3 idle seconds (a
# reconnection attempt every 2 s) ocspd uses well under a second of CPU.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
t0=$(ticks "$ocsp2"); sleep 3; t1=$(ticks "$ocsp2")
[ $((t1 - t0)) -lt $(( $(getconf CLK_TCK) / 2 )) ] ||
	fail "ocspd #2 used $((t1 - t0)) clock ticks of CPU in 3 idle seconds while the database is down (busy loop)"
o2 -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -no_nonce | has 'sub1.pem: good' ||
	fail "outage: cached answer not served"
out=$(o2 -issuer "$pki/issuing.pem" -cert "$tmp/sub2.pem" -no_nonce -resp_text)
grep -q 'Reason: keyCompromise' <<<"$out" || fail "outage: cached revocation not served"
out=$(o2 -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem")
grep -q 'sub1.pem: good' <<<"$out" || { echo "$out"; fail "outage: nonce request not answered"; }
# Signed live during the outage (nonces are ignored here; two CertIDs are
# never answered from the cache), dated the last read, 3 s and more ago:
# never a thisUpdate the database did not confirm.
out=$(o2 -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -cert "$tmp/sub2.pem" -no_nonce -respout "$tmp/outlive.der")
grep -q 'sub1.pem: good' <<<"$out" && grep -q 'sub2.pem: revoked' <<<"$out" ||
	{ echo "$out"; fail "outage: two CertIDs (signed live) not answered"; }
[ "$(resp_time "$tmp/outlive.der" 'This Update')" -le "$t_cut" ] ||
	fail "outage: a live answer's thisUpdate is after the database went away"
o2 -issuer "$pki/root.pem" -cert "$pki/issuing.pem" -no_nonce | has 'issuing.pem: good' ||
	fail "outage: root responder"
# Not in the cache, the database away: tryLater, not "never issued".
curl -sS -o "$tmp/expold.out" -H 'Content-Type: application/ocsp-request' --data-binary "@$tmp/expold.req" "$url2/"
resp_status "$tmp/expold.out" | has 'trylater' ||
	{ resp_status "$tmp/expold.out"; fail "outage: expired past the grace: want tryLater"; }
restore
for _ in $(seq 60); do
	curl -s "$url2/health" >"$tmp/h2"
	grep -q '"database_ok":true' "$tmp/h2" && break
	sleep 0.1
done
grep -q '"database_ok":true' "$tmp/h2" || { cat "$tmp/h2" "$tmp/ocsp2.log"; fail "ocspd #2 did not reconnect"; }
kill -TERM "$ocsp2"
wait "$ocsp2" || { cat "$tmp/ocsp2.log"; fail "ocspd #2 exited non-zero on SIGTERM"; }

# --- responder certificates: the newest valid now signs --------------------------------
# Rows of ca_certificate for the issuing CA's responder key, as a rotation
# would add: one not yet valid (made ahead), one expired, both newer by
# notBefore than the ceremony's. ocspd took the newest by notBefore, whose
# answers relying parties reject; it must skip both. An issuer whose
# responder certificates are all invalid now stops it at start. The rows
# live only while an ocspd starts (pkictl lists every row).
# fake_responder NOT_BEFORE NOT_AFTER: hex of ocsp-issuing.pem's DER with
# that validity (epoch seconds; its signature no longer verifies, which
# ocspd, reading its own table, does not check).
fake_responder() {
	python3 - "$pki/ocsp-issuing.pem" "$1" "$2" <<'PY'
import base64, sys, time
pem = open(sys.argv[1]).read()
der = base64.b64decode("".join(l for l in pem.splitlines() if "-----" not in l))
utc = lambda t: b"\x17\x0d" + time.strftime("%y%m%d%H%M%SZ", time.gmtime(int(t))).encode()
i = der.index(b"\x17\x0d")    # Validity: two UTCTimes, notBefore first
assert der[i + 15:i + 17] == b"\x17\x0d"
print((der[:i] + utc(sys.argv[2]) + utc(sys.argv[3]) + der[i + 30:]).hex())
PY
}
# add_responder NAME ISSUER_ID NOT_BEFORE NOT_AFTER
add_responder() {
	q "INSERT INTO ca_certificate (name, role, key_id, issuer_id, serial, subject, issuer, not_before,
	       not_after, sha256, der)
	   SELECT '$1', 'ocsp', key_id, $2, upper(md5('$1')), subject, issuer, to_timestamp($3),
	       to_timestamp($4), 'test', decode('$(fake_responder "$3" "$4")', 'hex')
	   FROM ca_certificate WHERE name = 'ocsp-issuing'" >/dev/null || fail "adding responder $1"
}
drop_test_rows() { q "DELETE FROM ca_certificate WHERE name LIKE 'ocsp-test-%'" >/dev/null; }
at_exit "drop_test_rows 2>/dev/null || true"
now=$(date +%s)
fid=$(q "INSERT INTO ca_certificate (name, role, key_id, issuer_id, serial, subject, issuer, not_before,
	       not_after, sha256, der)
	   SELECT 'ocsp-test-issuer', 'issuing', key_id, issuer_id, 'F0000001', 'CN=ocsp test issuer',
	       issuer, not_before, not_after, 'test', der
	   FROM ca_certificate WHERE name = 'issuing' RETURNING id") || fail "adding a test issuer"
add_responder ocsp-test-expired "$fid" $((now - 7200)) $((now - 3600))
port=$(free_port)
st=0
PKI_OCSP_PORT=$port timeout 20 "$BUILD/ocspd" --config "$PKI_CONFIG" >"$tmp/ocsp4.log" 2>&1 || st=$?
drop_test_rows
[ "$st" = 1 ] && grep -q 'issuer ocsp-test-issuer: no OCSP responder certificate valid now' "$tmp/ocsp4.log" ||
	{ cat "$tmp/ocsp4.log"; fail "an issuer without a valid responder certificate: exit $st, want 1 and why"; }
grep -q 'Sanitizer' "$tmp/ocsp4.log" && { cat "$tmp/ocsp4.log"; fail "ocspd #4: a sanitizer report"; }
iss_id=$(q "SELECT issuer_id FROM ca_certificate WHERE name = 'ocsp-issuing'")
add_responder ocsp-test-next "$iss_id" $((now + 86400)) $((now + 91 * 86400))
# Expired a second ago, and newer by notBefore than the ceremony's, whose
# notBefore is the issuing CA's (the backdating stops there).
now=$(date +%s)
add_responder ocsp-test-expired "$iss_id" $((now - 2)) $((now - 1))

# --- live answers in flight together; on SIGTERM every one is answered -----------
# Each ocspd loop sends the signatures of the nonce requests it reads to its
# signer and answers them as the replies come (ocsp/main.c, ocspd_loop_run).
port=$(free_port)
PKI_OCSP_PORT=$port "$BUILD/ocspd" --config "$PKI_CONFIG" >"$tmp/ocsp5.log" 2>&1 &
ocsp5=$!
at_exit "kill $ocsp5 2>/dev/null || true"
for _ in $(seq 100); do
	curl -s "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
	kill -0 "$ocsp5" 2>/dev/null || { cat "$tmp/ocsp5.log"; fail "ocspd #5 died at start"; }
	sleep 0.1
done
live_reqs=()
for i in $(seq 0 23); do
	openssl ocsp -issuer "$pki/issuing.pem" -cert "$tmp/sub1.pem" -reqout "$tmp/live$i.req" >/dev/null 2>&1 ||
		fail "openssl ocsp -reqout"
	live_reqs+=("$tmp/live$i.req")
done
# live_verify DIR: answer i verifies, says good, and echoes request i's nonce
# (openssl checks it against -reqin; -cert would make a request of its own).
live_verify() {
	local i
	for i in $(seq 0 23); do
		openssl ocsp -reqin "$tmp/live$i.req" -respin "$1/$i.der" -verify_other "$pki/issuing.pem" \
			-CAfile "$pki/root.pem" -resp_text >"$1/$i.txt" 2>&1 || true
		grep -q '^Response verify OK' "$1/$i.txt" && grep -q 'Cert Status: good' "$1/$i.txt" &&
			! grep -qiE 'nonce (verify error|.*missing)|WARNING' "$1/$i.txt" ||
			{ cat "$1/$i.txt"; fail "in flight: answer $i does not verify, or not with request $i's nonce"; }
	done
}
mkdir "$tmp/live" "$tmp/livehold"
python3 "$(dirname "$0")/pipelined.py" --type application/ocsp-request --ext der \
	127.0.0.1 "$port" "$tmp/live" "${live_reqs[@]}" || fail "nonce requests in flight together"
live_verify "$tmp/live"
# Every signer stopped: 24 signatures wait, /health counts them, then SIGTERM.
python3 "$(dirname "$0")/pipelined.py" --type application/ocsp-request --ext der \
	127.0.0.1 "$port" "$tmp/livehold" "${live_reqs[@]}" \
	--hold "$(pgrep -P "$ocsp5" | paste -sd,)" "$ocsp5" || fail "SIGTERM with nonce requests in flight"
live_verify "$tmp/livehold"
st=0
wait "$ocsp5" || st=$?
[ "$st" = 0 ] || { cat "$tmp/ocsp5.log"; fail "ocspd #5 after SIGTERM with answers in flight: exit $st"; }
grep -q 'Sanitizer' "$tmp/ocsp5.log" && { cat "$tmp/ocsp5.log"; fail "ocspd #5: a sanitizer report"; }
note "24 nonce requests in flight together, and 24 held over SIGTERM: each answered"

# --- an ocspd whose signer dies stops (status 1) rather than serve on unable to sign ---
# (It starts with the rows above, and skips them.)
port=$(free_port)
PKI_OCSP_PORT=$port "$BUILD/ocspd" --config "$PKI_CONFIG" >"$tmp/ocsp3.log" 2>&1 &
ocsp3=$!
at_exit "kill $ocsp3 2>/dev/null || true"
for _ in $(seq 100); do
	curl -s "http://127.0.0.1:$port/health" >"$tmp/h3" 2>/dev/null && break
	kill -0 "$ocsp3" 2>/dev/null || { cat "$tmp/ocsp3.log"; drop_test_rows; fail "ocspd #3 died at start"; }
	sleep 0.1
done
drop_test_rows
for n in next expired; do
	grep -q "responder certificate ocsp-test-$n of issuing is not valid now" "$tmp/ocsp3.log" ||
		{ cat "$tmp/ocsp3.log"; fail "ocspd #3 did not skip ocsp-test-$n"; }
done
want=$(date -d "$(openssl x509 -in "$pki/ocsp-issuing.pem" -noout -enddate | cut -d= -f2)" +%s)
got=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["responder_not_after"]["issuing"])' <"$tmp/h3")
[ "$got" = "$want" ] || { cat "$tmp/h3"; fail "/health: the issuing responder's notAfter $got, want $want (ocsp-issuing)"; }
out=$(ocsp_client -url "http://127.0.0.1:$port" -CAfile "$pki/root.pem" -issuer "$pki/issuing.pem" \
	-cert "$tmp/sub1.pem" -resp_text)
grep -q '^Response verify OK' <<<"$out" && grep -q 'sub1.pem: good' <<<"$out" ||
	{ echo "$out"; fail "ocspd #3: its answer does not verify (a responder certificate not valid now?)"; }
# SIGHUP changes nothing (responder certificates are read at start only)
# and says so.
kill -HUP "$ocsp3"
for _ in $(seq 30); do grep -q 'SIGHUP' "$tmp/ocsp3.log" && break; sleep 0.1; done
grep -q 'SIGHUP: .*restart it to take a new one' "$tmp/ocsp3.log" || { cat "$tmp/ocsp3.log"; fail "SIGHUP: not logged"; }
curl -sS "http://127.0.0.1:$port/health" | has '"database_ok":true' || fail "ocspd #3 not serving after SIGHUP"
signer=$(pgrep -P "$ocsp3" | sed -n 1p)
[ -n "$signer" ] || fail "ocspd #3 has no signer process"
kill -KILL "$signer"
st=0
for _ in $(seq 100); do kill -0 "$ocsp3" 2>/dev/null || break; sleep 0.1; done
wait "$ocsp3" || st=$?
[ "$st" = 1 ] || { cat "$tmp/ocsp3.log"; fail "ocspd #3 after its signer was killed: exit $st, want 1"; }
grep -q "child process $signer (the signer) ended: stopping" "$tmp/ocsp3.log" ||
	{ cat "$tmp/ocsp3.log"; fail "ocspd #3 did not say why it stopped"; }
note ok
