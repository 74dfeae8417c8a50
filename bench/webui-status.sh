#!/bin/bash
# bench/webui-status.sh: inside UML (tests/uml/run bench/webui-status.sh): the web UI's Status page, a virtual's status page and /status.json at 1000 virtuals x 10 real servers: time to first byte, size, and the heartbeat's largest gap meanwhile.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run: make bench (its line), or UML_MEM=1G UML_TIMEOUT=2400 bench/hostload.sh tests/uml/run bench/webui-status.sh
# Environment (UML_PASSENV="WINDOW ..."): WINDOW (30: seconds each window), SERVICES / SERVERS (1000 / 10000),
# VIRTUAL (vs500: the virtual whose status page is fetched). Logs are left in $UML_OUT/webui-status/.
#
# Issue 14's benchmark. The seed topology (tests/lib/seed.bash): r1 active and r2 passive at keepalive
# 0.1 s, deadtime 0.5 s, both with SERVICES x SERVERS/SERVICES real servers more (bench/genconf.bash, their
# checks answered on the routers by bench/check-listener.lua, every 10 s) and the web UI on 0.0.0.0:3636
# (webui = 1, webui_insecure = 1: plain HTTP in the test's own namespaces). In r2, bench/arrivals.py writes
# down when each of r1's heartbeats arrives, by the kernel's stamp (bench/heartbeat-gaps.sh says why).
# Windows of WINDOW seconds each, one after the other:
#   idle                   nothing: the baseline of the large configuration's checks
#   /                      the Status page (a summary row per virtual), fetched one request after another
#   /status/virtual/VS     one virtual's status page (its 10 real servers' rows and actions)
#   /status.json           the status document
# from the client (bench/webui-fetch.lua, logged in before its window: each request on its own
# connection, the next when the last is read whole). For each: requests, size, time to first byte and to the end (p50, max),
# and r1's heartbeats as r2 saw them (gaps: n, p50, p99.9, max; nearest rank), how many gaps exceed
# keepalive + 20 ms, and the transitions in either router's log. Target (issue 14): every gap under
# keepalive + 20 ms and no transition. Exit status 1 if a window could not run.
# UML's one CPU is one host thread: on a busy host (other UML instances, builds) the idle window's
# gaps already miss the target, and the work parts, checking 10 000 real servers each, can be late
# (WORK_LATE, lua/luaha/pulsepart.lua) with hard_shutdown = 1 handing over; the idle row and the host's
# load are printed to judge the other rows by. Measured on the host with a 1-ms ticker (2026-12-07):
# the Status page's rows take 84 ms of work and hold the loop at most 12 ms, a virtual's page 1 ms;
# the status document under them (lvsctl.status, the same for /status.json) takes 0.36-0.5 s and
# holds it up to 52 ms.
cd "$(dirname "$0")/.." || exit 2
name=webui-status
LUAHA=${LUAHA:-./luaha}
WINDOW=${WINDOW:-30} SERVICES=${SERVICES:-1000} SERVERS=${SERVERS:-10000} VIRTUAL=${VIRTUAL:-vs500}
KEEPALIVE=0.1 DEADTIME=0.5 LATE=0.12
export KEEPALIVE DEADTIME
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
. bench/pair.bash
. bench/genconf.bash

helpers=() failed=0
cleanup()
{
	local p
	disown -a				# their deaths are expected: no "Killed" lines
	for p in "${helpers[@]}" "${capture_pid:-}"; do [ -n "$p" ] && kill -9 "$p" 2> /dev/null; done
	if [ -n "${UML_OUT:-}" ]; then
		mkdir -p "$UML_OUT/$name" && cp "$tmp"/*.log "$tmp"/arrivals-* "$tmp/fetch.out" "$UML_OUT/$name/" 2> /dev/null
	fi
	seed_cleanup
}
trap cleanup EXIT

# row LABEL FROM TO FETCHLINE: the gaps r2 saw from FROM to TO and the transitions since the pair settled; a row of the table.
row()
{
	local g t
	g=$(gap_list "$arrivals" "$2" "$3" | gap_summary $LATE)
	lines_in "$tmp/r1.log"; r1_to=$lines
	lines_in "$tmp/r2.log"; r2_to=$lines
	set -- "$1" "$2" "$3" "$4" $(window_counts luaha "$r1_from" "$r1_to" "$r2_from" "$r2_to")
	t=$5
	r1_from=$r1_to r2_from=$r2_to
	echo "$1 $g $t" >> "$tmp/rows"
	echo "$4; heartbeat gaps $(awk '{ printf "n %d p50 %s p99.9 %s max %s s, %d over '"$LATE"' s", $1, $2, $3, $4, $5 }' <<< "$g"), $t transitions"
}

# ---- the set-up ----

seed_setup
echo "$name: luaha $(git rev-parse --short HEAD 2> /dev/null)$(git diff --quiet HEAD -- runtime lua policies 2> /dev/null ||
	echo ' with uncommitted changes'), UML $(uname -r) with $(nproc) CPU; $SERVICES services, $SERVERS real servers; $WINDOW s a window"
echo "piranha:$("$LUAHA" -e 'print(require("luaha").auth.pwhash("s3cret"))')" > "$tmp/status.passwd" &&
	chmod 600 "$tmp/status.passwd" || fail "the users file"
seed_config "status_listen = 0.0.0.0:3636" "status_passwd = $tmp/status.passwd" "webui = 1" "webui_insecure = 1"
for ns in r1 r2; do
	genconf_addresses $ns || fail "dummy0 in $ns"
	ip netns exec $ns "$LUAHA" bench/check-listener.lua $GEN_FIRST $GEN_NPORTS "$tmp/count-$ns" > /dev/null 2>&1 &
	helpers+=($!)
done
{ cat "$tmp/lvs.cf"; genconf_virtuals lvs "$SERVICES" "$SERVERS" a; } > "$tmp/r1.cf" && cp "$tmp/r1.cf" "$tmp/r2.cf" ||
	fail "the large configuration"
"$LUAHA" policies/piranha.lua -c "$tmp/r1.cf" --check > "$tmp/check.log" 2>&1 || fail "--check: $(head -3 "$tmp/check.log")"

t0=$EPOCHREALTIME
luaha_run r1
wait_for 300 seed_has_vip r1 || fail "r1 did not become active"
luaha_run r2
wait_for 300 grep -qs "partner active: staying passive" "$tmp/r2.log" || fail "r2 did not find r1 active"
wait_for 600 quiet_logs || fail "the routers' logs never became quiet"
vip_only_on r1 || fail "r1 is not the only router holding the VIP"
echo "the pair settled $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s after its start"
capture luaha webui
lines_in "$tmp/r1.log"; r1_from=$lines
lines_in "$tmp/r2.log"; r2_from=$lines
: > "$tmp/rows"

# ---- the windows ----

w0=$EPOCHREALTIME
nap "$WINDOW"
row idle "$w0" "$EPOCHREALTIME" "idle: nothing fetched"

# Each path's client logs in first (one Argon2id in r1's worker thread, seconds in UML), outside its
# window; the window's times are the client's.
: > "$tmp/fetch.out"
for path in / "/status/virtual/$VIRTUAL" /status.json; do
	ip netns exec client "$LUAHA" bench/webui-fetch.lua 192.0.2.210 3636 piranha s3cret "$WINDOW" "$path" \
		> "$tmp/fetch.one" 2> "$tmp/fetch.err" || { failed=1; echo "FAIL $name: $path: $(cat "$tmp/fetch.err" "$tmp/fetch.one")"; }
	cat "$tmp/fetch.one" >> "$tmp/fetch.out"
	read -r word _ from to < "$tmp/fetch.one"
	[ "$word" = window ] && row "$path" "$from" "$to" "$(grep -F "$path: " "$tmp/fetch.one")"
done
capture_stop
host_load

# ---- the table ----

echo
echo "the web UI at $SERVICES virtuals x $((SERVERS / SERVICES)) real servers, r1's heartbeats at r2 meanwhile (keepalive $KEEPALIVE s; $load)"
printf '%-22s %9s %9s %9s %9s %9s %9s %9s %11s\n' window size "1st p50" "1st max" gaps "gap p50" "gap max" ">$LATE" transitions
while read -r label n p50 p999 max over t; do
	f=$(grep -F "$label: " "$tmp/fetch.out" 2> /dev/null)
	size=$(sed -n 's/.*), \([0-9]*\) bytes,.*/\1/p' <<< "$f")
	fp50=$(sed -n 's/.*first byte p50 \([0-9.]*\) max.*/\1/p' <<< "$f")
	fmax=$(sed -n 's/.*first byte p50 [0-9.]* max \([0-9.]*\) s.*/\1/p' <<< "$f")
	printf '%-22s %9s %9s %9s %9s %9s %9s %9s %11s\n' "$label" "${size:--}" "${fp50:--}" "${fmax:--}" "$n" "$p50" "$max" "$over" "$t"
done < "$tmp/rows"
awk -v late="$LATE" '{ n++; if ($2 == 0 || $5 + 0 > late || $6 > 0 || $7 > 0) bad = bad " " $1 }
	END { printf "target (every gap under %s s, no transition): %s\n", late, bad == "" ? "met in all " n " windows" : "NOT met in:" bad }' "$tmp/rows"
exit $failed
