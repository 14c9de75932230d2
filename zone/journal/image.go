package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/miekg/dns"
)

// image is a zone in AXFR form, packed: every RR in uncompressed wire form
// (RFC 1035 §4.1.3, owner included), one after another. The journal keeps
// the last transferred zone this way: a million identities are four million
// RRs, which as dns.RR values would be tens of millions of objects for the
// garbage collector to walk on every cycle for as long as the server runs;
// as an image they are two slices it does not look into.
type image struct {
	wire []byte
	// offs[i] is where RR i begins; it ends where RR i+1 begins.
	offs []uint32
}

var errImage = errors.New("journal: packed zone is corrupt")

func packImage(rrs []dns.RR) (*image, error) {
	im := &image{offs: make([]uint32, 0, len(rrs))}
	w := make([]byte, 0, 128*len(rrs))
	for _, rr := range rrs {
		need := dns.Len(rr) + 16
		if cap(w)-len(w) < need {
			w = append(w[:cap(w)], make([]byte, need+cap(w)/2)...)[:len(w)]
		}
		end, err := dns.PackRR(rr, w[:cap(w)], len(w), nil, false)
		if err != nil {
			return nil, fmt.Errorf("journal: %s: %w", rr.Header().Name, err)
		}
		if len(w) > math.MaxUint32 {
			return nil, errors.New("journal: zone too large to keep (4 GB)")
		}
		im.offs = append(im.offs, uint32(len(w)))
		w = w[:end]
	}
	im.wire = w
	return im, nil
}

func (im *image) len() int { return len(im.offs) }

// rr returns RR i in wire form.
func (im *image) rr(i int) []byte {
	end := len(im.wire)
	if i+1 < len(im.offs) {
		end = int(im.offs[i+1])
	}
	return im.wire[im.offs[i]:end]
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

func decode(b []byte) (dns.RR, error) {
	rr, _, err := dns.UnpackRR(b, 0)
	if err != nil || rr == nil {
		return nil, fmt.Errorf("%w: %v", errImage, err)
	}
	return rr, nil
}

// unpack decodes the whole image.
func (im *image) unpack() ([]dns.RR, error) {
	out := make([]dns.RR, 0, im.len())
	for i := 0; i < im.len(); i++ {
		rr, err := decode(im.rr(i))
		if err != nil {
			return nil, err
		}
		out = append(out, rr)
	}
	return out, nil
}

// diffImages is Diff over packed zones. Versions of a zone list most RRs
// identically and in the same order: both are walked together, equal RRs
// matched as they come, and only the others kept aside (a mismatch may be
// matched later, when the lists resynchronise), so a small change costs
// little memory whatever the zone's size.
func diffImages(old, new *image) (deleted, added []dns.RR, err error) {
	pendOld := map[string]struct{}{}
	pendNew := map[string]struct{}{}
	i, k := 0, 0
	for i < old.len() || k < new.len() {
		if i < old.len() && rrType(old.rr(i)) == dns.TypeSOA {
			i++
			continue
		}
		if k < new.len() && rrType(new.rr(k)) == dns.TypeSOA {
			k++
			continue
		}
		if i < old.len() && k < new.len() && bytes.Equal(old.rr(i), new.rr(k)) {
			i, k = i+1, k+1
			continue
		}
		if i < old.len() {
			b := old.rr(i)
			if _, ok := pendNew[string(b)]; ok {
				delete(pendNew, string(b))
			} else {
				pendOld[string(b)] = struct{}{}
			}
			i++
		}
		if k < new.len() {
			b := new.rr(k)
			if _, ok := pendOld[string(b)]; ok {
				delete(pendOld, string(b))
			} else {
				pendNew[string(b)] = struct{}{}
			}
			k++
		}
	}
	// The rest in input order, each once.
	collect := func(im *image, pend map[string]struct{}) ([]dns.RR, error) {
		var out []dns.RR
		for i := 0; i < im.len() && len(pend) > 0; i++ {
			b := im.rr(i)
			if _, ok := pend[string(b)]; !ok {
				continue
			}
			delete(pend, string(b))
			rr, err := decode(b)
			if err != nil {
				return nil, err
			}
			out = append(out, rr)
		}
		return out, nil
	}
	if deleted, err = collect(old, pendOld); err != nil {
		return nil, nil, err
	}
	if added, err = collect(new, pendNew); err != nil {
		return nil, nil, err
	}
	return deleted, added, nil
}
