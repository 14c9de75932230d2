package server

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
)

// BenchmarkDirectUDP: a TLSA+DO query answered from the packed records
// (parse, look up, build), the path taken by positive answers the
// response cache does not hold.
//
//	go test -run '^$' -bench DirectUDP -benchmem ./zone/server/
func BenchmarkDirectUDP(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "zone")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
		b.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer z.Close()
	addRR(b, z, "d1._device.devices.test. 300 IN TLSA 3 1 1 "+strings.Repeat("01", 32))
	srv, err := New(Config{Zone: z})
	if err != nil {
		b.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetQuestion("d1._device.devices.test.", dns.TypeTLSA)
	m.SetEdns0(1232, true)
	pkt, _ := m.Pack()
	srv.slowUDP(pkt, nil) // signs
	buf := make([]byte, 0, 1232)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q, ok := srv.parsePlain(pkt)
		if !ok || srv.directUDP(q, buf) == nil {
			b.Fatal("not answered directly")
		}
	}
}

// BenchmarkServeUDP is one TLSA+DO query per operation through the whole
// UDP loop (read batch, answer, write batch) from a client that keeps 32
// queries in flight: -benchmem counts what the server allocates per query
// (the client allocates nothing), which is what its collector has to
// catch up with under load. "direct" answers from the packed records,
// "cache" from the response cache.
//
//	go test -run '^$' -bench ServeUDP -benchmem ./zone/server/
func BenchmarkServeUDP(b *testing.B) {
	const names, window = 64, 32
	for _, bc := range []struct {
		name string
		rd   bool
	}{{"direct", false}, {"cache", true}} {
		b.Run(bc.name, func(b *testing.B) {
			ts := startServer(b, nil)
			qs := make([][]byte, names)
			rrs := make([]string, names)
			for i := range rrs {
				rrs[i] = fmt.Sprintf("b%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i)
			}
			addRR(b, ts.zone, rrs...)
			if _, err := ts.zone.Presign(context.Background()); err != nil {
				b.Fatal(err)
			}
			for i := range qs {
				name := fmt.Sprintf("b%d._device.devices.test.", i)
				// With RD: the general path signs it and caches the
				// answer to that key; without, the direct path answers.
				m := new(dns.Msg)
				m.SetQuestion(name, dns.TypeTLSA)
				m.SetEdns0(1232, true)
				m.RecursionDesired = true
				pkt, _ := m.Pack()
				if r := ts.srv.slowUDP(pkt, nil); r == nil {
					b.Fatal("no answer")
				}
				m.RecursionDesired = bc.rd
				qs[i], _ = m.Pack()
			}
			c, err := net.DialUDP("udp", nil, mustUDPAddr(b, ts.addr))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 2048)
			before := ts.srv.metrics.get(map[bool]string{false: "direct", true: "cache_hit"}[bc.rd])
			b.ReportAllocs()
			b.ResetTimer()
			sent, got := 0, 0
			for got < b.N {
				for sent < b.N && sent-got < window {
					if _, err := c.Write(qs[sent%names]); err != nil {
						b.Fatal(err)
					}
					sent++
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Read(buf); err != nil {
					b.Fatalf("after %d answers: %v", got, err)
				}
				got++
			}
			b.StopTimer()
			if n := ts.srv.metrics.get(map[bool]string{false: "direct", true: "cache_hit"}[bc.rd]) - before; n < uint64(b.N) {
				b.Fatalf("%d of %d answers from the %s path", n, b.N, bc.name)
			}
		})
	}
}
