#!/bin/bash
# tests/uml/ctl-live.sh: `luaha attach` and `luaha ctl` against the running piranha policy of the seed topology.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=ctl
tmp=$(mktemp -d) || exit 2
. tests/lib/seed.bash
trap seed_cleanup EXIT

seed_setup
# The status listener beyond loopback, with a password file (user admin, password s3cret).
echo "admin:$("$LUAHA" -e 'print(require("luaha").auth.pwhash("s3cret"))')" > "$tmp/status.passwd"
seed_config "status_listen = 0.0.0.0:3636" "status_passwd = $tmp/status.passwd"
seed_pair
until_ok sh -c "ip netns exec r1 ipvsadm -Ln | grep -c Route | grep -qx 2" || fail "r1's table is not complete"
ctl_r1() { "$LUAHA" ctl "$tmp/r1.sock" "$@"; }
attach_r1() { "$LUAHA" attach "$tmp/r1.sock" "$@"; }

# attach -e: a value from the daemon's own state; an error exits 1 and the daemon goes on.
out=$(attach_r1 -e 'router:status().state') || fail "attach -e failed"
[ "$out" = active ] || fail "attach -e printed '$out'"
attach_r1 -e 'error("boom")' > "$tmp/out" 2> "$tmp/err" && fail "an erroring line exited 0"
grep -q 'attach:1: boom' "$tmp/err" || fail "no error text: $(cat "$tmp/err")"
grep -q 'stack traceback' "$tmp/err" || fail "no traceback shown to the client"
kill -0 "$pid_r1" && seed_has_vip r1 || fail "the daemon did not survive an erroring line"
echo "PASS ctl-attach-evaluates-errors-stay-with-the-client"

# A line that waits 1.5 s in r1 does not delay its heartbeats: r2's longest gap stays near keepalive (0.1 s).
"$LUAHA" attach "$tmp/r2.sock" -e 'router.pulse:reset_gap()' > /dev/null || fail "reset r2's gap"
attach_r1 -e 'luaha.sleep(1.5)' || fail "a sleeping line failed"
gap=$("$LUAHA" attach "$tmp/r2.sock" -e 'router.pulse:status(true).stats.max_gap') || fail "read r2's gap"
echo "longest heartbeat gap seen by r2 while a line slept 1.5 s in r1: $gap s"
awk -v g="$gap" 'BEGIN { exit !(g < 0.3) }' || fail "heartbeats stalled for $gap s"
kill -0 "$pid_r1" && ! grep -q "partner dead" "$tmp/r2.log" || fail "r2 thought r1 dead"
echo "PASS ctl-waiting-line-does-not-delay-heartbeats"

# Two clients at once: each line notes when it ran, in the daemon's clock; the two runs overlap.
attach_r1 -e 'local t0 = luaha.now() luaha.sleep(1) return ("%.3f %.3f"):format(t0, luaha.now())' > "$tmp/a1" & a1=$!
attach_r1 -e 'local t0 = luaha.now() luaha.sleep(1) return ("%.3f %.3f"):format(t0, luaha.now())' > "$tmp/a2" & a2=$!
wait $a1 && wait $a2 || fail "two clients at once failed"
read -r s1 e1 <<< "$(tr -d '"' < "$tmp/a1")"
read -r s2 e2 <<< "$(tr -d '"' < "$tmp/a2")"
[ -n "$e1" ] && [ -n "$e2" ] || fail "two clients got '$(cat "$tmp/a1")' '$(cat "$tmp/a2")'"
awk -v s1="$s1" -v e1="$e1" -v s2="$s2" -v e2="$e2" 'BEGIN { exit !((s1 > s2 ? s1 : s2) < (e1 < e2 ? e1 : e2)) }' ||
	fail "the two 1 s lines did not run at the same time: $s1-$e1 and $s2-$e2"
echo "PASS ctl-two-clients-at-once"

# A peer that is neither root nor the daemon's uid is refused (the socket opened to all to let it try).
# It runs a copy of luaha and lua/ where it can read them: the tree may be below a directory only root can read.
mkdir -m 755 "$tmp/nobody" && cp "$LUAHA" "$tmp/nobody/luaha" && cp -r lua "$tmp/nobody/lua" &&
	chmod -R a+rX "$tmp/nobody" || fail "a copy of luaha for uid 65534"
chmod 711 "$tmp" && chmod 666 "$tmp/r1.sock"
setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/nobody/luaha" attach "$tmp/r1.sock" -e 1 \
	> "$tmp/out" 2> "$tmp/err" && fail "uid 65534 was let in"
grep -q "refused" "$tmp/err" || fail "the refusal was not said: $(cat "$tmp/err")"
until_ok grep -q "ctl: refused a connection from uid 65534" "$tmp/r1.log" || fail "the refusal was not logged"
chmod 700 "$tmp" && chmod 600 "$tmp/r1.sock"
echo "PASS ctl-non-root-refused"

# status --json parses and agrees with ipvsadm -Ln.
ctl_r1 status --json > "$tmp/status.json" || fail "status --json failed"
ip netns exec r1 ipvsadm -Ln > "$tmp/ipvsadm"
"$LUAHA" tests/lib/status-check.lua "$tmp/ipvsadm" < "$tmp/status.json" > "$tmp/check" || fail "$(cat "$tmp/check")"
ctl_r1 status > "$tmp/status.txt" || fail "status failed"
grep -q "^role primary, active" "$tmp/status.txt" || fail "status text: $(head -3 "$tmp/status.txt")"
echo "PASS ctl-status-json-matches-ipvsadm"

# disable / enable / weight change the kernel's table and say until when.
ctl_r1 disable rs204 > "$tmp/out" || fail "disable failed"
grep -q "until the next reload" "$tmp/out" || fail "disable did not say how long"
until_ok sh -c "! ip netns exec r1 ipvsadm -Ln | grep -q 192.0.2.204" || fail "disable left rs204 in the table"
ctl_r1 enable 192.0.2.204 > /dev/null || fail "enable failed"
until_ok sh -c "ip netns exec r1 ipvsadm -Ln | grep -q '192.0.2.204:80 *Route *1 '" || fail "enable did not bring rs204 back"
ctl_r1 weight web rs205 3 > /dev/null || fail "weight failed"
until_ok sh -c "ip netns exec r1 ipvsadm -Ln | grep -q '192.0.2.205:80 *Route *3 '" || fail "weight did not reach the table"
attach_r1 -e 'ctl.weight("web", "rs205", 2)' > "$tmp/out" || fail "ctl.weight at the prompt failed"
grep -q "set to 2, until the next reload" "$tmp/out" && [ "$(tail -n 1 "$tmp/out")" = true ] ||
	fail "ctl.weight at the prompt printed: $(cat "$tmp/out")"
until_ok sh -c "ip netns exec r1 ipvsadm -Ln | grep -q '192.0.2.205:80 *Route *2 '" || fail "ctl.weight did not reach the table"
attach_r1 -e 'ctl.status()' | grep -q "^role primary, active" || fail "ctl.status() at the prompt"
ctl_r1 disable nosuch > /dev/null 2>&1 && fail "disable of an unknown server succeeded"
ctl_r1 disable nosuch --json > "$tmp/out" && fail "disable --json of an unknown server succeeded"
grep -q '"ok":false' "$tmp/out" && grep -q 'no server' "$tmp/out" || fail "disable --json: $(cat "$tmp/out")"
echo "PASS ctl-disable-enable-weight"

# reload undoes the runtime changes and prints the difference; check says OK; a broken file is refused.
ctl_r1 reload > "$tmp/out" || fail "reload failed: $(cat "$tmp/out")"
grep -q "ipvsadm -e -t 192.0.2.212:80 -r 192.0.2.205:80 -g -w 1" "$tmp/out" || fail "reload did not print its edit: $(cat "$tmp/out")"
[ "$(ctl_r1 check)" = "$tmp/lvs.cf: OK" ] || fail "check did not say OK"
cp "$tmp/lvs.cf" "$tmp/lvs.cf.good"
sed -i 's/scheduler = wrr/scheduler = wrrr/' "$tmp/lvs.cf"
ctl_r1 check > /dev/null 2> "$tmp/err" && fail "check of a broken file succeeded"
grep -q 'unknown scheduler' "$tmp/err" || fail "check did not name the error: $(cat "$tmp/err")"
ctl_r1 reload > /dev/null 2>&1 && fail "reload of a broken file succeeded"
ip netns exec r1 ipvsadm -Ln | grep -q "wrr persistent 30" || fail "a broken reload changed the table"
cp "$tmp/lvs.cf.good" "$tmp/lvs.cf"
echo "PASS ctl-reload-and-check"

# Status over HTTP: /metrics parses as Prometheus text and says what the kernel has; a wrong password is refused.
# A password is checked with Argon2id, seconds in UML (10 s on a busy host): curl waits for it.
get() { ip netns exec client curl -s -m 60 -o "$tmp/body" -w '%{http_code}' "$@"; }
[ "$(get -u admin:wrong http://192.0.2.210:3636/metrics)" = 401 ] || fail "a wrong password was not refused"
[ "$(get http://192.0.2.210:3636/metrics)" = 401 ] || fail "no password was not refused"
until_ok grep -q "status: 192.0.2.10 was refused" "$tmp/r1.log" || fail "the refusal was not logged"
[ "$(get -u admin:s3cret http://192.0.2.210:3636/metrics)" = 200 ] || fail "/metrics: $(cat "$tmp/body")"
"$LUAHA" tests/lib/prom-check.lua 'luaha_active{role=primary}=1' \
	'luaha_real_server_up{local_address=192.0.2.212,local_mark=,local_port=80,proto=TCP,remote_address=192.0.2.204,remote_port=80,server=rs204,virtual=web}=1' \
	'luaha_real_server_weight{local_address=192.0.2.212,local_mark=,local_port=80,proto=TCP,remote_address=192.0.2.205,remote_port=80,server=rs205,virtual=web}=1' \
	< "$tmp/body" > "$tmp/prom" || fail "/metrics: $(cat "$tmp/prom")"
[ "$(get -u admin:s3cret http://192.0.2.210:3636/status.json)" = 200 ] || fail "/status.json"
ip netns exec r1 ipvsadm -Ln > "$tmp/ipvsadm"
"$LUAHA" tests/lib/status-check.lua "$tmp/ipvsadm" < "$tmp/body" > "$tmp/check" || fail "/status.json: $(cat "$tmp/check")"
[ "$(get -u admin:s3cret http://192.0.2.210:3636/)" = 200 ] && grep -q "192.0.2.204:80" "$tmp/body" ||
	fail "the HTML page"
echo "PASS ctl-http-status-metrics-auth"

# failover hands the active role to r2, cleanly.
ctl_r1 failover > "$tmp/out" || fail "failover failed: $(cat "$tmp/out")"
until_ok seed_has_vip r2 || fail "r2 did not take over"
seed_has_vip r1 && fail "r1 kept the VIP after failover"
[ "$(attach_r1 -e 'router:status().state')" = passive ] || fail "r1 is not passive"
sleep 0.5
seed_has_vip r2 && ! seed_has_vip r1 || fail "the failover did not last"
ctl_r1 failover > /dev/null 2>&1 && fail "a passive router's failover succeeded"
echo "PASS ctl-failover"

for ns in r1 r2; do grep -q "stack traceback" "$tmp/$ns.log" && fail "a Lua traceback in $ns's log"; done
exit 0
