-- lua/luaha/json.lua: JSON text from Lua values and back, for `luaha ctl --json` and the status document.
--[[
encode(value [, pace]): nil is null; booleans, numbers (integers as integers; other numbers with
14 significant digits; NaN and infinities raise), strings (UTF-8 passed through, control bytes
escaped); a table with only the keys 1..n (n > 0), or one marked with json.array, is an array, an
empty table an object, any other table an object whose keys, strings or numbers, come out in no
particular order. Cycles and other types raise. pace, when given, is called between pieces of
the text (a piece is at most MAX_PIECE values), so that a pace that waits lets the loop run
while a large document is encoded (luaha.pacer).
decode(text): the value, or nil and "json: REASON at byte N"; null is json.null.

The encoder is Debian's lua-cjson, walked into from Lua: cjson 2.1.0 writes an empty table as
{} and an integer from 10^14 on with 14 digits, so the walk hands it only pieces without
either, of at most MAX_PIECE values, and writes the rest itself.
]]
local cjson = require("cjson").new()

local json = {}

local MAX_PIECE = 256       -- values in one piece cjson writes at once: about 0.1 ms
local BIG = 1e14            -- integers from here on are written by us, whole

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

-- The decoder: a recursive descent over text, pos the next byte.
local decode_value

local function fail(pos, why) error({ json = ("json: %s at byte %d"):format(why, pos) }) end

local function skip(text, pos)
    return text:find("[^ \t\r\n]", pos) or #text + 1
end

local function decode_string(text, pos)
    local out, i = {}, pos + 1
    while true do
        local j = text:find('["\\%c]', i)
        if not j then fail(pos, "unterminated string") end
        out[#out + 1] = text:sub(i, j - 1)
        local c = text:sub(j, j)
        if c == '"' then return table.concat(out), j + 1 end
        if c ~= "\\" then fail(j, "control byte in a string") end
        local e = text:sub(j + 1, j + 1)
        local simple = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
        if simple[e] then
            out[#out + 1] = simple[e]
            i = j + 2
        elseif e == "u" then
            local hex = text:match("^%x%x%x%x", j + 2)
            if not hex then fail(j, "bad \\u escape") end
            local code = tonumber(hex, 16)
            i = j + 6
            local lo = code >= 0xd800 and code < 0xdc00 and text:match("^\\u(%x%x%x%x)", i)
            if lo then
                code = 0x10000 + (code - 0xd800) * 0x400 + (tonumber(lo, 16) - 0xdc00)
                i = i + 6
            end
            out[#out + 1] = utf8.char(code)
        else
            fail(j, "bad escape")
        end
    end
end

function decode_value(text, pos)
    pos = skip(text, pos)
    local c = text:sub(pos, pos)
    if c == "{" then
        local obj = {}
        pos = skip(text, pos + 1)
        if text:sub(pos, pos) == "}" then return obj, pos + 1 end
        while true do
            if text:sub(pos, pos) ~= '"' then fail(pos, "expected a key") end
            local k
            k, pos = decode_string(text, pos)
            pos = skip(text, pos)
            if text:sub(pos, pos) ~= ":" then fail(pos, "expected ':'") end
            obj[k], pos = decode_value(text, pos + 1)
            pos = skip(text, pos)
            local d = text:sub(pos, pos)
            if d == "}" then return obj, pos + 1 end
            if d ~= "," then fail(pos, "expected ',' or '}'") end
            pos = skip(text, pos + 1)
        end
    elseif c == "[" then
        local arr = json.array({})
        pos = skip(text, pos + 1)
        if text:sub(pos, pos) == "]" then return arr, pos + 1 end
        while true do
            arr[#arr + 1], pos = decode_value(text, pos)
            pos = skip(text, pos)
            local d = text:sub(pos, pos)
            if d == "]" then return arr, pos + 1 end
            if d ~= "," then fail(pos, "expected ',' or ']'") end
            pos = pos + 1
        end
    elseif c == '"' then
        return decode_string(text, pos)
    end
    for word, value in pairs({ ["true"] = true, ["false"] = false, null = json.null }) do
        if text:sub(pos, pos + #word - 1) == word then return value, pos + #word end
    end
    local num = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if num and num ~= "" and num ~= "-" then
        local n = math.tointeger(tonumber(num)) or tonumber(num)
        if n then return n, pos + #num end
    end
    fail(pos, "unexpected " .. (c == "" and "end of text" or ("'" .. c .. "'")))
end

function json.decode(text)
    local ok, v, pos = pcall(decode_value, text, 1)
    if not ok then
        if type(v) == "table" and v.json then return nil, v.json end
        error(v, 0)
    end
    pos = skip(text, pos)
    if pos <= #text then return nil, ("json: text after the value at byte %d"):format(pos) end
    return v
end

return json
