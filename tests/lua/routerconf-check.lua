-- tests/lua/routerconf-check.lua: routerconf.check normalizes only blocks it has not checked, and still refuses a bad one.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local conf = require "luaha.routerconf"

local text = { "serial_no = 1", "service = lvs", "primary = 192.0.2.1" }
for i = 1, 100 do
    text[#text + 1] = ("virtual v%d {\n  active = 1\n  address = 192.0.2.%d eth0\n  port = 80\n"
        .. "  server rs1 {\n    address = 198.51.100.%d\n    active = 1\n  }\n}"):format(i, 10 + i, i)
end
text = table.concat(text, "\n") .. "\n"

-- Counts the services ipvs.normalize is given (routerconf calls it through luaha.ipvs).
local normalized, normalize = 0, luaha.ipvs.normalize
luaha.ipvs.normalize = function(s)
    normalized = normalized + 1
    return normalize(s)
end

-- checked(m): routerconf.check's result for m, and how many services it normalized.
local function checked(m)
    normalized = 0
    local key, res = conf.check(m, "lvs.cf")
    return key, res, normalized
end

local function copy(tbl, with)
    local c = {}
    for k, v in pairs(tbl) do c[k] = v end
    for k, v in pairs(with or {}) do c[k] = v end
    return c
end

t.test("blocks-checked-before-are-not-normalized-again-and-a-bad-one-is-still-refused", function()
    local cache = lvscf.cache()
    local m = assert(lvscf.parse(text, "lvs.cf", cache))
    local key, digest, n = checked(m)
    local _
    t.eq(key, false, "no heartbeat key"); t.eq(type(digest), "string", "a digest")
    t.eq(n, 100, "every service normalized the first time")
    key, _, n = checked(m)
    t.eq(key, false, "accepted again"); t.eq(n, 0, "none normalized again")

    -- A reload of the file with one block changed: the parse cache gives the 99 others back.
    local m2 = assert(lvscf.parse(text:gsub("198.51.100.7\n", "198.51.100.107\n"), "lvs.cf", cache))
    key, _, n = checked(m2)
    t.eq(key, false, "the changed file accepted"); t.eq(n, 1, "only the changed block normalized")

    -- A block no reader would give (a scheduler name longer than IPVS takes) among checked ones.
    local virtuals = copy(m2.virtuals)
    virtuals[50] = copy(virtuals[50], { scheduler = ("x"):rep(40) })
    key, digest = checked(copy(m2, { virtuals = virtuals }))
    t.eq(key, nil, "refused")
    assert(digest[1]:find("lvs.cf: the IPVS table: ", 1, true), "the table's error: " .. tostring(digest[1]))
    key = checked(copy(m2, { virtuals = virtuals }))
    t.eq(key, nil, "refused again: a block that failed is not taken as checked")

    -- A bad destination in a block of servers checked before (a weight IPVS does not take).
    virtuals = copy(m2.virtuals)
    virtuals[60] = copy(virtuals[60], { servers = { copy(virtuals[60].servers[1], { weight = -1 }) } })
    key, digest = checked(copy(m2, { virtuals = virtuals }))
    t.eq(key, nil, "a bad destination refused")
    assert(digest[1]:find("weight", 1, true), "the destination's error: " .. tostring(digest[1]))

    -- Other globals (the default network is nat) make other services: every block is checked again.
    key, _, n = checked(copy(m2, { network = "direct" }))
    t.eq(key, false, "accepted with network = direct"); t.eq(n, 100, "every service normalized for direct routing")
end)
