#!/bin/bash
# tests/webui/bed.sh: inside UML, the web UI test's far side: a router running luaha with the web UI, two real servers, and an agent.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run by tests/browser/webui-browser.sh and bench/webui-task.sh through tests/uml/run with UML_ARGS
# "eth0=tuntap,TAP": eth0 is the host's tap, on the bridge br0 with the namespaces r1 (192.0.2.210,
# luaha), rs1 (192.0.2.204) and rs2 (192.0.2.205), direct-routing real servers for the VIP 192.0.2.212
# (tests/lib/http-hold.lua on port 80). The browser stays on the host: Chromium in UML took 148 s to
# show one page (tests/browser/webui-browser.sh says more).
#
# The host talks to this side through $UML_OUT/agent (hostfs): it renames a bash script to N.cmd, the
# agent runs it here (as root, in the repository, with $tmp, $LUAHA and the functions below) and leaves
# N.out and then N.rc. $UML_OUT/agent/ready says the listener answers, and how luaha was started:
#   mode=setup    lvs.cf without a virtual, `--webui 192.0.2.210:3636`: the UI in setup mode
#   mode=webui    the webui options but no setup mode: a virtual "probe" (VIP:81, rs1) starts the router
#   mode=status   this build has no webui option: the read-only status listener over the same probe
# $UML_OUT/agent/stop ends the agent; everything is removed then, or after WEBUI_LIMIT seconds.
set -u
cd "$(dirname "$0")/../.." || exit 2
name=webui-bed
LUAHA=${LUAHA:-./luaha}
tmp=$(mktemp -d) || exit 2
agent=$UML_OUT/agent
limit=${WEBUI_LIMIT:-600}
export LUAHA tmp
. tests/lib/seed.bash
seed_ns=(r1 rs1 rs2)

bed_cleanup()
{
	[ -f "$tmp/r1.log" ] && cp "$tmp/r1.log" "$UML_OUT/r1.log"
	ipvsadm -C 2> /dev/null
	seed_cleanup
}
trap bed_cleanup EXIT

# rs_stop NAME, rs_start NAME: the real server's HTTP server (its health checks fail while it is stopped).
rs_stop()
{
	[ -s "$tmp/$1.pid" ] && kill "$(cat "$tmp/$1.pid")" && rm -f "$tmp/$1.pid"
}
rs_start()
{
	local i
	ip netns exec "$1" "$LUAHA" tests/lib/http-hold.lua "$1" 80 > "$tmp/$1-http.log" 2>&1 &
	echo $! > "$tmp/$1.pid"
	for i in $(seq 100); do grep -q listening "$tmp/$1-http.log" && return 0; sleep 0.1; done
	return 1
}
# r1_start ARGS...: luaha in r1, in a process group of its own (both parts), log $tmp/r1.log.
r1_start()
{
	setsid ip netns exec r1 "$LUAHA" --ctl "$tmp/r1.sock" policies/piranha.lua -c "$tmp/lvs.cf" --foreground "$@" \
		>> "$tmp/r1.log" 2>&1 < /dev/null &
	echo $! > "$tmp/r1.pid"
}
r1_stop()
{
	[ -s "$tmp/r1.pid" ] && kill -TERM -- "-$(cat "$tmp/r1.pid")" 2> /dev/null
	rm -f "$tmp/r1.pid"
}
export -f rs_stop rs_start r1_start r1_stop

ip link add name br0 type bridge && ip link set br0 up || fail "bridge"
ip link set eth0 master br0 && ip link set eth0 up || fail "eth0 (the host's tap) on the bridge: is UML_ARGS set?"
seed_node r1 192.0.2.210
seed_node rs1 192.0.2.204
seed_node rs2 192.0.2.205
echo "bed: namespaces at $SECONDS s"
for rs in rs1 rs2; do
	ip netns exec $rs "$LUAHA" policies/realserver.lua --mode dr --vip $VIP --state "$tmp/$rs.state" \
		> "$tmp/$rs-setup.log" 2>&1 || fail "realserver.lua on $rs: $(cat "$tmp/$rs-setup.log")"
	rs_start $rs || fail "http-hold.lua on $rs: $(cat "$tmp/$rs-http.log")"
done

# The password file: user piranha (luaha passwd writes this format). The host hashes it (WEBUI_PWHASH):
# Argon2id takes 10 s and more in a busy UML.
pwhash=${WEBUI_PWHASH:-$("$LUAHA" -e "print(require('luaha').auth.pwhash('${WEBUI_PASSWORD:-piranha-pw-1}'))")}
echo "piranha:$pwhash" > "$tmp/status.passwd" && chmod 600 "$tmp/status.passwd" || fail "password file"

# The seed: the global settings a first-time user has, no virtual, a comment that must survive.
cat > "$tmp/lvs.cf" <<CF
# lvs.cf of the web UI test: this comment line must survive every Apply byte for byte.
serial_no = 7
primary = 192.0.2.210
service = lvs
backup_active = 0
heartbeat = 1
keepalive = 0.5
deadtime = 2
network = direct
status_listen = 192.0.2.210:3636
status_passwd = $tmp/status.passwd
webui = 1
webui_insecure = 1
CF
# Does this build have the UI? The webui option read (checked with a virtual), --webui in the usage.
{ cat "$tmp/lvs.cf"; printf 'virtual probe {\n active = 1\n address = 192.0.2.213 eth0:2\n port = 80\n}\n'; } > "$tmp/probe.cf"
if ! "$LUAHA" policies/piranha.lua -c "$tmp/probe.cf" --check > "$tmp/probe.out" 2>&1; then
	mode="status the webui options are refused: $(head -1 "$tmp/probe.out")"
	grep -v '^webui' "$tmp/lvs.cf" > "$tmp/lvs.cf.new" && mv "$tmp/lvs.cf.new" "$tmp/lvs.cf"
elif ! "$LUAHA" policies/piranha.lua --help 2>&1 | grep -q -- --webui; then
	mode="webui no --webui (setup mode) in this build: a virtual probe starts the router"
else
	mode=setup
fi
if [ "$mode" = setup ]; then
	r1_start --webui 192.0.2.210:3636
else
	printf 'virtual probe {\n     active = 1\n     address = %s eth0:1\n     port = 81\n     scheduler = wlc\n' $VIP >> "$tmp/lvs.cf"
	printf '     timeout = 3\n     check_interval = 0.5\n     reentry = 1\n' >> "$tmp/lvs.cf"
	printf '     server rs1 {\n         address = 192.0.2.204\n         active = 1\n         weight = 1\n     }\n}\n' >> "$tmp/lvs.cf"
	r1_start
fi
echo "bed: luaha started at $SECONDS s ($mode)"
# The listener answers (anything: 401 is an answer) within 120 s: luaha's start in a busy UML is slow.
for i in $(seq 240); do
	code=$(ip netns exec r1 curl -s -m 2 -o /dev/null -w '%{http_code}' http://192.0.2.210:3636/status.json)
	[ "$code" != 000 ] && break
	kill -0 "$(cat "$tmp/r1.pid")" 2> /dev/null || fail "luaha ended: $(tail -5 "$tmp/r1.log")"
	sleep 0.5
done
[ "$code" != 000 ] || fail "the listener did not answer in 120 s"
echo "bed: the listener answered at $SECONDS s"
mkdir -p "$agent" && echo "mode=$mode" > "$agent/ready.tmp" && mv "$agent/ready.tmp" "$agent/ready" || fail "ready"
echo "bed ready: mode=$mode"

# The agent: one command at a time, in the order of their numbers, until stop or the limit.
while [ ! -e "$agent/stop" ] && [ "$SECONDS" -lt "$limit" ]; do
	for f in "$agent"/*.cmd; do
		[ -e "$f" ] || continue
		n=${f%.cmd}
		mv "$f" "$n.run" || continue
		timeout -k 5 120 bash "$n.run" > "$n.out" 2>&1 < /dev/null
		echo $? > "$n.rc.tmp" && mv "$n.rc.tmp" "$n.rc"
	done
	sleep 0.1
done
[ -e "$agent/stop" ] || echo "bed: the agent's limit of $limit s came before the host said stop"
r1_stop
grep -q "stack traceback" "$tmp/r1.log" && echo "FAIL webui-bed: a Lua traceback in luaha's log" && exit 1
exit 0
