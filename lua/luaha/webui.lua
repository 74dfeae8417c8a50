-- lua/luaha/webui.lua: the web configuration UI: its routes, sessions, CSRF and headers; pages from webpages/webforms/webstatus.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
handler(opts) returns the function luaha.http.listen calls for each request: function(req) ->
status, body, headers (three results, as every luaha.http handler; the UI's state second:
{ sessions =, draft = }). lvshttp gives it every path but /status.json, /metrics and /ipvs when
webui = 1; start(opts) listens with it alone (setup mode, before lvs.cf is usable): the server,
or nil and why. opts:

    router        the running router (lua/luaha/router.lua); nil in setup mode
    config        the path of lvs.cf
    passwd        the users file (status_passwd): `luaha passwd` writes it
    origin        "http://127.0.0.1:3636": the listener's own origin, when the request has no Host
    tls           { cert =, key = } when the listener speaks TLS: cookies Secure, HSTS
    insecure      webui_insecure = 1: a banner on every page says passwords cross the network readable
    session_idle  seconds (webui_session_idle)
    setup         setup mode: a banner, no actions; on_applied() is called after the first Apply
    sessions, draft   a websession and a webapply object to use instead of new ones (shared with lvshttp)

The rules (spec 3.8), each kept in one place below: every answer carries the security headers
(security()); a page needs a session (the login page and the two assets do not); GET and HEAD
never change anything (they only read the draft, the file and the router's status); a POST needs
a session, its CSRF token and an Origin (or Referer) equal to the origin the browser used
(websession.check_post), and is answered by a redirect (303) or, when refused, by the page again
with 4xx; a Basic Authorization header never authorises a POST. Refusals are logged with a
limit. Objects are named in the path, never numbered.

What can hold the loop: the Status pages (see webstatus.lua: paced), a form (under 1 ms), the
Review page's diff (lvsedit.diff; the draft's size, bounded by lvscf.MAX_SIZE: about 30 ms for a
10 000-server file). Argon2id runs in the worker thread (websession), never here.
]]
local luaha = require "luaha"
local P = require "luaha.webpages"
local F = require "luaha.webforms"
local changes = require "luaha.webchanges"
local lvscf = require "luaha.lvscf"
local lvscfcheck = require "luaha.lvscfcheck"
local file = require "luaha.core.file"
local embed = require "luaha.core.embed"

local webui = {}

local log = luaha.log.prefixed("webui")

webui.CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
    .. " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
webui.MAX_BODY = 64 * 1024          -- bytes of a request body (the listener's max_body)
webui.ABSOLUTE = 12 * 3600          -- seconds a session lives at most, however busy
local MAX_CONFIG_SHOWN = 4 * 1024 * 1024   -- bytes of lvs.cf (or .bak) the /config page shows

-- security(headers, tls): headers with those of spec 3.8 added (Cache-Control: no-store unless set).
function webui.security(headers, tls)
    headers = headers or {}
    headers["Content-Security-Policy"] = webui.CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Cache-Control"] = headers["Cache-Control"] or "no-store"
    if tls then headers["Strict-Transport-Security"] = "max-age=31536000" end
    return headers
end

-- The assets: built into the binary (runtime/embed.c), or from LUAHA_PATH's lua/ when developing.
local ASSETS = {
    ["/assets/app.js"] = { "luaha/web/app.js", "text/javascript; charset=utf-8" },
    ["/assets/style.css"] = { "luaha/web/style.css", "text/css; charset=utf-8" },
}

local function asset(path)
    local a = ASSETS[path]
    local text = a and embed.asset(a[1])
    return text, a and a[2]
end
webui.asset = asset

-- The origin the browser used: its Host (bounded, of host characters), else the listener's own.
local function origin_of(ui, req)
    local host = req.headers.host
    local scheme = (req.tls or ui.opts.tls) and "https" or "http"
    if host and #host <= 255 and host:match("^[%w%.%-:%[%]]+$") then return scheme .. "://" .. host end
    return ui.opts.origin
end

-- Names of blocks and servers in paths (decoded by the server; hrefs are made with P.url).
local NAME = "([^/]+)"

local KINDS = { virtual = "virtuals", failover = "failovers" }

local function find(list, name)
    for i, b in ipairs(list or {}) do if b.name == name then return b, i end end
end

--[[
draft_model(ui, c): the draft's model, a copy to change, or nil and the problems (the file does
not parse: the pages show them and offer no form). The base's hash goes to c.base: an update made
from it is refused if another base came meanwhile (webapply's d:update).
]]
local function draft_model(ui, c)
    local m, why = ui.draft:model()
    if not m then return nil, type(why) == "table" and why or { tostring(why) } end
    c.base = why
    return m
end

local function problems_page(errs)
    local items = {}
    for _, e in ipairs(errs) do items[#items + 1] = P.t("<li>{{1}}</li>", { e }) end
    return P.t('<p class="error">lvs.cf does not parse; fix it by hand (the UI never repairs a file):</p><ul>{{1}}</ul>',
        { P.join(items, "") })
end

-- Replies ------------------------------------------------------------------------------

local function reply(ui, req, status, body, headers)
    return status, body, webui.security(headers or { ["Content-Type"] = "text/html; charset=utf-8" },
        req.tls or ui.opts.tls)
end

local function redirect(ui, req, where, headers)
    headers = headers or {}
    headers.Location = where
    headers["Content-Type"] = "text/plain; charset=utf-8"
    return reply(ui, req, 303, "see " .. where .. "\n", headers)
end

-- page(ui, c, status, name, title, body): a whole page for the session of c.
local function page(ui, c, status, name, title, body)
    local flash = c.session and ui.flash[c.session]
    if c.session and c.req.method == "GET" then ui.flash[c.session] = nil end
    return reply(ui, c.req, status, P.frame({ name = name, title = title, body = body,
        user = c.session and c.session.user, csrf = c.session and c.session.csrf,
        setup = ui.opts.setup, insecure = ui.opts.insecure, flash = flash,
        pending = c.session and ui.draft:pending() or nil }))
end

local function refused(ui, c, status, why)
    ui.logged(status, "%s %s from %s refused (%d): %s", c.req.method, c.req.path, c.req.peer, status, why)
    return page(ui, c, status, "error", status == 401 and "Log in first" or "Refused", P.message(why, "/", "Status"))
end

local function flash(ui, c, ok, text)
    ui.flash[c.session] = { ok = ok, text = text }
    log[ok and "info" or "warning"]("%s from %s: %s", c.session.user, c.req.peer, text)
end

-- update(ui, c, m, renames, what): the draft takes model m; true, or nil and the errors (strings).
local function update(ui, c, m, renames, what)
    local ok, errs = ui.draft:update(m, renames, c.base)
    if not ok then return nil, type(errs) == "table" and errs or { tostring(errs) } end
    flash(ui, c, true, what .. ": saved to the draft")
    return true
end

-- Pages --------------------------------------------------------------------------------

local R = {}        -- the routes: { pattern, GET = fn(ui, c, ...), POST = fn(ui, c, ...) }

local function route(pattern, get, post) R[#R + 1] = { "^" .. pattern .. "$", GET = get, POST = post } end

require("luaha.webstatus").routes(route, { page = page, redirect = redirect, refused = refused, update = update,
    draft_model = draft_model, find = find })

-- What a page says before its form.
local NOTES = {
    redundancy = P.t('<p class="note">Edits change this router\'s lvs.cf only: after Apply, copy it to the backup'
        .. ' router, for instance <code>scp /etc/sysconfig/ha/lvs.cf BACKUP:/etc/sysconfig/ha/</code>.</p>'),
    advanced = P.t('<p class="note">Options marked "luaha only" are luaha\'s extensions: at a value other than'
        .. ' their default, Piranha can no longer read the file.</p>'),
}

-- The three pages of global options.
local function global_page(name)
    local path = "/" .. name
    route(path, function(ui, c)
        local m, errs = draft_model(ui, c)
        if not m then return page(ui, c, 200, name, F.pages[name].title, problems_page(errs)) end
        local vals, extra = F.values(name, m), NOTES[name]
        if ui.opts.setup and name == "global" and (vals.primary or "") == "" then    -- as Piranha's page did
            vals.primary = F.here(c.req)
            extra = vals.primary and P.t('<p class="note" id="primary-prefilled">Primary is pre-filled with this'
                .. ' host\'s address, {{1}}: save to keep it.</p>', { vals.primary })
        end
        return page(ui, c, 200, name, F.pages[name].title, P.t("{{1}}{{2}}", {
            name == "redundancy" and require("luaha.webstatus").pair(ui.opts.router) or nil,
            F.render(name, vals, nil, { csrf = c.session.csrf, action = path, extra = extra }) }))
    end, function(ui, c)
        local m, errs = draft_model(ui, c)
        if m then
            local ok
            ok, errs = F.read(name, c.fields, m)
            if ok then ok, errs = update(ui, c, m, nil, F.pages[name].title) end
            if ok then return redirect(ui, c.req, path) end
        end
        return page(ui, c, 422, name, F.pages[name].title,
            F.render(name, c.fields, errs, { csrf = c.session.csrf, action = path, extra = NOTES[name] }))
    end)
end
global_page("global")
global_page("redundancy")
global_page("advanced")

--[[
A list of blocks (virtual or failover) or of one virtual's servers, with their row actions; pending:
webchanges.pending's two results (a badge on each block the draft adds or changes, a line naming
those it deletes).
]]
local function list_table(id, caption, items, hrefs, path, csrf, empty, pending)
    local badges, gone = pending and pending[1] or {}, pending and pending[2] or {}
    local deleted = #gone > 0 and P.t('<p class="note" id="{{1}}-deleted">Deleted in the draft: {{2}}'
        .. ' (<a href="/changes">Review</a>).</p>', { id, table.concat(gone, ", ") }) or nil
    if #items == 0 then return P.t("<p>{{1}}</p>{{2}}", { empty, deleted }) end
    local rows = {}
    for i, b in ipairs(items) do
        local badge = badges[b.name]
        rows[#rows + 1] = P.t([[<tr><th scope="row"><a href="{{href}}">{{name}}</a>{{badge}}</th><td>{{addr}}</td>
<td>{{state}}</td><td>{{form}}</td></tr>]], { href = hrefs[i], name = b.name,
            badge = badge and P.t(' <span class="badge {{1}}">{{1}} in the draft</span>', { badge }),
            addr = b.address and (b.address .. (b.port and (":" .. b.port) or "")),
            state = b.active and "active" or "inactive",
            form = P.form(path, csrf, P.t('<input type="hidden" name="name" value="{{1}}">{{2}} {{3}}', { b.name,
                b.active and P.button("disable", "Deactivate") or P.button("enable", "Activate"),
                P.button("delete", "Delete", nil, ("Delete %s from the draft?"):format(b.name)) }), "inline") })
    end
    return P.t([[<table id="{{id}}"><caption>{{caption}}</caption><thead><tr><th scope="col">Name</th>
<th scope="col">Address</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead><tbody>{{rows}}</tbody></table>
{{deleted}}]], { id = id, caption = caption, rows = P.join(rows), deleted = deleted })
end

-- list_post(ui, c, list, m, what, path, renames_kind): Activate, Deactivate, Delete (after a confirmation page).
local function list_post(ui, c, list, m, what, path, back)
    local b, i = find(list, c.fields.name)
    if not b then return refused(ui, c, 404, ("no %s %q in the draft"):format(what, tostring(c.fields.name))) end
    local action = c.fields.action
    if action == "enable" or action == "disable" then
        b.active = action == "enable"
    elseif action == "delete" then
        if c.fields.confirm ~= "1" then
            return page(ui, c, 200, back, "Delete " .. b.name, P.t(
                '<p class="warning">Delete {{1}} {{2}} from the draft?</p>{{3}}'
                .. '<p><a href="{{4}}">Cancel</a></p>', { what, b.name, P.form(path, c.session.csrf,
                P.t('<input type="hidden" name="name" value="{{1}}"><input type="hidden" name="confirm" value="1">{{2}}',
                    { b.name, P.button("delete", "Delete") })), path }))
        end
        table.remove(list, i)
    else
        return refused(ui, c, 400, ("unknown action %q"):format(tostring(action)))
    end
    local ok, errs = update(ui, c, m, nil, ("%s %s: %s"):format(what, b.name, action))
    if not ok then return page(ui, c, 422, back, "Not saved", problems_page(errs)) end
    return redirect(ui, c.req, path)
end

for kind, field in pairs(KINDS) do
    local title = kind == "virtual" and "Virtual servers" or "Failover services"
    route("/" .. kind, function(ui, c)
        local m, errs = draft_model(ui, c)
        if not m then return page(ui, c, 200, kind, title, problems_page(errs)) end
        local hrefs = {}
        for i, b in ipairs(m[field]) do hrefs[i] = "/" .. kind .. "/" .. P.url(b.name) end
        return page(ui, c, 200, kind, title, P.t('{{1}}<p><a href="/{{2}}-new">Add a {{3}}</a></p>', {
            list_table(kind .. "s", title, m[field], hrefs, "/" .. kind, c.session.csrf, "None yet.",
                { changes.pending(ui.draft, field) }), kind,
            kind == "virtual" and "virtual server" or "failover service" }))
    end, function(ui, c)
        local m, errs = draft_model(ui, c)
        if not m then return page(ui, c, 422, kind, title, problems_page(errs)) end
        return list_post(ui, c, m[field], m, kind, "/" .. kind, kind)
    end)
    -- A block's form; new: an empty one (the defaults, active checked), its block made only on Save.
    local function form(ui, c, status, vals, errs, path, new)
        local links = not new and kind == "virtual"
            and P.t('<p><a href="/virtual/{{1}}/servers">Real servers of {{2}}</a></p>', { P.url(vals.name), vals.name }) or nil
        return page(ui, c, status, kind, (new and "New " or "") .. F.pages[kind].title .. (new and "" or (" " .. vals.name)),
            P.t("{{1}}{{2}}", { links, F.render(kind, vals, errs, { csrf = c.session.csrf, action = path,
                buttons = new and { { "add", "Add to draft" } } or { { "save", "Save to draft" },
                    { "delete", "Delete", ("Delete %s %s from the draft?"):format(kind, vals.name) } } }) }))
    end
    local function save(ui, c, path, name)
        local m, errs = draft_model(ui, c)
        if not m then return page(ui, c, 422, kind, title, problems_page(errs)) end
        local b
        if name then
            b = find(m[field], name)
            if not b then return refused(ui, c, 404, ("no %s %q in the draft"):format(kind, name)) end
            if c.fields.action == "delete" then       -- the block of the page, whatever its name field says now
                c.fields.name = name
                return list_post(ui, c, m[field], m, kind, "/" .. kind, kind)
            end
        else
            b = { servers = kind == "virtual" and {} or nil }
            lvscfcheck.fill_defaults(b, lvscf.blocks)
            m[field][#m[field] + 1] = b
        end
        local ok
        ok, errs = F.read(kind, c.fields, b)
        if ok and b.name ~= name and find(m[field], b.name) ~= b then
            ok, errs = nil, { name = ("a %s named %s exists already"):format(kind, b.name) }
        end
        local renames = name and b.name ~= name and { [kind] = { [name] = b.name } } or nil
        if ok then ok, errs = update(ui, c, m, renames, kind .. " " .. b.name) end
        if ok then return redirect(ui, c.req, "/" .. kind .. "/" .. P.url(b.name)) end
        return form(ui, c, 422, c.fields, errs, path, not name)
    end
    route("/" .. kind .. "%-new", function(ui, c)
        local b = {}
        lvscfcheck.fill_defaults(b, lvscf.blocks)
        b.active = true
        return form(ui, c, 200, F.values(kind, b), nil, "/" .. kind .. "-new", true)
    end, function(ui, c) return save(ui, c, "/" .. kind .. "-new", nil) end)
    route("/" .. kind .. "/" .. NAME, function(ui, c, name)
        local m, errs = draft_model(ui, c)
        if not m then return page(ui, c, 200, kind, title, problems_page(errs)) end
        local b = find(m[field], name)
        if not b then return refused(ui, c, 404, ("no %s %q in the draft"):format(kind, name)) end
        return form(ui, c, 200, F.values(kind, b), nil, "/" .. kind .. "/" .. P.url(name))
    end, function(ui, c, name) return save(ui, c, "/" .. kind .. "/" .. P.url(name), name) end)
end

require("luaha.webservers").routes(route, {
    page = page, redirect = redirect, refused = refused, update = update, draft_model = draft_model,
    problems_page = problems_page, list_table = list_table, list_post = list_post, find = find,
})
changes.routes(route, { page = page, redirect = redirect, refused = refused, flash = flash,
    reply = reply, problems_page = problems_page, max_shown = MAX_CONFIG_SHOWN, file = file })
require("luaha.webpartner").routes(route, { page = page, redirect = redirect, refused = refused, flash = flash })

-- Login and logout ---------------------------------------------------------------------

local function login_page(ui, c, status, err, user)
    return page(ui, c, status, "login", "Log in", P.login(err, user))
end

local function login(ui, req)
    local c = { req = req }
    local ok, status, refusal = ui.websession.check_origin(req, origin_of(ui, req))
    if not ok then return refused(ui, c, status, refusal) end
    local fields = ui.websession.form(req.body or "") or {}
    if type(fields.user) ~= "string" or type(fields.password) ~= "string" then
        return login_page(ui, c, 400, "Give a user and a password.")
    end
    local s, why, after = ui.sessions:login(fields.user, fields.password, req.peer)
    if not s then        -- websession logged it
        if why == "busy" then
            return login_page(ui, c, 503, "Another login is being checked: try again in a second.", fields.user)
        elseif after then
            return login_page(ui, c, 429, ("%s: wait %d s before the next try."):format(
                why == "wrong user or password" and "Wrong user or password; too many failed logins from this address"
                or "Too many failed logins from this address", math.ceil(after)), fields.user)
        end
        return login_page(ui, c, 401, why == "wrong user or password" and "Wrong user or password."
            or ("The login cannot be checked: " .. tostring(why)), fields.user)
    end
    return redirect(ui, req, "/", { ["Set-Cookie"] = ui.sessions:cookie(s, req.tls or ui.opts.tls ~= nil) })
end

-- The request ---------------------------------------------------------------------------

local function serve(ui, req)
    local method, path = req.method, req.path
    if method ~= "GET" and method ~= "HEAD" and method ~= "POST" then
        return reply(ui, req, 405, "method not allowed\n", { Allow = "GET, HEAD, POST",
            ["Content-Type"] = "text/plain; charset=utf-8" })
    end
    local text, ctype = asset(path)
    if text then
        if method == "POST" then return reply(ui, req, 405, "", { Allow = "GET, HEAD" }) end
        return reply(ui, req, 200, text, { ["Content-Type"] = ctype, ["Cache-Control"] = "no-cache" })
    end
    local session = ui.sessions:find(req)
    if path == "/login" then
        if method == "POST" then return login(ui, req) end
        if session then return redirect(ui, req, "/") end
        return login_page(ui, { req = req }, 200, nil)
    end
    local c = { req = req, session = session, fields = {} }
    if method == "POST" then
        local ok, status, why = ui.websession.check_post(req, session, origin_of(ui, req))
        if not ok then return refused(ui, c, status, why) end
        c.fields = status       -- the form, when it passed
        if path == "/logout" then
            ui.sessions:logout(session)
            return redirect(ui, req, "/login", { ["Set-Cookie"] = ui.sessions:cookie(nil, req.tls or ui.opts.tls ~= nil) })
        end
    elseif not session then
        return redirect(ui, req, "/login")
    end
    for _, r in ipairs(R) do
        local caps = { path:match(r[1]) }
        if #caps > 0 then
            local fn = r[method == "HEAD" and "GET" or method]
            if not fn then return reply(ui, req, 405, "method not allowed\n", { Allow = r.GET and "GET, HEAD" or "POST",
                ["Content-Type"] = "text/plain; charset=utf-8" }) end
            if caps[1] == path then caps = {} end   -- a pattern without a capture gives the whole match
            return fn(ui, c, table.unpack(caps))
        end
    end
    return page(ui, c, 404, "error", "Not found", P.message("There is no such page.", "/", "Status"))
end

--[[
handler(opts): see the top of this file. The sessions and the draft are made here (or taken from
opts), once per handler: one draft for all the sessions, as spec 3.5 has it.
]]
function webui.handler(opts)
    local websession = require "luaha.websession"
    local ui = { opts = opts, websession = websession, flash = setmetatable({}, { __mode = "k" }),
        logged = luaha.log.limiter(log, 10) }
    ui.sessions = opts.sessions or assert(websession.new({ passwd = opts.passwd,
        idle = opts.session_idle or 1800, absolute = webui.ABSOLUTE }))
    ui.draft = opts.draft or require("luaha.webapply").new({ config = opts.config })
    return function(req) return serve(ui, req) end, ui
end

-- start(opts): listens on opts.listen ("ADDR:PORT") with the UI alone (setup mode): the server, or nil and why.
function webui.start(opts)
    local addr, port = require("luaha.lvshttp").parse_listen(opts.listen)
    if not addr then return nil, port end
    opts.origin = opts.origin or ("%s://%s:%d"):format(opts.tls and "https" or "http",
        addr:find(":", 1, true) and ("[" .. addr .. "]") or addr, port)
    local handler, ui = webui.handler(opts)
    opts.sessions, opts.draft = ui.sessions, ui.draft      -- for the router's listener after setup mode
    return luaha.http.listen(addr, port, handler, { methods = { "GET", "HEAD", "POST" },
        max_body = webui.MAX_BODY, tls = opts.tls })
end

return webui
