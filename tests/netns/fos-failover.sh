#!/bin/bash
# tests/netns/fos-failover.sh: service = fos: the active router runs the service; the passive one watches it at the VIP and takes over when it fails, unless its own gateway is gone.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
. "$(dirname "$0")/../lib/fospair.bash" || exit 2
netns_test fos-failover
sw=luaha-fsw-$$ client=luaha-fc-$$ r1=luaha-fr1-$$ r2=luaha-fr2-$$

fos_pair 0.1 0.5 1

start() { ip netns exec "$1" "$LUAHA" --ctl "$tmp/$2.sock" policies/piranha.lua -c "$tmp/lvs.cf" --foreground >> "$tmp/$2.log" 2>&1 & }
served_by() { [ "$(ip netns exec "$client" curl -s -m 1 http://192.0.2.100:8080/)" = "$1" ]; }
has_vip() { ip -n "$1" -o -4 addr show dev eth0 | grep -q ' 192.0.2.100/'; }
until_() { local i; for i in $(seq 100); do "$@" && return 0; sleep 0.1; done; return 1; }
# r1 first, then r2 once r1 serves: started together, a primary slower to start than deadtime finds the
# backup active and rightly stays passive (on a busy machine a start can take that long).
start "$r1" r1
netns_background $!
until_ served_by 192.0.2.1 || fail "r1 does not serve the VIP"
start "$r2" r2
netns_background $!
until_ grep -q "partner active: staying passive" "$tmp/r2.log" || fail "r2 did not see r1 active"
until_ grep -q "Starting monitor for 192.0.2.100:8080" "$tmp/r2.log" || fail "r2 does not watch the service"
served_by 192.0.2.1 || fail "r1 no longer serves the VIP once r2 started"
has_vip "$r2" && fail "the passive r2 holds the VIP"
echo "PASS fos-active-runs-the-service-passive-watches"

# r2 cannot see its own gateway: the failing service is not taken over.
ip -n "$r2" route add default via 192.0.2.254 || fail "route"
kill "$(cat "$tmp/http-192.0.2.1.pid")" || fail "cannot stop r1's service"
until_ grep -q "I SEEM TO HAVE A NETWORK FAULT" "$tmp/r2.log" || fail "r2 did not check its gateway"
has_vip "$r2" && fail "r2 took over with its own network at fault"
echo "PASS fos-network-fault-no-takeover"

# With its gateway gone from the table (nothing to ask), r2 takes the service over; r1 is told to stand down.
ip -n "$r2" route del default || fail "route del"
until_ served_by 192.0.2.2 || fail "r2 did not take over the service"
until_ grep -q "PARTNER HAS TOLD US TO GO INACTIVE" "$tmp/r1.log" || fail "r1 was not told to stand down"
until_ eval '! has_vip "$r1"' || fail "r1 kept the VIP"
grep -q "remote service failed" "$tmp/r2.log" || fail "r2 did not say why it took over"
sleep 1
served_by 192.0.2.2 && has_vip "$r2" && ! has_vip "$r1" || fail "the takeover did not last"
grep -q "stack traceback" "$tmp/r1.log" "$tmp/r2.log" && fail "a Lua traceback in a log"
echo "PASS fos-failed-service-taken-over"
