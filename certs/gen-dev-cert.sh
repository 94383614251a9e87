#!/usr/bin/env bash
# Development certificates for the webhook: a CA and a serving certificate it signs.
#
#   certs/gen-dev-cert.sh DNS_NAME [OUT_DIR]
#
# DNS_NAME is what the API server dials: the Service name (session-guard.session-guard.svc) or
# localhost, which also gets the 127.0.0.1 and ::1 IP SANs. OUT_DIR defaults to certs/out (git-ignored).
# Writes ca.crt, ca.key, tls.crt, tls.key (the names of a kubernetes.io/tls Secret) and prints the
# paths. An existing CA in OUT_DIR is reused, so a certificate for another name chains to the same
# CA bundle; the serving certificate is always made anew.
set -euo pipefail

usage() { printf 'usage: %s DNS_NAME [OUT_DIR]\n' "$(basename "$0")" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 && -n $1 ]] || usage

dns_name=$1
out_dir=${2:-"$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out"}
[[ $dns_name =~ ^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$ ]] || { printf 'not a DNS name: %s\n' "$dns_name" >&2; exit 2; }
command -v openssl >/dev/null 2>&1 || { printf 'openssl is required\n' >&2; exit 1; }

mkdir -p "$out_dir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

subject_alt_names="DNS:$dns_name"
if [[ $dns_name == localhost ]]; then
  subject_alt_names+=",IP:127.0.0.1,IP:::1"
fi

if [[ ! -s $out_dir/ca.key || ! -s $out_dir/ca.crt ]]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$work/ca.key" -out "$work/ca.crt" -days 825 -sha256 \
    -subj "/CN=session-guard development CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  mv "$work/ca.key" "$work/ca.crt" "$out_dir/"
fi

openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$work/tls.key" -out "$work/tls.csr" -subj "/CN=${dns_name:0:64}" 2>/dev/null
cat >"$work/extensions.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$subject_alt_names
EXT
openssl x509 -req -in "$work/tls.csr" -CA "$out_dir/ca.crt" -CAkey "$out_dir/ca.key" -CAcreateserial \
  -CAserial "$work/ca.srl" -out "$work/tls.crt" -days 397 -sha256 -extfile "$work/extensions.cnf" 2>/dev/null
openssl verify -CAfile "$out_dir/ca.crt" "$work/tls.crt" >/dev/null
mv "$work/tls.key" "$work/tls.crt" "$out_dir/"
chmod 600 "$out_dir/ca.key" "$out_dir/tls.key"
chmod 644 "$out_dir/ca.crt" "$out_dir/tls.crt"

printf 'ca.crt   %s\n' "$out_dir/ca.crt"
printf 'tls.crt  %s (%s)\n' "$out_dir/tls.crt" "$subject_alt_names"
printf 'tls.key  %s\n' "$out_dir/tls.key"
