package resolver

import (
	"fmt"
	"testing"
	"time"
)

func TestLRU(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newLRU[int](3)
	for i := range 3 {
		c.put(fmt.Sprint(i), i, now.Add(time.Minute))
	}
	if _, ok := c.get("0", now); !ok { // 0 becomes the most recent
		t.Fatal("0 missing")
	}
	c.put("3", 3, now.Add(time.Minute)) // evicts 1, the least recent
	if _, ok := c.get("1", now); ok {
		t.Error("1 survived eviction")
	}
	for _, k := range []string{"0", "2", "3"} {
		if _, ok := c.get(k, now); !ok {
			t.Errorf("%s evicted", k)
		}
	}
	if n := c.len(); n != 3 {
		t.Errorf("%d entries, want 3", n)
	}
	if _, ok := c.get("2", now.Add(time.Minute)); ok {
		t.Error("entry served at its expiry time")
	}
	if n := c.len(); n != 2 {
		t.Errorf("expired entry not dropped: %d entries", n)
	}
	c.put("0", 10, now.Add(time.Hour))
	if v, _ := c.get("0", now.Add(30*time.Minute)); v != 10 {
		t.Errorf("updated value %d, want 10", v)
	}
	var disabled *lru[int]
	disabled.put("x", 1, now.Add(time.Hour))
	if _, ok := disabled.get("x", now); ok {
		t.Error("nil cache returned a value")
	}
}
