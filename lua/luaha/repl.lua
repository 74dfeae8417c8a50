-- lua/luaha/repl.lua: the interactive loop of `luaha -i`: read a chunk, run it in this task, show what it returns.
--[[
Chunks run in the task that called repl.run, so they may wait
(luaha.sleep(1) at the prompt) while other tasks go on; between lines the
REPL yields once, so a long piped script cannot starve them either.

The environment: by default each run gets a fresh table that reads through
to _G but keeps the user's assignments, so a session (later one per
`luaha attach`) sees the policy's globals and the standard library but
cannot replace a global a running policy relies on; it starts with `luaha`
(require "luaha") and a `print` that writes where the REPL writes.
opts.env = _G works on the real globals instead.

Reading and writing are functions, so the same loop can serve a socket:
opts.read(prompt) returns a line (without its end) or nil at end of input;
opts.write(s) writes results, opts.write_error(s) errors (default: io.stdout
and io.stderr, or opts.write for both when it is given).
]]
local luaha = require "luaha"
local pretty = require "luaha.pretty"

local repl = {}

-- Valid options and the type each must have; the defaults are filled in by options().
local option_types = {
    read = "function",          -- read(prompt) -> line or nil; default: luaha.core.readline
    write = "function",         -- write(s) for results
    write_error = "function",   -- write_error(s) for error messages and tracebacks
    add_history = "function",   -- add_history(line) for each non-empty line
    env = "table",              -- _ENV of the chunks
    prompt = "string",          -- "> "
    prompt2 = "string",         -- ">> ", while a chunk is incomplete
    chunkname = "string",       -- "=stdin", as in error messages "stdin:1: ..."
    pretty = "table",           -- options for pretty.format of results
}

local function stdout_write(s)
    io.stdout:write(s)
    io.stdout:flush()
end

local function stderr_write(s)
    io.stdout:flush()   -- what the chunk printed comes before its error
    io.stderr:write(s)
end

--[[
repl.env(write): a session's environment: it reads through to _G, keeps its own assignments,
and has luaha and a print that writes with write.
]]
function repl.env(write)
    local env = setmetatable({}, { __index = _G })
    env.luaha = luaha
    env.print = function(...)
        local n, parts = select("#", ...), {}
        for i = 1, n do parts[i] = tostring((select(i, ...))) end
        write(table.concat(parts, "\t") .. "\n")
    end
    return env
end

-- The stdin reader: libedit on a terminal, where readline.c also ends the line after ^D.
local function stdin_read(prompt)
    local line, err = require("luaha.core.readline").readline(prompt)
    if line == nil and err then stderr_write("luaha: " .. err .. "\n") end
    return line
end

local function stdin_history(line)
    require("luaha.core.readline").add_history(line)
end

local function options(opts)
    if opts ~= nil and type(opts) ~= "table" then
        error("repl.run: options must be a table", 3)
    end
    local o = {}
    for k, v in pairs(opts or {}) do
        if option_types[k] == nil then error("repl.run: unknown option " .. tostring(k), 3) end
        if type(v) ~= option_types[k] then
            error("repl.run: option " .. k .. " must be a " .. option_types[k], 3)
        end
        o[k] = v
    end
    o.write_error = o.write_error or o.write or stderr_write
    o.write = o.write or stdout_write
    if o.read == nil then
        o.read = stdin_read
        o.add_history = o.add_history or stdin_history
    end
    o.add_history = o.add_history or function() end
    o.env = o.env or repl.env(o.write)
    o.prompt = o.prompt or "> "
    o.prompt2 = o.prompt2 or ">> "
    o.chunkname = o.chunkname or "=stdin"
    local ok, err = pcall(pretty.format, nil, o.pretty)
    if not ok then error("repl.run: option pretty: " .. err, 3) end
    return o
end

-- A compile error at the end of the text means the chunk goes on in the next line.
local function incomplete(err)
    return err ~= nil and err:sub(-5) == "<eof>"
end

--[[
Compiles src as an expression list, so that its values are shown, or else
as statements. Returns the function, or nil, the error and whether more
lines could complete it. The expression form counts for completeness too,
so a table constructor or a call may span lines.
]]
local function compile(src, o)
    local fn, rerr = load("return " .. src, o.chunkname, "t", o.env)
    if fn then return fn end
    local err
    fn, err = load(src, o.chunkname, "t", o.env)
    if fn then return fn end
    return nil, err, incomplete(err) or incomplete(rerr)
end

-- The message handler: the error with the chunk's traceback, without the REPL's own frames.
local function traceback(msg)
    if type(msg) ~= "string" then
        local mt = getmetatable(msg)
        local ok, s = false, nil
        if type(mt) == "table" and mt.__tostring then ok, s = pcall(tostring, msg) end
        msg = ok and type(s) == "string" and s
            or string.format("(error object is a %s value)", type(msg))
    end
    local tb = debug.traceback(msg, 2)
    local cut, from = nil, 1
    while true do
        local i = tb:find("\n\t[C]: in function 'xpcall'", from, true)
        if not i then break end
        cut, from = i, i + 1
    end
    return cut and tb:sub(1, cut - 1) or tb
end

--[[
Runs a chunk in a task of its own when the REPL runs in a task, so that a
runaway line stopped by the instruction budget ends that task, not the REPL,
and so that a session can cancel it. Returns true, or false after an error.
]]
local function run_chunk(fn, o, session)
    local res
    if luaha.current() then
        local task = luaha.spawn(function() return table.pack(xpcall(fn, traceback)) end)
        task:name("repl")
        session.running = task
        local packed, err = task:join()
        session.running = nil
        res = packed or { false, err, n = 2 }
    else
        res = table.pack(xpcall(fn, traceback))
    end
    if not res[1] then
        o.write_error(tostring(res[2]) .. "\n")
        return false
    end
    if res.n < 2 then return true end
    local out = {}
    for i = 2, res.n do
        out[i - 1] = pretty.format(res[i], o.pretty)
    end
    o.write(table.concat(out, "\t") .. "\n")
    return true
end

local session = {}
session.__index = session

--[[
repl.session([opts]): the REPL's state without its loop, for a caller that reads lines itself
(such as the control socket): session:prompt() is the prompt to show, session:feed(line) runs
the line or keeps it for the rest of a chunk (returns false after an error), session:cancel()
cancels the line running, session:finish() at the end of input. Options as repl.run's.
]]
function repl.session(opts)
    return setmetatable({ o = options(opts) }, session)
end

function session:prompt()
    return self.pending and self.o.prompt2 or self.o.prompt
end

function session:feed(line)
    local o = self.o
    if type(line) ~= "string" then error("repl: a line must be a string, not a " .. type(line), 2) end
    if line:find("%S") then o.add_history(line) end
    self.pending = self.pending and self.pending .. "\n" .. line or line
    local fn, err, more = compile(self.pending, o)
    if fn then
        self.pending = nil
        return run_chunk(fn, o, self)
    elseif not more then
        self.pending = nil
        o.write_error(err .. "\n")
        return false
    end
    return true
end

function session:cancel()
    if self.running then return self.running:cancel() end
    self.pending = nil
    return false
end

function session:finish()
    if self.pending then
        local _, err = load(self.pending, self.o.chunkname, "t", self.o.env)
        self.o.write_error(tostring(err) .. "\n")
        self.pending = nil
    end
end

--[[
repl.run([opts]): reads and runs chunks until opts.read returns nil.
Errors in a chunk are shown with their traceback and the loop goes on.
May wait (it reads and runs code in the calling task). Options: see
option_types and the top of this file.
]]
function repl.run(opts)
    local s = setmetatable({ o = options(opts) }, session)
    local in_task = luaha.current() ~= nil and coroutine.isyieldable()
    while true do
        local line = s.o.read(s:prompt())
        if line == nil then return s:finish() end
        if type(line) ~= "string" then error("repl.run: read returned a " .. type(line), 2) end
        s:feed(line)
        if in_task then coroutine.yield() end   -- other tasks, and a fresh instruction budget
    end
end

return repl
