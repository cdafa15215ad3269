#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what is missing, build, and run coil's flagship service in the
# foreground: `coild echo` on 127.0.0.1 (port $PORT, default 8000).
# Stop it with Ctrl-C (SIGINT) or SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh release >/dev/null
port=${PORT:-8000}
echo "coil: starting 'coild echo' on 127.0.0.1:$port"
echo "coil: try it with:  socat - TCP:127.0.0.1:$port   (or: nc 127.0.0.1 $port)"
exec build/release/apps/coild -n echo --port "tcp:$port:interface=127.0.0.1" "$@"
