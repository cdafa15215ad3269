#!/bin/bash
# SPDX-License-Identifier: MIT
# `coild udpecho` end to end on $COIL_REACTOR: datagrams through socat
# (`socat - UDP:127.0.0.1:PORT`), a 30000-byte datagram, varied sizes from
# 0 bytes and a burst from Python, a Twisted DatagramProtocol client, a
# UNIX datagram socket, bad --port values, and a clean SIGTERM stop.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

command -v socat >/dev/null || skip "socat not installed"

# A UDP port that was free a moment ago on 127.0.0.1.
free_udp_port() {
    "$PY" -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# start_udpecho NAME DESC TEXT: start coild udpecho on DESC, wait for TEXT.
start_udpecho() {
    local name=$1 desc=$2 text=$3
    UE_LOG="$WORK/$name.log"
    spawn "$UE_LOG" "$COILD" -n --reactor="$BACKEND" udpecho --port "$desc"
    UE_PID=$SPAWNED_PID
    if ! wait_for_line "$UE_LOG" "$text" "$UE_PID"; then
        if grep -q "cannot start the reactor" "$UE_LOG" && [ "$BACKEND" = uring ]; then
            skip "io_uring unavailable here: $(cat "$UE_LOG")"
        fi
        die "coild udpecho did not start: $(cat "$UE_LOG")"
    fi
}

stop_udpecho() {
    kill -TERM "$UE_PID"
    wait_exit "$UE_PID" 15 || die "coild udpecho did not exit within 15 s of SIGTERM"
    [ "$EXIT_STATUS" -eq 0 ] || die "coild udpecho exited with $EXIT_STATUS after SIGTERM"
    grep -qF "$1" "$UE_LOG" || die "no '$1' line: $(cat "$UE_LOG")"
    grep -qF "Server Shut Down." "$UE_LOG" || die "no 'Server Shut Down.' line"
}

PORT=$(free_udp_port)
start_udpecho udp "udp:$PORT:interface=127.0.0.1" "coild: listening on 127.0.0.1:$PORT (UDP)"
grep -qF "starting udpecho on $(backend_name)" "$UE_LOG" || die "wrong backend: $(cat "$UE_LOG")"

# socat: one line in, the same line back.
out=$(printf 'hello over udp\n' | timeout 10 socat -t 2 - "UDP:127.0.0.1:$PORT") ||
    die "socat failed"
[ "$out" = "hello over udp" ] || die "socat got '$out'"
# One 30000-byte datagram (socat reads the file in one block of -b bytes).
head -c 30000 /dev/urandom >"$WORK/dgram.bin"
timeout 10 socat -b 65536 -t 2 - "UDP:127.0.0.1:$PORT" <"$WORK/dgram.bin" >"$WORK/back.bin" ||
    die "socat (30000 bytes) failed"
cmp "$WORK/dgram.bin" "$WORK/back.bin" || die "30000-byte datagram came back different"
log "socat: datagrams echoed"

timeout 60 "$PY" "$HERE/udpclient.py" udp "$PORT" 40 >"$WORK/py.log" 2>&1 ||
    die "python udp client: $(cat "$WORK/py.log")"
timeout 60 "$PY" "$HERE/udpclient.py" burst "$PORT" 200 >"$WORK/burst.log" 2>&1 ||
    die "python burst: $(cat "$WORK/burst.log")"

# An independent implementation: Twisted's DatagramProtocol, with a
# connected transport as in Twisted's UDP howto.
if "$PY" -c 'import twisted.internet.reactor' 2>/dev/null; then
    cat >"$WORK/tw_udp.py" <<'PYEOF'
import os, sys
from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol

port = int(sys.argv[1])
sizes = [0, 1, 100, 8192]
state = {"i": 0, "sent": None, "ok": 0}

class Client(DatagramProtocol):
    def startProtocol(self):
        self.transport.connect("127.0.0.1", port)
        self.send()
    def send(self):
        state["sent"] = os.urandom(sizes[state["i"]])
        self.transport.write(state["sent"])
    def datagramReceived(self, data, addr):
        if data != state["sent"] or addr != ("127.0.0.1", port):
            print("mismatch from %r" % (addr,)); reactor.stop(); return
        state["ok"] += 1
        state["i"] += 1
        if state["i"] == len(sizes):
            reactor.stop()
        else:
            self.send()
    def connectionRefused(self):
        print("refused"); reactor.stop()

reactor.listenUDP(0, Client())
reactor.callLater(20, reactor.stop)
reactor.run()
print("twisted: %d of %d echoed" % (state["ok"], len(sizes)))
sys.exit(0 if state["ok"] == len(sizes) else 1)
PYEOF
    timeout 60 "$PY" "$WORK/tw_udp.py" "$PORT" >"$WORK/tw.log" 2>&1 ||
        die "Twisted UDP client: $(cat "$WORK/tw.log")"
    log "$(tail -1 "$WORK/tw.log")"
else
    log "python3-twisted not importable: Twisted leg skipped"
fi
stop_udpecho "(UDP Port 127.0.0.1:$PORT Closed)"

# A UNIX datagram socket; its file goes away at the stop.
SOCK="$WORK/echo.sock"
start_udpecho unix "unix:$SOCK:mode=600" "coild: listening on unix:$SOCK (UNIX datagrams)"
[ "$(stat -c %a "$SOCK")" = 600 ] || die "socket mode is $(stat -c %a "$SOCK")"
timeout 60 "$PY" "$HERE/udpclient.py" unix "$SOCK" 16 >"$WORK/pyunix.log" 2>&1 ||
    die "python unix datagram client: $(cat "$WORK/pyunix.log")"
stop_udpecho "(UDP Port unix:$SOCK Closed)"
[ ! -e "$SOCK" ] || die "socket file left behind"

# Bad --port values: usage errors (exit 2) with the reason.
for bad in "tcp:$PORT" "udp:notaport" "udp:$PORT:interface=nowhere" "udp:1:bogus=1"; do
    st=0
    timeout 10 "$COILD" -n --reactor="$BACKEND" udpecho --port "$bad" >"$WORK/bad.log" 2>&1 || st=$?
    [ "$st" -eq 2 ] || die "--port $bad: exit $st, expected 2: $(cat "$WORK/bad.log")"
    grep -q "invalid --port" "$WORK/bad.log" || die "--port $bad: $(cat "$WORK/bad.log")"
done
# A repeated --port is refused, not half-ignored.
st=0
timeout 10 "$COILD" -n --reactor="$BACKEND" udpecho --port udp:0 --port udp:0 >"$WORK/twice.log" 2>&1 || st=$?
[ "$st" -eq 2 ] && grep -q "given 2 times" "$WORK/twice.log" ||
    die "--port twice: exit $st: $(cat "$WORK/twice.log")"
# A port in use: exit 1 with the reason.
"$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(30)' >"$WORK/holder.out" 2>&1 &
HOLDER=$!
PIDS+=("$HOLDER")
for _ in $(seq 100); do
    [ -s "$WORK/holder.out" ] && break
    sleep 0.05
done
TAKEN=$(cat "$WORK/holder.out")
st=0
timeout 10 "$COILD" -n --reactor="$BACKEND" udpecho --port "udp:$TAKEN:interface=127.0.0.1" \
    >"$WORK/inuse.log" 2>&1 || st=$?
[ "$st" -eq 1 ] || die "port in use: exit $st, expected 1: $(cat "$WORK/inuse.log")"
grep -q "Address already in use" "$WORK/inuse.log" || die "port in use: $(cat "$WORK/inuse.log")"
log "ok ($BACKEND)"
