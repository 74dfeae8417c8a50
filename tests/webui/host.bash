# tests/webui/host.bash: the host's side of the web UI bed: the client namespace, its tap, UML with tests/webui/bed.sh; sourced, not run.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The caller has sourced tests/lib/netns.bash and called netns_test (for $tmp, fail and the cleanup), then:
#   webui_missing          prints what this machine lacks for the bed (empty: nothing)
#   webui_bed_up SECS      namespace wbclient (192.0.2.10 and .11 on the tap wbtap0), UML booted on it with
#                          tests/webui/bed.sh for at most SECS seconds; returns once the bed is ready
#                          ($tmp/uml/agent/ready), fails otherwise. $webui_mode: the bed's mode line.
#   webui_py SECS ARGS...  tests/webui/browser.py ARGS in wbclient for at most SECS seconds (HOME and the
#                          agent's directory set; Chromium's files in $tmp, removed however it ends)
#   webui_bed_down         stops the bed and waits for UML; its exit status (0: the bed ended cleanly)
# The password of user piranha is piranha-pw-1 (tests/webui/browser.py's PASSWORD).

webui_missing()
{
	command -v linux.uml > /dev/null || { echo "linux.uml (user-mode-linux)"; return; }
	[ -c /dev/net/tun ] || { echo "/dev/net/tun (a tap for UML's network)"; return; }
	[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || { echo "chromium and chromium-driver"; return; }
	/usr/bin/python3 -c 'import selenium' 2> /dev/null || { echo "python3-selenium for /usr/bin/python3"; return; }
	[ -x "$LUAHA" ] || echo "$LUAHA (make luaha)"
}

webui_bed_up()
{
	local secs=$1 pwhash i
	mkdir -p "$tmp/uml" "$tmp/home/tmp" || fail "directories in $tmp"
	netns_add wbclient
	ip -n wbclient tuntap add wbtap0 mode tap && ip -n wbclient link set wbtap0 up &&
		ip -n wbclient addr add 192.0.2.10/24 dev wbtap0 &&
		ip -n wbclient addr add 192.0.2.11/24 dev wbtap0 || fail "tap in wbclient"
	# The password's hash is made here: Argon2id in a busy UML takes 10 s and more.
	pwhash=$("$LUAHA" -e "print(require('luaha').auth.pwhash('piranha-pw-1'))") || fail "pwhash"
	# The agent inside gives up 25 s before UML's own bound, so that the bed ends cleanly.
	ip netns exec wbclient env UML_ARGS="eth0=tuntap,wbtap0" UML_MEM=384M UML_TIMEOUT="$secs" \
		UML_OUT="$tmp/uml" UML_PASSENV="WEBUI_LIMIT WEBUI_PWHASH" WEBUI_LIMIT=$((secs - 25)) \
		WEBUI_PWHASH="$pwhash" tests/uml/run tests/webui/bed.sh > "$tmp/uml.log" 2>&1 &
	webui_uml=$!
	netns_background $webui_uml
	for i in $(seq $((secs * 2 / 3))); do
		[ -e "$tmp/uml/agent/ready" ] && break
		kill -0 $webui_uml 2> /dev/null || fail "UML ended before the bed was ready"
		sleep 1
	done
	[ -e "$tmp/uml/agent/ready" ] || fail "the bed was not ready in $((secs * 2 / 3)) s"
	webui_mode=$(cat "$tmp/uml/agent/ready")
}

webui_py()
{
	local secs=$1
	shift
	timeout -k 5 "$secs" ip netns exec wbclient env HOME="$tmp/home" TMPDIR="$tmp/home/tmp" /usr/bin/python3 -B tests/webui/browser.py \
		--agent "$tmp/uml/agent" "$@"
}

webui_bed_down()
{
	local rc
	touch "$tmp/uml/agent/stop"
	netns_wait $webui_uml
	rc=$?
	sed -n '/^\(PASS\|FAIL\|SKIP\) /p; /^bed: /p' "$tmp/uml.log"
	[ -f "$tmp/uml/r1.log" ] && cp "$tmp/uml/r1.log" "$tmp/r1.log"
	return $rc
}
