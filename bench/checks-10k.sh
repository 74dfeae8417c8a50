#!/bin/bash
# bench/checks-10k.sh: on the host as root, no UML: 10 000 real servers checked every second, connect checks in < 15% of one core, half-open in < 10%?
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Two kinds of check, each in every set-up: `connect` (nanny's: a TCP connection, closed at once)
# and `half-open` (lvs.cf's half_open = 1: a SYN on a shared raw socket, the SYN-ACK answered with
# a reset, no connection made), each with its own target: connect < 15% of one core, half-open < 10%;
# the benchmark passes when every kind run meets its own.
#
# Checking needs no IPVS, so this runs in network namespaces of the host (its real CPUs, not UML's
# one slow CPU). The real servers are 198.51.100.1-40, ports 20001-20250 (40 x 250 = 10 000), answered
# by luaha listeners (bench/check-listener.lua, LISTENERS processes sharing the ports, which count the
# connections they accept). The checks/s achieved are the checks that passed, by the checker's
# own count (a half-open check makes no connection a listener could count). The checker is
# bench/check-luaha.lua: one nanny monitor per real server, checked through nanny.start_probe
# (as policies/piranha.lua checks them; timeout 1 s, every second), which
# reads its own utime and stime in /proc/self/stat over SECS seconds, after a 2 s start, with the
# garbage collector set as policies/piranha.lua sets it.
#
# Two set-ups, the first one decides:
#   veth      the checker and the real servers in two namespaces joined by a veth pair whose receive
#             side runs in NAPI threads (GRO on, TSO off, /sys/class/net/*/threaded), as a NIC's
#             interrupts and softirqs would: the checker pays for its system calls and what it sends.
#   loopback  everything in one namespace: each connect and close also runs the real server's half
#             of the TCP handshake in the checker's system call (loopback delivers in the sender's
#             context), an upper bound.
# Environment: N (10000), SECS (30), LISTENERS (2), LUAHA (./luaha), MODES ("veth loopback"),
# KINDS ("connect half-open"), LUAHA_GC
# (a line of Lua setting the garbage collector instead of the policy's, e.g. 'collectgarbage("incremental", 100)').
# Needs: root, iproute2, tc, python3 (the veth GRO/TSO switches, as ethtool would set them).
# Run: sudo bench/checks-10k.sh
cd "$(dirname "$0")/.." || exit 2
N=${N:-10000} SECS=${SECS:-30} LISTENERS=${LISTENERS:-2} LUAHA=${LUAHA:-./luaha} MODES=${MODES:-veth loopback}
KINDS=${KINDS:-connect half-open}
NPORTS=250 FIRST=20001
[ "$(id -u)" = 0 ] || { echo "SKIP checks-10k: needs root (network namespaces)"; exit 0; }
[ -x "$LUAHA" ] || { echo "checks-10k: $LUAHA not built (make luaha)" >&2; exit 2; }
tmp=$(mktemp -d) || exit 2
c=luaha-10k-c-$$ s=luaha-10k-s-$$
pids=()
teardown()
{
	local p
	for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2> /dev/null; done
	pids=()
	ip netns del "$c" 2> /dev/null
	ip netns del "$s" 2> /dev/null
}
trap 'teardown; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# Each check holds a socket until its connect ends: 10 000 at once at every round.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 1000)) ]; then
	echo "checks-10k: the descriptor limit $(ulimit -n) is below $((N + 1000))" >&2
	exit 2
fi

# gro_on NS DEV: GRO on and TSO off (SIOCETHTOOL), so that veth hands TCP to its NAPI poll.
gro_on()
{
	ip netns exec "$1" python3 -c '
import ctypes, fcntl, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for cmd, value in ((0x2c, 1), (0x1f, 0)):      # ETHTOOL_SGRO 1, ETHTOOL_STSO 0
    v = ctypes.create_string_buffer(struct.pack("II", cmd, value))
    fcntl.ioctl(s.fileno(), 0x8946, struct.pack("16sQ", sys.argv[1].encode(), ctypes.addressof(v)) + bytes(16))
' "$2"
}

# topology MODE: the namespaces, the real servers' addresses, the listeners; sets $servers_ns, $counts.
topology()
{
	local naddr l first n per
	ip netns add "$c" && ip -n "$c" link set lo up || return 1
	naddr=$(((N + NPORTS - 1) / NPORTS))
	if [ "$1" = veth ]; then
		ip netns add "$s" && ip -n "$s" link set lo up || return 1
		ip -n "$c" link add name ck0 type veth peer name rs0 netns "$s" || return 1
		gro_on "$c" ck0 && gro_on "$s" rs0 || return 1
		ip -n "$c" link set ck0 up && ip -n "$s" link set rs0 up || return 1
		ip netns exec "$c" sh -c 'echo 1 > /sys/class/net/ck0/threaded' &&
		    ip netns exec "$s" sh -c 'echo 1 > /sys/class/net/rs0/threaded' || return 1
		# A queue in front of each end: veth drops what its 256-packet ring cannot take, and
		# every second 10 000 SYNs leave at once.
		tc -n "$c" qdisc replace dev ck0 root pfifo limit $((4 * N)) &&
		    tc -n "$s" qdisc replace dev rs0 root pfifo limit $((4 * N)) || return 1
		ip -n "$c" addr add 192.0.2.1/24 dev ck0 && ip -n "$c" route add 198.51.100.0/24 dev ck0 &&
		    ip -n "$s" route add 192.0.2.0/24 dev rs0 || return 1
		for i in $(seq 1 "$naddr"); do echo "address add 198.51.100.$i/32 dev rs0"; done | ip -n "$s" -batch - || return 1
		servers_ns=$s
	else
		ip -n "$c" link add name rs0 type veth peer name rs1 && ip -n "$c" link set rs0 up &&
		    ip -n "$c" link set rs1 up || return 1
		for i in $(seq 1 "$naddr"); do echo "address add 198.51.100.$i/32 dev rs0"; done | ip -n "$c" -batch - || return 1
		servers_ns=$c
	fi
	per=$(((NPORTS + LISTENERS - 1) / LISTENERS)) counts=""
	for l in $(seq 0 $((LISTENERS - 1))); do
		first=$((FIRST + l * per)) n=$per
		[ $((first + n)) -gt $((FIRST + NPORTS)) ] && n=$((FIRST + NPORTS - first))
		rm -f "$tmp/count$l"
		ip netns exec "$servers_ns" "$LUAHA" bench/check-listener.lua $first $n "$tmp/count$l" > "$tmp/listener$l.log" 2>&1 &
		pids+=($!)
		counts=${counts:+$counts,}$tmp/count$l
	done
	for _ in $(seq 1 50); do		# until every listener wrote its first count (at most 5 s)
		ready=0
		for l in $(seq 0 $((LISTENERS - 1))); do [ -s "$tmp/count$l" ] && ready=$((ready + 1)); done
		[ $ready = "$LISTENERS" ] && return 0
		sleep 0.1
	done
	echo "checks-10k: the listeners did not start:" >&2
	cat "$tmp"/listener*.log >&2
	return 1
}

cpu_of() { local t=0 p; for p in "$@"; do set -- $(sed 's/^.*) //' /proc/$p/stat); t=$((t + ${12} + ${13})); done; echo $t; }

# The garbage collector's settings of policies/piranha.lua (its top-level collectgarbage line, if any).
gc=${LUAHA_GC-$(grep -m1 '^collectgarbage(' policies/piranha.lua)}
echo "luaha's garbage collector: ${gc:-the defaults of Lua}"
failed= verdicts=()
for kind in $KINDS; do
for mode in $MODES; do
	topology "$mode" || { echo "FAIL checks-10k: the $mode set-up failed"; exit 1; }
	# The veth pair's NAPI threads: the receive work a NIC's softirqs would do, shown, not counted.
	napi=$(pgrep -d' ' '^napi/(ck0|rs0)-' 2> /dev/null)
	l0=$(cpu_of "${pids[@]}") n0=$(cpu_of $napi)
	half_open=0 target=0.15
	[ "$kind" = half-open ] && half_open=1 target=0.10
	result=$(HALF_OPEN=$half_open ip netns exec "$c" "$LUAHA" ${gc:+-e "$gc"} bench/check-luaha.lua $N $SECS $FIRST $NPORTS \
	    "$counts" 2> "$tmp/checker.log")
	lcpu=$(( $(cpu_of "${pids[@]}") - l0 )) ncpu=$(( $(cpu_of $napi) - n0 ))
	teardown
	set -- $result
	[ $# -ge 9 ] || { echo "FAIL checks-10k: the checker printed '$result'"; tail -5 "$tmp/checker.log"; exit 1; }
	if grep -q -i -e traceback -e ' err: ' -e 'failed checks' "$tmp/checker.log" "$tmp"/listener*.log; then
		echo "checks-10k: errors and failed checks in the logs:"
		grep -h -i -e traceback -e ' err: ' -e 'failed checks' "$tmp/checker.log" "$tmp"/listener*.log | head -5
	fi
	line=$(awk -v kind="$kind" -v mode="$mode" -v n=$N -v cpu=$1 -v wall=$2 -v conns=$3 -v rss=$4 -v hwm=$5 -v down=$6 \
	    -v user=$7 -v sys=$8 -v checks=$9 -v heap=${10:-0} -v lcpu=$lcpu -v ncpu=$ncpu -v listeners=$LISTENERS -v target=$target 'BEGIN {
		printf "%-9s %-8s %d real servers: luaha checker %.1f%% of one core (user %.1f%% + system %.1f%%), %.0f checks/s passed,",
			kind, mode, n, cpu / wall * 100, user / wall * 100, sys / wall * 100, checks / wall
		printf " %.1f us CPU per check, RSS %.1f MiB (peak %.1f MiB), Lua heap %d bytes per server, %d servers failing;",
			checks ? cpu / checks * 1e6 : 0, rss / 1024, hwm / 1024, heap, down
		printf " %d listeners %.1f%%, %.0f connections/s", listeners, lcpu / 100 / wall * 100, conns / wall
		if (mode == "veth") printf ", NAPI threads %.1f%%", ncpu / 100 / wall * 100
		printf "\n"
		ok = cpu / wall < target && checks / wall >= 0.9 * n && down == 0
		exit !ok }')
	ok=$?
	echo "$line"
	# The first set-up (veth) decides for each kind.
	if [ "$mode" = "${MODES%% *}" ]; then
		[ "$ok" = 0 ] || failed="$failed $kind"
		verdicts+=("$kind $(awk -v cpu=$1 -v wall=$2 -v checks=$9 -v ok=$ok -v target=$target 'BEGIN {
			printf "%.1f%% of one core for %.0f checks/s, %.2fx the target of %d%% (%s)", cpu / wall * 100, checks / wall,
				cpu / wall / target, target * 100, ok ? "not met" : "met" }')")
	fi
done
done
summary="$(IFS=';'; echo "${verdicts[*]}" | sed 's/;/; /g') (${MODES%% *}; $N real servers checked every second)"
if [ -z "$failed" ]; then
	echo "PASS checks-10k: $summary"
else
	echo "FAIL checks-10k: $summary"
	exit 1
fi
