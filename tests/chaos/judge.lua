-- tests/chaos/judge.lua: the chaos suite's judge: an HA pair's invariants, checked on the observers' and client's logs.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: luaha tests/chaos/judge.lua DIR NAME

DIR holds the logs of a run (tests/lib/chaos.bash):
  r1.vip r2.vip  the observers' lines (tests/chaos/observe.lua): T init|add|del|resync|stall ...
  client         the client's lines (tests/chaos/client.lua): START END OK|FAIL WHAT
  events         the runner's lines, T first (the same wall clock):
                   T config keepalive=K deadtime=D
                   T begin NAME KIND [VICTIM]   a fault starts (KIND below)
                   T cut NAME                   the fault is in effect (the tc or ip commands that make it
                                                take a while in UML): a takeover is timed from here
                   T dead NS / T alive NS       NS is a dead machine: what it holds does not count
                   T heal NAME                  the fault is undone (a partition healed, SIGCONT)
                   T end NAME [gap=G]           settled; G: the longest heartbeat gap the routers heard
The fault NAME is judged from the previous fault's end (or the start) to its own end. KIND:
  steady     the pair must not fail over: no VIP comes or goes. A change is excused only when the
             heartbeat link really delivered nothing for a deadtime (gap >= deadtime: a lossy
             fault only, "lossy" in KIND) or the machine stalled (observe.lua's stall lines)
  takeover   VICTIM dies (kill -9, its link cut): if it held the VIP, the other holds it within
             deadtime + 0.5 s, and holds it at the end; else nothing changes
  split      VICTIM is frozen or cut off both ways: the passive router holds the VIP within
             deadtime + 0.5 s, both may hold it until the heal, then the primary (r1) alone
  handover   the active router hands over (SIGTERM, ctl failover): not one request under way
             from the fault's start to 0.5 s after the VIP's last move fails, and the other router
             holds the VIP at the end. Excused and counted: a connection made through the leaving
             router before the VIP moved and reset after (the kernel's sync daemon sends what it
             has every 2 s, so the new router may not know a connection that young)
  oneway     the heartbeat is lost one way: both may hold the VIP for deadtime + one keepalive +
             MARGIN (the time it takes the primary to be sure that the active backup does not
             hear it, and to stand down), never longer
Everywhere: both routers hold the VIP at once for at most one keepalive + MARGIN (but from a
split's start to its heal, and as said in a one-way loss), nobody holds it for at most deadtime +
0.5 s, and one router holds it at the end. Every bound grows by the time the machine stalled in it (observe.lua). Prints
"PASS chaos-NAME: figures" or "FAIL chaos-NAME: why (figures)"; exits 1 on FAIL.
]]
local dir, name = arg[1], arg[2]
if not dir or not name then
    io.stderr:write("usage: judge.lua DIR NAME\n")
    os.exit(2)
end

local MARGIN = 0.3          -- seconds, beyond one keepalive, for both routers to see and end a conflict
local TAKEOVER = 0.5        -- seconds, beyond deadtime, for the passive router to hold the VIP
local ROUTERS = { "r1", "r2" }

local function lines(path)
    local f = io.open(path)
    if not f then return function() end end
    return f:lines()
end

local function words(line)
    local w = {}
    for x in line:gmatch("%S+") do w[#w + 1] = x end
    w[1] = tonumber(w[1])
    return w
end

-- The runner's events, and this fault's window.
local cfg, from, fault = {}, nil, nil
local dead = {}             -- ns -> array of {from, to}
for line in lines(dir .. "/events") do
    local w = words(line)
    if w[2] == "config" then
        for i = 3, #w do
            local k, v = w[i]:match("^(%w+)=(.*)$")
            cfg[k] = tonumber(v)
        end
        from = from or w[1]
    elseif w[2] == "end" and not fault then
        from = w[1]
    elseif w[2] == "begin" and w[3] == name then
        fault = { name = name, kind = w[4], victim = w[5], begin = w[1] }
    elseif w[2] == "heal" and fault and w[3] == name then
        fault.heal = w[1]
    elseif w[2] == "cut" and fault and w[3] == name then
        fault.cut = w[1]
    elseif w[2] == "end" and fault and w[3] == name then
        fault["end"] = w[1]
        fault.gap = tonumber((line:match("gap=(%S+)")))
    elseif w[2] == "dead" then
        dead[w[3]] = dead[w[3]] or {}
        table.insert(dead[w[3]], { w[1], math.huge })
    elseif w[2] == "alive" then
        local d = dead[w[3]]
        if d then d[#d][2] = w[1] end
    end
end
local fail_why = {}
local function fail(fmt, ...) fail_why[#fail_why + 1] = fmt:format(...) end
if not fault or not fault["end"] or not from or not cfg.keepalive then
    print(("FAIL chaos-%s: no begin, end or config in %s/events"):format(name, dir))
    os.exit(1)
end
local ka, dt = cfg.keepalive, cfg.deadtime
local b, e = fault.begin, fault["end"]
local cut = fault.cut or b

local function is_dead(ns, t)
    for _, d in ipairs(dead[ns] or {}) do
        if t >= d[1] and t < d[2] then return true end
    end
    return false
end

-- Each observer's changes, as {t, has}; and the machine's stalls, as {t, seconds} (the stall ended at t).
local changes, stalls = {}, {}
for _, ns in ipairs(ROUTERS) do
    changes[ns] = {}
    for line in lines(("%s/%s.vip"):format(dir, ns)) do
        local w = words(line)
        if w[2] == "init" or w[2] == "resync" then
            table.insert(changes[ns], { t = w[1], has = w[3] == "has", what = w[2] })
        elseif w[2] == "add" or w[2] == "del" then
            table.insert(changes[ns], { t = w[1], has = w[2] == "add", what = w[2] })
        elseif w[2] == "stall" then
            table.insert(stalls, { t = w[1], s = tonumber(w[3]) })
        end
    end
    if #changes[ns] == 0 then
        print(("FAIL chaos-%s: %s's observer wrote nothing"):format(name, ns))
        os.exit(1)
    end
end

-- stalled(t0, t1): the longest the machine stood still between t0 and t1 (both observers' view).
local function stalled(t0, t1)
    local s = 0
    for _, x in ipairs(stalls) do
        if x.t > t0 and x.t - x.s < t1 then s = math.max(s, x.s) end
    end
    return s
end

-- holds(ns, t): ns held the VIP at t, and was not a dead machine.
local function holds(ns, t)
    local has = false
    for _, c in ipairs(changes[ns]) do
        if c.t > t then break end
        has = c.has
    end
    return has and not is_dead(ns, t)
end

-- The window's moments where something may change, and the segments between them.
local marks = { from, e }
for _, ns in ipairs(ROUTERS) do
    for _, c in ipairs(changes[ns]) do
        if c.t > from and c.t < e then marks[#marks + 1] = c.t end
    end
    for _, d in ipairs(dead[ns] or {}) do
        for _, t in ipairs(d) do
            if t > from and t < e then marks[#marks + 1] = t end
        end
    end
end
table.sort(marks)

-- Episodes of both holding and of nobody holding: {from, to}.
local both, nobody = {}, {}
local function episode(list, t0, t1)
    local last = list[#list]
    if last and last[2] == t0 then last[2] = t1 else list[#list + 1] = { t0, t1 } end
end
for i = 1, #marks - 1 do
    local t0, t1 = marks[i], marks[i + 1]
    if t1 > t0 then
        local n = (holds("r1", t0) and 1 or 0) + (holds("r2", t0) and 1 or 0)
        if n == 2 then episode(both, t0, t1) elseif n == 0 then episode(nobody, t0, t1) end
    end
end

local function holder(t)
    local h1, h2 = holds("r1", t), holds("r2", t)
    if h1 and h2 then return "both" elseif h1 then return "r1" elseif h2 then return "r2" end
    return "nobody"
end
local before, after = holder(b - 1e-6), holder(e)
local figures = {}
local function figure(fmt, ...) figures[#figures + 1] = fmt:format(...) end

-- VIP changes inside the window, and the first add after a moment.
local function vip_changes(t0, t1)
    local list = {}
    for _, ns in ipairs(ROUTERS) do
        for _, c in ipairs(changes[ns]) do
            if c.t >= t0 and c.t <= t1 and c.what ~= "init" then
                list[#list + 1] = ("%s %s at %+.3f s"):format(ns, c.what, c.t - b)
            end
        end
    end
    return list
end
local function first_add(ns, t0)
    for _, c in ipairs(changes[ns]) do
        if c.t >= t0 and c.has then return c.t end
    end
end

-- Before the fault: the pair was settled, one router holding the VIP, nothing changing (unless the machine
-- stood still for long enough that the backup could not hear the primary: a stall is the host's, not luaha's).
local pre = vip_changes(from + 1e-6, b)
if #pre > 0 then
    local s = stalled(from - dt, b)
    if s >= dt - ka then
        figure("a move before the fault excused: the machine stalled %.3f s", s)
    else
        fail("the VIP moved before the fault, with the pair settled: %s", table.concat(pre, ", "))
    end
end
if before == "both" or before == "nobody" then fail("%s held the VIP when the fault began", before) end

local other = { r1 = "r2", r2 = "r1" }
local kind = fault.kind
if kind:find("^steady") then
    local moved = vip_changes(b, e)
    if #moved > 0 then
        local s = stalled(b, e)
        if kind:find("lossy") and fault.gap and fault.gap >= dt then
            figure("failover excused: the link delivered no heartbeat for %.3f s >= deadtime", fault.gap)
        elseif s >= dt - ka then
            figure("failover excused: the machine stalled %.3f s", s)
        else
            fail("a false failover: %s (longest heartbeat gap heard %s s, stall %.3f s)",
                table.concat(moved, ", "), fault.gap or "?", s)
        end
    end
    if after ~= before then fail("%s held the VIP before, %s at the end", before, after) end
elseif kind == "takeover" or kind == "split" then
    local victim = fault.victim
    local taker = kind == "takeover" and other[victim] or (before == victim and other[victim] or victim)
    if kind == "split" or before == victim then
        local limit = dt + TAKEOVER + stalled(cut, cut + dt + TAKEOVER + 5)
        local t = holds(taker, cut) and cut or first_add(taker, cut)
        if not t or t - cut > limit then
            fail("%s did not hold the VIP within %.3f s of %s's end (%s)", taker, limit, victim,
                t and ("%.3f s"):format(t - cut) or "never")
        else
            figure("%s held the VIP %.3f s after", taker, t - cut)
        end
        local want = kind == "split" and "r1" or taker
        if after ~= want then fail("%s held the VIP at the end, not %s", after, want) end
    elseif after ~= before then
        fail("%s held the VIP before %s (passive) died, %s at the end", before, victim, after)
    end
elseif kind == "handover" then
    if before ~= "both" and before ~= "nobody" and after ~= other[before] then
        fail("%s held the VIP before the handover, %s at the end", before, after)
    end
elseif kind ~= "oneway" then
    fail("unknown kind %s", kind)
end

-- Both holding: one keepalive + MARGIN at most, but from a split's start to its heal.
local longest_both = 0
for _, ep in ipairs(both) do
    local start = ep[1]
    if kind == "split" and start < (fault.heal or e) and ep[2] > b then start = math.max(start, fault.heal or e) end
    local d, limit = ep[2] - start, ka + MARGIN + stalled(ep[1], ep[2])
    if kind == "oneway" then limit = limit + dt end
    longest_both = math.max(longest_both, ep[2] - ep[1])
    if d > limit then
        fail("both routers held the VIP for %.3f s from %+.3f s (%s%.3f s allowed)", d, start - b,
            start ~= ep[1] and "after the heal; " or "", limit)
    end
end
figure("both held it %.3f s", longest_both)
-- Nobody holding: deadtime + 0.5 s at most.
local longest_nobody = 0
for _, ep in ipairs(nobody) do
    local d, limit = ep[2] - ep[1], dt + TAKEOVER + stalled(ep[1], ep[2])
    longest_nobody = math.max(longest_nobody, d)
    if d > limit then fail("nobody held the VIP for %.3f s from %+.3f s (%.3f s allowed)", d, ep[1] - b, limit) end
end
figure("nobody %.3f s", longest_nobody)
if after == "both" or after == "nobody" then fail("%s held the VIP at the end", after) end

-- The client: requests under way in the window (a connection the handover broke counts); in a handover, not
-- one may fail from its start to 0.5 s after the VIP's last move (later ones are the busy machine's).
local last_move
for _, ns in ipairs(ROUTERS) do
    for _, c in ipairs(changes[ns]) do
        if c.t >= b and c.t <= e and c.what ~= "init" then last_move = math.max(last_move or c.t, c.t) end
    end
end
local until_ = e
if kind == "handover" then
    if not last_move then fail("the VIP did not move") end
    until_ = (last_move or e) + 0.5 + stalled(b, e)
end
local n, failed, first_ok, slowest, young = 0, 0, nil, 0, 0
for line in lines(dir .. "/client") do
    local w = words(line)
    local start, stop = w[1], tonumber(w[2])
    if start and stop and stop >= b and start <= until_ then
        n = n + 1
        if w[3] == "OK" then
            if not first_ok and failed > 0 then first_ok = start end
            slowest = math.max(slowest, stop - start)
        elseif kind == "handover" and last_move and start < last_move and stop >= last_move
            and (w[4] or ""):find("reset", 1, true) then
            young = young + 1
        else
            failed = failed + 1
        end
    end
end
figure("%d of %d requests failed%s%s, the slowest good one took %.3f s", failed, n,
    young > 0 and (" (and %d connection(s) made before the move reset, excused)"):format(young) or "",
    first_ok and (", first good reply after a failure at %+.3f s"):format(first_ok - b) or "", slowest)
if kind == "handover" then
    if n < 10 then fail("the client made %d requests during the handover", n) end
    if failed > 0 then fail("a planned handover lost %d requests", failed) end
end
local s = stalled(from, e)
if s > 0 then figure("the machine stalled %.3f s", s) end

if #fail_why > 0 then
    print(("FAIL chaos-%s: %s (%s)"):format(name, table.concat(fail_why, "; "), table.concat(figures, ", ")))
    os.exit(1)
end
print(("PASS chaos-%s: %s"):format(name, table.concat(figures, ", ")))
