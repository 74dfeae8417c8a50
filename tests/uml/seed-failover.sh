#!/bin/bash
# tests/uml/seed-failover.sh: the seed topology end to end: two routers, heartbeats, takeover, split brain, link loss, forged heartbeats.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=seed
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
trap seed_cleanup EXIT

seed_setup
seed_config "monitor_links = 1" "syncdaemon = 1" "syncd_iface = eth0" "syncd_id = 7"
seed_get > /dev/null 2>&1 && fail "the VIP answers before any router is up"

# active ROUTER: it holds the VIP and the other does not, its table has the seed's service, the other's is empty.
only_active()
{
	local other=r2
	[ "$1" = r2 ] && other=r1
	seed_has_vip "$1" && ! seed_has_vip $other &&
		ip netns exec "$1" ipvsadm -Ln | grep -q "TCP  $VIP:80 wrr persistent 30" &&
		! ip netns exec $other ipvsadm -Ln | grep -q "TCP"
}

# The primary starts, then the backup: the primary is the active one. (Both started within deadtime, backup first,
# is tests/lua/pulse.lua's started-together-primary-ends-active: here, on a busy machine, a UML start may take longer.)
seed_pair
until_ok only_active r1 || fail "r1 did not become the only active router"
until_ok seed_neigh_is r1 || fail "the client's neighbour entry for the VIP is not r1's MAC"
until_ok ip netns exec r1 sh -c "ipvsadm -Ln | grep -c 'Route  *1 ' | grep -qx 2" || fail "r1's table lacks the real servers"
# The seed's table (connection counters aside).
printf '%s\n' "TCP $VIP:80 wrr persistent" "-> 192.0.2.204:80 Route 1" "-> 192.0.2.205:80 Route 1" > "$tmp/expected"
ip netns exec r1 ipvsadm -Ln | tail -n +4 | awk '{ print $1, $2, $3, $4 }' | diff "$tmp/expected" - > "$tmp/diff" ||
	fail "r1's table: $(cat "$tmp/diff")"
body=$(until_ok seed_get) || fail "no reply through the VIP"
case $body in rs1|rs2) ;; *) fail "the reply names '$body', not a real server";; esac
sleep 0.3
only_active r1 || fail "r1 did not stay the only active router"
echo "PASS seed-start-primary-active-table-neighbour-reply"

# syncdaemon: a master on the active router, a backup on the passive one; the passive r2, which never saw a
# client packet, has the connections r1 made in its table.
ip netns exec r1 ipvsadm -L --daemon | grep -q "master sync daemon (mcast=eth0, syncid=7," ||
	fail "r1: $(ip netns exec r1 ipvsadm -L --daemon)"
ip netns exec r2 ipvsadm -L --daemon | grep -q "backup sync daemon (mcast=eth0, syncid=7," ||
	fail "r2: $(ip netns exec r2 ipvsadm -L --daemon)"
seed_get > /dev/null || fail "no reply through the VIP"
until_ok sh -c "ip netns exec r2 ipvsadm -Lnc | grep -q '192.0.2.10:.* $VIP:80'" ||
	fail "r1's connections did not reach r2's table"
echo "PASS seed-sync-daemon-master-backup"

# kill -9 of the active router (frozen, link cut, killed): r2 takes over.
seed_measured 4 seed_kill r1
until_ok seed_has_vip r2 || fail "r2 did not take the VIP"
until_ok seed_neigh_is r2 || fail "the client's neighbour entry for the VIP is not r2's MAC"
seed_get > /dev/null || fail "no reply through the VIP after the takeover"
[ -n "$took" ] || fail "no good reply within 3.5 s of the kill"
echo "kill -9 of r1 -> first good reply through r2: $took s ($fails requests failed meanwhile; deadtime 0.5 s)"
echo "PASS seed-kill-9-takeover"

# r1 comes back: it stays passive (no automatic failback) and clears the VIP its killed run left.
seed_revive r1
seed_has_vip r1 || fail "the killed r1 should still hold the VIP it had (nothing removed it)"
seed_start r1
until_ok grep -q "partner active: staying passive" "$tmp/r1.log" || fail "r1 did not see r2 active"
until_ok only_active r2 || fail "r2 is not the only active router after r1 returned"
sleep 1
only_active r2 || fail "r1 took the service back on its own"
echo "PASS seed-returning-primary-stays-passive"

# A planned stop of the active router hands over at once (a goodbye), not after deadtime.
stop_r2() { kill -TERM "$pid_r2"; wait "$pid_r2"; }
seed_measured 2 stop_r2
until_ok only_active r1 || fail "r1 did not take over from a stopping r2"
grep -q "backup leaving: activating lvs" "$tmp/r1.log" || fail "r1 did not hear r2's goodbye"
echo "planned handover r2 -> r1: $fails of the requests at 10 ms intervals failed"
[ "$fails" -le 5 ] || fail "a planned handover lost $fails requests"
echo "PASS seed-planned-stop-hands-over"

# r2 returns as backup; --forceactive on r1 is tested by a restart of r1: r1 active again.
seed_start r2
until_ok grep -q "partner active: staying passive" "$tmp/r2.log" || fail "r2 did not see r1 active"
kill -TERM "$pid_r1"; wait "$pid_r1"
until_ok only_active r2 || fail "r2 did not take over from a stopping r1"
# Another program's service on r2: deactivating removes r2's own services only.
ip netns exec r2 sh -c "ipvsadm -A -u 198.51.100.53:53 -s rr && ipvsadm -a -u 198.51.100.53:53 -r 192.0.2.204:53 -g" ||
	fail "a foreign service on r2"
seed_start r1 --forceactive
until_ok only_active r1 || fail "--forceactive did not make r1 the active router"
until_ok seed_neigh_is r1 || fail "the client still sends the VIP to r2"
grep -q "Forced active on startup: activating lvs" "$tmp/r1.log" || fail "no forced activation logged"
grep -q "partner active: deactivating LVS" "$tmp/r2.log" || fail "r2 did not stand down for the primary"
ip netns exec r2 ipvsadm -Ln | grep -q "UDP  198.51.100.53:53 rr" || fail "r2's deactivation removed another program's service"
echo "PASS seed-forceactive-failback"

# The work part of the active r1 stopped (SIGSTOP) for 4 x deadtime: its heartbeat part, a process of its own, goes on:
# no failover, and r1 still answers through the VIP (the kernel's table serves without the daemon).
mark=$(wc -l < "$tmp/r2.log")
kill -STOP "$pid_r1"
sleep 2
kill -CONT "$pid_r1"
tail -n +"$((mark + 1))" "$tmp/r2.log" | grep -q "partner dead" &&
	fail "r2 took r1 for dead while only r1's work part was stopped"
only_active r1 || fail "r1 is not the only active router after its work part was stopped"
seed_get > /dev/null || fail "no reply through the VIP after r1's work part was stopped"
echo "PASS seed-stopped-work-part-no-failover"

# Split brain: r1 (both parts) frozen for 3 x deadtime, r2 takes over; when r1 wakes exactly one stays active, the primary.
kill -STOP -- "-$pid_r1"
until_ok seed_has_vip r2 || { kill -CONT -- "-$pid_r1"; fail "r2 did not take over from a frozen r1"; }
sleep 1
kill -CONT -- "-$pid_r1"
until_ok only_active r1 || fail "not exactly one active router (r1) after the split brain"
until_ok seed_neigh_is r1 || fail "the winner's MAC is not in the client's neighbour table"
seed_get > /dev/null || fail "no reply through the VIP after the split brain"
echo "PASS seed-split-brain-primary-wins"

# r1's link goes down (monitor_links): r2 takes over; back up, r1 stays passive.
ip -n r1 link set eth0 down
until_ok seed_has_vip r2 || fail "r2 did not take over when r1's link went down"
until_ok grep -q "Local NIC link failure: Pulse disabled" "$tmp/r1.log" || fail "r1 did not see its link fail"
until_ok seed_neigh_is r2 || fail "the client's neighbour entry is not r2's after r1's link loss"
seed_get > /dev/null || fail "no reply through the VIP after r1's link loss"
seed_has_vip r1 && fail "r1 kept the VIP on a dead link"
ip -n r1 link set eth0 up
until_ok grep -q "Local NIC link(s) restored: Pulse enabled" "$tmp/r1.log" || fail "r1 did not see its link return"
sleep 1
only_active r2 || fail "after its link returned, r1 took the service back"
echo "PASS seed-link-down-takeover"

# Forged, unauthenticated and replayed heartbeats from the primary's address tell r2 (active) nothing... and
# r1 (passive) must not believe the backup is leaving. The attacker has r2's address, answers no ARP.
seed_node mallory 192.0.2.211
ip netns exec mallory sysctl -qw net.ipv4.conf.all.arp_ignore=8 net.ipv4.conf.eth0.arp_ignore=8 || fail "mallory sysctl"
ip -n mallory neigh replace 192.0.2.210 lladdr "$(seed_mac r1)" dev eth0 nud permanent || fail "mallory neigh"
ip netns exec mallory "$LUAHA" tests/lib/heartbeat-forge.lua 192.0.2.211 192.0.2.210 539 "$tmp/heartbeat.key" backup \
	> "$tmp/forge.log" 2>&1 || fail "forger: $(cat "$tmp/forge.log")"
sleep 1
only_active r2 || fail "forged heartbeats moved the service"
for why in forged unauthenticated replayed; do
	grep -q "refused: $why" "$tmp/r1.log" || fail "r1 did not log a $why heartbeat as refused"
done
echo "PASS seed-forged-replayed-heartbeats-refused"

# The custom policy of examples/careful-takeover.lua: a backup that sees too few healthy real servers does not take over.
kill -TERM "$pid_r2"; wait "$pid_r2"
until_ok only_active r1 || fail "r1 did not take over from a stopping r2"
setsid ip netns exec r2 "$LUAHA" --ctl "$tmp/r2.sock" examples/careful-takeover.lua --min-healthy 3 -c "$tmp/lvs.cf" \
	--foreground >> "$tmp/r2.log" 2>&1 &
pid_r2=$!
until_ok grep -q "careful: 2 healthy real servers, fewer than 3: not taking over" "$tmp/r2.log" ||
	fail "the careful policy did not block r2"
seed_kill r1
sleep 1.5
seed_has_vip r2 && fail "the careful backup took over with 2 of 3 healthy real servers"
seed_revive r1
seed_start r1 --forceactive
until_ok only_active r1 || fail "r1 did not come back"
echo "PASS seed-custom-policy-careful-takeover"

# realserver.lua --down gives rs1 back its own state.
ip netns exec rs1 "$LUAHA" policies/realserver.lua --down --state "$tmp/rs1.state" > "$tmp/rs1-down.log" 2>&1 ||
	fail "realserver.lua --down: $(cat "$tmp/rs1-down.log")"
ip -n rs1 -o addr show dev lo | grep -q "$VIP" && fail "the VIP is still on rs1's lo"
[ "$(ip netns exec rs1 sysctl -n net.ipv4.conf.all.arp_ignore)" = 0 ] || fail "arp_ignore not restored on rs1"
echo "PASS seed-realserver-down-restores"

for ns in r1 r2; do grep -q "stack traceback" "$tmp/$ns.log" && fail "a Lua traceback in $ns's log"; done
exit 0
