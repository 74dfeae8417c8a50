-- bench/check-listener.lua: the real servers of the health-check benchmark: accepts on PORTS ports, counts connections.
-- SPDX-License-Identifier: GPL-2.0-or-later
-- Usage: luaha bench/check-listener.lua FIRST_PORT NPORTS COUNTFILE; every 0.1 s writes the total to COUNTFILE.
local luaha = require "luaha"
local first, n, countfile = tonumber(arg[1]), tonumber(arg[2]), arg[3]
local total = 0
for port = first, first + n - 1 do
    assert(luaha.net.listen("0.0.0.0", port, function(conn)
        total = total + 1
        conn:close()
    end, { backlog = 4096 }))
end
luaha.every(0.1, function()
    local f = assert(io.open(countfile .. ".tmp", "w"))
    f:write(total, "\n")
    f:close()
    os.rename(countfile .. ".tmp", countfile)
end)
