-- lua/luaha/datafile.lua: a table of plain data kept in a file as Lua source: written whole, read without running code.
-- SPDX-License-Identifier: GPL-2.0-or-later
local luaha = require "luaha"

local datafile = {}

local function is_identifier(k) return type(k) == "string" and k:match("^[%a_][%w_]*$") end

-- serialize(v): v as Lua source, keys sorted: the same data is always the same text.
local function serialize(v, indent)
    if type(v) ~= "table" then return ("%q"):format(v) end
    local inner, items = indent .. "    ", {}
    if #v > 0 then
        for _, x in ipairs(v) do items[#items + 1] = inner .. serialize(x, inner) end
    else
        local keys = {}
        for k in pairs(v) do keys[#keys + 1] = k end
        table.sort(keys)
        for _, k in ipairs(keys) do
            local name = is_identifier(k) and k or ("[%q]"):format(k)
            items[#items + 1] = ("%s%s = %s"):format(inner, name, serialize(v[k], inner))
        end
    end
    if #items == 0 then return "{}" end
    return "{\n" .. table.concat(items, ",\n") .. ",\n" .. indent .. "}"
end
datafile.serialize = function(v) return serialize(v, "") end

--[[
read(path): the table the file holds, and true; false (and no table) when there is no file; or
nil and the reason it cannot be read ("not a data file: ..."). The file runs in an empty
environment: it is data, it can call nothing.
]]
function datafile.read(path)
    local f, err, code = io.open(path)
    if not f then
        if code == 2 then return nil, false end      -- ENOENT
        return nil, err
    end
    local text = f:read("a")
    f:close()
    local chunk, perr = load(text, "@" .. path, "t", {})
    if not chunk then return nil, "not a data file: " .. perr end
    local ok, t = pcall(chunk)
    if not ok or type(t) ~= "table" then return nil, ("not a data file: %s: %s"):format(path, tostring(t)) end
    return t, true
end

local function write_file(path, text)
    local f, err = io.open(path, "w")
    if not f then return nil, err end
    local ok, werr = f:write(text)
    local closed, cerr = f:close()
    if not ok or not closed then return nil, path .. ": " .. tostring(werr or cerr) end
    return true
end

--[[
write(path, t, comment): writes t to a new file renamed over the old one, so that a crash leaves
one or the other; its directory is made if missing. Waits (mkdir). true, or nil and why.
]]
function datafile.write(path, t, comment)
    local tmp = path .. ".new"
    local text = "-- " .. comment .. "\nreturn " .. serialize(t, "") .. "\n"
    local ok, err = write_file(tmp, text)
    if not ok and err:find("No such file or directory", 1, true) then
        local r = luaha.proc.run({ "mkdir", "-p", (path:match("^(.*)/[^/]*$") or ".") })
        if r and r.status == 0 then ok, err = write_file(tmp, text) end
    end
    if not ok then return nil, err end
    local renamed, rerr = os.rename(tmp, path)
    if not renamed then
        os.remove(tmp)
        return nil, rerr
    end
    return true
end

return datafile
