#!/bin/bash
# tests/repl/attach-disconnect.sh: a client that leaves has its running line cancelled quietly; what detach() started goes on.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=attach-disconnect
tmp=$(mktemp -d) || exit 2
. tests/lib/ctld.bash
trap ctld_cleanup EXIT
ctld_start

# until_ok CMD...: CMD succeeds within 10 s.
until_ok()
{
	for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
	return 1
}

# is VALUE CODE: the daemon says VALUE for the line CODE.
is()
{
	[ "$(ctld_attach -e "$2")" = "$1" ]
}

# A client killed while its line waits: the line is cancelled, one info line says so, and no traceback.
"$LUAHA" attach "$tmp/d.sock" -e 'state.started = true; luaha.sleep(2); state.line_finished = true' > /dev/null 2>&1 & client=$!
until_ok grep -q 'attached' "$tmp/daemon.log" || fail "the client did not attach"
until_ok is true 'state.started' || fail "the line did not start"
kill -9 "$client"
wait "$client" 2> /dev/null
until_ok grep -q "ctl: uid $(id -u) pid $client detached; its running line was cancelled" "$tmp/daemon.log" ||
	fail "the cancel was not logged"
sleep 2.5
is nil 'state.line_finished' || fail "the line went on after its client left"
grep -q "stack traceback" "$tmp/daemon.log" && fail "a traceback in the daemon's log"
echo "PASS $name-cancels-quietly"

# detach(f, ...) runs f in a task that outlives the client; its luaha.log lines still reach the daemon's log.
"$LUAHA" attach "$tmp/d.sock" -e 't = detach(function(n) luaha.sleep(1) state.detached = n; luaha.log.info("detached task done") end, 42)
    luaha.sleep(30)' > "$tmp/out" 2>&1 & client=$!
until_ok grep -q 'started a detached task' "$tmp/daemon.log" || fail "detach() was not logged"
kill -9 "$client"
wait "$client" 2> /dev/null
until_ok is 42 'state.detached' || fail "the detached task did not go on"
grep -q "info: detached task done" "$tmp/daemon.log" || fail "the detached task's log line is not in the daemon's log"
[ "$(ctld_attach -e 'pcall(detach, 1)')" = "$(printf 'false\tdetach: f must be a function')" ] ||
	fail "detach of a number: $(ctld_attach -e 'pcall(detach, 1)')"
grep -q "stack traceback" "$tmp/daemon.log" && fail "a traceback in the daemon's log"
echo "PASS $name-detach-outlives-the-client"
