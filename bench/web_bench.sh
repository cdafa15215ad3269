#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# web_bench.sh - static file serving: `coild web` (io_uring and poll reactors)
# against nginx (Debian's nginx-light, one worker) and Twisted web, in one
# run, with wrk over keep-alive connections fetching the same 1 KiB file.
#
# Every repetition runs every server in turn (A B C D, A B C D, ...): a fresh
# server pinned to CPU 1 on a free 127.0.0.1 port, a warm-up, then a
# measured wrk run pinned to CPU 0. Server CPU is the utime+stime delta of
# the server process (/proc/PID/stat) over the measured run, divided by the
# requests wrk completed. Reports medians as Markdown, with ratios to nginx
# and to Twisted. Access logs are off for coild (--log-level=warn) and nginx
# (access_log off); Twisted web always logs (to /dev/null here).
#
# usage: bench/web_bench.sh [options] [BUILDDIR]        (default BUILDDIR: build/release)
#   --reps N          repetitions, median reported (3)
#   --duration SEC    measured seconds per run (10)
#   --warmup SEC      warm-up seconds per run, discarded (1)
#   --conns N         wrk connections (100)
#   --size BYTES      size of the file served (1024)
#   --servers "LIST"  subset of "coild-uring coild-poll nginx twisted"; also
#                     coild-uring-copy, coild-poll-copy (coild with --zero-copy off)
#   --out FILE        also write the report to FILE
set -euo pipefail

cmdline=$(printf '%q ' "$0" "$@")
reps=3 duration=10 warmup=1 conns=100 size=1024 out="" builddir=build/release
servers="coild-uring coild-poll nginx twisted"
usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
    case $1 in
    --reps) reps=$2; shift ;;
    --duration) duration=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --conns) conns=$2; shift ;;
    --size) size=$2; shift ;;
    --servers) servers=$2; shift ;;
    --out) out=$2; shift ;;
    -h | --help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage 2 >&2 ;;
    *) builddir=$1 ;;
    esac
    shift
done

coild=$builddir/apps/coild
command -v wrk >/dev/null || { echo "error: wrk not found (scripts/install-deps.sh bench)" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
PY=/usr/bin/python3
active=()
for s in $servers; do
    case $s in
    coild-*) [[ -x $coild ]] && active+=("$s") || echo "note: skipping $s: $coild not built" >&2 ;;
    nginx) [[ -x $NGINX ]] && active+=("$s") || echo "note: skipping nginx: not installed" >&2 ;;
    twisted) "$PY" -c 'import twisted.web' 2>/dev/null && active+=("$s") ||
        echo "note: skipping twisted: python3-twisted not installed" >&2 ;;
    *) echo "unknown server $s" >&2; exit 2 ;;
    esac
done
((${#active[@]})) || { echo "error: no server to run" >&2; exit 1; }

srv_pin=() cli_pin=()
if (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    srv_pin=(taskset -c 1) cli_pin=(taskset -c 0)
else
    echo "note: fewer than 2 CPUs or no taskset: not pinning" >&2
fi

tmp=$(mktemp -d)
root=$tmp/root
mkdir -p "$root"
head -c "$size" /dev/urandom >"$root/file.bin"
srv_pid=""
stop_server() {
    [[ -n $srv_pid ]] || return 0
    kill -TERM "$srv_pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$srv_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    srv_pid=""
}
trap 'stop_server; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

pick_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12000))
        if ! command -v ss >/dev/null || [[ -z $(ss -Htln "sport = :$p") ]]; then
            echo "$p"
            return
        fi
    done
    return 1
}

# nginx in the foreground as a single process (master_process off), so its
# pid is the one doing the work: one worker, as the comparison asks.
nginx_conf() { # port
    cat >"$tmp/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $tmp/nginx-error.log warn;
pid $tmp/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    open_file_cache max=1000 inactive=20s;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    default_type application/octet-stream;
    client_body_temp_path $tmp/nginx-body;
    proxy_temp_path $tmp/nginx-proxy;
    fastcgi_temp_path $tmp/nginx-fastcgi;
    uwsgi_temp_path $tmp/nginx-uwsgi;
    scgi_temp_path $tmp/nginx-scgi;
    server {
        listen 127.0.0.1:$1;
        root $root;
    }
}
CONF
}

start_server() { # name -> srv_pid, port
    local cmd=() try
    for try in 1 2 3; do
        port=$(pick_port)
        case $1 in
        coild-uring | coild-poll)
            cmd=("$coild" --reactor="${1#coild-}" --log-level=warn web --path "$root"
                 --port "tcp:$port:interface=127.0.0.1") ;;
        coild-uring-copy | coild-poll-copy)
            local be=${1#coild-}
            cmd=("$coild" --reactor="${be%-copy}" --log-level=warn web --path "$root"
                 --zero-copy off --port "tcp:$port:interface=127.0.0.1") ;;
        nginx)
            nginx_conf "$port"
            cmd=("$NGINX" -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log") ;;
        twisted)
            cmd=("$PY" -m twisted web --path "$root" --listen "tcp:$port:interface=127.0.0.1") ;;
        esac
        "${srv_pin[@]}" "${cmd[@]}" >/dev/null 2>"$tmp/server.err" &
        srv_pid=$!
        for _ in $(seq 200); do
            kill -0 "$srv_pid" 2>/dev/null || break
            if curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/file.bin"; then
                return 0
            fi
            sleep 0.05
        done
        echo "warning: $1 did not start on port $port (try $try):" >&2
        sed 's/^/  | /' "$tmp/server.err" >&2
        stop_server
    done
    return 1
}

cpu_ticks() { # pid: utime + stime
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
hz=$(getconf CLK_TCK)

results=$tmp/results
: >"$results"
load_start=$(cut -d' ' -f1 /proc/loadavg)
for rep in $(seq "$reps"); do
    for s in "${active[@]}"; do
        start_server "$s" || { echo "$s $rep FAILED" >>"$results"; continue; }
        url="http://127.0.0.1:$port/file.bin"
        "${cli_pin[@]}" timeout 120 wrk -t1 -c"$conns" -d"${warmup}s" "$url" >/dev/null 2>&1 || true
        t0=$(cpu_ticks "$srv_pid")
        "${cli_pin[@]}" timeout 600 wrk -t1 -c"$conns" -d"${duration}s" "$url" >"$tmp/wrk.out" 2>&1 || true
        t1=$(cpu_ticks "$srv_pid")
        stop_server
        reqs=$(awk '/requests in/ { print $1 }' "$tmp/wrk.out")
        rps=$(awk '/^Requests\/sec/ { print $2 }' "$tmp/wrk.out")
        errs=$(awk '/Socket errors|Non-2xx/ { print; }' "$tmp/wrk.out" | tr '\n' ' ')
        if [[ -z $reqs || -z $rps ]]; then
            echo "warning: $s run $rep: no wrk result:" >&2
            sed 's/^/  | /' "$tmp/wrk.out" >&2
            echo "$s $rep FAILED" >>"$results"
            continue
        fi
        [[ -z $errs ]] || echo "warning: $s run $rep: $errs" >&2
        # CPU microseconds per request.
        us=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
        echo "$s $rep $rps $us $reqs" >>"$results"
        echo "$s run $rep: $rps req/s, $us us CPU/request" >&2
    done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med() { # server column
    awk -v s="$1" -v c="$2" '$1 == s && $3 != "FAILED" { print $c }' "$results" | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }

nginx_rps=$(med nginx 3) nginx_us=$(med nginx 4) tw_rps=$(med twisted 3)
report() {
    echo "wrk -t1 -c$conns, ${size}-byte file, keep-alive; server on CPU 1, wrk on CPU 0;"
    echo "median of $reps runs of ${duration} s (after a ${warmup} s warm-up), $(nproc) CPUs, $(uname -r),"
    echo "load average $load_start at the start and $(cut -d' ' -f1 /proc/loadavg) at the end."
    echo
    echo "| server | requests/s | server CPU µs/request | CPU/request vs nginx | requests/s vs nginx | requests/s vs Twisted |"
    echo "|---|---:|---:|---:|---:|---:|"
    for s in "${active[@]}"; do
        rps=$(med "$s" 3) us=$(med "$s" 4)
        echo "| $s | $rps | $us | $(ratio "$us" "$nginx_us") | $(ratio "$rps" "$nginx_rps") | $(ratio "$rps" "$tw_rps") |"
    done
    echo
    echo "Command: \`$cmdline\`"
}
report
[[ -z $out ]] || report >"$out"
