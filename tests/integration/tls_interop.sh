#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS interoperability on $COIL_REACTOR, with throw-away certificates:
#  1. openssl s_client (TLS 1.2 and 1.3 forced) against `coild echo` on an
#     ssl: port; a plaintext client is closed and logged; the server keeps
#     serving.
#  2. coil's tls: client (tls_probe) against openssl s_server (-rev), and
#     the verification failures against it: wrong host, untrusted CA,
#     expired certificate, each named in the error.
#  3. Twisted (python3-twisted + python3-openssl): a Twisted tls: client
#     against coild's ssl: port, and coil's client against a Twisted ssl:
#     echo server.
#  4. TLS behind a PROXY header: `coild echo --port haproxy:ssl:...` with a
#     client that sends a PROXY v1 header and then speaks TLS.
#  5. coil's echo client (coil_client) through TLS: 4 x 8 MiB, with and
#     without half-close (close_notify, then the echo, then the close).
# Usage: tls_interop.sh COILD TLS_PROBE [COIL_CLIENT]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
PROBE=$COIL_CLIENT
ECHO_CLIENT=${3:-}
[ -x "$PROBE" ] || die "tls_probe not found"
command -v openssl >/dev/null || skip "openssl not installed"
C="$WORK/certs"
bash "$HERE/../tls/make_certs.sh" "$C" || skip "cannot make certificates"

# start_ssl_coild NAME DESC-PREFIX: coild echo on a fresh port with
# --port "DESC-PREFIX:PORT:<ssl options>". Sets COILD_PID, COILD_PORT, COILD_LOG.
start_ssl_coild() {
    local name=$1 prefix=$2 _attempt
    for _attempt in 1 2 3 4 5; do
        COILD_PORT=$(free_port)
        COILD_LOG="$WORK/$name.log"
        spawn "$COILD_LOG" "$COILD" -n --reactor="$BACKEND" --log-level=info echo \
            --port "$prefix:$COILD_PORT:interface=127.0.0.1:privateKey=$C/server.key:certKey=$C/server.pem"
        COILD_PID=$SPAWNED_PID
        if wait_for_line "$COILD_LOG" "coild: listening on 127.0.0.1:$COILD_PORT" "$COILD_PID"; then
            return 0
        fi
        if grep -q "cannot start the reactor" "$COILD_LOG" && [ "$BACKEND" = uring ]; then
            skip "io_uring unavailable here: $(cat "$COILD_LOG")"
        fi
        grep -q "Address already in use" "$COILD_LOG" || die "coild did not start: $(cat "$COILD_LOG")"
        wait "$COILD_PID" 2>/dev/null || true
    done
    die "coild: no free port after 5 attempts"
}

# s_client_echo VERSION-FLAG EXPECTED-VERSION: send a line, wait for its
# echo, then close stdin (s_client sends close_notify and exits).
s_client_echo() {
    local flag=$1 want=$2 fifo="$WORK/in$1" out="$WORK/s_client$1.log" pid
    shift 2 # the rest: more s_client arguments
    mkfifo "$fifo"
    exec 3<>"$fifo" # a writer first, so that opening it for reading does not block
    # Not `spawn`: a background job's stdin would be /dev/null.
    openssl s_client -connect "127.0.0.1:$COILD_PORT" "$flag" -CAfile "$C/ca.pem" \
        -verify_return_error -servername localhost -verify_hostname localhost -no_ign_eof -brief \
        "$@" <"$fifo" >"$out" 2>&1 3>&- &
    pid=$!
    PIDS+=("$pid")
    printf 'ping over %s\n' "$want" >&3
    wait_for_line "$out" "ping over $want" "$pid" 15 || die "s_client $flag: no echo: $(cat "$out")"
    exec 3>&-
    wait_exit "$pid" 15 || die "s_client $flag did not exit"
    grep -qF "Protocol version: $want" "$out" || die "s_client $flag: not $want: $(cat "$out")"
    grep -qF "Verification: OK" "$out" || die "s_client $flag: not verified: $(cat "$out")"
    log "openssl s_client $flag: echo over $want, verified"
}

# ---- 1. openssl s_client -> coild ssl: ---------------------------------------
start_ssl_coild coild ssl
s_client_echo -tls1_2 TLSv1.2 -sess_out "$WORK/sess-tls1_2"
s_client_echo -tls1_3 TLSv1.3 -sess_out "$WORK/sess-tls1_3"
# Sessions resume (tickets), in both versions: the sessions saved above
# (after an echo, so TLS 1.3's ticket had arrived) are offered again.
for v in -tls1_2 -tls1_3; do
    timeout 10 openssl s_client -connect "127.0.0.1:$COILD_PORT" "$v" -CAfile "$C/ca.pem" \
        -sess_in "$WORK/sess$v" </dev/null >"$WORK/sess2.log" 2>&1 || true
    grep -q "^Reused, " "$WORK/sess2.log" || die "no session resumption with $v: $(cat "$WORK/sess2.log")"
done
log "openssl s_client: sessions resume over TLS 1.2 and 1.3"
# Old versions are refused.
if openssl s_client -connect "127.0.0.1:$COILD_PORT" -tls1_1 -cipher "DEFAULT@SECLEVEL=0" </dev/null >"$WORK/tls11.log" 2>&1; then
    die "a TLS 1.1 handshake succeeded: $(cat "$WORK/tls11.log")"
fi
# A plaintext client is closed, logged, and coild serves on.
"$PY" - "$COILD_PORT" <<'PYEOF' || die "plaintext client was not closed"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
while s.recv(4096):
    pass
PYEOF
wait_for_line "$COILD_LOG" "TLS handshake with 127.0.0.1:" "$COILD_PID" 10 ||
    die "no log line for the plaintext client"
"$PROBE" "tls:localhost:$COILD_PORT:trustRoots=$C/ca.pem:endpoint=tcp\\:127.0.0.1\\:$COILD_PORT" \
    "coil to coild" "coil to coild" >"$WORK/probe1.log" || die "coil client: $(cat "$WORK/probe1.log")"
log "coil tls: client -> coild ssl: $(cat "$WORK/probe1.log")"
if [ -n "$ECHO_CLIENT" ]; then
    for hc in "" --half-close; do
        "$ECHO_CLIENT" "tls:localhost:$COILD_PORT:trustRoots=$C/ca.pem:endpoint=tcp\\:127.0.0.1\\:$COILD_PORT" \
            8388608 --connections 4 $hc >"$WORK/echo8m.log" 2>&1 ||
            die "8 MiB TLS echo ($hc): $(cat "$WORK/echo8m.log")"
        log "$(cat "$WORK/echo8m.log") ${hc:+(half-close)}"
    done
fi

# ---- 3a. Twisted tls: client -> coild ssl: ------------------------------------
TWISTED=yes
"$PY" -c 'import twisted.internet.ssl, OpenSSL' 2>/dev/null || TWISTED=
if [ -n "$TWISTED" ]; then
    cat >"$WORK/tw_tls_client.py" <<'PYEOF'
import sys
from twisted.internet import reactor, protocol, endpoints, defer
port, roots = sys.argv[1], sys.argv[2]
result = {}
class P(protocol.Protocol):
    def connectionMade(self):
        self.buf = b""
        self.transport.write(b"hello from twisted\n")
    def dataReceived(self, d):
        self.buf += d
        if b"hello from twisted\n" in self.buf:
            result["ok"] = True
            self.transport.loseConnection()
    def connectionLost(self, reason):
        reactor.callLater(0, reactor.stop)
ep = endpoints.clientFromString(reactor, "tls:localhost:%s:trustRoots=%s:endpoint=tcp\\:127.0.0.1\\:%s" % (port, roots, port))
d = endpoints.connectProtocol(ep, P())
def failed(f):
    print("connect failed:", f.getErrorMessage()); reactor.stop()
d.addErrback(failed)
reactor.callLater(20, reactor.stop)
reactor.run()
sys.exit(0 if result.get("ok") else 1)
PYEOF
    timeout 30 "$PY" "$WORK/tw_tls_client.py" "$COILD_PORT" "$C/cadir" >"$WORK/tw_client.log" 2>&1 ||
        die "Twisted tls: client against coild: $(cat "$WORK/tw_client.log")"
    log "Twisted tls: client -> coild ssl: echo ok"
fi
stop_coild

# ---- 2. coil tls: client -> openssl s_server ----------------------------------
# s_server_run CERT: openssl s_server -rev on a fresh port; sets SPORT, SPID.
s_server_run() {
    local certname=$1 _attempt
    for _attempt in 1 2 3 4 5; do
        SPORT=$(free_port)
        spawn "$WORK/s_server-$certname.log" openssl s_server -accept "127.0.0.1:$SPORT" \
            -cert "$C/$certname.pem" -key "$C/$certname.key" -rev
        SPID=$SPAWNED_PID
        wait_for_line "$WORK/s_server-$certname.log" "ACCEPT" "$SPID" 10 && return 0
    done
    die "openssl s_server did not start: $(cat "$WORK/s_server-$certname.log")"
}
s_server_run server
"$PROBE" "tls:localhost:$SPORT:trustRoots=$C/ca.pem:endpoint=tcp\\:127.0.0.1\\:$SPORT" "abcdef" "fedcba" \
    >"$WORK/probe2.log" || die "coil client against s_server: $(cat "$WORK/probe2.log")"
log "coil tls: client -> openssl s_server: $(cat "$WORK/probe2.log")"
kill "$SPID" 2>/dev/null || true

# expect_failure CERT HOST REASON
expect_failure() {
    local certname=$1 host=$2 reason=$3
    s_server_run "$certname"
    if "$PROBE" "tls:$host:$SPORT:trustRoots=$C/ca.pem:endpoint=tcp\\:127.0.0.1\\:$SPORT" x x \
        >"$WORK/neg-$certname.log"; then
        die "$certname: the connection succeeded"
    fi
    grep -qF "$reason" "$WORK/neg-$certname.log" ||
        die "$certname: wrong error: $(cat "$WORK/neg-$certname.log")"
    log "coil client rejects $certname: $(cat "$WORK/neg-$certname.log")"
    kill "$SPID" 2>/dev/null || true
}
expect_failure wronghost localhost "hostname mismatch"
expect_failure untrusted localhost "unknown CA"
expect_failure expired localhost "certificate has expired"

# ---- 3b. coil client -> Twisted ssl: echo server --------------------------------
if [ -n "$TWISTED" ]; then
    cat >"$WORK/tw_tls_server.py" <<'PYEOF'
import sys
from twisted.internet import reactor, protocol, endpoints
key, cert = sys.argv[1], sys.argv[2]
class Echo(protocol.Protocol):
    def dataReceived(self, d):
        self.transport.write(d)
f = protocol.Factory.forProtocol(Echo)
ep = endpoints.serverFromString(reactor, "ssl:0:interface=127.0.0.1:privateKey=%s:certKey=%s" % (key, cert))
def listening(p):
    print("listening on", p.getHost().port, flush=True)
ep.listen(f).addCallback(listening)
reactor.callLater(60, reactor.stop)
reactor.run()
PYEOF
    spawn "$WORK/tw_server.log" "$PY" "$WORK/tw_tls_server.py" "$C/server.key" "$C/server.pem"
    TPID=$SPAWNED_PID
    wait_for_line "$WORK/tw_server.log" "listening on" "$TPID" 20 ||
        die "Twisted ssl: server did not start: $(cat "$WORK/tw_server.log")"
    TPORT=$(sed -n 's/listening on //p' "$WORK/tw_server.log")
    "$PROBE" "tls:localhost:$TPORT:trustRoots=$C/ca.pem:endpoint=tcp\\:127.0.0.1\\:$TPORT" \
        "to twisted" "to twisted" >"$WORK/probe3.log" ||
        die "coil client against Twisted: $(cat "$WORK/probe3.log")"
    log "coil tls: client -> Twisted ssl: $(cat "$WORK/probe3.log")"
    kill "$TPID" 2>/dev/null || true
else
    log "python3-twisted with python3-openssl not importable: Twisted parts skipped"
fi

# ---- 4. TLS behind a PROXY header ------------------------------------------------
start_ssl_coild proxied haproxy:ssl
"$PY" - "$COILD_PORT" "$C/ca.pem" <<'PYEOF' || die "TLS after a PROXY header failed"
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 443\r\n")
ctx = ssl.create_default_context(cafile=ca)
t = ctx.wrap_socket(s, server_hostname="localhost")
t.sendall(b"behind haproxy\n")
got = b""
while b"behind haproxy\n" not in got:
    d = t.recv(4096)
    if not d:
        sys.exit(1)
    got += d
t.unwrap()
PYEOF
log "TLS after a PROXY v1 header: echo ok"
stop_coild
log "all TLS interop checks passed"
