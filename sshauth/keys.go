package sshauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/dnsbound/dance/tlsa"
)

// MinRSABits is the smallest RSA modulus accepted, in publishing and in
// authorizing: 2048 bits, the least NIST SP 800-57 Part 1 (Table 2) allows
// for RSA keys in use today.
const MinRSABits = 2048

// ErrUnsupportedKey is wrapped by the errors of keys this package refuses:
// an unknown or security-key type, an OpenSSH certificate, or a short RSA key.
var ErrUnsupportedKey = errors.New("sshauth: unsupported SSH key")

// SPKI returns the DER SubjectPublicKeyInfo of an SSH public key, the
// content a TLSA record with selector SPKI covers (RFC 6698 §2.1.2).
func SPKI(key ssh.PublicKey) ([]byte, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: no key", ErrUnsupportedKey)
	}
	ck, ok := key.(ssh.CryptoPublicKey)
	if !ok {
		// Certificates and security keys (sk-*) do not expose a plain
		// crypto key: what they mean is more than the key.
		return nil, fmt.Errorf("%w: type %s", ErrUnsupportedKey, key.Type())
	}
	pub := ck.CryptoPublicKey()
	if err := checkKey(key.Type(), pub); err != nil {
		return nil, err
	}
	return x509.MarshalPKIXPublicKey(pub)
}

// FromSPKI returns the SSH public key of a DER SubjectPublicKeyInfo read
// from a TLSA record, refusing what SPKI would refuse.
func FromSPKI(spki []byte) (ssh.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
	}
	if err := checkKey(key.Type(), pub); err != nil {
		return nil, err
	}
	return key, nil
}

// checkKey refuses the key types and sizes this package does not accept.
func checkKey(typ string, pub any) error {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if typ == ssh.KeyAlgoED25519 {
			return nil
		}
	case *ecdsa.PublicKey:
		switch typ {
		case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
			return nil
		}
	case *rsa.PublicKey:
		if typ != ssh.KeyAlgoRSA {
			break
		}
		if k.N.BitLen() < MinRSABits {
			return fmt.Errorf("%w: RSA key of %d bits, at least %d required", ErrUnsupportedKey, k.N.BitLen(), MinRSABits)
		}
		return nil
	}
	return fmt.Errorf("%w: type %s", ErrUnsupportedKey, typ)
}

// Records returns the TLSA record that publishes key: DANE-EE, SPKI, Full
// ("3 1 0"), the one form from which an AuthorizedKeysCommand run without
// the offered key can read the key back. A digest record (3 1 1) also
// works when sshd passes the offered key, but only then.
func Records(key ssh.PublicKey) ([]tlsa.Record, error) {
	spki, err := SPKI(key)
	if err != nil {
		return nil, err
	}
	r, err := tlsa.ForSPKI(spki, tlsa.DANEEE, tlsa.MatchFull)
	if err != nil {
		return nil, err
	}
	return []tlsa.Record{r}, nil
}
