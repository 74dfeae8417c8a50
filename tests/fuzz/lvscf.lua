-- tests/fuzz/lvscf.lua: fuzzes the lvs.cf and Lua-config readers: no raise, no hang, every message FILE:LINE:, and round trips.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: luaha tests/fuzz/lvscf.lua, with FUZZ_SEED (default: from the clock, printed), FUZZ_TIME
(seconds of random inputs after the fixed ones, default 3) and FUZZ_OUT (where a failing input
is saved, default tests/out/fuzz). `tests/run fuzz` runs it for a few seconds with seed 1;
`make fuzz` runs it long with a random seed, which FUZZ_SEED replays.

The inputs: first the fixed corpus (tests/fuzz/corpus/: every input that once failed, and the
known bad ones of issue 12) and a few made here (a long line, many errors, many blocks); then
random ones: mutations of the seed files and random token streams, for both readers. Each is
read in a task of its own, joined with a bound (a hang is a failure, and a task that runs past
its instruction budget fails as a raise). For every input:
  - reading does not raise;
  - every error and warning reads FILE:LINE: ...;
  - an accepted model is written without a raise, and its text reads back to the same model;
  - an lvs.cf read with a parse cache primed by other inputs gives what a fresh read gives.
Host names are resolved by a stand-in (names ending in .ok resolve), so that no input waits for DNS.
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local lualoader = require "luaha.lvscflua"
local model = require "luaha.lvscfmodel"

local SEED = tonumber(os.getenv("FUZZ_SEED") or "") or (math.floor(luaha.time() * 1000) % 2 ^ 31)
local TIME = tonumber(os.getenv("FUZZ_TIME") or "") or 3
local OUT = os.getenv("FUZZ_OUT") or "tests/out/fuzz"
local BOUND = 20                -- seconds one input may take (the ASan build, a busy machine)
local CORPUS = "tests/fuzz/corpus/"

print(("# seed %d (replay: FUZZ_SEED=%d), %g s of random inputs"):format(SEED, SEED, TIME))
math.randomseed(SEED)
local R = math.random
local function pick(list) return list[R(#list)] end

local OPTS = { resolve = function(name)
    if name == "localhost" then return "127.0.0.1" end
    if name:match("%.ok$") then return "192.0.2." .. (#name % 250 + 1) end
    return nil, "unknown host"
end }

local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("a")
    f:close()
    return s
end

local function same(a, b, path)
    path = path or "model"
    if type(a) ~= "table" or type(b) ~= "table" then
        if a == b or a ~= a and b ~= b then return true end
        return false, ("%s: %s vs %s"):format(path, tostring(a), tostring(b))
    end
    for k, v in pairs(a) do
        local ok, where = same(v, b[k], path .. "." .. tostring(k))
        if not ok then return false, where end
    end
    for k in pairs(b) do
        if a[k] == nil then return false, path .. "." .. tostring(k) .. ": missing" end
    end
    return true
end

-- The checks on one reading: nil, or what is wrong.
local function judge(name, m, errs, warns)
    if m == nil and (type(errs) ~= "table" or #errs == 0) then return "no model and no error" end
    for _, list in ipairs({ errs or {}, warns or {} }) do
        for _, msg in ipairs(list) do
            if type(msg) ~= "string" or msg:sub(1, #name + 1) ~= name .. ":" or not msg:find("^:%d+: ", #name + 1) then
                return "a message without " .. name .. ":LINE: " .. tostring(msg)
            end
        end
    end
    if m then
        local ok, written = pcall(lvscf.write, m)
        if not ok then return "write raised: " .. tostring(written) end
        local back, berrs = lvscf.parse(written, "written.cf", nil, OPTS)
        if not back then return "the written text is refused: " .. tostring(berrs[1]) .. "\n" .. written end
        local equal, where = same(back, m)
        if not equal then return "the written text reads back otherwise: " .. where end
    end
end

local cache = lvscf.cache()

-- one_cf(text), one_lua(text): false, or what is wrong.
local function one_cf(text)
    local m, errs, warns = lvscf.parse(text, "fuzz.cf", nil, OPTS)
    local bad = judge("fuzz.cf", m, errs, warns)
    if bad then return bad end
    local cm, cerrs, cwarns = lvscf.parse(text, "fuzz.cf", cache, OPTS)
    local ok, where = same({ cm, cerrs, cwarns }, { m, errs, warns })
    return not ok and "a read with the parse cache differs: " .. where
end

local function one_lua(text)
    local m, errs, warns = lualoader.load(text, "fuzz.lua", OPTS)
    return judge("fuzz.lua", m, errs, warns) or false
end

local counts, failures = { cf = 0, lua = 0 }, 0

-- run(kind, text, label): reads text in a task with a bound; a failure is printed and its input saved.
local function run(kind, text, label)
    counts[kind] = counts[kind] + 1
    local task = luaha.spawn(kind == "cf" and one_cf or one_lua, text)
    local result, err = task:join(BOUND)
    local bad = result
    if task:status() == "failed" then
        bad = "raised: " .. tostring(err)
    elseif result == nil then
        task:cancel()
        bad = "no answer in " .. BOUND .. " s (a hang)"
    end
    if bad then
        failures = failures + 1
        luaha.proc.run({ "mkdir", "-p", OUT }, { timeout = 10 })
        local path = ("%s/%s-%d-%d.%s"):format(OUT, kind, SEED, counts[kind], kind)
        local f = io.open(path, "wb")
        if f then
            f:write(text)
            f:close()
        end
        print(("FAIL fuzz-%s %s: %s (input saved in %s; add it to %s)"):format(kind, label, tostring(bad):sub(1, 2000),
            path, CORPUS))
    end
end

-- The fixed inputs: the corpus, then inputs too large to keep as files.
local corpus = luaha.proc.run({ "ls", CORPUS }, { timeout = 10 })
for name in (corpus and corpus.stdout or ""):gmatch("[^\n]+") do
    local kind = name:match("%.lua$") and "lua" or "cf"
    run(kind, read(CORPUS .. name), name)
end
run("cf", "active_cmd = " .. ("x"):rep(70000) .. "\n", "a line of 70000 bytes")
run("cf", ("port = 1\n"):rep(3000), "3000 errors")
run("cf", ("virtual v {\n address = 192.0.2.1 eth0\n}\n"):rep(5000), "5000 blocks of one name")
run("cf", ("serial_no = 1\n"):rep(3000), "3000 warnings")
run("lua", "return { virtuals = {" .. ("{ name = 'v', address = '192.0.2.1', device = 'e' },"):rep(5000) .. "} }",
    "5000 blocks of one name")
local fixed = counts.cf + counts.lua

-- Random inputs.
local seeds_cf = { read("tests/lua/data/seed.cf"), read("tests/lua/data/every.cf"), read("tests/lua/data/errors.cf") }
local seeds_lua = { read("examples/lvs.lua") }

local keys = { "virtual", "server", "failover", "address", "name", "servers", "virtuals", "failovers", "device" }
for _, opts in ipairs({ model.globals, model.blocks, model.servers }) do
    for _, o in ipairs(opts) do keys[#keys + 1] = o.key end
end
local values = { "0", "1", "-1", "2", "0x10", "010", "08", "65535", "65536", "4294967296", "0x10000000000000050",
    ("9"):rep(400), "0.5", ".5", "1e3", "0.0000001", "1e-25", "inf", "nan", "-0", "+1", "192.0.2.1", "0.0.0.0",
    "256.1.1.1", "localhost", "router.ok", "router.invalid", "-bad-", "255.255.255.0", "255.0.255.0", "eth0:1",
    "http", "smtp", "nosuchservice", "wlc", "sed", "tcp", "udp", "direct", "nat", "lvs", "fos", "none", "uptime",
    '"a b"', "'a b'", '"', "'", 'a"b\'c', '"unterminated', '"GET / HTTP/1.0\\r\\n\\r\\n"', '"\\"', "x\\", "" }
local syms = { "=", "{", "}", "[", "]", "#", "# comment", "\r", "\t", "\0", "\255", "=", "=", "\n", "\n", "\n" }
local lua_syms = { "return", "{", "}", "=", ",", ",", "(", ")", "[", "]", "..", ";", "true", "false", "nil", "local x",
    "function() end", "while true do end", "for i = 1, 1e9 do end", "pcall(function() while true do end end)",
    "error({})", "error('x', 0)", "('x'):rep(2^40)", "string.rep('x', 2^31)", "table.move({}, 1, 1e12, 2)",
    "os.exit()", "io.open('/etc/passwd')", "require('luaha')", "setmetatable", "#", "1/0", "0/0", "2^63",
    "math.maxinteger", "'a b\"c\\'d'", "\n", "\n" }

local function token_stream(lua)
    local out = {}
    for i = 1, R(1, 60) do
        local r = R(10)
        if lua then
            out[i] = r <= 4 and pick(lua_syms) or r <= 7 and pick(keys) or pick(values)
        else
            out[i] = r <= 3 and pick(syms) or r <= 6 and pick(keys) or pick(values)
        end
    end
    return table.concat(out, pick({ " ", " ", "  ", "\t", "\n" }))
end

local bytes = { "\n", "\r", " ", "\t", '"', "'", "\\", "{", "}", "=", "#", "0", "9", "x", ".", "\0", "\255", "-" }
local function mutate(text, lua)
    for _ = 1, R(1, 6) do
        local n = #text
        local i, j = R(1, n + 1), R(1, n + 1)
        if i > j then i, j = j, i end
        local r = R(8)
        if r == 1 then
            text = text:sub(1, i - 1) .. text:sub(j)                                -- a range less
        elseif r == 2 then
            text = text:sub(1, j) .. text:sub(i, j) .. text:sub(j + 1)              -- a range twice
        elseif r == 3 then
            local ins = {}
            for k = 1, R(1, 8) do ins[k] = pick(bytes) end
            text = text:sub(1, i - 1) .. table.concat(ins) .. text:sub(i)          -- bytes in
        elseif r == 4 then
            text = text:sub(1, i - 1) .. pick(lua and lua_syms or values) .. text:sub(i + R(0, 8))
        elseif r == 5 then
            text = text:sub(1, i - 1) .. pick(keys) .. " = " .. pick(values) .. "\n" .. text:sub(i)
        elseif r == 6 then
            text = text:sub(1, i - 1)                                               -- cut short
        elseif r == 7 then
            local other = pick(lua and seeds_lua or seeds_cf)
            text = text:sub(1, i - 1) .. other:sub(R(1, #other + 1))                -- spliced
        else
            text = text:gsub("[%w_]+", function()                                   -- words replaced
                if R(30) == 1 then return pick(R(2) == 1 and keys or values) end
            end)
        end
    end
    return text
end

local deadline = luaha.now() + TIME
while luaha.now() < deadline do
    local lua = R(4) == 1
    local text = R(3) == 1 and token_stream(lua) or mutate(pick(lua and seeds_lua or seeds_cf), lua)
    run(lua and "lua" or "cf", text, "random")
end

local what = ("%d lvs.cf and %d Lua inputs, %d of them fixed, seed %d"):format(counts.cf, counts.lua, fixed, SEED)
if failures == 0 then print("PASS fuzz-lvscf-readers (" .. what .. ")") end
print(("# %s, %d failures"):format(what, failures))
luaha.exit(failures == 0 and 0 or 1)
