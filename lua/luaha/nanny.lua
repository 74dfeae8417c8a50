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

-- new(v, rs [, opts]): a monitor for real server rs of virtual block v (lvscf model), starting
-- out. opts.rsh_command is the global option of that name (default "rsh"), for load_monitor.
function nanny.new(v, rs, opts)
    local interval = v.check_interval or v.timeout
    local threshold = v.rise or math.max(1, v.reentry // interval)
    return setmetatable({
        v = v, rs = rs, interval = interval, threshold = threshold,
        count = threshold, failures = 0, state = "out", working = nil, since_ramp = 0,
        since = luaha.time(),       -- wall clock of the last change of state (the status's health_since)
        name = ("%s:%d"):format(rs.address, rs.port or v.port),
        ramp_every = math.max(1, RAMP_PERIOD // interval),
        rsh = opts and opts.rsh_command or rsh_command.default,
    }, monitor)
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
    self.state, self.count, self.since_ramp, self.since = prev.state, prev.count, prev.since_ramp, prev.since
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
    if ok then
        self.failures = 0
        self.count = self.count + 1
        if self.state ~= "in" and self.count >= self.threshold then
            self.state, self.since = "in", luaha.time()
            self.working = self.v.weight_ramp and math.min(self.rs.weight, math.max(1, self.rs.weight >> 5))
                or self.rs.weight
            self.since_ramp = 0
            if luaha.log.tag_idents() then     -- log_idents = piranha: nanny's exact text
                log.info("[ active ] making %s available", self.name)
            else
                log.info("[ active ] making %s available (virtual %s)", self.name, self.v.name)
            end
        elseif self.state == "in" and self.working < self.rs.weight then
            self.since_ramp = self.since_ramp + 1
            if not self.v.weight_ramp then
                self.working = self.rs.weight       -- a reload raised the weight
            elseif self.since_ramp >= self.ramp_every then
                self.since_ramp = 0
                self.working = math.min(self.rs.weight, math.max(1, self.working * 2))
            end
        end
    else
        self.count = 0
        self.failures = self.failures + 1
        if self.state == "in" and self.failures >= self.v.fall then
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
function monitor:probe_key()
    local sp = self:spec()
    return table.concat({ sp.protocol, sp.address, sp.port, tostring(sp.send), tostring(sp.expect),
        tostring(sp.use_regex), tostring(sp.send_program), tostring(sp.half_open), sp.timeout, self.interval }, "\0")
end

return nanny
