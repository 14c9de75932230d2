package zone

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/internal/image"
	"github.com/dnsbound/dance/zone/internal/journal"
)

// collect reads src whole into an image (a fresh copy of every RR).
func collect(t testing.TB, src image.Source) *image.Image {
	t.Helper()
	var b image.Builder
	if err := src.Each(func(rr []byte) error {
		b.AddPacked(rr[:len(rr)-len(skipOwner(rr))], skipOwner(rr))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	im, err := b.Image()
	if err != nil {
		t.Fatal(err)
	}
	if im.Len() != src.Len() {
		t.Fatalf("read %d RRs, Len says %d", im.Len(), src.Len())
	}
	return im
}

// skipOwner returns an RR in wire form from its TYPE on.
func skipOwner(rr []byte) []byte {
	off := 0
	for off < len(rr) && rr[off] != 0 {
		off += int(rr[off]) + 1
	}
	return rr[off+1:]
}

// sameImage fails unless a and b hold the same RRs, octet for octet, in
// the same order.
func sameImage(t testing.TB, what string, a, b *image.Image) {
	t.Helper()
	if a.Len() != b.Len() {
		t.Fatalf("%s: %d RRs, want %d", what, b.Len(), a.Len())
	}
	for i := 0; i < a.Len(); i++ {
		if !bytes.Equal(a.RR(i), b.RR(i)) {
			ra, _ := a.Decode(i)
			rb, _ := b.Decode(i)
			t.Fatalf("%s: RR %d differs:\n%v\nwant\n%v", what, i, rb, ra)
		}
	}
}

func addTLSA(t testing.TB, z *Zone, name string, data int) {
	t.Helper()
	if _, err := z.Apply([]Change{{Mode: change.Replace, Name: name, Records: []dns.RR{rr(t, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", name, data))}}}); err != nil {
		t.Fatal(err)
	}
}

// A transfer snapshot taken while signatures are missing makes them when
// it is taken and then reads the same octets every time: after the clock
// has moved past the point where those signatures (and the cached ones it
// used) are due for refresh, and after the zone changed. The journal
// gives a second transfer of the serial the first one's content, though a
// new snapshot would carry other signatures (ECDSA signatures differ each
// time they are made). Signing at read time fails both.
func TestXfrZoneSameBytesEveryRead(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	for i := range 40 {
		addTLSA(t, z, fmt.Sprintf("d%d.g%d._device.devices.test.", i, i%3), i)
	}
	x, err := z.transferZone()
	if err != nil {
		t.Fatal(err)
	}
	if len(x.made) == 0 || len(x.madeLinks) == 0 {
		t.Fatalf("nothing was signed when the snapshot was taken (%d nodes, %d chain entries): the test proves nothing", len(x.made), len(x.madeLinks))
	}
	first := collect(t, x)
	checkConsistentImage(t, first)
	j := journal.New(0, 0)
	if got, err := j.RecordZone(x); err != nil || got != image.Source(x) {
		t.Fatalf("record: %v %v", got, err)
	}

	// The same serial again: a new snapshot (cached signatures now) is
	// not what is sent; the recorded one is, as it was.
	again, err := z.transferZone()
	if err != nil {
		t.Fatal(err)
	}
	sent, err := j.RecordZone(again)
	if err != nil {
		t.Fatal(err)
	}
	sameImage(t, "second transfer of the serial", first, collect(t, sent))

	// Every signature stale, the zone changed, re-signed: the snapshot
	// still reads as it did.
	clock.Advance(13 * 24 * time.Hour)
	addTLSA(t, z, "late._device.devices.test.", 99)
	if _, err := z.Presign(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameImage(t, "snapshot read again later", first, collect(t, x))
	later, err := z.transferZone()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(collect(t, later).RR(2), first.RR(2)) {
		t.Fatal("the zone's current transfer kept the old signatures: the clock did not make them stale")
	}
}

// checkConsistentImage is checkConsistent for an image.
func checkConsistentImage(t *testing.T, im *image.Image) {
	t.Helper()
	rrs, err := im.Unpack()
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, rrs)
}

// A transfer that reads its snapshot while the zone changes (names added,
// replaced, removed) and a compaction moves the arena sends exactly what
// the snapshot held: the nodes it saw, their signatures and the chain's as
// they were, from slabs the compaction dropped from the zone's view.
func TestXfrZoneDuringChangesAndCompaction(t *testing.T) {
	clock := newClock()
	z, _ := sigZone(t, clock, 300)
	s := &z.chain.store
	s.mu.Lock()
	s.compactMin = 0
	s.mu.Unlock()
	x, err := z.transferZone()
	if err != nil {
		t.Fatal(err)
	}
	if len(x.made)+len(x.madeLinks) != 0 {
		t.Fatalf("presigned zone: %d nodes and %d chain entries signed for the snapshot", len(x.made), len(x.madeLinks))
	}
	want := collect(t, x)
	base := x.view.base

	// change replaces every name's record (a new node each, the old one's
	// signatures dropped), removes and adds some, and re-signs the zone
	// with the clock moved on: every signature is replaced, more than half
	// of the arena is garbage, and Presign compacts it.
	change := func() {
		for i := 0; i < 300; i++ {
			name := fmt.Sprintf("d%d.g%d._device.devices.test.", i, i%5)
			switch i % 10 {
			case 0:
				if _, err := z.Apply([]Change{{Mode: change.Remove, Name: name}}); err != nil {
					t.Error(err)
				}
			default:
				addTLSA(t, z, name, 1000+i)
			}
		}
		addTLSA(t, z, "new._device.devices.test.", 7)
		clock.Advance(8 * 24 * time.Hour)
		if _, err := z.Presign(context.Background()); err != nil {
			t.Error(err)
		}
	}

	// One transfer reads a part, the zone changes and is compacted, the
	// transfer reads the rest; others read it whole meanwhile.
	var got image.Builder
	var wg sync.WaitGroup
	read := 0
	err = x.Each(func(b []byte) error {
		got.AddPacked(b[:len(b)-len(skipOwner(b))], skipOwner(b))
		if read++; read == x.Len()/3 {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 3 {
						var b image.Builder
						if err := x.Each(func(rr []byte) error { b.AddPacked(rr[:len(rr)-len(skipOwner(rr))], skipOwner(rr)); return nil }); err != nil {
							t.Error(err)
							return
						}
						im, err := b.Image()
						if err != nil || im.Len() != want.Len() {
							t.Errorf("concurrent read: %v, %d RRs", err, im.Len())
							return
						}
						for i := 0; i < im.Len(); i++ {
							if !bytes.Equal(im.RR(i), want.RR(i)) {
								t.Errorf("concurrent read: RR %d differs", i)
								return
							}
						}
					}
				}()
			}
			change()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if nb := s.view.Load().base; nb <= base {
		t.Fatalf("no compaction ran (view base %d, the snapshot's %d): the test proves nothing", nb, base)
	}
	im, err := got.Image()
	if err != nil {
		t.Fatal(err)
	}
	sameImage(t, "transfer read across changes and a compaction", want, im)
	now := collect(t, must(z.transferZone()))
	if now.Len() == want.Len() && bytes.Equal(now.RR(2), want.RR(2)) {
		t.Fatal("the zone did not change: the test proves nothing")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// rrStrings renders RRs one a line.
func rrStrings(rrs []dns.RR) string {
	var b strings.Builder
	for _, r := range rrs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// The differences a snapshot finds by comparing refs with the previous one
// are those of comparing every RR of the two transfers (journal.Diff, the
// byte comparison), in the same order, over a random sequence of changes:
// names added, removed, replaced, given another type or an empty
// non-terminal, signatures made when the snapshot is taken or before it,
// re-signing with the clock moved on, compactions, and a key rollover.
func TestXfrZoneDiffMatchesByteDiff(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	s := &z.chain.store
	s.mu.Lock()
	s.compactMin = 0
	s.mu.Unlock()
	rnd := rand.New(rand.NewSource(1))
	name := func() string {
		return fmt.Sprintf("n%d.g%d._device.devices.test.", rnd.Intn(60), rnd.Intn(4))
	}
	prev := must(z.transferZone())
	prevIm := collect(t, prev)
	changed, steps := 0, 60
	for step := 0; step < steps; step++ {
		var what string
		switch op := rnd.Intn(10); {
		case op < 4:
			what = "add"
			for range 1 + rnd.Intn(4) {
				addTLSA(t, z, name(), rnd.Int())
			}
		case op < 6:
			what = "remove"
			if _, err := z.Apply([]Change{{Mode: change.Remove, Name: name()}}); err != nil {
				t.Fatal(err)
			}
		case op == 6:
			what = "another type"
			n := name()
			if _, err := z.Apply([]Change{{Mode: change.Add, Name: n, Records: []dns.RR{rr(t, fmt.Sprintf("%s 300 IN SSHFP 4 2 %064x", n, rnd.Int()))}}}); err != nil {
				t.Fatal(err)
			}
		case op == 7:
			what = "re-signed"
			clock.Advance(time.Duration(1+rnd.Intn(10)) * 24 * time.Hour)
			if _, err := z.KeepFresh(0); err != nil {
				t.Fatal(err)
			}
		case op == 8:
			what = "presigned"
			addTLSA(t, z, name(), rnd.Int())
			if _, err := z.Presign(context.Background()); err != nil {
				t.Fatal(err)
			}
		default:
			what = "rollover"
			steps := []RolloverStep{Prepublish, Activate, Retire}
			if _, err := z.Rollover(t.Context(), "", steps[rnd.Intn(len(steps))], RolloverOptions{Force: true}); err != nil {
				what += " refused"
			}
		}
		if rnd.Intn(3) == 0 {
			z.compactChain()
		}
		cur := must(z.transferZone())
		curIm := collect(t, cur)
		del, add, ok, err := cur.DiffFrom(prev)
		if err != nil || !ok {
			t.Fatalf("step %d (%s): DiffFrom: %v %v", step, what, ok, err)
		}
		wantDel, wantAdd, err := journal.Diff(must(prevIm.Unpack()), must(curIm.Unpack()))
		if err != nil {
			t.Fatal(err)
		}
		if rrStrings(del) != rrStrings(wantDel) || rrStrings(add) != rrStrings(wantAdd) {
			t.Fatalf("step %d (%s): differences by refs\n-%s+%s\nwant, RR by RR\n-%s+%s", step, what, rrStrings(del), rrStrings(add), rrStrings(wantDel), rrStrings(wantAdd))
		}
		if len(wantDel)+len(wantAdd) > 0 {
			changed++
		}
		// The older snapshot still reads as it did.
		sameImage(t, fmt.Sprintf("step %d: previous snapshot", step), prevIm, collect(t, prev))
		prev, prevIm = cur, curIm
	}
	if changed < steps/2 {
		t.Fatalf("only %d of %d steps changed anything", changed, steps)
	}
	// A snapshot of another zone is not compared by refs.
	other, _ := newZone(t, clock)
	if _, _, ok, _ := prev.DiffFrom(must(other.transferZone())); ok {
		t.Fatal("compared refs with another zone's snapshot")
	}
	if _, _, ok, _ := prev.DiffFrom(prevIm); ok {
		t.Fatal("compared refs with a packed image")
	}
}

// The journal, its newest version a snapshot, is saved, loaded back (its
// newest version then a packed image, octet for octet the snapshot's
// RRs), and goes on serving IXFR: the next snapshot's differences from the
// loaded image are those the original journal finds by refs, and every
// kept serial plus the differences is the newest zone.
func TestXfrZoneJournalSaveLoad(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	j := journal.New(0, 0)
	var zones []*image.Image
	record := func(jj ...*journal.Journal) *xfrZone {
		t.Helper()
		x := must(z.transferZone())
		for _, j := range jj {
			if _, err := j.RecordZone(x); err != nil {
				t.Fatal(err)
			}
		}
		zones = append(zones, collect(t, x))
		return x
	}
	record(j)
	for i := range 5 {
		addTLSA(t, z, fmt.Sprintf("s%d._device.devices.test.", i), i)
		record(j)
	}
	path := filepath.Join(t.TempDir(), "ixfr.journal")
	gen := []byte("gen")
	if err := j.Save(path, gen); err != nil {
		t.Fatal(err)
	}
	k := journal.New(0, 0)
	if ok, err := k.Load(path, gen, z.Serial()); err != nil || !ok {
		t.Fatalf("load: %v %v", ok, err)
	}
	newest, _ := k.Newest()
	sameImage(t, "loaded newest zone", zones[len(zones)-1], collect(t, newest))

	addTLSA(t, z, "s1._device.devices.test.", 100)
	if _, err := z.Apply([]Change{{Mode: change.Remove, Name: "s2._device.devices.test."}}); err != nil {
		t.Fatal(err)
	}
	record(j, k)
	last := must(zones[len(zones)-1].Unpack())
	for i, old := range zones[:len(zones)-1] {
		serial := must(old.SOA()).Serial
		for _, jj := range []*journal.Journal{j, k} {
			vs, ok := jj.Since(serial)
			if !ok {
				t.Fatalf("serial %d not in the journal", serial)
			}
			got, err := journal.Apply(must(old.Unpack()), vs)
			if err != nil {
				t.Fatalf("version %d: %v", i, err)
			}
			if why, ok := sameSet(rrSet(got), rrSet(last)); !ok {
				t.Fatalf("version %d + journal is not the newest zone: %s", i, why)
			}
		}
	}
	serial := must(zones[len(zones)-2].SOA()).Serial
	a, _ := j.Since(serial)
	b, _ := k.Since(serial)
	if len(a) != 1 || len(b) != 1 || rrStrings(a[0].Deleted) != rrStrings(b[0].Deleted) || rrStrings(a[0].Added) != rrStrings(b[0].Added) {
		t.Fatalf("after the restart the differences are\n-%s+%s\nwant\n-%s+%s", rrStrings(b[0].Deleted), rrStrings(b[0].Added), rrStrings(a[0].Deleted), rrStrings(a[0].Added))
	}
	if len(a[0].Deleted) == 0 || len(a[0].Added) == 0 {
		t.Fatal("the last change deleted or added nothing")
	}
}
