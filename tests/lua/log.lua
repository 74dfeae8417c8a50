-- tests/lua/log.lua: where log lines go: stderr, the journal's stream (<N> prefixes), syslog (idents, facility, daemons);
-- a traceback is a record per line.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local proc = luaha.proc

local me = t.pid()

local slurp = t.slurp

-- A child that logs a tagged line, a warning, and an error with a traceback from a task.
local CODE = [[
local luaha = require "luaha"
luaha.log.prefixed("nanny").info("[ active ] making 192.0.2.204:80 available")
luaha.log.warning("plain warning")
luaha.spawn(function() error("boom") end)
]]

-- lines(s): the lines of s, in a list.
local function lines(s)
    local list = {}
    for l in s:gmatch("[^\n]+") do list[#list + 1] = l end
    return list
end

-- journal(stream): runs CODE with JOURNAL_STREAM naming its stderr (or, stream false, another file); its stderr.
local function journal(stream)
    local set = stream and "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2)" or "JOURNAL_STREAM=1:1"
    local r = assert(proc.run({ "sh", "-c", set .. ' exec "$0" -e "$1"', t.exe(), CODE }, { timeout = 30 }))
    return r.stderr
end

t.test("journal-stream-lines-have-priority-prefixes-and-no-time", function()
    local got = lines(journal(true))
    t.eq(got[1], "<6>nanny: [ active ] making 192.0.2.204:80 available", "info line")
    t.eq(got[2], "<4>plain warning", "warning line")
    assert(got[3]:match("^<3>task .*: boom$"), "the error's first line: " .. tostring(got[3]))
    t.eq(got[4], "<3>stack traceback:", "the traceback is a record per line")
    assert(#got >= 5, "the traceback's frames are missing")
    for i = 3, #got do
        assert(got[i]:match("^<3>%S"), "line " .. i .. " is not a record of its own: " .. got[i])
    end
end)

t.test("stderr-of-another-stream-is-timestamped", function()
    local got = lines(journal(false))
    assert(got[1]:match("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d info: nanny: %[ active %]"), got[1])
    local traceback = 0
    for _, l in ipairs(got) do
        assert(l:match("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d "), "a line without its time: " .. l)
        if l:match(" err: stack traceback:$") then traceback = traceback + 1 end
    end
    t.eq(traceback, 1, "traceback lines")
end)

-- syslog(args, code): runs luaha with args and code while socat receives on a socket of its own; the records.
local function syslog(args, code)
    local path = "/tmp/luaha-log-" .. me .. ".sock"
    os.remove(path)
    local rx = luaha.spawn(proc.run, { "socat", "-u", "-T", "2", "UNIX-RECV:" .. path, "-" }, { timeout = 30 })
    assert(t.until_(function() return (slurp("/proc/net/unix") or ""):find(path, 1, true) ~= nil end, 10),
        "socat does not listen on " .. path)
    local argv = { "--log-socket", path }
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    argv[#argv + 1] = "-e"
    argv[#argv + 1] = code
    local r = t.run_luaha(argv)
    local got = rx:join(30)
    os.remove(path)
    t.eq(got.timed_out, false, "socat timed out")
    local records = {}
    for rec in got.stdout:gmatch("<%d+>[^<]*") do records[#records + 1] = rec end
    return records, r
end

t.test("syslog-records-idents-and-facility", function()
    local recs, r = syslog({ "--syslog", "--log-facility", "local3" }, CODE)
    t.eq(r.stderr, "", "stderr")
    -- local3 (19) * 8 + info (6) = 158; warning 4: 156; err 3: 155.
    assert(recs[1]:match("^<158>%a%a%a [ %d]%d %d%d:%d%d:%d%d luaha%[%d+%]: nanny: %[ active %] making "
        .. "192%.0%.2%.204:80 available$"), recs[1])
    assert(recs[2]:match("^<156>.* luaha%[%d+%]: plain warning$"), recs[2])
    assert(recs[3]:match("^<155>.* luaha%[%d+%]: task .*: boom$"), recs[3])
    assert(recs[4]:match("^<155>.* luaha%[%d+%]: stack traceback:$"), "the traceback is one record: " .. recs[4])
    recs = syslog({ "--syslog", "--log-tag-idents" }, CODE)
    assert(recs[1]:match("^<30>.* nanny%[%d+%]: %[ active %] making 192%.0%.2%.204:80 available$"), recs[1])
    assert(recs[2]:match("^<28>.* luaha%[%d+%]: plain warning$"), recs[2])
end)

t.test("bad-facility-is-refused", function()
    local r = t.run_luaha({ "--log-facility", "kern", "-e", "" })
    t.eq(r.status, 2, "status")
    t.eq(r.stderr, "luaha: --log-facility kern: not daemon or local0 to local7\n", "stderr")
end)

t.test("a-daemon-logs-to-syslog-without-being-told", function()
    local recs, r = syslog({}, [[
local luaha = require "luaha"
luaha.log.info("before: %s", (luaha.log.destination()))
assert(luaha.daemon.daemonize({ chdir = false }))
luaha.daemon.ready()
luaha.log.info("after: %s", (luaha.log.destination()))
]])
    t.eq(r.status, 0, "status")
    assert(r.stderr:match("info: before: stderr\n$"), "the line before: " .. r.stderr)
    t.eq(#recs, 1, "records")
    assert(recs[1]:match("^<30>.* luaha%[%d+%]: after: syslog$"), recs[1])
end)

t.test("gather-writes-the-lines-after-in-order", function()
    local r = t.run_luaha({ "-e", [[
local luaha = require "luaha"
local a, b = luaha.log.prefixed("nanny"), luaha.log.prefixed("lvs")
luaha.log.gather(function()
    a.info("one %d", 1)
    a.info("two")
    b.info("three")
    io.stderr:write("marker\n")
    a.warning("four")
end)
local ok, err = pcall(luaha.log.gather, function()
    a.info("five")
    error("boom")
end)
io.stderr:write(tostring(ok), " ", tostring(err):match("boom") or tostring(err), "\n")]] })
    t.eq(r.status, 0, "status")
    local got = {}
    for l in r.stderr:gmatch("[^\n]+") do got[#got + 1] = l:gsub("^%S+ %S+ ", "") end
    t.same(got, { "marker", "info: nanny: one 1", "info: nanny: two", "info: lvs: three", "warning: nanny: four",
        "info: nanny: five", "false boom" })
end)

t.test("tagged-checks-its-level", function()
    t.checkerr("not a log level", luaha.log.tagged, "nanny", "loud", "x")
    t.checkerr("boolean expected", luaha.log.tag_idents, "yes")
end)

if t.failures() > 0 then luaha.exit(1) end
