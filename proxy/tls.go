package proxy

import (
	"crypto/tls"

	"github.com/dnsbound/dance/danetls"
)

// serverTLS derives the proxy's server configuration from Config.TLS.
func (s *Server) serverTLS() (*tls.Config, error) {
	c := s.cfg.TLS.Clone()
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	if s.cfg.Mode != ModeTCP {
		c.NextProtos = []string{"h2", "http/1.1"}
	}
	// Whatever the caller's configuration says about client certificates
	// is replaced: the proxy decides.
	c.VerifyPeerCertificate = nil
	c.VerifyConnection = nil
	c.ClientCAs = nil
	if s.cfg.Mode == ModePassthrough {
		// Example 2: no CA and no DANE check here, the application decides.
		// crypto/tls still checks that the client holds the certificate's
		// private key (its CertificateVerify signature, RFC 8446 §4.4.3).
		c.ClientAuth = tls.RequireAnyClientCert
		return c, nil
	}
	// Example 1: the verification core runs inside the handshake
	// (VerifyConnection, on resumed sessions too); a refused client never
	// reaches the backend.
	return danetls.ServerConfig(c, s.cfg.Verifier), nil
}
