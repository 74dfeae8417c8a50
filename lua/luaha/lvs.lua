-- lua/luaha/lvs.lua: the IPVS table a configuration asks for, as luaha.ipvs.apply takes it.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
The model is lvscf's (lua/luaha/lvscf.lua). Only `active` virtual servers are programmed, and
of their real servers only the `active` ones, as lvsd and nanny did. A real server's weight is
what the caller's health state says (down: absent, quiesced: 0, ramping: lower), so this
module stays a pure function from configuration and health to table.
]]
local lvs = {}

-- lvs.cf's `network` to the IPVS forwarding method.
local forwards = { direct = "dr", nat = "nat", tunnel = "tun" }

-- service(model, v): the IPVS service of virtual block v, without its destinations.
function lvs.service(_, v)
    local s
    if v.fwmark and v.fwmark > 0 then
        -- A firewall-mark service: the VIP and port still serve the alias and the checks.
        s = { fwmark = v.fwmark, family = v.address:find(":", 1, true) and "inet6" or "inet" }
    else
        s = { protocol = v.protocol, address = v.address, port = v.port }
    end
    s.scheduler = v.scheduler
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

-- weights(v, weight_of): the weights of v's active real servers, in order (false: out of the table).
local function weights(v, weight_of)
    local list = {}
    for _, rs in ipairs(v.servers) do
        if rs.active then
            local w
            if weight_of then w = weight_of(v, rs) else w = rs.weight end
            list[#list + 1] = w or false
        end
    end
    return list
end

-- same_weights(v, weight_of, list): whether v's active real servers still have the weights in list.
local function same_weights(v, weight_of, list)
    local i = 0
    for _, rs in ipairs(v.servers) do
        if rs.active then
            i = i + 1
            local w
            if weight_of then w = weight_of(v, rs) else w = rs.weight end
            if list[i] ~= (w or false) then return false end
        end
    end
    return i == #list
end

-- service_of(m, v, weight_of, list): the service of v with its destinations at the weights in list.
local function service_of(m, v, weight_of, list)
    local s = lvs.service(m, v)
    s.dests = {}
    local i = 0
    for _, rs in ipairs(v.servers) do
        if rs.active then
            i = i + 1
            local w = list[i]
            if w then s.dests[#s.dests + 1] = lvs.dest(m, v, rs, w) end
        end
    end
    if weight_of and #s.dests == 0 and v.sorry_server then
        s.dests[1] = lvs.dest(m, v, { address = v.sorry_server, port = v.port }, 1)
    end
    return s
end

--[[
desired(model [, weight_of] [, cache]): the whole table. weight_of(v, rs) returns a real server's
current weight, or nil when it is down and out of the table; without it every active real server
is in at its configured weight, which is what `--dry-run` shows. With weight_of, a virtual server
whose real servers are all out gets its sorry_server at weight 1, as lvsd did. With a cache (a
table the caller keeps, lvs.cache()), a virtual block table whose real servers have the weights
they had in the last call gives the service table of then: the tables are read-only, and a
program of tens of thousands of real servers does not make them all again for each change.
]]
function lvs.desired(m, weight_of, cache)
    local services = {}
    for _, v in ipairs(m.virtuals) do
        if v.active then
            local c = cache and cache[v]
            if not (c and c.network == m.network and c.health == (weight_of ~= nil)
                    and same_weights(v, weight_of, c.weights)) then
                local list = weights(v, weight_of)
                c = { network = m.network, health = weight_of ~= nil, weights = list,
                    service = service_of(m, v, weight_of, list) }
                if cache then cache[v] = c end
            end
            services[#services + 1] = c.service
        end
    end
    return services
end

-- cache(): a cache for desired, which forgets the blocks no model holds any more.
function lvs.cache()
    return setmetatable({}, { __mode = "k" })
end

return lvs
