#!/bin/bash
# tests/uml/piranha-traffic-survives.sh: a client reaches the real servers through the VIP (DR), and a long-lived connection survives a reload and a kill -9 restart.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/piranha.bash"
piranha_test piranha-traffic-survives

# The director is this namespace, on the bridge; the policy, alone (backup_active = 0), puts the VIP on br0:1.
piranha_bridge client rs1 rs2
ip -n client addr add 192.0.2.10/24 dev eth0 || fail "client address"
ip -n rs1 addr add 192.0.2.204/24 dev eth0 && ip -n rs2 addr add 192.0.2.205/24 dev eth0 || fail "rs addresses"
for ns in rs1 rs2; do		# direct routing: the VIP on lo, never answered for in ARP
	ip -n $ns addr add 192.0.2.212/32 dev lo || fail "vip on $ns"
	ip netns exec $ns sysctl -q -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 || fail "arp sysctls"
	ip netns exec $ns socat TCP-LISTEN:80,reuseaddr,fork SYSTEM:"read request; echo HTTP/1.0 200 OK; echo; echo $ns" &
	ip netns exec $ns socat TCP-LISTEN:81,reuseaddr,fork EXEC:cat 2> /dev/null &
done

config()	# config WEIGHT: rs205's weight in the web service
{
	cat > "$tmp/lvs.cf" <<CF
network = direct
reconcile = 2
virtual web {
     active = 1
     address = 192.0.2.212 br0:1
     port = 80
     scheduler = rr
     timeout = 3
     check_interval = 0.5
     reentry = 1
     weight_ramp = 0
     server rs204 {
         address = 192.0.2.204
         active = 1
         weight = 1
     }
     server rs205 {
         address = 192.0.2.205
         active = 1
         weight = $1
     }
}
virtual hold {
     active = 1
     address = 192.0.2.212 br0:1
     port = 81
     send = "ping\n"
     expect = "ping"
     scheduler = rr
     timeout = 3
     check_interval = 0.5
     reentry = 1
     weight_ramp = 0
     server rs204 {
         address = 192.0.2.204
         active = 1
     }
     server rs205 {
         address = 192.0.2.205
         active = 1
     }
}
CF
}
config 1
start_policy
until_ok table_has "192.0.2.205:81 *Route" || fail "real servers never came in"
until_ok table_has "192.0.2.204:80 *Route" || fail "rs204 never came in"

# Up to 12 requests, until both have answered. nc waits up to 5 s for the answer after sending (-q 5; the
# server closes first): with -q 1, a CI simulation under two busy loops lost the three answers of rs1,
# whose forked shell took longer than 1 s to write them.
seen=
for _ in $(seq 12); do
	seen+=$(ip netns exec client sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 nc -q 5 192.0.2.212 80" | tail -1)
	case $seen in *rs1*rs2*|*rs2*rs1*) break;; esac
done
case $seen in *rs1*rs2*|*rs2*rs1*) ;; *) fail "the VIP did not reach both real servers: $seen";; esac
echo "PASS $name-vip-reaches-both"

# A long-lived connection through the VIP, fed through a fifo.
mkfifo "$tmp/in"
ip netns exec client socat -t 30 - TCP:192.0.2.212:81 < "$tmp/in" > "$tmp/out" &
piranha_background $!
exec 9> "$tmp/in"
echo one >&9
until_ok grep -qx one "$tmp/out" || fail "no echo through the VIP"

config 2
mark=$(wc -l < "$tmp/policy.log")
kill -HUP "$policy"
until_ok table_has "192.0.2.205:80 *Route *2 " || fail "the reload did not change the weight"
sleep 0.5
ops=$(tail -n +"$((mark + 1))" "$tmp/policy.log" | grep -c "ipvsadm .*(reload)")
[ "$ops" = 1 ] || fail "a reload changing one weight sent $ops operations"
echo two >&9
until_ok grep -qx two "$tmp/out" || fail "the connection did not survive the reload"
echo "PASS $name-reload-one-operation-connection-survives"

kill -9 "$policy"; wait "$policy" 2> /dev/null
mark=$(wc -l < "$tmp/policy.log")
start_policy
until_ok grep -q "kept until checked" "$tmp/policy.log" || fail "the restart did not adopt the table"
sleep 2.5			# past the first checks and a reconcile
ops=$(tail -n +"$((mark + 1))" "$tmp/policy.log" | grep -c "ipvsadm ")
[ "$ops" = 0 ] || fail "a restart against a matching table sent $ops operations"
echo three >&9
until_ok grep -qx three "$tmp/out" || fail "the connection did not survive kill -9 and restart"
echo "PASS $name-restart-zero-operations-connection-survives"
exec 9>&-
grep -q "stack traceback" "$tmp/policy.log" && fail "a Lua traceback in the log"
exit 0
