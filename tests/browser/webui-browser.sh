#!/bin/bash
# tests/browser/webui-browser.sh: the web UI in headless Chromium on the host, against luaha and IPVS in User-Mode Linux (spec webui.md 3.11).
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Where the browser runs, decided by measurement (2026-12-07, this 2-core machine, Chromium 156, UML 6.1,
# mem=1536M, a page served from another namespace):
#   in UML:  `chromium --version` 8.1 s; one `--headless=new --dump-dom` of a small page 148 s, ~145 MiB
#            used; a Selenium session did not start within chromedriver's wait;
#   on the host, in a namespace: session start 2.1-2.8 s, first page 0.7-0.9 s, 5 more pages 0.5-0.7 s
#            (RSS summed over Chromium's processes ~960 MiB, shared pages counted in each).
# So Chromium runs on the host and luaha where IPVS is: UML (the host kernel has none). UML's eth0 is a
# tap in the host namespace wbclient (tests/webui/host.bash), bridged inside to the router and the real
# servers (tests/webui/bed.sh): the browser and curl reach the router at 192.0.2.210:3636 and the VIP as a
# client on the same segment would, and one run proves the pages and the kernel together. UML reaches init
# in 5-35 s depending on the host's load. The steps are tests/webui/browser.py's; screenshots of each page
# are kept in tests/out/browser/webui-browser/ (WEBUI_SHOTS).
# Time: a login's Argon2id (64 MiB) costs 5-35 s in UML (every page fault is a trap to the UML kernel),
# and the steps need seven: 4-8 minutes in all, hence a suite of its own (tests/run browser, BROWSER_TIMEOUT).
cd "$(dirname "$0")/../.." || exit 2
[ "$(id -u)" = 0 ] || { echo "SKIP webui-browser: needs root (namespaces, a tap)"; exit 0; }
. tests/lib/netns.bash
. tests/webui/host.bash
netns_test webui-browser
shots=${WEBUI_SHOTS:-$PWD/tests/out/browser/webui-browser}
budget=${WEBUI_BUDGET:-$((${BROWSER_TIMEOUT:-900} - 30))}	# seconds for the whole file, within tests/run's bound

missing=$(webui_missing)
if [ -n "$missing" ]; then
	[ "${CI:-}" = true ] && fail "no $missing (CI=true: .ci/packages installs it)"
	echo "SKIP $name: no $missing"
	exit 0
fi
rm -rf "$shots" && mkdir -p "$shots" || fail "cannot make $shots"
webui_bed_up $((budget - 5))
echo "bed ready after $SECONDS s: $webui_mode"
webui_py $((budget - SECONDS - 15)) --shots "$shots" 2>&1 | tee "$tmp/browser.log"
rc=${PIPESTATUS[0]}
webui_bed_down
urc=$?
grep -q "stack traceback" "$tmp/r1.log" 2> /dev/null && fail "a Lua traceback in luaha's log"
[ "$urc" = 0 ] || fail "UML's bed exit $urc: $(tail -5 "$tmp/uml.log")"
[ "$rc" = 0 ] || fail "browser.py exit $rc"
echo "screenshots: $(find "$shots" -name '*.png' | wc -l) in $shots"
exit 0
