#!/bin/bash
# SPDX-License-Identifier: MIT
# The tutorial's programs (examples/) against real peers, on $COIL_REACTOR:
# called as examples.sh COILD EXAMPLES_DIR.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
EX=${2:?usage: examples.sh COILD EXAMPLES_DIR}
command -v socat >/dev/null || skip "socat not installed"

# Chapter 3: the Deferred stories print exactly this (their order follows
# the reactor clock: the cancel happens at once, then 0.1, 0.2, 0.3 s).
out=$(timeout 30 "$EX/deferred_basics")
want="cancelled: Deferred was cancelled
chain: 42
errback: the disk is on fire
after recovery: 0
timeout: Deferred timed out after 0.3 seconds"
[ "$out" = "$want" ] || die "deferred_basics printed:
$out"

# Chapter 1: the echo server answers socat and a Python client.
port=$(free_port)
spawn "$WORK/echo.log" "$EX/echo_server" "tcp:$port:interface=127.0.0.1"
echo_pid=$SPAWNED_PID
echo_port=$port # the echo server stays up for the whole script
wait_for_line "$WORK/echo.log" "echoing on tcp:$port" "$echo_pid" || die "echo_server did not start"
reply=$(printf 'hello, coil\n' | timeout 10 socat -t 5 - "TCP:127.0.0.1:$port")
[ "$reply" = "hello, coil" ] || die "echo_server replied '$reply'"
# A second server on the same port prints why and exits 1 at once (the stop
# asked for from the listen errback, before run(), is kept).
set +e
timeout 20 "$EX/echo_server" "tcp:$port:interface=127.0.0.1" >"$WORK/busy.log" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || die "echo_server on a busy port exited $rc (124 means it hung)"
grep -qF "Couldn't listen on 127.0.0.1:$port: Address already in use." "$WORK/busy.log" ||
    die "no reason for the busy port: $(cat "$WORK/busy.log")"

# Chapter 1, second half: the chat server with three clients.
chat_port=$(free_port)
spawn "$WORK/chat.log" "$EX/chat_server" "tcp:$chat_port:interface=127.0.0.1"
chat_pid=$SPAWNED_PID
wait_listening "$chat_port" "$chat_pid" || die "chat_server did not start: $(cat "$WORK/chat.log")"
timeout 30 "$PY" "$HERE/chat_check.py" "$chat_port" >"$WORK/chatcheck.log" 2>&1 ||
    die "chat_server: $(cat "$WORK/chatcheck.log")"

# Chapter 4: the same client over TCP and over a UNIX socket (socat echoes).
reply=$(timeout 10 "$EX/endpoint_client" "tcp:127.0.0.1:$port" "over tcp")
[ "$reply" = "over tcp" ] || die "endpoint_client (tcp) got '$reply'"
sock="$WORK/echo.sock"
spawn "$WORK/unix.log" socat "UNIX-LISTEN:$sock,fork" EXEC:cat
wait_listening "$sock" "$SPAWNED_PID" || die "socat did not listen on $sock"
reply=$(timeout 10 "$EX/endpoint_client" "unix:$sock" "over unix")
[ "$reply" = "over unix" ] || die "endpoint_client (unix) got '$reply'"
set +e
timeout 10 "$EX/endpoint_client" "tcp:1234:interface=::1" x >"$WORK/bad.log" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] && grep -qF "escaped as '\\:'" "$WORK/bad.log" ||
    die "a bad description: exit $rc, $(cat "$WORK/bad.log")"

# Chapter 3: the Deferred client asks the echo server; a peer that closes
# without answering fails its Deferred, and the client exits 1 saying so.
reply=$(timeout 10 "$EX/ask_client" "tcp:127.0.0.1:$echo_port" "what is the answer?")
[ "$reply" = "what is the answer?" ] || die "ask_client got '$reply'"
mute_port=$(free_port)
spawn "$WORK/mute.log" socat "TCP-LISTEN:$mute_port,bind=127.0.0.1,reuseaddr,fork" EXEC:/bin/true
wait_listening "$mute_port" "$SPAWNED_PID" || die "socat did not listen on $mute_port"
set +e
timeout 10 "$EX/ask_client" "tcp:127.0.0.1:$mute_port" "anyone?" >"$WORK/noanswer.log" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] && grep -qF "Connection was closed cleanly" "$WORK/noanswer.log" ||
    die "ask_client without an answer: exit $rc, $(cat "$WORK/noanswer.log")"

# Chapter 2: the QOTD client prints coild qotd's quote; a refused connect
# exits 1 with the reason.
start_coild qotd qotd --quote "Simple is better than complex."
reply=$(timeout 10 "$EX/qotd_client" "tcp:127.0.0.1:$COILD_PORT" | tr -d '\r')
[ "$reply" = "Simple is better than complex." ] || die "qotd_client printed '$reply'"
stop_coild
set +e
timeout 10 "$EX/qotd_client" "tcp:127.0.0.1:$COILD_PORT" >"$WORK/refused.log" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] && grep -qF "Connection refused" "$WORK/refused.log" ||
    die "qotd_client against a closed port: exit $rc, $(cat "$WORK/refused.log")"
# The failure names the user's line that connected, not a library file.
grep -qE "called from qotd_client\.c:[0-9]+ in qotd" "$WORK/refused.log" ||
    die "qotd_client's failure does not name its call site: $(cat "$WORK/refused.log")"
# Chapter 5: the reconnecting client waits for a server, talks to it,
# notices it going away and comes back when it returns.
port=$(free_port)
spawn "$WORK/reconnect.log" "$EX/reconnecting_client" "tcp:127.0.0.1:$port"
client_pid=$SPAWNED_PID
for round in 1 2; do
    spawn "$WORK/echo$round.log" "$EX/echo_server" "tcp:$port:interface=127.0.0.1"
    server_pid=$SPAWNED_PID
    wait_for_line "$WORK/echo$round.log" "echoing on" "$server_pid" || die "echo_server $round did not start"
    # The first retry comes 1.5 to 2.5 s after a failure (Twisted's back-off).
    for _ in $(seq 400); do
        [ "$(grep -c '^hello again$' "$WORK/reconnect.log")" -ge $round ] && break
        alive "$client_pid" || die "reconnecting_client exited"
        sleep 0.05
    done
    [ "$(grep -c '^connected$' "$WORK/reconnect.log")" -eq $round ] ||
        die "round $round: $(cat "$WORK/reconnect.log")"
    [ "$(grep -c '^hello again$' "$WORK/reconnect.log")" -eq $round ] ||
        die "round $round: no echo: $(cat "$WORK/reconnect.log")"
    kill -TERM "$server_pid"
    wait_exit "$server_pid" 15 || die "echo_server did not stop"
    for _ in $(seq 200); do
        [ "$(grep -c '^connection lost' "$WORK/reconnect.log")" -ge $round ] && break
        sleep 0.05
    done
    [ "$(grep -c '^connection lost' "$WORK/reconnect.log")" -eq $round ] ||
        die "the client did not notice: $(cat "$WORK/reconnect.log")"
done
kill -TERM "$client_pid"
wait_exit "$client_pid" 15 || die "reconnecting_client did not stop on SIGTERM"
[ "$EXIT_STATUS" -eq 0 ] || die "reconnecting_client exited $EXIT_STATUS"

# Chapter 7: the same echo server and client over TLS, by description
# alone (a TLS build; throw-away certificates).
tls_port=$(free_port)
set +e
timeout 10 "$EX/echo_server" "ssl:0:privateKey=/nonexistent.pem" >"$WORK/tlsprobe.log" 2>&1
set -e
if grep -q "built without TLS" "$WORK/tlsprobe.log"; then
    log "chapter 7 skipped: this build has no TLS"
else
    rc=0
    bash "$HERE/../tls/make_certs.sh" "$WORK/certs" || rc=$?
    [ $rc -eq 0 ] || die "make_certs.sh failed ($rc)"
    spawn "$WORK/tlsecho.log" "$EX/echo_server" \
        "ssl:$tls_port:interface=127.0.0.1:privateKey=$WORK/certs/server.key:certKey=$WORK/certs/server.pem"
    tls_pid=$SPAWNED_PID
    wait_for_line "$WORK/tlsecho.log" "echoing on ssl:$tls_port" "$tls_pid" ||
        die "echo_server on ssl: did not start: $(cat "$WORK/tlsecho.log")"
    reply=$(timeout 10 "$EX/endpoint_client" \
        "tls:127.0.0.1:$tls_port:trustRoots=$WORK/certs/ca.pem" "over tls")
    [ "$reply" = "over tls" ] || die "endpoint_client (tls) got '$reply'"
    # Without the CA the certificate is refused, and the client says why.
    set +e
    timeout 10 "$EX/endpoint_client" "tls:127.0.0.1:$tls_port" x >"$WORK/untrusted.log" 2>&1
    rc=$?
    set -e
    [ $rc -eq 1 ] || die "tls client without the CA: exit $rc, $(cat "$WORK/untrusted.log")"
    grep -qi "certificate" "$WORK/untrusted.log" ||
        die "no reason given: $(cat "$WORK/untrusted.log")"
    # Chapter 5's reconnecting client (a ClientService) over tls: as well.
    spawn "$WORK/tlsreconnect.log" "$EX/reconnecting_client" \
        "tls:127.0.0.1:$tls_port:trustRoots=$WORK/certs/ca.pem"
    tlsr_pid=$SPAWNED_PID
    wait_for_line "$WORK/tlsreconnect.log" "hello again" "$tlsr_pid" 20 ||
        die "reconnecting_client over tls: $(cat "$WORK/tlsreconnect.log")"
    kill -TERM "$tlsr_pid"
    wait_exit "$tlsr_pid" 15 || die "reconnecting_client (tls) did not stop"
fi

# Chapter 6: the application module under coild, in the foreground.
app_port=$(free_port)
spawn "$WORK/app.log" "$COILD" -n --reactor="$BACKEND" -y "$EX/echo_app.so" \
    "tcp:$app_port:interface=127.0.0.1"
app_pid=$SPAWNED_PID
wait_for_line "$WORK/app.log" "listening on 127.0.0.1:$app_port" "$app_pid" ||
    die "coild -y echo_app.so did not start"
reply=$(printf 'from the app\n' | timeout 10 socat -t 5 - "TCP:127.0.0.1:$app_port")
[ "$reply" = "from the app" ] || die "echo_app replied '$reply'"
kill -TERM "$app_pid"
wait_exit "$app_pid" 15 || die "coild -y did not stop"
[ "$EXIT_STATUS" -eq 0 ] || die "coild -y exited $EXIT_STATUS"
grep -qF "(TCP Port $app_port Closed)" "$WORK/app.log" || die "no port-closed line"
# A description that does not parse: coild says why and exits 2.
set +e
timeout 20 "$COILD" -n -y "$EX/echo_app.so" "tcp:1:interface=::1" >"$WORK/badapp.log" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] && grep -qF "escaped as" "$WORK/badapp.log" ||
    die "echo_app with a bad description: exit $rc, $(cat "$WORK/badapp.log")"

# The Twisted programs the tutorial compares with (examples/twisted/, line
# counts in scripts/size-vs-twisted.py) run against the same peers, so the
# comparison is between working programs.
TW=$(cd "$HERE/../../examples/twisted" && pwd)
"$PY" -c "import twisted" 2>/dev/null ||
    skip "python3-twisted not installed: the coil examples passed, their Twisted versions were not run"
tw_chat_port=$(free_port)
spawn "$WORK/twchat.log" "$PY" "$TW/chat_server.py" "tcp:$tw_chat_port:interface=127.0.0.1"
tw_chat_pid=$SPAWNED_PID
wait_listening "$tw_chat_port" "$tw_chat_pid" || die "chat_server.py did not start: $(cat "$WORK/twchat.log")"
timeout 30 "$PY" "$HERE/chat_check.py" "$tw_chat_port" >"$WORK/twchatcheck.log" 2>&1 ||
    die "chat_server.py: $(cat "$WORK/twchatcheck.log")"
kill -TERM "$tw_chat_pid"

start_coild twqotd qotd --quote "Beautiful is better than ugly."
reply=$(timeout 30 "$PY" "$TW/qotd_client.py" "tcp:127.0.0.1:$COILD_PORT" | tr -d '\r')
[ "$reply" = "Beautiful is better than ugly." ] || die "qotd_client.py printed '$reply'"
stop_coild

reply=$(timeout 30 "$PY" "$TW/ask_client.py" "tcp:127.0.0.1:$echo_port" "what is the answer?")
[ "$reply" = "what is the answer?" ] || die "ask_client.py got '$reply'"
set +e
timeout 30 "$PY" "$TW/ask_client.py" "tcp:127.0.0.1:$mute_port" "anyone?" >"$WORK/twnoanswer.log" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] && grep -qF "Connection was closed cleanly" "$WORK/twnoanswer.log" ||
    die "ask_client.py without an answer: exit $rc, $(cat "$WORK/twnoanswer.log")"

spawn "$WORK/twreconnect.log" "$PY" "$TW/reconnecting_client.py" "tcp:127.0.0.1:$echo_port"
twr_pid=$SPAWNED_PID
wait_for_line "$WORK/twreconnect.log" "hello again" "$twr_pid" 20 &&
    grep -q '^connected$' "$WORK/twreconnect.log" ||
    die "reconnecting_client.py: $(cat "$WORK/twreconnect.log")"
kill -TERM "$twr_pid"
wait_exit "$twr_pid" 15 || die "reconnecting_client.py did not stop on SIGTERM"

log "ok ($BACKEND)"
