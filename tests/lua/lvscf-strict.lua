-- tests/lua/lvscf-strict.lua: what the readers accept, the daemon can run: the refusals of issue 12 (--check means it will run).
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local model = require "luaha.lvscfmodel"

local function tmpname(suffix)
    local path = os.tmpname()
    os.remove(path)
    return path .. (suffix or "")
end

local function tmpfile(text, suffix)
    local path = tmpname(suffix)
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    return path
end

-- run_child(code, args, timeout): a child luaha running code with args as `...`; proc.run's result.
local function run_child(code, args, timeout)
    local script = tmpfile(code, ".lua")
    local argv = { script }
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    local r = t.run_luaha(argv, { timeout = timeout })
    os.remove(script)
    return r
end

-- The one error text gives, which must be exactly want (no raise: a raise fails the test with its traceback).
local function refused(text, want)
    local m, errs = lvscf.parse(text, "s.cf")
    assert(not m, "accepted: " .. text:sub(1, 200))
    t.eq(errs[1], want, "error")
    t.eq(#errs, 1, "error count (" .. table.concat(errs, " | ") .. ")")
end

local function vs(body)
    return "virtual web {\n address = 192.0.2.212 eth0:1\n" .. body .. "}\n"
end

t.test("a-value-holding-both-quotes-is-written-and-reads-back", function()
    -- main: accepted, then lvscf.write raised ("cannot write a value holding both kinds of quote"),
    -- which killed the daemon at start and half-applied a reload.
    local text = "active_cmd = a\"b'c\ninactive_cmd = '/bin/echo \"x\"'\n" .. vs(" start_cmd = x'\"y\n")
    local m = assert(lvscf.parse(text, "q.cf"))
    t.eq(m.active_cmd, "a\"b'c", "active_cmd")
    local ok, written = pcall(lvscf.write, m)
    assert(ok, written)
    local back = assert(lvscf.parse(written, "written.cf"))
    assert(t.same(back, m))
    -- A Lua config can give a string that no lvs.cf token holds: refused where it is written.
    local path = tmpfile('return {\n    active_cmd = "a b\\"c\'d",\n}\n', ".lua")
    local lm, errs = lvscf.load_lua(path)
    os.remove(path)
    t.eq(lm, nil, "Lua config with an unwritable string")
    t.eq(errs[1], path .. ":2: active_cmd: needs quotes and holds both kinds of quote: it cannot be written as one"
        .. " lvs.cf token", "error")
end)

t.test("a-block-name-that-cannot-be-written-is-refused-with-its-line", function()
    -- main: read, then --check said "the configuration cannot be written back" with no line, from
    -- the writer's error (found by lvscf-roundtrip.lua once the options list grew).
    refused("serial_no = 1\nfailover #a\"b'c {\n address = 192.0.2.212 eth0:1\n}\n",
        "s.cf:2: failover: the name needs quotes and holds both kinds of quote: it cannot be written")
    refused(vs(" server #x'\"y {\n  address = 192.0.2.204\n }\n"),
        "s.cf:3: virtual \"web\": server: the name needs quotes and holds both kinds of quote: it cannot be written")
end)

t.test("time-options-beyond-their-runtime-bounds-are-refused", function()
    -- main: keepalive 1e-25 was accepted (a traceback at start), 400 digits read as inf, a tiny
    -- garp_refresh a traceback at each activation.
    refused("keepalive = 0.0000000000000000000000001\n",
        "s.cf:1: keepalive: out of range: 1e-25 (must be 0.001..1000000)")
    refused("keepalive = " .. ("9"):rep(400) .. "\n", 's.cf:1: keepalive: out of range: "' .. ("9"):rep(64)
        .. '..." (must be 0.001..1000000)')
    refused("garp_refresh = 0.0000001\n", "s.cf:1: garp_refresh: out of range: 1e-07 (must be 0 or 0.001..1000000)")
    refused("deadtime = 2\n", "s.cf:1: deadtime: must be longer than keepalive (2 s), or every heartbeat comes too late")
    refused("keepalive = 6\n", "s.cf:1: deadtime: must be longer than keepalive (6 s), or every heartbeat comes too late")
    -- Every seconds option: a value past each end, and 400 digits, are refused; its ends are read.
    local n = 0
    for scope, opts in pairs({ globals = model.globals, blocks = model.blocks }) do
        for _, o in ipairs(opts) do
            if o.type == "secs" then
                -- keepalive and deadtime with a partner that lets their ends be read: deadtime > keepalive.
                local function line(v)
                    local l = o.key .. " = " .. v .. "\n"
                    if scope == "blocks" then return vs(" " .. l) end
                    if o.key == "deadtime" then return "keepalive = 0.001\n" .. l end
                    if o.key == "keepalive" then return "deadtime = 1000000\n" .. l end
                    return l
                end
                local ends = { deadtime = { 0.002, o.max }, keepalive = { o.min, o.max - 1 } }
                for _, bad in ipairs({ model.number(o.max + 1), ("9"):rep(400), o.frac and "0.0001" or "-1" }) do
                    local m, errs = lvscf.parse(line(bad), "s.cf")
                    assert(not m, o.key .. " = " .. bad .. " accepted")
                    assert(errs[1]:find(o.key .. ": out of range", 1, true), errs[1])
                end
                for _, good in ipairs(ends[o.key] or { o.min, o.max }) do
                    local m, errs = lvscf.parse(line(model.number(good)), "s.cf")
                    assert(m, errs and errs[1])
                    t.eq((scope == "blocks" and m.virtuals[1] or m)[o.key], good, o.key)
                end
                n = n + 1
            end
        end
    end
    t.eq(n, 15, "seconds options")
end)

t.test("the-ends-of-each-fractional-range-are-what-the-timers-take", function()
    for _, opts in ipairs({ model.globals, model.blocks }) do
        for _, o in ipairs(opts) do
            if o.frac then
                local every = luaha.every(o.min, function() end)
                every:cancel()
                local after = luaha.after(o.max, function() end)
                after:cancel()
            end
        end
    end
end)

t.test("integers-that-do-not-fit-are-refused-not-wrapped", function()
    -- main: hex and octal wrapped around 2^64 (port = 0x10000000000000050 was 80), long decimals became floats.
    refused(vs(" port = 0x10000000000000050\n"),
        's.cf:3: virtual "web": port: out of range: "0x10000000000000050" (must be 1..65535)')
    refused("serial_no = 4294967296\n", "s.cf:1: serial_no: out of range: 4294967296 (must be 0..4294967295)")
    refused("syncd_id = 256\n", "s.cf:1: syncd_id: out of range: 256 (must be 0..255)")
    refused("monitor_links = 0x1" .. ("0"):rep(16) .. "\n",
        's.cf:1: monitor_links: out of range: "0x10000000000000000" (must be a 64-bit integer)')
    local n = 0
    for scope, opts in pairs({ globals = model.globals, blocks = model.blocks, servers = model.servers }) do
        for _, o in ipairs(opts) do
            if (o.type == "int" or o.type == "port") and not o.frac then
                for _, bad in ipairs({ "0x1" .. ("0"):rep(15) .. "50", "01" .. ("0"):rep(21) .. "120",
                        "18446744073709551696", model.number(o.max + 1), model.number(o.min - 1) }) do
                    local l = o.key .. " = " .. bad .. "\n"
                    local text = scope == "globals" and l or scope == "blocks" and vs(" " .. l)
                        or vs(" server a {\n  address = 192.0.2.1\n  " .. l .. " }\n")
                    local m, errs = lvscf.parse(text, "s.cf")
                    assert(not m, o.key .. " = " .. bad .. " accepted")
                    assert(errs[1]:find(o.key .. ": out of range", 1, true), errs[1])
                end
                n = n + 1
            end
        end
    end
    assert(n >= 9, "integer options: " .. n)
end)

t.test("host-names-are-resolved-or-refused-with-their-line", function()
    -- main: kept as written, and the heartbeat's sendto raised at the first heartbeat.
    local m, errs = lvscf.parse("primary = localhost\nbackup_active = 1\nbackup = 192.0.2.2\n"
        .. vs(" server a {\n  address = localhost\n }\n"), "h.cf")
    assert(m, errs and errs[1])
    t.eq(m.primary, "127.0.0.1", "primary")
    t.eq(m.virtuals[1].servers[1].address, "127.0.0.1", "server address")
    assert(lvscf.write(m):find("primary = 127.0.0.1\n", 1, true), "the writer writes the address")
    -- .invalid never resolves (RFC 6761); without a name server the reason may be the 5 s bound instead.
    local _, herrs = lvscf.parse("backup = no-such-router.invalid\n", "s.cf")
    local want = 's.cf:1: backup: invalid host name or ip address "no-such-router.invalid" (it does not resolve: '
    t.eq(herrs and herrs[1]:sub(1, #want), want, "an unknown name")
    local calls = 0
    m = assert(lvscf.parse(vs(" server a {\n  address = rs.example\n }\n server b {\n  address = rs.example\n }\n"),
        "h.cf", nil, { resolve = function(name)
            calls = calls + 1
            return name == "rs.example" and "192.0.2.9" or nil
        end }))
    t.eq(m.virtuals[1].servers[2].address, "192.0.2.9", "resolved by opts.resolve")
    t.eq(calls, 1, "a name is asked once a read")
    -- A reload resolves again: a block that names a host is not taken from the parse cache.
    local answer, cache = "192.0.2.10", lvscf.cache()
    local text = vs(" server a {\n  address = rs.example\n }\n") .. "virtual other {\n address = 192.0.2.213 eth0:2\n}\n"
    local opts = { resolve = function() return answer end }
    local m1 = assert(lvscf.parse(text, "h.cf", cache, opts))
    answer = "192.0.2.11"
    local m2 = assert(lvscf.parse(text, "h.cf", cache, opts))
    t.eq(m2.virtuals[1].servers[1].address, "192.0.2.11", "the name resolved again")
    t.eq(m2.virtuals[2], m1.virtuals[2], "a block that names no host is taken from the cache")
    local path = tmpfile('return { primary = "localhost" }\n', ".lua")
    m, errs = lvscf.load_lua(path)
    os.remove(path)
    assert(m, errs and errs[1])
    t.eq(m.primary, "127.0.0.1", "Lua config's host name")
end)

t.test("the-config-is-a-regular-file-under-the-size-cap", function()
    -- main: a directory raised "not enough memory"; /dev/zero grew without end; a FIFO blocked for ever.
    local dir = tmpname()
    assert(luaha.proc.run({ "mkdir", dir }, { timeout = 10 }).status == 0)
    local fifo, zero, big = dir .. "/fifo.cf", dir .. "/zero.cf", dir .. "/big.cf"
    assert(luaha.proc.run({ "mkfifo", fifo }, { timeout = 10 }).status == 0)
    assert(luaha.proc.run({ "ln", "-s", "/dev/zero", zero }, { timeout = 10 }).status == 0)
    local f = assert(io.open(big, "w"))
    f:seek("set", lvscf.MAX_SIZE)
    f:write("\n")
    f:close()
    -- In a child with a bound, so that what hung on main fails here instead of hanging the suite.
    local code = [[local lvscf = require "luaha.lvscf"
        for _, p in ipairs({ ... }) do
            local ok, m, errs = pcall(lvscf.load_any, p)
            print(ok and not m and errs[1] or ("raised or accepted: " .. tostring(m)))
        end]]
    local r = run_child(code, { dir, fifo, zero, big, dir .. "/none.lua" }, 20)
    luaha.proc.run({ "rm", "-rf", dir }, { timeout = 10 })
    t.eq(r.timed_out, false, "timed out (a read that blocks or grows)")
    t.eq(r.stdout, table.concat({ dir .. ": is a directory", fifo .. ": is a FIFO", zero .. ": is a character device",
        big .. ": larger than 268435456 bytes", dir .. "/none.lua: No such file or directory", "" }, "\n"), "errors")
end)

t.test("shared-scsi-options-are-refused-and-reservation_conflict_action-has-no-effect", function()
    local why = "luaha does not support shared SCSI reservations (set neither primary_shared nor backup_shared)"
    refused("primary_shared = /dev/sdb\n", "s.cf:1: primary_shared: " .. why)
    refused("backup_shared = /dev/sdc\n", "s.cf:1: backup_shared: " .. why)
    local m = assert(lvscf.parse("reservation_conflict_action = preempt\n", "s.cf"))
    t.eq(m.reservation_conflict_action, "preempt", "reservation_conflict_action")
    refused("reservation_conflict_action = wait\n", 's.cf:1: reservation_conflict_action: unknown'
        .. ' reservation_conflict_action "wait" (invalid argument; valid: nothing, preempt)')
end)

t.test("a-lua-config-that-swallows-its-budget-errors-still-stops", function()
    -- main: the budget's error, raised once, was caught by the config's pcall, and the loop went on for ever.
    local path = tmpfile("while true do pcall(function() while true do end end) end\n", ".lua")
    local path2 = tmpfile("local s = ('x'):rep(2^40)\nreturn {}\n", ".lua")
    local code = [[local lvscf = require "luaha.lvscf"
        for _, p in ipairs({ ... }) do
            local ok, m, errs = pcall(lvscf.load_lua, p)
            print(ok and not m and errs[1] or ("raised or accepted: " .. tostring(m)))
        end]]
    local r = run_child(code, { path, path2 }, 60)
    os.remove(path)
    os.remove(path2)
    t.eq(r.timed_out, false, "timed out")
    t.eq(r.stdout, path .. ":1: the config ran too long\n" .. path2 .. ":1: string.rep: a result of more than 16777216"
        .. " bytes\n", "errors")
end)

require("luaha").exit(t.failures() == 0 and 0 or 1)
