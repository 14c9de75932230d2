package dotgate

import (
	"crypto/tls"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkGate measures queries a second through the gate to an
// in-process upstream (an answer per query, no recursion), with clients
// already authenticated: what the gate's forwarding costs.
//
//   - conns: 16 connections, each asking one query at a time.
//   - pipelined: one connection with 32 queries in flight at all times
//     (RFC 7766 §6.2.1.1).
//
// go test -run '^$' -bench BenchmarkGate -benchtime 3s ./dotgate
func BenchmarkGate(b *testing.B) {
	e := startGate(b, stubUpstream(b), func(c *Config) { c.MaxQueries = 1 << 30 })
	all := e.clients[nameAll]
	q := new(dns.Msg)
	q.SetQuestion("www.example.test.", dns.TypeA)
	wire, err := q.Pack()
	if err != nil {
		b.Fatal(err)
	}
	dial := func(b *testing.B) *tls.Conn {
		c, err := e.dial(b, all)
		if err != nil {
			b.Fatal(err)
		}
		_ = c.SetDeadline(time.Time{})
		return c
	}
	b.Run("conns=16", func(b *testing.B) {
		const n = 16
		conns := make(chan *tls.Conn, n)
		for range n {
			conns <- dial(b)
		}
		b.SetParallelism((n + 1) / 2) // GOMAXPROCS is 2 on the test machine
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			c := <-conns
			defer c.Close()
			for pb.Next() {
				if err := writeFramed(c, wire); err != nil {
					b.Error(err)
					return
				}
				if r, err := readFramed(c); err != nil || r.Rcode != dns.RcodeSuccess {
					b.Errorf("answer %v: %v", r, err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
	})
	b.Run("pipelined=32", func(b *testing.B) {
		const window = 32
		c := dial(b)
		defer c.Close()
		var wg sync.WaitGroup
		sem := make(chan struct{}, window)
		done := make(chan struct{})
		b.ResetTimer()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			for range b.N {
				if r, err := readFramed(c); err != nil || r.Rcode != dns.RcodeSuccess {
					b.Errorf("answer %v: %v", r, err)
					return
				}
				<-sem
			}
		}()
	send:
		for range b.N {
			select {
			case sem <- struct{}{}:
			case <-done:
				break send
			}
			if err := writeFramed(c, wire); err != nil {
				b.Error(err)
				break send
			}
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
	})
}
