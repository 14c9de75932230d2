package resolver_test

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
)

// TestOptOutProofs: every closest encloser proof whose next closer name
// lies in an opt-out span is insecure (RFC 5155 §9.2), whichever path
// checks it; a proof by a matching NSEC3 stays secure.
func TestOptOutProofs(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{Zones: map[string]dnstest.ZoneOptions{dnstest.Zone: {Denial: dnstest.NSEC3, NSEC3OptOut: true}}})
	runCases(t, newResolver(t, h, nil), []lookupCase{
		{name: "insecure.example.test.", qtype: dns.TypeDS, status: resolver.Insecure, kind: resolver.KindNoData},
		{name: "x.wild.example.test.", qtype: dns.TypeA, status: resolver.Insecure, kind: resolver.KindNoData},
		{name: "x.wild.example.test.", qtype: dns.TypeTLSA, status: resolver.Insecure, kind: resolver.KindAnswer},
		{name: "nope.example.test.", qtype: dns.TypeTLSA, status: resolver.Insecure, kind: resolver.KindNXDomain},
		{name: "www.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindNoData},
		{name: "_device.example.test.", qtype: dns.TypeDS, status: resolver.Secure, kind: resolver.KindAnswer},
		{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer},
		{name: "www.insecure.example.test.", qtype: dns.TypeA, status: resolver.Insecure, kind: resolver.KindAnswer},
	})
}

// TestNXDomainForEmptyNonTerminal: c.example.test. and b.c.example.test.
// exist as empty non-terminals above a.b.c.example.test. The NSEC that
// proves them empty, sent with RCODE NXDOMAIN, must not deny them.
func TestNXDomainForEmptyNonTerminal(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{})
	const name = "b.c.example.test."
	nodata := ask(t, h, name, dns.TypeTXT)
	if nodata.Rcode != dns.RcodeSuccess || len(nodata.Ns) == 0 {
		t.Fatalf("hierarchy answer for %s: %v", name, nodata)
	}
	replace := func(q *dns.Msg) *dns.Msg {
		if dns.CanonicalName(q.Question[0].Name) != name || q.Question[0].Qtype != dns.TypeTXT {
			return nil
		}
		m := nodata.Copy()
		m.Rcode = dns.RcodeNameError
		return m
	}
	anchors, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Exchange: forge(h, replace), Anchors: anchors})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Lookup(context.Background(), name, dns.TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != resolver.Bogus {
		t.Fatalf("NXDOMAIN for the empty non-terminal %s: %s %s, want bogus", name, res.Status, res.Kind)
	}
}

// TestNSEC3UnknownHashOnly: a negative answer whose only NSEC3 records use
// a hash algorithm this validator does not know proves nothing (RFC 5155
// §8.1: such records are ignored, and the response is bogus), even when the
// zone signed them.
func TestNSEC3UnknownHashOnly(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{Zones: map[string]dnstest.ZoneOptions{dnstest.Zone: {Denial: dnstest.NSEC3}}})
	const name = "nope.example.test."
	genuine := ask(t, h, name, dns.TypeTLSA)
	forged := genuine.Copy()
	forged.Ns = nil
	for _, rr := range genuine.Ns {
		switch x := rr.(type) {
		case *dns.NSEC3:
			n := dns.Copy(x).(*dns.NSEC3)
			n.Hash = 2
			sig, err := h.Sign(dnstest.Zone, []dns.RR{n})
			if err != nil {
				t.Fatal(err)
			}
			forged.Ns = append(forged.Ns, n, sig)
		case *dns.RRSIG:
			if x.TypeCovered != dns.TypeNSEC3 {
				forged.Ns = append(forged.Ns, x)
			}
		default:
			forged.Ns = append(forged.Ns, x)
		}
	}
	replace := func(q *dns.Msg) *dns.Msg {
		if dns.CanonicalName(q.Question[0].Name) == name && q.Question[0].Qtype == dns.TypeTLSA {
			return forged.Copy()
		}
		return nil
	}
	anchors, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Exchange: forge(h, replace), Anchors: anchors})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Lookup(context.Background(), name, dns.TypeTLSA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != resolver.Bogus || res.Reason.Code != resolver.EDENSECMissing {
		t.Fatalf("%s: %s (%s), want bogus, NSEC missing", name, res.Status, res.Reason)
	}
}
