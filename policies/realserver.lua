-- policies/realserver.lua: set up a real server for LVS: VIPs and ARP sysctls (dr, tun), default route (nat); --down undoes it.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: luaha realserver [-c FILE] --mode dr|tun|nat --vip ADDR [--vip ADDR ...]
                        [--gateway ADDR] [--state FILE] [--down] [-h | --help] [--version]

dr   each VIP on lo, IPv4 as /32 labelled lo:0, IPv6 as /128; arp_ignore=1 and arp_announce=2 for
     all and lo, so that the server accepts packets for the VIP but never answers ARP for it.
tun  the ipip module (only when there is no tunl0), each VIP as /32 on tunl0, tunl0 up, the same
     ARP sysctls for all and tunl0, and rp_filter=0 for all and tunl0.
nat  the default route via the NAT router's address (--gateway), replacing the one there was.

-c FILE (an lvs.cf, or a Lua configuration ending in .lua) gives the address of every active
virtual server, the mode from `network` and the gateway from `nat_router`; --mode and --gateway
override those, and --vip adds to them. A second run changes only what is no longer as it should
be. The up run records in the state file (default /run/luaha/realserver.state) what it changed and
the values it found; a later up run adds to that record but never replaces a value found before.
--down undoes what the state file records and removes it; without one, it removes the VIPs the up
run would have added and leaves the sysctls and the default route as they are.
Exit status: 0 done (or --help, --version), 1 the kernel or the configuration said no, 2 bad arguments.
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local datafile = require "luaha.datafile"

local link = luaha.link

local usage = "usage: luaha realserver [-c FILE] --mode dr|tun|nat --vip ADDR [--vip ADDR ...]"
    .. " [--gateway ADDR] [--state FILE] [--down] [-h | --help] [--version]"

local default_state = "/run/luaha/realserver.state"

-- What each mode sets up: the link that carries the VIPs and the sysctls, in the order they are set.
local modes = {
    dr = {
        dev = "lo", label = "lo:0", ipv6 = true,
        sysctls = {
            { "net.ipv4.conf.all.arp_ignore", "1" }, { "net.ipv4.conf.all.arp_announce", "2" },
            { "net.ipv4.conf.lo.arp_ignore", "1" }, { "net.ipv4.conf.lo.arp_announce", "2" },
        },
    },
    -- Decapsulated packets arrive on tunl0 from a client whose route goes out another link:
    -- strict reverse-path filtering (the kernel applies the larger of all and tunl0) drops them.
    tun = {
        dev = "tunl0", module = "ipip", set_up = true,
        sysctls = {
            { "net.ipv4.conf.all.arp_ignore", "1" }, { "net.ipv4.conf.all.arp_announce", "2" },
            { "net.ipv4.conf.tunl0.arp_ignore", "1" }, { "net.ipv4.conf.tunl0.arp_announce", "2" },
            { "net.ipv4.conf.tunl0.rp_filter", "0" }, { "net.ipv4.conf.all.rp_filter", "0" },
        },
    },
    nat = { route = true },
}

-- lvs.cf's `network` gives the mode when --mode does not.
local network_modes = { direct = "dr", tunnel = "tun", nat = "nat" }

local function say(fmt, ...) print(fmt:format(...)) end

-- A line of the plan for something already as it should be, printed in its turn.
local function note(changes, fmt, ...) changes[#changes + 1] = { line = "nothing to do: " .. fmt:format(...) } end

--[[
A VIP from the command line or a configuration: its text as given, a key that is the same for
every spelling of the address ("2001:DB8::1", "2001:db8:0::1"), its family; nil if it is not a
numeric address (luaha.net.parse_addr). A host prefix (/32, /128) is allowed and dropped.
]]
local function parse_address(s)
    local key, family, prefix = luaha.net.parse_addr(s)
    if not key or (prefix and prefix ~= (family == "inet" and 32 or 128)) then return nil end
    return { text = s:match("^[^/]*"), key = key, family = family }
end

local function same_address(a, b)
    local pa, pb = parse_address(a:match("^[^/]*")), parse_address(b:match("^[^/]*"))
    return pa and pb and pa.key == pb.key
end

-- The VIP with its host prefix, as it goes on the link.
local function host_address(vip) return vip.text .. (vip.family == "inet" and "/32" or "/128") end

local function find_link(name)
    local list, err = link.links()
    if not list then return nil, err end
    for _, l in ipairs(list) do
        if l.name == name then return l end
    end
    return false
end

-- The address entry of dev whose address is vip, whatever its prefix; false if none.
local function find_addr(dev, address)
    local list, err = link.addrs(dev)
    if not list then return nil, err end
    for _, a in ipairs(list) do
        if same_address(a.address, address) then return a end
    end
    return false
end

local function add_vip(o, text, from)
    local vip = parse_address(text)
    if not vip then return nil, ("%s: %q is not a numeric IPv4 or IPv6 address"):format(from, text) end
    for _, v in ipairs(o.vips) do
        if v.key == vip.key then return true end  -- two virtual services on one address need it once
    end
    o.vips[#o.vips + 1] = vip
    return true
end

-- Returns the options, or nil and what is wrong with them.
local function parse_args(args)
    local o = { vips = {}, state = default_state }
    local takes = { ["-c"] = "config", ["--mode"] = "mode", ["--gateway"] = "gateway", ["--state"] = "state" }
    local i = 1
    while i <= #args do
        local a, v = args[i], args[i + 1]
        if a == "--down" then
            o.down = true
        elseif a == "-h" or a == "--help" or a == "--version" then
            o.says = a == "--version" and ("realserver (luaha %s)"):format(luaha.version) or usage
            return o
        elseif a == "--vip" and v then
            local ok, err = add_vip(o, v, "--vip")
            if not ok then return nil, err end
            o.explicit_vips = true
            i = i + 1
        elseif takes[a] and v then
            o[takes[a]] = v
            i = i + 1
        else
            return nil, (takes[a] or a == "--vip") and a .. " needs a value" or "unknown option " .. a
        end
        i = i + 1
    end
    if o.mode and not modes[o.mode] then return nil, ("--mode %s: not dr, tun or nat"):format(o.mode) end
    if o.gateway and not parse_address(o.gateway) then
        return nil, ("--gateway: %q is not a numeric IPv4 or IPv6 address"):format(o.gateway)
    end
    return o
end

-- Takes what the command line did not give from the configuration. Returns true, or nil and the errors.
local function read_config(o)
    local m, errors, warnings = lvscf.load_any(o.config)
    for _, w in ipairs(warnings or {}) do io.stderr:write("realserver: warning: ", w, "\n") end
    if not m then return nil, table.concat(errors, "\n") end
    o.mode = o.mode or network_modes[m.network]
    if o.mode == "nat" then                     -- the VIPs are on the routers, not here
        if not o.gateway and m.nat_router and not parse_address(m.nat_router) then
            return nil, ("%s: nat_router: %q is not a numeric IPv4 or IPv6 address"):format(o.config, m.nat_router)
        end
        o.gateway = o.gateway or m.nat_router
        return true
    end
    local explicit = o.vips
    o.vips = {}
    for _, v in ipairs(m.virtuals) do
        if v.active then
            local ok, err = add_vip(o, v.address, ("%s: virtual %q: address"):format(o.config, v.name))
            if not ok then return nil, err end
        end
    end
    for _, vip in ipairs(explicit) do add_vip(o, vip.text, "--vip") end
    return true
end

-- What the mode needs from the arguments: nil and the problem if it is missing.
local function check_mode(o, down)
    if not o.mode then return nil, "--mode is required (or -c FILE)" end
    if o.mode == "nat" then
        if o.explicit_vips then return nil, "--vip is for dr and tun; in nat mode the VIPs are on the routers" end
        if not o.gateway and not down then return nil, "nat needs --gateway (or a config with nat_router)" end
        return true
    end
    if #o.vips == 0 then return nil, o.mode .. " needs --vip (or -c FILE with an active virtual server)" end
    for _, vip in ipairs(o.vips) do
        if vip.family == "inet6" and not modes[o.mode].ipv6 then
            return nil, ("--vip %s: tun carries IPv4 VIPs only (tunl0 is IPv4 in IPv4)"):format(vip.text)
        end
    end
    return true
end

--[[
The record the up runs keep:
    sysctls = { [name] = value found before the first change },
    addrs = { { dev =, address =, label = } ... },    -- addresses added
    links = { "tunl0" },                              -- links set up
    route = { gateway =, replaced = { { gateway =, dev = } ... } },  -- the default routes replaced
]]
local function empty_state() return { sysctls = {}, addrs = {}, links = {} } end

-- Returns the state and whether the file exists, or nil and the reason it cannot be read.
local function read_state(path)
    local st, exists = datafile.read(path)
    if exists == false then return empty_state(), false end     -- nothing was set up
    if not st then return nil, (exists:gsub("not a data file", "not a state file")) end
    for k, v in pairs(empty_state()) do st[k] = st[k] or v end
    return st, true
end

-- Writes the state to a new file renamed over the old one, so that a crash leaves one or the other.
local function save_state(path, st)
    return datafile.write(path, st, "what policies/realserver.lua changed and the values it found; its --down undoes it.")
end

--[[
Both directions first plan, then apply. A change is { line = what it did, apply = a function
returning ok, err, record = a function adding to the state what undoing it needs }; what is
already right is a change with only a line ("nothing to do: ..."). The lines are printed in
plan order as the changes are made. The state is saved before anything changes, so that --down
can undo a run that stopped half way.
]]

local function sysctl_changes(sysctls, changes)
    for _, s in ipairs(sysctls) do
        local name, want = s[1], s[2]
        local now, err = link.sysctl(name)
        if not now then return nil, err end
        if now == want then
            note(changes, "sysctl %s is already %s", name, want)
        else
            changes[#changes + 1] = {
                line = ("sysctl %s: %s -> %s"):format(name, now, want),
                apply = function() return link.sysctl(name, want) end,
                record = function(st) st.sysctls[name] = st.sysctls[name] or now end,
            }
        end
    end
    return true
end

local function addr_changes(mode, vips, changes)
    for _, vip in ipairs(vips) do
        local have, err = find_addr(mode.dev, vip.text)
        if have == nil then return nil, err end
        if have then
            note(changes, "%s is already on %s", have.address, mode.dev)
        else
            local a = { dev = mode.dev, address = host_address(vip), label = vip.family == "inet" and mode.label or nil }
            changes[#changes + 1] = {
                line = ("added %s dev %s%s"):format(a.address, a.dev, a.label and " label " .. a.label or ""),
                apply = function() return link.addr_add(a) end,
                record = function(st) st.addrs[#st.addrs + 1] = a end,
            }
        end
    end
    return true
end

local function link_up_changes(dev, changes)
    local l, err = find_link(dev)
    if not l then return nil, err or dev .. ": No such device" end
    if l.up then
        note(changes, "%s is already up", dev)
        return true
    end
    changes[#changes + 1] = {
        line = ("set %s up"):format(dev),
        apply = function() return link.set_up(dev, true) end,
        record = function(st)
            for _, name in ipairs(st.links) do
                if name == dev then return end
            end
            st.links[#st.links + 1] = dev
        end,
    }
    return true
end

-- The main table's default routes of a family, as { gateway =, dev = } tables route_add takes.
local function default_routes(family)
    local list, err = link.routes("main")
    if not list then return nil, err end
    local found = {}
    for _, r in ipairs(list) do
        if r.dst == "default" and r.family == family then
            if r.nexthops or r.type then
                return nil, ("the default route %s cannot be restored by luaha.link, so it is not replaced"):format(
                    r.nexthops and "has several next hops" or "is of type " .. r.type)
            end
            found[#found + 1] = { dst = "default", family = family, gateway = r.gateway, dev = r.dev }
        end
    end
    return found
end

local function describe_routes(routes)
    local text = {}
    for _, r in ipairs(routes) do
        text[#text + 1] = (r.gateway and "via " .. r.gateway or "") .. (r.gateway and r.dev and " " or "")
            .. (r.dev and "dev " .. r.dev or "")
    end
    return #text > 0 and table.concat(text, ", ") or "none"
end

-- Removes routes, then adds others; if an add fails, puts back what it removed.
local function swap_routes(remove, add)
    for _, r in ipairs(remove) do
        local ok, err = link.route_del(r)
        if not ok then return nil, err end
    end
    for _, r in ipairs(add) do
        local ok, err = link.route_add(r)
        if not ok then
            for _, old in ipairs(remove) do link.route_add(old) end
            return nil, err
        end
    end
    return true
end

local function route_changes(gateway, changes)
    local family = parse_address(gateway).family
    local now, err = default_routes(family)
    if not now then return nil, err end
    if #now == 1 and now[1].gateway and same_address(now[1].gateway, gateway) then
        note(changes, "the default route is already %s", describe_routes(now))
        return true
    end
    local new = { dst = "default", family = family, gateway = gateway }
    changes[#changes + 1] = {
        line = ("default route: %s -> %s"):format(describe_routes(now), describe_routes({ new })),
        apply = function() return swap_routes(now, { new }) end,
        -- A later run that replaces our own route keeps the routes the first one found.
        record = function(st)
            st.route = st.route or { replaced = now }
            st.route.gateway = gateway
        end,
    }
    return true
end

local function apply(changes)
    for _, c in ipairs(changes) do
        if c.apply then
            local ok, err = c.apply()
            if not ok then return nil, err end
        end
        say("%s", c.line)
    end
    return true
end

-- tunl0 appears when the ipip module is loaded; modprobe runs only when it is missing.
local function load_module(mode)
    local l, err = find_link(mode.dev)
    if l == nil then return nil, err end
    if l then
        say("nothing to do: %s exists", mode.dev)
        return true
    end
    local r, rerr = luaha.proc.run({ "modprobe", mode.module }, { timeout = 60 })
    if not r then return nil, rerr end
    if r.status ~= 0 then
        local why = r.stderr:gsub("%s+$", "")
        if why == "" then why = r.status and "exit status " .. r.status or "killed by signal " .. r.signal end
        return nil, ("modprobe %s: %s"):format(mode.module, why)
    end
    if not find_link(mode.dev) then
        return nil, ("modprobe %s: there is still no %s in this network namespace"):format(mode.module, mode.dev)
    end
    say("loaded the %s module: %s appeared", mode.module, mode.dev)
    return true
end

-- The ARP sysctls come before the VIPs: with the VIP on lo and arp_ignore still 0, this server
-- would answer ARP for the VIP on its other links and take the traffic from the router.
local function plan_up(o, mode)
    local changes = {}
    if mode.module then
        local ok, err = load_module(mode)
        if not ok then return nil, err end
    end
    local ok, err = sysctl_changes(mode.sysctls or {}, changes)
    if ok and mode.dev then ok, err = addr_changes(mode, o.vips, changes) end
    if ok and mode.set_up then ok, err = link_up_changes(mode.dev, changes) end
    if ok and mode.route then ok, err = route_changes(o.gateway, changes) end
    if not ok then return nil, err end
    return changes
end

local function up(o)
    local st, err = read_state(o.state)
    if not st then return nil, err end
    local changes, perr = plan_up(o, modes[o.mode])
    if not changes then return nil, perr end
    local before = datafile.serialize(st)
    for _, c in ipairs(changes) do
        if c.record then c.record(st) end
    end
    if datafile.serialize(st) ~= before then
        local ok, serr = save_state(o.state, st)
        if not ok then return nil, "state " .. serr end
    end
    return apply(changes)
end

local function restore_route(route, changes)
    local family = parse_address(route.gateway).family
    local now, err = default_routes(family)
    if not now then return nil, err end
    local ours, others = {}, {}
    for _, r in ipairs(now) do
        table.insert(r.gateway and same_address(r.gateway, route.gateway) and ours or others, r)
    end
    if #others > 0 then
        note(changes, "the default route %s was not set by realserver; left as it is", describe_routes(others))
        route.replaced = {}
    end
    if #ours == 0 and #route.replaced == 0 then return true end
    changes[#changes + 1] = {
        line = ("default route: %s -> %s"):format(describe_routes(now), describe_routes(route.replaced)),
        apply = function() return swap_routes(ours, route.replaced) end,
    }
    return true
end

local function remove_addr(a, changes)
    local have, err = find_addr(a.dev, a.address)
    if have == nil then
        if err:find("No such device", 1, true) then
            note(changes, "there is no %s", a.dev)
            return true
        end
        return nil, err
    end
    if not have or have.address:match("/%d+$") ~= a.address:match("/%d+$") then
        note(changes, "%s is not on %s", a.address, a.dev)
        return true
    end
    changes[#changes + 1] = {
        line = ("removed %s dev %s"):format(a.address, a.dev),
        apply = function() return link.addr_del({ dev = a.dev, address = have.address }) end,
    }
    return true
end

local function set_down(dev, changes)
    local l, err = find_link(dev)
    if l == nil then return nil, err end
    if not l or not l.up then
        note(changes, "%s is not up", dev)
        return true
    end
    changes[#changes + 1] = {
        line = ("set %s down"):format(dev),
        apply = function() return link.set_up(dev, false) end,
    }
    return true
end

-- A sysctl of a link that has gone since (tunl0 when ipip was unloaded) has nothing to restore.
local function restore_sysctls(sysctls, changes)
    local names = {}
    for name in pairs(sysctls) do names[#names + 1] = name end
    table.sort(names)
    local list = {}
    for _, name in ipairs(names) do
        local now, err = link.sysctl(name)
        if now then
            list[#list + 1] = { name, sysctls[name] }
        elseif err:find("No such file or directory", 1, true) then
            note(changes, "sysctl %s is gone", name)
        else
            return nil, err
        end
    end
    return sysctl_changes(list, changes)
end

-- Undoes the state in the reverse order of the up run: route, links, addresses, then sysctls.
local function plan_down(st)
    local changes = {}
    if st.route then
        local ok, err = restore_route(st.route, changes)
        if not ok then return nil, err end
    end
    for i = #st.links, 1, -1 do
        local ok, err = set_down(st.links[i], changes)
        if not ok then return nil, err end
    end
    for i = #st.addrs, 1, -1 do
        local ok, err = remove_addr(st.addrs[i], changes)
        if not ok then return nil, err end
    end
    local ok, err = restore_sysctls(st.sysctls, changes)
    if not ok then return nil, err end
    return changes
end

-- Without a state file: the VIPs the up run would have added; the rest is left alone, and said so.
local function plan_down_unrecorded(o, mode)
    local changes = {}
    for _, vip in ipairs(mode.dev and o.vips or {}) do
        local ok, err = remove_addr({ dev = mode.dev, address = host_address(vip) }, changes)
        if not ok then return nil, err end
    end
    local unknown = ("no state file %s: "):format(o.state)
    if mode.sysctls then changes[#changes + 1] = { line = unknown .. "the sysctls are left as they are" } end
    if mode.set_up then changes[#changes + 1] = { line = unknown .. mode.dev .. " is left up" } end
    if mode.route then changes[#changes + 1] = { line = unknown .. "the default route is left as it is" } end
    return changes
end

-- Returns true, or nil and the reason; nil, nil, problem when the arguments cannot say what to undo.
local function down(o)
    local st, found = read_state(o.state)
    if not st then return nil, found end
    if not found then
        local ok, problem = check_mode(o, true)
        if not ok then return nil, nil, ("no state file %s, so %s"):format(o.state, problem) end
        local changes, err = plan_down_unrecorded(o, modes[o.mode])
        if not changes then return nil, err end
        return apply(changes)
    end
    local changes, err = plan_down(st)
    if not changes then return nil, err end
    local ok, aerr = apply(changes)
    if not ok then return nil, aerr end          -- the state stays, for another --down
    local removed, rerr = os.remove(o.state)
    if not removed then return nil, rerr end
    say("removed the state file %s", o.state)
    return true
end

local function usage_error(problem)
    io.stderr:write("realserver: ", problem, "\n", usage, "\n")
    return 2
end

local function main(args)
    local o, problem = parse_args(args)
    if not o then return usage_error(problem) end
    if o.says then
        print(o.says)
        return 0
    end
    if o.config then
        local ok, err = read_config(o)
        if not ok then
            io.stderr:write("realserver: ", err, "\n")
            return 1
        end
    end
    if not o.down then
        local ok, missing = check_mode(o, false)
        if not ok then return usage_error(missing) end
    end
    local ok, err, missing = (o.down and down or up)(o)
    if missing then return usage_error(missing) end
    if not ok then
        io.stderr:write("realserver: ", err, "\n")
        return 1
    end
    return 0
end

local status = main(arg)
if status ~= 0 then luaha.exit(status) end
