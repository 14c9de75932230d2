package serve

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/dnsbound/dance/tls13"
	"github.com/dnsbound/dance/verify"
	"github.com/dnsbound/dance/zone/server"
)

// With DANE (XoTDANE, XoTBoth) the XoT listener runs dance's own TLS 1.3
// engine (package tls13) rather than crypto/tls: a secondary the
// verification core refuses is then told so with the one generic
// handshake_failure alert (draft-ietf-dance-client-auth-13 §8.2), where
// crypto/tls answers every refused certificate with bad_certificate. The
// reason goes to the log (component=xot-dane) and the metrics only.
// RFC 9103 needs TLS 1.3 alone, which is all the engine speaks. Without
// DANE (XoTTSIG) no certificate is asked for and crypto/tls serves.

// xotEngine makes the tls13 configuration of each XoT connection from the
// certificate in force, so that a reloaded certificate serves the next
// connection.
type xotEngine struct {
	s *Server

	mu   sync.Mutex
	from *tls.Certificate // the certificate cfg was made from
	cfg  *tls13.Config
}

// config returns the configuration for a new connection.
func (e *xotEngine) config() (*tls13.Config, error) {
	pair := e.s.xotCert.Load()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cfg != nil && e.from == pair {
		return e.cfg, nil
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("serve: the XoT key cannot sign")
	}
	core := e.s.xotCore
	e.cfg = &tls13.Config{
		Certificates: []tls13.Certificate{{Chain: pair.Certificate, PrivateKey: signer}},
		NextProtos:   []string{server.ALPN}, // RFC 9103 §7.1
		ClientAuth:   tls13.RequireClientCert,
		// The chain is authenticated by DANE in VerifyConnection, not
		// against CAs.
		VerifyPeer: func([]*x509.Certificate) error { return nil },
		VerifyConnection: func(ctx context.Context, cs tls13.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("serve: XoT secondary without a certificate")
			}
			_, err := verify.VerifyChain(ctx, core, cs.PeerCertificates)
			return err
		},
	}
	e.from = pair
	return e.cfg, nil
}

// xotEngineListener accepts XoT connections over TCP and serves each with
// the tls13 engine.
type xotEngineListener struct {
	net.Listener
	e *xotEngine
}

func (l *xotEngineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cfg, err := l.e.config()
	if err != nil {
		c.Close()
		return nil, err
	}
	return &xotEngineConn{Conn: tls13.Server(c, cfg), remote: c.RemoteAddr().String()}, nil
}

// xotEngineConn is one XoT connection: its handshake runs at the first
// read or write, under a context that gives the verification core the
// secondary's address for its log, and it reports its state as crypto/tls
// does, for the DNS server (miekg/dns's ConnectionStater).
type xotEngineConn struct {
	*tls13.Conn
	remote string
	once   sync.Once
	hsErr  error
}

func (c *xotEngineConn) handshake() error {
	c.once.Do(func() {
		c.hsErr = c.Conn.HandshakeContext(verify.WithPeerAddr(context.Background(), c.remote))
	})
	return c.hsErr
}

func (c *xotEngineConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *xotEngineConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// ConnectionState is the engine's state in crypto/tls's terms: what the
// DNS server reads (version, peer chain, ALPN).
func (c *xotEngineConn) ConnectionState() tls.ConnectionState {
	cs := c.Conn.ConnectionState()
	return tls.ConnectionState{
		Version: cs.Version, HandshakeComplete: cs.HandshakeComplete, DidResume: cs.Resumed,
		CipherSuite: cs.CipherSuite, NegotiatedProtocol: cs.NegotiatedProtocol,
		ServerName: cs.ServerName, PeerCertificates: cs.PeerCertificates,
	}
}

// listenXoTEngine binds the XoT listener for the DANE modes.
func (s *Server) listenXoTEngine(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return &xotEngineListener{Listener: l, e: &xotEngine{s: s}}, nil
}
