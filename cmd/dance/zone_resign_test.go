package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestZoneServeResignRate: dance zone serve refuses a re-signing rate
// that is not a positive number of signatures per second, before it opens
// anything.
func TestZoneServeResignRate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	if code := run(context.Background(), []string{"zone", "init", "--zone", "devices.test", "--dir", dir}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatalf("init: exit %d", code)
	}
	for _, bad := range []string{"0", "-5"} {
		var e bytes.Buffer
		if code := run(context.Background(), []string{"zone", "serve", "--dir", dir, "--resign-rate", bad}, nil, &bytes.Buffer{}, &e); code != 2 || !strings.Contains(e.String(), "--resign-rate") {
			t.Errorf("serve --resign-rate %s: exit %d, %s", bad, code, e.String())
		}
	}
}
