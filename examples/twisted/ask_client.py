# SPDX-License-Identifier: MIT
# Chapter 3's Deferred client written with Twisted 22.4, for comparison with
# examples/ask_client.c. Run: python3 ask_client.py DESCRIPTION QUESTION
import sys

from twisted.internet import defer, endpoints, task
from twisted.protocols.basic import LineReceiver


class AskOnce(LineReceiver):
    def ask(self, question):
        self.answer = defer.Deferred()
        self.sendLine(question.encode())
        return self.answer

    def lineReceived(self, line):
        self.transport.loseConnection()
        self.answer.callback(line.decode())

    def connectionLost(self, reason):
        if not self.answer.called:
            self.answer.errback(reason)


def main(reactor, desc, question):
    endpoint = endpoints.clientFromString(reactor, desc)
    d = endpoints.connectProtocol(endpoint, AskOnce())
    d.addCallback(lambda client: client.ask(question))
    d.addCallback(print)
    return d


task.react(main, sys.argv[1:])
