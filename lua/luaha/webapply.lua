-- lua/luaha/webapply.lua: the web UI's draft of lvs.cf, its review, and Apply: an atomic write, the reload, the rollback.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
One draft store per daemon, shared by every session (spec webui.md 3.5). A draft is the file's
bytes when it began (its base, and their hash) and the edited text (lvsedit keeps every line it
does not have to change). Nothing touches lvs.cf or the kernel until apply:

  1. the store's turn (one update, apply or restore at a time: two Applies never interleave);
  2. the file is read again: if its hash is not the base's (a hand edit, `luaha ctl`, another
     daemon), 409 and the diffs, nothing written;
  3. serial_no goes to the base's + 1; the new text is parsed and checked as the reload will
     (422 on an error, nothing written);
  4. the old bytes are written to lvs.cf.bak, then the new ones replace lvs.cf
     (luaha.core.file replace: PATH.tmp.PID in the same directory, the old file's mode and
     owner, fsync, rename, fsync of the directory; in the worker thread), so a crash or a
     SIGKILL at any moment leaves the old file or the new one, never a mix;
  5. the reload, exactly as `luaha ctl reload` (router:reload: all or nothing); if it fails,
     the old bytes are put back the same way and reloaded, the kernel's table being as it was
     (the failed reload undid its own operations), and the draft stays for another try.

A restart drops the draft. The symbolic links of the configured path are followed: the file
replaced is the one they lead to, in its own directory.

Cost at 10 000 real servers (a file of about 1.5 MB): reading and hashing it, a few
milliseconds of the loop; the edit, the diff and the parses wait in slices (lvsedit, lvscfread);
the writes run in the worker thread (luaha.core.file replace); the reload is reload.lua's. The
draft's text is bounded by lvscf.MAX_SIZE, as the file is.
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local file = require "luaha.core.file"
local review = require "luaha.webreview"

local log = luaha.log.prefixed("webui")

local webapply = {}
local D = {}
D.__index = D

webapply.NEW_MODE = 0x1a4       -- 0644, a new lvs.cf's mode: it names files (keys, passwords) but holds no secret
local START_TEXT = "serial_no = 0\n"    -- what a missing or empty file is edited from (setup mode)
local SERIAL_MAX = 4294967295           -- lvscfmodel's serial_no range: beyond, it starts again at 0

-- lvsedit is web-edit's; required when first used.
local function lvsedit() return require "luaha.lvsedit" end

local hex = luaha.auth.hex
local function hash(text) return hex(luaha.auth.hash(text, 32)) end

--[[
new{ config = PATH }: the draft store of the file at PATH (which may not exist yet: setup mode).
]]
function webapply.new(opts)
    if type(opts) ~= "table" or type(opts.config) ~= "string" then
        error("webapply.new: config (a path) is required", 2)
    end
    return setmetatable({ config = opts.config, cache = lvscf.cache(), draft = nil, busy = false }, D)
end

--[[
turn(): waits for the store's turn and returns it, a value to close. Update, apply, discard and
restore take it: an update that waits for an Apply's reload edits the text the Apply left.
]]
function D:turn()
    while self.busy do luaha.sleep(0.005) end
    self.busy = true
    return setmetatable({}, { __close = function() self.busy = false end })
end

-- path(): the file the configured path leads to (links followed), or the path itself when it does not exist.
function D:path()
    return file.realpath(self.config) or self.config
end

--[[
disk(): the file's bytes ("" when it does not exist), their hash, and its stat (nil when it does
not exist); or nil and "PATH: reason".
]]
function D:disk()
    local path = self:path()
    local st, err = file.stat(path)
    if not st then
        if err:match("No such file or directory$") then return "", hash(""), nil end
        return nil, err
    end
    local text
    text, err = file.read(path, lvscf.MAX_SIZE)
    if not text then return nil, err end
    return text, hash(text), st
end

-- parse(text): the model of a draft's text (read-only: the store's parse cache shares its tables), or nil, errors.
function D:parse(text)
    if text == "" then text = START_TEXT end
    return lvscf.parse(text, self.config, self.cache)
end

--[[
base(): the draft, or a fresh one from the file as it is now, not kept: {base_text, base_hash,
text, model}; or nil and the errors (the file cannot be read or does not parse).
]]
function D:base()
    if self.draft then return self.draft end
    local text, h = self:disk()
    if not text then return nil, { h } end
    local seen = self.seen         -- the file as last parsed here: pages show it again and again
    if seen and seen.base_hash == h then return seen end
    local m, errors = self:parse(text)
    if not m then return nil, errors end
    self.seen = { base_text = text, base_hash = h, text = text ~= "" and text or START_TEXT, model = m }
    return self.seen
end

--[[
model(): a copy of the draft's model (of the file's, without a draft) for the caller to change,
and the base's hash; or nil and the errors.
]]
function D:model()
    local b, errors = self:base()
    if not b then return nil, errors end
    return lvsedit().copy(b.model), b.base_hash
end

--[[
update(new_model [, renames] [, base_hash]): new_model becomes the draft (lvsedit.edit of the
draft's text; renames as its opts.renames). With base_hash (what model() gave), an edit made
from another base is refused. Waits. true, or nil and errors (a list of strings).
]]
function D:update(new_model, renames, base_hash)
    local _ <close> = self:turn()
    local b, errors = self:base()
    if not b then return nil, errors end
    if base_hash and base_hash ~= b.base_hash then
        return nil, { self.config .. ": changed since this form was shown: look again" }
    end
    local text
    text, errors = lvsedit().edit(b.text, self.config, new_model, { renames = renames })
    if not text then return nil, errors end
    local m
    m, errors = self:parse(text)
    if not m then return nil, errors end
    if text == b.base_text then
        self.draft = nil                    -- edited back to the file: nothing is pending
    else
        self.draft = { base_text = b.base_text, base_hash = b.base_hash, text = text, model = m }
    end
    return true
end

-- diff(a, b): the unified diff of two texts of the file.
function D:diff(a, b)
    return lvsedit().diff(a, b, self.config, self.config)
end

-- pending(): how many lines the draft adds or removes (0 without a draft).
function D:pending()
    local dr = self.draft
    if not dr then return 0 end
    if dr.counted ~= dr.text then
        local n = 0
        for line in self:diff(dr.base_text, dr.text):gmatch("[^\n]+") do
            if line:match("^[-+]") and not line:match("^%-%-%- ") and not line:match("^%+%+%+ ") then n = n + 1 end
        end
        dr.counted, dr.count = dr.text, n
    end
    return dr.count
end

-- discard(): no draft any more.
function D:discard()
    local _ <close> = self:turn()
    self.draft = nil
    return true
end

-- text(), base_text(): the draft's text and the file's when it began (without a draft, both the file's now).
function D:text()
    local b = self:base()
    return b and (self.draft and b.text or b.base_text)
end

function D:base_text()
    local b = self:base()
    return b and b.base_text
end

--[[
final(): what Apply would write: the draft's text with serial_no at the base's + 1, its model
(as the reload will read it: parsed with a copy of the router's cache) and warnings; or nil and
errors. The base's serial_no is that of the file when the draft began.
]]
function D:final(r)
    local dr = self.draft
    local base_model = dr.base_text ~= "" and self:parse(dr.base_text) or nil
    local serial = base_model and base_model.serial_no or 0
    serial = serial >= SERIAL_MAX and 0 or serial + 1
    local ed = lvsedit()
    local m = ed.copy(dr.model)
    m.serial_no = serial
    local text, errors = ed.edit(dr.text, self.config, m)
    if not text then return nil, errors end
    local final, warnings
    final, errors, warnings = review.parse(text, self.config, r and r.cache)
    if not final then return nil, errors end
    return { text = text, model = final, warnings = warnings, serial = serial, base_model = base_model }
end

--[[
review(router): what Apply would do, router being the running one (nil in setup mode): { diff =,
ipvs = { "-A -t 192.0.2.1:80 -s wlc", ... }, note =, vips = { {op =, address =, device =, prefix =} },
monitors = { started =, stopped =, kept = }, warnings =, errors =, serial =, piranha_readable =,
piranha_unreadable =, pending =, base_hash = } (lua/luaha/webreview.lua). Without a draft: an
empty diff and nothing to do. Waits.
]]
function D:review(r)
    if not self.draft then
        local b = self:base()
        return { diff = "", ipvs = {}, note = "no changes", vips = {}, monitors = { started = {}, stopped = {},
            kept = {} }, warnings = {}, errors = {}, serial = b and b.model.serial_no, piranha_readable = true,
            piranha_unreadable = {}, pending = 0, base_hash = b and b.base_hash }
    end
    local dr = self.draft
    local f, errors = self:final(r)
    if not f then
        return { diff = self:diff(dr.base_text, dr.text), ipvs = {}, note = "the draft cannot be applied",
            vips = {}, monitors = { started = {}, stopped = {}, kept = {} }, warnings = {}, errors = errors,
            piranha_readable = false, piranha_unreadable = {}, pending = self:pending(), base_hash = dr.base_hash }
    end
    local out = review.run(r, f.model, r and r.model or f.base_model, self.config, f.warnings)
    out.diff, out.serial, out.pending, out.base_hash = self:diff(dr.base_text, f.text), f.serial, self:pending(),
        dr.base_hash
    out.final = f
    return out
end

local function who(opts)
    return ("%s from %s"):format(tostring(opts.user or "?"), tostring(opts.peer or "?"))
end

local function said(r, level, fmt, ...)
    log[level](fmt, ...)
    if r then r:event(fmt, ...) end
end

--[[
write(path, text, st): text replaces the file at path with st's mode and owner (a new file:
NEW_MODE, this process's owner). true, or nil and why.
]]
local function write(path, text, st)
    if st then return file.replace(path, text, st.mode, st.uid, st.gid) end
    return file.replace(path, text, webapply.NEW_MODE)
end

--[[
commit(r, opts, path, text, st, new_text, report, changed): apply's and install's end, in the
store's turn: text (the file's bytes now, st its stat) goes to PATH.bak, new_text replaces the file
and router r reloads it (not with opts.write_only, nor without a router); a failed reload puts text
back and reloads it. report is filled and returned; or nil, 500, why, report.
]]
local function commit(r, opts, path, text, st, new_text, report, changed)
    local ok, err = true, nil
    if st then
        report.backup = path .. ".bak"
        ok, err = write(report.backup, text, st)
    end
    if ok then ok, err = write(path, new_text, st) end
    if not ok then
        said(r, "err", "apply by %s: writing %s: %s; nothing changed", who(opts), path, err)
        return nil, 500, "write: " .. err, report
    end
    said(r, "info", "apply by %s: wrote %s, serial_no %d, %d lines changed", who(opts), path, report.serial, changed)
    if opts.write_only or not r then return report end
    local done, res, later = r:reload()
    if done then
        report.ipvs, report.later, report.reloaded = res, later, true
        said(r, "info", "apply by %s: reloaded, %d IPVS operations", who(opts), #res)
        return report
    end
    -- The reload changed nothing (all or nothing): the old file goes back, and is reloaded.
    report.errors = res
    said(r, "err", "apply by %s: the reload failed: %s; putting the old %s back", who(opts),
        table.concat(res, "; "), path)
    ok, err = write(path, text, st)
    if not ok then
        said(r, "err", "apply by %s: putting the old file back: %s (it is in %s)", who(opts), err,
            tostring(report.backup))
        report.restored = false
        return nil, 500, ("reload: %s; the old file could not be put back: %s"):format(table.concat(res, "; "), err),
            report
    end
    local again, res2 = r:reload()
    report.restored = true
    if not again then
        report.restored_reload = res2
        said(r, "err", "apply by %s: reloading the old file failed too: %s", who(opts), table.concat(res2, "; "))
    end
    return nil, 500, ("reload: %s; the old file was put back"):format(table.concat(res, "; ")), report
end

--[[
apply(router, { write_only =, user =, peer = }): writes the draft and reloads router (none in setup
mode, or write_only: the file only). Returns a report { ipvs = {operations done}, serial =,
diff =, written = PATH, backup = PATH.bak or nil, reloaded = bool, later = {options that need a
restart}, warnings = }; or nil, status, why, report: 409 (report.diff: what changed on disk since
the draft began; report.draft_diff: the draft against the file now), 422 (no draft, or the new
file has errors: report is the review), 500 (the write failed, nothing changed; or the reload
failed and the old file was put back and reloaded: report.errors, report.restored). Waits.
]]
function D:apply(r, opts)
    opts = opts or {}
    if r and r.config and file.realpath(r.config) ~= file.realpath(self.config) then
        error("webapply: the router reads " .. tostring(r.config) .. ", not " .. self.config, 2)
    end
    local _ <close> = self:turn()
    local dr = self.draft
    if not dr then return nil, 422, "no changes to apply" end
    local path = self:path()
    local text, h, st = self:disk()
    if not text then return nil, 500, h end
    if h ~= dr.base_hash then
        said(r, "warning", "apply by %s refused: %s changed on disk since the draft began", who(opts), path)
        return nil, 409, path .. " changed on disk since the draft began", {
            diff = self:diff(dr.base_text, text), draft_diff = self:diff(text, dr.text) }
    end
    local rev = self:review(r)
    if #rev.errors > 0 then
        said(r, "warning", "apply by %s refused: %s", who(opts), table.concat(rev.errors, "; "))
        return nil, 422, table.concat(rev.errors, "\n"), rev
    end
    local report = { ipvs = {}, serial = rev.serial, diff = rev.diff, written = path, reloaded = false,
        later = {}, warnings = rev.warnings }
    local res = table.pack(commit(r, opts, path, text, st, rev.final.text, report, rev.pending))
    if res[1] then self.draft = nil end
    return table.unpack(res, 1, res.n)
end

--[[
install(router, text, { user =, peer =, accept = }): text, a whole lvs.cf as another router
applied it (lua/luaha/partnersync.lua), replaces the file and is reloaded as apply does: checked
as the reload will (errors: 422), PATH.bak, the atomic replace, the reload, the rollback. It is
written as it came, serial_no included: the pair then has the same file. Refused with 409 while
a draft is pending here (a person's edit would lose its base underneath) or when
accept(old_model, new_model) (the file's model now, nil when it has none; the new one) says why
not (nil, why). Returns the report of apply, with unchanged = true and nothing written when the
file has these very bytes already; or nil, status, why, report. Waits.
]]
function D:install(r, text, opts)
    opts = opts or {}
    local _ <close> = self:turn()
    if self.draft then
        return nil, 409, ("a draft of %d changed lines is pending on this router: apply or discard it first"):format(
            self:pending())
    end
    local path = self:path()
    local old, h, st = self:disk()
    if not old then return nil, 500, h end
    local old_model = old ~= "" and self:parse(old) or nil
    if old == text then
        return { ipvs = {}, serial = old_model and old_model.serial_no, diff = "", written = path, reloaded = false,
            later = {}, warnings = {}, unchanged = true }
    end
    local new, errors, warnings = review.parse(text, self.config, r and r.cache)
    if not new then return nil, 422, table.concat(errors, "\n") end
    if opts.accept then
        local ok, why = opts.accept(old_model, new)
        if not ok then return nil, 409, why end
    end
    local rev = review.run(r, new, r and r.model or old_model, self.config, warnings)
    if #rev.errors > 0 then
        said(r, "warning", "apply by %s refused: %s", who(opts), table.concat(rev.errors, "; "))
        return nil, 422, table.concat(rev.errors, "\n"), rev
    end
    local diff = self:diff(old, text)
    local changed = 0
    for line in diff:gmatch("[^\n]+") do
        if line:match("^[-+]") and not line:match("^%-%-%- ") and not line:match("^%+%+%+ ") then changed = changed + 1 end
    end
    local report = { ipvs = {}, serial = new.serial_no, diff = diff, written = path, reloaded = false, later = {},
        warnings = rev.warnings }
    return commit(r, opts, path, old, st, text, report, changed)
end

--[[
restore_previous(): lvs.cf.bak becomes the draft (Apply then writes it with the next serial_no).
true, or nil and errors (no backup, or it does not parse).
]]
function D:restore_previous()
    local _ <close> = self:turn()
    local bak = self:path() .. ".bak"
    local text, err = file.read(bak, lvscf.MAX_SIZE)
    if not text then return nil, { err } end
    local m, errors = self:parse(text)
    if not m then return nil, errors end
    local base, h = self:disk()
    if not base then return nil, { h } end
    if text == base then
        self.draft = nil
    else
        self.draft = { base_text = base, base_hash = h, text = text, model = m }
    end
    return true
end

return webapply
