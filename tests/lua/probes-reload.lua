-- tests/lua/probes-reload.lua: a reload keeps the probes whose monitors it keeps, and only those; health carries over.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local probes = require "luaha.probes"

-- Two listeners on loopback answer the connect checks: p1 for virtuals a and b (one probe serves
-- both: same server, port and dialogue), p2 for c.
local listeners, checks = {}, 0
for i = 1, 2 do
    listeners[i] = assert(luaha.net.listen("127.0.0.1", 0, function(conn)
        checks = checks + 1
        conn:close()
    end))
end
local p1, p2 = listeners[1]:port(), listeners[2]:port()

-- text(blocks): an lvs.cf of the named blocks ({ name, port, weight }), a server on 127.0.0.1 each.
local function text(blocks)
    local out = { "serial_no = 1", "service = lvs", "primary = 192.0.2.1" }
    for _, b in ipairs(blocks) do
        out[#out + 1] = ("virtual %s {\n  active = 1\n  address = 192.0.2.%d eth0\n  port = %d\n  timeout = 1\n"
            .. "  reentry = 1\n  server rs1 {\n    address = 127.0.0.1\n    active = 1\n    weight = %d\n  }\n}")
            :format(b[1], b[1]:byte(), b[2], b[3] or 1)
    end
    return table.concat(out, "\n") .. "\n"
end

local cache = lvscf.cache()
local set = probes.new(function() end)

-- reload(blocks): what the daemon does (reload.lua): parse with the cache, plan, commit, start; the handles by port.
local function reload(blocks)
    local m = assert(lvscf.parse(text(blocks), "lvs.cf", cache))
    set:commit(set:plan(m))
    set:start()
    local by = {}
    for _, v in ipairs(m.virtuals) do
        local mon = set:monitor(v, v.servers[1])
        by[v.name] = { mon = mon, handle = set.handles[mon:probe_key()] }
    end
    return by, m
end

-- wait_in(by): every monitor in (their first checks pass), within 5 s.
local function wait_in(by)
    for _ = 1, 50 do
        local all = true
        for _, x in pairs(by) do all = all and x.mon:weight() ~= nil end
        if all then return end
        luaha.sleep(0.1)
    end
    error("the monitors did not all come in within 5 s")
end

t.test("a-reload-keeps-the-probes-of-kept-monitors-and-replaces-the-others", function()
    local base = { { "a", p1 }, { "b", p1 }, { "c", p2 } }
    local r0 = reload(base)
    wait_in(r0)
    t.eq(r0.a.handle, r0.b.handle, "a and b share one probe")
    assert(r0.a.handle ~= r0.c.handle, "c has a probe of its own")

    -- c's text changes: its monitor is new (with the health of before), so is its probe; a and b's goes on.
    local r1 = reload({ { "a", p1 }, { "b", p1 }, { "c", p2, 2 } })
    t.eq(r1.a.handle, r0.a.handle, "a's probe kept")
    t.eq(r1.a.mon, r0.a.mon, "a's monitor kept")
    assert(r1.c.mon ~= r0.c.mon, "c's monitor is new")
    assert(r1.c.handle ~= r0.c.handle, "c's probe is new")
    t.eq(r0.c.handle:status(), "cancelled", "c's old probe stopped")
    t.eq(r1.c.mon.state, "in", "c's new monitor has the health of before: in without a check")

    -- b's text changes: the probe of p1 has as many monitors as before, but one is new: a new probe.
    local r2 = reload({ { "a", p1 }, { "b", p1, 3 }, { "c", p2, 2 } })
    assert(r2.a.handle ~= r1.a.handle, "p1's probe replaced: b's monitor is new")
    t.eq(r2.a.handle, r2.b.handle, "one probe for a and b again")
    t.eq(r1.a.handle:status(), "cancelled", "p1's old probe stopped")
    t.eq(r2.a.mon, r1.a.mon, "a's monitor kept all the same")
    t.eq(r2.c.handle, r1.c.handle, "c's probe kept")

    -- b goes: p1's probe has one monitor fewer, all of them kept: a new probe for the shorter list.
    local r3 = reload({ { "a", p1 }, { "c", p2, 2 } })
    assert(r3.a.handle ~= r2.a.handle, "p1's probe replaced: b's monitor left it")
    t.eq(r2.a.handle:status(), "cancelled", "p1's old probe stopped")
    t.eq(#set.probes[r3.a.mon:probe_key()], 1, "p1's probe checks for a alone")
    t.eq(r3.c.handle, r2.c.handle, "c's probe kept")

    -- The same text again: everything goes on.
    local r4 = reload({ { "a", p1 }, { "c", p2, 2 } })
    t.eq(r4.a.handle, r3.a.handle, "a's probe kept")
    t.eq(r4.c.handle, r3.c.handle, "c's probe kept")
    local before = checks
    luaha.sleep(1.5)
    assert(checks > before, "the kept probes still check")
    wait_in(r4)
    set:stop()
    t.eq(r4.a.handle:status(), "cancelled", "stop")
end)

for _, l in ipairs(listeners) do l:close() end
