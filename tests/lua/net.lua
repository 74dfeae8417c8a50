-- tests/lua/net.lua: TCP, Unix and UDP sockets on loopback: receive patterns, timeouts, errors, concurrency.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local net = luaha.net

-- A listener whose handler answers each line with "echo <line>", until "bye".
local function echo_server(addr)
    return assert(net.listen(addr or "127.0.0.1", 0, function(conn)
        while true do
            local line = conn:receive("*l", 5)
            if not line or line == "bye" then break end
            conn:send("echo " .. line .. "\n")
        end
        conn:close()
    end))
end

t.test("tcp-echo-and-patterns", function()
    local srv = assert(net.listen("127.0.0.1", 0, function(conn, addr, port)
        t.eq(addr, "127.0.0.1", "peer address")
        assert(port > 0, "peer port")
        conn:send("abc\r\nline two\nxyzREST")
        conn:close()
    end))
    local c = assert(net.tcp("127.0.0.1", srv:port(), { timeout = 2 }))
    t.eq(c:receive(), "abc", "crlf line")
    t.eq(c:receive("*l"), "line two", "lf line")
    t.eq(c:receive(3), "xyz", "three bytes")
    t.eq(c:receive("*a"), "REST", "rest")
    local r, err, partial = c:receive()
    t.eq(r, nil, "after eof"); t.eq(err, "closed", "err"); t.eq(partial, "", "partial")
    c:close()
    srv:close()
end)

t.test("tcp-many-concurrent-clients", function()
    local srv = echo_server()
    local port = srv:port()
    local tasks = {}
    for i = 1, 50 do
        tasks[i] = luaha.spawn(function()
            local c = assert(net.tcp("127.0.0.1", port, { timeout = 5 }))
            local got = {}
            for j = 1, 3 do
                assert(c:send(("c%d-%d\n"):format(i, j)))
                got[j] = assert(c:receive())
            end
            c:send("bye\n")
            c:close()
            return table.concat(got, ",")
        end)
    end
    for i = 1, 50 do
        t.eq(tasks[i]:join(10), ("echo c%d-1,echo c%d-2,echo c%d-3"):format(i, i, i), "client " .. i)
    end
    srv:close()
end)

t.test("tcp-receive-timeout-returns-partial", function()
    local srv = assert(net.listen("127.0.0.1", 0, function(conn)
        conn:send("partial line without end")
        luaha.sleep(0.5)
        conn:close()
    end))
    local c = assert(net.tcp("127.0.0.1", srv:port()))
    local t0 = luaha.now()
    local r, err, partial = c:receive("*l", 0.05)
    assert(luaha.now() - t0 >= 0.05, "returned early")
    t.eq(r, nil, "result"); t.eq(err, "timeout", "err"); t.eq(partial, "partial line without end", "partial")
    c:close()
    srv:close()
end)

-- (the connect timeout needs a silent peer: tests/netns/tcp-udp-between-namespaces.sh)
t.test("tcp-refused-and-bad-arguments", function()
    local srv = echo_server()
    local port = srv:port()
    srv:close()     -- a port just freed: nothing listens there
    local c, err = net.tcp("127.0.0.1", port, { timeout = 1 })
    t.eq(c, nil, "refused conn"); t.eq(err, "connect: Connection refused", "refused err")
    t.checkerr("not an IPv4 or IPv6", net.tcp, "not-an-address", 80)
    t.checkerr("unknown option 'timout'", net.tcp, "127.0.0.1", 80, { timout = 1 })
    t.checkerr("option 'source' is not an IP address", net.tcp, "127.0.0.1", 80, { source = "x" })
    local busy = echo_server()
    local dup, derr = net.listen("127.0.0.1", busy:port(), function() end)
    t.eq(dup, nil, "second listener")
    assert(derr:find("^listen 127.0.0.1:%d+: Address already in use$"), derr)
    busy:close()
end)

t.test("tcp-check-connects-and-closes", function()
    local accepted = 0
    local srv = assert(net.listen("127.0.0.1", 0, function(conn) accepted = accepted + 1 conn:close() end))
    local port = srv:port()
    local took, err = net.tcp_check("127.0.0.1", port, { timeout = 1 })
    assert(type(took) == "number" and took >= 0 and took < 1, "tcp_check: " .. tostring(took) .. " " .. tostring(err))
    took, err = net.tcp_check("::1", port, { timeout = 1 })
    t.eq(took, nil, "nothing listens on ::1"); t.eq(err, "connect: Connection refused", "::1 err")
    -- Many at once, none left open.
    local tasks = {}
    for i = 1, 100 do tasks[i] = luaha.spawn(net.tcp_check, "127.0.0.1", port, { timeout = 2 }) end
    for i = 1, 100 do assert(type(tasks[i]:join()) == "number", "concurrent " .. i) end
    luaha.sleep(0.1)
    t.eq(accepted, 101, "every check was accepted")
    srv:close()
    took, err = net.tcp_check("127.0.0.1", port, { timeout = 1 })
    t.eq(took, nil, "refused"); t.eq(err, "connect: Connection refused", "refused err")
    took, err = net.tcp_check("127.0.0.1", port, { source = "192.0.2.1" })
    t.eq(took, nil, "foreign source"); t.eq(err, "bind 192.0.2.1: Cannot assign requested address", "bind err")
    t.checkerr("not an IPv4 or IPv6", net.tcp_check, "not-an-address", 80)
    t.checkerr("port 1-65535 expected", net.tcp_check, "127.0.0.1", 0)
    t.checkerr("unknown option 'timout'", net.tcp_check, "127.0.0.1", 80, { timout = 1 })
    t.checkerr("attempt to wait outside a task", coroutine.wrap(net.tcp_check), "127.0.0.1", port)
end)

t.test("tcp-ipv6-loopback", function()
    local srv = echo_server("::1")
    local c = assert(net.tcp("::1", srv:port(), { timeout = 2 }))
    c:send("six\n")
    t.eq(c:receive(), "echo six", "reply")
    assert(tostring(c):find("^tcp %[::1%]:%d+ %(connected%)$"), tostring(c))
    c:send("bye\n")
    c:close()
    assert(tostring(c):find("closed"), tostring(c))
    t.checkerr("closed connection", c.send, c, "x")
    srv:close()
end)

t.test("close-wakes-waiting-receiver", function()
    local srv = echo_server()
    local c = assert(net.tcp("127.0.0.1", srv:port()))
    local reader = luaha.spawn(function() return c:receive("*l", 5) end)
    luaha.sleep(0.02)
    t.checkerr("already receiving", c.receive, c)
    c:close()
    local r, err = reader:join(1)
    t.eq(r, nil, "result"); t.eq(err, "closed", "err")
    srv:close()
end)

t.test("big-send-waits-for-writable", function()
    local size = 8 * 1024 * 1024
    local srv = assert(net.listen("127.0.0.1", 0, function(conn)
        luaha.sleep(0.05)   -- let the sender fill the socket buffers first
        local data = conn:receive(size, 10)
        conn:send(data and tostring(#data) .. "\n" or "short\n")
        conn:close()
    end))
    local c = assert(net.tcp("127.0.0.1", srv:port(), { timeout = 10 }))
    t.eq(c:send(string.rep("x", size)), size, "bytes sent")
    t.eq(c:receive(), tostring(size), "bytes received")
    c:close()
    srv:close()
end)

t.test("receive-lines-bounded", function()
    -- max_line bounds a line; an over-long one is refused and dropped to its end, the next one is taken
    local srv = assert(net.listen("127.0.0.1", 0, function(conn)
        conn:send("short\r\n" .. string.rep("x", 100) .. "\nafter\n" .. string.rep("y", 50))
        luaha.sleep(0.05)       -- an over-long line refused before its end has come
        conn:send(string.rep("y", 60))
        luaha.sleep(0.05)
        conn:send(string.rep("y", 60) .. "\n" .. string.rep("z", 64) .. "\nlast")
        conn:close()
    end, { max_line = 64 }))
    local c = assert(net.tcp("127.0.0.1", srv:port(), { timeout = 5, max_line = 64 }))
    t.eq(c:receive(), "short", "short line")
    local r, err, partial = c:receive()
    t.eq(r, nil, "over-long line"); t.eq(err, "receive: line longer than 64 bytes", "err"); t.eq(partial, nil, "partial")
    t.eq(c:receive(), "after", "the line after the refused one")
    r, err = c:receive()
    t.eq(r, nil, "over-long line in parts"); t.eq(err, "receive: line longer than 64 bytes", "err")
    t.eq(c:receive(), string.rep("z", 64), "a line of exactly max_line bytes")
    local last, lerr, lpartial = c:receive()
    t.eq(last, nil, "at the end")
    t.eq(lerr, "closed", "end"); t.eq(lpartial, "last", "partial at the end")
    c:close()
    srv:close()
    t.checkerr("'max_line' must be a whole number", net.tcp, "127.0.0.1", 1, { max_line = 0 })
    t.checkerr("'max_line' must be a whole number", net.unix, "/nonexistent", { max_line = 1.5 })
    t.checkerr("'max_line' must be a whole number", net.listen, "127.0.0.1", 0, print, { max_line = -1 })
end)

t.test("receive-huge-line-keeps-the-loop-turning", function()
    -- Another process sends 64 MiB without a line feed: refused at 1 MiB (the default) and
    -- dropped as it arrives, while a 10 ms ticker here keeps ticking (on main: stalls of seconds).
    local got = {}
    local srv = assert(net.listen("127.0.0.1", 0, function(conn)
        got[1], got[2] = conn:receive("*l", 60)
        got[3] = conn:receive("*l", 60)
        conn:close()
    end))
    local gap, last, ticking = 0, luaha.now(), true
    local ticker = luaha.spawn(function()
        while ticking do
            luaha.sleep(0.01)
            gap = math.max(gap, luaha.now() - last)
            last = luaha.now()
        end
    end)
    local r = t.run_luaha({ "-e", ([[
        local c = assert(require("luaha").net.tcp("127.0.0.1", %d, { timeout = 60 }))
        assert(c:send(string.rep("x", 64 * 1024 * 1024) .. "\nnext\n"))
        c:close()]]):format(srv:port()) }, { timeout = 60 })
    ticking = false
    ticker:join(1)
    srv:close()
    t.eq(r.status, 0, "the sender: " .. r.stderr)
    t.eq(got[1] and #got[1], nil, "huge line (its length)")
    t.eq(got[2], "receive: line longer than 1048576 bytes", "err")
    t.eq(got[3], "next", "the line after it")
    assert(gap < 1, ("the loop stalled %.3f s"):format(gap))
end)

t.test("unix-listen-connect-mode-stale", function()
    local dir = os.tmpname()
    os.remove(dir)
    local path = dir .. ".sock"
    -- a stale socket file from a dead process is replaced
    local first = assert(net.listen_unix(path, function() end))
    first:close()
    local stale = io.open(path, "w")  -- close removed it; make a non-socket file to be refused
    stale:close()
    local s, err = net.listen_unix(path, function() end)
    t.eq(s, nil, "non-socket file in the way"); assert(err:find("File exists", 1, true), err)
    os.remove(path)
    local srv = assert(net.listen_unix(path, function(conn)
        conn:send("hello over unix\n")
        conn:close()
    end, { mode = "0660" }))
    local p = io.popen("stat -c %a " .. path)
    t.eq(p:read("l"), "660", "mode")
    p:close()
    local busy, berr = net.listen_unix(path, function() end)
    t.eq(busy, nil, "second listener"); assert(berr:find("Address already in use", 1, true), berr)
    local c = assert(net.unix(path))
    t.eq(c:receive(), "hello over unix", "line")
    c:close()
    srv:close()
    t.eq(io.open(path), nil, "socket removed on close")
    local none, nerr = net.unix(path)
    t.eq(none, nil, "connect to a missing socket"); assert(nerr:find("No such file", 1, true), nerr)
end)

t.test("unix-close-removes-only-its-own-socket", function()
    local path = os.tmpname()
    os.remove(path)
    local moved = path .. ".moved"
    -- a socket nobody answers on (its server closed after it was moved) is stale: replaced
    local old = assert(net.listen_unix(path, function() end))
    assert(os.rename(path, moved))
    old:close()
    local stale = assert(net.listen_unix(moved, function(conn) conn:close() end))
    stale:close()
    t.eq(io.open(moved), nil, "the replaced stale socket removed on close")
    -- a server whose socket was replaced by another's leaves the other's alone
    local first = assert(net.listen_unix(path, function() end))
    os.remove(path)
    local second = assert(net.listen_unix(path, function(conn) conn:send("second\n") conn:close() end))
    first:close()
    local c = assert(net.unix(path))
    t.eq(c:receive(), "second", "the second server's socket is still there")
    c:close()
    second:close()
    -- a file put where a closed server's socket was stays too
    local third = assert(net.listen_unix(path, function() end))
    os.remove(path)
    local f = assert(io.open(path, "w"))
    f:write("keep\n")
    f:close()
    third:close()
    f = io.open(path)
    t.eq(f and f:read("l"), "keep", "a regular file in its place")
    if f then f:close() end
    os.remove(path)
end)

t.test("udp-v4-v6-and-timeout", function()
    for _, case in ipairs({ { "inet", "127.0.0.1" }, { "inet6", "::1" } }) do
        local family, addr = case[1], case[2]
        local a = assert(net.udp(family))
        assert(a:bind(addr, 0))
        local _, port = a:getsockname()
        local b = assert(net.udp(family))
        assert(b:bind_device("lo"))
        assert(b:sendto("ping " .. family, addr, port))
        local data, from, fport = a:recvfrom(2)
        t.eq(data, "ping " .. family, "datagram")
        t.eq(from, addr, "sender")
        assert(a:sendto("pong", from, fport))
        t.eq((b:recvfrom(2)), "pong", "reply")
        local r, err = a:recvfrom(0.02)
        t.eq(r, nil, "nothing"); t.eq(err, "timeout", "timeout")
        a:close(); b:close()
    end
    local u = net.udp()
    local ok, err = u:bind_device("no-such-if0")
    t.eq(ok, nil, "bad device"); assert(err:find("bind_device no-such-if0", 1, true), err)
    t.checkerr("closed udp", function() u:close(); u:sendto("x", "127.0.0.1", 9) end)
end)

t.test("udp-recv-waits-without-blocking-others", function()
    local a = net.udp(); assert(a:bind("127.0.0.1", 0))
    local _, port = a:getsockname()
    local receiver = luaha.spawn(function() return a:recvfrom(2) end)
    local ticks = 0
    for _ = 1, 5 do ticks = ticks + 1; luaha.sleep(0.002) end
    net.udp():sendto("late", "127.0.0.1", port)
    t.eq(receiver:join(2), "late", "datagram")
    t.eq(ticks, 5, "ticks while waiting")
    a:close()
end)

t.test("out-of-descriptors-pauses-accepting", function()
    local served = 0
    local srv = assert(net.listen("127.0.0.1", 0, function(conn) served = served + 1 conn:close() end))
    -- sockets of earlier tests that nothing closed must not free descriptors during this one
    collectgarbage(); collectgarbage()
    local socks = {}
    for _ = 1, 200000 do        -- until the descriptor limit
        local u = net.udp()
        if not u then break end
        socks[#socks + 1] = u
    end
    assert(#socks < 200000, "no descriptor limit reached")
    socks[#socks]:close(); socks[#socks] = nil          -- room for the client's socket only
    local c = assert(net.tcp("127.0.0.1", srv:port(), { timeout = 2 }))
    for _ = 1, 100 do   -- take back any descriptor the runtime freed meanwhile (ASan's own, a collected socket)
        local u = net.udp()
        if not u then break end
        socks[#socks + 1] = u
    end
    local cpu0 = os.clock()
    luaha.sleep(0.05)
    t.eq(served, 0, "served while out of descriptors")
    luaha.sleep(0.25)
    local cpu = os.clock() - cpu0
    assert(cpu < 0.05, ("the loop spun: %.2f s of CPU in 0.3 s"):format(cpu))
    for i = #socks, math.max(1, #socks - 20), -1 do socks[i]:close(); socks[i] = nil end
    luaha.sleep(0.3)
    t.eq(served, 1, "served once descriptors were free")
    for _, u in ipairs(socks) do u:close() end
    c:close()
    srv:close()
end)

luaha.exit(t.failures() == 0 and 0 or 1)
