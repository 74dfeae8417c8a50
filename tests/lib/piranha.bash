# tests/lib/piranha.bash: the shared setup of the tests/uml/piranha-*.sh scenarios (run inside UML); sourced, not run.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A scenario sources this, calls piranha_test NAME first, and then:
#   piranha_bridge NS...      br0 (192.0.2.1/24, this namespace is the director) and NS on it, lo up
#   piranha_background PID    a background process, killed at exit
#   start_policy              policies/piranha.lua -c $tmp/lvs.cf in the background ($policy), log in $tmp/policy.log
#   until_ok CMD...           retry CMD every 0.1 s for at most 15 s
#   table_has / table_lacks PATTERN   a line of `ipvsadm -Ln` matches PATTERN, or none does
#   fail WHY                  print "FAIL NAME: WHY", the table and the policy's log, exit 1

piranha_ns=()
piranha_pids=()

# piranha_test NAME: the scenario's name for fail, cd to the repo root, LUAHA (default ./luaha), $tmp, the cleanup at exit.
piranha_test()
{
	name=$1
	cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
	LUAHA=${LUAHA:-./luaha}
	tmp=$(mktemp -d) || exit 2
	trap piranha_cleanup EXIT
}

piranha_cleanup()
{
	local p ns
	[ -n "${policy:-}" ] && kill -9 "$policy" 2> /dev/null
	for p in "${piranha_pids[@]}"; do kill -9 "$p" 2> /dev/null; done
	for ns in "${piranha_ns[@]}"; do
		ip netns pids "$ns" 2> /dev/null | xargs -r kill -9 2> /dev/null
		ip netns del "$ns" 2> /dev/null
	done
	ip link del br0 2> /dev/null
	ipvsadm -C
	rm -rf "$tmp"
}

fail()
{
	echo "FAIL $name: $*"
	ipvsadm -Ln | sed 's/^/  | /'
	tail -40 "$tmp/policy.log" 2> /dev/null | sed 's/^/  | /'
	exit 1
}

piranha_bridge()
{
	local ns
	ip link add name br0 type bridge && ip link set br0 up && ip addr add 192.0.2.1/24 dev br0 || fail "bridge"
	for ns in "$@"; do
		ip netns add "$ns" && ip -n "$ns" link set lo up || fail "netns $ns"
		piranha_ns+=("$ns")
		ip link del "v-$ns" 2> /dev/null	# an earlier scenario's, outliving its namespace (seed.bash says why)
		ip link add name "v-$ns" type veth peer name eth0 netns "$ns" || fail "veth $ns"
		ip link set "v-$ns" master br0 && ip link set "v-$ns" up && ip -n "$ns" link set eth0 up || fail "link $ns"
	done
}

piranha_background()
{
	piranha_pids+=("$1")
}

start_policy()
{
	"$LUAHA" policies/piranha.lua -c "$tmp/lvs.cf" --foreground >> "$tmp/policy.log" 2>&1 &
	policy=$!
}

until_ok()
{
	local i
	for i in $(seq 150); do "$@" && return 0; sleep 0.1; done
	return 1
}

table_has() { ipvsadm -Ln | grep -q -- "$1"; }
table_lacks() { ! ipvsadm -Ln | grep -q -- "$1"; }
