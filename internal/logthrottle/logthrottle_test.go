package logthrottle

import (
	"sync"
	"testing"
	"time"
)

// TestAllow steps a clock through the cases of one key and shows that
// keys are independent.
func TestAllow(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	th := New[string](time.Minute, 100)
	steps := []struct {
		key  string
		at   time.Duration
		ok   bool
		held int
	}{
		{"a", 0, true, 0},
		{"a", time.Second, false, 0},
		{"b", time.Second, true, 0}, // another key is not held back by a's line
		{"a", 59 * time.Second, false, 0},
		{"a", time.Minute, true, 2}, // the interval has run: the two held back are reported
		{"a", time.Minute + time.Second, false, 0},
		{"a", 10 * time.Second, true, 1}, // the clock went back: due
		{"a", 3 * time.Minute, true, 0},
	}
	for i, s := range steps {
		ok, held := th.Allow(s.key, t0.Add(s.at))
		if ok != s.ok || held != s.held {
			t.Errorf("step %d (%s at %v): Allow = %v, %d; want %v, %d", i, s.key, s.at, ok, held, s.ok, s.held)
		}
	}
}

// TestWroteAlways: a line the caller always writes (Wrote without Due)
// restarts the key's interval and reports what Due held back.
func TestWroteAlways(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	th := New[string](time.Minute, 100)
	if held := th.Wrote("n", t0); held != 0 {
		t.Fatalf("first Wrote = %d, want 0", held)
	}
	for range 3 {
		if th.Due("n", t0.Add(time.Second)) {
			t.Fatal("due within the interval")
		}
	}
	if held := th.Wrote("n", t0.Add(2*time.Second)); held != 3 {
		t.Errorf("Wrote after three held back = %d, want 3", held)
	}
	if th.Due("n", t0.Add(61*time.Second)) {
		t.Error("due within the interval of the forced line")
	}
	if !th.Due("n", t0.Add(62*time.Second)) {
		t.Error("not due an interval after the forced line")
	}
}

// TestMaxKeys: memory stays bounded; a key forgotten when the table is
// full is due again at once.
func TestMaxKeys(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	th := New[int](time.Minute, 3)
	for k := range 3 {
		if ok, _ := th.Allow(k, t0); !ok {
			t.Fatalf("key %d held back on its first line", k)
		}
	}
	if ok, _ := th.Allow(0, t0); ok {
		t.Fatal("key 0 due again within the interval")
	}
	// A fourth key: the table is full and starts afresh.
	if ok, _ := th.Allow(3, t0); !ok {
		t.Fatal("key 3 held back on its first line")
	}
	if n := len(th.keys); n > 3 {
		t.Errorf("%d keys remembered, want at most 3", n)
	}
	if ok, _ := th.Allow(0, t0); !ok {
		t.Error("key 0 still remembered after the table started afresh")
	}
}

// TestConcurrent: under the race detector, lines from many goroutines for
// one key within one interval: exactly one is written.
func TestConcurrent(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	th := New[string](time.Minute, 10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	written := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if ok, _ := th.Allow("k", t0); ok {
					mu.Lock()
					written++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if written != 1 {
		t.Errorf("%d lines written, want 1", written)
	}
	if ok, held := th.Allow("k", t0.Add(time.Minute)); !ok || held != 799 {
		t.Errorf("after the interval: Allow = %v, %d; want true, 799", ok, held)
	}
}
