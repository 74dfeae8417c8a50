-- tests/lib/http-hold.lua: a real server that answers HTTP with its name and holds a silent connection open.
-- SPDX-License-Identifier: GPL-2.0-or-later
-- Usage: luaha tests/lib/http-hold.lua NAME [PORT [HOLD]]
-- Like http-name.lua, but a client that sends nothing is kept up to HOLD seconds (default 120): an open
-- connection a drain must not cut (tests/browser/webui-browser.sh). Prints "listening" once it listens.
local luaha = require "luaha"

local name, port = assert(arg[1], "usage: http-hold.lua NAME [PORT [HOLD]]"), tonumber(arg[2]) or 80
local hold = tonumber(arg[3]) or 120
local body = name .. "\n"
local reply = ("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"):format(#body, body)

assert(luaha.net.listen("0.0.0.0", port, function(conn)
    -- The first line may be long in coming (a held connection); the rest of a request follows at once.
    local line = conn:receive("*l", hold)
    while line and line ~= "" do
        line = conn:receive("*l", 2)
    end
    conn:send(reply)
    conn:close()
end))
io.stdout:write("listening\n")
io.stdout:flush()
