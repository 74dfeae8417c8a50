-- lua/luaha/lvscfcheck.lua: the config model's checks: values, host names, defaults, the checks across options, messages.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Shared by the lvs.cf reader (lvscfread), the Lua-config reader (lvscflua) and the writer
(lvscfwrite); the facts they check against are lvscfmodel's option tables. A check returns the
value (converted: 1 is true for a boolean) or nil and the problem, the tail of a message
`FILE:LINE: OPTION: PROBLEM`.
]]
local luaha = require "luaha"
local model = require "luaha.lvscfmodel"

local parse_addr = luaha.net.parse_addr

local check = {}

--[[
breathe(): called for each line, block and server. A configuration of tens of thousands of real
servers takes seconds to read: inside a luaha task, the other tasks (heartbeats, checks) run
every 256 steps, and the task stays within its instruction budget.
]]
local steps = 0
function check.breathe()
    steps = steps + 1
    if steps % 256 == 0 then luaha.breathe() end
end

-- A value as messages show it: quoted, and cut after 64 bytes.
function check.quote(s)
    s = tostring(s)
    if #s > 64 then s = s:sub(1, 64) .. "..." end
    return '"' .. s .. '"'
end
local quote = check.quote

function check.in_list(list, v)
    for _, x in ipairs(list) do
        if x == v then return true end
    end
    return false
end
local in_list = check.in_list

--[[
dotted_quad(s): the IPv4 address s as a number, or nil when s is no dotted quad as the rest of
luaha takes one (luaha.net.parse_addr: no leading zeros, which inet_aton would read as octal).
]]
function check.dotted_quad(s)
    if type(s) ~= "string" or s:find("/", 1, true) then return nil end
    local addr, family = parse_addr(s)
    if family ~= "inet" then return nil end
    local a, b, c, d = addr:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    return ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
end
local dotted_quad = check.dotted_quad

-- Value checks on Lua values, shared by both readers: each returns the value or nil, problem.
local function check_host(s)
    local n = dotted_quad(s)
    if n then
        if n == 0 then return nil, "invalid host name or ip address " .. quote(s) end
        return s
    end
    if type(s) == "string" and #s <= 253 and not s:match("^[%d.]+$") then
        for label in (s .. "."):gmatch("([^.]*)%.") do
            if not label:match("^%w[%w-]*$") or label:match("-$") or #label > 63 then
                return nil, "invalid host name or ip address " .. quote(s)
            end
        end
        return s
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

function check.in_range(v, o)
    return v == o.off or (v >= o.min and v <= o.max)
end

local function out_of_range(v, o)
    return nil, "out of range: " .. (type(v) == "string" and v or model.number(v)) .. " (must be "
        .. model.range_text(o) .. ")"
end
check.out_of_range = out_of_range

local function check_number(v, o)
    local what = o.frac and "number" or "integer"
    if type(v) ~= "number" then return nil, what .. " expected, got " .. quote(v) end
    if v ~= v then return nil, what .. " expected, got " .. tostring(v) end
    if not o.frac then
        local i = math.tointeger(v)
        if not i and v ~= math.floor(v) then return nil, "integer expected, got " .. quote(v) end
        if not i then return out_of_range(v, o) end         -- beyond 2^63, or infinite
        v = i
    end
    if not check.in_range(v, o) then return out_of_range(v, o) end
    return v
end

--[[
writable(s): whether the writer can write string s as one lvs.cf token that reads back as s: a
token that needs quotes (empty, a blank, a leading quote or #, a brace) cannot hold both quotes.
]]
function check.writable(s)
    if s ~= "" and not s:find("[ \t\r\n]") and not s:find("^[\"'#]") and s ~= "{" and s ~= "}" then return true end
    return not (s:find('"', 1, true) and s:find("'", 1, true))
end

local function check_string(v, o)
    if type(v) ~= "string" then return nil, "string expected, got " .. type(v) end
    if o.escapes then return v end
    if v:find("[\r\n]") then return nil, "must be one line" end
    if not check.writable(v) then
        return nil, "needs quotes and holds both kinds of quote: it cannot be written as one lvs.cf token"
    end
    return v
end
check.check_string = check_string

check.checks = {
    int = check_number,
    secs = check_number,
    port = check_number,
    flag = function(v, o)
        if type(v) == "boolean" then return v end
        if math.type(v) ~= "integer" then return nil, "integer expected, got " .. quote(v) end
        if not check.in_range(v, o) then return out_of_range(v, o) end
        return v ~= 0
    end,
    bool = function(v)
        if v == 0 or v == 1 then return v == 1 end
        if type(v) ~= "boolean" then return nil, "boolean expected (0 or 1), got " .. quote(v) end
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
        local n = dotted_quad(v)
        if n and n ~= 0 then return v end
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

-- check(o, v): the value option o holds for v, or nil, problem (without resolving host names).
function check.check(o, v)
    if o.refused then return nil, o.refused end
    return check.checks[o.type](v, o)
end

--[[
resolve(name [, opts] [, memo]): the IPv4 address of host name name, or nil, problem; a dotted
quad is itself. opts.resolve replaces the resolver (a function(name) giving an address or nil,
reason): tests and the fuzz suite use it. The resolver runs `getent ahostsv4` with a 5 s bound,
waiting in the task (the event loop runs on); outside a task it cannot wait and refuses. memo
keeps the answers of one read, so a name given many times is asked once.
]]
local function getent(name)
    local task = require "luaha.core.task"
    if not task.current() or not coroutine.isyieldable() then return nil, "cannot be resolved outside a task" end
    local r, err = require("luaha.core.proc").run({ "getent", "ahostsv4", name }, { timeout = 5 })
    if not r then return nil, err end
    if r.timed_out then return nil, "no answer in 5 s" end
    if r.status == 2 then return nil, "unknown host" end
    if r.status ~= 0 then return nil, "getent exited with status " .. tostring(r.status or r.signal) end
    local addr = r.stdout:match("^(%d+%.%d+%.%d+%.%d+)%s")
    if not addr then return nil, "no IPv4 address" end
    return addr
end

function check.resolve(name, opts, memo)
    if dotted_quad(name) then return name end
    local hit = memo and memo[name]
    if hit then return hit[1], hit[2] end
    local addr, why = (opts and opts.resolve or getent)(name)
    if type(addr) ~= "string" or (dotted_quad(addr) or 0) == 0 then
        addr, why = nil, "invalid host name or ip address " .. quote(name) .. " (it does not resolve: "
            .. tostring(why or "no IPv4 address") .. ")"
    end
    if memo then memo[name] = { addr, why } end
    return addr, why
end

--[[
fill_defaults(dst, opts): the defaults of the options dst lacks. A table given an option's default
that differs in anycast mode (o.anycast) is remembered in check.defaulted, weakly, for
check.anycast: the cluster is known only once the whole file is read.
]]
check.defaulted = setmetatable({}, { __mode = "k" })
function check.fill_defaults(dst, opts)
    check.breathe()
    for _, o in ipairs(opts) do
        if dst[o.key] == nil and o.default ~= nil then
            dst[o.key] = o.default
            if o.anycast then check.defaulted[dst] = true end
        end
    end
end

-- The start of a message about block b of kind (and server s): `virtual "web": server "rs1": `.
function check.context(kind, blk, srv)
    local s = ""
    if blk then s = kind .. " " .. quote(blk.name) .. ": " end
    if srv then s = s .. "server " .. quote(srv.name) .. ": " end
    return s
end

--[[
cross_check(m, report [, line_of] [, clean]): the checks that need more than one option.
report(level, kind, b, s, key, problem [, also]) reports each: level "error" or "warning", kind
"virtual" or "failover", b and s the block and server or nil, key the option named, also an
option whose line serves when key was not written. line_of(t): the line of a block or server
table, for "first at line N" (nil: none). clean: the blocks (from a parse cache) already known to
have no two servers of one name. The tables are not changed, but for a pmask of 255.255.255.255
(none) and backup_active without backup (off), as Piranha read them, and the scheduler a virtual
was given by default in anycast mode (mh).
]]
function check.cross_check(m, report, line_of, clean)
    line_of = line_of or function() return nil end
    check.webui(m, report)
    check.anycast(m, report)
    if m.backup_active and not m.backup then
        report("warning", nil, nil, nil, "backup_active", "set without backup; treated as 0, as Piranha does")
        m.backup_active = false
    end
    if m.backup_active and m.heartbeat == false then
        report("warning", nil, nil, nil, "heartbeat", "0 with backup_active = 1: heartbeats are sent anyway,"
            .. " as Piranha did", "backup_active")
    end
    if (m.primary_private == nil) ~= (m.backup_private == nil) then
        report("warning", nil, nil, nil, m.primary_private and "primary_private" or "backup_private",
            "set without its partner; the private heartbeat path needs both primary_private and backup_private")
    end
    if m.deadtime <= m.keepalive then
        report("error", nil, nil, nil, "deadtime", "must be longer than keepalive (" .. model.number(m.keepalive)
            .. " s), or every heartbeat comes too late", "keepalive")
    end
    if m.nat_nmask and not m.nat_router then report("warning", nil, nil, nil, "nat_nmask", "set without nat_router") end
    for _, kind in ipairs({ "virtual", "failover" }) do
        local seen = {}
        for _, b in ipairs(m[kind .. "s"]) do
            check.breathe()
            local first = seen[b.name]
            if first then
                report("error", kind, b, nil, "name", "duplicate " .. kind .. " name " .. quote(b.name)
                    .. (first ~= true and (" (first at line " .. first .. ")") or ""))
            end
            seen[b.name] = line_of(b) or true
            if b.pmask == "255.255.255.255" then b.pmask = nil end
            local sseen = {}
            for _, s in ipairs(clean and clean[b] and {} or b.servers) do
                local sfirst = sseen[s.name]
                if sfirst then
                    report("error", kind, b, s, "name", "duplicate server name " .. quote(s.name)
                        .. (sfirst ~= true and (" (first at line " .. sfirst .. ")") or ""))
                end
                sseen[s.name] = line_of(s) or true
            end
            if b.half_open and (b.protocol ~= "tcp" or b.send or b.expect or b.send_program) then
                report("error", kind, b, nil, "half_open", "a half-open check only connects: it takes no send,"
                    .. " expect or send_program, and protocol tcp")
            end
            if kind == "failover" and #b.servers > 0 then
                report("warning", kind, b, nil, "server", "server blocks in a failover block are not used")
            end
        end
    end
end

--[[
webui(m, report): the web UI's options together (spec webui.md 3.8). Passwords and the session
cookie cross the network in plain HTTP unless the listener speaks TLS, so with webui = 1 a
listener beyond loopback needs both TLS files, or webui_insecure = 1 to say that plain HTTP is
meant. Whether the files can be read and hold a matching pair is routerconf.check's (it reads them).
]]
function check.webui(m, report)
    local cert, key = m.webui_tls_cert, m.webui_tls_key
    if (cert == nil) ~= (key == nil) then
        report("error", nil, nil, nil, cert and "webui_tls_cert" or "webui_tls_key",
            "set without " .. (cert and "webui_tls_key" or "webui_tls_cert") .. "; TLS needs both files")
    end
    if (cert or key or m.webui_insecure) and not m.webui and not m.status_listen then
        report("warning", nil, nil, nil, cert and "webui_tls_cert" or key and "webui_tls_key" or "webui_insecure",
            "set, but no listener uses it: it needs webui = 1, status_listen or the daemon's --webui")
    end
    if not m.webui then return end
    if not m.status_passwd then
        report("error", nil, nil, nil, "webui", "needs status_passwd, the users who may log in (`luaha passwd` writes it)")
    end
    local listen = m.status_listen or model.WEBUI_LISTEN
    local addr = listen:match("^%[([^%]]+)%]:%d+$") or listen:match("^([^:]+):%d+$")
    if addr and not check.loopback(addr) and not (cert and key) and not m.webui_insecure then
        report("error", nil, nil, nil, "webui", "the UI would listen beyond loopback (status_listen = " .. listen
            .. ") in plain HTTP: set webui_tls_cert and webui_tls_key, or webui_insecure = 1", "status_listen")
    end
end

--[[
anycast(m, report): cluster = anycast and what it cannot have. Every director of an anycast
cluster may receive any packet of a flow, so a NAT reply, which must go back through the director
holding the connection's entry, cannot be served; and there is no partner to be backup for.
]]
function check.anycast(m, report)
    if model.RESERVED_TABLES[m.bgp_table] then
        report("error", nil, nil, nil, "bgp_table", "table " .. m.bgp_table .. " is the kernel's "
            .. model.RESERVED_TABLES[m.bgp_table] .. " table: take one of its own (default "
            .. model.globals.bgp_table.default .. ")")
    end
    if m.cluster ~= "anycast" then return end
    for _, b in ipairs(m.virtuals) do
        if check.defaulted[b] then b.scheduler = model.blocks.scheduler.anycast end
    end
    if m.network == "nat" and #m.virtuals > 0 then
        report("error", nil, nil, nil, "network", "nat with cluster = anycast: replies must come back through"
            .. " the director that holds the connection: keep NAT services in an active/backup pair", "cluster")
    end
    if m.backup_active then
        report("error", nil, nil, nil, "backup_active", "1 with cluster = anycast: an anycast director has no"
            .. " partner to be backup for")
    end
end

-- loopback(addr): whether the numeric address addr is one of this host's loopback addresses.
function check.loopback(addr)
    return addr:match("^127%.") ~= nil or addr == "::1"
end

-- by_line(list): messages in line order (checks made after the whole file was read come last otherwise).
function check.by_line(list)
    local keyed = {}
    for i, msg in ipairs(list) do
        keyed[i] = { tonumber(msg:match("^[^\n]-:(%d+): ")) or 0, i, msg }
    end
    table.sort(keyed, function(a, b) return a[1] < b[1] or a[1] == b[1] and a[2] < b[2] end)
    for i, k in ipairs(keyed) do list[i] = k[3] end
    return list
end

return check
