-- lua/luaha/passwd.lua: `luaha passwd`: sets a user's password in a status_passwd file, Argon2id, written atomically.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
Piranha's piranha-passwd gave the password to htpasswd in its argv, where `ps` shows it. Here the
password is never an argument: it is typed twice at a terminal with the echo off
(luaha.core.tty), or read as one line of the standard input with --stdin, for scripts. The file
keeps its other lines as they are (users, comments); USER's line is replaced, or added at the
end; the new file replaces the old one atomically, mode 0600, the old file's owner kept
(luaha.core.file's replace: a temporary file, fsync, rename, fsync of the
directory). The lines are those lua/luaha/httpauth.lua reads: USER:$argon2id$...

A command, run once (runtime/main.c starts it for `luaha passwd`): reading the terminal and
hashing (about 0.1 s of CPU, 64 MiB) hold its loop, which has nothing else to run; the write
waits in the worker thread.
]]
local luaha = require "luaha"
local file = require "luaha.core.file"
local tty = require "luaha.core.tty"
local httpauth = require "luaha.httpauth"

local passwd = {
    FILE = "/etc/sysconfig/ha/status.passwd",
    USER = "piranha",
    MAX_PASSWORD = 1024,    -- bytes of a password; as long a line as any terminal takes
    MAX_USER = 64,
    MAX_FILE = 1024 * 1024, -- bytes of the file read and rewritten
}

local USAGE = "usage: luaha passwd [-f file] [--stdin] [user]"

-- check_user(user): true, or nil and why the name cannot be a password file's user.
function passwd.check_user(user)
    if #user == 0 or #user > passwd.MAX_USER then
        return nil, ("user name: 1 to %d bytes"):format(passwd.MAX_USER)
    end
    if user:find("[%c%s:]") or user:sub(1, 1) == "#" then
        return nil, ("user name %q: no spaces, colons or control characters, and no # first"):format(user)
    end
    return true
end

-- check_password(pw): true, or nil and why it is refused.
function passwd.check_password(pw)
    if #pw == 0 then return nil, "an empty password is refused" end
    if #pw > passwd.MAX_PASSWORD then
        return nil, ("a password is at most %d bytes"):format(passwd.MAX_PASSWORD)
    end
    if pw:find("%z") then return nil, "a password cannot hold a NUL byte" end
    return true
end

--[[
set(path, user, password): hashes password (Argon2id) and writes path with user's line replaced
or added, atomically, mode 0600; true, or nil and why. Every other line is kept byte for byte;
a file that does not exist is created.
]]
function passwd.set(path, user, password)
    local ok, err = passwd.check_user(user)
    if not ok then return nil, err end
    ok, err = passwd.check_password(password)
    if not ok then return nil, err end
    local text, st = "", nil
    local f, oerr, code = io.open(path, "r")
    if f then
        f:close()
        text, err = file.read(path, passwd.MAX_FILE)
        if not text then return nil, err end
        st, err = file.stat(path)
        if not st then return nil, err end
    elseif code ~= 2 then           -- ENOENT: a new file; anything else is a refusal
        return nil, oerr
    end
    local hash
    hash, err = luaha.auth.pwhash(password)
    if not hash then return nil, err end
    local out, replaced = {}, false
    for line in text:gmatch("([^\n]*)\n?") do
        if line:sub(1, #user + 1) == user .. ":" then
            if not replaced then out[#out + 1] = user .. ":" .. hash end
            replaced = true
        else
            out[#out + 1] = line
        end
    end
    -- gmatch gives one empty match at the end of the text: the file's last newline.
    if out[#out] == "" then out[#out] = nil end
    if not replaced then out[#out + 1] = user .. ":" .. hash end
    assert(httpauth.parse_line(user .. ":" .. hash) == user, "the line written is the line read")
    -- The old file's owner and group stay; a new file is the caller's (root's, normally).
    if st then
        return file.replace(path, table.concat(out, "\n") .. "\n", tonumber("600", 8), st.uid, st.gid)
    end
    return file.replace(path, table.concat(out, "\n") .. "\n", tonumber("600", 8))
end

-- The password: twice at the terminal, or one line of stdin; nil and why.
local function read_password(user, stdin)
    if stdin then
        local pw, err = tty.read_line(passwd.MAX_PASSWORD)
        if not pw then return nil, "standard input: " .. err end
        return pw
    end
    local pw, err = tty.read_line(passwd.MAX_PASSWORD, ("New password for %s: "):format(user))
    if not pw then
        if err == "not a terminal" then
            return nil, "the standard input is not a terminal: give the password on it with --stdin"
        end
        return nil, err
    end
    local again
    again, err = tty.read_line(passwd.MAX_PASSWORD, "Retype it: ")
    if not again then return nil, err end
    if not luaha.auth.equal(pw, again) then return nil, "the two passwords differ" end
    return pw
end

-- main(...): the command; exits 0 when the password is set, 1 on a failure, 2 on a usage error.
function passwd.main(...)
    local args = { ... }
    local path, stdin, user = passwd.FILE, false, nil
    local function usage_error(msg)
        if msg then io.stderr:write("luaha passwd: ", msg, "\n") end
        io.stderr:write(USAGE, "\n")
        luaha.exit(2)
    end
    local i = 1
    while i <= #args do
        local a = args[i]
        if a == "-h" or a == "--help" then
            print(USAGE)
            return luaha.exit(0)
        elseif a == "--version" then
            print("luaha " .. luaha.version)
            return luaha.exit(0)
        elseif a == "-f" or a == "--file" then
            if not args[i + 1] then return usage_error(a .. " needs a file") end
            path = args[i + 1]
            i = i + 1
        elseif a == "--stdin" then
            stdin = true
        elseif a:sub(1, 1) == "-" and a ~= "-" then
            return usage_error("unknown option " .. a)
        elseif not user then
            user = a
        else
            return usage_error("a password is not taken on the command line, where ps shows it: " ..
                "type it when asked, or give it on the standard input with --stdin")
        end
        i = i + 1
    end
    user = user or passwd.USER
    local ok, err = passwd.check_user(user)
    if not ok then return usage_error(err) end
    local pw
    pw, err = read_password(user, stdin)
    if pw then ok, err = passwd.check_password(pw) end
    if not (pw and ok) then
        io.stderr:write("luaha passwd: ", err, "; nothing was changed\n")
        return luaha.exit(1)
    end
    ok, err = passwd.set(path, user, pw)
    if not ok then
        io.stderr:write("luaha passwd: ", err, "\n")
        return luaha.exit(1)
    end
    io.stderr:write(("luaha passwd: the password of %s is set in %s\n"):format(user, path))
    return luaha.exit(0)
end

return passwd
