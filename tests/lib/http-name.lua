-- tests/lib/http-name.lua: a real server for the seed scenario: answers every HTTP request on port 80 with its name.
-- Usage: luaha tests/lib/http-name.lua NAME [PORT]
local luaha = require "luaha"

local name, port = assert(arg[1], "usage: http-name.lua NAME [PORT]"), tonumber(arg[2]) or 80
local body = name .. "\n"
local reply = ("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"):format(#body, body)

assert(luaha.net.listen("0.0.0.0", port, function(conn)
    repeat
        local line = conn:receive("*l", 2)
    until not line or line == ""
    conn:send(reply)
    conn:close()
end))
