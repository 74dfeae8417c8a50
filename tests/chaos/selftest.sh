#!/bin/bash
# tests/chaos/selftest.sh: the chaos suite's judge against deliberately broken runs, inside UML: every check must be able to fail.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run: UML_MODULES="sch_netem sch_prio cls_u32" UML_TIMEOUT=900 tests/uml/run tests/chaos/selftest.sh
# Each case breaks the pair on purpose, in a way luaha cannot help, and passes when the judge fails the fault for
# the reason expected: "PASS selftest-NAME: FAIL chaos-...". (The pulse before the one-way fix failed
# chaos-oneway-out on overlap; the planned handover's lost requests fail chaos-term on lost requests.)
cd "$(dirname "$0")/../.." || exit 2
name=selftest
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
. tests/lib/chaos.bash
trap chaos_cleanup EXIT

# expect_fail CASE REGEX: the last verdict is a FAIL matching REGEX.
expect_fail()
{
	local last
	last=$(tail -n 1 "$dir/results")
	if [[ $last =~ ^FAIL ]] && [[ $last =~ $2 ]]; then
		echo "PASS selftest-$1: $last"
	else
		echo "FAIL selftest-$1: the judge said: $last"
	fi
	chaos_failed=0
}

# The heartbeat part of a router found by its parent's pid (the work part).
hb_part()
{
	local pid
	eval "pid=\$pid_$1"
	cat "/proc/$pid/task/$pid/children"
}

chaos_setup

# A "steady" fault that stops the active router's heartbeat part: the partner takes over: a false failover.
a=$(victim active)
ev begin broken-steady steady "$a"
kill -STOP $(hb_part "$a")
nap 2
kill -CONT $(hb_part "$a")
ev heal broken-steady
chaos_settled broken-steady > /dev/null
expect_fail steady "a false failover"

# A kill whose survivor is frozen for 3 s: nobody takes the VIP within deadtime + 0.5 s.
a=$(victim active)
p=$(victim passive)
s=$(hb_part "$p")
ev begin broken-takeover takeover "$a"
ev dead "$a"
kill -STOP "$s"
seed_kill "$a"
nap 3
kill -CONT "$s"
nap 1
ip -n "$a" addr del $VIP/24 dev eth0 2> /dev/null
seed_revive "$a"
ev alive "$a"
mark "$a"
seed_start "$a"
wait_log "$a" "partner active: staying passive" 30
ev heal broken-takeover
chaos_settled broken-takeover > /dev/null
expect_fail takeover "did not hold the VIP within|nobody held the VIP"

# A heal after which the backup is kept from standing down (its heartbeat part frozen): both hold the VIP too long.
ev begin broken-split split "$(victim passive)"
hb_netem both loss 100%
ev cut broken-split
nap 2
s=$(hb_part r2)
kill -STOP "$s"
hb_clear both
ev heal broken-split
nap 2
kill -CONT "$s"
chaos_settled broken-split > /dev/null
expect_fail split "both routers held the VIP"

# The active router's table changed behind its back (a reconcile far off): not the configuration's healthy servers.
a=$(victim active)
attach "$a" 'router.reconciler:cancel()' > /dev/null
ip netns exec "$a" ipvsadm -a -t $VIP:80 -r 192.0.2.99:80 -g -w 1
ev begin broken-table steady
ev heal broken-table
chaos_settled broken-table > /dev/null
expect_fail table "table is not the configuration's healthy servers"
exit 0
