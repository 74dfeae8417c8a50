#!/bin/bash
# tests/uml/anycast-director.sh: one anycast director (cluster = anycast): mh (mh-port) in canonical order, weight 0 not deletion, the blackhole route announced, withdrawn below announce_min_healthy, adopted after a crash, ctl drain.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=anycast-director
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
trap seed_cleanup EXIT

# The seed's namespaces: r1 is the director; rs1 (.204) and rs2 (.205) serve the VIP (on their lo, DR).
seed_setup
cat > "$tmp/lvs.cf" <<CF
serial_no = 1
service = lvs
cluster = anycast
network = direct
drain_time = 1
anycast_change_interval = 0.2
monitor_links = 1
virtual web {
     active = 1
     address = $VIP eth0
     port = 80
     send = "GET / HTTP/1.0\r\n\r\n"
     expect = "HTTP"
     timeout = 3
     check_interval = 0.3
     reentry = 1
     server rs206 {
         address = 192.0.2.206
         active = 1
     }
     server rs205 {
         address = 192.0.2.205
         active = 1
     }
     server rs204 {
         address = 192.0.2.204
         active = 1
     }
}
CF
"$LUAHA" piranha --check -c "$tmp/lvs.cf" > "$tmp/check.log" 2>&1 || fail "--check: $(cat "$tmp/check.log")"
"$LUAHA" piranha --dry-run -c "$tmp/lvs.cf" > "$tmp/dry.log" 2>&1
grep -q "^# anycast: would announce blackhole $VIP/32 table 100 proto 200" "$tmp/dry.log" || fail "--dry-run: $(cat "$tmp/dry.log")"

# The client reaches the VIP through r1, as an upstream router would send it.
ip -n client route add $VIP/32 via 192.0.2.210 || fail "the client's route"
ip netns exec r1 sysctl -qw net.ipv4.ip_forward=1 || fail "forwarding"

announced() { ip -n r1 route show table 100 proto 200 2> /dev/null | grep -q "^blackhole $VIP *$"; }
table() { ip netns exec r1 ipvsadm -Ln; }
# weights "ADDR:80=W ...": the table has the three real servers at these weights (by address), none deleted.
weights()
{
	local t
	t=$(table) || return 1
	grep -q "^TCP  $VIP:80 mh (mh-port)$" <<< "$t" &&
		[ "$(grep -o '192\.0\.2\.20[456]:80 *Route *[0-9]*' <<< "$t" | awk '{ print $1 "=" $3 }' | sort | tr '\n' ' ')" = "$1" ]
}

seed_start r1
until_ok announced || fail "$VIP not announced"
grep -q "anycast: announced $VIP (" "$tmp/r1.log" || fail "no announce line"
[ "$(ip netns exec r1 sysctl -n net.ipv4.vs.sloppy_tcp)" = 1 ] || fail "sloppy_tcp is not 1"
ip -n r1 -o addr show dev lo | grep -q " $VIP/32 " || fail "the VIP is not on lo"
grep -q "garp\|gratuitous" "$tmp/r1.log" && fail "gratuitous ARP for an anycast VIP"
until_ok weights "192.0.2.204:80=1 192.0.2.205:80=1 192.0.2.206:80=0 " || fail "the table: $(table)"
# Added in canonical order (by address), not the file's (.206, .205, .204).
[ "$(grep -o 'ipvsadm -a .* -r 192\.0\.2\.20[456]' "$tmp/r1.log" | grep -o '20[456]$' | tr '\n' ' ')" = "204 205 206 " ] ||
	fail "not added in canonical order: $(grep 'ipvsadm -a' "$tmp/r1.log")"
grep -q "ipvsadm -d" "$tmp/r1.log" && fail "a real server was deleted"
seed_get | grep -q "^rs[12]$" || fail "no reply through the VIP"
echo "PASS anycast-director-programs-mh-port-in-canonical-order-and-announces"

# Below announce_min_healthy (1): both servers fail, both stay at weight 0, the VIP is withdrawn; one returns: announced.
for rs in rs1 rs2; do ip netns pids $rs | xargs -r kill; done
until_ok weights "192.0.2.204:80=0 192.0.2.205:80=0 192.0.2.206:80=0 " || fail "out servers: $(table)"
until_ok eval '! announced' || fail "$VIP still announced with no healthy server"
grep -q "anycast: withdrew $VIP (virtual web: 0 of 1 real servers healthy)" "$tmp/r1.log" || fail "no withdraw line"
ip netns exec rs1 "$LUAHA" tests/lib/http-name.lua rs1 > "$tmp/rs1-http.log" 2>&1 &
until_ok announced || fail "$VIP not announced again"
weights "192.0.2.204:80=1 192.0.2.205:80=0 192.0.2.206:80=0 " || fail "the table after rs1's return: $(table)"
echo "PASS anycast-director-withdraws-below-announce-min-healthy"

# The uplink (eth0, monitor_links = 1) down: withdrawn; up: announced again.
ip -n r1 link set eth0 down
until_ok eval '! announced' || fail "$VIP announced with its uplink down"
ip -n r1 link set eth0 up
until_ok announced || fail "$VIP not announced when the uplink came back"
echo "PASS anycast-director-follows-its-uplink"

# A crash leaves the route; a restart adopts it (no withdraw), withdraws a stale VIP's route, keeps another protocol's.
seed_kill r1
seed_revive r1
announced || fail "the crash took the route"
ip -n r1 route add blackhole 192.0.2.99/32 table 100 proto 200 || fail "the stale route"
ip -n r1 route add blackhole 192.0.2.98/32 table 100 proto 201 || fail "another protocol's route"
mark=$(wc -l < "$tmp/r1.log")
seed_start r1
until_ok grep -q "anycast: adopted $VIP" "$tmp/r1.log" || fail "not adopted"
until_ok eval '! ip -n r1 route show table 100 | grep -q 192.0.2.99' || fail "the stale route stayed"
ip -n r1 route show table 100 | grep -q "blackhole 192.0.2.98 proto 201" || fail "another protocol's route went"
sleep 1
tail -n +"$((mark + 1))" "$tmp/r1.log" | grep -q "anycast: withdrew $VIP" && fail "the restart withdrew $VIP"
announced || fail "$VIP not announced after the restart"
echo "PASS anycast-director-restart-adopts-its-routes"

# ctl drain: withdrawn at once, the daemon exits 0 drain_time later, the table and the VIP stay.
"$LUAHA" ctl "$tmp/r1.sock" drain > "$tmp/ctl.out" 2>&1 || fail "ctl drain: $(cat "$tmp/ctl.out")"
until_ok eval '! announced' || fail "$VIP still announced after ctl drain"
for _ in $(seq 100); do [ -e "/proc/$pid_r1" ] || break; sleep 0.1; done
[ -e "/proc/$pid_r1" ] && fail "the drained daemon did not stop"
wait "$pid_r1"; rc=$?
[ "$rc" = 0 ] || fail "the drained daemon exited $rc"
weights "192.0.2.204:80=1 192.0.2.205:80=0 192.0.2.206:80=0 " || fail "the table after the drain: $(table)"
ip -n r1 -o addr show dev lo | grep -q " $VIP/32 " || fail "the drain took the VIP"
grep -q "Traceback\|stack traceback" "$tmp/r1.log" && fail "a traceback in the log"
echo "PASS anycast-director-ctl-drain-withdraws-and-stops"

# SIGTERM does the same: the VIP is withdrawn before the daemon exits 0.
seed_start r1
until_ok announced || fail "$VIP not announced after the drained restart"
t0=$EPOCHREALTIME
kill -TERM "$pid_r1"
until_ok eval '! announced' || fail "$VIP still announced after SIGTERM"
wait "$pid_r1"; rc=$?
[ "$rc" = 0 ] || fail "SIGTERM: the daemon exited $rc"
awk -v t0="$t0" -v t1="$EPOCHREALTIME" 'BEGIN { exit !(t1 - t0 >= 1) }' || fail "SIGTERM: stopped before drain_time (1 s)"
grep -q "anycast: withdrew $VIP (draining)" "$tmp/r1.log" || fail "no withdraw line for the drain"
ip -n r1 -o addr show dev lo | grep -q " $VIP/32 " || fail "SIGTERM took the VIP"
echo "PASS anycast-director-sigterm-drains"
