-- lua/luaha/lvscf.lua: reads and writes Piranha's lvs.cf and Lua configs into one config model (luaha.lvscf).
-- SPDX-License-Identifier: GPL-2.0-or-later
--[==[
The model (what parse, load, load_lua and load_any return; what write takes):

    {
        serial_no = 0, primary = "192.0.2.210", service = "lvs", backup_active = true, ...
                                  -- every global option, by its lvs.cf name
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
and gives no default (`vip_nmask`, `send`, `sorry_server`, ...) is nil. A host name is resolved
when the file is read, as Piranha did, and the model holds its IPv4 address.

The pieces: lvscfmodel (the option tables with every default and range, the value checks, the
checks across options), lvscfread (the lvs.cf reader and its parse cache), lvscflua (Lua
configs), lvscfwrite (the writer). The options, their types, defaults and ranges, and luaha's
extensions are in lvs.cf(5) and in lvscfmodel's tables, which lvs.cf(5) is tested against.

Errors read `FILE:LINE: [virtual "NAME": [server "NAME": ]]OPTION: PROBLEM` with Piranha's own message
text in the problem, so operators' grep patterns still match; only a file that cannot be read
gives `FILE: PROBLEM`. Every error in a file is reported (up to 1000). Where Piranha accepted
something doubtful (repeated keys, octal integers, text after `}`, keys that mean nothing in their
block), the file is accepted and a warning says so. What the readers accept, the daemon can run,
and the writer can write.
]==]
local model = require "luaha.lvscfmodel"
local reader = require "luaha.lvscfread"
local lualoader = require "luaha.lvscflua"
local writer = require "luaha.lvscfwrite"
local check = require "luaha.lvscfcheck"
local lex = require "luaha.lvscflex"
local file = require "luaha.core.file"

local lvscf = {}

lvscf.MAX_SIZE = 256 * 1024 * 1024      -- bytes: a larger file is refused before it is read

--[[
parse(text, filename [, cache] [, opts]): the model, or nil, errors; a third result lists
warnings (both arrays of strings). opts.resolve(name) replaces the resolver of host names (an
address, or nil and a reason): by default `getent ahostsv4` in the task, with a 5 s bound.
opts.spans, a table, is filled with where each part of the model stands in the text (the parse
cache is then not used; without it, nothing is recorded): spans[t] for the model and for each
block and server table t is { first = OPENER LINE (0 for the model), last = LINE OF ITS }, keys =
{ [KEY] = { { line = N, value = V, device = DEV }, ... } } } with one entry per line of the key,
in file order (the last one wins). Waits (the task lets others run while it reads and resolves).
]]
function lvscf.parse(text, filename, cache, opts)
    return reader.parse(text, filename, cache, opts)
end

--[[
cache(): a parse cache, for a daemon that reads the same file again. Each `virtual` or `failover`
block, and each of its `server` blocks, that was read without an error or a warning and names no
host is kept with its text; a later parse given the cache takes the table of a block whose text
is byte for byte the same instead of reading it again (in a block whose text changed, that of a
server of that block), and write reuses the text it wrote for a table it has seen. It is the
table a fresh read would give: a block's reading depends only on its own lines (a server's also
on its block's port before it), and a block with a message, whose line numbers would differ, is
not kept. The checks between blocks still run on the whole model. The models of parses that
share a cache share those tables: such models are read-only.
]]
function lvscf.cache()
    return { blocks = {}, written = setmetatable({}, { __mode = "k" }) }
end

-- The text of the file at path, or nil, { "PATH: problem" }: a regular file of at most max bytes.
local function read_file(path, max)
    local text, err = file.read(path, max)
    if not text then return nil, { err } end
    return text
end

-- load(path [, cache] [, opts]): reads and parses an lvs.cf; the model or nil, errors (and warnings).
function lvscf.load(path, cache, opts)
    local text, errs = read_file(path, lvscf.MAX_SIZE)
    if not text then return nil, errs, {} end
    return reader.parse(text, path, cache, opts)
end

-- load_lua(path [, opts]): runs a Lua config (sandboxed, bounded, at most 16 MiB) and checks the table it returns.
function lvscf.load_lua(path, opts)
    local text, errs = read_file(path, lualoader.MAX_TEXT)
    if not text then return nil, errs, {} end
    return lualoader.load(text, path, opts)
end

-- load_any(path [, cache] [, opts]): a Lua config for *.lua, otherwise lvs.cf (read with the cache).
function lvscf.load_any(path, cache, opts)
    if path:match("%.lua$") then return lvscf.load_lua(path, opts) end
    return lvscf.load(path, cache, opts)
end

--[[
write_parts(model [, cache]): the text write gives, in parts (the global options, then a part per
block) whose concatenation it is: what luaha.auth.hash takes without the text being made. With
a parse cache (lvscf.cache()), the text of a block table written before is taken again without
looking at the table: the models are read-only.
]]
function lvscf.write_parts(m, cache)
    return writer.parts(m, cache)
end

-- write(model [, cache]): lvs.cf text that parses back to the same model (Piranha's options all written, defaults included).
function lvscf.write(m, cache)
    return table.concat(writer.parts(m, cache))
end

lvscf.MAX_SEND = 255        -- bytes of send or expect a form may set (nanny's buffer; spec webui.md 3.4)

local scopes = { global = model.globals, virtual = model.blocks, failover = model.blocks, server = model.servers }
local numeric = { int = true, secs = true, port = true, flag = true, bool = true }

-- The option key names in scope; nil for a block's or server's name. Raises on a scope or key that does not exist.
local function option_of(scope, key)
    local tbl = scopes[scope]
    if not tbl then error("lvscf: unknown scope " .. tostring(scope) .. " (global, virtual, failover, server)", 3) end
    if key == "name" and scope ~= "global" then return nil end
    local o = tbl[key]
    if not o then error("lvscf: unknown " .. scope .. " option " .. tostring(key), 3) end
    return o
end

-- One quoted token (as lvs.cf writes it) stands for its contents; any other text is the value itself.
local function as_typed(text, esc)
    local toks, quoted = lex.tokenize(text, esc)
    if toks and #toks == 1 and quoted[1] then return toks[1] end
    return text
end

-- typed(o, text): the tokens after `KEY =` that text stands for, and which were quoted; or nil, problem.
local function typed(o, text)
    if o.escapes then return { as_typed(text, true) }, { true } end
    if o.type == "str" or o.type == "word" then return { as_typed(text:match("^[ \t]*(.-)[ \t]*$")) }, { true } end
    if o.type == "list" and text:find("%S") and not text:find("^[ \t]*%[") then text = "[ " .. text .. " ]" end
    return lex.tokenize(text)
end

-- name_problem(kind, name): the reader's problem with an opener `KIND NAME {` for name; an empty name is a missing one.
local function name_problem(kind, name)
    return reader.opener(kind, name == "" and { kind } or { kind, name, "{" }, {})
end

local function typed_name(kind, text)
    local name = as_typed(text:match("^[ \t]*(.-)[ \t]*$"))
    local problem = name_problem(kind, name)
    if problem then return nil, problem end
    return name
end

-- one_line(s): the problem of a string with CR, LF or NUL in it, or nil.
local function one_line(s)
    if s:find("[\r\n]") then return "must be one line" end
    if s:find("%z") then return "must not hold a NUL byte" end
end

--[[
check(scope, key, text [, opts]): the value option key of scope ("global", "virtual", "failover"
or "server") holds when a person types text for it, or nil and the problem the reader gives
for that value (`out of range: 70000 (must be 1..65535)`): the reader's own checks (lvscfread's
option). A warning the reader would give comes third. Text is what would stand after `KEY = `:
`192.0.2.212 eth0:1` for a virtual's address (its value is then { address = IP, device = DEV },
likewise nat_router and nat_router_device), `[ /etc /var ]` or `/etc /var` for dirs. A string
option's text is its value as typed, blanks around it dropped; one quoted token (what format
writes) stands for its contents. send and expect are taken with their escapes (\r \n \t \\ \" \'),
blanks kept. Key "name" checks a block's or server's name. Refused besides the reader's problems:
CR, LF or NUL in text; a number with a leading zero (Piranha read it as octal); send or expect
longer than MAX_SEND bytes. A host name is resolved with opts.resolve, as parse does: it waits.
]]
function lvscf.check(scope, key, text, opts)
    local o = option_of(scope, key)
    if type(text) ~= "string" then error("lvscf.check: text must be a string", 2) end
    local bad = one_line(text)
    if bad then return nil, bad end
    if not o then return typed_name(scope, text) end
    local vt, vq = typed(o, text)
    if not vt then return nil, vq end
    local toks, quoted = { key, "=" }, {}
    for i, tok in ipairs(vt) do toks[i + 2], quoted[i + 2] = tok, vq[i] end
    if numeric[o.type] and toks[3] and toks[3]:find("^[+-]?0%d") then
        local _, octal = lex.strtol(toks[3])
        return nil, type(octal) == "string" and octal
            or check.quote(toks[3]) .. " has a leading zero, which Piranha read as octal; drop the leading zero"
    end
    local v, problem, warning, dev = reader.option(o, toks, quoted, { opts = opts, memo = {}, named_host = function() end })
    if v == nil then return nil, problem end
    if o.escapes and #v > lvscf.MAX_SEND then
        return nil, "too long: " .. #v .. " bytes (at most " .. lvscf.MAX_SEND .. ")"
    end
    if o.device then v = { [key] = v, [o.device] = dev } end
    return v, nil, warning
end

--[[
format(scope, key, value): the text the writer writes after `KEY = ` for a model value (quotes
and escapes included), or nil and why it cannot be written (the value check's problem). An IP
DEV pair's value is a table with both model keys (a block itself will do). Key "name" gives a
block's or server's name as its opener writes it. check(scope, key, format(scope, key, v)) is v.
]]
function lvscf.format(scope, key, value)
    local o = option_of(scope, key)
    if value == nil then return nil, "not set" end
    if not o then
        if type(value) ~= "string" then error("lvscf.format: a name must be a string", 2) end
        local problem = one_line(value) or name_problem(scope, value)
        if problem then return nil, problem end
        return writer.token(value)
    end
    local v, dst = value, nil
    if o.device then
        if type(value) ~= "table" then error("lvscf.format: the value of " .. key .. " is a table of " .. key
            .. " and " .. o.device, 2) end
        v, dst = value[key], value
        local dev = value[o.device]
        if type(dev) ~= "string" then return nil, "missing arguments" end
        local problem = one_line(dev) or (not check.writable(dev)
            and "the device needs quotes and holds both kinds of quote: it cannot be written")
        if problem then return nil, problem end
    end
    local cv, problem = check.check(o, v)
    if cv == nil then return nil, problem end
    if type(cv) == "string" and not o.escapes and cv:find("%z") then return nil, one_line(cv) end
    if o.escapes and #cv > lvscf.MAX_SEND then
        return nil, "too long: " .. #cv .. " bytes (at most " .. lvscf.MAX_SEND .. ")"
    end
    return writer.value_text(o, cv, dst)
end

lvscf.globals, lvscf.blocks, lvscf.servers = model.globals, model.blocks, model.servers

return lvscf
