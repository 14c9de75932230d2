package server

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
)

// TestIPv6 serves on ::1 and answers over UDP (batched loop, cache miss
// then hit) and TCP. (Tests bind to loopback only, so the dual-stack case
// of the unspecified address is left to manual checks.)
func TestIPv6(t *testing.T) {
	for _, listen := range []string{"[::1]:0"} {
		t.Run(listen, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "zone")
			if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
				t.Fatal(err)
			}
			z, err := zone.Open(dir, zone.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer z.Close()
			srv, err := New(Config{Zone: z})
			if err != nil {
				t.Fatal(err)
			}
			ls, err := Listen(listen)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx, ls) }()
			defer func() { cancel(); <-done }()
			_, port, _ := net.SplitHostPort(ls.Addr())
			targets := []string{net.JoinHostPort("::1", port)}
			for _, addr := range targets {
				for _, network := range []string{"udp", "udp", "tcp"} { // twice: cache miss, then hit
					m := new(dns.Msg)
					m.SetQuestion(origin, dns.TypeSOA)
					m.SetEdns0(1232, true)
					r, _, err := (&dns.Client{Net: network, Timeout: 5 * time.Second}).Exchange(m, addr)
					if err != nil || len(r.Answer) != 2 {
						t.Fatalf("%s %s: %v %v", network, addr, err, r)
					}
				}
			}
			// The second UDP query came from the response cache.
			if n := srv.metrics.get("cache_hit"); n != 1 {
				t.Fatalf("cache hits %d: want one", n)
			}
		})
	}
}
