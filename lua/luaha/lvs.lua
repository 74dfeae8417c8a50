-- lua/luaha/lvs.lua: the IPVS table a configuration asks for, as luaha.ipvs.apply takes it.
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

--[[
desired(model [, weight_of]): the whole table. weight_of(v, rs) returns a real server's current
weight, or nil when it is down and out of the table; without it every active real server is in
at its configured weight, which is what `--dry-run` shows. With weight_of, a virtual server
whose real servers are all out gets its sorry_server at weight 1, as lvsd did.
]]
function lvs.desired(m, weight_of)
    local services = {}
    for _, v in ipairs(m.virtuals) do
        if v.active then
            local s = lvs.service(m, v)
            s.dests = {}
            for _, rs in ipairs(v.servers) do
                if rs.active then
                    local w
                    if weight_of then w = weight_of(v, rs) else w = rs.weight end
                    if w then s.dests[#s.dests + 1] = lvs.dest(m, v, rs, w) end
                end
            end
            if weight_of and #s.dests == 0 and v.sorry_server then
                s.dests[1] = lvs.dest(m, v, { address = v.sorry_server, port = v.port }, 1)
            end
            services[#services + 1] = s
        end
    end
    return services
end

return lvs
