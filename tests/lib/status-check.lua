-- tests/lib/status-check.lua: reads `luaha ctl status --json` on stdin and `ipvsadm -Ln` in a file, and checks they agree.
-- SPDX-License-Identifier: GPL-2.0-or-later
-- Usage: luaha tests/lib/status-check.lua IPVSADM-OUTPUT-FILE < status.json; prints what differs, exit 1 if anything does.
local luaha = require "luaha"
local json = require "luaha.json"

local doc, err = json.decode(io.read("a"))
if not doc then
    print("status --json does not parse: " .. err)
    luaha.exit(1)
    return
end
-- The kernel's destinations as ipvsadm prints them: "address:port" -> weight.
local kernel = {}
for line in io.lines(arg[1]) do
    local addr, w = line:match("^%s+%-> ([%d%.]+:%d+)%s+%a+%s+(%d+)")
    if addr then kernel[addr] = tonumber(w) end
end
local bad, seen = 0, 0
for _, s in ipairs(doc.services) do
    for _, r in ipairs(s.servers) do
        local addr = ("%s:%d"):format(r.address, r.port)
        local k = r.kernel ~= json.null and r.kernel or nil
        if (k and k.weight) ~= kernel[addr] then
            print(("%s: status says kernel weight %s, ipvsadm -Ln says %s"):format(addr, tostring(k and k.weight),
                tostring(kernel[addr])))
            bad = bad + 1
        end
        seen = seen + 1
    end
end
for _, field in ipairs({ "role", "state", "peer", "vips", "events", "heartbeats" }) do
    if doc[field] == nil then
        print("status --json lacks " .. field)
        bad = bad + 1
    end
end
print(("%d real servers compared, %d differences"):format(seen, bad))
luaha.exit(bad == 0 and seen > 0 and 0 or 1)
