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
local file = require "luaha.core.file"

local lvscf = {}

lvscf.MAX_SIZE = 256 * 1024 * 1024      -- bytes: a larger file is refused before it is read

--[[
parse(text, filename [, cache] [, opts]): the model, or nil, errors; a third result lists
warnings (both arrays of strings). opts.resolve(name) replaces the resolver of host names (an
address, or nil and a reason): by default `getent ahostsv4` in the task, with a 5 s bound.
Waits (the task lets others run while it reads and resolves).
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

lvscf.globals, lvscf.blocks, lvscf.servers = model.globals, model.blocks, model.servers

return lvscf
