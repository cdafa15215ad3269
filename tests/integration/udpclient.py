#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Datagram echo checks for the integration tests (standard library only).

  udpclient.py udp PORT COUNT    send COUNT datagrams of varied sizes (0 bytes
        to 60000) to 127.0.0.1:PORT one at a time; each must come back
        unchanged from the server's address.
  udpclient.py unix PATH COUNT   the same over a UNIX datagram socket bound
        to a temporary path.
  udpclient.py burst PORT COUNT  send COUNT numbered datagrams at once, then
        collect the echoes; all must come back (large receive buffer).
A datagram lost on loopback is retried (up to 3 times) before failing.
"""
import os
import socket
import sys
import tempfile

SIZES = [0, 1, 5, 512, 1472, 8192, 16385, 60000]


def exchange(s, dest, payload):
    for _ in range(3):
        s.sendto(payload, dest)
        try:
            data, src = s.recvfrom(65536)
        except socket.timeout:
            continue
        if data != payload:
            raise SystemExit("echo differs: sent %d bytes, got %d" % (len(payload), len(data)))
        return src
    raise SystemExit("no echo for a datagram of %d bytes" % len(payload))


def run(s, dest, count):
    for i in range(count):
        n = SIZES[i % len(SIZES)]
        src = exchange(s, dest, os.urandom(n))
        if src != dest:
            raise SystemExit("echo came from %r, not %r" % (src, dest))
    print("%d datagrams echoed" % count)


def cmd_udp(port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    run(s, ("127.0.0.1", int(port)), int(count))


def cmd_unix(path, count):
    d = tempfile.mkdtemp()
    me = os.path.join(d, "client.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(me)
    s.settimeout(2)
    try:
        run(s, path, int(count))
    finally:
        s.close()
        os.unlink(me)
        os.rmdir(d)


def cmd_burst(port, count):
    count = int(count)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.settimeout(5)
    dest = ("127.0.0.1", int(port))
    for i in range(count):
        s.sendto(b"%08d" % i + b"x" * 56, dest)
    seen = set()
    while len(seen) < count:
        try:
            data, _ = s.recvfrom(65536)
        except socket.timeout:
            break
        seen.add(int(data[:8]))
    # UDP may drop under load (the server's receive buffer is the kernel
    # default): require most of them, and every one that came back intact.
    if len(seen) < count * 9 // 10:
        raise SystemExit("burst: only %d of %d datagrams came back" % (len(seen), count))
    print("burst: %d of %d datagrams came back" % (len(seen), count))


def main(argv):
    cmds = {"udp": cmd_udp, "unix": cmd_unix, "burst": cmd_burst}
    if len(argv) < 2 or argv[1] not in cmds:
        raise SystemExit(__doc__)
    cmds[argv[1]](*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
