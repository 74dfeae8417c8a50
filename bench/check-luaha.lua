-- bench/check-luaha.lua: N real servers checked every second by luaha's nanny monitors (TCP connect), for SECONDS.
-- Usage: luaha bench/check-luaha.lua N SECONDS FIRST_PORT NPORTS COUNTFILE; prints its CPU seconds, the
-- checks the listener counted meanwhile (COUNTFILE, see check-listener.lua) and its RSS.
local luaha = require "luaha"
local nanny = require "luaha.nanny"
local n, seconds, first, nports = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local countfile = arg[5]

local function count()
    local f = io.open(countfile)
    local c = f and tonumber(f:read("a")) or 0
    if f then f:close() end
    return c
end

local function cpu_seconds()
    local f = assert(io.open("/proc/self/stat"))
    local fields = {}
    for w in f:read("a"):gsub("^.*%) ", ""):gmatch("%S+") do fields[#fields + 1] = w end
    f:close()
    return (tonumber(fields[12]) + tonumber(fields[13])) / 100      -- utime + stime, in ticks of 1/100 s
end

local function rss_kib()
    local f = assert(io.open("/proc/self/status"))
    local kib = f:read("a"):match("VmRSS:%s*(%d+)")
    f:close()
    return tonumber(kib)
end

local tasks = {}
for i = 1, n do
    local port = first + (i - 1) % nports
    local address = ("198.51.100.%d"):format(1 + (i - 1) // nports)
    local v = { name = "v" .. i, port = port, protocol = "tcp", timeout = 1, reentry = 1, fall = 1,
        weight_ramp = false, quiesce_server = false, load_monitor = "none" }
    local mon = nanny.new(v, { address = address, port = port, weight = 1 })
    tasks[i] = luaha.spawn(nanny.run_probe, { mon }, function() end)
end
luaha.sleep(2)                  -- past the start
local c0, t0, k0 = cpu_seconds(), luaha.now(), count()
luaha.sleep(seconds)
local cpu, wall, checks = cpu_seconds() - c0, luaha.now() - t0, count() - k0
for _, task in ipairs(tasks) do task:cancel() end
print(("%.2f %.2f %d %d"):format(cpu, wall, checks, rss_kib()))
