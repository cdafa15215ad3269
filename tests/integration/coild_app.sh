#!/bin/bash
# SPDX-License-Identifier: MIT
# `coild -y APP.so` (the C counterpart of `twistd -y app.tac`),
# `--plugin P.so` and `--logger L.so` on $COIL_REACTOR, with the example
# modules built next to coild; then broken modules: a missing entry point,
# a file that is not a shared object, a missing file, an entry point that
# fails: each exits non-zero with a clear message.
# Usage: coild_app.sh COILD COIL_CLIENT TEST_MODULE_DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
BROKEN=${3:?the directory of the test modules}/broken_app.so
MODS=$(dirname "$COILD")
R=--reactor=$BACKEND

# fg NAME ARGS...: coild -n in the background, output in $WORK/NAME.log.
fg() {
    local name=$1
    shift
    spawn "$WORK/$name.log" "$COILD" -n "$R" "$@"
    FPID=$SPAWNED_PID
}
# stop_fg NAME [LOG]: SIGTERM, exit 0, "Server Shut Down." in LOG
# (default: its output).
stop_fg() {
    kill -TERM "$FPID"
    wait_exit "$FPID" 15 || die "$1: no exit after SIGTERM"
    [ "$EXIT_STATUS" -eq 0 ] || die "$1: exit $EXIT_STATUS after SIGTERM: $(cat "$WORK/$1.log")"
    grep -qF "Server Shut Down." "${2:-$WORK/$1.log}" || die "$1: no 'Server Shut Down.'"
}
uring_skip() {
    if [ "$BACKEND" = uring ] && grep -q "cannot start the reactor" "$1"; then
        skip "io_uring unavailable here"
    fi
}
echo_ok() {
    local got
    got=$(timeout 10 "$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"ping\n")
print(s.recv(100).decode().strip())' "$1") || return 1
    [ "$got" = ping ]
}

# ---- -y: the example application, two ports, its own daily log observer ----
P1=$(free_port)
P2=$(free_port)
fg app -y "$MODS/echo_app.so" --name demo --port "tcp:$P1:interface=127.0.0.1" \
    --port "tcp:$P2:interface=127.0.0.1" --daily-log "$WORK/app-daily.txt"
# The application's observer takes over once the entry point returns: the
# listening lines go to its file.
deadline=$((SECONDS + 15))
until grep -qF "listening on 127.0.0.1:$P2" "$WORK/app-daily.txt" 2>/dev/null; do
    uring_skip "$WORK/app.log"
    alive "$FPID" || die "-y app exited: $(cat "$WORK/app.log")"
    [ $SECONDS -lt $deadline ] || die "-y app: not listening: $(cat "$WORK/app.log")"
    sleep 0.05
done
grep -qF "application 'demo' built with 2 port(s)" "$WORK/app.log" || die "entry point line missing"
echo_ok "$P1" || die "-y app: no echo on $P1"
echo_ok "$P2" || die "-y app: no echo on $P2"
stop_fg app
grep -qF "(TCP Port $P1 Closed)" "$WORK/app-daily.txt" || die "app observer: no port closed line"
# The runner's own last line goes back to the runner's log (the app's
# observer may be gone by then).
grep -qF "Server Shut Down." "$WORK/app.log" || die "no final line in the runner's log"
log "-y: two listeners, the application's own observer"

# -y daemonized: the command returns once it listens.
PORT=$(free_port)
RC=0
timeout 30 "$COILD" "$R" --pidfile "$WORK/appd.pid" -l "$WORK/appd.log" -y "$MODS/echo_app.so" \
    --port "tcp:$PORT:interface=127.0.0.1" >"$WORK/appd.out" 2>&1 || RC=$?
uring_skip "$WORK/appd.out"
[ $RC -eq 0 ] || die "-y daemon: exit $RC: $(cat "$WORK/appd.out")"
APID=$(cat "$WORK/appd.pid")
PIDS+=("$APID")
echo_ok "$PORT" || die "-y daemon: no echo"
kill -TERM "$APID"
deadline=$((SECONDS + 15))
while alive "$APID"; do
    [ $SECONDS -lt $deadline ] || die "-y daemon: alive after SIGTERM"
    sleep 0.05
done
[ ! -e "$WORK/appd.pid" ] || die "-y daemon: pid file left"
grep -qF "Main loop terminated." "$WORK/appd.log" || die "-y daemon: log: $(cat "$WORK/appd.log")"
log "-y daemonized ok"

# ---- --plugin and --logger --------------------------------------------------------
out=$("$COILD" --plugin "$MODS/hello_plugin.so" --help)
grep -qF "hello    greet every client" <<<"$out" || die "--help does not list the plugin: $out"
out=$("$COILD" --plugin "$MODS/hello_plugin.so" hello --help)
grep -qF -- "--greeting TEXT" <<<"$out" || die "plugin --help: $out"
PORT=$(free_port)
export COIL_LINE_LOGGER_FILE="$WORK/lines.txt"
fg plugin --logger "$MODS/line_logger.so" --plugin "$MODS/hello_plugin.so" hello \
    --greeting "good day" --port "tcp:$PORT:interface=127.0.0.1"
deadline=$((SECONDS + 15))
until grep -qF "info coil.tcp: listening on 127.0.0.1:$PORT" "$WORK/lines.txt" 2>/dev/null; do
    uring_skip "$WORK/plugin.log"
    alive "$FPID" || die "--plugin: exited: $(cat "$WORK/plugin.log")"
    [ $SECONDS -lt $deadline ] || die "--plugin: not listening"
    sleep 0.05
done
got=$(timeout 10 "$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
print(s.makefile().readline().strip())' "$PORT")
[ "$got" = "good day" ] || die "--plugin hello: got '$got'"
stop_fg plugin "$WORK/lines.txt"
grep -qF "info coild: Server Shut Down." "$WORK/lines.txt" || die "--logger: $(cat "$WORK/lines.txt")"
[ ! -s "$WORK/plugin.log" ] || die "--logger: the runner's own output is not empty: $(cat "$WORK/plugin.log")"
unset COIL_LINE_LOGGER_FILE
log "--plugin subcommand and --logger observer ok"

# ---- broken modules ---------------------------------------------------------------
# expect STATUS NAME TEXT ARGS...
expect() {
    local want=$1 name=$2 text=$3
    shift 3
    local rc=0
    timeout 20 "$COILD" -n "$R" "$@" >"$WORK/$name.log" 2>&1 </dev/null || rc=$?
    uring_skip "$WORK/$name.log"
    [ $rc -eq "$want" ] || die "coild $*: exit $rc, want $want: $(cat "$WORK/$name.log")"
    grep -qF -- "$text" "$WORK/$name.log" || die "coild $*: no '$text' in: $(cat "$WORK/$name.log")"
}
expect 1 nosym "does not export coil_application_main" -y "$MODS/line_logger.so"
echo "not an ELF file" >"$WORK/notso.so"
expect 1 notso "cannot load application $WORK/notso.so" -y "$WORK/notso.so"
expect 1 missing "cannot load application $WORK/missing.so" -y "$WORK/missing.so"
expect 1 failing "failed to start: No such file or directory" -y "$BROKEN"
grep -qF "refusing to start: no configuration" "$WORK/failing.log" || die "the entry point's own reason is lost"
grep -qF "Server Shut Down." "$WORK/failing.log" && die "a failed application logged 'Server Shut Down.'"
expect 1 badplugin "does not export coil_plugin" --plugin "$MODS/echo_app.so" echo
expect 1 twice "a plugin named 'hello' exists already" --plugin "$MODS/hello_plugin.so" \
    --plugin "$MODS/hello_plugin.so" hello
expect 1 badlogger "does not export coil_logger_factory" --logger "$MODS/echo_app.so" echo
expect 2 badapparg "echo_app: unknown argument '--bogus'" -y "$MODS/echo_app.so" --bogus
# A failing daemonized application: the status reaches the caller.
RC=0
timeout 30 "$COILD" "$R" --pidfile "$WORK/bd.pid" -l "$WORK/bd.log" -y "$BROKEN" >"$WORK/bd.out" 2>&1 || RC=$?
uring_skip "$WORK/bd.out"
[ $RC -eq 1 ] || die "broken daemon: exit $RC, want 1: $(cat "$WORK/bd.out")"
grep -qF "failed to start" "$WORK/bd.out" || die "broken daemon: $(cat "$WORK/bd.out")"
grep -qF "refusing to start: no configuration" "$WORK/bd.log" || die "broken daemon log: $(cat "$WORK/bd.log")"
log "ok ($BACKEND)"
