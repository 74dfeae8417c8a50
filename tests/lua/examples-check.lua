-- tests/lua/examples-check.lua: the shipped lvs.cf samples pass --check and program what their comments say.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"

local function piranha(...)
    return t.run_luaha({ "policies/piranha.lua", ... })
end

local function samples()
    local r = assert(luaha.proc.run({ "sh", "-c", "ls examples/lvs.cf examples/lvs.cf.d/*.cf" }, { timeout = 10 }))
    local files = {}
    for path in r.stdout:gmatch("[^\n]+") do files[#files + 1] = path end
    return files
end

t.test("every-sample-passes-check-without-warnings", function()
    local files = samples()
    assert(#files >= 8, "lvs.cf and the samples for NAT, DR, tunnel, fwmark, persistence, sorry server and fos: "
        .. table.concat(files, " "))
    for _, path in ipairs(files) do
        local r = piranha("-c", path, "--check")
        t.eq(r.status, 0, path .. ": status")
        t.eq(r.stdout, path .. ": OK\n", path .. ": stdout")
        t.eq(r.stderr, "", path .. ": stderr (a warning)")
        local f = assert(io.open(path))
        local first, second = f:read("l"), f:read("l")
        f:close()
        assert(first:find("^# " .. path:gsub("%p", "%%%0") .. ": %S"), path .. ": the first line says what it is: " .. first)
        t.eq(second, "# SPDX-License-Identifier: GPL-2.0-or-later", path .. ": SPDX line")
    end
end)

t.test("lvs.cf-is-the-seed", function()
    local seed = assert(lvscf.load("tests/lua/data/seed.cf"))
    t.same(assert(lvscf.load("examples/lvs.cf")), seed)
    t.same(assert(lvscf.load_any("examples/lvs.lua")), seed)
end)

-- Each sample's table, as --dry-run prints it: the forwarding method, the mark, the persistence its comment names.
t.test("samples-program-what-they-say", function()
    local want = {
        ["lvs.cf.d/nat.cf"] = { "TCP  203.0.113.10:80 wlc\n", "  -> 198.51.100.11:8080           Masq    1" },
        ["lvs.cf.d/dr.cf"] = { "TCP  192.0.2.80:443 wlc\n", "  -> 192.0.2.12:443               Route   1" },
        ["lvs.cf.d/tunnel.cf"] = { "UDP  192.0.2.53:53 rr\n", "  -> 203.0.113.53:53              Tunnel  1" },
        ["lvs.cf.d/fwmark.cf"] = { "FWM  80 wlc persistent 600\n", "  -> 192.0.2.22:80                Route   1" },
        ["lvs.cf.d/persistence.cf"] = { "TCP  192.0.2.25:80 lc persistent 1800 mask 255.255.255.0\n" },
    }
    for name, lines in pairs(want) do
        local r = piranha("-c", "examples/" .. name, "--dry-run")
        t.eq(r.status, 0, name .. ": status")
        for _, line in ipairs(lines) do assert(r.stdout:find(line, 1, true), name .. ": no " .. line .. " in\n" .. r.stdout) end
    end
    local m = assert(lvscf.load("examples/lvs.cf.d/sorry-server.cf"))
    t.eq(m.virtuals[1].sorry_server, "192.0.2.99", "sorry_server")
    m = assert(lvscf.load("examples/lvs.cf.d/fos.cf"))
    t.eq(m.service, "fos", "service"); t.eq(#m.failovers, 1, "one failover block")
end)

luaha.exit(t.failures() == 0 and 0 or 1)
