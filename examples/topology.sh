#!/bin/bash
# examples/topology.sh: the seed topology in User-Mode Linux with any policy on both routers: try a policy against a real kernel.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Usage (on the host, as root): tests/uml/run examples/topology.sh [--policy FILE] [--args "ARGS"] [--then SCRIPT]
#
# Inside UML (the host's files read-only, nothing on the host touched): a bridge with a client
# (192.0.2.10), a gateway (192.0.2.1, the routers' default route), routers r1 (primary, .210) and
# r2 (backup, .211) running FILE (default policies/piranha.lua) with ARGS, and two direct-routing
# real servers rs1 (.204) and rs2 (.205) answering HTTP with their names; VIP 192.0.2.212:80. The
# seed's lvs.cf is tests/lib/seed.bash's seed_config (keepalive 0.1, deadtime 0.5, a heartbeat
# key). Once r1 holds the VIP and r2 is passive, the tables and a request through the VIP are
# shown; then SCRIPT, if given, is sourced with tests/lib/seed.bash's helpers at hand (seed_kill r1,
# seed_get, seed_has_vip r2, until_ok ..., the daemons' control sockets $tmp/r1.sock and
# $tmp/r2.sock for `luaha attach` and `luaha ctl`); last, the routers' logs. Results written to
# $UML_OUT (tests/uml/run's UML_OUT on the host) survive the run.
cd "$(dirname "$0")/.." || exit 2
name=topology
while [ $# -gt 0 ]; do
	case $1 in
	--policy) SEED_POLICY=$2; shift 2;;
	--args) SEED_ARGS=$2; shift 2;;
	--then) then_script=$2; shift 2;;
	*) echo "usage: examples/topology.sh [--policy FILE] [--args \"ARGS\"] [--then SCRIPT]" >&2; exit 2;;
	esac
done
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
trap seed_cleanup EXIT
[ -f "$SEED_POLICY" ] || fail "no policy file $SEED_POLICY"

seed_setup
seed_node gw 192.0.2.1
seed_ns+=(gw)
for ns in r1 r2; do ip -n $ns route add default via 192.0.2.1 || fail "default route in $ns"; done
seed_config
seed_pair
until_ok sh -c "ip netns exec r1 ipvsadm -Ln | grep -q Route" || fail "r1's table has no real server"
echo "== $SEED_POLICY ${SEED_ARGS:-}: r1 active, r2 passive"
for ns in r1 r2; do echo "== $ns: ipvsadm -Ln"; ip netns exec $ns ipvsadm -Ln; done
echo "== a request through the VIP: $(seed_get)"
if [ -n "${then_script:-}" ]; then
	echo "== $then_script"
	# shellcheck source=/dev/null
	. "$then_script"
fi
for ns in r1 r2; do echo "== $ns's log"; cat "$tmp/$ns.log"; done
