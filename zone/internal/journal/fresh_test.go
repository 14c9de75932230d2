package journal

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// A journal records versions of a zone whose RRs are new objects each
// time (the zone decodes them afresh for every transfer): the differences
// are still only what changed.
func TestRecordFreshObjects(t *testing.T) {
	var recs []string
	for i := 0; i < 1000; i++ {
		recs = append(recs, tlsa(fmt.Sprintf("d%d", i), 300, i))
	}
	j := New(0, 0)
	if _, err := j.Record(zoneOf(t, 1, recs)); err != nil {
		t.Fatal(err)
	}
	recs[500] = tlsa("d500", 300, 9999)
	if _, err := j.Record(zoneOf(t, 2, recs)); err != nil {
		t.Fatal(err)
	}
	vs, ok := j.Since(1)
	if !ok || len(vs) != 1 {
		t.Fatalf("versions since 1: %v %v", vs, ok)
	}
	if len(vs[0].Deleted) != 1 || len(vs[0].Added) != 1 {
		t.Fatalf("%d deleted, %d added; want 1, 1", len(vs[0].Deleted), len(vs[0].Added))
	}
	if got := vs[0].Added[0].(*dns.TLSA).Certificate; got != fmt.Sprintf("%064x", 9999) {
		t.Errorf("added record has certificate data %s", got)
	}
	// The same serial again gets the content recorded first.
	again, err := j.Record(zoneOf(t, 2, append(recs[:10:10], recs[11:]...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(recs)+2 {
		t.Errorf("same serial gave %d RRs, want the %d recorded", len(again), len(recs)+2)
	}
}
