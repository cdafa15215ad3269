#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# proxy_bench.sh - TCP forwarding cost of `coild proxy` (io_uring and poll)
# side by side with haproxy (mode tcp, one thread), in one interleaved run.
#
# An echo server (bench's baseline_uring_echo) is the target; echoload
# drives echo traffic through each proxy in turn (A B C, A B C, ...) and
# measures the *proxy's* CPU per message (--server-pid). The proxy is pinned
# to CPU 0, the echo server and echoload to CPU 1. Medians are reported as
# Markdown; "vs haproxy" divides a proxy's CPU per message by haproxy's at
# the same point (lower is better).
#
# usage: bench/proxy_bench.sh [options] [BUILDDIR]     (default BUILDDIR: build/release)
#   --reps N          repetitions, median reported (3)
#   --duration SEC    measured seconds per run (3)
#   --conns "LIST"    connection counts ("1 50")
#   --sizes "LIST"    message sizes in bytes ("64 16384")
#   --proxies "LIST"  subset of "coild-uring coild-poll haproxy"
#   --out FILE        also write the report to FILE
set -euo pipefail

cmdline=$(printf '%q ' "$0" "$@")
reps=3 duration=3 conns_list="1 50" sizes="64 16384" out="" builddir=build/release
proxies="coild-uring coild-poll haproxy"
usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
    case $1 in
    --reps) reps=$2; shift ;;
    --duration) duration=$2; shift ;;
    --conns) conns_list=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    --proxies) proxies=$2; shift ;;
    --out) out=$2; shift ;;
    -h | --help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage 2 >&2 ;;
    *) builddir=$1 ;;
    esac
    shift
done

bench=$builddir/bench
coild=$builddir/apps/coild
for tool in "$bench/echoload" "$bench/baseline_uring_echo" "$coild"; do
    [[ -x $tool ]] || { echo "error: $tool not built (COIL_BUILD_BENCH=ON)" >&2; exit 1; }
done
active=()
for p in $proxies; do
    if [[ $p == haproxy ]] && ! command -v haproxy >/dev/null; then
        echo "note: haproxy not installed: skipped" >&2
        continue
    fi
    active+=("$p")
done

pin0=() pin1=()
if (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    pin0=(taskset -c 0) pin1=(taskset -c 1)
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pick_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12000))
        if [[ -z $(ss -Htln "sport = :$p" 2>/dev/null) ]]; then
            echo "$p"
            return
        fi
    done
    return 1
}

wait_port() { # pid port
    for _ in $(seq 200); do
        kill -0 "$1" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

up_port=$(pick_port)
"${pin1[@]}" "$bench/baseline_uring_echo" --port "$up_port" --host 127.0.0.1 >"$tmp/up.log" 2>&1 &
up_pid=$!
pids+=("$up_pid")
wait_port "$up_pid" "$up_port" || { echo "error: echo target did not start" >&2; exit 1; }

start_proxy() { # name port -> proxy_pid
    case $1 in
    coild-uring | coild-poll)
        "${pin0[@]}" "$coild" --reactor="${1#coild-}" --log-level=warn proxy \
            --port "tcp:$2:interface=127.0.0.1" --target "tcp:host=127.0.0.1:port=$up_port" \
            >"$tmp/proxy.log" 2>&1 &
        ;;
    haproxy)
        cat >"$tmp/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen fwd
    bind 127.0.0.1:$2
    server up 127.0.0.1:$up_port
EOF
        "${pin0[@]}" haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/proxy.log" 2>&1 &
        ;;
    esac
    proxy_pid=$!
    pids+=("$proxy_pid")
    wait_port "$proxy_pid" "$2"
}

stop_proxy() {
    kill -TERM "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
}

results=$tmp/results.jsonl
: >"$results"
for _ in $(seq "$reps"); do
    for conns in $conns_list; do
        for size in $sizes; do
            for p in "${active[@]}"; do
                port=$(pick_port)
                if ! start_proxy "$p" "$port"; then
                    echo "warning: $p did not start: $(cat "$tmp/proxy.log")" >&2
                    stop_proxy
                    continue
                fi
                if "${pin1[@]}" timeout 120 "$bench/echoload" --port "$port" --conns "$conns" \
                    --size "$size" --duration "$duration" --warmup 1 --server-pid "$proxy_pid" \
                    --label "$p" --json >"$tmp/one.json" 2>"$tmp/one.err"; then
                    cat "$tmp/one.json" >>"$results"
                else
                    echo "warning: echoload through $p failed: $(cat "$tmp/one.err")" >&2
                fi
                stop_proxy
            done
        done
    done
done

report=$(python3 - "$results" "$cmdline" "$reps" "$duration" <<'EOF'
import json, statistics, sys, platform, os
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cmd, reps, dur = sys.argv[2], sys.argv[3], sys.argv[4]
groups = {}
for r in rows:
    groups.setdefault((r["conns"], r["size"], r["label"]), []).append(r)
med = lambda rs, k: statistics.median(x[k] for x in rs if x.get(k) is not None)
print("- command: `%s`" % cmd.strip())
print("- kernel %s, %d CPUs; %s repetition(s) interleaved, medians; %s s measured after 1 s warm-up"
      % (platform.release(), os.cpu_count(), reps, dur))
print("- proxy pinned to CPU 0; target (baseline_uring_echo) and echoload on CPU 1\n")
print("| proxy | conns | size B | msgs/s | MB/s | p50 us | p99 us | proxy CPU % | proxy CPU us/msg | vs haproxy | runs |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for (c, s, label), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
    us = med(rs, "cpu_us_per_msg")
    base = groups.get((c, s, "haproxy"))
    ratio = "%.2f" % (us / med(base, "cpu_us_per_msg")) if base else "-"
    print("| %s | %d | %d | %.0f | %.1f | %.1f | %.1f | %.0f | %.2f | %s | %d |" % (
        label, c, s, med(rs, "msgs_per_s"), med(rs, "mb_per_s"), med(rs, "p50_us"),
        med(rs, "p99_us"), med(rs, "srv_cpu_pct"), us, ratio, len(rs)))
EOF
)
echo "$report"
[[ -z $out ]] || echo "$report" >"$out"
