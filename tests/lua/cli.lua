-- tests/lua/cli.lua: the luaha command: arg, -e, exit statuses, errors in the main chunk, signals, logging.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"

local function luaha_e(code, opts)
    return t.run_luaha({ "-e", code }, opts)
end

t.test("arg-like-lua", function()
    local dir = os.tmpname()
    local f = assert(io.open(dir, "w"))
    f:write("print(arg[0], arg[1], arg[2], #arg, select('#', ...), ...)\n")
    f:close()
    local r = t.run_luaha({ dir, "one", "two" })
    os.remove(dir)
    t.eq(r.status, 0, "status")
    t.eq(r.stdout, dir .. "\tone\ttwo\t2\t2\tone\ttwo\n", "stdout")
end)

t.test("exit-codes", function()
    t.eq(luaha_e("require('luaha').exit(7)").status, 7, "luaha.exit(7)")
    t.eq(luaha_e("local l = require('luaha') l.spawn(function() l.sleep(0.05) l.exit(4) end) l.sleep(10)").status,
        4, "exit from another task")
    t.eq(luaha_e("x = 1").status, 0, "plain end")
    local r = luaha_e("local function f() error('bad thing') end f()")
    t.eq(r.status, 1, "error status")
    assert(r.stderr:find("bad thing", 1, true), r.stderr)
    assert(r.stderr:find("stack traceback:", 1, true), "no traceback: " .. r.stderr)
    r = luaha_e("syntax error here")
    t.eq(r.status, 1, "syntax error status")
    assert(r.stderr:find("^luaha: %(command line%):1:"), r.stderr)
    r = t.run_luaha({ "/nonexistent.lua" })
    t.eq(r.status, 1, "missing script"); assert(r.stderr:find("cannot open /nonexistent.lua", 1, true), r.stderr)
end)

t.test("ends-when-nothing-is-left", function()
    -- the main chunk ends first; the task and the timer keep the program alive until they are done
    local r = luaha_e([[
        local l = require('luaha')
        l.spawn(function() l.sleep(0.1) print('task') end)
        l.after(0.2, function() print('timer') end)
        print('main')]])
    t.eq(r.status, 0, "status")
    t.eq(r.stdout, "main\ntask\ntimer\n", "order")
    -- an error in another task is logged, the program goes on and exits 0
    r = luaha_e("local l = require('luaha') l.spawn(function() error('in task') end) l.sleep(0.05) print('after')")
    t.eq(r.status, 0, "status"); t.eq(r.stdout, "after\n", "stdout")
    assert(r.stderr:find("in task", 1, true), r.stderr)
end)

t.test("version-and-help", function()
    local r = t.run_luaha({ "-v" })
    t.eq(r.status, 0, "status"); assert(r.stdout:find("^luaha %d+%.%d+%.%d+ %(Lua 5%.4"), r.stdout)
    r = t.run_luaha({ "--version" }); t.eq(r.status, 0, "--version")
    r = t.run_luaha({ "-h" }); t.eq(r.status, 0, "-h"); assert(r.stdout:find("usage: luaha"), r.stdout)
    r = t.run_luaha({ "--bogus" }); t.eq(r.status, 2, "bad option"); t.eq(r.stdout, "", "bad option's stdout")
    assert(r.stderr:find("usage: luaha", 1, true), r.stderr)
end)

-- One convention everywhere (luaha(8), luaha-piranha(8) EXIT STATUS): 0 done, 1 failure, 2 usage; --help on
-- standard output with 0; --version; -t is --check.
t.test("exit-status-help-and-version-everywhere", function()
    local commands = { { "attach" }, { "ctl" }, { "piranha" }, { "realserver" }, { "policies/piranha.lua" },
        { "policies/realserver.lua" } }
    for _, c in ipairs(commands) do
        local what = table.concat(c, " ")
        for _, h in ipairs({ "-h", "--help" }) do
            local r = t.run_luaha({ c[1], h })
            t.eq(r.status, 0, what .. " " .. h); t.eq(r.stderr, "", what .. " " .. h .. " on stderr")
            assert(r.stdout:find("^usage: luaha " .. c[1]:gsub("^policies/", ""):gsub("%.lua$", "")), what .. ": " .. r.stdout)
        end
        local r = t.run_luaha({ c[1], "--version" })
        t.eq(r.status, 0, what .. " --version")
        assert(r.stdout:find("luaha %d+%.%d+%.%d+"), what .. " --version: " .. r.stdout)
        r = t.run_luaha({ c[1], "--bogus" })
        t.eq(r.status, 2, what .. " --bogus"); t.eq(r.stdout, "", what .. " --bogus on stdout")
        assert(r.stderr:find("usage: luaha", 1, true), what .. " --bogus: " .. r.stderr)
    end
    local r = t.run_luaha({ "ctl" })
    t.eq(r.status, 2, "ctl without a command")
    r = t.run_luaha({ "-e" })
    t.eq(r.status, 2, "-e without its code")
    -- failures are 1: no daemon to talk to, a configuration with errors
    r = t.run_luaha({ "ctl", "/nonexistent/x.sock", "status" }); t.eq(r.status, 1, "ctl without a daemon")
    r = t.run_luaha({ "attach", "/nonexistent/x.sock", "-e", "1" }); t.eq(r.status, 1, "attach without a daemon")
    r = t.run_luaha({ "piranha", "-t", "-c", "tests/lua/data/errors.cf" }); t.eq(r.status, 1, "piranha -t with errors")
    r = t.run_luaha({ "piranha", "-t", "-c", "tests/lua/data/seed.cf" })
    t.eq(r.status, 0, "piranha -t"); t.eq(r.stdout, "tests/lua/data/seed.cf: OK\n", "-t is --check")
    r = t.run_luaha({ "realserver", "--mode", "dr" }); t.eq(r.status, 2, "realserver without a VIP")
end)

t.test("signals-run-handlers-as-tasks", function()
    local r = luaha_e([[
        local l = require('luaha')
        local got = {}
        local h = l.on_signal("USR1", function(desc) got[#got + 1] = desc; l.sleep(0.01) end)
        local pid = io.open("/proc/self/stat"):read("n")
        l.proc.run({ "kill", "-USR1", tostring(pid) })
        l.sleep(0.1)
        h:cancel()
        print(#got, got[1])]])
    t.eq(r.status, 0, "status")
    t.eq(r.stdout, "1\tUser defined signal 1\n", "stdout")
end)

-- signalled(setup, sig): luaha -e setup in the background, sent sig once it printed "ready" (its handlers are in
-- place then: before, an INT is ignored, as in any background job of sh); sh's status line and luaha's output.
-- Unstopped, it would sleep far beyond proc.run's timeout.
local function signalled(setup, sig)
    local out = os.tmpname()
    local code = 'local l = require("luaha") ' .. setup .. ' print("ready") io.stdout:flush() l.sleep(600)'
    local r = assert(luaha.proc.run({ "sh", "-c", '"$0" -e "$1" > "$2" & pid=$!; i=0; ' ..
        'until grep -qx ready "$2" || [ $i -ge 400 ]; do sleep 0.05; i=$((i + 1)); done; ' ..
        'kill -"$3" $pid; wait $pid; echo $?', t.exe(), code, out, sig }, { timeout = 60 }))
    local f = assert(io.open(out))
    local text = f:read("a")
    f:close()
    os.remove(out)
    t.eq(r.timed_out, false, sig .. " timed out")
    return r.stdout, text
end

t.test("term-and-int-stop-cleanly", function()
    for _, sig in ipairs({ "TERM", "INT" }) do
        local status, out = signalled("", sig)
        t.eq(status, "0\n", sig .. " exit status")
        t.eq(out, "ready\n", sig .. " output")
    end
    -- with a handler, TERM runs it instead
    local status, out = signalled('l.on_signal("TERM", function() print("handled") l.exit(5) end)', "TERM")
    t.eq(status, "5\n", "handler's exit status")
    t.eq(out, "ready\nhandled\n", "handler")
    t.checkerr("not one of HUP", luaha.on_signal, "KILL", print)
end)

t.test("log-levels-and-format", function()
    local r = luaha_e([[
        local log = require('luaha').log
        log.debug('hidden %d', 1)
        log.info('shown %s', 'info')
        print(log.level('debug'))
        log.debug('now shown')
        log.warning('warn')
        log.err('bad')]])
    t.eq(r.stdout, "info\n", "previous level")
    local lines = {}
    for line in r.stderr:gmatch("[^\n]+") do lines[#lines + 1] = line end
    t.eq(#lines, 4, "lines: " .. r.stderr)
    assert(lines[1]:find("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d info: shown info$"), lines[1])
    assert(lines[2]:find(" debug: now shown$"), lines[2])
    assert(lines[3]:find(" warning: warn$"), lines[3])
    assert(lines[4]:find(" err: bad$"), lines[4])
    t.checkerr("not a log level", luaha.log.level, "loud")
end)

t.test("ctl-path-removes-only-a-stale-socket", function()
    local dir = os.tmpname()
    os.remove(dir)
    t.eq(luaha.proc.run({ "mkdir", "-m", "0700", dir }).status, 0, "mkdir")
    local function ctl_at(path, code)
        return t.run_luaha({ "--ctl", path, "-e", code or "require('luaha').exit(0)" }, { timeout = 20 })
    end
    local function refused(path, why)
        local r = ctl_at(path, "print('ran') require('luaha').exit(0)")
        t.eq(r.status, 1, path .. ": status")
        t.eq(r.stdout, "", path .. ": the script ran")
        t.eq(r.stderr, ("luaha: ctl %s: %s\n"):format(path, why), path .. ": the error")
    end
    local notsock = "something that is not a socket is there; it is left alone"
    -- a regular file, a directory and symbolic links stay as they are
    local file = dir .. "/file"
    local f = assert(io.open(file, "w")); f:write("keep\n"); f:close()
    refused(file, notsock)
    f = assert(io.open(file)); t.eq(f:read("a"), "keep\n", "the file's content"); f:close()
    t.eq(luaha.proc.run({ "mkdir", dir .. "/empty" }).status, 0, "mkdir empty")
    refused(dir .. "/empty", notsock)
    t.eq(luaha.proc.run({ "test", "-d", dir .. "/empty" }).status, 0, "the empty directory is still there")
    t.eq(luaha.proc.run({ "ln", "-s", file, dir .. "/link" }).status, 0, "ln -s")
    refused(dir .. "/link", notsock)
    t.eq(luaha.proc.run({ "test", "-L", dir .. "/link" }).status, 0, "the link is still there")
    -- a live daemon's socket stays, and the daemon goes on answering
    local live = dir .. "/live.sock"
    local daemon = luaha.spawn(ctl_at, live, "require('luaha').sleep(30) require('luaha').exit(0)")
    for _ = 1, 100 do
        if luaha.proc.run({ "test", "-S", live }).status == 0 then break end
        luaha.sleep(0.1)
    end
    refused(live, "in use by a running daemon")
    local r = t.run_luaha({ "attach", live, "-e", "'still here'" })
    t.eq(r.stdout, "still here\n", "the live daemon answers")
    t.run_luaha({ "attach", live, "-e", "require('luaha').exit(0)" })
    t.eq(daemon:join(20).status, 0, "the live daemon's status")
    -- a socket nobody answers on is replaced; at the end the daemon removes its own socket
    local stale = dir .. "/stale.sock"
    local old = assert(luaha.net.listen_unix(stale .. ".old", function() end))
    assert(os.rename(stale .. ".old", stale))
    old:close()
    r = ctl_at(stale, "print(require('luaha.ctl').path) require('luaha').exit(0)")
    t.eq(r.status, 0, "stale socket: status " .. r.stderr)
    t.eq(r.stdout, stale .. "\n", "stale socket: listening")
    t.eq(luaha.proc.run({ "test", "-e", stale }).status, 1, "the socket removed at the end")
    t.eq(luaha.proc.run({ "rm", "-r", dir }).status, 0, "rm -r")
end)

luaha.exit(t.failures() == 0 and 0 or 1)
