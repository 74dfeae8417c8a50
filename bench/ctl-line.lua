-- bench/ctl-line.lua: 64 MiB lines on a daemon's control socket, one after the other, for a time.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: luaha bench/ctl-line.lua SOCKET SECS
Each round connects, sends "attach" and a line of 64 MiB, and reads what the daemon answers
until it closes (it refuses a line at 64 KiB and disconnects); the next round starts at once.
Prints: "N lines of 64 MiB in S s: R refused ("line longer than"), the rest: WHY xCOUNT".
]]
local luaha = require "luaha"

local path, secs = arg[1], tonumber(arg[2])
if not (path and secs) then
    io.stderr:write("usage: ctl-line.lua SOCKET SECS\n")
    luaha.exit(2)
end

-- The line goes in 64 KiB pieces: the client itself holds no 64 MiB string (in UML, touching that
-- much memory stalls everything for a while, and it is the daemon that is measured).
local piece = ("x"):rep(65536)
local function send_line(c)
    if not c:send("attach\n") then return end
    for _ = 1, 1024 do
        if not c:send(piece) then return end
    end
    c:send("\n")
end
local rounds, refused, other = 0, 0, {}
local start = luaha.now()
while luaha.now() - start < secs do
    local c, err = luaha.net.unix(path, { timeout = 30 })
    if not c then
        other[err] = (other[err] or 0) + 1
        luaha.sleep(0.1)
    else
        rounds = rounds + 1
        luaha.spawn(send_line, c)       -- fails once the daemon closes
        local said = false
        while true do
            local head = c:receive("*l")
            if not head then break end
            local len = tonumber(head:match("^%a+ (%d+)$"))
            local body = len and c:receive(len) or ""
            if body:find("line longer than", 1, true) then said = true end
        end
        c:close()
        if said then refused = refused + 1 else other["no refusal"] = (other["no refusal"] or 0) + 1 end
    end
end
local parts = {}
for why, n in pairs(other) do parts[#parts + 1] = ("%s x%d"):format(why, n) end
print(("%d lines of 64 MiB in %.0f s: %d refused (line longer than 64 KiB)%s"):format(rounds, luaha.now() - start, refused,
    #parts > 0 and ", the rest: " .. table.concat(parts, ", ") or ""))
