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

local httpauth = {}

local BURST = 5             -- tries a source may make at once ...
local RATE = 0.5            -- ... and per second after that
local MAX_SOURCES = 1024    -- source addresses with a bucket of their own
local MAX_FAILURES = 256    -- wrong pairs remembered ...
local FAILURE_TTL = 60      -- ... for this many seconds
local MAX_CREDENTIALS = 1024 -- bytes of base64 in the Authorization header
local LOG_EVERY = 10        -- seconds between two log lines for the same reason

-- read_passwd(path): { user = hash }, or nil and why.
function httpauth.read_passwd(path)
    local f, err = io.open(path)
    if not f then return nil, "status_passwd " .. err end
    local users = {}
    for line in f:lines() do
        local user, hash = line:match("^([^:#%s][^:]*):(%$argon2%S+)$")
        if user then users[user] = hash end
    end
    f:close()
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
new(users): a guard for the users of a password file (read_passwd's table). guard:check(req)
may wait (in the worker thread's queue) and returns true; or nil and the reply: status, body,
headers (401 with WWW-Authenticate, 429 or 503 with Retry-After).
]]
function httpauth.new(users)
    local names = {}
    for name in pairs(users) do names[#names + 1] = name end
    table.sort(names)
    local guard = {
        refused = { password = 0, rate = 0, busy = 0 },
        good = {},                                  -- key of a right pair: true
        failures = memory(MAX_FAILURES, FAILURE_TTL),
        buckets = {}, nbuckets = 0,                 -- source: { tokens, at }
        logged = luaha.log.limiter(luaha.log, LOG_EVERY),   -- refusals logged, a line per reason at most so often
        dummy = users[names[1]],                    -- an unknown name is verified against this
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
        local key = luaha.auth.hash(user .. "\0" .. pw, 32)
        if guard.good[key] then return true end
        local now = luaha.now()
        if guard.failures.has(key, now) then
            return refuse("password", req.peer, 401, "no valid user and password\n", challenge)
        end
        local ok, after = take(req.peer, now)
        if not ok then
            return refuse("rate", req.peer, 429, "too many tries from this address\n",
                { ["Retry-After"] = tostring(after) })
        end
        local right, err = luaha.auth.pwhash_verify(users[user] or guard.dummy, pw)
        if right == nil then
            return refuse("busy", req.peer, 503, "too many password checks at once (" .. err .. ")\n",
                { ["Retry-After"] = "1" })
        end
        if right and users[user] then
            guard.good[key] = true
            return true
        end
        guard.failures.add(key, luaha.now())
        return refuse("password", req.peer, 401, "no valid user and password\n", challenge)
    end
    return guard
end

httpauth.b64decode = b64decode

return httpauth
