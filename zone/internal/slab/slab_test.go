package slab

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

var sink byte

// waitReleased collects garbage until more than n slabs have been
// released in the process, or fails after a generous deadline.
func waitReleased(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for Released() <= n {
		if time.Now().After(deadline) {
			t.Fatalf("no slab released beyond %d", n)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// TestSlabReleasedWhenUnreachable checks that a slab's memory is counted
// while its owner is reachable, given back once it is not, and that in
// check mode a touch of the released memory faults (or, without mmap,
// reads the poison): what the arena's tests rely on to catch a read after
// release.
func TestSlabReleasedWhenUnreachable(t *testing.T) {
	SetCheck(true)
	defer SetCheck(false)
	c := new(Counter)
	s := New(3<<16, c)
	b := s.Bytes()
	if len(b) != 3<<16 || c.Bytes() != 3<<16 {
		t.Fatalf("slab of %d bytes, counted %d", len(b), c.Bytes())
	}
	for i := range b {
		if b[i] != 0 {
			t.Fatal("a new slab is not zeroed")
		}
	}
	b[0], b[len(b)-1] = 7, 9
	// Reachable: collections leave it alone.
	n := Released()
	runtime.GC()
	runtime.GC()
	if b[0] != 7 || c.Bytes() != 3<<16 {
		t.Fatal("a reachable slab was released")
	}
	runtime.KeepAlive(s)
	waitReleased(t, n)
	if c.Bytes() != 0 {
		t.Fatalf("%d bytes counted after the release", c.Bytes())
	}
	if !OffHeap {
		if b[0] != 0xdb {
			t.Fatal("a released heap slab was not poisoned")
		}
		return
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	faulted := func() (f bool) {
		defer func() { f = recover() != nil }()
		sink = b[len(b)-1]
		return false
	}()
	if !faulted {
		t.Fatal("reading a released slab did not fault in check mode")
	}
}
