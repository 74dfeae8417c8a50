#!/bin/bash
# tests/repl/attach-pipe.sh: `luaha attach` fed by a pipe or -e: exit statuses, strings as text, io and print to the client, ctl commands as functions, help().
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=attach-pipe
tmp=$(mktemp -d) || exit 2
. tests/lib/ctld.bash
trap ctld_cleanup EXIT
ctld_start 'local ctl = require "luaha.ctl"
ctl.register("greet", function(args, out) out.print("hello " .. (args[1] or "world")) return true end, "greet [NAME]")
ctl.register("refuse", function() return nil, "refused, as asked" end, "refuse")
ctl.register("strict", function() return nil, "usage: strict WORD" end, "strict WORD")'

# expect WHAT WANT GOT: GOT is WANT.
expect()
{
	[ "$3" = "$2" ] || fail "$1: got '$3', want '$2'"
}

# A piped session exits 1 when a line failed, or when the input ends inside a chunk, and 0 otherwise.
printf '1 + 1\nerror("boom")\n3\n' | ctld_attach > "$tmp/out" 2> "$tmp/err"
expect "status after a failed line" 1 $?
expect "output after a failed line" $'2\n3' "$(cat "$tmp/out")"
grep -q 'attach:1: boom' "$tmp/err" || fail "no error on stderr: $(cat "$tmp/err")"
printf 'x = 1\nx + 1\n' | ctld_attach > "$tmp/out" 2>&1
expect "status when every line succeeds" 0 $?
expect "output" 2 "$(cat "$tmp/out")"
printf '1\nfunction f()\n' | ctld_attach > "$tmp/out" 2> "$tmp/err"
expect "status when the input ends inside a chunk" 1 $?
grep -q 'the input ended inside a chunk' "$tmp/err" || fail "incomplete input not said: $(cat "$tmp/err")"
# Lines too long for the daemon (64 KiB) or for the reader (1 MiB) are refused here, and the next one runs.
{ echo 1; head -c 70000 /dev/zero | tr '\0' x; echo; echo 2; head -c 2000000 /dev/zero | tr '\0' y; echo; echo 3; } |
	ctld_attach > "$tmp/out" 2> "$tmp/err"
expect "status after over-long lines" 1 $?
expect "output around over-long lines" $'1\n2\n3' "$(cat "$tmp/out")"
grep -q 'luaha: a line is at most 65531 bytes; this one, 70000, is not sent' "$tmp/err" || fail "70000: $(head -c 300 "$tmp/err")"
grep -q 'luaha: read stdin: line longer than 1048576 bytes' "$tmp/err" || fail "2000000: $(head -c 300 "$tmp/err")"
ctld_attach -e 'error("x")' > /dev/null 2>&1
expect "-e status of a failing line" 1 $?
ctld_attach -e 'function f()' > /dev/null 2>&1
expect "-e status of an incomplete chunk" 1 $?
ctld_attach -e 'return 1' > /dev/null
expect "-e status" 0 $?
echo "PASS $name-exit-status"

# Strings come out as text at the top level, values pretty-printed, strings in tables quoted.
expect "a string" $'line one\nline two' "$(ctld_attach -e '"line one\nline two\n"')"
expect "values" $'a\t1\t{ "b", c = true }' "$(ctld_attach -e '"a", 1, { "b", c = true }')"
echo "PASS $name-strings-as-text"

# print, io.write, io.stdout and io.stderr go to the client, not to the daemon's output.
ctld_attach -e 'print("p1", 2) io.write("w1 ", 2, "\n") io.stdout:write("s1\n"):write("s2\n") io.stderr:write("e1\n")' \
	> "$tmp/out" 2> "$tmp/err" || fail "writing failed: $(cat "$tmp/err")"
expect "stdout" $'p1\t2\nw1 2\ns1\ns2' "$(cat "$tmp/out")"
expect "stderr" e1 "$(cat "$tmp/err")"
grep -qE 'p1|w1|s1|e1' "$tmp/daemon.log" && fail "the session's output reached the daemon's output"
ctld_attach -e 'io.write({})' > /dev/null 2> "$tmp/err" && fail "io.write of a table succeeded"
grep -q "bad argument #1 to 'write' (string expected, got table)" "$tmp/err" || fail "io.write({}): $(cat "$tmp/err")"
# Two tasks writing 2 MB each at once: the frames go out whole, one at a time, as the client reads.
ctld_attach -e 'local t = detach(function() for _ = 1, 200 do io.write(("x"):rep(9999), "\n") end end)
    for _ = 1, 200 do io.write(("y"):rep(9999), "\n") end t:join()' > "$tmp/out" 2> "$tmp/err" ||
	fail "two writers: $(head -c 300 "$tmp/err")"
expect "lines from two writers" "200 200" "$(grep -cx 'x\{9999\}' "$tmp/out") $(grep -cx 'y\{9999\}' "$tmp/out")"
echo "PASS $name-output-to-the-client"

# The ctl commands are functions: they print what they print and return their success.
expect "ctl.greet" $'hello you\ntrue' "$(ctld_attach -e 'ctl.greet("you")')"
ctld_attach -e 'ctl.refuse()' > "$tmp/out" 2> "$tmp/err"
expect "ctl.refuse status" 0 $?
expect "ctl.refuse result" false "$(cat "$tmp/out")"
expect "ctl.refuse message" "refused, as asked" "$(cat "$tmp/err")"
ctld_attach -e 'ctl.nosuch()' > /dev/null 2> "$tmp/err" && fail "an unknown command did not raise"
grep -q 'no ctl command "nosuch"; this daemon has: greet, refuse, strict' "$tmp/err" || fail "ctl.nosuch: $(cat "$tmp/err")"
expect "ctl as a value" "ctl commands: greet, refuse, strict" "$(ctld_attach -e 'ctl')"
echo "PASS $name-ctl-commands-as-functions"

# luaha ctl's exit status, luaha's convention: 0 done, 1 refused, 2 a bad command or its arguments (the daemon's "usage:").
ctl()
{
	"$LUAHA" ctl "$tmp/d.sock" "$@" > "$tmp/out" 2> "$tmp/err"
}
ctl greet; expect "ctl greet" 0 $?
expect "ctl greet says" "hello world" "$(cat "$tmp/out")"
ctl refuse; expect "ctl refuse" 1 $?
ctl strict; expect "ctl strict without its word" 2 $?
expect "ctl strict says" "usage: strict WORD" "$(cat "$tmp/err")"
ctl nosuch; expect "ctl of an unknown command" 2 $?
grep -q 'unknown command "nosuch"' "$tmp/err" || fail "ctl nosuch: $(cat "$tmp/err")"
ctld_attach -e 'ctl.strict()' > "$tmp/out" 2> /dev/null
expect "ctl.strict() at attach returns one value" false "$(cat "$tmp/out")"
"$LUAHA" ctl "$tmp/nosuch.sock" greet 2> /dev/null; expect "ctl to no daemon" 1 $?
echo "PASS $name-ctl-exit-status"

# help() lists luaha's modules, the ctl commands and the helpers, one entry each.
ctld_attach -e 'help()' > "$tmp/out" || fail "help() failed"
for want in '^  luaha\.net  .*listen_unix' '^  luaha\.ctl  ' '^  ctl\.greet  *greet \[NAME\]$' '^  help\(\) ' \
    '^  detach\(f, \.\.\.\) ' '^  io\.write\(\.\.\.\) ' '^  ctl\.NAME\(arg, \.\.\.\) '; do
	grep -qE "$want" "$tmp/out" || fail "help() has no line matching $want: $(cat "$tmp/out")"
done
grep -q "stack traceback" "$tmp/daemon.log" && fail "a traceback in the daemon's log"
echo "PASS $name-help"
