#!/bin/bash
# bench/hostload.sh: runs CMD (tests/uml/run ...) with the host's load average kept in $UML_OUT/hostload, for a benchmark inside UML to print.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Usage: bench/hostload.sh CMD [ARGS...]; exits with CMD's status.
# UML's CPU is one host thread, so its timings follow what else the host runs; inside UML,
# /proc/loadavg is UML's own, and the host's /proc cannot be read through hostfs. So every 5 s
# (for at most 2 hours) the host's /proc/loadavg is copied to hostload in UML_OUT (a temporary
# directory if the caller set none), which UML sees as /run/out/hostload (bench/pair.bash host_load).
[ $# -ge 1 ] || { echo "usage: bench/hostload.sh CMD [ARGS...]" >&2; exit 2; }
made=
if [ -z "${UML_OUT:-}" ]; then
	UML_OUT=$(mktemp -d) || exit 2
	made=$UML_OUT
fi
export UML_OUT
mkdir -p "$UML_OUT" || exit 2
(
	trap 'kill $! 2> /dev/null; exit 0' TERM	# its sleep goes with it
	for ((i = 0; i < 1440; i++)); do
		cp /proc/loadavg "$UML_OUT/hostload.tmp" && mv "$UML_OUT/hostload.tmp" "$UML_OUT/hostload"
		sleep 5 &
		wait $!
	done
) &
sampler=$!
"$@"
rc=$?
kill "$sampler" 2> /dev/null
wait "$sampler" 2> /dev/null
rm -f "$UML_OUT/hostload" "$UML_OUT/hostload.tmp"
[ -n "$made" ] && rm -rf "$made"
exit $rc
