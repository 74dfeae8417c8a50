-- tests/uml/lua/webapply-drive.lua: the steps of tests/uml/webapply-review-equals-applied.sh, run in the daemon (attach).
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
dofile(this)(router, step, dir): one step on the running router's draft store (kept in
router.webapply_test), its results written to files in dir for the shell to compare:
  edit-ok    virtual a: scheduler wlc, rs205 at weight 3; a new virtual b (192.0.2.213) on rs204
  edit-bad   virtual a: rs204 at weight 5; a new virtual c (192.0.2.214) with scheduler sed
  review     dir/review.ops: the review's IPVS operations, a line each; dir/review.serial
  apply      dir/apply.ops: the operations applied, or dir/apply.err: "STATUS WHY"
Returns "done", or raises.
]]
local webapply = require "luaha.webapply"
local lvsedit = require "luaha.lvsedit"

local function put(path, lines)
    local f = assert(io.open(path, "w"))
    assert(f:write(table.concat(lines, "\n"), #lines > 0 and "\n" or ""))
    assert(f:close())
end

-- A new virtual block like v (every option it has, defaults included), named name at address.
local function like(v, name, address, scheduler)
    local b = lvsedit.copy(v)
    b.name, b.address, b.scheduler = name, address, scheduler
    b.servers = { b.servers[1] }
    return b
end

return function(router, step, dir)
    router.webapply_test = router.webapply_test or webapply.new{ config = router.config }
    local d = router.webapply_test
    if step == "edit-ok" or step == "edit-bad" then
        local m, base = assert(d:model())
        local a = m.virtuals[1]
        if step == "edit-ok" then
            a.scheduler, a.servers[2].weight = "wlc", 3
            m.virtuals[#m.virtuals + 1] = like(a, "b", "192.0.2.213", "rr")
        else
            a.servers[1].weight = 5
            m.virtuals[#m.virtuals + 1] = like(a, "c", "192.0.2.214", "sed")
        end
        local ok, errors = d:update(m, nil, base)
        assert(ok, errors and table.concat(errors, "\n"))
    elseif step == "review" then
        local rev = d:review(router)
        assert(#rev.errors == 0, table.concat(rev.errors, "\n"))
        put(dir .. "/review.ops", rev.ipvs)
        put(dir .. "/review.serial", { tostring(rev.serial) })
    elseif step == "apply" then
        local report, status, why = d:apply(router, { user = "uml-test", peer = "192.0.2.1" })
        if report then
            put(dir .. "/apply.ops", report.ipvs)
        else
            put(dir .. "/apply.err", { tostring(status) .. " " .. tostring(why) })
        end
    else
        error("unknown step " .. tostring(step))
    end
    return "done"
end
