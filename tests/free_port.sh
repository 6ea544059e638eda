# free_port: a TCP port for a test or benchmark server, from the range
# deploy/port_range.sh gives (below the kernel's ephemeral range, within
# PKI_PORT_SLICE), used by no socket now. Sourced by tests/integration/lib.sh
# and the benches; deploy/stack.sh --ports auto picks its ports the same way.
# shellcheck shell=bash
. "$(dirname "${BASH_SOURCE[0]}")/../deploy/port_range.sh"
free_port() {
	local lo hi p
	read -r lo hi < <(port_range)
	[ -n "$hi" ] || return 1
	while :; do
		p=$((lo + SRANDOM % (hi - lo + 1)))
		# Not "ss | grep -q": a SIGPIPE-d ss would make a busy port look free.
		[ -n "$(ss -tanH "sport = :$p")" ] || { echo "$p"; return; }
	done
}
