#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tls_bench.sh - TLS server cost: coil's ssl: server (coild echo) side by
# side with nginx (Debian's nginx-light, one process) on the same ECDSA
# P-256 certificate, with coil's TLS client as the load (bench/tls_load).
#
#  * full handshakes per second (TLS 1.3, no resumption), CONC concurrent
#    connect-handshake-close loops: coild echo vs nginx (https, the client
#    closes right after the handshake);
#  * handshake plus a small response, then close: `coild qotd` on ssl: (the
#    quote of the day) vs nginx (GET / over HTTP/1.0, `return 200 "ok"`);
#  * TLS echo, CONNS connections x SIZE-byte messages: coild on ssl: vs
#    coild on plain tcp: (the cost of TLS itself). nginx-light has no stream
#    module, so it cannot echo raw TCP: no nginx column for echo.
#
# Server pinned to CPU 1, load to CPU 0 (taskset). Server CPU is read from
# /proc/PID/stat (utime+stime) over the measured window only. Each point is
# run REPS times, servers interleaved; medians are reported.
#
# usage: bench/tls_bench.sh [--reps N] [--duration S] [--warmup S] [--conns N]
#                           [--size BYTES] [--conc N] [BUILDDIR]
set -euo pipefail
cmdline=$(printf '%q ' "$0" "$@")
reps=3 duration=5 warmup=1 conns=100 size=16384 conc=8 builddir=build/release
while (($#)); do
    case $1 in
    --reps) reps=$2; shift ;;
    --duration) duration=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --conns) conns=$2; shift ;;
    --size) size=$2; shift ;;
    --conc) conc=$2; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) builddir=$1 ;;
    esac
    shift
done
here=$(cd "$(dirname "$0")" && pwd)
coild=$builddir/apps/coild
load=$builddir/bench/tls_load
[ -x "$coild" ] && [ -x "$load" ] || { echo "build first: $coild, $load" >&2; exit 1; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || nginx=

work=$(mktemp -d /tmp/coil-tlsbench.XXXXXX)
srv_pid=
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
bash "$here/../tests/tls/make_certs.sh" "$work/certs" >/dev/null
C=$work/certs
pin_srv=(taskset -c 1) pin_cli=(taskset -c 0)
command -v taskset >/dev/null || pin_srv=() pin_cli=()
tick=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

start_server() { # KIND PORT
    local kind=$1 port=$2
    case $kind in
    coild-ssl)
        "${pin_srv[@]}" "$coild" --reactor=uring --log-level=error echo \
            --port "ssl:$port:interface=127.0.0.1:privateKey=$C/server.key:certKey=$C/server.pem" \
            >"$work/srv.log" 2>&1 &
        ;;
    coild-qotd)
        "${pin_srv[@]}" "$coild" --reactor=uring --log-level=error qotd \
            --port "ssl:$port:interface=127.0.0.1:privateKey=$C/server.key:certKey=$C/server.pem" \
            >"$work/srv.log" 2>&1 &
        ;;
    coild-tcp)
        "${pin_srv[@]}" "$coild" --reactor=uring --log-level=error echo \
            --port "tcp:$port:interface=127.0.0.1" >"$work/srv.log" 2>&1 &
        ;;
    nginx)
        mkdir -p "$work/nginx"
        cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $work/nginx/error.log error;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx; proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $C/server.pem;
        ssl_certificate_key $C/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 200 "ok\n"; }
    }
}
EOF
        "${pin_srv[@]}" "$nginx" -p "$work/nginx" -c "$work/nginx/nginx.conf" \
            >"$work/srv.log" 2>&1 &
        ;;
    esac
    srv_pid=$!
    wait_port "$port" || { echo "$kind did not start: $(cat "$work/srv.log")" >&2; exit 1; }
}

stop_server() {
    kill "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    srv_pid=
}

# run KIND MODE -> "ops_per_s cpu_us_per_op"
run() {
    local kind=$1 mode=$2 port out t0 t1 ops
    port=$(free_port)
    start_server "$kind" "$port"
    local args=(echo "$port" "$conns" "$size" "$duration" "$warmup")
    [ "$mode" = handshake ] && args=(handshake "$port" "$conc" "$duration" "$warmup")
    [ "$kind" = coild-tcp ] && args[0]=plain-echo
    if [ "$mode" = fetch ]; then
        args=(fetch "$port" "$conc" "$duration" "$warmup")
        [ "$kind" = nginx ] && args+=($'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n')
    fi
    "${pin_cli[@]}" "$load" "${args[@]}" >"$work/load.out" 2>"$work/load.err" &
    local lpid=$!
    for _ in $(seq 2000); do
        grep -q measuring "$work/load.err" 2>/dev/null && break
        sleep 0.005
    done
    t0=$(cpu_ticks "$srv_pid")
    wait "$lpid" || true
    t1=$(cpu_ticks "$srv_pid")
    out=$(cat "$work/load.out" "$work/load.err")
    stop_server
    ops=$(sed -n 's/.*"ops":\([0-9]*\).*/\1/p' <<<"$out")
    [ -n "$ops" ] && [ "$ops" -gt 0 ] || { echo "$kind $mode: no result: $out" >&2; exit 1; }
    awk -v o="$ops" -v d="$duration" -v c=$((t1 - t0)) -v hz="$tick" \
        'BEGIN { printf "%.0f %.1f\n", o / d, c / hz * 1e6 / o }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A rate cpu
kinds_hs=(coild-ssl) kinds_fetch=(coild-qotd)
[ -n "$nginx" ] && kinds_hs+=(nginx) kinds_fetch+=(nginx)
for ((i = 1; i <= reps; i++)); do
    for k in "${kinds_hs[@]}"; do
        read -r r c < <(run "$k" handshake)
        rate[hs-$k]+="$r "
        cpu[hs-$k]+="$c "
    done
    for k in "${kinds_fetch[@]}"; do
        read -r r c < <(run "$k" fetch)
        rate[fetch-$k]+="$r "
        cpu[fetch-$k]+="$c "
    done
    for k in coild-ssl coild-tcp; do
        read -r r c < <(run "$k" echo)
        rate[echo-$k]+="$r "
        cpu[echo-$k]+="$c "
    done
done

m() { tr ' ' '\n' <<<"$1" | grep . | median; }
echo "### TLS server cost ($(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -r))"
echo
echo "Command: \`$cmdline\`"
echo
echo "Full TLS 1.3 handshakes (ECDSA P-256, X25519), $conc concurrent loops, medians of $reps:"
echo
echo "| server | handshakes/s | server CPU µs/handshake |"
echo "|---|---:|---:|"
for k in "${kinds_hs[@]}"; do
    echo "| $k | $(m "${rate[hs-$k]}") | $(m "${cpu[hs-$k]}") |"
done
echo
echo "Full handshake, a small response (the quote of the day; nginx: GET / -> 200 \"ok\"), close; $conc concurrent loops, medians of $reps:"
echo
echo "| server | responses/s | server CPU µs/response |"
echo "|---|---:|---:|"
for k in "${kinds_fetch[@]}"; do
    echo "| $k | $(m "${rate[fetch-$k]}") | $(m "${cpu[fetch-$k]}") |"
done
echo
echo "Echo, $conns connections x $size-byte messages (nginx-light cannot echo raw TCP), medians of $reps:"
echo
echo "| server | messages/s | server CPU µs/message |"
echo "|---|---:|---:|"
for k in coild-ssl coild-tcp; do
    echo "| $k | $(m "${rate[echo-$k]}") | $(m "${cpu[echo-$k]}") |"
done
