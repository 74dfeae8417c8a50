-- lua/luaha/vips.lua: the virtual addresses an active router holds: which they are, bringing them up and down, announcing them.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
A VIP is {address=, dev=, label=, prefix=}: `address = 192.0.2.212 eth0:1` in lvs.cf gives dev
"eth0" (the physical interface, where gratuitous ARPs go out) and label "eth0:1". The prefix is
vip_nmask's (nat_nmask's for the NAT router address), /32 (/128) without one: luaha never
assumes a classful netmask as ifconfig did. Several virtual blocks may share one VIP; it is held
once.
]]
local luaha = require "luaha"

local link = luaha.link
local log = luaha.log.prefixed("pulse")      -- the VIPs were pulse's in Piranha

local vips = {}

-- prefix_of(mask, address): the prefix length of a dotted-quad netmask, or the host prefix.
local function prefix_of(mask, address)
    if address:find(":", 1, true) then return 128 end
    if not mask then return 32 end
    local bits = 0
    for octet in mask:gmatch("%d+") do
        local n = tonumber(octet)
        while n > 0 do
            bits = bits + (n & 1)
            n = n >> 1
        end
    end
    return bits
end

local function vip(address, device, mask)
    local dev = device:match("^[^:]+")
    return { address = address, dev = dev, label = not address:find(":", 1, true) and device or nil,
             prefix = prefix_of(mask, address) }
end

--[[
of(model): the distinct VIPs of the model's active virtual (or failover) blocks, and the NAT
router address. An anycast director (cluster = anycast) holds each on lo as a host address: its
device names the uplink (lua/luaha/anycast.lua), and a BGP route, not ARP, brings its packets.
]]
function vips.of(m)
    local list, seen = {}, {}
    local blocks = m.service == "fos" and m.failovers or m.virtuals
    local anycast = m.cluster == "anycast"
    for _, v in ipairs(blocks) do
        if v.active and v.device and not seen[v.address] then
            seen[v.address] = true
            list[#list + 1] = anycast and vip(v.address, "lo") or vip(v.address, v.device, v.vip_nmask)
        end
    end
    if m.service ~= "fos" and m.network == "nat" and m.nat_router and not seen[m.nat_router] then
        list[#list + 1] = vip(m.nat_router, m.nat_router_device, m.nat_nmask)
    end
    return list
end

local function cidr(a) return a.address .. "/" .. a.prefix end

-- has(a): whether the VIP is on its interface already (an error: nil and the reason).
function vips.has(a)
    local list, err = link.addrs(a.dev)
    if not list then return nil, err end
    for _, x in ipairs(list) do
        if x.address == cidr(a) then return true end
    end
    return false
end

-- addresses(dev): the set of dev's addresses ("address/prefix"), or nil and the error.
local function addresses(dev)
    local addrs, err = link.addrs(dev)
    if not addrs then return nil, err end
    local set = {}
    for _, x in ipairs(addrs) do set[x.address] = true end
    return set
end

--[[
change(list, present): makes each VIP present (added, with its label) or absent (removed),
leaving those already so. Each interface's addresses are read once, whatever the number of VIPs
on it. Returns true, or nil and the errors.
]]
local function change(list, present)
    local errors, have = {}, {}
    for _, a in ipairs(list) do
        local on = have[a.dev]
        if on == nil then
            local err
            on, err = addresses(a.dev)
            if not on then
                on = false
                errors[#errors + 1] = err
            end
            have[a.dev] = on
        end
        if on and (on[cidr(a)] or false) ~= present then
            local ok, err
            if present then
                ok, err = link.addr_add({ dev = a.dev, address = cidr(a), label = a.label })
            else
                ok, err = link.addr_del({ dev = a.dev, address = cidr(a) })
            end
            if ok then
                on[cidr(a)] = present or nil
                log.info("%s %s on %s", cidr(a), present and "up" or "down", a.label or a.dev)
            else
                errors[#errors + 1] = err
            end
        end
    end
    if #errors > 0 then return nil, table.concat(errors, "; ") end
    return true
end

-- up(list): adds each VIP that is not there yet, with its label. Returns true, or nil and the errors.
function vips.up(list) return change(list, true) end

-- down(list): removes each VIP that is there. Returns true, or nil and the errors.
function vips.down(list) return change(list, false) end

--[[
take(list): adds each VIP at once, as a takeover must: up() reads each interface's addresses first
(two netlink dumps, a few ms in UML, before the first gratuitous ARP can go). Only when the kernel
refuses one are the interface's addresses read, once, to tell a VIP that was there already from a
real error. Returns true, or nil and the errors.
]]
function vips.take(list)
    local errors, have = {}, {}
    for _, a in ipairs(list) do
        local ok, err = link.addr_add({ dev = a.dev, address = cidr(a), label = a.label })
        if ok then
            log.info("%s up on %s", cidr(a), a.label or a.dev)
        else
            if have[a.dev] == nil then have[a.dev] = addresses(a.dev) or false end
            if not (have[a.dev] and have[a.dev][cidr(a)]) then errors[#errors + 1] = err end
        end
    end
    if #errors > 0 then return nil, table.concat(errors, "; ") end
    return true
end

--[[
announce(list, count, interval): gratuitous ARP (unsolicited neighbour advertisements for IPv6)
for every VIP, count rounds interval seconds apart, each round one packet per VIP. Returns the
task sending them, in a list; cancelling it stops the bursts.

The first AT_ONCE packets of the first round go out in the caller, at once: a takeover's first
packet must not wait for a task to start in the next turn of the loop. The rest go in one task,
paced: a packet costs three system calls (the interface's MAC and index asked again, the send),
a few us on a host and about 0.5 ms in UML (eight and 1.5 ms before runtime/arp.c asked on its own
socket), so a round for 230 VIPs sent in one turn would hold the heartbeat part's loop 0.1 s in
UML. No stretch holds the loop longer than PACE and one packet.
]]
local PACE, AT_ONCE = 0.002, 4

local function garp(a)
    local ok, err = luaha.arp.garp(a.dev, a.address, { count = 1 })
    if not ok then log.err("%s", err) end
end

function vips.announce(list, count, interval)
    local started, first = luaha.now(), math.min(#list, AT_ONCE)
    for i = 1, first do garp(list[i]) end
    local t = luaha.spawn(function()
        for round = 1, count do
            local pace = luaha.pacer(PACE)
            for i = round == 1 and first + 1 or 1, #list do
                garp(list[i])
                pace()
            end
            if round < count then
                luaha.sleep(math.max(0, interval - (luaha.now() - started)))
                started = luaha.now()
            end
        end
    end)
    t:name(("garp %d VIPs"):format(#list))
    return { t }
end

return vips
