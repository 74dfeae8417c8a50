-- lua/luaha/router.lua: an LVS router: the model, the IPVS table and its weights, the monitors, the heartbeat part, control.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
router.new(model, opts) makes a router from a configuration model (lua/luaha/lvscf.lua);
r:start() runs it: the health checks (lua/luaha/probes.lua), the heartbeat part (a process of
its own, lua/luaha/pulsepart.lua, reached through lua/luaha/pulseproxy.lua), the control socket
and its commands (lua/luaha/lvsctl.lua), the HTTP status (lua/luaha/lvshttp.lua), SIGHUP for a
reload and SIGTERM/SIGINT for a stop. luaha-lua(7) documents every name below.

The transitions are hooks a policy replaces or wraps, fields of the router called as
r:activate(reason), r:deactivate(reason) and r:announce(reason). They run in the work part, one
at a time, after the heartbeat part has acted: on activation it is bringing the VIPs up and
announcing them while the hook programs IPVS; on deactivation the VIPs are down before the hook
runs. The defaults take and release the table (take_table, release_table); policies/piranha.lua
adds Piranha's steps (commands, the sync daemon, fos).

A router's state, read by its status and by `luaha attach` users: model and config (the path);
probes (the monitors, by "virtual/server" in probes.monitors); table (the table last applied);
pulse (the heartbeat part's proxy); events (the last 100); disabled and weights (the runtime
changes of `luaha ctl`, until a reload). The model is read-only: the parse cache gives a reload
the very tables of the blocks that did not change, and their monitors go on as they were.
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local lvs = require "luaha.lvs"
local probes = require "luaha.probes"
local heartbeat = require "luaha.heartbeat"
local pulseproxy = require "luaha.pulseproxy"

local ipvs = luaha.ipvs
local log = luaha.log.prefixed("lvs")

local router = {}
local R = {}
R.__index = R
router.methods = R

local EVENTS = 100           -- events kept for the status

local function key(v, rs) return v.name .. "/" .. rs.name end

--[[
new(model, opts): a router, not started. opts: config (the file's path, for a reload), role
("primary" | "backup": else from the addresses), forceactive, name (of the control socket,
default "piranha"), cache (lvscf.cache() the model was read with), key (the heartbeat key,
read), digest (the model's, if known), activate, deactivate, announce (hooks; the defaults
otherwise), webui (--webui's { listen =, passwd = }: routerconf.listener).
]]
function router.new(model, opts)
    opts = opts or {}
    local r = setmetatable({
        model = model, config = opts.config, name = opts.name or "piranha", forced_role = opts.role,
        forceactive = opts.forceactive, key = opts.key, digest = opts.digest, cache = opts.cache or lvscf.cache(),
        desired = lvs.cache(), dirty = {}, events = {}, disabled = {}, weights = {}, programming = false,
        held = {}, blocked = {}, webui = opts.webui,
    }, R)
    r.probes = probes.new(function(mon) r:changed(mon) end)
    r.activate = opts.activate or router.activate
    r.deactivate = opts.deactivate or router.deactivate
    r.announce = opts.announce or router.announce
    return r
end

-- event(fmt, ...): one of the last events that `luaha ctl status` shows.
function R:event(fmt, ...)
    table.insert(self.events, { at = luaha.time(), text = fmt:format(...) })
    if #self.events > EVENTS then table.remove(self.events, 1) end
end

--[[
weight_of(v, rs, at): a real server's weight in the table: none when down or disabled, else its
health's or the one ctl set. at: the monitors by block (probes.monitor_at, or a reload's plan).
]]
function R:weight_of(v, rs, at)
    at = (at or self.probes.monitor_at)[v]
    local mon = at and at[rs]
    local w = mon and mon:weight()
    if next(self.disabled) == nil and next(self.weights) == nil then return w end
    local k = key(v, rs)
    if self.disabled[k] then return nil end
    if w and w > 0 and self.weights[k] then return self.weights[k] end
    return w
end

-- active(): whether this router is (or is becoming) the active one: health changes during an activation count.
function R:active()
    return self.pulse ~= nil and self.pulse.work_state == "active"
end

--[[
standby(m): whether this passive router keeps a standby table: the model m (default the running
one) says `standby_table = 1`, the router runs IPVS (not fos), is started and not stopping.
]]
function R:standby(m)
    m = m or self.model
    return m.standby_table and m.service ~= "fos" and self.pulse ~= nil and not self.stopping and not self:active()
end

-- keeps_table(m): whether this router programs its table: it is active, or passive with a standby table.
function R:keeps_table(m)
    return self:active() or self:standby(m)
end

--[[
table_turn(): waits until no other task changes the kernel's table through this router, and
returns the turn, a value to close (local turn <close>) when done. Without it a deactivation could
remove a service between a health update's read and its write, or a health update that waited
could put back the services of a router that has just become passive.
]]
-- turn(self, flag, pause): waits (pause seconds at a time) while self[flag] is set, sets it, and
-- returns a value whose closing clears it.
local function turn(self, flag, pause)
    while self[flag] do luaha.sleep(pause) end
    self[flag] = true
    return setmetatable({}, { __close = function() self[flag] = false end })
end

function R:table_turn()
    return turn(self, "programming", 0.001)
end

-- apply, apply_now, apply_changes, program and changed: the table as the model and the health say (lua/luaha/routertable.lua).
require("luaha.routertable").install(R)

-- healthy(): how many real servers (of every virtual block) the checks have in the table.
function R:healthy()
    local n = 0
    for _, mon in pairs(self.probes.monitors) do
        if mon.state == "in" then n = n + 1 end
    end
    return n
end

-- The key ipvs gives a real server's destination (canonical address and port).
local function dest_key(address, port)
    return ipvs.normalize({ address = address, port = port, dests = { { address = address } } }).dests[1].key
end

--[[
adopt_kernel_table(): a restart must not drop connections: what the kernel has is trusted until
checked. Only the blocks whose service the kernel has are looked at, so a cold start (an empty
kernel) costs a read and nothing per real server; a block's servers are looked up in a set of
its service's destinations. Yields between blocks.
]]
function R:adopt_kernel_table()
    local current = ipvs.services()
    if not current then return end
    local services = {}
    for _, s in ipairs(current) do
        local dests = {}
        for _, d in ipairs(s.dests) do dests[d.key] = d end
        services[s.key] = dests
    end
    if next(services) == nil then return end
    for _, v in ipairs(self.model.virtuals) do
        local dests = v.active and services[ipvs.normalize(lvs.service(self.model, v)).key]
        for _, rs in ipairs(dests and v.servers or {}) do
            local mon = self.probes:monitor(v, rs)
            local d = mon and not mon.checked and dests[dest_key(rs.address, rs.port or v.port)]
            if d and (d.weight > 0 or not self.anycast) then   -- an anycast director's out servers are there at 0
                mon.state = d.weight == 0 and v.quiesce_server and "quiesced" or "in"
                mon.working = d.weight > 0 and math.min(d.weight, rs.weight) or rs.weight
                log.info("%s: in the kernel's table at weight %d, kept until checked", mon.name, d.weight)
            end
        end
        if dests then luaha.breathe() end
    end
end

-- Someone may change the table by hand: every `reconcile` seconds it is read and repaired.
function R:start_reconcile()
    if self.reconciler then self.reconciler:cancel() end
    self.reconciler = luaha.every(self.model.reconcile, function()
        if not self:keeps_table() then return end
        local report = self:apply("reconcile", nil, nil, true)     -- the kernel read, not the last table
        if report and #report.ops > 0 then
            log.warning("reconcile: repaired the kernel's table: %s", table.concat(report.ops, "; "))
        end
    end)
end

-- The IPVS timeouts of the model (tcp_timeout, tcpfin_timeout, udp_timeout; 0 leaves one as it is).
function R:set_timeouts()
    local m = self.model
    if (m.tcp_timeout or 0) == 0 and (m.tcpfin_timeout or 0) == 0 and (m.udp_timeout or 0) == 0 then return true end
    local ok, err = ipvs.set_timeouts({ tcp = m.tcp_timeout, tcpfin = m.tcpfin_timeout, udp = m.udp_timeout })
    if ok then log.info("ipvs timeouts: tcp %d, tcpfin %d, udp %d (0: unchanged)", m.tcp_timeout, m.tcpfin_timeout,
        m.udp_timeout) end
    return ok, err
end

--[[
take_table([why]): the table on activation: the timeouts, the kernel's entries adopted until checked,
the program (from the kernel as it is); reconciled from then on. With a standby table it is in the
kernel already, and the program finds nothing to change.
]]
function R:take_table(why)
    local ok, err = self:set_timeouts()
    if not ok then log.err("ipvs timeouts: %s", err) end
    self:adopt_kernel_table()
    local report
    report, err = self:apply(why or "activate", nil, nil, true)
    self:start_reconcile()
    return report and true, err
end

--[[
release_table(): this router's services go, on deactivation: those it programmed last or, when it
programmed none since it started (a router that learns it is passive), those the model names.
Another program's services stay. With `standby_table` (standby()) the table stays instead, kept as
the health says, as on the active router, so that a takeover finds it programmed; a router that
stops releases it all the same.
]]
function R:release_table()
    if self.anycast then return self.anycast:failed("deactivated") end    -- withdrawn; the table stays
    if self:standby() then return self:take_table("standby") end
    if self.reconciler then self.reconciler:cancel() end
    local _ <close> = self:table_turn()
    local owned = self.table or lvs.desired(self.model)
    self.reconciler, self.table = nil, nil
    local report, err = ipvs.apply({}, { owned = owned })
    if not report then return nil, err end
    for _, op in ipairs(report.ops) do log.info("ipvsadm %s (deactivate)", op) end
    return true
end

--[[
step(what, fn, ...): one step of a transition; its failure (nil, err) or error (with its traceback)
is logged and the next steps still run.
]]
function R.step(_, what, fn, ...)
    local ok, res, err = xpcall(fn, debug.traceback, ...)
    if not ok then
        log.err("%s: %s", what, res)
    elseif res == nil and err then
        log.err("%s: %s", what, err)
    end
end

--[[
syncdaemon(role): the IPVS connection-sync daemon as pulse ran it (piranha.md 3.8): only the one
of this role ("master" or "backup"), on syncd_iface with syncd_id, when the model has
syncdaemon. One that already runs so is left alone; the other is stopped. A daemon just started
is given a moment to run its thread, because the kernel does not answer a stop that comes before
it has (see stop_daemon in luaha-lua(7)).
]]
function R:syncdaemon(role)
    local m = self.model
    if not m.syncdaemon then return true end
    local want = { state = role, ifname = m.syncd_iface, syncid = m.syncd_id & 0xff }
    local have = false
    for _, d in ipairs(ipvs.daemons() or {}) do
        if d.state == role and d.ifname == want.ifname and d.syncid == want.syncid then
            have = true
        else
            local ok, err = ipvs.stop_daemon(d.state)
            if not ok then log.err("sync daemon (%s): %s", d.state, err) end
        end
    end
    if have then return true end
    local ok, err = ipvs.start_daemon(want)
    if not ok then return nil, err end
    if luaha.current() and coroutine.isyieldable() then luaha.sleep(0.02) end
    return true
end

-- argv_of(line): a command line of the configuration as pulse split it: on blanks, no shell, quotes removed.
function router.argv_of(line)
    local argv = {}
    for word in line:gmatch("%S+") do argv[#argv + 1] = word:gsub('^"(.*)"$', "%1") end
    return argv
end

--[[
run(what, line [, wait]): runs a command line of the configuration (active_cmd, start_cmd...)
without a shell, for at most 60 s. Not waited for unless wait: then true, or false with the
failure logged. Without a line, nothing happens (true).
]]
function R.run(_, what, line, wait)
    if not line then return true end
    local function go()
        local r, err = luaha.proc.run(router.argv_of(line), { timeout = 60 })
        if r and r.status == 0 then return true end
        log.err("%s %s: %s", what, line, r and ("status " .. tostring(r.status or r.signal)) or err)
        return false
    end
    if wait then return go() end
    luaha.spawn(go):name(what)
    return true
end

-- The default hooks: the table follows the role.
function router.activate(r, reason)
    log.info("activating: %s", reason)
    r:event("activating: %s", reason)
    r:step("ipvs", r.take_table, r)
end

function router.deactivate(r, reason)
    log.info("deactivating: %s", reason)
    r:event("deactivating: %s", reason)
    r:step("ipvs", r.release_table, r)
end

function router.announce() end

-- Runtime changes (luaha ctl, the REPL, a policy) -----------------------------------------

--[[
servers(name [, virtual]): the (v, rs) pairs a name gives: a server block's name, its address,
or address:port, in every virtual block (or in the one named virtual).
]]
function R:servers(name, virtual)
    local found = {}
    for _, v in ipairs(self.model.virtuals) do
        if not virtual or v.name == virtual then
            for _, rs in ipairs(v.servers) do
                local port = rs.port or v.port
                if rs.name == name or rs.address == name or ("%s:%d"):format(rs.address, port) == name then
                    found[#found + 1] = { v = v, rs = rs }
                end
            end
        end
    end
    return found
end

local function change(self, what, found)
    for _, f in ipairs(found) do self:event("ctl: %s %s (%s) in virtual %s", what, f.rs.name, f.rs.address, f.v.name) end
    return self:program("ctl")
end

--[[
disable(server), enable(server): takes the server (servers' names) out of the table, or lets it
back in as its health says (ending a weight set or a drain), until the next reload. Returns the
pairs changed, or nil and why.
]]
function R:disable(name)
    local found = self:servers(name)
    if #found == 0 then return nil, ("no server %q in the configuration"):format(tostring(name)) end
    for _, f in ipairs(found) do self.disabled[key(f.v, f.rs)] = true end
    change(self, "disabled", found)
    return found
end

function R:enable(name)
    local found = self:servers(name)
    if #found == 0 then return nil, ("no server %q in the configuration"):format(tostring(name)) end
    for _, f in ipairs(found) do
        self.disabled[key(f.v, f.rs)], self.weights[key(f.v, f.rs)] = nil, nil   -- a drain ends here too
    end
    change(self, "enabled", found)
    return found
end

--[[
set_weight(virtual, server, w): the server's weight in that virtual block while its checks have it
in, until the next reload (nil w: back to its health's). Returns the pairs changed, or nil and why.
]]
function R:set_weight(virtual, name, w)
    local range = require("luaha.lvscfmodel").servers.weight
    if w ~= nil and (math.type(w) ~= "integer" or w < range.min or w > range.max) then
        return nil, ("a weight is an integer from %d to %d"):format(range.min, range.max)
    end
    local found = self:servers(name, virtual)
    if #found == 0 then return nil, ("no server %q in virtual %q"):format(tostring(name), tostring(virtual)) end
    for _, f in ipairs(found) do self.weights[key(f.v, f.rs)] = w end
    change(self, ("weight %s for"):format(tostring(w)), found)
    return found
end

--[[
drain(server, seconds): lowers the server's weight in every virtual block to 0 in steps over
seconds (new connections go elsewhere, existing ones finish), then leaves it at 0 until enable or
a reload. Waits. Returns the pairs drained, or nil and why.
]]
function R:drain(name, seconds)
    local found = self:servers(name)
    if #found == 0 then return nil, ("no server %q in the configuration"):format(tostring(name)) end
    seconds = seconds or 0
    local steps = math.max(1, math.min(20, math.floor(seconds / 0.5)))
    for i = steps - 1, 0, -1 do
        for _, f in ipairs(found) do
            self.weights[key(f.v, f.rs)] = math.floor(f.rs.weight * i / steps)
        end
        self:program("drain")
        if i > 0 then luaha.sleep(seconds / steps) end
    end
    change(self, "drained", found)
    return found
end

--[[
hold(name, why): a reason not to become active (an active router stays so); block(name, why): a
reason not to be active at all (an active router hands over). They are the heartbeat part's
(pulse:hold, pulse:block); given before start they are in place before its first heartbeat. why
nil lifts them. Returns true.
]]
function R:hold(name, why)
    self.held[name] = why
    if self.pulse then self.pulse:hold(name, why) end
    return true
end

function R:block(name, why)
    self.blocked[name] = why
    if self.pulse then self.pulse:block(name, why) end
    return true
end

-- handover(): the partner takes over and this router stands down; waits. true, or nil and why.
function R:handover()
    if not self.pulse then return nil, "the router is not started" end
    return self.pulse:handover()
end

-- takeover(reason): this passive router takes the service from its partner (fos). true, or nil and why.
function R:takeover(reason)
    if not self.pulse then return nil, "the router is not started" end
    return self.pulse:takeover(reason)
end

-- status([opts]): the status document `luaha ctl status --json` prints (lvsctl.status: opts.virtual, opts.summary). Waits.
function R:status(opts)
    return require("luaha.lvsctl").status(self, opts)
end

--[[
reload(): reads the configuration again and applies it whole, or not at all (lua/luaha/reload.lua).
One at a time: a reload waits, and lets the loop run, while it plans from the running model, so a
second SIGHUP (or an Apply) meanwhile would plan from a model the first is about to replace and
commit monitors over the first's. It waits for the first to end, then reads the file as it is then.
]]
function R:reload()
    local _ <close> = turn(self, "reloading", 0.01)
    return require("luaha.reload").run(self)
end

-- Running ------------------------------------------------------------------------------

--[[
start(): runs the router: the checks (lvs mode), the heartbeat part, the control socket and its
commands, the HTTP status, the signals. Returns true, or nil and why (nothing is left running
then). The caller became a daemon before, if it wanted to.
]]
function R:start()
    local conf = require "luaha.routerconf"
    local m = self.model
    local role, err = conf.role_of(m, self.forced_role)
    if not role then return nil, err end
    self.role, self.channels = role, conf.channels_of(m, role)
    luaha.log.prefixed("pulse").info("STARTING PULSE AS %s", role == "backup" and "BACKUP" or "MASTER")
    if m.cluster == "anycast" then self.anycast = require("luaha.anycast").new(self) end
    if m.service ~= "fos" then
        self.probes:update(m)
        -- A restart must not drop connections: the entries a previous run left stand until their first check.
        self:adopt_kernel_table()
        self.probes:start()
    end
    if #self.channels > 0 then self:step("sync daemon", self.syncdaemon, self, "backup") end
    self.digest = self.digest or heartbeat.digest(lvscf.write_parts(m, self.cache))
    local cfg = conf.pulse_config(self)
    cfg.held, cfg.blocked = self.held, self.blocked
    self.pulse = pulseproxy.new(cfg, {
        activate = function(reason) return self:activate(reason) end,
        deactivate = function(reason) return self:deactivate(reason) end,
        announce = function(reason) return self:announce(reason) end,
    })
    local ok
    ok, err = self.pulse:start()
    if not ok then
        self.probes:stop()
        return nil, err
    end
    if self.anycast then self.anycast:start() end
    local ctl, lvsctl = require "luaha.ctl", require "luaha.lvsctl"
    ctl.open(self.name)
    lvsctl.register(self)
    local listen, hopts = conf.listener(m, self.webui)
    -- The pair kept in step (lua/luaha/partnersync.lua): a transfer applies through the UI's draft store.
    self.sync = require("luaha.partnersync").new(self, hopts and hopts.draft):start()
    if hopts then hopts.draft = self.sync.draft end
    if listen then
        local server
        server, err = require("luaha.lvshttp").start(self, listen, hopts.passwd, hopts)
        if not server then
            self:stop()
            return nil, err
        end
        self.http = server
        log.info("status: listening on %s%s%s", listen, hopts.tls and " (TLS)" or "", hopts.webui and ", with the web UI" or "")
        if hopts.webui and hopts.beyond and not hopts.tls then
            log.warning("webui: plain HTTP beyond loopback (webui_insecure = 1): passwords cross the network readable")
        end
    end
    -- systemd's watchdog is fed only while both parts turn: this task runs, and the heartbeat part spoke lately.
    local beat = luaha.daemon.watchdog_interval()
    if beat then
        luaha.every(beat, function()
            if self.pulse:alive(math.max(beat, 3)) then luaha.daemon.notify("WATCHDOG=1") end
        end)
    end
    luaha.on_signal("HUP", function() self:reload() end)
    for _, sig in ipairs({ "TERM", "INT" }) do
        luaha.on_signal(sig, function()
            -- Piranha's exact line (its log watchers match it), then what this stop does.
            luaha.log.prefixed("pulse").info("Terminating due to signal %d", sig == "TERM" and 15 or 2)
            if self.anycast then return self.anycast:leave("signal " .. sig) end
            if #self.channels > 0 then
                log.info("stopping: handing over to the partner")
            else
                log.info("stopping: the VIPs and the IPVS table stay as they are")
            end
            self:stop()
            luaha.exit(0)
        end)
    end
    return true
end

--[[
stop(): an orderly end. With a partner this router hands over (the partner hears it is leaving
and takes over at once) and its VIPs and services go; alone it leaves the VIPs and the IPVS
table as they are, so that a restart drops no connection. Waits.
]]
function R:stop()
    self.stopping = true
    luaha.daemon.notify("STOPPING=1")
    if self.pulse then self.pulse:stop(true) end
    self.probes:stop()
    if self.reconciler then self.reconciler:cancel() end
    if self.anycast then self.anycast:stop() end
    if self.http then self.http:close() end
    if self.sync then self.sync:close() end
    require("luaha.ctl").close()
end

return router
