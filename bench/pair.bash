# bench/pair.bash: the two routers of the seed topology run by the UML benchmarks, luaha's or keepalived's, and reading their logs; sourced after tests/lib/seed.bash, not run.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Nothing here forks while a measurement runs, where it can be helped: a fork stalls everything in
# UML for tens of ms. The caller sets $tmp; the routers' logs are $tmp/r1.log and $tmp/r2.log.
#   nap SECS               sleep without a fork
#   procs_of NS            every process in NS
#   in_session NS LOG CMD...   CMD in NS in a session of its own; its pid (and process group) in pid_NS
#   luaha_run NS [ARGS]    policies/piranha.lua in NS with $tmp/NS.cf if there is one, else $tmp/lvs.cf
#   ka_config NS PRIORITY STATE ADVERT VERSION [NVIP [FILE]]   $tmp/ka-NS.conf; ka_start NS
#   routers_stop, routers_clean, logs_aside LABEL, vip_only_on NS, active_router
#   wait_for SECS CMD...   CMD every 0.5 s until it succeeds, SECS at most
#   quiet_logs             neither router's log grew in the last 5 calls
#   lines_in FILE, window_lines FILE FROM TO, window_counts PROG R1FROM R1TO R2FROM R2TO
#   cpu_ticks PID..., cpu_stat
#   capture PROG LABEL, capture_stop, gap_list FILE FROM TO, gap_summary LATE   r1's heartbeats as they arrive in r2
#   host_load              "host load 1.52 1.48 1.83" (bench/hostload.sh), or "host load unknown", in $load

# nap SECS: sleep without a fork (a fork costs 50-140 ms in UML): a read with a timeout on a FIFO nobody writes.
mkfifo "$tmp/nap" && exec {nap_fd}<> "$tmp/nap" || exit 2
nap()
{
	read -r -t "$1" -u "$nap_fd"
}

# host_load: the host's load averages (1, 5, 15 min) in $load, as bench/hostload.sh left them (no fork).
host_load()
{
	local a b c
	if [ -n "${UML_OUT:-}" ] && read -r a b c _ 2> /dev/null < "$UML_OUT/hostload"; then
		load="host load $a $b $c"
	else
		load="host load unknown (not run through bench/hostload.sh)"
	fi
}

# Every process in NS (the daemon and, for keepalived, its VRRP and checker children).
procs_of()
{
	ip netns pids "$1" | paste -sd' '
}

# in_session NS LOG CMD...: CMD in NS, in a session and process group of its own (led by it: setsid does
# not fork in a job of a non-interactive shell), its output appended to LOG; its pid in pid_NS.
in_session()
{
	local ns=$1 log=$2
	shift 2
	setsid ip netns exec "$ns" "$@" >> "$log" 2>&1 &
	eval "pid_$ns=$!"
}

# luaha_run NS [ARGS]: seed_start, in a session of its own (a control socket of its own: both routers
# share /run), with a configuration of its own if there is one.
luaha_run()
{
	local ns=$1 cf=$tmp/lvs.cf
	shift
	[ -f "$tmp/$ns.cf" ] && cf=$tmp/$ns.cf
	in_session "$ns" "$tmp/$ns.log" "$LUAHA" --ctl "$tmp/$ns.sock" policies/piranha.lua -c "$cf" --foreground "$@"
}

# vip_only_on NS: NS holds the VIP, the other router does not.
vip_only_on()
{
	local other=r2
	[ "$1" = r2 ] && other=r1
	seed_has_vip "$1" && ! seed_has_vip $other
}

active_router()
{
	if vip_only_on r1; then echo r1; elif vip_only_on r2; then echo r2; else echo "none or both"; fi
}

# The routers' state left by one program, removed before the next one runs: the IPVS table, the VIP,
# the VIPs of bench/genconf.bash on dummy0 if there is one.
routers_clean()
{
	local ns
	for ns in r1 r2; do
		ip netns exec $ns ipvsadm -C
		ip -n $ns addr del $VIP/24 dev eth0 2> /dev/null
		ip -n $ns link show dummy0 > /dev/null 2>&1 && ip -n $ns addr flush dev dummy0 to 198.51.100.0/24
	done
}

routers_stop()
{
	local ns pid
	for ns in r1 r2; do
		eval "pid=\${pid_$ns:-}"
		[ -n "$pid" ] && kill -TERM "$pid" 2> /dev/null && wait "$pid"
	done
	routers_clean
}

logs_aside()
{
	local ns
	for ns in r1 r2; do [ -f "$tmp/$ns.log" ] && mv "$tmp/$ns.log" "$tmp/$1-$ns.log"; done
}

# ka_config NS PRIORITY STATE ADVERT VERSION [NVIP [FILE]]: $tmp/ka-NS.conf: the VIP and the seed's
# service with TCP checks; with NVIP, the first NVIP addresses of bench/genconf.bash on dummy0 held as
# well (virtual_ipaddress_excluded: not in the adverts); FILE's virtual_server blocks appended. No
# smtp_server, no notification, no script: keepalived has nothing to reach outside the namespaces
# (which have no route out anyway).
ka_config()
{
	local i excluded=""
	if [ "${6:-0}" -gt 0 ]; then
		excluded="    virtual_ipaddress_excluded {"$'\n'
		for ((i = 1; i <= $6; i++)); do excluded+="        198.51.100.$i/32 dev dummy0"$'\n'; done
		excluded+="    }"
	fi
	cat > "$tmp/ka-$1.conf" <<CONF
global_defs {
    router_id $1
    vrrp_version $5
    lvs_flush
}
vrrp_instance seed {
    state $3
    interface eth0
    virtual_router_id 51
    priority $2
    advert_int $4
    virtual_ipaddress {
        $VIP/24 dev eth0 label eth0:1
    }
$excluded
}
virtual_server $VIP 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind DR
    persistence_timeout 30
    protocol TCP
    real_server 192.0.2.204 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 192.0.2.205 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
CONF
	[ -n "${7:-}" ] && cat "$7" >> "$tmp/ka-$1.conf"
	return 0
}

# ka_start NS: keepalived in NS, pid files of its own (/run is a tmpfs in UML), its pid in pid_NS. Its log
# lines are written at once (stdbuf), so that a trial sees a state change before the kill.
ka_start()
{
	in_session "$1" "$tmp/$1.log" stdbuf -oL -eL keepalived -n -l -D -f "$tmp/ka-$1.conf" -p "$tmp/ka-$1.pid" \
		-r "$tmp/ka-$1-vrrp.pid" -c "$tmp/ka-$1-check.pid"
}

# wait_for SECS CMD...: CMD every 0.5 s until it succeeds (true), SECS at most (false).
wait_for()
{
	local n=$(($1 * 2))
	shift
	while ((n-- > 0)); do
		"$@" && return 0
		nap 0.5
	done
	return 1
}

# quiet_logs: neither router's log grew in the last 5 calls (one every 0.5 s: 2.5 s): a start's checks are over.
quiet=0 q1=-1 q2=-1
quiet_logs()
{
	local a b
	lines_in "$tmp/r1.log"; a=$lines
	lines_in "$tmp/r2.log"; b=$lines
	if [ "$a" = "$q1" ] && [ "$b" = "$q2" ]; then quiet=$((quiet + 1)); else quiet=0 q1=$a q2=$b; fi
	((quiet >= 5))
}

# lines_in FILE: the number of lines of FILE, in $lines (no fork).
lines_in()
{
	local -a l
	mapfile -t l < "$1"
	lines=${#l[@]}
}

# window_lines FILE FROM TO: lines FROM+1 to TO of FILE.
window_lines()
{
	(($3 > $2)) && sed -n "$(($2 + 1)),$3p" "$1"
}

# window_counts PROG R1FROM R1TO R2FROM R2TO: "transitions expiries refused" in those lines of the routers'
# logs. A transition is counted once, at its decision (luaha: "partner dead: activating lvs", not the
# hooks' lines; keepalived: "Entering MASTER STATE"); expiries are the backup's (r2) dead timer running out.
window_counts()
{
	local t e r
	if [ "$1" = luaha ]; then
		t=$({ window_lines "$tmp/r1.log" "$2" "$3"; window_lines "$tmp/r2.log" "$4" "$5"; } |
			grep -E "activating lvs|deactivating LVS" | grep -c -v -E " (de)?activating: | now (active|passive) \(")
		e=$(window_lines "$tmp/r2.log" "$4" "$5" | grep -c "no heartbeat from the partner")
		# Refusals are logged once per 10 s per kind, with "(and N more in S s)".
		r=$({ window_lines "$tmp/r1.log" "$2" "$3"; window_lines "$tmp/r2.log" "$4" "$5"; } |
			awk '/refused:/ { n++; if (match($0, /and [0-9]+ more/)) n += substr($0, RSTART + 4, RLENGTH - 9) } END { print n + 0 }')
	else
		t=$({ window_lines "$tmp/r1.log" "$2" "$3"; window_lines "$tmp/r2.log" "$4" "$5"; } | grep -c -E "Entering [A-Z]+ STATE")
		e=$(window_lines "$tmp/r2.log" "$4" "$5" | grep -c "Receive advertisement timeout")
		r=-
	fi
	echo "$t $e $r"
}

# cpu_ticks PID...: their user and system CPU in clock ticks (1/100 s), in $ticks (no fork); those that
# ended count for nothing.
cpu_ticks()
{
	local p line f
	ticks=0
	for p in "$@"; do
		read -r line 2> /dev/null < "/proc/$p/stat" || continue
		read -r -a f <<< "${line##*) }"
		ticks=$((ticks + f[11] + f[12]))
	done
}

# cpu_stat: UML's CPU time so far, all and idle (/proc/stat, clock ticks), in $cpu_all and $cpu_idle (no fork).
cpu_stat()
{
	local f
	read -r -a f < /proc/stat
	cpu_all=$((f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7] + f[8])) cpu_idle=$((f[4] + f[5]))
}

# capture PROG LABEL: bench/arrivals.py in r2 writing down when r1's heartbeats (PROG's: luaha or
# keepalived) arrive, to $tmp/arrivals-LABEL ($arrivals), until capture_stop; its pid in $capture_pid.
capture()
{
	local kind=udp
	[ "$1" = keepalived ] && kind=vrrp
	arrivals=$tmp/arrivals-$2
	ip netns exec r2 python3 bench/arrivals.py $kind 192.0.2.210 > "$arrivals" 2> "$tmp/arrivals-$2.err" &
	capture_pid=$!
	nap 3		# Python's start in UML
	return 0
}

capture_stop()
{
	[ -n "${capture_pid:-}" ] || return 0
	kill "$capture_pid" 2> /dev/null
	wait "$capture_pid" 2> /dev/null
	capture_pid=
}

# gap_list FILE FROM TO: the gaps between consecutive arrivals in FILE (bench/arrivals.py) from FROM to
# TO (epoch seconds), a line each.
gap_list()
{
	awk -v from="$2" -v to="$3" '$1 >= from && $1 <= to { if (seen) printf "%.6f\n", $1 - prev; prev = $1; seen = 1 }' "$1"
}

# gap_summary LATE: "n p50 p99.9 max over" of the gaps on stdin; percentiles by nearest rank (below
# 1000 gaps, p99.9 is the max); over: how many are longer than LATE seconds.
gap_summary()
{
	sort -n | awk -v late="$1" '{ v[NR] = $1; if ($1 > late) over++ }
		function rank(q,   k) { k = int(q * NR); if (k < q * NR) k++; if (k < 1) k = 1; return v[k] }
		END { if (NR) printf "%d %.4f %.4f %.4f %d\n", NR, rank(0.5), rank(0.999), v[NR], over; else print "0 - - - 0" }'
}
