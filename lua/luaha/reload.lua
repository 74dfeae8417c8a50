-- lua/luaha/reload.lua: a router's reload: read, check, plan, apply, commit: the whole of it, or nothing at all.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
run(r) reads r.config again (with the parse cache: only the blocks whose text changed are read
anew), runs the checks --check runs (routerconf.check), plans the monitors of the new model
(keeping those of unchanged blocks and the health of every server that stays), and, on the active
router, applies the new table. Only when all of that succeeded is the new model swapped in, the
monitors committed, the new checks started and the heartbeat part told (VIPs, timers, digest).
If any step fails, the old model, monitors, checks and table go on untouched, and the errors are
returned. The runtime changes of `luaha ctl` (disabled servers, weights) end here.

Returns true, the operations applied and the list of changed options that need a restart
(routerconf.not_live: logged too); or nil and the errors. A large configuration's reload costs
what changed; it logs how long each part took. The collector waits for the table: a reload that
reads most of a large file anew makes hundreds of megabytes of garbage, and collecting between
its steps would only delay its table (in UML 0.8 s instead of 0.15).
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local conf = require "luaha.routerconf"

local log = luaha.log.prefixed("lvs")

local reload = {}

--[[
pause_collector(limit): stops the garbage collector until the value it returns is closed or its
resume() is called, or until the heap has grown by limit kilobytes.
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

local function refuse(r, path, errors)
    r.last_reload = { ok = false, at = luaha.time(), success_at = r.last_reload and r.last_reload.success_at }
    for _, e in ipairs(errors) do log.err("%s", e) end
    log.err("reload: %s has errors; the running configuration stays", path)
    r:event("reload: %s has errors; the running configuration stays", path)
    return nil, errors
end

function reload.run(r)
    local path = r.config
    local started = luaha.now()
    local collector <close> = pause_collector(64 * 1024)
    local m, errors, warnings = lvscf.load_any(path, r.cache)
    for _, w in ipairs(warnings or {}) do log.warning("%s", w) end
    if not m then return refuse(r, path, errors) end
    local key, digest = conf.check(m, path, r.cache, r.webui)
    if key == nil then return refuse(r, path, digest) end
    local read = luaha.now()
    local plan = m.service ~= "fos" and r.probes:plan(m)
    local planned = luaha.now()
    local old = r.model
    local saved_disabled, saved_weights = r.disabled, r.weights
    r.disabled, r.weights = {}, {}
    local report, err
    if r:keeps_table(m) and plan then
        report, err = r:apply("reload", m, plan.monitor_at)
        if not report then
            r.disabled, r.weights = saved_disabled, saved_weights
            return refuse(r, path, { ("%s: the kernel refused the new table: %s"):format(path, err) })
        end
    end
    local programmed = luaha.now()
    -- From here nothing can fail: the new configuration is the running one.
    r.model, r.digest = m, digest
    if plan then
        r.probes:commit(plan)
        collector.resume()
        r.probes:start()        -- the checks go on once the table is there
    end
    if r:keeps_table() and m.service ~= "fos" then
        r:start_reconcile()
    elseif old.standby_table and not r:active() and old.service ~= "fos" then
        r:step("ipvs", r.release_table, r)    -- the standby table turned off (or fos): it goes
    end
    local later = conf.not_live(old, m)
    if #later > 0 then
        log.warning("reload: %s changed, which takes a restart to apply; the running values stay",
            table.concat(later, ", "))
    end
    if r.pulse then r.pulse:update(conf.pulse_update(m, digest)) end
    local ops = report and report.ops or {}
    log.info("reload: %d operations, %.3f s (reading and checking %.3f s, monitors %.3f s, table %.3f s)", #ops,
        programmed - started, read - started, planned - read, programmed - planned)
    r:event("reload: %d operations", #ops)
    local now = luaha.time()
    r.last_reload = { ok = true, at = now, success_at = now }
    return true, ops, later
end

return reload
