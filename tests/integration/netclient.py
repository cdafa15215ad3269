#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Plain-socket clients for the integration tests (standard library only).

  netclient.py echo PORT NBYTES [CONNS]  send NBYTES random bytes on each of
        CONNS concurrent connections, shut down the write side (FIN), read
        until the server closes, and check every byte came back in order.
  netclient.py read PORT EXPECTED [JUNK [COUNT]]  connect (optionally send
        JUNK first), read until EOF, check the bytes equal EXPECTED +
        "\\r\\n"; COUNT times in a row (default 1).
  netclient.py idle PORT READYFILE        connect, write "connected" to
        READYFILE, then wait for the server to close; prints EOF or RESET.
"""
import os
import socket
import sys
import threading

TIMEOUT = 30


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def read_to_eof(s):
    chunks = []
    while True:
        b = s.recv(262144)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def echo_one(port, data, results, i):
    try:
        s = connect(port)

        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send)
        t.start()
        got = read_to_eof(s)
        t.join()
        s.close()
        if got == data:
            results[i] = None
        else:
            first = next((k for k in range(min(len(got), len(data))) if got[k] != data[k]),
                         min(len(got), len(data)))
            results[i] = "got %d of %d bytes, first difference at %d" % (len(got), len(data),
                                                                          first)
    except Exception as e:  # noqa: BLE001 - report anything
        results[i] = repr(e)


def cmd_echo(port, nbytes, conns=1):
    results = [None] * conns
    datas = [os.urandom(nbytes) for _ in range(conns)]
    threads = [threading.Thread(target=echo_one, args=(port, datas[i], results, i))
               for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [(i, r) for i, r in enumerate(results) if r is not None]
    for i, r in bad:
        print("connection %d: %s" % (i, r), file=sys.stderr)
    print("echo: %d connection(s) x %d bytes, %d bad" % (conns, nbytes, len(bad)))
    return 1 if bad else 0


def cmd_read(port, expected, junk=None, count=1):
    want = expected.encode() + b"\r\n"
    for i in range(count):
        s = connect(port)
        if junk:
            s.sendall(junk.encode())
        try:
            got = read_to_eof(s)
        except OSError as e:
            print("read %d: %r" % (i, e), file=sys.stderr)
            return 1
        s.close()
        if got != want:
            print("read %d: got %r, want %r" % (i, got, want), file=sys.stderr)
            return 1
    print("read: %d x %r" % (count, want))
    return 0


def cmd_idle(port, readyfile):
    s = connect(port)
    with open(readyfile, "w") as f:
        f.write("connected\n")
    try:
        b = s.recv(1)
        print("EOF" if not b else "DATA")
    except ConnectionResetError:
        print("RESET")
    return 0


def main(argv):
    cmd, port = argv[1], int(argv[2])
    if cmd == "echo":
        return cmd_echo(port, int(argv[3]), int(argv[4]) if len(argv) > 4 else 1)
    if cmd == "read":
        return cmd_read(port, argv[3], argv[4] if len(argv) > 4 else None,
                        int(argv[5]) if len(argv) > 5 else 1)
    if cmd == "idle":
        return cmd_idle(port, argv[3])
    print("unknown command %r" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
