-- tests/lua/lvscf-doc.lua: lvs.cf(5) gives every option's range and default as lvscfmodel's option tables have them.
-- SPDX-License-Identifier: GPL-2.0-or-later
package.path = "tests/lua/lib/?.lua;" .. package.path
local t = require "t"
local model = require "luaha.lvscfmodel"

local f = assert(io.open("doc/lvs.cf.5"))
local page = f:read("a")
f:close()

-- The text of an option's entry, the first after section: from `.It Ic KEY No =` to the next `.It` or list end, lower case.
local function entry(key, section)
    local start = assert(page:find("\n.Ss " .. section, 1, true), section)
    local from = page:find("\n%.It Ic " .. key .. " No =", start)
    if not from then return nil end
    local to = page:find("\n%.It ", from + 1) or page:find("\n%.El", from + 1) or #page
    return page:sub(from, to):lower():gsub("\n%.%a%a ", " "):gsub("\n", " ")
end

local function has(text, want, what)
    if not text:find(want:lower(), 1, true) then error(what .. ": lvs.cf(5) does not say \"" .. want .. "\"", 2) end
end

t.test("every-option-has-an-entry-with-its-range-and-default", function()
    local n = 0
    local sections = { "Global options", "Virtual block options", "Server block options" }
    for i, opts in ipairs({ model.globals, model.blocks, model.servers }) do
        for _, o in ipairs(opts) do
            local text = entry(o.key, sections[i])
            assert(text, o.key .. ": no entry in lvs.cf(5)")
            if o.min and o.min == math.mininteger then
                has(text, "any 64-bit integer", o.key)
            elseif o.min and o.off then
                has(text, model.number(o.off) .. ", or from " .. model.number(o.min) .. " to " .. model.number(o.max), o.key)
            elseif o.min then
                has(text, "from " .. model.number(o.min) .. " to " .. model.number(o.max), o.key)
            end
            if o.frac then has(text, "fractions allowed", o.key) end
            local d = o.default
            if type(d) == "number" then
                has(text, "default " .. model.number(d), o.key)
            elseif type(d) == "boolean" then
                has(text, "default " .. (d and 1 or 0), o.key)
            elseif type(d) == "string" then
                has(text, "default", o.key)
                has(text, d, o.key)
            elseif o.numeric_port then
                has(text, "the default is the block's", o.key)
            elseif not o.required then
                has(text, "no default", o.key)
            end
            if o.refused then has(text, "refused", o.key) end
            n = n + 1
        end
    end
    t.eq(n, #model.globals + #model.blocks + #model.servers, "options checked")
end)

t.test("the-page-names-no-option-the-tables-lack", function()
    local known = {}
    for _, opts in ipairs({ model.globals, model.blocks, model.servers }) do
        for _, o in ipairs(opts) do known[o.key] = true end
    end
    for key in page:gmatch("\n%.It Ic ([%w_]+) No =") do
        assert(known[key], key .. ": in lvs.cf(5), not in the option tables")
    end
end)

require("luaha").exit(t.failures() == 0 and 0 or 1)
