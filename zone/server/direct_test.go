package server

import (
	"bytes"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
)

// The direct UDP path (answers built from the zone's packed records) sends
// exactly the octets the general path (unpack, Query, pack) would, and
// declines everything it does not handle.
func TestDirectMatchesGeneral(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "zone")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	big := strings.Repeat("ab", 64)
	addRR(t, z,
		"d1._device.devices.test. 300 IN TLSA 3 1 1 "+strings.Repeat("01", 32),
		"d2._device.devices.test. 300 IN TLSA 3 1 1 "+strings.Repeat("02", 32),
		"d2._device.devices.test. 300 IN TLSA 3 1 2 "+strings.Repeat("03", 64),
		"host.devices.test. 300 IN SSHFP 4 2 "+strings.Repeat("04", 32),
		"*._device.devices.test. 300 IN TLSA 2 0 1 "+strings.Repeat("05", 32),
		"x-y_z.sub.devices.test. 300 IN TLSA 3 1 1 "+big,
	)
	for i := 0; i < 8; i++ {
		addRR(t, z, fmt.Sprintf("big._device.devices.test. 300 IN TLSA 3 1 2 %0128x", i))
	}
	srv, err := New(Config{Zone: z})
	if err != nil {
		t.Fatal(err)
	}
	peer := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}
	type query struct {
		name       string
		qtype      uint16
		rd, cd     bool
		edns       bool
		do, co     bool
		size       uint16
		wantDirect bool
	}
	cases := []query{
		{name: "d1._device.devices.test.", qtype: dns.TypeTLSA, edns: true, do: true, size: 1232, wantDirect: true},
		{name: "d1._device.devices.test.", qtype: dns.TypeTLSA, edns: true, size: 1232, wantDirect: true},
		{name: "d1._device.devices.test.", qtype: dns.TypeTLSA, wantDirect: true},
		{name: "d1._device.devices.test.", qtype: dns.TypeTLSA, rd: true, cd: true, edns: true, do: true, co: true, size: 4096, wantDirect: true},
		{name: "d2._device.devices.test.", qtype: dns.TypeTLSA, edns: true, do: true, size: 1232, wantDirect: true},
		{name: "host.devices.test.", qtype: dns.TypeSSHFP, edns: true, do: true, size: 1232, wantDirect: true},
		{name: "*._device.devices.test.", qtype: dns.TypeTLSA, edns: true, do: true, size: 1232, wantDirect: true},
		{name: "x-y_z.sub.devices.test.", qtype: dns.TypeTLSA, edns: true, do: true, size: 1232, wantDirect: true},
		{name: "devices.test.", qtype: dns.TypeSOA, edns: true, do: true, size: 1232, wantDirect: true},
		{name: "devices.test.", qtype: dns.TypeDNSKEY, edns: true, do: true, size: 1232, wantDirect: true},
		{name: "devices.test.", qtype: dns.TypeNS, wantDirect: true},
		// Declined: the general path answers these.
		{name: "D1._device.devices.test.", qtype: dns.TypeTLSA, edns: true, do: true, size: 1232},   // case kept in the echo
		{name: "nope._device.devices.test.", qtype: dns.TypeTLSA, edns: true, do: true, size: 1232}, // wildcard expansion
		{name: "nope.devices.test.", qtype: dns.TypeTLSA, edns: true, do: true, size: 1232},         // name error
		{name: "d1._device.devices.test.", qtype: dns.TypeSSHFP, edns: true, do: true, size: 1232},  // no data
		{name: "d1._device.devices.test.", qtype: dns.TypeANY, edns: true, do: true, size: 1232},
		{name: "d1._device.devices.test.", qtype: dns.TypeNSEC, edns: true, do: true, size: 1232},
		{name: "d1._device.devices.test.", qtype: dns.TypeRRSIG, edns: true, do: true, size: 1232},
		{name: "devices.test.", qtype: dns.TypeDNSKEY, edns: true, do: true, size: 512, wantDirect: true},
		{name: "devices.test.", qtype: dns.TypeDNSKEY, wantDirect: true},
		{name: "big._device.devices.test.", qtype: dns.TypeTLSA, edns: true, do: true, size: 1232, wantDirect: true},
		{name: "big._device.devices.test.", qtype: dns.TypeTLSA, edns: true, do: true, size: 512}, // does not fit: truncated
		{name: "big._device.devices.test.", qtype: dns.TypeTLSA},                                  // 512 without EDNS
		{name: "other.test.", qtype: dns.TypeTLSA, edns: true, do: true, size: 1232},              // not in the zone
	}
	for _, c := range cases {
		m := new(dns.Msg)
		m.SetQuestion(c.name, c.qtype)
		m.Id = 4242
		m.RecursionDesired = c.rd
		m.CheckingDisabled = c.cd
		if c.edns {
			m.SetEdns0(c.size, c.do)
			if c.co {
				o := m.IsEdns0()
				o.Hdr.Ttl |= ednsFlagCO
			}
		}
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		q, ok := srv.parsePlain(pkt)
		if !ok {
			t.Fatalf("%s %s: not a plain query", c.name, dns.TypeToString[c.qtype])
		}
		// The general path first: it signs what is not signed yet.
		general := srv.slowUDP(pkt, peer)
		direct := srv.directUDP(q, nil)
		label := c.name + " " + dns.TypeToString[c.qtype]
		switch {
		case !c.wantDirect && direct != nil:
			t.Errorf("%s: answered directly, want the general path", label)
		case c.wantDirect && direct == nil:
			t.Errorf("%s: declined by the direct path", label)
		case c.wantDirect && !bytes.Equal(direct, general):
			var a, b dns.Msg
			a.Unpack(direct)
			b.Unpack(general)
			t.Errorf("%s: direct answer differs from the general one\ndirect:\n%v\ngeneral:\n%v", label, &a, &b)
		}
	}
}
