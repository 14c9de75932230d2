package danetls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"runtime"
	"sync"
	"weak"

	"github.com/dnsbound/dance/verify"
)

// ServerConfig returns a copy of base (nil means an empty configuration,
// which still needs certificates) that requires a client certificate,
// authenticates it with v, and refuses the handshake when v refuses.
// TLS 1.2 is the minimum version. A VerifyConnection already in base runs
// first and can refuse too. Configurations that base's GetConfigForClient
// returns get the same treatment, so that no handshake escapes the check.
// Options change what is asked of clients (VerifyClientCertIfGiven).
func ServerConfig(base *tls.Config, v verify.Verifier, opts ...ServerOption) *tls.Config {
	var o serverOptions
	for _, opt := range opts {
		opt(&o)
	}
	cfg := cloneConfig(base)
	requireDANE(cfg, v, o)
	if get := cfg.GetConfigForClient; get != nil {
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := get(hello)
			if err != nil || c == nil {
				return c, err
			}
			c = c.Clone()
			c.GetConfigForClient = nil
			requireDANE(c, v, o)
			return c, nil
		}
	}
	return cfg
}

// A ServerOption changes what a configuration from ServerConfig asks of
// its clients.
type ServerOption func(*serverOptions)

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
	return func(o *serverOptions) { o.certOptional = true }
}

// requireDANE makes cfg ask for a client certificate (require one, unless
// o makes it optional) and authenticate it with v.
func requireDANE(cfg *tls.Config, v verify.Verifier, o serverOptions) {
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	// The chain is authenticated by DANE in VerifyConnection, so crypto/tls
	// must not check it against a CA pool, but it must insist on one
	// (RequireAnyClientCert still checks that the client holds the key, as
	// RequestClientCert does for a certificate that is presented).
	cfg.ClientAuth = tls.RequireAnyClientCert
	if o.certOptional {
		cfg.ClientAuth = tls.RequestClientCert
	}
	cfg.ClientCAs = nil
	prev := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if prev != nil {
			if err := prev(cs); err != nil {
				return err
			}
		}
		if len(cs.PeerCertificates) == 0 && o.certOptional {
			return nil
		}
		// VerifyConnection gets no context; the verifier bounds its own
		// lookups with its deadline.
		id, err := verify.VerifyChain(context.Background(), v, cs.PeerCertificates)
		if err != nil {
			return err
		}
		remember(cs.PeerCertificates[0], id)
		return nil
	}
}

// identities maps the leaf certificate of each verified handshake to its
// identity. The key is a weak pointer, so an entry lives as long as the
// connection state that holds the certificate, and a cleanup removes it
// after. ConnectionState hands handlers the same certificate pointers that
// VerifyConnection saw, on resumed sessions as on full handshakes, so the
// lookup needs no per-connection bookkeeping.
var identities struct {
	sync.Mutex
	m map[weak.Pointer[x509.Certificate]]*verify.Identity
}

func remember(leaf *x509.Certificate, id *verify.Identity) {
	wp := weak.Make(leaf)
	identities.Lock()
	if identities.m == nil {
		identities.m = make(map[weak.Pointer[x509.Certificate]]*verify.Identity)
	}
	_, known := identities.m[wp]
	identities.m[wp] = id
	identities.Unlock()
	if !known {
		runtime.AddCleanup(leaf, forget, wp)
	}
}

func forget(wp weak.Pointer[x509.Certificate]) {
	identities.Lock()
	delete(identities.m, wp)
	identities.Unlock()
}

func lookupIdentity(cs *tls.ConnectionState) (*verify.Identity, bool) {
	if cs == nil || !cs.HandshakeComplete || len(cs.PeerCertificates) == 0 {
		return nil, false
	}
	identities.Lock()
	id, ok := identities.m[weak.Make(cs.PeerCertificates[0])]
	identities.Unlock()
	if !ok {
		return nil, false
	}
	c := *id
	return &c, true
}

// IdentityFromConn returns the identity authenticated in c's handshake by a
// configuration from ServerConfig; false when the handshake has not
// completed or authenticated no one.
func IdentityFromConn(c *tls.Conn) (*verify.Identity, bool) {
	if c == nil {
		return nil, false
	}
	cs := c.ConnectionState()
	return lookupIdentity(&cs)
}

// IdentityFromRequest returns the identity of the client that sent r over a
// connection authenticated by a configuration from ServerConfig.
func IdentityFromRequest(r *http.Request) (*verify.Identity, bool) {
	if r == nil {
		return nil, false
	}
	if id, ok := IdentityFromContext(r.Context()); ok {
		return id, true
	}
	return lookupIdentity(r.TLS)
}

type ctxKey int

const (
	connKey ctxKey = iota
	identityKey
)

// ConnContext is an http.Server ConnContext hook that makes the connection
// available to IdentityFromContext:
//
//	srv := &http.Server{TLSConfig: danetls.ServerConfig(base, core), ConnContext: danetls.ConnContext}
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
