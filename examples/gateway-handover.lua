-- examples/gateway-handover.lua: Piranha's policy, handing the service to the partner when the gateway stops answering.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: luaha examples/gateway-handover.lua [--gateway ADDRESS] [policies/piranha.lua's options]

Every second the router pings its gateway (--gateway, else the IPv4 default route's). After three
pings in a row without an answer it is blocked: an active router hands over to its partner, a
passive one does not take over. When the gateway answers again the block is lifted (there is no
automatic failback: the partner keeps the service).
]]
local luaha = require "luaha"
local piranha = require "piranha"

local log = luaha.log.prefixed("gateway")

local function default_gateway()
    for _, r in ipairs(luaha.link.routes() or {}) do
        if r.dst == "default" and r.family == "inet" and r.gateway then return r.gateway end
    end
end

local function watch(r, o)
    local gateway, failures = o.gateway or default_gateway(), 0
    if not gateway then return log.err("no gateway to watch: give --gateway") end
    luaha.every(1, function()
        failures = luaha.net.ping(gateway, { timeout = 0.5 }) and 0 or failures + 1
        if failures == 3 then log.warning("%s does not answer: handing over", gateway) end
        if failures == 0 and r.blocked.gateway then log.info("%s answers again", gateway) end
        r:block("gateway", failures >= 3 and ("the gateway " .. gateway .. " does not answer") or nil)
    end)
end

local status = piranha.main(arg, { started = watch, options = { ["--gateway"] = { "gateway", "string" } },
    usage = "usage: luaha examples/gateway-handover.lua [--gateway ADDRESS] [policies/piranha.lua's options]" })
if status ~= 0 then luaha.exit(status) end
