#!/bin/bash
# bench/coldstart.sh: inside UML (tests/uml/run bench/coldstart.sh): start of the process to the whole IPVS table, luaha against keepalived.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run: UML_MEM=1G UML_TIMEOUT=1500 tests/uml/run bench/coldstart.sh
# Environment (UML_PASSENV passes them in): SERVICES (2300), SERVERS (37000), LUAHA (./luaha), KA_CHECK (1),
# LUAHA_BEFORE (another luaha binary measured first in the same run, for before and after a change);
# GROWTH=1: 10x (23 000 services / 370 000 real servers, 100 ports a VIP) unless SERVICES and SERVERS say otherwise,
# and keepalived without checkers only (KA_CHECK=0: at ~700 checks a second in UML, its first round of 370 000
# would take some 9 minutes).
#
# The configuration is bench/reload.sh's (bench/genconf.bash): SERVICES direct-routing services with
# SERVERS real servers among them, on 160 addresses and 10 ports, so 1600 distinct checks; the real
# servers answer on the router itself (bench/check-listener.lua). Each daemon starts cold in a network
# namespace of its own (an empty IPVS table, no dest trash), one after the other:
#   luaha        policies/piranha.lua alone (backup_active = 0), a TCP connect check per real server
#                (every 10 s; one probe per address and port), every real server out until its first
#                check passes;
#   keepalived   2.2, the same virtual_server and real_server blocks, twice: with a TCP_CHECK on every
#                real server (delay_loop 10, connect_timeout 3) and `alpha`, so that each real server
#                too enters only after a passing check; and without any checker (every real server in
#                at once, keepalived's best case).
# Measured: from just before the process is started to the last real server added to the kernel's
# table, from the daemons' log lines, stamped as they come (luaha's carry milliseconds; keepalived's
# are stamped by a reader, after a grep that keeps only the lines needed); the kernel's table is read
# afterwards to see that every real server is there. luaha's time is split where it goes: reading
# and checking the configuration and making the model (process start to "STARTING PULSE"), the
# first checks (to the last "making ... available"), and the table (to the last `ipvsadm -a`).
# The last lines give the ratios: keepalived / luaha (above 1, luaha is faster; target 20x with
# checkers). The work part's CPU time is printed too. Exit status 1 if a FAIL line was printed.
cd "$(dirname "$0")/.." || exit 2
LUAHA=${LUAHA:-./luaha} LUAHA_BEFORE=${LUAHA_BEFORE:-}
. bench/genconf.bash
if [ -n "${GROWTH:-}" ]; then
	SERVICES=${SERVICES:-23000} SERVERS=${SERVERS:-370000} GEN_NPORTS=100 KA_CHECK=${KA_CHECK:-0}
fi
KA_CHECK=${KA_CHECK:-1}
SERVICES=${SERVICES:-2300} SERVERS=${SERVERS:-37000}
NVIP=$(((SERVICES + GEN_NPORTS - 1) / GEN_NPORTS))
tmp=$(mktemp -d) || exit 2
pids=() failed=0
miss() { echo "FAIL coldstart: $*"; failed=1; }
cleanup()
{
	local p ns
	for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
	for ns in lh ka1 ka2; do
		ip netns pids "$ns" 2> /dev/null | xargs -r kill -9
		ip netns del "$ns" 2> /dev/null
	done
	if [ -n "${UML_OUT:-}" ]; then
		mkdir -p "$UML_OUT/coldstart" && cp "$tmp"/*.log "$UML_OUT/coldstart/" 2> /dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# nap SECS: sleep without a fork (a fork costs 50-140 ms in UML): a read with a timeout on a FIFO nobody writes.
mkfifo "$tmp/nap" && exec {nap_fd}<> "$tmp/nap" || exit 2
nap() { read -r -t "$1" -u "$nap_fd"; }

# wait_for SECS CMD...: run CMD every second until it succeeds, at most SECS times.
wait_for()
{
	local n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		nap 1
		n=$((n - 1))
	done
	return 1
}

# The host's load (bench/hostload.sh keeps it where UML sees it), printed with each figure.
hostload() { local a b c; read -r a b c _ < "${UML_OUT:-/run/out}/hostload" 2> /dev/null && echo "host load $a $b $c" || echo "host load unknown"; }
echo "$(hostload); $SERVICES services, $SERVERS real servers, $((GEN_NRS * GEN_NPORTS)) distinct checks"
{
	printf 'serial_no = 1\nservice = lvs\nnetwork = direct\nbackup_active = 0\nreconcile = 3600\n'
	printf 'garp_count = 0\ngarp_refresh = 0\n'
	genconf_virtuals lvs "$SERVICES" "$SERVERS" a
} > "$tmp/lvs.cf" || exit 1
{
	printf 'global_defs {\n  router_id bench\n}\n'
	genconf_virtuals ka "$SERVICES" "$SERVERS" a
} > "$tmp/ka-plain.conf" || exit 1
# The same blocks with a checker on each real server, entering only after a passing check (alpha).
awk '/^virtual_server/ { print; print "  delay_loop 10"; print "  alpha"; next }
	/^  real_server/ { sub(/\{$/, "{\n    TCP_CHECK {\n      connect_timeout 3\n    }") } { print }' \
	"$tmp/ka-plain.conf" > "$tmp/ka-check.conf" || exit 1

namespace()
{
	ip netns add "$1" && ip -n "$1" link set lo up && genconf_addresses "$1" "$NVIP"
}
dests_in() { ip netns exec "$1" ipvsadm -Ln | grep -c ' Route '; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# stamp: each line of stdin with the wall clock when it came.
stamp() { "$LUAHA" -e 'local luaha = require "luaha"
for line in io.lines() do io.write(("%.3f "):format(luaha.time()), line, "\n") io.flush() end' /dev/null; }

# epoch "2026-11-26 02:46:04.890": luaha's local-time log stamp in seconds since the epoch.
epoch() { echo "$(date -d "${1%.*}" +%s).${1##*.}"; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
at_of() { epoch "${1%% info:*}"; }	# a luaha log line's time

# What a log line costs here: luaha logs a line for each real server it starts to monitor, each
# that passes its first check and each it adds, and in UML each line is a write (a system call).
"$LUAHA" -e 'local luaha = require "luaha"
local log, n = luaha.log.prefixed("lvs"), 5000
local t0 = luaha.now()
for i = 1, n do log.info("ipvsadm -a -t 198.51.100.1:10001 -r 203.0.113.%d:10001 -g -w 1 (health)", i % 160) end
local per = (luaha.now() - t0) / n
io.stdout:write(("a log line (to a file) costs %.0f us here: 3 x %d lines, %.1f s\n"):format(per * 1e6, '"$SERVERS"', 3 * '"$SERVERS"' * per))' \
	2> "$tmp/logcost.txt"

# run_luaha BIN N: one cold start of luaha's piranha (the binary BIN) in namespace lh, logged in luaha-N.log; sets l_total.
run_luaha()
{
	local LUAHA=$1 log=$tmp/luaha-$2.log budget= lh t0 cpu started activated checked last n early ops dels
	namespace lh || { echo "FAIL coldstart: namespace lh"; exit 1; }
	budget=
	if ! "$LUAHA" policies/piranha.lua -c "$tmp/lvs.cf" --check > "$tmp/check.log" 2>&1; then
		grep -q 'exceeded its budget' "$tmp/check.log" || { echo "FAIL coldstart: lvs.cf rejected"; head -5 "$tmp/check.log"; exit 1; }
		echo "BUG luaha: policies/piranha.lua cannot load this lvs.cf ($SERVERS real servers); measured with a larger budget"
		budget='local l = require "luaha"; l.set_budget(2000000000); l.sleep(0)'
	fi
	ip netns exec lh "$LUAHA" bench/check-listener.lua $GEN_FIRST $GEN_NPORTS "$tmp/count" > /dev/null 2>&1 &
	pids+=($!)
	nap 2
	# A ticker in the work part every 5 ms logs, each second, the largest gap between two of its ticks
	# less 5 ms: how long something held the loop (the heartbeat part has its own loop, unaffected).
	ticker='local l = require "luaha"; local last, max = l.now(), 0
	l.every(0.005, function() local n = l.now(); if n - last - 0.005 > max then max = n - last - 0.005 end; last = n end)
	l.every(1, function() if max > 0.002 then l.log.info("bench: loop gap %.1f ms", max * 1000) end; max = 0 end)'
	t0=$EPOCHREALTIME
	ip netns exec lh "$LUAHA" ${budget:+-e "$budget"} -e "$ticker" policies/piranha.lua -c "$tmp/lvs.cf" --foreground > "$log" 2>&1 &
	lh=$!
	pids+=($lh)
	added() { [ "$(grep -c ' lvs: ipvsadm -a ' "$log")" -ge "$SERVERS" ]; }
	wait_for 600 added || { miss "luaha's table did not reach $SERVERS real servers in 600 s"; tail -5 "$log"; }
	cpu=$(cpu_ticks $lh)
	nap 3
	started=$(grep -m1 'STARTING PULSE' "$log") activated=$(grep -m1 ' lvs: activating' "$log")
	checked=$(grep 'making .* available' "$log" | tail -1) last=$(grep ' lvs: ipvsadm -a ' "$log" | tail -1)
	if [ -n "$last" ] && [ -n "$started" ] && [ -n "$checked" ]; then
		l_total=$(since "$(at_of "$last")" "$t0")
		echo "luaha: the whole table ($SERVERS real servers) $l_total s after start; read and model $(since "$(at_of "$started")" "$t0") s," \
			"activated at $(since "$(at_of "$activated")" "$t0") s, the last first check passed at $(since "$(at_of "$checked")" "$t0") s," \
			"table $(since "$(at_of "$last")" "$(at_of "$checked")") s after it; $cpu ticks of CPU in the work part; $(hostload)"
		# The loop's largest gaps (the ticker below), from the activation on: what the health changes held it.
		awk -v sa="${activated:0:23}" '/ bench: loop gap / { g = $(NF - 1) + 0; if (g > all) all = g
			if (substr($0, 1, 23) >= sa && g > after) after = g }
			END { printf "  luaha: the work part'"'"'s loop held at most %.1f ms in all, %.1f ms from the activation on (5 ms ticker)\n", all, after }' "$log"
		ops=$(grep -c ' lvs: ipvsadm ' "$log") dels=$(grep -c ' lvs: ipvsadm -d ' "$log")
		echo "  luaha: $ops operations logged, $dels deletions"
		[ "$dels" = 0 ] || miss "luaha deleted $dels real servers at a cold start where every check passes"
	fi
	n=$(dests_in lh)
	[ "$n" = "$SERVERS" ] || miss "luaha's table has $n real servers, not $SERVERS"
	early=$(awk '/making .* available/ { a++ } / lvs: ipvsadm -a / { if (++d > a) bad++ } END { print bad + 0 }' "$log")
	[ "$early" = 0 ] || miss "luaha added $early real servers before as many first checks had passed"
	grep -q -i traceback "$log" && { miss "a traceback in luaha's log"; grep -i -m3 -A5 traceback "$log"; }
	kill $lh; wait $lh 2> /dev/null
	ip netns pids lh | xargs -r kill -9
	ip netns del lh
}

# --- luaha (and, with LUAHA_BEFORE, another binary first: before and after a change, in the same run) ---
k=0 l_all=
for bin in $LUAHA_BEFORE "$LUAHA"; do
	k=$((k + 1))
	echo "luaha binary $bin:"
	run_luaha "$bin" $k
	l_all="$l_all $bin ${l_total:-?} s"
done
[ -n "$LUAHA_BEFORE" ] && echo "luaha, same run:$l_all"

# --- keepalived, with checkers and without ---
k_check= k_plain=
kinds=plain
[ "$KA_CHECK" = 1 ] && kinds="check plain"
for kind in $kinds; do
	ns=ka1; [ $kind = plain ] && ns=ka2
	namespace $ns || { echo "FAIL coldstart: namespace $ns"; exit 1; }
	ip netns exec $ns "$LUAHA" bench/check-listener.lua $GEN_FIRST $GEN_NPORTS "$tmp/count-$kind" > /dev/null 2>&1 &
	pids+=($!)
	nap 2
	: > "$tmp/keepalived-$kind.log"
	t0=$EPOCHREALTIME
	ip netns exec $ns keepalived -n -l -D -C -f "$tmp/ka-$kind.conf" -p "$tmp/ka-$kind.pid" -c "$tmp/ka-$kind-check.pid" 2>&1 |
		grep --line-buffered -e 'Adding service' -e 'Startup complete' | stamp > "$tmp/keepalived-$kind.log" &
	pids+=($!)
	if [ $kind = check ]; then
		done_() { [ "$(grep -c 'Adding service' "$tmp/keepalived-$kind.log")" -ge "$SERVERS" ]; }
	else
		done_() { grep -q 'Startup complete' "$tmp/keepalived-$kind.log"; }
	fi
	wait_for 900 done_ || miss "keepalived ($kind) did not reach $SERVERS real servers in 900 s"
	pid=$(cat "$tmp/ka-$kind.pid" 2> /dev/null) cpid=$(cat "$tmp/ka-$kind-check.pid" 2> /dev/null)
	cpu=$(( $(cpu_ticks "$pid") + $(cpu_ticks "$cpid") ))
	if [ $kind = check ]; then
		last=$(grep 'Adding service' "$tmp/keepalived-$kind.log" | tail -1)
	else
		last=$(grep 'Startup complete' "$tmp/keepalived-$kind.log" | tail -1)
	fi
	secs=$(since "${last%% *}" "$t0")
	n=$(dests_in $ns)
	echo "keepalived ($([ $kind = check ] && echo "TCP_CHECK, alpha" || echo "no checker")): the whole table ($n real servers) $secs s after start; $cpu ticks of CPU; $(hostload)"
	[ "$n" = "$SERVERS" ] || miss "keepalived ($kind) has $n real servers, not $SERVERS"
	[ $kind = check ] && k_check=$secs || k_plain=$secs
	kill "$pid" 2> /dev/null
	nap 6
	ip netns pids $ns | xargs -r kill -9
	ip netns del $ns
done

awk -v l="${l_total:-0}" -v c="${k_check:-0}" -v p="${k_plain:-0}" -v s="$SERVERS" 'BEGIN {
	printf "cold start, %d real servers: luaha %.2f s, keepalived with checkers %.2f s (%.1fx luaha), without %.2f s (%.1fx); target: 20x with checkers\n",
		s, l, c, l ? c / l : 0, p, l ? p / l : 0 }'
exit $failed
