package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/cli"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/miekg/dns"
)

// TestMinCacheTTL checks that --min-cache-ttl reaches the resolver: a
// record with a TTL of 1 s is cached for the floor when the floor is higher,
// and for its own TTL when the floor allows it.
func TestMinCacheTTL(t *testing.T) {
	const owner = "short._device.example.test."
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		owner + " 1 IN TLSA 3 1 1 8CB0FC6C527506A053F4F14C8464BEBBD6DEDE2738D11468DD953D7D6A3021F1",
	}})
	anchors := filepath.Join(t.TempDir(), "anchors")
	if err := os.WriteFile(anchors, []byte(h.Anchors()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want time.Duration
	}{
		{nil, resolver.DefaultMinTTL},
		{[]string{"--min-cache-ttl", "1s"}, time.Second},
		{[]string{"--min-cache-ttl", "3s"}, 3 * time.Second},
	} {
		var rf resolverFlags
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		rf.register(fs)
		args := append([]string{"--resolver", h.Addr(), "--anchors", anchors}, tt.args...)
		if _, err := cli.Parse(fs, args); err != nil {
			t.Fatal(err)
		}
		r, err := rf.newResolver(&cli.Env{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Lookup(context.Background(), owner, dns.TypeTLSA)
		if err != nil || res.Status != resolver.Secure {
			t.Fatalf("%v: lookup: %v %v", tt.args, err, res)
		}
		// The record's own 1 s is counted from when the answer arrived,
		// a moment before the result is made: allow for that moment.
		if res.TTL < tt.want || res.TTL >= tt.want+time.Second {
			t.Errorf("%v: cache lifetime %v, want %v", tt.args, res.TTL, tt.want)
		}
	}
	for _, bad := range []string{"0s", "500ms", "2h", "-1s"} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"lookup", owner, "--resolver", h.Addr(), "--min-cache-ttl", bad}, nil, &out, &errb)
		if code != cli.ExitUsage || !bytes.Contains(errb.Bytes(), []byte("--min-cache-ttl")) {
			t.Errorf("--min-cache-ttl %s: exit %d, stderr %q; want exit 2 naming the flag", bad, code, errb.String())
		}
	}
}
