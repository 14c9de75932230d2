package zone

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/image"
)

// xfrZone is the whole signed zone as an AXFR carries it (RFC 5936 §2.2),
// at one moment, without a copy of the zone: the nodes it held then (nodes
// are immutable: a change installs new ones), the refs of their
// signatures and of the NSEC3 chain's signed records, and the arena's view
// those refs point into (bytes once published there are never written
// again, and the view keeps its slabs whatever a compaction does after).
// The RRs are produced from these as they are read (image.Source), the
// same octets at every read. Tens of bytes per name instead of the few
// hundred of a packed copy: the IXFR journal keeps the last transferred
// zone as an xfrZone, and finds the differences to the next one by
// comparing refs (DiffFrom), reading only what changed.
//
// Every RRset's signatures are settled when the xfrZone is taken: the
// cached ones checked (fresh, by a signer the zone's signer accepts) and
// the missing or stale ones made then, and kept in the xfrZone itself
// (made, madeLinks), so that no later read depends on the clock or on
// what the zone's caches hold by then. Made signatures are also cached in
// the zone, as any others.
type xfrZone struct {
	store  *chainStore // the zone's: refs of two xfrZones compare only within one store
	origin string
	soa    []byte // the SOA record in wire form
	soaRR  *dns.SOA
	// nodes are the names with data in canonical order, and sigs the refs
	// of their signatures in view, each holding a fresh signature of
	// every RRset at the node unless made has the node's.
	nodes []*node
	sigs  []ref
	// links are the NSEC3 chain in hash order, each with its signed
	// record in view (the record the chain calls for, freshly signed)
	// unless madeLinks has the link's.
	links     []xfrLink
	view      *arenaView
	made      map[int][]byte
	madeLinks map[int]madeLink
	n         int // RRs
}

// xfrLink is an entry of the NSEC3 chain in an xfrZone.
type xfrLink struct {
	h      hashKey
	signed ref
}

// madeLink is an NSEC3 record and its signatures made when an xfrZone was
// taken, both packed (without owner).
type madeLink struct{ rec, sigs []byte }

var _ image.Differ = (*xfrZone)(nil)

// transferZone takes an xfrZone of z: a snapshot (the zone's lock held only
// while it is taken), then every signature checked, and made when missing
// or stale (without the lock).
func (z *Zone) transferZone() (*xfrZone, error) {
	snap := z.snapshot()
	sg := snap.sg
	x := &xfrZone{store: &z.chain.store, origin: z.settings.Origin, soaRR: snap.soa,
		nodes: snap.nodes, sigs: snap.sigs, view: snap.view,
		links: make([]xfrLink, len(snap.links))}
	soa, err := image.Pack([]dns.RR{snap.soa})
	if err != nil {
		return nil, err
	}
	x.soa = soa.RR(0)
	x.n = 2
	for i, n := range snap.nodes {
		cached, by := snap.view.sigsAt(snap.sigs[i])
		types := n.types()
		ok := true
		for _, t := range types {
			if usableSigs(cached, by, sg, t) == nil {
				ok = false
				break
			}
		}
		if !ok {
			var all []byte
			for _, t := range types {
				sigs := usableSigs(cached, by, sg, t)
				if sigs == nil {
					if sigs, _, err = z.signNode(sg, n, t); err != nil {
						return nil, err
					}
				}
				all = append(all, sigs...)
			}
			if x.made == nil {
				x.made = map[int][]byte{}
			}
			x.made[i] = all
		}
		x.n += x.nodeLen(i)
	}
	var rec []byte
	for i, l := range snap.links {
		next := snap.links[(i+1)%len(snap.links)].h
		rec = appendNSEC3Rec(rec[:0], next, l.n, snap.negTTL)
		x.links[i] = xfrLink{h: l.h, signed: l.signed}
		if sigs := cachedNSEC3(snap.view, l.signed, sg, rec); sigs != nil {
			x.n += countRRs(rec) + countRRs(sigs)
			continue
		}
		rr := z.nsec3Of(l.h.String(), next.String(), l.n, snap.negTTL)
		own := bytes.Clone(rec)
		sigs, _, err := z.chain.signWire(l.slot, l.name, sg, rr, own)
		if err != nil {
			return nil, err
		}
		if x.madeLinks == nil {
			x.madeLinks = map[int]madeLink{}
		}
		x.madeLinks[i] = madeLink{rec: own, sigs: sigs}
		x.n += countRRs(own) + countRRs(sigs)
	}
	return x, nil
}

// countRRs is the number of packed records in w.
func countRRs(w []byte) int {
	c := 0
	for off := 0; off < len(w); c++ {
		_, next, ok := nextRR(w, off)
		if !ok {
			break
		}
		off = next
	}
	return c
}

// Len is the number of RRs (image.Source).
func (x *xfrZone) Len() int { return x.n }

// SOA returns a copy of the SOA (image.Source).
func (x *xfrZone) SOA() (*dns.SOA, error) { return dns.Copy(x.soaRR).(*dns.SOA), nil }

// nodeSigs returns the signatures of node i: fresh ones of every RRset.
func (x *xfrZone) nodeSigs(i int) []byte {
	if w, ok := x.made[i]; ok {
		return w
	}
	w, _ := x.view.sigsAt(x.sigs[i])
	return w
}

// eachNodeRR calls fn with every RR of node i, packed without the owner,
// in transfer order: per type, the records (but the apex's SOA, which
// opens and closes the transfer) and their signatures.
func (x *xfrZone) eachNodeRR(i int, fn func(rr []byte) error) error {
	n := x.nodes[i]
	sigs := x.nodeSigs(i)
	apex := n.name() == x.origin
	w := n.wire()
	for off := 0; off < len(w); {
		r, _, ok := nextRR(w, off)
		if !ok {
			return errPacked
		}
		s, e := span(w, r.t)
		if !(apex && r.t == dns.TypeSOA) {
			if err := eachPacked(w[s:e], fn); err != nil {
				return err
			}
		}
		if err := eachPacked(sigSpan(sigs, r.t), fn); err != nil {
			return err
		}
		off = e
	}
	// x.view keeps the slab sigs is in mapped until here (chainstore.go).
	runtime.KeepAlive(x)
	return nil
}

// linkParts returns link i's NSEC3 record and its signatures, packed.
func (x *xfrZone) linkParts(i int) (rec, sigs []byte) {
	if m, ok := x.madeLinks[i]; ok {
		return m.rec, m.sigs
	}
	rec, sigs, _ = x.view.record(x.links[i].signed)
	return rec, sigs
}

// eachLinkRR calls fn with link i's NSEC3 record and its signatures,
// packed without the owner.
func (x *xfrZone) eachLinkRR(i int, fn func(rr []byte) error) error {
	rec, sigs := x.linkParts(i)
	if err := eachPacked(rec, fn); err != nil {
		return err
	}
	err := eachPacked(sigs, fn)
	// x.view keeps the slab rec and sigs are in mapped until here
	// (chainstore.go).
	runtime.KeepAlive(x)
	return err
}

// linkOwner returns the owner of link i: its hash, as a label of the
// zone's origin, in lower case.
func (x *xfrZone) linkOwner(i int) string {
	return strings.ToLower(x.links[i].h.String()) + "." + x.origin
}

// nodeLen is the number of RRs of node i.
func (x *xfrZone) nodeLen(i int) int {
	c := 0
	x.eachNodeRR(i, func([]byte) error { c++; return nil })
	return c
}

// eachPacked calls fn with each packed record in w.
func eachPacked(w []byte, fn func(rr []byte) error) error {
	for off := 0; off < len(w); {
		_, next, ok := nextRR(w, off)
		if !ok {
			return errPacked
		}
		if err := fn(w[off:next]); err != nil {
			return err
		}
		off = next
	}
	return nil
}

// ownerWire packs name, uncompressed, into buf.
func ownerWire(buf []byte, name string) ([]byte, error) {
	n, err := dns.PackDomainName(name, buf[:cap(buf)], 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("zone: owner %q: %w", name, err)
	}
	return buf[:n], nil
}

// Each calls fn with every RR in wire form, owner included, in AXFR order
// (image.Source): the SOA, every node's RRsets with their signatures, the
// NSEC3 chain with its signatures, the SOA again.
func (x *xfrZone) Each(fn func(rr []byte) error) error {
	if err := fn(x.soa); err != nil {
		return err
	}
	var ob [256]byte
	buf := make([]byte, 0, 1024)
	var owner []byte
	emit := func(rr []byte) error {
		buf = append(append(buf[:0], owner...), rr...)
		return fn(buf)
	}
	var err error
	for i, n := range x.nodes {
		if owner, err = ownerWire(ob[:0], n.name()); err != nil {
			return err
		}
		if err := x.eachNodeRR(i, emit); err != nil {
			return err
		}
	}
	for i := range x.links {
		if owner, err = ownerWire(ob[:0], x.linkOwner(i)); err != nil {
			return err
		}
		if err := x.eachLinkRR(i, emit); err != nil {
			return err
		}
	}
	return fn(x.soa)
}

// DiffFrom returns the differences from old, an older xfrZone of the same
// zone (image.Differ): the RRs of old that are not in x and those of x
// that are not in old, SOA records left out, in transfer order, as
// comparing every RR of both would give them. Both lists of names (in
// canonical order) and both chains (in hash order) are walked side by
// side; a name whose node and signature ref are the same in both, and an
// NSEC3 entry whose signed record's ref is the same, hold the same RRs and
// are passed over without being read. Only the others are compared RR by
// RR. Any other old is not compared (ok false).
func (x *xfrZone) DiffFrom(old image.Source) (deleted, added []dns.RR, ok bool, err error) {
	o, isX := old.(*xfrZone)
	if !isX || o.store != x.store || o.origin != x.origin {
		return nil, nil, false, nil
	}
	var d differ
	// The names: one of the two lists' next name goes first in canonical
	// order (sortCanonical's), or both are the same name.
	i, k := 0, 0
	for i < len(o.nodes) || k < len(x.nodes) {
		var c int
		switch {
		case i == len(o.nodes):
			c = 1
		case k == len(x.nodes):
			c = -1
		case o.nodes[i] == x.nodes[k] || o.nodes[i].name() == x.nodes[k].name():
			c = 0
		default:
			c = strings.Compare(canonicalKey(o.nodes[i].name()), canonicalKey(x.nodes[k].name()))
			if c == 0 {
				// Two names with one key: not the order the lists are
				// in; compare every RR instead.
				return nil, nil, false, nil
			}
		}
		switch c {
		case -1:
			err = d.side(o.nodes[i].name(), &d.deleted, func(fn func([]byte) error) error { return o.eachNodeRR(i, fn) })
			i++
		case 1:
			err = d.side(x.nodes[k].name(), &d.added, func(fn func([]byte) error) error { return x.eachNodeRR(k, fn) })
			k++
		default:
			if !(o.nodes[i] == x.nodes[k] && o.sameSigs(i, x, k)) {
				err = d.both(o.nodes[i].name(),
					func(fn func([]byte) error) error { return o.eachNodeRR(i, fn) },
					func(fn func([]byte) error) error { return x.eachNodeRR(k, fn) })
			}
			i, k = i+1, k+1
		}
		if err != nil {
			return nil, nil, false, err
		}
	}
	// The chain, in hash order.
	i, k = 0, 0
	for i < len(o.links) || k < len(x.links) {
		c := 1
		switch {
		case i == len(o.links):
		case k == len(x.links):
			c = -1
		default:
			c = cmpHash(o.links[i].h, x.links[k].h)
		}
		switch c {
		case -1:
			err = d.side(o.linkOwner(i), &d.deleted, func(fn func([]byte) error) error { return o.eachLinkRR(i, fn) })
			i++
		case 1:
			err = d.side(x.linkOwner(k), &d.added, func(fn func([]byte) error) error { return x.eachLinkRR(k, fn) })
			k++
		default:
			_, om := o.madeLinks[i]
			_, xm := x.madeLinks[k]
			if om || xm || o.links[i].signed != x.links[k].signed {
				err = d.both(o.linkOwner(i),
					func(fn func([]byte) error) error { return o.eachLinkRR(i, fn) },
					func(fn func([]byte) error) error { return x.eachLinkRR(k, fn) })
			}
			i, k = i+1, k+1
		}
		if err != nil {
			return nil, nil, false, err
		}
	}
	return d.deleted, d.added, true, nil
}

// sameSigs reports whether node i of x and node k of y are signed by the
// same arena record (neither made when the xfrZone was taken).
func (x *xfrZone) sameSigs(i int, y *xfrZone, k int) bool {
	_, xm := x.made[i]
	_, ym := y.made[k]
	return !xm && !ym && x.sigs[i] == y.sigs[k]
}

// differ collects the RRs DiffFrom finds, decoded.
type differ struct {
	deleted, added []dns.RR
	buf            []byte
}

// rr decodes the packed record w owned by owner.
func (d *differ) rr(owner string, w []byte) (dns.RR, error) {
	var ob [256]byte
	on, err := ownerWire(ob[:0], owner)
	if err != nil {
		return nil, err
	}
	d.buf = append(append(d.buf[:0], on...), w...)
	rr, off, err := dns.UnpackRR(d.buf, 0)
	if err != nil || off != len(d.buf) {
		return nil, fmt.Errorf("%w: %s: %v", errPacked, owner, err)
	}
	return rr, nil
}

// side adds every RR of one name (each calls its function with them) to
// out: a name only one of the versions has.
func (d *differ) side(owner string, out *[]dns.RR, each func(func([]byte) error) error) error {
	return each(func(w []byte) error {
		rr, err := d.rr(owner, w)
		if err == nil {
			*out = append(*out, rr)
		}
		return err
	})
}

// both compares the RRs of one name in the old and the new version: those
// of old not in new are deleted, those of new not in old added, each in
// its version's order.
func (d *differ) both(owner string, old, new func(func([]byte) error) error) error {
	var a, b [][]byte
	if err := old(func(w []byte) error { a = append(a, w); return nil }); err != nil {
		return err
	}
	if err := new(func(w []byte) error { b = append(b, w); return nil }); err != nil {
		return err
	}
	in := func(w []byte, set [][]byte) bool {
		for _, s := range set {
			if bytes.Equal(s, w) {
				return true
			}
		}
		return false
	}
	for _, w := range a {
		if !in(w, b) {
			rr, err := d.rr(owner, w)
			if err != nil {
				return err
			}
			d.deleted = append(d.deleted, rr)
		}
	}
	for _, w := range b {
		if !in(w, a) {
			rr, err := d.rr(owner, w)
			if err != nil {
				return err
			}
			d.added = append(d.added, rr)
		}
	}
	return nil
}
