package server

import (
	"hash/maphash"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsbound/dance/internal/connlimit"
	"github.com/dnsbound/dance/zone"
)

// Limits on online signing work.
//
// Every DO query for a name the zone does not hold costs a signature made
// for that name alone (compact denial, RFC 9824; wildcard proofs,
// RFC 4035 §3.1.3.3), so a flood of random names is bounded only by how
// fast the server signs. Two limits stand in front of that work, both
// decided before anything is signed (zone.OnlineSigningOf):
//
//   - Response rate limiting (RRL, as Knot's rrl module and BIND's
//     rate-limit clause call it), per client prefix (/24 for IPv4, /56 for
//     IPv6) and kind of answer (nxdomain, nodata, wildcard), over UDP only:
//     a token bucket per (prefix, kind) in a table of fixed size. An answer
//     over the limit is dropped, except every Slip-th, which goes out empty
//     with TC set so that a real client behind the prefix (whose address an
//     attacker may be forging) retries over TCP. TCP is not rate-limited:
//     the handshake proved the client's address.
//   - A ceiling on such signatures per second for the whole server, over
//     every transport: beyond it the answer is REFUSED at once, never
//     queued, so the CPU stays with answers that need no new signature —
//     presigned and cached identities keep being answered during a flood.
//
// REFUSED rather than SERVFAIL: the server is not failing, it declines this
// query now; a resolver moves on to another server of the zone (RFC 1034
// §5.3.3) and does not take the zone for broken. Answers that need no new
// signature (positive answers, answers from the response cache, queries
// without DO) pass both limits untouched.

// Defaults of RateLimit and SigningLimit fields left zero.
const (
	// DefaultRRLRate is the answers per second, per client prefix and kind
	// of answer, that need an online signature. A validating resolver asks
	// an identity zone for names it does not hold when an identity is
	// missing or revoked: a few a second; 20 leaves room for a resolver
	// farm behind one /24.
	DefaultRRLRate = 20
	// DefaultRRLSlip: every second limited answer goes out truncated
	// (BIND's default slip).
	DefaultRRLSlip = 2
	// DefaultRRLIPv4Prefix and DefaultRRLIPv6Prefix group client addresses
	// the way an attacker's forged sources and a provider's allocations
	// are grouped (BIND's defaults are 24 and 56).
	DefaultRRLIPv4Prefix = 24
	DefaultRRLIPv6Prefix = 56
	// DefaultRRLTableSize is the number of (prefix, kind) buckets, fixed
	// at start (about 64 octets each).
	DefaultRRLTableSize = 65536
	// DefaultSigningRate is the ceiling on online signatures per second
	// for the whole server: about a tenth of what two cores sign
	// (ECDSA P-256, 30–50 µs each), so a flood cannot take the CPU from
	// the answers that need no signature.
	DefaultSigningRate = 2000
)

// SlipNever, as RateLimit.Slip, drops every limited answer.
const SlipNever = -1

// rrlWays is the number of buckets a (prefix, kind) can live in: the table
// is set-associative, and a new key takes the least recently used bucket
// of its set.
const rrlWays = 4

// limitLogInterval spaces the log lines that report limiting, so that a
// flood cannot flood the log.
const limitLogInterval = 10 * time.Second

// RateLimit configures response rate limiting of UDP answers that need an
// online signature. The zero value limits with the defaults.
type RateLimit struct {
	// Off disables response rate limiting.
	Off bool
	// Rate is the answers per second allowed per client prefix and kind
	// of answer; zero means DefaultRRLRate.
	Rate int
	// Burst is how many such answers a prefix may get at once after being
	// quiet (the bucket's depth); zero means Rate.
	Burst int
	// Slip sends every Slip-th limited answer truncated and empty (TC=1)
	// instead of dropping it: 1 truncates every limited answer, SlipNever
	// drops them all; zero means DefaultRRLSlip.
	Slip int
	// IPv4Prefix and IPv6Prefix are the prefix lengths clients are grouped
	// by; zero means DefaultRRLIPv4Prefix, DefaultRRLIPv6Prefix.
	IPv4Prefix, IPv6Prefix int
	// TableSize is the number of buckets, fixed at start: memory does not
	// grow with the number of sources; zero means DefaultRRLTableSize.
	TableSize int
}

// SigningLimit configures the ceiling on online signatures per second. The
// zero value limits with the defaults.
type SigningLimit struct {
	// Off disables the ceiling.
	Off bool
	// Rate is the signatures per second; zero means DefaultSigningRate.
	Rate int
	// Burst is how many may be made at once after a quiet time; zero
	// means Rate.
	Burst int
}

// verdict is what the rate limiter decides for one answer.
type verdict int

const (
	allow verdict = iota
	slip
	drop
)

// rrlKey is one bucket's key: a client prefix and the kind of answer.
type rrlKey struct {
	addr  [16]byte
	bits  uint8 // prefix length; 4-in-6 for IPv4, so the families differ
	v4    bool
	class zone.OnlineSigning
}

type rrlBucket struct {
	key    rrlKey
	used   bool
	tokens float64
	last   int64  // the clock, in nanoseconds, of the last refill
	seen   uint64 // limiter sequence number of the last use (LRU)
	// limited counts the answers over the limit, for the slip.
	limited uint64
}

type rrlSet struct {
	mu sync.Mutex
	b  [rrlWays]rrlBucket
}

// classes are the kinds of answer rate-limited, indexes of the counters.
var classes = []zone.OnlineSigning{zone.SignedNameError, zone.SignedNoData, zone.SignedWildcard}

// rrl is the response rate limiter: a fixed table of token buckets.
type rrl struct {
	rate, burst float64
	slip        uint64 // 0: never
	v4, v6      int
	sets        []rrlSet
	seed        maphash.Seed
	seq         atomic.Uint64
	entries     atomic.Int64
	now         func() time.Time
	// counters by class: limited = slipped + dropped.
	limited, slipped, dropped [4]atomic.Uint64
}

func newRRL(c RateLimit, now func() time.Time) *rrl {
	if c.Off {
		return nil
	}
	l := &rrl{rate: float64(c.Rate), burst: float64(c.Burst), v4: c.IPv4Prefix, v6: c.IPv6Prefix, seed: maphash.MakeSeed(), now: now}
	if l.rate <= 0 {
		l.rate = DefaultRRLRate
	}
	if l.burst <= 0 {
		l.burst = l.rate
	}
	switch {
	case c.Slip == 0:
		l.slip = DefaultRRLSlip
	case c.Slip > 0:
		l.slip = uint64(c.Slip)
	}
	if l.v4 <= 0 || l.v4 > 32 {
		l.v4 = DefaultRRLIPv4Prefix
	}
	if l.v6 <= 0 || l.v6 > 128 {
		l.v6 = DefaultRRLIPv6Prefix
	}
	size := c.TableSize
	if size <= 0 {
		size = DefaultRRLTableSize
	}
	l.sets = make([]rrlSet, (size+rrlWays-1)/rrlWays)
	return l
}

// keyOf groups addr into its prefix.
func (l *rrl) keyOf(addr netip.Addr, class zone.OnlineSigning) rrlKey {
	addr = addr.Unmap()
	k := rrlKey{class: class}
	if addr.Is4() {
		p, _ := addr.Prefix(l.v4)
		k.addr, k.bits, k.v4 = p.Addr().As16(), uint8(l.v4), true
	} else {
		p, _ := addr.Prefix(l.v6)
		k.addr, k.bits = p.Addr().As16(), uint8(l.v6)
	}
	return k
}

// take spends one token of addr's bucket for class.
func (l *rrl) take(addr netip.Addr, class zone.OnlineSigning) verdict {
	k := l.keyOf(addr, class)
	var kb [18]byte
	copy(kb[:], k.addr[:])
	kb[16], kb[17] = k.bits, byte(k.class)
	set := &l.sets[maphash.Bytes(l.seed, kb[:])%uint64(len(l.sets))]
	now := l.now().UnixNano()
	seq := l.seq.Add(1)
	set.mu.Lock()
	var b *rrlBucket
	for i := range set.b {
		if set.b[i].used && set.b[i].key == k {
			b = &set.b[i]
			break
		}
	}
	if b == nil {
		// A new key takes a free bucket, or the least recently used one:
		// a prefix that keeps sending keeps its bucket (and its debt),
		// while the table never grows.
		b = &set.b[0]
		for i := range set.b {
			if !set.b[i].used {
				b = &set.b[i]
				break
			}
			if set.b[i].seen < b.seen {
				b = &set.b[i]
			}
		}
		if !b.used {
			l.entries.Add(1)
		}
		*b = rrlBucket{key: k, used: true, tokens: l.burst, last: now}
	}
	b.seen = seq
	if d := now - b.last; d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)*l.rate/float64(time.Second))
		b.last = now
	}
	v := allow
	if b.tokens >= 1 {
		b.tokens--
	} else {
		b.limited++
		v = drop
		if l.slip > 0 && b.limited%l.slip == 0 {
			v = slip
		}
	}
	set.mu.Unlock()
	if v != allow {
		l.limited[class].Add(1)
		if v == slip {
			l.slipped[class].Add(1)
		} else {
			l.dropped[class].Add(1)
		}
	}
	return v
}

// Len is the number of buckets in use.
func (l *rrl) Len() int { return int(l.entries.Load()) }

// ceiling is the global token bucket of online signatures.
type ceiling struct {
	mu          sync.Mutex
	rate, burst float64
	tokens      float64
	last        int64
	now         func() time.Time
	admitted    atomic.Uint64
	refused     atomic.Uint64
}

func newCeiling(c SigningLimit, now func() time.Time) *ceiling {
	if c.Off {
		return nil
	}
	g := &ceiling{rate: float64(c.Rate), burst: float64(c.Burst), now: now}
	if g.rate <= 0 {
		g.rate = DefaultSigningRate
	}
	if g.burst <= 0 {
		g.burst = g.rate
	}
	g.tokens, g.last = g.burst, now().UnixNano()
	return g
}

// take spends one signature of the budget, reporting false when none is
// left.
func (g *ceiling) take() bool {
	now := g.now().UnixNano()
	g.mu.Lock()
	if d := now - g.last; d > 0 {
		g.tokens = min(g.burst, g.tokens+float64(d)*g.rate/float64(time.Second))
		g.last = now
	}
	ok := g.tokens >= 1
	if ok {
		g.tokens--
	}
	g.mu.Unlock()
	if ok {
		g.admitted.Add(1)
	} else {
		g.refused.Add(1)
	}
	return ok
}

// logGate lets one report through per limitLogInterval and counts what it
// held back.
type logGate struct {
	next atomic.Int64
	held atomic.Int64
}

// open reports whether to log now, and how many events were held back
// since the last line (this one included).
func (g *logGate) open(now time.Time) (int64, bool) {
	n := g.held.Add(1)
	next := g.next.Load()
	t := now.UnixNano()
	if t < next || !g.next.CompareAndSwap(next, t+int64(limitLogInterval)) {
		return 0, false
	}
	g.held.Add(-n)
	return n, true
}

// limits is the server's guard in front of online signing.
type limits struct {
	rrl     *rrl
	ceiling *ceiling
	now     func() time.Time
	rrlLog  logGate
	signLog logGate
	// tcp and tls are the capped stream listeners, set when Serve
	// starts (conns.go).
	tcpLn, tlsLn, xotLn atomic.Pointer[connlimit.Listener]
}

// admit decides, before any work, whether to answer r normally. It
// returns nil and false to go on; a response to send instead (an empty
// truncated one for a slip, REFUSED above the signing ceiling); or
// dropped true for silence. Only queries whose answer needs a signature
// made for them alone are limited.
func (s *Server) admit(r *dns.Msg, udp bool, peer net.Addr) (resp *dns.Msg, dropped bool) {
	lim := s.limits
	if lim.rrl == nil && lim.ceiling == nil {
		return nil, false
	}
	if r.Opcode != dns.OpcodeQuery || len(r.Question) != 1 || r.IsTsig() != nil {
		// A TSIG-signed query comes from a key holder, and a bad MAC is
		// refused before the zone is asked.
		return nil, false
	}
	opt := r.IsEdns0()
	q := r.Question[0]
	if opt == nil || !opt.Do() || opt.Version() != 0 || q.Qclass != dns.ClassINET {
		return nil, false
	}
	switch q.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeMAILA, dns.TypeMAILB, dns.TypeNXNAME:
		return nil, false
	}
	kind := s.cfg.Zone.OnlineSigningOf(q.Name, q.Qtype)
	if kind == zone.NoOnlineSignature {
		return nil, false
	}
	if udp && lim.rrl != nil {
		if ap, ok := addrOf(peer); ok {
			switch lim.rrl.take(ap, kind) {
			case drop:
				lim.logRRL(s, ap, kind)
				return nil, true
			case slip:
				lim.logRRL(s, ap, kind)
				return s.shortReply(r, opt, dns.RcodeSuccess, true), false
			}
		}
	}
	if lim.ceiling != nil && !lim.ceiling.take() {
		if n, ok := lim.signLog.open(lim.now()); ok {
			s.log.Warn("online signing ceiling reached: answers that need a new signature are refused",
				"ceiling_per_second", lim.ceiling.rate, "refused", n, "last_peer", peer, "kind", kind.String())
		}
		return s.shortReply(r, opt, dns.RcodeRefused, false), false
	}
	return nil, false
}

func (lim *limits) logRRL(s *Server, ap netip.Addr, kind zone.OnlineSigning) {
	if n, ok := lim.rrlLog.open(lim.now()); ok {
		k := lim.rrl.keyOf(ap, kind)
		a := netip.AddrFrom16(k.addr)
		if k.v4 {
			a = a.Unmap()
		}
		p := netip.PrefixFrom(a, int(k.bits))
		s.log.Warn("response rate limiting: answers over the limit dropped or truncated",
			"prefix", p, "kind", kind.String(), "limited", n, "rate_per_second", lim.rrl.rate)
	}
}

func addrOf(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return ap.Addr(), ap.Addr().IsValid()
	case *net.TCPAddr:
		ap := a.AddrPort()
		return ap.Addr(), ap.Addr().IsValid()
	}
	return netip.Addr{}, false
}

// shortReply is an answer with no records: the question, rcode, TC when
// tc, and an OPT as handle would add.
func (s *Server) shortReply(r *dns.Msg, opt *dns.OPT, rcode int, tc bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Rcode = rcode
	m.Authoritative = false
	m.RecursionAvailable = false
	m.RecursionDesired = r.RecursionDesired
	m.Truncated = tc
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(uint16(s.maxUDP))
	if opt.Do() {
		o.SetDo()
	}
	m.Extra = append(m.Extra, o)
	return m
}

// limitCollector exports the limits' counters (part of Server.Collector):
// dance_zone_rrl_limited_total, dance_zone_rrl_slipped_total and
// dance_zone_rrl_dropped_total by kind of answer, dance_zone_rrl_table_entries,
// dance_zone_signing_admitted_total and dance_zone_signing_refused_total;
// and the stream listeners' dance_zone_tcp_refused_total and
// dance_zone_tcp_connections by transport (conns.go).

var (
	descRRLLimited = prometheus.NewDesc("dance_zone_rrl_limited_total",
		"UDP answers over the response rate limit (slipped or dropped), by kind of answer.", []string{"kind"}, nil)
	descRRLSlipped = prometheus.NewDesc("dance_zone_rrl_slipped_total",
		"Limited UDP answers sent empty with TC set, so the client retries over TCP.", []string{"kind"}, nil)
	descRRLDropped = prometheus.NewDesc("dance_zone_rrl_dropped_total",
		"Limited UDP answers not sent.", []string{"kind"}, nil)
	descRRLEntries = prometheus.NewDesc("dance_zone_rrl_table_entries",
		"Buckets of the response rate limiter in use (the table has a fixed size).", nil, nil)
	descSignAdmitted = prometheus.NewDesc("dance_zone_signing_admitted_total",
		"Answers admitted under the online signing ceiling (each needs a signature of its own).", nil, nil)
	descSignRefused = prometheus.NewDesc("dance_zone_signing_refused_total",
		"Answers REFUSED because the online signing ceiling was reached.", nil, nil)
)

type limitCollector struct{ l *limits }

func (c limitCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRRLLimited, descRRLSlipped, descRRLDropped, descRRLEntries, descSignAdmitted, descSignRefused, descTCPRefused, descTCPOpen} {
		ch <- d
	}
}

func (c limitCollector) Collect(ch chan<- prometheus.Metric) {
	if r := c.l.rrl; r != nil {
		for _, k := range classes {
			ch <- prometheus.MustNewConstMetric(descRRLLimited, prometheus.CounterValue, float64(r.limited[k].Load()), k.String())
			ch <- prometheus.MustNewConstMetric(descRRLSlipped, prometheus.CounterValue, float64(r.slipped[k].Load()), k.String())
			ch <- prometheus.MustNewConstMetric(descRRLDropped, prometheus.CounterValue, float64(r.dropped[k].Load()), k.String())
		}
		ch <- prometheus.MustNewConstMetric(descRRLEntries, prometheus.GaugeValue, float64(r.Len()))
	}
	if g := c.l.ceiling; g != nil {
		ch <- prometheus.MustNewConstMetric(descSignAdmitted, prometheus.CounterValue, float64(g.admitted.Load()))
		ch <- prometheus.MustNewConstMetric(descSignRefused, prometheus.CounterValue, float64(g.refused.Load()))
	}
	c.collectConns(ch)
}
