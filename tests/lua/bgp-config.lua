-- tests/lua/bgp-config.lua: `luaha bgp-config` prints BIRD 2's part for bgp_table and bgp_proto, which bird -p parses; exit 1, 2.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local luaha = require "luaha"

local function file(text)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    return path
end

local CF = [[
serial_no = 1
service = lvs
cluster = anycast
network = direct
bgp_table = 4242
bgp_proto = 99
virtual web {
    active = 1
    address = 192.0.2.80 eth0
    server a {
        address = 198.51.100.11
        active = 1
    }
}
]]

t.test("prints-the-kernel-protocol-for-the-table-and-protocol", function()
    local path = file(CF)
    local r = t.run_luaha({ "bgp-config", "-c", path })
    t.eq(r.status, 0, "exit status: " .. r.stderr)
    t.eq(r.stderr, "", "standard error")
    local out = r.stdout
    assert(out:find("\tkernel table 4242;\n\tlearn;\n", 1, true), out)
    assert(out:find("import where krt_source = 99;", 1, true), out)
    assert(out:find("\t\texport none;", 1, true), "the kernel protocol exports nothing")
    assert(out:find("protocol bfd", 1, true) and out:find("multiplier 3;", 1, true), "bfd")
    assert(out:find("# protocol bgp upstream {", 1, true) and out:find("#\tbfd on;", 1, true), "the bgp template")
    assert(out:find("#\t\texport where krt_source = 99;\n#\t\tnext hop self;", 1, true), "the template's export")
    assert(out:find("now: 192.0.2.80)", 1, true), "the VIPs")
    -- BIRD itself parses it, with its template filled in.
    local bird = luaha.proc.run({ "sh", "-c", "command -v bird" }, { timeout = 10 })
    if bird and bird.status == 0 then
        local full = out:gsub("\n#\t", "\n\t"):gsub("\n# protocol bgp", "\nprotocol bgp"):gsub("\n# }", "\n}")
        local conf = file("router id 198.51.100.2;\n" .. full)
        local p = assert(luaha.proc.run({ "bird", "-p", "-c", conf }, { timeout = 30 }))
        os.remove(conf)
        t.eq(p.status, 0, "bird -p: " .. p.stderr .. p.stdout)
    end
    os.remove(path)
end)

t.test("a-pair-s-file-warns-a-bad-file-and-a-bad-option-fail", function()
    local path = file((CF:gsub("cluster = anycast\n", "")))
    local r = t.run_luaha({ "bgp-config", "-c", path })
    t.eq(r.status, 0, "a pair's file")
    assert(r.stderr:find("cluster is pair", 1, true), r.stderr)
    assert(r.stdout:find("kernel table 4242;", 1, true), "printed all the same")
    os.remove(path)
    path = file((CF:gsub("bgp_table = 4242", "bgp_table = 254")))
    r = t.run_luaha({ "bgp-config", "-c", path })
    t.eq(r.status, 1, "a bad file")
    assert(r.stderr:find(path .. ":5: bgp_table: table 254 is the kernel's main table", 1, true), r.stderr)
    t.eq(r.stdout, "", "nothing printed for a bad file")
    os.remove(path)
    r = t.run_luaha({ "bgp-config", "--bogus" })
    t.eq(r.status, 2, "a bad option")
    assert(r.stderr:find("usage: luaha bgp-config [-c FILE]", 1, true), r.stderr)
    r = t.run_luaha({ "bgp-config", "-c" })
    t.eq(r.status, 2, "-c without a file")
end)

luaha.exit(t.failures() == 0 and 0 or 1)
