-- lua/luaha/lvs.lua: the IPVS table a configuration asks for, as luaha.ipvs.apply takes it.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
The model is lvscf's (lua/luaha/lvscf.lua). Only `active` virtual servers are programmed, and
of their real servers only the `active` ones, as lvsd and nanny did. A real server's weight is
what the caller's health state says (down: absent, quiesced: 0, ramping: lower), so this
module stays a pure function from configuration and health to table.
]]
local luaha = require "luaha"

local lvs = {}

-- lvs.cf's `network` to the IPVS forwarding method.
local forwards = { direct = "dr", nat = "nat", tunnel = "tun" }

-- service(model, v): the IPVS service of virtual block v, without its destinations.
function lvs.service(m, v)
    local s
    if v.fwmark and v.fwmark > 0 then
        -- A firewall-mark service: the VIP and port still serve the alias and the checks.
        s = { fwmark = v.fwmark, family = v.address:find(":", 1, true) and "inet6" or "inet" }
    else
        s = { protocol = v.protocol, address = v.address, port = v.port }
    end
    s.scheduler = v.scheduler
    -- Anycast: every director gives a flow the same real server, by its addresses and ports.
    if m and m.cluster == "anycast" and v.scheduler == "mh" then s.flags = { "mh-port" } end
    if v.persistent and v.persistent > 0 then
        s.persistent = v.persistent
        if v.pmask and v.pmask ~= "255.255.255.255" then s.netmask = v.pmask end
    end
    return s
end

-- dest(model, v, rs, weight): real server rs of v as an IPVS destination at weight.
function lvs.dest(m, v, rs, weight)
    return { address = rs.address, port = rs.port or v.port, weight = weight, forward = forwards[m.network] }
end

-- addr_key(address): a string that sorts addresses as their bytes do, IPv4 before IPv6 (luaha.net.parse_addr).
local function addr_key(a)
    local _, family, _, bytes = luaha.net.parse_addr(a)
    return (family == "inet" and "\4" or "\6") .. (bytes or a)
end

--[[
order_of(v): the positions of v's active real servers in canonical order (by family, address
bytes, port), the order in which an anycast director adds them: IPVS builds the Maglev table from
the order of its destination list, and every director must build the same one. Kept per block
table (the tables are read-only): a change of health does not sort again.
]]
local orders = setmetatable({}, { __mode = "k" })
local function order_of(v)
    local o = orders[v]
    if o then return o end
    local keyed = {}
    for _, rs in ipairs(v.servers) do
        if rs.active then
            keyed[#keyed + 1] = { addr_key(rs.address) .. string.pack(">I2", rs.port or v.port), #keyed + 1 }
        end
    end
    table.sort(keyed, function(a, b) return a[1] < b[1] end)
    o = {}
    for i, k in ipairs(keyed) do o[i] = k[2] end
    orders[v] = o
    return o
end
lvs.order_of = order_of

-- weights(v, weight_of, zero): the weights of v's active real servers, in order (false: out of the table, zero: 0).
local function weights(v, weight_of, zero)
    local list = {}
    for _, rs in ipairs(v.servers) do
        if rs.active then
            local w
            if weight_of then w = weight_of(v, rs) else w = rs.weight end
            list[#list + 1] = w or zero or false
        end
    end
    return list
end

-- same_weights(v, weight_of, list, zero): whether v's active real servers still have the weights in list.
local function same_weights(v, weight_of, list, zero)
    local i = 0
    for _, rs in ipairs(v.servers) do
        if rs.active then
            i = i + 1
            local w
            if weight_of then w = weight_of(v, rs) else w = rs.weight end
            if list[i] ~= (w or zero or false) then return false end
        end
    end
    return i == #list
end

--[[
service_of(m, v, weight_of, list): the service of v with its destinations at the weights in list.
In anycast mode every active real server is there, in canonical order (order_of), at weight 0
while it is out: a deleted destination would end its flows and move others in the Maglev table.
]]
local function service_of(m, v, weight_of, list)
    local s = lvs.service(m, v)
    s.dests = {}
    local active = {}
    for _, rs in ipairs(v.servers) do
        if rs.active then active[#active + 1] = rs end
    end
    local order = m.cluster == "anycast" and order_of(v) or nil
    for i = 1, #active do
        local j = order and order[i] or i
        local w = list[j]
        if w then s.dests[#s.dests + 1] = lvs.dest(m, v, active[j], w) end
    end
    if weight_of and #s.dests == 0 and v.sorry_server then
        s.dests[1] = lvs.dest(m, v, { address = v.sorry_server, port = v.port }, 1)
    end
    return s
end

-- entry(m, v, weight_of, cache, fresh): v's cache entry, made again unless it holds v's weights now (fresh: trusted as it is).
local function entry(m, v, weight_of, cache, fresh)
    local c = cache and cache[v]
    local zero = m.cluster == "anycast" and 0 or nil
    if c and c.network == m.network and c.health == (weight_of ~= nil)
            and (fresh or same_weights(v, weight_of, c.weights, zero)) then
        return c
    end
    local list = weights(v, weight_of, zero)
    c = { network = m.network, health = weight_of ~= nil, weights = list, service = service_of(m, v, weight_of, list) }
    if cache then cache[v] = c end
    return c
end

--[[
desired(model [, weight_of] [, cache] [, changed]): the whole table. weight_of(v, rs) returns a
real server's current weight, or nil when it is down and out of the table; without it every
active real server is in at its configured weight, which is what `--dry-run` shows; in anycast
mode (cluster = anycast) one that is down is in at weight 0. With weight_of, a virtual server
whose real servers are all out gets its sorry_server at weight 1, as lvsd did. With a cache (a
table the caller keeps, lvs.cache()), a virtual block table whose real servers have the weights
they had in the last call gives the service table of then: the tables are read-only, and a
program of tens of thousands of real servers does not make them all again for each change.
With changed as well (a set of virtual block tables), only those blocks are looked at again; the
others are taken from the cache as they were (a block it lacks is computed): the caller knows
which weights changed, and 37 000 real servers are not asked theirs for a change of a few.
In a task it yields a turn of the loop every 2000 real servers (luaha.breathe): the weights may
change meanwhile, which the caller learns as it learns any change (router.lua's changed).
]]
function lvs.desired(m, weight_of, cache, changed)
    local services, work = {}, 0
    for _, v in ipairs(m.virtuals) do
        if v.active then
            local trusted = changed and not changed[v]
            services[#services + 1] = entry(m, v, weight_of, cache, trusted).service
            -- In a task, a turn of the loop every 2000 real servers looked at (a few milliseconds in UML).
            work = work + (trusted and 1 or #v.servers)
            if work >= 2000 then
                work = 0
                if luaha.current() and coroutine.isyieldable() then luaha.breathe() end
            end
        end
    end
    return services
end

--[[
block(model, v, weight_of, cache): the service of active virtual block v alone, as desired gives
it (and its cache entry made again): what a health change in v asks of the table.
]]
function lvs.block(m, v, weight_of, cache)
    return entry(m, v, weight_of, cache, false).service
end

-- cache(): a cache for desired, which forgets the blocks no model holds any more.
function lvs.cache()
    return setmetatable({}, { __mode = "k" })
end

return lvs
