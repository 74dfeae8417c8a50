-- tests/lua/webui.lua: the web UI over HTTP: login, headers, refused POSTs, 422 by the field, a crawl changing nothing.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local lvshttp = require "luaha.lvshttp"

local net = luaha.net

if not package.searchpath("luaha.webapply", "lua/?.lua") and not require("luaha.core.embed").list()["luaha.webapply"] then
    print("SKIP webui: lua/luaha/webapply.lua (the web-apply part) is not merged yet")
    return
end

local HASH = luaha.auth.pwhash("s3cret")
local CF = [[
# the seed: this comment must survive every edit
serial_no = 7
primary = 192.0.2.210
service = lvs
network = direct
virtual web {
    active = 1
    address = 192.0.2.212 eth0:1
    port = 80
    scheduler = wlc
    server rs1 {
        address = 198.51.100.11
        active = 1
    }
    server rs2 {
        address = 198.51.100.12
        active = 1
    }
}
]]

local dir = os.tmpname()
os.remove(dir)
assert(luaha.proc.run({ "mkdir", "-m", "0700", dir }, { timeout = 10 }).status == 0)
local CONFIG, PASSWD = dir .. "/lvs.cf", dir .. "/status.passwd"
local function write(path, text)
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
end
write(CONFIG, CF)
write(PASSWD, "piranha:" .. HASH .. "\n")

local function digest(path)
    local text = t.slurp(path)
    return text and luaha.auth.hash(text, 32)
end

-- A free port on loopback.
local function free_port()
    local probe = assert(luaha.http.listen("127.0.0.1", 0, function() return 200 end))
    local port = probe:port()
    probe:close()
    return port
end

local m = assert(lvscf.load(CONFIG))
local r = require("luaha.router").new(m, { config = CONFIG })
r.probes:update(m)         -- the monitors (not started: nothing is checked, nothing touches the kernel)
local PORT = free_port()
local ORIGIN = "http://127.0.0.1:" .. PORT
local server = assert(lvshttp.start(r, "127.0.0.1:" .. PORT, PASSWD, { webui = true }))

--[[
http(method, path [, opts]): status, headers (lower-case names), body. opts: cookie, body (a
table of fields, form-encoded), origin (false: none), basic ("user:password"), headers.
]]
local function enc(s)
    return (s:gsub("[^%w%-._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end
local b64 = t.base64
local function http(method, path, opts)
    opts = opts or {}
    local body = ""
    if opts.body then
        local parts = {}
        for k, v in pairs(opts.body) do parts[#parts + 1] = enc(k) .. "=" .. enc(v) end
        body = table.concat(parts, "&")
    end
    local h = { ("%s %s HTTP/1.1"):format(method, path), "Host: 127.0.0.1:" .. PORT, "Connection: close" }
    if opts.cookie then h[#h + 1] = "Cookie: " .. opts.cookie end
    if method == "POST" then
        if opts.origin ~= false then h[#h + 1] = "Origin: " .. (opts.origin or ORIGIN) end
        h[#h + 1] = "Content-Type: application/x-www-form-urlencoded"
        h[#h + 1] = "Content-Length: " .. #body
    end
    if opts.basic then h[#h + 1] = "Authorization: Basic " .. b64(opts.basic) end
    local c = assert(net.tcp("127.0.0.1", PORT, { timeout = 30 }))
    assert(c:send(table.concat(h, "\r\n") .. "\r\n\r\n" .. body))
    local reply, err = c:receive("*a", 30)
    c:close()
    assert(reply, err)
    local head, rest = reply:match("^(.-)\r\n\r\n(.*)$")
    local headers = {}
    for k, v in head:gmatch("\r\n([^:\r\n]+): ([^\r\n]*)") do headers[k:lower()] = v end
    return tonumber(head:match("^HTTP/1%.%d (%d%d%d) ")), headers, rest
end

-- The headers of spec 3.8 on an answer.
local function secure(headers, what)
    t.eq(headers["content-security-policy"], "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
        .. " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'", what .. ": CSP")
    t.eq(headers["x-content-type-options"], "nosniff", what .. ": nosniff")
    t.eq(headers["referrer-policy"], "same-origin", what .. ": Referrer-Policy")
end

local cookie, csrf

t.test("login-refuses-a-wrong-password-then-gives-a-session", function()
    local status, h = http("GET", "/")
    t.eq(status, 303, "no session: to the login"); t.eq(h.location, "/login", "where")
    secure(h, "a redirect")
    local body
    status, h, body = http("GET", "/login")
    t.eq(status, 200, "the login page"); secure(h, "/login"); t.eq(h["cache-control"], "no-store", "no-store")
    assert(body:find('<form method="post" action="/login"', 1, true) and body:find('id="login-error"', 1, true), body)
    status, h, body = http("POST", "/login", { body = { user = "piranha", password = "wrong" } })
    t.eq(status, 401, "a wrong password")
    assert(body:find('<p id="login-error" class="error" role="alert">Wrong user or password.</p>', 1, true), body)
    assert(not h["set-cookie"], "no cookie")
    status = http("POST", "/login", { body = { user = "piranha", password = "s3cret" }, origin = "http://evil.example" })
    t.eq(status, 403, "a login from another site")
    status, h = http("POST", "/login", { body = { user = "piranha", password = "s3cret" } })
    t.eq(status, 303, "logged in"); t.eq(h.location, "/", "to the Status page")
    local id = (h["set-cookie"] or ""):match("^luaha_session=(%x+); HttpOnly; SameSite=Strict; Path=/$")
    assert(id, "the cookie: " .. tostring(h["set-cookie"]))
    cookie = "luaha_session=" .. id
    status, h, body = http("GET", "/", { cookie = cookie })
    t.eq(status, 200, "Status"); secure(h, "/")
    csrf = body:match('<input type="hidden" name="csrf" value="(%x+)">')
    assert(csrf and #csrf == 64, "a CSRF token in the forms")
    assert(body:find('<tr id="vs-web" data-state="', 1, true), "the virtual's summary row")
    assert(body:find('<a href="/status/virtual/web">web</a>', 1, true), "leading to its page")
    assert(body:find("<title>Status — luaha</title>", 1, true), "the title")
    status, h, body = http("GET", "/status/virtual/web", { cookie = cookie })
    t.eq(status, 200, "web's status page"); secure(h, "/status/virtual/web")
    assert(body:find('<table id="virtual-web" class="servers">', 1, true), "the virtual's table")
    assert(body:find('<tr id="rs-web-rs1" data-health="', 1, true), "a real server's row")
    assert(body:find("<title>Status of virtual server web — luaha</title>", 1, true), "its title")
    t.eq(http("GET", "/status/virtual/nosuch", { cookie = cookie }), 404, "no such virtual")
end)

t.test("assets-are-served-from-the-binary-with-the-headers", function()
    local status, h, body = http("GET", "/assets/app.js")
    t.eq(status, 200, "app.js"); secure(h, "app.js")
    t.eq(h["content-type"], "text/javascript; charset=utf-8", "its type")
    assert(body:find("document.body.dataset.live", 1, true) or body:find('dataset.live = "1"', 1, true), "the script")
    local n = 0
    for _ in body:gmatch("\n") do n = n + 1 end
    assert(n <= 200, "app.js has " .. n .. " lines")
    status, h = http("GET", "/assets/style.css")
    t.eq(status, 200, "style.css"); t.eq(h["content-type"], "text/css; charset=utf-8", "its type")
end)

t.test("posts-without-session-token-or-origin-are-refused-and-change-nothing", function()
    local before = digest(CONFIG)
    local form = { action = "disable", virtual = "web", server = "rs2", csrf = csrf }
    local cases = {
        { {}, 401, "no session" },
        { { basic = "piranha:s3cret" }, 403, "Basic credentials only" },
        { { cookie = cookie, body = { action = "disable", virtual = "web", server = "rs2" } }, 403, "no token" },
        { { cookie = cookie, body = { action = "disable", virtual = "web", server = "rs2", csrf = ("0"):rep(64) } }, 403,
            "a wrong token" },
        { { cookie = cookie, origin = "http://evil.example" }, 403, "a foreign Origin" },
        { { cookie = cookie, origin = false }, 403, "no Origin nor Referer" },
    }
    for _, case in ipairs(cases) do
        local opts = case[1]
        opts.body = opts.body or form
        local status, h = http("POST", "/action", opts)
        t.eq(status, case[2], case[3]); secure(h, case[3])
        t.eq(r.disabled["web/rs2"], nil, case[3] .. ": nothing disabled")
    end
    local status, h = http("POST", "/action", { cookie = cookie, body = form })
    t.eq(status, 303, "a good POST is answered by a redirect")
    t.eq(h.location, "/status/virtual/web", "to the virtual's status page")
    t.eq(r.disabled["web/rs2"], true, "rs2 disabled")
    local _, _, body = http("GET", h.location, { cookie = cookie })
    assert(body:find("disabled rs2 in web, until the next reload", 1, true), "the flash after the redirect")
    assert(r.events[#r.events].text:find("web: piranha from 127.0.0.1: disabled rs2", 1, true), "the event names user and peer")
    http("POST", "/action", { cookie = cookie, body = { action = "enable", virtual = "web", server = "rs2", csrf = csrf } })
    t.eq(r.disabled["web/rs2"], nil, "enabled again")
    -- a weight, also saved to the draft: the router has it now, lvs.cf after Apply
    http("POST", "/action", { cookie = cookie, body = { action = "weight", virtual = "web", server = "rs1", weight = "5",
        also_save = "1", csrf = csrf } })
    t.eq(r.weights["web/rs1"], 5, "the runtime weight")
    _, _, body = http("GET", "/changes", { cookie = cookie })
    assert(body:find("+        weight = 5\n", 1, true), "the draft has it: " .. tostring(body:match('<pre id="diff">(.-)</pre>')))
    http("POST", "/action", { cookie = cookie, body = { action = "enable", virtual = "web", server = "rs1", csrf = csrf } })
    http("POST", "/changes", { cookie = cookie, body = { action = "discard", csrf = csrf } })
    t.eq(r.weights["web/rs1"], nil, "the runtime weight ended")
    t.eq(digest(CONFIG), before, "lvs.cf unchanged")
end)

t.test("a-bad-port-is-422-with-the-reader's-message-next-to-its-field", function()
    local before = digest(CONFIG)
    local status, _, body = http("GET", "/virtual/web", { cookie = cookie })
    t.eq(status, 200, "the virtual's form")
    assert(body:find('<input id="f-port" name="port" value="80"', 1, true), body:match('<input id="f%-port"[^>]*>'))
    local fields = { csrf = csrf, action = "save", name = "web", active = "1", address = "192.0.2.212", device = "eth0:1",
        port = "70000", protocol = "tcp", scheduler = "wlc" }
    status, _, body = http("POST", "/virtual/web", { cookie = cookie, body = fields })
    t.eq(status, 422, "refused")
    assert(body:find('<input id="f-port" name="port" aria-describedby="f-port-error" aria-invalid="true" value="70000"',
        1, true), "the value typed, marked invalid")
    assert(body:find('<span class="error" id="f-port-error">out of range: 70000 (must be 1..65535)</span>', 1, true),
        "the reader's message where aria-describedby points")
    t.eq(digest(CONFIG), before, "lvs.cf unchanged")
end)

t.test("saving-goes-to-the-draft-and-the-review-shows-it", function()
    local before = digest(CONFIG)
    local fields = { csrf = csrf, action = "save", name = "web", active = "1", address = "192.0.2.212", device = "eth0:1",
        port = "8080", protocol = "tcp", scheduler = "wlc", timeout = "10", reentry = "180", weight_ramp = "1" }
    local status, h = http("POST", "/virtual/web", { cookie = cookie, body = fields })
    t.eq(status, 303, "saved"); t.eq(h.location, "/virtual/web", "back to the form")
    t.eq(digest(CONFIG), before, "lvs.cf unchanged by a save")
    local _, _, body = http("GET", "/changes", { cookie = cookie })
    local diff = body:match('<pre id="diff">(.-)</pre>')
    assert(diff and diff:find("\n-    port = 80\n", 1, true) and diff:find("\n+    port = 8080\n", 1, true), tostring(diff))
    assert(body:find('<ol id="ipvs-ops">', 1, true), "the IPVS operations")
    assert(body:find('id="pending"', 1, true), "the banner of changes not applied")
end)

-- The list pages mark what the draft adds, changes and deletes.
t.test("the-lists-have-badges-for-what-the-draft-changes", function()
    local _, _, body = http("GET", "/virtual", { cookie = cookie })
    local row = body:match('<tr><th scope="row"><a href="/virtual/web">web</a>(.-)</tr>')
    assert(row and row:find('<span class="badge changed">changed in the draft</span>', 1, true), tostring(row))
    _, _, body = http("GET", "/virtual/web/servers", { cookie = cookie })
    assert(not body:find('class="badge', 1, true), "web's servers are not changed")
    local status = http("POST", "/virtual/web/server-new", { cookie = cookie, body = { csrf = csrf, action = "add",
        name = "rs3", address = "198.51.100.13", weight = "1", active = "1" } })
    t.eq(status, 303, "rs3 added to the draft")
    status = http("POST", "/virtual/web/servers", { cookie = cookie, body = { csrf = csrf, action = "delete",
        name = "rs2", confirm = "1" } })
    t.eq(status, 303, "rs2 deleted in the draft")
    _, _, body = http("GET", "/virtual/web/servers", { cookie = cookie })
    assert(body:find('<a href="/virtual/web/server/rs3">rs3</a> <span class="badge new">new in the draft</span>', 1, true),
        "rs3 is new")
    assert(body:find('<a href="/virtual/web/server/rs1">rs1</a></th>', 1, true), "rs1 has no badge")
    assert(body:find('id="servers-deleted">Deleted in the draft: rs2', 1, true), "rs2 is deleted")
end)

-- Every page, GET and HEAD: nothing changes (the file, the draft, the router's runtime changes).
t.test("a-crawl-of-every-get-page-changes-nothing", function()
    local file_before, draft_before = digest(CONFIG), t.slurp(CONFIG)
    local status, _, changes = http("GET", "/changes", { cookie = cookie })
    t.eq(status, 200, "/changes")
    local pages = { "/", "/global", "/redundancy", "/advanced", "/virtual", "/virtual/web", "/virtual/web/servers",
        "/virtual/web/server/rs1", "/virtual-new", "/virtual/web/server-new", "/failover", "/failover-new", "/changes",
        "/config", "/config?download=1", "/status.json", "/metrics", "/login", "/nosuch", "/virtual/nosuch",
        "/status/virtual/web", "/status/virtual/nosuch" }
    for _, method in ipairs({ "GET", "HEAD" }) do
        for _, p in ipairs(pages) do
            local st, h, body = http(method, p, { cookie = cookie })
            assert(st == 200 or st == 303 or st == 404, method .. " " .. p .. ": " .. tostring(st))
            secure(h, method .. " " .. p)
            if method == "HEAD" then t.eq(body, "", "HEAD " .. p .. " has no body") end
            if method == "GET" and st == 200 and (h["content-type"] or ""):find("text/html", 1, true) then
                assert(#body < 50 * 1024, p .. " is " .. #body .. " bytes")
                assert(body:find("<title>", 1, true) and not body:find("<script>", 1, true), p)
            end
        end
    end
    t.eq(digest(CONFIG), file_before, "lvs.cf unchanged")
    t.eq(t.slurp(CONFIG), draft_before, "lvs.cf's text unchanged")
    local _, _, after = http("GET", "/changes", { cookie = cookie })
    t.eq(after:match('<pre id="diff">(.-)</pre>'), changes:match('<pre id="diff">(.-)</pre>'), "the draft unchanged")
    t.eq(next(r.disabled), nil, "no runtime change"); t.eq(next(r.weights), nil, "no weight")
end)

t.test("scrapers-keep-basic-auth-and-a-session-works-too", function()
    local status, h = http("GET", "/status.json")
    t.eq(status, 401, "no credentials"); assert(h["www-authenticate"], "a Basic challenge")
    status = http("GET", "/status.json", { basic = "piranha:s3cret" })
    t.eq(status, 200, "Basic")
    local body
    status, h, body = http("GET", "/status.json", { cookie = cookie })
    t.eq(status, 200, "a session"); secure(h, "/status.json")
    assert(body:find('"health_since"', 1, true), "health_since in the document")
    status = http("POST", "/status.json", { cookie = cookie, body = { csrf = csrf } })
    t.eq(status, 405, "no POST to a scraper's path")
end)

-- post(path, fields): a POST with the session, its token and the Origin: status, headers, body.
local function post(path, fields)
    fields.csrf = fields.csrf or csrf
    return http("POST", path, { cookie = cookie, body = fields })
end

t.test("a-virtual-and-two-real-servers-through-the-forms-then-apply", function()
    local old = t.slurp(CONFIG)
    post("/changes", { action = "discard" })
    local h
    local status, _, body = http("GET", "/virtual-new", { cookie = cookie })
    t.eq(status, 200, "the empty form")
    assert(body:find('<input type="checkbox" value="1" id="f-active" name="active" checked>', 1, true), "active for a new one")
    status, h = post("/virtual-new", { action = "add", name = "shop", active = "1", address = "192.0.2.214",
        device = "eth0:1", port = "443", protocol = "tcp", scheduler = "rr", timeout = "10", reentry = "180" })
    t.eq(status, 303, "added"); t.eq(h.location, "/virtual/shop", "to its page")
    status, _, body = post("/virtual-new", { action = "add", name = "shop", address = "192.0.2.215", device = "eth0:1" })
    t.eq(status, 422, "a second shop is refused")
    assert(body:find("exists already", 1, true), "and says why")
    for i, name in ipairs({ "s1", "s2" }) do
        status, h = post("/virtual/shop/server-new", { action = "add", name = name, address = "198.51.100.2" .. i,
            weight = "1", active = "1" })
        t.eq(status, 303, "server " .. name); t.eq(h.location, "/virtual/shop/server/" .. name, "to its page")
    end
    t.eq(t.slurp(CONFIG), old, "nothing written before Apply")
    body = select(3, http("GET", "/changes", { cookie = cookie }))
    assert(body:find("+virtual shop {", 1, true), "the diff adds the block")
    status, h = post("/changes", { action = "apply" })
    t.eq(status, 303, "applied: " .. tostring(h.location))
    local new = t.slurp(CONFIG)
    assert(new:find("# the seed: this comment must survive every edit\n", 1, true), "the comment kept")
    assert(new:find("serial_no = 8\n", 1, true), "serial_no went up by one")
    t.eq(t.slurp(CONFIG .. ".bak"), old, "the old file kept as lvs.cf.bak")
    local nm = assert(lvscf.load(CONFIG))
    t.eq(#nm.virtuals, 2, "two virtuals"); t.eq(#nm.virtuals[2].servers, 2, "two servers in shop")
    t.eq(nm.virtuals[2].servers[2].address, "198.51.100.22", "s2's address")
    body = select(3, http("GET", "/", { cookie = cookie }))
    assert(body:find("applied: ", 1, true), "the flash says so")
    body = select(3, http("GET", "/config", { cookie = cookie }))
    assert(body:find('<pre id="config-bak">', 1, true) and body:find('value="restore"', 1, true), "the backup and Restore")
end)

-- A file changed on disk since the draft began: Apply answers 409 with what changed there, writes nothing.
t.test("apply-of-a-draft-whose-file-changed-on-disk-is-409-with-the-new-diff", function()
    post("/changes", { action = "discard" })
    local status = post("/virtual-new", { action = "add", name = "late", active = "1", address = "192.0.2.216",
        device = "eth0:1", port = "80", protocol = "tcp", scheduler = "rr", timeout = "10", reentry = "180" })
    t.eq(status, 303, "added to the draft")
    local edited = t.slurp(CONFIG) .. "# a hand edit meanwhile\n"
    local f = assert(io.open(CONFIG, "w")); f:write(edited); f:close()
    local _, body
    status, _, body = post("/changes", { action = "apply" })
    t.eq(status, 409, "refused")
    local disk = body:match('<pre id="disk%-diff">(.-)</pre>')
    assert(disk and disk:find("+# a hand edit meanwhile", 1, true), "the change on disk shown: " .. tostring(disk))
    t.eq(t.slurp(CONFIG), edited, "nothing written")
    post("/changes", { action = "discard" })
end)

-- With a partner (backup_active), the pair's section on Status and Redundancy, Send to partner on the Review page.
t.test("with-a-partner-the-pages-show-the-pair-and-send-to-partner", function()
    post("/changes", { action = "discard" })
    local _, _, body = http("GET", "/", { cookie = cookie })
    assert(not body:find('id="pair"', 1, true), "no pair without a partner")
    r.model.backup_active = true        -- as a file with a backup router reads (the section reads only this)
    for _, p in ipairs({ "/", "/redundancy" }) do
        body = select(3, http("GET", p, { cookie = cookie }))
        assert(body:find('<section id="pair"', 1, true) and body:find('<a href="/partner">', 1, true), p)
    end
    body = select(3, http("GET", "/changes", { cookie = cookie }))
    assert(body:find('<section id="send"', 1, true) and body:find('action="/partner"', 1, true), "Send to partner")
    r.model.backup_active = false
end)

t.test("logout-ends-the-session", function()
    local status, h = http("POST", "/logout", { cookie = cookie, body = { csrf = csrf, action = "logout" } })
    t.eq(status, 303, "logged out"); t.eq(h.location, "/login", "to the login")
    assert((h["set-cookie"] or ""):find("^luaha_session=; "), "the cookie cleared")
    status = http("GET", "/", { cookie = cookie })
    t.eq(status, 303, "the old cookie no longer works")
end)

server:close()
r.probes:stop()     -- Apply's reload started the new monitors' checks
assert(luaha.proc.run({ "rm", "-rf", dir }, { timeout = 10 }).status == 0)
luaha.exit(t.failures() == 0 and 0 or 1)
