#!/bin/bash
# tests/netns/checks-run-in-c.sh: nanny's connect and half-open probes run in C (luaha.core.checker): open, refused, silent, IPv4 and IPv6, on schedule, one task, cancel frees the sockets, a stalled check not counted.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test checks-run-in-c
a=luaha-a-$$ b=luaha-b-$$

netns_add "$a" "$b"
netns_veth "$a" eth0 "$b" eth0
ip -n "$a" addr add 192.0.2.1/24 dev eth0 && ip -n "$a" addr add 192.0.2.9/24 dev eth0 &&
	ip -n "$a" addr add 2001:db8::1/64 dev eth0 nodad && ip -n "$a" addr add 2001:db8::9/64 dev eth0 nodad ||
	fail "addr a"
ip -n "$b" addr add 192.0.2.2/24 dev eth0 && ip -n "$b" addr add 192.0.2.3/24 dev eth0 &&
	ip -n "$b" addr add 2001:db8::2/64 dev eth0 nodad && ip -n "$b" addr add 2001:db8::3/64 dev eth0 nodad ||
	fail "addr b"
# a reaches b's .2 from its .1, b's .3 from its .9, and b's answers to .9 are dropped: .3 is silent.
ip -n "$a" route add 192.0.2.2/32 dev eth0 src 192.0.2.1 && ip -n "$a" route add 2001:db8::2/128 dev eth0 src 2001:db8::1 &&
	ip -n "$a" route add 192.0.2.3/32 dev eth0 src 192.0.2.9 && ip -n "$a" route add 2001:db8::3/128 dev eth0 src 2001:db8::9 &&
	ip -n "$b" route add blackhole 192.0.2.9/32 && ip -n "$b" route add blackhole 2001:db8::9/128 || fail "routes"

# b: a listener on 8080 (v4 and v6), nothing on 8081.
ip netns exec "$b" "$LUAHA" -e 'local luaha = require "luaha"
local s = assert(luaha.net.listen("::", 8080, function(conn) conn:close() end))
luaha.sleep(60) s:close()' > "$tmp/listener.log" 2>&1 &
netns_background $!
for _ in $(seq 1 50); do ip netns exec "$b" ss -Htln 'sport = :8080' | grep -q . && break; sleep 0.1; done

cat > "$tmp/checks.lua" <<'LUA'
package.path = "tests/lib/?.lua;" .. package.path
local luaha = require "luaha"
local nanny = require "luaha.nanny"
local probes = require "luaha.probes"
local t = require "netns"
local check, fds = t.check, t.fds

collectgarbage()
local before = fds()
-- Every kind of check, to the open port, the closed one and the silent address, in both families;
-- checked every 0.5 s with a timeout of 0.5 s.
local cases, handles = {}, {}
for _, half_open in ipairs({ false, true }) do
    local v = { name = half_open and "halfopen" or "connect", port = 8080, protocol = "tcp", timeout = 0.5,
        reentry = 0.5, fall = 1, half_open = half_open, weight_ramp = false, load_monitor = "none" }
    for _, c in ipairs({ { "192.0.2.2", 8080, "in" }, { "192.0.2.2", 8081, "connect: Connection refused" },
        { "192.0.2.3", 8080, "timeout" }, { "2001:db8::2", 8080, "in" },
        { "2001:db8::2", 8081, "connect: Connection refused" }, { "2001:db8::3", 8080, "timeout" } }) do
        local mon = nanny.new(v, { address = c[1], port = c[2], weight = 2 })
        local case = { mon = mon, want = c[3], what = ("%s %s:%d"):format(v.name, c[1], c[2]), checks = 0 }
        local step = mon.step
        mon.step = function(self, ...) case.checks = case.checks + 1 return step(self, ...) end
        cases[#cases + 1] = case
        handles[#handles + 1] = probes.start_probe({ mon }, function() case.changes = (case.changes or 0) + 1 end)
    end
end
-- One task takes every result: no worker per check in flight.
check(probes.workers() == 1, "tasks for the checks: " .. probes.workers())
luaha.sleep(2.2)
check(probes.workers() == 1, "tasks for the checks after 2 s: " .. probes.workers())
for _, c in ipairs(cases) do
    local mon, last = c.mon, c.mon.last
    check(last ~= nil, c.what .. ": no result")
    if c.want == "in" then
        check(mon.state == "in" and mon:weight() == 2 and c.changes == 1,
            c.what .. ": " .. mon.state .. " " .. tostring(last.reason) .. " checks " .. c.checks)
        check(last.ok == true and last.reason == nil and last.seconds >= 0 and last.seconds < 0.5,
            c.what .. ": last " .. tostring(last.ok) .. " " .. tostring(last.seconds))
        -- Checked at once, then every 0.5 s after the end of the previous check: 4 or 5 in 2.2 s.
        check(c.checks >= 4 and c.checks <= 6, c.what .. ": checks in 2.2 s: " .. c.checks)
    else
        check(mon.state == "out" and c.changes == nil, c.what .. ": " .. mon.state)
        check(last.ok == false and last.reason == c.want, c.what .. ": reason " .. tostring(last.reason))
        if c.want == "timeout" then
            -- Each takes its 0.5 s timeout, then 0.5 s to the next: 2 or 3 in 2.2 s.
            check(last.seconds >= 0.5 and last.seconds < 0.75, c.what .. ": took " .. last.seconds)
            check(c.checks >= 2 and c.checks <= 3, c.what .. ": checks in 2.2 s: " .. c.checks)
        end
    end
    check(math.abs(last.at - luaha.time()) < 2, c.what .. ": at " .. tostring(last.at))
end
-- Cancelled, the probes check no more: the sockets in flight close, and the collector ends.
for _, h in ipairs(handles) do check(h:cancel() == true, "cancel") end
check(handles[1]:cancel() == false and handles[1]:status() == "cancelled", "cancelled twice")
local counts = {}
for i, c in ipairs(cases) do counts[i] = c.checks end
luaha.sleep(0.6)
for i, c in ipairs(cases) do check(c.checks == counts[i], c.what .. ": checked after cancel") end
check(probes.workers() == 0, "tasks left: " .. probes.workers())
collectgarbage()
check(fds() <= before + 6, ("descriptors after cancel: %d more"):format(fds() - before))

-- A check that failed because this process was stalled (here, blocked in os.execute) is not
-- counted, and runs again at once.
local v = { name = "stall", port = 8080, protocol = "tcp", timeout = 0.5, reentry = 0.5, fall = 1,
    weight_ramp = false, load_monitor = "none" }
local mon = nanny.new(v, { address = "192.0.2.3", weight = 2 })
local steps = 0
local step = mon.step
mon.step = function(self, ...) steps = steps + 1 return step(self, ...) end
local h = probes.start_probe({ mon }, function() end)
luaha.sleep(0.1)
os.execute("sleep 1")
luaha.sleep(0.2)
check(steps == 0 and mon.last == nil, "a check stalled for 1 s was counted: " .. steps)
luaha.sleep(0.6)
check(steps == 1 and mon.last and mon.last.reason == "timeout", "the check run again at once: " .. steps)
h:cancel()
print("ok")
LUA
ip netns exec "$a" timeout 60 "$LUAHA" "$tmp/checks.lua" > "$tmp/checks.log" 2>&1 ||
	fail "$(grep -v '^$' "$tmp/checks.log" | tail -3)"
grep -qx ok "$tmp/checks.log" || fail "did not finish: $(tail -1 "$tmp/checks.log")"
grep -q '192.0.2.3:8080: a check failed after 1\.. s with a timeout of 0.5 s: this process was stalled; not counted' \
	"$tmp/checks.log" || fail "the stalled check was not logged"
echo "PASS $name"
