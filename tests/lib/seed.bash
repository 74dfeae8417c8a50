# tests/lib/seed.bash: the seed's topology (piranha.md 6) in namespaces, for the UML scenario and `make demo`; sourced, not run.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# In the root namespace of a UML instance: a bridge br0 and, on it, the namespaces client
# (192.0.2.10), r1 (primary, .210), r2 (backup, .211), rs1 (.204) and rs2 (.205), VIP .212.
#   seed_setup             the namespaces, the DR real servers (policies/realserver.lua) and their HTTP servers
#   seed_config [LINE...]  $tmp/lvs.cf: the seed's lvs.cf with sub-second timers, a heartbeat key, and each LINE
#                          (KEEPALIVE, DEADTIME and RS204_WEIGHT in the environment change those)
#   seed_start NS [ARGS]   the policy $SEED_POLICY (policies/piranha.lua) in NS, with $SEED_ARGS and ARGS;
#                          its pid in pid_NS (also its process group: the daemon's
#                          two parts), its log in $tmp/NS.log, control socket $tmp/NS.sock
#   seed_pair              r1 started, active (it holds the VIP), then r2 started and passive: on a busy machine the
#                          start of a daemon in UML may take longer than deadtime, so they are not started at once
#   seed_kill NS           SIGSTOP of both parts, the router's link cut, SIGKILL: the router is dead (seed_revive
#                          undoes the link); $killed_at, when the cut was done
#   seed_has_vip NS        NS holds the VIP
#   seed_neigh_is NS       the client's neighbour entry for the VIP has NS's MAC
#   seed_get               one request through the VIP from the client: the real server's name
#   seed_measured SECS CMD...  CMD (a kill, a stop) while the client asks every 10 ms for SECS seconds:
#                          $took, from CMD to the first good reply after it (empty: none), and $fails
#   until_ok CMD...        retry CMD every 0.05 s for at most 10 s
#   fail WHY               "FAIL NAME: WHY" with the routers' logs, exit 1
# The caller sets $name, $tmp and LUAHA (default ./luaha) and calls seed_cleanup at exit.

LUAHA=${LUAHA:-./luaha}
SEED_POLICY=${SEED_POLICY:-policies/piranha.lua}
seed_ns=(client r1 r2 rs1 rs2)
VIP=192.0.2.212

fail()
{
	echo "FAIL $name: $*"
	local ns
	local pid
	for ns in r1 r2; do
		eval "pid=\${pid_$ns:-}"
		[ -n "$pid" ] && [ -e "/proc/$pid" ] &&
			echo "  | --- $ns: pid $pid state $(cut -d' ' -f3 "/proc/$pid/stat") wchan $(cat "/proc/$pid/wchan")"
		echo "  | --- $ns: ipvsadm -Ln"
		ip netns exec $ns ipvsadm -Ln 2>&1 | sed 's/^/  | /'
		echo "  | --- $ns: log"
		tail -40 "$tmp/$ns.log" 2> /dev/null | sed 's/^/  | /'
	done
	exit 1
}

seed_cleanup()
{
	local ns
	disown -a				# their deaths are expected: no "Killed" lines
	for ns in "${seed_ns[@]}" mallory; do
		ip netns pids "$ns" 2> /dev/null | xargs -r kill -9 2> /dev/null
		ip netns del "$ns" 2> /dev/null
	done
	ip link del br0 2> /dev/null
	rm -rf "$tmp"
}

until_ok()
{
	local i
	for i in $(seq 200); do "$@" && return 0; sleep 0.05; done
	return 1
}

# seed_node NS ADDR: NS on the bridge with eth0 at ADDR/24.
seed_node()
{
	# A veth end of an earlier scenario's namespace of that name can outlive it for a while (the kernel
	# cleans a namespace up later, after its last user): in UML, where names are not unique, it goes first.
	ip link del "v-$1" 2> /dev/null
	ip netns add "$1" && ip -n "$1" link set lo up &&
		ip link add name "v-$1" type veth peer name eth0 netns "$1" &&
		ip link set "v-$1" master br0 && ip link set "v-$1" up && ip -n "$1" link set eth0 up &&
		ip -n "$1" addr add "$2/24" dev eth0 || fail "namespace $1"
}

seed_setup()
{
	ip link add name br0 type bridge && ip link set br0 up || fail "bridge"
	seed_node client 192.0.2.10
	seed_node r1 192.0.2.210
	seed_node r2 192.0.2.211
	seed_node rs1 192.0.2.204
	seed_node rs2 192.0.2.205
	# The client learns the VIP's owner from gratuitous ARP even before it asked (arp_accept).
	ip netns exec client sysctl -qw net.ipv4.conf.all.arp_accept=1 net.ipv4.conf.eth0.arp_accept=1 ||
		fail "arp_accept"
	local rs
	for rs in rs1 rs2; do
		ip netns exec $rs "$LUAHA" policies/realserver.lua --mode dr --vip $VIP \
			--state "$tmp/$rs.state" > "$tmp/$rs-setup.log" 2>&1 || fail "realserver.lua on $rs: $(cat "$tmp/$rs-setup.log")"
		ip netns exec $rs "$LUAHA" tests/lib/http-name.lua $rs > "$tmp/$rs-http.log" 2>&1 &
	done
	head -c 32 /dev/urandom > "$tmp/heartbeat.key"
}

# The seed's lvs.cf is tests/lua/data/seed.cf, the one fixture of the Lua tests too: here with sub-second
# timers, checks every 0.5 s (an answer may take 3 s on a busy machine), a heartbeat key, quick gratuitous ARPs,
# and the caller's lines before the virtual block.
seed_config()
{
	local extra
	extra=$(printf '%s\n' "heartbeat_key = $tmp/heartbeat.key" "garp_interval = 0.1" "$@")
	awk -v keepalive="${KEEPALIVE:-0.1}" -v deadtime="${DEADTIME:-0.5}" -v w204="${RS204_WEIGHT:-1}" -v extra="$extra" '
		/^keepalive = / { $0 = "keepalive = " keepalive }
		/^deadtime = / { $0 = "deadtime = " deadtime }
		/^(monitor_links|syncdaemon) = / { next }	# the caller sets them, once
		/^virtual web \{/ { print extra }
		/^     timeout = / { $0 = "     timeout = 3\n     check_interval = 0.5" }
		/^     reentry = / { $0 = "     reentry = 1" }
		/server rs204/ { rs204 = 1 }
		rs204 && /weight = / { $0 = "         weight = " w204; rs204 = 0 }
		{ print }' tests/lua/data/seed.cf > "$tmp/lvs.cf" || fail "seed_config"
}

# A daemon runs in a process group of its own (setsid does not fork in a job of a non-interactive shell):
# its heartbeat part, a child, is in it too, so that a signal to the group reaches both parts.
seed_start()
{
	local ns=$1
	shift
	# shellcheck disable=SC2086 # SEED_ARGS are words
	setsid ip netns exec "$ns" "$LUAHA" --ctl "$tmp/$ns.sock" "$SEED_POLICY" ${SEED_ARGS:-} -c "$tmp/lvs.cf" --foreground "$@" \
		>> "$tmp/$ns.log" 2>&1 &
	eval "pid_$ns=$!"
}

seed_pair()
{
	seed_start r1
	until_ok seed_has_vip r1 || fail "r1 did not become active"
	seed_start r2
	until_ok grep -q "partner active: staying passive" "$tmp/r2.log" || fail "r2 did not see r1 active"
}

seed_kill()
{
	local pid
	eval "pid=\$pid_$1"
	kill -STOP -- "-$pid"
	echo 0x1002 > "/sys/class/net/v-$1/flags"	# IFF_UP cleared, without a fork
	killed_at=$EPOCHREALTIME			# the write waits for the kernel's lock: now it is cut off
	kill -KILL -- "-$pid"
	wait "$pid" 2> /dev/null
}

seed_revive()
{
	ip link set "v-$1" up
}

seed_has_vip()
{
	ip -n "$1" -o -4 addr show dev eth0 | grep -q " $VIP/"
}

seed_mac()
{
	ip -n "$1" -o link show dev eth0 | sed -n 's|.*link/ether \([0-9a-f:]*\) .*|\1|p'
}

seed_neigh_is()
{
	ip -n client neigh show $VIP dev eth0 | grep -q "lladdr $(seed_mac "$1")"
}

seed_get()
{
	ip netns exec client "$LUAHA" tests/lib/http-probe.lua get $VIP
}

seed_measured()
{
	local secs=$1 watch t0
	shift
	ip netns exec client "$LUAHA" tests/lib/http-probe.lua watch $VIP "$secs" > "$tmp/watch" 2>&1 &
	watch=$!
	sleep 0.5
	t0=$EPOCHREALTIME killed_at=
	"$@"
	[ -n "$killed_at" ] && t0=$killed_at
	wait $watch
	took=$(awk -v t0="$t0" '$1 > t0 + 0.001 && $2 == "OK" { printf "%.3f", $1 - t0; exit }' "$tmp/watch")
	fails=$(awk -v t0="$t0" '$1 > t0 && $2 == "FAIL"' "$tmp/watch" | wc -l)
}
