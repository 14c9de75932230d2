package server

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestLargeTransferReleasesMemory: a transfer that decoded many records
// hands the memory back to the system once it ends; a transfer of the SOA
// alone (the secondary is current) and a refused one do not force a
// collection.
func TestLargeTransferReleasesMemory(t *testing.T) {
	oldN, oldRelease := xfrReleaseRecords, releaseMemory
	t.Cleanup(func() { xfrReleaseRecords, releaseMemory = oldN, oldRelease })
	var calls atomic.Int32
	xfrReleaseRecords = 5
	releaseMemory = func() { calls.Add(1) }

	var logs syncLog
	ts := startServerWith(t, func(c *Config) { c.TransferFrom = loopback; c.Logger = logs.logger() })
	rrs, err := axfr(t, ts.addr, dns.TypeAXFR, 0, nil)
	if err != nil || len(rrs) < xfrReleaseRecords {
		t.Fatalf("AXFR: %d records, %v; the test wants at least %d", len(rrs), err, xfrReleaseRecords)
	}
	// The release follows the last message the client read.
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("after a full transfer of %d records: memory released %d times, want 1", len(rrs), n)
	}
	// The release is logged once it is done, so that an operator (and
	// zone/bench/run.sh) can tell when the transfer's work has ended.
	for !strings.Contains(logs.String(), "memory returned to the system after a large transfer") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "memory returned to the system after a large transfer"); n != 1 {
		t.Fatalf("the release logged %d times, want 1:\n%s", n, logs.String())
	}
	serial := rrs[0].(*dns.SOA).Serial
	if got, err := axfr(t, ts.addr, dns.TypeIXFR, serial, nil); err != nil || len(got) != 1 {
		t.Fatalf("IXFR from the current serial: %d records, %v; want the SOA alone", len(got), err)
	}
	refused := startServerWith(t, nil)
	if got, err := axfr(t, refused.addr, dns.TypeAXFR, 0, nil); err == nil && len(got) > 0 {
		t.Fatal("transfer allowed without TransferFrom")
	}
	// Give a wrongly released memory the time to show.
	time.Sleep(100 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("after a current IXFR and a refused AXFR: memory released %d times in all, want 1", n)
	}
	if n := strings.Count(logs.String(), "memory returned to the system"); n != 1 {
		t.Fatalf("after a current IXFR and a refused AXFR: the release logged %d times, want 1", n)
	}
}
