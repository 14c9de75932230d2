package zone

import (
	"bytes"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/image"
	"github.com/dnsbound/dance/zone/internal/signer"
)

// NSEC3 parameters for the chain secondaries receive, as RFC 9276 §3.1
// recommends: SHA-1 (the only NSEC3 hash defined), no extra iterations, an
// empty salt, and no opt-out (an identity zone has no delegations).
const (
	nsec3Hash       = dns.SHA1
	nsec3Iterations = 0
	nsec3Salt       = ""
	nsec3Flags      = 0
)

// chain is the NSEC3 chain of the zone, kept up to date as names appear and
// disappear: the hashed owner names in order and, per hash, the name it
// stands for and a cache of its signed NSEC3 record. Callers hold Zone.mu.
//
// Hashes are kept as binary SHA-1 values (hashKey): base32hex, the form
// in owner names, sorts like the binary value, and binary keys hold no
// pointers for the garbage collector to follow. The order is kept in
// sorted chunks of at most chunkMax hashes, so an insertion or removal
// moves at most a chunk, not the whole chain: a million names stay cheap
// to change.
type chain struct {
	chunks  [][]hashKey
	n       int
	entries map[hashKey]*chainEntry
}

const chunkMax = 512

// hashKey is an NSEC3 hash (RFC 5155 §5) of nsec3Hash (SHA-1).
type hashKey [sha1.Size]byte

// b32 is the base32 encoding with the extended hex alphabet, no padding,
// of NSEC3 owner names and next hashed owner fields (RFC 5155 §3.3).
var b32 = base32.HexEncoding.WithPadding(base32.NoPadding)

// String is h in base32hex, upper case, as dns.HashName gives it.
func (h hashKey) String() string { return b32.EncodeToString(h[:]) }

type chainEntry struct {
	name   string
	signed atomic.Pointer[nsec3State]
}

// nsec3State is an entry's NSEC3 record and its signatures, both packed,
// cached while the record is unchanged and the signatures good.
type nsec3State struct {
	by *signer.Signer
	// wire is the packed record followed by its packed RRSIGs; split is
	// where the signatures begin.
	wire  []byte
	split int
}

func newChain() *chain { return &chain{entries: map[hashKey]*chainEntry{}} }

// hashKeyOf is the NSEC3 hash of name with the zone's parameters (no
// salt, no extra iterations): SHA-1 over the name in canonical wire form
// (RFC 5155 §5, RFC 4034 §6.2: upper-case letters made lower case).
func hashKeyOf(name string) hashKey {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.CanonicalName(name), buf[:], 0, nil, false)
	if err != nil {
		// Names in the zone were checked when they got in.
		panic(fmt.Sprintf("zone: hash of %q: %v", name, err))
	}
	w := buf[:n]
	for i := 0; i < len(w); {
		l := int(w[i])
		for j := i + 1; j <= i+l && j < len(w); j++ {
			if 'A' <= w[j] && w[j] <= 'Z' {
				w[j] += 'a' - 'A'
			}
		}
		i += l + 1
	}
	return hashKey(sha1.Sum(w))
}

// chunkFor returns the index of the chunk where h belongs: the last chunk
// whose first hash is not after h.
func (c *chain) chunkFor(h hashKey) int {
	i := sort.Search(len(c.chunks), func(i int) bool { return bytes.Compare(c.chunks[i][0][:], h[:]) > 0 })
	if i > 0 {
		i--
	}
	return i
}

func cmpHash(a, b hashKey) int { return bytes.Compare(a[:], b[:]) }

func (c *chain) add(name string) {
	h := hashKeyOf(name)
	if _, ok := c.entries[h]; ok {
		return
	}
	c.entries[h] = &chainEntry{name: name}
	c.n++
	if len(c.chunks) == 0 {
		c.chunks = [][]hashKey{{h}}
		return
	}
	ci := c.chunkFor(h)
	ch := c.chunks[ci]
	i, _ := slices.BinarySearchFunc(ch, h, cmpHash)
	ch = slices.Insert(ch, i, h)
	if len(ch) > chunkMax {
		half := len(ch) / 2
		right := append([]hashKey(nil), ch[half:]...)
		ch = ch[:half:half]
		c.chunks = slices.Insert(c.chunks, ci+1, right)
	}
	c.chunks[ci] = ch
}

func (c *chain) remove(name string) {
	h := hashKeyOf(name)
	if _, ok := c.entries[h]; !ok {
		return
	}
	delete(c.entries, h)
	c.n--
	ci := c.chunkFor(h)
	ch := c.chunks[ci]
	if i, ok := slices.BinarySearchFunc(ch, h, cmpHash); ok {
		ch = slices.Delete(ch, i, i+1)
	}
	if len(ch) == 0 {
		c.chunks = slices.Delete(c.chunks, ci, ci+1)
		return
	}
	c.chunks[ci] = ch
}

// eachKey calls fn for every hash in order with the hash that follows it
// (the first, after the last: the chain is a ring).
func (c *chain) eachKey(fn func(h, next hashKey, e *chainEntry) error) error {
	if c.n == 0 {
		return nil
	}
	first := c.chunks[0][0]
	for ci, ch := range c.chunks {
		for i, h := range ch {
			next := first
			switch {
			case i+1 < len(ch):
				next = ch[i+1]
			case ci+1 < len(c.chunks):
				next = c.chunks[ci+1][0]
			}
			if err := fn(h, next, c.entries[h]); err != nil {
				return err
			}
		}
	}
	return nil
}

// nsec3param is the apex record that tells secondaries the chain's
// parameters (RFC 5155 §4). Its TTL is 0 as it is only read by servers.
func (z *Zone) nsec3param() *dns.NSEC3PARAM {
	return &dns.NSEC3PARAM{
		Hdr:        dns.RR_Header{Name: z.settings.Origin, Rrtype: dns.TypeNSEC3PARAM, Class: dns.ClassINET, Ttl: 0},
		Hash:       nsec3Hash,
		Flags:      nsec3Flags,
		Iterations: nsec3Iterations,
		SaltLength: 0,
		Salt:       nsec3Salt,
	}
}

// nsec3For builds the NSEC3 record for hash h (RFC 5155 §7.1): next hashed
// owner is the following hash, the bitmap the types at the name plus RRSIG,
// empty for an empty non-terminal. Callers hold mu.
func (z *Zone) nsec3For(h, next string, e *chainEntry) *dns.NSEC3 {
	return z.nsec3Of(h, next, z.names[e.name], z.negativeTTL())
}

// nsec3Of is nsec3For for the node at the name (nil for an empty
// non-terminal) and the negative TTL given; it needs no lock.
func (z *Zone) nsec3Of(h, next string, n *node, ttl uint32) *dns.NSEC3 {
	var types []uint16
	if n != nil {
		types = append(n.types(), dns.TypeRRSIG)
		sort.Slice(types, func(a, b int) bool { return types[a] < types[b] })
	}
	return &dns.NSEC3{
		Hdr:        dns.RR_Header{Name: strings.ToLower(h) + "." + z.settings.Origin, Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: ttl},
		Hash:       nsec3Hash,
		Flags:      nsec3Flags,
		Iterations: nsec3Iterations,
		SaltLength: 0,
		Salt:       nsec3Salt,
		HashLength: 20,
		NextDomain: next,
		TypeBitMap: types,
	}
}

// cachedSigs returns the cached packed signatures of the entry when they
// were made over the record rec (packed), are fresh, and sg accepts their
// signer (as node.cachedSigs).
func (e *chainEntry) cachedSigs(sg *signer.Signer, rec []byte) []byte {
	st := e.signed.Load()
	if st == nil || st.by != sg && !sg.Accepts(st.by, dns.TypeNSEC3) || !bytes.Equal(st.wire[:st.split], rec) {
		return nil
	}
	w := st.wire[st.split:]
	if !freshPacked(sg, w) {
		return nil
	}
	return w
}

// sign signs rr (packed: rec) with sg and caches record and signatures.
func (e *chainEntry) sign(sg *signer.Signer, rr dns.RR, rec []byte) ([]dns.RR, error) {
	sigs, _, err := e.signPacked(sg, rr, rec)
	return sigs, err
}

// signWire signs the NSEC3 record rr (packed: rec) with sg from its
// packed form (signer.Signer.SignWire), caches record and signatures, and
// returns the signatures packed and their number; keys SignWire does not
// handle go through signPacked.
func (e *chainEntry) signWire(sg *signer.Signer, rr dns.RR, rec []byte) ([]byte, int, error) {
	var ob [256]byte
	on, err := dns.PackDomainName(dns.CanonicalName(rr.Header().Name), ob[:], 0, nil, false)
	if err != nil {
		return nil, 0, err
	}
	if len(rec) < wireHeaderLen {
		return nil, 0, errPacked
	}
	ttl := binary.BigEndian.Uint32(rec[4:])
	sigs, count, err := sg.SignWire(ob[:on], dns.TypeNSEC3, ttl, [][]byte{rec[wireHeaderLen:]})
	if errors.Is(err, signer.ErrWireUnsupported) {
		rrs, packed, err := e.signPacked(sg, rr, rec)
		return packed, len(rrs), err
	}
	if err != nil {
		return nil, 0, err
	}
	w := make([]byte, 0, len(rec)+len(sigs))
	w = append(append(w, rec...), sigs...)
	e.signed.Store(&nsec3State{by: sg, wire: w, split: len(rec)})
	return w[len(rec):], count, nil
}

// signPacked is sign returning the signatures in both forms.
func (e *chainEntry) signPacked(sg *signer.Signer, rr dns.RR, rec []byte) ([]dns.RR, []byte, error) {
	sigs, err := sg.Sign([]dns.RR{rr})
	if err != nil {
		return nil, nil, err
	}
	w, err := appendPacked(append(make([]byte, 0, len(rec)+128*len(sigs)), rec...), sigs)
	if err != nil {
		return nil, nil, err
	}
	w = slices.Clip(w)
	e.signed.Store(&nsec3State{by: sg, wire: w, split: len(rec)})
	return sigs, w[len(rec):], nil
}

// transferSnap is what a transfer reads from the zone, taken under the
// read lock in one go: nodes are immutable once installed (a change
// installs new ones), so the transfer is consistent without holding the
// lock while it decodes, signs and lays out the zone.
type transferSnap struct {
	soa    *dns.SOA
	negTTL uint32
	sg     *signer.Signer
	// nodes are the names with data, in canonical order.
	nodes []*node
	// links are the NSEC3 chain in hash order.
	links []chainLink
}

type chainLink struct {
	h hashKey
	e *chainEntry
	n *node // the node at e.name; nil for an empty non-terminal
}

// snapshot takes a transferSnap. The sorted list of names is the one
// sortedNames keeps between changes of the set of names, so the lock is
// held only to look the nodes up; when names came or went meanwhile, it
// tries again, and after a few tries sorts under the lock.
func (z *Zone) snapshot() *transferSnap {
	for try := 0; ; try++ {
		names, gen := z.sortedNamesGen()
		z.mu.RLock()
		if gen != z.nameGen {
			if try < 3 {
				z.mu.RUnlock()
				continue
			}
			names = make([]string, 0, len(z.names))
			for name := range z.names {
				names = append(names, name)
			}
			sortCanonical(names)
		}
		// The SOA is copied: packing an RR (the journal does) writes its
		// header, and the zone shares its SOA with every reader.
		snap := &transferSnap{soa: dns.Copy(z.soa()).(*dns.SOA), negTTL: z.negativeTTL(), sg: z.signer.Load(), nodes: make([]*node, 0, len(names))}
		for _, name := range names {
			snap.nodes = append(snap.nodes, z.names[name])
		}
		snap.links = make([]chainLink, 0, z.chain.n)
		for _, ch := range z.chain.chunks {
			for _, h := range ch {
				e := z.chain.entries[h]
				snap.links = append(snap.links, chainLink{h: h, e: e, n: z.names[e.name]})
			}
		}
		z.mu.RUnlock()
		return snap
	}
}

// Transfer returns the whole signed zone as an AXFR carries it (RFC 5936
// §2.2): the SOA, every RRset with its signatures, the NSEC3 chain with its
// signatures, and the SOA again, as one consistent snapshot: the zone as
// it is stored, to dump or compare (zone/server sends the same records).
func (z *Zone) Transfer() ([]dns.RR, error) {
	im, err := z.transferImage()
	if err != nil {
		return nil, err
	}
	return im.Unpack()
}

// transferImage returns the whole signed zone as an AXFR carries it (RFC
// 5936 §2.2), packed: the SOA, every RRset with its signatures, the NSEC3
// chain with its signatures, and the SOA again. It is a consistent
// snapshot of the zone; the zone's lock is held only while the snapshot is
// taken. Records and cached signatures go into the image as they are kept,
// without being decoded; only missing or stale signatures are made.
func (z *Zone) transferImage() (*image.Image, error) {
	snap := z.snapshot()
	origin := z.settings.Origin
	var b image.Builder
	b.Grow(320 * (len(snap.nodes) + len(snap.links) + 2))
	b.Add(snap.soa)
	var ob [256]byte
	owner := func(name string) ([]byte, error) {
		n, err := dns.PackDomainName(name, ob[:], 0, nil, false)
		return ob[:n], err
	}
	for _, n := range snap.nodes {
		ow, err := owner(n.name)
		if err != nil {
			return nil, err
		}
		for _, t := range n.types() {
			if !(n.name == origin && t == dns.TypeSOA) {
				s, e := span(n.wire, t)
				b.AddPacked(ow, n.wire[s:e])
			}
			sigs, err := z.packedSigsBy(snap.sg, n, t)
			if err != nil {
				return nil, err
			}
			b.AddPacked(ow, sigs)
		}
	}
	for i, l := range snap.links {
		next := snap.links[(i+1)%len(snap.links)].h
		rr := z.nsec3Of(l.h.String(), next.String(), l.n, snap.negTTL)
		rec, err := packRRs([]dns.RR{rr})
		if err != nil {
			return nil, err
		}
		sigs := l.e.cachedSigs(snap.sg, rec)
		if sigs == nil {
			if sigs, _, err = l.e.signWire(snap.sg, rr, rec); err != nil {
				return nil, err
			}
		}
		ow, err := owner(rr.Hdr.Name)
		if err != nil {
			return nil, err
		}
		b.AddPacked(ow, rec)
		b.AddPacked(ow, sigs)
	}
	b.Add(snap.soa)
	return b.Image()
}

// appendNSEC3Rec appends the packed form (packRRs) of the NSEC3 record
// nsec3Of builds for the node n (nil: an empty non-terminal) whose next
// hashed owner is next, without building a dns.RR: the presigning walk
// compares it with each entry's cached record, a million times for a
// million names. TestAppendNSEC3Rec holds it to packRRs octet for octet.
func appendNSEC3Rec(dst []byte, next hashKey, n *node, ttl uint32) []byte {
	var types []uint16
	if n != nil {
		types = n.types()
		i, _ := slices.BinarySearch(types, dns.TypeRRSIG)
		types = slices.Insert(types, i, dns.TypeRRSIG)
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, dns.TypeNSEC3)
	dst = binary.BigEndian.AppendUint16(dst, dns.ClassINET)
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	dst = append(dst, 0, 0) // RDLENGTH, below
	// RFC 5155 §3.2: hash algorithm, flags, iterations, salt length
	// (empty salt), hash length, next hashed owner name, type bit maps.
	dst = append(dst, nsec3Hash, nsec3Flags)
	dst = binary.BigEndian.AppendUint16(dst, nsec3Iterations)
	dst = append(dst, 0, byte(len(next)))
	dst = append(dst, next[:]...)
	// Type bit maps (RFC 4034 §4.1.2): per window of 256 types in use,
	// the window, the length of its bitmap and the bitmap up to the last
	// non-zero octet.
	for i := 0; i < len(types); {
		win := types[i] >> 8
		var bm [32]byte
		last := 0
		for ; i < len(types) && types[i]>>8 == win; i++ {
			lo := types[i] & 0xff
			bm[lo/8] |= 0x80 >> (lo % 8)
			last = int(lo / 8)
		}
		dst = append(dst, byte(win), byte(last+1))
		dst = append(dst, bm[:last+1]...)
	}
	binary.BigEndian.PutUint16(dst[start+8:], uint16(len(dst)-start-wireHeaderLen))
	return dst
}
