package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/tsigkey"
)

// BenchmarkUpdateTSIG is one RFC 2136 update (add an identity, TSIG
// signed, over TCP, one connection per update as nsupdate does)
// per operation, acknowledged only once durable.
func BenchmarkUpdateTSIG(b *testing.B) {
	ts := startServer(b, nil)
	c := &dns.Client{Net: "tcp", TsigProvider: tsigkey.NewProvider(ts.key), Timeout: 5 * time.Second}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := new(dns.Msg)
		m.SetUpdate(origin)
		r, _ := dns.NewRR(fmt.Sprintf("u%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i))
		m.Insert([]dns.RR{r})
		m.SetTsig(ts.key.Name, dns.HmacSHA256, 300, time.Now().Unix())
		resp, _, err := c.Exchange(m, ts.addr)
		if err != nil || resp.Rcode != dns.RcodeSuccess {
			b.Fatalf("%v %v", err, resp)
		}
	}
}

// BenchmarkRevocation measures, per operation, the time from sending the
// removal of an identity (RFC 2136, TSIG) to receiving a signed negative
// answer for it from the server.
func BenchmarkRevocation(b *testing.B) {
	// Every revocation asks for a newly signed negative answer from the
	// same address, more per second than the response rate limit lets
	// through: it would drop some of them.
	ts := startServerWith(b, func(c *Config) { c.RateLimit.Off = true })
	c := &dns.Client{Net: "tcp", TsigProvider: tsigkey.NewProvider(ts.key), Timeout: 5 * time.Second}
	q := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("r%d._device.devices.test.", i)
		addRR(b, ts.zone, name+" 300 IN TLSA 3 1 1 abcd")
		qm := new(dns.Msg)
		qm.SetQuestion(name, dns.TypeTLSA)
		qm.SetEdns0(1232, true)
		if r, _, err := q.Exchange(qm, ts.addr); err != nil || len(r.Answer) == 0 { // cached positive answer
			b.Fatal(err)
		}
		b.StartTimer()
		m := new(dns.Msg)
		m.SetUpdate(origin)
		m.RemoveName([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeANY, Class: dns.ClassANY}}})
		m.SetTsig(ts.key.Name, dns.HmacSHA256, 300, time.Now().Unix())
		if resp, _, err := c.Exchange(m, ts.addr); err != nil || resp.Rcode != dns.RcodeSuccess {
			b.Fatalf("%v %v", err, resp)
		}
		r, _, err := q.Exchange(qm, ts.addr)
		if err != nil || len(r.Answer) != 0 || countType(r.Ns, dns.TypeNSEC) != 1 {
			b.Fatalf("not revoked: %v %v", err, r)
		}
	}
}

// BenchmarkQueryUDP is one TLSA query with DO over UDP per operation
// (response cache warm).
func BenchmarkQueryUDP(b *testing.B) {
	ts := startServer(b, nil)
	addRR(b, ts.zone, "s1._device.devices.test. 300 IN TLSA 3 1 1 abcd")
	c, err := dns.Dial("udp", ts.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	m := new(dns.Msg)
	m.SetQuestion("s1._device.devices.test.", dns.TypeTLSA)
	m.SetEdns0(1232, true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.WriteMsg(m); err != nil {
			b.Fatal(err)
		}
		if r, err := c.ReadMsg(); err != nil || len(r.Answer) != 2 {
			b.Fatal(err)
		}
	}
}
