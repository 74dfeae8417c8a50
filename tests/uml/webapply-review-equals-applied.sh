#!/bin/bash
# tests/uml/webapply-review-equals-applied.sh: the web UI's Apply on a running router: the review's IPVS operations are those applied; a failed reload puts the old file and table back.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/piranha.bash"
piranha_test webapply

piranha_bridge rs1 rs2
ip -n rs1 addr add 192.0.2.204/24 dev eth0 && ip -n rs2 addr add 192.0.2.205/24 dev eth0 || fail "addresses"
for ns in rs1 rs2; do		# port 80 is checked with an HTTP request, as nanny did
	ip netns exec "$ns" socat TCP-LISTEN:80,reuseaddr,fork SYSTEM:"read request; printf 'HTTP/1.0 200 OK\\\\r\\\\n\\\\r\\\\n'" &
	piranha_background $!
done

cat > "$tmp/lvs.cf" <<CF
# planted comment: Apply keeps it byte for byte

serial_no = 7
primary = 192.0.2.1
service = lvs
network = direct
virtual a {
     active = 1
     address = 192.0.2.212 br0:1
     port = 80
     scheduler = wrr
     timeout = 5
     reentry = 1
     check_interval = 1
     fall = 3
     weight_ramp = 0
     server rs204 {
         address = 192.0.2.204
         active = 1
         weight = 1
     }
     server rs205 {
         address = 192.0.2.205
         active = 1
         weight = 1
     }
}
CF
chmod 640 "$tmp/lvs.cf"
cp "$tmp/lvs.cf" "$tmp/lvs.cf.orig"
"$LUAHA" --ctl "$tmp/p.sock" policies/piranha.lua -c "$tmp/lvs.cf" --foreground >> "$tmp/policy.log" 2>&1 &
policy=$!
until_ok sh -c "ipvsadm -Ln | grep -c 'Route *1 ' | grep -qx 2" || fail "the real servers never came in"
step() { timeout 120 "$LUAHA" attach "$tmp/p.sock" -e "return dofile('$PWD/tests/uml/lua/webapply-drive.lua')(router, '$1', '$tmp')" 2>&1; }
reload_ops() { tail -n +"$(($1 + 1))" "$tmp/policy.log" | sed -n 's/.* ipvsadm \(.*\) (reload)$/\1/p'; }

# The health must hold still from the review to the Apply (a slow check is not a failure: fall = 3).
# A draft: a's scheduler and rs205's weight change, a new virtual b. The review lists the operations;
# Apply performs exactly those (its report and the daemon's log), and the kernel shows them.
out=$(step edit-ok) || fail "edit: $out"
out=$(step review) || fail "review: $out"
[ -s "$tmp/review.ops" ] || fail "the review lists no IPVS operation"
[ "$(cat "$tmp/review.serial")" = 8 ] || fail "the review's serial_no: $(cat "$tmp/review.serial")"
grep -q -- "-E -t 192.0.2.212:80 -s wlc" "$tmp/review.ops" || fail "the review lacks the scheduler's edit: $(cat "$tmp/review.ops")"
grep -q -- "-A -t 192.0.2.213:80 -s rr" "$tmp/review.ops" || fail "the review lacks the new service: $(cat "$tmp/review.ops")"
mark=$(wc -l < "$tmp/policy.log")
out=$(step apply) || fail "apply: $out"
[ -f "$tmp/apply.err" ] && fail "apply refused: $(cat "$tmp/apply.err")"
diff "$tmp/review.ops" "$tmp/apply.ops" > "$tmp/ops.diff" || fail "the review's operations are not those applied: $(cat "$tmp/ops.diff")"
reload_ops "$mark" > "$tmp/log.ops"
diff "$tmp/review.ops" "$tmp/log.ops" > "$tmp/ops.diff" || fail "the review's operations are not those logged: $(cat "$tmp/ops.diff")"
table_has "TCP  192.0.2.212:80 wlc" || fail "the kernel lacks the new scheduler"
table_has "192.0.2.205:80 *Route *3 " || fail "the kernel lacks the new weight"
until_ok table_has "TCP  192.0.2.213:80 rr" || fail "the kernel lacks the new service"
cmp -s "$tmp/lvs.cf.bak" "$tmp/lvs.cf.orig" || fail "lvs.cf.bak is not the old file"
[ "$(head -2 "$tmp/lvs.cf")" = "$(head -2 "$tmp/lvs.cf.orig")" ] || fail "the planted comment changed: $(head -2 "$tmp/lvs.cf")"
grep -qx "serial_no = 8" "$tmp/lvs.cf" || fail "serial_no did not go up by one"
[ "$(stat -c %a "$tmp/lvs.cf")" = 640 ] || fail "the mode changed: $(stat -c %a "$tmp/lvs.cf")"
"$LUAHA" policies/piranha.lua -c "$tmp/lvs.cf" --check > "$tmp/check" 2>&1 || fail "--check: $(cat "$tmp/check")"
grep -q "apply by uml-test from 192.0.2.1" "$tmp/policy.log" || fail "the apply was not logged with its user and peer"
echo "PASS $name-review-equals-applied"

# A reload the kernel refuses: the new virtual c's scheduler is not in the kernel (its module is
# unloaded, and the kernel cannot load it here), after an edit of a's rs204. The old file goes back,
# and the table is as it was.
until_ok sh -c "ipvsadm -Ln -t 192.0.2.213:80 | grep -q Route" || fail "b's real server never came in"
cp "$tmp/lvs.cf" "$tmp/lvs.cf.before"
ipvsadm -Ln > "$tmp/table.before"
modprobe -r -d /run/m ip_vs_sed || fail "unloading ip_vs_sed"
trap 'modprobe -d /run/m ip_vs_sed; piranha_cleanup' EXIT
rm -f "$tmp/apply.err" "$tmp/apply.ops"
out=$(step edit-bad) || fail "edit: $out"
out=$(step review) || fail "review: $out"
grep -q -- "-A -t 192.0.2.214:80 -s sed" "$tmp/review.ops" || fail "the review lacks c: $(cat "$tmp/review.ops")"
echo "# the review: $(tr '\n' ';' < "$tmp/review.ops")"
out=$(step apply) || fail "apply: $out"
[ -f "$tmp/apply.err" ] || fail "a reload the kernel refused was applied"
grep -q "^500 reload: .*the old file was put back" "$tmp/apply.err" || fail "apply said: $(cat "$tmp/apply.err")"
echo "# apply answered: $(cat "$tmp/apply.err")"
cmp -s "$tmp/lvs.cf" "$tmp/lvs.cf.before" || fail "the old file is not back: $(diff "$tmp/lvs.cf.before" "$tmp/lvs.cf")"
ipvsadm -Ln > "$tmp/table.after"
diff "$tmp/table.before" "$tmp/table.after" > "$tmp/table.diff" || fail "the table changed: $(cat "$tmp/table.diff")"
grep -q "has errors; the running configuration stays" "$tmp/policy.log" || fail "the failed reload was not logged"
echo "PASS $name-failed-reload-restores-file-and-table"

grep -q "stack traceback" "$tmp/policy.log" && fail "a Lua traceback in the log"
exit 0
