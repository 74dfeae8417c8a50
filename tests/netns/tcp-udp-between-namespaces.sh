#!/bin/bash
# tests/netns/tcp-udp-between-namespaces.sh: luaha in two namespaces over veth: TCP and UDP both ways, source address, refused vs timeout.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test tcp-udp-between-namespaces
a=luaha-a-$$ b=luaha-b-$$

netns_add "$a" "$b"
netns_veth "$a" eth0 "$b" eth0
ip -n "$a" addr add 192.0.2.1/24 dev eth0 || fail "addr a"
ip -n "$b" addr add 192.0.2.2/24 dev eth0 && ip -n "$b" addr add 192.0.2.3/24 dev eth0 || fail "addr b"

# The server in a: a TCP echo that also reports the peer address, a UDP echo, until told to stop.
cat > "$tmp/server.lua" <<'LUA'
local luaha = require "luaha"
local srv = assert(luaha.net.listen("192.0.2.1", 8080, function(conn, addr)
    local line = conn:receive("*l", 5)
    conn:send(("%s from %s\n"):format(line, addr))
    conn:close()
end))
local u = luaha.net.udp()
assert(u:bind("192.0.2.1", 5390))
assert(u:bind_device("eth0"))
luaha.spawn(function()
    while true do
        local data, addr, port = u:recvfrom()
        if data == "stop" then break end
        u:sendto("udp " .. data, addr, port)
    end
    u:close()
    srv:close()
end)
print("ready")
io.stdout:flush()
LUA
ip netns exec "$a" "$LUAHA" "$tmp/server.lua" > "$tmp/server.log" 2>&1 &
server=$!
netns_background "$server"
for _ in $(seq 50); do grep -q ready "$tmp/server.log" && break; sleep 0.1; done
grep -q ready "$tmp/server.log" || fail "server did not start"

cat > "$tmp/client.lua" <<'LUA'
package.path = "tests/lib/?.lua;" .. package.path
local luaha = require "luaha"
local net = luaha.net
local check = require("netns").check
local c = assert(net.tcp("192.0.2.1", 8080, { timeout = 2 }))
c:send("hello\n")
check(c:receive() == "hello from 192.0.2.2", "tcp echo")
c:close()
c = assert(net.tcp("192.0.2.1", 8080, { timeout = 2, source = "192.0.2.3" }))
c:send("sourced\n")
check(c:receive() == "sourced from 192.0.2.3", "tcp source address")
c:close()
local r, err = net.tcp("192.0.2.1", 8081, { timeout = 2 })
check(r == nil and err == "connect: Connection refused", "refused: " .. tostring(err))
-- 192.0.2.99 is on the link but nobody has it: ARP goes unanswered, the connect times out
local t0 = luaha.now()
r, err = net.tcp("192.0.2.99", 80, { timeout = 0.3 })
check(r == nil and err == "timeout", "timeout: " .. tostring(err))
check(luaha.now() - t0 >= 0.3, "timeout came early")
local u = net.udp()
assert(u:bind_device("eth0"))
u:sendto("ping", "192.0.2.1", 5390)
local data, from = u:recvfrom(2)
check(data == "udp ping" and from == "192.0.2.1", "udp echo: " .. tostring(data))
u:sendto("stop", "192.0.2.1", 5390)
print("ok")
LUA
ip netns exec "$b" timeout 30 "$LUAHA" "$tmp/client.lua" > "$tmp/client.log" 2>&1 || fail "client: $(tail -1 "$tmp/client.log")"
grep -qx ok "$tmp/client.log" || fail "client did not finish"
netns_wait "$server" || fail "server exit status $?"
echo "PASS $name"
