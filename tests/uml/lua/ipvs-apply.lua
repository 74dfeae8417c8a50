-- tests/uml/lua/ipvs-apply.lua: ipvs.apply, services, format and batch against the real kernel (run inside UML).
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local ipvsadm = t.ipvsadm
local luaha = require "luaha"
local ipvs = luaha.ipvs
local pretty = require "luaha.pretty"

-- Compares format() with ipvsadm -Ln and fails with both texts when they differ.
local function same_as_ipvsadm(what)
    local ours = assert(ipvs.format())
    local theirs = ipvsadm("-Ln")
    if ours ~= theirs then
        error(("%s: format() differs from ipvsadm -Ln\n--- ours\n%s--- ipvsadm\n%s"):format(what, ours, theirs), 2)
    end
end

-- 100 services x 10 real servers on documentation addresses.
local function big_table(weight_of)
    local services = {}
    for i = 1, 100 do
        local s = { protocol = i % 3 == 0 and "udp" or "tcp", address = "198.51.100." .. (i % 50 + 1),
            port = 1000 + i, scheduler = i % 2 == 0 and "wrr" or "rr", dests = {} }
        if i % 10 == 0 then s.persistent = 300 end
        if i % 20 == 0 then s.netmask = "255.255.255.0" end
        for j = 1, 10 do
            s.dests[j] = { address = "203.0.113." .. j, port = 2000 + i, weight = weight_of and weight_of(i, j) or j,
                forward = j % 3 == 0 and "nat" or j % 3 == 1 and "dr" or "tun" }
        end
        services[i] = s
    end
    return services
end

-- The kernel's table without its counters, for deep comparison with a normalized desired table.
local function strip(services)
    local out = {}
    for i, s in ipairs(services) do
        local c = {}
        for k, v in pairs(s) do if k ~= "stats" and k ~= "dests" then c[k] = v end end
        c.dests = {}
        for j, d in ipairs(s.dests) do
            local cd = {}
            for k, v in pairs(d) do
                if k ~= "stats" and k ~= "active_conns" and k ~= "inactive_conns" and k ~= "persist_conns" then
                    cd[k] = v
                end
            end
            c.dests[j] = cd
        end
        table.sort(c.dests, function(a, b) return a.key < b.key end)
        out[i] = c
    end
    table.sort(out, function(a, b) return a.key < b.key end)
    return out
end

assert(ipvs.flush())

t.test("apply-builds-table-and-format-matches-ipvsadm", function()
    local desired = big_table()
    local ticks = 0
    local ticker = luaha.every(0.001, function() ticks = ticks + 1 end)
    local report = assert(ipvs.apply(desired))
    ticker:cancel()
    t.eq(report.added, 1100, "added"); t.eq(report.changed, 0, "changed"); t.eq(report.removed, 0, "removed")
    t.eq(report.ops[1], "-A -t 198.51.100.2:1001 -s rr", "first op")
    t.eq(report.ops[2], "-a -t 198.51.100.2:1001 -r 203.0.113.1:2001 -g -w 1", "second op")
    assert(ticks > 0, "the loop did not run during apply")
    same_as_ipvsadm("after the build")
    local want = {}
    for i, s in ipairs(desired) do want[i] = ipvs.normalize(s) end
    t.eq(pretty.format(strip(assert(ipvs.services())), { depth = 10 }),
        pretty.format(strip(want), { depth = 10 }), "services() round trip")
end)

t.test("apply-again-is-zero-ops", function()
    local report = assert(ipvs.apply(big_table()))
    t.eq(#report.ops, 0, "ops: " .. table.concat(report.ops, "; "))
end)

t.test("one-weight-is-one-edit", function()
    local before = ipvsadm("-Ln")
    local report = assert(ipvs.apply(big_table(function(i, j) return (i == 42 and j == 7) and 99 or j end)))
    t.eq(#report.ops, 1, "ops")
    t.eq(report.changed, 1, "changed")
    t.eq(report.ops[1], "-e -u 198.51.100.43:1042 -r 203.0.113.7:2042 -g -w 99", "op text")
    local after = ipvsadm("-Ln")
    assert(before ~= after and after:find("203.0.113.7:2042             Route   99", 1, true), after)
    same_as_ipvsadm("after one edit")
end)

t.test("rejected-apply-leaves-table-as-before", function()
    local before = ipvsadm("-Ln")
    local desired = big_table(function(_, j) return j + 1 end)   -- 1000 edits first...
    desired[50].scheduler = "nosuchsched"                        -- ...and an edit the kernel refuses
    desired[101] = { protocol = "tcp", address = "192.0.2.50", port = 80, scheduler = "nosuchsched",
        dests = { { address = "203.0.113.1", port = 80 } } }
    local r, err = ipvs.apply(desired)
    t.eq(r, nil, "result")
    assert(err:find("Scheduler not found", 1, true), err)
    t.eq(ipvsadm("-Ln"), before, "table after the failed apply")
end)

t.test("stale-current-fails-whole-then-fresh-apply-repairs", function()
    local base = big_table()
    local report = assert(ipvs.apply(base))
    t.eq(#assert(ipvs.apply(base, { current = report.table })).ops, 0, "nothing to do given the table")
    ipvsadm("-D", "-u", "198.51.100.43:1042")       -- an operator's change behind our back
    local before = ipvsadm("-Ln")
    local changed = big_table(function(i, j) return (i == 42 or i == 7) and j + 10 or j end)
    local r, err = ipvs.apply(changed, { current = report.table })
    t.eq(r, nil, "apply on a stale table")
    assert(err:find("Service not defined", 1, true), err)
    t.eq(ipvsadm("-Ln"), before, "undone")
    report = assert(ipvs.apply(changed))
    t.eq(report.added, 11, "service re-added with its real servers")
    t.eq(report.changed, 10, "weights of service 7")
    same_as_ipvsadm("after the repair")
    assert(ipvs.apply(base))
end)

t.test("undo-restores-deleted-services-and-real-servers", function()
    local base = big_table()
    local report = assert(ipvs.apply(base))
    ipvsadm("-d", "-u", "198.51.100.11:1060", "-r", "203.0.113.5:2060")   -- behind our back
    local before = ipvsadm("-Ln")
    -- real server 1 of services 1..20 and 5 of service 60 go, then services 81..100:
    -- one batch, in which deleting the missing real server fails and the rest is carried out
    local desired = big_table()
    for i = 1, 20 do table.remove(desired[i].dests, 1) end
    table.remove(desired[60].dests, 5)
    for i = 100, 81, -1 do desired[i] = nil end
    local r, err = ipvs.apply(desired, { current = report.table })
    t.eq(r, nil, "apply on a stale table")
    assert(err:find("delete destination UDP 198.51.100.11:1060 -> 203.0.113.5:2060: No such destination", 1, true), err)
    assert(err:find("(-d -u 198.51.100.11:1060 -r 203.0.113.5:2060)", 1, true), err)
    t.eq(ipvsadm("-Ln"), before, "deleted services and real servers are back")
    assert(ipvs.apply(base))
    same_as_ipvsadm("after the repair")
end)

t.test("large-report-is-filled-on-first-use", function()
    assert(ipvs.flush())
    local report = assert(ipvs.apply(big_table()))
    assert(tostring(report.table):find("ipvs table (100 services, 1000 real servers)", 1, true), tostring(report.table))
    t.eq(#report.ops, 1100, "ops")
    t.eq(report.ops[1100], "-a -t 198.51.100.1:1100 -r 203.0.113.10:2100 -g -w 10", "last op")
    local n = 0
    for _, s in ipairs(report.table) do n = n + #s.dests end
    t.eq(n, 1000, "real servers in the table")
    t.eq(report.table[1].key, "tcp:198.51.100.2:1001", "first service")
    -- a table that has been looked into is read again, and still equals the kernel's
    t.eq(#assert(ipvs.apply(big_table(), { current = report.table })).ops, 0, "filled table as current")
end)

t.test("dry-run-and-prune", function()
    local before = ipvsadm("-Ln")
    local report = assert(ipvs.apply({}, { dry_run = true, exclusive = true }))
    t.eq(report.removed, 100, "removed in dry run")
    t.eq(ipvsadm("-Ln"), before, "dry run changed the table")
    local keep = big_table()
    keep = { keep[1] }
    report = assert(ipvs.apply(keep, { prune = false, exclusive = true }))
    t.eq(#report.ops, 0, "prune=false ops")
    t.eq(#report.table, 100, "the table without pruning keeps all services")
    t.eq(#assert(ipvs.apply(report.table, { current = report.table })).ops, 0, "merged table is the kernel's")
    report = assert(ipvs.apply(keep, { exclusive = true }))
    t.eq(report.removed, 99, "pruned services")
    same_as_ipvsadm("after pruning")
end)

t.test("ipv6-fwmark-flags-format", function()
    local desired = {
        { protocol = "tcp", address = "2001:db8::212", port = 443, scheduler = "wlc", persistent = 60, netmask = 64,
            dests = { { address = "2001:db8::10", weight = 5 }, { address = "2001:db8::9", weight = 0, forward = "tun" } } },
        { fwmark = 10, scheduler = "rr", dests = { { address = "203.0.113.5", port = 0 } } },
        { fwmark = 11, family = "inet6", scheduler = "sh", flags = { "sh-port" },
            dests = { { address = "2001:db8::20", port = 0, forward = "nat" } } },
        { protocol = "udp", address = "192.0.2.53", port = 53, scheduler = "wrr", flags = { "ops" },
            dests = { { address = "203.0.113.53", u_threshold = 100, l_threshold = 10 } } },
        { protocol = "sctp", address = "192.0.2.54", port = 3868, scheduler = "rr", persistent = 30, netmask = "255.255.0.0",
            dests = { { address = "203.0.113.54" } } },
        { protocol = "tcp", address = "192.0.2.55", port = 80, scheduler = "sh", flags = { "sh-fallback", "sh-port" },
            dests = { { address = "203.0.113.55" } } },
    }
    assert(ipvs.apply(desired, { exclusive = true }))
    same_as_ipvsadm("ipv6, fwmark, flags")
    t.eq(#assert(ipvs.apply(desired)).ops, 0, "second apply")
    local s = assert(ipvs.services())
    t.eq(#s, 6, "services")
end)

t.test("bad-input-raises-and-changes-nothing", function()
    local before = ipvsadm("-Ln")
    t.checkerr("unknown protocol", ipvs.apply, { { protocol = "icmp", address = "192.0.2.1", port = 1 } })
    t.checkerr("unknown forward method \"gre\"", ipvs.apply,
        { { protocol = "tcp", address = "192.0.2.1", port = 1, dests = { { address = "192.0.2.2", forward = "gre" } } } })
    t.checkerr("is not an IPv4 or IPv6 address", ipvs.apply, { { protocol = "tcp", address = "192.0.2.300", port = 1 } })
    t.checkerr("port must be an integer", ipvs.apply, { { protocol = "tcp", address = "192.0.2.1", port = "http" } })
    t.checkerr("repeats", ipvs.apply, { { address = "192.0.2.1", port = 1 }, { address = "192.0.2.1", port = 1 } })
    t.checkerr("unknown option 'dryrun'", ipvs.apply, {}, { dryrun = true })
    t.checkerr("unknown service flag", ipvs.add_service, { address = "192.0.2.1", port = 1, flags = { "fast" } })
    t.checkerr("unknown service field 'schedular'", ipvs.apply, { { address = "192.0.2.1", port = 1, schedular = "rr" } })
    t.checkerr("unknown destination field 'wieght'", ipvs.apply,
        { { address = "192.0.2.1", port = 1, dests = { { address = "192.0.2.2", wieght = 2 } } } })
    t.checkerr('unknown operation "move_dest"', ipvs.batch, { { op = "move_dest", service = { address = "192.0.2.1" } } })
    t.checkerr('unknown daemon state "primary"', ipvs.start_daemon, { state = "primary", ifname = "dummy0" })
    t.checkerr("flags must be an array", ipvs.add_service, { address = "192.0.2.1", port = 1, flags = "ops" })
    local ok, err = ipvs.add_dest({ protocol = "tcp", address = "192.0.2.99", port = 9 }, { address = "192.0.2.2" })
    t.eq(ok, nil, "dest on a missing service")
    t.eq(err, "add destination TCP 192.0.2.99:9 -> 192.0.2.2:9: Service not defined", "message")
    ok, err = ipvs.add_service({ protocol = "tcp", address = "192.0.2.99", port = 9, scheduler = "nosuch" })
    t.eq(ok, nil, "unknown scheduler")
    t.eq(err, "add service TCP 192.0.2.99:9: Scheduler not found", "scheduler message")
    t.eq(ipvsadm("-Ln"), before, "table after bad input")
end)

t.test("randomized-operations-match-ipvsadm", function()
    assert(ipvs.flush())
    math.randomseed(tonumber(os.getenv("SEED") or "") or 12345)
    local model = {}    -- key -> service, the desired table kept by hand
    local nops = 0
    local steps = 0
    local last      -- the previous report's table: the services that are ours
    while nops < 1000 and steps < 200 do
        steps = steps + 1
        for _ = 1, math.random(5, 15) do
            local k = math.random(1, 30)
            local key = "s" .. k
            local s = model[key]
            local action = math.random(1, 10)
            if not s then
                s = { protocol = k % 2 == 0 and "tcp" or "udp", address = "198.51.100." .. k, port = 80,
                    scheduler = ({ "rr", "wrr", "lc", "wlc", "sh", "dh", "sed", "nq" })[math.random(1, 8)], dests = {} }
                model[key] = s
            elseif action == 1 then
                model[key] = nil
            elseif action == 2 then
                s.scheduler = ({ "rr", "wrr", "lc", "wlc" })[math.random(1, 4)]
                s.persistent = math.random(0, 1) == 1 and math.random(1, 600) or nil
            elseif action <= 6 then
                s.dests[#s.dests + 1] = { address = "203.0.113." .. math.random(1, 60), port = 80,
                    weight = math.random(0, 100), forward = ({ "dr", "nat", "tun" })[math.random(1, 3)] }
                -- no repeats
                local seen = {}
                for i = #s.dests, 1, -1 do
                    if seen[s.dests[i].address] then table.remove(s.dests, i) else seen[s.dests[i].address] = true end
                end
            elseif action <= 8 and #s.dests > 0 then
                s.dests[math.random(1, #s.dests)].weight = math.random(0, 100)
            elseif #s.dests > 0 then
                table.remove(s.dests, math.random(1, #s.dests))
            end
        end
        local desired = {}
        for _, s in pairs(model) do desired[#desired + 1] = s end
        -- Services dropped from the model are removed as ours: named by owned, or by exclusive.
        local report = assert(ipvs.apply(desired, steps % 2 == 0 and { owned = last } or { exclusive = true }))
        last = report.table
        nops = nops + #report.ops
        same_as_ipvsadm("step " .. steps)
        t.eq(#assert(ipvs.apply(desired)).ops, 0, "step " .. steps .. " converged")
    end
    assert(nops >= 1000, "only " .. nops .. " operations in " .. steps .. " steps")
    print(("# %d operations in %d steps"):format(nops, steps))
end)

t.test("concurrent-applies-are-serialized", function()
    local a = { { protocol = "tcp", address = "192.0.2.60", port = 80, persistent = false,
        dests = { { address = "203.0.113.60", weight = 1 } } } }
    local b = { { protocol = "tcp", address = "192.0.2.60", port = 80, flags = { "ops" },
        dests = { { address = "203.0.113.60", weight = 2 } } } }
    local first = luaha.spawn(ipvs.apply, a)
    local second = luaha.spawn(ipvs.apply, b)
    assert(first:join(10)); local rb = assert(second:join(10))
    t.eq(table.concat(rb.ops, "; "), "-E -t 192.0.2.60:80 -s wlc -o; -e -t 192.0.2.60:80 -r 203.0.113.60:80 -g -w 2",
        "second apply diffed against the first's result")
    same_as_ipvsadm("after two applies")
end)

t.test("seed-config-programs-what-piranha-did", function()
    local m = assert(require("luaha.lvscf").load("tests/lua/data/seed.cf"))
    assert(ipvs.apply(require("luaha.lvs").desired(m), { exclusive = true }))
    local shown = ipvsadm("-Ln"):gsub(" +\n", "\n")
    t.eq(shown, table.concat({      -- piranha.md 4.3, the seed on the active router
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  192.0.2.212:80 wrr persistent 30",
        "  -> 192.0.2.204:80               Route   1      0          0",
        "  -> 192.0.2.205:80               Route   1      0          0", "" }, "\n"), "ipvsadm -Ln")
    assert(ipvs.flush())
end)

t.test("sync-daemon-start-stop", function()
    assert(ipvs.start_daemon({ state = "master", ifname = "dummy0", syncid = 7 }))
    local out = ipvsadm("-L", "--daemon")
    assert(out:find("master sync daemon (mcast=dummy0, syncid=7", 1, true), out)
    t.eq(ipvs.daemons()[1].syncid, 7, "daemons()")
    local ok, err = ipvs.start_daemon({ state = "master", ifname = "dummy0", syncid = 7 })
    t.eq(ok, nil, "second start"); t.eq(err, "start master sync daemon: Daemon has already run", "err")
    assert(ipvs.stop_daemon("master"))
    t.eq(ipvsadm("-L", "--daemon"), "", "after stop")
    ok, err = ipvs.stop_daemon("master")
    t.eq(ok, nil, "stop again result")
    t.eq(err, "stop master sync daemon: No daemon is running", "stop again")
end)

t.test("info-timeouts-zero", function()
    t.eq(ipvs.info().version, "1.2.1", "version")
    assert(ipvs.set_timeouts({ tcp = 901, udp = 301 }))
    local to = ipvs.timeouts()
    t.eq(to.tcp, 901, "tcp"); t.eq(to.udp, 301, "udp")
    assert(ipvsadm("-L", "--timeout"):find("901 120 301", 1, true))
    assert(ipvs.zero())
end)

assert(ipvs.flush())
luaha.exit(t.failures() == 0 and 0 or 1)
