#!/bin/bash
# tests/pkg/install-prefix.sh: `make install` honours PREFIX and DESTDIR without a rebuild, the packager's flags reach the compiler, and the installed unit and drop-in pass systemd-analyze verify.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=install-prefix
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL $name: $*"; exit 1; }
[ -x luaha ] || fail "no ./luaha: run make first"
version=$(make -s --no-print-directory print-version) || fail "make print-version"

# The packager's flags come first, luaha's required ones after them (make -n: the commands, nothing built).
cmds=$(make -n -B CFLAGS=-O0 CPPFLAGS=-DPKG_TEST LDFLAGS=-Wl,-z,now luaha) || fail "make -n"
compile=$(grep -m1 -- ' -c -o build/' <<< "$cmds")
link=$(grep -- '-o luaha ' <<< "$cmds")
for f in -O0 -DPKG_TEST -std=gnu11 -Werror "-DLUAHA_VERSION='\"$version\"'"; do
	grep -q -- " $f" <<< "$compile" || fail "make CFLAGS=-O0 CPPFLAGS=-DPKG_TEST: no $f in: $compile"
done
grep -q -- '-O2' <<< "$compile" && fail "CFLAGS=-O0 did not replace the default -O2: $compile"
grep -q -- ' -Wl,-z,now' <<< "$link" || fail "LDFLAGS not in the link: $link"
echo "PASS packager-flags-honoured"

# make && make install PREFIX=/usr, staged with DESTDIR: the binary carries its Lua library and policies
# (runtime/embed.c), so no Lua file is installed; run from / so that no source tree is near.
make -s -o luaha install PREFIX=/usr DESTDIR="$tmp/root" UNITDIR=/lib/systemd/system > "$tmp/install.log" 2>&1 ||
	fail "make install: $(cat "$tmp/install.log")"
r=$tmp/root
for f in usr/sbin/luaha usr/share/man/man8/luaha.8 usr/share/man/man8/luaha-piranha.8 usr/share/man/man5/lvs.cf.5 usr/share/doc/luaha/NEWS \
	usr/share/doc/luaha/examples/lvs.cf usr/share/doc/luaha/examples/lvs.cf.d/fos.cf \
	usr/share/doc/luaha/examples/luaha-piranha.service.d/hardening.conf lib/systemd/system/luaha-piranha.service; do
	[ -f "$r/$f" ] || fail "not installed: /$f"
done
out=$(cd / && "$r/usr/sbin/luaha" --version) || fail "--version"
[[ $out == "luaha $version "* ]] || fail "--version says: $out"
[ -z "$(find "$r" -name '*.lua' ! -path '*/doc/*')" ] || fail "Lua files installed: $(find "$r" -name '*.lua' ! -path '*/doc/*')"
out=$(cd / && env -u LUAHA_PATH "$r/usr/sbin/luaha" piranha -c "$r/usr/share/doc/luaha/examples/lvs.cf" --check 2>&1) ||
	fail "--check of the installed sample: $out"
[ "$out" = "$r/usr/share/doc/luaha/examples/lvs.cf: OK" ] || fail "--check says: $out"
grep -qx 'ExecStart=/usr/sbin/luaha $LUAHA_OPTS piranha -c /etc/sysconfig/ha/lvs.cf --foreground $PIRANHA_OPTS' \
	"$r/lib/systemd/system/luaha-piranha.service" || fail "the unit's ExecStart is not under PREFIX=/usr: $(grep ExecStart "$r/lib/systemd/system/luaha-piranha.service")"
make -s -o luaha uninstall PREFIX=/usr DESTDIR="$tmp/root" UNITDIR=/lib/systemd/system > "$tmp/install.log" 2>&1 || fail "make uninstall"
left=$(find "$r" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "PASS install-prefix-destdir"

# Without UNITDIR, the unit goes where systemd's pkg-config file says.
want=$(pkg-config --variable=systemdsystemunitdir systemd 2> /dev/null) || want=/lib/systemd/system
make -s -o luaha install PREFIX=/usr DESTDIR="$tmp/sd" > "$tmp/install.log" 2>&1 || fail "make install: $(cat "$tmp/install.log")"
[ -f "$tmp/sd$want/luaha-piranha.service" ] || fail "the unit is not in $want: $(cd "$tmp/sd" && find . -name '*.service')"
echo "PASS unit-where-systemd-says"

# The unit as installed (PREFIX in the temporary directory, so that its ExecStart exists) with the hardening drop-in
# beside it: systemd-analyze verify reads both and says nothing.
if ! command -v systemd-analyze > /dev/null; then
	echo "SKIP unit-verifies: no systemd-analyze"
	exit 0
fi
make -s -o luaha install PREFIX="$tmp/p" UNITDIR="$tmp/unit" > "$tmp/install.log" 2>&1 || fail "make install: $(cat "$tmp/install.log")"
mkdir "$tmp/unit/luaha-piranha.service.d" && cp contrib/luaha-piranha.service.d/hardening.conf "$tmp/unit/luaha-piranha.service.d/" ||
	fail "the drop-in"
out=$(systemd-analyze verify --man=no "$tmp/unit/luaha-piranha.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
# The same with a wrong value in a drop-in is not silent: the drop-ins are read.
printf '[Service]\nProtectSystem=bogus\n' > "$tmp/unit/luaha-piranha.service.d/zz-wrong.conf"
out=$(systemd-analyze verify --man=no "$tmp/unit/luaha-piranha.service" 2>&1)
grep -q 'zz-wrong.conf.*bogus' <<< "$out" || fail "a wrong drop-in went unseen: $out"
echo "PASS unit-verifies"
