-- lua/luaha/httpclient.lua: luaha.http.request, an HTTP/1.1 and 1.0 client over luaha.net.tcp with one time limit.
-- SPDX-License-Identifier: GPL-2.0-or-later
--[==[
One request per connection ("Connection: close"), so that a reply ends where its length says or
where the server closes, and nothing is left for a next request to trip on. The whole exchange,
connect, send and receive, shares one deadline: a health check says "2 seconds" and means it.

Every part of a reply is bounded before it is kept: the status line and headers (with any 1xx
replies before them and the trailers of a chunked body) to max_head bytes, a chunk-size line to
max_line, the body to max_body. Lines are looked for in a buffer read a piece at a time, never
with receive("*l"), which would keep a line of any length.

A reply is read from r.buf at r.pos (bytes received, not yet used): moving pos rather than
cutting the buffer keeps a chunked body of many small chunks from copying the buffer per chunk.
]==]
local tcp = require "luaha.core.tcp"
local now = require("luaha.core.timer").now

local client = {}

local defaults = {
    method = "GET",
    path = "/",
    port = 80,
    version = "1.1",
    timeout = 10,           -- seconds for connect, send and receive together
    max_body = 1048576,     -- bytes of a body (after undoing the chunked encoding)
    max_head = 65536,       -- bytes of the status lines and headers of a reply, and of its trailers
    max_line = 4096,        -- bytes of a chunk-size line
    piece = 65536,          -- bytes taken at most from what has arrived, when looking for a line
}

local options = { method = true, host = true, port = true, path = true, headers = true, body = true,
    timeout = true, source = true, max_body = true, version = true }

-- Set by the request itself, from body and from "Connection: close".
local reserved = { ["content-length"] = true, ["transfer-encoding"] = true }

local function argerror(msg, level)
    error("bad argument #1 to 'request' (" .. msg .. ")", level or 4)
end

local function remaining(r)
    return math.max(r.deadline - now(), 0)
end

--[[
Whether the start of a reply can still be a status line: checked as soon as its first bytes are
in, so that a server speaking another protocol fails at once rather than at the timeout.
]]
local function status_line(line)
    local status = line:match("^HTTP/%d%.%d (%d%d%d)")
    if not status or (#line > 12 and line:sub(13, 13) ~= " ") then return nil end
    return tonumber(status)
end

local function bad_start(r)
    local s = r.buf:sub(r.pos, r.pos + 4)
    return s ~= ("HTTP/"):sub(1, #s)
end

--[[
more(r, room): appends to r.buf what comes next: waits for a byte, then takes what else has
arrived, up to room bytes in all. nil, "timeout" | "closed" | "receive: <reason>" otherwise.
]]
local function more(r, room)
    local first, err = r.conn:receive(1, remaining(r))
    if not first then return nil, err end
    local rest, rerr, partial = r.conn:receive(math.max(room - 1, 0), 0)
    if not rest and rerr ~= "timeout" and rerr ~= "closed" then return nil, rerr end
    r.buf = r.buf:sub(r.pos) .. first .. (rest or partial)
    r.pos = 1
    return true
end

-- line(r, limit, too_long): the next line, without its CR LF; nil, too_long when longer than limit.
local function line(r, limit, too_long)
    local from = r.pos
    while true do
        local nl = r.buf:find("\n", from, true)
        if nl then
            local s = r.buf:sub(r.pos, nl - 1)
            r.pos = nl + 1
            if s:sub(-1) == "\r" then s = s:sub(1, -2) end
            if #s > limit then return nil, too_long end
            return s
        end
        if #r.buf - r.pos > limit then return nil, too_long end
        from = #r.buf - r.pos + 2
        local ok, err = more(r, defaults.piece)
        if not ok then return nil, err end
    end
end

-- take(r, n): the next n bytes, those in r.buf first, then the rest received in one call.
local function take(r, n)
    local have = #r.buf - r.pos + 1
    if have >= n then
        local s = r.buf:sub(r.pos, r.pos + n - 1)
        r.pos = r.pos + n
        return s
    end
    local head = r.buf:sub(r.pos)
    r.buf, r.pos = "", 1
    local data, err = r.conn:receive(n - have, remaining(r))
    if not data then return nil, err end
    return head .. data
end

--[[
head(r): the status and the header lines of the next reply. Each search covers only what came
since the one before (with 3 bytes of overlap for a CR LF CR LF cut in two), so a head arriving
a byte at a time costs no more than one search of it.
]]
local function head(r)
    local scanned, checked = 0, false   -- bytes from r.pos already searched; status line seen
    while true do
        local s, e = r.buf:find("\r?\n\r?\n", r.pos + math.max(scanned - 3, 0))
        if s then
            local text = r.buf:sub(r.pos, s - 1)
            r.head_left = r.head_left - (e - r.pos + 1)
            r.pos = e + 1
            if r.head_left < 0 then return nil, "http: headers too large" end
            local first = text:match("^[^\r\n]*")
            local status = status_line(first)
            if not status then return nil, "http: bad status line" end
            return status, text:sub(#first + 1)
        end
        if not checked then
            local nl = r.buf:find("\n", r.pos + scanned, true)
            if nl then
                if not status_line((r.buf:sub(r.pos, nl - 1):gsub("\r$", ""))) then
                    return nil, "http: bad status line"
                end
                checked = true
            elseif bad_start(r) then
                return nil, "http: bad status line"
            end
        end
        scanned = #r.buf - r.pos + 1
        if scanned >= r.head_left then return nil, "http: headers too large" end
        -- more() moves what is left to the front of a new r.buf: scanned stays counted from r.pos.
        local ok, err = more(r, r.head_left - scanned)
        if not ok then return nil, err end
    end
end

-- The headers of a head's text after the status line: names in lower case, repeats joined with ", ".
local function parse_headers(text, into)
    local last
    for l in text:gmatch("\n([^\n]*)") do
        l = l:gsub("\r$", "")
        if l:find("^[ \t]") then
            -- A folded line continues the value before it (obsolete, still sent by some servers).
            if not last then return nil end
            into[last] = into[last] .. " " .. l:match("^[ \t]*(.-)[ \t]*$")
        else
            local name, value = l:match("^([%w!#$%%&'*+%-.^_`|~]+):[ \t]*(.-)[ \t]*$")
            if not name then return nil end
            name = name:lower()
            into[name] = into[name] and into[name] .. ", " .. value or value
            last = name
        end
    end
    return into
end

--[[
How the body of a reply ends: a byte count, "chunked" or "close". RFC 9112 6.3: no body for HEAD,
1xx, 204 and 304; Transfer-Encoding wins over Content-Length; a Content-Length repeated with one
value is that value.
]]
local function framing(method, status, headers)
    if method == "HEAD" or status < 200 or status == 204 or status == 304 then return 0 end
    local te = headers["transfer-encoding"]
    if te then
        if te:lower():find("chunked[ \t]*$") then return "chunked" end
        return "close"
    end
    local cl = headers["content-length"]
    if not cl then return "close" end
    local n
    for v in (cl .. ","):gmatch("([^,]*),") do
        local digits = v:match("^[ \t]*(%d+)[ \t]*$")
        if not digits then return nil, "http: bad content-length" end
        digits = digits:gsub("^0+(%d)", "%1")
        -- 16 digits and more are past any max_body and past exact integers.
        local m = #digits > 15 and math.huge or tonumber(digits)
        if n and m ~= n then return nil, "http: bad content-length" end
        n = m
    end
    return n
end

local function chunked(r, max_body)
    local parts, size = {}, 0
    while true do
        local l, err = line(r, defaults.max_line, "http: bad chunk size")
        if not l then return nil, err end
        local hex = l:match("^%x+")
        local ext = hex and l:sub(#hex + 1)
        if not hex or (ext ~= "" and not ext:find("^[ \t]*;")) then return nil, "http: bad chunk size" end
        hex = hex:gsub("^0+(%x)", "%1")
        local n = #hex > 8 and math.huge or tonumber(hex, 16)
        if n == 0 then break end
        if size + n > max_body then return nil, "http: body too large" end
        local data, derr = take(r, n)
        if not data then return nil, derr end
        local crlf, cerr = line(r, 0, "http: bad chunk")
        if not crlf then return nil, cerr end
        parts[#parts + 1], size = data, size + n
    end
    -- Trailers are read, counted against the headers' bound, and dropped.
    while true do
        local l, err = line(r, r.head_left, "http: headers too large")
        if not l then return nil, err end
        r.head_left = r.head_left - #l - 2
        if l == "" then break end
        if r.head_left < 0 then return nil, "http: headers too large" end
    end
    return table.concat(parts)
end

-- The rest until the server closes: one receive of max_body + 1 bytes, which the close cuts short.
local function to_close(r, max_body)
    local have = r.buf:sub(r.pos)
    r.buf, r.pos = "", 1
    if #have > max_body then return nil, "http: body too large" end
    local data, err, partial = r.conn:receive(max_body - #have + 1, remaining(r))
    if data then return nil, "http: body too large" end
    if err == "closed" then return have .. partial end
    return nil, err
end

local function check(opts)
    if type(opts) ~= "table" then argerror("table expected, got " .. type(opts)) end
    for k in pairs(opts) do
        if not options[k] then argerror("unknown option '" .. tostring(k) .. "'") end
    end
    if type(opts.host) ~= "string" then argerror("host: string expected, got " .. type(opts.host)) end
    local port = opts.port or defaults.port
    if math.type(port) ~= "integer" or port < 1 or port > 65535 then
        argerror("port: 1-65535 expected, got " .. tostring(port))
    end
    local method = opts.method or defaults.method
    if type(method) ~= "string" or not method:find("^[%w!#$%%&'*+%-.^_`|~]+$") then
        argerror("method: a token expected, got " .. tostring(method))
    end
    local path = opts.path or defaults.path
    if type(path) ~= "string" or path == "" or path:find("[%c ]") then
        argerror("path: a string without spaces or control characters expected")
    end
    local version = opts.version or defaults.version
    if version ~= "1.1" and version ~= "1.0" then argerror('version: "1.1" or "1.0" expected') end
    if opts.body ~= nil and type(opts.body) ~= "string" then
        argerror("body: string expected, got " .. type(opts.body))
    end
    local timeout = opts.timeout or defaults.timeout
    if type(timeout) ~= "number" or timeout <= 0 then
        argerror("timeout: positive number expected, got " .. tostring(timeout))
    end
    local max_body = opts.max_body or defaults.max_body
    if math.type(max_body) ~= "integer" or max_body < 0 then
        argerror("max_body: non-negative integer expected, got " .. tostring(max_body))
    end
    if opts.source ~= nil and type(opts.source) ~= "string" then
        argerror("source: string expected, got " .. type(opts.source))
    end
    if opts.headers ~= nil and type(opts.headers) ~= "table" then
        argerror("headers: table expected, got " .. type(opts.headers))
    end
    return port, method, path, version, timeout, max_body
end

-- The request's text: the caller's headers (checked, raising) over the defaults, in name order.
local function request_text(opts, port, method, path, version)
    local host = opts.host:find(":", 1, true) and "[" .. opts.host .. "]" or opts.host
    local fields = { host = { "Host", port == 80 and host or host .. ":" .. port } }
    if version == "1.1" then fields.connection = { "Connection", "close" } end
    if opts.body or method == "POST" or method == "PUT" then
        fields["content-length"] = { "Content-Length", tostring(#(opts.body or "")) }
    end
    for name, value in pairs(opts.headers or {}) do
        if type(name) ~= "string" or not name:find("^[%w!#$%%&'*+%-.^_`|~]+$") then
            argerror("headers: bad header name " .. tostring(name))
        end
        if reserved[name:lower()] then argerror("headers: " .. name .. " is set from body") end
        if type(value) == "number" then value = tostring(value) end
        if type(value) ~= "string" or value:find("[\r\n%z]") then
            argerror("headers: " .. name .. ": a string without line breaks expected")
        end
        fields[name:lower()] = { name, value }
    end
    local names = {}
    for k in pairs(fields) do names[#names + 1] = k end
    table.sort(names)
    local out = { method .. " " .. path .. " HTTP/" .. version }
    for _, k in ipairs(names) do out[#out + 1] = fields[k][1] .. ": " .. fields[k][2] end
    out[#out + 1] = ""
    out[#out + 1] = opts.body or ""
    return table.concat(out, "\r\n")
end

--[[
status, headers, body = request(opts): sends one request and reads its reply, within
opts.timeout seconds in all. nil, err: "timeout", "closed" (the server closed before the end of
the reply), the errors of luaha.net.tcp, send and receive, "http: bad status line",
"http: bad header line", "http: headers too large", "http: bad content-length",
"http: bad chunk size", "http: bad chunk", "http: body too large". Raises on bad options.
Waits. Holds its loop only to parse what has arrived: at most max_head bytes of headers, or a
piece of 64 KiB of a chunked body, at a time.
]]
function client.request(opts)
    local port, method, path, version, timeout, max_body = check(opts)
    local text = request_text(opts, port, method, path, version)
    local deadline = now() + timeout
    local conn <close>, err = tcp.tcp(opts.host, port, { timeout = timeout, source = opts.source })
    if not conn then return nil, err end
    local r = { conn = conn, buf = "", pos = 1, deadline = deadline, head_left = defaults.max_head }
    conn:settimeout(remaining(r))
    local sent, serr = conn:send(text)
    if not sent then return nil, serr end
    local status, rest
    repeat
        -- 1xx replies (100 Continue, 103 Early Hints) come before the reply, and are dropped.
        status, rest = head(r)
        if not status then return nil, rest end
    until status >= 200 or status == 101
    local headers = parse_headers(rest, {})
    if not headers then return nil, "http: bad header line" end
    local length, ferr = framing(method, status, headers)
    if not length then return nil, ferr end
    local body
    if length == "chunked" then
        body, err = chunked(r, max_body)
    elseif length == "close" then
        body, err = to_close(r, max_body)
    elseif length > max_body then
        return nil, "http: body too large"
    else
        body, err = take(r, length)
    end
    if not body then return nil, err end
    return status, headers, body
end

return client
