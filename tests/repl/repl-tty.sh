#!/bin/bash
# tests/repl/repl-tty.sh: a person at a terminal (a tmux pane): values, tables, a multi-line function, history, ^D.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=repl-tty
LUAHA=${LUAHA:-./luaha}	# or build/luaha-asan
command -v tmux > /dev/null || { echo "SKIP $name: no tmux"; exit 0; }
tmp=$(mktemp -d) || exit 2
. tests/lib/tmux.bash
trap 'tm kill-server 2> /dev/null; rm -rf "$tmp"' EXIT

pane=
fail()
{
	echo "FAIL $name: $*"
	tm capture-pane -p -t "$pane" 2> /dev/null | sed 's/^/  | /'
	exit 1
}

# start NAME: luaha in a new window NAME; when it ends, its status is shown and the terminal's modes saved.
start()
{
	pane=$1
	if [ -z "$(tm list-sessions 2> /dev/null)" ]; then
		tm -f /dev/null new-session -d -s luaha -n "$1" -x 100 -y 40 \
		    "$LUAHA; echo luaha-exit=\$?; stty -a > '$tmp/$1.stty'; sleep 60"
	else
		tm new-window -d -t luaha -n "$1" \
		    "$LUAHA; echo luaha-exit=\$?; stty -a > '$tmp/$1.stty'; sleep 60"
	fi || fail "cannot start tmux"
	pane=luaha:$1
}



# restored NAME: after luaha ended, the terminal is back in its usual (cooked, echoing) modes.
restored()
{
	local i flag
	for ((i = 0; i < 50; i++)); do
		[ -s "$tmp/$1.stty" ] && break
		sleep 0.1
	done
	for flag in icanon echo isig; do
		grep -qE "(^| )$flag( |$)" "$tmp/$1.stty" || fail "$1: terminal left without $flag"
	done
}

start typing
wait_line '^> ?$' || fail "no prompt"
type_line '1+1'
wait_line '^2$' || fail "1+1 did not print 2"

type_line '{ 1, "two", x = { y = true } }'
wait_line '^\{ 1, "two", x = \{ y = true \} \}$' || fail "table not shown formatted"

type_line 'function f()'
wait_line '^>> ?$' || fail "no continuation prompt"
type_line '  count = (count or 0) + 1'
type_line '  return count * 10'
type_line 'end'
type_line 'f()'
wait_line '^10$' || fail "f() did not print 10"

# Up recalls f(): only running it again prints 20.
tm send-keys -t "$pane" Up
wait_line '^> f\(\)$' 2 || fail "Up did not recall f()"
tm send-keys -t "$pane" Enter
wait_line '^20$' || fail "the recalled f() did not print 20"

tm send-keys -t "$pane" C-d
wait_line '^luaha-exit=0$' || fail "^D did not end luaha with status 0"
! tm capture-pane -p -t "$pane" | grep -q '\^D' || fail "^D left on the screen"
! tm capture-pane -p -t "$pane" | grep -q 'stack traceback' || fail "a traceback on the screen"
restored typing

# The program ending while libedit has the terminal raw (at the prompt) gives it back too.
start exiting
wait_line '^> ?$' || fail "no prompt"
type_line 'luaha.spawn(function() luaha.sleep(0.3) luaha.exit(3) end)'
wait_line '^luaha-exit=3$' || fail "luaha.exit(3) in a task did not end luaha with status 3"
wait_line '^>( |$)' 2 || fail "luaha ended before the REPL prompted again"
restored exiting

echo "PASS $name"
