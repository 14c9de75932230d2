// Package slab allocates the zone arena's byte slabs outside the Go heap
// on Linux and macOS (anonymous mmap; elsewhere they are heap slices), so
// that the collector's goal (GOGC, GOMEMLIMIT) covers only the heap it
// has to scan and a slab costs its bytes once, not twice.
//
// A Slab is owned by its *Slab: the memory is given back (munmap) by a
// cleanup (runtime.AddCleanup) once the *Slab is unreachable. The bytes
// themselves are not a reference the collector sees: a []byte taken from
// Bytes keeps nothing alive. Whoever reads a slab's bytes must therefore
// keep the *Slab, or something that refers to it, reachable until it is
// done (runtime.KeepAlive); a read after that may fault or, on platforms
// with the heap fallback, read memory the collector has freed. The rules
// the zone's arena follows are in zone/chainstore.go.
//
// SetCheck makes released slabs inaccessible instead of unmapping them
// (mprotect PROT_NONE, never reused), so that a test that touches a
// released slab faults at once instead of reading whatever is mapped there
// later.
package slab

import (
	"runtime"
	"sync/atomic"
)

// A Slab is a fixed-size byte slab outside the Go heap (or, without mmap,
// a heap slice). Its memory is released when the *Slab is unreachable.
type Slab struct {
	b []byte
}

// Bytes returns the slab's memory. It stays valid only while s is
// reachable; see the package comment.
func (s *Slab) Bytes() []byte { return s.b }

// Counter counts the bytes of slabs mapped and not yet released. It is
// allocated apart from whatever owns the slabs: a slab's cleanup refers to
// it, and must not refer to the slab's owner.
type Counter struct{ n atomic.Int64 }

// Bytes returns the bytes mapped.
func (c *Counter) Bytes() int64 { return c.n.Load() }

// released counts slabs released in the process (tests wait on it).
var released atomic.Int64

// Released returns the number of slabs released so far in the process.
func Released() int64 { return released.Load() }

// check is SetCheck's setting.
var check atomic.Bool

// SetCheck makes slabs released from now on inaccessible and never reused
// instead of unmapped, so that a touch faults (tests). Where there is no
// mmap the bytes are overwritten with 0xdb instead.
func SetCheck(on bool) { check.Store(on) }

// New returns a slab of n bytes, zeroed, counted in c while mapped.
func New(n int, c *Counter) *Slab {
	b := alloc(n)
	s := &Slab{b: b}
	c.n.Add(int64(len(b)))
	runtime.AddCleanup(s, release, mem{b: b, c: c})
	return s
}

// mem is what a slab's cleanup needs: not the *Slab itself.
type mem struct {
	b []byte
	c *Counter
}

func release(m mem) {
	m.c.n.Add(-int64(len(m.b)))
	free(m.b, check.Load())
	released.Add(1)
}
