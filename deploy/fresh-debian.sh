#!/usr/bin/env bash
# fresh-debian.sh: the README's two commands on a fresh Debian 12, as users
# and reviewers start: a minimal bookworm (debootstrap --variant=minbase,
# plus make, git and ca-certificates) in DIR, this checkout's HEAD cloned
# into /root/pki there (root's home: mode 0700, the hard case for the
# stack's users), then `make check` or `make up` (with each daemon's
# /health, the logs' error lines and `make down`) run inside it, in PID and
# mount namespaces of their own. Nothing on the host is installed but
# debootstrap; the packages come from deploy/deps.sh inside, as on a fresh
# machine.
#
#   deploy/fresh-debian.sh check|up [DIR]     (root; DIR default /srv/pki-fresh)
#
# A DIR left by an earlier run is reused (its packages stay installed; the
# clone is made again): remove it for a run from scratch. ../shared, when
# beside the checkout, is copied beside the clone (the tests read it).
# Takes 20 to 30 minutes for `check` on 2 vCPUs (half of it the packages).
set -euo pipefail

prog=fresh-debian.sh
die() { echo "$prog: $*" >&2; exit 1; }
usage() { echo "usage: deploy/fresh-debian.sh check|up [DIR]" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || usage
mode=$1
case $mode in check|up) ;; *) usage ;; esac
root=${2:-/srv/pki-fresh}
[ "$(id -u)" -eq 0 ] || die "run it as root (debootstrap, chroot, namespaces)"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ ! -x "$root/usr/bin/make" ]; then
	command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
	debootstrap --variant=minbase --include=make,git,ca-certificates "$suite" "$root" "$mirror"
	# What an installed Debian 12 has besides the release: its updates.
	printf 'deb %s %s main\ndeb %s %s-updates main\ndeb http://deb.debian.org/debian-security %s-security main\n' \
		"$mirror" "$suite" "$mirror" "$suite" "$suite" >"$root/etc/apt/sources.list"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
rm -rf -- "$root/root/pki" "$root/root/shared"
git clone -q "$repo" "$root/root/pki"
[ ! -d "$repo/../shared" ] || cp -a "$repo/../shared" "$root/root/shared"

case $mode in
check) inner='time make check' ;;
up) inner='make up && for p in 18080 18081 18082 18083 18085; do
		c=$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$p/health"); echo "/health on $p: $c"
		[ "$c" = 200 ] || st=1
	done
	c=$(curl -s -o /dev/null -w "%{http_code}" -X POST -H "Content-Type: application/json" --data "{}" \
		http://127.0.0.1:18084/csc/v2/info); echo "signd info: $c"; [ "$c" = 200 ] || st=1
	if grep -l "\"level\":\"err\"" var/log/*.log; then st=1; fi
	make down; exit ${st:-0}' ;;
esac

# Inside new mount and PID namespaces: the mounts and every process the
# run starts end with it. /sys/fs/cgroup is the host's (test_tsa limits a
# supervisor's processes with a pids cgroup).
unshare -m -p -f bash -s "$root" "$inner" <<'EOF'
set -eu
r=$1
mount -t proc proc "$r/proc"
mount -t sysfs sys "$r/sys"
mount --rbind /sys/fs/cgroup "$r/sys/fs/cgroup"
mount --rbind /dev "$r/dev"
mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm"
exec chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 bash -c "cd /root/pki && $2"
EOF
