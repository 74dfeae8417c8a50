-- tests/lua/lib/part-echo.lua: a part for tests/lua/part.lua: answers each message, as told by it.
-- SPDX-License-Identifier: GPL-2.0-or-later
local luaha = require "luaha"

local M = {}

function M.main()
    local parent = assert(luaha.part.parent(), "started as a part")
    parent:send({ hello = true, pid = luaha.daemon.getpid and luaha.daemon.getpid() or 0 })
    while true do
        local msg, err = parent:receive()
        if not msg then
            io.stderr:write("part-echo: " .. err .. "\n")     -- one write: the parent prints PASS lines to the same file
            return luaha.exit(err == "closed" and 0 or 1)
        end
        if msg.op == "echo" then
            parent:send({ echo = msg.value })
        elseif msg.op == "exit" then
            luaha.exit(msg.code)
        elseif msg.op == "spin" then        -- holds its loop for msg.seconds (a blocking call)
            os.execute("sleep " .. msg.seconds)
            parent:send({ spun = true })
        elseif msg.op == "flood" then
            for i = 1, msg.count do parent:send({ i = i, pad = ("x"):rep(msg.size) }) end
            parent:send({ flooded = msg.count })
        end
    end
end

return M
