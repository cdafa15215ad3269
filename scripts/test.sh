#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what is missing, build, and run every test twice: optimized and
# under ASan+UBSan; each test binary runs on both backends (io_uring, poll).
# Then check the installed package (headers, coil.pc, find_package) and
# that libcoil.so exports only coil_ symbols.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for flavour in release asan; do
  echo "=== $flavour build"
  scripts/build.sh "$flavour" -DCOIL_BUILD_TESTS=ON -DCOIL_BUILD_BENCH=OFF
  echo "=== $flavour tests"
  (cd "build/$flavour" && ctest --output-on-failure -j2 --timeout 300)
done

echo "=== without TLS (ssl:/tls: fail with COIL_ENOTLS)"
cmake -S . -B build/notls -G Ninja -DCOIL_WERROR=ON -DCOIL_WITH_TLS=OFF -DCOIL_BUILD_TESTS=ON \
  -DCOIL_BUILD_APPS=OFF -DCOIL_BUILD_BENCH=OFF >/dev/null
cmake --build build/notls --target test_endpoint test_endpoint_desc
(cd build/notls && ctest --output-on-failure -R '^test_endpoint')

echo "=== fuzz smoke (clang libFuzzer)"
CC=clang cmake -S . -B build/fuzz -G Ninja -DCOIL_BUILD_FUZZ=ON -DCOIL_BUILD_TESTS=ON \
  -DCOIL_BUILD_APPS=OFF -DCOIL_BUILD_BENCH=OFF >/dev/null
cmake --build build/fuzz --target coil_fuzzers
(cd build/fuzz && ctest --output-on-failure -L fuzz)

echo "=== exported symbols"
scripts/check-exports.sh build/release/libcoil.so
echo "=== install and consume"
scripts/check-install.sh build/release
echo "=== all tests passed"
