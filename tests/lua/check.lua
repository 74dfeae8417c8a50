-- tests/lua/check.lua: luaha.check and luaha.core.regex against loopback listeners and small programs.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local check = require "luaha.check"
local regex = require "luaha.core.regex"
local net = luaha.net

-- A listener that reads the request line and answers with reply, sent in parts with pauses between.
local function http_server(...)
    local parts = { ... }
    if #parts == 0 then parts = { "HTTP/1.0 200 OK\r\n\r\nhello" } end
    return assert(net.listen("127.0.0.1", 0, function(conn)
        conn:receive("*l", 2)
        for i, p in ipairs(parts) do
            if i > 1 then luaha.sleep(0.05) end
            conn:send(p)
        end
        conn:close()
    end))
end

local GET = "GET / HTTP/1.0\r\n\r\n"

-- A port nobody listens on: one the kernel gave a listener that is closed again.
local function closed_port()
    local srv = assert(net.listen("127.0.0.1", 0, function(conn) conn:close() end))
    local port = srv:port()
    srv:close()
    return port
end

t.test("regex-compile-and-match", function()
    local re = assert(regex.compile("^HTTP/1\\.[01] 200"))
    t.eq(re:match("HTTP/1.1 200 OK"), true, "match")
    t.eq(re:match("HTTP/1.1 404 Not Found"), false, "no match")
    t.eq(tostring(re), "regex ^HTTP/1\\.[01] 200", "tostring")
    local ci = assert(regex.compile("ok$", { icase = true }))
    t.eq(ci:match("all OK"), true, "icase")
    t.eq(assert(regex.compile("ok$")):match("all OK"), false, "case matters by default")
end)

t.test("regex-subject-with-nul-bytes", function()
    local re = assert(regex.compile("HTTP"))
    t.eq(re:match("\0\0HTTP/1.0"), true, "text after NUL bytes is searched")
    t.eq(assert(regex.compile("a.b")):match("a\0b"), false, "dot does not match NUL (POSIX)")
    t.eq(assert(regex.compile("b$")):match("a\0b"), true, "end of subject is its length")
end)

t.test("regex-bad-patterns-are-returned", function()
    local re, err = regex.compile("(unclosed")
    t.eq(re, nil, "bad pattern")
    assert(err:find("^regex %(unclosed: "), err)
    re, err = regex.compile("a{2,1}")
    t.eq(re, nil, "bad interval")
    assert(err:find("^regex a{2,1}: "), err)
    re, err = regex.compile("a\0b")
    t.eq(re, nil, "NUL in pattern")
    t.eq(err, "regex a: pattern holds a NUL byte", "NUL message")
end)

t.test("regex-bad-arguments-raise", function()
    t.checkerr("(string expected, got table)", regex.compile, {})
    t.checkerr("unknown option 'icas'", regex.compile, "x", { icas = true })
    local re = assert(regex.compile("x"))
    t.checkerr("bad argument #1 to 'match' (string expected, got table)", function() return re:match({}) end)
    t.checkerr("luaha.regex expected", re.match, {}, "x")
end)

t.test("tcp-send-expect-passes", function()
    local srv = http_server()
    t.eq(check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "HTTP", timeout = 2 }), true, "prefix")
    t.eq(check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "*", timeout = 2 }), true, "any reply")
    t.eq(check.tcp("127.0.0.1", srv:port(), { timeout = 2 }), true, "connect only")
    t.eq(check.tcp("127.0.0.1", srv:port(), { send = GET, timeout = 2 }), true, "send only")
    srv:close()
end)

t.test("tcp-wrong-expect-gives-reason", function()
    local srv = http_server()
    local ok, err = check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "SSH-", timeout = 2 })
    t.eq(ok, nil, "fails")
    t.eq(err, 'expected "SSH-" but got "HTTP/1.0 200 OK\\r\\n\\r\\nhello"', "reason")
    -- nanny's prefix match: the expected text must start the reply.
    ok, err = check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "200", timeout = 2 })
    t.eq(ok, nil, "not a prefix")
    assert(err:find('^expected "200" but got'), err)
    srv:close()
end)

t.test("tcp-reply-split-across-segments-passes", function()
    local srv = http_server("HT", "TP/1.0 2", "00 OK\r\n")
    t.eq(check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "HTTP/1.0 200", timeout = 2 }), true, "plain")
    t.eq(check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "200 OK", use_regex = true, timeout = 2 }),
        true, "regex")
    srv:close()
end)

t.test("tcp-short-reply-and-long-reply-reasons", function()
    local srv = http_server("HT")
    local ok, err = check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "HTTP", timeout = 2 })
    t.eq(ok, nil, "short")
    t.eq(err, 'expected "HTTP" but got "HT"', "short reason")
    srv:close()
    srv = http_server(("x"):rep(300))
    ok, err = check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "HTTP", timeout = 2 })
    t.eq(ok, nil, "long")
    t.eq(err, 'expected "HTTP" but got "' .. ("x"):rep(64) .. '"...', "long reason is cut")
    srv:close()
end)

t.test("tcp-regex-expect", function()
    local srv = http_server()
    local o = { send = GET, expect = "^HTTP/1\\.[01] 200", use_regex = true, timeout = 2 }
    t.eq(check.tcp("127.0.0.1", srv:port(), o), true, "matches")
    o.expect = "hel+o$"
    t.eq(check.tcp("127.0.0.1", srv:port(), o), true, "matches anywhere")
    o.expect = "^HTTP/1\\.[01] 404"
    local ok, err = check.tcp("127.0.0.1", srv:port(), o)
    t.eq(ok, nil, "no match")
    t.eq(err, 'expected regex "^HTTP/1\\\\.[01] 404" but got "HTTP/1.0 200 OK\\r\\n\\r\\nhello"', "reason")
    o.expect = "(HTTP"
    ok, err = check.tcp("127.0.0.1", srv:port(), o)
    t.eq(ok, nil, "bad regex")
    assert(err:find("^regex %(HTTP: "), err)
    srv:close()
end)

t.test("tcp-refused", function()
    local ok, err = check.tcp("127.0.0.1", closed_port(), { send = GET, expect = "HTTP", timeout = 2 })
    t.eq(ok, nil, "fails")
    t.eq(err, "connect: Connection refused", "reason")
end)

t.test("tcp-silent-listener-times-out", function()
    local held = {}
    local srv = assert(net.listen("127.0.0.1", 0, function(conn)
        held[#held + 1] = conn
        conn:receive("*a", 3)
        conn:close()
    end))
    local t0 = luaha.now()
    local ok, err = check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "HTTP", timeout = 0.4 })
    local took = luaha.now() - t0
    t.eq(ok, nil, "fails")
    t.eq(err, "timeout", "reason")
    assert(took >= 0.35 and took < 1.5, "took " .. took)
    for _, c in ipairs(held) do c:close() end
    srv:close()
end)

-- A UDP responder answering each datagram with "pong <data>", until "quit".
local function udp_responder(family, addr)
    local s = assert(net.udp(family))
    assert(s:bind(addr, 0))
    local _, port = s:getsockname()
    local task = luaha.spawn(function()
        while true do
            local data, from, fport = s:recvfrom(5)
            if not data or data == "quit" then break end
            s:sendto("pong " .. data, from, fport)
        end
        s:close()
    end)
    return port, function()
        local c = assert(net.udp(family))
        c:sendto("quit", addr, port)
        c:close()
        task:join(2)
    end
end

t.test("udp-echo", function()
    local port, stop = udp_responder("inet", "127.0.0.1")
    t.eq(check.udp("127.0.0.1", port, { send = "ping", expect = "pong ping", timeout = 2 }), true, "prefix")
    t.eq(check.udp("127.0.0.1", port, { send = "ping", timeout = 2 }), true, "any reply")
    t.eq(check.udp("127.0.0.1", port, { send = "x", expect = "^pong [a-z]$", use_regex = true, timeout = 2 }),
        true, "regex")
    local ok, err = check.udp("127.0.0.1", port, { send = "ping", expect = "PONG", timeout = 2 })
    t.eq(ok, nil, "mismatch")
    t.eq(err, 'expected "PONG" but got "pong ping"', "reason")
    t.eq(check.run({ address = "127.0.0.1", port = port, protocol = "udp", send = "hi", expect = "pong hi",
        timeout = 2 }), true, "run")
    stop()
end)

t.test("udp-ipv6-echo", function()
    local s = net.udp("inet6")
    local can = s and s:bind("::1", 0)
    if s then s:close() end
    if not can then print("SKIP udp-ipv6-echo: no ::1") return end
    local port, stop = udp_responder("inet6", "::1")
    t.eq(check.udp("::1", port, { send = "ping", expect = "pong", timeout = 2 }), true, "::1")
    stop()
end)

t.test("udp-no-answer-times-out", function()
    local t0 = luaha.now()
    local ok, err = check.udp("127.0.0.1", closed_port(), { send = "ping", timeout = 0.3 })
    t.eq(ok, nil, "fails")
    t.eq(err, "timeout", "reason")
    assert(luaha.now() - t0 < 1.5, "bounded")
end)

t.test("program-substitutes-address-and-matches", function()
    t.eq(check.program("echo %h", "192.0.2.7", { expect = "192.0.2.7", timeout = 5 }), true, "%h")
    t.eq(check.program("echo host=%h port=%p", "192.0.2.7", { expect = "host=192.0.2.7 port=8080", port = 8080,
        timeout = 5 }), true, "%h and %p inside words")
    local ok, err = check.program("echo FAIL %h", "192.0.2.7", { expect = "OK", timeout = 5 })
    t.eq(ok, nil, "mismatch")
    t.eq(err, 'expected "OK" but got "FAIL 192.0.2.7"', "reason")
    ok, err = check.program("echo OK extra", "192.0.2.7", { expect = "OK", timeout = 5 })
    t.eq(ok, nil, "exact, not a prefix")
    t.eq(err, 'expected "OK" but got "OK extra"', "exact reason")
    t.eq(check.program("echo all ok", "x", { expect = "OK$", use_regex = true, timeout = 5 }), nil, "regex case")
    t.eq(check.program("echo all OK", "x", { expect = "OK$", use_regex = true, timeout = 5 }), true, "regex")
    t.eq(check.program("true", "x", { timeout = 5 }), true, "no expect: exit status 0")
end)

t.test("program-failures", function()
    local ok, err = check.program("false", "x", { expect = "OK", timeout = 5 })
    t.eq(ok, nil, "fails")
    t.eq(err, "false exited with status 1", "exit status")
    ok, err = check.program("/nonexistent/check %h", "x", { expect = "OK", timeout = 5 })
    t.eq(ok, nil, "missing")
    assert(err:find("No such file or directory"), err)
    ok, err = check.program("   ", "x", { expect = "OK" })
    t.eq(ok, nil, "empty")
    t.eq(err, "send_program is empty", "empty reason")
    -- %h becomes one word even with spaces in it: here a shell command that kills its shell.
    ok, err = check.program("sh -c %h", "kill -9 $$", { expect = "OK", timeout = 5 })
    t.eq(ok, nil, "killed")
    t.eq(err, "sh killed by signal 9", "signal")
end)

t.test("program-past-its-timeout", function()
    local t0 = luaha.now()
    local ok, err = check.program("sleep 5", "x", { expect = "OK", timeout = 0.3 })
    t.eq(ok, nil, "fails")
    t.eq(err, "timeout", "reason")
    assert(luaha.now() - t0 < 2, "killed at the timeout")
end)

t.test("run-dispatches", function()
    local srv = http_server()
    t.eq(check.run({ address = "127.0.0.1", port = srv:port(), send = GET, expect = "HTTP", timeout = 2 }),
        true, "tcp")
    local ok, err = check.run({ address = "127.0.0.1", port = srv:port(), protocol = "tcp", send = GET,
        expect = "HTTP/1\\.[01]", use_regex = false, timeout = 2 })
    t.eq(ok, nil, "use_regex false is plain")
    assert(err:find("^expected"), err)
    t.eq(check.run({ address = "127.0.0.1", port = srv:port(), send = GET, expect = "HTTP/1\\.[01]",
        use_regex = true, timeout = 2, name = "web", weight = 3 }), true, "regex, other keys ignored")
    t.eq(check.run({ address = "192.0.2.9", port = srv:port(), send_program = "echo %h:%p",
        expect = "192.0.2.9:" .. srv:port(), send = "ignored", timeout = 5 }), true, "send_program")
    t.eq(check.run({ address = "127.0.0.1", port = srv:port(), send_program = "echo OK", expect = "O.",
        use_regex = true, timeout = 5 }), nil, "send_program output is compared exactly, as nanny did")
    srv:close()
end)

t.test("checks-hand-back-the-reply-when-asked", function()
    -- Split, and the part after the expected prefix arrives later: the whole of it comes back.
    local srv = http_server("HTTP/1.0 200 OK\r\n", "\r\nload 0.25\n")
    t.eq(select("#", check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "HTTP", timeout = 2 })), 1,
        "unasked: true alone, as before")
    local ok, err, reply = check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "HTTP", reply = true, timeout = 2 })
    t.eq(ok, true, "passes"); t.eq(err, nil, "no reason")
    t.eq(reply, "HTTP/1.0 200 OK\r\n\r\nload 0.25\n", "the reply until the server closed")
    ok, err, reply = check.tcp("127.0.0.1", srv:port(), { send = GET, expect = "SSH", reply = true, timeout = 2 })
    t.eq(ok, nil, "mismatch"); assert(err:find('^expected "SSH"'), err)
    t.eq(reply, "HTTP/1.0 200 OK\r\n\r\nload 0.25\n", "the reply of a failed check")
    ok, err, reply = check.run({ address = "127.0.0.1", port = srv:port(), send = GET, expect = "HTTP/1\\.0",
        use_regex = true, reply = true, timeout = 2 })
    t.eq(ok, true, "run"); t.eq(err, nil, "run's reason"); t.eq(reply, "HTTP/1.0 200 OK\r\n\r\nload 0.25\n", "run's reply")
    local run = check.prepare({ address = "127.0.0.1", port = srv:port(), send = GET, reply = true, timeout = 2 })
    ok, err, reply = run()
    t.eq(ok, true, "prepared"); t.eq(err, nil, "prepared reason")
    assert(reply and reply:find("load 0.25", 1, true), tostring(reply))
    srv:close()
    -- A server that says something and keeps the connection: what came before the timeout.
    local held = {}
    srv = assert(net.listen("127.0.0.1", 0, function(conn)
        held[#held + 1] = conn
        conn:send("220 ready\r\n")
        conn:receive("*a", 3)
        conn:close()
    end))
    ok, err, reply = check.tcp("127.0.0.1", srv:port(), { reply = true, timeout = 0.3 })
    t.eq(ok, true, "banner"); t.eq(err, nil, "banner reason"); t.eq(reply, "220 ready\r\n", "banner text")
    for _, c in ipairs(held) do c:close() end
    srv:close()
    ok, err, reply = check.tcp("127.0.0.1", closed_port(), { reply = true, timeout = 2 })
    t.eq(ok, nil, "refused"); t.eq(err, "connect: Connection refused", "reason"); t.eq(reply, nil, "no reply")
    local port, stop = udp_responder("inet", "127.0.0.1")
    ok, err, reply = check.udp("127.0.0.1", port, { send = "ping", expect = "pong", reply = true, timeout = 2 })
    t.eq(ok, true, "udp"); t.eq(err, nil, "udp reason"); t.eq(reply, "pong ping", "udp reply")
    t.eq(select("#", check.udp("127.0.0.1", port, { send = "ping", timeout = 2 })), 1, "udp unasked")
    stop()
    ok, err, reply = check.program("echo load %h", "192.0.2.9", { expect = "load", reply = true, timeout = 5 })
    t.eq(ok, nil, "program output compared whole"); assert(err:find("^expected"), err)
    t.eq(reply, "load 192.0.2.9", "program output")
    t.checkerr("half_open: no reply to hand back", check.run, { address = "127.0.0.1", half_open = 1, reply = true })
    t.checkerr("unknown option 'reply'", check.halfopen, "127.0.0.1", 80, { reply = true })
end)

t.test("http-check-passes-on-status-and-hands-back-the-response", function()
    local srv = assert(luaha.http.listen("127.0.0.1", 0, function(req)
        if req.path == "/health" then return 200, "load 0.5\n", { ["X-Load"] = "0.5" } end
        return 503, "draining\n"
    end))
    local ok, err, resp = check.http("127.0.0.1", srv:port(), { path = "/health", timeout = 2 })
    t.eq(ok, true, "200"); t.eq(err, nil, "no reason")
    t.eq(resp.status, 200, "status"); t.eq(resp.body, "load 0.5\n", "body"); t.eq(resp.headers["x-load"], "0.5", "header")
    ok, err, resp = check.http("127.0.0.1", srv:port(), { path = "/", timeout = 2 })
    t.eq(ok, nil, "503"); t.eq(err, "expected status 200 but got 503", "reason")
    t.eq(resp.body, "draining\n", "the body of a failed check")
    t.eq(check.http("127.0.0.1", srv:port(), { path = "/", expect = 503, timeout = 2 }), true, "expect 503")
    srv:close()
    ok, err, resp = check.http("127.0.0.1", closed_port(), { timeout = 2 })
    t.eq(ok, nil, "refused"); t.eq(err, "connect: Connection refused", "reason"); t.eq(resp, nil, "no response")
    t.checkerr("bad argument #3 to 'http' (unknown option 'send')", check.http, "127.0.0.1", 80, { send = "x" })
    t.checkerr("expect: a status 100-599 expected, got HTTP", check.http, "127.0.0.1", 80, { expect = "HTTP" })
    t.checkerr("bad argument #2 to 'http' (port 1-65535 expected", check.http, "127.0.0.1", 0)
end)

t.test("bad-arguments-raise", function()
    t.checkerr("bad argument #1 to 'tcp' (string expected, got number)", check.tcp, 1, 80)
    t.checkerr("bad argument #2 to 'tcp' (port 1-65535 expected, got x)", check.tcp, "127.0.0.1", "x")
    t.checkerr("bad argument #2 to 'udp' (port 1-65535 expected, got 0)", check.udp, "127.0.0.1", 0)
    t.checkerr("unknown option 'expct'", check.tcp, "127.0.0.1", 80, { expct = "x" })
    t.checkerr("unknown option 'source'", check.udp, "127.0.0.1", 80, { source = "127.0.0.1" })
    t.checkerr("send: string expected, got number", check.tcp, "127.0.0.1", 80, { send = 1 })
    t.checkerr("timeout: positive number expected, got 0", check.tcp, "127.0.0.1", 80, { timeout = 0 })
    t.checkerr("bad argument #1 to 'program'", check.program, nil, "x")
    t.checkerr("bad argument #2 to 'program'", check.program, "true", 7)
    t.checkerr("bad argument #1 to 'run' (table expected, got string)", check.run, "x")
    t.checkerr("address: string expected", check.run, { port = 80 })
    t.checkerr("protocol: \"tcp\" or \"udp\" expected, got sctp", check.run, { address = "127.0.0.1", protocol = "sctp" })
end)

require("luaha").exit(t.failures() == 0 and 0 or 1)
