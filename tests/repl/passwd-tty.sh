#!/bin/bash
# tests/repl/passwd-tty.sh: `luaha passwd` at a terminal (a pty): two prompts, no echo, echo back after, ^C, differing passwords.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=passwd-tty
LUAHA=${LUAHA:-./luaha}	# or build/luaha-asan
PY=$(command -v python3) || { echo "SKIP $name: no python3"; exit 0; }
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

# The driver runs "luaha passwd ARGS; stty -a" in a pty, answers each prompt it waits for
# (at most 60 s each), and prints everything the terminal showed, then the exit status.
cat > "$tmp/drive.py" << 'EOF'
import os, pty, select, sys, time
luaha, path, user, answers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    # The shell catches INT (a handler is reset at exec) so that it lives to print the exit status after ^C.
    os.execvp("sh", ["sh", "-c", 'trap : INT; "$0" passwd -f "$1" "$2"; echo "exit=$?"; stty -a', luaha, path, user])
seen = b""
def read_until(marker, secs=60):
    global seen
    end = time.monotonic() + secs
    while marker not in seen:
        left = end - time.monotonic()
        if left <= 0:
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit("timeout waiting for %r" % marker)
        r, _, _ = select.select([fd], [], [], left)
        try:
            chunk = os.read(fd, 4096) if r else b""
        except OSError:
            chunk = b""
        if r and not chunk:
            break
        seen += chunk
for a in answers:
    prompt, text = a.split("=", 1)
    read_until(prompt.encode())
    time.sleep(0.2)            # the echo is off once the prompt is written; a margin for a busy machine
    os.write(fd, text.encode().replace(b"^C", b"\x03").replace(b"\\n", b"\n"))
read_until(b"exit=")
read_until(b"speed")           # stty -a's first line
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    r, _, _ = select.select([fd], [], [], 1)
    try:
        chunk = os.read(fd, 4096) if r else b""
    except OSError:
        break
    if r and not chunk:
        break
    seen += chunk
os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
EOF

fail()
{
	echo "FAIL $name: $*"
	sed 's/^/  | /' "$tmp/out"
	exit 1
}

# echo_back: stty -a, after luaha ended, shows echo on (" echo ", not "-echo").
echo_back()
{
	grep -qE '(^|[ ;])echo( |;|$)' "$tmp/out" || fail "$1: the terminal's echo was not given back"
}

# 1. Typed twice: the file is written, 0600, the hash verifies, and the password never shows.
"$PY" "$tmp/drive.py" "$LUAHA" "$tmp/p" piranha \
    "New password for piranha: =tty s3cret pw\n" "Retype it: =tty s3cret pw\n" > "$tmp/out" 2>&1 ||
	fail "driver failed"
grep -q 'exit=0' "$tmp/out" || fail "exit status is not 0"
grep -q 'tty s3cret pw' "$tmp/out" && fail "the password was echoed"
echo_back typed
[ "$(stat -c %a "$tmp/p")" = 600 ] || fail "mode $(stat -c %a "$tmp/p"), not 600"
grep -qE '^piranha:\$argon2id\$' "$tmp/p" || fail "no piranha:\$argon2id\$ line: $(cat "$tmp/p")"
"$LUAHA" -e "local u = assert(require('luaha.httpauth').read_passwd('$tmp/p'))
	assert(require('luaha').auth.pwhash_verify(u.piranha, 'tty s3cret pw'), 'does not verify')" ||
	fail "the hash does not verify the password typed"

# 2. Two different passwords: exit 1, the file unchanged.
cp "$tmp/p" "$tmp/p.before"
"$PY" "$tmp/drive.py" "$LUAHA" "$tmp/p" piranha \
    "New password for piranha: =one\n" "Retype it: =two\n" > "$tmp/out" 2>&1 || fail "driver failed"
grep -q 'exit=1' "$tmp/out" || fail "differing passwords: exit status is not 1"
grep -q 'the two passwords differ' "$tmp/out" || fail "differing passwords: no message"
echo_back differ
cmp -s "$tmp/p" "$tmp/p.before" || fail "differing passwords changed the file"

# 3. Control-C at the prompt: exit 1 at once, echo back, the file unchanged.
"$PY" "$tmp/drive.py" "$LUAHA" "$tmp/p" piranha "New password for piranha: =^C" > "$tmp/out" 2>&1 ||
	fail "driver failed"
grep -q 'exit=1' "$tmp/out" || fail "control-C: exit status is not 1"
grep -q 'interrupted' "$tmp/out" || fail "control-C: no message"
echo_back interrupted
cmp -s "$tmp/p" "$tmp/p.before" || fail "control-C changed the file"
echo "PASS $name"
