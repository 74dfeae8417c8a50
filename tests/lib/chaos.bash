# tests/lib/chaos.bash: the chaos suite in UML: the seed pair watched, faults as functions, each judged; sourced after seed.bash.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The seed topology (tests/lib/seed.bash) with monitor_links and the status listener (user admin,
# password s3cret), a third namespace "mallory" (192.0.2.66) for the floods, an observer in r1 and
# r2 (tests/chaos/observe.lua at real-time priority: VIP add/del and the machine's stalls) and the
# client asking through the VIP every 10 ms (tests/chaos/client.lua). Every line goes to $dir
# (events, r1.vip, r2.vip, client; tests/chaos/judge.lua says what they hold).
#   chaos_setup            all of the above started, the pair settled (r1 active)
#   fault_* ...            one fault each, then settled and judged: "PASS chaos-NAME: figures" or FAIL
#                          (tests/lib/chaos-faults.bash, sourced here)
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
	[ -n "${nap_fd:-}" ] || { sleep "$1"; return; }
	read -r -t "$1" -u "$nap_fd"
}

chaos_cleanup()
{
	local p i
	for p in "${chaos_busy[@]}"; do kill -9 "$p" 2> /dev/null; done
	if [ -n "${UML_OUT:-}" ] && [ -d "$dir" ]; then
		mkdir -p "$UML_OUT/$name" && cp "$dir"/* "$tmp"/*.log "$tmp"/*.cf "$UML_OUT/$name/" 2> /dev/null
	fi
	# The client first, its last requests answered, then the real servers, and then the rest (see chaos_setup:
	# orphan sockets hold a deleted namespace, and the next scenario cannot make rs2).
	if [ -n "${pid_client:-}" ] && kill -TERM "$pid_client" 2> /dev/null; then
		for ((i = 0; i < 40; i++)); do kill -0 "$pid_client" 2> /dev/null || break; nap 0.1; done
	fi
	for p in rs1 rs2; do ip netns pids $p 2> /dev/null | xargs -r kill -9; done
	nap 0.5
	seed_cleanup
	for ((i = 0; i < 30; i++)); do ip -o link | grep -q " v-" || break; nap 1; done
	ip -o link | grep -q " v-" && echo "FAIL $name: left behind, held by something in a deleted namespace:$(ip -o link | grep -o ' v-[^@:]*' | paste -sd' ')"
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
	# A connection cut at the end (a real server killed while a router's check or the client's request was under
	# way) leaves orphan sockets retransmitting their FIN, or waiting in FIN_WAIT2, for up to minutes, and they hold
	# their namespace, and its veth on the bridge, after `ip netns del`: here they give up within seconds.
	local ns
	for ns in client r1 r2 rs1 rs2; do
		ip netns exec $ns sysctl -qw net.ipv4.tcp_fin_timeout=1 net.ipv4.tcp_orphan_retries=1 || fail "sysctl in $ns"
	done
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

. "${BASH_SOURCE[0]%/*}/chaos-faults.bash"
