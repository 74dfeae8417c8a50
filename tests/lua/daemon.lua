-- tests/lua/daemon.lua: luaha.daemon: daemonize (double fork, pid file, ready), sd_notify datagrams, the watchdog.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local proc = luaha.proc
local daemon = luaha.daemon

local me = t.pid()
local pidfile = "/tmp/luaha-daemon-test-" .. me .. ".pid"
local started = {}      -- daemons to kill if a test leaves one behind

local slurp = t.slurp

-- wait(fn, secs): polls fn every 50 ms until it returns true; false after secs.
local function wait(fn, secs)
    local deadline = luaha.now() + secs
    repeat
        if fn() then return true end
        luaha.sleep(0.05)
    until luaha.now() > deadline
    return false
end

-- stat(pid): state, ppid, pgrp, session and tty of a process, or nil when it is gone.
local function stat(pid)
    local s = slurp("/proc/" .. pid .. "/stat")
    if not s then return nil end
    local state, ppid, pgrp, sid, tty = s:match("^%d+ %b() (%a) (%d+) (%d+) (%d+) (%-?%d+)")
    return { state = state, ppid = tonumber(ppid), pgrp = tonumber(pgrp), sid = tonumber(sid),
        tty = tonumber(tty) }
end

local function gone(pid)
    local st = stat(pid)
    return st == nil or st.state == "Z"
end

local function readlink(path)
    local r = assert(proc.run({ "readlink", path }, { timeout = 10 }))
    return (r.stdout:gsub("\n$", ""))
end

local function pidfile_pid()
    return tonumber(slurp(pidfile) or "")
end

-- child(code, env): runs a luaha with the -e chunk code and env changes; its result.
local function child(code, env)
    return t.run_luaha({ "-e", code }, { timeout = 30, env = env })
end

-- A daemon that says it is ready, then lives until killed (or 30 s).
local function daemon_code(opts, after_ready)
    return string.format([[
local luaha = require "luaha"
local d = luaha.daemon
io.stderr:write("starting\n")
assert(d.daemonize(%s))
d.ready()
%s
luaha.sleep(30)
]], opts, after_ready or "")
end

local function stop(pid)
    proc.kill(pid, "TERM")
    return wait(function() return gone(pid) end, 10)
end

t.test("getpid-and-getuid", function()
    t.eq(daemon.getpid(), me, "getpid")
    local r = assert(proc.run({ "id", "-u" }, { timeout = 10 }))
    t.eq(daemon.getuid(), tonumber(r.stdout), "getuid")
end)

t.test("errors-and-not-a-daemon", function()
    t.checkerr("unknown option 'pidfil'", daemon.daemonize, { pidfil = pidfile })
    t.checkerr("option 'chdir' must be a boolean", daemon.daemonize, { chdir = "no" })
    t.checkerr("option 'pidfile' must be a string", daemon.daemonize, { pidfile = 5 })
    t.checkerr("empty state", daemon.notify, "")
    -- a pid file that cannot be read is refused before any fork
    local ok, err = daemon.daemonize({ pidfile = "/tmp" })
    t.eq(ok, nil, "pidfile /tmp"); t.eq(err, "pidfile /tmp: Is a directory", "err")
    t.eq(daemon.ready(), false, "ready() with nobody waiting")
    t.eq(daemon.remove_pidfile(), false, "remove_pidfile() without one")
end)

t.test("notify-without-socket-is-false", function()
    local r = child([[io.write(tostring(require("luaha").daemon.notify("READY=1")))]],
        { NOTIFY_SOCKET = false })
    t.eq(r.status, 0, "status"); t.eq(r.stdout, "false", "notify")
end)

-- Receives one datagram on a unix socket with socat while a child luaha sends it with notify().
local function notify_through(address, socat_address, state)
    local listening = function()
        return (slurp("/proc/net/unix") or ""):find(address, 1, true) ~= nil
    end
    local rx = luaha.spawn(proc.run, { "socat", "-u", "-T", "3", socat_address, "-" }, { timeout = 20 })
    assert(wait(listening, 10), "socat does not listen on " .. address)
    local r = child(string.format([[
local ok, err = require("luaha").daemon.notify(%q)
io.write(tostring(ok), " ", tostring(err))]], state), { NOTIFY_SOCKET = address })
    t.eq(r.stdout, "true nil", "notify"); t.eq(r.status, 0, "status")
    local got = rx:join(30)
    t.eq(got.timed_out, false, "socat timed out")
    return got.stdout
end

t.test("notify-path-socket", function()
    local path = "/tmp/luaha-notify-" .. me .. ".sock"
    os.remove(path)
    t.eq(notify_through(path, "UNIX-RECV:" .. path, "READY=1\nSTATUS=serving 3 virtual servers"),
        "READY=1\nSTATUS=serving 3 virtual servers", "datagram")
    os.remove(path)
end)

t.test("notify-abstract-socket", function()
    local name = "luaha-notify-" .. me
    t.eq(notify_through("@" .. name, "ABSTRACT-RECV:" .. name, "WATCHDOG=1"), "WATCHDOG=1", "datagram")
end)

t.test("notify-errors", function()
    local code = [[local ok, err = require("luaha").daemon.notify("READY=1")
io.write(tostring(ok), " ", tostring(err))]]
    local r = child(code, { NOTIFY_SOCKET = "/nonexistent/notify.sock" })
    t.eq(r.stdout, "nil notify: /nonexistent/notify.sock: No such file or directory", "missing socket")
    r = child(code, { NOTIFY_SOCKET = "vsock:2:1" })
    t.eq(r.stdout, "nil notify: vsock:2:1: not a unix socket address", "other address")
end)

t.test("watchdog-interval", function()
    local code = [[local s, err = require("luaha").daemon.watchdog_interval()
io.write(tostring(s), " ", tostring(err))]]
    t.eq(child(code, { WATCHDOG_USEC = false }).stdout, "nil nil", "unset")
    t.eq(child(code, { WATCHDOG_USEC = "10000000", WATCHDOG_PID = false }).stdout, "5.0 nil", "no pid")
    t.eq(child(code, { WATCHDOG_USEC = "10000000", WATCHDOG_PID = "1" }).stdout, "nil nil",
        "another process's")
    t.eq(child(code, { WATCHDOG_USEC = "ten", WATCHDOG_PID = false }).stdout,
        "nil watchdog_interval: WATCHDOG_USEC=ten: not a number of microseconds", "malformed")
    -- WATCHDOG_PID naming luaha itself: sh execs it under its own pid
    local r = assert(proc.run({ "sh", "-c", 'WATCHDOG_PID=$$ exec "$0" -e "$1"', t.exe(), code },
        { timeout = 30, env = { WATCHDOG_USEC = "3000000" } }))
    t.eq(r.stdout, "1.5 nil", "our pid")
end)

t.test("daemonize-detaches-and-writes-pidfile", function()
    os.remove(pidfile)
    local t0 = luaha.now()
    -- a relative pid file is taken relative to the directory daemonize was called in
    local exe = readlink("/proc/" .. me .. "/exe")      -- t.exe() may be relative
    local r = assert(proc.run({ "sh", "-c", 'cd /tmp && exec "$0" -e "$1"', exe,
        daemon_code(string.format("{ pidfile = %q }", pidfile:match("[^/]+$"))) }, { timeout = 30 }))
    local took = luaha.now() - t0
    t.eq(r.status, 0, "parent's status (stderr: " .. r.stderr .. ")")
    assert(took < 10, "the parent waited " .. took .. " s, for the daemon's end?")
    assert(r.stderr:find("starting\n", 1, true), "stderr before ready() not relayed: " .. r.stderr)
    local pid = pidfile_pid()
    assert(pid, "no pid in " .. pidfile)
    started[#started + 1] = pid
    local st = stat(pid)
    assert(st and st.state ~= "Z", "daemon " .. pid .. " is not running")
    local mine = stat(me)
    assert(st.ppid ~= me, "still our child")
    assert(st.sid ~= mine.sid, "still in our session")
    assert(st.sid ~= pid, "a session leader could acquire a terminal")
    t.eq(st.pgrp, st.sid, "process group of the session")
    t.eq(st.tty, 0, "controlling terminal")
    assert(gone(st.sid), "the session leader (first child) is still there")
    t.eq((slurp("/proc/" .. pid .. "/status") or ""):match("Umask:%s*(%d+)"), "0022", "umask")
    t.eq(readlink("/proc/" .. pid .. "/cwd"), "/", "cwd")
    for fd = 0, 2 do t.eq(readlink("/proc/" .. pid .. "/fd/" .. fd), "/dev/null", "fd " .. fd) end

    -- a second one with the same pid file refuses, in the original process
    r = child(string.format([[
local ok, err = require("luaha").daemon.daemonize({ pidfile = %q })
io.write(tostring(ok), " ", tostring(err))
require("luaha").exit(ok and 0 or 3)]], pidfile))
    t.eq(r.stdout, "nil pidfile " .. pidfile .. ": luaha already running as " .. pid, "second")
    t.eq(r.status, 3, "second's status")
    t.eq(pidfile_pid(), pid, "pid file kept")

    assert(stop(pid), "daemon " .. pid .. " did not stop on TERM")
    t.eq(slurp(pidfile), nil, "pid file left after exit")
end)

t.test("stale-pidfile-remove-pidfile-and-chdir-false", function()
    local dead = tonumber(assert(proc.run({ "sh", "-c", "echo $$" })).stdout)
    local f = assert(io.open(pidfile, "w"))
    f:write(dead, "\n")
    f:close()
    local r = child(daemon_code(string.format("{ pidfile = %q, chdir = false }", pidfile),
        'luaha.on_signal("USR1", function() assert(d.remove_pidfile()) end)'))
    t.eq(r.status, 0, "parent's status (stderr: " .. r.stderr .. ")")
    local pid = pidfile_pid()
    assert(pid and pid ~= dead, "pid file not rewritten: " .. tostring(pid))
    started[#started + 1] = pid
    t.eq(readlink("/proc/" .. pid .. "/cwd"), readlink("/proc/" .. me .. "/cwd"), "cwd kept")
    t.eq(slurp(pidfile .. ".tmp"), nil, "temporary file left")
    assert(proc.kill(pid, "USR1"))
    assert(wait(function() return slurp(pidfile) == nil end, 10), "remove_pidfile() did not")
    assert(not gone(pid), "the daemon ended")
    assert(stop(pid), "daemon " .. pid .. " did not stop on TERM")
end)

t.test("the-worker-thread-after-daemonize", function()
    -- A daemon reads its configuration in a task before daemonize, which made the worker thread
    -- (file.read): on e8f05c0 the daemon then had no thread, and its next read waited for ever.
    os.remove(pidfile)
    local data, out = "/tmp/luaha-daemon-test-" .. me .. ".data", "/tmp/luaha-daemon-test-" .. me .. ".out"
    local f = assert(io.open(data, "w"))
    f:write("serial_no = 1\n")
    f:close()
    os.remove(out)
    local code = daemon_code(string.format("{ pidfile = %q }", pidfile), string.format([[
local file = require "luaha.core.file"
local text, err = file.read(%q, 1000)
local o = assert(io.open(%q .. ".tmp", "w"))
o:write(tostring(text or err))
o:close()
assert(os.rename(%q .. ".tmp", %q))]], data, out, out, out))
    -- The same read before daemonize, which starts the worker thread there.
    code = code:gsub("assert%(d.daemonize", string.format("assert(require(\"luaha.core.file\").read(%q, 1000))\n%%0", data))
    local r = child(code)
    t.eq(r.status, 0, "parent's status (stderr: " .. r.stderr .. ")")
    local pid = pidfile_pid()
    if pid then started[#started + 1] = pid end
    assert(wait(function() return slurp(out) ~= nil end, 10), "the daemon's read did not end in 10 s")
    t.eq(slurp(out), "serial_no = 1\n", "what the daemon read")
    assert(pid and stop(pid), "daemon did not stop on TERM")
    os.remove(data)
    os.remove(out)
end)

t.test("failure-before-ready-fails-the-parent", function()
    os.remove(pidfile)
    local r = child(string.format([[
local d = require("luaha").daemon
assert(d.daemonize({ pidfile = %q }))
error("cannot read the configuration")]], pidfile))
    t.eq(r.status, 1, "parent's status")
    assert(r.stderr:find("cannot read the configuration", 1, true), "error not relayed: " .. r.stderr)
    t.eq(slurp(pidfile), nil, "pid file left after the failure")

    r = child([[assert(require("luaha").daemon.daemonize()); require("luaha").exit(0)]])
    t.eq(r.status, 1, "exit without ready()")
    t.eq(r.stderr, "luaha: the daemon exited before it was ready\n", "stderr")
end)

for _, pid in ipairs(started) do
    if not gone(pid) then proc.kill(pid, "KILL") end
end
os.remove(pidfile)
luaha.exit(t.failures() == 0 and 0 or 1)
