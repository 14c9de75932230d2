package verify

import (
	"sync"
	"time"
)

// verdict is a cached outcome: an identity or a refusal decided by a secure
// answer.
type verdict struct {
	id  *Identity
	err error
}

// ttlCache is a bounded map whose entries expire. When full, expired
// entries go first, then an eighth of the rest (in map order, which is
// random enough that a peer cannot choose what is evicted). A nil
// *ttlCache holds nothing.
type ttlCache[K comparable, V any] struct {
	mu  sync.Mutex
	max int
	m   map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

// newTTLCache returns a cache of at most max entries, or nil (no cache)
// when max is negative.
func newTTLCache[K comparable, V any](max int) *ttlCache[K, V] {
	if max < 0 {
		return nil
	}
	return &ttlCache[K, V]{max: max, m: make(map[K]ttlEntry[V])}
}

func (c *ttlCache[K, V]) get(k K, now time.Time) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return zero, false
	}
	if !now.Before(e.expires) {
		delete(c.m, k)
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[K, V]) put(k K, v V, expires, now time.Time) {
	if c == nil || !now.Before(expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for kk, e := range c.m {
			if !now.Before(e.expires) {
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
	c.m[k] = ttlEntry[V]{v: v, expires: expires}
}

func (c *ttlCache[K, V]) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
