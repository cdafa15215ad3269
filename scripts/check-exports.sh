#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# libcoil.so must export coil_* symbols only (everything else is hidden).
set -euo pipefail
lib=${1:?usage: check-exports.sh path/to/libcoil.so}
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^coil_' || true)
if [ -n "$bad" ]; then
  echo "check-exports: symbols without the coil_ prefix are exported:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "check-exports: $(nm -D --defined-only "$lib" | wc -l) symbols, all coil_*"
