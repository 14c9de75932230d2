package verify

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/server"
	"github.com/miekg/dns"
)

// liveZone is the project's identity zone server, started in-process on
// loopback, whose identities tests add and remove while it runs.
type liveZone struct {
	z       *zone.Zone
	addr    string
	anchors *resolver.Anchors
	srv     *server.Server
}

func startZone(t testing.TB, origin string, now func() time.Time) *liveZone {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "zone")
	res, err := zone.Init(dir, zone.InitOptions{Origin: origin, Time: now})
	if err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{Time: now})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Zone: z})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("zone server: %v", err)
		}
		z.Close()
	})
	a, err := resolver.ParseAnchorsString(res.Anchors)
	if err != nil {
		t.Fatal(err)
	}
	return &liveZone{z: z, addr: ls.Addr(), anchors: a, srv: srv}
}

func (lz *liveZone) add(t testing.TB, line string) {
	t.Helper()
	rr, err := dns.NewRR(line)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lz.z.Update(nil, []dns.RR{rr}, zone.Policy{}); err != nil {
		t.Fatal(err)
	}
}

// remove deletes every record at name (RFC 2136 §2.5.3), which is how an
// identity is revoked.
func (lz *liveZone) remove(t testing.TB, name string) {
	t.Helper()
	del := &dns.ANY{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeANY, Class: dns.ClassANY}}
	if _, err := lz.z.Update(nil, []dns.RR{del}, zone.Policy{}); err != nil {
		t.Fatal(err)
	}
}

// TestRevocation: an identity removed from the zone is refused once the
// verdict's TTL bound has passed, and not a moment later; a newly published
// one is accepted once the denial's TTL has passed. The clock is moved by
// hand, for the core and the resolver alike, so nothing sleeps.
func TestRevocation(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Now()}
	lz := startZone(t, "devices.test.", nil)
	const name = "s1._device.devices.test"
	const ttl = 60 * time.Second
	dev := testident.SelfSigned(t, name, identity.KeyEd25519)
	late := testident.SelfSigned(t, "s2._device.devices.test", identity.KeyECDSAP256)
	rec := testident.EELine(t, name, dev.Key.Public())
	rr, _ := dns.NewRR(rec)
	rr.Header().Ttl = uint32(ttl / time.Second)
	lz.add(t, rr.String())

	r, err := resolver.New(resolver.Config{Upstreams: []string{lz.addr}, Anchors: lz.anchors, Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	core := newCore(t, Config{Resolver: r, Time: clock.Now, Allow: mustAllow(t, "*._device.devices.test")})
	ctx := context.Background()
	p := Presented{Chain: []*x509.Certificate{dev.Cert}}

	id, err := core.Verify(ctx, name, p)
	if err != nil {
		t.Fatalf("published identity refused: %v", err)
	}
	if want := clock.Now().Add(ttl); id.Expires.After(want) {
		t.Errorf("verdict expires %s, after the record TTL bound %s", id.Expires, want)
	}

	lz.remove(t, name)
	clock.Advance(ttl - 2*time.Second)
	queries := r.Stats().UpstreamQueries
	if _, err := core.Verify(ctx, name, p); err != nil {
		t.Fatalf("within the TTL the cached verdict stands, got %v", err)
	}
	// The same key in a re-issued certificate misses the verdict cache and
	// is answered from the resolver's cache: that verdict must expire with
	// the record too, not a whole TTL later.
	reissued, err := identity.SelfSigned(identity.MustParseName(name), dev.Key, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rp := Presented{Chain: []*x509.Certificate{reissued}}
	id2, err := core.Verify(ctx, name, rp)
	if err != nil {
		t.Fatalf("re-issued certificate within the TTL: %v", err)
	}
	if want := id.Expires; id2.Expires.After(want) {
		t.Errorf("verdict from the resolver's cache expires %s, after the record's %s", id2.Expires, want)
	}
	if q := r.Stats().UpstreamQueries; q != queries {
		t.Errorf("%d queries for cached answers", q-queries)
	}

	clock.Advance(3 * time.Second)
	for _, pp := range []Presented{p, rp} {
		_, err = core.Verify(ctx, name, pp)
		if ReasonOf(err) != ReasonNoRecord {
			t.Fatalf("revoked identity after its TTL: %v, want %s", err, ReasonNoRecord)
		}
	}

	// Publishing: refused while the secure denial is cached, accepted
	// after.
	lp := Presented{Chain: []*x509.Certificate{late.Cert}}
	if _, err := core.Verify(ctx, "s2._device.devices.test", lp); ReasonOf(err) != ReasonNoRecord {
		t.Fatalf("unpublished identity: %v, want %s", err, ReasonNoRecord)
	}
	lz.add(t, testident.EELine(t, "s2._device.devices.test", late.Key.Public()))
	clock.Advance(DefaultMaxVerdictTTL + resolver.DefaultMaxTTL)
	if _, err := core.Verify(ctx, "s2._device.devices.test", lp); err != nil {
		t.Fatalf("newly published identity: %v", err)
	}
}
