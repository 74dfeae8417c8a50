-- lua/luaha/repl.lua: the interactive loop of `luaha -i`: read a chunk, run it in this task, show what it returns.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Chunks run in the task that called repl.run, so they may wait
(luaha.sleep(1) at the prompt) while other tasks go on; between lines the
REPL yields once, so a long piped script cannot starve them either.

The environment: by default each run gets a fresh table that reads through
to _G but keeps the user's assignments, so a session (one per `luaha
attach`) sees the policy's globals and the standard library but cannot
replace a global a running policy relies on; it starts with `luaha`
(require "luaha"), a `print` that writes where the REPL writes and `help`.
opts.env = _G works on the real globals instead.

A value a line returns is shown with pretty.format, except a string, which
is written as its text: `ipvs.format()` reads as the table it is.

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

-- What help() says of the helpers a session's environment may hold, in this order.
local helpers = {
    { "help", "help()", "this list" },
    { "print", "print(...)", "writes its arguments, as text, where the loop writes" },
    { "io", "io.write(...)", "io.write, io.stdout and io.stderr write to the attached client" },
    { "ctl", "ctl.NAME(arg, ...)", "runs a ctl command here: prints what it prints, returns true or false" },
    { "detach", "detach(f, ...)", "runs f(...) in a task that goes on after this client leaves" },
}

-- One entry: "name  text", the text wrapped at spaces to 100 columns under itself.
local function help_line(name, text)
    local lines, line = {}, ("  %-22s"):format(name)
    for word in text:gmatch("%S+") do
        if #line + 1 + #word > 100 and #line > 25 then
            lines[#lines + 1] = line
            line = (" "):rep(24)
        end
        line = line .. " " .. word
    end
    lines[#lines + 1] = line
    return table.concat(lines, "\n")
end

-- The sorted names of t's fields; the tables' among them too when tables is true.
local function names(t, tables)
    local out = {}
    for k, v in pairs(t) do
        if type(k) == "string" and (type(v) == "function" or tables and type(v) == "table") then
            out[#out + 1] = k
        end
    end
    table.sort(out)
    return out
end

-- The first line of a library module's file says what it is for: "-- lua/luaha/x.lua: WHAT".
-- The module is where require found it: a file of LUAHA_PATH, or the copy built into luaha.
local function about(name)
    local path, text = require("luaha.core.embed").search(name)
    path = path or package.searchpath(name, package.path)
    if not text then
        local f = path and io.open(path)
        if not f then return "" end
        text = f:read("l") or ""
        f:close()
    end
    return text:match("^%-%- [^:\n]*: ([^\n]*)") or ""
end

--[[
repl.help(env): the text help() writes: what luaha has (its functions and modules, one line
each), the library modules loaded, the ctl commands when env has ctl, and the helpers env has.
Reads the header line of each loaded module's file, a few kilobytes.
]]
function repl.help(env)
    local out = { "luaha, the module (see luaha-lua(7)):", help_line("luaha", table.concat(names(luaha), ", ")) }
    for _, k in ipairs(names(luaha, true)) do
        if type(luaha[k]) == "table" then
            out[#out + 1] = help_line("luaha." .. k, table.concat(names(luaha[k]), ", "))
        end
    end
    local libs = {}
    for name in pairs(package.loaded) do
        if name:match("^luaha%.[%w_]+$") and not name:match("^luaha%.core") and luaha[name:sub(7)] == nil then
            libs[#libs + 1] = name
        end
    end
    table.sort(libs)
    out[#out + 1] = "library modules loaded (require \"luaha.NAME\"):"
    for _, name in ipairs(libs) do out[#out + 1] = help_line(name, about(name)) end
    local ctl = package.loaded["luaha.ctl"]
    if rawget(env, "ctl") ~= nil and ctl then
        out[#out + 1] = "ctl commands, as ctl.NAME(...) here and `luaha ctl NAME ...` in a shell:"
        for _, name in ipairs(names(ctl.commands, true)) do
            out[#out + 1] = help_line("ctl." .. name, ctl.commands[name].usage)
        end
    end
    out[#out + 1] = "at this prompt:"
    for _, h in ipairs(helpers) do
        if rawget(env, h[1]) ~= nil then out[#out + 1] = help_line(h[2], h[3]) end
    end
    return table.concat(out, "\n") .. "\n"
end

--[[
repl.env(write): a session's environment: it reads through to _G, keeps its own assignments,
and has luaha, a print that writes with write, and help().
]]
function repl.env(write)
    local env = setmetatable({}, { __index = _G })
    env.luaha = luaha
    env.print = function(...)
        local n, parts = select("#", ...), {}
        for i = 1, n do parts[i] = tostring((select(i, ...))) end
        write(table.concat(parts, "\t") .. "\n")
    end
    env.help = function() write(repl.help(env)) end
    return env
end

--[[
The stdin reader: libedit on a terminal, where readline.c also ends the line after ^D. A piped
line too long to take is said and skipped; another failure to read ends the input.
]]
local function stdin_read(prompt)
    while true do
        local line, err = require("luaha.core.readline").readline(prompt)
        if line ~= nil or not err then return line end
        stderr_write("luaha: " .. err .. "\n")
        if not err:find("line longer than", 1, true) then return nil end
    end
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
        local v = res[i]
        out[i - 1] = type(v) == "string" and v or pretty.format(v, o.pretty)
    end
    local text = table.concat(out, "\t")
    o.write(text:sub(-1) == "\n" and text or text .. "\n")
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
