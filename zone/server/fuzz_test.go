package server

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
	"github.com/dnsbound/dance/zone/tsigkey"
)

// FuzzHandle feeds arbitrary messages to the query path (and, for UPDATE
// messages, to the update checks that run before TSIG): no panic, every
// request gets a response that packs, and UDP responses fit the limit.
func FuzzHandle(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "zone")
	res, err := zone.Init(dir, zone.InitOptions{Origin: origin})
	if err != nil {
		f.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer z.Close()
	// A wildcard too, so that the seeds under testdata reach the
	// expansion and its proofs.
	if _, err := z.Update(nil, []dns.RR{
		mustRR(f, "s1._device.devices.test. 300 IN TLSA 3 1 1 0102"),
		mustRR(f, "*._device.devices.test. 300 IN TLSA 2 0 1 0304"),
	}, zone.Policy{}); err != nil {
		f.Fatal(err)
	}
	srv, err := New(Config{Zone: z, UpdateKeys: []*tsigkey.Key{res.TSIG}})
	if err != nil {
		f.Fatal(err)
	}
	q := new(dns.Msg)
	q.SetQuestion("s1._device.devices.test.", dns.TypeTLSA)
	b, _ := q.Pack()
	f.Add(b)
	peer := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 12 {
			return
		}
		var h dns.Header
		h.Id = uint16(b[0])<<8 | uint16(b[1])
		h.Bits = uint16(b[2])<<8 | uint16(b[3])
		h.Qdcount = uint16(b[4])<<8 | uint16(b[5])
		h.Ancount = uint16(b[6])<<8 | uint16(b[7])
		h.Nscount = uint16(b[8])<<8 | uint16(b[9])
		h.Arcount = uint16(b[10])<<8 | uint16(b[11])
		if acceptMsg(h) != dns.MsgAccept {
			return
		}
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return
		}
		before := z.Serial()
		resp, raw := srv.handle(m, nil, true, peer)
		if m.IsTsig() != nil {
			// An unknown key: an unsigned TSIG error or nothing.
			if resp != nil {
				t.Fatalf("response to a message signed with an unknown key: %v", resp)
			}
			return
		}
		if raw != nil {
			t.Fatal("raw response to an unsigned request")
		}
		if resp == nil {
			t.Fatal("no response")
		}
		out, err := resp.Pack()
		if err != nil {
			t.Fatalf("response does not pack: %v\n%v", err, resp)
		}
		if len(out) > DefaultMaxUDPSize {
			t.Fatalf("UDP response of %d octets", len(out))
		}
		if m.Opcode == dns.OpcodeUpdate && z.Serial() != before {
			t.Fatal("unsigned update changed the zone")
		}
	})
}

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FuzzFastKey checks the UDP fast path's parser: no panic on any packet,
// and whenever it accepts a packet, the dns library parses it too and the
// slow path computes the very same cache key (so a cached answer is only
// ever served to the question it answers).
func FuzzFastKey(f *testing.F) {
	s, err := New(Config{Zone: &zone.Zone{}})
	if err != nil {
		f.Fatal(err)
	}
	for _, build := range []func(m *dns.Msg){
		func(m *dns.Msg) {},
		func(m *dns.Msg) { m.SetEdns0(1232, true) },
		func(m *dns.Msg) { m.SetEdns0(4096, false); m.CheckingDisabled = true },
		func(m *dns.Msg) { m.SetEdns0(512, true); m.IsEdns0().Hdr.Ttl |= ednsFlagCO },
	} {
		m := new(dns.Msg)
		m.SetQuestion("S1._device.Devices.test.", dns.TypeTLSA)
		build(m)
		b, _ := m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		q, ok := s.parsePlain(pkt)
		if !ok {
			return
		}
		k, id := q.appendKey(nil), q.id
		m := new(dns.Msg)
		if err := m.Unpack(pkt); err != nil {
			t.Fatalf("fast path accepted a packet the library rejects: %v", err)
		}
		if m.Id != id {
			t.Fatalf("id %d, want %d", id, m.Id)
		}
		want, cacheable := s.cache.key(m, true, s.udpSize(m))
		if !cacheable || string(want) != string(k) {
			t.Fatalf("fast key %q, slow key %q (cacheable %v)\n%v", k, want, cacheable, m)
		}
	})
}
