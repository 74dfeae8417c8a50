-- tests/lua/lib/tlscert.lua: a self-signed certificate for 127.0.0.1 made with openssl(1), for the tests of TLS.
-- SPDX-License-Identifier: GPL-2.0-or-later
local luaha = require "luaha"

local tlscert = {}

local function openssl(args)
    local argv = { "openssl" }
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    local r, err = luaha.proc.run(argv, { timeout = 30 })
    if not r then return nil, "openssl: " .. err end
    if r.status ~= 0 then return nil, "openssl " .. args[1] .. ": " .. r.stderr end
    return true
end

--[[
make(): { dir =, cert =, key =, other_key = (a key that is not the certificate's), remove = function },
or nil and why (no openssl: the Debian package openssl, in .ci/packages). A P-256 key, valid two
days, for IP 127.0.0.1, in a new directory that remove() deletes.
]]
function tlscert.make()
    local base = os.tmpname()
    os.remove(base)
    local ok, err = luaha.proc.run({ "mkdir", "-m", "0700", base }, { timeout = 10 })
    if not ok or ok.status ~= 0 then return nil, "mkdir " .. base .. ": " .. tostring(err or ok.stderr) end
    local c = { dir = base, cert = base .. "/cert.pem", key = base .. "/key.pem", other_key = base .. "/other.pem" }
    function c.remove()
        luaha.proc.run({ "rm", "-rf", "--", base }, { timeout = 10 })
    end
    ok, err = openssl({ "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", c.key, "-out", c.cert, "-days", "2", "-subj", "/CN=luaha test",
        "-addext", "subjectAltName=IP:127.0.0.1" })
    if ok then
        ok, err = openssl({ "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", c.other_key })
    end
    if not ok then
        c.remove()
        return nil, err
    end
    return c
end

return tlscert
