-- lua/luaha/routertable.lua: a router's IPVS table as the model and the health say: the whole table, or the blocks that changed.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
The methods of lua/luaha/router.lua that compute and apply the table (install puts them on the
router's methods; luaha-lua(7) documents them). Start, reload, ctl, reconcile and activation apply
the whole table (apply, program: lvs.desired over every block, diffed in C against the last
table); a health change applies only the blocks of the monitors that changed (changed,
apply_changes: ipvs.apply's partial option, the last table patched in place), so that at 37 000
real servers the first round of checks after a start costs what it adds, not 37 000 servers for
each loop turn that brings results.
]]
local luaha = require "luaha"
local lvs = require "luaha.lvs"

local ipvs = luaha.ipvs
local log = luaha.log.prefixed("lvs")

local routertable = {}

--[[
log_ops(ops, why): each operation on a line of its own, "ipvsadm <op> (<why>)", as before, but up
to 256 lines a message: a message reads the clock once (a system call in UML, where a cold start
logs 37 000 of these lines), and its lines are records of their own, with its time. In a task
the loop turns between messages: each line is still a write, about 0.3-0.5 ms in a busy UML, so
the 37 000 lines of a cold start would otherwise hold it for 10 s and more.
]]
local function log_ops(ops, why)
    local lines, n, total = {}, 0, #ops
    for i = 1, total do
        n = n + 1
        lines[n] = ("ipvsadm %s (%s)"):format(ops[i], why)
        if n == 256 or i == total then
            log.info("%s", table.concat(lines, "\n", 1, n))
            n = 0
            if i < total and luaha.current() and coroutine.isyieldable() then luaha.breathe() end
        end
    end
end
-- The methods, as router.lua calls them (self is the router).
local R = {}

--[[
apply(why, model, at, fresh): makes the kernel's table of this router's services what model and
the health (at: monitors by block) say, by default (nil) the running ones. The router's services
are those it programmed last (self.table) and those the model names: another program's services
stay as they are. The last table stands for the kernel's, saving a read of it, unless fresh.
Logs what it changed; returns the report, or nil and the kernel's reason. One at a time, each
computing the table when its turn comes: an update that waited must not apply the health of before.
]]
function R:apply(why, m, at, fresh)
    local _ <close> = self:table_turn()
    return self:apply_now(why, m, at, fresh)
end

--[[
apply_now(why, m, at, fresh): apply's work, by the task that has the table's turn. The whole
table is computed (lvs.desired over every block; with its cache, blocks whose weights did not
change cost a look at each real server's weight) and compared with the last one in C: at 37 000
real servers some tens of milliseconds of the loop, which start, reload, ctl, reconcile and
activation pay; a health change pays only for its blocks (apply_changes).
]]
function R:apply_now(why, m, at, fresh)
    -- The blocks changed until now are in this table; those changed meanwhile come after it.
    local dirty = self.dirty
    self.dirty = {}
    local weight_of = function(v, rs) return self:weight_of(v, rs, at) end
    local desired = lvs.desired(m or self.model, weight_of, self.desired)
    local report, err
    if self.table and not fresh then report, err = ipvs.apply(desired, { current = self.table }) end
    if not report then
        -- Read the kernel (someone may have changed it behind the last table: that attempt was undone).
        report, err = ipvs.apply(desired, { owned = self.table })
    end
    if not report then
        for v in pairs(dirty) do self.dirty[v] = true end
        log.err("ipvs (%s): %s", why, err)
        if self.anycast then self.anycast:failed(why) end
        return nil, err
    end
    self.table = report.table
    log_ops(report.ops, why)
    if self.anycast then self.anycast:applied(desired, why, m or self.model) end   -- judges its announcements
    return report
end

-- The position of each block of a model in its virtuals, so that a batch's services go in the model's order.
local positions = setmetatable({}, { __mode = "k" })
local function position(m, v)
    local at = positions[m]
    if not at then
        at = {}
        for i, b in ipairs(m.virtuals) do at[b] = i end
        positions[m] = at
    end
    return at[v] or math.huge
end

--[[
apply_changes(why): the blocks whose monitors changed since the last table (self.dirty, filled by
changed) applied as one batch, by the task that has the table's turn: their services computed
again (lvs.block) and applied with ipvs.apply's partial option against the last table, which is
patched in place. It costs what changed: a block of 16 real servers is some tens of microseconds
of Lua and a few operations, whatever the size of the table; the kernel's work for a batch of
at most 256 operations is one sendmsg, and a larger batch is sent in slices that yield, as any
apply. Blocks that are not the running model's (a reload replaced them) are left out. A batch the
kernel refuses is undone and the whole table applied from the kernel's (apply_now, fresh), so
that nothing is left half-applied. Without a last table, the whole table; with no block changed,
a report of no operations. Returns the report, or nil and why.
]]
function R:apply_changes(why)
    if not self.table then return self:apply_now(why) end
    if not next(self.dirty) then return { added = 0, changed = 0, removed = 0, ops = {}, table = self.table } end
    local m, dirty = self.model, self.dirty
    self.dirty = {}
    local at = self.probes.monitor_at
    local blocks = {}
    for v in pairs(dirty) do
        if at[v] and v.active then blocks[#blocks + 1] = v end
    end
    table.sort(blocks, function(a, b) return position(m, a) < position(m, b) end)
    local weight_of = function(v, rs) return self:weight_of(v, rs) end
    local services, work = {}, 0
    for i, v in ipairs(blocks) do
        services[i] = lvs.block(m, v, weight_of, self.desired)
        -- Every block may have changed at once (the first round of checks): a turn every 2000 servers.
        work = work + #v.servers
        if work >= 2000 then
            work = 0
            luaha.breathe()
        end
    end
    local report, err = ipvs.apply(services, { current = self.table, partial = true })
    if not report then
        log.warning("ipvs (%s): %s; applying the whole table from the kernel's", why, err)
        for v in pairs(dirty) do self.dirty[v] = true end
        return self:apply_now(why, nil, nil, true)
    end
    self.table = report.table
    log_ops(report.ops, why)
    if self.anycast then
        -- The blocks not in this batch are as the cache has them: no real server is asked its weight again.
        local changed = {}
        for _, v in ipairs(blocks) do changed[v] = true end
        self.anycast:applied(lvs.desired(m, weight_of, self.desired, changed), why, m)
    end
    return report
end

--[[
program(why): makes the kernel's table what the model and the health say, when this router keeps
one (keeps_table, judged when its turn comes); the report, or nil and why. A passive router without
a standby table programs nothing (a report of no operations): what ctl changed applies when it
becomes active.
]]
function R:program(why)
    local _ <close> = self:table_turn()
    if not self:keeps_table() then return { ops = {}, table = self.table } end
    return self:apply_now(why or "program")
end

--[[
changed(mon): a monitor's weight changed (probes call it). Changes in one turn of the loop are
applied together, by the router that keeps a table (keeps_table: the active one, and the passive
one with `standby_table`): the blocks of the changed monitors, not the whole table
(apply_changes); changes that come while a batch is with the kernel make the next one. Without
mon, the whole table is programmed. A policy may wrap it to follow health.
]]
function R:changed(mon)
    if mon then self:event("%s in virtual %s: %s", mon.name, mon.v.name, mon.state) end
    -- An anycast director programs the whole table at each change (paced by anycast_change_interval),
    -- as before the per-block path. That path was taken off anycast when tests/uml/anycast-flows.sh
    -- failed with it; the failure was later found in the test (a multipath route deleted at once, read
    -- as kept), so the per-block path may serve anycast too, once that scenario has passed with it.
    if mon and not self.anycast then
        self.dirty[mon.v] = true
    else
        self.whole = true
    end
    if self.pending or not self:keeps_table() then return end
    self.pending = true
    luaha.spawn(function()
        if self.anycast then self.anycast:pace() end     -- anycast_change_interval: changes meanwhile join this one
        self.pending = false
        local _ <close> = self:table_turn()
        if not self:keeps_table() then return end
        if self.whole then
            self.whole = false
            self:apply_now("health")
        elseif next(self.dirty) then
            self:apply_changes("health")
        end
    end)
end

-- install(methods): the methods above, on the router's methods table.
function routertable.install(methods)
    for name, f in pairs(R) do methods[name] = f end
end

return routertable
