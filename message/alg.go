package message

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"

	"github.com/veraison/go-cose"
)

// Algorithm is a signature algorithm by its JOSE name (RFC 7518 §3.1,
// RFC 8037 §3.1).
type Algorithm string

// The algorithms this package signs and verifies. COSE_Sign1 uses ES256
// and EdDSA only (RFC 9053 §2.1, §2.2: -7 and -8).
const (
	ES256 Algorithm = "ES256"
	ES384 Algorithm = "ES384"
	EdDSA Algorithm = "EdDSA"
	PS256 Algorithm = "PS256"
)

// minRSABits is the smallest RSA modulus accepted for PS256 (RFC 7518
// §3.5: 2048 bits or larger).
const minRSABits = 2048

// coseAlgorithms maps the COSE algorithms this package verifies.
var coseAlgorithms = map[cose.Algorithm]Algorithm{cose.AlgorithmES256: ES256, cose.AlgorithmEdDSA: EdDSA}

// jwsAlgorithms are the JWS algorithms this package verifies.
var jwsAlgorithms = map[Algorithm]bool{ES256: true, ES384: true, EdDSA: true, PS256: true}

// AlgorithmFor returns the algorithm a key signs with: ES256 for P-256,
// ES384 for P-384, EdDSA for Ed25519, PS256 for RSA of 2048 bits or more.
func AlgorithmFor(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ES256, nil
		case elliptic.P384():
			return ES384, nil
		}
	case ed25519.PublicKey:
		return EdDSA, nil
	case *rsa.PublicKey:
		if k.N.BitLen() >= minRSABits {
			return PS256, nil
		}
	}
	return "", fmt.Errorf("no signature algorithm for a %T key", pub)
}

// fits reports whether alg is the algorithm for pub: the header's
// algorithm is never taken on trust, nor chosen from the key alone.
func fits(alg Algorithm, pub crypto.PublicKey) error {
	want, err := AlgorithmFor(pub)
	if err != nil {
		return &Error{Reason: ReasonKeyMismatch, Err: err}
	}
	if want != alg {
		return fail(ReasonKeyMismatch, "alg %s does not fit the signer's key (%s)", alg, want)
	}
	return nil
}
