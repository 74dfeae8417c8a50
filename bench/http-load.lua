-- bench/http-load.lua: load on a router's status listener: wrong-password logins at a rate, or a status document polled.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage:
  luaha bench/http-load.lua logins ADDR PORT USER RATE SECS
        RATE requests a second for SECS seconds, each GET /status.json as USER with a password of its
        own, always wrong, each on its connection (60 s to answer); then waits for the answers.
  luaha bench/http-load.lua status ADDR PORT USER:PASSWORD EVERY SECS
        GET /status.json with the right password every EVERY seconds (the next starts when the
        last is read whole, or on time), for SECS seconds.
Prints one line: "N requests: CODE xCOUNT ..., M bytes read, mean T s, max T s" (code "timeout",
"closed" or "connect..." for requests that got no status line).
]]
local luaha = require "luaha"

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(s)
    local out = {}
    for i = 1, #s, 3 do
        local a, b, c = s:byte(i, i + 2)
        local n = a << 16 | (b or 0) << 8 | (c or 0)
        local q = {}
        for k = 1, 4 do q[k] = B64:sub((n >> (6 * (4 - k)) & 63) + 1, (n >> (6 * (4 - k)) & 63) + 1) end
        if not b then q[3] = "=" end
        if not c then q[4] = "=" end
        out[#out + 1] = table.concat(q)
    end
    return table.concat(out)
end

local mode, addr, port, who, rate, secs = arg[1], arg[2], tonumber(arg[3]), arg[4], tonumber(arg[5]), tonumber(arg[6])
if not (mode == "logins" or mode == "status") or not (addr and port and who and rate and secs) then
    io.stderr:write("usage: http-load.lua logins ADDR PORT USER RATE SECS | status ADDR PORT USER:PASSWORD EVERY SECS\n")
    luaha.exit(2)
end

local counts, n, bytes, total, longest, pending = {}, 0, 0, 0, 0, 0

-- get(credentials): one request; its status code (or why none) counted, its time and size added.
local function get(credentials)
    local t0 = luaha.now()
    pending = pending + 1
    local code
    local conn, err = luaha.net.tcp(addr, port, { timeout = 60 })
    if conn then
        local ok
        ok, err = conn:send(("GET /status.json HTTP/1.0\r\nHost: %s\r\nAuthorization: Basic %s\r\n\r\n"):format(addr,
            b64(credentials)))
        local reply = ok and conn:receive("*a")
        conn:close()
        if reply then
            bytes = bytes + #reply
            code = reply:match("^HTTP/1%.[01] (%d+)")
        end
    end
    code = code or err or "no status line"
    local took = luaha.now() - t0
    n, total, longest, pending = n + 1, total + took, math.max(longest, took), pending - 1
    counts[code] = (counts[code] or 0) + 1
end

local stop = luaha.now() + secs
if mode == "logins" then
    local i, start = 0, luaha.now()
    while luaha.now() < stop do
        i = i + 1
        luaha.spawn(get, who .. ":wrong-" .. i)
        luaha.sleep(math.max(0, start + i / rate - luaha.now()))
    end
    local until_ = luaha.now() + 61
    while pending > 0 and luaha.now() < until_ do luaha.sleep(0.1) end
else
    while luaha.now() < stop do
        local t0 = luaha.now()
        get(who)
        luaha.sleep(math.max(0, rate - (luaha.now() - t0)))
    end
end
local parts = {}
for code, c in pairs(counts) do parts[#parts + 1] = ("%s x%d"):format(code, c) end
table.sort(parts)
print(("%d requests: %s, %d bytes read, mean %.3f s, max %.3f s%s"):format(n, table.concat(parts, ", "), bytes,
    n > 0 and total / n or 0, longest, pending > 0 and (", %d unanswered"):format(pending) or ""))
