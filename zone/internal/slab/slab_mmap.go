//go:build linux || darwin

package slab

import (
	"fmt"
	"syscall"
)

// OffHeap reports whether slabs are mapped outside the Go heap.
const OffHeap = true

// alloc maps n bytes of anonymous private memory: zero-filled, taking
// physical pages only as they are written.
func alloc(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		// As the heap does when it cannot grow.
		panic(fmt.Sprintf("zone arena: mmap of %d bytes: %v", n, err))
	}
	return b
}

// free unmaps b, or with check makes it inaccessible and keeps the
// address range so that nothing else is ever mapped there.
func free(b []byte, check bool) {
	var err error
	if check {
		// The pages go back to the system; the range stays reserved.
		discard(b)
		err = syscall.Mprotect(b, syscall.PROT_NONE)
	} else {
		err = syscall.Munmap(b)
	}
	if err != nil {
		panic(fmt.Sprintf("zone arena: releasing a slab: %v", err))
	}
}
