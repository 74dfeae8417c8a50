-- tests/lua/nanny.lua: a real server's health: re-entry, fall, quiesce, slow start, and one probe serving several virtuals.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local nanny = require "luaha.nanny"
local probes = require "luaha.probes"

local function block(o)
    local v = { name = "web", port = 80, protocol = "tcp", timeout = 1, reentry = 3, fall = 1,
        weight_ramp = false, quiesce_server = false }
    for k, x in pairs(o or {}) do v[k] = x end
    return v
end

t.test("first-good-check-brings-in-then-reentry", function()
    local m = nanny.new(block(), { address = "192.0.2.204", weight = 4 })
    t.eq(m:weight(), nil, "starts out")
    t.eq(m:step(true), true, "first good check changes"); t.eq(m:weight(), 4, "in at its weight")
    t.eq(m:step(false, "refused"), true, "one failure"); t.eq(m:weight(), nil, "out")
    m:step(true); m:step(true)
    t.eq(m:weight(), nil, "still out after 2 of 3")
    t.eq(m:step(true), true, "third good check"); t.eq(m:weight(), 4, "back in")
end)

t.test("fall-counts-failures-in-a-row-and-adopt-keeps-the-count", function()
    local v = block({ fall = 3, reentry = 2 })
    local m = nanny.new(v, { address = "192.0.2.204", weight = 1 })
    m:step(true)
    m:step(false); m:step(false); m:step(true); m:step(false); m:step(false)
    t.eq(m:weight(), 1, "a good check between failures starts the count again")
    t.eq(m:failed_checks(), 2, "failed checks"); t.eq(m:good_checks(), 0, "good checks")
    t.eq(m:step(false), true, "third failure in a row"); t.eq(m:weight(), nil, "out")
    m:step(true)
    local n = nanny.new(v, { address = "192.0.2.204", weight = 1 })
    n:adopt(m)
    t.eq(n:good_checks(), 1, "adopted count"); t.eq(n:weight(), nil, "still out")
    t.eq(n:step(true), true, "in after reentry / timeout = 2 good checks, counting the adopted one")
end)

t.test("a-monitor-is-small", function()
    -- What follows from the block is shared: a monitor holds 8 fields of its own (the smallest hash
    -- part that holds them: 248 bytes), and the probe key of monitors of one server is one string.
    local v, servers, last, mons = block(), {}, {}, {}
    for i = 1, 1000 do servers[i] = { address = "192.0.2.204", weight = 1 } end
    collectgarbage()
    collectgarbage()
    local before = collectgarbage("count")
    for i = 1, 1000 do
        local m = nanny.new(v, servers[i])
        m:step(true)
        m.last = last           -- the probe's result table, one for all its monitors
        mons[i] = m
    end
    collectgarbage()
    local each = (collectgarbage("count") - before) * 1024 / 1000
    assert(each < 300, ("a monitor costs %.0f bytes"):format(each))
    t.eq(mons[1]:probe_key(), mons[1000]:probe_key(), "one probe key")
end)

t.test("fall-and-quiesce", function()
    local m = nanny.new(block({ fall = 2, quiesce_server = true }), { address = "192.0.2.204", weight = 2 })
    m:step(true)
    t.eq(m:step(false), false, "one failure is not enough with fall = 2")
    t.eq(m:step(false), true, "second failure"); t.eq(m:weight(), 0, "quiesced at 0")
end)

t.test("slow-start-doubles-to-the-weight", function()
    local m = nanny.new(block({ weight_ramp = true, timeout = 10 }), { address = "192.0.2.204", weight = 100 })
    m:step(true)
    t.eq(m:weight(), 3, "enters at weight / 32")
    local seen = {}
    for _ = 1, 12 do m:step(true) seen[#seen + 1] = m:weight() end
    t.eq(table.concat(seen, " "), "3 6 6 12 12 24 24 48 48 96 96 100", "doubling every 20 s of checks")
    local zero = nanny.new(block({ weight_ramp = true }), { address = "192.0.2.204", weight = 0 })
    zero:step(true)
    t.eq(zero:weight(), 0, "a weight of 0 stays 0")
end)

t.test("one-probe-serves-several-virtuals", function()
    local connections = 0
    local srv = assert(luaha.net.listen("127.0.0.1", 0, function(conn)
        connections = connections + 1
        conn:receive("*l", 1)
        conn:send("HTTP/1.0 200 OK\r\n\r\n")
        conn:close()
    end))
    local port = srv:port()
    local a = nanny.new(block({ name = "a", port = port, timeout = 0.2, send = "GET /\n", expect = "HTTP" }),
        { address = "127.0.0.1", weight = 1, port = port })
    local b = nanny.new(block({ name = "b", port = port, timeout = 0.2, send = "GET /\n", expect = "HTTP" }),
        { address = "127.0.0.1", weight = 1, port = port })
    t.eq(a:probe_key(), b:probe_key(), "same probe")
    local changes = 0
    local task = luaha.spawn(probes.run_probe, { a, b }, function() changes = changes + 1 end)
    luaha.sleep(0.5)
    task:cancel()
    srv:close()
    t.eq(changes, 2, "both monitors came in")
    assert(connections >= 2 and connections <= 3, "one connection per check, not per virtual: " .. connections)
    local c = nanny.new(block({ name = "c", port = port, timeout = 0.2, expect = "SSH" }),
        { address = "127.0.0.1", weight = 1, port = port })
    assert(c:probe_key() ~= a:probe_key(), "a different dialogue is a different probe")
end)

t.test("probes-without-a-task-each", function()
    local connections = 0
    local srv = assert(luaha.net.listen("127.0.0.1", 0, function(conn)
        connections = connections + 1
        conn:close()
    end))
    local port = srv:port()
    -- 300 probes checked every 0.5 s: more than 64 at once, so their first checks spread.
    local v = block({ port = port, timeout = 0.5, reentry = 0.5 })
    local started, mons, changes = {}, {}, 0
    for i = 1, 300 do
        mons[i] = nanny.new(v, { address = "127.0.0.1", weight = 1, port = port })
    end
    for i = 1, 300 do started[i] = probes.start_probe({ mons[i] }, function() changes = changes + 1 end) end
    t.eq(started[1]:status(), "waiting", "status")
    t.eq(started[1]:name(), "nanny " .. mons[1].name, "name")
    luaha.sleep(1.2)
    local inside = 0
    for _, m in ipairs(mons) do if m:weight() == 1 then inside = inside + 1 end end
    t.eq(inside, 300, "every monitor came in")
    t.eq(changes, 300, "one change each")
    assert(connections >= 300 * 2 and connections <= 300 * 3 + 10, "a check every 0.5 s: " .. connections)
    -- A task per probe would be 300 tasks; the workers are those with a check in flight at once.
    -- (On a busy machine checks take longer and more are in flight at once, but never one per probe.)
    assert(probes.workers() > 0 and probes.workers() < 300, "workers for 300 probes: " .. probes.workers())
    -- A cancelled probe checks no more; when every probe is cancelled the workers end.
    for _, p in ipairs(started) do t.eq(p:cancel(), true, "cancel") end
    t.eq(started[1]:cancel(), false, "cancelled twice")
    t.eq(started[1]:status(), "cancelled", "status after cancel")
    luaha.sleep(0.6)
    local before = connections
    luaha.sleep(1)
    t.eq(connections, before, "no check after cancel")
    t.eq(probes.workers(), 0, "workers left")
    -- A server that goes away goes out, through the same queue.
    local m = nanny.new(v, { address = "127.0.0.1", weight = 2, port = port })
    local p = probes.start_probe({ m }, function() end)
    luaha.sleep(0.2)
    t.eq(m:weight(), 2, "in at once (a probe started alone is checked at once)")
    srv:close()
    luaha.sleep(1.2)
    t.eq(m:weight(), nil, "out after its server closed")
    t.eq(m.last.reason, "connect: Connection refused", "the reason")
    p:cancel()
end)

t.test("a-probe-of-many-monitors-gives-them-its-result-in-slices", function()
    -- A cold start of 37 000 real servers: 1600 results for 37 000 monitors held the loop 2.1 s in UML on
    -- 03ab0e2, every monitor stepped in one turn. Here 3000 monitors of one probe: the loop turns between slices.
    local srv = assert(luaha.net.listen("127.0.0.1", 0, function(conn) conn:close() end))
    local port = srv:port()
    local mons = {}
    for i = 1, 3000 do
        mons[i] = nanny.new(block({ name = "v" .. i, port = port, timeout = 0.5, reentry = 0.5 }),
            { address = "127.0.0.1", weight = 1, port = port })
    end
    local turns, running, seen, changes = 0, true, {}, 0
    local ticker = luaha.spawn(function()
        while running do
            turns = turns + 1
            luaha.sleep(0)
        end
    end)
    local level = luaha.log.level("warning")      -- 3000 "making ... available" lines
    local p = probes.start_probe(mons, function()
        changes = changes + 1
        seen[turns] = true
    end)
    t.until_(function() return changes == 3000 end, 10)
    luaha.log.level(level)
    running = false
    ticker:join(5)
    p:cancel()
    srv:close()
    t.eq(changes, 3000, "every monitor came in")
    local distinct = 0
    for _ in pairs(seen) do distinct = distinct + 1 end
    assert(distinct >= 2, "the 3000 monitors came in within one turn of the loop")
end)

t.test("load-monitor", function()
    t.eq(nanny.parse_load(" 10:01:02 up 3 days,  2 users,  load average: 0.25, 0.10, 0.05\n"), 0.25, "uptime")
    t.eq(nanny.parse_load("rs1  up  3 days, 2:01,  load 1.50, 0.10, 0.05"), nil, "no colon after load")
    t.eq(nanny.parse_load("no figures here"), nil, "nothing")
    t.eq(nanny.load_weight(8, 8, 0), 12, "idle: up by half the weight")
    t.eq(nanny.load_weight(8, 80, 0), 80, "capped at 10 times")
    t.eq(nanny.load_weight(8, 12, 9), 8, "busy: back down, never below the weight")
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    local script = dir .. "/fake-rsh"
    local f = assert(io.open(script, "w"))
    f:write("#!/bin/sh\necho \" 10:00:00 up 1 day,  load average: 0.00, 0.01, 0.05\"\n")
    f:close()
    assert(os.execute("chmod +x " .. script))
    local m = nanny.new(block({ load_monitor = "uptime" }), { address = "192.0.2.204", weight = 8 },
        { rsh_command = script })
    m:step(true)
    t.eq(m:check_load(), true, "an idle server's weight moves"); t.eq(m:weight(), 12, "up")
    local none = nanny.new(block({ load_monitor = "none" }), { address = "192.0.2.204", weight = 8 })
    none:step(true)
    t.eq(none:check_load(), false, "no load monitor")
    os.execute("rm -r " .. dir)
end)

luaha.exit(t.failures() == 0 and 0 or 1)
