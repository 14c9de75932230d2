package zone

import (
	"github.com/dnsbound/dance/zone/internal/signer"
)

// A node's cached signatures live in the same arena as the NSEC3 chain's
// records (chainstore.go), as a signed record with an empty packed record:
// the header, then the packed RRSIGs grouped by the type they cover, all
// made by the signer the header numbers. node.sigs holds the record's ref,
// so a node carries no pointer to its signatures and they are no heap
// objects of their own. The arena's rules hold for them as for the chain:
// bytes once published are never written again, a new signature appends a
// new record and swaps the node's ref (under chainStore.mu), and a
// compaction copies the records of the zone's nodes with the chain's.
//
// Readers load the node's ref before the arena's view. Unlike a chain
// slot, a node is also read without the zone's lock (a positive answer
// looks the node up under the read lock and reads it after), so the ref
// may point into a slab a compaction has since dropped: only a node
// replaced before that compaction began (the compaction copies the
// records of every node the zone then held) and still held by a reader.
// nodeSigs then reports no signatures, and the reader takes the general
// path or signs again, as for any signature not cached.

// sigsAt returns the node signatures at r in v and their signer; nil when
// r is zero or its slab is no longer in v.
func (v *arenaView) sigsAt(r ref) ([]byte, *signer.Signer) {
	if r == 0 {
		return nil, nil
	}
	if slab, _ := r.parts(); slab < v.base {
		return nil, nil
	}
	_, w, by := v.record(r)
	if by == nil {
		return nil, nil
	}
	return w, by
}

// nodeSigs returns n's cached signatures and their signer, or nil.
// Callers hold the zone's lock or s.mu, and are done with the bytes before
// they release it (chainstore.go, "Lifetime of the slabs"); a reader
// without either takes pinnedSigs.
func (s *chainStore) nodeSigs(n *node) ([]byte, *signer.Signer) {
	r := ref(n.sigs.Load())
	return s.view.Load().sigsAt(r)
}

// pinnedSigs is node.cachedSigs for a reader that holds neither the
// zone's lock nor s.mu (a positive answer reads its node after the read
// lock): it also returns the view the signatures were read from, which the
// caller keeps reachable (runtime.KeepAlive) until it is done with the
// bytes. The view holds their slab: a compaction may drop the slab from
// the store's view meanwhile, and a dropped slab is unmapped once no view
// refers to it.
func (n *node) pinnedSigs(s *chainStore, sg *signer.Signer, t uint16) ([]byte, *arenaView) {
	r := ref(n.sigs.Load()) // before the view: see chainstore.go
	v := s.view.Load()
	w, by := v.sigsAt(r)
	return usableSigs(w, by, sg, t), v
}

// storeSigs records packed signatures over type t at n, made by sg,
// keeping those of the other types when they were made by the same keys
// (signer.Signer.SameKeys): all of them then count as made by sg.
// Signatures of other types that sg only accepts (by a retiring key) are
// dropped, to be made again when asked for: the record names one signer.
func (s *chainStore) storeSigs(n *node, sg *signer.Signer, t uint16, packed []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, by := s.view.Load().sigsAt(ref(n.sigs.Load()))
	var w []byte
	switch {
	case by == nil:
	case by == sg:
		w = withoutCovered(old, t)
	default:
		w = keptSigs(old, t, func(ot uint16) bool { return sg.SameKeys(by, ot) })
	}
	return s.setSigsLocked(n, sg, append(w, packed...))
}

// setSigs makes w, packed RRSIGs made by sg, n's signatures.
func (s *chainStore) setSigs(n *node, sg *signer.Signer, w []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setSigsLocked(n, sg, w)
}

// setSigsLocked is setSigs; callers hold s.mu.
func (s *chainStore) setSigsLocked(n *node, sg *signer.Signer, w []byte) error {
	if uint64(len(w)) > 1<<31 {
		return errPacked
	}
	idx, err := s.signerIndexLocked(sg)
	if err != nil {
		return err
	}
	if s.keep != nil {
		s.keep[idx] = true
	}
	r := s.appendRecordLocked(idx, nil, w)
	s.deadSigsLocked(ref(n.sigs.Swap(uint64(r))))
	return nil
}

// deadSigsLocked counts the node signatures at r as garbage. Callers
// hold s.mu.
func (s *chainStore) deadSigsLocked(r ref) {
	if r == 0 {
		return
	}
	v := s.view.Load()
	if slab, _ := r.parts(); slab >= v.base {
		s.deadLocked(r, v.recordLen(r))
	}
}

// carrySigs gives nn, the node that replaces n with its RRset of type t
// changed, n's signatures of the other types. Callers hold the zone's
// write lock.
func (s *chainStore) carrySigs(n, nn *node, t uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, by := s.view.Load().sigsAt(ref(n.sigs.Load()))
	if by == nil {
		return
	}
	if kept := withoutCovered(w, t); len(kept) > 0 {
		// The signer has its number already: this cannot fail.
		_ = s.setSigsLocked(nn, by, kept)
	}
}

// dropSigs counts n's signatures as garbage: n left the zone (a reader
// still holding n finds no signatures). Callers hold the zone's write
// lock.
func (s *chainStore) dropSigs(n *node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadSigsLocked(ref(n.sigs.Swap(0)))
}
