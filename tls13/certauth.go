package tls13

import (
	"bytes"
	"context"
	"crypto/x509"

	"github.com/dnsbound/dance/tls13/internal/alert"
)

// ClientHelloInfo is what Config.GetCertificate learns of the client's
// ClientHello to choose a server credential.
type ClientHelloInfo struct {
	// ServerName is the client's server_name; "" when it sent none.
	ServerName string
	// SignatureSchemes are the client's signature_algorithms.
	SignatureSchemes []uint16
	// CertificateAuthorities are the DER distinguished names of the
	// client's certificate_authorities (RFC 8446 §4.2.4), the trust
	// anchors it accepts; nil when it sent none. Compare them with
	// x509.Certificate.RawIssuer or RawSubject.
	CertificateAuthorities [][]byte
	// SupportedProtos are the client's ALPN protocols (RFC 7301), most
	// preferred first; nil when it sent none.
	SupportedProtos []string
	// Context is the handshake's context.
	Context context.Context
}

// CertificateRequestInfo is what Config.GetClientCertificate learns of the
// server's CertificateRequest (RFC 8446 §4.3.2) to choose a client
// credential.
type CertificateRequestInfo struct {
	// SignatureSchemes are the server's signature_algorithms.
	SignatureSchemes []uint16
	// CertificateAuthorities are the DER distinguished names of the
	// server's certificate_authorities (RFC 8446 §4.2.4), the trust
	// anchors it accepts; nil when it sent none.
	CertificateAuthorities [][]byte
	// DANEClientID reports that the server asked for dane_clientid.
	DANEClientID bool
	// Context is the handshake's context.
	Context context.Context
}

// serverCandidates returns the credentials a server may send: the one
// Config.GetCertificate picks, or Config.Certificates.
func (hs *serverHS) serverCandidates() ([]*Certificate, error) {
	cfg := hs.c.cfg
	if cfg.GetCertificate != nil {
		cert, err := cfg.GetCertificate(&ClientHelloInfo{
			ServerName:             hs.hello.ServerName,
			SignatureSchemes:       hs.hello.SignatureAlgorithms,
			CertificateAuthorities: hs.hello.CertificateAuthorities,
			SupportedProtos:        hs.hello.ALPN,
			Context:                hs.c.handshakeContext(),
		})
		if err != nil {
			return nil, &alert.Error{Alert: alert.InternalError, Reason: "Config.GetCertificate", Err: err}
		}
		if cert != nil {
			return []*Certificate{cert}, nil
		}
	}
	return credentials(cfg.Certificates), nil
}

// clientCandidates returns the credentials a client may answer a
// CertificateRequest with: the one Config.GetClientCertificate picks (none
// if it returns nil), or Config.Certificates.
func (hs *clientHS) clientCandidates() ([]*Certificate, error) {
	cfg := hs.c.cfg
	if cfg.GetClientCertificate == nil {
		return credentials(cfg.Certificates), nil
	}
	cert, err := cfg.GetClientCertificate(&CertificateRequestInfo{
		SignatureSchemes:       hs.certReq.SignatureAlgorithms,
		CertificateAuthorities: hs.certReq.CertificateAuthorities,
		DANEClientID:           hs.certReq.DANEClientID,
		Context:                hs.c.handshakeContext(),
	})
	if err != nil {
		return nil, &alert.Error{Alert: alert.InternalError, Reason: "Config.GetClientCertificate", Err: err}
	}
	if cert == nil {
		return nil, nil
	}
	return []*Certificate{cert}, nil
}

func credentials(certs []Certificate) []*Certificate {
	out := make([]*Certificate, len(certs))
	for i := range certs {
		out[i] = &certs[i]
	}
	return out
}

// handshakeContext is the context of the handshake in progress.
func (c *Conn) handshakeContext() context.Context {
	if c.hsCtx != nil {
		return c.hsCtx
	}
	return context.Background()
}

// issuerListed reports whether cert may be sent to a peer that listed cas
// in certificate_authorities: always without MatchIssuers; with it, only
// when one of its chain's issuers is among cas (RFC 8446 §4.2.4). A chain
// certificate that does not parse matches nothing.
func (cert *Certificate) issuerListed(cas [][]byte) bool {
	if !cert.MatchIssuers {
		return true
	}
	for _, der := range cert.Chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		for _, ca := range cas {
			if bytes.Equal(c.RawIssuer, ca) {
				return true
			}
		}
	}
	return false
}
