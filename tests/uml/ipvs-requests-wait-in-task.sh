#!/bin/bash
# tests/uml/ipvs-requests-wait-in-task.sh: IPVS requests wait in their task, one at a time, while other tasks run; cancelled and blocking callers leave the socket usable.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
trap 'ipvsadm -C' EXIT
${LUAHA:-./luaha} tests/uml/lua/ipvs-async.lua
