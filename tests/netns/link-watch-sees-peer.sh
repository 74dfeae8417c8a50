#!/bin/bash
# tests/netns/link-watch-sees-peer.sh: link.watch sees the veth peer go down and up, addresses come and go, and an overrun as a resync.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test link-watch-sees-peer
a=luaha-wa-$$ b=luaha-wb-$$
# waitfor PATTERN: until the watcher's log has a line matching it, at most 5 s.
waitfor()
{
	for _ in $(seq 50); do
		grep -qE "$1" "$tmp/watch.log" 2> /dev/null && return 0
		sleep 0.1
	done
	fail "no event matching '$1'"
}

netns_add "$a" "$b"
netns_veth "$a" eth0 "$b" eth0
# A second pair inside a, to flap faster than the watcher can read.
ip -n "$a" link add name flap0 type veth peer name flap1 || fail "flap veth"
for _ in $(seq 5000); do echo "link set flap0 up"; echo "link set flap0 down"; done > "$tmp/flap.batch"

# One line per event; after the address is removed it blocks the loop while
# the kernel queues more messages than the socket holds, and expects a resync.
cat > "$tmp/watch.lua" <<'LUA'
local luaha = require "luaha"
local link = luaha.link
io.stdout:setvbuf("line")
local flap = ...
local w
w = assert(link.watch(function(ev)
    if ev.type == "link" then
        print(("link %s %s up=%s carrier=%s index=%s mac=%s mtu=%s"):format(ev.action, ev.name,
            ev.up, ev.carrier, ev.index, ev.mac, ev.mtu))
    elseif ev.type == "addr" then
        print(("addr %s %s %s %s %s"):format(ev.action, ev.dev, ev.address, ev.family, ev.label))
        if ev.action == "del" and ev.address == "198.51.100.7/24" then
            os.execute("ip -batch " .. flap)
        end
    else
        print(ev.type)
        print("cancel", w:cancel(), w:cancel(), tostring(w))
    end
end))
print(tostring(w))
print("ready")
LUA
ip netns exec "$a" timeout 60 "$LUAHA" "$tmp/watch.lua" "$tmp/flap.batch" > "$tmp/watch.log" 2>&1 &
watcher=$!
netns_background "$watcher"
waitfor '^ready$'

mac=$(netns_mac "$a" eth0)
ip -n "$b" link set eth0 down || fail "peer down"
waitfor "^link new eth0 up=true carrier=false index=[0-9]+ mac=$mac mtu=1500$"
ip -n "$b" link set eth0 up || fail "peer up"
waitfor "^link new eth0 up=true carrier=true index=[0-9]+ mac=$mac mtu=1500$"
ip -n "$a" addr add 198.51.100.7/24 dev eth0 label eth0:5 || fail "addr add"
waitfor '^addr new eth0 198\.51\.100\.7/24 inet eth0:5$'
ip -n "$a" addr add 2001:db8::7/64 dev eth0 || fail "addr add IPv6"
waitfor '^addr new eth0 2001:db8::7/64 inet6 nil$'
ip -n "$a" addr del 2001:db8::7/64 dev eth0 || fail "addr del IPv6"
waitfor '^addr del eth0 2001:db8::7/64 inet6 nil$'
ip -n "$a" addr del 198.51.100.7/24 dev eth0 || fail "addr del"
waitfor '^addr del eth0 198\.51\.100\.7/24 inet eth0:5$'

# The watcher kept the program alive; cancelling it in the resync lets it end.
for _ in $(seq 300); do kill -0 "$watcher" 2> /dev/null || break; sleep 0.1; done
netns_wait "$watcher" || fail "watcher exit status $?"
grep -qx 'resync' "$tmp/watch.log" || fail "no resync after the overrun"
grep -q 'events were lost' "$tmp/watch.log" || fail "the overrun was not logged"
grep -qx 'cancel	true	false	link watcher (cancelled)' "$tmp/watch.log" || fail "cancel"
grep -qx 'link watcher (armed)' "$tmp/watch.log" || fail "tostring"
grep -q 'link new eth0 up=true carrier=true' <(sed -n '/carrier=false/,$p' "$tmp/watch.log") ||
	fail "carrier-up came before carrier-down"
echo "PASS $name"
