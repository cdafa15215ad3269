#!/bin/bash
# SPDX-License-Identifier: MIT
# docs/coild.1 renders with man(1) without warnings, documents every
# option coild --help lists, and `cmake --install` puts it in
# share/man/man1. Usage: coild_manpage.sh PATH/coild.1 BUILD_DIR
set -euo pipefail
PAGE=${1:?coild.1}
BUILD=${2:?build dir}
command -v man >/dev/null || { echo "SKIP: man not installed" >&2; exit 77; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
die() { echo "coild_manpage.sh: FAIL: $*" >&2; exit 1; }

MANWIDTH=80 timeout 60 man --warnings -l "$PAGE" >"$WORK/page.txt" 2>"$WORK/warn.txt" ||
    die "man -l failed: $(cat "$WORK/warn.txt")"
[ ! -s "$WORK/warn.txt" ] || die "man warnings: $(cat "$WORK/warn.txt")"
grep -q "^NAME" "$WORK/page.txt" && grep -q "^OPTIONS" "$WORK/page.txt" || die "sections missing"
COILD="$BUILD/apps/coild"
if [ -x "$COILD" ]; then
    for opt in $("$COILD" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        grep -qF -- "$opt" "$WORK/page.txt" || die "the man page does not document $opt"
    done
fi
timeout 120 cmake --install "$BUILD" --prefix "$WORK/prefix" >/dev/null
[ -f "$WORK/prefix/share/man/man1/coild.1" ] || die "not installed to share/man/man1"
cmp "$PAGE" "$WORK/prefix/share/man/man1/coild.1" || die "installed page differs"
echo "coild_manpage.sh: ok"
