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
	cases := []lookupCase{
		{name: "insecure.example.test.", qtype: dns.TypeDS, status: resolver.Insecure, kind: resolver.KindNoData},
		{name: "x.wild.example.test.", qtype: dns.TypeA, status: resolver.Insecure, kind: resolver.KindNoData},
		{name: "x.wild.example.test.", qtype: dns.TypeTLSA, status: resolver.Insecure, kind: resolver.KindAnswer},
		{name: "nope.example.test.", qtype: dns.TypeTLSA, status: resolver.Insecure, kind: resolver.KindNXDomain},
		{name: "www.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindNoData},
		{name: "_device.example.test.", qtype: dns.TypeDS, status: resolver.Secure, kind: resolver.KindAnswer},
		{name: "dev1._device.example.test.", qtype: dns.TypeTLSA, status: resolver.Secure, kind: resolver.KindAnswer},
		{name: "www.insecure.example.test.", qtype: dns.TypeA, status: resolver.Insecure, kind: resolver.KindAnswer},
	}
	runCases(t, newResolver(t, h, nil), cases)
	// BIND's delv agrees on the wildcard answer, and calls the other
	// closest encloser proofs with an opt-out next closer name secure,
	// which RFC 5155 §9.2 forbids.
	delvDiffers := map[string]string{
		"insecure.example.test./DS": "secure", "x.wild.example.test./A": "secure", "nope.example.test./TLSA": "secure",
	}
	for _, c := range cases {
		key := c.name + "/" + dns.TypeToString[c.qtype]
		want := c.status.String()
		if d, ok := delvDiffers[key]; ok {
			want = d
		}
		if got := h.Delv(t, c.name, c.qtype); got != want {
			t.Errorf("%s: delv says %s, want %s", key, got, want)
		}
	}
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

// TestWildcardNSECRenamed: the NSEC record of a wildcard, renamed to an
// existing name below the wildcard's parent, still verifies (its RRSIG's
// Labels field rebuilds the wildcard owner), but NSEC and NSEC3 records are
// never expanded from wildcards (RFC 4592 §4.1): it must not deny the
// existing name's data.
func TestWildcardNSECRenamed(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{Records: []string{"foo.wild.example.test. 300 IN A 192.0.2.44"}})
	const name = "foo.wild.example.test."
	nodata := ask(t, h, "www.example.test.", dns.TypeTLSA) // a signed SOA
	wildNSEC := ask(t, h, "*.wild.example.test.", dns.TypeNSEC)
	forged := new(dns.Msg)
	for _, rr := range nodata.Ns {
		if sig, ok := rr.(*dns.RRSIG); rr.Header().Rrtype == dns.TypeSOA || ok && sig.TypeCovered == dns.TypeSOA {
			forged.Ns = append(forged.Ns, rr)
		}
	}
	for _, rr := range wildNSEC.Answer {
		c := dns.Copy(rr)
		c.Header().Name = name
		forged.Ns = append(forged.Ns, c)
	}
	if len(forged.Ns) != 4 {
		t.Fatalf("hierarchy answers unexpected: %v / %v", nodata, wildNSEC)
	}
	replace := func(q *dns.Msg) *dns.Msg {
		if dns.CanonicalName(q.Question[0].Name) == name && q.Question[0].Qtype == dns.TypeA {
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
	res, err := r.Lookup(context.Background(), name, dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != resolver.Bogus {
		t.Fatalf("renamed wildcard NSEC denies %s A: %s %s", name, res.Status, res.Kind)
	}
}

// TestDNSKEYSignedAsWildcard: a DNSKEY RRset whose only RRSIG, made with
// the zone's key, has a Labels field below the apex's label count (a
// signature over a wildcard owner) does not validate the zone's keys: the
// apex RRset is never a wildcard expansion.
func TestDNSKEYSignedAsWildcard(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{})
	genuine := ask(t, h, dnstest.Zone, dns.TypeDNSKEY)
	var keys []dns.RR
	for _, rr := range genuine.Answer {
		if rr.Header().Rrtype == dns.TypeDNSKEY {
			c := dns.Copy(rr)
			c.Header().Name = "*.test."
			keys = append(keys, c)
		}
	}
	sig, err := h.Sign(dnstest.Zone, keys)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Labels != 1 {
		t.Fatalf("signature over *.test. has %d labels", sig.Labels)
	}
	sig.Hdr.Name = dnstest.Zone
	forged := new(dns.Msg)
	for _, rr := range keys {
		c := dns.Copy(rr)
		c.Header().Name = dnstest.Zone
		forged.Answer = append(forged.Answer, c)
	}
	forged.Answer = append(forged.Answer, sig)
	replace := func(q *dns.Msg) *dns.Msg {
		if dns.CanonicalName(q.Question[0].Name) == dnstest.Zone && q.Question[0].Qtype == dns.TypeDNSKEY {
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
	res, err := r.Lookup(context.Background(), "_443._tcp.www.example.test.", dns.TypeTLSA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != resolver.Bogus {
		t.Fatalf("DNSKEY RRset signed as a wildcard expansion: %s", res.Status)
	}
}
