#!/bin/bash
# tests/uml/piranha-lvs-nanny.sh: policies/piranha.lua programs IPVS from lvs.cf, follows real-server health, repairs, reloads, restarts without flushing.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/piranha.bash"
piranha_test piranha-lvs-nanny
serve()		# serve NS: an HTTP answer on port 80 in namespace NS, after reading the request line
{
	ip netns exec "$1" socat TCP-LISTEN:80,reuseaddr,fork SYSTEM:"read request; printf 'HTTP/1.0 200 OK\\\\r\\\\n\\\\r\\\\n$1'" &
	piranha_background $!
	eval "serve_$1=$!"
}

piranha_bridge rs1 rs2
ip -n rs1 addr add 192.0.2.204/24 dev eth0 && ip -n rs2 addr add 192.0.2.205/24 dev eth0 || fail "addresses"
serve rs1; serve rs2

config()	# config QUIESCE WEIGHT2: the seed, checked every 0.5 s (a slow answer may take 3 s), repaired every second
{
	cat > "$tmp/lvs.cf" <<CF
serial_no = 1
primary = 192.0.2.1
service = lvs
network = direct
reconcile = 1
virtual web {
     active = 1
     address = 192.0.2.212 br0:1
     port = 80
     persistent = 30
     send = "GET / HTTP/1.0\r\n\r\n"
     expect = "HTTP"
     scheduler = wrr
     protocol = tcp
     timeout = 3
     check_interval = 0.5
     reentry = 1
     quiesce_server = $1
     weight_ramp = 0
     server rs204 {
         address = 192.0.2.204
         active = 1
         weight = 1
     }
     server rs205 {
         address = 192.0.2.205
         active = 1
         weight = $2
     }
}
CF
}
config 0 1
"$LUAHA" policies/piranha.lua -c "$tmp/lvs.cf" --check | grep -qx "$tmp/lvs.cf: OK" || fail "--check"

# Another program's service, which the policy must leave alone throughout.
ipvsadm -A -u 192.0.2.53:53 -s rr && ipvsadm -a -u 192.0.2.53:53 -r 192.0.2.205:53 -g || fail "a foreign service"
foreign_stays() { table_has "UDP  192.0.2.53:53 rr" && table_has "192.0.2.205:53 *Route"; }
start_policy
until_ok table_has "192.0.2.205:80 *Route *1 " || fail "real servers never came in"
until_ok table_has "192.0.2.204:80 *Route *1 " || fail "rs204 never came in"
table_has "TCP  192.0.2.212:80 wrr persistent 30" || fail "service line"
foreign_stays || fail "the policy removed another program's service"
echo "PASS $name-programs-the-seed"

kill "$serve_rs1"; wait "$serve_rs1" 2> /dev/null
until_ok table_lacks "192.0.2.204:80" || fail "a dead real server stayed in"
table_has "192.0.2.205:80" || fail "the healthy one went out"
grep -q "\[inactive\] shutting down 192.0.2.204:80 due to connection failure" "$tmp/policy.log" || fail "nanny's log line"
serve rs1
until_ok table_has "192.0.2.204:80 *Route *1 " || fail "a recovered real server stayed out"
echo "PASS $name-follows-health"

ipvsadm -D -t 192.0.2.212:80
until_ok table_has "192.0.2.204:80 *Route" || fail "a service deleted by hand was not repaired"
grep -q "reconcile: repaired" "$tmp/policy.log" || fail "no reconcile log line"
foreign_stays || fail "reconcile removed another program's service"
echo "PASS $name-repairs-drift"

before=$(ipvsadm -Ln)
cp "$tmp/lvs.cf" "$tmp/good.cf"
sed -i 's/scheduler = wrr/scheduler = wrrr/' "$tmp/lvs.cf"
kill -HUP "$policy"
until_ok grep -q "lvs.cf:13: virtual \"web\": scheduler: unknown scheduler \"wrrr\"" "$tmp/policy.log" ||
	fail "a broken config was not reported with file and line"
sleep 1.5
[ "$(ipvsadm -Ln)" = "$before" ] || fail "a broken config changed the table"
config 1 5
kill -HUP "$policy"
until_ok table_has "192.0.2.205:80 *Route *5 " || fail "reload did not apply the new weight"
kill "$serve_rs2"; wait "$serve_rs2" 2> /dev/null
until_ok table_has "192.0.2.205:80 *Route *0 " || fail "quiesce_server did not set weight 0"
echo "PASS $name-reloads-and-quiesces"

# Every real server down, without quiesce: the sorry server takes the traffic until one returns.
config 0 5
sed -i 's/^     port = 80$/     port = 80\n     sorry_server = 192.0.2.99/' "$tmp/lvs.cf"
kill -HUP "$policy"
until_ok table_lacks "192.0.2.205:80" || fail "a down server stayed in without quiesce"
kill "$serve_rs1"; wait "$serve_rs1" 2> /dev/null
until_ok table_has "192.0.2.99:80 *Route *1 " || fail "no sorry server with every real server down"
table_lacks "192.0.2.204:80" || fail "a dead server stayed in next to the sorry server"
serve rs1; serve rs2
until_ok table_has "192.0.2.204:80 *Route *1 " || fail "rs204 did not return"
until_ok table_lacks "192.0.2.99:80" || fail "the sorry server stayed after a real server returned"
echo "PASS $name-sorry-server"

# half_open = 1: a SYN instead of the HTTP request, the same health followed.
config 0 1
sed -i -e '/^     send = /d' -e '/^     expect = /d' -e 's/^     weight_ramp = 0$/     weight_ramp = 0\n     half_open = 1/' "$tmp/lvs.cf"
grep -q "half_open = 1" "$tmp/lvs.cf" || fail "half_open config"
kill -HUP "$policy"
until_ok table_has "192.0.2.205:80 *Route *1 " || fail "the half_open reload (weight 5 to 1) was not applied"
until_ok table_has "192.0.2.204:80 *Route *1 " || fail "half-open checks did not bring rs204 in"
# No connection is made: rs205's kernel completes no handshake while it is checked every second.
opens() { ip netns exec rs2 awk '/^Tcp: / && !h { for (i = 1; i <= NF; i++) if ($i == "PassiveOpens") c = i; h = 1; next }
	/^Tcp: / { print $c }' /proc/net/snmp; }
sleep 1
o0=$(opens); sleep 3; o1=$(opens)
[ "$o1" = "$o0" ] || fail "half-open checks opened $((o1 - o0)) connections to rs205 in 3 s"
grep -q "making 192.0.2.205:80 available" "$tmp/policy.log" || fail "no nanny line for rs205"
kill "$serve_rs1"; wait "$serve_rs1" 2> /dev/null
until_ok table_lacks "192.0.2.204:80" || fail "half-open checks kept a dead real server in"
grep -q "shutting down 192.0.2.204:80 due to connection failure (virtual web: connect: Connection refused)" \
	"$tmp/policy.log" || fail "the half-open check's log line"
table_has "192.0.2.205:80 *Route *1 " || fail "half-open checks took the healthy one out"
serve rs1
until_ok table_has "192.0.2.204:80 *Route *1 " || fail "half-open checks did not bring rs204 back"
echo "PASS $name-half-open-checks"

before=$(ipvsadm -Ln | grep -c -- "->")
kill -9 "$policy"; wait "$policy" 2> /dev/null
start_policy
sleep 0.3
[ "$(ipvsadm -Ln | grep -c -- "->")" = "$before" ] || fail "a restart changed the table before checking"
until_ok grep -q "in the kernel's table at weight 1, kept until checked" "$tmp/policy.log" || fail "restart did not adopt"
kill -TERM "$policy"; wait "$policy"; rc=$?
policy=
[ "$rc" = 0 ] || fail "SIGTERM exit status $rc"
table_has "192.0.2.204:80" || fail "SIGTERM flushed the table"
foreign_stays || fail "a restart removed another program's service"
echo "PASS $name-restarts-without-flushing"
grep -q "stack traceback" "$tmp/policy.log" && fail "a Lua traceback in the log"
exit 0
