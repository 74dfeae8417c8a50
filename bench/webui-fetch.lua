-- bench/webui-fetch.lua: pages of the web UI fetched one after the other for a while, each path's time to first byte and size.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: luaha bench/webui-fetch.lua ADDR PORT USER PASSWORD SECS PATH...
Logs in once (POST /login: one Argon2id in the router's worker thread, seconds in UML), then, for
each PATH in turn, GETs it with the session's cookie for SECS seconds, one request after the
other (the next when the last is read whole), each on a connection of its own. Prints for each
PATH a line

    window PATH START END
    PATH: N requests (200 xN), SIZE bytes, first byte p50 T max T s, whole p50 T max T s

START and END being the window's wall-clock times (seconds since the epoch, as bash's
$EPOCHREALTIME), so that what else was measured meanwhile can be cut to it. The time to first
byte runs from the request's send to its status line; the whole, to the end of the body.
Exit 1 when the login fails or a request is not answered 200.
]]
local luaha = require "luaha"

local addr, port, user, password, secs = arg[1], tonumber(arg[2]), arg[3], arg[4], tonumber(arg[5])
local paths = { table.unpack(arg, 6) }
if not (addr and port and user and password and secs and #paths > 0) then
    io.stderr:write("usage: webui-fetch.lua ADDR PORT USER PASSWORD SECS PATH...\n")
    luaha.exit(2)
end
local ORIGIN = ("http://%s:%d"):format(addr, port)
local TIMEOUT = 120         -- seconds a request may take (a login's Argon2id in a busy UML, a large page)

local function enc(s)
    return (s:gsub("[^%w%-._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

--[[
request(text): sends a whole request on a new connection; status line, the rest of the reply
(headers and body), seconds to the status line, seconds to the end; or nil and why.
]]
local function request(text)
    local t0 = luaha.now()
    local conn, err = luaha.net.tcp(addr, port, { timeout = TIMEOUT })
    if not conn then return nil, err end
    local ok
    ok, err = conn:send(text)
    local line = ok and conn:receive("*l")
    local first = luaha.now() - t0
    local rest = line and conn:receive("*a")
    local whole = luaha.now() - t0
    conn:close()
    if not rest then return nil, err or "no reply" end
    return line, rest, first, whole
end

local function login()
    local body = ("user=%s&password=%s"):format(enc(user), enc(password))
    local line, rest = request(("POST /login HTTP/1.0\r\nHost: %s:%d\r\nOrigin: %s\r\n"
        .. "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"):format(addr, port,
        ORIGIN, #body, body))
    local cookie = line and line:match(" 303 ") and rest:match("\r?\n?[Ss]et%-[Cc]ookie: (luaha_session=%x+)")
    if not cookie then
        io.stderr:write(("login: %s\n"):format(tostring(line or rest)))
        luaha.exit(1)
    end
    return cookie
end

local function rank(list, q)
    if #list == 0 then return 0 end
    table.sort(list)
    local k = math.max(1, math.ceil(q * #list))
    return list[k]
end

local cookie = login()
local failed = false
for _, path in ipairs(paths) do
    local req = ("GET %s HTTP/1.0\r\nHost: %s:%d\r\nCookie: %s\r\n\r\n"):format(path, addr, port, cookie)
    local codes, firsts, wholes, size = {}, {}, {}, 0
    local start = luaha.time()
    local stop = luaha.now() + secs
    while luaha.now() < stop do
        local line, rest, first, whole = request(req)
        local code = line and line:match("^HTTP/1%.[01] (%d+)") or tostring(rest)
        codes[code] = (codes[code] or 0) + 1
        if code == "200" then
            firsts[#firsts + 1], wholes[#wholes + 1] = first, whole
            size = #(rest:match("\r\n\r\n(.*)$") or rest)
        else
            failed = true
        end
    end
    local said = {}
    for code, n in pairs(codes) do said[#said + 1] = ("%s x%d"):format(code, n) end
    table.sort(said)
    print(("window %s %.6f %.6f"):format(path, start, luaha.time()))
    print(("%s: %d requests (%s), %d bytes, first byte p50 %.3f max %.3f s, whole p50 %.3f max %.3f s"):format(path,
        #firsts, table.concat(said, ", "), size, rank(firsts, 0.5), rank(firsts, 1), rank(wholes, 0.5), rank(wholes, 1)))
    io.stdout:flush()
end
luaha.exit(failed and 1 or 0)
