package journal

import (
	"path/filepath"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/image"
)

// loaded is a journal read back from the file recorded(t) saves: its
// newest version, at serial 4, is an image read from the file.
func loaded(t *testing.T) *Journal {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ixfr.journal")
	if err := recorded(t).Save(path, testGen); err != nil {
		t.Fatal(err)
	}
	j := New(0, 0)
	if ok, err := j.Load(path, testGen, 4); !ok || err != nil {
		t.Fatalf("load: %v %v", ok, err)
	}
	return j
}

// zone4 is recorded(t)'s newest zone, in the order given, packed anew.
func zone4(t *testing.T, recs ...string) image.Source {
	t.Helper()
	im, err := image.Pack(zoneOf(t, 4, recs))
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// Adopt takes the zone in place of the loaded one only when it is the
// same zone, RR for RR: anything else a secondary could hold under serial
// 4 is kept.
func TestAdopt(t *testing.T) {
	n2, n3, n4 := tlsa("n2", 300, 2), tlsa("n3", 300, 3), tlsa("n4", 300, 4)
	other := func(t *testing.T, serial uint32, minttl uint32) image.Source {
		z := zoneOf(t, serial, []string{n3, n4, n2})
		z[0].(*dns.SOA).Minttl, z[len(z)-1].(*dns.SOA).Minttl = minttl, minttl
		im, err := image.Pack(z)
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	for _, tt := range []struct {
		name string
		src  func(t *testing.T) image.Source
		want bool
	}{
		{"same RRs, same order", func(t *testing.T) image.Source { return zone4(t, n3, n4, n2) }, true},
		{"same RRs, other order", func(t *testing.T) image.Source { return zone4(t, n2, n3, n4) }, true},
		{"one RR's data differs", func(t *testing.T) image.Source { return zone4(t, n3, n4, tlsa("n2", 300, 99)) }, false},
		{"one RR's TTL differs", func(t *testing.T) image.Source { return zone4(t, n3, n4, tlsa("n2", 301, 2)) }, false},
		{"one RR more", func(t *testing.T) image.Source { return zone4(t, n3, n4, n2, tlsa("x", 300, 5)) }, false},
		{"one RR fewer", func(t *testing.T) image.Source { return zone4(t, n3, n4) }, false},
		{"one RR replaced, same count", func(t *testing.T) image.Source { return zone4(t, n3, n4, tlsa("x", 300, 2)) }, false},
		{"the SOA differs", func(t *testing.T) image.Source { return other(t, 4, 1234) }, false},
		{"another serial", func(t *testing.T) image.Source { return other(t, 5, soa(5).Minttl) }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := loaded(t)
			before, _ := j.Newest()
			src := tt.src(t)
			got, err := j.Adopt(src)
			if err != nil || got != tt.want {
				t.Fatalf("Adopt: %v %v, want %v", got, err, tt.want)
			}
			newest, _ := j.Newest()
			if want := map[bool]image.Source{true: src, false: before}[tt.want]; newest != want {
				t.Fatalf("the newest version is not the %s one", map[bool]string{true: "adopted", false: "loaded"}[tt.want])
			}
			// The versions before stay, whatever Adopt did: a secondary
			// at serial 1 still gets its differences.
			if vs, ok := j.Since(1); !ok || len(vs) != 3 {
				t.Fatalf("since 1: %d versions, %v; want 3", len(vs), ok)
			}
		})
	}
}

// racingSource is a Source that, the first time it is read, has the
// journal record another version: a transfer that came in while Adopt
// compared.
type racingSource struct {
	image.Source
	j     *Journal
	next  image.Source
	raced bool
	t     *testing.T
}

func (r *racingSource) Each(fn func([]byte) error) error {
	if !r.raced {
		r.raced = true
		if _, err := r.j.RecordZone(r.next); err != nil {
			r.t.Error(err)
		}
	}
	return r.Source.Each(fn)
}

// A version recorded while Adopt compares wins: Adopt leaves it.
func TestAdoptRace(t *testing.T) {
	j := loaded(t)
	n2, n3, n4 := tlsa("n2", 300, 2), tlsa("n3", 300, 3), tlsa("n4", 300, 4)
	next, err := image.Pack(zoneOf(t, 5, []string{n3, n4, tlsa("n5", 300, 5)}))
	if err != nil {
		t.Fatal(err)
	}
	src := &racingSource{Source: zone4(t, n2, n3, n4), j: j, next: next, t: t}
	if got, err := j.Adopt(src); got || err != nil {
		t.Fatalf("Adopt with a version recorded meanwhile: %v %v, want false", got, err)
	}
	if !src.raced {
		t.Fatal("the comparison never read the zone; the test wants the race")
	}
	if newest, _ := j.Newest(); newest != image.Source(next) {
		t.Fatal("the version recorded meanwhile was replaced")
	}
}
