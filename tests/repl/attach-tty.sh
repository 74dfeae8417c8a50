#!/bin/bash
# tests/repl/attach-tty.sh: `luaha attach` in a terminal (a tmux pane) as a person uses it: values, multi-line input, ^C, ^D, two at once.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=attach-tty
LUAHA=${LUAHA:-./luaha}	# or build/luaha-asan
command -v tmux > /dev/null || { echo "SKIP $name: no tmux"; exit 0; }
tmp=$(mktemp -d) || exit 2
. tests/lib/tmux.bash
daemon=
trap 'tm kill-server 2> /dev/null; [ -n "$daemon" ] && kill "$daemon" 2> /dev/null; rm -rf "$tmp"' EXIT

pane=
fail()
{
	echo "FAIL $name: $*"
	[ -n "$pane" ] && tm capture-pane -p -t "$pane" 2> /dev/null | sed 's/^/  | /'
	sed 's/^/  | daemon: /' "$tmp/daemon.log"
	exit 1
}

# The daemon: a counter that a heartbeat-like timer bumps every 10 ms, and a control socket.
cat > "$tmp/daemon.lua" <<'LUA'
local luaha = require "luaha"
ticks, gap, last = 0, 0, luaha.now()
luaha.every(0.01, function()
    local now = luaha.now()
    gap = math.max(gap, now - last)
    last, ticks = now, ticks + 1
end)
LUA
"$LUAHA" --ctl "$tmp/d.sock" "$tmp/daemon.lua" > "$tmp/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 50); do [ -S "$tmp/d.sock" ] && break; sleep 0.1; done
[ -S "$tmp/d.sock" ] || fail "no control socket"

# start NAME: luaha attach in a new window NAME; its status is shown when it ends.
start()
{
	if [ -z "$(tm list-sessions 2> /dev/null)" ]; then
		tm -f /dev/null new-session -d -s attach -n "$1" -x 100 -y 40 \
		    "$LUAHA attach $tmp/d.sock; echo attach-exit=\$?; sleep 60"
	else
		tm new-window -d -t attach -n "$1" "$LUAHA attach $tmp/d.sock; echo attach-exit=\$?; sleep 60"
	fi || fail "cannot start tmux"
	pane=attach:$1
}



start one
wait_line '^> ?$' || fail "no prompt"
type_line 'ticks > 0'
wait_line '^true$' || fail "the daemon's global not seen"
type_line 'function twice(x)'
wait_line '^>> ?$' || fail "no continuation prompt"
type_line '  return 2 * x'
type_line 'end'
type_line 'twice(21)'
wait_line '^42$' || fail "a function defined over lines did not run"

# A line that waits does not stop the daemon's timer; ^C cancels it.
type_line 'gap = 0; luaha.sleep(30)'
sleep 1
tm send-keys -t "$pane" C-c
wait_line 'cancelled' || fail "^C did not cancel the running line"
type_line 'gap < 0.5'
wait_line '^true$' 2 || fail "the daemon's timer stalled while a line waited"

# A second client at the same time sees the same daemon.
start two
wait_line '^> ?$' || fail "no prompt in the second client"
type_line 'twice ~= nil'
wait_line '^false$' || fail "the sessions' own globals are not their own"
type_line 'ticks > 0'
wait_line '^true$' || fail "the second client does not see the daemon"

# An error shows its traceback and the session goes on; ^D detaches, the daemon stays.
pane=attach:one
type_line 'error("boom")'
wait_line 'attach:1: boom' || fail "no error shown"
type_line '1+1'
wait_line '^2$' || fail "the session did not go on after an error"
tm send-keys -t "$pane" C-d
wait_line '^attach-exit=0$' || fail "^D did not detach with status 0"
kill -0 "$daemon" || fail "the daemon ended with a client"
echo "PASS $name"
