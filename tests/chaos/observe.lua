-- tests/chaos/observe.lua: the chaos suite's observer in a router's namespace: when the VIP comes and goes, when UML stalled.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: ip netns exec r1 chrt -r 5 luaha tests/chaos/observe.lua VIP [SECS]

Prints one line per event, each starting with the wall-clock time (luaha.time(): the same clock
for every process in UML and for bash's $EPOCHREALTIME):

  T init has|none     at start: whether this namespace holds VIP (any prefix, any interface)
  T add               VIP was added (an rtnetlink address event)
  T del               VIP was removed
  T resync has|none   the watcher fell behind and read the addresses again
  T stall S           a 20 ms tick came S seconds late (S > STALL): nothing at this priority
                      ran meanwhile, so neither did the heartbeat part if it is no higher

Run at real-time priority (chrt), it sees the events as they happen even with the CPU busy, and
its stalls are the machine's (the host did not run UML), not the routers'. It ends after SECS
seconds (default 3600), or at SIGTERM.
]]
local luaha = require "luaha"

local vip, secs = arg[1], tonumber(arg[2] or 3600)
if not vip or not secs then
    io.stderr:write("usage: observe.lua VIP [SECS]\n")
    luaha.exit(2)
end

local TICK, STALL = 0.02, 0.1

io.stdout:setvbuf("line")
local function say(fmt, ...)
    print(("%.6f " .. fmt):format(luaha.time(), ...))
end

-- holds(): whether an address of this namespace is the VIP.
local function holds()
    for _, a in ipairs(assert(luaha.link.addrs())) do
        if a.address:match("^[^/]+") == vip then return true end
    end
    return false
end

local held
local watcher = assert(luaha.link.watch(function(ev)
    if ev.type == "resync" then
        held = holds()
        say("resync %s", held and "has" or "none")
    elseif ev.type == "addr" and ev.address:match("^[^/]+") == vip then
        -- An address changed in place (an IPv6 state) is reported again as new: only changes count.
        local now = ev.action == "new"
        if now ~= held then say(now and "add" or "del") end
        held = now
    end
end))
held = holds()
say("init %s", held and "has" or "none")

local function stop()
    watcher:cancel()
    luaha.exit(0)
end
luaha.on_signal("TERM", stop)

local last, stop_at = luaha.now(), luaha.now() + secs
while luaha.now() < stop_at do
    luaha.sleep(TICK)
    local now = luaha.now()
    if now - last - TICK > STALL then say("stall %.3f", now - last - TICK) end
    last = now
end
stop()
