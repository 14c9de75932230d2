package dotgate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/internal/connserve"
	"github.com/dnsbound/dance/internal/logthrottle"
	"github.com/dnsbound/dance/verify"
)

// Defaults of Config.
const (
	// DefaultMaxConns caps the client connections open at once.
	DefaultMaxConns = 256
	// DefaultHandshakeTimeout bounds a TLS handshake, the verifier's DNS
	// lookups included.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a connection on which no whole query
	// arrives for this long. RFC 7766 §6.2.3 asks servers to close idle
	// connections and RFC 7858 §3.4 to keep DNS-over-TLS connections open
	// for some seconds of idleness; 10s lets a stub reuse its connection
	// for a burst of lookups without holding a slot for ever.
	DefaultIdleTimeout = 10 * time.Second
	// DefaultMaxQueries is the most queries a connection carries before
	// the gate closes it after answering, so that one client cannot keep
	// a connection (and a policy verdict made at its handshake) for ever.
	DefaultMaxQueries = 1000
	// DefaultMaxQuerySize is the largest query taken, in octets. Queries
	// are a header, one question and an OPT record: far below this. A
	// longer length prefix (RFC 7766 §8: two octets, up to 65535) closes
	// the connection before any of the message is read.
	DefaultMaxQuerySize = 4096
	// DefaultUpstreamTimeout bounds one exchange with the upstream.
	DefaultUpstreamTimeout = 5 * time.Second
	// DefaultMaxInFlight is the most queries of one client connection
	// waiting for the upstream at once (RFC 7766 §6.2.1.1 pipelining).
	// Past it the gate reads no more from that connection until an
	// answer goes out: the client's own writes then wait, not the gate.
	DefaultMaxInFlight = 32
	// DefaultUpstreamConns is the size of the pool of persistent
	// connections to the upstream, each carrying many queries at once.
	DefaultUpstreamConns = 4
	// DefaultUpstreamMaxInFlight is the most queries waiting for the
	// upstream at once, all clients together; a query that finds no room
	// before its UpstreamTimeout gets SERVFAIL.
	DefaultUpstreamMaxInFlight = 512
)

// Config configures a Server. TLS, Verifier, Policy and Upstream are
// required; zero limits take the defaults above.
type Config struct {
	// TLS holds the gate's own certificate (Certificates or
	// GetCertificate). The gate wraps it with danetls.ServerConfig: every
	// client presents a certificate that Verifier authenticates.
	TLS *tls.Config
	// Verifier authenticates client certificates (a *verify.Core whose
	// allow-list is Policy.AllowList()).
	Verifier verify.Verifier
	// Policy is the allow-list of identities and their rules; replace it
	// at run time with SetPolicy.
	Policy *Policy
	// Upstream is the resolver queries go to, host:port, over TCP.
	Upstream string
	// UpstreamTLS, when set, makes the connections to Upstream DNS over
	// TLS (RFC 7858) with this configuration (its ServerName, RootCAs).
	UpstreamTLS *tls.Config

	// Limits; zero takes the Default of the same name. MaxConns: client
	// connections at once. HandshakeTimeout: a handshake and its lookups.
	// IdleTimeout: a connection with no query in flight and none arriving
	// for this long is closed (RFC 7766 §6.2.3); also the time a client
	// has to finish sending a query begun, or to take an answer.
	// MaxQueries: queries per connection. MaxQuerySize: octets of one
	// query. MaxInFlight: queries of one connection waiting for the
	// upstream.
	MaxConns         int
	HandshakeTimeout time.Duration
	IdleTimeout      time.Duration
	MaxQueries       int
	MaxQuerySize     int
	MaxInFlight      int

	// The upstream; zero takes the Default of the same name.
	// UpstreamTimeout: one query's wait for room and for its answer.
	// UpstreamConns: persistent connections in the pool.
	// UpstreamMaxInFlight: queries waiting for the upstream at once, all
	// clients together (at most 32768).
	UpstreamTimeout     time.Duration
	UpstreamConns       int
	UpstreamMaxInFlight int

	// Logger gets one line per refused client; nil discards.
	Logger *slog.Logger
	// Registerer gets the metrics (dance_dotgate_*); nil registers none.
	Registerer prometheus.Registerer
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("dotgate: server closed")

// Server is a DNS-over-TLS front (RFC 7858) that admits DANE-authenticated
// clients and forwards their queries to an upstream resolver under each
// client's Rule. Make one with New and run it with Serve.
type Server struct {
	cfg    Config
	tls    *tls.Config
	policy atomic.Pointer[Policy]
	limit  limiter // its clock is the gate's: for the rate and for verdict expiry
	m      *metrics
	log    *slog.Logger
	up     *upstream
	names  *logthrottle.Throttle[string] // refusals of authenticated names, at most one line a minute each
	ctx    context.Context
	cancel context.CancelFunc
	conns  *connserve.Group
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.TLS == nil || (len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil):
		return nil, errors.New("dotgate: Config.TLS needs the gate's certificate")
	case cfg.Verifier == nil:
		return nil, errors.New("dotgate: Config.Verifier is required")
	case cfg.Policy == nil:
		return nil, errors.New("dotgate: Config.Policy is required")
	case cfg.Upstream == "":
		return nil, errors.New("dotgate: Config.Upstream is required")
	}
	if _, _, err := net.SplitHostPort(cfg.Upstream); err != nil {
		return nil, fmt.Errorf("dotgate: upstream %q: want host:port", cfg.Upstream)
	}
	if cfg.MaxConns < 0 || cfg.HandshakeTimeout < 0 || cfg.IdleTimeout < 0 || cfg.MaxQueries < 0 || cfg.MaxQuerySize < 0 || cfg.UpstreamTimeout < 0 ||
		cfg.MaxInFlight < 0 || cfg.UpstreamConns < 0 || cfg.UpstreamMaxInFlight < 0 {
		return nil, errors.New("dotgate: negative limit in Config")
	}
	if cfg.MaxQuerySize > dns.MaxMsgSize {
		return nil, fmt.Errorf("dotgate: MaxQuerySize %d is over %d", cfg.MaxQuerySize, dns.MaxMsgSize)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MaxConns, DefaultMaxConns)
	def(&cfg.MaxQueries, DefaultMaxQueries)
	def(&cfg.MaxQuerySize, DefaultMaxQuerySize)
	def(&cfg.MaxInFlight, DefaultMaxInFlight)
	def(&cfg.UpstreamConns, DefaultUpstreamConns)
	def(&cfg.UpstreamMaxInFlight, DefaultUpstreamMaxInFlight)
	if cfg.UpstreamMaxInFlight > MaxUpstreamInFlight {
		return nil, fmt.Errorf("dotgate: UpstreamMaxInFlight %d is over %d", cfg.UpstreamMaxInFlight, MaxUpstreamInFlight)
	}
	defd(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	defd(&cfg.IdleTimeout, DefaultIdleTimeout)
	defd(&cfg.UpstreamTimeout, DefaultUpstreamTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	base := cfg.TLS.Clone()
	base.MinVersion = max(base.MinVersion, tls.VersionTLS12)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, tls: danetls.ServerConfig(base, cfg.Verifier), m: m, log: cfg.Logger,
		limit: limiter{now: time.Now, buckets: map[string]*bucket{}},
		up:    newUpstream(cfg.Upstream, cfg.UpstreamTLS, cfg.UpstreamConns, cfg.UpstreamMaxInFlight, cfg.UpstreamTimeout, m),
		ctx:   ctx, cancel: cancel, conns: connserve.New(ErrServerClosed),
		names: logthrottle.New[string](verify.RefusalLogInterval, maxLoggedNames),
	}
	s.policy.Store(cfg.Policy)
	return s, nil
}

// SetPolicy replaces the policy for the queries that follow, on open
// connections too. The verifier's allow-list is the caller's to replace
// (verify.Core.SetAllowList with p.AllowList()).
func (s *Server) SetPolicy(p *Policy) {
	if p != nil {
		s.policy.Store(p)
	}
}

// Serve accepts clients on ln (a TCP listener: the gate does TLS) until
// Close, and returns ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	return s.conns.Serve(ln, s.cfg.MaxConns, s.log.With("component", "dotgate"), func(c net.Conn) {
		s.m.accepted.Inc()
		s.m.active.Inc()
		defer s.m.active.Dec()
		s.serveConn(c)
	})
}

// Close stops the listeners, closes every connection and waits for their
// goroutines.
func (s *Server) Close() error {
	s.conns.Close()
	s.cancel()
	s.conns.Wait()
	s.up.close()
	return nil
}
