-- examples/demo.lua: what `make demo` runs: tasks, timers, sockets, a child process and a budget, told step by step.
-- SPDX-License-Identifier: GPL-2.0-or-later
local luaha = require "luaha"

local t0 = luaha.now()

-- Every line says when it happened, in seconds since the start.
local function say(fmt, ...)
    io.stdout:write(string.format("[%4.2fs] ", luaha.now() - t0), string.format(fmt, ...), "\n")
    io.stdout:flush()
end

say("luaha %s demo: every wait below yields its task, so the others go on meanwhile", luaha.version)

-- A ticker: a timer whose callback runs as a task of its own every 0.25 s.
local ticks = 0
local ticker = luaha.every(0.25, function()
    ticks = ticks + 1
    say("tick %d (luaha.every 0.25 s)", ticks)
end)

-- A TCP echo server: each accepted connection runs the handler in a new task.
local server = assert(luaha.net.listen("127.0.0.1", 0, function(conn, addr, port)
    say("server: accepted %s:%d", addr, port)
    while true do
        local line, err = conn:receive("*l", 2)
        if not line then
            say("server: receive from %s:%d returned nil, %q: closing that connection", addr, port, err)
            break
        end
        conn:send("echo: " .. line .. "\n")
    end
    conn:close()
end))
local port = server:port()
say("tcp: echo server listening on 127.0.0.1 port %d", port)

-- Three clients talk to it at once, each at its own pace.
local function client(id, pause)
    local conn, err = luaha.net.tcp("127.0.0.1", port, { timeout = 2 })
    if not conn then return nil, err end
    for i = 1, 3 do
        conn:send(string.format("client %d message %d\n", id, i))
        local reply, rerr = conn:receive("*l")
        if not reply then
            conn:close()
            return nil, rerr
        end
        say("client %d: got %q", id, reply)
        luaha.sleep(pause)
    end
    conn:close()
    return id * 10
end

local clients = {}
for id = 1, 3 do
    clients[id] = luaha.spawn(client, id, 0.1 * id)
end
for id, task in ipairs(clients) do
    local result, err = task:join()
    say("client %d: finished, join returned %s", id, tostring(result or err))
end

-- UDP ping-pong between two sockets on the loopback.
local pong = assert(luaha.net.udp("inet"))
assert(pong:bind("127.0.0.1", 0))
local _, pong_port = pong:getsockname()
local ponger = luaha.spawn(function()
    for _ = 1, 3 do
        local data, addr, from_port = pong:recvfrom(1)
        if not data then return nil, addr end
        pong:sendto(data:gsub("ping", "pong"), addr, from_port)
    end
    return true
end)
local ping = assert(luaha.net.udp("inet"))
assert(ping:bind("127.0.0.1", 0))
for i = 1, 3 do
    local sent = luaha.now()
    ping:sendto("ping " .. i, "127.0.0.1", pong_port)
    local data, err = ping:recvfrom(1)
    say("udp: sent \"ping %d\", got %q after %.0f us", i, tostring(data or err),
        (luaha.now() - sent) * 1e6)
    luaha.sleep(0.1)
end
ponger:join()

-- A child process, no shell, with a timeout; then one that overstays its timeout.
local res, err = luaha.proc.run({ "uname", "-sr" }, { timeout = 2 })
if res then
    say("proc: uname -sr exited with status %d and printed %q", res.status, res.stdout:gsub("\n$", ""))
else
    say("proc: %s", err)
end
res, err = luaha.proc.run({ "sleep", "10" }, { timeout = 0.3 })
if res then
    say("proc: sleep 10 with a 0.3 s timeout: timed_out=%s, killed by signal %s",
        tostring(res.timed_out), tostring(res.signal))
else
    say("proc: %s", err)
end

-- A runaway task: it never yields, so its instruction budget stops it, pcall or not.
local old_budget = luaha.set_budget(100000)
say("budget: a task loops forever inside pcall; with a budget of 100000 instructions the runtime")
say("budget: stops it and logs its name, error and traceback on stderr")
local runaway = luaha.spawn(function()
    pcall(function()
        while true do end
    end)
    return "not reached"
end)
runaway:name("runaway")
local ok, why = runaway:join()
luaha.set_budget(old_budget)
say("budget: join returned %s, %q; status %s", tostring(ok), why, runaway:status())
say("budget: the other tasks go on; waiting for two more ticks")
local until_tick = ticks + 2
while ticks < until_tick do luaha.sleep(0.05) end

-- Close what keeps the program alive; it then ends by itself with status 0.
ticker:cancel()
server:close()
ping:close()
pong:close()
say("closed: ticker cancelled (%d ticks in all), server and udp sockets closed", ticks)
local conn, cerr = luaha.net.tcp("127.0.0.1", port, { timeout = 1 })
say("tcp: connecting to the closed server's port returns %s, %q", tostring(conn), tostring(cerr))
say("done: nothing is left to wait for, so the program ends with status 0")
