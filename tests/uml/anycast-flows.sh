#!/bin/bash
# tests/uml/anycast-flows.sh: anycast directors (luaha, BIRD) behind an FRR router doing ECMP: 64 flows keep their real server through a withdraw, a return, a death, a fourth director and a drain.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Issue 16 item 4. The routers' timers are looser than the bench's (BFD 300 ms x 5, hold 9 s): in a UML whose one
# CPU is a host thread of a busy machine, a router can miss 0.3 s, and a flap would be a failure of the bed.
cd "$(dirname "$0")/../.." || exit 2
name=anycast-flows
tmp=$(mktemp -d) || exit 2
AC_BFD_MS=${AC_BFD_MS:-300} AC_BFD_MULT=${AC_BFD_MULT:-5} AC_HOLD=${AC_HOLD:-9}
. tests/lib/anycast.bash
trap ac_cleanup EXIT
ac_needs

# --check refuses a NAT virtual in anycast mode, naming the file, the line and the option.
ac_config 1
sed 's/^network = direct$/network = nat/' "$tmp/d1.cf" > "$tmp/nat.cf"
"$LUAHA" policies/piranha.lua --check -c "$tmp/nat.cf" > "$tmp/check.out" 2>&1 && fail "--check accepted a NAT virtual"
grep -q "$tmp/nat.cf:4: network: nat with cluster = anycast.*active/backup pair" "$tmp/check.out" ||
	fail "--check's reason: $(cat "$tmp/check.out")"
echo "PASS anycast-check-refuses-nat"

ac_setup
for n in 1 2 3; do
	ac_director $n
	ac_config $n
	ac_luaha $n
	ac_bird $n
done
t0=$EPOCHREALTIME
ac_wait_paths "1 2 3" 90 || fail "the upstream has not three paths to the VIP: '$paths'"
for n in 1 2 3; do
	grep -q "anycast: announced $VIP" "$tmp/d$n.log" || fail "d$n did not log its announcement"
	ip netns exec d$n ipvsadm -Ln | grep -q "TCP  $VIP:80 mh (mh-port)" || fail "d$n's service is not mh with mh-port"
	[ "$(ip netns exec d$n sysctl -n net.ipv4.vs.sloppy_tcp)" = 1 ] || fail "d$n did not set sloppy_tcp"
	ip -n d$n -o addr show dev lo | grep -q " $VIP/32 " || fail "d$n has not the VIP on lo"
done
# The directors agree on the table: one digest of its real servers in order (and each up or down), once every
# director has its four real servers checked in (a director announces with one: their digests differ till then).
digest_of()
{
	"$LUAHA" ctl "$tmp/d$1.sock" status --json | "$LUAHA" -e '
local s = assert(require("luaha.json").decode(io.read("a"))).services[1].anycast
io.write(s.healthy == 4 and s.digest or "not yet: " .. s.healthy .. " healthy", "\n")'
}
agree()
{
	digests=$(for n in 1 2 3; do digest_of "$n"; done | sort -u)
	[ "$(wc -l <<< "$digests")" = 1 ] && [[ "$digests" =~ ^[0-9a-f]{16}$ ]]
}
until_ok agree || fail "the directors' digests differ: $digests"
echo "PASS anycast-every-director-announces-the-same-table"

ac_flows_start 64 900

# A withdraw: d1's minimum is more than it has (a reload); its flows move to d2 and d3, which take them mid-stream.
ac_estab 1
[ "$estab" -gt 0 ] || fail "no flow went through d1"
ac_flows_mark
ac_config 1 "announce_min_healthy = 5"
t0=$EPOCHREALTIME
ac_hup 1
ac_wait_paths "2 3" 30 || fail "the upstream kept d1 after its withdraw: '$paths'"
grep -q "anycast: withdrew $VIP" "$tmp/d1.log" || fail "d1 did not log its withdraw"
ac_flows_alive || fail "flows lost or stalled after d1's withdraw ($estab went through d1)"
echo "withdraw of d1 -> upstream route change: $took s ($estab flows went through d1)"
echo "PASS anycast-flows-kept-through-withdraw"

ac_flows_mark
ac_config 1
t0=$EPOCHREALTIME
ac_hup 1
ac_wait_paths "1 2 3" 30 || fail "the upstream did not take d1 back: '$paths'"
ac_flows_alive || fail "flows lost or stalled after d1's return"
echo "return of d1 -> upstream route change: $took s"
echo "PASS anycast-flows-kept-through-return"

# d2 dies (its processes stopped, its link cut, killed): BFD takes it out of the upstream's paths.
ac_estab 2
[ "$estab" -gt 0 ] || fail "no flow went through d2"
ac_flows_mark
ac_kill 2
t0=$killed_at
ac_wait_paths "1 3" 30 || fail "the upstream kept the dead d2: '$paths'"
ac_flows_alive 5 || fail "flows lost or stalled after d2's death ($estab went through d2)"
echo "death of d2 -> upstream route change: $took s (BFD ${AC_BFD_MS} ms x $AC_BFD_MULT; $estab flows went through d2)"
echo "PASS anycast-flows-kept-through-director-death"

# A fourth director joins: the same configuration, its table built before it announces.
ac_flows_mark
ac_director 4
ac_config 4
ac_luaha 4
ac_bird 4
t0=$EPOCHREALTIME
ac_wait_paths "1 3 4" 90 || fail "the upstream did not add d4: '$paths'"
ac_flows_alive || fail "flows lost or stalled after d4 joined"
ac_estab 4
[ "$estab" -gt 0 ] || fail "no flow moved to d4"
echo "d4 started -> upstream route change: $took s ($estab flows moved to d4)"
echo "PASS anycast-flows-kept-through-fourth-director"

# luaha ctl drain: d3 withdraws, waits drain_time, exits 0 and leaves its table and VIP.
ac_estab 3
[ "$estab" -gt 0 ] || fail "no flow went through d3"
ac_flows_mark
t0=$EPOCHREALTIME
"$LUAHA" ctl "$tmp/d3.sock" drain > "$tmp/drain.out" 2>&1 || fail "ctl drain: $(cat "$tmp/drain.out")"
ac_wait_paths "1 4" 30 || fail "the upstream kept the drained d3: '$paths'"
drain_took=$took
until_ok ac_gone "$pid_d3" || fail "the drained d3 did not stop"
wait "$pid_d3"
rc=$?
[ "$rc" = 0 ] || fail "the drained d3 exited $rc"
ip netns exec d3 ipvsadm -Ln | grep -q "TCP  $VIP:80 mh" || fail "the drained d3 removed its table"
ip -n d3 -o addr show dev lo | grep -q " $VIP/32 " || fail "the drained d3 removed the VIP"
ac_flows_alive || fail "flows lost or stalled after d3's drain"
echo "ctl drain of d3 -> upstream route change: $drain_took s ($estab flows went through d3)"
echo "PASS anycast-drain-loses-no-flow"

ac_flows_stop
[ "$kept" = 64/64 ] || fail "flows kept: $kept"
echo "flows kept through withdraw, return, death, a fourth director and a drain: $kept"
echo "PASS anycast-flows-keep-their-real-server"

# announce_min_healthy = 3 on d1 and d4: a third server down withdraws the VIP, its return announces it again.
for n in 1 4; do
	ac_config $n "announce_min_healthy = 3"
	ac_hup $n
done
ip netns pids rs4 | xargs -r kill || fail "stopping rs4's server"
ac_sleep 3
ac_paths
[ "$paths" = "1 4" ] || fail "three healthy of three needed, the upstream has '$paths'"
ip netns pids rs3 | xargs -r kill || fail "stopping rs3's server"
t0=$EPOCHREALTIME
ac_wait_paths "" 30 || fail "two healthy, the upstream kept '$paths'"
for n in 1 4; do
	tail -n 20 "$tmp/d$n.log" | grep -q "anycast: withdrew $VIP" || fail "d$n did not log its withdraw"
done
ip netns exec rs3 nice -n 19 "$LUAHA" tests/lib/anycast-rs.lua rs3 > "$tmp/rs3.log" 2>&1 &
t0=$EPOCHREALTIME
ac_wait_paths "1 4" 30 || fail "rs3 back, the upstream has '$paths'"
echo "PASS anycast-min-healthy-withdraws-and-announces-again"

for n in 1 3 4; do grep -q "stack traceback" "$tmp/d$n.log" && fail "a Lua traceback in d$n's log"; done
exit 0
