#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install a build into a temporary prefix, then build a tiny consumer with
# find_package(coil CONFIG) and with pkg-config, and run both.
set -euo pipefail
build=${1:?usage: check-install.sh BUILD_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
mkdir -p "$tmp/consumer"
cat >"$tmp/consumer/main.c" <<'C'
#include <coil/coil.h>
#include <stdio.h>
int main(void)
{
    coil_reactor *r;
    coil_reactor_options o;
    coil_reactor_options_init(&o);
    o.backend = COIL_BACKEND_POLL;
    if (coil_reactor_new(&r, &o) < 0)
        return 1;
    printf("coil %s on %s\n", coil_version_string(), coil_reactor_backend_name(r));
    coil_reactor_free(r);
    return coil_version() == COIL_VERSION_HEX ? 0 : 1;
}
C
cat >"$tmp/consumer/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(coil CONFIG REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE coil::coil)
C
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer/build" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/consumer/build/consumer"
PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" cc "$tmp/consumer/main.c" -o "$tmp/pc-consumer" \
  $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs coil)
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/pc-consumer"
# The installed headers, as the README promises: C11 (pedantic) and C++.
# The call-site macros (coil_connect_string() & co.) expand in both too.
cat >"$tmp/headers.c" <<'C'
#include <coil/coil.h>
static coil_deferred *run(coil_reactor *r, void *desc)
{
    static coil_protocol_factory f;
    coil_protocol_factory_init(&f, sizeof(coil_protocol), NULL, NULL);
    coil_deferred *d = coil_connect_string(r, (const char *)desc, &f.base);
    coil_deferred_add_timeout(d, coil_reactor_clock(r), 1.0);
    coil_deferred_add_callback(d, coil_result_when_lost, NULL);
    return d;
}
int main(void) { return coil_react(run, (void *)"tcp:127.0.0.1:1"); }
C
cp "$tmp/headers.c" "$tmp/headers.cc"
cc -std=c11 -pedantic -Wall -Wextra -Werror -I"$tmp/prefix/include" -c "$tmp/headers.c" -o /dev/null
c++ -std=c++17 -Wall -Wextra -Werror -I"$tmp/prefix/include" -c "$tmp/headers.cc" -o /dev/null
for f in share/man/man3/coil.3 share/doc/coil/tutorial/README.md share/doc/coil/ENDPOINTS.md; do
  [ -f "$tmp/prefix/$f" ] || { echo "check-install: $f was not installed" >&2; exit 1; }
done
echo "check-install: find_package(coil) and pkg-config consumers built and ran"
