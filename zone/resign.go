package zone

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/signer"
)

// Re-signing after a ZSK activation (RFC 7583 §3.2.1, pre-publication).
//
// A key change re-signs only what its keys changed for: the signatures a
// zone holds are kept as long as the keys that sign their type are the
// same (signer.Signer.SameKeys), so a ZSK pre-publication and every step
// of a KSK rollover cost the signatures of the DNSKEY, CDS and CDNSKEY
// RRsets (and the SOA's), and secondaries get them by IXFR.
//
// A ZSK activation changes the key of every other RRset. The old ZSK
// stays in the DNSKEY RRset (retired, signer.Signer.Retiring) and its
// signatures are still served, so the zone validates at every moment,
// while a background task replaces them at a bounded rate
// (Options.ResignRate) without holding the zone's lock: queries and
// updates go on, and what they sign is signed by the new ZSK already.
// The serial moves every resignSerialEvery signatures, so secondaries
// follow by IXFR in slices, and once more at the end, when the time the
// re-signing finished is recorded in the zone's settings. The old ZSK may
// be retired only after that plus the largest TTL and the propagation
// delay (Iret = Dsgn + Dprp + TTLsig): until then caches may hold its
// signatures.

// DefaultResignRate is how many signatures per second the background
// re-signing after a ZSK activation makes: a fraction of one core, and a
// million identities (two million signatures) in about 17 minutes.
const DefaultResignRate = 2000

// resignSerialEvery is how many signatures the background re-signing
// makes between two serials: each slice reaches secondaries as an IXFR
// well within the journal's default record limit.
const resignSerialEvery = 50_000

// resignBatch is how many names the re-signing looks at under the read
// lock at a time.
const resignBatch = 2000

// resigner is the zone's background re-signing.
type resigner struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (z *Zone) resignRate() int {
	if z.opt.ResignRate > 0 {
		return z.opt.ResignRate
	}
	return DefaultResignRate
}

// startResign starts the background re-signing unless it runs already.
func (z *Zone) startResign() {
	r := &z.resign
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		select {
		case <-r.done:
		default:
			return // running
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r.cancel, r.done, r.err = cancel, done, nil
	go func() {
		defer close(done)
		err := z.resignRetiring(ctx)
		if err != nil && ctx.Err() == nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
		}
	}()
}

// resignUnfinished reports whether s records a ZSK activation whose
// background re-signing has not finished.
func resignUnfinished(s *zoneSettings) bool {
	return len(s.RetiredKeyFiles) > 0 && (s.Rollover == nil || s.Rollover.Resigned.IsZero())
}

// stopResign stops the background re-signing and waits for it.
func (z *Zone) stopResign() {
	r := &z.resign
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// ResignWait waits until no background re-signing runs (or ctx ends) and
// returns the error that stopped the last one, if any. The re-signing
// starts with a ZSK activation, and at Open when an activated ZSK
// rollover has not finished it.
func (z *Zone) ResignWait(ctx context.Context) error {
	r := &z.resign
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// needsResign reports whether sg serves signatures made by st.by over t
// only because their key is retiring.
func needsResign(sg *signer.Signer, by *signer.Signer, t uint16) bool {
	return by != sg && !sg.SameKeys(by, t) && sg.Accepts(by, t)
}

// resignRetiring replaces every signature made by a retiring key, at the
// zone's re-signing rate, in passes until one finds none (a transfer that
// began before the activation may still sign with the old keys), then
// records that the re-signing finished.
func (z *Zone) resignRetiring(ctx context.Context) error {
	rate := z.resignRate()
	start := time.Now()
	made, sinceSerial := 0, 0
	pace := func(n int) error {
		made += n
		if z.resignHook != nil {
			z.resignHook(made)
		}
		sinceSerial += n
		if d := time.Duration(made)*time.Second/time.Duration(rate) - time.Since(start); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if sinceSerial >= resignSerialEvery {
			sinceSerial = 0
			if _, err := z.BumpSerial(); err != nil {
				return err
			}
		}
		return nil
	}
	if z.resignHook != nil {
		z.resignHook(0)
	}
	for {
		sg := z.signer.Load()
		if len(sg.Retiring) == 0 {
			return nil // retired meanwhile (forced)
		}
		n, err := z.resignPass(ctx, pace)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	return z.recordResigned()
}

// resignPass replaces the signatures by retiring keys it finds, calling
// pace after each RRset or NSEC3 record with the signatures made, and
// returns how many RRsets and records it re-signed.
func (z *Zone) resignPass(ctx context.Context, pace func(int) error) (int, error) {
	z.mu.RLock()
	names := make([]string, 0, len(z.names))
	for name := range z.names {
		names = append(names, name)
	}
	z.mu.RUnlock()
	count := 0
	type job struct {
		n *node
		t uint16
	}
	for i := 0; i < len(names); i += resignBatch {
		if err := ctx.Err(); err != nil {
			return count, err
		}
		var work []job
		z.mu.RLock()
		sg := z.signer.Load()
		for _, name := range names[i:min(i+resignBatch, len(names))] {
			n := z.names[name]
			if n == nil {
				continue
			}
			_, by := z.chain.store.nodeSigs(n)
			if by == nil {
				continue
			}
			for _, t := range n.types() {
				if needsResign(sg, by, t) && n.cachedSigs(&z.chain.store, sg, t) != nil {
					work = append(work, job{n, t})
				}
			}
		}
		z.mu.RUnlock()
		// Nodes are immutable: one replaced meanwhile gets these
		// signatures on the old node, which nothing reads any more.
		for _, j := range work {
			_, made, err := z.signNode(sg, j.n, j.t)
			if err != nil {
				return count, err
			}
			count++
			if err := pace(made); err != nil {
				return count, err
			}
		}
	}
	// The NSEC3 chain: each entry's cached record is signed again as it
	// is. A record changed since is signed anew when next needed, as it
	// would have been anyway.
	z.mu.RLock()
	hashes := make([]hashKey, 0, len(z.chain.entries))
	for h := range z.chain.entries {
		hashes = append(hashes, h)
	}
	z.mu.RUnlock()
	origin := z.Origin()
	type chainJob struct {
		slot *chainSlot
		name ref
		h    hashKey
		rec  []byte
	}
	for i := 0; i < len(hashes); i += resignBatch {
		if err := ctx.Err(); err != nil {
			return count, err
		}
		var work []chainJob
		z.mu.RLock()
		sg := z.signer.Load()
		for _, h := range hashes[i:min(i+resignBatch, len(hashes))] {
			si, ok := z.chain.entries[h]
			if !ok {
				continue
			}
			sl := z.chain.store.slot(si)
			if r := ref(sl.signed.Load()); r != 0 {
				// The view is loaded after the ref (chainstore.go), and
				// the record copied: compaction may move it once the
				// lock is released.
				if rec, _, by := z.chain.store.view.Load().record(r); needsResign(sg, by, dns.TypeNSEC3) {
					work = append(work, chainJob{sl, ref(sl.name.Load()), h, slices.Clone(rec)})
				}
			}
		}
		z.mu.RUnlock()
		for _, j := range work {
			rrs, err := unpackRRs(strings.ToLower(j.h.String())+"."+origin, j.rec)
			if err != nil || len(rrs) != 1 {
				return count, errors.Join(errPacked, err)
			}
			_, made, err := z.chain.signWire(j.slot, j.name, sg, rrs[0], j.rec)
			if err != nil {
				return count, err
			}
			count++
			if err := pace(made); err != nil {
				return count, err
			}
		}
	}
	z.compactChain()
	return count, nil
}

// recordResigned records in the zone's settings that the re-signing of
// the ZSK rollover under way finished now, and moves the serial so that
// secondaries fetch the last signatures replaced.
func (z *Zone) recordResigned() error {
	_, err := z.changeSerial(func(v *view) error {
		cur := *z.settings
		if len(cur.RetiredKeyFiles) == 0 {
			return nil // retired meanwhile
		}
		times := rolloverTimes{Role: RoleZSK}
		if cur.Rollover != nil {
			times = *cur.Rollover
		}
		times.Resigned = z.now()
		cur.Rollover = &times
		v.meta = map[string][]byte{metaSettings: cur.marshal()}
		v.after = func() { z.settings.Rollover = &times }
		return nil
	}, false)
	return err
}
