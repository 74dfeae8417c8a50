-- examples/lvs.lua: the seed topology (spec section 6) as a Lua config: one DR web service on two real servers.
-- SPDX-License-Identifier: GPL-2.0-or-later
-- Read with require("luaha.lvscf").load_any("examples/lvs.lua"); options and defaults are those of lvs.cf(5).
local function web_server(name, address)
    return { name = name, address = address, active = true, weight = 1 }
end

return {
    serial_no = 1,
    primary = "192.0.2.210",            -- the router that owns this address is the primary
    service = "lvs",
    backup_active = true,
    backup = "192.0.2.211",
    heartbeat = true,
    heartbeat_port = 539,
    keepalive = 6,                      -- seconds between heartbeats (fractions allowed)
    deadtime = 18,                      -- silence after which the partner is declared dead
    network = "direct",
    debug_level = "NONE",
    monitor_links = false,
    syncdaemon = false,
    virtuals = {
        {
            name = "web",
            active = true,
            address = "192.0.2.212",
            device = "eth0:1",
            vip_nmask = "255.255.255.0",
            port = 80,
            persistent = 30,
            send = "GET / HTTP/1.0\r\n\r\n",
            expect = "HTTP",
            use_regex = false,
            load_monitor = "none",
            scheduler = "wrr",
            protocol = "tcp",
            timeout = 6,
            reentry = 15,
            quiesce_server = false,
            servers = {
                web_server("rs204", "192.0.2.204"),
                web_server("rs205", "192.0.2.205"),
            },
        },
    },
}
