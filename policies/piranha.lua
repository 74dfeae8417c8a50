-- policies/piranha.lua: Piranha's pulse, lvs and nanny in one daemon: heartbeat and takeover, the IPVS table, health checks.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: luaha piranha [-c FILE] [-t | --check] [--dry-run] [--role primary|backup]
                     [--forceactive] [--foreground] [--pidfile FILE] [--webui ADDR:PORT]
                     [-h | --help] [--version]
(luaha policies/piranha.lua ... is the same, from this file or the copy built into luaha). Exit
status: 0 done, 1 a configuration or start error, 2 a bad option (luaha-piranha(8)).

FILE is an lvs.cf, or a Lua configuration when its name ends in .lua (default
/etc/sysconfig/ha/lvs.cf). The router's role is primary when it has the `primary` address,
backup when it has the `backup` one (or --role). With `backup_active = 1` the two routers
exchange heartbeats and the active one holds the VIPs, announces them with gratuitous ARP, and
programs IPVS; both check the real servers all the time, so a takeover programs only healthy
ones. Alone (`backup_active = 0`) the primary is active at once. It becomes a daemon (pid file
/run/luaha/piranha.pid) unless --foreground, and tells systemd when it is ready (sd_notify).
With --webui ADDR:PORT the web UI listens there when the file sets no listener; a file that is
missing, empty or has no active service starts setup mode instead: the UI alone, until its
first Apply (lua/luaha/setupmode.lua).
SIGHUP re-reads the configuration (all of it, or none). SIGTERM and SIGINT: with a partner, the
router hands over (it tells the partner, which takes over at once) and removes its VIPs and
services; alone, it leaves the VIPs and the IPVS table as they are, so that a restart drops no
connection: at start the entries the kernel already has are taken as they are until their first
check.

The machinery is lua/luaha/router.lua (luaha-lua(7)). What is Piranha's is here: the steps of
each transition, in Piranha's order and with its log lines, and fos mode. The heartbeat part
(a process of its own) has already brought the VIPs up and announced them when activate runs,
and has taken them down before deactivate runs.

Required as a module (require "piranha"), this file returns its table without running:
a policy built on it wraps piranha.activate, piranha.deactivate or piranha.announce and calls
piranha.main(args, extra) (examples/careful-takeover.lua).
]]
local luaha = require "luaha"
local policy = require "luaha.policy"
local fos = require "luaha.fos"

local log = luaha.log.prefixed("lvs")

local piranha = {}

piranha.usage = "usage: luaha piranha [-c FILE] [-t | --check] [--dry-run] [--role primary|backup]"
    .. " [--forceactive] [--foreground] [--pidfile FILE] [--webui ADDR:PORT] [-h | --help] [--version]"

-- fos mode (piranha.md 1.7): the failover services' stop_cmd then start_cmd, in order; stop_cmd in reverse.
function piranha.fos_start(r)
    for _, f in ipairs(r.model.failovers) do
        if f.active then
            r:run("stop_cmd", f.stop_cmd, true)
            log.info("Starting local service %s:%d ...", f.address, f.port)
            if not r:run("start_cmd", f.start_cmd, true) then
                log.err("Failed to start service %s:%d!", f.address, f.port)
            end
        end
    end
end

function piranha.fos_stop(r)
    local fs = r.model.failovers
    for i = #fs, 1, -1 do
        if fs[i].active then r:run("stop_cmd", fs[i].stop_cmd, true) end
    end
end

-- The passive fos router watches the partner's services at their VIPs and takes them over when they fail.
local function watch_partner(r)
    if r.fos_monitor or r.stopping then return end
    r.fos_monitor = fos.monitor(r.model, function(why)
        r.fos_monitor = nil
        local ok, err = r:takeover("remote service failed (" .. why .. "): activating fos")
        if not ok then log.err("fos: cannot take over: %s", err) end
    end)
end

--[[
activate: the IPVS table first (only checked real servers: the VIPs are coming up meanwhile),
then the sync daemon as master and active_cmd, as pulse ran them. Each step runs even when one
before it failed.
]]
function piranha.activate(r, reason)
    local m = r.model
    log.info("activating: %s", reason)
    r:event("activating: %s", reason)
    if m.service ~= "fos" then r:step("ipvs", r.take_table, r) end
    r:step("sync daemon", r.syncdaemon, r, "master")
    r:run("active_cmd", m.active_cmd)
    if m.service == "fos" then
        if r.fos_monitor then r.fos_monitor.stop() end
        r.fos_monitor = nil
        r:step("fos", piranha.fos_start, r)
    end
end

-- deactivate: the reverse, in the reverse order; a passive fos router then watches its partner.
function piranha.deactivate(r, reason)
    local m = r.model
    log.info("deactivating: %s", reason)
    r:event("deactivating: %s", reason)
    if m.service == "fos" then r:step("fos", piranha.fos_stop, r) end
    if m.service ~= "fos" then r:step("ipvs", r.release_table, r) end
    r:step("sync daemon", r.syncdaemon, r, "backup")
    r:run("inactive_cmd", m.inactive_cmd)
    if m.service == "fos" and #r.channels > 0 then watch_partner(r) end
end

-- announce: the active primary heard an active partner; its VIPs were announced again, and pulse ran active_cmd.
function piranha.announce(r)
    r:run("active_cmd", r.model.active_cmd)
end

--[[
main(args [, extra]): the daemon: piranha's options (and extra.options, a policy's own), its
transitions, and extra.prepare / extra.started (lua/luaha/policy.lua). Returns the exit status.
]]
function piranha.main(args, extra)
    extra = extra or {}
    return policy.run(args, {
        name = "piranha", usage = extra.usage or piranha.usage, options = extra.options,
        -- Looked up at each call: a policy may wrap them at any time, also from `luaha attach`.
        activate = function(r, reason) return piranha.activate(r, reason) end,
        deactivate = function(r, reason) return piranha.deactivate(r, reason) end,
        announce = function(r, reason) return piranha.announce(r, reason) end,
        prepare = function(r, o)
            require("luaha.ctl").expose("piranha", piranha)
            if extra.prepare then extra.prepare(r, o) end
        end,
        started = extra.started,
    })
end

if policy.is_script() then
    local status = piranha.main(arg)
    if status ~= 0 then luaha.exit(status) end
end
return piranha
