package zone

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
)

// looked is what presign runs looked at: names and NSEC3 chain entries.
type looked struct{ names, entries int }

func (l looked) String() string {
	return fmt.Sprintf("%d names and %d chain entries", l.names, l.entries)
}

// presignAhead runs PresignAhead and returns its report and what it
// looked at, as the zone's counters tell. It fails the test unless the
// report's counts are the counters' and the zone's.
func presignAhead(t *testing.T, z *Zone) (PresignRun, looked) {
	t.Helper()
	n0, e0 := z.presignNames.Load(), z.presignEntries.Load()
	made0 := z.SignaturesMade()
	run, err := z.PresignAhead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l := looked{int(z.presignNames.Load() - n0), int(z.presignEntries.Load() - e0)}
	if run.Names != l.names || run.ChainEntries != l.entries {
		t.Fatalf("the run reported %d names and %d chain entries looked at; the counters say %v", run.Names, run.ChainEntries, l)
	}
	if made := z.SignaturesMade() - made0; int64(run.Signatures) != made {
		t.Fatalf("the run reported %d signatures; the zone made %d", run.Signatures, made)
	}
	if run.ChainLeft && (run.WholeChain || run.ChainEntries != 0) {
		t.Fatalf("the run left the chain to the next run, yet reported %d entries looked at, whole chain %v", run.ChainEntries, run.WholeChain)
	}
	return run, l
}

// zoneSize is what a full walk looks at: every name with data and every
// chain entry.
func zoneSize(z *Zone) looked {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return looked{len(z.names), z.chain.n}
}

// walked reports whether l is a full walk of z's names and of its chain.
func walked(z *Zone, l looked) (names, chain bool) {
	all := zoneSize(z)
	return l.names >= all.names, l.entries >= all.entries
}

// total is all l looked at.
func (l looked) total() int { return l.names + l.entries }

// wantSigned fails the test unless every RRset and NSEC3 record of z has
// fresh signatures.
func wantSigned(t *testing.T, z *Zone, when string) {
	t.Helper()
	if r, c := unsigned(t, z); r != 0 || c != 0 {
		t.Fatalf("%s: %d RRsets and %d NSEC3 records unsigned", when, r, c)
	}
}

// presignedZone is a zone with n identities, signed by a first
// PresignAhead (a full walk: the first after Open).
func presignedZone(t *testing.T, n int) *Zone {
	t.Helper()
	z, _ := newZone(t, newClock())
	addIdentities(t, z, 0, n)
	if run, l := presignAhead(t, z); l.names < zoneSize(z).names || l.entries < zoneSize(z).entries || run.Walk() != "full" {
		t.Fatalf("the first run after Open looked at %v of %v, walk %q", l, zoneSize(z), run.Walk())
	}
	wantSigned(t, z, "after the first run")
	return z
}

func tlsaAt(t testing.TB, name string, i int) dns.RR {
	return rr(t, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", name, i))
}

func smimeaAt(t testing.TB, name string, i int) dns.RR {
	return rr(t, fmt.Sprintf("%s 300 IN SMIMEA 3 1 1 %064x", name, i))
}

// TestPresignAheadLooksAtChangesOnly: after one change to a presigned
// zone, the next run looks at a handful of names and chain entries, not
// the zone, and leaves nothing unsigned.
func TestPresignAheadLooksAtChangesOnly(t *testing.T) {
	const ids = 400
	// The most a run may look at: the changed name and the apex (SOA),
	// and for each of up to three changed hashes (the name and two empty
	// non-terminals above it) the entry and the one before it.
	const most = 2 + 3*2
	s7 := "s7._device.devices.test."
	for _, tt := range []struct {
		name    string
		changes []Change
	}{
		{"add an identity", []Change{{Name: "new._device.devices.test.", Records: []dns.RR{tlsaAt(t, "new._device.devices.test.", 1)}}}},
		{"add below new empty non-terminals", []Change{{Name: "a.b.c.devices.test.", Records: []dns.RR{tlsaAt(t, "a.b.c.devices.test.", 1)}}}},
		{"remove an identity", []Change{{Mode: change.Remove, Name: s7}}},
		{"replace an identity's records", []Change{{Mode: change.Replace, Name: s7, Records: []dns.RR{tlsaAt(t, s7, 99999)}}}},
		{"add a type", []Change{{Name: s7, Records: []dns.RR{smimeaAt(t, s7, 1)}}}},
		{"data at an empty non-terminal", []Change{{Name: "_device.devices.test.", Records: []dns.RR{tlsaAt(t, "_device.devices.test.", 1)}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			z := presignedZone(t, ids)
			if _, err := z.Apply(tt.changes); err != nil {
				t.Fatal(err)
			}
			run, l := presignAhead(t, z)
			if run.Signatures == 0 || l.total() > most || run.Walk() != "incremental" {
				t.Fatalf("after one change: %d signatures, %v looked at (zone: %v), want at most %d; walk %q", run.Signatures, l, zoneSize(z), most, run.Walk())
			}
			wantSigned(t, z, "after the run")
		})
	}
	// The way back: an identity added and then removed, a type added and
	// then removed, empty non-terminals made and then gone.
	t.Run("undo", func(t *testing.T) {
		z := presignedZone(t, ids)
		for _, cs := range [][]Change{
			{{Name: "a.b.c.devices.test.", Records: []dns.RR{tlsaAt(t, "a.b.c.devices.test.", 1)}}, {Name: s7, Records: []dns.RR{smimeaAt(t, s7, 1)}}},
			{{Mode: change.Remove, Name: "a.b.c.devices.test."}, {Mode: change.Replace, Name: s7, Records: []dns.RR{tlsaAt(t, s7, 7)}}},
		} {
			if _, err := z.Apply(cs); err != nil {
				t.Fatal(err)
			}
			run, l := presignAhead(t, z)
			if run.Signatures == 0 || l.total() > 2*most {
				t.Fatalf("after a change of two names: %d signatures, %v looked at", run.Signatures, l)
			}
			wantSigned(t, z, "after the run")
		}
	})
}

// TestPresignAheadRandom applies random sequences of changes (identities
// added, removed and replaced, types added and dropped) at names of one
// to three labels under the apex, so that empty non-terminals come and
// go and entries are added and removed at both ends of the chain's ring,
// with PresignAhead runs in between, in batches smaller than the chain.
// After every run nothing is unsigned; some scenarios change the zone
// while a run walks, and then the quiet run after it signs what those
// changes left.
func TestPresignAheadRandom(t *testing.T) {
	labels := []string{"a", "b", "c"}
	var pool []string
	for _, x := range labels {
		pool = append(pool, x+".devices.test.")
		for _, y := range labels {
			pool = append(pool, y+"."+x+".devices.test.")
			for _, w := range labels {
				pool = append(pool, w+"."+y+"."+x+".devices.test.")
			}
		}
	}
	for _, tc := range []struct {
		name      string
		seed      uint64
		batch     int // presignBatch
		setMin    int // changeSetMin
		rounds    int // runs
		changes   int // most changes between two runs
		ops       int // most operations in one change
		meanwhile bool
	}{
		{"one operation per run", 1, 3, 16384, 300, 1, 1, false},
		{"a few changes per run", 2, 4, 16384, 150, 3, 4, false},
		{"batches of one", 3, 1, 16384, 100, 2, 3, false},
		{"sets overflow now and then", 4, 5, 8, 150, 3, 6, false},
		{"changes while runs walk", 5, 3, 16384, 150, 2, 4, true},
		{"changes while runs walk, overflowing sets", 6, 2, 8, 100, 2, 6, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setPresignBatch(t, tc.batch)
			oldMin := changeSetMin
			changeSetMin = tc.setMin
			t.Cleanup(func() { changeSetMin = oldMin })
			rnd := rand.New(rand.NewPCG(tc.seed, 0))
			z, _ := newZone(t, newClock())
			serial := 0
			op := func() Change {
				name := pool[rnd.IntN(len(pool))]
				serial++
				switch rnd.IntN(7) {
				case 0:
					return Change{Name: name, Records: []dns.RR{tlsaAt(t, name, serial)}}
				case 1, 2, 3:
					return Change{Mode: change.Remove, Name: name}
				case 4:
					return Change{Mode: change.Replace, Name: name, Records: []dns.RR{tlsaAt(t, name, serial)}}
				case 5:
					return Change{Name: name, Records: []dns.RR{smimeaAt(t, name, serial)}}
				}
				// Drops the SMIMEA record, if any.
				return Change{Mode: change.Replace, Name: name, Records: []dns.RR{tlsaAt(t, name, serial)}}
			}
			apply := func() {
				cs := make([]Change, 1+rnd.IntN(tc.ops))
				for i := range cs {
					cs[i] = op()
				}
				if _, err := z.Apply(cs); err != nil {
					t.Fatal(err)
				}
			}
			// What the sequence went through, so the test knows it
			// tested what it says.
			var ends, entsMade, entsGone, full, incremental int
			ring := func() (first, last hashKey, ents int) {
				z.mu.RLock()
				defer z.mu.RUnlock()
				if c := z.chain; c.n > 0 {
					ch := c.chunks[len(c.chunks)-1]
					first, last = c.chunks[0][0], ch[len(ch)-1]
				}
				for p := range z.ents {
					if z.names[p] == nil {
						ents++
					}
				}
				return first, last, ents
			}
			changing := false
			presignStep = func(bool) {
				if changing && rnd.IntN(3) == 0 {
					apply()
				}
			}
			t.Cleanup(func() { presignStep = nil })
			for round := range tc.rounds {
				for range 1 + rnd.IntN(tc.changes) {
					f0, l0, e0 := ring()
					apply()
					f1, l1, e1 := ring()
					if f0 != f1 || l0 != l1 {
						ends++
					}
					switch {
					case e1 > e0:
						entsMade++
					case e1 < e0:
						entsGone++
					}
				}
				changing = tc.meanwhile && round%2 == 0
				before := serial
				_, l := presignAhead(t, z)
				if names, chain := walked(z, l); names || chain {
					full++
				} else {
					incremental++
				}
				if serial == before {
					wantSigned(t, z, fmt.Sprintf("round %d", round))
				}
			}
			changing = false
			presignAhead(t, z)
			wantSigned(t, z, "at the end")
			t.Logf("%d runs (%d walked names or chain), %d changes at the ring's ends, empty non-terminals made %d and gone %d times", tc.rounds, full, ends, entsMade, entsGone)
			if ends == 0 || entsMade == 0 || entsGone == 0 || incremental == 0 {
				t.Fatalf("the sequence did not go through what the test is for: %d changes at the ring's ends, empty non-terminals made %d and gone %d times, %d incremental runs", ends, entsMade, entsGone, incremental)
			}
		})
	}
}

// TestPresignAheadFullWalk: the cases where the changes recorded cannot
// tell what is unsigned make the next run walk the whole zone, and
// after it nothing is unsigned; other runs look at the changes only.
func TestPresignAheadFullWalk(t *testing.T) {
	const ids = 200
	for _, tt := range []struct {
		name string
		csk  bool
		// before changes the zone (or its clock, or its sets) after the
		// first run and one identity added.
		before func(t *testing.T, z *Zone, clock *fakeClock)
		// names and chain are whether the run is to walk all names and
		// the whole chain.
		names, chain bool
	}{
		{"nothing else", false, func(*testing.T, *Zone, *fakeClock) {}, false, false},
		{"CSK rollover: prepublish", true, func(t *testing.T, z *Zone, _ *fakeClock) {
			// Both keys sign every RRset from now on: every signature
			// in the zone is by the old key alone.
			if _, err := z.Rollover(t.Context(), RoleCSK, Prepublish, RolloverOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
		}, true, true},
		{"ZSK rollover: prepublish", false, func(t *testing.T, z *Zone, _ *fakeClock) {
			if _, err := z.Rollover(t.Context(), RoleZSK, Prepublish, RolloverOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
		}, true, true},
		{"clock short of a full walk", false, func(t *testing.T, z *Zone, clock *fakeClock) {
			clock.Advance(fullWalkEvery(z.signer.Load()) - time.Minute)
		}, false, false},
		{"clock past the identities' refresh point", false, func(t *testing.T, z *Zone, clock *fakeClock) {
			clock.Advance(z.IdentitySigValidity()/2 + time.Minute)
			if r, _ := unsigned(t, z); r < ids {
				t.Fatalf("%d RRsets due for refresh; the test wants the identities'", r)
			}
		}, true, true},
		{"clock back", false, func(t *testing.T, z *Zone, clock *fakeClock) {
			clock.Advance(-time.Hour)
		}, true, true},
		{"NSEC3 TTL changed", false, func(t *testing.T, z *Zone, _ *fakeClock) {
			// Nothing changes the SOA's TTL or minimum at run time yet;
			// installed directly, as a change would.
			z.mu.Lock()
			soa := dns.Copy(z.soa()).(*dns.SOA)
			soa.Minttl--
			set, err := packSet([]dns.RR{soa})
			if err == nil {
				z.install(z.settings.Origin, dns.TypeSOA, set)
			}
			z.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if _, c := unsigned(t, z); c < ids {
				t.Fatalf("%d NSEC3 records unsigned; the test wants every one", c)
			}
		}, false, true},
		{"sets overflow", false, func(t *testing.T, z *Zone, _ *fakeClock) {
			oldMin := changeSetMin
			changeSetMin = 4
			t.Cleanup(func() { changeSetMin = oldMin })
			addIdentities(t, z, 1000, 2*ids/changeSetShare)
			z.mu.RLock()
			defer z.mu.RUnlock()
			if !z.changedNames.all || z.changedNames.keys != nil || !z.chain.changed.all || z.chain.changed.keys != nil {
				t.Fatalf("sets hold %d names and %d hashes after %d names changed", len(z.changedNames.keys), len(z.chain.changed.keys), 2*ids/changeSetShare)
			}
		}, true, true},
		{"run cancelled", false, func(t *testing.T, z *Zone, _ *fakeClock) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := z.PresignAhead(ctx); err == nil {
				t.Fatal("a cancelled run returned no error")
			}
			if r, c := unsigned(t, z); r == 0 || c == 0 {
				t.Fatalf("the cancelled run left %d RRsets and %d NSEC3 records unsigned; the test wants some of both", r, c)
			}
		}, true, true},
		{"Presign ran", false, func(t *testing.T, z *Zone, _ *fakeClock) {
			// A full walk takes the sets too: the run after it has the
			// changes since to look at, none.
			if _, err := z.Presign(context.Background()); err != nil {
				t.Fatal(err)
			}
		}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			z, _ := newZone(t, clock)
			if tt.csk {
				z, _ = newCSKZone(t, clock)
			}
			addIdentities(t, z, 0, ids)
			presignAhead(t, z)
			wantSigned(t, z, "after the first run")
			addIdentities(t, z, ids, 1)
			tt.before(t, z, clock)
			run, l := presignAhead(t, z)
			if names, chain := walked(z, l); names != tt.names || chain != tt.chain {
				t.Fatalf("the run looked at %v of %v (%d signatures): walked names %v and chain %v, want %v and %v", l, zoneSize(z), run.Signatures, names, chain, tt.names, tt.chain)
			}
			// What the run reports (and the server logs) is what it did.
			if run.AllNames != tt.names || run.WholeChain != tt.chain || run.ChainLeft {
				t.Fatalf("the run reported all names %v, whole chain %v, chain left %v (walk %q); want %v, %v, false",
					run.AllNames, run.WholeChain, run.ChainLeft, run.Walk(), tt.names, tt.chain)
			}
			wantSigned(t, z, "after the run")
			// And the run after it looks at what changed since.
			addIdentities(t, z, 2*ids, 1)
			if _, l := presignAhead(t, z); l.total() > 10 {
				t.Fatalf("the next run looked at %v of %v", l, zoneSize(z))
			}
			wantSigned(t, z, "after the next run")
		})
	}
}

// TestPresignAheadChangesMeanwhile: changes applied while a run walks
// (RRsets and chain, ahead of the walk and behind it) are signed by the
// next run, which looks at them only. Run with the race detector.
func TestPresignAheadChangesMeanwhile(t *testing.T) {
	setPresignBatch(t, 5)
	z := presignedZone(t, 300)
	addIdentities(t, z, 1000, 3)
	steps := 0
	presignStep = func(chain bool) {
		steps++
		switch steps {
		case 1, 2:
			addIdentities(t, z, 2000+10*steps, 5)
			if _, err := z.Apply([]Change{
				{Mode: change.Remove, Name: fmt.Sprintf("s%d._device.devices.test.", 10*steps)},
				{Name: "s20._device.devices.test.", Records: []dns.RR{smimeaAt(t, "s20._device.devices.test.", steps)}},
			}); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(func() { presignStep = nil })
	presignAhead(t, z)
	presignStep = nil
	if steps < 2 {
		t.Fatalf("the run took %d steps; the test changes the zone in the first two", steps)
	}
	if r, c := unsigned(t, z); r == 0 && c == 0 {
		t.Fatal("nothing unsigned after changes during the run; the test wants them left to the next run")
	}
	if _, l := presignAhead(t, z); l.total() >= zoneSize(z).total()/4 {
		t.Fatalf("the next run looked at %v of %v", l, zoneSize(z))
	}
	wantSigned(t, z, "after the next run")
}

// TestPresignAheadDeferredChainKept: the chain changes of a run that
// left the chain to the next run (a bulk change meanwhile) are that next
// run's to sign, without a full walk.
func TestPresignAheadDeferredChainKept(t *testing.T) {
	setPresignBatch(t, 10)
	z := presignedZone(t, 300)
	addIdentities(t, z, 1000, 30)
	presignStep = func(chain bool) {
		if !chain {
			addIdentities(t, z, 2000, 30)
		}
		presignStep = nil
	}
	t.Cleanup(func() { presignStep = nil })
	presignAhead(t, z)
	if _, c := unsigned(t, z); c < 30 {
		t.Fatalf("%d NSEC3 records unsigned after a bulk change during the run; the test wants the chain left to the next run", c)
	}
	if _, l := presignAhead(t, z); l.total() >= zoneSize(z).total()/2 {
		t.Fatalf("the next run looked at %v of %v", l, zoneSize(z))
	}
	wantSigned(t, z, "after the next run")
}

// TestPresignAheadRetiringKey: after a ZSK activation the old ZSK's
// signatures still count (the key is retiring) until they are replaced;
// signing one RRset of a name with the new ZSK drops the old key's
// signatures of the name's other RRsets (a name's signatures are by one
// signer), so a run that signs an RRset signs those too, and nothing is
// left unsigned after it: at the apex (every change makes a new SOA) and
// at an identity with two RRsets, one of them changed.
func TestPresignAheadRetiringKey(t *testing.T) {
	z := presignedZone(t, 50)
	both := "both._device.devices.test."
	if _, err := z.Apply([]Change{{Name: both, Records: []dns.RR{tlsaAt(t, both, 1), smimeaAt(t, both, 1)}}}); err != nil {
		t.Fatal(err)
	}
	presignAhead(t, z)
	wantSigned(t, z, "before the rollover")
	for _, step := range []RolloverStep{Prepublish, Activate} {
		if _, err := z.Rollover(t.Context(), RoleZSK, step, RolloverOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	// The background re-signing would replace the old key's signatures
	// by itself; this test is about the runs.
	z.stopResign()
	presignAhead(t, z)
	wantSigned(t, z, "after the activation")
	if _, err := z.Apply([]Change{{Name: both, Records: []dns.RR{tlsaAt(t, both, 2)}}}); err != nil {
		t.Fatal(err)
	}
	presignAhead(t, z)
	wantSigned(t, z, "after a change at a name with two RRsets")
}
