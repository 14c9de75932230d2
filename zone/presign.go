package zone

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/signer"
)

// presignBatch is how many RRsets or NSEC3 records Presign hands to the
// signing goroutines at a time, and how many names, chain entries or
// changed hashes (two entries each) it looks at per hold of the read
// lock. A variable for tests, which make it small to cross many batches
// with few names.
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
// million records first. It walks every name and every chain entry (the
// full walk), which covers the changes recorded for PresignAhead: it
// takes them as a PresignAhead run does, and the next run starts from
// it. One Presign or PresignAhead runs at a time; a concurrent caller
// waits for it. Work is collected in batches under the read lock and
// signed outside it, so queries and updates go on meanwhile; the next
// batch is collected while the last one is signed. It returns the
// number of signatures made.
func (z *Zone) Presign(ctx context.Context) (int, error) {
	run, err := z.presign(ctx, false)
	return run.Signatures, err
}

// PresignAhead is Presign as a server runs it in the background after
// every change. It costs in proportion to what changed, not to the zone:
// it looks only at the names whose RRsets changed since the last run and
// at the chain entries around the hashes that changed (see "Incremental
// runs" below), and walks everything only when that would not be enough.
//
// While the zone is changing in bulk (this run signed at least a batch of
// RRsets and the serial moved meanwhile), it leaves the NSEC3 chain to the
// run the next change starts. Each name added changes its predecessor's
// NSEC3 record, so a chain signed in the middle of a bulk import would be
// signed again, in good part, by the run after the next batch; the
// identities' own RRsets do not change and are signed at once.
//
// # Incremental runs
//
// Every change is installed by Zone.install under the write lock, and
// there it is recorded: the owner name (Zone.changedNames), and the hash
// of every name whose NSEC3 record may have changed (chain.changed): a
// name added to or removed from the chain (names with data and empty
// non-terminals alike) and a name whose types changed. An NSEC3 record
// is its types, the hash after it and the TTL; so after the changes
// recorded, the records that differ from those of the last run are the
// entries at the recorded hashes (types changed, or new) and, for each
// recorded hash, the entry before it in the ring (an entry added or
// removed after it changed its next hashed owner). A run takes both sets
// under the write lock at its start and leaves empty ones: changes made
// while it runs are the next run's, which their Watch notification starts.
// A run that leaves the chain to the next one hands its chain set back.
//
// A run walks the whole zone instead (one part or both) when the sets
// cannot tell what is unsigned:
//   - no full walk has completed since Open (the sets start as "all");
//   - the signer is not the one of the last full walk (a key change or a
//     rollover step: signatures of other keys may no longer count);
//   - fullWalkEvery has passed since the last full walk, or the clock went
//     back: signatures fall due for refresh with time, not with changes;
//   - a set grew past its bound (changeSet.add): a bulk change is as cheap
//     to find by walking, and the set's memory stays bounded;
//   - the last run failed or was cancelled: what it took may be unsigned;
//   - the NSEC3 TTL (the negative TTL, from the SOA) changed: every
//     record of the chain did.
//
// Presign always walks everything: a transfer needs every signature, and
// a full walk never depends on what was recorded.
func (z *Zone) PresignAhead(ctx context.Context) (PresignRun, error) {
	return z.presign(ctx, true)
}

// PresignRun is what one PresignAhead run did: its signatures, what it
// looked at to find them, and whether it walked the whole zone or only
// what changed (see "Incremental runs" at PresignAhead). A server logs
// it, so that an operator can tell a run that signed one identity from
// the one that walked a million to find it.
type PresignRun struct {
	// Signatures is the number of signatures made.
	Signatures int
	// Names and ChainEntries are the names and NSEC3 chain entries the
	// run looked at.
	Names, ChainEntries int
	// AllNames and WholeChain are whether the run walked every name and
	// the whole chain, rather than those that changed since the last run.
	AllNames, WholeChain bool
	// ChainLeft is whether the run left the chain to the next run, the
	// zone changing in bulk meanwhile; WholeChain is then false.
	ChainLeft bool
}

// Walk names what the run walked, for logs: "full" (every name and the
// whole chain), "incremental" (what changed only), "all-names" or
// "whole-chain" (that part in full, the other what changed).
func (r PresignRun) Walk() string {
	switch {
	case r.AllNames && r.WholeChain:
		return "full"
	case r.AllNames:
		return "all-names"
	case r.WholeChain:
		return "whole-chain"
	}
	return "incremental"
}

// fullWalks is how many full walks PresignAhead makes at least (when
// it runs) within the shortest refresh margin of the zone's signatures:
// the remaining validity below which the signer replaces a signature
// (signer.Signer.RefreshMargin; 24 hours for identity RRsets, 7 days for
// the rest by default). Runs between two walks look only at what
// changed, so they miss the signatures that fell due since the last
// walk, by time alone.
//
// That is safe because nothing served depends on presigning: answers and
// transfers check every signature they use and sign what is due (Presign,
// before a transfer, walks everything), and a signature due for refresh
// is still valid for the whole margin. The first run a quarter of the
// margin after the last walk walks again and replaces what fell due, with
// three quarters of the margin or more left. The runs after the serial
// bumps that make secondaries fetch refreshed signatures (Zone.KeepFresh,
// once the serial stood still for ResignAge, which is longer than that
// quarter) are such walks.
const fullWalks = 4

// fullWalkEvery is how long after a full walk a run walks everything
// again: the shortest refresh margin of sg's signatures (the zone's
// default and its identity types') over fullWalks.
func fullWalkEvery(sg *signer.Signer) time.Duration {
	m := sg.RefreshMargin(dns.TypeSOA)
	for _, t := range identityTypes {
		m = min(m, sg.RefreshMargin(t))
	}
	return m / fullWalks
}

// fullWalk records the last full walk of one part of the zone (its RRsets
// or its NSEC3 chain) that completed: the signer and the zone's time at
// its start, and, for the chain, the NSEC3 TTL then.
type fullWalk struct {
	sg  *signer.Signer // nil: none yet
	at  time.Time
	ttl uint32
}

// current reports whether the changes recorded since w suffice at now
// with signer sg: w was by sg, and is not due again.
func (w fullWalk) current(sg *signer.Signer, now time.Time) bool {
	return w.sg != nil && w.sg == sg && !now.Before(w.at) && now.Sub(w.at) < fullWalkEvery(sg)
}

// presignState is what presign runs keep between them (guarded by
// Zone.presignMu): the last full walk of each part.
type presignState struct {
	names, chain fullWalk
}

// changeSetMin and changeSetShare bound a changeSet: it holds at most
// changeSetMin keys or a changeSetShare-th of the zone's names (or chain
// entries), whichever is more, and beyond that only "all", so a bulk
// import's sets take a small part of the memory of what it adds (about
// 100 bytes a recorded name and hash, against more than 600 an
// identity). A run walks the zone for this only when the changes since
// the last run are more than that share of it, so such walks during an
// import look at fewer than changeSetShare names and entries per
// identity imported, in all, besides what the runs sign. A variable for
// tests.
var changeSetMin = 16384

const changeSetShare = 8

// changeSet is the set of keys (names, NSEC3 hashes) changed since the
// last presign run took it, or all of them (all: keys nil). Its users
// hold Zone.mu for writing.
type changeSet[K comparable] struct {
	all  bool
	keys map[K]struct{}
}

// add records k; size is the number of names (or chain entries) of the
// zone, which bounds the set.
func (s *changeSet[K]) add(k K, size int) {
	if s.all {
		return
	}
	if len(s.keys) >= max(changeSetMin, size/changeSetShare) {
		*s = changeSet[K]{all: true}
		return
	}
	if s.keys == nil {
		s.keys = map[K]struct{}{}
	}
	s.keys[k] = struct{}{}
}

// merge adds what o records to s.
func (s *changeSet[K]) merge(o changeSet[K], size int) {
	if o.all {
		*s = changeSet[K]{all: true}
		return
	}
	for k := range o.keys {
		s.add(k, size)
	}
}

func (z *Zone) presign(ctx context.Context, ahead bool) (run PresignRun, err error) {
	z.presignMu.Lock()
	defer z.presignMu.Unlock()
	ps := &z.presignState
	defer func() {
		if err != nil {
			// What this run took from the sets may be unsigned.
			*ps = presignState{}
		}
	}()
	// Take what changed: from here on changes are the next run's. The
	// write lock orders this with install, which records them.
	z.mu.Lock()
	serial, sg, ttl, now := z.soa().Serial, z.signer.Load(), z.negativeTTL(), z.now()
	changedNames, changedChain := z.changedNames, z.chain.changed
	z.changedNames, z.chain.changed = changeSet[string]{}, changeSet[hashKey]{}
	z.mu.Unlock()
	fullNames := !ahead || changedNames.all || !ps.names.current(sg, now)
	fullChain := !ahead || changedChain.all || !ps.chain.current(sg, now) || ps.chain.ttl != ttl
	var names []string
	if fullNames {
		// By name in map order; a name changed meanwhile is either seen
		// with its new RRsets or the next run's.
		z.mu.RLock()
		names = make([]string, 0, len(z.names))
		for name := range z.names {
			names = append(names, name)
		}
		z.mu.RUnlock()
	} else {
		names = slices.Collect(maps.Keys(changedNames.keys))
	}
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
				work = z.presignNode(work, sg, n)
			}
			z.mu.RUnlock()
			z.presignNames.Add(int64(end - next))
			run.Names += end - next
			next = end
		}
		return work, next < len(names)
	}
	// A node replaced meanwhile keeps its new signatures: these land on
	// the old node, which nothing reads any more; the new node is the
	// next run's.
	run.AllNames = fullNames
	run.Signatures, err = signBatches(ctx, collect, func(j *presignJob) (int, error) {
		_, count, err := z.signNode(j.sg, j.n, j.t)
		return count, err
	})
	if err != nil {
		return run, err
	}
	if fullNames {
		ps.names = fullWalk{sg: sg, at: now}
	}
	if presignStep != nil {
		presignStep(false)
	}
	if ahead && run.Signatures >= presignBatch && z.Serial() != serial {
		z.mu.Lock()
		z.chain.changed.merge(changedChain, z.chain.n)
		z.mu.Unlock()
		run.ChainLeft = true
		return run, nil
	}
	var n, looked int
	run.WholeChain = fullChain
	if fullChain {
		n, looked, err = z.presignChain(ctx)
	} else {
		n, looked, err = z.presignChainAt(ctx, changedChain.keys)
	}
	run.Signatures += n
	run.ChainEntries = looked
	z.presignEntries.Add(int64(looked))
	if err != nil {
		return run, err
	}
	if fullChain {
		ps.chain = fullWalk{sg: sg, at: now, ttl: ttl}
	}
	if !z.compactChain() && run.Signatures >= releaseAfterSignatures {
		releaseMemory()
	}
	return run, nil
}

// presignNode appends to work the RRsets of n that sg is to sign: those
// without fresh signatures that sg accepts and, when there are any and
// n's signatures are by another signer, those whose signatures only
// sg.Accepts (by a retiring key): storing the new signatures drops them
// (chainStore.storeSigs), and they would be left unsigned. Callers hold
// Zone.mu.
func (z *Zone) presignNode(work []presignJob, sg *signer.Signer, n *node) []presignJob {
	types := n.types()
	start := len(work)
	for _, t := range types {
		if n.cachedSigs(&z.chain.store, sg, t) == nil {
			work = append(work, presignJob{sg: sg, n: n, t: t})
		}
	}
	if len(work) == start {
		return work
	}
	if _, by := z.chain.store.nodeSigs(n); by != nil && by != sg {
		for _, t := range types {
			if !sg.SameKeys(by, t) && n.cachedSigs(&z.chain.store, sg, t) != nil {
				work = append(work, presignJob{sg: sg, n: n, t: t})
			}
		}
	}
	return work
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
// missing, stale or over another record, walking the whole chain in hash
// order a batch per hold of the read lock. An entry added or changed
// behind the walk is signed by the next run (every change starts one) or
// at first use. It returns the number of signatures made and of entries
// looked at.
func (z *Zone) presignChain(ctx context.Context) (made, looked int, err error) {
	var (
		last    hashKey // the last hash looked at
		started bool
		done    bool
	)
	collect := func() ([]presignJob, bool) {
		var b nsec3Batch
		for !done && len(b.work) < presignBatch {
			z.mu.RLock()
			b.start(z)
			c := z.chain
			ci, i := 0, 0
			if started && c.n > 0 {
				// Where the walk left off; the chunks may have been
				// split or merged meanwhile.
				var found bool
				if ci, i, found = c.find(last); found {
					i++
				}
			}
			seen := 0
			for ; ci < len(c.chunks) && seen < presignBatch; ci, i = ci+1, 0 {
				ch := c.chunks[ci]
				for ; i < len(ch) && seen < presignBatch; i++ {
					b.examine(z, ci, i)
					last, started = ch[i], true
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
			looked += seen
			if presignStep != nil {
				presignStep(true)
			}
		}
		return b.work, !done
	}
	made, err = z.signChainBatches(ctx, collect)
	return made, looked, err
}

// presignChainAt is presignChain for the entries whose records the
// changes at the hashes in changed may have changed (PresignAhead,
// "Incremental runs"): the entry at each hash, if there is one, and the
// entry before it in the ring, each looked at once. It returns the number
// of signatures made and of entries looked at.
func (z *Zone) presignChainAt(ctx context.Context, changed map[hashKey]struct{}) (made, seenAll int, err error) {
	hs := slices.SortedFunc(maps.Keys(changed), cmpHash)
	looked := make(map[hashKey]bool, 2*len(hs))
	next := 0
	collect := func() ([]presignJob, bool) {
		var b nsec3Batch
		for next < len(hs) && len(b.work) < presignBatch {
			end := min(next+presignBatch, len(hs))
			seen := 0
			z.mu.RLock()
			b.start(z)
			c := z.chain
			for _, h := range hs[next:end] {
				if c.n == 0 {
					break
				}
				ci, i, found := c.find(h)
				if found && !looked[h] {
					looked[h] = true
					b.examine(z, ci, i)
					seen++
				}
				ci, i = c.before(ci, i)
				if p := c.chunks[ci][i]; !looked[p] {
					looked[p] = true
					b.examine(z, ci, i)
					seen++
				}
			}
			z.mu.RUnlock()
			seenAll += seen
			next = end
			if presignStep != nil {
				presignStep(true)
			}
		}
		return b.work, next < len(hs)
	}
	made, err = z.signChainBatches(ctx, collect)
	return made, seenAll, err
}

// signChainBatches signs the NSEC3 records collect finds (signBatches).
func (z *Zone) signChainBatches(ctx context.Context, collect func() ([]presignJob, bool)) (int, error) {
	var origin [256]byte
	on, err := dns.PackDomainName(dns.CanonicalName(z.settings.Origin), origin[:], 0, nil, false)
	if err != nil {
		return 0, err
	}
	return signBatches(ctx, collect, func(j *presignJob) (int, error) {
		return z.signNSEC3(origin[:on], j)
	})
}

// nsec3Batch collects the NSEC3 records of a batch that need signing.
type nsec3Batch struct {
	work []presignJob
	// buf holds the records to sign, packed one after the other; a
	// record found signed already is dropped from the end again.
	buf []byte
	// sg and ttl are the signer and NSEC3 TTL of the current hold of
	// the read lock.
	sg  *signer.Signer
	ttl uint32
}

// start begins a hold of the zone's read lock, which the caller has
// taken.
func (b *nsec3Batch) start(z *Zone) { b.sg, b.ttl = z.signer.Load(), z.negativeTTL() }

// examine adds the entry at chunk ci, index i of z's chain to the work
// unless its cached signatures are over its record as it is now and
// fresh. Callers hold Zone.mu.
func (b *nsec3Batch) examine(z *Zone, ci, i int) {
	c := z.chain
	h, nx := c.chunks[ci][i], c.after(ci, i)
	sl := c.store.slot(c.entries[h])
	n := z.names[string(c.nameOf(sl))]
	start := len(b.buf)
	b.buf = appendNSEC3Rec(b.buf, nx, n, b.ttl)
	if c.cachedSigs(sl, b.sg, b.buf[start:]) != nil {
		b.buf = b.buf[:start]
		return
	}
	b.work = append(b.work, presignJob{sg: b.sg, slot: sl, name: ref(sl.name.Load()), h: h, next: nx, n: n, rec: b.buf[start:len(b.buf):len(b.buf)]})
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
