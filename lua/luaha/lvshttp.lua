-- lua/luaha/lvshttp.lua: a router's status over HTTP: /status.json, /metrics (Prometheus), a page or the web UI; basic auth.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
start(r, listen, passwd_path): serves the running router r's status (lua/luaha/lvsctl.lua) on
listen, "ADDR:PORT" ("[ADDR]:PORT" for IPv6). Beyond loopback a password file is required, and
every request must give one of its users and passwords (HTTP basic auth, lua/luaha/httpauth.lua).
The file has lines "user:HASH", HASH made by luaha.auth.pwhash (Argon2id), e.g.
    luaha -e 'print("admin:" .. require("luaha").auth.pwhash("secret"))' > /etc/sysconfig/ha/status.passwd
Read only: GET and HEAD; other methods are answered 405 by the server before any handler runs.

/status.json and /metrics are made in pieces with the loop let run between them (luaha.pacer)
and sent as lists of strings, never joined. At 10 000 real servers (1000 x 10, checked and in the
kernel) they are 2.5 MB of JSON and 9 MB of text (node_exporter's IPVS labels on each sample),
about 0.1 s of work each on the host; no piece holds the loop more than PACE (2 ms) and one step,
a service's JSON (256 values at most, under 0.1 ms) or 16 to 64 real servers' samples (under 0.3 ms); the status document
(lvsctl.status) lets the loop run every 2 ms too. What remains in one go: the collector's atomic
step after it (up to about 15 ms), and the HTML page, lvsctl.format's text of it (about 30 ms).
]]
local luaha = require "luaha"
local json = require "luaha.json"
local lvsctl = require "luaha.lvsctl"
local httpauth = require "luaha.httpauth"
local pulse = require "luaha.pulse"

local lvshttp = {}

local PACE = 0.002          -- seconds a document's making may hold the loop before letting it run
local PART = 64 * 1024      -- bytes of one string of a body sent as a list

-- The status document of router r; opts: lvsctl.status's (/status.json?virtual=NAME, ?summary=1).
local function status(r, opts)
    return r:status(opts)
end

-- parse_listen(text): address, port; or nil and why.
function lvshttp.parse_listen(text)
    local addr, port = text:match("^%[([^%]]+)%]:(%d+)$")
    if not addr then addr, port = text:match("^([^:]+):(%d+)$") end
    port = tonumber(port)
    local numeric = addr and luaha.net.parse_addr(addr)
    if not numeric or addr:find("/", 1, true) or not port or port < 1 or port > 65535 then
        return nil, ("status_listen %q: not ADDRESS:PORT"):format(text)
    end
    return addr, port
end

local function loopback(addr)
    return addr:match("^127%.") ~= nil or addr == "::1"
end

-- check(listen, passwd_path): the listener's settings are usable; nil and why otherwise.
function lvshttp.check(listen, passwd_path)
    local addr, err = lvshttp.parse_listen(listen)
    if not addr then return nil, err end
    if not loopback(addr) and not passwd_path then
        return nil, ("status_listen %s is beyond loopback: status_passwd is required"):format(listen)
    end
    if passwd_path then
        local users
        users, err = httpauth.read_passwd(passwd_path)
        if not users then return nil, err end
    end
    return true
end

local function label(v)
    return (tostring(v):gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

-- sorted(t): the keys of t in order, so that a scrape lists the series in the same order each time.
local function sorted(t)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    return keys
end

--[[
ipvs_labels(s, rs): a real server's labels, named as node_exporter names the kernel's
(node_ipvs_backend_*: local_address, local_port, local_mark, proto, remote_address, remote_port),
so that the two join, and luaha's names of the virtual server and the real server.
]]
local function ipvs_labels(s, rs)
    local fwm = s.fwmark ~= nil and s.fwmark ~= 0
    return ('{virtual="%s",server="%s",local_address="%s",local_port="%d",local_mark="%s",proto="%s",'
        .. 'remote_address="%s",remote_port="%d"}'):format(label(s.name), label(rs.name),
        fwm and "" or label(s.address), fwm and 0 or s.port or 0, fwm and tostring(s.fwmark) or "",
        fwm and "FWM" or label((s.protocol or "tcp"):upper()), label(rs.address), rs.port)
end

--[[
Prometheus text: one metric family at a time, pace() called every few real servers (tens of µs);
a list of strings of about PART bytes each (a body for luaha.http), never joined in one. A value
that does not exist (no heartbeat heard yet, a real server not in the kernel's table) is a series
left out, never a sentinel. refused: { [reason] = count } of the listener's refusals (the
server's and the password guard's), every reason present from the start.
]]
local function metrics(r, doc, refused, pace)
    local out, lines, size = {}, {}, 0
    local function line(text)
        lines[#lines + 1] = text
        size = size + #text + 1
        if size >= PART then
            lines[#lines + 1] = ""
            out[#out + 1] = table.concat(lines, "\n")
            lines, size = {}, 0
        end
    end
    local function family(name, kind, help)
        line(("# HELP %s %s\n# TYPE %s %s"):format(name, help, name, kind))
    end
    local function sample(name, labels, value)
        line(("%s%s %s"):format(name, labels or "",
            math.type(value) == "integer" and tostring(value) or ("%.15g"):format(value)))
    end
    local function one(name, kind, help, value, labels)
        family(name, kind, help)
        if value ~= nil then sample(name, labels, value) end
    end
    one("luaha_build_info", "gauge", "always 1; the version of luaha in the label", 1,
        ('{version="%s"}'):format(label(luaha.version)))
    one("luaha_active", "gauge", "1 when this router is the active one", doc.state == "active" and 1 or 0,
        ('{role="%s"}'):format(label(doc.role)))
    local hb = doc.heartbeats or {}
    one("luaha_transitions_total", "counter", "transitions between active and passive since start",
        hb.transitions or 0)
    one("luaha_heartbeat_age_seconds", "gauge", "seconds since the partner's last heartbeat (absent: none heard)",
        doc.peer and doc.peer.heard)
    one("luaha_heartbeats_sent_total", "counter", "heartbeats sent", hb.sent or 0)
    one("luaha_heartbeats_received_total", "counter", "heartbeats accepted", hb.received or 0)
    family("luaha_heartbeats_refused_total", "counter", "heartbeats refused, by reason")
    local hbr = {}
    for _, reason in ipairs(pulse.REFUSALS) do hbr[reason] = 0 end
    for reason, n in pairs(hb.refused or {}) do hbr[reason] = n end
    for _, reason in ipairs(sorted(hbr)) do
        sample("luaha_heartbeats_refused_total", ('{reason="%s"}'):format(label(reason)), hbr[reason])
    end
    family("luaha_http_refused_total", "counter", "requests and connections the status listener refused, by reason")
    for _, reason in ipairs(sorted(refused)) do
        sample("luaha_http_refused_total", ('{reason="%s"}'):format(label(reason)), refused[reason])
    end
    local reload = r.last_reload or {}
    one("luaha_config_last_reload_successful", "gauge", "1 when the last reading of the configuration succeeded",
        reload.ok == false and 0 or 1)
    one("luaha_config_last_reload_success_timestamp_seconds", "gauge",
        "when the configuration was last read with success, in seconds since the epoch", reload.success_at)
    -- The work part's own figures (the heartbeat part is another process, with its own).
    local ps = luaha.daemon.process_stats()
    one("process_cpu_seconds_total", "counter", "CPU time of the work part (checks, IPVS, HTTP), in seconds",
        ps.cpu_seconds)
    one("process_resident_memory_bytes", "gauge", "resident memory of the work part, in bytes", ps.resident_bytes)
    one("process_open_fds", "gauge", "open file descriptors of the work part", ps.open_fds)
    one("process_max_fds", "gauge", "the work part's limit of open file descriptors", ps.max_fds)
    one("process_start_time_seconds", "gauge", "when the work part started, in seconds since the epoch",
        ps.start_time)
    local labels = {}       -- each real server's labels, made once, in the order of the loops below
    for _, s in ipairs(doc.services) do
        for _, rs in ipairs(s.servers) do
            labels[#labels + 1] = ipvs_labels(s, rs)
            if #labels % 16 == 0 then pace() end
        end
    end
    local per = {
        { "luaha_real_server_up", "gauge", "1 when the real server's checks have it in",
            function(rs) return rs.health == "in" and 1 or 0 end },
        { "luaha_real_server_weight", "gauge", "the real server's weight in the kernel's table (absent: not in it)",
            function(rs) return rs.kernel and rs.kernel.weight end },
        { "luaha_real_server_check_seconds", "gauge", "how long the last check took (absent: not checked yet)",
            function(rs) return rs.last_check and rs.last_check.seconds end },
        { "luaha_ipvs_active_connections", "gauge", "the kernel's active connections to the real server",
            function(rs) return rs.kernel and rs.kernel.active_conns end },
        { "luaha_ipvs_inactive_connections", "gauge", "the kernel's inactive connections to the real server",
            function(rs) return rs.kernel and rs.kernel.inactive_conns end },
    }
    if doc.anycast then
        -- Per virtual: announced or not, and the digest of its kernel's destination list (directors that
        -- differ there give flows different real servers).
        family("luaha_anycast_announced", "gauge", "1 while this director announces the virtual's VIP")
        for _, s in ipairs(doc.services) do
            if s.anycast then
                sample("luaha_anycast_announced", ('{virtual="%s"}'):format(label(s.name)), s.anycast.announced and 1 or 0)
            end
        end
        family("luaha_anycast_servers_info", "gauge", "always 1; the digest of the kernel's real-server list in the label")
        for _, s in ipairs(doc.services) do
            if s.anycast then
                sample("luaha_anycast_servers_info", ('{virtual="%s",digest="%s"}'):format(label(s.name),
                    label(s.anycast.digest)), 1)
            end
        end
    end
    for _, f in ipairs(per) do
        family(f[1], f[2], f[3])
        local i = 0
        for _, s in ipairs(doc.services) do
            for _, rs in ipairs(s.servers) do
                i = i + 1
                local v = f[4](rs)
                if v ~= nil then sample(f[1], labels[i], v) end
                if i % 64 == 0 then pace() end
            end
        end
    end
    lines[#lines + 1] = ""
    out[#out + 1] = table.concat(lines, "\n")
    return out
end

local function html_escape(s)
    return (tostring(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

local function page(doc)
    local text = lvsctl.format(doc)
    return ([[<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>luaha: %s %s</title>
<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}</style></head>
<body><h1>luaha &mdash; %s router, %s</h1><pre>%s</pre>
<p><a href="/status.json">status.json</a> &middot; <a href="/metrics">metrics</a></p></body></html>
]]):format(html_escape(doc.role), html_escape(doc.state), html_escape(doc.role), html_escape(doc.state),
        html_escape(text))
end

-- The scrapers' paths: Basic auth (or, with the web UI, its session) and GET or HEAD only.
local SCRAPED = { ["/status.json"] = true, ["/metrics"] = true, ["/ipvs"] = true }

--[[
start(p, listen, passwd_path [, opts]): the listener. Returns the server, or nil and why (the
address is refused beyond loopback without a password file, the port is taken, ...).
opts.webui: the web UI (lua/luaha/webui.lua) answers every path but /status.json, /metrics and
/ipvs, which keep Basic auth for scrapers and also take a UI session; POST is then allowed (for
the UI only), bodies are bounded to webui.MAX_BODY and every answer carries the UI's security
headers. opts.tls, opts.insecure, opts.session_idle go to the UI (and tls to the listener).
]]
function lvshttp.start(p, listen, passwd_path, opts)
    opts = opts or {}
    local ok, err = lvshttp.check(listen, passwd_path)
    if not ok then return nil, err end
    if opts.webui and not passwd_path then
        return nil, "webui = 1 needs status_passwd (a users file: luaha passwd writes it)"
    end
    local addr, port = lvshttp.parse_listen(listen)
    local guard = passwd_path and httpauth.new(assert(httpauth.read_passwd(passwd_path)))
    local ui_handler, ui, webui
    if opts.webui then
        webui = require "luaha.webui"
        ui_handler, ui = webui.handler({ router = p, config = p.config, passwd = passwd_path, tls = opts.tls,
            insecure = opts.insecure, session_idle = opts.session_idle, sessions = opts.sessions, draft = opts.draft,
            origin = ("%s://%s:%d"):format(opts.tls and "https" or "http",
                addr:find(":", 1, true) and ("[" .. addr .. "]") or addr, port) })
    end
    local server
    local function refused()
        local all = {}
        for reason, n in pairs(server:stats().refused) do all[reason] = n end
        for reason, n in pairs(guard and guard.refused or {}) do all[reason] = n end
        return all
    end
    local function scraped(req)
        if req.method == "POST" then
            return 405, "method not allowed\n", { Allow = "GET, HEAD" }
        end
        if guard and not (ui and ui.sessions:find(req)) then
            local allowed, code, body, headers = guard:check(req)
            if not allowed then return code, body, headers end
        end
        local pace = luaha.pacer(PACE)
        if req.path == "/status.json" then
            local q = req.query or {}
            local parts = json.encode_parts(status(p, { virtual = q.virtual, summary = q.summary == "1" }), pace)
            parts[#parts + 1] = "\n"
            return 200, parts, { ["Content-Type"] = "application/json" }
        elseif req.path == "/metrics" then
            return 200, metrics(p, status(p), refused(), pace), { ["Content-Type"] = "text/plain; version=0.0.4" }
        end
        local text, ierr = luaha.ipvs.format()      -- the kernel's table, as `ipvsadm -Ln` prints it
        if not text then return 503, ierr .. "\n", { ["Content-Type"] = "text/plain; charset=utf-8" } end
        return 200, text, { ["Content-Type"] = "text/plain; charset=utf-8" }
    end
    server, err = luaha.http.listen(addr, port, function(req)
        if ui_handler then
            if not SCRAPED[req.path] then return ui_handler(req) end
            local code, body, headers = scraped(req)
            return code, body, webui.security(headers or {}, req.tls or opts.tls)
        end
        if SCRAPED[req.path] and req.path ~= "/ipvs" then return scraped(req) end
        if guard then
            local allowed, code, body, headers = guard:check(req)
            if not allowed then return code, body, headers end
        end
        if req.path == "/" then
            return 200, page(status(p)), { ["Content-Type"] = "text/html; charset=utf-8" }
        end
        return 404, "not found\n"
    end, { methods = opts.webui and { "GET", "HEAD", "POST" } or { "GET", "HEAD" },
        max_body = opts.webui and webui.MAX_BODY or nil, tls = opts.tls })
    return server, err
end

return lvshttp
