package zone

import (
	"bytes"
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
)

// unsigned counts the RRsets and NSEC3 records of z without fresh cached
// signatures by z's signer, walking names and chain as they are (not as
// Presign walks them).
func unsigned(t *testing.T, z *Zone) (rrsets, chain int) {
	t.Helper()
	z.mu.RLock()
	defer z.mu.RUnlock()
	sg := z.signer.Load()
	for _, n := range z.names {
		for _, typ := range n.types() {
			if n.cachedSigs(&z.chain.store, sg, typ) == nil {
				rrsets++
			}
		}
	}
	ttl := z.negativeTTL()
	err := z.chain.eachKey(func(h, next hashKey, sl *chainSlot) error {
		rec := appendNSEC3Rec(nil, next, z.names[string(z.chain.nameOf(sl))], ttl)
		if z.chain.cachedSigs(sl, sg, rec) == nil {
			chain++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rrsets, chain
}

// setPresignBatch makes presign batches of n for the test.
func setPresignBatch(t *testing.T, n int) {
	old := presignBatch
	presignBatch = n
	t.Cleanup(func() { presignBatch = old })
}

// TestPresignBatches: a chain of many chunks walked in small batches,
// resumed after each, ends up signed whole, and the signatures verify.
func TestPresignBatches(t *testing.T) {
	setPresignBatch(t, 7)
	z, _ := newZone(t, newClock())
	addIdentities(t, z, 0, 3*chunkMax/2)
	if len(z.chain.chunks) < 2 {
		t.Fatalf("chain in %d chunks; the test wants several", len(z.chain.chunks))
	}
	made, err := z.Presign(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r, c := unsigned(t, z); r != 0 || c != 0 {
		t.Fatalf("after Presign (%d signatures): %d RRsets and %d NSEC3 records unsigned", made, r, c)
	}
	if made < 2*3*chunkMax/2 {
		t.Fatalf("Presign made %d signatures for %d identities", made, 3*chunkMax/2)
	}
	if again, err := z.Presign(context.Background()); err != nil || again != 0 {
		t.Fatalf("second Presign: %d signatures, %v", again, err)
	}
	rrs, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	verifyAllKeys(t, z, rrs)
}

// TestPresignChangesMeanwhile: names added and removed while Presign
// walks (between its batches) are signed by the run their change starts:
// after it, nothing is left unsigned.
func TestPresignChangesMeanwhile(t *testing.T) {
	setPresignBatch(t, 5)
	z, _ := newZone(t, newClock())
	addIdentities(t, z, 0, 300)
	steps := 0
	presignStep = func(chain bool) {
		// In the middle of the chain walk (it is in batches of 5): names
		// come and go ahead of the walk and behind it, as concurrent
		// updates would make them.
		if chain {
			steps++
		}
		if steps == 20 {
			addIdentities(t, z, 1000, 40)
			if _, err := z.Apply([]Change{{Mode: change.Remove, Name: "s7._device.devices.test."}, {Mode: change.Remove, Name: "s200._device.devices.test."}}); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(func() { presignStep = nil })
	if _, err := z.Presign(context.Background()); err != nil {
		t.Fatal(err)
	}
	if steps < 20 {
		t.Fatalf("the chain walk took %d batches; the test changes the zone in the 20th", steps)
	}
	if r, c := unsigned(t, z); c == 0 {
		t.Fatalf("%d RRsets and no NSEC3 record unsigned after a change behind the walk", r)
	}
	if _, err := z.Presign(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, c := unsigned(t, z); r != 0 || c != 0 {
		t.Fatalf("%d RRsets and %d NSEC3 records unsigned", r, c)
	}
	rrs, err := z.Transfer()
	if err != nil {
		t.Fatal(err)
	}
	verifyAllKeys(t, z, rrs)
}

// TestPresignAheadDefersChain: while the zone changes in bulk during a
// run, PresignAhead signs the new RRsets and leaves the chain to the next
// run; Presign signs it anyway; a small change does not defer it.
func TestPresignAheadDefersChain(t *testing.T) {
	setPresignBatch(t, 10)
	for _, tc := range []struct {
		name      string
		ahead     bool
		batch     int // identities in the change during the run
		wantChain bool
	}{
		{"ahead, bulk", true, 50, false},
		{"ahead, no change meanwhile", true, 0, true},
		{"full, bulk", false, 50, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z, _ := newZone(t, newClock())
			addIdentities(t, z, 0, 50)
			presignStep = func(chain bool) {
				if !chain && tc.batch > 0 {
					addIdentities(t, z, 1000, tc.batch)
				}
				presignStep = nil
			}
			t.Cleanup(func() { presignStep = nil })
			// run runs the one or the other; chain left is what a
			// PresignAhead run reports (a full walk never leaves it).
			run := func() (left bool) {
				t.Helper()
				if !tc.ahead {
					if _, err := z.Presign(context.Background()); err != nil {
						t.Fatal(err)
					}
					return false
				}
				r, err := z.PresignAhead(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				return r.ChainLeft
			}
			left := run()
			_, c := unsigned(t, z)
			// A chain left alone has all its 100 and more records
			// unsigned; a chain signed, none.
			if signedChain := c < 50; signedChain != tc.wantChain || left == tc.wantChain {
				t.Fatalf("%d NSEC3 records unsigned; chain signed: %v, want %v; the run reported the chain left: %v", c, signedChain, tc.wantChain, left)
			}
			run()
			if r, c := unsigned(t, z); r != 0 || c != 0 {
				t.Fatalf("after the next run: %d RRsets and %d NSEC3 records unsigned", r, c)
			}
		})
	}
}

// TestNSEC3Owner: the owner name presigning signs an NSEC3 record under
// is the canonical wire form of the record's owner.
func TestNSEC3Owner(t *testing.T) {
	z, _ := newZone(t, newClock())
	var origin [256]byte
	on, err := dns.PackDomainName(z.settings.Origin, origin[:], 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"devices.test.", "a._device.devices.test.", "Mixed.Case._device.devices.test."} {
		h := hashKeyOf(name)
		rr := z.nsec3Of(h.String(), h.String(), nil, 60)
		want := make([]byte, 256)
		n, err := dns.PackDomainName(dns.CanonicalName(rr.Hdr.Name), want, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := nsec3Owner(nil, h, origin[:on]); !bytes.Equal(got, want[:n]) {
			t.Errorf("%s: owner %x, want %x", name, got, want[:n])
		}
	}
}

// TestPresignReleasesMemory: a presign run that made many signatures
// hands the memory it freed back to the system once, at its end; a run
// with little to do does not force a collection.
func TestPresignReleasesMemory(t *testing.T) {
	oldAfter, oldRelease := releaseAfterSignatures, releaseMemory
	t.Cleanup(func() { releaseAfterSignatures, releaseMemory = oldAfter, oldRelease })
	releaseAfterSignatures = 50
	calls := 0
	releaseMemory = func() { calls++ }
	z, _ := newZone(t, newClock())
	addIdentities(t, z, 0, 40)
	made, err := z.Presign(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if made < 50 || calls != 1 {
		t.Fatalf("a run of %d signatures released memory %d times, want once", made, calls)
	}
	addIdentities(t, z, 100, 2)
	made, err = z.Presign(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if made == 0 || made >= 50 || calls != 1 {
		t.Fatalf("a run of %d signatures: memory released %d times in all, want 1", made, calls)
	}
}
