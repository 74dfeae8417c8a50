-- tests/lua/pulse.lua: the heartbeat packet and two pulses on loopback addresses: who becomes active, and what is refused.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local until_ = t.until_
local luaha = require "luaha"
local heartbeat = require "luaha.heartbeat"
local pulse = require "luaha.pulse"
local auth = require "luaha.core.auth"

local KEY = auth.keygen()

t.test("packet-round-trip-and-refusals", function()
    local p = { role = "backup", state = "leaving", serial = 7, digest = "12345678", counter = 1e15, heard = 42 }
    local plain, signed = heartbeat.encode(p), heartbeat.encode(p, KEY)
    t.eq(#plain, heartbeat.SIZE, "size")
    t.eq(#signed, heartbeat.AUTH_SIZE, "signed size")
    for _, data in ipairs({ plain, signed }) do
        local q = assert(heartbeat.decode(data, data == signed and KEY or nil))
        for _, k in ipairs({ "role", "state", "serial", "digest", "counter", "heard" }) do t.eq(q[k], p[k], k) end
    end
    t.eq(select(2, heartbeat.decode(plain, KEY)), "unauthenticated", "no tag with a key")
    t.eq(select(2, heartbeat.decode(signed)), "authenticated, but no heartbeat_key here", "a tag without a key")
    t.eq(select(2, heartbeat.decode(signed, auth.keygen())), "forged", "another key")
    local altered = signed:sub(1, 7) .. "\1" .. signed:sub(9)      -- the state byte changed
    t.eq(select(2, heartbeat.decode(altered, KEY)), "forged", "altered")
    t.eq(select(2, heartbeat.decode("LUHA")), "bad heartbeat packet", "short")
    t.eq(select(2, heartbeat.decode(("\xda\xdb\xad\xbd"))), "bad heartbeat packet", "Piranha's magic")
    t.eq(select(2, heartbeat.decode("LUHA\2" .. plain:sub(6))), "incompatible version 2", "version")
end)

t.test("key-files", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(("ab"):rep(32), "\n")
    f:close()
    t.eq(heartbeat.read_key(path), ("\xab"):rep(32), "hex key")
    f = assert(io.open(path, "wb"))
    f:write("short")
    f:close()
    local key, err = heartbeat.read_key(path)
    t.eq(key, nil, "a bad key")
    assert(err:find("not a key", 1, true), err)
    os.remove(path)
    assert(select(2, heartbeat.read_key(path)):find("No such file", 1, true))
end)

-- Two pulses share this loop: a stall of the process stops both. Deadtime is 5 times the longest stall seen
-- with two busy loops on a 2-core machine that runs other tests (0.1 s), so that no partner is found dead falsely.
local KEEPALIVE, DEADTIME = 0.05, 0.5

-- The loop's own lateness: the longest delay of a 10 ms ticker since late.reset(). A bound on when something
-- happens allows for the time the machine did not run this process, and for nothing else.
local late = { max = 0 }
do
    local last = luaha.now()
    late.ticker = luaha.every(0.01, function()
        local now = luaha.now()
        late.max = math.max(late.max, now - last - 0.01)
        last = now
    end)
    function late.reset() late.max = 0 end
end

-- A pair of pulses on 127.0.0.11 (primary) and 127.0.0.12 (backup), port PORT, with hooks that record
-- (activated_at: the time of the last activation). Every router a test made is closed after it, passed or failed,
-- so that a failure does not leave heartbeats that the next test hears.
local PORT = 20000 + math.random(0, 9999)
local made = {}
local function router(role, opts)
    local own, peer = "127.0.0.11", "127.0.0.12"
    if role == "backup" then own, peer = peer, own end
    local r = { log = {} }
    local o = { role = role, channels = { { address = own, peer = peer } }, port = PORT,
        keepalive = KEEPALIVE, deadtime = DEADTIME, key = KEY,
        activate = function(_, why) r.log[#r.log + 1] = "activate: " .. why r.activated_at = luaha.now() end,
        deactivate = function(_, why) r.log[#r.log + 1] = "deactivate: " .. why end,
        announce = function() r.log[#r.log + 1] = "announce" end }
    for k, v in pairs(opts or {}) do o[k] = v end
    r.p = pulse.new(o)
    made[#made + 1] = r.p
    assert(r.p:start())
    return r
end

local function test(name, fn)
    t.test(name, fn)
    for _, p in ipairs(made) do p:close() end
    made = {}
end

test("started-together-primary-ends-active", function()
    local b = router("backup")
    luaha.sleep(0.03)
    local a = router("primary")
    assert(until_(function() return a.p.state == "active" and b.p.state == "passive" end, 5), "not settled")
    luaha.sleep(2 * DEADTIME)
    t.eq(a.p.state, "active", "primary")
    t.eq(b.p.state, "passive", "backup")
    t.eq(a.log[1], "activate: backup inactive: activating lvs", "primary's reason")
    t.eq(#a.log, 1, "primary transitions")
    t.eq(b.log[1], "deactivate: partner active: staying passive", "backup settles passive")
    -- The primary dies without a word: the backup takes over deadtime after the last heartbeat it heard, not
    -- before, and not later than the loop's own stalls made it.
    late.reset()
    a.p:close()
    assert(until_(function() return b.p.state == "active" end, 5), "backup did not take over")
    local took = b.activated_at - b.p.peer.heard_at
    assert(took >= DEADTIME and took < DEADTIME + 0.05 + late.max,
        ("took %.3f s after the last heartbeat, the loop late by %.3f s at most"):format(took, late.max))
    t.eq(b.log[2], "activate: partner dead: activating lvs", "reason")
    -- The primary returns: it stays passive (no automatic failback).
    a = router("primary")
    luaha.sleep(2 * DEADTIME)
    t.eq(a.p.state, "passive", "returning primary")
    t.eq(b.p.state, "active", "backup keeps the service")
    -- A planned stop of the backup hands over at once: on its goodbye (the reason), well before deadtime.
    late.reset()
    local t0 = luaha.now()
    b.p:stop()
    assert(until_(function() return a.p.state == "active" end, 5), "primary did not take over")
    assert(a.activated_at - t0 < DEADTIME / 2 + late.max,
        ("a goodbye took %.3f s, the loop late by %.3f s at most"):format(a.activated_at - t0, late.max))
    t.eq(a.log[#a.log], "activate: backup leaving: activating lvs", "reason")
    a.p:close()
end)

-- A planned stop of the active router: it keeps the service until its partner has run its activation hooks
-- (programmed IPVS), so that no request reaches a VIP without its service.
test("planned-stop-waits-for-the-partner-s-activation", function()
    local a = router("primary")
    local b = router("backup")
    assert(until_(function() return a.p.state == "active" and b.p.state == "passive" end, 5), "not settled")
    local activated_at, deactivated_at
    b.p.hooks.activate = function() luaha.sleep(0.2) activated_at = luaha.now() end
    a.p.hooks.deactivate = function() deactivated_at = luaha.now() end
    a.p:stop()
    assert(until_(function() return b.p.state == "active" end, 5), "the backup did not take over")
    assert(activated_at and deactivated_at, "hooks did not run")
    assert(deactivated_at >= activated_at, ("the leaving router stood down %.3f s before its partner was ready")
        :format(activated_at - deactivated_at))
end)

test("split-brain-primary-wins", function()
    local a = router("primary")
    assert(until_(function() return a.p.state == "active" end, 5), "lone primary not active")
    local b = router("backup", { forceactive = true })
    assert(until_(function() return b.p.state == "passive" and #b.log >= 2 end, 5), "backup did not stand down")
    t.eq(a.p.state, "active", "the primary stays")
    t.eq(b.log[2], "deactivate: partner active: deactivating LVS", "the backup's reason")
    assert(until_(function() return a.log[#a.log] == "announce" end, 5), "the primary did not re-announce")
    a.p:close()
    b.p:close()
end)

-- deaf(r, on): r hears nothing (its heartbeats still go out): a one-way loss.
local function deaf(r, on)
    r.p.receive = on and function() end or nil
end

test("oneway-loss-primary-gives-way", function()
    local a = router("primary")
    local b = router("backup")
    assert(until_(function() return a.p.state == "active" and b.p.state == "passive" end, 5), "not settled")
    -- The backup stops hearing the primary: it takes over, and the primary, which hears that it is not
    -- heard, stands down after another deadtime rather than fight over the addresses.
    local before = #a.log
    deaf(b, true)
    assert(until_(function() return b.p.state == "active" end, 5), "the deaf backup did not take over")
    late.reset()
    local t0 = luaha.now()
    assert(until_(function() return a.p.state == "passive" end, 5), "the primary kept the service")
    local took = luaha.now() - t0
    assert(took < DEADTIME + 4 * KEEPALIVE + late.max,
        ("the primary stood down after %.3f s, the loop late by %.3f s at most"):format(took, late.max))
    t.eq(a.log[#a.log], "deactivate: partner active and does not hear us: deactivating LVS", "reason")
    t.eq(#a.log, before + 1, "the primary announced nothing before it stood down")
    -- Healed: the backup keeps the service, the primary stays passive.
    deaf(b, false)
    luaha.sleep(2 * DEADTIME)
    t.eq(a.p.state, "passive", "primary after the heal")
    t.eq(b.p.state, "active", "backup after the heal")
    a.p:close()
    b.p:close()
end)

test("partition-heals-primary-stays", function()
    local a = router("primary")
    local b = router("backup")
    assert(until_(function() return a.p.state == "active" and b.p.state == "passive" end, 5), "not settled")
    deaf(a, true)
    deaf(b, true)
    assert(until_(function() return b.p.state == "active" end, 5), "split brain expected")
    luaha.sleep(0.2)
    deaf(a, false)
    deaf(b, false)
    assert(until_(function() return b.p.state == "passive" end, 5), "the backup did not stand down")
    luaha.sleep(2 * DEADTIME)
    t.eq(a.p.state, "active", "the primary stays active after the heal")
    for _, l in ipairs(a.log) do assert(not l:find("deactivate"), "the primary stood down: " .. l) end
    a.p:close()
    b.p:close()
end)

test("forged-and-replayed-refused", function()
    local a = router("primary")
    local b = router("backup")
    assert(until_(function() return a.p.state == "active" and b.p.state == "passive" end, 5), "not settled")
    -- The attacker can send from the primary's address only once the primary is gone.
    a.p:close()
    local sock = assert(luaha.net.udp())
    assert(sock:bind("127.0.0.11", PORT))
    local now = math.floor(luaha.time() * 1e6)
    assert(sock:sendto(heartbeat.encode({ role = "primary", state = "active", counter = now + 1e9 }, auth.keygen()),
        "127.0.0.12", PORT))
    assert(sock:sendto(heartbeat.encode({ role = "primary", state = "active", counter = 5 }, KEY), "127.0.0.12", PORT))
    assert(until_(function() return b.p.state == "active" end, 5), "forged heartbeats kept the backup passive")
    t.eq(b.p.stats.refused.forged, 1, "forged counted")
    t.eq(b.p.stats.refused.replayed, 1, "replayed counted")
    sock:close()
    b.p:close()
end)

test("blocked-router-hands-over", function()
    local a = router("primary")
    local b = router("backup")
    assert(until_(function() return a.p.state == "active" and b.p.state == "passive" end, 5), "not settled")
    a.p:block("link", "local link failure")
    assert(until_(function() return b.p.state == "active" and a.p.state == "passive" end, 5), "no handover")
    t.eq(a.log[#a.log], "deactivate: local link failure: deactivating LVS", "reason")
    a.p:block("link", nil)
    luaha.sleep(2 * DEADTIME)
    t.eq(a.p.state, "passive", "restored router stays passive")
    t.eq(b.p.state, "active", "backup keeps the service")
    a.p:close()
    b.p:close()
end)

test("takeover-makes-even-the-primary-stand-down", function()
    local a = router("primary")
    local b = router("backup")
    assert(until_(function() return a.p.state == "active" and b.p.state == "passive" end, 5), "not settled")
    t.eq(a.p:takeover("x"), nil, "an active router cannot take over")
    assert(b.p:takeover("remote service failed: activating fos"))
    assert(until_(function() return b.p.state == "active" and a.p.state == "passive" end, 5), "no takeover")
    t.eq(a.log[#a.log], "deactivate: PARTNER HAS TOLD US TO GO INACTIVE!", "the primary's reason")
    luaha.sleep(2 * DEADTIME)
    t.eq(b.p.state, "active", "the takeover lasts")
    t.eq(a.p.state, "passive", "the primary stays passive")
    a.p:close()
    b.p:close()
end)

test("second-channel-keeps-the-partner-alive", function()
    local two = function(role, digest)
        local a, b = { "127.0.0.11", "127.0.0.21" }, { "127.0.0.12", "127.0.0.22" }
        if role == "backup" then a, b = b, a end
        return router(role, { digest = digest, channels = { { address = a[1], peer = b[1] },
            { address = a[2], peer = b[2] } } })
    end
    local a, b = two("primary", "AAAAAAAA"), two("backup", "BBBBBBBB")
    assert(until_(function() return a.p.state == "active" and b.p.state == "passive" end, 5), "not settled")
    assert(a.p.logged.digest, "a different configuration was not logged")
    -- The partner's serial_no and digest, for the status document's peer_serial_no and peer_digest.
    local peer = a.p:status().peer
    t.eq(peer.digest, ("42"):rep(8), "the partner's digest, in hex")
    t.eq(peer.serial, 0, "the partner's serial_no")
    -- The first channel goes silent both ways (each side sends it into the void): the second one is enough.
    assert(a.p.sockets[1]:connect("127.0.0.99", PORT))
    assert(b.p.sockets[1]:connect("127.0.0.98", PORT))
    luaha.sleep(2 * DEADTIME)
    t.eq(b.p.state, "passive", "backup with one channel left")
    -- Both silent: the partner is dead.
    assert(a.p.sockets[2]:connect("127.0.0.97", PORT))
    assert(until_(function() return b.p.state == "active" end, 5), "backup did not take over")
    a.p:close()
    b.p:close()
end)

-- A flood from a third address, even of well-formed packets, never reaches the pulse: the socket is connected.
test("third-address-flood-is-dropped-by-the-kernel", function()
    local a = router("primary")
    local b = router("backup")
    assert(until_(function() return a.p.state == "active" and b.p.state == "passive" end, 5), "not settled")
    local received = b.p.stats.received
    local sock = assert(luaha.net.udp())
    assert(sock:bind("127.0.0.33", PORT))
    local leaving = heartbeat.encode({ role = "primary", state = "leaving", counter = math.floor(luaha.time() * 1e6) + 1e9 }, KEY)
    for i = 1, 2000 do
        assert(sock:sendto(leaving, "127.0.0.12", PORT))
        if i % 200 == 0 then luaha.sleep(0) end
    end
    sock:close()
    luaha.sleep(0.2)
    t.eq(next(b.p.stats.refused), nil, "nothing from the third address was even looked at")
    t.eq(b.p.state, "passive", "the backup believed none of it")
    assert(b.p.stats.received > received, "the partner's heartbeats still arrive")
    a.p:close()
    b.p:close()
end)

test("held-router-stays-passive-and-an-active-one-stays-active", function()
    local changes = 0
    local a = router("primary", { on_change = function() changes = changes + 1 end })
    local b = router("backup")
    assert(until_(function() return a.p.state == "active" and b.p.state == "passive" end, 5), "not settled")
    a.p:hold("policy", "too few healthy real servers")
    b.p:hold("policy", "too few healthy real servers")
    luaha.sleep(0.2)
    t.eq(a.p.state, "active", "a hold does not make an active router stand down")
    a.p:close()                         -- the primary dies: the held backup does not take over
    assert(until_(function() return b.p.peer.state == "dead" end, 5), "it did not find the partner dead")
    luaha.sleep(0.1)
    t.eq(b.p.want, "passive", "the held backup stayed passive")
    t.eq(b.p:status().held.policy, "too few healthy real servers", "the hold in its status")
    b.p:hold("policy", nil)             -- the condition is met again: it takes over at once
    assert(until_(function() return b.p.state == "active" end, 5), "released backup did not take over")
    assert(changes >= 2, "on_change was called " .. changes .. " times")
    b.p:close()
end)

test("timers-change-live", function()
    local a = router("primary")
    local b = router("backup")
    assert(until_(function() return a.p.state == "active" and b.p.state == "passive" end, 5), "not settled")
    a.p:set_timers(0.3, 1)
    b.p:set_timers(0.3, 1)
    local sent = a.p.stats.sent
    luaha.sleep(0.65)
    local n = a.p.stats.sent - sent
    assert(n >= 1 and n <= 4, n .. " heartbeats in 0.65 s at keepalive 0.3")
    t.eq(b.p.state, "passive", "still passive: the partner is alive at the new deadtime")
    late.reset()
    a.p:close()
    assert(until_(function() return b.p.state == "active" end, 5), "backup did not take over")
    local took = b.activated_at - b.p.peer.heard_at
    assert(took >= 1 and took < 1.05 + late.max,
        ("took over %.3f s after the last heartbeat, not after the new deadtime (the loop late by %.3f s at most)")
        :format(took, late.max))
    b.p:close()
end)

luaha.exit(t.failures() == 0 and 0 or 1)
