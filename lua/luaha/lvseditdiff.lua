-- lua/luaha/lvseditdiff.lua: a unified diff of two texts by lines (Myers' algorithm), for lvsedit.diff.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[[
The lines the two texts share at their start and end are set aside first; the middle is diffed
with Myers' O(ND) algorithm, keeping each step's furthest reaches to walk back the shortest edit.
Bounds: the search stops after MAX_WORK steps (about 750 differing lines; the kept reaches then
hold about D^2 numbers) and the rest of the middle is shown as removed and added, which is still
a correct diff, only a longer one. At 10 000 real servers (about 60 000 lines) the diff of a
form's edit takes about 0.1 s of CPU, most of it splitting the lines; the worst, every other
line changed, about 0.4 s; in slices (check.breathe) that let the other tasks of the work part run.
]]
local check = require "luaha.lvscfcheck"

local diff = {}

diff.CONTEXT = 3
diff.MAX_WORK = 300000

-- A line without its newline at the end of a file is not the same line as one with it.
local NONL = "\0no newline"

local function split(text)
    local out, pos = {}, 1
    while pos <= #text do
        check.breathe()
        local eol = text:find("\n", pos, true)
        if not eol then
            out[#out + 1] = text:sub(pos) .. NONL
            break
        end
        out[#out + 1] = text:sub(pos, eol - 1)
        pos = eol + 1
    end
    return out
end

--[[
middle(a, b, alo, ahi, blo, bhi, ops): appends the edit script of a[alo..ahi] to b[blo..bhi]
to ops: each op is { "=" | "-" | "+", line }. Myers: v[k] is the furthest x reached on diagonal
k = x - y with d edits; trace[d] keeps v for the walk back.
]]
local function middle(a, b, alo, ahi, blo, bhi, ops)
    local n, m = ahi - alo + 1, bhi - blo + 1
    local v, trace, work = { [1] = 0 }, {}, 0
    local found
    for d = 0, n + m do
        local nv = {}
        for k = -d, d, 2 do
            local x
            if k == -d or (k ~= d and (v[k - 1] or -1) < (v[k + 1] or -1)) then
                x = v[k + 1]
            else
                x = v[k - 1] + 1
            end
            local y = x - k
            while x < n and y < m and a[alo + x] == b[blo + y] do
                x, y, work = x + 1, y + 1, work + 1
                if work % 64 == 0 then check.breathe() end
            end
            nv[k] = x
            work = work + 1
            check.breathe()
            if x >= n and y >= m then
                found = d
                break
            end
        end
        trace[d] = nv
        v = nv
        if found or work > diff.MAX_WORK then break end
    end
    if not found then
        -- Too many differences to find the shortest script within the bound: all out, all in.
        for i = alo, ahi do ops[#ops + 1] = { "-", a[i] } end
        for j = blo, bhi do ops[#ops + 1] = { "+", b[j] } end
        return
    end
    -- The walk back: at each d, the snake (equal lines) that ends at (x, y), then the edit before it.
    local rev, x, y = {}, n, m
    for d = found, 1, -1 do
        local pv, k = trace[d - 1], x - y
        local down = k == -d or (k ~= d and pv[k - 1] < pv[k + 1])
        local px = pv[down and k + 1 or k - 1]
        local py = px - (down and k + 1 or k - 1)
        local sx = down and px or px + 1
        while x > sx do
            x, y = x - 1, y - 1
            rev[#rev + 1] = { "=", a[alo + x] }
        end
        if down then
            rev[#rev + 1] = { "+", b[blo + py] }
        else
            rev[#rev + 1] = { "-", a[alo + px] }
        end
        x, y = px, py
    end
    while x > 0 and y > 0 do
        x, y = x - 1, y - 1
        rev[#rev + 1] = { "=", a[alo + x] }
    end
    for i = #rev, 1, -1 do ops[#ops + 1] = rev[i] end
end

-- script(a, b): the edit script of line arrays a to b.
local function script(a, b)
    local ops, lo, ahi, bhi = {}, 1, #a, #b
    while lo <= ahi and lo <= bhi and a[lo] == b[lo] do
        check.breathe()
        ops[#ops + 1] = { "=", a[lo] }
        lo = lo + 1
    end
    local tail = {}
    while ahi >= lo and bhi >= lo and a[ahi] == b[bhi] do
        check.breathe()
        tail[#tail + 1] = { "=", a[ahi] }
        ahi, bhi = ahi - 1, bhi - 1
    end
    if lo <= ahi or lo <= bhi then middle(a, b, lo, ahi, lo, bhi, ops) end
    for i = #tail, 1, -1 do ops[#ops + 1] = tail[i] end
    return ops
end

-- range(start, count): a hunk header's range, as GNU diff writes it.
local function range(start, count)
    if count == 1 then return tostring(start) end
    return (count == 0 and start - 1 or start) .. "," .. count
end

local function line_out(out, mark, line)
    if line:sub(-#NONL) == NONL then
        out[#out + 1] = mark .. line:sub(1, -#NONL - 1) .. "\n\\ No newline at end of file\n"
    else
        out[#out + 1] = mark .. line .. "\n"
    end
end

-- unified(old_text, new_text, old_name, new_name): see lvsedit.diff.
function diff.unified(old_text, new_text, old_name, new_name)
    if old_text == new_text then return "" end
    local ops = script(split(old_text), split(new_text))
    local out = { "--- " .. old_name .. "\n", "+++ " .. new_name .. "\n" }
    local ctx, i, nops = diff.CONTEXT, 1, #ops
    -- oline[i], nline[i]: the old and new line numbers where op i stands.
    local oline, nline, o, n = {}, {}, 1, 1
    for j, op in ipairs(ops) do
        check.breathe()
        oline[j], nline[j] = o, n
        if op[1] ~= "+" then o = o + 1 end
        if op[1] ~= "-" then n = n + 1 end
    end
    oline[nops + 1], nline[nops + 1] = o, n
    while i <= nops do
        while i <= nops and ops[i][1] == "=" do i = i + 1 end
        if i > nops then break end
        -- A hunk: from ctx lines before this change to ctx lines after the last change closer than 2 * ctx + 1.
        local first, last = math.max(1, i - ctx), i
        local j = i
        while j <= nops do
            if ops[j][1] ~= "=" then
                last = j
            elseif j - last > 2 * ctx then
                break
            end
            j = j + 1
        end
        local stop = math.min(nops, last + ctx)
        local ocount, ncount = 0, 0
        for k = first, stop do
            if ops[k][1] ~= "+" then ocount = ocount + 1 end
            if ops[k][1] ~= "-" then ncount = ncount + 1 end
        end
        out[#out + 1] = "@@ -" .. range(oline[first], ocount) .. " +" .. range(nline[first], ncount) .. " @@\n"
        for k = first, stop do
            check.breathe()
            line_out(out, ops[k][1] == "=" and " " or ops[k][1], ops[k][2])
        end
        i = stop + 1
    end
    return table.concat(out)
end

return diff
