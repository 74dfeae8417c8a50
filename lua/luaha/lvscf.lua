-- lua/luaha/lvscf.lua: reads and writes Piranha's lvs.cf and Lua configs into one config model.
--[==[
The model (what parse, load, load_lua and load_any return; what write takes):

    {
        serial_no = 0, primary = "192.0.2.210", service = "lvs", backup_active = true, ...
                                  -- every global option below, by its lvs.cf name
        nat_router = "192.0.2.254", nat_router_device = "eth1:1",   -- `nat_router = IP DEVICE`
        virtuals = {              -- `virtual NAME { ... }` blocks, in file order
            { name = "web", address = "192.0.2.212", device = "eth0:1", port = 80, ...,
              servers = {         -- `server NAME { ... }` blocks, in file order
                  { name = "rs204", address = "192.0.2.204", active = true, weight = 1, port = 80 },
              } },
        },
        failovers = { ... },      -- `failover NAME { ... }` blocks: the same fields as a virtual
    }

Booleans (`active`, `use_regex`, ...) are Lua booleans; `monitor_links` is true for any non-zero
value, as in Piranha. Integers are numbers; ports are numbers even when written as service names.
`send` and `expect` hold the bytes nanny would use, escapes (\r \n \t \\ \' \") already translated;
other strings are kept exactly as written, without their quotes. An option Piranha leaves unset
and gives no default (`vip_nmask`, `send`, `sorry_server`, ...) is nil. Host names are kept as
written; whoever uses the address resolves it.

luaha extensions, marked `ext` in the tables below: `keepalive`, `deadtime`, `check_interval`,
`reconcile` and `garp_interval` take fractional seconds; `rise` (good checks to come back; nil:
reentry / timeout as in nanny), `fall` (failed checks to go down, default 1), `check_interval`
(nil: timeout), `weight_ramp` (nanny's slow start, default on), `half_open` (a SYN, no connection,
as the check), `heartbeat_key` (a key file for
authenticated heartbeats), `garp_count` and `garp_interval` (gratuitous ARPs at takeover),
`garp_refresh` (seconds between the single ARPs that keep announcing the VIPs while active, 0 off),
`status_listen` (where luaha answers status queries over HTTP) and `status_passwd` (its users).

Errors read `FILE:LINE: [virtual "NAME": [server "NAME": ]]OPTION: PROBLEM` with Piranha's own message
text in the problem, so operators' grep patterns still match. Every error in a file is reported.
Where Piranha accepted something doubtful (repeated keys, octal integers, text after `}`, keys
that mean nothing in their block), the file is accepted and a warning says so.
]==]
local lvscf = {}

--[[
breathe(): called for each line, block and server. A configuration of tens of thousands of real
servers takes seconds to read: inside a luaha task, the other tasks (heartbeats, checks) run
every few hundred steps, and the task stays within its instruction budget.
]]
local steps = 0
local function breathe()
    steps = steps + 1
    if steps % 256 ~= 0 or not coroutine.isyieldable() then return end
    local task = require "luaha.core.task"
    if task.current() then task.sleep(0) end
end

-- Option tables: type, default, range or valid values. `n` is the number of value tokens.
local globals = {
    { "serial_no", "int", 0, min = 0 },
    { "primary", "host" },
    { "primary_private", "host" },
    { "primary_shared", "str" },
    { "service", "enum", "lvs", values = { "lvs", "fos" } },
    { "backup_active", "bool", false },
    { "backup", "host" },
    { "backup_private", "host" },
    { "backup_shared", "str" },
    { "heartbeat", "bool", false },
    { "heartbeat_port", "port", 539 },
    { "keepalive", "secs", 2, frac = true, positive = true },
    { "deadtime", "secs", 5, frac = true, positive = true },
    { "network", "enum", "nat", values = { "direct", "nat", "tunnel" } },
    { "nat_router", "ipdev", device = "nat_router_device" },
    { "nat_nmask", "mask" },
    { "reservation_conflict_action", "enum", values = { "nothing", "preempt" } },
    { "debug_level", "str", "NONE" },
    { "rsh_command", "str", "rsh" },
    { "sync", "bool", false },
    { "ipvsadm", "str", "/sbin/ipvsadm" },
    { "monitor_links", "flag", false },
    { "syncdaemon", "bool", false },
    { "syncd_iface", "str", "eth0" },
    { "syncd_id", "int", 0, min = 0 },
    { "tcp_timeout", "secs", 0 },
    { "tcpfin_timeout", "secs", 0 },
    { "udp_timeout", "secs", 0 },
    { "hard_shutdown", "bool", true },
    { "active_cmd", "str" },
    { "inactive_cmd", "str" },
    { "reconcile", "secs", 10, frac = true, positive = true, ext = true },
    { "heartbeat_key", "str", ext = true },
    { "garp_count", "int", 5, min = 0, max = 100, ext = true },
    { "garp_interval", "secs", 1, frac = true, positive = true, ext = true },
    { "garp_refresh", "secs", 10, frac = true, min = 0, ext = true },
    { "status_listen", "str", ext = true },
    { "status_passwd", "str", ext = true },
    { "heartbeat_rt_priority", "int", 10, min = 0, max = 99, ext = true },
    { "heartbeat_lock_memory", "bool", true, ext = true },
}

local schedulers = { "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos" }

-- virtual and failover blocks share one option table, as they share one parser in Piranha.
local blocks = {
    { "active", "bool", false },
    { "address", "ipdev", device = "device", required = true },
    { "vip_nmask", "mask" },
    { "sorry_server", "ip" },
    { "fwmark", "int", 0, min = 0, max = 4294967295 },
    { "protocol", "enum", "tcp", values = { "tcp", "udp" } },
    { "port", "port", 80 },
    { "scheduler", "enum", "wlc", values = schedulers },
    { "persistent", "secs", 0 },
    { "pmask", "mask" },
    { "send", "str", escapes = true },
    { "expect", "str", escapes = true },
    { "use_regex", "bool", false },
    { "send_program", "str" },
    { "timeout", "secs", 10, min = 1 },
    { "reentry", "secs", 180 },
    { "load_monitor", "word", "none", known = { "none", "uptime", "rup", "ruptime" } },
    { "quiesce_server", "bool", false },
    { "client_monitor", "str", "/usr/sbin/nanny" },
    { "start_cmd", "str" },
    { "stop_cmd", "str" },
    { "master", "host" },
    { "dirs", "list" },
    { "rise", "int", min = 1, max = 1000, ext = true },
    { "fall", "int", 1, min = 1, max = 1000, ext = true },
    { "check_interval", "secs", frac = true, positive = true, ext = true },
    { "weight_ramp", "bool", true, ext = true },
    { "half_open", "bool", false, ext = true },
}

local servers = {
    { "address", "host", required = true },
    { "active", "bool", false },
    { "weight", "int", 1, min = 0, max = 65535 },
    { "port", "int", min = 1, max = 65535, numeric_port = true },
}

-- Keys a failover block uses (spec 2.4); any other key there is accepted, as Piranha did, with a warning.
local failover_uses = {
    active = true, address = true, vip_nmask = true, port = true, protocol = true, send = true,
    expect = true, send_program = true, timeout = true, start_cmd = true, stop_cmd = true,
    client_monitor = true, reentry = true, use_regex = true, rise = true, fall = true,
    check_interval = true, master = true, dirs = true,
}

local function index(tbl)
    for _, o in ipairs(tbl) do
        o.key, o.type, o.default = o[1], o[2], o[3]
        tbl[o.key] = o
    end
    return tbl
end
index(globals)
index(blocks)
index(servers)

local function quote(s)
    return '"' .. tostring(s) .. '"'
end

local function in_list(list, v)
    for _, x in ipairs(list) do
        if x == v then return true end
    end
    return false
end

-- Value checks on Lua values, shared by both readers: each returns the value or nil, problem.
local function dotted_quad(s)
    if type(s) ~= "string" then return nil end
    local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if not a then return nil end
    local n = 0
    for _, x in ipairs({ a, b, c, d }) do
        if #x > 3 or tonumber(x) > 255 then return nil end
        n = n * 256 + tonumber(x)
    end
    return n
end

local function check_host(s)
    if dotted_quad(s) then
        if dotted_quad(s) == 0 then return nil, "invalid host name or ip address " .. quote(s) end
        return s
    end
    if type(s) == "string" and #s <= 253 and not s:match("^[%d.]+$") then
        local ok = true
        for label in (s .. "."):gmatch("([^.]*)%.") do
            if not label:match("^%w[%w-]*$") or label:match("-$") or #label > 63 then ok = false end
        end
        if ok then return s end
    end
    return nil, "invalid host name or ip address " .. quote(s)
end

local function check_mask(s)
    local n = dotted_quad(s)
    if n then
        local inv = 4294967295 - n           -- a netmask's complement is 2^k - 1
        if (inv + 1) & inv == 0 then return s end
    end
    return nil, "Bad subnet mask specified: " .. quote(s)
end

local function check_number(v, o)
    if type(v) ~= "number" or (not o.frac and math.type(v) ~= "integer" and v ~= math.floor(v)) then
        return nil, (o.frac and "number" or "integer") .. " expected, got " .. quote(v)
    end
    if v ~= v or (not o.frac and not math.tointeger(v)) then
        return nil, (o.frac and "number" or "integer") .. " expected, got " .. tostring(v)
    end
    if not o.frac then v = math.tointeger(v) end
    local min = o.min or 0
    if v < min or (o.max and v > o.max) or (o.positive and v <= 0) then
        local range = o.positive and "greater than 0" or (o.max and (min .. ".." .. o.max) or (">= " .. min))
        return nil, "out of range: " .. tostring(v) .. " (must be " .. range .. ")"
    end
    return v
end

local function check_string(v, o)
    if type(v) ~= "string" then return nil, "string expected, got " .. type(v) end
    if not o.escapes and v:find("[\r\n]") then return nil, "must be one line" end
    return v
end

local checks = {
    int = check_number,
    secs = check_number,
    port = function(v)
        return check_number(v, { min = 1, max = 65535 })
    end,
    bool = function(v)
        if v == 0 or v == 1 then return v == 1 end
        if type(v) ~= "boolean" then return nil, "boolean expected (0 or 1), got " .. quote(v) end
        return v
    end,
    flag = function(v)
        if type(v) == "number" and math.type(v) == "integer" then return v ~= 0 end
        if type(v) ~= "boolean" then return nil, "integer expected, got " .. quote(v) end
        return v
    end,
    enum = function(v, o)
        if not in_list(o.values, v) then
            return nil, "unknown " .. o.key .. " " .. quote(v) .. " (invalid argument; valid: "
                .. table.concat(o.values, ", ") .. ")"
        end
        return v
    end,
    word = check_string,
    str = check_string,
    host = check_host,
    ipdev = check_host,
    ip = function(v)
        if dotted_quad(v) and dotted_quad(v) ~= 0 then return v end
        return nil, "invalid host name or ip address " .. quote(v) .. " (a dotted quad is needed)"
    end,
    mask = check_mask,
    list = function(v)
        if type(v) ~= "table" then return nil, "list expected" end
        for i, w in ipairs(v) do
            if type(w) ~= "string" or w == "" or w:find("[%s\"']") then
                return nil, "list expected: item " .. i .. " is not a word"
            end
        end
        return v
    end,
}

-- lvs.cf token readers: tokens → Lua value, or nil, problem; a third result is a warning.
local services_cache
local function service_port(name)
    if not services_cache then
        services_cache = {}
        local f = io.open("/etc/services")
        if f then
            for line in f:lines() do
                local words = {}
                for w in line:gsub("#.*", ""):gmatch("%S+") do words[#words + 1] = w end
                local port = words[2] and words[2]:match("^(%d+)/tcp$")
                if port then
                    for i = 1, #words do
                        if i ~= 2 and not services_cache[words[i]] then services_cache[words[i]] = tonumber(port) end
                    end
                end
            end
            f:close()
        end
    end
    return services_cache[name]
end

-- C strtol(s, 0): 0x hex and leading-zero octal, as Piranha read integers.
local function strtol(s)
    local sign, body = s:match("^([+-]?)(.+)$")
    if not body then return nil end
    local v
    if body:match("^0[xX]%x+$") then
        v = tonumber(body:sub(3), 16)
    elseif body:match("^0[0-7]+$") then
        v = tonumber(body, 8)
    elseif body:match("^%d+$") then
        v = tonumber(body)
    end
    if not v then return nil end
    v = math.tointeger(v)
    if not v then return nil end
    local warn
    if body:match("^0[0-7]+$") then
        warn = quote(s) .. " is octal (= " .. v .. "), as Piranha read it; drop the leading zero for decimal"
    end
    return sign == "-" and -v or v, warn
end

local function read_number(s, o)
    local v, warn = strtol(s)
    if not v and o.frac and s:match("^%d*%.?%d+$") then v = tonumber(s) end
    if not v then return nil, (o.frac and "number" or "integer") .. " expected, got " .. quote(s) end
    return v, nil, warn
end

local readers = {
    int = read_number,
    secs = read_number,
    flag = read_number,
    port = function(s, o)
        if s:match("^%d") or s:match("^[+-]") or o.numeric_port then return read_number(s, o) end
        local p = service_port(s)
        if not p then return nil, "invalid argument: unknown service name " .. quote(s) end
        return p
    end,
    bool = function(s)
        local v = strtol(s)
        if v == nil then return nil, "integer expected, got " .. quote(s) end
        if v ~= 0 and v ~= 1 then return nil, "boolean expected (0 or 1), got " .. quote(s) end
        return v
    end,
}

local function unescape(s)
    local map = { n = "\n", r = "\r", t = "\t", ["\\"] = "\\", ["'"] = "'", ['"'] = '"' }
    return (s:gsub("\\(.)", function(c) return map[c] or "\\" .. c end))
end

-- Splits a line into tokens. A quoted token runs to its matching quote; in send/expect (esc) a
-- backslash escapes the next character, so \" does not end it. Returns tokens or nil, problem.
local function tokenize(line, esc)
    local toks, quoted = {}, {}
    if not line:find("[\"']") then         -- most lines: the runs of non-blanks (find: gmatch allocates)
        local from, to = line:find("[^ \t\r]+")
        while from do
            toks[#toks + 1] = line:sub(from, to)
            from, to = line:find("[^ \t\r]+", to + 1)
        end
        return toks, quoted
    end
    local i, n = 1, #line
    while i <= n do
        local c = line:sub(i, i)
        if c == " " or c == "\t" or c == "\r" then
            i = i + 1
        elseif c == '"' or c == "'" then
            local j = i + 1
            while j <= n and line:sub(j, j) ~= c do
                j = j + ((esc and line:sub(j, j) == "\\") and 2 or 1)
            end
            if j > n then return nil, "quotation mismatch" end
            toks[#toks + 1] = line:sub(i + 1, j - 1)
            quoted[#toks] = true
            i = j + 1
        else
            local j = line:find("[ \t\r]", i) or n + 1
            toks[#toks + 1] = line:sub(i, j - 1)
            i = j
        end
    end
    return toks, quoted
end

local function fill_defaults(dst, opts)
    breathe()
    for _, o in ipairs(opts) do
        if dst[o.key] == nil and o.default ~= nil then dst[o.key] = o.default end
    end
end

local function context(blk, srv)
    local s = ""
    if blk then s = blk.kind .. " " .. quote(blk.name) .. ": " end
    if srv then s = s .. "server " .. quote(srv.name) .. ": " end
    return s
end

--[[
Whole-model checks that need more than one option: errors and warnings through the callbacks.
clean: the blocks (from a parse cache) already known to have no two servers of one name.
]]
local function cross_check(m, err, warn, clean)
    if m.backup_active and not m.backup then
        warn(nil, "backup_active", "set without backup; treated as 0, as Piranha does")
        m.backup_active = false
    end
    if m.backup_active and m.heartbeat == false then
        warn(nil, "heartbeat", "0 with backup_active = 1: heartbeats are sent anyway, as Piranha did")
    end
    if (m.primary_private == nil) ~= (m.backup_private == nil) then
        warn(nil, m.primary_private and "primary_private" or "backup_private",
            "set without its partner; the private heartbeat path needs both primary_private and backup_private")
    end
    if m.deadtime <= m.keepalive then
        warn(nil, "deadtime", "not longer than keepalive: every missed heartbeat is a failover")
    end
    if m.nat_nmask and not m.nat_router then warn(nil, "nat_nmask", "set without nat_router") end
    for _, kind in ipairs({ "virtuals", "failovers" }) do
        local seen = {}
        for _, b in ipairs(m[kind]) do
            local first = seen[b.name]
            if first then
                err(b, nil, "name", "duplicate " .. b.kind .. " name " .. quote(b.name)
                    .. (first ~= true and (" (first at line " .. first .. ")") or ""))
            end
            seen[b.name] = b.line or true
            if b.pmask == "255.255.255.255" then b.pmask = nil end
            local sseen = {}
            for _, s in ipairs(clean and clean[b] and {} or b.servers) do
                local sfirst = sseen[s.name]
                if sfirst then
                    err(b, s, "name", "duplicate server name " .. quote(s.name)
                        .. (sfirst ~= true and (" (first at line " .. sfirst .. ")") or ""))
                end
                sseen[s.name] = s.line or true
            end
            if b.half_open and (b.protocol ~= "tcp" or b.send or b.expect or b.send_program) then
                err(b, nil, "half_open", "a half-open check only connects: it takes no send, expect or"
                    .. " send_program, and protocol tcp")
            end
            if b.kind == "failover" and #b.servers > 0 then
                warn(b, "server", "server blocks in a failover block are not used")
            end
        end
    end
end

-- Messages in line order (checks made after the whole file was read come last otherwise).
local function by_line(list)
    local keyed = {}
    for i, msg in ipairs(list) do
        keyed[i] = { tonumber(msg:match("^[^\n]-:(%d+): ")) or 0, i, msg }
    end
    table.sort(keyed, function(a, b) return a[1] < b[1] or a[1] == b[1] and a[2] < b[2] end)
    for i, k in ipairs(keyed) do list[i] = k[3] end
    return list
end

--[[
cache(): a parse cache, for a daemon that reads the same file again. Each `virtual` or `failover`
block, and each of its `server` blocks, that was read without an error or a warning is kept with
its text; a later parse given the cache takes the table of a block whose text is byte for byte
the same instead of reading it again (in a block whose text changed, that of a server of that
block), and write reuses the text it wrote for a table it has seen. It is the table a fresh read
would give: a block's reading depends only on its own lines (a server's also on its block's port
before it), and a block with a message, whose line numbers would differ, is not kept. The checks
between blocks (cross_check) still run on the whole model. The models of parses that share a
cache share those tables: such models are read-only.
]]
-- range(kind, option): the {min =, max =} of an option of kind "global", "virtual" or "server".
function lvscf.range(kind, name)
    local list = ({ global = globals, virtual = blocks, server = servers })[kind]
    for _, o in ipairs(list or {}) do
        if o[1] == name then return { min = o.min, max = o.max } end
    end
    error(("lvscf.range: no %s option %q"):format(tostring(kind), tostring(name)), 2)
end

function lvscf.cache()
    return { blocks = {}, written = setmetatable({}, { __mode = "k" }) }
end

-- parse(text, filename [, cache]): the model, or nil, errors; a third result lists warnings (both arrays of strings).
function lvscf.parse(text, filename, cache)
    filename = filename or "lvs.cf"
    local errors, warnings = {}, {}
    if text == "" then return nil, { filename .. ": Empty configuration" }, warnings end
    local m = { virtuals = {}, failovers = {} }
    local seen_g = {}
    local blk, srv                          -- the open blocks
    local lineno = 0
    if text:sub(-1) ~= "\n" then text = text .. "\n" end
    local pos = 1                           -- where the next line starts
    -- The cache: the previous parse's blocks by opener line (each with its servers, by opener line
    -- and port); this parse's; the tables taken from the cache with their line (set only for
    -- cross_check); the entries taken; the tables cross_check had something to say about.
    local cached_blocks, fresh_blocks = cache and cache.blocks or {}, {}
    local taken, taken_line, taken_kind, used, marked = {}, {}, {}, {}, {}
    local blk_key, blk_at, blk_nmsg         -- the open block's opener line, where it starts, messages before it
    local blk_old, blk_servers              -- its entry of before (text changed), its servers' entries
    local srv_key, srv_at, srv_nmsg

    local function report(list, line, b, s, key, problem)
        list[#list + 1] = string.format("%s:%s %s%s: %s", filename, line and (line .. ":") or "",
            context(b, s), key, problem)
    end
    local function err(line, key, problem) report(errors, line, blk, srv, key, problem) end
    local function warn(line, key, problem) report(warnings, line, blk, srv, key, problem) end

    --[[
    candidate(into, key, tbl, at, first, nmsg): a block read from at (line first) to here is kept if
    it had no message, with the text it was read from (src: the whole text, not a copy).
    ]]
    local function candidate(into, key, tbl, at, first, nmsg)
        if not cache or #errors + #warnings ~= nmsg or into[key] then return nil end
        into[key] = { src = text, at = at, len = pos - at, tbl = tbl, nlines = lineno - first + 1, kind = tbl.kind }
        return into[key]
    end
    local function close_server()
        local s = srv
        fill_defaults(s, servers)
        if s.address == nil and not s.seen.address then
            report(errors, s.line, blk, s, "address", "missing (required)")
        end
        candidate(blk_servers, srv_key, s, srv_at, s.line, srv_nmsg)
        srv = nil
    end
    local function close_block()
        fill_defaults(blk, blocks)
        if blk.address == nil and not blk.seen.address then
            report(errors, blk.line, blk, nil, "address", "missing (required)")
        end
        local e = candidate(fresh_blocks, blk_key, blk, blk_at, blk.line, blk_nmsg)
        if e then e.servers = blk_servers end
        blk = nil
    end

    local function assign(opts, dst, seen, toks, quoted, key)
        local o, first = opts[key], seen[key]
        seen[key] = lineno                  -- even when the value is bad: no "missing" error for it later
        if first then
            warn(lineno, key, "repeated (first at line " .. first .. "); the last one wins")
        end
        local nval = o.type == "ipdev" and 2 or 1
        if o.type == "list" then
            if toks[3] ~= "[" or toks[#toks] ~= "]" or quoted[3] or quoted[#toks] then
                return err(lineno, key, "list expected ([ word ... ])")
            end
            dst[key] = table.move(toks, 4, #toks - 1, 1, {})
        elseif #toks < 2 + nval then
            return err(lineno, key, "missing arguments")
        elseif #toks > 2 + nval then
            return err(lineno, key, "unexpected arguments: " .. quote(table.concat(toks, " ", 3 + nval))
                .. (toks[3 + nval]:sub(1, 1) == "#" and " (comments must be on their own line)" or ""))
        else
            local raw, v, problem, w = toks[3]
            if readers[o.type] then
                v, problem, w = readers[o.type](raw, o)
            else
                v = o.escapes and unescape(raw) or raw
            end
            if v ~= nil then v, problem = checks[o.type](v, o) end
            if v == nil then return err(lineno, key, problem) end
            if w then warn(lineno, key, w) end
            if o.known and not in_list(o.known, v) then
                warn(lineno, key, "unknown " .. key .. " " .. quote(v) .. " (Piranha accepted any word; known: "
                    .. table.concat(o.known, ", ") .. ")")
            end
            dst[key] = v
            if o.device then dst[o.device] = toks[4] end
        end
        if blk and not srv and blk.kind == "failover" and not failover_uses[key] then
            warn(lineno, key, "not used in a failover block")
        end
    end

    --[[
    reuse(from, into, key, at, list, kind): when the text from at (this line) is that of the block
    the cache has for its opener line, takes its table into list and goes past it; false otherwise.
    An entry is taken once: two blocks of the same text are two tables.
    ]]
    local function reuse(from, into, key, at, list, kind)
        local e = from[key]
        if not e or used[e] then return false end
        -- The entry's text is cut from the text it was read from when first needed, then kept.
        local here = text:sub(at, at + e.len - 1)
        if here ~= (e.text or e.src:sub(e.at, e.at + e.len - 1)) then return false end
        e.text, e.src = here, nil
        used[e], into[key] = true, into[key] or e
        list[#list + 1] = e.tbl
        local n = #taken + 1
        taken[n], taken_line[n], taken_kind[n] = e.tbl, lineno, kind
        lineno, pos = lineno + e.nlines - 1, at + e.len
        return true
    end
    --[[
    The opener lines the cache knows are looked up before they are read: the same line in the same
    place (at top level; in a block, outside a server, after the same port) opens the same way. A
    block whose text changed looks for its servers among those it had.
    ]]
    local function server_key(line) return line .. "\0" .. tostring(blk.port or 80) end

    while pos <= #text do
        local eol = text:find("\n", pos, true)
        local line, at = text:sub(pos, eol - 1), pos
        pos = eol + 1
        lineno = lineno + 1
        breathe()
        if not cache then                   -- luacheck: ignore 542
        elseif not blk then
            local e = cached_blocks[line]
            if e and reuse(cached_blocks, fresh_blocks, line, at, m[e.kind .. "s"], e.kind) then goto next end
        elseif not srv and blk_old and reuse(blk_old.servers, blk_servers, server_key(line), at, blk.servers) then
            goto next
        end
        local first = line:match("^[ \t\r]*(%S*)")
        if first == "" or first:sub(1, 1) == "#" then goto next end
        local toks, quoted = tokenize(line, first == "send" or first == "expect")
        if not toks then
            err(lineno, first, quoted)
            goto next
        end
        if toks[1] == "}" and not quoted[1] then
            if #toks > 1 then warn(lineno, "}", "text after } ignored: " .. quote(table.concat(toks, " ", 2))) end
            if srv then
                close_server()
            elseif blk then
                close_block()
            else
                err(lineno, "}", "no block to close")
            end
            goto next
        end
        local key = toks[1]
        local opener = (key == "virtual" or key == "failover") and not blk or key == "server" and blk and not srv
        if opener then
            local nerr = #errors
            if #toks < 3 or toks[3] ~= "{" or quoted[3] then
                err(lineno, key, #toks > 3 and "unexpected arguments" or "missing arguments (" .. key .. " NAME {)")
            elseif #toks > 3 then
                err(lineno, key, "unexpected arguments: " .. quote(table.concat(toks, " ", 4)))
            end
            -- A malformed opener still opens its block, so that its lines and its } are read in
            -- the right scope; its missing address is not reported on top of the opener's error.
            local seen = #errors > nerr and { address = lineno } or {}
            if key == "server" then
                srv = { name = toks[2] or "", port = blk.port or 80, line = lineno, seen = seen }
                blk.servers[#blk.servers + 1] = srv
                srv_key, srv_at, srv_nmsg = server_key(line), at, #errors + #warnings
            else
                blk = { kind = key, name = toks[2] or "", servers = {}, line = lineno, seen = seen }
                local list = m[key .. "s"]
                list[#list + 1] = blk
                blk_key, blk_at, blk_nmsg = line, at, #errors + #warnings
                blk_old, blk_servers = cached_blocks[line], {}
            end
            goto next
        end
        local opts = srv and servers or blk and blocks or globals
        if not opts[key] or quoted[1] then
            local where = srv and "in a server block" or blk and ("in a " .. blk.kind .. " block") or "at top level"
            local hint = key:find("=", 1, true) and " (= needs a blank on each side)" or ""
            err(lineno, key, "unknown command " .. where .. hint)
        elseif toks[2] ~= "=" then
            err(lineno, key, "equal (=) expected after command")
        else
            assign(opts, srv or blk or m, srv and srv.seen or blk and blk.seen or seen_g, toks, quoted, key)
        end
        ::next::
    end
    if srv then
        report(errors, srv.line, blk, srv, "server", "missing } (unexpected end of file)")
        close_server()
    end
    if blk then
        report(errors, blk.line, blk, nil, blk.kind, "missing } (unexpected end of file)")
        close_block()
    end
    fill_defaults(m, globals)
    -- The tables taken from the cache get their line and kind for cross_check only: nothing runs
    -- (no breathe) until they are removed again, so a model being read elsewhere never shows them.
    local clean = {}
    for i, t in ipairs(taken) do
        t.line, t.kind = taken_line[i], taken_kind[i]
        if taken_kind[i] then clean[t] = true end
    end
    cross_check(m, function(b, s, key, problem)
            marked[b] = true
            if s then marked[s] = true end
            report(errors, (s or b).line, b, s, key, problem)
        end,
        function(b, key, problem)
            if b then marked[b] = true end
            report(warnings, b and b.line or seen_g[key], b, nil, key, problem)
        end, clean)
    for _, kind in ipairs({ "virtuals", "failovers" }) do
        for _, b in ipairs(m[kind]) do
            b.line, b.seen, b.kind = nil, nil, nil
            if not clean[b] then
                for _, s in ipairs(b.servers) do s.line, s.seen = nil, nil end
            end
        end
    end
    if cache then
        -- A block that cross_check had something to say about is read again next time.
        for k, e in pairs(fresh_blocks) do
            if marked[e.tbl] then fresh_blocks[k] = nil end
        end
        cache.blocks = fresh_blocks
    end
    if #errors > 0 then return nil, by_line(errors), warnings end
    return m, nil, by_line(warnings)
end

local function read_file(path)
    local f, err = io.open(path, "rb")
    if not f then return nil, { err } end
    -- A file with a size is read in one piece: a large one is not copied as a buffer grows.
    local size = f:seek("end")
    local text, rerr
    if size and size > 0 and f:seek("set") then
        text, rerr = f:read(size)
        local more = text and f:read("a")
        if more and more ~= "" then text = text .. more end
        if text == nil and rerr == nil then text = "" end        -- emptied meanwhile
    else
        text, rerr = f:read("a")
    end
    f:close()
    if not text then return nil, { path .. ": I/O error while reading configuration: " .. tostring(rerr) } end
    return text
end

-- load(path [, cache]): reads and parses an lvs.cf; the model or nil, errors (and warnings).
function lvscf.load(path, cache)
    local text, errs = read_file(path)
    if not text then return nil, errs, {} end
    return lvscf.parse(text, path, cache)
end

-- Checks a model from a Lua config: unknown keys, types, ranges; fills defaults. Errors name the file.
local function validate(m, filename)
    local errors, warnings = {}, {}
    local function report(list, b, s, key, problem)
        list[#list + 1] = string.format("%s: %s%s: %s", filename, context(b, s), key, problem)
    end
    local function check_opts(dst, opts, b, s, skip)
        for k in pairs(dst) do
            if not opts[k] and not skip[k] then report(errors, b, s, tostring(k), "unknown option") end
        end
        breathe()
        for _, o in ipairs(opts) do
            local v = dst[o.key]
            if v ~= nil then
                local nv, problem = checks[o.type](v, o)
                if nv == nil then
                    report(errors, b, s, o.key, problem)
                else
                    dst[o.key] = nv
                    if o.device and type(dst[o.device]) ~= "string" then
                        report(errors, b, s, o.device, "missing (the interface or alias for " .. o.key .. ")")
                    end
                end
            elseif o.required then
                report(errors, b, s, o.key, "missing (required)")
            end
        end
        fill_defaults(dst, opts)
    end
    if type(m) ~= "table" then return nil, { filename .. ": the config must return a table" }, warnings end
    m.virtuals, m.failovers = m.virtuals or {}, m.failovers or {}
    check_opts(m, globals, nil, nil, { virtuals = true, failovers = true, nat_router_device = true })
    for _, kind in ipairs({ "virtuals", "failovers" }) do
        if type(m[kind]) ~= "table" then
            report(errors, nil, nil, kind, "list of blocks expected")
            m[kind] = {}
        end
        local blocks_ok = {}
        for i, b in ipairs(m[kind]) do
            if type(b) == "table" then
                blocks_ok[#blocks_ok + 1] = b
            else
                report(errors, nil, nil, kind .. "[" .. i .. "]", "block (a table) expected")
            end
        end
        m[kind] = blocks_ok
        for i, b in ipairs(m[kind]) do
            b.kind = kind:sub(1, -2)
            if type(b.name) ~= "string" or b.name == "" then
                report(errors, nil, nil, kind .. "[" .. i .. "].name", "missing")
                b.name = tostring(i)
            end
            b.servers = b.servers or {}
            if type(b.servers) ~= "table" then
                report(errors, b, nil, "servers", "list of servers expected")
                b.servers = {}
            end
            check_opts(b, blocks, b, nil, { name = true, servers = true, device = true, kind = true })
            local servers_ok = {}
            for j, s in ipairs(b.servers) do
                if type(s) == "table" then
                    servers_ok[#servers_ok + 1] = s
                else
                    report(errors, b, nil, "servers[" .. j .. "]", "server (a table) expected")
                end
            end
            b.servers = servers_ok
            for j, s in ipairs(b.servers) do
                if type(s.name) ~= "string" or s.name == "" then
                    report(errors, b, nil, "servers[" .. j .. "].name", "missing")
                    s.name = tostring(j)
                end
                if s.port == nil then s.port = b.port end
                check_opts(s, servers, b, s, { name = true })
            end
        end
    end
    if #errors == 0 then
        cross_check(m, function(b, s, key, problem) report(errors, b, s, key, problem) end,
            function(b, key, problem) report(warnings, b, nil, key, problem) end)
    end
    for _, kind in ipairs({ "virtuals", "failovers" }) do
        for _, b in ipairs(m[kind]) do b.kind = nil end
    end
    if #errors > 0 then return nil, errors, warnings end
    return m, nil, warnings
end

-- The names a Lua config can use: no io, os, require, load or debug.
local function sandbox()
    local env = {}
    for _, k in ipairs({ "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
            "tostring", "type", "print" }) do
        env[k] = _G[k]
    end
    for _, lib in ipairs({ "string", "table", "math", "utf8" }) do
        env[lib] = {}
        for k, v in pairs(_G[lib]) do env[lib][k] = v end
    end
    return env
end

-- load_lua(path): runs a Lua config (sandboxed, bounded) and validates the table it returns.
function lvscf.load_lua(path)
    local text, errs = read_file(path)
    if not text then return nil, errs, {} end
    local fn, err = load(text, "@" .. path, "t", sandbox())
    if not fn then return nil, { err }, {} end
    -- A fresh coroutine with an instruction budget: a config that loops forever is an error, not a hang.
    local co = coroutine.create(fn)
    debug.sethook(co, function() error("the config ran too long", 2) end, "", 100000000)
    local ok, m = coroutine.resume(co)
    if not ok then
        m = tostring(m)
        if m:sub(1, #path + 1) ~= path .. ":" then m = path .. ": " .. m end
        return nil, { m }, {}
    end
    return validate(m, path)
end

-- load_any(path [, cache]): a Lua config for *.lua, otherwise lvs.cf (read with the cache).
function lvscf.load_any(path, cache)
    if path:match("%.lua$") then return lvscf.load_lua(path) end
    return lvscf.load(path, cache)
end

-- Writing: a token needs quotes when it is empty, has blanks, starts with a quote or #, or is "}".
local function token(s)
    if s ~= "" and not s:find("[ \t\r\n\"']") and s:sub(1, 1) ~= "#" and s ~= "}" and s ~= "{" then
        return s
    end
    if not s:find('"', 1, true) then return '"' .. s .. '"' end
    if not s:find("'", 1, true) then return "'" .. s .. "'" end
    error("cannot write a value holding both kinds of quote and a blank: " .. s, 3)
end

local function escape(s)
    local map = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\\"] = "\\\\", ['"'] = '\\"' }
    return '"' .. s:gsub('[\n\r\t\\"]', map) .. '"'
end

local function value_text(o, v, dst)
    local t = o.type
    if t == "bool" or t == "flag" then return v and "1" or "0" end
    if t == "ipdev" then return v .. " " .. token(dst[o.device]) end
    if t == "list" then return "[ " .. table.concat(v, " ") .. " ]" end
    if o.escapes then return escape(v) end
    if type(v) == "number" then
        if math.type(v) == "float" and v == math.floor(v) and not o.frac then v = math.tointeger(v) end
        if math.type(v) == "integer" then return string.format("%d", v) end
        local short = string.format("%.14g", v)
        return tonumber(short) == v and short or string.format("%.17g", v)
    end
    return token(v)
end

local function write_opts(out, dst, opts, indent, failover)
    for _, o in ipairs(opts) do
        local v = dst[o.key]
        -- luaha's own options at their defaults are left out, so Piranha can still read the file;
        -- so are defaults of keys a failover block does not use, which would only draw warnings.
        if (o.ext or failover and not failover_uses[o.key]) and v == o.default then v = nil end
        if v ~= nil then out[#out + 1] = indent .. o.key .. " = " .. value_text(o, v, dst) end
    end
end

-- write_block(kind, b): the lines of block b, each ending in a newline.
local function write_block(kind, b)
    local out = { kind .. " " .. token(b.name) .. " {" }
    write_opts(out, b, blocks, "    ", kind == "failover")
    for _, s in ipairs(b.servers or {}) do
        breathe()
        out[#out + 1] = "    server " .. token(s.name) .. " {"
        write_opts(out, s, servers, "        ")
        out[#out + 1] = "    }"
    end
    out[#out + 1] = "}\n"
    return table.concat(out, "\n")
end

--[[
write_parts(model [, cache]): the text write gives, in parts (the global options, then a part per
block) whose concatenation it is: what luaha.auth.hash takes without the text being made. With
a parse cache (lvscf.cache()), the text of a block table written before is taken again without
looking at the table: the models are read-only.
]]
function lvscf.write_parts(m, cache)
    local out = {}
    local written = cache and cache.written or {}
    write_opts(out, m, globals, "")
    out = #out > 0 and { table.concat(out, "\n") .. "\n" } or {}
    for _, kind in ipairs({ "virtual", "failover" }) do
        for _, b in ipairs(m[kind .. "s"] or {}) do
            local text = written[b] or write_block(kind, b)
            written[b] = text
            out[#out + 1] = text
        end
    end
    if #out == 0 then out[1] = "\n" end      -- nothing to write is still a line
    return out
end

-- write(model [, cache]): lvs.cf text that parses back to the same model (Piranha's options all written, defaults included).
function lvscf.write(m, cache)
    return table.concat(lvscf.write_parts(m, cache))
end

lvscf.globals, lvscf.blocks, lvscf.servers = globals, blocks, servers

return lvscf
