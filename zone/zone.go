package zone

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/signer"
	"github.com/dnsbound/dance/zone/internal/store"
)

// Options tune an opened zone. The zero value is ready to use.
type Options struct {
	// Time returns the current time; nil means time.Now. Tests set it to
	// move signatures towards expiry.
	Time func() time.Time
	// SignatureValidity and SignatureRefresh override the signer defaults
	// (14 days, refreshed with 7 days left) when non-zero.
	SignatureValidity, SignatureRefresh time.Duration
	// AdminNames are the names whose identities authenticate the
	// administrators of the admin API (zone/admin), in the allow-list
	// syntax of the verification core: NAME, or *.NAME for every name
	// strictly below NAME. Update refuses to write at them (or at a
	// wildcard that could answer for them) and CheckPolicy refuses update
	// keys that could; patterns that match no name of the zone are
	// ignored. Nil means no admin names in the zone.
	AdminNames []string
	// IdentitySigValidity, when non-zero, overrides the zone's setting
	// (InitOptions.IdentitySigValidity) for this opening: how long
	// signatures over identity RRsets are valid; they are refreshed at
	// half of it. It must pass CheckIdentitySigValidity.
	IdentitySigValidity time.Duration
	// ResignRate is how many signatures per second the background
	// re-signing after a ZSK activation makes (resign.go); zero means
	// DefaultResignRate.
	ResignRate int
}

// Zone is an open identity zone: its data in memory, backed by the store in
// its directory, and the key that signs it. A Zone is safe for concurrent
// use: any number of queries run in parallel with one writer.
type Zone struct {
	dir      string
	settings *zoneSettings
	st       *store.Store
	// signer is replaced as a whole when the keys change; signature
	// caches remember the signer that made them.
	signer atomic.Pointer[signer.Signer]
	opt    Options
	now    func() time.Time

	// wmu serialises writers; a writer holds it from reading the current
	// state to installing the new one, so prerequisites cannot race.
	wmu sync.Mutex
	// mu guards names, ents and changedNames; writers hold it only to
	// install changes.
	mu    sync.RWMutex
	names map[string]*node
	// soaRR is the current SOA, decoded once per change.
	soaRR *dns.SOA
	// ents counts, for every name strictly between the apex and a name
	// with data, how many names with data lie below it: a name with a
	// positive count is an empty non-terminal and exists (RFC 8020).
	ents map[string]int
	// changedNames are the names whose RRsets changed since the last
	// presign run took them (guarded by mu: install records them, a run
	// takes them; see PresignAhead). They start as all.
	changedNames changeSet[string]
	// presignMu lets one Presign run at a time: a second caller (a
	// transfer while the background presign runs) waits and then finds
	// the signatures made, instead of signing the same records again.
	// It guards presignState.
	presignMu    sync.Mutex
	presignState presignState
	// watchers are called after every change, with the new serial, in
	// the order they were registered (by watchSeq).
	watchMu  sync.Mutex
	watchers map[uint64]func(serial uint32)
	watchSeq uint64
	// closeOnce makes Close run once; closeErr is what it returned.
	closeOnce sync.Once
	closeErr  error
	// chain is the NSEC3 chain for zone transfers.
	chain *chain
	// nameGen counts name creations and deletions; sorted caches the
	// canonically sorted names of generation sortedGen (guarded by mu for
	// reading nameGen, and by sortMu for the cache).
	nameGen   uint64
	sortMu    sync.Mutex
	sorted    []string
	sortedGen uint64
	// lastChange is when the serial last changed (Unix seconds).
	lastChange atomic.Int64
	// rrsetCount is the number of RRsets, for metrics.
	rrsetCount atomic.Int64
	// sigCacheLoaded and sigCacheErr are what Open got from the
	// signature cache file.
	sigCacheLoaded int
	sigCacheErr    error
	// admin holds the parsed Options.AdminNames inside the zone.
	admin []adminPattern
	// sigsMade counts every signature the zone's signers made.
	sigsMade atomic.Int64
	// presignNames and presignEntries count the names and the NSEC3
	// chain entries presign runs looked at: what the runs cost besides
	// their signatures.
	presignNames, presignEntries atomic.Int64
	// resign is the background re-signing after a ZSK activation.
	resign resigner
	// resignHook, set by tests before a ZSK activation, is called by the
	// background re-signing with the signatures it has made so far.
	resignHook func(made int)
}

// Open opens the zone that Init created in dir, loading its data into
// memory. It creates nothing: a directory without a zone is an error that
// matches fs.ErrNotExist. A zone open in another process (or another
// Open) is a *LockedError. Close it when done.
func Open(dir string, opt Options) (*Zone, error) {
	if opt.IdentitySigValidity != 0 {
		if err := CheckIdentitySigValidity(opt.IdentitySigValidity); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(filepath.Join(dir, DBFile))
	switch {
	case errors.Is(err, store.ErrLocked):
		return nil, &LockedError{Dir: dir, PID: readPID(filepath.Join(dir, PIDFile))}
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("zone: no zone in %s (no %s; Init creates one): %w", dir, DBFile, fs.ErrNotExist)
	case err != nil:
		return nil, err
	}
	pidFile := filepath.Join(dir, PIDFile)
	writePID(pidFile)
	fail := func(err error) (*Zone, error) {
		st.Close()
		removePID(pidFile)
		return nil, err
	}
	z := &Zone{dir: dir, st: st, names: map[string]*node{}, ents: map[string]int{}, chain: newChain(), changedNames: changeSet[string]{all: true}, now: opt.Time, opt: opt}
	if z.now == nil {
		z.now = time.Now
	}
	if err := z.load(); err != nil {
		return fail(err)
	}
	if z.admin, err = parseAdminPatterns(z.settings.Origin, opt.AdminNames); err != nil {
		return fail(err)
	}
	z.lastChange.Store(z.now().Unix())
	// A damaged or outdated cache file only means signing again.
	z.sigCacheLoaded, z.sigCacheErr = z.loadSignatures()
	if resignUnfinished(z.settings) {
		z.startResign()
	}
	return z, nil
}

// SignaturesMade is the number of signatures the zone has made since it
// was opened (one per key per RRset or NSEC3 record signed): what answers,
// transfers, presigning and key changes cost.
func (z *Zone) SignaturesMade() int64 { return z.sigsMade.Load() }

// SignaturesLoaded reports how many RRsets and NSEC3 records Open took
// signatures for from the signature cache file (SigCacheFile), and why
// the file could not be used, if it could not.
func (z *Zone) SignaturesLoaded() (int, error) { return z.sigCacheLoaded, z.sigCacheErr }

func (z *Zone) load() error {
	return z.st.View(func(tx *store.Tx) error {
		set, err := unmarshalSettings(tx.Meta(metaSettings))
		if err != nil {
			return err
		}
		z.settings = set
		sg, err := z.newSigner(set)
		if err != nil {
			return err
		}
		z.signer.Store(sg)
		err = tx.ForEach(func(name string, t uint16, rrs []dns.RR) error {
			if !dns.IsSubDomain(set.Origin, name) {
				return fmt.Errorf("zone: stored name %s is outside %s", name, set.Origin)
			}
			set, err := packSet(rrs)
			if err != nil {
				return fmt.Errorf("zone: stored %s %s: %w", name, dns.TypeToString[t], err)
			}
			z.install(name, t, set)
			return nil
		})
		if err != nil {
			return err
		}
		if z.soa() == nil {
			return errors.New("zone: no SOA record in the database")
		}
		// Derived, not stored: the chain parameters follow from the code.
		param, err := packSet([]dns.RR{z.nsec3param()})
		if err != nil {
			return err
		}
		z.install(set.Origin, dns.TypeNSEC3PARAM, param)
		return nil
	})
}

// Watch registers fn to be called, outside any lock, after every change
// of the zone with the new serial, until the returned stop function is
// called (calling it again does nothing). A server uses it to send NOTIFY
// and to sign ahead for transfers, and stops watching when it stops, so a
// zone that outlives a server does not keep calling into it.
func (z *Zone) Watch(fn func(serial uint32)) (stop func()) {
	z.watchMu.Lock()
	if z.watchers == nil {
		z.watchers = map[uint64]func(uint32){}
	}
	z.watchSeq++
	id := z.watchSeq
	z.watchers[id] = fn
	z.watchMu.Unlock()
	return func() {
		z.watchMu.Lock()
		delete(z.watchers, id)
		z.watchMu.Unlock()
	}
}

func (z *Zone) changed(serial uint32) {
	z.watchMu.Lock()
	ids := slices.Sorted(maps.Keys(z.watchers))
	ws := make([]func(uint32), len(ids))
	for i, id := range ids {
		ws[i] = z.watchers[id]
	}
	z.watchMu.Unlock()
	for _, w := range ws {
		w(serial)
	}
}

// newSigner loads the keys named in set; all of them sign: the active
// key and, during a rollover, the incoming or outgoing one.
func (z *Zone) newSigner(set *zoneSettings) (*signer.Signer, error) {
	ks, err := z.loadKeys(slices.Concat(set.KeyFiles, set.IncomingKeyFiles, set.OutgoingKeyFiles))
	if err != nil {
		return nil, err
	}
	// The old ZSK after activation: its signatures are served until the
	// background re-signing (resign.go) has replaced them.
	retiring, err := z.loadKeys(set.RetiredKeyFiles)
	if err != nil {
		return nil, err
	}
	idv := z.IdentitySigValidity()
	return &signer.Signer{
		Zone:     set.Origin,
		Keys:     ks,
		Retiring: retiring,
		Made:     &z.sigsMade,
		Validity: z.opt.SignatureValidity,
		Refresh:  z.opt.SignatureRefresh,
		TypeValidity: func(t uint16) time.Duration {
			if IsIdentityType(t) {
				return idv
			}
			return 0
		},
		Now: z.now,
	}, nil
}

// IdentitySigValidity is how long signatures over identity RRsets are
// valid: Options.IdentitySigValidity, else the zone's setting, else
// DefaultIdentitySigValidity. A removed identity record cannot be made to
// validate for longer than this after its removal, even by replaying an
// answer captured before.
func (z *Zone) IdentitySigValidity() time.Duration {
	switch {
	case z.opt.IdentitySigValidity > 0:
		return z.opt.IdentitySigValidity
	case z.settings != nil && z.settings.IdentitySigValidity > 0:
		return time.Duration(z.settings.IdentitySigValidity) * time.Second
	}
	return DefaultIdentitySigValidity
}

// BumpSerial moves the SOA serial forward without changing any other
// record, and returns the new serial.
func (z *Zone) BumpSerial() (uint32, error) {
	return z.changeSerial(func(*view) error { return nil }, true)
}

// Close writes the signatures the zone holds to DIR/signatures.cache (as
// saveSignatures does), so that the next Open need not sign the zone
// again, and releases the store. Closing again does nothing. A failure to
// write the cache is returned, but the store is released all the same:
// the cache only saves work.
func (z *Zone) Close() error {
	z.closeOnce.Do(func() {
		z.stopResign()
		_, saveErr := z.saveSignatures()
		removePID(filepath.Join(z.dir, PIDFile))
		z.closeErr = errors.Join(saveErr, z.st.Close())
	})
	return z.closeErr
}

// Origin is the zone apex, fully qualified and in lower case.
func (z *Zone) Origin() string { return z.settings.Origin }

// Now is the zone's clock (Options.Time, or the real time): what its
// signatures and caches are dated by.
func (z *Zone) Now() time.Time { return z.now() }

// Serial is the current SOA serial.
func (z *Zone) Serial() uint32 {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.soa().Serial
}

// RRsetCount is the number of RRsets in the zone.
func (z *Zone) RRsetCount() int64 { return z.rrsetCount.Load() }

// soa returns the current SOA; callers hold mu (or are loading).
func (z *Zone) soa() *dns.SOA { return z.soaRR }

// install replaces the RRset (name, t) in memory with packed records
// (packSet); empty set deletes it. It keeps the empty non-terminal counts
// and the NSEC3 chain in step, and records what changed for the next
// presign run (PresignAhead). Callers hold mu for writing (or are
// loading).
func (z *Zone) install(name string, t uint16, set []byte) {
	n := z.names[name]
	existed := z.exists(name)
	had := n.has(t)
	if len(set) == 0 && !had {
		return
	}
	nn := n.with(&z.chain.store, name, t, set)
	if n != nil {
		z.chain.store.dropSigs(n)
	}
	switch {
	case nn == nil:
		delete(z.names, name)
		z.nameGen++
		z.adjustAncestors(name, -1)
	case n == nil:
		// The key is the node's own copy of the name (node.name).
		z.names[nn.name()] = nn
		z.nameGen++
		z.adjustAncestors(name, +1)
	default:
		// Assigning to a string key replaces the key too: the old node
		// is not kept alive by the map.
		z.names[nn.name()] = nn
	}
	switch {
	case had && len(set) == 0:
		z.rrsetCount.Add(-1)
	case !had && len(set) != 0:
		z.rrsetCount.Add(1)
	}
	if name == z.settings.Origin && t == dns.TypeSOA {
		z.soaRR = nil
		if rrs := nn.rrs(dns.TypeSOA); len(rrs) == 1 {
			z.soaRR, _ = rrs[0].(*dns.SOA)
		}
	}
	z.chainUpdate(name, existed)
	z.changedNames.add(name, len(z.names))
	if had != (len(set) != 0) && existed && z.exists(name) {
		// The types at name changed and it stays in the chain: its
		// NSEC3 record's bitmap changed. (Names that came or went, here
		// and among the empty non-terminals above, chain.add and
		// chain.remove recorded.)
		z.chain.touch(name)
	}
}

// packSet packs an RRset for install and checks that it decodes again,
// so that what is installed can always be served.
func packSet(rrs []dns.RR) ([]byte, error) {
	if len(rrs) == 0 {
		return nil, nil
	}
	w, err := packRRs(rrs)
	if err != nil {
		return nil, err
	}
	if _, err := unpackRRs(rrs[0].Header().Name, w); err != nil {
		return nil, err
	}
	return w, nil
}

// chainUpdate adds name to or removes it from the NSEC3 chain when its
// existence changed.
func (z *Zone) chainUpdate(name string, existed bool) {
	switch now := z.exists(name); {
	case now && !existed:
		z.chain.add(name)
	case !now && existed:
		z.chain.remove(name)
	}
}

func (z *Zone) adjustAncestors(name string, d int) {
	origin := z.settings.Origin
	for p := parent(name); p != "" && p != origin && dns.IsSubDomain(origin, p); p = parent(p) {
		existed := z.exists(p)
		z.ents[p] += d
		if z.ents[p] <= 0 {
			delete(z.ents, p)
		}
		z.chainUpdate(p, existed)
	}
}

// parent strips the first label of a fully qualified name; "" for the root.
func parent(name string) string {
	if name == "." {
		return ""
	}
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

// exists reports whether name owns data or is an empty non-terminal.
func (z *Zone) exists(name string) bool {
	return z.names[name] != nil || z.ents[name] > 0
}

// Get returns a copy of the RRset (name, t), or nil.
func (z *Zone) Get(name string, t uint16) []dns.RR {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.names[dns.CanonicalName(name)].rrs(t)
}

// identityNames returns the names at or below under that own identity
// records, in canonical order, at most limit of them (0: no limit).
func (z *Zone) identityNames(under string, limit int) []string {
	under = dns.CanonicalName(under)
	all := z.sortedNames()
	z.mu.RLock()
	defer z.mu.RUnlock()
	var out []string
	for _, name := range all {
		n := z.names[name]
		if n == nil || !dns.IsSubDomain(under, name) {
			continue
		}
		for _, t := range n.types() {
			if IsIdentityType(t) {
				out = append(out, name)
				break
			}
		}
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

// sortedNames returns every name with data in canonical order, sorting
// again only when names were added or removed since the last call.
func (z *Zone) sortedNames() []string {
	names, _ := z.sortedNamesGen()
	return names
}

// sortedNamesGen is sortedNames with the generation of names the list
// holds: it is current while Zone.nameGen is the same.
func (z *Zone) sortedNamesGen() ([]string, uint64) {
	z.sortMu.Lock()
	defer z.sortMu.Unlock()
	z.mu.RLock()
	gen := z.nameGen
	if z.sorted != nil && z.sortedGen == gen {
		z.mu.RUnlock()
		return z.sorted, gen
	}
	names := make([]string, 0, len(z.names))
	for name := range z.names {
		names = append(names, name)
	}
	z.mu.RUnlock()
	sortCanonical(names)
	z.sorted, z.sortedGen = names, gen
	return names, gen
}

// sortCanonical sorts fully qualified names in DNSSEC canonical order
// (RFC 4034 §6.1): by labels from the right, each compared as lower-case
// octets.
func sortCanonical(names []string) {
	// One key per name (labels reversed, unescaped, lower case, joined by
	// a zero octet) instead of splitting names on every comparison.
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = canonicalKey(n)
	}
	sort.Sort(byKey{names, keys})
}

type byKey struct{ names, keys []string }

func (b byKey) Len() int           { return len(b.names) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.names[i], b.names[j] = b.names[j], b.names[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}

func canonicalKey(name string) string {
	ls := dns.SplitDomainName(strings.ToLower(name))
	var b strings.Builder
	for i := len(ls) - 1; i >= 0; i-- {
		b.WriteString(unescapeLabel(ls[i]))
		if i > 0 {
			b.WriteByte(0)
		}
	}
	return b.String()
}

func canonicalLess(a, b string) bool {
	la := dns.SplitDomainName(strings.ToLower(a))
	lb := dns.SplitDomainName(strings.ToLower(b))
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		x, y := unescapeLabel(la[i]), unescapeLabel(lb[j])
		if x != y {
			return x < y
		}
	}
	return len(la) < len(lb)
}

// unescapeLabel turns a presentation label into its octets.
func unescapeLabel(l string) string {
	if !strings.ContainsRune(l, '\\') {
		return l
	}
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(l+".", buf, 0, nil, false)
	if err != nil || n < 2 {
		return l
	}
	return string(buf[1 : 1+int(buf[0])])
}
