package verify

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/logtext"
	"github.com/dnsbound/dance/internal/ttlcache"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxInFlight   = 128
	DefaultLookupTimeout = 5 * time.Second
	DefaultCacheEntries  = 10000
	DefaultMaxVerdictTTL = 5 * time.Minute
)

// Verifier authenticates a peer: the name it claims and what it presented.
// It returns the authenticated identity, or an error whose chain holds an
// *Error with the reason.
type Verifier interface {
	Verify(ctx context.Context, claimedName string, p Presented) (*Identity, error)
}

// Presented is what a peer showed: a certificate chain (leaf first, as sent
// in TLS) or a raw public key (RFC 7250). When both are set, the chain is
// used.
type Presented struct {
	Chain []*x509.Certificate
	// RawPublicKey is the DER SubjectPublicKeyInfo of an RFC 7250 raw
	// public key.
	RawPublicKey []byte
}

// Resolver looks up and DNSSEC-validates records. *resolver.Resolver
// implements it; tests may plug in any other.
type Resolver interface {
	Lookup(ctx context.Context, name string, qtype uint16) (*resolver.Result, error)
}

var _ Resolver = (*resolver.Resolver)(nil)

// Config configures a Core. Resolver is required; every other zero value
// has the safe meaning its comment gives.
type Config struct {
	// Allow is the allow-list; nil allows nothing. Replace it at run time
	// with Core.SetAllowList.
	Allow *AllowList
	// Resolver looks up TLSA records; only Secure results are believed.
	Resolver Resolver
	// Roots are PKIX trust anchors for TLSA usages PKIX-TA and PKIX-EE;
	// nil makes those records unusable (RFC 7671 §4.1). The system roots
	// are never used implicitly.
	Roots *x509.CertPool
	// MaxInFlight caps the lookups this core waits on at once; beyond it
	// Verify fails at once with ReasonOverloaded instead of queueing, so a
	// slow authoritative server cannot pile up the TLS server's
	// goroutines. 0 means DefaultMaxInFlight.
	MaxInFlight int
	// MaxInFlightPerParent caps the lookups in flight for names that share
	// a parent (the name less its first label, "_device.example.com" for
	// "sensor1._device.example.com"), so that names under one slow
	// authority cannot take every slot from the others. 0 means half of
	// MaxInFlight (at least 1); negative means no such cap.
	MaxInFlightPerParent int
	// LookupTimeout is the deadline of one lookup; 0 means
	// DefaultLookupTimeout.
	LookupTimeout time.Duration
	// CacheEntries bounds the verdict cache; 0 means DefaultCacheEntries,
	// negative disables it. It also bounds the names whose parsed TLSA
	// records the core keeps (DefaultCacheEntries when negative); those
	// only save parsing and are used only while the resolver returns the
	// same records, so they never change a verdict.
	CacheEntries int
	// MaxVerdictTTL caps how long a verdict is cached, whatever the TTL of
	// the TLSA answer; 0 means DefaultMaxVerdictTTL.
	MaxVerdictTTL time.Duration
	// Time returns the current time; nil means time.Now. Verdict expiry and
	// certification path validity use it.
	Time func() time.Time
	// Logger receives one record per verdict: refusals at Info with the
	// reason and detail, successes at Debug, with the peer's address when
	// the context carries one (WithPeerAddr). Refusals served from the
	// verdict cache, and of names off the allow-list, are logged at most
	// once per name each RefusalLogInterval, the next line counting those
	// left out; names off the list at most MaxOffListLines an interval. nil
	// discards them.
	Logger *slog.Logger
	// Registerer, when not nil, gets the core's Prometheus metrics
	// (namespace "dance", subsystem "verify") and, when Resolver has a
	// Stats method, the resolver's counters (subsystem "resolver").
	Registerer prometheus.Registerer
}

// verdict is a cached outcome: an identity or a refusal decided by a secure
// answer.
type verdict struct {
	id  *Identity
	err error
}

// Core is the verification core. It is safe for concurrent use.
type Core struct {
	cfg     Config
	allow   atomic.Pointer[AllowList]
	sem     chan struct{}
	parents parentSlots
	cache   *ttlcache.Cache[[sha256.Size]byte, verdict]
	parsed  *ttlcache.Cache[string, *parsedRRset] // by TLSA owner name
	metrics *metrics
	log     *slog.Logger
	now     func() time.Time
	// refusals limits the log lines of refusals from the cache.
	refusals refusalLog
}

var _ Verifier = (*Core)(nil)

// New checks cfg and returns a Core.
func New(cfg Config) (*Core, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("verify: Config.Resolver is required")
	}
	if cfg.MaxInFlight < 0 || cfg.LookupTimeout < 0 || cfg.MaxVerdictTTL < 0 {
		return nil, errors.New("verify: negative limit in Config")
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxInFlightPerParent == 0 {
		cfg.MaxInFlightPerParent = max(cfg.MaxInFlight/2, 1)
	}
	if cfg.LookupTimeout == 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	if cfg.CacheEntries == 0 {
		cfg.CacheEntries = DefaultCacheEntries
	}
	if cfg.MaxVerdictTTL == 0 {
		cfg.MaxVerdictTTL = DefaultMaxVerdictTTL
	}
	c := &Core{
		cfg:     cfg,
		sem:     make(chan struct{}, cfg.MaxInFlight),
		parents: parentSlots{max: cfg.MaxInFlightPerParent, n: make(map[string]int)},
		cache:   ttlcache.New[[sha256.Size]byte, verdict](cfg.CacheEntries),
		parsed:  ttlcache.New[string, *parsedRRset](cmp.Or(max(cfg.CacheEntries, 0), DefaultCacheEntries)),
		log:     cfg.Logger,
		now:     cfg.Time,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.allow.Store(cfg.Allow)
	m, err := newMetrics(cfg.Registerer, cfg.Resolver, c)
	if err != nil {
		return nil, err
	}
	c.metrics = m
	return c, nil
}

// SetAllowList replaces the allow-list atomically (a reload on SIGHUP);
// verifications in progress finish with the list they started with. Cached
// verdicts for names the new list no longer allows are not used: the list
// is checked before the cache.
func (c *Core) SetAllowList(a *AllowList) { c.allow.Store(a) }

// AllowList returns the allow-list in force.
func (c *Core) AllowList() *AllowList { return c.allow.Load() }

// InFlight returns the number of lookups the core is waiting on.
func (c *Core) InFlight() int { return len(c.sem) }

// Verify authenticates claimedName with what the peer presented: name
// syntax, allow-list, validated TLSA lookup, match, policy. The error is an
// *Error (possibly wrapped) whose Reason says why the peer was refused.
func (c *Core) Verify(ctx context.Context, claimedName string, p Presented) (*Identity, error) {
	id, cached, err := c.verify(ctx, claimedName, p)
	c.record(ctx, claimedName, id, err, cached)
	return id, err
}

func (c *Core) verify(ctx context.Context, claimed string, p Presented) (*Identity, bool, error) {
	q, err := c.clientQuery(claimed)
	if err != nil {
		return nil, false, err
	}
	return c.authenticate(ctx, q, p)
}

// clientQuery is the query of a peer that claims a name: its syntax
// checked, and the name on the allow-list.
func (c *Core) clientQuery(claimed string) (query, error) {
	n, err := identity.ParseName(claimed)
	if err != nil {
		return query{}, &Error{Reason: ReasonNameSyntax, Name: claimed, Err: err}
	}
	name := n.String()
	// Architecture §4.1.1: nothing is looked up for a name that is not
	// allowed, so unknown names cost the server nothing.
	if !c.allow.Load().Allows(name) {
		return query{}, &Error{Reason: ReasonNotAllowed, Name: name}
	}
	return query{owner: name, name: n, usages: clientUsages}, nil
}

// The extended key usages a validated path must allow, for clients and
// for servers. Shared, never modified.
var (
	clientUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	serverUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
)

// query says where one verification finds its TLSA records and what a
// match must show.
type query struct {
	// owner is the TLSA owner name, canonical: the claimed name of a
	// client, "_port._tcp.host" for a server.
	owner string
	// name is the name authenticated: the client's claimed name, or the
	// server's host, which the leaf must carry for every usage but
	// DANE-EE.
	name identity.Name
	// usages are the extended key usages a validated path must allow
	// (clientUsages or serverUsages).
	usages []x509.ExtKeyUsage
}

// authenticate checks what was presented against the TLSA records of q:
// from the verdict cache, or by a validated lookup and a match. It reports
// whether the verdict came from the cache.
func (c *Core) authenticate(ctx context.Context, q query, p Presented) (*Identity, bool, error) {
	name := q.owner
	if len(p.Chain) == 0 && len(p.RawPublicKey) == 0 {
		return nil, false, &Error{Reason: ReasonNoCredential, Name: name}
	}
	for _, cert := range p.Chain {
		if cert == nil {
			return nil, false, &Error{Reason: ReasonNoCredential, Name: name, Err: errors.New("nil certificate in the chain")}
		}
	}
	if len(p.Chain) > tlsa.MaxChainLength {
		return nil, false, &Error{Reason: ReasonUntrusted, Name: name, Err: fmt.Errorf("chain of %d certificates, at most %d accepted", len(p.Chain), tlsa.MaxChainLength)}
	}
	now := c.now()
	key := cacheKey(name, p)
	if v, ok := c.cache.Get(key, now); ok {
		if v.err != nil {
			return nil, true, v.err
		}
		id := *v.id
		return &id, true, nil
	}

	res, err := c.lookup(ctx, name)
	if err != nil {
		return nil, false, err
	}
	// Cache what a secure answer decided, for at most its TTL: a removed
	// record (revocation) is seen again by then. Failures of the lookup
	// itself are not cached; the resolver caches them as it sees fit.
	ttl := min(res.TTL, c.cfg.MaxVerdictTTL)
	id, err := c.match(q, p, res, now, ttl)
	exp := now.Add(ttl)
	if id != nil {
		exp = id.Expires
	}
	if ttl > 0 {
		c.cache.Put(key, verdict{id: id, err: err}, exp, now)
	}
	return id, false, err
}

// lookup fetches the TLSA RRset at name and classifies the answer. It
// returns a Secure result or an *Error.
func (c *Core) lookup(ctx context.Context, name string) (*resolver.Result, error) {
	// Refuse at once rather than queue: a queue would hold the TLS
	// server's goroutines as surely as a slow lookup does.
	select {
	case c.sem <- struct{}{}:
	default:
		return nil, &Error{Reason: ReasonOverloaded, Name: name, Err: fmt.Errorf("%d lookups in flight", cap(c.sem))}
	}
	defer func() { <-c.sem }()
	parent := parentOf(name)
	if !c.parents.acquire(parent) {
		return nil, &Error{Reason: ReasonOverloaded, Name: name, Err: fmt.Errorf("%d lookups in flight below %s", c.parents.max, parent)}
	}
	defer c.parents.release(parent)
	c.metrics.inFlight(1)
	defer c.metrics.inFlight(-1)

	lctx, cancel := context.WithTimeout(ctx, c.cfg.LookupTimeout)
	defer cancel()
	start := time.Now()
	res, err := c.cfg.Resolver.Lookup(lctx, n2fqdn(name), dns.TypeTLSA)
	c.metrics.observeLookup(time.Since(start))
	timedOut := lctx.Err() != nil && ctx.Err() == nil
	switch {
	case err != nil && errors.Is(err, resolver.ErrOverloaded):
		return nil, &Error{Reason: ReasonOverloaded, Name: name, Err: err}
	case err != nil && (timedOut || errors.Is(err, context.DeadlineExceeded)):
		return nil, &Error{Reason: ReasonLookupTimeout, Name: name, Err: err}
	case err != nil:
		return nil, &Error{Reason: ReasonLookupFailed, Name: name, Err: err}
	case res == nil:
		return nil, &Error{Reason: ReasonLookupFailed, Name: name, Err: errors.New("resolver returned no result")}
	}
	switch res.Status {
	case resolver.Secure:
	case resolver.Insecure:
		return nil, &Error{Reason: ReasonDNSInsecure, Name: name, Err: res.Err()}
	case resolver.Bogus:
		return nil, &Error{Reason: ReasonDNSBogus, Name: name, Err: res.Err()}
	default:
		if timedOut {
			return nil, &Error{Reason: ReasonLookupTimeout, Name: name, Err: res.Err()}
		}
		return nil, &Error{Reason: ReasonDNSIndeterminate, Name: name, Err: res.Err()}
	}
	return res, nil
}

// parentSlots counts lookups in flight per parent name.
type parentSlots struct {
	mu  sync.Mutex
	max int // <= 0: no cap
	n   map[string]int
}

func (p *parentSlots) acquire(parent string) bool {
	if p.max <= 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[parent] >= p.max {
		return false
	}
	p.n[parent]++
	return true
}

func (p *parentSlots) release(parent string) {
	if p.max <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[parent] <= 1 {
		delete(p.n, parent)
	} else {
		p.n[parent]--
	}
}

// parentOf returns name less its first label.
func parentOf(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return ""
}

func n2fqdn(name string) string { return name + "." }

// match runs tlsa.Match on a Secure result and applies the policy; ttl is
// how long the verdict may be kept.
func (c *Core) match(q query, p Presented, res *resolver.Result, now time.Time, ttl time.Duration) (*Identity, error) {
	name, n := q.owner, q.name
	if res.Kind != resolver.KindAnswer {
		return nil, &Error{Reason: ReasonNoRecord, Name: name, Err: fmt.Errorf("DNSSEC proves %s for the TLSA records", res.Kind)}
	}
	rrset := c.tlsaRecords(name, res, now, ttl)
	records := rrset.records
	if len(records) == 0 {
		return nil, &Error{Reason: ReasonNoUsableRecords, Name: name, Err: fmt.Errorf("%d TLSA records, none readable", rrset.bad)}
	}
	// The marker matches nothing anyway; recognising it tells the
	// operator "revoked" rather than "no-match". It revokes the name
	// whatever stands beside it: a zone that lets records stand next to
	// it was changed by something other than a revocation.
	for _, r := range records {
		if r.IsRevocationMarker() {
			return nil, &Error{Reason: ReasonRevoked, Name: name, Err: fmt.Errorf("the TLSA records hold the revocation marker (%s)", tlsa.RevocationMarker)}
		}
	}
	user := n.Kind() == identity.KindUser
	var domain string
	if user {
		domain = n.Domain()
	}
	var mr tlsa.Result
	if len(p.Chain) > 0 {
		opts := tlsa.Options{Name: n.String(), Roots: c.cfg.Roots, Time: now, KeyUsages: q.usages}
		if user {
			// Architecture §4.1.3: the TLSA owner is _user.domain (or
			// <hash>._user.domain) while the user certificate names the
			// domain itself as its dNSName.
			opts.Name = domain
		}
		mr = tlsa.Match(p.Chain, records, opts)
	} else {
		if user {
			return nil, &Error{Reason: ReasonPolicy, Name: name, Err: errors.New("a raw public key cannot name a user")}
		}
		mr = tlsa.MatchRawPublicKey(p.RawPublicKey, records)
	}
	if !mr.OK() {
		return nil, &Error{Reason: matchReason(mr.Reason), Name: name, Err: mr.Err}
	}
	// The matched record's Data belongs to the parsed RRset, which later
	// verdicts share: the caller gets its own copy.
	rec := mr.Record
	rec.Data = bytes.Clone(rec.Data)
	id := &Identity{Name: n.String(), Kind: n.Kind(), Record: rec, Depth: mr.Depth, Expires: now.Add(ttl)}
	if mr.Record.Usage != tlsa.DANEEE {
		// A validated path stops being valid at its earliest NotAfter.
		for _, cert := range mr.Path {
			if cert.NotAfter.Before(id.Expires) {
				id.Expires = cert.NotAfter
			}
		}
	}
	if user {
		u, err := c.userPolicy(name, domain, p.Chain[0], mr)
		if err != nil {
			return nil, err
		}
		id.User = u
	}
	return id, nil
}

// userPolicy returns the user a certificate authenticated for a user name
// names (architecture §4.1.3). At "_user.domain" the records are the
// domain's user CA: the match must be a trust anchor above the leaf, since a
// key published there for itself would let its holder claim any user. At
// "<hash>._user.domain" the records are one user's, and the certificate's
// user must hash to the first label (RFC 7929 §3).
func (c *Core) userPolicy(name, domain string, leaf *x509.Certificate, mr tlsa.Result) (string, error) {
	first, _, _ := strings.Cut(name, ".")
	hashed := first != identity.UserLabel
	if !hashed && mr.Depth < 1 {
		return "", &Error{Reason: ReasonPolicy, Name: name, Err: fmt.Errorf("the %s record matched the leaf; a user CA name needs its CA to match", mr.Record.Usage)}
	}
	ids, err := identity.CertificateIdentities(leaf)
	if err != nil {
		return "", &Error{Reason: ReasonNoUser, Name: name, Err: err}
	}
	u, err := ids.User(domain)
	if err != nil {
		return "", &Error{Reason: ReasonNoUser, Name: name, Err: err}
	}
	if hashed {
		local := u[:strings.LastIndexByte(u, '@')]
		if identity.HashLocalPart(local) != first {
			return "", &Error{Reason: ReasonNoUser, Name: name, Err: fmt.Errorf("user %q does not hash to %s", u, first)}
		}
	}
	return u, nil
}

func matchReason(r tlsa.Reason) Reason {
	switch r {
	case tlsa.NameMismatch:
		return ReasonNameMismatch
	case tlsa.Untrusted:
		return ReasonUntrusted
	case tlsa.NoUsableRecords:
		return ReasonNoUsableRecords
	}
	return ReasonNoMatch
}

// cacheKey digests the name and everything presented: a verdict on a
// DANE-TA path depends on the intermediates as well as the leaf.
func cacheKey(name string, p Presented) [sha256.Size]byte {
	h := sha256.New()
	var l [4]byte
	write := func(b []byte) {
		binary.BigEndian.PutUint32(l[:], uint32(len(b)))
		h.Write(l[:])
		h.Write(b)
	}
	write([]byte(name))
	if len(p.Chain) > 0 {
		for _, c := range p.Chain {
			write(c.Raw)
		}
	} else {
		write([]byte("rpk"))
		write(p.RawPublicKey)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// parsedRRset is a TLSA RRset as the resolver gave it and as converted.
type parsedRRset struct {
	rdata   []tlsaRDATA   // the RDATA of each TLSA record, in order
	records []tlsa.Record // the readable ones; shared, never modified
	bad     int           // records that did not convert
	// fullKeys are the keys of the DANE-EE SPKI Full (3 1 0) records
	// that parse, with their records: parsed once per cached RRset, not
	// once per PublishedKeys call.
	fullKeys []fullKey
}

// fullKey is a 3 1 0 record's key, parsed.
type fullKey struct {
	spki []byte // the record's data; shared, never modified
	key  crypto.PublicKey
}

// tlsaRDATA is the RDATA of a TLSA record as the resolver gave it.
type tlsaRDATA struct {
	usage, selector, mtype uint8
	data                   string // hex, as the DNS library holds it
}

func rdataOf(rr *dns.TLSA) tlsaRDATA {
	return tlsaRDATA{rr.Usage, rr.Selector, rr.MatchingType, rr.Certificate}
}

// same reports whether rrs holds exactly the TLSA records p was converted
// from.
func (p *parsedRRset) same(rrs []dns.RR) bool {
	i := 0
	for _, rr := range rrs {
		t, ok := rr.(*dns.TLSA)
		if !ok {
			continue
		}
		if i == len(p.rdata) || p.rdata[i] != rdataOf(t) {
			return false
		}
		i++
	}
	return i == len(p.rdata)
}

// tlsaRecords returns the TLSA records of a Secure answer for name,
// converted. The conversion of each owner's RRset is kept for at most ttl
// and used only while the resolver answers with the same records, so a
// changed RRset (a revocation, a rollover) is converted afresh at once.
func (c *Core) tlsaRecords(name string, res *resolver.Result, now time.Time, ttl time.Duration) *parsedRRset {
	if p, ok := c.parsed.Get(name, now); ok && p.same(res.Records) {
		return p
	}
	p := &parsedRRset{}
	for _, rr := range res.Records {
		t, ok := rr.(*dns.TLSA)
		if !ok {
			continue
		}
		p.rdata = append(p.rdata, rdataOf(t))
		r, err := tlsa.FromDNS(t)
		if err != nil {
			p.bad++ // RFC 7671 §9: malformed records are unusable, not fatal
			continue
		}
		p.records = append(p.records, r)
		if r.Usage == tlsa.DANEEE && r.Selector == tlsa.SelectorSPKI && r.MatchingType == tlsa.MatchFull {
			if key, err := x509.ParsePKIXPublicKey(r.Data); err == nil {
				p.fullKeys = append(p.fullKeys, fullKey{r.Data, key})
			}
		}
	}
	if ttl > 0 {
		c.parsed.Put(name, p, now.Add(ttl), now)
	}
	return p
}

// record counts and logs a verdict. The peer learns none of this. Text
// the peer chose (the claimed name, errors quoting it) is cut to a bounded
// length; refusals from the verdict cache, and of names off the allow-list,
// are logged at most once per name each RefusalLogInterval, those off the
// list at most MaxOffListLines names each interval.
func (c *Core) record(ctx context.Context, claimed string, id *Identity, err error, cached bool) {
	if err == nil {
		c.metrics.verdict(resultOK, cached)
		if !c.log.Enabled(ctx, slog.LevelDebug) {
			return
		}
		c.log.Debug("peer authenticated", peerAttrs(ctx, "name", id.Name, "kind", id.Kind.String(), "user", id.User,
			"usage", id.Record.Usage.String(), "depth", id.Depth, "expires", id.Expires, "cached", cached)...)
		return
	}
	r := ReasonOf(err)
	c.metrics.verdict(r.String(), cached)
	if !c.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	name := logtext.Bound(claimed, logtext.MaxName)
	// Names off the allow-list cost no lookup and are never cached: they
	// are held back like refusals from the cache, and capped as a whole.
	offList := r == ReasonNotAllowed || r == ReasonNameSyntax
	log, suppressed, others := c.refusals.allow(name, cached || offList, offList, c.now())
	if !log {
		return
	}
	attrs := []any{"name", name, "reason", r.String(), "error", logtext.Bound(err.Error(), logtext.MaxText), "cached", cached}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	if others > 0 {
		attrs = append(attrs, "suppressed_other_names", others)
	}
	c.log.Info("peer refused", peerAttrs(ctx, attrs...)...)
}
