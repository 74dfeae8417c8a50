#!/bin/bash
# tests/netns/halfopen-syn-check.sh: net.tcp_halfopen and nanny's half_open check against a peer namespace: SYN-ACK, RST, silence, no connection made, IPv4 and IPv6, many at once, cancel, errors.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test halfopen-syn-check
a=luaha-a-$$ b=luaha-b-$$

netns_add "$a" "$b"
netns_veth "$a" eth0 "$b" eth0
ip -n "$a" addr add 192.0.2.1/24 dev eth0 && ip -n "$a" addr add 192.0.2.9/24 dev eth0 &&
	ip -n "$a" addr add 192.0.2.10/24 dev eth0 && ip -n "$a" addr add 2001:db8::1/64 dev eth0 nodad &&
	ip -n "$a" addr add 2001:db8::9/64 dev eth0 nodad && ip -n "$a" addr add 2001:db8::10/64 dev eth0 nodad ||
	fail "addr a"
ip -n "$b" addr add 192.0.2.2/24 dev eth0 && ip -n "$b" addr add 192.0.2.3/24 dev eth0 &&
	ip -n "$b" addr add 2001:db8::2/64 dev eth0 nodad || fail "addr b"
# A second link, where a's source address is another: the checksum covers the source.
netns_veth "$a" eth1 "$b" eth1
ip -n "$a" addr add 198.51.100.1/24 dev eth1 && ip -n "$b" addr add 198.51.100.2/24 dev eth1 || fail "addr eth1"
# b's answers to 192.0.2.9 and 2001:db8::9 are dropped: a SYN from there gets nothing back.
ip -n "$b" route add blackhole 192.0.2.9/32 && ip -n "$b" route add blackhole 2001:db8::9/128 || fail "blackhole"

# b: a listener on 8080 (v4 and v6) that counts the connections it accepts; nothing on 8081.
cat > "$tmp/listener.lua" <<'LUA'
local luaha = require "luaha"
local accepted = 0
local s = assert(luaha.net.listen("::", 8080, function(conn) accepted = accepted + 1 conn:close() end))
luaha.on_signal("USR1", function()
    local f = assert(io.open(arg[1], "w")) f:write(accepted, "\n") f:close()
end)
luaha.sleep(60)
s:close()
LUA
ip netns exec "$b" "$LUAHA" "$tmp/listener.lua" "$tmp/accepted" > "$tmp/listener.log" 2>&1 &
listener=$!
netns_background $listener
for _ in $(seq 1 50); do ip netns exec "$b" ss -Htln 'sport = :8080' | grep -q . && break; sleep 0.1; done

cat > "$tmp/halfopen.lua" <<'LUA'
package.path = "tests/lib/?.lua;" .. package.path
local luaha = require "luaha"
local check_ = require "luaha.check"
local nanny = require "luaha.nanny"
local probes = require "luaha.probes"
local t = require "netns"
local check, raises, fds = t.check, t.raises, t.fds
local halfopen = luaha.net.tcp_halfopen

local function open(addr, port, opts, what)
    local rtt, err = halfopen(addr, port, opts)
    check(type(rtt) == "number" and rtt >= 0 and rtt < 1,
        ("%s: got %s %s"):format(what or addr, tostring(rtt), tostring(err)))
end
local function refused(addr, port, what)
    local rtt, err = halfopen(addr, port, { timeout = 1 })
    check(rtt == nil and err == "connection refused", ("%s: got %s %s"):format(what or addr, tostring(rtt), tostring(err)))
end

local rtt, err
open("192.0.2.2", 8080)
open("2001:db8::2", 8080, { timeout = 1 })
refused("192.0.2.2", 8081)
refused("2001:db8::2", 8081)
open("192.0.2.2", 8080, { source = "192.0.2.1" }, "source 192.0.2.1")
open("192.0.2.2", 8080, { source = "192.0.2.10" }, "source 192.0.2.10, not the one routing picks")
open("2001:db8::2", 8080, { source = "2001:db8::10" }, "source 2001:db8::10, not the one routing picks")
rtt, err = halfopen("2001:db8::2", 8080, { source = "2001:db8::9", timeout = 0.5 })
check(rtt == nil and err == "timeout", "source 2001:db8::9, whose answers b drops: " .. tostring(rtt) .. " " .. tostring(err))
open("198.51.100.2", 8080, nil, "through eth1, from 198.51.100.1")
open("192.0.2.2", 8080, nil, "through eth0 again")
-- This host's own listeners, over loopback.
local own = assert(luaha.net.listen("0.0.0.0", 9000, function(conn) conn:close() end))
open("127.0.0.1", 9000, nil, "own listener on 127.0.0.1")
open("192.0.2.1", 9000, nil, "own listener on 192.0.2.1")
refused("127.0.0.1", 9001, "nothing on 127.0.0.1:9001")
own:close()

-- No answer: the SYN is sent again after 1 s, and the timeout ends the wait.
local t0 = luaha.now()
rtt, err = halfopen("192.0.2.2", 8080, { source = "192.0.2.9", timeout = 1.5 })
local took = luaha.now() - t0
check(rtt == nil and err == "timeout", "silent: " .. tostring(rtt) .. " " .. tostring(err))
check(took >= 1.5 and took < 1.7, ("silent: timeout after %.3f s"):format(took))
rtt, err = halfopen("203.0.113.1", 80, { timeout = 0.3 })
check(rtt == nil and err:match("^%a+: Network is unreachable$"), "no route: " .. tostring(rtt) .. " " .. tostring(err))

-- 300 at once, to the open, the closed and the silent port: each gets its own answer.
local tasks, want = {}, {}
for i = 1, 300 do
    local k = i % 3
    want[i] = ({ [0] = "open", "refused", "timeout" })[k]
    local addr, port, opts = "192.0.2.2", 8080, { timeout = 1.2 }
    if k == 1 then port = 8081 elseif k == 2 then opts.source = "192.0.2.9" end
    tasks[i] = luaha.spawn(halfopen, addr, port, opts)
end
for i = 1, 300 do
    local r, e = tasks[i]:join(5)
    local got = r and "open" or (e == "connection refused" and "refused") or e
    check(got == want[i], ("concurrent %d: %s expected, got %s %s"):format(i, want[i], tostring(r), tostring(e)))
end

-- The check as nanny runs it, and the reason a refused one logs.
local ok, why = check_.run({ address = "192.0.2.2", port = 8080, half_open = true, timeout = 1 })
check(ok == true, "check.run half_open: " .. tostring(why))
ok, why = check_.run({ address = "192.0.2.2", port = 8081, half_open = true, timeout = 1 })
check(ok == nil and why == "connect: Connection refused", "check.run half_open refused: " .. tostring(why))
ok, why = check_.halfopen("2001:db8::2", 8080, { timeout = 1 })
check(ok == true, "check.halfopen v6: " .. tostring(why))
local v = { name = "web", port = 8080, protocol = "tcp", timeout = 1, reentry = 1, fall = 1, half_open = true,
    weight_ramp = false, load_monitor = "none" }
local mon = nanny.new(v, { address = "192.0.2.2", weight = 3 })
local changed = 0
local probe = luaha.spawn(probes.run_probe, { mon }, function() changed = changed + 1 end)
luaha.sleep(0.3)
check(mon.state == "in" and mon:weight() == 3 and changed == 1, "nanny half_open: " .. tostring(mon.state))
probe:cancel()

-- A probe cancelled while it waits leaves nothing behind; later ones still get their answers.
collectgarbage()
local before = fds()
local waiting = luaha.spawn(halfopen, "192.0.2.2", 8080, { source = "192.0.2.9", timeout = 5 })
luaha.sleep(0.1)
check(waiting:cancel() == true, "cancel")
collectgarbage()
check(fds() == before, "descriptors after cancel: " .. fds() - before)
open("192.0.2.2", 8080, nil, "after cancel")

-- A connect check (luaha.net.tcp_check) cancelled while it waits closes its socket at once.
collectgarbage()
before = fds()
waiting = luaha.spawn(luaha.net.tcp_check, "192.0.2.2", 8080, { source = "192.0.2.9", timeout = 5 })
luaha.sleep(0.1)
check(fds() == before + 1, "a waiting connect check holds one socket, not " .. fds() - before)
check(waiting:cancel() == true, "cancel tcp_check")
check(fds() == before, "descriptors after cancelling tcp_check: " .. fds() - before)
local took = luaha.net.tcp_check("192.0.2.2", 8080, { timeout = 1 })
check(type(took) == "number", "tcp_check through the veth")

-- Misuse raises.
raises("not an IPv4 or IPv6 address", halfopen, "192.0.2.300", 80)
raises("port 1-65535 expected", halfopen, "192.0.2.2", 0)
raises("unknown option 'tiemout'", halfopen, "192.0.2.2", 80, { tiemout = 1 })
raises("option 'timeout'", halfopen, "192.0.2.2", 80, { timeout = -1 })
raises("option 'source'", halfopen, "192.0.2.2", 80, { source = "2001:db8::1" })
raises("attempt to wait outside a task", coroutine.wrap(halfopen), "192.0.2.2", 80)
raises("half_open: a TCP check without send or expect expected", check_.run,
    { address = "192.0.2.2", port = 8080, half_open = true, send = "x" })
print("ok")
LUA
ip netns exec "$a" timeout 60 "$LUAHA" "$tmp/halfopen.lua" > "$tmp/halfopen.log" 2>&1 ||
	fail "$(grep -v '^$' "$tmp/halfopen.log" | tail -3)"
grep -qx ok "$tmp/halfopen.log" || fail "did not finish: $(tail -1 "$tmp/halfopen.log")"

# The listener's application saw no connection but tcp_check's, and its kernel holds no half-open
# one: each SYN-ACK was answered with a reset.
kill -USR1 $listener
for _ in $(seq 1 20); do [ -s "$tmp/accepted" ] && break; sleep 0.1; done
[ "$(cat "$tmp/accepted" 2> /dev/null)" = 1 ] ||
	fail "the listener accepted $(cat "$tmp/accepted") connections, not just the one of tcp_check"
left=$(ip netns exec "$b" ss -Htn state syn-recv | wc -l)
[ "$left" = 0 ] || fail "$left connections left in SYN-RECV on the server"
resets=$(ip netns exec "$a" awk '/^Tcp: / && !h { for (i = 1; i <= NF; i++) if ($i == "OutRsts") c = i; h = 1; next }
	/^Tcp: / { print $c }' /proc/net/snmp)
[ "$resets" -ge 100 ] || fail "the checker's kernel sent $resets resets, fewer than the SYN-ACKs"
echo "PASS $name"
