#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what is missing, build, and run coil's flagship service in the
# foreground: `coild web` serving this repository's docs/ (or $WEB_ROOT) on
# 127.0.0.1 (port $PORT, default 8080). Extra arguments go to coild web,
# e.g. another --port. Stop it with Ctrl-C (SIGINT) or SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh release >/dev/null
port=${PORT:-8080}
root=${WEB_ROOT:-docs}
echo "coil: starting 'coild web' on 127.0.0.1:$port, serving $root/"
echo "coil: try it with:  curl http://127.0.0.1:$port/tutorial/README.md   (or open it in a browser)"
exec build/release/apps/coild -n web --path "$root" --port "tcp:$port:interface=127.0.0.1" "$@"
