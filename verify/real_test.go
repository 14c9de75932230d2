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

// TestVerifyRealSoftware runs the core over the real-software set-up:
// Knot signs and serves the zones; the project's resolver either validates
// Knot's answers itself or trusts the AD bit of Unbound on loopback. The
// published keys are not this test's, so every verdict is a refusal, and
// each must carry the reason the DNS answer calls for.
func TestVerifyRealSoftware(t *testing.T) {
	t.Parallel()
	real := dnstest.StartReal(t)
	anchors, err := resolver.ParseAnchorsString(real.Anchor)
	if err != nil {
		t.Fatal(err)
	}
	dev := testident.SelfSigned(t, "dev1._device.example.test", identity.KeyECDSAP256)
	p := Presented{Chain: []*x509.Certificate{dev.Cert}}
	resolvers := map[string]resolver.Config{
		"validating, knot":  {Upstreams: []string{real.KnotAddr}, Anchors: anchors},
		"trust-ad, unbound": {Upstreams: []string{real.UnboundAddr}, Anchors: anchors, TrustAD: true},
	}
	tests := []struct {
		name   string
		reason Reason
	}{
		{"dev1._device.example.test", ReasonNoMatch},           // secure, another key
		{"nobody._device.example.test", ReasonNoRecord},        // secure denial
		{"dev1.broken.example.test", ReasonDNSBogus},           // DS from another key
		{"dev1.nsec3.example.test", ReasonNoMatch},             // NSEC3 zone, secure
		{"nobody.nsec3.example.test", ReasonNoRecord},          // NSEC3 denial
		{"x._device.insecure.example.test", ReasonDNSInsecure}, // unsigned delegation
	}
	for rname, cfg := range resolvers {
		t.Run(rname, func(t *testing.T) {
			r, err := resolver.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			core := newCore(t, Config{Resolver: r, Allow: mustAllow(t, "*.example.test")})
			// The proxy that alters TLSA data sits between Unbound and Knot:
			// Unbound sees a bad signature, Knot's own answer is intact.
			tampered := ReasonNoMatch
			if cfg.TrustAD {
				tampered = ReasonDNSBogus
			}
			for _, tc := range append(tests, struct {
				name   string
				reason Reason
			}{"dev1.tampered.example.test", tampered}) {
				_, err := core.Verify(context.Background(), tc.name, p)
				if got := ReasonOf(err); got != tc.reason {
					t.Errorf("%s: reason %s (%v), want %s", tc.name, got, err, tc.reason)
				}
			}
		})
	}
}
