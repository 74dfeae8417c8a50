-- tests/uml/lua/ipvs-own.lua: ipvs.apply's ownership: current, owned, exclusive, against the real kernel (in UML).
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local ipvsadm = t.ipvsadm
local luaha = require "luaha"
local ipvs = luaha.ipvs

-- Another program's service: UDP 192.0.2.53:53 with one real server, added with ipvsadm.
local foreign_line = "UDP  192.0.2.53:53 rr"
local function add_foreign()
    ipvsadm("-A", "-u", "192.0.2.53:53", "-s", "rr")
    ipvsadm("-a", "-u", "192.0.2.53:53", "-r", "203.0.113.53:53", "-g", "-w", "1")
end

local function has(line) return ipvsadm("-Ln"):find(line, 1, true) ~= nil end

local function assert_foreign(what)
    local shown = ipvsadm("-Ln")
    assert(shown:find(foreign_line, 1, true) and shown:find("203.0.113.53:53", 1, true),
        what .. ": the foreign service or its real server is gone\n" .. shown)
end

local function web(...)
    local dests = {}
    for i, a in ipairs({ ... }) do dests[i] = { address = a, weight = i } end
    return { protocol = "tcp", address = "192.0.2.80", port = 80, scheduler = "wrr", dests = dests }
end
local dns = { protocol = "udp", address = "192.0.2.54", port = 53, scheduler = "rr",
    dests = { { address = "203.0.113.54" } } }

-- Each case starts from the foreign service alone.
local function fresh()
    assert(ipvs.flush())
    add_foreign()
end

local function ops(report) return table.concat(report.ops, "; ") end

t.test("foreign-service-survives-a-one-service-apply", function()
    fresh()
    local report = assert(ipvs.apply({ web("198.51.100.1", "198.51.100.2") }))
    t.eq(report.removed, 0, "removed: " .. ops(report))
    t.eq(report.added, 3, "added")
    assert_foreign("after the first apply")
    t.eq(#report.table, 1, "the report's table holds only the caller's service")
    t.eq(report.table[1].key, "tcp:192.0.2.80:80", "its service")
    report = assert(ipvs.apply({ web("198.51.100.1", "198.51.100.2") }, { current = report.table }))
    t.eq(#report.ops, 0, "again with current: " .. ops(report))
    report = assert(ipvs.apply({ web("198.51.100.1", "198.51.100.2") }))
    t.eq(#report.ops, 0, "again reading the kernel: " .. ops(report))
    assert_foreign("after applying again")
end)

t.test("dead-real-server-of-own-service-is-removed", function()
    fresh()
    local report = assert(ipvs.apply({ web("198.51.100.1", "198.51.100.2") }))
    report = assert(ipvs.apply({ web("198.51.100.1") }, { current = report.table }))
    t.eq(ops(report), "-d -t 192.0.2.80:80 -r 198.51.100.2:80", "with current")
    assert(ipvs.apply({ web("198.51.100.1", "198.51.100.2") }))
    report = assert(ipvs.apply({ web("198.51.100.1") }))
    t.eq(ops(report), "-d -t 192.0.2.80:80 -r 198.51.100.2:80", "reading the kernel")
    -- A real server added by hand to our service is ours to remove: the service is taken over whole.
    ipvsadm("-a", "-t", "192.0.2.80:80", "-r", "198.51.100.9:80", "-g", "-w", "1")
    report = assert(ipvs.apply({ web("198.51.100.1") }))
    t.eq(ops(report), "-d -t 192.0.2.80:80 -r 198.51.100.9:80", "a real server added by hand")
    assert(not has("198.51.100.2:80") and not has("198.51.100.9:80"), ipvsadm("-Ln"))
    assert_foreign("after removing real servers")
end)

t.test("service-dropped-from-desired-given-in-current-is-removed", function()
    fresh()
    local report = assert(ipvs.apply({ web("198.51.100.1"), dns }))
    report = assert(ipvs.apply({ web("198.51.100.1") }, { current = report.table }))
    t.eq(ops(report), "-D -u 192.0.2.54:53", "ops")
    t.eq(#report.table, 1, "report's table")
    assert(not has("192.0.2.54:53"), ipvsadm("-Ln"))
    assert_foreign("after dropping a service given in current")
end)

t.test("service-dropped-from-desired-given-in-owned-is-removed", function()
    fresh()
    local before = { web("198.51.100.1"), dns }
    assert(ipvs.apply(before))
    -- owned names a service the kernel does not have too: nothing to do for it.
    local owned = { before[1], before[2], { protocol = "tcp", address = "192.0.2.99", port = 25 } }
    local report = assert(ipvs.apply({ web("198.51.100.1") }, { owned = owned }))
    t.eq(ops(report), "-D -u 192.0.2.54:53", "ops")
    assert_foreign("after dropping a service given in owned")
    -- Without current or owned, a service dropped from desired is not known as ours and stays.
    assert(ipvs.apply({ web("198.51.100.1"), dns }))
    report = assert(ipvs.apply({ web("198.51.100.1") }))
    t.eq(#report.ops, 0, "no owner: " .. ops(report))
    assert(has("UDP  192.0.2.54:53 rr"), ipvsadm("-Ln"))
end)

t.test("removing-all-own-services-keeps-the-others", function()
    fresh()
    local desired = { web("198.51.100.1", "198.51.100.2"), dns }
    local report = assert(ipvs.apply(desired))
    report = assert(ipvs.apply({}, { current = report.table }))
    t.eq(report.removed, 2, "removed with current: " .. ops(report))
    t.eq(#report.table, 0, "report's table")
    assert(not has("192.0.2.80:80") and not has("192.0.2.54:53"), ipvsadm("-Ln"))
    assert_foreign("after removing ours with current")
    -- owned reads the kernel first: a service already gone is no failure.
    assert(ipvs.apply(desired))
    ipvsadm("-D", "-t", "192.0.2.80:80")
    report = assert(ipvs.apply({}, { owned = desired }))
    t.eq(ops(report), "-D -u 192.0.2.54:53", "removed with owned")
    assert_foreign("after removing ours with owned")
    local r, err = ipvs.apply({}, { current = { desired[1] } })
    t.eq(r, nil, "current naming a service the kernel no longer has")
    assert(err:find("No such service", 1, true), err)
    assert_foreign("after a failed removal")
end)

t.test("exclusive-takes-the-whole-table", function()
    fresh()
    local report = assert(ipvs.apply({ web("198.51.100.1") }, { exclusive = true, dry_run = true }))
    t.eq(report.removed, 1, "dry run removes the foreign service: " .. ops(report))
    assert_foreign("after the dry run")
    report = assert(ipvs.apply({}, { dry_run = true }))
    t.eq(report.removed, 0, "a dry run without exclusive removes nothing")
    t.eq(#report.table, 0, "and its table is empty")
    report = assert(ipvs.apply({ web("198.51.100.1") }, { exclusive = true }))
    t.eq(ops(report), "-A -t 192.0.2.80:80 -s wrr; -a -t 192.0.2.80:80 -r 198.51.100.1:80 -g -w 1; -D -u 192.0.2.53:53",
        "ops")
    assert(not has(foreign_line), ipvsadm("-Ln"))
    t.checkerr("exclusive must be a boolean", ipvs.apply, {}, { exclusive = 1 })
    t.checkerr("ipvs.apply: owned: service 1", ipvs.apply, {}, { owned = { { protocol = "icmp" } } })
end)

t.test("exclusive-failure-restores-the-foreign-service", function()
    fresh()
    local before = ipvsadm("-Ln")
    local desired = { web("198.51.100.1"),
        { protocol = "tcp", address = "192.0.2.81", port = 80, scheduler = "nosuchsched" } }
    local r, err = ipvs.apply(desired, { exclusive = true })
    t.eq(r, nil, "result")
    assert(err:find("Scheduler not found", 1, true), err)
    t.eq(ipvsadm("-Ln"), before, "the table after the undo")
end)

t.test("without-prune-nothing-is-removed", function()
    fresh()
    local report = assert(ipvs.apply({ web("198.51.100.1", "198.51.100.2"), dns }))
    report = assert(ipvs.apply({ web("198.51.100.1") }, { current = report.table, prune = false }))
    t.eq(#report.ops, 0, "ops: " .. ops(report))
    t.eq(#report.table, 2, "our two services, without the foreign one")
    t.eq(#report.table[1].dests, 2, "with the real server that stays")
    report = assert(ipvs.apply({ web("198.51.100.1") }, { prune = false, exclusive = true }))
    t.eq(#report.table, 3, "exclusive: the whole table")
    assert_foreign("without prune")
end)

assert(ipvs.flush())
luaha.exit(t.failures() == 0 and 0 or 1)
