#!/bin/bash
# tests/chaos/long.sh: the chaos suite's random schedule, inside UML (make chaos): faults drawn from a seed for CHAOS_SECONDS.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run: make chaos, or UML_MODULES="sch_netem sch_prio cls_u32" UML_PASSENV="CHAOS_SEED CHAOS_SECONDS CHAOS_RELOAD" \
#      UML_TIMEOUT=2400 tests/uml/run tests/chaos/long.sh
# Environment: CHAOS_SECONDS (1800: no new fault starts after that), CHAOS_SEED (the seed, printed first: the same
# seed draws the same faults with the same parameters in the same order), CHAOS_RELOAD (100: the services of the
# large configuration, 2 real servers each: on a busy machine UML takes minutes over a few hundred). Each fault is
# judged as in the fixed schedules (tests/uml/chaos-*.sh); the last lines sum up the figures. Logs are left in
# $UML_OUT/chaos.
cd "$(dirname "$0")/../.." || exit 2
name=chaos
CHAOS_SECONDS=${CHAOS_SECONDS:-1800} CHAOS_RELOAD=${CHAOS_RELOAD:-100}
CHAOS_SEED=${CHAOS_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "chaos: seed $CHAOS_SEED (CHAOS_SEED=$CHAOS_SEED replays this schedule), $CHAOS_SECONDS s"
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
. tests/lib/chaos.bash
trap chaos_cleanup EXIT

# Only the schedule draws from RANDOM, so that a seed gives the same faults whatever the run's timing.
RANDOM=$CHAOS_SEED

# pick WORD...: one of the words, in $picked.
pick()
{
	local -a w=("$@")
	picked=${w[RANDOM % ${#w[@]}]}
}

# between MIN MAX: an integer, in $drawn.
between()
{
	drawn=$(($1 + RANDOM % ($2 - $1 + 1)))
}

chaos_setup
start=$SECONDS n=0
while ((SECONDS - start < CHAOS_SECONDS)); do
	n=$((n + 1))
	pick kill stop stop-work link loss delay duplicate reorder oneway partition flood passwd reload busy failover \
		term rs-down
	f=$picked
	case $f in
	kill)	pick active passive; fault_kill "$n-kill-$picked" "$picked";;
	stop)	pick active passive; w=$picked; between 1 4; fault_stop "$n-stop-$w" "$w" "$drawn";;
	stop-work) pick active passive; w=$picked; between 1 6; fault_stop_work "$n-stop-work-$w" "$w" "$drawn";;
	link)	pick active passive; w=$picked; between 1 5; fault_link "$n-link-$w" "$w" "$drawn";;
	loss)	pick out in both; w=$picked; between 5 30; l=$drawn; between 5 30
		fault_netem "$n-loss-$l-$w" "$w" "$drawn" loss "$l%";;
	delay)	pick out in both; w=$picked; between 10 300; d=$drawn; between 5 20
		fault_netem "$n-delay-$d-$w" "$w" "$drawn" delay "${d}ms";;
	duplicate) pick out in both; w=$picked; between 1 100; d=$drawn; between 5 20
		fault_netem "$n-duplicate-$d-$w" "$w" "$drawn" duplicate "$d%";;
	reorder) pick out in both; w=$picked; between 5 50; r=$drawn; between 5 20
		fault_netem "$n-reorder-$r-$w" "$w" "$drawn" delay 30ms reorder "$r%" 50%;;
	oneway)	pick out in; w=$picked; between 1 6; fault_partition "$n-oneway-$w" "$w" "$drawn";;
	partition) between 1 6; fault_partition "$n-partition" both "$drawn";;
	flood)	between 5 20; fault_flood "$n-flood" "$drawn" 20000;;
	passwd)	between 5 20; fault_passwd "$n-passwd" "$drawn" 8;;
	reload)	fault_reload "$n-reload" "$CHAOS_RELOAD";;
	busy)	between 5 30; fault_busy "$n-busy" "$drawn";;
	failover) fault_failover "$n-failover";;
	term)	fault_term "$n-term";;
	rs-down) between 1 10; fault_rs_down "$n-rs-down" "$drawn";;
	esac
done
chaos_end
