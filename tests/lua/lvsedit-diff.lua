-- tests/lua/lvsedit-diff.lua: lvsedit.diff is a unified diff that patch applies, as short as GNU diff's shortest.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local lvsedit = require "luaha.lvsedit"

local R = math.random
math.randomseed(14)

-- apply(old, diff): the text a unified diff makes of old, read hunk by hunk as patch does (context checked).
local function apply(old, d)
    local a = {}
    for line in old:gmatch("([^\n]*)\n") do a[#a + 1] = line end
    local tail = old:match("([^\n]+)$")
    if tail then a[#a + 1] = tail .. "\0" end
    local out, at = {}, 1
    local lines = {}
    for line in d:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
    assert(lines[1]:match("^%-%-%- ") and lines[2]:match("^%+%+%+ "), "headers")
    local i = 3
    while i <= #lines do
        local os, oc, ns, nc = lines[i]:match("^@@ %-(%d+),?(%d*) %+(%d+),?(%d*) @@$")
        assert(os, "hunk header: " .. lines[i])
        oc, nc = tonumber(oc) or 1, tonumber(nc) or 1
        os = tonumber(os) + (oc == 0 and 1 or 0)
        assert(tonumber(ns) + (nc == 0 and 1 or 0) - os == #out - at + 1, "new start " .. lines[i])
        while at < os do out[#out + 1] = a[at]; at = at + 1 end
        local seen_o, seen_n = 0, 0
        i = i + 1
        while i <= #lines and not lines[i]:match("^@@") do
            local mark, text = lines[i]:sub(1, 1), lines[i]:sub(2)
            if lines[i + 1] == "\\ No newline at end of file" then
                text = text .. "\0"
                table.remove(lines, i + 1)
            end
            if mark == " " or mark == "-" then
                t.eq(a[at], text, "context or removed line " .. at)
                at, seen_o = at + 1, seen_o + 1
            end
            if mark == " " or mark == "+" then
                out[#out + 1] = text
                seen_n = seen_n + 1
            end
            assert(mark == " " or mark == "-" or mark == "+", "line mark: " .. lines[i])
            i = i + 1
        end
        t.eq(seen_o, oc, "old count")
        t.eq(seen_n, nc, "new count")
    end
    while at <= #a do out[#out + 1] = a[at]; at = at + 1 end
    local text = table.concat(out, "\n")
    if #out > 0 then text = text .. "\n" end
    return (text:gsub("%z\n$", ""))
end

-- changes(d): the number of removed and added lines in a unified diff.
local function changes(d)
    local n = 0
    for line in d:gmatch("[^\n]+") do
        if line:match("^[-+]") and not line:match("^%-%-%- ") and not line:match("^%+%+%+ ") then n = n + 1 end
    end
    return n
end

local function tmpfile(text)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    return path
end

-- GNU diff --minimal's number of changed lines (its diff of two files).
local function gnu(old, new)
    local a, b = tmpfile(old), tmpfile(new)
    local r = assert(luaha.proc.run({ "diff", "--minimal", "-u", a, b }, { timeout = 30 }))
    os.remove(a)
    os.remove(b)
    assert(r.status <= 1, "diff: " .. r.stderr)
    return changes(r.stdout)
end

local WORDS = { "a", "b", "c", "}", "", "    port = 80", "x" }
local function random_text(n)
    local out = {}
    for i = 1, R(0, n) do out[i] = WORDS[R(#WORDS)] end
    local s = table.concat(out, "\n")
    if #out > 0 and R(4) > 1 then s = s .. "\n" end
    return s
end

t.test("diff-applies-and-is-shortest", function()
    t.eq(lvsedit.diff("a\n", "a\n"), "", "equal")
    t.eq(lvsedit.diff("a\nb\nc\n", "a\nB\nc\n", "a/lvs.cf", "b/lvs.cf"),
        "--- a/lvs.cf\n+++ b/lvs.cf\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n", "a change")
    t.eq(lvsedit.diff("", "x\n", "o", "n"), "--- o\n+++ n\n@@ -0,0 +1 @@\n+x\n", "from empty")
    t.eq(lvsedit.diff("x", "x\n", "o", "n"), "--- o\n+++ n\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+x\n",
        "a newline added")
    for round = 1, 300 do
        local old = random_text(R(2) == 1 and 12 or 40)
        local new
        -- Most rounds change a few lines of old; some compare two unrelated texts.
        if R(3) > 1 then
            local lines = {}
            for l in (old .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
            for _ = 1, R(1, 4) do
                local at = R(1, #lines + 1)
                if R(2) == 1 then table.insert(lines, at, WORDS[R(#WORDS)]) else table.remove(lines, at) end
            end
            new = table.concat(lines, "\n")
        else
            new = random_text(40)
        end
        local d = lvsedit.diff(old, new, "o", "n")
        if old == new then
            t.eq(d, "", "equal texts")
        else
            t.eq(apply(old, d), new, ("round %d: the diff applied\n%s"):format(round, d))
            local want = gnu(old, new)
            t.eq(changes(d), want, ("round %d: changed lines (as diff --minimal)\n%s"):format(round, d))
        end
    end
end)

t.test("diff-of-a-large-file-is-bounded", function()
    local a, b = {}, {}
    for i = 1, 60000 do
        a[i] = "line " .. i
        b[i] = i % 2 == 0 and ("changed " .. i) or a[i]
    end
    local old, new = table.concat(a, "\n") .. "\n", table.concat(b, "\n") .. "\n"
    local start = luaha.now()
    local d = lvsedit.diff(old, new, "o", "n")
    assert(changes(d) > 60000, "past the bound, the middle is all removed and added")
    print(("# 30000 changed lines of 60000: %.2f s, %d bytes"):format(luaha.now() - start, #d))
    t.eq(apply(old, d), new, "the bounded diff still applies")
    start = luaha.now()
    new = table.concat(a, "\n", 1, 29999) .. "\none change\n" .. table.concat(a, "\n", 30001) .. "\n"
    d = lvsedit.diff(old, new)
    t.eq(apply(old, d), new, "one change applied")
    print(("# 1 changed line of 60000: %.3f s"):format(luaha.now() - start))
    t.eq(changes(d), 2, "one line changed")
end)

require("luaha").exit(t.failures() == 0 and 0 or 1)
