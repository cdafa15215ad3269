#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Clients for `coild chat` (tests/integration/coild_chat.sh).

  chat_clients.py PORT TWISTED_CLIENT

Plain sockets (standard library) play alice, bob, carol and a silent
client; TWISTED_CLIENT (chat_twisted_client.py, a Twisted LineReceiver)
joins as "twisty". Checks the exact texts of Twisted's howto chat server:
"What's your name?", "Name taken, please choose another.", "Welcome, NAME!"
and "<NAME> message" to every OTHER named chatter. Every wait is bounded;
exits 1 with a message on the first difference.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

TIMEOUT = 20


class Client:
    def __init__(self, port, label):
        self.label = label
        self.s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.s.settimeout(TIMEOUT)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            b = self.s.recv(65536)
            if not b:
                fail("%s: connection closed, buffered %r" % (self.label, self.buf))
            self.buf += b
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def expect(self, want):
        got = self.line()
        if got != want:
            fail("%s: got %r, want %r" % (self.label, got, want))

    def close(self):
        self.s.close()


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def join(port, label, name):
    c = Client(port, label)
    c.expect(b"What's your name?")
    c.send(name + b"\r\n")
    c.expect(b"Welcome, " + name + b"!")
    return c


def main():
    port, twisted_client = int(sys.argv[1]), sys.argv[2]
    alice = join(port, "alice", b"alice")

    bob = Client(port, "bob")
    bob.expect(b"What's your name?")
    bob.send(b"alice\r\n")
    bob.expect(b"Name taken, please choose another.")
    bob.send(b"bo")  # a name split across two packets
    time.sleep(0.05)
    bob.send(b"b\r\n")
    bob.expect(b"Welcome, bob!")

    carol = join(port, "carol", b"carol")
    silent = Client(port, "silent")  # never names itself: gets no messages
    silent.expect(b"What's your name?")

    alice.send(b"hello all\r\n")
    bob.expect(b"<alice> hello all")
    carol.expect(b"<alice> hello all")
    # Two messages in one packet, then one split across packets.
    bob.send(b"hi alice\r\nsecond line\r\nthird ")
    time.sleep(0.05)
    bob.send(b"part\r\n")
    for c in (alice, carol):
        c.expect(b"<bob> hi alice")
        c.expect(b"<bob> second line")
        c.expect(b"<bob> third part")
    # alice never got her own message back: her next line is carol's.
    carol.send(b"marker\r\n")
    alice.expect(b"<carol> marker")
    bob.expect(b"<carol> marker")

    # A Twisted LineReceiver client joins as "twisty".
    with tempfile.TemporaryDirectory() as d:
        ready = os.path.join(d, "ready")
        tw = subprocess.Popen(["/usr/bin/python3", twisted_client, str(port), ready])
        try:
            deadline = time.monotonic() + TIMEOUT
            while not os.path.exists(ready):
                if tw.poll() is not None or time.monotonic() > deadline:
                    fail("twisted client did not join (status %r)" % tw.poll())
                time.sleep(0.05)
            alice.send(b"ping\r\n")
            for c in (bob, carol):
                c.expect(b"<alice> ping")
            for c in (alice, bob, carol):
                c.expect(b"<twisty> pong from twisted")
            alice.send(b"done\r\n")
            for c in (bob, carol):
                c.expect(b"<alice> done")
            if tw.wait(timeout=TIMEOUT) != 0:
                fail("twisted client exited with %d" % tw.returncode)
        finally:
            if tw.poll() is None:
                tw.kill()
                tw.wait()

    # carol leaves; her name becomes free again and nobody misses her.
    carol.close()
    alice.send(b"carol left\r\n")
    bob.expect(b"<alice> carol left")
    carol2 = join(port, "carol2", b"carol")
    bob.send(b"welcome back\r\n")
    alice.expect(b"<bob> welcome back")
    carol2.expect(b"<bob> welcome back")

    # The silent client still has nothing but its question pending.
    silent.send(b"dave\r\n")
    silent.expect(b"Welcome, dave!")
    alice.send(b"last\r\n")
    for c in (bob, carol2, silent):
        c.expect(b"<alice> last")
    for c in (bob, carol2, silent):
        c.close()

    # A chatter that never reads is dropped once 1 MiB waits for it, so the
    # server's memory stays bounded; the room goes on.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.settimeout(TIMEOUT)
    slow.connect(("127.0.0.1", port))
    slow.sendall(b"slow\r\n")
    msg = b"m" * 1000 + b"\r\n"
    alice.send(msg * 12288)  # 12 MiB: more than the kernel buffers hold
    dropped = False
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            if not slow.recv(1 << 20):
                break
    except ConnectionResetError:
        dropped = True
    if not dropped:
        fail("the slow chatter was not reset")
    slow.close()
    alice.close()
    # "alice" is free again once the server has read all of her flood (and
    # dropped her): retry the name until it is accepted.
    again = Client(port, "alice again")
    again.expect(b"What's your name?")
    deadline = time.monotonic() + TIMEOUT
    while True:
        again.send(b"alice\r\n")
        line = again.line()
        if line == b"Welcome, alice!":
            break
        if line != b"Name taken, please choose another." or time.monotonic() > deadline:
            fail("alice again: got %r" % line)
        time.sleep(0.05)
    dave2 = join(port, "dave2", b"dave2")
    again.send(b"still here\r\n")
    dave2.expect(b"<alice> still here")
    again.close()
    dave2.close()
    print("chat: ok")


if __name__ == "__main__":
    main()
