#!/bin/bash
# SPDX-License-Identifier: MIT
# Throw-away certificates for the TLS tests, made with the openssl CLI:
#   make_certs.sh DIR
# DIR/ca.pem                  test CA (also ca/ as a directory of one PEM)
# DIR/server.pem, server.key  CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1
# DIR/server-combined.pem     certificate and key in one file
# DIR/expired.pem/.key        as server, valid only in 2020
# DIR/wronghost.pem/.key      SAN DNS:wrong.example IP:10.9.9.9
# DIR/untrusted.pem/.key      localhost, signed by another CA
# DIR/client.pem/.key         a client certificate (CN=coil-client)
# Exit 77 when openssl is missing (callers skip).
set -euo pipefail
dir=${1:?usage: make_certs.sh DIR}
command -v openssl >/dev/null || exit 77
mkdir -p "$dir"
cd "$dir"
[ -e done ] && exit 0

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# sign NAME CA SAN START END [EXTRA]
sign() {
    local name=$1 ca=$2 san=$3 start=$4 end=$5
    mkdir -p "db-$ca"
    : >"db-$ca/index.txt"
    [ -e "db-$ca/serial" ] || echo 1000 >"db-$ca/serial"
    cat >"$name.cnf" <<CNF
[ca]
default_ca = ca_sect
[ca_sect]
database = db-$ca/index.txt
serial = db-$ca/serial
new_certs_dir = db-$ca
certificate = $ca.pem
private_key = $ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
${san:+subjectAltName = $san}
CNF
    key "$name.key"
    openssl req -new -key "$name.key" -subj "/CN=${6:-localhost}" -out "$name.csr" 2>/dev/null
    openssl ca -batch -notext -config "$name.cnf" -extensions ext -in "$name.csr" \
        -out "$name.pem" -startdate "$start" -enddate "$end" >/dev/null 2>&1
}

ca() {
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 30 -out "$1.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign 2>/dev/null
}

now=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
later=$(date -u -d '+20 days' +%Y%m%d%H%M%SZ)
ca ca "coil test CA"
ca otherca "another CA"
sign server ca "DNS:localhost,IP:127.0.0.1,IP:::1" "$now" "$later"
sign expired ca "DNS:localhost,IP:127.0.0.1" 20200101000000Z 20200201000000Z
sign wronghost ca "DNS:wrong.example,IP:10.9.9.9" "$now" "$later"
sign untrusted otherca "DNS:localhost,IP:127.0.0.1" "$now" "$later"
sign client ca "" "$now" "$later" coil-client
cat server.pem server.key >server-combined.pem
mkdir -p cadir
cp ca.pem cadir/ca.pem
openssl dhparam -dsaparam -out dh.pem 2048 2>/dev/null || true
touch done
