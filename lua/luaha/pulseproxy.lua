-- lua/luaha/pulseproxy.lua: the work part's handle on the heartbeat part (lua/luaha/pulsepart.lua): start it, ask it, follow it.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
proxy.new(cfg, hooks) gives the work part an object with a pulse's face (status, block, hold,
handover, takeover, stop) whose pulse runs in the heartbeat part, a process of its own. cfg is
the heartbeat part's configuration message (pulsepart.lua lists its fields); hooks are the work
part's side of the transitions: activate(reason) and deactivate(reason) (run one at a time in a
task of their own, in the order the heartbeat part made them; they may wait) and announce(reason).

The heartbeat part never waits for the work part: by the time activate runs here, the VIPs are
coming up there. When the heartbeat part ends without being asked to (it crashed or was killed),
the work part takes the VIPs down itself (no heartbeat speaks for this router any more, and the
partner takes over), runs deactivate, and starts a new heartbeat part after RESTART seconds
(doubling up to RESTART_MAX while it keeps failing), with the blocks and holds it had.
]]
local luaha = require "luaha"
local vips = require "luaha.vips"
local pulsepart = require "luaha.pulsepart"

local log = luaha.log.prefixed("pulse")

local proxy = {}
local P = {}
P.__index = P

local RESTART, RESTART_MAX = 1, 30
local START_WAIT = 10        -- seconds the heartbeat part has to say it runs

function proxy.new(cfg, hooks)
    cfg.op, cfg.blocked, cfg.held = "config", cfg.blocked or {}, cfg.held or {}
    return setmetatable({ cfg = cfg, hooks = hooks, blocked = cfg.blocked, held = cfg.held, waiting = {}, next_id = 0,
        transitions = {}, last = { role = cfg.role, state = "starting", want = "passive",
        peer = { state = "unknown" }, stats = { sent = 0, received = 0, refused = {}, transitions = 0 }, transitions = {},
        vips = {} } }, P)
end

local function send(self, msg)
    if not self.part then return nil, "the heartbeat part is not running" end
    return self.part:send(msg)
end

-- The transitions the heartbeat part made, run one at a time by one task.
local function run_transitions(self)
    while #self.transitions > 0 do
        local t = table.remove(self.transitions, 1)
        local hook = self.hooks[t.to == "active" and "activate" or "deactivate"]
        self.work_state = t.to
        local ok, err = xpcall(hook, debug.traceback, t.reason)
        if not ok then log.err("%s: %s", t.to == "active" and "activate" or "deactivate", err) end
        if t.id then send(self, { op = "activated", id = t.id }) end
    end
    self.runner = nil
end

local function transition(self, to, reason, id)
    self.transitions[#self.transitions + 1] = { to = to, reason = reason, id = id }
    if not self.runner then
        self.runner = luaha.spawn(run_transitions, self)
        self.runner:name("router transition")
    end
end

local handlers = {
    transition = function(self, msg) transition(self, msg.to, msg.reason, msg.id) end,
    announce = function(self, msg)
        if not self.hooks.announce then return end
        luaha.spawn(function()
            local ok, err = xpcall(self.hooks.announce, debug.traceback, msg.reason)
            if not ok then log.err("announce: %s", err) end
        end)
    end,
    status = function(self, msg)
        self.last, self.heard = msg.status, luaha.now()
    end,
    reply = function(self, msg)
        local w = self.waiting[msg.id]
        if w then
            self.waiting[msg.id] = nil
            w.reply = msg
            w.task:unpark(true)
        end
    end,
    stopped = function(self) self.stopped = true end,
    failed = function(self, msg) self.failed = msg.err end,
}

-- The heartbeat part ended unasked: nobody speaks for this router; it must not hold the VIPs.
local function lost(self, why)
    log.err("the heartbeat part ended (%s): taking the VIPs down, starting it again in %g s", why, self.backoff)
    local ok, err = vips.down(self.cfg.vips)
    if not ok then log.err("VIPs: %s", err) end
    self.last.state, self.last.want, self.last.vips = "starting", "passive", {}
    if self.work_state == "active" then transition(self, "passive", "the heartbeat part ended") end
end

-- The task reading the heartbeat part's messages, and starting it again when it ends unasked.
local function follow(self)
    while self.part do
        local part = self.part
        local msg, err = part:receive()
        if msg then
            local h = type(msg) == "table" and handlers[msg.op]
            if h then h(self, msg) else log.err("an unknown message from the heartbeat part") end
        else
            self.part = nil
            local r = part:wait(1)
            if not r then
                part:kill(9)
                r = part:wait(1)
            end
            part:close()
            -- A part that said "stopped" had a SIGTERM, which a stop of the process group (systemd)
            -- gives this part too: its own stop comes within a moment, and must find the VIPs as they are.
            if self.stopped and not self.stopping then luaha.sleep(1) end
            if self.stopping then return end
            if luaha.now() - self.spawned_at > 60 then self.backoff = RESTART end   -- it had run fine
            lost(self, err ~= "closed" and err or not r and "it does not end" or r.status and
                ("exit status " .. r.status) or ("signal " .. tostring(r.signal)))
            luaha.sleep(self.backoff)
            self.backoff = math.min(self.backoff * 2, RESTART_MAX)
            local ok
            ok, err = self:spawn()
            if not ok then log.err("%s", err) end
            while not self.part and not self.stopping do   -- it keeps failing to start: try again later
                luaha.sleep(self.backoff)
                self.backoff = math.min(self.backoff * 2, RESTART_MAX)
                ok, err = self:spawn()
                if not ok then log.err("%s", err) end
            end
        end
    end
end

--[[
spawn(): starts the heartbeat part and gives it the configuration, with the blocks and the holds
in place before its pulse starts; waits until it says it runs (its first status) or failed.
Returns true or nil and why.
]]
function P:spawn()
    local part, err = luaha.part.start("luaha.pulsepart")
    if not part then return nil, "heartbeat part: " .. err end
    local ok
    ok, err = part:send(self.cfg)
    local msg = ok and part:receive(START_WAIT)
    if msg and msg.op == "status" then
        self.part, self.last, self.heard = part, msg.status, luaha.now()
        self.spawned_at = self.heard
        return true
    end
    if msg and msg.op == "failed" then
        err = msg.err
    elseif msg then
        err = ("its first message was %s, not its status"):format(type(msg) == "table" and msg.op or type(msg))
    end
    err = err or "it said nothing"
    part:kill(9)
    part:wait(1)
    part:close()
    return nil, "heartbeat part: " .. tostring(err)
end

-- start(): the heartbeat part runs, with a task following it. true, or nil and why.
function P:start()
    self.backoff = RESTART
    local ok, err = self:spawn()
    if not ok then return nil, err end
    self.follower = luaha.spawn(follow, self)
    self.follower:name("heartbeat part follower")
    self.ticker = luaha.every(pulsepart.TICK, function()
        if self.part then self.part:send({ op = "tick" }) end
    end)
    return true
end

--[[
status([fresh]): the heartbeat part's last status (a pulse's status, with the VIPs held and its
age in seconds); fresh: asked for now (waits, a second at most; the last one if no answer).
]]
function P:status(fresh)
    if fresh then
        local reply = self:ask({ op = "status" }, 1)
        if reply and reply.status then self.last, self.heard = reply.status, luaha.now() end
    end
    local st = self.last
    st.age = self.heard and luaha.now() - self.heard
    if st.peer and st.peer.heard_at then st.peer.heard = luaha.now() - st.peer.heard_at end
    return st
end

-- alive(within): whether the heartbeat part spoke in the last `within` seconds.
function P:alive(within)
    return self.part ~= nil and self.heard ~= nil and luaha.now() - self.heard <= within
end

function P:block(name, why)
    self.blocked[name] = why
    return send(self, { op = "block", name = name, why = why })
end

function P:hold(name, why)
    self.held[name] = why
    return send(self, { op = "hold", name = name, why = why })
end

-- update(fields): a reload's changes (pulsepart's update message).
function P:update(fields)
    for k, v in pairs(fields) do self.cfg[k] = v end
    fields.op = "update"
    return send(self, fields)
end

-- ask(msg, timeout): sends a request and waits for its reply message; nil and why without one.
function P:ask(msg, timeout)
    self.next_id = self.next_id + 1
    msg.id = self.next_id
    local ok, err = send(self, msg)
    if not ok then return nil, err end
    local w = { task = luaha.current() }
    self.waiting[msg.id] = w
    if not luaha.park(timeout) then
        self.waiting[msg.id] = nil
        return nil, "the heartbeat part did not answer"
    end
    return w.reply
end

local function answer(reply, err)
    if not reply then return nil, err end
    return reply.ok, reply.err
end

--[[
handover(): as pulse's: the partner takes over, this router stands down. Waits (deadtime, and
the deactivation, at most). true, or nil and why.
]]
function P:handover()
    return answer(self:ask({ op = "handover" }, self.cfg.deadtime + 12))
end

function P:takeover(reason)
    return answer(self:ask({ op = "takeover", reason = reason }, 5))
end

-- reset_gap(): the heartbeat part forgets the longest gap between two heartbeats it heard (stats.max_gap).
function P:reset_gap()
    return send(self, { op = "reset_gap" })
end

--[[
stop(detach): the heartbeat part's orderly end (with a partner: a handover; alone with detach:
the VIPs stay up), and the work part's transition it causes. Waits, at most timeout seconds
(default deadtime + 12).
]]
function P:stop(detach, timeout)
    local part = self.part
    if self.ticker then self.ticker:cancel() end
    self.stopping = true        -- also when the part is gone already: it is not started again
    if not part then return end
    local until_ = luaha.now() + (timeout or self.cfg.deadtime + 12)
    part:send({ op = "stop", detach = detach })
    -- The follower queues the transitions the stop makes, then sees the part end.
    while self.part and luaha.now() < until_ do luaha.sleep(0.005) end
    if self.part then
        log.warning("the heartbeat part did not stop in time: killing it")
        self.part:kill(9)
        until_ = luaha.now() + 2
        while self.part and luaha.now() < until_ do luaha.sleep(0.005) end
    end
    while self.runner and luaha.now() < until_ do luaha.sleep(0.005) end
end

return proxy
