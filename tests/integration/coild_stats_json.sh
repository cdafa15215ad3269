#!/bin/bash
# SPDX-License-Identifier: MIT
# `coild --log-format=json --stats-interval=0.2 echo` on $COIL_REACTOR:
# every line coild writes is one JSON object (time, level, system, text);
# the counters are logged periodically ("coild.stats") and account for the
# bytes a client had echoed; SIGTERM still stops coild cleanly, with one
# last counters line. A bad interval is a usage error (exit 2).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

rc=0
"$COILD" --stats-interval=zero echo --port 0 >"$WORK/bad.log" 2>&1 || rc=$?
[ $rc -eq 2 ] || die "--stats-interval=zero: exit $rc, expected 2"
grep -q "invalid --stats-interval .zero." "$WORK/bad.log" || die "no message: $(cat "$WORK/bad.log")"

PORT=$(free_port)
LOGF=$WORK/json.log
spawn "$LOGF" "$COILD" -n --reactor="$BACKEND" --log-level=info --log-format=json \
    --stats-interval=0.2 echo --port "tcp:$PORT:interface=127.0.0.1"
PID=$SPAWNED_PID
if ! wait_for_line "$LOGF" "\"text\":\"listening on 127.0.0.1:$PORT\"" "$PID"; then
    if grep -q "cannot start the reactor" "$LOGF" && [ "$BACKEND" = uring ]; then
        skip "io_uring unavailable here: $(cat "$LOGF")"
    fi
    die "coild did not start: $(cat "$LOGF")"
fi

NBYTES=262144
timeout 60 "$PY" "$HERE/netclient.py" echo "$PORT" $NBYTES 2 >"$WORK/client.log" 2>&1 ||
    die "echo client: $(cat "$WORK/client.log")"
# A counters line taken after the echo shows at least those bytes.
want=$((2 * NBYTES))
deadline=$((SECONDS + 20))
until "$PY" - "$LOGF" "$want" <<'PYEOF'
import json, re, sys
want = int(sys.argv[2])
for line in open(sys.argv[1]):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    m = re.search(r"totals: in (\d+) B, out (\d+) B", rec.get("text", ""))
    if rec.get("system") == "coild.stats" and m and int(m.group(1)) >= want and int(m.group(2)) >= want:
        sys.exit(0)
sys.exit(1)
PYEOF
do
    [ $SECONDS -lt $deadline ] || die "no counters line with $want bytes in and out"
    alive "$PID" || die "coild exited: $(cat "$LOGF")"
    sleep 0.1
done
log "counters account for the $want echoed bytes"

kill -TERM "$PID"
wait_exit "$PID" 15 || die "coild did not exit after SIGTERM"
[ "$EXIT_STATUS" -eq 0 ] || die "coild exited with $EXIT_STATUS"
# Every line is a JSON object with the four fields, and the shutdown is there.
"$PY" - "$LOGF" <<'PYEOF' || die "not all lines are JSON log records"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no output"
stats = 0
for line in lines:
    rec = json.loads(line)
    assert set(rec) == {"time", "level", "system", "text"}, rec
    stats += rec["system"] == "coild.stats"
assert stats >= 2, stats
texts = [json.loads(l)["text"] for l in lines]
assert "Server Shut Down." in texts, texts[-3:]
assert any(t.startswith("Received SIGTERM") for t in texts)
PYEOF
log "ok ($BACKEND)"
