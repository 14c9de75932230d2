package cputime

import (
	"crypto/sha256"
	"testing"
	"time"
)

// TestProcessGrowsWithWork burns CPU until the reading has grown by
// 100 ms: a reading stuck at zero, or one that does not count this
// goroutine's work, never gets there within the generous deadline.
func TestProcessGrowsWithWork(t *testing.T) {
	before, err := Process()
	if err != nil {
		t.Fatal(err)
	}
	if before <= 0 {
		t.Fatalf("process CPU time %v: a running test has used some", before)
	}
	var sum [32]byte
	deadline := time.Now().Add(60 * time.Second)
	for {
		for i := 0; i < 10000; i++ {
			sum = sha256.Sum256(sum[:])
		}
		now, err := Process()
		if err != nil {
			t.Fatal(err)
		}
		if now-before >= 100*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time grew by only %v over 60 s of a busy loop", now-before)
		}
	}
	_ = sum
}

// TestProcessIgnoresSleep checks that sleeping does not count: the
// reading is CPU time, not wall time.
func TestProcessIgnoresSleep(t *testing.T) {
	before, err := Process()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	after, err := Process()
	if err != nil {
		t.Fatal(err)
	}
	// Other goroutines (the runtime's, the test framework's) use a little
	// CPU meanwhile, far less than the 300 ms slept.
	if got := after - before; got >= 250*time.Millisecond {
		t.Fatalf("CPU time grew by %v while the test slept 300 ms", got)
	}
}
