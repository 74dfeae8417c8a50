#!/bin/bash
# tests/netns/link-addresses-and-labels.sh: luaha.link against ip(8) in a namespace: links, labelled and IPv6 addresses, routes, sysctls, errors.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test link-addresses-and-labels
a=luaha-la-$$ b=luaha-lb-$$

netns_add "$a" "$b"
netns_veth "$a" eth0 "$b" eth0
ip -n "$a" addr add 192.0.2.1/24 dev eth0 || fail "addr a"

# The Lua side checks each call against what ip(8) says, in the same namespace.
cat > "$tmp/test.lua" <<'LUA'
package.path = "tests/lib/?.lua;" .. package.path
local link = require("luaha").link
local t = require "netns"
local check, raises = t.check, t.raises

local function sh(cmd)
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("a")
    p:close()
    return out
end
local function find(list, field, value)
    for _, e in ipairs(list) do
        if e[field] == value then return e end
    end
end
-- An error string: what the kernel said first, its explanation (if any) after.
local function starts(s, prefix)
    return type(s) == "string" and s:sub(1, #prefix) == prefix
end

-- links(): the veth with the MAC and state ip shows
local eth0 = find(link.links(), "name", "eth0")
check(eth0, "links() has no eth0")
local line = sh("ip -o link show dev eth0")
check(eth0.mac == line:match("link/ether (%x%x:[%x:]+)"), "mac " .. tostring(eth0.mac) .. " vs " .. line)
check(eth0.index == tonumber(line:match("^(%d+):")), "index " .. eth0.index)
check(eth0.mtu == 1500 and eth0.up == true and eth0.carrier == true, "eth0 state")
check(find(link.links(), "name", "lo").mac == "00:00:00:00:00:00", "lo mac")

-- set_up false and true, as ip sees it
assert(link.set_up("eth0", false))
check(not sh("ip -o link show dev eth0"):match("<[^>]*UP"), "still up: " .. sh("ip -o link show dev eth0"))
eth0 = find(link.links(), "name", "eth0")
check(eth0.up == false and eth0.carrier == false, "links() after set_up false")
assert(link.set_up("eth0", true))
check(sh("ip -o link show dev eth0"):match("<[^>]*,UP"), "not up again")
local ok, err = link.set_up("eth9", true)
check(ok == nil and err == "set_up eth9: No such device", "set_up eth9: " .. tostring(err))

-- an IPv4 address with a label, as ip addr ... label does
assert(link.addr_add{ dev = "eth0", address = "192.0.2.212/24", label = "eth0:1" })
line = sh("ip -o -4 addr show dev eth0 to 192.0.2.212")
check(line:match("inet 192%.0%.2%.212/24 .*scope global secondary eth0:1"), "ip shows: " .. line)
local a = find(link.addrs("eth0"), "address", "192.0.2.212/24")
check(a and a.label == "eth0:1" and a.family == "inet" and a.dev == "eth0" and a.scope == "global",
    "addrs() entry for the labelled address")
check(find(link.addrs(), "address", "192.0.2.212/24"), "addrs() without a link")
ok, err = link.addr_add{ dev = "eth0", address = "192.0.2.212/24", label = "eth0:1" }
check(ok == nil and starts(err, "addr_add 192.0.2.212/24 dev eth0: File exists"), "twice: " .. tostring(err))
ok, err = link.addr_add{ dev = "eth9", address = "192.0.2.212/24" }
check(ok == nil and err == "addr_add 192.0.2.212/24 dev eth9: No such device", "eth9: " .. tostring(err))
ok, err = link.addrs("eth9")
check(ok == nil and err == "addrs eth9: No such device", "addrs eth9: " .. tostring(err))
assert(link.addr_del{ dev = "eth0", address = "192.0.2.212/24" })
check(not sh("ip -o addr show dev eth0"):find("192.0.2.212", 1, true), "still there after addr_del")
ok, err = link.addr_del{ dev = "eth0", address = "192.0.2.212/24" }
check(ok == nil and starts(err, "addr_del 192.0.2.212/24 dev eth0: Cannot assign requested address"),
    "deleted twice: " .. tostring(err))

-- no prefix means a host; broadcast "+" is computed from the prefix
assert(link.addr_add{ dev = "eth0", address = "192.0.2.213" })
check(sh("ip -o addr show dev eth0"):find("inet 192.0.2.213/32 ", 1, true), "no /32")
assert(link.addr_del{ dev = "eth0", address = "192.0.2.213" })
assert(link.addr_add{ dev = "eth0", address = "198.51.100.9/25", broadcast = "+" })
check(sh("ip -o addr show dev eth0"):find("inet 198.51.100.9/25 brd 198.51.100.127 ", 1, true), "brd +")
check(find(link.addrs("eth0"), "address", "198.51.100.9/25").broadcast == "198.51.100.127", "addrs broadcast")
assert(link.addr_del{ dev = "eth0", address = "198.51.100.9/25" })

-- IPv6
assert(link.addr_add{ dev = "eth0", address = "2001:db8::212/64" })
check(sh("ip -o -6 addr show dev eth0"):find("inet6 2001:db8::212/64 ", 1, true), "IPv6 not added")
a = find(link.addrs("eth0"), "address", "2001:db8::212/64")
check(a and a.family == "inet6" and a.label == nil, "addrs() IPv6 entry")
assert(link.addr_del{ dev = "eth0", address = "2001:db8::212/64" })
check(not sh("ip -o -6 addr show dev eth0"):find("2001:db8::212", 1, true), "IPv6 not removed")

-- routes: ours, a default in another table, one made by ip (proto boot)
assert(link.route_add{ dst = "198.51.100.0/24", gateway = "192.0.2.254" })
line = sh("ip route show 198.51.100.0/24")
check(line:match("^198%.51%.100%.0/24 via 192%.0%.2%.254 dev eth0"), "ip route shows: " .. line)
local r = find(link.routes(), "dst", "198.51.100.0/24")
check(r and r.gateway == "192.0.2.254" and r.dev == "eth0" and r.table == 254 and r.family == "inet",
    "routes() entry")
ok, err = link.route_add{ dst = "198.51.100.0/24", gateway = "192.0.2.254" }
check(ok == nil and starts(err, "route_add 198.51.100.0/24 via 192.0.2.254: File exists"), "twice: " .. tostring(err))
ok, err = link.route_add{ dst = "203.0.113.0/24", gateway = "198.51.100.1" }
check(ok == nil and starts(err, "route_add 203.0.113.0/24 via 198.51.100.1: Network is unreachable"),
    "gateway off-link: " .. tostring(err))
assert(link.route_add{ dst = "default", gateway = "192.0.2.254", dev = "eth0", table = 100 })
check(sh("ip route show table 100"):match("^default via 192%.0%.2%.254 dev eth0"), "table 100")
r = find(link.routes(100), "dst", "default")
check(r and r.gateway == "192.0.2.254" and r.table == 100, "routes(100)")
check(find(link.routes("all"), "table", 100) and not find(link.routes(), "table", 100), "routes all/main")
assert(link.route_del{ dst = "0.0.0.0/0", table = 100 })
check(sh("ip route show table 100") == "", "table 100 not empty")
assert(link.route_del{ dst = "198.51.100.0/24", gateway = "192.0.2.254", dev = "eth0" })
check(sh("ip route show 198.51.100.0/24") == "", "route not deleted")
ok, err = link.route_del{ dst = "198.51.100.0/24" }
check(ok == nil and starts(err, "route_del 198.51.100.0/24: No such process"), "deleted twice: " .. tostring(err))
sh("ip route add 203.0.113.0/24 via 192.0.2.254")
assert(link.route_del{ dst = "203.0.113.0/24" })
check(sh("ip route show 203.0.113.0/24") == "", "ip's route not deleted")
assert(link.route_add{ dst = "2001:db8:1::/48", dev = "eth0" })
check(sh("ip -6 route show 2001:db8:1::/48"):match("^2001:db8:1::/48 dev eth0"), "IPv6 route")
check(find(link.routes(), "dst", "2001:db8:1::/48").family == "inet6", "routes() IPv6")
assert(link.route_del{ dst = "2001:db8:1::/48", dev = "eth0" })
check(sh("ip -6 route show 2001:db8:1::/48") == "", "IPv6 route not deleted")
ok, err = link.route_add{ dst = "203.0.113.0/24", dev = "eth9" }
check(ok == nil and err == "route_add 203.0.113.0/24 dev eth9: No such device", "route eth9: " .. tostring(err))

-- sysctl round trip on a sysctl of this namespace
local key = "net.ipv4.conf.eth0.arp_ignore"
check(link.sysctl(key) == "0", "arp_ignore starts at 0")
check(link.sysctl(key, 1) == true, "set 1")
check(link.sysctl(key) == "1" and sh("cat /proc/sys/net/ipv4/conf/eth0/arp_ignore") == "1\n", "reads 1")
check(link.sysctl(key, "2") == true and link.sysctl(key) == "2", "set \"2\"")
ok, err = link.sysctl(key, "x")
check(ok == nil and err == "sysctl " .. key .. ": Invalid argument", "set x: " .. tostring(err))
ok, err = link.sysctl("net.ipv4.conf.eth9.arp_ignore")
check(ok == nil and err == "sysctl net.ipv4.conf.eth9.arp_ignore: No such file or directory", "eth9: " .. tostring(err))
check(link.sysctl("net.ipv4.ip_local_port_range"):match("^%d+%s+%d+$"), "not trimmed")

-- programmer errors raise, and change nothing
local before = sh("ip -o addr show dev eth0")
raises("is not an IPv4 or IPv6 address", link.addr_add, { dev = "eth0", address = "192.0.2.300/24" })
raises("is not an IPv4 or IPv6 address", link.addr_add, { dev = "eth0", address = "192.0.2.1/33" })
raises("option 'address' must be a string", link.addr_add, { dev = "eth0", address = 7 })
raises("option 'dev' is required", link.addr_add, { address = "192.0.2.7/24" })
raises("unknown option 'lable'", link.addr_add, { dev = "eth0", address = "192.0.2.7/24", lable = "eth0:1" })
raises("only IPv4 addresses have labels", link.addr_add,
    { dev = "eth0", address = "2001:db8::7/64", label = "eth0:1" })
raises("must begin with the interface name", link.addr_add, { dev = "eth0", address = "192.0.2.7/24", label = "vip" })
raises("table expected", link.addr_del, "192.0.2.7/24")
raises("unknown option 'broadcast'", link.addr_del, { dev = "eth0", address = "192.0.2.7/24", broadcast = "+" })
raises("boolean expected", link.set_up, "eth0", "yes")
raises("disagree", link.route_add, { dst = "default", gateway = "2001:db8::1", family = "inet" })
raises("an address, not a prefix", link.route_add, { dst = "default", gateway = "192.0.2.0/24" })
raises("table: not a number", link.route_add, { dst = "default", gateway = "192.0.2.254", table = 0 })
raises("table: not a number", link.routes, "everything")
raises("not a sysctl name", link.sysctl, "net/ipv4/ip_forward")
raises("not a sysctl name", link.sysctl, "net.ipv4..conf")
raises("a string or an integer", link.sysctl, key, 1.5)
raises("a string or an integer", link.sysctl, key, true)
check(sh("ip -o addr show dev eth0") == before, "a raising call changed the addresses")
check(link.sysctl(key) == "2", "a raising call changed the sysctl")
print("ok")
LUA
ip netns exec "$a" timeout 30 "$LUAHA" "$tmp/test.lua" > "$tmp/test.log" 2>&1 || fail "$(tail -1 "$tmp/test.log")"
grep -qx ok "$tmp/test.log" || fail "did not finish"
echo "PASS $name"
