#!/bin/bash
# tests/uml/ipvs-bed-works.sh: the UML bed has IPVS, netns, veth and bridge, and a VIP is answered by DR real servers.
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
name=ipvs-bed-works
nss="client r1 rs1 rs2"
pids=()
# Only inside UML: the cleanup deletes namespaces and br0 by name.
grep -q 'User Mode Linux' /proc/cpuinfo || { echo "SKIP $name: not inside UML (use tests/uml/run)"; exit 0; }

fail() { echo "FAIL $name: $*"; exit 1; }
cleanup()
{
	[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2> /dev/null && wait
	for ns in $nss; do ip netns del "$ns" 2> /dev/null; done
	ip link del br0 2> /dev/null
}
trap cleanup EXIT

# The topology of the UML notes: client, director r1 and two direct-routing
# real servers, each namespace on br0 through a veth pair.
ip link add name br0 type bridge && ip link set br0 up || fail "cannot create bridge br0"
for ns in $nss; do
	ip netns add "$ns" && ip -n "$ns" link set lo up &&
	ip link add name "v-$ns" type veth peer name eth0 netns "$ns" &&
	ip link set "v-$ns" master br0 && ip link set "v-$ns" up &&
	ip -n "$ns" link set eth0 up || fail "cannot set up namespace $ns"
done
ip -n client addr add 192.0.2.10/24 dev eth0
ip -n r1 addr add 192.0.2.1/24 dev eth0
ip -n r1 addr add 192.0.2.212/32 dev eth0
for i in 1 2; do
	# A DR real server holds the VIP on lo and must not answer ARP for it.
	ip -n "rs$i" addr add "192.0.2.10$i/24" dev eth0
	ip -n "rs$i" addr add 192.0.2.212/32 dev lo
	ip netns exec "rs$i" sysctl -q -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
	ip netns exec "rs$i" timeout 60 socat TCP-LISTEN:80,reuseaddr,fork SYSTEM:"echo rs$i" &
	pids+=($!)
done

ipvs() { ip netns exec r1 ipvsadm "$@"; }
ipvs -A -t 192.0.2.212:80 -s wrr || fail "ipvsadm -A exit $?"
ipvs -a -t 192.0.2.212:80 -r 192.0.2.101:80 -g -w 1 || fail "ipvsadm -a rs1 exit $?"
ipvs -a -t 192.0.2.212:80 -r 192.0.2.102:80 -g -w 2 || fail "ipvsadm -a rs2 exit $?"
table=$(ipvs -Ln) || fail "ipvsadm -Ln exit $?"
echo "$table"
table=$(sed 's/ *$//' <<< "$table")	# ipvsadm pads the counter columns
for line in "TCP  192.0.2.212:80 wrr" \
	"  -> 192.0.2.101:80               Route   1      0          0" \
	"  -> 192.0.2.102:80               Route   2      0          0"; do
	grep -qxF -- "$line" <<< "$table" || fail "ipvsadm -Ln lacks '$line'"
done

for i in 1 2; do
	for try in $(seq 50); do
		ss -N "rs$i" -Hltn 'sport = :80' | grep -q . && break
		[ "$try" = 50 ] && fail "socat in rs$i not listening after 10 s"
		sleep 0.2
	done
done

# wrr with weights 1 and 2 sends three new connections to both real servers.
seen=""
for try in 1 2 3; do
	reply=$(ip netns exec client timeout 5 nc -w 2 192.0.2.212 80 < /dev/null)
	echo "connection $try: ${reply:-no reply}"
	case $reply in rs1|rs2) seen+=" $reply";; *) fail "connection $try to the VIP: no reply from a real server";; esac
done
ipvs -Ln
[[ $seen == *rs1* && $seen == *rs2* ]] || fail "wrr did not use both real servers:$seen"
echo "PASS $name"
