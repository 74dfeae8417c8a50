-- lua/luaha/ctl.lua: the control socket of a daemon: `luaha attach` sessions (a REPL inside it) and `luaha ctl` commands.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
A daemon listens on a Unix socket, by default /run/luaha/NAME.sock (mode 0600), and serves only
peers whose uid (SO_PEERCRED) is 0 or its own. A client's first line chooses:

    attach                      a REPL session: then "eval<TAB>LINE" runs a line, "cancel"
                                cancels the line running; closing detaches
    ctl<TAB>COMMAND<TAB>ARG...  one command registered with ctl.register, then the end

The daemon answers in frames, "TYPE LENGTH\n" and LENGTH bytes: "out" and "err" (text for
standard output and error), "prompt" (ready for a line, the prompt to show), "status" ("0" or
"1": the line or the command succeeded, or failed) and "bye" (refused, with why).

A line from a client is at most ctl.MAX_LINE bytes (64 KiB): a longer one is refused as it
arrives, never buffered, with an "err" frame, and the client is disconnected; so a client costs
the loop at most reading 64 KiB before its line runs (runtime/lines.c), whatever it sends. The
line itself runs in a task of its own, under the instruction budget like any task. The client
side, `luaha attach` and `luaha ctl`, is lua/luaha/ctlclient.lua.
]]
local luaha = require "luaha"
local repl = require "luaha.repl"
local json = require "luaha.json"

local log = luaha.log

local ctl = { commands = {}, exposed = {}, DIR = "/run/luaha", MAX_LINE = 65536, refused = 0 }

local LOG_EVERY = 10    -- seconds: at most one refusal logged so often; those between are counted

--[[
register(name, fn, usage, own_json): a command for `luaha ctl`: fn(args, out) writes with
out.print and out.eprint (or returns a string), and returns true on success, or false or nil and a
message. With --json among the words, the client gets one JSON object {command=, ok=, output=
[lines], errors=[lines]} instead, unless own_json: then fn sees out.json and prints JSON itself.
In an attached session the command is the function ctl.NAME(arg, ...).
]]
function ctl.register(name, fn, usage, own_json)
    ctl.commands[name] = { fn = fn, usage = usage or name, own_json = own_json }
end

local limited = luaha.log.limiter(log, LOG_EVERY)

-- refuse(fmt, ...): counts a refused client or line in ctl.refused; logs it unless one was logged less than LOG_EVERY ago.
local function refuse(fmt, ...)
    ctl.refused = ctl.refused + 1
    limited("refused", "ctl: " .. fmt, ...)
end

--[[
client(conn): the sending side of one client. Its frames go out one at a time, in the order the
tasks write them (the line, tasks it started, the session's log): a task that writes while
another's send waits for the client parks until that one hands it the turn, so a slow client
slows its writers and nothing piles up. Once the client has gone, cl.frame does nothing and
returns false; so it does too, while another task has the turn, from where a task cannot wait
or with nowait (a refusal, on the way to disconnecting, does not wait for a turn).
]]
local function client(conn)
    local cl = { gone = false }
    local busy, queue = false, {}
    local function next_turn()
        while #queue > 0 do
            if table.remove(queue, 1):unpark() then return end  -- a cancelled one is not parked
        end
        busy = false
    end
    function cl.frame(kind, payload, nowait)
        if cl.gone then return false end
        if busy then
            if nowait or not coroutine.isyieldable() then return false end
            queue[#queue + 1] = luaha.current()
            luaha.park()    -- the turn is handed over with busy still set
        end
        busy = true
        local _ <close> = setmetatable({}, { __close = next_turn })
        if cl.gone then return false end
        local ok = conn:send(("%s %d\n%s"):format(kind, #payload, payload))
        if not ok then cl.gone = true end
        return ok ~= nil
    end
    return cl
end

--[[
run(c, name, words, out): runs the registered command c with out's print and eprint; returns its
success, true or false, and whether it failed on its arguments (its message begins "usage: ").
A --json among the words is taken out: out.json for a command that prints its own JSON, else
the lines are gathered into one JSON object printed at the end.
]]
local function run(c, name, words, out)
    local want_json = false
    for i = #words, 1, -1 do
        if words[i] == "--json" then
            table.remove(words, i)
            want_json = true
        end
    end
    local envelope, print = nil, out.print
    if want_json and not c.own_json then
        envelope = { command = name, output = json.array({}), errors = json.array({}) }
        out = { print = function(s) table.insert(envelope.output, s) end,
            eprint = function(s) table.insert(envelope.errors, s) end }
    end
    out.json = want_json
    local ok, res, msg = xpcall(c.fn, debug.traceback, words, out)
    if not ok then
        log.err("ctl %s: %s", name, res)
        out.eprint("the command failed: " .. tostring(res):match("^[^\n]*"))
        res = false
    elseif type(res) == "string" then
        out.print(res)
        res = true
    elseif not res and msg then
        out.eprint(msg)
    end
    if envelope then
        envelope.ok = res and true or false
        print(json.encode(envelope))
    end
    return res and true or false, not res and type(msg) == "string" and msg:find("^usage: ") ~= nil
end

local function known_commands()
    local names = {}
    for n in pairs(ctl.commands) do names[#names + 1] = n end
    table.sort(names)
    return table.concat(names, ", ")
end

-- The session's ctl: ctl.NAME(arg, ...) runs the command NAME, writing what it prints to the client.
local function session_commands(write, write_error)
    return setmetatable({}, {
        __index = function(_, name)
            local c = ctl.commands[name]
            if not c then
                error(("no ctl command %q; this daemon has: %s"):format(tostring(name), known_commands()), 2)
            end
            return function(...)
                local words = table.pack(...)
                for i = 1, words.n do words[i] = tostring(words[i]) end
                words.n = nil
                return (run(c, name, words, { print = function(s) write(s .. "\n") end,
                    eprint = function(s) write_error(s .. "\n") end }))
            end
        end,
        __tostring = function() return "ctl commands: " .. known_commands() end,
    })
end

-- A file of the session's io: its write sends frames to the client, as io.write's arguments say.
local file_methods = {}
file_methods.__index = file_methods

function file_methods:write(...)
    local parts = table.pack(...)
    for i = 1, parts.n do
        local v = parts[i]
        if math.type(v) then
            parts[i] = tostring(v)
        elseif type(v) ~= "string" then
            error(("bad argument #%d to 'write' (string expected, got %s)"):format(i, type(v)), 2)
        end
    end
    self.send(table.concat(parts, "", 1, parts.n))
    return self
end

function file_methods:flush() return self end
function file_methods.setvbuf() return true end
function file_methods:close() return nil, "the attached client's " .. self.name .. " stays open" end
function file_methods:__tostring() return "file (attached client's " .. self.name .. ")" end

-- The session's io: the standard library's, but io.write, io.stdout and io.stderr write to the client.
local function session_io(write, write_error)
    local stdout = setmetatable({ send = write, name = "stdout" }, file_methods)
    local stderr = setmetatable({ send = write_error, name = "stderr" }, file_methods)
    return setmetatable({ stdout = stdout, stderr = stderr,
        write = function(...) return stdout:write(...) end }, { __index = io })
end

-- A session's luaha: its log lines go to the daemon's log and to the attached client.
local function session_luaha(write)
    local slog = setmetatable({}, { __index = log })
    for _, level in ipairs({ "debug", "info", "notice", "warning", "err" }) do
        slog[level] = function(fmt, ...)
            log[level](fmt, ...)
            write(("%s: %s\n"):format(level, fmt:format(...)))
        end
    end
    return setmetatable({ log = slog }, { __index = luaha })
end

--[[
expose(name, value): value is a variable of every attached session (a policy exposes its router as
`router`, its module by its name).
]]
function ctl.expose(name, value)
    ctl.exposed[name] = value
end

--[[
The environment of an attached session: repl.env's, with print, io and luaha.log writing to
the client, the ctl commands as functions, and detach(f, ...), which runs f in a task that
goes on when the client leaves (a line itself is cancelled then).
]]
local function session_env(write, write_error, who)
    local env = repl.env(write)
    for name, value in pairs(ctl.exposed) do env[name] = value end
    env.luaha = session_luaha(write)
    env.io = session_io(write, write_error)
    env.ctl = session_commands(write, write_error)
    env.detach = function(f, ...)
        if type(f) ~= "function" then error("detach: f must be a function", 2) end
        local t = luaha.spawn(f, ...)
        t:name("detached by " .. who)
        log.info("ctl: %s started a detached task, %s", who, tostring(t))
        return t
    end
    return env
end

-- Is err receive's refusal of a line longer than ctl.MAX_LINE?
local function too_long(err)
    return err ~= nil and err:find("line longer than", 1, true) ~= nil
end

local function serve_attach(conn, who)
    local cl = client(conn)
    local function write(s) cl.frame("out", s) end
    local function write_error(s) cl.frame("err", s) end
    local sess = repl.session({ write = write, write_error = write_error, env = session_env(write, write_error, who),
        chunkname = "=attach", add_history = function() end })
    log.info("ctl: %s attached", who)
    cl.frame("prompt", sess:prompt())
    local busy = false
    while true do
        local line, err = conn:receive("*l")
        if not line then
            if too_long(err) then
                refuse("%s: %s; disconnected", who, err)
                cl.frame("err", ("luaha: %s\n"):format(err), true)
            end
            break
        end
        local cmd, text = line:match("^(%a+)\t?(.*)$")
        if cmd == "eval" and not busy then
            busy = true
            local t = luaha.spawn(function()
                local ok = sess:feed(text)
                busy = false
                cl.frame("status", ok and "0" or "1")
                cl.frame("prompt", sess:prompt())
            end)
            t:name("attach " .. who)
        elseif cmd == "eval" then
            write_error("a line is still running\n")
        elseif cmd == "cancel" then
            sess:cancel()
        end
    end
    -- The client has gone: what its line still writes goes nowhere, and the line is cancelled.
    cl.gone = true
    if busy then
        sess:cancel()
        log.info("ctl: %s detached; its running line was cancelled", who)
    else
        log.info("ctl: %s detached", who)
    end
end

local function serve_command(conn, words)
    local cl = client(conn)
    local name = table.remove(words, 1)
    local c = ctl.commands[name]
    local out = {
        print = function(s) cl.frame("out", s .. "\n") end,
        eprint = function(s) cl.frame("err", s .. "\n") end,
    }
    if not c then
        out.eprint(("unknown command %q; this daemon knows: %s"):format(tostring(name), known_commands()))
        return cl.frame("status", "2")
    end
    -- The exit status of luaha ctl: 0 done, 1 refused, 2 a bad command or arguments.
    local ok, usage = run(c, name, words, out)
    cl.frame("status", ok and "0" or usage and "2" or "1")
end

local function handler(conn)
    local _ <close> = conn
    conn:settimeout(nil)
    local uid, _, pid = conn:peercred()
    local mine = luaha.daemon.getuid()
    local who = ("uid %s pid %s"):format(tostring(uid), tostring(pid))
    if uid ~= 0 and uid ~= mine then
        refuse("refused a connection from %s: only root and uid %s may control this daemon", who, mine)
        client(conn).frame("bye", "refused: only root and uid " .. tostring(mine) .. " may control this daemon\n")
        return
    end
    local hello, err = conn:receive("*l", 10)
    if hello == "attach" then return serve_attach(conn, who) end
    if too_long(err) then
        refuse("%s: %s; disconnected", who, err)
        client(conn).frame("err", ("luaha: %s\n"):format(err))
        return
    end
    local words = {}
    for w in (hello or ""):gmatch("[^\t]+") do words[#words + 1] = w end
    if table.remove(words, 1) ~= "ctl" then
        client(conn).frame("bye", "not a luaha control client\n")
        return
    end
    serve_command(conn, words)
end

-- Why listen_unix refused path, in the words of --ctl.
local function listen_error(path, err)
    if err:find("Address already in use", 1, true) then
        return ("ctl %s: in use by a running daemon"):format(path)
    elseif err:find("File exists", 1, true) then
        return ("ctl %s: something that is not a socket is there; it is left alone"):format(path)
    end
    return "ctl " .. err:gsub("^listen_unix ", "")
end

--[[
listen(path): the control socket at path, its directory made (mode 0700) if missing. A socket
left by a dead daemon, that nobody answers on, is replaced; nothing else is ever removed: a live
daemon's socket is nil, "ctl PATH: in use by a running daemon", and a regular file, a
directory or a symbolic link there is nil, "ctl PATH: something that is not a socket is there;
it is left alone". Returns the server, or nil and the error.
]]
function ctl.listen(path)
    if ctl.server then return ctl.server end
    local dir = path:match("^(.*)/[^/]*$")
    if dir and dir ~= "" then
        local r = luaha.proc.run({ "mkdir", "-p", "-m", "0700", dir }, { timeout = 10 })
        if not r or r.status ~= 0 then return nil, ("ctl %s: cannot make %s"):format(path, dir) end
    end
    local server, err = luaha.net.listen_unix(path, handler, { mode = "0600", max_line = ctl.MAX_LINE })
    if not server then return nil, listen_error(path, err) end
    ctl.server, ctl.path = server, path
    return server
end

-- open(name): the socket --ctl asked for, or else /run/luaha/NAME.sock; a failure is logged, not fatal.
function ctl.open(name)
    local path = ctl.wanted or ("%s/%s.sock"):format(ctl.DIR, name)
    local server, err = ctl.listen(path)
    if server then
        log.info("ctl: listening on %s", path)
    else
        log.err("%s", err)
    end
    return server, err
end

-- close(): stops listening and removes the socket, if the file there is still the one it made.
function ctl.close()
    if not ctl.server then return end
    ctl.server:close()
    ctl.server, ctl.path = nil, nil
end

-- main(which, ...): the `luaha attach` and `luaha ctl` commands (lua/luaha/ctlclient.lua).
function ctl.main(which, ...)
    return require("luaha.ctlclient").main(which, ...)
end

return ctl
