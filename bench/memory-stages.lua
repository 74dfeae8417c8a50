-- bench/memory-stages.lua: where a large configuration's memory goes in the work part, stage by stage (issue 17: measure first).
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Run by bench/memory.sh: luaha bench/memory-stages.lua LVS.CF. Reads the file as the daemon does and
keeps each stage's product alive while measuring the next, as the daemon keeps them all: the parse
cache (the blocks' text, kept so that a reload parses only changed blocks), the model, the written
text and its digest (the heartbeat's), the monitors and their probes (probes:update, not started:
no check runs), the desired IPVS table (lvs.desired, with its cache). Each line gives the Lua heap
that stage added (after a full collection) and the process's resident memory then. Not measured
here: the kernel's table as read back (ipvstable.c, C memory), the running checks' tasks and sockets,
the heartbeat part (a process of its own) and the HTTP/ctl listeners: bench/reload.sh prints the
running daemon's figures in UML. One line per stage, then the total, on stdout.
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local lvs = require "luaha.lvs"
local probes = require "luaha.probes"
local heartbeat = require "luaha.heartbeat"

local path = arg[1] or error("usage: luaha bench/memory-stages.lua LVS.CF")

local function heap()
    collectgarbage()
    collectgarbage()
    return collectgarbage("count") * 1024
end

local function status(field)
    for line in io.lines("/proc/self/status") do
        local kib = line:match("^" .. field .. ":%s+(%d+)")
        if kib then return tonumber(kib) * 1024 end
    end
end

local MiB = 1024 * 1024
local kept, last, first = {}, nil, nil

local function stage(name, per, f)
    local value = f()
    kept[#kept + 1] = value                 -- alive while later stages are measured, as in the daemon
    local now = heap()
    print(("%-34s %8.2f MiB heap %6.0f B/server   rss %6.1f MiB  peak %6.1f MiB"):format(name,
        (now - last) / MiB, (now - last) / per, status("VmRSS") / MiB, status("VmHWM") / MiB))
    last = now
    return value
end

luaha.spawn(function()
    first = heap()
    last = first
    print(("%-34s %8.2f MiB heap                     rss %6.1f MiB"):format("runtime and library", first / MiB,
        status("VmRSS") / MiB))
    local cache = lvscf.cache()
    local m
    local servers = 0
    local text = assert(io.open(path)):read("a")
    for _ in text:gmatch("\n%s*server%s") do servers = servers + 1 end
    text = nil      -- luacheck: ignore 311 (freed before the parse is measured)
    servers = math.max(servers, 1)
    stage("parse cache and model", servers, function()
        local err
        m, err = lvscf.load(path, cache)
        if not m then
            io.stderr:write(("%s (%d errors)\n"):format(err[1], #err))
            luaha.exit(1)
        end
        return m
    end)
    stage("written text and digest", servers, function()
        local parts = lvscf.write_parts(m, cache)
        return { parts, heartbeat.digest(parts) }
    end)
    stage("monitors and probes (not started)", servers, function()
        local set = probes.new(function() end)
        set:update(m)
        return set
    end)
    stage("desired IPVS table", servers, function()
        return lvs.desired(m, function(_, rs) return rs.weight end, lvs.cache())
    end)
    print(("%-34s %8.2f MiB heap %6.0f B/server   (%d real servers, %d virtual blocks)"):format("total",
        (last - first) / MiB, (last - first) / servers, servers, #m.virtuals))
    luaha.exit(0)
end)
