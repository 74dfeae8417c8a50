-- lua/luaha/lvscflex.lua: lvs.cf's lexical rules (spec 2.1): a line into tokens, a token into a Lua value.
-- SPDX-License-Identifier: GPL-2.0-or-later
local check = require "luaha.lvscfcheck"

local lex = {}

local quote = check.quote

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

--[[
C strtol(s, 0): 0x hex and leading-zero octal, as Piranha read integers. Returns the integer
(and a warning for octal), nil for no integer, or nil, true when it does not fit in 64 bits
(Lua's own tonumber wraps hex around 2^64 and turns long decimals into floats).
]]
local function strtol(s)
    local sign, body = s:match("^([+-]?)(.+)$")
    if not body then return nil end
    local base, digits
    if body:match("^0[xX]%x+$") then
        base, digits = 16, body:sub(3)
    elseif body:match("^0[0-7]+$") then
        base, digits = 8, body:sub(2)
    elseif body:match("^%d+$") then
        base, digits = 10, body
    else
        return nil
    end
    digits = digits:gsub("^0+", "")
    if #digits > 22 then return nil, true end
    local v = 0
    for i = 1, #digits do
        local d = tonumber(digits:sub(i, i), 16)
        if v > (math.maxinteger - d) // base then return nil, true end
        v = v * base + d
    end
    local warn
    if base == 8 then
        warn = quote(s) .. " is octal (= " .. v .. "), as Piranha read it; drop the leading zero for decimal"
    end
    return sign == "-" and -v or v, warn
end
lex.strtol = strtol

local function read_number(s, o)
    local v, warn = strtol(s)
    if warn == true then return check.out_of_range(quote(s), o) end
    if not v and o.frac and s:match("^%d*%.?%d+$") then
        v = tonumber(s)
        if v == math.huge then return check.out_of_range(quote(s), o) end
    end
    if not v then return nil, (o.frac and "number" or "integer") .. " expected, got " .. quote(s) end
    return v, nil, warn
end

lex.readers = {
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

function lex.unescape(s)
    local map = { n = "\n", r = "\r", t = "\t", ["\\"] = "\\", ["'"] = "'", ['"'] = '"' }
    return (s:gsub("\\(.)", function(c) return map[c] or "\\" .. c end))
end

--[[
Splits a line into tokens. A quoted token runs to its matching quote; in send/expect (esc) a
backslash escapes the next character, so \" does not end it. Returns tokens or nil, problem. Into
toks and quoted when given (emptied first): a reader of a large file tokenizes hundreds of
thousands of lines, and two new tables a line were most of its garbage (45 MiB at 37 000 real
servers), which also left the model's tables scattered among holes the system never got back.
]]
function lex.tokenize(line, esc, toks, quoted)
    if toks then
        for i = #toks, 1, -1 do toks[i] = nil end
        for k in pairs(quoted) do quoted[k] = nil end
    else
        toks, quoted = {}, {}
    end
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

return lex
