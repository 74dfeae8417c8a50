-- examples/careful-takeover.lua: a custom failover policy: piranha.lua, taking over only with enough healthy real servers.
--[[
Usage: luaha examples/careful-takeover.lua [--min-healthy N] [piranha.lua's arguments]

A passive router whose own checks see fewer than N (default 2) real servers in blocks itself,
so that losing the partner does not make it active with nothing to serve; the partner hears it
is not available. The transitions of policies/piranha.lua are wrapped to say what they find.
]]
local luaha = require "luaha"

local min_healthy = 2
if arg[1] == "--min-healthy" then
    min_healthy = assert(math.tointeger(tonumber(arg[2])), "--min-healthy takes a number")
    table.remove(arg, 1)
    table.remove(arg, 1)
end
local here = arg[0]:match("^(.*)/") or "."
local piranha = dofile(here .. "/../policies/piranha.lua")

-- The real servers this router's checks have in, over every virtual server.
local function healthy()
    local n = 0
    for _, mon in pairs(piranha.state.monitors) do
        if mon.state == "in" then n = n + 1 end
    end
    return n
end

local activate = piranha.activate
function piranha.activate(p, reason)
    luaha.log.info("careful: taking over with %d healthy real servers", healthy())
    return activate(p, reason)
end

local blocked = false
luaha.every(0.1, function()
    local p = piranha.state.pulse
    if not p then return end
    local n = healthy()
    local block = p.want == "passive" and n < min_healthy
    if block ~= blocked then
        luaha.log.warning("careful: %d healthy real servers, %s", n,
            block and ("fewer than " .. min_healthy .. ": not taking over") or "may take over")
        p:block("careful", block and "too few healthy real servers" or nil)
        blocked = block
    end
end)
