package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/zone"
)

// TestProjectResolverValidates: the project's own validating resolver,
// anchored at DIR/anchors, proves this server's positive answers and its
// compact negative answers, and reports a removed identity as a secure
// denial.
func TestProjectResolverValidates(t *testing.T) {
	ts := startServer(t, nil)
	addRR(t, ts.zone, "s1._device.devices.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	f, err := os.Open(filepath.Join(ts.dir, zone.AnchorsFile))
	if err != nil {
		t.Fatal(err)
	}
	anchors, err := resolver.ParseAnchors(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Upstreams: []string{ts.addr}, Anchors: anchors, CacheEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := r.Lookup(ctx, "s1._device.devices.test.", dns.TypeTLSA)
	if err != nil || res.Err() != nil || len(res.Records) != 1 || res.Status != resolver.Secure {
		t.Fatalf("positive: %v %+v", err, res)
	}
	for _, name := range []string{"nobody._device.devices.test.", "_device.devices.test."} {
		res, err := r.Lookup(ctx, name, dns.TypeTLSA)
		if err != nil || res.Err() != nil || len(res.Records) != 0 || res.Kind == resolver.KindAnswer || res.Status != resolver.Secure {
			t.Fatalf("%s: %v %+v", name, err, res)
		}
	}
	del := &dns.ANY{Hdr: dns.RR_Header{Name: "s1._device.devices.test.", Rrtype: dns.TypeANY, Class: dns.ClassANY}}
	if _, err := ts.zone.Update(nil, []dns.RR{del}, zone.Policy{}); err != nil {
		t.Fatal(err)
	}
	res, err = r.Lookup(ctx, "s1._device.devices.test.", dns.TypeTLSA)
	if err != nil || res.Err() != nil || len(res.Records) != 0 || res.Kind == resolver.KindAnswer || res.Status != resolver.Secure {
		t.Fatalf("removed identity: %v %+v", err, res)
	}
}
