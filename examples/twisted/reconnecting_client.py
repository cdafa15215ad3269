# SPDX-License-Identifier: MIT
# Chapter 5's reconnecting client written with Twisted 22.4, for comparison
# with examples/reconnecting_client.c. Run: python3 reconnecting_client.py DESCRIPTION
import sys

from twisted.application.internet import ClientService
from twisted.internet import endpoints, reactor
from twisted.internet.protocol import Factory, Protocol


class Greeter(Protocol):
    def connectionMade(self):
        print("connected", flush=True)
        self.transport.write(b"hello again\n")

    def dataReceived(self, data):
        print(data.decode(), end="", flush=True)

    def connectionLost(self, reason):
        print("connection lost:", reason.getErrorMessage(), flush=True)


endpoint = endpoints.clientFromString(reactor, sys.argv[1])
ClientService(endpoint, Factory.forProtocol(Greeter)).startService()
reactor.run()
