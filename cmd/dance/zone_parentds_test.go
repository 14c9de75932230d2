package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/internal/dnstest"
)

// TestParentDSChecker checks the zone serve checker that a KSK retire
// relies on against a signed hierarchy: the parent's DS names the zone's
// key, names another key, is absent (insecure delegation), or cannot be
// validated or reached; only the first allows the retire.
func TestParentDSChecker(t *testing.T) {
	anchorFile := func(text string) string {
		f := filepath.Join(t.TempDir(), "anchors")
		if err := os.WriteFile(f, []byte(text+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	keyOf := func(h *dnstest.Hierarchy) *dns.DNSKEY {
		rr, err := dns.NewRR(h.DNSKEY(dnstest.Zone))
		if err != nil {
			t.Fatal(err)
		}
		return rr.(*dns.DNSKEY)
	}
	good := dnstest.Start(t, dnstest.Config{})
	mismatched := dnstest.Start(t, dnstest.Config{Zones: map[string]dnstest.ZoneOptions{dnstest.Zone: {Fault: dnstest.MismatchedDS}}})
	missing := dnstest.Start(t, dnstest.Config{Zones: map[string]dnstest.ZoneOptions{dnstest.Zone: {Fault: dnstest.MissingDS}}})
	other := dnstest.Start(t, dnstest.Config{})
	// A port nothing answers on.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	silent := pc.LocalAddr().String()
	defer pc.Close()
	tests := []struct {
		name     string
		resolver string
		anchors  string
		key      *dns.DNSKEY
		names    bool
		err      string
	}{
		{"parent names the key", good.Addr(), good.Anchors(), keyOf(good), true, ""},
		{"parent names another key", mismatched.Addr(), mismatched.Anchors(), keyOf(mismatched), false, ""},
		{"the key of another zone", good.Addr(), good.Anchors(), keyOf(other), false, ""},
		// A validated denial: the parent has no DS (yet).
		{"no DS at the parent", missing.Addr(), missing.Anchors(), keyOf(missing), false, ""},
		{"parent not validatable", good.Addr(), other.Anchors(), keyOf(good), false, "bogus"},
		{"resolver unreachable", silent, good.Anchors(), keyOf(good), false, "indeterminate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parentDSFlags{upstreams: cli.StringList{tt.resolver}, anchors: anchorFile(tt.anchors)}
			check, err := f.checker(&cli.Env{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got, err := check(ctx, dnstest.Zone, tt.key)
			if tt.err != "" {
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), tt.err) || got.Names {
					t.Fatalf("got %+v, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got.Names != tt.names || got.Names && got.TTL <= 0 {
				t.Fatalf("got %+v, %v; want names=%v", got, err, tt.names)
			}
		})
	}
}
