#!/bin/bash
# SPDX-License-Identifier: MIT
# `coild chat` on $COIL_REACTOR: three plain-socket clients and one Python
# Twisted LineReceiver client (an independent implementation) check the
# exact texts of Twisted's howto chat server and that messages reach every
# other named chatter, and that a chatter that never reads is dropped
# (chat_clients.py), then a clean SIGTERM stop.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

"$PY" -c 'import twisted.protocols.basic' 2>/dev/null ||
    skip "python3-twisted is not importable by $PY"

start_coild chat chat
timeout 90 "$PY" "$HERE/chat_clients.py" "$COILD_PORT" "$HERE/chat_twisted_client.py" \
    >"$WORK/clients.log" 2>&1 || die "chat clients: $(cat "$WORK/clients.log")"
grep -qF "chat: ok" "$WORK/clients.log" || die "chat clients did not finish: $(cat "$WORK/clients.log")"
n=$(grep -cF "dropping slow: not reading" "$COILD_LOG" || true)
[ "$n" -eq 1 ] || die "want one log line for the dropped slow chatter, got $n"

# socat as one more client: the question, then the welcome.
if command -v socat >/dev/null; then
    out=$(printf 'socat-user\r\n' | timeout 20 socat -t 2 -T 10 - "TCP:127.0.0.1:$COILD_PORT")
    want=$(printf "What's your name?\r\nWelcome, socat-user!\r\n")
    [ "$out" = "$want" ] || die "socat: got $(printf '%s' "$out" | od -c | head -5)"
fi
stop_coild
log "ok ($BACKEND)"
