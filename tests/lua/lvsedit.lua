-- tests/lua/lvsedit.lua: the comment-keeping editor: each kind of edit changes only its lines; the text reads back as the model.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local lvscf = require "luaha.lvscf"
local lvsedit = require "luaha.lvsedit"

-- Host names resolve only to these, so no test asks the machine's resolver.
local NAMES = { ["router-b.example.net"] = "192.0.2.211" }
local OPTS = { resolve = function(name) return NAMES[name], "unknown host" end }

local COMMENTED = assert(t.slurp("tests/lua/data/commented.cf"))
local EVERY = assert(t.slurp("tests/lua/data/every.cf"))

local function parse(text)
    local m, errs = lvscf.parse(text, "t.cf", nil, OPTS)
    assert(m, errs and table.concat(errs, "\n"))
    return m
end

--[[
edited(text, fn [, renames]): the text edited to the model fn makes of a copy of parse(text). It
must read back as that model; for the defaults fn leaves out (nil), as the writer's text of that
model reads back.
]]
local function edited(text, fn, renames)
    local m = lvsedit.copy(parse(text))
    fn(m)
    local out, errs = lvsedit.edit(text, "t.cf", m, { resolve = OPTS.resolve, renames = renames })
    assert(out, errs and table.concat(errs, "\n"))
    local back = parse(out)
    assert(t.same(back, parse(lvscf.write(m))))
    for k, v in pairs(m) do
        if type(v) ~= "table" then t.eq(back[k], v, k) end
    end
    return out
end

-- sub(text, old, new): text with the one plain occurrence of old replaced by new.
local function sub(text, old, new)
    local from, to = text:find(old, 1, true)
    assert(from, "not in the text: " .. old)
    assert(not text:find(old, to + 1, true), "twice in the text: " .. old)
    return text:sub(1, from - 1) .. new .. text:sub(to + 1)
end

local function block(m, kind, name)
    for _, b in ipairs(m[kind .. "s"]) do
        if b.name == name then return b end
    end
end

t.test("a-changed-value-rewrites-its-value-tokens-only", function()
    -- The servers follow their virtual's port: nil is "the virtual's port".
    local out = edited(COMMENTED, function(m)
        local web = block(m, "virtual", "web")
        web.port = 8080
        for _, s in ipairs(web.servers) do s.port = nil end
        web.send = "HEAD / HTTP/1.0\r\n\r\n"
        web.servers[2].address = "192.0.2.13"
        m.backup = "192.0.2.212"
    end)
    local want = sub(COMMENTED, "\tport = 80\n", "\tport = 8080\n")
    want = sub(want, '"GET /health HTTP/1.0\\r\\n\\r\\n"', '"HEAD / HTTP/1.0\\r\\n\\r\\n"')
    want = sub(want, "address = 192.0.2.12   \n", "address = 192.0.2.13   \n")
    want = sub(want, "backup = router-b.example.net\n", "backup = 192.0.2.212\n")
    t.eq(out, want, "text")
    -- A server whose model keeps the old port gets a line saying so.
    out = edited(COMMENTED, function(m) block(m, "virtual", "web").port = 8080 end)
    want = sub(COMMENTED, "\tport = 80\n", "\tport = 8080\n")
    want = sub(want, "\t\tweight = 1\n", "\t\tweight = 1\n\t\tport = 80\n")
    want = sub(want, "\t\tweight = 2\n", "\t\tweight = 2\n\t\tport = 80\n")
    t.eq(out, want, "servers keep port 80")
    -- A repeated key: the last line (the one that counts) is rewritten, its trailing tab kept; the earlier goes.
    out = edited(COMMENTED, function(m) m.keepalive = 4 end)
    t.eq(out, sub(COMMENTED, "keepalive = 2\nkeepalive = 3\t\n", "keepalive = 4\t\n"), "repeated key")
    -- Unchanged: the same bytes, however the values were written (0x10, smtp, a host name).
    t.eq(edited(EVERY, function() end), EVERY, "no change")
    t.eq(edited(COMMENTED, function() end), COMMENTED, "no change")
    out = edited(EVERY, function(m) m.virtuals[1].servers[1].weight = 5 end)
    t.eq(out, sub(EVERY, "weight = 100\n", "weight = 5\n"), "serial_no = 0x10 and port = smtp stay")
    -- A pair is rewritten whole; names that need quotes get them.
    out = edited(EVERY, function(m)
        m.nat_router_device = "eth 2"
        m.virtuals[1].dirs = { "/srv" }
        m.rsh_command = "ssh -x"
    end)
    local w = sub(EVERY, "nat_router = 203.0.113.254 eth1:1\n", 'nat_router = 203.0.113.254 "eth 2"\n')
    w = sub(w, "dirs = [ /etc /var/www ]", "dirs = [ /srv ]")
    t.eq(out, sub(w, 'rsh_command = "ssh -o BatchMode=yes"', 'rsh_command = "ssh -x"'), "pair, list, string")
end)

t.test("a-new-option-goes-after-its-blocks-last-option-line", function()
    local out = edited(COMMENTED, function(m)
        local web = block(m, "virtual", "web")
        web.sorry_server = "192.0.2.99"
        web.fall = 3
        web.servers[1].port = 8081
        m.syncdaemon = true
        m.primary_private = "198.51.100.1"
        m.backup_private = "198.51.100.2"
    end)
    local want = sub(COMMENTED, "\tscheduler = wlc\n", "\tscheduler = wlc\n\tsorry_server = 192.0.2.99\n\tfall = 3\n")
    want = sub(want, "\t\tweight = 1\n", "\t\tweight = 1\n\t\tport = 8081\n")
    want = sub(want, "network = direct\n", "network = direct\nprimary_private = 198.51.100.1\n"
        .. "backup_private = 198.51.100.2\nsyncdaemon = 1\n")
    t.eq(out, want, "text")
    -- A block with no option before its first server: right after the opener.
    local text = "primary = 192.0.2.1\nvirtual v {\n  server s {\n    address = 192.0.2.2\n  }\n"
        .. "  address = 192.0.2.3 eth0\n}\n"
    out = edited(text, function(m) m.virtuals[1].timeout = 7 end)
    t.eq(out, sub(text, "virtual v {\n", "virtual v {\n  timeout = 7\n"), "before the first server")
    -- Globals in a file that has none: after its opening comment, when a blank line ends it.
    text = "# the pair\n\nvirtual v {\n address = 192.0.2.3 eth0\n}\n"
    out = edited(text, function(m) m.primary = "192.0.2.1" end)
    t.eq(out, "# the pair\n\nprimary = 192.0.2.1\nvirtual v {\n address = 192.0.2.3 eth0\n}\n", "top")
end)

t.test("an-option-set-to-nil-loses-its-line", function()
    local out = edited(COMMENTED, function(m)
        block(m, "virtual", "web").send = nil
        block(m, "virtual", "web").expect = nil
    end)
    t.eq(out, sub(COMMENTED, '\tsend = "GET /health HTTP/1.0\\r\\n\\r\\n"\n\texpect = "HTTP/1.. 200"\n', ""), "text")
    -- A luaha extension back at its default is left out, as the writer leaves it out.
    out = edited(EVERY, function(m)
        m.garp_count = 5
        m.virtuals[1].weight_ramp = true
        m.virtuals[1].rise = nil
        m.status_listen = nil
    end)
    local want = sub(EVERY, "garp_count = 3\n", "")
    want = sub(want, "    weight_ramp = 0\n", "")
    want = sub(want, "    rise = 2\n", "")
    t.eq(out, sub(want, "status_listen = 127.0.0.1:5390\n", ""), "extensions")
    -- An option with a default that is not an extension keeps its line, with the default.
    out = edited(COMMENTED, function(m) block(m, "virtual", "web").use_regex = false end)
    t.eq(out, sub(COMMENTED, "use_regex = 1", "use_regex = 0"), "default written")
end)

t.test("blocks-and-servers-are-added-after-their-kind-and-deleted-whole", function()
    local out = edited(COMMENTED, function(m)
        m.virtuals[3] = { name = "dns", active = true, address = "192.0.2.53", device = "eth0:3", port = 53,
            protocol = "udp", servers = { { name = "ns1", address = "192.0.2.31", active = true } } }
        local web = block(m, "virtual", "web")
        web.servers[3] = { name = "rs3", address = "192.0.2.14", active = true, weight = 3 }
    end)
    local back = parse(out)
    t.eq(back.virtuals[3].servers[1].port, 53, "a new server's port is its block's")
    local want = sub(COMMENTED, "\t\tweight = 2\n\t}\n", "\t\tweight = 2\n\t}\n\tserver rs3 {\n\t\taddress = 192.0.2.14\n"
        .. "\t\tactive = 1\n\t\tweight = 3\n\t\tport = 80\n\t}\n")
    local dns = table.concat(require("luaha.lvscfwrite").block_lines({}, "virtual", back.virtuals[3], "\t"), "\n")
    want = sub(want, "\t}\n}\n# end of file\n", "\t}\n}\n\n" .. dns .. "\n# end of file\n")
    t.eq(out, want, "text")
    -- Deleted: opener to }, nothing else (the comments above stay).
    out = edited(COMMENTED, function(m)
        table.remove(m.virtuals, 2)
        table.remove(m.virtuals[1].servers, 1)
    end)
    want = sub(COMMENTED, "virtual mail {\n\tactive = 0\n\taddress = 192.0.2.213 eth0:2\n\tport = 25\n\tpersistent = 300\n"
        .. "\tserver m1 {\n\t\taddress = 192.0.2.21\n\t\tactive = 1\n\t}\n}\n", "")
    t.eq(out, sub(want, "\tserver rs1 {\n\t\taddress = 192.0.2.11\n\t\tactive = 1\n\t\tweight = 1\n\t}\n", ""), "deleted")
    -- A new block placed first in its list goes before the first one and its comment; the last one
    -- deleted, a new one takes its place.
    out = edited(COMMENTED, function(m)
        table.insert(m.virtuals, 1, { name = "first", address = "192.0.2.1", device = "lo", servers = {} })
    end)
    assert(out:find("\n\nvirtual first {\n.-\n}\n\n# the shop\nvirtual web {\n"), out)
    out = edited(COMMENTED, function(m)
        m.virtuals = { { name = "only", address = "192.0.2.1", device = "lo", servers = {} } }
        m.failovers[1] = { name = "fos", address = "192.0.2.2", device = "lo", servers = {} }
    end)
    assert(out:find("\n\n# mail: persistent, for the webmail sessions\n\nvirtual only {\n", 1, true), out)
    assert(out:find("\n}\n# end of file\n\nfailover fos {\n.-\n}\n$"), out)
    -- A file of no block at all, and an empty file.
    out = edited("primary = 192.0.2.1\n", function(m)
        m.virtuals[1] = { name = "v", address = "192.0.2.5", device = "eth0", servers = {} }
    end)
    assert(out:find("^primary = 192.0.2.1\n\nvirtual v {\n    active = 0\n    address = 192.0.2.5 eth0\n"), out)
    local m0 = lvsedit.copy(parse(out))
    out = assert(lvsedit.edit("", "t.cf", m0, OPTS))
    assert(t.same(parse(out), m0))
    assert(out:find("^primary = 192.0.2.1\nvirtual v {\n"), out)
end)

t.test("renames-change-the-opener-only", function()
    local out = edited(COMMENTED, function(m)
        local web = block(m, "virtual", "web")
        web.name = "shop front"
        web.servers[2].name = "rs2"
        web.servers[1].weight = 4
    end, { virtual = { web = "shop front" }, server = { ["web/rs 2"] = "rs2" } })
    local want = sub(COMMENTED, "virtual web {", 'virtual "shop front" {')
    want = sub(want, '\tserver "rs 2" {', "\tserver rs2 {")
    t.eq(out, sub(want, "\t\tweight = 1\n", "\t\tweight = 4\n"), "text")
    -- The server's key may give the virtual's new name too.
    out = edited(COMMENTED, function(m)
        block(m, "virtual", "web").name = "shop"
        block(m, "virtual", "shop").servers[1].name = "a"
    end, { virtual = { web = "shop" }, server = { ["shop/rs1"] = "a" } })
    t.eq(out, sub(sub(COMMENTED, "virtual web {", "virtual shop {"), "\tserver rs1 {", "\tserver a {"), "new name")
    -- Without renames, a new name is a new block: the old one goes, with its comments inside.
    out = edited(COMMENTED, function(m) block(m, "virtual", "mail").name = "post" end)
    assert(not out:find("virtual mail", 1, true) and out:find("\n\nvirtual post {\n", 1, true), out)
    -- A renamed-away name matches nothing: a new block of the old name is new.
    out = edited(COMMENTED, function(m)
        block(m, "virtual", "mail").name = "post"
        m.virtuals[3] = { name = "mail", address = "192.0.2.9", device = "eth0", servers = {} }
    end, { virtual = { mail = "post" } })
    assert(out:find("virtual post {\n\tactive = 0\n\taddress = 192.0.2.213 eth0:2\n", 1, true), out)
    assert(out:find("\n\nvirtual mail {\n\tactive = 0\n\taddress = 192.0.2.9 eth0\n", 1, true), out)
end)

t.test("crlf-files-stay-crlf-and-a-missing-last-newline-stays-missing", function()
    local crlf = COMMENTED:gsub("\n", "\r\n")
    local function change(m)
        m.keepalive = 1
        m.syncdaemon = true
        block(m, "virtual", "web").fall = 2
        block(m, "virtual", "web").servers[3] = { name = "rs3", address = "192.0.2.14", active = true }
        table.remove(m.virtuals, 2)
        m.virtuals[2] = { name = "new", address = "192.0.2.50", device = "eth0:5", servers = {} }
    end
    local out = edited(crlf, change)
    assert(not out:find("[^\r]\n") and not out:find("\r\r", 1, true), "a line without CR")
    t.eq(out, edited(COMMENTED, change):gsub("\n", "\r\n"), "the same edit as LF, in CRLF")
    local bare = COMMENTED:sub(1, -2)
    out = edited(bare, function(m) m.keepalive = 1 end)
    t.eq(out, sub(bare, "keepalive = 2\nkeepalive = 3\t\n", "keepalive = 1\t\n"), "no newline added")
    out = edited(bare, function(m) block(m, "virtual", "web").fall = 2 end)
    t.eq(out:sub(-15), "}\n# end of file", "still no newline at the end")
    -- A block added after the last line: that line gets its newline.
    out = edited(bare, function(m) m.failovers[1] = { name = "n", address = "192.0.2.7", device = "eth0", servers = {} } end)
    assert(out:find("}\n# end of file\n\nfailover n {\n.*\n}\n$"), out)
end)

t.test("refusals-name-the-option-and-change-nothing", function()
    local m = lvsedit.copy(parse(COMMENTED))
    m.virtuals[1].port = 70000
    m.virtuals[1].servers[1].active_cmd = nil
    m.active_cmd = "a \"b\" 'c'"
    local out, errs = lvsedit.edit(COMMENTED, "lvs.cf", m, OPTS)
    t.eq(out, nil, "text")
    t.eq(errs[1], "lvs.cf: active_cmd: needs quotes and holds both kinds of quote: it cannot be written as one lvs.cf token",
        "global")
    t.eq(errs[2], 'lvs.cf: virtual "web": port: out of range: 70000 (must be 1..65535)', "block")
    m = lvsedit.copy(parse(COMMENTED))
    m.virtuals[3] = { name = "x", address = "192.0.2.1", device = "eth0", servers = { { name = "s", address = "bad..host" } } }
    out, errs = lvsedit.edit(COMMENTED, "lvs.cf", m, OPTS)
    t.eq(out, nil, "text")
    t.eq(errs[1], 'lvs.cf: virtual "x": server "s": address: invalid host name or ip address "bad..host"', "new server")
    -- The new model is one the reader refuses: the reader's errors, at the lines of the edited text.
    m = lvsedit.copy(parse(COMMENTED))
    m.deadtime = 1
    out, errs = lvsedit.edit(COMMENTED, "lvs.cf", m, OPTS)
    t.eq(out, nil, "text")
    t.eq(errs[1], "lvs.cf:15: deadtime: must be longer than keepalive (3 s), or every heartbeat comes too late", "parse")
    -- A text that does not parse is not edited.
    out, errs = lvsedit.edit("primary = 192.0.2.1\nport = 80\n", "lvs.cf", m, OPTS)
    t.eq(out, nil, "text")
    t.eq(errs[1], "lvs.cf:2: port: unknown command at top level", "bad text")
    -- Blocks cannot change their order.
    m = lvsedit.copy(parse(COMMENTED))
    m.virtuals[1], m.virtuals[2] = m.virtuals[2], m.virtuals[1]
    out, errs = lvsedit.edit(COMMENTED, "lvs.cf", m, OPTS)
    t.eq(out, nil, "text")
    t.eq(errs[1], 'lvs.cf: virtual "web": name: cannot be moved before "mail": blocks keep their order in the file',
        "order")
    m = lvsedit.copy(parse(COMMENTED))
    local rs = m.virtuals[1].servers
    rs[1], rs[2] = rs[2], rs[1]
    out, errs = lvsedit.edit(COMMENTED, "lvs.cf", m, OPTS)
    t.eq(out, nil, "text")
    t.eq(errs[1], 'lvs.cf: virtual "web": server "rs1": name: cannot be moved before "rs 2": servers keep their order'
        .. " in the file", "server order")
    t.checkerr("text must be a string", lvsedit.edit, nil, "x", m)
    t.checkerr("opts.renames.virtuals", lvsedit.edit, COMMENTED, "x", m, { renames = { virtuals = {} } })
end)

t.test("values-the-reader-adjusts-stay-as-written-until-they-would-mean-otherwise", function()
    -- backup_active = 1 without backup reads as 0, and pmask = 255.255.255.255 as none: a model
    -- copied from the parse says so, and an unrelated edit leaves both lines as they are.
    local text = "primary = 192.0.2.1\nbackup_active = 1\nvirtual v {\n address = 192.0.2.3 eth0\n"
        .. " pmask = 255.255.255.255\n persistent = 60\n}\n"
    local out = edited(text, function(m) m.virtuals[1].persistent = 90 end)
    t.eq(out, sub(text, "persistent = 60", "persistent = 90"), "kept")
    -- With a backup, the line would turn the model's 0 into 1: it is rewritten.
    out = edited(text, function(m) m.backup = "192.0.2.2" end)
    t.eq(out, sub(text, "backup_active = 1\n", "backup_active = 0\nbackup = 192.0.2.2\n"), "rewritten")
    -- Asked for, as the model has it: both ways read the same, the line stays.
    local m = lvsedit.copy(parse(text))
    m.backup_active = true
    t.eq(lvsedit.edit(text, "t.cf", m, OPTS), text, "backup_active without backup")
end)

t.test("copy-is-deep-and-the-original-stays", function()
    local m = parse(EVERY)
    local c = lvsedit.copy(m)
    assert(t.same(c, m))
    c.virtuals[1].servers[1].weight = 9
    c.virtuals[1].dirs[1] = "/x"
    t.eq(m.virtuals[1].servers[1].weight, 100, "original")
    t.eq(m.virtuals[1].dirs[1], "/etc", "original list")
    assert(c.virtuals ~= m.virtuals and c.virtuals[1].servers ~= m.virtuals[1].servers, "shared tables")
end)

require("luaha").exit(t.failures() == 0 and 0 or 1)
