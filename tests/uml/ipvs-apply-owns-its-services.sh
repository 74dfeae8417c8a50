#!/bin/bash
# tests/uml/ipvs-apply-owns-its-services.sh: ipvs.apply changes only the caller's services; others' stay unless exclusive.
# SPDX-License-Identifier: GPL-2.0-or-later
cd "$(dirname "$0")/../.." || exit 2
trap 'ipvsadm -C' EXIT
${LUAHA:-./luaha} tests/uml/lua/ipvs-own.lua
