#!/bin/bash
# SPDX-License-Identifier: MIT
# coild's process options on $COIL_REACTOR: -u/-g drop to `nobody` after a
# privileged port (< 1024) is bound (checked in /proc/PID/status), also
# daemonized (the pid file is still removed at exit); a failed drop
# refuses to run; --chroot, --umask, --rundir; --shutdown-timeout gives up
# on a service whose stop never completes; bad option values exit 2 with
# a clear message. The privilege checks need root (skipped otherwise).
# Usage: coild_privileges.sh COILD COIL_CLIENT TEST_MODULE_DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
MODDIR=${3:?the directory of the test modules}
R=--reactor=$BACKEND

echo_ok() {
    local got
    got=$(timeout 10 "$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"ping\n")
print(s.recv(100).decode().strip())' "$1") || return 1
    [ "$got" = ping ]
}
# fg NAME PORT ARGS...: coild -n ARGS in the background, until it listens on PORT.
fg() {
    local name=$1 port=$2
    shift 2
    spawn "$WORK/$name.log" "$COILD" -n "$R" "$@"
    FPID=$SPAWNED_PID
    if ! wait_for_line "$WORK/$name.log" "listening on 127.0.0.1:$port" "$FPID"; then
        if [ "$BACKEND" = uring ] && grep -q "cannot start the reactor" "$WORK/$name.log"; then
            skip "io_uring unavailable here"
        fi
        die "$name: not listening: $(cat "$WORK/$name.log")"
    fi
}
stop_fg() {
    kill -TERM "$FPID"
    wait_exit "$FPID" 20 || die "$1: no exit after SIGTERM"
    [ "$EXIT_STATUS" -eq 0 ] || die "$1: exit $EXIT_STATUS: $(cat "$WORK/$1.log")"
}
# expect STATUS NAME TEXT ARGS...
expect() {
    local want=$1 name=$2 text=$3
    shift 3
    local rc=0
    timeout 20 "$COILD" "$R" "$@" >"$WORK/$name.log" 2>&1 </dev/null || rc=$?
    [ $rc -eq "$want" ] || die "coild $*: exit $rc, want $want: $(cat "$WORK/$name.log")"
    grep -qF -- "$text" "$WORK/$name.log" || die "coild $*: no '$text' in: $(cat "$WORK/$name.log")"
}
# A free port below 1024 on 127.0.0.1.
low_port() {
    "$PY" -c 'import random, socket
for p in random.sample(range(600, 1024), 424):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break'
}

# ---- bad values (any user) ------------------------------------------------------
expect 2 badumask "invalid --umask '9'" -n --umask 9 echo
expect 2 baduser "unknown user 'no-such-user-here'" -n -u no-such-user-here echo
expect 2 badgroup "unknown group 'no-such-group-here'" -n -g no-such-group-here echo
expect 2 badtimeout "invalid --shutdown-timeout 'soon'" -n --shutdown-timeout soon echo
expect 2 badlength "invalid --logfile-rotate-length 'big'" -n --logfile-rotate-length big echo
expect 2 stdoutdaemon "Daemons cannot log to stdout, exiting!" -l - echo
expect 2 badshort "unknown option '-Z'" -Z echo
expect 1 badlog "cannot open log file $WORK/nowhere/x.log" -n -l "$WORK/nowhere/x.log" echo
expect 1 badrundir "cannot change to --rundir $WORK/nowhere" -n --rundir "$WORK/nowhere" echo \
    --port "tcp:0:interface=127.0.0.1"
log "bad option values: exit 2 (1 for a missing --rundir)"

# ---- --umask, --rundir ---------------------------------------------------------------
mkdir "$WORK/run"
PORT=$(free_port)
fg umask "$PORT" --umask 027 --rundir "$WORK/run" echo --port "tcp:$PORT:interface=127.0.0.1"
grep -q '^Umask:[[:space:]]*0027' "/proc/$FPID/status" || die "umask: $(grep Umask "/proc/$FPID/status")"
[ "$(readlink "/proc/$FPID/cwd")" = "$WORK/run" ] || die "rundir: cwd is $(readlink "/proc/$FPID/cwd")"
stop_fg umask
log "--umask 027 and --rundir applied"

# ---- --shutdown-timeout -----------------------------------------------------------
PORT=$(free_port)
fg slow "$PORT" --shutdown-timeout 0.5 -y "$MODDIR/slow_stop_app.so" "tcp:$PORT:interface=127.0.0.1"
# An open connection the stuck shutdown must not keep alive.
"$PY" -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x"); s.recv(1)
print("connected", flush=True)
s.settimeout(60)
try:
    print("closed" if s.recv(1) == b"" else "data", flush=True)
except ConnectionResetError:
    print("reset", flush=True)' "$PORT" >"$WORK/slowclient.log" 2>&1 &
CLIENT=$!
PIDS+=("$CLIENT")
wait_for_line "$WORK/slowclient.log" connected "$CLIENT" 10 || die "slow: client did not connect"
stop_fg slow
grep -qF "did not stop within 0.5 s" "$WORK/slow.log" || die "slow: no timeout line: $(cat "$WORK/slow.log")"
grep -qF "connection lost: shutdown" "$WORK/slow.log" || die "slow: the connection was not closed"
grep -qF "Server Shut Down." "$WORK/slow.log" || die "slow: no final line"
# Past the bound the remaining connections are aborted: the client sees a reset.
wait_for_line "$WORK/slowclient.log" reset "$CLIENT" 10 || die "slow: client saw no reset: $(cat "$WORK/slowclient.log")"
log "--shutdown-timeout: a stuck stop is abandoned, connections aborted"

# ---- privileges (root only) ------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "not root: privilege drop not tested"
getent passwd nobody >/dev/null || skip "no user nobody"
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)
PORT=$(low_port)
[ -n "$PORT" ] || skip "no free port below 1024"
fg drop "$PORT" -u nobody echo --port "tcp:$PORT:interface=127.0.0.1"
grep -qE "^Uid:[[:space:]]+$NOBODY_UID[[:space:]]+$NOBODY_UID[[:space:]]+$NOBODY_UID[[:space:]]+$NOBODY_UID$" \
    "/proc/$FPID/status" || die "uid not dropped: $(grep -E '^(Uid|Gid|Groups)' "/proc/$FPID/status")"
grep -qE "^Gid:[[:space:]]+$NOBODY_GID[[:space:]]+$NOBODY_GID[[:space:]]+$NOBODY_GID[[:space:]]+$NOBODY_GID$" \
    "/proc/$FPID/status" || die "gid not dropped: $(grep -E '^(Uid|Gid)' "/proc/$FPID/status")"
groups=$(sed -n 's/^Groups:[[:space:]]*//p' "/proc/$FPID/status" | tr -d ' ')
[ -z "$groups" ] || [ "$groups" = "$NOBODY_GID" ] || die "root's supplementary groups kept: $groups"
grep -qF "set uid/gid $NOBODY_UID/$NOBODY_GID" "$WORK/drop.log" || die "no 'set uid/gid' line"
echo_ok "$PORT" || die "no echo on privileged port $PORT after the drop"
stop_fg drop
grep -qF "(TCP Port $PORT Closed)" "$WORK/drop.log" || die "drop: port not closed cleanly"
log "-u nobody: port $PORT bound as root, then uid/gid $NOBODY_UID/$NOBODY_GID"

# The application's own uid (Twisted's Application(name, uid, gid)); the
# gid defaults to that user's primary group.
PORT=$(low_port)
fg appuid "$PORT" -y "$(dirname "$COILD")/echo_app.so" --uid "$NOBODY_UID" \
    --port "tcp:$PORT:interface=127.0.0.1"
grep -qE "^Uid:[[:space:]]+$NOBODY_UID[[:space:]]+$NOBODY_UID[[:space:]]" "/proc/$FPID/status" ||
    die "application uid not honoured: $(grep -E '^(Uid|Gid)' "/proc/$FPID/status")"
grep -qE "^Gid:[[:space:]]+$NOBODY_GID[[:space:]]+$NOBODY_GID[[:space:]]" "/proc/$FPID/status" ||
    die "application: gid is not the user's primary group"
echo_ok "$PORT" || die "application uid: no echo on $PORT"
stop_fg appuid
log "-y: the application's uid is honoured after binding port $PORT"

# Daemonized with a group given by name; the pid file (in a sticky
# directory, as /run or /tmp) is still removed by the unprivileged daemon.
chmod 755 "$WORK" # nobody must reach pub/
mkdir -m 1777 "$WORK/pub"
NOGROUP=$(getent group "$NOBODY_GID" | cut -d: -f1)
PORT=$(free_port)
RC=0
timeout 30 "$COILD" "$R" -u nobody -g "$NOGROUP" --pidfile "$WORK/pub/d.pid" -l "$WORK/pub/d.log" \
    echo --port "tcp:$PORT:interface=127.0.0.1" >"$WORK/dropd.out" 2>&1 || RC=$?
[ $RC -eq 0 ] || die "daemon -u nobody: exit $RC: $(cat "$WORK/dropd.out")"
DPID=$(cat "$WORK/pub/d.pid")
PIDS+=("$DPID")
grep -qE "^Uid:[[:space:]]+$NOBODY_UID[[:space:]]" "/proc/$DPID/status" || die "daemon: uid not dropped"
echo_ok "$PORT" || die "daemon -u nobody: no echo"
kill -TERM "$DPID"
deadline=$((SECONDS + 15))
while alive "$DPID"; do
    [ $SECONDS -lt $deadline ] || die "daemon -u nobody: alive after SIGTERM"
    sleep 0.05
done
[ ! -e "$WORK/pub/d.pid" ] || die "daemon -u nobody: pid file left behind"
grep -qF "Server Shut Down." "$WORK/pub/d.log" || die "daemon -u nobody: $(cat "$WORK/pub/d.log")"
log "daemon -u nobody -g $NOGROUP: pid file removed at exit"

# A drop that fails refuses to run: started as nobody, asked to be root.
if command -v setpriv >/dev/null; then
    RC=0
    timeout 20 setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" --clear-groups \
        "$COILD" -n "$R" -u 0 -g 0 echo --port "tcp:0:interface=127.0.0.1" >"$WORK/nodrop.log" 2>&1 || RC=$?
    [ $RC -eq 1 ] || die "failed drop: exit $RC, want 1: $(cat "$WORK/nodrop.log")"
    grep -qF "failed to set uid/gid 0/0" "$WORK/nodrop.log" || die "failed drop: $(cat "$WORK/nodrop.log")"
    log "a failed uid/gid change exits 1"
fi

# ---- --chroot -----------------------------------------------------------------------
mkdir -p "$WORK/jail"
# LeakSanitizer reads /proc, which the empty jail lacks (ASan builds).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
PORT=$(free_port)
fg jail "$PORT" --chroot "$WORK/jail" echo --port "tcp:$PORT:interface=127.0.0.1"
[ "$(readlink "/proc/$FPID/root")" = "$WORK/jail" ] || die "chroot: root is $(readlink "/proc/$FPID/root")"
echo_ok "$PORT" || die "chroot: no echo"
stop_fg jail
# Daemonized in the jail: the pid file outside it is still removed at exit.
PORT=$(free_port)
RC=0
timeout 30 "$COILD" "$R" --chroot "$WORK/jail" --pidfile "$WORK/jail.pid" -l "$WORK/jail.txt" \
    echo --port "tcp:$PORT:interface=127.0.0.1" >"$WORK/jaild.out" 2>&1 || RC=$?
[ $RC -eq 0 ] || die "chroot daemon: exit $RC: $(cat "$WORK/jaild.out")"
DPID=$(cat "$WORK/jail.pid")
PIDS+=("$DPID")
[ "$(readlink "/proc/$DPID/root")" = "$WORK/jail" ] || die "chroot daemon: not in the jail"
echo_ok "$PORT" || die "chroot daemon: no echo"
# The log file outside the jail can still be reopened (logrotate).
mv "$WORK/jail.txt" "$WORK/jail.txt.old"
kill -HUP "$DPID"
deadline=$((SECONDS + 10))
until grep -qF "reopened log file" "$WORK/jail.txt" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "chroot daemon: SIGHUP did not reopen $WORK/jail.txt"
    sleep 0.05
done
kill -TERM "$DPID"
deadline=$((SECONDS + 15))
while alive "$DPID"; do
    [ $SECONDS -lt $deadline ] || die "chroot daemon: alive after SIGTERM"
    sleep 0.05
done
[ ! -e "$WORK/jail.pid" ] || die "chroot daemon: pid file left behind"
grep -qF "Server Shut Down." "$WORK/jail.txt" || die "chroot daemon: $(cat "$WORK/jail.txt")"
expect 1 nojail "cannot chroot to $WORK/nojail" --chroot "$WORK/nojail" --pidfile "$WORK/nojail.pid" \
    -l "$WORK/nojail.txt" echo --port tcp:0
[ ! -e "$WORK/nojail.pid" ] || die "a failed chroot left the pid file"
log "ok ($BACKEND)"
