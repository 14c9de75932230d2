package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeyType names a kind of key pair this package generates.
type KeyType string

// Key types. ECDSA P-256 is the default: small records and certificates,
// fast handshakes, supported by every TLS stack that speaks DANE.
const (
	KeyECDSAP256 KeyType = "ecdsa-p256"
	KeyEd25519   KeyType = "ed25519"
	KeyRSA2048   KeyType = "rsa2048"
	KeyRSA3072   KeyType = "rsa3072"
	DefaultKey           = KeyECDSAP256
)

// KeyTypes lists every key type, in the order help texts show them.
var KeyTypes = []KeyType{KeyECDSAP256, KeyEd25519, KeyRSA2048, KeyRSA3072}

// MinRSABits is the smallest RSA modulus accepted for a loaded CA key.
const MinRSABits = 2048

// ErrUnknownKeyType is wrapped by ParseKeyType's error.
var ErrUnknownKeyType = errors.New("unknown key type")

// ParseKeyType parses a key type name ("ecdsa-p256", "ed25519", "rsa2048",
// "rsa3072"), case-insensitively.
func ParseKeyType(s string) (KeyType, error) {
	for _, t := range KeyTypes {
		if strings.EqualFold(s, string(t)) {
			return t, nil
		}
	}
	var names []string
	for _, t := range KeyTypes {
		names = append(names, string(t))
	}
	return "", fmt.Errorf("%w %q (want one of %s)", ErrUnknownKeyType, s, strings.Join(names, ", "))
}

// GenerateKey makes a new key pair of type t. A nil rnd means crypto/rand.
func GenerateKey(t KeyType, rnd io.Reader) (crypto.Signer, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	switch t {
	case KeyECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rnd)
	case KeyEd25519:
		_, priv, err := ed25519.GenerateKey(rnd)
		if err != nil {
			return nil, err
		}
		return priv, nil
	case KeyRSA2048:
		return rsa.GenerateKey(rnd, 2048)
	case KeyRSA3072:
		return rsa.GenerateKey(rnd, 3072)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKeyType, t)
}

// PEM block types.
const (
	pemPrivateKey   = "PRIVATE KEY"
	pemPublicKey    = "PUBLIC KEY"
	pemCertificate  = "CERTIFICATE"
	pemCSR          = "CERTIFICATE REQUEST"
	pemECPrivateKey = "EC PRIVATE KEY"
	pemRSAPrivate   = "RSA PRIVATE KEY"
	pemEncrypted    = "ENCRYPTED PRIVATE KEY"
)

// MarshalPrivateKey encodes key as a PKCS#8 PEM block (RFC 5958, RFC 7468
// §10), the one format every tool reads.
func MarshalPrivateKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// MarshalPublicKey encodes pub as a SubjectPublicKeyInfo PEM block (RFC
// 7468 §13): the raw public key of RFC 7250, whose TLSA record is 3 1 x.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der}), nil
}

// MarshalCertificate encodes cert as a PEM block.
func MarshalCertificate(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: cert.Raw})
}

// PEMError reports PEM input that does not hold what was expected.
type PEMError struct {
	Want   string // what was looked for, e.g. "CERTIFICATE"
	Reason string
}

func (e *PEMError) Error() string { return fmt.Sprintf("%s: %s", strings.ToLower(e.Want), e.Reason) }

// ParsePrivateKey reads the first private key in PEM input: PKCS#8
// ("PRIVATE KEY"), or the SEC 1 and PKCS#1 forms ("EC PRIVATE KEY",
// "RSA PRIVATE KEY") older tools write. RSA keys shorter than 2048 bits
// are refused.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, &PEMError{Want: "private key", Reason: "no PEM private key block found"}
		}
		var key any
		var err error
		switch b.Type {
		case pemPrivateKey:
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case pemECPrivateKey:
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case pemRSAPrivate:
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case pemEncrypted:
			return nil, &PEMError{Want: "private key", Reason: "encrypted private keys are not supported (decrypt with 'openssl pkey')"}
		default:
			continue
		}
		if err != nil {
			return nil, &PEMError{Want: "private key", Reason: "malformed " + b.Type + ": " + err.Error()}
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, &PEMError{Want: "private key", Reason: fmt.Sprintf("unsupported key type %T", key)}
		}
		if err := checkKey(s.Public()); err != nil {
			return nil, &PEMError{Want: "private key", Reason: err.Error()}
		}
		return s, nil
	}
}

// checkKey refuses public keys this package will not sign with or for.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return fmt.Errorf("RSA key of %d bits is too small (minimum %d)", k.N.BitLen(), MinRSABits)
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return nil
}

// ParseCertificate reads the first certificate in PEM input. Input that
// holds no PEM but parses as one DER certificate is accepted too.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// ParseCertificates reads every certificate in PEM input (or one DER
// certificate), in order. Blocks of other types are skipped; input without
// a certificate is an error that names the blocks it holds instead.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	var others []string
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != pemCertificate {
			others = append(others, b.Type)
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, &PEMError{Want: "certificate", Reason: fmt.Sprintf("certificate %d: %v", len(certs)+1, err)}
		}
		certs = append(certs, c)
	}
	switch {
	case len(certs) > 0:
		return certs, nil
	case len(others) > 0:
		return nil, &PEMError{Want: "certificate", Reason: "no PEM CERTIFICATE block, only " + strings.Join(others, ", ")}
	case len(data) > 0 && data[0] == 0x30: // a DER SEQUENCE
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, &PEMError{Want: "certificate", Reason: fmt.Sprintf("no PEM CERTIFICATE block, and not a DER certificate: %v", err)}
		}
		return []*x509.Certificate{c}, nil
	}
	return nil, &PEMError{Want: "certificate", Reason: "no PEM CERTIFICATE block, and not a DER certificate"}
}
