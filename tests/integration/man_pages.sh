#!/bin/bash
# SPDX-License-Identifier: MIT
# Every man page under DOCS renders with man-db and draws no warning.
set -euo pipefail
docs=${1:?usage: man_pages.sh DOCS_DIR}
command -v man >/dev/null || { echo "man (man-db) not installed: skipping"; exit 77; }
n=0
for page in "$docs"/*.[1-9]; do
    [ -e "$page" ] || continue
    warnings=$(MANWIDTH=80 man -l --warnings=all "$page" 2>&1 >/dev/null)
    [ -z "$warnings" ] || { echo "$page: $warnings" >&2; exit 1; }
    MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q "^NAME" || { echo "$page: no NAME section" >&2; exit 1; }
    n=$((n + 1))
done
[ $n -gt 0 ] || { echo "no man pages under $docs" >&2; exit 1; }
echo "man_pages: $n page(s) render cleanly"
