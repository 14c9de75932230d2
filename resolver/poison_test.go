package resolver_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
)

// TestForgedChainAnswerSpoilsOneLookup injects one forged answer into the
// chain walk (the DS or DNSKEY query of a zone cut) and checks that it spoils
// the lookup that met it, not the next ones: no zone-cut state derived from
// data that did not validate is cached. The forged packet is sent once; the
// next lookup of another name in the zone, at once, and of the same name
// after the RFC 9520 failure cache of that one result, must be Secure.
func TestForgedChainAnswerSpoilsOneLookup(t *testing.T) {
	// The wildcard CNAME signs an expansion that a forger can replay at any
	// name of the zone, the zone cut _device.example.test included.
	h := dnstest.Start(t, dnstest.Config{Records: []string{"*.example.test. 300 IN CNAME www.example.test."}})
	tests := []struct {
		desc  string
		qname string
		qtype uint16
		// forged builds the forger's answer from the genuine one.
		forged func(genuine *dns.Msg) *dns.Msg
	}{
		{"unsigned CNAME for the DS", dnstest.Device, dns.TypeDS, func(*dns.Msg) *dns.Msg {
			m := new(dns.Msg)
			m.Answer = []dns.RR{&dns.CNAME{Hdr: dns.RR_Header{Name: dnstest.Device, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 3600},
				Target: "elsewhere.example.test."}}
			return m
		}},
		{"CNAME for the DS with a broken signature", dnstest.Device, dns.TypeDS, func(g *dns.Msg) *dns.Msg {
			m := new(dns.Msg)
			m.Answer = []dns.RR{&dns.CNAME{Hdr: dns.RR_Header{Name: dnstest.Device, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 3600},
				Target: "elsewhere.example.test."}}
			for _, rr := range g.Answer {
				if s, ok := rr.(*dns.RRSIG); ok {
					s = dns.Copy(s).(*dns.RRSIG)
					s.TypeCovered = dns.TypeCNAME
					m.Answer = append(m.Answer, s)
				}
			}
			return m
		}},
		{"signed CNAME expanded from a wildcard for the DS", dnstest.Device, dns.TypeDS, func(*dns.Msg) *dns.Msg {
			m := new(dns.Msg)
			for _, rr := range ask(t, h, "other.example.test.", dns.TypeDS).Answer {
				c := dns.Copy(rr)
				c.Header().Name = dnstest.Device
				m.Answer = append(m.Answer, c)
			}
			return m
		}},
		{"DS with a broken signature", dnstest.Device, dns.TypeDS, func(g *dns.Msg) *dns.Msg {
			m := g.Copy()
			for _, rr := range m.Answer {
				if ds, ok := rr.(*dns.DS); ok {
					ds.KeyTag++
				}
			}
			return m
		}},
		{"DS denial without proof", dnstest.Device, dns.TypeDS, func(g *dns.Msg) *dns.Msg {
			m := new(dns.Msg)
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: dnstest.Zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 3600},
				Ns: "ns.example.test.", Mbox: "h.example.test.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 3600}}
			return m
		}},
		{"unsigned DNSKEY RRset", dnstest.Device, dns.TypeDNSKEY, func(g *dns.Msg) *dns.Msg {
			m := g.Copy()
			var keep []dns.RR
			for _, rr := range m.Answer {
				if rr.Header().Rrtype != dns.TypeRRSIG {
					keep = append(keep, rr)
				}
			}
			m.Answer = keep
			return m
		}},
		{"empty DNSKEY answer", dnstest.Device, dns.TypeDNSKEY, func(*dns.Msg) *dns.Msg { return new(dns.Msg) }},
		{"root DNSKEY RRset with a broken signature", dnstest.Root, dns.TypeDNSKEY, func(g *dns.Msg) *dns.Msg {
			m := g.Copy()
			for _, rr := range m.Answer {
				if s, ok := rr.(*dns.RRSIG); ok {
					s.OrigTtl++
				}
			}
			return m
		}},
	}
	anchors, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			genuine := ask(t, h, tc.qname, tc.qtype)
			var mu sync.Mutex
			injected := 0
			replace := func(q *dns.Msg) *dns.Msg {
				mu.Lock()
				defer mu.Unlock()
				if injected > 0 || dns.CanonicalName(q.Question[0].Name) != tc.qname || q.Question[0].Qtype != tc.qtype {
					return nil
				}
				injected++
				m := tc.forged(genuine)
				m.SetEdns0(4096, true)
				return m
			}
			now := time.Now()
			var clock sync.Mutex
			r, err := resolver.New(resolver.Config{Exchange: forge(h, replace), Anchors: anchors,
				Time: func() time.Time { clock.Lock(); defer clock.Unlock(); return now }})
			if err != nil {
				t.Fatal(err)
			}
			lookup := func(name string) *resolver.Result {
				t.Helper()
				res, err := r.Lookup(context.Background(), name, dns.TypeTLSA)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			if res := lookup("dev1._device.example.test."); res.Status == resolver.Secure {
				t.Fatalf("the forged %s %s answer went unnoticed", tc.qname, dns.TypeToString[tc.qtype])
			}
			if injected != 1 {
				t.Fatalf("forged answer sent %d times, want 1", injected)
			}
			if res := lookup("dev2._device.example.test."); res.Status != resolver.Secure {
				t.Fatalf("the lookup after the forged answer: %s (%s), want secure", res.Status, res.Reason)
			}
			clock.Lock()
			now = now.Add(resolver.DefaultMinTTL + time.Second)
			clock.Unlock()
			if res := lookup("dev1._device.example.test."); res.Status != resolver.Secure {
				t.Fatalf("the spoiled name once its failure expired: %s (%s), want secure", res.Status, res.Reason)
			}
		})
	}
}

// TestChainWalkThroughAliases: the chain walk meets genuine signed CNAME
// and DNAME records, literal or expanded from a wildcard, where it asks for
// DS records (RFC 1034 §3.6.2, RFC 6672
// §2.3): they are no zone cut, and an unsigned answer below them in the
// secure zone is bogus, not insecure.
func TestChainWalkThroughAliases(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{Records: []string{"*.example.test. 300 IN CNAME www.example.test."}})
	// x.foo.example.test.: the DS queries for foo and x.foo are answered
	// with expansions of the wildcard CNAME, and the proof that they are.
	for _, name := range []string{"x.alias.example.test.", "x.dev9.olddevices.example.test.", "x.foo.example.test."} {
		t.Run(name, func(t *testing.T) {
			unsigned := func(q *dns.Msg) *dns.Msg {
				if dns.CanonicalName(q.Question[0].Name) != name || q.Question[0].Qtype != dns.TypeA {
					return nil
				}
				m := new(dns.Msg)
				m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: []byte{192, 0, 2, 99}}}
				return m
			}
			anchors, err := resolver.ParseAnchorsString(h.Anchors())
			if err != nil {
				t.Fatal(err)
			}
			r, err := resolver.New(resolver.Config{Exchange: forge(h, unsigned), Anchors: anchors})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Lookup(context.Background(), name, dns.TypeA)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != resolver.Bogus || res.Reason.Code != resolver.EDERRSIGsMissing || !strings.Contains(res.Reason.Text, "is not signed") {
				t.Fatalf("unsigned answer for %s: %s (%s), want bogus with RRSIGs missing", name, res.Status, res.Reason)
			}
		})
	}
}
