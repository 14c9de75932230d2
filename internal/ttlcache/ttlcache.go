// Package ttlcache is the one bounded, expiring cache of the project: a map
// of at most a fixed number of entries, each valid until a time its writer
// gives (a DNS TTL, a signature's expiry). When full, the least recently
// used entry makes room.
//
// For most uses:
//
//	c := ttlcache.New[string, *Result](10000)
//	c.Put(key, res, now.Add(ttl), now)
//	if res, ok := c.Get(key, now); ok { ... }
//
// The caller passes the time to every call, from its own clock, so tests
// that move a clock move the cache with it. A nil *Cache holds nothing:
// Get misses and Put does nothing, which is how a caller turns its cache
// off.
//
// # Security considerations
//
// The bound is on entries, not octets: callers keep values small or
// bounded (one DNS message is at most 64 KiB). A peer that makes new
// entries quickly evicts the least recently used ones; entries in use stay.
package ttlcache

import (
	"sync"
	"time"
)

// Cache is a bounded map whose entries expire. It is safe for concurrent
// use. Make one with New.
type Cache[K comparable, V any] struct {
	mu  sync.Mutex
	max int
	m   map[K]*entry[K, V]
	// root is the sentinel of a circular list of entries, most recently
	// used first.
	root entry[K, V]
}

type entry[K comparable, V any] struct {
	key        K
	value      V
	expires    time.Time
	prev, next *entry[K, V]
}

// New returns a cache of at most max entries, or nil, a cache that holds
// nothing, when max is zero or negative.
func New[K comparable, V any](max int) *Cache[K, V] {
	if max <= 0 {
		return nil
	}
	c := &Cache[K, V]{max: max, m: make(map[K]*entry[K, V])}
	c.root.prev, c.root.next = &c.root, &c.root
	return c
}

// Get returns the value for k if it is present and not expired at now: an
// entry expires at the time given to Put, not after it. An expired entry
// is dropped.
func (c *Cache[K, V]) Get(k K, now time.Time) (V, bool) {
	v, _, ok := c.GetWithExpiry(k, now)
	return v, ok
}

// GetWithExpiry is Get that also returns the time the value expires, for a
// caller that hands out what is left of a TTL.
func (c *Cache[K, V]) GetWithExpiry(k K, now time.Time) (V, time.Time, bool) {
	var zero V
	if c == nil {
		return zero, time.Time{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return zero, time.Time{}, false
	}
	if !now.Before(e.expires) {
		c.remove(e)
		return zero, time.Time{}, false
	}
	c.toFront(e)
	return e.value, e.expires, true
}

// Put stores v for k until expires, replacing what k held. A value already
// expired at now is not stored (and k's old value is dropped). When the
// cache is full, the least recently used entry goes.
func (c *Cache[K, V]) Put(k K, v V, expires, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !now.Before(expires) {
		if ok {
			c.remove(e)
		}
		return
	}
	if ok {
		e.value, e.expires = v, expires
		c.toFront(e)
		return
	}
	if len(c.m) >= c.max {
		c.remove(c.root.prev)
	}
	e = &entry[K, V]{key: k, value: v, expires: expires}
	c.m[k] = e
	c.insertFront(e)
}

// Len returns the number of entries, expired ones included until they are
// dropped.
func (c *Cache[K, V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *Cache[K, V]) remove(e *entry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(c.m, e.key)
}

func (c *Cache[K, V]) insertFront(e *entry[K, V]) {
	e.prev, e.next = &c.root, c.root.next
	c.root.next.prev = e
	c.root.next = e
}

func (c *Cache[K, V]) toFront(e *entry[K, V]) {
	if c.root.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	c.insertFront(e)
}
