-- lua/luaha/probes.lua: when health checks run: a probe per distinct check, queues per interval, workers; kept across a reload.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
The one place that decides when each check runs and what becomes of its answer, as OpenBSD
relayd's hce.c: nanny.lua keeps one real server's monitor (what a result means: rise, fall,
quiesce, ramp, load) and check.lua the dialogues (knowing nothing of intervals).

A probe is the monitors that share one probe_key (the same server, dialogue and period: one
check serves every virtual block that asks for it). A task per probe would cost each real server
a coroutine (about 2.4 KiB with its grown stack and events); instead each interval has a queue of
probes in the order they are due (a probe goes back at the end, due an interval after its check
ended, so the queue stays in order), a timekeeper task that hands the due ones to idle workers
(parked tasks) or starts a new worker, and workers that run one check at a time: a worker per
check in flight. A new probe is checked at once (it goes to the front), except that when a queue
starts more than SPREAD_OVER probes at once, their first checks are spread over the first
interval (at most a second), so that few run at once. One turn of a timekeeper hands out what is
due within TICK: at 10 000 real servers checked every second that is about 100 probes, well
under a millisecond of the loop. The simple checks (a connect, a half-open SYN) skip all this:
they run in C (runtime/checker.c), and one task, the collector, gives their results to the
monitors, those of a turn of the loop together (about 100 at 10 000 servers every second).

probes.new(on_change) makes a set: the monitors of a model's active real servers, by virtual
block, and their probes. set:plan(model) makes the monitors (a reload keeps those of blocks the
parse cache found unchanged, and gives a new monitor of the same server the health of the old
one) without changing anything; set:commit(plan) makes them the running ones and stops the probes
that change; set:start() then starts the new probes, so that a reload's table is applied before
its new checks run.
]]
local luaha = require "luaha"
local nanny = require "luaha.nanny"
local check = require "luaha.check"

local log = luaha.log.prefixed("nanny")
local lvslog = luaha.log.prefixed("lvs")      -- Piranha's lvs said this one, not its nannies

local probes = {}

local SPREAD_OVER = 64      -- probes a queue checks at once at their start
local IDLE = 10             -- seconds an idle worker waits for work before it ends
local TICK = 0.01           -- a timekeeper hands out at once what is due within this (or 1% of
                            -- the interval, if less): it wakes at most 100 times a second

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

--[[
A probe: the monitors that share one probe_key, the check they share (prepared once; a bad one
makes every check raise), their `last` (one table that each check rewrites: thousands of checks
a second leave no garbage behind) and when the next check is due.
]]
local function new_probe(monitors, on_change)
    local first = monitors[1]
    local spec = first:spec()
    local prepared, run = pcall(check.prepare, spec)
    if not prepared then
        local msg = run
        run = function() error(msg, 0) end
    end
    return { monitors = monitors, on_change = on_change, first = first, interval = first.interval,
        timeout = spec.timeout, run = run, last = {}, started = luaha.now() }
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
        if ok and mon:good_checks() % mon.ramp_every == 0 and mon:check_load() then changed = true end
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
interval after the end of the previous check. Meant to be the body of a task of its own (a
policy checking a few servers its own way); waits.
]]
function probes.run_probe(monitors, on_change)
    local p = new_probe(monitors, on_change)
    while true do
        check_once(p)
        if not p.rerun then luaha.sleep(p.interval) end
    end
end

local queues = {}
local nworkers = 0
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

--[[
The simple checks (check.simple: a connect closed at once, a half-open SYN) of probes whose
monitors read no load run in C (luaha.core.checker): their sockets, times and retransmissions,
with no task, timer or event of their own. One task, the collector, takes the results of each
turn of the loop in one call and gives them to the monitors as check_once would: no coroutine
switch per check. A probe's next check is due an interval after its check was due (after a
failed one, an interval after it ended), so that checks started late do not gather into bursts.
]]
local checker = require "luaha.core.checker"
local engine, engine_err           -- made at the first simple probe; nil, err if it could not be
local by_id = {}                   -- the engine's probes, by target id
local collector                    -- the collector task, while the engine has targets
local bursts = {}                  -- by interval: the engine's probes started at once, and when

-- taken(p, result, reason, took, finished): probe p's result, as check_once takes it; false when not counted.
local function taken(p, result, reason, took, finished)
    if result == "stalled" then
        log.warning("%s: a check failed after %.1f s with a timeout of %g s: this process was stalled;"
            .. " not counted", p.first.name, took, p.timeout)
        return false
    end
    local last = p.last
    last.ok, last.reason, last.at, last.seconds = result, reason or nil, wall_clock(finished), took
    return true
end

-- step(p, from, to, result, reason): p's monitors from..to take its last result.
local function step(p, from, to, result, reason)
    local mons = p.monitors
    for k = from, to do
        local mon = mons[k]
        mon.last = p.last
        if mon:step(result, reason or nil) then p.on_change(mon) end
    end
end

--[[
The collector: takes the engine's results a turn at a time until it has no target left. A turn's
results go to their monitors in slices of SLICE monitors, with a turn of the loop between slices: a
probe serves every virtual that asks its check, and at a cold start of 37 000 real servers 1600
results made 37 000 monitors available in one turn (2.1 s of the loop in UML). Each slice's lines
(servers made available, shut down) go in few writes (log.gather). A result is for the probe that
had its id when it was taken: ids are reused, and a reload may replace probes between slices.
]]
local SLICE = 2048
local function collect()
    local ids, results, reasons, tooks, ps = {}, {}, {}, {}, {}
    repeat
        engine:wait()
        local n = engine:collect(ids, results, reasons, tooks)
        local finished = n > 0 and luaha.now()
        for i = 1, n do ps[i] = by_id[ids[i]] or false end
        local i, j = 1, 1           -- the result, and the first of its probe's monitors not stepped yet
        while i <= n do
            local steps = 0
            luaha.log.gather(function()
                while i <= n and steps < SLICE do
                    local p = ps[i]
                    if not (p and by_id[ids[i]] == p) or j == 1 and not taken(p, results[i], reasons[i], tooks[i], finished) then
                        i, j = i + 1, 1     -- a probe gone (maybe between slices), or a result not counted
                    else
                        local to = math.min(#p.monitors, j + SLICE - steps - 1)
                        local ok, err = xpcall(step, debug.traceback, p, j, to, results[i], reasons[i])
                        if not ok then log.err("%s: taking a result raised: %s", p.first.name, err) end
                        steps, j = steps + (to - j + 1), to + 1
                        if j > #p.monitors then i, j = i + 1, 1 end
                    end
                end
            end)
            if i <= n then luaha.breathe() end
        end
    until engine:stats() == 0
    collector = nil
end

-- The kind of check the engine runs for these monitors, or nil: theirs runs in a worker.
local function engine_kind(monitors, spec)
    for _, mon in ipairs(monitors) do
        local load = mon.v.load_monitor
        if load ~= nil and load ~= "none" then return nil end
    end
    local ok, kind = pcall(check.simple, spec)
    if not ok or not kind then return nil end
    if not engine and not engine_err then
        engine, engine_err = checker.new()
        if not engine then log.err("checks run in tasks: the checker: %s", engine_err) end
    end
    return engine and kind
end

-- workers(): how many tasks the checks run in: the queues' workers, idle or checking, and the collector.
function probes.workers() return nworkers + (collector and 1 or 0) end

-- What start_probe returns: a probe that answers as a task would (cancel, status, name).
local probe_handle = {}
probe_handle.__index = probe_handle

-- cancel(): no more checks; a check in flight gives its result to no monitor. False if done already.
function probe_handle:cancel()
    if self.cancelled then return false end
    self.cancelled = true
    if self.id then
        engine:remove(self.id)
        by_id[self.id] = nil
    else
        self.queue.count = self.queue.count - 1
    end
    return true
end

function probe_handle:status() return self.cancelled and "cancelled" or "waiting" end

function probe_handle:name(name)
    if name then self.label = name end
    return self.label or ("nanny " .. self.first.name)
end

--[[
probe = start_probe(monitors, on_change): checks for monitors that share one probe_key, as
run_probe does, without a task of their own (the queues above). The probe answers cancel(),
status() and name() as a task does.
]]
function probes.start_probe(monitors, on_change)
    local first = monitors[1]
    local spec = first:spec()
    local kind = engine_kind(monitors, spec)
    if kind then
        local p = setmetatable({ monitors = monitors, on_change = on_change, first = first,
            interval = first.interval, timeout = spec.timeout or check.default_timeout, last = {} }, probe_handle)
        local now, b = luaha.now(), bursts[p.interval]
        if not b or now - b.last > 0.1 then b = { n = 0 } bursts[p.interval] = b end
        b.n, b.last = b.n + 1, now
        -- Beyond the first SPREAD_OVER, the golden ratio's multiples spread the first checks evenly
        -- over the span, however many come: the checker keeps their phases from then on.
        local k = b.n - SPREAD_OVER
        local due = k > 0 and now + math.min(p.interval, 1) * (k * 0.6180339887498949 % 1) or now
        p.id = engine:add(kind, spec.address, spec.port, p.interval, p.timeout, due)
        by_id[p.id] = p
        if not collector then
            collector = luaha.spawn(collect)
            collector:name("nanny checker")
        end
        return p
    end
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

-- The set of a router's monitors and probes ------------------------------------------------

local S = {}
S.__index = S

--[[
pace(n): n steps of a plan or a start done (a monitor placed, made or compared); every PACE of them
the task lets the loop turn. A turn costs system calls (a clock read is one in UML, where each is
slow), so it is taken by the amount of work, not at every block: at 2300 blocks a turn for each was
most of a reload's plan in UML. 4096 steps of the cheapest kind (a kept monitor listed) are about a
millisecond on the host; a new monitor counts as 8.
]]
local PACE = 4096
local paced = 0
local function pace(n)
    paced = paced + n
    if paced >= PACE then
        paced = 0
        luaha.breathe()
    end
end

local function key(v, rs) return v.name .. "/" .. rs.name end

--[[
new(on_change): an empty set; on_change(monitor) is called when a monitor's weight changes.
Its fields, read by the router and its status: monitors (by "virtual/server"), monitor_at
(monitor_at[v][rs], found without making the name of each of tens of thousands of servers),
probes (by probe key) and handles (the running probes, by probe key).
]]
function probes.new(on_change)
    return setmetatable({ on_change = on_change, monitors = {}, monitor_at = {}, groups = {}, probes = {},
        handles = {} }, S)
end

--[[
keeps(pk, plan): the probe checking for pk, when it goes on: running, for the very same monitors.
plan.fresh[pk] is set when a monitor of pk was made by the plan; the others are of groups kept as
they were, which were all in the running lists: a list of as many of them as before is the same
set, found without comparing the lists of 37 000 monitors at each reload.
]]
function S:keeps(pk, plan)
    local h, old, new = self.handles[pk], self.probes[pk], plan.lists[pk]
    if h and old and new and not plan.fresh[pk] and #old == #new and h:status() ~= "cancelled" then return h end
    return nil
end

--[[
group(v, old, rsh, now): the monitors of virtual block v, a new one for each active real server,
made at wall-clock time now; one of before (in old, by name) for the same address and port gives it
its health. g.fresh lists the monitors that had none, to be logged when the plan is committed.
]]
local function group(v, old, rsh, now)
    local g = { v = v, at = {}, keys = {}, mons = {}, pks = {}, fresh = {} }
    local opts = { rsh_command = rsh, since = now }
    for _, rs in ipairs(v.servers) do
        if rs.active then
            local k = key(v, rs)
            local prev = old[k]
            local mon = nanny.new(v, rs, opts)
            if prev and prev.name == mon.name then
                mon:adopt(prev)
            else
                g.fresh[#g.fresh + 1] = mon
            end
            local n = #g.mons + 1
            g.at[rs], g.keys[n], g.mons[n], g.pks[n] = mon, k, mon, mon:probe_key()
        end
    end
    return g
end

--[[
plan(model): the monitors of the model's active real servers, by virtual block, without changing
anything yet: plan.monitor_at gives the health the new table is computed with. The monitors of a
block whose table is the one it had before (the parse cache gave it back unchanged) are kept as
they are, with the same rsh_command. commit(plan) makes it the running set.
]]
function S:plan(m)
    local old_groups, groups = self.groups, {}
    local keep = m.rsh_command == self.rsh
    local at, lists, order, fresh = {}, {}, {}, {}  -- monitors by probe: one check serves every virtual that asks it
    -- The monitors of a plan are made in one instant: the clock is read once (where there is no vDSO
    -- a read is a system call, 85 us in UML: 3 s for a reload that makes 37 000 monitors).
    local now = luaha.time()
    for _, v in ipairs(m.virtuals) do
        if v.active then
            local g = keep and old_groups[v]
            local made = not g
            if made then
                g = group(v, self.monitors, m.rsh_command, now)
                pace(8 * #g.mons)
            end
            groups[v], at[v] = g, g.at
            for i, mon in ipairs(g.mons) do
                local pk = g.pks[i]
                if made then fresh[pk] = true end
                local list = lists[pk]
                if not list then
                    list = {}
                    lists[pk], order[#order + 1] = list, pk
                end
                list[#list + 1] = mon
            end
            pace(#g.mons + 1)
        end
    end
    return { groups = groups, monitor_at = at, lists = lists, order = order, fresh = fresh, rsh = m.rsh_command }
end

--[[
commit(plan): the plan's monitors are the running ones. The table monitors is changed in place,
so a large reload costs what changed. The probes whose monitors change stop here, so that no
result reaches a monitor of before; start() starts the new ones.
]]
function S:commit(plan)
    luaha.log.gather(self.commit_now, self, plan)   -- a cold start's 37 000 "starting LVS client monitor" in few writes
end

-- commit_now(plan): commit's work.
function S:commit_now(plan)
    local old_groups, monitors, running = self.groups, self.monitors, {}
    for v, g in pairs(old_groups) do
        if #g.mons > 0 then running[v.name] = true end
        if plan.groups[v] ~= g then             -- the monitors of blocks gone or read again leave
            for i, k in ipairs(g.keys) do
                if monitors[k] == g.mons[i] then monitors[k] = nil end
            end
        end
    end
    for v, g in pairs(plan.groups) do
        if g ~= old_groups[v] then
            if not running[v.name] then lvslog.info("starting virtual service %s active: %d", v.name, v.port) end
            for i, mon in ipairs(g.mons) do monitors[g.keys[i]] = mon end
            for _, mon in ipairs(g.fresh) do
                log.info("starting LVS client monitor for %s:%d -> %s", v.address, v.port, mon.name)
            end
            g.fresh = {}
        end
    end
    self.groups, self.monitor_at, self.rsh = plan.groups, plan.monitor_at, plan.rsh
    self.next = plan
    for pk, h in pairs(self.handles) do
        if not self:keeps(pk, plan) then h:cancel() end
    end
end

-- update(model): plan and commit at once.
function S:update(m)
    self:commit(self:plan(m))
end

--[[
start(): a probe for each check of the monitors update made. A probe whose monitors are all the
ones it had goes on at its own pace; the others are replaced, and the new ones check at once (a
burst of thousands within the first second).
]]
function S:start()
    if not self.next then return end
    local plan, handles = self.next, {}
    local lists = plan.lists
    for _, pk in ipairs(plan.order) do
        local mons = lists[pk]
        local h = self:keeps(pk, plan)
        if h then
            mons = self.probes[pk]
        else
            h = probes.start_probe(mons, self.on_change)
        end
        handles[pk], lists[pk] = h, mons
    end
    for pk, h in pairs(self.handles) do
        if handles[pk] ~= h then h:cancel() end
    end
    self.handles, self.probes, self.next = handles, lists, nil
end

-- stop(): every probe stops; the monitors keep their last health.
function S:stop()
    for _, h in pairs(self.handles) do h:cancel() end
    self.handles, self.next = {}, nil
end

-- monitor(v, rs): the monitor of real server rs in virtual block v, or nil.
function S:monitor(v, rs)
    local at = self.monitor_at[v]
    return at and at[rs]
end

return probes
