#!/bin/bash
# tests/uml/ipvs-requests-wait-in-task.sh: IPVS requests wait in their task, one at a time, while other tasks run; cancelled and blocking callers leave the socket usable.
cd "$(dirname "$0")/../.." || exit 2
trap 'ipvsadm -C' EXIT
${LUAHA:-./luaha} tests/uml/lua/ipvs-async.lua
