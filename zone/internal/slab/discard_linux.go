package slab

import "syscall"

// discard gives b's pages back to the system, keeping the mapping.
func discard(b []byte) { _ = syscall.Madvise(b, syscall.MADV_DONTNEED) }
