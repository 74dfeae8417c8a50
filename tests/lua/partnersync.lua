-- tests/lua/partnersync.lua: "Send to partner": the message (tampered, replayed, stale, too big, another key) and two routers.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local auth = require "luaha.core.auth"
local file = require "luaha.core.file"
local lvscf = require "luaha.lvscf"
local heartbeat = require "luaha.heartbeat"
local router = require "luaha.router"
local msg = require "luaha.partnermsg"
local partnersync = require "luaha.partnersync"

local proc = luaha.proc
local dir = assert(proc.run({ "mktemp", "-d" })).stdout:gsub("\n$", "")
local _cleanup <close> = setmetatable({}, { __close = function() proc.run({ "rm", "-rf", dir }) end }) -- luacheck: ignore 211

local KEY = auth.keygen()

t.test("message-good-one-accepted", function()
    local text = "serial_no = 5\n"
    local data, nonce = msg.request(text, 5, KEY)
    t.eq(#nonce, msg.NONCE, "nonce size")
    local h = assert(msg.header(data))
    t.eq(h.serial, 5, "serial")
    t.eq(h.length, #text, "length")
    assert(math.abs(h.at - luaha.time()) < 5, "timestamp")
    t.eq(msg.receiver(KEY).accept(h, data:sub(msg.HEADER_SIZE + 1)), text, "the file")
end)

t.test("message-tampered-wrong-key-replayed-stale-refused", function()
    local text = "serial_no = 5\nprimary = 192.0.2.1\n"
    local data = msg.request(text, 5, KEY)
    local rx = msg.receiver(KEY)
    local function try(d, r)
        local h = assert(msg.header(d))
        return select(2, (r or rx).accept(h, d:sub(msg.HEADER_SIZE + 1)))
    end
    -- One byte of the file changed, then one of the header (the serial): the tag no longer matches.
    local at = msg.HEADER_SIZE + 12
    t.eq(try(data:sub(1, at - 1) .. "9" .. data:sub(at + 1)), "forged", "a byte of the file changed")
    t.eq(try(data:sub(1, 35) .. "\9" .. data:sub(37)), "forged", "the serial changed")
    t.eq(try(data, msg.receiver(auth.keygen())), "forged", "another key")
    t.eq(try(data), nil, "the good one")
    t.eq(try(data), "replayed", "the same request again")
    local old = msg.request(text, 5, KEY, luaha.time() - msg.WINDOW - 5)
    assert(try(old):match("^stale: its time is 12[45] s from this router's clock"), try(old))
    local ahead = msg.request(text, 5, KEY, luaha.time() + msg.WINDOW + 30)
    assert(try(ahead):match("^stale"), "a request from the future")
    -- Not the message: refused before anything else.
    t.eq(select(2, msg.header("LUHA" .. data:sub(5))), "bad message", "another magic")
    t.eq(select(2, msg.header(data:sub(1, 10))), "bad message", "short")
    t.eq(select(2, msg.header("LUHS\2" .. data:sub(6))), "incompatible version 2", "version")
    t.eq(select(2, rx.accept(assert(msg.header(data)), data:sub(msg.HEADER_SIZE + 1, -2))), "bad message", "truncated")
    t.checkerr("at most MAX_SIZE", msg.request, ("x"):rep(msg.MAX_SIZE + 1), 1, KEY)
end)

t.test("message-answers-are-bound-to-the-request", function()
    local nonce = auth.random(msg.NONCE)
    local data = msg.reply("applied", 7, "applied serial_no 7", nonce, KEY)
    local h = assert(msg.reply_header(data))
    local a = assert(msg.answer(h, data:sub(msg.REPLY_SIZE + 1), nonce, KEY))
    t.eq(a.code, "applied", "code")
    t.eq(a.serial, 7, "serial")
    t.eq(a.why, "applied serial_no 7", "words")
    t.eq(a.authenticated, true, "authenticated")
    -- Passed off as the answer of another request, or read with another key: forged.
    t.eq(select(2, msg.answer(h, data:sub(msg.REPLY_SIZE + 1), auth.random(msg.NONCE), KEY)), "forged answer", "nonce")
    t.eq(select(2, msg.answer(h, data:sub(msg.REPLY_SIZE + 1), nonce, auth.keygen())), "forged answer", "key")
    -- Without a tag: read, but not authenticated.
    local plain = msg.reply("refused", 3, "forged", nonce)
    a = assert(msg.answer(assert(msg.reply_header(plain)), plain:sub(msg.REPLY_SIZE + 1), nonce, KEY))
    t.eq(a.authenticated, false, "untagged")
    t.eq(a.code, "refused", "untagged code")
    t.eq(#msg.reply("refused", 1, ("x"):rep(5000), nonce), msg.REPLY_SIZE + msg.MAX_WHY, "words cut")
    assert(msg.newer(1, 0) and msg.newer(0, 4294967295) and not msg.newer(5, 5) and not msg.newer(4, 5), "newer")
end)

-- Two routers on loopback, not started (no heartbeat part, no IPVS): their sync objects listen as a started one's do.
local PORT = 20000 + math.random(0, 9999)
local A, B, C = "127.0.0.31", "127.0.0.32", "127.0.0.33"
local SEED = assert(file.read("tests/lua/data/seed.cf", 1 << 20)):gsub("heartbeat_port = 539", "heartbeat_port = " .. PORT)
local made = {}
local _stop <close> = setmetatable({}, { __close = function() -- luacheck: ignore 211
    for _, r in ipairs(made) do
        r.probes:stop()
        if r.sync then r.sync:close() end
    end
end })

local function slurp(path) return assert(file.read(path, 1 << 24)) end
local function put(path, text) assert(file.replace(path, text, 0x1a4)) end
local function with_serial(text, n) return (text:gsub("serial_no = %d+", "serial_no = " .. n)) end

-- pair(role, own, peer, text, key): a router of role reading its own copy of text, with its sync listening.
local function node(role, own, peer, text, key)
    local path = ("%s/%s-%d.cf"):format(dir, role, #made)
    put(path, text)
    local cache = lvscf.cache()
    local m = assert(lvscf.load(path, cache))
    local r = router.new(m, { config = path, role = role, key = key, cache = cache,
        digest = heartbeat.digest(lvscf.write_parts(m, cache)) })
    r.role, r.channels = role, { { address = own, peer = peer } }
    r.probes:update(m)
    made[#made + 1] = r
    r.sync = partnersync.new(r):start()
    t.eq(#r.sync.servers, 1, "listening on " .. own)
    return r, path
end

-- raw(request [, from]): the answer of the backup's listener to bytes sent from address from.
local function raw(request, nonce, from)
    local conn = assert(luaha.net.tcp(B, PORT, { timeout = 10, source = from or A }))
    assert(conn:send(request))
    local data = assert(conn:receive(msg.REPLY_SIZE))
    local h = assert(msg.reply_header(data))
    local rest = assert(conn:receive(h.length + (h.tagged and msg.TAG or 0)))
    conn:close()
    return assert(msg.answer(h, rest, nonce or ("\0"):rep(msg.NONCE), KEY))
end

t.test("send-applies-on-the-partner-and-refusals-say-why", function()
    local new = with_serial(SEED, 2):gsub("weight = 1\n     }\n}", "weight = 3\n     }\n}")
    assert(new ~= with_serial(SEED, 2), "the edit")
    local a, apath = node("primary", A, B, new, KEY)
    local b, bpath = node("backup", B, A, SEED, KEY)

    -- The good one: the partner's file becomes the sender's, byte for byte, and runs.
    local res, why = a.sync:send({ user = "admin", peer = "192.0.2.10" })
    assert(res, why)
    t.eq(res.code, "applied", "code")
    assert(res.why:match("^applied serial_no 2"), res.why)
    t.eq(slurp(bpath), slurp(apath), "the partner's file")
    t.eq(slurp(bpath .. ".bak"), SEED, "the partner's backup")
    t.eq(b.model.serial_no, 2, "the partner's running serial_no")
    t.eq(b.model.virtuals[1].servers[2].weight, 3, "the partner's running model")
    t.eq(a.sync.sent.ok, true, "the sender's page")
    t.eq(b.sync.received.ok, true, "the partner's page")
    t.eq(b.sync.received.from, A, "from")
    -- Again: the partner has it already.
    res = assert(a.sync:send({ user = "admin" }))
    t.eq(res.code, "unchanged", "sent twice")

    -- Refused, each with its reason on both sides, the partner's file untouched.
    local function refused(expect, f)
        local before = slurp(bpath)
        local ok, err = f()
        t.eq(ok, nil, expect)
        assert(err:find(expect, 1, true), ("%s: %s"):format(expect, err))
        t.eq(slurp(bpath), before, "the partner's file after " .. expect)
        return err
    end
    -- Not newer: another file with the same serial_no.
    local same = new:gsub("persistent = 30", "persistent = 60")
    put(apath, same)
    a.model = assert(lvscf.load(apath, a.cache))
    a.digest = heartbeat.digest(lvscf.write_parts(a.model, a.cache))
    local err = refused("serial_no 2 is not newer than this router's 2", function() return a.sync:send({}) end)
    assert(err:match("^the partner refused: "), err)
    assert(b.sync.received.why:find("not newer", 1, true), "the partner's page says why")
    t.eq(b.sync.received.ok, false, "the partner's page")
    t.eq(a.sync.sent.ok, false, "the sender's page")
    -- The file on disk is not the running one.
    put(apath, with_serial(same, 3))
    refused("is not the running configuration (serial_no 3 on disk, 2 running)", function() return a.sync:send({}) end)
    a.model = assert(lvscf.load(apath, a.cache))
    a.digest = heartbeat.digest(lvscf.write_parts(a.model, a.cache))
    -- A draft pending on the partner: a person's edit is not pulled from under them.
    local bm = assert(b.sync.draft:model())
    bm.virtuals[1].servers[1].weight = 9
    assert(b.sync.draft:update(bm))
    refused("a draft of 2 changed lines is pending on this router", function() return a.sync:send({}) end)
    b.sync.draft:discard()
end)

t.test("transfers-refused-at-the-door", function()
    local b = made[2]
    local bpath = b.config
    local before = slurp(bpath)
    local text = with_serial(before, 50)
    -- Tampered, stale, from the wrong address, too big: refused, untagged before the key is proven, the file kept.
    local data, nonce = msg.request(text, 50, KEY)
    local at = msg.HEADER_SIZE + 5
    local a = raw(data:sub(1, at - 1) .. "#" .. data:sub(at + 1), nonce)
    t.eq(a.code, "refused", "tampered")
    t.eq(a.why, "forged", "tampered: why")
    t.eq(a.authenticated, false, "an answer to a forged request is not tagged")
    a = raw(msg.request(text, 50, KEY, luaha.time() - 3600))
    assert(a.why:match("^stale"), a.why)
    a = raw(msg.request(text, 50, auth.keygen()))
    t.eq(a.why, "forged", "another key")
    a = raw(data, nonce, C)
    t.eq(a.why, C .. " is not the partner's heartbeat address", "a stranger")
    local big = string.pack(">c4Bxxxi8c16I4I4", "LUHS", 1, math.floor(luaha.time() * 1e6), ("n"):rep(16), 50,
        msg.MAX_SIZE + 1)
    a = raw(big)
    t.eq(a.why, ("too big: %d bytes (at most %d)"):format(msg.MAX_SIZE + 1, msg.MAX_SIZE), "too big")
    -- Authenticated, but a file --check refuses: its errors, in a tagged answer.
    local bad, bnonce = msg.request(with_serial(before, 49):gsub("port = 80", "port = 70000"), 49, KEY)
    a = raw(bad, bnonce)
    t.eq(a.authenticated, true, "a refusal after the key is proven is tagged")
    assert(a.why:find("out of range: 70000 (must be 1..65535) (422)", 1, true), a.why)
    t.eq(slurp(bpath), before, "the partner's file after the refusals")
    -- The good one, then the same bytes again: applied, then replayed.
    a = raw(data, nonce)
    t.eq(a.code, "applied", "the good one: " .. a.why)
    t.eq(a.authenticated, true, "its answer is tagged")
    t.eq(b.model.serial_no, 50, "applied")
    a = raw(data, nonce)
    t.eq(a.why, "replayed", "replayed")
    t.eq(b.model.serial_no, 50, "still")
    for _, kind in ipairs({ "forged", "stale", "not the partner", "too big", "replayed" }) do
        assert((b.sync.refused[kind] or 0) >= 1, "counted: " .. kind)
    end
end)

t.test("without-a-key-refused-both-ways", function()
    local a = node("primary", "127.0.0.41", "127.0.0.42", with_serial(SEED, 9), nil)
    local ok, err = a.sync:send({})
    t.eq(ok, nil, "a sender without a key")
    t.eq(err, "no heartbeat_key on this router: a transfer to the partner needs one on both", "why")
    local b = node("backup", "127.0.0.42", "127.0.0.41", SEED, nil)
    a.key = KEY
    ok, err = a.sync:send({})
    t.eq(ok, nil, "a partner without a key")
    t.eq(err, "the partner refused: no heartbeat_key on this router: a transfer needs one on both"
        .. " (an answer not authenticated with this router's key)", "why")
    t.eq(b.model.serial_no, 1, "nothing applied")
    -- No partner at all: nobody to send to.
    b.sync:close()
    ok, err = a.sync:send({})
    t.eq(ok, nil, "the partner gone")
    assert(err:match("^the partner cannot be reached: 127.0.0.42: connect: Connection refused"), err)
end)

t.test("status-has-the-pair", function()
    local r = made[1]
    local doc = partnersync.status(r, { serial_no = 2, peer = { state = "unknown" } })
    t.eq(doc.config_differs, nil, "a partner not heard")
    t.eq(#doc.digest, 16, "this router's digest, in hex")
    doc = partnersync.status(r, { serial_no = 2, peer = { serial = 2, digest = doc.digest } })
    t.eq(doc.peer_serial_no, 2, "peer_serial_no")
    t.eq(doc.config_differs, false, "the same")
    doc = partnersync.status(r, { serial_no = 2, peer = { serial = 1, digest = ("0"):rep(16) } })
    t.eq(doc.config_differs, true, "differs")
    t.eq(doc.peer_digest, ("0"):rep(16), "peer_digest")
    t.eq(partnersync.line(doc), "serial_no 2 here, 1 at the partner: the configurations differ", "the line")
    assert(doc.partner_sync and doc.partner_sync.sent, "the last send")
end)

