-- tests/lib/anycast-rs.lua: a real server of the anycast bed: answers each line of a long-lived TCP connection with its name.
-- SPDX-License-Identifier: GPL-2.0-or-later
-- Usage: luaha tests/lib/anycast-rs.lua NAME [PORT]   (port 80 by default; prints "listening" once it listens)
-- A connection ends after an idle minute or 100 000 lines: every loop here is bounded.
local luaha = require "luaha"

local name, port = assert(arg[1], "usage: anycast-rs.lua NAME [PORT]"), tonumber(arg[2]) or 80
local reply = name .. "\n"

assert(luaha.net.listen("0.0.0.0", port, function(conn)
    for _ = 1, 100000 do
        local line = conn:receive("*l", 60)
        if not line or not conn:send(reply) then break end
    end
    conn:close()
end, { backlog = 256 }))
io.stdout:write("listening\n")
io.stdout:flush()
