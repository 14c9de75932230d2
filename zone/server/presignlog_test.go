package server

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/testwait"
)

// presignLine matches the log line of a presign run that signed
// something, with what it walked and what it looked at.
var presignLine = regexp.MustCompile(`msg="zone presigned" signatures=(\d+) walk=(\S+) names=(\d+) chain_entries=(\d+)`)

// TestPresignLogSaysWhatWasWalked: the operator can tell from the log a
// run that walked the whole zone (the first after start) from one that
// looked only at the change since (an identity added).
func TestPresignLogSaysWhatWasWalked(t *testing.T) {
	var logs syncLog
	ts := startServerWith(t, func(c *Config) { c.TransferFrom = loopback; c.Logger = logs.logger() })
	// lines waits for n presign lines and returns them.
	lines := func(n int) [][]string {
		t.Helper()
		var got [][]string
		testwait.Eventually(t, 30*time.Second, func() error {
			got = presignLine.FindAllStringSubmatch(logs.String(), -1)
			if len(got) < n {
				return fmt.Errorf("%d presign lines logged, want %d:\n%s", len(got), n, logs.String())
			}
			return nil
		})
		return got
	}
	// The first run after start (nothing else starts one until the zone
	// changes) walks everything.
	first := lines(1)
	if w := first[0][2]; w != "full" {
		t.Fatalf("the first run after start logged walk=%s, want full:\n%s", w, logs.String())
	}
	before := len(first)
	addRR(t, ts.zone, fmt.Sprintf("new._device.%s 300 IN TLSA 3 1 1 %064x", origin, 99))
	got := lines(before + 1)
	last := got[len(got)-1]
	if last[2] != "incremental" || last[3] == "0" || len(last[3]) > 1 || last[1] == "0" {
		t.Fatalf("after one identity added the run logged %q; want walk=incremental, a few names and some signatures", strings.TrimSpace(last[0]))
	}
}
