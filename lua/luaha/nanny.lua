-- lua/luaha/nanny.lua: one real server's health as Piranha's nanny kept it: checks, re-entry, quiesce, slow start.
--[[
A monitor is out (not in the IPVS table), in (at its working weight) or quiesced (in at weight
0, with `quiesce_server`). As in nanny (piranha.md 2.5): a server is brought in after `threshold`
good checks in a row, where threshold is `rise` or else reentry / interval, and counting starts at
the threshold, so a server whose first check passes comes in at once; it goes out after `fall`
failed checks in a row (nanny: one). With `weight_ramp`, it enters at max(1, weight / 32) and the
weight doubles every ~20 s of good checks up to the configured weight. Load monitoring is not
done: the weight never goes above the configured one.
]]
local luaha = require "luaha"
local check = require "luaha.check"

local nanny = {}
local monitor = {}
monitor.__index = monitor

local RAMP_PERIOD = 20      -- seconds between weight doublings, as nanny's adjust rounds

-- new(v, rs): a monitor for real server rs of virtual block v (lvscf model), starting out.
function nanny.new(v, rs)
    local interval = v.check_interval or v.timeout
    local threshold = v.rise or math.max(1, v.reentry // interval)
    return setmetatable({
        v = v, rs = rs, interval = interval, threshold = threshold,
        count = threshold, failures = 0, state = "out", working = nil, since_ramp = 0,
        name = ("%s:%d"):format(rs.address, rs.port or v.port),
        ramp_every = math.max(1, RAMP_PERIOD // interval),
    }, monitor)
end

-- weight(): the weight the table should have for this server: nil (out), 0 (quiesced) or more.
function monitor:weight()
    if self.state == "in" then return self.working end
    if self.state == "quiesced" then return 0 end
    return nil
end

-- adopt(prev): takes over the health of prev, a monitor of the same server from before a reload.
function monitor:adopt(prev)
    self.state, self.count, self.since_ramp = prev.state, prev.count, prev.since_ramp
    self.working = prev.working and math.min(prev.working, self.rs.weight)
    if self.state == "in" and not self.v.weight_ramp then self.working = self.rs.weight end
    if self.state == "quiesced" and not self.v.quiesce_server then self.state = "out" end
end

--[[
step(ok, reason): takes one check's result. Returns true when the weight the table should
have changed. Logs the transitions with nanny's texts, so existing log watchers still match.
]]
function monitor:step(ok, reason)
    local before = self:weight()
    if ok then
        self.failures = 0
        self.count = self.count + 1
        if self.state ~= "in" and self.count >= self.threshold then
            self.state = "in"
            self.working = self.v.weight_ramp and math.min(self.rs.weight, math.max(1, self.rs.weight >> 5))
                or self.rs.weight
            self.since_ramp = 0
            luaha.log.info("[ active ] making %s available (virtual %s)", self.name, self.v.name)
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
            self.state = self.v.quiesce_server and "quiesced" or "out"
            luaha.log.info("[inactive] shutting down %s due to connection failure (virtual %s: %s)",
                self.name, self.v.name, reason or "failed")
        end
    end
    return self:weight() ~= before
end

-- spec(): what check.run takes for this server.
function monitor:spec()
    local v = self.v
    return { address = self.rs.address, port = self.rs.port or v.port, protocol = v.protocol,
        send = v.send, expect = v.expect, use_regex = v.use_regex, send_program = v.send_program,
        timeout = v.timeout }
end

-- probe_key(): monitors with the same key run the very same check (same server, same dialogue, same period).
function monitor:probe_key()
    local sp = self:spec()
    return table.concat({ sp.protocol, sp.address, sp.port, tostring(sp.send), tostring(sp.expect),
        tostring(sp.use_regex), tostring(sp.send_program), sp.timeout, self.interval }, "\0")
end

--[[
run_probe(monitors, on_change): checks forever for monitors that share one probe_key, every
interval after the end of the previous check: the check runs once and every monitor takes its
result, calling on_change(monitor) when its weight changes. Meant to be the body of a task; waits.
]]
function nanny.run_probe(monitors, on_change)
    local first = monitors[1]
    local spec = first:spec()
    while true do
        -- A check that raises is a failed check, logged with its traceback; the monitors go on.
        local pok, ok, err = xpcall(check.run, debug.traceback, spec)
        if not pok then
            luaha.log.err("%s: check raised: %s", first.name, ok)
            ok, err = nil, "the check raised an error"
        end
        for _, mon in ipairs(monitors) do
            if mon:step(ok, err) then on_change(mon) end
        end
        luaha.sleep(first.interval)
    end
end

-- run(on_change): run_probe for this monitor alone.
function monitor:run(on_change)
    return nanny.run_probe({ self }, on_change)
end

return nanny
