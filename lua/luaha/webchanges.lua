-- lua/luaha/webchanges.lua: the web UI's Review page (/changes: diff, IPVS operations, Apply) and lvs.cf page (/config).
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
routes(route, h) adds:

/changes   GET: the draft's review (webapply's d:review): the unified diff of lvs.cf in
           <pre id="diff">, the IPVS operations in ipvsadm syntax in <ol id="ipvs-ops"> (those that follow as
           checks pass in <ol id="ipvs-later">), the VIPs,
           the monitors, the warnings, the new serial_no; POST: apply (write and reload), save
           (write only, to copy the file to the partner first), discard.
/config    GET: lvs.cf and lvs.cf.bak as text (?download=1: lvs.cf as a file); POST restore:
           lvs.cf.bak becomes the draft.

Apply is logged with the user and the peer (webapply logs the write and the reload); in setup
mode the first Apply that writes a valid file calls opts.on_applied(), which starts the router.
h: the helpers of webui.lua. review_body(rv, opts) makes the Review's sections; the Status page's
Reload from disk shows them too (webstatus.lua). pending(draft, field [, vname]) names the blocks
the draft adds, changes and deletes: the badges of the list pages.
]]
local luaha = require "luaha"
local P = require "luaha.webpages"

local V = {}

local log = luaha.log.prefixed("webui")

local function list(items, id)
    local out = {}
    for _, s in ipairs(items or {}) do out[#out + 1] = P.t("<li>{{1}}</li>", { s }) end
    return P.t('<ol{{1}}>{{2}}</ol>', { id and P.attrs({ { "id", id } }), P.join(out, "") })
end

--[[
review_body(rv, opts): the Review's sections (markup) for rv, a review as webapply's d:review or
webreview.run gives it. opts: router (nil in setup mode), csrf (with it, the Apply form and the
note on the partner), diff (false: no lvs.cf section: a reload from disk has no draft to diff),
errors_title (the heading over rv.errors).
]]
function V.review_body(rv, opts)
    local router = opts.router
    local vips = {}
    for _, v in ipairs(rv.vips or {}) do
        vips[#vips + 1] = ("%s %s on %s"):format(v.op == "add" and "add" or "remove", v.address, v.device)
    end
    local mon = rv.monitors or {}
    local function n(x) return type(x) == "table" and #x or (x or 0) end
    return P.t([[{{errors}}{{diffpart}}
<section aria-labelledby="ops-h"><h2 id="ops-h">IPVS operations</h2>{{note}}{{ops}}{{later}}</section>
<section aria-labelledby="vips-h"><h2 id="vips-h">Virtual addresses</h2>{{vips}}</section>
<section aria-labelledby="mon-h"><h2 id="mon-h">Health monitors</h2>
<p>{{started}} started, {{stopped}} stopped, {{kept}} kept.</p></section>
<section aria-labelledby="warn-h"><h2 id="warn-h">Warnings</h2>{{warnings}}</section>
{{form}}]], {
        errors = #(rv.errors or {}) > 0 and P.t('<div class="error-summary" role="alert"><h2>{{1}}</h2>{{2}}</div>',
            { opts.errors_title or "The draft cannot be applied", list(rv.errors, "errors") }) or nil,
        diffpart = opts.diff ~= false and P.t([[<section aria-labelledby="diff-h"><h2 id="diff-h">lvs.cf</h2>
<pre id="diff">{{diff}}</pre><p>serial_no becomes <span id="serial">{{serial}}</span>.{{piranha}}</p></section>]], {
            diff = rv.diff, serial = rv.serial,
            piranha = rv.piranha_readable == false and #(rv.piranha_unreadable or {}) > 0
                and (" Piranha can no longer read the new file: " .. table.concat(rv.piranha_unreadable, "; ") .. ".")
                or nil }) or nil,
        note = (rv.note or not router) and P.t('<p id="ipvs-note">{{1}}</p>', { rv.note or
            "No kernel change now: this router runs no table yet." }) or nil,
        ops = list(rv.ipvs, "ipvs-ops"),
        later = #(rv.ipvs_later or {}) > 0 and P.t('<p id="ipvs-later-h">Then, as each real server passes its first'
            .. ' check:</p>{{1}}', { list(rv.ipvs_later, "ipvs-later") }) or nil,
        vips = #vips > 0 and list(vips, "vip-ops") or P.t("<p>No change.</p>"),
        started = n(mon.started), stopped = n(mon.stopped), kept = n(mon.kept),
        warnings = #(rv.warnings or {}) > 0 and list(rv.warnings, "warnings") or P.t("<p>None.</p>"),
        form = opts.csrf and P.t([[<p class="note">Apply changes this router's file only: copy it to the partner, for instance
<code>scp /etc/sysconfig/ha/lvs.cf BACKUP:/etc/sysconfig/ha/</code>, after Save without applying or after Apply.</p>
{{1}}]], { P.form("/changes", opts.csrf, P.t("{{1}} {{2}} {{3}}", { P.button("apply", "Apply"),
            P.button("save", "Save without applying"), P.button("discard", "Discard") }), "buttons") }) or nil,
    })
end

-- same(a, b): whether two model values are equal, tables compared member by member.
local function same(a, b)
    if a == b then return true end
    if type(a) ~= "table" or type(b) ~= "table" then return false end
    for k, v in pairs(a) do if not same(v, b[k]) then return false end end
    for k in pairs(b) do if a[k] == nil then return false end end
    return true
end

--[[
pending(draft, field [, vname]): what the draft changes in a list of the file's, for the badges of
the list pages: field is "virtuals" or "failovers", or with vname the servers of that virtual.
Returns name -> "new" | "changed" for the draft's blocks, and the list of the names the draft
deletes (a rename is a new one and a deleted one). Empty without a draft. A block taken from the
parse cache is the very table of the file's model, so unchanged blocks are found at once; the
others are compared member by member, the loop let run after each block. At 1000 x 10 with two
blocks changed: about 60 ms, most of it the file's text parsed again through the cache (in
slices), the loop held at most about 16 ms (measured on the host, 2026-12-07).
]]
function V.pending(draft, field, vname)
    if not draft.draft then return {}, {} end
    local b = draft:base()
    local base = b and draft:parse(b.base_text)
    if not base then return {}, {} end
    local function items(m)
        if not vname then return m[field] or {} end
        for _, v in ipairs(m.virtuals or {}) do if v.name == vname then return v.servers end end
        return {}
    end
    local now, before, by, seen, out, gone = items(b.model), items(base), {}, {}, {}, {}
    for _, x in ipairs(before) do by[x.name] = x end
    for _, x in ipairs(now) do
        local old = by[x.name]
        seen[x.name] = true
        if not old then out[x.name] = "new" elseif not same(x, old) then out[x.name] = "changed" end
        luaha.breathe()
    end
    for _, x in ipairs(before) do if not seen[x.name] then gone[#gone + 1] = x.name end end
    return out, gone
end

function V.routes(route, h)
    -- The partner's part of the Review page with nothing pending (after Apply: the file just applied sent on).
    local function partner(ui, c)
        local r = ui.opts.router
        if not (r and r.model.backup_active) then return nil end
        return require("luaha.webpartner").send_form(c.session.csrf, require("luaha.webstatus").pair_doc(r))
    end

    local function review(ui, c, status, extra)
        if ui.draft:pending() == 0 then
            return h.page(ui, c, status, "changes", "Review changes", P.t('{{1}}<p>No changes in the draft.</p>'
                .. '<ol id="ipvs-ops"></ol><pre id="diff"></pre>{{2}}', { extra, partner(ui, c) }))
        end
        local rv, why = ui.draft:review(ui.opts.router)
        if not rv then
            return h.page(ui, c, status == 200 and 500 or status, "changes", "Review changes",
                P.t('{{1}}<p class="error">{{2}}</p>', { extra, why }))
        end
        return h.page(ui, c, status, "changes", "Review changes",
            P.t("{{1}}{{2}}", { extra, V.review_body(rv, { csrf = c.session.csrf, router = ui.opts.router }) }))
    end

    route("/changes", function(ui, c) return review(ui, c, 200) end, function(ui, c)
        local action, who = c.fields.action, { user = c.session.user, peer = c.req.peer }
        if action == "discard" then
            ui.draft:discard()
            h.flash(ui, c, true, "the draft was discarded")
            return h.redirect(ui, c.req, "/changes")
        elseif action ~= "apply" and action ~= "save" then
            return h.refused(ui, c, 400, ("unknown action %q"):format(tostring(action)))
        end
        if ui.draft:pending() == 0 then return h.refused(ui, c, 409, "there is nothing to apply") end
        who.write_only = action == "save"
        local rep, status, why, details = ui.draft:apply(ui.opts.router, who)
        if not rep then
            log.warning("%s from %s: %s refused (%s): %s", who.user, who.peer, action, tostring(status), tostring(why))
            -- 409: the file changed on disk since the draft began; what changed there is shown, nothing was written.
            local disk = status == 409 and details and details.diff
            return review(ui, c, tonumber(status) or 500, P.t('<p class="error" role="alert" id="apply-error">{{1}}</p>'
                .. '{{2}}', { why, disk and P.t('<h2>Changed on disk since the draft began</h2><pre id="disk-diff">'
                .. '{{1}}</pre>', { disk }) }))
        end
        local ops = rep.ipvs or {}
        h.flash(ui, c, true, action == "save" and ("%s written, not applied: reload to apply it"):format(ui.opts.config)
            or ("applied: %s written and reloaded, %d IPVS operations"):format(ui.opts.config, #ops))
        if ui.opts.setup and action == "apply" and ui.opts.on_applied then
            ui.opts.setup = false
            ui.opts.on_applied()
        end
        -- With a partner, back to the Review page: its Send to partner sends the file just applied on.
        local r = ui.opts.router
        return h.redirect(ui, c.req, (action == "save" or r and r.model.backup_active) and "/changes" or "/")
    end)

    local function slurp(path)
        local text, err = h.file.read(path, h.max_shown)
        return text, err
    end

    route("/config", function(ui, c)
        local text, err = slurp(ui.opts.config)
        if c.req.query.download == "1" and text then
            return h.reply(ui, c.req, 200, text, { ["Content-Type"] = "text/plain; charset=utf-8",
                ["Content-Disposition"] = 'attachment; filename="lvs.cf"' })
        end
        local bak, bakerr = slurp(ui.opts.config .. ".bak")
        return h.page(ui, c, 200, "config", "lvs.cf", P.t([[<section aria-labelledby="cur-h"><h2 id="cur-h">{{path}}</h2>
{{cur}}<p><a href="/config?download=1">Download lvs.cf</a></p></section>
<section aria-labelledby="bak-h"><h2 id="bak-h">{{path}}.bak (the file before the last Apply)</h2>{{bak}}</section>]], {
            path = ui.opts.config,
            cur = text and P.t('<pre id="config">{{1}}</pre>', { text }) or P.t('<p class="error">{{1}}</p>', { err }),
            bak = bak and P.t('<pre id="config-bak">{{1}}</pre>{{2}}', { bak, P.form("/config", c.session.csrf,
                P.button("restore", "Restore previous (into the draft)")) }) or P.t("<p>None: {{1}}</p>", { bakerr }),
        }))
    end, function(ui, c)
        if c.fields.action ~= "restore" then
            return h.refused(ui, c, 400, ("unknown action %q"):format(tostring(c.fields.action)))
        end
        local ok, why = ui.draft:restore_previous()
        if not ok then
            return h.refused(ui, c, 409, "restore: " .. (type(why) == "table" and table.concat(why, "; ") or tostring(why)))
        end
        h.flash(ui, c, true, "lvs.cf.bak is the draft now: review it, then apply")
        return h.redirect(ui, c.req, "/changes")
    end)
end

return V
