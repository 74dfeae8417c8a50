-- lua/luaha/routerconf.lua: what a configuration means to a router: role, channels, the heartbeat part's settings, checks.
-- SPDX-License-Identifier: GPL-2.0-or-later
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local lvs = require "luaha.lvs"
local heartbeat = require "luaha.heartbeat"
local vips = require "luaha.vips"
local model = require "luaha.lvscfmodel"
local lvscfcheck = require "luaha.lvscfcheck"

local ipvs, link = luaha.ipvs, luaha.link

local conf = {}

-- local_addresses(): the set of this host's addresses, without prefix.
local function local_addresses()
    local set = {}
    for _, a in ipairs(link.addrs() or {}) do set[a.address:match("^[^/]+")] = true end
    return set
end

--[[
role_of(model [, forced]): "anycast" with cluster = anycast (no partner: active at once);
"primary" iff this host has the primary address (any address, any label; piranha.md 1.2),
"backup" iff it has the backup one, or forced; nil and why otherwise.
]]
function conf.role_of(m, forced)
    if m.cluster == "anycast" then return "anycast" end
    if forced then return forced end
    local here = local_addresses()
    if m.primary and here[m.primary] then return "primary" end
    if m.backup and here[m.backup] then return "backup" end
    if not m.primary and not m.backup_active then return "primary" end
    return nil, ("this host has neither the primary address %s nor the backup address %s"):format(
        tostring(m.primary), tostring(m.backup))
end

-- channels_of(model, role): the heartbeat channels, {address =, peer =}: the public pair, and the private one if set.
function conf.channels_of(m, role)
    if not m.backup_active then return {} end
    local own, peer = role, role == "primary" and "backup" or "primary"
    local list = { { address = m[own], peer = m[peer] } }
    local own_private, peer_private = m[own .. "_private"], m[peer .. "_private"]
    if own_private and peer_private and own_private ~= m[own] then
        list[2] = { address = own_private, peer = peer_private }
    end
    return list
end

-- The heartbeat part's share of a model: what a reload may change while it runs (pulsepart's update).
-- An anycast director's VIPs are on lo, where no gratuitous ARP is sent: the upstream router routes them.
function conf.pulse_update(m, digest)
    local anycast = m.cluster == "anycast"
    return { serial = m.serial_no, digest = digest, vips = vips.of(m), keepalive = m.keepalive,
        deadtime = m.deadtime, hard_shutdown = m.hard_shutdown,
        garp = { count = anycast and 0 or m.garp_count, interval = m.garp_interval,
            refresh = anycast and 0 or m.garp_refresh } }
end

-- pulse_config(r): the heartbeat part's configuration message for router r (started: role, channels, digest).
function conf.pulse_config(r)
    local m = r.model
    local cfg = conf.pulse_update(m, r.digest)
    -- An anycast director's heartbeat part is a primary alone: active at once, holding the VIPs.
    cfg.role = r.role == "anycast" and "primary" or r.role
    cfg.channels, cfg.port, cfg.key = r.channels, m.heartbeat_port, r.key
    cfg.forceactive, cfg.monitor_links = r.forceactive, m.monitor_links
    cfg.realtime, cfg.lock_memory = m.heartbeat_rt_priority, m.heartbeat_lock_memory
    return cfg
end

--[[
The options a running router cannot take from a reload: they need a restart (the heartbeat
part's sockets and role, the listeners, the kind of service). A reload that changes one says so.
]]
local needs_restart = { "service", "primary", "backup", "primary_private", "backup_private", "backup_active",
    "cluster", "bgp_table", "bgp_proto",
    "heartbeat_port", "heartbeat_key", "monitor_links", "status_listen", "status_passwd",
    "heartbeat_rt_priority", "heartbeat_lock_memory", "log_idents",
    "webui", "webui_tls_cert", "webui_tls_key", "webui_insecure", "webui_session_idle" }

-- not_live(old, new): the names of the options that changed and need a restart, in a list.
function conf.not_live(old, new)
    local list = {}
    for _, name in ipairs(needs_restart) do
        if old[name] ~= new[name] then list[#list + 1] = name end
    end
    return list
end

--[[
listener(model [, webui]): where the HTTP listener listens, "ADDR:PORT", and what lvshttp.start
takes: { passwd = the users file, webui =, tls = { cert =, key = } or nil, insecure =,
session_idle =, beyond = the address is beyond loopback }; nil without a listener. It is
status_listen, or with webui = 1 and none 127.0.0.1:3636. webui ({ listen =, passwd = }, from
--webui ADDR:PORT) is the UI for a file that sets neither, its users file status_passwd or
webui.passwd. The model may be {} (setup mode: no lvs.cf yet).
]]
function conf.listener(m, webui)
    local listen, passwd, ui = m.status_listen, m.status_passwd, m.webui
    if not listen and ui then listen = model.WEBUI_LISTEN end
    if not listen and webui then listen, passwd, ui = webui.listen, passwd or webui.passwd, true end
    if not listen then return nil end
    local tls = m.webui_tls_cert and m.webui_tls_key and { cert = m.webui_tls_cert, key = m.webui_tls_key } or nil
    local addr = listen:match("^%[([^%]]+)%]:%d+$") or listen:match("^([^:]+):%d+$")
    return listen, { passwd = passwd, webui = ui or false, tls = tls, insecure = m.webui_insecure or false,
        session_idle = m.webui_session_idle or model.globals.webui_session_idle.default,
        beyond = addr ~= nil and not lvscfcheck.loopback(addr),
        sessions = webui and webui.sessions, draft = webui and webui.draft }
end

--[[
listener_errors(model, path [, webui]): what would stop the listener of listener(model, webui),
as "PATH: ..." in a list: the address and users file (lvshttp.check), a TLS pair that is not
usable (read and matched as the listener will), the UI in plain HTTP beyond loopback (from
--webui; lvs.cf's own options are refused by its reader already). Reads the files; no wait.
]]
function conf.listener_errors(m, path, webui)
    local errors = {}
    local listen, hopts = conf.listener(m, webui)
    if not listen then return errors end
    local ok, err = require("luaha.lvshttp").check(listen, hopts.passwd)
    if not ok then errors[#errors + 1] = ("%s: %s"):format(path, err) end
    if hopts.tls then
        ok, err = luaha.http.check_tls(hopts.tls.cert, hopts.tls.key)
        if not ok then
            errors[#errors + 1] = ("%s: %s: %s"):format(path, err:match("^key") and "webui_tls_key" or "webui_tls_cert", err)
        end
    end
    if hopts.webui and hopts.beyond and not hopts.tls and not hopts.insecure then
        errors[#errors + 1] = ("%s: webui: the UI would listen beyond loopback (%s) in plain HTTP: set webui_tls_cert"
            .. " and webui_tls_key, or webui_insecure = 1"):format(path, listen)
    end
    return errors
end

--[[
The blocks whose services check has normalized, with the globals they were made with (lvs.service
reads cluster, lvs.dest network): the models are read-only, and the parse cache gives a reload
the very table of a block whose text did not change, so a reload of 37 000 real servers that
changes 1% of them checks the services of the 370 blocks that changed, not 2300 again. One weak
entry a block: no table is kept. Within a check, a destination is normalized once for each
address, ports and weight (its check depends on nothing else; the forwarding method is the
model's): a reload that changes a server in every block checks 2300 services and the 1600
distinct destinations, not 37 000 of them (26 MB of garbage, and memory first touched costs
about 0.14 s a megabyte in UML). The loop turns every CHUNK blocks: about a millisecond each.
]]
local checked = setmetatable({}, { __mode = "k" })
local CHUNK = 64

-- check_table(m): raises if the table lvs.desired(m) gives is not one ipvs takes (ipvs.normalize's error). Waits.
local function check_table(m)
    local globals = tostring(m.network) .. "\0" .. tostring(m.cluster)
    local seen, todo = {}, 0
    for _, v in ipairs(m.virtuals) do
        if v.active and checked[v] ~= globals then
            local s = lvs.service(m, v)
            s.dests = {}
            for _, rs in ipairs(v.servers) do
                local k = rs.active and ("%s\0%s\0%s\0%s"):format(rs.address, rs.port, v.port, rs.weight)
                if k and not seen[k] then
                    seen[k] = true
                    s.dests[#s.dests + 1] = lvs.dest(m, v, rs, rs.weight)
                end
            end
            ipvs.normalize(s)
            checked[v] = globals
            todo = todo + 1
            if todo % CHUNK == 0 then luaha.breathe() end
        end
    end
    return true
end

--[[
check(model, path [, cache]): what the daemon does with a model before it touches anything, so
that what --check accepts the daemon runs: the written text and its digest (with the parse
cache the model was read with, the text of unchanged blocks is not written again), the table it
would program, the status listener's settings and password file, the TLS certificate and key
(read and matched, as the listener will), the heartbeat key file.
webui: --webui's { listen =, passwd = } (listener). Returns the key (or false), the digest; or
nil and a list of errors naming the file.
]]
function conf.check(m, path, cache, webui)
    local errors = {}
    local function try(what, f, ...)
        local ok, res, err = pcall(f, ...)
        if not ok then
            errors[#errors + 1] = ("%s: %s: %s"):format(path, what, tostring(res))
        elseif res == nil and err then
            errors[#errors + 1] = ("%s: %s"):format(path, err)
        end
        return ok and res
    end
    local digest = try("the configuration cannot be written back", function()
        return heartbeat.digest(lvscf.write_parts(m, cache))
    end)
    try("the IPVS table", check_table, m)
    for _, e in ipairs(conf.listener_errors(m, path, webui)) do errors[#errors + 1] = e end
    local key = false
    if m.heartbeat_key then key = try("heartbeat_key", heartbeat.read_key, m.heartbeat_key) end
    local active = 0
    for _, b in ipairs(m.service == "fos" and m.failovers or m.virtuals) do
        if b.active then active = active + 1 end
    end
    if active == 0 then errors[#errors + 1] = ("%s: no active %s services defined"):format(path, m.service) end
    if #errors > 0 then return nil, errors end
    return key, digest
end

--[[
dry_run(model): prints the table the router would program (in lvs mode; a fos router programs
none) as ipvsadm -Ln shows it, and the operations that would take the kernel's table there.
Returns the exit status.
]]
function conf.dry_run(m)
    local desired = m.service == "fos" and {} or lvs.desired(m)
    local ok, info = pcall(ipvs.info)
    if not ok or not info then
        io.stderr:write("ipvs: the kernel cannot be read: ", (tostring(info):gsub("^.-:%d+: ", "")), "\n")
        info = { version = "1.2.1", conn_tab_size = 4096 }
    end
    io.write(ipvs.format(desired, info))
    if m.service == "fos" then print("# service = fos: no IPVS service is programmed") end
    if m.cluster == "anycast" then
        local seen = {}
        for _, v in ipairs(m.virtuals) do
            if v.active and not seen[v.address] then
                seen[v.address] = true
                local route = require("luaha.anycast").route(m, v.address)
                print(("# anycast: would announce blackhole %s table %d proto %d (announce_min_healthy %d)"):format(
                    route.dst, route.table, route.protocol, v.announce_min_healthy))
            end
        end
    end
    local rok, report, err = pcall(ipvs.apply, desired, { dry_run = true })
    if rok and report then
        print(("# from the kernel's table: %d to add, %d to change, %d to remove"):format(
            report.added, report.changed, report.removed))
        for _, op in ipairs(report.ops) do print(op) end
    else
        print("# the kernel's table cannot be read: " .. tostring(rok and err or report):gsub("^.-:%d+: ", ""))
    end
    return 0
end

return conf
