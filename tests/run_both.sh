#!/usr/bin/env bash
# make check's suites side by side: tests/run.sh BUILD for each BUILD given
# (the plain and the ASan+UBSan build), at the same time. One suite uses
# about one core on average (its tests mostly wait on daemons, PostgreSQL
# and the tools that judge them), so two of them take little more than the
# longer one alone. Each gets a stack of its own and a slice of the port
# range (PKI_PORT_SLICE, deploy/port_range.sh), so their stacks cannot pick
# the same port at the same moment. Lines are shown as they come, each
# prefixed with its build's name; every suite's summary is written as
# run.sh writes it. Exits non-zero when any suite failed.
#	tests/run_both.sh BUILD...
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: tests/run_both.sh BUILD..." >&2; exit 2; }
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
for b in "$@"; do
	k=$((k + 1))
	tag=$(basename "$b")
	[ "$tag" = build ] && tag=plain
	mkfifo "$fifos/$k"
	# The prefixer is this script's child, so the wait below covers it.
	sed -u "s/^/$(printf '%-5s' "$tag")| /" <"$fifos/$k" &
	prefixers+=($!)
	PKI_PORT_SLICE=$k/$# "$REPO/tests/run.sh" "$b" >"$fifos/$k" 2>&1 &
	suites+=($!)
done
rc=0
for p in "${suites[@]}"; do
	wait "$p" || rc=1
done
wait "${prefixers[@]}"	# every line is out before make goes on
rm -rf -- "$fifos"
exit "$rc"
