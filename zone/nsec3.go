package zone

import (
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
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
// disappear: a sorted list of hashed owner names (base32hex sorts like the
// binary hash) and, per hash, the name it stands for and a cache of its
// signed NSEC3 record. Callers hold Zone.mu.
type chain struct {
	hashes  []string
	entries map[string]*chainEntry
}

type chainEntry struct {
	name   string
	signed atomic.Pointer[signedRR]
}

// signedRR is one record with its signatures, cached while its content is
// unchanged.
type signedRR struct {
	rr   dns.RR
	sigs []dns.RR
}

func newChain() *chain { return &chain{entries: map[string]*chainEntry{}} }

func hashOf(name string) string {
	return dns.HashName(name, nsec3Hash, nsec3Iterations, nsec3Salt)
}

func (c *chain) add(name string) {
	h := hashOf(name)
	if _, ok := c.entries[h]; ok {
		return
	}
	c.entries[h] = &chainEntry{name: name}
	i, _ := slices.BinarySearch(c.hashes, h)
	c.hashes = slices.Insert(c.hashes, i, h)
}

func (c *chain) remove(name string) {
	h := hashOf(name)
	if _, ok := c.entries[h]; !ok {
		return
	}
	delete(c.entries, h)
	if i, ok := slices.BinarySearch(c.hashes, h); ok {
		c.hashes = slices.Delete(c.hashes, i, i+1)
	}
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

// nsec3At builds the NSEC3 record for the i-th hash of the chain (RFC 5155
// §7.1): next hashed owner is the following hash (wrapping), the bitmap the
// types at the name plus RRSIG, empty for an empty non-terminal. Callers
// hold mu.
func (z *Zone) nsec3At(i int) (*dns.NSEC3, *chainEntry) {
	c := z.chain
	h := c.hashes[i]
	next := c.hashes[(i+1)%len(c.hashes)]
	e := c.entries[h]
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
	}, e
}

// signedNSEC3 returns the i-th NSEC3 record and its signatures, reusing the
// cached signatures while the record and they are still good.
func (z *Zone) signedNSEC3(i int) (dns.RR, []dns.RR, error) {
	rr, e := z.nsec3At(i)
	if p := e.signed.Load(); p != nil && dns.IsDuplicate(p.rr, rr) && p.rr.Header().Ttl == rr.Hdr.Ttl && z.signer.Fresh(p.sigs) {
		return p.rr, p.sigs, nil
	}
	sigs, err := z.signer.Sign([]dns.RR{rr})
	if err != nil {
		return nil, nil, err
	}
	e.signed.Store(&signedRR{rr: rr, sigs: sigs})
	return rr, sigs, nil
}

// Transfer returns the whole signed zone as an AXFR carries it (RFC 5936
// §2.2): the SOA, every RRset with its signatures, the NSEC3 chain with
// its signatures, and the SOA again. It is a consistent snapshot.
func (z *Zone) Transfer() ([]dns.RR, error) {
	z.mu.RLock()
	defer z.mu.RUnlock()
	origin := z.settings.Origin
	soaSet := z.names[origin].sets[dns.TypeSOA]
	out := make([]dns.RR, 0, 4*len(z.names)+8)
	out = append(out, soaSet.rrs[0])
	names := make([]string, 0, len(z.names))
	for name := range z.names {
		names = append(names, name)
	}
	sortCanonical(names)
	for _, name := range names {
		n := z.names[name]
		for _, t := range n.types() {
			s := n.sets[t]
			if !(name == origin && t == dns.TypeSOA) {
				out = append(out, s.rrs...)
			}
			sigs, err := z.signed(s)
			if err != nil {
				return nil, err
			}
			out = append(out, sigs...)
		}
	}
	for i := range z.chain.hashes {
		rr, sigs, err := z.signedNSEC3(i)
		if err != nil {
			return nil, err
		}
		out = append(out, rr)
		out = append(out, sigs...)
	}
	out = append(out, soaSet.rrs[0])
	return out, nil
}
