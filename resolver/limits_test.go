package resolver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/resolver"
	"github.com/miekg/dns"
)

const tlsaName = "_443._tcp.www.example.test."

func TestCache(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{})
	now := time.Now()
	clock := func() time.Time { return now }
	r := newResolver(t, h, func(c *resolver.Config) { c.Time = clock; c.MaxTTL = 100 * time.Second })
	ctx := context.Background()
	first, err := r.Lookup(ctx, tlsaName, dns.TypeTLSA)
	if err != nil || first.Status != resolver.Secure {
		t.Fatalf("first lookup: %v %v", first, err)
	}
	if first.Cached || first.TTL <= 0 || first.TTL > 100*time.Second {
		t.Fatalf("first: cached %v ttl %v, want fresh with 0 < ttl <= 100s", first.Cached, first.TTL)
	}
	q := h.Queries()
	second, err := r.Lookup(ctx, tlsaName, dns.TypeTLSA)
	if err != nil || !second.Cached || second.Status != resolver.Secure {
		t.Fatalf("second lookup: %+v %v, want a cached secure result", second, err)
	}
	if h.Queries() != q {
		t.Errorf("cached lookup sent %d queries", h.Queries()-q)
	}
	// Validated keys are cached: another name in the same zone costs one
	// query, the answer's.
	q = h.Queries()
	if res, err := r.Lookup(ctx, "www.example.test.", dns.TypeA); err != nil || res.Status != resolver.Secure {
		t.Fatalf("www: %v %v", res, err)
	}
	if got := h.Queries() - q; got != 1 {
		t.Errorf("lookup in a zone whose keys are cached sent %d queries, want 1", got)
	}
	// A negative answer is cached too.
	if _, err := r.Lookup(ctx, "nope.example.test.", dns.TypeTLSA); err != nil {
		t.Fatal(err)
	}
	q = h.Queries()
	neg, err := r.Lookup(ctx, "nope.example.test.", dns.TypeTLSA)
	if err != nil || !neg.Cached || neg.Kind != resolver.KindNXDomain || h.Queries() != q {
		t.Fatalf("negative lookup: %+v %v, queries %d", neg, err, h.Queries()-q)
	}
	// Past the ceiling, the answer is fetched again; keys are still cached,
	// so only the answer itself (and no DS/DNSKEY) is asked... unless they
	// expired too, which they did: all lifetimes are capped at 100s.
	now = now.Add(101 * time.Second)
	q = h.Queries()
	third, err := r.Lookup(ctx, tlsaName, dns.TypeTLSA)
	if err != nil || third.Cached || third.Status != resolver.Secure {
		t.Fatalf("third lookup: %+v %v, want fresh and secure", third, err)
	}
	if h.Queries() == q {
		t.Error("expired entry answered from cache")
	}
	if s := r.Stats(); s.CacheHits != 2 || s.Lookups != 6 {
		t.Errorf("stats %+v, want 2 cache hits out of 6 lookups", s)
	}
}

func TestSingleflight(t *testing.T) {
	// One cold lookup's query count, on a fresh hierarchy.
	h1 := dnstest.Start(t, dnstest.Config{})
	if _, err := newResolver(t, h1, nil).Lookup(context.Background(), tlsaName, dns.TypeTLSA); err != nil {
		t.Fatal(err)
	}
	single := h1.Queries()

	hold := make(chan struct{})
	h := dnstest.Start(t, dnstest.Config{Hold: hold})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	t.Cleanup(release)
	r := newResolver(t, h, nil)
	const n = 50
	var wg sync.WaitGroup
	results := make(chan *resolver.Result, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.Lookup(context.Background(), tlsaName, dns.TypeTLSA)
			if err != nil {
				t.Error(err)
				return
			}
			results <- res
		}()
	}
	testwait.For(t, "lookups to start", func() bool { return r.Stats().Lookups == n && h.Queries() >= 1 })
	release()
	wg.Wait()
	close(results)
	for res := range results {
		if res.Status != resolver.Secure {
			t.Errorf("status %s: %s", res.Status, res.Reason)
		}
	}
	if got := h.Queries(); got != single {
		t.Errorf("%d concurrent identical lookups sent %d queries, one lookup sends %d", n, got, single)
	}
	if s := r.Stats(); s.Shared+s.CacheHits < n-1 || s.Shared+s.CacheHits > n {
		t.Errorf("stats %+v: want %d or %d lookups shared or cached", s, n-1, n)
	}
}

func TestInFlightCap(t *testing.T) {
	hold := make(chan struct{})
	h := dnstest.Start(t, dnstest.Config{Hold: hold})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	t.Cleanup(release)
	r := newResolver(t, h, func(c *resolver.Config) { c.MaxInFlight = 1 })
	done := make(chan error, 1)
	go func() {
		_, err := r.Lookup(context.Background(), tlsaName, dns.TypeTLSA)
		done <- err
	}()
	testwait.For(t, "the first lookup to reach the server", func() bool { return h.Queries() >= 1 })
	_, err := r.Lookup(context.Background(), "www.example.test.", dns.TypeA)
	if !errors.Is(err, resolver.ErrOverloaded) {
		t.Fatalf("second lookup: %v, want ErrOverloaded", err)
	}
	if s := r.Stats(); s.RefusedOverloaded != 1 {
		t.Errorf("refused counter %d, want 1", s.RefusedOverloaded)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("first lookup: %v", err)
	}
}

func TestLookupDeadline(t *testing.T) {
	hold := make(chan struct{})
	h := dnstest.Start(t, dnstest.Config{Hold: hold})
	t.Cleanup(func() { close(hold) })
	r := newResolver(t, h, func(c *resolver.Config) {
		c.LookupTimeout = 300 * time.Millisecond
		c.QueryTimeout = 30 * time.Second
	})
	start := time.Now()
	res, err := r.Lookup(context.Background(), tlsaName, dns.TypeTLSA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != resolver.Indeterminate || res.Reason == nil || res.Reason.Code != resolver.EDENoReachableAuthority {
		t.Fatalf("result %s (%s), want indeterminate with EDE 22", res.Status, res.Reason)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("lookup took %v despite a 300ms deadline", el)
	}
	if s := r.Stats(); s.DeadlineExceeded != 1 {
		t.Errorf("deadline counter %d, want 1", s.DeadlineExceeded)
	}
}

func TestTransports(t *testing.T) {
	cert, pool := selfSigned(t)
	tests := []struct {
		desc      string
		cfg       dnstest.Config
		transport resolver.Transport
		tls       bool
	}{
		{desc: "udp with tcp fallback", cfg: dnstest.Config{TruncateUDP: true}, transport: resolver.UDP},
		{desc: "tcp", cfg: dnstest.Config{TruncateUDP: true}, transport: resolver.TCP},
		{desc: "tls", cfg: dnstest.Config{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}, transport: resolver.TLS, tls: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := dnstest.Start(t, tc.cfg)
			r := newResolver(t, h, func(c *resolver.Config) {
				c.Transport = tc.transport
				if tc.tls {
					c.Upstreams = []string{h.TLSAddr()}
					c.TLSConfig = &tls.Config{RootCAs: pool}
				}
			})
			res, err := r.Lookup(context.Background(), tlsaName, dns.TypeTLSA)
			if err != nil || res.Status != resolver.Secure {
				t.Fatalf("lookup: %v %v", res, err)
			}
		})
	}
	t.Run("tls with an unverified certificate", func(t *testing.T) {
		h := dnstest.Start(t, dnstest.Config{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})
		r := newResolver(t, h, func(c *resolver.Config) {
			c.Transport = resolver.TLS
			c.Upstreams = []string{h.TLSAddr()}
			c.Attempts = 1
		})
		res, err := r.Lookup(context.Background(), tlsaName, dns.TypeTLSA)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != resolver.Indeterminate || res.Reason.Code != resolver.EDENetworkError {
			t.Fatalf("status %s (%s), want indeterminate: the certificate is not trusted", res.Status, res.Reason)
		}
	})
	t.Run("udp: the first upstream never answers", func(t *testing.T) {
		h := dnstest.Start(t, dnstest.Config{})
		silent, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { silent.Close() })
		r := newResolver(t, h, func(c *resolver.Config) {
			c.Upstreams = []string{silent.LocalAddr().String(), h.Addr()}
			c.QueryTimeout = 200 * time.Millisecond
		})
		res, err := r.Lookup(context.Background(), tlsaName, dns.TypeTLSA)
		if err != nil || res.Status != resolver.Secure {
			t.Fatalf("lookup: %v %v", res, err)
		}
		// Only the first query waits for the silent server: the next
		// ones go to the upstream that answered.
		if s := r.Stats(); s.UpstreamErrors != 1 {
			t.Errorf("%d upstream errors, want 1", s.UpstreamErrors)
		}
	})
	t.Run("several upstreams, the first dead", func(t *testing.T) {
		h := dnstest.Start(t, dnstest.Config{})
		dead := deadAddr(t)
		r := newResolver(t, h, func(c *resolver.Config) {
			c.Upstreams = []string{dead, h.Addr()}
			c.Transport = resolver.TCP
		})
		res, err := r.Lookup(context.Background(), tlsaName, dns.TypeTLSA)
		if err != nil || res.Status != resolver.Secure {
			t.Fatalf("lookup: %v %v", res, err)
		}
		if s := r.Stats(); s.UpstreamErrors == 0 {
			t.Error("no upstream error counted for the dead server")
		}
	})
}

// deadAddr returns a loopback TCP address where nothing listens.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestTrustAD(t *testing.T) {
	cert, pool := selfSigned(t)
	tests := []struct {
		desc    string
		cfg     resolver.Config
		refused bool
	}{
		{desc: "plain UDP to a remote address", cfg: resolver.Config{Upstreams: []string{"192.0.2.1"}, TrustAD: true}, refused: true},
		{desc: "one of two upstreams remote", cfg: resolver.Config{Upstreams: []string{"127.0.0.1", "192.0.2.1:53"}, TrustAD: true}, refused: true},
		{desc: "loopback", cfg: resolver.Config{Upstreams: []string{"127.0.0.1", "[::1]:5353"}, TrustAD: true}},
		{desc: "TLS to a remote address", cfg: resolver.Config{Upstreams: []string{"192.0.2.1"}, Transport: resolver.TLS, TrustAD: true}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := resolver.New(tc.cfg)
			if tc.refused != errors.Is(err, resolver.ErrTrustADRefused) || !tc.refused && err != nil {
				t.Fatalf("New: %v, refused want %v", err, tc.refused)
			}
		})
	}
	for _, ad := range []bool{true, false} {
		h := dnstest.Start(t, dnstest.Config{SetAD: ad, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})
		r, err := resolver.New(resolver.Config{Upstreams: []string{h.TLSAddr()}, Transport: resolver.TLS,
			TLSConfig: &tls.Config{RootCAs: pool}, TrustAD: true})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Lookup(context.Background(), tlsaName, dns.TypeTLSA)
		if err != nil {
			t.Fatal(err)
		}
		want := resolver.Insecure
		if ad {
			want = resolver.Secure
		}
		if res.Status != want || len(res.Records) != 1 {
			t.Errorf("AD %v: status %s with %d records, want %s with 1", ad, res.Status, len(res.Records), want)
		}
	}
}

func TestInvalidNames(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{})
	r := newResolver(t, h, nil)
	long := ""
	for range 30 {
		long += "abcdefghij."
	}
	for _, name := range []string{"", "a..b", long, " www.example.test."} {
		if _, err := r.Lookup(context.Background(), name, dns.TypeA); !errors.Is(err, resolver.ErrInvalidName) {
			t.Errorf("Lookup(%q): %v, want ErrInvalidName", name, err)
		}
	}
}

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dnstest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestCacheLifetime checks Result.TTL = min(TTL, original TTL, RRSIG
// expiration) over the chain, within the floor and ceiling.
func TestCacheLifetime(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		desc   string
		signed time.Time // signatures expire 24h after
		minTTL time.Duration
		name   string
		want   time.Duration
	}{
		{"record TTL", now, 0, tlsaName, 300 * time.Second},
		{"signature expiring first", now.Add(-24*time.Hour + 100*time.Second), 0, tlsaName, 100 * time.Second},
		{"negative: SOA minimum and NSEC TTL", now, 0, "nope.example.test.", 60 * time.Second},
		{"floor", now, 120 * time.Second, "nope.example.test.", 120 * time.Second},
		{"floor capped by signature expiration", now.Add(-24*time.Hour + 100*time.Second), 120 * time.Second, "nope.example.test.", 100 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := dnstest.Start(t, dnstest.Config{Now: tc.signed})
			r := newResolver(t, h, func(c *resolver.Config) {
				c.Time = func() time.Time { return now }
				c.MinTTL = tc.minTTL
				c.ClockSkew = -1
			})
			res, err := r.Lookup(context.Background(), tc.name, dns.TypeTLSA)
			if err != nil || res.Status != resolver.Secure {
				t.Fatalf("%v %v", res, err)
			}
			if res.TTL != tc.want {
				t.Errorf("TTL %v, want %v", res.TTL, tc.want)
			}
		})
	}
}

// TestBadUpstream: answers that do not belong to the query are not used.
func TestBadUpstream(t *testing.T) {
	tests := []struct {
		desc   string
		mangle func(q, r *dns.Msg)
	}{
		{"mismatched ID", func(q, r *dns.Msg) { r.Id = q.Id + 1 }},
		{"mismatched question", func(q, r *dns.Msg) { r.Question[0].Name = "other.example.test." }},
		{"mismatched type", func(q, r *dns.Msg) { r.Question[0].Qtype = dns.TypeA }},
		{"not a response", func(q, r *dns.Msg) { r.Response = false }},
		{"server failure", func(q, r *dns.Msg) { r.Rcode = dns.RcodeServerFailure }},
		{"refused", func(q, r *dns.Msg) { r.Rcode = dns.RcodeRefused }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := dnstest.Start(t, dnstest.Config{})
			anchors, err := resolver.ParseAnchorsString(h.Anchors())
			if err != nil {
				t.Fatal(err)
			}
			exchange := func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
				r, err := h.Exchange(ctx, q)
				if err == nil && q.Question[0].Qtype == dns.TypeTLSA {
					tc.mangle(q, r)
				}
				return r, err
			}
			r, err := resolver.New(resolver.Config{Exchange: exchange, Anchors: anchors})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Lookup(context.Background(), tlsaName, dns.TypeTLSA)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != resolver.Indeterminate || len(res.Records) != 0 {
				t.Fatalf("status %s with %d records (%s), want indeterminate and none", res.Status, len(res.Records), res.Reason)
			}
			if r.Stats().UpstreamErrors == 0 {
				t.Error("no upstream error counted")
			}
		})
	}
}

// TestTrustADServfail: in trust-AD mode, a SERVFAIL carrying a DNSSEC
// Extended DNS Error is a bogus answer; other failures are indeterminate.
func TestTrustADServfail(t *testing.T) {
	tests := []struct {
		desc   string
		ede    *dns.EDNS0_EDE
		status resolver.Status
		code   resolver.EDE
	}{
		{"bogus", &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeSignatureExpired, ExtraText: "expired"}, resolver.Bogus, resolver.EDESignatureExpired},
		{"no reachable authority", &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNoReachableAuthority}, resolver.Indeterminate, resolver.EDENetworkError},
		{"no EDE", nil, resolver.Indeterminate, resolver.EDENetworkError},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			exchange := func(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
				r := new(dns.Msg)
				r.SetRcode(q, dns.RcodeServerFailure)
				r.SetEdns0(1232, true)
				if tc.ede != nil {
					r.IsEdns0().Option = append(r.IsEdns0().Option, tc.ede)
				}
				return r, nil
			}
			r, err := resolver.New(resolver.Config{Exchange: exchange, TrustAD: true, Attempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Lookup(context.Background(), tlsaName, dns.TypeTLSA)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Reason == nil || res.Reason.Code != tc.code {
				t.Fatalf("%s (%s), want %s with EDE %d", res.Status, res.Reason, tc.status, tc.code)
			}
		})
	}
}
