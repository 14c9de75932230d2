package image

import (
	"encoding/binary"
	"errors"
	"io"
	"math"

	"github.com/miekg/dns"
)

// Source is a zone in AXFR form (RFC 5936 §2.2: the SOA first and last)
// that can be read in order any number of times, giving the same RRs, octet
// for octet, every time. An Image is one; the zone's transfer snapshots are
// others, which produce their RRs as they are read instead of holding them
// packed (see zone/README.md, "Memory and the garbage collector").
type Source interface {
	// Len is the number of RRs, both SOA records included.
	Len() int
	// Each calls fn with every RR in uncompressed wire form (owner
	// included), in order. The slice is fn's to read during the call
	// only. Each stops at and returns fn's first error.
	Each(fn func(rr []byte) error) error
	// SOA returns a copy of the SOA record that opens and closes the
	// zone, or ErrNotAXFR.
	SOA() (*dns.SOA, error)
}

// Differ is a Source that can find its differences from an older
// version of the same zone without comparing every RR: a transfer
// snapshot compares what it refers to, and reads only what changed.
type Differ interface {
	Source
	// DiffFrom returns the RRs of old that are not in the receiver and
	// those of the receiver that are not in old, SOA records left out,
	// each list in its zone's order: what comparing every RR of the two
	// zones would give. ok is false, with nothing computed, when old is
	// not a version it can compare itself with.
	DiffFrom(old Source) (deleted, added []dns.RR, ok bool, err error)
}

// ErrNotAXFR reports RRs that are not a zone in AXFR form.
var ErrNotAXFR = errors.New("image: zone not in AXFR form (SOA first and last)")

// Each calls fn with every RR in order (Source).
func (im *Image) Each(fn func(rr []byte) error) error {
	for i := 0; i < im.Len(); i++ {
		if err := fn(im.RR(i)); err != nil {
			return err
		}
	}
	return nil
}

// SOA returns the SOA that opens and closes the image, which must be in
// AXFR form with the same serial in both.
func (im *Image) SOA() (*dns.SOA, error) {
	if im.Len() < 2 || im.Type(0) != dns.TypeSOA || im.Type(im.Len()-1) != dns.TypeSOA {
		return nil, ErrNotAXFR
	}
	first, err := im.Decode(0)
	if err != nil {
		return nil, err
	}
	last, err := im.Decode(im.Len() - 1)
	if err != nil {
		return nil, err
	}
	if first.(*dns.SOA).Serial != last.(*dns.SOA).Serial {
		return nil, ErrNotAXFR
	}
	return first.(*dns.SOA), nil
}

// TypeOf returns the type of an RR in wire form, read without decoding it.
func TypeOf(rr []byte) uint16 { return rrType(rr) }

// Collect packs src into an image; an Image is returned as it is.
func Collect(src Source) (*Image, error) {
	if im, ok := src.(*Image); ok {
		return im, nil
	}
	b := Builder{}
	b.im.offs = make([]uint32, 0, src.Len())
	err := src.Each(func(rr []byte) error {
		if !b.mark() {
			return b.err
		}
		b.im.wire = append(b.im.wire, rr...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b.Image()
}

// WriteSource writes src as Image.WriteTo writes an image, reading src
// three times (the sizes, the offsets, the octets) instead of packing it
// first: a transfer snapshot of a large zone is written without a second
// copy of the zone in memory.
func WriteSource(w io.Writer, src Source) (int64, error) {
	if im, ok := src.(*Image); ok {
		return im.WriteTo(w)
	}
	count, size := 0, uint64(0)
	if err := src.Each(func(rr []byte) error {
		count++
		size += uint64(len(rr))
		return nil
	}); err != nil {
		return 0, err
	}
	if size > math.MaxUint32 || uint64(count) > math.MaxUint32 {
		return 0, ErrTooLarge
	}
	hdr := binary.BigEndian.AppendUint32(nil, uint32(count))
	hdr = binary.BigEndian.AppendUint64(hdr, size)
	n, err := w.Write(hdr)
	total := int64(n)
	if err != nil {
		return total, err
	}
	buf := make([]byte, 0, 1<<16)
	off, seen := uint32(0), 0
	flush := func() error {
		n, err := w.Write(buf)
		total += int64(n)
		buf = buf[:0]
		return err
	}
	if err := src.Each(func(rr []byte) error {
		seen++
		buf = binary.BigEndian.AppendUint32(buf, off)
		off += uint32(len(rr))
		if len(buf)+4 > cap(buf) {
			return flush()
		}
		return nil
	}); err != nil {
		return total, err
	}
	if err := flush(); err != nil {
		return total, err
	}
	written := uint64(0)
	if err := src.Each(func(rr []byte) error {
		written += uint64(len(rr))
		n, err := w.Write(rr)
		total += int64(n)
		return err
	}); err != nil {
		return total, err
	}
	if seen != count || written != size {
		// A Source gives the same RRs every time it is read.
		return total, errChanged
	}
	return total, nil
}

// errChanged reports a Source that read differently from one pass to the
// next: a bug.
var errChanged = errors.New("image: source changed while it was written")
