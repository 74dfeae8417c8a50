-- lua/luaha/pretty.lua: values as readable text for the REPL: nested tables with sorted keys, quoted strings.
-- SPDX-License-Identifier: GPL-2.0-or-later
local pretty = {}

local defaults = {
    depth = 3,          -- levels of tables shown; deeper ones read {...}
    indent = "  ",      -- added per level when a table spans lines
    width = 72,         -- a table fitting in this many columns stays on one line
}

local keywords = {}
for word in ([[and break do else elseif end false for function goto if in
    local nil not or repeat return then true until while]]):gmatch("%a+") do
    keywords[word] = true
end

local escapes = { ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r", ['"'] = '\\"', ["\\"] = "\\\\" }

-- Like %q, but with \n and \t rather than a backslash-newline and \9.
local function quote(s)
    return '"' .. s:gsub('[%c"\\]', function(c)
        return escapes[c] or string.format("\\%03d", c:byte())
    end) .. '"'
end

-- Numbers first (ascending), then strings, then the rest by type and text: a total order.
local type_rank = { number = 1, string = 2, boolean = 3 }

local function key_less(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then
        local ra, rb = type_rank[ta] or 4, type_rank[tb] or 4
        if ra ~= rb then return ra < rb end
        return ta < tb
    end
    if ta == "number" or ta == "string" then return a < b end
    if ta == "boolean" then return not a and b end
    return tostring(a) < tostring(b)
end

-- A table whose metatable gives __tostring is an object: show what it says it is.
local function object_text(t)
    local mt = getmetatable(t)
    if type(mt) ~= "table" or rawget(mt, "__tostring") == nil then return nil end
    local ok, s = pcall(tostring, t)
    return ok and type(s) == "string" and s or nil
end

local format_value

local function format_key(k)
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and not keywords[k] then
        return k
    elseif type(k) == "string" then
        return "[" .. quote(k) .. "]"
    end
    return "[" .. tostring(k) .. "]"
end

-- path holds the tables being shown around this one, so only a real cycle reads <cycle>.
local function format_table(t, o, level, path)
    local text = object_text(t)
    if text then return text end
    if next(t) == nil then return "{}" end
    if path[t] then return "<cycle>" end
    if level >= o.depth then return "{...}" end
    path[t] = true

    local parts, n = {}, 0
    while rawget(t, n + 1) ~= nil do
        n = n + 1
        parts[n] = format_value(rawget(t, n), o, level + 1, path)
    end
    local keys = {}
    for k in next, t do
        if not (math.type(k) == "integer" and k >= 1 and k <= n) then
            keys[#keys + 1] = k
        end
    end
    table.sort(keys, key_less)
    for _, k in ipairs(keys) do
        parts[#parts + 1] = format_key(k) .. " = " .. format_value(rawget(t, k), o, level + 1, path)
    end
    path[t] = nil

    local line = "{ " .. table.concat(parts, ", ") .. " }"
    if not line:find("\n", 1, true) and #line + #o.indent * level <= o.width then
        return line
    end
    local inner = "\n" .. o.indent:rep(level + 1)
    return "{" .. inner .. table.concat(parts, "," .. inner) .. "\n" .. o.indent:rep(level) .. "}"
end

function format_value(v, o, level, path)
    local tv = type(v)
    if tv == "string" then
        return quote(v)
    elseif tv == "table" then
        return format_table(v, o, level, path)
    end
    return tostring(v)
end

--[[
pretty.format(value [, opts]): value as text. Strings are quoted, tables are
shown nested with their sequence first and then their other keys sorted
(numbers before strings), a table inside itself reads <cycle> and tables
deeper than opts.depth read {...}. Functions, userdata and tables with a
__tostring metamethod read as tostring gives them. opts: see defaults.
]]
function pretty.format(value, opts)
    local o = {}
    for k, v in pairs(defaults) do o[k] = v end
    for k, v in pairs(opts or {}) do
        if defaults[k] == nil then error("pretty.format: unknown option " .. tostring(k), 2) end
        if type(v) ~= type(defaults[k]) then
            error("pretty.format: option " .. k .. " must be a " .. type(defaults[k]), 2)
        end
        o[k] = v
    end
    return format_value(value, o, 0, {})
end

return pretty
