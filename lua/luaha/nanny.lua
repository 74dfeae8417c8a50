-- lua/luaha/nanny.lua: one real server's health as Piranha's nanny kept it: checks, re-entry, quiesce, slow start.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
A monitor is out (not in the IPVS table), in (at its working weight) or quiesced (in at weight
0, with `quiesce_server`). As in nanny (piranha.md 2.5): a server is brought in after `threshold`
good checks in a row, where threshold is `rise` or else reentry / interval, and counting starts at
the threshold, so a server whose first check passes comes in at once; it goes out after `fall`
failed checks in a row (nanny: one). With `weight_ramp`, it enters at max(1, weight / 32) and the
weight doubles every ~20 s of good checks up to the configured weight. Once there, with a
`load_monitor`, the same rounds read the server's 1-minute load (uptime through `rsh_command`,
rup or ruptime) and move the weight between the configured one and 10 times it, as nanny did.
When checks run, and which monitors share one, is lua/luaha/probes.lua's business.
]]
local luaha = require "luaha"
local rsh_command = require("luaha.lvscfmodel").globals.rsh_command

local log = luaha.log.prefixed("nanny")

local nanny = {}
local monitor = {}
monitor.__index = monitor

local RAMP_PERIOD = 20      -- seconds between weight doublings, as nanny's adjust rounds
local LOAD_SCALE = 10       -- an idle server may get up to this many times its weight

-- The commands that tell a real server's load, by load_monitor (piranha.md 2.5).
local load_commands = {
    uptime = function(rsh, address)
        local argv = {}
        for word in rsh:gmatch("%S+") do argv[#argv + 1] = word end
        argv[#argv + 1] = address
        argv[#argv + 1] = "uptime"
        return argv
    end,
    rup = function(_, address) return { "rup", address } end,
    ruptime = function(_, address) return { "ruptime", address } end,
}

-- parse_load(text): the 1-minute load in uptime's, rup's or ruptime's output, read as nanny read it.
function nanny.parse_load(text)
    local at = text:find("load", 1, true)
    local colon = at and text:find(":", at, true)
    return colon and tonumber(text:sub(colon + 2):match("^[^,%s]+")) or nil
end

--[[
load_weight(W, w, L): the working weight w of a server configured at W, after a load of L:
an idle server is pushed up (at most LOAD_SCALE * W), a busy one back down (never below W).
]]
function nanny.load_weight(W, w, L)
    local new
    if L < 1 then
        new = math.min(LOAD_SCALE * W, w + (W / 2) * (1 - L) ^ (1 / 3))
    else
        new = math.max(W, w - (W / 2) * (L - 1) ^ (1 / 3))
    end
    return math.floor(new)
end

--[[
A monitor holds only what is its own: rs, name, state, since, working, checked, last (the probe's
result table) and tally, its run of good (tally >= 0) or failed (< 0) checks and the good checks
since its weight last doubled, packed into one integer (counts and tally below): eight fields fit
the smallest hash part that holds them (8 slots, 248 bytes; one more doubles it). What follows from
its block (v, interval, threshold, ramp_every, rsh, the dialogue's key) is in the block's kind, the
monitors' shared metatable, made once per block and rsh_command and found through __index.
]]
local RAMP = 0x10000        -- tally = streak * RAMP + good checks since the last doubling (< ramp_every <= 20000)

local function counts(self)
    local tally = self.tally
    return tally // RAMP, tally % RAMP          -- floor division: exact for a negative streak too
end

local kinds = setmetatable({}, { __mode = "k" })   -- by block: its kind (an ephemeron: v may go)
local dialogues, ndialogues = {}, 0                -- a small number for each distinct dialogue and period

-- kind(v, rsh): the shared part of the monitors of block v.
local function kind_of(v, rsh)
    local k = kinds[v]
    if k and k.rsh == rsh then return k end
    local interval = v.check_interval or v.timeout
    local d = table.concat({ v.protocol, tostring(v.send), tostring(v.expect), tostring(v.use_regex),
        tostring(v.send_program), tostring(v.half_open), v.timeout, interval }, "\0")
    if not dialogues[d] then ndialogues = ndialogues + 1 dialogues[d] = ndialogues end
    k = setmetatable({ v = v, rsh = rsh, interval = interval, threshold = v.rise or math.max(1, v.reentry // interval),
        ramp_every = math.max(1, RAMP_PERIOD // interval), dialogue = dialogues[d] }, monitor)
    k.__index = k
    kinds[v] = k
    return k
end

-- new(v, rs [, opts]): a monitor for real server rs of virtual block v (lvscf model), starting
-- out. opts.rsh_command is the global option of that name (default "rsh"), for load_monitor;
-- opts.since the wall-clock time it is made at (default: now).
function nanny.new(v, rs, opts)
    local k = kind_of(v, opts and opts.rsh_command or rsh_command.default)
    return setmetatable({
        rs = rs, state = "out", tally = k.threshold * RAMP,     -- counting starts at the threshold
        since = opts and opts.since or luaha.time(),    -- wall clock of the last change of state (health_since)
        name = ("%s:%d"):format(rs.address, rs.port or v.port),
    }, k)
end

-- good_checks(): the good checks in a row (0 after a failure); failed_checks(): the failed ones.
function monitor:good_checks()
    local streak = counts(self)
    return streak > 0 and streak or 0
end

function monitor:failed_checks()
    local streak = counts(self)
    return streak < 0 and -streak or 0
end

--[[
check_load(): in a load round, for a server in at (or above) its weight, reads its load and
moves the working weight when the change is at least a quarter of the weight. Returns true
when the weight changed. Waits (it runs a program, with the check timeout).
]]
function monitor:check_load()
    local make = load_commands[self.v.load_monitor]
    if not make or self.state ~= "in" or self.working < self.rs.weight or self.rs.weight == 0 then
        return false
    end
    local argv = make(self.rsh, self.rs.address)
    local r, err = luaha.proc.run(argv, { timeout = self.v.timeout })
    if not r or r.status ~= 0 then
        log.warning("%s: load_monitor %s: %s", self.name, self.v.load_monitor,
            err or (r.timed_out and "timeout") or r.stderr:match("[^\n]*"))
        return false
    end
    local load = nanny.parse_load(r.stdout)
    if not load or load < 0 or load == 1 then return false end
    local W = self.rs.weight
    local new = nanny.load_weight(W, self.working, load)
    if math.abs(new - self.working) < W / 4 then return false end
    self.working = new
    return true
end

-- weight(): the weight the table should have for this server: nil (out), 0 (quiesced) or more.
function monitor:weight()
    if self.state == "in" then return self.working end
    if self.state == "quiesced" then return 0 end
    return nil
end

-- adopt(prev): takes over the health of prev, a monitor of the same server from before a reload.
function monitor:adopt(prev)
    local _, ramped = counts(prev)
    self.state, self.tally, self.since = prev.state, prev:good_checks() * RAMP + ramped, prev.since
    self.working = prev.working and math.min(prev.working, self.rs.weight)
    if self.state == "in" and not self.v.weight_ramp then self.working = self.rs.weight end
    if self.state == "quiesced" and not self.v.quiesce_server then self.state, self.since = "out", luaha.time() end
end

--[[
step(ok, reason): takes one check's result. Returns true when the weight the table should
have changed. Logs the transitions with nanny's texts, so existing log watchers still match.
]]
function monitor:step(ok, reason)
    local before = self:weight()
    self.checked = true
    local streak, ramped = counts(self)
    if ok then
        streak = streak > 0 and streak + 1 or 1
        if self.state ~= "in" and streak >= self.threshold then
            self.state, self.since = "in", luaha.time()
            self.working = self.v.weight_ramp and math.min(self.rs.weight, math.max(1, self.rs.weight >> 5))
                or self.rs.weight
            ramped = 0
            if luaha.log.tag_idents() then     -- log_idents = piranha: nanny's exact text
                log.info("[ active ] making %s available", self.name)
            else
                log.info("[ active ] making %s available (virtual %s)", self.name, self.v.name)
            end
        elseif self.state == "in" and self.working < self.rs.weight then
            ramped = ramped + 1
            if not self.v.weight_ramp then
                self.working = self.rs.weight       -- a reload raised the weight
            elseif ramped >= self.ramp_every then
                ramped = 0
                self.working = math.min(self.rs.weight, math.max(1, self.working * 2))
            end
        end
        self.tally = streak * RAMP + ramped
    else
        streak = streak < 0 and streak - 1 or -1
        self.tally = streak * RAMP + ramped
        if self.state == "in" and -streak >= self.v.fall then
            self.state, self.since = self.v.quiesce_server and "quiesced" or "out", luaha.time()
            if luaha.log.tag_idents() then     -- the reason on a line before, as nanny logged it
                log.info("%s (virtual %s): %s", self.name, self.v.name, reason or "failed")
                log.info("[inactive] shutting down %s due to connection failure", self.name)
            else
                log.info("[inactive] shutting down %s due to connection failure (virtual %s: %s)",
                    self.name, self.v.name, reason or "failed")
            end
        end
    end
    return self:weight() ~= before
end

-- spec(): what check.run takes for this server.
function monitor:spec()
    local v = self.v
    return { address = self.rs.address, port = self.rs.port or v.port, protocol = v.protocol,
        send = v.send, expect = v.expect, use_regex = v.use_regex, send_program = v.send_program,
        half_open = v.half_open, timeout = v.timeout }
end

-- probe_key(): monitors with the same key run the very same check (same server, same dialogue, same period).
-- A short string (for IPv4): Lua interns it, so the monitors of one probe share one copy.
function monitor:probe_key()
    return ("%s\0%d\0%d"):format(self.rs.address, self.rs.port or self.v.port, self.dialogue)
end

return nanny
