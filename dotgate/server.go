package dotgate

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/internal/connlimit"
	"github.com/dnsbound/dance/internal/logtext"
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

	MaxConns         int
	HandshakeTimeout time.Duration
	IdleTimeout      time.Duration
	MaxQueries       int
	MaxQuerySize     int
	UpstreamTimeout  time.Duration

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
	client *dns.Client
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	lns    map[net.Listener]bool
	conns  map[net.Conn]bool
	closed bool
	wg     sync.WaitGroup
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
	if cfg.MaxConns < 0 || cfg.HandshakeTimeout < 0 || cfg.IdleTimeout < 0 || cfg.MaxQueries < 0 || cfg.MaxQuerySize < 0 || cfg.UpstreamTimeout < 0 {
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
		limit:  limiter{now: time.Now, buckets: map[string]*bucket{}},
		client: &dns.Client{Net: "tcp", Timeout: cfg.UpstreamTimeout},
		ctx:    ctx, cancel: cancel,
		lns: map[net.Listener]bool{}, conns: map[net.Conn]bool{},
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
	capped := connlimit.New(ln, s.cfg.MaxConns, s.log.With("component", "dotgate"))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns[capped] = true
	s.mu.Unlock()
	var delay time.Duration
	for {
		c, err := capped.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if !s.track(c) {
			c.Close()
			return ErrServerClosed
		}
		s.m.accepted.Inc()
		s.m.active.Inc()
		go func() {
			defer s.wg.Done()
			defer s.m.active.Dec()
			defer s.untrack(c)
			s.serveConn(c)
		}()
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = true
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Close stops the listeners, closes every connection and waits for their
// goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// serveConn authenticates one client and answers its queries in order.
func (s *Server) serveConn(c net.Conn) {
	tc := tls.Server(c, s.tls)
	defer tc.Close()
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HandshakeTimeout)
	_ = c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		result := handshakeFailed
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			result = handshakeTimeout
		}
		s.m.handshakes.WithLabelValues(result).Inc()
		s.log.Info("dotgate: client refused", "addr", c.RemoteAddr().String(), "stage", "tls", "reason", result, "err", logtext.Bound(err.Error(), logtext.MaxText))
		return
	}
	id, ok := danetls.IdentityFromConn(tc)
	if !ok {
		s.m.handshakes.WithLabelValues(handshakeFailed).Inc()
		s.log.Info("dotgate: client refused", "addr", c.RemoteAddr().String(), "stage", "tls", "reason", "no identity")
		return
	}
	subject := id.Subject()
	if s.policy.Load().Rule(subject) == nil {
		s.m.handshakes.WithLabelValues(handshakeNoRule).Inc()
		s.log.Info("dotgate: client refused", "addr", c.RemoteAddr().String(), "stage", "policy", "identity", logtext.Bound(subject, logtext.MaxName), "reason", "not in the policy")
		return
	}
	s.m.handshakes.WithLabelValues(handshakeOK).Inc()
	var prefix [2]byte
	for n := 0; n < s.cfg.MaxQueries; n++ {
		// The whole query, length prefix and message, must arrive within
		// IdleTimeout: a client that trickles it in is cut like an idle one.
		_ = c.SetDeadline(time.Now().Add(s.cfg.IdleTimeout))
		if _, err := io.ReadFull(tc, prefix[:]); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.m.closed.WithLabelValues(closeIdle).Inc()
			}
			return
		}
		size := int(binary.BigEndian.Uint16(prefix[:]))
		if size < dnsHeaderLen || size > s.cfg.MaxQuerySize {
			s.m.closed.WithLabelValues(closeOversize).Inc()
			return
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(tc, buf); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.m.closed.WithLabelValues(closeIdle).Inc()
			}
			return
		}
		// The verdict holds until the TLSA answer's TTL (or a certificate
		// of the path) runs out: a revoked client cannot keep being answered on
		// an old connection past that.
		if !s.limit.now().Before(id.Expires) {
			s.m.closed.WithLabelValues(closeExpired).Inc()
			return
		}
		resp := s.answer(subject, buf)
		if resp == nil {
			s.m.closed.WithLabelValues(closeMalformed).Inc()
			return
		}
		out, err := resp.Pack()
		if err != nil || len(out) > dns.MaxMsgSize {
			return
		}
		msg := make([]byte, 2+len(out))
		binary.BigEndian.PutUint16(msg, uint16(len(out)))
		copy(msg[2:], out)
		if _, err := tc.Write(msg); err != nil {
			return
		}
	}
	s.m.closed.WithLabelValues(closeMaxQueries).Inc()
}

// dnsHeaderLen is the length of a DNS header (RFC 1035 §4.1.1), the
// shortest message.
const dnsHeaderLen = 12

// answer is the reply to one query from the identity subject, or nil
// when the query cannot be read at all (the connection is closed then).
func (s *Server) answer(subject string, wire []byte) *dns.Msg {
	q := new(dns.Msg)
	if err := q.Unpack(wire); err != nil {
		// A header that reads as a query gets FORMERR (RFC 1035 §4.1.1);
		// a response, or anything else, is not a query at all.
		if wire[2]&0x80 != 0 {
			return nil
		}
		s.m.queries.WithLabelValues(queryFormErr).Inc()
		r := new(dns.Msg)
		r.Id = binary.BigEndian.Uint16(wire[0:2])
		r.Opcode = int(wire[2]>>3) & 0xF
		r.Response = true
		r.Rcode = dns.RcodeFormatError
		return r
	}
	if q.Response {
		return nil
	}
	reply := func(rcode int, result string) *dns.Msg {
		s.m.queries.WithLabelValues(result).Inc()
		r := new(dns.Msg)
		r.SetRcode(q, rcode)
		return r
	}
	switch {
	case q.Opcode != dns.OpcodeQuery:
		return reply(dns.RcodeNotImplemented, queryNotImpl)
	case len(q.Question) != 1:
		return reply(dns.RcodeFormatError, queryFormErr)
	}
	qs := q.Question[0]
	switch {
	case qs.Qclass != dns.ClassINET, qs.Qtype == dns.TypeAXFR, qs.Qtype == dns.TypeIXFR:
		return reply(dns.RcodeRefused, queryRefusedOther)
	}
	rule := s.policy.Load().Rule(subject)
	if rule == nil || !rule.Allows(qs.Name) {
		return reply(dns.RcodeRefused, queryRefusedZone)
	}
	// Over the rate the query is REFUSED rather than dropped: dropping
	// (as response rate limiting does on UDP, against spoofed sources)
	// buys nothing on an authenticated TLS connection, whose source is
	// proven, and would leave the client waiting out its timeout while it
	// holds the connection; REFUSED costs the gate less and tells the
	// client at once.
	if !s.limit.allow(rule.Identity, rule.Rate) {
		return reply(dns.RcodeRefused, queryRefusedRate)
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.UpstreamTimeout)
	defer cancel()
	r, _, err := s.client.ExchangeContext(ctx, q, s.cfg.Upstream)
	if err != nil {
		s.log.Warn("dotgate: upstream", "upstream", s.cfg.Upstream, "err", err)
		return reply(dns.RcodeServerFailure, queryUpstreamError)
	}
	s.m.queries.WithLabelValues(queryForwarded).Inc()
	return r
}
