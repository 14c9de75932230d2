package server

import (
	"path/filepath"
	"strings"
	"testing"

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
