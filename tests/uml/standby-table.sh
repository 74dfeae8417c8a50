#!/bin/bash
# tests/uml/standby-table.sh: standby_table = 1: the passive router keeps the table from its own checks, a takeover finds it.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=standby-table
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
trap seed_cleanup EXIT

seed_setup
seed_config "standby_table = 1"

# has_table NS N: NS's table has the seed's service and exactly N real servers in it (weight 1).
has_table()
{
	local t
	t=$(ip netns exec "$1" ipvsadm -Ln) || return 1
	grep -q "TCP  $VIP:80 wrr persistent 30" <<< "$t" && [ "$(grep -c 'Route  *1 ' <<< "$t")" = "$2" ]
}
no_table() { ! ip netns exec "$1" ipvsadm -Ln | grep -q "TCP"; }
# logged_after NS MARK REGEX: NS's log has a line matching REGEX after its first MARK lines.
logged_after() { tail -n +"$(($2 + 1))" "$tmp/$1.log" | grep -q "$3"; }

seed_pair
until_ok has_table r1 2 || fail "the active r1 did not program the table"
until_ok has_table r2 2 || fail "the passive r2 did not program its standby table"
seed_has_vip r2 && fail "the passive r2 holds the VIP"
seed_get > /dev/null || fail "no reply through the VIP"
echo "PASS standby-table-passive-router-has-the-table"

# The passive router's table follows its own checks: rs2's server stops, both tables lose it; it returns, both have it.
ip netns pids rs2 | xargs -r kill || fail "stopping rs2's server"
until_ok has_table r2 1 || fail "r2's standby table kept the failed rs2"
until_ok has_table r1 1 || fail "r1's table kept the failed rs2"
ip netns exec rs2 "$LUAHA" tests/lib/http-name.lua rs2 > "$tmp/rs2-http.log" 2>&1 &
until_ok has_table r2 2 || fail "rs2 did not come back into r2's standby table"
until_ok has_table r1 2 || fail "rs2 did not come back into r1's table"
echo "PASS standby-table-follows-health-on-the-passive-router"

# kill -9 of the active r1: r2 takes over and answers; its activation had nothing to add to the kernel.
mark=$(wc -l < "$tmp/r2.log")
seed_measured 4 seed_kill r1
until_ok seed_has_vip r2 || fail "r2 did not take the VIP"
until_ok seed_neigh_is r2 || fail "the client's neighbour entry for the VIP is not r2's MAC"
seed_get > /dev/null || fail "no reply through the VIP after the takeover"
[ -n "$took" ] || fail "no good reply within 3.5 s of the kill"
until_ok logged_after r2 "$mark" "lvs: activating: " || fail "r2 did not run its activation"
sleep 1					# its activation ends (it would log what it programs)
logged_after r2 "$mark" "ipvsadm -[Aa] .*(activate)" && fail "r2's activation programmed the table it had"
has_table r2 2 || fail "r2's table after the takeover"
echo "kill -9 of r1 -> first good reply through r2: $took s ($fails requests failed meanwhile; deadtime 0.5 s)"
echo "PASS standby-table-takeover-finds-the-table"

# r1 returns passive and builds its standby table again.
seed_revive r1
seed_start r1
until_ok grep -q "partner active: staying passive" "$tmp/r1.log" || fail "r1 did not see r2 active"
until_ok has_table r1 2 || fail "the returning passive r1 did not program its standby table"
seed_has_vip r1 && fail "the passive r1 holds the VIP"
echo "PASS standby-table-returning-router-programs-it"

# A reload that turns the option off removes the passive router's services (and only the passive one's).
sed -i '/^standby_table = /d' "$tmp/lvs.cf" || fail "editing lvs.cf"
mark=$(wc -l < "$tmp/r1.log")
kill -HUP "$pid_r1"
until_ok logged_after r1 "$mark" "reload: " || fail "r1 did not reload"
until_ok no_table r1 || fail "r1 kept its standby table after the reload turned it off"
has_table r2 2 || fail "the active r2 lost its table"
echo "PASS standby-table-reload-turns-it-off"

# Without a standby table, a ctl change on the passive r1 programs nothing there (it applies when r1 is active).
"$LUAHA" ctl "$tmp/r1.sock" disable rs204 > "$tmp/ctl.out" 2>&1 || fail "ctl disable on r1: $(cat "$tmp/ctl.out")"
sleep 0.5
no_table r1 || fail "a ctl disable on the passive r1 programmed its table"
"$LUAHA" ctl "$tmp/r1.sock" enable rs204 > "$tmp/ctl.out" 2>&1 || fail "ctl enable on r1: $(cat "$tmp/ctl.out")"
no_table r1 || fail "a ctl enable on the passive r1 programmed its table"
echo "PASS passive-router-ctl-programs-nothing"

# A planned stop of the active r2 hands over to r1, which programs its table; the stopped r2 leaves none.
kill -TERM "$pid_r2"; wait "$pid_r2"
until_ok seed_has_vip r1 || fail "r1 did not take over from a stopping r2"
until_ok has_table r1 2 || fail "r1 did not program the table on taking over"
no_table r2 || fail "the stopped r2 left its services in the kernel"
seed_get > /dev/null || fail "no reply through the VIP after the planned handover"
echo "PASS standby-table-stopped-router-removes-it"

for ns in r1 r2; do grep -q "stack traceback" "$tmp/$ns.log" && fail "a Lua traceback in $ns's log"; done
exit 0
