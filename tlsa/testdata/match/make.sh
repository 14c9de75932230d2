#!/bin/sh
# Regenerates the match vectors: certificates made by the openssl command
# line (not by Go), records computed with openssl dgst, and one .vec file
# per case stating the expected outcome. Run from this directory:
#   sh make.sh
# The certificates are valid for ten years from the day they are made;
# the vectors verify at fixed times inside that window (AT), and the
# short-lived leaf expires one day after it is made. The seeds under
# testdata/fuzz/FuzzMatch hold records of these certificates: after a
# regeneration they still run, but no longer match.
set -eu
AT=2030-01-01T00:00:00Z
NAME=dev1._device.example.com
rm -f ./*.pem ./*.vec
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/$1.key" 2>/dev/null; }
ca_ext="basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign"
# issue NAME SUBJECT ISSUER DAYS EXTENSIONS
issue() {
	printf '%s\n' "$5" > "$tmp/$1.ext"
	openssl req -new -key "$tmp/$1.key" -subj "$2" -out "$tmp/$1.csr"
	openssl x509 -req -in "$tmp/$1.csr" -CA "$3.pem" -CAkey "$tmp/$3.key" -CAcreateserial \
		-days "$4" -extfile "$tmp/$1.ext" -out "$1.pem" 2>/dev/null
}

key root
openssl req -x509 -new -key "$tmp/root.key" -subj "/CN=Vector Root" -days 3650 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.pem
key inter
issue inter "/CN=Vector Devices CA" root 3650 "$ca_ext"
leaf_ext="subjectAltName=DNS:$NAME
extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
key leaf
issue leaf "/CN=dev1" inter 3650 "$leaf_ext"
key short
issue short "/CN=dev1 short-lived" inter 1 "$leaf_ext"
key anon
issue anon "/CN=anonymous" inter 3650 "extendedKeyUsage=clientAuth"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.key" 2>/dev/null
issue rsa "/CN=dev1 rsa" inter 3650 "$leaf_ext"

# sel FILE cert|spki: the DER the selector picks, on stdout
sel() {
	if [ "$2" = cert ]; then openssl x509 -in "$1" -outform DER
	else openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER; fi
}
hexof() { od -An -v -tx1 | tr -d ' \n'; }
# rec FILE cert|spki full|sha256|sha512: the association data in hex
rec() {
	case $3 in
	full) sel "$1" "$2" | hexof ;;
	*) sel "$1" "$2" | openssl dgst "-$3" -r | cut -d' ' -f1 ;;
	esac
}
# vec FILE EXPECT DEPTH NAME AT CHAIN RECORDS...
vec() {
	f=$1 expect=$2 depth=$3 name=$4 at=$5 chain=$6
	shift 6
	{
		echo "# expect: $expect"
		echo "# depth: $depth"
		echo "# name: $name"
		echo "# at: $at"
		echo "# chain: $chain"
		for r in "$@"; do echo "$NAME. 300 IN TLSA $r"; done
	} > "$f.vec"
}

vec ee-311 match 0 "$NAME" "$AT" "leaf.pem inter.pem" "3 1 1 $(rec leaf.pem spki sha256)"
vec ee-302-rsa match 0 "$NAME" "$AT" "rsa.pem inter.pem" "3 0 2 $(rec rsa.pem cert sha512)"
vec ee-300 match 0 "$NAME" "$AT" "leaf.pem" "3 0 0 $(rec leaf.pem cert full)"
vec ee-expired match 0 "$NAME" "$AT" "short.pem inter.pem" "3 1 1 $(rec short.pem spki sha256)"
vec ee-anonymous match 0 "$NAME" "$AT" "anon.pem inter.pem" "3 1 2 $(rec anon.pem spki sha512)"
vec ee-issuer no-match -1 "$NAME" "$AT" "leaf.pem inter.pem" "3 1 1 $(rec inter.pem spki sha256)"
vec ta-201-depth1 match 1 "$NAME" "$AT" "leaf.pem inter.pem" "2 0 1 $(rec inter.pem cert sha256)"
vec ta-211-depth2 match 2 "$NAME" "$AT" "leaf.pem inter.pem root.pem" "2 1 1 $(rec root.pem spki sha256)"
vec ta-200-record match 2 "$NAME" "$AT" "leaf.pem inter.pem" "2 0 0 $(rec root.pem cert full)"
vec ta-210-record match 2 "$NAME" "$AT" "leaf.pem inter.pem" "2 1 0 $(rec root.pem spki full)"
vec ta-210-issuer match 1 "$NAME" "$AT" "rsa.pem" "2 1 0 $(rec inter.pem spki full)"
vec ta-leaf-twice no-match -1 "$NAME" "$AT" "leaf.pem leaf.pem" "2 0 1 $(rec leaf.pem cert sha256)"
vec ta-issuer-after-repeated-leaf match 1 "$NAME" "$AT" "leaf.pem leaf.pem inter.pem" "2 0 1 $(rec inter.pem cert sha256)"
vec ta-not-presented no-match -1 "$NAME" "$AT" "leaf.pem inter.pem" "2 0 1 $(rec root.pem cert sha256)"
vec ta-expired-leaf untrusted -1 "$NAME" "$AT" "short.pem inter.pem" "2 0 1 $(rec inter.pem cert sha256)"
vec ta-anonymous name-mismatch -1 "$NAME" "$AT" "anon.pem inter.pem" "2 0 1 $(rec inter.pem cert sha256)"
vec ta-other-name name-mismatch -1 "dev2._device.example.com" "$AT" "leaf.pem inter.pem" "2 0 1 $(rec inter.pem cert sha256)"
vec ta-before-validity untrusted -1 "$NAME" "2000-01-01T00:00:00Z" "leaf.pem inter.pem" "2 0 1 $(rec inter.pem cert sha256)"
vec specific-ee match 0 "$NAME" "$AT" "leaf.pem inter.pem root.pem" \
	"2 1 1 $(rec root.pem spki sha256)" "2 0 1 $(rec inter.pem cert sha256)" "3 1 1 $(rec leaf.pem spki sha256)"
vec specific-ta-nearest match 1 "$NAME" "$AT" "leaf.pem inter.pem root.pem" \
	"2 1 1 $(rec root.pem spki sha256)" "2 0 1 $(rec inter.pem cert sha256)"
vec agility-weaker no-match -1 "$NAME" "$AT" "leaf.pem" \
	"3 1 1 $(rec leaf.pem spki sha256)" "3 1 2 $(rec inter.pem spki sha512)"
vec agility-stronger match 0 "$NAME" "$AT" "leaf.pem" \
	"3 1 1 $(rec inter.pem spki sha256)" "3 1 2 $(rec leaf.pem spki sha512)"
vec agility-full match 0 "$NAME" "$AT" "leaf.pem" \
	"3 1 0 $(rec leaf.pem spki full)" "3 1 2 $(rec inter.pem spki sha512)"
vec unusable no-usable-records -1 "$NAME" "$AT" "leaf.pem" \
	"4 1 1 $(rec leaf.pem spki sha256)" "3 2 1 $(rec leaf.pem spki sha256)" "3 1 3 $(rec leaf.pem spki sha256)"
vec pkix-without-roots no-usable-records -1 "$NAME" "$AT" "leaf.pem inter.pem" "1 1 1 $(rec leaf.pem spki sha256)"
rm -f ./*.srl
