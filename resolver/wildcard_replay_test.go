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
