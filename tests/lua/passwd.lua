-- tests/lua/passwd.lua: `luaha passwd --stdin`: the file's lines, mode and atomic replacement; a password in argv refused.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"
local httpauth = require "luaha.httpauth"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -m 700 " .. dir))

local function passwd(args, stdin)
    local argv = { "passwd" }
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    return t.run_luaha(argv, { timeout = 60, stdin = stdin })
end

local function mode(path)
    local r = assert(luaha.proc.run({ "stat", "-c", "%a", path }, { timeout = 10 }))
    return r.stdout:match("%d+")
end

-- verifies(path, user, pw): the file's line for user holds a hash of pw.
local function verifies(path, user, pw)
    local users = assert(httpauth.read_passwd(path))
    return users[user] ~= nil and luaha.auth.pwhash_verify(users[user], pw)
end

t.test("stdin-creates-a-0600-file-of-argon2id-lines", function()
    local path = dir .. "/new.passwd"
    local r = passwd({ "-f", path, "--stdin" }, "first secret\n")
    t.eq(r.status, 0, "exit status (stderr: " .. r.stderr .. ")")
    t.eq(mode(path), "600", "mode")
    local text = t.slurp(path)
    assert(text:match("^piranha:%$argon2id%$v=19%$[^\n]+\n$"), "one line for the default user piranha: " .. text)
    assert(verifies(path, "piranha", "first secret"), "the hash verifies")
    assert(not verifies(path, "piranha", "first secret\n"), "the newline is not part of the password")
end)

t.test("other-lines-kept-user-replaced-mode-made-0600", function()
    local path = dir .. "/kept.passwd"
    local before = "# status users\nadmin:$argon2id$v=19$m=65536,t=2,p=1$abc$def\n\npiranha:$argon2id$old\n"
        .. "scraper:$argon2id$v=19$m=65536,t=2,p=1$ghi$jkl\n"
    local f = assert(io.open(path, "w"))
    f:write(before)
    f:close()
    assert(os.execute("chmod 644 " .. path))
    local root = luaha.daemon.getuid() == 0
    if root then assert(os.execute("chown 65534:65534 " .. path)) end
    local r = passwd({ "--stdin", "-f", path, "piranha" }, "new secret")   -- a last line without newline
    t.eq(r.status, 0, "exit status (stderr: " .. r.stderr .. ")")
    t.eq(mode(path), "600", "a 0644 file becomes 0600")
    if root then
        local owner = assert(luaha.proc.run({ "stat", "-c", "%u:%g", path }, { timeout = 10 })).stdout
        t.eq(owner, "65534:65534\n", "the old file's owner and group are kept")
    end
    local lines = {}
    for line in t.slurp(path):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
    t.eq(#lines, 5, "as many lines as before")
    t.eq(lines[1], "# status users", "comment kept")
    t.eq(lines[2], "admin:$argon2id$v=19$m=65536,t=2,p=1$abc$def", "admin kept")
    t.eq(lines[3], "", "blank line kept")
    assert(lines[4]:match("^piranha:%$argon2id%$v=19%$"), "piranha replaced in place: " .. lines[4])
    t.eq(lines[5], "scraper:$argon2id$v=19$m=65536,t=2,p=1$ghi$jkl", "scraper kept")
    assert(verifies(path, "piranha", "new secret"), "the new hash verifies")
    -- A new user is added at the end.
    r = passwd({ "--stdin", "-f", path, "ops" }, "ops secret\n")
    t.eq(r.status, 0, "exit status for a new user")
    local text = t.slurp(path)
    assert(text:find("\nops:%$argon2id%$[^\n]+\n$"), "ops added last")
    assert(verifies(path, "ops", "ops secret") and verifies(path, "piranha", "new secret"), "both verify")
    -- No temporary file is left in the directory.
    local ls = assert(luaha.proc.run({ "ls", "-A", dir }, { timeout = 10 })).stdout
    assert(not ls:find("%.tmp%."), "temporary file left: " .. ls)
end)

t.test("password-in-argv-is-refused-and-nothing-written", function()
    local path = dir .. "/argv.passwd"
    local r = passwd({ "-f", path, "piranha", "hunter2" }, "")
    t.eq(r.status, 2, "a usage error")
    assert(r.stderr:find("--stdin", 1, true), "says to use --stdin: " .. r.stderr)
    t.eq(t.slurp(path), nil, "no file written")
    r = passwd({ "-f", path, "--stdin", "piranha", "hunter2" }, "x\n")
    t.eq(r.status, 2, "also with --stdin")
end)

t.test("refusals-exit-1-or-2-and-change-nothing", function()
    local path = dir .. "/refused.passwd"
    local r = passwd({ "-f", path, "--stdin" }, "")
    t.eq(r.status, 1, "no input")
    assert(r.stderr:find("end of input", 1, true), r.stderr)
    r = passwd({ "-f", path, "--stdin" }, "\n")
    t.eq(r.status, 1, "an empty password")
    assert(r.stderr:find("empty password", 1, true), r.stderr)
    r = passwd({ "-f", path, "--stdin" }, ("x"):rep(1025) .. "\n")
    t.eq(r.status, 1, "a password of 1025 bytes")
    t.eq(t.slurp(path), nil, "nothing written")
    r = passwd({ "-f", path }, "secret\n")
    t.eq(r.status, 1, "no terminal and no --stdin")
    assert(r.stderr:find("--stdin", 1, true), r.stderr)
    r = passwd({ "-f", path, "--stdin", "bad:name" }, "secret\n")
    t.eq(r.status, 2, "a user name with a colon")
    r = passwd({ "-f" }, "")
    t.eq(r.status, 2, "-f without a file")
    r = passwd({ "--bogus" }, "")
    t.eq(r.status, 2, "unknown option")
    assert(r.stderr:find("usage: luaha passwd", 1, true), r.stderr)
    r = passwd({ "-f", dir .. "/no/such/dir/p", "--stdin" }, "secret\n")
    t.eq(r.status, 1, "a directory that does not exist")
    r = passwd({ "--help" }, "")
    t.eq(r.status, 0, "--help")
    assert(r.stdout:find("usage: luaha passwd", 1, true), r.stdout)
    r = passwd({ "--version" }, "")
    t.eq(r.status, 0, "--version")
    t.eq(r.stdout, "luaha " .. luaha.version .. "\n", "version")
end)

assert(os.execute("rm -rf " .. dir))
luaha.exit(t.failures() == 0 and 0 or 1)
