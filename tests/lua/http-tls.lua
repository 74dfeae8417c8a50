-- tests/lua/http-tls.lua: luaha.http.listen with tls: curl --cacert gets the answer, plain HTTP gets none, bad pairs refused.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local tlscert = require "tlscert"
local http, net = luaha.http, luaha.net

local c, why = tlscert.make()
if not c then
    print("FAIL http-tls: no certificate: " .. why)
    luaha.exit(1)
end

-- curl(args...): runs curl with a 10 s bound; its result (status, stdout, stderr).
local function curl(...)
    return assert(luaha.proc.run({ "curl", "-sS", "-m", "10", ... }, { timeout = 20 }))
end

-- mapped(name): whether a library whose file name contains name is mapped in this process.
local function mapped(name)
    local f = assert(io.open("/proc/self/maps"))
    local maps = f:read("a")
    f:close()
    return maps:find(name, 1, true) ~= nil
end

-- OpenSSL costs every process 1.7 MiB of resident memory, and the locked heartbeat part 5.3 MiB:
-- it is loaded when TLS is first asked for, and not before.
t.test("openssl-is-loaded-when-tls-is-first-asked-for", function()
    t.eq(mapped("libssl.so"), false, "libssl mapped before any TLS")
    t.eq(mapped("libcrypto.so"), false, "libcrypto mapped before any TLS")
    local srv = assert(http.listen("127.0.0.1", 0, function() return 200, "" end))
    t.eq(mapped("libssl.so"), false, "libssl mapped by a plain listener")
    srv:close()
    t.eq(http.check_tls(c.cert, c.key), true, "check_tls")
    t.eq(mapped("libssl.so"), true, "libssl mapped after check_tls")
end)

t.test("https-answers-with-req-tls", function()
    local seen
    local srv = assert(http.listen("127.0.0.1", 0, function(req)
        seen = req
        return 200, "over " .. (req.tls and "tls" or "plain") .. " " .. req.path .. "\n"
    end, { tls = { cert = c.cert, key = c.key } }))
    local url = "https://127.0.0.1:" .. srv:port() .. "/a?x=1"
    local r = curl("--cacert", c.cert, url)
    t.eq(r.status, 0, "curl's status (" .. r.stderr .. ")")
    t.eq(r.stdout, "over tls /a\n", "body")
    t.eq(seen.tls, true, "req.tls"); t.eq(seen.query.x, "1", "query"); t.eq(seen.peer, "127.0.0.1", "peer")
    assert(tostring(srv):find("^https server 127%.0%.0%.1:%d+ %(listening%)$"), tostring(srv))
    -- The certificate is the one given: without it as a trusted CA, curl refuses the server.
    r = curl(url)
    t.eq(r.status, 60, "curl without --cacert (" .. r.stderr .. ")")
    -- Two POSTs with a body on one connection.
    r = curl("--cacert", c.cert, "-d", "k=v", url, url)
    t.eq(r.status, 0, "two POSTs (" .. r.stderr .. ")")
    t.eq(r.stdout, "over tls /a\nover tls /a\n", "two answers")
    t.eq(seen.method, "POST", "method"); t.eq(seen.body, "k=v", "body")
    srv:close()
end)

t.test("plain-http-to-the-tls-port-gets-nothing", function()
    local calls = 0
    local srv = assert(http.listen("127.0.0.1", 0, function()
        calls = calls + 1
        return 200, "answered\n"
    end, { tls = { cert = c.cert, key = c.key } }))
    local r = curl("http://127.0.0.1:" .. srv:port() .. "/")
    assert(r.status ~= 0, "curl over plain HTTP succeeded: " .. r.stdout)
    t.eq(r.stdout, "", "curl's output")
    local conn = assert(net.tcp("127.0.0.1", srv:port(), { timeout = 5 }))
    assert(conn:send("GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"))
    local got, err, partial = conn:receive("*a")
    conn:close()
    got = got or partial or ""
    assert(not got:find("HTTP/", 1, true), "an HTTP answer on the TLS port: " .. got .. " " .. tostring(err))
    t.eq(calls, 0, "handler calls")
    -- The listener still serves TLS after them.
    r = curl("--cacert", c.cert, "https://127.0.0.1:" .. srv:port() .. "/")
    t.eq(r.stdout, "answered\n", "TLS after plain attempts (" .. r.stderr .. ")")
    srv:close()
end)

t.test("plain-listener-says-req-tls-false", function()
    local seen
    local srv = assert(http.listen("127.0.0.1", 0, function(req) seen = req return 200, "ok" end))
    local r = curl("http://127.0.0.1:" .. srv:port() .. "/")
    t.eq(r.stdout, "ok", "body")
    t.eq(seen.tls, false, "req.tls")
    srv:close()
end)

-- A client that connects and never says hello is closed at the deadline: a handshake cannot hold a connection.
t.test("a-stalled-handshake-is-closed-at-the-deadline", function()
    local srv = assert(http.listen("127.0.0.1", 0, function() return 200, "ok" end,
        { tls = { cert = c.cert, key = c.key }, deadline = 0.5 }))
    local conn = assert(net.tcp("127.0.0.1", srv:port(), { timeout = 10 }))
    local t0 = luaha.now()
    local got, err = conn:receive("*a")
    local took = luaha.now() - t0
    conn:close()
    t.eq(got, "", "bytes from the server (" .. tostring(err) .. ")")
    assert(took >= 0.4 and took < 8, "closed after " .. took .. " s, want about 0.5 (the deadline, swept every 0.25)")
    t.eq(srv:stats().refused.deadline, 1, "refused for the deadline")
    srv:close()
end)

t.test("check-tls-and-listen-refuse-unusable-pairs", function()
    t.eq(http.check_tls(c.cert, c.key), true, "the good pair")
    local function refused(cert, key, want)
        local ok, err = http.check_tls(cert, key)
        t.eq(ok, nil, cert .. " + " .. key)
        assert(err:find(want, 1, true), "check_tls: " .. err .. " (want " .. want .. ")")
        local srv
        srv, err = http.listen("127.0.0.1", 0, function() end, { tls = { cert = cert, key = key } })
        t.eq(srv, nil, "listen with " .. cert .. " + " .. key)
        assert(err:find("^http listen 127%.0%.0%.1:0: ") and err:find(want, 1, true), "listen: " .. err)
    end
    refused(c.dir .. "/none.pem", c.key, "certificate " .. c.dir .. "/none.pem: No such file or directory")
    refused(c.cert, c.dir .. "/none.pem", "key " .. c.dir .. "/none.pem: No such file or directory")
    refused(c.cert, c.other_key, "key " .. c.other_key .. " is not the key of certificate " .. c.cert)
    refused(c.key, c.key, "certificate " .. c.key .. ": not a PEM certificate")
    refused(c.cert, c.cert, "key " .. c.cert .. ": not a PEM private key")
    refused(c.dir, c.key, "certificate " .. c.dir .. ": not a regular file")
    -- A key with a passphrase is refused, never asked for.
    local enc = c.dir .. "/enc.pem"
    local r = assert(luaha.proc.run({ "openssl", "pkey", "-in", c.key, "-aes256", "-passout", "pass:secret",
        "-out", enc }, { timeout = 30 }))
    t.eq(r.status, 0, "openssl pkey: " .. r.stderr)
    refused(c.cert, enc, "key " .. enc .. ": not a PEM private key without a passphrase")
    -- Programmer errors raise.
    t.checkerr("option 'tls' must be a table", http.listen, "127.0.0.1", 0, function() end, { tls = "x" })
    t.checkerr("option 'tls' needs the paths cert and key", http.listen, "127.0.0.1", 0, function() end,
        { tls = { cert = c.cert } })
end)

c.remove()
luaha.exit(t.failures() == 0 and 0 or 1)
