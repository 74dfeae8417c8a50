-- lua/luaha/ctlclient.lua: the client side of a daemon's control socket: `luaha attach` and `luaha ctl`.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
The socket, the first line and the frames the daemon answers with are described at the top of
lua/luaha/ctl.lua. A line sent is at most ctl.MAX_LINE bytes with its "eval<TAB>": a longer
one is refused here, before it is sent, as the daemon would refuse it.
]]
local luaha = require "luaha"
local ctl = require "luaha.ctl"

local client = {}

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

-- eval(line): the line as the daemon takes it, or nil and why not when it is too long.
local function eval(line)
    local msg = "eval\t" .. line
    if #msg > ctl.MAX_LINE then
        return nil, ("luaha: a line is at most %d bytes; this one, %d, is not sent\n"):format(ctl.MAX_LINE - 5, #line)
    end
    return msg .. "\n"
end

-- answered(arg, usage): prints the usage for -h/--help and the version for --version; true when it did.
local function answered(arg, usage)
    if arg == "-h" or arg == "--help" then
        print(usage)
    elseif arg == "--version" then
        print("luaha " .. luaha.version)
    else
        return false
    end
    return true
end

--[[
attach(args): `luaha attach [NAME|PATH] [-e CODE]`. Returns the exit status: with -e, the line's
(1 also when it is an incomplete chunk); read from a terminal, 0 at ^D; read from a pipe, 1 if any
line failed or the input ended inside a chunk, else 0.
]]
local attach_usage = "usage: luaha attach [NAME|PATH] [-e CODE]"

local function attach(args)
    local target, code
    local i = 1
    while i <= #args do
        if answered(args[i], attach_usage) then
            return 0
        elseif args[i] == "-e" and args[i + 1] then
            code = args[i + 1]
            i = i + 1
        elseif not target and args[i]:sub(1, 1) ~= "-" then
            target = args[i]
        else
            io.stderr:write(attach_usage, "\n")
            return 2
        end
        i = i + 1
    end
    local conn = connect(target)
    if not conn then return 1 end
    conn:send("attach\n")
    local rl = require "luaha.core.readline"
    local piped = not code and not rl.isatty()
    local running, status, failed, first_prompt, sent = false, 0, false, nil, false
    local sig = luaha.on_signal("INT", function()
        if running then conn:send("cancel\n") end
    end)
    local function finish(s)
        sig:cancel()
        conn:close()
        return s
    end
    while true do
        local kind, payload = read_frame(conn)
        if not kind then return finish((code or failed) and 1 or status) end
        if kind == "bye" then
            put("err", "luaha: " .. payload)
            return finish(1)
        elseif kind == "status" then
            running, status = false, tonumber(payload) or 1
            failed = failed or status ~= 0
        elseif kind == "prompt" then
            first_prompt = first_prompt or payload
            local incomplete = payload ~= first_prompt
            if code and sent then
                if incomplete then put("err", "luaha: -e: the chunk is incomplete\n") end
                return finish(incomplete and 1 or status)
            end
            local msg, err
            if code then
                msg, err = eval((code:gsub("\n", " ")))
                if not msg then
                    put("err", err)
                    return finish(1)
                end
                sent = true
            end
            while not msg do
                local line, rerr = rl.readline(payload)
                if not line and not rerr then
                    if not piped then io.stdout:write("\n") return finish(0) end
                    if incomplete then put("err", "luaha: the input ended inside a chunk\n") end
                    return finish((failed or incomplete) and 1 or 0)
                end
                if line then
                    if line:find("%S") then rl.add_history(line) end
                    msg, err = eval(line)
                else
                    err = "luaha: " .. rerr .. "\n"
                end
                if not msg then
                    put("err", err)
                    failed = true
                end
            end
            running = true
            conn:send(msg)
        else
            put(kind, payload)
        end
    end
end

-- command(args): `luaha ctl [NAME|PATH] COMMAND [ARG...]`. Returns the exit status.
local known = { status = true, disable = true, enable = true, weight = true, drain = true, reload = true, failover = true,
    check = true, help = true }
local ctl_usage = "usage: luaha ctl [NAME|PATH] status|disable|enable|weight|drain|reload|failover|check|help"
    .. " [ARGS] [--json]"

-- A daemon may have commands of its own (ctl.register): a word that is not an option goes to it.
local function command(args)
    local target
    if answered(args[1], ctl_usage) then return 0 end
    if args[1] and not known[args[1]] and args[1]:sub(1, 1) ~= "-" then target = table.remove(args, 1) end
    if not args[1] or args[1]:sub(1, 1) == "-" then
        io.stderr:write(args[1] and ("luaha ctl: unknown option %s\n"):format(args[1]) or "", ctl_usage, "\n")
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
function client.main(which, ...)
    local args = { ... }
    local status = which == "attach" and attach(args) or command(args)
    luaha.exit(status)
end

return client
