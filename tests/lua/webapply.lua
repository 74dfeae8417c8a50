-- tests/lua/webapply.lua: the draft store and Apply: atomic replace (order, SIGKILL, mode, owner), 409, the lock, rollback.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local file = require "luaha.core.file"
local lvscf = require "luaha.lvscf"
local router = require "luaha.router"
local webapply = require "luaha.webapply"

local proc = luaha.proc
local dir = assert(proc.run({ "mktemp", "-d" })).stdout:gsub("\n$", "")
local _cleanup <close> = setmetatable({}, { __close = function() proc.run({ "rm", "-rf", dir }) end }) -- luacheck: ignore 211

local function slurp(path) return file.read(path, 1 << 30) end
local function put(path, text) assert(file.replace(path, text, 0x1a4)) end

-- The seed's lvs.cf with a comment and a blank line that an edit must keep, and without the host-only checks.
local SEED = "# planted comment: kept byte for byte\n\n" .. assert(slurp("tests/lua/data/seed.cf"))

t.test("file-replace-keeps-mode-and-owner-and-leaves-no-temporary", function()
    local path = dir .. "/owned.cf"
    put(path, "old\n")
    assert(proc.run({ "chown", "65534:65534", path }))
    assert(proc.run({ "chmod", "0640", path }))
    local st = assert(file.stat(path))
    t.eq(st.type, "file", "type")
    t.eq(st.mode, 0x1a0, "mode before (0640)")
    assert(file.replace(path, "new\n", st.mode, st.uid, st.gid))
    local after = assert(file.stat(path))
    t.eq(after.mode, 0x1a0, "mode after (0640)")
    t.eq(after.uid, 65534, "owner kept")
    t.eq(after.gid, 65534, "group kept")
    t.eq(slurp(path), "new\n", "contents")
    local ls = assert(proc.run({ "ls", "-a", dir })).stdout
    assert(not ls:find("%.tmp%."), "a temporary file was left: " .. ls)
    -- A failure names the step and leaves the file alone.
    local ok, err = file.replace(dir .. "/no/such/dir/f", "x")
    t.eq(ok, nil, "replace into a missing directory")
    assert(err:find("open: No such file or directory", 1, true), err)
    t.checkerr("permission bits", file.replace, path, "x", 010000)
end)

--[[
The write path's order, seen in the system calls of the thread that does it: the temporary file
is opened exclusively, written, fsynced and closed before the rename, and the directory is
fsynced after it. Any other order can leave a mix or a short file after a crash.
]]
t.test("file-replace-order-is-write-fsync-rename-fsync-dir", function()
    local path = dir .. "/order.cf"
    put(path, "old\n")
    local trace = dir .. "/strace"
    local r = assert(proc.run({ "strace", "-f", "-o", trace, "-e", "trace=openat,write,fsync,close,rename,unlink",
        t.exe(), "-e", ("assert(require('luaha.core.file').replace(%q, 'new contents\\n', 420))"):format(path) },
        -- LeakSanitizer cannot run under ptrace: the ASan build's leak check is off for this child.
        { timeout = 60, env = { ASAN_OPTIONS = "abort_on_error=1:detect_leaks=0" } }))
    t.eq(r.status, 0, "traced replace: " .. r.stderr)
    -- Each line's step, in a state machine: file descriptors are reused (the directory's is the temporary's).
    local tmp, q = path .. ".tmp.", function(s) return (s:gsub("%p", "%%%0")) end
    local steps, fd, state = {}, nil, "start"
    local function step(name, next_state) steps[#steps + 1], state = name, next_state end
    for line in assert(slurp(trace)):gmatch("[^\n]+") do
        local opened = line:match('openat%(AT_FDCWD, "' .. q(tmp) .. '%d+", [^)]*O_EXCL[^)]*%) = (%d+)')
        if opened then fd = opened step("open tmp", "tmp") end
        opened = line:match('openat%(AT_FDCWD, "' .. q(dir) .. '", [^)]*O_DIRECTORY[^)]*%) = (%d+)')
        if opened then fd = opened step("open dir", "dir") end
        if state == "tmp" and line:match("write%(" .. fd .. ', "new contents') then step("write tmp", "tmp") end
        if state == "tmp" and line:match("fsync%(" .. fd .. "%)%s+= 0") then step("fsync tmp", "tmp") end
        if state == "tmp" and line:match("close%(" .. fd .. "%)%s+= 0") then step("close tmp", "closed") end
        if line:match('rename%("' .. q(tmp) .. '%d+", "' .. q(path) .. '"%)%s+= 0') then step("rename", "renamed") end
        if state == "dir" and line:match("fsync%(" .. fd .. "%)%s+= 0") then step("fsync dir", "done") end
    end
    t.eq(table.concat(steps, ", "), "open tmp, write tmp, fsync tmp, close tmp, rename, open dir, fsync dir",
        "the order of the write path")
    t.eq(slurp(path), "new contents\n", "contents")
end)

--[[
A process killed with SIGKILL at a random moment of a replace (proc.run's timeout kills the
group with SIGKILL) leaves the old file or the new one, whole, never a mix or a short file. The
contents are large (16 MiB), so that the kill lands in the write or the fsync some of the times.
]]
t.test("file-replace-sigkill-leaves-old-or-new", function()
    local path = dir .. "/killed.cf"
    local old, new = ("A"):rep(8 << 20), ("B"):rep(16 << 20)
    local seen = { old = 0, new = 0 }
    local argv = { t.exe(), "-e", ("assert(require('luaha.core.file').replace(%q, ('B'):rep(16 << 20)))"):format(path) }
    -- How long a whole run takes here and now: the kills are spread over it.
    put(path, old)
    local t0 = luaha.now()
    t.eq(assert(proc.run(argv, { timeout = 120 })).status, 0, "an unkilled run")
    local took = luaha.now() - t0
    t.eq(slurp(path), new, "an unkilled run's file")
    math.randomseed(14)
    for round = 1, 12 do
        put(path, old)
        local r = assert(proc.run(argv, { timeout = took * (0.3 + 0.8 * math.random()) }))
        local got = assert(slurp(path))
        if got == old then
            seen.old = seen.old + 1
        elseif got == new then
            seen.new = seen.new + 1
        else
            error(("round %d (status %s signal %s): a mix of %d bytes"):format(round, tostring(r.status),
                tostring(r.signal), #got))
        end
    end
    print(("# 12 kills within a run of %.3f s: the old file %d times, the new one %d times"):format(took, seen.old,
        seen.new))
end)

-- The routers made: a reload starts their checks, which end with the test.
local routers = {}
local _stop <close> = setmetatable({}, { __close = function() -- luacheck: ignore 211
    for _, r in ipairs(routers) do r.probes:stop() end
end })

-- A store over a copy of the seed, and a router (not started: no heartbeat, no IPVS) reading it.
local function setup(name, text)
    local path = dir .. "/" .. name .. ".cf"
    put(path, text or SEED)
    assert(proc.run({ "chmod", "0640", path }))
    local m = assert(lvscf.load(path))
    local r = router.new(m, { config = path })
    r.probes:update(m)          -- the monitors a started router has (their checks do not run)
    routers[#routers + 1] = r
    return path, webapply.new{ config = path }, r
end

t.test("webapply-apply-refuses-without-a-draft", function()
    local _, d, r = setup("nodraft")
    local ok, status, why = d:apply(r, { user = "admin", peer = "192.0.2.10" })
    t.eq(ok, nil, "apply without a draft")
    t.eq(status, 422, "status")
    t.eq(why, "no changes to apply", "why")
    t.eq(d:pending(), 0, "pending")
    t.checkerr("config (a path) is required", webapply.new, {})
end)

-- A draft that changes rs205's weight to 3 and adds rs206.
local function edit(d)
    local m, base = assert(d:model())
    local v = m.virtuals[1]
    v.servers[2].weight = 3
    v.servers[3] = { name = "rs206", address = "192.0.2.206", active = true, weight = 1 }
    assert(d:update(m, nil, base))
    return base
end

t.test("webapply-store-draft-pending-discard", function()
    local path, d = setup("store")
    t.eq(d:pending(), 0, "no draft")
    t.eq(d:text(), SEED, "text without a draft")
    edit(d)
    assert(d:pending() >= 2, "pending lines: " .. d:pending())
    t.eq(d:base_text(), SEED, "base text")
    assert(d:text():find("weight = 3", 1, true), "the draft's text")
    assert(d:text():find("# planted comment: kept byte for byte\n\n", 1, true), "the comment kept")
    t.eq(slurp(path), SEED, "the file is untouched by a draft")
    local m2 = assert(d:model())
    t.eq(m2.virtuals[1].servers[2].weight, 3, "model() gives the draft's")
    local ok, errs = d:update(m2, nil, "not the base hash")
    t.eq(ok, nil, "an edit from another base")
    assert(errs[1]:find("changed since", 1, true), errs[1])
    d:discard()
    t.eq(d:pending(), 0, "after discard")
    t.eq(d:text(), SEED, "text after discard")
end)

-- In setup mode (no router) Apply programs nothing itself; the Review lists what the first start
-- programs as the checks pass (ipvs_later), every active real server at its configured weight.
t.test("webapply-review-without-a-router-lists-what-the-checks-bring", function()
    local _, d = setup("later")
    edit(d)
    local rev = d:review(nil)
    t.eq(#rev.ipvs, 0, "no router: nothing sent by Apply")
    local later = table.concat(rev.ipvs_later, "\n")
    assert(later:find("-A -t 192.0.2.212:80 -s ", 1, true), later)
    for _, a in ipairs({ "192.0.2.204:80 -g -w 1", "192.0.2.205:80 -g -w 3", "192.0.2.206:80 -g -w 1" }) do
        assert(later:find("-a -t 192.0.2.212:80 -r " .. a, 1, true), "no -a ... " .. a .. " in:\n" .. later)
    end
end)

t.test("webapply-review-and-apply-write-atomically-with-backup", function()
    local path, d, r = setup("apply")
    edit(d)
    local rev = d:review(r)
    t.eq(#rev.errors, 0, "review errors: " .. table.concat(rev.errors, "; "))
    t.eq(rev.serial, 2, "serial_no + 1")
    assert(rev.diff:find("-serial_no = 1", 1, true) and rev.diff:find("+serial_no = 2", 1, true), rev.diff)
    assert(rev.diff:find("+         weight = 3", 1, true) or rev.diff:find("weight = 3", 1, true), rev.diff)
    t.eq(#rev.ipvs, 0, "a router that is not active programs nothing")
    t.eq(rev.note, "no kernel change now; this router holds no services", "note")
    t.eq(table.concat(rev.monitors.started, " "), "web/rs206", "monitors started")
    t.eq(table.concat(rev.monitors.stopped, " "), "", "monitors stopped")
    t.eq(rev.piranha_readable, true, "Piranha can read it")
    local report, status, why = d:apply(r, { user = "admin", peer = "192.0.2.10" })
    assert(report, ("apply: %s %s"):format(tostring(status), tostring(why)))
    t.eq(report.reloaded, true, "reloaded")
    t.eq(slurp(path .. ".bak"), SEED, "lvs.cf.bak is the old file")
    local now = slurp(path)
    assert(now:find("serial_no = 2\n", 1, true), "serial_no in the file")
    assert(now:find("# planted comment: kept byte for byte\n\n", 1, true), "comment kept")
    t.eq(r.model.serial_no, 2, "the router runs the new file")
    t.eq(r.model.virtuals[1].servers[2].weight, 3, "the router runs the new weight")
    t.eq(file.stat(path).mode, 0x1a0, "mode kept (0640)")
    t.eq(file.stat(path .. ".bak").mode, 0x1a0, "backup's mode (0640)")
    t.eq(d:pending(), 0, "the draft is applied")
    -- Restore previous: the backup becomes the draft; applied, it is the old file with serial_no 3.
    assert(d:restore_previous())
    assert(d:pending() > 0, "restore made a draft")
    assert(d:apply(r, { user = "admin", peer = "192.0.2.10" }))
    t.eq(r.model.virtuals[1].servers[2].weight, 1, "the old weight is back")
    t.eq(r.model.serial_no, 3, "serial_no went on")
end)

t.test("webapply-409-when-the-file-changed-on-disk", function()
    local path, d, r = setup("conflict")
    edit(d)
    local hand = SEED:gsub("keepalive = 6", "keepalive = 4")
    put(path, hand)
    local reloads = 0
    r.reload = function() reloads = reloads + 1 return nil, { "not to be called" } end
    local ok, status, why, report = d:apply(r, { user = "admin", peer = "192.0.2.10" })
    t.eq(ok, nil, "apply over a hand edit")
    t.eq(status, 409, "status")
    assert(why:find("changed on disk", 1, true), why)
    assert(report.diff:find("+keepalive = 4", 1, true), "the new diff: " .. report.diff)
    t.eq(slurp(path), hand, "nothing written")
    t.eq(reloads, 0, "no reload")
    assert(d:pending() > 0, "the draft stays")
end)

-- Two reloads at once (two SIGHUPs, or a SIGHUP during an Apply): the second waits for the first to end.
t.test("reloads-run-one-at-a-time", function()
    local _, _, r = setup("twice")
    local reload = require "luaha.reload"
    local run, log = reload.run, {}
    reload.run = function(self)
        log[#log + 1] = "begin"
        luaha.sleep(0.05)
        local ok, res, later = run(self)
        log[#log + 1] = "end"
        return ok, res, later
    end
    local _restore <close> = setmetatable({}, { __close = function() reload.run = run end }) -- luacheck: ignore 211
    local a, b = luaha.spawn(r.reload, r), luaha.spawn(r.reload, r)
    t.eq(a:join(60), true, "first reload"); t.eq(b:join(60), true, "second reload")
    t.eq(table.concat(log, ", "), "begin, end, begin, end", "the reloads' order")
end)

t.test("webapply-failed-reload-puts-the-old-file-back", function()
    local path, d, r = setup("rollback")
    edit(d)
    local seen = {}
    r.reload = function(self)
        seen[#seen + 1] = slurp(path)
        if #seen == 1 then return nil, { path .. ": the kernel refused the new table: injected" } end
        return router.methods.reload(self)
    end
    local ok, status, why, report = d:apply(r, { user = "admin", peer = "192.0.2.10" })
    t.eq(ok, nil, "apply with a failing reload")
    t.eq(status, 500, "status")
    assert(why:find("injected", 1, true) and why:find("put back", 1, true), why)
    t.eq(report.restored, true, "restored")
    t.eq(#seen, 2, "reloaded twice: the new file, then the old one")
    assert(seen[1]:find("serial_no = 2", 1, true), "the first reload read the new file")
    t.eq(seen[2], SEED, "the second reload read the old file")
    t.eq(slurp(path), SEED, "the old file is back")
    t.eq(r.model.serial_no, 1, "the router runs the old file")
    assert(d:pending() > 0, "the draft stays for another try")
end)

-- Two Applies at once: the second waits for the first (which holds the store through its reload), then finds nothing to apply.
t.test("webapply-two-applies-never-interleave", function()
    local _, d, r = setup("lock")
    edit(d)
    local log = {}
    r.reload = function(self)
        log[#log + 1] = "reload begins"
        luaha.sleep(0.2)
        log[#log + 1] = "reload ends"
        return router.methods.reload(self)
    end
    local first = luaha.spawn(function() return d:apply(r, { user = "a", peer = "192.0.2.10" }) end)
    local second = luaha.spawn(function()
        assert(t.until_(function() return log[1] ~= nil end, 30), "the first reload never began")
        log[#log + 1] = "second apply asks"
        local ok, status = d:apply(r, { user = "b", peer = "192.0.2.11" })
        log[#log + 1] = "second apply answered " .. tostring(status)
        return ok
    end)
    assert(first:join(), "the first apply")
    t.eq(second:join(), nil, "the second apply")
    t.eq(table.concat(log, ", "), "reload begins, second apply asks, reload ends, second apply answered 422", "order")
end)

-- Setup mode: no file yet and no router. The first Apply writes a new file (0644), with no backup.
t.test("webapply-setup-mode-writes-a-new-file", function()
    local path = dir .. "/new/lvs.cf"
    assert(proc.run({ "mkdir", "-p", dir .. "/new" }))
    local d = webapply.new{ config = path }
    local seed = assert(lvscf.parse(SEED, "seed.cf"))
    local m, base = assert(d:model())
    t.eq(#m.virtuals, 0, "an empty model")
    t.eq(m.serial_no, 0, "serial_no")
    m.primary, m.network = seed.primary, seed.network
    m.virtuals[1] = require("luaha.lvsedit").copy(seed.virtuals[1])
    assert(d:update(m, nil, base))
    local rev = d:review(nil)
    t.eq(rev.serial, 1, "the first serial_no")
    t.eq(rev.note, "no router runs yet: the first start programs the table", "note")
    t.eq(table.concat(rev.monitors.started, " "), "web/rs204 web/rs205", "monitors started")
    t.eq(rev.vips[1] and rev.vips[1].op, "add", "the VIP comes")
    local report = assert(d:apply(nil, { user = "admin", peer = "127.0.0.1" }))
    t.eq(report.reloaded, false, "no reload without a router")
    t.eq(report.backup, nil, "no backup of a file that was not there")
    t.eq(file.stat(path).mode, 0x1a4, "a new file's mode (0644)")
    local written = assert(lvscf.load(path))
    t.eq(written.serial_no, 1, "serial_no in the file")
    t.eq(written.virtuals[1].servers[2].address, "192.0.2.205", "the virtual in the file")
    local ok, errs = d:restore_previous()
    t.eq(ok, nil, "restore without a backup")
    assert(errs[1]:find("No such file", 1, true), errs[1])
end)
