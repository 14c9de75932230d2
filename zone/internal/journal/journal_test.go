package journal

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func soa(serial uint32) *dns.SOA {
	return &dns.SOA{Hdr: dns.RR_Header{Name: "z.test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 3600},
		Ns: "ns.z.test.", Mbox: "h.z.test.", Serial: serial, Refresh: 1, Retry: 1, Expire: 1, Minttl: 60}
}

// zoneOf returns an AXFR of the records described by lines ("name ttl
// data"), in the given order.
func zoneOf(t testing.TB, serial uint32, recs []string) []dns.RR {
	out := []dns.RR{soa(serial)}
	for _, r := range recs {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rr)
	}
	return append(out, soa(serial))
}

func contents(axfr []dns.RR) string {
	var s []string
	for _, rr := range axfr[:len(axfr)-1] {
		s = append(s, rr.String())
	}
	sort.Strings(s)
	return strings.Join(s, "\n")
}

func tlsa(name string, ttl, data int) string {
	return fmt.Sprintf("%s.z.test. %d IN TLSA 3 1 1 %064x", name, ttl, data)
}

func TestDiff(t *testing.T) {
	a, b, c := tlsa("a", 300, 1), tlsa("b", 300, 2), tlsa("c", 300, 3)
	for _, tc := range []struct {
		name          string
		old, new      []string
		deleted, adds int
	}{
		{"same", []string{a, b}, []string{b, a}, 0, 0},
		{"add", []string{a}, []string{a, b}, 0, 1},
		{"remove", []string{a, b}, []string{a}, 1, 0},
		{"replace", []string{a, b}, []string{a, c}, 1, 1},
		{"ttl change", []string{a}, []string{tlsa("a", 60, 1)}, 1, 1},
		{"everything", []string{a, b}, []string{c}, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, new := zoneOf(t, 1, tc.old), zoneOf(t, 2, tc.new)
			del, add, err := Diff(old, new)
			if err != nil {
				t.Fatal(err)
			}
			if len(del) != tc.deleted || len(add) != tc.adds {
				t.Fatalf("%d deleted, %d added; want %d, %d", len(del), len(add), tc.deleted, tc.adds)
			}
			got, err := Apply(old, []Version{{From: soa(1), To: soa(2), Deleted: del, Added: add}})
			if err != nil {
				t.Fatal(err)
			}
			if contents(got) != contents(new) {
				t.Fatalf("old + diff:\n%s\nwant:\n%s", contents(got), contents(new))
			}
		})
	}
}

func TestRecordAndBounds(t *testing.T) {
	j := New(3, 0)
	if _, ok := j.Since(1); ok {
		t.Fatal("empty journal answered")
	}
	if _, err := j.Record([]dns.RR{soa(1)}); err == nil {
		t.Fatal("a lone SOA recorded")
	}
	var zones [][]dns.RR
	for s := uint32(1); s <= 6; s++ {
		z := zoneOf(t, s, []string{tlsa("a", 300, int(s)), tlsa("b", 300, 7)})
		got, err := j.Record(z)
		if err != nil {
			t.Fatal(err)
		}
		zones = append(zones, got)
	}
	// Same serial, other content: the first content is kept and returned.
	again, err := j.Record(zoneOf(t, 6, []string{tlsa("x", 300, 1)}))
	if err != nil {
		t.Fatal(err)
	}
	if contents(again) != contents(zones[5]) {
		t.Fatal("same serial: content replaced")
	}
	if n, _ := j.Len(); n != 3 {
		t.Fatalf("%d versions kept, want 3", n)
	}
	for s, want := range map[uint32]bool{1: false, 2: false, 3: true, 4: true, 5: true, 6: true, 9: false} {
		vs, ok := j.Since(s)
		if ok != want {
			t.Fatalf("Since(%d): %v, want %v", s, ok, want)
		}
		if !ok {
			continue
		}
		got, err := Apply(zones[s-1], vs)
		if err != nil {
			t.Fatal(err)
		}
		if contents(got) != contents(zones[5]) {
			t.Fatalf("from %d: not the newest zone", s)
		}
	}
	// Response layout (RFC 1995 §4).
	vs, _ := j.Since(5)
	r := Response(soa(6), vs)
	want := []uint32{6, 5, 6, 6}
	var got []uint32
	for _, rr := range r {
		if s, ok := rr.(*dns.SOA); ok {
			got = append(got, s.Serial)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(r) != 6 {
		t.Fatalf("response SOAs %v (%d records), want %v", got, len(r), want)
	}
	// A serial going backwards empties the journal.
	if _, err := j.Record(zoneOf(t, 2, nil)); err != nil {
		t.Fatal(err)
	}
	if n, _ := j.Len(); n != 0 {
		t.Fatalf("%d versions after the serial went back", n)
	}
	// Bounded in records: drop the oldest.
	j = New(0, 5)
	for s := uint32(1); s <= 4; s++ {
		j.Record(zoneOf(t, s, []string{tlsa("a", 300, int(s))}))
	}
	if n, rrs := j.Len(); n != 1 || rrs > 5 {
		t.Fatalf("record bound: %d versions, %d records", n, rrs)
	}
}

// FuzzJournal: from any sequence of zones, the journal brings every kept
// version to the newest (a property test on Diff, Record and Apply).
func FuzzJournal(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0, 0, 0, 255, 255, 17, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		rng := rand.New(rand.NewPCG(uint64(len(b)), 7))
		j := New(0, 0)
		var zones [][]dns.RR
		cur := map[int]int{} // name -> data
		for i, x := range b {
			if len(zones) > 30 {
				break
			}
			// Each byte changes one name: remove it, or give it new data.
			name := int(x % 16)
			if x&0x80 != 0 {
				delete(cur, name)
			} else {
				cur[name] = rng.IntN(4)
			}
			var recs []string
			for n, d := range cur {
				recs = append(recs, tlsa(fmt.Sprintf("n%d", n), 300, d))
			}
			z, err := j.Record(zoneOf(t, uint32(i+1), recs))
			if err != nil {
				t.Fatal(err)
			}
			zones = append(zones, z)
		}
		for i, z := range zones {
			vs, ok := j.Since(uint32(i + 1))
			if !ok {
				t.Fatalf("serial %d not in the journal", i+1)
			}
			got, err := Apply(z, vs)
			if err != nil {
				t.Fatal(err)
			}
			if contents(got) != contents(zones[len(zones)-1]) {
				t.Fatalf("from serial %d: not the newest zone", i+1)
			}
		}
	})
}
