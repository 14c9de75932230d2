package proxy

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/tls13"
	"github.com/dnsbound/dance/verify"
)

// Engine is the TLS implementation the proxy terminates clients with.
type Engine int

const (
	// EngineCryptoTLS is Go's crypto/tls (TLS 1.2 and 1.3): clients
	// authenticate with a certificate that names them.
	EngineCryptoTLS Engine = iota
	// EngineDance is package tls13 (TLS 1.3 only), which also speaks the
	// dane_clientid extension (draft-ietf-dance-tls-clientid-07) and RFC
	// 7250 raw public keys: a client may claim its name in dane_clientid
	// and present a certificate or a bare key, which the verification
	// core authenticates (a raw key only by a DANE-EE SPKI record). HTTP/2
	// is not offered; ModePassthrough is not available.
	EngineDance
)

// ParseEngine reads "crypto/tls" or "dance".
func ParseEngine(s string) (Engine, error) {
	switch s {
	case "crypto/tls":
		return EngineCryptoTLS, nil
	case "dance":
		return EngineDance, nil
	}
	return 0, fmt.Errorf("proxy: unknown engine %q (want crypto/tls or dance)", s)
}

// String returns "crypto/tls" or "dance".
func (e Engine) String() string {
	switch e {
	case EngineCryptoTLS:
		return "crypto/tls"
	case EngineDance:
		return "dance"
	}
	return fmt.Sprintf("Engine(%d)", int(e))
}

// Refusals decided before the verification core is asked; they are not
// *verify.Error, so the proxy logs them (handshakeFailed) as the core would
// have.
var (
	errNoClaimedName = errors.New("proxy: client refused: no name claimed in dane_clientid, and the proxy requires one")
	errRawKeyNoName  = errors.New("proxy: client refused: a raw public key without a name in dane_clientid")
)

// danceConn is a client connection of EngineDance with what its handshake
// authenticated.
type danceConn struct {
	*tls13.Conn
	raw  net.Conn // the transport, a *limitedConn
	auth *peerAuth
}

// peerAuth is what a client's handshake authenticated, for the connection's
// later renewals: the name it claimed ("" when it named itself only in its
// certificate) and what it presented.
type peerAuth struct {
	id        *verify.Identity
	claimed   string
	presented verify.Presented
}

// danceConfig is the tls13 configuration of one handshake: the proxy's
// current certificate, client authentication required, dane_clientid
// asked for, raw keys accepted, and the verification core in
// VerifyConnection, which fills auth.
func (s *Server) danceConfig(auth *peerAuth) (*tls13.Config, error) {
	cert, err := s.currentCertificate()
	if err != nil {
		return nil, err
	}
	cfg := &tls13.Config{
		Certificates:          []tls13.Certificate{cert},
		ClientAuth:            tls13.RequireClientCert,
		RequestClientName:     true,
		DANEClientIDCodepoint: s.cfg.ClientIDCodepoint,
		AcceptRawPublicKeys:   true,
		// Tickets would not carry raw keys and names; and a
		// configuration made per handshake has no ticket keys to
		// share.
		SessionTicketsDisabled: true,
		Time:                   s.cfg.Time,
		// The chain is the verification core's to judge (DANE-TA,
		// PKIX-TA, DANE-EE), in VerifyConnection; no CA pool here.
		VerifyPeer: func([]*x509.Certificate) error { return nil },
		VerifyConnection: func(ctx context.Context, cs tls13.ConnectionState) error {
			return s.verifyDance(ctx, cs, auth)
		},
	}
	if s.cfg.Mode == ModeHTTP {
		cfg.NextProtos = []string{"http/1.1"}
	}
	return cfg, nil
}

// verifyDance authenticates a client of EngineDance with the verification
// core: the name claimed in dane_clientid (with the SAN check for usages
// 0, 1 and 2, none for 3), or the name in its certificate; a raw key only
// with a claimed name and a DANE-EE SPKI record (verify.VerifyClaimed).
func (s *Server) verifyDance(ctx context.Context, cs tls13.ConnectionState, auth *peerAuth) error {
	if s.cfg.RequireClientID && cs.ClientName == "" {
		return errNoClaimedName
	}
	if cs.ClientName == "" && len(cs.PeerCertificates) == 0 {
		return errRawKeyNoName
	}
	p := verify.Presented{Chain: cs.PeerCertificates, RawPublicKey: cs.PeerRawPublicKey}
	id, err := verify.VerifyClaimed(ctx, s.cfg.Verifier, cs.ClientName, p)
	if err != nil {
		return err
	}
	auth.id, auth.claimed, auth.presented = id, cs.ClientName, p
	return nil
}

// currentCertificate returns the proxy's certificate from Config.TLS, as
// tls13 takes it.
func (s *Server) currentCertificate() (tls13.Certificate, error) {
	var cert *tls.Certificate
	if g := s.cfg.TLS.GetCertificate; g != nil {
		c, err := g(&tls.ClientHelloInfo{})
		if err != nil {
			return tls13.Certificate{}, err
		}
		cert = c
	} else if len(s.cfg.TLS.Certificates) > 0 {
		cert = &s.cfg.TLS.Certificates[0]
	}
	if cert == nil || len(cert.Certificate) == 0 {
		return tls13.Certificate{}, errors.New("proxy: no certificate")
	}
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return tls13.Certificate{}, fmt.Errorf("proxy: the certificate's key (%T) cannot sign", cert.PrivateKey)
	}
	return tls13.Certificate{Chain: cert.Certificate, PrivateKey: signer}, nil
}

// serverHandshake runs the handshake of the configured engine on c and
// returns the client connection; on failure the caller closes it.
func (s *Server) serverHandshake(ctx context.Context, c net.Conn) (net.Conn, error) {
	if s.cfg.Engine != EngineDance {
		tc := tls.Server(c, s.tlsConf)
		return tc, tc.HandshakeContext(ctx)
	}
	auth := &peerAuth{}
	cfg, err := s.danceConfig(auth)
	if err != nil {
		return c, err
	}
	dc := &danceConn{Conn: tls13.Server(c, cfg), raw: c, auth: auth}
	if err := dc.HandshakeContext(ctx); err != nil {
		return dc, err
	}
	if auth.id == nil {
		// VerifyConnection runs in every handshake that succeeds; this
		// cannot happen, and is checked so that a mistake cannot let an
		// unauthenticated client through.
		return dc, errors.New("proxy: handshake completed without a verdict")
	}
	return dc, nil
}

// connInfo is what the proxy reports of an established client connection,
// whichever engine served it.
type connInfo struct {
	version, suite uint16
	resumed        bool
	// auth is the authenticated identity and what it rests on; nil when
	// no one was authenticated (ModePassthrough).
	auth *peerAuth
	// chain is the client's certificate chain (Client-Cert); nil for a
	// raw public key.
	chain []*x509.Certificate
}

// infoOf returns what c's handshake negotiated and authenticated.
func infoOf(c net.Conn) connInfo {
	switch c := c.(type) {
	case *tls.Conn:
		st := c.ConnectionState()
		in := connInfo{version: st.Version, suite: st.CipherSuite, resumed: st.DidResume, chain: st.PeerCertificates}
		if id, ok := danetls.IdentityFromConn(c); ok {
			in.auth = &peerAuth{id: id, presented: verify.Presented{Chain: st.PeerCertificates}}
		}
		return in
	case *danceConn:
		st := c.ConnectionState()
		in := connInfo{version: st.Version, suite: st.CipherSuite, resumed: st.Resumed, chain: st.PeerCertificates}
		if c.auth.id != nil {
			a := *c.auth
			in.auth = &a
		}
		return in
	}
	return connInfo{}
}

// transportOf returns the transport under a client connection.
func transportOf(c net.Conn) net.Conn {
	switch c := c.(type) {
	case *tls.Conn:
		return c.NetConn()
	case *danceConn:
		return c.raw
	}
	return c
}

// clientConn is an established client connection of either engine.
type clientConn interface {
	net.Conn
	CloseWrite() error
}

var (
	_ clientConn = (*tls.Conn)(nil)
	_ clientConn = (*danceConn)(nil)
)
