#!/bin/bash
# tests/uml/ipvs-apply-is-whole.sh: luaha.ipvs against the real kernel: apply, format vs ipvsadm -Ln, rollback, daemons.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
ip link add name dummy0 type dummy && ip link set dummy0 up || { echo "FAIL ipvs-apply: dummy0"; exit 1; }
trap 'ip link del dummy0 2> /dev/null; ipvsadm -C' EXIT
${LUAHA:-./luaha} tests/uml/lua/ipvs-apply.lua
