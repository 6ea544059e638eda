#!/usr/bin/env bash
# deploy/stack.sh on a stack of its own: up creates, a second up reuses the
# state and restarts only what is down, status tells which component runs,
# down leaves no process, secrets stay out of argv and logs, and the services
# answer (slapd anonymously and as admin, PostgreSQL as every role). As root,
# no other user can put a link or a PID where root writes or looks (secrets/,
# hsm/, run/, log/), and a PID file naming another process makes down leave
# it alone.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

T=$(test_tmpdir)
S=$T/stack
# This stack runs the periodic audit sealer (the suite's shared one does not).
export PKI_STACK_SEAL_EVERY=300

# --- first up ------------------------------------------------------------------------
# CANARY_SECRET stands for what the shell that runs up may hold (an
# operator's PGPASSWORD, a cloud token, LD_*): below, no component has it.
# PKI_TEST_CANARY, a PKI_* variable, reaches the daemons only.
canary=canary-$$-$RANDOM
CANARY_SECRET=$canary PKI_TEST_CANARY=$canary-pki stack_new "$S"
for f in pki.conf stack.env ports hsm/softhsm2.conf secrets/ldap-admin.pw secrets/ldap-publisher.pw; do
	[ -s "$S/$f" ] || fail "$S/$f missing after up"
done
[ "$(stat -c %a "$S/pins")" = 700 ] || fail "pins/ is not 0700"
# Traversable, not listable: crld reads its LDAP password there as pki-crl.
[ "$(stat -c %a "$S/secrets")" = 711 ] || fail "secrets/ is not 0711"
for f in $(find "$S/secrets" "$S/pins" -type f); do
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f is not 0600"
	[ "$(wc -c <"$f")" -ge 32 ] || fail "$f is too short"
done
[ "$(find "$S/pins" -type f -name 'pki-*.pin' | wc -l)" -eq 6 ] &&
	[ "$(find "$S/pins" -type f -name 'pki-*.so-pin' | wc -l)" -eq 6 ] &&
	[ "$(find "$S/pins" -type f | wc -l)" -eq 12 ] ||
	fail "pins/ does not hold exactly the 6 PINs and 6 SO PINs"
[ "$(find "$S/secrets" -type f | wc -l)" -eq 7 ] || fail "want in secrets/ the two LDAP passwords (administrator, publisher), the RA OTP key, the RA officer key, the RA TOTP key, pkisign serve's client secret and its local callers' token"
# As root, the HSM PINs are root's, in a directory of root's whose parent is
# root's: no daemon's user reads a PIN or can move pins/ aside. Each reads
# what it reads after it demoted, and nothing of another's: crld its LDAP
# password; the signers (pki-hsm) the token files, which no worker reads.
as_user() { local u=$1; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"; }
if [ "$(id -u)" -eq 0 ]; then
	for f in "$S" "$S/pins" "$S"/pins/*; do
		[ "$(stat -c %U "$f")" = root ] || fail "$f is not root's"
	done
	as_user pki-crl test -r "$S/secrets/ldap-publisher.pw" || fail "pki-crl cannot read secrets/ldap-publisher.pw"
	# The keys the daemons read as root are root's, in a directory of
	# root's: not pki's, who runs PostgreSQL, where the subscribers' TOTP
	# secrets sealed with ra-totp.key are kept.
	[ "$(stat -c '%U %a' "$S/secrets")" = "root 711" ] || fail "secrets/ is not root's 0711"
	for f in ra-otp.key ra-totp.key ra-officer.key pades-client.secret; do
		[ "$(stat -c '%U:%G %a' "$S/secrets/$f")" = "root:root 600" ] ||
			fail "secrets/$f is $(stat -c '%U:%G %a' "$S/secrets/$f"), not root:root 0600"
		as_user pki cat "$S/secrets/$f" >/dev/null 2>&1 && fail "pki can read secrets/$f"
	done
	as_user pki ln -s "$T/x" "$S/secrets/planted" 2>/dev/null && fail "pki can put a link in secrets/"
	# The directory administrator's password is no daemon's.
	for u in pki-crl pki-hsm pki-ra pki-ocsp pki-tsa pki-sign pki-cad; do
		as_user "$u" cat "$S/secrets/ldap-admin.pw" >/dev/null 2>&1 && fail "$u can read the LDAP administrator's password"
	done
	for u in pki pki-hsm pki-ra pki-ocsp pki-tsa pki-sign pki-cad; do
		as_user "$u" cat "$S/pins/pki-ca.pin" >/dev/null 2>&1 && fail "$u can read the CA token's PIN"
		as_user "$u" mv "$S/pins" "$S/pins.aside" 2>/dev/null && fail "$u can move pins/ aside"
	done
	for u in pki-ra pki-ocsp pki-tsa pki-sign pki-cad; do
		as_user "$u" cat "$S/secrets/ldap-publisher.pw" >/dev/null 2>&1 && fail "$u can read crld's LDAP password"
		as_user "$u" ls "$S/hsm/tokens" >/dev/null 2>&1 && fail "$u can read the token directory"
		as_user "$u" ls "$S/pg/data" >/dev/null 2>&1 && fail "$u can read PostgreSQL's data"
	done
	as_user pki-hsm ls "$S/hsm/tokens" >/dev/null || fail "pki-hsm cannot read the token directory"
	# cad's in-flight markers: root's, opened before cad demotes; the
	# demoted cad (or another daemon's user) can neither plant nor read one.
	[ "$(stat -c '%U %a' "$S/spool/cad")" = "root 700" ] ||
		fail "spool/cad is $(stat -c '%U %a' "$S/spool/cad"), not root's 0700"
	as_user pki-cad touch "$S/spool/cad/planted" 2>/dev/null && fail "pki-cad can write in spool/cad"
	# What root reads, sources or loads is root's, not pki's (who runs
	# PostgreSQL and slapd, so is one COPY ... TO PROGRAM away from any
	# superuser of the database): pki.conf names the PKCS#11 module root's
	# pkictl loads, stack.env is sourced by the operator and by run.sh,
	# pkisign serve reads pki/pades-callers as root, and root writes
	# pki/pades-client.id into pki.conf. Until 2026-12-07 all were pki's.
	for f in pki.conf stack.env hsm/softhsm2.conf pki/pades-callers pki/pades-client.id pki/root.pem pki/pg-server.pem; do
		for u in pki pki-hsm; do
			as_user "$u" sh -c "echo 'X=\$(id >$T/pwned)' >>'$S/$f'" 2>/dev/null && fail "$u can write $f"
		done
		[ "$(stat -c '%U:%G %a' "$S/$f")" = "root:root 644" ] ||
			fail "$f is $(stat -c '%U:%G %a' "$S/$f"), not root:root 0644"
	done
	for d in pki spool; do
		[ "$(stat -c %U "$S/$d")" = root ] || fail "$d/ is $(stat -c %U "$S/$d")'s, not root's"
		as_user pki touch "$S/$d/planted" 2>/dev/null && fail "pki can create a file in $d/"
		as_user pki mv "$S/$d" "$S/$d.aside" 2>/dev/null && fail "pki can move $d/ aside"
	done
	as_user pki mv "$S/pki/pades-callers" "$S/pki/pades-callers.aside" 2>/dev/null && fail "pki can move pki/pades-callers aside"
	# crld writes its CRLs in pki/crl/, its own (and only it).
	[ "$(stat -c %U "$S/pki/crl")" = pki-crl ] || fail "pki/crl/ is not pki-crl's"
	as_user pki touch "$S/pki/crl/planted" 2>/dev/null && fail "pki can create a file in pki/crl/"
	( set -a; . "$S/stack.env"; set +a )	# root, as deploy/README.md says
	[ ! -e "$T/pwned" ] || fail "stack.env ran pki's command: $(cat "$T/pwned")"
fi
# The stack's cad holds its marker, empty between orders, not writable by others.
grep -qx "state_dir = $S/spool/cad" "$S/pki.conf" || fail "pki.conf does not give cad its state_dir"
[ "$(stat -c %a "$S/spool/cad/cad-inflight.0" 2>/dev/null)" = 600 ] ||
	fail "cad holds no marker $S/spool/cad/cad-inflight.0 of mode 0600"
[ ! -s "$S/spool/cad/cad-inflight.0" ] || fail "cad's marker is not empty with no order in hand"
[ "$(tr -d "\n" <"$S/secrets/ra-officer.key" | grep -cE "^[0-9a-f]{64}$")" = 1 ] || fail "ra-officer.key is not 64 hex digits"
[ "$(stat -c %a "$S/run")" = 711 ] || fail "run/ (PID and HSM lock files) is not 0711"
[ "$(stat -c %a "$S/run/pg")" = 711 ] || fail "run/pg/ (PostgreSQL socket) is not 0711"
[ -S "$S/run/pg/.s.PGSQL.$(sed -n 's/^PG=//p' "$S/ports")" ] || fail "no PostgreSQL socket in run/pg/"
[ "$(stack_get "$S" PKI_PG_HOST)" = "$S/run/pg" ] || fail "PKI_PG_HOST is not run/pg"
[ "$(stat -c %a "$S/log")" = 750 ] || fail "log/ is not 0750"
if [ "$(id -u)" -eq 0 ]; then
	# Root opens the logs (and hands the descriptors over), writes the PID
	# files and, in the signers, opens the HSM lock files: all in
	# directories of root's, the socket's apart.
	for f in "$S/run" "$S/log" "$S"/log/* "$S"/run/*.pid "$S"/run/*.lock; do
		[ "$(stat -c %U "$f")" = root ] && [ ! -L "$f" ] || fail "$f is not root's"
	done
	[ "$(find "$S/run" -maxdepth 1 -name '*.lock' | wc -l)" -ge 6 ] || fail "no HSM lock files in run/"
	[ "$(stat -c %U "$S/run/pg")" = pki ] || fail "run/pg/ is not pki's"
	for d in run log; do
		as_user pki ln -s "$T/x" "$S/$d/planted" 2>/dev/null && fail "pki can put a link in $d/"
		as_user pki mv "$S/$d" "$S/$d.aside" 2>/dev/null && fail "pki can move $d/ aside"
	done
	as_user pki sh -c "echo 1 >'$S/run/slapd.pid'" 2>/dev/null && fail "pki can write a PID file"
	# slapd writes its own PID file in ldap/, its user's.
	[ -s "$S/ldap/slapd.self.pid" ] || fail "slapd did not write ldap/slapd.self.pid"
fi
if [ "$(id -u)" -eq 0 ]; then
	[ "$(stat -c %U "$S/pg/data")" = pki ] || fail "pg/data not owned by pki"
	pg_user=$(ps -o user= -p "$(pidfile_of "$S" postgres)")
	[ "$pg_user" = pki ] || fail "postgres runs as $pg_user, not pki"
	ldap_user=$(ps -o user= -p "$(pidfile_of "$S" slapd)")
	[ "$ldap_user" = pki ] || fail "slapd runs as $ldap_user, not pki"
fi

# What a component finds in its environment is what stack.sh gives it
# (clean_env): not that of whoever ran up, which until 2026-12-07 every
# one inherited, PostgreSQL and slapd included, whose user (pki) reads
# /proc/PID/environ of its own processes. PKI_* (lib/config.h's
# overrides) and the sanitizers' options still reach the daemons; not
# PostgreSQL and slapd, which read none (a PIN variable, PKI_CA_PIN say,
# must not reach pki). Every process of each component's session
# (start_bg's setsid): PostgreSQL's backends, the daemons' workers,
# signers and SAMs.
comps=' ' pki_comps=' '
for name in postgres slapd ra ocsp crl tsa sign pades cad sealer; do
	pid=$(pidfile_of "$S" "$name")
	[ -n "$pid" ] || fail "$name: no PID file"
	comps="$comps$pid "
	case $name in postgres | slapd) pki_comps="$pki_comps$pid " ;; esac
done
n=0
for ps_line in $(ps -eo pid=,sid= | awk -v s="$comps" 'index(s, " " $2 " ") { print $1 ":" $2 }'); do
	p=${ps_line%:*}
	penv=$(tr '\0' '\n' 2>/dev/null <"/proc/$p/environ") || continue
	n=$((n + 1))
	grep -qxF -- "CANARY_SECRET=$canary" <<<"$penv" &&
		fail "$(cat "/proc/$p/comm" 2>/dev/null) (pid $p) has the environment of whoever ran up (CANARY_SECRET)"
	case $pki_comps in *" ${ps_line#*:} "*)
		grep -qE '^(PKI_|[A-Z]*SAN_OPTIONS=)' <<<"$penv" &&
			fail "$(cat "/proc/$p/comm" 2>/dev/null) (pid $p), the stack user's, has $(grep -oE '^(PKI_|[A-Z]*SAN_OPTIONS=)[A-Z_]*' <<<"$penv" | head -n 3 | tr '\n' ' ')"
	esac
done
[ "$n" -ge 20 ] || fail "read the environment of only $n of the stack's processes"
penv=$(tr '\0' '\n' <"/proc/$(pidfile_of "$S" ocsp)/environ")
grep -qxF "PKI_TEST_CANARY=$canary-pki" <<<"$penv" || fail "ocspd's environment lacks PKI_TEST_CANARY"
penv=$(tr '\0' '\n' <"/proc/$(pidfile_of "$S" sealer)/environ")
grep -qx 'PKI_STACK_SEAL_EVERY=300' <<<"$penv" || fail "the sealer's environment lacks PKI_STACK_SEAL_EVERY: $(cut -d= -f1 <<<"$penv" | tr '\n' ' ')"
if [ -n "${ASAN_OPTIONS:-}" ]; then
	penv=$(tr '\0' '\n' <"/proc/$(pidfile_of "$S" ra)/environ")
	grep -qxF "ASAN_OPTIONS=$ASAN_OPTIONS" <<<"$penv" || fail "rad's environment lacks ASAN_OPTIONS"
fi
note "$n processes of the stack: none has the caller's environment, PKI_* and ASAN_OPTIONS reach them"

# Every process of every daemon is demoted and sandboxed: the workers, the
# signers that hold an HSM login (they demote once logged in), signd's SAMs,
# the sealer and its signer. The two supervisors, tsad's and signd's, keep
# root to start a worker or a SAM again (tsa/README.md, hsm/README.md), but
# only the capabilities those need, with no_new_privs and a seccomp filter
# that kills exec, ptrace, mount and the like (lib/sandbox.c). None of them
# is dumpable or may leave a core file (no_dumps, lib.sh).
supervised() {
	local st
	st=$(cat "/proc/$1/status" 2>/dev/null) || fail "$2 (pid $1) is not running"
	[ "$(awk '/^NoNewPrivs:/ {print $2}' <<<"$st")" = 1 ] || fail "$2 (pid $1) runs without no_new_privs"
	if ! ldd "$BUILD/pkictl" | has libasan; then
		[ "$(awk '/^Seccomp:/ {print $2}' <<<"$st")" = 2 ] || fail "$2 (pid $1) runs without its seccomp filter"
	fi
	if [ "$(id -u)" -eq 0 ]; then
		# setgid, setuid, dac_override, dac_read_search, kill, net_bind_service, ipc_lock
		for c in CapEff CapPrm CapBnd; do
			[ "$(awk "/^$c:/ {print \$2}" <<<"$st")" = 00000000000044e6 ] ||
				fail "$2 (pid $1) has $c $(awk "/^$c:/ {print \$2}" <<<"$st"), not 44e6"
		done
	fi
	grep -qF "sandbox: $2 keeps" "$S/log/$3.log" || fail "no 'sandbox: $2 keeps' line in $3.log"
	no_dumps "$1" "$2"
}
# Each as a user of its own (deploy/README.md "Users"): a daemon's worker
# as pki-<section>, whatever holds an HSM login (the signers, a worker's
# children, and signd's SAMs) as pki-hsm.
nproc=0
for name in ra ocsp crl tsa sign pades cad sealer; do
	pid=$(pidfile_of "$S" "$name")
	[ -n "$pid" ] || fail "$name: no PID file"
	user=pki-$name
	[ "$name" != sealer ] || user=pki-audit
	case $name in
	tsa) supervised "$pid" "tsad's supervisor" tsa ;;
	sign) supervised "$pid" "signd's supervisor" sign ;;
	*) sandboxed "$pid" "$name" "$user"; nproc=$((nproc + 1)) ;;
	esac
	for c in $(pgrep -P "$pid"); do
		cuser=pki-hsm
		if [ "$name" = tsa ] || { [ "$name" = sign ] && [ "$(cat "/proc/$c/comm")" != signd-sam ]; }; then
			cuser=$user
		fi
		sandboxed "$c" "$name's process $c" "$cuser"
		nproc=$((nproc + 1))
		for g in $(pgrep -P "$c"); do
			sandboxed "$g" "$name's process $g" pki-hsm
			nproc=$((nproc + 1))
		done
	done
done
# rad, pkisign serve; ocspd, crld, cad, the sealer and their signers; tsad's
# workers and their signers; signd's worker and SAMs.
[ "$nproc" -ge 16 ] || fail "only $nproc daemon processes found"
note "$nproc daemon processes: demoted, no_new_privs, seccomp, not dumpable, no core file"

# Each daemon limits its writes (Landlock) before its first thread, and each
# signer to the token directory (a kernel without Landlock: none starts).
# rad, crld and pkisign serve, which may open files by name, also read only
# the system's directories and what they name.
sysreads="reads only the system's files"
for want in "rad writes files only in: $S/spool/ra-sms, $S/spool/ra-mail; $sysreads and $REPO/policy" \
    "ocspd writes no file" "crld writes files only in: $S/pki/crl; $sysreads and $S/secrets/ldap-publisher.pw" \
    "tsad writes files only in: $S/spool/tsa" "cad writes no file" \
    "signd writes no file" "pkisign serve writes no file; $sysreads" "sealer writes no file" \
    "sam writes files only in: $S/hsm/tokens" \
    "tsad's supervisor writes files only in: $S/hsm/tokens, $S/run, $S/spool/tsa" \
    "signd's supervisor writes files only in: $S/hsm/tokens, $S/run"; do
	grep -qhF "sandbox: $want (Landlock ABI" "$S"/log/*.log || fail "no log line 'sandbox: $want'"
done
n=$(grep -hcF "sandbox: signer writes files only in: $S/hsm/tokens (Landlock" "$S"/log/*.log |
	awk '{ n += $1 } END { print n }')
# ocspd's signers, crld's, cad's, tsad's (one per worker) and the sealer's.
[ "$n" -ge 5 ] || fail "only $n signers limited their writes to the token directory"

# pki.conf: the keys the C code reads, absolute paths.
for k in module softhsm2_conf lock_dir root_token root_pin_file ca_token ca_pin_file \
    ocsp_token ocsp_pin_file tsa_token tsa_pin_file audit_token audit_pin_file \
    wrap_token wrap_pin_file admin_uri ca_uri ra_uri ocsp_uri crl_uri tsa_uri sign_uri \
    auditor_uri uri base bind_dn bind_pw_file out_dir policy_dir ra ocsp crl_base tsa sign; do
	grep -qE "^$k = [^ ]" "$S/pki.conf" || fail "pki.conf lacks $k"
done
grep -q "^root_pin_file = $S/pins/pki-root.pin$" "$S/pki.conf" || fail "root_pin_file path"
# stack.env: every fact DESIGN.md lists, KEY=VALUE without quoting or spaces.
for k in PKI_ROOT_CERT PKI_ISSUING_CERT PKI_CHAIN PKI_OCSP_CERT PKI_TSA_CERT PKI_RA_URL \
    PKI_OCSP_URL PKI_CRL_URL PKI_TSA_URL PKI_SIGN_URL PKI_PADES_URL PKI_PADES_TOKEN_FILE PKI_LDAP_URI PKI_LDAP_BASE PKI_PG_URI \
    PKI_HSM_MODULE SOFTHSM2_CONF PKICTL PKI_CONFIG PKI_DIR PKI_AUDIT_PUBKEY PKIAUDIT; do
	grep -qE "^$k=[^ ]+$" "$S/stack.env" || fail "stack.env lacks $k"
done
if grep -vE '^(#|$)' "$S/stack.env" | has -vE '^[A-Z0-9_]+=[^ "'\'']*$'; then
	fail "stack.env has a line that is not KEY=VALUE"
fi
# The officers' console answers where stack.env and the summary say.
console=$(stack_get "$S" PKI_RA_CONSOLE_URL)
grep -qF "console: $console" "$S.up.log" || fail "the summary does not name the console ($console)"
if [ "$(id -u)" -eq 0 ]; then
	grep -qF "users:   postgres and slapd as pki; each daemon as pki-<name>, its signers as pki-hsm" "$S.up.log" ||
		fail "the summary does not say who runs what"
fi
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$console")" = 200 ] || fail "GET $console"

ldap_uri=$(stack_get "$S" PKI_LDAP_URI)
pg_host=$(stack_get "$S" PKI_PG_HOST)
pg_port=$(stack_get "$S" PKI_PG_PORT)
# Ports are free loopback ports, not the defaults (another stack may use those).
grep -q '^PG=15432$' "$S/ports" && fail "--ports auto gave the default PostgreSQL port"

# --- status: everything up ---------------------------------------------------------
"$STACK_SH" status --dir "$S" --build "$BUILD" >"$T/status" || { cat "$T/status"; fail "status exit code with everything up"; }
grep -qE '^postgres +up ' "$T/status" || fail "status: postgres not up"
grep -qE '^slapd +up ' "$T/status" || fail "status: slapd not up"
if [ -x "$BUILD/pkictl" ]; then
	grep -qE '^hsm +ready +6/6' "$T/status" || { cat "$T/status"; fail "status: tokens"; }
	grep -qE '^ca +initialized' "$T/status" || { cat "$T/status"; fail "status: CA"; }
	grep -qE '^audit +key ready' "$T/status" || { cat "$T/status"; fail "status: audit key"; }
	grep -qE '^sealer +up +pid=[0-9]+ pkictl audit seal --every 300s' "$T/status" ||
		{ cat "$T/status"; fail "status: the audit sealer"; }
	grep -q 'sealing the audit trail every 300 s' "$S/log/sealer.log" ||
		fail "the sealer did not start: $(cat "$S/log/sealer.log")"
	grep -qE '^audit seal( [0-9]+: [0-9]+ event\(s\) added|: no event to seal)' "$S/log/sealer.log" ||
		fail "the sealer did not seal at start: $(cat "$S/log/sealer.log")"
fi

# --- the services answer -------------------------------------------------------------
ldapsearch -x -LLL -o nettimeout=5 -H "$ldap_uri" -b 'dc=pki,dc=local' -s base dn >"$T/ldap" ||
	fail "anonymous ldapsearch of the base failed"
grep -q '^dn: dc=pki,dc=local$' "$T/ldap" || fail "base entry not found: $(cat "$T/ldap")"
ldapwhoami -x -o nettimeout=5 -H "$ldap_uri" -D 'cn=admin,dc=pki,dc=local' \
	-y "$S/secrets/ldap-admin.pw" >/dev/null || fail "admin bind with secrets/ldap-admin.pw failed"
# crld and pkictl bind as the publisher (pki.conf), who writes what
# lib/publish.c publishes and nothing else (deploy/slapd/config.ldif.in).
grep -qx 'bind_dn = cn=publisher,dc=pki,dc=local' "$S/pki.conf" || fail "pki.conf does not bind as the publisher"
pub=(-x -o nettimeout=5 -H "$ldap_uri" -D 'cn=publisher,dc=pki,dc=local' -y "$S/secrets/ldap-publisher.pw")
ldap_as_publisher() { # LDIF on stdin; prints the status
	local rc=0
	ldapmodify "${pub[@]}" >"$T/ldapmodify.out" 2>&1 || rc=$?
	echo "$rc"
}
ldapsearch -LLL -o ldif-wrap=no "${pub[@]}" -b 'dc=pki,dc=local' '(objectClass=pkiCA)' 'cACertificate;binary' >"$T/ldap-ca" ||
	fail "ldapsearch as the publisher failed"
[ "$(grep -c '^dn: ' "$T/ldap-ca")" -ge 2 ] || fail "the publisher does not see the CA entries: $(head -c 300 "$T/ldap-ca")"
ca_dn=$(sed -n 's/^dn: //p' "$T/ldap-ca" | head -1)
ca_b64=$(sed -n 's/^cACertificate;binary:: //p' "$T/ldap-ca" | head -1)
[ -n "$ca_b64" ] || fail "no cACertificate;binary on $ca_dn"
# The CA certificate written again as it is: what a publication does.
rc=$(printf 'dn: %s\nchangetype: modify\nreplace: cACertificate;binary\ncACertificate;binary:: %s\n' "$ca_dn" "$ca_b64" | ldap_as_publisher)
[ "$rc" = 0 ] || fail "the publisher cannot write cACertificate of $ca_dn: $rc $(cat "$T/ldapmodify.out")"
for ldif in 'dn: dc=pki,dc=local\nchangetype: modify\nreplace: o\no: not ours\n' \
    'dn: cn=admin,dc=pki,dc=local\nchangetype: add\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\ncn: admin\nuserPassword: x\n' \
    'dn: cn=extra,dc=pki,dc=local\nchangetype: add\nobjectClass: applicationProcess\ncn: extra\ndescription: not a PKI attribute\n' \
    'dn: cn=publisher,dc=pki,dc=local\nchangetype: modify\nreplace: userPassword\nuserPassword: x\n' \
    'dn: cn=publisher,dc=pki,dc=local\nchangetype: delete\n' \
    'dn: cn=role,dc=pki,dc=local\nchangetype: add\nobjectClass: organizationalRole\ncn: role\n' \
    "dn: $ca_dn\\nchangetype: modify\\nreplace: description\\ndescription: not a PKI attribute\\n"; do
	rc=$(printf "$ldif" | ldap_as_publisher)
	[ "$rc" = 50 ] || fail "the publisher may do more than publish (status $rc, want 50 insufficientAccess): $ldif"
done
[ "$(ldapsearch -x -LLL -o nettimeout=5 -H "$ldap_uri" -b 'dc=pki,dc=local' -s base o | sed -n 's/^o: //p')" = 'PKI local stack' ] ||
	fail "the base entry changed"
# Wrong password refused; cn=config not readable anonymously.
printf 'wrong' >"$T/wrong.pw"
rc=0
ldapwhoami -x -o nettimeout=5 -H "$ldap_uri" -D 'cn=admin,dc=pki,dc=local' -y "$T/wrong.pw" \
	>/dev/null 2>&1 || rc=$?
[ "$rc" = 49 ] || fail "admin bind with a wrong password: status $rc, want 49 (invalidCredentials)"
rc=0
out=$(ldapsearch -x -LLL -o nettimeout=5 -H "$ldap_uri" -b cn=config -s base dn 2>&1) || rc=$?
case $rc in 0 | 32 | 50) ;; *) fail "anonymous search of cn=config: status $rc: $out" ;; esac
grep -q '^dn:' <<<"$out" && fail "cn=config is readable anonymously"
for r in pki_admin pki_ca pki_ra pki_ocsp pki_crl pki_tsa pki_sign pki_sam pki_auditor pki_sealer; do
	got=$(sql_as "host=$pg_host port=$pg_port dbname=pki user=$r" 'SELECT current_user') ||
		fail "psql as $r over the socket failed"
	[ "$got" = "$r" ] || fail "connected as $got, not $r"
done
# On the socket each daemon's user is its own role and no other: not the
# superuser, not another daemon's (pg_hba.conf peer, pg_ident.conf).
if [ "$(id -u)" -eq 0 ]; then
	superuser=$(stack_get "$S" PKI_STACK_USER)
	for ur in pki-cad:pki_ca pki-ra:pki_ra pki-ocsp:pki_ocsp pki-crl:pki_crl pki-tsa:pki_tsa \
	    pki-sign:pki_sign pki-hsm:pki_sam pki-audit:pki_sealer; do
		u=${ur%%:*} r=${ur#*:}
		got=$(as_user "$u" psql -X -At -w "host=$pg_host port=$pg_port dbname=pki user=$r" \
			-c 'SELECT current_user') || fail "$u cannot connect as $r"
		[ "$got" = "$r" ] || fail "$u connected as $got, not $r"
		for other in "$superuser" pki_admin pki_ra pki_ca; do
			[ "$other" != "$r" ] || continue
			as_user "$u" psql -X -At -w "host=$pg_host port=$pg_port dbname=pki user=$other" \
				-c 'SELECT 1' >/dev/null 2>&1 && fail "$u connected as $other"
		done
	done
	as_user nobody psql -X -At -w "host=$pg_host port=$pg_port dbname=pki user=pki_ocsp" \
		-c 'SELECT 1' >/dev/null 2>&1 && fail "nobody connected as pki_ocsp"
fi
# PKI_PG_URI (URI form) works too; TCP without a password does not.
[ "$(sql_as "$(stack_get "$S" PKI_PG_URI)" 'SELECT current_user')" = pki_admin ] ||
	fail "PKI_PG_URI does not connect as pki_admin"
PGCONNECT_TIMEOUT=5 psql -X -w "host=127.0.0.1 port=$pg_port dbname=pki user=pki_admin" -c 'SELECT 1' \
	>/dev/null 2>&1 && fail "TCP login without a password succeeded"

# --- second up: same state, nothing restarted ----------------------------------------
sum_state() {
	( cd "$S" && sha256sum $(find secrets pins -type f | sort) pki.conf ports && cat pki/root.pem 2>/dev/null | sha256sum;
	  find hsm/tokens -name token.object | sort ) 2>/dev/null
}
sum_state >"$T/state1"
pg_pid=$(pidfile_of "$S" postgres)
ldap_pid=$(pidfile_of "$S" slapd)
errs=$(grep -c '"level":"err"' "$S/log/pkictl.log" || true)
stack_up "$S"
# Nothing failed, so nothing is logged as an error: until 2026-12-06 each
# later up asked for the wrapping and audit keys again, and pkictl's
# refusals ("already exists", exit 3) went to log/pkictl.log as errors.
[ "$(grep -c '"level":"err"' "$S/log/pkictl.log" || true)" = "$errs" ] ||
	fail "second up logged errors: $(grep '"level":"err"' "$S/log/pkictl.log" | tail -n +$((errs + 1)))"
sum_state >"$T/state2"
diff "$T/state1" "$T/state2" >/dev/null || fail "second up changed the state: $(diff "$T/state1" "$T/state2")"
[ "$(pidfile_of "$S" postgres)" = "$pg_pid" ] || fail "second up restarted postgres"
[ "$(pidfile_of "$S" slapd)" = "$ldap_pid" ] || fail "second up restarted slapd"
grep -q 'initdb' "$S.up.log" && fail "second up ran initdb"
grep -q 'ca init' "$S.up.log" && fail "second up ran the ceremony again"
grep -q 'creating token' "$S.up.log" && fail "second up created tokens"

# --- a component dies: status says so, up restarts only it -----------------------------
kill -KILL "$ldap_pid"
for _ in $(seq 50); do kill -0 "$ldap_pid" 2>/dev/null || break; sleep 0.1; done
set +e
"$STACK_SH" status --dir "$S" --build "$BUILD" >"$T/status"
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "status exits 0 with slapd down"
grep -qE '^slapd +down' "$T/status" || { cat "$T/status"; fail "status does not show slapd down"; }
grep -qE '^postgres +up' "$T/status" || fail "status: postgres should still be up"
stack_up "$S"
new_ldap=$(pidfile_of "$S" slapd)
[ -n "$new_ldap" ] && [ "$new_ldap" != "$ldap_pid" ] || fail "slapd not restarted"
[ "$(pidfile_of "$S" postgres)" = "$pg_pid" ] || fail "postgres restarted though it was up"
ldapsearch -x -LLL -o nettimeout=5 -H "$ldap_uri" -b 'dc=pki,dc=local' -s base dn >/dev/null ||
	fail "slapd does not answer after its restart"

# --- up on an older stack: a daemon running as pki, a socket of mode 0700 ----------------
# Before 2026-12-04 every daemon ran as pki and the socket was 0700; up
# gives the files to their new owners and restarts what still runs so.
if [ "$(id -u)" -eq 0 ]; then
	su_uri="host=$pg_host port=$pg_port dbname=pki user=$(stack_get "$S" PKI_STACK_USER)"
	sql_as "$su_uri" "ALTER SYSTEM SET unix_socket_permissions = '0700'" >/dev/null
	# Both stopped, then one up makes the older stack (an up costs ~7 s).
	pg_old=$(pidfile_of "$S" postgres)
	ocsp_pid=$(pidfile_of "$S" ocsp)
	kill -TERM "$ocsp_pid"
	kill -INT "$pg_old"
	for _ in $(seq 100); do kill -0 "$pg_old" 2>/dev/null || kill -0 "$ocsp_pid" 2>/dev/null || break; sleep 0.1; done
	PKI_OCSP_USER=pki "$STACK_SH" up --dir "$S" --ports auto --build "$BUILD" --ephemeral >"$T/old-ocsp.log" 2>&1 ||
		{ cat "$T/old-ocsp.log"; fail "up with an ocspd as pki failed"; }
	[ "$(sql_as "$su_uri" 'SHOW unix_socket_permissions')" = 0700 ] || fail "could not run postgres with a 0700 socket for the test"
	old=$(pidfile_of "$S" ocsp)
	[ "$(stat -c %U "/proc/$old")" = pki ] || fail "could not start an ocspd as pki for the test"
	sql_as "$su_uri" "ALTER SYSTEM RESET unix_socket_permissions" >/dev/null
	pg_before=$(pidfile_of "$S" postgres)
	stack_up "$S"
	grep -q "postgres: restarting: its socket's mode changes" "$S.up.log" || fail "up did not restart postgres for its socket's mode"
	[ "$(pidfile_of "$S" postgres)" != "$pg_before" ] || fail "postgres not restarted"
	[ "$(stat -c %a "$pg_host/.s.PGSQL.$pg_port")" = 777 ] || fail "the socket is not 0777 after up"
	grep -q "ocsp: runs as pki, as before each daemon had a user of its own: restarting" "$S.up.log" ||
		fail "up did not restart the ocspd running as pki"
	new=$(pidfile_of "$S" ocsp)
	[ -n "$new" ] && [ "$new" != "$old" ] && [ "$(stat -c %U "/proc/$new")" = pki-ocsp ] ||
		fail "ocspd not restarted as pki-ocsp"
	grep -q "crl: already running" "$S.up.log" || fail "up restarted crld, which ran as pki-crl"
	pg_pid=$(pidfile_of "$S" postgres)
	note "up on an older stack: postgres restarted for a 0777 socket, an ocspd running as pki restarted as pki-ocsp"
fi

# --- a program rebuilt under a running daemon: up restarts it ---------------------------
# After a pull and `make up`, a daemon still running its old program ran
# against the new schema (an old rad's approvals failed schema/105's
# guard). The linker replaces the file, so the running copy's
# /proc/PID/exe reads "(deleted)"; cp then mv does the same here, on a
# copy of the programs so that the shared build is left alone.
mkdir -p "$T/rebuilt"
for b in cad crld ocspd pkiaudit pkictl pkisign rad signd tsad; do
	[ ! -e "$BUILD/$b" ] || cp -p -- "$BUILD/$b" "$T/rebuilt/$b"
done
old=$(pidfile_of "$S" ocsp)
kill -TERM "$old"
for _ in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
BUILD=$T/rebuilt stack_up "$S"
old=$(pidfile_of "$S" ocsp)
[ "$(readlink "/proc/$old/exe")" = "$T/rebuilt/ocspd" ] || fail "ocspd did not start from the copy"
cp -p -- "$T/rebuilt/ocspd" "$T/rebuilt/ocspd.new"
mv -f -- "$T/rebuilt/ocspd.new" "$T/rebuilt/ocspd"
BUILD=$T/rebuilt stack_up "$S"
grep -q "ocsp: restarting: its program was rebuilt since it started" "$S.up.log" ||
	{ cat "$S.up.log"; fail "up did not restart the ocspd whose program was rebuilt"; }
new=$(pidfile_of "$S" ocsp)
[ -n "$new" ] && [ "$new" != "$old" ] && [ "$(readlink "/proc/$new/exe")" = "$T/rebuilt/ocspd" ] ||
	fail "ocspd not restarted from the rebuilt program"
grep -q "crl: already running" "$S.up.log" || fail "up restarted crld, whose program did not change"
# Back on the shared build for what follows.
kill -TERM "$new"
for _ in $(seq 100); do kill -0 "$new" 2>/dev/null || break; sleep 0.1; done
stack_up "$S"
[ "$(readlink "/proc/$(pidfile_of "$S" ocsp)/exe")" = "$BUILD/ocspd" ] || fail "ocspd not back on the build"
rm -rf -- "$T/rebuilt"
note "up restarts a daemon whose program was rebuilt while it ran, and only it"

# --- secrets never in argv nor logs ------------------------------------------------------
# Every process's command line, read once (one line each: "PID: ARGS"); a
# sentinel process shows the search finds what is there.
bash -c 'sleep 60; :' "pki-test-sentinel-$$" & sentinel=$!
for p in /proc/[0-9]*; do
	printf '%s: ' "${p#/proc/}"
	tr '\0\n' '  ' 2>/dev/null <"$p/cmdline" || true
	echo
done >"$T/cmdlines"
pkill -P "$sentinel" 2>/dev/null || true
kill "$sentinel" 2>/dev/null || true
[ "$(grep -F -- "pki-test-sentinel-$$" "$T/cmdlines" | cut -d: -f1)" = "$sentinel" ] ||
	fail "test setup: the sentinel's command line was not read"
for f in $(find "$S/secrets" "$S/pins" -type f); do
	secret=$(cat "$f")
	if pid=$(grep -F -- "$secret" "$T/cmdlines" | cut -d: -f1 | sed -n 1p) && [ -n "$pid" ]; then
		fail "the secret of $(basename "$f") is in the command line of pid $pid"
	fi
	if grep -rqF -- "$secret" "$S/log" "$S.up.log" "$S/pki.conf" "$S/stack.env" "$S/ldap/slapd.d"; then
		fail "the secret of $(basename "$f") appears in a log or config file"
	fi
done

# --- down: nothing left; up again from the saved state ------------------------------------
stack_down "$S"
left=$(procs_mentioning "$S/")
[ -z "$left" ] || fail "processes left after down: $(ps -o pid,args -p "$(echo $left | tr ' ' ,)")"
[ ! -e "$pg_host/.s.PGSQL.$pg_port" ] || fail "PostgreSQL socket left after down"
set +e
"$STACK_SH" status --dir "$S" --build "$BUILD" >"$T/status"
set -e
grep -qE '^postgres +down' "$T/status" && grep -qE '^slapd +down' "$T/status" ||
	{ cat "$T/status"; fail "status after down"; }
"$STACK_SH" down --dir "$S" >/dev/null || fail "a second down is not a no-op"

# A stack made before pins/ existed kept its PINs in secrets/, the stack
# user's: up moves them back under root (same state as before), and removes
# a stale copy it already has. Likewise tsad's spill file, from spool/.
for f in "$S"/pins/*; do
	cp -p -- "$f" "$S/secrets/"
	chown "$(stat -c %U "$S/secrets")" -- "$S/secrets/$(basename "$f")"
done
rm -f -- "$S"/pins/pki-tsa*
# (for a few commits the PINs lay in secrets/hsm/)
mkdir -m 0700 "$S/secrets/hsm"
mv -- "$S/pins/pki-ocsp.pin" "$S/secrets/hsm/"
rm -f -- "$S/secrets/pki-ocsp.pin"
: >"$S/spool/tsa.spill.0"
mv -- "$S/pki/crl/root.crl" "$S/pki/root.crl"
# Links where up writes, planted by the owners of the directories (hsm/ is
# pki-hsm's; secrets/, run/ and log/ the stack user's as an up before
# 2026-12-06 left them, below): up, as root, writes its files in DIR and
# renames them into place, or removes what it finds in a directory it takes
# back, so each link is replaced or removed, never written through or
# entered. The key up makes again is put back after, for the
# state comparison.
if [ "$(id -u)" -eq 0 ]; then
	victim=$T/victim-file
	printf 'not yours\n' >"$victim"
	chmod 0600 "$victim"
	mkdir -m 0777 "$T/victim-dir"
	# run/ and log/ as an up before 2026-12-06 left them, the stack user's;
	# what pki put there is removed by the next up, not used: a log
	# linked to a file of root's (up appended PostgreSQL's output to it)
	# or to a name in a directory of root's (up created it), the audit
	# token's lock file linked into such a directory (pkictl created it),
	# a PID file naming an unrelated process of root's (down signalled it).
	chown pki:pki "$S/run" "$S/log" "$S/secrets" "$S"/secrets/ra-*.key "$S/secrets/pades-client.secret"
	# pki/, spool/, pki.conf and stack.env as an up before 2026-12-07
	# left them, pki's; a link pki put among the certificates (up read it
	# for stack.env's PKI_TSA_CERT) is removed.
	chown pki:pki "$S/pki" "$S"/pki/*.pem "$S/pki/pades-callers" "$S/pki/pades-client.id" "$S/spool" \
	    "$S/pki.conf" "$S/stack.env" "$S/hsm/softhsm2.conf"
	as_user pki ln -s "$victim" "$S/pki/tsa-9.pem" || fail "as pki: ln -s in pki/"
	chown -R pki:pki "$S"/run/*.lock "$S"/log/*
	as_user pki rm -f "$S/log/postgresql.log" "$S/log/pkictl.log" "$S/run/pki-audit.lock"
	as_user pki ln -s "$victim" "$S/log/postgresql.log" &&
		as_user pki ln -s "$T/victim-dir/created-log" "$S/log/pkictl.log" &&
		as_user pki ln -s "$T/victim-dir/created-lock" "$S/run/pki-audit.lock" ||
		fail "as pki: ln -s in run/ and log/"
	setsid sleep 600 & unrelated=$!
	for _ in $(seq 50); do [ "$(ps -o sid= -p "$unrelated" | tr -d ' ')" = "$unrelated" ] && break; sleep 0.1; done
	as_user pki sh -c "echo $unrelated >'$S/run/postgres2.pid'" || fail "as pki: a PID file"
	cp -p -- "$S/secrets/ra-otp.key" "$T/ra-otp.key.saved"
	as_user pki rm -f "$S/secrets/ra-otp.key"
	# A dangling link at the key (up makes it again: it is not -s), a link
	# to the victim where an older up wrote before renaming.
	as_user pki ln -s "$T/no-such-file" "$S/secrets/ra-otp.key" &&
		as_user pki ln -s "$victim" "$S/secrets/ra-otp.key.tmp" || fail "as pki: ln -s in secrets/"
	as_user pki-hsm ln -s "$victim" "$S/hsm/softhsm2.conf.tmp" &&
		as_user pki-hsm rm -f "$S/hsm/softhsm2.conf" &&
		as_user pki-hsm ln -s "$T/victim-dir" "$S/hsm/softhsm2.conf" || fail "as pki-hsm: ln -s in hsm/"
fi
stack_up "$S"
if [ "$(id -u)" -eq 0 ]; then
	[ "$(cat "$victim")" = 'not yours' ] && [ "$(stat -c %a "$victim")" = 600 ] ||
		fail "up wrote through a link: $victim is now $(stat -c %a "$victim"): $(head -c 80 "$victim")"
	[ -z "$(ls -A "$T/victim-dir")" ] || fail "up wrote into a directory a link pointed at: $(ls -A "$T/victim-dir")"
	[ -f "$S/secrets/ra-otp.key" ] && [ ! -L "$S/secrets/ra-otp.key" ] &&
		[ "$(wc -c <"$S/secrets/ra-otp.key")" = 64 ] || fail "secrets/ra-otp.key is not a new key file"
	[ -f "$S/hsm/softhsm2.conf" ] && [ ! -L "$S/hsm/softhsm2.conf" ] || fail "hsm/softhsm2.conf is not a file again"
	as_user pki rm -f "$S/secrets/ra-otp.key.tmp"
	as_user pki-hsm rm -f "$S/hsm/softhsm2.conf.tmp"
	cp -p -- "$T/ra-otp.key.saved" "$S/secrets/ra-otp.key"
	chown 0:0 "$S/secrets/ra-otp.key"
	for f in "$S/secrets" "$S"/secrets/ra-*.key "$S/secrets/pades-client.secret" "$S/run" "$S/log" "$S/log/postgresql.log" "$S/log/pkictl.log" "$S/run/pki-audit.lock" "$S"/run/*.pid \
	    "$S/pki" "$S"/pki/*.pem "$S/pki/pades-callers" "$S/pki/pades-client.id" "$S/spool" "$S/pki.conf" "$S/stack.env" "$S/hsm/softhsm2.conf"; do
		[ "$(stat -c %U "$f")" = root ] && [ ! -L "$f" ] || fail "$f is not root's after up on an older stack"
	done
	[ ! -e "$S/pki/tsa-9.pem" ] && [ ! -L "$S/pki/tsa-9.pem" ] || fail "up left the link pki put in pki/"
	grep -q 'removing .*/pki/tsa-9.pem: a link' "$S.up.log" || fail "up did not say it removed the link in pki/"
	[ -f "$S/run/pki-audit.lock" ] || fail "run/pki-audit.lock is not a file again"
	grep -q 'removing .*/log/postgresql.log: a link' "$S.up.log" || fail "up did not say it removed the planted log link"
	note "links put in secrets/, hsm/, run/, log/ and pki/ replaced or removed, never followed"
fi
sum_state >"$T/state3"
diff "$T/state1" "$T/state3" >/dev/null || fail "up after down changed the state: $(diff "$T/state1" "$T/state3")"
[ -z "$(find "$S/secrets" -name '*pin')" ] || fail "up left PINs in secrets/: $(ls "$S/secrets")"
[ "$(stat -c %U "$S/pins/pki-tsa.pin")" = "$(id -un)" ] || fail "up left a moved PIN the stack user's"
[ ! -e "$S/secrets/hsm" ] || fail "up left secrets/hsm/"
[ ! -e "$S/spool/tsa.spill.0" ] && [ -e "$S/spool/tsa/tsa.spill.0" ] ||
	fail "up did not move the spill file to spool/tsa/"
[ ! -e "$S/pki/root.crl" ] && [ -s "$S/pki/crl/root.crl" ] || fail "up did not move the ARL to pki/crl/"

sql_as "host=$pg_host port=$pg_port dbname=pki user=pki_admin" 'SELECT 1' >/dev/null ||
	fail "PostgreSQL not back after down/up"
stack_down "$S"
[ -z "$(procs_mentioning "$S/")" ] || fail "processes left after the second down"
# down signals only what the stack started: not the process (a group and
# session leader, started before the file was written) that a PID file
# names, which pki wrote as an older stack let it.
if [ "$(id -u)" -eq 0 ]; then
	kill -0 "$unrelated" 2>/dev/null || fail "down killed the unrelated process a PID file named"
	grep -q "postgres2.pid names pid $unrelated, which is not the postgres2 this stack started: not signalled" "$S.down.log" ||
		fail "down did not say it left pid $unrelated alone: $(cat "$S.down.log")"
	# The same from a PID file of root's (a PID recycled since, say).
	echo "$unrelated" >"$S/run/slapd.pid"
	"$STACK_SH" down --dir "$S" >"$T/down3.log" 2>&1 || { cat "$T/down3.log"; fail "down"; }
	kill -0 "$unrelated" 2>/dev/null || fail "down killed the unrelated process run/slapd.pid named"
	kill "$unrelated"
	note "PID files naming another process: down leaves it alone"
fi

# A link the owner of a directory (pki-hsm, hsm/) put where up makes a
# directory is refused, not followed: root would chmod and chown what it
# points at. (spool/, where test_stack planted one as pki until
# 2026-12-07, is root's: what an older stack left there is removed.)
if [ "$(id -u)" -eq 0 ]; then
	mkdir -m 0755 "$T/victim"
	as_user pki-hsm mv -- "$S/hsm/tokens" "$S/hsm/tokens.real" &&
		as_user pki-hsm ln -s "$T/victim" "$S/hsm/tokens" || fail "as pki-hsm: a link at hsm/tokens"
	"$STACK_SH" up --dir "$S" --ports auto --build "$BUILD" --ephemeral >"$T/link.log" 2>&1 &&
		fail "up accepted hsm/tokens as a symbolic link"
	grep -q 'hsm/tokens is a symbolic link' "$T/link.log" || { cat "$T/link.log"; fail "up did not say why"; }
	[ "$(stat -c '%U %a' "$T/victim")" = "root 755" ] || fail "up changed the link's target: $(stat -c '%U %a' "$T/victim")"
	"$STACK_SH" down --dir "$S" >/dev/null 2>&1 || true
	rm -f -- "$S/hsm/tokens"
	mv -- "$S/hsm/tokens.real" "$S/hsm/tokens"
fi

# --- a directory the stack user cannot reach is refused clearly -------------------------
if [ "$(id -u)" -eq 0 ]; then
	closed=$T/closed
	mkdir -m 0700 "$closed"
	chown root:root "$closed"
	if "$STACK_SH" up --dir "$closed/stack" --ports auto --build "$BUILD" >"$T/closed.log" 2>&1; then
		"$STACK_SH" down --dir "$closed/stack" >/dev/null 2>&1 || true
		fail "up in a directory pki cannot traverse succeeded"
	fi
	grep -q "not reachable by user pki: $closed is not traversable" "$T/closed.log" ||
		fail "unclear message for an untraversable directory: $(cat "$T/closed.log")"
	# A checkout in such a directory (a home directory: Debian 12 makes
	# them 0700) without --dir, as `make up` runs it: var becomes a link
	# to a directory under PKI_STACK_STATE_ROOT, and the stack comes up
	# there. (It used to refuse, so `make up` failed from a clone in ~.)
	clone=$closed/clone
	mkdir -p "$clone"
	for d in deploy policy ra schema; do ln -s "$REPO/$d" "$clone/$d"; done
	mkdir -m 0755 "$T/state"
	if ! PKI_STACK_STATE_ROOT=$T/state "$clone/deploy/stack.sh" up --ports auto --build "$BUILD" --ephemeral \
	    >"$T/home.log" 2>&1; then
		PKI_STACK_STATE_ROOT=$T/state "$clone/deploy/stack.sh" down >/dev/null 2>&1 || true
		fail "up from a checkout pki cannot reach: $(tail -n 5 "$T/home.log")"
	fi
	home_state=$(readlink "$clone/var")
	case $home_state in "$T/state/clone-"*) ;; *) fail "var is not a link into the state root: '$home_state'" ;; esac
	grep -q "the stack lives in $home_state, var links to it" "$T/home.log" || fail "up did not say where the stack is: $(head -n 3 "$T/home.log")"
	(set -a; . "$home_state/stack.env"; set +a
	 curl -sf -o /dev/null "$PKI_RA_URL/health") || fail "the stack from a checkout in a closed directory does not answer"
	"$clone/deploy/stack.sh" down >"$T/home-down.log" 2>&1 || fail "down through the var link: $(cat "$T/home-down.log")"
	grep -q "stack in $home_state is down" "$T/home-down.log" || fail "down did not stop that stack: $(cat "$T/home-down.log")"
fi
note ok
