#!/bin/bash
# SPDX-License-Identifier: MIT
# `coild echo` end to end on $COIL_REACTOR: 1 MiB of random data through
# socat and through a plain Python client, each followed by FIN: every byte
# must come back before the server closes. Then coil's own client with
# several connections, and a clean SIGTERM stop with a connection open.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

MIB=1048576
start_coild echo echo
grep -qF "starting echo on $(backend_name)" "$COILD_LOG" || die "wrong backend: $(cat "$COILD_LOG")"
grep -qF "reactor backend: $(backend_name)" "$COILD_LOG" || die "backend choice not logged"

# socat: stdin -> server, then shutdown(SHUT_WR) at EOF; -t waits for the
# server's close after that.
head -c $MIB /dev/urandom >"$WORK/in.bin"
if command -v socat >/dev/null; then
    timeout 60 socat -t 30 -T 30 - "TCP:127.0.0.1:$COILD_PORT" <"$WORK/in.bin" >"$WORK/out.bin" ||
        die "socat failed"
    cmp "$WORK/in.bin" "$WORK/out.bin" || die "socat: echoed bytes differ ($(stat -c %s "$WORK/out.bin") bytes back)"
    log "socat: 1 MiB echoed intact"
else
    log "socat not installed: socat leg skipped"
fi

# Python sockets: 1 MiB, then 8 concurrent connections of 256 KiB.
timeout 60 "$PY" "$HERE/netclient.py" echo "$COILD_PORT" $MIB >"$WORK/py1.log" 2>&1 ||
    die "python echo client: $(cat "$WORK/py1.log")"
timeout 60 "$PY" "$HERE/netclient.py" echo "$COILD_PORT" 262144 8 >"$WORK/py8.log" 2>&1 ||
    die "python echo client x8: $(cat "$WORK/py8.log")"

# coil's own client (same backend), with and without half-close.
if [ -n "$COIL_CLIENT" ]; then
    timeout 60 "$COIL_CLIENT" "$COILD_PORT" $MIB --half-close --connections 4 >"$WORK/cc1.log" 2>&1 ||
        die "coil_client --half-close: $(cat "$WORK/cc1.log")"
    timeout 60 "$COIL_CLIENT" "$COILD_PORT" 65536 --connections 16 >"$WORK/cc2.log" 2>&1 ||
        die "coil_client: $(cat "$WORK/cc2.log")"
fi

# An idle connection is open when SIGTERM arrives: coild closes it and
# exits 0.
spawn "$WORK/idle.log" timeout 60 "$PY" "$HERE/netclient.py" idle "$COILD_PORT" "$WORK/ready"
IDLE_PID=$SPAWNED_PID
for _ in $(seq 200); do
    [ -s "$WORK/ready" ] && break
    sleep 0.05
done
[ -s "$WORK/ready" ] || die "idle client did not connect"
sleep 0.2
stop_coild
wait_exit "$IDLE_PID" 15 || die "idle client still waiting after coild exited"
grep -qx EOF "$WORK/idle.log" || die "idle client saw: $(cat "$WORK/idle.log")"
log "ok ($BACKEND)"
