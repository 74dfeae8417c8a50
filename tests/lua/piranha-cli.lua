-- tests/lua/piranha-cli.lua: policies/piranha.lua's --check and --dry-run, and its usage errors, as an operator runs them.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"

local function piranha(...)
    return t.run_luaha({ "policies/piranha.lua", ... })
end

t.test("check-ok-and-errors", function()
    local r = piranha("-c", "tests/lua/data/seed.cf", "--check")
    t.eq(r.status, 0, "status"); t.eq(r.stdout, "tests/lua/data/seed.cf: OK\n", "stdout")
    r = piranha("-c", "tests/lua/data/errors.cf", "--check")
    t.eq(r.status, 1, "status with errors"); t.eq(r.stdout, "", "nothing on stdout")
    assert(r.stderr:find("^tests/lua/data/errors.cf:%d+: "), r.stderr)
    local n = select(2, r.stderr:gsub("\n", ""))
    assert(n > 5, "every error is printed, got " .. n)
    r = piranha("-c", "examples/lvs.lua", "--check")
    t.eq(r.stdout, "examples/lvs.lua: OK\n", "a Lua config")
    r = piranha("-c", "/nonexistent/lvs.cf", "--check")
    t.eq(r.status, 1, "missing file"); assert(r.stderr:find("No such file", 1, true), r.stderr)
end)

t.test("dry-run-shows-the-table", function()
    local r = piranha("-c", "tests/lua/data/seed.cf", "--dry-run")
    t.eq(r.status, 0, "status")
    assert(r.stdout:find("TCP  192.0.2.212:80 wrr persistent 30\n" ..
        "  -> 192.0.2.204:80               Route   1      0          0         \n" ..
        "  -> 192.0.2.205:80               Route   1      0          0         \n", 1, true), r.stdout)
    -- where the kernel has no IPVS (the host running these tests) it says so instead of the operations
    assert(r.stdout:find("# the kernel's table cannot be read", 1, true) or r.stdout:find("# from the kernel's table", 1, true),
        r.stdout)
end)

t.test("usage", function()
    local r = piranha("--bogus")
    t.eq(r.status, 2, "status"); assert(r.stderr:find("usage: luaha piranha", 1, true), r.stderr)
end)

t.test("status-listener-beyond-loopback-needs-a-password", function()
    local path = os.tmpname()
    local f = assert(io.open("tests/lua/data/seed.cf"))
    local text = f:read("a")
    f:close()
    f = assert(io.open(path, "w"))
    f:write("status_listen = 0.0.0.0:3636\n", text)
    f:close()
    local r = piranha("-c", path, "--foreground")
    t.eq(r.status, 1, "status")
    assert(r.stderr:find("status_listen 0.0.0.0:3636 is beyond loopback: status_passwd is required", 1, true), r.stderr)
    f = assert(io.open(path, "w"))
    f:write("status_listen = localhost\n", text)
    f:close()
    r = piranha("-c", path, "--foreground")
    t.eq(r.status, 1, "a bad address")
    assert(r.stderr:find('status_listen "localhost": not ADDRESS:PORT', 1, true), r.stderr)
    os.remove(path)
end)

-- seed_with(lines...): a copy of the seed's lvs.cf with these lines first; its path.
local function seed_with(...)
    local f = assert(io.open("tests/lua/data/seed.cf"))
    local text = f:read("a")
    f:close()
    local path = os.tmpname()
    f = assert(io.open(path, "w"))
    f:write(table.concat({ ... }, "\n"), "\n", text)
    f:close()
    return path
end

-- --check does what the daemon does with the model before it starts (issue 12: these passed --check, then failed at start).
t.test("check-refuses-what-the-daemon-would", function()
    local path = seed_with("status_listen = 0.0.0.0:3636")
    local r = piranha("-c", path, "--check")
    t.eq(r.status, 1, "a listener beyond loopback without a password file")
    assert(r.stderr:find(path .. ": status_listen 0.0.0.0:3636 is beyond loopback: status_passwd is required", 1, true),
        r.stderr)
    os.remove(path)
    path = seed_with("heartbeat_key = /nonexistent/heartbeat.key")
    r = piranha("-c", path, "--check")
    t.eq(r.status, 1, "a missing key file")
    assert(r.stderr:find(path .. ": heartbeat_key /nonexistent/heartbeat.key: No such file", 1, true), r.stderr)
    os.remove(path)
    path = seed_with("status_listen = 127.0.0.1:3636", "status_passwd = /nonexistent/passwd")
    r = piranha("-c", path, "--check")
    t.eq(r.status, 1, "a missing password file")
    assert(r.stderr:find("status_passwd", 1, true), r.stderr)
    os.remove(path)
end)

t.test("dry-run-of-fos-programs-no-service", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("serial_no = 1\nprimary = 192.0.2.210\nservice = fos\nfailover web {\n active = 1\n"
        .. " address = 192.0.2.212 eth0:1\n port = 80\n start_cmd = /bin/true\n stop_cmd = /bin/true\n}\n")
    f:close()
    local r = piranha("-c", path, "--dry-run")
    os.remove(path)
    t.eq(r.status, 0, "status")
    assert(not r.stdout:find("192.0.2.212:80", 1, true), "a fos router's dry run lists a service: " .. r.stdout)
    assert(r.stdout:find("# service = fos: no IPVS service is programmed", 1, true), r.stdout)
end)

-- Every example exits after --check and --dry-run (their timers start only with the router).
t.test("examples-exit-after-check-and-dry-run", function()
    for _, ex in ipairs({ "examples/careful-takeover.lua", "examples/gateway-handover.lua" }) do
        local r = t.run_luaha({ ex, "-c", "tests/lua/data/seed.cf", "--check" }, { timeout = 30 })
        t.eq(r.timed_out, false, ex .. " --check ended"); t.eq(r.status, 0, ex .. " --check")
        t.eq(r.stdout, "tests/lua/data/seed.cf: OK\n", ex .. " says OK")
        r = t.run_luaha({ ex, "-c", "tests/lua/data/seed.cf", "--dry-run" }, { timeout = 30 })
        t.eq(r.timed_out, false, ex .. " --dry-run ended"); t.eq(r.status, 0, ex .. " --dry-run")
    end
    local r = t.run_luaha({ "examples/careful-takeover.lua", "--min-healthy", "x" }, { timeout = 30 })
    t.eq(r.status, 2, "a bad option of the example's own")
end)

luaha.exit(t.failures() == 0 and 0 or 1)
