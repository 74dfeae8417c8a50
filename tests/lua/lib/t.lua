-- tests/lua/lib/t.lua: a small harness for tests run by luaha: named cases, PASS/FAIL lines, checkerr.
-- SPDX-License-Identifier: GPL-2.0-or-later
local t = {}

local failed = 0

-- test(name, fn): runs fn inside the calling task (so it may wait) and prints PASS or FAIL with the reason.
function t.test(name, fn)
    local ok, err = xpcall(fn, debug.traceback)
    if ok then
        print("PASS " .. name)
    else
        failed = failed + 1
        print("FAIL " .. name .. ": " .. tostring(err):gsub("\n", "\n    "))
    end
    io.stdout:flush()
end

-- checkerr(msg, f, ...): f(...) must raise an error whose message contains msg (plain text).
function t.checkerr(msg, f, ...)
    local ok, err = pcall(f, ...)
    if ok then
        error("expected an error containing '" .. msg .. "', got none", 2)
    end
    if not tostring(err):find(msg, 1, true) then
        error("expected an error containing '" .. msg .. "', got '" .. tostring(err) .. "'", 2)
    end
end

-- eq(got, want, what): equality with both values in the message.
function t.eq(got, want, what)
    if got ~= want then
        error(string.format("%s: got %s, want %s", what or "value", tostring(got), tostring(want)), 2)
    end
end

-- t.same(a, b [, path]): deep equality of two values; false and the path of the first difference.
function t.same(a, b, path)
    path = path or "model"
    if type(a) ~= "table" or type(b) ~= "table" then
        if a == b then return true end
        return false, string.format("%s: %s vs %s", path, tostring(a), tostring(b))
    end
    for k, v in pairs(a) do
        local ok, where = t.same(v, b[k], path .. "." .. tostring(k))
        if not ok then return false, where end
    end
    for k, v in pairs(b) do
        if a[k] == nil then return false, path .. "." .. tostring(k) .. ": nil vs " .. tostring(v) end
    end
    return true
end

-- until_(cond, secs): waits (in the calling task) for cond() to hold, at most secs seconds; whether it held.
function t.until_(cond, secs)
    local luaha = require "luaha"
    local stop = luaha.now() + secs
    while not cond() do
        if luaha.now() > stop then return false end
        luaha.sleep(0.005)
    end
    return true
end

-- exe(): the luaha binary running this test (as it was invoked), for tests that start another.
function t.exe()
    return arg[-1]
end

-- run_luaha(args, opts): runs the same binary with args; proc.run's result.
function t.run_luaha(args, opts)
    local proc = require("luaha").proc
    local argv = { t.exe() }
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    return assert(proc.run(argv, opts or { timeout = 30 }))
end

-- ipvsadm(...): ipvsadm's output for these arguments; raises if it fails (the UML tests' view of the kernel).
function t.ipvsadm(...)
    local r = assert(require("luaha").proc.run({ "ipvsadm", ... }, { timeout = 30 }))
    assert(r.status == 0, "ipvsadm failed: " .. r.stderr)
    return r.stdout
end

-- slurp(path): the whole file, or nil if it cannot be opened.
function t.slurp(path)
    local f = io.open(path)
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return s
end

-- pid(): this process's id.
function t.pid()
    local f = assert(io.open("/proc/self/stat"))
    local pid = f:read("n")
    f:close()
    return pid
end

-- base64(s): s in standard base64, for the tests' Basic credentials (luaha decodes with libsodium).
function t.base64(s)
    local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return (s:gsub("..?.?", function(g)
        local a, b, c = g:byte(1, 3)
        local n = a << 16 | (b or 0) << 8 | (c or 0)
        local out = {}
        for i = 1, 4 do
            local k = n >> (6 * (4 - i)) & 63
            out[i] = i <= #g + 1 and chars:sub(k + 1, k + 1) or "="
        end
        return table.concat(out)
    end))
end

function t.failures()
    return failed
end

return t
