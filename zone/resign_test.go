package zone

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// addIdentities adds n identities, one TLSA record each, in one change.
func addIdentities(t testing.TB, z *Zone, from, n int) {
	t.Helper()
	var changes []Change
	for i := from; i < from+n; i++ {
		changes = append(changes, Change{Name: fmt.Sprintf("s%d._device.devices.test.", i), Records: []dns.RR{
			rr(t, fmt.Sprintf("s%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i)),
		}})
	}
	if _, err := z.Apply(changes); err != nil {
		t.Fatal(err)
	}
}

// signedTransfer transfers z, checks every signature with the zone's
// keys, and returns the key tags of the RRSIGs over TLSA and NSEC3.
func signedTransfer(t *testing.T, z *Zone) []uint16 {
	t.Helper()
	rrs, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	verifyAllKeys(t, z, rrs)
	tags := slices.Concat(sigTags(rrs, dns.TypeTLSA), sigTags(rrs, dns.TypeNSEC3))
	slices.Sort(tags)
	return slices.Compact(tags)
}

// TestRolloverSignsOnlyWhatChanged counts the signatures each step of a
// ZSK and a KSK rollover costs, transfer of the whole zone included:
// the DNSKEY, CDS and CDNSKEY RRsets' and the SOA's, not the zone's. A
// ZSK activation re-signs the rest in the background, and until then the
// old ZSK's signatures are served. Every state passes the zone checkers.
func TestRolloverSignsOnlyWhatChanged(t *testing.T) {
	const ids = 150
	type step struct {
		step RolloverStep
		// max is the most signatures the step and a transfer may make:
		// SOA (1), DNSKEY, CDS, CDNSKEY (1 or 2 KSKs each).
		max int64
	}
	for _, tt := range []struct {
		role  KeyRole
		steps []step
	}{
		// ZSK prepublish: DNSKEY by the KSK, SOA. Activate: the apex
		// RRsets the ZSK signs (SOA, NS, NSEC3PARAM: the apex's
		// signatures are kept together, and the new SOA's drops the
		// old ZSK's); the DNSKEY RRset holds the same keys. Retire:
		// DNSKEY, SOA.
		{RoleZSK, []step{{Prepublish, 2}, {Activate, 3}, {Retire, 2}}},
		// KSK prepublish: DNSKEY, CDS, CDNSKEY by both KSKs, SOA.
		// Activate: CDS and CDNSKEY by both, SOA. Retire: DNSKEY,
		// CDS, CDNSKEY by the new KSK, SOA.
		{RoleKSK, []step{{Prepublish, 7}, {Activate, 5}, {Retire, 4}}},
	} {
		t.Run(string(tt.role), func(t *testing.T) {
			// In the past, so that after the wait below signatures
			// have begun by the real clock the checkers use.
			clock := &fakeClock{t: time.Now().Add(-8 * time.Hour).Truncate(time.Second)}
			z, _ := newZone(t, clock)
			addIdentities(t, z, 0, ids)
			// Every RRset and NSEC3 record signed, as for a transfer.
			full := z.SignaturesMade()
			tagsBefore := signedTransfer(t, z)
			full = z.SignaturesMade() - full
			if full < 2*ids {
				t.Fatalf("signing the zone made %d signatures, want at least %d", full, 2*ids)
			}
			release := make(chan struct{})
			var releaseOnce sync.Once
			free := func() { releaseOnce.Do(func() { close(release) }) }
			// Registered after newZone's Close: runs before it.
			t.Cleanup(free)
			z.resignHook = func(int) { <-release }
			for _, st := range tt.steps {
				before := z.SignaturesMade()
				if _, err := z.Rollover(t.Context(), tt.role, st.step, RolloverOptions{Force: true}); err != nil {
					t.Fatalf("%s: %v", st.step, err)
				}
				rrs, err := z.Transfer()
				if err != nil {
					t.Fatal(err)
				}
				if n := z.SignaturesMade() - before; n > st.max {
					t.Errorf("%s %s and a transfer made %d signatures, want at most %d (signing the whole zone: %d)", tt.role, st.step, n, st.max, full)
				}
				checkWithTools(t, writeZoneFile(t, rrs))
				verifyAllKeys(t, z, rrs)
				if tt.role == RoleZSK && st.step == Activate {
					// The old ZSK's signatures are still served.
					if got := signedTransfer(t, z); !slices.Equal(got, tagsBefore) {
						t.Errorf("signed by %v right after activate, want the old ZSK %v", got, tagsBefore)
					}
					// Retire waits for the re-signing, also once the
					// TTLs since activate have passed.
					clock.Advance(secs(z.maxDataTTL()) + PropagationDelay)
					var we *RolloverWaitError
					if _, err := z.Rollover(t.Context(), tt.role, Retire, RolloverOptions{}); !errors.As(err, &we) || !we.Resigning {
						t.Fatalf("retire during the re-signing: %v", err)
					}
					serial := z.Serial()
					before = z.SignaturesMade()
					free()
					if err := z.ResignWait(t.Context()); err != nil {
						t.Fatal(err)
					}
					if n := z.SignaturesMade() - before; n < 2*ids {
						t.Errorf("re-signing made %d signatures, want at least %d", n, 2*ids)
					}
					if z.Serial() == serial {
						t.Error("the re-signing did not move the serial")
					}
					after := signedTransfer(t, z)
					if len(after) != 1 || slices.Contains(tagsBefore, after[0]) {
						t.Errorf("signed by %v after the re-signing, want the new ZSK only (old: %v)", after, tagsBefore)
					}
					rrs, err := z.Transfer()
					if err != nil {
						t.Fatal(err)
					}
					checkWithTools(t, writeZoneFile(t, rrs))
				}
			}
		})
	}
}

// TestResignConcurrent answers queries and applies updates while the
// background re-signing after a ZSK activation is half-way, and checks
// that every answer verifies with a published key (the zone is valid at
// every moment) and that the re-signing then finishes with the new ZSK
// alone. Run with the race detector.
func TestResignConcurrent(t *testing.T) {
	const ids = 400
	clock := newClock()
	z, _ := newZone(t, clock)
	addIdentities(t, z, 0, ids)
	if _, err := z.Presign(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Rollover(t.Context(), RoleZSK, Prepublish, RolloverOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	halfway := make(chan struct{})
	resume := make(chan struct{})
	var once, resumeOnce sync.Once
	free := func() { resumeOnce.Do(func() { close(resume) }) }
	t.Cleanup(free)
	z.resignHook = func(made int) {
		if made >= ids/2 {
			once.Do(func() {
				close(halfway)
				<-resume
			})
		}
	}
	if _, err := z.Rollover(t.Context(), RoleZSK, Activate, RolloverOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	<-halfway
	// Half the zone is signed by the new ZSK, half by the old one.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < ids; i += 4 {
				name := fmt.Sprintf("s%d._device.devices.test.", i)
				a, err := z.Query(name, dns.TypeTLSA, QueryOptions{DNSSEC: true})
				if err != nil || len(a.Answer) != 2 {
					errs <- fmt.Errorf("query %s: %v %v", name, err, a)
					return
				}
				var wire [256]byte
				n, _ := dns.PackDomainName(name, wire[:], 0, nil, false)
				if _, count, ok := z.appendAnswer(nil, wire[:n], dns.TypeTLSA, true); !ok || count != 2 {
					errs <- fmt.Errorf("fast answer %s: %v %d", name, ok, count)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			var changes []Change
			changes = append(changes, Change{Name: fmt.Sprintf("u%d._device.devices.test.", i), Records: []dns.RR{
				rr(t, fmt.Sprintf("u%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i)),
			}})
			if _, err := z.Apply(changes); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	// Every answer so far came while the re-signing waited half-way.
	rrs, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	verifyAllKeys(t, z, rrs)
	if tags := signedTransfer(t, z); len(tags) != 2 {
		t.Errorf("half-way: TLSA and NSEC3 signed by %v, want both ZSKs", tags)
	}
	free()
	if err := z.ResignWait(t.Context()); err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if tags := signedTransfer(t, z); len(tags) != 1 {
		t.Errorf("after the re-signing: signed by %v, want the new ZSK alone", tags)
	}
	if ids := z.Identities("", "", 0); len(ids) != 420 {
		t.Errorf("%d identities after the updates, want 420", len(ids))
	}
}

// TestRetireFailureKeepsResigning takes a forced ZSK retire during the
// background re-signing whose key installation fails (the store refuses
// the write): the keys stay as they were, so the re-signing it stopped
// runs again.
func TestRetireFailureKeepsResigning(t *testing.T) {
	clock := newClock()
	z, _ := newZone(t, clock)
	addIdentities(t, z, 0, 20)
	if _, err := z.Rollover(t.Context(), RoleZSK, Prepublish, RolloverOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	// Signatures by the old ZSK, for the re-signing to replace (without
	// them it finds nothing and finishes at once).
	if _, err := z.Presign(t.Context()); err != nil {
		t.Fatal(err)
	}
	// One signature a second: the re-signing is under way for the whole
	// test, waiting in its pacing, which gives way when it is stopped.
	z.opt.ResignRate = 1
	started := make(chan struct{}, 2)
	z.resignHook = func(made int) {
		if made == 0 {
			started <- struct{}{}
		}
	}
	if _, err := z.Rollover(t.Context(), RoleZSK, Activate, RolloverOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	<-started
	z.wmu.Lock()
	unfinished := resignUnfinished(z.settings)
	z.wmu.Unlock()
	if !unfinished {
		t.Fatal("the re-signing finished before the retire; the test needs it under way")
	}
	// Every write of the zone fails from now on.
	if err := z.st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Rollover(t.Context(), RoleZSK, Retire, RolloverOptions{Force: true}); err == nil {
		t.Fatal("a retire with the store closed succeeded")
	}
	if len(z.signer.Load().Retiring) == 0 {
		t.Fatal("the failed retire changed the signing keys")
	}
	// Started again: its first call of the hook. (The restarted run may
	// end at once, its writes failing on the closed store, so whether it
	// is still running says nothing; that it started does.)
	select {
	case <-started:
	case <-time.After(time.Minute):
		t.Fatal("the re-signing did not start again after the failed retire")
	}
}

// TestResignRestart closes a zone while its background re-signing is
// under way and opens it again: the settings do not record the
// re-signing as finished, so Open starts it again, it replaces every
// signature of the old ZSK, and only then may the old ZSK be retired.
func TestResignRestart(t *testing.T) {
	clock := newClock()
	z, dir := newZone(t, clock)
	addIdentities(t, z, 0, 30)
	tagsBefore := signedTransfer(t, z)
	if _, err := z.Rollover(t.Context(), RoleZSK, Prepublish, RolloverOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	// One signature a second: the re-signing is under way when the
	// zone is closed, which stops it in its pacing.
	z.opt.ResignRate = 1
	started := make(chan struct{}, 1)
	z.resignHook = func(made int) {
		if made > 0 {
			select {
			case started <- struct{}{}:
			default:
			}
		}
	}
	if _, err := z.Rollover(t.Context(), RoleZSK, Activate, RolloverOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	z, err := Open(dir, Options{Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	if err := z.ResignWait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if after := signedTransfer(t, z); len(after) != 1 || slices.Contains(tagsBefore, after[0]) {
		t.Errorf("signed by %v after the re-signing resumed, want the new ZSK only (old: %v)", after, tagsBefore)
	}
	clock.Advance(secs(z.maxDataTTL()) + PropagationDelay)
	if _, err := z.Rollover(t.Context(), RoleZSK, Retire, RolloverOptions{}); err != nil {
		t.Fatalf("retire once the resumed re-signing finished and the TTLs passed: %v", err)
	}
}
