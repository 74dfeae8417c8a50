#!/bin/bash
# tests/netns/route-blackhole-protocol.sh: link.route_add makes a blackhole route in table 100 with protocol 200, routes() lists its type and protocol, and route_del with a protocol deletes only a route of that protocol (the anycast announcement of issue 16).
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test route-blackhole-protocol
a=luaha-rb-$$

netns_add "$a"

cat > "$tmp/test.lua" <<'LUA'
package.path = "tests/lib/?.lua;" .. package.path
local luaha = require "luaha"
local link = luaha.link
local check = require("netns").check

local function sh(cmd)
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("a")
    p:close()
    return out
end
local function find(list, dst)
    for _, r in ipairs(list) do if r.dst == dst then return r end end
end

local vip = { dst = "192.0.2.80/32", table = 100, type = "blackhole", protocol = 200 }
assert(link.route_add(vip))
check(sh("ip route show table 100"):match("blackhole 192%.0%.2%.80 proto 200"),
    "ip shows " .. sh("ip route show table 100"))
local r = find(assert(link.routes(100)), "192.0.2.80/32")
check(r and r.type == "blackhole" and r.protocol == 200 and r.table == 100,
    "routes(100): " .. (r and (tostring(r.type) .. " " .. tostring(r.protocol)) or "no route"))
check(find(assert(link.routes()), "192.0.2.80/32") == nil, "the route is in main too")

-- Adding it again is refused and named.
local ok, err = link.route_add(vip)
check(not ok and err == "route_add blackhole 192.0.2.80/32 table 100 proto 200: File exists", tostring(err))

-- Another's route of the same destination, protocol static (4), as ip(8) would add it.
assert(link.route_add({ dst = "192.0.2.81/32", table = 100, type = "blackhole" }))
r = find(assert(link.routes(100)), "192.0.2.81/32")
check(r and r.protocol == 4, "libnl's default protocol: " .. tostring(r and r.protocol))
ok, err = link.route_del({ dst = "192.0.2.81/32", table = 100, protocol = 200 })
check(not ok and err:match("No such process$"), "deleted another protocol's route: " .. tostring(err))
check(find(assert(link.routes(100)), "192.0.2.81/32"), "192.0.2.81 gone")

-- The protocol's own is deleted; a route of that table listed is deleted as it is.
assert(link.route_del({ dst = "192.0.2.80/32", table = 100, protocol = 200 }))
check(find(assert(link.routes(100)), "192.0.2.80/32") == nil, "192.0.2.80 still there")
assert(link.route_del(find(assert(link.routes(100)), "192.0.2.81/32")))
check(#assert(link.routes(100)) == 0, "table 100 not empty")
ok, err = link.route_del({ dst = "192.0.2.80/32", table = 100, protocol = 200 })
check(not ok and err == "route_del 192.0.2.80/32 table 100 proto 200: No such process", tostring(err))

-- IPv6, and the refusals of misuse.
assert(link.route_add({ dst = "2001:db8::80/128", table = 100, type = "blackhole", protocol = 200 }))
r = find(assert(link.routes(100)), "2001:db8::80/128")
check(r and r.type == "blackhole" and r.protocol == 200 and r.family == "inet6", "the IPv6 route")
assert(link.route_del({ dst = "2001:db8::80/128", table = 100, protocol = 200, type = "blackhole" }))
check(not pcall(link.route_add, { dst = "192.0.2.80/32", protocol = 256 }), "protocol 256 taken")
check(not pcall(link.route_add, { dst = "192.0.2.80/32", type = "local" }), "type local taken")
check(not pcall(link.route_add, { dst = "192.0.2.80/32", type = "blackhole", dev = "lo" }),
    "a blackhole with a device taken")
print("ok")
LUA
ip netns exec "$a" timeout 60 "$LUAHA" "$tmp/test.lua" > "$tmp/test.log" 2>&1 || fail "$(tail -1 "$tmp/test.log")"
grep -qx ok "$tmp/test.log" || fail "did not finish"
echo "PASS $name"
