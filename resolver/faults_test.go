package resolver_test

import (
	"context"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/miekg/dns"
)

// TestFaults injects one defect into one zone and checks the verdict on
// names in and below that zone.
func TestFaults(t *testing.T) {
	tests := []struct {
		desc   string
		zone   string
		opts   dnstest.ZoneOptions
		cases  []lookupCase
		config dnstest.Config
		// delvDiffers records where BIND's delv reaches another verdict,
		// by name, and why (in the case's comment).
		delvDiffers map[string]resolver.Status
	}{
		{desc: "expired signatures", zone: dnstest.Device, opts: dnstest.ZoneOptions{Fault: dnstest.ExpiredSignatures},
			cases: []lookupCase{
				{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDESignatureExpired},
				{name: "www.example.test.", qtype: dns.TypeA, status: resolver.Secure, kind: resolver.KindAnswer},
			}},
		{desc: "not yet valid signatures", zone: dnstest.Zone, opts: dnstest.ZoneOptions{Fault: dnstest.NotYetValidSignatures},
			cases: []lookupCase{
				{name: "_443._tcp.www.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDESignatureNotYetValid},
				{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus},
			}},
		{desc: "wrong key", zone: dnstest.Zone, opts: dnstest.ZoneOptions{Fault: dnstest.WrongKey},
			cases: []lookupCase{
				{name: "_443._tcp.www.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDEDNSKEYMissing},
				{name: "nope.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus},
			}},
		{desc: "missing DS", zone: dnstest.Device, opts: dnstest.ZoneOptions{Fault: dnstest.MissingDS},
			cases: []lookupCase{
				{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Insecure, kind: resolver.KindAnswer},
				{name: "_443._tcp.www.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer},
			}},
		{desc: "missing DS under NSEC3", zone: dnstest.Device, opts: dnstest.ZoneOptions{Fault: dnstest.MissingDS},
			config: dnstest.Config{Zones: map[string]dnstest.ZoneOptions{dnstest.Zone: {Denial: dnstest.NSEC3}}},
			cases: []lookupCase{
				{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Insecure, kind: resolver.KindAnswer},
			}},
		{desc: "mismatched DS", zone: dnstest.Device, opts: dnstest.ZoneOptions{Fault: dnstest.MismatchedDS},
			cases: []lookupCase{
				{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDEDNSKEYMissing},
			}},
		{desc: "stripped signatures", zone: dnstest.Zone, opts: dnstest.ZoneOptions{Fault: dnstest.StripSignatures},
			cases: []lookupCase{
				{name: "_443._tcp.www.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDERRSIGsMissing},
				{name: "nope.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus},
			}},
		{desc: "broken denial", zone: dnstest.Zone, opts: dnstest.ZoneOptions{Fault: dnstest.BrokenDenial},
			cases: []lookupCase{
				{name: "nope.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDENSECMissing},
				{name: "www.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDENSECMissing},
				{name: "x.wild.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDENSECMissing},
				{name: "www.example.test.", qtype: dns.TypeA, status: resolver.Secure, kind: resolver.KindAnswer},
			}},
		{desc: "broken denial under NSEC3", zone: dnstest.Zone, opts: dnstest.ZoneOptions{Fault: dnstest.BrokenDenial, Denial: dnstest.NSEC3},
			cases: []lookupCase{
				{name: "nope.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDENSECMissing},
				{name: "x.wild.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDENSECMissing},
			}},
		// BIND still validates SHA-1 DS digests and RSASHA1; this resolver
		// treats them as insecure on purpose.
		{desc: "SHA-1 DS only", zone: dnstest.Device, opts: dnstest.ZoneOptions{DSDigest: dns.SHA1},
			delvDiffers: map[string]resolver.Status{"dev1._device.example.test.": resolver.Secure},
			cases: []lookupCase{
				{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Insecure, kind: resolver.KindAnswer, ede: resolver.EDEUnsupportedDSDigest},
			}},
		{desc: "RSASHA1 zone", zone: dnstest.Device, opts: dnstest.ZoneOptions{Algorithm: dns.RSASHA1},
			delvDiffers: map[string]resolver.Status{"dev1._device.example.test.": resolver.Secure},
			cases: []lookupCase{
				{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Insecure, kind: resolver.KindAnswer, ede: resolver.EDEUnsupportedDNSKEYAlgorithm},
			}},
		// BIND 9.18 accepts up to 150 iterations and answers insecure above;
		// this resolver's limits are 50 (insecure) and 150 (bogus).
		{desc: "NSEC3 iterations above the insecure limit", zone: dnstest.Zone, opts: dnstest.ZoneOptions{Denial: dnstest.NSEC3, NSEC3Iterations: 100},
			delvDiffers: map[string]resolver.Status{"nope.example.test.": resolver.Secure, "x.wild.example.test.": resolver.Secure},
			cases: []lookupCase{
				{name: "nope.example.test.", qtype: dns.TypeTLSA, status: resolver.Insecure, kind: resolver.KindNXDomain, ede: resolver.EDEUnsupportedNSEC3Iterations},
				{name: "x.wild.example.test.", qtype: dns.TypeTLSA, status: resolver.Insecure, kind: resolver.KindAnswer, ede: resolver.EDEUnsupportedNSEC3Iterations},
				{name: "_443._tcp.www.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer},
			}},
		{desc: "NSEC3 iterations above the bogus limit", zone: dnstest.Zone, opts: dnstest.ZoneOptions{Denial: dnstest.NSEC3, NSEC3Iterations: 500},
			delvDiffers: map[string]resolver.Status{"nope.example.test.": resolver.Insecure},
			cases: []lookupCase{
				{name: "nope.example.test.", qtype: dns.TypeTLSA, status: resolver.Bogus, ede: resolver.EDEUnsupportedNSEC3Iterations},
			}},
		// An NXDOMAIN proven only by an opt-out span: BIND calls it secure;
		// this resolver, like Unbound, calls it insecure (the name may be an
		// unsigned delegation inside the span).
		{desc: "NSEC3 opt-out", zone: dnstest.Zone, opts: dnstest.ZoneOptions{Denial: dnstest.NSEC3, NSEC3OptOut: true},
			delvDiffers: map[string]resolver.Status{"nope.example.test.": resolver.Secure},
			cases: []lookupCase{
				{name: "www.insecure.example.test.", qtype: dns.TypeA, status: resolver.Insecure, kind: resolver.KindAnswer},
				{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer},
				{name: "nope.example.test.", qtype: dns.TypeTLSA, status: resolver.Insecure, kind: resolver.KindNXDomain},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel() // delv waits out timeouts on bogus zones
			cfg := tc.config
			if cfg.Zones == nil {
				cfg.Zones = map[string]dnstest.ZoneOptions{}
			}
			cfg.Zones[tc.zone] = tc.opts
			h := dnstest.Start(t, cfg)
			runCases(t, newResolver(t, h, nil), tc.cases)
			// BIND's validator must agree.
			for _, c := range tc.cases {
				if c.name == "loop1.example.test." {
					continue
				}
				want := c.status
				if d, ok := tc.delvDiffers[c.name]; ok {
					want = d
				}
				if got := h.Delv(t, c.name, c.qtype); got != want.String() {
					t.Errorf("%s %s: delv says %s, want %s", c.name, dns.TypeToString[c.qtype], got, want)
				}
			}
		})
	}
}

func TestAlgorithms(t *testing.T) {
	for _, alg := range []uint8{dns.RSASHA256, dns.RSASHA512, dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519} {
		t.Run(dns.AlgorithmToString[alg], func(t *testing.T) {
			t.Parallel()
			zones := map[string]dnstest.ZoneOptions{
				dnstest.Zone:   {Algorithm: alg},
				dnstest.Device: {Algorithm: alg, DSDigest: dns.SHA384},
			}
			h := dnstest.Start(t, dnstest.Config{Zones: zones})
			runCases(t, newResolver(t, h, nil), []lookupCase{
				{name: "_443._tcp.www.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer},
				{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer},
				{name: "nope._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindNXDomain},
			})
		})
	}
}

// TestClock checks signature windows against the injected clock and the
// clock skew.
func TestClock(t *testing.T) {
	signed := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // valid from 11:00 to 12:00 next day
	h := dnstest.Start(t, dnstest.Config{Now: signed})
	tests := []struct {
		at     time.Time
		skew   time.Duration
		status resolver.Status
		ede    resolver.EDE
	}{
		{signed, 0, resolver.Secure, 0},
		{signed.Add(23 * time.Hour), 0, resolver.Secure, 0},
		{signed.Add(25 * time.Hour), time.Minute, resolver.Bogus, resolver.EDESignatureExpired},
		{signed.Add(24*time.Hour + 2*time.Minute), 5 * time.Minute, resolver.Secure, 0},
		{signed.Add(-2 * time.Hour), time.Minute, resolver.Bogus, resolver.EDESignatureNotYetValid},
		{signed.Add(-time.Hour - 2*time.Minute), 5 * time.Minute, resolver.Secure, 0},
	}
	for _, tc := range tests {
		t.Run(tc.at.Format(time.RFC3339)+"/"+tc.skew.String(), func(t *testing.T) {
			r := newResolver(t, h, func(c *resolver.Config) {
				c.Time = func() time.Time { return tc.at }
				c.ClockSkew = tc.skew
			})
			res, err := r.Lookup(context.Background(), "_443._tcp.www.example.test.", dns.TypeTLSA)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status {
				t.Fatalf("status %s, want %s (%s)", res.Status, tc.status, res.Reason)
			}
			if tc.ede != 0 && res.Reason.Code != tc.ede {
				t.Errorf("reason %s, want EDE %d", res.Reason, tc.ede)
			}
		})
	}
}
