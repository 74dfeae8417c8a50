-- tests/lib/prom-check.lua: parses Prometheus text (on stdin) as a scraper would, and checks the metrics asked for.
-- SPDX-License-Identifier: GPL-2.0-or-later
-- Usage: luaha tests/lib/prom-check.lua NAME[{LABEL=VALUE}]=VALUE...; prints what is wrong, exit 1 if anything is.
local luaha = require "luaha"

local types, samples, bad = {}, {}, {}
local n = 0
for line in io.lines() do
    n = n + 1
    if line:match("^# TYPE ") then
        local name, kind = line:match("^# TYPE ([%a_:][%w_:]*) (%a+)$")
        if not name then bad[#bad + 1] = "line " .. n .. ": bad TYPE" else types[name] = kind end
    elseif line:match("^# HELP ") then
        if not line:match("^# HELP [%a_:][%w_:]* .") then bad[#bad + 1] = "line " .. n .. ": bad HELP" end
    elseif line ~= "" then
        local name, rest = line:match("^([%a_:][%w_:]*)(.*)$")
        local labels, value = "", nil
        if rest and rest:sub(1, 1) == "{" then
            labels, value = rest:match("^(%b{}) (%S+)$")
        elseif rest then
            value = rest:match("^ (%S+)$")
        end
        if not name or not value or not tonumber(value) then
            bad[#bad + 1] = "line " .. n .. ": not a sample: " .. line
        else
            local l = {}
            for k, v in (labels or ""):gmatch('([%a_][%w_]*)="(.-)"') do l[#l + 1] = k .. "=" .. v end
            table.sort(l)
            samples[name .. (#l > 0 and "{" .. table.concat(l, ",") .. "}" or "")] = tonumber(value)
            if not types[name] then bad[#bad + 1] = "line " .. n .. ": " .. name .. " has no TYPE before it" end
        end
    end
end
-- Each argument: a sample key as above (labels sorted, name=value) and the value it must have.
for i = 1, #arg do
    local key, want = arg[i]:match("^(.-)=([%-%d%.]+)$")
    if samples[key] ~= tonumber(want) then
        bad[#bad + 1] = ("%s is %s, not %s"):format(key, tostring(samples[key]), want)
    end
end
local count = 0
for _ in pairs(samples) do count = count + 1 end
print(("%d samples, %d problems"):format(count, #bad))
for _, b in ipairs(bad) do print(b) end
luaha.exit(#bad == 0 and count > 0 and 0 or 1)
