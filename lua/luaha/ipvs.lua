-- lua/luaha/ipvs.lua: luaha.ipvs: the kernel table (luaha.core.ipvs), apply as one difference, ipvsadm text.
local core = require "luaha.core.ipvs"
local task = require "luaha.core.task"
local now = require("luaha.core.timer").now

local ipvs = {}
for name, fn in pairs(core) do ipvs[name] = fn end

-- Settings compared to decide whether a service or a destination needs an edit.
local service_settings = { "scheduler", "persistent", "netmask", "pe" }
local dest_settings = { "weight", "forward", "u_threshold", "l_threshold" }

-- A batch is sized so that the kernel's work between two yields stays near this many seconds.
local slice = 0.005

local fwd_names = { dr = "Route", nat = "Masq", tun = "Tunnel", ["local"] = "Local" }
local fwd_switches = { dr = "-g", nat = "-m", tun = "-i", ["local"] = "-g" }
local proto_switches = { tcp = "-t", udp = "-u", sctp = "--sctp-service" }
local proto_names = { tcp = "TCP", udp = "UDP", sctp = "SCTP" }

local function addrport(family, address, port)
    if family == "inet6" or address:find(":", 1, true) then
        return ("[%s]:%d"):format(address, port)
    end
    return ("%s:%d"):format(address, port)
end

local function service_switch(s)
    if s.fwmark then
        return ("-f %d%s"):format(s.fwmark, s.family == "inet6" and " -6" or "")
    end
    return proto_switches[s.protocol] .. " " .. addrport(s.family, s.address, s.port)
end

-- The ipvsadm command line that does op, for reports and logs.
local function op_text(op)
    local s, d = op.service, op.dest
    if op.op == "del_service" then return "-D " .. service_switch(s) end
    if op.op == "add_service" or op.op == "edit_service" then
        local t = { op.op == "add_service" and "-A" or "-E", service_switch(s), "-s", s.scheduler }
        if s.persistent then
            t[#t + 1] = "-p " .. s.persistent
            if s.netmask ~= "255.255.255.255" and s.netmask ~= 128 then t[#t + 1] = "-M " .. s.netmask end
        end
        if s.pe then t[#t + 1] = "--pe " .. s.pe end
        local sched_flags = {}
        for _, f in ipairs(s.flags) do
            if f == "ops" then t[#t + 1] = "-o" else sched_flags[#sched_flags + 1] = f end
        end
        if #sched_flags > 0 then t[#t + 1] = "-b " .. table.concat(sched_flags, ",") end
        return table.concat(t, " ")
    end
    local r = service_switch(s) .. " -r " .. addrport(nil, d.address, d.port)
    if op.op == "del_dest" then return "-d " .. r end
    local text = (op.op == "add_dest" and "-a " or "-e ") .. r .. " " .. fwd_switches[d.forward] .. " -w " .. d.weight
    if d.u_threshold ~= 0 then text = text .. " -x " .. d.u_threshold end
    if d.l_threshold ~= 0 then text = text .. " -y " .. d.l_threshold end
    return text
end

local function differs(a, b, fields)
    for _, f in ipairs(fields) do
        if a[f] ~= b[f] then return true end
    end
    return table.concat(a.flags or {}, ",") ~= table.concat(b.flags or {}, ",")
end

local function index(list)
    local by = {}
    for _, v in ipairs(list) do by[v.key] = v end
    return by
end

--[[
Long loops call pace(): inside a task it yields once `slice` seconds have
passed since the last yield, so a large apply never holds the loop (and
the heartbeats behind it) for long. Outside a task it does nothing.
]]
local last_yield = 0

local function can_yield()
    return task.current() ~= nil and coroutine.isyieldable()
end

local function pace()
    local t = now()
    if t - last_yield >= slice and can_yield() then
        task.sleep(0)
        last_yield = now()
    end
end

--[[
services(): every service with its dests and counters, as the kernel has
them, or nil, err. One dump per service; yields between them (pace).
]]
function ipvs.services()
    local list, err = core.list_services()
    if not list then return nil, err end
    for _, s in ipairs(list) do
        pace()
        s.dests, err = core.list_dests(s)
        if not s.dests then return nil, err end
    end
    return list
end

--[[
The operations that turn the table current into desired (both normalized):
adds and edits first, then the deletions, so that a real server moving
between services is never missing from both. An edit keeps what it
replaces (old), for undo_of.
]]
local function diff(current, desired, prune)
    local cur = index(current)
    local ops, dels = {}, {}
    local n = 0
    local function add(o, sv, d, old)
        n = n + 1
        ops[n] = { op = o, service = sv, dest = d, old = old }
    end
    for _, want in ipairs(desired) do
        pace()
        local have = cur[want.key]
        if not have then
            add("add_service", want)
            for _, d in ipairs(want.dests) do add("add_dest", want, d) end
        else
            if differs(want, have, service_settings) then add("edit_service", want, nil, have) end
            local have_dests = index(have.dests)
            for _, d in ipairs(want.dests) do
                local hd = have_dests[d.key]
                if not hd then
                    add("add_dest", want, d)
                elseif differs(d, hd, dest_settings) then
                    add("edit_dest", want, d, hd)
                end
            end
            if prune then
                local want_dests = index(want.dests)
                for _, hd in ipairs(have.dests) do
                    if not want_dests[hd.key] then dels[#dels + 1] = { op = "del_dest", service = have, dest = hd } end
                end
            end
        end
    end
    if prune then
        local want = index(desired)
        for _, have in ipairs(current) do
            if not want[have.key] then dels[#dels + 1] = { op = "del_service", service = have } end
        end
    end
    for _, o in ipairs(dels) do n = n + 1 ops[n] = o end
    return ops
end

-- The operations that undo op (old holds what an edit replaced).
local function undo_of(op)
    local s, d = op.service, op.dest
    if op.op == "add_service" then return { { op = "del_service", service = s } } end
    if op.op == "add_dest" then return { { op = "del_dest", service = s, dest = d } } end
    if op.op == "edit_service" then return { { op = "edit_service", service = op.old } } end
    if op.op == "edit_dest" then return { { op = "edit_dest", service = s, dest = op.old } } end
    if op.op == "del_dest" then return { { op = "add_dest", service = s, dest = d } } end
    local undo = { { op = "add_service", service = s } }
    for _, hd in ipairs(s.dests) do undo[#undo + 1] = { op = "add_dest", service = s, dest = hd } end
    return undo
end

--[[
Sends ops in batches, yielding between them so that no batch holds the loop
much longer than `slice`. Stops after the first batch with a failure.
Returns true, or nil, the first failure, its operation's text and the
operations that succeeded (the kernel goes on after a failure in a batch).
]]
local function send(ops)
    local i, size, done = 1, 256, {}
    while i <= #ops do
        local batch = {}
        for j = i, math.min(i + size - 1, #ops) do batch[#batch + 1] = ops[j] end
        local t0 = os.clock()
        local results, err = core.batch(batch)
        if not results then return nil, err, op_text(batch[1]), done end
        local failed
        for j, r in ipairs(results) do
            if r == true then
                done[#done + 1] = batch[j]
            elseif not failed then
                failed = j
                err = r
            end
        end
        if failed then return nil, err, op_text(batch[failed]), done end
        local took = os.clock() - t0
        size = math.max(1, math.min(256, math.floor(size * (took > 0 and slice / took or 2))))
        i = i + #batch
        if i <= #ops then pace() end
    end
    return true
end

local function normalize_all(services, level)
    if type(services) ~= "table" then
        error("ipvs.apply: desired must be an array of services", level)
    end
    local out, seen = {}, {}
    for i, s in ipairs(services) do
        pace()
        local ok, n = pcall(core.normalize, s)
        if not ok then error(("ipvs.apply: service %d: %s"):format(i, n), level) end
        if seen[n.key] then error(("ipvs.apply: service %d repeats %s"):format(i, n.key), level) end
        seen[n.key] = true
        local dseen = {}
        for j, d in ipairs(n.dests) do
            if dseen[d.key] then
                error(("ipvs.apply: service %d: destination %d repeats %s"):format(i, j, d.key), level)
            end
            dseen[d.key] = true
        end
        out[i] = n
    end
    return out
end

local apply_options = { dry_run = true, prune = true, current = true }

-- The table after applying want to current without pruning: want, plus what only current has.
local function merged(current, want)
    local out, cur, seen = {}, index(current), {}
    for i, s in ipairs(want) do
        local have = cur[s.key]
        seen[s.key] = true
        if have then
            local dests, by = {}, index(s.dests)
            for j, d in ipairs(s.dests) do dests[j] = d end
            for _, hd in ipairs(have.dests) do
                if not by[hd.key] then dests[#dests + 1] = hd end
            end
            local copy = {}
            for k, v in pairs(s) do copy[k] = v end
            copy.dests = dests
            s = copy
        end
        out[i] = s
    end
    for _, have in ipairs(current) do
        if not seen[have.key] then out[#out + 1] = have end
    end
    return out
end

-- One apply at a time: two interleaved would each diff against a table the other is changing.
local applying = false

--[[
apply(desired [, {dry_run=, prune=true, current=}]): makes the kernel's
table equal to desired with the fewest operations. Returns a report
{added=, changed=, removed=, ops={...}, table=} (ops as ipvsadm command
lines; table the kernel's table afterwards, normalized), or nil and
"<operation>: <kernel's reason> (<ipvsadm line>)" after undoing what had
been done. current, a previous report's table, saves reading the kernel
(a dump per service); if the kernel was changed behind it an operation
fails, what was done is undone, and the caller applies again without it. Malformed
input raises before anything is sent. May yield.
]]
function ipvs.apply(desired, opts)
    opts = opts or {}
    for k in pairs(opts) do
        if not apply_options[k] then error("ipvs.apply: unknown option '" .. tostring(k) .. "'", 2) end
    end
    local want = normalize_all(desired, 3)
    while applying do
        if not can_yield() then return nil, "ipvs.apply: another apply is running" end
        task.sleep(0.001)
    end
    applying = true
    local _unlock <close> = setmetatable({}, { __close = function() applying = false end }) -- luacheck: ignore 211
    local current = opts.current
    if not current then
        local err
        current, err = ipvs.services()
        if not current then return nil, err end
    end
    local ops = diff(current, want, opts.prune ~= false)
    local report = { added = 0, changed = 0, removed = 0, ops = {},
        table = opts.prune == false and merged(current, want) or want }
    for i, op in ipairs(ops) do
        if i % 100 == 0 then pace() end
        report.ops[i] = op_text(op)
        local kind = op.op:match("^(%a+)_")
        if kind == "add" then report.added = report.added + 1
        elseif kind == "edit" then report.changed = report.changed + 1
        else report.removed = report.removed + 1 end
    end
    if opts.dry_run then report.table = current end
    if opts.dry_run or #ops == 0 then return report end
    local ok, ferr, text, done = send(ops)
    if ok then return report end
    -- Undo what was done, last first.
    local undo = {}
    for i = #done, 1, -1 do
        for _, u in ipairs(undo_of(done[i])) do undo[#undo + 1] = u end
    end
    local undone, uerr, utext = true, nil, nil
    if #undo > 0 then undone, uerr, utext = send(undo) end
    if not undone then
        return nil, ("%s (%s); undo failed: %s (%s)"):format(ferr, text, uerr, utext)
    end
    return nil, ("%s (%s)"):format(ferr, text)
end

-- Orders as ipvsadm does: fwmark, family, protocol, address, port; each compared as a C int difference.
local function c_diff(a, b)
    local d = (a - b) & 0xffffffff
    return d >= 0x80000000 and d - 0x100000000 or d
end

local function addr_words(address)
    local words = {}
    if address:find(":", 1, true) then
        -- expand an IPv6 address into eight 16-bit groups, then four 32-bit words
        local head, tail = address:match("^(.-)::(.*)$")
        local groups = {}
        local function split(s, into)
            for g in s:gmatch("[^:]+") do into[#into + 1] = tonumber(g, 16) end
        end
        if head then
            local h, t = {}, {}
            split(head, h); split(tail, t)
            for _, g in ipairs(h) do groups[#groups + 1] = g end
            for _ = 1, 8 - #h - #t do groups[#groups + 1] = 0 end
            for _, g in ipairs(t) do groups[#groups + 1] = g end
        else
            split(address, groups)
        end
        for i = 1, 4 do words[i] = groups[2 * i - 1] * 65536 + groups[2 * i] end
    else
        local a, b, c, d = address:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
        words[1] = ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
    end
    return words
end

local proto_numbers = { tcp = 6, udp = 17, sctp = 132 }

local function compare_addr(a, b)
    local wa, wb = addr_words(a), addr_words(b)
    local r = 0
    for i = 1, #wa do
        r = c_diff(wa[i], wb[i] or 0)
        if r ~= 0 then return r end
    end
    return r
end

local function service_before(a, b)
    local r = c_diff(a.fwmark or 0, b.fwmark or 0)
    if r == 0 then r = (a.family == "inet6" and 10 or 2) - (b.family == "inet6" and 10 or 2) end
    if r == 0 then r = (proto_numbers[a.protocol] or 0) - (proto_numbers[b.protocol] or 0) end
    if r == 0 and a.address and b.address then r = compare_addr(a.address, b.address) end
    if r == 0 then r = (a.port or 0) - (b.port or 0) end
    return r < 0
end

local function dest_before(a, b)
    local r = compare_addr(a.address, b.address)
    if r == 0 then r = a.port - b.port end
    return r < 0
end

local function sorted(list, before)
    local copy = {}
    for i, v in ipairs(list) do copy[i] = v end
    table.sort(copy, before)
    return copy
end

local sched_flag_names = {
    sh = { ["sh-fallback"] = 1, ["sh-port"] = 2 },
}

--[==[
format([services [, info]]): the text `ipvsadm -Ln` prints for the table (the
kernel's when services is nil), byte for byte. info ({version=, conn_tab_size=})
is the kernel's unless given. Returns nil, err when the kernel cannot be read.
]==]
function ipvs.format(services, info)
    local err
    if info == nil then
        info, err = core.info()
        if not info then return nil, err end
    end
    if services == nil then
        services, err = ipvs.services()
        if not services then return nil, err end
    end
    local out = {
        ("IP Virtual Server version %s (size=%d)\n"):format(info.version, info.conn_tab_size),
        "Prot LocalAddress:Port Scheduler Flags\n",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
    }
    for _, s in ipairs(sorted(services, service_before)) do
        local name
        if s.fwmark then
            name = ("FWM  %d%s"):format(s.fwmark, s.family == "inet6" and " IPv6" or "")
        else
            name = ("%-4s %s"):format(proto_names[s.protocol], addrport(s.family, s.address, s.port))
            if s.family ~= "inet6" then name = name:sub(1, 33) end
        end
        local line = { name, " ", s.scheduler }
        local flags = s.flags or {}
        if #flags > 0 then
            local shown = {}
            local known = sched_flag_names[s.scheduler] or {}
            for _, f in ipairs(flags) do
                if f ~= "ops" and (known[f] or f:match("^flag%-%d$")) then shown[#shown + 1] = f end
            end
            if #shown > 0 then line[#line + 1] = " (" .. table.concat(shown, ",") .. ")" end
        end
        if s.persistent then
            line[#line + 1] = " persistent " .. s.persistent
            if s.netmask ~= "255.255.255.255" and s.netmask ~= 128 and s.netmask ~= nil then
                line[#line + 1] = " mask " .. s.netmask
            end
            if s.pe then line[#line + 1] = " pe " .. s.pe end
        end
        for _, f in ipairs(flags) do
            if f == "ops" then line[#line + 1] = " ops" end
        end
        out[#out + 1] = table.concat(line) .. "\n"
        for _, d in ipairs(sorted(s.dests or {}, dest_before)) do
            local dname = addrport(d.address:find(":", 1, true) and "inet6" or "inet", d.address, d.port)
            if s.family ~= "inet6" then dname = dname:sub(1, 28) end
            out[#out + 1] = ("  -> %-28s %-7s %-6d %-10d %-10d\n"):format(dname, fwd_names[d.forward],
                d.weight, d.active_conns or 0, d.inactive_conns or 0)
        end
    end
    return table.concat(out)
end

return ipvs
