#!/usr/bin/python3
# bench/flood.py: a flood of packets at a router's heartbeat port from a third address, at a rate, as fast as UML allows.
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Usage: python3 bench/flood.py udp|vrrp DEST RATE SECS [PORT], in the attacker's namespace.
# udp: 64-byte datagrams to DEST:PORT (539), from port PORT, as a forger of luaha heartbeats would
# send them. vrrp: VRRPv3 adverts (IP protocol 112, TTL 255, a valid checksum) for virtual router 52
# at priority 100, well formed but for another router, to DEST: what keepalived's VRRP socket must
# read and drop. The packets go in batches through one sendmmsg(2) call each (a system call per
# packet would cap the rate far below it in UML), paced to RATE a second. Prints on exit:
# "sent N packets in S s: R packets/s (errors E)".
import ctypes
import errno
import os
import socket
import struct
import sys
import time

kind, dest, rate, secs = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
port = int(sys.argv[5]) if len(sys.argv) > 5 else 539
BATCH = 256


class IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.POINTER(IOVec)),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class MMsgHdr(ctypes.Structure):
    _fields_ = [("hdr", MsgHdr), ("len", ctypes.c_uint)]


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


if kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    payload = os.urandom(64)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
    s.connect((dest, 0))        # only to learn the source address the checksum covers
    src = s.getsockname()[0]
    s.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
    vrrp = struct.pack("!BBBBHH4s", 0x31, 52, 100, 1, 10, 0, socket.inet_aton("198.51.100.252"))
    pseudo = socket.inet_aton(src) + socket.inet_aton(dest) + struct.pack("!BBH", 0, 112, len(vrrp))
    payload = vrrp[:6] + struct.pack("!H", checksum(pseudo + vrrp)) + vrrp[8:]
# An unconnected socket with the address in each message: an ICMP error for one packet is not
# reported on the next sendmmsg.
addr = ctypes.create_string_buffer(struct.pack("=HH4s8x", socket.AF_INET, socket.htons(port if kind == "udp" else 0),
                                               socket.inet_aton(dest)), 16)
buf = ctypes.create_string_buffer(payload, len(payload))
iov = IOVec(ctypes.cast(buf, ctypes.c_void_p), len(payload))
msgs = (MMsgHdr * BATCH)()
for m in msgs:
    m.hdr.name, m.hdr.namelen = ctypes.cast(addr, ctypes.c_void_p), 16
    m.hdr.iov, m.hdr.iovlen = ctypes.pointer(iov), 1
libc = ctypes.CDLL(None, use_errno=True)
libc.sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
fd = s.fileno()
sent = errors = 0
t0 = time.monotonic()
end = t0 + secs
now = t0
while now < end:
    n = libc.sendmmsg(fd, msgs, BATCH, 0)
    if n < 0:
        e = ctypes.get_errno()
        if e not in (errno.ENOBUFS, errno.EAGAIN, errno.ECONNREFUSED, errno.EINTR):
            sys.exit("flood.py: sendmmsg: " + os.strerror(e))
        errors += 1
    else:
        sent += n
    now = time.monotonic()
    ahead = sent / rate - (now - t0)
    if ahead > 0.001:
        time.sleep(ahead)
        now = time.monotonic()
took = now - t0
print("sent %d packets in %.1f s: %.0f packets/s (errors %d)" % (sent, took, sent / took if took > 0 else 0, errors))
