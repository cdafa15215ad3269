#!/bin/bash
# SPDX-License-Identifier: MIT
# coild's log file on $COIL_REACTOR (twistd's LogFile/DailyLogFile):
# rotation by size into NAME.1, NAME.2 with --logfile-max-rotated, SIGHUP
# reopening a file that logrotate moved away (coild keeps running), SIGUSR1
# rotating, and daily rotation of a file last written yesterday.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
R=--reactor=$BACKEND

lines() { grep -c "" "$1" 2>/dev/null || echo 0; }

# hup: SIGHUP coild and wait for its "reopened" line (one signal at a time,
# so none is merged with another).
# The line lands in $LOG: it grows, or is a new file after a rotation.
state() { stat -c %i:%s "$LOG" 2>/dev/null || echo none; }
hup() {
    local before
    before=$(state)
    kill -HUP "$CPID"
    local deadline=$((SECONDS + 10))
    while [ "$(state)" = "$before" ]; do
        alive "$CPID" || die "coild died on SIGHUP"
        [ $SECONDS -lt $deadline ] || die "SIGHUP not handled"
        sleep 0.02
    done
}


# ---- by size ------------------------------------------------------------------------
LOG="$WORK/size.txt"
PORT=$(free_port)
spawn "$WORK/size.log" "$COILD" -n "$R" -l "$LOG" --logfile-rotate-length=1000 \
    --logfile-max-rotated=2 echo --port "tcp:$PORT:interface=127.0.0.1"
CPID=$SPAWNED_PID
deadline=$((SECONDS + 15))
until grep -qF "listening on 127.0.0.1:$PORT" "$LOG" 2>/dev/null; do
    if [ "$BACKEND" = uring ] && grep -q "cannot start the reactor" "$WORK/size.log"; then
        skip "io_uring unavailable here"
    fi
    alive "$CPID" || die "coild exited: $(cat "$WORK/size.log")"
    [ $SECONDS -lt $deadline ] || die "not listening"
    sleep 0.05
done
for _ in $(seq 1 40); do
    hup
done
[ -s "$LOG.1" ] || die "no $LOG.1 after 40 lines of ~100 bytes with a 1000-byte limit"
[ -s "$LOG.2" ] || die "no $LOG.2"
[ ! -e "$LOG.3" ] || die "$LOG.3 kept despite --logfile-max-rotated=2"
for f in "$LOG.1" "$LOG.2"; do
    size=$(stat -c %s "$f")
    [ "$size" -ge 1000 ] && [ "$size" -lt 1300 ] || die "$f has $size bytes (rotate at 1000)"
done
[ "$(stat -c %s "$LOG")" -lt 1300 ] || die "$LOG grew past the limit"
log "size rotation: NAME.1, NAME.2, no NAME.3"

# ---- SIGHUP after logrotate moved the file ---------------------------------------
mv "$LOG" "$WORK/moved.txt"
rm -f "$LOG".*
hup
[ -s "$LOG" ] || die "SIGHUP did not create a new $LOG"
grep -qF "Received SIGHUP, reopened log file $LOG" "$LOG" || die "new file: $(cat "$LOG")"
grep -qF "Received SIGHUP" "$WORK/moved.txt" && n_old=$(lines "$WORK/moved.txt")
kill -HUP "$CPID"
sleep 0.2
[ "$(lines "$WORK/moved.txt")" = "${n_old:-$(lines "$WORK/moved.txt")}" ] ||
    die "coild still writes to the moved file"
alive "$CPID" || die "coild died on SIGHUP"
log "SIGHUP: a moved log file is replaced by a new one"

# ---- SIGUSR1 rotates ------------------------------------------------------------------
rm -f "$LOG".*
kill -USR1 "$CPID"
deadline=$((SECONDS + 10))
until [ -e "$LOG.1" ]; do
    alive "$CPID" || die "coild died on SIGUSR1"
    [ $SECONDS -lt $deadline ] || die "SIGUSR1 did not rotate"
    sleep 0.02
done
kill -TERM "$CPID"
wait_exit "$CPID" 15 || die "no exit after SIGTERM"
[ "$EXIT_STATUS" -eq 0 ] || die "exit $EXIT_STATUS after SIGHUPs and SIGTERM"
grep -qF "Server Shut Down." "$LOG" || die "final line not in the current file"
log "SIGUSR1 rotates; SIGTERM still exits 0"

# ---- daily ---------------------------------------------------------------------------
LOG="$WORK/daily.txt"
echo "a line from yesterday" >"$LOG"
touch -d "yesterday 12:00" "$LOG"
YDAY=$(date -d "yesterday 12:00" +%Y_%m_%d)
PORT=$(free_port)
spawn "$WORK/daily.log" "$COILD" -n "$R" -l "$LOG" --logfile-daily echo \
    --port "tcp:$PORT:interface=127.0.0.1"
CPID=$SPAWNED_PID
deadline=$((SECONDS + 15))
until grep -qF "listening on 127.0.0.1:$PORT" "$LOG" 2>/dev/null; do
    alive "$CPID" || die "daily: coild exited: $(cat "$WORK/daily.log")"
    [ $SECONDS -lt $deadline ] || die "daily: not listening"
    sleep 0.05
done
[ "$(cat "$LOG.$YDAY")" = "a line from yesterday" ] || die "daily: yesterday's file is not $LOG.$YDAY: $(ls "$WORK")"
grep -qF "a line from yesterday" "$LOG" && die "daily: yesterday's line still in today's file"
kill -TERM "$CPID"
wait_exit "$CPID" 15 || die "daily: no exit"
log "daily rotation: yesterday's file is $LOG.$YDAY"

# ---- syslog ------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null &&
    unshare --mount --propagation private true 2>/dev/null; then
    mkdir "$WORK/dev"
    spawn "$WORK/syslogd.log" "$PY" -u -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    print(s.recv(4096).decode(errors="replace"), flush=True)' "$WORK/dev/log"
    wait_for_line "$WORK/syslogd.log" ready "$SPAWNED_PID" 10 || die "syslog listener did not start"
    PORT=$(free_port)
    # /dev of the namespace: the listener's socket only (coild -n needs no more).
    spawn "$WORK/sys.log" unshare --mount --propagation private bash -c \
        'mount --bind "$1" /dev && shift && exec "$@"' _ "$WORK/dev" \
        "$COILD" -n "$R" --syslog --prefix coiltest echo --port "tcp:$PORT:interface=127.0.0.1"
    CPID=$SPAWNED_PID
    wait_for_line "$WORK/syslogd.log" "[coil.tcp] listening on 127.0.0.1:$PORT" "$CPID" ||
        die "--syslog: no record: $(cat "$WORK/syslogd.log" "$WORK/sys.log")"
    kill -TERM "$CPID"
    wait_exit "$CPID" 15 || die "--syslog: no exit"
    [ "$EXIT_STATUS" -eq 0 ] || die "--syslog: exit $EXIT_STATUS: $(cat "$WORK/sys.log")"
    wait_for_line "$WORK/syslogd.log" "[coild] Server Shut Down." "$SPAWNED_PID" 5 ||
        die "--syslog: no final record"
    grep -q "coiltest\[$CPID\]: \[coil.tcp\] listening" "$WORK/syslogd.log" ||
        die "--syslog: ident or pid missing: $(cat "$WORK/syslogd.log")"
    log "--syslog --prefix coiltest: records reach /dev/log"
else
    log "no private mount namespace here: --syslog leg skipped"
fi
log "ok ($BACKEND)"
