#!/bin/bash
# tests/netns/arp-probe-finds-owner.sh: arp.probe from a client finds the MAC of the namespace that has the address, times out for nobody's.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test arp-probe-finds-owner
client=luaha-client-$$ r1=luaha-r1-$$

netns_add "$client" "$r1"
netns_veth "$client" eth0 "$r1" eth0
ip -n "$client" addr add 192.0.2.10/24 dev eth0 || fail "addr client"
ip -n "$r1" addr add 192.0.2.1/24 dev eth0 || fail "addr r1"
mac1=$(netns_mac "$r1" eth0)
[ -n "$mac1" ] || fail "no mac for r1"

cat > "$tmp/probe.lua" <<'LUA'
package.path = "tests/lib/?.lua;" .. package.path
local luaha = require "luaha"
local arp = luaha.arp
local t = require "netns"
local check, raises, fds = t.check, t.raises, t.fds
local owner = arg[1]

local mac, err = arp.probe("eth0", "192.0.2.1", { timeout = 2 })
check(mac == owner, ("probe 192.0.2.1: got %s %s, want %s"):format(tostring(mac), tostring(err), owner))

-- Nobody has 192.0.2.99: the answer is "timeout", after the timeout and not much later.
local t0 = luaha.now()
mac, err = arp.probe("eth0", "192.0.2.99", { timeout = 0.5 })
local took = luaha.now() - t0
check(mac == nil and err == "timeout", "probe 192.0.2.99: " .. tostring(mac) .. " " .. tostring(err))
check(took >= 0.5 and took < 0.7, "timeout after " .. took)
-- Longer than the resend interval: still one timeout, at the deadline.
t0 = luaha.now()
mac, err = arp.probe("eth0", "192.0.2.98", { timeout = 1.3 })
took = luaha.now() - t0
check(mac == nil and err == "timeout" and took >= 1.3 and took < 1.5, "long probe: " .. tostring(err) .. " after " .. took)

-- Probes run side by side, each waiting for its own address.
local tasks = {}
for i = 1, 5 do
    tasks[i] = luaha.spawn(arp.probe, "eth0", i % 2 == 1 and "192.0.2.1" or "192.0.2.97", { timeout = 1 })
end
for i = 1, 5 do
    local r, e = tasks[i]:join(5)
    if i % 2 == 1 then
        check(r == owner, "concurrent probe " .. i .. ": " .. tostring(r) .. " " .. tostring(e))
    else
        check(r == nil and e == "timeout", "concurrent probe " .. i .. ": " .. tostring(r) .. " " .. tostring(e))
    end
end

mac, err = arp.probe("nosuch0", "192.0.2.1")
check(mac == nil and err == "probe nosuch0: No such device", "missing interface: " .. tostring(err))
raises("not an IPv4 address", arp.probe, "eth0", "2001:db8::1")
raises("not an IPv4 address", arp.probe, "eth0", "192.0.2")
raises("unknown option 'timout'", arp.probe, "eth0", "192.0.2.1", { timout = 1 })
raises("option 'timeout'", arp.probe, "eth0", "192.0.2.1", { timeout = -1 })
raises("attempt to wait outside a task", coroutine.wrap(arp.probe), "eth0", "192.0.2.1")

-- The interface keeps one ARP socket for probes (closing one stalls the loop for a grace
-- period); a second probe at the same time has its own, closed when it ends, and a
-- cancelled probe gives the kept one back, ready for the next probe.
collectgarbage()
local before = fds()
local first = luaha.spawn(arp.probe, "eth0", "192.0.2.99", { timeout = 5 })
luaha.sleep(0.1)
check(fds() == before, "a lone probe opened " .. fds() - before .. " sockets")
local second = luaha.spawn(arp.probe, "eth0", "192.0.2.98", { timeout = 5 })
luaha.sleep(0.1)
check(fds() == before + 1, "a second probe at once has its own socket, not " .. fds() - before)
check(first:cancel() == true and second:cancel() == true, "cancel")
check(fds() == before, "sockets left after cancel: " .. fds() - before)
mac, err = arp.probe("eth0", "192.0.2.1", { timeout = 2 })
check(mac == owner, "probe after a cancelled one: " .. tostring(mac) .. " " .. tostring(err))
-- The kept socket survives its interface going down and up.
check(os.execute("ip link set eth0 down && ip link set eth0 up"), "eth0 down and up")
mac, err = arp.probe("eth0", "192.0.2.1", { timeout = 3 })
check(mac == owner, "probe after eth0 down and up: " .. tostring(mac) .. " " .. tostring(err))
check(fds() == before, "sockets left at the end: " .. fds() - before)
print("ok")
LUA
ip netns exec "$client" timeout 30 "$LUAHA" "$tmp/probe.lua" "$mac1" > "$tmp/probe.log" 2>&1 || fail "$(tail -1 "$tmp/probe.log")"
grep -qx ok "$tmp/probe.log" || fail "probe script did not finish"
echo "PASS $name"
