#!/usr/bin/env bash
# crld and `pkictl crl arl`, judged by independent clients: openssl crl and
# verify (-crl_check, -use_deltas, -crl_check_all), GnuTLS certtool,
# ldapsearch and curl. A revocation reaches the served CRL within seconds;
# the delta carries exactly what changed since its base (a released hold as
# removeFromCRL); numbers only grow; HTTP, files and LDAP hold the same
# bytes; bad requests get 4xx.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
B=${PKI_CRL_URL%/issuing.crl}
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
fetch() { curl -fsS --max-time 10 -o "$2" "$B/$1" || fail "GET $B/$1"; }
# crlnum FILE: the CRL number (decimal); basenum FILE: the Delta CRL Indicator.
crlnum() { echo $((16#$(openssl crl -inform DER -in "$1" -noout -crlnumber | cut -d= -f2 | sed 's/^0x//'))); }
basenum() {
	openssl crl -inform DER -in "$1" -noout -text |
		sed -n '/Delta CRL Indicator/{n;s/[^0-9]//g;p;q}'
}
# serials FILE: the revoked serials, sorted, one a line.
serials() {
	openssl crl -inform DER -in "$1" -noout -text |
		sed -n 's/^ *Serial Number: *//p' | sort
}
# entry FILE SERIAL: the text of one entry (to its last extension).
entry() {
	openssl crl -inform DER -in "$1" -noout -text |
		awk -v s="$2" '/Serial Number:/ { on = ($3 == s) } on { print }'
}
pem() { openssl crl -inform DER -in "$1" -out "$1.pem"; }

# The stack's crld started with no CRL of issuing (a fresh CA): its first
# was the base, not a delta that needs one (an error line every fresh
# `make up` showed until 2026-12-06).
grep -q '"issued base CRL 1 of issuing' "$PKI_STACK_DIR/log/crl.log" ||
	fail "the stack's crld did not issue base CRL 1 of issuing first"
! grep -q 'no base CRL of issuing yet' "$PKI_STACK_DIR/log/crl.log" ||
	fail "a fresh crld tried a delta before its first base: $(grep 'no base CRL' "$PKI_STACK_DIR/log/crl.log")"
ca_cert() { openssl x509 -in "$1" -outform DER -out "$2"; }
newcert() { # newcert NAME: issues a subscriber certificate into $tmp/NAME.pem, prints its serial
	local s
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/$1.key" -subj "/C=ID/CN=CRL test $1" -out "$tmp/$1.csr" 2>/dev/null
	pkictl cert issue --profile subscriber --csr "$tmp/$1.csr" --out "$tmp/$1.pem" ||
		fail "pkictl cert issue $1"
	s=$(openssl x509 -noout -serial -in "$tmp/$1.pem" | cut -d= -f2)
	echo "$s"
}
verify_with() { # verify_with CERT CRLFILE... (PEM): openssl verify -crl_check
	local cert=$1
	shift
	cat "$@" >"$tmp/crls.pem"
	openssl verify -crl_check -use_deltas -CRLfile "$tmp/crls.pem" -CAfile "$PKI_ROOT_CERT" \
		-untrusted "$PKI_ISSUING_CERT" "$cert" >"$tmp/verify.out" 2>&1
}
# wait_full PRED: polls the served complete CRL (into $tmp/cur.crl) until
# PRED succeeds, for at most 10 s; prints the seconds it took.
wait_for() {
	local t0 i
	t0=$(date +%s.%N)
	for ((i = 0; i < 100; i++)); do
		if "$@"; then
			awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
			return 0
		fi
		sleep 0.1
	done
	return 1
}
ca_cert "$PKI_ROOT_CERT" "$tmp/root.der"
ca_cert "$PKI_ISSUING_CERT" "$tmp/issuing.der"

# --- what is served, and how ----------------------------------------------------------
for f in issuing.crl issuing-delta.crl root.crl root.crt issuing.crt; do
	curl -fsS --max-time 10 -D "$tmp/h" -o "$tmp/$f" "$B/$f" || fail "GET /crl/$f"
	case $f in *.crl) ct=application/pkix-crl ;; *) ct=application/pkix-cert ;; esac
	grep -qi "^Content-Type: $ct" "$tmp/h" || fail "$f: not $ct"
	for h in Last-Modified Expires ETag 'Cache-Control: public, max-age='; do
		grep -qi "^$h" "$tmp/h" || fail "$f: no $h header"
	done
done
# Expires is now + max-age, not nextUpdate: a cache honouring only Expires
# would keep a CRL past revocations (until 2026-12-05 for up to 24 h).
# The clock is read before and after the request, and crld's reading lies
# between: with one reading after it, a test held up there for two
# seconds (a loaded machine) would fail a correct Expires.
for f in issuing.crl issuing-delta.crl; do
	t1=$(date +%s)
	curl -fsS --max-time 10 -D "$tmp/h" -o /dev/null "$B/$f" || fail "GET /crl/$f"
	now=$(date +%s)
	age=$(sed -n 's/^Cache-Control:.*max-age=\([0-9]*\).*/\1/Ip' "$tmp/h")
	exp=$(date -d "$(sed -n 's/^Expires: *//Ip' "$tmp/h" | tr -d '\r')" +%s) || fail "$f: bad Expires"
	[ -n "$age" ] && [ "$exp" -le $((now + age + 1)) ] && [ "$exp" -ge $((t1 + age - 2)) ] ||
		fail "$f: Expires is $((exp - now)) s ahead, Cache-Control max-age=$age (request from $t1 to $now)"
done
cmp -s "$tmp/root.crt" "$tmp/root.der" || fail "root.crt is not the root certificate"
cmp -s "$tmp/issuing.crt" "$tmp/issuing.der" || fail "issuing.crt is not the issuing CA certificate"
# Conditional GET, by If-None-Match alone: If-Modified-Since is ignored
# (crl/README.md), since a CRL issued in the second of the last one has its
# Last-Modified. crld may publish a new CRL meanwhile (its schedule, or a
# revocation of an earlier test): then the ETag changed under the checks and
# they run again; a refusal is only reported for an ETag that held.
cur_etag() { curl -fsS -D - -o /dev/null "$B/issuing.crl" | sed -n 's/^ETag: *//Ip' | tr -d '\r'; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@" "$B/issuing.crl"; }
httpdate() { date -u -d "$1" '+%a, %d %b %Y %H:%M:%S GMT'; }
for attempt in 1 2 3 4 5; do
	why=
	curl -fsS -D "$tmp/h200" -o "$tmp/cond.crl" "$B/issuing.crl" || fail "GET $B/issuing.crl"
	etag=$(sed -n 's/^ETag: *//Ip' "$tmp/h200" | tr -d '\r')
	lastmod=$(sed -n 's/^Last-Modified: *//Ip' "$tmp/h200" | tr -d '\r')
	[ "$(code -H "If-None-Match: $etag")" = 304 ] || why="If-None-Match with the current ETag: not 304"
	# RFC 9110 §13.1.2: weak comparison, lists; a 304's Content-Length is the 200's (§8.6).
	for inm in "W/$etag" "\"other\", $etag" '*'; do
		[ "$(code -H "If-None-Match: $inm")" = 304 ] || why="If-None-Match: $inm: not 304"
	done
	[ "$(code -H 'If-None-Match: "other"')" = 200 ] || why="If-None-Match with another ETag: not 200"
	len200=$(curl -fsS "$B/issuing.crl" | wc -c)
	curl -s -D "$tmp/h304" -o /dev/null -H "If-None-Match: $etag" "$B/issuing.crl"
	len304=$(sed -n 's/^Content-Length: *//Ip' "$tmp/h304" | tr -d '\r')
	[ -z "$len304" ] || [ "$len304" = "$len200" ] || why="a 304 says Content-Length $len304, the CRL has $len200 bytes"
	# If-Modified-Since equal to Last-Modified, or after it: the whole CRL.
	for ims in "$lastmod" "$(httpdate "$lastmod + 1 second")" "$(httpdate '+1 hour')"; do
		c=$(curl -s -o "$tmp/ims.crl" -w '%{http_code}' -H "If-Modified-Since: $ims" "$B/issuing.crl")
		[ "$c" = 200 ] && cmp -s "$tmp/ims.crl" "$tmp/cond.crl" ||
			why="If-Modified-Since: $ims (Last-Modified $lastmod): $c, not 200 with the CRL"
	done
	[ "$(code -H "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT")" = 200 ] ||
		why="If-Modified-Since long ago: not 200"
	# If-None-Match decides, whatever If-Modified-Since says.
	[ "$(code -H "If-None-Match: $etag" -H "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT")" = 304 ] ||
		why="If-None-Match with the current ETag and an old If-Modified-Since: not 304"
	[ "$(code -H 'If-None-Match: "other"' -H "If-Modified-Since: $lastmod")" = 200 ] ||
		why="If-None-Match with another ETag and If-Modified-Since = Last-Modified: not 200"
	[ "$(cur_etag)" = "$etag" ] && break	# the CRL held: the verdict stands
	why="the CRL changed during each of $attempt attempts"
done
[ -z "$why" ] || fail "$why"
# The URLs in our certificates are the ones served, and the CRLs say so (IDP).
s0=$(newcert zero)
text=$(openssl x509 -in "$tmp/zero.pem" -noout -text)
grep -qF "URI:$B/issuing.crl" <<<"$text" || fail "certificate CDP is not $B/issuing.crl"
grep -qF "URI:$B/issuing-delta.crl" <<<"$text" || fail "certificate freshestCRL is not the delta URL"
grep -qF "CA Issuers - URI:$B/issuing.crt" <<<"$text" || fail "certificate caIssuers is not $B/issuing.crt"
openssl x509 -in "$PKI_ISSUING_CERT" -noout -text | has -F "URI:$B/root.crl" ||
	fail "the issuing CA's CDP is not $B/root.crl"

# --- every CRL verifies with openssl and certtool ---------------------------------------
openssl crl -in "$tmp/issuing.crl" -inform DER -CAfile "$PKI_CHAIN" -noout 2>&1 | has 'verify OK' ||
	fail "openssl crl: issuing.crl does not verify"
openssl crl -in "$tmp/issuing-delta.crl" -inform DER -CAfile "$PKI_CHAIN" -noout 2>&1 | has 'verify OK' ||
	fail "openssl crl: issuing-delta.crl does not verify"
openssl crl -in "$tmp/root.crl" -inform DER -CAfile "$PKI_ROOT_CERT" -noout 2>&1 | has 'verify OK' ||
	fail "openssl crl: root.crl (ARL) does not verify against the root"
# A CRL checked against the wrong issuer must fail (the check above can fail).
if openssl crl -in "$tmp/issuing.crl" -inform DER -CAfile "$PKI_ROOT_CERT" -noout >/dev/null 2>&1; then
	fail "issuing.crl verified against the root alone"
fi
for c in issuing.crl:issuing.der issuing-delta.crl:issuing.der root.crl:root.der; do
	certtool --crl-info --inder --infile "$tmp/${c%%:*}" >"$tmp/ct.out" 2>&1 ||
		{ cat "$tmp/ct.out"; fail "certtool --crl-info ${c%%:*}"; }
	certtool --verify-crl --load-ca-certificate "$tmp/${c#*:}" --inder \
		--infile "$tmp/${c%%:*}" >"$tmp/ct.out" 2>&1 || true
	grep -q 'Verification output: Verified' "$tmp/ct.out" ||
		{ cat "$tmp/ct.out"; fail "certtool --verify-crl ${c%%:*}"; }
done
text=$(openssl crl -inform DER -in "$tmp/issuing.crl" -noout -text)
for want in "Issuing Distribution Point: critical" "URI:$B/issuing.crl" "Freshest CRL" \
    "URI:$B/issuing-delta.crl" "Authority Key Identifier" "CRL Number"; do
	grep -qF -- "$want" <<<"$text" || fail "issuing.crl lacks: $want"
done
text=$(openssl crl -inform DER -in "$tmp/issuing-delta.crl" -noout -text)
grep -qF "Delta CRL Indicator: critical" <<<"$text" || fail "delta lacks a critical Delta CRL Indicator"
# OpenSSL pairs a delta with its base only when their IDPs are identical.
grep -qF "URI:$B/issuing.crl" <<<"$text" || fail "delta IDP is not the base's"
if grep -q "Freshest CRL" <<<"$text"; then fail "a delta carries Freshest CRL"; fi
[ "$(openssl crl -inform DER -in "$tmp/issuing.crl" -noout -issuer)" = \
  "issuer=$(openssl x509 -in "$PKI_ISSUING_CERT" -noout -subject | sed 's/^subject=//')" ] ||
	fail "CRL issuer is not the issuing CA's subject"
# Files: what crld wrote is what it serves.
fetch issuing.crl "$tmp/now.crl"
wait_for cmp -s "$PKI_DIR/pki/crl/issuing.crl" "$tmp/now.crl" >/dev/null ||
	fail "$PKI_DIR/pki/crl/issuing.crl differs from the served CRL"
cmp -s "$PKI_DIR/pki/crl/root.crl" "$tmp/root.crl" || fail "$PKI_DIR/pki/crl/root.crl differs from the served ARL"

# --- a fresh base CRL (SIGHUP), then a good certificate verifies against it -----------------
pid=$(pidfile_of "$PKI_STACK_DIR" crl)
[ -n "$pid" ] || fail "no crld PID file"
before=$(q "SELECT coalesce(max(number), 0) FROM crl WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = 'issuing')")
kill -HUP "$pid"
base_ready() {
	fetch issuing.crl "$tmp/base.crl" && fetch issuing-delta.crl "$tmp/d.crl" &&
		[ "$(crlnum "$tmp/base.crl")" -gt "$before" ] &&
		[ "$(basenum "$tmp/d.crl")" = "$(crlnum "$tmp/base.crl")" ]
}
wait_for base_ready >/dev/null || fail "no new base CRL and delta within 10 s of SIGHUP"
# A base that fails (here the database refuses the crl row) is retried as a
# base once the fault is gone, within seconds, not at the next scheduled
# one (crl.full_interval later) while nothing is revoked.
at_exit "q 'DROP TRIGGER IF EXISTS test_crl_refuse ON crl; DROP FUNCTION IF EXISTS test_crl_refuse()' >/dev/null 2>&1"
q "CREATE FUNCTION test_crl_refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN RAISE EXCEPTION 'test_crl: CRLs refused for a moment'; END \$\$;
   CREATE TRIGGER test_crl_refuse BEFORE INSERT ON crl FOR EACH ROW EXECUTE FUNCTION test_crl_refuse()" >/dev/null
before=$(crlnum "$tmp/base.crl")
lines=$(wc -l <"$PKI_STACK_DIR/log/crl.log")
kill -HUP "$pid"
refused() { tail -n +"$((lines + 1))" "$PKI_STACK_DIR/log/crl.log" | grep -q 'CRLs refused for a moment'; }
wait_for refused >/dev/null || fail "crld did not try a base CRL after SIGHUP (log/crl.log)"
q 'DROP TRIGGER test_crl_refuse ON crl; DROP FUNCTION test_crl_refuse()' >/dev/null
t=$(wait_for base_ready) || fail "a failed base CRL was not retried within 10 s of the fault's end"
note "a failed base CRL retried ${t}s after the fault ended"
bn=$(crlnum "$tmp/base.crl")
[ "$(q "SELECT is_base FROM crl WHERE number = $bn AND issuer_id = (SELECT id FROM ca_certificate WHERE name = 'issuing')")" = t ] ||
	fail "CRL $bn is not recorded as a base"
[ -z "$(serials "$tmp/d.crl")" ] || fail "a delta right after its base lists: $(serials "$tmp/d.crl")"
pem "$tmp/base.crl"
s1=$(newcert one)
s2=$(newcert two)
verify_with "$tmp/one.pem" "$tmp/base.crl.pem" || { cat "$tmp/verify.out"; fail "a good certificate fails -crl_check"; }

# --- revocation: listed within seconds, with reason and invalidity date ---------------------
pkictl cert revoke --serial "$s1" --reason keyCompromise --invalidity-date 2026-11-01T00:00:00Z >/dev/null ||
	fail "revoke"
listed() { fetch issuing.crl "$tmp/full.crl" && serials "$tmp/full.crl" | has -x "$s1"; }
took=$(wait_for listed) || fail "revoked $s1 not on the served CRL within 10 s"
awk -v t="$took" 'BEGIN { exit !(t <= 5) }' || fail "revocation took ${took}s to reach the CRL (want <= 5 s)"
note "revocation listed after ${took}s"
e=$(entry "$tmp/full.crl" "$s1")
grep -q 'Key Compromise' <<<"$e" || fail "entry lacks reason keyCompromise: $e"
grep -q 'Invalidity Date' <<<"$e" && grep -q 'Nov  1 00:00:00 2026 GMT' <<<"$e" ||
	fail "entry lacks the invalidity date: $e"
pem "$tmp/full.crl"
if verify_with "$tmp/one.pem" "$tmp/full.crl.pem"; then fail "openssl verify -crl_check accepts a revoked certificate"; fi
grep -q 'certificate revoked' "$tmp/verify.out" || { cat "$tmp/verify.out"; fail "rejected, but not as revoked"; }
verify_with "$tmp/two.pem" "$tmp/full.crl.pem" || { cat "$tmp/verify.out"; fail "a good certificate fails with the new CRL"; }
[ "$(crlnum "$tmp/full.crl")" -gt "$bn" ] || fail "CRL number did not grow after the base"
# Entries carry no reason for unspecified (RFC 5280 §5.3.1).
s3=$(newcert three)
pkictl cert revoke --serial "$s3" --reason unspecified >/dev/null || fail "revoke unspecified"
listed3() { fetch issuing.crl "$tmp/full3.crl" && serials "$tmp/full3.crl" | has -x "$s3"; }
wait_for listed3 >/dev/null || fail "$s3 not listed within 10 s"
if entry "$tmp/full3.crl" "$s3" | has 'Reason Code'; then fail "unspecified carries a reason code"; fi

# --- hold, then release: the delta says removeFromCRL ---------------------------------------
pkictl cert revoke --serial "$s2" --reason certificateHold >/dev/null || fail "hold"
held() { fetch issuing.crl "$tmp/full2.crl" && serials "$tmp/full2.crl" | has -x "$s2"; }
wait_for held >/dev/null || fail "hold not listed within 10 s"
entry "$tmp/full2.crl" "$s2" | has 'Certificate Hold' || fail "hold entry lacks certificateHold"
pkictl cert release --serial "$s2" >/dev/null || fail "release"
released() {
	fetch issuing.crl "$tmp/full4.crl" && fetch issuing-delta.crl "$tmp/delta.crl" &&
		openssl crl -inform DER -in "$tmp/full4.crl" -noout 2>/dev/null &&
		! serials "$tmp/full4.crl" | has -x "$s2" &&
		entry "$tmp/delta.crl" "$s2" | has 'Remove From CRL'
}
wait_for released >/dev/null || fail "release: not off the complete CRL, or no removeFromCRL in the delta, within 10 s"

# --- the delta: on the base, exactly what changed since it ------------------------------------
[ "$(basenum "$tmp/delta.crl")" = "$bn" ] || fail "delta refers to base $(basenum "$tmp/delta.crl"), want $bn"
[ "$(crlnum "$tmp/delta.crl")" -gt "$(crlnum "$tmp/full2.crl")" ] || fail "delta number not above the complete CRLs before it"
openssl crl -in "$tmp/delta.crl" -inform DER -CAfile "$PKI_CHAIN" -noout 2>&1 | has 'verify OK' ||
	fail "openssl crl: the delta does not verify"
want=$(printf '%s\n' "$s1" "$s2" "$s3" | sort)
[ "$(serials "$tmp/delta.crl")" = "$want" ] ||
	fail "delta lists [$(serials "$tmp/delta.crl" | tr '\n' ' ')], want exactly [$(tr '\n' ' ' <<<"$want")]"
# Revocations before the base (e.g. test_cert's) are on the base, not the delta.
old=$(serials "$tmp/base.crl")
for s in $old; do
	if serials "$tmp/delta.crl" | has -x "$s"; then fail "delta repeats $s from before its base"; fi
done
# Base + delta: OpenSSL applies the delta (the base alone does not know).
pem "$tmp/delta.crl"
verify_with "$tmp/one.pem" "$tmp/base.crl.pem" || fail "the base alone rejects a certificate revoked after it"
if verify_with "$tmp/one.pem" "$tmp/base.crl.pem" "$tmp/delta.crl.pem"; then
	fail "openssl verify -use_deltas: base + delta accept a revoked certificate"
fi
grep -q 'certificate revoked' "$tmp/verify.out" || { cat "$tmp/verify.out"; fail "base + delta: not rejected as revoked"; }
verify_with "$tmp/two.pem" "$tmp/base.crl.pem" "$tmp/delta.crl.pem" ||
	{ cat "$tmp/verify.out"; fail "base + delta reject a released certificate"; }
certtool --verify-crl --load-ca-certificate "$tmp/issuing.der" --inder --infile "$tmp/delta.crl" \
	>"$tmp/ct.out" 2>&1 || true
grep -q 'Verification output: Verified' "$tmp/ct.out" || { cat "$tmp/ct.out"; fail "certtool rejects the delta"; }

# --- a hold made a revocation: its invalidity date is the hold's time -------------------------
# Until 2026-12-07 a certificate held, then revoked keyCompromise, was
# listed (and answered by OCSP) with the revocation's time and no
# invalidityDate: a validator judging a signature made during the hold
# (PAdES LTV) took it as made by a valid certificate. Now (schema/116) the
# entry's invalidityDate is the hold's time, and its revocationDate stays
# the revocation's (not moved back).
s5=$(newcert five)
pkictl cert revoke --serial "$s5" --reason certificateHold >/dev/null || fail "hold $s5"
hold_at=$(q "SELECT floor(extract(epoch FROM revoked_at)) FROM certificate WHERE serial = '$s5'")
sleep 1.2
pkictl cert revoke --serial "$s5" --reason keyCompromise >/dev/null || fail "revoke $s5, on hold"
[ "$(q "SELECT floor(extract(epoch FROM invalidity_date)) || ' ' || (revoked_at > invalidity_date) FROM certificate WHERE serial = '$s5'")" = "$hold_at true" ] ||
	fail "the revocation of $s5, on hold since $hold_at: invalidity_date, revoked_at: $(q "SELECT invalidity_date, revoked_at FROM certificate WHERE serial = '$s5'")"
epoch_after() { # epoch_after LABEL TEXT: the date on the line after LABEL, as Unix time
	date -u -d "$(grep -A1 "$1" <<<"$2" | tail -1 | sed 's/^ *//')" +%s
}
revoked5() { fetch issuing.crl "$tmp/full5.crl" && entry "$tmp/full5.crl" "$s5" | has 'Key Compromise'; }
wait_for revoked5 >/dev/null || fail "$s5 not listed keyCompromise within 10 s"
e=$(entry "$tmp/full5.crl" "$s5")
grep -q 'Invalidity Date' <<<"$e" || fail "the CRL entry of $s5, held then revoked, has no invalidity date: $e"
[ "$(epoch_after 'Invalidity Date' "$e")" = "$hold_at" ] ||
	fail "the CRL entry of $s5: invalidity date is not the hold's time ($(date -u -d "@$hold_at")): $e"
rev5=$(date -u -d "$(sed -n 's/^ *Revocation Date: *//p' <<<"$e")" +%s)
[ "$rev5" -gt "$hold_at" ] || fail "the CRL entry of $s5: revocation date moved back to the hold's: $e"
revoked5d() { fetch issuing-delta.crl "$tmp/delta5.crl" && entry "$tmp/delta5.crl" "$s5" | has 'Key Compromise'; }
wait_for revoked5d >/dev/null || fail "$s5 not on the delta keyCompromise within 10 s"
[ "$(epoch_after 'Invalidity Date' "$(entry "$tmp/delta5.crl" "$s5")")" = "$hold_at" ] ||
	fail "the delta's entry of $s5 lacks the hold's time: $(entry "$tmp/delta5.crl" "$s5")"
for _ in $(seq 50); do
	out=$(ocsp_client -url "$PKI_OCSP_URL" -CAfile "$PKI_ROOT_CERT" -issuer "$PKI_ISSUING_CERT" \
	    -cert "$tmp/five.pem" -resp_text)
	grep -q 'Reason: keyCompromise' <<<"$out" && break
	sleep 0.1
done
grep -q 'Reason: keyCompromise' <<<"$out" || { echo "$out"; fail "OCSP: $s5 is not revoked keyCompromise"; }
grep -q 'Invalidity Date' <<<"$out" || { echo "$out"; fail "OCSP: the revocation of $s5, on hold, has no invalidity date"; }
[ "$(epoch_after 'Invalidity Date' "$out")" = "$hold_at" ] ||
	{ echo "$out"; fail "OCSP: the invalidity date of $s5 is not the hold's time"; }
[ "$(q "SELECT floor(extract(epoch FROM (e.details->>'invalidity_date')::timestamptz)) FROM audit_event e
    JOIN certificate c ON e.object_id = c.id::text WHERE e.object_type = 'certificate'
    AND e.action = 'cert.revoke' AND c.serial = '$s5' AND e.details->>'reason' = 'keyCompromise'")" = "$hold_at" ] ||
	fail "the revocation event of $s5 does not record the hold's time as its invalidity date"
note "a hold made keyCompromise: CRL, delta and OCSP give the hold's time as invalidityDate"

# --- numbers: unique, growing, recorded and audited --------------------------------------------
iss="(SELECT id FROM ca_certificate WHERE name = 'issuing')"
[ "$(q "SELECT count(*) = count(DISTINCT number) AND max(number) < (SELECT next_number FROM crl_state WHERE issuer_id = $iss) FROM crl WHERE issuer_id = $iss")" = t ] ||
	fail "CRL numbers repeat or run ahead of crl_state"
[ "$(q "SELECT bool_and(this_update >= prev) FROM (SELECT this_update, lag(this_update, 1, '-infinity') OVER (ORDER BY number) AS prev FROM crl WHERE issuer_id = $iss) s")" = t ] ||
	fail "a higher CRL number has an earlier thisUpdate"
[ "$(q "SELECT sha256 FROM crl WHERE issuer_id = $iss AND number = $(crlnum "$tmp/delta.crl")")" = \
  "$(sha256sum <"$tmp/delta.crl" | cut -d' ' -f1)" ] || fail "the crl row's sha256 is not the served delta's"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'crl.issue' AND object_id = 'issuing:$(crlnum "$tmp/delta.crl")'")" = 1 ] ||
	fail "delta issuance not audited"

# --- LDAP: the directory holds the bytes HTTP serves ---------------------------------------------
ldap_attr() { # ldap_attr DN ATTR OUT
	ldapsearch -x -LLL -o ldif-wrap=no -H "$PKI_LDAP_URI" -b "$1" -s base "$2" 2>/dev/null |
		sed -n "s/^$2:: //p" | base64 -d >"$3" 2>/dev/null
}
cn_of() { openssl x509 -in "$1" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p'; }
idn="cn=$(cn_of "$PKI_ISSUING_CERT"),$PKI_LDAP_BASE"
rdn="cn=$(cn_of "$PKI_ROOT_CERT"),$PKI_LDAP_BASE"
in_ldap() {
	fetch issuing.crl "$tmp/h.crl" && fetch issuing-delta.crl "$tmp/h.delta" &&
		ldap_attr "$idn" 'certificateRevocationList;binary' "$tmp/l.crl" &&
		ldap_attr "$idn" 'deltaRevocationList;binary' "$tmp/l.delta" &&
		cmp -s "$tmp/h.crl" "$tmp/l.crl" && cmp -s "$tmp/h.delta" "$tmp/l.delta"
}
wait_for in_ldap >/dev/null || fail "ldapsearch: the directory's CRLs differ from the served ones (10 s)"
openssl crl -in "$tmp/l.crl" -inform DER -CAfile "$PKI_CHAIN" -noout 2>&1 | has 'verify OK' ||
	fail "the CRL from LDAP does not verify"

# --- the ARL: made by pkictl at a ceremony, verified, served, in the directory ---------------
rootid="(SELECT id FROM ca_certificate WHERE name = 'root')"
n0=$(crlnum "$tmp/root.crl")
pkictl crl arl >"$tmp/arl.out" || fail "pkictl crl arl"
arl_new() { fetch root.crl "$tmp/root2.crl" && [ "$(crlnum "$tmp/root2.crl")" -gt "$n0" ]; }
wait_for arl_new >/dev/null || fail "crld does not serve the new ARL within 10 s"
openssl crl -in "$tmp/root2.crl" -inform DER -CAfile "$PKI_ROOT_CERT" -noout 2>&1 | has 'verify OK' ||
	fail "the new ARL does not verify against the root"
# No IDP on the ARL: the root (no CDP) is checked against it by -crl_check_all.
if openssl crl -inform DER -in "$tmp/root2.crl" -noout -text | has 'Issuing Distribution Point'; then
	fail "the ARL carries an IDP (puts the root out of its scope)"
fi
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'crl.issue' AND object_id = 'root:$(crlnum "$tmp/root2.crl")'")" = 1 ] ||
	fail "ARL not audited"
[ "$(q "SELECT count(*) FROM crl WHERE issuer_id = $rootid")" -ge 2 ] || fail "ARLs not recorded"
arl_ldap() {
	ldap_attr "$rdn" 'authorityRevocationList;binary' "$tmp/l.arl" && cmp -s "$tmp/l.arl" "$tmp/root2.crl" &&
		ldap_attr "$rdn" 'certificateRevocationList;binary' "$tmp/l.arl2" && cmp -s "$tmp/l.arl2" "$tmp/root2.crl"
}
wait_for arl_ldap >/dev/null || fail "the root's entry lacks the new ARL (authorityRevocationList, certificateRevocationList)"
# The whole chain checked against CRLs: the ARL covers the issuing CA.
pem "$tmp/root2.crl"
pem "$tmp/h.crl"
cat "$tmp/root2.crl.pem" "$tmp/h.crl.pem" >"$tmp/all.pem"
openssl verify -crl_check_all -CRLfile "$tmp/all.pem" -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" \
	"$tmp/zero.pem" >"$tmp/verify.out" 2>&1 || { cat "$tmp/verify.out"; fail "-crl_check_all with the ARL"; }
certtool --verify-crl --load-ca-certificate "$tmp/root.der" --inder --infile "$tmp/root2.crl" \
	>"$tmp/ct.out" 2>&1 || true
grep -q 'Verification output: Verified' "$tmp/ct.out" || { cat "$tmp/ct.out"; fail "certtool rejects the ARL"; }

# --- the directory keeps the newest CRL of an entry, whatever order rows are retried in ----------
# Two queue rows for one test entry: the older ARL ($tmp/root.crl), waiting
# out a back-off, and the newer ($tmp/root2.crl). Publishing the newer
# retires the older; an older row whose newer one is already done is
# skipped (superseded), never written over it.
pdn1="cn=Publish Order $$ A,$PKI_LDAP_BASE"
pdn2="cn=Publish Order $$ B,$PKI_LDAP_BASE"
# A failure half-way must not leave a pending row for later tests' publish_all.
at_exit "q \"UPDATE publish_queue SET done_at = now() WHERE done_at IS NULL AND dn IN ('$pdn1', '$pdn2')\" >/dev/null || true"
at_exit "ldapdelete -x -H '$PKI_LDAP_URI' -D 'cn=admin,$PKI_LDAP_BASE' -y '$PKI_DIR/secrets/ldap-admin.pw' '$pdn1' '$pdn2' >/dev/null 2>&1 || true"
hexof() { od -An -v -tx1 "$1" | tr -d ' \n'; }
queue_row() { # queue_row DN FILE EXTRA-COLUMNS EXTRA-VALUES: the new row's id
	q "INSERT INTO publish_queue (dn, attribute, der${3:-}) VALUES ('$1', 'certificateRevocationList;binary',
	    decode('$(hexof "$2")', 'hex')${4:-}) RETURNING id"
}
old1=$(queue_row "$pdn1" "$tmp/root.crl" ", next_attempt_at" ", now() + interval '1 hour'")
new1=$(queue_row "$pdn1" "$tmp/root2.crl")
publish_all
ldap_attr "$pdn1" 'certificateRevocationList;binary' "$tmp/p1.crl" && cmp -s "$tmp/p1.crl" "$tmp/root2.crl" ||
	fail "the directory does not hold the newer of two queued CRLs"
[ "$(q "SELECT count(*) FROM publish_queue WHERE id IN ($old1, $new1) AND done_at IS NOT NULL")" = 2 ] ||
	fail "publishing row $new1 did not retire the older row $old1 of its entry"
# Done, a CRL row keeps no DER (schema/046): both are emptied.
[ "$(q "SELECT count(*) FROM publish_queue WHERE id IN ($old1, $new1) AND der IS NULL")" = 2 ] ||
	fail "a done CRL row of the queue still holds its DER"
# An older row still pending after a newer one of its entry is done: its
# transaction queued it first and committed after the newer row was
# published (a done row gets no DER back, schema/081).
open_tx
echo "BEGIN; INSERT INTO publish_queue (dn, attribute, der) VALUES ('$pdn1', 'certificateRevocationList;binary',
    decode('$(hexof "$tmp/root.crl")', 'hex')) RETURNING id;" >&"$tx_in"
read -r -t 10 old1 <&"$tx_out" && [[ $old1 =~ ^[0-9]+$ ]] || fail "the open transaction did not queue a row: $old1"
new1=$(queue_row "$pdn1" "$tmp/root2.crl")
publish_all
[ "$(q "SELECT done_at IS NOT NULL FROM publish_queue WHERE id = $new1")" = t ] || fail "row $new1 is still pending"
commit_tx
publish_all
[ "$(q "SELECT done_at IS NOT NULL FROM publish_queue WHERE id = $old1")" = t ] || fail "row $old1 is still pending"
ldap_attr "$pdn1" 'certificateRevocationList;binary' "$tmp/p1.crl" && cmp -s "$tmp/p1.crl" "$tmp/root2.crl" ||
	fail "an older row retried after the newer one rolled the directory's CRL back"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'publish.ldap' AND object_id = '$old1'
    AND details->>'superseded_by' = '$new1' AND (details->>'ok')::boolean")" -ge 1 ] ||
	fail "the skipped row $old1 is not audited as superseded by $new1"
old2=$(queue_row "$pdn2" "$tmp/root.crl")
new2=$(queue_row "$pdn2" "$tmp/root2.crl" ", done_at" ", now()")
publish_all
[ -n "$(q "SELECT done_at FROM publish_queue WHERE id = $old2")" ] || fail "row $old2 is still pending"
ldap_attr "$pdn2" 'certificateRevocationList;binary' "$tmp/p2.crl" && [ -s "$tmp/p2.crl" ] &&
	fail "row $old2 was published although row $new2 of its entry was done"
note "LDAP queue: the newest row of an entry wins; an older one retried later is skipped as superseded (audited)"

# --- a revocation in flight while its base was built: on the delta, not lost ---------------------
# X takes its revocation_seq first but commits after the next base; Y, later
# in sequence, commits before it, so the base's max_seq is above X's. The
# delta finds X through the base's snapshot, not by its sequence number.
# The second round revokes X under a SAVEPOINT: the row's xmin is then a
# subtransaction's id, which a pg_snapshot cannot judge (it lists top-level
# transactions only); crld judges by revocation_xid (schema/024).
for mode in plain savepoint; do
	case $mode in
	plain) open_sql='BEGIN;' close_sql= ;;
	savepoint) open_sql='BEGIN; SAVEPOINT s;' close_sql='RELEASE SAVEPOINT s;' ;;
	esac
	sx=$(newcert "inflight-x-$mode")
	sy=$(newcert "inflight-y-$mode")
	open_tx
	echo "$open_sql UPDATE certificate SET revoked_at = now(), revocation_reason = 1,
	    revoked_by = 'test_crl' WHERE serial = '$sx' RETURNING revocation_seq;" >&"$tx_in"
	read -r -t 10 xseq <&"$tx_out" || fail "$mode: the open transaction did not revoke $sx"
	[[ $xseq =~ ^[0-9]+$ ]] || fail "$mode: the open transaction: $xseq"
	pkictl cert revoke --serial "$sy" --reason superseded >/dev/null || fail "revoke $sy"
	yseq=$(q "SELECT revocation_seq FROM certificate WHERE serial = '$sy'")
	[ "$yseq" -gt "$xseq" ] || fail "$mode: want Y's revocation_seq ($yseq) above X's ($xseq)"
	before=$(q "SELECT max(number) FROM crl WHERE issuer_id = $iss")
	kill -HUP "$pid"
	wait_for base_ready >/dev/null || fail "$mode: no new base CRL while a revocation was in flight"
	bn2=$(crlnum "$tmp/base.crl")
	[ "$(q "SELECT max_seq >= $yseq FROM crl WHERE number = $bn2 AND issuer_id = $iss")" = t ] ||
		fail "$mode: base $bn2 does not cover Y's revocation_seq"
	serials "$tmp/base.crl" | has -x "$sy" || fail "$mode: base $bn2 lacks $sy"
	if serials "$tmp/base.crl" | has -x "$sx"; then fail "$mode: base $bn2 lists $sx, still uncommitted"; fi
	commit_tx "$close_sql"
	# The round tests what it says: X's row version is a subtransaction's
	# under the SAVEPOINT, the top-level transaction's otherwise.
	sub=$(q "SELECT xmin::text::bigint <> (revocation_xid::text::bigint & 4294967295)
	    FROM certificate WHERE serial = '$sx'")
	[ "$sub" = "$([ "$mode" = savepoint ] && echo t || echo f)" ] ||
		fail "$mode: X's xmin is a subtransaction's: $sub"
	# crld was told (NOTIFY at commit), but the newest CRLs' max_seq already
	# covered X's number: only their snapshot shows that X is new to them.
	inflight_on_delta() {
		fetch issuing-delta.crl "$tmp/d2.crl" && [ "$(basenum "$tmp/d2.crl")" = "$bn2" ] &&
			serials "$tmp/d2.crl" | has -x "$sx" &&
			fetch issuing.crl "$tmp/f2.crl" && serials "$tmp/f2.crl" | has -x "$sx"
	}
	wait_for inflight_on_delta >/dev/null ||
		fail "$mode: the CRLs lack $sx, revoked in flight (delta on base $bn2 lists: $(serials "$tmp/d2.crl" | tr '\n' ' '))"
	[ "$(serials "$tmp/d2.crl")" = "$sx" ] ||
		fail "$mode: the delta on base $bn2 lists [$(serials "$tmp/d2.crl" | tr '\n' ' ')], want [$sx]"
	note "$mode: a revocation committed after its base was built, below its max_seq: on the next complete CRL and delta"
done

# --- two instances: each one's files follow the CRLs the other issues -----------------------
# A second crld on the same database, its own port and out_dir, issues a
# base (SIGHUP); the stack's crld serves it and writes it to its own files
# too (a web server may serve those), not only the CRLs it issued itself.
mkdir -p "$tmp/crl2"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$tmp/crl2"
chmod 0711 "$tmp"
PKI_CRL_PORT=$(free_port) PKI_CRL_OUT_DIR=$tmp/crl2 PKI_CRL_INSTANCE=test-second \
	"$BUILD/crld" --config "$PKI_CONFIG" >"$tmp/crld2.log" 2>&1 &
crld2=$!
at_exit "kill -TERM $crld2 2>/dev/null; wait $crld2 2>/dev/null"
second_ready() { [ -s "$tmp/crl2/issuing.crl" ]; }
wait_for second_ready >/dev/null || { cat "$tmp/crld2.log"; fail "the second crld wrote no CRL file"; }
n2=$(crlnum "$tmp/crl2/issuing.crl")
kill -HUP "$crld2"
second_issued() { [ "$(crlnum "$tmp/crl2/issuing.crl")" -gt "$n2" ]; }
wait_for second_issued >/dev/null || { cat "$tmp/crld2.log"; fail "the second crld issued no base CRL on SIGHUP"; }
n3=$(crlnum "$tmp/crl2/issuing.crl")
ours_follow() { [ "$(crlnum "$PKI_DIR/pki/crl/issuing.crl")" -ge "$n3" ]; }
wait_for ours_follow >/dev/null ||
	fail "the stack's crld did not write CRL $n3, issued by the other instance, to its files (has $(crlnum "$PKI_DIR/pki/crl/issuing.crl"))"
kill -TERM "$crld2"
wait "$crld2" || { cat "$tmp/crld2.log"; fail "the second crld exited non-zero on SIGTERM"; }
note "two crld instances: CRL $n3 issued by the second is in the first's files"

# --- crl.issuing_distribution_point = no: CRLs that NSS takes -----------------------------
# NSS (crlutil; LibreOffice and Thunderbird check signatures with it) does
# not process the IDP and refuses a CRL where it is critical, as RFC 5280
# §5.2.5 has it. A crld whose policy says no leaves it off the complete CRL
# and the delta (both: OpenSSL pairs a delta with a base only when their
# IDPs are identical, here both absent). Every crld serves the newest CRL,
# whoever issued it, so instances must share the setting; here the stack's
# crld issues a base again, with its IDP, for the tests after this one.
fetch issuing.crl "$tmp/withidp.crl"
openssl crl -inform DER -in "$tmp/withidp.crl" -noout -text | has 'Issuing Distribution Point: critical' ||
	fail "the stack's CRL has no critical IDP"
sed 's/^issuing_distribution_point = yes$/issuing_distribution_point = no/' "$REPO/policy/crl.conf" >"$tmp/crl-noidp.conf"
has -x 'issuing_distribution_point = no' "$tmp/crl-noidp.conf" || fail "policy/crl.conf has no issuing_distribution_point = yes to turn off"
mkdir -p "$tmp/crlnoidp"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$tmp/crlnoidp"
chmod 0644 "$tmp/crl-noidp.conf"
PKI_CRL_PORT=$(free_port) PKI_CRL_OUT_DIR=$tmp/crlnoidp PKI_CRL_INSTANCE=test-noidp \
PKI_CRL_POLICY_FILE=$tmp/crl-noidp.conf \
	"$BUILD/crld" --config "$PKI_CONFIG" >"$tmp/crldnoidp.log" 2>&1 &
crldnoidp=$!
at_exit "kill -TERM $crldnoidp 2>/dev/null; wait $crldnoidp 2>/dev/null"
wait_for eval '[ -s "$tmp/crlnoidp/issuing.crl" ]' >/dev/null || { cat "$tmp/crldnoidp.log"; fail "the crld without IDP wrote no CRL file"; }
nnoidp=$(crlnum "$tmp/crlnoidp/issuing.crl")
kill -HUP "$crldnoidp"
noidp_pair() {
	[ "$(crlnum "$tmp/crlnoidp/issuing.crl")" -gt "$nnoidp" ] &&
		[ "$(basenum "$tmp/crlnoidp/issuing-delta.crl")" = "$(crlnum "$tmp/crlnoidp/issuing.crl")" ]
}
wait_for noidp_pair >/dev/null || { cat "$tmp/crldnoidp.log"; fail "the crld without IDP issued no base and delta on SIGHUP"; }
kill -TERM "$crldnoidp"
wait "$crldnoidp" || { cat "$tmp/crldnoidp.log"; fail "the crld without IDP exited non-zero on SIGTERM"; }
cp "$tmp/crlnoidp/issuing.crl" "$tmp/noidp.crl"
cp "$tmp/crlnoidp/issuing-delta.crl" "$tmp/noidp-delta.crl"
for f in noidp.crl noidp-delta.crl; do
	if openssl crl -inform DER -in "$tmp/$f" -noout -text | has 'Issuing Distribution Point'; then
		fail "$f carries an IDP with crl.issuing_distribution_point = no"
	fi
	openssl crl -in "$tmp/$f" -inform DER -CAfile "$PKI_CHAIN" -noout 2>&1 | has 'verify OK' ||
		fail "openssl crl: $f does not verify"
done
mkdir -p "$tmp/nss"
certutil -N -d "sql:$tmp/nss" --empty-password || fail "certutil -N"
certutil -A -d "sql:$tmp/nss" -n root -t C,C,C -i "$PKI_ROOT_CERT" || fail "certutil -A root"
certutil -A -d "sql:$tmp/nss" -n issuing -t ,, -i "$PKI_ISSUING_CERT" || fail "certutil -A issuing"
if crlutil -I -d "sql:$tmp/nss" -i "$tmp/withidp.crl" >"$tmp/crlutil.out" 2>&1; then
	fail "crlutil imported a CRL with a critical IDP (has NSS learned IDPs? crl/README.md says it refuses them)"
fi
crlutil -I -d "sql:$tmp/nss" -i "$tmp/noidp.crl" >"$tmp/crlutil.out" 2>&1 ||
	{ cat "$tmp/crlutil.out"; fail "crlutil refused the complete CRL without IDP"; }
crlutil -L -d "sql:$tmp/nss" | has -E '^issuing +CRL' || { crlutil -L -d "sql:$tmp/nss"; fail "crlutil -L lists no CRL of the issuing CA"; }
# OpenSSL: the base alone, and the base with its delta, without IDPs.
pem "$tmp/noidp.crl"
pem "$tmp/noidp-delta.crl"
if verify_with "$tmp/one.pem" "$tmp/noidp.crl.pem" "$tmp/noidp-delta.crl.pem"; then
	fail "openssl verify -crl_check accepts a revoked certificate with the CRLs without IDP"
fi
grep -q 'certificate revoked' "$tmp/verify.out" || { cat "$tmp/verify.out"; fail "without IDP: rejected, but not as revoked"; }
verify_with "$tmp/two.pem" "$tmp/noidp.crl.pem" "$tmp/noidp-delta.crl.pem" ||
	{ cat "$tmp/verify.out"; fail "without IDP: a good certificate fails -crl_check"; }
# The stack's crld: a base with its IDP again, served.
before=$(crlnum "$tmp/noidp.crl")
kill -HUP "$pid"
idp_again() {
	fetch issuing.crl "$tmp/idp2.crl" && [ "$(crlnum "$tmp/idp2.crl")" -gt "$before" ] &&
		openssl crl -inform DER -in "$tmp/idp2.crl" -noout -text | has 'Issuing Distribution Point' &&
		fetch issuing-delta.crl "$tmp/idp2d.crl" && [ "$(basenum "$tmp/idp2d.crl")" = "$(crlnum "$tmp/idp2.crl")" ]
}
wait_for idp_again >/dev/null || fail "the stack's crld did not issue a base with its IDP again on SIGHUP"
note "crl.issuing_distribution_point = no: no IDP on base and delta; crlutil (NSS) imports it, refuses the IDP's; openssl verify applies both"

# --- missed CRLs: served within the reconciliation, without a notification -----------------
# crl_issued is one notification per CRL: a load that failed uses it up,
# and one sent while lib/db.c reconnects inside a statement is lost. A crld
# (its reconcile_interval_seconds 2) compares the numbers in crl_current
# with what it serves at each reconciliation and loads what is newer; a
# load that failed is tried again at the next. Until 2026-12-05 it waited
# for a notification that never came: an instance whose issuance after a
# revocation was skipped (another's CRL covered it) served an older
# complete CRL for up to full_interval_seconds (6 h).
rec=2
mkdir -p "$tmp/crl4" "$tmp/crl5"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$tmp/crl4" "$tmp/crl5"
port4=$(free_port)
B4=http://127.0.0.1:$port4/crl
PKI_CRL_PORT=$port4 PKI_CRL_OUT_DIR=$tmp/crl4 PKI_CRL_INSTANCE=test-missed \
PKI_CRL_RECONCILE_INTERVAL_SECONDS=$rec \
	"$BUILD/crld" --config "$PKI_CONFIG" >"$tmp/crld4.log" 2>&1 &
crld4=$!
at_exit "kill -TERM $crld4 2>/dev/null; wait $crld4 2>/dev/null"
current() { q "SELECT number FROM crl_current WHERE issuer_id = $1 AND kind = '$2'"; }
# served4 NAME NUMBER: that crld serves CRL NUMBER as /crl/NAME.
served4() { curl -fs --max-time 5 -o "$tmp/m.crl" "$B4/$1" && [ "$(crlnum "$tmp/m.crl")" = "$2" ]; }
within_rec() { awk -v t="$1" -v m="$rec" 'BEGIN { exit !(t <= 2 * m + 1) }'; }
wait_for served4 root.crl "$(current "$rootid" full)" >/dev/null ||
	{ cat "$tmp/crld4.log"; fail "the crld with reconcile_interval_seconds $rec serves no current ARL"; }
# A failed load: pki_crl may not read crl_current while pkictl makes an
# ARL; the notification's load fails, then reading is allowed again.
at_exit "q 'GRANT SELECT ON crl_current TO pki_crl' >/dev/null 2>&1"
lines=$(wc -l <"$tmp/crld4.log")
q 'REVOKE SELECT ON crl_current FROM pki_crl' >/dev/null
pkictl crl arl >"$tmp/arl3.out" 2>&1 ||
	{ q 'GRANT SELECT ON crl_current TO pki_crl' >/dev/null; cat "$tmp/arl3.out"; fail "pkictl crl arl"; }
arl=$(current "$rootid" full)
# Since 2026-12-07 the notification makes crld read crl_current's numbers
# first (crl_issuer_numbers), which fails the same way.
load_failed() { tail -n +"$((lines + 1))" "$tmp/crld4.log" | grep -Eq 'crl_issuer_(current|numbers): permission denied'; }
wait_for load_failed >/dev/null ||
	{ q 'GRANT SELECT ON crl_current TO pki_crl' >/dev/null; cat "$tmp/crld4.log"; fail "ARL $arl: its notification's load did not fail"; }
q 'GRANT SELECT ON crl_current TO pki_crl' >/dev/null
t=$(wait_for served4 root.crl "$arl") ||
	{ cat "$tmp/crld4.log"; fail "ARL $arl, whose load failed, not served within 10 s (serves $(crlnum "$tmp/m.crl"))"; }
within_rec "$t" || fail "ARL $arl, whose load failed, served after ${t}s (reconcile_interval_seconds $rec)"
note "a failed load (ARL $arl) tried again: served ${t}s after it could be read"
# A lost notification: a second crld issues a base and a delta while
# crl_current's trigger sends none; nothing but the numbers tells.
at_exit "q 'ALTER TABLE crl_current ENABLE TRIGGER crl_current_notify' >/dev/null 2>&1"
q 'ALTER TABLE crl_current DISABLE TRIGGER crl_current_notify' >/dev/null
PKI_CRL_OUT_DIR=$tmp/crl5 PKI_CRL_INSTANCE=test-once "$BUILD/crld" --config "$PKI_CONFIG" --once \
    >"$tmp/once.out" 2>&1 || once_failed=1
q 'ALTER TABLE crl_current ENABLE TRIGGER crl_current_notify' >/dev/null
[ -z "${once_failed:-}" ] || { cat "$tmp/once.out"; fail "crld --once"; }
full=$(current "$iss" full)
delta=$(current "$iss" delta)
[ "$(crlnum "$tmp/crl5/issuing.crl")" = "$full" ] || fail "crld --once did not make crl_current's CRL $full"
missed_served() { served4 issuing.crl "$full" && served4 issuing-delta.crl "$delta"; }
t=$(wait_for missed_served) ||
	{ cat "$tmp/crld4.log"; fail "CRL $full and delta $delta, issued without a notification, not served within 10 s"; }
within_rec "$t" || fail "CRL $full and delta $delta, issued without a notification, served after ${t}s (reconcile_interval_seconds $rec)"
cmp -s "$tmp/crl4/issuing.crl" "$tmp/crl5/issuing.crl" ||
	fail "CRL $full, issued without a notification, is not in the crld's files"
kill -TERM "$crld4"
wait "$crld4" || { cat "$tmp/crld4.log"; fail "the crld with reconcile_interval_seconds $rec exited non-zero on SIGTERM"; }
note "a lost notification: CRL $full and delta $delta served ${t}s after they were issued"

# --- a crld newer than the schema says so and issues nothing ---------------------------------
# A database migrated to 023 only (certificate.revocation_xid is 024's).
admin_uri="host=$PKI_PG_HOST port=$PKI_PG_PORT dbname=postgres user=$(q 'SELECT current_user')"
sql_as "$admin_uri" 'DROP DATABASE IF EXISTS pki_crl_old' >/dev/null 2>&1
sql_as "$admin_uri" 'CREATE DATABASE pki_crl_old' >/dev/null
at_exit "sql_as '$admin_uri' 'DROP DATABASE IF EXISTS pki_crl_old' >/dev/null 2>&1 || true"
mkdir -p "$tmp/schema023"
cp "$REPO"/schema/0[01]*.sql "$REPO"/schema/02[0-3]_*.sql "$tmp/schema023/"
"$REPO/deploy/migrate.sh" "${PKI_TEST_PG_URI/dbname=pki/dbname=pki_crl_old}" "$tmp/schema023" >/dev/null ||
	fail "migrating a database to 023"
crl_uri=$(sed -n 's/^crl_uri = //p' "$PKI_CONFIG")
[ -n "$crl_uri" ] || fail "no crl_uri in $PKI_CONFIG"
if PKI_PG_CRL_URI=${crl_uri/dbname=pki/dbname=pki_crl_old} "$BUILD/crld" --config "$PKI_CONFIG" --once \
    >"$tmp/old.out" 2>&1; then
	fail "crld --once succeeded against schema 023"
fi
has 'schema version 23; CRLs need 24' <"$tmp/old.out" || { cat "$tmp/old.out"; fail "crld does not say the schema is too old"; }
note "against a schema before 024: crld says to migrate, issues nothing"

# --- a policy that breaks RFC 5280 §3.3 or outlives no interval: crld refuses to start ----------
# Entries leave the CRL expired_grace after notAfter; §3.3 wants them on one
# scheduled (base) CRL after expiry, so the grace must span full_interval.
# Before, only full_next_update was compared, and a nextUpdate at or below
# its interval was a warning: 2 days between bases with 1 day of validity
# and grace started, and issued.
policy_refused() { # policy_refused WANT-IN-LOG VAR=VALUE...
	local want=$1
	shift
	if env "$@" "$BUILD/crld" --config "$PKI_CONFIG" --once >"$tmp/policy.out" 2>&1; then
		fail "crld --once started with $*"
	fi
	has -F -- "$want" <"$tmp/policy.out" || { cat "$tmp/policy.out"; fail "crld with $*: no \"$want\""; }
}
policy_refused 'crl.full_next_update_seconds (86400) must be above crl.full_interval_seconds (172800)' \
	PKI_CRL_FULL_INTERVAL_SECONDS=172800 PKI_CRL_EXPIRED_GRACE_SECONDS=100000
policy_refused 'crl.delta_next_update_seconds (900) above crl.delta_interval_seconds (900)' \
	PKI_CRL_DELTA_NEXT_UPDATE_SECONDS=900
policy_refused 'crl.expired_grace_seconds (43200) must be at least crl.full_interval_seconds (21600' \
	PKI_CRL_EXPIRED_GRACE_SECONDS=43200
note "a grace shorter than the base interval, or a CRL valid no longer than its interval: refused"

# --- bad requests get 4xx ------------------------------------------------------------------------
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
[ "$(code -X POST --data-binary x "$B/issuing.crl")" = 405 ] || fail "POST: not 405"
[ "$(code -X DELETE "$B/issuing.crl")" = 405 ] || fail "DELETE: not 405"
[ "$(code "$B/nope.crl")" = 404 ] || fail "unknown CRL: not 404"
[ "$(code "${B%/crl}/")" = 404 ] || fail "/: not 404"
[ "$(code --path-as-is "$B/../crl/issuing.crl")" = 404 ] || fail "dot-dot path: not 404"
[ "$(code "$B/issuing.crl/")" = 404 ] || fail "trailing slash: not 404"
head -c 2000000 /dev/zero >"$tmp/big"
c=$(code -X POST -H 'Content-Type: application/octet-stream' --data-binary @"$tmp/big" "$B/issuing.crl")
case $c in 4??) ;; *) fail "2 MB POST: $c, want 4xx" ;; esac
[ "$(code "$B/issuing.crl")" = 200 ] || fail "crld stopped answering after bad requests"
# What is no document is stored by no cache: a 404 (and a 405) is
# heuristically cacheable (RFC 9110 §15.1), and the paths of an issuing CA
# made by `pkictl ca issuing` answer 404 until crld restarts (until
# 2026-12-06 none of these carried Cache-Control). The 503 below, with
# PostgreSQL down.
no_store() { # no_store WHAT CURL-ARGS...: the answer carries Cache-Control: no-store
	local what=$1
	shift
	curl -s --max-time 10 -D "$tmp/ns.h" -o /dev/null "$@" || fail "$what: no answer"
	grep -qi '^Cache-Control: no-store' "$tmp/ns.h" || { cat "$tmp/ns.h"; fail "$what: no Cache-Control: no-store"; }
}
no_store "404 of an unknown CRL" "$B/issuing-9.crl"
no_store "405 of a POST" -X POST --data-binary x "$B/issuing.crl"
no_store "/health" "${B%/crl}/health"

# --- a silent directory delays publication, never a CRL -----------------------------------------
# A crld whose ldap.uri is a port that takes connections (the kernel's
# backlog) but never answers: each publication round waits out libldap's
# time-out (ldap.timeout_seconds: 10 s by default, 2 s here to keep the
# test short; connecting once the backlog is full too). That wait is the
# publishing thread's (crl/publisher.c):
# three revocations in a row each reach the CRL this crld serves within
# 4 s, the rows it queued stay pending, and it stops within the stack's
# stop time-out. Until 2026-12-05 the issuing thread published itself,
# every publish_interval_seconds (1 here), and spent most of its time in
# those waits: a revocation waited up to ~10 s. The stack's crld is
# stopped meanwhile, so that nothing else publishes the rows or issues the
# CRLs; it is started again with PostgreSQL at the end of the next section
# (one stack.sh up for both: ~5 s each). This crld coalesces revocations
# for 0.2 s, not 1.5 (crl.coalesce_ms): what is timed is the LDAP waits it
# must not make, not its coalescing.
python3 -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
time.sleep(3600)
' >"$tmp/silent.port" &
silent=$!
at_exit "kill $silent 2>/dev/null; wait $silent 2>/dev/null"
silent_ready() { [ -s "$tmp/silent.port" ]; }
wait_for silent_ready >/dev/null || fail "the silent listener did not start"
sport=$(cat "$tmp/silent.port")
# The certificates first: only the revocations are timed.
for i in 1 2 3; do ss[$i]=$(newcert "silent$i"); done
stack_daemon_stop crl
q0=$(q 'SELECT coalesce(max(id), 0) FROM publish_queue')
mkdir -p "$tmp/crl3"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$tmp/crl3"
port3=$(free_port)
B3=http://127.0.0.1:$port3/crl
PKI_CRL_PORT=$port3 PKI_CRL_OUT_DIR=$tmp/crl3 PKI_CRL_INSTANCE=test-silent \
PKI_LDAP_URI=ldap://127.0.0.1:$sport PKI_LDAP_TIMEOUT_SECONDS=2 \
PKI_CRL_PUBLISH_INTERVAL_SECONDS=1 PKI_CRL_COALESCE_MS=200 \
	"$BUILD/crld" --config "$PKI_CONFIG" >"$tmp/crld3.log" 2>&1 &
crld3=$!
at_exit "kill -TERM $crld3 2>/dev/null; wait $crld3 2>/dev/null"
# Rows left in their back-off would wait up to minutes for the stack's crld.
at_exit "q 'UPDATE publish_queue SET next_attempt_at = now() WHERE done_at IS NULL' >/dev/null 2>&1"
at_exit "q 'UPDATE publish_certificate SET next_attempt_at = now() WHERE done_at IS NULL' >/dev/null 2>&1"
silent_serving() { curl -fsS --max-time 5 -o /dev/null "$B3/issuing.crl"; }
wait_for silent_serving >/dev/null || { cat "$tmp/crld3.log"; fail "the crld with a silent directory serves no CRL"; }
times=
for i in 1 2 3; do
	sx=${ss[$i]}
	pkictl cert revoke --serial "$sx" --reason keyCompromise >/dev/null || fail "revoke silent$i"
	listed_silent() { curl -fsS --max-time 5 -o "$tmp/silent.crl" "$B3/issuing.crl" && serials "$tmp/silent.crl" | has -x "$sx"; }
	took=$(wait_for listed_silent) || { cat "$tmp/crld3.log"; fail "silent directory: revocation $i ($sx) not on the served CRL within 10 s"; }
	awk -v t="$took" 'BEGIN { exit !(t <= 4) }' ||
		{ cat "$tmp/crld3.log"; fail "silent directory: revocation $i took ${took}s to reach the CRL (want <= 4 s)"; }
	times="$times ${took}s"
done
# The publisher did try (the rows carry its failure), and published nothing.
silent_tried() { [ "$(q "SELECT count(*) FROM publish_queue WHERE id > $q0 AND attempts > 0 AND last_error IS NOT NULL")" -gt 0 ]; }
for ((i = 0; i < 150; i++)); do silent_tried && break; sleep 0.2; done
silent_tried || { cat "$tmp/crld3.log"; fail "silent directory: no queued row was tried within 30 s"; }
[ "$(q "SELECT count(*) FROM publish_queue WHERE id > $q0")" -ge 3 ] || fail "silent directory: fewer than 3 CRL rows queued"
[ "$(q "SELECT count(*) FROM publish_queue WHERE id > $q0 AND done_at IS NOT NULL")" = 0 ] ||
	fail "silent directory: a queued row is marked done"
has 'LDAP publication of .* failed' <"$tmp/crld3.log" || { cat "$tmp/crld3.log"; fail "silent directory: no publication failure logged"; }
# Stopping waits for the publisher's LDAP call to time out, within the
# stop time-out deploy/stack.sh allows before SIGKILL: stopped while a row
# is being tried (the publisher's transaction stays open during the call).
q "UPDATE publish_queue SET next_attempt_at = now() WHERE id > $q0 AND done_at IS NULL" >/dev/null
in_call() { [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'pki_crl' AND state = 'idle in transaction'")" -gt 0 ]; }
wait_for in_call >/dev/null || { cat "$tmp/crld3.log"; fail "silent directory: the publisher did not try a row again"; }
t0=$(date +%s.%N)
kill -TERM "$crld3"
wait "$crld3" || { cat "$tmp/crld3.log"; fail "the crld with a silent directory exited non-zero on SIGTERM"; }
stop=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
awk -v t="$stop" -v m="${PKI_STACK_STOP_TIMEOUT:-20}" 'BEGIN { exit !(t < m) }' ||
	fail "the crld with a silent directory took ${stop}s to stop (stack.sh allows ${PKI_STACK_STOP_TIMEOUT:-20} s)"
# The directory answers again: the rows queued meanwhile are published
# (by pkictl: the stack's crld is still stopped).
q 'UPDATE publish_queue SET next_attempt_at = now() WHERE done_at IS NULL' >/dev/null
q 'UPDATE publish_certificate SET next_attempt_at = now() WHERE done_at IS NULL' >/dev/null
publish_all
[ "$(q "SELECT count(*) FROM publish_queue WHERE id > $q0 AND done_at IS NULL")" = 0 ] ||
	fail "rows queued while the directory was silent are still pending"
note "silent directory: revocations listed after$times, rows pending, stopped in ${stop}s"

# --- PostgreSQL down: a crld started meanwhile serves the CRLs of its files -----------------
# Until 2026-12-05 crld needed the database to start (the CA certificates):
# a restart during an outage took the distribution point offline although
# its last CRLs were in its out_dir. It now starts from out_dir's
# crld-cas.json (written at each start-up that reached the database) and
# serves the CRLs there, each checked against its CA's certificate (a
# delta whose signature was spoilt is refused), connects once PostgreSQL
# is back, with the issuing thread's back-off, and issues again: a
# SIGHUP received while it was down is kept until then (until 2026-12-06
# the failed connection dropped it, and no base came).
mkdir -p "$tmp/crl6"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$tmp/crl6"
chmod 0711 "$tmp"
port6=$(free_port)
B6=http://127.0.0.1:$port6/crl
start6() {
	PKI_CRL_PORT=$port6 PKI_CRL_OUT_DIR=$tmp/crl6 PKI_CRL_INSTANCE=test-pgdown \
		"$BUILD/crld" --config "$PKI_CONFIG" >>"$tmp/crld6.log" 2>&1 &
	crld6=$!
}
start6
at_exit 'kill -TERM $crld6 2>/dev/null; wait $crld6 2>/dev/null'
files6() { [ -s "$tmp/crl6/crld-cas.json" ] && [ -s "$tmp/crl6/issuing.crl" ] &&
	[ -s "$tmp/crl6/issuing-delta.crl" ] && [ -s "$tmp/crl6/root.crl" ]; }
wait_for files6 >/dev/null || { cat "$tmp/crld6.log"; fail "crld wrote no crld-cas.json or CRL files to its out_dir"; }
kill -TERM "$crld6"
wait "$crld6" || { cat "$tmp/crld6.log"; fail "crld (out_dir $tmp/crl6) exited non-zero on SIGTERM"; }
n6=$(crlnum "$tmp/crl6/issuing.crl")
r6=$(crlnum "$tmp/crl6/root.crl")
# The delta's last signature byte spoilt: not to be served.
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 1; open(sys.argv[1], "wb").write(b)' \
	"$tmp/crl6/issuing-delta.crl"
pg=$(pidfile_of "$PKI_DIR" postgres)
[ -n "$pg" ] || fail "no PostgreSQL pid file"
_lib_restart+=("$PKI_STACK_DIR")	# PostgreSQL up again whatever happens
kill -INT "$pg"
for _ in $(seq 200); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pg" 2>/dev/null || fail "PostgreSQL did not stop"
start6
code6() { curl -s -o "$tmp/pgdown.out" -w '%{http_code}' --max-time 5 "$B6/$1"; }
down_served() { [ "$(code6 issuing.crl)" = 200 ] && [ "$(crlnum "$tmp/pgdown.out")" = "$n6" ]; }
wait_for down_served >/dev/null ||
	{ cat "$tmp/crld6.log"; fail "crld started while PostgreSQL was down does not serve CRL $n6 of its out_dir"; }
[ "$(code6 root.crl)" = 200 ] && [ "$(crlnum "$tmp/pgdown.out")" = "$r6" ] ||
	fail "crld started while PostgreSQL was down does not serve the ARL $r6 of its out_dir"
[ "$(code6 issuing.crt)" = 200 ] && cmp -s "$tmp/pgdown.out" "$tmp/issuing.der" ||
	fail "crld started while PostgreSQL was down does not serve the issuing CA certificate"
[ "$(code6 issuing-delta.crl)" = 503 ] || fail "a delta CRL with a spoilt signature was served"
no_store "503 of a CRL not held" "$B6/issuing-delta.crl"
has 'issuing-delta.crl: not served: its signature does not verify' <"$tmp/crld6.log" ||
	{ cat "$tmp/crld6.log"; fail "the refused delta CRL is not logged"; }
kill -0 "$crld6" || fail "crld exited while PostgreSQL was down"
# out_dir is crld's demoted user's (pki-crl): what it plants there must
# not make crld, still root when it reads crld-cas.json, read a root-only
# secret through a symlink and log it (jansson's message quotes the bytes:
# "'[' or '{' expected near '402917'"), nor a FIFO as a CRL file block its
# start for ever. Until 2026-12-07 both did: fopen() followed the link and
# waited on the FIFO, and the CRL files were parsed as root.
if [ "$(id -u)" -eq 0 ]; then
	crl_user() { setpriv --reuid=pki-crl --regid="$(id -g pki-crl)" --init-groups -- "$@"; }
	printf '402917\n' >"$tmp/planted-secret.pin"
	chmod 0600 "$tmp/planted-secret.pin"
	mkdir -p "$tmp/crl6s" "$tmp/crl6f"
	chown pki-crl "$tmp/crl6s" "$tmp/crl6f"
	crl_user ln -s "$tmp/planted-secret.pin" "$tmp/crl6s/crld-cas.json" ||
		fail "pki-crl could not plant a symlink in its out_dir"
	# Not started: no usable crld-cas.json, the secret in no log line.
	PKI_CRL_PORT=$(free_port) PKI_CRL_OUT_DIR=$tmp/crl6s PKI_CRL_INSTANCE=test-planted \
		timeout 60 "$BUILD/crld" --config "$PKI_CONFIG" >"$tmp/crld6s.log" 2>&1 && {
		cat "$tmp/crld6s.log"
		fail "crld started from a crld-cas.json that is a symlink to a secret"
	}
	! has 402917 <"$tmp/crld6s.log" ||
		{ cat "$tmp/crld6s.log"; fail "crld logged the secret a planted crld-cas.json symlink points to"; }
	has 'crld-cas.json: open: .*symbolic link' <"$tmp/crld6s.log" ||
		{ cat "$tmp/crld6s.log"; fail "the planted crld-cas.json symlink is not logged as refused"; }
	# A good crld-cas.json, a FIFO as issuing.crl, a symlink as root.crl.
	cp "$tmp/crl6/crld-cas.json" "$tmp/crl6f/crld-cas.json"
	chown pki-crl "$tmp/crl6f/crld-cas.json"
	crl_user mkfifo "$tmp/crl6f/issuing.crl" || fail "pki-crl could not make a FIFO in its out_dir"
	crl_user ln -s "$tmp/planted-secret.pin" "$tmp/crl6f/root.crl"
	port6f=$(free_port)
	PKI_CRL_PORT=$port6f PKI_CRL_OUT_DIR=$tmp/crl6f PKI_CRL_INSTANCE=test-fifo \
		"$BUILD/crld" --config "$PKI_CONFIG" >"$tmp/crld6f.log" 2>&1 &
	crld6f=$!
	at_exit 'kill -TERM $crld6f 2>/dev/null; wait $crld6f 2>/dev/null'
	up6f() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port6f/crl/issuing.crt")" = 200 ]; }
	wait_for up6f >/dev/null ||
		{ cat "$tmp/crld6f.log"; fail "crld with a FIFO planted as out_dir/issuing.crl does not answer (blocked at start)"; }
	has 'issuing.crl: not a regular file' <"$tmp/crld6f.log" &&
		has 'root.crl: open: .*symbolic link' <"$tmp/crld6f.log" ||
		{ cat "$tmp/crld6f.log"; fail "the planted FIFO and symlink CRL files are not logged as refused"; }
	! has 402917 <"$tmp/crld6f.log" || fail "crld logged the secret a planted root.crl symlink points to"
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port6f/crl/issuing.crl")" = 503 ] ||
		fail "a FIFO planted as issuing.crl: not 503"
	kill -TERM "$crld6f"
	wait "$crld6f" || { cat "$tmp/crld6f.log"; fail "crld (planted out_dir) exited non-zero on SIGTERM"; }
	note "out_dir planted by pki-crl: a crld-cas.json symlink to a root-only secret refused (not logged), a FIFO issuing.crl and a symlink root.crl refused at once"
fi
kill -HUP "$crld6"	# a base, once the database answers
sleep 1
stack_up "$PKI_STACK_DIR"	# starts only what is down: PostgreSQL, and the stack's crld (above)
# Connected (the issuing thread's back-off: up to 30 s): the delta of
# crl_current is served again, and the base asked for is issued.
d6=$(q "SELECT number FROM crl_current WHERE issuer_id = $iss AND kind = 'delta'")
for ((i = 0; i < 225; i++)); do
	[ "$(code6 issuing-delta.crl)" = 200 ] && [ "$(crlnum "$tmp/pgdown.out")" -ge "$d6" ] && break
	sleep 0.2
done
[ "$i" -lt 225 ] || { cat "$tmp/crld6.log"; fail "crld did not load the delta CRL once PostgreSQL was back (45 s)"; }
issued6() { [ "$(code6 issuing.crl)" = 200 ] && [ "$(crlnum "$tmp/pgdown.out")" -gt "$n6" ] &&
	[ "$(q "SELECT issued_by FROM crl WHERE issuer_id = $iss AND is_base AND number = $(crlnum "$tmp/pgdown.out")")" = crld:test-pgdown ]; }
wait_for issued6 >/dev/null ||
	{ cat "$tmp/crld6.log"; fail "crld started while PostgreSQL was down issued no base CRL once it was back, though sent SIGHUP meanwhile"; }
kill -TERM "$crld6"
wait "$crld6" || { cat "$tmp/crld6.log"; fail "crld started while PostgreSQL was down exited non-zero on SIGTERM"; }
note "PostgreSQL down: a crld started meanwhile served CRL $n6 and ARL $r6 of its files (a spoilt delta refused), then issued base CRL $(crlnum "$tmp/pgdown.out"), asked for by a SIGHUP while it was down, once it was back"

# --- a CRL number set back (a restore, an asynchronous failover) is never reused ----------------
# crl_state lives only in the database: a point-in-time restore or a
# failover that lost the last commits sets next_number back below numbers
# relying parties hold (RFC 5280 §5.2.3 wants them strictly increasing).
# crld raises it past the highest number it served or wrote, audited;
# until 2026-12-05 it reused the number (here: refused by crl's UNIQUE,
# so the revocation never reached a CRL).
pid=$(pidfile_of "$PKI_STACK_DIR" crl)
[ -n "$pid" ] || fail "no crld PID file"
sr=$(newcert reuse)
before=$(q "SELECT coalesce(max(number), 0) FROM crl WHERE issuer_id = $iss")
kill -HUP "$pid"
wait_for base_ready >/dev/null || fail "no new base CRL and delta within 10 s of SIGHUP"
nb=$(crlnum "$tmp/base.crl")
top=$(q "SELECT max(number) FROM crl WHERE issuer_id = $iss")
q "UPDATE crl_state SET next_number = $nb WHERE issuer_id = $iss" >/dev/null
lines=$(wc -l <"$PKI_STACK_DIR/log/crl.log")
pkictl cert revoke --serial "$sr" --reason keyCompromise >/dev/null || fail "revoke $sr"
reuse_listed() { fetch issuing.crl "$tmp/reuse.crl" && serials "$tmp/reuse.crl" | has -x "$sr"; }
wait_for reuse_listed >/dev/null ||
	{ tail -n +"$((lines + 1))" "$PKI_STACK_DIR/log/crl.log"; fail "with crl_state set back to $nb, revoked $sr is not on the served CRL within 10 s"; }
nr=$(crlnum "$tmp/reuse.crl")
[ "$nr" -gt "$top" ] || fail "with crl_state set back to $nb, the CRL listing $sr is numbered $nr, not above $top (served before)"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'crl.number_raised' AND object_id = $iss::text
    AND (details->>'from')::bigint = $nb AND (details->>'to')::bigint > $top")" -ge 1 ] ||
	fail "raising crl_state from $nb is not audited (crl.number_raised)"
tail -n +"$((lines + 1))" "$PKI_STACK_DIR/log/crl.log" | has 'CRL numbers of issuing: the database' ||
	fail "raising crl_state from $nb is not logged"
note "crl_state set back to $nb (CRL $top served): the next CRL is $nr, raised and audited"

# --- two instances run one schedule, not one each ------------------------------------------------
# Each crld keeps its own due times: until 2026-12-05 N instances issued N
# times the scheduled bases and deltas, and numbers advanced N times as
# fast. Now a scheduled base or delta is skipped, in the locked
# transaction, when the newest one is younger than its interval minus a
# slack (a tenth, 1 to 60 s), and the instance waits for the rest of that
# interval. Two crlds with full_interval_seconds 60 and
# delta_interval_seconds 10, the bases made "2 minutes earlier" so that
# a base is due for both at once, for 25 s: one base, a delta every 10 s
# (and one on the older base, when an instance's schedule came just before
# the base), no two bases, nor two deltas on one base, closer than their
# interval's slack allows.
q "UPDATE crl SET this_update = this_update - interval '2 minutes' WHERE issuer_id = $iss AND is_base" >/dev/null
t0=$(q 'SELECT now()')
for who in a b; do
	mkdir -p "$tmp/sched-$who"
	[ "$(id -u)" -ne 0 ] || chown pki-crl "$tmp/sched-$who"
	PKI_CRL_PORT=$(free_port) PKI_CRL_OUT_DIR=$tmp/sched-$who PKI_CRL_INSTANCE=test-sched-$who \
	PKI_CRL_FULL_INTERVAL_SECONDS=60 PKI_CRL_DELTA_INTERVAL_SECONDS=10 \
		"$BUILD/crld" --config "$PKI_CONFIG" >"$tmp/sched-$who.log" 2>&1 &
	eval "sched_$who=\$!"
done
at_exit 'kill -TERM $sched_a $sched_b 2>/dev/null; wait $sched_a $sched_b 2>/dev/null'
sleep 25
kill -TERM "$sched_a" "$sched_b"
wait "$sched_a" && wait "$sched_b" || { cat "$tmp/sched-a.log" "$tmp/sched-b.log"; fail "a crld of the schedule test exited non-zero"; }
ours_of() { echo "$1.issuer_id = $iss AND $1.created_at >= '$t0' AND $1.issued_by IN ('crld:test-sched-a', 'crld:test-sched-b')"; }
ours=$(ours_of crl)
bases=$(q "SELECT count(*) FROM crl WHERE $ours AND is_base")
deltas=$(q "SELECT count(*) FROM crl WHERE $ours AND kind = 'delta'")
close=$(q "SELECT count(*) FROM crl x JOIN crl y ON y.id > x.id
    AND (x.is_base AND y.is_base AND y.this_update - x.this_update < interval '54 seconds' OR
         x.kind = 'delta' AND y.kind = 'delta' AND y.base_number = x.base_number
         AND y.this_update - x.this_update < interval '9 seconds')
    WHERE $(ours_of x) AND $(ours_of y)")
[ "$bases" = 1 ] && [ "$deltas" -ge 2 ] && [ "$deltas" -le 5 ] && [ "$close" = 0 ] ||
	{ q "SELECT number, kind, is_base, base_number, this_update, issued_by FROM crl WHERE $ours ORDER BY number";
	  fail "two instances for 25 s (full interval 60 s, delta 10 s): $bases bases (want 1), $deltas deltas (want 2-5), $close pairs (on one base) closer than their interval"; }
note "two instances for 25 s (intervals 60 s and 10 s): $bases base, $deltas deltas, none twice"

# --- another instance's CRLs, valid shorter than ours, are renewed before they expire ---------
# The schedule counted only the interval since the last base (6 h) and
# delta (15 min): a base or delta of an instance whose policy gives a
# shorter nextUpdate (or of before a policy change) was served expired
# until that interval was over (a reviewer saw it for 6 h). Now each is
# due by its nextUpdate less a margin (crlgen_renew_by: a quarter of its
# validity, at most 5 min) too. A crld with the shortest policy allowed
# (bases valid 120 s, deltas 20 s) issues a base and a delta and stops;
# the stack's crld (the defaults) issues the next delta before that one
# expires, and says when the base is due.
mkdir -p "$tmp/crl7"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$tmp/crl7"
PKI_CRL_PORT=$(free_port) PKI_CRL_OUT_DIR=$tmp/crl7 PKI_CRL_INSTANCE=test-short \
PKI_CRL_FULL_INTERVAL_SECONDS=60 PKI_CRL_FULL_NEXT_UPDATE_SECONDS=120 \
PKI_CRL_DELTA_INTERVAL_SECONDS=10 PKI_CRL_DELTA_NEXT_UPDATE_SECONDS=20 \
	"$BUILD/crld" --config "$PKI_CONFIG" >"$tmp/crld7.log" 2>&1 &
crld7=$!
at_exit "kill -TERM $crld7 2>/dev/null; wait $crld7 2>/dev/null"
short_ready() { [ -s "$tmp/crl7/issuing-delta.crl" ]; }
wait_for short_ready >/dev/null || { cat "$tmp/crld7.log"; fail "the crld of short CRLs wrote no CRL file"; }
lines=$(wc -l <"$PKI_STACK_DIR/log/crl.log")
top7=$(q "SELECT max(number) FROM crl WHERE issuer_id = $iss")
kill -HUP "$crld7"
short_issued() { [ "$(q "SELECT count(*) FROM crl WHERE issuer_id = $iss AND number > $top7 AND issued_by = 'crld:test-short'")" -ge 2 ]; }
wait_for short_issued >/dev/null || { cat "$tmp/crld7.log"; fail "the crld of short CRLs issued no base and delta on SIGHUP"; }
kill -TERM "$crld7"
wait "$crld7" || { cat "$tmp/crld7.log"; fail "the crld of short CRLs exited non-zero on SIGTERM"; }
short() { q "SELECT max(number) FROM crl WHERE issuer_id = $iss AND number > $top7 AND issued_by = 'crld:test-short' AND $1"; }
b7=$(short is_base)
d7=$(short "kind = 'delta'")
d7end=$(q "SELECT extract(epoch FROM next_update)::bigint FROM crl WHERE issuer_id = $iss AND number = $d7")
[ -n "$b7" ] && [ -n "$d7" ] || fail "the crld of short CRLs: no base or delta above $top7"
# The stack's crld serves both, and a delta of its own before $d7 expires.
renewed() {
	curl -fsS --max-time 5 -o "$tmp/renew.crl" "$B/issuing-delta.crl" && [ "$(crlnum "$tmp/renew.crl")" -gt "$d7" ]
}
for ((i = 0; i < 150; i++)); do renewed && break; sleep 0.2; done
renewed || { tail -n +"$((lines + 1))" "$PKI_STACK_DIR/log/crl.log";
	fail "delta $d7, valid 20 s, not followed by another within 30 s: the stack's crld serves it expired"; }
nd=$(crlnum "$tmp/renew.crl")
[ "$(q "SELECT issued_by <> 'crld:test-short' AND this_update <= to_timestamp($d7end) FROM crl WHERE issuer_id = $iss AND number = $nd")" = t ] ||
	fail "delta $nd, after delta $d7: not the stack's crld's, or issued after $d7 expired"
[ "$(date +%s)" -lt "$(openssl crl -inform DER -in "$tmp/renew.crl" -noout -nextupdate | cut -d= -f2 | date -f - +%s)" ] ||
	fail "delta $nd is served expired"
curl -fsS --max-time 5 "${B%/crl}/health" | jq -e '.documents["/crl/issuing-delta.crl"].stale == false' >/dev/null ||
	fail "/health says the delta CRL is stale after delta $nd"
tail -n +"$((lines + 1))" "$PKI_STACK_DIR/log/crl.log" >"$tmp/renew.log"
has "complete CRL [0-9]* of issuing expires at .*: the next base is due by " <"$tmp/renew.log" ||
	{ cat "$tmp/renew.log"; fail "the stack's crld did not move its next base before the nextUpdate of base $b7 (120 s)"; }
# The next base, due within 90 s of $b7, now: the stack's crld back to its own CRLs.
pid=$(pidfile_of "$PKI_STACK_DIR" crl)
top7=$(q "SELECT max(number) FROM crl WHERE issuer_id = $iss")
kill -HUP "$pid"
own_base() { [ "$(q "SELECT count(*) FROM crl WHERE issuer_id = $iss AND number > $top7 AND is_base")" -ge 1 ]; }
wait_for own_base >/dev/null || fail "no base CRL within 10 s of SIGHUP to the stack's crld"
note "another instance's delta $d7 (valid 20 s) followed by delta $nd of the stack's crld before it expired; base $b7 (valid 120 s): next base moved before its nextUpdate"

# --- without ldap.uri, no CRL is queued for the directory -----------------------------------
# The publishing thread starts only with ldap.uri (and ldap.base); until
# 2026-12-06 ldap.base alone queued every CRL, its whole DER (~47 MB at
# 1,000,000 entries), in publish_queue, where nothing took it. A crld
# whose configuration has no ldap.uri issues a base and a delta (SIGHUP):
# no publish.queue event of its own.
sed '/^\[ldap\]/,/^\[/{/^uri *=/d}' "$PKI_CONFIG" >"$tmp/noldap.conf"
! grep -q '^uri *= *ldap' "$tmp/noldap.conf" || fail "$tmp/noldap.conf still has ldap.uri"
mkdir -p "$tmp/crl8"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$tmp/crl8"
env -u PKI_LDAP_URI PKI_CRL_PORT="$(free_port)" PKI_CRL_OUT_DIR="$tmp/crl8" PKI_CRL_INSTANCE=test-noldap \
	"$BUILD/crld" --config "$tmp/noldap.conf" >"$tmp/crld8.log" 2>&1 &
crld8=$!
at_exit "kill -TERM $crld8 2>/dev/null; wait $crld8 2>/dev/null"
noldap_ready() { [ -s "$tmp/crl8/issuing-delta.crl" ]; }
wait_for noldap_ready >/dev/null || { cat "$tmp/crld8.log"; fail "the crld without ldap.uri wrote no CRL file"; }
top8=$(q "SELECT max(number) FROM crl WHERE issuer_id = $iss")
kill -HUP "$crld8"
noldap_issued() { [ "$(q "SELECT count(*) FROM crl WHERE issuer_id = $iss AND number > $top8 AND issued_by = 'crld:test-noldap'")" -ge 2 ]; }
wait_for noldap_issued >/dev/null || { cat "$tmp/crld8.log"; fail "the crld without ldap.uri issued no base and delta on SIGHUP"; }
kill -TERM "$crld8"
wait "$crld8" || { cat "$tmp/crld8.log"; fail "the crld without ldap.uri exited non-zero on SIGTERM"; }
queued=$(q "SELECT count(*) FROM audit_event WHERE action = 'publish.queue' AND actor = 'crld:test-noldap'")
[ "$queued" = 0 ] || fail "a crld without ldap.uri queued $queued CRL(s) for the directory, which nothing publishes"
has 'CRLs are neither queued for nor published to a directory' <"$tmp/crld8.log" ||
	{ cat "$tmp/crld8.log"; fail "the crld without ldap.uri does not say CRLs are not queued"; }
note "without ldap.uri: a base and a delta issued, none queued for the directory"

# A log.level that is no level stops a daemon at start, saying why (until
# 2026-12-06 "error" for "err" was silently info): crld's start and the
# one every other daemon shares (lib/daemon.c), here ocspd's.
for d in crld ocspd; do
	st=0
	PKI_LOG_LEVEL=error timeout 10 "$BUILD/$d" --config "$PKI_CONFIG" >"$tmp/level.log" 2>&1 || st=$?
	[ "$st" = 1 ] && has -F 'log.level error: not one of debug, info, warn, err' "$tmp/level.log" ||
		{ cat "$tmp/level.log"; fail "$d with log.level error: exit $st, want 1 and why"; }
done
note "log.level error refused at start by crld and ocspd"
note ok
