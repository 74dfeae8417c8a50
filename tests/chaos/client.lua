-- tests/chaos/client.lua: the chaos suite's client: a request through the VIP every 10 ms, each in a task of its own.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[=[
Usage: luaha tests/chaos/client.lua ADDR SECS [INTERVAL [TIMEOUT]]

Starts a GET to ADDR:80 every INTERVAL seconds (default 0.01), each with TIMEOUT seconds to
answer (default 0.9: less than TCP's first SYN retransmission, 1 s, so that a SYN dropped by a
router that has just let the VIP go is a failed request, not a slow one), without waiting for the
ones before it. Prints one line per request when it ends, in order of ending:

    START END OK NAME        START END FAIL WHY

START and END are wall-clock times (luaha.time()). It stops starting requests after SECS seconds
or at SIGTERM, and exits once the last one has ended.
]=]
local luaha = require "luaha"

local addr, secs = arg[1], tonumber(arg[2])
local interval, timeout = tonumber(arg[3] or 0.01), tonumber(arg[4] or 0.9)
if not addr or not secs or not interval or not timeout then
    io.stderr:write("usage: client.lua ADDR SECS [INTERVAL [TIMEOUT]]\n")
    luaha.exit(2)
end

-- get(): the body of a 200 reply, or nil and why.
local function get()
    local conn, err = luaha.net.tcp(addr, 80, { timeout = timeout })
    if not conn then return nil, err end
    local ok, reply
    ok, err = conn:send("GET / HTTP/1.0\r\nHost: " .. addr .. "\r\n\r\n")
    if ok then reply, err = conn:receive("*a") end
    conn:close()
    if not reply then return nil, "reply: " .. tostring(err) end
    if not reply:find("^HTTP/1%.[01] 200") then return nil, "not 200" end
    return (reply:match("\r\n\r\n(.-)%s*$"))
end

local running = 0
local function request(started)
    running = running + 1
    local body, err = get()
    print(("%.6f %.6f %s %s"):format(started, luaha.time(), body and "OK" or "FAIL", (body or err):gsub("%s", "_")))
    running = running - 1
end

local stopping = false
luaha.on_signal("TERM", function() stopping = true end)

io.stdout:setvbuf("line")
local start, n = luaha.now(), 0
while not stopping and luaha.now() - start < secs do
    luaha.spawn(request, luaha.time())
    n = n + 1
    -- The pace is kept against the start, but after a stall (a busy CPU) it starts anew rather than
    -- sending the requests it missed in a burst.
    local late = luaha.now() - (start + n * interval)
    if late > 0.1 then start = start + late end
    luaha.sleep(math.max(0, start + n * interval - luaha.now()))
end
local stop_at = luaha.now() + timeout + 1
while running > 0 and luaha.now() < stop_at do luaha.sleep(0.05) end
luaha.exit(0)
