package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Response cache: packed answers to plain queries, reused until the zone
// changes. Packing a signed answer costs more than finding it, and busy
// identity zones get the same questions over and over.
const (
	// cacheMax bounds the entries (about 300 octets each); when full, an
	// eighth of them, picked by map order (random), make room.
	cacheMax = 250000
	// cacheTTL bounds an entry's age, so that signatures replaced before
	// expiry (zone/signer) are picked up even without a change.
	cacheTTL = time.Hour
)

type cacheKey struct {
	name  string // as asked, case kept (the question is echoed)
	qtype uint16
	flags uint16 // DO, CO, RD, CD, EDNS present
	size  uint16 // UDP size the answer was truncated to (0: TCP)
}

type cacheEntry struct {
	wire    []byte
	created time.Time
}

type respCache struct {
	mu      sync.RWMutex
	m       map[cacheKey]cacheEntry
	serial  uint32
	hits    atomic.Uint64
	enabled bool
}

func newRespCache() *respCache { return &respCache{m: map[cacheKey]cacheEntry{}, enabled: true} }

// key returns the cache key for r, and false for requests the cache never
// serves (TSIG, opcodes other than QUERY, transfers, options other than
// the bare OPT, more than one question).
func (c *respCache) key(r *dns.Msg, udp bool, size int) (cacheKey, bool) {
	if !c.enabled || r.Opcode != dns.OpcodeQuery || len(r.Question) != 1 || len(r.Answer) != 0 || len(r.Ns) != 0 || r.IsTsig() != nil {
		return cacheKey{}, false
	}
	q := r.Question[0]
	if q.Qclass != dns.ClassINET || q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		return cacheKey{}, false
	}
	var flags uint16
	if r.RecursionDesired {
		flags |= 1
	}
	if r.CheckingDisabled {
		flags |= 2
	}
	if len(r.Extra) > 1 {
		return cacheKey{}, false
	}
	if opt := r.IsEdns0(); opt != nil {
		if len(opt.Option) != 0 || opt.Version() != 0 {
			return cacheKey{}, false
		}
		flags |= 4
		if opt.Do() {
			flags |= 8
		}
		if uint16(opt.Hdr.Ttl)&ednsFlagCO != 0 {
			flags |= 16
		}
	} else if len(r.Extra) != 0 {
		return cacheKey{}, false
	}
	k := cacheKey{name: q.Name, qtype: q.Qtype, flags: flags}
	if udp {
		k.size = uint16(size)
	}
	return k, true
}

// get returns a copy of the cached answer with r's ID, or nil.
func (c *respCache) get(k cacheKey, id uint16, serial uint32, now time.Time) []byte {
	c.mu.RLock()
	e, ok := c.m[k]
	stale := c.serial != serial
	c.mu.RUnlock()
	if !ok || stale || now.Sub(e.created) > cacheTTL {
		return nil
	}
	c.hits.Add(1)
	out := make([]byte, len(e.wire))
	copy(out, e.wire)
	out[0], out[1] = byte(id>>8), byte(id)
	return out
}

func (c *respCache) put(k cacheKey, wire []byte, serial uint32, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.serial != serial {
		c.m = make(map[cacheKey]cacheEntry, len(c.m)/2+16)
		c.serial = serial
	}
	if len(c.m) >= cacheMax {
		drop := cacheMax / 8
		for k := range c.m {
			delete(c.m, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.m[k] = cacheEntry{wire: wire, created: now}
}
