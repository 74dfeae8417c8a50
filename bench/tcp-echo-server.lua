-- bench/tcp-echo-server.lua: the listener for the round-trip benchmark: answers one line per connection, then closes.
-- SPDX-License-Identifier: GPL-2.0-or-later
-- Usage: luaha bench/tcp-echo-server.lua PORTFILE; writes its port to PORTFILE, ends on a line "quit".
local luaha = require "luaha"

local server
server = assert(luaha.net.listen("127.0.0.1", 0, function(conn)
    local line = conn:receive("*l", 30)
    if line == "quit" then server:close() end
    if line then conn:send(line .. "\n") end
    conn:close()        -- the server closes first: TIME_WAIT stays here, not on client ports
end, { backlog = 65535 }))
local f = assert(io.open(arg[1], "w"))
f:write(server:port(), "\n")
f:close()
