package zone

import (
	"context"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/signer"
)

// presignBatch is how many RRsets Presign collects under the read lock
// before signing them without it.
const presignBatch = 2000

// Presign signs every RRset and NSEC3 record whose cached signatures are
// missing or due for refresh, so that a zone transfer (which needs them
// all) starts at once instead of signing a million records first. Work
// is collected in batches under the read lock and signed outside it, so
// queries and updates go on meanwhile. It returns the number of
// signatures made.
func (z *Zone) Presign(ctx context.Context) (int, error) {
	made := 0
	// RRsets, by name in map order; a name changed meanwhile is either
	// seen with its new RRsets or signed at first use.
	z.mu.RLock()
	names := make([]string, 0, len(z.names))
	for name := range z.names {
		names = append(names, name)
	}
	z.mu.RUnlock()
	for i := 0; i < len(names); i += presignBatch {
		if err := ctx.Err(); err != nil {
			return made, err
		}
		end := min(i+presignBatch, len(names))
		type job struct {
			n   *node
			t   uint16
			rrs []dns.RR
		}
		var work []job
		z.mu.RLock()
		sg := z.signer.Load()
		for _, name := range names[i:end] {
			n := z.names[name]
			if n == nil {
				continue
			}
			for _, t := range n.types() {
				if n.cachedSigs(sg, t) == nil {
					work = append(work, job{n, t, n.rrs(t)})
				}
			}
		}
		z.mu.RUnlock()
		// A node replaced meanwhile keeps its new signatures: these
		// land on the old node, which nothing reads any more.
		for _, j := range work {
			sigs, err := z.signNode(sg, j.n, j.t, j.rrs)
			if err != nil {
				return made, err
			}
			made += len(sigs)
		}
	}
	// The NSEC3 chain: records built under the lock, signed outside it.
	type job struct {
		e   *chainEntry
		rr  *dns.NSEC3
		rec []byte
	}
	var jobs []job
	var sg *signer.Signer
	z.mu.RLock()
	sg = z.signer.Load()
	err := z.chain.each(func(h, next string, e *chainEntry) error {
		rr := z.nsec3For(h, next, e)
		rec, err := packRRs([]dns.RR{rr})
		if err != nil {
			return err
		}
		if e.cachedSigs(sg, rec) == nil {
			jobs = append(jobs, job{e, rr, rec})
		}
		return nil
	})
	z.mu.RUnlock()
	if err != nil {
		return made, err
	}
	for i, j := range jobs {
		if i%presignBatch == 0 {
			if err := ctx.Err(); err != nil {
				return made, err
			}
		}
		sigs, err := j.e.sign(sg, j.rr, j.rec)
		if err != nil {
			return made, err
		}
		made += len(sigs)
	}
	return made, nil
}
