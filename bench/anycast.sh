#!/bin/bash
# bench/anycast.sh: inside UML (tests/uml/run bench/anycast.sh): anycast directors' death and drain as the upstream router sees them, flows kept, against the pair's failover.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run: make bench, or UML_MEM=512M UML_TIMEOUT=1800 bench/hostload.sh tests/uml/run bench/anycast.sh
# Environment (passed in with UML_PASSENV): ANYCAST_TRIALS (5: deaths, and drains, each), PAIR_TRIALS (5),
# AC_BFD_MS (100) and AC_BFD_MULT (3), BFD's interval and multiplier, AC_HOLD (3 s), BGP's hold time.
#
# Issue 16 item 5. The bed of tests/lib/anycast.bash: an FRR router doing ECMP in front of three directors
# (luaha, `cluster = anycast`; BIRD from `luaha bgp-config`, BFD) and four DR real servers, 64 long-lived flows
# from the client (a line every 0.1 s each). Each trial kills one director (its processes frozen, its link
# cut, killed: tests/lib/anycast.bash ac_kill) and times the kill to the upstream kernel's route change
# (`ip -ts monitor route` in the upstream: no polling); the director comes back (link up, BIRD and luaha
# started: luaha adopts its table and route). Then `luaha ctl drain` on another director, timed from just
# before the command to the route change; it comes back too. The flows run through all of it: kept = never
# reset, every reply from one real server. Route changes of the VIP that no trial caused (a BFD session that
# flapped) are counted. Then the active/backup pair of tests/lib/seed.bash: kill -9 of the active router
# (frozen, link cut, killed) to the first request answered through the other (a request every 10 ms).
# UML's one CPU is a host thread: on a busy host BFD at 100 ms x 3 flaps here, and every figure grows.
cd "$(dirname "$0")/.." || exit 2
name=anycast-bench
LUAHA=${LUAHA:-./luaha}
TRIALS=${ANYCAST_TRIALS:-5} PAIR_TRIALS=${PAIR_TRIALS:-5}
tmp=$(mktemp -d) || exit 2
. tests/lib/anycast.bash
trap ac_cleanup EXIT

load()
{
	local a b c
	if [ -n "${UML_OUT:-}" ] && read -r a b c _ 2> /dev/null < "$UML_OUT/hostload"; then
		echo "host load $a $b $c"
	else
		echo "host load unknown (not run through bench/hostload.sh)"
	fi
}

# summary LABEL TIMES...: "LABEL: n N, min/median/max A / B / C s".
summary()
{
	local label=$1
	shift
	[ $# -gt 0 ] || { echo "$label: no trial"; return; }
	printf '%s\n' "$@" | sort -n | awk -v l="$label" '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { printf "%s: no trial\n", l; exit }
			printf "%s: n %d, min %.3f s, median %.3f s, max %.3f s\n", l, NR, v[1], v[int((NR + 1) / 2)], v[NR]
		}'
}

# others N: the directors but dN, as ac_paths writes them.
others()
{
	local n out=
	for n in 1 2 3; do [ "$n" = "$1" ] || out+=" $n"; done
	REPLY=${out# }
}

# back N: dN comes back (its link up, luaha and BIRD started again if they are gone) and is announced; false
# (and a line saying so) if the upstream has not all three paths within 120 s.
back()
{
	local pid bird=
	ip link set "a-d$1" up
	eval "pid=\$pid_d$1"
	ac_gone "$pid" && ac_luaha "$1"
	read -r bird 2> /dev/null < "$tmp/d$1.bird.pid"
	[ -n "$bird" ] && [ -e "/proc/$bird" ] || ac_bird "$1"
	t0=$EPOCHREALTIME
	ac_wait_paths "1 2 3" 120 && return 0
	echo "anycast: d$1 did not come back within 120 s (the upstream's paths: '$paths'): trials end here"
	return 1
}

# The anycast bed, or a line saying why it cannot run.
anycast()
{
	local i v want changes0 changes caused deaths=() drains=() pid
	echo "anycast: BFD $AC_BFD_MS ms x $AC_BFD_MULT, hold time $AC_HOLD s; $(load)"
	ac_setup
	for n in 1 2 3; do
		ac_director $n
		ac_config $n
		ac_luaha $n
		ac_bird $n
	done
	t0=$EPOCHREALTIME
	ac_wait_paths "1 2 3" 120 || fail "the upstream has not three paths to the VIP: '$paths'"
	echo "three directors announced, $took s after the last started"
	ac_flows_start 64 3600
	changes0=$(grep -c "\] \(Deleted \)\?$VIP " "$tmp/upstream.mon") caused=0

	for i in $(seq "$TRIALS"); do
		v=$(( (i - 1) % 3 + 1 ))
		others $v
		want=$REPLY
		ac_sleep "1.$((RANDOM % 300))"
		ac_kill $v
		t0=$killed_at
		if ac_wait_paths "$want" 30; then
			deaths+=("$took")
			echo "trial $i: d$v killed -> upstream route change $took s"
		else
			echo "trial $i: d$v killed, the upstream kept it 30 s: '$paths'"
		fi
		back $v || break
		caused=$((caused + 2))

		v=$(( i % 3 + 1 ))
		others $v
		want=$REPLY
		ac_sleep 1
		t0=$EPOCHREALTIME
		"$LUAHA" ctl "$tmp/d$v.sock" drain > "$tmp/drain.out" 2>&1 || fail "ctl drain in d$v: $(cat "$tmp/drain.out")"
		if ac_wait_paths "$want" 30; then
			drains+=("$took")
			echo "trial $i: ctl drain of d$v -> upstream route change $took s"
		else
			echo "trial $i: ctl drain of d$v, the upstream kept it 30 s: '$paths'"
		fi
		eval "pid=\$pid_d$v"
		until_ok ac_gone "$pid" || fail "d$v did not stop after its drain"
		back $v || break
		caused=$((caused + 2))
	done
	ac_flows_stop
	changes=$(( $(grep -c "\] \(Deleted \)\?$VIP " "$tmp/upstream.mon") - changes0 ))
	summary "anycast, director killed -> upstream route change (BFD $AC_BFD_MS ms x $AC_BFD_MULT)" "${deaths[@]}"
	summary "anycast, ctl drain -> upstream route change" "${drains[@]}"
	echo "anycast, flows kept through ${#deaths[@]} deaths and ${#drains[@]} drains timed: $kept"
	echo "anycast, route changes of the VIP at the upstream: $changes, $caused caused by the trials; $(load)"
}

# In a subshell: a failure of the bed (BFD flapping so that the flows cannot start) ends the anycast part only.
if ac_missing; then
	echo "anycast: not measured: $why"
else
	( anycast ) || echo "anycast: the bed failed (above); the pair is measured all the same"
fi
ac_cleanup

# The pair: the seed's topology, kill -9 of whichever router is active, the other takes over.
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
trap seed_cleanup EXIT
seed_setup
seed_config
seed_pair
active=r1 passive=r2 pair=()
for i in $(seq "$PAIR_TRIALS"); do
	seed_measured 4 seed_kill $active
	if [ -n "$took" ]; then
		pair+=("$took")
		echo "pair trial $i: kill -9 of $active -> first answer through $passive $took s ($fails requests failed)"
	else
		echo "pair trial $i: kill -9 of $active, no answer within 3.5 s"
	fi
	until_ok seed_has_vip $passive || fail "$passive did not take the VIP"
	seed_revive $active
	seed_start $active
	until_ok grep -q "partner active: staying passive" "$tmp/$active.log" || fail "$active did not return passive"
	: > "$tmp/$active.log"
	set -- $passive $active
	active=$1 passive=$2
done
summary "pair (deadtime ${DEADTIME:-0.5} s), kill -9 of the active router -> first answer" "${pair[@]}"
echo "pair: $(load)"
