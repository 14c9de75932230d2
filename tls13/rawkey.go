package tls13

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/dnsbound/dance/tls13/internal/alert"
	"github.com/dnsbound/dance/tls13/internal/wire"
)

// Raw public keys (RFC 7250). The two certificate type extensions say, in
// the ClientHello, which types the client can send (client_certificate_type)
// and accept (server_certificate_type), and in the EncryptedExtensions which
// one the server chose for each (RFC 7250 §4.2; RFC 8446 §4.2 moves the
// answer there). Without the extensions both are X.509. A negotiated raw
// public key travels as the single CertificateEntry of the Certificate
// message, a DER SubjectPublicKeyInfo where the certificate would be (RFC
// 7250 §3, RFC 8446 §4.4.2), and the CertificateVerify is signed with its
// key as usual.

// CertificateType is a certificate type of RFC 7250 §3 (IANA's "TLS
// Certificate Types" registry): the form in which a peer's credential
// travels in its Certificate message.
type CertificateType uint8

const (
	// CertificateTypeX509 is an X.509 certificate chain, the default
	// when no certificate type extension is negotiated (RFC 7250 §4.2).
	CertificateTypeX509 CertificateType = 0
	// CertificateTypeRawPublicKey is a raw public key: a DER
	// SubjectPublicKeyInfo alone (RFC 7250 §3).
	CertificateTypeRawPublicKey CertificateType = 2
)

// String names the type as RFC 7250 does.
func (t CertificateType) String() string {
	switch t {
	case CertificateTypeX509:
		return "X509"
	case CertificateTypeRawPublicKey:
		return "RawPublicKey"
	}
	return fmt.Sprintf("CertificateType(%d)", uint8(t))
}

// isRaw reports whether cert stands for a raw public key: no chain.
func (cert *Certificate) isRaw() bool { return len(cert.Chain) == 0 }

// certType is the certificate type cert is sent as.
func (cert *Certificate) certType() uint8 {
	if cert.isRaw() {
		return wire.CertTypeRawPublicKey
	}
	return wire.CertTypeX509
}

// ownCertTypes lists what a client can send (client_certificate_type) and
// a server's preference for its own type: CertificateTypes, or else the
// types of the usable Certificates in their order, once each.
func (c *Config) ownCertTypes() []uint8 {
	if len(c.CertificateTypes) > 0 {
		return certTypeBytes(c.CertificateTypes)
	}
	var types []uint8
	for i := range c.Certificates {
		cert := &c.Certificates[i]
		if cert.PrivateKey == nil {
			continue
		}
		if t := cert.certType(); !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	return types
}

// peerCertTypes is what we accept from the peer, most preferred first.
func (c *Config) peerCertTypes() []uint8 {
	switch {
	case len(c.PeerCertificateTypes) > 0:
		return certTypeBytes(c.PeerCertificateTypes)
	case c.AcceptRawPublicKeys:
		return []uint8{wire.CertTypeRawPublicKey, wire.CertTypeX509}
	}
	return []uint8{wire.CertTypeX509}
}

func certTypeBytes(types []CertificateType) []uint8 {
	b := make([]uint8, len(types))
	for i, t := range types {
		b[i] = uint8(t)
	}
	return b
}

// acceptPeerCertType refuses a peer credential of type t (the negotiated
// one, X.509 when no extension chose it) when we do not accept that type:
// unsupported_certificate, "a certificate was of an unsupported type" (RFC
// 8446 §6.2).
func (c *Conn) acceptPeerCertType(t uint8) error {
	if !slices.Contains(c.st.peerTypes, t) {
		return alert.Errorf(alert.UnsupportedCertificate, "peer credential of type %v, not accepted", CertificateType(t))
	}
	return nil
}

// certTypeExtensions are a client's certificate type extensions for its
// own types and the peer's it accepts: each is sent only when it lists
// something other than X.509 alone, the default (RFC 7250 §4.1: a client
// with no type but X.509 to offer omits it).
func certTypeExtensions(own, peer []uint8) []wire.Extension {
	var exts []wire.Extension
	if len(own) > 0 && !slices.Equal(own, []uint8{wire.CertTypeX509}) {
		exts = append(exts, wire.NewCertTypesExtension(own, false))
	}
	if !slices.Equal(peer, []uint8{wire.CertTypeX509}) {
		exts = append(exts, wire.NewCertTypesExtension(peer, true))
	}
	return exts
}

// checkSelectedCertType checks a certificate type the server selected in its
// EncryptedExtensions against what we offered in ext (the ClientHello's
// extension of that type): a selection without an offer is an
// unsupported_extension (RFC 8446 §4.2), one outside the offer an
// illegal_parameter.
func (hs *clientHS) checkSelectedCertType(typ wire.ExtensionType, selected int) (uint8, error) {
	data, ok := wire.FindExtension(hs.hello.Extensions, typ)
	if !ok {
		return 0, alert.Errorf(alert.UnsupportedExtension, "certificate type extension %d answered, not offered", typ)
	}
	offered, err := wire.ParseCertTypes(data)
	if err != nil {
		return 0, err
	}
	if selected < 0 || !slices.Contains(offered, uint8(selected)) {
		return 0, alert.Errorf(alert.IllegalParameter, "certificate type %d selected, not offered", selected)
	}
	return uint8(selected), nil
}

// parseRawPublicKey reads the single entry of a Certificate message that
// carries a raw public key (RFC 8446 §4.4.2: no more than one entry).
func parseRawPublicKey(m *wire.Certificate) ([]byte, crypto.PublicKey, error) {
	if len(m.Entries) != 1 {
		return nil, nil, alert.Errorf(alert.IllegalParameter, "raw public key Certificate with %d entries", len(m.Entries))
	}
	spki := m.Entries[0].Data
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, nil, &alert.Error{Alert: alert.BadCertificate, Reason: "raw public key", Err: err}
	}
	return spki, pub, nil
}

// certificateEntries are the entries that present cert: its chain, or its
// public key as a SubjectPublicKeyInfo.
func certificateEntries(cert *Certificate) ([]wire.CertificateEntry, error) {
	if cert.isRaw() {
		spki, err := x509.MarshalPKIXPublicKey(cert.PrivateKey.Public())
		if err != nil {
			return nil, &alert.Error{Alert: alert.InternalError, Reason: "encoding our raw public key", Err: err}
		}
		return []wire.CertificateEntry{{Data: spki, Extensions: []wire.Extension{}}}, nil
	}
	entries := make([]wire.CertificateEntry, len(cert.Chain))
	for i, der := range cert.Chain {
		entries[i] = wire.CertificateEntry{Data: der, Extensions: []wire.Extension{}}
	}
	return entries, nil
}

// verifyConnection runs Config.VerifyConnection, if set, on the state so
// far; its refusal is a handshake_failure (draft-ietf-dance-client-auth-13
// §8.2: every DANE refusal is one generic handshake_failure).
func (c *Conn) verifyConnection() error {
	if c.cfg.VerifyConnection == nil {
		return nil
	}
	if err := c.cfg.VerifyConnection(c.hsCtx, c.state); err != nil {
		return &alert.Error{Alert: alert.HandshakeFailure, Reason: "peer refused by VerifyConnection", Err: err}
	}
	return nil
}

// resumable reports whether a session may be resumed: not when the peer
// claimed a dane_clientid name, which tickets do not carry, so that a
// resumed connection never reports less than the full handshake
// authenticated (VerifyConnection would see no name on it). A raw public
// key travels in the ticket with its type, and VerifyConnection checks it
// again on resumption.
func (s *ConnectionState) resumable() bool {
	return !s.DANEClientID
}

// resumedCertType answers server_certificate_type in a resumed handshake,
// where no Certificate follows: with the type of the credential this
// server authenticates with, chosen as in a full handshake (the first of
// its types, with a credential of that type, that the client lists; RFC
// 7250 §4.2), so that a client does not take the extension's absence for
// X.509 in a session made with a raw key. With no type in common the
// extension is left out: the PSK authenticates the server. A server with
// GetCertificate counts its CertificateTypes as available.
func (hs *serverHS) resumedCertType() {
	ch, cfg := hs.hello, hs.c.cfg
	if ch.ServerCertTypes == nil {
		return
	}
	for _, t := range cfg.ownCertTypes() {
		if !slices.Contains(ch.ServerCertTypes, t) {
			continue
		}
		have := cfg.GetCertificate != nil && len(cfg.CertificateTypes) > 0
		for i := range cfg.Certificates {
			if c := &cfg.Certificates[i]; c.PrivateKey != nil && c.certType() == t {
				have = true
			}
		}
		if have {
			hs.certTypeExts = append(hs.certTypeExts, wire.NewSelectedCertTypeExtension(t, true))
			return
		}
	}
}
