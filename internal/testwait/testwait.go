// Package testwait is the one way tests wait for something that happens in
// another goroutine or process: poll a condition until it holds, with a
// generous deadline, instead of sleeping for a guessed time.
//
// For most uses:
//
//	testwait.Eventually(t, 10*time.Second, func() error {
//		if n := srv.Open(); n != 2 {
//			return fmt.Errorf("%d connections open, want 2", n)
//		}
//		return nil
//	})
//
// or, for a condition that is true or false, with the default deadline:
//
//	testwait.For(t, "the slow clients to be cut", func() bool { return srv.Open() == 0 })
//
// Until is the same for a test that decides itself what a timeout means.
package testwait

import (
	"testing"
	"time"
)

// Polling intervals: the first poll comes quickly, then the interval
// doubles up to maxInterval, so a fast condition costs little time and a
// slow one little CPU.
const (
	firstInterval = time.Millisecond
	maxInterval   = 50 * time.Millisecond
)

// Timeout is the deadline For gives a condition. It is generous: other
// tests share the machine, and a passing test never waits for it.
const Timeout = 30 * time.Second

// For calls cond until it returns true. If Timeout passes first, it fails
// tb, saying it was waiting for what.
func For(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	if !Until(Timeout, cond) {
		tb.Fatalf("timed out after %v waiting for %s", Timeout, what)
	}
}

// Eventually calls cond until it returns nil. If timeout passes first, it
// fails tb with cond's last error. It returns at once when cond succeeds
// the first time.
func Eventually(tb testing.TB, timeout time.Duration, cond func() error) {
	tb.Helper()
	var last error
	if !Until(timeout, func() bool { last = cond(); return last == nil }) {
		tb.Fatalf("still not so after %v: %v", timeout, last)
	}
}

// Until calls cond until it returns true, and reports whether it did
// before timeout passed. cond is called at least once, and once more after
// the deadline, so a condition that holds at the deadline counts.
func Until(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	interval := firstInterval
	for {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(interval, left))
		interval = min(2*interval, maxInterval)
	}
}
