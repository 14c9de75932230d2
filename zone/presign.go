package zone

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/signer"
)

// presignBatch is how many RRsets or NSEC3 records Presign hands to the
// signing goroutines at a time, and how many names or chain entries it
// looks at per hold of the read lock. A variable for tests, which make
// it small to cross many batches with few names.
var presignBatch = 2000

// releaseAfterSignatures is how many signatures a presign run makes before
// it hands the memory its work freed back to the system at its end. A
// run that signs a bulk import leaves hundreds of megabytes of freed heap
// (the batches' signatures before they reach the arena, the chain walk's
// records) that the runtime would otherwise return only slowly, so the
// server's resident size would stay at the run's peak. Smaller runs (the
// changes of a day) are not worth the forced collection.
var releaseAfterSignatures = 65536

// releaseMemory returns freed memory to the system (a variable for tests).
var releaseMemory = debug.FreeOSMemory

// presignStep, when set (by tests), is called by a presign run after it
// signed the RRsets (chain false) and after it collected each batch of
// NSEC3 records (chain true), without locks held.
var presignStep func(chain bool)

// Presign signs every RRset and NSEC3 record whose cached signatures are
// missing or due for refresh, on every core (parallel), so that a zone
// transfer (which needs them all) starts at once instead of signing a
// million records first. One Presign runs at a time; a concurrent caller
// waits for it. Work is collected in batches under the read lock and
// signed outside it, so queries and updates go on meanwhile; the next
// batch is collected while the last one is signed. It returns the number
// of signatures made.
func (z *Zone) Presign(ctx context.Context) (int, error) {
	return z.presign(ctx, false)
}

// PresignAhead is Presign as a server runs it in the background after
// every change: while the zone is changing in bulk (this run signed at
// least a batch of RRsets and the serial moved meanwhile), it leaves the
// NSEC3 chain to the run the next change starts. Each name added changes
// its predecessor's NSEC3 record, so a chain signed in the middle of a
// bulk import would be signed again, in good part, by the run after the
// next batch; the identities' own RRsets do not change and are signed
// at once.
func (z *Zone) PresignAhead(ctx context.Context) (int, error) {
	return z.presign(ctx, true)
}

func (z *Zone) presign(ctx context.Context, deferChain bool) (int, error) {
	z.presignMu.Lock()
	defer z.presignMu.Unlock()
	z.mu.RLock()
	serial := z.soa().Serial
	// RRsets, by name in map order; a name changed meanwhile is either
	// seen with its new RRsets or signed at first use.
	names := make([]string, 0, len(z.names))
	for name := range z.names {
		names = append(names, name)
	}
	z.mu.RUnlock()
	next := 0
	collect := func() ([]presignJob, bool) {
		var work []presignJob
		for next < len(names) && len(work) < presignBatch {
			end := min(next+presignBatch, len(names))
			z.mu.RLock()
			sg := z.signer.Load()
			for _, name := range names[next:end] {
				n := z.names[name]
				if n == nil {
					continue
				}
				for _, t := range n.types() {
					if n.cachedSigs(&z.chain.store, sg, t) == nil {
						work = append(work, presignJob{sg: sg, n: n, t: t})
					}
				}
			}
			z.mu.RUnlock()
			next = end
		}
		return work, next < len(names)
	}
	// A node replaced meanwhile keeps its new signatures: these land on
	// the old node, which nothing reads any more.
	made, err := signBatches(ctx, collect, func(j *presignJob) (int, error) {
		_, count, err := z.signNode(j.sg, j.n, j.t)
		return count, err
	})
	if err != nil {
		return made, err
	}
	if presignStep != nil {
		presignStep(false)
	}
	if deferChain && made >= presignBatch && z.Serial() != serial {
		return made, nil
	}
	n, err := z.presignChain(ctx)
	made += n
	if err != nil {
		return made, err
	}
	if !z.compactChain() && made >= releaseAfterSignatures {
		releaseMemory()
	}
	return made, nil
}

// presignJob is what sg is to sign: an RRset (n, t) or, with slot set,
// an NSEC3 record: the entry in slot (which held the name at name when
// the record was built) for hash h, whose record rec (packed) names next
// and the types of n (nil: an empty non-terminal).
type presignJob struct {
	sg      *signer.Signer
	n       *node
	t       uint16
	slot    *chainSlot
	name    ref
	h, next hashKey
	rec     []byte
}

// presignChain signs the NSEC3 records whose cached signatures are
// missing, stale or over another record, walking the chain in hash order
// a batch per hold of the read lock. An entry added or changed behind the
// walk is signed by the next run (every change starts one) or at first
// use. It returns the number of signatures made.
func (z *Zone) presignChain(ctx context.Context) (int, error) {
	var origin [256]byte
	on, err := dns.PackDomainName(dns.CanonicalName(z.settings.Origin), origin[:], 0, nil, false)
	if err != nil {
		return 0, err
	}
	var (
		last    hashKey // the last hash looked at
		started bool
		done    bool
	)
	collect := func() ([]presignJob, bool) {
		var work []presignJob
		// The records to sign, packed one after the other; a record
		// found signed already is dropped from the end again.
		var buf []byte
		for !done && len(work) < presignBatch {
			z.mu.RLock()
			sg, ttl := z.signer.Load(), z.negativeTTL()
			c := z.chain
			ci, i := 0, 0
			if started && c.n > 0 {
				// Where the walk left off; the chunks may have been
				// split or merged meanwhile.
				ci = c.chunkFor(last)
				j, found := slices.BinarySearchFunc(c.chunks[ci], last, cmpHash)
				if found {
					j++
				}
				i = j
			}
			seen := 0
			for ; ci < len(c.chunks) && seen < presignBatch; ci, i = ci+1, 0 {
				ch := c.chunks[ci]
				for ; i < len(ch) && seen < presignBatch; i++ {
					h := ch[i]
					nx := c.chunks[0][0] // after the last: the chain is a ring
					switch {
					case i+1 < len(ch):
						nx = ch[i+1]
					case ci+1 < len(c.chunks):
						nx = c.chunks[ci+1][0]
					}
					sl := c.store.slot(c.entries[h])
					n := z.names[string(c.nameOf(sl))]
					start := len(buf)
					buf = appendNSEC3Rec(buf, nx, n, ttl)
					if c.cachedSigs(sl, sg, buf[start:]) != nil {
						buf = buf[:start]
					} else {
						work = append(work, presignJob{sg: sg, slot: sl, name: ref(sl.name.Load()), h: h, next: nx, n: n, rec: buf[start:len(buf):len(buf)]})
					}
					last, started = h, true
					seen++
				}
				if i < len(ch) {
					break
				}
			}
			if ci >= len(c.chunks) {
				done = true
			}
			z.mu.RUnlock()
			if presignStep != nil {
				presignStep(true)
			}
		}
		return work, !done
	}
	return signBatches(ctx, collect, func(j *presignJob) (int, error) {
		return z.signNSEC3(origin[:on], j)
	})
}

// b32lower is base32hex without padding in lower case: the first label
// of an NSEC3 owner name in canonical form (RFC 5155 §3.3, RFC 4034 §6.2).
var b32lower = base32.NewEncoding(strings.ToLower("0123456789ABCDEFGHIJKLMNOPQRSTUV")).WithPadding(base32.NoPadding)

// nsec3Owner appends the owner name of the NSEC3 record for hash h in
// canonical wire form: the hash in base32hex as the first label, then
// origin (the zone's name in wire form).
func nsec3Owner(dst []byte, h hashKey, origin []byte) []byte {
	dst = append(dst, byte(b32lower.EncodedLen(len(h))))
	dst = b32lower.AppendEncode(dst, h[:])
	return append(dst, origin...)
}

// signNSEC3 signs the NSEC3 record of job j with its signer from its packed form
// (signer.Signer.SignWire; keys it does not handle through the dns.NSEC3
// nsec3Of builds) and caches record and signatures in the job's slot if
// it still holds the same name. It returns the number of signatures.
func (z *Zone) signNSEC3(origin []byte, j *presignJob) (int, error) {
	sg := j.sg
	if len(j.rec) < wireHeaderLen {
		return 0, errPacked
	}
	ttl := binary.BigEndian.Uint32(j.rec[4:])
	var ob [256]byte
	sigs, count, err := sg.SignWire(nsec3Owner(ob[:0], j.h, origin), dns.TypeNSEC3, ttl, [][]byte{j.rec[wireHeaderLen:]})
	if errors.Is(err, signer.ErrWireUnsupported) {
		rrs, err := sg.Sign([]dns.RR{z.nsec3Of(j.h.String(), j.next.String(), j.n, ttl)})
		if err != nil {
			return 0, err
		}
		if sigs, err = appendPacked(nil, rrs); err != nil {
			return 0, err
		}
		count = len(rrs)
	} else if err != nil {
		return 0, err
	}
	if err := z.chain.store.store(j.slot, j.name, sg, j.rec, sigs); err != nil {
		return 0, err
	}
	return count, nil
}

// signBatches signs the jobs collect returns, a batch at a time on every
// core (parallel), and collects the next batch meanwhile, so no core
// waits for the collecting. collect reports whether there may be more;
// it is called from one goroutine at a time. It returns the sum of what
// sign returned and the first error.
func signBatches(ctx context.Context, collect func() ([]presignJob, bool), sign func(j *presignJob) (int, error)) (int, error) {
	made := 0
	batch, more := collect()
	for {
		if err := ctx.Err(); err != nil {
			return made, err
		}
		var (
			next     []presignJob
			nextMore bool
			wg       sync.WaitGroup
		)
		if more {
			wg.Go(func() { next, nextMore = collect() })
		}
		n, err := parallel(len(batch), func(i int) (int, error) { return sign(&batch[i]) })
		made += n
		wg.Wait()
		if err != nil || !more {
			return made, err
		}
		batch, more = next, nextMore
	}
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
