package journal

import (
	"bytes"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/image"
)

// diffImages is the resync walk of diffStream written over packed zones
// with random access, kept as the oracle diffStream is tested against
// (TestDiffStreamMatchesImages).
func diffImages(old, new *image.Image) (deleted, added []dns.RR, err error) {
	pendOld := map[string]struct{}{}
	pendNew := map[string]struct{}{}
	// setAside records an RR of one version without a partner yet, or
	// pairs it with one of the other version set aside earlier.
	setAside := func(b []byte, mine, other map[string]struct{}) {
		if _, ok := other[string(b)]; ok {
			delete(other, string(b))
		} else {
			mine[string(b)] = struct{}{}
		}
	}
	eq := func(i, k int) bool {
		return i < old.Len() && k < new.Len() && bytes.Equal(old.RR(i), new.RR(k))
	}
	i, k := 0, 0
outer:
	for i < old.Len() || k < new.Len() {
		if i < old.Len() && old.Type(i) == dns.TypeSOA {
			i++
			continue
		}
		if k < new.Len() && new.Type(k) == dns.TypeSOA {
			k++
			continue
		}
		if eq(i, k) {
			i, k = i+1, k+1
			continue
		}
		// A change inserts or removes a few RRs (the records, their
		// signatures, a neighbouring NSEC3): look a little ahead for the
		// point where the versions line up again, so that everything
		// after it matches in step instead of through the maps.
		for d := 1; d <= resyncWindow; d++ {
			if eq(i, k+d) {
				for ; d > 0; d-- {
					setAside(new.RR(k), pendNew, pendOld)
					k++
				}
				continue outer
			}
			if eq(i+d, k) {
				for ; d > 0; d-- {
					setAside(old.RR(i), pendOld, pendNew)
					i++
				}
				continue outer
			}
		}
		if i < old.Len() {
			setAside(old.RR(i), pendOld, pendNew)
			i++
		}
		if k < new.Len() {
			setAside(new.RR(k), pendNew, pendOld)
			k++
		}
	}
	// The rest in input order, each once.
	collect := func(im *image.Image, pend map[string]struct{}) ([]dns.RR, error) {
		var out []dns.RR
		for i := 0; i < im.Len() && len(pend) > 0; i++ {
			b := im.RR(i)
			if _, ok := pend[string(b)]; !ok {
				continue
			}
			delete(pend, string(b))
			rr, err := im.Decode(i)
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
