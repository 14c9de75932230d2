package zone

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/signer"
)

// presignBatch is how many RRsets Presign collects under the read lock
// before signing them without it.
const presignBatch = 2000

// Presign signs every RRset and NSEC3 record whose cached signatures are
// missing or due for refresh, on every core (parallel), so that a zone transfer (which needs them
// all) starts at once instead of signing a million records first. One
// Presign runs at a time; a concurrent caller waits for it. Work
// is collected in batches under the read lock and signed outside it, so
// queries and updates go on meanwhile. It returns the number of
// signatures made.
func (z *Zone) Presign(ctx context.Context) (int, error) {
	z.presignMu.Lock()
	defer z.presignMu.Unlock()
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
			n *node
			t uint16
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
				if n.cachedSigs(&z.chain.store, sg, t) == nil {
					work = append(work, job{n, t})
				}
			}
		}
		z.mu.RUnlock()
		// A node replaced meanwhile keeps its new signatures: these
		// land on the old node, which nothing reads any more.
		n, err := parallel(len(work), func(i int) (int, error) {
			_, count, err := z.signNode(sg, work[i].n, work[i].t)
			return count, err
		})
		made += n
		if err != nil {
			return made, err
		}
	}
	// The NSEC3 chain: records built under the lock, signed outside it.
	type job struct {
		slot *chainSlot
		name ref
		rr   *dns.NSEC3
		rec  []byte
	}
	var jobs []job
	var sg *signer.Signer
	z.mu.RLock()
	sg = z.signer.Load()
	ttl := z.negativeTTL()
	var buf []byte
	err := z.chain.eachKey(func(h, next hashKey, sl *chainSlot) error {
		// The record is packed straight into buf to compare it with
		// the cached one; only records to sign are built as dns.RRs.
		n := z.names[string(z.chain.nameOf(sl))]
		buf = appendNSEC3Rec(buf[:0], next, n, ttl)
		if z.chain.cachedSigs(sl, sg, buf) != nil {
			return nil
		}
		rr := z.nsec3Of(h.String(), next.String(), n, ttl)
		rec, err := packRRs([]dns.RR{rr})
		if err != nil {
			return err
		}
		jobs = append(jobs, job{sl, ref(sl.name.Load()), rr, rec})
		return nil
	})
	z.mu.RUnlock()
	if err != nil {
		return made, err
	}
	for i := 0; i < len(jobs); i += presignBatch {
		if err := ctx.Err(); err != nil {
			return made, err
		}
		batch := jobs[i:min(i+presignBatch, len(jobs))]
		n, err := parallel(len(batch), func(i int) (int, error) {
			j := batch[i]
			_, count, err := z.chain.signWire(j.slot, j.name, sg, j.rr, j.rec)
			return count, err
		})
		made += n
		if err != nil {
			return made, err
		}
	}
	z.compactChain()
	return made, nil
}

// parallel runs fn for 0 … n-1 on every core (runtime.GOMAXPROCS
// goroutines taking the next index in turn) and returns the sum of what
// they returned and the first error; after an error the rest is skipped.
// Signing is CPU-bound and each signature independent: presigning a
// million identities takes the machine, not one core.
func parallel(n int, fn func(i int) (int, error)) (int, error) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		total := 0
		for i := 0; i < n; i++ {
			c, err := fn(i)
			total += c
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
	var (
		next  atomic.Int64
		total atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := fn(i)
				total.Add(int64(c))
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(n)) // skip the rest
					return
				}
			}
		}()
	}
	wg.Wait()
	return int(total.Load()), first
}
