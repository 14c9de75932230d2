package zone

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/internal/journal"
)

// rrSet returns the RRs of an AXFR as sorted strings, one per RR (the
// closing SOA left out).
func rrSet(axfr []dns.RR) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range axfr[:len(axfr)-1] {
		if s := r.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func sameSet(a, b []string) (string, bool) {
	for i := 0; i < len(a) || i < len(b); i++ {
		switch {
		case i >= len(a):
			return "only new: " + b[i], false
		case i >= len(b):
			return "only old: " + a[i], false
		case a[i] != b[i]:
			return fmt.Sprintf("differ: %s / %s", a[i], b[i]), false
		}
	}
	return "", true
}

// TestJournalReplaysTheZone records the transferred zone after every kind
// of change and checks that, from every earlier version, the journal's
// differences applied to that version's AXFR give the newest AXFR.
func TestJournalReplaysTheZone(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	j := journal.New(0, 0)
	var snapshots [][]dns.RR
	record := func(what string) {
		t.Helper()
		axfr, err := z.Transfer()
		if err != nil {
			t.Fatal(err)
		}
		if axfr, err = j.Record(axfr); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		snapshots = append(snapshots, axfr)
	}
	update := func(what string, updates ...dns.RR) {
		t.Helper()
		if _, err := z.Update(nil, updates, Policy{}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		record(what)
	}
	tlsa := func(name string, ttl int, data int) dns.RR {
		return rr(t, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", name, data))
	}
	record("initial")
	update("add three", tlsa("a._device.devices.test.", 300, 1), tlsa("b._device.devices.test.", 300, 2), tlsa("c.x._device.devices.test.", 300, 3))
	update("add to an RRset", tlsa("a._device.devices.test.", 300, 4))
	update("add a type", rr(t, "a._device.devices.test. 300 IN SSHFP 4 2 "+fmt.Sprintf("%064x", 5)))
	update("replace", del(t, "b._device.devices.test. 300 IN TLSA 3 1 1 00", dns.ClassANY), tlsa("b._device.devices.test.", 300, 6))
	update("remove one record", del(t, fmt.Sprintf("a._device.devices.test. 300 IN TLSA 3 1 1 %064x", 1), dns.ClassNONE))
	update("remove a name (chain and empty non-terminal change)", del(t, "c.x._device.devices.test. 300 IN TLSA 3 1 1 00", dns.ClassANY))
	for _, step := range []RolloverStep{Prepublish, Activate, Retire} {
		if _, err := z.Rollover(t.Context(), "", step, RolloverOptions{Force: true}); err != nil {
			t.Fatalf("rollover %v: %v", step, err)
		}
		record(fmt.Sprintf("rollover %v", step))
	}
	// Re-signing: signatures age, KeepFresh moves the serial, the next
	// transfer carries fresh signatures for every RRset.
	clock.Advance(20 * 24 * time.Hour)
	if bumped, err := z.KeepFresh(0); err != nil || !bumped {
		t.Fatalf("KeepFresh: %v %v", bumped, err)
	}
	record("re-signed")

	newest := rrSet(snapshots[len(snapshots)-1])
	for i, old := range snapshots[:len(snapshots)-1] {
		serial := old[0].(*dns.SOA).Serial
		vs, ok := j.Since(serial)
		if !ok || len(vs) == 0 {
			t.Fatalf("version %d (serial %d): not in the journal", i, serial)
		}
		got, err := journal.Apply(old, vs)
		if err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
		if why, ok := sameSet(rrSet(got), newest); !ok {
			t.Fatalf("version %d (serial %d) + journal is not the newest zone: %s", i, serial, why)
		}
	}
	// The re-signing version replaces every signature.
	last := j.Len
	if n, _ := last(); n != len(snapshots)-1 {
		t.Errorf("journal holds %d versions, want %d", n, len(snapshots)-1)
	}
	vs, _ := j.Since(snapshots[len(snapshots)-2][0].(*dns.SOA).Serial)
	if sigs := countRR(vs[0].Added, dns.TypeRRSIG); sigs != countRR(snapshots[len(snapshots)-1], dns.TypeRRSIG) {
		t.Errorf("re-signing added %d RRSIGs, the zone has %d", sigs, countRR(snapshots[len(snapshots)-1], dns.TypeRRSIG))
	}
}

// BenchmarkTransferAndRecord10k is one change, the transfer that follows
// and its recording in the journal (compare BenchmarkTransfer10k: the cost
// the journal adds to a transfer).
func BenchmarkTransferAndRecord10k(b *testing.B) {
	z := benchZone(b, 10000)
	j := journal.New(0, 0)
	axfr, err := z.transferImage()
	if err != nil {
		b.Fatal(err)
	}
	j.RecordZone(axfr)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("j%d._device.devices.test.", i)
		if _, err := z.Apply([]Change{{Mode: change.Add, Name: name, Records: []dns.RR{rr(b, name+" 300 IN TLSA 3 1 1 abcd")}}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		axfr, err := z.transferImage()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := j.RecordZone(axfr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecord10k is the journal's own cost for one change in a zone of
// 10,000 identities: the difference against the previous transfer.
func BenchmarkRecord10k(b *testing.B) {
	z := benchZone(b, 10000)
	j := journal.New(0, 0)
	axfr, err := z.transferImage()
	if err != nil {
		b.Fatal(err)
	}
	j.RecordZone(axfr)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("j%d._device.devices.test.", i)
		if _, err := z.Apply([]Change{{Mode: change.Add, Name: name, Records: []dns.RR{rr(b, name+" 300 IN TLSA 3 1 1 abcd")}}}); err != nil {
			b.Fatal(err)
		}
		axfr, err := z.transferImage()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := j.RecordZone(axfr); err != nil {
			b.Fatal(err)
		}
	}
}
