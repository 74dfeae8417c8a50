#!/bin/bash
# bench/failover.sh: inside UML (tests/uml/run bench/failover.sh): failover time of luaha against keepalived's VRRP, and false failovers under CPU load.
#
# Run: UML_MEM=512M UML_TIMEOUT=1500 tests/uml/run bench/failover.sh
# Environment (passed in with UML_PASSENV="FALSE_SECS ..."): LUAHA_TRIALS (20), KA_TRIALS (20, keepalived
# VRRPv3 advert_int 0.01), KA1_TRIALS (5, keepalived VRRPv2 advert_int 1), FALSE_SECS (300 s with BUSY
# busy loops, default 2), IDLE_SECS (60 s without), KA_FALSE (1: keepalived-0.01 left alone as well, in
# turns with luaha), FALSE_DEADTIME (0.03: luaha's deadtime there), PROBE_INTERVAL (0.002 s between
# requests). Logs are left in $UML_OUT/failover/.
#
# The seed topology (tests/lib/seed.bash): client, routers r1 (primary) and r2 (backup) holding VIP
# 192.0.2.212 in turn, DR real servers rs1 and rs2. Each trial starts settled: r1 alone holds the VIP,
# has the service, the client's neighbour entry for the VIP is r1's and a request is answered. The
# client then sends a request every PROBE_INTERVAL (bench/failover-probe.lua); after 1 s and a random
# 0-0.3 s every process of r1 is frozen (SIGSTOP), r1's link is cut from the bridge side, and they are
# killed (SIGKILL). The failover time runs from just before the freeze to the start of the first request
# answered after it. A trial whose start was not settled after all (a false failover before the kill)
# is discarded and counted. Back to the start: r1's link comes back and r1 is restarted; luaha's r1 with
# --forceactive (a returning luaha primary stays passive otherwise), keepalived's r1 preempts by priority.
# Last, false failovers: the settled pair left alone, idle and with the CPU busy, transitions counted.
cd "$(dirname "$0")/.." || exit 2
name=failover
LUAHA=${LUAHA:-./luaha}
LUAHA_TRIALS=${LUAHA_TRIALS:-20} KA_TRIALS=${KA_TRIALS:-20} KA1_TRIALS=${KA1_TRIALS:-5}
FALSE_SECS=${FALSE_SECS:-300} IDLE_SECS=${IDLE_SECS:-60} KA_FALSE=${KA_FALSE:-1} FALSE_DEADTIME=${FALSE_DEADTIME:-0.03}
BUSY=${BUSY:-2} PROBE_INTERVAL=${PROBE_INTERVAL:-0.002}
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash

busy=() discards=0
cleanup()
{
	local p
	for p in "${busy[@]}"; do kill -9 "$p" 2> /dev/null; done
	if [ -n "${UML_OUT:-}" ]; then
		mkdir -p "$UML_OUT/failover" && cp "$tmp"/*.log "$tmp"/*.conf "$tmp"/probe-* "$UML_OUT/failover/" 2> /dev/null
	fi
	seed_cleanup
	ip netns exec r1 true 2> /dev/null && echo "cleanup: namespace r1 left behind"
}
trap cleanup EXIT

# nap SECS: sleep without a fork (a fork costs 50-140 ms in UML): a read with a timeout on a FIFO nobody writes.
mkfifo "$tmp/nap" && exec {nap_fd}<> "$tmp/nap" || exit 2
nap()
{
	read -r -t "$1" -u "$nap_fd"
}

# Every process in NS (the daemon and, for keepalived, its VRRP and checker children).
procs_of()
{
	ip netns pids "$1" | paste -sd' '
}

# router_kill NS PGID: the router's processes all frozen at once, so that none can say goodbye; then
# the link cut (as seed_kill does), then all killed at once. One signal to the process group (each
# router runs in a session of its own, see in_session): a parent dying before its stopped children
# are signalled would orphan their group, and the kernel would send it SIGHUP and SIGCONT.
router_kill()
{
	kill -STOP -- "-$2"
	echo 0x1002 > "/sys/class/net/v-$1/flags"
	t_cut=$EPOCHREALTIME
	kill -KILL -- "-$2"
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

# luaha_run NS [ARGS]: seed_start, in a session of its own (a control socket of its own: both routers share /run).
luaha_run()
{
	local ns=$1
	shift
	in_session "$ns" "$tmp/$ns.log" "$LUAHA" --ctl "$tmp/$ns.sock" policies/piranha.lua -c "$tmp/lvs.cf" --foreground "$@"
}

# vip_only_on NS: NS holds the VIP, the other router does not.
vip_only_on()
{
	local other=r2
	[ "$1" = r2 ] && other=r1
	seed_has_vip "$1" && ! seed_has_vip $other
}

# served_by NS: the client sends the VIP to NS's MAC and gets an answer.
served_by()
{
	seed_neigh_is "$1" && seed_get > /dev/null 2>&1
}

# table_has_servers NS: NS's IPVS table has the service and its two real servers.
table_has_servers()
{
	[ "$(ip netns exec "$1" ipvsadm -Ln | grep -c -e "TCP  $VIP:80 wrr persistent 30" -e "Route  *1 ")" = 3 ]
}

# The routers' state left by one program, removed before the next one runs.
routers_clean()
{
	local ns
	for ns in r1 r2; do
		ip netns exec $ns ipvsadm -C
		ip -n $ns addr del $VIP/24 dev eth0 2> /dev/null
	done
}

# log_epoch: awk function turning luaha's "YYYY-MM-DD HH:MM:SS.mmm" ($1 $2) into seconds since the epoch.
log_epoch='function log_epoch(d, t,   a, b) {
	split(d, a, "-"); split(t, b, ":")
	return mktime(a[1] " " a[2] " " a[3] " " b[1] " " b[2] " 0") + b[3]
}'

# lines_in FILE: the number of lines of FILE, in $lines (no fork).
lines_in()
{
	local -a l
	mapfile -t l < "$1"
	lines=${#l[@]}
}

# matches_after FILE N REGEX: a line after the first N lines of FILE matches REGEX (no fork).
matches_after()
{
	local -a l
	local line
	mapfile -t -s "$2" l < "$1"
	for line in "${l[@]}"; do [[ $line =~ $3 ]] && return 0; done
	return 1
}

# cpu_ticks PID...: their user and system CPU in clock ticks (1/100 s), in $ticks (no fork).
cpu_ticks()
{
	local p line f
	ticks=0
	for p in "$@"; do
		read -r line < "/proc/$p/stat"
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

# trial LABEL N MAXSECS TRANSITIONS MIN: one failover of r1 to r2, timed from the client; its time goes
# to $tmp/LABEL.times. The routers are settled. Between the settled check and the kill nothing forks but
# the probe's start, since a fork stalls everything in UML for tens of ms: a transition in the routers'
# logs (regex TRANSITIONS) or a failed request before the kill means the start was not the settled
# state, and the trial is discarded (status 1) with r1 left running. So is one answered sooner than MIN
# seconds, the least time in which the backup can find a live partner dead (deadtime - keepalive, or
# VRRP's master down interval - advert_int): the backup was taking over already when r1 was killed.
trial()
{
	local label=$1 n=$2 secs=$3 transitions=$4 min=$5 out=$tmp/probe-$1-$2 pids i r nap_s took l1 l2 why=""
	pids=$(procs_of r1)
	[ -n "$pids" ] || fail "$label trial $n: no process in r1"
	[ "$(ps -o pgid= -p "$pids" | sort -u | tr -d ' ')" = "$pid_r1" ] ||
		fail "$label trial $n: r1's processes ($pids) are not all in process group $pid_r1"
	lines_in "$tmp/r1.log"; l1=$lines
	lines_in "$tmp/r2.log"; l2=$lines
	ip netns exec client "$LUAHA" bench/failover-probe.lua $VIP "$secs" "$PROBE_INTERVAL" > "$out" 2>&1 &
	local probe=$!
	for ((i = 0; i < 300; i++)); do [ -s "$out" ] && break; nap 0.01; done
	nap 0.5				# a transition the probe's start caused shows by now
	cpu_stat
	local all0=$cpu_all idle0=$cpu_idle
	nap 0.5
	r=$((RANDOM % 301))
	printf -v nap_s '%d.%03d' $((r / 1000)) $((r % 1000))
	nap "$nap_s"
	cpu_stat
	busy_pct=$((100 - 100 * (cpu_idle - idle0) / (cpu_all - all0 > 0 ? cpu_all - all0 : 1)))
	matches_after "$tmp/r1.log" "$l1" "$transitions" && why="r1 changed state"
	matches_after "$tmp/r2.log" "$l2" "$transitions" && why="${why:+$why, }r2 changed state"
	matches_after "$out" 0 " FAIL " && why="${why:+$why, }a request failed"
	[ -s "$out" ] || why="${why:+$why, }no answer yet"
	if [ -n "$why" ]; then
		kill "$probe" 2> /dev/null
		wait "$probe"
		discards=$((discards + 1))
		mv "$out" "$out-discarded-$discards"
		echo "$label trial $n discarded: before the kill $why (a false failover: see $label-r*.log)"
		return 1
	fi
	t0=$EPOCHREALTIME
	router_kill r1 "$pid_r1"
	wait "$pid_r1" 2> /dev/null
	wait "$probe"
	# took: from t0 to the start of the first answered request started after the link was cut (one
	# started between t0 and the cut may go through r1 before the cut, in UML a cut takes ~1 ms).
	set -- $(awk -v t0="$t0" -v tc="$t_cut" '
		$3 == "OK" && $1 > tc && (!found || $1 < best) { found = 1; best = $1; who = $4 }
		$3 == "FAIL" && $2 >= t0 { after++ }
		END { printf "%s %d %s\n", found ? sprintf("%.4f", best - t0) : "none", after, found ? who : "-" }' "$out")
	took=$1
	[ "$took" = none ] &&
		fail "$label trial $n: no request answered after the kill ($(wc -l < "$out") lines from the probe, last: $(tail -1 "$out"))"
	if awk -v t="$took" -v m="$min" 'BEGIN { exit !(t < m) }'; then
		discards=$((discards + 1))
		mv "$out" "$out-discarded-$discards"
		echo "$label trial $n discarded: answered $took s after the kill, sooner than a live partner can be found dead ($min s): a false failover was under way$(explain_"${label%%-*}" "$t0")"
		return 1
	fi
	echo "$took" >> "$tmp/$label.times"
	printf '%-16s trial %2d: %s s to the first answer (%s); %d process(es) killed 1+%s s after the first answer, link cut at +%.4f s, %d requests failed; UML CPU %d%% busy before%s\n' \
		"$label" "$n" "$took" "$3" "$(wc -w <<< "$pids")" "$nap_s" "$(awk -v a="$t0" -v b="$t_cut" 'BEGIN { print b - a }')" "$2" "$busy_pct" \
		"$(explain_"${label%%-*}" "$t0")"
}

# run_trials LABEL TRIALS MAXSECS SETTLED RESTORE TRANSITIONS MIN: TRIALS timed failovers, each from the
# settled state (SETTLED, after RESTORE). After 2 x TRIALS discarded ones it gives up, with fewer.
run_trials()
{
	local label=$1 trials=$2 n=1 discarded=0
	: > "$tmp/$label.times"
	while ((n <= trials)); do
		until_ok "$4" || until_ok "$4" || fail "$label: r1 is not the only active router serving the client"
		if trial "$label" "$n" "$3" "$6" "$7"; then
			n=$((n + 1))
		else
			discarded=$((discarded + 1))
			if ((discarded >= 2 * trials)); then
				echo "$label: $discarded trials discarded for false failovers: giving up with $((n - 1)) trials"
				break
			fi
		fi
		((n <= trials)) && $5
	done
	echo "$discarded" > "$tmp/$label.discarded"
}

# explain_luaha T0: where r2's time went, from its log: when it found r1 dead, how long activating took.
explain_luaha()
{
	awk -v t0="$1" "$log_epoch"'
		{ t = log_epoch($1, $2) }
		t >= t0 - 0.001 && /partner dead: activating lvs/ && !dead { dead = t }
		t >= t0 - 0.001 && /now active \(partner dead/ && !act { act = $0; sub(/.* in /, "", act); sub(/ s$/, "", act) }
		END { if (dead) printf "; r2: partner dead at +%.3f s, activation took %s s", dead - t0, act }' "$tmp/r2.log"
}

# explain_keepalived T0: nothing: keepalived's log has whole seconds only.
explain_keepalived()
{
	:
}

# stats FILE: n min p50 p99 max of the times in FILE (nearest rank).
stats()
{
	sort -n "$1" | awk '{ v[NR] = $1 }
		function rank(q,   k) { k = int(q * NR); if (k < q * NR) k++; if (k < 1) k = 1; return v[k] }
		END { if (NR) printf "%d %.4f %.4f %.4f %.4f\n", NR, v[1], rank(0.5), rank(0.99), v[NR]; else print "0 - - - -" }'
}

# ---- luaha: keepalive 0.01 s, deadtime 0.03 s ----

luaha_settled()
{
	vip_only_on r1 && table_has_servers r1 && ! ip netns exec r2 ipvsadm -Ln | grep -q TCP && served_by r1
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

seed_setup
echo "failover: luaha $(git rev-parse --short HEAD 2> /dev/null)$(git diff --quiet HEAD -- runtime lua policies 2> /dev/null || echo ' with uncommitted changes'), $(keepalived --version 2>&1 | head -1), UML $(uname -r) with $(nproc) CPU; probe: a request every $PROBE_INTERVAL s, 0.1 s to answer"

# A returning luaha primary stays passive: r1 is restarted with --forceactive, from any state.
luaha_restore()
{
	if kill -0 "$pid_r1" 2> /dev/null; then
		kill -TERM "$pid_r1"
		wait "$pid_r1"
	fi
	seed_revive r1
	luaha_run r1 --forceactive
}

# luaha_start [DEADTIME]: r1 first: alone for deadtime (default 0.03 s) it activates, and r2 finds it active.
luaha_start()
{
	KEEPALIVE=0.01 DEADTIME=${1:-0.03} seed_config
	seed_revive r1
	luaha_run r1
	nap 0.3
	luaha_run r2
}

luaha_start
run_trials luaha "$LUAHA_TRIALS" 4 luaha_settled luaha_restore "activating lvs|deactivating LVS|staying passive" 0.02
routers_stop
logs_aside luaha

# ---- keepalived: VRRPv3 advert_int 0.01, VRRPv2 advert_int 1 ----

# ka_config NS PRIORITY STATE ADVERT VERSION: $tmp/ka-NS.conf. No smtp_server, no notification, no script:
# keepalived has nothing to reach outside the namespaces (which have no route out anyway).
ka_config()
{
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
}

# ka_start NS: keepalived in NS, pid files of its own (/run is a tmpfs in UML), its pid in pid_NS. Its log
# lines are written at once (stdbuf), so that a trial sees a state change before the kill.
ka_start()
{
	in_session "$1" "$tmp/$1.log" stdbuf -oL -eL keepalived -n -l -D -f "$tmp/ka-$1.conf" -p "$tmp/ka-$1.pid" \
		-r "$tmp/ka-$1-vrrp.pid" -c "$tmp/ka-$1-check.pid"
}

# Both routers keep the IPVS table (keepalived's checker runs whatever the VRRP state); r1 holds the VIP.
ka_settled()
{
	vip_only_on r1 && table_has_servers r1 && table_has_servers r2 && served_by r1
}

# keepalived's r1 preempts r2 by priority when it comes back.
ka_restore()
{
	kill -0 "$pid_r1" 2> /dev/null && return 0
	seed_revive r1
	ka_start r1
}

# ka_pair_start ADVERT VERSION: keepalived in r1 (MASTER, priority 150) and r2 (BACKUP, 100).
ka_pair_start()
{
	seed_revive r1
	ka_config r1 150 MASTER "$1" "$2"
	ka_config r2 100 BACKUP "$1" "$2"
	ka_start r1
	ka_start r2
}

ka_phase()
{
	local label=$1 advert=$2 version=$3 trials=$4 secs=$5
	ka_pair_start "$advert" "$version"
	# r2's master down interval is 3 x advert_int + (256 - 100) / 256 x advert_int; less one advert_int
	# is the soonest that r1's death can be noticed.
	run_trials "$label" "$trials" "$secs" ka_settled ka_restore "Entering [A-Z]+ STATE" \
		"$(awk -v a="$advert" 'BEGIN { print 2 * a + 156 / 256 * a }')"
	routers_stop
	logs_aside "$label"
}

ka_phase keepalived-0.01 0.01 3 "$KA_TRIALS" 3
ka_phase keepalived-1 1 2 "$KA1_TRIALS" 8

# ---- false failovers: the settled pair left alone, idle and with the CPU busy ----
# luaha at keepalive 0.01 s, deadtime 0.03 s, and, as a reference under the same conditions, keepalived at
# advert_int 0.01; the two take turns in chunks of at most 60 s, since whatever else runs on the host
# (UML's CPU is a host thread) changes over minutes.

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

# quiet_run PROG KIND SECS LOOPS: PROG's settled pair left alone for SECS with LOOPS busy loops; nothing
# here forks while it runs. Prints a line and adds "secs transitions expiries refused" to $tmp/false-PROG-KIND.
quiet_run()
{
	local prog=$1 kind=$2 secs=$3 loops=$4 i w0 w1 c0 b0 pids f1 f2 t1 t2
	busy=()
	for ((i = 0; i < loops; i++)); do
		sh -c 'while :; do :; done' &
		busy+=($!)
	done
	pids=$(procs_of r1)" "$(procs_of r2)
	# shellcheck disable=SC2086
	cpu_ticks $pids; c0=$ticks
	cpu_ticks "${busy[@]}"; b0=$ticks
	lines_in "$tmp/r1.log"; f1=$lines
	lines_in "$tmp/r2.log"; f2=$lines
	w0=$EPOCHREALTIME
	nap "$secs"
	w1=$EPOCHREALTIME
	lines_in "$tmp/r1.log"; t1=$lines
	lines_in "$tmp/r2.log"; t2=$lines
	# shellcheck disable=SC2086
	cpu_ticks $pids; c0=$((ticks - c0))
	cpu_ticks "${busy[@]}"; b0=$((ticks - b0))
	((loops > 0)) && { kill -9 "${busy[@]}"; wait "${busy[@]}"; } 2> /dev/null
	busy=()
	set -- $(window_counts "$prog" "$f1" "$t1" "$f2" "$t2")
	echo "$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", b - a }') $1 $2 $3" >> "$tmp/false-$prog-$kind"
	awk -v c="$c0" -v b="$b0" -v w0="$w0" -v w1="$w1" -v t="$1" -v e="$2" -v r="$3" -v loops="$loops" -v p="$prog" \
		-v k="$kind" -v a="$(active_router)" 'BEGIN {
		printf "false failovers, %-10s %-4s %3.0f s, %d busy loop(s) with %3.0f%% of the CPU: %2d transitions, %2d backup dead-timer expiries, %s heartbeats refused; routers %.1f%% CPU (tick-sampled); active at the end: %s\n",
			p, k, w1 - w0, loops, b / (w1 - w0), t, e, r, c / (w1 - w0), a }'
	if [ "$prog" = luaha ] && [ "$1" -gt 0 ]; then
		for i in r1 r2; do
			eval "window_lines \"\$tmp/$i.log\" \$f${i#r} \$t${i#r}" |
				grep -E "activating lvs|deactivating LVS|no heartbeat" | grep -v -E " (de)?activating: " | head -8 | sed "s/^/    $i: /"
		done
	fi
}

active_router()
{
	if vip_only_on r1; then echo r1; elif vip_only_on r2; then echo r2; else echo "none or both"; fi
}

# pair_up PROG: PROG's two routers started and settled (r1 active).
pair_up()
{
	if [ "$1" = luaha ]; then
		luaha_start "$FALSE_DEADTIME"
		until_ok luaha_settled || until_ok luaha_settled || fail "false failovers: luaha's r1 is not the only active router"
	else
		ka_pair_start 0.01 3
		until_ok ka_settled || until_ok ka_settled || fail "false failovers: keepalived's r1 is not the only master"
	fi
	nap 1
}

false_failovers()
{
	local kind=$1 secs=$2 loops=$3 left=$2 chunk=0 c prog progs
	while ((left > 0)); do
		c=$((left < 60 ? left : 60)) chunk=$((chunk + 1))
		progs="luaha keepalived"
		((chunk % 2 == 0)) && progs="keepalived luaha"
		[ "$KA_FALSE" = 1 ] || progs=luaha
		for prog in $progs; do
			pair_up "$prog"
			quiet_run "$prog" "$kind" "$c" "$loops"
			routers_stop
			logs_aside "false-$prog-$kind-$chunk"
		done
		left=$((left - c))
	done
}

false_failovers idle "$IDLE_SECS" 0
false_failovers busy "$FALSE_SECS" "$BUSY"

# ---- the table ----

echo
echo "failover time, kill of the active router -> first answered request through the VIP (seconds; nearest-rank percentiles)"
printf '%-34s %4s %8s %8s %8s %8s %10s\n' program n min p50 p99 max discarded
row()
{
	local s
	s=$(stats "$tmp/$1.times")
	set -- "$2" $s "$(cat "$tmp/$1.discarded")"
	printf '%-34s %4d %8s %8s %8s %8s %10s\n' "$@"
	eval "p50_${label_var}=$4"
}
label_var=luaha row luaha "luaha keepalive 0.01 deadtime 0.03"
label_var=ka row keepalived-0.01 "keepalived VRRPv3 advert_int 0.01"
label_var=ka1 row keepalived-1 "keepalived VRRPv2 advert_int 1"
echo "(discarded: trials not counted because their start was not settled: a false failover before the kill, or one under way at it)"
awk -v l="$p50_luaha" -v k="$p50_ka" -v k1="$p50_ka1" 'BEGIN {
	if (l == "-" || k == "-") { print "ratio luaha p50 / keepalived-0.01 p50: not measured"; exit }
	best = (k1 != "-" && k1 + 0 < k + 0) ? k1 : k
	printf "ratio luaha p50 / keepalived-0.01 p50: %.2fx; target: luaha p50 <= keepalived best p50 (%.4f s): %s\n",
		l / k, best, l + 0 <= best + 0 ? "met" : "NOT met" }'
echo
echo "false failovers: transitions after start-up (2 per false failover: the backup takes over, then stands down; target 0)"
printf '%-36s %-5s %8s %12s %9s %8s\n' program load seconds transitions expiries refused
for kind in idle busy; do
	for prog in luaha keepalived; do
		[ -f "$tmp/false-$prog-$kind" ] || continue
		what="luaha keepalive 0.01 deadtime $FALSE_DEADTIME"
		[ $prog = keepalived ] && what="keepalived VRRPv3 advert_int 0.01"
		awk -v w="$what" -v k="$kind" '{ s += $1; t += $2; e += $3; r += $4 }
			END { printf "%-36s %-5s %8.0f %12d %9d %8s\n", w, k, s, t, e, $4 == "-" ? "-" : r }' "$tmp/false-$prog-$kind"
	done
done
echo "(busy: $BUSY busy loop(s) in UML; expiries: the backup's dead timer ran out; refused: heartbeats refused, luaha only)"
exit 0
