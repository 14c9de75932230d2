package resolver_test

import (
	"context"
	"net"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
)

// A wildcard answer replayed for a name below an existing name is bogus.
// z.wild.example.test exists, so y.z.wild.example.test does not match
// *.wild.example.test (RFC 4592 §2.2.1: its closest encloser is z.wild).
// The forger takes the signed expansion made for another name and the
// zone's own signed NSEC at z.wild (which covers y.z.wild but not the
// next closer name z.wild itself) and serves them for y.z.wild. The
// validator must check the next closer name, not only the query name.
func TestWildcardReplayBelowExistingName(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{Records: []string{`z.wild.example.test. 300 IN TXT "exists"`}})
	ask := func(name string) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeTXT)
		m.SetEdns0(4096, true)
		r, err := dns.Exchange(m, h.Addr())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const target = "y.z.wild.example.test."
	expansion := ask("other.wild.example.test.")
	denial := ask(target)
	if len(expansion.Answer) < 2 || denial.Rcode != dns.RcodeNameError {
		t.Fatalf("hierarchy answers unexpected: %v / %v", expansion, denial)
	}
	var nsecAtZ []dns.RR
	for _, rr := range denial.Ns {
		owner := rr.Header().Name
		if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered != dns.TypeNSEC {
			continue
		}
		if rr.Header().Rrtype != dns.TypeNSEC && rr.Header().Rrtype != dns.TypeRRSIG {
			continue
		}
		if dns.CanonicalName(owner) == "z.wild.example.test." {
			nsecAtZ = append(nsecAtZ, rr)
		}
	}
	if len(nsecAtZ) != 2 {
		t.Fatalf("denial of %s has no signed NSEC at z.wild: %v", target, denial.Ns)
	}

	// The forging upstream: the real hierarchy for everything else.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	forger := func(w dns.ResponseWriter, r *dns.Msg) {
		if dns.CanonicalName(r.Question[0].Name) == target && r.Question[0].Qtype == dns.TypeTXT {
			m := new(dns.Msg)
			m.SetReply(r)
			for _, rr := range expansion.Answer {
				c := dns.Copy(rr)
				c.Header().Name = target
				m.Answer = append(m.Answer, c)
			}
			m.Ns = nsecAtZ
			m.SetEdns0(4096, true)
			w.WriteMsg(m)
			return
		}
		resp, err := dns.Exchange(r, h.Addr())
		if err != nil {
			dns.HandleFailed(w, r)
			return
		}
		w.WriteMsg(resp)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(forger)}
	started, done := make(chan struct{}), make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { srv.ActivateAndServe(); close(done) }()
	<-started
	t.Cleanup(func() { srv.Shutdown(); <-done })

	anchors, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Upstreams: []string{pc.LocalAddr().String()}, Anchors: anchors})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Lookup(context.Background(), target, dns.TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != resolver.Bogus {
		t.Fatalf("replayed wildcard answer for %s: %s %s (%v), want bogus", target, res.Status, res.Kind, res.Records)
	}
	// The genuine expansion still validates through the same upstream.
	res, err = r.Lookup(context.Background(), "another.wild.example.test.", dns.TypeTXT)
	if err != nil || res.Status != resolver.Secure || res.Kind != resolver.KindAnswer {
		t.Fatalf("genuine wildcard answer: %v %v", res, err)
	}
}

// forge answers every query from h, except those for which replace returns a
// message: the forger's.
func forge(h *dnstest.Hierarchy, replace func(q *dns.Msg) *dns.Msg) func(context.Context, *dns.Msg) (*dns.Msg, error) {
	return func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
		if m := replace(q); m != nil {
			rcode := m.Rcode
			m.SetReply(q)
			m.Rcode = rcode
			return m, nil
		}
		return h.Exchange(ctx, q)
	}
}

// ask queries h in-process with the DO bit.
func ask(t *testing.T, h *dnstest.Hierarchy, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(4096, true)
	m, err := h.Exchange(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A wildcard expansion of *.example.test replayed for a name inside the
// unsigned delegation insecure.example.test, with the parent's signed
// opt-out NSEC3 that covers the next closer name insecure.example.test (as
// sent in the parent's proof that the delegation has no DS). The opt-out
// span may hold unsigned delegations (RFC 5155 §6), so the NSEC3 cannot
// prove that no closer match exists: such an answer is Insecure at best
// (RFC 5155 §9.2), never Secure.
func TestWildcardReplayIntoOptOutDelegation(t *testing.T) {
	h := dnstest.Start(t, dnstest.Config{
		Zones:   map[string]dnstest.ZoneOptions{dnstest.Zone: {Denial: dnstest.NSEC3, NSEC3OptOut: true}},
		Records: []string{"*.example.test. 300 IN TLSA 3 1 1 DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF"},
	})
	const target = "_443._tcp.www.insecure.example.test."
	expansion := ask(t, h, "other.example.test.", dns.TypeTLSA)
	dsDenial := ask(t, h, dnstest.Unsigned, dns.TypeDS)
	var n3 []dns.RR
	for _, rr := range dsDenial.Ns {
		t3 := rr.Header().Rrtype
		if s, ok := rr.(*dns.RRSIG); ok {
			t3 = s.TypeCovered
		}
		if t3 == dns.TypeNSEC3 {
			n3 = append(n3, rr)
		}
	}
	if len(expansion.Answer) != 2 || len(n3) == 0 {
		t.Fatalf("hierarchy answers unexpected: %v / %v", expansion, dsDenial)
	}
	for _, rr := range n3 {
		if x, ok := rr.(*dns.NSEC3); ok && x.Flags&1 == 0 {
			t.Fatalf("the DS denial's NSEC3 %s is not opt-out", x.Hdr.Name)
		}
	}
	replay := func(q *dns.Msg) *dns.Msg {
		if dns.CanonicalName(q.Question[0].Name) != target || q.Question[0].Qtype != dns.TypeTLSA {
			return nil
		}
		m := new(dns.Msg)
		for _, rr := range expansion.Answer {
			c := dns.Copy(rr)
			c.Header().Name = target
			m.Answer = append(m.Answer, c)
		}
		m.Ns = n3
		m.SetEdns0(4096, true)
		return m
	}
	anchors, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		t.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Exchange: forge(h, replay), Anchors: anchors})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Lookup(context.Background(), target, dns.TypeTLSA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status == resolver.Secure {
		t.Fatalf("replayed wildcard answer for %s in an opt-out span: secure (%v), want insecure at best", target, res.Records)
	}
	// The genuine expansion in the same zone is still proven: its next
	// closer name is covered by an opt-out span too, so it is insecure, as
	// Unbound says, and not bogus.
	res, err = r.Lookup(context.Background(), "another.example.test.", dns.TypeTLSA)
	if err != nil || res.Status != resolver.Insecure || res.Kind != resolver.KindAnswer {
		t.Fatalf("genuine wildcard answer: %v %v", res, err)
	}
}

// TestWildcardNSEC3Rules: the NSEC3 proof of a wildcard answer obeys the
// rules of every other NSEC3 proof: records with unknown flags are ignored
// (RFC 5155 §8.2), one parameter set per zone (RFC 5155 §7.2), and an
// opt-out span proves nothing secure (RFC 5155 §9.2). Every forged record is
// signed with the zone's key: only the proof rules can refuse them.
func TestWildcardNSEC3Rules(t *testing.T) {
	const name = "x.wild.example.test."
	tests := []struct {
		desc string
		// mangle rewrites the genuine NSEC3 covering the next closer name.
		mangle func(n *dns.NSEC3) []*dns.NSEC3
		want   resolver.Status
	}{
		{"genuine", func(n *dns.NSEC3) []*dns.NSEC3 { return []*dns.NSEC3{n} }, resolver.Secure},
		{"unknown flag", func(n *dns.NSEC3) []*dns.NSEC3 { n.Flags = 0x02; return []*dns.NSEC3{n} }, resolver.Bogus},
		{"opt-out flag", func(n *dns.NSEC3) []*dns.NSEC3 { n.Flags = 0x01; return []*dns.NSEC3{n} }, resolver.Insecure},
		{"two parameter sets", func(n *dns.NSEC3) []*dns.NSEC3 {
			odd := dns.Copy(n).(*dns.NSEC3)
			odd.Hdr.Name = "0000000000000000000000000000000." + dnstest.Zone
			odd.NextDomain = "0000000000000000000000000000001"
			odd.Iterations = 3
			return []*dns.NSEC3{n, odd}
		}, resolver.Bogus},
		{"two parameter sets, odd one first", func(n *dns.NSEC3) []*dns.NSEC3 {
			odd := dns.Copy(n).(*dns.NSEC3)
			odd.Hdr.Name = "0000000000000000000000000000000." + dnstest.Zone
			odd.NextDomain = "0000000000000000000000000000001"
			odd.Iterations = 3
			return []*dns.NSEC3{odd, n}
		}, resolver.Bogus},
	}
	h := dnstest.Start(t, dnstest.Config{Zones: map[string]dnstest.ZoneOptions{dnstest.Zone: {Denial: dnstest.NSEC3}}})
	genuine := ask(t, h, name, dns.TypeTLSA)
	var cover *dns.NSEC3
	for _, rr := range genuine.Ns {
		if n, ok := rr.(*dns.NSEC3); ok {
			cover = n
		}
	}
	if cover == nil || len(genuine.Answer) != 2 {
		t.Fatalf("wildcard answer for %s without an NSEC3: %v", name, genuine)
	}
	anchors, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			m := genuine.Copy()
			m.Ns = nil
			for _, n := range tc.mangle(dns.Copy(cover).(*dns.NSEC3)) {
				sig, err := h.Sign(dnstest.Zone, []dns.RR{n})
				if err != nil {
					t.Fatal(err)
				}
				m.Ns = append(m.Ns, n, sig)
			}
			replace := func(q *dns.Msg) *dns.Msg {
				if dns.CanonicalName(q.Question[0].Name) == name && q.Question[0].Qtype == dns.TypeTLSA {
					return m.Copy()
				}
				return nil
			}
			r, err := resolver.New(resolver.Config{Exchange: forge(h, replace), Anchors: anchors})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Lookup(context.Background(), name, dns.TypeTLSA)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want {
				t.Fatalf("status %s (%s), want %s", res.Status, res.Reason, tc.want)
			}
		})
	}
}
