-- tests/lib/heartbeat-forge.lua: an attacker for the seed scenario: heartbeats sent from the partner's address, to be refused.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Usage: luaha tests/lib/heartbeat-forge.lua FROM TO PORT KEYFILE ROLE

Binds FROM:PORT (the attacker has the partner's address) and sends TO:PORT, as ROLE, each asking
the receiver to take over (state "leaving"): a packet whose tag was made with another key
(forged), one without a tag (unauthenticated), and one with the right key but a counter the
receiver has long passed (replayed, as a captured packet would be). Prints one line per packet.
]]
local luaha = require "luaha"
local heartbeat = require "luaha.heartbeat"
local auth = require "luaha.core.auth"

local from, to, port, keyfile, role = arg[1], arg[2], tonumber(arg[3]), arg[4], arg[5]
if not (from and to and port and keyfile and role) then
    io.stderr:write("usage: heartbeat-forge.lua FROM TO PORT KEYFILE ROLE\n")
    luaha.exit(2)
    return
end
local key = assert(heartbeat.read_key(keyfile))
local sock = assert(luaha.net.udp())
assert(sock:bind(from, port))

local now = math.floor(luaha.time() * 1e6)
local packets = {
    { "forged", heartbeat.encode({ role = role, state = "leaving", counter = now + 1e9 }, auth.keygen()) },
    { "unauthenticated", heartbeat.encode({ role = role, state = "leaving", counter = now + 1e9 }) },
    { "replayed", heartbeat.encode({ role = role, state = "leaving", counter = 1 }, key) },
}
for _, p in ipairs(packets) do
    for _ = 1, 3 do assert(sock:sendto(p[2], to, port)) end
    print("sent " .. p[1])
end
