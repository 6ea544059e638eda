#!/usr/bin/env bash
# Installs the built PKI for a production host (`make install` runs it):
# the binaries, the policy files, the schema migrations, the officers'
# console, the slapd and nginx templates, and the systemd units, sysusers.d and tmpfiles.d files rendered
# with the paths below, plus a pki.conf example with the same paths
# (deploy/README.md "Running in production").
#
#   deploy/install.sh [--build DIR] [--prefix /usr/local] [--sysconfdir /etc]
#       [--statedir /var/lib/pki] [--rundir /run/pki] [--destdir DIR]
#
# --destdir stages the files under DIR (packaging); the paths written into
# the files are those without it. Nothing here starts, enables or creates
# anything on the host but SYSCONFDIR/pki/policy, copied once when absent
# (pki.policy_dir, to edit): the README lists the other steps.
set -euo pipefail
prog=install.sh
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/build
PREFIX=/usr/local
SYSCONFDIR=/etc
STATEDIR=/var/lib/pki
RUNDIR=/run/pki
DESTDIR=

die() { echo "$prog: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2 ;;
	--prefix) PREFIX=$2 ;;
	--sysconfdir) SYSCONFDIR=$2 ;;
	--statedir) STATEDIR=$2 ;;
	--rundir) RUNDIR=$2 ;;
	--destdir) DESTDIR=$2 ;;
	*) die "unknown argument $1 (see the comment at the top)" ;;
	esac
	[ $# -ge 2 ] || die "$1 needs a value"
	shift 2
done
for p in "$PREFIX" "$SYSCONFDIR" "$STATEDIR" "$RUNDIR"; do
	[[ $p == /* && $p =~ ^[A-Za-z0-9_./+-]+$ ]] ||
		die "path '$p' must be absolute, of A-Z a-z 0-9 _ . / + - only"
done
SBINDIR=$PREFIX/sbin
BINDIR=$PREFIX/bin
DATADIR=$PREFIX/share/pki
UNITDIR=$PREFIX/lib/systemd/system
CONF=$SYSCONFDIR/pki/pki.conf

# Daemons run by root, sbin; pkiaudit is for auditors, bin.
DAEMON_BINS=(rad ocspd crld tsad signd cad pkisign pkictl)
for b in "${DAEMON_BINS[@]}" pkiaudit; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b is not built (make all)"
done

# fill FILE KEY=VALUE...: FILE with each @KEY@ replaced; none may be left.
fill() {
	local t kv f=$1
	shift
	t=$(<"$f")
	t=${t//@SBINDIR@/$SBINDIR}
	t=${t//@DATADIR@/$DATADIR}
	t=${t//@DOCDIR@/$DATADIR}
	t=${t//@SYSCONFDIR@/$SYSCONFDIR}
	t=${t//@STATEDIR@/$STATEDIR}
	t=${t//@RUNDIR@/$RUNDIR}
	for kv in "$@"; do t=${t//@${kv%%=*}@/${kv#*=}}; done
	[[ $t != *@[A-Z_]*@* ]] || die "unfilled placeholder in $f"
	printf '%s\n' "$t"
}

install -d -m 0755 "$DESTDIR$SBINDIR" "$DESTDIR$BINDIR" "$DESTDIR$DATADIR" \
	"$DESTDIR$UNITDIR" "$DESTDIR$PREFIX/lib/sysusers.d" "$DESTDIR$PREFIX/lib/tmpfiles.d"
for b in "${DAEMON_BINS[@]}"; do install -m 0755 "$BUILD/$b" "$DESTDIR$SBINDIR/$b"; done
install -m 0755 "$BUILD/pkiaudit" "$DESTDIR$BINDIR/pkiaudit"
# Data: policy files (copy them to SYSCONFDIR to edit), migrations and the
# script that applies them, the console, the docs the units point to.
rm -rf -- "$DESTDIR$DATADIR/policy" "$DESTDIR$DATADIR/schema" "$DESTDIR$DATADIR/console"
cp -R -- "$REPO/policy" "$REPO/schema" "$DESTDIR$DATADIR/"
cp -R -- "$REPO/ra/console" "$DESTDIR$DATADIR/console"
install -m 0755 "$REPO/deploy/migrate.sh" "$DESTDIR$DATADIR/migrate.sh"
install -d -m 0755 "$DESTDIR$DATADIR/deploy"
install -m 0644 "$REPO/deploy/README.md" "$DESTDIR$DATADIR/deploy/README.md"
# The templates the README's production steps fill in by hand: slapd's
# cn=config and base entries (step 2), the reverse proxy ("Behind a
# reverse proxy").
install -d -m 0755 "$DESTDIR$DATADIR/slapd" "$DESTDIR$DATADIR/nginx"
install -m 0644 "$REPO/deploy/slapd/config.ldif.in" "$REPO/deploy/slapd/base.ldif.in" "$DESTDIR$DATADIR/slapd/"
install -m 0644 "$REPO/deploy/nginx/pki.conf.in" "$DESTDIR$DATADIR/nginx/pki.conf.in"
chmod -R u=rwX,go=rX -- "$DESTDIR$DATADIR"
# pki.policy_dir of the example: the policy files to edit, copied once and
# then left alone (an edit survives the next install, which replaces
# DATADIR/policy).
if [ ! -e "$DESTDIR$SYSCONFDIR/pki/policy" ] && [ ! -L "$DESTDIR$SYSCONFDIR/pki/policy" ]; then
	install -d -m 0755 "$DESTDIR$SYSCONFDIR/pki"
	cp -R -- "$REPO/policy" "$DESTDIR$SYSCONFDIR/pki/policy"
	chmod -R u=rwX,go=rX -- "$DESTDIR$SYSCONFDIR/pki/policy"
fi

# The units: one per daemon section, from one template. Each row: section,
# description, command, extra capabilities (with why), the directories it
# writes (as Landlock lets it: deploy/README.md "Users and privileges").
HSM_RW="$STATEDIR/hsm/tokens $RUNDIR"
CAPS_BASE="CAP_SETUID CAP_SETGID CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_IPC_LOCK"
KILL_WHY=$'\n# kill: a supervisor signals its demoted workers.'
unit() {
	local section=$1 desc=$2 exec=$3 caps=$4 why=$5 rw=$6 clock="ProtectClock=yes"
	# tsad reads the kernel's clock state (adjtimex), which ProtectClock's
	# filter refuses: it would answer timeNotAvailable.
	[ "$section" != tsa ] || clock="# No ProtectClock: tsad asks adjtimex whether the clock is synchronized."
	fill "$REPO/deploy/systemd/pki-daemon.service.in" UNIT="pki-$section.service" \
		DESCRIPTION="$desc" EXEC="$exec" USER="pki-$section" \
		CAPS="$CAPS_BASE${caps:+ $caps}" CAPS_WHY="$why" RW="${rw:-}" CLOCK="$clock" \
		>"$DESTDIR$UNITDIR/pki-$section.service"
	chmod 0644 -- "$DESTDIR$UNITDIR/pki-$section.service"
	# The HTTP daemons may also be handed a unix socket for the proxy.
	[ "$section" = cad ] || [ "$section" = audit ] && return 0
	fill "$REPO/deploy/systemd/pki-daemon.socket.in" UNIT="pki-$section.socket" \
		SECTION="$section" DESCRIPTION="$desc" >"$DESTDIR$UNITDIR/pki-$section.socket"
	chmod 0644 -- "$DESTDIR$UNITDIR/pki-$section.socket"
}
unit ra "registration authority (rad)" "$SBINDIR/rad --config $CONF" CAP_CHOWN \
	$'\n# chown: rad gives the file sinks\' directories to its user.' "-$STATEDIR/spool"
unit ocsp "OCSP responder (ocspd)" "$SBINDIR/ocspd --config $CONF" "" "" "$HSM_RW"
unit crl "CRL publisher (crld)" "$SBINDIR/crld --config $CONF" "" "" "$HSM_RW $STATEDIR/pki/crl"
unit tsa "time-stamping authority (tsad)" "$SBINDIR/tsad --config $CONF" CAP_KILL "$KILL_WHY" \
	"$HSM_RW $STATEDIR/spool/tsa"
unit sign "remote signing, CSC API (signd)" "$SBINDIR/signd --config $CONF" CAP_KILL "$KILL_WHY" "$HSM_RW"
unit pades "PAdES document signer (pkisign serve)" "$SBINDIR/pkisign serve --config $CONF" "" "" ""
unit cad "CA issuance worker (cad)" "$SBINDIR/cad --config $CONF" "" "" "$HSM_RW $STATEDIR/spool/cad"
# The sealer's period: audit.seal_every_seconds is the local stack's;
# change --every here with a drop-in (systemctl edit pki-audit).
unit audit "audit trail sealer (pkictl audit seal)" \
	"$SBINDIR/pkictl --config $CONF audit seal --every 300" "" "" "$HSM_RW"
# The daily retention run (pkictl purge, kyc erase) and its timer.
fill "$REPO/deploy/systemd/pki-housekeeping.service.in" >"$DESTDIR$UNITDIR/pki-housekeeping.service"
install -m 0644 "$REPO/deploy/systemd/pki-housekeeping.timer" "$DESTDIR$UNITDIR/pki-housekeeping.timer"
chmod 0644 -- "$DESTDIR$UNITDIR/pki-housekeeping.service"
install -m 0644 "$REPO/deploy/systemd/pki.target" "$DESTDIR$UNITDIR/pki.target"
install -m 0644 "$REPO/deploy/systemd/pki.sysusers" "$DESTDIR$PREFIX/lib/sysusers.d/pki.conf"
fill "$REPO/deploy/systemd/pki.tmpfiles.in" >"$DESTDIR$PREFIX/lib/tmpfiles.d/pki.conf"
fill "$REPO/deploy/systemd/pki.conf.in" >"$DESTDIR$DATADIR/pki.conf.example"
chmod 0644 -- "$DESTDIR$PREFIX/lib/tmpfiles.d/pki.conf" "$DESTDIR$DATADIR/pki.conf.example"
echo "$prog: installed under ${DESTDIR:-/}: binaries in $SBINDIR, units in $UNITDIR," \
	"example configuration $DATADIR/pki.conf.example (deploy/README.md \"Running in production\")"
