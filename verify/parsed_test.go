package verify

import (
	"context"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/tlsa"
	"github.com/miekg/dns"
)

// switchResolver answers every lookup with the secure records set last.
type switchResolver struct {
	mu   sync.Mutex
	data []string
}

func (s *switchResolver) set(data ...string) {
	s.mu.Lock()
	s.data = data
	s.mu.Unlock()
}

func (s *switchResolver) Lookup(ctx context.Context, name string, qtype uint16) (*resolver.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fixedResolver{s.data}.Lookup(ctx, name, qtype)
}

// rdata is the bare RDATA of the DANE-EE record of c's key.
func rdata(t testing.TB, c testident.Cred) string {
	t.Helper()
	r, err := tlsa.ForPublicKey(c.Key.Public(), tlsa.DANEEE, tlsa.MatchSHA256)
	if err != nil {
		t.Fatal(err)
	}
	return r.String()
}

// TestParsedRecordsFollowTheAnswer: the core keeps the parsed TLSA records
// of a name, but a different answer for it (a key rolled over or revoked
// within the TTL of the parse) is used at once, and a caller that writes
// into an Identity's record cannot change the records later verdicts see.
func TestParsedRecordsFollowTheAnswer(t *testing.T) {
	t.Parallel()
	const name = "sensor1._device.example.com"
	oldKey := testident.SelfSigned(t, name, identity.KeyECDSAP256)
	newKey := testident.SelfSigned(t, name, identity.KeyEd25519)
	oldRR, newRR := rdata(t, oldKey), rdata(t, newKey)
	chain := func(c testident.Cred) Presented { return Presented{Chain: []*x509.Certificate{c.Cert}} }
	r := &switchResolver{}
	// No verdict cache: every call reaches the records.
	core := newCore(t, Config{Resolver: r, Allow: mustAllow(t, "*._device.example.com"), CacheEntries: -1})
	steps := []struct {
		records []string
		cred    testident.Cred
		ok      bool
	}{
		{[]string{oldRR}, oldKey, true},
		{[]string{oldRR}, newKey, false},
		{[]string{oldRR, newRR}, newKey, true}, // rollover: both published
		{[]string{oldRR, newRR}, oldKey, true},
		{[]string{newRR}, oldKey, false}, // the old key withdrawn
		{[]string{newRR}, newKey, true},
		{[]string{newRR, "3 1 9 00"}, newKey, true}, // an unusable record beside it
		{[]string{"3 1 1 zz"}, newKey, false},       // nothing readable
		{[]string{oldRR}, oldKey, true},
	}
	for i, s := range steps {
		r.set(s.records...)
		for range 2 { // the second time from the kept parse
			id, err := core.Verify(context.Background(), name, chain(s.cred))
			if (err == nil) != s.ok {
				t.Fatalf("step %d (records %q): verdict %v, %v; want ok=%v", i, s.records, id, err, s.ok)
			}
			if err != nil {
				continue
			}
			if got := id.Record.String(); got != rdata(t, s.cred) {
				t.Fatalf("step %d: matched %q, want %q", i, got, rdata(t, s.cred))
			}
			// Spoil the returned record: the next verdict must not see it.
			for j := range id.Record.Data {
				id.Record.Data[j] ^= 0xFF
			}
		}
	}
	if n := core.parsed.Len(); n != 1 {
		t.Errorf("%d parsed RRsets kept for one name, want 1", n)
	}
}

// TestParsedRecordsKeptOnce: the same answer is parsed once; a changed one
// replaces it; an entry lasts no longer than the answer's TTL.
func TestParsedRecordsKeptOnce(t *testing.T) {
	t.Parallel()
	const name = "sensor1._device.example.com"
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	dev := testident.SelfSigned(t, name, identity.KeyECDSAP256)
	r := &switchResolver{}
	r.set(rdata(t, dev))
	core := newCore(t, Config{Resolver: r, Allow: mustAllow(t, "*._device.example.com"), Time: clock.Now})
	res, err := r.Lookup(context.Background(), name+".", 0)
	if err != nil {
		t.Fatal(err)
	}
	first := core.tlsaRecords(name, res, clock.Now(), res.TTL)
	if len(first.records) != 1 || first.bad != 0 {
		t.Fatalf("parsed %d records, %d unreadable; want 1, 0", len(first.records), first.bad)
	}
	again, _ := r.Lookup(context.Background(), name+".", 0)
	if got := core.tlsaRecords(name, again, clock.Now(), res.TTL); got != first {
		t.Error("the same records were parsed again")
	}
	changed := *again
	changed.Records = append([]dns.RR(nil), again.Records...)
	// A SHA2-256 record whose digest is too short: unusable.
	changed.Records = append(changed.Records, &dns.TLSA{Hdr: dns.RR_Header{Name: name + ".", Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: 60},
		Usage: 3, Selector: 1, MatchingType: 1, Certificate: "abcd"})
	second := core.tlsaRecords(name, &changed, clock.Now(), res.TTL)
	if second == first || len(second.records) != 1 || second.bad != 1 {
		t.Fatalf("changed records: kept parse %v, %d records, %d unreadable; want a new parse, 1, 1", second == first, len(second.records), second.bad)
	}
	if got := core.tlsaRecords(name, &changed, clock.Now(), res.TTL); got != second {
		t.Error("the changed records were parsed again")
	}
	clock.Advance(res.TTL)
	if got := core.tlsaRecords(name, &changed, clock.Now(), res.TTL); got == second {
		t.Error("a parse was used after the TTL of its answer")
	}
}

// TestCacheKeyAllocs: the verdict cache key costs no allocation per
// handshake (the hasher stays on the stack).
func TestCacheKeyAllocs(t *testing.T) {
	dev := testident.SelfSigned(t, "sensor1._device.example.com", identity.KeyECDSAP256)
	p := Presented{Chain: []*x509.Certificate{dev.Cert}}
	if n := testing.AllocsPerRun(100, func() { cacheKey("sensor1._device.example.com", p) }); n != 0 {
		t.Errorf("cacheKey allocates %v times per call, want 0", n)
	}
}
