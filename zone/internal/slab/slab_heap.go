//go:build !(linux || darwin)

package slab

// OffHeap reports whether slabs are mapped outside the Go heap; on this
// platform they are heap slices, which the cleanup only poisons in check
// mode (the collector frees them).
const OffHeap = false

func alloc(n int) []byte { return make([]byte, n) }

func free(b []byte, check bool) {
	if check {
		for i := range b {
			b[i] = 0xdb
		}
	}
}
