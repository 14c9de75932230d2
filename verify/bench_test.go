package verify

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/resolver"
)

// BenchmarkVerify measures one verdict of the core with the resolver's
// cache warm: "miss" with the verdict cache off (what a new certificate or
// an expired verdict costs: lookup from the resolver's cache, records,
// tlsa.Match, policy), "hit" with it on (the steady state). The user case
// is a DANE-TA match of a user CA at _user.domain, where many users'
// certificates share one RRset.
func BenchmarkVerify(b *testing.B) {
	dev := testident.SelfSigned(b, "sensor1._device.example.test", identity.KeyECDSAP256)
	users := testident.NewCA(b, identity.UserCA, "example.test", identity.Options{})
	next := testident.NewCA(b, identity.UserCA, "example.test", identity.Options{})
	alice := testident.IssueUser(b, "alice", "example.test", users)
	h := dnstest.Start(b, dnstest.Config{Records: []string{
		testident.EELine(b, "sensor1._device.example.test", dev.Key.Public()),
		// Two user CAs, as during a CA rollover.
		testident.TALine(b, "_user.example.test", next.Cert),
		testident.TALine(b, "_user.example.test", users.Cert),
	}})
	r := testident.Resolver(b, h, resolver.Config{Exchange: h.Exchange})
	allow := mustAllow(b, "*._device.example.test", "_user.example.test")
	cases := []struct {
		name  string
		claim string
		p     Presented
	}{
		{"device-ee", "sensor1._device.example.test", Presented{Chain: []*x509.Certificate{dev.Cert}}},
		{"user-ta", "_user.example.test", Presented{Chain: []*x509.Certificate{alice.Cert, users.Cert}}},
	}
	for _, cache := range []struct {
		name    string
		entries int
	}{{"miss", -1}, {"hit", 0}} {
		core := newCore(b, Config{Resolver: r, Allow: allow, CacheEntries: cache.entries})
		for _, tc := range cases {
			b.Run(tc.name+"/"+cache.name, func(b *testing.B) {
				ctx := context.Background()
				if _, err := core.Verify(ctx, tc.claim, tc.p); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := core.Verify(ctx, tc.claim, tc.p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
