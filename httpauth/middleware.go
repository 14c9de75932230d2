package httpauth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/verify"
)

// Config configures a Middleware.
type Config struct {
	// Verifier is the verification core: allow-list, lookup, match.
	// Required.
	Verifier verify.Verifier
	// TrustedProxies are the addresses (CIDR prefixes) whose Client-Cert
	// fields are believed: the TLS-terminating proxies in front of the
	// application. A Client-Cert from any other address is refused, as is
	// any request through an address that is not in this list when the
	// request carries Client-Cert. Empty means no proxy is trusted: only
	// direct TLS clients can be authenticated.
	TrustedProxies []netip.Prefix
	// Logger receives one record per refusal, with the reason (Info), and
	// per authentication (Debug); nil discards them.
	Logger *slog.Logger
}

// Middleware authenticates HTTP requests by the DNS-bound identity of
// their client. It is safe for concurrent use.
type Middleware struct {
	v       verify.Verifier
	trusted []netip.Prefix
	log     *slog.Logger
}

// New checks cfg and returns a Middleware.
func New(cfg Config) (*Middleware, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("httpauth: Config.Verifier is required")
	}
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("httpauth: invalid trusted proxy prefix %v", p)
		}
	}
	m := &Middleware{v: cfg.Verifier, log: cfg.Logger}
	for _, p := range cfg.TrustedProxies {
		m.trusted = append(m.trusted, p.Masked())
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m, nil
}

// Source says where an authenticated request's certificate came from.
type Source int

// Sources of a client certificate.
const (
	// SourceTLS: the client's own TLS handshake with this server.
	SourceTLS Source = iota + 1
	// SourceHeader: the Client-Cert field from a trusted proxy.
	SourceHeader
)

// Handler returns next wrapped: requests reach it only with an
// authenticated identity, available with danetls.IdentityFromContext. Without any client
// certificate the answer is 401; a refused one, a Client-Cert field from
// an address not in TrustedProxies, a malformed field, or a field that is
// another spelling of Client-Cert or Client-Cert-Chain ("Client_Cert",
// which CGI-style code reads as the same field; SameFieldName) get 403.
// The body says nothing more; the reason goes to the Logger.
//
// The certificate is taken from the request's own TLS connection when
// there is one with a client certificate (the application terminates TLS
// itself), else from Client-Cert. A certificate from the TLS connection
// must have passed the server's own check of the private key (crypto/tls
// does that for every client certificate); one from Client-Cert is
// believed to have passed the proxy's.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, status := m.authenticate(r)
		if id == nil {
			http.Error(w, http.StatusText(status), status)
			return
		}
		next.ServeHTTP(w, r.WithContext(danetls.ContextWithIdentity(r.Context(), id)))
	})
}

func (m *Middleware) authenticate(r *http.Request) (*verify.Identity, int) {
	remote := remoteAddr(r)
	_, hasHeader := r.Header[ClientCertHeader]
	_, hasChain := r.Header[ClientCertChainHeader]
	other := otherSpelling(r.Header)
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		if hasHeader || hasChain || other != "" {
			// A direct TLS client has no business sending these fields; it
			// is trying its luck. Refuse rather than pick one.
			m.refuse(r, remote, "client-cert-from-tls-client", errors.New("Client-Cert field on a connection with its own client certificate"))
			return nil, http.StatusForbidden
		}
		if id, ok := danetls.IdentityFromRequest(r); ok {
			// Verified inside the handshake (danetls.ServerConfig).
			return id, 0
		}
		// A server that asks for client certificates by other means: the
		// core verifies now (its verdict cache makes repeats cheap).
		return m.verify(r, remote, r.TLS.PeerCertificates, SourceTLS)
	}
	if !hasHeader && !hasChain && other == "" {
		m.refuse(r, remote, "no-credential", errors.New("no client certificate and no Client-Cert field"))
		return nil, http.StatusUnauthorized
	}
	if !m.isTrusted(remote) {
		m.refuse(r, remote, "untrusted-proxy", fmt.Errorf("Client-Cert field from %v, not a trusted proxy", remote))
		return nil, http.StatusForbidden
	}
	if other != "" {
		// A field that CGI-style code reads as Client-Cert, beside or
		// instead of the one the proxy set: the proxy did not strip what
		// its client sent (RFC 9440 §2), and nothing says which is whose.
		m.refuse(r, remote, "bad-header", fmt.Errorf("field %q is another spelling of %s or %s", other, ClientCertHeader, ClientCertChainHeader))
		return nil, http.StatusForbidden
	}
	chain, err := ParseClientCert(r.Header)
	if err != nil {
		m.refuse(r, remote, "bad-header", err)
		return nil, http.StatusForbidden
	}
	return m.verify(r, remote, chain, SourceHeader)
}

// otherSpelling returns the name of a field of h that is the same field as
// Client-Cert or Client-Cert-Chain for some receiver (SameFieldName) but
// not spelled as net/http spells those: "Client_Cert", say. "" if none.
func otherSpelling(h http.Header) string {
	for k := range h {
		if k == ClientCertHeader || k == ClientCertChainHeader {
			continue
		}
		if SameFieldName(k, ClientCertHeader) || SameFieldName(k, ClientCertChainHeader) {
			return k
		}
	}
	return ""
}

func (m *Middleware) verify(r *http.Request, remote netip.Addr, chain []*x509.Certificate, src Source) (*verify.Identity, int) {
	id, err := verify.VerifyChain(r.Context(), m.v, chain)
	if err != nil {
		m.refuse(r, remote, verify.ReasonOf(err).String(), err)
		return nil, http.StatusForbidden
	}
	m.log.Debug("httpauth: authenticated", "remote", remote, "name", id.Name, "kind", id.Kind, "subject", id.Subject(), "source", src.String())
	return id, 0
}

func (m *Middleware) refuse(r *http.Request, remote netip.Addr, reason string, err error) {
	m.log.Info("httpauth: refused", "remote", remote, "method", r.Method, "path", r.URL.Path, "reason", reason, "err", err)
}

func (m *Middleware) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range m.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remoteAddr is the address of the TCP peer; invalid if RemoteAddr does
// not parse (then nothing is trusted).
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, herr := net.SplitHostPort(r.RemoteAddr)
		if herr != nil {
			return netip.Addr{}
		}
		a, _ := netip.ParseAddr(host)
		return a.Unmap().WithZone("")
	}
	return ap.Addr().Unmap().WithZone("")
}

// String returns "tls" or "header".
func (s Source) String() string {
	switch s {
	case SourceTLS:
		return "tls"
	case SourceHeader:
		return "header"
	}
	return fmt.Sprintf("Source(%d)", int(s))
}
