#!/usr/bin/python3
# bench/arrivals.py: the kernel's arrival time of each heartbeat (luaha's UDP, keepalived's VRRP) from one sender, a line each.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Usage: python3 bench/arrivals.py udp|vrrp SOURCE [PORT] >> FILE, in the receiving router's namespace.
# A raw socket of the protocol gets a copy of every packet of that protocol delivered to the
# namespace, whoever else reads it; those from SOURCE are taken (the socket is not connected to it:
# that would bind it to the local address too, and VRRP goes to a multicast group). Each packet's
# time is the kernel's stamp at its arrival on the interface (SO_TIMESTAMPNS), so a busy CPU
# delaying this reader does not move it. For udp, only datagrams from port PORT to port PORT (539). Written: "SECONDS.NANOSECONDS" (CLOCK_REALTIME, as
# bash's $EPOCHREALTIME), one line per packet, flushed at once. Runs until killed.
import socket
import struct
import sys

SO_TIMESTAMPNS = 35         # linux/asm-generic/socket.h; Python's socket module lacks it
IPPROTO_VRRP = 112

kind, source = sys.argv[1], sys.argv[2]
port = int(sys.argv[3]) if len(sys.argv) > 3 else 539
proto = {"udp": socket.IPPROTO_UDP, "vrrp": IPPROTO_VRRP}[kind]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
src = socket.inet_aton(source)
out = sys.stdout
while True:
    data, anc, _, _ = s.recvmsg(2048, 64)
    if data[12:16] != src:
        continue
    if kind == "udp":
        ihl = (data[0] & 15) * 4
        sport, dport = struct.unpack_from("!HH", data, ihl)
        if sport != port or dport != port:
            continue
    stamp = None
    for level, typ, value in anc:
        if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", value[:16])
            stamp = "%d.%09d" % (sec, nsec)
    if stamp is None:
        sys.exit("arrivals.py: no kernel timestamp on a packet")
    out.write(stamp + "\n")
    out.flush()
