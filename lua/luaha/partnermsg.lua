-- lua/luaha/partnermsg.lua: the messages of "Send to partner": an lvs.cf authenticated with the heartbeat key, and the answer.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
A router sends its applied lvs.cf to its partner over TCP (lua/luaha/partnersync.lua). Every field
is big-endian.

The request, 40 bytes of header, the file, then the tag:

    offset size field
     0      4   magic "LUHS"
     4      1   version, 1
     5      3   zero
     8      8   timestamp: the sender's wall clock, in microseconds since 1970
    16     16   nonce: random bytes, never used twice
    32      4   serial_no of the file
    36      4   length of the file, at most MAX_SIZE
    40      n   the file
    40+n   32   tag: HMAC-SHA-512-256 (libsodium crypto_auth) of bytes 0 to 40+n-1 with heartbeat_key

The receiver refuses a request older or newer than WINDOW seconds (a replay later than that, or
clocks too far apart), and one whose nonce it has seen within the window (a replay sooner): the
tag covers both, so neither can be changed. Its length is known from the header before the file
is read: a request over MAX_SIZE is refused before a byte of it is.

The answer, 14 bytes of header, a message of at most MAX_WHY bytes, and with a key a tag:

     0      4   magic "LUHR"
     4      1   version, 1
     5      1   flags: bit 0 set when a tag follows
     6      1   code: 0 applied, 1 unchanged (the partner has that file already), 2 refused
     7      1   zero
     8      4   serial_no the partner runs after it
    12      2   length of the message
    14      m   the message (the partner's words: what it did, or why it refused)
    14+m   32   tag: crypto_auth of the request's nonce followed by bytes 0 to 14+m-1

Binding the answer to the request's nonce means an old answer cannot be passed off for a new
request. A partner without the sender's key cannot tag its answer so that it verifies: the sender
then shows its words as unauthenticated, and never takes such an answer for a success.
]]
local luaha = require "luaha"
local auth = require "luaha.core.auth"

local msg = {}

msg.MAGIC, msg.REPLY_MAGIC, msg.VERSION = "LUHS", "LUHR", 1
msg.MAX_SIZE = 16 * 1024 * 1024     -- bytes of lvs.cf sent: a file of 10 000 real servers is about 1.5 MB
msg.WINDOW = 120                    -- seconds a request is fresh, either way (the routers' clocks may differ)
msg.MAX_WHY = 2048                  -- bytes of an answer's message
msg.NONCE = 16
local HEADER = ">c4Bxxxi8c16I4I4"
local REPLY = ">c4BBBxI4I2"
msg.HEADER_SIZE = string.packsize(HEADER)
msg.REPLY_SIZE = string.packsize(REPLY)
msg.TAG = auth.BYTES

local codes = { applied = 0, unchanged = 1, refused = 2 }
local code_names = { [0] = "applied", "unchanged", "refused" }

--[[
request(text, serial, key [, at] [, nonce]): the request that sends text (serial_no serial), tagged
with key; at (seconds, default now) and nonce (default random) are for tests. Returns the bytes
and the nonce.
]]
function msg.request(text, serial, key, at, nonce)
    assert(type(text) == "string" and #text <= msg.MAX_SIZE, "partnermsg: the file is a string of at most MAX_SIZE bytes")
    nonce = nonce or auth.random(msg.NONCE)
    local head = string.pack(HEADER, msg.MAGIC, msg.VERSION, math.floor((at or luaha.time()) * 1e6), nonce, serial, #text)
    local body = head .. text
    return body .. auth.mac(body, key), nonce
end

--[[
header(data): the request's header read from its first HEADER_SIZE bytes: { at = seconds,
nonce =, serial =, length = }, or nil and "bad message" or "incompatible version N". Nothing
in it is authenticated yet.
]]
function msg.header(data)
    if #data < msg.HEADER_SIZE or data:sub(1, 4) ~= msg.MAGIC then return nil, "bad message" end
    local _, version, at, nonce, serial, length = string.unpack(HEADER, data)
    if version ~= msg.VERSION then return nil, "incompatible version " .. version end
    return { at = at / 1e6, nonce = nonce, serial = serial, length = length, head = data:sub(1, msg.HEADER_SIZE) }
end

--[[
receiver(key): what remembers the nonces seen: r:accept(h, rest [, now]) checks header h (from
header()) and rest (the file and the tag, h.length + TAG bytes) and returns the file, or nil and
why: "forged" (the tag does not match: another key, or altered), "stale: N s apart" (outside
WINDOW), "replayed" (a nonce seen). The nonce is remembered only once the tag verified, so that
nobody without the key can fill the memory; it is forgotten when its timestamp leaves the window.
]]
function msg.receiver(key)
    local seen = {}     -- nonce -> its timestamp
    local r = {}
    function r.accept(h, rest, now)
        now = now or luaha.time()
        if #rest ~= h.length + msg.TAG then return nil, "bad message" end
        local text = rest:sub(1, h.length)
        if not auth.verify(rest:sub(h.length + 1), h.head .. text, key) then return nil, "forged" end
        if math.abs(now - h.at) > msg.WINDOW then
            return nil, ("stale: its time is %d s from this router's clock (at most %d)"):format(
                math.floor(math.abs(now - h.at) + 0.5), msg.WINDOW)
        end
        for nonce, at in pairs(seen) do
            if math.abs(now - at) > msg.WINDOW then seen[nonce] = nil end
        end
        if seen[h.nonce] then return nil, "replayed" end
        seen[h.nonce] = h.at
        return text
    end
    return r
end

--[[
reply(code, serial, why, nonce [, key]): an answer (code "applied", "unchanged" or "refused"),
tagged when key is given. why is cut to MAX_WHY bytes.
]]
function msg.reply(code, serial, why, nonce, key)
    why = tostring(why or ""):sub(1, msg.MAX_WHY)
    local data = string.pack(REPLY, msg.REPLY_MAGIC, msg.VERSION, key and 1 or 0, assert(codes[code], "partnermsg: code"),
        serial or 0, #why) .. why
    if key then data = data .. auth.mac(nonce .. data, key) end
    return data
end

--[[
reply_header(data): { tagged =, code =, serial =, length = } of an answer's first REPLY_SIZE
bytes, or nil and "bad answer".
]]
function msg.reply_header(data)
    if #data < msg.REPLY_SIZE or data:sub(1, 4) ~= msg.REPLY_MAGIC then return nil, "bad answer" end
    local _, version, flags, code, serial, length = string.unpack(REPLY, data)
    if version ~= msg.VERSION or not code_names[code] or length > msg.MAX_WHY then return nil, "bad answer" end
    return { tagged = flags & 1 ~= 0, code = code_names[code], serial = serial, length = length,
             head = data:sub(1, msg.REPLY_SIZE) }
end

--[[
answer(h, rest, nonce, key): the answer of header h and rest (its message, and its tag when
tagged): { code =, serial =, why =, authenticated = bool }. An answer that is tagged but does
not verify is nil and "forged answer".
]]
function msg.answer(h, rest, nonce, key)
    local why = rest:sub(1, h.length)
    local a = { code = h.code, serial = h.serial, why = why, authenticated = false }
    if h.tagged then
        if not key or not auth.verify(rest:sub(h.length + 1), nonce .. h.head .. why, key) then
            return nil, "forged answer"
        end
        a.authenticated = true
    end
    return a
end

-- newer(a, b): whether serial_no a comes after b (RFC 1982 arithmetic: serial_no starts again at 0 after 4294967295).
function msg.newer(a, b)
    return a ~= b and ((a - b) & 0xffffffff) < 0x80000000
end

return msg
