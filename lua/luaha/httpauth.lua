-- lua/luaha/httpauth.lua: HTTP basic auth against a password file, Argon2id off the loop and tries bounded.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
A wrong password must not be a way to slow the daemon or to learn its user names:

- Argon2id runs in the worker thread (luaha.auth.pwhash_verify in a task), never in the loop,
  and when too many verifications run or wait the request is answered 503 before any hashing.
- A source address has a bucket of tries (BURST, refilled at RATE a second); beyond it 429.
  The table of sources is bounded: when it is full, the sources it cannot hold share one bucket.
- A wrong "user:password" pair is remembered for a while (bounded) and refused without hashing.
- An unknown user name is verified against a real user's hash, so that it costs the same time.
- A right pair is remembered too (one per user at most): a scraper pays Argon2id once.
Refusals are counted by reason (guard.refused) and logged at most once per LOG_EVERY seconds
per reason, with the count of those left out.
]]
local luaha = require "luaha"
local file = require "luaha.core.file"

local httpauth = {}

local BURST = 5             -- tries a source may make at once ...
local RATE = 0.5            -- ... and per second after that
local MAX_SOURCES = 1024    -- source addresses with a bucket of their own
local MAX_FAILURES = 256    -- wrong pairs remembered ...
local FAILURE_TTL = 60      -- ... for this many seconds
local MAX_CREDENTIALS = 1024 -- bytes of base64 in the Authorization header
local MAX_PASSWD = 1024 * 1024 -- bytes of a password file
local LOG_EVERY = 10        -- seconds between two log lines for the same reason

-- parse_line(line): user, hash of a password file's line "user:$argon2...", or nil for another line.
function httpauth.parse_line(line)
    return line:match("^([^:#%s][^:]*):(%$argon2%S+)$")
end

-- read_passwd(path): { user = hash }, or nil and why. The file is read whole, at most MAX_PASSWD bytes.
function httpauth.read_passwd(path)
    local text, err = file.read(path, MAX_PASSWD)
    if not text then return nil, "status_passwd " .. err end
    local users = {}
    for line in text:gmatch("[^\n]+") do
        local user, hash = httpauth.parse_line(line)
        if user then users[user] = hash end
    end
    if not next(users) then return nil, ("status_passwd %s: no user:HASH line"):format(path) end
    return users
end

-- b64decode(s): the bytes s encodes, or nil when it is not base64 (libsodium's decoder, strict, padded).
local b64decode = luaha.auth.base64_decode

-- A bounded memory of keys with an expiry: the oldest goes when it is full.
local function memory(max, ttl)
    local m = { at = {}, order = {}, first = 1, last = 0 }
    function m.has(key, now)
        local t = m.at[key]
        return t ~= nil and now - t < ttl
    end
    function m.add(key, now)
        if m.at[key] == nil then
            m.last = m.last + 1
            m.order[m.last] = key
            if m.last - m.first + 1 > max then
                m.at[m.order[m.first]] = nil
                m.order[m.first] = nil
                m.first = m.first + 1
            end
        end
        m.at[key] = now
    end
    return m
end

--[[
verifier(users): the password checks of a password file's users (read_passwd's table), shared
by the basic auth guard below and the web UI's logins (lua/luaha/websession.lua):
- v:remembered(user, password [, now]): true for a right pair verified before, false for a wrong
  one verified in the last FAILURE_TTL seconds (the last MAX_FAILURES), nil when only Argon2id can
  tell. Costs one BLAKE2b of the pair.
- v:verify(user, password): waits (Argon2id in the worker thread) and returns whether the pair is
  right, remembering the answer; or nil, "busy" when the worker has too many jobs. An unknown user
  is verified against a real user's hash, so that it costs the same time as a known one.
]]
function httpauth.verifier(users)
    local names = {}
    for name in pairs(users) do names[#names + 1] = name end
    table.sort(names)
    local v = {
        good = {},                                  -- key of a right pair: true
        failures = memory(MAX_FAILURES, FAILURE_TTL),
        dummy = users[names[1]],                    -- an unknown name is verified against this
    }
    local function key(user, pw)
        return luaha.auth.hash(user .. "\0" .. pw, 32)
    end
    function v.remembered(_, user, pw, now)
        local k = key(user, pw)
        if v.good[k] then return true end
        if v.failures.has(k, now or luaha.now()) then return false end
        return nil
    end
    function v.verify(_, user, pw)
        local right, err = luaha.auth.pwhash_verify(users[user] or v.dummy, pw)
        if right == nil then return nil, err end
        if right and users[user] then
            v.good[key(user, pw)] = true
            return true
        end
        v.failures.add(key(user, pw), luaha.now())
        return false
    end
    return v
end

--[[
new(users): a guard for the users of a password file (read_passwd's table). guard:check(req)
may wait (in the worker thread's queue) and returns true; or nil and the reply: status, body,
headers (401 with WWW-Authenticate, 429 or 503 with Retry-After).
]]
function httpauth.new(users)
    local guard = {
        refused = { password = 0, rate = 0, busy = 0 },
        verifier = httpauth.verifier(users),
        buckets = {}, nbuckets = 0,                 -- source: { tokens, at }
        logged = luaha.log.limiter(luaha.log, LOG_EVERY),   -- refusals logged, a line per reason at most so often
    }

    local function refuse(reason, peer, status, body, headers)
        guard.refused[reason] = guard.refused[reason] + 1
        guard.logged(reason, "status: %s was refused: %s", peer, body:match("^[^\n]*"))
        return nil, status, body, headers
    end

    -- take(peer, now): whether the source may try once more, and if not, when it may.
    local function take(peer, now)
        local b = guard.buckets[peer]
        if not b then
            if guard.nbuckets >= MAX_SOURCES then   -- drop the sources whose buckets have refilled
                for p, old in pairs(guard.buckets) do
                    if p ~= "*" and old.tokens + (now - old.at) * RATE >= BURST then
                        guard.buckets[p] = nil
                        guard.nbuckets = guard.nbuckets - 1
                    end
                end
            end
            if guard.nbuckets >= MAX_SOURCES then
                peer = "*"
                b = guard.buckets[peer]
            end
            if not b then
                b = { tokens = BURST, at = now }
                guard.buckets[peer] = b
                guard.nbuckets = guard.nbuckets + 1
            end
        end
        b.tokens = math.min(BURST, b.tokens + (now - b.at) * RATE)
        b.at = now
        if b.tokens < 1 then return false, math.ceil((1 - b.tokens) / RATE) end
        b.tokens = b.tokens - 1
        return true
    end

    function guard.check(_, req)
        local challenge = { ["WWW-Authenticate"] = 'Basic realm="luaha"' }
        local cred = (req.headers.authorization or ""):match("^[Bb]asic%s+(%S+)$")
        local plain = cred and #cred <= MAX_CREDENTIALS and b64decode(cred)
        local user, pw = (plain or ""):match("^([^:]*):(.*)$")
        if not user then
            return refuse("password", req.peer, 401, "no valid user and password\n", challenge)
        end
        local now = luaha.now()
        local known = guard.verifier:remembered(user, pw, now)
        if known then return true end
        if known == false then
            return refuse("password", req.peer, 401, "no valid user and password\n", challenge)
        end
        local ok, after = take(req.peer, now)
        if not ok then
            return refuse("rate", req.peer, 429, "too many tries from this address\n",
                { ["Retry-After"] = tostring(after) })
        end
        local right, err = guard.verifier:verify(user, pw)
        if right == nil then
            return refuse("busy", req.peer, 503, "too many password checks at once (" .. err .. ")\n",
                { ["Retry-After"] = "1" })
        end
        if right then return true end
        return refuse("password", req.peer, 401, "no valid user and password\n", challenge)
    end
    return guard
end

httpauth.b64decode = b64decode

return httpauth
