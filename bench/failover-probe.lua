-- bench/failover-probe.lua: the client of bench/failover.sh: a request through the VIP every 2 ms, each in its own task.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[=[
Usage: luaha bench/failover-probe.lua ADDR SECS [INTERVAL [TIMEOUT]]

Starts a request to ADDR:80 every INTERVAL seconds (default 0.002), each with TIMEOUT seconds to
answer (default 0.1), without waiting for the previous one: tests/lib/http-probe.lua waits for
each answer, so a request lost in a failover hides the next TIMEOUT seconds from it, while here
the first request sent after the takeover is seen. Prints one line per request when it ends:

    START END OK|FAIL NAME-OR-ERROR

START and END are wall-clock times (seconds since the epoch), lines in order of END. It stops
starting requests after SECS seconds, or earlier once a failover is over: some request failed,
a later one succeeded, and no request failed for QUIET seconds (longer than TIMEOUT, so that
every request started before the quiet time has ended). It exits when the last request has ended.
]=]
local luaha = require "luaha"

local QUIET = 0.3

local addr, secs = arg[1], tonumber(arg[2])
local interval, timeout = tonumber(arg[3] or 0.002), tonumber(arg[4] or 0.1)
if not addr or not secs or not interval or not timeout then
    io.stderr:write("usage: failover-probe.lua ADDR SECS [INTERVAL [TIMEOUT]]\n")
    luaha.exit(2)
end

-- get(): the body of a 200 reply, or nil and why.
local function get()
    local conn, err = luaha.net.tcp(addr, 80, { timeout = timeout })
    if not conn then return nil, err end
    local ok
    ok, err = conn:send("GET / HTTP/1.0\r\nHost: " .. addr .. "\r\n\r\n")
    local reply = ok and conn:receive("*a")
    conn:close()
    if not reply then return nil, err or "no reply" end
    if not reply:find("^HTTP/1%.[01] 200") then return nil, "not 200" end
    return (reply:match("\r\n\r\n(.-)%s*$"))
end

local last_fail, ok_after_fail = nil, false     -- monotonic time of the last failure; an answer since

local function request(started)
    local body, err = get()
    print(("%.6f %.6f %s %s"):format(started, luaha.time(), body and "OK" or "FAIL", body or err))
    if body then
        ok_after_fail = last_fail ~= nil
    else
        last_fail, ok_after_fail = luaha.now(), false
    end
end

-- over(): a failover was seen and has been over for QUIET seconds.
local function over()
    return last_fail and ok_after_fail and luaha.now() - last_fail >= QUIET
end

io.stdout:setvbuf("line")
local start = luaha.now()
local n = 0
while luaha.now() - start < secs and not over() do
    luaha.spawn(request, luaha.time())
    n = n + 1
    -- The pace is kept against the start: a late wake-up is made up for, not carried on.
    luaha.sleep(math.max(0, start + n * interval - luaha.now()))
end
