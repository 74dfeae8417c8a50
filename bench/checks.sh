#!/bin/bash
# bench/checks.sh: inside UML (tests/uml/run bench/checks.sh): health-check cost, luaha against keepalived's TCP_CHECK.
# SPDX-License-Identifier: GPL-2.0-or-later
# For 100, 500 and 1000 real servers checked every second: CPU per check, checks per second (and the
# share of the scheduled checks done: n a second), RSS.
# luaha runs two kinds of check: connect (nanny's, as keepalived's TCP_CHECK) and half-open
# (half_open = 1: a SYN, no connection); the checks counted are those that passed.
# The checker runs with the garbage collector's settings of policies/piranha.lua (its top-level
# collectgarbage line, if it has one), or LUAHA_GC's (a line of Lua; UML_PASSENV=LUAHA_GC passes it).
# Other UML instances on the host inflate the CPU time a UML accounts (its clock runs while the host
# runs something else): luaha and keepalived are measured REPEAT times (2) each, in turn, and the
# least CPU per check of each is compared; every measurement is printed after it. RSS is the
# last run's.
cd "$(dirname "$0")/.." || exit 2
gc=${LUAHA_GC-$(grep -m1 '^collectgarbage(' policies/piranha.lua)}
echo "luaha's garbage collector: ${gc:-the defaults of Lua}"
NPORTS=10 FIRST=10001 SECONDS_=10 REPEAT=${REPEAT:-2}
ip link add name dummy0 type dummy && ip link set dummy0 up || exit 1
for i in $(seq 1 100); do ip addr add 198.51.100.$i/32 dev dummy0; done
ip addr add 192.0.2.1/32 dev dummy0
out=$(mktemp -d)
./luaha bench/check-listener.lua $FIRST $NPORTS "$out/count" > /dev/null 2>&1 &
listener=$!
sleep 2
count() { cat "$out/count" 2> /dev/null || echo 0; }
cpu_of() { local t=0 p; for p in "$@"; do set -- $(sed 's/^.*) //' /proc/$p/stat); t=$((t + ${12} + ${13})); done; echo $t; }

for n in 100 500 1000; do
	# keepalived: the same servers, TCP_CHECK every second, checker only (-C), in the foreground.
	{
		echo 'global_defs { router_id bench }'
		echo 'virtual_server 192.0.2.1 80 { delay_loop 1'
		echo '  lb_algo rr'
		echo '  lb_kind DR'
		echo '  protocol TCP'
		for i in $(seq 0 $((n - 1))); do
			echo "  real_server 198.51.100.$((1 + i / NPORTS)) $((FIRST + i % NPORTS)) { TCP_CHECK { connect_timeout 1 } }"
		done
		echo '}'
	} > "$out/keepalived.conf"
	runs=""
	for r in $(seq 1 "$REPEAT"); do
		set -- $(HALF_OPEN=0 ./luaha ${gc:+-e "$gc"} bench/check-luaha.lua $n $SECONDS_ $FIRST $NPORTS "$out/count" 2> "$out/connect.log")
		lcpu=$1 lwall=$2 checks=$9 lrss=$4 lheap=${10:-0}
		set -- $(HALF_OPEN=1 ./luaha ${gc:+-e "$gc"} bench/check-luaha.lua $n $SECONDS_ $FIRST $NPORTS "$out/count" 2> "$out/half-open.log")
		hcpu=$1 hwall=$2 hchecks=$9 hrss=$4 hheap=${10:-0}
		# Checks that failed (the checker's count by reason), and errors.
		grep -h -i -e 'failed checks' -e traceback -e ' err: ' "$out/connect.log" "$out/half-open.log" | sed "s/^/     $n, run $r: /" | head -4
		keepalived -n -C -l -f "$out/keepalived.conf" -p "$out/ka.pid" -c "$out/ka-check.pid" > /dev/null 2>&1 &
		ka=$!
		sleep 2
		pids=$(pgrep -x keepalived | paste -sd' ')
		k0=$(cpu_of $pids) kc0=$(count)
		sleep $SECONDS_
		kcpu=$(( $(cpu_of $pids) - k0 )) kchecks=$(( $(count) - kc0 ))
		krss=0; for p in $pids; do krss=$((krss + $(awk '/VmRSS/ {print $2}' /proc/$p/status))); done
		kill $ka; wait $ka 2> /dev/null; ipvsadm -C
		runs="$runs $lcpu $lwall $checks $lrss $kcpu $kchecks $krss $hcpu $hwall $hchecks $hrss $lheap $hheap"
	done
	awk -v n=$n -v s=$SECONDS_ -v runs="$runs" 'BEGIN {
		k = split(runs, v, " ")
		for (i = 1; i <= k; i += 13) {
			lper = v[i + 2] ? v[i] / v[i + 2] * 1000 : 0; kper = v[i + 5] ? v[i + 4] / 100 / v[i + 5] * 1000 : 0
			hper = v[i + 9] ? v[i + 7] / v[i + 9] * 1000 : 0
			if (i == 1 || lper < lmin) { lmin = lper; lk = v[i + 2] / v[i + 1] }
			if (i == 1 || hper < hmin) { hmin = hper; hk = v[i + 9] / v[i + 8] }
			if (i == 1 || kper < kmin) { kmin = kper; kk = v[i + 5] / s }
			lr = v[i + 3]; kr = v[i + 6]; hr = v[i + 10]; lh = v[i + 11]; hh = v[i + 12]
			each = each sprintf(" %.3f/%.3f/%.3f", lper, hper, kper)
		}
		printf "%4d real servers: luaha connect %.3f ms CPU/check, %.0f checks/s, RSS %.1f MiB | luaha half-open %.3f ms, %.0f checks/s, RSS %.1f MiB | keepalived %.3f ms CPU/check, %.0f checks/s, RSS %.1f MiB\n",
			n, lmin, lk, lr / 1024, hmin, hk, hr / 1024, kmin, kk, kr / 1024
		printf "     ratio to keepalived, CPU per check: connect %.2fx, half-open %.2fx (target <= 0.5x)\n",
			(kmin ? lmin / kmin : 0), (kmin ? hmin / kmin : 0)
		printf "     each run, luaha connect/half-open/keepalived ms CPU per check:%s\n", each
		# Every server is due once a second: the checks done in time are those done per second over n.
		printf "     Lua heap per real server (its monitor and running probe): connect %d bytes, half-open %d bytes\n", lh, hh
		printf "     scheduled checks done: luaha connect %.1f%%, half-open %.1f%%, keepalived %.1f%% (target >= 99.5%% at 1000)\n",
			lk / n * 100, hk / n * 100, kk / n * 100 }'
done
kill $listener
rm -rf "$out"
