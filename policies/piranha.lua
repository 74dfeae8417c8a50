-- policies/piranha.lua: Piranha's lvs and nanny in one process: the IPVS table from lvs.cf, health checks, reload, repair.
--[[
Usage: luaha policies/piranha.lua [-c FILE] [--check] [--dry-run] [--foreground]

FILE is an lvs.cf, or a Lua configuration when its name ends in .lua (default
/etc/sysconfig/ha/lvs.cf). This router acts as the active one: the heartbeat that
chooses between active and backup is not part of this policy yet. It runs in the
foreground. SIGHUP re-reads the configuration; SIGTERM and SIGINT stop it and leave the
IPVS table as it is, so that a restart drops no connection: at start the entries the
kernel already has are taken as they are until their first check.
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local lvs = require "luaha.lvs"
local nanny = require "luaha.nanny"

local ipvs, log = luaha.ipvs, luaha.log

local usage = "usage: luaha policies/piranha.lua [-c FILE] [--check] [--dry-run] [--foreground]"

local function parse_args(args)
    local o = { config = "/etc/sysconfig/ha/lvs.cf" }
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
        elseif a ~= "--foreground" then     -- the foreground is the only way it runs for now
            return nil
        end
        i = i + 1
    end
    return o
end

-- Reads the configuration; logs its warnings. Returns the model, or nil and the errors.
local function load(path)
    local m, errors, warnings = lvscf.load_any(path)
    for _, w in ipairs(warnings or {}) do log.warning("%s", w) end
    return m, errors
end

local function key(v, rs) return v.name .. "/" .. rs.name end

--[[
The running state: the model, a monitor per active real server, the table last applied
(passed to apply as current, so that a health change does not read the whole kernel table).
]]
local state = { monitors = {}, tasks = {} }

local function weight_of(v, rs)
    local mon = state.monitors[key(v, rs)]
    return mon and mon:weight()
end

-- Makes the kernel's table what the model and the health say. Logs what it changed; returns the report or nil.
local function program(why)
    local desired = lvs.desired(state.model, weight_of)
    local report, err = ipvs.apply(desired, { current = state.table })
    if not report and state.table then
        -- The kernel changed behind our back: the attempt was undone; read it and try again.
        state.table = nil
        report, err = ipvs.apply(desired)
    end
    if not report then
        log.err("ipvs (%s): %s", why, err)
        return nil
    end
    state.table = report.table
    for _, op in ipairs(report.ops) do log.info("ipvsadm %s (%s)", op, why) end
    return report
end

-- Health changes in one turn of the loop are applied together.
local pending = false
local function changed()
    if pending then return end
    pending = true
    luaha.spawn(function()
        pending = false
        program("health")
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
            local d = mon and dests[skey .. " " .. dest_key(rs.address, rs.port or v.port)]
            if d then
                mon.state = d.weight == 0 and v.quiesce_server and "quiesced" or "in"
                mon.working = d.weight > 0 and math.min(d.weight, rs.weight) or rs.weight
                log.info("%s: in the kernel's table at weight %d, kept until checked", mon.name, d.weight)
            end
        end
    end
end

--[[
Starts the monitors of the model's active real servers. Those of the previous model
(a reload) that check the same server the same way keep their health.
]]
local function start_monitors(old)
    for _, task in pairs(state.tasks) do task:cancel() end
    state.monitors, state.tasks = {}, {}
    local probes, order = {}, {}      -- monitors by probe: one check serves every virtual that asks it
    for _, v in ipairs(state.model.virtuals) do
        if v.active then
            log.info("starting virtual service %s active: %d", v.name, v.port)
            for _, rs in ipairs(v.servers) do
                if rs.active then
                    local mon = nanny.new(v, rs, { rsh_command = state.model.rsh_command })
                    local prev = old and old[key(v, rs)]
                    if prev and prev.name == mon.name then mon:adopt(prev) end
                    log.info("starting LVS client monitor for %s:%d -> %s", v.address, v.port, mon.name)
                    state.monitors[key(v, rs)] = mon
                    local pk = mon:probe_key()
                    if not probes[pk] then
                        probes[pk] = {}
                        order[#order + 1] = pk
                    end
                    table.insert(probes[pk], mon)
                end
            end
        end
    end
    for _, pk in ipairs(order) do
        local mons = probes[pk]
        local task = luaha.spawn(nanny.run_probe, mons, changed)
        task:name("nanny " .. mons[1].name)
        state.tasks[pk] = task
    end
end

local start_reconcile

local function reload(path)
    local m, errors = load(path)
    if not m then
        for _, e in ipairs(errors) do log.err("%s", e) end
        log.err("reload: %s has errors; the running configuration stays", path)
        return
    end
    local old = state.monitors
    state.model = m
    start_monitors(old)
    program("reload")
    start_reconcile()
end

local function main(args)
    local o = parse_args(args)
    if not o then
        io.stderr:write(usage, "\n")
        return 2
    end
    local m, errors = load(o.config)
    if not m then
        for _, e in ipairs(errors) do io.stderr:write(e, "\n") end
        return 1
    end
    if o.check then
        print(o.config .. ": OK")
        return 0
    end
    if o.dry_run then
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
    state.model = m
    start_monitors(nil)
    adopt_kernel_table()
    if not program("start") then return 1 end
    luaha.on_signal("HUP", function() reload(o.config) end)
    for _, sig in ipairs({ "TERM", "INT" }) do
        luaha.on_signal(sig, function()
            log.info("Terminating due to signal %s; the IPVS table stays as it is", sig)
            luaha.exit(0)
        end)
    end
    start_reconcile()
    return 0
end

-- Someone may change the table by hand: every `reconcile` seconds it is read and repaired.
function start_reconcile()
    if state.reconcile then state.reconcile:cancel() end
    state.reconcile = luaha.every(state.model.reconcile, function()
        state.table = nil           -- read the kernel, not what we last applied
        local report = program("reconcile")
        if report and #report.ops > 0 then
            log.warning("reconcile: repaired the kernel's table: %s", table.concat(report.ops, "; "))
        end
    end)
end

local status = main(arg)
if status ~= 0 then luaha.exit(status) end
