-- policies/piranha.lua: Piranha's pulse, lvs and nanny in one process: heartbeat and takeover, the IPVS table, health checks.
--[[
Usage: luaha policies/piranha.lua [-c FILE] [--check] [--dry-run] [--role primary|backup]
                                  [--forceactive] [--foreground] [--pidfile FILE]

FILE is an lvs.cf, or a Lua configuration when its name ends in .lua (default
/etc/sysconfig/ha/lvs.cf). The router's role is primary when it has the `primary` address,
backup when it has the `backup` one (or --role). With `backup_active = 1` the two routers
exchange heartbeats (lua/luaha/pulse.lua) and the active one holds the VIPs, announces them
with gratuitous ARP, and programs IPVS; both check the real servers all the time, so a
takeover programs only healthy ones. Alone (`backup_active = 0`) the primary is active at
once. It becomes a daemon (pid file /run/luaha/piranha.pid) unless --foreground, and tells
systemd when it is ready (sd_notify). SIGHUP re-reads the configuration. SIGTERM and SIGINT: with a
partner, the router hands over (it tells the partner, which takes over at once) and removes its
VIPs and services; alone, it leaves the VIPs and the IPVS table as they are, so that a restart
drops no connection: at start the entries the kernel already has are taken as they are until
their first check.

The module table `piranha` (the policy's return value and a global) holds the running state
and the transition hooks, which a custom policy may wrap (examples/).
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local lvs = require "luaha.lvs"
local nanny = require "luaha.nanny"
local pulse = require "luaha.pulse"
local heartbeat = require "luaha.heartbeat"
local vips = require "luaha.vips"
local ctl = require "luaha.ctl"
local lvsctl = require "luaha.lvsctl"
local lvshttp = require "luaha.lvshttp"
local fos = require "luaha.fos"

local ipvs, link = luaha.ipvs, luaha.link
local log = luaha.log.prefixed("lvs")

local usage = "usage: luaha policies/piranha.lua [-c FILE] [--check] [--dry-run] [--role primary|backup]"
    .. " [--forceactive] [--foreground] [--pidfile FILE]"

local function parse_args(args)
    local o = { config = "/etc/sysconfig/ha/lvs.cf", pidfile = "/run/luaha/piranha.pid" }
    local i = 1
    while i <= #args do
        local a = args[i]
        if a == "-c" and args[i + 1] then
            o.config = args[i + 1]
            i = i + 1
        elseif a == "--check" then
            o.check = true
        elseif a == "--dry-run" then
            o.dry_run = true
        elseif a == "--role" and (args[i + 1] == "primary" or args[i + 1] == "backup") then
            o.role = args[i + 1]
            i = i + 1
        elseif a == "--forceactive" then
            o.forceactive = true
        elseif a == "--pidfile" and args[i + 1] then
            o.pidfile = args[i + 1]
            i = i + 1
        elseif a == "--foreground" then
            o.foreground = true
        else
            return nil
        end
        i = i + 1
    end
    return o
end

-- Reads the configuration (with the parse cache, if given); logs its warnings. Returns the model, or nil and the errors.
local function load(path, cache)
    local m, errors, warnings = lvscf.load_any(path, cache)
    for _, w in ipairs(warnings or {}) do log.warning("%s", w) end
    return m, errors
end

local function key(v, rs) return v.name .. "/" .. rs.name end

--[[
The running state (documented in luaha(8) for `luaha attach`): the configuration's path and
model; a monitor per active real server; the table last applied (passed to apply as current, so
that a health change does not read the whole kernel table); the pulse; the VIPs held; the last
100 events; the runtime changes of `luaha ctl` (disabled servers, weights), until a reload.
The model is read-only: the parse cache (lvscf.cache) gives a reload the very tables of the
blocks that did not change, and the monitors of their servers go on as they were.
]]
local piranha = { state = { monitors = {}, monitor_at = {}, tasks = {}, probes = {}, vips = {}, garps = {},
    events = {}, disabled = {}, weights = {}, cache = lvscf.cache(), desired = lvs.cache() } }
local state = piranha.state
_G.piranha = piranha
piranha.load = load

-- event(fmt, ...): one of the last 100 events that `luaha ctl status` shows.
function piranha.event(fmt, ...)
    table.insert(state.events, { at = luaha.time(), text = fmt:format(...) })
    if #state.events > 100 then table.remove(state.events, 1) end
end

--[[
A real server's weight in the table: none when down or disabled, else its health's or the one ctl
set. Its monitor is found by tables (state.monitor_at[v][rs], the one state.monitors has under
"virtual/server"), without making the name of each of tens of thousands of servers.
]]
local function weight_of(v, rs)
    local at = state.monitor_at[v]
    local mon = at and at[rs]
    local w = mon and mon:weight()
    if next(state.disabled) == nil and next(state.weights) == nil then return w end
    local k = key(v, rs)
    if state.disabled[k] then return nil end
    if w and w > 0 and state.weights[k] then return state.weights[k] end
    return w
end

-- Whether this router is (or is becoming) the active one: health changes during an activation count.
local function active() return not state.pulse or state.pulse.want == "active" end

--[[
Makes the kernel's table what the model and the health say, for our services only (state.table,
those last programmed, and the model's): other programs' services stay. fresh: read the kernel
rather than trust state.table. Logs what it changed; returns the report or nil. One at a time,
each computing the table when its turn comes: an update that waited must not apply the health of
before.
]]
local programming = false
local function program(why, fresh)
    while programming do luaha.sleep(0.001) end
    programming = true
    local _ <close> = setmetatable({}, { __close = function() programming = false end })
    local report, err
    if state.table and not fresh then
        report, err = ipvs.apply(lvs.desired(state.model, weight_of, state.desired), { current = state.table })
    end
    if not report then
        -- None yet, a reconcile, or the kernel changed behind our back (that attempt was undone):
        -- read it; the services we programmed before are still ours to remove.
        report, err = ipvs.apply(lvs.desired(state.model, weight_of, state.desired), { owned = state.table })
    end
    if not report then
        log.err("ipvs (%s): %s", why, err)
        return nil
    end
    state.table = report.table
    for _, op in ipairs(report.ops) do log.info("ipvsadm %s (%s)", op, why) end
    return report
end
piranha.program = program

-- Health changes in one turn of the loop are applied together, by the active router only.
local pending = false
local function changed(mon)
    if mon then piranha.event("%s in virtual %s: %s", mon.name, mon.v.name, mon.state) end
    if pending or not active() then return end
    pending = true
    luaha.spawn(function()
        pending = false
        if active() then program("health") end
    end)
end

-- The key ipvs gives a real server's destination (canonical address and port).
local function dest_key(address, port)
    return ipvs.normalize({ address = address, port = port, dests = { { address = address } } }).dests[1].key
end

-- A restart must not drop connections: what the kernel has is trusted until checked.
local function adopt_kernel_table()
    local current = ipvs.services()
    if not current then return end
    local dests = {}
    for _, s in ipairs(current) do
        for _, d in ipairs(s.dests) do dests[s.key .. " " .. d.key] = d end
    end
    for _, v in ipairs(state.model.virtuals) do
        local skey = v.active and ipvs.normalize(lvs.service(state.model, v)).key
        for _, rs in ipairs(v.active and v.servers or {}) do
            local mon = state.monitors[key(v, rs)]
            local d = mon and not mon.checked and dests[skey .. " " .. dest_key(rs.address, rs.port or v.port)]
            if d then
                mon.state = d.weight == 0 and v.quiesce_server and "quiesced" or "in"
                mon.working = d.weight > 0 and math.min(d.weight, rs.weight) or rs.weight
                log.info("%s: in the kernel's table at weight %d, kept until checked", mon.name, d.weight)
            end
        end
    end
end

-- same_list(a, b): whether two arrays hold the same values in the same order.
local function same_list(a, b)
    if #a ~= #b then return false end
    for i = 1, #a do
        if a[i] ~= b[i] then return false end
    end
    return true
end

-- alive(task): whether a task, or a probe of nanny.start_probe (which answers status() as one), has not ended.
local function alive(task)
    local status = task:status()
    return status ~= "done" and status ~= "failed" and status ~= "cancelled"
end

-- keeps(pk, probes): the probe checking for pk (state.tasks), when it goes on: alive, for the very same monitors.
local function keeps(pk, probes)
    local task = state.tasks[pk]
    if task and probes[pk] and alive(task) and same_list(state.probes[pk], probes[pk]) then return task end
    return nil
end

--[[
group(v, old, running): the monitors of virtual block v, a new one for each active
real server; one of before (in old, by name) for the same address and port gives it its health.
]]
local function group(v, old, running)
    local g = { v = v, at = {}, keys = {}, mons = {}, pks = {} }
    if not running[v.name] then log.info("starting virtual service %s active: %d", v.name, v.port) end
    for _, rs in ipairs(v.servers) do
        if rs.active then
            local k = key(v, rs)
            local prev = old and old[k]
            local mon = nanny.new(v, rs, { rsh_command = state.model.rsh_command })
            if prev and prev.name == mon.name then
                mon:adopt(prev)
            else
                log.info("starting LVS client monitor for %s:%d -> %s", v.address, v.port, mon.name)
            end
            local n = #g.mons + 1
            g.at[rs], g.keys[n], g.mons[n], g.pks[n] = mon, k, mon, mon:probe_key()
        end
    end
    return g
end

--[[
start_monitors(old, old_rsh): makes the monitors of the model's active real servers, by virtual
block (state.groups). A reload (old: the monitors of before, by name; old_rsh: the rsh_command of
before) keeps the monitors of a block whose table is the one it had (the parse cache found its
text unchanged) as they are, and state.monitors is changed in place: a large reload costs what
changed. The tasks of the probes that change stop here, so that no result reaches a monitor of
before; the new ones are started by start_probes(), after the table of a reload is applied.
]]
local function start_monitors(old, old_rsh)
    local old_groups, groups = state.groups or {}, {}
    local running = {}                -- the virtuals that had monitors: a reload logs only what is new
    for v, g in pairs(old_groups) do
        if #g.mons > 0 then running[v.name] = true end
    end
    local keep = state.model.rsh_command == old_rsh
    for _, v in ipairs(state.model.virtuals) do
        if v.active then groups[v] = keep and old_groups[v] or group(v, old, running) end
    end
    -- The monitors of blocks gone or read again leave state.monitors, then the new ones come in.
    local monitors = old or {}
    for v, g in pairs(old_groups) do
        if groups[v] ~= g then
            for i, k in ipairs(g.keys) do
                if monitors[k] == g.mons[i] then monitors[k] = nil end
            end
        end
    end
    local probes, order = {}, {}      -- monitors by probe: one check serves every virtual that asks it
    state.monitors, state.monitor_at, state.groups = monitors, {}, groups
    state.next_probes = { probes = probes, order = order }
    for _, v in ipairs(state.model.virtuals) do
        local g = groups[v]
        if g then
            state.monitor_at[v] = g.at
            local fresh = g ~= old_groups[v]
            for i, mon in ipairs(g.mons) do
                if fresh then monitors[g.keys[i]] = mon end
                local pk = g.pks[i]
                local list = probes[pk]
                if not list then
                    list = {}
                    probes[pk], order[#order + 1] = list, pk
                end
                list[#list + 1] = mon
            end
        end
    end
    for pk, task in pairs(state.tasks) do
        if not keeps(pk, probes) then task:cancel() end
    end
end

--[[
start_probes(): a probe (nanny.start_probe, which answers as a task does) for each check of the
monitors start_monitors made. A probe whose monitors are all the ones it had goes on at its own
pace; the others are replaced, and the new ones check at once (a burst of thousands within the
first second).
]]
local function start_probes()
    if not state.next_probes then return end
    local probes, tasks = state.next_probes.probes, {}
    for _, pk in ipairs(state.next_probes.order) do
        local mons = probes[pk]
        local task = keeps(pk, probes)
        if task then
            mons = state.probes[pk]
        else
            task = nanny.start_probe(mons, changed)
        end
        tasks[pk], probes[pk] = task, mons
    end
    for pk, task in pairs(state.tasks) do
        if tasks[pk] ~= task then task:cancel() end
    end
    state.tasks, state.probes, state.next_probes = tasks, probes, nil
end

-- Someone may change the table by hand: every `reconcile` seconds it is read and repaired.
local function start_reconcile()
    if state.reconcile then state.reconcile:cancel() end
    state.reconcile = luaha.every(state.model.reconcile, function()
        if not active() then return end
        local report = program("reconcile", true)     -- read the kernel, not what we last applied
        if report and #report.ops > 0 then
            log.warning("reconcile: repaired the kernel's table: %s", table.concat(report.ops, "; "))
        end
    end)
end

-- argv_of(line): a command line of the configuration as pulse split it: on blanks, no shell, quotes removed.
local function argv_of(line)
    local argv = {}
    for word in line:gmatch("%S+") do argv[#argv + 1] = word:gsub('^"(.*)"$', "%1") end
    return argv
end

-- command(what, line): runs active_cmd or inactive_cmd, not waited for, as pulse did.
local function command(what, line)
    if not line then return end
    local argv = argv_of(line)
    luaha.spawn(function()
        local r, err = luaha.proc.run(argv, { timeout = 60 })
        if not r then
            log.err("%s: %s", what, err)
        elseif r.status ~= 0 then
            log.warning("%s %s exited with status %s", what, line, tostring(r.status or r.signal))
        end
    end)
end

--[[
syncdaemon(role): the IPVS connection-sync daemon as pulse ran it (piranha.md 3.8): only the one of
this role, on syncd_iface with syncd_id. One that already runs so is left alone; the other is
stopped. A daemon just started is given a moment to run its thread, because the kernel does not
answer a stop that comes before it has (see stop_daemon in luaha-lua(7)).
]]
local function syncdaemon(role)
    local m = state.model
    if not m.syncdaemon then return end
    local want = { state = role, ifname = m.syncd_iface, syncid = m.syncd_id & 0xff }
    local running = ipvs.daemons() or {}
    local have = false
    for _, d in ipairs(running) do
        if d.state == role and d.ifname == want.ifname and d.syncid == want.syncid then
            have = true
        else
            local ok, err = ipvs.stop_daemon(d.state)
            if not ok then log.err("sync daemon (%s): %s", d.state, err) end
        end
    end
    if have then return end
    local ok, err = ipvs.start_daemon(want)
    if not ok then return log.err("sync daemon (%s): %s", role, err) end
    if luaha.current() and coroutine.isyieldable() then luaha.sleep(0.02) end
end

-- Gratuitous ARPs for the VIPs: a burst now, then one refresh every garp_refresh seconds while active.
local function stop_announcing()
    for _, t in ipairs(state.garps) do t:cancel() end
    state.garps = {}
    if state.refresh then state.refresh:cancel() end
    state.refresh = nil
end

local function announce(count)
    local m = state.model
    for _, t in ipairs(vips.announce(state.vips, count or m.garp_count, m.garp_interval)) do
        state.garps[#state.garps + 1] = t
    end
end

local function start_announcing()
    stop_announcing()
    if state.model.garp_count > 0 then announce() end
    if state.model.garp_refresh > 0 then
        state.refresh = luaha.every(state.model.garp_refresh, function() announce(1) end)
    end
end

--[[
step(what, fn, ...): one step of a transition; its failure (nil, err) or error (with its traceback)
is logged and the next steps still run.
]]
local function step(what, fn, ...)
    local ok, res, err = xpcall(fn, debug.traceback, ...)
    if not ok then
        log.err("%s: %s", what, res)
    elseif res == nil and err then
        log.err("%s: %s", what, err)
    end
end

local function program_on_activation()
    state.table = nil
    adopt_kernel_table()
    program("activate")
    start_reconcile()
end

local function remove_services()
    if state.reconcile then state.reconcile:cancel() end
    -- Ours only: those last programmed or, when none were (a restart), those the model names.
    local owned = state.table or lvs.desired(state.model)
    state.reconcile, state.table = nil, nil
    local report, err = ipvs.apply({}, { owned = owned })
    if not report then return nil, err end
    for _, op in ipairs(report.ops) do log.info("ipvsadm %s (deactivate)", op) end
    return true
end

local function vips_up()
    state.vips = vips.of(state.model)
    return vips.up(state.vips)
end

local function vips_down()
    state.vips = {}
    return vips.down(vips.of(state.model))
end

--[[
The transitions (hooks of the pulse; a custom policy may wrap piranha.activate and the others).
activate: the IPVS table first (only checked real servers), then the VIPs and their ARPs, so
that the first packet to reach this router finds its service. Each step runs even when one
before it failed.
]]
function piranha.activate(_, reason)
    local m = state.model
    log.info("activating: %s", reason)
    piranha.event("activating: %s", reason)
    command("active_cmd", m.active_cmd)
    step("sync daemon", syncdaemon, "master")
    if m.service ~= "fos" then step("ipvs", program_on_activation) end
    step("VIPs", vips_up)
    step("gratuitous ARP", start_announcing)
    if m.service == "fos" then
        if state.fos_monitor then state.fos_monitor.stop() end
        state.fos_monitor = nil
        step("fos", piranha.fos_start)
    end
end

-- deactivate: the reverse, in the reverse order.
function piranha.deactivate(_, reason)
    local m = state.model
    log.info("deactivating: %s", reason)
    piranha.event("deactivating: %s", reason)
    if m.service == "fos" then step("fos", piranha.fos_stop) end
    stop_announcing()
    step("VIPs", vips_down)
    if m.service ~= "fos" then step("ipvs", remove_services) end
    step("sync daemon", syncdaemon, "backup")
    command("inactive_cmd", m.inactive_cmd)
    -- fos: the passive router watches the partner's services and takes them over when they fail.
    local p = state.pulse
    if m.service == "fos" and p and not p.leaving and not state.fos_monitor then
        state.fos_monitor = fos.monitor(m, function(why)
            state.fos_monitor = nil
            local ok, err = p:takeover("remote service failed (" .. why .. "): activating fos")
            if not ok then log.err("fos: cannot take over: %s", err) end
        end)
    end
end

-- announce: the active primary heard an active partner: its VIPs are announced again.
function piranha.announce()
    command("active_cmd", state.model.active_cmd)
    announce()
end

-- fos mode (piranha.md 1.7): the failover services' stop_cmd then start_cmd, in order; stop_cmd in reverse.
local function run_cmd(what, line)
    if not line then return true end
    local r, err = luaha.proc.run(argv_of(line), { timeout = 60 })
    if r and r.status == 0 then return true end
    log.err("%s %s: %s", what, line, r and ("status " .. tostring(r.status or r.signal)) or err)
    return false
end

function piranha.fos_start()
    for _, f in ipairs(state.model.failovers) do
        if f.active then
            run_cmd("stop_cmd", f.stop_cmd)
            log.info("Starting local service %s:%d ...", f.address, f.port)
            if not run_cmd("start_cmd", f.start_cmd) then
                log.err("Failed to start service %s:%d!", f.address, f.port)
            end
        end
    end
end

function piranha.fos_stop()
    local fs = state.model.failovers
    for i = #fs, 1, -1 do
        if fs[i].active then run_cmd("stop_cmd", fs[i].stop_cmd) end
    end
end

--[[
Link monitoring (monitor_links, piranha.md 3.9): the interfaces holding this router's heartbeat
addresses and its VIPs; any of them down or without carrier blocks the active role.
]]
local function watched_links(addresses)
    local devs, list = {}, link.addrs() or {}
    for _, a in ipairs(list) do
        local bare = a.address:match("^[^/]+")
        for _, want in ipairs(addresses) do
            if bare == want then devs[a.dev] = true end
        end
    end
    for _, a in ipairs(vips.of(state.model)) do devs[a.dev] = true end
    return devs
end

local function check_links(devs)
    local down = {}
    for _, l in ipairs(link.links() or {}) do
        if devs[l.name] and not (l.up and l.carrier) then down[#down + 1] = l.name end
    end
    table.sort(down)
    return down
end

local function monitor_links(addresses)
    local devs = watched_links(addresses)
    local was_down = false
    local function evaluate()
        local down = check_links(devs)
        if #down > 0 and not was_down then
            log.warning("NIC link down: %s", table.concat(down, ", "))
            log.warning("Local NIC link failure: Pulse disabled")
            state.pulse:block("link", "local link failure")
        elseif #down == 0 and was_down then
            log.info("Local NIC link(s) restored: Pulse enabled")
            state.pulse:block("link", nil)
        end
        was_down = #down > 0
    end
    local watcher, err = link.watch(function(ev)
        if ev.type == "link" and devs[ev.name] then evaluate() end
    end)
    if not watcher then log.err("monitor_links: %s", err) end
    evaluate()
end

--[[
pause_collector(limit): stops the garbage collector until the value it returns is closed or its
resume() is called, or until the heap has grown by limit kilobytes (a reload that reads most of a
large file anew makes hundreds of megabytes of garbage). A reload of a large configuration makes
megabytes of garbage, and may come while the collector is in the middle of a cycle over the whole
heap (the start's garbage): collecting between its steps would only delay its table, which in
UML took 0.8 s instead of 0.15. The collection waits until the table is applied.
]]
local function pause_collector(limit)
    local running = collectgarbage("isrunning")
    local watch
    local function resume()
        if watch then watch:cancel() end
        if running then collectgarbage("restart") end
        running, watch = false, nil
    end
    if running then
        collectgarbage("stop")
        local ceiling = collectgarbage("count") + limit
        watch = luaha.every(0.01, function()
            if collectgarbage("count") > ceiling then resume() end
        end)
    end
    return setmetatable({ resume = resume }, { __close = resume })
end

--[[
reload(path): reads the configuration again and applies the difference. Returns true and the
operations sent, or nil and the configuration's errors (nothing is changed then). The runtime
changes of `luaha ctl` end here. Logs how long each part took: a large configuration's reload
is meant to cost what changed.
]]
local function reload(path)
    local started = luaha.now()
    local collector <close> = pause_collector(64 * 1024)
    local m, errors = load(path, state.cache)
    if not m then
        for _, e in ipairs(errors) do log.err("%s", e) end
        log.err("reload: %s has errors; the running configuration stays", path)
        piranha.event("reload: %s has errors; the running configuration stays", path)
        return nil, errors
    end
    local old, old_vips, old_rsh = state.monitors, state.vips, state.model.rsh_command
    state.model = m
    state.disabled, state.weights = {}, {}
    local read = luaha.now()
    start_monitors(old, old_rsh)
    local monitored = luaha.now()
    if state.pulse then
        state.pulse.serial, state.pulse.digest = m.serial_no, heartbeat.digest(lvscf.write_parts(m, state.cache))
    end
    local digested = luaha.now()
    local is_active = active()
    local report = is_active and program("reload")
    local programmed = luaha.now()
    collector.resume()
    -- The checks go on once the table is there: a reload's table does not wait for new tasks.
    start_probes()
    local ops = report and report.ops or {}
    if is_active then
        start_reconcile()
        -- VIPs no block asks for any more go; new ones come up and are announced.
        local new, keep = vips.of(m), {}
        for _, a in ipairs(new) do keep[a.address .. " " .. a.dev .. " " .. a.prefix] = true end
        local gone = {}
        for _, a in ipairs(old_vips) do
            if not keep[a.address .. " " .. a.dev .. " " .. a.prefix] then gone[#gone + 1] = a end
        end
        vips.down(gone)
        state.vips = new
        local ok, err = vips.up(new)
        if not ok then log.err("VIPs: %s", err) end
        start_announcing()
    end
    log.info("reload: %d operations, %.3f s (reading %.3f s, monitors %.3f s, digest %.3f s, table %.3f s)", #ops,
        programmed - started, read - started, monitored - read, digested - monitored, programmed - digested)
    piranha.event("reload: %d operations", #ops)
    return true, ops
end
piranha.reload = reload

-- local_addresses(): the set of this host's addresses, without prefix.
local function local_addresses()
    local set = {}
    for _, a in ipairs(link.addrs() or {}) do set[a.address:match("^[^/]+")] = true end
    return set
end

--[[
The role and the heartbeat channels: primary iff this host has the primary address (any
address, any label; piranha.md 1.2), backup iff it has the backup one.
]]
local function role_of(m, forced)
    if forced then return forced end
    local here = local_addresses()
    if m.primary and here[m.primary] then return "primary" end
    if m.backup and here[m.backup] then return "backup" end
    if not m.primary and not m.backup_active then return "primary" end
    return nil, ("this host has neither the primary address %s nor the backup address %s"):format(
        tostring(m.primary), tostring(m.backup))
end

local function channels_of(m, role)
    if not m.backup_active then return {} end
    local own, peer = role, role == "primary" and "backup" or "primary"
    local list = { { address = m[own], peer = m[peer] } }
    local own_private, peer_private = m[own .. "_private"], m[peer .. "_private"]
    if own_private and peer_private and own_private ~= m[own] then
        list[2] = { address = own_private, peer = peer_private }
    end
    return list
end

local function dry_run(m)
    local desired = lvs.desired(m)
    local ok, info = pcall(ipvs.info)
    if not ok or not info then
        io.stderr:write("ipvs: the kernel cannot be read: ", (tostring(info):gsub("^.-:%d+: ", "")), "\n")
        info = { version = "1.2.1", conn_tab_size = 4096 }
    end
    io.write(ipvs.format(desired, info))
    local rok, report, err = pcall(ipvs.apply, desired, { dry_run = true })
    if rok and report then
        print(("# from the kernel's table: %d to add, %d to change, %d to remove"):format(
            report.added, report.changed, report.removed))
        for _, op in ipairs(report.ops) do print(op) end
    else
        print("# the kernel's table cannot be read: " .. tostring(rok and err or report):gsub("^.-:%d+: ", ""))
    end
    return 0
end

-- The number of active blocks of the service's kind: without one there is nothing to do.
local function active_blocks(m)
    local n = 0
    for _, b in ipairs(m.service == "fos" and m.failovers or m.virtuals) do
        if b.active then n = n + 1 end
    end
    return n
end

local function main(args)
    local o = parse_args(args)
    if not o then
        io.stderr:write(usage, "\n")
        return 2
    end
    -- A daemon reads its file with the parse cache, so that its first reload finds the blocks there.
    local m, errors = load(o.config, not (o.check or o.dry_run) and state.cache or nil)
    if not m then
        for _, e in ipairs(errors) do io.stderr:write(e, "\n") end
        return 1
    end
    if o.check then
        print(o.config .. ": OK")
        return 0
    end
    if o.dry_run then return dry_run(m) end
    if m.status_listen then
        local ok, err = lvshttp.check(m.status_listen, m.status_passwd)
        if not ok then
            io.stderr:write("piranha: ", err, "\n")
            return 1
        end
    end
    if active_blocks(m) == 0 then
        io.stderr:write(("piranha: no active %s services defined in %s\n"):format(m.service, o.config))
        return 1
    end
    local role, err = role_of(m, o.role)
    if not role then
        io.stderr:write("piranha: ", err, "\n")
        return 1
    end
    log.info("STARTING PULSE AS %s", role == "primary" and "MASTER" or "BACKUP")
    if role == "backup" and not m.backup_active then
        log.info("We are backup node and backup is marked inactive -- exiting pulse")
        return 0
    end
    if not o.foreground then
        local dir = o.pidfile:match("^(.*)/[^/]*$")
        if dir and dir ~= "" then luaha.proc.run({ "mkdir", "-p", dir }, { timeout = 10 }) end
        local ok
        ok, err = luaha.daemon.daemonize({ pidfile = o.pidfile })
        if not ok then
            io.stderr:write("piranha: ", err, "\n")
            return 1
        end
    end
    local hb_key
    if m.heartbeat_key then
        hb_key, err = heartbeat.read_key(m.heartbeat_key)
        if not hb_key then
            io.stderr:write("piranha: ", err, "\n")
            return 1
        end
    end
    state.model, state.config = m, o.config
    if m.service ~= "fos" then
        start_monitors(nil)
        start_probes()
    end
    local channels = channels_of(m, role)
    state.pulse = pulse.new({
        role = role, channels = channels, port = m.heartbeat_port,
        keepalive = m.keepalive, deadtime = m.deadtime, key = hb_key,
        serial = m.serial_no, digest = heartbeat.digest(lvscf.write_parts(m, state.cache)), forceactive = o.forceactive,
        activate = function(...) return piranha.activate(...) end,
        deactivate = function(...) return piranha.deactivate(...) end,
        announce = function(...) return piranha.announce(...) end,
    })
    if #channels > 0 then syncdaemon("backup") end
    local ok
    ok, err = state.pulse:start()
    if not ok then
        io.stderr:write("piranha: ", err, "\n")
        return 1
    end
    if m.monitor_links and #channels > 0 then
        local own = {}
        for _, ch in ipairs(channels) do own[#own + 1] = ch.address end
        monitor_links(own)
    end
    ctl.open("piranha")
    lvsctl.register(piranha)
    if m.status_listen then
        local server
        server, err = lvshttp.start(piranha, m.status_listen, m.status_passwd)
        if not server then
            io.stderr:write("piranha: ", err, "\n")
            return 1
        end
        state.http = server
        log.info("status: listening on %s", m.status_listen)
    end
    -- Started: the shell that ran a daemon returns, systemd hears READY=1 and the watchdog's beat.
    luaha.daemon.ready()
    luaha.daemon.notify("READY=1")
    local beat = luaha.daemon.watchdog_interval()
    if beat then luaha.every(beat, function() luaha.daemon.notify("WATCHDOG=1") end) end
    luaha.on_signal("HUP", function() reload(o.config) end)
    for _, sig in ipairs({ "TERM", "INT" }) do
        luaha.on_signal(sig, function()
            if #channels > 0 then
                log.info("Terminating due to signal %s: handing over to the partner", sig)
                state.pulse:stop()
            else
                log.info("Terminating due to signal %s; the VIPs and the IPVS table stay as they are", sig)
            end
            luaha.daemon.notify("STOPPING=1")
            ctl.close()
            luaha.exit(0)
        end)
    end
    return 0
end

local status = main(arg)
if status ~= 0 then luaha.exit(status) end
return piranha
