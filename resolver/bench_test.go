package resolver_test

import (
	"context"
	"sync"
	"testing"

	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/resolver"
	"github.com/miekg/dns"
)

// The benchmarks use the in-process hierarchy through Config.Exchange: no
// sockets, so they measure the resolver's CPU work. The device name sits
// four zones down (root, test., example.test., _device.example.test.): a
// cold lookup validates three DS links and four DNSKEY sets.
const benchName = "dev1._device.example.test."

func benchResolver(b *testing.B, h *dnstest.Hierarchy, cacheEntries int) *resolver.Resolver {
	b.Helper()
	anchors, err := resolver.ParseAnchorsString(h.Anchors())
	if err != nil {
		b.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{Exchange: h.Exchange, Anchors: anchors, CacheEntries: cacheEntries})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkLookupWarm(b *testing.B) {
	h := dnstest.Start(b, dnstest.Config{})
	r := benchResolver(b, h, 0)
	ctx := context.Background()
	if res, err := r.Lookup(ctx, benchName, dns.TypeTLSA); err != nil || res.Status != resolver.Secure {
		b.Fatalf("%v %v", res, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := r.Lookup(ctx, benchName, dns.TypeTLSA)
		if err != nil || !res.Cached {
			b.Fatalf("%v %v", res, err)
		}
	}
}

func BenchmarkLookupCold(b *testing.B) {
	h := dnstest.Start(b, dnstest.Config{})
	r := benchResolver(b, h, -1) // no cache: every lookup validates the chain
	ctx := context.Background()
	b.ReportAllocs()
	q0 := h.Queries()
	for b.Loop() {
		res, err := r.Lookup(ctx, benchName, dns.TypeTLSA)
		if err != nil || res.Status != resolver.Secure {
			b.Fatalf("%v %v", res, err)
		}
	}
	b.ReportMetric(float64(h.Queries()-q0)/float64(b.N), "queries/op")
}

// BenchmarkLookupConcurrentIdentical runs many goroutines looking up the
// same name; with the cache on, all but the first are cache hits, and
// concurrent misses share one exchange.
func BenchmarkLookupConcurrentIdentical(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
	}{{"cache", 0}, {"nocache", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			h := dnstest.Start(b, dnstest.Config{})
			r := benchResolver(b, h, bc.cache)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(16)
			var mu sync.Mutex
			var failed error
			q0 := h.Queries()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := r.Lookup(ctx, benchName, dns.TypeTLSA)
					if err == nil && res.Status != resolver.Secure {
						err = res.Err()
					}
					if err != nil {
						mu.Lock()
						failed = err
						mu.Unlock()
					}
				}
			})
			if failed != nil {
				b.Fatal(failed)
			}
			s := r.Stats()
			b.ReportMetric(float64(h.Queries()-q0)/float64(b.N), "queries/op")
			b.ReportMetric(float64(s.Shared)/float64(b.N), "shared/op")
		})
	}
}
