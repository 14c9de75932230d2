package journal

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone/internal/image"
)

// source hides an Image behind image.Source, as the zone's snapshots are:
// diffSources then reads it in order instead of by index.
type source struct{ im *image.Image }

func (s source) Len() int                            { return s.im.Len() }
func (s source) SOA() (*dns.SOA, error)              { return s.im.SOA() }
func (s source) Each(fn func(rr []byte) error) error { return s.im.Each(fn) }

func rrLines(rrs []dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Comparing two zones read in order (diffStream: a journal loaded from its
// file against the zone's first snapshot) gives the differences comparing
// them packed gives (diffImages), in the same order, over random versions:
// names added and removed, data and TTLs changed, runs of changes longer
// than the walk looks ahead, and the order of the names shuffled.
func TestDiffStreamMatchesImages(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	version := func(serial uint32) []dns.RR {
		var recs []string
		for n := range 60 {
			if rng.IntN(3) == 0 {
				continue
			}
			ttl := 300
			if rng.IntN(8) == 0 {
				ttl = 60
			}
			recs = append(recs, tlsa(fmt.Sprintf("n%d", n), ttl, rng.IntN(3)))
		}
		if rng.IntN(4) == 0 {
			rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
		}
		return zoneOf(t, serial, recs)
	}
	changed := 0
	prev := version(1)
	for step := 2; step < 200; step++ {
		cur := version(uint32(step))
		a, err := image.Pack(prev)
		if err != nil {
			t.Fatal(err)
		}
		b, err := image.Pack(cur)
		if err != nil {
			t.Fatal(err)
		}
		wantDel, wantAdd, err := diffImages(a, b)
		if err != nil {
			t.Fatal(err)
		}
		del, add, err := diffSources(source{a}, source{b})
		if err != nil {
			t.Fatal(err)
		}
		if rrLines(del) != rrLines(wantDel) || rrLines(add) != rrLines(wantAdd) {
			t.Fatalf("step %d: read in order\n-%s+%s\nwant\n-%s+%s", step, rrLines(del), rrLines(add), rrLines(wantDel), rrLines(wantAdd))
		}
		if len(del)+len(add) > 0 {
			changed++
		}
		prev = cur
	}
	if changed < 150 {
		t.Fatalf("only %d versions differed", changed)
	}
}
