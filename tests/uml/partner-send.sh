#!/bin/bash
# tests/uml/partner-send.sh: Send to partner between two routers: the partner's file, serial_no and table follow; a refusal is said on both.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=partner-send
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
trap seed_cleanup EXIT

# The seed's pair, each router with a file of its own, the passive r2 with a standby table (its table shows the file it runs).
seed_setup
seed_config "standby_table = 1"
cp "$tmp/lvs.cf" "$tmp/r1.cf" && cp "$tmp/lvs.cf" "$tmp/r2.cf" && cp "$tmp/lvs.cf" "$tmp/orig.cf" || fail "copies"
start()
{
	setsid ip netns exec "$1" "$LUAHA" --ctl "$tmp/$1.sock" "$SEED_POLICY" -c "$tmp/$1.cf" --foreground >> "$tmp/$1.log" 2>&1 &
	eval "pid_$1=$!"
}
# field NS EXPR: the Lua expression EXPR of NS's status document d (luaha ctl status --json).
field()
{
	"$LUAHA" ctl "$tmp/$1.sock" status --json |
		"$LUAHA" -e "local d = require('luaha.json').decode(io.read('a')) print($2)"
}
is() { [ "$(field "$1" "$2")" = "$3" ]; }
# weight NS RS: the weight of RS:80 in NS's table.
weight() { ip netns exec "$1" ipvsadm -Ln | awk -v rs="$2:80" '$2 == rs { print $4 }'; }
# within SECS CMD...: CMD holds within SECS seconds (tried every 0.1 s).
within()
{
	local i
	for i in $(seq $(($1 * 10))); do "${@:2}" && return 0; sleep 0.1; done
	return 1
}
send() { timeout 120 "$LUAHA" attach "$tmp/r1.sock" -e 'local res, why = router.sync:send({ user = "uml-test" })
	return res and ("sent: " .. res.why) or ("not sent: " .. why)' 2>&1; }
reload() { "$LUAHA" ctl "$tmp/$1.sock" reload > "$tmp/reload.out" 2>&1 || fail "reload of $1: $(cat "$tmp/reload.out")"; }

start r1
until_ok seed_has_vip r1 || fail "r1 did not become active"
start r2
until_ok grep -q "partner active: staying passive" "$tmp/r2.log" || fail "r2 did not see r1 active"
within 30 sh -c "[ \"\$(ip netns exec r2 ipvsadm -Ln | grep -c 'Route *1 ')\" = 2 ]" || fail "r2's standby table"
within 10 is r1 "d.config_differs" false || fail "r1: config_differs $(field r1 d.config_differs) with the same file"
is r1 "d.peer_serial_no" 1 || fail "r1: peer_serial_no $(field r1 d.peer_serial_no)"
[ "$(field r1 d.digest)" = "$(field r2 d.digest)" ] || fail "the same file, two digests"
[ "$(field r1 d.peer_digest)" = "$(field r2 d.digest)" ] || fail "r1's peer_digest is not r2's digest"
echo "PASS $name-pair-same-config"

# r1 applies a change (rs204's weight 3, serial_no 2): the pair differs, and both say so.
sed -i -e 's/^serial_no = 1$/serial_no = 2/' -e '/server rs204/,/}/s/weight = 1/weight = 3/' "$tmp/r1.cf" || fail "edit"
reload r1
within 10 is r2 "d.config_differs" true || fail "r2 does not see the difference"
is r2 "d.peer_serial_no" 2 || fail "r2: peer_serial_no $(field r2 d.peer_serial_no)"
is r1 "d.config_differs" true || fail "r1 does not see the difference"
[ "$(weight r2 192.0.2.204)" = 1 ] || fail "r2's table changed before the send"

# Send to partner: r2's file becomes r1's byte for byte, it runs it, and its table follows.
out=$(send)
[[ "$out" == "sent: applied serial_no 2: "* ]] || fail "send: $out"
cmp -s "$tmp/r1.cf" "$tmp/r2.cf" || fail "r2's file is not r1's: $(diff "$tmp/r1.cf" "$tmp/r2.cf")"
cmp -s "$tmp/r2.cf.bak" "$tmp/orig.cf" || fail "r2's lvs.cf.bak is not its old file"
is r2 "d.serial_no" 2 || fail "r2 runs serial_no $(field r2 d.serial_no)"
within 30 sh -c "[ \"\$(ip netns exec r2 ipvsadm -Ln | awk '\$2 == \"192.0.2.204:80\" { print \$4 }')\" = 3 ]" ||
	fail "r2's table did not follow: rs204 at weight $(weight r2 192.0.2.204)"
within 10 is r1 "d.config_differs" false || fail "r1 still sees a difference"
is r2 "d.config_differs" false || fail "r2 still sees a difference"
is r1 "d.partner_sync.sent.ok" true || fail "r1's last send: $(field r1 d.partner_sync.sent.why)"
is r2 "d.partner_sync.received.from" 192.0.2.210 || fail "r2's last file received: $(field r2 d.partner_sync.received.from)"
grep -q "partner: lvs.cf serial_no 2 (.* bytes) from the partner 192.0.2.210: applying" "$tmp/r2.log" ||
	fail "r2 did not log the transfer"
grep -q "send to the partner by uml-test" "$tmp/r1.log" || fail "r1 did not log the send with its user"
echo "PASS $name-partner-file-serial-and-table-follow"

# A file whose serial_no is not newer (rs205's weight 2, serial_no still 2): refused, said on both, nothing changed there.
cp "$tmp/r2.cf" "$tmp/r2.before"
ip netns exec r2 ipvsadm -Ln > "$tmp/r2.table"
sed -i '/server rs205/,/}/s/weight = 1/weight = 2/' "$tmp/r1.cf" || fail "edit"
reload r1
out=$(send)
[ "$out" = "not sent: the partner refused: serial_no 2 is not newer than this router's 2: raise serial_no on the sender (409)" ] ||
	fail "the refusal: $out"
cmp -s "$tmp/r2.cf" "$tmp/r2.before" || fail "a refused file changed r2's"
ip netns exec r2 ipvsadm -Ln | diff "$tmp/r2.table" - > "$tmp/table.diff" || fail "r2's table changed: $(cat "$tmp/table.diff")"
is r2 "d.partner_sync.received.ok" false || fail "r2's page does not say it refused"
field r2 d.partner_sync.received.why | grep -q "serial_no 2 is not newer" || fail "r2's page: $(field r2 d.partner_sync.received.why)"
field r1 d.partner_sync.sent.why | grep -q "^the partner refused: serial_no 2 is not newer" ||
	fail "r1's page: $(field r1 d.partner_sync.sent.why)"
is r1 "d.partner_sync.sent.ok" false || fail "r1's page says the send went through"
echo "PASS $name-refusal-said-on-both"

grep -q "stack traceback" "$tmp/r1.log" "$tmp/r2.log" && fail "a Lua traceback in a log"
exit 0
