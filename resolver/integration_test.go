package resolver_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/miekg/dns"
)

// TestAgainstKnotUnboundDelv: Knot signs and serves the zones, Unbound with
// the parent zone's key is the upstream, and delv with the same key must
// agree with every verdict.
func TestAgainstKnotUnboundDelv(t *testing.T) {
	env := dnstest.StartReal(t)
	anchors, err := resolver.ParseAnchorsString(env.Anchor)
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Upstreams: []string{env.UnboundAddr}, Anchors: anchors})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		qtype  uint16
		status resolver.Status
		kind   resolver.Kind
	}{
		{"_443._tcp.www.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindAnswer},
		{"dev1._device.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindAnswer},
		{"nope._device.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindNXDomain},
		{"www.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindNoData},
		{"alias.example.test.", dns.TypeA, resolver.Secure, resolver.KindAnswer},
		{"x.wild.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindAnswer},
		{"www.insecure.example.test.", dns.TypeA, resolver.Insecure, resolver.KindAnswer},
		{"dev1.nsec3.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindAnswer},
		{"nope.nsec3.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindNXDomain},
		{"dev1.nsec3.example.test.", dns.TypeA, resolver.Secure, resolver.KindNoData},
		{"x.wild.nsec3.example.test.", dns.TypeTLSA, resolver.Secure, resolver.KindAnswer},
		{"x.wild.nsec3.example.test.", dns.TypeA, resolver.Secure, resolver.KindNoData},
		{"nope._device.example.test.", dns.TypeDS, resolver.Secure, resolver.KindNXDomain},
		{"insecure.example.test.", dns.TypeDS, resolver.Secure, resolver.KindNoData},
		{"dev1.broken.example.test.", dns.TypeTLSA, resolver.Bogus, 0},
		{"dev1.tampered.example.test.", dns.TypeTLSA, resolver.Bogus, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			res, err := r.Lookup(context.Background(), tc.name, tc.qtype)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status {
				t.Errorf("dance: %s (%s), want %s", res.Status, res.Reason, tc.status)
			}
			if res.Status == resolver.Secure && res.Kind != tc.kind {
				t.Errorf("dance: kind %s, want %s", res.Kind, tc.kind)
			}
			if strings.HasSuffix(tc.name, dnstest.Hashed) && res.Kind != resolver.KindAnswer && !hasNSEC3(res.Msg) {
				t.Errorf("denial under %s without NSEC3: %v", dnstest.Hashed, res.Msg)
			}
			if got := env.Delv(t, tc.name, tc.qtype); got != res.Status.String() {
				t.Errorf("delv says %s, dance says %s", got, res.Status)
			}
		})
	}
}

func hasNSEC3(m *dns.Msg) bool {
	for _, rr := range m.Ns {
		if _, ok := rr.(*dns.NSEC3); ok {
			return true
		}
	}
	return false
}

// TestTrustADUnbound: trusting Unbound's AD bit over loopback gives the
// same verdicts as local validation (Unbound signals bogus answers with a
// DNSSEC Extended DNS Error).
func TestTrustADUnbound(t *testing.T) {
	env := dnstest.StartReal(t)
	r, err := resolver.New(resolver.Config{Upstreams: []string{env.UnboundAddr}, TrustAD: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		qtype  uint16
		status resolver.Status
	}{
		{"_443._tcp.www.example.test.", dns.TypeTLSA, resolver.Secure},
		{"nope._device.example.test.", dns.TypeTLSA, resolver.Secure},
		{"www.insecure.example.test.", dns.TypeA, resolver.Insecure},
		{"dev1.broken.example.test.", dns.TypeTLSA, resolver.Bogus},
		{"dev1.tampered.example.test.", dns.TypeTLSA, resolver.Bogus},
	}
	for _, tc := range tests {
		res, err := r.Lookup(context.Background(), tc.name, tc.qtype)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != tc.status {
			t.Errorf("%s: %s (%s), want %s", tc.name, res.Status, res.Reason, tc.status)
		}
	}
}
