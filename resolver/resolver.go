package resolver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"

	"github.com/dnsbound/dance/internal/ttlcache"
)

// Defaults for the zero values of Config.
const (
	DefaultQueryTimeout  = 2 * time.Second
	DefaultAttempts      = 2
	DefaultLookupTimeout = 10 * time.Second
	DefaultMaxInFlight   = 256
	DefaultClockSkew     = 5 * time.Minute
	DefaultMinTTL        = 5 * time.Second
	DefaultMaxTTL        = time.Hour
	DefaultCacheEntries  = 10000
	DefaultMaxCNAMEs     = 8
	// RFC 9276 §3.2 lets validators treat NSEC3 with many iterations as
	// insecure, and with even more as bogus, the second limit higher than
	// the first. These are the values several deployed validators use.
	DefaultNSEC3InsecureIterations = 50
	DefaultNSEC3BogusIterations    = 150
)

// Config configures a Resolver. The zero value of every field has a safe
// meaning, given in its comment; only Upstreams is required.
type Config struct {
	// Upstreams are the servers asked, in order: "host", "host:port" or
	// "[v6]:port". The port defaults to 53, or 853 for TLS. They are
	// recursive resolvers, or authoritative servers of the zones asked.
	Upstreams []string
	// Transport is UDP (with TCP on truncation, the zero value), TCP or TLS.
	Transport Transport
	// Exchange, when not nil, replaces the network: every query is handed
	// to it (an in-process server, a test double) and Upstreams may be
	// empty. It is treated like a loopback upstream for TrustAD.
	Exchange func(ctx context.Context, q *dns.Msg) (*dns.Msg, error)
	// TLSConfig is used for the TLS transport; nil means the system roots
	// and the upstream's host as the server name. Certificates are always
	// verified.
	TLSConfig *tls.Config
	// Anchors are trust anchors added to the built-in IANA root keys
	// (RootAnchors), as dance's --anchors flag adds them: each is valid for
	// its own subtree, the closest anchor winning (a private
	// _device.example.com anchor is used below it, the root keys
	// elsewhere). LoadAnchors reads them from a file. nil adds none.
	Anchors *Anchors
	// NoRootAnchors leaves the root keys out: Anchors are then the only
	// trust anchors (a closed DNS tree with a root of its own), and New
	// refuses a configuration with none unless TrustAD is set.
	NoRootAnchors bool
	// TrustAD makes the resolver believe the upstream's AD bit instead of
	// validating (RFC 6840 §5.7). New refuses it unless Transport is TLS or
	// every upstream is a loopback address.
	TrustAD bool
	// Time returns the current time; nil means time.Now. Signature validity
	// windows and cache lifetimes use it.
	Time func() time.Time
	// ClockSkew is the tolerance applied to RRSIG inception and expiration;
	// 0 means DefaultClockSkew, negative means none.
	ClockSkew time.Duration
	// QueryTimeout bounds one query to one upstream; 0 means
	// DefaultQueryTimeout.
	QueryTimeout time.Duration
	// Attempts is how many rounds over the upstream list are tried; 0 means
	// DefaultAttempts.
	Attempts int
	// LookupTimeout is the deadline of one Lookup, all queries included; 0
	// means DefaultLookupTimeout.
	LookupTimeout time.Duration
	// MaxInFlight caps concurrent lookups (identical lookups sharing one
	// upstream exchange count once); beyond it Lookup fails fast with
	// ErrOverloaded. 0 means DefaultMaxInFlight.
	MaxInFlight int
	// MinTTL and MaxTTL bound how long results and validated keys are
	// cached; 0 means DefaultMinTTL and DefaultMaxTTL.
	MinTTL, MaxTTL time.Duration
	// CacheEntries bounds the number of cached results and the number of
	// cached chain states (each); 0 means DefaultCacheEntries, negative
	// disables caching.
	CacheEntries int
	// MaxCNAMEs bounds the length of a CNAME chain; 0 means
	// DefaultMaxCNAMEs.
	MaxCNAMEs int
	// NSEC3InsecureIterations and NSEC3BogusIterations are the RFC 9276
	// §3.2 limits; 0 means the defaults.
	NSEC3InsecureIterations uint16
	NSEC3BogusIterations    uint16
}

// Result is the outcome of a lookup. It is not meant for JSON: a program
// that prints results builds its own view of them.
type Result struct {
	// Name and Type are the question, Name fully qualified and lower-case.
	Name string
	Type string
	// Status is Secure only when every link of the answer (CNAMEs
	// included) is proven by DNSSEC up to a trust anchor.
	Status Status
	// Reason says why Status is not Secure; nil when Secure.
	Reason *Reason
	// Kind is answer, nodata or nxdomain.
	Kind Kind
	// Records are the records of the final RRset (empty for a denial), as
	// the upstream sent them: *dns.TLSA for a TLSA lookup, and so on (a
	// CNAME when the chain ends at one asked for by type CNAME). Only
	// Secure and Insecure results carry records. They are shared with the
	// cache and other callers and must not be modified.
	Records []dns.RR
	// CNAMEs lists the aliases followed, in order.
	CNAMEs []string
	// TTL is how long the result may be cached: min(TTL, original TTL,
	// RRSIG expiration) over the chain, within the configured bounds.
	TTL time.Duration
	// Cached is true when the result came from the cache.
	Cached bool
	// Msg is the last response from the upstream, for advanced use; it is
	// shared and must not be modified.
	Msg *dns.Msg
}

// Err returns nil for a Secure result and a *NotSecureError otherwise.
func (r *Result) Err() error {
	if r.Status == Secure {
		return nil
	}
	return &NotSecureError{Name: r.Name, Type: r.Type, Status: r.Status, Reason: r.Reason}
}

// Stats are the resolver's counters since New.
type Stats struct {
	Lookups           uint64 // Lookup calls
	CacheHits         uint64 // answered from the result cache
	Shared            uint64 // answered by an exchange shared with identical concurrent lookups
	RefusedOverloaded uint64 // refused: MaxInFlight reached
	DeadlineExceeded  uint64 // lookups that hit LookupTimeout
	UpstreamQueries   uint64 // queries sent (retries included)
	UpstreamErrors    uint64 // queries without a usable answer
}

type counters struct {
	lookups, cacheHits, shared, refused, deadline, upstreamQueries, upstreamErrors atomic.Uint64
}

// Resolver is a DNSSEC-validating stub resolver. It is safe for concurrent
// use.
type Resolver struct {
	cfg      Config
	client   *client
	v        *validator
	results  *ttlcache.Cache[string, *Result]
	group    singleflight.Group
	inflight chan struct{}
	counters counters
}

// New checks cfg and returns a Resolver.
func New(cfg Config) (*Resolver, error) {
	if len(cfg.Upstreams) == 0 && cfg.Exchange == nil {
		return nil, errors.New("resolver: no upstream configured")
	}
	if cfg.Time == nil {
		cfg.Time = time.Now
	}
	if !cfg.NoRootAnchors {
		cfg.Anchors = RootAnchors().Merge(cfg.Anchors)
	} else if len(cfg.Anchors.Zones()) == 0 && !cfg.TrustAD {
		return nil, errors.New("resolver: NoRootAnchors without Anchors leaves no trust anchor")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.QueryTimeout, DefaultQueryTimeout)
	def(&cfg.LookupTimeout, DefaultLookupTimeout)
	def(&cfg.ClockSkew, DefaultClockSkew)
	def(&cfg.MinTTL, DefaultMinTTL)
	def(&cfg.MaxTTL, DefaultMaxTTL)
	if cfg.ClockSkew < 0 {
		cfg.ClockSkew = 0
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.CacheEntries == 0 {
		cfg.CacheEntries = DefaultCacheEntries
	}
	if cfg.MaxCNAMEs <= 0 {
		cfg.MaxCNAMEs = DefaultMaxCNAMEs
	}
	if cfg.NSEC3InsecureIterations == 0 {
		cfg.NSEC3InsecureIterations = DefaultNSEC3InsecureIterations
	}
	if cfg.NSEC3BogusIterations == 0 {
		cfg.NSEC3BogusIterations = DefaultNSEC3BogusIterations
	}
	if cfg.MinTTL > cfg.MaxTTL {
		return nil, fmt.Errorf("resolver: MinTTL %v above MaxTTL %v", cfg.MinTTL, cfg.MaxTTL)
	}
	r := &Resolver{cfg: cfg, inflight: make(chan struct{}, cfg.MaxInFlight)}
	c := &client{transport: cfg.Transport, tlsConfig: cfg.TLSConfig, timeout: cfg.QueryTimeout,
		attempts: cfg.Attempts, counters: &r.counters, exchangeFunc: cfg.Exchange}
	allLoopback := true
	for _, s := range cfg.Upstreams {
		u, err := parseUpstream(s, cfg.Transport)
		if err != nil {
			return nil, fmt.Errorf("resolver: %w", err)
		}
		allLoopback = allLoopback && isLoopback(u.host)
		c.upstreams = append(c.upstreams, u)
	}
	if cfg.TrustAD && cfg.Transport != TLS && !allLoopback {
		return nil, ErrTrustADRefused
	}
	r.client = c
	r.v = &validator{
		anchors: cfg.Anchors, now: cfg.Time, skew: cfg.ClockSkew,
		nsec3Insecure: cfg.NSEC3InsecureIterations, nsec3Bogus: cfg.NSEC3BogusIterations,
		maxCNAMEs: cfg.MaxCNAMEs, minTTL: cfg.MinTTL, maxTTL: cfg.MaxTTL,
	}
	r.v.query = r.query
	// Memory is bounded by the entry count: every value held is one
	// validated DNS message's worth of data at most (64 KiB on the wire).
	// Zero or negative CacheEntries makes nil caches, which hold nothing.
	r.results = ttlcache.New[string, *Result](cfg.CacheEntries)
	r.v.zones = ttlcache.New[string, *zoneState](cfg.CacheEntries)
	return r, nil
}

// Stats returns a snapshot of the counters.
func (r *Resolver) Stats() Stats {
	c := &r.counters
	return Stats{
		Lookups: c.lookups.Load(), CacheHits: c.cacheHits.Load(), Shared: c.shared.Load(),
		RefusedOverloaded: c.refused.Load(), DeadlineExceeded: c.deadline.Load(),
		UpstreamQueries: c.upstreamQueries.Load(), UpstreamErrors: c.upstreamErrors.Load(),
	}
}

// query sends name/qtype with DO and CD set (RFC 4035 §3.2.2, §4.6), so that
// the upstream returns signatures and does not hide data it thinks bogus.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	q.CheckingDisabled = !r.cfg.TrustAD
	q.SetEdns0(ednsBufferSize, true)
	return r.client.exchange(ctx, q)
}

// ErrInvalidName is wrapped by errors for names that cannot be queried.
var ErrInvalidName = errors.New("invalid domain name")

// Lookup resolves name/qtype and classifies the answer. The error is non-nil
// only when no classification was made: an invalid name, ErrOverloaded, or
// the caller's context ending. Every other outcome, including network
// failures (Indeterminate), is a Result: check Result.Status or Result.Err.
func (r *Resolver) Lookup(ctx context.Context, name string, qtype uint16) (*Result, error) {
	r.counters.lookups.Add(1)
	if _, ok := dns.IsDomainName(name); !ok || len(name) > 255 || strings.TrimSpace(name) != name || name == "" {
		return nil, fmt.Errorf("resolver: %q: %w", name, ErrInvalidName)
	}
	name = dns.CanonicalName(name)
	key := name + "/" + dns.TypeToString[qtype]
	now := r.cfg.Time()
	if res, exp, ok := r.results.GetWithExpiry(key, now); ok {
		r.counters.cacheHits.Add(1)
		cp := *res
		cp.Cached = true
		cp.TTL = exp.Sub(now)
		return &cp, nil
	}
	ch := r.group.DoChan(key, func() (any, error) {
		select {
		case r.inflight <- struct{}{}:
		default:
			r.counters.refused.Add(1)
			return nil, ErrOverloaded
		}
		defer func() { <-r.inflight }()
		// The shared lookup must not die with the first caller's context,
		// but keeps its values; it has its own deadline.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.LookupTimeout)
		defer cancel()
		res := r.lookup(lctx, name, qtype)
		// The network deadline derived from lctx can fire a moment before
		// lctx reports its own expiry: look at the clock too.
		dl, _ := lctx.Deadline()
		if res.Status == Indeterminate && (lctx.Err() != nil || !time.Now().Before(dl)) {
			r.counters.deadline.Add(1)
			res.Reason = reasonf(EDENoReachableAuthority, "", "lookup deadline of %v exceeded", r.cfg.LookupTimeout)
		}
		if res.Status != Indeterminate && res.TTL > 0 {
			now := r.cfg.Time()
			r.results.Put(key, res, now.Add(res.TTL), now)
		}
		return res, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case out := <-ch:
		if out.Err != nil {
			return nil, out.Err
		}
		if out.Shared {
			r.counters.shared.Add(1)
		}
		res := *out.Val.(*Result)
		return &res, nil
	}
}

// worse orders statuses for a chain: one bogus link makes the chain bogus,
// then indeterminate, then insecure.
func worse(a, b Status) Status {
	rank := map[Status]int{Secure: 0, Insecure: 1, Indeterminate: 2, Bogus: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) *Result {
	res := &Result{Name: name, Type: typeString(qtype), Status: Secure}
	now := r.cfg.Time()
	var expires, hard time.Time
	seen := map[string]bool{}
	cur := name
	for {
		if seen[cur] {
			res.Status = Bogus
			res.Reason = reasonf(EDEInvalidData, "", "CNAME loop at %s", cur)
			break
		}
		seen[cur] = true
		if len(res.CNAMEs) > r.cfg.MaxCNAMEs {
			res.Status = Bogus
			res.Reason = reasonf(EDEInvalidData, "", "CNAME chain longer than %d", r.cfg.MaxCNAMEs)
			break
		}
		var step *stepResult
		if r.cfg.TrustAD {
			step = r.trustADStep(ctx, cur, qtype)
		} else {
			msg, err := r.query(ctx, cur, qtype)
			if err != nil {
				step = indeterminate(reasonf(EDENetworkError, "", "query %s %s: %v", cur, typeString(qtype), err))
			} else {
				step = r.v.validateResponse(ctx, cur, qtype, msg)
			}
		}
		res.Msg = step.msg
		if worse(res.Status, step.status) != res.Status {
			res.Status, res.Reason = step.status, step.reason
		} else if res.Reason == nil && step.reason != nil && step.status != Secure {
			res.Reason = step.reason
		}
		if step.status == Bogus || step.status == Indeterminate {
			break
		}
		expires = minTime(expires, step.expires)
		hard = minTime(hard, step.hard)
		if step.target == "" {
			res.Kind = step.kind
			res.Records = slices.Clip(step.records)
			break
		}
		res.CNAMEs = append(res.CNAMEs, step.target)
		cur = step.target
	}
	if res.Status == Secure {
		res.Reason = nil
	}
	if res.Status != Secure && res.Status != Insecure {
		res.Records = nil
	}
	if !expires.IsZero() {
		res.TTL = max(minTime(r.v.clamp(expires, now), hard).Sub(now), 0)
	} else if res.Status == Bogus {
		res.TTL = r.cfg.MinTTL
	}
	return res
}

// trustADStep asks a validating upstream without CD and believes its AD bit
// (RFC 6840 §5.7); the channel was checked by New.
func (r *Resolver) trustADStep(ctx context.Context, name string, qtype uint16) *stepResult {
	msg, err := r.query(ctx, name, qtype)
	var rc *rcodeError
	if errors.As(err, &rc) && rc.msg.Rcode == dns.RcodeServerFailure {
		// A validating upstream says why it failed (RFC 8914 §4): the
		// DNSSEC codes 1 to 12 mean it found the answer bogus.
		if ede := extendedError(rc.msg); ede != nil && ede.InfoCode >= uint16(EDEUnsupportedDNSKEYAlgorithm) && ede.InfoCode <= uint16(EDENSECMissing) {
			return &stepResult{status: Bogus, msg: rc.msg,
				reason: reasonf(EDE(ede.InfoCode), "", "the upstream validator failed: %s", strings.TrimSpace(EDE(ede.InfoCode).String()+" "+ede.ExtraText))}
		}
	}
	if err != nil {
		return indeterminate(reasonf(EDENetworkError, "", "query %s %s: %v", name, typeString(qtype), err))
	}
	st := &stepResult{msg: msg, status: Insecure, kind: KindNoData}
	if msg.Rcode == dns.RcodeNameError {
		st.kind = KindNXDomain
	}
	if msg.AuthenticatedData {
		st.status = Secure
	} else {
		st.reason = reasonf(EDEDNSSECIndeterminate, "", "the upstream did not set the AD bit")
	}
	ttl := uint32(1<<31 - 1)
	if rrs, _ := rrsetWithSigs(msg.Answer, name, qtype); len(rrs) > 0 {
		st.kind, st.records = KindAnswer, rrs
	} else if rrs, _ := rrsetWithSigs(msg.Answer, name, dns.TypeCNAME); len(rrs) == 1 && qtype != dns.TypeCNAME {
		st.kind, st.records = KindAnswer, rrs
		if cn, ok := rrs[0].(*dns.CNAME); ok {
			st.target = dns.CanonicalName(cn.Target)
		}
	}
	for _, rr := range append(append([]dns.RR{}, msg.Answer...), msg.Ns...) {
		ttl = min(ttl, rr.Header().Ttl)
	}
	st.expires = r.cfg.Time().Add(time.Duration(ttl) * time.Second)
	return st
}

func typeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}
