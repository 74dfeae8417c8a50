-- tests/lua/lvscf.lua: the lvs.cf and Lua config readers: values, defaults, every error class, quoting, round trips.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local lvscf = require "luaha.lvscf"

local DATA = "tests/lua/data/"

-- Host names resolved without DNS: every.cf names its backup router.
local RESOLVE = { resolve = function(name)
    if name == "router-b.example.net" then return "192.0.2.211" end
    return nil, "unknown host"
end }

local same = t.same

local function parse_ok(text)
    local m, errs, warns = lvscf.parse(text, "t.cf")
    assert(m, errs and table.concat(errs, "\n"))
    return m, warns
end

-- The one error a text gives, which must be exactly want.
local function parse_err(text, want)
    local m, errs = lvscf.parse(text, "t.cf")
    assert(not m, "parsed, but should not have")
    t.eq(errs[1], want, "error")
    t.eq(#errs, 1, "error count (" .. table.concat(errs, " | ") .. ")")
end

local function has(list, want)
    for _, s in ipairs(list) do
        if s == want then return true end
    end
    error("missing: " .. want .. "\nin:\n" .. table.concat(list, "\n"), 2)
end

local function tmpfile(text)
    local path = os.tmpname()
    os.remove(path)             -- tmpname made it: the test removes only path .. ".lua"
    path = path .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    return path
end

local function vs(body)
    return "virtual web {\n    address = 192.0.2.212 eth0:1\n" .. body .. "}\n"
end

t.test("seed: the values of spec section 6", function()
    local m, errs, warns = lvscf.load(DATA .. "seed.cf")
    assert(m, errs and table.concat(errs, "\n"))
    t.eq(#warns, 0, "warnings")
    t.eq(m.serial_no, 1, "serial_no")
    t.eq(m.primary, "192.0.2.210", "primary")
    t.eq(m.backup, "192.0.2.211", "backup")
    t.eq(m.service, "lvs", "service")
    t.eq(m.backup_active, true, "backup_active")
    t.eq(m.heartbeat, true, "heartbeat")
    t.eq(m.heartbeat_port, 539, "heartbeat_port")
    t.eq(m.keepalive, 6, "keepalive")
    t.eq(m.deadtime, 18, "deadtime")
    t.eq(m.network, "direct", "network")
    t.eq(m.monitor_links, false, "monitor_links")
    t.eq(#m.virtuals, 1, "virtuals")
    t.eq(#m.failovers, 0, "failovers")
    local v = m.virtuals[1]
    t.eq(v.name, "web", "name")
    t.eq(v.active, true, "active")
    t.eq(v.address, "192.0.2.212", "address")
    t.eq(v.device, "eth0:1", "device")
    t.eq(v.vip_nmask, "255.255.255.0", "vip_nmask")
    t.eq(v.port, 80, "port")
    t.eq(v.persistent, 30, "persistent")
    t.eq(v.send, "GET / HTTP/1.0\r\n\r\n", "send")
    t.eq(v.expect, "HTTP", "expect")
    t.eq(v.scheduler, "wrr", "scheduler")
    t.eq(v.timeout, 6, "timeout")
    t.eq(v.reentry, 15, "reentry")
    t.eq(v.quiesce_server, false, "quiesce_server")
    t.eq(#v.servers, 2, "servers")
    t.eq(v.servers[1].name, "rs204", "server name")
    t.eq(v.servers[1].address, "192.0.2.204", "server address")
    t.eq(v.servers[2].address, "192.0.2.205", "server address")
    t.eq(v.servers[2].weight, 1, "weight")
    t.eq(v.servers[2].port, 80, "server port from the virtual's")
end)

t.test("seed: defaults filled in", function()
    local m = assert(lvscf.load(DATA .. "seed.cf"))
    local want = { sync = false, ipvsadm = "/sbin/ipvsadm", rsh_command = "rsh", syncd_iface = "eth0",
        syncd_id = 0, tcp_timeout = 0, tcpfin_timeout = 0, udp_timeout = 0, hard_shutdown = true,
        reconcile = 10, garp_count = 5, garp_interval = 1 }
    for k, v in pairs(want) do t.eq(m[k], v, k) end
    for _, k in ipairs({ "primary_private", "backup_private", "nat_router", "nat_nmask", "active_cmd",
            "heartbeat_key", "status_listen" }) do
        t.eq(m[k], nil, k)
    end
    local v = m.virtuals[1]
    local vwant = { fwmark = 0, protocol = "tcp", use_regex = false, load_monitor = "none",
        client_monitor = "/usr/sbin/nanny", fall = 1, weight_ramp = true }
    for k, x in pairs(vwant) do t.eq(v[k], x, k) end
    for _, k in ipairs({ "sorry_server", "pmask", "send_program", "rise", "check_interval", "start_cmd" }) do
        t.eq(v[k], nil, k)
    end
    local d = parse_ok(vs("    server a {\n        address = 192.0.2.1\n    }\n"))
    t.eq(d.service, "lvs", "service")
    t.eq(d.network, "nat", "network")
    t.eq(d.heartbeat_port, 539, "heartbeat_port")
    t.eq(d.keepalive, 2, "keepalive")
    t.eq(d.deadtime, 5, "deadtime")
    v = d.virtuals[1]
    t.eq(v.active, false, "active")
    t.eq(v.port, 80, "port")
    t.eq(v.scheduler, "wlc", "scheduler")
    t.eq(v.timeout, 10, "timeout")
    t.eq(v.reentry, 180, "reentry")
    t.eq(v.persistent, 0, "persistent")
    t.eq(v.servers[1].active, false, "server active")
    t.eq(v.servers[1].weight, 1, "server weight")
    t.eq(v.servers[1].port, 80, "server port")
end)

t.test("errors: every one in the file, in line order", function()
    local m, errs = lvscf.load(DATA .. "errors.cf")
    t.eq(m, nil, "model")
    local f = DATA .. "errors.cf:"
    local want = {
        f .. '2: primary: invalid host name or ip address "0.0.0.0"',
        f .. "3: port: unknown command at top level",
        f .. "4: keepalive=2: unknown command at top level (= needs a blank on each side)",
        f .. "5: deadtime: equal (=) expected after command",
        f .. '6: network: unknown network "bridge" (invalid argument; valid: direct, nat, tunnel)',
        f .. '7: heartbeat_port: unexpected arguments: "# comment" (comments must be on their own line)',
        f .. '10: virtual "web": scheduler: unknown scheduler "wrrr" (invalid argument; valid: rr, wrr, lc, wlc,'
            .. " lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos)",
        f .. '11: virtual "web": weight: unknown command in a virtual block',
        f .. '12: virtual "web": timeout: out of range: 0 (must be 1..1000000)',
        f .. '13: virtual "web": vip_nmask: Bad subnet mask specified: "255.0.255.0"',
        f .. '14: virtual "web": persistent: integer expected, got "3x"',
        f .. '15: virtual "web": use_regex: boolean expected (0 or 1), got "2"',
        f .. '16: virtual "web": send: quotation mismatch',
        f .. '19: virtual "web": server "rs1": weight: out of range: -1 (must be 0..65535)',
        f .. '20: virtual "web": server "rs1": port: integer expected, got "http"',
        f .. '22: virtual "web": server "rs1": address: missing (required)',
        f .. '22: virtual "web": server "rs1": name: duplicate server name "rs1" (first at line 17)',
        f .. '25: virtual "web": name: duplicate virtual name "web" (first at line 8)',
        f .. '26: virtual "web": address: missing arguments',
        f .. "28: server: unknown command at top level",
        f .. "29: }: no block to close",
        f .. '30: failover "ftp": failover: missing } (unexpected end of file)',
    }
    for i, w in ipairs(want) do t.eq(errs[i], w, "error " .. i) end
    t.eq(#errs, #want, "error count")
end)

t.test("errors: one of each remaining class", function()
    local m, errs = lvscf.parse("", "empty.cf")
    t.eq(m, nil, "model")
    t.eq(errs[1], "empty.cf:1: Empty configuration", "empty")
    parse_err(vs("    dirs = /etc\n"), 't.cf:3: virtual "web": dirs: list expected ([ word ... ])')
    parse_err("primary = 192.0.2.300\n", 't.cf:1: primary: invalid host name or ip address "192.0.2.300"')
    parse_err("primary = -bad-.example\n", 't.cf:1: primary: invalid host name or ip address "-bad-.example"')
    parse_err(vs("    sorry_server = sorry.example.net\n"),
        't.cf:3: virtual "web": sorry_server: invalid host name or ip address "sorry.example.net" (a dotted quad is needed)')
    parse_err(vs("    port = no-such-service\n"),
        't.cf:3: virtual "web": port: invalid argument: unknown service name "no-such-service"')
    parse_err(vs("    port = 70000\n"), 't.cf:3: virtual "web": port: out of range: 70000 (must be 1..65535)')
    parse_err("keepalive = 0\n", "t.cf:1: keepalive: out of range: 0 (must be 0.001..1000000)")
    parse_err("keepalive = fast\n", 't.cf:1: keepalive: number expected, got "fast"')
    parse_err("heartbeat_port = 1.5\n", 't.cf:1: heartbeat_port: integer expected, got "1.5"')
    parse_err("serial_no\n", "t.cf:1: serial_no: equal (=) expected after command")
    parse_err("serial_no =\n", "t.cf:1: serial_no: missing arguments")
    parse_err("nat_router = 192.0.2.254\n", "t.cf:1: nat_router: missing arguments")
    parse_err('primary = "192.0.2.1\n', "t.cf:1: primary: quotation mismatch")
    parse_err("virtual web\n}\n", "t.cf:1: virtual: missing arguments (virtual NAME {)")
    parse_err("virtual web { x\n}\n", 't.cf:1: virtual: unexpected arguments: "x"')
    m, errs = lvscf.parse("virtual web {\n    address = 192.0.2.212 eth0:1\n    server a {\n", "t.cf")
    t.eq(m, nil, "model")
    t.eq(table.concat(errs, "\n"), 't.cf:1: virtual "web": virtual: missing } (unexpected end of file)\n'
        .. 't.cf:3: virtual "web": server "a": server: missing } (unexpected end of file)\n'
        .. 't.cf:3: virtual "web": server "a": address: missing (required)', "unclosed blocks")
    parse_err(vs("    server a {\n        scheduler = rr\n        address = 192.0.2.1\n    }\n"),
        't.cf:4: virtual "web": server "a": scheduler: unknown command in a server block')
    parse_err(vs("    rise = 0\n"), 't.cf:3: virtual "web": rise: out of range: 0 (must be 1..1000)')
    parse_err("virtual web {\n}\n", 't.cf:1: virtual "web": address: missing (required)')
    local no_dialogue = 't.cf:1: virtual "web": half_open: a half-open check only connects: it takes no send,'
        .. ' expect or send_program, and protocol tcp'
    parse_err(vs('    half_open = 1\n    send = "GET /"\n'), no_dialogue)
    parse_err(vs("    half_open = 1\n    protocol = udp\n"), no_dialogue)
    parse_err(vs("    half_open = 1\n    send_program = /bin/true\n"), no_dialogue)
    parse_err(vs("    half_open = yes\n"), 't.cf:3: virtual "web": half_open: integer expected, got "yes"')
end)

t.test("errors: load of a missing file", function()
    local m, errs = lvscf.load("/nonexistent/lvs.cf")
    t.eq(m, nil, "model")
    t.eq(errs[1], "/nonexistent/lvs.cf: No such file or directory", "error")
end)

t.test("warnings: what Piranha accepted is accepted, and said", function()
    local text = "keepalive = 010\nkeepalive = 2\nbackup_active = 1\nprimary_private = 198.51.100.1\n"
        .. vs("    load_monitor = rsh\n} trailing\n"):gsub("}\n$", "")
        .. "failover f {\n    address = 192.0.2.9 eth0:3\n    scheduler = rr\n"
        .. "    server s {\n        address = 192.0.2.10\n    }\n}\n"
    local m, warns = parse_ok(text)
    t.eq(m.keepalive, 2, "last one wins")
    t.eq(m.backup_active, false, "backup_active without backup")
    has(warns, 't.cf:1: keepalive: "010" is octal (= 8), as Piranha read it; drop the leading zero for decimal')
    has(warns, "t.cf:2: keepalive: repeated (first at line 1); the last one wins")
    has(warns, "t.cf:3: backup_active: set without backup; treated as 0, as Piranha does")
    has(warns, "t.cf:4: primary_private: set without its partner; the private heartbeat path needs both"
        .. " primary_private and backup_private")
    has(warns, 't.cf:7: virtual "web": load_monitor: unknown load_monitor "rsh" (Piranha accepted any word;'
        .. " known: none, uptime, rup, ruptime)")
    has(warns, 't.cf:8: virtual "web": }: text after } ignored: "trailing"')
    has(warns, 't.cf:11: failover "f": scheduler: not used in a failover block')
    has(warns, 't.cf:9: failover "f": server: server blocks in a failover block are not used')
    local _, w2 = parse_ok("backup_active = 1\nbackup = 192.0.2.2\nheartbeat = 0\n")
    has(w2, "t.cf:3: heartbeat: 0 with backup_active = 1: heartbeats are sent anyway, as Piranha did")
end)

t.test("lexical: CRLF, comments, blanks, hex, service names, sed", function()
    local m = parse_ok("# c\r\n\r\n\tserial_no = 0x1F\r\n  # indented comment\r\n"
        .. "virtual web {\r\n    address = 192.0.2.212 eth0:1\r\n    port = http\r\n    scheduler = sed\r\n"
        .. "    server a {\r\n        address = 192.0.2.1\r\n    }\r\n}\r\n")
    t.eq(m.serial_no, 31, "hex")
    t.eq(m.virtuals[1].port, 80, "service name")
    t.eq(m.virtuals[1].scheduler, "sed", "sed")
    t.eq(m.virtuals[1].servers[1].address, "192.0.2.1", "CRLF file read whole")
end)

t.test("quoting and escapes", function()
    local m = parse_ok(vs("    send = 'GET / HTTP/1.0\\r\\n\\r\\n'\n    expect = \"say \\\"hi\\\"\\t\\\\ \\d\" \n"
        .. "    send_program = \"/usr/bin/check %h\"\n    start_cmd = '/bin/echo \"x\"'\n"))
    local v = m.virtuals[1]
    t.eq(v.send, "GET / HTTP/1.0\r\n\r\n", "single quotes stripped, escapes translated")
    t.eq(v.expect, 'say "hi"\t\\ \\d', "escaped quote, tab, backslash; unknown escape kept; trailing blank")
    t.eq(v.send_program, "/usr/bin/check %h", "command with blanks")
    t.eq(v.start_cmd, '/bin/echo "x"', "other strings kept as written")
    local w = lvscf.write(m)
    assert(w:find('send = "GET / HTTP/1.0\\r\\n\\r\\n"', 1, true), w)
    assert(select(1, same(parse_ok(w), m)))
end)

t.test("device form and nat_router", function()
    local m = parse_ok("nat_router = 192.0.2.254 eth1:1\nnat_nmask = 255.255.255.0\n" .. vs(""))
    t.eq(m.nat_router, "192.0.2.254", "nat_router")
    t.eq(m.nat_router_device, "eth1:1", "nat_router_device")
    t.eq(m.virtuals[1].address, "192.0.2.212", "address")
    t.eq(m.virtuals[1].device, "eth0:1", "device")
    parse_err(vs("    address = 192.0.2.212 eth0:1 extra\n"),
        't.cf:3: virtual "web": address: unexpected arguments: "extra"')
end)

t.test("fwmark services", function()
    local m = parse_ok(vs("    fwmark = 80\n    persistent = 60\n    pmask = 255.255.255.255\n"))
    local v = m.virtuals[1]
    t.eq(v.fwmark, 80, "fwmark")
    t.eq(v.persistent, 60, "persistent")
    t.eq(v.pmask, nil, "pmask 255.255.255.255 is the same as none")
    parse_err(vs("    fwmark = -1\n"), 't.cf:3: virtual "web": fwmark: out of range: -1 (must be 0..4294967295)')
end)

t.test("every option: values and extensions", function()
    local m, errs, warns = lvscf.load(DATA .. "every.cf", nil, RESOLVE)
    assert(m, errs and table.concat(errs, "\n"))
    t.eq(#warns, 0, "warnings: " .. table.concat(warns, "\n"))
    t.eq(m.serial_no, 16, "serial_no")
    t.eq(m.backup, "192.0.2.211", "host name, resolved")
    t.eq(m.reservation_conflict_action, "preempt", "reservation_conflict_action, accepted without effect")
    t.eq(m.keepalive, 0.5, "keepalive")
    t.eq(m.deadtime, 1.5, "deadtime")
    t.eq(m.monitor_links, true, "monitor_links 2")
    t.eq(m.rsh_command, "ssh -o BatchMode=yes", "rsh_command")
    t.eq(m.reconcile, 2.5, "reconcile")
    t.eq(m.heartbeat_key, "/etc/luaha/heartbeat.key", "heartbeat_key")
    t.eq(m.garp_count, 3, "garp_count")
    t.eq(m.status_listen, "127.0.0.1:5390", "status_listen")
    local v = m.virtuals[1]
    t.eq(v.name, "mail relay", "quoted name")
    t.eq(v.port, 25, "port smtp")
    t.eq(v.send, 'HELO test\r\n\t"x" \\ \\q', "send")
    t.eq(table.concat(v.dirs, ","), "/etc,/var/www", "dirs")
    t.eq(v.rise, 2, "rise")
    t.eq(v.fall, 3, "fall")
    t.eq(v.check_interval, 1.5, "check_interval")
    t.eq(v.weight_ramp, false, "weight_ramp")
    t.eq(v.half_open, false, "half_open default")
    t.eq(m.virtuals[2].half_open, true, "half_open")
    t.eq(v.servers[1].port, 2525, "server port")
    t.eq(v.servers[2].port, 25, "server port default")
    t.eq(m.failovers[1].start_cmd, "/etc/init.d/named start", "start_cmd")
end)

t.test("round trip: parse, write, parse", function()
    for _, f in ipairs({ "seed.cf", "every.cf" }) do
        local m = assert(lvscf.load(DATA .. f, nil, RESOLVE))
        local text = lvscf.write(m)
        local m2, errs, warns = lvscf.parse(text, "written-" .. f)
        assert(m2, errs and table.concat(errs, "\n"))
        t.eq(#warns, 0, f .. " warnings: " .. table.concat(warns, "\n"))
        local ok, where = same(m, m2)
        assert(ok, f .. ": " .. tostring(where))
        t.eq(lvscf.write(m2), text, f .. " written twice")
    end
end)

t.test("examples/lvs.lua is the seed", function()
    local m, errs, warns = lvscf.load_any("examples/lvs.lua")
    assert(m, errs and table.concat(errs, "\n"))
    t.eq(#warns, 0, "warnings")
    local seed = assert(lvscf.load_any(DATA .. "seed.cf"))
    local ok, where = same(m, seed)
    assert(ok, where)
    local back = assert(lvscf.parse(lvscf.write(m), "example.cf"))
    assert(select(1, same(back, m)))
end)

t.test("Lua config: errors name the file and option", function()
    local path = tmpfile([[
return {
    primary = "192.0.2.1", keepalive = -1, colour = "blue",
    virtuals = {
        { name = "web", address = "192.0.2.212", scheduler = "wrrr",
          servers = { { name = "a", address = "192.0.2.5", weight = 1.5 } } },
        { address = "192.0.2.213", device = "eth0:2" },
    },
}
]])
    local m, errs = lvscf.load_lua(path)
    os.remove(path)
    t.eq(m, nil, "model")
    has(errs, path .. ":2: colour: unknown option")
    has(errs, path .. ":2: keepalive: out of range: -1 (must be 0.001..1000000)")
    has(errs, path .. ':4: virtual "web": device: missing (the interface or alias for address)')
    has(errs, path .. ':4: virtual "web": scheduler: unknown scheduler "wrrr" (invalid argument; valid: rr, wrr, lc, wlc,'
        .. " lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos)")
    has(errs, path .. ':5: virtual "web": server "a": weight: integer expected, got "1.5"')
    has(errs, path .. ":3: virtuals[2].name: missing")
    t.eq(#errs, 6, "error count: " .. table.concat(errs, "\n"))
end)

t.test("Lua config: syntax errors, the sandbox and the budget", function()
    local path = tmpfile("return {\n  primary = \n")
    local m, errs = lvscf.load_lua(path)
    os.remove(path)
    t.eq(m, nil, "model")
    assert(errs[1]:find(path .. ":3:", 1, true), errs[1])
    path = tmpfile("os.execute('true')\nreturn {}\n")
    m, errs = lvscf.load_any(path)
    os.remove(path)
    t.eq(m, nil, "model")
    assert(errs[1]:find(path .. ":1:", 1, true) and errs[1]:find("os"), errs[1])
    path = tmpfile("while true do end\n")
    m, errs = lvscf.load_lua(path)
    os.remove(path)
    t.eq(m, nil, "model")
    assert(errs[1]:find("ran too long", 1, true), errs[1])
    path = tmpfile("return 42\n")
    m, errs = lvscf.load_lua(path)
    os.remove(path)
    t.eq(m, nil, "model")
    t.eq(errs[1], path .. ":1: the config must return a table", "not a table")
    path = tmpfile('return { virtuals = { "web", { name = "ftp", servers = 5 } } }\n')
    m, errs = lvscf.load_lua(path)
    os.remove(path)
    t.eq(m, nil, "model with wrong block types")
    has(errs, path .. ":1: virtuals[1]: block (a table) expected")
    has(errs, path .. ':1: virtual "ftp": servers: list of servers expected')
    m, errs = lvscf.load_lua("/nonexistent/lvs.lua")
    t.eq(m, nil, "model")
    t.eq(errs[1], "/nonexistent/lvs.lua: No such file or directory", "missing file")
end)

t.test("a-config-of-tens-of-thousands-of-servers-loads-within-the-task-budget", function()
    local out = { "network = nat" }
    for v = 1, 2300 do
        out[#out + 1] = ("virtual v%d {\n active = 1\n address = 198.51.100.%d eth0:1\n port = %d\n timeout = 6")
            :format(v, v % 250 + 1, 10000 + v)
        for r = 1, 16 do
            out[#out + 1] = ("  server r%d {\n   address = 203.0.113.%d\n   active = 1\n  }"):format(r, r)
        end
        out[#out + 1] = "}"
    end
    local m, errors = lvscf.parse(table.concat(out, "\n") .. "\n", "big.cf")
    assert(m, errors and errors[1])
    t.eq(#m.virtuals, 2300, "virtuals")
    t.eq(#lvscf.write(m) > 0, true, "written")
end)

require("luaha").exit(t.failures() == 0 and 0 or 1)
