-- lua/luaha/fos.lua: failover services mode (service = fos): the passive router watches the partner's services at their VIPs.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
As Piranha's `fos --monitor` and `nanny --fos` did (piranha.md 1.7): each active failover block's
service is checked at its VIP and port every `timeout` seconds (check_interval if set). A
service that was seen up and then fails a check, or that fails twice without ever having been
up, is a failover condition. Before acting on it the router pings its default gateway (3 tries,
1 s each): if the gateway answers, the fault is the partner's and the service is taken over;
if not, the fault is probably this router's own network and nothing is done.
]]
local luaha = require "luaha"
local check = require "luaha.check"

local log = luaha.log.prefixed("fos")

local fos = {}

-- gateway(): the IPv4 default gateway's address, or nil.
local function gateway()
    for _, r in ipairs(luaha.link.routes() or {}) do
        if r.dst == "default" and r.family == "inet" and r.gateway then return r.gateway end
    end
end

-- gateway_ok(): whether the default gateway answers a ping (true when there is none to ask).
function fos.gateway_ok()
    local gw = gateway()
    if not gw then return true end
    for _ = 1, 3 do
        if luaha.net.ping(gw, { timeout = 1 }) then return true end
    end
    return false
end

-- watch(f, on_failure): the task body checking failover block f; calls on_failure(f, why) once and returns.
local function watch(f, on_failure)
    local name = ("%s:%d"):format(f.address, f.port)
    local spec = { address = f.address, port = f.port, protocol = f.protocol, send = f.send, expect = f.expect,
        use_regex = f.use_regex, timeout = f.timeout }
    local seen_up, failures = false, 0
    log.info("Starting monitor for %s", name)
    while true do
        local ok, err = check.run(spec)
        if ok then
            seen_up, failures = true, 0
        else
            failures = failures + 1
            if seen_up then
                log.warning("Exiting due to connection failure of %s (%s)", name, err)
                return on_failure(f, ("%s failed: %s"):format(name, err))
            elseif failures >= 2 then
                log.warning("Timeout waiting for remote service -- triggering failover! (%s: %s)", name, err)
                return on_failure(f, ("%s never answered: %s"):format(name, err))
            end
        end
        luaha.sleep(f.check_interval or f.timeout)
    end
end

--[[
monitor(model, on_failover): starts a watch per active failover block. on_failover(why) runs
once, for the first failover condition whose gateway check passes. Returns a handle whose
stop() cancels the watches.
]]
function fos.monitor(m, on_failover)
    local tasks, done = {}, false
    local function on_failure(f, why)
        if done then return end
        log.warning("Monitor for service %s:%d exited. This is a failover condition!", f.address, f.port)
        if fos.gateway_ok() then
            log.warning("remote service unavailable but we can see the gateway")
            log.warning("seems like a remote network fault; performing service failover")
            done = true
            for _, t in ipairs(tasks) do
                if t ~= luaha.current() then t:cancel() end
            end
            on_failover(why)
        else
            log.err("remote service unavailable; gateway unavailable: I SEEM TO HAVE A NETWORK FAULT!")
            luaha.sleep(f.timeout)
            return watch(f, on_failure)
        end
    end
    for _, f in ipairs(m.failovers) do
        if f.active then
            local t = luaha.spawn(watch, f, on_failure)
            t:name("fos " .. f.address .. ":" .. f.port)
            tasks[#tasks + 1] = t
        end
    end
    return { stop = function()
        for _, t in ipairs(tasks) do
            if t ~= luaha.current() then t:cancel() end
        end
    end }
end

return fos
