#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configure and build one flavour:  scripts/build.sh release|asan [extra cmake args]
#   release: optimized, -Werror      -> build/release
#   asan:    ASan+UBSan, -Werror     -> build/asan
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
shift || true
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOIL_SANITIZE=address,undefined) ;;
  *) echo "build.sh: unknown flavour '$flavour' (release, asan)" >&2; exit 2 ;;
esac
# TLS (wolfSSL, Debian's libwolfssl-dev) is part of every scripted build;
# pass -DCOIL_WITH_TLS=OFF after the flavour to build without it.
args+=(-DCOIL_WITH_TLS=ON)
cmake -S . -B "build/$flavour" -G Ninja -DCOIL_WERROR=ON "${args[@]}" "$@" >/dev/null
cmake --build "build/$flavour"
