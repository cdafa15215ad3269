#!/bin/bash
# SPDX-License-Identifier: MIT
# The secure defaults of coil's ssl: server, checked by independent
# scanners from Debian: testssl.sh (protocols and the suites accepted per
# protocol): TLS 1.2 and 1.3 only, no SSLv2/3, TLS 1.0 or 1.1, and only
# AEAD suites (AES-GCM, ChaCha20-Poly1305) with forward secrecy; then, if
# installed, sslscan for renegotiation (none) and the old protocols.
# Skipped (77) when testssl.sh is not installed.
# Usage: tls_scan.sh COILD
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
TESTSSL=$(command -v testssl || command -v testssl.sh || true)
[ -n "$TESTSSL" ] || skip "testssl.sh not installed"
command -v openssl >/dev/null || skip "openssl not installed"
C="$WORK/certs"
bash "$HERE/../tls/make_certs.sh" "$C" || skip "cannot make certificates"

for _attempt in 1 2 3 4 5; do
    COILD_PORT=$(free_port)
    COILD_LOG="$WORK/coild.log"
    spawn "$COILD_LOG" "$COILD" -n --reactor="$BACKEND" --log-level=info echo \
        --port "ssl:$COILD_PORT:interface=127.0.0.1:privateKey=$C/server.key:certKey=$C/server.pem:dhParameters=$C/dh.pem"
    COILD_PID=$SPAWNED_PID
    wait_for_line "$COILD_LOG" "coild: listening on 127.0.0.1:$COILD_PORT" "$COILD_PID" && break
    if grep -q "cannot start the reactor" "$COILD_LOG" && [ "$BACKEND" = uring ]; then
        skip "io_uring unavailable here"
    fi
    grep -q "Address already in use" "$COILD_LOG" || die "coild did not start: $(cat "$COILD_LOG")"
    COILD_PID=
done
[ -n "${COILD_PID:-}" ] || die "coild: no free port"

OUT="$WORK/testssl.log"
timeout 150 "$TESTSSL" --quiet --color 0 --warnings off -p -E "127.0.0.1:$COILD_PORT" >"$OUT" 2>&1 ||
    true # its exit status counts findings; the output is checked below
for v in "SSLv2" "SSLv3" "TLS 1 " "TLS 1.1"; do
    grep -Eq "^ $v +not offered" "$OUT" || die "$v is offered: $(cat "$OUT")"
done
for v in "TLS 1.2" "TLS 1.3"; do
    grep -Eq "^ $v +offered" "$OUT" || die "$v is not offered: $(cat "$OUT")"
done
accepted=$(grep -E "^ x[0-9a-f]+ " "$OUT" || true)
[ -n "$accepted" ] || die "no accepted cipher suite listed: $(cat "$OUT")"
while read -r line; do
    case "$line" in
    *GCM* | *CHACHA20*) ;;
    *) die "a non-AEAD suite is accepted: $line" ;;
    esac
    case "$line" in
    *ECDH* | *DH*) ;;
    *) die "a suite without forward secrecy is accepted: $line" ;;
    esac
done <<<"$accepted"
log "testssl.sh: TLS 1.2/1.3 only, $(echo "$accepted" | wc -l) suites, all AEAD with forward secrecy"
if command -v sslscan >/dev/null; then
    SCAN="$WORK/sslscan.log"
    timeout 60 sslscan --no-colour --no-heartbleed "127.0.0.1:$COILD_PORT" >"$SCAN" 2>&1 ||
        die "sslscan failed: $(cat "$SCAN")"
    for v in SSLv2 SSLv3 TLSv1.0 TLSv1.1; do
        grep -Eq "^$v +disabled" "$SCAN" || die "sslscan: $v is not disabled: $(cat "$SCAN")"
    done
    grep -qi "Insecure session renegotiation supported" "$SCAN" &&
        die "sslscan: insecure renegotiation is supported"
    grep -qi "renegotiation not supported" "$SCAN" ||
        die "sslscan: renegotiation is not reported unsupported: $(cat "$SCAN")"
    log "sslscan: old protocols disabled, no renegotiation"
fi
kill -TERM "$COILD_PID"
wait_exit "$COILD_PID" 15 || die "coild did not stop"
