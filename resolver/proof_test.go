package resolver

import (
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// proofZone is a small zone in which every kind of proof has a case:
// a.example. holds data, y.example. is an empty non-terminal above
// x.y.example., *.w.example. is a wildcard, d.example. an unsigned
// delegation and s.example. a signed one.
var proofZone = map[string][]uint16{
	"example.":     {dns.TypeSOA, dns.TypeNS},
	"a.example.":   {dns.TypeA},
	"x.y.example.": {dns.TypeA},
	"*.w.example.": {dns.TypeTXT},
	"d.example.":   {dns.TypeNS},
	"s.example.":   {dns.TypeNS, dns.TypeDS},
}

// nsecChainOf builds the whole NSEC chain of proofZone.
func nsecChainOf() denialChain {
	var names []string
	for n := range proofZone {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return canonicalCompare(names[i], names[j]) < 0 })
	c := &nsecChain{zone: "example."}
	for i, n := range names {
		types := append([]uint16{dns.TypeNSEC, dns.TypeRRSIG}, proofZone[n]...)
		c.records = append(c.records, &dns.NSEC{Hdr: dns.RR_Header{Name: n, Rrtype: dns.TypeNSEC, Class: dns.ClassINET},
			NextDomain: names[(i+1)%len(names)], TypeBitMap: types})
	}
	return c
}

// nsec3ChainOf builds the whole NSEC3 chain of proofZone (empty
// non-terminals included, RFC 5155 §7.1); with optOut, unsigned
// delegations are left out and every record has the Opt-Out flag.
func nsec3ChainOf(optOut bool) denialChain {
	type entry struct{ hash, name string }
	var entries []entry
	names := map[string]bool{"y.example.": true, "w.example.": true}
	for n := range proofZone {
		names[n] = true
	}
	for n := range names {
		if optOut && n == "d.example." {
			continue
		}
		entries = append(entries, entry{dns.HashName(n, dns.SHA1, 0, ""), n})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].hash < entries[j].hash })
	set := &nsec3Set{zone: "example.", hashes: map[string]string{}}
	for i, e := range entries {
		var flags uint8
		if optOut {
			flags = nsec3OptOut
		}
		var types []uint16
		if proofZone[e.name] != nil {
			types = append([]uint16{dns.TypeRRSIG}, proofZone[e.name]...)
		}
		set.records = append(set.records, &dns.NSEC3{Hdr: dns.RR_Header{Name: strings.ToLower(e.hash) + ".example.", Rrtype: dns.TypeNSEC3, Class: dns.ClassINET},
			Hash: dns.SHA1, Flags: flags, NextDomain: entries[(i+1)%len(entries)].hash, TypeBitMap: types})
	}
	return set
}

// TestProofEngine runs one table of proofs against the NSEC chain and the
// NSEC3 chain of the same zone: both must reach the same verdict, because
// one set of rules judges both.
func TestProofEngine(t *testing.T) {
	const nx, ok = dns.RcodeNameError, dns.RcodeSuccess
	tests := []struct {
		desc   string
		rcode  int
		name   string
		qtype  uint16
		status Status
		kind   Kind
		deleg  bool
		// optOut is the verdict with an opt-out NSEC3 chain.
		optOut Status
	}{
		{"name error", nx, "nope.example.", dns.TypeA, Secure, KindNXDomain, false, Insecure},
		{"name error below a missing name", nx, "a.nope.example.", dns.TypeA, Secure, KindNXDomain, false, Insecure},
		{"name error for a name that exists", nx, "a.example.", dns.TypeA, Bogus, 0, false, Bogus},
		{"name error for an empty non-terminal", nx, "y.example.", dns.TypeA, Bogus, 0, false, Bogus},
		{"name error under a wildcard", nx, "q.w.example.", dns.TypeA, Bogus, 0, false, Bogus},
		{"name error below a delegation", nx, "x.d.example.", dns.TypeA, Bogus, 0, false, Insecure},
		{"no data", ok, "a.example.", dns.TypeTXT, Secure, KindNoData, false, Secure},
		{"no data for a type that exists", ok, "a.example.", dns.TypeA, Bogus, 0, false, Bogus},
		{"no data at an empty non-terminal", ok, "y.example.", dns.TypeA, Secure, KindNoData, false, Secure},
		{"no data at a delegation", ok, "d.example.", dns.TypeA, Bogus, 0, false, Bogus},
		{"no DS at an insecure delegation", ok, "d.example.", dns.TypeDS, Secure, KindNoData, true, Insecure},
		{"no DS at a signed delegation", ok, "s.example.", dns.TypeDS, Bogus, 0, false, Bogus},
		{"no DS at the apex from the child", ok, "example.", dns.TypeDS, Bogus, 0, false, Bogus},
		{"wildcard no data", ok, "q.w.example.", dns.TypeA, Secure, KindNoData, false, Insecure},
		{"wildcard no data for its type", ok, "q.w.example.", dns.TypeTXT, Bogus, 0, false, Bogus},
		{"no data for a missing name without wildcard", ok, "nope.example.", dns.TypeA, Bogus, 0, false, Bogus},
	}
	chains := []struct {
		desc   string
		chain  func() denialChain
		optOut bool
	}{
		{"NSEC", nsecChainOf, false},
		{"NSEC3", func() denialChain { return nsec3ChainOf(false) }, false},
		{"NSEC3 opt-out", func() denialChain { return nsec3ChainOf(true) }, true},
	}
	for _, ch := range chains {
		for _, tc := range tests {
			t.Run(ch.desc+"/"+tc.desc, func(t *testing.T) {
				d := proveDenial(ch.chain(), tc.rcode, tc.name, tc.qtype, "example.")
				want := tc.status
				if ch.optOut {
					want = tc.optOut
				}
				if d.status != want {
					t.Fatalf("%s (%s), want %s", d.status, d.reason, want)
				}
				if want != Secure {
					if d.reason == nil {
						t.Fatal("no reason")
					}
					return
				}
				if d.kind != tc.kind || d.delegation != tc.deleg {
					t.Errorf("kind %s delegation %v, want %s %v", d.kind, d.delegation, tc.kind, tc.deleg)
				}
			})
		}
	}
}

// TestProofEngineWildcardAnswer: a wildcard expansion needs the next closer
// name, one label below the wildcard's closest encloser, proven absent.
func TestProofEngineWildcardAnswer(t *testing.T) {
	tests := []struct {
		desc      string
		name      string
		sigLabels uint8
		status    Status
		optOut    Status
	}{
		{"expansion", "q.w.example.", 2, Secure, Insecure},
		{"deep expansion", "p.q.w.example.", 2, Secure, Insecure},
		{"replayed below an existing name", "z.a.example.", 1, Bogus, Bogus},
		{"replayed at an empty non-terminal", "q.y.example.", 1, Bogus, Bogus},
		{"replayed below a delegation", "q.d.example.", 1, Bogus, Insecure},
	}
	for _, optOut := range []bool{false, true} {
		for _, tc := range tests {
			chains := map[string]denialChain{"NSEC3": nsec3ChainOf(optOut)}
			if !optOut {
				chains["NSEC"] = nsecChainOf()
			}
			for desc, c := range chains {
				if optOut {
					desc += " opt-out"
				}
				t.Run(desc+"/"+tc.desc, func(t *testing.T) {
					want := tc.status
					if optOut {
						want = tc.optOut
					}
					if got, r := proveWildcardAnswer(c, tc.name, tc.sigLabels, "example."); got != want {
						t.Fatalf("%s (%s), want %s", got, r, want)
					}
				})
			}
		}
	}
}
