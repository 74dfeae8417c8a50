-- tests/lua/webui-setup.lua: the web UI in setup mode: no lvs.cf yet, no router; the first Apply writes it and calls on_applied.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"

if not package.searchpath("luaha.webapply", "lua/?.lua") and not require("luaha.core.embed").list()["luaha.webapply"] then
    print("SKIP webui-setup: lua/luaha/webapply.lua (the web-apply part) is not merged yet")
    return
end

local webui = require "luaha.webui"

local dir = os.tmpname()
os.remove(dir)
assert(luaha.proc.run({ "mkdir", "-m", "0700", dir }, { timeout = 10 }).status == 0)
local CONFIG, PASSWD = dir .. "/lvs.cf", dir .. "/status.passwd"
do
    local f = assert(io.open(PASSWD, "w"))
    f:write("piranha:" .. luaha.auth.pwhash("s3cret") .. "\n")
    f:close()
end

local probe = assert(luaha.http.listen("127.0.0.1", 0, function() return 200 end))
local PORT = probe:port()
probe:close()
local applied = 0
local server = assert(webui.start({ setup = true, config = CONFIG, listen = "127.0.0.1:" .. PORT, passwd = PASSWD,
    on_applied = function() applied = applied + 1 end }))

local function enc(s) return (s:gsub("[^%w%-._~]", function(c) return ("%%%02X"):format(c:byte()) end)) end

-- http(method, path, cookie, fields): status, headers, body (a POST carries the Origin of the listener).
local function http(method, path, cookie, fields)
    local parts = {}
    for k, v in pairs(fields or {}) do parts[#parts + 1] = enc(k) .. "=" .. enc(v) end
    local body = table.concat(parts, "&")
    local h = { ("%s %s HTTP/1.1"):format(method, path), "Host: 127.0.0.1:" .. PORT, "Connection: close" }
    if cookie then h[#h + 1] = "Cookie: " .. cookie end
    if method == "POST" then
        h[#h + 1] = "Origin: http://127.0.0.1:" .. PORT
        h[#h + 1] = "Content-Type: application/x-www-form-urlencoded"
        h[#h + 1] = "Content-Length: " .. #body
    end
    local c = assert(luaha.net.tcp("127.0.0.1", PORT, { timeout = 30 }))
    assert(c:send(table.concat(h, "\r\n") .. "\r\n\r\n" .. body))
    local reply = assert(c:receive("*a", 30))
    c:close()
    local head, rest = reply:match("^(.-)\r\n\r\n(.*)$")
    local headers = {}
    for k, v in head:gmatch("\r\n([^:\r\n]+): ([^\r\n]*)") do headers[k:lower()] = v end
    return tonumber(head:match("^HTTP/1%.%d (%d%d%d) ")), headers, rest
end

t.test("setup-mode-from-no-file-to-the-first-apply", function()
    local status, h = http("POST", "/login", nil, { user = "piranha", password = "s3cret" })
    t.eq(status, 303, "logged in")
    local cookie = h["set-cookie"]:match("^(luaha_session=%x+);")
    local _, body
    status, _, body = http("GET", "/", cookie)
    t.eq(status, 200, "Status in setup mode")
    assert(body:find("Setup mode", 1, true) and body:find("No virtual server yet", 1, true), "the setup banner")
    assert(not body:find('value="disable"', 1, true), "no router actions")
    local csrf = body:match('name="csrf" value="(%x+)"')
    status = http("POST", "/action", cookie, { csrf = csrf, action = "reload" })
    t.eq(status, 409, "no router to act on")
    -- primary is pre-filled with this host's address (the browser came by loopback: its first global IPv4 one)
    local here
    for _, a in ipairs(luaha.link.addrs() or {}) do
        if not here and a.family == "inet" and a.scope == "global" then here = a.address:match("^[^/]+") end
    end
    status, _, body = http("GET", "/global", cookie)
    t.eq(status, 200, "the global settings")
    local input = body:match('<input id="f%-primary"[^>]*>')
    if here then
        assert(input:find('value="' .. here .. '"', 1, true) and body:find('id="primary-prefilled"', 1, true), input)
    else
        assert(input:find('value=""', 1, true), "no address to pre-fill: " .. input)
    end
    status = http("POST", "/global", cookie, { csrf = csrf, action = "save", primary = "192.0.2.210",
        service = "lvs", network = "direct", tcp_timeout = "0", tcpfin_timeout = "0", udp_timeout = "0" })
    t.eq(status, 303, "the global settings saved")
    status = http("POST", "/virtual-new", cookie, { csrf = csrf, action = "add", name = "web", active = "1",
        address = "192.0.2.212", device = "eth0:1", port = "80", protocol = "tcp", scheduler = "wlc" })
    t.eq(status, 303, "a virtual added")
    status = http("POST", "/virtual/web/server-new", cookie, { csrf = csrf, action = "add", name = "rs1",
        address = "198.51.100.11", weight = "1", active = "1" })
    t.eq(status, 303, "a real server added")
    t.eq(io.open(CONFIG), nil, "no file before Apply")
    t.eq(applied, 0, "not applied yet")
    status = http("POST", "/changes", cookie, { csrf = csrf, action = "apply" })
    t.eq(status, 303, "applied")
    t.eq(applied, 1, "on_applied called once")
    local m = assert(lvscf.load(CONFIG))
    t.eq(m.primary, "192.0.2.210", "primary"); t.eq(m.virtuals[1].servers[1].address, "198.51.100.11", "rs1")
    status, _, body = http("GET", "/", cookie)
    t.eq(status, 200, "Status after the first Apply")
    assert(not body:find("Setup mode", 1, true), "the banner is gone")
end)

server:close()
assert(luaha.proc.run({ "rm", "-rf", dir }, { timeout = 10 }).status == 0)
luaha.exit(t.failures() == 0 and 0 or 1)
