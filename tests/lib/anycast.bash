# tests/lib/anycast.bash: the anycast bed of issue 16 in namespaces, for the UML scenarios and bench/anycast.sh; sourced, not run.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# In the root namespace of a UML instance: the namespace client (203.0.113.10) behind the upstream router
# (203.0.113.1; 198.51.100.1 on the segment), and on the segment, a bridge brac, the directors d1..d4
# (198.51.100.11..14) and the direct-routing real servers rs1..rs4 (.21..24), VIP 192.0.2.80 port 80.
# The upstream router runs FRR (zebra, bfdd, bgpd: AS 65000, ECMP over up to 8 paths with L4 hashing,
# BFD 100 ms x 3, hold time 3 s); each director runs BIRD (AS 65001) exporting what it learns from the
# kernel's table $AC_TABLE with protocol $AC_PROTO over BGP with BFD, and IPVS.
#   ac_setup                   the namespaces, FRR, the real servers and their line servers (tests/lib/anycast-rs.lua)
#   ac_director N              the namespace dN on the segment (no BIRD, no IPVS, no VIP yet)
#   ac_config N [LINE...]      $tmp/dN.cf: the anycast lvs.cf every director runs, each LINE in its virtual web
#   ac_luaha N                 luaha (policies/piranha.lua) in dN with $tmp/dN.cf: pid_dN, log $tmp/dN.log, ctl $tmp/dN.sock
#   ac_bird N [CONF]           BIRD in dN with CONF (default: ac_bird_conf's); control socket $tmp/dN.bird.ctl
#   ac_bird_conf N             prints dN's BIRD configuration: `luaha bgp-config`'s snippet and the session to the upstream
#   ac_paths                   $paths, the upstream's next hops for the VIP: "1 2 3" (d1, d2, d3; empty: no route)
#   ac_wait_paths WANT [SECS]  until $paths is WANT (default 20 s); $took, from $t0 to the change in the kernel
#   ac_flows_start [N] [SECS]  N (64) flows from the client for at most SECS (300); waits until they all have a reply
#   ac_flows_stop              ends them; $kept, "K/N", and the client's report in $tmp/flows.out
#   ac_flows_mark              $mark: what the client has reported so far
#   ac_flows_alive [SECS]      since ac_flows_mark, no flow was lost, and every flow answered since the call
#   ac_gone PID                the process has ended (or is a zombie)
#   ac_estab N                 $estab: the established connections in dN's IPVS table
#   ac_kill N                  dN dies: its processes stopped, its link cut ($killed_at), killed
#   until_ok CMD...            retry CMD every 0.2 s, 100 times at most
#   fail WHY                   "FAIL NAME: WHY" with the logs, exit 1
# The real servers and the client run at nice 19: they share UML's one CPU with the routers, whose BFD
# timers are what is measured (on separate machines, nothing delays them).
#   ac_missing / ac_needs      $why the bed cannot run (no BIRD, FRR or `luaha bgp-config`) / SKIP then (FAIL when CI=true)
# The caller sets $name, $tmp and LUAHA (default ./luaha) and calls ac_cleanup at exit.

LUAHA=${LUAHA:-./luaha}
VIP=192.0.2.80
AC_TABLE=${AC_TABLE:-100}
AC_PROTO=${AC_PROTO:-200}
# BFD's interval (ms) and multiplier, BGP's hold time (s): the bench's are issue 16's, 100 ms x 3 and 3 s. In
# a UML whose one CPU is a host thread on a busy machine, a router can miss 0.3 s: the tests take more.
AC_BFD_MS=${AC_BFD_MS:-100} AC_BFD_MULT=${AC_BFD_MULT:-3} AC_HOLD=${AC_HOLD:-3}
FRR=/usr/lib/frr
ac_ns=(client upstream d1 d2 d3 d4 rs1 rs2 rs3 rs4)

fail()
{
	echo "FAIL $name: $*"
	local ns
	echo "  | --- upstream: ip route"
	ip -n upstream route 2>&1 | sed 's/^/  | /'
	for ns in d1 d2 d3 d4; do
		[ -e "/run/netns/$ns" ] || continue
		echo "  | --- $ns: ipvsadm -Ln; table $AC_TABLE"
		ip netns exec $ns ipvsadm -Ln 2>&1 | sed 's/^/  | /'
		ip -n $ns route show table "$AC_TABLE" 2>&1 | sed 's/^/  | /'
		[ -s "$tmp/$ns.log" ] && { echo "  | --- $ns: log"; tail -30 "$tmp/$ns.log" | sed 's/^/  | /'; }
	done
	echo "  | --- upstream: route changes"
	tail -n 20 "$tmp/upstream.mon" | sed 's/^/  | /'
	grep -h -i 'bfd\|down\|up' "$tmp/frr/bgpd.log" 2> /dev/null | tail -n 10 | sed 's/^/  | /'
	[ -s "$tmp/flows.out" ] && { echo "  | --- flows"; grep -v '^flow ' "$tmp/flows.out" | tail -20 | sed 's/^/  | /'; }
	exit 1
}

# ac_missing: what the bed lacks ($why): BIRD, FRR or the anycast side of luaha (`luaha bgp-config`); false if nothing.
ac_missing()
{
	why=
	command -v bird > /dev/null || why="no bird (apt-get install bird2)"
	[ -x $FRR/bgpd ] && [ -x $FRR/bfdd ] && [ -x $FRR/zebra ] || why="no FRR (apt-get install frr)"
	ac_config 0
	"$LUAHA" bgp-config -c "$tmp/d0.cf" > /dev/null 2>&1 || why="luaha has no bgp-config (the anycast part of issue 16)"
	[ -n "$why" ]
}

# ac_needs: SKIP (FAIL with CI=true) and exit if ac_missing.
ac_needs()
{
	ac_missing || return 0
	if [ "${CI:-}" = true ]; then echo "FAIL $name: $why (CI=true)"; exit 1; fi
	echo "SKIP $name: $why"
	exit 0
}

ac_cleanup()
{
	local ns
	disown -a				# their deaths are expected: no "Killed" lines
	for ns in "${ac_ns[@]}"; do
		ip netns pids "$ns" 2> /dev/null | xargs -r kill -9 2> /dev/null
	done
	for ns in "${ac_ns[@]}"; do ip netns del "$ns" 2> /dev/null; done
	ip link del brac 2> /dev/null
	rm -rf "$tmp"
}

until_ok()
{
	local i
	for i in $(seq 100); do "$@" && return 0; ac_sleep 0.2; done
	return 1
}

# ac_node NS ADDR: NS on the segment with eth0 at ADDR/24, the upstream its default route.
ac_node()
{
	ip link del "a-$1" 2> /dev/null		# a leftover of an earlier scenario's namespace (tests/lib/seed.bash)
	ip netns add "$1" && ip -n "$1" link set lo up &&
		ip link add name "a-$1" type veth peer name eth0 netns "$1" &&
		ip link set "a-$1" master brac && ip link set "a-$1" up && ip -n "$1" link set eth0 up &&
		ip -n "$1" addr add "$2/24" dev eth0 || fail "namespace $1"
	[ "$1" = upstream ] || ip -n "$1" route add default via 198.51.100.1 || fail "default route in $1"
}

# The director's VIP goes on lo: luaha puts it there (ac_luaha).
ac_director()
{
	ac_node "d$1" "198.51.100.1$1"
	ip netns exec "d$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 \
		net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 || fail "sysctls of d$1"
}

ac_setup()
{
	ip link add name brac type bridge && ip link set brac up || fail "bridge"
	ac_node upstream 198.51.100.1
	ip -n upstream -ts monitor route > "$tmp/upstream.mon" 2>&1 &
	# The client is behind the upstream router, on a link of its own.
	ip link del a-client 2> /dev/null
	ip netns add client && ip -n client link set lo up &&
		ip -n upstream link add name eth1 type veth peer name eth0 netns client &&
		ip -n upstream link set eth1 up && ip -n client link set eth0 up &&
		ip -n upstream addr add 203.0.113.1/24 dev eth1 && ip -n client addr add 203.0.113.10/24 dev eth0 &&
		ip -n client route add default via 203.0.113.1 || fail "namespace client"
	# L4 hashing: the flows of one client spread over the directors.
	ip netns exec upstream sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 || fail "sysctls of upstream"
	ac_frr
	local n
	for n in 1 2 3 4; do
		ac_node "rs$n" "198.51.100.2$n"
		ip -n "rs$n" addr add $VIP/32 dev lo &&
			ip netns exec "rs$n" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 ||
			fail "rs$n as a direct-routing real server"
		ip netns exec "rs$n" nice -n 19 "$LUAHA" tests/lib/anycast-rs.lua "rs$n" > "$tmp/rs$n.log" 2>&1 &
	done
	for n in 1 2 3 4; do until_ok grep -q listening "$tmp/rs$n.log" || fail "rs$n's server: $(cat "$tmp/rs$n.log")"; done
}

# FRR as the upstream router: one file per daemon, every path in $tmp/frr. The daemons run as the user frr
# (Debian's FRR refuses root, who is not in its vty group frrvty), which must reach $tmp/frr.
ac_frr()
{
	local f=$tmp/frr d n
	mkdir -p "$f" && chmod 711 "$tmp" && chown frr:frr "$f" || fail "FRR's directory"
	# Routes as one multipath entry each, not nexthop objects: a change of the VIP's paths is a route
	# message that `ip monitor route` shows whole (ac_paths).
	printf 'hostname upstream\nno zebra nexthop kernel enable\n' > "$f/zebra.conf"
	cat > "$f/bfdd.conf" <<-EOF
	bfd
	 profile fast
	  detect-multiplier $AC_BFD_MULT
	  receive-interval $AC_BFD_MS
	  transmit-interval $AC_BFD_MS
	 exit
	exit
	EOF
	{
		printf 'router bgp 65000\n bgp router-id 198.51.100.1\n no bgp ebgp-requires-policy\n'
		printf ' neighbor dirs peer-group\n neighbor dirs remote-as 65001\n neighbor dirs timers %d %d\n' \
			$(( (AC_HOLD + 2) / 3 )) "$AC_HOLD"
		printf ' neighbor dirs passive\n neighbor dirs bfd\n neighbor dirs bfd profile fast\n'
		for n in 1 2 3 4; do printf ' neighbor 198.51.100.1%d peer-group dirs\n' $n; done
		printf ' address-family ipv4 unicast\n  maximum-paths 8\n exit-address-family\nexit\n'
	} > "$f/bgpd.conf"
	for d in zebra bfdd bgpd; do
		local extra=(--log "file:$f/$d.log")
		[ $d = bfdd ] && extra+=(--bfdctl "$f/bfdd.sock")
		ip netns exec upstream $FRR/$d -u frr -g frr -f "$f/$d.conf" -i "$f/$d.pid" -z "$f/zserv.api" \
			--vty_socket "$f" -P 0 "${extra[@]}" > "$f/$d.out" 2>&1 &
		if [ $d = zebra ]; then until_ok test -S "$f/zserv.api" || fail "FRR zebra: $(cat "$f/zebra.out")"; fi
	done
}

# The snippet of `luaha bgp-config` holds the table, the kernel protocol that learns it and BFD; the session to the
# upstream is the operator's, written after its commented template: this one exports the snippet's table.
ac_bird_conf()
{
	local snippet tab
	snippet=$("$LUAHA" bgp-config -c "$tmp/d$1.cf") || fail "luaha bgp-config -c $tmp/d$1.cf: $snippet"
	tab=$(sed -n 's/^[[:space:]]*ipv4 table \([A-Za-z0-9_]*\).*/\1/p' <<< "$snippet" | head -n 1)
	[ -n "$tab" ] || fail "no ipv4 table in luaha bgp-config's snippet: $snippet"
	printf 'router id 198.51.100.1%d;\n' "$1"
	grep -q 'protocol device' <<< "$snippet" || echo 'protocol device { }'
	printf '%s\n' "$snippet"
	cat <<-EOF
	protocol bgp upstream {
		local 198.51.100.1$1 as 65001;
		neighbor 198.51.100.1 as 65000;
		hold time $AC_HOLD;
		keepalive time $(( (AC_HOLD + 2) / 3 ));
		connect retry time 1;
		error wait time 1, 5;
		bfd on;
		ipv4 { table $tab; import none; export all; next hop self; };
	}
	EOF
}

ac_bird()
{
	local n=$1 conf=${2:-$tmp/d$1.bird.conf}
	[ $# -ge 2 ] || ac_bird_conf "$n" > "$conf"
	ip netns exec "d$n" bird -f -c "$conf" -s "$tmp/d$n.bird.ctl" -P "$tmp/d$n.bird.pid" \
		>> "$tmp/d$n.bird.log" 2>&1 &
	disown $!				# a director's death kills it: no "Killed" line
}

# ac_sleep SECS: sleeps without a fork (a process costs 0.05-0.5 s of UML's one CPU, and the BFD timers
# of the routers share it): a read that times out on a FIFO nobody writes.
ac_sleep()
{
	[ -n "${ac_sleep_fd:-}" ] || { mkfifo "$tmp/sleep.fifo" && exec {ac_sleep_fd}<> "$tmp/sleep.fifo"; } ||
		fail "ac_sleep's FIFO"
	read -r -t "$1" -u "$ac_sleep_fd"
}

# ac_us REALTIME: $REPLY, the microseconds since midnight of REALTIME (an $EPOCHREALTIME), in local time as
# `ip -ts monitor` prints it.
ac_us()
{
	local hms
	printf -v hms '%(%H %M %S)T' "${1%.*}"
	set -- $hms "${1#*.}"
	REPLY=$(( ((10#$1 * 60 + 10#$2) * 60 + 10#$3) * 1000000 + 10#$4 ))
}

# ac_paths: $paths, the upstream's next hops for the VIP as its kernel last reported them in $tmp/upstream.mon
# ("11 12 13": the last octets, sorted; empty: no route), and $paths_us, when (ac_us). Read with builtins only.
ac_paths()
{
	local line rec=0 hops=() at=0 deleted='' re='^\[[0-9-]+T([0-9]+):([0-9]+):([0-9]+)\.([0-9]+)\] (Deleted )?(.*)$'
	local via='via 198\.51\.100\.1([0-9]) '
	paths='' paths_us=''
	while :; do
		IFS= read -r line
		local eof=$?
		if [ $eof != 0 ] || [[ $line =~ $re ]]; then
			if [ $rec = 1 ]; then
				ac_sorted "${hops[@]}"
				paths=$REPLY paths_us=$at
			fi
			[ $eof = 0 ] || break
			rec=0 hops=()
			case ${BASH_REMATCH[6]} in "$VIP "*) rec=1;; *) continue;; esac
			at=$(( ((10#${BASH_REMATCH[1]} * 60 + 10#${BASH_REMATCH[2]}) * 60 + 10#${BASH_REMATCH[3]}) * 1000000 + 10#${BASH_REMATCH[4]} ))
			# Deleted: no next hop, neither on this line nor on the nexthop lines of a multipath route.
			deleted=${BASH_REMATCH[5]}
			[ -n "$deleted" ] && continue
			[[ ${BASH_REMATCH[6]} =~ $via ]] && hops+=("${BASH_REMATCH[1]}")
		elif [ $rec = 1 ] && [ -z "$deleted" ] && [[ $line =~ ^[[:space:]]+nexthop\ $via ]]; then
			hops+=("${BASH_REMATCH[1]}")
		fi
	done < "$tmp/upstream.mon"
}

ac_sorted()
{
	local n h out=
	for n in 1 2 3 4 5 6 7 8 9; do
		for h; do [ "$h" = "$n" ] && out+=" $n" && break; done
	done
	REPLY=${out# }
}

# ac_wait_paths WANT [SECS]: until the upstream's next hops are WANT (at most SECS, default 20); $took, the
# seconds from $t0 (an $EPOCHREALTIME the caller set) to the kernel's report of the change.
ac_wait_paths()
{
	local i
	for i in $(seq $(( ${2:-20} * 10 ))); do
		ac_paths
		if [ "$paths" = "$1" ]; then
			ac_us "${t0:-$EPOCHREALTIME}"
			took=$(( (paths_us - REPLY + 86400000000) % 86400000000 ))
			printf -v took '%d.%03d' $((took / 1000000)) $((took % 1000000 / 1000))
			return 0
		fi
		ac_sleep 0.1
	done
	return 1
}

ac_flows_start()
{
	AC_FLOWS=${1:-64}
	rm -f "$tmp/flows.stop"
	ip netns exec client nice -n 19 "$LUAHA" tests/lib/anycast-flows.lua $VIP 80 "$AC_FLOWS" "${2:-300}" "$tmp/flows.stop" \
		> "$tmp/flows.out" 2>&1 &
	flows_pid=$!
	until_ok grep -q '^ready' "$tmp/flows.out" || fail "the flows did not start"
	grep -q "^ready $AC_FLOWS\$" "$tmp/flows.out" || fail "not every flow got a reply: $(grep '^ready' "$tmp/flows.out")"
}

ac_flows_stop()
{
	local i
	touch "$tmp/flows.stop"
	for i in $(seq 300); do [ -e "/proc/$flows_pid" ] || break; sleep 0.1; done
	wait "$flows_pid" 2> /dev/null
	kept=$(sed -n 's/^kept //p' "$tmp/flows.out")
	[ -n "$kept" ] || fail "the flow client did not report"
}

# Checks every second, 10 s to answer, back at once: a line, answered by the real server's name (on port 80 without
# send, nanny would send an HTTP request). The real servers run at nice 19 in a UML busy with the flows: a shorter
# timeout flaps their health, and a server at weight 0 on one director and not on another moves flows (Maglev's
# table follows the weights). A stopped server is refused at once, whatever the timeout. drain_time 2 s.
ac_config()
{
	local n=$1 l
	shift
	{
		printf 'serial_no = 1\nservice = lvs\ncluster = anycast\nnetwork = direct\nmonitor_links = 1\n'
		printf 'bgp_table = %s\nbgp_proto = %s\ndrain_time = %s\n' "$AC_TABLE" "$AC_PROTO" "${AC_DRAIN:-2}"
		printf 'virtual web {\n     active = 1\n     address = %s eth0\n     port = 80\n     protocol = tcp\n' $VIP
		printf '     send = "check\\n"\n     expect = "rs"\n'
		printf '     timeout = 10\n     check_interval = 1\n     reentry = 0\n'
		for l; do printf '     %s\n' "$l"; done
		for l in 1 2 3 4; do
			printf '     server rs%d {\n         address = 198.51.100.2%d\n         active = 1\n' $l $l
			printf '         weight = 1\n     }\n'
		done
		printf '}\n'
	} > "$tmp/d$n.cf"
}

ac_luaha()
{
	setsid ip netns exec "d$1" "$LUAHA" --ctl "$tmp/d$1.sock" policies/piranha.lua -c "$tmp/d$1.cf" --foreground \
		>> "$tmp/d$1.log" 2>&1 &
	eval "pid_d$1=$!"
}

# ac_hup N: dN reloads $tmp/dN.cf; waits until it says so.
ac_hup()
{
	local pid before
	eval "pid=\$pid_d$1"
	before=$(grep -c 'reload: ' "$tmp/d$1.log")
	kill -HUP "$pid" || fail "no luaha in d$1"
	until_ok test "$(grep -c 'reload: ' "$tmp/d$1.log")" -gt "$before" || fail "d$1 did not reload"
}

# ac_gone PID: the process has ended (a child not yet waited for is a zombie: it counts as ended).
ac_gone()
{
	local st=
	read -r _ _ st _ 2> /dev/null < "/proc/$1/stat"
	[ -z "$st" ] || [ "$st" = Z ]
}

ac_flows_mark()
{
	mark=$(wc -l < "$tmp/flows.out")
}

# ac_flows_alive [SECS]: called once the route changed; after SECS (default 3) more of traffic, no flow lost
# since ac_flows_mark, and every flow answered in a 3 s window that began after the call (the client's
# "alive" lines). Bounded: 30 s. No process substitution: UML has no /dev/fd.
ac_flows_alive()
{
	local i rc t=$EPOCHREALTIME
	ac_sleep "${1:-3}"
	for i in $(seq 60); do
		tail -n +"$((mark + 1))" "$tmp/flows.out" | awk -v n="$AC_FLOWS" -v t="$t" '
			$1 == "lost" { lost = 1 }
			$1 == "alive" && $2 == n && $3 > t + 3 { ok = 1 }
			END { exit lost ? 2 : ok ? 0 : 1 }'
		rc=$?
		[ $rc = 1 ] || return $rc
		ac_sleep 0.5
	done
	return 1
}

ac_estab()
{
	estab=$(ip netns exec "d$1" ipvsadm -Lnc | grep -c ESTABLISHED)
}

ac_kill()
{
	local pids pid
	eval "pid=\${pid_d$1:-}"
	[ -n "$pid" ] && disown "$pid" 2> /dev/null	# its death is expected: no "Killed" line
	pids=$(ip netns pids "d$1")
	# shellcheck disable=SC2086 # pids are words
	[ -n "$pids" ] && kill -STOP $pids
	echo 0x1002 > "/sys/class/net/a-d$1/flags"	# IFF_UP cleared, without a fork
	killed_at=$EPOCHREALTIME
	# shellcheck disable=SC2086
	[ -n "$pids" ] && kill -KILL $pids
}
