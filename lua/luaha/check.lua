-- lua/luaha/check.lua: nanny's health checks (TCP and UDP dialogues, send_program) and an HTTP check, as waiting calls.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[==[
Each check waits in the calling task and returns true, or nil and a reason for a log line:
"timeout" (nothing came back in time), "connect: Connection refused", `expected "HTTP" but got
"SSH-2.0..."`, "run prog: No such file or directory", "prog exited with status 1".
Asked with `reply = true`, a check also hands back what the server said, as a third value, so
that a custom check can read it; check.http always does. Unasked, a check takes the very path it
took before, and nanny's thousands of checks a second make no more garbage.

Where luaha differs from nanny 0.8.6 (spec §2.5, §7), on purpose:
- `timeout` bounds the whole check (connect, send and read together), not each step.
- The reply is read as it arrives, up to 64 KiB, until it matches, cannot match any more, the peer
  closes or the time is up; nanny did one read(), so a reply split across segments failed.
  A plain `expect` is still a prefix match and `*` still means any reply.
- No ICMP echo is sent before the check.
- UDP: the socket is not connected, so an ICMP port unreachable is not seen and a dead service
  shows as "timeout". Without `send` an empty datagram is sent (nanny sent nothing and waited
  for a reply that could not come). As in nanny, no reply is a failure even without `expect`.
- half_open (a luaha option): a SYN instead of a connection (check.halfopen); the server's
  application never sees a connection, only its kernel answers.
- send_program: `%h` and `%p` are replaced inside any word, not only whole words; the timeout
  is enforced and a program that fails or is killed fails the check; one trailing newline is
  removed from its output before the exact comparison with `expect` (nanny dropped the last byte,
  whatever it was); with no `expect`, exit status 0 is success (nanny always failed).
]==]
local luaha = require "luaha"
local regex = require "luaha.core.regex"
local model = require "luaha.lvscfmodel"

local check = {}

local defaults = {
    timeout = model.blocks.timeout.default,     -- nanny's -t: seconds
    max_reply = 65536,      -- bytes of a reply kept for matching
    quote_len = 64,         -- bytes of a reply shown in a reason
    http_send = "GET / HTTP/1.0\r\n\r\n",   -- nanny's "assuming web service on port 80"
    http_expect = "HTTP",
}

local tcp_options = { send = true, expect = true, use_regex = true, timeout = true, source = true, reply = true }
local halfopen_options = { timeout = true, source = true }
local udp_options = { send = true, expect = true, use_regex = true, timeout = true, reply = true }
local program_options = { expect = true, use_regex = true, timeout = true, port = true, reply = true }
local http_options = { path = true, method = true, headers = true, body = true, expect = true, timeout = true,
    source = true, max_body = true }
local string_options = { "send", "expect", "source" }

--[[
Raises a programmer error. level is error()'s, counted from argerror: 3 (the default) names the
public function that called argerror's caller; a helper between them passes one more per frame.
]]
local function argerror(fname, n, msg, level)
    error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), level or 3)
end

local port_opt = model.servers.port
local function check_port(fname, n, port, level)
    if math.type(port) ~= "integer" or port < port_opt.min or port > port_opt.max then
        argerror(fname, n, ("port %d-%d expected, got %s"):format(port_opt.min, port_opt.max, tostring(port)), level)
    end
end

-- The string options and the timeout of table t (options or a spec), for argument n of fname.
local function check_values(fname, n, t, level)
    for _, k in ipairs(string_options) do
        if t[k] ~= nil and type(t[k]) ~= "string" then
            argerror(fname, n, k .. ": string expected, got " .. type(t[k]), level)
        end
    end
    local timeout = t.timeout
    if timeout ~= nil and (type(timeout) ~= "number" or timeout <= 0) then
        argerror(fname, n, "timeout: positive number expected, got " .. tostring(timeout), level)
    end
end

local function check_opts(fname, n, opts, valid)
    if opts == nil then return {} end
    if type(opts) ~= "table" then argerror(fname, n, "table expected, got " .. type(opts)) end
    for k in pairs(opts) do
        if not valid[k] then argerror(fname, n, "unknown option '" .. tostring(k) .. "'") end
    end
    check_values(fname, n, opts, 4)
    return opts
end

local escapes = { ["\r"] = "\\r", ["\n"] = "\\n", ["\t"] = "\\t", ['"'] = '\\"', ["\\"] = "\\\\" }

-- A reply as it appears in a reason: quoted, control bytes escaped, cut after quote_len bytes.
local function quote(s)
    local cut = #s > defaults.quote_len
    local q = s:sub(1, defaults.quote_len):gsub("[%c\"\\\128-\255]", function(c)
        return escapes[c] or ("\\x%02x"):format(c:byte())
    end)
    return '"' .. q .. '"' .. (cut and "..." or "")
end

--[[
A matcher for expect: judge(reply, complete) says true (matches), false (cannot match) or nil
(not yet: wait for more). complete is true when no more will come. nil, err for a bad regex.
Matchers hold no state of a check, so one serves every check with the same expect: they are kept
(up to max_matchers of them), and thousands of checks a second compile and allocate nothing.
]]
local max_matchers = 1000
local any_matcher = { judge = function() return true end }
local matchers, regex_matchers, nmatchers = {}, {}, 0

local function new_matcher(expect, use_regex)
    if use_regex then
        local re, err = regex.compile(expect)
        if not re then return nil, err end
        return {
            what = "regex " .. quote(expect),
            judge = function(reply, complete)
                if re:match(reply) then return true end
                if complete then return false end
                return nil
            end,
        }
    end
    if expect == "*" then
        return {
            what = "any reply",
            judge = function(reply, complete)
                if #reply > 0 then return true end
                if complete then return false end
                return nil
            end,
        }
    end
    return {
        what = quote(expect),
        judge = function(reply, complete)
            if #reply >= #expect then return reply:sub(1, #expect) == expect end
            if complete or expect:sub(1, #reply) ~= reply then return false end
            return nil
        end,
    }
end

local function matcher(expect, use_regex)
    if expect == nil then return any_matcher end
    local cache = use_regex and regex_matchers or matchers
    local m = cache[expect]
    if m then return m end
    local err
    m, err = new_matcher(expect, use_regex)
    if not m then return nil, err end
    if nmatchers >= max_matchers then
        matchers, regex_matchers, nmatchers = {}, {}, 0
        cache = use_regex and regex_matchers or matchers
    end
    cache[expect], nmatchers = m, nmatchers + 1
    return m
end

local function mismatch(m, reply)
    return nil, ("expected %s but got %s"):format(m.what, quote(reply))
end

--[[
judged(m, text, keep): text judged by matcher m: true, or nil and why; with keep, text comes back
as a third value either way (the checks' reply option).
]]
local function judged(m, text, keep)
    if m.judge(text, true) then
        if keep then return true, nil, text end
        return true
    end
    local _, why = mismatch(m, text)
    if keep then return nil, why, text end
    return nil, why
end

local function remaining(deadline)
    return math.max(deadline - luaha.now(), 0)
end

--[[
Waits for the next bytes of a reply and returns them, or nil and "timeout", "closed" or
"receive: <reason>". It waits for one byte, then takes without waiting what else has arrived.
]]
local function receive_some(conn, room, deadline)
    local first, err = conn:receive(1, remaining(deadline))
    if not first then return nil, err end
    if room <= 1 then return first end
    local rest, _, partial = conn:receive(room - 1, 0)
    return first .. (rest or partial or "")
end

--[[
whole(conn, m, deadline): the reply until the peer closes, max_reply bytes are in or the time
is up (after the first byte), judged whole: true, nil, reply; or nil, a reason and the reply.
]]
local function whole(conn, m, deadline)
    local reply = ""
    while #reply < defaults.max_reply do
        local more, err = receive_some(conn, defaults.max_reply - #reply, deadline)
        if not more then
            if err ~= "closed" and not (err == "timeout" and #reply > 0) then return nil, err, reply end
            break
        end
        reply = reply .. more
    end
    return judged(m, reply, true)
end

--[[
The TCP check with its options checked, as separate values: check.run calls it without making an
options table per check. luaha.net.tcp reads its options before it waits, so one table serves all.
keep: read the whole reply and hand it back (whole) rather than stop where expect is decided.
]]
local connect_options = {}

local function tcp(address, port, send, expect, use_regex, timeout, source, keep)
    local m, rerr = matcher(expect, use_regex)
    if not m then return nil, rerr end
    timeout = timeout or defaults.timeout
    connect_options.timeout, connect_options.source = timeout, source
    if not send and not expect and not keep then
        -- Connect only: no connection object, thousands of checks a second make no garbage.
        local took, err = luaha.net.tcp_check(address, port, connect_options)
        if not took then return nil, err end
        return true
    end
    local deadline = luaha.now() + timeout
    local conn <close>, err = luaha.net.tcp(address, port, connect_options)
    if not conn then return nil, err end
    if send and #send > 0 then
        conn:settimeout(remaining(deadline))
        local sent, serr = conn:send(send)
        if not sent then return nil, serr end
    end
    if keep then return whole(conn, m, deadline) end
    if expect == nil then return true end
    local reply = ""
    while true do
        local verdict = m.judge(reply, #reply >= defaults.max_reply)
        if verdict then return true end
        if verdict == false then return mismatch(m, reply) end
        local more, merr = receive_some(conn, defaults.max_reply - #reply, deadline)
        if not more then
            if merr == "closed" or (merr == "timeout" and #reply > 0) then
                if m.judge(reply, true) then return true end
                return mismatch(m, reply)
            end
            return nil, merr
        end
        reply = reply .. more
    end
end

--[[
ok, err [, reply] = check.tcp(address, port [, opts]): connect, send, read until expect matches;
with opts.reply, until the server closes, and the reply comes back too. Waits.
]]
function check.tcp(address, port, opts)
    if type(address) ~= "string" then argerror("tcp", 1, "string expected, got " .. type(address)) end
    check_port("tcp", 2, port)
    opts = check_opts("tcp", 3, opts, tcp_options)
    return tcp(address, port, opts.send, opts.expect, opts.use_regex, opts.timeout, opts.source, opts.reply)
end

--[[
ok, err = check.halfopen(address, port [, opts]): sends a SYN and waits for the SYN-ACK (a listener is
there) or a RST ("connect: Connection refused", as a connect check says it). luaha and the kernel
answer the SYN-ACK with a RST, so no connection is made; SYNs are retransmitted after 1, 3, 7 ... s
within the timeout. Needs CAP_NET_RAW. Waits.
]]
local function halfopen(address, port, timeout, source)
    connect_options.timeout, connect_options.source = timeout or defaults.timeout, source
    local rtt, err = luaha.net.tcp_halfopen(address, port, connect_options)
    if not rtt then
        return nil, err == "connection refused" and "connect: Connection refused" or err
    end
    return true
end

function check.halfopen(address, port, opts)
    if type(address) ~= "string" then argerror("halfopen", 1, "string expected, got " .. type(address)) end
    check_port("halfopen", 2, port)
    opts = check_opts("halfopen", 3, opts, halfopen_options)
    return halfopen(address, port, opts.timeout, opts.source)
end

-- ok, err [, reply] = check.udp(address, port [, opts]): send a datagram, wait for a matching reply. Waits.
function check.udp(address, port, opts)
    if type(address) ~= "string" then argerror("udp", 1, "string expected, got " .. type(address)) end
    check_port("udp", 2, port)
    opts = check_opts("udp", 3, opts, udp_options)
    local m, rerr = matcher(opts.expect, opts.use_regex)
    if not m then return nil, rerr end
    local deadline = luaha.now() + (opts.timeout or defaults.timeout)
    local sock <close>, err = luaha.net.udp(address:find(":", 1, true) and "inet6" or "inet")
    if not sock then return nil, err end
    local ok, serr = sock:sendto(opts.send or "", address, port)
    if not ok then return nil, serr end
    -- Datagrams from anyone but the server (or from another of its ports) are not its reply.
    while true do
        local data, from, fport = sock:recvfrom(remaining(deadline))
        if not data then return nil, from end
        if fport == port and from:lower() == address:lower() then return judged(m, data, opts.reply) end
    end
end

-- The words of a send_program command line with %h and %p replaced.
local function program_argv(command, address, port)
    local argv = {}
    for word in command:gmatch("%S+") do
        argv[#argv + 1] = word:gsub("%%([hp])", function(c)
            if c == "h" then return address end
            return port and tostring(port) or nil
        end)
    end
    return argv
end

-- ok, err [, output] = check.program(command, address [, opts]): run send_program, match its output. Waits.
function check.program(command, address, opts)
    if type(command) ~= "string" then argerror("program", 1, "string expected, got " .. type(command)) end
    if type(address) ~= "string" then argerror("program", 2, "string expected, got " .. type(address)) end
    opts = check_opts("program", 3, opts, program_options)
    if opts.port ~= nil then check_port("program", 3, opts.port) end
    local argv = program_argv(command, address, opts.port)
    if #argv == 0 then return nil, "send_program is empty" end
    local m, rerr = matcher(opts.expect, opts.use_regex)
    if not m then return nil, rerr end
    if opts.expect ~= nil and not opts.use_regex then
        -- nanny compared the whole output, not a prefix, and "*" was not special here.
        local expect = opts.expect
        m = { what = quote(expect), judge = function(out) return out == expect end }
    end
    local r, err = luaha.proc.run(argv, { timeout = opts.timeout or defaults.timeout })
    if not r then return nil, err end
    if r.timed_out then return nil, "timeout" end
    if r.signal then return nil, ("%s killed by signal %d"):format(argv[1], r.signal) end
    if r.status ~= 0 then return nil, ("%s exited with status %d"):format(argv[1], r.status) end
    local out = r.stdout:gsub("\n$", "")
    return judged(m, out, opts.reply)
end

-- Raises if spec is not what check.run takes; fname names the public function in the message.
local function check_spec(fname, spec)
    -- Errors name the caller of the public function, as the other checks' argument errors do.
    local function bad(msg) argerror(fname, 1, msg, 5) end
    if type(spec) ~= "table" then bad("table expected, got " .. type(spec)) end
    if type(spec.address) ~= "string" then bad("address: string expected") end
    check_port(fname, 1, spec.port or model.blocks.port.default, 5)
    local protocol = spec.protocol or model.blocks.protocol.default
    if protocol ~= "tcp" and protocol ~= "udp" then
        bad("protocol: \"tcp\" or \"udp\" expected, got " .. tostring(protocol))
    end
    if spec.half_open and not spec.send_program and (protocol ~= "tcp" or spec.send or spec.expect) then
        bad("half_open: a TCP check without send or expect expected")
    end
    if spec.half_open and not spec.send_program and spec.reply then bad("half_open: no reply to hand back") end
    if not spec.send_program and protocol == "tcp" then check_values(fname, 1, spec, 5) end
end

-- A function that runs the check a checked spec describes: what it needs is read from spec once.
local function runner(spec)
    local address, port = spec.address, spec.port or model.blocks.port.default
    local protocol = spec.protocol or model.blocks.protocol.default
    local timeout, source, keep = spec.timeout, spec.source, spec.reply
    if spec.send_program then
        -- nanny never used the regex for a program's output: an exact comparison, kept here.
        local command = spec.send_program
        local opts = { expect = spec.expect, timeout = timeout, port = port, reply = keep }
        return function() return check.program(command, address, opts) end
    end
    if spec.half_open then
        return function() return halfopen(address, port, timeout, source) end
    end
    local send, expect, use_regex = spec.send, spec.expect, spec.use_regex
    if port == 80 and send == nil and expect == nil then
        send, expect = defaults.http_send, defaults.http_expect
    end
    if protocol == "udp" then
        local opts = { send = send, expect = expect, use_regex = use_regex, timeout = timeout, reply = keep }
        return function() return check.udp(address, port, opts) end
    end
    return function() return tcp(address, port, send, expect, use_regex, timeout, source, keep) end
end

--[[
ok, err [, reply] = check.run(spec): the check nanny ran for a real server, from a table with a
virtual server's options (protocol, port, send, expect, use_regex, send_program, half_open,
timeout) and the real server's address; other keys are ignored, so a merged virtual/server table
can be passed. spec.reply: the reply comes back too, as with the checks' reply option. Waits.
]]
function check.run(spec)
    check_spec("run", spec)
    return runner(spec)()
end

--[[
run = check.prepare(spec): the same check as a function, its options checked and read once:
run() waits and returns what check.run(spec) would. For a check made thousands of times a second.
]]
function check.prepare(spec)
    check_spec("prepare", spec)
    return runner(spec)
end

--[[
kind = check.simple(spec): "connect" or "halfopen" when the check spec describes is one that
luaha.core.checker can run in C: a TCP connect closed at once (no send, expect, source or reply,
and not port 80's default HTTP dialogue), or a half-open SYN; nil for the others. Raises as
check.prepare does.
]]
function check.simple(spec)
    check_spec("simple", spec)
    if spec.send_program or spec.reply or spec.source then return nil end
    if spec.half_open then return "halfopen" end
    local protocol = spec.protocol or model.blocks.protocol.default
    local port = spec.port or model.blocks.port.default
    if protocol ~= "tcp" or spec.send ~= nil or spec.expect ~= nil or port == 80 then return nil end
    return "connect"
end

-- The timeout of a check when spec gives none (nanny's -t).
check.default_timeout = defaults.timeout

--[[
ok, err, response = check.http(address, port [, opts]): one HTTP request (luaha.http.request) that
passes when the status is opts.expect (200 by default). response, {status=, headers=, body=},
comes back whenever a reply came, passing or not, so that a custom check can read its body.
Waits.
]]
function check.http(address, port, opts)
    if type(address) ~= "string" then argerror("http", 1, "string expected, got " .. type(address)) end
    check_port("http", 2, port)
    if opts == nil then opts = {} end
    if type(opts) ~= "table" then argerror("http", 3, "table expected, got " .. type(opts)) end
    for k in pairs(opts) do
        if not http_options[k] then argerror("http", 3, "unknown option '" .. tostring(k) .. "'") end
    end
    local expect = opts.expect or 200
    if math.type(expect) ~= "integer" or expect < 100 or expect > 599 then
        argerror("http", 3, "expect: a status 100-599 expected, got " .. tostring(expect))
    end
    local status, headers, body = luaha.http.request({ host = address, port = port, path = opts.path,
        method = opts.method, headers = opts.headers, body = opts.body, source = opts.source,
        timeout = opts.timeout or defaults.timeout, max_body = opts.max_body })
    if not status then return nil, headers end
    local response = { status = status, headers = headers, body = body }
    if status ~= expect then
        return nil, ("expected status %d but got %d"):format(expect, status), response
    end
    return true, nil, response
end

return check
