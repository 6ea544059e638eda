#!/usr/bin/env bash
# deploy/install.sh (make install): what a production host gets. The
# binaries, data and docs; systemd units that systemd-analyze verifies and
# scores, whose commands, users and writable directories agree with the
# example configuration; sysusers.d and tmpfiles.d files that systemd's own
# tools apply to a scratch root. PID 1 here is not systemd: nothing is
# started through the units (deploy/README.md "Running in production").
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

T=$(test_tmpdir)
P=$T/usr
ETC=$T/etc
STATE=$T/var/lib/pki
RUNDIR=$T/run/pki
"$REPO/deploy/install.sh" --build "$BUILD" --prefix "$P" --sysconfdir "$ETC" \
	--statedir "$STATE" --rundir "$RUNDIR" >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log"; fail "deploy/install.sh failed"; }
# A second run replaces what the first installed.
"$REPO/deploy/install.sh" --build "$BUILD" --prefix "$P" --sysconfdir "$ETC" \
	--statedir "$STATE" --rundir "$RUNDIR" >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log"; fail "deploy/install.sh failed the second time"; }
"$REPO/deploy/install.sh" --prefix relative/path >/dev/null 2>&1 && fail "install.sh took a relative prefix"
# make install builds the programs and runs install.sh, never make deps
# (apt-get of the test tools, slapd preseeded without a configuration, the
# pki user): what it would run, with make -n.
dry=$(make -n --no-print-directory -C "$REPO" install BUILD="$BUILD" PREFIX="$T/dry" 2>&1) ||
	{ echo "$dry"; fail "make -n install"; }
has -F deploy/install.sh <<<"$dry" || { echo "$dry"; fail "make install does not run deploy/install.sh"; }
if has -F deploy/deps.sh <<<"$dry"; then
	echo "$dry"
	fail "make install runs deploy/deps.sh (make deps) on the production host"
fi

# --- files ---------------------------------------------------------------------------
for b in rad ocspd crld tsad signd cad pkisign pkictl; do
	cmp -s "$P/sbin/$b" "$BUILD/$b" || fail "$P/sbin/$b is not $BUILD/$b"
done
cmp -s "$P/bin/pkiaudit" "$BUILD/pkiaudit" || fail "pkiaudit not in $P/bin"
# The installed pkictl works (against this suite's stack).
"$P/sbin/pkictl" --config "$PKI_CONFIG" ca status >/dev/null 2>&1 || fail "the installed pkictl: ca status"
for f in policy/ra.conf schema/001_base.sql console/index.html migrate.sh deploy/README.md pki.conf.example; do
	[ -s "$P/share/pki/$f" ] || fail "share/pki/$f missing"
done
# pki.policy_dir is the copy in SYSCONFDIR, made once: an edit there
# survives the next install (share/pki/policy is replaced each time).
[ "$(sed -n '/^\[pki\]/,/^\[/s/^policy_dir = //p' "$P/share/pki/pki.conf.example")" = "$ETC/pki/policy" ] ||
	fail "pki.conf.example: policy_dir is not $ETC/pki/policy"
cmp -s "$ETC/pki/policy/ra.conf" "$REPO/policy/ra.conf" || fail "install did not copy the policy to $ETC/pki/policy"
echo '# edited here' >>"$ETC/pki/policy/ra.conf"
"$REPO/deploy/install.sh" --build "$BUILD" --prefix "$P" --sysconfdir "$ETC" \
	--statedir "$STATE" --rundir "$RUNDIR" >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log"; fail "deploy/install.sh failed the third time"; }
[ "$(tail -n1 "$ETC/pki/policy/ra.conf")" = '# edited here' ] || fail "install replaced the edited $ETC/pki/policy"
# pkisign serve is behind no proxy: it trusts none (every local caller's
# X-Forwarded-For would be the audited client).
[ -z "$(sed -n '/^\[pades\]/,/^\[/s/^trusted_proxies = //p' "$P/share/pki/pki.conf.example")" ] ||
	fail "pki.conf.example: [pades] trusted_proxies is set"
grep -qE '^[[:space:]]*trusted_proxies' <(sed -n '/^\[pades\]/,/^\[/p' "$PKI_CONFIG") &&
	fail "the stack's pki.conf: [pades] trusted_proxies is set"
# The templates the README's production steps use, as in the repository.
for f in slapd/config.ldif.in slapd/base.ldif.in nginx/pki.conf.in; do
	cmp -s "$P/share/pki/$f" "$REPO/deploy/$f" || fail "share/pki/$f is not deploy/$f"
	grep -qF "share/pki/$f" "$P/share/pki/deploy/README.md" || fail "the installed README does not say where $f is"
done
[ "$(find "$P/share/pki/schema" -name '*.sql' | wc -l)" = "$(find "$REPO/schema" -name '*.sql' | wc -l)" ] ||
	fail "not every migration was installed"

# --- units ---------------------------------------------------------------------------
U=$P/lib/systemd/system
units=(ra ocsp crl tsa sign pades cad audit)
paths=()
for s in "${units[@]}"; do paths+=("$U/pki-$s.service"); done
# The HTTP daemons' optional unix sockets for the reverse proxy (socket
# activation: test_socket runs the daemons that way).
for s in ra ocsp crl tsa sign pades; do
	f=$U/pki-$s.socket
	paths+=("$f")
	grep -qx "ListenStream=$RUNDIR/$s.sock" "$f" || fail "pki-$s.socket does not listen on $RUNDIR/$s.sock"
	grep -qx 'SocketMode=0660' "$f" || fail "pki-$s.socket: not SocketMode=0660"
done
for s in cad audit; do [ ! -e "$U/pki-$s.socket" ] || fail "pki-$s.socket: $s serves no HTTP"; done
# The daily retention run: a oneshot of pkictl with the configuration, no
# capability, started by its timer.
paths+=("$U/pki-housekeeping.service" "$U/pki-housekeeping.timer")
[ "$(sed -n 's/^ExecStart=//p' "$U/pki-housekeeping.service")" = "$P/sbin/pkictl --config $ETC/pki/pki.conf purge
$P/sbin/pkictl --config $ETC/pki/pki.conf kyc erase" ] || fail "pki-housekeeping.service does not run purge and kyc erase"
grep -qx 'Type=oneshot' "$U/pki-housekeeping.service" || fail "pki-housekeeping.service: not a oneshot"
grep -qx 'CapabilityBoundingSet=' "$U/pki-housekeeping.service" || fail "pki-housekeeping.service keeps capabilities"
grep -qx 'OnCalendar=daily' "$U/pki-housekeeping.timer" || fail "pki-housekeeping.timer: not daily"
systemd-analyze security --offline=yes --threshold=25 "$U/pki-housekeeping.service" >"$T/sec.out" 2>&1 ||
	{ grep -E '✗|Overall' "$T/sec.out"; fail "pki-housekeeping.service: exposure above 2.5"; }
note "pki-housekeeping.service: exposure $(sed -n 's/.*Overall exposure level for pki-[a-z]*\.service: \([0-9.]*\).*/\1/p' "$T/sec.out")"
# verify: syntax, known settings, executables that exist. The units order
# themselves after postgresql.service and slapd.service, which need not
# exist on this host: only that may be said.
if ! systemd-analyze verify "${paths[@]}" "$U/pki.target" >"$T/verify.out" 2>&1; then
	cat "$T/verify.out"
	fail "systemd-analyze verify refused the units"
fi
if grep -vE 'postgresql\.service|slapd\.service|^$' "$T/verify.out" | has .; then
	cat "$T/verify.out"
	fail "systemd-analyze verify warns"
fi
# The exposure score of each (0 safest, 10 worst), offline. Starting as
# root weighs heavily in it (User=, the capabilities a demotion needs):
# the bound keeps every other setting in place.
for s in "${units[@]}"; do
	systemd-analyze security --offline=yes --threshold=35 "$U/pki-$s.service" >"$T/sec.out" 2>&1 ||
		{ grep -E '✗|Overall' "$T/sec.out"; fail "pki-$s.service: exposure above 3.5"; }
	score=$(sed -n 's/.*Overall exposure level for pki-[a-z]*\.service: \([0-9.]*\).*/\1/p' "$T/sec.out")
	note "pki-$s.service: exposure $score"
done
# Each unit runs its daemon with the configuration, starts it as root (it
# reads its PINs, then demotes: lib/sandbox.c), keeps no core file, and
# may write where the example configuration says it writes, and nowhere
# else in the file system (ProtectSystem=strict).
conf=$P/share/pki/pki.conf.example
cget() { sed -n "/^\[$1\]/,/^\[/s/^$2 = //p" "$conf" | head -n1; }
declare -A bin=([ra]=rad [ocsp]=ocspd [crl]=crld [tsa]=tsad [sign]=signd [pades]="pkisign serve" [cad]=cad
	[audit]="pkictl --config $ETC/pki/pki.conf audit seal")
for s in "${units[@]}"; do
	f=$U/pki-$s.service
	exec=$(sed -n 's/^ExecStart=//p' "$f")
	case $exec in
	"$P/sbin/${bin[$s]}"*) ;;
	*) fail "pki-$s.service runs '$exec'" ;;
	esac
	has -F -- "--config $ETC/pki/pki.conf" <<<"$exec" || fail "pki-$s.service: not with $ETC/pki/pki.conf"
	grep -qE '^User=' "$f" && fail "pki-$s.service sets User=: the daemon must start as root to read its PINs"
	grep -qx 'LimitCORE=0' "$f" || fail "pki-$s.service allows core files"
	grep -qx 'ProtectSystem=strict' "$f" || fail "pki-$s.service: not ProtectSystem=strict"
	rw=" $(sed -n 's/^ReadWritePaths=//p' "$f") "
	want=()
	case $s in
	ocsp | crl | tsa | sign | cad | audit) want+=("$(cget hsm module_write_dir)" "$(cget hsm lock_dir)") ;;
	esac
	[ "$s" != crl ] || want+=("$(cget crl out_dir)")
	[ "$s" != tsa ] || want+=("$(dirname "$(cget tsa spill_file)")")
	[ "$s" != cad ] || want+=("$(cget cad state_dir)")
	for w in "${want[@]}"; do
		[ -n "$w" ] || fail "pki.conf.example lacks a path pki-$s.service needs"
		has -F -- " $w " <<<"$rw" || fail "pki-$s.service may not write $w"
	done
	[ "$(wc -w <<<"$rw")" -le "$((${#want[@]} + 1))" ] || fail "pki-$s.service may write more than it needs: $rw"
done
# The example has the keys of the stack's pki.conf, section by section (the
# same daemons read both), but for what only the local stack sets (its
# file sinks, an unsynchronized clock, the sealer's period, which only
# deploy/stack.sh reads: production's is pki-audit.service's --every) and
# only production sets (the trusted proxy, the mail relay).
keys() { awk '/^\[/ { sec = $0 } /^[a-z_0-9]+ = / { print sec "." $1 }' "$1" | sort -u; }
local_only='^\[(ra\]\.(mail_sink_dir|sms_sink_dir)|tsa\]\.allow_unsynchronized_clock|audit\]\.seal_every_seconds)$'
prod_only='^\[[a-z]+\]\.trusted_proxies$|^\[ra\]\.(mail|smtp_url|smtp_from)$'
if ! diff <(keys "$PKI_CONFIG" | grep -vE "$local_only") <(keys "$conf" | grep -vE "$prod_only") >"$T/keys.diff"; then
	cat "$T/keys.diff"
	fail "pki.conf.example and the stack's pki.conf differ in keys (< the stack's, > the example's)"
fi
grep -q '^ProtectClock=yes' "$U/pki-tsa.service" && fail "pki-tsa.service: ProtectClock refuses tsad's adjtimex"
grep -q '^ProtectClock=yes' "$U/pki-ocsp.service" || fail "pki-ocsp.service: no ProtectClock"
for s in "${units[@]}"; do
	grep -q "pki-$s.service" "$U/pki.target" || fail "pki.target does not want pki-$s.service"
done

# --- users and directories -------------------------------------------------------------
# systemd-sysusers creates the daemons' users in a scratch root; they are
# the users deploy/stack.sh demotes the daemons to (and deps.sh creates).
R=$T/root
mkdir -p "$R/etc"
systemd-sysusers --root="$R" "$P/lib/sysusers.d/pki.conf" >"$T/sysusers.out" 2>&1 ||
	{ cat "$T/sysusers.out"; fail "systemd-sysusers"; }
for u in pki-hsm pki-ra pki-ocsp pki-crl pki-tsa pki-sign pki-pades pki-cad pki-audit; do
	grep -qE "^$u:x:[0-9]+:[0-9]+:.*:/usr/sbin/nologin$" "$R/etc/passwd" || fail "sysusers.d did not create $u"
	getent passwd "$u" >/dev/null || fail "deploy/deps.sh did not create $u on this host"
done
# systemd-tmpfiles makes the directories with their owners and modes.
systemd-tmpfiles --root="$R" --create "$P/lib/tmpfiles.d/pki.conf" >"$T/tmpfiles.out" 2>&1 ||
	{ cat "$T/tmpfiles.out"; fail "systemd-tmpfiles"; }
# check_dir DIR USER MODE: made in the scratch root, USER's (its uid there).
check_dir() {
	local got uid=0
	[ "$2" = root ] || uid=$(awk -F: -v u="$2" '$1 == u { print $3 }' "$R/etc/passwd")
	got=$(stat -c '%u %a' "$R$1" 2>/dev/null) || fail "tmpfiles.d did not make $1"
	[ "$got" = "$uid $3" ] || fail "$1: owner and mode $got, want $2 (uid $uid) $3"
}
check_dir "$ETC/pki/pins" root 700
check_dir "$ETC/pki/secrets" root 711
check_dir "$RUNDIR" root 711
check_dir "$STATE/hsm/tokens" pki-hsm 700
check_dir "$STATE/pki/crl" pki-crl 755
check_dir "$STATE/spool/tsa" pki-tsa 700
check_dir "$STATE/spool/cad" root 700
[ "$(sed -n '/^\[cad\]/,/^\[/s/^state_dir = //p' "$conf")" = "$STATE/spool/cad" ] ||
	fail "pki.conf.example: cad.state_dir is not the directory tmpfiles.d makes"
note "units verified and scored, users and directories made in a scratch root"
