-- tests/lua/webpartner.lua: the web UI's /partner page: both serial_nos, Send to partner, the partner's refusal shown.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local auth = require "luaha.core.auth"
local file = require "luaha.core.file"
local lvscf = require "luaha.lvscf"
local lvshttp = require "luaha.lvshttp"
local heartbeat = require "luaha.heartbeat"
local partnersync = require "luaha.partnersync"
local W = require "luaha.webpartner"
local P = require "luaha.webpages"

local proc = luaha.proc
local dir = assert(proc.run({ "mktemp", "-d" })).stdout:gsub("\n$", "")
local _cleanup <close> = setmetatable({}, { __close = function() proc.run({ "rm", "-rf", dir }) end }) -- luacheck: ignore 211

t.test("pair-and-send-form-render-escaped", function()
    local doc = { serial_no = 4, peer_serial_no = 3, config_differs = true, peer = { address = "192.0.2.211" },
        partner_sync = { received = { at = 0, ok = false, from = "192.0.2.211", why = "<b>refused</b>" },
            sent = { at = 0, ok = true, by = "admin", why = "applied serial_no 4" } } }
    local html = P.text(W.pair(doc))
    assert(html:find('<dd id="pair-serial">4</dd>', 1, true), html)
    assert(html:find('<dd id="pair-peer-serial">3</dd>', 1, true), html)
    assert(html:find('<dd id="pair-differs" class="differs">the configurations differ</dd>', 1, true), html)
    assert(html:find('<p id="partner-received" class="failed">Last file received 1970-01-01 00:00:00 UTC from'
        .. ' 192.0.2.211: &lt;b&gt;refused&lt;/b&gt;</p>', 1, true), html)
    assert(not html:find("<b>", 1, true), "the partner's words are escaped")
    html = P.text(W.pair({ serial_no = 4 }))
    assert(html:find('<dd id="pair-differs">partner not heard yet</dd>', 1, true), html)
    assert(html:find('<dd id="pair-peer-serial">unknown</dd>', 1, true), html)
    html = P.text(W.send_form("c5rf", doc))
    assert(html:find('<form method="post" action="/partner" class="buttons" novalidate>'
        .. '<input type="hidden" name="csrf" value="c5rf"><button type="submit" name="action" value="send">'
        .. 'Send to partner</button></form>', 1, true), html)
    assert(html:find('<p id="partner-sent" class="done">Last file sent 1970-01-01 00:00:00 UTC by admin:'
        .. ' applied serial_no 4</p>', 1, true), html)
end)

-- Two routers on loopback: A with the UI (as router:start makes it: its sync shares the UI's draft store), B listening.
local KEY = auth.keygen()
local HB = 20000 + math.random(0, 9999)
local SEED = assert(file.read("tests/lua/data/seed.cf", 1 << 20)):gsub("heartbeat_port = 539", "heartbeat_port = " .. HB)
local routers = {}
local _stop <close> = setmetatable({}, { __close = function() -- luacheck: ignore 211
    for _, r in ipairs(routers) do
        r.probes:stop()
        r.sync:close()
        if r.http then r.http:close() end
    end
end })

local function node(role, own, peer, text)
    local path = ("%s/%s.cf"):format(dir, role)
    assert(file.replace(path, text, 0x1a4))
    local cache = lvscf.cache()
    local m = assert(lvscf.load(path, cache))
    local r = require("luaha.router").new(m, { config = path, role = role, key = KEY, cache = cache,
        digest = heartbeat.digest(lvscf.write_parts(m, cache)) })
    r.role, r.channels = role, { { address = own, peer = peer } }
    r.probes:update(m)
    r.sync = partnersync.new(r):start()
    routers[#routers + 1] = r
    return r, path
end

local a = node("primary", "127.0.0.51", "127.0.0.52", (SEED:gsub("serial_no = 1", "serial_no = 2")))
local b, bpath = node("backup", "127.0.0.52", "127.0.0.51", SEED)
local PASSWD = dir .. "/status.passwd"
assert(file.replace(PASSWD, "piranha:" .. luaha.auth.pwhash("s3cret") .. "\n", 0x180))
local probe = assert(luaha.http.listen("127.0.0.1", 0, function() return 200 end))
local PORT = probe:port()
probe:close()
a.http = assert(lvshttp.start(a, "127.0.0.1:" .. PORT, PASSWD, { webui = true, draft = a.sync.draft }))
local ORIGIN = "http://127.0.0.1:" .. PORT

local function enc(s) return (s:gsub("[^%w%-._~]", function(c) return ("%%%02X"):format(c:byte()) end)) end
-- http(method, path [, cookie] [, fields]): status, headers (lower-case names), body.
local function http(method, path, cookie, fields)
    local parts = {}
    for k, v in pairs(fields or {}) do parts[#parts + 1] = enc(k) .. "=" .. enc(v) end
    local body = table.concat(parts, "&")
    local h = { ("%s %s HTTP/1.1"):format(method, path), "Host: 127.0.0.1:" .. PORT, "Connection: close" }
    if cookie then h[#h + 1] = "Cookie: " .. cookie end
    if method == "POST" then
        h[#h + 1] = "Origin: " .. ORIGIN
        h[#h + 1] = "Content-Type: application/x-www-form-urlencoded"
        h[#h + 1] = "Content-Length: " .. #body
    end
    local c = assert(luaha.net.tcp("127.0.0.1", PORT, { timeout = 30 }))
    assert(c:send(table.concat(h, "\r\n") .. "\r\n\r\n" .. body))
    local reply, err = c:receive("*a", 30)
    c:close()
    assert(reply, err)
    local head, rest = reply:match("^(.-)\r\n\r\n(.*)$")
    local headers = {}
    for k, v in head:gmatch("\r\n([^:\r\n]+): ([^\r\n]*)") do headers[k:lower()] = v end
    return tonumber(head:match("^HTTP/1%.%d (%d%d%d) ")), headers, rest
end

t.test("partner-page-sends-and-shows-the-partner-s-refusal", function()
    local status, h = http("POST", "/login", nil, { user = "piranha", password = "s3cret" })
    t.eq(status, 303, "logged in")
    local cookie = "luaha_session=" .. assert((h["set-cookie"] or ""):match("^luaha_session=(%x+);"), "a cookie")
    local _, body
    status, _, body = http("GET", "/partner", cookie)
    t.eq(status, 200, "/partner")
    assert(body:find('<section id="pair"', 1, true) and body:find('<section id="send"', 1, true), body)
    local csrf = assert(body:match('<input type="hidden" name="csrf" value="(%x+)">'), "a CSRF token")
    -- Without the token: refused, nothing sent.
    status = http("POST", "/partner", cookie, { action = "send" })
    t.eq(status, 403, "no CSRF token")
    t.eq(b.model.serial_no, 1, "nothing sent")
    -- Sent: the partner runs serial_no 2; the page says so.
    status, h = http("POST", "/partner", cookie, { action = "send", csrf = csrf })
    t.eq(status, 303, "sent")
    t.eq(h.location, "/partner", "back to /partner")
    t.eq(b.model.serial_no, 2, "the partner's running serial_no")
    t.eq(file.read(bpath, 1 << 20), file.read(a.config, 1 << 20), "the partner's file")
    status, _, body = http("GET", "/partner", cookie)
    t.eq(status, 200, "/partner after the send")
    assert(body:find('<p class="banner done" role="status" id="flash">partner: applied serial_no 2: 0 IPVS operations</p>',
        1, true), body)
    assert(body:find('<p id="partner-sent" class="done">', 1, true), body)
    -- The partner has a draft pending: it refuses, and this page says its words.
    local bm = assert(b.sync.draft:model())
    bm.virtuals[1].servers[1].weight = 7
    assert(b.sync.draft:update(bm))
    assert(file.replace(a.config, (file.read(a.config, 1 << 20):gsub("serial_no = 2", "serial_no = 3")), 0x1a4))
    a.model = assert(lvscf.load(a.config, a.cache))
    a.digest = heartbeat.digest(lvscf.write_parts(a.model, a.cache))
    status = http("POST", "/partner", cookie, { action = "send", csrf = csrf })
    t.eq(status, 303, "sent, refused")
    status, _, body = http("GET", "/partner", cookie)
    t.eq(status, 200, "/partner after the refusal")
    assert(body:find('<p class="banner failed" role="status" id="flash">not sent: the partner refused: a draft of 2'
        .. ' changed lines is pending on this router: apply or discard it first (409)</p>', 1, true), body)
    assert(body:find('<p id="partner-sent" class="failed">', 1, true), body)
    t.eq(b.model.serial_no, 2, "the partner kept its file")
    assert(b.sync.received.why:find("a draft of 2 changed lines", 1, true), "the partner's own page says why")
    status = http("POST", "/partner", cookie, { action = "other", csrf = csrf })
    t.eq(status, 400, "an unknown action")
end)
