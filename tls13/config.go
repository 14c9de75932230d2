package tls13

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"io"
	"time"

	"github.com/dnsbound/dance/tls13/internal/wire"
)

// Certificate is a certificate chain and the key of its first certificate,
// which the engine uses to sign CertificateVerify (RFC 8446 §4.4.3), or a
// raw public key (RFC 7250): a Certificate without Chain stands for its
// PrivateKey's public key alone, sent as a SubjectPublicKeyInfo, and only
// to a peer that accepts raw public keys (see Config.AcceptRawPublicKeys).
type Certificate struct {
	// Chain is the DER certificates, end-entity first; empty for a raw
	// public key.
	Chain [][]byte
	// PrivateKey signs; an *ecdsa.PrivateKey (P-256 or P-384),
	// ed25519.PrivateKey, *rsa.PrivateKey (signing with RSA-PSS) or any
	// crypto.Signer whose public key is one of those.
	PrivateKey crypto.Signer
	// SignatureSchemes are the schemes this credential signs
	// CertificateVerify with, most preferred first: the first the peer
	// accepts (and the key fits) is used. Empty: every scheme the key
	// fits, in the peer's order of preference. A scheme the engine does
	// not implement (see SignatureScheme) fails the handshake before
	// anything is sent.
	SignatureSchemes []SignatureScheme
	// MatchIssuers makes this credential eligible only for a peer whose
	// certificate_authorities (RFC 8446 §4.2.4) lists the issuer of one
	// of Chain's certificates: its trust anchor, or a CA under it. A peer
	// that sends no certificate_authorities never gets it, nor does any
	// peer get a raw public key with MatchIssuers. The other credentials
	// are considered as usual, so a credential without it serves as the
	// fallback. False: the peer's names play no part in the choice.
	MatchIssuers bool
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
// a VerifyPeer).
//
// A Config must not be changed once passed to Client or Server: the first
// handshake checks its fields and derives what later handshakes use (and
// a server's ticket keys), and these are kept as long as the Config. To
// change a configuration, copy the Config and change the copy before its
// first use; a server's copy makes its own ticket keys, so tickets sealed
// under the original do not resume with it. The one exception is
// SetSessionTicketKeys, which may be called at any time, also while the
// Config serves connections. A Config may be shared by concurrent
// connections.
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

	// GetCertificate, for a server, if set, picks the credential to send
	// from what the client offered (ClientHelloInfo: server name,
	// signature schemes, certificate_authorities); nil falls back to
	// Certificates. An error ends the handshake with internal_error. A
	// server with GetCertificate needs no Certificates.
	GetCertificate func(*ClientHelloInfo) (*Certificate, error)

	// GetClientCertificate, for a client, if set, replaces Certificates
	// when the server asks for a certificate: it gets the server's
	// CertificateRequest (signature schemes, certificate_authorities,
	// dane_clientid) and returns the credential to send, or nil to send
	// an empty Certificate. An error ends the handshake with
	// internal_error. The certificate types a client offers (RFC 7250)
	// still come from Certificates.
	GetClientCertificate func(*CertificateRequestInfo) (*Certificate, error)

	// ClientAuth is a server's policy for client certificates; the zero
	// value asks for none.
	ClientAuth ClientAuthType

	// ClientCAs are the roots a server verifies client chains against,
	// unless VerifyPeer is set; nil means the system's.
	ClientCAs *x509.CertPool

	// ClientCANames, for a server that asks for client certificates, are
	// the DER distinguished names (X.501 Names, such as
	// x509.Certificate.RawSubject) sent in the CertificateRequest's
	// certificate_authorities extension (RFC 8446 §4.2.4): the trust
	// anchors a client's chain should lead to, which helps a client with
	// several credentials pick one. nil or empty: the extension is not
	// sent, and the server's roots are not disclosed; ClientCAs is never
	// sent by itself (copy its names here to send them). A name that is
	// not one DER SEQUENCE, or a list longer than the extension holds
	// (32768 octets, with two octets of length per name), fails the handshake before anything is sent.
	ClientCANames [][]byte

	// NextProtos are the ALPN protocols offered, most preferred first
	// (RFC 7301). Empty: no ALPN extension. A server selects the first of
	// its own that the client offered, never one the client did not, and
	// refuses a client that offered none of them with
	// no_application_protocol (RFC 7301 §3.2); a client refuses a
	// selection it did not offer. Each name is 1 to 255 octets (§3.1): an
	// empty or longer name fails the handshake before anything is sent.
	NextProtos []string

	// CurvePreferences are the key exchange groups, most preferred
	// first. A client sends the first one's key share in its first
	// ClientHello (and an X25519 share too when the first is
	// X25519MLKEM768 and X25519 follows); a server takes the first it
	// has a client share for, or else the first it shares with the
	// client, asking for it with a HelloRetryRequest. Empty means
	// X25519MLKEM768, X25519, P-256, P-384.
	CurvePreferences []CurveID

	// KeyShares, for a client, are the groups of CurvePreferences (or
	// of the default groups) it sends key shares for in its first
	// ClientHello; the others are only listed in supported_groups, and a
	// server that picks one of them asks for its share with a
	// HelloRetryRequest (RFC 8446 §4.2.8). The shares go in the order of
	// CurvePreferences whatever the order here. nil means the default:
	// the first group's share (and X25519's too when the first is
	// X25519MLKEM768 and X25519 follows). An empty, non-nil list sends
	// no share at all, which costs a round trip with every server. A
	// group not offered, or one listed twice, fails the handshake before
	// anything is sent.
	KeyShares []CurveID

	// CipherSuites are the TLS 1.3 cipher suites offered (a client) or
	// accepted (a server), most preferred first; a server takes the first
	// of them the client offers. Only TLS_AES_128_GCM_SHA256,
	// TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256 exist here;
	// another value, or one listed twice, fails the handshake before
	// anything is sent. Empty means all three: a client offers AES-128-GCM,
	// AES-256-GCM, ChaCha20-Poly1305, a server prefers AES-128-GCM, then
	// ChaCha20-Poly1305, then AES-256-GCM. A client refuses a server that
	// selects a suite it did not offer with illegal_parameter.
	CipherSuites []uint16

	// SignatureSchemes are the schemes offered in signature_algorithms
	// (in a ClientHello, or a server's CertificateRequest) and the only
	// ones accepted in the peer's CertificateVerify, most preferred
	// first; a peer that signs with another is refused with
	// illegal_parameter, and a server that has no certificate for them
	// answers with handshake_failure. Empty means all the engine
	// implements: Ed25519, ECDSA P-256 and P-384, RSA-PSS with SHA-256,
	// SHA-384 and SHA-512. A scheme the engine does not implement fails
	// the handshake before anything is sent. Certificate chains are
	// checked apart from this (signature_algorithms_cert).
	SignatureSchemes []SignatureScheme

	// RecordSizeLimit is the largest plaintext of a protected record
	// this side accepts, content type and padding included, advertised
	// with record_size_limit (RFC 8449) and enforced once the peer has
	// acknowledged it: 64 to 16385; 0 means 16385, the protocol's own
	// limit. Constrained devices lower it to bound their buffers.
	RecordSizeLimit int

	// MaxSendFragment caps the content of each record this side sends,
	// handshake messages and application data alike, below the 16384
	// octets of the protocol and whatever the peer's record_size_limit
	// allows: 63 to 16384; 0 means no cap of our own. A constrained
	// device sets it to bound its send buffer; RecordSizeLimit bounds
	// what it receives.
	MaxSendFragment int

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

	// ClientName, for a client, is the DANE identity it claims: the owner
	// name of its TLSA records, without the trailing dot
	// (draft-ietf-dance-tls-clientid-07 §3). It is sent in the
	// dane_clientid extension of the end-entity entry of the client's
	// Certificate, and only when the server's CertificateRequest carried
	// the extension (a client may not send it unasked). Empty: never sent.
	// A name that is not a presentation-format DNS name of letters,
	// digits, hyphens and underscores fails the handshake before anything
	// is sent.
	ClientName string

	// RequestClientName, for a server that asks for client certificates
	// (ClientAuth), puts the empty dane_clientid extension in its
	// CertificateRequest, which tells clients it authenticates them by
	// DANE and lets them claim a name (ConnectionState.ClientName). A
	// client that sends the extension unasked is refused with
	// unsupported_extension; a malformed name with illegal_parameter.
	RequestClientName bool

	// DANEClientIDCodepoint is the extension type of dane_clientid, which
	// IANA has not assigned yet; 0 means DefaultDANEClientIDCodepoint
	// (0xFFDA, from the range RFC 8446 §11 reserves for private use). Both
	// peers must use the same value.
	DANEClientIDCodepoint uint16

	// AcceptRawPublicKeys lets the peer authenticate with a raw public key
	// (RFC 7250) instead of a certificate chain: a client offers it in
	// server_certificate_type, a server accepts it in
	// client_certificate_type. A raw key proves nothing by itself, so
	// VerifyConnection must be set and is what authenticates it (for
	// DANE: a DANE-EE SPKI record, usage 3 selector 1). False: only X.509
	// chains are accepted, and no certificate type extension is sent for
	// the peer's credential.
	AcceptRawPublicKeys bool

	// PeerCertificateTypes are the certificate types (RFC 7250 §3) this
	// side accepts from the peer, most preferred first: a client sends
	// them in server_certificate_type, a server picks the first of them
	// that the client lists in client_certificate_type (RFC 7250 §4.2).
	// nil means [CertificateTypeRawPublicKey, CertificateTypeX509] with
	// AcceptRawPublicKeys and [CertificateTypeX509] without it; when set,
	// it replaces AcceptRawPublicKeys. A list without X.509 refuses a
	// certificate chain from the peer with unsupported_certificate
	// (RFC 8446 §6.2). A list with raw public keys needs VerifyConnection.
	PeerCertificateTypes []CertificateType

	// CertificateTypes are the certificate types of this side's own
	// credential, most preferred first. A client offers them in
	// client_certificate_type and sends only a credential of the type the
	// server selects from them; a server sends a credential of the first
	// of them the client accepts (server_certificate_type) for which
	// Certificates holds a usable one. nil means the types of
	// Certificates in their order (a server then takes the first
	// Certificate of a type the client accepts).
	CertificateTypes []CertificateType

	// VerifyConnection, when set, runs once the peer has proved it holds
	// the key it presented (its CertificateVerify verified) and before its
	// Finished is read; on a server it runs also when the client sent no
	// certificate. It gets the handshake's context and the state so far:
	// the peer's chain or raw public key and, on a server, the name the
	// client claimed in dane_clientid. An error refuses the peer with a
	// handshake_failure alert (draft-ietf-dance-client-auth-13 §8.2). It
	// runs after the chain checks (RootCAs, ClientCAs or VerifyPeer), not
	// instead of them; a raw public key is checked by it alone.
	VerifyConnection func(ctx context.Context, cs ConnectionState) error

	// editMessage, set by tests only, rewrites each protected handshake
	// message sent (a server's flight; a client's Certificate,
	// CertificateVerify and Finished) before it enters the transcript; a
	// nil result drops it.
	editMessage func(msg []byte) []byte

	// editHello, set by tests only, changes a client's first ClientHello
	// before its pre_shared_key (if any) is added.
	editHello func(m *wire.ClientHello)

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
