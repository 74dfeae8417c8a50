# bench/genconf.bash: the large configurations of the benchmarks (lvs.cf virtual blocks, keepalived virtual_server blocks) and the addresses they need; sourced, not run.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# SERVICES direct-routing services on VIPs 198.51.100.1-230 (ten services a VIP, ports 10001-10010)
# with SERVERS real servers among them (SERVERS / SERVICES a service, the first ones one more), weight
# 1, on 203.0.113.1-160: real server i of service j is the (16 j + i)-th of those 160 addresses, at
# the service's port. A health check is per address and port, so however many services there are,
# at most 1600 are checked; bench/check-listener.lua answers them on the router itself.
#   genconf_virtuals lvs|ka SERVICES SERVERS a|b [DEV]  the blocks, on stdout: a, every weight 1; b,
#                          every 100th real server at weight 2 (a reload of a to b changes 1%); lvs
#                          blocks put their VIPs on DEV (dummy0), with health checks every 10 s
#   genconf_addresses NS [NVIP]   dummy0 in NS (made if missing) with the real servers' addresses, and
#                          the first NVIP VIPs (a router alone finds them there)
GEN_NRS=160 GEN_FIRST=10001 GEN_NPORTS=10

genconf_virtuals()
{
	awk -v services="$2" -v servers="$3" -v nrs=$GEN_NRS -v first=$GEN_FIRST -v nports=$GEN_NPORTS \
	    -v what="$1" -v weights="$4" -v dev="${5:-dummy0}" 'BEGIN {
		base = int(servers / services); extra = servers - base * services; g = 0
		for (j = 0; j < services; j++) {
			vip = "198.51.100." (1 + int(j / nports)); port = first + j % nports
			n = base + (j < extra ? 1 : 0)
			if (what == "lvs")
				printf "virtual vs%d {\n  active = 1\n  address = %s %s\n  port = %d\n  protocol = tcp\n  scheduler = wrr\n  timeout = 10\n  reentry = 10\n  quiesce_server = 0\n  weight_ramp = 0\n", j, vip, dev, port
			else
				printf "virtual_server %s %d {\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n", vip, port
			for (i = 0; i < n; i++) {
				rs = "203.0.113." (1 + (16 * j + i) % nrs)
				w = (weights == "b" && g % 100 == 0) ? 2 : 1
				if (what == "lvs")
					printf "  server rs%d {\n    address = %s\n    active = 1\n    weight = %d\n  }\n", g, rs, w
				else
					printf "  real_server %s %d {\n    weight %d\n  }\n", rs, port, w
				g++
			}
			print "}"
		}
	}'
}

genconf_addresses()
{
	local i nvip=${2:-0}
	ip -n "$1" link show dummy0 > /dev/null 2>&1 ||
		{ ip -n "$1" link add name dummy0 type dummy && ip -n "$1" link set dummy0 up; } || return 1
	{
		for ((i = 1; i <= nvip; i++)); do echo "address add 198.51.100.$i/32 dev dummy0"; done
		for ((i = 1; i <= GEN_NRS; i++)); do echo "address add 203.0.113.$i/32 dev dummy0"; done
	} | ip -n "$1" -batch -
}
