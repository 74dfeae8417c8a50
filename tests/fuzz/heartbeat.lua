-- tests/fuzz/heartbeat.lua: fuzzes the heartbeat receiver: packets from the partner's address, mutated and random.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: luaha tests/fuzz/heartbeat.lua, with FUZZ_SEED (default: from the clock, printed), FUZZ_TIME
(seconds of random packets, default 3) and FUZZ_OUT (where failing packets are saved, default
tests/out/fuzz). `tests/run fuzz` runs it for a few seconds with seed 1; `make fuzz` runs it long.

A pulse (lua/luaha/pulse.lua, as the heartbeat part runs it, with a heartbeat_key) listens on
127.0.0.12 for its partner 127.0.0.11, and this driver is the partner's address: every packet it
sends reaches the receiver (the socket is connected to that address). The packets: valid ones
from a key-holding partner between the others, each of them mutated (bits flipped, bytes
replaced, cut short, made longer, flags and version changed, counters at the edges), and random
bytes of every length up to 200. For every batch:
  - nothing raises: a traceback in the log fails the run (tests/verdict.sh);
  - the pulse's state and its view of the partner keep to their values;
  - refusals are counted under a bounded set of reasons (not one per version byte);
  - a valid heartbeat sent after the batch is accepted: the receiver still works.
]]
local luaha = require "luaha"
local pulse = require "luaha.pulse"
local heartbeat = require "luaha.heartbeat"
local auth = require "luaha.core.auth"

local SEED = tonumber(os.getenv("FUZZ_SEED") or "") or (math.floor(luaha.time() * 1000) % 2 ^ 31)
local TIME = tonumber(os.getenv("FUZZ_TIME") or "") or 3
local OUT = os.getenv("FUZZ_OUT") or "tests/out/fuzz"
local PORT = 30000 + SEED % 10000
local MAX_KINDS = 12            -- reasons a refusal is counted under, at most

print(("# seed %d (replay: FUZZ_SEED=%d), %g s of random packets"):format(SEED, SEED, TIME))
math.randomseed(SEED)
local R = math.random

local KEY = auth.keygen()
local STATES = { starting = true, active = true, passive = true }
local PEER_STATES = { unknown = true, dead = true, active = true, passive = true, leaving = true }

local failures = 0
local function fail(what, packets)
    failures = failures + 1
    os.execute("mkdir -p " .. OUT)
    local path = ("%s/heartbeat-%d-%d.bin"):format(OUT, SEED, failures)
    local f = io.open(path, "wb")
    if f then
        for _, p in ipairs(packets or {}) do f:write(string.pack(">s2", p)) end
        f:close()
    end
    print(("FAIL heartbeat-fuzz: %s (packets in %s)"):format(what, path))
end

local p = pulse.new({ role = "backup", channels = { { address = "127.0.0.12", peer = "127.0.0.11" } }, port = PORT,
    keepalive = 0.05, deadtime = 0.5, key = KEY })
assert(p:start())
local sock = assert(luaha.net.udp())
assert(sock:bind("127.0.0.11", PORT))
assert(sock:connect("127.0.0.12", PORT))

local counter = math.floor(luaha.time() * 1e6)
local function valid(state, takeover)
    counter = counter + 1
    return heartbeat.encode({ role = "primary", state = state or "active", serial = R(0, 2 ^ 32 - 1),
        digest = ("x"):rep(8), counter = counter, heard = R(0, 1000), takeover = takeover,
        work_late = R(2) == 1 }, KEY)
end

local function random_bytes(n)
    local t = {}
    for i = 1, n do t[i] = string.char(R(0, 255)) end
    return table.concat(t)
end

-- mutate(packet): one of the ways a packet goes wrong.
local mutations = {
    function(s) local i = R(#s) return s:sub(1, i - 1) .. string.char(s:byte(i) ~ (1 << R(0, 7))) .. s:sub(i + 1) end,
    function(s) local i = R(#s) return s:sub(1, i - 1) .. string.char(R(0, 255)) .. s:sub(i + 1) end,
    function(s) return s:sub(1, R(0, #s - 1)) end,
    function(s) return s .. random_bytes(R(1, 64)) end,
    function(s) return s:sub(1, 4) .. string.char(R(0, 255)) .. s:sub(6) end,                  -- version
    function(s) return s:sub(1, 5) .. string.char(R(0, 255)) .. s:sub(7) end,                  -- flags
    function(s) return s:sub(1, 6) .. string.char(R(0, 255), R(0, 255)) .. s:sub(9) end,       -- role, state
    function(s) return s:sub(1, 20) .. string.pack(">I8", R(0, 3) == 0 and 0 or -1) .. s:sub(29) end, -- counter
    function() return heartbeat.encode({ role = "primary", state = "active", counter = counter + R(1, 100) }) end,
    function(s) return s:sub(1, heartbeat.SIZE) end,                                          -- the tag gone
}

local function batch(n)
    local sent = {}
    for _ = 1, n do
        local r = R(10)
        local pkt
        if r <= 2 then
            pkt = random_bytes(R(0, 200))
        elseif r <= 3 then
            pkt = valid(({ "active", "passive", "leaving" })[R(3)], R(4) == 1)
        else
            pkt = mutations[R(#mutations)](valid())
        end
        sent[#sent + 1] = pkt
        sock:send(pkt)
    end
    return sent
end

local started, batches = luaha.now(), 0
while luaha.now() - started < TIME and failures == 0 do
    local sent = batch(R(1, 50))
    luaha.sleep(0.01)
    batches = batches + 1
    if not STATES[p.state] then fail("the pulse's state is " .. tostring(p.state), sent) end
    if not PEER_STATES[p.peer.state] then fail("the partner's state is " .. tostring(p.peer.state), sent) end
    local kinds = 0
    for _ in pairs(p.stats.refused) do kinds = kinds + 1 end
    if kinds > MAX_KINDS then fail(kinds .. " kinds of refusal counted", sent) end
    -- The receiver still takes a valid heartbeat.
    local received = p.stats.received
    sock:send(valid("active"))
    local until_ = luaha.now() + 2
    while p.stats.received == received and luaha.now() < until_ do luaha.sleep(0.005) end
    if p.stats.received == received then fail("a valid heartbeat after a batch was not accepted", sent) end
end
local refused = 0
for _, n in pairs(p.stats.refused) do refused = refused + n end
print(("# %d batches, %d accepted, %d refused"):format(batches, p.stats.received, refused))
p:close()
sock:close()
if failures == 0 then print("PASS heartbeat-fuzz") end
luaha.exit(failures == 0 and 0 or 1)
