# tests/lib/fospair.bash: a fos router pair on a bridge in namespaces, with its service scripts and lvs.cf; sourced, not run.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# After netns_test (tests/lib/netns.bash), with $sw, $client, $r1 and $r2 naming the namespaces:
#   fos_pair KEEPALIVE DEADTIME TIMEOUT [LINE...]
# makes them (a bridge in $sw; client 192.0.2.10, r1 192.0.2.1 the primary, r2 192.0.2.2 the backup; the
# client learns the VIP's owner from gratuitous ARP), $tmp/start.sh and $tmp/stop.sh (the service fos runs
# on the active router: an HTTP server on port 8080 naming its router, a pid file per router, since a router
# that becomes passive runs stop_cmd too) and $tmp/lvs.cf: service = fos, failover web at $VIP:8080
# (192.0.2.100) checked with that TIMEOUT, and each LINE among the globals.

VIP=192.0.2.100

fos_pair()
{
	local keepalive=$1 deadtime=$2 timeout=$3
	shift 3
	netns_add "$sw" "$client" "$r1" "$r2"
	ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up || fail "bridge"
	fos_node client "$client" && fos_node r1 "$r1" && fos_node r2 "$r2" || fail "namespaces"
	ip -n "$client" addr add 192.0.2.10/24 dev eth0 && ip -n "$r1" addr add 192.0.2.1/24 dev eth0 &&
		ip -n "$r2" addr add 192.0.2.2/24 dev eth0 || fail "addresses"
	ip netns exec "$client" sysctl -qw net.ipv4.conf.all.arp_accept=1 net.ipv4.conf.eth0.arp_accept=1 ||
		fail "arp_accept"
	cat > "$tmp/start.sh" <<SH
#!/bin/sh
me=\$(ip -o -4 addr show dev eth0 | awk '{ print \$4 }' | head -1 | cut -d/ -f1)
$PWD/$LUAHA $PWD/tests/lib/http-name.lua "\$me" 8080 > /dev/null 2>&1 &
echo \$! > "$tmp/http-\$me.pid"
SH
	cat > "$tmp/stop.sh" <<SH
#!/bin/sh
me=\$(ip -o -4 addr show dev eth0 | awk '{ print \$4 }' | head -1 | cut -d/ -f1)
[ -f "$tmp/http-\$me.pid" ] && kill \$(cat "$tmp/http-\$me.pid") 2> /dev/null
rm -f "$tmp/http-\$me.pid"
exit 0
SH
	chmod +x "$tmp/start.sh" "$tmp/stop.sh" || fail "service scripts"
	{
		printf '%s\n' "serial_no = 1" "primary = 192.0.2.1" "backup = 192.0.2.2" "backup_active = 1" "service = fos" \
			"keepalive = $keepalive" "deadtime = $deadtime" "garp_interval = 0.1" "$@"
		cat <<CF
failover web {
     active = 1
     address = $VIP eth0:1
     port = 8080
     send = "GET / HTTP/1.0\r\n\r\n"
     expect = "HTTP"
     timeout = $timeout
     start_cmd = $tmp/start.sh
     stop_cmd = $tmp/stop.sh
}
CF
	} > "$tmp/lvs.cf" || fail "lvs.cf"
}

# fos_node NAME NS: NS's eth0 on the bridge, as port NAME.
fos_node()
{
	netns_veth "$2" eth0 "$sw" "$1" && ip -n "$sw" link set "$1" master br0
}
