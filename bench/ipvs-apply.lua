-- bench/ipvs-apply.lua: 1000 services x 10 real servers: ipvs.apply against ipvsadm-restore, and a 1% change (inside UML).
-- SPDX-License-Identifier: GPL-2.0-or-later
-- Run by bench/ipvs-apply.sh in one UML boot. A flush leaves the destinations in the kernel's dest
-- trash for about two minutes and every add scans it, so loads are compared like with like: ipvsadm
-- on the fresh boot and again after a flush, luaha after a flush only.
local luaha = require "luaha"
local ipvs = luaha.ipvs

local NSVC, NDEST = 1000, 10

local function table_of(weight)
    local services = {}
    for i = 1, NSVC do
        local s = { protocol = "tcp", address = "198.51.100." .. (i % 250 + 1), port = 1000 + i // 250,
            scheduler = "wrr", dests = {} }
        for j = 1, NDEST do
            s.dests[j] = { address = "203.0.113." .. j, port = 10000 + i, forward = "nat", weight = weight(i, j) }
        end
        services[i] = s
    end
    return services
end

local function restore_text(services, edit_only)
    local lines = {}
    for _, s in ipairs(services) do
        local svc = ("-t %s:%d"):format(s.address, s.port)
        if not edit_only then lines[#lines + 1] = ("-A %s -s %s"):format(svc, s.scheduler) end
        for _, d in ipairs(s.dests) do
            if not edit_only or edit_only(d) then
                lines[#lines + 1] = ("%s %s -r %s:%d -m -w %d"):format(edit_only and "-e" or "-a", svc,
                    d.address, d.port, d.weight)
            end
        end
    end
    return table.concat(lines, "\n") .. "\n"
end

local function timed(fn)
    local t0 = luaha.now()
    local a, b = fn()
    return luaha.now() - t0, a, b
end

local function run(argv, stdin)
    local r = assert(luaha.proc.run(argv, { stdin = stdin, timeout = 600 }))
    assert(r.status == 0, table.concat(argv, " ") .. ": " .. r.stderr)
    return r
end

local base = table_of(function(_, j) return j end)
-- 1%: the 100 destinations of services 1..10 re-weighted
local changed = table_of(function(i, j) return i <= 10 and j + 50 or j end)
local entries = NSVC * (NDEST + 1)

assert(ipvs.flush())
local t_restore = timed(function() run({ "ipvsadm-restore" }, restore_text(base)) end)
local t_edit_r = timed(function()
    run({ "ipvsadm", "-R" }, restore_text(changed, function(d) return d.weight > 50 end))
end)
assert(ipvs.flush())

-- the longest the loop went without running a 1 ms ticker during the cold load
local max_gap, last, nticks, measuring = 0, luaha.now(), 0, true
local ticker = luaha.every(0.001, function()
    if not measuring then return end   -- a tick started before the cancel may run later
    local t = luaha.now()
    max_gap = math.max(max_gap, t - last)
    nticks = nticks + 1
    last = t
end)
local t_apply, report = timed(function() return assert(ipvs.apply(base)) end)
max_gap = math.max(max_gap, luaha.now() - last)
measuring = false
ticker:cancel()
assert(report.added == entries, "added " .. report.added)
assert(ipvs.format() == run({ "ipvsadm", "-Ln" }).stdout, "format differs after the load")
local t_change, creport = timed(function() return assert(ipvs.apply(changed)) end)
-- (the weights above are what the second ipvsadm load must undo: start it from an empty table)
assert(creport.changed == 100 and #creport.ops == 100, "1% change: " .. #creport.ops .. " ops")
local t_cached = timed(function() return assert(ipvs.apply(base, { current = creport.table })) end)
assert(ipvs.flush())
local t_restore_trash = timed(function() run({ "ipvsadm-restore" }, restore_text(base)) end)
assert(ipvs.flush())

print(("cold load of %d entries after a flush: ipvsadm-restore %.2f s, ipvs.apply %.3f s: %.1fx faster (target 20x)"):format(
    entries, t_restore_trash, t_apply, t_restore_trash / t_apply))
print(("  (ipvsadm-restore on the fresh boot: %.2f s, %.1fx ipvs.apply's time after a flush)"):format(
    t_restore, t_restore / t_apply))
print(("longest stall of the event loop during the cold load: %.1f ms (goal about 10 ms; %d ticks)"):format(
    max_gap * 1000, nticks))
print(("1%% change (100 weights): ipvsadm -R %.3f s, ipvs.apply %.3f s reading the kernel: %.2fx (target 10x)"):format(
    t_edit_r, t_change, t_edit_r / t_change))
print(("1%% change (100 weights): ipvs.apply given the previous table %.3f s: %.2fx"):format(
    t_cached, t_edit_r / t_cached))
