#!/bin/bash
# tests/uml/ipvs-apply-partial.sh: ipvs.apply's partial option against the real kernel: some services replaced, the last table patched, whole or nothing.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
trap 'ipvsadm -C' EXIT
${LUAHA:-./luaha} tests/uml/lua/ipvs-partial.lua
