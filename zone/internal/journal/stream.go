package journal

import (
	"bytes"
	"errors"
	"fmt"
	"iter"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/image"
)

// resyncWindow is how far diffStream looks ahead for the versions to line
// up again after a difference.
const resyncWindow = 8

// diffStream is Diff over two zones read in order (image.Source). Versions
// of a zone list most RRs identically and in the same order: both are
// walked together, equal RRs matched as they come, and only the others set
// aside (a mismatch may be matched later, when the lists resynchronise),
// looking ahead at most resyncWindow RRs in either, so that only the RRs
// ahead and those set aside are copied; then a second read of each lists
// the RRs set aside in order. A small change costs little memory whatever
// the zone's size. The journal's newest version after a restart, an image
// read from the file, is compared so with the first snapshot of the zone,
// which is never packed whole.
func diffStream(old, new image.Source) (deleted, added []dns.RR, err error) {
	a, b := newWindow(old), newWindow(new)
	defer a.close()
	defer b.close()
	pendOld := map[string]struct{}{}
	pendNew := map[string]struct{}{}
	setAside := func(rr []byte, mine, other map[string]struct{}) {
		if _, ok := other[string(rr)]; ok {
			delete(other, string(rr))
		} else {
			mine[string(rr)] = struct{}{}
		}
	}
	eq := func(i, k int) bool {
		x, okx := a.at(i)
		y, oky := b.at(k)
		return okx && oky && bytes.Equal(x, y)
	}
	isSOA := func(w *window, i int) bool {
		rr, ok := w.at(i)
		return ok && image.TypeOf(rr) == dns.TypeSOA
	}
	i, k := 0, 0
outer:
	for a.has(i) || b.has(k) {
		a.drop(i)
		b.drop(k)
		if isSOA(a, i) {
			i++
			continue
		}
		if isSOA(b, k) {
			k++
			continue
		}
		if eq(i, k) {
			i, k = i+1, k+1
			continue
		}
		for d := 1; d <= resyncWindow; d++ {
			if eq(i, k+d) {
				for ; d > 0; d-- {
					rr, _ := b.at(k)
					setAside(rr, pendNew, pendOld)
					k++
				}
				continue outer
			}
			if eq(i+d, k) {
				for ; d > 0; d-- {
					rr, _ := a.at(i)
					setAside(rr, pendOld, pendNew)
					i++
				}
				continue outer
			}
		}
		if rr, ok := a.at(i); ok {
			setAside(rr, pendOld, pendNew)
			i++
		}
		if rr, ok := b.at(k); ok {
			setAside(rr, pendNew, pendOld)
			k++
		}
	}
	if err := errors.Join(a.err, b.err); err != nil {
		return nil, nil, err
	}
	collect := func(src image.Source, pend map[string]struct{}) ([]dns.RR, error) {
		var out []dns.RR
		err := src.Each(func(b []byte) error {
			if _, ok := pend[string(b)]; !ok {
				return nil
			}
			delete(pend, string(b))
			rr, off, err := dns.UnpackRR(b, 0)
			if err != nil || off != len(b) {
				return fmt.Errorf("%w: %v", image.ErrCorrupt, err)
			}
			out = append(out, rr)
			return nil
		})
		return out, err
	}
	if deleted, err = collect(old, pendOld); err != nil {
		return nil, nil, err
	}
	if added, err = collect(new, pendNew); err != nil {
		return nil, nil, err
	}
	return deleted, added, nil
}

// window reads a Source in order and keeps copies of the RRs from the
// walk's position to the furthest one looked at.
type window struct {
	next func() ([]byte, bool)
	stop func()
	err  error
	// buf holds RRs base, base+1, ...
	buf  [][]byte
	base int
	done bool
}

func newWindow(src image.Source) *window {
	w := &window{}
	w.next, w.stop = iter.Pull(iter.Seq[[]byte](func(yield func([]byte) bool) {
		err := src.Each(func(rr []byte) error {
			if !yield(bytes.Clone(rr)) {
				return errStopped
			}
			return nil
		})
		if err != nil && err != errStopped {
			w.err = err
		}
	}))
	return w
}

// errStopped ends a Source's reading that the window no longer needs.
var errStopped = errors.New("journal: reading stopped")

// at returns RR i, reading on as far as it; false past the end.
func (w *window) at(i int) ([]byte, bool) {
	for !w.done && i-w.base >= len(w.buf) {
		rr, ok := w.next()
		if !ok {
			w.done = true
			break
		}
		w.buf = append(w.buf, rr)
	}
	if i < w.base || i-w.base >= len(w.buf) {
		return nil, false
	}
	return w.buf[i-w.base], true
}

// has reports whether there is an RR i.
func (w *window) has(i int) bool {
	_, ok := w.at(i)
	return ok
}

// drop lets go of the RRs before i, which the walk has passed.
func (w *window) drop(i int) {
	if n := i - w.base; n > 0 && n >= len(w.buf)/2 {
		n = min(n, len(w.buf))
		m := copy(w.buf, w.buf[n:])
		clear(w.buf[m:])
		w.buf = w.buf[:m]
		w.base += n
	}
}

func (w *window) close() { w.stop() }
