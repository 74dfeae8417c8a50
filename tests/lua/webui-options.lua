-- tests/lua/webui-options.lua: the webui options: defaults, ranges, the refusal of plain HTTP beyond loopback, --check.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local lvscf = require "luaha.lvscf"

local SEED = t.slurp("tests/lua/data/seed.cf")

-- parse(lines...): the seed's lvs.cf with these lines first, parsed: model or nil, errors; warnings.
local function parse(...)
    return lvscf.parse(table.concat({ ... }, "\n") .. "\n" .. SEED, "t.cf")
end

-- ui(lines...): parse() with webui = 1 and a users file after these lines.
local function ui(...)
    local lines = { ... }
    lines[#lines + 1] = "webui = 1"
    lines[#lines + 1] = "status_passwd = /etc/sysconfig/ha/status.passwd"
    return parse(table.unpack(lines))
end

local function has(list, want)
    for _, s in ipairs(list or {}) do
        if s:find(want, 1, true) then return s end
    end
    error("missing: " .. want .. "\nin:\n" .. table.concat(list or {}, "\n"), 2)
end

t.test("defaults-and-left-out-of-the-written-file", function()
    local m = assert(parse())
    t.eq(m.webui, false, "webui")
    t.eq(m.webui_insecure, false, "webui_insecure")
    t.eq(m.webui_session_idle, 1800, "webui_session_idle")
    t.eq(m.webui_tls_cert, nil, "webui_tls_cert")
    assert(not lvscf.write(m):find("webui", 1, true), "a default webui option was written")
    m = assert(ui("webui_session_idle = 600", "webui_tls_cert = /etc/c.pem", "webui_tls_key = /etc/k.pem"))
    t.eq(m.webui, true, "webui = 1")
    t.eq(m.webui_tls_key, "/etc/k.pem", "webui_tls_key")
    local again = assert(lvscf.parse(lvscf.write(m), "w.cf"))
    t.eq(again.webui_session_idle, 600, "written and read back")
    t.eq(again.webui_tls_cert, "/etc/c.pem", "written and read back")
end)

t.test("session-idle-range", function()
    local m, errs = parse("webui_session_idle = 59")
    assert(not m)
    has(errs, "t.cf:1: webui_session_idle: out of range: 59 (must be 60..43200)")
    m, errs = parse("webui_session_idle = 43201")
    assert(not m)
    has(errs, "t.cf:1: webui_session_idle: out of range: 43201 (must be 60..43200)")
    assert(parse("webui_session_idle = 43200"))
end)

t.test("plain-http-beyond-loopback-is-refused-naming-webui", function()
    local m, errs = parse("status_listen = 0.0.0.0:3636", "status_passwd = /p", "webui = 1")
    assert(not m, "parsed")
    has(errs, "t.cf:3: webui: the UI would listen beyond loopback (status_listen = 0.0.0.0:3636) in plain HTTP")
    m, errs = ui("status_listen = [2001:db8::1]:3636")
    assert(not m, "parsed an IPv6 listener")
    has(errs, "t.cf:2: webui: the UI would listen beyond loopback")
    -- Nobody could log in without a users file.
    m, errs = parse("webui = 1")
    assert(not m, "parsed without status_passwd")
    has(errs, "t.cf:1: webui: needs status_passwd")
    -- Loopback, TLS, or plain HTTP said out loud: accepted.
    assert(ui())
    assert(ui("status_listen = 127.0.0.2:8443"))
    assert(ui("status_listen = [::1]:3636"))
    assert(ui("status_listen = 0.0.0.0:3636", "webui_insecure = 1"))
    assert(ui("status_listen = 0.0.0.0:3636", "webui_tls_cert = /c", "webui_tls_key = /k"))
    -- Without webui the listener is the status page it was.
    assert(parse("status_listen = 0.0.0.0:3636"))
end)

t.test("tls-needs-both-files", function()
    local m, errs = ui("webui_tls_cert = /c")
    assert(not m)
    has(errs, "t.cf:1: webui_tls_cert: set without webui_tls_key")
    m, errs = ui("webui_tls_key = /k")
    assert(not m)
    has(errs, "t.cf:1: webui_tls_key: set without webui_tls_cert")
    local warns
    m, errs, warns = parse("webui_insecure = 1")
    assert(m, errs and errs[1])
    has(warns, "t.cf:1: webui_insecure: set, but no listener uses it")
end)

t.test("lua-config-refuses-the-same", function()
    local path = os.tmpname() .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write([[return { primary = "192.0.2.210", webui = true, status_listen = "0.0.0.0:3636", virtuals = {
        { name = "web", active = true, address = "192.0.2.212", device = "eth0:1", servers = {} } } }]])
    f:close()
    local m, errs = lvscf.load_lua(path)
    os.remove(path)
    assert(not m, "loaded")
    has(errs, "webui: the UI would listen beyond loopback")
end)

t.test("check-refuses-it-as-start-would", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("status_listen = 0.0.0.0:3636\nstatus_passwd = /nonexistent\nwebui = 1\n", SEED)
    f:close()
    local r = t.run_luaha({ "policies/piranha.lua", "-c", path, "--check" })
    t.eq(r.status, 1, "status of --check")
    assert(r.stderr:find(path .. ":3: webui: the UI would listen beyond loopback", 1, true), r.stderr)
    r = t.run_luaha({ "policies/piranha.lua", "-c", path, "--foreground" })
    t.eq(r.status, 1, "status of a start")
    assert(r.stderr:find(path .. ":3: webui: the UI would listen beyond loopback", 1, true), r.stderr)
    os.remove(path)
end)

-- The TLS pair is read and matched at --check and at start, as the listener will: an unusable pair is named.
t.test("check-reads-the-tls-pair", function()
    local c = assert(require("tlscert").make())
    local path = c.dir .. "/lvs.cf"
    local function run(cert, key, ...)
        local f = assert(io.open(path, "w"))
        f:write("webui = 1\nstatus_passwd = ", c.dir, "/users\nwebui_tls_cert = ", cert, "\nwebui_tls_key = ", key, "\n", SEED)
        f:close()
        return t.run_luaha({ "policies/piranha.lua", "-c", path, ... })
    end
    local users = assert(io.open(c.dir .. "/users", "w"))
    users:write("piranha:", require("luaha").auth.pwhash("s3cret"), "\n")
    users:close()
    local r = run(c.cert, c.other_key, "--check")
    t.eq(r.status, 1, "--check of a mismatched pair")
    assert(r.stderr:find(path .. ": webui_tls_key: key " .. c.other_key .. " is not the key of certificate "
        .. c.cert, 1, true), r.stderr)
    r = run(c.dir .. "/none.pem", c.key, "--foreground")
    t.eq(r.status, 1, "a start with a missing certificate")
    assert(r.stderr:find(path .. ": webui_tls_cert: certificate " .. c.dir .. "/none.pem: No such file or directory",
        1, true), r.stderr)
    r = run(c.cert, c.key, "--check")
    t.eq(r.status, 0, "--check of the good pair: " .. r.stderr)
    c.remove()
end)

require("luaha").exit(t.failures() == 0 and 0 or 1)
