package resolver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Transport selects how upstream servers are reached.
type Transport uint8

const (
	// UDP sends queries over UDP and repeats them over TCP when the answer is
	// truncated (RFC 1035 §4.2.1, RFC 7766 §5).
	UDP Transport = iota
	// TCP sends every query over TCP (RFC 7766).
	TCP
	// TLS sends every query over DNS over TLS (RFC 7858) and verifies the
	// server certificate.
	TLS
)

// String returns "udp", "tcp" or "tls".
func (t Transport) String() string {
	switch t {
	case TCP:
		return "tcp"
	case TLS:
		return "tls"
	default:
		return "udp"
	}
}

// Default ports (RFC 1035 §4.2, RFC 7858 §3.1).
const (
	portDNS = "53"
	portDoT = "853"
)

// ednsBufferSize is the EDNS(0) UDP payload size announced in queries, the
// value recommended by DNS Flag Day 2020 to avoid fragmentation.
const ednsBufferSize = 1232

// maxResponseSize bounds what is accepted from an upstream (RFC 1035 §4.2.2:
// two-octet length over TCP).
const maxResponseSize = 65535

// errQueryMismatch is returned for a response whose question does not match
// the query; miekg/dns already rejects a mismatched ID.
var errQueryMismatch = errors.New("response does not match the query")

// UpstreamError says that no upstream gave a usable answer.
type UpstreamError struct {
	Name string
	Type string
	Err  error
}

func (e *UpstreamError) Error() string {
	return fmt.Sprintf("resolver: %s %s: no usable answer from any upstream: %v", e.Name, e.Type, e.Err)
}

func (e *UpstreamError) Unwrap() error { return e.Err }

type upstream struct {
	addr string // host:port
	host string
}

type client struct {
	upstreams []upstream
	transport Transport
	tlsConfig *tls.Config
	timeout   time.Duration
	attempts  int
	counters  *counters
	// preferred is the index of the upstream that answered last: queries
	// start there, so a dead first upstream costs one timeout, not one per
	// query.
	preferred atomic.Int32
	// exchangeFunc replaces the network when set (Config.Exchange).
	exchangeFunc func(ctx context.Context, q *dns.Msg) (*dns.Msg, error)
}

// parseUpstream normalises "host", "host:port", "[v6]:port" or a bare IPv6
// address to host:port.
func parseUpstream(s string, t Transport) (upstream, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return upstream{}, errors.New("empty upstream address")
	}
	port := portDNS
	if t == TLS {
		port = portDoT
	}
	if ip := net.ParseIP(strings.Trim(s, "[]")); ip != nil {
		return upstream{addr: net.JoinHostPort(ip.String(), port), host: ip.String()}, nil
	}
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		// No port given.
		host, p = s, port
	}
	if host == "" {
		return upstream{}, fmt.Errorf("upstream %q: no host", s)
	}
	return upstream{addr: net.JoinHostPort(host, p), host: host}, nil
}

// isLoopback reports whether host is a loopback address or "localhost".
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// exchange sends one query to the upstreams in order, with retries, and
// returns the first usable response.
func (c *client) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	if c.exchangeFunc != nil {
		c.counters.upstreamQueries.Add(1)
		resp, err := c.exchangeFunc(ctx, q)
		if err == nil {
			err = usable(q, resp)
		}
		if err != nil {
			c.counters.upstreamErrors.Add(1)
			return nil, err
		}
		return resp, nil
	}
	var last error = errors.New("no upstream configured")
	n := len(c.upstreams)
	start := int(c.preferred.Load())
	for attempt := 0; attempt < c.attempts; attempt++ {
		for i := range n {
			idx := (start + i) % n
			u := c.upstreams[idx]
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			c.counters.upstreamQueries.Add(1)
			resp, err := c.exchangeOne(ctx, u, q)
			if err == nil {
				c.preferred.Store(int32(idx))
				return resp, nil
			}
			c.counters.upstreamErrors.Add(1)
			last = fmt.Errorf("%s: %w", u.addr, err)
		}
	}
	return nil, last
}

func (c *client) exchangeOne(ctx context.Context, u upstream, q *dns.Msg) (*dns.Msg, error) {
	net := "udp"
	switch c.transport {
	case TCP:
		net = "tcp"
	case TLS:
		net = "tcp-tls"
	}
	resp, err := c.do(ctx, net, u, q)
	if err == nil && resp.Truncated && net == "udp" {
		// RFC 7766 §5: retry over TCP when the UDP answer is truncated.
		resp, err = c.do(ctx, "tcp", u, q)
	}
	if err != nil {
		return nil, err
	}
	if err := usable(q, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// usable accepts a response that answers q with NOERROR or NXDOMAIN; any
// other RCODE sends the query to the next upstream.
func usable(q, r *dns.Msg) error {
	if err := checkResponse(q, r); err != nil {
		return err
	}
	switch r.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return nil
	default:
		return &rcodeError{msg: r}
	}
}

// rcodeError is a response with an RCODE other than NOERROR or NXDOMAIN;
// it keeps the message for its Extended DNS Errors.
type rcodeError struct{ msg *dns.Msg }

func (e *rcodeError) Error() string {
	s := "server answered " + dns.RcodeToString[e.msg.Rcode]
	if ede := extendedError(e.msg); ede != nil {
		s += fmt.Sprintf(" (EDE %d: %s)", ede.InfoCode, ede.ExtraText)
	}
	return s
}

// extendedError returns the first Extended DNS Error option of m (RFC 8914).
func extendedError(m *dns.Msg) *dns.EDNS0_EDE {
	if o := m.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_EDE); ok {
				return e
			}
		}
	}
	return nil
}

func (c *client) do(ctx context.Context, network string, u upstream, q *dns.Msg) (*dns.Msg, error) {
	cl := &dns.Client{Net: network, Timeout: c.timeout, UDPSize: ednsBufferSize}
	if network == "tcp-tls" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.tlsConfig != nil {
			cfg = c.tlsConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.host
		}
		cl.TLSConfig = cfg
	}
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, _, err := cl.ExchangeContext(tctx, q.Copy(), u.addr)
	return resp, err
}

// checkResponse rejects answers that do not belong to the query (RFC 5452 §9.1).
func checkResponse(q, r *dns.Msg) error {
	if r == nil {
		return errors.New("empty response")
	}
	if r.Id != q.Id {
		return errors.New("response ID does not match the query")
	}
	if !r.Response || r.Opcode != dns.OpcodeQuery {
		return errors.New("not a query response")
	}
	if len(r.Question) != 1 || len(q.Question) != 1 {
		return errQueryMismatch
	}
	a, b := r.Question[0], q.Question[0]
	if a.Qtype != b.Qtype || a.Qclass != b.Qclass || !strings.EqualFold(a.Name, b.Name) {
		return errQueryMismatch
	}
	return nil
}
