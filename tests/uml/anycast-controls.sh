#!/bin/bash
# tests/uml/anycast-controls.sh: the control runs of issue 16: with wrr, or mh without sloppy_tcp, a director's withdraw loses flows.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# They prove that tests/uml/anycast-flows.sh can fail: the same bed and the same withdraw, with one of the
# two things that keep a flow on its real server taken away. A run that lost nothing would mean that the
# withdraw moved no flow, not that the flows survived.
cd "$(dirname "$0")/../.." || exit 2
name=anycast-controls
tmp=$(mktemp -d) || exit 2
AC_BFD_MS=${AC_BFD_MS:-300} AC_BFD_MULT=${AC_BFD_MULT:-5} AC_HOLD=${AC_HOLD:-9}
. tests/lib/anycast.bash
trap ac_cleanup EXIT
ac_needs

# control WHY: 64 flows, d1 withdraws (its minimum raised by a reload) and returns; $kept.
control()
{
	ac_flows_start 64 300
	ac_estab 1
	[ "$estab" -gt 0 ] || fail "$1: no flow went through d1"
	ac_config 1 "announce_min_healthy = 5" "${sched[@]}"
	ac_hup 1
	ac_wait_paths "2 3" 30 || fail "$1: the upstream kept d1 after its withdraw: '$paths'"
	ac_sleep 5				# the flows that moved are answered by a reset, or not at all
	ac_config 1 "${sched[@]}"
	ac_hup 1
	ac_wait_paths "1 2 3" 30 || fail "$1: the upstream did not take d1 back: '$paths'"
	ac_sleep 2
	ac_flows_stop
	echo "$1, one withdraw of d1 ($estab flows through it): $kept flows kept"
}

ac_setup
sched=("scheduler = wrr")
for n in 1 2 3; do
	ac_director $n
	ac_config $n "${sched[@]}"
	ac_luaha $n
	ac_bird $n
done
t0=$EPOCHREALTIME
ac_wait_paths "1 2 3" 90 || fail "the upstream has not three paths to the VIP: '$paths'"
ip netns exec d1 ipvsadm -Ln | grep -q "TCP  $VIP:80 wrr" || fail "d1's service is not wrr"
control "scheduler = wrr"
[ "$kept" != 64/64 ] || fail "scheduler = wrr kept every flow: the withdraw moved none, or the directors agreed by chance"
echo "PASS anycast-control-wrr-loses-flows"

# The default scheduler again (a reload), and sloppy_tcp off after the start: a director that gets a flow
# mid-stream does not take it, its own stack answers with a reset.
sched=()
for n in 1 2 3; do
	ac_config $n
	ac_hup $n
	ip netns exec d$n sysctl -qw net.ipv4.vs.sloppy_tcp=0 || fail "sloppy_tcp=0 in d$n"
done
until_ok ip netns exec d1 sh -c "ipvsadm -Ln | grep -q 'TCP  $VIP:80 mh (mh-port)'" || fail "d1's service did not become mh"
control "mh without sloppy_tcp"
[ "$kept" != 64/64 ] || fail "mh without sloppy_tcp kept every flow"
echo "PASS anycast-control-mh-without-sloppy-tcp-loses-flows"

for n in 1 2 3; do grep -q "stack traceback" "$tmp/d$n.log" && fail "a Lua traceback in d$n's log"; done
exit 0
