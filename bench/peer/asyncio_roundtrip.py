# bench/peer/asyncio_roundtrip.py: the peer for bench/tcp-roundtrip.lua: the same job with Python's asyncio.
# SPDX-License-Identifier: GPL-2.0-or-later
# Usage: python3 bench/peer/asyncio_roundtrip.py [N] [ROUNDS]; the echo server runs in a child process.
import asyncio
import multiprocessing
import resource
import sys
import time


def serve(port_queue):
    async def handle(reader, writer):
        line = await reader.readline()
        writer.write(line)
        await writer.drain()
        writer.close()
        if line == b"quit\n":
            server.close()

    async def main():
        global server
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=65535)
        port_queue.put(server.sockets[0].getsockname()[1])
        try:
            await server.serve_forever()
        except asyncio.CancelledError:
            pass

    asyncio.run(main())


async def one(port, i):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
    msg = b"ping %d\n" % i
    writer.write(msg)
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 30)
    writer.close()
    return line == msg


async def one_round(port, n):
    t0 = time.monotonic()
    results = await asyncio.gather(*(one(port, i) for i in range(n)), return_exceptions=True)
    ok = sum(1 for r in results if r is True)
    return ok, n - ok, time.monotonic() - t0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    q = multiprocessing.Queue()
    srv = multiprocessing.Process(target=serve, args=(q,))
    srv.start()
    port = q.get(timeout=10)
    best = 0
    for r in range(1, rounds + 1):
        ok, failed, secs = asyncio.run(one_round(port, n))
        rate = ok / secs
        best = max(best, rate)
        print("asyncio round %d: %d round trips (%d failed) in %.3f s: %.0f/s" % (r, ok, failed, secs, rate))
    async def quit():
        _, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"quit\n")
        await w.drain()
        w.close()
    asyncio.run(quit())
    srv.join(10)
    # VmHWM, as luaha reports: ru_maxrss would carry the parent's peak across posix_spawn.
    with open("/proc/self/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
    print("asyncio best %d round trips/s; peak RSS of the %d-task process %.1f MiB" % (best, n, rss))


if __name__ == "__main__":
    main()
