-- lua/luaha/webreview.lua: what applying a draft of lvs.cf would do: IPVS operations, VIPs, monitors, warnings.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
The Review page's facts (spec webui.md 3.5), computed without changing anything. The IPVS
operations are those the reload of the new file would send (lua/luaha/reload.lua): the same
monitor plan (probes:plan, so new real servers are out until their first check and changed ones
keep their health), the same weights (a reload ends the runtime changes of `luaha ctl`), the same
table to start from (the router's last table, else the kernel's), as a dry run of ipvs.apply.
The new text is parsed with a copy of the router's parse cache, so that the blocks that did not
change are the very tables the running model holds, as they will be in the reload, and the
router's own cache is left as it is.

Cost at 10 000 real servers: a parse of the new text (the blocks read anew only, about 0.3 s of
CPU for all, in slices of about a millisecond), a plan (a monitor per server), a dry run (the C
diff, yielding every 5 ms): the loop is never held for long.
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local lvs = require "luaha.lvs"
local vips = require "luaha.vips"
local conf = require "luaha.routerconf"
local model = require "luaha.lvscfmodel"

local ipvs = luaha.ipvs

local review = {}

-- Piranha's own schedulers (lvs.cf(5)): the others are luaha's and Piranha's lvs refuses them.
local piranha_schedulers = { rr = true, wrr = true, lc = true, wlc = true, lblc = true, lblcr = true, dh = true,
    sh = true }

-- A copy of a parse cache that shares its entries: parsing with it leaves the original's blocks as they are.
local function cache_copy(cache)
    if not cache then return lvscf.cache() end
    return { blocks = cache.blocks, written = cache.written }
end

--[[
parse(text, path [, cache]): the model of text as the reload will read it, or nil and the errors;
warnings third. Parsed with a copy of cache (the router's).
]]
function review.parse(text, path, cache)
    return lvscf.parse(text, path, cache_copy(cache))
end

--[[
piranha_unreadable(m): why Piranha could not read the model's file, as a list ("" none): a luaha
extension away from its default, a fraction of a second in keepalive or deadtime, a scheduler
Piranha does not know.
]]
function review.piranha_unreadable(m)
    local why = {}
    local function ext(list, t, where)
        for _, o in ipairs(list) do
            if o.ext and t[o.key] ~= nil and t[o.key] ~= o.default then
                why[#why + 1] = ("%s%s is a luaha extension"):format(where, o.key)
            end
        end
    end
    ext(model.globals, m, "")
    for _, k in ipairs({ "keepalive", "deadtime" }) do
        if math.type(m[k]) == "float" and m[k] ~= math.floor(m[k]) then
            why[#why + 1] = ("%s = %s: Piranha reads whole seconds"):format(k, model.number(m[k]))
        end
    end
    for _, kind in ipairs({ "virtuals", "failovers" }) do
        for _, b in ipairs(m[kind] or {}) do
            local where = ("%s %s: "):format(kind:sub(1, -2), b.name)
            ext(model.blocks, b, where)
            if b.scheduler and not piranha_schedulers[b.scheduler] then
                why[#why + 1] = ("%sscheduler %s is not one of Piranha's"):format(where, b.scheduler)
            end
            for _, s in ipairs(b.servers or {}) do ext(model.servers, s, ("%sserver %s: "):format(where, s.name)) end
        end
        luaha.breathe()
    end
    return why
end

local function vip_key(a) return ("%s/%d %s"):format(a.address, a.prefix, a.label or a.dev) end

-- vip_changes(old, new): the VIPs to add and to remove, {op = "add" | "del", address =, device =, prefix =}.
function review.vip_changes(old, new)
    local before, after, list = {}, {}, {}
    for _, a in ipairs(old and vips.of(old) or {}) do before[vip_key(a)] = a end
    for _, a in ipairs(vips.of(new)) do after[vip_key(a)] = a end
    for _, a in ipairs(old and vips.of(old) or {}) do
        if not after[vip_key(a)] then
            list[#list + 1] = { op = "del", address = a.address, device = a.label or a.dev, prefix = a.prefix }
        end
    end
    for _, a in ipairs(vips.of(new)) do
        if not before[vip_key(a)] then
            list[#list + 1] = { op = "add", address = a.address, device = a.label or a.dev, prefix = a.prefix }
        end
    end
    return list
end

-- The monitors a plan makes, by "virtual/server": {mon =, fresh = bool (no health taken from before)}.
local function planned(plan)
    local list = {}
    for _, g in pairs(plan.groups) do
        local fresh = {}
        for _, mon in ipairs(g.fresh) do fresh[mon] = true end
        for i, k in ipairs(g.keys) do list[k] = { mon = g.mons[i], fresh = fresh[g.mons[i]] or false } end
    end
    return list
end

--[[
monitors(r, plan, m): {started =, stopped =, kept =}, sorted lists of "virtual/server": the monitors
that start without health, those that stop, and those that go on (with the health they had).
Without a router every active real server's monitor starts.
]]
local function monitors(r, plan, m)
    local out = { started = {}, stopped = {}, kept = {} }
    if not plan then
        for _, v in ipairs(m.service ~= "fos" and m.virtuals or {}) do
            for _, rs in ipairs(v.active and v.servers or {}) do
                if rs.active then out.started[#out.started + 1] = v.name .. "/" .. rs.name end
            end
        end
    else
        local new = planned(plan)
        for k, p in pairs(new) do table.insert(p.fresh and out.started or out.kept, k) end
        for k in pairs(r.probes.monitors) do
            if not new[k] or new[k].fresh then out.stopped[#out.stopped + 1] = k end
        end
    end
    for _, list in pairs(out) do table.sort(list) end
    return out
end

--[[
ipvs_ops(r, m, plan): the operations, as ipvsadm arguments, that the reload of m would send, and
a note when there are none to send by design. The reload programs only on a router that keeps a
table (active, or passive with standby_table), from its last table when it has one.
]]
local function ipvs_ops(r, m, plan)
    if not r then return {}, "no router runs yet: the first start programs the table", {} end
    if m.service == "fos" then return {}, "service = fos: no IPVS service is programmed" end
    if not r:keeps_table(m) then return {}, "no kernel change now; this router holds no services" end
    local at = plan.monitor_at
    local desired = lvs.desired(m, function(v, rs)
        local mon = at[v] and at[v][rs]
        return mon and mon:weight()
    end)
    local report, err = ipvs.apply(desired, r.table and { current = r.table, dry_run = true } or { dry_run = true })
    if not report then return {}, "the kernel's table cannot be read: " .. tostring(err) end
    local ops = {}
    for i, op in ipairs(report.ops) do ops[i] = op end
    return ops, nil, report.table
end

--[[
later_ops(m, from): the operations that follow Apply's as the checks pass, from the table Apply
leaves (from; an empty one in setup mode, where the first start programs everything this way):
to every active real server in at its configured weight (lvs.desired without weight_of, what
--dry-run shows). A real server enters only after a passing check, so Apply itself sends none of
these; the Review lists them apart. A dry run against a table given: no kernel read.
]]
local function later_ops(m, from)
    if not from then return {} end
    local report = ipvs.apply(lvs.desired(m), { current = from, dry_run = true })
    local ops = {}
    for i, op in ipairs(report and report.ops or {}) do ops[i] = op end
    return ops
end

-- local_warnings(m): devices this host lacks; neither router address being one of this host's.
local function local_warnings(m, warnings)
    local links, addrs = luaha.link.links(), luaha.link.addrs()
    if links then
        local have = {}
        for _, l in ipairs(links) do have[l.name] = true end
        for _, a in ipairs(vips.of(m)) do
            if not have[a.dev] then
                warnings[#warnings + 1] = ("device %s (of %s) is not on this host"):format(a.dev, a.address)
            end
        end
    end
    if addrs and m.backup_active then
        local here = {}
        for _, a in ipairs(addrs) do here[a.address:match("^[^/]+")] = true end
        if not here[m.primary or ""] and not here[m.backup or ""] then
            warnings[#warnings + 1] = ("neither primary %s nor backup %s is an address of this host"):format(
                tostring(m.primary), tostring(m.backup))
        end
    end
end

--[[
run(r, new, old, path, parse_warnings): the review of model new (parsed with review.parse) against
old (the running model, or the file's, or nil), on router r (nil in setup mode):
{ ipvs =, ipvs_later =, note =, vips =, monitors =, warnings =, errors =, piranha_readable =,
piranha_unreadable = } (ipvs_later: later_ops).
errors are those of the router's checks (routerconf.check: what --check and the reload refuse).
]]
function review.run(r, new, old, path, parse_warnings)
    local out = { warnings = {}, errors = {} }
    for _, w in ipairs(parse_warnings or {}) do out.warnings[#out.warnings + 1] = w end
    local key, errors = conf.check(new, path, r and cache_copy(r.cache))
    if key == nil then out.errors = errors end
    local plan = r and new.service ~= "fos" and r.probes:plan(new)
    if #out.errors == 0 then
        local after
        out.ipvs, out.note, after = ipvs_ops(r, new, plan)
        out.ipvs_later = later_ops(new, after)
    else
        out.ipvs, out.note = {}, "the new file has errors: nothing would be applied"
    end
    out.vips = review.vip_changes(old, new)
    out.monitors = monitors(r, plan or nil, new)
    if old then
        local later = conf.not_live(old, new)
        if #later > 0 then
            out.warnings[#out.warnings + 1] = ("%s changed, which takes a restart to apply; the running values stay")
                :format(table.concat(later, ", "))
        end
    end
    if new.backup_active and new.deadtime < 3 * new.keepalive then
        out.warnings[#out.warnings + 1] = ("deadtime %s is less than 3 keepalives (%s): a late heartbeat or two"
            .. " makes a takeover"):format(model.number(new.deadtime), model.number(3 * new.keepalive))
    end
    local_warnings(new, out.warnings)
    out.piranha_unreadable = review.piranha_unreadable(new)
    out.piranha_readable = #out.piranha_unreadable == 0
    return out
end

return review
