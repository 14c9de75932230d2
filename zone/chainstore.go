package zone

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dnsbound/dance/zone/internal/signer"
	"github.com/dnsbound/dance/zone/internal/slab"
)

// The NSEC3 chain's entries live in storage the garbage collector does not
// scan: a million names are a million entries, and an object per entry
// with a name string and a pointer to its signed record would be three
// more objects per identity to mark at every collection.
//
//   - Each entry is a chainSlot, 16 octets without pointers, in pages of
//     slotPage slots that never move once allocated (so a *chainSlot stays
//     good while signers work outside the zone's lock). chain.entries maps
//     a hash to its slot's number: a map whose keys and values hold no
//     pointers, which the collector does not look into.
//   - Names and signed records are appended to an arena of large byte
//     slabs. Bytes once published are never written again, so readers take
//     no lock of the arena's: a slot holds the arena address (a ref) of its
//     name and, atomically, of its signed record.
//   - A signed record names its signer by a number into the arena's signer
//     table, not by a pointer.
//   - The nodes' cached signatures are records of the same arena
//     (nodesigs.go): a compaction copies both.
//
// Writes to the arena and to slots take chainStore.mu (signers store new
// records concurrently, outside the zone's lock). A reader loads a slot's
// ref first and the arena's view after it: a ref is stored only once the
// view holding its slab is published. Reading a live slot needs the
// zone's lock (read or write): compaction copies records to new slabs
// while readers go on, and drops the old slabs from the view under the
// write lock, when no reader can be holding a ref into them. A transfer's
// snapshot copies the refs under the read lock and keeps the arena view
// they point into, whose slabs stay as they were.
//
// Lifetime of the slabs. The slabs are mapped outside the Go heap
// (zone/internal/slab, anonymous mmap; a heap fallback where there is
// none), so that the collector's goal covers only the heap it scans. A
// slab is unmapped by a cleanup once its owner, a *slab.Slab, is
// unreachable, and only an arenaView refers to owners: a []byte into a
// slab is not a reference the collector sees, and keeps nothing mapped.
// Slabs leave the current view only in compactFinish, which holds the
// zone's write lock and s.mu. So every read of arena bytes is one of
// these, and each keeps the slab mapped until the reader is done:
//
//  1. Under s.mu (store, storeSigs, carrySigs, release, the compaction's
//     copy): the current view, which the store refers to, holds the
//     slab until s.mu is released.
//  2. Under the zone's lock, read or write (Query and the wildcard
//     answers through signedBy, presigning's and re-signing's walks,
//     nameOf, chain.cachedSigs), or while the zone opens, before anything
//     else runs (loading the signature cache): the current view holds the
//     slab until the lock is released. Bytes needed after the lock are
//     copied before (re-signing clones the records it signs later;
//     answers are decoded into dns.RRs).
//  3. Through a view the reader holds itself: a transfer's snapshot
//     (transferSnap.view, xfrZone.view; transferZone, the xfrZone's
//     readers, which the journal keeps until the next transfer, and
//     saveSignatures), and a
//     positive answer, which reads its node's signatures after the read
//     lock (node.pinnedSigs). The reader keeps that view reachable,
//     with runtime.KeepAlive after its last use of the bytes, and a view
//     holds all its slabs.
//
// Nothing keeps a []byte into a slab beyond that: answers, transfer
// images, the journal and the signature cache file get copies. A new
// reader must be one of the three kinds; a read after its view is gone
// is a fault (or, were the address mapped again, someone else's bytes).
// Tests run with slab.SetCheck, which makes a released slab fault on any
// touch instead of unmapping it (arena_test.go).

// ref is the arena address of a name or a signed record: slab number in
// the upper 32 bits, offset in the slab in the lower, plus one, so that the
// zero ref means none.
type ref uint64

func mkRef(slab, off int) ref        { return ref(uint64(slab)<<32|uint64(off)) + 1 }
func (r ref) parts() (slab, off int) { r--; return int(r >> 32), int(uint32(r)) }

// slabSize is the size of an arena slab; a larger record gets a slab of
// its own size.
const slabSize = 1 << 20

// slotPage is the number of slots in a page of chainStore.pages.
const slotPage = 1024

// compactMin is the arena size below which no compaction is worth it.
const compactMin = 4 << 20

// chainSlot is one entry of the NSEC3 chain: the ref of its name, and the
// ref of its signed NSEC3 record (zero until signed). Both are written
// under chainStore.mu; a slot not in use has a zero name.
type chainSlot struct {
	name   atomic.Uint64
	signed atomic.Uint64
}

// A signed record in the arena: a header of signer number (2 octets), the
// length of the packed NSEC3 record (2 octets) and of the whole (4 octets),
// then the packed record followed by its packed RRSIGs.
const recHeaderLen = 8

// arenaView is the arena as published: its slabs (slab number base+i is
// slabs[i], owned by owners[i]) and the signer table. A view is never
// changed once published; a new slab or signer publishes a new view
// sharing the slabs. A view keeps its slabs mapped (see "Lifetime of the
// slabs" above); its slices are its own arrays, never parts of another
// view's, so that a dropped slab's owner is not kept reachable by an array
// a newer view shares.
type arenaView struct {
	base    int
	slabs   [][]byte
	owners  []*slab.Slab
	signers []*signer.Signer
}

// at returns the slab of r from r's offset on.
func (v *arenaView) at(r ref) []byte {
	slab, off := r.parts()
	return v.slabs[slab-v.base][off:]
}

// name returns the name stored at r: two octets of length, then the name
// (its presentation form, which escapes can make longer than 255).
func (v *arenaView) name(r ref) []byte {
	b := v.at(r)
	n := 2 + int(binary.BigEndian.Uint16(b))
	return b[2:n:n]
}

// appendNameLocked stores name in the arena. Callers hold s.mu.
func (s *chainStore) appendNameLocked(name []byte) ref {
	r, b := s.appendLocked(2 + len(name))
	binary.BigEndian.PutUint16(b, uint16(len(name)))
	copy(b[2:], name)
	return r
}

// appendRecordLocked stores a signed record in the arena. Callers hold
// s.mu.
func (s *chainStore) appendRecordLocked(idx uint16, rec, sigs []byte) ref {
	r, b := s.appendLocked(recHeaderLen + len(rec) + len(sigs))
	binary.BigEndian.PutUint16(b, idx)
	binary.BigEndian.PutUint16(b[2:], uint16(len(rec)))
	binary.BigEndian.PutUint32(b[4:], uint32(len(rec)+len(sigs)))
	copy(b[recHeaderLen+copy(b[recHeaderLen:], rec):], sigs)
	return r
}

// maxNSEC3Rec is the longest packed NSEC3 record the arena's header can
// say; a record holds a name's hash and type bitmap, far less.
const maxNSEC3Rec = 0xffff

// record returns the signed record at r: the packed NSEC3 record, its
// signatures and their signer.
func (v *arenaView) record(r ref) (rec, sigs []byte, by *signer.Signer) {
	w, split, by := v.wire(r)
	return w[:split:split], w[split:], by
}

// wire returns the signed record at r as one slice, the packed record
// followed by its signatures, where the signatures start, and their
// signer.
func (v *arenaView) wire(r ref) (w []byte, split int, by *signer.Signer) {
	b := v.at(r)
	idx := binary.BigEndian.Uint16(b)
	split = int(binary.BigEndian.Uint16(b[2:]))
	n := recHeaderLen + int(binary.BigEndian.Uint32(b[4:]))
	return b[recHeaderLen:n:n], split, v.signers[idx]
}

// recordLen is the arena octets the signed record at r takes.
func (v *arenaView) recordLen(r ref) int {
	return recHeaderLen + int(binary.BigEndian.Uint32(v.at(r)[4:]))
}

// errSignerTable is returned when the arena's signer table is full: more
// distinct signers than a record header can number since the last
// compaction.
var errSignerTable = errors.New("zone: NSEC3 signer table full")

// chainStore holds the chain's slots and arena.
type chainStore struct {
	mu    sync.Mutex
	view  atomic.Pointer[arenaView]
	pages [][]chainSlot // grown under the zone's write lock
	nslot int
	free  []uint32
	// fill is how much of the last slab is used. used and dead count the
	// octets appended to the slabs from number mark on and those no longer
	// referred to; mark is the view's base except while a compaction
	// copies (then the first slab it copies into).
	fill       int
	used, dead int
	mark       int
	// compactMin is the arena size below which compaction is not worth
	// it, and slab the size of a new slab (compactMin and slabSize,
	// smaller in tests).
	compactMin, slab int
	// compactMu makes compactions one at a time; keep, while one runs,
	// marks the signers records stored since it began refer to.
	compactMu sync.Mutex
	keep      map[uint16]bool
	// mapped counts the bytes of the slabs mapped for this store and not
	// yet released (those of the current view and of views still held).
	mapped *slab.Counter
}

// ArenaBytes returns the bytes of the arena's slabs mapped now: the
// NSEC3 chain's names and signed records and the nodes' signatures, in
// the slabs of the current view and of older views a transfer or a
// reader still holds. On Linux and macOS they are outside the Go heap
// (GOGC and GOMEMLIMIT do not count them) and take resident pages only
// as they are written.
func (z *Zone) ArenaBytes() int64 { return z.chain.store.mapped.Bytes() }

func (s *chainStore) init() {
	s.mapped = new(slab.Counter)
	s.view.Store(&arenaView{})
	s.compactMin, s.slab = compactMin, slabSize
}

// slot returns slot i.
func (s *chainStore) slot(i uint32) *chainSlot { return &s.pages[i/slotPage][i%slotPage] }

// appendLocked reserves n octets in the arena and returns their ref, the
// view in which they are and the octets to write. Callers hold s.mu.
func (s *chainStore) appendLocked(n int) (ref, []byte) {
	v := s.view.Load()
	last := len(v.slabs) - 1
	if last < 0 || s.fill+n > len(v.slabs[last]) {
		if last >= 0 && v.base+last >= s.mark {
			// The rest of the slab is never used.
			s.dead += len(v.slabs[last]) - s.fill
			s.used += len(v.slabs[last]) - s.fill
		}
		o := slab.New(max(s.slab, n), s.mapped)
		nv := &arenaView{base: v.base, slabs: append(v.slabs[:len(v.slabs):len(v.slabs)], o.Bytes()), owners: append(v.owners[:len(v.owners):len(v.owners)], o), signers: v.signers}
		s.view.Store(nv)
		v, last, s.fill = nv, len(nv.slabs)-1, 0
	}
	r := mkRef(v.base+last, s.fill)
	b := v.slabs[last][s.fill : s.fill+n : s.fill+n]
	s.fill += n
	s.used += n
	return r, b
}

// deadLocked counts the n octets at r as garbage. Octets in slabs before
// mark are not counted in used either. Callers hold s.mu.
func (s *chainStore) deadLocked(r ref, n int) {
	if slab, _ := r.parts(); slab >= s.mark {
		s.dead += n
	}
}

// signerIndexLocked returns the number of sg in the signer table, adding
// it when new. Callers hold s.mu.
func (s *chainStore) signerIndexLocked(sg *signer.Signer) (uint16, error) {
	v := s.view.Load()
	free := -1
	for i, x := range v.signers {
		if x == sg {
			return uint16(i), nil
		}
		if x == nil && free < 0 {
			free = i
		}
	}
	// A number freed by a compaction is taken again: no live record
	// refers to it, and views taken before have their own table.
	table := slices.Clone(v.signers)
	if free >= 0 {
		table[free] = sg
	} else if len(table) > 0xffff {
		return 0, errSignerTable
	} else {
		free = len(table)
		table = append(table, sg)
	}
	s.view.Store(&arenaView{base: v.base, slabs: v.slabs, owners: v.owners, signers: table})
	return uint16(free), nil
}

// alloc takes a slot for name. Callers hold the zone's write lock.
func (s *chainStore) alloc(name string) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var i uint32
	if n := len(s.free); n > 0 {
		i, s.free = s.free[n-1], s.free[:n-1]
	} else {
		if s.nslot%slotPage == 0 {
			s.pages = append(s.pages, make([]chainSlot, slotPage))
		}
		i = uint32(s.nslot)
		s.nslot++
	}
	sl := s.slot(i)
	sl.name.Store(uint64(s.appendNameLocked([]byte(name))))
	sl.signed.Store(0)
	return i
}

// release gives slot i back. Callers hold the zone's write lock.
func (s *chainStore) release(i uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.slot(i)
	nr := ref(sl.name.Swap(0))
	sr := ref(sl.signed.Swap(0))
	v := s.view.Load()
	s.deadLocked(nr, 2+len(v.name(nr)))
	if sr != 0 {
		s.deadLocked(sr, v.recordLen(sr))
	}
	s.free = append(s.free, i)
}

// store appends the signed record (rec followed by sigs, signed by sg) and
// makes it slot sl's, if sl still holds the name at want: a slot given to
// another name meanwhile keeps its own record.
func (s *chainStore) store(sl *chainSlot, want ref, sg *signer.Signer, rec, sigs []byte) error {
	if len(rec) > maxNSEC3Rec || uint64(len(rec))+uint64(len(sigs)) > 1<<31 {
		return errPacked
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref(sl.name.Load()) != want {
		return nil
	}
	idx, err := s.signerIndexLocked(sg)
	if err != nil {
		return err
	}
	if s.keep != nil {
		s.keep[idx] = true
	}
	r := s.appendRecordLocked(idx, rec, sigs)
	if old := ref(sl.signed.Swap(uint64(r))); old != 0 {
		s.deadLocked(old, s.view.Load().recordLen(old))
	}
	return nil
}

// wastefulLocked reports whether more than half of the arena is no longer
// referred to (and the arena is big enough for that to matter). Callers
// hold s.mu.
func (s *chainStore) wastefulLocked() bool {
	return s.used >= s.compactMin && 2*s.dead > s.used
}

// compactChain compacts the arena the NSEC3 chain and the nodes'
// signatures share when more than half of it is garbage (replaced
// signatures, removed names). It is called after presigning and
// re-signing, which replace signatures, and needs no lock: it copies while
// queries, updates and signers go on, and takes the zone's write lock
// only to drop the old slabs. It reports whether it compacted; when it
// did, the memory freed was returned to the system (releaseMemory).
func (z *Zone) compactChain() bool {
	s := &z.chain.store
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.mu.Lock()
	w := s.wastefulLocked()
	s.mu.Unlock()
	if w {
		s.compactCopy(z.signedNodes)
		z.mu.Lock()
		s.compactFinish()
		z.mu.Unlock()
		// The dropped slabs, more than half of the arena, are
		// unmapped only by the cleanups of a collection that finds
		// them unreachable, and mapping the new ones did not move the
		// collector's pacer (they are not heap): without a collection
		// now they would stay mapped until the heap next grows enough.
		// The heap the compaction's callers freed goes back to the
		// system with it.
		releaseMemory()
		return true
	}
	return false
}

// signedNodes returns the zone's nodes that have signatures, for
// compactCopy. It takes the zone's read lock.
func (z *Zone) signedNodes() []*node {
	z.mu.RLock()
	defer z.mu.RUnlock()
	nodes := make([]*node, 0, len(z.names))
	for _, n := range z.names {
		if n.sigs.Load() != 0 {
			nodes = append(nodes, n)
		}
	}
	return nodes
}

// compactStep is how many slots compactCopy copies under one hold of
// chainStore.mu, so that updates and signers wait for no more.
const compactStep = 4096

// compactCopy is the first half of a compaction: it copies every slot's
// name and record into new slabs, a step of slots at a time, and makes
// the slot refer to the copies, then the same for the signatures of the
// nodes that nodes (called once the copy has begun) returns: those the
// zone holds. Readers meanwhile see a view holding old and new slabs, so
// either ref is good. Records stored meanwhile go to the new slabs and
// are not copied again; a node added meanwhile has all its records there,
// and one replaced meanwhile gives up its ref (dropSigs). Callers hold
// s.compactMu and not the zone's lock.
func (s *chainStore) compactCopy(nodes func() []*node) {
	s.mu.Lock()
	v := s.view.Load()
	s.mark = v.base + len(v.slabs)
	if len(v.slabs) > 0 {
		s.fill = len(v.slabs[len(v.slabs)-1]) // the next append starts a slab
	}
	s.used, s.dead = 0, 0
	s.keep = map[uint16]bool{}
	s.mu.Unlock()
	ns := nodes()
	for i := 0; i < len(ns); i += compactStep {
		s.mu.Lock()
		for _, n := range ns[i:min(i+compactStep, len(ns))] {
			if r := ref(n.sigs.Load()); r != 0 {
				if slab, _ := r.parts(); slab < s.mark {
					n.sigs.Store(uint64(s.copyRecordLocked(r)))
				}
			}
		}
		s.mu.Unlock()
	}
	for i := 0; ; i += compactStep {
		s.mu.Lock()
		if i >= s.nslot {
			s.mu.Unlock()
			return
		}
		v := s.view.Load()
		for j := i; j < min(i+compactStep, s.nslot); j++ {
			sl := s.slot(uint32(j))
			nr := ref(sl.name.Load())
			if nr == 0 {
				continue
			}
			if slab, _ := nr.parts(); slab < s.mark {
				sl.name.Store(uint64(s.appendNameLocked(v.name(nr))))
			}
			sr := ref(sl.signed.Load())
			if sr == 0 {
				continue
			}
			if slab, _ := sr.parts(); slab < s.mark {
				sl.signed.Store(uint64(s.copyRecordLocked(sr)))
			}
			v = s.view.Load() // appending may have added a slab
		}
		s.mu.Unlock()
	}
}

// copyRecordLocked copies the signed record at r into the slab being
// filled and returns the copy's ref. Callers hold s.mu and s.compactMu.
func (s *chainStore) copyRecordLocked(r ref) ref {
	v := s.view.Load()
	w, split, _ := v.wire(r)
	idx := binary.BigEndian.Uint16(v.at(r))
	s.keep[idx] = true
	return s.appendRecordLocked(idx, w[:split], w[split:])
}

// compactFinish is the second half of a compaction: the view drops the
// slabs before mark, which no slot refers to any more, and the signers
// no record refers to. Views taken before (a transfer's snapshot) keep
// the old slabs alive and unchanged. Callers hold s.compactMu and the
// zone's write lock, so no reader holds a ref it loaded before the copy.
func (s *chainStore) compactFinish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.view.Load()
	table := slices.Clone(v.signers)
	for i := range table {
		if !s.keep[uint16(i)] {
			table[i] = nil
		}
	}
	for len(table) > 0 && table[len(table)-1] == nil {
		table = table[:len(table)-1]
	}
	k := s.mark - v.base
	s.view.Store(&arenaView{base: s.mark, slabs: slices.Clone(v.slabs[k:]), owners: slices.Clone(v.owners[k:]), signers: table})
	s.keep = nil
}
