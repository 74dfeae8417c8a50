-- tests/lua/http-limits.lua: luaha.http's bounds: methods (405), max_connections, the whole-request deadline, out of descriptors.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local http, net = luaha.http, luaha.net

-- request(port, raw): sends raw on a new connection; the reply's status, headers (lower case) and body.
local function request(port, raw)
    local c = assert(net.tcp("127.0.0.1", port, { timeout = 5 }))
    assert(c:send(raw))
    local reply, err, partial = c:receive("*a")
    c:close()
    reply = reply or error(err .. ": " .. partial)
    local head, body = reply:match("^(.-)\r\n\r\n(.*)$")
    local headers = {}
    for k, v in (head or ""):gmatch("\r\n([^:\r\n]+): ([^\r\n]*)") do headers[k:lower()] = v end
    return tonumber((head or ""):match("^HTTP/1%.%d (%d%d%d) ")), headers, body
end

local function get(port, method, path)
    return request(port, ("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"):format(method,
        path or "/"))
end

t.test("http-methods-405-with-allow", function()
    local ran = 0
    local srv = assert(http.listen("127.0.0.1", 0, function()
        ran = ran + 1
        return 200, "read only"
    end, { methods = { "GET", "HEAD" } }))
    local port = srv:port()
    for _, m in ipairs({ "POST", "PUT", "DELETE", "PATCH", "OPTIONS" }) do
        local status, headers = get(port, m)
        t.eq(status, 405, m); t.eq(headers.allow, "GET, HEAD", m .. " Allow")
    end
    t.eq(ran, 0, "handler runs for refused methods")
    t.eq(get(port, "GET"), 200, "GET"); t.eq(get(port, "HEAD"), 200, "HEAD")
    t.eq(srv:stats().refused.method, 5, "refusals counted")
    t.checkerr("option 'methods': unknown method 'FETCH'", http.listen, "127.0.0.1", 0, print, { methods = { "FETCH" } })
    t.checkerr("option 'methods' is empty", http.listen, "127.0.0.1", 0, print, { methods = {} })
    srv:close()
end)

t.test("http-max-connections-closes-the-rest-at-once", function()
    local srv = assert(http.listen("127.0.0.1", 0, function() return 200, "ok" end, { max_connections = 3 }))
    local port, held = srv:port(), {}
    for i = 1, 3 do held[i] = assert(net.tcp("127.0.0.1", port, { timeout = 2 })) end
    luaha.sleep(0.1)
    t.eq(srv:stats().connections, 3, "open connections")
    local extra = {}
    for i = 1, 2 do extra[i] = assert(net.tcp("127.0.0.1", port, { timeout = 2 })) end
    for i = 1, 2 do
        local t0 = luaha.now()
        local data, err = extra[i]:receive("*a", 2)
        t.eq(data, "", "over the cap: closed (" .. tostring(err) .. ")")
        assert(luaha.now() - t0 < 1, "closed at once")
        extra[i]:close()
    end
    local st = srv:stats()
    t.eq(st.refused.connections, 2, "refused counted"); t.eq(st.accepted, 5, "accepted")
    for _, c in ipairs(held) do c:close() end
    local t0 = luaha.now()
    while srv:stats().connections > 0 and luaha.now() - t0 < 3 do luaha.sleep(0.05) end
    t.eq(srv:stats().connections, 0, "the closed ones are gone")
    t.eq(get(port, "GET"), 200, "a request after")
    srv:close()
end)

t.test("http-deadline-closes-a-trickling-client", function()
    local srv = assert(http.listen("127.0.0.1", 0, function() return 200, "ok" end, { deadline = 1, timeout = 5 }))
    local c = assert(net.tcp("127.0.0.1", srv:port(), { timeout = 5 }))
    local t0, closed_at = luaha.now(), nil
    local line = "GET / HTTP/1.1\r\nX-Slow: " .. string.rep("a", 100)
    for i = 1, #line do         -- a byte every 0.1 s: evhttp's own timeout (5 s) never fires
        local ok = c:send(line:sub(i, i))
        if not ok or c:receive(1, 0.1) == nil and select(2, c:receive(1, 0)) == "closed" then
            closed_at = luaha.now() - t0
            break
        end
    end
    c:close()
    assert(closed_at, "the trickling client was never closed")
    assert(closed_at >= 0.9 and closed_at < 3, "closed after " .. closed_at .. " s, deadline 1 s")
    t.eq(srv:stats().refused.deadline, 1, "counted")
    -- A client that asks at once is not hurried, and a kept-alive connection gets the deadline anew.
    local k = assert(net.tcp("127.0.0.1", srv:port(), { timeout = 5 }))
    for i = 1, 3 do
        assert(k:send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        t.eq(k:receive(), "HTTP/1.1 200 OK", "keep-alive request " .. i)
        repeat local l = assert(k:receive()) until l == ""
        t.eq(k:receive(2), "ok", "body " .. i)
        luaha.sleep(0.6)        -- 1.8 s in all on the connection, each wait shorter than the deadline
    end
    k:close()
    t.eq(srv:stats().refused.deadline, 1, "no more refusals")
    srv:close()
end)

-- The child for the descriptor limit: a server on default options; "PORT PID" in arg[1]; /quit prints its stats.
local CHILD = [[
local luaha = require "luaha"
local srv
srv = assert(luaha.http.listen("127.0.0.1", 0, function(req)
    if req.path == "/quit" then
        print("accept pauses " .. (srv.stats and srv:stats().refused.accept or -1))
        luaha.after(0.2, function() luaha.exit(0) end)
    end
    return 200, "ok"
end))
local st = assert(io.open("/proc/self/stat"))
local pid = st:read("n")
st:close()
local f = assert(io.open(arg[1], "w"))
f:write(srv:port(), " ", pid)
f:close()
luaha.after(60, function() luaha.exit(2) end)
]]

-- cpu(pid): the process's user and system time in seconds.
local function cpu(pid)
    local f = assert(io.open("/proc/" .. pid .. "/stat"))
    local fields = {}
    for w in f:read("a"):match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = w end
    f:close()
    return (tonumber(fields[12]) + tonumber(fields[13])) / 100     -- utime and stime, in ticks of 1/100 s
end

t.test("http-out-of-descriptors-pauses-accepting", function()
    local base = os.tmpname()
    local script, portfile = base .. ".lua", base .. ".port"
    local f = assert(io.open(script, "w"))
    f:write(CHILD)
    f:close()
    local child = luaha.spawn(function()
        return luaha.proc.run({ "prlimit", "--nofile=40:40", t.exe(), script, portfile }, { timeout = 60 })
    end)
    local port, pid
    for _ = 1, 200 do
        local p = io.open(portfile)
        if p then port, pid = p:read("n", "n"); p:close() end
        if pid then break end
        luaha.sleep(0.05)
    end
    assert(pid, "the child did not start")
    -- 120 clients, three times the child's descriptors, each sending a byte a second for 4 s.
    local clients, stop = {}, false
    for i = 1, 120 do
        clients[i] = luaha.spawn(function()
            local c = net.tcp("127.0.0.1", port, { timeout = 10 })
            if not c then return end
            local line, n = "GET /slow HTTP/1.1\r\n", 0
            while not stop do
                n = n % #line + 1
                if not c:send(line:sub(n, n)) then break end
                luaha.sleep(1)
            end
            c:close()
        end)
    end
    luaha.sleep(0.5)
    local cpu0 = cpu(pid)
    luaha.sleep(4)
    local used = cpu(pid) - cpu0
    stop = true
    for _, c in ipairs(clients) do c:join(15) end
    local status
    for _ = 1, 50 do            -- the descriptors come back as the clients' connections close
        local ok, code = pcall(get, port, "GET", "/quit")
        status = ok and code
        if status == 200 then break end
        luaha.sleep(0.1)
    end
    local r = child:join(30)
    os.remove(script); os.remove(portfile); os.remove(base)
    t.eq(status, 200, "a request once the clients are gone")
    assert(r and r.status == 0, "the child: " .. (r and (tostring(r.status) .. " " .. r.stderr:sub(1, 300)) or "none"))
    local lines = select(2, r.stderr:gsub("\n", "\n"))
    local pauses = tonumber(r.stdout:match("accept pauses (%-?%d+)"))
    print(("out of descriptors: %d log lines (%d bytes), %.2f s of CPU in 4 s, %s accept pauses"):format(lines,
        #r.stderr, used, tostring(pauses)))
    assert(lines <= 20, ("%d log lines: %s"):format(lines, r.stderr:sub(1, 300)))
    assert(used < 1.5, ("the child used %.2f s of CPU in 4 s"):format(used))
    assert(pauses and pauses > 0, "accepting was never paused")
end)

luaha.exit(t.failures() == 0 and 0 or 1)
