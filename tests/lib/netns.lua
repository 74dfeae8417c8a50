-- tests/lib/netns.lua: check, raises and fds for the Lua scripts of the tests/netns/*.sh scenarios.
-- SPDX-License-Identifier: GPL-2.0-or-later
-- A failed check prints "FAIL what" and exits 1: the scenario reports the last line of the script's log.
local M = {}

-- check(cond, what): unless cond, print "FAIL what" and exit 1.
function M.check(cond, what) if not cond then print("FAIL " .. what) os.exit(1) end end

-- raises(msg, f, ...): f(...) must raise an error whose message contains msg (plain text).
function M.raises(msg, f, ...)
    local ok, err = pcall(f, ...)
    M.check(not ok and tostring(err):find(msg, 1, true), ("error '%s' expected, got %s"):format(msg, tostring(err)))
end

-- fds(): how many file descriptors this process has open. The pid is read here: in the
-- shell that io.popen starts, /proc/self would be that shell.
local stat = assert(io.open("/proc/self/stat"))
local pid = stat:read("n")
stat:close()
local function count_fds()
    local p = io.popen("ls /proc/" .. pid .. "/fd")
    local n = 0
    for _ in p:lines() do n = n + 1 end
    p:close()
    return n
end

-- The fewest of three counts 20 ms apart (inside a task): a descriptor another task is just
-- closing or a collected socket must not make the count flicker.
function M.fds()
    local luaha = require "luaha"
    local n = count_fds()
    for _ = 1, 2 do
        if luaha.current() then luaha.sleep(0.02) end
        n = math.min(n, count_fds())
    end
    return n
end

return M
