#!/bin/bash
# bench/memory.sh: where the work part's memory goes at 1000 and at 37 000 real servers (and 370 000 with GROWTH=1), stage by stage, on the host.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run: bench/memory.sh (make bench runs it). The configurations are bench/genconf.bash's (connect
# checks every 10 s, direct routing); bench/memory-stages.lua reads each as the daemon does and
# prints the Lua heap each stage adds, per real server, and the resident memory. No kernel is
# touched and no check runs: the running daemon's whole figure (both parts) is bench/reload.sh's,
# in UML, beside keepalived's.
cd "$(dirname "$0")/.." || exit 2
LUAHA=${LUAHA:-./luaha}
. bench/genconf.bash
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
sizes="100:1000 2300:37000"
[ "${GROWTH:-0}" = 1 ] && sizes="$sizes 23000:370000"
for size in $sizes; do
	services=${size%:*} servers=${size#*:}
	# 10 ports a VIP give 230 VIPs at 2300 services; at 23 000, 100 a VIP (as bench/coldstart.sh's GROWTH).
	[ "$services" -gt 2540 ] && GEN_NPORTS=100
	{
		printf 'serial_no = 1\nservice = lvs\nbackup_active = 0\n'
		genconf_virtuals lvs "$services" "$servers" a
	} > "$tmp/lvs.cf"
	echo "memory: $services services, $servers real servers ($(wc -c < "$tmp/lvs.cf") bytes of lvs.cf)"
	"$LUAHA" bench/memory-stages.lua "$tmp/lvs.cf" 2> "$tmp/err" | sed 's/^/  /'
	status=${PIPESTATUS[0]}
	[ "$status" = 0 ] || { echo "FAIL memory: $LUAHA exited $status"; tail -3 "$tmp/err"; exit 1; }
done
