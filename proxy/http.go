package proxy

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"

	"github.com/dnsbound/dance/httpauth"
	"github.com/dnsbound/dance/internal/httplimit"
	"github.com/dnsbound/dance/verify"
)

type (
	connKey     struct{} // the connection's *httpConn
	identityKey struct{} // the request's *verify.Identity
)

// httpConn is the proxy's state for one client connection in the HTTP
// modes. net/http hands every request of a connection the same TLS state,
// so the first request sets it up once for all: the identity the handshake
// authenticated and the Client-Cert fields, encoded.
type httpConn struct {
	c net.Conn // the client connection, of either engine
	// mu guards ready; setup's writes happen before ready is set, under
	// mu, so every request that took mu after it reads them as they are.
	// (A mutex rather than sync.Once: Once.Do's closure would cost an
	// allocation per connection.)
	mu    sync.Mutex
	ready bool
	// authenticated says rn holds the identity the handshake
	// authenticated (ModeHTTP).
	authenticated bool
	rn            *renewal
	// credential says the client presented a certificate or a raw key.
	credential bool
	// clientCert and clientCertChain are the values of the RFC 9440
	// fields for the client's chain; clientCertChain is empty for a lone
	// certificate.
	clientCert, clientCertChain string
}

// setup fills in c from the TLS state of its first request.
func (c *httpConn) setup(s *Server, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready {
		return
	}
	c.ready = true
	in := infoOf(c.c)
	if len(in.chain) > 0 {
		c.clientCert, c.clientCertChain = httpauth.ClientCertValues(in.chain)
	}
	c.credential = len(in.chain) > 0 || in.auth != nil && len(in.auth.presented.RawPublicKey) > 0
	if s.cfg.Mode != ModeHTTP || in.auth == nil {
		return
	}
	c.authenticated = true
	c.rn = newRenewal(s, in.auth)
	if lc, ok := transportOf(c.c).(*limitedConn); ok {
		s.renewals.Store(lc, c.rn)
		// The connection may have closed before the entry was made;
		// its Close removes entries only after it marks it closed.
		if lc.closed.Load() {
			s.renewals.Delete(lc)
		}
	}
}

func (s *Server) newHTTPServer() *http.Server {
	d := &net.Dialer{Timeout: s.cfg.DialTimeout}
	tr := &http.Transport{
		Proxy:                 nil, // never through an environment proxy
		DialContext:           d.DialContext,
		TLSClientConfig:       s.cfg.BackendTLS,
		TLSHandshakeTimeout:   s.cfg.DialTimeout,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       s.cfg.IdleTimeout,
		ResponseHeaderTimeout: s.cfg.BackendTimeout,
		ForceAttemptHTTP2:     s.backend.Scheme == "https",
	}
	rp := &httputil.ReverseProxy{
		Rewrite:      s.rewrite,
		Transport:    tr,
		ErrorHandler: s.backendError,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	// Deadlines that follow each request's progress: streams may run as
	// long as they move (uploads, downloads, long polls), a client that
	// stops sending or reading is cut.
	bodyTO, sendTO := s.cfg.BodyTimeout, s.cfg.SendTimeout
	if bodyTO == 0 {
		bodyTO = DefaultBodyTimeout
	}
	if sendTO == 0 {
		sendTO = DefaultSendTimeout
	}
	return &http.Server{
		Handler:           httplimit.ProgressHandler(s.limitBody(s.gate(rp)), bodyTO, sendTO),
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ErrorLog:          log.New(&slogWriter{s.log}, "", 0),
		ConnState:         s.trackHijacked,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if _, ok := transportOf(c).(*limitedConn); !ok {
				return ctx
			}
			// The requests' contexts end with the connection and the
			// server too: net/http does not watch a connection while a
			// request's body is pending, and a renewal in gate, or the
			// backend's request, would outlive it.
			ctx, cancel := context.WithCancelCause(ctx)
			lctx := s.connContext(c)
			context.AfterFunc(lctx, func() { cancel(context.Cause(lctx)) })
			return context.WithValue(ctx, connKey{}, &httpConn{c: c})
		},
	}
}

// limitBody caps request bodies at Config.MaxBodyBytes (0: no cap).
func (s *Server) limitBody(next http.Handler) http.Handler {
	if s.cfg.MaxBodyBytes == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r = r.WithContext(r.Context()) // a shallow copy, for its Body
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// gate refuses requests that reach the HTTP server without what their mode
// requires: it cannot happen when the handshake did its job, and is checked
// so that a mistake cannot forward an unauthenticated request.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hc, _ := r.Context().Value(connKey{}).(*httpConn)
		ok := hc != nil
		if ok {
			hc.setup(s, r)
			ok = hc.credential
		}
		if s.cfg.Mode == ModeHTTP {
			ok = ok && hc.authenticated
			if ok {
				id, err := hc.rn.current(r.Context())
				if err != nil {
					// A keep-alive connection outlived its identity.
					s.renewalFailed(r.Context(), "proxy: identity no longer valid; connection closed", r.RemoteAddr, err)
					w.Header().Set("Connection", "close")
					http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
					return
				}
				r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
			}
		}
		if !ok {
			s.log.Error("proxy: request without an authenticated client reached the forwarder; refused", "remote", r.RemoteAddr)
			http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
			return
		}
		s.metrics.forwardedMode.Inc()
		next.ServeHTTP(w, r)
	})
}

// rewrite builds the backend request. Every incoming copy of the identity
// fields and of Client-Cert/Client-Cert-Chain is removed first, whatever
// its case or "_" spelling (RFC 9440 §2: a proxy must sanitize them), then
// the proxy's own are set from the TLS connection (RFC 9440 §2.2, §2.3:
// the leaf in Client-Cert, the rest of the chain in Client-Cert-Chain).
func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(s.backend)
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
	if pr.In.TLS == nil {
		// EngineDance: net/http sees no *tls.Conn and would say
		// "http"; the client's connection was TLS all the same.
		pr.Out.Header.Set("X-Forwarded-Proto", "https")
	}
	httpauth.DelFields(pr.Out.Header, s.stripFields...)
	httpauth.DelFields(pr.Out.Trailer, s.stripFields...)
	if s.cfg.Mode == ModeHTTP {
		id := pr.In.Context().Value(identityKey{}).(*verify.Identity)
		pr.Out.Header.Set(s.cfg.NameHeader, id.Subject())
		pr.Out.Header.Set(s.cfg.KindHeader, id.Kind.String())
	}
	// gate set the connection up before forwarding anything.
	hc := pr.In.Context().Value(connKey{}).(*httpConn)
	if hc.clientCert != "" {
		// Not for a raw public key: Client-Cert carries certificates.
		pr.Out.Header.Set(httpauth.ClientCertHeader, hc.clientCert)
	}
	if hc.clientCertChain != "" {
		pr.Out.Header.Set(httpauth.ClientCertChainHeader, hc.clientCertChain)
	}
}

func (s *Server) backendError(w http.ResponseWriter, r *http.Request, err error) {
	// The client's fault, not the backend's: a body over MaxBodyBytes, or
	// one that stopped coming for BodyTimeout.
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		s.log.Info("proxy: request body over the limit; refused", "remote", r.RemoteAddr, "limit", s.cfg.MaxBodyBytes)
		http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
		return
	}
	if errors.Is(err, httplimit.ErrBodyStalled) {
		s.log.Info("proxy: request body stalled; connection cut", "remote", r.RemoteAddr, "err", err)
		w.Header().Set("Connection", "close")
		http.Error(w, http.StatusText(http.StatusRequestTimeout), http.StatusRequestTimeout)
		return
	}
	s.metrics.backendErrors.Inc()
	status := http.StatusBadGateway
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		status = http.StatusGatewayTimeout
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nothing to tell it.
		s.log.Debug("proxy: client gone before the backend answered", "remote", r.RemoteAddr, "err", err)
		return
	}
	s.log.Warn("proxy: backend failed", "remote", r.RemoteAddr, "backend", s.backend.Redacted(), "err", err)
	http.Error(w, http.StatusText(status), status)
}

// slogWriter turns net/http's log lines into log records.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	w.log.Info("proxy: http: " + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
