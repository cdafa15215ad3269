#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `coild echo --port systemd:...` started by systemd-socket-activate on
# $COIL_REACTOR: the socket is created and listened on by
# systemd-socket-activate, which execs coild (same pid) at the first
# connection with LISTEN_PID/LISTEN_FDS(/LISTEN_FDNAMES) set. That first
# connection waits in the backlog until coild adopts the socket, so it is
# echoed too. Covered: TCP by index (no LISTEN_FDNAMES at all), TCP by
# name (--fdname), UNIX, an index out of range (exit 1 with the reason),
# no socket passed, and SIGTERM (exit 0).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

SSA=$(command -v systemd-socket-activate || true)
[ -n "$SSA" ] || skip "systemd-socket-activate not installed"

# activate NAME ADDR DESCRIPTION [systemd-socket-activate options...]:
# systemd-socket-activate listening on ADDR ("PORT" means a free port on
# 127.0.0.1, retried if it is taken meanwhile), set to exec coild echo on
# DESCRIPTION. Returns once the socket listens. Sets SA_PID, SA_LOG and
# SA_ADDR (the address, with the port filled in).
activate() {
    local name=$1 addr=$2 desc=$3
    shift 3
    local _attempt
    SA_LOG="$WORK/$name.log"
    for _attempt in 1 2 3 4 5; do
        SA_ADDR=$addr
        [ "$addr" != PORT ] || SA_ADDR="127.0.0.1:$(free_port)"
        spawn "$SA_LOG" "$SSA" -l "$SA_ADDR" "$@" \
            "$COILD" -n --reactor="$BACKEND" --log-level=info echo --port "$desc"
        SA_PID=$SPAWNED_PID
        if wait_for_line "$SA_LOG" "Listening on $SA_ADDR as 3." "$SA_PID"; then
            return 0
        fi
        grep -qi "address already in use" "$SA_LOG" ||
            die "systemd-socket-activate did not start: $(cat "$SA_LOG")"
        wait "$SA_PID" 2>/dev/null || true
    done
    die "systemd-socket-activate: no free port after 5 attempts"
}

# uring_check: skip when coild could not start io_uring here.
uring_check() {
    if [ "$BACKEND" = uring ] && grep -q "cannot start the reactor" "$SA_LOG"; then
        skip "io_uring unavailable here: $(cat "$SA_LOG")"
    fi
}

# echo_check TARGET NBYTES [coil_client options]: an echo through coil_client.
echo_check() {
    local target=$1
    shift
    local out="$WORK/cc-$RANDOM.log"
    if ! timeout 60 "$COIL_CLIENT" "$target" "$@" >"$out" 2>&1; then
        uring_check
        die "coil_client $target $*: $(cat "$out")"
    fi
}

# socat_check ADDRESS: "hello" through socat (if installed).
socat_check() {
    command -v socat >/dev/null || return 0
    local out
    out=$(printf 'hello systemd' | timeout 20 socat -t 5 - "$1") || die "socat $1 failed"
    [ "$out" = "hello systemd" ] || die "socat $1 got '$out'"
}

# trigger PORT: one connection, which makes systemd-socket-activate exec
# coild. The connect itself may fail: a coild that exits at once closes the
# socket, which resets the queued connection, perhaps before the connect
# call returns.
trigger() {
    "$PY" -c 'import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10).close()
except ConnectionError:
    pass' "$1" || die "cannot connect to 127.0.0.1:$1"
}

# stop_it: SIGTERM, exit status 0.
stop_it() {
    kill -TERM "$SA_PID"
    wait_exit "$SA_PID" 15 || die "coild did not exit within 15 s of SIGTERM"
    [ "$EXIT_STATUS" -eq 0 ] || die "coild exited with $EXIT_STATUS: $(cat "$SA_LOG")"
    grep -qF "Received SIGTERM, shutting down." "$SA_LOG" || die "no 'Received SIGTERM' line"
    grep -qF "Server Shut Down." "$SA_LOG" || die "no 'Server Shut Down.' line"
}

# 1. TCP by index. systemd-socket-activate sets no LISTEN_FDNAMES without
# --fdname: the index still works (Twisted trunk would pass nothing).
activate tcp-index PORT "systemd:domain=INET:index=0"
PORT=${SA_ADDR##*:}
# The first connection starts coild (exec in place: same pid).
echo_check "$PORT" 65536
wait_for_line "$SA_LOG" "coild: listening on $SA_ADDR" "$SA_PID" ||
    die "coild did not adopt the socket: $(cat "$SA_LOG")"
grep -qF "Execing $COILD" "$SA_LOG" || die "no 'Execing' line: $(cat "$SA_LOG")"
echo_check "$PORT" 262144 --connections 4
socat_check "TCP:$SA_ADDR"
stop_it
log "tcp index: ok"

# 2. TCP by name.
activate tcp-name PORT "systemd:domain=INET:name=echo" --fdname=echo
PORT=${SA_ADDR##*:}
echo_check "$PORT" 65536
wait_for_line "$SA_LOG" "coild: listening on $SA_ADDR" "$SA_PID" ||
    die "coild did not adopt the socket: $(cat "$SA_LOG")"
echo_check "tcp:127.0.0.1:$PORT" 4096 --connections 2
socat_check "TCP:$SA_ADDR"
stop_it
log "tcp name: ok"

# 3. UNIX.
SOCK="$WORK/echo.sock"
activate unix "$SOCK" "systemd:domain=UNIX:index=0"
echo_check "unix:$SOCK" 65536
wait_for_line "$SA_LOG" "coild: listening on unix:$SOCK" "$SA_PID" ||
    die "coild did not adopt the socket: $(cat "$SA_LOG")"
echo_check "unix:$SOCK" 262144 --connections 4
socat_check "UNIX-CONNECT:$SOCK"
stop_it
log "unix: ok"

# 4. An index that was not passed: coild exits 1 and says why.
activate bad-index PORT "systemd:domain=INET:index=5"
PORT=${SA_ADDR##*:}
trigger "$PORT"
wait_exit "$SA_PID" 15 || die "coild with index=5 did not exit: $(cat "$SA_LOG")"
uring_check
[ "$EXIT_STATUS" -eq 1 ] || die "coild with index=5: exit $EXIT_STATUS, want 1: $(cat "$SA_LOG")"
grep -qF "Couldn't listen on systemd socket index 5: index out of range (1 socket was passed)." \
    "$SA_LOG" || die "coild with index=5: no reason: $(cat "$SA_LOG")"
log "index out of range: ok"

# 5. A family that does not match.
activate bad-family PORT "systemd:domain=UNIX:index=0"
PORT=${SA_ADDR##*:}
trigger "$PORT"
wait_exit "$SA_PID" 15 || die "coild with domain=UNIX did not exit: $(cat "$SA_LOG")"
uring_check
[ "$EXIT_STATUS" -eq 1 ] || die "coild with domain=UNIX: exit $EXIT_STATUS: $(cat "$SA_LOG")"
grep -qF "Couldn't listen on systemd socket index 0: descriptor 3 is AF_INET, not AF_UNIX." \
    "$SA_LOG" || die "coild with domain=UNIX: no reason: $(cat "$SA_LOG")"
log "family mismatch: ok"

# 6. Not socket-activated at all.
rc=0
env -u LISTEN_PID -u LISTEN_FDS -u LISTEN_FDNAMES \
    timeout 20 "$COILD" -n --reactor="$BACKEND" echo --port "systemd:domain=INET:index=0" \
    >"$WORK/none.log" 2>&1 || rc=$?
if [ "$BACKEND" = uring ] && grep -q "cannot start the reactor" "$WORK/none.log"; then
    skip "io_uring unavailable here"
fi
[ $rc -eq 1 ] || die "coild without sockets: exit $rc, want 1: $(cat "$WORK/none.log")"
grep -qF "no sockets were passed (LISTEN_FDS/LISTEN_PID not set for this process)" \
    "$WORK/none.log" || die "coild without sockets: no reason: $(cat "$WORK/none.log")"
log "no sockets: ok"
log "ok ($BACKEND)"
