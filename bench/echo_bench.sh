#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# echo_bench.sh - interleaved echo benchmark of coild (io_uring and poll
# reactors) against the hand-written baselines, with one client (echoload).
#
# For every repetition, every (conns, size) point and every server in turn
# (A B C D, A B C D, ...) it starts a fresh server pinned to CPU 0 on a free
# 127.0.0.1 port, waits until it accepts, runs echoload pinned to CPU 1 and
# stops the server. Then it measures idle-connection memory (idle_conns) for
# each server. It reports medians as Markdown: throughput, latency, server
# CPU per message and its ratio to both baselines, plus a memory table.
# Servers whose binary is missing are skipped with a note.
#
# usage: bench/echo_bench.sh [options] [BUILDDIR]      (default BUILDDIR: build/release)
#   --reps N          repetitions, median reported (3; env ECHO_BENCH_REPS)
#   --duration SEC    measured seconds per run (5; ECHO_BENCH_DURATION)
#   --warmup SEC      discarded warm-up seconds (1; ECHO_BENCH_WARMUP)
#   --conns "LIST"    connection counts ("1 100 1000"; ECHO_BENCH_CONNS)
#   --sizes "LIST"    message sizes in bytes ("64 16384"; ECHO_BENCH_SIZES)
#   --depth D         messages in flight per connection (1; ECHO_BENCH_DEPTH)
#   --servers "LIST"  subset of "coild-uring coild-epoll coild-poll epoll uring coild-uring-ref"
#                     (ECHO_BENCH_SERVERS); coild-uring-ref is another coild on io_uring, e.g.
#                     one built before a change, named by env ECHO_BENCH_REF_COILD
#   --idle-conns N    connections for the idle-memory test, 0 = skip (10000)
#   --verify          let echoload verify every echoed byte (costs client CPU)
#   --quick           smoke test: 1 s runs, 0.5 s warm-up, 1 repetition
#   --out FILE        also write the report to FILE (raw JSON lines to FILE.jsonl)
#   --from FILE.jsonl run nothing, only render the report from earlier raw results
set -euo pipefail

cmdline=$(printf '%q ' "$0" "$@")
reps=${ECHO_BENCH_REPS:-}
duration=${ECHO_BENCH_DURATION:-}
warmup=${ECHO_BENCH_WARMUP:-}
conns_list=${ECHO_BENCH_CONNS:-"1 100 1000"}
sizes=${ECHO_BENCH_SIZES:-"64 16384"}
depth=${ECHO_BENCH_DEPTH:-1}
servers=${ECHO_BENCH_SERVERS:-"coild-uring coild-poll epoll uring"}
idle_n=${ECHO_BENCH_IDLE_CONNS:-10000}
verify=() quick=0 out="" from="" builddir=build/release

usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
    case $1 in
    --reps) reps=$2; shift ;;
    --duration) duration=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --conns) conns_list=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    --depth) depth=$2; shift ;;
    --servers) servers=$2; shift ;;
    --idle-conns) idle_n=$2; shift ;;
    --verify) verify=(--verify) ;;
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --from) from=$2; shift ;;
    -h | --help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage 2 >&2 ;;
    *) builddir=$1 ;;
    esac
    shift
done
if ((quick)); then
    : "${reps:=1}" "${duration:=1}" "${warmup:=0.5}"
fi
: "${reps:=3}" "${duration:=5}" "${warmup:=1}"

bench=$builddir/bench
coild=$builddir/apps/coild
ref_coild=${ECHO_BENCH_REF_COILD:-}
for tool in echoload idle_conns; do
    [[ -x $bench/$tool ]] || { echo "error: $bench/$tool not built" >&2; exit 1; }
done

server_bin() {
    case $1 in
    coild-uring | coild-poll | coild-epoll) echo "$coild" ;;
    coild-uring-ref) echo "${ref_coild:-(ECHO_BENCH_REF_COILD unset)}" ;;
    epoll) echo "$bench/baseline_epoll_echo" ;;
    uring) echo "$bench/baseline_uring_echo" ;;
    *) echo "unknown server $1" >&2; return 1 ;;
    esac
}

# Fills the array `cmd` with the command line of server $1 on port $2.
server_cmd() {
    case $1 in
    coild-uring) cmd=(env COIL_REACTOR=uring "$coild" -n echo --port "tcp:$2:interface=127.0.0.1") ;;
    coild-poll) cmd=(env COIL_REACTOR=poll "$coild" -n echo --port "tcp:$2:interface=127.0.0.1") ;;
    coild-epoll) cmd=(env COIL_REACTOR=epoll "$coild" -n echo --port "tcp:$2:interface=127.0.0.1") ;;
    coild-uring-ref) cmd=(env COIL_REACTOR=uring "$ref_coild" -n echo --port "tcp:$2:interface=127.0.0.1") ;;
    *) cmd=("$(server_bin "$1")" --port "$2" --host 127.0.0.1) ;;
    esac
}

active=()
for s in $servers; do
    if [[ -n $from || -x $(server_bin "$s") ]]; then
        active+=("$s")
    else
        echo "note: skipping $s: $(server_bin "$s") not found" >&2
    fi
done
((${#active[@]})) || { echo "error: no server binary found" >&2; exit 1; }

srv_pin=() cli_pin=()
if (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    srv_pin=(taskset -c 0) cli_pin=(taskset -c 1)
else
    echo "note: fewer than 2 CPUs or no taskset: not pinning" >&2
fi

tmp=$(mktemp -d)
srv_pid="" cli_pid=""
stop_server() {
    [[ -n $srv_pid ]] || return 0
    kill -TERM "$srv_pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$srv_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -KILL "$srv_pid" 2>/dev/null; then
        echo "warning: server $srv_pid did not exit within 5 s of SIGTERM: killed" >&2
    fi
    wait "$srv_pid" 2>/dev/null || true
    srv_pid=""
}
cleanup() {
    [[ -z $cli_pid ]] || kill -TERM "$cli_pid" 2>/dev/null || true
    stop_server
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A random port below the ephemeral range that nothing listens on.
pick_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12000))
        if ! command -v ss >/dev/null || [[ -z $(ss -Htln "sport = :$p") ]]; then
            echo "$p"
            return
        fi
    done
    echo "error: no free port found" >&2
    return 1
}

# Starts server $1 pinned to CPU 0; sets srv_pid and port once it accepts.
start_server() {
    local cmd=() try
    for try in 1 2 3 4 5; do
        port=$(pick_port)
        server_cmd "$1" "$port"
        "${srv_pin[@]}" "${cmd[@]}" >"$tmp/server.log" 2>&1 &
        srv_pid=$!
        for _ in $(seq 200); do # up to 10 s
            kill -0 "$srv_pid" 2>/dev/null || break
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                kill -0 "$srv_pid" 2>/dev/null && return 0
                break
            fi
            sleep 0.05
        done
        echo "warning: $1 did not start on port $port (try $try):" >&2
        sed 's/^/  | /' "$tmp/server.log" >&2
        stop_server
    done
    return 1
}

# Runs a client command pinned to CPU 1 (interruptible, bounded in time).
run_client() {
    "${cli_pin[@]}" timeout 600 "$@" >"$tmp/client.out" 2>"$tmp/client.err" &
    cli_pid=$!
    local rc=0
    wait "$cli_pid" || rc=$?
    cli_pid=""
    return "$rc"
}

results=$tmp/results.jsonl
: >"$results"
failed() { # tool label conns size
    printf '{"tool":"%s","label":"%s","conns":%s,"size":%s,"failed":true}\n' "$@" >>"$results"
}

# % of all CPUs busy during 0.2 s, sampled before each run to expose
# interference from other processes (should be ~0 on a quiet machine).
bg_busy() {
    local a b
    a=$(head -1 /proc/stat)
    sleep 0.2
    b=$(head -1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y)
        for (i = 2; i <= 9; i++) { t += y[i] - x[i]; if (i != 5 && i != 6) busy += y[i] - x[i] }
        printf "%.0f", t ? 100 * busy / t : 0 }'
}

run_load() { # server conns size rep
    local line bg
    bg=$(bg_busy)
    ((bg < 10)) || echo "warning: machine busy before this run ($bg% CPU)" >&2
    if ! start_server "$1"; then
        failed echoload "$1" "$2" "$3"
        return
    fi
    if run_client "$bench/echoload" --host 127.0.0.1 --port "$port" --conns "$2" --size "$3" \
        --depth "$depth" --duration "$duration" --warmup "$warmup" --server-pid "$srv_pid" \
        --label "$1" --json "${verify[@]}"; then
        line=$(cat "$tmp/client.out")
        line="${line%\}},\"bg_busy_pct\":$bg}"
        echo "$line" >>"$results"
        awk -v r="$4/$reps" -v l="$line" 'BEGIN {
            n = split(l, a, /[,:{}"]+/); for (i = 2; i < n; i += 2) f[a[i]] = a[i + 1]
            printf "[%s] %-11s %5s conns %6s B: %9s msgs/s  p99 %8s us  srv %5s%% %7s us/msg  cli %5s%%\n",
                r, f["label"], f["conns"], f["size"], f["msgs_per_s"], f["p99_us"],
                f["srv_cpu_pct"], f["cpu_us_per_msg"], f["cli_cpu_pct"] }' >&2
    else
        echo "[$4/$reps] $1 $2 conns $3 B: FAILED: $(cat "$tmp/client.err")" >&2
        failed echoload "$1" "$2" "$3"
    fi
    stop_server
}

run_idle() { # server rep
    if ! start_server "$1"; then
        failed idle_conns "$1" "$idle_n" 0
        return
    fi
    if run_client "$bench/idle_conns" --host 127.0.0.1 --port "$port" --conns "$idle_n" \
        --server-pid "$srv_pid" --label "$1" --json; then
        cat "$tmp/client.out" >>"$results"
        echo "[$2/$reps] $1 idle: $(cat "$tmp/client.out")" >&2
    else
        echo "[$2/$reps] $1 idle: FAILED: $(cat "$tmp/client.err")" >&2
        failed idle_conns "$1" "$idle_n" 0
    fi
    stop_server
}

echo "command: $cmdline" >&2
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.3) }'; then
    echo "warning: load average $load: the machine is not quiet, results will be noisy" >&2
fi
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if [[ -n $from ]]; then # only re-render earlier results
    cp "$from" "$results"
    reps=0 started="re-rendered from $from"
fi
for ((rep = 1; rep <= reps; rep++)); do
    for c in $conns_list; do
        for sz in $sizes; do
            for s in "${active[@]}"; do
                run_load "$s" "$c" "$sz" "$rep"
            done
        done
    done
    if ((idle_n > 0)); then
        for s in "${active[@]}"; do
            run_idle "$s" "$rep"
        done
    fi
done

hwm_conns=$(tr ' ' '\n' <<<"$conns_list" | sort -n | tail -1)
{
    echo "## Echo benchmark ($started)"
    echo
    echo "- command: \`$cmdline\`"
    echo "- kernel $(uname -r), $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), load average at start $load"
    [[ -n $from ]] ||
        echo "- ${reps} repetition(s) interleaved, medians; ${duration} s measured after ${warmup} s warm-up; depth ${depth}${verify[*]:+; verified}"
    [[ " ${active[*]} " != *" coild-uring-ref "* ]] || echo "- coild-uring-ref: \`$ref_coild\`"
    if ((${#srv_pin[@]})); then
        echo "- server pinned to CPU 0, echoload to CPU 1 (taskset); servers: ${active[*]}"
    else
        echo "- not pinned; servers: ${active[*]}"
    fi
    echo
    awk -v conns="$conns_list" -v sizes="$sizes" -v servers="${active[*]}" \
        -v hwm_conns="$hwm_conns" -f /dev/fd/3 "$results" 3<<'AWK'
function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    if (n == 0) return ""
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function m(key, metric) { return median(v[key, metric]) }
function fmt(x, spec) { return x == "" ? "-" : sprintf(spec, x) }
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
{
    delete f
    n = split($0, a, /[,:{}"]+/)
    for (i = 2; i < n; i += 2) f[a[i]] = a[i + 1]
    key = f["tool"] SUBSEP f["label"]
    if (f["tool"] == "echoload") key = key SUBSEP f["conns"] SUBSEP f["size"]
    if (f["failed"] == "true") { nfail[key]++; next }
    runs[key]++
    for (k in f) if (f[k] ~ /^-?[0-9.]+$/) v[key, k] = v[key, k] " " f[k]
}
END {
    ns = split(servers, S, " "); nc = split(conns, C, " "); nz = split(sizes, Z, " ")
    print "| server | conns | size B | msgs/s | MB/s | p50 us | p99 us | p99.9 us | srv CPU % | srv CPU us/msg | vs epoll | vs uring | cli CPU % | bg CPU % | runs |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (ci = 1; ci <= nc; ci++) for (zi = 1; zi <= nz; zi++) for (si = 1; si <= ns; si++) {
        k = "echoload" SUBSEP S[si] SUBSEP C[ci] SUBSEP Z[zi]
        ke = "echoload" SUBSEP "epoll" SUBSEP C[ci] SUBSEP Z[zi]
        ku = "echoload" SUBSEP "uring" SUBSEP C[ci] SUBSEP Z[zi]
        cpu = m(k, "cpu_us_per_msg")
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d%s |\n",
            S[si], C[ci], Z[zi], fmt(m(k, "msgs_per_s"), "%.0f"), fmt(m(k, "mb_per_s"), "%.1f"),
            fmt(m(k, "p50_us"), "%.1f"), fmt(m(k, "p99_us"), "%.1f"), fmt(m(k, "p999_us"), "%.1f"),
            fmt(m(k, "srv_cpu_pct"), "%.0f"), fmt(cpu, "%.2f"),
            ratio(cpu, m(ke, "cpu_us_per_msg")), ratio(cpu, m(ku, "cpu_us_per_msg")),
            fmt(m(k, "cli_cpu_pct"), "%.0f"), fmt(m(k, "bg_busy_pct"), "%.0f"), runs[k],
            nfail[k] ? " (" nfail[k] " failed)" : ""
    }
    print ""
    print "vs epoll / vs uring: server CPU per message divided by that of baseline_epoll_echo /"
    print "baseline_uring_echo at the same point (lower is better). When cli CPU % is near 100 the"
    print "client is the bottleneck: msgs/s then says little and CPU us/msg is the fair comparison."
    print "bg CPU %: share of both CPUs busy in the 0.2 s before the run (other processes); above"
    print "a few % the machine was not quiet and the row is suspect."
    print ""
    printf "| server | idle conns | RSS growth B/conn | kernel slab B/conn (client+server) | RSS idle KiB |"
    for (zi = 1; zi <= nz; zi++) printf " VmHWM KiB, %s conns x %s B |", hwm_conns, Z[zi]
    printf "\n|---|---:|---:|---:|---:|"
    for (zi = 1; zi <= nz; zi++) printf "---:|"
    printf "\n"
    for (si = 1; si <= ns; si++) {
        k = "idle_conns" SUBSEP S[si]
        printf "| %s | %s | %s | %s | %s |", S[si],
            fmt(m(k, "conns"), "%d") (nfail[k] ? " (" nfail[k] " failed)" : ""),
            fmt(m(k, "bytes_per_conn"), "%.0f"), fmt(m(k, "slab_bytes_per_conn"), "%.0f"),
            fmt(m(k, "rss_idle_kb"), "%.0f")
        for (zi = 1; zi <= nz; zi++)
            printf " %s |", fmt(m("echoload" SUBSEP S[si] SUBSEP hwm_conns SUBSEP Z[zi], "srv_hwm_kb"), "%.0f")
        printf "\n"
    }
}
AWK
} >"$tmp/report.md"

cat "$tmp/report.md"
if [[ -n $out ]]; then
    cp "$tmp/report.md" "$out"
    cp "$results" "${out%.md}.jsonl"
    echo "wrote $out and ${out%.md}.jsonl" >&2
fi
