#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Differential test: coil's receivers (basic_replay) against Twisted's
LineReceiver, LineOnlyReceiver, NetstringReceiver and Int32/16/8StringReceiver
on the same random streams cut into the same random chunks.

  basic_vs_twisted.py BASIC_REPLAY [CASES [SEED]]

Streams mix short and over-long lines, partial delimiters, raw-mode
switches, pauses, clears and closes (see basic_replay.c), and for the
string receivers valid and broken frames. Every event, its bytes and
whether the connection was lost must be identical. Exits 77 if Twisted is
missing, 1 with the first differing case.
"""
import random
import struct
import subprocess
import sys

try:
    from twisted.internet.testing import StringTransport
    from twisted.protocols import basic
except ImportError:
    print("python3-twisted is not importable: skipping")
    sys.exit(77)


def hexs(b):
    return b.hex()


class TwLine(basic.LineReceiver):
    def __init__(self, ev, xmode):
        self.ev, self.xmode, self.budget = ev, xmode, 0

    def lineReceived(self, line):
        self.ev.append("L " + hexs(line))
        op = line[:1]
        if op == b"R":
            self.budget = 1 + len(line) % 16
            self.setRawMode()
        elif op == b"P":
            self.pauseProducing()
        elif op == b"Q":
            self.transport.loseConnection()
        elif op == b"C":
            self.ev.append("C " + hexs(self.clearLineBuffer()))

    def rawDataReceived(self, data):
        take = data[: self.budget]
        self.ev.append("R " + hexs(take))
        self.budget -= len(take)
        if self.budget == 0:
            self.setLineMode(data[len(take):])

    def lineLengthExceeded(self, line):
        self.ev.append("X " + hexs(line))
        if self.xmode == 0:
            self.transport.loseConnection()
        elif len(line) > self.MAX_LENGTH + 1:
            self.setLineMode(line[self.MAX_LENGTH + 1:])


class TwLineOnly(basic.LineOnlyReceiver):
    def __init__(self, ev):
        self.ev = ev

    def lineReceived(self, line):
        self.ev.append("L " + hexs(line))
        if line[:1] == b"Q":
            self.transport.loseConnection()

    def lineLengthExceeded(self, line):
        # Twisted still reports an over-long rest after a line closed the
        # connection; coil calls nothing once it is disconnecting.
        if self.transport.disconnecting:
            return
        self.ev.append("X " + hexs(line))
        self.transport.loseConnection()


class TwNetstring(basic.NetstringReceiver):
    def __init__(self, ev):
        self.ev = ev

    def stringReceived(self, s):
        self.ev.append("S " + hexs(s))


def tw_intn(cls):
    class P(cls):
        def __init__(self, ev):
            self.ev = ev

        def stringReceived(self, s):
            self.ev.append("S " + hexs(s))

        def lengthLimitExceeded(self, length):
            self.ev.append("E")
            self.transport.loseConnection()

    return P


INTN = {"int32": basic.Int32StringReceiver, "int16": basic.Int16StringReceiver,
        "int8": basic.Int8StringReceiver}


def run_twisted(case):
    kind, delim, maxlen, xmode, chunks = case
    ev = []
    t = StringTransport(lenient=True)
    if kind == "line":
        p = TwLine(ev, xmode)
        p.delimiter = delim
    elif kind == "lineonly":
        p = TwLineOnly(ev)
        p.delimiter = delim
    elif kind == "netstring":
        p = TwNetstring(ev)
    else:
        p = tw_intn(INTN[kind])(ev)
    p.MAX_LENGTH = maxlen
    p.makeConnection(t)
    for c in chunks:
        if t.disconnecting:
            break
        was_broken = getattr(p, "brokenPeer", 0)
        p.dataReceived(c)
        if kind == "netstring" and p.brokenPeer and not was_broken:
            ev.append("E")
        if kind == "line":
            while p.paused and not t.disconnecting:
                p.resumeProducing()
    if t.disconnecting:
        ev.append("disconnected")
    return ev


def random_line_stream(rng, delim, maxlen):
    parts = []
    for _ in range(rng.randint(1, 12)):
        r = rng.random()
        if r < 0.15:
            word = rng.choice([b"R", b"Rxyz", b"Rabcdefgh"])
        elif r < 0.22:
            word = b"P" + bytes(rng.randint(0, 3))
        elif r < 0.26:
            word = b"Q"
        elif r < 0.32:
            word = b"C"
        elif r < 0.45:
            word = b"x" * rng.choice([maxlen, maxlen + 1, maxlen + 2, 2 * maxlen + 3])
        else:
            word = bytes(rng.choice(b"ab\r\n xyz") for _ in range(rng.randint(0, 12)))
        parts.append(word + (delim if rng.random() < 0.9 else b""))
    return b"".join(parts)


def random_netstrings(rng, maxlen):
    out = []
    for _ in range(rng.randint(1, 8)):
        s = bytes(rng.choice(b"ab:,0") for _ in range(rng.randint(0, 12)))
        r = rng.random()
        if r < 0.75:
            out.append(b"%d:%s," % (len(s), s))
        elif r < 0.8:
            out.append(b"0%d:%s," % (len(s), s))
        elif r < 0.85:
            out.append(b"%d:%s;" % (len(s), s))
        elif r < 0.9:
            out.append(b"%d:" % (maxlen + rng.randint(1, 3)))
        elif r < 0.95:
            out.append(b"%d%s," % (len(s), s))
        else:
            out.append(b" %d:%s," % (len(s), s))
    return b"".join(out)


def random_intn(rng, kind, maxlen):
    fmt = {"int32": "!I", "int16": "!H", "int8": "!B"}[kind]
    out = []
    for _ in range(rng.randint(1, 8)):
        n = rng.choice([0, 1, 5, maxlen, maxlen + 1]) if rng.random() < 0.9 else 0
        n = min(n, {"int32": 1 << 20, "int16": 65535, "int8": 255}[kind])
        out.append(struct.pack(fmt, n) + b"s" * n)
    return b"".join(out)


def split(rng, data):
    chunks, i = [], 0
    while i < len(data):
        n = rng.choice([1, 2, 3, 5, 8, 13, len(data)])
        chunks.append(data[i:i + n])
        i += n
    return chunks


def make_cases(n, seed):
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        kind = rng.choice(["line", "line", "line", "lineonly", "netstring", "int32", "int16",
                           "int8"])
        if kind == "lineonly":
            # One-byte delimiters only: with longer ones coil waits for a
            # split delimiter where Twisted already reports (DIVERGENCES.md).
            delim = rng.choice([b"\n", b"a"])
            maxlen = rng.choice([1, 2, 4, 7, 16])
            data = random_line_stream(rng, delim, maxlen)
            xmode = 0
        elif kind == "line":
            delim = rng.choice([b"\r\n", b"\n", b"ab"])
            maxlen = rng.choice([1, 2, 4, 7, 16])
            data = random_line_stream(rng, delim, maxlen)
            xmode = rng.randint(0, 1)
        elif kind == "netstring":
            delim, maxlen, xmode = b"", rng.choice([3, 9, 10, 99999]), 0
            data = random_netstrings(rng, maxlen)
        else:
            delim, maxlen, xmode = b"", rng.choice([0, 4, 16, 300]), 0
            data = random_intn(rng, kind, maxlen)
        cases.append((kind, delim, maxlen, xmode, split(rng, data)))
    return cases


def main():
    replay = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20240601
    cases = make_cases(n, seed)
    lines = []
    for kind, delim, maxlen, xmode, chunks in cases:
        lines.append("case %s %s %d %d" % (kind, hexs(delim) or "-", maxlen, xmode))
        lines.extend("chunk " + hexs(c) for c in chunks)
        lines.append("end")
    out = subprocess.run([replay], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, timeout=120)
    if out.returncode != 0:
        sys.exit("basic_replay failed (%d): %s" % (out.returncode, out.stderr))
    got = out.stdout.split("end\n")
    counts = {}
    for i, case in enumerate(cases):
        want = run_twisted(case)
        have = [e for e in got[i].split("\n") if e]
        if have != want:
            kind, delim, maxlen, xmode, chunks = case
            print("case %d (%s delim=%r max=%d xmode=%d) differs" % (i, kind, delim, maxlen, xmode))
            print("chunks:", chunks)
            print("twisted:", want)
            print("coil:   ", have)
            sys.exit(1)
        counts[case[0]] = counts.get(case[0], 0) + 1
    print("identical to Twisted on %d cases: %s" % (len(cases), counts))


if __name__ == "__main__":
    main()
