package zone

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/signer"
)

// The zone keeps its records packed. A million identities held as
// dns.RR values are tens of millions of small objects (records, their
// strings, signature records, maps per name), and the garbage collector
// walks all of them on every cycle: seconds of CPU on a busy server. Held
// as below, a name costs a handful of objects, most of them byte slices
// the collector does not look into.
//
// Packed form of one record: the record as it appears on the wire (RFC
// 1035 §4.1.3) without its owner name, which the node holds once:
//
//	TYPE (2) CLASS (2) TTL (4) RDLENGTH (2) RDATA (RDLENGTH)
//
// RDATA is packed without name compression, so it decodes on its own.
const wireHeaderLen = 10

// node is everything at one owner name. It is immutable once installed,
// apart from its signature cache: a change installs a new node.
//
// A node is one heap allocation without pointers: this header, then the
// owner name (canonical text, the bytes the name map's key points into),
// then the name's RRsets in packed form, sorted by type, the records of
// one RRset next to each other (newNode). The collector marks it when a
// pointer reaches it and never scans it; a name costs the collector this
// object and its entry in the name map, nothing else.
type node struct {
	// sigs caches the signatures of the RRsets: the ref of a record in
	// the zone's arena (chainstore.go, nodesigs.go), 0 when none.
	sigs atomic.Uint64
	// nameLen and wireLen are the lengths of the owner name and of the
	// packed RRsets that follow the header.
	nameLen, wireLen uint32
}

// nodeHeaderLen is the size of node, where its owner name begins.
const nodeHeaderLen = int(unsafe.Sizeof(node{}))

// newNode returns a node for name holding the concatenation of parts
// (packed records); nil when they are empty.
func newNode(name string, parts ...[]byte) *node {
	wl := 0
	for _, p := range parts {
		wl += len(p)
	}
	if wl == 0 || len(name) == 0 || uint64(len(name)) > math.MaxUint32 || uint64(wl) > math.MaxUint32 {
		return nil
	}
	// A byte slice is allocated without pointers, at least 8-aligned (its
	// size is over 16 octets, so never from the tiny allocator): the
	// atomic word at its start is aligned, and the collector keeps the
	// whole allocation for a pointer to the node or into its name.
	buf := make([]byte, nodeHeaderLen+len(name)+wl)
	off := nodeHeaderLen + copy(buf[nodeHeaderLen:], name)
	for _, p := range parts {
		off += copy(buf[off:], p)
	}
	n := (*node)(unsafe.Pointer(unsafe.SliceData(buf)))
	n.nameLen, n.wireLen = uint32(len(name)), uint32(wl)
	return n
}

// name returns n's owner, canonical. The string points into n.
func (n *node) name() string {
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(n), nodeHeaderLen)), int(n.nameLen))
}

// wire returns n's packed RRsets. The slice points into n and its
// capacity is its length: nothing may write to it.
func (n *node) wire() []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(n), nodeHeaderLen+int(n.nameLen))), int(n.wireLen))
}

// errPacked reports packed data that does not decode: a bug, never input.
var errPacked = errors.New("zone: packed records are corrupt")

// packedRR is one record of a packed slice.
type packedRR struct {
	t, class uint16
	ttl      uint32
	rdata    []byte
}

// nextRR reads the record at off in w and returns it with the offset of
// the next one; ok is false at the end or on corrupt data.
func nextRR(w []byte, off int) (r packedRR, next int, ok bool) {
	if off+wireHeaderLen > len(w) {
		return r, off, false
	}
	r.t = binary.BigEndian.Uint16(w[off:])
	r.class = binary.BigEndian.Uint16(w[off+2:])
	r.ttl = binary.BigEndian.Uint32(w[off+4:])
	n := int(binary.BigEndian.Uint16(w[off+8:]))
	end := off + wireHeaderLen + n
	if end > len(w) {
		return r, off, false
	}
	r.rdata = w[off+wireHeaderLen : end]
	return r, end, true
}

// appendPacked appends rrs to dst in packed form.
func appendPacked(dst []byte, rrs []dns.RR) ([]byte, error) {
	for _, rr := range rrs {
		buf := make([]byte, dns.Len(rr)+16)
		end, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return dst, fmt.Errorf("zone: %s: %w", rr.Header().Name, err)
		}
		// Skip the owner name: labels up to the root label.
		off := 0
		for off < end && buf[off] != 0 {
			off += int(buf[off]) + 1
		}
		off++
		if off+wireHeaderLen > end {
			return dst, fmt.Errorf("zone: %s: %w", rr.Header().Name, errPacked)
		}
		dst = append(dst, buf[off:end]...)
	}
	return dst, nil
}

// packRRs is appendPacked into a new slice of the exact size.
func packRRs(rrs []dns.RR) ([]byte, error) {
	w, err := appendPacked(nil, rrs)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), w...), nil
}

// unpackRRs decodes packed records owned by name.
func unpackRRs(name string, w []byte) ([]dns.RR, error) {
	var out []dns.RR
	for off := 0; off < len(w); {
		r, next, ok := nextRR(w, off)
		if !ok {
			return nil, errPacked
		}
		h := dns.RR_Header{Name: name, Rrtype: r.t, Class: r.class, Ttl: r.ttl, Rdlength: uint16(len(r.rdata))}
		rr, _, err := dns.UnpackRRWithHeader(h, w, off+wireHeaderLen)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", errPacked, name, dns.TypeToString[r.t], err)
		}
		out = append(out, rr)
		off = next
	}
	return out, nil
}

// span returns the byte range of the records of type t in w, which is
// sorted by type; start == end when there are none.
func span(w []byte, t uint16) (start, end int) {
	start = -1
	for off := 0; off < len(w); {
		r, next, ok := nextRR(w, off)
		if !ok {
			break
		}
		switch {
		case r.t == t && start < 0:
			start = off
		case r.t != t && start >= 0:
			return start, off
		case r.t > t:
			return off, off
		}
		off = next
	}
	if start < 0 {
		return len(w), len(w)
	}
	return start, len(w)
}

// has reports whether n holds an RRset of type t.
func (n *node) has(t uint16) bool {
	if n == nil {
		return false
	}
	s, e := span(n.wire(), t)
	return s < e
}

// rrs decodes the RRset of type t at n; nil when there is none.
func (n *node) rrs(t uint16) []dns.RR {
	if n == nil {
		return nil
	}
	s, e := span(n.wire(), t)
	if s == e {
		return nil
	}
	rrs, err := unpackRRs(n.name(), n.wire()[s:e])
	if err != nil {
		// Only this package packs; data it packed always decodes.
		panic(err)
	}
	return rrs
}

// types returns the sorted types present at n.
func (n *node) types() []uint16 {
	if n == nil {
		return nil
	}
	var ts []uint16
	w := n.wire()
	for off := 0; off < len(w); {
		r, next, ok := nextRR(w, off)
		if !ok {
			break
		}
		if len(ts) == 0 || ts[len(ts)-1] != r.t {
			ts = append(ts, r.t)
		}
		off = next
	}
	return ts
}

// with returns a node like n (which may be nil) whose RRset of type t is
// set (packed records, all of type t; empty removes it), or nil when
// nothing is left. Signatures of the other RRsets carry over, into st.
func (n *node) with(st *chainStore, name string, t uint16, set []byte) *node {
	var old []byte
	if n != nil {
		old = n.wire()
	}
	s, e := span(old, t)
	nn := newNode(name, old[:s], set, old[e:])
	if nn == nil {
		return nil
	}
	if n != nil {
		st.carrySigs(n, nn, t)
	}
	return nn
}

// RRSIG RDATA offsets (RFC 4034 §3.1).
const (
	rrsigCoveredOff    = 0
	rrsigExpirationOff = 8
	rrsigInceptionOff  = 12
	rrsigMinRdata      = 18
)

func covered(rdata []byte) uint16 {
	if len(rdata) < rrsigMinRdata {
		return 0
	}
	return binary.BigEndian.Uint16(rdata[rrsigCoveredOff:])
}

// sigSpan returns the packed RRSIGs in w covering t.
func sigSpan(w []byte, t uint16) []byte {
	start, end := -1, -1
	for off := 0; off < len(w); {
		r, next, ok := nextRR(w, off)
		if !ok {
			break
		}
		if covered(r.rdata) == t {
			if start < 0 {
				start = off
			}
			end = next
		} else if start >= 0 {
			break
		}
		off = next
	}
	if start < 0 {
		return nil
	}
	return w[start:end]
}

// withoutCovered returns the packed RRSIGs in w except those covering t,
// in a new slice.
func withoutCovered(w []byte, t uint16) []byte {
	var out []byte
	for off := 0; off < len(w); {
		r, next, ok := nextRR(w, off)
		if !ok {
			break
		}
		if covered(r.rdata) != t {
			out = append(out, w[off:next]...)
		}
		off = next
	}
	return out
}

// freshPacked reports whether every packed RRSIG in w is still good by
// sg's measure (signer.Signer.Fresh), without decoding them.
func freshPacked(sg *signer.Signer, w []byte) bool {
	if len(w) == 0 {
		return false
	}
	var one [1]dns.RR
	var sig dns.RRSIG
	one[0] = &sig
	for off := 0; off < len(w); {
		r, next, ok := nextRR(w, off)
		if !ok || len(r.rdata) < rrsigMinRdata {
			return false
		}
		sig.TypeCovered = covered(r.rdata)
		sig.Expiration = binary.BigEndian.Uint32(r.rdata[rrsigExpirationOff:])
		sig.Inception = binary.BigEndian.Uint32(r.rdata[rrsigInceptionOff:])
		if !sg.Fresh(one[:]) {
			return false
		}
		off = next
	}
	return true
}

// keptSigs returns the packed RRSIGs in w that cover a type other than t
// for which keep is true, in a new slice.
func keptSigs(w []byte, t uint16, keep func(uint16) bool) []byte {
	var out []byte
	for off := 0; off < len(w); {
		r, next, ok := nextRR(w, off)
		if !ok {
			break
		}
		if c := covered(r.rdata); c != t && keep(c) {
			out = append(out, w[off:next]...)
		}
		off = next
	}
	return out
}

// cachedSigs returns the cached packed signatures over t at n when they
// are fresh and sg accepts their signer (signer.Signer.Accepts): made by
// sg, by the same keys, or by a retiring ZSK not yet replaced.
func (n *node) cachedSigs(s *chainStore, sg *signer.Signer, t uint16) []byte {
	w, by := s.nodeSigs(n)
	return usableSigs(w, by, sg, t)
}

// usableSigs is cachedSigs for the signatures w made by by.
func usableSigs(w []byte, by, sg *signer.Signer, t uint16) []byte {
	if by == nil || by != sg && !sg.Accepts(by, t) {
		return nil
	}
	w = sigSpan(w, t)
	if !freshPacked(sg, w) {
		return nil
	}
	return w
}

// signed returns the signatures of the RRset of type t at n, making new
// ones when the cached ones are missing, stale or by another signer.
func (z *Zone) signed(n *node, t uint16) ([]dns.RR, error) {
	return z.signedBy(z.signer.Load(), n, t)
}

// signedBy is signed with the signer given.
func (z *Zone) signedBy(sg *signer.Signer, n *node, t uint16) ([]dns.RR, error) {
	w := n.cachedSigs(&z.chain.store, sg, t)
	if w == nil {
		var err error
		if w, _, err = z.signNode(sg, n, t); err != nil {
			return nil, err
		}
	}
	return unpackRRs(n.name(), w)
}

// wireSignable reports whether the packed RDATA of type t is already in
// canonical form (RFC 4034 §6.2): it holds no domain name. Such RRsets
// are signed straight from the packed records (signer.Signer.SignWire).
func wireSignable(t uint16) bool { return IsIdentityType(t) || t == dns.TypeNSEC3 }

// signNode signs the RRset of type t at n with sg and caches the
// signatures at n; it returns them packed, and their number. Identity
// RRsets are signed from their packed records without decoding them;
// others, and keys SignWire does not handle, through dns.RR values.
func (z *Zone) signNode(sg *signer.Signer, n *node, t uint16) ([]byte, int, error) {
	if wireSignable(t) {
		nw := n.wire()
		s, e := span(nw, t)
		var rdatas [][]byte
		var ttl uint32
		for off := s; off < e; {
			r, next, ok := nextRR(nw, off)
			if !ok {
				return nil, 0, errPacked
			}
			if len(rdatas) == 0 {
				ttl = r.ttl
			}
			rdatas = append(rdatas, r.rdata)
			off = next
		}
		var ob [256]byte
		on, err := dns.PackDomainName(n.name(), ob[:], 0, nil, false)
		if err != nil {
			return nil, 0, err
		}
		packed, count, err := sg.SignWire(ob[:on], t, ttl, rdatas)
		if err == nil {
			if err := z.chain.store.storeSigs(n, sg, t, packed); err != nil {
				return nil, 0, err
			}
			return packed, count, nil
		}
		if !errors.Is(err, signer.ErrWireUnsupported) {
			return nil, 0, err
		}
	}
	sigs, packed, err := z.signPacked(sg, n, t, n.rrs(t))
	return packed, len(sigs), err
}

// signPacked is signNode returning the signatures in both forms.
func (z *Zone) signPacked(sg *signer.Signer, n *node, t uint16, rrs []dns.RR) ([]dns.RR, []byte, error) {
	sigs, err := sg.Sign(rrs)
	if err != nil {
		return nil, nil, err
	}
	packed, err := packRRs(sigs)
	if err != nil {
		return nil, nil, err
	}
	if err := z.chain.store.storeSigs(n, sg, t, packed); err != nil {
		return nil, nil, err
	}
	return sigs, packed, nil
}

// appendAnswer appends to dst the answer section of a positive answer to
// qname/qtype as records in wire form, each owned by qname uncompressed,
// followed (with dnssec) by the RRset's signatures: what Query answers,
// without decoding anything. qname is the question name in wire form and
// must be in lower case. It reports false, appending nothing, whenever the
// answer needs more than that — a name or type that is absent (negative
// answers are signed per name), ANY and NSEC questions, names that need
// escaping in presentation form, signatures not yet made or due for
// refresh — and the caller then takes the general path (Query).
func (z *Zone) appendAnswer(dst, qname []byte, qtype uint16, dnssec bool) (out []byte, count int, ok bool) {
	if qtype == dns.TypeANY || qtype == dns.TypeNSEC {
		return dst, 0, false
	}
	var kb [256]byte
	key, ok := presentationKey(kb[:0], qname)
	if !ok {
		return dst, 0, false
	}
	sg := z.signer.Load()
	z.mu.RLock()
	n := z.names[string(key)]
	z.mu.RUnlock()
	if n == nil {
		return dst, 0, false
	}
	// The node is immutable; its records and cached signatures can be
	// read without the lock (nodeSigs says why for the signatures).
	nw := n.wire()
	s, e := span(nw, qtype)
	if s == e {
		return dst, 0, false
	}
	var sigs []byte
	var keep *arenaView // holds the slab sigs is in, until copied
	if dnssec {
		if sigs, keep = n.pinnedSigs(&z.chain.store, sg, qtype); sigs == nil {
			return dst, 0, false
		}
	}
	out = dst
	for _, w := range [][]byte{nw[s:e], sigs} {
		for off := 0; off < len(w); {
			_, next, ok := nextRR(w, off)
			if !ok {
				return dst, 0, false
			}
			out = append(out, qname...)
			out = append(out, w[off:next]...)
			count++
			off = next
		}
	}
	runtime.KeepAlive(keep)
	return out, count, true
}

// presentationKey writes the presentation form of a lower-case wire name
// made of letters, digits, hyphens and underscores (the names identities
// use) into buf: the zone's key for it. Other names report false.
func presentationKey(buf, wire []byte) ([]byte, bool) {
	for off := 0; off < len(wire); {
		l := int(wire[off])
		if l == 0 {
			if len(buf) == 0 {
				return nil, false // the root is never in a zone
			}
			return buf, off+1 == len(wire)
		}
		if l > 63 || off+1+l > len(wire) {
			return nil, false
		}
		for _, c := range wire[off+1 : off+1+l] {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '*') {
				return nil, false
			}
		}
		buf = append(buf, wire[off+1:off+1+l]...)
		buf = append(buf, '.')
		off += 1 + l
	}
	return nil, false
}
