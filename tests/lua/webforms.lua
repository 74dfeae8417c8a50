-- tests/lua/webforms.lua: the web UI's forms: one field per option, form <-> model round trips, the reader's problems shown.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local model = require "luaha.lvscfmodel"
local F = require "luaha.webforms"
local P = require "luaha.webpages"

local NAMES = { ["router-b.example.net"] = "192.0.2.99" }
local OPTS = { resolve = function(name) return NAMES[name], "unknown host" end }

local every = assert(lvscf.parse(t.slurp("tests/lua/data/every.cf"), "every.cf", nil, OPTS))

-- The keys each page shows, with the page: key -> { page names }.
local function shown(scopes)
    local at = {}
    for name, page in pairs(F.pages) do
        if scopes[page.scope] then
            for _, s in ipairs(page.sections) do
                for _, key in ipairs(s[2]) do
                    at[key] = at[key] or {}
                    table.insert(at[key], name)
                end
            end
        end
    end
    return at
end

t.test("every-option-has-one-field-or-is-kept", function()
    local g = shown({ global = true })
    for _, o in ipairs(model.globals) do
        t.eq(#(g[o.key] or {}), 1, "global " .. o.key .. " on one page")
    end
    for key in pairs(g) do assert(model.globals[key], "global page shows unknown " .. key) end
    local v, f = shown({ virtual = true }), shown({ failover = true })
    local kept = 0
    for _, o in ipairs(model.blocks) do
        if F.KEPT[o.key] then
            kept = kept + 1
            assert(not v[o.key] and not f[o.key], o.key .. " is kept, not shown")
        elseif model.failover_uses[o.key] and (o.key == "start_cmd" or o.key == "stop_cmd") then
            t.eq(#(f[o.key] or {}), 1, "failover " .. o.key)
            assert(not v[o.key], o.key .. " is a failover block's only")
        else
            t.eq(#(v[o.key] or {}), 1, "virtual " .. o.key .. " on the virtual page")
        end
    end
    t.eq(kept, 3, "client_monitor, master, dirs kept")
    for key in pairs(f) do
        assert(key == "name" or model.failover_uses[key], "the failover page shows " .. key .. ", which fos does not use")
    end
    local s = shown({ server = true })
    for _, o in ipairs(model.servers) do t.eq(#(s[o.key] or {}), 1, "server " .. o.key) end
    assert(s.name and v.name and f.name, "each block page has its name")
end)

-- Every page's fields, from a model table and back through lvscf.check, give the same table.
t.test("form-to-model-round-trips-for-every-option", function()
    -- round(name, obj): obj's page through values() and read() into an empty table: each option shown comes back.
    local function round(name, obj)
        local vals, copy = F.values(name, obj), {}
        local ok, errs = F.read(name, vals, copy)
        if not ok then
            local list = {}
            for k, e in pairs(errs) do list[#list + 1] = k .. ": " .. e end
            error(name .. ": " .. table.concat(list, "; "))
        end
        local scope = F.pages[name].scope
        local tbl = scope == "global" and model.globals or scope == "server" and model.servers or model.blocks
        for _, sec in ipairs(F.pages[name].sections) do
            for _, key in ipairs(sec[2]) do
                local o = tbl[key]
                if not (scope == "global" and (F.READONLY[key] or key:match("^webui"))) then
                    local same, where = t.same(copy[key], obj[key], name .. "." .. key)
                    assert(same, where)
                    if o and o.device then t.eq(copy[o.device], obj[o.device], name .. "." .. o.device) end
                else
                    t.eq(copy[key], nil, name .. ": read-only " .. key .. " is not taken from the form")
                end
            end
        end
        return vals
    end
    local g = {}
    for k, v in pairs(every) do if k ~= "virtuals" and k ~= "failovers" then g[k] = v end end
    local n = 0
    for _, page in ipairs({ "global", "redundancy", "advanced" }) do round(page, g); n = n + 1 end
    for _, v in ipairs(every.virtuals) do
        local vals = round("virtual", v)
        t.eq(vals.address, v.address, "the VIP input"); t.eq(vals.device, v.device, "the device input")
        for _, rs in ipairs(v.servers) do round("server", rs); n = n + 1 end
    end
    for _, b in ipairs(every.failovers) do round("failover", b) end
    assert(n >= 6, n)
    -- Texts a person may type: they become what the reader reads.
    local vals = F.values("virtual", every.virtuals[1])
    t.eq(vals.send, [["HELO test\r\n\t\"x\" \\ \\q"]], "send shown with its escapes, as lvs.cf writes it")
    t.eq(vals.use_regex, "1", "a checked box"); t.eq(vals.weight_ramp, nil, "an unchecked box")
    t.eq(F.values("global", g).nat_router_device, "eth1:1", "nat_router's device input")
end)

t.test("a-bad-value-gets-the-reader's-problem-next-to-its-field", function()
    local v = every.virtuals[2]
    local vals = F.values("virtual", v)
    vals.port, vals.timeout, vals.fwmark = "70000", "x", "07"
    local copy = {}
    for k, x in pairs(v) do copy[k] = x end
    local ok, errs = F.read("virtual", vals, copy)
    t.eq(ok, nil, "refused")
    t.eq(errs.port, "out of range: 70000 (must be 1..65535)", "the reader's text")
    assert(errs.timeout and errs.fwmark:find("leading zero", 1, true), tostring(errs.fwmark))
    t.eq(copy.port, v.port, "the block is not changed where it failed")
    local html = P.text(F.render("virtual", vals, errs, { csrf = "tok", action = "/virtual/x" }))
    assert(html:find('<input id="f-port" name="port" aria-describedby="f-port-error" aria-invalid="true" value="70000"',
        1, true), html:match('<input id="f%-port"[^>]*>'))
    assert(html:find('<span class="error" id="f-port-error">out of range: 70000 (must be 1..65535)</span>', 1, true),
        "the message in the element the input names")
    assert(html:find('<a href="#f-port">port: out of range', 1, true), "the summary links to the field")
    assert(html:find('<input type="hidden" name="csrf" value="tok">', 1, true), "the form's CSRF field")
    assert(html:find('<button type="submit" name="action" value="save">', 1, true), "the save button")
    for _, bad in ipairs({ "1\n2", "a\rb", "x\0y" }) do
        vals = F.values("virtual", v)
        vals.send_program = bad
        ok, errs = F.read("virtual", vals, {})
        assert(not ok and errs.send_program:find("line break or NUL", 1, true), bad)
    end
    vals = F.values("virtual", v)
    vals.address, vals.device = "", ""
    ok, errs = F.read("virtual", vals, {})
    t.eq(ok, nil, "no VIP")
    t.eq(errs.address, "a value is required", "the VIP is required")
end)

t.test("typed-values-are-escaped-and-kept", function()
    local vals = F.values("server", every.virtuals[1].servers[1])
    vals.name, vals.address = '<script>alert("x")</script>', "\"><img src=x onerror=1>"
    local html = P.text(F.render("server", vals, { address = "<b>bad</b>" }, { csrf = "c", action = "/a" }))
    assert(not html:find("<script>", 1, true) and not html:find("<img", 1, true) and not html:find("<b>bad", 1, true), html)
    assert(html:find('value="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"', 1, true), "the typed name is kept, escaped")
    t.eq(P.text(P.t("{{1}}{{2}}", { "<&'\">", P.t("<i>{{1}}</i>", { "<" }) })), "&lt;&amp;&#39;&quot;&gt;<i>&lt;</i>",
        "text escaped, markup not")
    t.eq(P.url("a b/c"), "a%20b%2Fc", "a name as a path segment")
    local page = P.frame({ name = "global", title = "Global <settings>", body = P.t("<p>x</p>"), user = "piranha",
        csrf = "k", insecure = true, pending = 3 })
    assert(page:find('<html lang="en">', 1, true) and page:find("<title>Global &lt;settings&gt; — luaha</title>", 1, true))
    assert(page:find('<a class="skip" href="#main">', 1, true) and page:find('<main id="main"', 1, true), "skip link")
    assert(page:find('<a href="/global" aria-current="page">', 1, true), "the current page in the navigation")
    assert(page:find("Plain HTTP", 1, true) and page:find("3 changed lines not applied", 1, true), "banners")
    assert(not page:find("<script>", 1, true) and page:find('<script src="/assets/app.js" defer></script>', 1, true),
        "no inline script")
end)

-- Redundancy: the presets beside keepalive and deadtime, and the heartbeat_key file checked on the page.
t.test("redundancy-has-presets-and-checks-the-key-file", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(luaha.proc.run({ "mkdir", "-m", "0700", dir }, { timeout = 10 }).status == 0)
    local function put(name, text, mode)
        local f = assert(io.open(dir .. "/" .. name, "w"))
        f:write(text)
        f:close()
        assert(luaha.proc.run({ "chmod", mode, dir .. "/" .. name }, { timeout = 10 }).status == 0)
        return dir .. "/" .. name
    end
    local m = assert(lvscf.parse("serial_no = 1\nprimary = 192.0.2.210\n", "r.cf"))
    local vals = F.values("redundancy", m)
    local function page() return P.text(F.render("redundancy", vals, nil, { csrf = "c", action = "/redundancy" })) end
    local html = page()
    for _, p in ipairs({ "2 5", "0.2 1", "0.05 0.2" }) do
        assert(html:find('<button type="submit" name="preset" value="' .. p .. '">', 1, true), "preset " .. p)
    end
    assert(html:find('<p class="key-check bad" id="key-check" role="status">no heartbeat_key', 1, true), "no key")
    local cases = {
        { put("hex", ("0f"):rep(32) .. "\n", "600"), "ok", ": a key, mode 0600" },
        { put("raw", ("k"):rep(32), "600"), "ok", ": a key, mode 0600" },
        { put("open", ("0f"):rep(32), "644"), "bad", "mode 0644 lets others read it" },
        { put("short", ("0f"):rep(31), "600"), "bad", "not a key" },
        { dir .. "/none", "bad", "No such file or directory" },
        { "/dev/zero", "bad", "not a key file" },
    }
    for _, c in ipairs(cases) do
        vals.heartbeat_key = c[1]
        local cls, text = page():match('<p class="key%-check (%a+)" id="key%-check" role="status">([^<]*)</p>')
        assert(cls, "the check's line")
        t.eq(cls, c[2], c[1])
        assert(text:find(c[3], 1, true), c[1] .. ": " .. text)
    end
    -- A preset posted without JavaScript sets both fields; the others are read as they came.
    vals = F.values("redundancy", m)
    vals.preset, vals.keepalive, vals.deadtime = "0.05 0.2", "2", "5"
    local obj = {}
    assert(F.read("redundancy", vals, obj))
    t.eq(obj.keepalive, 0.05, "keepalive from the preset"); t.eq(obj.deadtime, 0.2, "deadtime from the preset")
    vals.preset, vals.keepalive = "1 1", "3"
    assert(F.read("redundancy", vals, obj))
    t.eq(obj.keepalive, 3, "an unknown preset is ignored")
    assert(luaha.proc.run({ "rm", "-rf", dir }, { timeout = 10 }).status == 0)
end)

luaha.exit(t.failures() == 0 and 0 or 1)
