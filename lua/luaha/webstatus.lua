-- lua/luaha/webstatus.lua: the web UI's Status pages (all virtuals in summary; one virtual's real servers) and their actions.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
page(doc, ctx): the Status page's body from the status document (lvsctl.status, what /status.json
serves), complete without JavaScript: the router box, the router's actions, then one summary row
per virtual server (health counts, servers in the kernel, connections; announced or not when the
document has anycast facts). Its size follows the number of virtuals, not of real servers: about
0.3 KB a virtual (tests/lua/webstatus-scale.lua holds it to its bound at 1000 x 10).

virtual_page(doc, name, ctx): one virtual's page (/status/virtual/NAME): a line on the router, the
table of its real servers with one row each and the row's actions. nil when doc has no such virtual.

Ids and classes are the markup contract of issue 14 (app.js and the browser test find the cells
by them): tr#vs-VIRTUAL (data-state; cells .vstate .n-in .n-out .n-other .serving .active-conns
.inactive-conns .announced) on the Status page, tr#rs-VIRTUAL-SERVER (data-health; cells .health
.weight .kweight .override .active-conns .inactive-conns .last-check) on a virtual's page.
ctx: csrf, router (nil in setup mode: no actions), pace (a pacer, called after each row).

act(r, fields, who): does the action a Status form posted, through the router's own methods (those
`luaha ctl` uses), and returns a flash ({ ok =, text = }), or a confirmation page's body when the
action needs one first (disabling or draining the last healthy server of a virtual; a hand over;
a reload from disk, whose review is shown first). Each action is logged, and put in the router's
events, with the user and the peer address.

routes(route, h): adds /, /status/virtual/NAME and /action (h: webui.lua's helpers).
pair(r [, doc]): the pair's section (lua/luaha/webpartner.lua) for the Status and Redundancy pages.

Cost at 10 000 real servers (1000 x 10): the status document (lvsctl.status, paced), then the
Status page's 1000 rows (about 0.05 ms each) or one virtual's rows (about 0.15 ms each, its form
included); the pacer is called after each row, so no piece holds the loop longer than its 2 ms
and a row.
]]
local luaha = require "luaha"
local P = require "luaha.webpages"

local S = {}

local log = luaha.log.prefixed("webui")

-- What the hand over's confirmation says (the page without JavaScript, the dialog with it).
S.HANDOVER = "The partner takes over the virtual addresses and this router stands down."

local function ago(seconds)
    if not seconds then return "never" end
    if seconds < 1 then return ("%d ms ago"):format(math.floor(seconds * 1000)) end
    if seconds < 120 then return ("%.0f s ago"):format(seconds) end
    if seconds < 7200 then return ("%.0f min ago"):format(seconds / 60) end
    return ("%.1f h ago"):format(seconds / 3600)
end
S.ago = ago

local function stamp(t)
    return t and os.date("%Y-%m-%d %H:%M:%S", math.floor(t)) or "-"
end

-- The word a real server's health is shown with; the shape (the class's ::before) follows it.
local function health_of(rs)
    if rs.disabled then return "disabled" end
    return rs.health or "unchecked"
end

local function override_of(rs)
    if rs.disabled then return "disabled until next reload" end
    if rs.weight_override ~= nil then
        return ("%s weight %d until next reload"):format(rs.weight_override == 0 and "drained," or "",
            rs.weight_override):gsub("^ ", "")
    end
    return ""
end

local function last_check(rs, now)
    local l = rs.last_check
    if not l or l.ok == nil then return "none yet" end
    local what = l.ok and "ok" or ("failed: " .. tostring(l.reason or "?"))
    return ("%s (%.3f s, %s)"):format(what, l.seconds or 0, ago(l.at and now - l.at))
end

local function where_of(s)
    return s.fwmark and s.fwmark ~= 0 and ("fwmark " .. s.fwmark) or ("%s:%s/%s"):format(s.address, s.port, s.protocol)
end

local function router_box(doc)
    local peer = doc.peer or {}
    local heard = peer.heard
    local late = heard and doc.deadtime and heard > doc.deadtime
    local hb = doc.heartbeats or {}
    local refused = {}
    for reason, n in pairs(hb.refused or {}) do refused[#refused + 1] = ("%s %d"):format(reason, n) end
    table.sort(refused)
    local blocked = {}
    for name, why in pairs(doc.blocked or {}) do blocked[#blocked + 1] = name .. ": " .. tostring(why) end
    table.sort(blocked)
    local transitions = {}
    local list = doc.transitions or {}
    for i = #list, math.max(1, #list - 9), -1 do
        local tr = list[i]
        transitions[#transitions + 1] = P.t("<li>{{1}} {{2}}: {{3}}</li>", { stamp(tr.at), tr.to, tr.reason })
    end
    local events = {}
    local ev = doc.events or {}
    for i = #ev, math.max(1, #ev - 49), -1 do
        events[#events + 1] = P.t("<li>{{1}} {{2}}</li>", { stamp(ev[i].at), ev[i].text })
    end
    return P.t([[<section id="router" aria-labelledby="router-h"><h2 id="router-h">This router</h2>
<dl class="facts">
<dt>Role and state</dt><dd><span id="role">{{role}}</span>,
<span id="state" class="state {{state}}">{{state}}</span>{{blocked}}</dd>
<dt>Partner</dt><dd id="peer">{{peer}} <span id="peer-state">{{peer_state}}</span>,
last heard <span id="peer-heard" class="{{late}}">{{heard}}</span></dd>
<dt>Heartbeats</dt><dd id="heartbeats">sent {{sent}}, received {{received}}, refused {{refused}}</dd>
<dt>VIPs held</dt><dd id="vips">{{vips}}</dd>
<dt>Configuration</dt><dd>{{config}}, serial_no <span id="serial">{{serial}}</span></dd>
</dl>
<details><summary>Last transitions</summary><ol class="log">{{transitions}}</ol></details>
<details><summary>Last events</summary><ol class="log" id="events">{{events}}</ol></details>
</section>]], {
        role = doc.role, state = doc.state or "setup",
        blocked = #blocked > 0 and (" (blocked: " .. table.concat(blocked, "; ") .. ")") or nil,
        peer = peer.address or "none", peer_state = peer.state or "unknown",
        late = late and "late" or nil, heard = heard and ago(heard) or "never",
        sent = hb.sent or 0, received = hb.received or 0,
        refused = #refused > 0 and table.concat(refused, ", ") or "none",
        vips = #(doc.vips or {}) > 0 and table.concat(doc.vips, ", ") or "none held",
        config = doc.config, serial = doc.serial_no,
        transitions = P.join(transitions, ""), events = P.join(events, ""),
    })
end

-- What both pages show under the router: the live region app.js speaks in, and the time of the last update.
local function live(doc)
    return P.t([[<p id="live" class="live" aria-live="polite"></p>
<p class="updated">Updated <span id="updated">when this page was made</span>.</p>{{1}}]], {
        doc.ipvs_readable == false and P.t('<p class="warning">The kernel\'s IPVS table cannot be read here:'
            .. ' kernel weights and connections are not shown.</p>') or nil })
end

--[[
summary(s): a virtual's counts: in, out, other (unchecked, disabled, quiesced), total, serving
(weight above 0 in the kernel), ac and ic (connections), known (the kernel's table was read);
state: inactive, empty, down (none in), degraded (some not in) or ok. app.js counts the same way.
]]
function S.summary(s)
    local c = { ["in"] = 0, out = 0, other = 0, total = #s.servers, serving = 0, ac = 0, ic = 0, known = false }
    local given = s.summary         -- counted by lvsctl.status (opts.summary): the servers are not in the document
    if given then
        c["in"], c.out, c.other, c.total, c.serving = given["in"], given.out, given.other, given.total, given.serving
        c.ac, c.ic, c.known = given.active_conns, given.inactive_conns, given.known
    end
    for _, rs in ipairs(s.servers) do
        local h = health_of(rs)
        if h == "in" or h == "out" then c[h] = c[h] + 1 else c.other = c.other + 1 end
        local k = rs.kernel
        if k then
            c.known = true
            if (k.weight or 0) > 0 then c.serving = c.serving + 1 end
            c.ac, c.ic = c.ac + (k.active_conns or 0), c.ic + (k.inactive_conns or 0)
        end
    end
    c.state = not s.active and "inactive" or c.total == 0 and "empty" or c["in"] == 0 and "down"
        or c["in"] < c.total and "degraded" or "ok"
    return c
end

local function summary_row(s, anycast)
    local c = S.summary(s)
    local a = s.anycast
    return P.t([[<tr id="vs-{{v}}" data-state="{{st}}"><th scope="row"><a href="/status/virtual/{{url}}">{{v}}</a></th>
<td>{{where}} {{sched}}</td><td class="vstate {{st}}"><span class="word">{{st}}</span></td><td class="n-in">{{i}}</td>
<td class="n-out">{{o}}</td><td class="n-other">{{x}}</td><td class="serving">{{sv}}</td>
<td class="active-conns">{{ac}}</td><td class="inactive-conns">{{ic}}</td>{{ann}}</tr>]], {
        v = s.name, url = P.url(s.name), where = where_of(s), sched = s.scheduler, st = c.state,
        i = c["in"], o = c.out, x = c.other, sv = c.known and ("%d of %d"):format(c.serving, c.total) or "-",
        ac = c.known and c.ac or "-", ic = c.known and c.ic or "-",
        ann = anycast and P.t('<td class="announced">{{1}}</td>', { a and (a.announced and "announced" or "withdrawn")
            or "-" }) or nil,
    })
end

-- Whether the document has anycast facts (the anycast part's, issue 16): the column is shown then.
local function anycast_of(doc)
    if doc.cluster == "anycast" then return true end
    for _, s in ipairs(doc.services) do if s.anycast then return true end end
    return false
end

-- The actions of one real server's row: one small form, the weight beside its button.
local function row_actions(s, rs, csrf)
    local id = ("w-%s-%s"):format(s.name, rs.name)
    return P.form("/action", csrf, P.t([[<input type="hidden" name="virtual" value="{{v}}">
<input type="hidden" name="server" value="{{s}}">
{{enable}} {{disable}} {{drain}}
<label for="{{id}}" class="inline">Weight</label>
<input id="{{id}}" name="weight" class="weight-input" inputmode="numeric" size="5" value="{{w}}"> {{weight}}
<input type="checkbox" id="s-{{id}}" name="also_save" value="1">
<label for="s-{{id}}" class="inline">also save to lvs.cf</label>]],
        { v = s.name, s = rs.name, id = id, w = rs.weight_override or rs.configured_weight,
          enable = P.button("enable", "Enable"), disable = P.button("disable", "Disable"),
          drain = P.button("drain", "Drain"), weight = P.button("weight", "Set weight") }), "actions")
end

local function service_table(s, ctx, now)
    local rows = {}
    for _, rs in ipairs(s.servers) do
        local k = rs.kernel
        local h = health_of(rs)
        rows[#rows + 1] = P.t([[<tr id="rs-{{v}}-{{name}}" data-health="{{h}}">
<th scope="row">{{name}}</th><td>{{addr}}</td>
<td class="health {{h}}"><span class="word">{{h}}</span> <span class="since">since {{since}}</span></td>
<td class="weight">{{cw}}</td><td class="kweight">{{kw}}</td><td class="override">{{ov}}</td>
<td class="active-conns">{{ac}}</td><td class="inactive-conns">{{ic}}</td>
<td class="last-check">{{lc}}</td><td>{{actions}}</td></tr>]], {
            v = s.name, name = rs.name, h = h, addr = ("%s:%s"):format(rs.address, rs.port),
            since = rs.health_since and ago(now - rs.health_since) or "start",
            cw = rs.configured_weight, kw = k and k.weight or "-", ov = override_of(rs),
            ac = k and k.active_conns or "-", ic = k and k.inactive_conns or "-",
            lc = last_check(rs, now), actions = ctx.router and row_actions(s, rs, ctx.csrf) or nil,
        })
        if ctx.pace then ctx.pace() end
    end
    local a = s.anycast
    return P.t([[<table id="virtual-{{name}}" class="servers">
<caption><a href="/virtual/{{url}}">{{name}}</a> {{where}}, {{sched}}{{persist}}{{active}}{{announced}}</caption>
<thead><tr><th scope="col">Real server</th><th scope="col">Address</th><th scope="col">Health</th>
<th scope="col">Weight</th><th scope="col">Kernel weight</th><th scope="col">Runtime change</th>
<th scope="col">ActiveConn</th><th scope="col">InActConn</th><th scope="col">Last check</th>
<th scope="col">Actions</th></tr></thead>
<tbody>{{rows}}</tbody></table>]], {
        name = s.name, url = P.url(s.name), where = where_of(s), sched = s.scheduler,
        persist = s.persistent and s.persistent > 0 and (", persistent " .. s.persistent .. " s") or nil,
        active = not s.active and " (inactive)" or nil,
        announced = a and P.t(', <span class="announced">{{1}}</span> ({{2}} of {{3}} healthy needed)', {
            a.announced and "announced" or "withdrawn", a.min_healthy, a.healthy }) or nil,
        rows = P.join(rows),
    })
end

--[[
pair(r [, doc]): the pair's section (webpartner.pair: both serial_nos, whether the files differ,
the last transfer each way) when router r has a partner (backup_active), else nil. doc: the status
document when the page has one; else a small one is made from the router and the pulse's status,
without the real servers (partnersync.status fills its pair fields).
]]
function S.pair(r, doc)
    if not (r and r.model.backup_active) then return nil end
    return P.t('{{1}}<p><a href="/partner">Send lvs.cf to the partner</a></p>',
        { require("luaha.webpartner").pair(doc or S.pair_doc(r)) })
end

-- pair_doc(r): a status document of the pair's fields only (serial_no, peer, partnersync.status's).
function S.pair_doc(r)
    local doc = { serial_no = r.model.serial_no, peer = r.pulse and r.pulse:status().peer or nil }
    return require("luaha.partnersync").status(r, doc)
end

-- page(doc, ctx): the Status page's body (markup). ctx: csrf, router, pace (a pacer, optional).
function S.page(doc, ctx)
    local parts = { router_box(doc) }
    parts[#parts + 1] = S.pair(ctx.router, doc)
    if ctx.router then
        local handover = doc.state == "active" and doc.peer and doc.peer.heard
            and (not doc.deadtime or doc.peer.heard <= doc.deadtime)
        parts[#parts + 1] = P.form("/action", ctx.csrf, P.t("{{1}} {{2}}", {
            handover and P.button("handover", "Hand over to partner", nil, S.HANDOVER) or nil,
            P.button("reload", "Reload lvs.cf from disk") }), "router-actions")
    end
    parts[#parts + 1] = live(doc)
    if #doc.services == 0 then
        parts[#parts + 1] = P.t('<p>No virtual server yet: <a href="/virtual">add one</a>.</p>')
        return P.join(parts)
    end
    local anycast = anycast_of(doc)
    local rows = {}
    for i, s in ipairs(doc.services) do
        rows[i] = summary_row(s, anycast)
        if ctx.pace then ctx.pace() end
    end
    parts[#parts + 1] = P.t([[<table id="virtuals" class="virtuals"><caption>Virtual servers ({{n}}): a name
leads to its real servers and their actions</caption>
<thead><tr><th scope="col">Virtual server</th><th scope="col">Service</th><th scope="col">State</th>
<th scope="col">In</th><th scope="col">Out</th><th scope="col">Other</th><th scope="col">In the kernel</th>
<th scope="col">ActiveConn</th><th scope="col">InActConn</th>{{ann}}</tr></thead>
<tbody>{{rows}}</tbody></table>]], { n = #doc.services, rows = P.join(rows),
        ann = anycast and P.t('<th scope="col">Announced</th>') or nil })
    return P.join(parts)
end

-- virtual_page(doc, name, ctx): the body of one virtual's status page, or nil when doc has no virtual name.
function S.virtual_page(doc, name, ctx)
    local s
    for _, x in ipairs(doc.services) do if x.name == name then s = x break end end
    if not s then return nil end
    local peer = doc.peer or {}
    return P.join({
        P.t([[<p class="router-line">This router: <span id="role">{{role}}</span>,
<span id="state" class="state {{state}}">{{state}}</span>; partner <span id="peer-state">{{peer}}</span>.
<a href="/">All virtual servers</a> · <a href="/virtual/{{url}}">Edit {{name}}</a></p>]], {
            role = doc.role, state = doc.state or "setup", peer = peer.state or "unknown", url = P.url(name),
            name = name }),
        live(doc),
        service_table(s, ctx, doc.time or luaha.time()),
    })
end


-- The pairs a router method changed, as a sentence.
local function changed(found, what)
    local names = {}
    for _, f in ipairs(found) do names[#names + 1] = ("%s in %s"):format(f.rs.name, f.v.name) end
    return ("%s %s, until the next reload"):format(what, table.concat(names, ", "))
end

-- Whether real server rsname is in, and the last of virtual vname that its health lets in.
local function last_healthy(r, vname, rsname)
    local v
    for _, b in ipairs(r.model.virtuals) do if b.name == vname then v = b end end
    if not v then return false end
    local others, itself = 0, false
    for _, rs in ipairs(v.servers) do
        local mon = r.probes and r.probes:monitor(v, rs)
        local k = v.name .. "/" .. rs.name
        local up = mon and mon.state == "in" and not r.disabled[k] and r.weights[k] ~= 0
        if rs.name == rsname then itself = up elseif up then others = others + 1 end
    end
    return itself and others == 0
end

-- Where a page about virtual vname goes back to: its status page, or the Status page.
local function back(vname)
    return type(vname) == "string" and vname ~= "" and ("/status/virtual/" .. P.url(vname)) or "/"
end

local function confirm(fields, csrf, text, action, label, extra)
    return P.t([[<p class="warning">{{text}}</p>{{extra}}{{form}}<p><a href="{{back}}">Cancel</a></p>]], { text = text,
        extra = extra, back = back(fields.virtual),
        form = P.form("/action", csrf, P.t([[<input type="hidden" name="virtual" value="{{v}}">
<input type="hidden" name="server" value="{{s}}"><input type="hidden" name="weight" value="{{w}}">
<input type="hidden" name="also_save" value="{{a}}">
<input type="hidden" name="confirm" value="1">{{b}}]], { v = fields.virtual, s = fields.server, w = fields.weight,
            a = fields.also_save,
            b = P.button(action, label) })) })
end

--[[
reload_review(r, fields, csrf): the confirmation of a reload from disk: what the file on disk
would change if reloaded now (webreview.run, as the Review page shows a draft: IPVS operations,
VIPs, monitors, warnings, the errors that would refuse it), with the Reload button unless the
reload would be refused. Waits (a parse and a dry run, in slices).
]]
local function reload_review(r, fields, csrf)
    local lvscf = require "luaha.lvscf"
    local review = require "luaha.webreview"
    local text, err = require("luaha.core.file").read(r.config, lvscf.MAX_SIZE)
    local errors, rv, m, warnings
    if not text then
        errors = { err }
    else
        m, errors, warnings = review.parse(text, r.config, r.cache)
        if m then
            rv = review.run(r, m, r.model, r.config, warnings)
            errors = rv.errors
            rv.serial = m.serial_no
        end
    end
    local body = require("luaha.webchanges").review_body(rv or { errors = errors, ipvs = {} }, {
        router = r, diff = false, errors_title = "A reload of this file would be refused" })
    local what = ("Reload %s from disk? serial_no %s now, %s in the file."):format(r.config,
        tostring(r.model.serial_no), m and tostring(m.serial_no) or "?")
    if #errors > 0 then
        return P.t('<p class="warning" id="reload-review">{{1}}</p>{{2}}<p><a href="/">Back to Status</a></p>',
            { what, body })
    end
    return confirm(fields, csrf, what, "reload", "Reload", P.t('<div id="reload-review">{{1}}</div>', { body }))
end

--[[
act(r, fields, who): fields as the form posted them (action, virtual, server, weight, confirm);
who: { user =, peer =, csrf = }. Returns "flash", { ok =, text = } after doing it (or refusing
it), or "confirm", markup of the confirmation page's body. Waits (a drain, a hand over, a reload).
]]
function S.act(r, fields, who)
    local action, vname, rsname = fields.action, fields.virtual, fields.server
    local function done(ok, text)
        log[ok and "info" or "warning"]("%s from %s: %s", who.user, who.peer, text)
        if r.event then r:event("web: %s from %s: %s", who.user, who.peer, text) end
        return "flash", { ok = ok, text = text }
    end
    if action == "handover" then
        if fields.confirm ~= "1" then
            return "confirm", confirm(fields, who.csrf, S.HANDOVER, "handover", "Hand over to partner")
        end
        local ok, err = r:handover()
        return done(ok ~= nil, ok and "handed over to the partner" or ("hand over: " .. tostring(err)))
    elseif action == "reload" then
        if fields.confirm ~= "1" then return "confirm", reload_review(r, fields, who.csrf) end
        local ok, res, later = r:reload()
        if not ok then return done(false, "reload refused, the running configuration stays: " .. table.concat(res, "; ")) end
        local text = ("reloaded %s: %d IPVS operations"):format(r.config, #res)
        if later and #later > 0 then text = text .. "; applied only at a restart: " .. table.concat(later, ", ") end
        return done(true, text)
    end
    if type(rsname) ~= "string" or rsname == "" or type(vname) ~= "string" then
        return done(false, "no real server named in the form")
    end
    if (action == "disable" or action == "drain") and fields.confirm ~= "1" and last_healthy(r, vname, rsname) then
        return "confirm", confirm(fields, who.csrf, ("%s is the last healthy real server of %s: %s it leaves"
            .. " the virtual server no real server for new connections."):format(rsname, vname,
            action == "drain" and "draining" or "disabling"), action, action == "drain" and "Drain" or "Disable")
    end
    local found, err
    if action == "enable" then
        found, err = r:enable(rsname)
        return done(found ~= nil, found and changed(found, "enabled") or err)
    elseif action == "disable" then
        found, err = r:disable(rsname)
        return done(found ~= nil, found and changed(found, "disabled") or err)
    elseif action == "drain" then
        found, err = r:drain(rsname, 0)
        return done(found ~= nil, found and changed(found, "drained (weight 0)") or err)
    elseif action == "weight" then
        local w = math.tointeger(tonumber(fields.weight or ""))
        if not w or not tostring(fields.weight):match("^%d+$") then
            return done(false, ("weight %q: an integer from 0 to 65535"):format(tostring(fields.weight)))
        end
        found, err = r:set_weight(vname, rsname, w)
        return done(found ~= nil, found and changed(found, "weight " .. w .. " for") or err)
    end
    log.warning("%s from %s: unknown action %q", who.user, who.peer, tostring(action))
    return "flash", { ok = false, text = ("unknown action %q"):format(tostring(action)) }
end

-- The routes --------------------------------------------------------------------------

-- What "also save to lvs.cf" puts in the draft for a runtime change of a real server.
local SAVED = {
    enable = function(rs) rs.active = true end, disable = function(rs) rs.active = false end,
    drain = function(rs) rs.weight = 0 end, weight = function(rs, f) rs.weight = math.tointeger(tonumber(f.weight)) end,
}

--[[
routes(route, h): / (the Status page), /status/virtual/NAME (one virtual's) and /action (their
forms; answered by a redirect to the page the form was on). h: webui.lua's helpers (page,
redirect, refused, update, draft_model, find).
]]
function S.routes(route, h)
    -- opts: lvsctl.status's; the Status page needs each virtual's summary, a virtual's page only its own servers.
    local function doc_of(ui, opts)
        local r = ui.opts.router
        return r and r:status(opts) or { state = "setup", role = "-", config = ui.opts.config, services = {} }, r
    end

    route("/", function(ui, c)
        local doc, r = doc_of(ui, { summary = true })
        return h.page(ui, c, 200, "status", "Status",
            S.page(doc, { csrf = c.session.csrf, router = r, pace = luaha.pacer() }))
    end)

    route("/status/virtual/([^/]+)", function(ui, c, name)
        local doc, r = doc_of(ui, { virtual = name })
        local body = S.virtual_page(doc, name, { csrf = c.session.csrf, router = r, pace = luaha.pacer() })
        if not body then return h.refused(ui, c, 404, ("no virtual %q runs here"):format(name)) end
        return h.page(ui, c, 200, "status", "Status of virtual server " .. name, body)
    end)

    -- also_save(ui, c): the runtime change just made, as a change of the draft; true, or nil and why.
    local function also_save(ui, c)
        local f = c.fields
        local m, errs = h.draft_model(ui, c)
        if not m then return nil, errs[1] end
        local v = h.find(m.virtuals, f.virtual)
        local rs = v and h.find(v.servers, f.server)
        if not rs then
            return nil, ("no server %q in virtual %q in the draft"):format(tostring(f.server), tostring(f.virtual))
        end
        SAVED[f.action](rs, f)
        local ok
        ok, errs = h.update(ui, c, m, nil, ("server %s of %s"):format(rs.name, v.name))
        if not ok then return nil, errs[1] end
        return true
    end

    route("/action", nil, function(ui, c)
        local r = ui.opts.router
        if not r then return h.refused(ui, c, 409, "setup mode: there is no running router to act on") end
        local kind, res = S.act(r, c.fields, { user = c.session.user, peer = c.req.peer, csrf = c.session.csrf })
        if kind == "confirm" then return h.page(ui, c, 200, "status", "Confirm", res) end
        if res.ok and c.fields.also_save == "1" and SAVED[c.fields.action] then
            local ok, why = also_save(ui, c)
            res = { ok = ok ~= nil, text = res.text .. (ok and "; also saved to the draft (Review to apply it)"
                or ("; not saved to the draft: " .. tostring(why))) }
        end
        ui.flash[c.session] = res
        return h.redirect(ui, c.req, back(c.fields.virtual))
    end)
end

return S
