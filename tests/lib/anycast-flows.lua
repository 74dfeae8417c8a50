-- tests/lib/anycast-flows.lua: the anycast bed's client: long-lived TCP flows through the VIP; did each keep its real server?
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: luaha tests/lib/anycast-flows.lua ADDR PORT FLOWS SECONDS STOPFILE

Opens FLOWS connections to ADDR:PORT and sends a line on each every 0.1 s; the real server answers each line
with its name. It stops after SECONDS, or within 0.1 s of STOPFILE appearing, closes them and prints, one a line:
  ready N                    once N flows have their first reply (N = FLOWS, or fewer after 20 s)
  alive N TIME               every second: N flows had a reply in the 3 s before TIME
  lost TIME FLOW why         when a flow ends: reset, closed, no reply within 10 s, another server's name
  flow FLOW SERVER REPLIES kept|lost   at the end, for each
  kept K/N                   at the end: the flows that never ended and whose every reply named one server
TIME is the wall clock. Every wait is bounded: a flow waits at most 10 s for a reply.
]]
local luaha = require "luaha"

local addr, port, nflows, secs, stopfile = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]), arg[5]
if not (addr and port and nflows and secs and stopfile) or nflows < 1 or nflows > 1024 then
    io.stderr:write("usage: anycast-flows.lua ADDR PORT FLOWS SECONDS STOPFILE\n")
    luaha.exit(2)
end
io.stdout:setvbuf("line")
local STALL, EVERY = 10, 0.1
local stop = false
local flows, ready = {}, 0

local function lose(f, why)
    if f.lost then return end
    f.lost = why
    print(("lost %.6f %d %s"):format(luaha.time(), f.n, why))
end

local function run(f)
    local conn, err = luaha.net.tcp(addr, port, { timeout = STALL })
    if not conn then return lose(f, err) end
    local seq, t = 0, luaha.now()
    while not stop and not f.lost do
        seq = seq + 1
        local line, e = conn:send(("%d %d\n"):format(f.n, seq))
        if line then line, e = conn:receive("*l", STALL) end
        if not line then
            lose(f, e == "timeout" and "no reply within " .. STALL .. " s" or e)
        elseif not line:find("^%S+$") then
            lose(f, "bad reply " .. line:sub(1, 40))
        elseif f.server and line ~= f.server then
            lose(f, ("moved from %s to %s"):format(f.server, line))
        else
            if not f.server then
                f.server = line
                ready = ready + 1
                if ready == nflows then print("ready " .. ready) end
            end
            f.replies = f.replies + 1
            f.last = luaha.now()
        end
        t = t + EVERY
        luaha.sleep(math.max(0, t - luaha.now()))
    end
    conn:close()
end

local deadline = luaha.now() + secs
local tasks = {}
for n = 1, nflows do
    flows[n] = { n = n, replies = 0 }
    tasks[n] = luaha.spawn(run, flows[n])
end
local readyby, tick = luaha.now() + 20, luaha.now() + 1
while luaha.now() < deadline do
    if io.open(stopfile) then break end
    local now = luaha.now()
    if ready < nflows and now > readyby then
        print("ready " .. ready)
        readyby = math.huge
    end
    if now >= tick then
        local alive = 0
        for n = 1, nflows do
            if not flows[n].lost and (flows[n].last or 0) > now - 3 then alive = alive + 1 end
        end
        print(("alive %d %.6f"):format(alive, luaha.time()))
        tick = tick + 1
    end
    luaha.sleep(0.1)
end
stop = true
for n = 1, nflows do tasks[n]:join(STALL + 5) end
local kept = 0
for n = 1, nflows do
    local f = flows[n]
    if not f.server then lose(f, "no reply at all") end
    if not f.lost then kept = kept + 1 end
    print(("flow %d %s %d %s"):format(n, f.server or "-", f.replies, f.lost and "lost" or "kept"))
end
print(("kept %d/%d"):format(kept, nflows))
