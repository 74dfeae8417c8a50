-- lua/luaha/pulse.lua: two routers' heartbeat and the decision which of them is active, as Piranha's pulse made it.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
A pulse sends luaha heartbeats (lua/luaha/heartbeat.lua) to its peer every `keepalive` seconds
over each channel (a public and optionally a private address pair), and declares the peer dead
when no valid heartbeat arrived on any channel for `deadtime` seconds. Its decisions, with
Piranha's log texts (piranha.md 3.4), improved where the spec asks:

  - a passive router whose peer is dead activates ("partner dead: activating lvs");
  - a passive primary that hears a passive backup activates at once, and a passive backup that
    hears a passive primary waits for it (for `deadtime` at most): whatever the start order,
    the primary ends up active; a returning primary that hears an active backup stays passive
    (no automatic failback) unless started with forceactive;
  - a peer that is leaving (stopping, handing over, or whose link failed) is replaced at once;
  - when both are active, the backup stands down at the first heartbeat it hears and the
    primary re-announces its addresses (the `announce` hook, at most once per deadtime);
    but when the active backup has not heard the primary for a deadtime while the primary
    has heard it all along (heartbeats lost one way), the primary announces nothing, and if
    that lasts another deadtime it stands down: the backup, hearing nobody, stays active,
    and two routers holding the addresses would fight over them;
  - a blocked router (its link failed) stands down and tells its peer it is leaving;
  - a held router (a policy's condition is not met, its work part is late) does not become
    active, but one that is active stays so.

Each channel's socket is connected to the peer's address and port, so the kernel drops
datagrams from anywhere else before they are queued: a flood from a third address costs
nothing here. What comes from the peer's address is checked (its tag with heartbeat_key, its
counter) and a refusal is counted and logged at most once per LOG_EVERY seconds per reason.

A pulse starts in the state "starting": until it knows what it is to be, it leaves what a
previous run left behind as it is (so a restarted active router that becomes active again drops
nothing). The transitions are the hooks given to new(): activate(p, reason), deactivate(p, reason),
announce(p, reason). They run in a task of their own, one at a time; a hook may wait. A policy
wraps them to add conditions or work. The heartbeat tasks never wait for a hook.
]]
local luaha = require "luaha"
local heartbeat = require "luaha.heartbeat"
local globals = require("luaha.lvscfmodel").globals       -- the defaults of port, keepalive, deadtime

local log = luaha.log.prefixed("pulse")

local pulse = {}
local P = {}
P.__index = P

local hex = luaha.auth.hex

local LOG_EVERY = 10        -- seconds between two log lines about the same kind of refused packet
local HISTORY = 100         -- transitions kept in status.transitions
local RCVBUF = 65536        -- bytes a heartbeat socket queues: a burst, not a backlog of stale packets
local BATCH = 64            -- packets read in a row before the other tasks get a turn

--[[
new(opts): a pulse, not started. opts: role ("primary" | "backup"); channels, an array of
{address = own address, peer = peer's address} (empty: no peer, the router is alone); port;
keepalive; deadtime; key (32 bytes, or nil for unauthenticated heartbeats); serial; digest
(8 bytes); forceactive; activate, deactivate, announce (the hooks; each may be nil); on_change,
called (it must not wait) when the state, the wish, the peer's state, a block or a hold changes.
]]
function pulse.new(opts)
    assert(opts.role == "primary" or opts.role == "backup", "pulse: role is primary or backup")
    local p = setmetatable({
        role = opts.role, channels = opts.channels or {}, port = opts.port or globals.heartbeat_port.default,
        keepalive = opts.keepalive or globals.keepalive.default, deadtime = opts.deadtime or globals.deadtime.default,
        key = opts.key, serial = opts.serial or 0, digest = opts.digest or ("\0"):rep(8),
        forceactive = opts.forceactive,
        hooks = { activate = opts.activate, deactivate = opts.deactivate, announce = opts.announce },
        on_change = opts.on_change or function() end,
        state = "starting", want = "passive", counter = 0, blocked = {}, held = {}, tasks = {}, sockets = {},
        peer = { state = "unknown", counter = 0 },
        stats = { sent = 0, received = 0, refused = {}, send_errors = 0, max_gap = 0, transitions = 0 },
        transitions = {},
    }, P)
    p.warn_limited, p.logged = luaha.log.limiter(log, LOG_EVERY)
    return p
end

-- The state this router announces. A planned takeover (the peer leaving, and keeping its VIPs until
-- it hears this router active) is announced once the activation hooks have run.
function P:announced_state()
    if self.leaving or next(self.blocked) then return "leaving" end
    if self.want == "active" and self.state ~= "active" and self.peer.state == "leaving" then return "passive" end
    return self.want
end

-- send(): one heartbeat on every channel, now.
function P:send()
    -- old_counter is one sent at least deadtime ago: a peer that has not heard it does not hear us.
    local now = luaha.now()
    if not self.marked_at or now - self.marked_at >= self.deadtime then
        self.old_counter, self.marked_counter, self.marked_at = self.marked_counter, self.counter, now
    end
    for i, ch in ipairs(self.channels) do
        local sock = self.sockets[i]
        if sock then
            self.counter = math.max(self.counter + 1, math.floor(luaha.time() * 1e6))
            local packet = heartbeat.encode({ role = self.role, state = self:announced_state(), serial = self.serial,
                digest = self.digest, counter = self.counter, heard = self.peer.counter,
                takeover = self.taking and self.want == "active", work_late = self.work_late }, self.key)
            local ok, err = sock:send(packet)
            -- An ICMP port unreachable from an earlier packet (the peer restarting) is reported by
            -- this send, which then did not go out: it goes now.
            if not ok and err:find("refused", 1, true) then ok, err = sock:send(packet) end
            if ok then
                self.stats.sent = self.stats.sent + 1
            else
                self.stats.send_errors = self.stats.send_errors + 1
                self.warn_limited("send" .. i, "heartbeat to %s: %s", ch.peer, err)
            end
        end
    end
end

-- The kinds of refusal refuse() counts (heartbeat.decode's reasons, the version number left out), for /metrics.
pulse.REFUSALS = { "bad heartbeat packet", "incompatible version", "unauthenticated",
    "authenticated, but no heartbeat_key here", "forged", "replayed", "not from the partner" }

-- refuse(why, from): count and log (rate-limited) a heartbeat that is not taken, by kind of reason (not by version number).
function P:refuse(why, from)
    local kind = why:gsub(" %d+$", "")
    self.stats.refused[kind] = (self.stats.refused[kind] or 0) + 1
    self.warn_limited("refused " .. kind, "heartbeat from %s refused: %s", from, why)
end

--[[
set(want, reason): decide to be active or passive; the hooks run in the transition task. The
peer hears of an activation at once.
]]
function P:set(want, reason)
    if self.want == want then return end
    self.want, self.reason = want, reason
    log.info("%s", reason)
    if want == "active" then self:send() end
    self.on_change()
    self:drive()
end

-- drive(): run the hooks until the state is the one wanted, in one task.
function P:drive()
    if self.driver then return end
    self.driver = luaha.spawn(function()
        while self.state ~= self.want do
            local to, reason, started = self.want, self.reason, luaha.now()
            local hook = self.hooks[to == "active" and "activate" or "deactivate"]
            local ok, err = true, nil
            if hook then ok, err = xpcall(hook, debug.traceback, self, reason) end
            if not ok then log.err("%s: %s", to == "active" and "activate" or "deactivate", err) end
            self.state = to
            if to == "active" then self:send() end     -- a leaving peer waits for this word
            local t = { at = luaha.time(), to = to, reason = reason, seconds = luaha.now() - started, ok = ok }
            self.stats.transitions = self.stats.transitions + 1     -- the list below keeps the last HISTORY
            table.insert(self.transitions, t)
            if #self.transitions > HISTORY then table.remove(self.transitions, 1) end
            log.info("now %s (%s), in %.3f s", to, reason, t.seconds)
            self.on_change()
        end
        self.driver = nil
    end)
    self.driver:name("pulse transition")
end

-- announce(reason): the active primary tells the network again where its addresses are, at most once per deadtime.
function P:announce(reason)
    local now = luaha.now()
    if self.announced_at and now - self.announced_at < self.deadtime then return end
    self.announced_at = now
    log.info("%s", reason)
    if self.hooks.announce then
        luaha.spawn(function()
            local ok, err = xpcall(self.hooks.announce, debug.traceback, self, reason)
            if not ok then log.err("announce: %s", err) end
        end)
    end
end

-- consider(): activate when the peer's last word allows it.
function P:consider()
    if self.want ~= "passive" or next(self.blocked) or next(self.held) or self.leaving then return end
    local peer, other = self.peer, self.role == "primary" and "backup" or "primary"
    if peer.state == "dead" then
        self:set("active", "partner dead: activating lvs")
    elseif peer.state == "leaving" then
        self:set("active", other .. " leaving: activating lvs")
    elseif peer.state == "passive" then
        if self.role == "primary" then
            self:set("active", "backup inactive: activating lvs")
        elseif luaha.now() - peer.passive_since >= self.deadtime then
            self:set("active", "primary inactive: activating lvs")
        end
    end
end

-- receive(pkt, from): a valid heartbeat from the peer.
function P:receive(pkt, from)
    local peer, now = self.peer, luaha.now()
    if pkt.counter <= peer.counter then return self:refuse("replayed", from) end
    self.stats.received = self.stats.received + 1
    if peer.heard_at then self.stats.max_gap = math.max(self.stats.max_gap, now - peer.heard_at) end
    if pkt.state == "passive" and peer.state ~= "passive" then peer.passive_since = now end
    -- A new serial or digest changes the pair's "config differs" at once, not at the next periodic status.
    local changed = pkt.state ~= peer.state or pkt.work_late ~= peer.work_late or pkt.digest ~= peer.digest
        or pkt.serial ~= peer.serial
    if peer.state == "dead" or peer.state == "unknown" then peer.alive_since = now end
    peer.state, peer.role, peer.counter, peer.serial = pkt.state, pkt.role, pkt.counter, pkt.serial
    peer.digest = pkt.digest
    peer.work_late = pkt.work_late
    if pkt.work_late and changed then
        self.warn_limited("peer work", "partner %s says its work part (health checks, IPVS) is late", from)
    end
    peer.heard_at, peer.address = now, from
    self.deadline = now + self.deadtime
    if pkt.digest ~= self.digest then
        self.warn_limited("digest", "partner's configuration differs from ours (serial_no %d there, %d here)",
            pkt.serial, self.serial)
    end
    if pkt.role == self.role then
        self.warn_limited("role", "partner %s says it is %s too: check the primary and backup addresses",
            from, pkt.role)
    end
    if changed then self.on_change() end
    if self.leaving then return end        -- stopping: the peer's word is only awaited (stop)
    if pkt.state ~= "active" then self.taking = nil end       -- a takeover is done once the peer stood down
    local unheard = self.unheard      -- kept only while the active peer goes on not hearing us
    self.unheard = nil
    if unheard and pkt.state ~= "active" and self.want == "active" then
        self:announce("partner stood down: resending arps")       -- the announcing held back below
    end
    if pkt.state == "active" and pkt.takeover and self.want == "active" then
        self:set("passive", "PARTNER HAS TOLD US TO GO INACTIVE!")
    elseif pkt.state == "active" and self.want == "active" and self.taking then
        self:send()                             -- taking over: the peer must hear it, whoever is primary
    elseif pkt.state == "active" and self.want == "active" then
        if self.role == "backup" then
            self:send()
            self:set("passive", "partner active: deactivating LVS")
        else
            self:send()
            -- The active partner heard nothing we sent in the last deadtime (a counter is the wall clock
            -- in microseconds when it was sent), and we heard it all along: not a partition that heals.
            -- Either it was late reading (it reads what we sent, its word of what it heard moves on, and
            -- it stands down: we announce then) or heartbeats are lost one way and, hearing nobody, it
            -- will stay active. We hold back our announcing meanwhile; when, for a deadtime and three of
            -- its heartbeats, what it heard has not moved, the primary gives way rather than fight over
            -- the addresses with ARP for as long as the loss lasts (as Piranha's did).
            if pkt.heard > 0 and luaha.time() - pkt.heard / 1e6 >= self.deadtime
                and now - peer.alive_since >= self.deadtime then
                if not unheard or unheard.heard ~= pkt.heard then unheard = { since = now, heard = pkt.heard, n = 0 } end
                unheard.n = unheard.n + 1
                if now - unheard.since < self.deadtime or unheard.n < 3 then
                    self.unheard = unheard
                    return
                end
                log.warning("partner %s is active and does not hear us: heartbeats are lost one way", from)
                return self:set("passive", "partner active and does not hear us: deactivating LVS")
            end
            if self.old_counter and pkt.heard < self.old_counter then
                self.warn_limited("oneway", "partner %s is active and does not hear us: heartbeats are lost one way", from)
            end
            self:announce("partner active: resending arps")
        end
    else
        self:consider()
    end
    -- A router that has just started learns here that it is to be passive: what a previous run
    -- left behind (addresses, the table) is cleared by the deactivate hook.
    if self.state == "starting" and pkt.state == "active" and self.want == "passive" then
        self.reason = "partner active: staying passive"
        self:drive()
    end
end

--[[
listen(i): the task reading channel i's socket. Packets already queued are read without waiting,
BATCH at most in a row: then the other tasks (the timers that send and judge) get their turn.
]]
function P:listen(i)
    local sock, ch = self.sockets[i], self.channels[i]
    local run = 0
    while true do
        local data, from, port = sock:recvfrom()
        if data then
            if from ~= ch.peer or port ~= self.port then
                self:refuse("not from the partner", ("%s:%s"):format(from, port))
            else
                local pkt, why = heartbeat.decode(data, self.key)
                if pkt then self:receive(pkt, from) else self:refuse(why, from) end
            end
            run = run + 1
            if run >= BATCH then
                run = 0
                luaha.sleep(0)
            end
        elseif from:find("refused", 1, true) then
            -- An ICMP port unreachable for a packet we sent: the peer's port was closed for a
            -- moment (it restarts). Nothing to read from that; the next packet is.
            self.stats.unreachable = (self.stats.unreachable or 0) + 1
        else
            self.warn_limited("recv" .. i, "heartbeat channel %s: %s", ch.address, from)
            luaha.sleep(self.keepalive)
        end
    end
end

-- The dead timer: deadtime without a heartbeat makes the peer dead.
function P:watch()
    while true do
        local wait = self.deadline - luaha.now()
        if wait > 0 then
            self.rechecked = nil
            luaha.sleep(wait)
        elseif not self.rechecked then
            -- A heartbeat may be waiting in a socket whose turn in this round of the loop comes
            -- after the timer's: let it be read before the peer is found dead.
            self.rechecked = true
            luaha.sleep(0)
        else
            self.rechecked = nil
            if self.peer.state ~= "dead" then
                if self.peer.state ~= "unknown" then log.warning("no heartbeat from the partner for %g s", self.deadtime) end
                self.peer.state = "dead"
                self.on_change()
            end
            self:consider()
            self.deadline = luaha.now() + self.deadtime
        end
    end
end

--[[
start(): binds the channels (own address, port) and starts heartbeats and the dead timer.
Returns true, or nil and the error of a socket that cannot be made.
]]
function P:start()
    for i, ch in ipairs(self.channels) do
        local sock, err = luaha.net.udp(ch.address:find(":", 1, true) and "inet6" or "inet")
        if sock then
            local ok
            ok, err = sock:bind(ch.address, self.port)
            if ok then ok, err = sock:connect(ch.peer, self.port) end
            if ok then ok, err = sock:setoption("rcvbuf", RCVBUF) end
            if not ok then sock:close() sock = nil end
        end
        if not sock then
            self:close()
            return nil, ("heartbeat %s:%d: %s"):format(ch.address, self.port, err)
        end
        self.sockets[i] = sock
    end
    self.started_at = luaha.now()
    self.deadline = self.started_at + self.deadtime
    for i in ipairs(self.channels) do
        self.tasks[#self.tasks + 1] = luaha.spawn(P.listen, self, i)
    end
    if #self.channels == 0 then
        self:set("active", "no partner (backup_active = 0): activating lvs")
        return true
    end
    self.tasks[#self.tasks + 1] = luaha.spawn(P.watch, self)
    self.sender = luaha.every(self.keepalive, function() self:send() end)
    if self.forceactive then self:set("active", "Forced active on startup: activating lvs") end
    self:send()
    return true
end

-- block(name, why): a reason not to be active (e.g. "link"); with why nil, the reason is gone.
function P:block(name, why)
    if why then
        local first = not next(self.blocked)
        if self.blocked[name] ~= why then
            self.blocked[name] = why
            self.on_change()
        end
        if first then self:send() end
        if self.want == "active" then self:set("passive", why .. ": deactivating LVS") end
    elseif self.blocked[name] then
        self.blocked[name] = nil
        self.on_change()
        if not next(self.blocked) then
            -- What was heard before (or not heard, with the link down) is stale: the peer is
            -- given a new deadtime to be heard before it can be found dead.
            if self.peer.state == "dead" then self.peer.state = "unknown" end
            self.deadline = luaha.now() + self.deadtime
            self:send()
            self:consider()
        end
    end
end

--[[
hold(name, why): a reason not to become active (e.g. a policy's "too few healthy real servers");
unlike a block, an active router stays active and the peer hears nothing of it. With why nil,
the reason is gone and the router may activate again at once.
]]
function P:hold(name, why)
    if self.held[name] == why then return end
    self.held[name] = why
    self.on_change()
    if not why then self:consider() end
end

--[[
set_timers(keepalive, deadtime): new timers, from the next heartbeat on (a reload). The peer's
deadline is counted anew with the new deadtime from its last heartbeat.
]]
function P:set_timers(keepalive, deadtime)
    if keepalive == self.keepalive and deadtime == self.deadtime then return end
    self.keepalive, self.deadtime = keepalive, deadtime
    if self.peer.heard_at then self.deadline = self.peer.heard_at + deadtime end
    if self.sender then
        self.sender:cancel()
        self.sender = luaha.every(keepalive, function() self:send() end)
    end
    log.info("keepalive %g s, deadtime %g s", keepalive, deadtime)
end

-- close(): stops the tasks and closes the sockets, at once.
function P:close()
    if self.sender then self.sender:cancel() end
    self.sender = nil
    for _, t in ipairs(self.tasks) do t:cancel() end
    for _, s in pairs(self.sockets) do s:close() end
    self.tasks, self.sockets = {}, {}
end

--[[
leave(): tells the peer this router is leaving and waits until it is active, deadtime at most.
Returns whether the peer became active.
]]
function P:leave()
    self.leaving = true
    self:send()
    local until_ = luaha.now() + self.deadtime
    while self.peer.state ~= "active" and luaha.now() < until_ do luaha.sleep(0.002) end
    return self.peer.state == "active"
end

--[[
stop([timeout]): an orderly end: the peer is told at once that this router is leaving, so it
takes over now, not after deadtime; an active router keeps its role until it hears the peer
active (deadtime at most), so that no request finds nobody; then the active role is given up
and the peer told again. Waits for the deactivation, at most timeout seconds (default 10).
]]
function P:stop(timeout)
    if self.state == "active" and #self.channels > 0 then
        self:leave()
    else
        self.leaving = true
        self:send()
    end
    self.want, self.reason = "passive", "stopping"
    self:drive()
    if self.driver and self.driver ~= luaha.current() then self.driver:join(timeout or 10) end
    self:send()
    self:close()
end

--[[
takeover(reason): a passive router takes the service from an active partner that is failing it
(fos mode: its services do not answer): it becomes active and its heartbeats tell the partner to
stand down, whichever is the primary. Returns true, or nil and why not.
]]
function P:takeover(reason)
    if self.want == "active" then return nil, "this router is active already" end
    if next(self.blocked) or self.leaving then return nil, "this router is blocked" end
    self.taking = true
    self:set("active", reason)
    return true
end

--[[
handover(): gives the active role to the passive partner, cleanly: the partner hears this router
is leaving and takes over; once it is active this router stands down and stays passive. Waits.
Returns true, or nil and why not ("this router is not active", "no partner", "the partner is
dead", "the partner did not take over within deadtime").
]]
function P:handover()
    if self.want ~= "active" then return nil, "this router is not active" end
    if #self.channels == 0 then return nil, "no partner" end
    if self.peer.state ~= "passive" then return nil, "the partner is " .. self.peer.state end
    if not self:leave() then
        self.leaving = false
        self:send()
        return nil, "the partner did not take over within deadtime"
    end
    self:set("passive", "failover asked for: deactivating LVS")
    if self.driver then self.driver:join(10) end
    self.leaving = false
    self:send()
    return true
end

-- status(): the pulse's view, a table for people and programs (see luaha-lua(7)).
function P:status()
    local peer = self.peer
    return {
        role = self.role, state = self.state, want = self.want, blocked = next(self.blocked) and self.blocked or nil,
        held = next(self.held) and self.held or nil, work_late = self.work_late,
        keepalive = self.keepalive, deadtime = self.deadtime,
        peer = { state = peer.state, role = peer.role, address = peer.address, serial = peer.serial,
                 digest = peer.digest and hex(peer.digest),
                 heard = peer.heard_at and luaha.now() - peer.heard_at, heard_at = peer.heard_at,
                 work_late = peer.work_late },
        stats = self.stats, transitions = self.transitions,
    }
end

return pulse
