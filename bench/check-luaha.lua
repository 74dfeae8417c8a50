-- bench/check-luaha.lua: N real servers checked every second by luaha's nanny monitors (probes.start_probe), for SECONDS.
-- SPDX-License-Identifier: GPL-2.0-or-later
-- Usage: luaha bench/check-luaha.lua N SECONDS FIRST_PORT NPORTS COUNTFILE[,COUNTFILE...]; prints its CPU
-- seconds, the wall time, the connections the listeners counted meanwhile (their COUNTFILEs, see check-listener.lua),
-- its VmRSS and VmHWM in KiB, how many servers are not in (failed their last check), and its user and
-- system CPU seconds (the first number is their sum), the checks that passed by its own count, and the
-- bytes of Lua heap each real server's monitor and running probe hold (after a full collection).
-- HALF_OPEN=1 in the environment: half-open checks (half_open = 1) instead of connects.
-- Server i is 198.51.100.(1 + (i - 1) // NPORTS), port FIRST_PORT + (i - 1) % NPORTS.
local luaha = require "luaha"
local nanny = require "luaha.nanny"
local probes = require "luaha.probes"

-- The checks that passed, counted here too (a half-open check makes no connection a listener counts),
-- where every result goes, whether the check ran in a task or in C: the monitors' step.
local passed, reasons = 0, {}
local monitor = getmetatable(getmetatable(nanny.new({ name = "x", port = 1, protocol = "tcp", timeout = 1,
    reentry = 1, fall = 1 }, { address = "192.0.2.1", weight = 1 })))
local step = monitor.step
function monitor.step(self, ok, err)
    if ok then passed = passed + 1 else reasons[err] = (reasons[err] or 0) + 1 end
    return step(self, ok, err)
end
local n, seconds, first, nports = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local countfiles = arg[5]

local function count()
    local c = 0
    for path in countfiles:gmatch("[^,]+") do
        local f = io.open(path)
        c = c + (f and tonumber(f:read("a")) or 0)
        if f then f:close() end
    end
    return c
end

-- utime and stime, in seconds (ticks of 1/100 s).
local function cpu_seconds()
    local f = assert(io.open("/proc/self/stat"))
    local fields = {}
    for w in f:read("a"):gsub("^.*%) ", ""):gmatch("%S+") do fields[#fields + 1] = w end
    f:close()
    return tonumber(fields[12]) / 100, tonumber(fields[13]) / 100
end

local function status_kib(field)
    local f = assert(io.open("/proc/self/status"))
    local kib = f:read("a"):match(field .. ":%s*(%d+)")
    f:close()
    return tonumber(kib)
end

-- One virtual service with N real servers, as keepalived's configuration in bench/checks.sh.
local v = { name = "bench", port = first, protocol = "tcp", timeout = 1, reentry = 1, fall = 1,
    weight_ramp = false, quiesce_server = false, load_monitor = "none", half_open = os.getenv("HALF_OPEN") == "1" }
local started, mons = {}, {}
collectgarbage()
local heap0 = collectgarbage("count") * 1024
for i = 1, n do
    local port = first + (i - 1) % nports
    local address = ("198.51.100.%d"):format(1 + (i - 1) // nports)
    local mon = nanny.new(v, { address = address, port = port, weight = 1 })
    mons[i] = mon
    started[i] = probes.start_probe({ mon }, function() end)
end
-- Past the start, and half a second off the phase of the checks: at 100 servers the checks of a
-- second come within some 40 ms of each other, and a window that began or ended among them would
-- count a round too many or too few.
luaha.sleep(2.5)
local u0, s0 = cpu_seconds()
local t0, k0, p0 = luaha.now(), count(), passed
luaha.sleep(seconds)
local p1 = passed
local u1, s1 = cpu_seconds()
local user, sys, wall, checks = u1 - u0, s1 - s0, luaha.now() - t0, count() - k0
collectgarbage()
local heap = collectgarbage("count") * 1024 - heap0   -- the monitors and their running probes
local down = 0
for _, mon in ipairs(mons) do
    if mon.state ~= "in" then down = down + 1 end
end
for _, probe in ipairs(started) do probe:cancel() end
-- How long the last checks took: a check that waits for a retransmitted SYN is late by a second.
local slow, longest = 0, 0
for _, mon in ipairs(mons) do
    local took = mon.last and mon.last.seconds or 0
    if took > 0.1 then slow = slow + 1 end
    if took > longest then longest = took end
end
io.stderr:write(("last checks over 0.1 s: %d of %d, the longest %.3f s\n"):format(slow, n, longest))
for reason, k in pairs(reasons) do io.stderr:write(("failed checks: %d %s\n"):format(k, reason)) end  -- to the log
print(("%.2f %.2f %d %d %d %d %.2f %.2f %d %.0f"):format(user + sys, wall, checks, status_kib("VmRSS"), status_kib("VmHWM"), down,
    user, sys, p1 - p0, heap / n))
