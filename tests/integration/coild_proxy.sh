#!/bin/bash
# SPDX-License-Identifier: MIT
# `coild proxy` end to end on $COIL_REACTOR, in front of `coild echo`:
# 8 MiB through socat and back (the client half-closes; every byte must
# still come back), 8 concurrent Python clients, coil's own client, a
# target that refuses (the client's connection is closed), bad options,
# and a clean SIGTERM stop.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

command -v socat >/dev/null || skip "socat not installed"
MIB=1048576

start_coild echo echo
ECHO_PORT=$COILD_PORT
ECHO_PID=$COILD_PID
start_coild proxy proxy --target "tcp:host=127.0.0.1:port=$ECHO_PORT"
grep -qF "forwarding to tcp:host=127.0.0.1:port=$ECHO_PORT" "$COILD_LOG" ||
    die "no 'forwarding to' line: $(cat "$COILD_LOG")"

# 8 MiB up and the same 8 MiB back down, checked by hash; socat shuts its
# write side down at the end of the input and reads until the close.
head -c $((8 * MIB)) /dev/urandom >"$WORK/in.bin"
timeout 90 socat -t 60 -T 60 - "TCP:127.0.0.1:$COILD_PORT" <"$WORK/in.bin" >"$WORK/out.bin" ||
    die "socat through the proxy failed"
want=$(sha256sum <"$WORK/in.bin")
got=$(sha256sum <"$WORK/out.bin")
[ "$want" = "$got" ] || die "8 MiB through the proxy: hash differs ($(stat -c %s "$WORK/out.bin") bytes back)"
log "socat: 8 MiB both ways intact"

timeout 90 "$PY" "$HERE/netclient.py" echo "$COILD_PORT" $MIB 8 >"$WORK/py8.log" 2>&1 ||
    die "python echo clients through the proxy: $(cat "$WORK/py8.log")"
if [ -n "$COIL_CLIENT" ]; then
    timeout 60 "$COIL_CLIENT" "$COILD_PORT" $MIB --half-close --connections 4 >"$WORK/cc.log" 2>&1 ||
        die "coil_client --half-close through the proxy: $(cat "$WORK/cc.log")"
fi

# Stop the upstream: new connections through the proxy are closed at once.
kill -TERM "$ECHO_PID"
wait_exit "$ECHO_PID" 15 || die "coild echo did not stop"
out=$(printf 'anyone?' | timeout 20 socat -t 10 - "TCP:127.0.0.1:$COILD_PORT") || true
[ -z "$out" ] || die "got '$out' from a proxy without target"
wait_for_line "$COILD_LOG" "connecting to the target failed" "$COILD_PID" ||
    die "no connect failure logged: $(cat "$COILD_LOG")"
grep -qF "Connection refused" "$COILD_LOG" || die "the failure does not say why"
stop_coild

# Bad options: usage errors (exit 2) with the reason.
st=0
timeout 10 "$COILD" -n proxy --port tcp:0 >"$WORK/bad1.log" 2>&1 || st=$?
if [ "$st" -ne 2 ] || ! grep -q "target is required" "$WORK/bad1.log"; then
    die "missing --target: exit $st: $(cat "$WORK/bad1.log")"
fi
st=0
timeout 10 "$COILD" -n proxy --port tcp:0 --target bogus:1 >"$WORK/bad2.log" 2>&1 || st=$?
if [ "$st" -ne 2 ] || ! grep -q "invalid --target" "$WORK/bad2.log"; then
    die "bad --target: exit $st: $(cat "$WORK/bad2.log")"
fi
log "ok ($BACKEND)"
