package message

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"
)

// jwsSignature is the signature part of a JWS as the strict decoder read
// it: the signing input is exactly the protected header and payload
// octets that were decoded and checked (RFC 7515 §5.2 step 8), so there
// is no second parser whose reading of the header could differ from the
// one the header rules were applied to.
type jwsSignature struct {
	alg       Algorithm
	protected string // base64url, as in the message
	payload   string // base64url, as in the message
	body      []byte // the decoded payload
	sig       []byte
}

// verify checks the signature with pub and returns the payload.
func (j *jwsSignature) verify(pub crypto.PublicKey) ([]byte, error) {
	input := make([]byte, 0, len(j.protected)+1+len(j.payload))
	input = append(append(append(input, j.protected...), '.'), j.payload...)
	if err := verifyJWSSignature(j.alg, pub, input, j.sig); err != nil {
		return nil, &Error{Reason: ReasonBadSignature, Err: err}
	}
	return j.body, nil
}

// errJWSSignature is the one answer for a signature that does not verify.
var errJWSSignature = errors.New("the signature does not verify")

// verifyJWSSignature verifies sig over input with alg and pub (RFC 7518
// §3.4 and §3.5, RFC 8037 §3.1). alg must be pub's algorithm (fits): the
// key type alone would let ES384 verify with a P-256 key, or PS256 with
// a short RSA key.
func verifyJWSSignature(alg Algorithm, pub crypto.PublicKey, input, sig []byte) error {
	if err := fits(alg, pub); err != nil {
		return err
	}
	switch alg {
	case ES256, ES384:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("alg %s with a %T key", alg, pub)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		// RFC 7518 §3.4: R and S as fixed-length big-endian octets,
		// concatenated; not DER.
		if len(sig) != 2*size {
			return fmt.Errorf("%s signature of %d bytes, want %d", alg, len(sig), 2*size)
		}
		var digest []byte
		if alg == ES256 {
			d := sha256.Sum256(input)
			digest = d[:]
		} else {
			d := sha512.Sum384(input)
			digest = d[:]
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errJWSSignature
		}
		return nil
	case EdDSA:
		k, ok := pub.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("alg %s with a %T key", alg, pub)
		}
		if !ed25519.Verify(k, input, sig) {
			return errJWSSignature
		}
		return nil
	case PS256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("alg %s with a %T key", alg, pub)
		}
		d := sha256.Sum256(input)
		// The salt length is recovered from the signature, as go-jose
		// (which signs these messages) verifies them.
		if err := rsa.VerifyPSS(k, crypto.SHA256, d[:], sig, nil); err != nil {
			return errJWSSignature
		}
		return nil
	}
	return fmt.Errorf("alg %q is not accepted", alg)
}
