package zone

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/change"
	"github.com/dnsbound/dance/zone/internal/store"
)

// sigZone is a presigned zone of n identities and its directory.
func sigZone(t testing.TB, clock *fakeClock, n int) (*Zone, string) {
	t.Helper()
	z, dir := newZone(t, clock)
	var cs []Change
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("d%d.g%d._device.devices.test.", i, i%5)
		cs = append(cs, Change{Mode: change.Add, Name: name, Records: []dns.RR{rr(t, fmt.Sprintf("%s 300 IN TLSA 3 1 1 %064x", name, i))}})
	}
	if _, err := z.Apply(cs); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Presign(context.Background()); err != nil {
		t.Fatal(err)
	}
	return z, dir
}

func reopen(t *testing.T, z *Zone, dir string, clock *fakeClock) *Zone {
	t.Helper()
	if err := closeWithoutSaving(z); err != nil {
		t.Fatal(err)
	}
	z2, err := Open(dir, Options{Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z2.Close() })
	return z2
}

// closeWithoutSaving releases z's store as a crash would, leaving the
// signature cache as the test last wrote it (Close writes it).
func closeWithoutSaving(z *Zone) error {
	z.closeOnce.Do(func() { z.closeErr = z.st.Close() })
	return z.closeErr
}

// TestCloseSavesSignatures: Close writes the signature cache, so that an
// embedder who only closes the zone gets the next start's signatures.
func TestCloseSavesSignatures(t *testing.T) {
	clock := newClock()
	z, dir := sigZone(t, clock, 5)
	if _, err := z.transferImage(); err != nil { // sign everything
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	z2, err := Open(dir, Options{Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer z2.Close()
	if n, err := z2.SignaturesLoaded(); n == 0 || err != nil {
		t.Fatalf("after Close, Open loaded %d signatures (%v)", n, err)
	}
}

// Signatures saved when the server stops are used after the restart: no
// signature is made again, the transferred zone is the same octets (so a
// secondary's copy and the next differences still agree), and the real
// zone checkers accept it.
func TestSignaturesSurviveRestart(t *testing.T) {
	clock := newClock()
	z, dir := sigZone(t, clock, 200)
	before, err := z.transferImage()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := z.saveSignatures()
	if err != nil {
		t.Fatal(err)
	}
	// Every name with data and every NSEC3 record: 200 identities, the
	// apex, ns1, and the chain (names plus empty non-terminals).
	if want := len(z.names) + z.chain.n; saved != want {
		t.Fatalf("saved %d records, want %d", saved, want)
	}
	z2 := reopen(t, z, dir, clock)
	if n, err := z2.SignaturesLoaded(); err != nil || n != saved {
		t.Fatalf("loaded %d (%v), want %d", n, err, saved)
	}
	if made, err := z2.Presign(context.Background()); err != nil || made != 0 {
		t.Fatalf("presign after restart made %d signatures (%v), want 0", made, err)
	}
	after, err := z2.transferImage()
	if err != nil {
		t.Fatal(err)
	}
	if after.Len() != before.Len() || after.Bytes() != before.Bytes() {
		t.Fatalf("transfer after restart: %d RRs, %d octets; before: %d, %d", after.Len(), after.Bytes(), before.Len(), before.Bytes())
	}
	for i := 0; i < before.Len(); i++ {
		if !bytes.Equal(before.RR(i), after.RR(i)) {
			t.Fatalf("RR %d differs after restart", i)
		}
	}
	rrs, err := after.Unpack()
	if err != nil {
		t.Fatal(err)
	}
	checkWithTools(t, writeZoneFile(t, rrs))
}

// A cache written at another serial, or a damaged one, is not used; the
// zone opens and signs again.
func TestSignatureCacheRejected(t *testing.T) {
	t.Run("changed since", func(t *testing.T) {
		clock := newClock()
		z, dir := sigZone(t, clock, 20)
		if _, err := z.saveSignatures(); err != nil {
			t.Fatal(err)
		}
		// A change after the save, then a stop without one (a crash).
		if _, err := z.Apply([]Change{{Mode: change.Remove, Name: "d3.g3._device.devices.test."}}); err != nil {
			t.Fatal(err)
		}
		z2 := reopen(t, z, dir, clock)
		if n, err := z2.SignaturesLoaded(); n != 0 || err != nil {
			t.Fatalf("loaded %d (%v) from a cache of another serial", n, err)
		}
		if made, err := z2.Presign(context.Background()); err != nil || made == 0 {
			t.Fatalf("presign made %d (%v), want everything signed again", made, err)
		}
	})
	t.Run("damaged", func(t *testing.T) {
		clock := newClock()
		z, dir := sigZone(t, clock, 20)
		if _, err := z.saveSignatures(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, SigCacheFile)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data[:len(data)-7], 0o600); err != nil {
			t.Fatal(err)
		}
		z2 := reopen(t, z, dir, clock)
		if n, err := z2.SignaturesLoaded(); n != 0 || !errors.Is(err, errSigCache) {
			t.Fatalf("damaged cache: loaded %d (%v)", n, err)
		}
		a, err := z2.Query("d1.g1._device.devices.test.", dns.TypeTLSA, QueryOptions{DNSSEC: true})
		if err != nil || a.Outcome != Success || len(a.Answer) != 2 {
			t.Fatalf("query after a damaged cache: %v %v", a, err)
		}
	})
}

// FuzzSignatureCache opens a zone next to arbitrary cache file contents:
// no panic, and a file that is rejected loads nothing.
func FuzzSignatureCache(f *testing.F) {
	clock := newClock()
	z, dir := sigZone(f, clock, 3)
	if _, err := z.saveSignatures(); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(filepath.Join(dir, SigCacheFile))
	if err != nil {
		f.Fatal(err)
	}
	z.Close()
	f.Add(valid) // made here: a stored file would not match this zone's keys
	f.Add(valid[:len(valid)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, SigCacheFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		z, err := Open(dir, Options{Time: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer z.Close()
		if n, err := z.SignaturesLoaded(); err != nil && n != 0 {
			t.Fatalf("rejected cache (%v) loaded %d records", err, n)
		}
	})
}

// TestSignatureCacheStoreChanged: a signature cache written before the
// store changed at the same serial (a database edited or restored
// underneath) is not used: its signatures would cover records the zone no
// longer holds. Before, the serial and the keys were all that was checked,
// and the zone served a TLSA RRset with a signature over the old one.
func TestSignatureCacheStoreChanged(t *testing.T) {
	clock := newClock()
	z, dir := sigZone(t, clock, 3)
	const name = "d1.g1._device.devices.test."
	if _, err := z.saveSignatures(); err != nil {
		t.Fatal(err)
	}
	serial := z.Serial()
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	// Another TLSA record at the same serial, written to the store as an
	// edit or a restore would.
	st, err := store.Open(filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(func(tx *store.Tx) error {
		return tx.Put(name, dns.TypeTLSA, []dns.RR{rr(t, name+" 300 IN TLSA 3 1 1 ffff")})
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	z, err = Open(dir, Options{Time: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if z.Serial() != serial {
		t.Fatal("serial changed")
	}
	if n, err := z.SignaturesLoaded(); n != 0 || err != nil {
		t.Errorf("signature cache of another store state used: %d records (%v)", n, err)
	}
	a, err := z.Query(name, dns.TypeTLSA, QueryOptions{DNSSEC: true})
	if err != nil {
		t.Fatal(err)
	}
	var set []dns.RR
	var sigs []*dns.RRSIG
	for _, x := range a.Answer {
		switch x := x.(type) {
		case *dns.TLSA:
			set = append(set, x)
		case *dns.RRSIG:
			sigs = append(sigs, x)
		}
	}
	zsk := z.signer.Load().KeysFor(dns.TypeTLSA)
	if len(set) != 1 || len(sigs) == 0 || len(zsk) == 0 {
		t.Fatalf("answer %v", a.Answer)
	}
	for _, sig := range sigs {
		if err := sig.Verify(zsk[0].DNSKEY, set); err != nil {
			t.Fatalf("served signature does not cover the stored RRset: %v", err)
		}
	}
}

// TestSignatureCacheLongChainRecord: a cache record for an NSEC3 entry
// whose packed record is longer than the arena's header can say (a
// damaged or crafted file) is skipped, and the rest of the cache still
// loads, instead of failing the whole load.
func TestSignatureCacheLongChainRecord(t *testing.T) {
	clock := newClock()
	z, dir := sigZone(t, clock, 20)
	saved, err := z.saveSignatures()
	if err != nil {
		t.Fatal(err)
	}
	const name = "d1.g1._device.devices.test."
	z.mu.RLock()
	si, ok := z.chain.entries[hashKeyOf(name)]
	held := ok && string(z.chain.nameOf(z.chain.store.slot(si))) == name
	z.mu.RUnlock()
	if !held {
		t.Fatalf("the chain has no entry named %s", name)
	}
	path := filepath.Join(dir, SigCacheFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// One more chain record for that name: a packed record of
	// maxNSEC3Rec+1 octets and no signatures.
	split := maxNSEC3Rec + 1
	data = append(data, sigRecChain, byte(len(name)))
	data = append(data, name...)
	data = binary.BigEndian.AppendUint32(data, uint32(split))
	data = binary.BigEndian.AppendUint32(data, uint32(split))
	data = append(data, make([]byte, split)...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	z2 := reopen(t, z, dir, clock)
	if n, err := z2.SignaturesLoaded(); err != nil || n != saved {
		t.Fatalf("loaded %d (%v), want the %d saved records and the long one skipped", n, err, saved)
	}
	if made, err := z2.Presign(context.Background()); err != nil || made != 0 {
		t.Fatalf("presign made %d signatures (%v), want 0", made, err)
	}
}
