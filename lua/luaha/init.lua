-- lua/luaha/init.lua: the public face, `require "luaha"`, assembled from the C modules luaha.core.*.
-- SPDX-License-Identifier: GPL-2.0-or-later
local task = require "luaha.core.task"
local timer = require "luaha.core.timer"
local signal = require "luaha.core.signal"
local udp = require "luaha.core.udp"
local tcp = require "luaha.core.tcp"
local listen = require "luaha.core.listen"
local icmp = require "luaha.core.icmp"
local halfopen = require "luaha.core.halfopen"
local tcpcheck = require "luaha.core.tcpcheck"

-- luaha.http: the C server (listen) and the Lua client (request), in one table.
local http = { request = require("luaha.httpclient").request }
for name, fn in pairs(require "luaha.core.http") do http[name] = fn end

local luaha = {
    version = require("luaha.core.build").version,     -- the Makefile's VERSION
    spawn = task.spawn,
    sleep = task.sleep,
    breathe = task.breathe,     -- the one cooperative yield: a turn of the loop inside a task, else nothing
    park = task.park,
    current = task.current,
    set_budget = task.set_budget,
    now = timer.now,
    time = timer.time,
    after = timer.after,
    every = timer.every,
    exit = task.exit,
    on_signal = signal.on_signal,
    log = require "luaha.core.log",
    proc = require "luaha.core.proc",
    ipvs = require "luaha.ipvs",
    link = require "luaha.core.link",
    arp = require "luaha.core.arp",
    auth = require "luaha.core.auth",
    daemon = require "luaha.core.daemon",
    http = http,
    part = require "luaha.core.part",
    net = {
        parse_addr = require("luaha.core.net").parse_addr,
        udp = udp.udp,
        tcp = tcp.tcp,
        unix = tcp.unix,
        listen = listen.listen,
        listen_unix = listen.listen_unix,
        ping = icmp.ping,
        tcp_halfopen = halfopen.tcp_halfopen,
        tcp_check = tcpcheck.tcp_check,
    },
}

-- luaha.daemon also holds the process's scheduling: realtime(priority), lock_memory(), scheduling();
-- and process_stats(), its CPU time, memory and descriptors.
for name, f in pairs(require "luaha.core.realtime") do luaha.daemon[name] = f end
luaha.daemon.process_stats = require("luaha.core.procself").process_stats

--[[
log.prefixed(name): a logger with the same functions whose lines say which part of the process
speaks (pulse, nanny, lvs, ...): "NAME: line", or, when log.tag_idents() is on and lines go to
syslog, the line under the ident NAME (Piranha's pulse[pid], nanny[pid], lvs[pid]).
]]
local gathered      -- while log.gather runs: the lines of prefixed loggers, { name, level, text } each

function luaha.log.prefixed(name)
    local l, tagged = {}, luaha.log.tagged
    for _, level in ipairs({ "debug", "info", "notice", "warning", "err" }) do
        l[level] = function(fmt, ...)
            if not gathered then return tagged(name, level, fmt, ...) end
            gathered[#gathered + 1] = { name, level, string.format(fmt, ...) }
        end
    end
    return setmetatable(l, { __index = luaha.log })
end

--[[
log.gather(f, ...): runs f(...), and writes the lines that prefixed loggers logged meanwhile when it
returns or raises (raising again): in order, each a line of its own with its part's name as
always, those of the same part and level one after the other up to 256 a message, which is one
write (log.c) and one reading of the clock. Where the clock is a system call and a write costs
130 us (UML), the lines of a cold start of 37 000 real servers (a monitor started and a server
made available each) cost seconds one by one. Lines logged otherwise (luaha.log.info) go at once,
before those gathered. f must not wait: the lines of other tasks meanwhile would be gathered too.
Nested, the outermost one writes.
]]
function luaha.log.gather(f, ...)
    if gathered then return f(...) end
    gathered = {}
    local ok, err = pcall(f, ...)
    local list, i = gathered, 1
    gathered = nil
    while i <= #list do
        local name, level, j = list[i][1], list[i][2], i
        while j < #list and j - i < 255 and list[j + 1][1] == name and list[j + 1][2] == level do j = j + 1 end
        local texts = {}
        for k = i, j do texts[#texts + 1] = list[k][3] end
        luaha.log.tagged(name, level, "%s", table.concat(texts, "\n"))
        i = j + 1
    end
    if not ok then error(err, 0) end
end

--[[
log.limiter(logger [, seconds]): a warning that a flood cannot turn into a flood of lines:
limited(kind, fmt, ...) logs with logger.warning at most one line of each kind every seconds
(default 10), counting those it drops and saying so in the next one, "(and N more in S s)".
Returns limited and the table of kinds (kind: {at =, quiet =}); past MAX_KINDS kinds, new ones
share one, so that an attacker who chooses the kind cannot grow it. limited returns whether it
logged.
]]
local MAX_KINDS = 64
function luaha.log.limiter(logger, seconds)
    seconds = seconds or 10
    local kinds, n = {}, 0
    return function(kind, fmt, ...)
        local l = kinds[kind]
        if not l then
            if n >= MAX_KINDS then kind = "(others)" end
            l = kinds[kind] or { at = -math.huge, quiet = 0 }
            if not kinds[kind] then kinds[kind], n = l, n + 1 end
        end
        local now = luaha.now()
        if now - l.at < seconds then
            l.quiet = l.quiet + 1
            return false
        end
        local more = l.quiet > 0 and (" (and %d more in %d s)"):format(l.quiet, math.floor(now - l.at)) or ""
        logger.warning("%s%s", fmt:format(...), more)
        l.at, l.quiet = now, 0
        return true
    end, kinds
end

--[[
pacer([seconds]): a function to call between the steps of a long piece of work in a task: once
seconds (default 0.002) have passed since the loop last ran, it waits one turn of the loop
(luaha.sleep(0)), so that the work holds the loop no longer than that and one step. It reads
the clock at each call (tens of nanoseconds, a microsecond in UML): a step should be tens of
microseconds of work or more.
]]
function luaha.pacer(seconds)
    seconds = seconds or 0.002
    local since = luaha.now()
    return function()
        if luaha.now() - since >= seconds then
            luaha.breathe()
            since = luaha.now()
        end
    end
end

return luaha
