# SPDX-License-Identifier: MIT
# Chapter 1's chat server written with Twisted 22.4, for comparison with
# examples/chat_server.c. Run: python3 chat_server.py [DESCRIPTION]
import sys

from twisted.internet import endpoints, reactor
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver


class Chat(LineReceiver):
    def __init__(self, users):
        self.users = users
        self.name = None

    def connectionMade(self):
        self.sendLine(b"What's your name?")

    def connectionLost(self, reason):
        if self.name in self.users:
            del self.users[self.name]

    def lineReceived(self, line):
        if self.name is None:
            self.handle_GETNAME(line.decode())
        else:
            self.handle_CHAT(line.decode())

    def handle_GETNAME(self, name):
        if name in self.users:
            self.sendLine(b"Name taken, please choose another.")
            return
        self.sendLine(f"Welcome, {name}!".encode())
        self.name = name
        self.users[name] = self

    def handle_CHAT(self, message):
        for name, protocol in self.users.items():
            if protocol != self:
                protocol.sendLine(f"<{self.name}> {message}".encode())


class ChatFactory(Factory):
    def __init__(self):
        self.users = {}

    def buildProtocol(self, addr):
        return Chat(self.users)


desc = sys.argv[1] if len(sys.argv) > 1 else "tcp:8123"
endpoints.serverFromString(reactor, desc).listen(ChatFactory())
reactor.run()
