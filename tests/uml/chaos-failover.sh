#!/bin/bash
# tests/uml/chaos-failover.sh: the chaos suite's fixed schedule, part 2: partitions, a frozen router, a pulled cable, a dead machine, handovers.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=chaos-failover
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
. tests/lib/chaos.bash
trap chaos_cleanup EXIT

chaos_setup
fault_partition oneway-in in 3
fault_partition oneway-out out 3
fault_partition partition both 3
fault_stop stop active 2
fault_link link active 2
fault_kill kill active
# Planned handovers lose no request.
fault_failover ctl-failover
fault_term term
chaos_end
