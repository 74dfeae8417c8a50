-- lua/luaha/heartbeat.lua: luaha's heartbeat packet, version 1: encoding, authentication and key files.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Every field is big-endian; 36 bytes, or 68 with a tag:

    offset size field
     0      4   magic "LUHA"
     4      1   version, 1
     5      1   flags: bit 0 set when a 32-byte tag follows; bit 1 (with state active): the sender
                is taking the service over (fos mode) and the receiver must stand down; bit 2:
                the sender's work part (health checks, IPVS) is late, the heartbeat part speaks alone
     6      1   sender's role: 1 primary, 2 backup
     7      1   sender's state: 0 passive (may take over), 1 active, 2 leaving (will not be active:
                it is stopping, handing over, or its link failed)
     8      4   serial_no of the sender's configuration
    12      8   digest of the sender's configuration (first 8 bytes of BLAKE2b of it as lvs.cf)
    20      8   counter: strictly increasing for each packet a router sends, across restarts
                (it starts from the wall clock in microseconds)
    28      8   heard: the last counter the sender accepted from its peer (0 none yet)
    36     32   tag, with heartbeat_key: HMAC-SHA-512-256 (libsodium crypto_auth) of bytes 0 to 35

The counter is what makes a replayed packet visible: a receiver accepts only counters above the
last one it accepted. `heard` tells a router whether its peer hears it (one-way loss).
]]
local auth = require "luaha.core.auth"

local heartbeat = {}

heartbeat.MAGIC = "LUHA"
heartbeat.VERSION = 1
local HEADER = ">c4BBBBI4c8I8I8"
local FLAG_AUTH = 1
local FLAG_TAKEOVER = 2
local FLAG_WORK_LATE = 4
heartbeat.SIZE = string.packsize(HEADER)
heartbeat.AUTH_SIZE = heartbeat.SIZE + auth.BYTES

local role_codes = { primary = 1, backup = 2 }
local role_names = { "primary", "backup" }
local state_codes = { passive = 0, active = 1, leaving = 2 }
local state_names = { [0] = "passive", "active", "leaving" }

--[[
encode(p [, key]): the packet for p = {role=, state=, serial=, digest= (8 bytes), counter=,
heard=, takeover=, work_late=}, with its tag when key is given.
]]
function heartbeat.encode(p, key)
    local flags = (key and FLAG_AUTH or 0) | (p.takeover and FLAG_TAKEOVER or 0) | (p.work_late and FLAG_WORK_LATE or 0)
    local body = string.pack(HEADER, heartbeat.MAGIC, heartbeat.VERSION, flags,
        assert(role_codes[p.role], "heartbeat: bad role"), assert(state_codes[p.state], "heartbeat: bad state"),
        p.serial or 0, p.digest or ("\0"):rep(8), p.counter, p.heard or 0)
    if key then body = body .. auth.mac(body, key) end
    return body
end

--[[
decode(data [, key]): the packet as encode takes it, or nil and why it is refused: "bad heartbeat
packet" (not luaha's, or truncated), "incompatible version N", "unauthenticated" (no tag but a
key here), "authenticated, but no heartbeat_key here", "forged" (the tag does not match).
]]
function heartbeat.decode(data, key)
    if #data < heartbeat.SIZE or data:sub(1, 4) ~= heartbeat.MAGIC then return nil, "bad heartbeat packet" end
    local _, version, flags, role, state, serial, digest, counter, heard = string.unpack(HEADER, data)
    if version ~= heartbeat.VERSION then return nil, "incompatible version " .. version end
    if not role_names[role] or not state_names[state] then return nil, "bad heartbeat packet" end
    local tagged = flags & FLAG_AUTH ~= 0
    if #data ~= (tagged and heartbeat.AUTH_SIZE or heartbeat.SIZE) then return nil, "bad heartbeat packet" end
    if key and not tagged then return nil, "unauthenticated" end
    if tagged and not key then return nil, "authenticated, but no heartbeat_key here" end
    if key and not auth.verify(data:sub(heartbeat.SIZE + 1), data:sub(1, heartbeat.SIZE), key) then
        return nil, "forged"
    end
    return { role = role_names[role], state = state_names[state], serial = serial, digest = digest,
             counter = counter, heard = heard, authenticated = tagged, takeover = flags & FLAG_TAKEOVER ~= 0,
             work_late = flags & FLAG_WORK_LATE ~= 0 }
end

-- digest(text): the 8-byte configuration digest of a configuration written as text (a string, or its parts in an array).
function heartbeat.digest(text)
    return auth.hash(text, 16):sub(1, 8)
end

--[[
read_key(path): the key in a heartbeat_key file: 32 bytes, written raw or as 64 hexadecimal
digits (blanks and a final newline ignored). Returns the key, or nil and
"heartbeat_key PATH: REASON".
]]
function heartbeat.read_key(path)
    local f, err = io.open(path, "rb")
    if not f then return nil, "heartbeat_key " .. err end
    local text = f:read("a")
    f:close()
    if #text == auth.KEYBYTES then return text end
    local hex = text:gsub("%s", "")
    if #hex == 2 * auth.KEYBYTES and not hex:find("%X") then
        return (hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end))
    end
    return nil, ("heartbeat_key %s: not a key (%d raw bytes or %d hexadecimal digits)"):format(
        path, auth.KEYBYTES, 2 * auth.KEYBYTES)
end

return heartbeat
