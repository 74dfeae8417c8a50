-- tests/lua/proc.lua: luaha.proc.run: status, signal, output, stdin, env, timeouts that kill the group.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local proc = luaha.proc

t.test("status-and-output", function()
    local r = assert(proc.run({ "sh", "-c", "echo out; echo err >&2; exit 3" }))
    t.eq(r.status, 3, "status"); t.eq(r.signal, nil, "signal")
    t.eq(r.stdout, "out\n", "stdout"); t.eq(r.stderr, "err\n", "stderr")
    t.eq(r.timed_out, false, "timed_out")
end)

t.test("no-shell-argv-is-literal", function()
    local r = assert(proc.run({ "echo", "$HOME", "a b", ";", "ls" }))
    t.eq(r.stdout, "$HOME a b ; ls\n", "stdout")
end)

t.test("stdin-and-env", function()
    local r = assert(proc.run({ "cat" }, { stdin = "line 1\nline 2\n" }))
    t.eq(r.stdout, "line 1\nline 2\n", "cat")
    local big = string.rep("0123456789", 100000)     -- more than a pipe holds
    r = assert(proc.run({ "wc", "-c" }, { stdin = big }))
    t.eq(tonumber(r.stdout), #big, "wc -c")
    r = assert(proc.run({ "sh", "-c", 'echo "$LUAHA_A|${HOME-unset}|$PATH"' },
        { env = { LUAHA_A = "set", HOME = false } }))
    local a, home, path = r.stdout:match("^(.-)|(.-)|(.-)\n$")
    t.eq(a, "set", "added"); t.eq(home, "unset", "removed"); assert(#path > 0, "PATH inherited")
end)

t.test("killed-by-signal", function()
    local r = assert(proc.run({ "sh", "-c", "kill -TERM $$" }))
    t.eq(r.status, nil, "status"); t.eq(r.signal, 15, "signal")
end)

t.test("timeout-kills-the-whole-group", function()
    local t0 = luaha.now()
    local r = assert(proc.run({ "sh", "-c", "sleep 30 & echo $!; wait" }, { timeout = 0.2 }))
    local took = luaha.now() - t0
    t.eq(r.timed_out, true, "timed_out"); t.eq(r.signal, 9, "signal")
    assert(took >= 0.2 and took < 10, "took " .. took)
    local grandchild = tonumber(r.stdout)
    assert(grandchild, "grandchild pid in " .. r.stdout)
    luaha.sleep(0.05)
    -- killed, or a zombie waiting for init to reap it: either way not running
    local f = io.open("/proc/" .. grandchild .. "/stat")
    local state = f and f:read("a"):match("^%d+ %b() (%a)")
    if f then f:close() end
    assert(state == nil or state == "Z", "grandchild state " .. tostring(state))
end)

t.test("other-tasks-run-meanwhile", function()
    local ticks = 0
    local ticker = luaha.spawn(function() for _ = 1, 10 do ticks = ticks + 1; luaha.sleep(0.01) end end)
    local r = assert(proc.run({ "sleep", "0.3" }))
    t.eq(r.status, 0, "status")
    t.eq(ticks, 10, "ticks during the child")
    ticker:join()
    -- several children at once
    local tasks = {}
    for i = 1, 5 do tasks[i] = luaha.spawn(proc.run, { "sh", "-c", "sleep 0.1; echo " .. i }) end
    for i = 1, 5 do t.eq(tasks[i]:join(5).stdout, i .. "\n", "child " .. i) end
end)

-- running(pid): whether pid is a live process (a zombie has ended; its parent reaps it).
local function running(pid)
    local f = io.open("/proc/" .. pid .. "/stat")
    if not f then return false end
    local stat = f:read("a")
    f:close()
    return stat:match("^%d+ %b() (%a)") ~= "Z"
end

-- The child is known by the pid it writes, not by its name: other tests may run sleep 30 at the same time.
t.test("cancel-kills-the-child", function()
    local pidfile = os.tmpname()
    local task = luaha.spawn(proc.run, { "sh", "-c", 'echo $$ > "$0"; exec sleep 30', pidfile })
    local pid, cmd
    for _ = 1, 200 do                   -- up to 10 s for sh to start and become sleep
        local f = io.open(pidfile)
        pid = f and f:read("n")
        if f then f:close() end
        f = pid and io.open("/proc/" .. pid .. "/cmdline")
        cmd = f and f:read("a")
        if f then f:close() end
        if cmd == "sleep\0" .. "30\0" then break end
        luaha.sleep(0.05)
    end
    os.remove(pidfile)
    t.eq(cmd, "sleep\0" .. "30\0", "the child " .. tostring(pid))
    task:cancel()
    collectgarbage()
    for _ = 1, 100 do                   -- up to 5 s for the kill to take effect
        if not running(pid) then break end
        luaha.sleep(0.05)
    end
    t.eq(running(pid), false, "child " .. pid .. " left running")
end)

t.test("errors", function()
    local r, err = proc.run({ "/nonexistent/program" })
    t.eq(r, nil, "result"); t.eq(err, "run /nonexistent/program: No such file or directory", "err")
    t.checkerr("empty argv", proc.run, {})
    t.checkerr("argv[2] is not a string", proc.run, { "echo", 5 })
    t.checkerr("unknown option 'timeuot'", proc.run, { "true" }, { timeuot = 1 })
    t.checkerr("env values must be strings or false", proc.run, { "true" }, { env = { A = {} } })
    local co = coroutine.wrap(function() return pcall(proc.run, { "true" }) end)
    local ok, perr = co()
    t.eq(ok, false, "outside a task"); assert(perr:find("outside a task", 1, true), perr)
end)

luaha.exit(t.failures() == 0 and 0 or 1)
