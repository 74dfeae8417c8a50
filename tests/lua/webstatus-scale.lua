-- tests/lua/webstatus-scale.lua: the Status page at 1000 x 10 is bounded; a virtual's own page holds its rows and actions.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
The Status page was 12.8 MB at 1000 x 10 (a table per virtual, a row and an action form per real
server: measured with this file's document on 2026-12-07). It is now a summary row per virtual,
so its size follows the virtuals, not the real servers; the rows and their actions are on
/status/virtual/NAME. The document is made here as lvsctl.status makes it (the fields the pages
read), so that 10 000 real servers need no router; tests/lua/webstatus.lua renders a router's own.
]]
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local P = require "luaha.webpages"
local S = require "luaha.webstatus"

local STATUS_BOUND = 512 * 1024     -- bytes of the Status page at 1000 x 10 (spec webui.md 3.9: pages < 50 KiB;
                                    -- a summary row per virtual is the least it can show of 1000)
local VIRTUAL_BOUND = 50 * 1024     -- bytes of one virtual's page of 10 real servers (spec 3.9)

-- doc(nv, nrs): a status document of nv virtuals of nrs real servers each, all in and in the kernel.
local function doc(nv, nrs)
    local now = luaha.time()
    local d = { time = now, role = "primary", state = "active", config = "/etc/sysconfig/ha/lvs.cf", serial_no = 3,
        deadtime = 5, peer = { address = "192.0.2.211", state = "passive", heard = 0.3 },
        heartbeats = { sent = 1, received = 1 }, vips = {}, transitions = {}, events = {}, services = {} }
    for i = 1, nv do
        local s = { name = "v" .. i, active = true, address = "192.0.2." .. (i % 250 + 1), port = 1000 + i,
            protocol = "tcp", scheduler = "wlc", servers = {} }
        for j = 1, nrs do
            s.servers[j] = { name = "rs" .. j, address = "198.51.100." .. (j % 250 + 1), port = 1000 + i, active = true,
                health = "in", health_since = now - 100, configured_weight = 1,
                last_check = { ok = true, seconds = 0.002, at = now - 3 },
                kernel = { weight = 1, active_conns = 2, inactive_conns = 1 } }
        end
        d.services[i] = s
    end
    return d
end

local CTX = { csrf = ("a"):rep(64), router = { model = {} } }   -- a router without a partner: the actions are shown

local function render(fn, ...)
    CTX.pace = luaha.pacer()
    return P.text(fn(...))
end

local function count(text, pattern)
    local n = 0
    for _ in text:gmatch(pattern) do n = n + 1 end
    return n
end

t.test("the-status-page-at-1000-x-10-is-bounded-and-does-not-grow-with-the-real-servers", function()
    local d = doc(1000, 10)
    local t0 = luaha.now()
    local html = render(S.page, d, CTX)
    local took = luaha.now() - t0
    print(("the Status page at 1000 x 10: %d bytes (bound %d), %.3f s"):format(#html, STATUS_BOUND, took))
    assert(#html <= STATUS_BOUND, ("the Status page is %d bytes, over %d"):format(#html, STATUS_BOUND))
    t.eq(count(html, '<tr id="vs%-v%d+" data%-state="ok">'), 1000, "a summary row per virtual")
    t.eq(count(html, '<tr id="rs%-'), 0, "no real server's row")
    t.eq(count(html, "<form "), 1, "one form: the router's actions")
    assert(html:find('<a href="/status/virtual/v500">v500</a>', 1, true), "a virtual's name leads to its page")
    local row = html:match('(<tr id="vs%-v7" .-</tr>)')
    assert(row and row:find('<td class="n-in">10</td>', 1, true) and row:find('<td class="serving">10 of 10</td>', 1, true)
        and row:find('<td class="active-conns">20</td>', 1, true), tostring(row))
    -- twice the real servers: the same page but for the digits of the sums
    local twice = render(S.page, doc(1000, 20), CTX)
    assert(#twice - #html <= 1000 * 4, ("1000 x 20 is %d bytes, 1000 x 10 %d"):format(#twice, #html))
end)

t.test("a-virtual's-status-page-has-its-rows-and-their-actions-and-no-others", function()
    local d = doc(1000, 10)
    local html = render(S.virtual_page, d, "v500", CTX)
    print(("one virtual's page at 1000 x 10: %d bytes (bound %d)"):format(#html, VIRTUAL_BOUND))
    assert(#html <= VIRTUAL_BOUND, ("v500's page is %d bytes, over %d"):format(#html, VIRTUAL_BOUND))
    t.eq(count(html, '<tr id="rs%-v500%-rs%d+" data%-health="in">'), 10, "v500's ten rows")
    t.eq(count(html, '<tr id="rs%-'), 10, "no other virtual's row")
    t.eq(count(html, '<form method="post" action="/action" class="actions"'), 10, "an action form per row")
    t.eq(render(S.virtual_page, d, "nosuch", CTX), "", "no page for a virtual the document lacks")
end)

t.test("summary-counts-and-states-follow-the-health-and-anycast-adds-its-column", function()
    local d = doc(4, 3)
    local s = d.services
    s[1].servers[2].health = "out"                              -- degraded
    for _, rs in ipairs(s[2].servers) do rs.health = "out"; rs.kernel = nil end   -- down, none in the kernel
    s[3].active = false                                          -- inactive
    s[4].servers[1].disabled = true                              -- disabled counts as other
    s[4].servers[1].kernel.weight = 0
    local html = render(S.page, d, CTX)
    local function row(name) return assert(html:match('(<tr id="vs%-' .. name .. '" .-</tr>)'), name) end
    assert(row("v1"):find('data-state="degraded"', 1, true) and row("v1"):find('<td class="n-out">1</td>', 1, true),
        row("v1"))
    assert(row("v2"):find('data-state="down"', 1, true) and row("v2"):find('<td class="serving">-</td>', 1, true), row("v2"))
    assert(row("v3"):find('data-state="inactive"', 1, true), row("v3"))
    assert(row("v4"):find('<td class="n-other">1</td>', 1, true) and row("v4"):find('<td class="serving">2 of 3</td>', 1,
        true), row("v4"))
    assert(not html:find("Announced", 1, true), "no anycast column in a pair")
    d.cluster = "anycast"
    s[1].anycast = { announced = true, healthy = 2, min_healthy = 1, digest = "0123456789abcdef" }
    html = render(S.page, d, CTX)
    assert(html:find('<th scope="col">Announced</th>', 1, true), "the anycast column")
    assert(row("v1"):find('<td class="announced">announced</td>', 1, true), row("v1"))
    assert(row("v2"):find('<td class="announced">-</td>', 1, true), row("v2"))
    local vp = render(S.virtual_page, d, "v1", CTX)
    assert(vp:find('<span class="announced">announced</span>', 1, true), "announced on the virtual's page")
end)

luaha.exit(t.failures() == 0 and 0 or 1)
