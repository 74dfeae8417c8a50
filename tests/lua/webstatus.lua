-- tests/lua/webstatus.lua: the web UI's Status pages from a router's status document; its actions through the router's methods.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local P = require "luaha.webpages"
local S = require "luaha.webstatus"

local CF = [[
serial_no = 7
primary = 192.0.2.210
service = lvs
network = direct
deadtime = 5
virtual web {
    active = 1
    address = 192.0.2.212 eth0:1
    port = 80
    scheduler = wlc
    server rs1 {
        address = 198.51.100.11
        active = 1
        weight = 3
    }
    server rs2 {
        address = 198.51.100.12
        active = 1
    }
}
virtual "<b>x</b>" {
    active = 0
    address = 192.0.2.213 eth0:1
    port = 443
    server a {
        address = 198.51.100.13
        active = 1
    }
}
]]

-- A router (not started: nothing touches the kernel) with its monitors made, rs1 and rs2 checked in.
local function router()
    local m = assert(lvscf.parse(CF, "web.cf"))
    local r = require("luaha.router").new(m, { config = "web.cf" })
    r.probes:update(m)
    for _, rs in ipairs(m.virtuals[1].servers) do
        local mon = assert(r.probes:monitor(m.virtuals[1], rs))
        for _ = 1, 100 do
            if mon.state == "in" then break end
            mon:step(true)
        end
        t.eq(mon.state, "in", rs.name .. " checked in")
    end
    local mon = r.probes:monitor(m.virtuals[1], m.virtuals[1].servers[2])
    mon:step(false, "connect: Connection refused")
    mon.last = { ok = false, reason = "connect: Connection refused", at = luaha.time() - 3, seconds = 0.002 }
    return r, m
end

t.test("status-page-has-a-row-per-virtual-and-its-page-a-row-per-real-server", function()
    local r = router()
    local doc = r:status()
    t.eq(doc.services[1].servers[2].health, "out", "rs2 out in the document")
    assert(doc.services[1].servers[2].health_since, "health_since in the document")
    t.eq(doc.deadtime, 5, "deadtime in the document")
    local html = P.text(S.page(doc, { csrf = "tok", router = r }))
    -- the Status page: a summary row per virtual, the rows on the virtual's own page
    local sum = html:match('(<tr id="vs%-web" data%-state="degraded">.-</tr>)')
    assert(sum, "web's summary row, degraded (rs2 out)")
    assert(sum:find('<a href="/status/virtual/web">web</a>', 1, true) and sum:find('<td class="n-out">1</td>', 1, true), sum)
    assert(not html:find('<tr id="rs-', 1, true), "no real server's row on the Status page")
    for _, a in ipairs({ "reload" }) do
        assert(html:find('<button type="submit" name="action" value="' .. a .. '">', 1, true), "button " .. a)
    end
    assert(not html:find('value="handover"', 1, true), "no hand over without a live partner")
    assert(html:find('aria-live="polite"', 1, true), "the live region")
    assert(html:find('<tr id="vs-&lt;b&gt;x&lt;/b&gt;" data-state="inactive">', 1, true), "the inactive one, escaped")
    html = P.text(S.virtual_page(doc, "web", { csrf = "tok", router = r }))
    assert(html:find('<table id="virtual-web" class="servers">', 1, true), "the web table")
    assert(html:find("<caption><a href=\"/virtual/web\">web</a> 192.0.2.212:80/tcp, wlc", 1, true), "its caption")
    local row = html:match('(<tr id="rs%-web%-rs2" data%-health="out">.-</tr>)')
    assert(row, "rs2's row, out")
    for _, cls in ipairs({ "health out", "weight", "kweight", "active-conns", "inactive-conns", "last-check" }) do
        assert(row:find('class="' .. cls .. '"', 1, true), "cell " .. cls)
    end
    assert(row:find("failed: connect: Connection refused (0.002 s, 3 s ago)", 1, true), row)
    assert(html:find('<tr id="rs-web-rs1" data-health="in">', 1, true), "rs1 in")
    assert(html:find('<td class="weight">3</td>', 1, true), "configured weight")
    for _, a in ipairs({ "enable", "disable", "drain", "weight" }) do
        assert(html:find('<button type="submit" name="action" value="' .. a .. '">', 1, true), "button " .. a)
    end
    assert(html:find('aria-live="polite"', 1, true), "the live region")
    -- a name that is markup stays text, in the id too
    html = P.text(S.virtual_page(doc, "<b>x</b>", { csrf = "tok", router = r }))
    assert(html:find('<table id="virtual-&lt;b&gt;x&lt;/b&gt;"', 1, true) and not html:find("<b>x</b>", 1, true),
        "names escaped")
    assert(html:find('href="/virtual/%3Cb%3Ex%3C%2Fb%3E"', 1, true), "and in a link")
    t.eq(S.virtual_page(doc, "nosuch", { csrf = "tok", router = r }), nil, "no such virtual")
    -- setup mode: no router, no action
    html = P.text(S.page({ state = "setup", services = {} }, { csrf = "tok" }))
    assert(not html:find("<form", 1, true) and html:find("No virtual server yet", 1, true), "setup")
end)

t.test("the-pages-poll-a-summary-or-one-virtual-and-render-the-same-from-it", function()
    local r = router()
    local whole = r:status()
    local summary = r:status({ summary = true })
    t.eq(#summary.services, 2, "every virtual in the summary")
    t.eq(#summary.services[1].servers, 0, "no real server in the summary")
    local g = summary.services[1].summary
    t.eq(g["in"], 1, "rs1 in"); t.eq(g.out, 1, "rs2 out"); t.eq(g.total, 2, "two in all"); t.eq(g.other, 0, "none else")
    t.eq(S.summary(summary.services[1]).state, "degraded", "degraded from the counts")
    -- the Status page is the same from the summary as from the whole document (but for the times)
    local function page(doc) return (P.text(S.page(doc, { csrf = "tok", router = r })):gsub("%d+ ms ago", "")) end
    t.eq(page(summary), page(whole), "the Status page from the summary")
    local one = r:status({ virtual = "web" })
    t.eq(#one.services, 1, "one virtual"); t.eq(one.services[1].name, "web", "web")
    t.eq(#one.services[1].servers, 2, "with its real servers")
    t.eq(#r:status({ virtual = "nosuch" }).services, 0, "no such virtual: none")
    local json = require "luaha.json"
    assert(#json.encode(summary) < #json.encode(whole), "the summary is smaller")
end)

t.test("actions-go-through-the-router-and-are-logged-with-user-and-peer", function()
    local r, m = router()
    local who = { user = "piranha", peer = "192.0.2.1", csrf = "tok" }
    -- rs2 is out: rs1 is the last one in; disabling it asks first, and changes nothing until confirmed
    local kind, res = S.act(r, { action = "disable", virtual = "web", server = "rs1" }, who)
    t.eq(kind, "confirm", "disabling the last healthy one asks")
    assert(P.text(res):find('name="confirm" value="1"', 1, true), "the confirmation form")
    t.eq(r.disabled["web/rs1"], nil, "not disabled yet")
    -- flash(fields): the flash an action answers with (it must not ask first).
    local function flash(fields)
        local k, f = S.act(r, fields, who)
        t.eq(k, "flash", "answered at once: " .. tostring(fields.action))
        return f
    end
    res = flash({ action = "drain", virtual = "web", server = "rs1", confirm = "1" })
    assert(res.ok, res.text)
    t.eq(r.weights["web/rs1"], 0, "drained to 0")
    t.eq(res.text, "drained (weight 0) rs1 in web, until the next reload", "what it says")
    local ev = r.events[#r.events].text
    t.eq(ev, "web: piranha from 192.0.2.1: drained (weight 0) rs1 in web, until the next reload", "the event")
    res = flash({ action = "enable", virtual = "web", server = "rs1" })
    assert(res.ok and r.weights["web/rs1"] == nil, "enable ends the drain")
    res = flash({ action = "disable", virtual = "web", server = "rs2" })
    assert(res.ok and r.disabled["web/rs2"], "rs2 (out) is disabled without asking")
    res = flash({ action = "weight", virtual = "web", server = "rs1", weight = "12" })
    assert(res.ok and r.weights["web/rs1"] == 12, res.text)
    for _, bad in ipairs({ "x", "-1", "1.5", "" }) do
        res = flash({ action = "weight", virtual = "web", server = "rs1", weight = bad })
        assert(not res.ok and res.text:find("an integer from 0 to 65535", 1, true), bad)
    end
    res = flash({ action = "weight", virtual = "web", server = "rs1", weight = "70000" })
    assert(not res.ok and res.text:find("from 0 to 65535", 1, true), res.text)
    t.eq(r.weights["web/rs1"], 12, "a refused weight changes nothing")
    res = flash({ action = "enable", virtual = "web", server = "nosuch" })
    assert(not res.ok and res.text:find('no server "nosuch"', 1, true), res.text)
    kind = S.act(r, { action = "handover" }, who)
    t.eq(kind, "confirm", "a hand over asks first")
    res = flash({ action = "handover", confirm = "1" })
    assert(not res.ok and res.text:find("not started", 1, true), res.text)
    res = flash({ action = "rm -rf", virtual = "web", server = "rs1" })
    assert(not res.ok and res.text:find("unknown action", 1, true), res.text)
    t.eq(m.virtuals[1].servers[1].weight, 3, "the model is not changed")
end)

-- Reload lvs.cf from disk: the review of the file on disk comes first, the reload only once confirmed.
t.test("reload-from-disk-shows-the-review-first", function()
    local r = router()
    local path = os.tmpname()
    r.config = path
    local who = { user = "piranha", peer = "192.0.2.1", csrf = "tok" }
    local f = assert(io.open(path, "w"))
    f:write((CF:gsub("serial_no = 7", "serial_no = 8"):gsub("weight = 3", "weight = 5")))
    f:close()
    local kind, res = S.act(r, { action = "reload" }, who)
    t.eq(kind, "confirm", "a reload asks first")
    local html = P.text(res)
    assert(html:find('id="reload-review"', 1, true), "the review")
    assert(html:find("serial_no 7 now, 8 in the file", 1, true), "the serial numbers")
    assert(html:find('<h2 id="ops-h">IPVS operations</h2>', 1, true) and html:find('<h2 id="mon-h">', 1, true), html)
    assert(html:find('name="confirm" value="1"', 1, true) and html:find('value="reload"', 1, true), "the Reload button")
    t.eq(r.model.virtuals[1].servers[1].weight, 3, "nothing reloaded yet")
    f = assert(io.open(path, "w"))
    f:write((CF:gsub("port = 80", "port = 70000")))
    f:close()
    kind, res = S.act(r, { action = "reload" }, who)
    html = P.text(res)
    t.eq(kind, "confirm", "a bad file is shown too")
    assert(html:find("A reload of this file would be refused", 1, true) and html:find("70000", 1, true), html)
    assert(not html:find('value="reload"', 1, true), "and no Reload button")
    os.remove(path)
end)

luaha.exit(t.failures() == 0 and 0 or 1)
