-- tests/lua/pulseproxy.lua: the work part's side of the heartbeat part (pulseproxy) against a real heartbeat part process.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local until_ = t.until_
local lvscf = require "luaha.lvscf"
local conf = require "luaha.routerconf"
local pulseproxy = require "luaha.pulseproxy"

local PORT = 20000 + math.random(0, 9999)

-- A primary on 127.0.0.11 whose partner (127.0.0.12) never answers, without VIPs; opts override the configuration.
local function config(opts)
    local m = assert(lvscf.parse(("serial_no = 1\nprimary = 127.0.0.11\nbackup = 127.0.0.12\nservice = lvs\n" ..
        "backup_active = 1\nheartbeat_port = %d\nkeepalive = 0.05\ndeadtime = 0.5\n"):format(PORT), "test.cf"))
    local cfg = conf.pulse_update(m, "12345678")
    cfg.vips = {}
    cfg.role, cfg.channels, cfg.port, cfg.key = "primary", { { address = "127.0.0.11", peer = "127.0.0.12" } }, PORT, false
    cfg.realtime, cfg.lock_memory = 0, 0
    for k, v in pairs(opts) do cfg[k] = v end
    return cfg
end

-- A transition at once (forceactive) while the heartbeat part waits on the kernel for its links (monitor_links):
-- the part's first message still says it runs, and the activation that follows reaches the work part.
t.test("start-says-it-runs-before-a-transition", function()
    for i = 1, 3 do
        local log = {}
        local hooks = {
            activate = function(why) log[#log + 1] = "activate: " .. why end,
            deactivate = function(why) log[#log + 1] = "deactivate: " .. why end,
        }
        local p = pulseproxy.new(config({ forceactive = true, monitor_links = true }), hooks)
        local ok, err = p:start()
        t.eq(err, nil, "start " .. i)
        t.eq(ok, true, "started " .. i)
        assert(until_(function() return #log > 0 end, 5), "no transition reached the work part")
        t.eq(log[1], "activate: Forced active on startup: activating lvs", "the transition " .. i)
        p:stop(true, 5)
        t.eq(p.part, nil, "the heartbeat part stopped " .. i)
    end
end)
