-- tests/lua/lvscf-cache.lua: a parse with lvscf.cache() gives exactly what a fresh parse gives, after any edit.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local lvscf = require "luaha.lvscf"
local heartbeat = require "luaha.heartbeat"

local same = t.same

-- repair(cfg): takes the lines that the error edit added out again.
local function repair(cfg)
    for _, lines in ipairs(cfg.bad) do
        for i = #lines, 1, -1 do
            if lines[i]:find("wrrr") or lines[i] == "weight = x" or lines[i] == "colour = red" then
                table.remove(lines, i)
            end
        end
    end
    cfg.bad, cfg.unclosed = {}, false
    -- Names made unique again, addresses put back.
    local names = {}
    for _, b in ipairs(cfg.blocks) do
        if names[b.name] then b.name = b.name .. "x" end
        names[b.name] = true
        local snames = {}
        for _, sv in ipairs(b.servers) do
            if snames[sv.name] then sv.name = sv.name .. "x" end
            snames[sv.name] = true
        end
        for _, lines in ipairs({ b.lines, table.unpack(b.servers) }) do
            local has
            for _, l in ipairs(lines.lines or lines) do has = has or l:match("^address") end
            if not has then table.insert(lines.lines or lines, 1, "address = 192.0.2.9" .. (lines.lines and "" or " eth0")) end
        end
    end
end

-- A configuration as blocks of lines, so that edits can be made to it and it can be written out.
local function render(cfg)
    local out = { "network = " .. cfg.network }
    for _ = 1, cfg.comments do out[#out + 1] = "# a comment" end
    for i, b in ipairs(cfg.blocks) do
        out[#out + 1] = b.kind .. " " .. b.name .. " {"
        for _, l in ipairs(b.lines) do out[#out + 1] = "    " .. l end
        for _, s in ipairs(b.servers) do
            out[#out + 1] = "    server " .. s.name .. " {"
            for _, l in ipairs(s.lines) do out[#out + 1] = "        " .. l end
            out[#out + 1] = "    }" .. s.tail
        end
        if not (cfg.unclosed and i == #cfg.blocks) then out[#out + 1] = "}" end
    end
    return table.concat(out, "\n") .. "\n"
end

local function new_server(n)
    return { name = "s" .. n, tail = "", lines = { "address = 203.0.113." .. (n % 250 + 1), "active = 1",
        "weight = 1" } }
end

local function new_block(n)
    local b = { kind = "virtual", name = "v" .. n, servers = {}, lines = { "active = 1",
        "address = 198.51.100." .. (n % 250 + 1) .. " eth0:1", "port = " .. (8000 + n), "protocol = tcp",
        'send = "GET / HTTP/1.0\\r\\n\\r\\n"', 'expect = "HTTP"' } }
    for i = 1, 4 do b.servers[i] = new_server(10 * n + i) end
    return b
end

local function pick(list) return list[math.random(#list)] end

-- Random edits: each makes the file differ somewhere, sometimes into a broken or doubtful file.
local counter = 1000
local edits = {
    function(cfg) -- a weight
        local s = pick(pick(cfg.blocks).servers or {})
        if s then s.lines[#s.lines + 1] = "weight = " .. math.random(0, 3) end
    end,
    function(cfg) -- a block's port, which its servers take as theirs
        local b = pick(cfg.blocks)
        for i, l in ipairs(b.lines) do
            if l:match("^port") then table.remove(b.lines, i) return end
        end
        table.insert(b.lines, math.random(#b.lines + 1), "port = " .. math.random(1, 3))
    end,
    function(cfg) -- a server more, sometimes with a name the block has
        local b = pick(cfg.blocks)
        counter = counter + 1
        local s = new_server(counter)
        if #b.servers > 0 and math.random(4) == 1 then s.name = pick(b.servers).name end
        table.insert(b.servers, math.random(#b.servers + 1), s)
    end,
    function(cfg) -- a server less
        local b = pick(cfg.blocks)
        if #b.servers > 0 then table.remove(b.servers, math.random(#b.servers)) end
    end,
    function(cfg) -- an error
        local b = pick(cfg.blocks)
        local into = (#b.servers > 0 and math.random(2) == 1) and pick(b.servers).lines or b.lines
        table.insert(into, math.random(#into + 1), pick({ "scheduler = wrrr", "weight = x", "colour = red" }))
        cfg.bad[#cfg.bad + 1] = into
    end,
    function(cfg) -- a line less (an error gone, or an address missing)
        local b = pick(cfg.blocks)
        local from = (#b.servers > 0 and math.random(2) == 1) and pick(b.servers).lines or b.lines
        if #from > 0 then table.remove(from, math.random(#from)) end
    end,
    function(cfg) -- a line twice: a warning
        local b = pick(cfg.blocks)
        if #b.lines > 0 then table.insert(b.lines, pick(b.lines)) end
    end,
    function(cfg) -- two blocks change places
        local i, j = math.random(#cfg.blocks), math.random(#cfg.blocks)
        cfg.blocks[i], cfg.blocks[j] = cfg.blocks[j], cfg.blocks[i]
    end,
    function(cfg) -- a block more, new or a copy (the same name twice)
        counter = counter + 1
        local b = math.random(2) == 1 and new_block(counter) or pick(cfg.blocks)
        local copy = { kind = b.kind, name = b.name, lines = table.move(b.lines, 1, #b.lines, 1, {}), servers = {} }
        for i, s in ipairs(b.servers) do
            copy.servers[i] = { name = s.name, tail = s.tail, lines = table.move(s.lines, 1, #s.lines, 1, {}) }
        end
        table.insert(cfg.blocks, math.random(#cfg.blocks + 1), copy)
    end,
    function(cfg) -- a block less
        if #cfg.blocks > 2 then table.remove(cfg.blocks, math.random(#cfg.blocks)) end
    end,
    function(cfg) -- every line below moves
        cfg.comments = math.max(0, cfg.comments + math.random(-1, 1))
    end,
    function(cfg) -- a failover block, which warns about its servers and some keys
        local b = pick(cfg.blocks)
        b.kind = b.kind == "virtual" and "failover" or "virtual"
    end,
    function(cfg) -- text after a server's }: a warning
        local s = pick(pick(cfg.blocks).servers)
        if s then s.tail = s.tail == "" and " junk" or "" end
    end,
    function(cfg) -- a CRLF line
        local b = pick(cfg.blocks)
        if #b.lines > 0 then
            local i = math.random(#b.lines)
            b.lines[i] = b.lines[i]:sub(-1) == "\r" and b.lines[i]:sub(1, -2) or b.lines[i] .. "\r"
        end
    end,
    function(cfg) -- the last block without its }
        cfg.unclosed = not cfg.unclosed
    end,
    function(cfg) -- a global option
        cfg.network = pick({ "direct", "nat", "tunnel" })
    end,
}

t.test("a-cached-parse-after-each-edit-equals-a-fresh-parse", function()
    math.randomseed(5)
    local cfg = { network = "direct", comments = 0, blocks = {}, bad = {} }
    for n = 1, 12 do cfg.blocks[n] = new_block(n) end
    local cache = lvscf.cache()
    local before = lvscf.parse(render(cfg), "r.cf", cache)
    local reused, rounds, broken = 0, 400, 0
    for round = 1, rounds do
        for _ = 1, math.random(3) do pick(edits)(cfg) end
        local text = render(cfg)
        local m, errs, warns = lvscf.parse(text, "r.cf", cache)
        local fm, ferrs, fwarns = lvscf.parse(text, "r.cf")
        local ok, where = same(m, fm)
        assert(ok, ("round %d: model: %s\n%s"):format(round, tostring(where), text))
        ok, where = same(errs, ferrs, "errors")
        assert(ok, ("round %d: %s\n%s"):format(round, tostring(where), text))
        ok, where = same(warns, fwarns, "warnings")
        assert(ok, ("round %d: %s\n%s"):format(round, tostring(where), text))
        if m then
            local written = lvscf.write(m)
            t.eq(lvscf.write(m, cache) == written, true, "round " .. round .. ": written text")
            t.eq(heartbeat.digest(lvscf.write_parts(m, cache)), heartbeat.digest(written), "round " .. round .. ": digest")
        end
        if m and before then
            local old = {}
            for _, b in ipairs(before.virtuals) do old[b] = true end
            for _, b in ipairs(m.virtuals) do
                if old[b] then reused = reused + 1 end
            end
        end
        if not m then
            broken = broken + 1
            if math.random(2) == 1 then repair(cfg) end
        end
        before = m or before
    end
    -- The test means something only if the cache was used, and broken files were among the rounds.
    print(("# %d blocks taken from the cache, %d rounds of %d with errors"):format(reused, broken, rounds))
    assert(reused > rounds, "blocks taken from the cache: " .. reused .. ", rounds with errors: " .. broken)
    assert(broken > 20 and broken < rounds - 20, "rounds with errors: " .. broken)
end)

t.test("unchanged-blocks-are-the-same-tables-and-errors-name-their-new-line", function()
    local cfg = { network = "direct", comments = 0, blocks = {}, bad = {} }
    for n = 1, 5 do cfg.blocks[n] = new_block(n) end
    local cache = lvscf.cache()
    local m1 = assert(lvscf.parse(render(cfg), "e.cf", cache))
    -- Three lines more at the top, block 4 broken: blocks 1, 2, 3 and 5 are the tables of before.
    cfg.comments = 3
    table.insert(cfg.blocks[4].lines, "scheduler = wrrr")
    local text = render(cfg)
    local m, errs = lvscf.parse(text, "e.cf", cache)
    t.eq(m, nil, "model")
    local line = 0
    for l in text:gmatch("[^\n]*\n") do
        line = line + 1
        if l:find("wrrr", 1, true) then break end
    end
    t.eq(#errs, 1, "errors")
    t.eq(errs[1], ('e.cf:%d: virtual "v4": scheduler: unknown scheduler "wrrr" (invalid argument; valid: rr, wrr, lc,'
        .. " wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos)"):format(line), "error")
    -- Fixed, with a weight changed in block 2 and a block 1 named as block 5: a duplicate, at the new lines.
    table.remove(cfg.blocks[4].lines)
    cfg.blocks[2].servers[3].lines[3] = "weight = 2"
    m = assert(lvscf.parse(render(cfg), "e.cf", cache))
    t.eq(m.virtuals[1], m1.virtuals[1], "block 1 reused")
    t.eq(m.virtuals[3], m1.virtuals[3], "block 3 reused")
    t.eq(m.virtuals[5], m1.virtuals[5], "block 5 reused")
    t.eq(m.virtuals[2] ~= m1.virtuals[2], true, "block 2 read again")
    t.eq(m.virtuals[2].servers[1], m1.virtuals[2].servers[1], "its unchanged servers reused")
    t.eq(m.virtuals[2].servers[3].weight, 2, "its changed server read")
    cfg.blocks[5].name = "v1"
    text = render(cfg)
    local _, cerrs = lvscf.parse(text, "e.cf", cache)
    local _, ferrs = lvscf.parse(text, "e.cf")
    t.eq(#cerrs, 1, "duplicate errors")
    t.eq(cerrs[1], ferrs[1], "the duplicate's error")
    assert(cerrs[1]:find('duplicate virtual name "v1" (first at line 5)', 1, true), cerrs[1])
end)

-- The heap after a full collection, in bytes.
local function heap()
    collectgarbage()
    collectgarbage()
    return collectgarbage("count") * 1024
end

t.test("a-cached-parse-of-the-same-text-keeps-no-copy-of-it", function()
    -- A file of 2000 servers, made anew at each call (a string of its own, as each reload reads it).
    local function file()
        local out = {}
        for b = 1, 100 do
            out[#out + 1] = ("virtual vs%d {\n  active = 1\n  address = 192.0.2.%d eth0\n  port = 80\n"):format(b, b)
            for s = 1, 20 do
                out[#out + 1] = ("  server rs%d {\n    address = 198.51.100.%d\n    active = 1\n    weight = 1\n  }\n")
                    :format(b * 100 + s, s)
            end
            out[#out + 1] = "}\n"
        end
        return table.concat(out)
    end
    local cache = lvscf.cache()
    local m1 = assert(lvscf.parse(file(), "big.cf", cache))
    local before = heap()
    local m2 = assert(lvscf.parse(file(), "big.cf", cache))
    t.eq(m2.virtuals[100], m1.virtuals[100], "a block taken from the cache")
    local grown = (heap() - before) / 2000
    -- The cache holds the text of the last parse (about 70 bytes a server), no copy of it and not the text of before.
    assert(grown < 30, ("the cache grew by %.0f B a server"):format(grown))
end)

t.test("a-server-takes-its-block's-port-even-when-its-own-text-is-unchanged", function()
    local text = "virtual web {\n address = 192.0.2.1 eth0:1\n port = 80\n server a {\n  address = 192.0.2.2\n }\n}\n"
    local cache = lvscf.cache()
    t.eq(assert(lvscf.parse(text, "p.cf", cache)).virtuals[1].servers[1].port, 80, "port")
    t.eq(assert(lvscf.parse(text:gsub("port = 80", "port = 81"), "p.cf", cache)).virtuals[1].servers[1].port, 81,
        "port after the edit")
    t.eq(assert(lvscf.parse(text:gsub(" port = 80\n", ""), "p.cf", cache)).virtuals[1].servers[1].port, 80,
        "port by default")
end)

t.test("servers-before-the-port-line-and-servers-of-many-lines-are-read-again-right", function()
    local long = ("  # a comment\n"):rep(3000)
    local text = "virtual web {\n address = 192.0.2.1 eth0:1\n server a {\n  address = 192.0.2.2\n }\n port = 81\n"
        .. " server b {\n  address = 192.0.2.3\n }\n server c {\n" .. long .. "  address = 192.0.2.4\n }\n}\n"
    local cache = lvscf.cache()
    local m1 = assert(lvscf.parse(text, "p.cf", cache))
    t.eq(m1.virtuals[1].servers[1].port, 80, "a is read before the port line")
    t.eq(m1.virtuals[1].servers[2].port, 81, "b after it")
    local edited = text:gsub("192.0.2.3", "192.0.2.5")
    local m2 = assert(lvscf.parse(edited, "p.cf", cache))
    local ok, where = same(m2, assert(lvscf.parse(edited, "p.cf")))
    assert(ok, "the cached parse differs from a fresh one at " .. tostring(where))
    t.eq(m2.virtuals[1].servers[1], m1.virtuals[1].servers[1], "a taken from the cache (the port it was read with)")
    assert(m2.virtuals[1].servers[3] ~= m1.virtuals[1].servers[3], "c, of 3000 lines, is read again")
    local m3 = assert(lvscf.parse(edited:gsub(" port = 81\n", ""), "p.cf", cache))
    t.eq(m3.virtuals[1].servers[2].port, 80, "b by default once the port line goes")
    ok, where = same(m3, assert(lvscf.parse(edited:gsub(" port = 81\n", ""), "p.cf")))
    assert(ok, "after the port line went: " .. tostring(where))
end)

t.test("file-same-compares-ranges-of-two-texts", function()
    local file = require "luaha.core.file"
    t.eq(file.same("abcdef", 2, "xbcd", 2, 3), true, "bcd and bcd")
    t.eq(file.same("abc", 1, "abd", 1, 3), false, "abc and abd")
    t.eq(file.same("abc", 3, "abc", 3, 2), false, "a range past the end")
    t.eq(file.same("abc", 4, "", 1, 0), true, "empty ranges at the ends")
    t.eq(file.same("abc", 5, "", 1, 0), false, "a range that starts past the end")
    t.eq(file.same("a", 0, "a", 1, 1), false, "position 0")
    t.checkerr("negative length", file.same, "a", 1, "a", 1, -1)
end)

t.test("a-block's-part-is-the-lines-the-editor-writes-for-it", function()
    -- write_parts makes a block's text of pieces, the editor (lvsedit) takes block_lines: the same text.
    local writer = require "luaha.lvscfwrite"
    for _, path in ipairs({ "examples/lvs.cf", "examples/lvs.cf.d/fos.cf", "examples/lvs.cf.d/nat.cf",
            "examples/lvs.cf.d/fwmark.cf", "examples/lvs.cf.d/persistence.cf" }) do
        local m = assert(lvscf.load(path))
        local parts, k = lvscf.write_parts(m), 1
        if m.serial_no then k = 2 end       -- the globals' part first
        for _, kind in ipairs({ "virtual", "failover" }) do
            for _, b in ipairs(m[kind .. "s"]) do
                t.eq(parts[k], table.concat(writer.block_lines({}, kind, b, "    "), "\n") .. "\n", path .. " " .. b.name)
                k = k + 1
            end
        end
        t.eq(k, #parts + 1, path .. ": every part")
    end
end)

t.test("the-digest-of-the-parts-is-the-digest-of-the-text", function()
    local auth = require("luaha").auth
    t.eq(auth.hash({ "lvs", ".cf\n", "" }), auth.hash("lvs.cf\n"), "parts")
    t.eq(auth.hash({}, 32), auth.hash("", 32), "no parts")
    t.checkerr("item 2 of the message is not a string", auth.hash, { "a", 1 })
    t.eq(lvscf.write({ virtuals = {}, failovers = {} }), "\n", "an empty model")
    local m = assert(lvscf.parse("serial_no = 3\nvirtual a {\n address = 192.0.2.1 eth0\n}\n", "d.cf"))
    t.eq(table.concat(lvscf.write_parts(m)), lvscf.write(m), "parts and text")
    t.eq(#lvscf.write_parts(m), 2, "a part for the globals and one per block")
end)

require("luaha").exit(t.failures() == 0 and 0 or 1)
