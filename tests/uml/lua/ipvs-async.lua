-- tests/uml/lua/ipvs-async.lua: IPVS requests wait in their task (inside UML): a ticker runs, requests queue, cancel, block.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local ipvsadm = t.ipvsadm
local luaha = require "luaha"
local ipvs = luaha.ipvs

local function same_as_ipvsadm(what)
    local ours = assert(ipvs.format())
    local theirs = ipvsadm("-Ln")
    if ours ~= theirs then
        error(("%s: format() differs from ipvsadm -Ln\n--- ours\n%s--- ipvsadm\n%s"):format(what, ours, theirs), 2)
    end
end

-- A ticker every 5 ms: ticks() says how many times it ran since it began.
local function ticker()
    local n = 0
    local timer = luaha.every(0.005, function() n = n + 1 end)
    return function() return n end, function() timer:cancel() end
end

local function dest(i)
    return { address = ("203.0.113.%d"):format(i % 250 + 1), port = 1000 + i // 250, weight = 1 }
end

local svc = { protocol = "tcp", address = "192.0.2.80", port = 80, scheduler = "wrr" }

assert(ipvs.flush())

-- Before: each request blocked in a system call, so a loop of requests held the loop, and a
-- ticker, until it ended. Now each request waits in its task: the ticker runs throughout.
t.test("requests-in-a-loop-let-a-ticker-run", function()
    assert(ipvs.add_service(svc))
    local ticks, stop = ticker()
    local t0, n = luaha.now(), 0
    -- At least 1500 requests and 0.2 s, at most 20 000 requests.
    while n < 20000 and (n < 1500 or luaha.now() - t0 < 0.2) do
        n = n + 1
        assert(ipvs.add_dest(svc, dest(n)))
    end
    local during, took = ticks(), luaha.now() - t0
    stop()
    assert(during >= 5, ("%d requests in %.3f s: the ticker ran only %d times"):format(n, took, during))
    local list = assert(ipvs.services())
    t.eq(#list, 1, "services"); t.eq(#list[1].dests, n, "real servers")
    same_as_ipvsadm("after the loop")
    assert(ipvs.flush())
end)

-- Eight tasks add real servers at once: their requests queue on the one socket and take turns.
t.test("tasks-take-turns-on-the-socket", function()
    local first_done, last_done = {}, {}
    local tasks, done = {}, 0
    for k = 1, 8 do
        local s = { protocol = "tcp", address = "192.0.2.81", port = 1000 + k }
        assert(ipvs.add_service(s))
        tasks[k] = luaha.spawn(function()
            for i = 1, 200 do
                local ok, err = ipvs.add_dest(s, dest(i))
                if not ok then error(err) end
                done = done + 1
                if i == 1 then first_done[k] = done end
                if i == 200 then last_done[k] = done end
            end
            return true
        end)
    end
    for k = 1, 8 do assert(tasks[k]:join(60)) end
    -- Each task's first request was answered before any task's last: none ran alone.
    local latest_first, earliest_last = 0, math.huge
    for k = 1, 8 do
        latest_first = math.max(latest_first, first_done[k])
        earliest_last = math.min(earliest_last, last_done[k])
    end
    assert(latest_first < earliest_last, ("a task ran its 200 requests alone (%d, %d)"):format(latest_first, earliest_last))
    local list = assert(ipvs.services())
    local n = 0
    for _, s in ipairs(list) do n = n + #s.dests end
    t.eq(#list, 8, "services"); t.eq(n, 1600, "real servers")
    same_as_ipvsadm("after eight tasks")
end)

-- A cold load of 1000 services x 10 real servers: the ticker runs throughout; the table is whole.
t.test("cold-load-lets-a-ticker-run-and-is-whole", function()
    local desired = {}
    for i = 1, 1000 do
        local s = { protocol = "tcp", address = ("198.51.100.%d"):format(i % 200 + 1), port = 2000 + i, dests = {} }
        for j = 1, 10 do s.dests[j] = { address = ("203.0.113.%d"):format(j), port = 3000 + i, weight = j } end
        desired[i] = s
    end
    local before = #assert(ipvs.services())
    local ticks, stop = ticker()
    local t0 = luaha.now()
    local report = assert(ipvs.apply(desired, { exclusive = true }))    -- the whole table: those before go
    local during, took = ticks(), luaha.now() - t0
    stop()
    t.eq(report.added, 11000, "added"); t.eq(report.removed, before, "removed: the services before")
    -- The loop was free most of the time: at least a fifth of the ticks a free loop gives.
    assert(during >= took / 0.005 / 5, ("apply took %.3f s, the ticker ran %d times"):format(took, during))
    same_as_ipvsadm("after the cold load")
    t.eq(#assert(ipvs.apply(desired)).ops, 0, "applied again: nothing to do")
end)

-- A task cancelled while its dump is in flight, with another's request queued behind it: the
-- queued one is answered in full and the socket serves the next requests. Tasks start in the
-- order spawned, in one turn of the loop: a sends, b queues, c cancels a before its answer is read.
t.test("cancel-mid-request-leaves-the-socket-usable", function()
    for _ = 1, 10 do
        local a = luaha.spawn(function() return ipvs.list_services() end)
        local b = luaha.spawn(function() return ipvs.list_services() end)
        local c = luaha.spawn(function() return a:status(), a:cancel() end)
        local status, cancelled = c:join(10)
        t.eq(status, "waiting", "a when cancelled"); t.eq(cancelled, true, "a:cancel()")
        local list = assert(b:join(10))
        t.eq(#list, 1000, "the queued request's services")
        t.eq(select(2, a:join()), "cancelled", "the cancelled task")
        t.eq(assert(ipvs.info()).version, "1.2.1", "info after a cancel")
    end
    t.eq(#assert(ipvs.services()), 1000, "services after cancels")
    same_as_ipvsadm("after cancels")
end)

-- Where a task cannot yield, a request blocks; one of another task in flight is finished first.
t.test("outside-a-task-requests-block", function()
    local a = luaha.spawn(function() return ipvs.list_services() end)
    local b = luaha.spawn(function()
        return a:status(), coroutine.wrap(function() return ipvs.info() end)(), a:status()
    end)
    local before, info, after = b:join(10)
    t.eq(before, "waiting", "a before the blocking call"); t.eq(after, "ready", "a after it")
    t.eq(info.version, "1.2.1", "info in a plain coroutine")
    local to
    table.sort({ 2, 1 }, function(x, y) to = to or ipvs.timeouts() return x < y end)
    assert(to and to.tcp, "timeouts in a sort comparison")
    t.eq(#assert(a:join(10)), 1000, "the task's request, finished by the blocking call")
    local report = coroutine.wrap(function() return ipvs.apply({}, { exclusive = true }) end)()
    t.eq(report.removed, 1000, "apply in a plain coroutine removed every service")
    same_as_ipvsadm("after a blocking apply")
end)

assert(ipvs.flush())
luaha.exit(t.failures() == 0 and 0 or 1)
