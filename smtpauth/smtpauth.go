package smtpauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/dnsbound/dance/internal/logtext"
	"github.com/dnsbound/dance/internal/logthrottle"
	"github.com/dnsbound/dance/verify"
)

// DefaultTimeout bounds one verification when Backend.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Replies given to MAIL by sessions that are not authenticated. They are
// *smtp.SMTPError values: a session may return them, and tests compare codes.
var (
	// ErrStartTLSRequired: RFC 3207 §4 names this reply for a server that
	// requires TLS.
	ErrStartTLSRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	// ErrCertificateRequired: over TLS, but no client certificate (RFC 4954
	// §6 gives 530 5.7.0 for "authentication required").
	ErrCertificateRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required: present a client certificate published in DNS"}
	// ErrNotAuthorized: the certificate was refused (RFC 3463 §3.8 X.7.1).
	ErrNotAuthorized = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Client certificate not authorized to relay"}
	// ErrTemporary: no verdict could be had; the client should retry.
	ErrTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure, try again later"}
)

// ServerTLSConfig returns a copy of base (its certificates) that asks SMTP
// clients for a certificate without checking it against a CA pool: the
// Backend authenticates it by DANE after the handshake. TLS 1.2 is the
// minimum version.
func ServerTLSConfig(base *tls.Config) *tls.Config {
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	cfg.ClientAuth = tls.RequestClientCert
	cfg.ClientCAs = nil
	return cfg
}

// Backend is an smtp.Backend that authenticates client MTAs by their
// certificates. Verifier and Authenticated are required.
type Backend struct {
	// Verifier is the verification core; its allow-list is the list of
	// client MTAs that may relay.
	Verifier verify.Verifier
	// Authenticated makes the session of an authenticated client MTA.
	Authenticated func(c *smtp.Conn, id *verify.Identity) (smtp.Session, error)
	// Timeout bounds one verification; zero means DefaultTimeout.
	Timeout time.Duration
	// Log receives one line per verdict; nil discards them. The refusals
	// of one claimed name (of one address, for a sender without a usable
	// certificate) are logged at most once per verify.RefusalLogInterval,
	// the next line counting those held back ("suppressed"), so that a
	// sender retrying in a loop costs a line a minute; the metrics count
	// every refusal.
	Log *slog.Logger
	// Metrics counts sessions and refusals; nil counts nothing.
	Metrics *Metrics

	logsOnce sync.Once
	logs     *logthrottle.Throttle[string]
}

// maxRefusalLogKeys bounds the names and addresses whose last refusal line
// is remembered.
const maxRefusalLogKeys = 10000

var _ smtp.Backend = (*Backend)(nil)

// NewSession implements smtp.Backend. go-smtp calls it at each EHLO that
// starts a session: before STARTTLS, and again after it.
func (b *Backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if b.Verifier == nil || b.Authenticated == nil {
		return nil, errMisconfigured
	}
	state, ok := c.TLSConnectionState()
	if !ok {
		b.Metrics.session(sessionNoTLS)
		return refused{ErrStartTLSRequired}, nil
	}
	id, name, err := b.authenticate(state)
	log := b.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	remote := c.Conn().RemoteAddr().String()
	if err != nil {
		reply := replyFor(err)
		b.Metrics.refusal(reasonOf(err))
		b.logRefusal(log, remote, c.Hostname(), name, reply, err)
		return refused{reply}, nil
	}
	b.Metrics.session(sessionAuthenticated)
	log.Info("smtp client authenticated", "remote", remote, "ehlo", c.Hostname(), "identity", id.Name)
	return b.Authenticated(c, id)
}

// logRefusal logs a refused session unless a refusal of the same name
// (or, without one, from the same address) was logged within
// verify.RefusalLogInterval.
func (b *Backend) logRefusal(log *slog.Logger, remote, ehlo, name string, reply *smtp.SMTPError, err error) {
	b.logsOnce.Do(func() { b.logs = logthrottle.New[string](verify.RefusalLogInterval, maxRefusalLogKeys) })
	key := "name " + name
	if name == "" {
		host, _, herr := net.SplitHostPort(remote)
		if herr != nil {
			host = remote
		}
		key = "addr " + host
	}
	ok, held := b.logs.Allow(key, time.Now())
	if !ok {
		return
	}
	attrs := []any{"remote", remote, "ehlo", ehlo}
	if name != "" {
		attrs = append(attrs, "name", logtext.Bound(name, logtext.MaxName))
	}
	attrs = append(attrs, "reason", reasonOf(err), "reply", reply.Code, "err", err)
	if held > 0 {
		attrs = append(attrs, "suppressed", held)
	}
	log.Info("smtp client refused", attrs...)
}

// authenticate runs the verification core on the peer's certificate; it
// returns the name the certificate claims too ("" when none).
func (b *Backend) authenticate(state tls.ConnectionState) (*verify.Identity, string, error) {
	if len(state.PeerCertificates) == 0 {
		return nil, "", errNoCertificate
	}
	name, err := verify.ClaimedName(state.PeerCertificates[0])
	if err != nil {
		return nil, "", err
	}
	d := b.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	id, err := b.Verifier.Verify(ctx, name, verify.Presented{Chain: state.PeerCertificates})
	if err != nil {
		return nil, name, err
	}
	if id == nil {
		return nil, name, fmt.Errorf("smtpauth: verifier returned no identity for %s", name)
	}
	return id, name, nil
}

var (
	errNoCertificate = errors.New("smtpauth: no client certificate")
	// errMisconfigured refuses every session of a Backend without its
	// required fields: 451 4.3.5, "system incorrectly configured" (RFC 3463
	// §3.4), so that senders retry rather than bounce.
	errMisconfigured = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 5}, Message: "Relay misconfigured, try again later"}
)

// replyFor maps a refusal to its SMTP reply.
func replyFor(err error) *smtp.SMTPError {
	if errors.Is(err, errNoCertificate) {
		return ErrCertificateRequired
	}
	switch verify.ReasonOf(err) {
	case verify.ReasonOverloaded, verify.ReasonLookupTimeout, verify.ReasonLookupFailed, verify.ReasonDNSIndeterminate:
		return ErrTemporary
	}
	return ErrNotAuthorized
}

func reasonOf(err error) string {
	if errors.Is(err, errNoCertificate) {
		return "no-certificate"
	}
	if r := verify.ReasonOf(err); r != 0 {
		return r.String()
	}
	return "error"
}

// refused is the session of a client that may not send: every command
// that would start or continue a transaction gets the reply.
type refused struct{ reply *smtp.SMTPError }

func (s refused) Reset()        {}
func (s refused) Logout() error { return nil }
func (s refused) Mail(string, *smtp.MailOptions) error {
	return s.reply
}
func (s refused) Rcpt(string, *smtp.RcptOptions) error { return s.reply }
func (s refused) Data(r io.Reader) error {
	_, _ = io.Copy(io.Discard, r)
	return s.reply
}
