# tests/lib/tmux.bash: a person at a terminal, for the tests/repl/*-tty.sh scenarios: a tmux server of the test's own; sourced, not run.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The caller sets $tmp (the server's socket lives there) and $pane (the window typed into), and kills the
# server at exit with `tm kill-server`.
#   tm ARGS...            tmux on the test's own server
#   wait_line REGEX [N]   wait up to 5 s for N (default 1) screen lines matching REGEX
#   type_line TEXT        the keys of TEXT, then Enter

tm()
{
	tmux -S "$tmp/tmux" "$@"
}

wait_line()
{
	local i n
	for ((i = 0; i < 50; i++)); do
		n=$(tm capture-pane -p -t "$pane" | grep -cE -- "$1")
		[ "$n" -ge "${2:-1}" ] && return 0
		sleep 0.1
	done
	return 1
}

type_line()
{
	tm send-keys -t "$pane" -l -- "$1" && tm send-keys -t "$pane" Enter
}
