# tests/verdict.sh: judge one test file's exit status and log; sourced by tests/run and tests/uml/suite.
# SPDX-License-Identifier: GPL-2.0-or-later

# Lines starting with "  | " quote another file's log (a failing scenario's, a
# console's) and are ignored here, so quoted results do not count twice.

# verdict NAME RC LOG: print the PASS/FAIL/SKIP lines the file earned; return 1 if any is FAIL.
# A Lua traceback turns its PASS lines into FAIL unless it printed EXPECT-TRACEBACK.
verdict()
{
	local name=$1 rc=$2 own lines

	own=$(grep -v '^  | ' "$3")
	lines=$(grep -E '^(PASS|FAIL|SKIP)( |$)' <<< "$own")
	if grep -q 'stack traceback:' <<< "$own" && ! grep -qE '^EXPECT-TRACEBACK( |$)' <<< "$own"; then
		lines=$(sed -E 's/^PASS( (.*))?$/FAIL \2: Lua traceback in log/' <<< "$lines")
	fi
	case $rc in
	0)	;;
	124)	lines+=$'\n'"FAIL $name: timed out";;
	137)	lines+=$'\n'"FAIL $name: killed (timed out and ignored SIGTERM?)";;
	*)	grep -q '^FAIL' <<< "$lines" || lines+=$'\n'"FAIL $name: exit $rc";;
	esac
	lines=$(sed '/^$/d' <<< "$lines")
	[ -n "$lines" ] || lines="FAIL $name: printed no PASS, FAIL or SKIP"
	printf '%s\n' "$lines"
	! grep -q '^FAIL' <<< "$lines"
}
