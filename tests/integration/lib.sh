# SPDX-License-Identifier: MIT
# Shared helpers for the integration scripts (sourced, not run).
#
# Every script is called as: SCRIPT COILD COIL_CLIENT, with the backend in
# $COIL_REACTOR (uring or poll). Processes started through `spawn` are
# killed on every exit path; the scratch directory is removed; the logs of
# a failed run are printed.

set -euo pipefail

COILD=${1:?usage: $0 COILD COIL_CLIENT}
COIL_CLIENT=${2:-} # used by the scripts that source this file
export COIL_CLIENT
BACKEND=${COIL_REACTOR:-poll}
# Debian's Twisted only imports with Debian's interpreter.
PY=/usr/bin/python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/coil-it.XXXXXX")
PIDS=()

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() {
    log "FAIL: $*"
    exit 1
}
skip() {
    log "SKIP: $*"
    exit 77
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    local deadline=$((SECONDS + 3))
    for pid in "${PIDS[@]}"; do
        while alive "$pid" && [ $SECONDS -lt $deadline ]; do
            sleep 0.05
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        local f
        for f in "$WORK"/*.log; do
            [ -e "$f" ] || continue
            echo "---- $(basename "$f") ----" >&2
            tail -n 50 "$f" >&2
        done
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 143' INT TERM

[ -x "$PY" ] || skip "$PY not found"
[ -x "$COILD" ] || die "coild not found at $COILD"

# alive PID: the process exists and is not a zombie.
alive() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# Run a command in the background, remembering its pid for cleanup.
# Usage: spawn LOGFILE CMD ARGS...   (sets SPAWNED_PID)
spawn() {
    local logf=$1
    shift
    "$@" >"$logf" 2>&1 &
    SPAWNED_PID=$!
    PIDS+=("$SPAWNED_PID")
}

# A port that was free a moment ago on 127.0.0.1.
free_port() {
    "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# wait_for_line FILE TEXT PID [SECONDS]: until FILE contains TEXT (fixed
# string). Fails when PID exits first or the time runs out.
wait_for_line() {
    local file=$1 text=$2 pid=$3 secs=${4:-15}
    local deadline=$((SECONDS + secs))
    while ! grep -qF -- "$text" "$file" 2>/dev/null; do
        if ! alive "$pid"; then
            return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            return 1
        fi
        sleep 0.05
    done
}

# wait_listening TARGET [PID]: until a connect to TARGET (a port on
# 127.0.0.1, or a UNIX socket's path) succeeds, for up to 10 s; fails
# sooner when PID exits. A socket file is not enough: a listener binds
# (which makes the file) before it listens, and a connect in between is
# refused.
wait_listening() {
    local target=$1 pid=${2:-} _try
    for _try in $(seq 200); do
        "$PY" - "$target" 2>/dev/null <<'EOF_PY' && return 0
import socket, sys
t = sys.argv[1]
if t.isdigit():
    socket.create_connection(("127.0.0.1", int(t)), 1).close()
else:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(1)
    s.connect(t)
    s.close()
EOF_PY
        if [ -n "$pid" ] && ! alive "$pid"; then
            return 1
        fi
        sleep 0.05
    done
    return 1
}

# wait_exit PID SECONDS: wait for PID to exit; sets EXIT_STATUS. Fails on
# timeout (the process is left to cleanup).
wait_exit() {
    local pid=$1 secs=$2
    local deadline=$((SECONDS + secs))
    while alive "$pid"; do
        if [ $SECONDS -ge $deadline ]; then
            return 1
        fi
        sleep 0.05
    done
    EXIT_STATUS=0
    wait "$pid" || EXIT_STATUS=$?
}

# start_coild NAME PLUGIN [PLUGIN OPTIONS...]: start coild on a fresh
# loopback port (retrying if someone took it meanwhile) and wait until it
# listens. Sets COILD_PID, COILD_PORT, COILD_LOG.
start_coild() {
    local name=$1
    shift
    local _attempt
    for _attempt in 1 2 3 4 5; do
        COILD_PORT=$(free_port)
        COILD_LOG="$WORK/$name.log"
        spawn "$COILD_LOG" "$COILD" -n --reactor="$BACKEND" --log-level=info "$@" \
            --port "tcp:$COILD_PORT:interface=127.0.0.1"
        COILD_PID=$SPAWNED_PID
        if wait_for_line "$COILD_LOG" "coild: listening on 127.0.0.1:$COILD_PORT" "$COILD_PID"; then
            return 0
        fi
        if grep -q "cannot start the reactor" "$COILD_LOG" && [ "$BACKEND" = uring ]; then
            skip "io_uring unavailable here: $(cat "$COILD_LOG")"
        fi
        if ! grep -q "Address already in use" "$COILD_LOG"; then
            die "coild did not start: $(cat "$COILD_LOG")"
        fi
        wait "$COILD_PID" 2>/dev/null || true
    done
    die "coild: no free port after 5 attempts"
}

# stop_coild: SIGTERM, then expect exit status 0 and the shutdown lines.
stop_coild() {
    kill -TERM "$COILD_PID"
    wait_exit "$COILD_PID" 15 || die "coild did not exit within 15 s of SIGTERM"
    [ "$EXIT_STATUS" -eq 0 ] || die "coild exited with $EXIT_STATUS after SIGTERM"
    grep -qF "Received SIGTERM, shutting down." "$COILD_LOG" || die "no 'Received SIGTERM' line"
    grep -qF "(TCP Port $COILD_PORT Closed)" "$COILD_LOG" || die "no 'Port Closed' line"
    grep -qF "Server Shut Down." "$COILD_LOG" || die "no 'Server Shut Down.' line"
}

# The backend name coil logs for $BACKEND.
backend_name() {
    case "$BACKEND" in
    uring) echo io_uring ;;
    *) echo "$BACKEND" ;;
    esac
}
