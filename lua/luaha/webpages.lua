-- lua/luaha/webpages.lua: the web UI's templates: HTML escaped by default, the page frame every page shares.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Every value put into a page is escaped (& < > " ') unless it is markup made here: t() returns
markup, a table marked by the metatable RAW, and only such a table goes in unescaped. So a name
typed into a form, a reason from a failed check or a line of lvs.cf cannot become markup, and the
only way to put text in raw is to have built it with t() from escaped pieces.

    local P = require "luaha.webpages"
    local row = P.t("<tr><td>{{name}}</td><td>{{cell}}</td></tr>", { name = rs.name, cell = P.t("<b>x</b>") })
    local body = P.join({ row, row2 })

frame(page) makes the whole page: the <head> (title, the one style sheet and the one script, both
from /assets/), a skip link, the header with the user and a log out form, the navigation with the
current page marked (aria-current), the banners (setup mode, plain HTTP beyond loopback, draft
changes not applied, a message left by the last POST) and <main>. The pages stay well under the
50 KiB of spec 3.9 except the Status page of many virtuals (a summary row each, about 0.3 KB) and
the status page of a virtual with many real servers (about 1.3 KB a server).
]]
local P = {}

local RAW = { __name = "luaha.webpages.raw" }

local ESCAPES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

-- esc(v): v as text that stands for itself in HTML text and in a quoted attribute.
function P.esc(v)
    return (tostring(v):gsub("[&<>\"']", ESCAPES))
end

-- raw(text): text trusted as markup. Only for constant markup written in this library.
function P.raw(text)
    assert(type(text) == "string", "raw markup must be a string")
    return setmetatable({ text }, RAW)
end

function P.is_raw(v) return getmetatable(v) == RAW end

-- markup(v): the text v stands for in a page: markup as it is, nil as nothing, anything else escaped.
local function markup(v)
    if v == nil or v == false then return "" end
    if getmetatable(v) == RAW then return v[1] end
    return P.esc(v)
end

--[[
t(template, values): markup: the template with each {{key}} replaced by values[key] (key a name
or a number), escaped unless it is markup; nil and false put nothing.
]]
function P.t(template, values)
    values = values or {}
    return setmetatable({ (template:gsub("{{([%w_]+)}}", function(k)
        return markup(values[tonumber(k) or k])
    end)) }, RAW)
end

-- join(list [, sep]): markup: the items of list (markup or text, text escaped) one after the other; a list, so no nil in it.
function P.join(list, sep)
    local out = {}
    for i, v in ipairs(list) do out[i] = markup(v) end
    return setmetatable({ table.concat(out, sep or "\n") }, RAW)
end

-- text(v): the final text of markup v (a page's body).
function P.text(v) return markup(v) end

-- attrs(list): markup of attributes from { {name, value}, ... }: value true writes the bare name, false/nil nothing.
function P.attrs(list)
    local out = {}
    for _, a in ipairs(list) do
        if a[2] == true then
            out[#out + 1] = " " .. a[1]
        elseif a[2] ~= nil and a[2] ~= false then
            out[#out + 1] = (" %s=\"%s\""):format(a[1], P.esc(a[2]))
        end
    end
    return setmetatable({ table.concat(out) }, RAW)
end

-- url(name): a name as one path segment (percent-encoded where a path would read it otherwise).
function P.url(name)
    return (tostring(name):gsub("[^%w%-._~:@+!$,;=]", function(ch) return ("%%%02X"):format(ch:byte()) end))
end

-- The pages of the navigation, in order: path, label, the page names that light it.
P.NAV = {
    { "/", "Status", "status" },
    { "/global", "Global settings", "global" },
    { "/redundancy", "Redundancy", "redundancy" },
    { "/virtual", "Virtual servers", "virtual" },
    { "/failover", "Failover services", "failover" },
    { "/advanced", "Advanced", "advanced" },
    { "/changes", "Review changes", "changes" },
    { "/partner", "Partner", "partner" },
    { "/config", "lvs.cf", "config" },
}

-- csrf_field(csrf): the hidden field every form carries.
function P.csrf_field(csrf)
    return P.t('<input type="hidden" name="csrf" value="{{1}}">', { csrf or "" })
end

--[[
button(action, label [, class] [, confirm]): a submit button as the markup contract has it. With
confirm (a sentence), app.js asks it in a <dialog> first and posts confirm=1; without JavaScript
the server's own confirmation page asks it.
]]
function P.button(action, label, class, confirm)
    return P.t('<button type="submit" name="action" value="{{1}}"{{2}}>{{3}}</button>',
        { action, P.attrs({ { "class", class }, { "data-confirm", confirm } }), label })
end

-- form(action_path, csrf, inner [, class]): a POST form with the CSRF field.
function P.form(path, csrf, inner, class)
    return P.t('<form method="post" action="{{1}}"{{2}} novalidate>{{3}}{{4}}</form>',
        { path, class and P.attrs({ { "class", class } }), P.csrf_field(csrf), inner })
end

local function nav(current, user)
    if not user then return nil end
    local items = {}
    for _, n in ipairs(P.NAV) do
        items[#items + 1] = P.t('<li><a href="{{1}}"{{2}}>{{3}}</a></li>',
            { n[1], n[3] == current and P.raw(' aria-current="page"') or nil, n[2] })
    end
    return P.t('<nav aria-label="Pages"><ul>{{1}}</ul></nav>', { P.join(items, "") })
end

local function banners(page)
    local out = {}
    if page.setup then
        out[#out + 1] = P.t('<p class="banner setup" role="status">Setup mode: no working configuration yet.'
            .. ' No heartbeat, no VIPs, no IPVS until the first Apply.</p>')
    end
    if page.insecure then
        out[#out + 1] = P.t('<p class="banner insecure" role="alert"><strong>Plain HTTP:</strong>'
            .. ' passwords cross the network readable (webui_insecure = 1).</p>')
    end
    if page.pending and page.pending > 0 then
        out[#out + 1] = P.t('<p class="banner pending" id="pending">{{1}} not applied: <a href="/changes">Review</a></p>',
            { page.pending == 1 and "1 changed line" or (page.pending .. " changed lines") })
    end
    if page.flash then
        out[#out + 1] = P.t('<p class="banner {{1}}" role="status" id="flash">{{2}}</p>',
            { page.flash.ok and "done" or "failed", page.flash.text })
    end
    return P.join(out)
end

--[[
frame(page): the whole HTML document as a string. page: name (for the navigation), title (unique
per page), body (markup), and optionally user, csrf (the log out form is shown with them), setup,
insecure, pending (changed lines of the draft), flash ({ ok =, text = }).
]]
function P.frame(page)
    local user = page.user and P.t('<div class="who"><span>{{1}}</span>{{2}}</div>', { page.user,
        P.form("/logout", page.csrf, P.button("logout", "Log out"), "inline") })
    return P.text(P.t([[<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} — luaha</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/app.js" defer></script>
</head>
<body data-page="{{name}}">
<a class="skip" href="#main">Skip to the content</a>
<header><p class="brand"><a href="/">luaha</a></p>{{user}}</header>
{{nav}}
<div id="banners">{{banners}}</div>
<main id="main" tabindex="-1">
<h1>{{title}}</h1>
{{body}}
</main>
</body>
</html>
]], { title = page.title, name = page.name, user = user, nav = nav(page.name, page.user),
        banners = banners(page), body = page.body }))
end

-- login(err, wait, user): the login page's body.
function P.login(err, user)
    return P.t([[<form method="post" action="/login" class="login" novalidate>
<p id="login-error" class="error" role="alert">{{err}}</p>
<p><label for="f-user">User</label>
<input id="f-user" name="user" autocomplete="username" value="{{user}}" required></p>
<p><label for="f-password">Password</label>
<input id="f-password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit" name="action" value="login">Log in</button></p>
</form>
<p class="help">Set a password with <code>luaha passwd</code> on the router.</p>]], { err = err, user = user or "piranha" })
end

-- message(text [, link, label]): a page body of one paragraph and a link onward.
function P.message(text, link, label)
    return P.t('<p>{{1}}</p>{{2}}', { text, link and P.t('<p><a href="{{1}}">{{2}}</a></p>', { link, label }) })
end

return P
