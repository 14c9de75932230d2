package testwait

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	var n atomic.Int32
	if !Until(10*time.Second, func() bool { return n.Add(1) == 5 }) {
		t.Fatal("Until gave up on a condition that holds on the fifth call")
	}
	if n.Load() != 5 {
		t.Errorf("cond called %d times, want 5", n.Load())
	}
	// A condition that never holds: false, after at least two calls (the
	// first and the one at the deadline).
	n.Store(0)
	if Until(20*time.Millisecond, func() bool { n.Add(1); return false }) {
		t.Fatal("Until reported a condition that never holds")
	}
	if n.Load() < 2 {
		t.Errorf("cond called %d times, want at least 2", n.Load())
	}
	// A zero timeout still looks once.
	if !Until(0, func() bool { return true }) {
		t.Error("Until(0) did not look at a condition that holds")
	}
}

// fakeTB records a fatal failure instead of ending the test.
type fakeTB struct {
	testing.TB
	msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

func TestEventually(t *testing.T) {
	var n atomic.Int32
	ok := &fakeTB{TB: t}
	Eventually(ok, 10*time.Second, func() error {
		if n.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if ok.msg != "" {
		t.Errorf("Eventually failed a condition that holds: %s", ok.msg)
	}
	bad := &fakeTB{TB: t}
	Eventually(bad, 20*time.Millisecond, func() error { return errors.New("queue holds 3 entries") })
	if !strings.Contains(bad.msg, "queue holds 3 entries") {
		t.Errorf("failure %q does not carry the condition's last error", bad.msg)
	}
}

func TestFor(t *testing.T) {
	var n atomic.Int32
	ok := &fakeTB{TB: t}
	For(ok, "the third call", func() bool { return n.Add(1) == 3 })
	if ok.msg != "" {
		t.Errorf("For failed a condition that holds: %s", ok.msg)
	}
}
