# SPDX-License-Identifier: MIT
# Chapter 2's Quote of the Day client written with Twisted 22.4, for
# comparison with examples/qotd_client.c. Run: python3 qotd_client.py [DESCRIPTION]
import sys

from twisted.internet import defer, endpoints, protocol, task


class QOTDClient(protocol.Protocol):
    def __init__(self):
        self.done = defer.Deferred()

    def dataReceived(self, data):
        sys.stdout.write(data.decode())

    def connectionLost(self, reason):
        self.done.callback(None)


async def main(reactor, desc="tcp:127.0.0.1:8017"):
    endpoint = endpoints.clientFromString(reactor, desc)
    client = await endpoints.connectProtocol(endpoint, QOTDClient())
    await client.done


task.react(main, sys.argv[1:])
