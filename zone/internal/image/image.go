// Package image holds a zone in AXFR form packed: every RR in uncompressed
// wire form (RFC 1035 §4.1.3, owner included), one after another in one
// byte slice, with their offsets.
//
// A transfer of a million identities is four million RRs. As dns.RR values
// they would be tens of millions of objects; as an image they are two
// slices the garbage collector does not look into. Transfers themselves
// hold no image: the zone's transfer snapshot is a Source, which produces
// the RRs in order as they are read, and the IXFR journal keeps that
// snapshot. Images are the journal's file form (WriteSource, ReadImage),
// the journal's newest version after a restart, small answers (IXFR
// differences), and the tests' way to hold a zone whole (Collect).
//
// Start with Source, Builder (or Pack) and Image.RR.
package image

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/miekg/dns"
)

// Image is a zone, or any list of RRs, in packed form. It is immutable
// once built and safe for concurrent reading.
type Image struct {
	wire []byte
	// offs[i] is where RR i begins; it ends where RR i+1 begins.
	offs []uint32
}

// ErrCorrupt reports packed data that does not decode.
var ErrCorrupt = errors.New("image: packed RR is corrupt")

// ErrTooLarge reports an image past what its offsets can address.
var ErrTooLarge = errors.New("image: more than 4 GB of records")

// Len is the number of RRs.
func (im *Image) Len() int { return len(im.offs) }

// Bytes is the size of the packed RRs in octets.
func (im *Image) Bytes() int { return len(im.wire) }

// RR returns RR i in wire form. The caller must not modify it.
func (im *Image) RR(i int) []byte {
	end := len(im.wire)
	if i+1 < len(im.offs) {
		end = int(im.offs[i+1])
	}
	return im.wire[im.offs[i]:end]
}

// Type is the type of RR i, read without decoding it.
func (im *Image) Type(i int) uint16 { return rrType(im.RR(i)) }

// Decode decodes RR i.
func (im *Image) Decode(i int) (dns.RR, error) { return decode(im.RR(i)) }

// Unpack decodes every RR.
func (im *Image) Unpack() ([]dns.RR, error) {
	out := make([]dns.RR, 0, im.Len())
	for i := 0; i < im.Len(); i++ {
		rr, err := im.Decode(i)
		if err != nil {
			return nil, err
		}
		out = append(out, rr)
	}
	return out, nil
}

// rrType reads the type of a packed RR: it follows the owner name.
func rrType(b []byte) uint16 {
	off := 0
	for off < len(b) && b[off] != 0 {
		off += int(b[off]) + 1
	}
	off++
	if off+2 > len(b) {
		return 0
	}
	return binary.BigEndian.Uint16(b[off:])
}

// minRR is the smallest RR: the root name and the fixed fields.
const minRR = 1 + 10

func decode(b []byte) (dns.RR, error) {
	if len(b) < minRR {
		return nil, ErrCorrupt
	}
	rr, off, err := dns.UnpackRR(b, 0)
	if err != nil || rr == nil || off != len(b) {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return rr, nil
}

// Builder builds an Image. The zero value is ready to use.
type Builder struct {
	im  Image
	err error
}

// Grow makes room for about n more octets.
func (b *Builder) Grow(n int) {
	if cap(b.im.wire)-len(b.im.wire) < n {
		w := make([]byte, len(b.im.wire), len(b.im.wire)+n)
		copy(w, b.im.wire)
		b.im.wire = w
	}
}

func (b *Builder) mark() bool {
	if b.err != nil {
		return false
	}
	if uint64(len(b.im.wire)) > math.MaxUint32 {
		b.err = ErrTooLarge
		return false
	}
	b.im.offs = append(b.im.offs, uint32(len(b.im.wire)))
	return true
}

// Add appends rr, packed. Packing writes rr's header (its RDLENGTH), so
// rr must not be shared with concurrent readers.
func (b *Builder) Add(rr dns.RR) {
	need := dns.Len(rr) + 16
	if cap(b.im.wire)-len(b.im.wire) < need {
		b.Grow(need + len(b.im.wire)/2)
	}
	start := len(b.im.wire)
	end, err := dns.PackRR(rr, b.im.wire[:cap(b.im.wire)], start, nil, false)
	if err != nil {
		if b.err == nil {
			b.err = fmt.Errorf("image: %s %s: %w", rr.Header().Name, dns.TypeToString[rr.Header().Rrtype], err)
		}
		return
	}
	if !b.mark() {
		return
	}
	b.im.wire = b.im.wire[:end]
}

// AddPacked appends the RRs owned by owner (its wire form) whose rest
// (TYPE, CLASS, TTL, RDLENGTH, RDATA) lies in records one after another.
func (b *Builder) AddPacked(owner []byte, records []byte) {
	for off := 0; off < len(records); {
		if off+10 > len(records) {
			b.fail()
			return
		}
		end := off + 10 + int(binary.BigEndian.Uint16(records[off+8:]))
		if end > len(records) {
			b.fail()
			return
		}
		if !b.mark() {
			return
		}
		b.im.wire = append(b.im.wire, owner...)
		b.im.wire = append(b.im.wire, records[off:end]...)
		off = end
	}
}

func (b *Builder) fail() {
	if b.err == nil {
		b.err = ErrCorrupt
	}
}

// Image returns the image built, or the first error met.
func (b *Builder) Image() (*Image, error) {
	if b.err != nil {
		return nil, b.err
	}
	im := b.im
	return &im, nil
}

// Pack packs rrs into an image.
func Pack(rrs []dns.RR) (*Image, error) {
	var b Builder
	b.Grow(64 * len(rrs))
	b.im.offs = make([]uint32, 0, len(rrs))
	for _, rr := range rrs {
		b.Add(rr)
	}
	return b.Image()
}

// OwnerWire returns name in uncompressed wire form.
func OwnerWire(name string) ([]byte, error) {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("image: owner %q: %w", name, err)
	}
	return append([]byte(nil), buf[:n]...), nil
}

// WriteTo writes the image in a self-delimiting binary form that
// ReadImage reads back: the number of RRs and of octets, the offsets, the
// octets.
func (im *Image) WriteTo(w io.Writer) (int64, error) {
	hdr := binary.BigEndian.AppendUint32(nil, uint32(len(im.offs)))
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(len(im.wire)))
	n, err := w.Write(hdr)
	total := int64(n)
	if err != nil {
		return total, err
	}
	buf := make([]byte, 0, 4*min(len(im.offs), 1<<16))
	for i := 0; i < len(im.offs); i += 1 << 16 {
		buf = buf[:0]
		for _, o := range im.offs[i:min(i+1<<16, len(im.offs))] {
			buf = binary.BigEndian.AppendUint32(buf, o)
		}
		n, err = w.Write(buf)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	n, err = w.Write(im.wire)
	return total + int64(n), err
}

// ReadImage reads an image written by WriteTo, refusing one of more than
// maxRRs RRs or maxBytes octets and one whose offsets do not delimit RRs
// of at least the minimal size in order. The RRs themselves are checked
// when decoded.
func ReadImage(r io.Reader, maxRRs int, maxBytes int64) (*Image, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	count := int(binary.BigEndian.Uint32(hdr[:]))
	size := int64(binary.BigEndian.Uint64(hdr[4:]))
	if count > maxRRs || size > maxBytes || size > math.MaxUint32 || int64(count)*minRR > size {
		return nil, fmt.Errorf("%w: %d RRs in %d octets", ErrCorrupt, count, size)
	}
	im := &Image{offs: make([]uint32, count), wire: make([]byte, size)}
	buf := make([]byte, 4*min(count, 1<<16))
	for i := 0; i < count; i += 1 << 16 {
		b := buf[:4*(min(i+1<<16, count)-i)]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		for j := range len(b) / 4 {
			im.offs[i+j] = binary.BigEndian.Uint32(b[4*j:])
		}
	}
	if _, err := io.ReadFull(r, im.wire); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	for i, o := range im.offs {
		end := uint32(size)
		if i+1 < count {
			end = im.offs[i+1]
		}
		if (i == 0 && o != 0) || end < o || end-o < minRR {
			return nil, fmt.Errorf("%w: RR %d at %d..%d", ErrCorrupt, i, o, end)
		}
	}
	if count == 0 && size != 0 {
		return nil, ErrCorrupt
	}
	return im, nil
}
