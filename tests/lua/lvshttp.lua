-- tests/lua/lvshttp.lua: the status listener does not hold the loop: wrong passwords, 1000 x 10 status and metrics.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local json = require "luaha.json"
local lvscf = require "luaha.lvscf"
local lvsctl = require "luaha.lvsctl"
local lvshttp = require "luaha.lvshttp"

local net = luaha.net

-- A configuration of nv virtual services of nr real servers each, and a router (not started) around it.
local function policy(nv, nr)
    local lines = { "serial_no = 1", "primary = 192.0.2.210", "service = lvs", "network = direct" }
    for v = 1, nv do
        lines[#lines + 1] = ("virtual vs%d {\n active = 1\n address = 203.0.113.%d eth0:1\n port = %d\n"
            .. " protocol = tcp\n scheduler = wlc"):format(v, v % 250 + 1, 1000 + v)
        for r = 1, nr do
            lines[#lines + 1] = ("  server rs%d {\n   address = 198.51.100.%d\n   active = 1\n   weight = 1\n  }"):format(r, r)
        end
        lines[#lines + 1] = "}"
    end
    local m, errors = lvscf.parse(table.concat(lines, "\n"), "big.cf")
    assert(m, errors and table.concat(errors, "\n"))
    return require("luaha.router").new(m, { config = "big.cf" })
end

local b64encode = t.base64

t.test("auth-base64-decode-round-trips-and-is-strict", function()
    local decode = luaha.auth.base64_decode
    for n = 0, 40 do
        local bytes = luaha.auth.random(math.max(n, 1)):sub(1, n)
        t.eq(decode(b64encode(bytes)), bytes, "round trip of " .. n .. " bytes")
    end
    t.eq(decode("YWRtaW46czNjcmV0"), "admin:s3cret", "a header's credentials")
    for _, bad in ipairs({ "YWRtaW4", "YWRtaW4=x", "QQ==QQ==", "Q===", "QQ=A", "YW Rt", "YW-_", "YWRt\n" }) do
        t.eq(decode(bad), nil, ("%q is refused"):format(bad))
    end
end)

t.test("auth-hex-is-two-lowercase-digits-a-byte", function()
    local hex = luaha.auth.hex
    t.eq(hex(""), "", "nothing")
    t.eq(hex("\0\1\15\16\171\255"), "00010f10abff", "each byte")
    local bytes = luaha.auth.random(64)
    t.eq(hex(bytes), (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)), "as string.format gives it")
end)

-- get(port, path [, user, password [, method]]): status, headers (lower case), body.
local function get(port, path, user, password, method)
    local c = assert(net.tcp("127.0.0.1", port, { timeout = 30 }))
    local auth = user and ("Authorization: Basic %s\r\n"):format(b64encode(user .. ":" .. password)) or ""
    assert(c:send(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n"):format(method or "GET", path, auth)))
    local reply, err = c:receive("*a", 30)
    c:close()
    assert(reply, err)
    local head, body = reply:match("^(.-)\r\n\r\n(.*)$")
    local headers = {}
    for k, v in head:gmatch("\r\n([^:\r\n]+): ([^\r\n]*)") do headers[k:lower()] = v end
    return tonumber(head:match("^HTTP/1%.%d (%d%d%d) ")), headers, body
end

--[[
ticker(): starts a task ticking every 10 ms; stop() ends it and returns the largest gap between
two ticks, and the largest CPU time the loop's thread used between two ticks: on a busy machine
the first also counts the time the process was not run, the second only what held the loop
(the worker thread's hashing is not counted).
]]
-- The CPU time of this process's main thread (the loop's; not the worker thread's), in seconds, to 10 ms.
local TASK_STAT = ("/proc/self/task/%d/stat"):format(luaha.daemon.getpid())
local function loop_cpu()
    local f = assert(io.open(TASK_STAT))
    local line = f:read("l")
    f:close()
    local fields = {}
    for w in line:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = w end
    return (tonumber(fields[12]) + tonumber(fields[13])) / 100      -- utime, stime in clock ticks
end

local function ticker()
    local running, gap, cpu_gap, last, last_cpu = true, 0, 0, luaha.now(), loop_cpu()
    local task = luaha.spawn(function()
        while running do
            luaha.sleep(0.01)
            local now, cpu = luaha.now(), loop_cpu()
            gap, cpu_gap = math.max(gap, now - last), math.max(cpu_gap, cpu - last_cpu)
            last, last_cpu = now, cpu
        end
    end)
    return function()
        running = false
        task:join(5)
        return gap, cpu_gap
    end
end

local function passwd_file(lines)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(table.concat(lines, "\n"), "\n")
    f:close()
    return path
end

-- A free port on loopback (status_listen takes no port 0), as "127.0.0.1:PORT".
local function listen_addr()
    local probe = assert(luaha.http.listen("127.0.0.1", 0, function() return 200 end))
    local port = probe:port()
    probe:close()
    return "127.0.0.1:" .. port
end

-- decode(text): json.decode, asserted.
local function decode(text)
    return assert(json.decode(text))
end

local HASH = luaha.auth.pwhash("s3cret")        -- made here once: outside a task it holds the caller

t.test("lvshttp-wrong-passwords-do-not-stall-the-loop", function()
    local path = passwd_file({ "admin:" .. HASH })
    local srv = assert(lvshttp.start(policy(1, 2), listen_addr(), path))
    os.remove(path)
    local port = srv:port()
    t.eq(get(port, "/status.json", "admin", "s3cret"), 200, "the right password")
    local stop = ticker()
    local codes, clients = {}, {}
    for i = 1, 4 do             -- four clients, 30 wrong passwords in all
        clients[i] = luaha.spawn(function()
            for j = 1, 8 do
                local code = get(port, "/metrics", "admin", ("wrong-%d-%d"):format(i, j))
                codes[code] = (codes[code] or 0) + 1
            end
        end)
    end
    for _, c in ipairs(clients) do c:join(60) end
    local gap, cpu_gap = stop()
    print(("largest gap of a 10 ms ticker while 32 wrong passwords were tried: %.1f ms, %.0f ms of the loop's CPU (%s)")
        :format(gap * 1000, cpu_gap * 1000, json.encode(codes)))
    -- An Argon2id check in the loop holds it 0.19 s or more: the loop's CPU between two ticks says whether one did.
    assert(cpu_gap < 0.1, ("the loop's thread ran %.3f s between two ticks"):format(cpu_gap))
    t.eq((codes[401] or 0) + (codes[429] or 0) + (codes[503] or 0), 32, "every wrong password refused")
    assert((codes[429] or 0) > 0, "no try was limited")
    t.eq(get(port, "/status.json", "admin", "s3cret"), 200, "the right password still works")
    srv:close()
end)

t.test("lvshttp-unknown-user-takes-as-long-and-failures-are-remembered", function()
    local path = passwd_file({ "admin:" .. HASH })
    local srv = assert(lvshttp.start(policy(1, 2), listen_addr(), path))
    os.remove(path)
    local port = srv:port()
    local function timed(...)
        local t0 = luaha.now()
        local code, headers = get(port, "/", ...)
        return luaha.now() - t0, code, headers
    end
    local known, code, headers = timed("admin", "wrong")
    t.eq(code, 401, "wrong password"); t.eq(headers["www-authenticate"], 'Basic realm="luaha"', "challenge")
    local unknown, code2 = timed("nobody", "wrong")
    t.eq(code2, 401, "unknown user")
    print(("wrong password %.1f ms, unknown user %.1f ms"):format(known * 1000, unknown * 1000))
    assert(unknown > known / 3, ("an unknown user answered in %.3f s, a known one in %.3f s"):format(unknown, known))
    local again = timed("admin", "wrong")
    assert(again < known / 3, ("a remembered failure took %.3f s, the first %.3f s"):format(again, known))
    srv:close()
end)

t.test("lvshttp-too-many-tries-429-and-busy-503", function()
    local path = passwd_file({ "admin:" .. HASH })
    local srv = assert(lvshttp.start(policy(1, 2), listen_addr(), path))
    os.remove(path)
    local port = srv:port()
    local results, tasks = {}, {}
    for i = 1, 7 do             -- at once: 4 verify (the worker's cap), 1 is busy, 2 are over the burst of 5
        tasks[i] = luaha.spawn(function()
            local code, headers = get(port, "/", "admin", "wrong" .. i)
            results[#results + 1] = { code = code, retry = headers["retry-after"] }
        end)
    end
    for _, tk in ipairs(tasks) do tk:join(60) end
    local n = {}
    for _, r in ipairs(results) do
        n[r.code] = (n[r.code] or 0) + 1
        if r.code ~= 401 then assert(tonumber(r.retry), r.code .. " without Retry-After") end
    end
    t.eq(n[429], 2, "over the burst")
    assert((n[503] or 0) + (n[401] or 0) == 5 and (n[401] or 0) <= 4, "verified or busy: " .. json.encode(n))
    t.eq(select(1, get(port, "/", nil, nil, "POST")), 405, "POST")
    t.eq(select(2, get(port, "/", nil, nil, "DELETE")).allow, "GET, HEAD", "Allow")
    srv:close()
end)

t.test("lvshttp-status-and-metrics-of-1000-x-10-in-pieces", function()
    -- The client is curl, in a shell started now, while this process is small: a client in this
    -- process would hold its loop reading megabytes, and a fork of a large process holds it too.
    local base = os.tmpname()
    local client = luaha.spawn(function()
        return luaha.proc.run({ "sh", "-c", [[
            i=0; while [ ! -s "$1.go" ] && [ $i -lt 1500 ]; do sleep 0.02; i=$((i + 1)); done
            url=http://127.0.0.1:$(cat "$1.go")
            curl -s -m 30 -o "$1.json" -D "$1.head" -w '%{http_code}\n' "$url/status.json" > "$1.codes"
            curl -s -m 30 -o "$1.metrics" -w '%{http_code}\n' "$url/metrics" >> "$1.codes"
        ]], "sh", base }, { timeout = 90 })
    end)
    local p = policy(1000, 10)
    local doc = lvsctl.status(p)
    for _, sv in ipairs(doc.services) do   -- as a running router has them: checked, in the kernel
        for _, r in ipairs(sv.servers) do
            r.health, r.last_check = "in", { ok = true, seconds = 0.00123, at = 1714567890.5, code = 200 }
            r.kernel = { weight = 1, active_conns = 3, inactive_conns = 7 }
        end
    end
    local real_status = lvsctl.status
    lvsctl.status = function() return doc end   -- the document's making is lvsctl's; its encoding is measured here
    local srv = assert(lvshttp.start(p, listen_addr()))
    local stop = ticker()
    local f = assert(io.open(base .. ".go", "w"))
    f:write(srv:port())
    f:close()
    local r = client:join(100)
    local gap, cpu_gap = stop()
    lvsctl.status = real_status
    srv:close()
    local function slurp(suffix)
        local h = io.open(base .. suffix, "rb")
        local text = h and h:read("a") or ""
        if h then h:close() end
        os.remove(base .. suffix)
        return text
    end
    local codes, head, body, metrics = slurp(".codes"), slurp(".head"), slurp(".json"), slurp(".metrics")
    slurp(".go")
    os.remove(base)
    print(("1000 x 10: /status.json %d bytes and /metrics %d bytes; the loop's largest stall %.1f ms, "
        .. "%.1f ms of CPU"):format(#body, #metrics, gap * 1000, cpu_gap * 1000))
    assert(r and r.status == 0, "curl: " .. (r and r.stderr or "did not end"))
    t.eq(codes, "200\n200\n", "status codes")
    assert(cpu_gap < 0.05, ("the loop stalled %.3f s, %.3f s of its CPU"):format(gap, cpu_gap))
    assert(head:find("Content-Type: application/json", 1, true), "type: " .. head)
    local back = decode(body)
    t.eq(#back.services, 1000, "services"); t.eq(#back.services[1000].servers, 10, "servers")
    t.eq(back.services[7].servers[3].port, 1007, "a port, an integer"); t.eq(#back.events, 0, "events, an empty array")
    t.eq(back.services[7].servers[3].kernel.inactive_conns, 7, "a nested value")
    assert(body:find('"events":[]', 1, true), "an empty array is written []")
    local samples = select(2, metrics:gsub("\nluaha_real_server_up{", ""))
    t.eq(samples, 10000, "a sample per real server")
end)

-- A live scrape of a small router: every series named, no sentinel, every refusal reason at 0; promtool agrees.
t.test("lvshttp-metrics-live-scrape", function()
    local p = policy(2, 3)
    p.last_reload = { ok = true, at = 1714567890.5, success_at = 1714567890.5 }
    local srv = assert(lvshttp.start(p, listen_addr()))
    local r = assert(luaha.proc.run({ "curl", "-s", "-m", "20", ("http://127.0.0.1:%d/metrics"):format(srv:port()) },
        { timeout = 30 }))
    srv:close()
    t.eq(r.status, 0, "curl: " .. r.stderr)
    local text = r.stdout
    local function has(line) assert(text:find("\n" .. line .. "\n", 1, true), "no line " .. line .. " in:\n" .. text) end
    has(('luaha_build_info{version="%s"} 1'):format(luaha.version))
    has("luaha_transitions_total 0")
    has('luaha_heartbeats_refused_total{reason="forged"} 0')
    has('luaha_heartbeats_refused_total{reason="not from the partner"} 0')
    has('luaha_http_refused_total{reason="connections"} 0')
    has("luaha_config_last_reload_successful 1")
    has("luaha_config_last_reload_success_timestamp_seconds 1714567890.5")
    has('luaha_real_server_up{virtual="vs2",server="rs3",local_address="203.0.113.3",local_port="1002",'
        .. 'local_mark="",proto="TCP",remote_address="198.51.100.3",remote_port="1002"} 0')
    for _, name in ipairs({ "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
        "process_max_fds", "process_start_time_seconds" }) do
        assert(text:find("\n" .. name .. " %d"), "no " .. name)
    end
    assert(not text:find(" %-1\n"), "a -1 sentinel")
    -- Neither heard nor in the kernel: the series are absent, their families still described.
    assert(not text:find("\nluaha_heartbeat_age_seconds "), "a heartbeat age without a heartbeat")
    assert(not text:find("\nluaha_real_server_weight{"), "a weight without a kernel entry")
    has("# TYPE luaha_real_server_weight gauge")
    local promtool = luaha.proc.run({ "sh", "-c", "command -v promtool" }, { timeout = 10 })
    if not promtool or promtool.status ~= 0 then
        print("SKIP lvshttp-metrics-pass-promtool: promtool is not installed (Debian package prometheus)")
        return
    end
    local check = assert(luaha.proc.run({ "promtool", "check", "metrics" }, { timeout = 30, stdin = text }))
    t.eq(check.status, 0, "promtool check metrics: " .. check.stdout .. check.stderr)
    print("PASS lvshttp-metrics-pass-promtool")
end)

t.test("json-encodes-10000-servers-within-a-task-budget", function()
    local doc = lvsctl.status(policy(1000, 10))
    local text = json.encode(doc)       -- unpaced, in this task: within its budget of instructions
    t.eq(#decode(text).services, 1000, "services")
end)

luaha.exit(t.failures() == 0 and 0 or 1)
