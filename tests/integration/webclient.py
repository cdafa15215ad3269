#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Raw-socket HTTP checks for coild_web.sh (standard library only).

  webclient.py pipeline PORT PATH...  send one GET per PATH in a single
        write (pipelining), read the responses, print "STATUS BODY" per
        response in order (the body's first line if short, else its size).
  webclient.py http10 PORT PATH       an HTTP/1.0 request without keep-alive:
        print the status line, then "EOF" once the server closed.
  webclient.py slow PORT PATH SIZE    a slow reader: read the body of a
        SIZE-byte file in small pieces with pauses, check its length, print
        "OK".
  webclient.py reset PORT PATH        start a download, read a little, then
        reset the connection (RST); print "OK".
  webclient.py idle PORT              connect, send nothing, wait for the
        server to close; print "EOF".
  webclient.py flood PORT PATH RSSFILE  pipeline GETs of PATH without ever
        reading, until the server stops taking them (its receive window
        stays closed for 2 s) or 100000 were sent; then print the server's
        VmRSS (kB, read from RSSFILE = /proc/PID/status) and close.
  webclient.py raw PORT HEX           send bytes, print the first response's
        status line (or "EOF" if the server closed without one).
"""
import socket
import struct
import sys
import time

TIMEOUT = 30


def connect(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return lines[0], headers

    def body(self, n):
        while len(self.buf) < n:
            self.fill()
        b, self.buf = self.buf[:n], self.buf[n:]
        return b


def pipeline(port, paths):
    s = connect(port)
    s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % p.encode() for p in paths))
    r = Reader(s)
    for _ in paths:
        status, h = r.head()
        body = r.body(int(h["content-length"]))
        text = body.decode("latin-1") if len(body) <= 128 else "(%d bytes)" % len(body)
        print(status.split(" ")[1], text.split("\n")[0].strip())
    s.close()


def http10(port, path):
    s = connect(port)
    s.sendall(b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
    r = Reader(s)
    status, h = r.head()
    print(status)
    r.body(int(h["content-length"]))
    try:
        r.fill()
        print("MORE DATA")
    except EOFError:
        print("EOF")


def slow(port, path, size):
    # A small receive buffer, set before connecting so the window is small
    # from the start: the server's sends keep blocking.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(TIMEOUT)
    s.connect(("127.0.0.1", int(port)))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
    r = Reader(s)
    status, h = r.head()
    assert status.startswith("HTTP/1.1 200"), status
    got = len(r.buf)
    r.buf = b""
    pauses = 0
    while got < size:
        data = s.recv(8192)
        if not data:
            break
        got += len(data)
        if pauses < 20:
            time.sleep(0.05)
            pauses += 1
    assert got == size, (got, size)
    print("OK")


def reset(port, path):
    s = connect(port)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode())
    s.recv(10000)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("OK")


def flood(port, path, rssfile):
    s = connect(port)
    s.setblocking(False)
    # Padded so that the kernel's socket buffers (several MB on loopback)
    # hold only a small part of what the cap allows.
    req = b"GET %s HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n" % (path.encode(), b"p" * 1000)
    batch = req * 64
    sent = 0
    pending = b""
    stuck_since = None
    while sent < 100000 * len(req):
        if not pending:
            pending = batch
        try:
            n = s.send(pending)
            pending = pending[n:]  # a partial send continues where it stopped
            sent += n
            stuck_since = None
            if pending:
                time.sleep(0.01)
        except BlockingIOError:
            if stuck_since is None:
                stuck_since = time.monotonic()
            elif time.monotonic() - stuck_since > 2:
                break
            time.sleep(0.05)
    with open(rssfile) as f:
        rss = [line.split()[1] for line in f if line.startswith("VmRSS:")][0]
    print(sent // len(req), rss)
    s.close()


def raw(port, hexdata):
    s = connect(port)
    s.sendall(bytes.fromhex(hexdata))
    r = Reader(s)
    try:
        status, _ = r.head()
        print(status)
    except EOFError:
        print("EOF")


def main():
    cmd, port, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "pipeline":
        pipeline(port, args)
    elif cmd == "http10":
        http10(port, args[0])
    elif cmd == "slow":
        slow(port, args[0], int(args[1]))
    elif cmd == "reset":
        reset(port, args[0])
    elif cmd == "idle":
        s = connect(port)
        print("EOF" if s.recv(1) == b"" else "DATA")
    elif cmd == "flood":
        flood(port, args[0], args[1])
    elif cmd == "raw":
        raw(port, args[0])
    else:
        sys.exit("unknown command " + cmd)


main()
