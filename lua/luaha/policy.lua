-- lua/luaha/policy.lua: what a policy's main does: its options, --check, --dry-run, becoming a daemon, starting its router.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
A policy (policies/piranha.lua, examples/careful-takeover.lua) is a Lua file that luaha runs as
a script or that another policy requires as a module. policy.run(args, spec) is its main:

    spec.usage      the usage line printed on a bad option (standard error) and with --help (standard output)
    spec.name       the control socket's name (/run/luaha/NAME.sock) and the status's policy
    spec.options    the policy's own options: { ["--min-healthy"] = { "min_healthy", "integer" } }
                    (kinds "integer", "number", "string", "flag")
    spec.activate, spec.deactivate, spec.announce   the router's hooks (router.lua)
    spec.prepare(r, o)   called with the router made and not yet started: hooks and holds go in
    spec.started(r, o)   called once it runs (timers a policy adds: never after --check)

It reads the configuration (-c FILE, an lvs.cf or a Lua configuration ending in .lua), runs every
check the daemon would (so what --check accepts, the daemon runs), prints the table with
--dry-run, becomes a daemon unless --foreground (pid file --pidfile), starts the router and tells
systemd it is ready; -t is --check, as keepalived's. Returns the exit status, luaha's convention:
0 (done, or --help, --version), 1 (a configuration or start error, on standard error), 2 (a bad
option).
]]
local luaha = require "luaha"
local lvscf = require "luaha.lvscf"
local router = require "luaha.router"
local conf = require "luaha.routerconf"

local log = luaha.log.prefixed("lvs")

local policy = {}

policy.DEFAULT_CONFIG = "/etc/sysconfig/ha/lvs.cf"
policy.DEFAULT_PIDFILE = "/run/luaha/piranha.pid"

-- The options every policy takes: name in the options table, and kind.
local common = {
    ["-c"] = { "config", "string" }, ["--check"] = { "check", "flag" }, ["-t"] = { "check", "flag" },
    ["--dry-run"] = { "dry_run", "flag" }, ["-h"] = { "help", "flag" }, ["--help"] = { "help", "flag" },
    ["--version"] = { "version", "flag" },
    ["--role"] = { "role", "role" }, ["--forceactive"] = { "forceactive", "flag" },
    ["--foreground"] = { "foreground", "flag" }, ["--pidfile"] = { "pidfile", "string" },
    ["--webui"] = { "webui", "string" },
}

local kinds = {
    string = function(v) return v end,
    integer = function(v) return math.tointeger(tonumber(v)) end,
    number = function(v) return tonumber(v) end,
    role = function(v) return (v == "primary" or v == "backup") and v or nil end,
}

--[[
parse(args [, own]): the options in args (an array of strings), common ones and the policy's own
(the spec.options table); returns the options table (config and pidfile defaulted), or nil and
what is wrong.
]]
function policy.parse(args, own)
    local o = { config = policy.DEFAULT_CONFIG, pidfile = policy.DEFAULT_PIDFILE }
    local i = 1
    while i <= #args do
        local a = args[i]
        local spec = common[a] or (own and own[a])
        if not spec then return nil, ("unknown option %s"):format(a) end
        local name, kind = spec[1], spec[2]
        if kind == "flag" then
            o[name] = true
        else
            local v = args[i + 1] and kinds[kind](args[i + 1])
            if v == nil then return nil, ("%s takes %s"):format(a, kind == "role" and "primary or backup" or "a " .. kind) end
            o[name] = v
            i = i + 1
        end
        i = i + 1
    end
    return o
end

--[[
is_script(): whether the chunk that calls it is the script luaha runs (arg[0]), rather than a
module that another policy required.
]]
function policy.is_script()
    local source = debug.getinfo(2, "S").source
    return arg ~= nil and arg[0] ~= nil and source == "@" .. arg[0]
end

--[[
daemonize(o): becomes a daemon unless o.foreground, its pid file o.pidfile (its directory made).
true, or nil and why.
]]
function policy.daemonize(o)
    if o.foreground then return true end
    local dir = o.pidfile:match("^(.*)/[^/]*$")
    if dir and dir ~= "" then luaha.proc.run({ "mkdir", "-p", dir }, { timeout = 10 }) end
    return luaha.daemon.daemonize({ pidfile = o.pidfile })
end

-- webui_of(o): --webui's { listen =, passwd = status.passwd beside the configuration }, or nil; raises nothing.
local function webui_of(o)
    if not o.webui then return nil end
    return { listen = o.webui, passwd = (o.config:match("^(.*)/[^/]*$") or ".") .. "/status.passwd" }
end

function policy.run(args, spec)
    local o, err = policy.parse(args, spec.options)
    if o and o.webui and not require("luaha.lvshttp").parse_listen(o.webui) then
        o, err = nil, ("--webui takes ADDRESS:PORT, not %s"):format(o.webui)
    end
    if not o then
        io.stderr:write(err, "\n", spec.usage or "", "\n")
        return 2
    end
    if o.help then
        print(spec.usage or "")
        return 0
    elseif o.version then
        print(("%s (luaha %s)"):format(spec.name, luaha.version))
        return 0
    end
    local webui = webui_of(o)
    -- A daemon reads its file with the parse cache, so that its first reload finds the blocks there.
    local cache = not (o.check or o.dry_run) and lvscf.cache() or nil
    local m, errors, warnings = lvscf.load_any(o.config, cache)
    for _, w in ipairs(warnings or {}) do log.warning("%s", w) end
    local setup = webui and not o.dry_run and require("luaha.setupmode")
    local why = setup and setup.why(o.config, m)
    if why then return setup.run(policy, o, spec, webui, m, why) end
    local key, digest
    if m then key, digest = conf.check(m, o.config, cache, webui) end
    if key == nil then errors = digest or errors end
    if not m or key == nil then
        for _, e in ipairs(errors) do io.stderr:write(e, "\n") end
        return 1
    end
    if o.check then
        print(o.config .. ": OK")
        return 0
    end
    if o.dry_run then return conf.dry_run(m) end
    local status
    status, err = policy.start(o, spec, m, { cache = cache, key = key, digest = digest, webui = webui, daemonize = true })
    if err then io.stderr:write(err, "\n") end
    return status
end

--[[
start(o, spec, model, how): starts the router of a checked model: its role, becoming a daemon
(how.daemonize), the router (how.cache, key, digest: routerconf.check's; how.webui), readiness.
Returns the exit status, and the error when it is 1.
]]
function policy.start(o, spec, m, how)
    local role, err = conf.role_of(m, o.role)
    if not role then return 1, ("%s: %s"):format(spec.name, err) end
    -- Before the first line of the daemon: its parts inherit the idents (lvs.cf(5) log_idents).
    luaha.log.tag_idents(m.log_idents == "piranha")
    if role == "backup" and not m.backup_active then
        luaha.log.prefixed("pulse").info("We are backup node and backup is marked inactive -- exiting pulse")
        return 0
    end
    local ok
    if how.daemonize then
        ok, err = policy.daemonize(o)
        if not ok then return 1, ("%s: %s"):format(spec.name, err) end
    end
    local r = router.new(m, { config = o.config, role = role, forceactive = o.forceactive, name = spec.name,
        cache = how.cache, key = how.key or nil, digest = how.digest, activate = spec.activate,
        deactivate = spec.deactivate, announce = spec.announce, webui = how.webui })
    -- The first reading counts as a reload that succeeded, as Prometheus counts its own (/metrics).
    r.last_reload = { ok = true, at = luaha.time(), success_at = luaha.time() }
    if spec.prepare then spec.prepare(r, o) end
    ok, err = r:start()
    if not ok then return 1, ("%s: %s"):format(spec.name, err) end
    -- Started: the shell that ran a daemon returns, systemd hears READY=1.
    luaha.daemon.ready()
    luaha.daemon.notify("READY=1")
    require("luaha.ctl").expose("router", r)
    if spec.started then spec.started(r, o) end
    return 0
end

return policy
