#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Compare coil's Deferred with Twisted's on the same four operations and
# print a Markdown table (ns/op and the Twisted/coil ratio). Both sides report
# the best of 7 repetitions of CPU time per operation, which is less sensitive
# to other load on the host than wall time.
#
#   bench/deferred_bench.sh BUILD_DIR
#
# BUILD_DIR is a CMake build tree (use -DCMAKE_BUILD_TYPE=Release) in which
# the bench_deferred target was built. Twisted is Debian's python3-twisted,
# run with /usr/bin/python3 (not whatever python3 is first on PATH).
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench/bench_deferred
py=/usr/bin/python3

if [[ ! -x $bin ]]; then
    echo "$bin not found: cmake --build $build --target bench_deferred" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" --benchmark_format=json --benchmark_min_time=0.3 --benchmark_repetitions=7 \
    >"$tmp/coil.json"
"$py" "$here/deferred_twisted.py" --json >"$tmp/twisted.json"

"$py" - "$tmp/coil.json" "$tmp/twisted.json" <<'EOF'
import json
import sys

with open(sys.argv[1]) as f:
    coil = json.load(f)
with open(sys.argv[2]) as f:
    twisted = json.load(f)

# Best repetition, like the Python side's min() over timeit repeats.
coil_ns = {}
for b in coil["benchmarks"]:
    if b.get("run_type") != "iteration":
        continue
    assert b["time_unit"] == "ns", b
    name = b["run_name"].removeprefix("BM_")
    coil_ns[name] = min(coil_ns.get(name, float("inf")), b["cpu_time"])

ctx = coil["context"]
print(f"coil vs Twisted {twisted['twisted']} (Python {twisted['python']}), "
      f"{ctx.get('num_cpus', '?')} CPUs @ {ctx.get('mhz_per_cpu', '?')} MHz, {ctx.get('date', '')}")
print()
print("| Operation | coil (ns/op) | Twisted (ns/op) | Twisted/coil |")
print("|---|---:|---:|---:|")
for name, t_ns in twisted["ns_per_op"].items():
    c_ns = coil_ns[name]
    print(f"| {name} | {c_ns:.1f} | {t_ns:.1f} | {t_ns / c_ns:.1f}x |")
EOF
