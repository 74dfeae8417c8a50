-- tests/lua/lvscf-roundtrip.lua: for random values of every option, write(parse(x)) parses back to the same model.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local lvscf = require "luaha.lvscf"
local model = require "luaha.lvscfmodel"

local R = math.random
local function pick(list) return list[R(#list)] end

-- The characters that make quoting hard: blanks, both quotes, #, braces, brackets, backslash, =.
local CHARS = { "a", "b", "/", "-", ".", " ", "\t", '"', "'", "#", "{", "}", "[", "]", "\\", "=", "%", "x" }

local function random_text(max)
    local out = {}
    for i = 1, R(0, max) do out[i] = pick(CHARS) end
    return table.concat(out)
end

-- text as one lvs.cf token, in one of the ways the lexical rules read it as text; nil if there is none.
local function as_token(text)
    local ways = {}
    if text ~= "" and not text:find("[ \t\r]") and not text:find("^[\"']") then ways[#ways + 1] = text end
    if not text:find('"', 1, true) then ways[#ways + 1] = '"' .. text .. '"' end
    if not text:find("'", 1, true) then ways[#ways + 1] = "'" .. text .. "'" end
    return ways[1] and pick(ways)
end

local function random_number(o)
    local lo, hi = o.min, o.max
    if lo == math.mininteger then lo, hi = -1000, 1000 end
    local v
    if o.frac and R(2) == 1 then
        v = ("%.3f"):format(lo + R() * (math.min(hi, 1e6) - lo))
    else
        v = R(math.ceil(lo), math.floor(math.min(hi, 2 ^ 40)))
        if v >= 0 and R(4) == 1 then return ("0x%x"):format(v) end
        v = tostring(v)
    end
    if R(40) == 1 then return tostring(hi + 1) end       -- sometimes out of range
    return v
end

local function random_quad() return ("%d.%d.%d.%d"):format(R(1, 254), R(0, 255), R(0, 255), R(1, 254)) end

-- A random value text for option o (the tokens after `=`), or nil to leave it out.
local function random_value(o)
    if o.refused or R(3) == 1 then return nil end
    local ty = o.type
    if ty == "int" or ty == "secs" or ty == "flag" then return random_number(o) end
    if ty == "port" then return R(4) == 1 and pick({ "http", "smtp", "ssh" }) or random_number(o) end
    if ty == "bool" then return tostring(R(0, 1)) end
    if ty == "enum" then return pick(o.values) end
    if ty == "word" then return R(2) == 1 and pick(o.known) or as_token(random_text(8)) end
    if ty == "host" or ty == "ip" then return random_quad() end
    if ty == "ipdev" then return random_quad() .. " " .. (as_token(random_text(6)) or "eth0") end
    if ty == "mask" then return pick({ "255.255.255.0", "255.255.0.0", "255.255.255.255", "0.0.0.0" }) end
    if ty == "list" then
        local words = {}
        for i = 1, R(0, 3) do words[i] = pick({ "/etc", "/var/www", "a#b", "x" }) end
        return "[ " .. table.concat(words, " ") .. " ]"
    end
    if o.escapes then
        local s = random_text(12):gsub('"', '\\"')
        return '"' .. s .. (s:sub(-1) == "\\" and "\\" or "") .. '"'
    end
    return as_token(random_text(12))
end

local function options(out, opts, indent, skip)
    for _, o in ipairs(opts) do
        local v = not skip[o.key] and random_value(o)
        if v then out[#out + 1] = indent .. o.key .. " = " .. v end
    end
end

-- Options whose cross-checks refuse most random values: keepalive < deadtime, webui's listener and TLS pair.
local CROSS = { deadtime = true, keepalive = true, webui = true, webui_tls_cert = true, webui_tls_key = true }

local function random_config()
    local out = {}
    options(out, model.globals, "", CROSS)
    for b = 1, R(0, 3) do
        local kind = R(4) == 1 and "failover" or "virtual"
        out[#out + 1] = kind .. " " .. (as_token(random_text(6) .. b) or "b" .. b) .. " {"
        out[#out + 1] = "    address = " .. random_quad() .. " eth0:" .. b
        options(out, model.blocks, "    ", { address = true, half_open = true })
        for s = 1, kind == "virtual" and R(0, 3) or 0 do
            out[#out + 1] = "    server " .. (as_token(random_text(4) .. s) or "s" .. s) .. " {"
            out[#out + 1] = "        address = " .. random_quad()
            options(out, model.servers, "        ", { address = true })
            out[#out + 1] = "    }"
        end
        out[#out + 1] = "}"
    end
    return table.concat(out, "\n") .. "\n"
end

t.test("random-lvs.cf-values-read-back-the-same-after-writing", function()
    math.randomseed(12)
    local accepted = 0
    for i = 1, 400 do
        local text = random_config()
        local m = lvscf.parse(text, "r.cf")
        if m then
            accepted = accepted + 1
            local ok, written = pcall(lvscf.write, m)
            assert(ok, ("config %d: write raised: %s\n%s"):format(i, tostring(written), text))
            local back, errs = lvscf.parse(written, "w.cf")
            assert(back, ("config %d: the written text is refused: %s\n%s"):format(i, errs and errs[1], written))
            local same, where = t.same(back, m)
            assert(same, ("config %d: %s\n%s"):format(i, where, text))
            t.eq(lvscf.write(back), written, "config " .. i .. " written twice")
        end
    end
    -- The test means something only when most random files are accepted and some are not.
    assert(accepted > 100 and accepted < 400, "accepted: " .. accepted)
end)

-- A random Lua value for option o: of its type mostly, strings of any bytes, numbers of any size.
local function random_lua(o)
    if o.refused then return nil end
    local r = R(60)
    if r == 1 then return random_text(10) end
    if r == 2 then return pick({ 1 / 0, -1, 2 ^ 70, 0.5, math.maxinteger, true }) end
    local v = random_value(o)
    if v == nil then return nil end
    if o.type == "list" then return { "/etc", "x" } end
    if o.type == "ipdev" then return v:match("^%S+") end
    if o.type == "bool" or o.type == "flag" then return v == "1" end
    if o.type == "port" and not v:match("^%d") then return 80 end
    if (o.type == "int" or o.type == "secs" or o.type == "port") then return tonumber(v) or 1 end
    if o.escapes then return random_text(10) .. "\r\n" end
    return v:gsub("^[\"'](.*)[\"']$", "%1")
end

t.test("random-lua-config-values-read-back-the-same-after-writing", function()
    math.randomseed(34)
    local accepted = 0
    for i = 1, 150 do
        local lines = { "return {" }
        for _, o in ipairs(model.globals) do
            local v = not CROSS[o.key] and random_lua(o)
            if v ~= nil and v ~= false then lines[#lines + 1] = ("  %s = %s,"):format(o.key, ("%q"):format(v)) end
            if o.device and v ~= nil then lines[#lines + 1] = ("  %s = %q,"):format(o.device, random_text(4) .. "d") end
        end
        lines[#lines + 1] = "  virtuals = { { name = " .. ("%q"):format(random_text(5) .. "v")
            .. ", address = '192.0.2.1', device = " .. ("%q"):format(random_text(5) .. "d") .. ","
        for _, o in ipairs(model.blocks) do
            local v = o.key ~= "address" and o.key ~= "half_open" and random_lua(o)
            if type(v) == "table" then
                lines[#lines + 1] = ("    %s = { %q, %q },"):format(o.key, v[1], v[2])
            elseif v ~= nil and v ~= false then
                lines[#lines + 1] = ("    %s = %s,"):format(o.key, ("%q"):format(v))
            end
        end
        lines[#lines + 1] = "  } },\n}\n"
        local path = os.tmpname()
        local f = assert(io.open(path, "w"))
        f:write(table.concat(lines, "\n"))
        f:close()
        local m, errs = lvscf.load_lua(path)
        os.remove(path)
        for _, e in ipairs(errs or {}) do
            assert(e:sub(1, #path + 1) == path .. ":" and e:match("^[^:]*:%d+: "), "no file:line: " .. e)
        end
        if m then
            accepted = accepted + 1
            local ok, written = pcall(lvscf.write, m)
            assert(ok, ("config %d: write raised: %s"):format(i, tostring(written)))
            local back, berrs = lvscf.parse(written, "w.cf")
            assert(back, ("config %d: the written text is refused: %s\n%s"):format(i, berrs and berrs[1], written))
            local same, where = t.same(back, m)
            assert(same, ("config %d: %s\n%s"):format(i, where, written))
        end
    end
    print("# accepted " .. accepted .. " of 150")
    assert(accepted > 5 and accepted < 150, "accepted: " .. accepted)
end)

require("luaha").exit(t.failures() == 0 and 0 or 1)
