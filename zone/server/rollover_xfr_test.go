package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/zone"
)

// TestKnotSecondaryRollover takes every step of a ZSK and then a KSK
// rollover while Knot is a secondary: every step but a ZSK activation
// (which re-signs the zone in the background) reaches Knot as an IXFR
// and costs a few signatures (the step
// changes the DNSKEY, CDS and CDNSKEY RRsets and their signatures, not the
// zone's), and Knot's copy passes kzonecheck, ldns-verify-zone and
// dnssec-verify after each step.
func TestKnotSecondaryRollover(t *testing.T) {
	ts, xk, knotPort := startKnotPrimary(t)
	for i := 0; i < 50; i++ {
		addRR(t, ts.zone, fmt.Sprintf("s%d._device.devices.test. 300 IN TLSA 3 1 1 %064x", i, i))
	}
	knotAddr := startKnot(t, ts.addr, xk, knotPort)
	waitSerial(t, knotAddr, ts.zone)
	m := ts.srv.metrics
	// The server counts a transfer after its last message, which Knot
	// may have applied first.
	settled := func(full, incr int) func() bool {
		return func() bool { return int(m.get(xfrFull.String())+m.get(xfrIncr.String())) >= full+incr }
	}
	testwait.Until(10*time.Second, settled(1, 0))
	verifySecondary(t, knotAddr)
	for _, st := range []struct {
		role zone.KeyRole
		step zone.RolloverStep
	}{
		{zone.RoleZSK, zone.Prepublish},
		{zone.RoleZSK, zone.Activate},
		{zone.RoleZSK, zone.Retire},
		{zone.RoleKSK, zone.Prepublish},
		{zone.RoleKSK, zone.Activate},
		{zone.RoleKSK, zone.Retire},
	} {
		full, incr := int(m.get(xfrFull.String())), int(m.get(xfrIncr.String()))
		made := ts.zone.SignaturesMade()
		if _, err := ts.zone.Rollover(t.Context(), st.role, st.step, zone.RolloverOptions{Force: true}); err != nil {
			t.Fatalf("%s %s: %v", st.role, st.step, err)
		}
		if st.step == zone.Activate && st.role == zone.RoleZSK {
			// The rest of the zone is signed again in the background
			// (how much of it a transfer sees depends on timing);
			// Knot follows and its copy stays valid.
			if err := ts.zone.ResignWait(t.Context()); err != nil {
				t.Fatal(err)
			}
			waitSerial(t, knotAddr, ts.zone)
			testwait.Until(10*time.Second, settled(full, incr+1))
			verifySecondary(t, knotAddr)
			continue
		}
		waitSerial(t, knotAddr, ts.zone)
		testwait.Until(10*time.Second, settled(full, incr+1))
		if n := ts.zone.SignaturesMade() - made; n > 8 {
			t.Errorf("%s %s: %d signatures made, want at most 8", st.role, st.step, n)
		}
		if f, i := int(m.get(xfrFull.String())), int(m.get(xfrIncr.String())); f != full || i <= incr {
			t.Errorf("%s %s: %d full and %d incremental transfers since the step, want one or more IXFR only", st.role, st.step, f-full, i-incr)
		}
		verifySecondary(t, knotAddr)
	}
}
