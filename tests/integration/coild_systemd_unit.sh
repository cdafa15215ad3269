#!/bin/bash
# SPDX-License-Identifier: MIT
# The systemd examples under docs/systemd/ on $COIL_REACTOR: every unit
# passes `systemd-analyze verify` (with ExecStart pointing at this build's
# coild), and the socket-activated pair runs: systemd-socket-activate
# listens where coild-echo.socket says (on a free port) and execs
# coild-echo.service's ExecStart, which echoes and stops on SIGTERM.
# The daemon unit's command line starts and stops as its Type=forking says.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
UNITS="$HERE/../../docs/systemd"
COILD=$(readlink -f "$COILD")
R=--reactor=$BACKEND

# exec_start UNIT: its ExecStart line, with this build's coild.
exec_start() {
    sed -n 's/^ExecStart=//p' "$1" | sed "s|/usr/local/bin/coild|$COILD|"
}

# ---- systemd-analyze verify -----------------------------------------------------
if command -v systemd-analyze >/dev/null; then
    mkdir "$WORK/units"
    for u in "$UNITS"/*.service "$UNITS"/*.socket; do
        sed "s|/usr/local/bin/coild|$COILD|" "$u" >"$WORK/units/$(basename "$u")"
    done
    # Without a running systemd verify still parses and checks each unit.
    if ! (cd "$WORK/units" && SYSTEMD_LOG_LEVEL=warning timeout 60 systemd-analyze verify \
        --man=no ./*.socket ./*.service) >"$WORK/verify.log" 2>&1; then
        # Complaints about the machine (no D-Bus, no /run/systemd) are not
        # about the units; anything naming our units is.
        if grep -q "coild-" "$WORK/verify.log"; then
            die "systemd-analyze verify: $(cat "$WORK/verify.log")"
        fi
        log "systemd-analyze could not run fully here: $(head -3 "$WORK/verify.log")"
    fi
    grep "coild-" "$WORK/verify.log" && die "systemd-analyze warns about the units: $(cat "$WORK/verify.log")"
    log "systemd-analyze verify: units clean"
else
    log "systemd-analyze not installed: verify skipped"
fi

# ---- the socket-activated pair ---------------------------------------------------
SSA=$(command -v systemd-socket-activate || true)
[ -n "$SSA" ] || skip "systemd-socket-activate not installed"
grep -q '^ListenStream=127.0.0.1:' "$UNITS/coild-echo.socket" || die "socket unit: no ListenStream"
read -r -a CMD <<<"$(exec_start "$UNITS/coild-echo.service")"
for _attempt in 1 2 3 4 5; do
    PORT=$(free_port)
    spawn "$WORK/sa.log" "$SSA" -l "127.0.0.1:$PORT" "${CMD[0]}" "$R" "${CMD[@]:1}"
    SA=$SPAWNED_PID
    wait_for_line "$WORK/sa.log" "Listening on 127.0.0.1:$PORT" "$SA" && break
    grep -qi "address already in use" "$WORK/sa.log" || die "systemd-socket-activate: $(cat "$WORK/sa.log")"
done
got=$(timeout 20 "$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
s.sendall(b"activated\n")
print(s.recv(100).decode().strip())' "$PORT") || true
if [ "$got" != activated ]; then
    if [ "$BACKEND" = uring ] && grep -q "cannot start the reactor" "$WORK/sa.log"; then
        skip "io_uring unavailable here"
    fi
    die "socket-activated coild did not echo ('$got'): $(cat "$WORK/sa.log")"
fi
kill -TERM "$SA"
wait_exit "$SA" 15 || die "socket-activated coild: no exit after SIGTERM"
[ "$EXIT_STATUS" -eq 0 ] || die "socket-activated coild: exit $EXIT_STATUS"
grep -qF "Server Shut Down." "$WORK/sa.log" || die "no 'Server Shut Down.': $(cat "$WORK/sa.log")"
log "socket activation: echo and clean stop"

# ---- the daemon unit's command line (Type=forking) -------------------------------
read -r -a CMD <<<"$(exec_start "$UNITS/coild-daemon.service")"
PORT=$(free_port)
ARGS=()
for a in "${CMD[@]:1}"; do
    case $a in
    --pidfile=*) a="--pidfile=$WORK/daemon.pid" ;;
    --logfile=*) a="--logfile=$WORK/daemon.log" ;;
    tcp:*) a="tcp:$PORT:interface=127.0.0.1" ;;
    esac
    ARGS+=("$a")
done
if [ "$(id -u)" -ne 0 ]; then
    # -u needs root; drop the option pair.
    ARGS=("${ARGS[@]/nobody/$(id -un)}")
fi
chmod 755 "$WORK"
RC=0
timeout 30 "${CMD[0]}" "$R" "${ARGS[@]}" >"$WORK/daemon.out" 2>&1 || RC=$?
[ $RC -eq 0 ] || die "daemon unit command: exit $RC: $(cat "$WORK/daemon.out")"
DPID=$(cat "$WORK/daemon.pid")
PIDS+=("$DPID")
got=$(timeout 20 "$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
s.sendall(b"forking\n")
print(s.recv(100).decode().strip())' "$PORT") || true
[ "$got" = forking ] || die "daemon unit: no echo ('$got')"
kill -TERM "$DPID"
deadline=$((SECONDS + 15))
while alive "$DPID"; do
    [ $SECONDS -lt $deadline ] || die "daemon unit: alive after SIGTERM"
    sleep 0.05
done
grep -qF "Server Shut Down." "$WORK/daemon.log" || die "daemon unit: $(cat "$WORK/daemon.log")"
log "ok ($BACKEND)"
