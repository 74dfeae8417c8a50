#!/bin/bash
# tests/repl/repl-pipe.sh: `luaha -i` reading a pipe prints values and errors, no prompts, and goes on after an error or a line over 1 MiB.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=repl-pipe
LUAHA=${LUAHA:-./luaha}	# or build/luaha-asan
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

printf '1+2\nerror("x")\n3*3\n' | timeout 10 "$LUAHA" -i > "$tmp/out" 2> "$tmp/err"
rc=$?
fail()
{
	echo "FAIL $name: $*"
	echo "  | stdout:"; sed 's/^/  |   /' "$tmp/out"
	echo "  | stderr:"; sed 's/^/  |   /' "$tmp/err"
	exit 1
}
[ "$rc" = 0 ] || fail "exit status $rc"
[ "$(cat "$tmp/out")" = $'3\n9' ] || fail "stdout is not exactly 3 and 9"
grep -q '^stdin:1: x$' "$tmp/err" || fail "no error message on stderr"

# A piped line over 1 MiB is said and skipped, and the loop goes on with the next.
{ echo 1; head -c 2000000 /dev/zero | tr '\0' x; echo; echo 2; } | timeout 10 "$LUAHA" -i > "$tmp/out" 2> "$tmp/err"
rc=$?
[ "$rc" = 0 ] || fail "exit status $rc with a long line"
[ "$(cat "$tmp/out")" = $'1\n2' ] || fail "stdout around a long line is not 1 and 2"
grep -q '^luaha: read stdin: line longer than 1048576 bytes$' "$tmp/err" || fail "the long line was not said"
echo "PASS $name"
