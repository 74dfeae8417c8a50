-- tests/lua/part.lua: luaha.part: a child luaha running a module, messages both ways, its end seen by the parent.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"

local ECHO = "tests/lua/lib/part-echo.lua"

local function start()
    local p = assert(luaha.part.start(ECHO))
    local hello = assert(p:receive(10))
    assert(hello.hello, "the part's first message")
    return p
end

t.test("part-messages-keep-their-types", function()
    local p <close> = start()
    local value = { 1, 2.0, "a\0b", true, false, nested = { deep = { math.maxinteger, -0.5 } }, [10] = "ten" }
    assert(p:send({ op = "echo", value = value }))
    local got = assert(p:receive(10)).echo
    local same, where = t.same(got, value, "echo")
    assert(same, where)
    t.eq(math.type(got[2]), "float", "2.0 stays a float")
    t.eq(math.type(got.nested.deep[1]), "integer", "an integer stays one")
end)

t.test("part-refuses-values-that-cannot-cross", function()
    local p <close> = start()
    t.checkerr("message: a function value cannot be sent", p.send, p, print)
    t.checkerr("message: a table with a metatable", p.send, p, setmetatable({}, {}))
    local cycle = {}
    cycle.me = cycle
    t.checkerr("nested deeper", p.send, p, cycle)
    t.checkerr("value expected", p.send, p)
    -- the channel still works after a refusal
    assert(p:send({ op = "echo", value = "still" }))
    t.eq(assert(p:receive(10)).echo, "still", "after refusals")
end)

t.test("part-exit-is-seen-as-closed-and-its-status", function()
    local p = start()
    assert(p:send({ op = "exit", code = 3 }))
    local msg, err = p:receive(10)
    t.eq(msg, nil, "no message"); t.eq(err, "closed", "why")
    local r = assert(p:wait(10))
    t.eq(r.status, 3, "exit status")
    t.eq(p:pid(), nil, "no pid once reaped")
    p:close()
end)

t.test("part-sees-its-parent-close", function()
    local p = start()
    p:close()
    local r = assert(p:wait(10))
    t.eq(r.status, 0, "the part ends cleanly when its parent closes the channel")
    t.checkerr("closed part", p.send, p, 1)
end)

t.test("part-killed-is-seen-by-the-parent", function()
    local p = start()
    assert(p:kill(9))
    local _, err = p:receive(10)
    t.eq(err, "closed", "receive after the kill")
    t.eq(assert(p:wait(10)).signal, 9, "killed by signal 9")
    p:close()
end)

t.test("part-wait-times-out-while-it-runs", function()
    local p <close> = start()
    local r, err = p:wait(0.05)
    t.eq(r, nil, "still running"); t.eq(err, "timeout", "why")
    t.eq(p:reap(), false, "reap while it runs")
end)

-- A part busy for a while does not hold its parent: they are two processes.
t.test("part-busy-does-not-hold-the-parent", function()
    local p <close> = start()
    assert(p:send({ op = "spin", seconds = 0.5 }))
    local ticks, gap, last = 0, 0, luaha.now()
    local ticker = luaha.every(0.01, function()
        local now = luaha.now()
        gap, last, ticks = math.max(gap, now - last), now, ticks + 1
    end)
    assert(assert(p:receive(10)).spun)
    ticker:cancel()
    assert(ticks >= 10, "the parent ticked " .. ticks .. " times while the part spun")
    assert(gap < 0.4, ("the parent's loop stalled %.3f s while the part spun 0.5 s"):format(gap))
end)

-- The answer came by the deadline while another task held the loop past it: it is the answer, not a timeout.
t.test("part-answer-in-time-beats-a-late-loop", function()
    local p <close> = start()
    assert(p:send({ op = "echo", value = "in time" }))
    luaha.spawn(function()
        local until_ = os.clock() + 0.5
        while os.clock() < until_ do end        -- holds the loop; the echo arrives meanwhile
    end)
    local got, err = p:receive(0.2)
    t.eq(err, nil, "receive")
    t.eq(got and got.echo, "in time", "the echo")
end)

t.test("part-flood-arrives-whole-and-in-order", function()
    local p <close> = start()
    assert(p:send({ op = "flood", count = 2000, size = 1000 }))
    for i = 1, 2000 do
        local m = assert(p:receive(10))
        t.eq(m.i, i, "message order")
        t.eq(#m.pad, 1000, "message size")
    end
    t.eq(assert(p:receive(10)).flooded, 2000, "the end marker")
end)

t.test("part-start-failures", function()
    t.checkerr("not a module name", luaha.part.start, "-e")
    t.eq(luaha.part.parent(), nil, "a process not started as a part has no parent")
    -- a module that does not exist: the child fails at once (logging why) and its end says so
    print("EXPECT-TRACEBACK the part fails to load luaha.no_such_module")
    local p = assert(luaha.part.start("luaha.no_such_module"))
    local _, err = p:receive(10)
    t.eq(err, "closed", "the channel of a part that failed")
    t.eq(assert(p:wait(10)).status, 1, "the part's exit status")
    p:close()
end)

luaha.exit(t.failures() == 0 and 0 or 1)
