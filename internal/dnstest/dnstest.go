package dnstest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Zone names of the hierarchy.
const (
	Root     = "."
	TLD      = "test."
	Zone     = "example.test."
	Device   = "_device.example.test."
	Unsigned = "insecure.example.test."
)

// Denial selects how a zone proves that names or types do not exist.
type Denial uint8

const (
	// NSEC chains (RFC 4034 §4), the default.
	NSEC Denial = iota
	// NSEC3 hashed chains (RFC 5155) with ZoneOptions.NSEC3Iterations and
	// ZoneOptions.NSEC3OptOut.
	NSEC3
	// Compact denial of existence (RFC 9824): NSEC records made per answer,
	// with the NXNAME type for names that do not exist.
	Compact
)

// Fault is a defect injected into one zone.
type Fault uint8

const (
	// NoFault: the zone is correct.
	NoFault Fault = iota
	// ExpiredSignatures: every RRSIG of the zone expired a day ago.
	ExpiredSignatures
	// NotYetValidSignatures: every RRSIG of the zone starts tomorrow.
	NotYetValidSignatures
	// WrongKey: data is signed with a key the zone does not publish (the
	// DNSKEY RRset itself is signed correctly).
	WrongKey
	// MissingDS: the parent publishes no DS for the zone (an insecure
	// delegation, proven by the parent's denial).
	MissingDS
	// MismatchedDS: the parent's DS names a key the zone does not have.
	MismatchedDS
	// StripSignatures: the server drops the zone's RRSIGs from answers.
	StripSignatures
	// BrokenDenial: the server drops NSEC/NSEC3 records from the zone's
	// negative answers and wildcard answers.
	BrokenDenial
	// RevokedSigner: data is signed with a second key that the zone
	// publishes with the REVOKE flag (RFC 5011 §2.1); the DNSKEY RRset is
	// signed with the zone's good key.
	RevokedSigner
)

// ZoneOptions configure one signed zone. The zero value is an ECDSA P-256
// zone with NSEC and no fault.
type ZoneOptions struct {
	// Algorithm is the DNSSEC algorithm number; 0 means ECDSAP256SHA256.
	Algorithm uint8
	// DSDigest is the digest type of the parent's DS; 0 means SHA-256.
	DSDigest uint8
	Denial   Denial
	// NSEC3Iterations and NSEC3OptOut apply to Denial NSEC3.
	NSEC3Iterations uint16
	NSEC3OptOut     bool
	Fault           Fault
	// Revoked sets the REVOKE flag (RFC 5011 §2.1) on the zone's key, which
	// still signs everything and which the parent's DS (or the anchor)
	// names.
	Revoked bool
}

// Config configures a Hierarchy. The zero value serves the default zones,
// all correct.
type Config struct {
	// Zones holds options per zone name (Root, TLD, Zone, Device).
	Zones map[string]ZoneOptions
	// Records are extra records in zone-file syntax with fully qualified
	// owners; each goes into the deepest zone that contains it.
	Records []string
	// Now is the signing time; zero means time.Now().
	Now time.Time
	// TruncateUDP makes every UDP answer truncated, forcing TCP.
	TruncateUDP bool
	// Hold, when not nil, delays every answer until it is closed: a slow
	// upstream for tests of deadlines and limits. Close it in a Cleanup
	// registered after Start.
	Hold <-chan struct{}
	// SetAD sets the AD bit on answers to queries without CD, like a
	// validating resolver would (the server does not validate anything).
	SetAD bool
	// TLSConfig, when not nil, also serves DNS over TLS (RFC 7858) on
	// TLSAddr with this configuration (it must hold a certificate).
	TLSConfig *tls.Config
	// KeySeed, when not empty, derives the key of every Ed25519 zone from
	// it and the zone's name (other algorithms keep random keys). Ed25519
	// signatures are deterministic (RFC 8032 §5.1.6), so with Now fixed too
	// every answer is the same bytes in every run: for fuzz corpora.
	KeySeed string
}

// nsName is the name server of every zone, outside all of them.
const nsName = "ns.dnstest.invalid."

// Default records. TLSA data are fixed, arbitrary SHA-256 values.
var defaultRecords = []string{
	"example.test. 300 IN A 192.0.2.1",
	"www.example.test. 300 IN A 192.0.2.10",
	"_443._tcp.www.example.test. 300 IN TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6",
	"*.wild.example.test. 300 IN TXT \"wildcard\"",
	"*.wild.example.test. 300 IN TLSA 3 1 1 1F2E3D4C5B6A79880F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A6978",
	"alias.example.test. 300 IN CNAME www.example.test.",
	"loop1.example.test. 300 IN CNAME loop2.example.test.",
	"loop2.example.test. 300 IN CNAME loop1.example.test.",
	"dev.example.test. 300 IN CNAME dev1._device.example.test.",
	"toinsecure.example.test. 300 IN CNAME www.insecure.example.test.",
	"a.b.c.example.test. 300 IN TXT \"deep\"",
	"olddevices.example.test. 300 IN DNAME _device.example.test.",
	"dev1._device.example.test. 300 IN TLSA 3 1 1 8CB0FC6C527506A053F4F14C8464BEBBD6DEDE2738D11468DD953D7D6A3021F1",
	"dev2._device.example.test. 300 IN TLSA 3 1 1 2B7A3B6D5E7AD56E2E4D1AE6F3F28B5A1B8D0E2F3A4B5C6D7E8F90A1B2C3D4E5",
	"www.insecure.example.test. 300 IN A 192.0.2.20",
	"_443._tcp.www.insecure.example.test. 300 IN TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6",
}

// Hierarchy is a running signed hierarchy.
type Hierarchy struct {
	addr    string
	tlsAddr string
	zones   map[string]*zone
	order   []string // zone names, deepest first
	cfg     Config
	queries atomic.Int64
	now     time.Time
}

// Start builds, signs and serves the hierarchy; it stops when the test ends.
// Errors fail the test.
func Start(tb testing.TB, cfg Config) *Hierarchy {
	tb.Helper()
	h, err := build(cfg)
	if err != nil {
		tb.Fatalf("dnstest: %v", err)
	}
	pc, l, err := listenPair()
	if err != nil {
		tb.Fatalf("dnstest: %v", err)
	}
	h.addr = pc.LocalAddr().String()
	servers := []*dns.Server{
		{PacketConn: pc, Handler: h.handler("udp")},
		{Listener: l, Handler: h.handler("tcp")},
	}
	if cfg.TLSConfig != nil {
		tl, err := tls.Listen("tcp", "127.0.0.1:0", cfg.TLSConfig)
		if err != nil {
			pc.Close()
			l.Close()
			tb.Fatalf("dnstest: tls: %v", err)
		}
		h.tlsAddr = tl.Addr().String()
		servers = append(servers, &dns.Server{Listener: tl, Net: "tcp-tls", Handler: h.handler("tls")})
	}
	var wg sync.WaitGroup
	// Cleanups run last-registered first: shut the servers down, then wait.
	tb.Cleanup(wg.Wait)
	for _, s := range servers {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.ActivateAndServe()
		}()
		<-started
		tb.Cleanup(func() { _ = s.Shutdown() })
	}
	return h
}

// Build builds and signs the hierarchy without serving it: for callers that
// only use Exchange (fuzz targets, benchmarks), nothing needs stopping.
func Build(cfg Config) (*Hierarchy, error) {
	return build(cfg)
}

// listenPair binds UDP and TCP on the same loopback port, picking another
// port when the kernel's choice for UDP is taken for TCP.
func listenPair() (net.PacketConn, net.Listener, error) {
	var last error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		last = err
	}
	return nil, nil, fmt.Errorf("no port free for both UDP and TCP: %w", last)
}

// Addr is the server's address, 127.0.0.1:PORT (UDP and TCP).
func (h *Hierarchy) Addr() string { return h.addr }

// TLSAddr is the DNS-over-TLS address when Config.TLSConfig was set.
func (h *Hierarchy) TLSAddr() string { return h.tlsAddr }

// Queries is the number of queries answered so far.
func (h *Hierarchy) Queries() int64 { return h.queries.Load() }

// Anchors returns the root trust anchor as a DS line in zone-file syntax.
func (h *Hierarchy) Anchors() string { return h.DS(Root) }

// DS returns the DS record (SHA-256) of a signed zone's key as a zone-file
// line, usable as a trust anchor for that zone.
func (h *Hierarchy) DS(zoneName string) string {
	z := h.zones[dns.CanonicalName(zoneName)]
	if z == nil || z.key == nil {
		return ""
	}
	return z.key.ToDS(dns.SHA256).String()
}

// DNSKEY returns the key of a signed zone as a zone-file line.
func (h *Hierarchy) DNSKEY(zoneName string) string {
	z := h.zones[dns.CanonicalName(zoneName)]
	if z == nil || z.key == nil {
		return ""
	}
	return z.key.String()
}

// Sign signs rrs, one RRset, with the key of a signed zone and the zone's
// validity window: for tests that forge records the zone's key would sign
// (odd NSEC3 flags or parameters, records the zone does not hold).
func (h *Hierarchy) Sign(zoneName string, rrs []dns.RR) (*dns.RRSIG, error) {
	z := h.zones[dns.CanonicalName(zoneName)]
	if z == nil || z.key == nil || len(rrs) == 0 {
		return nil, fmt.Errorf("dnstest: %s is not a signed zone of the hierarchy", zoneName)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	sig, err := z.sign(rrs)
	if err != nil {
		return nil, err
	}
	return sig.(*dns.RRSIG), nil
}

type zone struct {
	name    string
	opts    ZoneOptions
	signed  bool
	key     *dns.DNSKEY
	priv    crypto.Signer
	badKey  *dns.DNSKEY // WrongKey: the unpublished key
	badPriv crypto.Signer
	inc     uint32
	exp     uint32
	data    map[string]map[uint16][]dns.RR
	sigs    map[string]map[uint16][]dns.RR
	names   []string // existing owner names, canonical order
	ents    map[string]bool
	nsec    map[string]*dns.NSEC
	nsec3   []*dns.NSEC3 // sorted by hash
	n3sigs  map[string][]dns.RR
	salt    string
	seed    string // Config.KeySeed
	mu      sync.Mutex
}

func build(cfg Config) (*Hierarchy, error) {
	now := cfg.Now
	if now.IsZero() {
		now = time.Now()
	}
	h := &Hierarchy{zones: map[string]*zone{}, cfg: cfg, now: now}
	for _, n := range []string{Root, TLD, Zone, Device, Unsigned} {
		z := &zone{name: n, opts: cfg.Zones[n], signed: n != Unsigned, seed: cfg.KeySeed,
			data: map[string]map[uint16][]dns.RR{}, sigs: map[string]map[uint16][]dns.RR{}}
		h.zones[n] = z
	}
	h.order = []string{Device, Unsigned, Zone, TLD, Root}
	// Apex records. The name server's name lies outside every zone here, so
	// no zone needs glue (RFC 9471).
	for _, z := range h.zones {
		soa := fmt.Sprintf("%s 300 IN SOA %s hostmaster.example.test. 1 3600 600 86400 60", z.name, nsName)
		ns := fmt.Sprintf("%s 300 IN NS %s", z.name, nsName)
		for _, s := range []string{soa, ns} {
			if err := h.add(s); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range append(append([]string{}, defaultRecords...), cfg.Records...) {
		if err := h.add(s); err != nil {
			return nil, err
		}
	}
	// Keys, then delegations (NS and DS in the parent), then signatures.
	for _, z := range h.zones {
		if err := z.genKeys(now); err != nil {
			return nil, err
		}
	}
	for _, child := range []string{TLD, Zone, Device, Unsigned} {
		c := h.zones[child]
		p := h.zoneOf(parent(child), false)
		p.put(&dns.NS{Hdr: dns.RR_Header{Name: child, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 300}, Ns: nsName})
		if !c.signed || c.opts.Fault == MissingDS {
			continue
		}
		digest := c.opts.DSDigest
		if digest == 0 {
			digest = dns.SHA256
		}
		key := c.key
		if c.opts.Fault == MismatchedDS {
			other, _, err := newKey(child, c.key.Algorithm)
			if err != nil {
				return nil, err
			}
			key = other
		}
		ds := key.ToDS(digest)
		if ds == nil {
			return nil, fmt.Errorf("%s: cannot make a DS with digest %d", child, digest)
		}
		ds.Hdr.Ttl = 300
		p.put(ds)
	}
	for _, z := range h.zones {
		if err := z.finish(); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func parent(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

// zoneOf returns the deepest zone containing name; for a DS question at a
// zone apex (ds true), the parent zone.
func (h *Hierarchy) zoneOf(name string, ds bool) *zone {
	name = dns.CanonicalName(name)
	for _, zn := range h.order {
		if dns.IsSubDomain(zn, name) {
			if ds && name == zn && zn != Root {
				continue
			}
			return h.zones[zn]
		}
	}
	return nil
}

func (h *Hierarchy) add(s string) error {
	rr, err := dns.NewRR(s)
	if err != nil {
		return fmt.Errorf("record %q: %w", s, err)
	}
	if rr == nil {
		return nil
	}
	rr.Header().Name = dns.CanonicalName(rr.Header().Name)
	z := h.zoneOf(rr.Header().Name, rr.Header().Rrtype == dns.TypeDS)
	if z == nil {
		return fmt.Errorf("record %q: no zone", s)
	}
	z.put(rr)
	return nil
}

func (z *zone) put(rr dns.RR) {
	n := dns.CanonicalName(rr.Header().Name)
	if z.data[n] == nil {
		z.data[n] = map[uint16][]dns.RR{}
	}
	z.data[n][rr.Header().Rrtype] = append(z.data[n][rr.Header().Rrtype], rr)
}

func newKey(name string, alg uint8) (*dns.DNSKEY, crypto.Signer, error) {
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 300},
		Flags: dns.ZONE | dns.SEP, Protocol: 3, Algorithm: alg}
	bits := 256
	switch alg {
	case dns.ECDSAP384SHA384:
		bits = 384
	case dns.RSASHA1, dns.RSASHA1NSEC3SHA1, dns.RSASHA256, dns.RSASHA512:
		bits = 2048
	}
	// A key tag of 0 is legal (RFC 4034 Appendix B) but the DNS library
	// refuses to sign with it: draw again (one key in 65,536).
	var priv crypto.PrivateKey
	for priv == nil || k.KeyTag() == 0 {
		var err error
		if priv, err = k.Generate(bits); err != nil {
			return nil, nil, fmt.Errorf("%s: key for algorithm %d: %w", name, alg, err)
		}
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s: key is not a crypto.Signer", name)
	}
	return k, signer, nil
}

// seededKey derives an Ed25519 zone key from seed and the zone's name.
func seededKey(name, seed string) (*dns.DNSKEY, crypto.Signer) {
	sum := sha256.Sum256([]byte(seed + "\x00" + name))
	priv := ed25519.NewKeyFromSeed(sum[:])
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 300},
		Flags: dns.ZONE | dns.SEP, Protocol: 3, Algorithm: dns.ED25519,
		PublicKey: base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))}
	return k, priv
}

func (z *zone) genKeys(now time.Time) error {
	if !z.signed {
		return nil
	}
	alg := z.opts.Algorithm
	if alg == 0 {
		alg = dns.ECDSAP256SHA256
	}
	var err error
	if z.key, z.priv, err = newKey(z.name, alg); err != nil {
		return err
	}
	if z.seed != "" && alg == dns.ED25519 {
		z.key, z.priv = seededKey(z.name, z.seed)
	}
	if z.opts.Revoked {
		z.key.Flags |= dns.REVOKE
	}
	if z.opts.Fault == WrongKey || z.opts.Fault == RevokedSigner {
		if z.badKey, z.badPriv, err = newKey(z.name, alg); err != nil {
			return err
		}
	}
	if z.opts.Fault == RevokedSigner {
		z.badKey.Flags = dns.ZONE | dns.REVOKE
		z.put(z.badKey)
	}
	inc, exp := now.Add(-time.Hour), now.Add(24*time.Hour)
	switch z.opts.Fault {
	case ExpiredSignatures:
		inc, exp = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	case NotYetValidSignatures:
		inc, exp = now.Add(24*time.Hour), now.Add(48*time.Hour)
	}
	z.inc, z.exp = uint32(inc.Unix()), uint32(exp.Unix())
	z.put(z.key)
	return nil
}

// sign signs one RRset; DNSKEY sets always with the published key.
func (z *zone) sign(rrs []dns.RR) (dns.RR, error) {
	key, priv := z.key, z.priv
	if z.badKey != nil && rrs[0].Header().Rrtype != dns.TypeDNSKEY {
		key, priv = z.badKey, z.badPriv
	}
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Ttl: rrs[0].Header().Ttl}, Algorithm: key.Algorithm,
		KeyTag: key.KeyTag(), SignerName: z.name, Inception: z.inc, Expiration: z.exp}
	if err := sig.Sign(priv, rrs); err != nil {
		return nil, fmt.Errorf("sign %s %s: %w", rrs[0].Header().Name, dns.TypeToString[rrs[0].Header().Rrtype], err)
	}
	return sig, nil
}

// authoritative reports whether the zone signs the RRset at name/t: not the
// NS set at a delegation point (RFC 4035 §2.2).
func (z *zone) authoritative(name string, t uint16) bool {
	if name != z.name && z.data[name][dns.TypeNS] != nil {
		return t == dns.TypeDS || t == dns.TypeNSEC
	}
	return true
}

func (z *zone) finish() error {
	z.ents = map[string]bool{}
	for n := range z.data {
		z.names = append(z.names, n)
		for p := parent(n); n != z.name && p != z.name && dns.IsSubDomain(z.name, p); p = parent(p) {
			if z.data[p] == nil {
				z.ents[p] = true
			}
		}
	}
	sort.Slice(z.names, func(i, j int) bool { return canonicalLess(z.names[i], z.names[j]) })
	if !z.signed {
		return nil
	}
	switch z.opts.Denial {
	case NSEC:
		z.nsec = map[string]*dns.NSEC{}
		for i, n := range z.names {
			next := z.names[(i+1)%len(z.names)]
			rec := &dns.NSEC{Hdr: dns.RR_Header{Name: n, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 60},
				NextDomain: next, TypeBitMap: z.bitmap(n, dns.TypeNSEC)}
			z.nsec[n] = rec
			z.put(rec)
		}
	case NSEC3:
		if err := z.buildNSEC3(); err != nil {
			return err
		}
	}
	for n, types := range z.data {
		for t, rrs := range types {
			if !z.authoritative(n, t) {
				continue
			}
			sig, err := z.sign(rrs)
			if err != nil {
				return err
			}
			if z.sigs[n] == nil {
				z.sigs[n] = map[uint16][]dns.RR{}
			}
			z.sigs[n][t] = []dns.RR{sig}
		}
	}
	return nil
}

// bitmap lists the types at name plus RRSIG (when anything there is signed)
// and extra.
func (z *zone) bitmap(n string, extra ...uint16) []uint16 {
	var types []uint16
	signed := false
	for t := range z.data[n] {
		types = append(types, t)
		signed = signed || z.authoritative(n, t)
	}
	if signed || len(extra) > 0 && extra[0] == dns.TypeNSEC {
		types = append(types, dns.TypeRRSIG)
	}
	types = append(types, extra...)
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	return types
}

func (z *zone) hash(name string) string {
	return dns.HashName(name, dns.SHA1, z.opts.NSEC3Iterations, z.salt)
}

func (z *zone) buildNSEC3() error {
	type entry struct {
		hash string
		name string
	}
	var entries []entry
	for _, n := range z.names {
		deleg := n != z.name && z.data[n][dns.TypeNS] != nil
		if z.opts.NSEC3OptOut && deleg && z.data[n][dns.TypeDS] == nil {
			continue // RFC 5155 §7.1: opt-out skips insecure delegations
		}
		entries = append(entries, entry{z.hash(n), n})
	}
	for n := range z.ents {
		entries = append(entries, entry{z.hash(n), n})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].hash < entries[j].hash })
	z.put(&dns.NSEC3PARAM{Hdr: dns.RR_Header{Name: z.name, Rrtype: dns.TypeNSEC3PARAM, Class: dns.ClassINET, Ttl: 0},
		Hash: dns.SHA1, Iterations: z.opts.NSEC3Iterations, Salt: z.salt})
	var flags uint8
	if z.opts.NSEC3OptOut {
		flags = 1
	}
	z.n3sigs = map[string][]dns.RR{}
	for i, e := range entries {
		next := entries[(i+1)%len(entries)].hash
		var types []uint16
		if !z.ents[e.name] {
			types = z.bitmap(e.name)
		}
		rec := &dns.NSEC3{Hdr: dns.RR_Header{Name: dns.Fqdn(strings.ToLower(e.hash) + "." + strings.TrimSuffix(z.name, ".")), Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: 60},
			Hash: dns.SHA1, Flags: flags, Iterations: z.opts.NSEC3Iterations, SaltLength: 0, Salt: z.salt,
			HashLength: 20, NextDomain: next, TypeBitMap: types}
		z.nsec3 = append(z.nsec3, rec)
		sig, err := z.sign([]dns.RR{rec})
		if err != nil {
			return err
		}
		z.n3sigs[e.hash] = []dns.RR{sig}
	}
	return nil
}

// canonicalLess orders names as RFC 4034 §6.1 does.
func canonicalLess(a, b string) bool {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	i, j := len(la)-1, len(lb)-1
	for i >= 0 && j >= 0 {
		x, y := strings.ToLower(la[i]), strings.ToLower(lb[j])
		if x != y {
			return x < y
		}
		i--
		j--
	}
	return i < j
}

// ZoneText returns a zone as served, in zone-file syntax: its records, their
// signatures and its NSEC or NSEC3 chain (compact denial has no chain).
func (h *Hierarchy) ZoneText(zoneName string) string {
	z := h.zones[dns.CanonicalName(zoneName)]
	if z == nil {
		return ""
	}
	var b strings.Builder
	write := func(rrs []dns.RR) {
		for _, rr := range rrs {
			b.WriteString(rr.String())
			b.WriteByte('\n')
		}
	}
	write(z.data[z.name][dns.TypeSOA])
	for _, n := range z.names {
		types := make([]int, 0, len(z.data[n]))
		for t := range z.data[n] {
			types = append(types, int(t))
		}
		sort.Ints(types)
		for _, t := range types {
			if n == z.name && uint16(t) == dns.TypeSOA {
				write(z.sigs[n][uint16(t)])
				continue
			}
			write(z.data[n][uint16(t)])
			write(z.sigs[n][uint16(t)])
		}
	}
	for _, n3 := range z.nsec3 {
		write([]dns.RR{n3})
		write(z.n3sigs[strings.ToUpper(strings.SplitN(n3.Hdr.Name, ".", 2)[0])])
	}
	return b.String()
}
