package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/dnsbound/dance/httpauth"
	"github.com/dnsbound/dance/verify"
)

type (
	renewalKey  struct{} // the connection's *renewal
	identityKey struct{} // the request's *verify.Identity
)

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
	return &http.Server{
		Handler:           s.gate(rp),
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ErrorLog:          log.New(&slogWriter{s.log}, "", 0),
		ConnState:         s.trackHijacked,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok && s.cfg.Mode == ModeHTTP {
				if id := identityOf(tc); id != nil {
					rn := &renewal{s: s, id: id, chain: tc.ConnectionState().PeerCertificates}
					if lc, ok := tc.NetConn().(*limitedConn); ok {
						s.renewals.Store(lc, rn)
					}
					return context.WithValue(ctx, renewalKey{}, rn)
				}
			}
			return ctx
		},
	}
}

// gate refuses requests that reach the HTTP server without what their mode
// requires: it cannot happen when the handshake did its job, and is checked
// so that a mistake cannot forward an unauthenticated request.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := r.TLS != nil && len(r.TLS.PeerCertificates) > 0
		if s.cfg.Mode == ModeHTTP {
			rn, _ := r.Context().Value(renewalKey{}).(*renewal)
			ok = ok && rn != nil
			if ok {
				id, err := rn.current(r.Context())
				if err != nil {
					// A keep-alive connection outlived its identity.
					s.log.Info("proxy: identity no longer valid; connection closed", "remote", r.RemoteAddr, "err", err)
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
		s.metrics.forwarded.WithLabelValues(s.cfg.Mode.String()).Inc()
		next.ServeHTTP(w, r)
	})
}

// rewrite builds the backend request. Every incoming copy of the identity
// fields and of Client-Cert/Client-Cert-Chain is removed first, whatever
// its case or "_" spelling (RFC 9440 §2: a proxy must sanitize them), then
// the proxy's own are set from the TLS connection.
func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(s.backend)
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
	names := []string{s.cfg.NameHeader, s.cfg.KindHeader, httpauth.ClientCertHeader, httpauth.ClientCertChainHeader}
	httpauth.DelFields(pr.Out.Header, names...)
	httpauth.DelFields(pr.Out.Trailer, names...)
	chain := pr.In.TLS.PeerCertificates
	if s.cfg.Mode == ModeHTTP {
		id := pr.In.Context().Value(identityKey{}).(*verify.Identity)
		pr.Out.Header.Set(s.cfg.NameHeader, id.Subject())
		pr.Out.Header.Set(s.cfg.KindHeader, id.Kind.String())
	}
	httpauth.SetClientCert(pr.Out.Header, chain)
}

func (s *Server) backendError(w http.ResponseWriter, r *http.Request, err error) {
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
