#!/bin/bash
# tests/netns/webui-browser.sh: the web UI in headless Chromium on the host, against luaha and IPVS in User-Mode Linux (spec webui.md 3.11).
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Where the browser runs, decided by measurement (2026-12-07, this 2-core machine, Chromium 156, UML 6.1,
# mem=1536M, a page served from another namespace):
#   in UML:  `chromium --version` 8.1 s; one `--headless=new --dump-dom` of a small page 148 s, ~145 MiB
#            used; a Selenium session did not start within chromedriver's wait (twice);
#   on the host, in a namespace: session start 2.1-2.8 s, first page 0.7-0.9 s, 5 more pages 0.5-0.7 s
#            (RSS summed over Chromium's processes ~960 MiB, shared pages counted in each).
# So Chromium runs on the host and luaha where IPVS is: UML (the host kernel has none). UML's eth0 is a
# tap in the host namespace wbclient (UML_ARGS eth0=tuntap), bridged inside to the router and the real
# servers (tests/webui/bed.sh): the browser and curl reach the router at 192.0.2.210:3636 and the VIP
# as a client on the same segment would, and one run proves the pages and the kernel together. (Boot on a
# busy host: 5-35 s to init.) The steps are tests/webui/browser.py's; screenshots of each page are kept in
# tests/out/netns/webui-browser/ (WEBUI_SHOTS).
cd "$(dirname "$0")/../.." || exit 2
. tests/lib/netns.bash
netns_test webui-browser
shots=${WEBUI_SHOTS:-$PWD/tests/out/netns/webui-browser}
budget=${WEBUI_BUDGET:-280}		# seconds for the whole file: tests/run gives 300

missing=
command -v linux.uml > /dev/null || missing="linux.uml (user-mode-linux)"
[ -c /dev/net/tun ] || missing="/dev/net/tun (a tap for UML's network)"
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || missing="chromium and chromium-driver"
/usr/bin/python3 -c 'import selenium' 2> /dev/null || missing="python3-selenium for /usr/bin/python3"
[ -x "$LUAHA" ] || missing="$LUAHA (make luaha)"
if [ -n "$missing" ]; then
	echo "SKIP $name: no $missing"
	exit 0
fi

rm -rf "$shots" && mkdir -p "$shots" || fail "cannot make $shots"
mkdir -p "$tmp/uml" "$tmp/home"
netns_add wbclient
ip -n wbclient tuntap add wbtap0 mode tap && ip -n wbclient link set wbtap0 up &&
	ip -n wbclient addr add 192.0.2.10/24 dev wbtap0 &&
	ip -n wbclient addr add 192.0.2.11/24 dev wbtap0 || fail "tap in wbclient"
# UML gets what is left of the budget after the browser's share; the agent inside stops before UML's bound.
ip netns exec wbclient env UML_ARGS="eth0=tuntap,wbtap0" UML_MEM=384M UML_TIMEOUT=$((budget - 5)) \
	UML_OUT="$tmp/uml" UML_PASSENV="WEBUI_LIMIT WEBUI_PASSWORD" WEBUI_LIMIT=$((budget - 30)) \
	tests/uml/run tests/webui/bed.sh > "$tmp/uml.log" 2>&1 &
uml=$!
netns_background $uml
for i in $(seq $((budget * 2 / 3))); do
	[ -e "$tmp/uml/agent/ready" ] && break
	kill -0 $uml 2> /dev/null || fail "UML ended before the bed was ready"
	sleep 1
done
[ -e "$tmp/uml/agent/ready" ] || fail "the bed was not ready in $((budget * 2 / 3)) s"
echo "bed ready after $SECONDS s: $(cat "$tmp/uml/agent/ready")"

ip netns exec wbclient env HOME="$tmp/home" timeout -k 5 $((budget - SECONDS - 10)) /usr/bin/python3 -B \
	tests/webui/browser.py --agent "$tmp/uml/agent" --shots "$shots" --luaha "$LUAHA" 2>&1 | tee "$tmp/browser.log"
rc=${PIPESTATUS[0]}
touch "$tmp/uml/agent/stop"
netns_wait $uml
urc=$?
sed -n '/^\(PASS\|FAIL\|SKIP\) /p; /^bed: /p' "$tmp/uml.log"
grep -q "stack traceback" "$tmp/uml/r1.log" 2> /dev/null && fail "a Lua traceback in luaha's log"
[ "$urc" = 0 ] || fail "UML's bed exit $urc: $(tail -5 "$tmp/uml.log")"
[ "$rc" = 0 ] || { cp "$tmp/uml/r1.log" "$tmp/r1.log" 2> /dev/null; fail "browser.py exit $rc"; }
echo "screenshots: $(ls "$shots" | wc -l) in $shots"
exit 0
