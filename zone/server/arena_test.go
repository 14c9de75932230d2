package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/dnsbound/dance/zone/internal/slab"
)

// The zone's arena slabs are made inaccessible instead of unmapped when
// released, in every test of this package: an answer, transfer or cache
// write that read a released slab would fault instead of passing.
func init() { slab.SetCheck(true) }

// TestArenaBytesMetric checks that dance_zone_arena_bytes reports the
// zone's arena and grows as identities are signed (by whole slabs of
// 1 MB: 5,000 presigned identities take more than one).
func TestArenaBytesMetric(t *testing.T) {
	ts := startServer(t, nil)
	before := limitMetric(t, ts.srv, "dance_zone_arena_bytes", "")
	if before != float64(ts.zone.ArenaBytes()) {
		t.Fatalf("metric %v, zone reports %d", before, ts.zone.ArenaBytes())
	}
	var rrs []string
	for i := 0; i < 5000; i++ {
		rrs = append(rrs, fmt.Sprintf("d%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i))
	}
	addRR(t, ts.zone, rrs[:2500]...)
	addRR(t, ts.zone, rrs[2500:]...)
	if _, err := ts.zone.Presign(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := limitMetric(t, ts.srv, "dance_zone_arena_bytes", "")
	if after <= before || after < 5000*200 {
		t.Fatalf("arena of 5000 presigned identities reported as %v bytes (%v before)", after, before)
	}
}
