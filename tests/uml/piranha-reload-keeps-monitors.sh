#!/bin/bash
# tests/uml/piranha-reload-keeps-monitors.sh: a reload keeps the monitors and probe tasks of what did not change, and restarts only the rest.
# SPDX-License-Identifier: GPL-2.0-or-later
. "$(dirname "$0")/../lib/piranha.bash"
piranha_test piranha-reload-keeps-monitors

piranha_bridge rs1 rs2
ip -n rs1 addr add 192.0.2.204/24 dev eth0 && ip -n rs2 addr add 192.0.2.205/24 dev eth0 || fail "addresses"
for ns in rs1 rs2; do		# port 80 is checked with an HTTP request, as nanny did
	ip netns exec "$ns" socat TCP-LISTEN:80,reuseaddr,fork SYSTEM:"read request; printf 'HTTP/1.0 200 OK\\\\r\\\\n\\\\r\\\\n'" &
	piranha_background $!
done

config()	# config WEIGHT: virtual a on both real servers, b on 192.0.2.205 alone, at WEIGHT
{
	cat > "$tmp/lvs.cf" <<CF
serial_no = 1
primary = 192.0.2.1
service = lvs
network = direct
CF
	for v in a b; do
		cat >> "$tmp/lvs.cf" <<CF
virtual $v {
     active = 1
     address = 192.0.2.$([ $v = a ] && echo 212 || echo 213) br0:1
     port = 80
     scheduler = wrr
     timeout = 1
     reentry = 1
     weight_ramp = 0
CF
		[ $v = a ] && cat >> "$tmp/lvs.cf" <<CF
     server rs204 {
         address = 192.0.2.204
         active = 1
         weight = 1
     }
CF
		cat >> "$tmp/lvs.cf" <<CF
     server rs205 {
         address = 192.0.2.205
         active = 1
         weight = $([ $v = b ] && echo "$1" || echo 1)
     }
}
CF
	done
}

# save: the daemon keeps its monitors and probe tasks aside; compare: which of them are still the same objects.
attach() { "$LUAHA" attach "$tmp/p.sock" -e "$1" | tr -d '"'; }
save()
{
	attach 'local s, t = router.probes, {} for k, m in pairs(s.monitors) do t[k] = m end for pk, h in pairs(s.handles) do t[s.probes[pk][1].rs.address] = h end router.saved = t return true' > /dev/null
}
compare()
{
	attach 'local s, t, out = router.probes, router.saved, {} for k, m in pairs(s.monitors) do out[#out + 1] = k .. (t[k] == m and "=same" or "=new") end for pk, h in pairs(s.handles) do local a = s.probes[pk][1].rs.address out[#out + 1] = a .. (t[a] == h and "=same" or "=new") end table.sort(out) return table.concat(out, " ")'
}

config 1
"$LUAHA" --ctl "$tmp/p.sock" policies/piranha.lua -c "$tmp/lvs.cf" --foreground >> "$tmp/policy.log" 2>&1 &
policy=$!
until_ok table_has "192.0.2.213:80" || fail "b never came in"
until_ok sh -c "ipvsadm -Ln | grep -c 'Route *1 ' | grep -qx 3" || fail "the real servers never came in"
save || fail "attach"

# b's rs205 changes: block b is read again, a is not: a's monitors and the probe of 192.0.2.204,
# which only a asks for, go on as they were; b's monitor is new, with the health of before.
config 2
mark=$(wc -l < "$tmp/policy.log")
kill -HUP "$policy"
until_ok table_has "192.0.2.205:80 *Route *2 " || fail "the reload did not apply the new weight"
got=$(compare)
want="192.0.2.204=same 192.0.2.205=new a/rs204=same a/rs205=same b/rs205=new"
[ "$got" = "$want" ] || fail "after the reload: $got, not $want"
state=$(attach 'router.probes.monitors["b/rs205"].state')
[ "$state" = in ] || fail "the changed server's monitor did not keep its health: $state"
ops=$(tail -n +"$((mark + 1))" "$tmp/policy.log" | grep -c "ipvsadm .*(reload)")
[ "$ops" = 1 ] || fail "the reload sent $ops operations"
tail -n +"$((mark + 1))" "$tmp/policy.log" | grep -q "starting LVS client monitor" && fail "a monitor was logged as new"
echo "PASS $name-unchanged-monitors-and-probes-go-on"

# A reload of the same file keeps every monitor and task; a changed global (rsh_command) none.
# reload_keeps WANT WHAT: a reload that sends no operation; then the monitors and tasks kept and new must be WANT.
reload_keeps()
{
	local mark got
	save
	mark=$(wc -l < "$tmp/policy.log")
	kill -HUP "$policy"
	until_ok sh -c "tail -n +$((mark + 1)) $tmp/policy.log | grep -q 'reload: 0 operations'" || fail "the reload $2 did not end"
	got=$(compare)
	[ "$got" = "$1" ] || fail "after a reload $2: $got"
}
reload_keeps "192.0.2.204=same 192.0.2.205=same a/rs204=same a/rs205=same b/rs205=same" "of the same file"
sed -i 's/^network = direct$/network = direct\nrsh_command = ssh/' "$tmp/lvs.cf"
reload_keeps "192.0.2.204=new 192.0.2.205=new a/rs204=new a/rs205=new b/rs205=new" "with another rsh_command"
table_has "192.0.2.205:80 *Route *2 " || fail "the table changed"
echo "PASS $name-same-file-keeps-everything"
