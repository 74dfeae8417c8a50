-- lua/luaha/lvscfmodel.lua: the config model's option tables: every option's type, default and range.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
The one home of every option's facts: the checks (lvscfcheck), the lvs.cf reader (lvscfread),
the Lua-config reader (lvscflua), the writer (lvscfwrite), the modules that use an option's
default or range (pulse, nanny, check, lvsctl) and lvs.cf(5) (tests/lua/lvscf-doc.lua holds it
to these tables) take them from here; this file requires nothing. Each entry: { name, type, default, ... } with

    min, max    the range of a number (every integer and seconds option has one); off: a value
                outside the range that means "off" (garp_refresh = 0)
    frac        seconds with a fraction (else an integer)
    values      the valid words of an enum; known: the words a "word" option knows (others warn)
    device      for `address = IP DEV`: the model key of the device
    anycast     the default with cluster = anycast instead (lvscfcheck.anycast puts it in)
    escapes     send and expect: backslash escapes, any bytes
    required    a block or server without it is an error
    refused     the message that refuses the option (luaha does not implement it)
    ext         a luaha extension: the writer leaves it out at its default

The ranges are what the daemon can honour: times from a millisecond (the loop's resolution; a
timer every 0 s is refused at run time) to MAX_SECS, finite; integers as wide as what carries
them (serial_no: 4 bytes in the heartbeat; syncd_id: the kernel's 8 bits; fwmark: 32 bits).
]]
local model = {}

local MAX_SECS = 1000000    -- 11.6 days: seconds * HZ (1000) still fits the kernel's 32 bits
local MS = 0.001            -- the loop's timers have a millisecond's resolution
local SHARED = "luaha does not support shared SCSI reservations (set neither primary_shared nor backup_shared)"

model.MAX_SECS = MAX_SECS

model.globals = {
    { "serial_no", "int", 0, min = 0, max = 4294967295 },
    { "primary", "host" },
    { "primary_private", "host" },
    { "primary_shared", "str", refused = SHARED },
    { "service", "enum", "lvs", values = { "lvs", "fos" } },
    { "backup_active", "bool", false },
    { "backup", "host" },
    { "backup_private", "host" },
    { "backup_shared", "str", refused = SHARED },
    { "heartbeat", "bool", false },
    { "heartbeat_port", "port", 539, min = 1, max = 65535 },
    { "keepalive", "secs", 2, frac = true, min = MS, max = MAX_SECS },
    { "deadtime", "secs", 5, frac = true, min = MS, max = MAX_SECS },   -- and longer than keepalive
    { "network", "enum", "nat", values = { "direct", "nat", "tunnel" } },
    { "nat_router", "ipdev", device = "nat_router_device" },
    { "nat_nmask", "mask" },
    { "reservation_conflict_action", "enum", values = { "nothing", "preempt" } },
    { "debug_level", "str", "NONE" },
    { "rsh_command", "str", "rsh" },
    { "sync", "bool", false },
    { "ipvsadm", "str", "/sbin/ipvsadm" },
    { "monitor_links", "flag", false, min = math.mininteger, max = math.maxinteger },
    { "syncdaemon", "bool", false },
    { "syncd_iface", "str", "eth0" },
    { "syncd_id", "int", 0, min = 0, max = 255 },
    { "tcp_timeout", "secs", 0, min = 0, max = MAX_SECS },
    { "tcpfin_timeout", "secs", 0, min = 0, max = MAX_SECS },
    { "udp_timeout", "secs", 0, min = 0, max = MAX_SECS },
    { "hard_shutdown", "bool", true },
    { "active_cmd", "str" },
    { "inactive_cmd", "str" },
    { "reconcile", "secs", 10, frac = true, min = MS, max = MAX_SECS, ext = true },
    { "heartbeat_key", "str", ext = true },
    { "garp_count", "int", 5, min = 0, max = 100, ext = true },
    { "garp_interval", "secs", 1, frac = true, min = MS, max = MAX_SECS, ext = true },
    { "garp_refresh", "secs", 10, frac = true, min = MS, max = MAX_SECS, off = 0, ext = true },
    { "status_listen", "str", ext = true },
    { "status_passwd", "str", ext = true },
    { "heartbeat_rt_priority", "int", 10, min = 0, max = 99, ext = true },
    { "heartbeat_lock_memory", "bool", true, ext = true },
    { "log_idents", "enum", "luaha", values = { "luaha", "piranha" }, ext = true },
    { "standby_table", "bool", false, ext = true },
    -- The web UI (lvshttp, webui): off by default; its listener speaks TLS when both files are set.
    { "webui", "bool", false, ext = true },
    { "webui_tls_cert", "str", ext = true },
    { "webui_tls_key", "str", ext = true },
    { "webui_insecure", "bool", false, ext = true },
    { "webui_session_idle", "secs", 1800, min = 60, max = 43200, ext = true },   -- at most the absolute 12 h
    -- Anycast directors (issue 16): no partner; VIPs announced as blackhole routes for BGP.
    { "cluster", "enum", "pair", values = { "pair", "anycast" }, ext = true },
    { "bgp_table", "int", 100, min = 1, max = 4294967295, ext = true },     -- not 253..255: model.RESERVED_TABLES
    { "bgp_proto", "int", 200, min = 5, max = 255, ext = true },            -- 0..4 are the kernel's
    { "drain_time", "secs", 10, frac = true, min = MS, max = 3600, off = 0, ext = true },
    { "anycast_change_interval", "secs", 1, frac = true, min = MS, max = 60, off = 0, ext = true },
}

-- The routing tables bgp_table may not name: default (253), main (254) and local (255).
model.RESERVED_TABLES = { [253] = "default", [254] = "main", [255] = "local" }

-- Where the listener is when webui = 1 and status_listen is not set: piranha-gui's port, on loopback.
model.WEBUI_LISTEN = "127.0.0.1:3636"

model.schedulers = { "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos" }

-- virtual and failover blocks share one option table, as they share one parser in Piranha.
model.blocks = {
    { "active", "bool", false },
    { "address", "ipdev", device = "device", required = true },
    { "vip_nmask", "mask" },
    { "sorry_server", "ip" },
    { "fwmark", "int", 0, min = 0, max = 4294967295 },
    { "protocol", "enum", "tcp", values = { "tcp", "udp" } },
    { "port", "port", 80, min = 1, max = 65535 },
    { "scheduler", "enum", "wlc", values = model.schedulers, anycast = "mh" },   -- the default with cluster = anycast
    { "persistent", "secs", 0, min = 0, max = MAX_SECS },
    { "pmask", "mask" },
    { "send", "str", escapes = true },
    { "expect", "str", escapes = true },
    { "use_regex", "bool", false },
    { "send_program", "str" },
    { "timeout", "secs", 10, min = 1, max = MAX_SECS },
    { "reentry", "secs", 180, min = 0, max = MAX_SECS },
    { "load_monitor", "word", "none", known = { "none", "uptime", "rup", "ruptime" } },
    { "quiesce_server", "bool", false },
    { "client_monitor", "str", "/usr/sbin/nanny" },
    { "start_cmd", "str" },
    { "stop_cmd", "str" },
    { "master", "host" },
    { "dirs", "list" },
    { "rise", "int", min = 1, max = 1000, ext = true },
    { "fall", "int", 1, min = 1, max = 1000, ext = true },
    { "check_interval", "secs", frac = true, min = MS, max = MAX_SECS, ext = true },
    { "weight_ramp", "bool", true, ext = true },
    { "half_open", "bool", false, ext = true },
    { "announce_min_healthy", "int", 1, min = 0, max = 65535, ext = true },
}

-- A server's port has no default of its own: it is its block's `port`.
model.servers = {
    { "address", "host", required = true },
    { "active", "bool", false },
    { "weight", "int", 1, min = 0, max = 65535 },
    { "port", "int", min = 1, max = 65535, numeric_port = true },
}

-- Keys a failover block uses (spec 2.4); any other key there is accepted, as Piranha did, with a warning.
model.failover_uses = {
    active = true, address = true, vip_nmask = true, port = true, protocol = true, send = true,
    expect = true, send_program = true, timeout = true, start_cmd = true, stop_cmd = true,
    client_monitor = true, reentry = true, use_regex = true, rise = true, fall = true,
    check_interval = true, master = true, dirs = true,
}

local numeric = { int = true, secs = true, port = true, flag = true }

for _, tbl in ipairs({ model.globals, model.blocks, model.servers }) do
    for _, o in ipairs(tbl) do
        o.key, o.type, o.default = o[1], o[2], o[3]
        assert(not numeric[o.type] or (o.min and o.max), o.key .. ": a number option needs its range")
        tbl[o.key] = o
    end
end

-- A number as the messages, the writer and lvs.cf(5) write it: 0.001, 1000000.
function model.number(v)
    if math.type(v) == "integer" then return string.format("%d", v) end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", math.tointeger(v)) end
    local short = string.format("%.14g", v)
    return tonumber(short) == v and short or string.format("%.17g", v)
end

-- The range of a number option as messages say it: "1..65535", "0 or 0.001..1000000".
function model.range_text(o)
    if o.min == math.mininteger and o.max == math.maxinteger then return "a 64-bit integer" end
    local r = model.number(o.min) .. ".." .. model.number(o.max)
    return o.off and (model.number(o.off) .. " or " .. r) or r
end

return model
