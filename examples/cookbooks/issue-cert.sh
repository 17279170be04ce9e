#!/usr/bin/env bash
# Issues a server certificate from a throwaway local CA, for the cookbooks (docs/cookbooks/).
#
#   issue-cert.sh CA_DIR NAME SAN...      e.g. issue-cert.sh ca tls-2 DNS:localhost IP:127.0.0.1
#
# Creates the CA (CA_DIR/ca.crt, CA_DIR/ca.key) on first use. Writes NAME.crt and NAME.key (mode
# 0600) in the current directory, with a new EC P-256 key, valid for 30 days, and prints the
# certificate's serial number. Not a PKI: the CA key sits on disk unencrypted.
set -euo pipefail

if [ "$#" -lt 3 ]; then
  echo "usage: issue-cert.sh CA_DIR NAME SAN..." >&2
  exit 2
fi
ca_dir=$1
name=$2
shift 2
sans=$(IFS=,; echo "$*")
umask 077

if [ ! -f "$ca_dir/ca.crt" ]; then
  mkdir -p "$ca_dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj "/CN=proof cookbook CA" -keyout "$ca_dir/ca.key" -out "$ca_dir/ca.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  chmod 644 "$ca_dir/ca.crt"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
  -keyout "$work/key.pem" -out "$work/req.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$sans" > "$work/ext"
openssl x509 -req -in "$work/req.csr" -CA "$ca_dir/ca.crt" -CAkey "$ca_dir/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
  -days 30 -extfile "$work/ext" -out "$work/cert.pem" 2>/dev/null
mv "$work/key.pem" "$name.key"
chmod 644 "$work/cert.pem"
mv "$work/cert.pem" "$name.crt"
openssl x509 -in "$name.crt" -noout -serial
