package zone

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/internal/image"
)

// sameAfterCompaction checks that z, compacted, serves the transfer it
// served before (octet for octet) and has nothing to sign again.
func sameAfterCompaction(t *testing.T, z *Zone, before *image.Image) {
	t.Helper()
	after, err := z.transferImage()
	if err != nil {
		t.Fatal(err)
	}
	if before.Len() != after.Len() {
		t.Fatalf("the transfer changed with compaction: %d records, was %d", after.Len(), before.Len())
	}
	for i := 0; i < before.Len(); i++ {
		if !bytes.Equal(before.RR(i), after.RR(i)) {
			t.Fatalf("the transfer changed with compaction: record %d", i)
		}
	}
	if n, err := z.Presign(context.Background()); err != nil || n != 0 {
		t.Fatalf("presign after compaction made %d signatures (%v), want 0", n, err)
	}
}

// TestChainStoreStaleStore holds store to its check: a record signed for a
// name whose slot was given to another name meanwhile is not kept.
func TestChainStoreStaleStore(t *testing.T) {
	sg := testSigner(t)
	var s chainStore
	s.init()
	i := s.alloc("a.devices.test.")
	sl := s.slot(i)
	stale := ref(sl.name.Load())
	s.release(i)
	if j := s.alloc("b.devices.test."); j != i {
		t.Fatalf("slot %d not reused (got %d)", i, j)
	}
	rec, sigs := []byte{1, 2, 3}, []byte{4, 5}
	if err := s.store(sl, stale, sg, rec, sigs); err != nil {
		t.Fatal(err)
	}
	if sl.signed.Load() != 0 {
		t.Fatal("record for the slot's former name kept")
	}
	if err := s.store(sl, ref(sl.name.Load()), sg, rec, sigs); err != nil {
		t.Fatal(err)
	}
	v := s.view.Load()
	gotRec, gotSigs, by := v.record(ref(sl.signed.Load()))
	if !bytes.Equal(gotRec, rec) || !bytes.Equal(gotSigs, sigs) || by != sg || string(v.name(ref(sl.name.Load()))) != "b.devices.test." {
		t.Fatalf("stored %x %x by %p, want %x %x by %p", gotRec, gotSigs, by, rec, sigs, sg)
	}
}

// smallSlabs makes z's arena compact whenever it has garbage and map
// slabs of size octets, so that a test with few names crosses many slabs
// and compactions. It returns the arena's store.
func smallSlabs(z *Zone, size int) *chainStore {
	s := &z.chain.store
	s.mu.Lock()
	s.compactMin, s.slab = 0, size
	s.mu.Unlock()
	return s
}

// chainWires returns every chain entry's name and signed record as the
// snapshot saw them, copied.
func chainWires(snap *transferSnap) []string {
	var out []string
	for _, l := range snap.links {
		w := []byte(nil)
		if l.signed != 0 {
			w, _, _ = snap.view.wire(l.signed)
		}
		out = append(out, fmt.Sprintf("%s %x", snap.view.name(l.name), w))
	}
	return out
}

// TestChainCompaction replaces every NSEC3 record's signatures, so that
// more than half of the arena is garbage, and checks that compaction
// moves what is live (the same transfer, octet for octet, and nothing to
// sign again) while a snapshot taken before still reads what it saw.
func TestChainCompaction(t *testing.T) {
	z, _ := sigZone(t, newClock(), 300)
	s := &z.chain.store
	s.mu.Lock()
	s.compactMin = 0
	s.mu.Unlock()
	before, err := z.transferImage()
	if err != nil {
		t.Fatal(err)
	}
	snap := z.snapshot()
	saw := chainWires(snap)

	// Below half garbage: no compaction.
	z.mu.RLock()
	sg := z.signer.Load()
	v := s.view.Load()
	type rewrite struct {
		sl        *chainSlot
		name      ref
		rec, sigs []byte
	}
	var all []rewrite
	for _, si := range z.chain.entries {
		sl := s.slot(si)
		rec, sigs, _ := v.record(ref(sl.signed.Load()))
		all = append(all, rewrite{sl, ref(sl.name.Load()), slices.Clone(rec), slices.Clone(sigs)})
	}
	z.mu.RUnlock()
	for _, r := range all[:len(all)/4] {
		if err := s.store(r.sl, r.name, sg, r.rec, r.sigs); err != nil {
			t.Fatal(err)
		}
	}
	z.compactChain()
	if got := s.view.Load().base; got != v.base {
		t.Fatalf("compacted with a quarter of the records replaced (base %d, was %d)", got, v.base)
	}
	// The rest, then all again: garbage passes half of the arena.
	for _, r := range append(all[len(all)/4:], all...) {
		if err := s.store(r.sl, r.name, sg, r.rec, r.sigs); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	usedBefore := s.used
	wasteful := s.wastefulLocked()
	s.mu.Unlock()
	if !wasteful {
		t.Fatal("every record replaced twice, and the arena is not wasteful")
	}
	// compactChain in its two halves: the copy runs while the zone is
	// read (as queries do), and every entry is then found signed, in the
	// old slabs or the new.
	s.compactMu.Lock()
	s.compactCopy(z.signedNodes)
	z.mu.RLock()
	for name, n := range z.names {
		if slab, _ := ref(n.sigs.Load()).parts(); slab < s.mark {
			t.Fatalf("signatures of %s not copied", name)
		}
		for _, typ := range n.types() {
			if n.cachedSigs(s, sg, typ) == nil {
				t.Fatalf("%s lost its signatures of type %d in the copy", name, typ)
			}
		}
	}
	for _, si := range z.chain.entries {
		sl := s.slot(si)
		if slab, _ := ref(sl.signed.Load()).parts(); slab < s.mark {
			t.Fatalf("slot %d not copied", si)
		}
		rec, _, _ := s.view.Load().record(ref(sl.signed.Load()))
		if z.chain.cachedSigs(sl, sg, rec) == nil {
			t.Fatalf("slot %d lost its signatures in the copy", si)
		}
	}
	z.mu.RUnlock()
	z.mu.Lock()
	s.compactFinish()
	z.mu.Unlock()
	s.compactMu.Unlock()
	s.mu.Lock()
	nv, used, dead := s.view.Load(), s.used, s.dead
	s.mu.Unlock()
	if nv.base == v.base || dead != 0 || 2*used > usedBefore || len(nv.signers) != 1 || nv.signers[0] != sg {
		t.Fatalf("after compaction: base %d (was %d), %d used (was %d), %d dead, %d signers", nv.base, v.base, used, usedBefore, dead, len(nv.signers))
	}
	if got := chainWires(snap); !slices.Equal(got, saw) {
		t.Fatal("a snapshot taken before compaction reads other records")
	}
	sameAfterCompaction(t, z, before)

	// Names removed: their bytes are garbage, and compaction on removal
	// leaves a chain that still verifies.
	var cs []Change
	for i := 0; i < 250; i++ {
		cs = append(cs, Change{Mode: change.Remove, Name: fmt.Sprintf("d%d.g%d._device.devices.test.", i, i%5)})
	}
	if _, err := z.Apply(cs); err != nil {
		t.Fatal(err)
	}
	z.compactChain()
	if s.view.Load().base == nv.base {
		t.Fatal("no compaction after most names went")
	}
	rrs, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	verifyAllKeys(t, z, rrs)
	checkConsistent(t, rrs)
}

// TestChainCompactionConcurrent runs transfers, presigning and positive
// answers from the packed records while names come and go and the arena
// is compacted at every chance (run it with -race): every transfer is
// consistent, every signature verifies, and every answer carries its own
// name's signature.
func TestChainCompactionConcurrent(t *testing.T) {
	z, _ := sigZone(t, newClock(), 200)
	// Small slabs: new ones all the time, so that a reader loading the
	// view before the ref it resolves would find the slab missing.
	s := smallSlabs(z, 512)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	var answered atomic.Int64
	// Positive answers read their nodes after the zone's lock: whatever
	// they find signed must be the name's TLSA signature, never bytes of
	// another record.
	go func() {
		defer wg.Done()
		for i := 0; ; i = (i + 1) % 400 {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("d%d.g%d._device.devices.test.", i, i%5)
			var qb [256]byte
			qn, err := dns.PackDomainName(name, qb[:], 0, nil, false)
			if err != nil {
				t.Error(err)
				return
			}
			out, count, ok := z.appendAnswer(nil, qb[:qn], dns.TypeTLSA, true)
			if !ok {
				continue
			}
			a, off, err := dns.UnpackRR(out, 0)
			if err != nil || count != 2 {
				t.Errorf("%s: %d records, %v", name, count, err)
				return
			}
			sig, _, err := dns.UnpackRR(out, off)
			if rs, isSig := sig.(*dns.RRSIG); err != nil || !isSig || rs.TypeCovered != dns.TypeTLSA || a.Header().Name != name || rs.Header().Name != name {
				t.Errorf("%s: answer %v then %v (%v)", name, a, sig, err)
				return
			}
			answered.Add(1)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 200; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("d%d.g%d._device.devices.test.", i, i%5)
			old := fmt.Sprintf("d%d.g%d._device.devices.test.", i-150, (i-150)%5)
			if _, err := z.Apply([]Change{
				{Mode: change.Add, Name: name, Records: []dns.RR{rr(t, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", name, i))}},
				{Mode: change.Remove, Name: old},
			}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := z.Presign(context.Background()); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	bases := map[int]bool{}
	for k := 0; k < 10; k++ {
		rrs, err := z.Transfer()
		if err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, rrs)
		verifyAllKeys(t, z, rrs)
		bases[s.view.Load().base] = true
	}
	close(stop)
	wg.Wait()
	if len(bases) < 2 {
		t.Fatal("the arena was never compacted during the transfers")
	}
	if answered.Load() == 0 {
		t.Fatal("no positive answer built from the packed records during the run")
	}
}

// BenchmarkChainCompact times one compaction of the NSEC3 chain's arena
// of 100,000 presigned identities, and the part of it under the zone's
// write lock (the pause it makes for queries).
//
//	go test -run '^$' -bench ChainCompact -benchtime 5x ./zone/
func BenchmarkChainCompact(b *testing.B) {
	z := benchZone(b, 100000)
	if _, err := z.Presign(context.Background()); err != nil {
		b.Fatal(err)
	}
	s := &z.chain.store
	var locked time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.compactMu.Lock()
		s.compactCopy(z.signedNodes)
		t0 := time.Now()
		z.mu.Lock()
		s.compactFinish()
		z.mu.Unlock()
		locked += time.Since(t0)
		s.compactMu.Unlock()
	}
	b.StopTimer()
	b.ReportMetric(float64(locked.Microseconds())/float64(b.N), "write-locked-µs")
	s.mu.Lock()
	b.ReportMetric(float64(s.used)/(1<<20), "arena-MB")
	s.mu.Unlock()
}
