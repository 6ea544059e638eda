# port_range: prints "LO HI", the loopback ports a stack (deploy/stack.sh
# --ports auto) or a test's own server (tests/free_port.sh) picks from:
# below the kernel's ephemeral range, where outgoing connections take their
# source ports, so no connection can take a port between the pick and the
# bind. PKI_PORT_SLICE=K/N narrows it to the K-th of N equal parts: make
# check runs its plain and sanitizer suites side by side, each in a slice of
# its own, so their stacks cannot pick the same port at the same moment.
# shellcheck shell=bash
port_range() {
	local lo hi k n width
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	if [ "$lo" -gt 12000 ]; then hi=$((lo - 1)); lo=10000; else lo=$((hi + 1)); hi=65000; fi
	if [ -n "${PKI_PORT_SLICE:-}" ]; then
		if [[ $PKI_PORT_SLICE =~ ^([0-9]{1,4})/([0-9]{1,4})$ ]]; then
			k=$((10#${BASH_REMATCH[1]}))	# "08" is not octal here
			n=$((10#${BASH_REMATCH[2]}))
		fi
		if [ -z "${n:-}" ] || [ "$k" -lt 1 ] || [ "$k" -gt "$n" ]; then
			echo "PKI_PORT_SLICE=$PKI_PORT_SLICE: want K/N with 1 <= K <= N" >&2
			return 1
		fi
		width=$(((hi - lo + 1) / n))
		if [ "$width" -lt 100 ]; then
			echo "PKI_PORT_SLICE=$PKI_PORT_SLICE: fewer than 100 ports a slice" >&2
			return 1
		fi
		lo=$((lo + (k - 1) * width))
		hi=$((lo + width - 1))
	fi
	echo "$lo $hi"
}
