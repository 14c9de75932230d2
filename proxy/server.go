package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnsbound/dance/httpauth"
	"github.com/dnsbound/dance/internal/logtext"
	"github.com/dnsbound/dance/proxy/proxyproto"
	"github.com/dnsbound/dance/verify"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("proxy: server closed")

// Server is a TLS-terminating proxy. Create it with New, run it with Serve
// on one or more listeners, stop it with Shutdown.
type Server struct {
	cfg     Config
	backend *url.URL // HTTP modes
	tlsConf *tls.Config
	log     *slog.Logger
	metrics *metrics
	sem     chan struct{}

	httpSrv *http.Server // HTTP modes
	// stripFields are the request fields a client must not send: the
	// identity fields and RFC 9440's (HTTP modes).
	stripFields []string

	mu        sync.Mutex
	listeners map[*handshakeListener]struct{}
	conns     map[net.Conn]struct{} // ModeTCP: established connections
	closed    atomic.Bool
	tcpWG     sync.WaitGroup

	// Connections taken over by an HTTP upgrade (WebSocket): net/http
	// forgets them, the proxy drains them at Shutdown like TCP ones. Own
	// lock: a connection leaves the map from its Close, which closeConns
	// may call with mu held.
	hijackMu sync.Mutex
	hijacked map[*limitedConn]struct{}
	hijackWG sync.WaitGroup
	renewals sync.Map // *limitedConn -> *renewal, ModeHTTP connections

	// ctx is the parent of every connection's context (limitedConn.ctx),
	// under which the identity of a long-lived connection is renewed: it
	// ends, with ErrServerClosed as its cause, at Close and when Shutdown
	// cuts the connections left, so that no DNS work outlives the server.
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// New checks cfg, fills in defaults and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.TLS == nil || len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil {
		return nil, errors.New("proxy: Config.TLS must hold the proxy's certificate")
	}
	if cfg.TLS.GetConfigForClient != nil {
		// The configuration it returns would replace the proxy's, client
		// authentication included.
		return nil, errors.New("proxy: Config.TLS.GetConfigForClient is not supported; use GetCertificate")
	}
	if cfg.Engine != EngineCryptoTLS && cfg.Engine != EngineDance {
		return nil, fmt.Errorf("proxy: unknown engine %v", cfg.Engine)
	}
	if cfg.Engine == EngineDance && cfg.Mode == ModePassthrough {
		return nil, errors.New("proxy: engine dance serves modes http and tcp, not passthrough")
	}
	if cfg.RequireClientID && cfg.Engine != EngineDance {
		return nil, errors.New("proxy: RequireClientID needs engine dance (crypto/tls cannot read dane_clientid)")
	}
	if cfg.Verifier == nil && cfg.Mode != ModePassthrough {
		return nil, fmt.Errorf("proxy: mode %v needs Config.Verifier", cfg.Mode)
	}
	if cfg.NameHeader == "" {
		cfg.NameHeader = DefaultNameHeader
	}
	if cfg.KindHeader == "" {
		cfg.KindHeader = DefaultKindHeader
	}
	if !validFieldName(cfg.NameHeader) || !validFieldName(cfg.KindHeader) {
		return nil, fmt.Errorf("proxy: header names %q and %q must be HTTP field names", cfg.NameHeader, cfg.KindHeader)
	}
	if err := distinctFields(cfg.NameHeader, cfg.KindHeader); err != nil {
		return nil, err
	}
	if cfg.TLVType == 0 {
		cfg.TLVType = DefaultTLVType
	}
	if cfg.TLVType < proxyproto.TypeMinCustom || cfg.TLVType > proxyproto.TypeMaxCustom {
		return nil, fmt.Errorf("proxy: TLV type 0x%02X is outside the custom range 0xE0-0xEF", cfg.TLVType)
	}
	if cfg.HandshakeTimeout < 0 || cfg.HeaderTimeout < 0 || cfg.IdleTimeout < 0 || cfg.DialTimeout < 0 || cfg.BackendTimeout < 0 || cfg.MaxConns < 0 ||
		cfg.BodyTimeout < 0 || cfg.SendTimeout < 0 || cfg.MaxBodyBytes < 0 {
		return nil, errors.New("proxy: negative limit in Config")
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.HeaderTimeout == 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.BackendTimeout == 0 {
		cfg.BackendTimeout = DefaultBackendTimeout
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	s := &Server{cfg: cfg, log: cfg.Logger, sem: make(chan struct{}, cfg.MaxConns),
		listeners: map[*handshakeListener]struct{}{}, conns: map[net.Conn]struct{}{}, hijacked: map[*limitedConn]struct{}{}}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Time == nil {
		s.cfg.Time = time.Now
	}
	m, err := newMetrics(cfg.Registerer, cfg.Mode)
	if err != nil {
		return nil, fmt.Errorf("proxy: metrics: %w", err)
	}
	s.metrics = m
	switch cfg.Mode {
	case ModeHTTP, ModePassthrough:
		u, err := url.Parse(cfg.Backend)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("proxy: backend %q is not an http:// or https:// URL", cfg.Backend)
		}
		s.backend = u
	case ModeTCP:
		_, port, err := net.SplitHostPort(cfg.Backend)
		if n, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil || n == 0 {
			return nil, fmt.Errorf("proxy: backend %q is not a host:port", cfg.Backend)
		}
	default:
		return nil, fmt.Errorf("proxy: unknown mode %v", cfg.Mode)
	}
	tc, err := s.serverTLS()
	if err != nil {
		return nil, err
	}
	s.tlsConf = tc
	if cfg.Mode != ModeTCP {
		s.stripFields = []string{cfg.NameHeader, cfg.KindHeader, httpauth.ClientCertHeader, httpauth.ClientCertChainHeader}
		s.httpSrv = s.newHTTPServer()
	}
	return s, nil
}

// Serve accepts connections on ln (plain TCP: the proxy does TLS) until
// Shutdown or Close, and returns ErrServerClosed then, or the listener's
// error.
func (s *Server) Serve(ln net.Listener) error {
	if s.closed.Load() {
		ln.Close()
		return ErrServerClosed
	}
	hl := newHandshakeListener(s, ln)
	s.mu.Lock()
	s.listeners[hl] = struct{}{}
	s.mu.Unlock()
	defer func() {
		hl.Close()
		hl.wait()
		s.mu.Lock()
		delete(s.listeners, hl)
		s.mu.Unlock()
	}()
	var err error
	if s.httpSrv != nil {
		err = s.httpSrv.Serve(hl)
	} else {
		err = s.serveTCP(hl)
	}
	if s.closed.Load() || errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting connections, aborts handshakes in progress and
// waits for established connections to finish (idle HTTP connections are
// closed at once) until ctx ends; then it closes the rest, ends the
// lookups renewing their identities, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closed.Store(true)
	// Nothing is left running under s.ctx once Shutdown returns.
	defer s.cancel(ErrServerClosed)
	s.closeListeners()
	if s.httpSrv != nil {
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			s.cancel(ErrServerClosed)
			s.httpSrv.Close()
			s.closeHijacked()
			return err
		}
		return s.drain(ctx, &s.hijackWG, s.closeHijacked)
	}
	return s.drain(ctx, &s.tcpWG, s.closeConns)
}

// drain waits for wg until ctx ends, then cuts with cut.
func (s *Server) drain(ctx context.Context, wg *sync.WaitGroup, cut func()) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// Renewals in progress end too: the connections they would
		// let through are cut.
		s.cancel(ErrServerClosed)
		cut()
		<-done
		return ctx.Err()
	}
}

// trackHijacked is the http.Server's ConnState hook: an upgraded
// connection is drained at Shutdown.
func (s *Server) trackHijacked(c net.Conn, st http.ConnState) {
	if st != http.StateHijacked {
		return
	}
	lc, ok := transportOf(c).(*limitedConn)
	if !ok {
		return
	}
	s.hijackMu.Lock()
	defer s.hijackMu.Unlock()
	if lc.closed.Load() {
		return
	}
	s.hijacked[lc] = struct{}{}
	s.hijackWG.Add(1)
	if v, ok := s.renewals.Load(lc); ok {
		go s.watchUpgraded(lc, v.(*renewal))
	}
}

// watchUpgraded renews the identity of an upgraded connection, which no
// longer sends requests through gate, each time its verdict expires, and
// closes the connection when the identity is refused.
func (s *Server) watchUpgraded(lc *limitedConn, rn *renewal) {
	for {
		rn.mu.Lock()
		wait := rn.id.Expires.Sub(s.cfg.Time())
		zero := rn.id.Expires.IsZero()
		rn.mu.Unlock()
		if zero {
			return
		}
		// Never spin: a verdict that expires at once is checked again
		// after a second.
		wait = max(wait, time.Second)
		t := time.NewTimer(wait)
		select {
		case <-lc.done:
			t.Stop()
			return
		case <-t.C:
		}
		// Under the connection's context: a connection closed, or a
		// server closed, while the lookup waits on DNS stops it.
		if _, err := rn.current(lc.ctx); err != nil {
			s.renewalFailed(lc.ctx, "proxy: identity no longer valid; upgraded connection closed", lc.RemoteAddr().String(), err)
			lc.Close()
			return
		}
	}
}

func (s *Server) forgetHijacked(lc *limitedConn) {
	s.hijackMu.Lock()
	defer s.hijackMu.Unlock()
	if _, ok := s.hijacked[lc]; ok {
		delete(s.hijacked, lc)
		s.hijackWG.Done()
	}
}

func (s *Server) closeHijacked() {
	s.hijackMu.Lock()
	var cs []*limitedConn
	for lc := range s.hijacked {
		cs = append(cs, lc)
	}
	s.hijackMu.Unlock()
	for _, lc := range cs {
		lc.Close()
	}
}

// Close stops the server at once, closing every connection.
func (s *Server) Close() error {
	s.closed.Store(true)
	s.cancel(ErrServerClosed)
	s.closeListeners()
	if s.httpSrv != nil {
		err := s.httpSrv.Close()
		s.closeHijacked()
		return err
	}
	s.closeConns()
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		l.Close()
	}
}

func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// validFieldName reports whether s is an HTTP field name (RFC 9110 §5.1:
// a token).
// distinctFields refuses identity field names that a receiver could take
// for one another or for Client-Cert/Client-Cert-Chain: once folded
// (httpauth.SameFieldName: case, "_" for "-"), the proxy would strip its
// own field or set two values a backend reads as one.
func distinctFields(name, kind string) error {
	fields := []string{name, kind, httpauth.ClientCertHeader, httpauth.ClientCertChainHeader}
	for i, a := range fields {
		for _, b := range fields[i+1:] {
			if httpauth.SameFieldName(a, b) {
				return fmt.Errorf("proxy: header names %q and %q name the same field (case and \"_\" for \"-\" do not count)", a, b)
			}
		}
		if i >= 2 {
			continue
		}
		for _, r := range reservedFields {
			if httpauth.SameFieldName(a, r) {
				return fmt.Errorf("proxy: header name %q is %s, which the proxy or HTTP itself sets", a, r)
			}
		}
	}
	return nil
}

// reservedFields are fields an identity field must not be: those the
// proxy sets for the backend (httputil.ProxyRequest.SetXForwarded, the
// Host it keeps), and those HTTP gives a meaning of its own (RFC 9110
// §7.6.1 connection options and hop-by-hop fields, message framing).
var reservedFields = []string{
	"Host", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"TE", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length",
}

func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c != 0 && c < 0x7F && isTokenPunct(c)) {
			return false
		}
	}
	return true
}

func isTokenPunct(c byte) bool {
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// renewal keeps a connection's identity current: once the verdict's
// Expires has passed (the TTL of the TLSA records bounds it), the
// certificate is verified again before more traffic passes, so a revoked
// identity loses its established connections too, not only new ones.
type renewal struct {
	s *Server
	// claimed and presented are what the identity was authenticated
	// from: the dane_clientid name ("" for a name from the certificate)
	// and the chain or raw public key.
	claimed   string
	presented verify.Presented
	mu        sync.Mutex
	id        *verify.Identity
}

// newRenewal returns the renewal of an authenticated connection.
func newRenewal(s *Server, a *peerAuth) *renewal {
	return &renewal{s: s, id: a.id, claimed: a.claimed, presented: a.presented}
}

// current returns the identity, renewed if it had expired, or an error if
// the verifier now refuses it.
func (r *renewal) current(ctx context.Context) (*verify.Identity, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id.Expires.IsZero() || !r.s.cfg.Time().After(r.id.Expires) {
		return r.id, nil
	}
	id, err := verify.VerifyClaimed(ctx, r.s.cfg.Verifier, r.claimed, r.presented)
	if err != nil {
		return nil, err
	}
	r.id = id
	return id, nil
}

// renewalFailed logs why a renewal let no more traffic through: the
// verifier refused the identity (msg, at Info), or the connection or the
// server ended first, ctx with it (at Debug: nothing was learnt about the
// identity).
func (s *Server) renewalFailed(ctx context.Context, msg, remote string, err error) {
	if ctx.Err() != nil {
		s.log.Debug("proxy: identity renewal abandoned; connection or server closed", "remote", remote, "cause", context.Cause(ctx))
		return
	}
	s.log.Info(msg, "remote", remote, "err", logtext.Bound(err.Error(), logtext.MaxText))
}
