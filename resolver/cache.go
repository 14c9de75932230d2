package resolver

import (
	"container/list"
	"sync"
	"time"
)

// lru is a size-bounded cache whose entries also expire. Memory is bounded by
// the entry count: every value held is one validated DNS message's worth of
// data at most (64 KiB on the wire), so maxEntries bounds the total.
type lru[V any] struct {
	mu         sync.Mutex
	maxEntries int
	ll         *list.List
	items      map[string]*list.Element
}

type lruEntry[V any] struct {
	key     string
	value   V
	expires time.Time
}

func newLRU[V any](maxEntries int) *lru[V] {
	return &lru[V]{maxEntries: maxEntries, ll: list.New(), items: map[string]*list.Element{}}
}

// get returns the value for key if present and not expired at now.
func (c *lru[V]) get(key string, now time.Time) (V, bool) {
	var zero V
	if c == nil || c.maxEntries <= 0 {
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*lruEntry[V])
	if !now.Before(e.expires) {
		c.ll.Remove(el)
		delete(c.items, key)
		return zero, false
	}
	c.ll.MoveToFront(el)
	return e.value, true
}

// put stores value until expires, evicting the least recently used entry when
// the cache is full.
func (c *lru[V]) put(key string, value V, expires time.Time) {
	if c == nil || c.maxEntries <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*lruEntry[V])
		e.value, e.expires = value, expires
		c.ll.MoveToFront(el)
		return
	}
	c.items[key] = c.ll.PushFront(&lruEntry[V]{key: key, value: value, expires: expires})
	for c.ll.Len() > c.maxEntries {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*lruEntry[V]).key)
	}
}

func (c *lru[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
