-- tests/lua/tasks.lua: tasks, sleep, join, cancel, budgets, errors in tasks, timers and the clock.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"

print("EXPECT-TRACEBACK")     -- the error tests below log tracebacks on purpose

t.test("spawn-join-results", function()
    local task = luaha.spawn(function(a, b) luaha.sleep(0.01) return a + b, "sum" end, 2, 3)
    local sum, word = task:join()
    t.eq(sum, 5, "first result")
    t.eq(word, "sum", "second result")
    t.eq(task:status(), "done", "status")
    -- joining an ended task again gives the same results
    t.eq((task:join()), 5, "second join")
end)

t.test("tasks-interleave", function()
    local order = {}
    local a = luaha.spawn(function() for i = 1, 3 do order[#order + 1] = "a" .. i; luaha.sleep(0) end end)
    local b = luaha.spawn(function() for i = 1, 3 do order[#order + 1] = "b" .. i; luaha.sleep(0) end end)
    a:join(); b:join()
    t.eq(table.concat(order, " "), "a1 b1 a2 b2 a3 b3", "order")
end)

t.test("spawn-starts-later", function()
    local ran = false
    local task = luaha.spawn(function() ran = true end)
    t.eq(ran, false, "ran inside spawn")
    task:join()
    t.eq(ran, true, "ran after join")
end)

t.test("join-timeout", function()
    local task = luaha.spawn(function() luaha.sleep(5) end)
    local t0 = luaha.now()
    local r, err = task:join(0.05)
    t.eq(r, nil, "result")
    t.eq(err, "timeout", "error")
    assert(luaha.now() - t0 >= 0.05, "join returned early")
    assert(task:cancel(), "cancel of a sleeping task")
end)

t.test("cancel-closes-and-wakes-joiners", function()
    local closed = false
    local task = luaha.spawn(function()
        local guard <close> = setmetatable({}, { __close = function() closed = true end })
        luaha.sleep(10)
        t.eq(guard, nil, "not reached")
        error("not reached")
    end)
    local joiner = luaha.spawn(function() return task:join() end)
    luaha.sleep(0.01)
    t.eq(task:status(), "waiting", "status before cancel")
    t.eq(task:cancel(), true, "cancel")
    t.eq(closed, true, "to-be-closed variable closed")
    local r, err = joiner:join(1)
    t.eq(r, nil, "joiner result")
    t.eq(err, "cancelled", "joiner error")
    t.eq(task:cancel(), false, "second cancel")
    t.eq(task:status(), "cancelled", "status")
end)

t.test("cancel-self-raises", function()
    local task
    task = luaha.spawn(function() t.checkerr("cannot cancel itself", task.cancel, task) return "ok" end)
    t.eq(task:join(), "ok", "task survived")
end)

t.test("error-in-task-is-contained", function()
    local failing = luaha.spawn(function() luaha.sleep(0.01) error("expected failure") end)
    local ticks = 0
    local other = luaha.spawn(function() for _ = 1, 5 do ticks = ticks + 1; luaha.sleep(0.005) end return "alive" end)
    local r, err = failing:join()
    t.eq(r, nil, "failed result")
    assert(err:find("expected failure", 1, true), "error message: " .. tostring(err))
    t.eq(failing:status(), "failed", "status")
    t.eq(other:join(), "alive", "other task")
    t.eq(ticks, 5, "ticks")
end)

t.test("budget-stops-runaway-loop", function()
    local beats = 0
    local heart = luaha.spawn(function() for _ = 1, 20 do beats = beats + 1; luaha.sleep(0.001) end end)
    local old = luaha.set_budget(100000)
    local runaway = luaha.spawn(function()
        while true do pcall(function() for _ = 1, 1e9 do end end) end
    end)
    local r, err = runaway:join(5)
    luaha.set_budget(old)
    t.eq(r, nil, "runaway result")
    assert(err and err:find("budget of 100000 instructions", 1, true), "runaway error: " .. tostring(err))
    heart:join()
    t.eq(beats, 20, "heartbeats")
end)

t.test("budget-is-per-resume", function()
    local old = luaha.set_budget(100000)
    -- 10 slices of ~50000 instructions each, yielding between: never over budget
    local task = luaha.spawn(function()
        local x = 0
        for _ = 1, 10 do for i = 1, 12000 do x = x + i end luaha.sleep(0) end
        return x
    end)
    local r, err = task:join()
    luaha.set_budget(old)
    assert(r, "task failed: " .. tostring(err))
    t.checkerr("between 1000", luaha.set_budget, 10)
end)

t.test("sleep-and-clock", function()
    local t0, w0 = luaha.now(), luaha.time()
    luaha.sleep(0.02)
    local dt = luaha.now() - t0
    assert(dt >= 0.02, "slept only " .. dt)
    assert(math.abs(w0 - os.time()) < 2, "wall clock " .. w0)
    -- millisecond sleeps are honoured, not rounded to a coarse tick
    local t1 = luaha.now()
    for _ = 1, 10 do luaha.sleep(0.001) end
    assert(luaha.now() - t1 >= 0.01, "ten 1 ms sleeps took " .. (luaha.now() - t1))
    t.checkerr("negative", luaha.sleep, -1)
    t.checkerr("number expected", luaha.sleep, "x")
end)

-- A task that held the loop (a blocking call here, a long config elsewhere) and then waits briefly waits from
-- its call, not from when the loop's turn began: a 10 ms sleep, a breathe and a join after 1 s held took 1 s more.
t.test("wait-after-a-long-turn-is-not-late", function()
    local task = luaha.spawn(function()
        os.execute("sleep 1")
        local took = {}
        for _, wait in ipairs({ function() luaha.sleep(0.01) end, luaha.breathe,
                function() luaha.spawn(function() end):join(5) end }) do
            local t0 = luaha.now()
            wait()
            took[#took + 1] = luaha.now() - t0
        end
        return took
    end)
    local took = assert(task:join(30))
    for i, what in ipairs({ "a 10 ms sleep", "a breathe", "a join" }) do
        assert(took[i] < 0.5, ("%s after the loop was held 1 s took %.3f s"):format(what, took[i]))
    end
end)

t.test("park-and-unpark", function()
    local got = {}
    local w = luaha.spawn(function()
        got[1] = table.pack(luaha.park())
        local t0 = luaha.now()
        got[2] = table.pack(luaha.park(0.05))
        got.waited = luaha.now() - t0
        return "done"
    end)
    luaha.sleep(0.01)
    t.eq(w:unpark(1, nil, "x"), true, "unpark a parked task")
    t.eq(w:unpark(2), false, "unpark one not (yet) parked again")
    luaha.sleep(0.1)
    t.eq(got[1].n, 3, "values"); t.eq(got[1][1], 1, "first"); t.eq(got[1][3], "x", "third")
    t.eq(got[2].n, 0, "nothing after the timeout")
    assert(got.waited >= 0.05, "park timeout too short: " .. got.waited)
    t.eq(w:join(), "done", "ended")
    t.eq(w:unpark(3), false, "unpark an ended task")
    local s = luaha.spawn(function() luaha.sleep(1) end)
    luaha.sleep(0.01)
    t.eq(s:unpark(1), false, "a sleeping task is not parked")
    s:cancel()
    local p = luaha.spawn(function() luaha.park() end)
    luaha.sleep(0.01)
    t.eq(p:cancel(), true, "a parked task can be cancelled")
    t.checkerr("attempt to wait outside a task", coroutine.wrap(luaha.park))
end)

t.test("coroutine-yield-in-task-lets-others-run", function()
    local seen = {}
    local a = luaha.spawn(function() seen[#seen + 1] = "a1"; coroutine.yield(); seen[#seen + 1] = "a2" end)
    local b = luaha.spawn(function() seen[#seen + 1] = "b1" end)
    a:join(); b:join()
    t.eq(table.concat(seen, " "), "a1 b1 a2", "order")
end)

t.test("wait-outside-task-raises", function()
    local co = coroutine.create(function() luaha.sleep(0.01) end)
    local ok, err = coroutine.resume(co)
    t.eq(ok, false, "resume")
    assert(err:find("outside a task", 1, true), err)
end)

t.test("after-and-every", function()
    local fired = {}
    local a = luaha.after(0.01, function() fired[#fired + 1] = "after" end)
    local n = 0
    local e = luaha.every(0.005, function() n = n + 1 end)
    local c = luaha.after(0.01, function() fired[#fired + 1] = "cancelled" end)
    t.eq(c:cancel(), true, "cancel armed")
    luaha.sleep(0.06)
    t.eq(e:cancel(), true, "cancel every")
    t.eq(a:cancel(), false, "cancel fired after")
    t.eq(table.concat(fired, ","), "after", "fired")
    assert(n >= 3, "every ticked " .. n .. " times")
    luaha.sleep(0.01)       -- a tick spawned just before cancel may still run
    local m = n
    luaha.sleep(0.02)
    t.eq(n, m, "ticks after cancel")
    assert(tostring(e):find("closed"), tostring(e))
end)

t.test("every-skips-while-previous-runs", function()
    local running, max_running, runs = 0, 0, 0
    local e = luaha.every(0.005, function()
        running = running + 1; runs = runs + 1
        max_running = math.max(max_running, running)
        luaha.sleep(0.02)
        running = running - 1
    end)
    luaha.sleep(0.1)
    e:cancel()
    t.eq(max_running, 1, "overlapping runs")
    assert(runs >= 2, "runs " .. runs)
end)

t.test("current-and-name", function()
    local task = luaha.spawn(function()
        local me = luaha.current()
        me:name("worker")
        return tostring(me)
    end)
    t.eq(task:join(), "worker (running)", "tostring inside")
    t.eq(task:name(), "worker", "name")
    assert(tostring(luaha.current()):find("^main"), tostring(luaha.current()))
end)

luaha.exit(t.failures() == 0 and 0 or 1)
