#!/bin/bash
# tests/netns/isolate-finds-leftovers.sh: tests/isolate fails a test file for the processes, namespaces, mounts and files it leaves, and removes them.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test isolate-finds-leftovers

# A test file that passes and leaves everything behind: a child, a daemon that left its session, a process
# in a namespace that cleared its environment, the namespace, a mount, a temporary file.
cat > "$tmp/leaky.sh" <<'SH'
ip netns add luaha-leak-$$ || exit 2
sleep 300 & echo $! >> "$1/pids"
setsid sleep 301 < /dev/null > /dev/null 2>&1 & echo $! >> "$1/pids"
ip netns exec luaha-leak-$$ env -i sleep 302 & echo $! >> "$1/pids"
mkdir -p "$1/mnt" && mount -t tmpfs leak "$1/mnt" || exit 2
mktemp > /dev/null || exit 2
echo "PASS leaky"
SH
LEFT_GRACE=1 tests/isolate leaky 60 bash "$tmp/leaky.sh" "$tmp" > "$tmp/out" 2>&1
rc=$?
sed 's/^/  | /' "$tmp/out" > "$tmp/isolate.log"
[ "$rc" = 0 ] || fail "the leaky file's own status was not kept: $rc"
grep -qx "PASS leaky" "$tmp/out" || fail "the file's own result is missing"
for what in "process [0-9]* (sleep 300)" "process [0-9]* (sleep 301)" "network namespace luaha-leak-[0-9]*" \
		"a mount on $tmp/mnt" "files in TMPDIR: tmp\..*"; do
	grep -qx "FAIL leaky: left $what" "$tmp/out" || fail "no FAIL line for: $what"
done
[ "$(grep -c '^FAIL' "$tmp/out")" = 5 ] || fail "other FAIL lines than the five leftovers"
while read -r pid; do
	[ -e "/proc/$pid" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat")" != Z ] && fail "process $pid was left running"
done < "$tmp/pids"
mountpoint -q "$tmp/mnt" && fail "the mount is still there"
ip netns list | grep -q luaha-leak && fail "the namespace is seen outside the file's mount namespace"

# A file that leaves nothing gets no FAIL line.
tests/isolate clean 60 sh -c 'sleep 0.1 & wait; echo "PASS clean"' > "$tmp/out" 2>&1 || fail "a clean file failed"
[ "$(cat "$tmp/out")" = "PASS clean" ] || fail "a clean file: $(cat "$tmp/out")"
echo "PASS $name"
