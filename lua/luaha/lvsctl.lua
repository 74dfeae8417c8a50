-- lua/luaha/lvsctl.lua: what `luaha ctl` and `luaha attach` see of an LVS router: its status document and its commands.
--[[
register(p) gives a running policies/piranha.lua (its module table p) the control commands
status [--json], disable SERVER, enable SERVER, weight VIRTUAL SERVER W, reload, failover and
check. SERVER is a server block's name, its address, or address:port; it names that server in
every virtual block. Runtime changes last until the next reload, and say so.
]]
local luaha = require "luaha"
local ctl = require "luaha.ctl"
local json = require "luaha.json"
local lvs = require "luaha.lvs"
local weight_opt = require("luaha.lvscfmodel").servers.weight

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

-- status(p): the status document, a table (as `luaha ctl status --json` prints it).
function lvsctl.status(p)
    local st = p.state
    local m = st.model
    local pulse = st.pulse and st.pulse:status() or { role = "primary", state = "active" }
    local dests, readable = kernel_dests()
    local doc = {
        policy = "piranha", config = st.config, serial_no = m.serial_no, time = luaha.time(),
        role = pulse.role, state = pulse.state, blocked = pulse.blocked, peer = pulse.peer,
        heartbeats = pulse.stats, transitions = json.array(pulse.transitions or {}),
        vips = json.array({}), services = json.array({}), ipvs_readable = readable,
        events = json.array({}),
    }
    for _, a in ipairs(st.vips) do
        doc.vips[#doc.vips + 1] = ("%s/%d %s"):format(a.address, a.prefix, a.label or a.dev)
    end
    for _, v in ipairs(m.virtuals) do
        local svc = lvs.service(m, v)
        local skey = ipvs.normalize(svc).key
        local s = { name = v.name, active = v.active, address = v.address, port = v.port, protocol = v.protocol,
            fwmark = v.fwmark, scheduler = v.scheduler, persistent = v.persistent, servers = json.array({}) }
        for _, rs in ipairs(v.servers) do
            local k, mon = key(v, rs), st.monitors[key(v, rs)]
            local port = rs.port or v.port
            local d = dests[skey .. " " .. ipvs.normalize({ address = rs.address, port = port,
                dests = { { address = rs.address } } }).dests[1].key]
            s.servers[#s.servers + 1] = {
                name = rs.name, address = rs.address, port = port, active = rs.active,
                health = mon and mon.state or "unchecked", configured_weight = rs.weight,
                disabled = st.disabled[k] or nil, weight_override = st.weights[k],
                last_check = mon and mon.last,
                kernel = d and { weight = d.weight, active_conns = d.active_conns, inactive_conns = d.inactive_conns },
            }
        end
        doc.services[#doc.services + 1] = s
    end
    for _, e in ipairs(st.events) do doc.events[#doc.events + 1] = e end
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

-- The (virtual, server) pairs a SERVER argument names, in VIRTUAL when given.
local function servers(p, name, virtual)
    local found = {}
    for _, v in ipairs(p.state.model.virtuals) do
        if not virtual or v.name == virtual then
            for _, rs in ipairs(v.servers) do
                local port = rs.port or v.port
                if rs.name == name or rs.address == name or ("%s:%d"):format(rs.address, port) == name then
                    found[#found + 1] = { v = v, rs = rs }
                end
            end
        end
    end
    return found
end

local function set_disabled(p, args, out, disabled)
    local found = args[1] and servers(p, args[1])
    if not found or #found == 0 then return nil, ("no server %q in the configuration"):format(tostring(args[1])) end
    for _, f in ipairs(found) do
        p.state.disabled[key(f.v, f.rs)] = disabled or nil
        local what = ("%s %s (%s) in virtual %s"):format(disabled and "disabled" or "enabled", f.rs.name,
            f.rs.address, f.v.name)
        p.event("ctl: %s", what)
        out.print(what .. ", until the next reload")
    end
    p.program("ctl")
    return true
end

function lvsctl.register(p)
    ctl.register("status", function(_, out)
        local doc = lvsctl.status(p)
        out.print(out.json and json.encode(doc) or lvsctl.format(doc))
        return true
    end, "status [--json]", true)
    ctl.register("disable", function(args, out) return set_disabled(p, args, out, true) end, "disable SERVER")
    ctl.register("enable", function(args, out) return set_disabled(p, args, out, false) end, "enable SERVER")
    ctl.register("weight", function(args, out)
        local w = math.tointeger(tonumber(args[3]))
        if not w or w < weight_opt.min or w > weight_opt.max then
            return nil, ("usage: weight VIRTUAL SERVER W (W from %d to %d)"):format(weight_opt.min, weight_opt.max)
        end
        local found = servers(p, args[2], args[1])
        if #found == 0 then return nil, ("no server %q in virtual %q"):format(tostring(args[2]), tostring(args[1])) end
        for _, f in ipairs(found) do
            p.state.weights[key(f.v, f.rs)] = w
            local what = ("weight of %s in virtual %s set to %d"):format(f.rs.name, f.v.name, w)
            p.event("ctl: %s", what)
            out.print(what .. ", until the next reload")
        end
        p.program("ctl")
        return true
    end, "weight VIRTUAL SERVER W")
    ctl.register("reload", function(_, out)
        local ok, res = p.reload(p.state.config)
        if not ok then
            for _, e in ipairs(res) do out.eprint(e) end
            return nil, "the running configuration stays"
        end
        for _, op in ipairs(res) do out.print("ipvsadm " .. op) end
        out.print(("reloaded %s: %d operations"):format(p.state.config, #res))
        return true
    end, "reload")
    ctl.register("failover", function(_, out)
        if not p.state.pulse then return nil, "no heartbeat" end
        local ok, err = p.state.pulse:handover()
        if not ok then return nil, "failover: " .. err end
        out.print("the partner is active; this router is passive")
        return true
    end, "failover")
    ctl.register("check", function(_, out)
        local m, errors = p.load(p.state.config)
        if not m then
            for _, e in ipairs(errors) do out.eprint(e) end
            return false
        end
        out.print(p.state.config .. ": OK")
        return true
    end, "check")
end

return lvsctl
