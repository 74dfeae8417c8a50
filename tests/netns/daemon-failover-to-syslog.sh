#!/bin/bash
# tests/netns/daemon-failover-to-syslog.sh: two fos routers run as daemons (no --foreground, no --syslog): their failover lines reach syslog, under Piranha's idents with log_idents = piranha.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/netns.bash" || exit 2
. "$(dirname "$0")/../lib/fospair.bash" || exit 2
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

fos_pair 0.1 0.5 1 "heartbeat = 1" "log_idents = piranha"

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
