#!/bin/bash
# tests/netns/arp-garp-moves-vip.sh: arp.garp from r1 then r2 moves a VIP (IPv4 and IPv6) in a client's neighbour table; bursts yield; errors; vips.take and vips.announce's first packet.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test arp-garp-moves-vip
sw=luaha-sw-$$ client=luaha-client-$$ r1=luaha-r1-$$ r2=luaha-r2-$$

# A bridge in its own namespace, and client, r1 and r2 each with an eth0 on it.
netns_add "$sw" "$client" "$r1" "$r2"
ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up || fail "bridge"
# node PORT NS: eth0 in NS, on the bridge's port PORT.
node()
{
	netns_veth "$2" eth0 "$sw" "$1" && ip -n "$sw" link set "$1" master br0
}
node client "$client" && node r1 "$r1" && node r2 "$r2" || fail "namespaces"
ip -n "$client" addr add 192.0.2.10/24 dev eth0 && ip -n "$client" addr add 2001:db8::10/64 dev eth0 nodad &&
	ip -n "$r1" addr add 192.0.2.1/24 dev eth0 && ip -n "$r1" addr add 2001:db8::1/64 dev eth0 nodad &&
	ip -n "$r2" addr add 192.0.2.2/24 dev eth0 && ip -n "$r2" addr add 2001:db8::2/64 dev eth0 nodad || fail "addresses"
# Without arp_accept a gratuitous ARP only updates an entry, it never creates one.
ip netns exec "$client" sysctl -qw net.ipv4.conf.all.arp_accept=1 net.ipv4.conf.eth0.arp_accept=1 || fail "arp_accept"

mac1=$(netns_mac "$r1" eth0) mac2=$(netns_mac "$r2" eth0)
[ -n "$mac1" ] && [ -n "$mac2" ] && [ "$mac1" != "$mac2" ] || fail "macs '$mac1' '$mac2'"

# neigh_is ADDR MAC: the client's entry for ADDR reaches MAC within 2 s.
neigh_is()
{
	for _ in $(seq 20); do
		ip -n "$client" neigh show "$1" dev eth0 | grep -q "lladdr $2" && return 0
		sleep 0.1
	done
	return 1
}

# garp.lua ADDR...: bursts for all the addresses at once, sharing the interface's libnet handle.
cat > "$tmp/garp.lua" <<'LUA'
local luaha = require "luaha"
local tasks = {}
for i = 1, #arg do tasks[i] = luaha.spawn(luaha.arp.garp, "eth0", arg[i], { count = 3, interval = 0.03 }) end
for i = 1, #arg do
    local ok, err = tasks[i]:join(5)
    if not ok then print("FAIL garp " .. arg[i] .. ": " .. tostring(err)) os.exit(1) end
end
print("ok")
LUA
# garp NS ADDR...
garp()
{
	local ns=$1
	shift
	ip netns exec "$ns" timeout 20 "$LUAHA" "$tmp/garp.lua" "$@" > "$tmp/garp.log" 2>&1 ||
		fail "garp $* from $ns: $(tail -1 "$tmp/garp.log")"
	grep -qx ok "$tmp/garp.log" || fail "garp $* from $ns: $(tail -1 "$tmp/garp.log")"
}

# r1 has the VIPs: a gratuitous ARP creates the client's IPv4 entry (arp_accept), a ping its IPv6 one.
ip -n "$client" neigh show 192.0.2.212 | grep -q lladdr && fail "an entry for the VIP before any garp"
ip -n "$r1" addr add 192.0.2.212/24 dev eth0 && ip -n "$r1" addr add 2001:db8::212/64 dev eth0 nodad || fail "vips on r1"
garp "$r1" 192.0.2.212
neigh_is 192.0.2.212 "$mac1" || fail "garp from r1: $(ip -n "$client" neigh show 192.0.2.212)"
ip netns exec "$client" ping -6 -c 1 -W 2 2001:db8::212 > /dev/null || fail "ping6 the vip on r1"
neigh_is 2001:db8::212 "$mac1" || fail "no entry for r1: $(ip -n "$client" neigh show 2001:db8::212)"

# r2 takes both over and announces them at once: a gratuitous ARP and an unsolicited advertisement move the entries.
ip -n "$r1" addr del 192.0.2.212/24 dev eth0 && ip -n "$r1" addr del 2001:db8::212/64 dev eth0 &&
	ip -n "$r2" addr add 192.0.2.212/24 dev eth0 && ip -n "$r2" addr add 2001:db8::212/64 dev eth0 nodad || fail "vips to r2"
for vip in 192.0.2.212 2001:db8::212; do
	ip -n "$client" neigh show "$vip" dev eth0 | grep -q "lladdr $mac1" || fail "the entry for $vip changed before r2 announced it"
done
garp "$r2" 192.0.2.212 2001:db8::212
neigh_is 192.0.2.212 "$mac2" || fail "garp from r2: $(ip -n "$client" neigh show 192.0.2.212)"
neigh_is 2001:db8::212 "$mac2" || fail "advertisement from r2: $(ip -n "$client" neigh show 2001:db8::212)"
# On a router whose accept_untracked_na allows it (Linux 5.18), the advertisement creates an entry.
if ip netns exec "$client" sysctl -qw net.ipv6.conf.eth0.accept_untracked_na=1 2> /dev/null; then
	ip netns exec "$client" sysctl -qw net.ipv6.conf.eth0.forwarding=1 || fail "forwarding"
	ip -n "$r2" addr add 2001:db8::213/64 dev eth0 nodad || fail "second vip6 on r2"
	garp "$r2" 2001:db8::213
	neigh_is 2001:db8::213 "$mac2" || fail "advertisement did not create an entry: $(ip -n "$client" neigh)"
fi

# In r2: a missing interface, misuse, a burst that lets another task run, a cancelled burst.
cat > "$tmp/checks.lua" <<'LUA'
package.path = "tests/lib/?.lua;" .. package.path
local luaha = require "luaha"
local arp = luaha.arp
local t = require "netns"
local check, raises, fds = t.check, t.raises, t.fds

local ok, err = arp.garp("nosuch0", "192.0.2.212")
check(ok == nil and err == "garp nosuch0: No such device", "missing interface: " .. tostring(err))
check(os.execute("ip link add down0 type veth peer name down1"), "ip link add down0")
ok, err = arp.garp("down0", "192.0.2.212")
check(ok == nil and tostring(err):find("^garp down0: .*down$"), "interface down: " .. tostring(err))
raises("not an IPv4 or IPv6 address", arp.garp, "eth0", "192.0.2.300")
raises("not an interface name", arp.garp, "", "192.0.2.212")
raises("unknown option 'cuont'", arp.garp, "eth0", "192.0.2.212", { cuont = 2 })
raises("option 'count'", arp.garp, "eth0", "192.0.2.212", { count = 0 })
raises("option 'count'", arp.garp, "eth0", "192.0.2.212", { count = 1.5 })
raises("option 'interval'", arp.garp, "eth0", "192.0.2.212", { interval = -1 })
raises("attempt to wait outside a task", coroutine.wrap(arp.garp), "eth0", "192.0.2.212", { count = 2 })
check(coroutine.wrap(arp.garp)("eth0", "192.0.2.212", { count = 1 }) == true, "a single packet needs no task")

-- Five packets 50 ms apart: the ticker runs while the burst waits.
local ticks, done = 0, false
local ticker = luaha.spawn(function()
    while not done do ticks = ticks + 1; luaha.sleep(0.01) end
end)
local t0 = luaha.now()
ok, err = arp.garp("eth0", "192.0.2.212", { count = 5, interval = 0.05 })
local took = luaha.now() - t0
done = true
ticker:join()
check(ok == true, "burst: " .. tostring(err))
check(took >= 0.2 and took < 1, "burst took " .. took)
check(ticks >= 8, "ticker ran only " .. ticks .. " times during the burst")
check(arp.garp("eth0", "2001:db8::212", { count = 3, interval = 0 }) == true, "ipv6 burst without interval")

-- The interface's packet socket is opened once and kept (closing one stalls the loop for a
-- grace period): bursts open none, and a task cancelled in the middle of one leaves none.
collectgarbage()
local before = fds()
for _ = 1, 20 do check(arp.garp("eth0", "192.0.2.212", { count = 1 }) == true, "single garp") end
local burst = luaha.spawn(arp.garp, "eth0", "192.0.2.212", { count = 100, interval = 0.05 })
luaha.sleep(0.12)
check(burst:status() == "waiting", "burst status " .. burst:status())
check(burst:cancel() == true, "cancel")
collectgarbage()
check(fds() == before, "sockets after 20 garps and a cancelled burst: " .. fds() - before)

-- arp.open: the interface's socket opened ahead of its first garp, once.
ok, err = arp.open("nosuch0")
check(ok == nil and err == "arp nosuch0: No such device", "open a missing interface: " .. tostring(err))
check(os.execute("ip link add up0 type veth peer name up1 && ip link set up0 up && ip link set up1 up"), "ip link add up0")
before = fds()
check(arp.open("up0") == true, "open up0")
check(fds() == before + 1, "open up0 kept " .. fds() - before .. " sockets, not 1")
check(arp.open("up0") == true and arp.garp("up0", "192.0.2.212", { count = 1 }) == true, "open again, garp")
check(fds() == before + 1, "a second open and a garp after open opened " .. fds() - before - 1 .. " more")

-- vips.announce: 508 VIPs in one task that lets the loop run while it sends a round (a task per
-- VIP sent them all in one turn: 0.1-0.4 s of the heartbeat part's loop in UML for 230 VIPs).
local vips = require "luaha.vips"
local list = {}
for _, net in ipairs({ "198.51.100.%d", "203.0.113.%d" }) do
    for i = 1, 254 do list[#list + 1] = { address = net:format(i), dev = "eth0", prefix = 32 } end
end
local turns, sending = 0, true
local counter = luaha.spawn(function() while sending do turns = turns + 1; luaha.sleep(0) end end)
local tasks = vips.announce(list, 2, 0.05)
check(#tasks == 1, "vips.announce made " .. #tasks .. " tasks for " .. #list .. " VIPs")
tasks[1]:join(20)
sending = false
counter:join()
check(tasks[1]:status() == "done", "vips.announce: " .. tasks[1]:status())
check(turns >= 3, "the loop turned " .. turns .. " times while two rounds for 508 VIPs were sent")

-- A takeover's first packet goes out before vips.announce returns: its task, cancelled before the
-- loop turns, never runs, and the client still learns 192.0.2.99 (checked below).
tasks = vips.announce({ { address = "192.0.2.99", dev = "eth0", prefix = 32 } }, 3, 0.05)
check(tasks[1]:cancel() == true, "cancel the burst before it starts")

-- vips.take adds at once; a VIP already there is no error; the kernel's refusal is.
local link = luaha.link
local function has(address)
    for _, a in ipairs(assert(link.addrs("eth0"))) do if a.address == address then return true end end
    return false
end
local take = { { address = "198.51.100.99", dev = "eth0", prefix = 32, label = "eth0:9" } }
check(not has("198.51.100.99/32"), "198.51.100.99 on eth0 before vips.take")
ok, err = vips.take(take)
check(ok == true and has("198.51.100.99/32"), "vips.take: " .. tostring(err))
ok, err = vips.take(take)
check(ok == true, "vips.take of a VIP already there: " .. tostring(err))
ok, err = vips.take({ { address = "198.51.100.98", dev = "nosuch0", prefix = 32 } })
check(ok == nil and tostring(err):find("nosuch0"), "vips.take on a missing interface: " .. tostring(err))
print("ok")
LUA
ip netns exec "$r2" timeout 30 "$LUAHA" "$tmp/checks.lua" > "$tmp/checks.log" 2>&1 || fail "checks: $(tail -1 "$tmp/checks.log")"
grep -qx ok "$tmp/checks.log" || fail "checks did not finish"
# vips.announce reached the last VIP of its list.
neigh_is 203.0.113.254 "$mac2" || fail "vips.announce: no entry for the last VIP: $(ip -n "$client" neigh show 203.0.113.254)"
neigh_is 192.0.2.99 "$mac2" || fail "vips.announce: the first packet waited for its task: $(ip -n "$client" neigh show 192.0.2.99)"
echo "PASS $name"
