-- tests/lua/websession.lua: the web UI's sessions, expiry, CSRF and Origin checks, login limiter and form bodies.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local websession = require "luaha.websession"

local ORIGIN = "http://127.0.0.1:3636"

-- A password file of users (name = password), hashed here; its path.
local function passwd_file(users, path)
    path = path or os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("# a comment line\n")
    for name, pw in pairs(users) do f:write(name, ":", luaha.auth.pwhash(pw), "\n") end
    f:close()
    return path
end

-- A clock the test moves.
local function clock(start)
    local c = { t = start or 1000 }
    function c.now() return c.t end
    return c
end

local PASSWD = passwd_file({ piranha = "right horse", admin = "battery staple" })

local function cookie_req(value, extra)
    local req = { method = "GET", path = "/", peer = "192.0.2.1", headers = { cookie = value } }
    for k, v in pairs(extra or {}) do req[k] = v end
    return req
end

-- The id a Set-Cookie value gives.
local function cookie_id(set)
    return set:match("^luaha_session=(%x+);")
end

t.test("auth-equal-compares-whole-strings", function()
    t.eq(luaha.auth.equal("abc", "abc"), true, "same")
    t.eq(luaha.auth.equal("abc", "abd"), false, "last byte differs")
    t.eq(luaha.auth.equal("abc", "abcd"), false, "a prefix")
    t.eq(luaha.auth.equal("", ""), true, "empty")
    t.eq(luaha.auth.equal("a\0b", "a\0c"), false, "after a NUL")
    t.checkerr("bad argument", luaha.auth.equal, "a", nil)
end)

t.test("new-refuses-a-missing-or-empty-password-file", function()
    local ws, err = websession.new({ passwd = "/nonexistent/status.passwd" })
    t.eq(ws, nil, "missing file")
    assert(err:find("status_passwd /nonexistent/status.passwd", 1, true), err)
    local empty = os.tmpname()
    ws, err = websession.new({ passwd = empty })
    os.remove(empty)
    t.eq(ws, nil, "empty file")
    assert(err:find("no user:HASH line", 1, true), err)
    t.checkerr("opts.passwd", websession.new, {})
    t.checkerr("opts.idle", websession.new, { passwd = PASSWD, idle = 0 })
end)

t.test("login-find-cookie-logout", function()
    local ws = assert(websession.new({ passwd = PASSWD }))
    local s, err = ws:login("piranha", "right horse", "192.0.2.1")
    assert(s, err)
    t.eq(s.user, "piranha", "user")
    assert(s.csrf:match("^%x+$") and #s.csrf == 64, "csrf is 32 bytes in hex: " .. s.csrf)
    local set = ws:cookie(s, false)
    local id = cookie_id(set)
    assert(id and #id == 64, set)
    t.eq(set, "luaha_session=" .. id .. "; HttpOnly; SameSite=Strict; Path=/", "cookie")
    t.eq(ws:cookie(s, true), set .. "; Secure", "cookie under TLS")
    t.eq(ws:cookie(nil, false), "luaha_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0", "clearing")
    t.eq(ws:cookie(nil, true), "luaha_session=; HttpOnly; SameSite=Strict; Path=/; Secure; Max-Age=0",
        "clearing under TLS")
    -- Found among other cookies, quoted or not, in either case of hex; not with one digit changed.
    t.eq(ws:find(cookie_req("theme=dark; luaha_session=" .. id .. "; x=1")), s, "found")
    t.eq(ws:find(cookie_req('luaha_session="' .. id:upper() .. '"')), s, "quoted, upper case")
    local other = (id:sub(1, 63) .. (id:sub(64) == "0" and "1" or "0"))
    t.eq(ws:find(cookie_req("luaha_session=" .. other)), nil, "another id")
    t.eq(ws:find(cookie_req("luaha_session=" .. id:sub(1, 63))), nil, "short id")
    t.eq(ws:find(cookie_req(nil)), nil, "no cookie")
    t.eq(ws:find({ headers = {} }), nil, "no headers")
    -- Two logins are two sessions with their own tokens.
    local s2 = assert(ws:login("piranha", "right horse", "192.0.2.1"))
    assert(s2 ~= s and s2.csrf ~= s.csrf and cookie_id(ws:cookie(s2)) ~= id, "a second session differs")
    ws:logout(s)
    t.eq(ws:find(cookie_req("luaha_session=" .. id)), nil, "gone after logout")
    t.checkerr("not a session", ws.cookie, ws, s, false)
    ws:logout(s)        -- twice is fine
    assert(ws:find(cookie_req("luaha_session=" .. cookie_id(ws:cookie(s2)))) == s2, "the other stays")
end)

t.test("idle-and-absolute-expiry", function()
    local c = clock()
    local ws = assert(websession.new({ passwd = PASSWD, idle = 100, absolute = 250, now = c.now }))
    local s = assert(ws:login("admin", "battery staple", "192.0.2.2"))
    local req = cookie_req(ws:cookie(s):match("^([^;]+)"))
    c.t = c.t + 99
    t.eq(ws:find(req), s, "used before idle")
    c.t = c.t + 99
    t.eq(ws:find(req), s, "each use restarts idle")
    c.t = c.t + 100
    t.eq(ws:find(req), nil, "idle for 100 s: ended")
    t.eq(ws.count, 0, "and dropped")
    s = assert(ws:login("admin", "battery staple", "192.0.2.2"))
    req = cookie_req(ws:cookie(s):match("^([^;]+)"))
    for _ = 1, 4 do
        c.t = c.t + 60
        t.eq(ws:find(req), s, "in use, before absolute")
    end
    c.t = c.t + 10
    t.eq(ws:find(req), nil, "250 s after the login: ended however used")
end)

t.test("sessions-are-bounded-least-recently-used-goes", function()
    local c = clock()
    local ws = assert(websession.new({ passwd = PASSWD, now = c.now }))
    local first = assert(ws:login("piranha", "right horse", "192.0.2.3"))
    local first_req = cookie_req(ws:cookie(first):match("^([^;]+)"))
    c.t = c.t + 1
    local second = assert(ws:login("piranha", "right horse", "192.0.2.3"))
    local second_req = cookie_req(ws:cookie(second):match("^([^;]+)"))
    for _ = 1, 300 do
        c.t = c.t + 1
        assert(ws:find(first_req) == first, "the first one, used, stays")
        assert(ws:login("piranha", "right horse", "192.0.2.3"))
    end
    t.eq(ws.count, 256, "sessions held")
    t.eq(ws:find(second_req), nil, "the second one, unused, went")
    t.eq(ws:find(first_req), first, "the first one is still there")
end)

t.test("wrong-password-unknown-user-costs-the-same-and-waits-off-the-loop", function()
    local ws = assert(websession.new({ passwd = PASSWD }))
    local function timed(user, pw)
        local ticks, running = 0, true
        local ticker = luaha.spawn(function()
            while running do luaha.sleep(0.001) ticks = ticks + 1 end
        end)
        local t0 = luaha.now()
        local s, why, after = ws:login(user, pw, "192.0.2.4")
        local took = luaha.now() - t0
        running = false
        ticker:join(5)
        return s, why, after, took, ticks
    end
    local s, why, after, known, ticks = timed("piranha", "wrong horse")
    t.eq(s, nil, "wrong password")
    t.eq(why, "wrong user or password", "why")
    t.eq(after, nil, "no wait after one failure")
    assert(ticks >= 3, "the loop ran while the password was verified: " .. ticks .. " ticks")
    local _, why2, _, unknown, ticks2 = timed("nobody", "wrong horse")
    why, ticks = why2, ticks2
    t.eq(why, "wrong user or password", "unknown user: same answer")
    assert(ticks >= 3, "the loop ran while the unknown user was verified: " .. ticks .. " ticks")
    -- Argon2id at the interactive limits takes 0.1 s or more of CPU; a shortcut would take microseconds.
    assert(known >= 0.02 and unknown >= 0.02,
        ("both were hashed: known %.3f s, unknown %.3f s"):format(known, unknown))
    -- Over-long inputs fail without hashing, as wrong passwords.
    _, why = ws:login(("u"):rep(300), "x", "192.0.2.4")
    t.eq(why, "wrong user or password", "a long user name")
    _, why = ws:login("piranha", ("p"):rep(2000), "192.0.2.4")
    t.eq(why, "wrong user or password", "a long password")
    t.eq(ws.logins.failed, 4, "failures counted")
end)

t.test("limiter-5-failures-then-60s-doubling-to-15min", function()
    local c = clock()
    local ws = assert(websession.new({ passwd = PASSWD, now = c.now }))
    local A, B = "198.51.100.7", "198.51.100.8"
    for i = 1, 4 do
        local s, why, after = ws:login("piranha", "guess", A)
        t.eq(s, nil, "failure " .. i)
        t.eq(why, "wrong user or password", "failure " .. i)
        t.eq(after, nil, "no wait yet at failure " .. i)
        c.t = c.t + 10
    end
    local _, why, after = ws:login("piranha", "guess", A)
    t.eq(why, "wrong user or password", "5th failure")
    t.eq(after, 60, "the 5th failure in 5 min makes it wait 60 s")
    -- Waiting: refused before any verification, even with the right password.
    _, why, after = ws:login("piranha", "right horse", A)
    t.eq(why, "too many failed logins from this address", "6th try")
    t.eq(after, 60, "retry after")
    c.t = c.t + 45
    _, why, after = ws:login("piranha", "right horse", A)
    t.eq(why, "too many failed logins from this address", "still waiting")
    t.eq(after, 15, "15 s left")
    -- Another address is not concerned.
    assert(ws:login("piranha", "right horse", B), "another address logs in")
    -- After the wait one more failure doubles it: 120, 240, 480, then 900 at most.
    c.t = c.t + 15
    for _, want in ipairs({ 120, 240, 480, 900, 900 }) do
        _, why, after = ws:login("piranha", "guess", A)
        t.eq(why, "wrong user or password", "a failure after the wait")
        t.eq(after, want, "the next wait")
        c.t = c.t + want
    end
    -- A right password after the wait clears the address's record.
    assert(ws:login("piranha", "right horse", A), "right password after the wait")
    for i = 1, 4 do
        _, _, after = ws:login("piranha", "guess", A)
        t.eq(after, nil, "counting starts afresh: failure " .. i)
    end
    -- Failures spread over more than 5 minutes never make it wait.
    local C = "198.51.100.9"
    for i = 1, 12 do
        _, _, after = ws:login("piranha", "guess", C)
        t.eq(after, nil, "spread failure " .. i)
        c.t = c.t + 76
    end
    t.eq(ws.logins.limited, 2, "refusals while waiting counted")
end)

t.test("limiter-ipv6-by-64-and-table-bounded", function()
    local c = clock()
    local ws = assert(websession.new({ passwd = PASSWD, now = c.now }))
    for i = 1, 5 do ws:login("piranha", "guess", ("2001:db8:1:2::%x"):format(i)) end
    local _, why = ws:login("piranha", "right horse", "2001:db8:1:2:ffff::1")
    t.eq(why, "too many failed logins from this address", "the same /64 waits")
    assert(ws:login("piranha", "right horse", "2001:db8:1:3::1"), "another /64 does not")
    -- 1100 addresses failing: the table stays at 1024 records; those beyond share one.
    for i = 1, 1100 do
        ws:login("piranha", "guess", ("203.0.113.%d"):format(i % 250) .. "")
        ws:login("piranha", "guess", ("2001:db8:%x::1"):format(i + 16))
    end
    assert(ws.limiter.n <= 1024, "limiter records: " .. ws.limiter.n)
    t.eq(ws.limiter.peers["*"] ~= nil, true, "the shared record is in use")
    -- When the records have nothing left to remember, new addresses get their own again.
    c.t = c.t + 10000
    ws:login("piranha", "guess", "198.51.100.200")
    assert(ws.limiter.peers["198.51.100.200"], "an idle table makes room")
end)

t.test("one-verification-at-a-time-and-cancel-frees-it", function()
    local ws = assert(websession.new({ passwd = PASSWD }))
    local first = luaha.spawn(function() return ws:login("admin", "first try", "192.0.2.10") end)
    assert(t.until_(function() return ws.verifying end, 5), "the first login is being verified")
    local s, why, after = ws:login("admin", "second try", "192.0.2.11")
    t.eq(s, nil, "second login")
    t.eq(why, "busy", "refused while the first runs")
    t.eq(after, 1, "retry after 1 s")
    local _, fwhy = first:join(30)
    t.eq(fwhy, "wrong user or password", "the first one's answer")
    t.eq(ws.verifying, false, "free again")
    -- A login task cancelled while it waits for the worker frees the verification too.
    local doomed = luaha.spawn(function() return ws:login("admin", "third try", "192.0.2.12") end)
    assert(t.until_(function() return ws.verifying end, 5), "the third login is being verified")
    doomed:cancel()
    t.eq(ws.verifying, false, "cancelled: free again")
    t.eq(ws.logins.busy, 1, "busy counted")
end)

t.test("password-file-read-again-at-login", function()
    local path = passwd_file({ piranha = "old one" })
    local ws = assert(websession.new({ passwd = path }))
    local old = assert(ws:login("piranha", "old one", "192.0.2.20"), "old password")
    local old_req = cookie_req(ws:cookie(old):match("^([^;]+)"))
    passwd_file({ piranha = "new one" }, path)
    t.eq(ws:find(old_req), old, "the session lasts until the file is read again")
    local _, why = ws:login("piranha", "old one", "192.0.2.20")
    t.eq(why, "wrong user or password", "the old password no longer works")
    t.eq(ws:find(old_req), nil, "the session opened with the old password ended")
    assert(ws:login("piranha", "new one", "192.0.2.20"), "the new one does")
    os.remove(path)
    _, why = ws:login("piranha", "new one", "192.0.2.20")
    assert(why and why:find("status_passwd", 1, true), "a missing file refuses: " .. tostring(why))
end)

t.test("check-post-session-origin-csrf-basic", function()
    local ws = assert(websession.new({ passwd = PASSWD }))
    local s = assert(ws:login("piranha", "right horse", "192.0.2.30"))
    local function post(headers, body, session)
        return websession.check_post({ method = "POST", path = "/global", peer = "192.0.2.30",
            headers = headers, body = body }, session, ORIGIN)
    end
    -- refused(...): post(...) must refuse; its status and why.
    local function refused_with(...)
        local ok, status, why = post(...)
        t.eq(ok, nil, "refused")
        return status, why
    end
    local good = "csrf=" .. s.csrf .. "&port=80"
    local refused = websession.refused
    local before = { session = refused.session, basic = refused.basic, origin = refused.origin, csrf = refused.csrf }

    local status, why = refused_with({ origin = ORIGIN }, good, nil)
    t.eq(status, 401, "no session: 401")
    t.eq(why, "no session: log in first", "why")
    status, why = refused_with({ origin = ORIGIN, authorization = "Basic cGlyYW5oYTpyaWdodCBob3JzZQ==" }, good, nil)
    t.eq(status, 403, "Basic credentials never authorise a POST")
    assert(why:find("basic", 1, true), why)
    status = refused_with({}, good, s)
    t.eq(status, 403, "no Origin, no Referer")
    status = refused_with({ origin = "http://evil.example" }, good, s)
    t.eq(status, 403, "foreign Origin")
    status = refused_with({ origin = ORIGIN .. ".evil.example" }, good, s)
    t.eq(status, 403, "an Origin that only starts like ours")
    status = refused_with({ origin = "http://127.0.0.1:36360" }, good, s)
    t.eq(status, 403, "another port")
    status = refused_with({ origin = "null" }, good, s)
    t.eq(status, 403, "Origin null")
    status = refused_with({ origin = "http://evil.example", referer = ORIGIN .. "/global" }, good, s)
    t.eq(status, 403, "a foreign Origin is not saved by a good Referer")
    status, why = refused_with({ origin = ORIGIN }, "port=80", s)
    t.eq(status, 403, "no token")
    t.eq(why, "no CSRF token", "why")
    local wrong = s.csrf:sub(1, 63) .. (s.csrf:sub(64) == "a" and "b" or "a")
    status, why = refused_with({ origin = ORIGIN }, "csrf=" .. wrong, s)
    t.eq(status, 403, "a wrong token")
    t.eq(why, "wrong CSRF token", "why")
    status = refused_with({ origin = ORIGIN, ["x-csrf-token"] = wrong }, "", s)
    t.eq(status, 403, "a wrong token in the header")
    local other = assert(ws:login("piranha", "right horse", "192.0.2.30"))
    status = refused_with({ origin = ORIGIN }, "csrf=" .. other.csrf, s)
    t.eq(status, 403, "another session's token")
    status = refused_with({ origin = ORIGIN }, "csrf=%zz", s)
    t.eq(status, 403, "a body that is not a form")

    local ok, form = post({ origin = ORIGIN }, good, s)
    t.eq(ok, true, "good token and Origin")
    t.eq(form.port, "80", "the form comes back")
    ok = post({ referer = ORIGIN .. "/virtual/web?x=1" }, good, s)
    t.eq(ok, true, "no Origin: the Referer's origin")
    ok = post({ origin = "HTTP://127.0.0.1:3636", ["x-csrf-token"] = s.csrf }, "action=drain", s)
    t.eq(ok, true, "token in the header; the scheme's case does not matter")
    ok = post({ origin = ORIGIN, authorization = "Basic eDp5" }, good, s)
    t.eq(ok, true, "with a session, a Basic header changes nothing")

    -- The login form's POST has no session yet: its Origin alone is checked.
    local login = { method = "POST", path = "/login", peer = "192.0.2.30", body = "user=a&password=b" }
    login.headers = { origin = ORIGIN }
    t.eq(websession.check_origin(login, ORIGIN), true, "login from our origin")
    login.headers = { origin = "http://evil.example" }
    t.eq(select(2, websession.check_origin(login, ORIGIN)), 403, "login from another origin")
    login.headers = {}
    t.eq(select(2, websession.check_origin(login, ORIGIN)), 403, "login without Origin or Referer")
    t.checkerr("origin are required", websession.check_origin, login)

    t.eq(refused.session - before.session, 1, "counted: session")
    t.eq(refused.basic - before.basic, 1, "counted: basic")
    t.eq(refused.origin - before.origin, 8, "counted: origin")
    t.eq(refused.csrf - before.csrf, 5, "counted: csrf")
end)

-- The CPU time of this process's main thread (the loop's, not the worker's), in seconds, to 10 ms.
local function loop_cpu()
    local f = assert(io.open(("/proc/self/task/%d/stat"):format(luaha.daemon.getpid())))
    local line = f:read("l")
    f:close()
    local fields = {}
    for w in line:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = w end
    return (tonumber(fields[12]) + tonumber(fields[13])) / 100      -- utime, stime in clock ticks
end

t.test("a-flood-of-bad-logins-does-not-hold-the-loop", function()
    local ws = assert(websession.new({ passwd = PASSWD }))
    -- 40 logins over 2 s (20 a second), each a new password from a new address: at most one is
    -- verified at a time, the others are told "busy"; meanwhile the loop's thread never spends
    -- more than 50 ms of CPU between two ticks of 10 ms (Argon2id alone would take 100 ms or more).
    local running, cpu_gap, last = true, 0, loop_cpu()
    local ticker = luaha.spawn(function()
        while running do
            luaha.sleep(0.01)
            local cpu = loop_cpu()
            cpu_gap, last = math.max(cpu_gap, cpu - last), cpu
        end
    end)
    local answers, tasks = {}, {}
    for i = 1, 40 do        -- two at once every 0.1 s: the second finds the first being verified
        tasks[i] = luaha.spawn(function()
            local _, why = ws:login("piranha", "flood " .. i, "203.0.113." .. i)
            answers[why] = (answers[why] or 0) + 1
        end)
        if i % 2 == 0 then luaha.sleep(0.1) end
    end
    for _, task in ipairs(tasks) do task:join(60) end
    running = false
    ticker:join(5)
    assert((answers["wrong user or password"] or 0) >= 1, "some were verified")
    assert((answers.busy or 0) >= 20, "the second of each pair was told busy")
    t.eq((answers["wrong user or password"] or 0) + (answers.busy or 0), 40, "every login answered")
    assert(cpu_gap <= 0.05, ("the loop's thread used %.2f s of CPU between two ticks"):format(cpu_gap))
end)

t.test("form-decoding-and-limits", function()
    local f = assert(websession.form("a=1&b=two+words&c=%41%2b%26%3D&d&e=&a=3&&f=x%0Ay"))
    t.eq(f.a, "3", "repeated: the last")
    t.eq(f.b, "two words", "+ is a space")
    t.eq(f.c, "A+&=", "escapes")
    t.eq(f.d, "", "no =")
    t.eq(f.e, "", "empty value")
    t.eq(f.f, "x\ny", "a newline decoded (lvscf.check refuses it later)")
    t.eq(next(assert(websession.form(""))), nil, "empty body")
    t.eq(next(assert(websession.form(nil))), nil, "no body")
    t.eq(assert(websession.form("na%6De=v"))["name"], "v", "escaped name")
    for _, bad in ipairs({ "a=%", "a=%4", "a=%4g", "a=%g4", "%=1", "a=b%" }) do
        local r, why = websession.form(bad)
        t.eq(r, nil, bad)
        assert(why:find("bad escape", 1, true), why)
    end
    -- 64 KiB exactly is taken; one byte more is not.
    local big = "a=" .. ("x"):rep(65536 - 2)
    assert(websession.form(big), "65536 bytes")
    local r, why = websession.form(big .. "x")
    t.eq(r, nil, "65537 bytes")
    t.eq(why, "form: larger than 65536 bytes", "why")
    -- 256 fields are taken; 257 are not.
    local fields = {}
    for i = 1, 256 do fields[i] = "f" .. i .. "=" .. i end
    t.eq(assert(websession.form(table.concat(fields, "&"))).f256, "256", "256 fields")
    fields[257] = "f257=1"
    r, why = websession.form(table.concat(fields, "&"))
    t.eq(r, nil, "257 fields")
    t.eq(why, "form: more than 256 fields", "why")
    t.checkerr("must be a string", websession.form, {})
end)

t.test("cookie-header-parsing-is-bounded", function()
    t.eq(#websession.cookies("a=1; luaha_session=x; b=2, luaha_session=y", "luaha_session"), 2, "both values")
    t.eq(websession.cookies(" luaha_session = v ", "luaha_session")[1], "v", "spaces")
    local many = {}
    for i = 1, 100 do many[i] = "c" .. i .. "=1" end
    many[101] = "luaha_session=late"
    t.eq(#websession.cookies(table.concat(many, "; "), "luaha_session"), 0, "past 64 cookies: not looked at")
end)

os.remove(PASSWD)
luaha.exit(t.failures() == 0 and 0 or 1)
