#!/usr/bin/env bash
# The local stack: PostgreSQL, OpenLDAP slapd, SoftHSM2 tokens, the CA
# hierarchy and every daemon that has been built, all under one directory and
# on 127.0.0.1. See deploy/README.md for the layout.
#
#   deploy/stack.sh up|down|status [--dir DIR] [--ports auto|default]
#                                  [--build BUILD] [--ephemeral] [--standby]
#
# up is idempotent: state (secrets, cluster, directory, tokens, CA) is created
# once and reused; only components that are down are started. Secrets come
# from /dev/urandom into DIR/secrets (0600) and never appear in argv or logs.
# When run as root, PostgreSQL and slapd run as the system user `pki`
# (created by `make deps`); pkictl and the daemons start as root (daemons
# demote themselves) and the token files pkictl creates are handed to
# pki-hsm afterwards.
# What root opens, signals or trusts (logs, PID files, HSM lock files,
# secrets) lies in directories of root's: no other user can put a link
# or another process's PID where root looks (deploy/README.md "Layout").
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true
umask 022

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/port_range.sh"
PGBIN=/usr/lib/postgresql/15/bin
# psql from PGBIN itself: Debian's /usr/bin/psql is a Perl wrapper that
# costs ~35 ms before each connection. The sbin directories for slapd's
# tools (slappasswd, slapadd): a user's PATH on Debian has none.
PATH=$PGBIN:$PATH:/usr/local/sbin:/usr/sbin:/sbin
HSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
LDAP_BASE='dc=pki,dc=local'
LDAP_ROOTDN="cn=admin,$LDAP_BASE"
LDAP_PUBLISHER_DN="cn=publisher,$LDAP_BASE"
TOKENS=(pki-root pki-ca pki-ocsp pki-tsa pki-audit pki-wrap)
PG_ROLES=(admin ca ra ocsp crl tsa sign sam auditor sealer)
# Ports: name, default. Auto mode picks free ones below the ephemeral range.
# STANDBY is the PostgreSQL hot standby's (--standby), reserved in any case.
PORT_NAMES=(PG LDAP RA OCSP CRL TSA SIGN PADES STANDBY)
declare -A PORT_DEFAULT=([PG]=15432 [LDAP]=13389 [RA]=18080 [OCSP]=18081
	[CRL]=18082 [TSA]=18083 [SIGN]=18084 [PADES]=18085 [STANDBY]=15433)
# Daemons started when their binary exists in BUILD, in this order, one line
# each: name, binary (relative to BUILD; BINARY:SUBCOMMAND runs `BINARY
# SUBCOMMAND`), port key. Contract for a daemon:
# runs in the foreground, takes `--config DIR/pki.conf`, listens on
# 127.0.0.1 at the port pki.conf gives as NAME.port (the port of its [urls]
# entry), logs to stderr (kept in DIR/log/NAME.log), stops on SIGTERM; when
# started as root it demotes itself (to pki); keeps its command line (down
# checks it: stack_proc). A worker without a port ("-")
# is up once its log holds the ready line READY (cad: "issuing with").
DAEMONS=(
	"ra rad RA"
	"ocsp ocspd OCSP"
	"crl crld CRL"
	"tsa tsad TSA"
	"sign signd SIGN"
	"pades pkisign:serve PADES"
	"cad cad - issuing with"
)
STOP_TIMEOUT=${PKI_STACK_STOP_TIMEOUT:-20}
START_TIMEOUT=${PKI_STACK_START_TIMEOUT:-60}

prog=stack.sh
die() { echo "$prog: error: $*" >&2; exit 1; }
say() { echo "$prog: $*"; }
warn() { echo "$prog: warning: $*" >&2; }

usage() {
	cat >&2 <<EOF
usage: deploy/stack.sh up|down|status [--dir DIR] [--ports auto|default]
                       [--build BUILD] [--ephemeral] [--standby]
  --dir DIR        state directory (default: $REPO/var)
  --ports MODE     default: PostgreSQL 15432, slapd 13389, RA..PAdES 18080-18085;
                   auto: free loopback ports (fixed at the first up of DIR)
  --build BUILD    where pkictl and the daemons are (default: $REPO/build)
  --ephemeral      throw-away stack: PostgreSQL without fsync (tests)
  --standby        (up) also run a PostgreSQL hot standby (DIR/pg2); kept
                   by every later up once made
EOF
	exit 2
}

# --- arguments -----------------------------------------------------------------
[ $# -ge 1 ] || usage
CMD=$1; shift
DIR=$REPO/var
DIR_GIVEN=0
BUILD=$REPO/build
PORTS_MODE=default
EPHEMERAL=0
STANDBY=0
while [ $# -gt 0 ]; do
	case $1 in
	--dir) [ $# -ge 2 ] || usage; DIR=$2; DIR_GIVEN=1; shift 2 ;;
	--dir=*) DIR=${1#--dir=}; DIR_GIVEN=1; shift ;;
	--build) [ $# -ge 2 ] || usage; BUILD=$2; shift 2 ;;
	--build=*) BUILD=${1#--build=}; shift ;;
	--ports) [ $# -ge 2 ] || usage; PORTS_MODE=$2; shift 2 ;;
	--ports=*) PORTS_MODE=${1#--ports=}; shift ;;
	--ephemeral) EPHEMERAL=1; shift ;;
	--standby) STANDBY=1; shift ;;
	-h|--help) usage ;;
	*) echo "$prog: unknown argument: $1" >&2; usage ;;
	esac
done
case $CMD in up|down|status) ;; *) usage ;; esac
case $PORTS_MODE in auto|default) ;; *) die "--ports must be auto or default, not '$PORTS_MODE'" ;; esac

# A checkout in a home directory (Debian 12 makes them 0700; /root is) is
# out of the stack users' reach. Unless --dir was given, var is then a link
# to a directory of its own under PKI_STACK_STATE_ROOT (/var/lib/pki-stack),
# which they can reach: `make up` works from a clone anywhere. DIR below is
# the link's target, so the daemons never see the link.
if [ "$DIR_GIVEN" = 0 ] && [ "$CMD" = up ] && [ "$(id -u)" -eq 0 ] && [ ! -e "$DIR" ] &&
    [ ! -L "$DIR" ] && id pki >/dev/null 2>&1 &&
    ! setpriv --reuid=pki --regid="$(id -g pki)" --init-groups -- test -x "$REPO"; then
	state_root=${PKI_STACK_STATE_ROOT:-/var/lib/pki-stack}
	state=$state_root/$(basename -- "$REPO" | tr -c 'A-Za-z0-9_.+\n-' '_')-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)
	install -d -m 0755 -o 0 -g 0 -- "$state_root"
	ln -s -- "$state" "$DIR"
	echo "$prog: $REPO is not reachable by user pki (a home directory?): the stack lives in $state, var links to it" >&2
fi
DIR=$(realpath -m -- "$DIR")
BUILD=$(realpath -m -- "$BUILD")
# Paths go into config files, libpq conninfo and KEY=VALUE lines unquoted.
for p in "$DIR" "$BUILD"; do
	[[ $p =~ ^[A-Za-z0-9_./+-]+$ ]] ||
		die "path '$p' has characters the stack cannot quote (allowed: A-Z a-z 0-9 _ . / + -)"
done

SECRETS=$DIR/secrets
# The HSM PINs and SO PINs: root's when the stack runs as root, in a
# directory of root's directly under DIR (which root owns), so that the stack
# user can neither read them nor swap the directory. Only a signer reads
# them, as root before it demotes, and pkictl run as root.
PINS=$DIR/pins
# Root's (as root): the PID files and the HSM lock files (hsm.lock_dir).
RUN=$DIR/run
# The stack user's: PostgreSQL's sockets (unix_socket_directories).
PGSOCK=$RUN/pg
# Root's (as root): root opens every log and hands the descriptor over.
LOG=$DIR/log
PGDATA=$DIR/pg/data
PG2DATA=$DIR/pg2/data
LDAPDIR=$DIR/ldap
HSMDIR=$DIR/hsm
CONF=$DIR/pki.conf
ENVFILE=$DIR/stack.env
PORTSFILE=$DIR/ports
# pkisign serve's client id at signd (pades_up); its secret is in SECRETS.
PADES_ID=$DIR/pki/pades-client.id
PKICTL=$BUILD/pkictl
export SOFTHSM2_CONF=$HSMDIR/softhsm2.conf
# stack.env's keys are what up writes, never what it reads. Some name
# pki.conf keys (PKI_LDAP_URI is ldap.uri: lib/config.h), so a shell that
# sourced another stack's stack.env would point this stack's daemons and
# pkictl at that stack's directory, database or HSM module.
# write_env refuses to write a key missing here (PKICTL and SOFTHSM2_CONF,
# set above, are its own).
STACK_ENV_KEYS=(PKI_DIR PKI_CONFIG PKI_STACK_USER PKI_ROOT_CERT PKI_ISSUING_CERT
    PKI_CHAIN PKI_OCSP_CERT PKI_TSA_CERT PKI_AUDIT_PUBKEY PKIAUDIT PKI_RA_URL
    PKI_RA_CONSOLE_URL PKI_OCSP_URL PKI_CRL_URL PKI_TSA_URL PKI_SIGN_URL
    PKI_PADES_URL PKI_PADES_TOKEN_FILE PKI_LDAP_URI PKI_LDAP_BASE PKI_PG_URI
    PKI_PG_HOST PKI_PG_PORT PKI_PG_TLS_CERT PKI_PG_STANDBY_PORT PKI_HSM_MODULE)
unset "${STACK_ENV_KEYS[@]}"
# psql and migrate.sh give up on a server that does not answer.
export PGCONNECT_TIMEOUT=10
PKICTL_TIMEOUT=${PKI_STACK_PKICTL_TIMEOUT:-300}

# --- who runs what ---------------------------------------------------------------
# As root (deploy/README.md "Users"): PostgreSQL and slapd run as pki, which
# owns their data; each daemon demotes to a user of its own (lib/sandbox.c
# sandbox_user: pki-<section>); the signers and signd's SAMs, which read the
# token files at every signature, to pki-hsm, which owns them. Each user
# reaches only its own database role (pg_ident.conf). Otherwise everything
# runs as the invoking user. The users are deploy/systemd/pki.sysusers's
# (deploy/deps.sh creates them).
DAEMON_SECTIONS=(ra ocsp crl tsa sign pades cad audit)
# The database role of each user that connects (pg_ident.conf).
declare -A ROLE_OF=([pki-cad]=pki_ca [pki-ra]=pki_ra [pki-ocsp]=pki_ocsp
	[pki-crl]=pki_crl [pki-tsa]=pki_tsa [pki-sign]=pki_sign [pki-hsm]=pki_sam
	[pki-audit]=pki_sealer)
DB_ROLES=(pki_admin pki_ca pki_ra pki_ocsp pki_crl pki_tsa pki_sign pki_sam pki_auditor pki_sealer)
if [ "$(id -u)" -eq 0 ]; then
	STACK_USER=pki
	HSM_USER=pki-hsm
	for u in pki "$HSM_USER" "${DAEMON_SECTIONS[@]/#/pki-}"; do
		getent passwd "$u" >/dev/null || die "user '$u' does not exist: run 'make deps' (deploy/deps.sh) first"
	done
	STACK_GROUP=$(id -gn pki)
else
	STACK_USER=$(id -un)
	HSM_USER=$STACK_USER
	STACK_GROUP=$(id -gn)
fi
# daemon_user SECTION: the user a daemon's section demotes to.
daemon_user() { if [ "$(id -u)" -eq 0 ]; then echo "pki-$1"; else echo "$STACK_USER"; fi; }

# What the components (PostgreSQL, slapd, their tools, the daemons, the
# sealer) find in their environment: not that of whoever ran up. Until
# 2026-12-07 they inherited it whole: an operator's PGPASSWORD, cloud
# tokens or LD_* were in /proc/PID/environ of PostgreSQL and slapd, which
# their user (pki) reads, and in the daemons'. clean_env KIND USER, in the
# subshell that then execs a component run as USER, unsets every exported
# variable but TZ (if set) and, for KIND daemon (the daemons and the
# sealer, started as root):
#   PKI_*          lib/config.h's PKI_<SECTION>_<KEY> overrides (tests start
#                  stacks with some), the signers' PIN variables (which
#                  they wipe: hsm/signer_config.c), stack.sh's own settings;
#   *SAN_OPTIONS   the sanitizer build's (tests/run.sh);
#   SUDO_USER      the sealer's audit actor (pkictl_actor in ca/pkictl.c);
#   SOFTHSM2_CONF  this stack's;
# KIND stack (PostgreSQL, slapd and their tools, as the stack user) keeps
# none of those: they read none, and a PIN variable must not reach pki.
# Then it sets PATH (the system's and PGBIN) and HOME (USER's, from
# passwd). Unset here, rather than listed for env -i, so that no value (a
# PIN variable) is ever in a command line, which any user reads in
# /proc/PID/cmdline.
COMPONENT_PATH=$PGBIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
clean_env() {
	local _ce_v _ce_a _ce_home _ce_funcs
	_ce_home=$(getent passwd "$2" | cut -d: -f6) || true
	# Exported shell functions (BASH_FUNC_NAME%%) are variables too. No
	# process substitution here: its process, which nobody waits for,
	# would become a child of the component this subshell becomes.
	_ce_funcs=$(declare -Fx)
	while read -r _ce_a _ce_a _ce_v; do
		[ -z "$_ce_v" ] || unset -f "$_ce_v"
	done <<<"$_ce_funcs"
	for _ce_v in $(compgen -e); do
		case $1:$_ce_v in
		*:TZ | daemon:PKI_* | daemon:*SAN_OPTIONS | daemon:SUDO_USER | daemon:SOFTHSM2_CONF) ;;
		*) unset -v "$_ce_v" 2>/dev/null || die "cannot remove $_ce_v (read-only) from the environment of what up starts" ;;
		esac
	done
	export PATH=$COMPONENT_PATH HOME=${_ce_home:-$DIR}
}

# Runs a command as the stack user (PostgreSQL refuses root), in the
# environment clean_env leaves.
AS_STACK=()
if [ "$(id -u)" -eq 0 ]; then
	AS_STACK=(setpriv --reuid="$STACK_USER" --regid="$STACK_GROUP" --init-groups --)
fi
as_stack() { ( clean_env stack "$STACK_USER"; exec "${AS_STACK[@]}" "$@" ); }

# mkdir_owned MODE DIR [USER]: mkdir with mode, owned by the stack user (or
# USER, root included; owner only changes when root). A symbolic link is
# refused: the stack user owns most parents, and root must not chmod or
# chown whatever such a link would point at.
mkdir_owned() {
	local mode=$1 d=$2 owner="$STACK_USER:$STACK_GROUP" want
	if [ -n "${3:-}" ] && [ "$(id -u)" -eq 0 ]; then owner="$3:$(id -gn "$3")"; fi
	[ ! -L "$d" ] || die "$d is a symbolic link; the stack makes its own directories"
	mkdir -p -- "$d"
	# chmod and chown act on the directory entered, not on the name: the
	# owner of the parent could make the name a link to any directory
	# between the test above and here, and chmod would follow it.
	want=$(cd -P -- "$(dirname -- "$d")" && pwd -P)/$(basename -- "$d")
	(
		cd -P -- "$d" && [ "$(pwd -P)" = "$want" ] || exit 1
		chmod "$mode" .
		if [ "$(id -u)" -eq 0 ]; then chown "$owner" .; fi
	) || die "$d is not the directory the stack made (a link put there?)"
}

# give_to USER PATH...: PATHs (recursively, no link followed) to USER and
# USER's group; only as root.
give_to() {
	local u=$1
	shift
	if [ "$(id -u)" -eq 0 ]; then chown -hR "$u:$(id -gn "$u")" -- "$@"; fi
}
give_to_stack() { give_to "$STACK_USER" "$@"; }

# The public files (pki/) are root's, as STATEDIR/pki is in production
# (deploy/systemd/pki.tmpfiles.in): what pkictl (root) wrote there stays
# so. Only the CRLs are a daemon's, crld's (pki-crl), in crl/. Until
# 2026-12-07 pki/ and its files were the stack user's (pki, who runs
# PostgreSQL and slapd), who could so edit pades-callers and
# pades-client.id, which root reads into pki.conf (write_layout takes
# them back).
give_pki_dir() {
	[ "$(id -u)" -eq 0 ] || return 0
	give_to "$(daemon_user crl)" "$DIR/pki/crl"
}

# root_dir_files DIR [KEEP...]: DIR has just become root's (mkdir_owned);
# what its former owner left there is made safe for root to use: a link, a
# FIFO, a directory, a file with another hard link is removed, any other
# file becomes root's, not writable by others. Names matching a KEEP
# pattern are left alone unless they are links. Only as root.
root_dir_files() {
	local d=$1 f b k keep
	shift
	[ "$(id -u)" -eq 0 ] || return 0
	[ "$(stat -c %u -- "$d")" = 0 ] || die "$d is not root's"
	for f in "$d"/* "$d"/.[!.]* "$d"/..?*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		b=${f##*/}
		keep=0
		for k in "$@"; do
			# shellcheck disable=SC2053
			[[ $b == $k ]] && keep=1
		done
		[ "$keep" -eq 0 ] || [ -L "$f" ] || continue
		if [ -L "$f" ] || [ ! -f "$f" ] || [ "$(stat -c %h -- "$f")" != 1 ]; then
			warn "removing $f: a link, not a regular file, or a file with other names, in a directory of root's"
			rm -rf -- "$f"
		elif [ "$(stat -c %u:%g -- "$f")" != 0:0 ]; then
			chown -h 0:0 -- "$f"
			chmod go-w -- "$f"
		fi
	done
}

# first_blocked_parent PATH [USER]: the first component of PATH that USER
# (default the stack user) cannot traverse, if any.
first_blocked_parent() {
	local p=$1 acc='' runner=("${AS_STACK[@]}")
	[ -z "${2:-}" ] || [ "$(id -u)" -ne 0 ] ||
		runner=(setpriv --reuid="$2" --regid="$(id -g "$2")" --init-groups --)
	local IFS=/
	for c in $p; do
		[ -n "$c" ] || continue
		acc=$acc/$c
		[ -e "$acc" ] || return 0
		if ! "${runner[@]}" test -x "$acc"; then echo "$acc"; return 0; fi
	done
}

check_tools() {
	local t missing=()
	for t in "$PGBIN/initdb" "$PGBIN/postgres" "$PGBIN/pg_isready" "$PGBIN/psql" \
	    /usr/sbin/slapd /usr/sbin/slapadd /usr/sbin/slappasswd /usr/bin/ldapsearch \
	    "$HSM_MODULE" /usr/bin/ss /usr/bin/flock /usr/bin/setpriv; do
		[ -e "$t" ] || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run 'make deps' (deploy/deps.sh)"
}

# --- processes and PID files -----------------------------------------------------
# A PID file counts only while its process lives and started no later than
# the file was written (guards against PIDs recycled after a crash or reboot).
CLK_TCK=$(getconf CLK_TCK)
BOOT_TIME=$(awk '/^btime /{print $2}' /proc/stat)
pid_alive() {
	local pid=$1 f=$2 st rest start mtime
	# A positive number, not 1 (init; kill -- -1 signals every process).
	[[ $pid =~ ^[1-9][0-9]{0,9}$ ]] && [ "$pid" -gt 1 ] || return 1
	st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	rest=${st##*) }	# fields after "pid (comm) "
	read -r -a rest <<<"$rest"
	[ "${rest[0]}" != Z ] || return 1
	start=$((BOOT_TIME + rest[19] / CLK_TCK))
	mtime=$(stat -c %Y -- "$f" 2>/dev/null) || return 1
	[ "$start" -le $((mtime + 2)) ]
}

# The process exists and is not a zombie (for a process just started, or one
# already identified by pid_alive).
child_alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# PIDs of the live (non-zombie) processes of process group $1.
group_members() {
	awk -v g="$1" '{
		s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
		if (f[3] == g && f[1] != "Z") { n = split(FILENAME, p, "/"); print p[3] }
	}' /proc/[0-9]*/stat 2>/dev/null || true
}

# stack_cmd NAME: what the stack starts as NAME, "PROGRAM OPTION VALUE...":
# the base name of argv[0] and arguments its command line holds in a row.
stack_cmd() {
	local d n b k
	case $1 in
	postgres) echo "postgres -D $PGDATA" ;;
	postgres2) echo "postgres -D $PG2DATA" ;;
	slapd) echo "slapd -F $LDAPDIR/slapd.d" ;;
	sealer) echo "pkictl --config $CONF audit seal" ;;
	*)
		for d in "${DAEMONS[@]}"; do
			read -r n b k _ <<<"$d"
			[ "$n" = "$1" ] || continue
			b=${b%%:*}
			echo "$b --config $CONF"
			return 0
		done
		return 1
		;;
	esac
}

# stack_proc NAME PID: PID is the process the stack started as NAME: alive,
# the leader of its own session and process group (start_bg's setsid), and
# running NAME's program with NAME's arguments (stack_cmd). Whatever a PID
# file says is checked so before a signal is sent: a file an older stack
# left to the stack user, or a PID recycled since, must not make root
# signal another process, or another process group.
stack_proc() {
	local pid=$2 st rest want args a i
	st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	rest=${st##*) }
	read -r -a rest <<<"$rest"	# state ppid pgrp session ...
	[ "${rest[0]}" != Z ] && [ "${rest[2]}" = "$pid" ] && [ "${rest[3]}" = "$pid" ] || return 1
	want=$(stack_cmd "$1") || return 1
	read -r -a want <<<"$want"
	mapfile -d '' -t args <"/proc/$pid/cmdline" 2>/dev/null || return 1
	[ ${#args[@]} -gt 0 ] && [ "${args[0]##*/}" = "${want[0]}" ] || return 1
	a=" ${args[*]:1} "
	[[ $a == *" ${want[*]:1} "* ]] || return 1
	return 0
}

# pidfile_pid NAME PIDFILE: prints the PID in PIDFILE when it is NAME's, as
# the stack started it (pid_alive, stack_proc); fails otherwise.
pidfile_pid() {
	local name=$1 f=$2 pid
	[ -f "$f" ] && [ ! -L "$f" ] && [ -s "$f" ] || return 1
	read -r pid <"$f" || true
	pid_alive "$pid" "$f" && stack_proc "$name" "$pid" || return 1
	echo "$pid"
}

# stop_pidfile NAME PIDFILE SIGNAL: signal, wait, SIGKILL the process group
# after STOP_TIMEOUT seconds, remove the PID file. A PID file naming a
# process that is not NAME's as the stack started it is removed, and that
# process left alone.
stop_pidfile() {
	local name=$1 f=$2 sig=$3 pid i other
	if ! pid=$(pidfile_pid "$name" "$f"); then
		if [ -f "$f" ] && read -r other <"$f" 2>/dev/null && [[ $other =~ ^[0-9]+$ ]] &&
		    [ -e "/proc/$other" ]; then
			warn "$f names pid $other, which is not the $name this stack started: not signalled"
		fi
		rm -f -- "$f"
		return 0
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		child_alive "$pid" || break
		sleep 0.1
	done
	if child_alive "$pid"; then
		warn "$name (pid $pid) still running after ${STOP_TIMEOUT}s: SIGKILL"
		# Each component was started with setsid: its process group is its own.
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			child_alive "$pid" || break
			sleep 0.1
		done
		child_alive "$pid" && die "$name (pid $pid) survived SIGKILL"
	fi
	# Its children (a daemon's signer, PostgreSQL's backends) share its process
	# group, set up by setsid at start: give them a moment, then SIGKILL.
	for ((i = 0; i < 50; i++)); do
		[ -n "$(group_members "$pid")" ] || break
		sleep 0.1
	done
	if [ -n "$(group_members "$pid")" ]; then
		warn "$name (pid $pid) left processes in its group: SIGKILL $(group_members "$pid" | tr '\n' ' ')"
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f -- "$f"
	say "stopped $name (pid $pid)"
}

# log_ok FILE: FILE may be opened for appending: absent, or a regular file
# (not a link). LOG is root's, so nothing changes it after this check.
log_ok() {
	[ ! -L "$1" ] && { [ ! -e "$1" ] || [ -f "$1" ]; } ||
		die "$1 is a symbolic link or not a regular file: the stack writes its logs itself (remove it)"
}

# start_bg NAME PIDFILE LOGFILE AS(root|stack) CMD...: start CMD in its own
# session with stdin from /dev/null and output appended to LOGFILE (opened
# here, by the invoking user: the command gets the descriptor), in the
# environment clean_env leaves; write the PID file (the invoking user's).
# The lock descriptor is not inherited. setsid and setpriv exec in place,
# so $! is the component's own PID.
start_bg() {
	local name=$1 f=$2 logf=$3 as=$4
	shift 4
	local runner=() kind=daemon user
	user=$(id -un)
	[ "$as" = stack ] && runner=("${AS_STACK[@]}") && kind=stack && user=$STACK_USER
	log_ok "$logf"
	: >>"$logf"
	(
		cd "$DIR"
		clean_env "$kind" "$user"
		exec 9>&- setsid "${runner[@]}" "$@" </dev/null >>"$logf" 2>&1
	) &
	echo $! | put_file "$f" 0644 keep
}

# how_died PID: "exited with status N" or "was killed by SIGNAME" for a
# child of this script that has ended.
how_died() {
	local st=0
	wait "$1" 2>/dev/null || st=$?
	if [ "$st" -gt 128 ]; then
		local sig
		sig=$(kill -l $((st - 128)) 2>/dev/null || echo $((st - 128)))
		echo "was killed by SIG$sig$([ "$sig" = SYS ] && echo ' (a seccomp filter refused a system call)')"
	else
		echo "exited with status $st"
	fi
}

log_tail() {
	local f=$1
	[ -s "$f" ] || return 0
	echo "---- last lines of $f ----" >&2
	tail -n 20 -- "$f" >&2
	echo "----" >&2
}

port_in_use() {
	[ -n "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]
}

# wait_port NAME PIDFILE PORT LOGFILE: until something listens on PORT, the
# process dies, or START_TIMEOUT.
wait_port() {
	local name=$1 f=$2 port=$3 logf=$4 i pid
	read -r pid <"$f"
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		if ! child_alive "$pid"; then
			local how
			how=$(how_died "$pid")
			log_tail "$logf"
			die "$name $how during start-up; see $logf"
		fi
		port_in_use "$port" && return 0
		sleep 0.1
	done
	log_tail "$logf"
	die "$name did not listen on 127.0.0.1:$port within ${START_TIMEOUT}s; see $logf"
}

# wait_ready NAME PIDFILE LOG FROM-LINE TEXT: a portless worker's start-up
# ends with TEXT in its log (after line FROM-LINE, this start's lines).
wait_ready() {
	local name=$1 f=$2 logf=$3 from=$4 text=$5 i pid
	read -r pid <"$f"
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		if ! child_alive "$pid"; then
			local how
			how=$(how_died "$pid")
			log_tail "$logf"
			die "$name $how during start-up; see $logf"
		fi
		# grep -q on a pipe would SIGPIPE tail (pipefail): a substitution.
		grep -qF -- "$text" < <(tail -n +"$from" "$logf") && return 0
		sleep 0.1
	done
	log_tail "$logf"
	die "$name did not log '$text' within ${START_TIMEOUT}s; see $logf"
}

# --- ports ------------------------------------------------------------------------
declare -A PORT
load_ports() {
	local k v
	[ -s "$PORTSFILE" ] || return 1
	while IFS='=' read -r k v; do
		[[ $k =~ ^[A-Z]+$ && $v =~ ^[0-9]+$ ]] && PORT[$k]=$v
	done <"$PORTSFILE"
	local missing=()
	for k in "${PORT_NAMES[@]}"; do
		[ -n "${PORT[$k]:-}" ] || missing+=("$k")
	done
	# A component added since this stack's first up gets its port now.
	[ ${#missing[@]} -eq 0 ] || pick_ports "${missing[@]}"
}

# pick_ports [KEY...]: ports for the keys given (default: all), then the
# ports file.
pick_ports() {
	local k p lo hi used taken=' ' tries keys=("$@")
	[ ${#keys[@]} -gt 0 ] || keys=("${PORT_NAMES[@]}")
	read -r lo hi < <(port_range) || die "no range of ports to pick from (PKI_PORT_SLICE)"
	used=$(ss -ltnH | awk '{n = split($4, a, ":"); print a[n]}' | tr '\n' ' ')
	for k in "${PORT[@]}"; do taken="$taken$k "; done
	for k in "${keys[@]}"; do
		if [ "$PORTS_MODE" = default ]; then
			PORT[$k]=${PORT_DEFAULT[$k]}
			continue
		fi
		for ((tries = 0; tries < 1000; tries++)); do
			p=$((lo + SRANDOM % (hi - lo + 1)))
			case " $used $taken " in *" $p "*) continue ;; esac
			break
		done
		PORT[$k]=$p
		taken="$taken$p "
	done
	{
		echo "# Ports of this stack, fixed at its first 'up' ($PORTS_MODE)."
		for k in "${PORT_NAMES[@]}"; do echo "$k=${PORT[$k]}"; done
	} >"$PORTSFILE.tmp"
	mv -f -- "$PORTSFILE.tmp" "$PORTSFILE"
}

# --- files --------------------------------------------------------------------------
# put_file FILE MODE OWNER: stdin becomes FILE, with MODE, OWNER's (keep:
# the invoking user's). Written in DIR first (root's when we run as root:
# no other user can touch it there), then renamed into place: a link that
# the owner of FILE's directory put at FILE is replaced, never followed.
put_file() {
	local f=$1 mode=$2 owner=$3 t
	t=$(mktemp -- "$DIR/.put.XXXXXX") || die "mktemp in $DIR failed"
	if ! cat >"$t"; then rm -f -- "$t"; die "writing $f failed"; fi
	chmod "$mode" -- "$t"
	[ "$owner" = keep ] || give_to "$owner" "$t"
	# -T: a link to a directory at FILE is replaced too, not entered.
	mv -fT -- "$t" "$f" || { rm -f -- "$t"; die "cannot move a new $f into place"; }
}

# A secret: 192 random bits as 48 hex digits, no newline, mode 0600, created
# once, the stack user's (keep: the invoking user's). Nothing here passes it
# through argv.
make_secret() {
	local f=$1 owner=${2:-stack} v
	[ -s "$f" ] && return 0
	v=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
	[ "${#v}" -eq 48 ] || die "could not read /dev/urandom for $f"
	[ "$owner" = keep ] || owner=$STACK_USER
	printf '%s' "$v" | put_file "$f" 0600 "$owner"
}

# An HSM PIN or SO PIN: a secret that stays the invoking user's (root's when
# the stack runs as root), taken back from the stack user if an older stack
# gave it away.
make_pin() {
	[ ! -L "$1" ] || die "$1 is a symbolic link; a PIN must be a file"
	make_secret "$1" keep
	chmod 0600 -- "$1"
	if [ "$(id -u)" -eq 0 ]; then chown 0:0 -- "$1"; fi
}

# rad's OTP HMAC key (ra/factor.c): 256 bits as 64 hex digits from
# openssl rand, mode 0600, the invoking user's (root's: rad and signd's SAMs
# read it before they demote), created once; never in argv.
make_otp_key() {
	local f=$1 v
	[ -s "$f" ] && return 0
	v=$(openssl rand -hex 32 | tr -d '\n')
	[ "${#v}" -eq 64 ] || die "openssl rand failed for $f"
	printf '%s' "$v" | put_file "$f" 0600 keep
}

# Writes stdin to $1 atomically with mode $2, owned by the stack user: only
# for what PostgreSQL reads as that user from its own 0700 directory
# (pg_configure). What root reads or sources (pki.conf, stack.env,
# softhsm2.conf, pki/) is root's: put_file ... keep. Until 2026-12-07 those
# were the stack user's too, who could so point root's pkictl at a
# PKCS#11 module of its own (pki.conf [hsm] module) or put a command in
# the stack.env an operator, and tests/run.sh, source as root.
write_file() { put_file "$1" "$2" "$STACK_USER"; }

# fill TEMPLATE: prints it with @NAME@ placeholders substituted.
fill() {
	local t
	t=$(<"$1")
	t=${t//@SLAPD_RUN_DIR@/$LDAPDIR}
	t=${t//@LDAP_DATA@/$LDAPDIR/data}
	t=${t//@LDAP_BASE@/$LDAP_BASE}
	t=${t//@LDAP_ROOTDN@/$LDAP_ROOTDN}
	t=${t//@LDAP_ROOTPW_HASH@/${LDAP_ROOTPW_HASH:-}}
	t=${t//@LDAP_PUBLISHER_DN@/$LDAP_PUBLISHER_DN}
	t=${t//@LDAP_PUBLISHER_PW_HASH@/${LDAP_PUBLISHER_PW_HASH:-}}
	[[ $t == *@[A-Z_]*@* ]] && die "unfilled placeholder in $1"
	printf '%s\n' "$t"
}

# A stack with a standby: asked for now, or made by an earlier up.
has_standby() { [ "$STANDBY" -eq 1 ] || [ -s "$PG2DATA/PG_VERSION" ]; }

# pg_conninfo ROLE [DB [ATTRS]]: a daemon's conninfo. connect_timeout bounds
# its reconnection (lib/db.c, PQreset) to a server that does not answer, as
# after a failover to an unreachable host. With a standby, both nodes are
# listed and target_session_attrs (ATTRS, default read-write) picks one.
pg_conninfo() {
	if has_standby; then
		echo "host=$PGSOCK,$PGSOCK port=${PORT[PG]},${PORT[STANDBY]} dbname=${2:-pki} user=$1 connect_timeout=5 target_session_attrs=${3:-read-write}"
	else
		echo "host=$PGSOCK port=${PORT[PG]} dbname=${2:-pki} user=$1 connect_timeout=5"
	fi
}

write_layout() {
	mkdir -p -- "$DIR"
	local blocked u s v users=("$STACK_USER" "$HSM_USER")
	# What an up that died left of put_file's work (we hold the lock).
	rm -f -- "$DIR"/.put.*
	for s in "${DAEMON_SECTIONS[@]}"; do users+=("$(daemon_user "$s")"); done
	for u in $(printf '%s\n' "${users[@]}" | sort -u); do
		blocked=$(first_blocked_parent "$DIR" "$u")
		[ -z "$blocked" ] || die "$DIR is not reachable by user $u: $blocked is not traversable (mode $(stat -c %a "$blocked")). Use --dir under a directory every user can traverse (e.g. /srv or /tmp), or allow it: chmod o+x $blocked"
	done
	if [ "$(id -u)" -eq 0 ] && [ "$(stat -c %u -- "$DIR")" != 0 ]; then
		die "$DIR is not root's: as root the stack keeps the HSM PINs in $PINS, the PID files in $RUN and the logs in $LOG, which only root may be able to rename (chown root $DIR)"
	fi
	# Traversable (0711), not listable, where a daemon's user reaches one
	# file of its own: crld its LDAP password, every daemon the database
	# socket (PostgreSQL's peer map decides who is who), tsad and rad
	# their spool directories.
	# secrets/ is root's, as /etc/pki/secrets is in production: the keys
	# the daemons read as root (rad's OTP, TOTP and officer keys, pkisign
	# serve's client secret) are root's too. Until 2026-12-06 both were the
	# stack user's, who runs PostgreSQL and so could read the key sealing
	# the subscribers' TOTP secrets kept in the same database. The files
	# of other owners are theirs still (ldap-publisher.pw pki-crl's).
	mkdir_owned 0711 "$SECRETS" root
	root_dir_files "$SECRETS" ldap-admin.pw ldap-publisher.pw pades-caller.token hsm
	# The PID files, which down believes, and the HSM lock files, which
	# the signers open as root: root's. So are the logs, which root opens
	# for PostgreSQL, slapd and the daemons (start_bg) and for pkictl. Until
	# 2026-12-06 both were the stack user's, who could plant a link there
	# (root appended to, or created, whatever it named) or a PID (down
	# signalled it): what such a user left is cleaned up here.
	mkdir_owned 0711 "$RUN" root
	root_dir_files "$RUN" pg '.s.PGSQL.*'
	mkdir_owned 0711 "$PGSOCK"
	mkdir_owned 0750 "$LOG" root
	root_dir_files "$LOG"
	mkdir_owned 0700 "$DIR/pg"
	mkdir_owned 0700 "$LDAPDIR"
	mkdir_owned 0700 "$HSMDIR" "$HSM_USER"
	mkdir_owned 0700 "$HSMDIR/tokens" "$HSM_USER"
	give_to "$HSM_USER" "$HSMDIR/tokens"
	# pki/ and spool/ are root's, as in production (pki.tmpfiles.in):
	# root reads pki/ (pades-callers, pades-client.id) and cad, rad and
	# tsad open their directories in spool/ as root. Until 2026-12-07
	# both were the stack user's, who could rename what it holds: what
	# it left is made root's, or removed (a link, a FIFO, a directory
	# other than the daemons' own below).
	mkdir_owned 0755 "$DIR/pki" root
	root_dir_files "$DIR/pki" crl
	mkdir_owned 0711 "$DIR/spool" root
	root_dir_files "$DIR/spool" tsa cad ra-mail ra-sms
	mkdir_owned 0700 "$DIR/spool/tsa" "$(daemon_user tsa)"
	# cad's in-flight markers: opened as root before it demotes, then
	# written only through the descriptor, so root's (the demoted cad
	# writes no file by name: ca/README.md "A worker that ends while issuing").
	mkdir_owned 0700 "$DIR/spool/cad" root
	mkdir_owned 0755 "$DIR/pki/crl" "$(daemon_user crl)"
	# Before 2026-12-03 tsad spilled into spool/ itself (records not yet in
	# the database must follow it: whole lines, appended to a newer file),
	# and crld wrote its CRLs, and pkictl the ARL, into pki/. Other users
	# own these directories: nothing here follows a link planted there
	# (rename does not, mv -T never moves into a directory, dd opens with
	# O_NOFOLLOW). tsad made its spill files as root.
	local f to
	for f in "$DIR"/spool/tsa.spill*; do
		[ -f "$f" ] && [ ! -L "$f" ] || continue
		to=$DIR/spool/tsa/$(basename "$f")
		if [ -e "$to" ] || [ -L "$to" ]; then
			dd if="$f" iflag=nofollow status=none |
				dd of="$to" oflag=append,nofollow conv=notrunc status=none &&
				rm -f -- "$f" || die "could not append $f to $to"
		else
			mv -- "$f" "$to" || die "could not move $f to $to"
		fi
	done
	for f in root.crl issuing.crl issuing-delta.crl; do
		[ -f "$DIR/pki/$f" ] && [ ! -L "$DIR/pki/$f" ] || continue
		{ [ -e "$DIR/pki/crl/$f" ] || [ -L "$DIR/pki/crl/$f" ] || mv -T -- "$DIR/pki/$f" "$DIR/pki/crl/$f"; } &&
			rm -f -- "$DIR/pki/$f" ||
			die "could not move $DIR/pki/$f to $DIR/pki/crl/"
	done
	# Before 2026-12-04 every daemon ran as the stack user: tsad's spill
	# files and crld's CRLs change hands (no link is followed: -h, and -R
	# does not descend through one).
	give_to "$(daemon_user tsa)" "$DIR/spool/tsa"
	give_pki_dir
	as_stack test -w "$PGSOCK" || die "$PGSOCK is not writable by $STACK_USER"
	local sock="$PGSOCK/.s.PGSQL.65535"
	[ ${#sock} -lt 100 ] || die "$DIR is too long for a unix socket path ($sock); use a shorter --dir"

	local t
	mkdir_owned 0700 "$PINS" root
	local old
	for t in "${TOKENS[@]}"; do
		# Before 2026-12-03 the PINs lay in secrets/, the stack user's
		# (for a few commits of that day in secrets/hsm/): moved, or
		# removed where this directory already has them.
		for f in "$t.pin" "$t.so-pin"; do
			for old in "$SECRETS/hsm/$f" "$SECRETS/$f"; do
				[ -f "$old" ] && [ ! -L "$old" ] || continue
				if [ -e "$PINS/$f" ]; then
					rm -f -- "$old"
				else
					mv -- "$old" "$PINS/$f"
				fi
			done
		done
		make_pin "$PINS/$t.pin"
		make_pin "$PINS/$t.so-pin"
	done
	[ ! -d "$SECRETS/hsm" ] || [ -L "$SECRETS/hsm" ] || rmdir -- "$SECRETS/hsm" 2>/dev/null || true
	# The directory administrator's (the rootdn's): no daemon binds as it.
	# Before 2026-12-05 crld did, and owned this file: it goes back.
	make_secret "$SECRETS/ldap-admin.pw"
	give_to_stack "$SECRETS/ldap-admin.pw"
	# The publisher's (deploy/slapd/config.ldif.in): crld binds again at
	# each publication, reading it as its own user.
	make_secret "$SECRETS/ldap-publisher.pw"
	give_to "$(daemon_user crl)" "$SECRETS/ldap-publisher.pw"
	make_otp_key "$SECRETS/ra-otp.key"
	local k
	# The AES-256-GCM key sealing RA officers' TOTP secrets (rad and pkictl
	# read it; lib/totp.h): 64 hex digits, 0600, made once.
	if [ ! -s "$SECRETS/ra-officer.key" ]; then
		v=$(openssl rand -hex 32) && [ "${#v}" -eq 64 ] ||
			die "openssl rand failed for $SECRETS/ra-officer.key"
		printf '%s\n' "$v" | put_file "$SECRETS/ra-officer.key" 0600 keep
	fi
	# The AES-256-GCM key sealing subscribers' TOTP secrets (rad only; not
	# the officers' key, which pkictl reads too): 64 hex digits, 0600.
	if [ ! -s "$SECRETS/ra-totp.key" ]; then
		v=$(openssl rand -hex 32) && [ "${#v}" -eq 64 ] ||
			die "openssl rand failed for $SECRETS/ra-totp.key"
		printf '%s\n' "$v" | put_file "$SECRETS/ra-totp.key" 0600 keep
	fi
	# An older stack's (root_dir_files made them root's; the mode too).
	for k in ra-otp.key ra-officer.key ra-totp.key pades-client.secret; do
		[ -f "$SECRETS/$k" ] && [ ! -L "$SECRETS/$k" ] || continue
		chmod 0600 -- "$SECRETS/$k"
	done
	# The local applications' bearer token for pkisign serve (stack.env
	# PKI_PADES_TOKEN_FILE; 43 base64url characters, 256 bits) and the
	# callers file pkisign serve reads: the token's SHA-256 only.
	if [ ! -s "$SECRETS/pades-caller.token" ]; then
		v=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n') && [ "${#v}" -eq 43 ] ||
			die "openssl rand failed for $SECRETS/pades-caller.token"
		printf '%s\n' "$v" | put_file "$SECRETS/pades-caller.token" 0600 "$STACK_USER"
	fi
	v=$(head -n1 "$SECRETS/pades-caller.token" | tr -d '\n' | sha256sum | cut -c1-64)
	printf '# pkisign serve callers: NAME SHA256-HEX of its bearer token (sign/README.md).\nlocal-apps %s\n' "$v" |
		put_file "$DIR/pki/pades-callers" 0644 keep

	put_file "$SOFTHSM2_CONF" 0644 keep <<EOF
# SoftHSM2 configuration of this stack (written by deploy/stack.sh).
directories.tokendir = $HSMDIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF

	write_conf
}

# pki.conf, from the layout, the ports and pades_up's registration.
write_conf() {
	local r audit_label=
	# The audit key's label is kept from the pki.conf of before: after
	# `pkictl audit rotate` the operator sets [audit] key_label there, and
	# the next 'up' must not hand the sealer back the retired key
	# (deploy/README.md "Rotating the audit key").
	if [ -f "$CONF" ]; then
		audit_label=$(sed -n '/^\[audit\]/,/^\[/s/^key_label *= *//p' "$CONF" | head -n1)
	fi
	{
		echo "# Written by deploy/stack.sh at each 'up'; edits are overwritten,"
		echo "# but for [audit] key_label, which is kept."
		echo "# Secrets are not here: *_file keys name files in $SECRETS."
		echo "[hsm]"
		echo "module = $HSM_MODULE"
		echo "softhsm2_conf = $SOFTHSM2_CONF"
		echo "lock_dir = $RUN"
		echo "module_write_dir = $HSMDIR/tokens"
		for t in root ca ocsp tsa audit wrap; do
			echo "${t}_token = pki-$t"
			echo "${t}_pin_file = $PINS/pki-$t.pin"
		done
		echo
		echo "[pg]"
		# ocspd only reads: a standby takes that load off the primary.
		for r in "${PG_ROLES[@]}"; do
			if [ "$r" = ocsp ]; then
				echo "${r}_uri = $(pg_conninfo "pki_$r" pki prefer-standby)"
			else
				echo "${r}_uri = $(pg_conninfo "pki_$r")"
			fi
		done
		echo
		echo "[ldap]"
		echo "uri = ldap://127.0.0.1:${PORT[LDAP]}"
		echo "base = $LDAP_BASE"
		echo "bind_dn = $LDAP_PUBLISHER_DN"
		echo "bind_pw_file = $SECRETS/ldap-publisher.pw"
		echo
		echo "[audit]"
		echo "# The sealer (pkictl audit seal --every N) seals the trail this often;"
		echo "# 0: no sealer (PKI_STACK_SEAL_EVERY at 'up')."
		echo "seal_every_seconds = ${PKI_STACK_SEAL_EVERY:-300}"
		if [ -n "$audit_label" ]; then
			echo "# The audit key (pkictl audit rotate): kept at each 'up'."
			echo "key_label = $audit_label"
		fi
		echo
		echo "[pki]"
		echo "out_dir = $DIR/pki"
		echo "policy_dir = $REPO/policy"
		echo
		echo "[urls]"
		echo "ra = http://127.0.0.1:${PORT[RA]}"
		echo "ocsp = http://127.0.0.1:${PORT[OCSP]}"
		echo "crl_base = http://127.0.0.1:${PORT[CRL]}/crl"
		echo "tsa = http://127.0.0.1:${PORT[TSA]}"
		echo "sign = http://127.0.0.1:${PORT[SIGN]}/csc/v2"
		# Each daemon listens on 127.0.0.1 at <name>.port (the port of its URL).
		local d name bin key
		for d in "${DAEMONS[@]}"; do
			read -r name bin key _ <<<"$d"
			echo
			echo "[$name]"
			[ "$key" = - ] || echo "port = ${PORT[$key]}"
			if [ "$name" = tsa ]; then
				echo "# Local stack only: this machine's clock need not be NTP-synchronized."
				echo "allow_unsynchronized_clock = true"
				echo "# In a directory of its own: tsad may write nowhere else (Landlock)."
				echo "spill_file = $DIR/spool/tsa/tsa.spill"
			fi
			if [ "$name" = cad ]; then
				echo "# The in-flight markers: an attempt a crash ends is counted at the next start."
				echo "state_dir = $DIR/spool/cad"
			fi
			if [ "$name" = crl ]; then
				echo "# CRL files, apart from the CA certificates: crld may write only here."
				echo "out_dir = $DIR/pki/crl"
			fi
			if [ "$name" = ra ]; then
				echo "# Local stack only: the LOCAL FILE SINK (mail = file_sink, the default);"
				echo "# mail is written here, never sent. mail = smtp: ra/README.md \"Mail senders\"."
				echo "mail_sink_dir = $DIR/spool/ra-mail"
				echo "sms_sink_dir = $DIR/spool/ra-sms"
				echo "otp_key_file = $SECRETS/ra-otp.key"
				echo "officer_key_file = $SECRETS/ra-officer.key"
				echo "totp_key_file = $SECRETS/ra-totp.key"
				echo "# Local stack only: the LOCAL SIMULATOR of identity verification."
				echo "idv = simulator"
				echo "# The officers' console (GET /console/), read at start-up."
				echo "console_dir = $REPO/ra/console"
			fi
			if [ "$name" = sign ]; then
				echo "# signd's SAM verifies OTPs of purpose sign with rad's OTP key."
				echo "otp_key_file = $SECRETS/ra-otp.key"
				echo "# ... and TOTP codes with the key rad seals TOTP secrets with."
				echo "totp_key_file = $SECRETS/ra-totp.key"
			fi
			if [ "$name" = pades ]; then
				echo "# pkisign serve: a client of signd (registered by deploy/stack.sh)."
				echo "csc_url = http://127.0.0.1:${PORT[SIGN]}/csc/v2"
				echo "tsa_url = http://127.0.0.1:${PORT[TSA]}"
				[ ! -s "$PADES_ID" ] || echo "client_id = $(<"$PADES_ID")"
				echo "client_secret_file = $SECRETS/pades-client.secret"
				echo "# The applications allowed to call it (their tokens' SHA-256)."
				echo "callers_file = $DIR/pki/pades-callers"
			fi
		done
	} | put_file "$CONF" 0644 keep
}

# current_cert NAME: of $DIR/pki/NAME.pem (the ceremony's) and the
# NAME-N.pem that `pkictl ca responder` / `pkictl ca tsa` made since, the
# one valid now with the newest notBefore, as ocspd and tsad choose theirs
# at start: stack.env's PKI_OCSP_CERT / PKI_TSA_CERT follow a rotation at
# the next up. The ceremony's file when none is valid. For the TSA, as
# tsad does (lib/cadb.c cadb_load_current): one neither revoked nor on
# hold, nor under an issuing CA that is, when there is one such.
current_cert() {
	local f best=$DIR/pki/$1.pem nb bestnb=0 na now next=() pass
	now=$(date -u +%s)
	# In the order made (-2 before -10): of equal notBefore (certificates
	# made within their issuer's first minutes start with it), the newer.
	mapfile -t next < <(ls -1v -- "$DIR/pki/$1"-[0-9]*.pem 2>/dev/null)
	for pass in unrevoked any; do
		[ "$pass" = any ] || [ "$1" = tsa ] || continue
		for f in "$DIR/pki/$1.pem" "${next[@]}"; do
			[ -f "$f" ] || continue
			# ocsp-issuing-2-1.pem is issuing-2's responder, not issuing's.
			[[ ${f#"$DIR/pki/$1"} =~ ^(-[0-9]+)?\.pem$ ]] || continue
			nb=$(openssl x509 -in "$f" -noout -startdate 2>/dev/null | sed 's/^notBefore=//') || continue
			na=$(openssl x509 -in "$f" -noout -enddate 2>/dev/null | sed 's/^notAfter=//') || continue
			nb=$(date -u -d "$nb" +%s 2>/dev/null) && na=$(date -u -d "$na" +%s 2>/dev/null) || continue
			[ "$nb" -le "$now" ] && [ "$na" -gt "$now" ] && [ "$nb" -ge "$bestnb" ] || continue
			[ "$pass" = any ] || ! cert_stopped "$f" || continue
			best=$f
			bestnb=$nb
		done
		[ "$bestnb" -eq 0 ] || break
	done
	echo "$best"
}

# cert_stopped FILE: 0 when the database records FILE's certificate, or its
# issuing CA's own, as revoked or on hold; 1 otherwise, and when it cannot
# tell (the database down: the dates alone decide, as before).
cert_stopped() {
	local hex r
	hex=$(openssl x509 -in "$1" -outform DER 2>/dev/null | od -An -v -tx1 | tr -d ' \n') && [ -n "$hex" ] || return 1
	r=$(psql -X -At -v ON_ERROR_STOP=1 "$(node_conninfo "$(pg_primary_node)" pki)" -c "SELECT EXISTS (SELECT 1 FROM certificate c WHERE c.der = '\\x$hex'::bytea AND c.revoked_at IS NOT NULL) OR EXISTS (SELECT 1 FROM ca_certificate t JOIN ca_certificate ri ON ri.id = t.issuer_id JOIN certificate rx ON rx.issuer_id = ri.issuer_id AND rx.serial = ri.serial WHERE t.der = '\\x$hex'::bytea AND rx.revoked_at IS NOT NULL)" 2>/dev/null | sed -n 1p) || return 1
	[ "$r" = t ]
}

write_env() {
	local pgsock=${PGSOCK//\//%2F} pguri
	# The issuing CA cad issues under (PKI_CAD_ISSUER, ca/README.md
	# "Renewing the issuing CA"): a client's chain, CRL and responder.
	local iss=${PKI_CAD_ISSUER:-issuing} chain=$DIR/pki/chain.pem
	[[ $iss =~ ^[a-z][a-z0-9-]*$ ]] || die "PKI_CAD_ISSUER: not an issuing CA's name: $iss"
	if [ "$iss" != issuing ]; then
		chain=$DIR/pki/chain-$iss.pem
		[ -f "$DIR/pki/$iss.pem" ] && [ -f "$chain" ] ||
			die "PKI_CAD_ISSUER=$iss: no $DIR/pki/$iss.pem and ${chain##*/} (pkictl ca issuing makes them)"
	fi
	pguri=postgresql://pki_admin@$pgsock:${PORT[PG]}/pki
	if has_standby; then
		pguri=postgresql://pki_admin@$pgsock:${PORT[PG]},$pgsock:${PORT[STANDBY]}/pki?target_session_attrs=read-write
	fi
	local content k
	content=$(cat <<EOF
# Facts about the stack in $DIR, one KEY=VALUE per line, no quoting needed.
# Written by deploy/stack.sh at each 'up'. Daemon URLs are listed even when the
# daemon is not built yet: 'deploy/stack.sh status --dir $DIR' says what runs.
PKI_DIR=$DIR
PKI_CONFIG=$CONF
PKICTL=$PKICTL
PKI_STACK_USER=$STACK_USER
PKI_ROOT_CERT=$DIR/pki/root.pem
PKI_ISSUING_CERT=$DIR/pki/$iss.pem
PKI_CHAIN=$chain
PKI_OCSP_CERT=$(current_cert "ocsp-$iss")
PKI_TSA_CERT=$(current_cert tsa)
PKI_AUDIT_PUBKEY=$DIR/pki/audit-pub.pem
PKIAUDIT=$BUILD/pkiaudit
PKI_RA_URL=http://127.0.0.1:${PORT[RA]}
PKI_RA_CONSOLE_URL=http://127.0.0.1:${PORT[RA]}/console/
PKI_OCSP_URL=http://127.0.0.1:${PORT[OCSP]}
PKI_CRL_URL=http://127.0.0.1:${PORT[CRL]}/crl/$iss.crl
PKI_TSA_URL=http://127.0.0.1:${PORT[TSA]}
PKI_SIGN_URL=http://127.0.0.1:${PORT[SIGN]}/csc/v2
PKI_PADES_URL=http://127.0.0.1:${PORT[PADES]}/v1/sign
PKI_PADES_TOKEN_FILE=$SECRETS/pades-caller.token
PKI_LDAP_URI=ldap://127.0.0.1:${PORT[LDAP]}
PKI_LDAP_BASE=$LDAP_BASE
PKI_PG_URI=$pguri
PKI_PG_HOST=$PGSOCK
PKI_PG_PORT=${PORT[PG]}
PKI_PG_TLS_CERT=$DIR/pki/pg-server.pem
$(has_standby && echo "PKI_PG_STANDBY_PORT=${PORT[STANDBY]}" || true)
PKI_HSM_MODULE=$HSM_MODULE
SOFTHSM2_CONF=$SOFTHSM2_CONF
EOF
)
	for k in $(sed -n 's/^\([A-Z0-9_]*\)=.*/\1/p' <<<"$content"); do
		case " ${STACK_ENV_KEYS[*]} PKICTL SOFTHSM2_CONF " in
		*" $k "*) ;;
		*) die "stack.env key $k is not in STACK_ENV_KEYS" ;;
		esac
	done
	put_file "$ENVFILE" 0644 keep <<<"$content"
}

# --- PostgreSQL ---------------------------------------------------------------------
# Node 1 (DIR/pg, port PG) is the cluster every stack has. With --standby
# (kept once made) node 2 (DIR/pg2, port STANDBY) is a hot standby streaming
# from whichever node is the primary, through a replication slot on it
# (pki_node<N>). The data directories say which is which: a standby has
# standby.signal. After a failover (the standby promoted, the old primary
# stopped), the next up re-joins the old primary as a standby of the new one
# with pg_rewind; the daemons' conninfo lists both nodes, and libpq's
# target_session_attrs finds the primary (or, for ocspd, a standby first).
PG_PIDFILE=$RUN/postgres.pid
PG_LOG=$LOG/postgresql.log

node_data() { if [ "$1" = 1 ]; then echo "$PGDATA"; else echo "$PG2DATA"; fi; }
node_port() { if [ "$1" = 1 ]; then echo "${PORT[PG]}"; else echo "${PORT[STANDBY]}"; fi; }
node_pidfile() { if [ "$1" = 1 ]; then echo "$PG_PIDFILE"; else echo "$RUN/postgres2.pid"; fi; }
node_log() { if [ "$1" = 1 ]; then echo "$PG_LOG"; else echo "$LOG/postgresql2.log"; fi; }
node_name() { if [ "$1" = 1 ]; then echo postgres; else echo postgres2; fi; }
node_is_standby() { [ -e "$(node_data "$1")/standby.signal" ]; }
# The stack user's conninfo to one node (database postgres by default).
node_conninfo() { echo "host=$PGSOCK port=$(node_port "$1") dbname=${2:-postgres} user=$STACK_USER connect_timeout=5"; }
node_sql() { psql -X -At -v ON_ERROR_STOP=1 "$(node_conninfo "$1")" -c "$2"; }
# The timeline of a stopped node's last checkpoint (a promotion starts a new one).
node_timeline() {
	as_stack "$PGBIN/pg_controldata" -D "$(node_data "$1")" 2>/dev/null |
		sed -n "s/^Latest checkpoint's TimeLineID: *//p"
}

pg_init() {
	[ -s "$PGDATA/PG_VERSION" ] && return 0
	say "postgres: initdb $PGDATA"
	rm -rf -- "$PGDATA.tmp"
	mkdir_owned 0700 "$PGDATA.tmp"
	local sync=()
	[ "$EPHEMERAL" -eq 1 ] && sync=(--no-sync)
	# Bootstrap superuser: the OS user running the cluster ($STACK_USER).
	if ! (cd "$DIR" && as_stack "$PGBIN/initdb" -D "$PGDATA.tmp" -U "$STACK_USER" \
	    -E UTF8 --locale=C --auth-local=trust --auth-host=scram-sha-256 "${sync[@]}") \
	    >>"$LOG/initdb.log" 2>&1; then
		log_tail "$LOG/initdb.log"
		die "initdb failed; see $LOG/initdb.log"
	fi
	echo "include_if_exists = 'pki-stack.conf'" >>"$PGDATA.tmp/postgresql.conf"
	mv -- "$PGDATA.tmp" "$PGDATA"
}

# TLS on 127.0.0.1, as a remote cluster would have it: a self-signed
# certificate for localhost and 127.0.0.1 (the clients' trust anchor, public:
# PKI_PG_TLS_CERT) and its key, the stack user's (PostgreSQL refuses a key
# others may read). Made once; both nodes use it.
pg_tls() {
	local key=$DIR/pg/server.key crt=$DIR/pki/pg-server.pem t
	[ -s "$key" ] && [ -s "$crt" ] && return 0
	say "postgres: TLS certificate for localhost and 127.0.0.1"
	t=$(mktemp -d -- "$DIR/.pgtls.XXXXXX") || die "mktemp in $DIR failed"
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$t/key" -out "$t/crt" -days 3650 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >"$t/log" 2>&1; then
		cat -- "$t/log" >&2
		rm -rf -- "$t"
		die "openssl req failed for the PostgreSQL TLS certificate"
	fi
	put_file "$key" 0600 "$STACK_USER" <"$t/key"
	put_file "$crt" 0644 keep <"$t/crt"
	rm -rf -- "$t"
}

# shared_buffers for the stack's PostgreSQL, in MB: an eighth of the
# machine's memory, at least 128 and at most 1024.
pg_shared_buffers_mb() {
	local kb
	kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo 2>/dev/null || echo 0)
	awk -v kb="${kb:-0}" 'BEGIN { mb = int(kb / 1024 / 8); if (mb < 128) mb = 128; if (mb > 1024) mb = 1024; print mb }'
}

# pg_configure NODE: its settings; primary_conninfo names the other node and
# only counts while NODE is a standby.
pg_configure() {
	local n=$1 data other=$((3 - $1))
	data=$(node_data "$n")
	pg_tls
	write_file "$data/pki-stack.conf" 0600 <<EOF
# Written by deploy/stack.sh at each 'up'.
listen_addresses = '127.0.0.1'
port = $(node_port "$n")
unix_socket_directories = '$PGSOCK'
# Every daemon's user reaches the socket; the peer map says as whom.
unix_socket_permissions = 0777
password_encryption = scram-sha-256
ssl = on
ssl_cert_file = '$DIR/pki/pg-server.pem'
ssl_key_file = '$DIR/pg/server.key'
max_connections = 200
# An eighth of the memory, 128 MB to 1 GB: with PostgreSQL's 128 MB the
# rows of 100,000 signing credentials did not stay in its buffers, and a
# cold signHash on them ran at 78 % of the rate on 10,000 (bench_signd.sh).
shared_buffers = $(pg_shared_buffers_mb)MB
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
# pg_rewind can re-join a failed primary as a standby (--standby stacks).
wal_log_hints = on
# A standby away for long cannot fill the primary's disk through its slot.
max_slot_wal_keep_size = 1GB
$(has_standby && printf '%s\n' \
	"primary_conninfo = 'host=$PGSOCK port=$(node_port "$other") user=$STACK_USER application_name=node$n'" \
	"primary_slot_name = 'pki_node$n'" || true)
$([ "$EPHEMERAL" -eq 1 ] && printf '%s\n' 'fsync = off' 'synchronous_commit = off')
# pg_rewind needs full-page writes.
$([ "$EPHEMERAL" -eq 1 ] && ! has_standby && echo 'full_page_writes = off' || true)
EOF
	write_file "$data/pg_hba.conf" 0600 <<EOF
# Written by deploy/stack.sh. On the socket, the kernel names the client's
# OS user and pg_ident.conf says which roles it may be: a daemon only its
# own, so a daemon taken over is not the superuser, nor another daemon.
# TCP on 127.0.0.1 needs a SCRAM password (roles have none by default).
local all all peer map=pki
local replication all peer map=pki
host  all all 127.0.0.1/32 scram-sha-256
EOF
	pg_ident | write_file "$data/pg_ident.conf" 0600
}

# The peer map: root (pkictl, this script, the tests) and the stack user
# (its own cluster: superuser, replication) may be any role; each daemon's
# user its role (ROLE_OF). Without root everything runs as the stack user.
pg_ident() {
	local u r
	echo "# Written by deploy/stack.sh. MAPNAME SYSTEM-USERNAME PG-USERNAME"
	for u in $([ "$(id -u)" -eq 0 ] && echo root) "$STACK_USER"; do
		for r in "$STACK_USER" "${DB_ROLES[@]}"; do printf 'pki %s %s\n' "$u" "$r"; done
	done
	if [ "$(id -u)" -eq 0 ]; then
		for u in "${!ROLE_OF[@]}"; do printf 'pki %s %s\n' "$u" "${ROLE_OF[$u]}"; done | sort
	fi
}

# pg_start NODE: starts it unless it runs; waits until it accepts connections.
pg_start() {
	local n=$1 name data port f logf
	name=$(node_name "$n"); data=$(node_data "$n"); port=$(node_port "$n")
	f=$(node_pidfile "$n"); logf=$(node_log "$n")
	if pidfile_pid "$name" "$f" >/dev/null && [ ! -S "$PGSOCK/.s.PGSQL.$port" ] &&
	    [ -S "$RUN/.s.PGSQL.$port" ]; then
		# Before 2026-12-06 the socket was in run/ itself, root's now. The
		# daemons, whose conninfo named run/, are restarted too.
		: >"$DAEMONS_RESTART_MARK"
		say "$name: restarting: its socket moves to $PGSOCK"
		stop_pidfile "$name" "$f" INT
	fi
	if pidfile_pid "$name" "$f" >/dev/null; then
		# Settings a reload can change take effect now (pg_configure).
		node_sql "$n" 'SELECT pg_reload_conf()' >/dev/null ||
			warn "$name: reloading its configuration failed; see $logf"
		# The socket's mode takes a restart: an older stack's was 0700,
		# which the daemons' own users cannot open (they reconnect). A
		# server that does not answer now is left alone.
		local perm
		if ! perm=$(node_sql "$n" 'SHOW unix_socket_permissions'); then
			warn "$name: could not read its socket's mode; see $logf"
			return 0
		fi
		if [ "$perm" = 0777 ]; then
			say "$name: already running"
			return 0
		fi
		say "$name: restarting: its socket's mode changes (0777, the peer map decides)"
		stop_pidfile "$name" "$f" INT
	fi
	port_in_use "$port" && die "port $port ($name) is taken by another process (ss -ltnp); stop it or use another --dir with --ports auto"
	# An older stack's socket, which the postmaster could not remove
	# from run/ (root's since).
	rm -f -- "$RUN/.s.PGSQL.$port" "$RUN/.s.PGSQL.$port.lock"
	# A postmaster.pid left by a killed postmaster whose PID is gone.
	if [ -s "$data/postmaster.pid" ]; then
		local old
		read -r old <"$data/postmaster.pid" || true
		pid_alive "$old" "$data/postmaster.pid" || rm -f -- "$data/postmaster.pid"
	fi
	start_bg "$name" "$f" "$logf" stack "$PGBIN/postgres" -D "$data"
	local i pid
	read -r pid <"$f"
	for ((i = 0; ; i++)); do
		child_alive "$pid" || { log_tail "$logf"; die "$name $(how_died "$pid") during start-up; see $logf"; }
		"$PGBIN/pg_isready" -q -h "$PGSOCK" -p "$port" -U "$STACK_USER" -d postgres -t 1 && break
		[ "$i" -lt $((START_TIMEOUT * 10)) ] || { log_tail "$logf"; die "$name not ready within ${START_TIMEOUT}s; see $logf"; }
		sleep 0.1
	done
	say "$name: started (pid $pid$(node_is_standby "$n" && echo ', standby'))"
}

# Which node is the primary (prints 1 or 2). A running node that is not in
# recovery is; otherwise the one without standby.signal; two without it (a
# failover happened while the old primary was down) are told apart by the
# promotion's new timeline.
pg_primary_node() {
	local n r found=()
	[ -s "$PG2DATA/PG_VERSION" ] || { echo 1; return 0; }
	for n in 1 2; do
		pidfile_pid "$(node_name "$n")" "$(node_pidfile "$n")" >/dev/null || continue
		r=$(node_sql "$n" 'SELECT pg_is_in_recovery()' 2>/dev/null) || continue
		[ "$r" = f ] && found+=("$n")
	done
	[ ${#found[@]} -le 1 ] || die "both PostgreSQL nodes run as primaries (split brain): stop the one that should not be ($(node_data 1), $(node_data 2))"
	[ ${#found[@]} -eq 0 ] || { echo "${found[0]}"; return 0; }
	node_is_standby 1 || found+=(1)
	node_is_standby 2 || found+=(2)
	case ${#found[@]} in
	0) die "both PostgreSQL nodes are standbys: promote one (pg_ctl promote -D DATA), then up again" ;;
	1) echo "${found[0]}" ;;
	*)
		local t1 t2
		t1=$(node_timeline 1); t2=$(node_timeline 2)
		[[ $t1 =~ ^[0-9]+$ && $t2 =~ ^[0-9]+$ && $t1 != "$t2" ]] ||
			die "cannot tell which PostgreSQL node is the primary (timelines '$t1' and '$t2'): create standby.signal in the other's data directory"
		if [ "$t1" -gt "$t2" ]; then echo 1; else echo 2; fi
		;;
	esac
}

# pg_standby_up NODE PRIMARY: makes NODE a standby of PRIMARY (a base
# backup the first time, pg_rewind for a former primary) and starts it.
pg_standby_up() {
	local s=$1 p=$2 data slot
	data=$(node_data "$s")
	slot=pki_node$s
	node_sql "$p" "SELECT pg_create_physical_replication_slot('$slot', true)
	    WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$slot')" >/dev/null ||
		die "cannot create replication slot $slot on $(node_name "$p"); see $(node_log "$p")"
	if [ ! -s "$data/PG_VERSION" ]; then
		say "$(node_name "$s"): base backup of $(node_name "$p") into $data"
		mkdir_owned 0700 "$(dirname "$data")"
		rm -rf -- "$data.tmp"
		mkdir_owned 0700 "$data.tmp"
		if ! (cd "$DIR" && as_stack "$PGBIN/pg_basebackup" -d "$(node_conninfo "$p")" \
		    -D "$data.tmp" -X stream -S "$slot" -c fast) >>"$LOG/basebackup.log" 2>&1; then
			log_tail "$LOG/basebackup.log"
			die "pg_basebackup failed; see $LOG/basebackup.log"
		fi
		as_stack touch "$data.tmp/standby.signal"
		mv -- "$data.tmp" "$data"
	elif ! node_is_standby "$s"; then
		pidfile_pid "$(node_name "$s")" "$(node_pidfile "$s")" >/dev/null &&
			die "$(node_name "$s") runs as a primary beside $(node_name "$p"): stop it first"
		say "$(node_name "$s"): a former primary; re-joining it as a standby of $(node_name "$p") (pg_rewind)"
		if ! (cd "$DIR" && as_stack "$PGBIN/pg_rewind" -D "$data" \
		    --source-server="$(node_conninfo "$p")") >>"$LOG/rewind.log" 2>&1; then
			log_tail "$LOG/rewind.log"
			die "pg_rewind of $data failed; see $LOG/rewind.log"
		fi
		# Slots belong to a primary: those the old one kept would hold WAL
		# back here for nobody.
		rm -rf -- "$data"/pg_replslot/*
		as_stack touch "$data/standby.signal"
	fi
	pg_configure "$s"
	pg_start "$s"
}

pg_up() {
	pg_init
	local p=1 have
	if has_standby; then p=$(pg_primary_node); fi
	pg_configure "$p"
	pg_start "$p"
	have=$(node_sql "$p" "SELECT 1 FROM pg_database WHERE datname = 'pki'") ||
		die "cannot query PostgreSQL; see $(node_log "$p")"
	if [ "$have" != 1 ]; then
		node_sql "$p" 'CREATE DATABASE pki' >/dev/null ||
			die "CREATE DATABASE pki failed; see $(node_log "$p")"
		say "postgres: created database pki"
	fi
	"$REPO/deploy/migrate.sh" "$(node_conninfo "$p" pki)" "$REPO/schema" ||
		die "migrations failed (output above; server log: $(node_log "$p"))"
	# No role of ours in the cluster's other databases: schema/101 takes
	# large objects from them in pki only, and each database has its own
	# (the disk is one). The superuser keeps CONNECT (a superuser's right).
	node_sql "$p" 'REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC' >/dev/null ||
		die "REVOKE CONNECT on postgres, template1 failed; see $(node_log "$p")"
	if has_standby; then pg_standby_up $((3 - p)) "$p"; fi
}

# --- slapd ----------------------------------------------------------------------------
LDAP_PIDFILE=$RUN/slapd.pid
LDAP_LOG=$LOG/slapd.log
# Which olcAccess of config.ldif.in the directory has (in DIR: root's, so
# no other user makes up skip or repeat the upgrade); change the version
# with the ACL, and ldap_add_publisher applies it to older directories.
LDAP_ACL_MARK=$DIR/.ldap-acl
LDAP_ACL_VERSION=publisher-3	# 3: olcSockbufMaxIncomingAuth (large CRLs)
# Left by ldap_add_publisher until crld has been restarted.
CRL_RESTART_MARK=$DIR/.crl-restart
# Left by pg_start when PostgreSQL's socket moved, until every daemon has
# been restarted with the new conninfo.
DAEMONS_RESTART_MARK=$DIR/.daemons-restart

ldap_init() {
	if [ -d "$LDAPDIR/slapd.d" ]; then
		ldap_move_run_files
		ldap_add_publisher
		return 0
	fi
	say "slapd: creating configuration in $LDAPDIR/slapd.d"
	LDAP_ROOTPW_HASH=$(slappasswd -h '{SSHA}' -T "$SECRETS/ldap-admin.pw") ||
		die "slappasswd failed"
	LDAP_PUBLISHER_PW_HASH=$(slappasswd -h '{SSHA}' -T "$SECRETS/ldap-publisher.pw") ||
		die "slappasswd failed"
	rm -rf -- "$LDAPDIR/slapd.d.tmp" "$LDAPDIR/data"
	mkdir_owned 0700 "$LDAPDIR/slapd.d.tmp"
	mkdir_owned 0700 "$LDAPDIR/data"
	# Piped in from here, so the templates need not be readable by $STACK_USER.
	if ! fill "$REPO/deploy/slapd/config.ldif.in" |
	    (cd "$DIR" && as_stack slapadd -n0 -F "$LDAPDIR/slapd.d.tmp") >>"$LOG/slapadd.log" 2>&1; then
		log_tail "$LOG/slapadd.log"
		die "slapadd -n0 (cn=config) failed; see $LOG/slapadd.log"
	fi
	if ! fill "$REPO/deploy/slapd/base.ldif.in" |
	    (cd "$DIR" && as_stack slapadd -n1 -F "$LDAPDIR/slapd.d.tmp") >>"$LOG/slapadd.log" 2>&1; then
		log_tail "$LOG/slapadd.log"
		die "slapadd -n1 (base entries) failed; see $LOG/slapadd.log"
	fi
	unset LDAP_ROOTPW_HASH LDAP_PUBLISHER_PW_HASH
	mv -- "$LDAPDIR/slapd.d.tmp" "$LDAPDIR/slapd.d"
	echo "$LDAP_ACL_VERSION" >"$LDAP_ACL_MARK"
}

# Before 2026-12-06 slapd wrote its own PID and args files in run/, which
# is root's now (slapd would not start: "unable to open pid file"): with
# slapd stopped, cn=config names ldap/ instead. (Read as the stack user:
# its file; LDIF lines are folded at 76 columns.)
ldap_move_run_files() {
	local cfg="$LDAPDIR/slapd.d/cn=config.ldif"
	(cd "$DIR" && as_stack cat -- "$cfg") 2>/dev/null |
	    awk 'NR > 1 && /^ / { l = l substr($0, 2); next } NR > 1 { print l } { l = $0 } END { print l }' |
	    grep -qxF "olcPidFile: $RUN/slapd.self.pid" || return 0
	if pidfile_pid slapd "$LDAP_PIDFILE" >/dev/null; then
		say "slapd: stopping it: its own PID file moves to $LDAPDIR"
		stop_pidfile slapd "$LDAP_PIDFILE" TERM
	fi
	log_ok "$LOG/slapadd.log"
	if ! printf 'dn: cn=config\nchangetype: modify\nreplace: olcPidFile\nolcPidFile: %s\n-\nreplace: olcArgsFile\nolcArgsFile: %s\n-\n' \
	    "$LDAPDIR/slapd.self.pid" "$LDAPDIR/slapd.args" |
	    (cd "$DIR" && as_stack slapmodify -n0 -F "$LDAPDIR/slapd.d") >>"$LOG/slapadd.log" 2>&1; then
		log_tail "$LOG/slapadd.log"
		die "slapmodify -n0 (olcPidFile) failed; see $LOG/slapadd.log"
	fi
	rm -f -- "$RUN/slapd.self.pid" "$RUN/slapd.args"
}

# A directory made before 2026-12-05 had no publisher: crld bound as the
# rootdn. With slapd stopped (cn=config has no rootdn, so offline), its
# ACL becomes config.ldif.in's and the publisher's entry base.ldif.in's;
# the same for a directory whose ACL is of an older LDAP_ACL_VERSION, which
# also gets cn=config's olcSockbufMaxIncomingAuth (publisher-3).
ldap_add_publisher() {
	local mdb="$LDAPDIR/slapd.d/cn=config/olcDatabase={1}mdb.ldif"
	[ -f "$mdb" ] || die "$mdb is missing; move $LDAPDIR aside to make a new directory"
	[ "$(cat -- "$LDAP_ACL_MARK" 2>/dev/null)" = "$LDAP_ACL_VERSION" ] && return 0
	# crld is restarted once this is done, even by a later up should this
	# one stop before it starts the daemons.
	: >"$CRL_RESTART_MARK"
	if pidfile_pid slapd "$LDAP_PIDFILE" >/dev/null; then
		say "slapd: stopping it to add the publisher"
		stop_pidfile slapd "$LDAP_PIDFILE" TERM
	fi
	say "slapd: adding the publisher $LDAP_PUBLISHER_DN"
	LDAP_PUBLISHER_PW_HASH=$(slappasswd -h '{SSHA}' -T "$SECRETS/ldap-publisher.pw") ||
		die "slappasswd failed"
	# The entry first, the ACL (what marks the directory done) last, so an
	# up that stopped half-way finishes the next time. (slapcat -s aborts in
	# OpenLDAP 2.5.13: a filter on entryDN instead.)
	if ! (cd "$DIR" && as_stack slapcat -n1 -F "$LDAPDIR/slapd.d" -a "(entryDN=$LDAP_PUBLISHER_DN)") 2>/dev/null |
	    grep -q '^dn: '; then
		if ! fill "$REPO/deploy/slapd/base.ldif.in" |
		    awk -v dn="dn: $LDAP_PUBLISHER_DN" '/^dn: /{m = ($0 == dn)} m' |
		    (cd "$DIR" && as_stack slapadd -n1 -F "$LDAPDIR/slapd.d") >>"$LOG/slapadd.log" 2>&1; then
			log_tail "$LOG/slapadd.log"
			die "slapadd -n1 (the publisher) failed; see $LOG/slapadd.log"
		fi
	fi
	if ! fill "$REPO/deploy/slapd/config.ldif.in" | awk '
	    BEGIN { print "dn: olcDatabase={1}mdb,cn=config"; print "changetype: modify" }
	    /^dn: / { m = ($0 ~ /^dn: olcDatabase=\{1\}mdb,/) }
	    m && /^olcAddContentAcl: / { print "replace: olcAddContentAcl"; print; print "-" }
	    m && /^olcAccess: / { if (!a++) print "replace: olcAccess"; print }' |
	    (cd "$DIR" && as_stack slapmodify -n0 -F "$LDAPDIR/slapd.d") >>"$LOG/slapadd.log" 2>&1; then
		log_tail "$LOG/slapadd.log"
		die "slapmodify -n0 (the directory's ACL) failed; see $LOG/slapadd.log"
	fi
	# cn=config's request size limit (a CRL is one modify request).
	if ! fill "$REPO/deploy/slapd/config.ldif.in" | awk '
	    BEGIN { print "dn: cn=config"; print "changetype: modify" }
	    /^dn: / { m = ($0 == "dn: cn=config") }
	    m && /^olcSockbufMaxIncomingAuth: / { print "replace: olcSockbufMaxIncomingAuth"; print; print "-" }' |
	    (cd "$DIR" && as_stack slapmodify -n0 -F "$LDAPDIR/slapd.d") >>"$LOG/slapadd.log" 2>&1; then
		log_tail "$LOG/slapadd.log"
		die "slapmodify -n0 (olcSockbufMaxIncomingAuth) failed; see $LOG/slapadd.log"
	fi
	unset LDAP_PUBLISHER_PW_HASH
	echo "$LDAP_ACL_VERSION" >"$LDAP_ACL_MARK"
}

ldap_up() {
	ldap_init
	if pidfile_pid slapd "$LDAP_PIDFILE" >/dev/null; then
		say "slapd: already running"
		return 0
	fi
	port_in_use "${PORT[LDAP]}" && die "port ${PORT[LDAP]} (slapd) is taken by another process (ss -ltnp); stop it or use another --dir with --ports auto"
	# -d stats: stay in the foreground (our PID file, our log) and log one
	# line per operation, errors included, to DIR/log/slapd.log.
	start_bg slapd "$LDAP_PIDFILE" "$LDAP_LOG" stack /usr/sbin/slapd -d stats \
	    -F "$LDAPDIR/slapd.d" -h "ldap://127.0.0.1:${PORT[LDAP]}/"
	wait_port slapd "$LDAP_PIDFILE" "${PORT[LDAP]}" "$LDAP_LOG"
	local i
	for ((i = 0; ; i++)); do
		ldapsearch -x -LLL -o nettimeout=2 -H "ldap://127.0.0.1:${PORT[LDAP]}" \
		    -b "$LDAP_BASE" -s base dn >/dev/null 2>&1 && break
		[ "$i" -lt $((START_TIMEOUT * 10)) ] || { log_tail "$LDAP_LOG"; die "slapd does not answer searches; see $LDAP_LOG"; }
		sleep 0.1
	done
	say "slapd: started (pid $(<"$LDAP_PIDFILE"))"
}

# --- HSM tokens and the CA ---------------------------------------------------------------
# pkictl, bounded in time (token log-in locks, database, directory).
pkictl() {
	local rc=0
	timeout -k 10 "$PKICTL_TIMEOUT" "$PKICTL" --config "$CONF" "$@" || rc=$?
	[ "$rc" -ne 124 ] || echo "$prog: pkictl $* did not finish within ${PKICTL_TIMEOUT}s" >&2
	return "$rc"
}

# The tokens this run of up created (hsm_up): a key recorded for a token of
# an earlier run is not in one made now.
HSM_MADE=()
hsm_up() {
	local out t made=0
	out=$(pkictl token list 2>>"$LOG/pkictl.log") ||
		die "'$PKICTL --config $CONF token list' failed; see $LOG/pkictl.log"
	for t in "${TOKENS[@]}"; do
		if grep -qxF -- "$t" < <(cut -f1 <<<"$out"); then
			continue
		fi
		say "hsm: creating token $t"
		pkictl token init --label "$t" --so-pin-file "$PINS/$t.so-pin" \
		    --pin-file "$PINS/$t.pin" >>"$LOG/pkictl.log" 2>&1 ||
			{ log_tail "$LOG/pkictl.log"; die "token init $t failed; see $LOG/pkictl.log"; }
		made=$((made + 1))
		HSM_MADE+=("$t")
	done
	give_to "$HSM_USER" "$HSMDIR/tokens"
	[ "$made" -eq 0 ] && say "hsm: ${#TOKENS[@]} tokens present"
	return 0
}

# key_made ACTION TOKEN: the audit trail records ACTION, the creation of a
# key in TOKEN (pkictl commits the event only with its key), and TOKEN was
# not created by this up. Then the ceremony is not asked again: its refusal
# (exit 3) logs an error in log/pkictl.log at every later up, which an
# operator watching for errors would chase in vain (until 2026-12-06).
key_made() {
	local p=1 t
	for t in "${HSM_MADE[@]}"; do [ "$t" != "$2" ] || return 1; done
	if has_standby; then p=$(pg_primary_node); fi
	[ "$(psql -X -At "$(node_conninfo "$p" pki)" -c \
	    "SELECT 1 FROM audit_event WHERE action = '$1' AND details->>'token' = '$2' LIMIT 1" 2>/dev/null)" = 1 ]
}

# The subscriber-key wrapping key (DESIGN.md "Keys"), made once at the
# ceremony; exit 3 means it exists.
wrapkey_up() {
	local rc=0
	key_made hsm.wrapkey.create pki-wrap && return 0
	pkictl wrapkey create --so-pin-file "$PINS/pki-wrap.so-pin" >>"$LOG/pkictl.log" 2>&1 || rc=$?
	case $rc in
	0) say "ca: subscriber-key wrapping key created" ;;
	3) ;;
	*) log_tail "$LOG/pkictl.log"; die "'pkictl wrapkey create' failed; see $LOG/pkictl.log" ;;
	esac
	give_to "$HSM_USER" "$HSMDIR/tokens"
}

# The HSM audit key, once, then a seal of whatever the audit trail holds
# (DESIGN.md "Audit": `pkictl audit seal` belongs on a timer; every
# `make up` seals too).
audit_up() {
	local rc=0
	if ! key_made audit.key.create pki-audit; then
		pkictl audit init >>"$LOG/pkictl.log" 2>&1 || rc=$?
		case $rc in
		0) say "audit: HSM audit key created, public key $DIR/pki/audit-pub.pem" ;;
		3) ;;
		*) log_tail "$LOG/pkictl.log"; die "'pkictl audit init' failed; see $LOG/pkictl.log" ;;
		esac
	fi
	pkictl audit seal >>"$LOG/pkictl.log" 2>&1 ||
		{ log_tail "$LOG/pkictl.log"; die "'pkictl audit seal' failed; see $LOG/pkictl.log"; }
	give_to "$HSM_USER" "$HSMDIR/tokens"
	give_pki_dir
}

ca_up() {
	if pkictl ca status >>"$LOG/pkictl.log" 2>&1; then
		say "ca: initialized"
		wrapkey_up
		audit_up
		return 0
	fi
	say "ca: running the key ceremony (pkictl ca init)"
	pkictl ca init >>"$LOG/pkictl.log" 2>&1 ||
		{ log_tail "$LOG/pkictl.log"; die "'pkictl ca init' failed; see $LOG/pkictl.log"; }
	# The root's CRL (ARL) is signed at the ceremony: the root key is used only then.
	pkictl crl arl >>"$LOG/pkictl.log" 2>&1 ||
		{ log_tail "$LOG/pkictl.log"; die "'pkictl crl arl' failed; see $LOG/pkictl.log"; }
	give_to "$HSM_USER" "$HSMDIR/tokens"
	give_pki_dir
	wrapkey_up
	audit_up
	local f
	for f in root issuing chain ocsp-root ocsp-issuing tsa; do
		[ -s "$DIR/pki/$f.pem" ] || die "'pkictl ca init' succeeded but did not write $DIR/pki/$f.pem"
	done
}

# pkisign serve's registration at signd, once: `pkictl sigservice add` prints
# the client id and secret; the secret goes to a 0600 file (never argv or a
# log), the id beside the CA certificates, and pki.conf gets [pades].
pades_up() {
	[ ! -s "$PADES_ID" ] || return 0
	local out rc=0
	out=$(pkictl sigservice add --name local-pades 2>>"$LOG/pkictl.log") || rc=$?
	case $rc in
	0) ;;
	3) warn "pades: a signing service named local-pades exists but $PADES_ID is gone: pkisign serve is not started"; return 0 ;;
	*) die "'pkictl sigservice add' failed; see $LOG/pkictl.log" ;;
	esac
	sed -n 's/^client_secret\t//p' <<<"$out" | put_file "$SECRETS/pades-client.secret" 0600 keep
	sed -n 's/^client_id\t//p' <<<"$out" | put_file "$PADES_ID" 0644 keep
	[ -s "$PADES_ID" ] && [ -s "$SECRETS/pades-client.secret" ] || die "pkictl sigservice add printed no client id or secret"
	say "pades: registered at signd as local-pades"
	write_conf
}

# --- daemons -------------------------------------------------------------------------------
# running_current NAME PIDFILE: 0 when it runs as this stack runs daemons.
# One started before 2026-12-04, some of whose processes run as the stack
# user (the owner of the cluster, which every daemon process was then), is
# stopped (1): its files have just changed hands (write_layout). So is a
# crld started before its directory had the publisher's ACL
# (ldap_add_publisher, CRL_RESTART_MARK).
running_current() {
	local pid p
	pid=$(pidfile_pid "$1" "$2") || return 1
	if [ "$1" = crl ] && [ -e "$CRL_RESTART_MARK" ]; then
		say "crl: restarting: it binds to the directory as the publisher now"
		stop_pidfile "$1" "$2" TERM
		rm -f -- "$CRL_RESTART_MARK"
		return 1
	fi
	if [ -e "$DAEMONS_RESTART_MARK" ]; then
		say "$1: restarting: the database socket moved to $PGSOCK"
		stop_pidfile "$1" "$2" TERM
		return 1
	fi
	# Its program was rebuilt since it started (a pull, then `make up`):
	# the running copy is the old one, which the migrations just applied
	# may refuse (an old rad's approvals failed schema/105's guard).
	if [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == *" (deleted)" ]]; then
		say "$1: restarting: its program was rebuilt since it started"
		stop_pidfile "$1" "$2" TERM
		return 1
	fi
	[ "$(id -u)" -eq 0 ] || return 0
	for p in "$pid" $(group_members "$pid"); do
		if [ "$(stat -c %U "/proc/$p" 2>/dev/null)" = "$STACK_USER" ]; then
			say "$1: runs as $STACK_USER, as before each daemon had a user of its own: restarting"
			stop_pidfile "$1" "$2" TERM
			return 1
		fi
	done
	return 0
}
daemon_up() {
	local name=$1 bin=$BUILD/${2%%:*} key=$3 sub=()
	[[ $2 != *:* ]] || sub=("${2#*:}")
	shift 3
	local ready=$* f=$RUN/$name.pid logf=$LOG/$name.log
	[ -x "$bin" ] || return 0
	# pkisign serve is a client of signd: registered by pades_up.
	[ "$name" != pades ] || [ -s "$PADES_ID" ] || { warn "pades: no signing-service registration yet"; return 0; }
	if running_current "$name" "$f"; then
		say "$name: already running"
		return 0
	fi
	if [ "$key" = - ]; then
		local from=1
		[ -f "$logf" ] && from=$(($(wc -l <"$logf") + 1))
		start_bg "$name" "$f" "$logf" root "$bin" "${sub[@]}" --config "$CONF"
		wait_ready "$name" "$f" "$logf" "$from" "$ready"
	else
		port_in_use "${PORT[$key]}" && die "port ${PORT[$key]} ($name) is taken by another process (ss -ltnp)"
		start_bg "$name" "$f" "$logf" root "$bin" "${sub[@]}" --config "$CONF"
		wait_port "$name" "$f" "${PORT[$key]}" "$logf"
	fi
	say "$name: started (pid $(<"$f"))"
}

# The periodic sealer (DESIGN.md "Audit"): `pkictl audit seal --every N`,
# kept running beside the daemons. Started as root like them: its signer
# reads the audit token's PIN, then both demote (to pki-hsm and pki-audit) and
# enter their sandboxes. A service manager would run the same command.
SEALER_PIDFILE=$RUN/sealer.pid
sealer_every() {
	sed -n '/^\[audit\]/,/^\[/s/^seal_every_seconds = *//p' "$CONF" | head -n1
}
# The audit key's label the sealer signs with (audit-1 unless pki.conf says).
sealer_label() {
	local l
	l=$(sed -n '/^\[audit\]/,/^\[/s/^key_label *= *//p' "$CONF" | head -n1)
	echo "${l:-audit-1}"
}
sealer_up() {
	local every label logf=$LOG/sealer.log from=1
	every=$(sealer_every)
	label=$(sealer_label)
	[ -x "$PKICTL" ] && [ -s "$DIR/pki/audit-pub.pem" ] && [ "${every:-0}" -gt 0 ] || return 0
	if running_current sealer "$SEALER_PIDFILE"; then
		# After `pkictl audit rotate` and a new [audit] key_label, the
		# running sealer (the old key, which now refuses) is replaced.
		if [ "$(cat -- "$RUN/sealer.key_label" 2>/dev/null || echo audit-1)" = "$label" ]; then
			say "sealer: already running"
			return 0
		fi
		say "sealer: restarting: audit.key_label is now $label"
		stop_pidfile sealer "$SEALER_PIDFILE" TERM
	fi
	[ -f "$logf" ] && from=$(($(wc -l <"$logf") + 1))
	start_bg sealer "$SEALER_PIDFILE" "$logf" root "$PKICTL" --config "$CONF" audit seal --every "$every"
	echo "$label" >"$RUN/sealer.key_label"
	wait_ready sealer "$SEALER_PIDFILE" "$logf" "$from" "sealing the audit trail every"
	say "sealer: started (pid $(<"$SEALER_PIDFILE")), a seal every ${every}s"
}

# --- commands ------------------------------------------------------------------------------
lock_dir() {
	exec 9>>"$DIR/.lock"
	flock -w 120 9 || die "another stack.sh holds $DIR/.lock (waited 120s)"
}

cmd_up() {
	check_tools
	mkdir -p -- "$DIR"
	lock_dir
	if load_ports 2>/dev/null; then
		[ "$PORTS_MODE" = auto ] || [ "${PORT[PG]}" = "${PORT_DEFAULT[PG]}" ] ||
			say "note: $DIR keeps the ports of its first start (see $PORTSFILE)"
	else
		pick_ports
	fi
	trap '[ $? -eq 0 ] || echo "$prog: up did not finish; logs are in $LOG/; stop what started with: deploy/stack.sh down --dir $DIR" >&2' EXIT
	write_layout
	pg_up
	ldap_up
	if [ -x "$PKICTL" ]; then
		hsm_up
		ca_up
		pades_up
	else
		warn "$PKICTL is not built: no HSM tokens and no CA yet (run 'make', then 'up' again)"
	fi
	# A daemon that fails to start does not stop the others nor stack.env;
	# up still fails at the end.
	local d failed=()
	for d in "${DAEMONS[@]}"; do
		# shellcheck disable=SC2086
		(daemon_up $d) || failed+=("${d%% *}")
	done
	(sealer_up) || failed+=(sealer)
	rm -f -- "$DAEMONS_RESTART_MARK"
	write_env
	summary
	local logs=''
	for d in "${failed[@]}"; do logs="$logs $LOG/$d.log"; done
	[ ${#failed[@]} -eq 0 ] || die "failed to start: ${failed[*]} (see$logs); the rest of the stack is up"
}

cmd_down() {
	[ -d "$DIR" ] || { say "$DIR does not exist: nothing to stop"; return 0; }
	[ -d "$RUN" ] || { say "nothing to stop in $DIR"; return 0; }
	lock_dir
	local i name
	stop_pidfile sealer "$SEALER_PIDFILE" TERM
	for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
		name=${DAEMONS[i]%% *}
		stop_pidfile "$name" "$RUN/$name.pid" TERM
	done
	stop_pidfile slapd "$LDAP_PIDFILE" TERM
	# SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for clients).
	stop_pidfile postgres2 "$(node_pidfile 2)" INT
	stop_pidfile postgres "$PG_PIDFILE" INT
	local left
	left=$(pgrep -f -- "$DIR/(pg2?/data|ldap/slapd.d|pki.conf)" || true)
	[ -z "$left" ] || warn "processes still using $DIR: $(tr '\n' ' ' <<<"$left")"
	say "stack in $DIR is down"
}

# status_line NAME STATE DETAIL
status_line() { printf '%-9s %-12s %s\n' "$1" "$2" "$3"; }

component_state() {
	local pid
	if pid=$(pidfile_pid "$1" "$2"); then echo "up pid=$pid"; else echo "down no-process"; fi
}

cmd_status() {
	[ -s "$CONF" ] || { echo "no stack in $DIR (run: deploy/stack.sh up --dir $DIR)"; return 3; }
	load_ports
	local st rc=0 name bin key d pid
	local n role
	for n in 1 2; do
		[ "$n" = 1 ] || has_standby || continue
		role=''
		has_standby && role=$(node_is_standby "$n" && echo ' standby' || echo ' primary')
		st=$(component_state "$(node_name "$n")" "$(node_pidfile "$n")")
		status_line "$(node_name "$n")" "${st%% *}" "${st#* } 127.0.0.1:$(node_port "$n") (TLS: sslrootcert=$DIR/pki/pg-server.pem) socket=$PGSOCK$role"
		[ "${st%% *}" = up ] || rc=3
	done
	st=$(component_state slapd "$LDAP_PIDFILE")
	status_line slapd "${st%% *}" "${st#* } ldap://127.0.0.1:${PORT[LDAP]} base=$LDAP_BASE"
	[ "${st%% *}" = up ] || rc=3
	local n
	n=$(softhsm2-util --show-slots 2>/dev/null | grep -cE '^\s+Label:\s+pki-(root|ca|ocsp|tsa|audit|wrap)\s*$' || true)
	status_line hsm "$([ "$n" -eq ${#TOKENS[@]} ] && echo ready || echo incomplete)" "$n/${#TOKENS[@]} tokens in $HSMDIR/tokens"
	if [ ! -x "$PKICTL" ]; then
		status_line ca "-" "pkictl not built ($PKICTL)"
	elif [ -s "$DIR/pki/root.pem" ] && [ -s "$DIR/pki/issuing.pem" ]; then
		status_line ca initialized "certificates in $DIR/pki"
	else
		status_line ca "not-init" "no certificates in $DIR/pki"
	fi
	if [ -s "$DIR/pki/audit-pub.pem" ]; then
		status_line audit "key ready" "public key $DIR/pki/audit-pub.pem; sealed at each up and by the sealer, verify with pkiaudit"
	else
		status_line audit "no key" "pkictl audit init not run"
	fi
	local every
	every=$(sealer_every)
	if [ "${every:-0}" -gt 0 ] && [ -s "$DIR/pki/audit-pub.pem" ]; then
		st=$(component_state sealer "$SEALER_PIDFILE")
		status_line sealer "${st%% *}" "${st#* } pkictl audit seal --every ${every}s (log/sealer.log)"
		[ "${st%% *}" = up ] || rc=3
	else
		status_line sealer "-" "off (audit.seal_every_seconds ${every:-0} in pki.conf)"
	fi
	for d in "${DAEMONS[@]}"; do
		read -r name bin key _ <<<"$d"
		bin=${bin%%:*}
		local where="127.0.0.1:${PORT[$key]:-}"
		[ "$key" = - ] && where="worker (no port)"
		if [ ! -x "$BUILD/$bin" ]; then
			status_line "$name" "-" "not built ($BUILD/$bin)"
			continue
		fi
		st=$(component_state "$name" "$RUN/$name.pid")
		status_line "$name" "${st%% *}" "${st#* } $where"
		[ "${st%% *}" = up ] || rc=3
	done
	return $rc
}

summary() {
	echo
	echo "stack in $DIR:"
	cmd_status | sed 's/^/  /' || true
	echo "  console: http://127.0.0.1:${PORT[RA]}/console/   (RA officers; add one: $PKICTL --config $CONF officer add --username U --role ra_officer --password-file F)"
	echo "  config:  $CONF"
	echo "  pades:   http://127.0.0.1:${PORT[PADES]}/v1/sign   (PDF signing; callers send Authorization: Bearer <the token in $SECRETS/pades-caller.token>)"
	if [ "$(id -u)" -eq 0 ]; then
		echo "  users:   postgres and slapd as $STACK_USER; each daemon as pki-<name>, its signers as $HSM_USER (deploy/README.md \"Users and privileges\")"
	fi
	echo "  env:     $ENVFILE   (source it: set -a; . $ENVFILE; set +a)"
	echo "  logs:    $LOG/*.log"
	echo "  stop:    deploy/stack.sh down --dir $DIR"
}

case $CMD in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
esac
