-- lua/luaha/ipvs.lua: luaha.ipvs: the kernel table (luaha.core.ipvs), apply as one difference, ipvsadm text.
-- SPDX-License-Identifier: GPL-2.0-or-later
local core = require "luaha.core.ipvs"
local task = require "luaha.core.task"
local now = require("luaha.core.timer").now

local ipvs = {}
-- new_table, merge and diff are apply's own.
local internal = { new_table = true, merge = true, diff = true }
for name, fn in pairs(core) do
    if not internal[name] then ipvs[name] = fn end
end

-- A batch is sized so that the kernel's work between two yields stays near this many seconds.
local slice = 0.005

local fwd_names = { dr = "Route", nat = "Masq", tun = "Tunnel", ["local"] = "Local" }
local proto_names = { tcp = "TCP", udp = "UDP", sctp = "SCTP" }

local function addrport(family, address, port)
    if family == "inet6" or address:find(":", 1, true) then
        return ("[%s]:%d"):format(address, port)
    end
    return ("%s:%d"):format(address, port)
end

--[[
Every request of luaha.core.ipvs waits in its task for the kernel's answer
(outside a task it blocks). Long loops call pace() as well: inside a task
it yields once `slice` seconds have passed since the last yield (pace(true):
now), so a large apply never holds the loop (and the heartbeats behind it)
for long. Outside a task it does nothing.
deadline() is when the C loops of apply should hand back to pace(): nil,
no limit, outside a task.
]]
local last_yield = 0

local function can_yield()
    return task.current() ~= nil and coroutine.isyieldable()
end

local function pace(always)
    if (always or now() - last_yield >= slice) and can_yield() then
        task.breathe()
        last_yield = now()
    end
end

local function deadline()
    if can_yield() then return last_yield + slice end
    return nil
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
apply works on tables held in C (luaha.core.ipvs new_table): the desired
one, loaded from Lua, and the current one, read from the kernel or given.
The report's table and ops are Lua tables filled on first use (lazy): an
apply of thousands of entries would otherwise spend more time building them
than the kernel spends carrying the operations out. A report's table that
has not been looked at from Lua keeps its C table (snapshots), so that
passing it back as current costs nothing; once filled, it may have been
changed, and is read like any other table.
]]
local fillers = setmetatable({}, { __mode = "k" })    -- lazy table -> function filling it
local snapshots = setmetatable({}, { __mode = "k" })  -- report table -> its C table

local function fill(p)
    local f = fillers[p]
    if f then
        fillers[p], snapshots[p] = nil, nil
        setmetatable(p, nil)
        f(p)
    end
end

local function lazy_mt(describe)
    return {
        __index = function(p, k) fill(p) return rawget(p, k) end,
        __newindex = function(p, k, v) fill(p) rawset(p, k, v) end,
        __len = function(p) fill(p) return rawlen(p) end,
        __pairs = function(p) fill(p) return next, p, nil end,
        __tostring = describe,
    }
end

local table_mt = lazy_mt(function(p)
    local nsvcs, ndests = snapshots[p]:size()
    return ("ipvs table (%d services, %d real servers)"):format(nsvcs, ndests)
end)
local ops_mt = lazy_mt(function() return "ipvs operations" end)

local function lua_table(t)
    local p = setmetatable({}, table_mt)
    fillers[p] = function(into) t:fill(into) end
    snapshots[p] = t
    return p
end

-- The report's ops, and whether they were filled now (small ones, as most are).
local function lua_ops(ops)
    local p = {}
    if ops:count() <= 100 then
        ops:texts(p)
        return p, true
    end
    setmetatable(p, ops_mt)
    fillers[p] = function(into) ops:texts(into) end
    return p, false
end

-- The C table of a Lua array of services; raises (at level) naming what and the service on bad input.
local function load(list, what, level)
    if type(list) ~= "table" then
        error(("ipvs.apply: %s must be an array of services"):format(what), level)
    end
    local t = snapshots[list]
    if t then return t end
    t = core.new_table()
    local i = 1
    while true do
        local ok, done, nxt, key, j = pcall(t.load, t, list, i, deadline())
        if not ok then
            error(("ipvs.apply: %sservice %d: %s"):format(what == "desired" and "" or what .. ": ",
                t:size() + 1, done), level)
        end
        if done == nil then
            local prefix = what == "desired" and "" or what .. ": "
            if j then
                error(("ipvs.apply: %sservice %d: destination %d repeats %s"):format(prefix, nxt, j, key), level)
            end
            error(("ipvs.apply: %sservice %d repeats %s"):format(prefix, nxt, key), level)
        end
        if done then return t end
        i = nxt
        pace()
    end
end

-- The kernel's table, read into C; yields between dumps (pace).
local function read()
    local t = core.new_table()
    while true do
        local done, err = t:read(deadline())
        if done == nil then return nil, err end
        if done then return t end
        pace()
    end
end

--[[
Sends ops in batches, yielding between them (always: a fast kernel may carry
out a whole apply within one slice) so that no batch holds the loop much
longer than `slice`. The kernel carries a batch out inside the system call
that sends it, which is what holds the loop; the answer is then waited for
in the task (ops:send). A cold load of 10 000 real servers in 1000 services
is 11 000 operations: about 45 batches, each holding the loop about 5 ms
(at most 256 operations), the first of 64. Stops after the first batch with
a failure.
Returns true, or nil, the first failure and its operation's text; ops
marks those the kernel carried out (it goes on after a failure in a batch).
]]
local function send(ops)
    local n = ops:count()
    local i, size = 1, 64
    while i <= n do
        pace(i > 1)
        local k = math.min(size, n - i + 1)
        local t0 = now()
        local ok, j, err = ops:send(i, k)
        if ok == nil then return nil, j, ops:text(i) end
        if not ok then return nil, err, ops:text(j) end
        local took = now() - t0
        -- The kernel's time per operation varies (a flush leaves work behind): grow slowly.
        size = math.max(1, math.min(256, 2 * k, math.floor(k * (took > 0 and slice / took or 2))))
        i = i + k
    end
    return true
end

local apply_options = { dry_run = true, prune = true, current = true, owned = true, exclusive = true, partial = true }

-- One apply at a time: two interleaved would each diff against a table the other is changing.
local applying = false

--[[
apply(desired [, {dry_run=, prune=true, current=, owned=, exclusive=, partial=}]):
makes the kernel's table of the caller's services equal to desired with the
fewest operations. The caller's services are those desired names, with all
their real servers (they are taken over as the kernel has them); those of
current (a previous report's table, which then stands for the kernel's table
and saves reading it, a dump per service) and of owned (an array of services,
only their identity read); or, with exclusive, every service in the kernel.
Any other service is another program's and stays as it is.
With partial (which needs current, and refuses dry_run, owned, exclusive and
prune = false), desired is only some of the caller's services, the others
staying as current has them: the report's table is current with desired's
services replaced, patched in place (current itself, when it is a report's
table that Lua has not filled: operations made on it before refuse to be
used). A health change then costs what changed, not the whole table.
Returns a report {added=, changed=, removed=, ops={...}, table=} (ops as
ipvsadm command lines; table the caller's services afterwards, normalized:
desired, or merged with what stays without prune), or nil and
"<operation>: <kernel's reason> (<ipvsadm line>)" after undoing what had
been done. If the kernel was changed behind current an operation fails,
what was done is undone, and the caller applies again without it.
Malformed input raises before anything is sent. May yield.
]]
function ipvs.apply(desired, opts)
    opts = opts or {}
    for k in pairs(opts) do
        if not apply_options[k] then error("ipvs.apply: unknown option '" .. tostring(k) .. "'", 2) end
    end
    if opts.exclusive ~= nil and type(opts.exclusive) ~= "boolean" then
        error("ipvs.apply: exclusive must be a boolean", 2)
    end
    local partial = opts.partial
    if partial and (not opts.current or opts.dry_run or opts.owned or opts.exclusive or opts.prune == false) then
        error("ipvs.apply: partial needs current, and takes no dry_run, owned, exclusive or prune = false", 2)
    end
    local want = load(desired, "desired", 3)
    -- true: every service of the table compared is the caller's; a C table: those it names.
    local owner = not partial and (opts.exclusive or (opts.current and true)) or false
    if not owner and opts.owned ~= nil then owner = load(opts.owned, "owned", 3) end
    while applying do
        if not can_yield() then return nil, "ipvs.apply: another apply is running" end
        task.sleep(0.001)
    end
    applying = true
    local _unlock <close> = setmetatable({}, { __close = function() applying = false end }) -- luacheck: ignore 211
    local current, err
    if opts.current then
        current = load(opts.current, "current", 3)
    else
        current, err = read()
        if not current then return nil, err end
    end
    local prune = opts.prune ~= false
    local ops = core.diff(current, want, prune, owner)
    local n, added, changed, removed = ops:count()
    local texts, filled = lua_ops(ops)
    local report = { added = added, changed = changed, removed = removed, ops = texts }
    if partial then
        -- The ops point into current, which the patch changes: their text is taken now.
        if not filled then texts, filled = {}, true ops:texts(texts) report.ops = texts end
        report.table = snapshots[opts.current] == current and opts.current or lua_table(current)
    else
        report.table = lua_table(prune and want or core.merge(want, current, owner))
    end
    if opts.dry_run then return report end
    --[[
    Memory first touched is what a large apply costs most in UML (a page
    fault there costs about as much as a kernel operation): what nothing
    will read again is given back now for the next apply, not at the next
    collection. The ops are needed later only to fill a lazy report.ops;
    a table read from the kernel only by them.
    ]]
    local _free <close> = setmetatable({}, { __close = function() -- luacheck: ignore 211
        if not filled then return end
        ops:close()
        if not opts.current then current:close() end
    end })
    if n == 0 then return report end
    local ok, ferr, text = send(ops)
    if ok then
        if partial then current:patch(want) end
        return report
    end
    -- Undo what was done, last first.
    local undo <close> = ops:undo()
    local undone, uerr, utext = true, nil, nil
    if undo:count() > 0 then undone, uerr, utext = send(undo) end
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
    mh = { ["mh-fallback"] = 1, ["mh-port"] = 2 },
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
