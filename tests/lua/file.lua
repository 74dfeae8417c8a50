-- tests/lua/file.lua: luaha.core.file's read in a task and at once: the same answers; the loop turns meanwhile.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local file = require "luaha.core.file"

local dir = os.tmpname()
os.remove(dir)
assert(luaha.proc.run({ "mkdir", dir }, { timeout = 10 }).status == 0)

-- sparse(path, size): a file of size bytes that takes no disk (zeros read back).
local function sparse(path, size)
    local f = assert(io.open(path, "w"))
    f:seek("set", size - 1)
    f:write("\0")
    f:close()
    return path
end

-- at_once(f, ...): f(...)'s results where no task may wait (a gsub callback cannot yield).
local function at_once(f, ...)
    local args, res = table.pack(...), nil
    string.gsub("x", "x", function()
        assert(not coroutine.isyieldable(), "the callback could yield")
        res = table.pack(f(table.unpack(args, 1, args.n)))
    end)
    return table.unpack(res, 1, res.n)
end

t.test("a-read-answers-alike-in-a-task-and-at-once", function()
    local small = dir .. "/small.cf"
    local f = assert(io.open(small, "w"))
    f:write("serial_no = 1\n")
    f:close()
    local fifo, zero = dir .. "/fifo", dir .. "/zero"
    assert(luaha.proc.run({ "mkfifo", fifo }, { timeout = 10 }).status == 0)
    assert(luaha.proc.run({ "ln", "-s", "/dev/zero", zero }, { timeout = 10 }).status == 0)
    local one = sparse(dir .. "/one", 1)
    local cases = {
        { small, 100, "serial_no = 1\n" },
        { small, 14, "serial_no = 1\n" },
        { small, 13, nil, small .. ": larger than 13 bytes" },
        { dir, 100, nil, dir .. ": is a directory" },
        { fifo, 100, nil, fifo .. ": is a FIFO" },
        { zero, 100, nil, zero .. ": is a character device" },
        { dir .. "/none", 100, nil, dir .. "/none: No such file or directory" },
        { one, 0, nil, one .. ": larger than 0 bytes" },
    }
    for _, c in ipairs(cases) do
        local what = ("%s (max %d)"):format(c[1], c[2])
        local got, err = file.read(c[1], c[2])
        t.eq(got, c[3], "in a task: " .. what)
        t.eq(err, c[4], "in a task, the error: " .. what)
        got, err = at_once(file.read, c[1], c[2])
        t.eq(got, c[3], "at once: " .. what)
        t.eq(err, c[4], "at once, the error: " .. what)
    end
end)

t.test("a-large-read-in-a-task-lets-the-loop-turn", function()
    -- main: read(2) of the whole file in the loop; 128 MiB takes tens of milliseconds even from the page cache.
    local size = 128 * 1024 * 1024
    local big = sparse(dir .. "/big", size)
    local ticks = 0
    local ticker = luaha.every(0.001, function() ticks = ticks + 1 end)
    local got = assert(file.read(big, size))
    local during = ticks
    ticker:cancel()
    t.eq(#got, size, "the whole file")
    t.eq(got:sub(-1), "\0", "its last byte")
    assert(during > 0, "the loop did not turn while the file was read")
    got = nil -- luacheck: ignore 311
    collectgarbage()
end)

luaha.proc.run({ "rm", "-rf", dir }, { timeout = 10 })
luaha.exit(t.failures() == 0 and 0 or 1)
