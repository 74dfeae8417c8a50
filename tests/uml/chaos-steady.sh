#!/bin/bash
# tests/uml/chaos-steady.sh: the chaos suite's fixed schedule, part 1: faults that must not move the VIP (tests/lib/chaos.bash).
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=chaos-steady
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
. tests/lib/chaos.bash
trap chaos_cleanup EXIT

chaos_setup
# The heartbeat link delivers a heartbeat per deadtime, whatever else happens: no failover.
fault_stop_work stop-work active 3
fault_netem loss-30 both 8 loss 30%
fault_netem delay-duplicate-reorder both 5 delay 250ms reorder 25% 50% duplicate 50%
fault_flood flood 5 20000
fault_passwd passwd 5 8
fault_busy busy 5
fault_reload reload 50
fault_rs_down rs-down 1
chaos_end
