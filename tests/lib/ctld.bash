# tests/lib/ctld.bash: a daemon with a control socket for the tests/repl/attach-*.sh and ctl-*.sh scenarios; sourced, not run.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The caller sets $name and $tmp (a directory of its own, removed at exit by ctld_cleanup).
#   ctld_start [LUA]   starts "$LUAHA --ctl $tmp/d.sock" on a script with a ticker every 10 ms that keeps the
#                      longest gap between its ticks in the global gap, a global table state, and LUA; waits
#                      up to 5 s for the socket
#   ctld_attach ARGS   luaha attach $tmp/d.sock ARGS
#   fail WHY           prints FAIL with the daemon's log and exits 1
#   ctld_cleanup       stops the daemon and removes $tmp

LUAHA=${LUAHA:-./luaha}	# or build/luaha-asan
daemon=

ctld_cleanup()
{
	[ -n "$daemon" ] && kill "$daemon" 2> /dev/null && wait "$daemon" 2> /dev/null
	rm -rf "$tmp"
}

fail()
{
	echo "FAIL $name: $*"
	[ -f "$tmp/daemon.log" ] && sed 's/^/  | daemon: /' "$tmp/daemon.log"
	exit 1
}

ctld_start()
{
	cat > "$tmp/daemon.lua" <<LUA
local luaha = require "luaha"
state, gap = {}, 0
local last = luaha.now()
luaha.every(0.01, function()
    local now = luaha.now()
    gap = math.max(gap, now - last)
    last = now
end)
$1
LUA
	"$LUAHA" --ctl "$tmp/d.sock" "$tmp/daemon.lua" > "$tmp/daemon.log" 2>&1 &
	daemon=$!
	for _ in $(seq 50); do [ -S "$tmp/d.sock" ] && return 0; sleep 0.1; done
	fail "no control socket"
}

ctld_attach()
{
	"$LUAHA" attach "$tmp/d.sock" "$@"
}
