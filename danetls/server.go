package danetls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"sync"

	"github.com/dnsbound/dance/verify"
)

// ServerConfig returns a copy of base (nil means an empty configuration,
// which still needs certificates) that requires a client certificate,
// authenticates it with v, and refuses the handshake when v refuses.
// TLS 1.2 is the minimum version. A VerifyConnection already in base runs
// first and can refuse too.
//
// Each handshake runs with a configuration of its own, which its
// GetConfigForClient makes: a copy of the returned configuration as it is
// then, or of the one base's GetConfigForClient returns for the client
// (that one gets the same treatment, so that no handshake escapes the
// check). That copy ties the identity it authenticates to the connection
// (IdentityFromConn). It follows that:
//
//   - What the handshakes need (Certificates or GetCertificate, NextProtos)
//     goes on base, or on the returned configuration before it serves, not
//     on a copy of it: what httptest.Server.StartTLS, or
//     http.Server.ServeTLS given certificate files, set on their own copies
//     does not reach the handshake. (http.Server sets up HTTP/2 on the
//     configuration it was given, so that does.)
//   - The returned configuration must be the one the handshake starts with
//     (tls.Server, tls.NewListener, http.Server.TLSConfig): crypto/tls does
//     not call the GetConfigForClient of a configuration that another
//     configuration's GetConfigForClient returned. To choose a configuration
//     per client, give base a GetConfigForClient. A handshake that does not
//     go through the returned configuration's GetConfigForClient is refused.
//
// Options change what is asked of clients (VerifyClientCertIfGiven).
func ServerConfig(base *tls.Config, v verify.Verifier, opts ...ServerOption) *tls.Config {
	s := &server{v: v}
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&s.opts)
		}
	}
	cfg := cloneConfig(base)
	s.self, s.prev, s.get = cfg, cfg.VerifyConnection, cfg.GetConfigForClient
	// The fields say what every handshake gets, for those who read them;
	// the handshakes use their own configurations.
	s.requireCertificate(cfg)
	cfg.VerifyConnection = func(tls.ConnectionState) error { return errBypassed }
	cfg.GetConfigForClient = s.configForClient
	return cfg
}

var (
	errBypassed            = errors.New("danetls: handshake refused: it did not go through the GetConfigForClient of the configuration from ServerConfig (replaced, or that configuration was returned by another's GetConfigForClient)")
	errNoServerCertificate = errors.New("danetls: no server certificate: set Certificates or GetCertificate on the configuration given to ServerConfig, not on a copy of the one it returned")
)

// server is what a configuration from ServerConfig shares among its
// handshakes.
type server struct {
	v    verify.Verifier
	opts serverOptions
	self *tls.Config                                     // the configuration ServerConfig returned
	prev func(tls.ConnectionState) error                 // base's VerifyConnection
	get  func(*tls.ClientHelloInfo) (*tls.Config, error) // base's GetConfigForClient
}

// configForClient is the GetConfigForClient of a configuration from
// ServerConfig: it makes the configuration of one handshake.
func (s *server) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	var cfg *tls.Config
	prev := s.prev
	if s.get != nil {
		c, err := s.get(hello)
		if err != nil {
			return nil, err
		}
		if c != nil {
			cfg, prev = c.Clone(), c.VerifyConnection
		}
	}
	if cfg == nil {
		cfg = s.self.Clone()
	}
	// crypto/tls calls GetConfigForClient of the first configuration only.
	cfg.GetConfigForClient = nil
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil {
		return nil, errNoServerCertificate
	}
	st := track(hello.Conn, cfg)
	// VerifyConnection gets no context; the handshake's is the one
	// crypto/tls gives GetConfigForClient (HandshakeContext's, or for an
	// http.Server the connection's), and crypto/tls cancels it when the
	// handshake ends. The verifier's lookups run under it, so a handshake
	// given up by its caller or by a server shutting down stops its DNS
	// work; the verifier still bounds each lookup with its own deadline.
	ctx := hello.Context()
	s.requireCertificate(cfg)
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if prev != nil {
			if err := prev(cs); err != nil {
				return err
			}
		}
		if len(cs.PeerCertificates) == 0 && s.opts.certOptional {
			return nil
		}
		id, err := verify.VerifyChain(ctx, s.v, cs.PeerCertificates)
		if err != nil {
			return err
		}
		st.set(cs.PeerCertificates[0], id)
		return nil
	}
	return cfg, nil
}

// A ServerOption changes what a configuration from ServerConfig asks of
// its clients.
type ServerOption struct {
	apply func(*serverOptions)
}

type serverOptions struct {
	certOptional bool
}

// VerifyClientCertIfGiven makes the client certificate optional, as
// tls.VerifyClientCertIfGiven does for a CA pool: a client that presents
// none completes the handshake with no identity (IdentityFromConn and the
// others report false), for servers that accept another credential too,
// such as a bearer token checked by the handler. A certificate that is
// presented is authenticated as always, on resumed sessions too, and the
// handshake fails when the verifier refuses it: a refused identity cannot
// fall back on having none. Without this option a certificate is required.
func VerifyClientCertIfGiven() ServerOption {
	return ServerOption{apply: func(o *serverOptions) { o.certOptional = true }}
}

// requireCertificate makes cfg ask for a client certificate, which
// VerifyConnection authenticates: require one, unless the options make it
// optional.
func (s *server) requireCertificate(cfg *tls.Config) {
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	// The chain is authenticated by DANE in VerifyConnection, so crypto/tls
	// must not check it against a CA pool, but it must insist on one
	// (RequireAnyClientCert still checks that the client holds the key, as
	// RequestClientCert does for a certificate that is presented).
	cfg.ClientAuth = tls.RequireAnyClientCert
	if s.opts.certOptional {
		cfg.ClientAuth = tls.RequestClientCert
	}
	cfg.ClientCAs = nil
}

// connIdentity is what one handshake authenticated: the identity, and the
// leaf certificate it was authenticated for.
type connIdentity struct {
	mu   sync.Mutex
	leaf *x509.Certificate
	id   *verify.Identity
}

func (st *connIdentity) set(leaf *x509.Certificate, id *verify.Identity) {
	st.mu.Lock()
	st.leaf, st.id = leaf, id
	st.mu.Unlock()
}

// conns maps the transport connection of each handshake made through a
// configuration from ServerConfig (ClientHelloInfo.Conn, which is the
// tls.Conn's NetConn) to what that handshake authenticated. The identity
// belongs to the connection, never to its certificate: crypto/tls hands
// resumed sessions their certificates from a process-wide cache, so
// connections to different servers, with different verifiers or none, can
// hold the same *x509.Certificate.
//
// An entry lives as long as its handshake's configuration, which the
// tls.Conn holds: a cleanup removes it once the connection is garbage.
var conns struct {
	sync.Mutex
	m map[net.Conn]*connIdentity
}

type connEntry struct {
	conn net.Conn
	st   *connIdentity
}

// track registers the handshake on nc, whose configuration is cfg, and
// returns where its identity goes. A transport connection that cannot be
// a map key (a net.Conn of a non-comparable type) is not registered: its
// identity cannot be looked up, and the connection has none.
func track(nc net.Conn, cfg *tls.Config) *connIdentity {
	st := new(connIdentity)
	if !isKey(nc) {
		return st
	}
	conns.Lock()
	if conns.m == nil {
		conns.m = make(map[net.Conn]*connIdentity)
	}
	conns.m[nc] = st
	conns.Unlock()
	runtime.AddCleanup(cfg, untrack, connEntry{nc, st})
	return st
}

func untrack(e connEntry) {
	conns.Lock()
	if conns.m[e.conn] == e.st {
		delete(conns.m, e.conn)
	}
	conns.Unlock()
}

// isKey reports whether nc can be a map key.
func isKey(nc net.Conn) bool {
	return nc != nil && reflect.TypeOf(nc).Comparable()
}

// IdentityFromConn returns the identity authenticated in c's handshake by a
// configuration from ServerConfig; false when the handshake has not
// completed or authenticated no one.
func IdentityFromConn(c *tls.Conn) (*verify.Identity, bool) {
	if c == nil {
		return nil, false
	}
	cs := c.ConnectionState()
	if !cs.HandshakeComplete || len(cs.PeerCertificates) == 0 {
		return nil, false
	}
	nc := c.NetConn()
	if !isKey(nc) {
		return nil, false
	}
	conns.Lock()
	st := conns.m[nc]
	conns.Unlock()
	if st == nil {
		return nil, false
	}
	st.mu.Lock()
	leaf, id := st.leaf, st.id
	st.mu.Unlock()
	// The same leaf as the handshake verified: a transport connection
	// that carried an earlier handshake does not lend it its identity.
	if id == nil || leaf != cs.PeerCertificates[0] {
		return nil, false
	}
	cp := *id
	return &cp, true
}

// IdentityFromRequest returns the identity of the client that sent r over a
// connection authenticated by a configuration from ServerConfig. The
// http.Server's ConnContext must be ConnContext (or call it): a request
// does not otherwise say which connection it came over, and without it
// IdentityFromRequest reports false.
func IdentityFromRequest(r *http.Request) (*verify.Identity, bool) {
	if r == nil {
		return nil, false
	}
	return IdentityFromContext(r.Context())
}

type ctxKey int

const (
	connKey ctxKey = iota
	identityKey
)

// ConnContext is an http.Server ConnContext hook that makes the connection
// available to IdentityFromContext:
//
//	srv := &http.Server{
//		TLSConfig:   danetls.ServerConfig(base, core),
//		ConnContext: danetls.ConnContext,
//		Handler:     h,
//		// Slow or silent clients must not hold connections forever.
//		ReadHeaderTimeout: 10 * time.Second,
//		ReadTimeout:       30 * time.Second,
//		WriteTimeout:      30 * time.Second,
//		IdleTimeout:       60 * time.Second,
//		MaxHeaderBytes:    64 << 10,
//	}
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey, c)
}

// ContextWithIdentity returns a context carrying id, for transports that
// authenticate by other means (a proxy's middleware) and hand the identity
// to the same handlers.
func ContextWithIdentity(ctx context.Context, id *verify.Identity) context.Context {
	return context.WithValue(ctx, identityKey, id)
}

// IdentityFromContext returns the identity in ctx: one put there by
// ContextWithIdentity, or the one authenticated on the connection that
// ConnContext recorded, once its handshake is complete.
func IdentityFromContext(ctx context.Context) (*verify.Identity, bool) {
	if id, ok := ctx.Value(identityKey).(*verify.Identity); ok && id != nil {
		c := *id
		return &c, true
	}
	if tc, ok := ctx.Value(connKey).(*tls.Conn); ok {
		return IdentityFromConn(tc)
	}
	return nil, false
}
