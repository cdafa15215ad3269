# SPDX-License-Identifier: MIT
"""Time the Deferred operations of bench/bench_deferred.cc in Twisted.

Run with Debian's interpreter so that python3-twisted 22.4 is used:
    /usr/bin/python3 bench/deferred_twisted.py [--json]

Each operation includes creating (and dropping) its Deferreds, like the C++
benchmark. Prints CPU ns/op per operation (time.process_time, like Google
Benchmark's CPU column): the best of several timeit repeats.
"""

import json
import sys
import time
import timeit

import twisted
from twisted.internet.defer import Deferred


def passthru(result):
    return result


def consume(failure):
    return None


def create_fire_1_callback():
    d = Deferred()
    d.addCallback(passthru)
    d.callback(1)


def create_fire_10_callbacks():
    d = Deferred()
    for _ in range(10):
        d.addCallback(passthru)
    d.callback(1)


def chained_pair():
    inner = Deferred()
    outer = Deferred()
    outer.addCallback(lambda _: inner)
    outer.callback(None)
    inner.callback(1)


def cancel():
    d = Deferred()
    d.addErrback(consume)
    d.cancel()


# Names match the C++ benchmarks (without the BM_ prefix).
OPERATIONS = [
    ("create_fire_1_callback", create_fire_1_callback),
    ("create_fire_10_callbacks", create_fire_10_callbacks),
    ("chained_pair", chained_pair),
    ("cancel", cancel),
]


def ns_per_op(fn, repeat=7, min_time=0.2):
    timer = timeit.Timer(fn, timer=time.process_time)
    number, elapsed = timer.autorange()
    # Scale so that each repeat runs at least `min_time` seconds.
    if elapsed < min_time:
        number = int(number * min_time / max(elapsed, 1e-9)) + 1
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e9


def main():
    results = {name: ns_per_op(fn) for name, fn in OPERATIONS}
    if "--json" in sys.argv[1:]:
        json.dump({"twisted": twisted.__version__, "python": sys.version.split()[0],
                   "ns_per_op": results}, sys.stdout)
        print()
    else:
        print(f"Twisted {twisted.__version__} on Python {sys.version.split()[0]}")
        for name, ns in results.items():
            print(f"{name:28s} {ns:10.1f} ns/op")


if __name__ == "__main__":
    main()
