package zone

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
)

// longName builds a name under origin whose wire form is total octets long
// and whose first label is first octets long (filled with 'a'; inner
// labels of 'm').
func longName(t testing.TB, total, first int) string {
	t.Helper()
	base := wireLen(mustLabels(t, origin))
	rest := total - base - (1 + first)
	if rest < 0 {
		t.Fatalf("no room for a %d-octet first label in %d octets", first, total)
	}
	var mid []string
	for rest > 0 {
		n := min(maxLabel, rest-1)
		if rest-(n+1) == 1 {
			// A remainder of one octet cannot be a label: shorten this one.
			n--
		}
		mid = append(mid, strings.Repeat("m", n))
		rest -= n + 1
	}
	name := strings.Repeat("a", first) + "."
	for _, m := range mid {
		name += m + "."
	}
	name += origin
	if got := wireLen(mustLabels(t, name)); got != total {
		t.Fatalf("built a name of %d octets, want %d", got, total)
	}
	return name
}

func mustLabels(t testing.TB, name string) [][]byte {
	t.Helper()
	ls, err := labelsOf(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ls
}

// neighbours lists names next to name in canonical order that a zone
// could hold: its children, its siblings one octet either side, and the
// children of those, all within the length limits.
func neighbours(t testing.TB, name string) []string {
	ls := mustLabels(t, name)
	var out []string
	add := func(cand [][]byte) {
		if wireLen(cand) > maxNameWire {
			return
		}
		for _, l := range cand {
			if len(l) == 0 || len(l) > maxLabel {
				return
			}
		}
		s, err := nameOf(cand)
		if err == nil {
			out = append(out, s)
		}
	}
	with := func(first []byte, below ...[]byte) [][]byte {
		c := append([][]byte{}, below...)
		c = append(c, first)
		return append(c, ls[1:]...)
	}
	f := ls[0]
	last := f[len(f)-1]
	for _, sib := range [][]byte{
		append(append([]byte{}, f...), 0),
		append(append([]byte{}, f...), 0xff),
		append(append([]byte{}, f[:len(f)-1]...), last+1),
		append(append([]byte{}, f[:len(f)-1]...), last-1),
		append(append([]byte{}, f[:len(f)-1]...), last-1, 0xff),
		f[:len(f)-1],
	} {
		add(with(sib))
		add(with(sib, []byte{0}))
		add(with(sib, []byte{0xff}))
	}
	add(with(f, []byte{0}))
	add(with(f, []byte{'a'}))
	add(with(f, []byte{0xff}))
	return out
}

// TestNeighbourNames: the predecessor and the name after a subtree bound
// the name with nothing a zone could hold in between, within the length
// limits, and with upper-case octets stepped over.
func TestNeighbourNames(t *testing.T) {
	tests := []struct {
		name     string
		wantPred string // "" : only the properties are checked
		wantNext string // the name after name's subtree
		wantSucc string // the immediate successor
	}{
		{name: "b.devices.test.", wantNext: "b\\000.devices.test.", wantSucc: "\\000.b.devices.test."},
		{name: "\\000.devices.test.", wantPred: "devices.test.", wantNext: "\\000\\000.devices.test."},
		{name: "b\\000.devices.test."},
		{name: "dev42._device.devices.test.", wantNext: "dev42\\000._device.devices.test."},
		// '[' follows '@' once upper case folds into lower case.
		{name: "x[._device.devices.test."},
		{name: "x\\@._device.devices.test.", wantNext: "x\\@\\000._device.devices.test."},
		{name: longName(t, 253, 10), wantSucc: "\\000." + longName(t, 253, 10)},
		{name: longName(t, 254, 10), wantSucc: strings.Replace(longName(t, 254, 10), "aaaaaaaaaa.", "aaaaaaaaaa\\000.", 1)},
		{name: longName(t, 255, 10), wantSucc: strings.Replace(longName(t, 255, 10), "aaaaaaaaaa.", "aaaaaaaaab.", 1)},
		{name: longName(t, 254, 63)},
		{name: longName(t, 200, 63), wantNext: strings.Replace(longName(t, 200, 63), strings.Repeat("a", 63)+".", strings.Repeat("a", 62)+"b.", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name[:min(len(tt.name), 40)], func(t *testing.T) {
			pred, err := predecessor(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			next, err := afterSubtree(mustLabels(t, tt.name), origin)
			if err != nil {
				t.Fatal(err)
			}
			succ, err := immediateSuccessor(tt.name, origin)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantPred != "" && pred != tt.wantPred {
				t.Errorf("predecessor %s, want %s", pred, tt.wantPred)
			}
			if tt.wantNext != "" && next != tt.wantNext {
				t.Errorf("after subtree %s, want %s", next, tt.wantNext)
			}
			if tt.wantSucc != "" && succ != tt.wantSucc {
				t.Errorf("successor %s, want %s", succ, tt.wantSucc)
			}
			for _, n := range []string{pred, next, succ} {
				if _, err := labelsOf(n); err != nil {
					t.Fatalf("%s does not pack: %v", n, err)
				}
				if !dns.IsSubDomain(origin, n) {
					t.Errorf("%s is outside the zone", n)
				}
			}
			if !canonicalLess(pred, tt.name) || !canonicalLess(tt.name, next) || !canonicalLess(tt.name, succ) {
				t.Fatalf("order: %s < %s < %s / %s does not hold", pred, tt.name, next, succ)
			}
			if succ != next && !canonicalLess(succ, next) {
				t.Errorf("successor %s after the end of the subtree %s", succ, next)
			}
			// Nothing in between. Children of name sort between name and
			// the end of its subtree: that is what afterSubtree is for.
			for _, c := range append(neighbours(t, tt.name), append(neighbours(t, pred), neighbours(t, next)...)...) {
				if canonicalLess(pred, c) && canonicalLess(c, tt.name) {
					t.Errorf("%s lies between the predecessor %s and %s", c, pred, tt.name)
				}
				if canonicalLess(tt.name, c) && canonicalLess(c, succ) {
					t.Errorf("%s lies between %s and its successor %s", c, tt.name, succ)
				}
				if canonicalLess(tt.name, c) && canonicalLess(c, next) && !dns.IsSubDomain(tt.name, c) {
					t.Errorf("%s lies between %s and the end of its subtree %s", c, tt.name, next)
				}
			}
		})
	}
}

// TestWildcardOwners: updates and the admin path (Apply) accept identity
// records at *.NAME, refuse asterisks anywhere else and non-identity types
// at a wildcard, and the key policy's subtree applies to wildcards.
func TestWildcardOwners(t *testing.T) {
	const wild = "*._device.devices.test."
	tlsa := func(name string) string { return name + " 300 IN TLSA 2 0 1 " + strings.Repeat("ab", 32) }
	tests := []struct {
		name   string
		rr     string
		policy Policy
		rcode  int
		reason string
	}{
		{"wildcard TLSA", tlsa(wild), Policy{}, dns.RcodeSuccess, ""},
		{"wildcard SSHFP", wild + " 300 IN SSHFP 4 2 " + strings.Repeat("cd", 32), Policy{}, dns.RcodeSuccess, ""},
		{"wildcard at the apex", tlsa("*." + origin), Policy{}, dns.RcodeSuccess, ""},
		{"wildcard in the key's subtree", tlsa(wild), Policy{Subtree: "_device.devices.test."}, dns.RcodeSuccess, ""},
		{"wildcard above the key's subtree", tlsa(wild), Policy{Subtree: "s1._device.devices.test."}, dns.RcodeRefused, "outside the key's subtree"},
		{"wildcard of another type", wild + " 300 IN TXT hello", Policy{}, dns.RcodeRefused, "not allowed"},
		{"asterisk inside", tlsa("a.*._device.devices.test."), Policy{}, dns.RcodeRefused, "only allowed leftmost"},
		{"asterisk twice", tlsa("*.*._device.devices.test."), Policy{}, dns.RcodeRefused, "only allowed leftmost"},
		{"escaped asterisk", tlsa("\\042._device.devices.test."), Policy{}, dns.RcodeRefused, "escaped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			z, _ := newZone(t, clock)
			before := z.Serial()
			_, err := z.Update(nil, []dns.RR{rr(t, tt.rr)}, tt.policy)
			if got := RcodeOf(err); got != tt.rcode {
				t.Fatalf("rcode %s (%v), want %s", dns.RcodeToString[got], err, dns.RcodeToString[tt.rcode])
			}
			if tt.rcode != dns.RcodeSuccess {
				if !strings.Contains(err.Error(), tt.reason) {
					t.Errorf("error %q does not say %q", err, tt.reason)
				}
				if z.Serial() != before {
					t.Error("a refused update changed the serial")
				}
				return
			}
			h := rr(t, tt.rr).Header()
			if got := z.Get(h.Name, h.Rrtype); len(got) != 1 {
				t.Fatalf("%s: %d records after the update", h.Name, len(got))
			}
		})
	}
	// The admin API's path: Apply with the same owner checks.
	clock := newClock()
	z, _ := newZone(t, clock)
	for _, c := range []struct {
		name string
		ok   bool
	}{{wild, true}, {"a.*._device.devices.test.", false}} {
		rec, err := z.ParseRecord(c.name, "TLSA", "2 0 1 "+strings.Repeat("ab", 32), 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = z.Apply([]Change{{Mode: change.Replace, Name: c.name, Records: []dns.RR{rec}}})
		if (err == nil) != c.ok {
			t.Errorf("Apply at %s: %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && RcodeOf(err) != dns.RcodeRefused {
			t.Errorf("Apply at %s: rcode %s, want REFUSED", c.name, dns.RcodeToString[RcodeOf(err)])
		}
	}
}

// sharedSuffix is the longest common ancestor of two names: the closest
// encloser a validator derives from an NSEC (the longer of the owner's and
// the next name's shared suffix with the query name).
func sharedSuffix(a, b string) string {
	la, lb := dns.SplitDomainName(dns.CanonicalName(a)), dns.SplitDomainName(dns.CanonicalName(b))
	n := 0
	for n < len(la) && n < len(lb) && unescapeLabel(la[len(la)-1-n]) == unescapeLabel(lb[len(lb)-1-n]) {
		n++
	}
	if n == 0 {
		return "."
	}
	return strings.Join(la[len(la)-n:], ".") + "."
}

// verifySigs checks every RRSIG in rrs over the RRset it covers with the
// zone's DNSKEYs, as a validator would (a wildcard expansion is
// reconstructed from the labels field, RFC 4035 §5.3.2).
func verifySigs(t *testing.T, z *Zone, rrs []dns.RR) int {
	t.Helper()
	keys := map[uint16]*dns.DNSKEY{}
	for _, k := range z.Get(origin, dns.TypeDNSKEY) {
		keys[k.(*dns.DNSKEY).KeyTag()] = k.(*dns.DNSKEY)
	}
	n := 0
	for _, r := range rrs {
		sig, ok := r.(*dns.RRSIG)
		if !ok {
			continue
		}
		var set []dns.RR
		for _, o := range rrs {
			if o.Header().Rrtype == sig.TypeCovered && o.Header().Name == sig.Hdr.Name {
				set = append(set, o)
			}
		}
		k := keys[sig.KeyTag]
		if k == nil {
			t.Fatalf("RRSIG by unknown key %d", sig.KeyTag)
		}
		if err := sig.Verify(k, set); err != nil {
			t.Fatalf("RRSIG over %s %s does not verify: %v", sig.Hdr.Name, dns.TypeToString[sig.TypeCovered], err)
		}
		n++
	}
	return n
}

// TestWildcardQuery: names that do not exist are answered from the
// wildcard at their closest encloser, with the wildcard's signature and a
// signed NSEC that proves the name absent and names the same closest
// encloser; existing names, names below them and names below an empty
// non-terminal are not expanded.
func TestWildcardQuery(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	const (
		caHash = "2 0 1 1111111111111111111111111111111111111111111111111111111111111111"
		s1Hash = "3 1 1 2222222222222222222222222222222222222222222222222222222222222222"
		dev    = "_device.devices.test."
	)
	if _, err := z.Update(nil, []dns.RR{
		rr(t, "*._device.devices.test. 300 IN TLSA "+caHash),
		rr(t, "s1._device.devices.test. 300 IN TLSA "+s1Hash),
		rr(t, "leaf.ent._device.devices.test. 300 IN TLSA "+s1Hash),
	}, Policy{}); err != nil {
		t.Fatal(err)
	}
	do := QueryOptions{DNSSEC: true}
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		o       QueryOptions
		outcome Outcome
		data    string // the TLSA data answered, "" for none
		nc      string // next closer name the NSEC must cover; "" for no wildcard NSEC
		bitmap  []uint16
	}{
		{"expanded", "dev42._device.devices.test.", dns.TypeTLSA, do, Success, caHash, "dev42._device.devices.test.", nil},
		{"expanded mixed case", "Dev43._DEVICE.devices.test.", dns.TypeTLSA, do, Success, caHash, "dev43._device.devices.test.", nil},
		{"expanded two labels down", "a.b._device.devices.test.", dns.TypeTLSA, do, Success, caHash, "b._device.devices.test.", nil},
		{"expanded, the predecessor is the closest encloser", "\\000._device.devices.test.", dns.TypeTLSA, do, Success, caHash, "\\000._device.devices.test.", nil},
		{"expanded asterisk query", "*.q._device.devices.test.", dns.TypeTLSA, do, Success, caHash, "q._device.devices.test.", nil},
		{"expanded without DO", "dev42._device.devices.test.", dns.TypeTLSA, QueryOptions{}, Success, caHash, "", nil},
		{"expanded ANY", "dev42._device.devices.test.", dns.TypeANY, do, Success, caHash, "dev42._device.devices.test.", nil},
		{"wildcard itself", "*._device.devices.test.", dns.TypeTLSA, do, Success, caHash, "", nil},
		{"existing name keeps its record", "s1._device.devices.test.", dns.TypeTLSA, do, Success, s1Hash, "", nil},
		{"existing name other type", "s1._device.devices.test.", dns.TypeSSHFP, do, NoData, "", "", []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeTLSA}},
		{"wildcard nodata", "dev42._device.devices.test.", dns.TypeSSHFP, do, NoData, "", "", []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeTLSA}},
		{"wildcard nodata without DO", "dev42._device.devices.test.", dns.TypeSSHFP, QueryOptions{}, NoData, "", "", nil},
		{"below an existing name", "x.s1._device.devices.test.", dns.TypeTLSA, do, NameError, "", "", []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME}},
		{"below an empty non-terminal", "x.ent._device.devices.test.", dns.TypeTLSA, do, NameError, "", "", []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME}},
		{"empty non-terminal", "ent._device.devices.test.", dns.TypeTLSA, do, NoData, "", "", []uint16{dns.TypeRRSIG, dns.TypeNSEC}},
		{"below the wildcard", "x.*._device.devices.test.", dns.TypeTLSA, do, NameError, "", "", []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME}},
		{"no wildcard at the apex", "x.devices.test.", dns.TypeTLSA, do, NameError, "", "", []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME}},
		{"NSEC of an expanded name", "dev42._device.devices.test.", dns.TypeNSEC, do, Success, "", "", []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeTLSA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := z.Query(tt.qname, tt.qtype, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if a.Outcome != tt.outcome {
				t.Fatalf("outcome %v, want %v\n%v\n%v", a.Outcome, tt.outcome, a.Answer, a.Ns)
			}
			qname := dns.CanonicalName(tt.qname)
			var tlsas, sigs, nsecs int
			for _, r := range a.Answer {
				if r.Header().Name != qname {
					t.Errorf("answer owner %s, want %s", r.Header().Name, qname)
				}
				switch x := r.(type) {
				case *dns.TLSA:
					tlsas++
					if got := fmt.Sprintf("%d %d %d %s", x.Usage, x.Selector, x.MatchingType, x.Certificate); got != tt.data {
						t.Errorf("TLSA %s, want %s", got, tt.data)
					}
				case *dns.RRSIG:
					sigs++
					want := dns.CountLabel(qname)
					if tt.data == caHash {
						want = dns.CountLabel(dev) // the wildcard's signature
					}
					if x.TypeCovered != dns.TypeNSEC && int(x.Labels) != want {
						t.Errorf("RRSIG labels %d, want %d", x.Labels, want)
					}
				}
			}
			if (tt.data != "") != (tlsas == 1) {
				t.Errorf("%d TLSA records in the answer, want data %q", tlsas, tt.data)
			}
			if tt.o.DNSSEC && len(a.Answer) > 0 && sigs == 0 {
				t.Error("signed answer without RRSIG")
			}
			if !tt.o.DNSSEC && (sigs > 0 || len(a.Ns) > 1) {
				t.Errorf("DNSSEC records without DO: %v %v", a.Answer, a.Ns)
			}
			verifySigs(t, z, a.Answer)
			verifySigs(t, z, a.Ns)
			for _, r := range append(append([]dns.RR{}, a.Answer...), a.Ns...) {
				x, ok := r.(*dns.NSEC)
				if !ok {
					continue
				}
				nsecs++
				if tt.nc == "" {
					// Compact denial: owned by the query name.
					if x.Hdr.Name != qname || x.NextDomain != "\\000."+qname || !equalTypes(x.TypeBitMap, tt.bitmap) {
						t.Errorf("NSEC %v, want the compact form for %s with %v", x, qname, tt.bitmap)
					}
					continue
				}
				// The proof that qname does not exist: it covers the
				// next closer name and qname, and a validator derives
				// the closest encloser the signature names.
				if !canonicalLess(x.Hdr.Name, tt.nc) || !canonicalLess(tt.nc, x.NextDomain) || !canonicalLess(qname, x.NextDomain) {
					t.Errorf("NSEC %s -> %s does not cover %s and %s", x.Hdr.Name, x.NextDomain, tt.nc, qname)
				}
				ce := sharedSuffix(x.Hdr.Name, qname)
				if s := sharedSuffix(x.NextDomain, qname); dns.CountLabel(s) > dns.CountLabel(ce) {
					ce = s
				}
				if ce != dev {
					t.Errorf("closest encloser derived from the NSEC: %s, want %s", ce, dev)
				}
				if !equalTypes(x.TypeBitMap, []uint16{dns.TypeRRSIG, dns.TypeNSEC}) {
					t.Errorf("NSEC bitmap %v", x.TypeBitMap)
				}
			}
			if wantNSEC := tt.nc != "" || tt.bitmap != nil; wantNSEC != (nsecs == 1) {
				t.Errorf("%d NSEC records", nsecs)
			}
		})
	}
}

// TestLongNames: at the length limit the compact NSEC's next name is the
// name after the query name's subtree, not "\000.name" (which would not
// fit): negative and positive answers are signed, valid and packable.
func TestLongNames(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	exist := longName(t, 255, 20)
	if _, err := z.Update(nil, []dns.RR{
		rr(t, exist+" 300 IN TLSA 3 1 1 0102"),
		rr(t, "*.devices.test. 300 IN TLSA 3 1 1 0304"),
	}, Policy{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		qname   string
		qtype   uint16
		outcome Outcome
	}{
		{longName(t, 253, 10), dns.TypeTLSA, Success},  // from the apex wildcard
		{"\\000.devices.test.", dns.TypeTLSA, Success}, // NSEC owned by the apex
		{longName(t, 254, 10), dns.TypeSSHFP, NoData},
		{longName(t, 255, 10), dns.TypeSSHFP, NoData},
		{longName(t, 255, 63), dns.TypeSSHFP, NoData},
		{exist, dns.TypeSSHFP, NoData},
		{exist, dns.TypeTLSA, Success},
		{exist, dns.TypeNSEC, Success},
		{"x." + longName(t, 200, 10), dns.TypeTLSA, Success},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%s", len(tt.qname), dns.TypeToString[tt.qtype]), func(t *testing.T) {
			a, err := z.Query(tt.qname, tt.qtype, QueryOptions{DNSSEC: true})
			if err != nil {
				t.Fatal(err)
			}
			if a.Outcome != tt.outcome {
				t.Fatalf("outcome %v, want %v", a.Outcome, tt.outcome)
			}
			all := append(append([]dns.RR{}, a.Answer...), a.Ns...)
			if verifySigs(t, z, all) == 0 {
				t.Fatal("no signatures")
			}
			m := new(dns.Msg)
			m.SetQuestion(tt.qname, tt.qtype)
			m.Answer, m.Ns = a.Answer, a.Ns
			if _, err := m.Pack(); err != nil {
				t.Fatalf("answer does not pack: %v", err)
			}
			for _, r := range all {
				if x, ok := r.(*dns.NSEC); ok && !canonicalLess(x.Hdr.Name, x.NextDomain) {
					t.Errorf("NSEC %s -> %s", x.Hdr.Name, x.NextDomain)
				}
			}
		})
	}
}

// TestWildcardTransferVerifies: the transferred zone carries the wildcard
// as an ordinary owner in its NSEC3 chain, and the verifiers accept it.
func TestWildcardTransferVerifies(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	if _, err := z.Update(nil, []dns.RR{
		rr(t, "*._device.devices.test. 300 IN TLSA 2 0 1 "+strings.Repeat("ab", 32)),
		rr(t, "s1._device.devices.test. 300 IN TLSA 3 1 1 "+strings.Repeat("cd", 32)),
	}, Policy{}); err != nil {
		t.Fatal(err)
	}
	rrs, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rrs {
		if r.Header().Name == "*._device.devices.test." && r.Header().Rrtype == dns.TypeTLSA {
			found = true
		}
	}
	if !found {
		t.Fatal("the wildcard is not in the transfer")
	}
	if got, want := countRR(rrs, dns.TypeNSEC3), len(z.names)+len(z.ents); got != want {
		t.Fatalf("%d NSEC3 records, want %d", got, want)
	}
	// The zone has a KSK and a ZSK: all three verifiers, dnssec-verify
	// without -z.
	checkWithTools(t, writeZoneFile(t, rrs))
}

// BenchmarkQueryWildcard: a DO query answered from the wildcard among 1000
// identities: the wildcard's cached signature plus one NSEC signed per
// query (as for a compact denial).
func BenchmarkQueryWildcard(b *testing.B) {
	z := benchZone(b, 1000)
	if _, err := z.Update(nil, []dns.RR{rr(b, "*._device.devices.test. 300 IN TLSA 2 0 1 "+strings.Repeat("ab", 32))}, Policy{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a, err := z.Query(fmt.Sprintf("new%d._device.devices.test.", i), dns.TypeTLSA, QueryOptions{DNSSEC: true})
			if err != nil || a.Outcome != Success {
				b.Fatal(err)
			}
			i++
		}
	})
}
