package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dnsbound/dance/zone/internal/image"
)

// versionsText renders versions for comparison.
func versionsText(vs []Version) string {
	var b bytes.Buffer
	for _, v := range vs {
		fmt.Fprintf(&b, "%d->%d\n", v.From.Serial, v.To.Serial)
		for _, rr := range v.Deleted {
			fmt.Fprintf(&b, "- %s\n", rr)
		}
		for _, rr := range v.Added {
			fmt.Fprintf(&b, "+ %s\n", rr)
		}
	}
	return b.String()
}

// recorded is a journal that recorded serials 1..4 of a small zone.
func recorded(t testing.TB) *Journal {
	t.Helper()
	j := New(0, 0)
	recs := []string{tlsa("a", 300, 1), tlsa("b", 300, 2), tlsa("c", 300, 3)}
	for serial := uint32(1); serial <= 4; serial++ {
		recs[serial%3] = tlsa(fmt.Sprintf("n%d", serial), 300, int(serial))
		if _, err := j.Record(zoneOf(t, serial, recs)); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

// A saved journal loads back the same: the last zone octet for octet and
// every version, so a secondary at any kept serial gets the same
// differences after a restart.
func TestJournalFileRoundTrip(t *testing.T) {
	j := recorded(t)
	path := filepath.Join(t.TempDir(), "ixfr.journal")
	if err := j.Save(path, testGen); err != nil {
		t.Fatal(err)
	}
	for _, zoneSerial := range []uint32{4, 5, 9} { // the zone at the journal's serial or ahead of it
		k := New(0, 0)
		ok, err := k.Load(path, testGen, zoneSerial)
		if err != nil || !ok {
			t.Fatalf("zone at %d: load %v %v", zoneSerial, ok, err)
		}
		as, _ := j.Newest()
		bs, _ := k.Newest()
		a, err := image.Collect(as)
		if err != nil {
			t.Fatal(err)
		}
		b, err := image.Collect(bs)
		if err != nil {
			t.Fatal(err)
		}
		if a.Len() != b.Len() {
			t.Fatalf("last zone: %d RRs, want %d", b.Len(), a.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if !bytes.Equal(a.RR(i), b.RR(i)) {
				t.Fatalf("last zone RR %d differs", i)
			}
		}
		for from := uint32(1); from <= 4; from++ {
			va, oka := j.Since(from)
			vb, okb := k.Since(from)
			if oka != okb || versionsText(va) != versionsText(vb) {
				t.Fatalf("since %d: loaded %v\n%s\nwant %v\n%s", from, okb, versionsText(vb), oka, versionsText(va))
			}
		}
	}
	// A zone older than the journal (restored from a backup) does not
	// take it.
	k := New(0, 0)
	if ok, err := k.Load(path, testGen, 3); ok || err != nil {
		t.Fatalf("zone at 3, journal at 4: loaded %v (%v)", ok, err)
	}
	if _, ok := k.Newest(); ok {
		t.Fatal("refused journal left data behind")
	}
	// Smaller bounds apply to what is loaded.
	k = New(1, 0)
	if ok, err := k.Load(path, testGen, 4); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if v, _ := k.Len(); v != 1 {
		t.Fatalf("%d versions kept with a bound of 1", v)
	}
	// An empty journal saves as no file.
	if err := New(0, 0).Save(path, testGen); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty journal left a file: %v", err)
	}
}

// A damaged file loads nothing and says so.
func TestJournalFileDamaged(t *testing.T) {
	j := recorded(t)
	path := filepath.Join(t.TempDir(), "ixfr.journal")
	if err := j.Save(path, testGen); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{1, len(fileMagic) + 3, len(data) / 2, len(data) - 1} {
		os.WriteFile(path, data[:cut], 0o600)
		k := New(0, 0)
		if ok, err := k.Load(path, testGen, 4); ok || !errors.Is(err, ErrFile) {
			t.Errorf("cut to %d octets: loaded %v (%v)", cut, ok, err)
		}
		if _, ok := k.Newest(); ok {
			t.Errorf("cut to %d octets: data left behind", cut)
		}
	}
	os.WriteFile(path, append(data, 0), 0o600)
	if ok, err := New(0, 0).Load(path, testGen, 4); ok || !errors.Is(err, ErrFile) {
		t.Errorf("trailing octet: loaded %v (%v)", ok, err)
	}
}

// FuzzJournalFile loads arbitrary files: no panic, and a failed load
// leaves the journal empty.
func FuzzJournalFile(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed")
	if err := recorded(f).Save(path, testGen); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/3])
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "j")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		j := New(0, 0)
		ok, err := j.Load(p, testGen, 4)
		if (err != nil || !ok) && j.lastSOA != nil {
			t.Fatal("failed load left data behind")
		}
		if ok {
			if _, ok := j.Since(j.lastSOA.Serial); !ok {
				t.Fatal("loaded journal does not know its own serial")
			}
			for _, v := range j.versions {
				if len(Response(v.To, []Version{v})) != v.size()+2 {
					t.Fatal("a loaded version does not lay out as an IXFR answer")
				}
			}
		}
	})
}

// testGen stands for the generation of a zone's store (store.Generation).
var testGen = []byte("generation-one..")

// A file written at another generation of the store is not loaded,
// whatever its serials say: the zone changed after it was written (a
// server that crashed cannot write what it sent since), or the store was
// replaced by another one at the same serial. Version 1 files, which
// carry no generation, are not loaded either.
func TestJournalFileStale(t *testing.T) {
	j := recorded(t)
	path := filepath.Join(t.TempDir(), "ixfr.journal")
	if err := j.Save(path, testGen); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		gen  []byte
	}{
		{"another generation", []byte("generation-two..")},
		{"a prefix of it", testGen[:8]},
		{"none", nil},
	} {
		k := New(0, 0)
		if ok, err := k.Load(path, tt.gen, 4); ok || !errors.Is(err, ErrStale) {
			t.Errorf("%s: loaded %v (%v), want ErrStale", tt.name, ok, err)
		}
		if _, ok := k.Newest(); ok {
			t.Errorf("%s: data left behind", tt.name)
		}
	}
	if err := j.Save(path, nil); err == nil {
		t.Error("saved without a generation")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v1 := append([]byte("dance ixfr journal 1\n"), data[len(fileMagic)+1+len(testGen):]...)
	os.WriteFile(path, v1, 0o600)
	if ok, err := New(0, 0).Load(path, testGen, 4); ok || err == nil {
		t.Errorf("version 1 file: loaded %v (%v)", ok, err)
	}
}
