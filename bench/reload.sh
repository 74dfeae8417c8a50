#!/bin/bash
# bench/reload.sh: inside UML (tests/uml/run bench/reload.sh): SIGHUP to applied IPVS table, luaha's piranha against keepalived.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run: UML_MEM=512M UML_TIMEOUT=1800 bench/hostload.sh tests/uml/run bench/reload.sh
# Environment (UML_PASSENV passes them in): SERVICES (2300), SERVERS (37000), RELOADS (3),
# CHANGED_PCT ("1 10": the shares of the real servers a reload changes, one session of each daemon for each).
#
# The configuration: SERVICES direct-routing services on 198.51.100.1-230, ports 10001-10010, with
# SERVERS real servers among them (16 or 17 a service) on 203.0.113.1-160, weight 1; the VIPs and
# those addresses are on a dummy interface (piranha finds its VIPs there already). luaha's
# policies/piranha.lua runs standalone (no primary, backup_active = 0: active at once) and checks
# every real server (a TCP connect every 10 s); a server that fails its checks would leave the
# table, so luaha listeners (bench/check-listener.lua) answer on those ports: the checks pass, and
# as the probes are shared by the services that name the same server, it is 1600 probes, 160
# connects a second. keepalived 2.2 has the same virtual_server and real_server blocks without a
# checker (its best case: nothing to check, every real server is up). Each daemon runs in a
# network namespace of its own (an IPVS table and dest trash each), one after the other.
#
# For each share P in CHANGED_PCT, each daemon is started afresh (so that each P has a first reload
# after start), and once the whole table is in the kernel, P% of the real servers (every 100/P-th)
# change weight in the file (1 -> 2, then back, RELOADS times) and the daemon gets SIGHUP. Measured:
# from the signal to the table applied. luaha logs an `ipvsadm -e ... (reload)` line per operation
# once the operations are done (router.lua apply_now), its log lines carry milliseconds; keepalived
# logs "Changing weight from 1 to 2 for active service ..." per change and "Reload complete", which
# a luaha reader stamps as they arrive. The kernel's table is read afterwards to see that every
# changed weight is there. Each luaha reload's line gives where its time went, from
# "reload: N operations, T s (reading and checking, monitors, table)", and how long the work part's
# loop was held at most (bench/reload-gap.lua: a 2 ms ticker during the reload and 2 s after). The
# first reload of each is the slowest (memory touched for the first time, slow in UML). The last
# lines give, for each P, the first reload and the median of the later ones of both daemons and
# their ratios (luaha / keepalived: below 1, luaha is faster; the target is 0.5), with the host's
# load (bench/hostload.sh; "unknown" without it).
#
# Two bugs luaha had are still looked for, reported with BUG lines and worked around, so that the
# reload can still be measured: lvscf.load running out of the task's instruction budget on a file
# this size (a larger budget), and piranha taking healthy real servers out at start (a reload of
# the same file first). Exit status 1 if a FAIL line was printed.
cd "$(dirname "$0")/.." || exit 2
LUAHA=${LUAHA:-./luaha}
SERVICES=${SERVICES:-2300} SERVERS=${SERVERS:-37000} RELOADS=${RELOADS:-3} CHANGED_PCT=${CHANGED_PCT:-1 10}
NVIP=$(((SERVICES + 9) / 10))
tmp=$(mktemp -d) || exit 2
. bench/genconf.bash
pids=() failed=0
miss() { echo "FAIL reload: $*"; failed=1; }	# a FAIL that does not stop the measurement
cleanup()
{
	local p ns
	for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
	for ns in lh ka; do
		ip netns pids "$ns" 2> /dev/null | xargs -r kill -9
		ip netns del "$ns" 2> /dev/null
	done
	if [ -n "${UML_OUT:-}" ]; then
		mkdir -p "$UML_OUT/reload" && cp "$tmp"/*.log "$UML_OUT/reload/" 2> /dev/null
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

# host_load: the host's load averages in $load, as bench/hostload.sh leaves them (no fork).
host_load()
{
	local a b c
	if [ -n "${UML_OUT:-}" ] && read -r a b c _ 2> /dev/null < "$UML_OUT/hostload"; then
		load="host load $a $b $c"
	else
		load="host load unknown"
	fi
}

# The configurations (bench/genconf.bash): lvs.cf and keepalived.conf with every real server at weight 1
# (a), and for each share P, every 100/P-th real server at 2 (P; at most 100 apart).
gen()
{
	if [ "$1" = lvs ]; then
		printf 'serial_no = 1\nservice = lvs\nnetwork = direct\nbackup_active = 0\nreconcile = 3600\n'
		printf 'garp_count = 0\ngarp_refresh = 0\n'
	else
		printf 'global_defs {\n  router_id bench\n}\n'
	fi
	genconf_virtuals "$1" "$SERVICES" "$SERVERS" a
}
# changed STEP < a > P: every STEP-th real server's weight 1 becomes 2 (lvs.cf's `weight = 1` and
# keepalived's `weight 1`, the only lines at that indentation); the number changed on stderr.
changed()
{
	awk -v step="$1" '/^    weight (= )?1$/ { if (n++ % step == 0) { sub(/1$/, "2"); c++ } } { print }
		END { print c > "/dev/stderr" }'
}
gen lvs > "$tmp/lvs-a.cf" && gen ka > "$tmp/ka-a.conf" || exit 1
declare -A nchanged
for pct in $CHANGED_PCT; do
	step=$((100 / pct))
	[ "$step" -ge 1 ] && [ "$step" -le 100 ] || { echo "FAIL reload: CHANGED_PCT $pct is not 1-100"; exit 1; }
	changed "$step" < "$tmp/lvs-a.cf" > "$tmp/lvs-$pct.cf" 2> "$tmp/n" && nchanged[$pct]=$(cat "$tmp/n") &&
		changed "$step" < "$tmp/ka-a.conf" > "$tmp/ka-$pct.conf" 2> "$tmp/n" || exit 1
	[ "$(cat "$tmp/n")" = "${nchanged[$pct]}" ] || { echo "FAIL reload: the two $pct% files change different numbers"; exit 1; }
done

# namespace NS: a dummy interface with the VIPs and the real servers' addresses.
namespace()
{
	ip netns add "$1" && ip -n "$1" link set lo up && genconf_addresses "$1" "$NVIP"
}

# changed_in NS: how many real servers the kernel has at weight 2 (reads the whole table: ~10 s here).
changed_in() { ip netns exec "$1" ipvsadm -Ln | grep -c ' Route  *2 '; }
dests_in() { ip netns exec "$1" ipvsadm -Ln | grep -c ' Route '; }

# stamp: each line of stdin with the wall clock when it came, for keepalived's second-resolution log.
stamp() { "$LUAHA" -e 'local luaha = require "luaha"
for line in io.lines() do io.write(("%.3f "):format(luaha.time()), line, "\n") io.flush() end' /dev/null; }

# epoch "2026-11-26 02:46:04.890": luaha's local-time log stamp in seconds since the epoch.
epoch() { echo "$(date -d "${1%.*}" +%s).${1##*.}"; }

# luaha_rss: the resident memory (and its peak) of luaha's two processes: the work part ($lh) and
# the heartbeat part (its child started as `luaha --part ...`), each apart.
rss_of() { awk '/VmRSS/ { r = $2 } /VmHWM/ { h = $2 } END { printf "%.1f MiB (peak %.1f)", r / 1024, h / 1024 }' "/proc/$1/status"; }
luaha_rss()
{
	local p line rest cmd hb=
	# The heartbeat part: a process whose parent is $lh, started with --part (read without a fork where
	# possible: 50-140 ms each in UML; no /dev/fd there for a process substitution).
	for p in /proc/[0-9]*; do
		read -r line 2> /dev/null < "$p/stat" || continue
		rest=${line##*) }
		set -- $rest
		[ "$2" = "$lh" ] || continue
		cmd=$(tr '\0' ' ' < "$p/cmdline")		# a fork, for its one or two children only
		[[ "$cmd" == *"--part "* ]] && hb=${p#/proc/}
	done
	echo "work part $(rss_of $lh), heartbeat part $([ -n "$hb" ] && rss_of "$hb" || echo "not found")"
}

# lvs.cf never yields to the loop for long, but past some 5 000 real servers lvscf.load once ran out of
# the task's instruction budget (10 000 000) and the file could not be loaded. Said if it comes back,
# then worked around: a larger budget, which the task takes at its next resume, hence the sleep.
budget=
if ! "$LUAHA" policies/piranha.lua -c "$tmp/lvs-a.cf" --check > "$tmp/check.log" 2>&1; then
	grep -q 'exceeded its budget' "$tmp/check.log" || { echo "FAIL reload: lvs.cf rejected"; head -5 "$tmp/check.log"; exit 1; }
	echo "BUG luaha: policies/piranha.lua cannot load this lvs.cf ($SERVERS real servers):"
	head -3 "$tmp/check.log" | sed 's/^/  | /'
	budget='local l = require "luaha"; l.set_budget(2000000000); l.sleep(0)'
	"$LUAHA" -e "$budget" policies/piranha.lua -c "$tmp/lvs-a.cf" --check > "$tmp/check.log" 2>&1 ||
		{ echo "FAIL reload: lvs.cf rejected"; head -5 "$tmp/check.log"; exit 1; }
	echo "  (measured with luaha -e '$budget')"
fi

results=()
# luaha_session P: luaha started on lvs-a.cf, RELOADS reloads to P% changed and back.
luaha_session()
{
	local pct=$1 changes=${nchanged[$1]} r n nops quiet last dels downs before held c0 c1 t0 secs ops phases gap
	namespace lh || { echo "FAIL reload: namespace lh"; exit 1; }
	cp "$tmp/lvs-a.cf" "$tmp/lvs.cf"
	: > "$tmp/count"
	ip netns exec lh "$LUAHA" bench/check-listener.lua $GEN_FIRST $GEN_NPORTS "$tmp/count" > /dev/null 2>&1 &
	local listener=$!
	pids+=($listener)
	t0=$EPOCHREALTIME
	ip netns exec lh "$LUAHA" -e "${budget:+$budget; }dofile 'bench/reload-gap.lua'" policies/piranha.lua \
		-c "$tmp/lvs.cf" --foreground > "$tmp/luaha-$pct.log" 2>&1 &
	lh=$!
	pids+=($lh)
	local log=$tmp/luaha-$pct.log
	# Every monitor's first check passes ("making ... available"), then the table settles: no
	# operation logged for 5 s.
	checked() { [ "$(grep -c 'making .* available' "$log")" -ge "$SERVERS" ]; }
	wait_for 300 checked || { echo "FAIL reload: luaha's $SERVERS monitors not all up in 300 s"; tail -5 "$log"; exit 1; }
	nops=-1 quiet=0
	settled() {
		local k
		k=$(grep -c ' lvs: ipvsadm ' "$log")
		if [ "$k" = "$nops" ]; then quiet=$((quiet + 1)); else quiet=0 nops=$k; fi
		[ $quiet -ge 5 ]
	}
	wait_for 300 settled || { echo "FAIL reload: luaha's table did not settle in 300 s"; exit 1; }
	last=$(grep 'ipvsadm -a' "$log" | tail -1)
	echo "luaha ($pct%): $SERVICES services, $SERVERS real servers, the last added $(awk -v a="$(epoch "${last%% info:*}")" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s after start, RSS $(luaha_rss)"
	# Healthy servers taken out by a health change (no "shutting down" line for them) are a bug: say so,
	# and let a reload of the same file put them back before measuring.
	dels=$(grep -c 'ipvsadm -d .*(health)$' "$log") downs=$(grep -c 'shutting down' "$log")
	if [ "$dels" -gt 0 ] && [ "$downs" = 0 ]; then
		echo "BUG luaha: $dels healthy real servers removed by a health update at start, e.g.:"
		grep -m2 'ipvsadm -d .*(health)$' "$log" | sed 's/^/  | /'
		kill -HUP $lh
		repairing() { grep -q '(reload)$' "$log"; }
		wait_for 120 repairing || { echo "FAIL reload: luaha's reload of the same file did not repair the table"; exit 1; }
		quiet=0
		wait_for 300 settled || { echo "FAIL reload: luaha's table did not settle in 300 s"; exit 1; }
	fi
	n=$(dests_in lh)
	[ "$n" = "$SERVERS" ] || { echo "FAIL reload: luaha's table has $n real servers, not $SERVERS"; exit 1; }
	for r in $(seq 1 "$RELOADS"); do
		if [ $((r % 2)) = 1 ]; then cp "$tmp/lvs-$pct.cf" "$tmp/lvs.cf"; else cp "$tmp/lvs-a.cf" "$tmp/lvs.cf"; fi
		before=$(grep -c '(reload)$' "$log") held=$(grep -c 'bench: reload held the loop' "$log")
		host_load
		c0=$(cut -d' ' -f14,15 /proc/$lh/stat)
		t0=$EPOCHREALTIME
		kill -HUP $lh
		reloaded() { [ $(($(grep -c '(reload)$' "$log") - before)) -ge "$changes" ]; }
		wait_for 120 reloaded || { echo "FAIL reload: luaha reload $r not applied in 120 s"; tail -5 "$log"; exit 1; }
		c1=$(cut -d' ' -f14,15 /proc/$lh/stat)
		gapped() { [ "$(grep -c 'bench: reload held the loop' "$log")" -gt "$held" ]; }
		wait_for 30 gapped || miss "luaha reload $r: no line from bench/reload-gap.lua in 30 s"
		ops=$(grep '(reload)$' "$log" | tail -n +$((before + 1)))
		[ "$(grep -c ' -e ' <<< "$ops")" = "$changes" ] && [ "$(wc -l <<< "$ops")" = "$changes" ] ||
			miss "luaha reload $r sent $(wc -l <<< "$ops") operations, not $changes edits"
		last=$(tail -1 <<< "$ops")
		secs=$(awk -v a="$(epoch "${last%% info:*}")" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
		# Where the time went (reload.lua's line at the end of each reload), and the loop's longest hold.
		phases=$(grep 'lvs: reload: [0-9]* operations, ' "$log" | tail -1 | sed 's/.*operations, [0-9.]* s (\(.*\))$/\1/')
		gap=$(grep 'bench: reload held the loop at most ' "$log" | tail -1 | sed 's/.* at most \([0-9.]*\) ms (\([0-9]*\) over.*/\1 \2/')
		set -- $c0 $c1 $gap
		echo "luaha $pct% reload $r: $changes weights applied $secs s after SIGHUP ($phases; $((${3} + ${4} - ${1} - ${2})) ticks of CPU; loop held at most ${5:-?} ms, ${6:-?} times over 10 ms; $load)"
		gap=${5:-0}
		results+=("luaha $pct $r $secs ${gap:-0}")
		nap 3
	done
	echo "luaha ($pct%) after $RELOADS reloads: RSS $(luaha_rss)"
	n=$(changed_in lh)
	[ "$n" = $((RELOADS % 2 ? changes : 0)) ] || miss "luaha's table has $n real servers at weight 2"
	grep -q -i traceback "$log" && { miss "a traceback in luaha's log"; grep -i -m3 -A5 traceback "$log"; }
	kill $lh; wait $lh 2> /dev/null
	kill $listener; wait $listener 2> /dev/null
	ip netns pids lh | xargs -r kill
	ip netns del lh
}

# keepalived_session P: keepalived started on ka-a.conf, RELOADS reloads to P% changed and back.
keepalived_session()
{
	local pct=$1 changes=${nchanged[$1]} r n last before c0 c1 t0 secs done_at ka kac
	local log=$tmp/keepalived-$pct.log
	namespace ka || { echo "FAIL reload: namespace ka"; exit 1; }
	cp "$tmp/ka-a.conf" "$tmp/ka.conf"
	t0=$EPOCHREALTIME
	: > "$log"
	ip netns exec ka keepalived -n -l -D -C -f "$tmp/ka.conf" -p "$tmp/ka.pid" -c "$tmp/ka-check.pid" 2>&1 | stamp > "$log" &
	pids+=($!)
	started() { grep -q 'Startup complete' "$log"; }
	wait_for 300 started || { echo "FAIL reload: keepalived did not start in 300 s"; tail -5 "$log"; exit 1; }
	ka=$(cat "$tmp/ka.pid") kac=$(cat "$tmp/ka-check.pid")
	last=$(grep 'Startup complete' "$log" | tail -1)
	echo "keepalived ($pct%): $SERVICES services, $SERVERS real servers, startup complete $(awk -v a="${last%% *}" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s after start, RSS $(awk '/VmRSS/ {s += $2} END {printf "%.0f MiB", s / 1024}' /proc/$ka/status /proc/$kac/status) (2 processes)"
	[ "$(dests_in ka)" = "$SERVERS" ] || miss "keepalived's table lacks real servers"
	nap 5
	for r in $(seq 1 "$RELOADS"); do
		if [ $((r % 2)) = 1 ]; then cp "$tmp/ka-$pct.conf" "$tmp/ka.conf"; else cp "$tmp/ka-a.conf" "$tmp/ka.conf"; fi
		before=$(grep -c 'Reload complete' "$log")
		host_load
		c0=$(cat /proc/$ka/stat /proc/$kac/stat | awk '{ t += $14 + $15 } END { print t }')
		t0=$EPOCHREALTIME
		kill -HUP "$ka"
		reloaded() { [ "$(grep -c 'Reload complete' "$log")" -gt "$before" ]; }
		wait_for 120 reloaded || { echo "FAIL reload: keepalived reload $r not complete in 120 s"; tail -5 "$log"; exit 1; }
		c1=$(cat /proc/$ka/stat /proc/$kac/stat | awk '{ t += $14 + $15 } END { print t }')
		# The last weight change logged in this reload: keepalived logs it as it changes it.
		last=$(awk -v t="$t0" '$1 >= t && /Changing weight/ { l = $1 } END { print l }' "$log")
		n=$(awk -v t="$t0" '$1 >= t && /Changing weight/' "$log" | wc -l)
		done_at=$(awk -v t="$t0" '$1 >= t && /Reload complete/ { print $1; exit }' "$log")
		secs=$(awk -v a="${last:-0}" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
		echo "keepalived $pct% reload $r: $n weights changed, the last $secs s after SIGHUP ('Reload complete' after $(awk -v a="$done_at" -v b="$t0" 'BEGIN { printf "%.3f", a - b }') s; $((c1 - c0)) ticks of CPU in its 2 processes; $load)"
		[ "$n" = "$changes" ] || miss "keepalived changed $n weights, not $changes"
		results+=("keepalived $pct $r $secs")
		nap 5
	done
	n=$(changed_in ka)
	[ "$n" = $((RELOADS % 2 ? changes : 0)) ] || miss "keepalived's table has $n real servers at weight 2"
	kill "$ka"; nap 6
	ip netns pids ka | xargs -r kill
	ip netns del ka
}

for pct in $CHANGED_PCT; do
	luaha_session "$pct"
	keepalived_session "$pct"
done

host_load
printf '%s\n' "${results[@]}" | awk -v services="$SERVICES" -v servers="$SERVERS" -v pcts="$CHANGED_PCT" -v load="$load" '
	{ k = $1 " " $2; if ($3 == 1) first[k] = $4; else { later[k] = later[k] " " $4; n[k]++ }
	  if ($1 == "luaha" && $5 + 0 > gap[$2] + 0) gap[$2] = $5 }
	function median(s,   a, k) { k = split(s, a, " "); asort_(a, k); return k == 0 ? 0 : k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
	function asort_(a, k,   i, j, x) { for (i = 2; i <= k; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > x + 0; j--) a[j + 1] = a[j]; a[j + 1] = x } }
	END {
		np = split(pcts, p, " ")
		for (i = 1; i <= np; i++) {
			l = "luaha " p[i]; k = "keepalived " p[i]
			lm = median(later[l]); km = median(later[k])
			printf "reload of %d services / %d real servers, %s%% changed: first luaha %.3f s, keepalived %.3f s: luaha / keepalived = %.2f; later (median of %d) luaha %.3f s (%s), keepalived %.3f s (%s): luaha / keepalived = %.2f; luaha held its loop at most %s ms; %s\n",
				services, servers, p[i], first[l], first[k], first[k] ? first[l] / first[k] : 0, n[l], lm, substr(later[l], 2),
				km, substr(later[k], 2), km ? lm / km : 0, gap[p[i]], load
		}
	}'
exit $failed
