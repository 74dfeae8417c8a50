-- lua/luaha/lvsedit.lua: changes an lvs.cf as text to match a new model, keeping every line it need not touch.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[==[
lvscf.write rewrites a whole file from the model and loses its comments and order; the web UI
edits the file as text instead (spec webui.md 3.5, "Editing keeps the file"). edit() reads the
old text with the lines of every option and block (lvscf.parse's opts.spans), compares the old
model with the new one option by option and block by block (blocks and servers are matched by
name), and records line edits:

    a changed value         its last line's value tokens rewritten (indentation, `KEY = ` and
                            what follows the value kept); earlier lines of a repeated key removed
    a new option            a line after the last option line of its block (before its first
                            server), with its siblings' indentation
    an option set to nil    its lines removed (an option without a default; a luaha extension
                            set back to its default likewise, as the writer leaves it out)
    a new block or server   after the last one of its kind (a new virtual after the last
                            virtual), a blank line before a block; written as lvscf.write does
    a deleted one           its lines, opener to `}`
    a renamed one           its opener's name (opts.renames)

Every other line is kept byte for byte, with its own line end; new lines take the first line's
(CRLF files stay CRLF). The text is then read again and must give the intended model: the new
model with its defaults filled in and the reader's own adjustments (lvscfcheck.cross_check);
if it does not, edit() refuses rather than write a text that means something else. A value the
reader adjusts (backup_active = 1 without backup reads as 0) is compared first with the old
model, so a line no one changed stays as written; only where the new model would make it mean
something else is the line rewritten (the edit is made again, at most four times in all).

Cost: two reads of the file, five at most, and a pass over its lines and the model per
attempt: at 10 000 real servers (about 60 000 lines) a read takes about 0.4 s of CPU and the
edit of one value about 1.3 s, in slices of a millisecond (check.breathe); it runs in a task of
the work part, never where the heartbeat runs.
]==]
local lvscf = require "luaha.lvscf"
local model = require "luaha.lvscfmodel"
local check = require "luaha.lvscfcheck"
local writer = require "luaha.lvscfwrite"
local diff = require "luaha.lvseditdiff"

local lvsedit = {}

local breathe, quote = check.breathe, check.quote

-- copy(v): a deep copy of a model (tables of tables, no cycles), which the caller may change.
function lvsedit.copy(v)
    if type(v) ~= "table" then return v end
    local c = {}
    for k, x in pairs(v) do c[k] = lvsedit.copy(x) end
    return c
end
local copy = lvsedit.copy

-- same(a, b, path): deep equality; false and where they first differ.
local function same(a, b, path)
    if type(a) ~= "table" or type(b) ~= "table" then
        if a == b then return true end
        return false, path .. ": " .. tostring(a) .. " in the text, " .. tostring(b) .. " wanted"
    end
    for k, v in pairs(a) do
        local ok, where = same(v, b[k], path .. "." .. tostring(k))
        if not ok then return false, where end
    end
    for k, v in pairs(b) do
        if a[k] == nil then return false, path .. "." .. tostring(k) .. ": nil in the text, " .. tostring(v) .. " wanted" end
    end
    return true
end

--[[
filled(m): a copy of model m with its defaults filled in (a server's port, when nil, is its
block's): what the edit writes. intended(w): what parse gives for it, with cross_check's
adjustments (backup_active without backup is off, a pmask of 255.255.255.255 none), which the
text need not spell out. Their messages are the final parse's to give.
]]
local function filled(m)
    local w = copy(m)
    w.virtuals, w.failovers = w.virtuals or {}, w.failovers or {}
    check.fill_defaults(w, model.globals)
    for _, kind in ipairs({ "virtuals", "failovers" }) do
        for _, b in ipairs(w[kind]) do
            b.servers = b.servers or {}
            check.fill_defaults(b, model.blocks)
            for _, s in ipairs(b.servers) do
                if s.port == nil then s.port = b.port end
                check.fill_defaults(s, model.servers)
            end
        end
    end
    return w
end

local function intended(w)
    w = copy(w)
    check.cross_check(w, function() end)
    return w
end

local Editor = {}
Editor.__index = Editor

-- The line edits: repl[i] replaces line i, del[i] removes it, after[i] lists the lines added after it (after[0]: at the top).
function Editor:set(i, content) self.repl[i] = content end
function Editor:delete(first, last)
    for i = first, last do self.del[i] = true end
end
function Editor:insert(i, lines)
    local list = self.after[i] or {}
    self.after[i] = list
    for _, l in ipairs(lines) do list[#list + 1] = l end
end

function Editor:error(kind, b, s, key, problem)
    self.errors[#self.errors + 1] = self.filename .. ": " .. check.context(kind, b, s) .. key .. ": " .. problem
end

local function indent_of(line) return line:match("^[ \t]*") end

-- rewrite(i, text): line i with its value tokens replaced by text.
function Editor:rewrite(i, text)
    local line = self.lines[i]
    local head = line:match("^[ \t\r]*[^ \t\r]+[ \t\r]+=[ \t\r]+")
    local tail = line:match("[ \t\r]*$")
    self:set(i, head .. text .. tail)
end

-- rename(i, kind, name): opener line i (`KIND NAME {`) with its name token replaced.
function Editor:rename(i, name)
    local line = self.lines[i]
    local head = line:match("^[ \t\r]*[^ \t\r]+[ \t\r]+")
    local from, q = #head + 1, line:sub(#head + 1, #head + 1)
    local to = (q == '"' or q == "'") and line:find(q, from + 1, true) or (line:find("[ \t\r]", from) or #line + 1) - 1
    self:set(i, head .. writer.token(name) .. line:sub(to + 1))
end

-- before(i): where lines go to stand before line i and the comment lines right above it.
function Editor:before(i)
    i = i - 1
    while i > 0 and self.lines[i]:match("^[ \t\r]*#") do i = i - 1 end
    return i
end

-- option_lines(sp, stop): the last option line of scope sp before line stop (any line when nil), and one of them.
local function option_lines(sp, stop)
    local last, any
    for _, list in pairs(sp.keys) do
        for _, at in ipairs(list) do
            any = at.line
            if not stop or at.line < stop then last = math.max(last or 0, at.line) end
        end
    end
    return last, any
end

--[[
options(opts, scope, ctx, old, new, sp, first_child, indent): the option edits of one scope
(the globals, a block, a server): old and new are its tables, sp its spans, first_child the line
of its first block or server (new options go before it), indent the indentation for a new line
when it has none. Returns the port lines the scope has after the edit ({ line, value }), for
the servers of a block, which take its port when they have none.
]]
function Editor:options(opts, scope, ctx, old, new, sp, first_child, indent)
    local anchor = option_lines(sp, first_child)
    if not anchor then anchor = sp.first == 0 and self.top or sp.first end
    local sibling = self.lines[anchor]
    if sibling and anchor ~= sp.first then indent = indent_of(sibling) end
    local port = sp.keys.port or {}
    for _, o in ipairs(opts) do
        -- The value the text gives, before cross_check's adjustments: its last line's, else the model's (a default).
        local key = o.key
        local lines = sp.keys[key] or {}
        local last = lines[#lines]
        local ov, od = old[key], o.device and old[o.device]
        if last then ov, od = last.value, last.device end
        local nv = new[key]
        local ok = same(ov, nv, "") and (not o.device or od == new[o.device])
        if not ok and self.lenient and not (self.strict[new] and (self.strict[new][key] or self.strict[new][o.device])) then
            ok = same(old[key], nv, "") and (not o.device or old[o.device] == new[o.device])
        end
        if not ok then
            breathe()
            if nv == nil or (o.ext and nv == o.default) then
                for _, at in ipairs(lines) do self:delete(at.line, at.line) end
                if key == "port" then port = {} end
            else
                local text, why = lvscf.format(scope, key, o.device and new or nv)
                if not text then
                    self:error(ctx[1], ctx[2], ctx[3], key, why)
                elseif #lines > 0 then
                    for n = 1, #lines - 1 do self:delete(lines[n].line, lines[n].line) end
                    self:rewrite(last.line, text)
                    if key == "port" then port = { { line = last.line, value = nv } } end
                else
                    self:insert(anchor, { indent .. key .. " = " .. text })
                    if key == "port" then port = { { line = anchor + 0.5, value = nv } } end
                end
            end
        end
    end
    return port
end

--[[
match(olds, news, renames): pairs the old tables with the new by name; renames maps an old name
to its new one (the old name then matches nothing else). Returns plan (plan[j]: the old table of
news[j], or nil for a new one) and matched (old table -> true); or nil, the new table that would
come before an old one it follows in the file, and that one.
]]
local function match(olds, news, renames)
    local by_name, from = {}, {}
    for i, t in ipairs(olds) do by_name[t.name] = { t = t, i = i } end
    for old, new in pairs(renames) do from[new] = old end
    local plan, matched, last = {}, {}, 0
    for j, t in ipairs(news) do
        local name = from[t.name] or (renames[t.name] == nil and t.name)
        local hit = name and by_name[name]
        if hit and not matched[hit.t] then
            if hit.i < last then return nil, t, olds[last] end
            plan[j], matched[hit.t], last = hit.t, true, hit.i
        end
    end
    return plan, matched
end

--[[
place(plan, olds, news, j, fallback): where news[j], a new table, goes: after the nearest matched
table before it, else before the nearest matched one after it (and its comment), else after the
last old one, else at fallback. Returns the line and whether the new lines go before what is there.
]]
function Editor:place(plan, olds, news, j, fallback)
    for k = j - 1, 1, -1 do
        if plan[k] then return self.spans[plan[k]].last, false end
    end
    for k = j + 1, #news do
        if plan[k] then return self:before(self.spans[plan[k]].first), true end
    end
    if #olds > 0 then return self.spans[olds[#olds]].last, false end
    return fallback, false
end

-- port_at(ports, line): the port a server opened at line takes from its block (the last port line before it, else 80).
local function port_at(ports, line)
    local p = 80
    for _, at in ipairs(ports) do
        if at.line < line then p = at.value end
    end
    return p
end

function Editor:servers(kind, ob, nb, ports, block_anchor)
    local renames = {}
    for key, new in pairs(self.renames.server or {}) do
        local vname, old = key:match("^(.*)/([^/]*)$")
        if vname == ob.name or vname == nb.name then renames[old] = new end
    end
    local olds, news = ob.servers, nb.servers
    local plan, matched, other = match(olds, news, renames)
    if not plan then
        return self:error(kind, nb, matched, "name", "cannot be moved before " .. quote(other.name)
            .. ": servers keep their order in the file")
    end
    for _, s in ipairs(olds) do
        if not matched[s] then self:delete(self.spans[s].first, self.spans[s].last) end
    end
    local unit = self.unit
    for j, s in ipairs(news) do
        breathe()
        local os = plan[j]
        if os then
            local sp = self.spans[os]
            if os.name ~= s.name then self:rename(sp.first, s.name) end
            -- A server without a port line has its block's port where it opens: compare with that.
            local seen = os
            if not sp.keys.port then
                seen = setmetatable({ port = port_at(ports, sp.first) }, { __index = os })
            end
            local at = indent_of(self.lines[sp.first])
            self:options(model.servers, "server", { kind, nb, s }, seen, s, sp, nil, at .. unit)
        else
            if self:writable(kind, nb, s) then
                local line = self:place(plan, olds, news, j, block_anchor)
                self:insert(line, writer.server_lines({}, s, self.server_indent or unit, unit))
            end
        end
    end
end

function Editor:block(kind, ob, nb)
    local sp = self.spans[ob]
    if ob.name ~= nb.name then self:rename(sp.first, nb.name) end
    local first_server = ob.servers[1] and self.spans[ob.servers[1]].first
    local ports = self:options(model.blocks, kind, { kind, nb }, ob, nb, sp, first_server,
        indent_of(self.lines[sp.first]) .. self.unit)
    local anchor = option_lines(sp, first_server) or sp.first
    -- New options of the block go after anchor; so do new servers when the block has none, after them.
    self:servers(kind, ob, nb, ports, anchor)
end

function Editor:blocks(kind, olds, news)
    local plan, matched, other = match(olds, news, self.renames[kind] or {})
    if not plan then
        return self:error(kind, matched, nil, "name", "cannot be moved before " .. quote(other.name)
            .. ": blocks keep their order in the file")
    end
    for _, b in ipairs(olds) do
        if not matched[b] then self:delete(self.spans[b].first, self.spans[b].last) end
    end
    for j, b in ipairs(news) do
        breathe()
        if plan[j] then
            self:block(kind, plan[j], b)
        else
            if self:writable(kind, b) then
                local line, before = self:place(plan, olds, news, j, #self.lines)
                local lines = writer.block_lines({}, kind, b, self.unit)
                if before then
                    lines[#lines + 1] = ""
                elseif line > 0 and not self.lines[line]:match("^[ \t\r]*$") then
                    table.insert(lines, 1, "")
                end
                self:insert(line, lines)
            end
        end
    end
end

-- writable(kind, b [, s]): whether the writer can write every value of new block b (and its
-- servers), or of its new server s; an error for each value it cannot.
function Editor:writable(kind, b, s)
    local ok = true
    local function each(opts, scope, t, srv)
        local name, why = lvscf.format(scope, "name", t.name)
        if not name then
            self:error(kind, b, srv, "name", why)
            ok = false
        end
        for _, o in ipairs(opts) do
            if t[o.key] ~= nil then
                local text, problem = lvscf.format(scope, o.key, o.device and t or t[o.key])
                if not text then
                    self:error(kind, b, srv, o.key, problem)
                    ok = false
                end
            end
        end
    end
    if s then
        each(model.servers, "server", s, s)
    else
        each(model.blocks, kind, b)
        for _, srv in ipairs(b.servers) do each(model.servers, "server", srv, srv) end
    end
    return ok
end

-- render(): the new text; the old one's last line keeps its missing newline if nothing follows it.
function Editor:render()
    local out, lines, cr = {}, self.lines, self.cr
    local function added(i)
        for _, l in ipairs(self.after[i] or {}) do out[#out + 1] = l .. cr end
    end
    added(0)
    local last_old = false
    for i = 1, #lines do
        if i % 256 == 0 then breathe() end
        if not self.del[i] then out[#out + 1] = self.repl[i] or lines[i] end
        last_old = not self.del[i]
        if self.after[i] then
            added(i)
            last_old = false
        end
    end
    if #out == 0 then return "\n" end          -- an empty file does not parse: one empty line, as lvscf.write gives
    local text = table.concat(out, "\n")
    if last_old and self.no_final_newline then return text end
    return text .. "\n"
end

-- A new line's indentation: what the file's blocks use, else the writer's four blanks.
function Editor:indents(m)
    for _, kind in ipairs({ "virtuals", "failovers" }) do
        for _, b in ipairs(m[kind]) do
            local sp = self.spans[b]
            local _, any = option_lines(sp)
            if any and not self.unit then self.unit = indent_of(self.lines[any]) end
            for _, s in ipairs(b.servers) do
                self.server_indent = self.server_indent or indent_of(self.lines[self.spans[s].first])
            end
        end
    end
    if not self.unit or self.unit == "" then self.unit = "    " end
end

--[[
differences(a, b, w, strict): marks strict[t][key] for each option where models a and b differ,
t being the table of model w (of the same shape as b) that holds it; false when they differ in
their blocks or servers, which no option's line can mend.
]]
local function differences(a, b, w, strict)
    for _, k in ipairs({ "virtuals", "failovers", "servers" }) do
        local x, y = a[k], b[k]
        if x or y then
            if not x or not y or #x ~= #y then return false end
            for i = 1, #x do
                if not differences(x[i], y[i], w[k][i], strict) then return false end
            end
        end
    end
    for k, v in pairs(b) do
        if k ~= "virtuals" and k ~= "failovers" and k ~= "servers" and not same(a[k], v, "") then
            strict[w] = strict[w] or {}
            strict[w][k] = true
        end
    end
    for k in pairs(a) do
        if b[k] == nil then
            strict[w] = strict[w] or {}
            strict[w][k] = true
        end
    end
    return true
end

-- attempt(text, filename, spans, old, want, renames, strict): the edited text, or nil, errors.
local function attempt(text, filename, spans, old, want, renames, strict)
    local e = setmetatable({
        filename = filename, spans = spans, renames = renames, errors = {}, lenient = strict ~= nil, strict = strict or {},
        lines = {}, repl = {}, del = {}, after = {}, top = 0, cr = "",
    }, Editor)
    local pos = 1
    while pos <= #text do
        local eol = text:find("\n", pos, true)
        e.lines[#e.lines + 1] = text:sub(pos, (eol or #text + 1) - 1)
        pos = (eol or #text) + 1
    end
    e.no_final_newline = text ~= "" and text:sub(-1) ~= "\n"
    if e.lines[1] and e.lines[1]:sub(-1) == "\r" then e.cr = "\r" end
    -- New global options of a file that has none go after its opening comment, if a blank line ends it.
    local n = 0
    while e.lines[n + 1] and e.lines[n + 1]:match("^[ \t\r]*#") do n = n + 1 end
    if n > 0 and e.lines[n + 1] and e.lines[n + 1]:match("^[ \t\r]*$") then e.top = n + 1 end
    e:indents(old)
    local first_block
    for _, kind in ipairs({ "virtuals", "failovers" }) do
        local b = old[kind][1]
        if b and (not first_block or spans[b].first < first_block) then first_block = spans[b].first end
    end
    e:options(model.globals, "global", {}, old, want, spans[old], first_block, "")
    e:blocks("virtual", old.virtuals, want.virtuals)
    e:blocks("failover", old.failovers, want.failovers)
    if #e.errors > 0 then return nil, e.errors end
    return e:render()
end

--[[
edit(text, filename, new_model [, opts]): see the head of this file and luaha-lua(7). Waits.
]]
function lvsedit.edit(text, filename, new_model, opts)
    if type(text) ~= "string" then error("lvsedit.edit: text must be a string", 2) end
    if type(new_model) ~= "table" then error("lvsedit.edit: new_model must be a model table", 2) end
    opts = opts or {}
    filename = filename or "lvs.cf"
    local renames = opts.renames or {}
    for k, v in pairs(renames) do
        if (k ~= "virtual" and k ~= "failover" and k ~= "server") or type(v) ~= "table" then
            error("lvsedit.edit: opts.renames." .. tostring(k) .. ": not a table of virtual, failover or server renames", 2)
        end
    end
    local spans = {}
    local old, errs = lvscf.parse(text == "" and "\n" or text, filename, nil, { resolve = opts.resolve, spans = spans })
    if not old then return nil, errs end
    local want = filled(new_model)
    local target = intended(want)
    --[[
    First as a person means it: a value equal to the old model's is left as written, even where the
    text says it otherwise (backup_active = 1 without backup reads as 0). Where the new model makes
    such a line mean something else, the edit is made again with that option's line compared with
    its value (strict); at last with every line so.
    ]]
    local strict = {}
    for round = 1, 4 do
        if round == 4 then strict = nil end
        local out, aerrs = attempt(text, filename, spans, old, want, renames, strict)
        if not out then return nil, aerrs end
        local back, berrs = lvscf.parse(out, filename, nil, { resolve = opts.resolve })
        local ok, where = false, nil
        if back then ok, where = same(back, target, "model") end
        if ok then return out end
        if not strict then
            return nil, berrs or { filename .. ": the edited text does not read back as the new model: " .. where }
        end
        if not back or not differences(back, target, want, strict) then strict = nil end
    end
end

--[[
diff(old_text, new_text [, old_name] [, new_name]): a unified diff (`---`, `+++`, `@@` hunks with
3 lines of context, as `diff -u` writes them), "" when the texts are equal.
]]
function lvsedit.diff(old_text, new_text, old_name, new_name)
    if type(old_text) ~= "string" or type(new_text) ~= "string" then error("lvsedit.diff: two texts expected", 2) end
    return diff.unified(old_text, new_text, old_name or "lvs.cf", new_name or "lvs.cf")
end

return lvsedit
