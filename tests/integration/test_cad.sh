#!/usr/bin/env bash
# cad, the CA issuance worker: orders → certificates that openssl verify
# accepts against the chain, with the subscriber key generated in the HSM and
# stored only wrapped (its public key is the certificate's); exactly one
# certificate per order with two workers racing and after a kill -9 mid-run;
# NOTIFY wakes a worker; an HSM away for a while delays an order (backed
# off) rather than failing it; lint failures fail the order with a clear
# error and sign nothing; every step audited.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
CAD=$BUILD/cad
pkictl() { "$PKICTL" --config "$PKI_CONFIG" "$@"; }
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
pids=()
stop_workers() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
at_exit stop_workers
# The stack runs a cad of its own: the counts below need this test's workers alone.
stack_daemon_stop cad
start_worker() { # start_worker NAME [ENV=VAL...]: a cad in the background
	local name=$1
	shift
	env "$@" PKI_CAD_INSTANCE="$name" "$CAD" --config "$PKI_CONFIG" >>"$tmp/$name.log" 2>&1 &
	pids+=($!)
}
wait_done() { # wait_done SQL-CONDITION N SECONDS: until N orders match
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(q "SELECT count(*) FROM issuance_order WHERE $1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
run_once() { # run_once [ENV=VAL...]: issue what is pending, then exit
	env "$@" PKI_CAD_INSTANCE=once "$CAD" --config "$PKI_CONFIG" --once >>"$tmp/once.log" 2>&1 ||
		{ cat "$tmp/once.log"; fail "cad --once failed"; }
}
order() { # order KIND PROFILE KEYTYPE SUBJECT-JSON: prints the id
	pkictl order add --kind "$1" --profile "$2" --key-type "$3" --subject "$4"
}
cert_of() { # cert_of ORDER-ID FILE: the order's certificate as PEM
	q "SELECT encode(c.der, 'base64') FROM issuance_order o JOIN certificate c ON c.id = o.certificate_id WHERE o.id = $1" |
		base64 -d | openssl x509 -inform DER -out "$2" || fail "order $1: no certificate"
}
mine() { q "SELECT count(*) FROM certificate WHERE profile IN ('personal', 'corporate', 'eseal')"; }
st() { q "SELECT status || ' ' || attempts || ' ' || coalesce(last_error, '') FROM issuance_order WHERE id = $1"; }

# --- the ceremony step: the subscriber-key wrapping key --------------------------------
rc=0
pkictl wrapkey create --so-pin-file "$PKI_STACK_DIR/pins/pki-wrap.so-pin" >"$tmp/wk.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || { cat "$tmp/wk.out"; fail "pkictl wrapkey create: exit $rc"; }
rc=0
pkictl wrapkey create --so-pin-file "$PKI_STACK_DIR/pins/pki-wrap.so-pin" >"$tmp/wk.out" 2>&1 || rc=$?
[ "$rc" -eq 3 ] || { cat "$tmp/wk.out"; fail "a second wrapping key with the same label: exit $rc, want 3"; }

# --- three kinds, three profiles, EC and RSA -------------------------------------------
n0=$(mine)
o1=$(order personal personal ec-p256 '{"C":"ID","CN":"Budi Santoso","serialNumber":"NIK:3174012345670001"}') ||
	fail "order add personal"
o2=$(order corporate corporate rsa2048 '{"C":"ID","O":"PT Contoh Sejahtera","CN":"Siti Rahma","serialNumber":"NIK:3174015505900002"}') ||
	fail "order add corporate"
o3=$(order eseal eseal ec-p256 '{"C":"ID","O":"PT Contoh Sejahtera","CN":"PT Contoh Sejahtera Seal","organizationIdentifier":"NTRID-0123456789"}') ||
	fail "order add eseal"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'order.add' AND object_id IN ('$o1', '$o2', '$o3')")" = 3 ] ||
	fail "order add not audited"
run_once
for o in "$o1" "$o2" "$o3"; do
	[ "$(q "SELECT status FROM issuance_order WHERE id = $o")" = done ] ||
		{ cat "$tmp/once.log"; q "SELECT last_error FROM issuance_order WHERE id = $o"; fail "order $o not done"; }
	cert_of "$o" "$tmp/$o.pem"
	openssl verify -x509_strict -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" \
		"$tmp/$o.pem" >"$tmp/verify.out" 2>&1 || { cat "$tmp/verify.out"; fail "order $o: openssl verify"; }
	# The wrapped key's public key is the certificate's; the blob is p11wrap v1.
	[ "$(openssl x509 -in "$tmp/$o.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)" = \
	  "$(q "SELECT encode(sha256(k.spki), 'hex') FROM subscriber_key k WHERE k.order_id = $o")" ] ||
		fail "order $o: the stored public key is not the certificate's"
	[ "$(q "SELECT get_byte(wrapped, 0) FROM subscriber_key WHERE order_id = $o")" = 1 ] ||
		fail "order $o: wrapped key not in format v1"
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'order.done' AND object_id = '$o'")" = 1 ] ||
		fail "order $o: order.done not audited"
done
[ "$(q "SELECT get_byte(wrapped, 1) FROM subscriber_key WHERE order_id = $o2")" = 1 ] ||
	fail "order $o2: not an rsa2048 blob"
openssl x509 -in "$tmp/$o2.pem" -noout -text >"$tmp/o2.txt"
grep -qF 'Public-Key: (2048 bit)' "$tmp/o2.txt" || fail "corporate: not RSA-2048"
grep -qF 'O = PT Contoh Sejahtera' "$tmp/o2.txt" || fail "corporate: no organization"
openssl x509 -in "$tmp/$o3.pem" -noout -text >"$tmp/o3.txt"
grep -qF 'organizationIdentifier = NTRID-0123456789' "$tmp/o3.txt" || fail "eseal: no organizationIdentifier"
grep -qF 'E-mail Protection' "$tmp/o3.txt" && fail "eseal: a seal must not have emailProtection"
openssl x509 -in "$tmp/$o1.pem" -noout -text >"$tmp/o1.txt"
for want in 'serialNumber = NIK:3174012345670001' 'Digital Signature, Non Repudiation' 'CA:FALSE' \
    'Policy: 2.999.1.1.2' 'OCSP - URI:http://127.0.0.1'; do
	grep -qF -- "$want" "$tmp/o1.txt" || fail "personal certificate lacks: $want"
done
ser=$(openssl x509 -noout -serial -in "$tmp/$o1.pem" | cut -d= -f2)
[ ${#ser} -ge 16 ] || fail "serial $ser has fewer than 64 bits"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'cert.issue' AND details->>'serial' = '$ser'")" = 1 ] ||
	fail "issuance not audited"
[ "$(mine)" -eq $((n0 + 3)) ] || fail "3 orders, $(( $(mine) - n0 )) certificates"
note "3 kinds issued: $(pkictl order show --id "$o1" | sed -n 's/^serial\t//p') ..."

# --- the directory: each subscriber certificate gets an entry; revocation updates it ---
# Subscriber entries carry names and NIKs: only bound directory users read them.
bind_dn=$(sed -n 's/^bind_dn = //p' "$PKI_CONFIG")
bind_pw=$(sed -n 's/^bind_pw_file = //p' "$PKI_CONFIG")
ldap_entry() { # ldap_entry SERIAL OUT: the entry's attributes (ldapsearch -LLL)
	ldapsearch -x -LLL -o ldif-wrap=no -H "$PKI_LDAP_URI" -D "$bind_dn" -y "$bind_pw" \
		-b "cn=$1,ou=subscribers,$PKI_LDAP_BASE" \
		-s base '(objectClass=pkiUser)' 'userCertificate;binary' description >"$2" 2>&1 ||
		{ cat "$2"; fail "ldapsearch for subscriber $1"; }
}
# Queued: done or not, since crld's own publication round (every 30 s) may
# have come between the issuance and this query.
[ "$(q "SELECT count(*) FROM publish_certificate p JOIN issuance_order o ON o.certificate_id = p.certificate_id
      WHERE o.id IN ('$o1', '$o2', '$o3')")" = 3 ] ||
	fail "issuance did not queue the 3 certificates for the directory"
publish_all
ldap_entry "$ser" "$tmp/entry.ldif"
sed -n 's/^userCertificate;binary:: //p' "$tmp/entry.ldif" | base64 -d >"$tmp/entry.der"
openssl x509 -inform DER -in "$tmp/entry.der" -outform PEM | cmp -s - <(openssl x509 -in "$tmp/$o1.pem") ||
	fail "the directory's userCertificate is not the issued certificate"
grep -qx 'description: status=valid' "$tmp/entry.ldif" || fail "directory entry: $(cat "$tmp/entry.ldif")"
rc=0
ldapsearch -x -LLL -H "$PKI_LDAP_URI" -b "ou=subscribers,$PKI_LDAP_BASE" '(objectClass=pkiUser)' \
	>"$tmp/anon.ldif" 2>&1 || rc=$?
# 0 (nothing visible), 32 noSuchObject or 50 insufficientAccess: an answer, not a lost connection.
case $rc in 0 | 32 | 50) ;; *) fail "anonymous ldapsearch: status $rc: $(cat "$tmp/anon.ldif")" ;; esac
! grep -q 'userCertificate' "$tmp/anon.ldif" || fail "an anonymous bind reads subscriber certificates"
pkictl cert revoke --serial "$ser" --reason privilegeWithdrawn >/dev/null || fail "pkictl cert revoke"
publish_all
ldap_entry "$ser" "$tmp/entry.ldif"
grep -q '^description: status=revoked; reason=privilegeWithdrawn; revoked_at=20' "$tmp/entry.ldif" ||
	fail "revocation did not update the directory entry: $(grep description "$tmp/entry.ldif")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'publish.ldap' AND object_type = 'publish_certificate' AND details->>'serial' = '$ser'")" -ge 2 ] ||
	fail "directory publication of $ser not audited"
note "directory: cn=$ser,ou=subscribers,$PKI_LDAP_BASE published, then updated on revocation"

# --- lint: the order fails with a clear error, nothing is signed -----------------------
n0=$(mine)
f1=$(order personal personal ec-p256 '{"C":"ID","CN":"","serialNumber":"NIK:3174012345670003"}')
f2=$(order corporate corporate ec-p256 '{"C":"ID","CN":"No Company","serialNumber":"NIK:3174012345670004"}')
f3=$(order personal eseal ec-p256 '{"C":"ID","O":"X","CN":"X Seal","organizationIdentifier":"NTRID-1"}')
f4=$(order personal personal ec-p256 '{"C":"ID","CN":"Budi","serialNumber":"NIK:1","OU":"not allowed"}')
f5=$(order personal personal rsa4096 '{"C":"ID","CN":"Budi","serialNumber":"NIK:1"}')
# Looks like the real name, and is another: an invisible U+200B at its end.
f6=$(order personal personal ec-p256 '{"C":"ID","CN":"Budi Santoso\u200b","serialNumber":"NIK:3174012345670001"}')
f7=$(order personal personal ec-p256 '{"C":"XX","CN":"Budi Santoso","serialNumber":"NIK:3174012345670001"}')
run_once
want_fail() { # want_fail ORDER PATTERN
	[ "$(q "SELECT status FROM issuance_order WHERE id = $1")" = failed ] || fail "order $1 not failed"
	q "SELECT last_error FROM issuance_order WHERE id = $1" | has -F -- "$2" ||
		fail "order $1: last_error '$(q "SELECT last_error FROM issuance_order WHERE id = $1")', want '$2'"
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'order.fail' AND object_id = '$1'")" = 1 ] ||
		fail "order $1: failure not audited"
	[ "$(q "SELECT count(*) FROM subscriber_key WHERE order_id = $1")" = 0 ] || fail "order $1: a key was stored"
}
want_fail "$f1" 'subject attribute CN is empty'
want_fail "$f2" 'subject attribute O required by profile corporate is missing'
want_fail "$f3" 'profile eseal is for kind eseal, not personal'
want_fail "$f4" 'subject attribute OU not allowed by profile personal'
want_fail "$f5" 'key type rsa4096 not allowed by profile personal'
want_fail "$f6" 'subject attribute CN holds an invisible format character (U+200B)'
want_fail "$f7" 'subject attribute C XX is not an ISO 3166-1 alpha-2 country code'
[ "$(mine)" -eq "$n0" ] || fail "a lint failure signed a certificate"

# --- a profile every order would fail stops cad at start, with the reason --------------
# A validity cap the profile's 365 days (+ 300 s backdated) exceed, even by
# the backdating alone; a seal profile edited to carry serverAuth; no [urls].
refused_start() { # refused_start NAME PATTERN [ENV=VAL...]: cad exits 1 saying PATTERN
	local name=$1 want=$2 st=0
	shift 2
	timeout 60 env "$@" PKI_CAD_INSTANCE="$name" "$CAD" --config "$PKI_CONFIG" --once >"$tmp/$name.log" 2>&1 || st=$?
	[ "$st" = 1 ] || { cat "$tmp/$name.log"; fail "cad with $name: exit $st, want 1"; }
	has -F -- "$want" "$tmp/$name.log" || { cat "$tmp/$name.log"; fail "cad with $name: no '$want'"; }
}
pc=$(order personal personal ec-p256 '{"C":"ID","CN":"Cap Waits","serialNumber":"NIK:3174012345670005"}')
refused_start cap30 'profile personal: validity_days 365 and backdate_seconds 300 make certificates of 365 days 300 s, over cad.max_validity_days 30' \
	PKI_CAD_MAX_VALIDITY_DAYS=30
refused_start cap365 'over cad.max_validity_days 365: every order would fail lint (raise the cap to 366 or shorten the profile)' \
	PKI_CAD_MAX_VALIDITY_DAYS=365
policy=$(sed -n 's/^policy_dir = //p' "$PKI_CONFIG")
mkdir -p "$tmp/policy"
cp -r "$policy/profiles" "$tmp/policy/"
sed -i 's/^keyUsage = .*/&\nextendedKeyUsage = serverAuth, codeSigning/' "$tmp/policy/profiles/eseal.cnf"
refused_start badeseal 'profile eseal: a test certificate fails the lint: lint: extendedKeyUsage serverAuth (1.3.6.1.5.5.7.3.1) not allowed for kind eseal (profile eseal): not starting' \
	PKI_PKI_POLICY_DIR="$tmp/policy"
refused_start nourls 'profile personal: a test certificate' PKI_URLS_OCSP= PKI_URLS_CRL_BASE=
[ "$(q "SELECT status FROM issuance_order WHERE id = $pc")" = pending ] || fail "order $pc taken by a cad that refused to start"
run_once PKI_CAD_MAX_VALIDITY_DAYS=366 PKI_CAD_PROFILES=personal
[ "$(q "SELECT status FROM issuance_order WHERE id = $pc")" = done ] || fail "order $pc not issued with cad.max_validity_days 366: $(q "SELECT last_error FROM issuance_order WHERE id = $pc")"
note "cad refused to start with a cap of 30 or 365 days, a seal profile with serverAuth, no [urls]; issued with 366"

# --- a token holding another key under the issuing CA's label: refused at start ---------
# (hsm.ca_token naming the wrong token, a restore from the wrong backup).
# Before, cad started, and profile_sign's check rolled back every order.
hsmdir=$(dirname "$SOFTHSM2_CONF")
issuing_label=$(q "SELECT k.key_label FROM ca_certificate c JOIN ca_key k ON k.id = c.key_id WHERE c.name = 'issuing'")
drop_rogue() { softhsm2-util --delete-token --token pki-rogue >/dev/null 2>&1 || true; }
at_exit drop_rogue
(umask 077; printf '%s' 'rogue-so-pin-5521' >"$tmp/rogue.so-pin"; printf '%s' 'rogue-pin-5521' >"$tmp/rogue.pin")
pkictl token init --label pki-rogue --so-pin-file "$tmp/rogue.so-pin" --pin-file "$tmp/rogue.pin" >"$tmp/rogue.out" 2>&1 ||
	{ cat "$tmp/rogue.out"; fail "token init pki-rogue"; }
pkictl key gen --token pki-rogue --label "$issuing_label" --type ec-p256 --pin-file "$tmp/rogue.pin" >>"$tmp/rogue.out" 2>&1 ||
	{ cat "$tmp/rogue.out"; fail "key gen in pki-rogue"; }
# The signers, demoted, read the token files as the stack's HSM user:
# pkictl gave them to it.
tokens_given "$hsmdir/tokens"
pr=$(order personal personal ec-p256 '{"C":"ID","CN":"Rogue Waits","serialNumber":"NIK:3174012345670006"}')
refused_start rogue "key $issuing_label in token pki-rogue (SPKI SHA-256 " 	PKI_HSM_CA_TOKEN=pki-rogue PKI_HSM_CA_PIN_FILE="$tmp/rogue.pin"
has -F "is not the key of the issuing CA's certificate issuing" "$tmp/rogue.log" || { cat "$tmp/rogue.log"; fail "rogue: no reason"; }
[ "$(st "$pr")" = "pending 0 " ] || fail "order $pr touched by a cad with the wrong key: $(st "$pr")"
drop_rogue
run_once PKI_CAD_PROFILES=personal
[ "$(q "SELECT status FROM issuance_order WHERE id = $pr")" = done ] || fail "order $pr not issued with the CA's own token"
note "cad refused to start with another key under the issuing CA's label; the order waited and was issued with the CA's token"

# --- a poison order never blocks the queue --------------------------------------------
# A subject key of 300 x "é": its quoted name once cut the error inside a
# character, PostgreSQL refused the last_error (SQLSTATE 22021), and the
# order was claimed again every second ahead of every newer one, for ever.
once_bounded() { # once_bounded LOG [ENV=VAL...]: cad --once, which must end by itself
	local log=$1 st=0
	shift
	timeout 60 env "$@" PKI_CAD_INSTANCE=once "$CAD" --config "$PKI_CONFIG" --once >"$tmp/$log.log" 2>&1 || st=$?
	[ "$st" = 0 ] || { cat "$tmp/$log.log"; fail "cad --once ($log): exit $st (124: never ended)"; }
}
ekey=$(printf 'é%.0s' $(seq 300))
p1=$(q "INSERT INTO issuance_order (kind, profile, subject, key_type, requested_by) VALUES ('personal', 'personal',
   jsonb_build_object('$ekey', 'x', 'C', 'ID', 'CN', 'Poison Key', 'serialNumber', 'NIK:3174012345670020'), 'ec-p256', 'test_cad')
   RETURNING id" | head -n1)
g1=$(order personal personal ec-p256 '{"C":"ID","CN":"After Poison","serialNumber":"NIK:3174012345670021"}')
once_bounded poison1
[ "$(q "SELECT status FROM issuance_order WHERE id = $g1")" = done ] || { cat "$tmp/poison1.log"; fail "order $g1 after a poison order: $(st "$g1")"; }
want_fail "$p1" 'lint: subject attribute U+00E9U+00E9'
q "SELECT last_error FROM issuance_order WHERE id = $p1" | has -F 'U+00E9... not allowed by profile personal' ||
	fail "order $p1: the key not quoted bounded: $(q "SELECT left(last_error, 200) FROM issuance_order WHERE id = $p1")"

# The failure cannot be recorded at all (here a trigger refuses it): the
# attempt is counted and backed off as a retry, audited; the next order is
# issued; --once ends.
q "CREATE FUNCTION test_cad_refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN
     IF OLD.subject->>'CN' = 'Refuse Failed' AND NEW.status = 'failed' THEN RAISE EXCEPTION 'test_cad: failed refused'; END IF;
     IF OLD.subject->>'CN' = 'Refuse All' THEN RAISE EXCEPTION 'test_cad: every update refused'; END IF;
     RETURN NEW;
   END \$\$;
   CREATE TRIGGER test_cad_refuse BEFORE UPDATE ON issuance_order FOR EACH ROW EXECUTE FUNCTION test_cad_refuse()" >/dev/null
drop_refuse() { q "DROP TRIGGER IF EXISTS test_cad_refuse ON issuance_order; DROP FUNCTION IF EXISTS test_cad_refuse()" >/dev/null 2>&1 || true; }
at_exit drop_refuse
p2=$(order personal personal ec-p256 '{"C":"ID","CN":"Refuse Failed","serialNumber":"NIK:3174012345670022","OU":"x"}')
g2=$(order personal personal ec-p256 '{"C":"ID","CN":"After Refused Fail","serialNumber":"NIK:3174012345670023"}')
# (A back-off of 5 s: the worker's 1 s pause after the attempt does not reach it.)
once_bounded poison2 PKI_CAD_RETRY_BACKOFF_MS=5000
[ "$(q "SELECT status FROM issuance_order WHERE id = $g2")" = done ] || { cat "$tmp/poison2.log"; fail "order $g2 after an unrecordable failure: $(st "$g2")"; }
[ "$(q "SELECT status || ' ' || attempts || ' ' || (next_attempt_at > now()) FROM issuance_order WHERE id = $p2")" = 'pending 1 true' ] ||
	{ cat "$tmp/poison2.log"; fail "order $p2 not counted and backed off: $(st "$p2")"; }
q "SELECT last_error FROM issuance_order WHERE id = $p2" | has -F 'subject attribute OU not allowed by profile personal' ||
	fail "order $p2: last_error $(st "$p2")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'order.retry' AND object_id = '$p2' AND details->>'error' LIKE '%OU not allowed%'")" = 1 ] ||
	fail "order $p2: the counted attempt not audited"
# Nothing at all about the order can be written: this worker puts it aside
# (backed off in memory) and goes on with the next one; --once ends.
p3=$(order personal personal ec-p256 '{"C":"ID","CN":"Refuse All","serialNumber":"NIK:3174012345670024","OU":"x"}')
g3=$(order personal personal ec-p256 '{"C":"ID","CN":"After Refuse All","serialNumber":"NIK:3174012345670025"}')
once_bounded poison3 PKI_CAD_RETRY_BACKOFF_MS=10000
[ "$(q "SELECT status FROM issuance_order WHERE id = $g3")" = done ] || { cat "$tmp/poison3.log"; fail "order $g3 behind an order nothing can be recorded of: $(st "$g3")"; }
[ "$(q "SELECT status || ' ' || attempts FROM issuance_order WHERE id = $p3")" = 'pending 0' ] || fail "order $p3: $(st "$p3")"
has -F "order $p3: attempt not recorded; this worker leaves it aside for 10000 ms" "$tmp/poison3.log" ||
	{ cat "$tmp/poison3.log"; fail "order $p3: not put aside"; }
drop_refuse
# Both are failed (OU not allowed) by the next worker that claims them.
note "poison orders: $p1 failed with a bounded UTF-8 error, $p2 counted as a retry, $p3 put aside; $g1 $g2 $g3 issued behind them"
# The database refuses what no worker may do.
sql_fails "$PKI_TEST_PG_URI" "UPDATE issuance_order SET status = 'pending', done_at = NULL WHERE id = $f1" 'final'
sql_fails "$PKI_TEST_PG_URI" "UPDATE issuance_order SET status = 'failed', last_error = 'x', done_at = now(), certificate_id = NULL WHERE id = $o1" 'final'
sql_fails "$PKI_TEST_PG_URI" "INSERT INTO issuance_order (kind, profile, subject, key_type, requested_by) VALUES ('personal', 'personal', '{}', 'dsa1024', 't')" 'check constraint'
ca_uri=$(sed -n 's/^ca_uri = //p' "$PKI_CONFIG")
ra_uri=$(sed -n 's/^ra_uri = //p' "$PKI_CONFIG")
sql_fails "$ca_uri" "DELETE FROM issuance_order WHERE id = $o1" 'permission denied'
sql_fails "$ca_uri" "DELETE FROM subscriber_key WHERE order_id = $o1" 'permission denied'
sql_fails "$ra_uri" "UPDATE issuance_order SET status = 'done' WHERE id = $f1" 'permission denied'
sql_fails "$ra_uri" "SELECT wrapped FROM subscriber_key" 'permission denied'

# --- an order of a profile a worker does not serve waits for one that does -----------
# (a rolling upgrade: one worker already has a new profile, another not yet)
u=$(order corporate corporate ec-p256 '{"C":"ID","O":"PT Contoh","CN":"Served Later","serialNumber":"NIK:3174012345670007"}')
run_once PKI_CAD_PROFILES=personal
[ "$(q "SELECT status || coalesce(' ' || last_error, '') FROM issuance_order WHERE id = $u")" = pending ] ||
	fail "a worker that does not serve corporate took order $u: $(q "SELECT status, last_error FROM issuance_order WHERE id = $u")"
run_once
[ "$(q "SELECT status FROM issuance_order WHERE id = $u")" = done ] || fail "order $u not done by a worker serving corporate"
note "an order of a profile one worker does not serve stayed pending and another issued it"

# --- nothing is issued under an issuing CA on hold or revoked ---------------------------
# (the superuser holds it: pkictl refuses a hold of a CA certificate) The
# order waits, the worker says why once; released, it is issued.
held_issuing() { q "UPDATE certificate SET revoked_at = $1, revocation_reason = $2, revoked_by = $3
    WHERE issuer_id = (SELECT id FROM ca_certificate WHERE name = 'root')
    AND serial = (SELECT serial FROM ca_certificate WHERE name = 'issuing')" >/dev/null; }
held_issuing 'now()' 6 "'test_cad'"
at_exit "held_issuing NULL NULL NULL"
h=$(order personal personal ec-p256 '{"C":"ID","CN":"Under Hold","serialNumber":"NIK:3174012345670008"}')
: >"$tmp/once.log"
run_once
run_once
# (No other worker runs: the stack's cad is stopped for the whole test.)
[ "$(st "$h")" = "pending 0 " ] || fail "order $h under an issuing CA on hold: $(st "$h")"
[ "$(grep -c "the issuing CA's certificate was put on hold at" "$tmp/once.log")" = 2 ] ||
	fail "cad did not say why it issues nothing: $(cat "$tmp/once.log")"
held_issuing NULL NULL NULL
run_once
wait_done "id = $h AND status = 'done'" 1 10 || fail "order $h not issued once the issuing CA was released: $(st "$h")"
note "an issuing CA on hold: order $h waited (the worker said why), issued once released"

# --- NOTIFY wakes a waiting worker (its poll is 60 s) ----------------------------------
start_worker notify PKI_CAD_POLL_SECONDS=60
sleep 2
w=$(order personal personal ec-p256 '{"C":"ID","CN":"Wake Up","serialNumber":"NIK:3174012345670006"}')
wait_done "id = $w AND status = 'done'" 1 5 || { cat "$tmp/notify.log"; fail "NOTIFY did not wake the worker"; }
stop_workers

# --- two workers racing over 20 orders: 20 certificates, none twice --------------------
n0=$(mine)
first=$(q "SELECT coalesce(max(id), 0) FROM issuance_order")
q "INSERT INTO issuance_order (kind, profile, subject, key_type, requested_by)
   SELECT 'personal', 'personal', jsonb_build_object('C', 'ID', 'CN', 'Race ' || g, 'serialNumber', 'NIK:' || g),
          'ec-p256', 'test_cad' FROM generate_series(1, 20) g" >/dev/null
start_worker race-a PKI_CAD_POLL_SECONDS=1
start_worker race-b PKI_CAD_POLL_SECONDS=1
wait_done "id > $first AND status = 'done'" 20 120 || { cat "$tmp/race-a.log" "$tmp/race-b.log"; fail "20 racing orders not done"; }
stop_workers
[ "$(q "SELECT count(DISTINCT certificate_id) FROM issuance_order WHERE id > $first")" = 20 ] ||
	fail "racing workers: not 20 distinct certificates"
[ "$(mine)" -eq $((n0 + 20)) ] || fail "racing workers: $(( $(mine) - n0 )) certificates for 20 orders"
note "race: $(q "SELECT string_agg(n::text, '+') FROM (SELECT count(*) n FROM issuance_order WHERE id > $first GROUP BY split_part(claimed_by, ':', 2)) s") orders per worker"

# --- kill -9 mid-run, restart: still exactly one certificate per order -----------------
n0=$(mine)
first=$(q "SELECT coalesce(max(id), 0) FROM issuance_order")
# The first four RSA-2048 (a key generation of a second or so), so that
# the kill after two lands inside one; the other eight EC P-256, which the
# restart issues in a moment (all twelve RSA-2048 took the restart ~12 s).
q "INSERT INTO issuance_order (kind, profile, subject, key_type, requested_by)
   SELECT 'personal', 'personal', jsonb_build_object('C', 'ID', 'CN', 'Crash ' || g, 'serialNumber', 'NIK:' || g),
          CASE WHEN g <= 4 THEN 'rsa2048' ELSE 'ec-p256' END, 'test_cad' FROM generate_series(1, 12) g" >/dev/null
start_worker crash PKI_CAD_POLL_SECONDS=1
victim=${pids[-1]}
wait_done "id > $first AND status = 'done'" 2 120 || { cat "$tmp/crash.log"; fail "crash worker issued nothing"; }
kill -KILL "$victim"
wait "$victim" 2>/dev/null || true
pids=()
before=$(q "SELECT count(*) FROM issuance_order WHERE id > $first AND status = 'done'")
[ "$before" -lt 12 ] || note "warning: the worker finished before the kill"
# The order in hand at the kill (if any: the kill may fall between two) is
# counted at the restart from the killed worker's in-flight marker and
# backed off (10 ms here); a pass that ended before it was due leaves it
# to the next (test_cad_crash tests the counting itself).
run_once PKI_CAD_RETRY_BACKOFF_MS=10
[ "$(q "SELECT count(*) FROM issuance_order WHERE id > $first AND status = 'done'")" = 12 ] ||
	run_once PKI_CAD_RETRY_BACKOFF_MS=10
[ "$(q "SELECT count(*) FROM issuance_order WHERE id > $first AND status = 'done'")" = 12 ] ||
	fail "after kill -9 and restart: not every order done"
counted=$(q "SELECT count(*) FROM audit_event WHERE action = 'order.retry' AND object_type = 'issuance_order'
   AND object_id IN (SELECT id::text FROM issuance_order WHERE id > $first) AND details->>'worker' LIKE 'cad:crash:%'")
[ "$counted" -le 1 ] || fail "after kill -9: $counted attempts counted for one killed worker"
[ "$(mine)" -eq $((n0 + 12)) ] || fail "after kill -9: $(( $(mine) - n0 )) certificates for 12 orders"
[ "$(q "SELECT count(*) FROM certificate c WHERE profile IN ('personal', 'corporate', 'eseal') AND
      (SELECT count(*) FROM issuance_order o WHERE o.certificate_id = c.id) <> 1")" = 0 ] ||
	fail "a certificate that is not exactly one order's"
[ "$(q "SELECT count(*) FROM subscriber_key k JOIN issuance_order o ON o.id = k.order_id WHERE o.certificate_id <> k.certificate_id")" = 0 ] ||
	fail "a wrapped key stored beside another order's certificate"
note "kill -9 after $before of 12 orders ($counted attempt in hand counted); restart finished the rest, one certificate each"

# --- a directory backlog larger than one batch drains in one `pkictl publish` ----------
# As after a directory rebuild: every subscriber certificate queued again,
# twice, so the queue holds several batches (32 rows each) at once.
# (Counted as inserted: crld's own round may start on them at any moment.)
backlog=$(q "WITH i AS (INSERT INTO publish_certificate (certificate_id) SELECT c.id FROM certificate c,
   generate_series(1, 2) WHERE c.profile NOT IN ('root', 'issuing-ca', 'ocsp-responder', 'tsa')
   RETURNING 1) SELECT count(*) FROM i")
[ "$backlog" -gt 64 ] || fail "only $backlog publications queued: the check needs more than two batches"
pkictl publish >"$tmp/publish.out" 2>&1 || { cat "$tmp/publish.out"; fail "pkictl publish left a backlog"; }
grep -qx '0 publication(s) pending' "$tmp/publish.out" || fail "pkictl publish: $(tail -n1 "$tmp/publish.out")"
[ "$(q "SELECT count(*) FROM publish_certificate WHERE done_at IS NULL")" = 0 ] ||
	fail "publications left pending after pkictl publish"
note "a backlog of $backlog directory publications drained by one pkictl publish"

# --- a worker that loses its database connection connects again ----------------------
# Its backend is terminated and its role refused for a while (as in a
# PostgreSQL restart or failover): it keeps running, retries with back-off,
# and issues the next order once the database takes it again.
start_worker dblost PKI_CAD_POLL_SECONDS=1
victim=${pids[-1]}
for _ in $(seq 100); do grep -q 'issuing with' "$tmp/dblost.log" && break; sleep 0.1; done
grep -q 'issuing with' "$tmp/dblost.log" || { cat "$tmp/dblost.log"; fail "dblost worker did not start"; }
restore_ca() { q "ALTER ROLE pki_ca LOGIN" >/dev/null 2>&1 || true; }
at_exit restore_ca
q "ALTER ROLE pki_ca NOLOGIN" >/dev/null
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'pki_ca'" >/dev/null
for _ in $(seq 100); do grep -q 'connection lost: connecting again' "$tmp/dblost.log" && break; sleep 0.1; done
grep -q 'connection lost: connecting again' "$tmp/dblost.log" || { cat "$tmp/dblost.log"; fail "cad did not notice the lost connection"; }
sleep 2
kill -0 "$victim" 2>/dev/null || { cat "$tmp/dblost.log"; fail "cad exited when its database connection was lost"; }
restore_ca
id=$(order personal personal ec-p256 '{"C":"ID","CN":"After Outage","serialNumber":"NIK:3171010101900009"}')
wait_done "id = $id AND status = 'done'" 1 40 || { cat "$tmp/dblost.log"; fail "no certificate after the database came back"; }
grep -q 'database connection back' "$tmp/dblost.log" || fail "cad did not log the reconnection"
stop_workers
note "a worker whose connection was cut reconnected and issued order $id"

# --- the HSM away for a while: the order backs off and is issued after, not failed ----
# The wrap token's directory is taken away (an HSM unplugged or restarting):
# WRAPGEN fails (SIGNER_FAILED), the attempt is counted and the order backed
# off 1, 2, 4 … s (cad.retry_backoff_ms doubling), not failed although
# cad.max_attempts (2 here) is reached: it fails only after cad.retry_hours
# (24) since its first failure too.
tokobj=$(grep -la 'pki-wrap' "$PKI_DIR"/hsm/tokens/*/token.object | sed -n 1p || true)
[ -n "$tokobj" ] || fail "no token of label pki-wrap under $PKI_DIR/hsm/tokens"
tokdir=$(dirname "$tokobj")
away=$PKI_DIR/hsm/wrap-token-away
token_back() { if [ -d "$away" ]; then mv "$away" "$tokdir"; fi; }
at_exit token_back
started() { # started NAME: until its log says "issuing with"
	for _ in $(seq 100); do grep -q 'issuing with' "$tmp/$1.log" && return 0; sleep 0.1; done
	cat "$tmp/$1.log"
	fail "worker $1 did not start"
}
start_worker hsmaway PKI_CAD_POLL_SECONDS=60 PKI_CAD_MAX_ATTEMPTS=2
started hsmaway
mv "$tokdir" "$away"
id=$(order personal personal ec-p256 '{"C":"ID","CN":"Token Away","serialNumber":"NIK:3171010101900010"}')
wait_done "id = $id AND attempts >= 3" 1 30 ||
	{ token_back; cat "$tmp/hsmaway.log"; fail "order $id: not three attempts while the token was away: $(st "$id")"; }
[ "$(q "SELECT status FROM issuance_order WHERE id = $id")" = pending ] ||
	{ token_back; fail "a token away for seconds used order $id up: $(st "$id")"; }
# SoftHSM2 answers "no such object" while a token's files are away (hsm/README.md "Recovery").
q "SELECT last_error FROM issuance_order WHERE id = $id" | has -E 'subscriber-wrap-1|pki-wrap' ||
	{ token_back; fail "order $id: last_error does not name the wrap token or key: $(st "$id")"; }
# Backed off, doubling: 1000, 2000, 4000 ms, each attempt at least that long after the one before.
retries() { # retries ORDER: its order.retry back-offs, in order
	q "SELECT string_agg(details->>'retry_in_ms', ',' ORDER BY id) FROM audit_event
	   WHERE action = 'order.retry' AND object_id = '$1'"
}
spaced() { # spaced ORDER: t when each retry came at least (nearly) its back-off after the one before
	q "SELECT coalesce(bool_and(gap >= interval '0.9 s' * 2 ^ (n - 2)), true) FROM (SELECT
	   row_number() OVER w AS n, at - lag(at) OVER w AS gap FROM audit_event
	   WHERE action = 'order.retry' AND object_id = '$1' WINDOW w AS (ORDER BY id)) s WHERE n > 1"
}
backoffs=$(retries "$id")
case $backoffs in 1000,2000,4000*) ;; *) token_back; fail "order $id: back-offs $backoffs, want 1000,2000,4000,…" ;; esac
[ "$(spaced "$id")" = t ] || { token_back; fail "order $id: attempts closer than their back-off: $(q "SELECT
    string_agg(at::text, ', ' ORDER BY id) FROM audit_event WHERE action = 'order.retry' AND object_id = '$id'")"; }
[ "$(q "SELECT next_attempt_at > clock_timestamp() - interval '1 s' AND first_failed_at IS NOT NULL
      FROM issuance_order WHERE id = $id")" = t ] || { token_back; fail "order $id: no next_attempt_at ahead"; }
token_back
# The same worker, not restarted: its signer's session saw the wrapping key
# vanish, so SoftHSM2 hides it there; not found, the signer looks once more
# through a new session (hsm/p11wrap.c, as p11.c for private keys). The
# worker polls every 60 s and no NOTIFY comes: it issues the order when it is
# due again (4 to 16 s), from next_attempt_at.
wait_done "id = $id AND status = 'done'" 1 30 ||
	{ cat "$tmp/hsmaway.log"; fail "order $id not issued after the token came back, without a restart: $(st "$id")"; }
[ "$(q "SELECT count(*) FROM subscriber_key WHERE order_id = $id")" = 1 ] || fail "order $id: not one wrapped key"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'order.fail' AND object_id = '$id'")" = 0 ] ||
	fail "order $id: an order.fail was audited"
note "the wrap token away: order $id backed off $backoffs ms, $(q "SELECT attempts FROM issuance_order WHERE id = $id") attempts, then issued"

# The same worker goes on once the failure passes: here PostgreSQL refuses
# the wrapped key's INSERT for a while (the grant taken away) — the
# signature is made, nothing is stored, the order is backed off, then issued.
restore_key_grant() { q "GRANT INSERT ON subscriber_key TO pki_ca" >/dev/null 2>&1 || true; }
at_exit restore_key_grant
q "REVOKE INSERT ON subscriber_key FROM pki_ca" >/dev/null
id3=$(order personal personal ec-p256 '{"C":"ID","CN":"Store Refused","serialNumber":"NIK:3171010101900012"}')
wait_done "id = $id3 AND attempts >= 2" 1 30 ||
	{ restore_key_grant; cat "$tmp/hsmaway.log"; fail "order $id3: not two attempts while the insert was refused: $(st "$id3")"; }
restore_key_grant
[ "$(q "SELECT status FROM issuance_order WHERE id = $id3")" != failed ] || fail "order $id3 used up: $(st "$id3")"
wait_done "id = $id3 AND status = 'done'" 1 30 ||
	{ cat "$tmp/hsmaway.log"; fail "order $id3 not issued by the same worker once the insert was allowed: $(st "$id3")"; }
case $(retries "$id3") in 1000,2000*) ;; *) fail "order $id3: back-offs $(retries "$id3")" ;; esac
[ "$(spaced "$id3")" = t ] || fail "order $id3: attempts closer than their back-off"
kill -0 "${pids[-1]}" 2>/dev/null || { cat "$tmp/hsmaway.log"; fail "the hsmaway worker stopped"; }
stop_workers
note "the wrapped key's insert refused a while: order $id3 backed off $(retries "$id3") ms, then issued by the same worker"

# An order that keeps failing still ends: after cad.max_attempts and
# cad.retry_hours (0 here) it is failed, with its order.fail.
q "REVOKE INSERT ON subscriber_key FROM pki_ca" >/dev/null
id2=$(order personal personal ec-p256 '{"C":"ID","CN":"Store Refused","serialNumber":"NIK:3171010101900011"}')
run_once PKI_CAD_MAX_ATTEMPTS=1 PKI_CAD_RETRY_HOURS=0
restore_key_grant
[ "$(q "SELECT status FROM issuance_order WHERE id = $id2")" = failed ] ||
	fail "order $id2 with max_attempts 1 and retry_hours 0: $(st "$id2")"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'order.fail' AND object_id = '$id2'")" = 1 ] ||
	fail "order $id2: given up without order.fail"

# --- a stop sent to the whole process group (systemctl stop, Ctrl-C) ------------------
# reaches the signer too; the worker finishes the order in hand with it and
# exits 0. Until 2026-12-06 the signer died first: the order in hand was
# counted as a failed attempt ("exited without a reply") and cad exited 1.
setsid env PKI_CAD_INSTANCE=group PKI_CAD_POLL_SECONDS=1 "$CAD" --config "$PKI_CONFIG" >>"$tmp/group.log" 2>&1 &
group=$!
pids+=("$group")
first=$(q "SELECT coalesce(max(id), 0) FROM issuance_order")
# Three RSA-3072 (slow) and one EC P-256: issuing the whole queue before
# the stop would still mean the two RSA-3072 after the first, and the last
# one, issued afterwards by run_once, costs no RSA-3072 key generation.
for i in 1 2 3 4; do
	kt=rsa3072
	[ "$i" != 4 ] || kt=ec-p256
	order personal personal "$kt" "{\"C\":\"ID\",\"CN\":\"Group Stop $i\",\"serialNumber\":\"NIK:317101010190002$i\"}" >/dev/null
done
# One issued: the worker has claimed the next, whose RSA-3072 key takes a while.
wait_done "id > $first AND status = 'done'" 1 60 || { cat "$tmp/group.log"; fail "no RSA-3072 order issued"; }
kill -TERM -- "-$group"
st=0
wait "$group" || st=$?
pids=()
[ "$st" = 0 ] || { cat "$tmp/group.log"; fail "cad stopped with its process group: exit $st, want 0"; }
[ "$(q "SELECT count(*) FROM issuance_order WHERE id > $first AND last_error IS NOT NULL")" = 0 ] &&
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'order.retry' AND object_id::bigint > $first")" = 0 ] ||
	{ cat "$tmp/group.log"; q "SELECT id, status, attempts, last_error FROM issuance_order WHERE id > $first"; fail "an order in hand was counted as failed when the group stopped"; }
# After the order in hand, not after the queue (until 2026-12-06 the
# signal waited, blocked, until nothing was left to issue).
[ "$(q "SELECT count(*) FROM issuance_order WHERE id > $first AND status = 'pending'")" -ge 1 ] ||
	{ cat "$tmp/group.log"; fail "cad issued the whole queue before it stopped"; }
! pgrep -g "$group" >/dev/null || fail "a process of the stopped group is left: $(pgrep -g "$group" -a)"
note "SIGTERM to cad's process group: the order in hand finished, exit 0, $(q "SELECT count(*) FROM issuance_order WHERE id > $first AND status = 'done'") of 4 issued, the rest left queued"
run_once	# the rest, so that later counts start from nothing pending

# --- a worker whose signer dies stops with status 1 (orders stay queued) -------------
start_worker nosigner PKI_CAD_POLL_SECONDS=1
victim=${pids[-1]}
signer=
for _ in $(seq 100); do
	signer=$(pgrep -P "$victim" | sed -n 1p || true)  # none yet: pgrep fails
	[ -n "$signer" ] && grep -q 'issuing with' "$tmp/nosigner.log" && break
	sleep 0.1
done
[ -n "$signer" ] || { cat "$tmp/nosigner.log"; fail "worker $victim has no signer"; }
kill -KILL "$signer"
for _ in $(seq 100); do kill -0 "$victim" 2>/dev/null || break; sleep 0.1; done
st=0
wait "$victim" || st=$?
pids=()
[ "$st" = 1 ] || { cat "$tmp/nosigner.log"; fail "cad after its signer was killed: exit $st, want 1"; }
grep -q "the signer process (pid $signer) ended: stopping" "$tmp/nosigner.log" ||
	{ cat "$tmp/nosigner.log"; fail "cad did not say why it stopped"; }
note "a worker whose signer was killed stopped with status 1"

# Nothing logged a PIN or a key; no sanitizer report.
! grep -qiE 'pin[^a-z]*[0-9a-f]{48}|AddressSanitizer|runtime error' "$tmp"/*.log ||
	fail "a worker log holds a secret or a sanitizer report"
exit 0
