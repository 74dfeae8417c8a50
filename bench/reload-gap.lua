-- bench/reload-gap.lua: how long a reload holds the work part's loop: a ticker's largest gap, logged after each reload.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Loaded before the policy by bench/reload.sh (luaha -e 'dofile "bench/reload-gap.lua"' policies/piranha.lua
...): wraps luaha.reload's run, so that from the signal's task starting the reload until GRACE seconds
after it returned (the checks it started, the collector catching up) a task ticks every TICK seconds
and notes the longest time between two ticks (the longest the loop was held, plus up to one TICK)
and how many were over OVER. Then it logs "bench: reload held the loop at most X ms (K over 10 ms,
N ticks, ...)". A time between ticks includes the host's share of UML's CPU: on a loaded host
UML's one thread waits its turn too, so K says whether the largest was one such wait or a habit.
A tick reads the monotonic clock, a system call in UML: 500 a second for a few seconds is a small
share of a reload there.
]]
local luaha = require "luaha"
local reload = require "luaha.reload"

local TICK, GRACE, OVER = 0.002, 2, 0.010
local log = luaha.log.prefixed("bench")
local run = reload.run

reload.run = function(r)
    local last, worst, ticks, over = luaha.now(), 0, 0, 0
    local ticker = luaha.every(TICK, function()
        local now = luaha.now()
        if now - last > worst then worst = now - last end
        if now - last > OVER then over = over + 1 end
        last, ticks = now, ticks + 1
    end)
    local started = luaha.now()
    local res = table.pack(run(r))
    local took = luaha.now() - started
    luaha.spawn(function()
        luaha.sleep(GRACE)
        ticker:cancel()
        log.info("reload held the loop at most %.1f ms (%d over %g ms; %d ticks of %g ms over the reload's %.3f s"
            .. " and %g s after)", worst * 1000, over, OVER * 1000, ticks, TICK * 1000, took, GRACE)
    end)
    return table.unpack(res, 1, res.n)
end
