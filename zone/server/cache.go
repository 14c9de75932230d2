package server

import (
	"sync"
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
	// cacheTTL bounds an entry's age on the zone's clock, so that
	// signatures replaced before expiry (zone/internal/signer) are picked up even
	// without a change.
	cacheTTL = time.Hour
)

// cacheKey is the question as asked (wire-format name, case kept, since
// the question is echoed), the type, the request flags that change the
// answer (RD, CD, EDNS, DO, CO) and the UDP size the answer was cut to (0
// for TCP), as one string so that the UDP fast path can look it up from
// bytes without allocating.
type cacheKey string

// Request flag bits in a cache key.
const (
	keyRD = 1 << iota
	keyCD
	keyEDNS
	keyDO
	keyCO
)

// appendKey builds a cache key in buf.
func appendKey(buf, wireName []byte, qtype, flags, size uint16) []byte {
	buf = append(buf, wireName...)
	return append(buf, byte(qtype>>8), byte(qtype), byte(flags>>8), byte(flags), byte(size>>8), byte(size))
}

type cacheEntry struct {
	wire    []byte
	created time.Time
}

type respCache struct {
	mu     sync.RWMutex
	m      map[string]cacheEntry
	serial uint32
}

func newRespCache() *respCache { return &respCache{m: map[string]cacheEntry{}} }

// key returns the cache key for r, and false for requests the cache never
// serves (TSIG, opcodes other than QUERY, transfers, options other than
// the bare OPT, more than one question).
func (c *respCache) key(r *dns.Msg, udp bool, size int) (cacheKey, bool) {
	if r.Opcode != dns.OpcodeQuery || len(r.Question) != 1 || len(r.Answer) != 0 || len(r.Ns) != 0 || r.IsTsig() != nil {
		return "", false
	}
	q := r.Question[0]
	if q.Qclass != dns.ClassINET || q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		return "", false
	}
	var flags uint16
	if r.RecursionDesired {
		flags |= keyRD
	}
	if r.CheckingDisabled {
		flags |= keyCD
	}
	if len(r.Extra) > 1 {
		return "", false
	}
	if opt := r.IsEdns0(); opt != nil {
		if len(opt.Option) != 0 || opt.Version() != 0 {
			return "", false
		}
		flags |= keyEDNS
		if opt.Do() {
			flags |= keyDO
		}
		if uint16(opt.Hdr.Ttl)&ednsFlagCO != 0 {
			flags |= keyCO
		}
	} else if len(r.Extra) != 0 {
		return "", false
	}
	var nb [256]byte
	n, err := dns.PackDomainName(q.Name, nb[:], 0, nil, false)
	if err != nil {
		return "", false
	}
	if !udp {
		size = 0
	}
	return cacheKey(appendKey(make([]byte, 0, n+6), nb[:n], q.Qtype, flags, uint16(size))), true
}

// get returns a copy of the cached answer with r's ID, or nil.
func (c *respCache) get(k cacheKey, id uint16, serial uint32, now time.Time) []byte {
	return c.getBytes([]byte(k), id, serial, now, nil)
}

// getBytes is get for a key in bytes, appending the answer to dst.
func (c *respCache) getBytes(k []byte, id uint16, serial uint32, now time.Time, dst []byte) []byte {
	c.mu.RLock()
	e, ok := c.m[string(k)]
	stale := c.serial != serial
	c.mu.RUnlock()
	if !ok || stale || now.Sub(e.created) > cacheTTL {
		return nil
	}
	out := append(dst[:0], e.wire...)
	out[0], out[1] = byte(id>>8), byte(id)
	return out
}

func (c *respCache) put(k cacheKey, wire []byte, serial uint32, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.serial != serial {
		c.m = make(map[string]cacheEntry, len(c.m)/2+16)
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
	c.m[string(k)] = cacheEntry{wire: wire, created: now}
}
