# tests/lib/chaos.bash: the chaos suite in UML: the seed pair watched, faults as functions, each judged; sourced after seed.bash.
#
# The seed topology (tests/lib/seed.bash) with monitor_links and the status listener (user admin,
# password s3cret), a third namespace "mallory" (192.0.2.66) for the floods, an observer in r1 and
# r2 (tests/chaos/observe.lua at real-time priority: VIP add/del and the machine's stalls) and the
# client asking through the VIP every 10 ms (tests/chaos/client.lua). Every line goes to $dir
# (events, r1.vip, r2.vip, client; tests/chaos/judge.lua says what they hold).
#   chaos_setup            all of the above started, the pair settled (r1 active)
#   fault_* ...            one fault each, then settled and judged: "PASS chaos-NAME: figures" or FAIL
#   chaos_end              the routers' logs have no traceback; a summary of the figures
# A fault: ev begin NAME KIND [VICTIM]; the fault; ev heal NAME; chaos_settled NAME, which waits
# (bounded) for a quiet point (one router holds the VIP, its IPVS table is the configuration's
# healthy servers, the other's is empty, every process alive), writes ev end and runs the judge.
# Faults are named by the caller (NAME, unique in a run). A victim is r1, r2, active or passive.
# The caller sets $name, $tmp, LUAHA and calls chaos_cleanup at exit.

KEEPALIVE=${KEEPALIVE:-0.1} DEADTIME=${DEADTIME:-0.5}
dir=$tmp/chaos
chaos_failed=0
chaos_busy=()
HB_PORT=539
# Argon2id of "s3cret" (hashing it in UML takes seconds).
PASSWD_HASH='$argon2id$v=19$m=65536,t=2,p=1$0ndLYnON898j0bQQWfEsGA$Boba8FzGKQPBQiGIUUsGbtn0Wghd9PHHR0Zh5jcCE0E'

# ev WORDS...: a line in the events file, stamped now (no fork).
ev()
{
	echo "$EPOCHREALTIME $*" >> "$dir/events"
}

# nap SECS: sleep without a fork (a fork costs 50-140 ms in UML), a read with a timeout on a FIFO nobody writes.
nap()
{
	read -r -t "$1" -u "$nap_fd"
}

chaos_cleanup()
{
	local p
	for p in "${chaos_busy[@]}"; do kill -9 "$p" 2> /dev/null; done
	if [ -n "${UML_OUT:-}" ] && [ -d "$dir" ]; then
		mkdir -p "$UML_OUT/$name" && cp "$dir"/* "$tmp"/*.log "$tmp"/*.cf "$UML_OUT/$name/" 2> /dev/null
	fi
	seed_cleanup
}

# other NS: the other router.
other()
{
	[ "$1" = r1 ] && echo r2 || echo r1
}

# mark NS: remember how long NS's log is; wait_log NS REGEX SECS: until a line after the mark matches (no fork).
mark()
{
	local -a l
	mapfile -t l < "$tmp/$1.log"
	eval "mark_$1=${#l[@]}"
}

wait_log()
{
	local -a l
	local i line m
	eval "m=\${mark_$1:-0}"
	for ((i = 0; i < $3 * 5; i++)); do
		mapfile -t -s "$m" l < "$tmp/$1.log"
		for line in "${l[@]}"; do [[ $line =~ $2 ]] && return 0; done
		nap 0.2
	done
	return 1
}

# holds NS: NS holds the VIP, as its observer saw last (no fork: a fork takes 0.1 to 1 s in UML).
holds()
{
	local -a l
	local i w
	mapfile -t l < "$dir/$1.vip"
	for ((i = ${#l[@]} - 1; i >= 0; i--)); do
		read -r -a w <<< "${l[i]}"
		case ${w[1]} in
		add)	return 0;;
		del)	return 1;;
		init|resync) [ "${w[2]}" = has ]; return;;
		esac
	done
	return 1
}

# victim WHO: r1, r2, or the router that is active or passive now.
victim()
{
	case $1 in
	r1|r2)	echo "$1";;
	active)	holds r1 && echo r1 || echo r2;;
	passive) holds r1 && echo r2 || echo r1;;
	esac
}

# table NS: NS's IPVS table as sorted "SERVICE DEST FORWARD WEIGHT" lines (a service without real servers: "SERVICE -").
table()
{
	ip netns exec "$1" ipvsadm -Ln | awk '
		/^(TCP|UDP|FWM) / { if (svc != "" && !n) print svc, "-"; svc = $1 " " $2 " " $3; n = 0; next }
		/->/ && svc != "" { print svc, $2, $3, $4; n++ }
		END { if (svc != "" && !n) print svc, "-" }' | sort
}

# expect_table SERVICES [DOWN]: $dir/expected, the table an active router must have: the web service with
# rs204 and rs205 (not DOWN), and SERVICES more from chaos_big_config.
expect_table()
{
	awk -v n="$1" -v down="${2:-}" -v vip=$VIP 'BEGIN {
		for (i = 0; i <= n; i++) {
			port = i ? 10000 + i : 80
			svc = "TCP " vip ":" port " wrr"
			if (down != "192.0.2.204") print svc, "192.0.2.204:" port, "Route", 1
			if (down != "192.0.2.205" && (i == 0 || i % 7)) print svc, "192.0.2.205:" port, "Route", 1
		}
	}' | sort > "$dir/expected"
}

# quiet: one router holds the VIP, its table is $dir/expected, the other's is empty, every process runs.
quiet()
{
	local a=r1 p
	for p in "$pid_r1" "$pid_r2" "$pid_obs_r1" "$pid_obs_r2" "$pid_client"; do
		kill -0 "$p" 2> /dev/null || { why="process $p is gone"; return 1; }
	done
	holds r2 && a=r2
	holds "$(other "$a")" && { why="both hold the VIP"; return 1; }
	holds "$a" || { why="nobody holds the VIP"; return 1; }
	table "$a" > "$dir/table"
	cmp -s "$dir/expected" "$dir/table" || { why="$a's table is not the configuration's healthy servers: $(diff "$dir/expected" "$dir/table" | head -5 | paste -sd' ')"; return 1; }
	ip netns exec "$(other "$a")" ipvsadm -Ln | grep -q "^TCP" && { why="the passive $(other "$a")'s table has services"; return 1; }
	return 0
}

# chaos_settled NAME [gap]: wait (30 s at most) for a quiet point, write the end event (with the longest
# heartbeat gap the routers heard, given "gap"), judge. A fault that failed is counted, the run goes on.
chaos_settled()
{
	local fault=$1 i extra="" out
	why=""
	for ((i = 0; i < 60; i++)); do quiet && break; nap 0.5; done
	if [ -n "$why" ] && ! quiet; then
		ev end "$fault"
		chaos_fail "$fault" "no quiet point within 30 s: $why"
		return 1
	fi
	[ "${2:-}" = gap ] && extra="gap=$(max_gap)"
	ev end "$fault" $extra
	out=$("$LUAHA" tests/chaos/judge.lua "$dir" "$fault" 2>&1)
	echo "$out"
	echo "$out" >> "$dir/results"
	grep -q '^PASS' <<< "$out" || { chaos_failed=$((chaos_failed + 1)); chaos_dump; return 1; }
	return 0
}

# chaos_fail NAME WHY: a fault failed; the run goes on.
chaos_fail()
{
	echo "FAIL chaos-$1: $2"
	echo "FAIL chaos-$1: $2" >> "$dir/results"
	chaos_failed=$((chaos_failed + 1))
	chaos_dump
}

# chaos_dump: the last lines of the logs, for a failure.
chaos_dump()
{
	local f
	for f in events r1.vip r2.vip; do
		echo "  | --- $f"
		tail -n 15 "$dir/$f" | sed 's/^/  | /'
	done
	for f in r1 r2; do
		echo "  | --- $f.log"
		tail -n 25 "$tmp/$f.log" | sed 's/^/  | /'
	done
}

# attach NS CODE: CODE run in NS's work part, 10 s at most.
attach()
{
	timeout 10 "$LUAHA" attach "$tmp/$1.sock" -e "$2"
}

reset_gaps()
{
	attach r1 'router.pulse:reset_gap()' > /dev/null
	attach r2 'router.pulse:reset_gap()' > /dev/null
}

# max_gap: the longest gap between two heartbeats either router heard since reset_gaps.
max_gap()
{
	local g1 g2
	g1=$(attach r1 'router.pulse:status(true).stats.max_gap')
	g2=$(attach r2 'router.pulse:status(true).stats.max_gap')
	awk -v a="${g1:-99}" -v b="${g2:-99}" 'BEGIN { print (a > b ? a : b) }'
}

chaos_setup()
{
	mkdir -p "$dir" || exit 2
	mkfifo "$tmp/nap" && exec {nap_fd}<> "$tmp/nap" || exit 2
	seed_setup
	seed_node mallory 192.0.2.66
	echo "admin:$PASSWD_HASH" > "$tmp/status.passwd"
	seed_config "monitor_links = 1" "syncdaemon = 1" "syncd_iface = eth0" "syncd_id = 7" "status_listen = 0.0.0.0:3636" "status_passwd = $tmp/status.passwd"
	cp "$tmp/lvs.cf" "$tmp/small.cf"
	expect_table 0
	# Heartbeats through netem: a prio qdisc sends UDP port 539 to a band of its own.
	tc -n r1 qdisc add dev eth0 root handle 1: prio bands 4 && tc -n r1 qdisc del dev eth0 root &&
		tc qdisc add dev v-r1 root handle 9: netem delay 1ms && tc qdisc del dev v-r1 root ||
		fail "tc: no prio or netem qdisc (UML_MODULES=\"sch_netem sch_prio cls_u32\")"
	: > "$dir/events"
	ev config keepalive="$KEEPALIVE" deadtime="$DEADTIME"
	local ns
	for ns in r1 r2; do
		ip netns exec $ns chrt -r 5 "$LUAHA" tests/chaos/observe.lua $VIP 7200 > "$dir/$ns.vip" 2> "$dir/$ns.vip.err" &
		eval "pid_obs_$ns=$!"
	done
	seed_pair
	ip netns exec client "$LUAHA" tests/chaos/client.lua $VIP 7200 > "$dir/client" 2> "$dir/client.err" &
	pid_client=$!
	until_ok grep -q " OK " "$dir/client" || fail "the client got no answer through the VIP"
	for ((i = 0; i < 60; i++)); do quiet && break; nap 0.5; done
	quiet || fail "the pair did not settle: $why"
	ev end setup
	echo "chaos: keepalive $KEEPALIVE s, deadtime $DEADTIME s; logs in $dir"
}

# ---- faults: each ends in chaos_settled ----

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
	local f=$1 where=$2 secs=$3 kind=steady
	shift 3
	[[ " $* " = *" loss "* ]] && kind=steady-lossy
	reset_gaps
	ev begin "$f" $kind
	hb_netem "$where" "$@"
	ev cut "$f"
	nap "$secs"
	hb_clear "$where"
	ev heal "$f"
	nap 1
	chaos_settled "$f" gap
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
		ip netns exec $rs "$LUAHA" tests/lib/http-name.lua $rs 10001 "$2" > "$tmp/$rs-big.log" 2>&1 &
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

# chaos_end: no traceback in the routers' logs; the figures of the run. Returns 1 if a fault failed.
chaos_end()
{
	local ns
	for ns in r1 r2; do
		grep -q "stack traceback" "$tmp/$ns.log" && chaos_fail traceback "a Lua traceback in $ns's log"
	done
	awk '/^(PASS|FAIL) chaos-/ { n++ } /^PASS/ { p++ }
		match($0, /both held it [0-9.]+ s/) { b = substr($0, RSTART + 13, RLENGTH - 15) + 0; if (b > mb) mb = b }
		END { printf "chaos: %d of %d faults passed; both routers held the VIP %.3f s at the most\n", p, n, mb }' "$dir/results"
	grep -o "held the VIP [0-9.]* s after" "$dir/results" | awk '{ print $4 }' | sort -n |
		awk '{ t[NR] = $1 } END { if (NR) printf "chaos: the VIP held again after a death in %d faults: min %.3f s, median %.3f s, max %.3f s\n", NR, t[1], t[int((NR + 1) / 2)], t[NR] }'
	((chaos_failed == 0))
}
