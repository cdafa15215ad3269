#!/bin/bash
# SPDX-License-Identifier: MIT
# The first C program of README.md ("A protocol in 30 lines") must build
# with -Wall -Wextra -Werror against this build's headers and library, and
# work: a copy on a free port answers lines and hangs up on "quit".
#   readme_example.sh CC README INCLUDE_DIR LIBCOIL [SANITIZE_FLAGS]
set -euo pipefail
CC=$1 README=$2 INC=$3 LIB=$4 SAN=${5:-}
PY=/usr/bin/python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/coil-readme.XXXXXX")
PID=
cleanup() {
    [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null || true
    [ -n "$PID" ] && wait "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

awk '/^```c$/ { inside = 1; next } /^```$/ { if (inside) exit } inside' "$README" >"$WORK/readme.c"
[ -s "$WORK/readme.c" ] || { echo "no \`\`\`c block in $README" >&2; exit 1; }
grep -q 'coil_line_receiver' "$WORK/readme.c" || { echo "README example is not line-based" >&2; exit 1; }
# shellcheck disable=SC2086 # SAN holds several flags
build() { "$CC" -std=c17 -Wall -Wextra -Werror $SAN -I"$INC" "$1" "$LIB" \
    -Wl,-rpath,"$(dirname "$LIB")" -o "$2"; }
build "$WORK/readme.c" "$WORK/readme"
echo "README example builds with -Wall -Wextra -Werror"

[ -x "$PY" ] || { echo "no $PY: not running it"; exit 0; }
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s/\"127.0.0.1\", 8000)/\"127.0.0.1\", $PORT)/" "$WORK/readme.c" >"$WORK/readme_port.c"
grep -q "$PORT" "$WORK/readme_port.c" || { echo "no listen address to patch" >&2; exit 1; }
build "$WORK/readme_port.c" "$WORK/readme_port"
"$WORK/readme_port" >"$WORK/out.log" 2>&1 &
PID=$!
timeout 30 "$PY" - "$PORT" <<'PYEOF'
import socket, sys, time
port = int(sys.argv[1])
deadline = time.monotonic() + 20
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        break
    except ConnectionRefusedError:
        if time.monotonic() > deadline:
            sys.exit("the README program never listened")
        time.sleep(0.05)
s.sendall(b"hello\r\n\r\nwith a bare \n inside\r\nquit\r\nignored\r\n")
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
want = b"1: 5 bytes\r\n2: 0 bytes\r\n3: 20 bytes\r\n"
if data != want:
    sys.exit("got %r, want %r" % (data, want))
print("README example answered:", data)
PYEOF
kill -TERM "$PID"
status=0
wait "$PID" || status=$?
PID=
[ "$status" -eq 0 ] || { echo "README program exited with $status: $(cat "$WORK/out.log")" >&2; exit 1; }
echo "ok"
