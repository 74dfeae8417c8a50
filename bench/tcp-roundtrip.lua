-- bench/tcp-roundtrip.lua: N concurrent tasks each connect, send, receive and close; compared with Python asyncio.
-- SPDX-License-Identifier: GPL-2.0-or-later
-- Usage: luaha bench/tcp-roundtrip.lua [N] [ROUNDS]. The listener runs in a second luaha process, as the
-- peer's does in a second Python process, so each process holds N descriptors, not 2N.
local luaha = require "luaha"

local N = tonumber(arg[1]) or 10000
local ROUNDS = tonumber(arg[2]) or 3

local function peak_rss_kib(pid)
    local f = io.open("/proc/" .. (pid or "self") .. "/status")
    if not f then return nil end
    local kib = f:read("a"):match("VmHWM:%s*(%d+) kB")
    f:close()
    return tonumber(kib)
end

local function start_server()
    local portfile = os.tmpname()
    local server = luaha.spawn(luaha.proc.run, { arg[-1], "bench/tcp-echo-server.lua", portfile }, { timeout = 600 })
    for _ = 1, 100 do
        local f = io.open(portfile)
        local port = f and tonumber(f:read("a"))
        if f then f:close() end
        if port then os.remove(portfile) return server, port end
        luaha.sleep(0.05)
    end
    error("the benchmark server did not start")
end

local function one_round(port)
    local ok, failed, first_err = 0, 0, nil
    local t0 = luaha.now()
    local all = {}
    for i = 1, N do
        all[i] = luaha.spawn(function()
            local c, err = luaha.net.tcp("127.0.0.1", port, { timeout = 30 })
            if c then
                local sent
                sent, err = c:send("ping " .. i .. "\n")
                local line = sent and c:receive("*l")
                c:close()
                if line == "ping " .. i then ok = ok + 1 else failed = failed + 1 first_err = first_err or err end
            else
                failed = failed + 1
                first_err = first_err or err
            end
        end)
    end
    for i = 1, N do all[i]:join() end
    return ok, failed, luaha.now() - t0, first_err
end

local server, port = start_server()
local best = 0
for round = 1, ROUNDS do
    local ok, failed, secs, err = one_round(port)
    local rate = ok / secs
    best = math.max(best, rate)
    print(("luaha   round %d: %d round trips (%d failed%s) in %.3f s: %.0f/s"):format(
        round, ok, failed, err and ": " .. err or "", secs, rate))
    if failed > 0 then os.exit(1) end
end
local q = assert(luaha.net.tcp("127.0.0.1", port))
q:send("quit\n")
q:close()
server:join()
local luaha_rss = peak_rss_kib()
print(("luaha   best %.0f round trips/s; peak RSS of the %d-task process %.1f MiB"):format(
    best, N, luaha_rss / 1024))

-- The peer: the same job in Python's asyncio, measured now on the same machine.
local peer = luaha.proc.run({ "python3", "bench/peer/asyncio_roundtrip.py", tostring(N), tostring(ROUNDS) },
    { timeout = 600 })
if not peer or peer.status ~= 0 then
    print("peer    python3 asyncio: not measured: " .. (peer and peer.stderr or "python3 not found"))
    return
end
io.write((peer.stdout:gsub("\n(.)", "\n%1")))
local peer_best = tonumber(peer.stdout:match("best (%d+) round trips/s"))
local peer_rss = tonumber(peer.stdout:match("peak RSS of the %d+%-task process ([%d.]+) MiB"))
print(("ratio   luaha/asyncio: %.2fx the round trips per second, %.2fx the peak RSS"):format(
    best / peer_best, (luaha_rss / 1024) / peer_rss))
