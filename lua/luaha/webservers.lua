-- lua/luaha/webservers.lua: the web UI's pages of one virtual server's real servers: the list, one server, a new one.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
routes(route, h): adds the routes /virtual/NAME/servers (the list: Activate, Deactivate, Delete
after a confirmation page), /virtual/NAME/server/RS (its form: Save to draft, Delete) and
/virtual/NAME/server-new (an empty form; the server is made only when it is saved, so an Add
never leaves a placeholder in lvs.cf as Piranha's did). h: the helpers of webui.lua (page,
redirect, refused, update, draft_model, problems_page, list_table, list_post, find).
]]
local P = require "luaha.webpages"
local F = require "luaha.webforms"
local changes = require "luaha.webchanges"
local lvscf = require "luaha.lvscf"
local lvscfcheck = require "luaha.lvscfcheck"

local W = {}

local NAME = "([^/]+)"

function W.routes(route, h)
    -- virtual(ui, c, vname): the draft's model and its virtual vname, or nil and the reply.
    local function virtual(ui, c, vname, status)
        local m, errs = h.draft_model(ui, c)
        if not m then return nil, h.page(ui, c, status or 200, "virtual", "Real servers", h.problems_page(errs)) end
        local v = h.find(m.virtuals, vname)
        if not v then return nil, h.refused(ui, c, 404, ("no virtual %q in the draft"):format(vname)) end
        return m, v
    end

    local function list_path(vname) return "/virtual/" .. P.url(vname) .. "/servers" end

    route("/virtual/" .. NAME .. "/servers", function(ui, c, vname)
        local m, v = virtual(ui, c, vname)
        if not m then return v end
        local hrefs = {}
        for i, rs in ipairs(v.servers) do hrefs[i] = ("/virtual/%s/server/%s"):format(P.url(vname), P.url(rs.name)) end
        return h.page(ui, c, 200, "virtual", "Real servers of " .. vname, P.t(
            '{{1}}<p><a href="/virtual/{{2}}/server-new">Add a real server</a> ·'
            .. ' <a href="/virtual/{{2}}">Virtual server {{3}}</a></p>',
            { h.list_table("servers", "Real servers of " .. vname, v.servers, hrefs, list_path(vname), c.session.csrf,
                "No real server yet.", { changes.pending(ui.draft, "servers", vname) }), P.url(vname), vname }))
    end, function(ui, c, vname)
        local m, v = virtual(ui, c, vname, 422)
        if not m then return v end
        return h.list_post(ui, c, v.servers, m, "server", list_path(vname), "virtual")
    end)

    local function form(ui, c, status, vname, vals, errs, path, new)
        local title = (new and "New real server of " or ("Real server " .. tostring(vals.name) .. " of ")) .. vname
        return h.page(ui, c, status, "virtual", title, P.join({
            P.t('<p><a href="{{1}}">All real servers of {{2}}</a></p>', { list_path(vname), vname }),
            F.render("server", vals, errs, { csrf = c.session.csrf, action = path,
                buttons = new and { { "add", "Add to draft" } } or { { "save", "Save to draft" },
                    { "delete", "Delete", ("Delete real server %s of %s from the draft?"):format(tostring(vals.name),
                        vname) } } }) }))
    end

    local function save(ui, c, vname, rsname, path)
        local m, v = virtual(ui, c, vname, 422)
        if not m then return v end
        local rs
        if rsname then
            rs = h.find(v.servers, rsname)
            if not rs then return h.refused(ui, c, 404, ("no server %q in virtual %q"):format(rsname, vname)) end
            if c.fields.action == "delete" then
                c.fields.name = rsname
                return h.list_post(ui, c, v.servers, m, "server", list_path(vname), "virtual")
            end
        else
            rs = {}
            lvscfcheck.fill_defaults(rs, lvscf.servers)
            v.servers[#v.servers + 1] = rs
        end
        local ok, errs = F.read("server", c.fields, rs)
        if ok and h.find(v.servers, rs.name) ~= rs then
            ok, errs = nil, { name = ("a server named %s exists already in %s"):format(rs.name, vname) }
        end
        local renames = rsname and rs.name ~= rsname and { server = { [vname .. "/" .. rsname] = rs.name } } or nil
        if ok then ok, errs = h.update(ui, c, m, renames, ("server %s of %s"):format(rs.name, vname)) end
        if ok then return h.redirect(ui, c.req, ("/virtual/%s/server/%s"):format(P.url(vname), P.url(rs.name))) end
        return form(ui, c, 422, vname, c.fields, errs, path, not rsname)
    end

    route("/virtual/" .. NAME .. "/server%-new", function(ui, c, vname)
        local m, v = virtual(ui, c, vname)
        if not m then return v end
        local rs = {}
        lvscfcheck.fill_defaults(rs, lvscf.servers)
        rs.active = true
        return form(ui, c, 200, vname, F.values("server", rs), nil, ("/virtual/%s/server-new"):format(P.url(vname)), true)
    end, function(ui, c, vname) return save(ui, c, vname, nil, ("/virtual/%s/server-new"):format(P.url(vname))) end)

    route("/virtual/" .. NAME .. "/server/" .. NAME, function(ui, c, vname, rsname)
        local m, v = virtual(ui, c, vname)
        if not m then return v end
        local rs = h.find(v.servers, rsname)
        if not rs then return h.refused(ui, c, 404, ("no server %q in virtual %q"):format(rsname, vname)) end
        return form(ui, c, 200, vname, F.values("server", rs), nil, ("/virtual/%s/server/%s"):format(P.url(vname), P.url(rsname)))
    end, function(ui, c, vname, rsname)
        return save(ui, c, vname, rsname, ("/virtual/%s/server/%s"):format(P.url(vname), P.url(rsname)))
    end)
end

return W
