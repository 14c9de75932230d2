package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// XoTAuthenticator authenticates the certificate chain an XoT client
// presented (leaf first) and returns the authenticated name; its error's
// text is the reason logged for the refusal. The zone server does no TLSA
// lookup or matching of its own: zone/serve builds this from the
// verification core (package verify).
type XoTAuthenticator func(ctx context.Context, chain []*x509.Certificate) (string, error)

// XoTAuth says what a zone transfer over the XoT listener
// (Listeners.XoT) needs besides TLS 1.3. The XoT listener checks no
// address list (Config.TransferFrom is for TCP and the DNS-over-TLS
// listener): its secondaries are known by their credentials.
type XoTAuth uint8

const (
	// XoTDANE (the zero value) admits every secondary whose handshake
	// completed: the listener's TLS (danetls.ServerConfig, or zone/serve's
	// tls13 engine, each with a verification core and an allow-list of
	// secondaries' names) requires a client certificate and authenticates
	// it by DANE, so an
	// unauthenticated client never gets past the handshake. A connection
	// without a client certificate is refused all the same.
	XoTDANE XoTAuth = iota
	// XoTTSIG admits a transfer signed with one of Config.TransferKeys;
	// no client certificate is asked for.
	XoTTSIG
	// XoTBoth needs both: a DANE-authenticated client certificate and a
	// request signed with a transfer key.
	XoTBoth
)

var xotAuthNames = [...]string{XoTDANE: "dane", XoTTSIG: "tsig", XoTBoth: "both"}

func (a XoTAuth) String() string {
	if int(a) < len(xotAuthNames) {
		return xotAuthNames[a]
	}
	return fmt.Sprintf("XoTAuth(%d)", uint8(a))
}

// NeedsDANE reports whether a needs a DANE-authenticated client.
func (a XoTAuth) NeedsDANE() bool { return a == XoTDANE || a == XoTBoth }

// NeedsTSIG reports whether a needs a request signed with a transfer key.
func (a XoTAuth) NeedsTSIG() bool { return a == XoTTSIG || a == XoTBoth }

// ParseXoTAuth parses "dane", "tsig" or "both".
func ParseXoTAuth(s string) (XoTAuth, error) {
	for i, n := range xotAuthNames {
		if s == n {
			return XoTAuth(i), nil
		}
	}
	return 0, fmt.Errorf("server: XoT auth %q: want dane, tsig or both", s)
}

// xotVerifyTimeout bounds the check of a secondary's identity before a
// transfer (a verdict the core has cached costs no lookup).
const xotVerifyTimeout = 10 * time.Second

// ErrXoTVersion refuses an XoT listener whose configuration allows TLS
// older than 1.3 (RFC 9103 §5.1).
var ErrXoTVersion = errors.New("server: an XoT listener needs TLS 1.3 as its minimum version (RFC 9103 §5.1)")

// ListenXoT binds the XoT listener on addr with cfg, which must have
// MinVersion tls.VersionTLS13 (RFC 9103 §5.1) and, for the DANE modes,
// authenticate clients (danetls.ServerConfig). Set cfg's NextProtos to
// ALPN (RFC 9103 §7.1) before wrapping it: a configuration from
// danetls.ServerConfig makes each handshake's settings from the
// configuration it was given, so they are not changed here.
func ListenXoT(addr string, cfg *tls.Config) (net.Listener, error) {
	if cfg.MinVersion < tls.VersionTLS13 {
		return nil, ErrXoTVersion
	}
	l, err := tls.Listen("tcp", addr, cfg)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return l, nil
}

// ALPN is the ALPN protocol of DNS over TLS, which XoT uses too (RFC 9103
// §7.1).
const ALPN = alpnDoT

// xotHandler serves the XoT listener: transfers under Config.XoTAuth,
// every other request as on the other listeners.
type xotHandler struct{ s *Server }

func (h xotHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s := h.s
	if isTransfer(r) && w.TsigStatus() == nil && (r.IsTsig() == nil || s.provider.Key(r.IsTsig().Hdr.Name) != nil && s.inWindow(r.IsTsig(), time.Now())) {
		s.transferVia(w, r, true)
		return
	}
	// Queries (a secondary's SOA check), and requests with a TSIG the
	// server refuses, get what the other listeners answer.
	s.ServeDNS(w, r)
}

// xotAllowed checks a transfer request that came over the XoT listener
// and returns why it is refused, or "" and the name of the
// DANE-authenticated secondary ("" in mode tsig).
func (s *Server) xotAllowed(w dns.ResponseWriter, r *dns.Msg) (who, why string) {
	var state *tls.ConnectionState
	if cs, ok := w.(dns.ConnectionStater); ok {
		state = cs.ConnectionState()
	}
	if state == nil || state.Version < tls.VersionTLS13 {
		return "", "zone transfer over TLS older than 1.3"
	}
	mode := s.cfg.XoTAuth
	if mode.NeedsDANE() {
		// The handshake authenticated the certificate (the listener's
		// configuration); without one there is no one to admit.
		if len(state.PeerCertificates) == 0 {
			return "", "no client certificate"
		}
		if names := state.PeerCertificates[0].DNSNames; len(names) == 1 {
			who = names[0] // for the log until authenticated below
		}
		if auth := s.cfg.XoTAuthenticate; auth != nil {
			// Again for each transfer: a connection outlives the
			// verdict of its handshake (cached at most for the TTL of
			// the record), and a revoked secondary must not go on
			// transferring over a connection it opened before.
			ctx, cancel := context.WithTimeout(context.Background(), xotVerifyTimeout)
			name, err := auth(ctx, state.PeerCertificates)
			cancel()
			if err != nil {
				return who, "identity no longer authenticated: " + err.Error()
			}
			who = name
		}
	}
	if mode.NeedsTSIG() {
		xfr := s.keys.Load().xfr
		t := r.IsTsig()
		if t == nil {
			return who, "not signed with a transfer key"
		}
		if !xfr[dns.CanonicalName(t.Hdr.Name)] {
			return who, "signed with a key that may not transfer"
		}
	}
	return who, ""
}
