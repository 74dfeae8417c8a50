-- tests/uml/lua/ipvs-partial.lua: ipvs.apply(desired, {current=, partial=true}) against the real kernel (run inside UML).
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local ipvsadm = t.ipvsadm
local luaha = require "luaha"
local ipvs = luaha.ipvs

-- 50 services x 8 real servers; change(i, dests) may alter service i's list.
local function table_of(change)
    local services = {}
    for i = 1, 50 do
        local s = { protocol = "tcp", address = "198.51.100." .. (i % 20 + 1), port = 1000 + i, scheduler = "wrr",
            dests = {} }
        for j = 1, 8 do
            s.dests[j] = { address = "203.0.113." .. j, port = 2000 + i, weight = j, forward = "dr" }
        end
        if change then change(i, s) end
        services[i] = s
    end
    return services
end

-- The changes of a health update: service 7 loses real server 3 and gains .9, service 30 gets weight 50 on .1.
local function changed(i, s)
    if i == 7 then
        table.remove(s.dests, 3)
        s.dests[#s.dests + 1] = { address = "203.0.113.9", port = 2007, weight = 1, forward = "dr" }
    elseif i == 30 then
        s.dests[1].weight = 50
    end
end

assert(ipvs.flush())

t.test("partial-apply-sends-only-its-services-and-patches-the-table", function()
    local full = assert(ipvs.apply(table_of()))
    t.eq(full.added, 50 + 400, "first apply")
    local whole = table_of(changed)
    local report = assert(ipvs.apply({ whole[7], whole[30] }, { current = full.table, partial = true }))
    t.eq(table.concat(report.ops, "; "), "-a -t 198.51.100.8:1007 -r 203.0.113.9:2007 -g -w 1; "
        .. "-e -t 198.51.100.11:1030 -r 203.0.113.1:2030 -g -w 50; -d -t 198.51.100.8:1007 -r 203.0.113.3:2007", "ops")
    assert(report.table == full.table, "the last table is patched in place, not copied")
    local nsvcs, ndests = 0, 0
    for _, s in ipairs(report.table) do nsvcs, ndests = nsvcs + 1, ndests + #s.dests end
    t.eq(nsvcs, 50, "services in the patched table")
    t.eq(ndests, 400, "real servers in the patched table")
    -- The kernel has the whole changed table: a full apply of it finds nothing to do, from the kernel or the patch.
    t.eq(#assert(ipvs.apply(whole)).ops, 0, "kernel equals the changed table")
    local again = assert(ipvs.apply(table_of(changed), { current = report.table }))
    t.eq(#again.ops, 0, "patched table equals the changed table")
end)

t.test("partial-apply-the-kernel-refuses-is-undone-whole", function()
    local base = table_of()
    local full = assert(ipvs.apply(base))
    ipvsadm("-d", "-t", "198.51.100.8:1007", "-r", "203.0.113.5:2007")   -- behind our back
    local before = ipvsadm("-Ln")
    -- An add first, then an edit of the real server that is no longer there: the add is undone.
    local s = table_of()[7]
    s.dests[5].weight = 77
    table.insert(s.dests, 1, { address = "203.0.113.10", port = 2007, weight = 1, forward = "dr" })
    local r, err = ipvs.apply({ s }, { current = full.table, partial = true })
    t.eq(r, nil, "result")
    assert(err:find("No such destination", 1, true), err)
    t.eq(ipvsadm("-Ln"), before, "the kernel's table after the refused batch")
    -- The table was not patched: applying the same again against it fails again, the same way.
    r = ipvs.apply({ s }, { current = full.table, partial = true })
    t.eq(r, nil, "the table stands for the kernel as before")
    assert(ipvs.apply(base))
end)

t.test("partial-needs-current-and-refuses-whole-options", function()
    t.checkerr("partial needs current", ipvs.apply, {}, { partial = true })
    local full = assert(ipvs.apply(table_of()))
    t.checkerr("partial needs current", ipvs.apply, {}, { current = full.table, partial = true, dry_run = true })
    t.checkerr("partial needs current", ipvs.apply, {}, { current = full.table, partial = true, exclusive = true })
end)

assert(ipvs.flush())
luaha.exit(t.failures() == 0 and 0 or 1)
