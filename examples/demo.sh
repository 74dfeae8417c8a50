#!/bin/bash
# examples/demo.sh: `make demo`: the seed's Piranha topology in a User-Mode Linux sandbox, narrated: table, request, failover.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run by `make demo` as `tests/uml/run examples/demo.sh`: inside UML, namespaces on a bridge
# make a client, two routers running policies/piranha.lua and two direct-routing real servers.
# Nothing on the host is touched.
cd "$(dirname "$0")/.." || exit 2
name=demo
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
trap seed_cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

say "The seed topology: client 192.0.2.10, router1 .210 (primary), router2 .211 (backup), real servers .204 .205, VIP $VIP:80"
seed_setup
KEEPALIVE=0.1 DEADTIME=0.5 seed_config
sed -n '/^keepalive/,/^deadtime/p' "$tmp/lvs.cf"
say "router1 starts, then router2; the real servers were set up by: luaha policies/realserver.lua --mode dr --vip $VIP"
seed_pair
until_ok sh -c "ip netns exec r1 ipvsadm -Ln | grep -c Route | grep -qx 2" || fail "router1's table is not complete"
grep -h "activating lvs\|staying passive" "$tmp/r1.log" "$tmp/r2.log" | sed 's/^/   /'

say "router1's IPVS table (ipvsadm -Ln)"
ip netns exec r1 ipvsadm -Ln

say "The client asks the VIP (curl http://$VIP/)"
ip netns exec client curl -s -m 2 "http://$VIP/" || fail "no reply through the VIP"
echo "   the client's neighbour entry: $(ip -n client neigh show $VIP) (router1 is $(seed_mac r1))"

say "kill -9 of router1's luaha (frozen, its link cut, killed); the client asks every 10 ms"
seed_measured 3 seed_kill r1
[ -n "$took" ] || fail "no reply after the failover"
grep -h "partner dead\|now active" "$tmp/r2.log" | tail -2 | sed 's/^/   /'
echo "   from the kill to the first good reply through router2: $took s (deadtime 0.5 s)"

say "After the failover: curl through the VIP, and router2's table"
ip netns exec client curl -s -m 2 "http://$VIP/" || fail "no reply after the failover"
echo "   the client's neighbour entry: $(ip -n client neigh show $VIP) (router2 is $(seed_mac r2))"
ip netns exec r2 ipvsadm -Ln

say "router1 returns: it stays passive (no automatic failback, as in Piranha)"
seed_revive r1
seed_start r1
until_ok grep -q "staying passive" "$tmp/r1.log" || fail "router1 did not settle"
seed_has_vip r2 && ! seed_has_vip r1 && echo "   router2 keeps the VIP; router1 is the backup now"
say "Done: everything ran inside User-Mode Linux and is gone with it."
say "The web UI (piranha-gui's successor), on a router of your own:"
echo "   luaha passwd                      # user piranha, into /etc/sysconfig/ha/status.passwd (mode 0600)"
echo "   lvs.cf: webui = 1 and status_passwd = /etc/sysconfig/ha/status.passwd, then restart luaha"
echo "   open http://127.0.0.1:3636/ on the router (from elsewhere: ssh -L 3636:127.0.0.1:3636 ROUTER)"
echo "   a router with no lvs.cf yet: luaha piranha -c /etc/sysconfig/ha/lvs.cf --webui 127.0.0.1:3636 (setup mode)"
