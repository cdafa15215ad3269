#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what is missing, build, and run every test twice: optimized and
# under ASan+UBSan; each test binary runs on every backend (io_uring, epoll,
# poll). Then a build without io_uring (its tests too), a musl build of the
# library and coild with a smoke test, and the fuzz smoke runs (each target
# for a bounded time with a random seed, printed).
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

# Also the build without TLS (the option's default): ssl:/tls: fail there
# with COIL_ENOTLS, which test_endpoint checks.
echo "=== poll-only build (-DCOIL_WITH_URING=OFF, what a host without io_uring gets; no TLS)"
cmake -S . -B build/poll-only -G Ninja -DCOIL_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
  -DCOIL_WITH_URING=OFF -DCOIL_BUILD_TESTS=ON -DCOIL_BUILD_BENCH=OFF >/dev/null
cmake --build build/poll-only
(cd build/poll-only && ctest --output-on-failure -j2 --timeout 300 -LE valgrind)

echo "=== musl build (musl-gcc, poll-only: library and coild), smoke test"
CC=musl-gcc cmake -S . -B build/musl -G Ninja -DCOIL_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
  -DCOIL_WITH_URING=OFF -DCOIL_BUILD_TESTS=OFF -DCOIL_BUILD_BENCH=OFF >/dev/null
cmake --build build/musl
build/musl/apps/coild --version
for backend in epoll poll; do
  COIL_REACTOR=$backend timeout -k 5 170 bash tests/integration/coild_echo.sh \
    build/musl/apps/coild ""
done

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
