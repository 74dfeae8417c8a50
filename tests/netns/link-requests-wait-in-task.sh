#!/bin/bash
# tests/netns/link-requests-wait-in-task.sh: luaha.link requests wait in their task, one at a time, while other tasks run; cancelled and blocking callers leave the socket usable.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test link-requests-wait-in-task
a=luaha-lr-$$

netns_add "$a"
ip -n "$a" link add eth0 type veth peer name eth1 && ip -n "$a" link set eth0 up && ip -n "$a" link set eth1 up || fail "veth eth0"

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
local function count(list, pred)
    local n = 0
    for _, e in ipairs(list) do if pred(e) then n = n + 1 end end
    return n
end
local function ours(e) return e.dev == "eth0" and e.address:match("^198%.51%.100%.") end
local function addr(i) return ("198.51.100.%d/32"):format(i) end

-- A ticker every 5 ms; ticks() is how many times it ran.
local n = 0
local ticker = luaha.every(0.005, function() n = n + 1 end)

-- Before, each request blocked in libnl, and a loop of them held the loop, and the ticker,
-- until it ended. Now each waits in its task. At least 250 requests and 0.2 s, at most 20 000.
local t0, k, start = luaha.now(), 0, n
while k < 20000 and (k < 250 or luaha.now() - t0 < 0.2) do
    k = k + 1
    local i = (k - 1) % 250 + 1
    if k <= 250 then
        assert(link.addr_add({ dev = "eth0", address = addr(i), label = "eth0:" .. i % 10 }))
    else
        check(#link.links() >= 2, "links() in the loop")
    end
end
local during = n - start
check(during >= 5, ("%d requests in %.3f s: the ticker ran only %d times"):format(k, luaha.now() - t0, during))
local list = assert(link.addrs("eth0"))
check(count(list, ours) == 250, "addrs() has " .. count(list, ours) .. " of 250")
local shown = select(2, sh("ip -o -4 addr show dev eth0"):gsub("198%.51%.100%.", ""))
check(shown == 250, "ip shows " .. shown .. " addresses")
local a7 = nil
for _, e in ipairs(list) do if e.address == "198.51.100.7/32" then a7 = e end end
check(a7 and a7.label == "eth0:7", "the label of 198.51.100.7")

-- Four tasks at once, each removing its share: the requests take turns on the socket.
local first, last, done = {}, {}, 0
local tasks = {}
for w = 1, 4 do
    tasks[w] = luaha.spawn(function()
        for j = w, 250, 4 do
            assert(link.addr_del({ dev = "eth0", address = addr(j) }))
            done = done + 1
            first[w] = first[w] or done
            last[w] = done
        end
        return true
    end)
end
for w = 1, 4 do check(tasks[w]:join(30), "task " .. w) end
local latest_first, earliest_last = 0, math.huge
for w = 1, 4 do
    latest_first = math.max(latest_first, first[w])
    earliest_last = math.min(earliest_last, last[w])
end
check(latest_first < earliest_last, "one task ran alone")
check(count(assert(link.addrs("eth0")), ours) == 0, "addresses left after the tasks")

-- Cancelled while its dump is in flight, with another's queued behind it: the other's answer is
-- whole and the socket serves the next requests. Tasks start in the order spawned, in one turn
-- of the loop: x sends, y queues, c cancels x before the loop reads x's answer.
for i = 1, 50 do assert(link.route_add({ dst = ("203.0.113.%d/32"):format(i), dev = "eth0" })) end
for _ = 1, 10 do
    local x = luaha.spawn(function() return link.routes() end)
    local y = luaha.spawn(function() return link.routes() end)
    local c = luaha.spawn(function() return x:status(), x:cancel() end)
    local status, cancelled = c:join(10)
    check(status == "waiting" and cancelled == true, "x was " .. tostring(status) .. " when cancelled")
    local routes = assert(y:join(10))
    check(count(routes, function(r) return r.dst:match("^203%.0%.113%.") end) == 50, "the queued routes()")
    check(select(2, x:join()) == "cancelled", "x not cancelled")
    check(#assert(link.links()) >= 2, "links() after a cancel")
end

-- Where a task cannot yield, a request blocks, after the one of another task in flight.
local x = luaha.spawn(function() return link.addrs() end)
local b = luaha.spawn(function()
    return x:status(), coroutine.wrap(function() return link.links() end)(), x:status()
end)
local before, links, after = b:join(10)
check(before == "waiting" and after == "ready", "x was " .. tostring(before) .. ", then " .. tostring(after))
check(#links >= 2, "links() in a plain coroutine")
check(#assert(x:join(10)) >= 1, "the task's addrs(), finished by the blocking call")
check(coroutine.wrap(function() return link.set_up("eth0", false) end)() == true, "set_up blocking")
check(not sh("ip -o link show dev eth0"):match("<[^>]*,UP"), "eth0 still up")

-- A watcher made in a task reads the links first, then reports.
local seen = {}
local watcher = assert(link.watch(function(ev)
    if ev.type == "link" and ev.name == "eth0" then seen[#seen + 1] = ev.up end
end))
assert(link.set_up("eth0", true))
for _ = 1, 200 do
    if seen[1] ~= nil then break end
    luaha.sleep(0.01)
end
check(seen[1] == true, "the watcher saw eth0 come up")
watcher:cancel()
ticker:cancel()
print("ok")
LUA
ip netns exec "$a" timeout 60 "$LUAHA" "$tmp/test.lua" > "$tmp/test.log" 2>&1 || fail "$(tail -1 "$tmp/test.log")"
grep -qx ok "$tmp/test.log" || fail "did not finish"
echo "PASS $name"
