-- tests/lua/lvs.lua: the IPVS table built from an lvs.cf model: active blocks, forwarding, persistence, weights, sorry server.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local lvs = require "luaha.lvs"
local ipvs = luaha.ipvs

local function model(text)
    local m, errs = lvscf.parse(text, "test.cf")
    assert(m, errs and table.concat(errs, "\n"))
    return m
end

t.test("seed-table-is-what-ipvsadm-showed", function()
    local m = assert(lvscf.load("tests/lua/data/seed.cf"))
    local desired = lvs.desired(m)
    -- ipvs.format prints a table without asking the kernel for its header only through info();
    -- compare the service and real-server lines, which come from the table alone.
    t.eq(#desired, 1, "services")
    local s = desired[1]
    t.eq(s.protocol, "tcp", "protocol"); t.eq(s.address, "192.0.2.212", "vip"); t.eq(s.port, 80, "port")
    t.eq(s.scheduler, "wrr", "scheduler"); t.eq(s.persistent, 30, "persistent"); t.eq(s.netmask, nil, "netmask")
    t.eq(#s.dests, 2, "dests")
    t.eq(s.dests[1].address, "192.0.2.204", "rs204"); t.eq(s.dests[1].port, 80, "rs port")
    t.eq(s.dests[1].forward, "dr", "direct routing"); t.eq(s.dests[1].weight, 1, "weight")
    -- the normalized form is what apply compares: it must accept this table as it is
    local n = ipvs.normalize(s)
    t.eq(n.key, "tcp:192.0.2.212:80", "key")
end)

t.test("inactive-fwmark-nat-pmask", function()
    local m = model([[
network = nat
virtual web {
    active = 1
    address = 192.0.2.212 eth0:1
    port = 443
    persistent = 60
    pmask = 255.255.255.0
    scheduler = lc
    server a {
        address = 198.51.100.1
        active = 1
        weight = 3
    }
    server b {
        address = 198.51.100.2
        active = 0
    }
}
virtual mail {
    active = 1
    address = 192.0.2.213 eth0:2
    fwmark = 21
    port = 25
    server c {
        address = 198.51.100.3
        active = 1
    }
}
virtual off {
    active = 0
    address = 192.0.2.214 eth0:3
}
]])
    local d = lvs.desired(m)
    t.eq(#d, 2, "active services only")
    t.eq(d[1].netmask, "255.255.255.0", "pmask")
    t.eq(#d[1].dests, 1, "active real servers only")
    t.eq(d[1].dests[1].forward, "nat", "nat"); t.eq(d[1].dests[1].weight, 3, "weight"); t.eq(d[1].dests[1].port, 443, "port")
    t.eq(d[2].fwmark, 21, "fwmark"); t.eq(d[2].address, nil, "no address on a fwmark service")
    t.eq(d[2].dests[1].port, 25, "fwmark real server keeps the block's port")
end)

t.test("health-weights-and-sorry-server", function()
    local m = model([[
network = tunnel
virtual web {
    active = 1
    address = 192.0.2.212 eth0:1
    sorry_server = 203.0.113.9
    server a {
        address = 198.51.100.1
        active = 1
        weight = 4
    }
    server b {
        address = 198.51.100.2
        active = 1
    }
}
]])
    local state = { ["198.51.100.1"] = 0, ["198.51.100.2"] = nil }
    local d = lvs.desired(m, function(_, rs) return state[rs.address] end)
    t.eq(#d[1].dests, 1, "down server out, quiesced in")
    t.eq(d[1].dests[1].weight, 0, "quiesced at 0"); t.eq(d[1].dests[1].forward, "tun", "tunnel")
    d = lvs.desired(m, function() return nil end)
    t.eq(#d[1].dests, 1, "sorry server when all are down")
    t.eq(d[1].dests[1].address, "203.0.113.9", "sorry address"); t.eq(d[1].dests[1].weight, 1, "sorry weight")
    d = lvs.desired(m)
    t.eq(#d[1].dests, 2, "dry run: every active real server")
end)

t.test("a-cache-gives-the-same-table-and-reuses-an-unchanged-service", function()
    local m = model([[
network = direct
virtual web {
    active = 1
    address = 192.0.2.212 eth0:1
    sorry_server = 203.0.113.9
    server a {
        address = 198.51.100.1
        active = 1
        weight = 4
    }
    server b {
        address = 198.51.100.2
        active = 1
    }
}
virtual ftp {
    active = 1
    address = 192.0.2.213 eth0:1
    port = 21
    server c {
        address = 198.51.100.3
        active = 1
    }
}
]])
    local health = { ["198.51.100.1"] = 4, ["198.51.100.2"] = 1, ["198.51.100.3"] = 1 }
    local function weight_of(_, rs) return health[rs.address] end
    local cache = lvs.cache()
    local function check(what)
        local got, want = lvs.desired(m, weight_of, cache), lvs.desired(m, weight_of)
        t.eq(ipvs.format(got, { version = "1.2.1", conn_tab_size = 4096 }),
            ipvs.format(want, { version = "1.2.1", conn_tab_size = 4096 }), what)
        return got
    end
    local d1 = check("first")
    local d2 = check("unchanged")
    t.eq(d2[1], d1[1], "web reused"); t.eq(d2[2], d1[2], "ftp reused")
    health["198.51.100.2"] = 0
    local d3 = check("one weight")
    t.eq(d3[1] ~= d2[1], true, "web made again"); t.eq(d3[2], d2[2], "ftp still reused")
    health["198.51.100.1"], health["198.51.100.2"] = nil, nil
    local d4 = check("all out: the sorry server")
    t.eq(d4[1].dests[1].address, "203.0.113.9", "sorry server")
    m.network = "nat"
    local d5 = check("another network")
    t.eq(d5[2] ~= d4[2], true, "ftp made again for the network")
    t.eq(lvs.desired(m, nil, cache)[1].dests[1].address, "198.51.100.1", "without health: every server")
end)

t.test("changed-blocks-alone-are-looked-at-and-block-gives-one-service", function()
    local m = model([[
network = direct
virtual web {
    active = 1
    address = 192.0.2.212 eth0:1
    server a {
        address = 198.51.100.1
        active = 1
    }
}
virtual ftp {
    active = 1
    address = 192.0.2.213 eth0:1
    port = 21
    server c {
        address = 198.51.100.3
        active = 1
    }
}
]])
    local health, asked = { ["198.51.100.1"] = 1, ["198.51.100.3"] = 1 }, {}
    local function weight_of(v, rs)
        asked[v.name] = (asked[v.name] or 0) + 1
        return health[rs.address]
    end
    local cache = lvs.cache()
    local d1 = lvs.desired(m, weight_of, cache)
    health["198.51.100.1"], health["198.51.100.3"], asked = 7, nil, {}
    -- Only web is said to have changed: ftp's weights are not asked, its service is the cached one.
    local d2 = lvs.desired(m, weight_of, cache, { [m.virtuals[1]] = true })
    t.eq(asked.ftp, nil, "ftp not asked")
    t.eq(d2[1].dests[1].weight, 7, "web's new weight")
    t.eq(d2[2], d1[2], "ftp as cached, though its server is down now")
    -- block(): one service, made again from the weights of now.
    local ftp = lvs.block(m, m.virtuals[2], weight_of, cache)
    t.eq(#ftp.dests, 0, "ftp's server out")
    t.eq(lvs.desired(m, weight_of, cache, {})[2], ftp, "the cache now has ftp's new service")
end)

luaha.exit(t.failures() == 0 and 0 or 1)
