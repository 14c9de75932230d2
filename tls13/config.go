package tls13

import (
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	"github.com/dnsbound/dance/tls13/internal/wire"
)

// CurveID names a key exchange group (RFC 8446 §4.2.7, NamedGroup).
type CurveID uint16

// Key exchange groups the engine implements.
const (
	X25519    CurveID = CurveID(wire.GroupX25519)    // RFC 7748
	CurveP256 CurveID = CurveID(wire.GroupSecp256r1) // secp256r1, FIPS 186
)

// defaultCurves is the order used when Config.CurvePreferences is empty:
// X25519 first, its share sent in the first ClientHello.
var defaultCurves = []CurveID{X25519, CurveP256}

func (c CurveID) ecdh() ecdh.Curve {
	switch c {
	case X25519:
		return ecdh.X25519()
	case CurveP256:
		return ecdh.P256()
	}
	return nil
}

func (c CurveID) String() string {
	switch c {
	case X25519:
		return "X25519"
	case CurveP256:
		return "P-256"
	}
	return fmt.Sprintf("group(%#04x)", uint16(c))
}

// Certificate is a certificate chain and the key of its first certificate,
// which the engine uses to sign CertificateVerify (RFC 8446 §4.4.3).
type Certificate struct {
	// Chain is the DER certificates, end-entity first.
	Chain [][]byte
	// PrivateKey signs; an *ecdsa.PrivateKey (P-256 or P-384),
	// ed25519.PrivateKey, *rsa.PrivateKey (signing with RSA-PSS) or any
	// crypto.Signer whose public key is one of those.
	PrivateKey crypto.Signer
}

// ClientAuthType is a server's policy for client certificates (RFC 8446
// §4.3.2).
type ClientAuthType int

const (
	// NoClientCert: no CertificateRequest is sent.
	NoClientCert ClientAuthType = iota
	// RequestClientCert: a certificate is requested; a client may send
	// none, and one it sends must verify.
	RequestClientCert
	// RequireClientCert: a client without a certificate is refused with
	// certificate_required; the certificate must verify.
	RequireClientCert
)

// Config configures a Conn. The zero value is a client that verifies the
// server against the system roots; it must still be given a ServerName (or
// a VerifyPeer). A Config must not be changed once passed to Client.
type Config struct {
	// ServerName is the name the client sends in server_name (RFC 6066 §3)
	// and, unless VerifyPeer is set, the name the server's certificate must
	// carry. A client without ServerName and without VerifyPeer refuses to
	// start a handshake.
	ServerName string

	// RootCAs are the trust anchors the server's chain is verified against;
	// nil means the system's.
	RootCAs *x509.CertPool

	// VerifyPeer, when set, replaces the verification of the peer's chain
	// (against RootCAs and ServerName for a client, against ClientCAs for
	// a server): it receives the peer's certificates (end-entity first,
	// parsed) and accepts them by returning nil. This is where DANE
	// verification plugs in. An error refuses the peer with a
	// bad_certificate alert.
	VerifyPeer func(chain []*x509.Certificate) error

	// Certificates, for a server, are its chains: the first whose key
	// can sign with a scheme the client offered is sent. A server needs
	// at least one.
	//
	// Certificates, for a client, are offered when the server asks for client
	// authentication (RFC 8446 §4.3.2): the first whose key can sign with a
	// scheme the server accepts is sent. None: the client answers with an
	// empty Certificate, and the server decides.
	Certificates []Certificate

	// ClientAuth is a server's policy for client certificates; the zero
	// value asks for none.
	ClientAuth ClientAuthType

	// ClientCAs are the roots a server verifies client chains against,
	// unless VerifyPeer is set; nil means the system's.
	ClientCAs *x509.CertPool

	// NextProtos are the ALPN protocols offered, most preferred first
	// (RFC 7301). Empty: no ALPN extension.
	NextProtos []string

	// CurvePreferences are the key exchange groups, most preferred
	// first. A client sends the first one's key share in its first
	// ClientHello; a server takes the first it shares with the client,
	// asking with a HelloRetryRequest for a share it lacks. Empty means
	// X25519 then P-256.
	CurvePreferences []CurveID

	// Time returns the current time for certificate validity; nil means
	// time.Now.
	Time func() time.Time

	// editMessage, set by tests only, rewrites each protected handshake
	// message sent (a server's flight; a client's Certificate,
	// CertificateVerify and Finished) before it enters the transcript; a
	// nil result drops it.
	editMessage func(msg []byte) []byte

	// Rand is the source of randomness for the Random fields and session
	// IDs; nil means crypto/rand.Reader.
	Rand io.Reader
}

func (c *Config) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

func (c *Config) now() time.Time {
	if c.Time != nil {
		return c.Time()
	}
	return time.Now()
}

func (c *Config) curves() ([]CurveID, error) {
	if len(c.CurvePreferences) == 0 {
		return defaultCurves, nil
	}
	seen := map[CurveID]bool{}
	for _, g := range c.CurvePreferences {
		if g.ecdh() == nil {
			return nil, fmt.Errorf("tls13: Config.CurvePreferences: %v is not implemented", g)
		}
		if seen[g] {
			return nil, fmt.Errorf("tls13: Config.CurvePreferences: %v twice", g)
		}
		seen[g] = true
	}
	return c.CurvePreferences, nil
}
