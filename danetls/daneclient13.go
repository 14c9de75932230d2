package danetls

import (
	"context"
	"crypto/x509"

	"github.com/dnsbound/dance/tls13"
	"github.com/dnsbound/dance/verify"
)

// DANEClientConfigTLS13 is DANEClientConfig for dance's own TLS 1.3
// engine (package tls13): it returns a copy of base (nil means an empty
// configuration) for connecting to the TLS server at addr, "host:port",
// that authenticates the server with v by the TLSA records at
// "_port._tcp.host", through the same check, options and reports as
// DANEClientConfig.
//
//   - SNI is host: ServerName is set to it, and a base whose ServerName
//     names another host is refused.
//   - The check runs in VerifyConnection, which the engine runs on full
//     handshakes and on resumptions (with the chain of the original
//     connection); its refusal is a handshake_failure alert. The engine's
//     own check against RootCAs is replaced (VerifyPeer accepts every
//     chain, which VerifyConnection then authenticates or refuses): it
//     would refuse every certificate DANE authenticates without a CA. A
//     VerifyPeer or VerifyConnection already in base runs first and can
//     refuse too.
//   - With base.AcceptRawPublicKeys the server may present a raw public
//     key (RFC 7250), which only a DANE-EE SPKI record (3 1 x)
//     authenticates; PKIXFallback never applies to one.
func DANEClientConfigTLS13(base *tls13.Config, v verify.ServerVerifier, addr string, opts ...ClientOption) (*tls13.Config, error) {
	cfg := &tls13.Config{}
	if base != nil {
		c := *base
		cfg = &c
	}
	c, err := newDANEClient(v, addr, cfg.ServerName, cfg.Time, opts)
	if err != nil {
		return nil, err
	}
	cfg.ServerName = c.host
	if cfg.VerifyPeer == nil {
		cfg.VerifyPeer = func([]*x509.Certificate) error { return nil }
	}
	prevConn := cfg.VerifyConnection
	cfg.VerifyConnection = func(ctx context.Context, cs tls13.ConnectionState) error {
		if prevConn != nil {
			if err := prevConn(ctx, cs); err != nil {
				return err
			}
		}
		return c.authenticate(ctx, cs.ServerName, verify.Presented{Chain: cs.PeerCertificates, RawPublicKey: cs.PeerRawPublicKey})
	}
	return cfg, nil
}
