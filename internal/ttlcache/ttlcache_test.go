package ttlcache

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestBoundEvictsLeastRecentlyUsed(t *testing.T) {
	c := New[string, int](3)
	for i := range 3 {
		c.Put(fmt.Sprint(i), i, t0.Add(time.Minute), t0)
	}
	if _, ok := c.Get("0", t0); !ok { // 0 becomes the most recent
		t.Fatal("0 missing")
	}
	c.Put("3", 3, t0.Add(time.Minute), t0) // evicts 1, the least recent
	if _, ok := c.Get("1", t0); ok {
		t.Error("1 survived eviction")
	}
	for _, k := range []string{"0", "2", "3"} {
		if _, ok := c.Get(k, t0); !ok {
			t.Errorf("%s evicted", k)
		}
	}
	if n := c.Len(); n != 3 {
		t.Errorf("%d entries, want 3", n)
	}
	// Replacing a value counts as a use and does not grow the cache.
	c.Put("0", 10, t0.Add(time.Hour), t0)
	c.Put("4", 4, t0.Add(time.Minute), t0) // evicts 2: 3 and 0 are newer
	if v, ok := c.Get("0", t0.Add(30*time.Minute)); !ok || v != 10 {
		t.Errorf("replaced value %d, %v; want 10", v, ok)
	}
	if _, ok := c.Get("2", t0); ok {
		t.Error("2 survived eviction")
	}
	if n := c.Len(); n != 3 {
		t.Errorf("%d entries, want 3", n)
	}
}

func TestBoundUnderManyKeys(t *testing.T) {
	const max = 100
	c := New[int, int](max)
	for i := range 10 * max {
		c.Put(i, i, t0.Add(time.Hour), t0)
		if n := c.Len(); n > max {
			t.Fatalf("%d entries after %d puts, bound %d", n, i+1, max)
		}
	}
	// The last max keys are the ones kept.
	for i := 9 * max; i < 10*max; i++ {
		if v, ok := c.Get(i, t0); !ok || v != i {
			t.Fatalf("recent key %d: %d, %v", i, v, ok)
		}
	}
}

func TestExpiry(t *testing.T) {
	c := New[string, string](10)
	c.Put("a", "x", t0.Add(time.Minute), t0)
	if v, ok := c.Get("a", t0.Add(time.Minute-time.Nanosecond)); !ok || v != "x" {
		t.Fatalf("before expiry: %q, %v", v, ok)
	}
	if v, exp, ok := c.GetWithExpiry("a", t0.Add(time.Second)); !ok || v != "x" || !exp.Equal(t0.Add(time.Minute)) {
		t.Errorf("GetWithExpiry = %q, %v, %v; want x, expiry %v", v, exp, ok, t0.Add(time.Minute))
	}
	if _, ok := c.Get("a", t0.Add(time.Minute)); ok {
		t.Error("entry served at its expiry time")
	}
	if n := c.Len(); n != 0 {
		t.Errorf("expired entry not dropped: %d entries", n)
	}
	// An entry already expired when put is not stored, and it drops what
	// the key held.
	c.Put("b", "old", t0.Add(time.Hour), t0)
	c.Put("b", "new", t0, t0)
	if v, ok := c.Get("b", t0); ok {
		t.Errorf("expired put left %q", v)
	}
	c.Put("c", "y", t0.Add(-time.Second), t0)
	if n := c.Len(); n != 0 {
		t.Errorf("%d entries after expired puts, want 0", n)
	}
	// Time moving backwards (a clock set back) does not revive anything
	// dropped, but an entry still held is valid at an earlier time.
	c.Put("d", "z", t0.Add(time.Minute), t0)
	if _, ok := c.Get("d", t0.Add(-time.Hour)); !ok {
		t.Error("entry missed before its expiry")
	}
}

func TestNilCacheHoldsNothing(t *testing.T) {
	for _, max := range []int{0, -1} {
		c := New[string, int](max)
		if c != nil {
			t.Fatalf("New(%d) = %v, want nil", max, c)
		}
		c.Put("x", 1, t0.Add(time.Hour), t0)
		if _, ok := c.Get("x", t0); ok {
			t.Error("nil cache returned a value")
		}
		if c.Len() != 0 {
			t.Error("nil cache has entries")
		}
	}
}

// TestConcurrentUse is for the race detector: readers and writers of
// overlapping keys at once, with the bound and the list kept consistent.
func TestConcurrentUse(t *testing.T) {
	const max = 64
	c := New[int, int](max)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (i*7 + g) % 200
				now := t0.Add(time.Duration(i) * time.Millisecond)
				if i%3 == 0 {
					c.Put(k, k, now.Add(time.Duration(k)*time.Millisecond), now)
				} else if v, ok := c.Get(k, now); ok && v != k {
					t.Errorf("key %d holds %d", k, v)
				}
			}
		}()
	}
	wg.Wait()
	if n := c.Len(); n > max {
		t.Errorf("%d entries, bound %d", n, max)
	}
	// The list holds exactly the map's entries.
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for e := c.root.next; e != &c.root; e = e.next {
		if c.m[e.key] != e {
			t.Fatalf("list entry %d not in the map", e.key)
		}
		n++
	}
	if n != len(c.m) {
		t.Errorf("list has %d entries, map %d", n, len(c.m))
	}
}

func BenchmarkGetHit(b *testing.B) {
	c := New[string, int](10000)
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
		c.Put(keys[i], i, t0.Add(time.Hour), t0)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Get(keys[i%len(keys)], t0)
		i++
	}
}
