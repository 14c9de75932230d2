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
