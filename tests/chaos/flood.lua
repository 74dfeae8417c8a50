-- tests/chaos/flood.lua: the chaos suite's attackers: datagrams at the heartbeat port, wrong passwords at the status page.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage:
  luaha tests/chaos/flood.lua udp ADDR PORT RATE SECS
        RATE datagrams a second of 68 bytes ("LUHA", version 1, garbage: what a forger without
        the key can send) to ADDR:PORT for SECS seconds, in bursts every 10 ms; prints
        "sent N in S s (R/s), E errors".
  luaha tests/chaos/flood.lua passwd ADDR PORT USER CONNS SECS
        CONNS clients, each asking GET /metrics with USER and a new wrong password, one request
        after the other, for SECS seconds; prints "N requests: CODE xN ...".
]]
local luaha = require "luaha"

local mode = arg[1]

local function udp(addr, port, rate, secs)
    local sock = assert(luaha.net.udp())
    local junk = "LUHA\1" .. ("\0"):rep(63)
    local burst = math.max(1, math.floor(rate / 100))
    local start, sent, errors, n = luaha.now(), 0, 0, 0
    while luaha.now() - start < secs do
        for _ = 1, burst do
            -- Send errors (a full buffer, an ICMP unreachable for an earlier datagram) are counted, not fatal.
            if sock:sendto(junk, addr, port) then sent = sent + 1 else errors = errors + 1 end
        end
        n = n + 1
        luaha.sleep(math.max(0, start + n * 0.01 - luaha.now()))
    end
    local took = luaha.now() - start
    print(("sent %d in %.1f s (%.0f/s), %d errors"):format(sent, took, sent / took, errors))
end

local function b64(s)
    local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return (s:gsub("..?.?", function(c)
        local a, b, d = c:byte(1, 3)
        local v = a * 65536 + (b or 0) * 256 + (d or 0)
        local out = {}
        for i = 1, 4 do
            local k = (v >> (6 * (4 - i))) & 63
            out[i] = chars:sub(k + 1, k + 1)
        end
        if not b then out[3] = "=" end
        if not d then out[4] = "=" end
        return table.concat(out)
    end))
end

local function passwd(addr, port, user, conns, secs)
    local codes, total = {}, 0
    local stop_at = luaha.now() + secs
    local function client(id)
        local n = 0
        while luaha.now() < stop_at do
            n = n + 1
            local auth = b64(("%s:wrong-%d-%d"):format(user, id, n))
            local conn, err = luaha.net.tcp(addr, port, { timeout = 2 })
            local code
            if conn then
                conn:settimeout(math.max(1, stop_at - luaha.now()))
                local ok = conn:send(("GET /metrics HTTP/1.0\r\nAuthorization: Basic %s\r\n\r\n"):format(auth))
                local line = ok and conn:receive("*l")
                code = line and line:match("^HTTP/1%.[01] (%d+)") or "none"
                conn:close()
            else
                luaha.sleep(0.1)
                code = "connect:" .. err
            end
            codes[code] = (codes[code] or 0) + 1
            total = total + 1
        end
    end
    local tasks = {}
    for i = 1, conns do tasks[i] = luaha.spawn(client, i) end
    for _, t in ipairs(tasks) do t:join(secs + 10) end
    local parts = {}
    for code, n in pairs(codes) do parts[#parts + 1] = ("%s x%d"):format(code, n) end
    table.sort(parts)
    print(("%d requests: %s"):format(total, table.concat(parts, ", ")))
end

if mode == "udp" and arg[2] and tonumber(arg[3]) and tonumber(arg[4]) and tonumber(arg[5]) then
    udp(arg[2], tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5]))
elseif mode == "passwd" and arg[2] and tonumber(arg[3]) and arg[4] and tonumber(arg[5]) and tonumber(arg[6]) then
    passwd(arg[2], tonumber(arg[3]), arg[4], tonumber(arg[5]), tonumber(arg[6]))
else
    io.stderr:write("usage: flood.lua udp ADDR PORT RATE SECS | passwd ADDR PORT USER CONNS SECS\n")
    luaha.exit(2)
end
