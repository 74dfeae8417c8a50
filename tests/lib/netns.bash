# tests/lib/netns.bash: the shared setup of the tests/netns/*.sh scenarios (namespaces, veth pairs, cleanup, fail); sourced, not run.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A scenario sources this, calls netns_test NAME first, and then:
#   netns_add NS...                    namespaces with lo up, deleted at exit
#   netns_veth NS_A IF_A NS_B IF_B     a veth pair between them, both ends up
#   netns_background PID               a background process, killed and waited for at exit
#   netns_wait PID                     wait for it now (its exit status), and forget it
#   netns_mac NS IF                    the MAC address of IF in NS
#   fail WHY                           print "FAIL NAME: WHY" and the logs in $tmp, exit 1

netns_names=()
netns_pids=()

# netns_test NAME: the scenario's name for fail, cd to the repo root, LUAHA (default ./luaha), $tmp, the cleanup at exit.
netns_test()
{
	name=$1
	cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
	LUAHA=${LUAHA:-./luaha}
	tmp=$(mktemp -d) || exit 2
	trap netns_cleanup EXIT
}

# netns_cleanup: kill the background processes, delete the namespaces and $tmp.
netns_cleanup()
{
	local pid ns
	for pid in "${netns_pids[@]}"; do
		kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
	done
	for ns in "${netns_names[@]}"; do
		ip netns del "$ns" 2> /dev/null
	done
	rm -rf "$tmp"
}

# fail WHY: the scenario failed; its logs ($tmp/*.log) go with the reason.
fail()
{
	echo "FAIL $name: $*"
	sed 's/^/  | /' "$tmp"/*.log 2> /dev/null
	exit 1
}

# netns_add NS...: create each namespace and bring its lo up.
netns_add()
{
	local ns
	for ns in "$@"; do
		ip netns add "$ns" || fail "ip netns add $ns"
		netns_names+=("$ns")
		ip -n "$ns" link set lo up || fail "lo up in $ns"
	done
}

# netns_veth NS_A IF_A NS_B IF_B: a veth pair, IF_A in NS_A and IF_B in NS_B, both up.
netns_veth()
{
	ip -n "$1" link add name "$2" type veth peer name "$4" netns "$3" &&
		ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up || fail "veth $1 $2 - $3 $4"
}

# netns_background PID: a process started with &, to be killed and waited for at exit unless netns_wait waited for it.
netns_background()
{
	netns_pids+=("$1")
}

# netns_wait PID: wait for a process given to netns_background and return its exit status.
netns_wait()
{
	local rc pid keep=()
	wait "$1"
	rc=$?
	for pid in "${netns_pids[@]}"; do
		[ "$pid" = "$1" ] || keep+=("$pid")
	done
	netns_pids=("${keep[@]}")
	return "$rc"
}

# netns_mac NS IF: print the MAC address of IF in NS.
netns_mac()
{
	ip -n "$1" -o link show dev "$2" | sed -n 's|.*link/ether \([0-9a-f:]*\) .*|\1|p'
}
