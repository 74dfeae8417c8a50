#!/bin/bash
# tests/repl/ctl-long-line.sh: a 64 MiB control line is refused at 64 KiB, the client disconnected, and the daemon's 10 ms ticker never stalls.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=ctl-long-line
tmp=$(mktemp -d) || exit 2
. tests/lib/ctld.bash
trap ctld_cleanup EXIT
ctld_start

# A client sends "attach", then one line of 64 MiB, and prints the frames it gets until the daemon closes.
cat > "$tmp/client.lua" <<'LUA'
local luaha = require "luaha"
-- The line is made before connecting: seconds in the ASan build on a busy machine, and the daemon waits
-- 10 s for a client's first line.
local long = string.rep("x", 64 * 1024 * 1024) .. "\n"
local c = assert(luaha.net.unix(arg[1], { timeout = 60 }))
c:send(arg[2] .. "\n")
c:send(long)                                                    -- fails once the daemon closes
while true do
    local head = c:receive("*l")
    if not head then break end
    local kind, len = head:match("^(%a+) (%d+)$")
    io.write(kind, " ", c:receive(tonumber(len)) or "", "\n")
end
print("closed")
LUA
ctld_attach -e 'gap = 0' > /dev/null || fail "attach before the long line"
timeout 60 "$LUAHA" "$tmp/client.lua" "$tmp/d.sock" attach > "$tmp/out" 2>&1 || fail "the client: $(cat "$tmp/out")"
grep -q '^err luaha: receive: line longer than 65536 bytes$' "$tmp/out" || fail "no err frame: $(head -c 300 "$tmp/out")"
tail -n 1 "$tmp/out" | grep -qx closed || fail "the client was not disconnected"
gap=$(ctld_attach -e 'gap') || fail "attach after the long line"
echo "longest gap between 10 ms ticks while a 64 MiB line came: $gap s"
awk -v g="$gap" 'BEGIN { exit !(g < 2) }' || fail "the daemon's loop stalled $gap s"
grep -q "ctl: uid $(id -u) pid [0-9]*: receive: line longer than 65536 bytes; disconnected" "$tmp/daemon.log" ||
	fail "the refusal was not logged"
echo "PASS $name-attach"

# The same bound for `luaha ctl`'s command line: refused, counted, and logged at most once in 10 s.
long=$(head -c 70000 /dev/zero | tr '\0' x)
"$LUAHA" ctl "$tmp/d.sock" status "$long" > "$tmp/out" 2>&1 && fail "a 70000-byte command line was taken"
grep -q 'luaha: receive: line longer than 65536 bytes' "$tmp/out" || fail "luaha ctl did not say why: $(head -c 300 "$tmp/out")"
[ "$(ctld_attach -e 'require("luaha.ctl").refused')" = 2 ] || fail "the refusals were not counted"
[ "$(grep -c 'line longer than' "$tmp/daemon.log")" = 1 ] || fail "the second refusal was logged within 10 s"
[ "$(ctld_attach -e '1 + 1')" = 2 ] || fail "the daemon does not answer after the refusals"
grep -q "stack traceback" "$tmp/daemon.log" && fail "a traceback in the daemon's log"
echo "PASS $name-ctl"
