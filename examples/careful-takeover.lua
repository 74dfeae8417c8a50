-- examples/careful-takeover.lua: a custom failover policy: Piranha's, taking over only with enough healthy real servers.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: luaha examples/careful-takeover.lua [--min-healthy N] [policies/piranha.lua's options]

A router whose own checks see fewer than N (default 2) real servers in is held: losing the
partner does not make it active with nothing to serve (an active one stays active). Piranha's
activation is wrapped to say what it finds.
]]
local luaha = require "luaha"
local piranha = require "piranha"

local log = luaha.log.prefixed("careful")

local activate = piranha.activate
function piranha.activate(r, reason)
    log.info("taking over with %d healthy real servers", r:healthy())
    return activate(r, reason)
end

-- Before the router starts: held until the checks have seen enough healthy real servers.
local function prepare(r, o)
    local min, seen = o.min_healthy or 2, nil
    local function judge()
        local n = r:healthy()
        if n == seen then return end
        seen = n
        log.warning("%d healthy real servers, %s", n, n < min and ("fewer than " .. min .. ": not taking over")
            or "may take over")
        r:hold("careful", n < min and "too few healthy real servers" or nil)
    end
    local changed = r.changed
    function r.changed(self, mon) changed(self, mon) judge() end
    judge()
end

local status = piranha.main(arg, { prepare = prepare, options = { ["--min-healthy"] = { "min_healthy", "integer" } },
    usage = "usage: luaha examples/careful-takeover.lua [--min-healthy N] [piranha.lua's options]" })
if status ~= 0 then luaha.exit(status) end
