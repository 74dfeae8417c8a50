-- lua/luaha/nanny.lua: one real server's health as Piranha's nanny kept it: checks, re-entry, quiesce, slow start.
--[[
A monitor is out (not in the IPVS table), in (at its working weight) or quiesced (in at weight
0, with `quiesce_server`). As in nanny (piranha.md 2.5): a server is brought in after `threshold`
good checks in a row, where threshold is `rise` or else reentry / interval, and counting starts at
the threshold, so a server whose first check passes comes in at once; it goes out after `fall`
failed checks in a row (nanny: one). With `weight_ramp`, it enters at max(1, weight / 32) and the
weight doubles every ~20 s of good checks up to the configured weight. Once there, with a
`load_monitor`, the same rounds read the server's 1-minute load (uptime through `rsh_command`,
rup or ruptime) and move the weight between the configured one and 10 times it, as nanny did.
]]
local luaha = require "luaha"
local check = require "luaha.check"
local rsh_command = require("luaha.lvscfmodel").globals.rsh_command

local log = luaha.log.prefixed("nanny")

local nanny = {}
local monitor = {}
monitor.__index = monitor

local RAMP_PERIOD = 20      -- seconds between weight doublings, as nanny's adjust rounds
local LOAD_SCALE = 10       -- an idle server may get up to this many times its weight

-- The commands that tell a real server's load, by load_monitor (piranha.md 2.5).
local load_commands = {
    uptime = function(rsh, address)
        local argv = {}
        for word in rsh:gmatch("%S+") do argv[#argv + 1] = word end
        argv[#argv + 1] = address
        argv[#argv + 1] = "uptime"
        return argv
    end,
    rup = function(_, address) return { "rup", address } end,
    ruptime = function(_, address) return { "ruptime", address } end,
}

--[[
The wall clock at monotonic time now, from an offset between the two clocks read at most once a
second: thousands of checks end every second, and where there is no vDSO (UML) each clock read
is a system call. After the wall clock is stepped, it is followed within a second.
]]
local wall_offset, wall_read = 0, -math.huge

local function wall_clock(now)
    if now - wall_read >= 1 or now < wall_read then
        wall_offset, wall_read = luaha.time() - now, now
    end
    return wall_offset + now
end

-- parse_load(text): the 1-minute load in uptime's, rup's or ruptime's output, read as nanny read it.
function nanny.parse_load(text)
    local at = text:find("load", 1, true)
    local colon = at and text:find(":", at, true)
    return colon and tonumber(text:sub(colon + 2):match("^[^,%s]+")) or nil
end

--[[
load_weight(W, w, L): the working weight w of a server configured at W, after a load of L:
an idle server is pushed up (at most LOAD_SCALE * W), a busy one back down (never below W).
]]
function nanny.load_weight(W, w, L)
    local new
    if L < 1 then
        new = math.min(LOAD_SCALE * W, w + (W / 2) * (1 - L) ^ (1 / 3))
    else
        new = math.max(W, w - (W / 2) * (L - 1) ^ (1 / 3))
    end
    return math.floor(new)
end

-- new(v, rs [, opts]): a monitor for real server rs of virtual block v (lvscf model), starting
-- out. opts.rsh_command is the global option of that name (default "rsh"), for load_monitor.
function nanny.new(v, rs, opts)
    local interval = v.check_interval or v.timeout
    local threshold = v.rise or math.max(1, v.reentry // interval)
    return setmetatable({
        v = v, rs = rs, interval = interval, threshold = threshold,
        count = threshold, failures = 0, state = "out", working = nil, since_ramp = 0,
        name = ("%s:%d"):format(rs.address, rs.port or v.port),
        ramp_every = math.max(1, RAMP_PERIOD // interval),
        rsh = opts and opts.rsh_command or rsh_command.default,
    }, monitor)
end

--[[
check_load(): in a load round, for a server in at (or above) its weight, reads its load and
moves the working weight when the change is at least a quarter of the weight. Returns true
when the weight changed. Waits (it runs a program, with the check timeout).
]]
function monitor:check_load()
    local make = load_commands[self.v.load_monitor]
    if not make or self.state ~= "in" or self.working < self.rs.weight or self.rs.weight == 0 then
        return false
    end
    local argv = make(self.rsh, self.rs.address)
    local r, err = luaha.proc.run(argv, { timeout = self.v.timeout })
    if not r or r.status ~= 0 then
        log.warning("%s: load_monitor %s: %s", self.name, self.v.load_monitor,
            err or (r.timed_out and "timeout") or r.stderr:match("[^\n]*"))
        return false
    end
    local load = nanny.parse_load(r.stdout)
    if not load or load < 0 or load == 1 then return false end
    local W = self.rs.weight
    local new = nanny.load_weight(W, self.working, load)
    if math.abs(new - self.working) < W / 4 then return false end
    self.working = new
    return true
end

-- weight(): the weight the table should have for this server: nil (out), 0 (quiesced) or more.
function monitor:weight()
    if self.state == "in" then return self.working end
    if self.state == "quiesced" then return 0 end
    return nil
end

-- adopt(prev): takes over the health of prev, a monitor of the same server from before a reload.
function monitor:adopt(prev)
    self.state, self.count, self.since_ramp = prev.state, prev.count, prev.since_ramp
    self.working = prev.working and math.min(prev.working, self.rs.weight)
    if self.state == "in" and not self.v.weight_ramp then self.working = self.rs.weight end
    if self.state == "quiesced" and not self.v.quiesce_server then self.state = "out" end
end

--[[
step(ok, reason): takes one check's result. Returns true when the weight the table should
have changed. Logs the transitions with nanny's texts, so existing log watchers still match.
]]
function monitor:step(ok, reason)
    local before = self:weight()
    self.checked = true
    if ok then
        self.failures = 0
        self.count = self.count + 1
        if self.state ~= "in" and self.count >= self.threshold then
            self.state = "in"
            self.working = self.v.weight_ramp and math.min(self.rs.weight, math.max(1, self.rs.weight >> 5))
                or self.rs.weight
            self.since_ramp = 0
            log.info("[ active ] making %s available (virtual %s)", self.name, self.v.name)
        elseif self.state == "in" and self.working < self.rs.weight then
            self.since_ramp = self.since_ramp + 1
            if not self.v.weight_ramp then
                self.working = self.rs.weight       -- a reload raised the weight
            elseif self.since_ramp >= self.ramp_every then
                self.since_ramp = 0
                self.working = math.min(self.rs.weight, math.max(1, self.working * 2))
            end
        end
    else
        self.count = 0
        self.failures = self.failures + 1
        if self.state == "in" and self.failures >= self.v.fall then
            self.state = self.v.quiesce_server and "quiesced" or "out"
            log.info("[inactive] shutting down %s due to connection failure (virtual %s: %s)",
                self.name, self.v.name, reason or "failed")
        end
    end
    return self:weight() ~= before
end

-- spec(): what check.run takes for this server.
function monitor:spec()
    local v = self.v
    return { address = self.rs.address, port = self.rs.port or v.port, protocol = v.protocol,
        send = v.send, expect = v.expect, use_regex = v.use_regex, send_program = v.send_program,
        half_open = v.half_open, timeout = v.timeout }
end

-- probe_key(): monitors with the same key run the very same check (same server, same dialogue, same period).
function monitor:probe_key()
    local sp = self:spec()
    return table.concat({ sp.protocol, sp.address, sp.port, tostring(sp.send), tostring(sp.expect),
        tostring(sp.use_regex), tostring(sp.send_program), tostring(sp.half_open), sp.timeout, self.interval }, "\0")
end

--[[
A probe: the monitors that share one probe_key, the check they share (prepared once; a bad one
makes every check raise), their `last` (one table that each check rewrites: thousands of checks
a second leave no garbage behind) and when the next check is due.
]]
local function new_probe(monitors, on_change)
    local first = monitors[1]
    local spec = first:spec()
    local timeout = spec.timeout
    local prepared, run = pcall(check.prepare, spec)
    if not prepared then
        local msg = run
        run = function() error(msg, 0) end
    end
    return { monitors = monitors, on_change = on_change, first = first, interval = first.interval,
        timeout = timeout, run = run, last = {}, started = luaha.now() }
end

--[[
check_once(probe): runs the probe's check once and gives every monitor its result, calling
on_change(monitor) when its weight changes. Returns when the next check is due (monotonic):
an interval after the check ended, or at once after a check that outlasted its timeout because
this process was stalled (not counted). A probe cancelled meanwhile takes no result. Waits.
]]
local function check_once(p)
    local first = p.first
    -- A check that raises is a failed check, logged with its traceback; the monitors go on.
    local pok, ok, err = xpcall(p.run, debug.traceback)
    if not pok then
        log.err("%s: check raised: %s", first.name, ok)
        ok, err = nil, "the check raised an error"
    end
    local finished = luaha.now()
    if p.cancelled then return finished end
    local took = finished - p.started
    if not ok and pok and took > p.timeout + 0.25 then
        -- Only a process that was stopped or starved sees a check outlast its timeout this much:
        -- the server is not to blame, and the check is run again at once.
        log.warning("%s: a check failed after %.1f s with a timeout of %g s: this process was stalled;"
            .. " not counted", first.name, took, p.timeout)
        p.started, p.rerun = finished, true
        return finished
    end
    p.rerun = false
    local last = p.last
    last.ok, last.reason, last.at, last.seconds = ok and true or false, not ok and err or nil, wall_clock(finished), took
    local settled = finished     -- when the wait for the next check begins: now, unless something may have waited
    for _, mon in ipairs(p.monitors) do
        mon.last = last
        local changed = mon:step(ok, err)
        if ok and mon.count % mon.ramp_every == 0 and mon:check_load() then changed = true end
        if changed then p.on_change(mon) end
        if changed or mon.v.load_monitor ~= "none" then settled = nil end
    end
    -- Clock reads are system calls in UML: the next check is taken to start when it was due (a
    -- timer wakes late by well under a millisecond, unless the process was stalled).
    p.started = (settled or luaha.now()) + p.interval
    return p.started
end

--[[
run_probe(monitors, on_change): checks forever for monitors that share one probe_key, every
interval after the end of the previous check: the check runs once and every monitor takes its
result, calling on_change(monitor) when its weight changes. Meant to be the body of a task; waits.
]]
function nanny.run_probe(monitors, on_change)
    local p = new_probe(monitors, on_change)
    while true do
        check_once(p)
        if not p.rerun then luaha.sleep(p.interval) end
    end
end

--[[
The probes of start_probe, by interval. A task per probe would cost each real server a coroutine
(about 2.4 KiB with its grown stack and events); instead each interval has a queue of probes in
the order they are due (a probe goes back at the end, due an interval after its check ended, so
the queue stays in order), a timekeeper task that hands the due ones to idle workers (parked
tasks) or starts a new worker, and workers that run one check at a time: a worker per check in
flight. A new probe is checked at once (it goes to the front), except that when a queue starts
more than SPREAD_OVER probes at once, their first checks are spread over the first interval (at
most a second), so that few run at once.
]]
local queues = {}
local SPREAD_OVER = 64      -- probes a queue checks at once at their start
local IDLE = 10             -- seconds an idle worker waits for work before it ends
local TICK = 0.01           -- a timekeeper hands out at once what is due within this (or 1% of
                            -- the interval, if less): it wakes at most 100 times a second

local work

-- The timekeeper of queue q: waits for the head to be due and hands it out; ends when q is empty.
local function keep_time(q)
    while true do
        local p = q.items[q.head]
        if not p then
            q.keeper = nil
            if q.count == 0 then        -- nothing left to check: the idle workers go now
                for i = #q.idle, 1, -1 do q.idle[i]:unpark(false) q.idle[i] = nil end
            end
            return
        end
        local wait = not p.cancelled and p.due - luaha.now()
        if wait and wait > q.tick then
            luaha.park(wait)            -- woken early when a probe goes to the front
        else
            q.items[q.head], q.head = nil, q.head + 1
            if not p.cancelled then
                local worker = table.remove(q.idle)
                while worker and not worker:unpark(p) do worker = table.remove(q.idle) end
                if not worker then luaha.spawn(work, q, p):name("nanny worker") end
            end
        end
    end
end

-- enqueue(q, p [, front]): p goes to the end of q (due last), or to its front (due now).
local function enqueue(q, p, front)
    if front then
        q.head = q.head - 1
        q.items[q.head] = p
    else
        q.tail = q.tail + 1
        q.items[q.tail] = p
    end
    if not q.keeper then
        q.keeper = luaha.spawn(keep_time, q)
        q.keeper:name(("nanny timekeeper (every %g s)"):format(q.interval))
    elseif front then
        q.keeper:unpark(true)
    end
end

local nworkers = 0

-- A worker of queue q: checks probe p, puts it back in the queue, and waits for the next one.
work = function(q, p)
    local me = luaha.current()
    nworkers = nworkers + 1
    local _ <close> = setmetatable({}, { __close = function() nworkers = nworkers - 1 end })
    while p do
        p.due = check_once(p)
        if not p.cancelled then enqueue(q, p) end
        q.idle[#q.idle + 1] = me
        p = luaha.park(IDLE)
        if not p then
            for i, w in ipairs(q.idle) do
                if w == me then table.remove(q.idle, i) break end
            end
        end
    end
end

-- workers(): how many worker tasks start_probe's queues have, idle or checking.
function nanny.workers() return nworkers end

-- What start_probe returns: a probe that answers as a task would (cancel, status, name).
local probe_handle = {}
probe_handle.__index = probe_handle

-- cancel(): no more checks; a check in flight gives its result to no monitor. False if done already.
function probe_handle:cancel()
    if self.cancelled then return false end
    self.cancelled = true
    self.queue.count = self.queue.count - 1
    return true
end

function probe_handle:status() return self.cancelled and "cancelled" or "waiting" end

function probe_handle:name(name)
    if name then self.label = name end
    return self.label or ("nanny " .. self.first.name)
end

--[[
probe = start_probe(monitors, on_change): checks for monitors that share one probe_key, as
run_probe does, without a task of their own (see the queues above). The probe answers cancel(),
status() and name() as a task does.
]]
function nanny.start_probe(monitors, on_change)
    local p = setmetatable(new_probe(monitors, on_change), probe_handle)
    local now = p.started
    local q = queues[p.interval]
    if not q then
        q = { interval = p.interval, items = {}, head = 1, tail = 0, idle = {}, count = 0, burst = 0, last = -1,
            tick = math.min(TICK, p.interval / 100) }
        queues[p.interval] = q
    end
    q.count, p.queue = q.count + 1, q
    -- Probes started less than 0.1 s apart are a burst (a start, a reload).
    if now - q.last > 0.1 then q.burst = 0 end
    q.burst, q.last = q.burst + 1, now
    if q.burst > SPREAD_OVER then
        -- Later ones closer together, never beyond the span: due times in the order of the queue.
        local k = q.burst - SPREAD_OVER
        local due = now + math.min(p.interval, 1) * k / (k + 1000)
        local tail = q.items[q.tail]
        if not tail or tail.due <= due then
            p.due, p.started = due, due
            enqueue(q, p)
            return p
        end
    end
    p.due = now
    enqueue(q, p, true)
    return p
end

-- run(on_change): run_probe for this monitor alone.
function monitor:run(on_change)
    return nanny.run_probe({ self }, on_change)
end

return nanny
