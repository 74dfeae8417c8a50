-- lua/luaha/init.lua: the public face, `require "luaha"`, assembled from the C modules luaha.core.*.
local task = require "luaha.core.task"
local timer = require "luaha.core.timer"
local loop = require "luaha.core.loop"
local signal = require "luaha.core.signal"
local udp = require "luaha.core.udp"
local tcp = require "luaha.core.tcp"
local icmp = require "luaha.core.icmp"
local halfopen = require "luaha.core.halfopen"
local tcpcheck = require "luaha.core.tcpcheck"

-- luaha.http: the C server (listen) and the Lua client (request), in one table.
local http = { request = require("luaha.httpclient").request }
for name, fn in pairs(require "luaha.core.http") do http[name] = fn end

local luaha = {
    version = "0.1.0",
    spawn = task.spawn,
    sleep = task.sleep,
    park = task.park,
    current = task.current,
    set_budget = task.set_budget,
    now = timer.now,
    time = timer.time,
    after = timer.after,
    every = timer.every,
    exit = loop.exit,
    on_signal = signal.on_signal,
    log = require "luaha.core.log",
    proc = require "luaha.core.proc",
    ipvs = require "luaha.ipvs",
    link = require "luaha.core.link",
    arp = require "luaha.core.arp",
    auth = require "luaha.core.auth",
    daemon = require "luaha.core.daemon",
    http = http,
    net = {
        udp = udp.udp,
        tcp = tcp.tcp,
        unix = tcp.unix,
        listen = tcp.listen,
        listen_unix = tcp.listen_unix,
        ping = icmp.ping,
        tcp_halfopen = halfopen.tcp_halfopen,
        tcp_check = tcpcheck.tcp_check,
    },
}

--[[
log.prefixed(name): a logger with the same functions whose lines begin "NAME: ", so that a
process's lines say which part of it speaks (pulse, nanny, lvs, ...).
]]
function luaha.log.prefixed(name)
    local l = {}
    for _, level in ipairs({ "debug", "info", "notice", "warning", "err" }) do
        local f = luaha.log[level]
        l[level] = function(fmt, ...) return f(name .. ": " .. fmt, ...) end
    end
    return setmetatable(l, { __index = luaha.log })
end

return luaha
