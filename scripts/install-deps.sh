#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian packages coil needs that are missing (root or sudo).
#   scripts/install-deps.sh build   compiler, CMake, liburing, ...
#   scripts/install-deps.sh test    build + cmocka, peers and tools the tests use
#   scripts/install-deps.sh bench   build + Google Benchmark and load-test peers
set -euo pipefail

build=(build-essential cmake ninja-build pkgconf git liburing-dev libbenchmark-dev libcmocka-dev)
test=(socat python3 python3-twisted valgrind iproute2 procps curl haproxy systemd
      clang libclang-rt-14-dev man-db)
# The runner tests: unshare and setpriv.
test+=(util-linux)
test+=(musl-tools) # the musl build of scripts/test.sh
bench=(nginx-light)
build+=(libwolfssl-dev)
test+=(openssl python3-openssl sslscan testssl.sh)
# coild web: llhttp's C sources (compiled into the build); wrk for its
# integration test (a short load run) and for bench/web_bench.sh.
build+=(node-llhttp)
test+=(wrk)

want=("${build[@]}")
for set in "$@"; do
  case "$set" in
    build) ;;
    test) want+=("${test[@]}") ;;
    bench) want+=("${test[@]}" "${bench[@]}") ;;
    *) echo "install-deps: unknown set '$set' (build, test, bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# haproxy's Debian package may start a system haproxy; its default
# configuration listens nowhere. The tests start their own on loopback.
# nginx-light starts a system nginx on port 80 where an init system runs;
# the benchmarks start their own instance on a free loopback port.
