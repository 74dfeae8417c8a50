#!/bin/bash
# tests/pkg/debian-package.sh: the trial Debian package (.ci/debian) builds from a copy of the tree, is lintian-clean, and its binary runs from the unpacked .deb.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# dpkg-buildpackage -b -us -uc in a copy (the checkout stays clean), lintian on the .deb (no error, no
# warning), then dpkg -x: the packaged luaha's --version and --check of the packaged sample lvs.cf. Without
# debhelper or lintian it is a SKIP, but a FAIL in CI (CI=true), where .ci/packages installs them.
cd "$(dirname "$0")/../.." || exit 2
name=debian-package
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
# lintian leaves a temporary file (mldbm-elf-*) behind: in a directory removed with ours.
export TMPDIR=$tmp/tmp
mkdir "$TMPDIR" || exit 2
fail() { echo "FAIL $name: $*"; [ -f "$tmp/build.log" ] && tail -40 "$tmp/build.log" | sed 's/^/  | /'; exit 1; }
for c in dpkg-buildpackage dh lintian; do
	if ! command -v $c > /dev/null; then
		[ "${CI:-}" = true ] && fail "no $c in CI (.ci/packages has it)"
		echo "SKIP $name: no $c (apt-get install debhelper lintian dpkg-dev)"
		exit 0
	fi
done
version=$(make -s --no-print-directory print-version) || fail "make print-version"
debversion=$(dpkg-parsechangelog -l .ci/debian/changelog -S Version) || fail "dpkg-parsechangelog"
[ "${debversion%-*}" = "$version" ] || fail ".ci/debian/changelog is at $debversion, the Makefile's VERSION at $version"

# The working tree as it is (uncommitted changes too), without what a build made.
src=$tmp/luaha-$version
mkdir "$src" && tar --exclude=./.git --exclude=./build --exclude=./luaha --exclude=./tests/out -cf - . |
	tar -C "$src" -xf - && cp -a .ci/debian "$src/debian" || fail "copy of the tree"
(cd "$src" && dpkg-buildpackage -b -us -uc -j2) > "$tmp/build.log" 2>&1 || fail "dpkg-buildpackage"
deb=$tmp/luaha_${debversion}_$(dpkg-architecture -qDEB_HOST_ARCH).deb
[ -f "$deb" ] || fail "no $deb: $(ls "$tmp")"
echo "PASS deb-builds"

lintian --fail-on error,warning --tag-display-limit 0 "$deb" > "$tmp/lintian.log" 2>&1 ||
	fail "lintian: $(cat "$tmp/lintian.log")"
grep -E '^[EW]: ' "$tmp/lintian.log" && fail "lintian: errors or warnings"
echo "PASS deb-lintian-clean"

# What a packager's flags give: -z now and fortified functions (lintian's hardening tags are only informational).
dpkg -x "$deb" "$tmp/root" || fail "dpkg -x"
r=$tmp/root
readelf -d "$r/usr/sbin/luaha" | grep -q 'FLAGS.*BIND_NOW' || fail "luaha is not linked with -z now: LDFLAGS ignored"
nm -D "$r/usr/sbin/luaha" | grep -v __stack_chk | grep -q '__[a-z]*_chk@' || fail "no fortified function in luaha: CPPFLAGS ignored"
[ -f "$r/lib/systemd/system/luaha-piranha.service" ] || fail "no unit in /lib/systemd/system"
grep -qx 'ExecStart=/usr/sbin/luaha $LUAHA_OPTS piranha -c /etc/sysconfig/ha/lvs.cf --foreground $PIRANHA_OPTS' \
	"$r/lib/systemd/system/luaha-piranha.service" || fail "the unit's ExecStart: $(grep ExecStart "$r/lib/systemd/system/luaha-piranha.service")"
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./postinst 2> /dev/null | grep -q 'luaha-piranha.service' ||
	fail "dh_installsystemd did not pick the unit up"

out=$(cd / && "$r/usr/sbin/luaha" --version) || fail "--version"
[[ $out == "luaha $version "* ]] || fail "--version says: $out"
ex=$r/usr/share/doc/luaha/examples
out=$(cd / && env -u LUAHA_PATH "$r/usr/sbin/luaha" piranha -c "$ex/lvs.cf" --check 2>&1) ||
	fail "--check of the packaged sample: $out"
[ "$out" = "$ex/lvs.cf: OK" ] || fail "--check says: $out"
echo "PASS deb-runs-unpacked"
