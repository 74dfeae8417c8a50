-- lua/luaha/lvsctl.lua: what `luaha ctl` and `luaha attach` see of an LVS router: its status document and its commands.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
register(r) gives a running router (lua/luaha/router.lua) the control commands status [--json],
disable SERVER, enable SERVER, weight VIRTUAL SERVER W, drain SERVER [SECONDS], reload, failover
and check. SERVER is a server block's name, its address, or address:port; it names that server
in every virtual block. Runtime changes last until the next reload, and say so. Everything goes
through the router's documented methods: any policy built on a router has these commands.
]]
local luaha = require "luaha"
local ctl = require "luaha.ctl"
local json = require "luaha.json"
local lvs = require "luaha.lvs"
local lvscf = require "luaha.lvscf"

local ipvs = luaha.ipvs

local lvsctl = {}

local function key(v, rs) return v.name .. "/" .. rs.name end

-- The kernel's destinations by "service key dest key", or an empty table when it cannot be read.
local function kernel_dests()
    local ok, services = pcall(ipvs.services)
    local dests = {}
    for _, s in ipairs(ok and services or {}) do
        for _, d in ipairs(s.dests) do dests[s.key .. " " .. d.key] = d end
    end
    return dests, ok and services ~= nil
end

--[[
status(r): router r's status document, a table (as `luaha ctl status --json` prints it). Waits:
it reads the kernel's table (one request per service) and lets the loop run every 2 ms
(luaha.pacer), so that 10 000 real servers (about 0.13 s of work) never hold it longer.
]]
function lvsctl.status(r)
    local m = r.model
    local pulse = r.pulse and r.pulse:status() or { role = r.role or "primary", state = "active" }
    local dests, readable = kernel_dests()
    local doc = {
        policy = r.name, config = r.config, serial_no = m.serial_no, time = luaha.time(),
        role = pulse.role, state = pulse.state, work_state = r.pulse and r.pulse.work_state or nil,
        blocked = pulse.blocked, held = pulse.held, peer = pulse.peer, deadtime = m.deadtime,
        heartbeat_part = r.pulse and { pid = pulse.pid, age = pulse.age, scheduling = pulse.scheduling,
            priority = pulse.priority, memory_locked = pulse.memory_locked, work_late = pulse.work_late } or nil,
        heartbeats = pulse.stats, transitions = json.array(pulse.transitions or {}),
        vips = json.array({}), services = json.array({}), ipvs_readable = readable,
        events = json.array({}),
    }
    for _, a in ipairs(pulse.vips or {}) do
        doc.vips[#doc.vips + 1] = ("%s/%d %s"):format(a.address, a.prefix, a.label or a.dev)
    end
    local pace = luaha.pacer()
    for _, v in ipairs(m.virtuals) do
        local svc = lvs.service(m, v)
        local skey = ipvs.normalize(svc).key
        local s = { name = v.name, active = v.active, address = v.address, port = v.port, protocol = v.protocol,
            fwmark = v.fwmark, scheduler = v.scheduler, persistent = v.persistent, servers = json.array({}) }
        for _, rs in ipairs(v.servers) do
            local k, mon = key(v, rs), r.probes:monitor(v, rs)
            local port = rs.port or v.port
            local d = dests[skey .. " " .. ipvs.normalize({ address = rs.address, port = port,
                dests = { { address = rs.address } } }).dests[1].key]
            s.servers[#s.servers + 1] = {
                name = rs.name, address = rs.address, port = port, active = rs.active,
                health = mon and mon.state or "unchecked", health_since = mon and mon.since,
                configured_weight = rs.weight,
                disabled = r.disabled[k] or nil, weight_override = r.weights[k],
                last_check = mon and mon.last,
                kernel = d and { weight = d.weight, active_conns = d.active_conns, inactive_conns = d.inactive_conns },
            }
            pace()
        end
        doc.services[#doc.services + 1] = s
    end
    for _, e in ipairs(r.events) do doc.events[#doc.events + 1] = e end
    return doc
end

local function stamp(t)
    return os.date("%Y-%m-%d %H:%M:%S", math.floor(t)) .. (".%03d"):format(math.floor(t % 1 * 1000))
end

-- format(doc): the status document as text for people.
function lvsctl.format(doc)
    local out = {}
    local function add(fmt, ...) out[#out + 1] = fmt:format(...) end
    add("role %s, %s%s", doc.role, doc.state, doc.blocked and " (blocked: " .. next(doc.blocked) .. ")" or "")
    local peer = doc.peer or {}
    add("peer %s %s, last heard %s", tostring(peer.address or "-"), tostring(peer.state or "none"),
        peer.heard and ("%.3f s ago"):format(peer.heard) or "never")
    add("VIPs: %s", #doc.vips > 0 and table.concat(doc.vips, ", ") or "none held")
    for _, s in ipairs(doc.services) do
        add("virtual %s %s %s:%d %s%s%s", s.name, s.protocol, s.address, s.port, s.scheduler,
            s.persistent and s.persistent > 0 and (" persistent " .. s.persistent) or "", s.active and "" or " (inactive)")
        for _, r in ipairs(s.servers) do
            local last = r.last_check
            add("  -> %-22s %-9s weight %-4s kernel %-6s last check %s%s", ("%s:%d"):format(r.address, r.port),
                r.disabled and "disabled" or r.health, tostring(r.weight_override or r.configured_weight),
                r.kernel and tostring(r.kernel.weight) or "-",
                last and (last.ok and "ok" or ("failed: " .. tostring(last.reason))) or "none",
                last and (" (%.3f s)"):format(last.seconds) or "")
        end
    end
    add("events:")
    for _, e in ipairs(doc.events) do add("  %s %s", stamp(e.at), e.text) end
    return table.concat(out, "\n")
end

local function said(found, out, fmt)
    for _, f in ipairs(found) do out.print(fmt:format(f.rs.name, f.rs.address, f.v.name) .. ", until the next reload") end
    return true
end

function lvsctl.register(r)
    ctl.register("status", function(_, out)
        local doc = r:status()
        out.print(out.json and json.encode(doc, luaha.pacer()) or lvsctl.format(doc))
        return true
    end, "status [--json]", true)
    ctl.register("disable", function(args, out)
        local found, err = r:disable(args[1])
        return found and said(found, out, "disabled %s (%s) in virtual %s"), err
    end, "disable SERVER")
    ctl.register("enable", function(args, out)
        local found, err = r:enable(args[1])
        return found and said(found, out, "enabled %s (%s) in virtual %s"), err
    end, "enable SERVER")
    ctl.register("weight", function(args, out)
        local w = math.tointeger(tonumber(args[3]))
        if not w then return nil, "usage: weight VIRTUAL SERVER W" end
        local found, err = r:set_weight(args[1], args[2], w)
        return found and said(found, out, "weight of %s (%s) in virtual %s set to " .. w), err
    end, "weight VIRTUAL SERVER W")
    ctl.register("drain", function(args, out)
        if args[1] == nil and r.anycast then
            -- The director leaves: its VIPs are withdrawn now; it stops drain_time seconds later.
            if r.anycast.draining then return nil, "drain: already draining" end
            luaha.spawn(function() r.anycast:leave("luaha ctl drain") end):name("anycast: leaving")
            out.print(("withdrawing every VIP; stopping in %s s, leaving the IPVS table and the VIPs"):format(
                require("luaha.lvscfmodel").number(r.model.drain_time)))
            return true
        end
        if args[1] == nil then return nil, "usage: drain SERVER [SECONDS] (drain alone: an anycast director leaves)" end
        local seconds = tonumber(args[2] or "0")
        if not seconds or seconds < 0 or seconds > 3600 then return nil, "usage: drain SERVER [SECONDS (0 to 3600)]" end
        local found, err = r:drain(args[1], seconds)
        return found and said(found, out, "drained %s (%s) in virtual %s to weight 0"), err
    end, "drain [SERVER [SECONDS]]")
    ctl.register("reload", function(_, out)
        local ok, res, later = r:reload()
        if not ok then
            for _, e in ipairs(res) do out.eprint(e) end
            return nil, "the running configuration stays"
        end
        for _, op in ipairs(res) do out.print("ipvsadm " .. op) end
        out.print(("reloaded %s: %d operations"):format(r.config, #res))
        if #later > 0 then
            out.eprint(("changed, but applied only at a restart: %s"):format(table.concat(later, ", ")))
        end
        return true
    end, "reload")
    ctl.register("failover", function(_, out)
        local ok, err = r:handover()
        if not ok then return nil, "failover: " .. err end
        out.print("the partner is active; this router is passive")
        return true
    end, "failover")
    ctl.register("check", function(_, out)
        local m, errors = lvscf.load_any(r.config)
        local hb_key
        if m then hb_key, errors = require("luaha.routerconf").check(m, r.config, nil, r.webui) end
        if not m or hb_key == nil then
            for _, e in ipairs(errors) do out.eprint(e) end
            return false
        end
        out.print(r.config .. ": OK")
        return true
    end, "check")
end

return lvsctl
