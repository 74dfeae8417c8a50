-- lua/luaha/pulsepart.lua: the heartbeat part: a process of its own that runs the pulse, holds the VIPs and announces them.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
A router runs in two processes (luaha-piranha(8), "What runs where"). This is the small one, started by
the work part (lua/luaha/pulseproxy.lua) with luaha.part.start("luaha.pulsepart"): it sends and
receives the heartbeats, decides when the partner is dead, and does the first steps of a
takeover itself, at once: the VIPs come up and gratuitous ARPs go out, whatever the work part
(health checks, IPVS, ctl, HTTP, reloads) is busy with. It runs at real-time priority with its
memory locked where the system allows it. Nothing here waits for the work part, but for one
thing: in a planned handover (the partner alive and leaving, holding the VIPs until it hears
this router active) the VIPs come up once the work part has programmed IPVS, deadtime / 2 at
most, so that no request reaches a VIP without its service.

Messages from the work part (tables, field op):
  config {role, channels, port, keepalive, deadtime, key, serial, digest, forceactive, vips,
         garp = {count, interval, refresh}, monitor_links, hard_shutdown, realtime, lock_memory,
         blocked, held}
                        the first message; the pulse starts, blocked and held as these say
  update {serial, digest, vips, garp, keepalive, deadtime, hard_shutdown}   a reload
  block {name, why}, hold {name, why}     pulse:block and pulse:hold (why nil: lifted)
  handover {id}, takeover {id, reason}    answered by reply {id, ok, err}
  status {id}           answered by reply {id, ok, status}
  reset_gap             forget the longest gap between two heartbeats heard (stats.max_gap)
  tick                  the work part turns: sent every TICK seconds
  stop {detach}         an orderly end (detach: leave the VIPs up, the router being alone); the
                        part answers stopped and exits
  activated {id}        the work part ran its hooks for the transition to active of that id
To the work part:
  transition {to = "active"|"passive", reason, id}   the work part runs its hooks (IPVS, commands)
  announce {reason}     the VIPs were announced again (split brain): the work part's hook
  status {status}       the pulse's status (pulse:status() and the VIPs held), on every change
                        and every STATUS_EVERY seconds
  reply {id, ok, err}, stopped, failed {err} (the part could not start; it exits)

The work part is late when no tick came for WORK_LATE seconds: the part then holds (does not
become active: the work part would not program IPVS) and its heartbeats say so; with
hard_shutdown = 1 an active router whose partner is passive also hands over to it (Piranha shut
down when a nanny died). When the work part's channel closes (it ended or crashed), the part
stops as for stop: with a partner it hands over and takes its VIPs down, alone it leaves them.
]]
local luaha = require "luaha"
local pulse = require "luaha.pulse"
local vips = require "luaha.vips"

local log = luaha.log.prefixed("pulse")

local pulsepart = {}

pulsepart.TICK = 0.25        -- seconds between two ticks of the work part
pulsepart.WORK_LATE = 10     -- seconds without a tick after which the work part is late
local STATUS_EVERY = 1       -- seconds between two status messages when nothing changed

-- The part's state: the channel to the work part, the configuration, the pulse, the VIPs held and their announcing.
local part = { vips = {}, garps = {}, opened = {} }

local function send(msg)
    local ok, err = part.parent:send(msg)
    if not ok and err ~= "closed" then log.warning("to the work part: %s", err) end
end

-- Gratuitous ARPs for the VIPs: a burst now, then one every garp.refresh seconds while active.
local function stop_announcing()
    for _, t in ipairs(part.garps) do t:cancel() end
    part.garps = {}
    if part.refresh then part.refresh:cancel() end
    part.refresh = nil
end

-- announce_burst(list, count): a burst for the VIPs of list; part.garps keeps the bursts still sending
-- (a refresh adds one every garp_refresh).
local function announce_burst(list, count)
    local live = {}
    for _, t in ipairs(part.garps) do
        local st = t:status()
        if st ~= "done" and st ~= "failed" and st ~= "cancelled" then live[#live + 1] = t end
    end
    for _, t in ipairs(vips.announce(list, count, part.cfg.garp.interval)) do live[#live + 1] = t end
    part.garps = live
end

local function burst(count)
    announce_burst(part.vips, count or part.cfg.garp.count)
end

local function start_announcing()
    stop_announcing()
    local g = part.cfg.garp
    if g.count > 0 then burst() end
    if g.refresh > 0 then part.refresh = luaha.every(g.refresh, function() burst(1) end) end
end

--[[
open_interfaces(list): opens the packet socket of each interface the VIPs of list are on, ahead of
a takeover: the first gratuitous ARP on an interface otherwise waits 5-15 ms (in UML) for it.
One interface a turn of the loop.
]]
local function open_interfaces(list)
    local seen = {}
    for _, a in ipairs(list) do
        if not seen[a.dev] and not part.opened[a.dev] then
            seen[a.dev] = true
            local ok, err = luaha.arp.open(a.dev)
            if ok then part.opened[a.dev] = true else log.notice("VIPs: %s (a gratuitous ARP will try again)", err) end
            luaha.breathe()
        end
    end
end

--[[
The pulse's hooks, run in its transition task. Activation tells the work part first (it starts
programming IPVS meanwhile), then brings the VIPs up and announces them; deactivation takes them
down first, then tells the work part (which removes the services behind them).
]]
local function activate(p, reason)
    part.activations = (part.activations or 0) + 1
    local id = part.activations
    send({ op = "transition", to = "active", reason = reason, id = id })
    if p.peer.state == "leaving" then
        local until_ = luaha.now() + p.deadtime / 2
        while part.work_activated ~= id and luaha.now() < until_ do luaha.sleep(0.002) end
        if part.work_activated ~= id then
            log.warning("the work part did not program IPVS within %g s: the VIPs come up now", p.deadtime / 2)
        end
    end
    part.vips = part.cfg.vips
    local ok, err = vips.take(part.vips)
    if not ok then log.err("VIPs: %s", err) end
    start_announcing()
end

local function deactivate(_, reason)
    stop_announcing()
    local ok, err = vips.down(part.cfg.vips)
    if not ok then log.err("VIPs: %s", err) end
    part.vips = {}
    send({ op = "transition", to = "passive", reason = reason })
end

local function announce(_, reason)
    burst()
    send({ op = "announce", reason = reason })
end

-- The status the work part shows, a plain table (it crosses the channel).
local function status()
    local st = part.pulse:status()
    st.vips = {}
    for _, a in ipairs(part.vips) do st.vips[#st.vips + 1] = a end
    st.work_heard = part.work_heard
    st.pid = luaha.daemon.getpid()
    st.scheduling, st.priority = luaha.daemon.scheduling()
    st.memory_locked = part.locked
    return st
end

-- on_change: one status message per turn of the loop, however many changes it saw.
local function changed()
    if part.push then return end
    part.push = luaha.after(0, function()
        part.push = nil
        send({ op = "status", status = status() })
    end)
end

--[[
VIPs a reload adds come up (and are announced) on an active router; those it drops go down. The
VIPs it keeps are not announced again (the network knows them; the refresh goes on), so that a
reload of a router holding hundreds of VIPs sends no more than it changes.
]]
local function key_of(a) return a.address .. " " .. a.dev .. " " .. a.prefix end

local function update(msg)
    local cfg, p = part.cfg, part.pulse
    local old, keep, gone, added = {}, {}, {}, {}
    for _, a in ipairs(cfg.vips) do old[key_of(a)] = a end
    for _, a in ipairs(msg.vips) do
        keep[key_of(a)] = true
        if not old[key_of(a)] then added[#added + 1] = a end
    end
    for k, a in pairs(old) do
        if not keep[k] then gone[#gone + 1] = a end
    end
    local g = cfg.garp
    local garp_changed = g.count ~= msg.garp.count or g.interval ~= msg.garp.interval or g.refresh ~= msg.garp.refresh
    cfg.vips, cfg.garp, cfg.hard_shutdown = msg.vips, msg.garp, msg.hard_shutdown
    p.serial, p.digest = msg.serial, msg.digest
    p:set_timers(msg.keepalive, msg.deadtime)
    luaha.spawn(open_interfaces, added):name("heartbeat part: opening interfaces")
    if p.want == "active" then
        vips.down(gone)
        part.vips = cfg.vips
        local ok, err = vips.up(part.vips)
        if not ok then log.err("VIPs: %s", err) end
        if garp_changed then
            start_announcing()
        elseif #added > 0 and cfg.garp.count > 0 then
            announce_burst(added, cfg.garp.count)
        end
    end
    changed()
end

--[[
Link monitoring (monitor_links, piranha.md 3.9): the interfaces holding this router's heartbeat
addresses and its VIPs; any of them down or without carrier blocks the active role.
]]
local function monitor_links()
    local link = luaha.link
    local own = {}
    for _, ch in ipairs(part.cfg.channels) do own[ch.address] = true end
    local devs = {}
    for _, a in ipairs(link.addrs() or {}) do
        if own[a.address:match("^[^/]+")] then devs[a.dev] = true end
    end
    for _, a in ipairs(part.cfg.vips) do devs[a.dev] = true end
    local was_down = false
    local function evaluate()
        local down = {}
        for _, l in ipairs(link.links() or {}) do
            if devs[l.name] and not (l.up and l.carrier) then down[#down + 1] = l.name end
        end
        table.sort(down)
        if #down > 0 and not was_down then
            log.warning("NIC link down: %s", table.concat(down, ", "))
            log.warning("Local NIC link failure: Pulse disabled")
            part.pulse:block("link", "local link failure")
        elseif #down == 0 and was_down then
            log.info("Local NIC link(s) restored: Pulse enabled")
            part.pulse:block("link", nil)
        end
        was_down = #down > 0
    end
    local watcher, err = link.watch(function(ev)
        if ev.type == "link" and devs[ev.name] then evaluate() end
    end)
    if not watcher then log.err("monitor_links: %s", err) end
    evaluate()
end

-- The work part's ticks: late after WORK_LATE seconds without one.
local function watch_work()
    local p = part.pulse
    while true do
        luaha.sleep(pulsepart.TICK)
        local late = luaha.now() - part.work_heard > pulsepart.WORK_LATE
        if late ~= (p.work_late or false) then
            p.work_late = late or nil
            if late then
                log.warning("the work part (health checks, IPVS) has not turned for %g s: not taking over%s",
                    pulsepart.WORK_LATE, part.cfg.hard_shutdown and ", and handing over if active" or "")
                p:hold("work", "the work part is late")
            else
                log.info("the work part turns again")
                p:hold("work", nil)
                p:block("work", nil)
            end
            p:send()
        end
        if late and part.cfg.hard_shutdown and p.want == "active" and p.peer.state == "passive" then
            p:block("work", "the work part is late (hard_shutdown = 1)")
        end
    end
end

-- stop(detach): an orderly end: with a partner it hands over; alone, with detach, the VIPs stay up.
local function stop(detach)
    local p = part.pulse
    if part.stopping then return end      -- a SIGTERM and the work part's stop may both come
    part.stopping = true
    if detach and #part.cfg.channels == 0 then
        stop_announcing()
        p:close()
    else
        p:stop()
    end
    send({ op = "stopped" })
    part.parent:close()
    luaha.exit(0)
end

local handlers = {
    update = update,
    block = function(msg) part.pulse:block(msg.name, msg.why) end,
    hold = function(msg) part.pulse:hold(msg.name, msg.why) end,
    tick = function() end,
    activated = function(msg) part.work_activated = msg.id end,
    handover = function(msg)
        luaha.spawn(function()
            local ok, err = part.pulse:handover()
            send({ op = "reply", id = msg.id, ok = ok, err = err })
        end)
    end,
    takeover = function(msg)
        local ok, err = part.pulse:takeover(msg.reason)
        send({ op = "reply", id = msg.id, ok = ok, err = err })
    end,
    stop = function(msg) stop(msg.detach) end,
    status = function(msg) send({ op = "reply", id = msg.id, ok = true, status = status() }) end,
    reset_gap = function()
        part.pulse.stats.max_gap = 0
        changed()
    end,
}

-- Real-time priority and locked memory, where the system allows: their refusal is logged, not fatal.
local function harden(cfg)
    if cfg.realtime and cfg.realtime > 0 then
        local ok, err = luaha.daemon.realtime(cfg.realtime)
        if not ok then log.notice("not at real-time priority %d: %s", cfg.realtime, err) end
    end
    if cfg.lock_memory then
        local ok, err = luaha.daemon.lock_memory()
        if not ok then log.notice("memory not locked: %s", err) end
        part.locked = ok or false
    end
end

function pulsepart.main()
    part.parent = assert(luaha.part.parent(), "luaha.pulsepart runs as a part of a daemon (luaha.part.start)")
    -- INT reaches the whole process group at a terminal: the work part decides, and tells us.
    luaha.on_signal("INT", function() end)
    luaha.on_signal("HUP", function() end)
    local cfg, err = part.parent:receive(60)
    if not cfg or cfg.op ~= "config" then
        log.err("heartbeat part: no configuration from the work part: %s", err or cfg.op)
        return luaha.exit(1)
    end
    part.cfg, part.work_heard = cfg, luaha.now()
    harden(cfg)
    part.pulse = pulse.new({
        role = cfg.role, channels = cfg.channels, port = cfg.port, keepalive = cfg.keepalive,
        deadtime = cfg.deadtime, key = cfg.key, serial = cfg.serial, digest = cfg.digest,
        forceactive = cfg.forceactive, activate = activate, deactivate = deactivate, announce = announce,
        on_change = changed,
    })
    for name, why in pairs(cfg.blocked or {}) do part.pulse.blocked[name] = why end
    for name, why in pairs(cfg.held or {}) do part.pulse.held[name] = why end
    local ok
    ok, err = part.pulse:start()
    if not ok then
        send({ op = "failed", err = err })
        part.parent:close()
        return luaha.exit(1)
    end
    -- The first message the work part reads says the part runs: nothing else can come before it,
    -- since the pulse's tasks (and its transitions) run only once this one waits, which it may do
    -- below (monitor_links asks the kernel for the links and their addresses).
    send({ op = "status", status = status() })
    luaha.on_signal("TERM", function() stop(true) end)
    luaha.spawn(open_interfaces, cfg.vips):name("heartbeat part: opening interfaces")
    if cfg.monitor_links and #cfg.channels > 0 then monitor_links() end
    luaha.spawn(watch_work):name("heartbeat part: the work part's ticks")
    luaha.every(STATUS_EVERY, changed)
    while true do
        local msg
        msg, err = part.parent:receive()
        if not msg then
            if err ~= "closed" then log.err("heartbeat part: %s", err) end
            log.warning("the work part is gone: %s", #cfg.channels > 0 and "handing over" or "leaving the VIPs as they are")
            return stop(true)
        end
        part.work_heard = luaha.now()
        local handler = type(msg) == "table" and handlers[msg.op]
        if handler then
            handler(msg)
        else
            log.err("heartbeat part: an unknown message from the work part: %s", tostring(type(msg) == "table" and msg.op))
        end
    end
end

return pulsepart
