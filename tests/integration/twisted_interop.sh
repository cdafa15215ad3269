#!/bin/bash
# SPDX-License-Identifier: MIT
# Interoperability with Twisted (Debian's python3-twisted, run by
# /usr/bin/python3) on $COIL_REACTOR:
#  1. Twisted clients (endpoints.clientFromString + connectProtocol) against
#     `coild echo`. Twisted's protocol keeps its write side open until it
#     has read the whole reply, then loses the connection.
#  2. coil's client (tests/integration/coil_client.c) against a Twisted
#     echo server (endpoints.serverFromString "tcp:0:interface=127.0.0.1").
#     Twisted's echo is not half-closeable (a FIN would drop its queue), so
#     the coil client closes only after it read everything back.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

"$PY" -c 'import twisted.internet.endpoints' 2>/dev/null ||
    skip "python3-twisted is not importable by $PY"
[ -n "$COIL_CLIENT" ] || die "coil_client path missing"

# ---- 1. Twisted clients -> coild echo ----------------------------------------
start_coild echo echo
cat >"$WORK/tw_client.py" <<'PYEOF'
import os, sys
from twisted.internet import reactor, protocol, endpoints

port, nbytes, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
results = []

class Client(protocol.Protocol):
    def __init__(self):
        self.data = os.urandom(nbytes)
        self.buf = bytearray()
    def connectionMade(self):
        self.transport.write(self.data)
    def dataReceived(self, d):
        self.buf += d
        if len(self.buf) >= nbytes:
            self.transport.loseConnection()
    def connectionLost(self, reason):
        ok = bytes(self.buf) == self.data
        if not ok:
            print("mismatch: got %d of %d bytes (%s)" % (len(self.buf), nbytes,
                  reason.getErrorMessage()), file=sys.stderr)
        done(ok)

def done(ok):
    results.append(ok)
    if len(results) == conns:
        reactor.stop()

def failed(f):
    print("connect failed:", f.getErrorMessage(), file=sys.stderr)
    done(False)

ep = endpoints.clientFromString(reactor, "tcp:host=127.0.0.1:port=%d" % port)
for _ in range(conns):
    endpoints.connectProtocol(ep, Client()).addErrback(failed)
reactor.callLater(45, lambda: (print("timeout", file=sys.stderr), reactor.stop()))
reactor.run()
print("twisted client: %d/%d connections echoed intact" % (results.count(True), conns))
sys.exit(0 if results.count(True) == conns else 1)
PYEOF
timeout 60 "$PY" "$WORK/tw_client.py" "$COILD_PORT" 1048576 1 >"$WORK/tw1.log" 2>&1 ||
    die "Twisted client: $(cat "$WORK/tw1.log")"
timeout 60 "$PY" "$WORK/tw_client.py" "$COILD_PORT" 65536 20 >"$WORK/tw20.log" 2>&1 ||
    die "Twisted clients x20: $(cat "$WORK/tw20.log")"
stop_coild

# ---- 2. coil client -> Twisted echo server --------------------------------
cat >"$WORK/tw_server.py" <<'PYEOF'
import sys
from twisted.internet import reactor, protocol, endpoints

class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)

def listening(port):
    print("twisted echo listening on %d" % port.getHost().port, flush=True)

def failed(f):
    print("listen failed:", f.getErrorMessage(), flush=True)
    reactor.stop()

ep = endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1")
ep.listen(protocol.Factory.forProtocol(Echo)).addCallbacks(listening, failed)
reactor.callLater(100, reactor.stop)  # never outlive the test
reactor.run()
PYEOF
spawn "$WORK/tw_server.log" "$PY" -u "$WORK/tw_server.py"
TW_PID=$SPAWNED_PID
wait_for_line "$WORK/tw_server.log" "twisted echo listening on" "$TW_PID" 20 ||
    die "Twisted server did not start: $(cat "$WORK/tw_server.log")"
TW_PORT=$(sed -n 's/^twisted echo listening on \([0-9]*\)$/\1/p' "$WORK/tw_server.log")
[ -n "$TW_PORT" ] || die "no port in: $(cat "$WORK/tw_server.log")"
rc=0
timeout 60 "$COIL_CLIENT" "$TW_PORT" 1048576 >"$WORK/cc1.log" 2>&1 || rc=$?
[ $rc -eq 77 ] && skip "coil_client: $(cat "$WORK/cc1.log")"
[ $rc -eq 0 ] || die "coil client vs Twisted (1 MiB): $(cat "$WORK/cc1.log")"
grep -qF "backend $(backend_name)," "$WORK/cc1.log" || die "coil_client used the wrong backend: $(cat "$WORK/cc1.log")"
timeout 60 "$COIL_CLIENT" "$TW_PORT" 100000 --connections 20 >"$WORK/cc20.log" 2>&1 ||
    die "coil clients x20 vs Twisted: $(cat "$WORK/cc20.log")"
kill -TERM "$TW_PID"
wait_exit "$TW_PID" 10 || die "Twisted server did not stop"
log "ok ($BACKEND)"
