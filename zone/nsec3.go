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
// to change. Each hash's name and signed record are in the chain's store
// (chainstore.go), which the collector does not scan.
type chain struct {
	chunks  [][]hashKey
	n       int
	entries map[hashKey]uint32 // slot numbers in store
	store   chainStore
	// changed are the hashes of the names whose NSEC3 records may have
	// changed since the last presign run took them: names added to or
	// removed from the chain (add, remove) and names whose types changed
	// (touch). The entry at each and the entry before it are what that
	// run looks at (Zone.PresignAhead). A new chain is all changed.
	changed changeSet[hashKey]
}

const chunkMax = 512

// hashKey is an NSEC3 hash (RFC 5155 §5) of nsec3Hash (SHA-1).
type hashKey [sha1.Size]byte

// b32 is the base32 encoding with the extended hex alphabet, no padding,
// of NSEC3 owner names and next hashed owner fields (RFC 5155 §3.3).
var b32 = base32.HexEncoding.WithPadding(base32.NoPadding)

// String is h in base32hex, upper case, as dns.HashName gives it.
func (h hashKey) String() string { return b32.EncodeToString(h[:]) }

func newChain() *chain {
	c := &chain{entries: map[hashKey]uint32{}, changed: changeSet[hashKey]{all: true}}
	c.store.init()
	return c
}

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

// find returns where h is in the chain, or where it would be inserted:
// chunk ci, index i (len of the chunk when h comes after its last hash).
// The chain must not be empty.
func (c *chain) find(h hashKey) (ci, i int, found bool) {
	ci = c.chunkFor(h)
	i, found = slices.BinarySearchFunc(c.chunks[ci], h, cmpHash)
	return ci, i, found
}

// after returns the hash that follows the one at chunk ci, index i: the
// first, after the last (the chain is a ring).
func (c *chain) after(ci, i int) hashKey {
	switch ch := c.chunks[ci]; {
	case i+1 < len(ch):
		return ch[i+1]
	case ci+1 < len(c.chunks):
		return c.chunks[ci+1][0]
	}
	return c.chunks[0][0]
}

// before returns the place of the hash that precedes place ci, i (as
// find returns it): the last, before the first. The chain must not be
// empty.
func (c *chain) before(ci, i int) (int, int) {
	switch {
	case i > 0:
		return ci, i - 1
	case ci > 0:
		return ci - 1, len(c.chunks[ci-1]) - 1
	}
	last := len(c.chunks) - 1
	return last, len(c.chunks[last]) - 1
}

// touch records that the NSEC3 record of name, which stays in the chain,
// changed: its types did.
func (c *chain) touch(name string) {
	if !c.changed.all {
		c.changed.add(hashKeyOf(name), c.n)
	}
}

func (c *chain) add(name string) {
	h := hashKeyOf(name)
	if _, ok := c.entries[h]; ok {
		return
	}
	c.entries[h] = c.store.alloc(name)
	c.n++
	c.changed.add(h, c.n)
	if len(c.chunks) == 0 {
		c.chunks = [][]hashKey{{h}}
		return
	}
	ci, i, _ := c.find(h)
	ch := slices.Insert(c.chunks[ci], i, h)
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
	i, ok := c.entries[h]
	if !ok {
		return
	}
	c.store.release(i)
	delete(c.entries, h)
	c.n--
	c.changed.add(h, c.n)
	ci, j, found := c.find(h)
	ch := c.chunks[ci]
	if found {
		ch = slices.Delete(ch, j, j+1)
	}
	if len(ch) == 0 {
		c.chunks = slices.Delete(c.chunks, ci, ci+1)
		return
	}
	c.chunks[ci] = ch
}

// eachKey calls fn for every hash in order with the hash that follows it
// (the first, after the last: the chain is a ring).
func (c *chain) eachKey(fn func(h, next hashKey, s *chainSlot) error) error {
	if c.n == 0 {
		return nil
	}
	for ci, ch := range c.chunks {
		for i, h := range ch {
			if err := fn(h, c.after(ci, i), c.store.slot(c.entries[h])); err != nil {
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

// nsec3Of builds the NSEC3 record for hash h (RFC 5155 §7.1): next hashed
// owner is the following hash, the bitmap the types at the node n plus
// RRSIG, empty for an empty non-terminal (n nil); the TTL is ttl. It needs
// no lock.
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

// nameOf returns the name of the entry in slot sl as stored, octets that
// stay unchanged (z.names[string(...)] looks it up without a copy).
// Callers hold Zone.mu.
func (c *chain) nameOf(sl *chainSlot) []byte {
	r := ref(sl.name.Load()) // before the view: see chainstore.go
	return c.store.view.Load().name(r)
}

// cachedSigs returns the cached packed signatures of the entry in slot sl
// when they were made over the record rec (packed), are fresh, and sg
// accepts their signer (as node.cachedSigs). Callers hold Zone.mu.
func (c *chain) cachedSigs(sl *chainSlot, sg *signer.Signer, rec []byte) []byte {
	r := ref(sl.signed.Load()) // before the view: see chainstore.go
	return cachedNSEC3(c.store.view.Load(), r, sg, rec)
}

// cachedNSEC3 is chain.cachedSigs for the signed record at r in view v.
func cachedNSEC3(v *arenaView, r ref, sg *signer.Signer, rec []byte) []byte {
	if r == 0 {
		return nil
	}
	have, sigs, by := v.record(r)
	if by != sg && !sg.Accepts(by, dns.TypeNSEC3) || !bytes.Equal(have, rec) || !freshPacked(sg, sigs) {
		return nil
	}
	return sigs
}

// signWire signs the NSEC3 record rr (packed: rec) with sg from its
// packed form (signer.Signer.SignWire), caches record and signatures in
// slot sl if it still holds the name at want, and returns the signatures
// packed and their number; keys SignWire does not handle go through
// signer.Signer.Sign. It needs no lock.
func (c *chain) signWire(sl *chainSlot, want ref, sg *signer.Signer, rr dns.RR, rec []byte) ([]byte, int, error) {
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
		rrs, err := sg.Sign([]dns.RR{rr})
		if err != nil {
			return nil, 0, err
		}
		if sigs, err = appendPacked(nil, rrs); err != nil {
			return nil, 0, err
		}
		count = len(rrs)
	} else if err != nil {
		return nil, 0, err
	}
	if err := c.store.store(sl, want, sg, rec, sigs); err != nil {
		return nil, 0, err
	}
	return sigs, count, nil
}

// transferSnap is what a transfer reads from the zone, taken under the
// read lock in one go: nodes are immutable once installed (a change
// installs new ones), so the transfer is consistent without holding the
// lock while it decodes, signs and lays out the zone.
type transferSnap struct {
	soa    *dns.SOA
	negTTL uint32
	sg     *signer.Signer
	// nodes are the names with data, in canonical order, and sigs the
	// refs of their signatures then (0 if none), in view.
	nodes []*node
	sigs  []ref
	// links are the NSEC3 chain in hash order, with the chain store's
	// view their refs and sigs's point into (kept as it was whatever the
	// chain and the nodes do after).
	links []chainLink
	view  *arenaView
}

// chainLink is an entry of the NSEC3 chain as a snapshot saw it.
type chainLink struct {
	h      hashKey
	slot   *chainSlot
	name   ref   // the entry's name, in transferSnap.view
	signed ref   // its signed record then, in transferSnap.view; 0 if none
	n      *node // the node at the name; nil for an empty non-terminal
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
		snap := &transferSnap{soa: dns.Copy(z.soa()).(*dns.SOA), negTTL: z.negativeTTL(), sg: z.signer.Load(), nodes: make([]*node, 0, len(names)), sigs: make([]ref, 0, len(names))}
		for _, name := range names {
			n := z.names[name]
			snap.nodes = append(snap.nodes, n)
			snap.sigs = append(snap.sigs, ref(n.sigs.Load()))
		}
		snap.links = make([]chainLink, 0, z.chain.n)
		for _, ch := range z.chain.chunks {
			for _, h := range ch {
				sl := z.chain.store.slot(z.chain.entries[h])
				snap.links = append(snap.links, chainLink{h: h, slot: sl, name: ref(sl.name.Load()), signed: ref(sl.signed.Load())})
			}
		}
		// The view is loaded after every ref, so it holds their slabs.
		snap.view = z.chain.store.view.Load()
		for i := range snap.links {
			snap.links[i].n = z.names[string(snap.view.name(snap.links[i].name))]
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
// 5936 §2.2), packed: the RRs of an xfrZone (transferZone), collected.
// Transfers send from the xfrZone itself; this is the zone in one piece,
// for Transfer and the tests.
func (z *Zone) transferImage() (*image.Image, error) {
	x, err := z.transferZone()
	if err != nil {
		return nil, err
	}
	return image.Collect(x)
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
