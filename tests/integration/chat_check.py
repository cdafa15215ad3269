#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Drive a chat server (Twisted's howto texts) with three clients on
127.0.0.1:PORT: names, a taken name, and broadcast to the others only."""
import socket
import sys

port = int(sys.argv[1])


class Client:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.s.recv(4096)
            if not data:
                raise SystemExit("connection closed; buffered %r" % self.buf)
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def send(self, text):
        self.s.sendall(text.encode() + b"\r\n")


def expect(client, want):
    got = client.line()
    if got != want:
        raise SystemExit("expected %r, got %r" % (want, got))


alice, bob, carol = Client(), Client(), Client()
for c in (alice, bob, carol):
    expect(c, "What's your name?")
alice.send("alice")
expect(alice, "Welcome, alice!")
bob.send("alice")
expect(bob, "Name taken, please choose another.")
bob.send("bob")
expect(bob, "Welcome, bob!")
carol.send("carol")
expect(carol, "Welcome, carol!")
alice.send("hi all")
expect(bob, "<alice> hi all")
expect(carol, "<alice> hi all")
carol.send("hello alice")
expect(alice, "<carol> hello alice")
expect(bob, "<carol> hello alice")
# alice never hears her own lines: the next line she gets is bob's.
bob.send("bye")
expect(alice, "<bob> bye")
expect(carol, "<bob> bye")
bob.s.close()
alice.send("anyone left?")  # bob left the room: only carol hears it
expect(carol, "<alice> anyone left?")
print("chat ok")
