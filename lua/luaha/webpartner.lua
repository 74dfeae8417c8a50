-- lua/luaha/webpartner.lua: the web UI's parts for the pair kept in step: both serial_nos, "Send to partner", /partner.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Small pieces the other pages put in (each returns markup of lua/luaha/webpages.lua), from the
status document (lua/luaha/partnersync.lua's status fills its pair fields; doc(router) makes
the little of it they need):

  pair(doc)              <section id="pair">: this router's serial_no and the partner's, whether
                         the configurations differ, and the last transfer each way with the
                         partner's words (the Status page; the Redundancy page)
  send_form(csrf, doc)   the "Send to partner" form (a POST to /partner) and the last send's result
                         (the Review page, after Apply)

and routes(route, h), the page /partner: GET shows both; POST action=send sends the running
lvs.cf to the partner and comes back to /partner with the result (flash), the partner's refusal
word for word when it refuses.
]]
local P = require "luaha.webpages"

local W = {}

local function when(t)
    return t and os.date("!%Y-%m-%d %H:%M:%S UTC", math.floor(t)) or ""
end

-- result(id, what, x): a transfer's result as a paragraph, or nothing.
local function result(id, what, x)
    if not x then return nil end
    return P.t('<p id="{{id}}" class="{{class}}">{{what}} {{at}}{{who}}: {{why}}</p>', { id = id,
        class = x.ok and "done" or "failed", what = what, at = when(x.at),
        who = x.from and (" from " .. x.from) or x.by and (" by " .. x.by) or nil, why = x.why })
end

--[[
pair(doc): the pair's section. Without a partner (no peer heard): this router's serial_no and
"partner not heard".
]]
function W.pair(doc)
    local ps = doc.partner_sync or {}
    local differs
    if doc.config_differs == nil then
        differs = "partner not heard yet"
    else
        differs = doc.config_differs and "the configurations differ" or "the same configuration"
    end
    return P.t([[<section id="pair" aria-labelledby="pair-h"><h2 id="pair-h">The pair</h2>
<dl class="facts">
<dt>serial_no here</dt><dd id="pair-serial">{{serial}}</dd>
<dt>serial_no at the partner</dt><dd id="pair-peer-serial">{{peer}}</dd>
<dt>Configurations</dt><dd id="pair-differs"{{class}}>{{differs}}</dd>
</dl>{{received}}{{sent}}</section>]], {
        serial = doc.serial_no, peer = doc.peer_serial_no or "unknown",
        class = doc.config_differs and P.attrs({ { "class", "differs" } }) or nil, differs = differs,
        received = result("partner-received", "Last file received", ps.received),
        sent = result("partner-sent", "Last file sent", ps.sent),
    })
end

--[[
send_form(csrf, doc): the form that sends the running lvs.cf to the partner, with the last send's
result. It says what happens there, and why it cannot work when there is no partner.
]]
function W.send_form(csrf, doc)
    local ps = doc.partner_sync or {}
    local peer = doc.peer and doc.peer.address
    return P.t([[<section id="send" aria-labelledby="send-h"><h2 id="send-h">Send to partner</h2>
<p class="note">Sends this router's lvs.cf (serial_no {{serial}}, the one running) to the partner{{peer}}, authenticated
with heartbeat_key: the partner checks it as <code>--check</code> does and applies it as its own Apply does,
or refuses it and says why.</p>{{form}}{{sent}}</section>]], {
        serial = doc.serial_no, peer = peer and (" " .. peer) or nil,
        form = P.form("/partner", csrf, P.button("send", "Send to partner"), "buttons"),
        sent = result("partner-sent", "Last file sent", ps.sent),
    })
end

--[[
doc(router): the part of the status document these pieces read (serial_no, peer and the pair's
fields), without walking the services as router:status() does: cheap at any size.
]]
function W.doc(r)
    local pulse = r.pulse and r.pulse:status() or {}
    return require("luaha.partnersync").status(r, { serial_no = r.model.serial_no, peer = pulse.peer })
end

-- routes(route, h): /partner (h: webui.lua's helpers page, redirect, refused, flash).
function W.routes(route, h)
    route("/partner", function(ui, c)
        local r = ui.opts.router
        if not r then return h.refused(ui, c, 409, "setup mode: there is no running router and no partner yet") end
        local doc = W.doc(r)
        return h.page(ui, c, 200, "partner", "Partner", P.t("{{1}}{{2}}", { W.pair(doc),
            W.send_form(c.session.csrf, doc) }))
    end, function(ui, c)
        local r = ui.opts.router
        if not r or not r.sync then return h.refused(ui, c, 409, "setup mode: there is no running router and no partner yet") end
        if c.fields.action ~= "send" then
            return h.refused(ui, c, 400, ("unknown action %q"):format(tostring(c.fields.action)))
        end
        local res, why = r.sync:send({ user = c.session.user, peer = c.req.peer })
        if res then
            h.flash(ui, c, true, "partner: " .. res.why)
        else
            h.flash(ui, c, false, "not sent: " .. why)
        end
        return h.redirect(ui, c.req, "/partner")
    end)
end

return W
