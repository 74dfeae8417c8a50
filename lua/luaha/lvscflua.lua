-- lua/luaha/lvscflua.lua: Lua configs: the chunk run sandboxed and bounded; the table it returns checked into the model.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
load(text, path [, opts]): the model of a Lua config, or nil, errors; warnings third. The chunk
runs with no io, os, require, load or debug, in a coroutine of its own with a budget of
instructions and of memory, so a config that loops or grows for ever is an error, not a hang.
The C functions it calls are not interrupted: string.rep and table.move are bounded here,
and a pattern made to backtrack for ever is beyond reach (a config is the operator's code).
The chunk cannot wait, so it holds the loop while it runs: up to its budget, about a second;
building 10 000 servers takes about 20 ms. The checks then let other tasks run.

Its table is checked with the option tables and value checks of lvscfmodel, as lvs.cf lines
are. A table has no line of its own, so a message names the line where the source first
writes the option (`key =`) after the block's `name = "NAME"`, or failing that anywhere, or
failing that the block's name, or the chunk's last `return`: a config that builds its tables
in code is pointed to the code that builds them.
]]
local model = require "luaha.lvscfmodel"
local check = require "luaha.lvscfcheck"

local lualoader = {}

local BUDGET = 100000000            -- instructions
local MEMORY = 128 * 1024           -- KiB more than at the start: ten times a model of 100 000 servers
local MAX_MESSAGES = 1000           -- errors, and warnings, kept; the others counted
lualoader.MAX_TEXT = 16 * 1024 * 1024   -- bytes of source: 200 000 servers written out
local STEP = 1000                   -- instructions between two looks at the budgets
local MAX_REP = 16 * 1024 * 1024    -- bytes string.rep may make
local MAX_MOVE = 10000000           -- elements table.move may move

local breathe = check.breathe

-- The names a Lua config can use: no io, os, require, load or debug; string.rep and table.move bounded.
local function sandbox()
    local env = {}
    for _, k in ipairs({ "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
            "tostring", "type", "print" }) do
        env[k] = _G[k]
    end
    for _, lib in ipairs({ "string", "table", "math", "utf8" }) do
        env[lib] = {}
        for k, v in pairs(_G[lib]) do env[lib][k] = v end
    end
    local rep, move = string.rep, table.move
    env.string.rep = function(s, n, sep)
        local size = (math.tointeger(n) or 0) * (#tostring(s) + #tostring(sep or ""))
        if size > MAX_REP then error("string.rep: a result of more than " .. MAX_REP .. " bytes", 2) end
        return rep(s, n, sep)
    end
    env.table.move = function(a1, f, e, t, a2)
        if (math.tointeger(e) or 0) - (math.tointeger(f) or 0) >= MAX_MOVE then
            error("table.move: more than " .. MAX_MOVE .. " elements", 2)
        end
        return move(a1, f, e, t, a2)
    end
    return env
end

--[[
run(fn, env): fn's first result, or nil, its error. Past a budget every instruction raises, so
a pcall in the config cannot swallow the error and go on. The string metatable's methods are
the sandbox's while it runs (("x"):rep(n) is string.rep): nothing else runs meanwhile, since
the config cannot wait.
]]
local function run(fn, env)
    local co = coroutine.create(fn)
    local left, base, over = BUDGET, collectgarbage("count"), nil
    debug.sethook(co, function()
        if not over then
            left = left - STEP
            if left <= 0 then
                over = "the config ran too long"
            elseif collectgarbage("count") - base > MEMORY then
                over = "the config used more than " .. MEMORY // 1024 .. " MiB"
            end
            if over then debug.sethook(co, function() error(over, 0) end, "", 1) end
        end
        if over then error(over, 0) end
    end, "", STEP)
    local meta = getmetatable("")
    local methods = meta.__index
    meta.__index = env.string
    local ok, m = coroutine.resume(co)
    meta.__index = methods
    if ok then return m end
    if type(m) ~= "string" then m = "error object is a " .. type(m) .. " value" end
    return nil, m, co
end

-- The index in sorted list of its first item >= x (#list + 1 when none is).
local function first_from(list, x)
    local lo, hi = 1, #list + 1
    while lo < hi do
        local mid = (lo + hi) // 2
        if list[mid] < x then lo = mid + 1 else hi = mid end
    end
    return lo
end

--[[
Where messages point in the source: see the top of the file. finder(text) gives line_of(key,
name). The text is indexed once, when the first message needs it (each `word =`, each `name =
"NAME"`, each quoted string), so that a thousand messages cost a thousand binary searches.
]]
local function finder(text)
    local starts, keys, name_at, string_at, last_return
    local function index()
        starts, keys, name_at, string_at, last_return = { 1 }, {}, {}, {}, 1
        for pos in text:gmatch("\n()") do starts[#starts + 1] = pos end
        for pos, word in text:gmatch("()([%a_][%w_]*)%s*=[^=]") do
            local list = keys[word] or {}
            keys[word], list[#list + 1] = list, pos
        end
        for _, pos in ipairs(keys.name or {}) do
            local q = text:match("^name%s*=%s*\"([^\"\n]*)\"", pos) or text:match("^name%s*=%s*'([^'\n]*)'", pos)
            if q and not name_at[q] then name_at[q] = pos end
        end
        for pos, q in text:gmatch("()[\"']([^\"'\n]*)[\"']") do
            if not string_at[q] then string_at[q] = pos end
        end
        for pos in text:gmatch("%f[%w_]return%f[^%w_]()") do last_return = pos end
    end
    local function line_at(pos) return first_from(starts, pos + 1) - 1 end
    return function(key, name)
        if not starts then index() end
        local word = type(key) == "string" and key:match("^[%a_][%w_]*")
        local list = word and keys[word] or {}
        local at = type(name) == "string" and name ~= "" and (name_at[name] or string_at[name])
        if not at then return line_at(list[1] or last_return) end
        -- The block's own text: from its name to the next `name =`, then from the one before.
        local names = keys.name or {}
        local k = first_from(names, at)
        local lo, hi = names[k - 1] or 1, names[names[k] == at and k + 1 or k] or #text + 1
        local after = list[first_from(list, at)]
        if after and after < hi then return line_at(after) end
        local before = list[first_from(list, lo)]
        return line_at(before and before < at and before or at)
    end
end

-- validate(m, path, text, opts): the model (checked, with its defaults), or nil, errors; warnings third.
local function validate(m, path, text, opts)
    local errors, warnings, memo, dropped = {}, {}, {}, {}
    local line_of = finder(text)
    local function report(list, kind, b, s, key, problem)
        if #list >= MAX_MESSAGES then
            dropped[list] = (dropped[list] or 0) + 1
            return
        end
        local line = line_of(key, (s or b or {}).name)
        list[#list + 1] = string.format("%s:%d: %s%s: %s", path, line, check.context(kind, b, s), key, problem)
    end
    local function check_opts(dst, opts_tbl, kind, b, s, skip)
        for k in pairs(dst) do
            -- An option table's integer keys index its options: an array item is no option.
            if type(k) ~= "string" then
                report(errors, kind, b, s, "[" .. tostring(k) .. "]", "unknown option (an array item)")
            elseif not opts_tbl[k] and not skip[k] then
                report(errors, kind, b, s, k, "unknown option")
            end
        end
        breathe()
        for _, o in ipairs(opts_tbl) do
            local v = dst[o.key]
            if v ~= nil then
                local nv, problem = check.check(o, v)
                if nv ~= nil and (o.type == "host" or o.type == "ipdev") then
                    nv, problem = check.resolve(nv, opts, memo)
                end
                if nv == nil then
                    report(errors, kind, b, s, o.key, problem)
                else
                    dst[o.key] = nv
                    local dev = o.device and dst[o.device]
                    if o.device and type(dev) ~= "string" then
                        report(errors, kind, b, s, o.device, "missing (the interface or alias for " .. o.key .. ")")
                    elseif o.device then
                        local _, dproblem = check.check_string(dev, {})
                        if dproblem then report(errors, kind, b, s, o.device, dproblem) end
                    end
                end
            elseif o.required then
                report(errors, kind, b, s, o.key, "missing (required)")
            end
        end
        check.fill_defaults(dst, opts_tbl)
    end
    -- A block's or server's name: a string the writer can write, one line; else an error and its index as name.
    local function check_name(t, i, kind, b, where)
        local _, problem = check.check_string(t.name, {})
        if t.name == "" then problem = "missing" end
        if problem then
            report(errors, kind, b, nil, where .. "[" .. i .. "].name", type(t.name) == "nil" and "missing" or problem)
            t.name = tostring(i)
        end
    end
    -- The tables of list (field key of t): the others reported and dropped.
    local function tables(t, key, what, kind, b)
        if type(t[key]) ~= "table" then
            report(errors, kind, b, nil, key, "list of " .. what .. "s expected")
            t[key] = {}
        end
        local ok = {}
        for i, x in ipairs(t[key]) do
            if type(x) == "table" then
                ok[#ok + 1] = x
            else
                report(errors, kind, b, nil, key .. "[" .. i .. "]", what .. " (a table) expected")
            end
        end
        t[key] = ok
    end
    if type(m) ~= "table" then
        return nil, { string.format("%s:%d: the config must return a table", path, line_of()) }, warnings
    end
    m.virtuals, m.failovers = m.virtuals or {}, m.failovers or {}
    check_opts(m, model.globals, nil, nil, nil, { virtuals = true, failovers = true, nat_router_device = true })
    for _, kind in ipairs({ "virtual", "failover" }) do
        tables(m, kind .. "s", "block", nil, nil)
        for i, b in ipairs(m[kind .. "s"]) do
            check_name(b, i, nil, nil, kind .. "s")
            b.servers = b.servers or {}
            tables(b, "servers", "server", kind, b)
            check_opts(b, model.blocks, kind, b, nil, { name = true, servers = true, device = true })
            for j, s in ipairs(b.servers) do
                check_name(s, j, kind, b, "servers")
                if s.port == nil then s.port = b.port end
                check_opts(s, model.servers, kind, b, s, { name = true })
            end
        end
    end
    if #errors == 0 then
        check.cross_check(m, function(level, kind, b, s, key, problem)
            report(level == "error" and errors or warnings, kind, b, s, key, problem)
        end)
    end
    for list, n in pairs(dropped) do
        list[#list + 1] = ("%s:%d: %d more %s not shown"):format(path, line_of(), n,
            list == errors and "errors" or "warnings")
    end
    if #errors > 0 then return nil, errors, warnings end
    return m, nil, warnings
end

-- The chunk's name in Lua's messages, which are rewritten to name the file: Lua cuts long names.
local CHUNK = "config"

-- The innermost line of the config's own code in the stack of co, which died of an error.
local function config_line(co)
    for level = 0, 200 do
        local info = debug.getinfo(co, level, "Sl")
        if not info then break end
        if info.source == "=" .. CHUNK and info.currentline > 0 then return info.currentline end
    end
end

-- load(text, path [, opts]): see lvscf.load_lua.
function lualoader.load(text, path, opts)
    if #text > lualoader.MAX_TEXT then
        return nil, { ("%s: larger than %d bytes"):format(path, lualoader.MAX_TEXT) }, {}
    end
    local env = sandbox()
    local fn, err = load(text, "=" .. CHUNK, "t", env)
    local m, co
    if fn then m, err, co = run(fn, env) end
    if err then
        local line, rest = err:match("^" .. CHUNK .. ":(%d+): (.*)$")
        if not line then line, rest = co and config_line(co) or finder(text)(), err end
        return nil, { string.format("%s:%d: %s", path, line, rest) }, {}
    end
    return validate(m, path, text, opts)
end


return lualoader
