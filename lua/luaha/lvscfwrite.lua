-- lua/luaha/lvscfwrite.lua: the lvs.cf writer: a config model to text that reads back to the same model.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Every value a reader accepts can be written: the value checks (lvscfcheck) refuse a string that
could not be one token (check.writable), so nothing here raises on a checked model. Options are
written in the order of the option tables, luaha's own (ext) ones only when they are not at
their default. Host names were resolved by the reader: the model, and so the text, holds the
address, which is what the daemon uses and what the heartbeat's digest should compare.
]]
local model = require "luaha.lvscfmodel"
local check = require "luaha.lvscfcheck"

local write = {}

-- token(s): a string as one token: bare when it reads back as itself, else in the quotes it does not hold.
local function token(s)
    if s ~= "" and not s:find("[ \t\r\n]") and not s:find("^[\"'#]") and s ~= "}" and s ~= "{" then
        return s
    end
    if not s:find('"', 1, true) then return '"' .. s .. '"' end
    if not s:find("'", 1, true) then return "'" .. s .. "'" end
    error("cannot write a value that needs quotes and holds both kinds (the model was not checked): " .. s, 3)
end

local function escape(s)
    local map = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\\"] = "\\\\", ['"'] = '\\"' }
    return '"' .. s:gsub('[\n\r\t\\"]', map) .. '"'
end

-- value_text(o, v, dst): the text after `KEY = ` for value v of option o (dst: where an IP DEV pair's device is).
local function value_text(o, v, dst)
    local t = o.type
    if t == "bool" or t == "flag" then return v and "1" or "0" end
    if t == "ipdev" then return v .. " " .. token(dst[o.device]) end
    if t == "list" then return "[ " .. table.concat(v, " ") .. " ]" end
    if o.escapes then return escape(v) end
    if type(v) == "number" then return model.number(v) end
    return token(v)
end

-- written(o, dst, failover): the value of option o that is written for table dst, or nil.
local function written(o, dst, failover)
    local v = dst[o.key]
    -- luaha's own options at their defaults are left out, so Piranha can still read the file;
    -- so are defaults of keys a failover block does not use, which would only draw warnings.
    if (o.ext or failover and not model.failover_uses[o.key]) and v == o.default then return nil end
    return v
end

local function write_opts(out, dst, opts, indent, failover)
    for _, o in ipairs(opts) do
        local v = written(o, dst, failover)
        if v ~= nil then out[#out + 1] = indent .. o.key .. " = " .. value_text(o, v, dst) end
    end
end

-- server_lines(out, s, at, indent): appends the lines of server s, its opener at indentation at, its options one indent further.
local function server_lines(out, s, at, indent)
    out[#out + 1] = at .. "server " .. token(s.name) .. " {"
    write_opts(out, s, model.servers, at .. indent)
    out[#out + 1] = at .. "}"
    return out
end

-- block_lines(out, kind, b, indent): appends the lines of block b (without newlines), indented by indent per level.
local function block_lines(out, kind, b, indent)
    out[#out + 1] = kind .. " " .. token(b.name) .. " {"
    write_opts(out, b, model.blocks, indent, kind == "failover")
    for _, s in ipairs(b.servers or {}) do
        check.breathe()
        server_lines(out, s, indent, indent)
    end
    out[#out + 1] = "}"
    return out
end

--[[
block(kind, b, into): the text of block b, each line ending in a newline: what block_lines gives
with an indent of 4, joined. Made of pieces in into (emptied first: a table the caller reuses from
block to block), not of lines: the pieces are strings that exist already (indents, keys, values,
short numbers), where each line would be a new string; a reload that writes every block again
made 16 MB of them at 37 000 real servers.
]]
local function put_opts(into, n, dst, opts, indent, failover)
    for _, o in ipairs(opts) do
        local v = written(o, dst, failover)
        if v ~= nil then
            into[n + 1], into[n + 2], into[n + 3], into[n + 4], into[n + 5] = indent, o.key, " = ",
                value_text(o, v, dst), "\n"
            n = n + 5
        end
    end
    return n
end

local function block(kind, b, into)
    for i = #into, 1, -1 do into[i] = nil end
    local n, unit = 4, "    "
    into[1], into[2], into[3], into[4] = kind, " ", token(b.name), " {\n"
    n = put_opts(into, n, b, model.blocks, unit, kind == "failover")
    for _, s in ipairs(b.servers or {}) do
        check.breathe()
        into[n + 1], into[n + 2], into[n + 3], into[n + 4] = unit, "server ", token(s.name), " {\n"
        n = put_opts(into, n + 4, s, model.servers, unit .. unit)
        into[n + 1], into[n + 2] = unit, "}\n"
        n = n + 2
    end
    into[n + 1] = "}\n"
    return table.concat(into, "", 1, n + 1)
end

-- parts(model [, cache]): see lvscf.write_parts.
function write.parts(m, cache)
    local out = {}
    local texts = cache and cache.written or {}
    write_opts(out, m, model.globals, "")
    out = #out > 0 and { table.concat(out, "\n") .. "\n" } or {}
    local into = {}
    for _, kind in ipairs({ "virtual", "failover" }) do
        for _, b in ipairs(m[kind .. "s"] or {}) do
            check.breathe()
            local text = texts[b] or block(kind, b, into)
            texts[b] = text
            out[#out + 1] = text
        end
    end
    if #out == 0 then out[1] = "\n" end      -- nothing to write is still a line
    return out
end

-- For lvscf.format and the editor (lvsedit), which write single options, blocks and servers as this writer does.
write.token, write.value_text, write.block_lines, write.server_lines = token, value_text, block_lines, server_lines

return write
