#!/bin/bash
# SPDX-License-Identifier: MIT
# `coild echo --port DESCRIPTION` with the endpoint grammar on $COIL_REACTOR:
# a UNIX socket with mode and lock file (checked on disk, echoed through
# coil's client endpoints and socat), tcp6 on ::1, a bare port with a
# positional interface, and a client "tcp:localhost:PORT" (HostnameEndpoint).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

# run_coild NAME DESCRIPTION TEXT: start coild echo on DESCRIPTION and wait
# for "coild: listening on TEXT". Sets COILD_PID and COILD_LOG.
run_coild() {
    COILD_LOG="$WORK/$1.log"
    spawn "$COILD_LOG" "$COILD" -n --reactor="$BACKEND" echo --port "$2"
    COILD_PID=$SPAWNED_PID
    if ! wait_for_line "$COILD_LOG" "coild: listening on $3" "$COILD_PID"; then
        if grep -q "cannot start the reactor" "$COILD_LOG" && [ "$BACKEND" = uring ]; then
            skip "io_uring unavailable here"
        fi
        die "coild --port $2 did not start: $(cat "$COILD_LOG")"
    fi
}

stop_it() {
    kill -TERM "$COILD_PID"
    wait_exit "$COILD_PID" 15 || die "coild did not exit within 15 s of SIGTERM"
    [ "$EXIT_STATUS" -eq 0 ] || die "coild exited with $EXIT_STATUS: $(cat "$COILD_LOG")"
}

# 1. UNIX: mode 600, lock file while running, both gone after the stop.
SOCK="$WORK/echo.sock"
run_coild unix "unix:address=$SOCK:mode=600" "unix:$SOCK"
[ "$(stat -c %a "$SOCK")" = 600 ] || die "socket mode is $(stat -c %a "$SOCK"), want 600"
[ -L "$SOCK.lock" ] || die "no lock file $SOCK.lock"
[ "$(readlink "$SOCK.lock")" = "$COILD_PID" ] || die "lock names $(readlink "$SOCK.lock")"
timeout 60 "$COIL_CLIENT" "unix:$SOCK" 262144 --connections 4 >"$WORK/cc-unix.log" 2>&1 ||
    die "coil_client unix: $(cat "$WORK/cc-unix.log")"
timeout 60 "$COIL_CLIENT" "unix:path=$SOCK:lockfile=1:timeout=5" 4096 >"$WORK/cc-pid.log" 2>&1 ||
    die "coil_client unix checkPID: $(cat "$WORK/cc-pid.log")"
if command -v socat >/dev/null; then
    out=$(printf 'hello over unix' | timeout 20 socat -t 5 - "UNIX-CONNECT:$SOCK") ||
        die "socat unix failed"
    [ "$out" = "hello over unix" ] || die "socat unix got '$out'"
fi
# A second coild on the same path is refused by the lock: exit 1, reason given.
rc=0
timeout 20 "$COILD" -n --reactor="$BACKEND" echo --port "unix:$SOCK" >"$WORK/unix2.log" 2>&1 || rc=$?
[ $rc -eq 1 ] || die "second coild on $SOCK: exit $rc, want 1: $(cat "$WORK/unix2.log")"
grep -qF "Couldn't listen on unix:$SOCK" "$WORK/unix2.log" ||
    die "second coild: no reason: $(cat "$WORK/unix2.log")"
stop_it
[ ! -e "$SOCK" ] || die "socket file left behind"
[ ! -L "$SOCK.lock" ] || die "lock file left behind"
# checkPID now fails: nobody holds the lock.
rc=0
timeout 20 "$COIL_CLIENT" "unix:$SOCK:lockfile=1" 16 >"$WORK/cc-nopid.log" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -qF "no running process holds" "$WORK/cc-nopid.log" ||
    die "checkPID without a server: exit $rc: $(cat "$WORK/cc-nopid.log")"
log "unix: ok"

# 2. tcp6 on ::1 (if this machine has IPv6 loopback).
if "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    run_coild tcp6 'tcp6:0:interface=\:\:1' "[::1]:"
    PORT6=$(sed -n 's/^coild: listening on \[::1\]:\([0-9]*\)$/\1/p' "$COILD_LOG")
    timeout 60 "$COIL_CLIENT" "tcp:\\:\\:1:$PORT6" 65536 --connections 2 >"$WORK/cc6.log" 2>&1 ||
        die "coil_client tcp6: $(cat "$WORK/cc6.log")"
    stop_it
    log "tcp6: ok"
else
    log "no IPv6 loopback: tcp6 leg skipped"
fi

# 3. A bare port with a positional interface ("0:127.0.0.1" = tcp:0:127.0.0.1),
# reached by name through the hostname endpoint when "localhost" resolves.
run_coild bare "0:127.0.0.1" "127.0.0.1:"
PORT=$(sed -n 's/^coild: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$COILD_LOG")
timeout 60 "$COIL_CLIENT" "$PORT" 65536 >"$WORK/cc-bare.log" 2>&1 ||
    die "coil_client: $(cat "$WORK/cc-bare.log")"
if getent ahostsv4 localhost >/dev/null 2>&1; then
    timeout 60 "$COIL_CLIENT" "tcp:localhost:$PORT:timeout=10" 65536 --connections 2 \
        >"$WORK/cc-name.log" 2>&1 || die "coil_client tcp:localhost: $(cat "$WORK/cc-name.log")"
    log "hostname endpoint: ok"
else
    log "localhost does not resolve here: hostname leg skipped"
fi
stop_it
# The listen backlog: SOMAXCONN (capped by the kernel's somaxconn) unless
# the description gives one, by keyword or by position, also inside
# haproxy: (ss shows a listener's backlog as its Send-Q).
if command -v ss >/dev/null; then
    want=$(( $(cat /proc/sys/net/core/somaxconn) < 4096 ? $(cat /proc/sys/net/core/somaxconn) : 4096 ))
    for spec in "tcp:PORT:interface=127.0.0.1|$want" "tcp:PORT:interface=127.0.0.1:backlog=7|7" \
                "PORT:127.0.0.1:9|9" "haproxy:tcp:PORT:interface=127.0.0.1|$want" \
                "haproxy:tcp:PORT:interface=127.0.0.1:backlog=5|5"; do
        port=$(free_port)
        desc=${spec%|*}
        desc=${desc//PORT/$port}
        run_coild "backlog-$port" "$desc" "127.0.0.1:$port"
        got=$(ss -Hltn "sport = :$port" | awk '{print $3}')
        [ "$got" = "${spec#*|}" ] || die "--port $desc: backlog $got, want ${spec#*|}"
        stop_it
    done
fi
log "ok ($BACKEND)"
