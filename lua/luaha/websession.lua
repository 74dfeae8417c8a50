-- lua/luaha/websession.lua: the web UI's logins and sessions, its CSRF and Origin checks, and its form bodies.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
A session is 32 random bytes (luaha.auth.random) given to the browser as the cookie
luaha_session, in hex, and kept here under their BLAKE2b hash with the user, its creation, its
last use and its CSRF token (32 more random bytes, in hex). Nothing is written to disk: a restart
ends every session. A session ends when unused for `idle` seconds, `absolute` seconds after the
login, at logout, or when MAX_SESSIONS are held and a new one needs the place of the least
recently used.

A login is refused before any hashing when its address is waiting (after MAX_FAILS failures in
WINDOW seconds: WAIT_FIRST seconds, doubling with each failure after it up to WAIT_MAX) or when
another login is being verified (one at a time, across every client: "busy"). The password is
verified by httpauth's verifier (lua/luaha/httpauth.lua): Argon2id in the worker thread, never in
the loop; unknown users checked against a real user's hash, so that they cost the same time;
wrong pairs remembered for a minute. The password file is read again at each login that gets
that far (at most 1 MiB, a few µs for a usual one), so that `luaha passwd` takes effect at once.

The loop is held, per call, for at most: a login's file read and a session's making (tens of µs);
find, a few cookies and one table lookup; the limiter's table, when full, one pass over its
MAX_PEERS entries (under a ms); form, one pass over a body of at most 64 KiB (about a ms).
]]
local luaha = require "luaha"
local httpauth = require "luaha.httpauth"

local websession = {}

local DEFAULTS = { idle = 1800, absolute = 12 * 3600 }
local MAX_SESSIONS = 256    -- sessions held; the least recently used goes for a new one
local MAX_FAILS = 5         -- failed logins from an address in WINDOW seconds ...
local WINDOW = 300
local WAIT_FIRST = 60       -- ... make it wait this long, doubling at each failure after it ...
local WAIT_MAX = 900        -- ... up to this
local FORGIVE = 900         -- seconds without a failure after a wait's end that clear an address's record
local MAX_PEERS = 1024      -- addresses the limiter keeps; beyond them they share one record
local MAX_USER = 256        -- bytes of a user name tried (a file written by hand may hold long ones) ...
local MAX_PASSWORD = require("luaha.passwd").MAX_PASSWORD   -- ... and of a password: longer ones fail unhashed
local MAX_FORM = 64 * 1024  -- bytes of a form body ...
local MAX_FIELDS = 256      -- ... and fields in it
local MAX_COOKIES = 64      -- cookies looked at in a Cookie header
local COOKIE = "luaha_session"
local LOG_EVERY = 10

local log = luaha.log.prefixed("webui")

local hex = luaha.auth.hex

-- Refusals of check_post, counted by reason, and logged one line per reason every LOG_EVERY s at most.
websession.refused = { session = 0, basic = 0, origin = 0, csrf = 0 }
local logged

local function refuse(reason, req, status, why)
    websession.refused[reason] = websession.refused[reason] + 1
    logged = logged or luaha.log.limiter(log, LOG_EVERY)
    logged(reason, "%s %s from %s refused: %s", req.method or "?", req.path or "?", req.peer or "?", why)
    return nil, status, why
end

-- peer_key(peer): the limiter's key of an address: itself for IPv4, its /64 for IPv6 (one host has many).
local function peer_key(peer)
    local canon, family, _, bytes = luaha.net.parse_addr(peer or "")
    if family ~= "inet6" then return canon or tostring(peer) end
    return ("%x:%x:%x:%x::/64"):format(string.unpack(">I2I2I2I2", bytes))
end

--[[
The per-address limiter. A record: fails (times of the failures in the last WINDOW seconds, at
most MAX_FAILS), wait (the last wait given, 0 before the first), ends (when the address may try
again). Past MAX_PEERS records, the records with nothing to remember are dropped; if none can
be, new addresses share the record "*" (an attacker with many addresses slows only addresses
the table has no room for, and one verification at a time bounds the hashing anyway).
]]
local function limiter(now)
    local l = { peers = {}, n = 0 }

    local function idle(r, t)
        return t >= r.ends + FORGIVE and (r.fails[#r.fails] or -math.huge) <= t - WINDOW
    end

    local function record(key, t, make)
        local r = l.peers[key]
        if r or not make then return r, key end
        local room = MAX_PEERS - (l.peers["*"] and 0 or 1)     -- a place kept for "*"
        if l.n >= room then
            for k, old in pairs(l.peers) do
                if k ~= "*" and idle(old, t) then
                    l.peers[k] = nil
                    l.n = l.n - 1
                end
            end
        end
        if l.n >= room then
            key = "*"
            r = l.peers[key]
            if r then return r, key end
        end
        r = { fails = {}, wait = 0, ends = -math.huge }
        l.peers[key] = r
        l.n = l.n + 1
        return r, key
    end

    -- wait(peer): seconds the address must still wait (a whole number), or nil.
    function l.wait(peer)
        local t = now()
        local r = record(peer_key(peer), t, false) or (l.n >= MAX_PEERS - 1 and l.peers["*"])
        if r and t < r.ends then return math.max(1, math.ceil(r.ends - t)) end
        return nil
    end

    -- failed(peer): counts a failure; the seconds to wait when the address must now wait.
    function l.failed(peer)
        local t = now()
        local r = record(peer_key(peer), t, true)
        if t >= r.ends + FORGIVE then r.wait = 0 end
        local keep = {}
        for _, at in ipairs(r.fails) do
            if at > t - WINDOW then keep[#keep + 1] = at end
        end
        keep[#keep + 1] = t
        while #keep > MAX_FAILS do table.remove(keep, 1) end
        r.fails = keep
        if r.wait > 0 or #keep >= MAX_FAILS then
            r.wait = r.wait > 0 and math.min(r.wait * 2, WAIT_MAX) or WAIT_FIRST
            r.ends = t + r.wait
            return r.wait
        end
        return nil
    end

    -- succeeded(peer): a right password clears the address's record.
    function l.succeeded(peer)
        local key = peer_key(peer)
        if key ~= "*" and l.peers[key] then
            l.peers[key] = nil
            l.n = l.n - 1
        end
    end
    return l
end

local methods = {}
methods.__index = methods

--[[
new{ passwd = PATH, idle = SECONDS, absolute = SECONDS [, now = FUNCTION] }: the sessions of a
listener, or nil and why (the password file cannot be read or has no user). idle defaults to
1800, absolute to 12 hours; now, a clock in seconds (luaha.now by default), is for tests.
]]
function websession.new(opts)
    if type(opts) ~= "table" or type(opts.passwd) ~= "string" then
        error("websession.new: opts.passwd (a path) is required", 2)
    end
    for _, k in ipairs({ "idle", "absolute" }) do
        if opts[k] ~= nil and (type(opts[k]) ~= "number" or opts[k] <= 0) then
            error(("websession.new: opts.%s must be a number of seconds above 0"):format(k), 2)
        end
    end
    local users, err = httpauth.read_passwd(opts.passwd)
    if not users then return nil, err end
    local now = opts.now or luaha.now
    local ws = setmetatable({
        passwd = opts.passwd,
        idle = opts.idle or DEFAULTS.idle,
        absolute = opts.absolute or DEFAULTS.absolute,
        now = now,
        users = users,
        verifier = httpauth.verifier(users),
        sessions = {}, count = 0,       -- hash of a session id: session
        ids = {},                       -- session: its id in hex, for its cookie
        limiter = limiter(now),
        verifying = false,              -- a login's password is being verified
        logins = { ok = 0, failed = 0, limited = 0, busy = 0 },
        logged = luaha.log.limiter(log, LOG_EVERY),
    }, methods)
    return ws
end

local function drop(ws, key, s)
    ws.sessions[key] = nil
    ws.ids[s] = nil
    ws.count = ws.count - 1
end

--[[
The password file again: when it changed, a new verifier (its failure memory starts afresh), and
the sessions of the users whose password changed or who are gone end: a password changed because
it leaked ends what was opened with it.
]]
local function reread(ws)
    local users, err = httpauth.read_passwd(ws.passwd)
    if not users then return nil, err end
    local changed = {}
    for u, h in pairs(ws.users) do
        if users[u] ~= h then changed[u] = true end
    end
    for u in pairs(users) do
        if not ws.users[u] then changed[u] = true end
    end
    if next(changed) then
        ws.users, ws.verifier = users, httpauth.verifier(users)
        for key, s in pairs(ws.sessions) do
            if changed[s.user] then
                drop(ws, key, s)
                log.info("%s's session ended: the password file changed", s.user)
            end
        end
    end
    return true
end

-- The session made for user: the least recently used one goes when MAX_SESSIONS are held.
local function make(ws, user)
    local t = ws.now()
    if ws.count >= MAX_SESSIONS then
        local oldest, okey
        for key, s in pairs(ws.sessions) do
            if not oldest or s.last < oldest.last then oldest, okey = s, key end
        end
        drop(ws, okey, oldest)
    end
    local id = hex(luaha.auth.random(32))
    local s = { user = user, csrf = hex(luaha.auth.random(32)), created = t, last = t }
    ws.sessions[luaha.auth.hash(id, 32)] = s
    ws.ids[s] = id
    ws.count = ws.count + 1
    return s
end

--[[
ws:login(user, password, peer): a new session, or nil, why [, retry_after]. Waits while the
password is verified. why is "wrong user or password", "too many failed logins from this address"
(retry_after: the seconds left), "busy" (another login is being verified; retry_after 1), or the
password file's problem. The failure that makes the address wait gives retry_after too.
]]
function methods.login(ws, user, password, peer)
    user, password = user or "", password or ""
    if type(user) ~= "string" or type(password) ~= "string" then
        error("login: user and password must be strings", 2)
    end
    local wait = ws.limiter.wait(peer)
    if wait then
        ws.logins.limited = ws.logins.limited + 1
        ws.logged("limited", "login from %s refused: waiting %d s after failed logins", peer, wait)
        return nil, "too many failed logins from this address", wait
    end
    if ws.verifying then
        ws.logins.busy = ws.logins.busy + 1
        return nil, "busy", 1
    end
    local right
    if #user > MAX_USER or #password > MAX_PASSWORD then
        right = false
    else
        local ok, err = reread(ws)
        if not ok then
            ws.logged("passwd", "login from %s refused: %s", peer, err)
            return nil, err
        end
        right = ws.verifier:remembered(user, password)
        if right == nil then
            ws.verifying = true
            -- Reset even when the task waiting here is cancelled (its to-be-closed variables are closed).
            local _ <close> = setmetatable({}, { __close = function() ws.verifying = false end })
            right = ws.verifier:verify(user, password)
            if right == nil then
                ws.logins.busy = ws.logins.busy + 1
                return nil, "busy", 1
            end
        end
    end
    if not right then
        ws.logins.failed = ws.logins.failed + 1
        local after = ws.limiter.failed(peer)
        ws.logged("failed", "failed login from %s%s", peer, after and (", waits %d s"):format(after) or "")
        return nil, "wrong user or password", after
    end
    ws.limiter.succeeded(peer)
    ws.logins.ok = ws.logins.ok + 1
    log.info("%s logged in from %s", user, peer)
    return make(ws, user)
end

-- cookies(header, name): the values of the cookies called name in a Cookie header (at most MAX_COOKIES looked at).
function websession.cookies(header, name)
    local found, n = {}, 0
    for pair in (header or ""):gmatch("[^;,]+") do
        n = n + 1
        if n > MAX_COOKIES then break end
        local k, v = pair:match("^%s*([^=%s]+)%s*=%s*(.-)%s*$")
        if k == name then found[#found + 1] = v:match('^"(.*)"$') or v end
    end
    return found
end

-- ws:find(req): the session of the request's luaha_session cookie, or nil; a session found is used now.
function methods.find(ws, req)
    local t = ws.now()
    for _, id in ipairs(websession.cookies(req.headers and req.headers.cookie, COOKIE)) do
        if #id == 64 and id:match("^%x+$") then
            local key = luaha.auth.hash(id:lower(), 32)
            local s = ws.sessions[key]
            if s and (t - s.last >= ws.idle or t - s.created >= ws.absolute) then
                drop(ws, key, s)
                s = nil
            end
            if s then
                s.last = t
                return s
            end
        end
    end
    return nil
end

-- ws:logout(session): ends it (a session already ended is fine).
function methods.logout(ws, s)
    local id = s and ws.ids[s]
    if id then
        drop(ws, luaha.auth.hash(id, 32), s)
        log.info("%s logged out", s.user)
    end
end

-- ws:cookie(session, secure): the Set-Cookie value that gives the session, or (session nil) clears it.
function methods.cookie(ws, s, secure)
    local attrs = "; HttpOnly; SameSite=Strict; Path=/" .. (secure and "; Secure" or "")
    if s == nil then return COOKIE .. "=" .. attrs .. "; Max-Age=0" end
    local id = ws.ids[s]
    if not id then error("cookie: not a session of these sessions, or one that has ended", 2) end
    return COOKIE .. "=" .. id .. attrs
end

-- origin_of(url): "scheme://host[:port]" of an absolute URL, lower case, or nil.
local function origin_of(url)
    local o = url:match("^(%a[%w+.-]*://[^/?#]+)")
    return o and o:lower()
end

--[[
check_origin(req, origin): whether the request's Origin header, or lacking one its Referer, is
of origin ("http://127.0.0.1:3636"): true, or nil, 403, why. For the POSTs that have no session
yet (the login form), whose forgery would log a victim in as the attacker.
]]
function websession.check_origin(req, origin)
    if type(req) ~= "table" or type(origin) ~= "string" then
        error("check_origin: a request table and the listener's origin are required", 2)
    end
    local h = req.headers or {}
    local from = h.origin or h.referer
    if not from then return refuse("origin", req, 403, "no Origin or Referer header") end
    if origin_of(from) ~= origin:lower() then
        return refuse("origin", req, 403, ("origin %s is not %s"):format(from:sub(1, 100), origin))
    end
    return true
end

--[[
check_post(req, session, origin): whether a POST may change something: true and the form of its
body (websession.form); or nil, status, why: 401 without a session (403 when it brings Basic
credentials instead: they never authorise a POST), 403 when the Origin header (else Referer)
is not origin ("http://127.0.0.1:3636"), or when the CSRF token (the body's field csrf, else the
header X-CSRF-Token) is not the session's, compared in constant time. Counted in
websession.refused by reason and logged at a limited rate.
]]
function websession.check_post(req, session, origin)
    if type(req) ~= "table" or type(origin) ~= "string" then
        error("check_post: a request table and the listener's origin are required", 2)
    end
    local h = req.headers or {}
    if not session then
        if (h.authorization or ""):match("^[Bb]asic[%s]") then
            return refuse("basic", req, 403, "basic authentication does not authorise a POST")
        end
        return refuse("session", req, 401, "no session: log in first")
    end
    local ok, status, why = websession.check_origin(req, origin)
    if not ok then return nil, status, why end
    local form, err = websession.form(req.body)
    if not form then return refuse("csrf", req, 403, err) end
    local token = form.csrf or h["x-csrf-token"]
    if type(token) ~= "string" or not luaha.auth.equal(token, session.csrf) then
        return refuse("csrf", req, 403, token and "wrong CSRF token" or "no CSRF token")
    end
    return true, form
end

local function unescape(s)
    s = s:gsub("+", " ")
    if s:find("%%") then
        if s:find("%%%X") or s:find("%%%x%X") or s:find("%%%x?$") then return nil end
        s = s:gsub("%%(%x%x)", function(x) return string.char(tonumber(x, 16)) end)
    end
    return s
end

--[[
form(body): the fields of an application/x-www-form-urlencoded body, name = value (a field
given twice: the last), or nil and why: "form: larger than 65536 bytes", "form: more than 256
fields", "form: bad escape in field N". A field without "=" has the value "". An empty body
(or nil) is an empty form.
]]
function websession.form(body)
    body = body or ""
    if type(body) ~= "string" then error("form: the body must be a string", 2) end
    if #body > MAX_FORM then return nil, ("form: larger than %d bytes"):format(MAX_FORM) end
    local form, n = {}, 0
    for field in body:gmatch("[^&]+") do
        n = n + 1
        if n > MAX_FIELDS then return nil, ("form: more than %d fields"):format(MAX_FIELDS) end
        local k, v = field:match("^([^=]*)=?(.*)$")
        k, v = unescape(k), unescape(v)
        if not k or not v then return nil, ("form: bad escape in field %d"):format(n) end
        form[k] = v
    end
    return form
end

websession.COOKIE = COOKIE
websession.DEFAULTS = DEFAULTS

return websession
