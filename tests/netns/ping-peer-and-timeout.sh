#!/bin/bash
# tests/netns/ping-peer-and-timeout.sh: net.ping to a peer namespace over IPv4 and IPv6, on raw and on ping sockets: round trips, timeouts, concurrency, dev= and source=, errors.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test ping-peer-and-timeout
a=luaha-a-$$ b=luaha-b-$$

netns_add "$a" "$b"
netns_veth "$a" eth0 "$b" eth0
ip -n "$a" addr add 192.0.2.1/24 dev eth0 && ip -n "$a" addr add 2001:db8::1/64 dev eth0 nodad || fail "addr a"
ip -n "$b" addr add 192.0.2.2/24 dev eth0 && ip -n "$b" addr add 192.0.2.3/24 dev eth0 &&
	ip -n "$b" addr add 192.0.2.4/24 dev eth0 && ip -n "$b" addr add 192.0.2.5/24 dev eth0 &&
	ip -n "$b" addr add 2001:db8::2/64 dev eth0 nodad && ip -n "$b" addr add 2001:db8::4/64 dev eth0 nodad &&
	ip -n "$b" addr add 2001:db8::5/64 dev eth0 nodad || fail "addr b"
# b's dead0 leads nowhere (its peer stays down): a ping bound to it cannot arrive.
ip -n "$b" link add dead0 type veth peer name dead1 && ip -n "$b" link set dead0 up || fail "dead0"
# a drops its replies to 192.0.2.3: a ping from that source times out.
ip -n "$a" route add blackhole 192.0.2.3/32 || fail "blackhole"

cat > "$tmp/ping.lua" <<'LUA'
package.path = "tests/lib/?.lua;" .. package.path
local luaha = require "luaha"
local ping = luaha.net.ping
local t = require "netns"
local check, raises, fds = t.check, t.raises, t.fds
local function answers(addr, opts, what)
    local rtt, err = ping(addr, opts)
    check(type(rtt) == "number" and rtt > 0 and rtt < (opts and opts.timeout or 1),
        ("%s: got %s %s"):format(what or addr, tostring(rtt), tostring(err)))
    return rtt
end
local function times_out(addr, opts, what)
    local t0 = luaha.now()
    local rtt, err = ping(addr, opts)
    local took = luaha.now() - t0
    check(rtt == nil and err == "timeout", ("%s: got %s %s"):format(what or addr, tostring(rtt), tostring(err)))
    check(took >= opts.timeout and took < opts.timeout + 0.2, ("%s: timeout after %.3f s"):format(what or addr, took))
end

answers("192.0.2.1")
answers("2001:db8::1", { timeout = 2 })
times_out("192.0.2.99", { timeout = 0.3 })
times_out("2001:db8::99", { timeout = 0.3 })

-- 20 at once from one process, to answering and silent addresses: each gets its own reply or none.
local targets, tasks = {}, {}
for i = 1, 20 do
    targets[i] = ({ "192.0.2.1", "2001:db8::1", "192.0.2.1", "192.0.2.99", "2001:db8::99" })[i % 5 + 1]
    tasks[i] = luaha.spawn(ping, targets[i], { timeout = 1 })
end
for i = 1, 20 do
    local rtt, err = tasks[i]:join(5)
    if targets[i]:find("99", 1, true) then
        check(rtt == nil and err == "timeout", ("concurrent %d to %s: %s %s"):format(i, targets[i], tostring(rtt), tostring(err)))
    else
        check(type(rtt) == "number" and rtt > 0 and rtt < 1, ("concurrent %d to %s: %s %s"):format(i, targets[i], tostring(rtt), tostring(err)))
    end
end

-- dev= and source= change where the request goes and where the reply comes back to.
answers("192.0.2.1", { dev = "eth0" }, "dev eth0")
answers("2001:db8::1", { dev = "eth0" }, "ipv6 dev eth0")
times_out("192.0.2.1", { dev = "dead0", timeout = 0.3 }, "dev dead0")
local rtt, err = ping("192.0.2.1", { dev = "nosuch0" })
check(rtt == nil and err == "bind_device nosuch0: No such device", "missing dev: " .. tostring(err))
answers("192.0.2.1", { source = "192.0.2.2" }, "source 192.0.2.2")
answers("2001:db8::1", { source = "2001:db8::2" }, "source 2001:db8::2")
times_out("192.0.2.1", { source = "192.0.2.3", timeout = 0.3 }, "source 192.0.2.3")
rtt, err = ping("192.0.2.1", { source = "203.0.113.9" })
check(rtt == nil and err == "bind 203.0.113.9: Cannot assign requested address", "foreign source: " .. tostring(err))
rtt, err = ping("198.51.100.1", { timeout = 0.3 })
check(rtt == nil and err == "sendto: Network is unreachable", "no route: " .. tostring(rtt) .. " " .. tostring(err))

-- Misuse raises.
raises("not an IPv4 or IPv6 address", ping, "192.0.2.300")
raises("not an IPv4 or IPv6 address", ping, "peer.example")
raises("not an IPv4 or IPv6 address", ping, "2001:db8::1::2")
raises("unknown option 'tiemout'", ping, "192.0.2.1", { tiemout = 1 })
raises("option 'timeout'", ping, "192.0.2.1", { timeout = -1 })
raises("option 'source'", ping, "192.0.2.1", { source = "2001:db8::2" })
raises("option 'dev' must be a string", ping, "192.0.2.1", { dev = 1 })
raises("attempt to wait outside a task", coroutine.wrap(ping), "192.0.2.1")

-- A ping cancelled while it waits closes its socket at once.
collectgarbage()
local before = fds()
local waiting = luaha.spawn(ping, "192.0.2.99", { timeout = 5 })
luaha.sleep(0.1)
local held = fds() - before
check(held == 1, "a ping holds one socket, not " .. held)
check(waiting:cancel() == true, "cancel")
local left = fds() - before
check(left == 0, "sockets left after cancel: " .. left)
print("ok")
LUA

# Ten pings at once to an address that answers only some, its replies spread out in time so that
# every socket is open when they come: as many succeed as replies were sent.
cat > "$tmp/rate.lua" <<'LUA'
local luaha = require "luaha"
local tasks, n = {}, 0
for i = 1, 10 do tasks[i] = luaha.spawn(luaha.net.ping, arg[1], { source = arg[2], timeout = 1.5 }) end
for i = 1, 10 do if tasks[i]:join(5) then n = n + 1 end end
print(n)
LUA
# echo_replies: how many echo replies a has sent, IPv4 and IPv6.
echo_replies()
{
	ip netns exec "$a" awk '/^Icmp: / && !h { for (i = 1; i <= NF; i++) if ($i == "OutEchoReps") c = i; h = 1; next }
		/^Icmp: / { v4 = $c } END { print v4 }' /proc/net/snmp
	ip netns exec "$a" awk '$1 == "Icmp6OutEchoReplies" { print $2 }' /proc/net/snmp6
}
# rate ADDR SOURCE: the replies a sent for the ten pings equal the successes.
rate()
{
	local before after got sent
	before=$(echo_replies)
	ip netns exec "$b" timeout 30 "$LUAHA" "$tmp/rate.lua" "$1" "$2" > "$tmp/rate.log" 2>&1 ||
		fail "rate-limited pings to $1: $(tail -1 "$tmp/rate.log")"
	after=$(echo_replies)
	got=$(tail -1 "$tmp/rate.log")
	sent=$(( $(sed -n "${3}p" <<< "$after") - $(sed -n "${3}p" <<< "$before") ))
	[ "$sent" -gt 0 ] && [ "$sent" -lt 10 ] || fail "rate limit: a sent $sent replies to $2"
	[ "$got" = "$sent" ] || fail "to $1 from $2: $got pings succeeded for $sent replies"
}
ratemask4=$(ip netns exec "$a" sysctl -n net.ipv4.icmp_ratemask) || fail "icmp_ratemask"
ratemask6=$(ip netns exec "$a" sysctl -n net.ipv6.icmp.ratemask) || fail "ipv6 icmp ratemask"

# Raw sockets (the default: no group may open ping sockets), then unprivileged ping sockets.
n=3
for range in "1 0" "0 2147483647"; do
	ip netns exec "$b" sysctl -qw net.ipv4.ping_group_range="$range" || fail "ping_group_range"
	ip netns exec "$b" timeout 30 "$LUAHA" "$tmp/ping.lua" > "$tmp/ping.log" 2>&1 ||
		fail "ping_group_range $range: $(tail -1 "$tmp/ping.log")"
	grep -qx ok "$tmp/ping.log" || fail "ping_group_range $range: did not finish"
	# a rate-limits its echo replies per peer (a burst of 6, then one each 10 s), each run from a
	# fresh source, and sends them one per 60-80 ms: over veth a reply would otherwise arrive
	# before the next ping opens its socket, and a raw socket only sees what comes after.
	n=$((n + 1))
	ip netns exec "$a" sysctl -qw net.ipv4.icmp_ratemask=$((ratemask4 | 1)) net.ipv4.icmp_ratelimit=10000 \
		net.ipv6.icmp.ratemask="$ratemask6,129" net.ipv6.icmp.ratelimit=10000 || fail "rate limit"
	ip netns exec "$a" tc qdisc add dev eth0 root tbf rate 8kbit burst 100 latency 5s || fail "tbf"
	rate 192.0.2.1 192.0.2.$n 1
	rate 2001:db8::1 2001:db8::$n 2
	ip netns exec "$a" tc qdisc del dev eth0 root || fail "tbf del"
	ip netns exec "$a" sysctl -qw net.ipv4.icmp_ratemask="$ratemask4" net.ipv6.icmp.ratemask="$ratemask6" ||
		fail "restore ratemask"
done
echo "PASS $name"
