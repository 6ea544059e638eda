# free_port: a TCP port for a test or benchmark server, below the kernel's
# ephemeral range (outgoing connections take their source ports there, so a
# port in it can be taken between this check and the server's bind) and
# used by no socket now. Sourced by tests/integration/lib.sh and the
# benches; deploy/stack.sh --ports auto picks its ports the same way.
# shellcheck shell=bash
free_port() {
	local lo hi p
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	if [ "$lo" -gt 12000 ]; then hi=$((lo - 1)); lo=10000; else lo=$((hi + 1)); hi=65000; fi
	while :; do
		p=$((lo + SRANDOM % (hi - lo + 1)))
		ss -tanH "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
}
