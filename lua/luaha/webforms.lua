-- lua/luaha/webforms.lua: the web UI's forms, built from lvscf's option tables: model to form, form to model.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Every option of lvscf.globals, lvscf.blocks and lvscf.servers has one field on one form, or is
kept but not shown (KEPT: client_monitor, master, dirs); tests/lua/webforms.lua enumerates them.
A global option no page names goes to the Advanced page's last section by itself, read only when
READONLY says so, so that an option added to the tables later is never lost from the UI.

A field's text is the option's value as lvs.cf writes it (lvscf.format: quotes and escapes
included), and the text posted back is checked by lvscf.check, the reader's own check: the
message next to a field is the reader's PROBLEM text. Two options are two inputs: `address` of a
virtual (address, device) and `nat_router` (nat_router, nat_router_device), joined with a space
for the check. Booleans are checkboxes; an empty text unsets the option (the model gets its default).

Markup (the browser test's contract): a field's name is its lvs.cf key (a block's name: `name`),
its id f-KEY, its error f-KEY-error, named by the input's aria-describedby, with aria-invalid.
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local model = require "luaha.lvscfmodel"
local P = require "luaha.webpages"

local F = {}

F.KEPT = { client_monitor = true, master = true, dirs = true }
F.READONLY = { serial_no = true, status_listen = true, status_passwd = true }

local function readonly(key) return F.READONLY[key] or key:match("^webui") ~= nil end

F.MAX_FIELD = 4096          -- bytes of one field's text (send/expect stop at 255 in the check)

--[[
The pages: scope (what lvscf.check calls it), the option table, and sections of keys. The
failover page has the keys a failover block uses (lvscfmodel.failover_uses) that are shown.
]]
F.pages = {
    global = { scope = "global", title = "Global settings", sections = {
        { "Routers", { "primary", "primary_private", "service" } },
        { "Network", { "network", "nat_router", "nat_nmask" } },
        { "IPVS timeouts (s, 0 keeps the kernel's)", { "tcp_timeout", "tcpfin_timeout", "udp_timeout" } } } },
    redundancy = { scope = "global", title = "Redundancy", sections = {
        { "Backup router", { "backup_active", "backup", "backup_private", "heartbeat" } },
        { "Heartbeat", { "heartbeat_port", "keepalive", "deadtime", "heartbeat_key" } },
        { "Links and connection sync", { "monitor_links", "syncdaemon", "syncd_iface", "syncd_id" } },
        { "Gratuitous ARP", { "garp_count", "garp_interval", "garp_refresh" } } } },
    advanced = { scope = "global", title = "Advanced", sections = {
        { "Commands", { "active_cmd", "inactive_cmd", "hard_shutdown", "rsh_command" } },
        { "Other Piranha options", { "debug_level", "ipvsadm", "sync", "reservation_conflict_action",
            "primary_shared", "backup_shared" } },
        { "luaha extensions", { "reconcile", "heartbeat_rt_priority", "heartbeat_lock_memory", "log_idents",
            "standby_table" } },
        { "Anycast directors (luaha extension: every director announces its VIPs over BGP)", { "cluster", "bgp_table",
            "bgp_proto", "drain_time", "anycast_change_interval" } },
        { "Read only (a restart applies them)", { "serial_no", "status_listen", "status_passwd", "webui",
            "webui_tls_cert", "webui_tls_key", "webui_insecure", "webui_session_idle" } } } },
    virtual = { scope = "virtual", title = "Virtual server", block = true, sections = {
        { "Service", { "name", "active", "address", "vip_nmask", "port", "protocol", "fwmark", "sorry_server" } },
        { "Scheduling", { "scheduler", "persistent", "pmask", "load_monitor", "quiesce_server", "weight_ramp",
            "announce_min_healthy" } },
        { "Health check", { "timeout", "reentry", "rise", "fall", "check_interval", "send_program", "send",
            "expect", "use_regex", "half_open" } } } },
    failover = { scope = "failover", title = "Failover service", block = true, sections = {
        { "Service", { "name", "active", "address", "vip_nmask", "port", "protocol" } },
        { "Commands", { "start_cmd", "stop_cmd" } },
        { "Health check", { "timeout", "reentry", "rise", "fall", "check_interval", "send_program", "send",
            "expect", "use_regex" } } } },
    server = { scope = "server", title = "Real server", block = true, sections = {
        { "Real server", { "name", "address", "port", "weight", "active" } } } },
}

local TABLES = { global = model.globals, virtual = model.blocks, failover = model.blocks, server = model.servers }

-- Global options no page names: the Advanced page's last section shows them (read only or not).
do
    local named = {}
    for _, page in pairs(F.pages) do
        if page.scope == "global" then
            for _, s in ipairs(page.sections) do for _, k in ipairs(s[2]) do named[k] = true end end
        end
    end
    local rest = {}
    for _, o in ipairs(model.globals) do if not named[o.key] then rest[#rest + 1] = o.key end end
    if #rest > 0 then table.insert(F.pages.advanced.sections, { "Other options", rest }) end
end

-- Labels where the key alone would not say it; the others are the key in words.
local LABELS = {
    primary = "Primary router's address", primary_private = "Primary router's private address",
    backup = "Backup router's address", backup_private = "Backup router's private address",
    backup_active = "This pair has a backup router", heartbeat = "Send heartbeats",
    keepalive = "Heartbeat interval (s)", deadtime = "Assume dead after (s)", heartbeat_port = "Heartbeat port",
    nat_router = "NAT router address", nat_nmask = "NAT router netmask", network = "Network type",
    name = "Name", active = "Active", address = "Address", vip_nmask = "Virtual address netmask",
    sorry_server = "Sorry server", fwmark = "Firewall mark (0: none)", persistent = "Persistence (s, 0: none)",
    pmask = "Persistence netmask", timeout = "Check timeout (s)", reentry = "Re-entry time (s)",
    quiesce_server = "Quiesce server", send_program = "Sending program (%h address, %p port)",
    send = "Send", expect = "Expect", use_regex = "Expect is a regular expression",
    half_open = "Half-open (SYN) check only", weight_ramp = "Raise the weight slowly after re-entry",
    rise = "Checks to come in (empty: re-entry / timeout)", fall = "Failures to go out",
    check_interval = "Check interval (s, empty: the timeout)", monitor_links = "Monitor NIC links",
    cluster = "Cluster kind (pair or anycast)", bgp_table = "Routing table BIRD learns the VIPs from",
    bgp_proto = "Route protocol number of the announcements", drain_time = "Drain time before a director stops (s)",
    anycast_change_interval = "Least time between health changes of the table (s)",
    announce_min_healthy = "Healthy real servers needed to announce (anycast)",
}

-- The schedulers Piranha's lvs knows; the others are marked (spec 3.3).
local PIRANHA_SCHEDULERS = { rr = true, wrr = true, lc = true, wlc = true, lblc = true, lblcr = true, dh = true, sh = true }

local DEVICE_LABEL = { address = "Device (e.g. eth0:1)", nat_router = "NAT router device" }

local function label_of(key)
    return LABELS[key] or (key:gsub("_", " "):gsub("^%l", string.upper))
end

-- option(page, key): the option table entry of key on page, or nil for the block's name.
local function option(page, key)
    return TABLES[page.scope][key]
end

-- The text lvs.cf would hold for value v of option o (lvscf.format, without the device of an ipdev).
local function text_of(page, o, v)
    if v == nil then return "" end
    if o.type == "ipdev" then return v end
    if o.type == "list" then return table.concat(v, " ") end
    local text = lvscf.format(page.scope, o.key, v)
    return text or tostring(v)
end

--[[
values(page_name, obj): the form texts of a model table (the model for a global page, a block or a
server), field name -> text; booleans are "1" or nil (an unchecked box).
]]
function F.values(name, obj)
    local page = F.pages[name]
    local out = {}
    for _, s in ipairs(page.sections) do
        for _, key in ipairs(s[2]) do
            local o = option(page, key)
            if key == "name" then
                out.name = obj.name
            elseif o.type == "bool" or o.type == "flag" then
                local v = obj[key]
                if v == nil then v = o.default end
                out[key] = v and v ~= 0 and "1" or nil
            else
                out[key] = text_of(page, o, obj[key])
                if o.type == "ipdev" then out[o.device] = obj[o.device] end
            end
        end
    end
    return out
end

--[[
The presets beside keepalive and deadtime (spec 3.3), as "keepalive deadtime". With JavaScript a
preset fills the two fields (app.js); without, it is a submit button and read() takes its values:
the form is saved to the draft with them.
]]
F.PRESETS = {
    { "2 5", "Piranha's defaults: 2 / 5 s" },
    { "0.2 1", "fast: 0.2 / 1 s" },
    { "0.05 0.2", "sub-second: 0.05 / 0.2 s" },
}

local function presets()
    local buttons = {}
    for i, p in ipairs(F.PRESETS) do
        buttons[i] = P.t('<button type="submit" name="preset" value="{{1}}">{{2}}</button>', { p[1], p[2] })
    end
    return P.t('<div class="field presets" id="presets"><span class="label">Presets (keepalive / deadtime)</span>'
        .. ' {{1}} <span class="help">without JavaScript a preset saves the form to the draft</span></div>',
        { P.join(buttons, " ") })
end

--[[
key_check(path): what the heartbeat_key file is, as a sentence and whether it is good: the key
as the heartbeat reads it (heartbeat.read_key: 32 raw bytes or 64 hexadecimal digits), and its
mode (0600: nobody but its owner may read a key). Only a regular file of at most 1 KiB is read
(stat first), since the path was typed into a form.
]]
function F.key_check(path)
    if not path or path == "" then return false, "no heartbeat_key: heartbeats are not authenticated" end
    local st, err = require("luaha.core.file").stat(path)
    if not st then return false, err end
    if st.type ~= "file" or st.size > 1024 then
        return false, ("%s: a %s of %d bytes, not a key file"):format(path, st.type, st.size)
    end
    local ok, why = require("luaha.heartbeat").read_key(path)
    if not ok then return false, why end
    if st.mode & 0x3f ~= 0 then
        return false, ("%s: a key, but mode %04o lets others read it (chmod 600 %s)"):format(path, st.mode, path)
    end
    return true, ("%s: a key, mode %04o"):format(path, st.mode)
end

-- What follows a field on its page: the presets after deadtime, the key file's check after heartbeat_key.
local AFTER = {
    deadtime = function() return presets() end,
    heartbeat_key = function(vals)
        local ok, text = F.key_check(vals.heartbeat_key)
        return P.t('<p class="key-check {{1}}" id="key-check" role="status">{{2}}</p>', { ok and "ok" or "bad", text })
    end,
}

--[[
here(req): this host's address to pre-fill `primary` with in setup mode (as Piranha's page took
the address the browser connected to): the Host the browser used when it is an address other
than loopback, else the first global IPv4 address of this host, else nil.
]]
function F.here(req)
    local host = req and req.headers and req.headers.host or ""
    local addr = host:match("^%[([%x:]+)%]") or host:match("^([%d%.]+):?%d*$")
    if addr and not addr:match("^127%.") and addr ~= "::1" then return addr end
    for _, a in ipairs(luaha.link.addrs() or {}) do
        if a.family == "inet" and a.scope == "global" then return (a.address:match("^[^/]+")) end
    end
    return nil
end

-- One field's markup: label, input (or select, radios, checkbox), help, error.
local function field(page, key, vals, errs)
    local o = key ~= "name" and option(page, key)
    local id, err = "f-" .. key, errs[key]
    local ro = o and page.scope == "global" and readonly(key)
    local common = P.attrs({ { "id", id }, { "name", key }, { "aria-describedby", err and (id .. "-error") },
        { "aria-invalid", err and "true" }, { "readonly", ro or nil } })
    local errtext = P.t('<span class="error" id="{{1}}-error">{{2}}</span>', { id, err })
    local hint = o and (o.ext and " (luaha only)" or "") or ""
    local default = o and o.default ~= nil and type(o.default) ~= "boolean"
        and ("default " .. (type(o.default) == "number" and model.number(o.default) or tostring(o.default))) or nil
    if o and (o.type == "bool" or o.type == "flag") then
        return P.t('<div class="field check"><input type="checkbox" value="1"{{common}}{{checked}}{{dis}}>'
            .. ' <label for="{{id}}">{{label}}{{hint}}</label> {{err}}</div>', { common = common, id = id,
            checked = vals[key] and P.raw(" checked") or nil, dis = ro and P.raw(" disabled") or nil,
            label = label_of(key), hint = hint, err = errtext })
    end
    if o and o.type == "enum" and not ro then
        local opts = {}
        if o.default == nil then opts[1] = P.t('<option value="">(not set)</option>') end
        for _, v in ipairs(o.values) do
            opts[#opts + 1] = P.t('<option value="{{1}}"{{2}}>{{1}}{{3}}</option>', { v, vals[key] == v and P.raw(" selected")
                or nil, key == "scheduler" and not PIRANHA_SCHEDULERS[v] and " (luaha only: Piranha cannot read it)" or nil })
        end
        return P.t('<div class="field"><label for="{{id}}">{{label}}{{hint}}</label> <select{{common}}>{{opts}}</select>'
            .. ' <span class="help">{{default}}</span> {{err}}</div>', { id = id, label = label_of(key), hint = hint,
            common = common, opts = P.join(opts, ""), default = default, err = errtext })
    end
    local input = P.t('<input{{common}} value="{{v}}"{{mode}}>', { common = common, v = vals[key] or "",
        mode = o and (o.type == "int" or o.type == "port" or o.type == "secs")
            and P.attrs({ { "inputmode", o.frac and "decimal" or "numeric" } }) or nil })
    local device
    if o and o.type == "ipdev" then
        local did = "f-" .. o.device
        local derr = errs[o.device]
        device = P.t(' <label for="{{id}}">{{label}}</label> <input{{attrs}} value="{{v}}"> {{err}}', {
            id = did, label = DEVICE_LABEL[key] or "Device", v = vals[o.device] or "",
            attrs = P.attrs({ { "id", did }, { "name", o.device }, { "aria-describedby", derr and (did .. "-error") },
                { "aria-invalid", derr and "true" } }),
            err = P.t('<span class="error" id="{{1}}-error">{{2}}</span>', { did, derr }) })
    end
    return P.t('<div class="field"><label for="{{id}}">{{label}}{{hint}}</label> {{input}} <span class="help">{{default}}</span>'
        .. ' {{err}}{{device}}</div>', { id = id, label = label_of(key), hint = hint, input = input,
        default = default, err = errtext, device = device })
end

--[[
render(name, vals, errs, ctx): a page's form (markup): vals as values() gives them or as typed,
errs field -> PROBLEM (a summary at the top links to each), ctx: csrf, action (the form's path),
buttons (a list of { action, label [, confirm] }: P.button's), extra (markup after the sections,
e.g. hidden fields).
]]
function F.render(name, vals, errs, ctx)
    local page = F.pages[name]
    errs = errs or {}
    local summary = {}
    for _, s in ipairs(page.sections) do
        for _, key in ipairs(s[2]) do
            local o = key ~= "name" and option(page, key)
            for _, k in ipairs({ key, o and o.device }) do
                if errs[k] then
                    summary[#summary + 1] = P.t('<li><a href="#f-{{1}}">{{2}}: {{3}}</a></li>', { k, k, errs[k] })
                end
            end
        end
    end
    for _, e in ipairs(errs) do summary[#summary + 1] = P.t("<li>{{1}}</li>", { e }) end   -- whole-file errors
    local sections = {}
    for _, s in ipairs(page.sections) do
        local fields = {}
        for _, key in ipairs(s[2]) do
            fields[#fields + 1] = field(page, key, vals, errs)
            if AFTER[key] and name == "redundancy" then fields[#fields + 1] = AFTER[key](vals) end
        end
        sections[#sections + 1] = P.t("<fieldset><legend>{{1}}</legend>{{2}}</fieldset>", { s[1], P.join(fields) })
    end
    local buttons = {}
    for _, b in ipairs(ctx.buttons or { { "save", "Save to draft" } }) do
        buttons[#buttons + 1] = P.button(b[1], b[2], nil, b[3])
    end
    return P.t("{{summary}}{{form}}", {
        summary = #summary > 0 and P.t('<div class="error-summary" role="alert" tabindex="-1" id="errors"><h2>'
            .. 'Not saved: please correct</h2><ul>{{1}}</ul></div>', { P.join(summary, "") }) or nil,
        form = P.form(ctx.action, ctx.csrf, P.t('{{1}}{{2}}<p class="buttons">{{3}}</p>',
            { ctx.extra, P.join(sections), P.join(buttons, " ") }), "edit") })
end

--[[
read(name, fields, obj): checks the posted fields of page name and sets each shown, writable
option of obj (a copy of the model table, changed in place) from them. Returns true, or nil and
errs (field -> PROBLEM). Every field is checked, so that all problems are shown at once.
]]
function F.read(name, fields, obj)
    local page = F.pages[name]
    local errs, bad = {}, false
    if name == "redundancy" and fields.preset then     -- a preset's button, posted without JavaScript
        for _, p in ipairs(F.PRESETS) do
            if fields.preset == p[1] then fields.keepalive, fields.deadtime = p[1]:match("^(%S+) (%S+)$") end
        end
    end
    local function fail(k, why) errs[k], bad = why, true end
    for _, s in ipairs(page.sections) do
        for _, key in ipairs(s[2]) do
            local o = key ~= "name" and option(page, key)
            local text = fields[key] or ""
            if #text > F.MAX_FIELD then
                fail(key, ("longer than %d bytes"):format(F.MAX_FIELD))
            elseif text:find("[\r\n%z]") then
                fail(key, "a line break or NUL cannot be in a value")
            elseif key == "name" then
                local v, why = lvscf.check(page.scope, "name", text)
                if v and v:find("/", 1, true) then v, why = nil, "a name in the web UI cannot hold a /" end
                if v then obj.name = v else fail(key, why) end
            elseif page.scope == "global" and readonly(key) then    -- luacheck: ignore 542
                -- shown, never taken from the form
            elseif o.type == "bool" or o.type == "flag" then
                obj[key] = lvscf.check(page.scope, key, fields[key] == "1" and "1" or "0")
            else
                local dev = o.type == "ipdev" and (fields[o.device] or "") or nil
                if dev and dev:find("[\r\n%z]") then fail(o.device, "a line break or NUL cannot be in a value") end
                text = text:match("^%s*(.-)%s*$")
                if dev then dev = dev:match("^%s*(.-)%s*$") end
                if text == "" and (not dev or dev == "") then
                    if o.required then fail(key, "a value is required") else obj[key] = o.default end
                    if dev then obj[o.device] = nil end
                else
                    local v, why = lvscf.check(page.scope, key, dev and (text .. " " .. dev) or text)
                    if v == nil then
                        fail(key, why)
                    elseif dev then
                        obj[key], obj[o.device] = v[key], v[o.device]
                    else
                        obj[key] = v
                    end
                end
            end
        end
    end
    if bad then return nil, errs end
    return true
end

return F
