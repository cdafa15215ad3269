#!/bin/bash
# SPDX-License-Identifier: MIT
# `coild echo --port haproxy:tcp:PORT:interface=127.0.0.1` on $COIL_REACTOR
# behind a real haproxy (2.6), first with `send-proxy` (v1), then with
# `send-proxy-v2`, each with haproxy's health checks on (they carry a PROXY
# header too): data is echoed through haproxy (coil_client, socat); a
# direct connection without a header is closed and coild logs why, naming
# the connecting socket; health checks log no warning; SIGTERM -> exit 0.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

HAPROXY=
for c in /usr/sbin/haproxy /usr/local/sbin/haproxy "$(command -v haproxy || true)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then
        HAPROXY=$c
        break
    fi
done
[ -n "$HAPROXY" ] || skip "haproxy not installed"

# coild on a fresh loopback port (retrying if someone took it meanwhile).
for _attempt in 1 2 3 4 5; do
    COILD_PORT=$(free_port)
    COILD_LOG="$WORK/coild.log"
    spawn "$COILD_LOG" "$COILD" -n --reactor="$BACKEND" --log-level=info echo \
        --port "haproxy:tcp:$COILD_PORT:interface=127.0.0.1"
    COILD_PID=$SPAWNED_PID
    if wait_for_line "$COILD_LOG" "coild: listening on 127.0.0.1:$COILD_PORT" "$COILD_PID"; then
        break
    fi
    if grep -q "cannot start the reactor" "$COILD_LOG" && [ "$BACKEND" = uring ]; then
        skip "io_uring unavailable here: $(cat "$COILD_LOG")"
    fi
    grep -q "Address already in use" "$COILD_LOG" || die "coild did not start: $(cat "$COILD_LOG")"
    wait "$COILD_PID" 2>/dev/null || true
    COILD_PID=
done
[ -n "${COILD_PID:-}" ] || die "coild: no free port after 5 attempts"

# accepting PORT: a TCP connect to 127.0.0.1:PORT succeeds.
accepting() {
    "$PY" -c 'import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

# through_haproxy MODE: haproxy with `server ... MODE check` in front of
# coild; echo through it; haproxy is stopped at the end.
through_haproxy() {
    local mode=$1 fport cfg hlog hpid
    fport=$(free_port)
    cfg="$WORK/haproxy-$mode.cfg"
    hlog="$WORK/haproxy-$mode.log"
    cat >"$cfg" <<EOF
global
    maxconn 256
defaults
    mode tcp
    timeout connect 3s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$fport
    default_backend be
backend be
    server coild 127.0.0.1:$COILD_PORT $mode check inter 300ms
EOF
    spawn "$hlog" "$HAPROXY" -f "$cfg" -db
    hpid=$SPAWNED_PID
    local deadline=$((SECONDS + 10))
    until accepting "$fport"; do
        alive "$hpid" || die "haproxy ($mode) exited: $(cat "$hlog")"
        [ $SECONDS -lt $deadline ] || die "haproxy ($mode) does not accept on $fport"
        sleep 0.1
    done
    sleep 1 # a few health checks

    timeout 60 "$COIL_CLIENT" "$fport" 262144 --connections 4 >"$WORK/cc-$mode.log" 2>&1 ||
        die "coil_client through haproxy ($mode): $(cat "$WORK/cc-$mode.log")"
    timeout 60 "$COIL_CLIENT" "$fport" 1048576 >"$WORK/cc1-$mode.log" 2>&1 ||
        die "coil_client 1 MiB through haproxy ($mode): $(cat "$WORK/cc1-$mode.log")"
    if command -v socat >/dev/null; then
        local out
        out=$(printf 'hello through haproxy' | timeout 20 socat -t 5 - "TCP:127.0.0.1:$fport") ||
            die "socat through haproxy ($mode) failed"
        [ "$out" = "hello through haproxy" ] || die "socat through haproxy ($mode) got '$out'"
    fi
    kill -TERM "$hpid"
    wait_exit "$hpid" 10 || die "haproxy ($mode) did not exit"
    log "$mode: ok"
}

through_haproxy send-proxy
through_haproxy send-proxy-v2

# Neither the traffic nor haproxy's health checks made coil complain.
if grep -F "coil.haproxy#" "$COILD_LOG" | grep -qvF "#info]"; then
    die "coild complained about haproxy's connections: $(grep -F "coil.haproxy#" "$COILD_LOG")"
fi

# A direct connection without a header: closed without an answer, and
# coild says why, naming the connecting socket.
"$PY" - "$COILD_PORT" >"$WORK/direct.out" 2>&1 <<'EOF' || die "direct client: $(cat "$WORK/direct.out")"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print("local %s:%d" % s.getsockname())
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
got = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
except ConnectionResetError:
    pass
if got:
    sys.exit("got an answer: %r" % got)
print("closed")
EOF
grep -qx closed "$WORK/direct.out" || die "direct client: $(cat "$WORK/direct.out")"
local_addr=$(sed -n 's/^local //p' "$WORK/direct.out")
deadline=$((SECONDS + 5))
until grep -qF "PROXY header from $local_addr: " "$COILD_LOG"; do
    [ $SECONDS -lt $deadline ] || die "no log line for the direct connection: $(cat "$COILD_LOG")"
    sleep 0.05
done
grep -F "PROXY header from $local_addr: " "$COILD_LOG" | grep -qF "closing the connection" ||
    die "log line without the reason: $(grep -F "PROXY header from" "$COILD_LOG")"
grep -F "PROXY header from $local_addr: " "$COILD_LOG" | grep -qF "[coil.haproxy#warn]" ||
    die "the direct connection is not logged at WARN: $(grep -F "PROXY header" "$COILD_LOG")"
log "direct connection without a header: closed and logged"

stop_coild
log "ok ($BACKEND)"
