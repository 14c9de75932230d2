package tls13

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"time"
)

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
	// ClientHello (and an X25519 share too when the first is
	// X25519MLKEM768 and X25519 follows); a server takes the first it
	// has a client share for, or else the first it shares with the
	// client, asking for it with a HelloRetryRequest. Empty means
	// X25519MLKEM768, X25519, P-256, P-384.
	CurvePreferences []CurveID

	// RecordSizeLimit is the largest plaintext of a protected record
	// this side accepts, content type and padding included, advertised
	// with record_size_limit (RFC 8449) and enforced once the peer has
	// acknowledged it: 64 to 16385; 0 means 16385, the protocol's own
	// limit. Constrained devices lower it to bound their buffers.
	RecordSizeLimit int

	// ClientSessionCache, for a client, keeps the sessions (tickets)
	// servers issue, to resume them in later handshakes (RFC 8446 §2.2).
	// nil: no tickets are kept, every handshake is a full one. A cache
	// may be shared by Configs.
	ClientSessionCache ClientSessionCache

	// SessionTicketsDisabled, for a server, stops it issuing tickets and
	// resuming sessions. By default a server sends one NewSessionTicket
	// per connection, sealed with a key it makes, rotates daily and keeps
	// in memory only, and resumes the tickets it can open.
	SessionTicketsDisabled bool

	// Time returns the current time for certificate validity and ticket
	// lifetimes; nil means time.Now.
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
		if !g.implemented() {
			return nil, fmt.Errorf("tls13: Config.CurvePreferences: %v is not implemented", g)
		}
		if seen[g] {
			return nil, fmt.Errorf("tls13: Config.CurvePreferences: %v twice", g)
		}
		seen[g] = true
	}
	return c.CurvePreferences, nil
}
