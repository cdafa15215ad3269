#!/bin/bash
# SPDX-License-Identifier: MIT
# `coild qotd` on $COIL_REACTOR: each connection gets the quote plus "\r\n"
# and then the server closes (RFC 865); what the client sends is ignored.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

QUOTE="Don't panic: 100% of \"quotes\" & spaces survive, \$HOME too."
start_coild qotd qotd --quote "$QUOTE"
for i in 1 2 3; do
    timeout 30 "$PY" "$HERE/netclient.py" read "$COILD_PORT" "$QUOTE" >"$WORK/read$i.log" 2>&1 ||
        die "qotd read $i: $(cat "$WORK/read$i.log")"
done
# A client that talks first still gets exactly the quote and a clean EOF
# (the server closes with bytes unread: FIN must precede the kernel's RST).
timeout 60 "$PY" "$HERE/netclient.py" read "$COILD_PORT" "$QUOTE" "hello there" 50 >"$WORK/junk.log" 2>&1 ||
    die "qotd with client data: $(cat "$WORK/junk.log")"
if command -v socat >/dev/null; then
    out=$(timeout 30 socat -t 10 -T 10 -u "TCP:127.0.0.1:$COILD_PORT" - | od -An -c | tr -s ' \n' ' ')
    case "$out" in
    *"\\r \\n "*) ;;
    *) die "socat: no CRLF at the end: $out" ;;
    esac
fi
stop_coild
log "ok ($BACKEND)"
