-- tests/lua/embedded.lua: the library and the policies built into luaha: run anywhere, by name, the tree's own, -L first.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local embed = require "luaha.core.embed"

local function slurp(path) return assert(t.slurp(path), path) end

-- sh(script, ...): sh -c script with $1... = ...; proc.run's result.
local function sh(script, ...)
    return assert(luaha.proc.run({ "sh", "-c", script, "sh", ... }, { timeout = 60 }))
end

local dir = os.tmpname()
os.remove(dir)
t.eq(sh('mkdir -m 0700 "$1" && cp "$2" "$1/luaha" && cp tests/lua/data/seed.cf "$1/lvs.cf"', dir, t.exe()).status, 0, "setup")

-- The binary copied alone to a directory with no lua/ nor policies/, run from there.
local function copied(...)
    return sh('cd "$1" && shift && exec ./luaha "$@"', dir, ...)
end

t.test("a-copied-binary-runs-the-shipped-policies", function()
    local r = copied("piranha", "-c", "lvs.cf", "--check")
    t.eq(r.status, 0, "piranha by name: " .. r.stderr); t.eq(r.stdout, "lvs.cf: OK\n", "piranha by name")
    r = copied("piranha", "-c", "lvs.cf", "--dry-run")
    t.eq(r.status, 0, "--dry-run: " .. r.stderr)
    assert(r.stdout:find("TCP  192.0.2.212:80 wrr persistent 30", 1, true), r.stdout)
    -- the documented command line, where no policies/ exists
    r = copied("policies/piranha.lua", "-c", "lvs.cf", "--check")
    t.eq(r.status, 0, "policies/piranha.lua: " .. r.stderr); t.eq(r.stdout, "lvs.cf: OK\n", "policies/piranha.lua")
    r = copied("realserver", "--mode", "bogus", "--vip", "192.0.2.212")
    t.eq(r.status, 2, "realserver by name"); assert(r.stderr:find("realserver: ", 1, true), r.stderr)
    -- a module that requires a shipped policy as a module, as examples/careful-takeover.lua does
    r = copied("-e", "print(type(require('piranha').main), require('luaha.lvscf') ~= nil)")
    t.eq(r.stdout, "function\ttrue\n", "require 'piranha': " .. r.stderr)
    -- a name that is neither a policy nor a file
    r = copied("piranhaa")
    t.eq(r.status, 1, "unknown name"); assert(r.stderr:find("cannot open piranhaa", 1, true), r.stderr)
end)

-- Every file of lua/ and policies/ is built in, as it is in the tree: a stale binary fails here (run make).
t.test("the-built-in-copy-is-the-tree's", function()
    local list = embed.list()
    local r = sh('ls lua/luaha/*.lua policies/*.lua')
    local n = 0
    for path in r.stdout:gmatch("[^\n]+") do
        local name = path:gsub("^lua/", ""):gsub("^policies/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
        t.eq(list[name], path, name .. " built in")
        local where, text = embed.search(name)
        t.eq(where, path, name .. "'s path")
        assert(text == slurp(path), path .. " differs from the copy built in: run make")
        n = n + 1
    end
    local m = 0
    for _ in pairs(list) do m = m + 1 end
    t.eq(m, n, "modules built in (one that was removed from the tree?)")
    assert(n > 30, "only " .. n .. " files")
    -- a traceback names the file in the tree
    r = copied("-e", "require('luaha.json').encode(function() end)")
    assert(r.stderr:find("lua/luaha/json.lua:%d+:"), r.stderr)
end)

-- The web UI's assets are built in too, apart from the modules (require never finds them).
t.test("the-web-assets-are-built-in", function()
    local r = sh('ls lua/luaha/web/*')
    local list, n = embed.list(true), 0
    for path in r.stdout:gmatch("[^\n]+") do
        local name = path:gsub("^lua/", "")
        t.eq(list[name], path, name .. " built in as an asset")
        assert(copied("-e", ("io.write(require('luaha.core.embed').asset(%q))"):format(name)).stdout == slurp(path),
            path .. " differs from the copy built in: run make")
        n = n + 1
    end
    assert(n >= 2, "app.js and style.css")
    r = copied("-e", "print(require('luaha.core.embed').asset('luaha/web/nosuch.js'))")
    t.eq(r.stdout, "nil\tno asset 'luaha/web/nosuch.js' built into luaha\n", "a missing asset")
    r = copied("-e", "require('luaha.core.embed').asset('../etc/passwd')")
    assert(r.status ~= 0 and r.stderr:find("a path below lua/", 1, true), "a path out is refused: " .. r.stderr)
    r = copied("-e", "print(pcall(require, 'luaha.web.app'))")
    assert(r.stdout:find("^false"), "an asset is not a module")
end)

t.test("a-directory-given-wins", function()
    t.eq(sh('mkdir "$1/dev" "$1/dev/luaha" && echo "print(\'dev piranha\', arg[0], ...)" > "$1/dev/piranha.lua" &&' ..
        ' echo "return { dev = true }" > "$1/dev/luaha/json.lua"', dir).status, 0, "setup")
    local r = copied("-L", "dev", "piranha", "a")
    t.eq(r.stdout, "dev piranha\tdev/piranha.lua\ta\n", "-L: " .. r.stderr)
    r = sh('cd "$1" && LUAHA_PATH=/nonexistent:dev ./luaha piranha b', dir)
    t.eq(r.stdout, "dev piranha\tdev/piranha.lua\tb\n", "LUAHA_PATH: " .. r.stderr)
    r = copied("-L", "dev", "-e", "print(require('luaha.json').dev, require('luaha.lvscf') ~= nil)")
    t.eq(r.stdout, "true\ttrue\n", "a module: " .. r.stderr)
    -- -L comes first and goes into LUAHA_PATH, so that the daemon's parts (started again) find the same
    r = sh('cd "$1" && LUAHA_PATH=/x ./luaha -L dev -L /y -e "print(os.getenv(\'LUAHA_PATH\'))"', dir)
    t.eq(r.stdout, "dev:/y:/x\n", "LUAHA_PATH after -L")
    r = copied("-e", "require('nosuch')")
    assert(r.stderr:find("no module 'nosuch' built into luaha", 1, true), r.stderr)
    r = copied("-L", "dev", "-e", "require('nosuch')")
    assert(r.stderr:find("no file 'dev/nosuch.lua'", 1, true), r.stderr)
end)

t.eq(sh('rm -r "$1"', dir).status, 0, "rm -r")
luaha.exit(t.failures() == 0 and 0 or 1)
