#!/usr/bin/env python3
"""Open-loop load: RATE new connections per second for SECONDS, each sending
`GET PATH HTTP/1.0` (no headers, as HAProxy's monitor does) and reading to
EOF. Latency of a request = end of response (EOF) minus its *scheduled* start
time, so a server that falls behind is charged for the queueing it causes
(no coordinated omission, unlike closed-loop tools such as wrk). One
thread, non-blocking sockets, epoll: the generator's own overhead per request
is tens of microseconds.

Prints one line: `rate=… sent=… ok=… errors=… p50_ms=… p99_ms=… max_ms=…`.
Only ever connects to the loopback address it is given.
"""

import errno
import select
import socket
import sys
import time


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rate, seconds = float(sys.argv[4]), float(sys.argv[5])
    assert host.startswith("127."), "loopback only"
    request = f"GET {path} HTTP/1.0\r\n\r\n".encode()
    total = int(rate * seconds)
    ep = select.epoll()
    conns = {}  # fd -> [sock, scheduled, sent?, bytes]
    latencies, errors, ok = [], 0, 0
    start = time.monotonic() + 0.05
    i = 0
    deadline = start + seconds + 10
    while (i < total or conns) and time.monotonic() < deadline:
        now = time.monotonic()
        while i < total and start + i / rate <= now:
            scheduled = start + i / rate
            i += 1
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex((host, port))
            if rc not in (0, errno.EINPROGRESS):
                errors += 1
                s.close()
                continue
            conns[s.fileno()] = [s, scheduled, False, b""]
            ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN)
        next_start = start + i / rate if i < total else now + 0.05
        timeout = max(0.0, min(next_start - time.monotonic(), 0.05))
        for fd, ev in ep.poll(timeout):
            c = conns.get(fd)
            if c is None:
                continue
            s = c[0]
            done = False
            if ev & (select.EPOLLERR | select.EPOLLHUP) and not ev & select.EPOLLIN:
                errors += 1
                done = True
            elif not c[2] and ev & select.EPOLLOUT:
                try:
                    s.send(request)
                    c[2] = True
                    ep.modify(fd, select.EPOLLIN)
                except OSError:
                    errors += 1
                    done = True
            elif ev & select.EPOLLIN:
                try:
                    chunk = s.recv(65536)
                except OSError:
                    chunk = None
                if chunk:
                    c[3] += chunk
                else:
                    t = time.monotonic()
                    if chunk == b"" and (c[3].startswith(b"HTTP/1.1 200") or c[3].startswith(b"HTTP/1.0 200")):
                        ok += 1
                        latencies.append(t - c[1])
                    else:
                        errors += 1
                    done = True
            if done:
                ep.unregister(fd)
                s.close()
                del conns[fd]
    errors += len(conns)
    latencies.sort()

    def pct(p):
        if not latencies:
            return float("nan")
        k = max(1, -(-p * len(latencies) // 100))
        return latencies[k - 1] * 1000

    achieved = ok / seconds
    print(
        f"rate={rate:.0f} achieved={achieved:.0f} sent={i} ok={ok} errors={errors} "
        f"p50_ms={pct(50):.3f} p99_ms={pct(99):.3f} max_ms={(latencies[-1] * 1000 if latencies else float('nan')):.3f}"
    )


if __name__ == "__main__":
    main()
