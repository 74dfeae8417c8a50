-- lua/luaha/json.lua: JSON text from Lua values and back, for `luaha ctl --json` and the status document.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
encode(value [, pace]): nil is null; booleans, numbers (integers as integers; other numbers with
14 significant digits; NaN and infinities raise), strings (UTF-8 passed through, control bytes
escaped); a table with only the keys 1..n (n > 0), or one marked with json.array, is an array, an
empty table an object, any other table an object whose keys, strings or numbers, come out in no
particular order. Cycles and other types raise. pace, when given, is called between pieces of
the text (a piece is at most MAX_PIECE values), so that a pace that waits lets the loop run
while a large document is encoded (luaha.pacer).
encode_parts(value [, pace]): the same text as a list of strings, for a large document.
decode(text): the value, or nil and "json: REASON at byte N"; null is json.null, a whole number an
integer (cjson reads numbers as doubles: exact to 2^53), an array a table marked as one but an
empty array an empty table, which encodes as {}.

The encoder is Debian's lua-cjson, walked into from Lua: cjson 2.1.0 writes an empty table as
{} and an integer from 10^14 on with 14 digits, so the walk hands it only pieces without
either, of at most MAX_PIECE values, and writes the rest itself.
]]
local cjson = require("cjson").new()

local json = {}

local MAX_PIECE = 256       -- values in one piece cjson writes at once: about 0.1 ms
local BIG = 1e14            -- integers from here on are written by us, whole
local PART = 64 * 1024      -- bytes of one of encode_parts's strings

-- Any other sparse array is an object, as here; keys 1..n are an array.
cjson.encode_sparse_array(true, 1, 0)
cjson.encode_max_depth(1000)

json.null = setmetatable({}, { __tostring = function() return "null" end })
local array_mark = setmetatable({}, { __mode = "k" })

-- array(t): t, marked to encode as an array even when empty.
function json.array(t)
    array_mark[t] = true
    return t
end

-- cjson writes "/" as "\/": as every "/" it writes is escaped, each "\/" is one.
local function fix(text)
    if text:find("\\/", 1, true) then text = text:gsub("\\/", "/") end
    return text
end

local function scalar(v)
    local ty = type(v)
    if v == nil or v == json.null then return "null" end
    if ty == "boolean" then return tostring(v) end
    if ty == "number" then
        if v ~= v or v == math.huge or v == -math.huge then error("json: cannot encode " .. tostring(v), 0) end
        if math.type(v) == "integer" then return tostring(v) end
        return cjson.encode(v)
    end
    if ty == "string" then return fix(cjson.encode(v)) end
    error("json: cannot encode a " .. ty, 0)
end

--[[
size(t, n): n plus the values under t when cjson may write t whole as we would (no json.null,
no empty or sparse marked array, no big integer, no other type of value or key), at most MAX_PIECE; else false.
A cycle is false too, having more than MAX_PIECE values.
]]
local function size(t, n)
    if t == json.null then return false end
    local count = 0
    for k, x in pairs(t) do
        count, n = count + 1, n + 1
        if n > MAX_PIECE then return false end
        local tk, tx = type(k), type(x)
        if tk ~= "string" and (tk ~= "number" or k >= BIG or k <= -BIG) then return false end
        if tx == "table" then
            n = size(x, n)
            if not n then return false end
        elseif tx == "number" then
            if x >= BIG or x <= -BIG or x ~= x then return false end
        elseif tx ~= "string" and tx ~= "boolean" then
            return false
        end
    end
    if array_mark[t] and (count == 0 or count ~= #t) then return false end
    return n
end

local function is_array(t)
    if array_mark[t] then return true end
    local n = #t
    if n == 0 then return false end
    local count = 0
    for _ in pairs(t) do count = count + 1 end
    return count == n
end

local function encode(v, out, seen, pace)
    if type(v) ~= "table" or v == json.null then
        out[#out + 1] = scalar(v)
        return
    end
    if size(v, 0) then
        out[#out + 1] = fix(cjson.encode(v))
        if pace then pace() end
        return
    end
    if seen[v] then error("json: a table that contains itself", 0) end
    seen[v] = true
    if is_array(v) then
        out[#out + 1] = "["
        for i = 1, #v do
            if i > 1 then out[#out + 1] = "," end
            encode(v[i], out, seen, pace)
        end
        out[#out + 1] = "]"
    else
        out[#out + 1] = "{"
        local first = true
        for k, x in pairs(v) do
            local tk = type(k)
            if tk ~= "string" and tk ~= "number" then error("json: a key of type " .. tk, 0) end
            out[#out + 1] = (first and "" or ",") .. scalar(tostring(k)) .. ":"
            first = false
            encode(x, out, seen, pace)
        end
        out[#out + 1] = "}"
    end
    seen[v] = nil
end

function json.encode(v, pace)
    local out = {}
    encode(v, out, {}, pace)
    return table.concat(out)
end

--[[
encode_parts(value [, pace]): the same text as encode, as a list of strings of about PART bytes
each, for a caller that sends them in order (luaha.http takes a list as a body): the text of a
large document is never joined into one string, a copy of megabytes in one go.
]]
function json.encode_parts(v, pace)
    local out, parts, first, bytes = {}, {}, 1, 0
    encode(v, out, {}, pace)
    for i = 1, #out do
        bytes = bytes + #out[i]
        if bytes >= PART or i == #out then
            parts[#parts + 1] = table.concat(out, "", first, i)
            first, bytes = i + 1, 0
            if pace then pace() end
        end
    end
    return parts
end

-- decode's results made ours: cjson's null is json.null, a non-empty array marked, a whole number an integer.
local function adopt(v)
    local ty = type(v)
    if ty == "number" then return math.tointeger(v) or v end
    if ty == "table" then
        for k, x in pairs(v) do
            if type(x) ~= "string" then v[k] = adopt(x) end
        end
        if v[1] ~= nil then array_mark[v] = true end
        return v
    end
    if v == cjson.null then return json.null end
    return v
end

function json.decode(text)
    local ok, v = pcall(cjson.decode, text)
    if not ok then
        return nil, "json: " .. tostring(v):gsub(" at character (%d+)", " at byte %1")
    end
    return adopt(v)
end

return json
