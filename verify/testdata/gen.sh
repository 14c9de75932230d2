#!/bin/sh
# Regenerates the certificates that ClaimedName tests read. The keys are
# thrown away: only the names in the certificates matter.
set -e
cd "$(dirname "$0")"
k=$(mktemp)
trap 'rm -f "$k"' EXIT
gen() {
	out=$1
	shift
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$k" \
		-subj "/CN=test" -days 36500 "$@" -out "$out" 2>/dev/null
}
gen two-dnsnames.pem -addext "subjectAltName=DNS:a._device.example.com,DNS:b._device.example.com"
gen no-san.pem
gen user-two-domains.pem -addext "subjectAltName=otherName:0.9.2342.19200300.100.1.1;UTF8:alice,DNS:example.com,DNS:example.org"
gen bad-dnsname.pem -addext "subjectAltName=DNS:bad_name.example.com"
