-- tests/lua/lvscf-check.lua: lvscf.check gives the reader's own problem for a typed value, and lvscf.format's text reads back.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local lvscf = require "luaha.lvscf"

local R = math.random
math.randomseed(14)

-- Host names resolve only to these, so no test asks the machine's resolver.
local NAMES = { ["router-b.example.net"] = "192.0.2.99" }
local OPTS = { resolve = function(name) return NAMES[name], "unknown host" end }

local SCOPES = {
    { "global", lvscf.globals }, { "virtual", lvscf.blocks }, { "failover", lvscf.blocks }, { "server", lvscf.servers },
}

-- A file with line `key = text` in scope; the line's number.
local function file_with(scope, key, text)
    local line = key .. " = " .. text
    -- keepalive and deadtime are read against each other: the other one is set out of their way.
    if scope == "global" then
        local other = key == "keepalive" and "deadtime = 1000000" or key == "deadtime" and "keepalive = 0.001" or ""
        return "primary = 192.0.2.1\n" .. line .. "\n" .. other .. "\n", 2
    end
    if scope == "server" then
        return "virtual v {\n address = 192.0.2.9 eth0\n server s {\n  address = 192.0.2.10\n  " .. line
            .. "\n }\n}\n", 5
    end
    return scope .. " v {\n address = 192.0.2.9 eth0\n " .. line .. "\n}\n", 3
end

-- The reader's problem for `key = text` in scope: the tail of its error on that line, or nil when it accepts it.
local function reader_problem(scope, key, text)
    local cf, line = file_with(scope, key, text)
    local m, errs = lvscf.parse(cf, "c.cf", nil, OPTS)
    if m then return nil end
    for _, e in ipairs(errs) do
        local problem = e:match("^c%.cf:" .. line .. ": .-" .. key:gsub("%p", "%%%0") .. ": (.*)$")
        if problem then return problem end
    end
    error("no error on line " .. line .. " for " .. key .. " = " .. text .. ": " .. table.concat(errs, " | "))
end

-- Bad texts for an option of type ty, each written as lvs.cf would hold it (so the reader reads the same text).
local BAD = {
    int = { "abc", "1.5", "99999999999", "-1", "0x", "1e3", "" },
    secs = { "abc", "-1", "2000000", "1..2", "" },
    port = { "0", "65536", "nosuchservice", "-5", "" },
    flag = { "x", "1.5", "" },
    bool = { "2", "yes", "-1", "" },
    enum = { "nope", "LVS", "" },
    host = { "bad..name", "0.0.0.0", "-x.example", "a_b", "unresolved.example", "" },
    ipdev = { "192.0.2.1", "bad..name eth0", "192.0.2.1 eth0 x", "" },
    ip = { "router-b.example.net", "0.0.0.0", "1.2.3", "" },
    mask = { "255.0.255.0", "255.255.255.1", "x", "" },
    list = { "/etc", "[ /etc", "[ ]", "" },
    str = { "a b", "x # comment" },
    word = { "a b" },
}

t.test("check-gives-the-readers-problem-for-every-option", function()
    local n = 0
    for _, sc in ipairs(SCOPES) do
        local scope, opts = sc[1], sc[2]
        for _, o in ipairs(opts) do
            for _, text in ipairs(o.refused and { "x" } or BAD[o.type]) do
                local want = reader_problem(scope, o.key, text)
                -- A string's text is taken as typed (a blank is part of the value), so its lvs.cf form is quoted.
                if o.type == "str" or o.type == "word" then
                    want = nil
                end
                local v, got = lvscf.check(scope, o.key, text, OPTS)
                if o.type == "list" and text == "/etc" then want = nil end    -- a list's words without [ ]
                if want or o.type ~= "str" and o.type ~= "word" then
                    t.eq(got, want, scope .. " " .. o.key .. " = " .. text)
                    if want then t.eq(v, nil, "value with a problem") end
                    n = n + 1
                end
            end
        end
    end
    assert(n > 150, "cases: " .. n)
end)

t.test("check-gives-the-readers-values", function()
    local text = t.slurp("tests/lua/data/every.cf")
    local spans = {}
    local m = assert(lvscf.parse(text, "every.cf", nil, { resolve = OPTS.resolve, spans = spans }))
    local lines = {}
    for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
    -- Every option line of every.cf, typed as it stands there, checks to the value parse read on that line.
    local n = 0
    local function each(scope, tbl)
        local sp = assert(spans[tbl], "no spans for a " .. scope)
        for key, list in pairs(sp.keys) do
            for _, at in ipairs(list) do
                local rest = assert(lines[at.line]:match("^%s*" .. key .. " = (.*)$"), "line " .. at.line)
                local v, problem = lvscf.check(scope, key, rest, OPTS)
                if key == "monitor_links" then
                    t.eq(v, true, "monitor_links = 2 is true, as Piranha read it")
                elseif type(v) == "table" and v[key] then
                    t.eq(v[key], at.value, key)
                    t.eq(v[tbl == m and "nat_router_device" or "device"], at.device, key .. "'s device")
                else
                    assert(t.same(v, at.value), scope .. " " .. key .. " at line " .. at.line .. ": "
                        .. tostring(v) .. " (" .. tostring(problem) .. ")")
                end
                n = n + 1
            end
        end
    end
    each("global", m)
    for _, kind in ipairs({ "virtual", "failover" }) do
        for _, b in ipairs(m[kind .. "s"]) do
            each(kind, b)
            t.eq(lines[spans[b].first]:match("^" .. kind), kind, "a block's first line is its opener")
            t.eq(lines[spans[b].last], "}", "a block's last line is its }")
            for _, s in ipairs(b.servers) do
                each("server", s)
                t.eq(lines[spans[s].last], "    }", "a server's last line is its }")
            end
        end
    end
    assert(n > 60, "lines: " .. n)
    -- A virtual's address and a nat_router pair come back as a table of the two model keys.
    local a = assert(lvscf.check("virtual", "address", " 192.0.2.212   eth0:1 "))
    t.eq(a.address, "192.0.2.212", "address")
    t.eq(a.device, "eth0:1", "device")
    local nr = assert(lvscf.check("global", "nat_router", "192.0.2.254 'eth 1'"))
    t.eq(nr.nat_router_device, "eth 1", "quoted device")
    t.eq(lvscf.check("global", "backup", "router-b.example.net", OPTS), "192.0.2.99", "a host name is resolved")
    t.eq(lvscf.check("global", "rsh_command", "  ssh -o BatchMode=yes "), "ssh -o BatchMode=yes", "typed string")
    t.eq(lvscf.check("global", "rsh_command", "'a \"b\"'"), 'a "b"', "a quoted token stands for its contents")
    t.eq(lvscf.check("virtual", "send", "GET / HTTP/1.0\\r\\n\\r\\n"), "GET / HTTP/1.0\r\n\r\n", "escapes")
    t.eq(lvscf.check("virtual", "send", "  x "), "  x ", "send keeps its blanks")
    t.eq(lvscf.check("virtual", "port", "smtp"), 25, "service name")
    t.eq(lvscf.check("virtual", "fwmark", "0x10"), 16, "hex")
    t.eq(lvscf.check("virtual", "name", " mail relay "), "mail relay", "name")
    t.eq(lvscf.check("server", "name", '"rs 1"'), "rs 1", "quoted name")
    assert(t.same(lvscf.check("virtual", "dirs", "/etc /var"), { "/etc", "/var" }))
    local v, problem, warning = lvscf.check("virtual", "load_monitor", "foo")
    t.eq(v, "foo", "an unknown load_monitor is the reader's warning")
    t.eq(problem, nil, "no problem")
    assert(warning and warning:find("unknown load_monitor", 1, true), tostring(warning))
end)

t.test("check-refuses-what-a-form-must-not-set", function()
    local function refused(scope, key, text, want)
        local v, problem = lvscf.check(scope, key, text, OPTS)
        t.eq(v, nil, key .. " = " .. text)
        t.eq(problem, want, key .. " = " .. text)
    end
    for _, key in ipairs({ "rsh_command", "primary", "keepalive", "debug_level" }) do
        refused("global", key, "a\nsend_program = /bin/sh", "must be one line")
        refused("global", key, "a\r", "must be one line")
        refused("global", key, "a\0b", "must not hold a NUL byte")
    end
    refused("virtual", "send", "GET\n", "must be one line")
    refused("virtual", "name", "web\nx", "must be one line")
    refused("global", "active_cmd", "/bin/echo \"a\" 'b'",
        "needs quotes and holds both kinds of quote: it cannot be written as one lvs.cf token")
    refused("virtual", "name", "a \"b\" 'c'", "the name needs quotes and holds both kinds of quote: it cannot be written")
    refused("virtual", "name", "", "missing arguments (virtual NAME {)")
    refused("server", "name", '""', "missing arguments (server NAME {)")
    refused("virtual", "address", "192.0.2.1 'a", "quotation mismatch")
    refused("virtual", "port", "010", '"010" is octal (= 8), as Piranha read it; drop the leading zero for decimal')
    refused("virtual", "timeout", "09", '"09" has a leading zero, which Piranha read as octal; drop the leading zero')
    refused("virtual", "active", "01", '"01" is octal (= 1), as Piranha read it; drop the leading zero for decimal')
    refused("server", "weight", "-01", '"-01" is octal (= 1), as Piranha read it; drop the leading zero for decimal')
    refused("global", "keepalive", "00.5", '"00.5" has a leading zero, which Piranha read as octal; drop the leading zero')
    t.eq(lvscf.check("global", "keepalive", "0.5"), 0.5, "0.5 has no leading zero")
    t.eq(lvscf.check("virtual", "fwmark", "0"), 0, "0")
    t.eq(#assert(lvscf.check("virtual", "expect", string.rep("x", 255))), 255, "255 bytes")
    refused("virtual", "expect", string.rep("x", 256), "too long: 256 bytes (at most 255)")
    refused("virtual", "send", string.rep("\\n", 256), "too long: 256 bytes (at most 255)")
    t.checkerr("unknown scope", lvscf.check, "nope", "port", "1")
    t.checkerr("unknown virtual option", lvscf.check, "virtual", "nope", "1")
    t.checkerr("unknown global option", lvscf.check, "global", "name", "x")
    t.checkerr("text must be a string", lvscf.check, "virtual", "port", 80)
end)

-- A random model value for option o (what a reader could give), or nil for none.
local CHARS = { "a", "/", "-", ".", " ", "\t", '"', "'", "#", "{", "}", "\\", "=", "\r", "\n", "x" }
local function random_string(max)
    local out = {}
    for i = 1, R(0, max) do out[i] = CHARS[R(#CHARS)] end
    return table.concat(out)
end
local function quad() return ("%d.%d.%d.%d"):format(R(1, 254), R(0, 255), R(0, 255), R(1, 254)) end
local function random_value(o)
    local ty = o.type
    if ty == "int" or ty == "port" then return R(math.max(o.min, -1000), math.min(o.max, 2 ^ 40)) end
    if ty == "secs" then
        return o.frac and R(2, math.min(99999, math.floor(o.max * 1000))) / 1000 or R(o.min, math.min(o.max, 100000))
    end
    if ty == "flag" or ty == "bool" then return R(2) == 1 end
    if ty == "enum" then return o.values[R(#o.values)] end
    if ty == "host" or ty == "ip" then return quad() end
    if ty == "ipdev" then return quad(), random_string(6) end
    if ty == "mask" then return ({ "255.255.255.0", "255.255.0.0", "0.0.0.0" })[R(3)] end
    if ty == "list" then return { "/etc", "x" } end
    return random_string(o.escapes and 20 or 12)
end

t.test("format-reads-back-and-checks-back", function()
    local written, refused = 0, 0
    for round = 1, 40 do
        for _, sc in ipairs(SCOPES) do
            local scope, opts = sc[1], sc[2]
            for _, o in ipairs(opts) do
                local v, dev = random_value(o)
                local value = v
                if o.device then value = { [o.key] = v, [o.device] = dev } end
                local text, why = lvscf.format(scope, o.key, value)
                if o.refused then
                    t.eq(text, nil, o.key .. " is refused")
                    t.eq(why, o.refused, o.key)
                elseif text then
                    written = written + 1
                    -- The value read on the line (spans: kept only for a line read without a problem),
                    -- whatever the checks across options say of the file.
                    local cf, line = file_with(scope, o.key, text)
                    local spans = {}
                    lvscf.parse(cf, "f.cf", nil, { resolve = OPTS.resolve, spans = spans })
                    local got
                    for _, sp in pairs(spans) do
                        for _, at in ipairs(sp.keys[o.key] or {}) do
                            if at.line == line then got = at end
                        end
                    end
                    assert(got, ("round %d: %s = %s: not read at line %d"):format(round, o.key, text, line))
                    assert(t.same(got.value, v), o.key .. " = " .. text .. " read back at line " .. line)
                    t.eq(got.device, dev, o.key .. "'s device")
                    local back = lvscf.check(scope, o.key, text, OPTS)
                    assert(t.same(back, value), o.key .. ": check(format(v)) = " .. tostring(back))
                else
                    -- Only a string with CR or LF, or a device that needs quotes and holds both kinds, is unwritable.
                    refused = refused + 1
                    local s = o.device and dev or v
                    assert(type(s) == "string" and (s:find("[\r\n]") or s:find('"') and s:find("'")),
                        o.key .. ": refused " .. tostring(s) .. ": " .. tostring(why))
                end
            end
        end
    end
    assert(written > 1000 and refused > 20, ("written %d, refused %d"):format(written, refused))
    t.eq(lvscf.format("virtual", "send", "GET / HTTP/1.0\r\n\r\n"), '"GET / HTTP/1.0\\r\\n\\r\\n"', "escapes")
    t.eq(lvscf.format("global", "rsh_command", "ssh -o x"), '"ssh -o x"', "quotes")
    t.eq(lvscf.format("global", "nat_router", { nat_router = "192.0.2.1", nat_router_device = "eth1:1" }),
        "192.0.2.1 eth1:1", "pair")
    t.eq(lvscf.format("virtual", "name", "mail relay"), '"mail relay"', "name")
    t.eq(lvscf.format("virtual", "active", 1), "1", "a 1 is true")
    t.eq(lvscf.format("global", "keepalive", 0.05), "0.05", "fraction")
    local function nope(scope, key, value, want)
        local text, why = lvscf.format(scope, key, value)
        t.eq(text, nil, key)
        t.eq(why, want, key)
    end
    nope("virtual", "port", 70000, "out of range: 70000 (must be 1..65535)")
    nope("virtual", "name", "a \"b\" 'c'", "the name needs quotes and holds both kinds of quote: it cannot be written")
    nope("virtual", "name", "", "missing arguments (virtual NAME {)")
    nope("global", "active_cmd", "a\0b", "must not hold a NUL byte")
    nope("virtual", "expect", string.rep("x", 256), "too long: 256 bytes (at most 255)")
    nope("virtual", "address", { address = "192.0.2.1" }, "missing arguments")
    nope("virtual", "sorry_server", nil, "not set")
    t.checkerr("is a table of address and device", lvscf.format, "virtual", "address", "192.0.2.1 eth0")
end)

require("luaha").exit(t.failures() == 0 and 0 or 1)
