#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Twisted's LineReceiver on the stream bench_lines.cc uses: 64 KiB of
CRLF-terminated lines of LEN bytes fed in one dataReceived call, a
lineReceived that only counts. Prints the best of 7 runs in CPU ns per
line.

  taskset -c 1 /usr/bin/python3 bench/lines_twisted.py [LEN...]
"""
import sys
import time
import timeit

from twisted.protocols.basic import LineReceiver


class Counter(LineReceiver):
    count = 0

    def lineReceived(self, line):
        self.count += 1


def stream(n):
    line = bytes(ord("a") + i % 26 for i in range(n)) + b"\r\n"
    return line * (65536 // len(line))


for n in [int(a) for a in sys.argv[1:]] or [16, 64, 256, 1024]:
    data = stream(n)
    lines = len(data) // (n + 2)
    p = Counter()
    reps = max(1, 20000 // lines)
    # CPU time, as Google Benchmark's items_per_second (the machine is shared)
    best = min(timeit.repeat(lambda: p.dataReceived(data), number=reps, repeat=7,
                             timer=time.process_time))
    ns = best / (reps * lines) * 1e9
    print("twisted LineReceiver %5d-byte lines: %8.1f ns/line  %6.2f M lines/s" %
          (n, ns, 1e3 / ns))
