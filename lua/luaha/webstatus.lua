-- lua/luaha/webstatus.lua: the web UI's Status page and its actions (enable, disable, drain, weight, hand over, reload).
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
page(doc, ctx): the Status page's body from the status document (lvsctl.status, what /status.json
serves), complete without JavaScript: a router box, then one table per virtual server with one row
per real server, ids and classes as the markup contract of issue 14 has them (app.js and the
browser test find the cells by them). ctx: csrf, and router (nil in setup mode: no actions).

act(r, fields, who): does the action a Status form posted, through the router's own methods (those
`luaha ctl` uses), and returns a flash ({ ok =, text = }), or a confirmation page's body when the
action needs one first (disabling or draining the last healthy server of a virtual; a hand over).
Each action is logged, and put in the router's events, with the user and the peer address.

At 10 000 real servers (1000 x 10) the page is about 13 MB (1.3 KB a row, most of it the row's
actions form) and takes about 1.6 s of CPU (measured on the 2-core host, busy); it calls the
pacer (ctx.pace) after each row, so no piece holds the loop longer than the pacer's 2 ms and a
row (about 0.15 ms). What is left in one go is joining the rows into the page (a copy of 13 MB).
]]
local luaha = require "luaha"
local P = require "luaha.webpages"

local S = {}

local log = luaha.log.prefixed("webui")

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
    local where = s.fwmark and s.fwmark ~= 0 and ("fwmark " .. s.fwmark)
        or ("%s:%s/%s"):format(s.address, s.port, s.protocol)
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
    return P.t([[<table id="virtual-{{name}}" class="servers">
<caption><a href="/virtual/{{url}}">{{name}}</a> {{where}}, {{sched}}{{persist}}{{active}}</caption>
<thead><tr><th scope="col">Real server</th><th scope="col">Address</th><th scope="col">Health</th>
<th scope="col">Weight</th><th scope="col">Kernel weight</th><th scope="col">Runtime change</th>
<th scope="col">ActiveConn</th><th scope="col">InActConn</th><th scope="col">Last check</th>
<th scope="col">Actions</th></tr></thead>
<tbody>{{rows}}</tbody></table>]], {
        name = s.name, url = P.url(s.name), where = where, sched = s.scheduler,
        persist = s.persistent and s.persistent > 0 and (", persistent " .. s.persistent .. " s") or nil,
        active = not s.active and " (inactive)" or nil, rows = P.join(rows),
    })
end

-- page(doc, ctx): the Status page's body (markup). ctx: csrf, router, pace (a pacer, optional).
function S.page(doc, ctx)
    local now = doc.time or luaha.time()
    local parts = { router_box(doc) }
    if ctx.router then
        local handover = doc.state == "active" and doc.peer and doc.peer.heard
            and (not doc.deadtime or doc.peer.heard <= doc.deadtime)
        parts[#parts + 1] = P.form("/action", ctx.csrf, P.t("{{1}} {{2}}", {
            handover and P.button("handover", "Hand over to partner") or nil,
            P.button("reload", "Reload lvs.cf from disk") }), "router-actions")
    end
    parts[#parts + 1] = P.t('<p id="live" class="live" aria-live="polite"></p>'
        .. '<p class="updated">Updated <span id="updated">when this page was made</span>.</p>')
    if #doc.services == 0 then
        parts[#parts + 1] = P.t('<p>No virtual server yet: <a href="/virtual">add one</a>.</p>')
    end
    if doc.ipvs_readable == false then
        parts[#parts + 1] = P.t('<p class="warning">The kernel\'s IPVS table cannot be read here:'
            .. ' kernel weights and connections are not shown.</p>')
    end
    for _, s in ipairs(doc.services) do parts[#parts + 1] = service_table(s, ctx, now) end
    return P.join(parts)
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

local function confirm(fields, csrf, text, action, label)
    return P.t([[<p class="warning">{{text}}</p>{{form}}<p><a href="/">Cancel</a></p>]], { text = text,
        form = P.form("/action", csrf, P.t([[<input type="hidden" name="virtual" value="{{v}}">
<input type="hidden" name="server" value="{{s}}"><input type="hidden" name="weight" value="{{w}}">
<input type="hidden" name="also_save" value="{{a}}">
<input type="hidden" name="confirm" value="1">{{b}}]], { v = fields.virtual, s = fields.server, w = fields.weight,
            a = fields.also_save,
            b = P.button(action, label) })) })
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
            return "confirm", confirm(fields, who.csrf, "The partner takes over the virtual addresses and"
                .. " this router stands down.", "handover", "Hand over to partner")
        end
        local ok, err = r:handover()
        return done(ok ~= nil, ok and "handed over to the partner" or ("hand over: " .. tostring(err)))
    elseif action == "reload" then
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

return S
