-- lua/luaha/lvscfread.lua: the lvs.cf reader: lines to tokens to the config model, with the parse cache.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[==[
parse(text, filename [, cache] [, opts]) reads a whole file with a parser object (one per
read): its state is the open block and server, the line, the messages and the parse cache's
bookkeeping, and each kind of line has a method. The option tables are lvscfmodel's, the value
checks and the checks across options lvscfcheck's, the lexical rules (spec 2.1) lvscflex's; this
file knows the grammar (spec 2.2), the cache and Piranha's messages. Every message reads
`FILE:LINE: [virtual "NAME": [server "NAME": ]]OPTION: PROBLEM`.

Bounds: a line of more than MAX_LINE bytes is an error (a line is read in one step, at most a
few hundred thousand instructions); reading stops after MAX_MESSAGES errors, and warnings past
that many are counted, not kept. Between lines the task lets the others run (check.breathe):
at 10 000 real servers (about 60 000 lines) a read takes about 0.3 s of CPU, in slices of 256
lines of about a millisecond each; a host name waits for its resolver (5 s at most) without
holding the loop.
]==]
local model = require "luaha.lvscfmodel"
local check = require "luaha.lvscfcheck"
local lex = require "luaha.lvscflex"
local same = require("luaha.core.file").same     -- two ranges of texts compared without copying them

local read = {}

local MAX_LINE = 65536
local MAX_MESSAGES = 1000
local quote, breathe = check.quote, check.breathe
local globals, blocks, servers = model.globals, model.blocks, model.servers

local Parser = {}
Parser.__index = Parser

-- report(list, line, b, s, key, problem [, kind]): a message, kept while there are fewer than MAX_MESSAGES.
function Parser:report(list, line, b, s, key, problem, kind)
    self.nmsg = self.nmsg + 1
    if #list >= MAX_MESSAGES then
        self.dropped[list] = (self.dropped[list] or 0) + 1
        return
    end
    if #key > 64 then key = key:sub(1, 64) .. "..." end
    list[#list + 1] = string.format("%s:%d: %s%s: %s", self.filename, line,
        check.context(kind or (b and b.kind), b, s), key, problem)
end
function Parser:err(key, problem) self:report(self.errors, self.lineno, self.blk, self.srv, key, problem) end
function Parser:warn(key, problem) self:report(self.warnings, self.lineno, self.blk, self.srv, key, problem) end

--[[
The parse cache's entries. A block's: { src = TEXT, at = WHERE, len =, nlines =, tbl =, kind =,
servers = { [OPENER LINE] = i }, stbl = { SERVER TABLE, ... }, sspan = { span(FROM - at, LEN, LINES), ... },
sport = PORT }: the text it was read from (src: the whole text of the last parse that read or took
it, not a copy) and its servers' tables with where their text is in the block's and how many lines
it has (one hash slot, two array slots and the key a server: a table of its own each would cost
three times that). A server's reading depends on its block's port before it: sport is the port its
kept servers were read with, and a server read with another (before the block's port line) is not kept.
]]
-- span(from, len, lines): the three in one integer, or nil when they do not fit (the server is then not
-- kept): from < 2^28 (a file is at most 256 MiB: lvscf.MAX_SIZE), len < 2^24, lines < 2^11.
local function span(from, len, lines)
    if len >= 1 << 24 or lines >= 1 << 11 then return nil end
    return from << 35 | lines << 24 | len
end
local function unspan(x) return x >> 35, x & 0xffffff, x >> 24 & 0x7ff end

-- candidate(key, tbl, at, nmsg): block tbl read from at to here is kept in the cache if it had no
-- message and names no host (a name is resolved again at each read).
function Parser:candidate(key, tbl, at, nmsg)
    local into = self.fresh_blocks
    if not self.cache or self.nmsg ~= nmsg or into[key] or self.named[tbl] then return nil end
    into[key] = { src = self.text, at = at, len = self.pos - at, tbl = tbl, nlines = self.lineno - tbl.line + 1,
        kind = tbl.kind }
    return into[key]
end

-- keep_server(key, tbl, at, len, lines): server tbl, whose text is at..at+len-1 in lines lines, goes in the open block's entry.
function Parser:keep_server(key, tbl, at, len, lines)
    local sv, port = self.blk_sv, self.blk.port or 80
    local packed = span(at - self.blk_at, len, lines)
    if sv.servers[key] or not packed or (sv.sport or port) ~= port then return end
    local i = #sv.stbl + 1
    sv.servers[key], sv.stbl[i], sv.sspan[i], sv.sport = i, tbl, packed, port
end

function Parser:close_server()
    local s, blk = self.srv, self.blk
    check.fill_defaults(s, servers)
    if s.address == nil and not self.srv_seen.address and not self.bad_open[s] then
        self:report(self.errors, s.line, blk, s, "address", "missing (required)")
    end
    if self.cache and self.nmsg == self.srv_nmsg and not self.named[s] then
        self:keep_server(self.srv_key, s, self.srv_at, self.pos - self.srv_at, self.lineno - s.line + 1)
    end
    if self.spans then self.spans[s].last = self.lineno end
    self.srv = nil
end

function Parser:close_block()
    local blk = self.blk
    check.fill_defaults(blk, blocks)
    if blk.address == nil and not self.blk_seen.address and not self.bad_open[blk] then
        self:report(self.errors, blk.line, blk, nil, "address", "missing (required)")
    end
    local e = self:candidate(self.blk_key, blk, self.blk_at, self.blk_nmsg)
    local sv = self.blk_sv
    if e then e.servers, e.stbl, e.sspan, e.sport = sv.servers, sv.stbl, sv.sspan, sv.sport end
    if self.spans then self.spans[blk].last = self.lineno end
    self.blk = nil
end

--[[
option(o, toks, quoted, ctx): the value of option o on a line of tokens (`KEY = VALUE...`, quoted
marking the tokens that were in quotes), or nil, problem; a warning third, the device of an
`IP DEV` pair fourth. The one home of an option's checks: the reader calls it for every option
line, lvscf.check for what a person typed. A host name is resolved with ctx.opts and ctx.memo
(see check.resolve), after ctx:named_host() is called; it waits.
]]
function read.option(o, toks, quoted, ctx)
    local key = o.key
    local nval = o.type == "ipdev" and 2 or 1
    if o.type ~= "list" and #toks < 2 + nval then
        return nil, "missing arguments"
    elseif o.type ~= "list" and #toks > 2 + nval then
        return nil, "unexpected arguments: " .. quote(table.concat(toks, " ", 3 + nval))
            .. (toks[3 + nval]:sub(1, 1) == "#" and " (comments must be on their own line)" or "")
    end
    if o.type == "list" then
        if toks[3] ~= "[" or toks[#toks] ~= "]" or quoted[3] or quoted[#toks] or #toks < 4 then
            return nil, "list expected ([ word ... ])"
        end
        return check.check(o, table.move(toks, 4, #toks - 1, 1, {}))
    end
    local raw, v, problem, w = toks[3]
    if lex.readers[o.type] then
        v, problem, w = lex.readers[o.type](raw, o)
    else
        v = o.escapes and lex.unescape(raw) or raw
    end
    if v ~= nil then v, problem = check.check(o, v) end
    -- A checked host of digits and dots is a dotted quad; anything else is a name to resolve.
    if v ~= nil and (o.type == "host" or o.type == "ipdev") and v:find("[^%d.]") then
        ctx:named_host()
        v, problem = check.resolve(v, ctx.opts, ctx.memo)
    end
    if v == nil then return nil, problem end
    if o.known and not check.in_list(o.known, v) then
        w = "unknown " .. key .. " " .. quote(v) .. " (Piranha accepted any word; known: "
            .. table.concat(o.known, ", ") .. ")"
    end
    local dev = toks[4]
    if o.device and not check.writable(dev) then
        return nil, "the device needs quotes and holds both kinds of quote: it cannot be written"
    end
    return v, nil, w, dev
end

-- span_option(dst, key, v, dev): for opts.spans, the line and value of an option line (a repeated key's each, in order).
function Parser:span_option(dst, key, v, dev)
    local keys = self.spans[dst].keys
    local list = keys[key] or {}
    keys[key] = list
    list[#list + 1] = { line = self.lineno, value = v, device = dev }
end

-- A host name is resolved at each read: the block and server that name one are not cached.
function Parser:named_host()
    if self.blk then self.named[self.blk] = true end
    if self.srv then self.named[self.srv] = true end
end

function Parser:assign(opts, dst, seen, toks, quoted, key)
    local o, first = opts[key], seen[key]
    seen[key] = self.lineno                  -- even when the value is bad: no "missing" error for it later
    if first then
        self:warn(key, "repeated (first at line " .. first .. "); the last one wins")
    end
    local v, problem, w, dev = read.option(o, toks, quoted, self)
    if v == nil then return self:err(key, problem) end
    if w then self:warn(key, w) end
    dst[key] = v
    if o.device then dst[o.device] = dev end
    if self.spans then self:span_option(dst, key, v, dev) end
    local blk = self.blk
    if blk and not self.srv and blk.kind == "failover" and not model.failover_uses[key] then
        self:warn(key, "not used in a failover block")
    end
end

-- take(tbl, at, len, nlines, list, kind): the table of the text from at (this line) goes into list; the parse goes past it.
function Parser:take(tbl, at, len, nlines, list, kind)
    list[#list + 1] = tbl
    self.taken_line[tbl], self.taken_kind[tbl] = self.lineno, kind
    self.lineno, self.pos = self.lineno + nlines - 1, at + len
end

--[[
reuse_block(e, key, at): when the text from at (this line) is that of block entry e, takes its
table and goes past it; false otherwise. A table is taken once: two blocks of the same text are
two tables. The entry then points into this text (the same bytes): no text is copied, and the
texts of earlier parses are not kept.
]]
function Parser:reuse_block(e, key, at)
    if self.taken_line[e.tbl] or not same(self.text, at, e.src, e.at, e.len) then return false end
    e.src, e.at = self.text, at
    self.fresh_blocks[key] = self.fresh_blocks[key] or e
    self:take(e.tbl, at, e.len, e.nlines, self.m[e.kind .. "s"], e.kind)
    return true
end

-- reuse_server(old, key, at): likewise for a server of the block of before, old, in a block whose text changed.
function Parser:reuse_server(old, key, at)
    local i = old.servers[key]
    local tbl = i and old.stbl[i]
    if not tbl or self.taken_line[tbl] then return false end
    local from, len, lines = unspan(old.sspan[i])
    from = old.at + from
    if not same(self.text, at, old.src, from, len) then return false end
    self:keep_server(key, tbl, at, len, lines)
    self:take(tbl, at, len, lines, self.blk.servers)
    return true
end

-- The opener lines the cache knows are looked up before they are read: the same line in the same
-- place (at top level; in a block, outside a server, after the same port) opens the same way. A
-- block whose text changed looks for its servers among those it had.

function Parser:reused(line, at)
    if not self.cache then return false end
    if not self.blk then
        local e = self.cached_blocks[line]
        return e and self:reuse_block(e, line, at)
    end
    local old = self.blk_old
    return not self.srv and old and old.sport == (self.blk.port or 80) and self:reuse_server(old, line, at)
end

-- opener(key, toks, quoted): the problem of a block's opener line (`KEY NAME {`), or nil; lvscf.check's for a name.
function read.opener(key, toks, quoted)
    if #toks < 3 or toks[3] ~= "{" or quoted[3] then
        return #toks > 3 and "unexpected arguments" or "missing arguments (" .. key .. " NAME {)"
    elseif #toks > 3 then
        return "unexpected arguments: " .. quote(table.concat(toks, " ", 4))
    elseif not check.writable(toks[2]) then
        return "the name needs quotes and holds both kinds of quote: it cannot be written"
    end
end

function Parser:open(key, toks, quoted, line, at)
    local before, nmsg = #self.errors, self.nmsg       -- a malformed opener is a message of its block
    local problem = read.opener(key, toks, quoted)
    if problem then self:err(key, problem) end
    -- A malformed opener still opens its block, so that its lines and its } are read in the right
    -- scope; its missing address is not reported on top of the opener's error.
    local bad = #self.errors > before
    if key == "server" then
        local srv = { name = toks[2] or "", port = self.blk.port or 80, line = self.lineno }
        for k in pairs(self.srv_seen) do self.srv_seen[k] = nil end
        self.bad_open[srv] = bad
        self.srv = srv
        if self.spans then self.spans[srv] = { first = self.lineno, keys = {} } end
        self.blk.servers[#self.blk.servers + 1] = srv
        self.srv_key, self.srv_at, self.srv_nmsg = line, at, nmsg
    else
        local blk = { kind = key, name = toks[2] or "", servers = {}, line = self.lineno }
        self.blk_seen = {}
        self.blk, self.bad_open[blk] = blk, bad
        if self.spans then self.spans[blk] = { first = self.lineno, keys = {} } end
        local list = self.m[key .. "s"]
        list[#list + 1] = blk
        self.blk_key, self.blk_at, self.blk_nmsg = line, at, nmsg
        self.blk_old, self.blk_sv = self.cached_blocks[line], { servers = {}, stbl = {}, sspan = {} }
    end
end

function Parser:close(toks)
    if #toks > 1 then self:warn("}", "text after } ignored: " .. quote(table.concat(toks, " ", 2))) end
    if self.srv then
        self:close_server()
    elseif self.blk then
        self:close_block()
    else
        self:err("}", "no block to close")
    end
end

-- statement(line, at): one line read from at, not taken from the cache.
function Parser:statement(line, at)
    local first = line:match("^[ \t\r]*(%S*)")
    if first == "" or first:sub(1, 1) == "#" then return end
    local toks, quoted = lex.tokenize(line, first == "send" or first == "expect", self.toks, self.quoted)
    if not toks then return self:err(first, quoted) end
    if toks[1] == "}" and not quoted[1] then return self:close(toks) end
    local key, blk, srv = toks[1], self.blk, self.srv
    if (key == "virtual" or key == "failover") and not blk or key == "server" and blk and not srv then
        return self:open(key, toks, quoted, line, at)
    end
    local opts = srv and servers or blk and blocks or globals
    if not opts[key] or quoted[1] then
        local where = srv and "in a server block" or blk and ("in a " .. blk.kind .. " block") or "at top level"
        local hint = key:find("=", 1, true) and " (= needs a blank on each side)" or ""
        self:err(key, "unknown command " .. where .. hint)
    elseif toks[2] ~= "=" then
        self:err(key, "equal (=) expected after command")
    else
        self:assign(opts, srv or blk or self.m, srv and self.srv_seen or blk and self.blk_seen or self.seen_g, toks, quoted,
            key)
    end
end

-- finish(): the blocks left open, defaults, the checks across options, the cache; parse's results.
function Parser:finish()
    if self.srv then
        self:report(self.errors, self.srv.line, self.blk, self.srv, "server", "missing } (unexpected end of file)")
        self:close_server()
    end
    if self.blk then
        self:report(self.errors, self.blk.line, self.blk, nil, self.blk.kind, "missing } (unexpected end of file)")
        self:close_block()
    end
    local m, taken_line, seen_g = self.m, self.taken_line, self.seen_g
    check.fill_defaults(m, globals)
    -- The tables taken from the cache are shared with models in use: their lines and kinds are
    -- kept here, not in them. A taken block (with a kind) is known to have no duplicate server.
    local clean = {}
    for tbl, kind in pairs(self.taken_kind) do clean[tbl] = kind end
    local function line_of(tbl) return tbl.line or taken_line[tbl] end
    check.cross_check(m, function(level, kind, b, s, key, problem, also)
        if b then self.marked[b] = true end
        if s then self.marked[s] = true end
        local line = s and line_of(s) or b and line_of(b) or seen_g[key] or seen_g[also] or 1
        self:report(level == "error" and self.errors or self.warnings, line, b, s, key, problem, kind)
    end, line_of, clean)
    for _, kind in ipairs({ "virtuals", "failovers" }) do
        for _, b in ipairs(m[kind]) do
            breathe()
            if not clean[b] then
                b.line, b.kind = nil, nil
                for _, s in ipairs(b.servers) do s.line = nil end
            end
        end
    end
    if self.cache then
        -- A block that cross_check had something to say about is read again next time.
        for k, e in pairs(self.fresh_blocks) do
            if self.marked[e.tbl] then self.fresh_blocks[k] = nil end
        end
        self.cache.blocks = self.fresh_blocks
    end
    return self:results()
end

-- results(): the model, or nil and the errors; the warnings; each list in line order, with what was dropped said last.
function Parser:results()
    for _, list in ipairs({ self.errors, self.warnings }) do
        check.by_line(list)
        local n = self.dropped[list]
        if n then
            list[#list + 1] = string.format("%s:%d: %d more %s not shown", self.filename, self.lineno, n,
                list == self.errors and "errors" or "warnings")
        end
    end
    if #self.errors > 0 then return nil, self.errors, self.warnings end
    return self.m, nil, self.warnings
end

-- parse(text, filename [, cache] [, opts]): see lvscf.parse.
function read.parse(text, filename, cache, opts)
    filename = filename or "lvs.cf"
    if text == "" then return nil, { filename .. ":1: Empty configuration" }, {} end
    if text:sub(-1) ~= "\n" then text = text .. "\n" end
    local spans = opts and opts.spans
    if spans then cache = nil end           -- a block taken from the cache has no lines read
    local p = setmetatable({
        text = text, filename = filename, cache = cache, opts = opts, memo = {}, spans = spans,
        errors = {}, warnings = {}, nmsg = 0, dropped = {},
        m = { virtuals = {}, failovers = {} }, seen_g = {}, lineno = 0, pos = 1,
        -- blk, srv: the open block and server; blk_key, blk_at, blk_nmsg: its opener line, where it
        -- starts, the messages before it; blk_old: its cache entry of before (its text changed);
        -- blk_sv: its servers' part of its new entry; srv_key, srv_at, srv_nmsg likewise.
        -- The cache: the previous parse's blocks by opener line (each with its servers, by opener
        -- line and port); this parse's; the tables taken from it with their line (a table is taken
        -- once: one with a line is not taken again) and kind (none for a server); the tables
        -- cross_check had something to say about; the tables that name a host; those opened by a
        -- malformed opener.
        cached_blocks = cache and cache.blocks or {}, fresh_blocks = {},
        taken_line = {}, taken_kind = {}, marked = {}, named = {}, bad_open = {},
        toks = {}, quoted = {},     -- the tokens of the line being read (lvscflex.tokenize fills them)
        -- The lines of each key of the open block and server (one table for every server: no garbage).
        blk_seen = {}, srv_seen = {},
    }, Parser)
    if spans then spans[p.m] = { first = 0, keys = {} } end
    while p.pos <= #text do
        local at = p.pos
        local eol = text:find("\n", at, true)
        p.pos, p.lineno = eol + 1, p.lineno + 1
        breathe()
        if eol - at > MAX_LINE then
            p:err("line", "too long: " .. (eol - at) .. " bytes (at most " .. MAX_LINE .. ")")
        else
            local line = text:sub(at, eol - 1)
            if not p:reused(line, at) then p:statement(line, at) end
        end
        if #p.errors >= MAX_MESSAGES then
            p.errors[#p.errors + 1] = string.format("%s:%d: too many errors: reading stopped", filename, p.lineno)
            return p:results()
        end
    end
    return p:finish()
end

return read
