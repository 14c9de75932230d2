package verify

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verdict is a cached outcome: an identity or a refusal decided by a secure
// answer.
type verdict struct {
	id      *Identity
	err     error
	expires time.Time
}

// verdictCache is a bounded map of verdicts. When full, expired entries go
// first, then an eighth of the rest (in map order, which is random enough
// that a peer cannot choose what is evicted).
type verdictCache struct {
	mu  sync.Mutex
	max int
	m   map[[sha256.Size]byte]verdict
}

func newVerdictCache(max int) *verdictCache {
	if max < 0 {
		return nil
	}
	return &verdictCache{max: max, m: make(map[[sha256.Size]byte]verdict)}
}

func (c *verdictCache) get(k [sha256.Size]byte, now time.Time) (verdict, bool) {
	if c == nil {
		return verdict{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	if !ok {
		return verdict{}, false
	}
	if !now.Before(v.expires) {
		delete(c.m, k)
		return verdict{}, false
	}
	return v, true
}

func (c *verdictCache) put(k [sha256.Size]byte, v verdict, now time.Time) {
	if c == nil || !now.Before(v.expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for kk, vv := range c.m {
			if !now.Before(vv.expires) {
				delete(c.m, kk)
			}
		}
		for kk := range c.m {
			if len(c.m) < c.max-c.max/8 {
				break
			}
			delete(c.m, kk)
		}
	}
	c.m[k] = v
}

func (c *verdictCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
