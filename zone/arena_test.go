package zone

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/internal/slab"
)

// Every test of the package runs with released slabs made inaccessible
// instead of unmapped: a read of arena bytes after their slab was released
// faults (the test binary dies) instead of passing by luck.
func init() { slab.SetCheck(true) }

// viewBytes is the size of the slabs of s's current view.
func viewBytes(s *chainStore) int64 {
	var n int64
	for _, b := range s.view.Load().slabs {
		n += int64(len(b))
	}
	return n
}

// waitArena collects garbage until s maps no more than want bytes, or
// fails after a generous deadline.
func waitArena(t *testing.T, s *chainStore, want int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.mapped.Bytes() > want {
		if time.Now().After(deadline) {
			t.Fatalf("arena maps %d bytes, want at most %d", s.mapped.Bytes(), want)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// garbage stores every signed node's signatures again, so that the arena
// becomes wasteful and compactChain compacts.
func garbage(t *testing.T, z *Zone, times int) {
	t.Helper()
	s := &z.chain.store
	for k := 0; k < times; k++ {
		for _, n := range z.signedNodes() {
			z.mu.RLock()
			w, by := s.nodeSigs(n)
			w = bytes.Clone(w)
			z.mu.RUnlock()
			if by == nil {
				continue
			}
			if err := s.setSigs(n, by, w); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// compacted runs a compaction after making the arena wasteful and fails
// unless one happened.
func compacted(t *testing.T, z *Zone) {
	t.Helper()
	base := z.chain.store.view.Load().base
	garbage(t, z, 3)
	z.compactChain()
	if z.chain.store.view.Load().base == base {
		t.Fatal("no compaction")
	}
}

// snapBytes copies everything a snapshot reads from the arena.
func snapBytes(snap *transferSnap) [][]byte {
	var out [][]byte
	for _, r := range snap.sigs {
		w, _ := snap.view.sigsAt(r)
		out = append(out, bytes.Clone(w))
	}
	for _, l := range snap.links {
		out = append(out, bytes.Clone(snap.view.name(l.name)))
		if l.signed != 0 {
			w, _, _ := snap.view.wire(l.signed)
			out = append(out, bytes.Clone(w))
		}
	}
	return out
}

// TestArenaSnapshotOutlivesCompactions holds a transfer's snapshot across
// three compactions and the collections after each: it reads what it saw,
// octet for octet (a slab released under it would fault); the slabs of
// the views in between, which nothing holds, are released meanwhile, and
// the snapshot's own once it is dropped.
func TestArenaSnapshotOutlivesCompactions(t *testing.T) {
	z, _ := sigZone(t, newClock(), 200)
	s := smallSlabs(z, 4096)
	snap := z.snapshot()
	want := snapBytes(snap)
	var snapSlabs int64
	for _, b := range snap.view.slabs {
		snapSlabs += int64(len(b))
	}
	for k := 0; k < 3; k++ {
		compacted(t, z)
		// Only the current view's slabs and the snapshot's stay.
		waitArena(t, s, viewBytes(s)+snapSlabs)
	}
	if got := snapBytes(snap); len(got) != len(want) {
		t.Fatalf("%d arena reads through the snapshot, %d when taken", len(got), len(want))
	} else {
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("read %d through the snapshot changed: %x, was %x", i, got[i], want[i])
			}
		}
	}
	held := s.mapped.Bytes()
	if held < viewBytes(s)+snapSlabs {
		t.Fatalf("arena maps %d bytes with the snapshot held, less than its view and the current one (%d)", held, viewBytes(s)+snapSlabs)
	}
	runtime.KeepAlive(snap)
	snap = nil
	// The snapshot was what kept its slabs: now they go.
	waitArena(t, s, viewBytes(s))
	if s.mapped.Bytes() != viewBytes(s) {
		t.Fatalf("arena maps %d bytes, its view %d", s.mapped.Bytes(), viewBytes(s))
	}
}

// TestArenaPinnedSigsAcrossCompaction reads a node's signatures as a
// positive answer does (after the zone's lock, through pinnedSigs) while
// the node is replaced, the arena compacted and garbage collected: the
// view pinnedSigs returned keeps the slab, the bytes stay as they were,
// and once the view is dropped the slab is released (so it was the view,
// not luck, that kept it).
func TestArenaPinnedSigsAcrossCompaction(t *testing.T) {
	z, _ := sigZone(t, newClock(), 100)
	s := smallSlabs(z, 4096)
	const name = "d7.g2._device.devices.test."
	sg := z.signer.Load()
	z.mu.RLock()
	n := z.names[name]
	z.mu.RUnlock()
	w, keep := n.pinnedSigs(s, sg, dns.TypeTLSA)
	if w == nil {
		t.Fatal("presigned node without signatures")
	}
	want := bytes.Clone(w)
	if _, err := z.Apply([]Change{{Mode: change.Replace, Name: name, Records: []dns.RR{rr(t, name+" 300 IN TLSA 3 1 1 "+fmt.Sprintf("%064x", 99))}}}); err != nil {
		t.Fatal(err)
	}
	compacted(t, z)
	compacted(t, z)
	var keepBytes int64
	for _, b := range keep.slabs {
		keepBytes += int64(len(b))
	}
	waitArena(t, s, viewBytes(s)+keepBytes)
	if slab, _ := ref(n.sigs.Load()).parts(); slab >= s.view.Load().base && n.sigs.Load() != 0 {
		t.Fatal("the replaced node's signatures are still in the current view")
	}
	if !bytes.Equal(w, want) {
		t.Fatalf("pinned signatures changed across compactions: %x, were %x", w, want)
	}
	if s.mapped.Bytes() <= viewBytes(s) {
		t.Fatal("the pinned view's slabs were released while it was held")
	}
	runtime.KeepAlive(keep)
	keep, w = nil, nil
	waitArena(t, s, viewBytes(s))
}

// TestArenaOffHeap stores 16 MB in an arena and checks that it is mapped
// outside the Go heap where the platform has mmap (the heap grows by far
// less than the arena), and counted in ArenaBytes either way.
func TestArenaOffHeap(t *testing.T) {
	var s chainStore
	s.init()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	s.mu.Lock()
	for i := 0; i < 16; i++ {
		_, b := s.appendLocked(1 << 20)
		b[0], b[len(b)-1] = 1, 1
	}
	s.mu.Unlock()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	if got := s.mapped.Bytes(); got < 16<<20 {
		t.Fatalf("arena of 16 MB counts %d bytes mapped", got)
	}
	grew := int64(ms1.HeapAlloc) - int64(ms0.HeapAlloc)
	if slab.OffHeap && grew > 4<<20 {
		t.Fatalf("an arena of 16 MB outside the heap grew the heap by %d bytes", grew)
	}
	if !slab.OffHeap && grew < 16<<20 {
		t.Fatalf("a heap arena of 16 MB grew the heap by %d bytes only", grew)
	}
	runtime.KeepAlive(&s)
}

// TestArenaReadersRaceCompaction runs every kind of arena reader (positive
// answers after the lock, queries under it, transfers from snapshots, the
// signature cache file) while names are replaced, the arena compacted at
// every chance and the collector run in a loop, so that released slabs are
// unmapped (made to fault: see init) as soon as nothing holds them. Run it
// with -race. Every answer carries its own name's signature, every
// transfer verifies, and slabs were released during the run.
func TestArenaReadersRaceCompaction(t *testing.T) {
	z, _ := sigZone(t, newClock(), 150)
	smallSlabs(z, 1024)
	released := slab.Released()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var answered, queried atomic.Int64
	loop := func(f func(i int) bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if !f(i) {
					return
				}
			}
		}()
	}
	name := func(i int) string { return fmt.Sprintf("d%d.g%d._device.devices.test.", i, i%5) }
	loop(func(i int) bool {
		nm := name(i % 150)
		var qb [256]byte
		qn, err := dns.PackDomainName(nm, qb[:], 0, nil, false)
		if err != nil {
			t.Error(err)
			return false
		}
		out, count, ok := z.appendAnswer(nil, qb[:qn], dns.TypeTLSA, true)
		if !ok {
			return true
		}
		a, off, err := dns.UnpackRR(out, 0)
		if err != nil || count != 2 {
			t.Errorf("%s: %d records, %v", nm, count, err)
			return false
		}
		sig, _, err := dns.UnpackRR(out, off)
		if rs, isSig := sig.(*dns.RRSIG); err != nil || !isSig || rs.TypeCovered != dns.TypeTLSA || a.Header().Name != nm || rs.Header().Name != nm {
			t.Errorf("%s: answer %v then %v (%v)", nm, a, sig, err)
			return false
		}
		answered.Add(1)
		return true
	})
	loop(func(i int) bool {
		a, err := z.Query(name(i%150), dns.TypeTLSA, QueryOptions{DNSSEC: true})
		if err != nil {
			t.Error(err)
			return false
		}
		if a.Outcome == Success {
			queried.Add(1)
		}
		return true
	})
	loop(func(i int) bool {
		// Replacing names makes their old signatures garbage.
		nm := name(i % 150)
		if _, err := z.Apply([]Change{{Mode: change.Replace, Name: nm, Records: []dns.RR{rr(t, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", nm, i))}}}); err != nil {
			t.Error(err)
			return false
		}
		return true
	})
	loop(func(int) bool {
		if _, err := z.Presign(context.Background()); err != nil {
			t.Error(err)
			return false
		}
		return true
	})
	loop(func(int) bool {
		runtime.GC()
		return true
	})
	for k := 0; k < 8; k++ {
		rrs, err := z.Transfer()
		if err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, rrs)
		verifyAllKeys(t, z, rrs)
		if _, err := z.saveSignatures(); err != nil {
			t.Fatal(err)
		}
	}
	// Run on until slabs were released under the readers.
	deadline := time.Now().Add(60 * time.Second)
	for slab.Released() < released+20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if slab.Released() < released+20 {
		t.Fatalf("%d slabs released during the run: the readers were not raced", slab.Released()-released)
	}
	if answered.Load() == 0 || queried.Load() == 0 {
		t.Fatalf("%d answers from the packed records and %d queries answered during the run", answered.Load(), queried.Load())
	}
}

// TestArenaCompactionReleasesSlabs checks that the slabs a compaction
// drops are unmapped without waiting for the heap to grow: mapping new
// slabs does not move the collector's pacer, so compactChain collects. The
// test only waits (no runtime.GC of its own).
func TestArenaCompactionReleasesSlabs(t *testing.T) {
	z, _ := sigZone(t, newClock(), 200)
	s := smallSlabs(z, 4096)
	garbage(t, z, 3)
	runtime.GC()
	runtime.GC()
	before := s.mapped.Bytes()
	z.compactChain()
	deadline := time.Now().Add(30 * time.Second)
	for s.mapped.Bytes() > viewBytes(s) {
		if time.Now().After(deadline) {
			t.Fatalf("arena maps %d bytes after a compaction (%d before), its view %d: the dropped slabs were not released", s.mapped.Bytes(), before, viewBytes(s))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if viewBytes(s) >= before {
		t.Fatalf("compaction of a wasteful arena kept %d of %d bytes", viewBytes(s), before)
	}
}
