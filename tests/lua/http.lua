-- tests/lua/http.lua: luaha.http on loopback: requests reaching handlers, concurrency, errors, bodies, HEAD, clients gone, close.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local http, net = luaha.http, luaha.net

print("EXPECT-TRACEBACK")     -- the handler errors below are logged with their tracebacks on purpose

-- parse(reply): the status, headers (lower-case names) and body of a raw reply.
local function parse(reply)
    local head, body = reply:match("^(.-)\r\n\r\n(.*)$")
    assert(head, "not an HTTP reply: " .. reply)
    local headers = {}
    for k, v in head:gmatch("\r\n([^:\r\n]+): ([^\r\n]*)") do headers[k:lower()] = v end
    return { status = tonumber(head:match("^HTTP/1%.%d (%d%d%d) ")), line = head:match("^[^\r]*"),
        headers = headers, body = body }
end

-- exchange(port, raw): sends raw on a new connection and reads until the server closes it.
local function exchange(port, raw)
    local c = assert(net.tcp("127.0.0.1", port, { timeout = 5 }))
    assert(c:send(raw))
    local reply, err, partial = c:receive("*a")
    c:close()
    return parse(reply or error(err .. ": " .. partial))
end

-- request(port, method, target [, headers] [, body]): one request with "Connection: close".
local function request(port, method, target, headers, body)
    local lines = { method .. " " .. target .. " HTTP/1.1", "Host: 127.0.0.1", "Connection: close" }
    for _, h in ipairs(headers or {}) do lines[#lines + 1] = h end
    if body then lines[#lines + 1] = "Content-Length: " .. #body end
    return exchange(port, table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or ""))
end

t.test("http-get-query-and-headers", function()
    local seen
    local srv = assert(http.listen("127.0.0.1", 0, function(req)
        seen = req
        return 200, "ok"
    end))
    local target = "/a%20b/c?x=1&y=hello+world&z=%41%2b&flag&&empty="
    local r = request(srv:port(), "GET", target, { "X-Custom: Foo", "X-Dup: a", "X-Dup: b" })
    t.eq(r.status, 200, "status"); t.eq(r.body, "ok", "body")
    t.eq(r.headers["content-type"], "text/plain", "default content type")
    t.eq(r.headers["content-length"], "2", "content length")
    t.eq(seen.method, "GET", "method"); t.eq(seen.uri, target, "uri"); t.eq(seen.path, "/a b/c", "path")
    t.eq(seen.query.x, "1", "x"); t.eq(seen.query.y, "hello world", "y"); t.eq(seen.query.z, "A+", "z")
    t.eq(seen.query.flag, "", "flag"); t.eq(seen.query.empty, "", "empty")
    t.eq(seen.headers["x-custom"], "Foo", "header"); t.eq(seen.headers.host, "127.0.0.1", "host")
    t.eq(seen.headers["x-dup"], "a, b", "repeated header"); t.eq(seen.headers["X-Custom"], nil, "upper case name")
    t.eq(seen.body, "", "empty body"); t.eq(seen.peer, "127.0.0.1", "peer")
    assert(math.type(seen.port) == "integer" and seen.port > 0 and seen.port ~= srv:port(), "peer port")
    assert(tostring(srv):find("^http server 127%.0%.0%.1:%d+ %(listening%)$"), tostring(srv))
    srv:close()
end)

t.test("http-handlers-run-concurrently", function()
    local srv = assert(http.listen("127.0.0.1", 0, function(req)
        if req.path == "/slow" then luaha.sleep(0.3) end
        return 200, req.path
    end))
    local port, order = srv:port(), {}
    local slow = luaha.spawn(function()
        local r = request(port, "GET", "/slow")
        order[#order + 1] = r.body
    end)
    luaha.sleep(0.05)
    local t0 = luaha.now()
    order[#order + 1] = request(port, "GET", "/fast").body
    assert(luaha.now() - t0 < 0.2, "the fast request waited for the slow one")
    slow:join(5)
    t.eq(table.concat(order, ","), "/fast,/slow", "order of replies")
    srv:close()
end)

t.test("http-status-codes-and-headers", function()
    local srv = assert(http.listen("127.0.0.1", 0, function(req)
        if req.path == "/missing" then
            return 404, "nope", { ["X-Thing"] = 1, ["Content-Type"] = "application/json" }
        elseif req.path == "/created" then
            return 201, 42
        elseif req.path == "/empty" then
            return 204, "not sent"
        end
        return 599
    end))
    local port = srv:port()
    local r = request(port, "GET", "/missing")
    t.eq(r.line, "HTTP/1.1 404 Not Found", "status line"); t.eq(r.body, "nope", "body")
    t.eq(r.headers["x-thing"], "1", "custom header"); t.eq(r.headers["content-type"], "application/json", "type")
    r = request(port, "GET", "/created")
    t.eq(r.status, 201, "created"); t.eq(r.body, "42", "number body")
    r = request(port, "GET", "/empty")
    t.eq(r.status, 204, "no content"); t.eq(r.body, "", "no body"); t.eq(r.headers["content-type"], nil, "no type")
    r = request(port, "GET", "/other")
    t.eq(r.status, 599, "unusual status"); t.eq(r.body, "", "nil body")
    srv:close()
end)

t.test("http-handler-error-is-500-and-the-server-goes-on", function()
    local srv = assert(http.listen("127.0.0.1", 0, function(req)
        if req.path == "/boom" then error("boom") end
        if req.path == "/wait-boom" then luaha.sleep(0.01); error({}) end
        if req.path == "/bad-status" then return "200", "x" end
        if req.path == "/bad-header" then return 200, "x", { ["Bad Name"] = "v" } end
        if req.path == "/split" then return 200, "x", { ["X-A"] = "v\r\nX-Injected: 1" } end
        return 200, "fine"
    end))
    local port = srv:port()
    for _, path in ipairs({ "/boom", "/wait-boom", "/bad-status", "/bad-header", "/split" }) do
        local r = request(port, "GET", path)
        t.eq(r.status, 500, path); t.eq(r.body, "internal server error\n", path .. " body")
        t.eq(r.headers["bad name"], nil, "no partial headers"); t.eq(r.headers["x-injected"], nil, "no injection")
    end
    t.eq(request(port, "GET", "/").body, "fine", "after the errors")
    srv:close()
end)

t.test("http-post-body-and-max-body", function()
    local seen
    local srv = assert(http.listen("127.0.0.1", 0, function(req)
        seen = req
        return 200, req.method .. " " .. req.body
    end, { max_body = 100 }))
    local port = srv:port()
    local body = "a=1&b=\0binary\r\n"
    local r = request(port, "POST", "/form", { "Content-Type: application/x-www-form-urlencoded" }, body)
    t.eq(r.status, 200, "status"); t.eq(r.body, "POST " .. body, "echoed body")
    t.eq(seen.headers["content-length"], tostring(#body), "content length")
    seen = nil
    r = request(port, "POST", "/big", nil, string.rep("x", 200))
    t.eq(r.status, 413, "too large"); t.eq(seen, nil, "handler not run")
    srv:close()
end)

t.test("http-head", function()
    local method
    local srv = assert(http.listen("127.0.0.1", 0, function(req)
        method = req.method
        return 200, "twelve bytes", { ["X-Head"] = "yes" }
    end))
    local r = request(srv:port(), "HEAD", "/")
    t.eq(method, "HEAD", "method"); t.eq(r.status, 200, "status"); t.eq(r.body, "", "no body")
    t.eq(r.headers["content-length"], "12", "length of the body a GET would get")
    t.eq(r.headers["x-head"], "yes", "header")
    srv:close()
end)

t.test("http-client-gone-before-the-reply", function()
    local finished = 0
    local srv = assert(http.listen("127.0.0.1", 0, function(req)
        luaha.sleep(0.2)
        finished = finished + 1
        if req.path == "/fail" then error("after the client left") end
        return 200, string.rep("x", 100000)
    end))
    local port = srv:port()
    for _, path in ipairs({ "/ok", "/fail" }) do
        local c = assert(net.tcp("127.0.0.1", port, { timeout = 2 }))
        assert(c:send("GET " .. path .. " HTTP/1.1\r\nHost: x\r\n\r\n"))
        luaha.sleep(0.05)       -- the request is read and its task waits
        c:close()
    end
    luaha.sleep(0.4)
    collectgarbage(); collectgarbage()
    t.eq(finished, 2, "handlers finished")
    t.eq(request(port, "GET", "/after").status, 200, "the server goes on")
    srv:close()
end)

t.test("http-keep-alive", function()
    local srv = assert(http.listen("127.0.0.1", 0, function(req)
        return 200, "reply to " .. req.path
    end))
    local c = assert(net.tcp("127.0.0.1", srv:port(), { timeout = 2 }))
    for i = 1, 3 do
        assert(c:send("GET /" .. i .. " HTTP/1.1\r\nHost: x\r\n\r\n"))
        t.eq(c:receive(), "HTTP/1.1 200 OK", "status line " .. i)
        local len
        repeat
            local line = assert(c:receive())
            len = len or tonumber(line:match("^Content%-Length: (%d+)$"))
        until line == ""
        t.eq(c:receive(len), "reply to /" .. i, "body " .. i)
        collectgarbage(); collectgarbage()      -- the finished requests go, their connection stays
    end
    c:close()
    luaha.sleep(0.05)
    t.eq(request(srv:port(), "GET", "/x").body, "reply to /x", "after the client closed")
    srv:close()
end)

t.test("http-timeout", function()
    local srv = assert(http.listen("127.0.0.1", 0, function() return 200, "x" end, { timeout = 0.2 }))
    local c = assert(net.tcp("127.0.0.1", srv:port(), { timeout = 3 }))
    local t0 = luaha.now()
    t.eq(c:receive("*a"), "", "the server closed a silent connection")
    local dt = luaha.now() - t0
    assert(dt >= 0.15 and dt < 1.5, "closed after " .. dt .. " s")
    c:close()
    srv:close()
end)

t.test("http-close", function()
    local srv = assert(http.listen("127.0.0.1", 0, function()
        luaha.sleep(0.2)
        return 200, "late"
    end))
    local port = srv:port()
    local pending = luaha.spawn(function() return request(port, "GET", "/") end)
    luaha.sleep(0.05)
    srv:close()
    assert(tostring(srv):find("%(closing%)$"), tostring(srv))
    local c, err = net.tcp("127.0.0.1", port, { timeout = 1 })
    t.eq(c, nil, "connect after close"); t.eq(err, "connect: Connection refused", "err")
    local r = pending:join(5)
    t.eq(r.status, 200, "pending request answered"); t.eq(r.body, "late", "its body")
    luaha.sleep(0.05)
    assert(tostring(srv):find("%(closed%)$"), tostring(srv))
    t.checkerr("attempt to use a closed http server", srv.port, srv)
    srv:close()         -- again: nothing
    do
        local scoped <close> = assert(http.listen("127.0.0.1", 0, function() return 200 end))
        port = scoped:port()
    end
    c, err = net.tcp("127.0.0.1", port, { timeout = 1 })
    t.eq(c, nil, "connect after <close>"); t.eq(err, "connect: Connection refused", "err")
end)

t.test("http-bad-arguments-and-busy-port", function()
    local function h() return 200 end
    t.checkerr("unknown option 'timout'", http.listen, "127.0.0.1", 0, h, { timout = 1 })
    t.checkerr("option 'timeout' must be", http.listen, "127.0.0.1", 0, h, { timeout = 0 })
    t.checkerr("option 'max_body' must be a number", http.listen, "127.0.0.1", 0, h, { max_body = "big" })
    t.checkerr("not an IPv4 or IPv6 address", http.listen, "localhost", 0, h)
    t.checkerr("function expected", http.listen, "127.0.0.1", 0, "h")
    local busy = assert(http.listen("127.0.0.1", 0, h))
    local dup, err = http.listen("127.0.0.1", busy:port(), h)
    t.eq(dup, nil, "second server")
    t.eq(err, ("http listen 127.0.0.1:%d: Address already in use"):format(busy:port()), "err")
    busy:close()
end)

t.test("http-ipv6", function()
    local peer
    local srv = assert(http.listen("::1", 0, function(req)
        peer = req.peer
        return 200, "six"
    end))
    local c = assert(net.tcp("::1", srv:port(), { timeout = 2 }))
    c:send("GET / HTTP/1.0\r\n\r\n")
    t.eq(parse(c:receive("*a")).body, "six", "body")
    c:close()
    t.eq(peer, "::1", "peer")
    assert(tostring(srv):find("^http server %[::1%]:%d+"), tostring(srv))
    srv:close()
end)

luaha.exit(t.failures() == 0 and 0 or 1)
