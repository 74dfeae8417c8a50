#!/bin/bash
# tests/netns/unit-capabilities.sh: the policy runs a router pair with only the capabilities of the unit's hardening drop-in (setpriv): heartbeats, the VIP up and announced, real-time priority, locked memory, ctl.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The capabilities are read from contrib/luaha-piranha.service.d/hardening.conf, so the file shipped is the file
# proved. The host's kernel has no IPVS, so the pair runs service = fos (no IPVS): what is proved is everything
# but IPVS, which needs CAP_NET_ADMIN as the addresses do: the heartbeat port 539, the VIP added, gratuitous
# ARP, the heartbeat part at SCHED_RR with its memory locked, the control socket. A run without CAP_SYS_NICE
# and CAP_IPC_LOCK shows those two are what gives the priority and the locks.
. "$(dirname "$0")/../lib/netns.bash" || exit 2
. "$(dirname "$0")/../lib/fospair.bash" || exit 2
netns_test unit-capabilities
export tmp
# The build that is installed: ASan's (tests/run's LUAHA) makes mlockall a no-op, so its memory is never locked.
LUAHA=./luaha
[ -x "$LUAHA" ] || fail "no ./luaha: run make first"
command -v setpriv > /dev/null || { echo "SKIP $name: no setpriv (util-linux)"; exit 0; }
sw=luaha-csw-$$ client=luaha-cc-$$ r1=luaha-cr1-$$ r2=luaha-cr2-$$

caps=$(sed -n 's/^CapabilityBoundingSet=//p' contrib/luaha-piranha.service.d/hardening.conf)
[ -n "$caps" ] || fail "no CapabilityBoundingSet in the drop-in"
# setpriv's names are the lower-case names without CAP_; the mask is what /proc/PID/status shows (CapEff).
declare -A capnum=([CAP_NET_BIND_SERVICE]=10 [CAP_NET_ADMIN]=12 [CAP_NET_RAW]=13 [CAP_IPC_LOCK]=14 [CAP_SYS_NICE]=23)
# capset CAP...: sets $bounding (setpriv's list) and $mask (the hexadecimal CapEff it gives).
capset()
{
	local c m=0
	bounding=-all
	for c in "$@"; do
		[ -n "${capnum[$c]:-}" ] || fail "the drop-in names $c, which this test does not know"
		bounding+=,+$(tr 'A-Z' 'a-z' <<< "${c#CAP_}")
		m=$((m | 1 << ${capnum[$c]}))
	done
	mask=$(printf '%016x' $m)
}
# shellcheck disable=SC2086 # a list of words
capset $caps

fos_pair 0.2 2 5 "heartbeat = 1"

# start NS NAME: the policy as the unit runs it (foreground), under setpriv with $bounding and no new privileges.
# Locked memory limited to 1 MiB and no real-time priority without a capability (RLIMIT_MEMLOCK, RLIMIT_RTPRIO;
# systemd's defaults are 8 MiB and 0): the lock and the priority come from CAP_IPC_LOCK and CAP_SYS_NICE alone.
start()
{
	(ulimit -l 1024 && ulimit -r 0 && exec ip netns exec "$1" setpriv --no-new-privs --inh-caps=-all --bounding-set="$bounding" \
		"$LUAHA" --ctl "$tmp/$2.sock" policies/piranha.lua -c "$tmp/lvs.cf" --foreground >> "$tmp/$2.log" 2>&1) &
	netns_background $!
	eval "pid_$2=$!"
}
until_() { local i; for i in $(seq 150); do "$@" && return 0; sleep 0.1; done; return 1; }
has_vip() { ip -n "$1" -o -4 addr show dev eth0 | grep -q " $VIP/"; }
# heartbeat_part PID: the heartbeat part, the child started with --part luaha.pulsepart.
heartbeat_part()
{
	local c
	for c in $(cat "/proc/$1/task/$1/children" 2> /dev/null); do
		tr '\0' ' ' < "/proc/$c/cmdline" | grep -q -- '--part luaha.pulsepart' && echo "$c" && return 0
	done
	return 1
}
status_field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }

start "$r1" r1
until_ has_vip "$r1" || fail "r1 did not bring the VIP up"
# r2 once r1 serves: a service slower to start than r2's first checks would rightly be taken over.
served() { [ "$(ip netns exec "$client" curl -s -m 1 "http://$VIP:8080/")" = 192.0.2.1 ]; }
until_ served || fail "the service (start_cmd, under the same capabilities) is not served at the VIP"
start "$r2" r2
until_ grep -qs "partner active: staying passive" "$tmp/r2.log" || fail "r2 did not hear r1's heartbeats"
until_ grep -qs "Starting monitor for $VIP:8080" "$tmp/r2.log" || fail "r2 does not watch the service"

# Both parts of both routers run with exactly the drop-in's capabilities and no way to gain more.
for r in r1 r2; do
	eval "pid=\$pid_$r"
	hb=$(heartbeat_part "$pid") || fail "$r: no heartbeat part below $pid"
	for p in "$pid" "$hb"; do
		[ "$(status_field "$p" CapEff)" = "$mask" ] || fail "$r: pid $p runs with CapEff $(status_field "$p" CapEff), not $mask"
		[ "$(status_field "$p" CapBnd)" = "$mask" ] || fail "$r: pid $p has CapBnd $(status_field "$p" CapBnd)"
		[ "$(status_field "$p" NoNewPrivs)" = 1 ] || fail "$r: pid $p may gain privileges"
	done
	chrt -p "$hb" | grep -q 'SCHED_RR' || fail "$r: the heartbeat part is not at real-time priority: $(chrt -p "$hb")"
	[ "$(status_field "$hb" VmLck | awk '{ print $1 }')" -gt 0 ] || fail "$r: the heartbeat part's memory is not locked"
done
echo "PASS capabilities-are-the-drop-ins"

# r1 active: it holds the VIP and announced it (gratuitous ARP: the client learnt r1's MAC without asking),
# it answers on its control socket, and it hears r2's heartbeats.
has_vip "$r2" && fail "the passive r2 holds the VIP"
until_ eval 'ip -n "$client" neigh show $VIP dev eth0 | grep -q "lladdr $(netns_mac "$r1" eth0)"' ||
	fail "the client did not learn the VIP from r1's gratuitous ARP: $(ip -n "$client" neigh show)"
"$LUAHA" ctl "$tmp/r1.sock" status --json > "$tmp/status.json" 2> "$tmp/ctl.log" || fail "ctl status: $(cat "$tmp/ctl.log")"
"$LUAHA" -e '
    local f = assert(io.open(os.getenv("tmp") .. "/status.json"))
    local s = assert(require("luaha.json").decode(f:read("a")))
    assert(s.role == "primary" and s.state == "active", "r1 is " .. tostring(s.role) .. " " .. tostring(s.state))
    assert(s.peer and s.peer.state == "passive" and s.heartbeats.received > 0, "r1 does not hear r2")
    assert(s.heartbeat_part.scheduling == "realtime" and s.heartbeat_part.memory_locked, "heartbeat part not hardened")
' > "$tmp/ctl.log" 2>&1 || fail "ctl status of r1: $(cat "$tmp/ctl.log") in $(cat "$tmp/status.json")"
served && has_vip "$r1" || fail "r1 no longer serves the VIP"
grep -E "not at real-time priority|memory not locked|Operation not permitted|stack traceback" "$tmp/r1.log" "$tmp/r2.log" &&
	fail "a refusal in a router's log"
echo "PASS active-router-runs-with-them"

# Each capability is needed: without CAP_SYS_NICE and CAP_IPC_LOCK the heartbeat part says it runs at ordinary
# priority with its memory unlocked; without CAP_NET_BIND_SERVICE the heartbeat port is refused.
for r in r2 r1; do
	eval "pid=\$pid_$r"
	kill "$pid" && netns_wait "$pid"
done
has_vip "$r1" && fail "r1 kept the VIP after it stopped"
# shellcheck disable=SC2046 # a list of words
capset $(sed 's/CAP_SYS_NICE//; s/CAP_IPC_LOCK//' <<< "$caps")
start "$r1" unhardened
until_ grep -qs "memory not locked" "$tmp/unhardened.log" || fail "without CAP_IPC_LOCK, no notice"
grep -q "not at real-time priority" "$tmp/unhardened.log" || fail "without CAP_SYS_NICE, no notice"
kill "$pid_unhardened" && netns_wait "$pid_unhardened"
# shellcheck disable=SC2046 # a list of words
capset $(sed 's/CAP_NET_BIND_SERVICE//' <<< "$caps")
start "$r1" nobind
for i in $(seq 100); do [ -e "/proc/$pid_nobind" ] || break; sleep 0.1; done
netns_wait "$pid_nobind" && fail "started without CAP_NET_BIND_SERVICE"
grep -q "539.*Permission denied" "$tmp/nobind.log" || fail "without CAP_NET_BIND_SERVICE, not the heartbeat port's refusal"
echo "PASS each-capability-is-needed"
