#!/usr/bin/env bash
# make check's suites side by side: tests/run.sh BUILD for each BUILD given
# (the plain and the ASan+UBSan build), at the same time, each in LANES
# lanes (default 2): a lane is a run.sh with a stack of its own, and the
# lanes of one BUILD share its tests (PKI_TEST_CLAIMS: each test runs once,
# in whichever lane is free first). A suite alone uses well under one core
# (its tests mostly wait on daemons, PostgreSQL and the tools that judge
# them), so the lanes take little more than the longest share. Each lane
# gets a slice of the port range (PKI_PORT_SLICE, deploy/port_range.sh), so
# that no two stacks pick the same port at the same moment. Lines are shown
# as they come, prefixed with the build's name and lane; every lane's
# summary is written as run.sh writes it. Exits non-zero when any lane
# failed, or when the lanes of a BUILD ran no test.
#	tests/run_both.sh [-j LANES] BUILD...
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
lanes=2
if [ "${1:-}" = -j ]; then
	[[ ${2:-} =~ ^[1-9]$ ]] || { echo "tests/run_both.sh: -j wants 1 to 9" >&2; exit 2; }
	lanes=$2
	shift 2
fi
[ $# -ge 1 ] || { echo "usage: tests/run_both.sh [-j LANES] BUILD..." >&2; exit 2; }
fifos=$(mktemp -d /tmp/pki-run-both.XXXXXX)
suites=()
prefixers=()
# run.sh stops its stack on TERM (a background job ignores the terminal's
# INT, so it is passed on as TERM), then the prefixers drain.
stop() {
	[ ${#suites[@]} -eq 0 ] || kill -TERM "${suites[@]}" 2>/dev/null
	wait
	rm -rf -- "$fifos"
	exit "$1"
}
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP
k=0
nb=0
total=$(($# * lanes))
for b in "$@"; do
	nb=$((nb + 1))
	tag=$(basename "$b")
	[ "$tag" = build ] && tag=plain
	mkdir "$fifos/claims-$nb"
	rm -f -- "$b"/tests/summary-* "$b"/tests/failures-*
	for ((l = 1; l <= lanes; l++)); do
		k=$((k + 1))
		mkfifo "$fifos/$k"
		# The prefixer is this script's child, so the wait below covers it.
		sed -u "s/^/$(printf '%-5s%s' "$tag" "$l")| /" <"$fifos/$k" &
		prefixers+=($!)
		PKI_PORT_SLICE=$k/$total PKI_TEST_LANE=$l PKI_TEST_CLAIMS=$fifos/claims-$nb \
			"$REPO/tests/run.sh" "$b" >"$fifos/$k" 2>&1 &
		suites+=($!)
	done
done
rc=0
for p in "${suites[@]}"; do
	wait "$p" || rc=1
done
wait "${prefixers[@]}"	# every line is out before make goes on
for ((nb = 1; nb <= $#; nb++)); do
	[ -n "$(ls -A "$fifos/claims-$nb")" ] || { echo "tests/run_both.sh: no test ran for ${!nb}" >&2; rc=1; }
done
rm -rf -- "$fifos"
exit "$rc"
