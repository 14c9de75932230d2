package zone

import (
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/signer"
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
// disappear: the hashed owner names in order (base32hex sorts like the
// binary hash) and, per hash, the name it stands for and a cache of its
// signed NSEC3 record. Callers hold Zone.mu.
//
// The order is kept in sorted chunks of at most chunkMax hashes, so an
// insertion or removal moves at most a chunk, not the whole chain: a
// million names stay cheap to change.
type chain struct {
	chunks  [][]string
	n       int
	entries map[string]*chainEntry
}

const chunkMax = 512

type chainEntry struct {
	name   string
	signed atomic.Pointer[signedRR]
}

// signedRR is one record with its signatures, cached while its content is
// unchanged.
type signedRR struct {
	rr   dns.RR
	sigs []dns.RR
	by   *signer.Signer
}

func newChain() *chain { return &chain{entries: map[string]*chainEntry{}} }

func hashOf(name string) string {
	return dns.HashName(name, nsec3Hash, nsec3Iterations, nsec3Salt)
}

// chunkFor returns the index of the chunk where h belongs: the last chunk
// whose first hash is not after h.
func (c *chain) chunkFor(h string) int {
	i := sort.Search(len(c.chunks), func(i int) bool { return c.chunks[i][0] > h })
	if i > 0 {
		i--
	}
	return i
}

func (c *chain) add(name string) {
	h := hashOf(name)
	if _, ok := c.entries[h]; ok {
		return
	}
	c.entries[h] = &chainEntry{name: name}
	c.n++
	if len(c.chunks) == 0 {
		c.chunks = [][]string{{h}}
		return
	}
	ci := c.chunkFor(h)
	ch := c.chunks[ci]
	i, _ := slices.BinarySearch(ch, h)
	ch = slices.Insert(ch, i, h)
	if len(ch) > chunkMax {
		half := len(ch) / 2
		right := append([]string(nil), ch[half:]...)
		ch = ch[:half:half]
		c.chunks = slices.Insert(c.chunks, ci+1, right)
	}
	c.chunks[ci] = ch
}

func (c *chain) remove(name string) {
	h := hashOf(name)
	if _, ok := c.entries[h]; !ok {
		return
	}
	delete(c.entries, h)
	c.n--
	ci := c.chunkFor(h)
	ch := c.chunks[ci]
	if i, ok := slices.BinarySearch(ch, h); ok {
		ch = slices.Delete(ch, i, i+1)
	}
	if len(ch) == 0 {
		c.chunks = slices.Delete(c.chunks, ci, ci+1)
		return
	}
	c.chunks[ci] = ch
}

// each calls fn for every hash in order with the hash that follows it
// (the first, after the last: the chain is a ring).
func (c *chain) each(fn func(h, next string, e *chainEntry) error) error {
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
		Salt:       "",
	}
}

// nsec3For builds the NSEC3 record for hash h (RFC 5155 §7.1): next hashed
// owner is the following hash, the bitmap the types at the name plus RRSIG,
// empty for an empty non-terminal. Callers hold mu.
func (z *Zone) nsec3For(h, next string, e *chainEntry) *dns.NSEC3 {
	var types []uint16
	if n := z.names[e.name]; n != nil {
		types = append(n.types(), dns.TypeRRSIG)
		sort.Slice(types, func(a, b int) bool { return types[a] < types[b] })
	}
	return &dns.NSEC3{
		Hdr:        dns.RR_Header{Name: strings.ToLower(h) + "." + z.settings.Origin, Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: z.negativeTTL()},
		Hash:       nsec3Hash,
		Flags:      nsec3Flags,
		Iterations: nsec3Iterations,
		SaltLength: 0,
		Salt:       "",
		HashLength: 20,
		NextDomain: next,
		TypeBitMap: types,
	}
}

// signedNSEC3 returns the NSEC3 record for h and its signatures, reusing
// the cached signatures while the record and they are still good.
func (z *Zone) signedNSEC3(h, next string, e *chainEntry) (dns.RR, []dns.RR, error) {
	rr := z.nsec3For(h, next, e)
	sg := z.signer.Load()
	if p := e.signed.Load(); p != nil && p.by == sg && dns.IsDuplicate(p.rr, rr) && p.rr.Header().Ttl == rr.Hdr.Ttl && sg.Fresh(p.sigs) {
		return p.rr, p.sigs, nil
	}
	sigs, err := sg.Sign([]dns.RR{rr})
	if err != nil {
		return nil, nil, err
	}
	e.signed.Store(&signedRR{rr: rr, sigs: sigs, by: sg})
	return rr, sigs, nil
}

// Transfer returns the whole signed zone as an AXFR carries it (RFC 5936
// §2.2): the SOA, every RRset with its signatures, the NSEC3 chain with
// its signatures, and the SOA again. It is a consistent snapshot.
func (z *Zone) Transfer() ([]dns.RR, error) {
	z.mu.RLock()
	defer z.mu.RUnlock()
	origin := z.settings.Origin
	soa := z.soa()
	out := make([]dns.RR, 0, 4*len(z.names)+8)
	out = append(out, soa)
	names := make([]string, 0, len(z.names))
	for name := range z.names {
		names = append(names, name)
	}
	sortCanonical(names)
	for _, name := range names {
		n := z.names[name]
		for _, t := range n.types() {
			if !(name == origin && t == dns.TypeSOA) {
				out = append(out, n.rrs(t)...)
			}
			sigs, err := z.signed(n, t)
			if err != nil {
				return nil, err
			}
			out = append(out, sigs...)
		}
	}
	err := z.chain.each(func(h, next string, e *chainEntry) error {
		rr, sigs, err := z.signedNSEC3(h, next, e)
		if err != nil {
			return err
		}
		out = append(out, rr)
		out = append(out, sigs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out = append(out, soa)
	return out, nil
}
