#!/bin/bash
# tests/netns/tcp-udp-between-namespaces.sh: luaha in two namespaces over veth: TCP and UDP both ways, source address, refused vs timeout.
name=tcp-udp-between-namespaces
cd "$(dirname "$0")/../.." || exit 2
LUAHA=${LUAHA:-./luaha}
a=luaha-a-$$ b=luaha-b-$$
tmp=$(mktemp -d) || exit 2
cleanup()
{
	[ -n "${server:-}" ] && kill "$server" 2> /dev/null && wait "$server" 2> /dev/null
	ip netns del "$a" 2> /dev/null
	ip netns del "$b" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail()
{
	echo "FAIL $name: $*"
	sed 's/^/  | /' "$tmp"/*.log 2> /dev/null
	exit 1
}

ip netns add "$a" && ip netns add "$b" || fail "ip netns add"
ip -n "$a" link set lo up && ip -n "$b" link set lo up || fail "lo up"
ip -n "$a" link add name eth0 type veth peer name eth0 netns "$b" || fail "veth"
ip -n "$a" addr add 192.0.2.1/24 dev eth0 && ip -n "$a" link set eth0 up || fail "addr a"
ip -n "$b" addr add 192.0.2.2/24 dev eth0 && ip -n "$b" addr add 192.0.2.3/24 dev eth0 &&
	ip -n "$b" link set eth0 up || fail "addr b"

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
for _ in $(seq 50); do grep -q ready "$tmp/server.log" && break; sleep 0.1; done
grep -q ready "$tmp/server.log" || fail "server did not start"

cat > "$tmp/client.lua" <<'LUA'
local luaha = require "luaha"
local net = luaha.net
local function check(cond, what) if not cond then print("FAIL " .. what) os.exit(1) end end
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
wait "$server" || fail "server exit status $?"
server=
echo "PASS $name"
