#!/bin/bash
# tests/netns/daemon-failover-to-syslog.sh: two fos routers run as daemons (no --foreground, no --syslog): their failover lines reach syslog, under Piranha's idents with log_idents = piranha.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
netns_test daemon-failover-to-syslog
sw=luaha-dsw-$$ client=luaha-dc-$$ r1=luaha-dr1-$$ r2=luaha-dr2-$$
sock=$tmp/log.sock

# The daemons are no children of ours: kill what is left in their namespaces before they go.
daemons_cleanup()
{
	local ns
	for ns in "$r1" "$r2"; do ip netns pids "$ns" 2> /dev/null | xargs -r kill -9 2> /dev/null; done
	netns_cleanup
}
trap daemons_cleanup EXIT

netns_add "$sw" "$client" "$r1" "$r2"
ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up || fail "bridge"
node() { netns_veth "$2" eth0 "$sw" "$1" && ip -n "$sw" link set "$1" master br0; }
node client "$client" && node r1 "$r1" && node r2 "$r2" || fail "namespaces"
ip -n "$client" addr add 192.0.2.10/24 dev eth0 && ip -n "$r1" addr add 192.0.2.1/24 dev eth0 &&
	ip -n "$r2" addr add 192.0.2.2/24 dev eth0 || fail "addresses"

# The service fos runs: an HTTP server naming its router.
cat > "$tmp/start.sh" <<SH
#!/bin/sh
me=\$(ip -o -4 addr show dev eth0 | awk '{ print \$4 }' | head -1 | cut -d/ -f1)
$PWD/$LUAHA $PWD/tests/lib/http-name.lua "\$me" 8080 > /dev/null 2>&1 &
echo \$! > "$tmp/http-\$me.pid"
SH
cat > "$tmp/stop.sh" <<SH
#!/bin/sh
me=\$(ip -o -4 addr show dev eth0 | awk '{ print \$4 }' | head -1 | cut -d/ -f1)
[ -f "$tmp/http-\$me.pid" ] && kill \$(cat "$tmp/http-\$me.pid") 2> /dev/null
rm -f "$tmp/http-\$me.pid"
exit 0
SH
chmod +x "$tmp/start.sh" "$tmp/stop.sh"
cat > "$tmp/lvs.cf" <<CF
serial_no = 1
primary = 192.0.2.1
backup = 192.0.2.2
backup_active = 1
heartbeat = 1
service = fos
keepalive = 0.1
deadtime = 0.5
garp_interval = 0.1
log_idents = piranha
failover web {
     active = 1
     address = 192.0.2.100 eth0:1
     port = 8080
     send = "GET / HTTP/1.0\r\n\r\n"
     expect = "HTTP"
     timeout = 1
     start_cmd = $tmp/start.sh
     stop_cmd = $tmp/stop.sh
}
CF

# Our own syslog receiver on a socket of our own (--log-socket): the host's logging is not touched.
socat -u UNIX-RECV:"$sock" OPEN:"$tmp/syslog",creat,append 2> "$tmp/socat.log" &
netns_background $!
until_() { local i; for i in $(seq 100); do "$@" && return 0; sleep 0.1; done; return 1; }
until_ test -S "$sock" || fail "socat does not listen"
# One record a line, for grep (syslog records have no newline of their own).
records() { sed 's/<\([0-9]*\)>/\n<\1>/g' "$tmp/syslog"; }
logged() { records | grep -qE "$1"; }
start() {
	ip netns exec "$1" "$LUAHA" --log-socket "$sock" --ctl "$tmp/$2.sock" policies/piranha.lua \
		-c "$tmp/lvs.cf" --pidfile "$tmp/$2.pid" > "$tmp/$2.log" 2>&1 || fail "$2 did not start as a daemon"
}
served_by() { [ "$(ip netns exec "$client" curl -s -m 1 http://192.0.2.100:8080/)" = "$1" ]; }

start "$r1" r1
until_ served_by 192.0.2.1 || fail "r1 does not serve the VIP"
start "$r2" r2
until_ logged '^<30>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} fos\[[0-9]+\]: Starting monitor for 192\.0\.2\.100:8080$' ||
	fail "r2's fos monitor line is not in syslog: $(records)"
logged '^<30>.* pulse\[[0-9]+\]: STARTING PULSE AS MASTER$' || fail "no STARTING PULSE AS MASTER: $(records)"
logged '^<30>.* pulse\[[0-9]+\]: STARTING PULSE AS BACKUP$' || fail "no STARTING PULSE AS BACKUP"
echo "PASS daemon-start-lines-reach-syslog-under-piranha-idents"

# A planned stop of r1: r2 takes over, and both say so in syslog.
kill -TERM "$(cat "$tmp/r1.pid")" || fail "no r1 daemon"
until_ served_by 192.0.2.2 || fail "r2 did not take over"
until_ logged '^<30>.* pulse\[[0-9]+\]: primary leaving: activating lvs$' || fail "no takeover line: $(records)"
logged '^<30>.* pulse\[[0-9]+\]: Terminating due to signal 15$' || fail "no Terminating line"
logged 'stack traceback' && fail "a Lua traceback in syslog"
records | grep -E 'luaha\[[0-9]+\]: (pulse|lvs|nanny|fos): ' && fail "a part's line under the luaha ident"
echo "PASS daemon-failover-lines-reach-syslog"
