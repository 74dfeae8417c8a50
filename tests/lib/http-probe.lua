-- tests/lib/http-probe.lua: a client for the seed scenario: requests through the VIP, and the time a failover takes.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage:
  luaha tests/lib/http-probe.lua get ADDR          one request to ADDR:80; prints the body, exit 0 if 200
  luaha tests/lib/http-probe.lua watch ADDR SECS   a request every 10 ms (each with 0.1 s to answer), for SECS
                                                   seconds; prints "START OK|FAIL" per request, START its
                                                   wall-clock time
]]
local luaha = require "luaha"

-- get(addr, timeout): the body of a 200 reply, or nil and why.
local function get(addr, timeout)
    local conn, err = luaha.net.tcp(addr, 80, { timeout = timeout })
    if not conn then return nil, err end
    conn:settimeout(timeout)
    local ok
    ok, err = conn:send("GET / HTTP/1.0\r\nHost: " .. addr .. "\r\n\r\n")
    local reply = ok and conn:receive("*a")
    conn:close()
    if not reply then return nil, err or "no reply" end
    if not reply:find("^HTTP/1%.[01] 200") then return nil, "not 200: " .. reply:sub(1, 40) end
    return reply:match("\r\n\r\n(.*)$")
end

local mode, addr = arg[1], arg[2]
if mode == "get" and addr then
    local body, err = get(addr, 2)
    if not body then
        io.stderr:write("get ", addr, ": ", err, "\n")
        luaha.exit(1)
    end
    io.write(body)
elseif mode == "watch" and addr and tonumber(arg[3]) then
    local stop = luaha.now() + tonumber(arg[3])
    io.stdout:setvbuf("line")
    while luaha.now() < stop do
        local started, t0 = luaha.time(), luaha.now()
        local body = get(addr, 0.1)
        print(("%.6f %s %s"):format(started, body and "OK" or "FAIL", body and body:gsub("%s+$", "") or ""))
        luaha.sleep(math.max(0, 0.01 - (luaha.now() - t0)))
    end
else
    io.stderr:write("usage: http-probe.lua get ADDR | watch ADDR SECS\n")
    luaha.exit(2)
end
