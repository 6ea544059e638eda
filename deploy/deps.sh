#!/usr/bin/env bash
# Install the Debian packages in deploy/packages.txt (or the list files given
# as arguments) that are missing, and the system user the daemons drop to.
# Quiet and quick when nothing is missing.
set -euo pipefail
# A user's PATH on Debian has no sbin directories (/etc/profile), nor has
# root's after a plain `su`: useradd and debconf's tools are there.
PATH=/usr/local/sbin:/usr/sbin:/sbin:$PATH
here=$(cd "$(dirname "$0")" && pwd)
lists=("$@")
[ ${#lists[@]} -gt 0 ] || lists=("$here/packages.txt")
want=$(cat "${lists[@]}" | grep -vE '^\s*(#|$)')
missing=()
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
# sudo's env_reset would drop DEBIAN_FRONTEND: it goes through env.
sudo=(env DEBIAN_FRONTEND=noninteractive)
[ "$(id -u)" -eq 0 ] || sudo=(sudo "${sudo[@]}")
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
		echo "deps: missing packages and no sudo: run this as root" \
		    "(or install sudo and allow this user to use it)" >&2
		exit 1
	fi
	# slapd asks debconf questions and starts a system instance; we run our own.
	echo 'slapd slapd/no_configuration boolean true' | "${sudo[@]}" debconf-set-selections
	# Nor start the system's PostgreSQL, slapd or nginx on their standard
	# ports as they are installed (policy-rc.d, as in container images):
	# the stack runs its own, and nginx is only the tests' reverse proxy.
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		# Removed however this script ends: a policy-rc.d left behind would
		# keep every later package from starting its service.
		trap '"${sudo[@]}" rm -f "$policy"' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
		trap 'exit 129' HUP
		printf '#!/bin/sh\n# deploy/deps.sh: no service starts while it installs\nexit 101\n' |
			"${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 0755 "$policy"
	fi
	# A machine just booted may have apt-daily holding the lock: wait.
	apt=(apt-get -o DPkg::Lock::Timeout=600)
	"${sudo[@]}" "${apt[@]}" update -qq
	"${sudo[@]}" "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The system copies of PostgreSQL and slapd are not ours: the stack runs its own.
# Dedicated, unprivileged users when we run as root (deploy/README.md
# "Users and privileges"): pki runs the local stack's PostgreSQL and slapd
# and owns their data; each daemon demotes to a user of its own; pki-hsm
# owns the SoftHSM2 token files that the signer processes read. The
# daemons' users are those of deploy/systemd/pki.sysusers (what `make
# install` gives systemd-sysusers on a production host).
if [ "$(id -u)" -eq 0 ]; then
	for u in pki $(awk '$1 == "u" { print $2 }' "$here/systemd/pki.sysusers"); do
		getent passwd "$u" >/dev/null ||
			useradd --system --user-group --home-dir /nonexistent --no-create-home \
			    --shell /usr/sbin/nologin "$u"
	done
fi
exit 0
