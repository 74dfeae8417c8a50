#!/bin/bash
# tests/uml/realserver-in-uml.sh: tests/netns/realserver-dr-tun-nat.sh again under UML's kernel, which has ipip: tun mode on a real tunl0.
# SPDX-License-Identifier: GPL-2.0-or-later
# Its results are named uml-NAME; a SKIP of the real tunl0 here is a failure.
cd "$(dirname "$0")/../.." || exit 2
out=$(bash tests/netns/realserver-dr-tun-nat.sh 2>&1)
rc=$?
printf '%s\n' "$out" | sed -E 's/^(PASS|FAIL|SKIP) /\1 uml-/; s/^SKIP uml-realserver-tun:/FAIL uml-realserver-tun: no ipip in UML:/'
exit $rc
