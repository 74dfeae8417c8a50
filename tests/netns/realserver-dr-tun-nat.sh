#!/bin/bash
# tests/netns/realserver-dr-tun-nat.sh: policies/realserver.lua in a namespace: dr, tun and nat up, again (nothing to do), --down restoring what was there; -c; bad arguments.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test realserver-dr-tun-nat
rs_ns=luaha-rs-$$ router=luaha-rr-$$
state=$tmp/run/luaha/realserver.state	# its directory does not exist yet: the policy makes it

netns_add "$rs_ns" "$router"
netns_veth "$rs_ns" eth0 "$router" eth0
ip -n "$rs_ns" addr add 192.0.2.10/24 dev eth0 && ip -n "$rs_ns" route add default via 192.0.2.1 || fail "addresses"

# rs STEP ARG...: run the policy in the namespace with our state file; stdout in $tmp/STEP.out,
# stderr in $tmp/STEP.err, both in the log that fail shows. Returns the policy's exit status.
rs()
{
	local step=$1 rc
	shift
	ip netns exec "$rs_ns" timeout 30 "$LUAHA" policies/realserver.lua --state "$state" "$@" \
		> "$tmp/$step.out" 2> "$tmp/$step.err"
	rc=$?
	{ echo "== $step: realserver $* (exit $rc)"; cat "$tmp/$step.out" "$tmp/$step.err"; } >> "$tmp/realserver.log"
	return "$rc"
}

# set_sysctls NAME=VALUE...: set them in the namespace.
set_sysctls()
{
	ip netns exec "$rs_ns" sysctl -qw "$@" > /dev/null || fail "sysctl -w $*"
}

# sysctls_are WHY NAME=VALUE...: each has its value in the namespace, or fail.
sysctls_are()
{
	local why=$1 kv now
	shift
	for kv in "$@"; do
		now=$(ip netns exec "$rs_ns" sysctl -n "${kv%%=*}")
		[ "$now" = "${kv#*=}" ] || fail "$why: ${kv%%=*} is $now, not ${kv#*=}"
	done
}

# has_addr DEV PATTERN: ip -o addr on DEV has a line matching PATTERN (an ERE).
has_addr()
{
	ip -n "$rs_ns" -o addr show dev "$1" | grep -qE "$2"
}

# is_up DEV: DEV is administratively up.
is_up()
{
	ip -n "$rs_ns" -o link show dev "$1" | grep -qE '<([^>]*,)?UP[,>]'
}

# default_is WHY TEXT: `ip route show default` is TEXT, or fail.
default_is()
{
	local now
	now=$(ip -n "$rs_ns" route show default | sed -E "s/ proto [a-z]+//; s/ *$//")
	[ "$now" = "$2" ] || fail "$1: the default route is '$now', not '$2'"
}

# only_nothing_to_do STEP N: STEP printed N lines, all of them "nothing to do", and left the state file as it was.
only_nothing_to_do()
{
	local changed
	changed=$(grep -v '^nothing to do: ' "$tmp/$1.out")
	[ -z "$changed" ] || fail "$1: changed something: $changed"
	[ "$(wc -l < "$tmp/$1.out")" = "$2" ] || fail "$1: $(wc -l < "$tmp/$1.out") lines, not $2"
	[ "$(stat -c %i "$state")" = "$inode" ] && cmp -s "$state" "$tmp/state.before" || fail "$1: rewrote the state file"
}

# remember_state: the state file's inode and text, for only_nothing_to_do.
remember_state()
{
	[ -f "$state" ] || fail "no state file after the up run"
	inode=$(stat -c %i "$state")
	cp "$state" "$tmp/state.before"
}

# printed STEP LINE: STEP printed exactly LINE on stdout.
printed()
{
	grep -qxF "$2" "$tmp/$1.out" || fail "$1 did not print '$2'"
}

name=realserver-usage
arp_before=$(ip netns exec "$rs_ns" sysctl -n net.ipv4.conf.all.arp_ignore)
for args in "--mode bogus --vip 192.0.2.212" "--mode dr" "--mode dr --vip 192.0.2.300" "--mode nat" \
	"--mode tun --vip 2001:db8::212" "--mode nat --gateway 192.0.2.254 --vip 192.0.2.212" "--frobnicate" "--vip"; do
	# shellcheck disable=SC2086	# the words of $args are the arguments
	rs usage $args
	rc=$?
	[ "$rc" = 2 ] || fail "'$args' exit $rc, not 2"
	grep -q '^usage: luaha realserver ' "$tmp/usage.err" || fail "'$args': no usage line"
	grep -q '^realserver: ' "$tmp/usage.err" || fail "'$args': no reason"
	[ -s "$tmp/usage.out" ] && fail "'$args' printed on stdout"
done
[ -e "$state" ] && fail "a bad command line wrote the state file"
sysctls_are "after bad arguments" "net.ipv4.conf.all.arp_ignore=$arp_before"
echo "PASS $name"

name=realserver-dr
# Unusual values, so that --down must restore them rather than the defaults.
set_sysctls net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=1 \
	net.ipv4.conf.lo.arp_ignore=2 net.ipv4.conf.lo.arp_announce=0
rs dr-up --mode dr --vip 192.0.2.212 --vip 2001:db8::212 || fail "up: exit $?"
has_addr lo '^[0-9]+: lo +inet 192\.0\.2\.212/32 .* lo:0\\' || fail "up: no 192.0.2.212/32 label lo:0 on lo"
has_addr lo 'inet6 2001:db8::212/128 ' || fail "up: no 2001:db8::212/128 on lo"
sysctls_are "up" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
	net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2
printed dr-up "added 192.0.2.212/32 dev lo label lo:0"
printed dr-up "sysctl net.ipv4.conf.lo.arp_ignore: 2 -> 1"
remember_state

rs dr-again --mode dr --vip 192.0.2.212 --vip 2001:DB8:0::212 || fail "again: exit $?"
only_nothing_to_do dr-again 6

# A value changed behind its back is set again; the state keeps the value found the first time.
set_sysctls net.ipv4.conf.all.arp_announce=0
rs dr-repair --mode dr --vip 192.0.2.212 --vip 2001:db8::212 || fail "repair: exit $?"
printed dr-repair "sysctl net.ipv4.conf.all.arp_announce: 0 -> 2"
[ "$(grep -vc '^nothing to do: ' "$tmp/dr-repair.out")" = 1 ] || fail "repair changed more than arp_announce"
cmp -s "$state" "$tmp/state.before" || fail "repair changed the state file"

rs dr-down --down || fail "down: exit $?"
has_addr lo '192\.0\.2\.212|2001:db8::212' && fail "down: a VIP is still on lo"
sysctls_are "down" net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=1 \
	net.ipv4.conf.lo.arp_ignore=2 net.ipv4.conf.lo.arp_announce=0
printed dr-down "sysctl net.ipv4.conf.all.arp_announce: 2 -> 1"
[ -e "$state" ] && fail "down: the state file is still there"

# Without a state file: the VIP goes, an address it did not add stays, the sysctls stay, and it says so.
ip -n "$rs_ns" addr add 192.0.2.212/32 dev lo label lo:0 && ip -n "$rs_ns" addr add 192.0.2.213/24 dev lo ||
	fail "addresses for down without state"
set_sysctls net.ipv4.conf.all.arp_ignore=1
rs dr-down-unrecorded --down --mode dr --vip 192.0.2.212 --vip 192.0.2.213 || fail "down without state: exit $?"
has_addr lo '192\.0\.2\.212' && fail "down without state: 192.0.2.212 is still on lo"
has_addr lo '192\.0\.2\.213/24' || fail "down without state: removed 192.0.2.213/24, which it would not have added"
grep -q '^no state file .*: the sysctls are left as they are$' "$tmp/dr-down-unrecorded.out" ||
	fail "down without state did not say it leaves the sysctls"
sysctls_are "down without state" net.ipv4.conf.all.arp_ignore=1
ip -n "$rs_ns" addr del 192.0.2.213/24 dev lo
set_sysctls net.ipv4.conf.all.arp_ignore=0
echo "PASS $name"

name=realserver-config
# Two services on one address need it once; an inactive one none; --vip adds to the file's.
cat > "$tmp/dr.cf" <<'CF'
serial_no = 1
primary = 192.0.2.210
service = lvs
network = direct
virtual web {
    active = 1
    address = 192.0.2.212 eth0:1
    port = 80
}
virtual web-tls {
    active = 1
    address = 192.0.2.212 eth0:1
    port = 443
}
virtual mail {
    active = 0
    address = 192.0.2.213 eth0:2
    port = 25
}
virtual dns {
    active = 1
    address = 198.51.100.53 eth0:3
    port = 53
    protocol = udp
}
CF
rs cf-up -c "$tmp/dr.cf" --vip 203.0.113.7 || fail "up: exit $?"
for vip in 192.0.2.212 198.51.100.53 203.0.113.7; do
	has_addr lo "inet ${vip//./\\.}/32 .* lo:0" || fail "up: no $vip/32 on lo"
done
has_addr lo '192\.0\.2\.213' && fail "up: the inactive virtual's address is on lo"
[ "$(grep -c '^added ' "$tmp/cf-up.out")" = 3 ] || fail "up: not 3 addresses added"
sysctls_are "up" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2
rs cf-down --down || fail "down: exit $?"
has_addr lo '192\.0\.2\.212|198\.51\.100\.53|203\.0\.113\.7' && fail "down: a VIP is still on lo"
sysctls_are "down" net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.lo.arp_announce=0

# The sample lvs.cf of the Lua tests, and a Lua configuration.
rs cf-seed -c tests/lua/data/seed.cf || fail "seed.cf: exit $?"
has_addr lo 'inet 192\.0\.2\.212/32 .* lo:0' || fail "seed.cf: no 192.0.2.212/32 on lo"
rs cf-lua -c examples/lvs.lua || fail "lvs.lua: exit $?"
grep -qx 'nothing to do: 192.0.2.212/32 is already on lo' "$tmp/cf-lua.out" || fail "lvs.lua: not the same VIP"
rs cf-seed-down --down || fail "seed.cf down: exit $?"
has_addr lo '192\.0\.2\.212' && fail "seed.cf down: the VIP is still on lo"

# network = nat gives the mode, nat_router the gateway.
printf 'serial_no = 1\nprimary = 192.0.2.210\nservice = lvs\nnetwork = nat\nnat_router = 192.0.2.254 eth1:1\n' \
	> "$tmp/nat.cf"
rs cf-nat -c "$tmp/nat.cf" || fail "nat.cf: exit $?"
default_is "nat.cf" "default via 192.0.2.254 dev eth0"
rs cf-nat-down --down || fail "nat.cf down: exit $?"
default_is "nat.cf down" "default via 192.0.2.1 dev eth0"

rs cf-missing -c "$tmp/missing.cf"
rc=$?
[ "$rc" = 1 ] || fail "a missing config: exit $rc, not 1"
grep -qF "realserver: $tmp/missing.cf: No such file or directory" "$tmp/cf-missing.err" || fail "a missing config: no reason"
echo "PASS $name"

name=realserver-nat
rs nat-up --mode nat --gateway 192.0.2.254 || fail "up: exit $?"
default_is "up" "default via 192.0.2.254 dev eth0"
printed nat-up "default route: via 192.0.2.1 dev eth0 -> via 192.0.2.254"
remember_state
rs nat-again --mode nat --gateway 192.0.2.254 || fail "again: exit $?"
only_nothing_to_do nat-again 1
# Another gateway replaces ours; the state still remembers the route that was there first.
rs nat-other --mode nat --gateway 192.0.2.253 || fail "other gateway: exit $?"
default_is "other gateway" "default via 192.0.2.253 dev eth0"
grep -q '"192.0.2.1"' "$state" || fail "other gateway: the state forgot 192.0.2.1"
rs nat-down --down || fail "down: exit $?"
default_is "down" "default via 192.0.2.1 dev eth0"
printed nat-down "default route: via 192.0.2.253 dev eth0 -> via 192.0.2.1 dev eth0"

# A gateway the kernel refuses: the reason, exit 1, and the old route back.
rs nat-unreachable --mode nat --gateway 203.0.113.254
rc=$?
[ "$rc" = 1 ] || fail "unreachable gateway: exit $rc, not 1"
grep -q '^realserver: route_add default via 203.0.113.254: Network is unreachable' "$tmp/nat-unreachable.err" ||
	fail "unreachable gateway: no reason on stderr"
default_is "unreachable gateway" "default via 192.0.2.1 dev eth0"
rs nat-unreachable-down --down || fail "down after the refusal: exit $?"
default_is "down after the refusal" "default via 192.0.2.1 dev eth0"
echo "PASS $name"

# tun_checks: up, again and down with the tunl0 there is, whatever made it.
tun_checks()
{
	ip -n "$rs_ns" link set tunl0 down || fail "tunl0 down"
	set_sysctls net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=1 \
		net.ipv4.conf.tunl0.arp_ignore=0 net.ipv4.conf.tunl0.arp_announce=1 \
		net.ipv4.conf.tunl0.rp_filter=2 net.ipv4.conf.all.rp_filter=1
	rs tun-up --mode tun --vip 192.0.2.212 || fail "up: exit $?"
	has_addr tunl0 'inet 192\.0\.2\.212/32 ' || fail "up: no 192.0.2.212/32 on tunl0"
	is_up tunl0 || fail "up: tunl0 is not up"
	sysctls_are "up" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
		net.ipv4.conf.tunl0.arp_ignore=1 net.ipv4.conf.tunl0.arp_announce=2 \
		net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.all.rp_filter=0
	printed tun-up "set tunl0 up"
	printed tun-up "sysctl net.ipv4.conf.tunl0.rp_filter: 2 -> 0"
	remember_state
	rs tun-again --mode tun --vip 192.0.2.212 || fail "again: exit $?"
	only_nothing_to_do tun-again 9
	rs tun-down --down || fail "down: exit $?"
	has_addr tunl0 '192\.0\.2\.212' && fail "down: the VIP is still on tunl0"
	is_up tunl0 && fail "down: tunl0 is still up"
	sysctls_are "down" net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=1 \
		net.ipv4.conf.tunl0.arp_ignore=0 net.ipv4.conf.tunl0.arp_announce=1 \
		net.ipv4.conf.tunl0.rp_filter=2 net.ipv4.conf.all.rp_filter=1
	[ -e "$state" ] && fail "down: the state file is still there"
}

# tunl0 is in every namespace once ipip is loaded; without it, the policy runs modprobe ipip.
name=realserver-tun
if ! ip -n "$rs_ns" link show tunl0 > /dev/null 2>&1; then
	set_sysctls net.ipv4.conf.all.arp_ignore=0
	rs tun-modprobe --mode tun --vip 192.0.2.212
	rc=$?
	if [ "$rc" = 0 ]; then
		rs tun-modprobe-down --down || fail "down after modprobe: exit $?"
		grep -qx 'loaded the ipip module: tunl0 appeared' "$tmp/tun-modprobe.out" || fail "modprobe not said"
	else
		[ "$rc" = 1 ] || fail "tun without ipip: exit $rc, not 1"
		reason=$(grep '^realserver: modprobe ipip: ' "$tmp/tun-modprobe.err") || fail "tun without ipip: no reason"
		[ -e "$state" ] && fail "tun without ipip wrote the state file"
		sysctls_are "tun without ipip" net.ipv4.conf.all.arp_ignore=0
		echo "SKIP $name: this kernel cannot load ipip (${reason#realserver: })"
		# The rest of tun mode, with a veth named tunl0 standing in for the tunnel.
		name=realserver-tun-standin
		ip -n "$rs_ns" link add tunl0 type veth peer name tunl0-peer || fail "a veth named tunl0"
	fi
fi
tun_checks
echo "PASS $name"
