#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A Twisted LineReceiver chat client (an independent implementation of the
line protocol) for tests/integration/chat_clients.py.

  chat_twisted_client.py PORT READYFILE

Joins as "twisty", creates READYFILE once welcomed, answers "<alice> ping"
with "pong from twisted", and exits 0 after "<alice> done". Exits 1 on an
unexpected line or after 30 s.
"""
import sys

from twisted.internet import endpoints, reactor
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver

port, ready = int(sys.argv[1]), sys.argv[2]
status = {"code": 1}


class Chatter(LineReceiver):
    def lineReceived(self, line):
        if line == b"What's your name?":
            self.sendLine(b"twisty")
        elif line == b"Welcome, twisty!":
            with open(ready, "w") as f:
                f.write("ready\n")
        elif line == b"<alice> ping":
            self.sendLine(b"pong from twisted")
        elif line == b"<alice> done":
            status["code"] = 0
            self.transport.loseConnection()
        else:
            print("twisted client: unexpected line %r" % line, file=sys.stderr)
            self.transport.loseConnection()

    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()


def failed(f):
    print("twisted client: connect failed:", f.getErrorMessage(), file=sys.stderr)
    reactor.stop()


ep = endpoints.clientFromString(reactor, "tcp:host=127.0.0.1:port=%d" % port)
endpoints.connectProtocol(ep, Chatter()).addErrback(failed)
reactor.callLater(30, reactor.stop)
reactor.run()
sys.exit(status["code"])
