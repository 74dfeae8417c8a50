# tests/lib/chaos-faults.bash: the chaos suite's faults, one function each, each ending in chaos_settled; sourced by chaos.bash.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# fault_NAME LABEL ARGS...: LABEL names the fault in the events and the verdict (unique in a run); a WHO is r1, r2,
# active or passive (tests/lib/chaos.bash, victim).


# fault_kill NAME WHO: the router's machine dies (both parts frozen, its link cut, killed), then comes back
# with no VIP (a reboot) and the daemon restarts: it finds the partner active and stays passive.
fault_kill()
{
	local v
	v=$(victim "$2")
	ev begin "$1" takeover "$v"
	ev dead "$v"
	seed_kill "$v"
	for ((i = 0; i < 100; i++)); do holds "$(other "$v")" && break; nap 0.1; done
	nap 0.5
	ip -n "$v" addr del $VIP/24 dev eth0 2> /dev/null
	seed_revive "$v"
	ev alive "$v"
	ev heal "$1"
	mark "$v"
	seed_start "$v"
	wait_log "$v" "partner active: staying passive" 30 || chaos_fail "$1" "the restarted $v did not find $(other "$v") active"
	chaos_settled "$1"
}

# fault_stop NAME WHO SECS: both parts of the router stopped for SECS, then continued. An active victim
# is a split brain (the partner takes over; at SIGCONT the backup stands down); a passive one changes nothing.
fault_stop()
{
	local v kind=steady pid
	v=$(victim "$2")
	[ "$v" = "$(victim active)" ] && kind=split
	eval "pid=\$pid_$v"
	ev begin "$1" $kind "$v"
	kill -STOP -- "-$pid"
	nap "$3"
	kill -CONT -- "-$pid"
	ev heal "$1"
	chaos_settled "$1"
}

# fault_stop_work NAME WHO SECS: the work part alone stopped (less than the 10 s after which it is late): no failover.
fault_stop_work()
{
	local v pid
	v=$(victim "$2")
	eval "pid=\$pid_$v"
	ev begin "$1" steady "$v"
	kill -STOP "$pid"
	nap "$3"
	kill -CONT "$pid"
	ev heal "$1"
	chaos_settled "$1"
}

# fault_link NAME WHO SECS: the router's cable pulled (its eth0 loses its carrier) for SECS. monitor_links:
# an active victim stands down and the partner takes over; back, it stays passive. A passive one changes nothing.
fault_link()
{
	local v kind=steady
	v=$(victim "$2")
	[ "$v" = "$(victim active)" ] && kind=takeover
	ev begin "$1" $kind "$v"
	mark "$v"
	ip link set "v-$v" down
	ev cut "$1"
	nap "$3"
	ip link set "v-$v" up
	ev heal "$1"
	wait_log "$v" "Local NIC link\\(s\\) restored" 30 || chaos_fail "$1" "$v did not see its link back"
	chaos_settled "$1"
}

# hb_tc WHERE OBJECT COMMAND ARGS...: tc OBJECT COMMAND dev DEV ARGS..., DEV r1's eth0 (WHERE out: the heartbeats r1
# sends) or r1's port on the bridge (in: those it receives).
hb_tc()
{
	local where=$1 obj=$2 cmd=$3
	shift 3
	if [ "$where" = out ]; then tc -n r1 "$obj" "$cmd" dev eth0 "$@"; else tc "$obj" "$cmd" dev v-r1 "$@"; fi
}

# hb_netem WHERE NETEM...: the heartbeats (UDP port 539) through netem NETEM, in a band of a prio qdisc of their
# own; nothing else is touched. WHERE: out, in or both. hb_clear WHERE undoes it.
hb_netem()
{
	local where=$1 w dev
	shift
	[ "$where" = both ] && where="out in"
	for w in $where; do
		dev=v-r1
		[ $w = out ] && dev=eth0
		# One tc for the three commands: a fork takes up to a second in a busy UML.
		printf '%s\n' "qdisc add dev $dev root handle 1: prio bands 4" \
			"qdisc add dev $dev parent 1:4 handle 40: netem $*" \
			"filter add dev $dev parent 1: protocol ip prio 1 u32 match ip protocol 17 0xff match ip dport $HB_PORT 0xffff flowid 1:4" \
			> "$tmp/tc.batch"
		if [ $w = out ]; then tc -n r1 -batch "$tmp/tc.batch"; else tc -batch "$tmp/tc.batch"; fi ||
			fail "netem $* on the heartbeats $w"
	done
}

hb_clear()
{
	local where=$1 w
	[ "$where" = both ] && where="out in"
	for w in $where; do hb_tc $w qdisc del root || fail "tc qdisc del ($w)"; done
}

# fault_netem NAME WHERE SECS NETEM...: the heartbeats through netem for SECS (loss up to 30 %, delay under
# deadtime, duplication, reordering): the link still delivers a heartbeat per deadtime: no failover.
fault_netem()
{
	local f=$1 where=$2 secs=$3 kind=steady gap=""
	shift 3
	# Only a lossy link may excuse a failover, by the longest gap the routers heard.
	[[ " $* " = *" loss "* ]] && kind=steady-lossy gap=gap
	[ -n "$gap" ] && reset_gaps
	ev begin "$f" $kind
	hb_netem "$where" "$@"
	ev cut "$f"
	nap "$secs"
	hb_clear "$where"
	ev heal "$f"
	nap 1
	chaos_settled "$f" $gap
}

# fault_partition NAME WHERE SECS: every heartbeat lost, both ways (WHERE both: a split brain, the primary wins at
# the heal) or one way (out: r2 does not hear r1; in: r1 does not hear r2).
fault_partition()
{
	local kind=oneway
	[ "$2" = both ] && kind=split
	ev begin "$1" $kind "$(victim passive)"
	hb_netem "$2" loss 100%
	ev cut "$1"
	nap "$3"
	hb_clear "$2"
	ev heal "$1"
	nap 1
	chaos_settled "$1"
}

# fault_flood NAME SECS RATE: mallory floods the active router's heartbeat port at RATE datagrams a second, from
# four processes (a system call costs tens of microseconds in UML: one process may not reach the rate).
fault_flood()
{
	local a i pids=()
	a=$(victim active)
	ev begin "$1" steady "$a"
	for i in 1 2 3 4; do
		ip netns exec mallory "$LUAHA" tests/chaos/flood.lua udp "$(ns_addr "$a")" $HB_PORT $(($3 / 4)) "$2" > "$dir/$1.flood$i" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	ev heal "$1"
	echo "$1: $(awk '/^sent/ { n += $2; s = $4 > s ? $4 : s } END { printf "%d datagrams in %.1f s: %.0f/s", n, s, n / s }' "$dir/$1".flood?)"
	chaos_settled "$1"
}

# fault_passwd NAME SECS CONNS: mallory asks the active router's status page with wrong passwords, CONNS at once.
fault_passwd()
{
	local a
	a=$(victim active)
	ev begin "$1" steady "$a"
	ip netns exec mallory "$LUAHA" tests/chaos/flood.lua passwd "$(ns_addr "$a")" 3636 admin "$3" "$2" > "$dir/$1.flood" 2>&1
	ev heal "$1"
	echo "$1: $(cat "$dir/$1.flood")"
	chaos_settled "$1"
}

ns_addr()
{
	[ "$1" = r1 ] && echo 192.0.2.210 || echo 192.0.2.211
}

# chaos_big_config N: $tmp/big.cf, the seed's lvs.cf and N more services on VIP ports 10001..: rs204 and rs205 each
# (rs205 inactive in every 7th), answered by real servers listening on those ports: 2 N real servers.
chaos_big_config()
{
	awk -v n="$1" -v vip=$VIP '
		{ print }
		END { for (i = 1; i <= n; i++) {
			printf "virtual big%d {\n active = 1\n address = %s eth0:1\n vip_nmask = 255.255.255.0\n port = %d\n", i, vip, 10000 + i
			printf " scheduler = wrr\n protocol = tcp\n timeout = 2\n check_interval = 5\n reentry = 1\n weight_ramp = 0\n"
			printf " server a%d {\n  address = 192.0.2.204\n  active = 1\n  weight = 1\n }\n", i
			printf " server b%d {\n  address = 192.0.2.205\n  active = %d\n  weight = 1\n }\n}\n", i, i % 7 ? 1 : 0
		} }' "$tmp/small.cf" > "$tmp/big.cf"
}

# fault_reload NAME N: both routers reload a configuration of 2 N more real servers (SIGHUP), then the seed's again.
fault_reload()
{
	local ns t0 rs i
	chaos_big_config "$2"
	for rs in rs1 rs2; do
		: > "$tmp/$rs-big.log"
		ip netns exec $rs "$LUAHA" tests/lib/http-name.lua $rs 10001 "$2" >> "$tmp/$rs-big.log" 2>&1 &
		eval "pid_big_$rs=$!"
	done
	# The first checks run at once: the real servers listen before the reload.
	local l1 l2
	for ((i = 0; i < 300; i++)); do
		read -r l1 < "$tmp/rs1-big.log"
		read -r l2 < "$tmp/rs2-big.log"
		[ "$l1$l2" = listeninglistening ] && break
		nap 0.1
	done
	# How long the work parts' loops are held by the reload: a timer every 20 ms notes its longest lateness.
	for ns in r1 r2; do
		attach $ns 'router.chaos_held = 0; local last = luaha.now()
			router.chaos_timer = luaha.every(0.02, function() local now = luaha.now()
				router.chaos_held = math.max(router.chaos_held, now - last - 0.02) last = now end)' > /dev/null
	done
	ev begin "$1" steady
	t0=$EPOCHREALTIME
	cp "$tmp/big.cf" "$tmp/lvs.cf"
	kill -HUP "$pid_r1" "$pid_r2"
	expect_table "$2"
	for ((i = 0; i < 240; i++)); do quiet && break; nap 0.5; done
	quiet || chaos_fail "$1" "the large configuration's table was not there within 120 s: $why"
	echo "$1: $((2 * $2 + 2)) real servers: reload to the table in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s (quiet point checks included)"
	cp "$tmp/small.cf" "$tmp/lvs.cf"
	kill -HUP "$pid_r1" "$pid_r2"
	expect_table 0
	for ((i = 0; i < 120; i++)); do quiet && break; nap 0.5; done
	kill "$pid_big_rs1" "$pid_big_rs2"
	ev heal "$1"
	for ns in r1 r2; do
		echo "$1: $ns's work part: its loop held up to $(attach $ns 'router.chaos_timer:cancel() return ("%.3f"):format(router.chaos_held)' | tr -d '"') s"
	done
	chaos_settled "$1"
}

# fault_busy NAME SECS: two busy loops for SECS.
fault_busy()
{
	ev begin "$1" steady
	sh -c 'while :; do :; done' &
	chaos_busy+=($!)
	sh -c 'while :; do :; done' &
	chaos_busy+=($!)
	nap "$2"
	kill -9 "${chaos_busy[@]}"
	wait "${chaos_busy[@]}" 2> /dev/null
	chaos_busy=()
	ev heal "$1"
	chaos_settled "$1"
}

# fault_term NAME: the active router stops (SIGTERM: it hands over), then starts again, passive.
fault_term()
{
	local v pid
	v=$(victim active)
	eval "pid=\$pid_$v"
	ev begin "$1" handover "$v"
	kill -TERM "$pid"
	wait "$pid"
	ev heal "$1"
	mark "$v"
	seed_start "$v"
	wait_log "$v" "partner active: staying passive" 30 || chaos_fail "$1" "the restarted $v did not find $(other "$v") active"
	chaos_settled "$1"
}

# fault_failover NAME: `luaha ctl failover` on the active router.
fault_failover()
{
	local v
	v=$(victim active)
	ev begin "$1" handover "$v"
	timeout 30 "$LUAHA" ctl "$tmp/$v.sock" failover > "$dir/$1.ctl" 2>&1 || echo "$1: ctl failover: $(cat "$dir/$1.ctl")"
	ev heal "$1"
	chaos_settled "$1"
}

# fault_rs_down NAME SECS: rs2's HTTP server stops for SECS: the active router's table loses rs205 (a quiet
# point is checked meanwhile), then has it again.
fault_rs_down()
{
	local i
	ev begin "$1" steady
	ip netns pids rs2 | xargs -r kill
	expect_table 0 192.0.2.205
	for ((i = 0; i < 60; i++)); do quiet && break; nap 0.5; done
	quiet || chaos_fail "$1" "rs205 was not taken out of the table within 30 s: $why"
	nap "$2"
	ip netns exec rs2 "$LUAHA" tests/lib/http-name.lua rs2 > "$tmp/rs2-http.log" 2>&1 &
	expect_table 0
	ev heal "$1"
	chaos_settled "$1"
}
