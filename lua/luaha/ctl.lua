-- lua/luaha/ctl.lua: the control socket of a daemon, `luaha attach` (a REPL inside it) and `luaha ctl` (its commands).
--[[
A daemon listens on a Unix socket, by default /run/luaha/NAME.sock (mode 0600), and serves only
peers whose uid (SO_PEERCRED) is 0 or its own. A client's first line chooses:

    attach                      a REPL session: then "eval<TAB>LINE" runs a line, "cancel"
                                cancels the line running; closing detaches
    ctl<TAB>COMMAND<TAB>ARG...  one command registered with ctl.register, then the end

The daemon answers in frames, "TYPE LENGTH\n" and LENGTH bytes: "out" and "err" (text for
standard output and error), "prompt" (ready for a line, the prompt to show), "status" ("0" or
"1": the line or the command succeeded, or failed) and "bye" (refused, with why).
]]
local luaha = require "luaha"
local repl = require "luaha.repl"
local json = require "luaha.json"

local log = luaha.log

local ctl = { commands = {}, exposed = {}, DIR = "/run/luaha" }

--[[
register(name, fn, usage, own_json): a command for `luaha ctl`: fn(args, out) writes with
out.print and out.eprint (or returns a string), and returns true on success, or false or nil and a
message. With --json among the words, the client gets one JSON object {command=, ok=, output=
[lines], errors=[lines]} instead, unless own_json: then fn sees out.json and prints JSON itself.
]]
function ctl.register(name, fn, usage, own_json)
    ctl.commands[name] = { fn = fn, usage = usage or name, own_json = own_json }
end

local function frame(conn, kind, payload)
    return conn:send(("%s %d\n%s"):format(kind, #payload, payload))
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

local function serve_attach(conn, who)
    local function write(s) frame(conn, "out", s) end
    local env = repl.env(write)
    for name, value in pairs(ctl.exposed) do env[name] = value end
    env.luaha = session_luaha(write)
    local sess = repl.session({ write = write, write_error = function(s) frame(conn, "err", s) end,
        env = env, chunkname = "=attach", add_history = function() end })
    log.info("ctl: %s attached", who)
    frame(conn, "prompt", sess:prompt())
    local busy = false
    while true do
        local line = conn:receive("*l")
        if not line then break end
        local cmd, text = line:match("^(%a+)\t?(.*)$")
        if cmd == "eval" and not busy then
            busy = true
            local t = luaha.spawn(function()
                local ok = sess:feed(text)
                frame(conn, "status", ok and "0" or "1")
                frame(conn, "prompt", sess:prompt())
                busy = false
            end)
            t:name("attach " .. who)
        elseif cmd == "eval" then
            frame(conn, "err", "a line is still running\n")
        elseif cmd == "cancel" then
            sess:cancel()
        end
    end
    sess:cancel()
    log.info("ctl: %s detached", who)
end

local function serve_command(conn, words)
    local name = table.remove(words, 1)
    local c = ctl.commands[name]
    local want_json = false
    for i = #words, 1, -1 do
        if words[i] == "--json" then
            table.remove(words, i)
            want_json = true
        end
    end
    local out = {
        json = want_json,
        print = function(s) frame(conn, "out", s .. "\n") end,
        eprint = function(s) frame(conn, "err", s .. "\n") end,
    }
    local envelope
    if want_json and not (c and c.own_json) then
        envelope = { command = name, output = json.array({}), errors = json.array({}) }
        out.print = function(s) table.insert(envelope.output, s) end
        out.eprint = function(s) table.insert(envelope.errors, s) end
    end
    if not c then
        local names = {}
        for n in pairs(ctl.commands) do names[#names + 1] = n end
        table.sort(names)
        out.eprint(("unknown command %q; this daemon knows: %s"):format(tostring(name), table.concat(names, ", ")))
        return frame(conn, "status", "1")
    end
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
        frame(conn, "out", json.encode(envelope) .. "\n")
    end
    frame(conn, "status", res and "0" or "1")
end

local function handler(conn)
    local _ <close> = conn
    conn:settimeout(nil)
    local uid, _, pid = conn:peercred()
    local mine = luaha.daemon.getuid()
    local who = ("uid %s pid %s"):format(tostring(uid), tostring(pid))
    if uid ~= 0 and uid ~= mine then
        log.warning("ctl: refused a connection from %s: only root and uid %s may control this daemon", who, mine)
        frame(conn, "bye", "refused: only root and uid " .. tostring(mine) .. " may control this daemon\n")
        return
    end
    local hello = conn:receive("*l", 10)
    if hello == "attach" then return serve_attach(conn, who) end
    local words = {}
    for w in (hello or ""):gmatch("[^\t]+") do words[#words + 1] = w end
    if table.remove(words, 1) ~= "ctl" then
        frame(conn, "bye", "not a luaha control client\n")
        return
    end
    serve_command(conn, words)
end

--[[
listen(path): the control socket at path, its directory made (mode 0700) if missing. A socket
left by a dead daemon is replaced; one a live daemon answers on is not: nil, "ctl PATH: in use".
Returns the server, or nil and the error.
]]
function ctl.listen(path)
    if ctl.server then return ctl.server end
    local dir = path:match("^(.*)/[^/]*$")
    if dir and dir ~= "" then
        local r = luaha.proc.run({ "mkdir", "-p", "-m", "0700", dir }, { timeout = 10 })
        if not r or r.status ~= 0 then return nil, ("ctl %s: cannot make %s"):format(path, dir) end
    end
    local probe = luaha.net.unix(path)
    if probe then
        probe:close()
        return nil, ("ctl %s: in use by a running daemon"):format(path)
    end
    os.remove(path)
    local server, err = luaha.net.listen_unix(path, handler, { mode = "0600" })
    if not server then return nil, "ctl " .. err end
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

-- close(): stops listening and removes the socket.
function ctl.close()
    if not ctl.server then return end
    ctl.server:close()
    os.remove(ctl.path)
    ctl.server, ctl.path = nil, nil
end

-- The client side -------------------------------------------------------------------------

-- socket_path(target): a path as it is, a NAME as /run/luaha/NAME.sock, nothing as the only one there.
local function socket_path(target)
    if target and target:find("/", 1, true) then return target end
    if target then return ("%s/%s.sock"):format(ctl.DIR, target) end
    local found = {}
    local p = io.popen("ls " .. ctl.DIR .. " 2>/dev/null")
    if p then
        for f in p:lines() do
            if f:match("%.sock$") then found[#found + 1] = ctl.DIR .. "/" .. f end
        end
        p:close()
    end
    return found[1] and #found == 1 and found[1] or ("%s/piranha.sock"):format(ctl.DIR)
end

-- read_frame(conn): kind, payload; nil at the end.
local function read_frame(conn)
    local head = conn:receive("*l")
    if not head then return nil end
    local kind, len = head:match("^(%a+) (%d+)$")
    if not kind then return nil end
    local payload = tonumber(len) > 0 and conn:receive(tonumber(len)) or ""
    return kind, payload
end

local function connect(target)
    local path = socket_path(target)
    local conn, err = luaha.net.unix(path)
    if not conn then
        io.stderr:write("luaha: ", err, "\n")
        return nil
    end
    conn:settimeout(nil)
    return conn
end

local function put(kind, payload)
    local f = kind == "err" and io.stderr or io.stdout
    f:write(payload)
    f:flush()
end

-- attach(args): `luaha attach [NAME|PATH] [-e CODE]`. Returns the exit status.
local function attach(args)
    local target, code
    local i = 1
    while i <= #args do
        if args[i] == "-e" and args[i + 1] then
            code = args[i + 1]
            i = i + 1
        elseif not target and args[i]:sub(1, 1) ~= "-" then
            target = args[i]
        else
            io.stderr:write("usage: luaha attach [NAME|PATH] [-e CODE]\n")
            return 2
        end
        i = i + 1
    end
    local conn = connect(target)
    if not conn then return 1 end
    conn:send("attach\n")
    local rl = require "luaha.core.readline"
    local running, status = false, 0
    local sig = luaha.on_signal("INT", function()
        if running then conn:send("cancel\n") end
    end)
    local function finish(s)
        sig:cancel()
        conn:close()
        return s
    end
    local sent = false
    while true do
        local kind, payload = read_frame(conn)
        if not kind then return finish(code and 1 or status) end
        if kind == "bye" then
            put("err", "luaha: " .. payload)
            return finish(1)
        elseif kind == "status" then
            running, status = false, tonumber(payload) or 1
            if code then return finish(status) end
        elseif kind == "prompt" then
            if code then
                if sent then return finish(status) end
                sent, running = true, true
                conn:send("eval\t" .. code:gsub("\n", " ") .. "\n")
            else
                local line = rl.readline(payload)
                if not line then
                    if rl.isatty() then io.stdout:write("\n") end
                    return finish(0)
                end
                if line:find("%S") then rl.add_history(line) end
                running = true
                conn:send("eval\t" .. line .. "\n")
            end
        else
            put(kind, payload)
        end
    end
end

-- command(args): `luaha ctl [NAME|PATH] COMMAND [ARG...]`. Returns the exit status.
local known = { status = true, disable = true, enable = true, weight = true, drain = true, reload = true,
    failover = true, check = true, help = true }
local function command(args)
    local target
    if args[1] and not known[args[1]] then target = table.remove(args, 1) end
    if not args[1] then
        io.stderr:write("usage: luaha ctl [NAME|PATH] status|disable|enable|weight|drain|reload|failover|check [ARGS] [--json]\n")
        return 2
    end
    local conn = connect(target)
    if not conn then return 1 end
    conn:send("ctl\t" .. table.concat(args, "\t") .. "\n")
    while true do
        local kind, payload = read_frame(conn)
        if not kind then
            io.stderr:write("luaha: the daemon closed the connection\n")
            return 1
        end
        if kind == "bye" then
            put("err", "luaha: " .. payload)
            return 1
        elseif kind == "status" then
            conn:close()
            return tonumber(payload) or 1
        else
            put(kind, payload)
        end
    end
end

-- main(which, ...): the `luaha attach` and `luaha ctl` commands; ends the program with their status.
function ctl.main(which, ...)
    local args = { ... }
    local status = which == "attach" and attach(args) or command(args)
    luaha.exit(status)
end

return ctl
