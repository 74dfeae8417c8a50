-- tests/lib/http-name.lua: a real server for the seed scenario: answers every HTTP request on port 80 (or more) with its name.
-- SPDX-License-Identifier: GPL-2.0-or-later
-- Usage: luaha tests/lib/http-name.lua NAME [PORT [COUNT]]   (COUNT ports from PORT: the chaos suite's large configuration)
-- Prints "listening" once it listens on every port.
local luaha = require "luaha"

local name, port = assert(arg[1], "usage: http-name.lua NAME [PORT [COUNT]]"), tonumber(arg[2]) or 80
local count = tonumber(arg[3]) or 1
local body = name .. "\n"
local reply = ("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"):format(#body, body)

for p = port, port + count - 1 do
    assert(luaha.net.listen("0.0.0.0", p, function(conn)
        repeat
            local line = conn:receive("*l", 2)
        until not line or line == ""
        conn:send(reply)
        conn:close()
    end))
end
io.stdout:write("listening\n")
io.stdout:flush()
