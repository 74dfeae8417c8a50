-- tests/lua/ipvs-without-module.lua: without ip_vs, luaha.ipvs says so as nil and "ipvs: ..."; bad arguments still raise.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local ipvs = luaha.ipvs

local info, why = ipvs.info()
if info then
    print("SKIP ipvs-without-module: this kernel has IPVS")
    luaha.exit(0)
end

local missing = "ipvs: IPVS is not available in this kernel (is ip_vs loaded?)"
local svc = { protocol = "tcp", address = "192.0.2.10", port = 80 }

t.test("world-says-no-as-nil-and-message", function()
    t.eq(why, missing, "info")
    local calls = {
        services = function() return ipvs.services() end,
        add_service = function() return ipvs.add_service(svc) end,
        add_dest = function() return ipvs.add_dest(svc, { address = "198.51.100.1" }) end,
        list_dests = function() return ipvs.list_dests(svc) end,
        batch = function() return ipvs.batch({ { op = "del_service", service = svc } }) end,
        flush = function() return ipvs.flush() end,
        zero = function() return ipvs.zero(svc) end,
        timeouts = function() return ipvs.timeouts() end,
        set_timeouts = function() return ipvs.set_timeouts({ tcp = 900 }) end,
        daemons = function() return ipvs.daemons() end,
        start_daemon = function() return ipvs.start_daemon({ state = "master", ifname = "lo" }) end,
        stop_daemon = function() return ipvs.stop_daemon("backup") end,
        format = function() return ipvs.format() end,
    }
    for name, f in pairs(calls) do
        local ok, err = f()
        t.eq(ok, nil, name)
        t.eq(err, missing, name)
    end
    -- apply reads the kernel's table first; given the table, it fails at the first batch.
    local ok, err = ipvs.apply({ svc })
    t.eq(ok, nil, "apply"); t.eq(err, missing, "apply")
    ok, err = ipvs.apply({ svc }, { current = {} })
    t.eq(ok, nil, "apply with current")
    assert(err:find(missing, 1, true), err)
    -- Formatting a given table needs no kernel, nor does a dry run against a given table.
    local text = assert(ipvs.format({ ipvs.normalize(svc) }, { version = "1.2.1", conn_tab_size = 4096 }))
    assert(text:find("TCP  192.0.2.10:80 wlc", 1, true), text)
    t.eq(assert(ipvs.apply({ svc }, { current = {}, dry_run = true })).added, 1, "dry run")
end)

t.test("bad-arguments-raise-first", function()
    t.checkerr("unknown service field 'bogus'", ipvs.add_service, { address = "192.0.2.1", bogus = 1 })
    t.checkerr("unknown operation \"nope\"", ipvs.batch, { { op = "nope" } })
    t.checkerr("needs a destination", ipvs.batch, { { op = "add_dest", service = svc } })
    t.checkerr("unknown option 'tpc'", ipvs.set_timeouts, { tpc = 1 })
    t.checkerr("daemon state", ipvs.stop_daemon, "primary")
    t.checkerr("start_daemon needs an ifname", ipvs.start_daemon, { state = "master" })
end)

luaha.exit(t.failures() == 0 and 0 or 1)
