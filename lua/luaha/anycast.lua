-- lua/luaha/anycast.lua: an anycast director's announcer: its VIPs as blackhole routes for BGP, announced while served.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
With `cluster = anycast` (lvs.cf(5)) several identical directors run the same configuration with
no heartbeat partner, and a BGP speaker (BIRD, `luaha bgp-config`) exports the routes of
`bgp_table` with protocol `bgp_proto` to the upstream router, which spreads flows over the
directors by ECMP. A VIP is announced by adding `blackhole VIP/32` to that table, withdrawn by
deleting it (luaha.link.route_add, route_del with the protocol: another's routes stay).

A VIP is announced iff the IPVS table was applied, each active virtual on it has at least its
announce_min_healthy real servers at weight > 0 in the table applied, the director is not
draining, and the uplinks that monitor_links watches (the devices of the virtuals' addresses) are
up with a carrier. It is judged again after every apply (a reload's too) and link change.

At start the routes of bgp_table with protocol bgp_proto are adopted: those of VIPs still
configured stay (a crashed or restarted luaha left them, and the kernel kept forwarding), the
others are withdrawn. Health-driven changes of the IPVS table are at least
anycast_change_interval seconds apart (pace), so that every director moves its Maglev table in
few steps. The router (lua/luaha/router.lua) calls applied, pace, leave and stop; lvsctl and
lvshttp read status and service_status.
]]
local luaha = require "luaha"
local lvs = require "luaha.lvs"
local json = require "luaha.json"

local link = luaha.link
local log = luaha.log.prefixed("lvs")

local anycast = {}
local A = {}
A.__index = A

-- route(m, vip): the route that announces vip for model m, as route_add and route_del take it.
function anycast.route(m, vip)
    return { dst = ("%s/%d"):format(vip, vip:find(":", 1, true) and 128 or 32), type = "blackhole",
        table = m.bgp_table, protocol = m.bgp_proto }
end

function A:route(vip)
    return anycast.route(self, vip)
end

-- new(r): the announcer of router r (not started); r.model says cluster = anycast.
function anycast.new(r)
    local m = r.model
    return setmetatable({ r = r, bgp_table = m.bgp_table, bgp_proto = m.bgp_proto, announced = {}, healthy = {},
        applied_ok = false, draining = false, ready = false, down = {}, last_change = -math.huge }, A)
end

-- uplinks(m): the devices of the active virtuals' addresses, as a set ("eth0:1" is eth0).
local function uplinks(m)
    local set = {}
    for _, v in ipairs(m.virtuals) do
        if v.active and v.device then set[v.device:match("^[^:]+")] = true end
    end
    return set
end

--[[
start(): sloppy_tcp on, the routes adopted, the uplinks watched (monitor_links). Waits (netlink);
run in the router's start, before the table is first applied: judge waits for it (ready).
]]
function A:start()
    local ok, err = link.sysctl("net.ipv4.vs.sloppy_tcp", 1)
    if ok then
        log.info("anycast: net.ipv4.vs.sloppy_tcp = 1, so that a director takes up a flow another one began")
    else
        log.err("anycast: %s: a flow that moves to this director is reset", err)
    end
    local vips = self:configured()
    local routes, rerr = link.routes(self.bgp_table)
    if not routes then log.err("anycast: table %d: %s", self.bgp_table, rerr) end
    for _, rt in ipairs(routes or {}) do
        local vip = rt.dst:match("^(.-)/")
        if rt.protocol == self.bgp_proto and rt.type == "blackhole" and vip then
            if vips[vip] then
                self.announced[vip] = true
                log.info("anycast: adopted %s (announced by an earlier run)", vip)
            else
                self:withdraw(vip, "no longer configured")
            end
        end
    end
    if self.r.model.monitor_links then self:watch_links() end
    self.ready = true
    self:judge("start")
    return true
end

-- model_of(): the model judged: the one last applied, else the router's.
function A:model_of()
    return self.model or self.r.model
end

-- configured(): the VIPs of the active virtuals, as a set.
function A:configured()
    local set = {}
    for _, v in ipairs(self:model_of().virtuals) do
        if v.active then set[v.address] = true end
    end
    return set
end

-- watch_links(): the uplinks' state in self.down, judged again at each change.
function A:watch_links()
    local function evaluate()
        local links, err = link.links()
        if not links then return log.err("anycast: monitor_links: %s", err) end
        local devs, down, seen = uplinks(self.r.model), {}, {}
        for _, l in ipairs(links) do
            if devs[l.name] then
                seen[l.name] = true
                if not (l.up and l.carrier) then down[l.name] = true end
            end
        end
        for dev in pairs(devs) do
            if not seen[dev] then down[dev] = true end
        end
        self.down = down
        self:judge(next(down) and ("uplink " .. next(down) .. " down") or "uplinks up")
    end
    local watcher, err = link.watch(function(ev)
        if ev.type == "resync" or ev.type == "link" and uplinks(self.r.model)[ev.name] then evaluate() end
    end)
    if not watcher then log.err("anycast: monitor_links: %s", err) end
    self.watcher = watcher
    evaluate()
end

--[[
applied(desired, why, m): the router applied desired (lvs.desired's services of model m, one per
active virtual in its order); the real servers at weight > 0 are counted per virtual, and the VIPs
judged again in a task of their own (the caller holds the table's turn). m is the model judged
from then on: a reload applies its new model before it swaps it in, and nothing fails after that.
At 10 000 real servers the count is a walk of the list, about 1 ms.
]]
function A:applied(desired, why, m)
    local healthy, i = {}, 0
    for _, v in ipairs(m.virtuals) do
        if v.active then
            i = i + 1
            local n = 0
            for _, d in ipairs(desired[i] and desired[i].dests or {}) do
                if d.weight > 0 then n = n + 1 end
            end
            healthy[v] = n
        end
    end
    self.healthy, self.applied_ok, self.model = healthy, true, m
    self:judge(why)
end

--[[
failed(why): the table could not be applied, or the router was deactivated (its heartbeat part
ended unasked): nothing is announced until the table is applied again. The table itself stays.
]]
function A:failed(why)
    self.applied_ok = false
    self:judge(why)
    return true
end

--[[
wanted(): the set of VIPs to announce and, for each VIP not wanted, why. A VIP several virtuals
share needs each of them healthy enough. Until the table is first applied, the routes adopted
stay as they are (the kernel kept forwarding through the table a crashed run left), unless the
director drains or an uplink is down.
]]
function A:wanted()
    local want, why = {}, {}
    if self.model == nil and not self.draining and not next(self.down) then
        for vip in pairs(self.announced) do want[vip] = true end
        return want, why
    end
    for vip in pairs(self:configured()) do want[vip] = true end
    local function no(vip, reason)
        if want[vip] then want[vip], why[vip] = nil, reason end
    end
    for _, v in ipairs(self:model_of().virtuals) do
        if v.active then
            local n = self.healthy[v] or 0
            if self.draining then
                no(v.address, "draining")
            elseif next(self.down) then
                no(v.address, "uplink " .. next(self.down) .. " down")
            elseif not self.applied_ok then
                no(v.address, "the IPVS table is not applied")
            elseif n < v.announce_min_healthy then
                no(v.address, ("virtual %s: %d of %d real servers healthy"):format(v.name, n, v.announce_min_healthy))
            end
        end
    end
    return want, why
end

--[[
judge(reason): announces and withdraws what wanted() says, in a task (route changes wait for
the kernel); judgements asked for while one runs are made once more after it, with the last
reason.
]]
function A:judge(reason)
    if not self.ready then return end
    self.reason = reason
    if self.judging then
        self.again = true
        return
    end
    self.judging = true
    luaha.spawn(function()
        repeat
            self.again = false
            local want, why = self:wanted()
            for vip in pairs(self.announced) do
                if not want[vip] then self:withdraw(vip, why[vip] or "no longer configured") end
            end
            for vip in pairs(want) do
                if not self.announced[vip] then self:announce(vip, self.reason) end
            end
        until not self.again
        self.judging = false
    end):name("anycast: judge")
end

-- announce(vip, reason), withdraw(vip, reason): one route added or deleted, logged.
function A:announce(vip, reason)
    local ok, err = link.route_add(self:route(vip))
    if ok or err:match("File exists$") then
        self.announced[vip] = true
        log.info("anycast: announced %s (%s)", vip, reason)
        self.r:event("anycast: announced %s (%s)", vip, reason)
    else
        log.err("anycast: announce %s: %s", vip, err)
    end
end

function A:withdraw(vip, reason)
    local ok, err = link.route_del(self:route(vip))
    if ok or err:match("No such process$") then
        self.announced[vip] = nil
        log.info("anycast: withdrew %s (%s)", vip, reason)
        self.r:event("anycast: withdrew %s (%s)", vip, reason)
    else
        log.err("anycast: withdraw %s: %s", vip, err)
    end
end

--[[
pace(): waits until anycast_change_interval has passed since the last health-driven change of
the table, so that changes meanwhile are applied together; then counts this one. Waits.
]]
function A:pace()
    local interval = self.r.model.anycast_change_interval or 0
    local wait = self.last_change + interval - luaha.now()
    if wait > 0 then luaha.sleep(wait) end
    self.last_change = luaha.now()
end

--[[
leave(why): the director leaves gracefully: every VIP withdrawn, drain_time seconds for the
upstream router to send new flows elsewhere while this one's go on, then the router stops and
the program exits 0, leaving the IPVS table and the VIPs (a restart drops nothing). Waits; a
second call while one runs returns at once.
]]
function A:leave(why)
    if self.draining then return end
    self.draining = true
    -- The heartbeat part goes first, leaving the VIPs: its end must not read as a failure that
    -- takes them down (a SIGTERM to the process group reaches it too).
    if self.r.pulse then self.r.pulse:stop(true) end
    log.info("anycast: draining (%s): withdrawing every VIP, stopping in %g s", why, self.r.model.drain_time)
    self:judge("draining")
    while self.judging do luaha.sleep(0.005) end
    luaha.sleep(self.r.model.drain_time)
    log.info("anycast: drained; stopping, the IPVS table and the VIPs stay")
    self.r:stop()
    luaha.exit(0)
end

-- stop(): the link watcher ends; the routes stay (a restart adopts them).
function A:stop()
    if self.watcher then self.watcher:cancel() end
    self.watcher = nil
end

-- announced_list(): the announced VIPs, sorted.
function A:announced_list()
    local list = {}
    for vip in pairs(self.announced) do list[#list + 1] = vip end
    table.sort(list)
    return list
end

-- status(): the top-level `anycast` of the status document.
function A:status()
    return { table = self.bgp_table, protocol = self.bgp_proto, draining = self.draining,
        announced = json.array(self:announced_list()) }
end

--[[
digest(dests): 16 hexadecimal digits of a hash of the kernel's destination list in its order,
each "address:port up|down" (up: weight > 0), so that an operator sees directors whose tables
differ (their Maglev tables, and the real server each gives a flow, differ then).
]]
function anycast.digest(dests)
    local parts = {}
    for i, d in ipairs(dests) do
        parts[i] = ("%s:%d %s\n"):format(d.address, d.port, d.weight > 0 and "up" or "down")
    end
    local h = luaha.auth.hash(parts, 16)
    return luaha.auth.hex(h:sub(1, 8))
end

-- service_status(v, kernel): a service's `anycast` in the status document; kernel: its table from ipvs.services().
function A:service_status(v, kernel)
    return { announced = self.announced[v.address] == true, healthy = self.healthy[v] or 0,
        min_healthy = v.announce_min_healthy, digest = anycast.digest(kernel and kernel.dests or {}) }
end

anycast.order_of = lvs.order_of

return anycast
