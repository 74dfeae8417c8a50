-- lua/luaha/json.lua: JSON text from Lua values and back, for `luaha ctl --json` and the status document.
--[[
encode(value): nil is null; booleans, numbers (integers as integers; NaN and infinities
raise), strings (UTF-8 passed through, control bytes escaped); a table with only the keys 1..n
(n > 0), or one marked with json.array, is an array, an empty table an object, any other table
an object whose keys, strings or numbers, come out sorted. Cycles and other types raise.
decode(text): the value, or nil and "json: REASON at byte N"; null is json.null.
]]
local json = {}

json.null = setmetatable({}, { __tostring = function() return "null" end })
local array_mark = setmetatable({}, { __mode = "k" })

-- array(t): t, marked to encode as an array even when empty.
function json.array(t)
    array_mark[t] = true
    return t
end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
    ["\r"] = "\\r", ["\t"] = "\\t" }

local function quote(s)
    return '"' .. s:gsub('[%c"\\]', function(c) return escapes[c] or ("\\u%04x"):format(c:byte()) end) .. '"'
end

local function is_array(t)
    if array_mark[t] then return true end
    local n = #t
    if n == 0 then return false end
    local count = 0
    for _ in pairs(t) do count = count + 1 end
    return count == n
end

local function encode(v, out, seen)
    local ty = type(v)
    if v == nil or v == json.null then
        out[#out + 1] = "null"
    elseif ty == "boolean" then
        out[#out + 1] = tostring(v)
    elseif ty == "number" then
        if v ~= v or v == math.huge or v == -math.huge then error("json: cannot encode " .. tostring(v)) end
        out[#out + 1] = math.type(v) == "integer" and tostring(v) or ("%.17g"):format(v)
    elseif ty == "string" then
        out[#out + 1] = quote(v)
    elseif ty == "table" then
        if seen[v] then error("json: a table that contains itself") end
        seen[v] = true
        if is_array(v) then
            out[#out + 1] = "["
            for i = 1, #v do
                if i > 1 then out[#out + 1] = "," end
                encode(v[i], out, seen)
            end
            out[#out + 1] = "]"
        else
            local keys = {}
            for k in pairs(v) do
                if type(k) ~= "string" and type(k) ~= "number" then error("json: a key of type " .. type(k)) end
                keys[#keys + 1] = k
            end
            table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
            out[#out + 1] = "{"
            for i, k in ipairs(keys) do
                if i > 1 then out[#out + 1] = "," end
                out[#out + 1] = quote(tostring(k)) .. ":"
                encode(v[k], out, seen)
            end
            out[#out + 1] = "}"
        end
        seen[v] = nil
    else
        error("json: cannot encode a " .. ty)
    end
end

function json.encode(v)
    local out = {}
    encode(v, out, {})
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
