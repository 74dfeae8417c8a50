#!/bin/bash
# tests/uml/example-policies.sh: the example policies on the seed topology: hand over when the gateway stops answering; drain a real server.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=example-policies
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
trap seed_cleanup EXIT

seed_setup
seed_node gw 192.0.2.1
seed_ns+=(gw)
for ns in r1 r2; do ip -n $ns route add default via 192.0.2.1 || fail "default route in $ns"; done
RS204_WEIGHT=8 seed_config
# r1 runs examples/gateway-handover.lua (the default route's gateway), r2 Piranha's policy.
SEED_POLICY=examples/gateway-handover.lua seed_start r1
until_ok seed_has_vip r1 || fail "r1 did not become active"
seed_start r2
until_ok grep -q "partner active: staying passive" "$tmp/r2.log" || fail "r2 did not see r1 active"

# The gateway goes silent: after three unanswered pings (a second apart) r1 hands the service to r2.
ip -n gw link set eth0 down
until_ok grep -q "gateway: 192.0.2.1 does not answer: handing over" "$tmp/r1.log" || fail "r1 did not see its gateway go"
until_ok seed_has_vip r2 || fail "r2 did not take over from r1"
seed_has_vip r1 && fail "r1 kept the VIP"
grep -q "primary leaving: activating lvs" "$tmp/r2.log" || fail "r2 did not hear r1 leave"
seed_get > /dev/null || fail "no reply through the VIP after the handover"
# Back: the block is lifted, r2 keeps the service (no automatic failback).
ip -n gw link set eth0 up
until_ok grep -q "gateway: 192.0.2.1 answers again" "$tmp/r1.log" || fail "r1 did not see its gateway return"
sleep 1
seed_has_vip r2 && ! seed_has_vip r1 || fail "the service moved back when the gateway returned"
echo "PASS example-gateway-handover"

# Drain rs204 over 4 s from the control socket: its weight steps down from 8 to 0 in r2's table.
until_ok sh -c "ip netns exec r2 ipvsadm -Ln | grep -q '192.0.2.204:80 *Route *8 '" || fail "rs204 is not in at weight 8"
"$LUAHA" ctl "$tmp/r2.sock" drain rs204 4 > "$tmp/drain.out" 2>&1 & drain=$!
seen=" "
for _ in $(seq 60); do
	w=$(ip netns exec r2 ipvsadm -Ln | awk '$2 == "192.0.2.204:80" { print $4 }')
	case $seen in *" $w "*) ;; *) seen="$seen$w ";; esac
	[ "$w" = 0 ] && break
	sleep 0.1
done
wait $drain || fail "luaha ctl drain failed: $(cat "$tmp/drain.out")"
grep -q "drained rs204 (192.0.2.204) in virtual web to weight 0" "$tmp/drain.out" || fail "drain said: $(cat "$tmp/drain.out")"
ip netns exec r2 ipvsadm -Ln | grep -q '192.0.2.204:80 *Route *0 ' || fail "rs204 is not at weight 0 after the drain"
[ "$(wc -w <<< "$seen")" -ge 3 ] || fail "the drain was not gradual: weights seen$seen"
awk -v s="$seen" 'BEGIN { n = split(s, w, " "); for (i = 2; i <= n; i++) if (w[i] + 0 >= w[i - 1] + 0) exit 1 }' ||
	fail "the weights did not go down step by step: $seen"
echo "weights of rs204 seen while draining:$seen"
seed_get > /dev/null || fail "no reply through the VIP while rs204 is drained"
"$LUAHA" ctl "$tmp/r2.sock" enable rs204 > /dev/null || fail "enable rs204"
until_ok sh -c "ip netns exec r2 ipvsadm -Ln | grep -q '192.0.2.204:80 *Route *8 '" || fail "rs204 did not come back at 8"
echo "PASS example-drain-over-seconds"

for ns in r1 r2; do grep -q "stack traceback" "$tmp/$ns.log" && fail "a Lua traceback in $ns's log"; done
exit 0
