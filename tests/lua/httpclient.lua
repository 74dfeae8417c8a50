-- tests/lua/httpclient.lua: luaha.http.request against luaha.http.listen and raw servers: framing, splits, bounds, errors.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local http, net = luaha.http, luaha.net

--[[
raw(script): a server that reads a request's head (and the body its Content-Length says), keeps
it in got.request, then answers with script(conn), which sends and sleeps as it likes. The
request is read with bounds, so a broken client cannot hang the test.
]]
local function raw(script)
    local got = {}
    local srv = assert(net.listen("127.0.0.1", 0, function(conn, addr)
        local lines = {}
        for _ = 1, 100 do
            local l = conn:receive("*l", 5)
            if not l or l == "" then break end
            lines[#lines + 1] = l
        end
        local len = tonumber((table.concat(lines, "\n"):match("\nContent%-Length: (%d+)")))
        got.request, got.peer = table.concat(lines, "\n"), addr
        got.body = len and conn:receive(len, 5) or nil
        script(conn)
        conn:close()
    end))
    return srv, got
end

-- send(...): a script that sends each string, sleeping where a number is given.
local function send(...)
    local parts = { ... }
    return function(conn)
        for _, p in ipairs(parts) do
            if type(p) == "number" then luaha.sleep(p) else conn:send(p) end
        end
    end
end

local function get(port, opts)
    opts = opts or {}
    opts.host, opts.port = "127.0.0.1", port
    opts.timeout = opts.timeout or 5
    return http.request(opts)
end

-- fails(want, port, opts): the request fails with want, within bound seconds (default 3).
local function fails(want, port, opts, bound)
    local t0 = luaha.now()
    local st, err = get(port, opts)
    t.eq(st, nil, want .. ": status")
    t.eq(err, want, "error")
    local took = luaha.now() - t0
    assert(took < (bound or 3), ("%s: took %.2f s"):format(want, took))
    return took
end

t.test("request-against-luaha-http-listen", function()
    local seen
    local srv = assert(http.listen("127.0.0.1", 0, function(req)
        seen = req
        if req.path == "/missing" then return 404, "no such page\n" end
        return 200, req.method .. " " .. req.path .. " " .. req.body, { ["X-Served-By"] = "test" }
    end))
    local st, h, body = get(srv:port(), { path = "/health?x=1", headers = { ["X-Probe"] = "yes" } })
    t.eq(st, 200, "status"); t.eq(body, "GET /health ", "body")
    t.eq(h["x-served-by"], "test", "header names in lower case"); t.eq(h["X-Served-By"], nil, "no mixed case")
    t.eq(h["content-length"], tostring(#body), "content-length")
    t.eq(seen.headers["x-probe"], "yes", "request header"); t.eq(seen.query.x, "1", "query")
    t.eq(seen.headers.host, "127.0.0.1:" .. srv:port(), "Host with the port")
    local _
    st, _, body = get(srv:port(), { method = "POST", path = "/post", body = ("b"):rep(100000) })
    t.eq(st, 200, "POST status"); t.eq(body, "POST /post " .. ("b"):rep(100000), "POST body echoed")
    st, _, body = get(srv:port(), { path = "/missing" })
    t.eq(st, 404, "a 404 is a reply, not a failure"); t.eq(body, "no such page\n", "404 body")
    st, h, body = get(srv:port(), { method = "HEAD" })
    t.eq(st, 200, "HEAD status"); t.eq(body, "", "HEAD has no body")
    assert(tonumber(h["content-length"]) > 0, "HEAD keeps the length of the body it does not send")
    st, _, body = get(srv:port(), { version = "1.0" })
    t.eq(st, 200, "HTTP/1.0 status"); t.eq(body, "GET / ", "HTTP/1.0 body")
    srv:close()
end)

t.test("request-text-and-source", function()
    local srv, got = raw(send("HTTP/1.1 204 No Content\r\n\r\n"))
    local st, _, body = get(srv:port(), { method = "PUT", path = "/w", body = "data",
        headers = { Host = "www.example.com", ["X-N"] = 7 }, source = "127.0.0.2" })
    t.eq(st, 204, "status"); t.eq(body, "", "204 has no body")
    t.eq(got.request, "PUT /w HTTP/1.1\nConnection: close\nContent-Length: 4\nHost: www.example.com\nX-N: 7",
        "request head")
    t.eq(got.body, "data", "request body"); t.eq(got.peer, "127.0.0.2", "source address")
    srv:close()
end)

t.test("content-length-split-and-slow", function()
    -- The head split inside CR LF CR LF, the body in pieces, each after a pause.
    local srv = raw(send("HTTP/1.1 200 OK\r", 0.05, "\nContent-Length: 10\r\nX-A: 1\r\n\r", 0.05, "\n01234",
        0.1, "567", 0.05, "89", 1, "trailing garbage the length excludes"))
    local st, h, body = get(srv:port())
    t.eq(st, 200, "status"); t.eq(h["x-a"], "1", "header"); t.eq(body, "0123456789", "body")
    srv:close()
    -- One byte at a time.
    local _
    local reply = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    srv = raw(function(conn)
        for i = 1, #reply do conn:send(reply:sub(i, i)); luaha.sleep(0.002) end
    end)
    st, _, body = get(srv:port())
    t.eq(st, 200, "status byte by byte"); t.eq(body, "hello", "body byte by byte")
    srv:close()
end)

t.test("chunked-with-extensions-trailers-and-splits", function()
    local srv = raw(send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "5;name=value\r\nhel", 0.05, "lo\r\n", "1", 0.05, "0\r\n, world and more", 0.05, "\r\n",
        "0\r\nX-Trailer: t\r\n\r\n"))
    local st, h, body = get(srv:port())
    t.eq(st, 200, "status"); t.eq(body, "hello, world and more", "body"); t.eq(h["transfer-encoding"], "chunked", "te")
    t.eq(h["x-trailer"], nil, "trailers are dropped")
    srv:close()
    -- Many small chunks, and Content-Length ignored beside chunked.
    local parts = { "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" }
    for i = 1, 2000 do parts[#parts + 1] = ("1\r\n%s\r\n"):format(string.char(97 + i % 26)) end
    parts[#parts + 1] = "0\r\n\r\n"
    srv = raw(send(table.concat(parts)))
    local _
    st, _, body = get(srv:port())
    t.eq(st, 200, "status"); t.eq(#body, 2000, "2000 chunks of one byte"); t.eq(body:sub(1, 3), "bcd", "their order")
    srv:close()
end)

t.test("read-to-close-interim-folded-and-repeated-headers", function()
    local srv = raw(send("HTTP/1.1 100 Continue\r\n\r\n", 0.05, "HTTP/1.0 200 OK\r\nX-Fold: a\r\n  b\r\n",
        "Set-Cookie: x=1\r\nset-cookie: y=2\r\n\r\npart one, ", 0.1, "part two"))
    local st, h, body = get(srv:port())
    t.eq(st, 200, "the reply after 100 Continue"); t.eq(body, "part one, part two", "body read to the close")
    t.eq(h["x-fold"], "a b", "folded header"); t.eq(h["set-cookie"], "x=1, y=2", "repeated header")
    srv:close()
end)

t.test("one-timeout-covers-the-whole-exchange", function()
    -- A byte every 0.1 s: each receive is quick, the whole is not.
    local srv = raw(function(conn)
        conn:send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ = 1, 100 do
            if not conn:send("x") then return end
            luaha.sleep(0.1)
        end
    end)
    local took = fails("timeout", srv:port(), { timeout = 0.5 }, 3)
    assert(took >= 0.45, ("gave up after %.2f s, before the timeout"):format(took))
    srv:close()
    srv = raw(function() luaha.sleep(5) end)
    fails("timeout", srv:port(), { timeout = 0.3 }, 3)
    srv:close()
end)

t.test("bounds-on-head-and-body", function()
    local srv = raw(send("HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n", 5, "late"))
    local took = fails("http: body too large", srv:port())
    assert(took < 3, "a declared length over max_body fails before reading: " .. took)
    srv:close()
    srv = raw(send("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"))
    fails("http: body too large", srv:port(), { max_body = 10 })
    srv:close()
    srv = raw(send("HTTP/1.0 200 OK\r\n\r\n" .. ("z"):rep(100), ("z"):rep(100)))
    fails("http: body too large", srv:port(), { max_body = 150 })
    srv:close()
    srv = raw(send("HTTP/1.0 200 OK\r\n\r\n" .. ("z"):rep(150)))
    local st, _, body = get(srv:port(), { max_body = 150 })
    t.eq(st, 200, "exactly max_body read to the close"); t.eq(#body, 150, "its length")
    srv:close()
    srv = raw(send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" .. ("c"):rep(100) .. "\r\n",
        "64\r\n" .. ("c"):rep(100) .. "\r\n0\r\n\r\n"))
    fails("http: body too large", srv:port(), { max_body = 150 })
    srv:close()
    local long = "HTTP/1.1 200 OK\r\n" .. ("X-Filler: " .. ("f"):rep(90) .. "\r\n"):rep(700)
    srv = raw(send(long, 0.05, long))
    fails("http: headers too large", srv:port())
    srv:close()
end)

t.test("malformed-replies", function()
    local cases = {
        { "SSH-2.0-OpenSSH_9.2\r\n", "http: bad status line" },
        { "HTTP/1.1 2000 OK\r\n\r\n", "http: bad status line" },
        { "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "http: bad header line" },
        { "HTTP/1.1 200 OK\r\n folded first\r\n\r\n", "http: bad header line" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello", "http: bad content-length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "http: bad content-length" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "http: bad chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", "http: bad chunk" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", "closed" },
        { "HTTP/1.1 200 OK\r\nContent-Le", "closed" },
    }
    for _, c in ipairs(cases) do
        -- The server keeps the connection open for 3 s unless the reply is cut short on purpose:
        -- a malformed start must fail at once, not at the timeout.
        local srv = raw(send(c[1], c[2] == "closed" and 0 or 3))
        fails(c[2], srv:port(), { timeout = 5 }, 2)
        srv:close()
    end
    local srv = raw(send("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"))
    local st, h, body = get(srv:port())
    t.eq(st, 200, "a repeated equal length"); t.eq(body, "hello", "its body"); t.eq(h["content-length"], "5, 5", "kept")
    srv:close()
end)

t.test("connect-failures-and-bad-options", function()
    local srv = assert(net.listen("127.0.0.1", 0, function(conn) conn:close() end))
    local port = srv:port()
    srv:close()
    fails("connect: Connection refused", port)
    t.checkerr("unknown option 'url'", http.request, { host = "127.0.0.1", url = "/" })
    t.checkerr("host: string expected", http.request, { port = 80 })
    t.checkerr("port: 1-65535 expected", http.request, { host = "127.0.0.1", port = 0 })
    t.checkerr("path: a string without spaces", http.request, { host = "127.0.0.1", path = "/a b" })
    t.checkerr("method: a token expected", http.request, { host = "127.0.0.1", method = "GET /" })
    t.checkerr("Content-Length is set from body", http.request,
        { host = "127.0.0.1", headers = { ["Content-Length"] = "3" } })
    t.checkerr("a string without line breaks", http.request, { host = "127.0.0.1", headers = { X = "a\r\nB: c" } })
    t.checkerr("timeout: positive number", http.request, { host = "127.0.0.1", timeout = 0 })
    t.checkerr("max_body: non-negative integer", http.request, { host = "127.0.0.1", max_body = 1.5 })
    t.checkerr('version: "1.1" or "1.0"', http.request, { host = "127.0.0.1", version = "2" })
    t.checkerr("not an IPv4 or IPv6 address", http.request, { host = "localhost" })
    assert(type(http.listen) == "function", "luaha.http.listen is still there")
end)

luaha.exit(t.failures() == 0 and 0 or 1)
