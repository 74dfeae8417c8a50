-- tests/lua/anycast-config.lua: cluster = anycast in lvs.cf and Lua configs: defaults, --check refusals, mh-port, order.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local lvs = require "luaha.lvs"

local BASE = [[
serial_no = 1
service = lvs
cluster = anycast
network = direct
virtual web {
    active = 1
    address = 192.0.2.80 eth0
    port = 80
    server c {
        address = 198.51.100.12
        active = 1
    }
    server b {
        address = 198.51.100.9
        active = 1
    }
    server a {
        address = 198.51.100.12
        port = 8080
        active = 1
    }
    server off {
        address = 198.51.100.1
        active = 0
    }
}
virtual mail {
    active = 1
    address = 192.0.2.81 eth1
    port = 25
    scheduler = wrr
    announce_min_healthy = 2
    server a {
        address = 198.51.100.11
        active = 1
    }
}
]]

local function errors_of(text)
    local m, errs = lvscf.parse(text, "a.cf")
    t.eq(m, nil, "the model of a refused file")
    return table.concat(errs, "\n")
end

t.test("defaults-and-the-mh-scheduler", function()
    local m = assert(lvscf.parse(BASE, "a.cf"))
    t.eq(m.cluster, "anycast", "cluster")
    t.eq(m.bgp_table, 100, "bgp_table")
    t.eq(m.bgp_proto, 200, "bgp_proto")
    t.eq(m.drain_time, 10, "drain_time")
    t.eq(m.anycast_change_interval, 1, "anycast_change_interval")
    t.eq(m.virtuals[1].scheduler, "mh", "a virtual without scheduler")
    t.eq(m.virtuals[1].announce_min_healthy, 1, "announce_min_healthy")
    t.eq(m.virtuals[2].scheduler, "wrr", "scheduler = wrr stays")
    t.eq(m.virtuals[2].announce_min_healthy, 2, "announce_min_healthy = 2")
    -- A pair keeps Piranha's default, and the writer leaves the new options out at their defaults.
    local pair = assert(lvscf.parse(BASE:gsub("cluster = anycast\n", ""), "p.cf"))
    t.eq(pair.cluster, "pair", "the default cluster")
    t.eq(pair.virtuals[1].scheduler, "wlc", "a pair's default scheduler")
    local text = lvscf.write(pair)
    for _, key in ipairs({ "cluster", "bgp_", "drain_time", "anycast_change", "announce_min_healthy = 1" }) do
        assert(not text:find(key, 1, true), key .. " written at its default")
    end
    -- Written back, an anycast file reads as the same model, mh now written.
    local again = assert(lvscf.parse(lvscf.write(m), "b.cf"))
    t.eq(again.virtuals[1].scheduler, "mh", "mh written back")
    assert(lvscf.write(m):find("cluster = anycast", 1, true), "cluster not written")
end)

t.test("check-refuses-nat-backup-active-and-the-kernel-s-tables", function()
    local errs = errors_of(BASE:gsub("network = direct", "network = nat"))
    assert(errs:find("a.cf:4: network: nat with cluster = anycast: replies must come back through the director that"
        .. " holds the connection: keep NAT services in an active/backup pair", 1, true), errs)
    -- network not written: it is nat by default, and the cluster line is named.
    errs = errors_of(BASE:gsub("network = direct\n", ""))
    assert(errs:find("a.cf:3: network: nat with cluster = anycast", 1, true), errs)
    errs = errors_of(BASE:gsub("network = direct", "network = direct\nbackup = 192.0.2.2\nbackup_active = 1"))
    assert(errs:find("a.cf:6: backup_active: 1 with cluster = anycast: an anycast director has no partner", 1, true), errs)
    for _, n in ipairs({ 253, 254, 255 }) do
        errs = errors_of(BASE .. "bgp_table = " .. n .. "\n")
        assert(errs:find("bgp_table: table " .. n .. " is the kernel's", 1, true), errs)
    end
    errs = errors_of(BASE .. "bgp_proto = 4\n")
    assert(errs:find("bgp_proto: out of range: 4 (must be 5..255)", 1, true), errs)
    errs = errors_of(BASE .. "cluster = ring\n")
    assert(errs:find("unknown cluster", 1, true), errs)
    errs = errors_of(BASE .. "drain_time = 3601\n")
    assert(errs:find("drain_time: out of range", 1, true), errs)
    errs = errors_of(BASE .. "anycast_change_interval = 61\n")
    assert(errs:find("anycast_change_interval: out of range", 1, true), errs)
    -- A pair with NAT is Piranha's own set-up.
    assert(lvscf.parse(BASE:gsub("cluster = anycast\n", ""):gsub("network = direct", "network = nat"), "p.cf"))
end)

t.test("the-daemon-s-check-says-file-line-and-option", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write((BASE:gsub("network = direct", "network = nat")))
    f:close()
    local r = t.run_luaha({ "piranha", "--check", "-c", path })
    os.remove(path)
    t.eq(r.status, 1, "exit status: " .. r.stderr)
    assert(r.stderr:find(path .. ":4: network: nat with cluster = anycast", 1, true), r.stderr)
end)

t.test("lua-configs-take-the-same-names", function()
    local path = os.tmpname() .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write([[return { cluster = "anycast", network = "direct", bgp_table = 7, drain_time = 0.5,
        virtuals = { { name = "web", active = true, address = "192.0.2.80", device = "eth0",
            announce_min_healthy = 0, servers = { { name = "a", address = "198.51.100.11", active = true } } } } }]])
    f:close()
    local m, errs = lvscf.load_any(path)
    assert(m, errs and table.concat(errs, "\n"))
    t.eq(m.bgp_table, 7, "bgp_table")
    t.eq(m.drain_time, 0.5, "drain_time")
    t.eq(m.virtuals[1].scheduler, "mh", "scheduler")
    t.eq(m.virtuals[1].announce_min_healthy, 0, "announce_min_healthy")
    f = assert(io.open(path, "w"))
    f:write([[return { cluster = "anycast", network = "nat", virtuals = { { name = "web", active = true,
        address = "192.0.2.80", device = "eth0", servers = {} } } }]])
    f:close()
    m, errs = lvscf.load_any(path)
    os.remove(path)
    t.eq(m, nil, "a NAT anycast Lua config")
    assert(table.concat(errs, "\n"):find("network: nat with cluster = anycast", 1, true), table.concat(errs, "\n"))
end)

t.test("desired-table-in-canonical-order-at-weight-0", function()
    local m = assert(lvscf.parse(BASE, "a.cf"))
    local down = { c = true }
    local desired = lvs.desired(m, function(_, rs)
        if down[rs.name] then return nil end
        return rs.weight
    end)
    local web = desired[1]
    t.eq(web.scheduler, "mh", "scheduler")
    t.eq(#web.flags, 1, "flags")
    t.eq(web.flags[1], "mh-port", "the flag")
    local got = {}
    for _, d in ipairs(web.dests) do got[#got + 1] = ("%s:%d=%d"):format(d.address, d.port, d.weight) end
    -- 198.51.100.9 sorts before .12 by its bytes (not as text), port 80 before 8080; c is down: weight 0.
    t.eq(table.concat(got, " "), "198.51.100.9:80=1 198.51.100.12:80=0 198.51.100.12:8080=1", "dests")
    t.eq(desired[2].flags, nil, "wrr has no mh-port")
    -- A pair leaves a down server out, in the file's order.
    local pair = assert(lvscf.parse(BASE:gsub("cluster = anycast\n", ""), "p.cf"))
    local pd = lvs.desired(pair, function(_, rs) if not down[rs.name] then return rs.weight end end)
    got = {}
    for _, d in ipairs(pd[1].dests) do got[#got + 1] = ("%s:%d"):format(d.address, d.port) end
    t.eq(table.concat(got, " "), "198.51.100.9:80 198.51.100.12:8080", "a pair's dests")
    t.eq(pd[1].flags, nil, "a pair's flags")
    -- IPv6 after IPv4, by bytes, "::" expanded (a Lua policy's model may have IPv6 real servers).
    local v = { port = 80, servers = {} }
    for i, a in ipairs({ "2001:db8::a", "2001:db8:0:1::", "198.51.100.200", "2001:db8::9", "::1" }) do
        v.servers[i] = { address = a, active = true }
    end
    got = {}
    for _, i in ipairs(lvs.order_of(v)) do got[#got + 1] = v.servers[i].address end
    t.eq(table.concat(got, " "), "198.51.100.200 ::1 2001:db8::9 2001:db8::a 2001:db8:0:1::", "with IPv6")
    local _, family, prefix, bytes = luaha.net.parse_addr("2001:DB8:0::1")
    t.eq(family, "inet6", "family"); t.eq(prefix, nil, "no prefix")
    t.eq(bytes, "\32\1\13\184" .. ("\0"):rep(11) .. "\1", "the bytes of 2001:db8::1")
    t.eq(select(4, luaha.net.parse_addr("192.0.2.1/24")), "\192\0\2\1", "the bytes of an IPv4 address")
end)

t.test("digest-of-the-kernel-s-list-in-order", function()
    local anycast = require "luaha.anycast"
    local a = { { address = "198.51.100.11", port = 80, weight = 1 }, { address = "198.51.100.12", port = 80, weight = 0 } }
    local d = anycast.digest(a)
    assert(d:match("^%x+$") and #d == 16, "not 16 hexadecimal digits: " .. d)
    t.eq(anycast.digest({ a[1], a[2] }), d, "the same list")
    assert(anycast.digest({ a[2], a[1] }) ~= d, "the order does not count")
    assert(anycast.digest({ a[1], { address = "198.51.100.12", port = 80, weight = 3 } }) ~= d, "up and down do not count")
    t.eq(anycast.digest({ a[1], { address = "198.51.100.12", port = 80, weight = 0 } }), d, "a weight of 0 is down")
    t.eq(anycast.digest({ { address = "198.51.100.11", port = 80, weight = 7 }, a[2] }), d, "only up or down counts")
end)

require("luaha").exit(t.failures() == 0 and 0 or 1)
