#!/bin/bash
# tests/pkg/spdx.sh: every source file of the tree names its licence with an SPDX line near its top (LICENSE: GPL-2.0-or-later).
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
name=spdx-line-in-every-source-file
# The sources: C, Lua, shell, Python, the Makefiles; not the fuzz corpus (inputs, not code of ours). Without git
# (a tree copied without .git) the files are found by name.
if git rev-parse --git-dir > /dev/null 2>&1; then
	files=$(git ls-files -- '*.c' '*.h' '*.lua' '*.sh' '*.bash' '*.py' Makefile .ci/run .ci/debian/rules tests/run)
else
	files=$(find . -path ./build -prune -o -type f \( -name '*.[ch]' -o -name '*.lua' -o -name '*.sh' -o -name '*.bash' \
		-o -name '*.py' -o -name Makefile \) -print | sed 's|^\./||')
fi
missing=() n=0
for f in $files; do
	case $f in tests/fuzz/corpus/*) continue;; esac
	n=$((n + 1))
	head -n 5 "$f" | grep -q 'SPDX-License-Identifier: GPL-2.0-or-later' || missing+=("$f")
done
[ "$n" -gt 100 ] || { echo "FAIL $name: only $n source files found"; exit 1; }
if [ ${#missing[@]} -gt 0 ]; then
	echo "FAIL $name: no SPDX line in the first 5 lines of: ${missing[*]}"
	exit 1
fi
echo "PASS $name ($n files)"
