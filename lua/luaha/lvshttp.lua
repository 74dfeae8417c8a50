-- lua/luaha/lvshttp.lua: an LVS router's status over HTTP: /status.json, /metrics (Prometheus), an HTML page; basic auth.
--[[
start(p, listen, passwd_path): serves the running policy p's status (lua/luaha/lvsctl.lua) on
listen, "ADDR:PORT" ("[ADDR]:PORT" for IPv6). Beyond loopback a password file is required, and
every request must give one of its users and passwords (HTTP basic auth). The file has lines
"user:HASH", HASH made by luaha.auth.pwhash (Argon2id), e.g.
    luaha -e 'print("admin:" .. require("luaha").auth.pwhash("secret"))' > /etc/sysconfig/ha/status.passwd
Read only: no request changes anything.
]]
local luaha = require "luaha"
local json = require "luaha.json"
local lvsctl = require "luaha.lvsctl"

local lvshttp = {}

-- parse_listen(text): address, port; or nil and why.
function lvshttp.parse_listen(text)
    local addr, port = text:match("^%[([%x:]+)%]:(%d+)$")
    if not addr then addr, port = text:match("^([%d%.]+):(%d+)$") end
    port = tonumber(port)
    if not addr or not port or port < 1 or port > 65535 then
        return nil, ("status_listen %q: not ADDRESS:PORT"):format(text)
    end
    return addr, port
end

local function loopback(addr)
    return addr:match("^127%.") ~= nil or addr == "::1"
end

-- read_passwd(path): { user = hash }, or nil and why.
local function read_passwd(path)
    local f, err = io.open(path)
    if not f then return nil, "status_passwd " .. err end
    local users = {}
    for line in f:lines() do
        local user, hash = line:match("^([^:#%s][^:]*):(%$argon2%S+)$")
        if user then users[user] = hash end
    end
    f:close()
    if not next(users) then return nil, ("status_passwd %s: no user:HASH line"):format(path) end
    return users
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
        users, err = read_passwd(passwd_path)
        if not users then return nil, err end
    end
    return true
end

local function b64decode(s)
    local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    s = s:gsub("[^%w%+/=]", "")
    local bits = s:gsub("=", ""):gsub(".", function(c)
        local n = chars:find(c, 1, true) - 1
        local t = {}
        for i = 6, 1, -1 do t[#t + 1] = (n >> (i - 1)) & 1 end
        return table.concat(t)
    end)
    return (bits:gsub("%d%d%d?%d?%d?%d?%d?%d?", function(byte)
        if #byte ~= 8 then return "" end
        return string.char(tonumber(byte, 2))
    end))
end

-- Prometheus text: one metric family at a time.
local function metrics(doc)
    local out = {}
    local function family(name, kind, help)
        out[#out + 1] = ("# HELP %s %s\n# TYPE %s %s"):format(name, help, name, kind)
    end
    local function sample(name, labels, value)
        local l = {}
        for _, kv in ipairs(labels or {}) do
            l[#l + 1] = ('%s="%s"'):format(kv[1], tostring(kv[2]):gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"',
                ["\n"] = "\\n" }))
        end
        out[#out + 1] = ("%s%s %s"):format(name, #l > 0 and "{" .. table.concat(l, ",") .. "}" or "",
            math.type(value) == "integer" and tostring(value) or ("%.6g"):format(value))
    end
    family("luaha_active", "gauge", "1 when this router is the active one")
    sample("luaha_active", { { "role", doc.role } }, doc.state == "active" and 1 or 0)
    family("luaha_transitions_total", "counter", "transitions between active and passive since start")
    sample("luaha_transitions_total", nil, #doc.transitions)
    local hb = doc.heartbeats or {}
    family("luaha_heartbeat_age_seconds", "gauge", "seconds since the partner's last heartbeat (-1: never)")
    sample("luaha_heartbeat_age_seconds", nil, doc.peer and doc.peer.heard or -1)
    family("luaha_heartbeats_sent_total", "counter", "heartbeats sent")
    sample("luaha_heartbeats_sent_total", nil, hb.sent or 0)
    family("luaha_heartbeats_received_total", "counter", "heartbeats accepted")
    sample("luaha_heartbeats_received_total", nil, hb.received or 0)
    family("luaha_heartbeats_refused_total", "counter", "heartbeats refused, by reason")
    for reason, n in pairs(hb.refused or {}) do sample("luaha_heartbeats_refused_total", { { "reason", reason } }, n) end
    local per = {
        { "luaha_real_server_up", "gauge", "1 when the real server's checks have it in" },
        { "luaha_real_server_weight", "gauge", "the real server's weight in the kernel's table (-1: absent)" },
        { "luaha_real_server_check_seconds", "gauge", "how long the last check took" },
        { "luaha_ipvs_active_connections", "gauge", "the kernel's active connections to the real server" },
        { "luaha_ipvs_inactive_connections", "gauge", "the kernel's inactive connections to the real server" },
    }
    for _, f in ipairs(per) do
        family(f[1], f[2], f[3])
        for _, s in ipairs(doc.services) do
            for _, r in ipairs(s.servers) do
                local labels = { { "virtual", s.name }, { "server", r.name }, { "address", ("%s:%d"):format(r.address, r.port) } }
                local k = r.kernel
                local v = ({
                    luaha_real_server_up = r.health == "in" and 1 or 0,
                    luaha_real_server_weight = k and k.weight or -1,
                    luaha_real_server_check_seconds = r.last_check and r.last_check.seconds or 0,
                    luaha_ipvs_active_connections = k and k.active_conns or 0,
                    luaha_ipvs_inactive_connections = k and k.inactive_conns or 0,
                })[f[1]]
                sample(f[1], labels, v)
            end
        end
    end
    return table.concat(out, "\n") .. "\n"
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

--[[
start(p, listen, passwd_path): the listener. Returns the server, or nil and why (the address is
refused beyond loopback without a password file, the port is taken, ...).
]]
function lvshttp.start(p, listen, passwd_path)
    local ok, err = lvshttp.check(listen, passwd_path)
    if not ok then return nil, err end
    local addr, port = lvshttp.parse_listen(listen)
    local users = passwd_path and read_passwd(passwd_path)
    local verified = {}         -- "user:password" seen good: Argon2id once, not at every request
    local function authorised(req)
        if not users then return true end
        local cred = (req.headers.authorization or ""):match("^[Bb]asic%s+(%S+)$")
        local plain = cred and b64decode(cred)
        local user, pw = (plain or ""):match("^([^:]*):(.*)$")
        if not user or not users[user] then return false end
        local key = luaha.auth.hash(user .. "\0" .. pw, 32)
        if verified[key] then return true end
        if luaha.auth.pwhash_verify(users[user], pw) then
            verified[key] = true
            return true
        end
        return false
    end
    return luaha.http.listen(addr, port, function(req)
        if not authorised(req) then
            luaha.log.warning("status: %s was refused: no valid user and password", req.peer)
            return 401, "authorization required\n", { ["WWW-Authenticate"] = 'Basic realm="luaha"' }
        end
        if req.path == "/status.json" then
            return 200, json.encode(lvsctl.status(p)) .. "\n", { ["Content-Type"] = "application/json" }
        elseif req.path == "/metrics" then
            return 200, metrics(lvsctl.status(p)), { ["Content-Type"] = "text/plain; version=0.0.4" }
        elseif req.path == "/" then
            return 200, page(lvsctl.status(p)), { ["Content-Type"] = "text/html; charset=utf-8" }
        end
        return 404, "not found\n"
    end)
end

return lvshttp
