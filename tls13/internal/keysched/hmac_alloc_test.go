//go:build !race

// The race detector makes sync.Pool drop items at random, so the count
// holds only without it.

package keysched

import (
	"crypto"
	"testing"
)

// TestMACAllocations: a MAC on a warm pool allocates nothing but its
// result.
func TestMACAllocations(t *testing.T) {
	key, msg := make([]byte, 32), make([]byte, 40)
	out := make([]byte, 0, 64)
	macSum(crypto.SHA256, key, msg, out)
	if n := testing.AllocsPerRun(100, func() { macSum(crypto.SHA256, key, msg, out[:0]) }); n > 0 {
		t.Fatalf("%v allocations per MAC", n)
	}
}

// TestScheduleAllocations: HKDF-Extract and a one-block
// HKDF-Expand-Label allocate their result alone (the HkdfLabel is encoded
// in the pooled state), and EmptyHash nothing.
func TestScheduleAllocations(t *testing.T) {
	secret, ctx := make([]byte, 32), make([]byte, 32)
	for name, f := range map[string]func(){
		"Extract":     func() { Extract(crypto.SHA256, nil, secret) },
		"ExpandLabel": func() { ExpandLabel(crypto.SHA256, secret, LabelClientHandshake, ctx, 32) },
		"EmptyHash":   func() { EmptyHash(crypto.SHA384) },
	} {
		want := 1.0
		if name == "EmptyHash" {
			want = 0
		}
		f()
		if n := testing.AllocsPerRun(100, f); n != want {
			t.Errorf("%s: %v allocations, want %v", name, n, want)
		}
	}
}
