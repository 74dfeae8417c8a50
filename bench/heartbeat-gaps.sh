#!/bin/bash
# bench/heartbeat-gaps.sh: inside UML (tests/uml/run bench/heartbeat-gaps.sh): the gaps between the active router's heartbeats as its partner receives them while the active router is disturbed, luaha against keepalived's VRRP.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run: make bench-heartbeat, or UML_MEM=1G UML_TIMEOUT=3600 bench/hostload.sh tests/uml/run bench/heartbeat-gaps.sh
# Environment (passed in with UML_PASSENV="GAP_SECS ..."): GAP_SECS (30: each window), WINDOWS (those
# to run, default "idle logins flood ctl busy large status reload"), KA (1: keepalived's windows as well),
# LOGIN_RATE (20 a second), FLOOD_RATE (200000 packets a second asked), STATUS_EVERY (0.1 s), BUSY
# (2), RELOAD_EVERY (10 s), STATUS_SERVICES / STATUS_SERVERS (1000 / 10000), RELOAD_SERVICES /
# RELOAD_SERVERS (2300 / 37000). Logs are left in $UML_OUT/heartbeat-gaps/; the host's load
# (bench/hostload.sh) is printed with each window.
#
# The seed topology (tests/lib/seed.bash) and a third namespace, mallory (192.0.2.66). r1 (the
# primary) is active and r2 passive, luaha at keepalive 0.1 s, deadtime 0.5 s (keepalived: VRRPv3,
# advert_int 0.1, r1 MASTER at priority 150). In r2, bench/arrivals.py writes down when each of r1's
# heartbeats (UDP to port 539; keepalived's VRRP adverts) arrives, by the kernel's stamp on the
# packet: neither a busy CPU delaying the reader nor r2's own loop moves it. A window runs one
# disturbance on r1 for GAP_SECS seconds; measured there: the gaps between consecutive arrivals (n,
# p50, p99.9 and max; nearest rank, so below 1000 gaps p99.9 is the max), how many are longer than
# keepalive + 0.02 s, the transitions in either router's log (a false failover makes two), and for
# luaha the longest gap r2's heartbeat part saw itself (the pulse's stats.max_gap, reset at the start
# of the window: arrival plus r2's own delay in reading it).
#   idle     nothing
#   logins   LOGIN_RATE wrong-password logins a second at r1's status listener, from the client, each
#            with a new password for the real user admin (bench/http-load.lua)
#   flood    FLOOD_RATE packets a second at r1 from mallory (bench/flood.py): to luaha's UDP port 539;
#            keepalived's VRRP protocol (112), adverts for another virtual router. One UML CPU runs
#            the sender too: the rate reached, and the packets r1's interface got, are printed
#   ctl      64 MiB lines on r1's control socket, one after the other (bench/ctl-line.lua)
#   busy     BUSY busy loops (one CPU in UML runs everything, so they load r1 and r2 alike)
#   large    nothing, both routers with STATUS_SERVICES x 10 real servers more (bench/genconf.bash),
#            each checked every 10 s: the baseline of status, whose pair it shares
#   status   GET /status.json with the right password every STATUS_EVERY s (bench/http-load.lua),
#            both routers with STATUS_SERVICES x 10 real servers more (bench/genconf.bash)
#   reload   SIGHUP every RELOAD_EVERY s with 1% of the weights changed, both routers with
#            RELOAD_SERVICES / RELOAD_SERVERS more (genconf.bash; their checks answered on the
#            routers by bench/check-listener.lua), r1 holding their 230 VIPs on dummy0
# keepalived has no status listener, control socket or status document: its windows are idle, flood,
# busy and reload (its own SIGHUP, its configuration the same services without checks, the VIPs on
# dummy0 in virtual_ipaddress_excluded). The last lines give the table, the ratios luaha / keepalived
# where both ran, and whether luaha met the target: every gap under keepalive + 0.02 s and no
# transition. Exit status 1 if a window could not run.
cd "$(dirname "$0")/.." || exit 2
name=heartbeat-gaps
LUAHA=${LUAHA:-./luaha}
GAP_SECS=${GAP_SECS:-30} WINDOWS=${WINDOWS:-idle logins flood ctl busy large status reload} KA=${KA:-1}
LOGIN_RATE=${LOGIN_RATE:-20} FLOOD_RATE=${FLOOD_RATE:-200000} STATUS_EVERY=${STATUS_EVERY:-0.1} BUSY=${BUSY:-2}
RELOAD_EVERY=${RELOAD_EVERY:-10} STATUS_SERVICES=${STATUS_SERVICES:-1000} STATUS_SERVERS=${STATUS_SERVERS:-10000}
RELOAD_SERVICES=${RELOAD_SERVICES:-2300} RELOAD_SERVERS=${RELOAD_SERVERS:-37000}
KEEPALIVE=0.1 LATE=0.12
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
. bench/pair.bash
. bench/genconf.bash

busy=() helpers=() failed=0
cleanup()
{
	local p
	disown -a				# their deaths are expected: no "Killed" lines
	for p in "${busy[@]}" "${helpers[@]}" "${capture_pid:-}"; do [ -n "$p" ] && kill -9 "$p" 2> /dev/null; done
	if [ -n "${UML_OUT:-}" ]; then
		mkdir -p "$UML_OUT/$name" && cp "$tmp"/*.log "$tmp"/ka-*.conf "$tmp"/arrivals-* "$UML_OUT/$name/" 2> /dev/null
	fi
	seed_cleanup
}
trap cleanup EXIT

wants() { [[ " $WINDOWS " == *" $1 "* ]]; }

# settle LABEL T0: the pair's start (at T0) is over: r1 alone holds the VIP and the logs are quiet (a large
# configuration logs every monitor's first check and every IPVS operation), 600 s at most. Says how long it took.
settle()
{
	quiet=0 q1=-1 q2=-1
	wait_for 600 quiet_logs || { echo "FAIL $name: $1: the routers' logs never became quiet"; return 1; }
	vip_only_on r1 || { echo "FAIL $name: $1: r1 is not the only router holding the VIP"; return 1; }
	echo "$1: the pair settled $(awk -v a="$2" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s after its start"
}

pair_down()
{
	capture_stop
	routers_stop
	logs_aside "$1"
	rm -f "$tmp/r1.cf" "$tmp/r2.cf"
}

# luaha_pair LABEL [CF]: luaha in r1, alone until it is active, then in r2; both with CF if given.
luaha_pair()
{
	local t0=$EPOCHREALTIME
	rm -f "$tmp/r1.cf" "$tmp/r2.cf"
	[ -n "${2:-}" ] && cp "$2" "$tmp/r1.cf" && cp "$2" "$tmp/r2.cf"
	seed_revive r1
	luaha_run r1
	wait_for 300 seed_has_vip r1 || { echo "FAIL $name: $1: luaha's r1 did not become active"; return 1; }
	luaha_run r2
	wait_for 300 grep -qs "partner active: staying passive" "$tmp/r2.log" ||
		{ echo "FAIL $name: $1: luaha's r2 did not find r1 active"; return 1; }
	settle "$1" "$t0" && capture luaha "$1"
}

# ka_pair LABEL [NVIP FILE]: keepalived in r1 (MASTER, 150) and r2 (BACKUP, 100), VRRPv3 at 0.1 s.
ka_pair()
{
	local t0=$EPOCHREALTIME
	seed_revive r1
	ka_config r1 150 MASTER $KEEPALIVE 3 "${2:-0}" "${3:-}"
	ka_config r2 100 BACKUP $KEEPALIVE 3 "${2:-0}" "${3:-}"
	ka_start r1
	ka_start r2
	wait_for 300 seed_has_vip r1 || { echo "FAIL $name: $1: keepalived's r1 did not become master"; return 1; }
	settle "$1" "$t0" && capture keepalived "$1"
}

# ---- the disturbances: each runs GAP_SECS seconds on r1, and says what it did in $note ----

disturb_idle()
{
	nap "$GAP_SECS"
	note="nothing"
}

disturb_logins()
{
	note=$(ip netns exec client "$LUAHA" bench/http-load.lua logins 192.0.2.210 3636 admin "$LOGIN_RATE" "$GAP_SECS" 2>&1)
	note="$LOGIN_RATE wrong-password logins a second: $note"
}

disturb_flood()
{
	local kind=udp rx0 rx1 t0 t1 out
	[ "$1" = keepalived ] && kind=vrrp
	read -r rx0 < /sys/class/net/v-r1/statistics/tx_packets
	t0=$EPOCHREALTIME
	out=$(ip netns exec mallory python3 bench/flood.py $kind 192.0.2.210 "$FLOOD_RATE" "$GAP_SECS" 2>&1)
	t1=$EPOCHREALTIME
	read -r rx1 < /sys/class/net/v-r1/statistics/tx_packets
	note="$kind flood, $FLOOD_RATE packets/s asked: $out; r1's interface got $(awk -v a="$rx0" -v b="$rx1" -v t0="$t0" -v t1="$t1" \
		'BEGIN { printf "%.0f packets/s", (b - a) / (t1 - t0) }')"
}

disturb_ctl()
{
	note=$("$LUAHA" bench/ctl-line.lua "$tmp/r1.sock" "$GAP_SECS" 2>&1)
}

disturb_busy()
{
	local i
	busy=()
	for ((i = 0; i < BUSY; i++)); do
		sh -c 'while :; do :; done' &
		busy+=($!)
	done
	nap "$GAP_SECS"
	kill -9 "${busy[@]}" 2> /dev/null
	wait "${busy[@]}" 2> /dev/null
	busy=()
	note="$BUSY busy loops"
}

disturb_large()
{
	nap "$GAP_SECS"
	note="nothing but the health checks of $STATUS_SERVICES services / $STATUS_SERVERS real servers more, every 10 s"
}

# Before the window: the right password checked once (Argon2id, seconds in UML); it is remembered.
prepare_status()
{
	ip netns exec client "$LUAHA" bench/http-load.lua status 192.0.2.210 3636 admin:s3cret 1 0.1 > /dev/null 2>&1
}

disturb_status()
{
	note=$(ip netns exec client "$LUAHA" bench/http-load.lua status 192.0.2.210 3636 admin:s3cret "$STATUS_EVERY" "$GAP_SECS" 2>&1)
	note="/status.json of $STATUS_SERVICES services / $STATUS_SERVERS real servers more, every $STATUS_EVERY s: $note"
}

# reload: r1's configuration swapped between a and b (1% of the weights) and SIGHUP, every RELOAD_EVERY s.
disturb_reload()
{
	local prog=$1 end n=0 done_re
	end=$(awk -v t="$EPOCHREALTIME" -v s="$GAP_SECS" 'BEGIN { printf "%.3f", t + s }')
	lines_in "$tmp/r1.log"
	local l0=$lines
	while awk -v e="$end" -v t="$EPOCHREALTIME" -v r="$RELOAD_EVERY" 'BEGIN { exit !(t + r <= e) }'; do
		n=$((n + 1))
		if [ "$prog" = luaha ]; then
			cp "$tmp/reload-$((n % 2 ? 1 : 0))-b.cf" "$tmp/r1.cf"
		else
			cp "$tmp/ka-r1-$((n % 2 ? 1 : 0))-b.conf" "$tmp/ka-r1.conf"
		fi
		kill -HUP "$pid_r1"
		nap "$RELOAD_EVERY"
	done
	nap "$(awk -v e="$end" -v t="$EPOCHREALTIME" 'BEGIN { d = e - t; printf "%.3f", (d > 0 ? d : 0) }')"
	done_re="lvs: reload: [0-9]+ operations"
	[ "$prog" = keepalived ] && done_re="Reload complete"
	lines_in "$tmp/r1.log"
	note="$n reloads (SIGHUP every $RELOAD_EVERY s, $RELOAD_SERVICES services / $RELOAD_SERVERS real servers more, 1% of the weights changed), $(window_lines "$tmp/r1.log" "$l0" "$lines" | grep -c -E "$done_re") done"
	[ "$prog" = luaha ] && note="$note; luaha's: $(window_lines "$tmp/r1.log" "$l0" "$lines" | grep -E "$done_re" |
		sed 's/.*operations, \([0-9.]*\) s.*/\1/' | paste -sd' ') s"
}

# window PROG WHAT: the disturbance WHAT on r1 for GAP_SECS, and the gaps r2 saw; a line, and a row in $tmp/rows.
window()
{
	local prog=$1 what=$2 f1 f2 t1 t2 w0 w1 own=- g
	[ "$(type -t "prepare_$what")" = function ] && "prepare_$what" "$prog"
	lines_in "$tmp/r1.log"; f1=$lines
	lines_in "$tmp/r2.log"; f2=$lines
	[ "$prog" = luaha ] && "$LUAHA" attach "$tmp/r2.sock" -e 'router.pulse:reset_gap()' > /dev/null
	note=
	w0=$EPOCHREALTIME
	"disturb_$what" "$prog"
	w1=$EPOCHREALTIME
	[ "$prog" = luaha ] && own=$("$LUAHA" attach "$tmp/r2.sock" -e 'router.pulse:status(true).stats.max_gap' |
		awk '{ printf "%.4f", $1 }')
	lines_in "$tmp/r1.log"; t1=$lines
	lines_in "$tmp/r2.log"; t2=$lines
	host_load
	set -- $(window_counts "$prog" "$f1" "$t1" "$f2" "$t2")
	g=$(gap_list "$arrivals" "$w0" "$w1" | gap_summary $LATE)
	echo "$what $prog $g $1 $own ${load#host load }" >> "$tmp/rows"
	set -- $g "$1"
	printf '%-10s %-8s %5.0f s: %4d gaps, p50 %s p99.9 %s max %s s, %d over %s s, %d transitions%s; %s; %s\n' \
		"$prog" "$what" "$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" "$1" "$2" "$3" "$4" "$5" "$LATE" "$6" \
		"$([ "$own" != - ] && echo ", r2's own max $own s")" "$note" "$load"
}

# ---- the set-up ----

seed_setup
seed_node mallory 192.0.2.66
echo "$name: luaha $(git rev-parse --short HEAD 2> /dev/null)$(git diff --quiet HEAD -- runtime lua policies 2> /dev/null ||
	echo ' with uncommitted changes'), $(keepalived --version 2>&1 | head -1), UML $(uname -r) with $(nproc) CPU; $GAP_SECS s a window"
# The status listener beyond loopback, with a password file (user admin, password s3cret).
echo "admin:$("$LUAHA" -e 'print(require("luaha").auth.pwhash("s3cret"))')" > "$tmp/status.passwd"
seed_config "status_listen = 0.0.0.0:3636" "status_passwd = $tmp/status.passwd"
# The large configurations' real servers: addresses and listeners on the routers themselves.
for ns in r1 r2; do
	genconf_addresses $ns || { echo "FAIL $name: dummy0 in $ns"; exit 1; }
	ip netns exec $ns "$LUAHA" bench/check-listener.lua $GEN_FIRST $GEN_NPORTS "$tmp/count-$ns" > /dev/null 2>&1 &
	helpers+=($!)
done
if wants status || wants large; then
	{ cat "$tmp/lvs.cf"; genconf_virtuals lvs "$STATUS_SERVICES" "$STATUS_SERVERS" a; } > "$tmp/status.cf"
fi
if wants reload; then
	for w in a b; do
		{ cat "$tmp/lvs.cf"; genconf_virtuals lvs "$RELOAD_SERVICES" "$RELOAD_SERVERS" $w; } > "$tmp/reload-$w.cf"
		genconf_virtuals ka "$RELOAD_SERVICES" "$RELOAD_SERVERS" $w > "$tmp/ka-virtuals-$w"
	done
	# disturb_reload's nth SIGHUP takes reload-(n odd)-b: 1 is b, 0 is a.
	mv "$tmp/reload-a.cf" "$tmp/reload-0-b.cf" && mv "$tmp/reload-b.cf" "$tmp/reload-1-b.cf"
fi
: > "$tmp/rows"

# ---- luaha ----

small=()
for w in idle logins flood ctl busy; do wants $w && small+=($w); done
if ((${#small[@]})); then
	if luaha_pair luaha-small; then
		for w in "${small[@]}"; do window luaha $w; done
	else
		failed=1
	fi
	pair_down luaha-small
fi
if wants status || wants large; then
	if luaha_pair luaha-status "$tmp/status.cf"; then
		wants large && window luaha large
		wants status && window luaha status
	else
		failed=1
	fi
	pair_down luaha-status
fi
if wants reload; then
	if luaha_pair luaha-reload "$tmp/reload-0-b.cf"; then window luaha reload; else failed=1; fi
	pair_down luaha-reload
fi

# ---- keepalived ----

if [ "$KA" = 1 ]; then
	small=()
	for w in idle flood busy; do wants $w && small+=($w); done
	if ((${#small[@]})); then
		if ka_pair keepalived-small; then
			for w in "${small[@]}"; do window keepalived $w; done
		else
			failed=1
		fi
		pair_down keepalived-small
	fi
	if wants reload; then
		if ka_pair keepalived-reload $((RELOAD_SERVICES / 10)) "$tmp/ka-virtuals-a"; then
			ka_config r1 150 MASTER $KEEPALIVE 3 $((RELOAD_SERVICES / 10)) "$tmp/ka-virtuals-b"
			mv "$tmp/ka-r1.conf" "$tmp/ka-r1-1-b.conf"
			ka_config r1 150 MASTER $KEEPALIVE 3 $((RELOAD_SERVICES / 10)) "$tmp/ka-virtuals-a"
			cp "$tmp/ka-r1.conf" "$tmp/ka-r1-0-b.conf"
			window keepalived reload
		else
			failed=1
		fi
		pair_down keepalived-reload
	fi
fi

# ---- the table ----

echo
echo "heartbeat gaps at the partner, by the kernel's arrival stamps: luaha keepalive $KEEPALIVE deadtime 0.5, keepalived VRRPv3 advert_int $KEEPALIVE (seconds; nearest rank)"
printf '%-8s %-10s %5s %7s %7s %7s %7s %11s %9s %9s\n' window program n p50 p99.9 max ">$LATE" transitions "r2's own" "host load"
awk '{ printf "%-8s %-10s %5d %7s %7s %7s %7d %11d %9s %9s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }' "$tmp/rows"
echo "(r2's own: the longest gap luaha's heartbeat part in r2 saw itself, pulse stats.max_gap; host load: the host's 1-minute"
echo " load average at the window's end, UML's one CPU being one host thread among them)"
awk '$2 == "luaha" { l[$1] = $0 } $2 == "keepalived" { k[$1] = $0 }
	END {
		for (w in l) if (w in k) {
			split(l[w], a); split(k[w], b)
			if (a[6] != "-" && b[6] != "-" && b[6] > 0 && b[5] > 0)
				printf "ratio luaha / keepalived, %s: max %.2fx, p99.9 %.2fx\n", w, a[6] / b[6], a[5] / b[5]
		}
	}' "$tmp/rows" | sort
awk -v late="$LATE" '$2 == "luaha" { n++; if ($3 == 0 || $6 + 0 > late || $7 > 0 || $8 > 0) bad = bad " " $1 }
	END { if (n) printf "target (luaha: every gap under %s s, no transition): %s\n", late, bad == "" ? "met in all " n " windows" : "NOT met in:" bad }' "$tmp/rows"
exit $failed
