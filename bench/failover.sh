#!/bin/bash
# bench/failover.sh: inside UML (tests/uml/run bench/failover.sh): failover time of luaha against keepalived's VRRP, and false failovers under CPU load.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run: make bench-heartbeat, or UML_MEM=512M UML_TIMEOUT=2400 bench/hostload.sh tests/uml/run bench/failover.sh
# Environment (passed in with UML_PASSENV="FALSE_SECS ..."): LUAHA_TRIALS (10), KA_TRIALS (10, keepalived
# VRRPv3 advert_int 0.01), KA1_TRIALS (2, keepalived VRRPv2 advert_int 1), FALSE_SECS (120 s with BUSY
# busy loops, default 2, for each program), IDLE_SECS (0 s without), KA_FALSE (1: keepalived-0.01 left
# alone as well, in turns with luaha), FALSE_DEADTIME (0.03: luaha's deadtime there), SLOW_SECS (60 s of
# luaha at keepalive 0.1 / deadtime 0.5 with BUSY busy loops; 0: none), KA_SLOW (0; 1: keepalived at
# advert_int 0.1 in turns with it), PROBE_INTERVAL (0.002 s between requests), LUAHA_STANDBY (1: luaha's
# passive router keeps a standby table, `standby_table = 1`, as keepalived's backup keeps its table; 0: empty). The defaults take about
# 12 minutes on a 2-core host; the issue's figures are FALSE_SECS=300 SLOW_SECS=300 LUAHA_TRIALS=20
# KA_TRIALS=20. Logs are left in $UML_OUT/failover/; the host's load (bench/hostload.sh) is printed with
# the figures.
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
# Last, false failovers: the settled pair left alone, idle and with the CPU busy, transitions counted,
# and r1's heartbeats timed as they arrive in r2 (bench/arrivals.py: the gaps between them).
cd "$(dirname "$0")/.." || exit 2
name=failover
LUAHA=${LUAHA:-./luaha}
LUAHA_TRIALS=${LUAHA_TRIALS:-10} KA_TRIALS=${KA_TRIALS:-10} KA1_TRIALS=${KA1_TRIALS:-2}
FALSE_SECS=${FALSE_SECS:-120} IDLE_SECS=${IDLE_SECS:-0} KA_FALSE=${KA_FALSE:-1} FALSE_DEADTIME=${FALSE_DEADTIME:-0.03}
SLOW_SECS=${SLOW_SECS:-60} KA_SLOW=${KA_SLOW:-0} LUAHA_STANDBY=${LUAHA_STANDBY:-1}
BUSY=${BUSY:-2} PROBE_INTERVAL=${PROBE_INTERVAL:-0.002}
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
. bench/pair.bash

busy=() discards=0
cleanup()
{
	local p
	for p in "${busy[@]}" "${capture_pid:-}"; do [ -n "$p" ] && kill -9 "$p" 2> /dev/null; done
	if [ -n "${UML_OUT:-}" ]; then
		mkdir -p "$UML_OUT/failover" && cp "$tmp"/*.log "$tmp"/*.conf "$tmp"/probe-* "$tmp"/gaps-* "$UML_OUT/failover/" 2> /dev/null
	fi
	seed_cleanup
	ip netns exec r1 true 2> /dev/null && echo "cleanup: namespace r1 left behind"
}
trap cleanup EXIT

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

# log_epoch: awk function turning luaha's "YYYY-MM-DD HH:MM:SS.mmm" ($1 $2) into seconds since the epoch.
log_epoch='function log_epoch(d, t,   a, b) {
	split(d, a, "-"); split(t, b, ":")
	return mktime(a[1] " " a[2] " " a[3] " " b[1] " " b[2] " 0") + b[3]
}'

# matches_after FILE N REGEX: a line after the first N lines of FILE matches REGEX (no fork).
matches_after()
{
	local -a l
	local line
	mapfile -t -s "$2" l < "$1"
	for line in "${l[@]}"; do [[ $line =~ $3 ]] && return 0; done
	return 1
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
	if [ "$took" = none ]; then
		# Seen when the host is so busy that the pair flaps: said, counted and left out, as a false failover is.
		discards=$((discards + 1))
		mv "$out" "$out-discarded-$discards"
		echo "$label trial $n discarded: no request answered in $secs s after the kill ($(wc -l < "$out-discarded-$discards") lines from the probe, last: $(tail -1 "$out-discarded-$discards"))$(explain_"${label%%-*}" "$t0")"
		return 1
	fi
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
# (Its start is not t0: trial sets that one, and bash's locals are seen by the functions called.)
run_trials()
{
	local label=$1 trials=$2 n=1 discarded=0 started=$EPOCHREALTIME
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
	host_load
	echo "$label: $((n - 1)) trials timed, $discarded discarded, in $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s; $load"
}

# explain_luaha T0: where r2's time went, from its log (milliseconds): when its heartbeat part found r1
# dead, when it had the VIP up and how long its activation (VIP and the first gratuitous ARP sent) took,
# when the work part had programmed IPVS (its log line comes once the kernel said yes; none with a standby table).
explain_luaha()
{
	awk -v t0="$1" "$log_epoch"'
		{ t = log_epoch($1, $2) }
		t < t0 - 0.001 { next }
		/partner dead: activating lvs/ && !dead { dead = t }
		/ up on / && dead && !up { up = t }
		/now active \(partner dead/ && !act { act = $0; sub(/.* in /, "", act); sub(/ s$/, "", act) }
		/ipvsadm -A .*\(activate\)$/ && dead && !ipvs { ipvs = t }
		END {
			if (!dead) exit
			printf "; r2: partner dead at +%.3f s, VIP up at +%.3f, activation took %s s", dead - t0, up - t0, act
			if (ipvs) printf ", IPVS programmed at +%.3f", ipvs - t0; else printf ", IPVS in place (standby table)"
		}' "$tmp/r2.log"
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
	vip_only_on r1 && table_has_servers r1 && served_by r1 &&
		if [ "$LUAHA_STANDBY" = 1 ]; then table_has_servers r2; else ! ip netns exec r2 ipvsadm -Ln | grep -q TCP; fi
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

# luaha_start [KEEPALIVE DEADTIME]: r1 first: alone for deadtime (default 0.03 s) it activates, and r2 finds it active.
luaha_start()
{
	local extra=()
	[ "$LUAHA_STANDBY" = 1 ] && extra=("standby_table = 1")
	KEEPALIVE=${1:-0.01} DEADTIME=${2:-0.03} seed_config "${extra[@]}"
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
# (UML's CPU is a host thread) changes over minutes. Then luaha at keepalive 0.1 s, deadtime 0.5 s with the
# CPU busy (kind slow), alone or in turns with keepalived at advert_int 0.1 (KA_SLOW=1).

# The timers of each kind: luaha's keepalive and deadtime, keepalived's advert_int.
timers_idle="0.01 $FALSE_DEADTIME 0.01" timers_busy="0.01 $FALSE_DEADTIME 0.01" timers_slow="0.1 0.5 0.1"

# quiet_run PROG KIND SECS LOOPS: PROG's settled pair left alone for SECS with LOOPS busy loops; nothing
# here forks while it runs. Prints a line and adds "secs transitions expiries refused" to $tmp/false-PROG-KIND,
# the gaps between r1's heartbeats as r2 got them to $tmp/gaps-PROG-KIND.
quiet_run()
{
	local prog=$1 kind=$2 secs=$3 loops=$4 i w0 w1 c0 b0 pids f1 f2 t1 t2 p
	busy=()
	for ((i = 0; i < loops; i++)); do
		sh -c 'while :; do :; done' &
		busy+=($!)
	done
	pids=
	for p in $(procs_of r1) $(procs_of r2); do [ "$p" != "$capture_pid" ] && pids+=" $p"; done
	# shellcheck disable=SC2086
	cpu_ticks $pids; c0=$ticks
	cpu_ticks "${busy[@]}"; b0=$ticks
	lines_in "$tmp/r1.log"; f1=$lines
	lines_in "$tmp/r2.log"; f2=$lines
	w0=$EPOCHREALTIME
	nap "$secs"
	w1=$EPOCHREALTIME
	host_load
	lines_in "$tmp/r1.log"; t1=$lines
	lines_in "$tmp/r2.log"; t2=$lines
	# shellcheck disable=SC2086
	cpu_ticks $pids; c0=$((ticks - c0))
	cpu_ticks "${busy[@]}"; b0=$((ticks - b0))
	((loops > 0)) && { kill -9 "${busy[@]}"; wait "${busy[@]}"; } 2> /dev/null
	busy=()
	gap_list "$arrivals" "$w0" "$w1" > "$tmp/gaps-now"
	cat "$tmp/gaps-now" >> "$tmp/gaps-$prog-$kind"
	set -- $(window_counts "$prog" "$f1" "$t1" "$f2" "$t2") $(gap_summary 1 < "$tmp/gaps-now")
	echo "$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", b - a }') $1 $2 $3" >> "$tmp/false-$prog-$kind"
	awk -v c="$c0" -v b="$b0" -v w0="$w0" -v w1="$w1" -v t="$1" -v e="$2" -v r="$3" -v loops="$loops" -v p="$prog" \
		-v k="$kind" -v a="$(active_router)" -v n="$4" -v g="$7" -v load="$load" 'BEGIN {
		printf "false failovers, %-10s %-4s %3.0f s, %d busy loop(s) with %3.0f%% of the CPU: %2d transitions, %2d backup dead-timer expiries, %s heartbeats refused; routers %.1f%% CPU (tick-sampled); r1 heard %d times by r2, longest gap %s s; active at the end: %s; %s\n",
			p, k, w1 - w0, loops, b / (w1 - w0), t, e, r, c / (w1 - w0), n, g, a, load }'
	if [ "$prog" = luaha ] && [ "$1" -gt 0 ]; then
		for i in r1 r2; do
			eval "window_lines \"\$tmp/$i.log\" \$f${i#r} \$t${i#r}" |
				grep -E "activating lvs|deactivating LVS|no heartbeat" | grep -v -E " (de)?activating: " | head -8 | sed "s/^/    $i: /"
		done
	fi
}

# pair_up PROG KIND: PROG's two routers started with KIND's timers and settled (r1 active), r2 timing r1's heartbeats.
pair_up()
{
	local -a t
	eval "t=(\$timers_$2)"
	if [ "$1" = luaha ]; then
		luaha_start "${t[0]}" "${t[1]}"
		until_ok luaha_settled || until_ok luaha_settled || fail "false failovers: luaha's r1 is not the only active router"
	else
		ka_pair_start "${t[2]}" 3
		until_ok ka_settled || until_ok ka_settled || fail "false failovers: keepalived's r1 is not the only master"
	fi
	capture "$1" "false-$1-$2"
}

# false_failovers KIND SECS LOOPS KA: PROG's pairs left alone in turns, in chunks of 60 s at most; KA: keepalived's too.
false_failovers()
{
	local kind=$1 secs=$2 loops=$3 left=$2 chunk=0 c prog progs
	while ((left > 0)); do
		c=$((left < 60 ? left : 60)) chunk=$((chunk + 1))
		progs="luaha keepalived"
		((chunk % 2 == 0)) && progs="keepalived luaha"
		[ "$4" = 1 ] || progs=luaha
		for prog in $progs; do
			pair_up "$prog" "$kind"
			quiet_run "$prog" "$kind" "$c" "$loops"
			capture_stop
			routers_stop
			logs_aside "false-$prog-$kind-$chunk"
		done
		left=$((left - c))
	done
}

false_failovers idle "$IDLE_SECS" 0 "$KA_FALSE"
false_failovers busy "$FALSE_SECS" "$BUSY" "$KA_FALSE"
false_failovers slow "$SLOW_SECS" "$BUSY" "$KA_SLOW"

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
[ "$LUAHA_STANDBY" = 1 ] && echo "(luaha with standby_table = 1: its passive router keeps the table, as keepalived's backup does)"
echo "(discarded: trials not counted because their start was not settled (a false failover before the kill, or one under way at it) or nothing answered after it)"
awk -v l="$p50_luaha" -v k="$p50_ka" 'BEGIN {
	if (l == "-" || k == "-") { print "ratio luaha p50 / keepalived-0.01 p50: not measured"; exit }
	printf "ratio luaha p50 / keepalived-0.01 p50: %.2fx; target: at most 0.80x (%.4f s): %s\n",
		l / k, 0.8 * k, (l + 0 <= 0.8 * k ? "met" : "NOT met") }'
echo
echo "false failovers: transitions after start-up (2 per false failover: the backup takes over, then stands down), and"
echo "the gaps between r1's heartbeats as they arrived in r2 (kernel stamps, seconds; nearest rank; late: longer than the deadtime or VRRP's master down interval)"
printf '%-36s %-5s %7s %11s %8s %7s %6s %7s %7s %5s\n' program load seconds transitions expiries refused gaps p99.9 max late
for kind in idle busy slow; do
	eval "set -- \$timers_$kind"
	for prog in luaha keepalived; do
		[ -f "$tmp/false-$prog-$kind" ] || continue
		what="luaha keepalive $1 deadtime $2" late=$2
		[ $prog = keepalived ] && what="keepalived VRRPv3 advert_int $3" late=$(awk -v a="$3" 'BEGIN { print 3 * a + 156 / 256 * a }')
		load=$kind
		[ $kind = slow ] && load=busy
		g=$(gap_summary "$late" < "$tmp/gaps-$prog-$kind")
		awk -v w="$what" -v k="$load" -v g="$g" '{ s += $1; t += $2; e += $3; r += $4 }
			END { split(g, x, " ")
				printf "%-36s %-5s %7.0f %11d %8d %7s %6d %7s %7s %5d\n", w, k, s, t, e, $4 == "-" ? "-" : r, x[1], x[3], x[4], x[5]
				print t > "/dev/stderr" }' "$tmp/false-$prog-$kind" 2> "$tmp/transitions-$prog-$kind"
	done
done
echo "(busy: $BUSY busy loop(s) in UML; expiries: the backup's dead timer ran out; refused: heartbeats refused, luaha only)"
t() { cat "$tmp/transitions-$1" 2> /dev/null || echo -; }
echo "target (busy, luaha keepalive 0.1 deadtime 0.5: no transition): $(case $(t luaha-slow) in 0) echo met;; -) echo not measured;; *) echo "NOT met ($(t luaha-slow) transitions)";; esac)"
awk -v l="$(t luaha-busy)" -v k="$(t keepalived-busy)" 'BEGIN {
	if (l == "-" || k == "-") { print "target (busy, luaha keepalive 0.01 fewer transitions than keepalived advert_int 0.01): not measured"; exit }
	printf "target (busy, luaha keepalive 0.01 fewer transitions than keepalived advert_int 0.01): %s (%d against %d)\n",
		(l + 0 < k + 0 ? "met" : "NOT met"), l, k }'
exit 0
