#!/bin/bash
# bench/ipvs-apply.sh: inside UML (tests/uml/run bench/ipvs-apply.sh): a dummy interface, then bench/ipvs-apply.lua.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/.." || exit 2
ip link add name dummy0 type dummy && ip link set dummy0 up || exit 1
${LUAHA:-./luaha} bench/ipvs-apply.lua
