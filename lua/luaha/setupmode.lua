-- lua/luaha/setupmode.lua: setup mode (--webui): the web UI alone, no heartbeat, VIPs or IPVS, until the first Apply.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
`luaha piranha -c lvs.cf --webui ADDR:PORT` with an lvs.cf that is missing, empty or has no
active service cannot run a router; as Piranha's GUI configured a pair before pulse ran, it
serves the web UI (lua/luaha/webui.lua) on ADDR:PORT and nothing else: no heartbeat part, no
VIPs, no IPVS, no health checks. The UI's first Apply that writes a valid file calls
on_applied; the file is then read and checked as at a start, and if it runs, the UI's listener
closes and the router starts as policy.start starts it, with the UI on the same address when the
file sets no listener of its own (--webui). A file that still cannot run leaves setup mode as it
was, the reasons logged. The users file, the TLS pair and webui_insecure are the file's when it
sets them (a file that parses but has no active service), else status.passwd beside lvs.cf.
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local conf = require "luaha.routerconf"

local log = luaha.log.prefixed("lvs")

local setup = {}

local ENOENT = 2

--[[
why(path, model): why the configuration at path needs setup mode: "is missing", "is empty" or
"has no active lvs service", or nil when it can run or is wrong (its errors are the daemon's to
print). model: what lvscf.load_any gave (nil when it did not parse). A Lua configuration is
written by hand: never setup mode. Reads at most 4 KiB of the file.
]]
function setup.why(path, m)
    if path:match("%.lua$") then return nil end
    local f, _, code = io.open(path, "rb")
    if not f then return code == ENOENT and "is missing" or nil end
    local head, more = f:read(4096) or "", nil
    if #head == 4096 then more = f:read(1) end
    f:close()
    if not more and not head:find("%S") then return "is empty" end
    if not m then return nil end
    for _, b in ipairs(m.service == "fos" and m.failovers or m.virtuals) do
        if b.active then return nil end
    end
    return ("has no active %s service"):format(m.service)
end

-- The listener's settings the file gives in setup mode: its users file and TLS, never its address.
local function listener_model(m)
    if not m then return {} end
    return { status_passwd = m.status_passwd, webui_tls_cert = m.webui_tls_cert, webui_tls_key = m.webui_tls_key,
        webui_insecure = m.webui_insecure, webui_session_idle = m.webui_session_idle }
end

--[[
leave(policy, o, spec, webui, state): on_applied's work, in a task of its own (the UI's
request that called it goes on): the file read and checked as at a start; if it can run, the
UI's listener closed and the router started. Otherwise setup mode goes on (state.ui.setup set
again, so that the next Apply calls on_applied again).
]]
local function leave(policy, o, spec, webui, state)
    local cache = lvscf.cache()
    local m, errors, warnings = lvscf.load_any(o.config, cache)
    for _, w in ipairs(warnings or {}) do log.warning("%s", w) end
    local key, digest
    if m then key, digest = conf.check(m, o.config, cache, webui) end
    if key == nil then errors = digest or errors end
    local role, err
    if m and key ~= nil then role, err = conf.role_of(m, o.role) end
    if not role then
        for _, e in ipairs(errors or { err }) do log.err("setup: %s", e) end
        log.err("setup: %s cannot run a router yet: still in setup mode", o.config)
        state.ui.setup = true
        return
    end
    log.info("setup: %s applied: leaving setup mode, starting the router", o.config)
    state.server:close()
    local status
    -- The router's listener takes over the UI's sessions (nobody logs in again) and draft, when it
    -- reads the same users file.
    local carried, _, hopts = setmetatable({}, { __index = webui }), conf.listener(m, webui)
    if hopts and hopts.passwd == state.ui.passwd then
        carried.sessions, carried.draft = state.ui.sessions, state.ui.draft
    end
    status, err = policy.start(o, spec, m, { cache = cache, key = key, digest = digest, webui = carried })
    if status ~= 0 then
        log.err("setup: %s", err or "the router stopped")
        luaha.exit(status)
    end
end

--[[
run(policy, o, spec, webui, model, why): setup mode, from policy.run: o its options, spec the
policy's, webui { listen =, passwd = } (--webui), model what the file gave (or nil), why
setup.why's. With --check it says what a start would do. Returns the exit status; 0 once the UI
listens (a daemon unless --foreground).
]]
function setup.run(policy, o, spec, webui, m, why)
    local lm = listener_model(m)
    local listen, hopts = conf.listener(lm, webui)
    local errors = conf.listener_errors(lm, o.config, webui)
    local ok, ui = pcall(require, "luaha.webui")
    if not ok then errors[#errors + 1] = ("%s: setup mode needs the web UI: %s"):format(o.config, ui) end
    if #errors > 0 then
        for _, e in ipairs(errors) do io.stderr:write(e, "\n") end
        return 1
    end
    local text = ("%s %s: setup mode, the web UI on %s%s"):format(o.config, why, listen, hopts.tls and " (TLS)" or "")
    if o.check then
        print(text)
        return 0
    end
    local err
    ok, err = policy.daemonize(o)
    if not ok then
        io.stderr:write(("%s: %s\n"):format(spec.name, err))
        return 1
    end
    local state = {}
    state.ui = { setup = true, config = o.config, listen = listen, passwd = hopts.passwd, tls = hopts.tls,
        insecure = hopts.insecure, session_idle = hopts.session_idle,
        on_applied = function() luaha.spawn(leave, policy, o, spec, webui, state) end }
    state.server, err = ui.start(state.ui)
    if not state.server then
        io.stderr:write(("%s: %s\n"):format(spec.name, err))
        return 1
    end
    log.info("%s; no heartbeat, VIPs or IPVS until the first Apply", text)
    if hopts.beyond and not hopts.tls then
        log.warning("webui: plain HTTP beyond loopback (webui_insecure = 1): passwords cross the network readable")
    end
    luaha.daemon.ready()
    luaha.daemon.notify("READY=1\nSTATUS=setup mode: the web UI on " .. listen)
    return 0
end

return setup
