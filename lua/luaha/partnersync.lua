-- lua/luaha/partnersync.lua: the pair kept in step: the partner's serial_no and digest, and "Send to partner".
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
The heartbeat carries each router's serial_no and the digest of its configuration
(lua/luaha/heartbeat.lua); status(r, doc) puts the partner's in the status document, and
whether the two configurations differ.

send(r, opts) sends this router's applied lvs.cf to its partner, which checks it as --check and
the reload do, and applies it as its own web UI's Apply does (webapply's d:install: PATH.bak, the
atomic replace, the reload, the rollback). The message is partnermsg.lua's, authenticated with
heartbeat_key; without one a transfer is refused both ways.

The channel: a TCP listener of the work part on this router's heartbeat addresses and
heartbeat_port (UDP there is the heartbeat; TCP on the same number is another port). These are
the addresses the pair already reach each other on, the private network when there is one, so no
new address or option is needed; a file up to MAX_SIZE needs a stream, not a datagram; and the
heartbeat part, which must never wait for a person or a file, is not involved. A connection is
accepted only from the partner's heartbeat addresses.

Bounds: the file is at most partnermsg.MAX_SIZE; one transfer at a time each way (another is
refused as busy); a whole transfer has DEADLINE seconds (a peer that sends slowly is cut off);
refusals are counted by reason and logged at most once every 10 s per reason. Cost in the loop
at 10 000 real servers (a file of about 1.5 MB): the keyed hash, about 5 ms; the parse, check
and reload are those of an Apply (lua/luaha/webapply.lua); nothing else is proportional to it.
]]
local luaha = require "luaha"
local msg = require "luaha.partnermsg"
local lvscf = require "luaha.lvscf"
local file = require "luaha.core.file"

local log = luaha.log.prefixed("partner")

local sync = {}
local S = {}
S.__index = S

sync.DEADLINE = 60      -- seconds a transfer has, either way, including the partner's reload
local CONNECT = 5       -- seconds to connect to the partner

local hex = luaha.auth.hex

--[[
new(r [, draft]): the pair's state for router r, its listener not started: draft is the web UI's
draft store (webapply) to apply through, so that a transfer and an Apply take turns; a new one
otherwise.
]]
function sync.new(r, draft)
    local limited = luaha.log.limiter(log, 10)
    draft = draft or r.config and require("luaha.webapply").new({ config = r.config })
    return setmetatable({ r = r, draft = draft,
        servers = {}, refused = {}, limited = limited, sending = false, receiving = false }, S)
end

--[[
start(): listens on each heartbeat address of the router (r.channels) at heartbeat_port. A
listener that cannot start is logged (the router runs without it). Returns self.
]]
function S:start()
    local r = self.r
    for _, ch in ipairs(r.channels or {}) do
        local server, err = luaha.net.listen(ch.address, r.model.heartbeat_port, function(conn, addr)
            local _ <close> = conn
            self:serve(conn, addr)
        end, { backlog = 4 })
        if server then
            self.servers[#self.servers + 1] = server
        else
            log.err("the partner cannot send its lvs.cf here: %s", err)
        end
    end
    return self
end

function S:close()
    for _, s in ipairs(self.servers) do s:close() end
    self.servers = {}
end

-- refuse(why, from, kind): a refusal counted by kind and logged with a limit.
function S:refuse(kind, fmt, ...)
    self.refused[kind] = (self.refused[kind] or 0) + 1
    self.limited(kind, fmt, ...)
end

local function partner_of(r, addr)
    for _, ch in ipairs(r.channels or {}) do
        if ch.peer == addr then return true end
    end
    return false
end

-- The partner's file must be newer than this router's, so that the pair never goes back.
local function accept(old, new)
    local had = old and old.serial_no or 0
    if not msg.newer(new.serial_no, had) then
        return nil, ("serial_no %d is not newer than this router's %d: raise serial_no on the sender"):format(
            new.serial_no, had)
    end
    return true
end

--[[
serve(conn, addr): one transfer from the partner. The answer is sent, then the connection closes.
The result is kept in self.received { at, ok, serial, from, why } for the pages and the status.
]]
function S:serve(conn, addr)
    local r, key = self.r, self.r.key
    local until_ = luaha.now() + sync.DEADLINE
    local function left() return math.max(0.001, until_ - luaha.now()) end
    -- An answer is tagged once the request proved it has the key: before, a tag would prove nothing to a sender
    -- with another key, which shows an untagged refusal as such and never takes it for a success.
    local nonce, authenticated = nil, false
    local function answer(code, serial, why)
        conn:settimeout(math.max(1, left()))
        local ok, err = conn:send(msg.reply(code, serial, why, nonce, authenticated and key or nil))
        if not ok then self.limited("answer", "the answer to %s: %s", addr, err) end
    end
    local function no(kind, why, keep)
        self:refuse(kind, "a transfer from %s refused: %s", addr, why)
        if keep then self.received = { at = luaha.time(), ok = false, from = addr, why = why } end
        answer("refused", r.model.serial_no, why)
        return nil
    end
    if not partner_of(r, addr) then return no("not the partner", addr .. " is not the partner's heartbeat address") end
    if self.receiving then return no("busy", "busy: another transfer is being applied") end
    self.receiving = true
    local _ <close> = setmetatable({}, { __close = function() self.receiving = false end })
    conn:settimeout(left())
    local data, err = conn:receive(msg.HEADER_SIZE)
    if not data then return no("incomplete", "the header: " .. err) end
    local h
    h, err = msg.header(data)
    if not h then return no("bad message", err) end
    nonce = h.nonce
    if not key then return no("no key", "no heartbeat_key on this router: a transfer needs one on both", true) end
    if h.length > msg.MAX_SIZE then
        return no("too big", ("too big: %d bytes (at most %d)"):format(h.length, msg.MAX_SIZE), true)
    end
    conn:settimeout(left())
    local rest
    rest, err = conn:receive(h.length + msg.TAG)
    if not rest then return no("incomplete", "the file: " .. err, true) end
    self.receiver = self.receiver or msg.receiver(key)
    local text
    text, err = self.receiver.accept(h, rest)
    if not text then return no(err:match("^%a+"), err, true) end
    authenticated = true
    local m = lvscf.parse(text, r.config, nil)
    if m and m.serial_no ~= h.serial then
        return no("bad message", ("the message says serial_no %d, its file %d"):format(h.serial, m.serial_no), true)
    end
    local role, rerr = require("luaha.routerconf").role_of(m or {}, r.forced_role)
    if m and role ~= r.role then
        return no("role", ("the file does not make this router the %s: %s"):format(r.role,
            rerr or ("it would be the " .. tostring(role))), true)
    end
    log.info("lvs.cf serial_no %d (%d bytes) from the partner %s: applying", h.serial, #text, addr)
    local report, status, why = self.draft:install(r, text, { user = "partner", peer = addr, accept = accept })
    if not report then
        why = ("%s (%s)"):format(tostring(why), tostring(status))
        return no("not applied", why, true)
    end
    local what = report.unchanged and ("unchanged: serial_no %d is the file here already"):format(h.serial)
        or ("applied serial_no %d: %d IPVS operations%s"):format(h.serial, #report.ipvs,
            #report.later > 0 and ("; " .. table.concat(report.later, ", ") .. " take a restart") or "")
    self.received = { at = luaha.time(), ok = true, serial = h.serial, from = addr, why = what }
    r:event("partner %s: %s", addr, what)
    answer(report.unchanged and "unchanged" or "applied", r.model.serial_no, what)
end

--[[
send({ user =, peer = }): sends this router's lvs.cf, the running one, to the partner and waits
for its answer (DEADLINE seconds at most). The file on disk must be the one running (serial_no
and digest). Returns { code = "applied" | "unchanged", serial =, why = } (the partner's words),
or nil and why: this router's reason, or the partner's refusal ("the partner refused: ..."). The
result is kept in self.sent { at, ok, serial, why, by } and logged.
]]
function S:send(opts)
    opts = opts or {}
    local r = self.r
    local by = ("%s from %s"):format(tostring(opts.user or "?"), tostring(opts.peer or "?"))
    local function done(ok, serial, why)
        self.sent = { at = luaha.time(), ok = ok, serial = serial, why = why, by = opts.user }
        log[ok and "info" or "warning"]("send to the partner by %s: %s", by, why)
        r:event("send to the partner: %s", why)
        return ok
    end
    if self.sending then return nil, "a transfer to the partner is under way" end
    if #(r.channels or {}) == 0 then return nil, "this router has no partner (backup_active = 0)" end
    if not r.key then
        local why = "no heartbeat_key on this router: a transfer to the partner needs one on both"
        done(false, nil, why)
        return nil, why
    end
    self.sending = true
    local _ <close> = setmetatable({}, { __close = function() self.sending = false end })
    local text, err = file.read(self.draft:path(), msg.MAX_SIZE)
    if not text then
        done(false, nil, err)
        return nil, err
    end
    local m, errors = lvscf.parse(text, r.config, nil)
    local digest = m and require("luaha.heartbeat").digest(lvscf.write_parts(m))
    if not m or m.serial_no ~= r.model.serial_no or digest ~= r.digest then
        local why = ("%s is not the running configuration (%s): apply or reload it first"):format(r.config,
            m and ("serial_no %d on disk, %d running"):format(m.serial_no, r.model.serial_no) or errors[1])
        done(false, m and m.serial_no, why)
        return nil, why
    end
    local request, nonce = msg.request(text, m.serial_no, r.key)
    local until_ = luaha.now() + sync.DEADLINE
    local tried = {}
    -- The channels in order (the private one second): the next only when a connection could not be made.
    for _, ch in ipairs(r.channels) do
        local conn
        conn, err = luaha.net.tcp(ch.peer, r.model.heartbeat_port, { timeout = CONNECT, source = ch.address })
        if conn then
            local a
            a, err = self:exchange(conn, request, nonce, until_)
            conn:close()
            local why
            if not a then
                why = ("the partner %s: %s"):format(ch.peer, err)
            else
                why = a.authenticated and a.why or (a.why .. " (an answer not authenticated with this router's key)")
                if a.code == "refused" then why = "the partner refused: " .. why end
            end
            local ok = a ~= nil and a.authenticated and a.code ~= "refused"
            done(ok, m.serial_no, why)
            if not ok then return nil, why end
            return { code = a.code, serial = a.serial, why = a.why }
        end
        tried[#tried + 1] = ("%s: %s"):format(ch.peer, err)
    end
    local why = "the partner cannot be reached: " .. table.concat(tried, "; ")
    done(false, m.serial_no, why)
    return nil, why
end

-- exchange(conn, request, nonce, until_): sends the request and reads the answer (partnermsg.answer's), or nil and why.
function S:exchange(conn, request, nonce, until_)
    local function left() return math.max(0.001, until_ - luaha.now()) end
    conn:settimeout(left())
    local ok, err = conn:send(request)
    if not ok then return nil, err end
    local data
    data, err = conn:receive(msg.REPLY_SIZE, left())
    if not data then return nil, "its answer: " .. err end
    local h
    h, err = msg.reply_header(data)
    if not h then return nil, err end
    local rest
    rest, err = conn:receive(h.length + (h.tagged and msg.TAG or 0), left())
    if not rest then return nil, "its answer: " .. err end
    return msg.answer(h, rest, nonce, self.r.key)
end

--[[
status(r, doc): adds to router r's status document the pair's fields: digest (this router's
configuration, 16 hexadecimal digits), peer_serial_no and peer_digest (the partner's, from its
last heartbeat; absent before one is heard), config_differs (true or false; absent while the
partner was never heard), and partner_sync { sent =, received =, refused = { reason = count } }
(the last transfer each way: at, ok, serial, why, and from or by).
]]
function sync.status(r, doc)
    doc.digest = r.digest and hex(r.digest)
    local peer = doc.peer
    if peer and peer.digest then
        doc.peer_serial_no, doc.peer_digest = peer.serial, peer.digest
        doc.config_differs = doc.digest ~= peer.digest
    end
    local s = r.sync
    if s then doc.partner_sync = { sent = s.sent, received = s.received, refused = s.refused } end
    return doc
end

-- line(doc): the pair's serials in a line for people (`luaha ctl status`), from a document status() filled.
function sync.line(doc)
    return ("serial_no %s here, %s at the partner: %s"):format(tostring(doc.serial_no), tostring(doc.peer_serial_no),
        doc.config_differs and "the configurations differ" or "the same configuration")
end

return sync
