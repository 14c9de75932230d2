package zone

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/internal/journal"
)

// zoneLines returns the RRs of an AXFR-form zone as sorted presentation
// lines, SOA included once: a zone's content whatever the order.
func zoneLines(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for i, r := range rrs {
		if i == len(rrs)-1 && r.Header().Rrtype == dns.TypeSOA {
			break
		}
		out = append(out, r.String())
	}
	slices.Sort(out)
	return out
}

// Each kind of change that alters records other than the ones named (a
// neighbour's NSEC3 next hash, a node's NSEC3 type bitmap, an empty
// non-terminal appearing or going, every NSEC3 TTL, the apex keys and
// their signatures) goes through the journal as the server does it:
// every snapshot recorded in turn (RecordZone, differences by refs). A
// secondary that took any earlier serial by AXFR and applies the
// journal's versions since (journal.Apply, RFC 1995 §4) holds exactly
// the zone a new AXFR gives; so does one that applies each step alone.
func TestXfrZoneIXFRTransformsEverySerial(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	s := &z.chain.store
	s.mu.Lock()
	s.compactMin = 0
	s.mu.Unlock()
	const dev = "._device.devices.test."
	tlsa := func(name string, d int) dns.RR {
		return rr(t, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", name, d))
	}
	apply := func(m change.Mode, name string, rrs ...dns.RR) func() error {
		return func() error {
			_, err := z.Apply([]Change{{Mode: m, Name: name, Records: rrs}})
			return err
		}
	}
	steps := []struct {
		what string
		do   func() error
	}{
		{"names", func() error {
			for i := range 12 {
				n := fmt.Sprintf("d%d.g%d%s", i, i%3, dev)
				if err := apply(change.Replace, n, tlsa(n, i))(); err != nil {
					return err
				}
			}
			return nil
		}},
		{"a name between two neighbours (their NSEC3 next hashes)", apply(change.Replace, "new"+dev, tlsa("new"+dev, 1))},
		{"that name removed again", apply(change.Remove, "new"+dev)},
		{"another type at a node (its NSEC3 bitmap)", apply(change.Add, "d1.g1"+dev, rr(t, "d1.g1"+dev+" 300 IN SSHFP 4 2 "+strings.Repeat("ab", 32)))},
		{"the TTL of an RRset", apply(change.Replace, "d2.g2"+dev, rr(t, fmt.Sprintf("d2.g2%s 600 IN TLSA 3 1 1 %064x", dev, 2)))},
		{"a deep name (empty non-terminals appear)", apply(change.Replace, "a.b.c.d3.g0"+dev, tlsa("a.b.c.d3.g0"+dev, 3))},
		{"the deep name removed (they go)", apply(change.Remove, "a.b.c.d3.g0"+dev)},
		{"a wildcard", apply(change.Replace, "*.g1"+dev, tlsa("*.g1"+dev, 4))},
		{"a name under the wildcard revoked", func() error { _, _, err := z.Revoke("w.g1" + dev); return err }},
		{"a held name revoked", func() error { _, _, err := z.Revoke("d4.g1" + dev); return err }},
		{"the wildcard removed", apply(change.Remove, "*.g1"+dev)},
		{"re-signed later", func() error {
			clock.Advance(10 * 24 * time.Hour)
			_, err := z.KeepFresh(0)
			return err
		}},
		{"presigned and compacted", func() error {
			if err := apply(change.Replace, "p"+dev, tlsa("p"+dev, 5))(); err != nil {
				return err
			}
			_, err := z.Presign(context.Background())
			z.compactChain()
			return err
		}},
		{"ZSK prepublished", func() error {
			_, err := z.Rollover(t.Context(), RoleZSK, Prepublish, RolloverOptions{Force: true})
			return err
		}},
		{"ZSK activated", func() error {
			_, err := z.Rollover(t.Context(), RoleZSK, Activate, RolloverOptions{Force: true})
			return err
		}},
		{"ZSK retired", func() error {
			_, err := z.Rollover(t.Context(), RoleZSK, Retire, RolloverOptions{Force: true})
			return err
		}},
		{"KSK prepublished", func() error {
			_, err := z.Rollover(t.Context(), RoleKSK, Prepublish, RolloverOptions{Force: true})
			return err
		}},
		{"serial bumped alone", func() error { _, err := z.BumpSerial(); return err }},
		{"a name removed after compaction", func() error {
			z.compactChain()
			return apply(change.Remove, "d5.g2"+dev)()
		}},
	}
	j := journal.New(0, 0)
	type held struct {
		serial uint32
		axfr   []dns.RR
	}
	var kept []held
	record := func(what string) {
		t.Helper()
		x, err := z.transferZone()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		src, err := j.RecordZone(x)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		axfr := must(collect(t, src).Unpack())
		soa := axfr[0].(*dns.SOA)
		for _, h := range kept {
			vs, ok := j.Since(h.serial)
			if !ok {
				t.Fatalf("%s: journal lost serial %d", what, h.serial)
			}
			got, err := journal.Apply(h.axfr, vs)
			if err != nil {
				t.Fatalf("%s: from serial %d: %v", what, h.serial, err)
			}
			if g, w := zoneLines(got), zoneLines(axfr); !slices.Equal(g, w) {
				extra, missing := setMinus(g, w), setMinus(w, g)
				t.Fatalf("%s: serial %d plus IXFR is not serial %d:\nextra\n%s\nmissing\n%s", what, h.serial, soa.Serial, strings.Join(extra, "\n"), strings.Join(missing, "\n"))
			}
		}
		kept = append(kept, held{soa.Serial, axfr})
	}
	record("start")
	for _, st := range steps {
		before := z.Serial()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		if z.Serial() == before {
			t.Fatalf("%s: the serial did not move", st.what)
		}
		record(st.what)
	}
	if v, _ := j.Len(); v != len(steps) {
		t.Fatalf("journal holds %d versions, want %d", v, len(steps))
	}
}

// setMinus returns the lines of a (sorted) not in b (sorted).
func setMinus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if _, ok := slices.BinarySearch(b, s); !ok {
			out = append(out, s)
		}
	}
	return out
}
