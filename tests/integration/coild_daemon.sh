#!/bin/bash
# SPDX-License-Identifier: MIT
# `coild` as a daemon on $COIL_REACTOR (twistd's default): the command
# returns once the daemon listens, the pid file names the daemon, it
# serves an echo, SIGTERM stops it, the pid file is gone and the log file
# holds twistd's lines. Then: a live pid file refuses a second start, a
# stale one is replaced (logged), a non-numeric one is an error; a daemon
# that cannot listen makes the command fail with the daemon's reason and
# status; repeated --port adds listeners; --log-format=json parses; the
# UNIX lock error gives the true reason in the log and on stderr.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

R=--reactor=$BACKEND

# daemon NAME ARGS...: run `coild` (daemonizing) with a pid file and log
# file in $WORK/NAME.{pid,log}; its output goes to $WORK/NAME.out. Sets
# RC and, on success, DPID (added to the processes cleanup stops).
daemon() {
    local name=$1
    shift
    RC=0
    timeout 30 "$COILD" "$R" --pidfile "$WORK/$name.pid" -l "$WORK/$name.log" "$@" \
        >"$WORK/$name.out" 2>&1 </dev/null || RC=$?
    if [ $RC -ne 0 ] && [ "$BACKEND" = uring ] && grep -q "cannot start the reactor" "$WORK/$name.out"; then
        skip "io_uring unavailable here: $(cat "$WORK/$name.out")"
    fi
    DPID=
    if [ -s "$WORK/$name.pid" ]; then
        DPID=$(cat "$WORK/$name.pid")
        PIDS+=("$DPID")
    fi
}

# stop_daemon NAME: SIGTERM the daemon, wait until it is gone.
stop_daemon() {
    kill -TERM "$DPID"
    local deadline=$((SECONDS + 15))
    while alive "$DPID"; do
        [ $SECONDS -lt $deadline ] || die "$1: daemon $DPID still alive 15 s after SIGTERM"
        sleep 0.05
    done
}

echo_ok() { # PORT: one line echoed by the server on 127.0.0.1:PORT
    local got
    got=$(timeout 10 "$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"ping\n")
print(s.recv(100).decode().strip())' "$1") || return 1
    [ "$got" = ping ]
}

# ---- daemonize, serve, SIGTERM ------------------------------------------------
PORT=$(free_port)
daemon d1 echo --port "tcp:$PORT:interface=127.0.0.1"
[ $RC -eq 0 ] || die "daemon start: exit $RC: $(cat "$WORK/d1.out")"
[ -n "$DPID" ] || die "no pid file after the command returned"
grep -qE '^[0-9]+$' "$WORK/d1.pid" || die "pid file is not a bare number: $(cat "$WORK/d1.pid")"
alive "$DPID" || die "the pid file's process $DPID is not running"
[ "$DPID" != "$$" ] || die "pid file names the test"
# Detached: another session, no terminal, stdin on /dev/null, cwd /.
[ "$(ps -o sid= -p "$DPID" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ] ||
    die "daemon still in the caller's session"
[ "$(sed 's/.*) //' "/proc/$DPID/stat" | cut -d' ' -f5)" = 0 ] || die "daemon has a controlling terminal"
[ "$(readlink "/proc/$DPID/fd/0")" = /dev/null ] || die "daemon stdin is not /dev/null"
[ "$(readlink "/proc/$DPID/cwd")" = / ] || die "daemon cwd is not /"
# Daemon default umask 0077.
grep -q '^Umask:[[:space:]]*0077' "/proc/$DPID/status" || die "daemon umask: $(grep Umask "/proc/$DPID/status")"
echo_ok "$PORT" || die "the daemon does not echo"
stop_daemon d1
[ ! -e "$WORK/d1.pid" ] || die "pid file left behind after SIGTERM"
for line in "coild $(sed -n 's/^project(coil VERSION \([0-9.]*\).*/\1/p' "$HERE/../../CMakeLists.txt")" \
    "starting echo on $(backend_name)" "Starting factory" "listening on 127.0.0.1:$PORT" \
    "Received SIGTERM, shutting down." "(TCP Port $PORT Closed)" "Stopping factory" \
    "Main loop terminated." "Server Shut Down."; do
    grep -qF -- "$line" "$WORK/d1.log" || die "log file lacks '$line': $(cat "$WORK/d1.log")"
done
[ ! -s "$WORK/d1.out" ] || die "a daemon that started must print nothing: $(cat "$WORK/d1.out")"
log "daemon: pid file, echo, SIGTERM, log lines ok"

# ---- pid files ----------------------------------------------------------------------
PORT=$(free_port)
daemon live echo --port "tcp:$PORT:interface=127.0.0.1"
[ $RC -eq 0 ] || die "live: exit $RC: $(cat "$WORK/live.out")"
LIVE=$DPID
# A second coild with the same pid file refuses to start.
RC=0
timeout 30 "$COILD" "$R" --pidfile "$WORK/live.pid" -l "$WORK/live2.log" echo \
    --port "tcp:0:interface=127.0.0.1" >"$WORK/live2.out" 2>&1 || RC=$?
[ $RC -eq 1 ] || die "live pid file: exit $RC, want 1: $(cat "$WORK/live2.out")"
grep -qF "Another coild server is running, PID $LIVE" "$WORK/live2.out" ||
    die "live pid file: message: $(cat "$WORK/live2.out")"
[ "$(cat "$WORK/live.pid")" = "$LIVE" ] || die "the live pid file was changed"
stop_daemon live

# A stale pid file (a process that is gone) is replaced, with a log line.
"$PY" -c 'import subprocess; p = subprocess.Popen(["true"]); p.wait(); print(p.pid)' >"$WORK/stale.pid"
STALE=$(cat "$WORK/stale.pid")
PORT=$(free_port)
daemon stale echo --port "tcp:$PORT:interface=127.0.0.1"
[ $RC -eq 0 ] || die "stale: exit $RC: $(cat "$WORK/stale.out")"
[ "$DPID" != "$STALE" ] || die "stale pid file not rewritten"
grep -qF "Removing stale pidfile $WORK/stale.pid" "$WORK/stale.log" || die "no stale pidfile line: $(cat "$WORK/stale.log")"
stop_daemon stale

# Non-numeric content: a clear error, the file untouched.
echo "not a pid" >"$WORK/junk.pid"
daemon junk echo --port "tcp:0:interface=127.0.0.1"
[ $RC -eq 1 ] || die "junk pid file: exit $RC, want 1"
grep -qF "Pidfile $WORK/junk.pid contains non-numeric value" "$WORK/junk.out" || die "junk: $(cat "$WORK/junk.out")"
[ "$(cat "$WORK/junk.pid")" = "not a pid" ] || die "junk pid file changed"
log "pid files: live refused, stale replaced, non-numeric refused"

# ---- a daemon that fails reports through the status pipe ---------------------------
spawn "$WORK/holder.log" "$PY" -u -c 'import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print("holding", s.getsockname()[1], flush=True)
time.sleep(120)'
wait_for_line "$WORK/holder.log" holding "$SPAWNED_PID" 10 || die "port holder did not start"
HELD=$(sed -n 's/^holding \([0-9]*\)$/\1/p' "$WORK/holder.log")
daemon inuse echo --port "tcp:$HELD:interface=127.0.0.1"
[ $RC -eq 1 ] || die "port in use: exit $RC, want 1: $(cat "$WORK/inuse.out")"
grep -qF "Couldn't listen on 127.0.0.1:$HELD: Address already in use." "$WORK/inuse.out" ||
    die "port in use: the daemon's reason did not reach the caller: $(cat "$WORK/inuse.out")"
grep -qF "Couldn't listen on 127.0.0.1:$HELD: Address already in use." "$WORK/inuse.log" ||
    die "port in use: not in the log file"
[ ! -e "$WORK/inuse.pid" ] || die "a daemon that failed left its pid file"
grep -qF "Server Shut Down." "$WORK/inuse.log" && die "a server that never started logged 'Server Shut Down.'"
# A usage error found by the daemon (plugin option): its status, 2.
daemon badport echo --port tcp:notaport
[ $RC -eq 2 ] || die "bad --port in the daemon: exit $RC, want 2: $(cat "$WORK/badport.out")"
grep -qF "invalid --port 'tcp:notaport'" "$WORK/badport.out" || die "bad --port: $(cat "$WORK/badport.out")"
log "failures: reason and status reach the caller"

# ---- foreground runs: repeated --port, JSON, the UNIX lock ------------------------
P1=$(free_port)
P2=$(free_port)
spawn "$WORK/multi.log" "$COILD" -n "$R" echo --port "tcp:$P1:interface=127.0.0.1" \
    --port "tcp:$P2:interface=127.0.0.1"
MPID=$SPAWNED_PID
wait_for_line "$WORK/multi.log" "coild: listening on 127.0.0.1:$P2" "$MPID" ||
    die "repeated --port: $(cat "$WORK/multi.log")"
grep -qF "coild: listening on 127.0.0.1:$P1" "$WORK/multi.log" || die "repeated --port: first port dropped"
echo_ok "$P1" || die "no echo on the first --port"
echo_ok "$P2" || die "no echo on the second --port"
kill -TERM "$MPID"
wait_exit "$MPID" 15 || die "repeated --port: no exit after SIGTERM"
[ "$EXIT_STATUS" -eq 0 ] || die "repeated --port: exit $EXIT_STATUS"
grep -qF "(TCP Port $P1 Closed)" "$WORK/multi.log" && grep -qF "(TCP Port $P2 Closed)" "$WORK/multi.log" ||
    die "repeated --port: not both closed: $(cat "$WORK/multi.log")"
log "repeated --port: both listen, both close"

PORT=$(free_port)
spawn "$WORK/json.out" "$COILD" -n "$R" --log-format=json echo --port "tcp:$PORT:interface=127.0.0.1"
JPID=$SPAWNED_PID
wait_for_line "$WORK/json.out" "listening on 127.0.0.1:$PORT" "$JPID" || die "json: $(cat "$WORK/json.out")"
kill -TERM "$JPID"
wait_exit "$JPID" 15 || die "json: no exit"
"$PY" - "$WORK/json.out" <<'PY' || die "json output does not parse: $(cat "$WORK/json.out")"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
texts = [e["text"] for e in events]
assert all({"time", "level", "system", "text"} <= e.keys() for e in events), events
assert "Server Shut Down." in texts, texts
assert any(t.startswith("(TCP Port") for t in texts), texts
PY
log "json: every line parses"

RC=0
timeout 20 "$COILD" -n "$R" echo --port unix:/nonexistent/dir/x.sock >"$WORK/lock.log" 2>&1 || RC=$?
[ $RC -eq 1 ] || die "unix in a missing directory: exit $RC, want 1: $(cat "$WORK/lock.log")"
grep -qF "Cannot acquire lock" "$WORK/lock.log" && die "a missing directory is not a lock problem: $(cat "$WORK/lock.log")"
grep -qF "[coil.tcp#warn] Couldn't listen on unix:/nonexistent/dir/x.sock: No such file or directory." "$WORK/lock.log" &&
    grep -qE "^coild: Couldn't listen on (unix:)?/nonexistent/dir/x.sock: No such file or directory" "$WORK/lock.log" ||
    die "log line and exit message must both give the reason: $(cat "$WORK/lock.log")"
log "ok ($BACKEND)"
