package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/dnstest"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/resolver"
	"github.com/miekg/dns"
)

// slowServer is a DNS server on loopback that answers from a signed
// hierarchy, except that questions for names starting with "slow" are held
// for slowDelay (or until the test ends): a slowloris authority.
const slowDelay = 30 * time.Second

type slowServer struct {
	addr          string
	held, maxHeld atomic.Int64 // queries being held now, at most
}

func startSlowServer(t testing.TB, h *dnstest.Hierarchy) *slowServer {
	t.Helper()
	ss := &slowServer{}
	release := make(chan struct{})
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if len(q.Question) == 1 && strings.HasPrefix(q.Question[0].Name, "slow") {
			n := ss.held.Add(1)
			defer ss.held.Add(-1)
			for m := ss.maxHeld.Load(); n > m && !ss.maxHeld.CompareAndSwap(m, n); m = ss.maxHeld.Load() {
			}
			select {
			case <-time.After(slowDelay):
			case <-release:
				// The test is over: fail the query at once, so that the
				// resolver's lookup, which outlives the core's deadline
				// by design, ends now instead of at its query timeout.
				fail := new(dns.Msg)
				fail.SetRcode(q, dns.RcodeServerFailure)
				w.WriteMsg(fail)
				return
			}
		}
		resp, err := h.Exchange(context.Background(), q)
		if err != nil {
			return
		}
		w.WriteMsg(resp)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: handler}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() {
		// Held queries now fail at once, and so do the resolver's retries
		// while the server still answers; shut it down only when no
		// lookup is left, or a retry sent meanwhile would wait out its
		// query timeout after the test (goleak in TestMain reports it).
		close(release)
		testwait.Until(30*time.Second, func() bool { return !lookupRunning() })
		srv.Shutdown()
	})
	ss.addr = pc.LocalAddr().String()
	return ss
}

// lookupRunning reports whether any goroutine is inside a resolver lookup.
// The resolver's shared lookups outlive their callers by design (they end
// at the resolver's own deadline), so a test cannot wait on its callers.
func lookupRunning() bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Contains(buf[:n], []byte("resolver.(*Resolver).lookup("))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestSlowAuthority: while an authority holds its answers for 30 seconds,
// lookups for its names time out at the core's deadline, lookups beyond the
// caps are refused at once instead of queueing, clients whose verdicts are
// cached keep being served, so do new clients under another parent name,
// and once the flood is over the goroutines are back to where they were.
func TestSlowAuthority(t *testing.T) {
	for _, tc := range []struct {
		name      string
		perParent int // Config.MaxInFlightPerParent
		held      int // the slow queries that get through
	}{
		{"cap per parent", 0, slowMaxInFlight / 2},
		{"global cap only", -1, slowMaxInFlight},
	} {
		t.Run(tc.name, func(t *testing.T) { testSlowAuthority(t, tc.perParent, int64(tc.held)) })
	}
}

const slowMaxInFlight = 8

func testSlowAuthority(t *testing.T, perParentCfg int, perParent int64) {
	good := testident.SelfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	fresh := testident.SelfSigned(t, "sensor2._device.example.test", identity.KeyEd25519)
	h := dnstest.Start(t, dnstest.Config{Records: []string{
		testident.EELine(t, "sensor1._device.example.test", good.Key.Public()),
		testident.EELine(t, "sensor2._device.example.test", fresh.Key.Public()),
	}})
	slow := startSlowServer(t, h)
	r := testident.Resolver(t, h, resolver.Config{Upstreams: []string{slow.addr}, QueryTimeout: 20 * time.Second, LookupTimeout: 40 * time.Second})
	core := newCore(t, Config{Resolver: r, MaxInFlight: slowMaxInFlight, MaxInFlightPerParent: perParentCfg, LookupTimeout: time.Second,
		Allow: mustAllow(t, "*.example.test")})
	ctx := context.Background()
	gp := Presented{Chain: []*x509.Certificate{good.Cert}}
	if _, err := core.Verify(ctx, "sensor1._device.example.test", gp); err != nil {
		t.Fatalf("warm-up: %v", err)
	}

	before := runtime.NumGoroutine()
	const flood = 200
	var wg sync.WaitGroup
	reasons := make(chan Reason, flood)
	for i := range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := core.Verify(ctx, fmt.Sprintf("slow%d._device.slow.example.test", i), gp)
			reasons <- ReasonOf(err)
		}()
	}
	// The cached client is served while the flood is in progress; the
	// flood's lookups cannot finish before the 30 s hold.
	testwait.Until(10*time.Second, func() bool { return slow.held.Load() >= perParent })
	if n := slow.held.Load(); n != perParent {
		t.Fatalf("the slow authority holds %d queries, want the cap per parent %d", n, perParent)
	}
	start := time.Now()
	if _, err := core.Verify(ctx, "sensor1._device.example.test", gp); err != nil {
		t.Fatalf("cached client refused during the flood: %v", err)
	}
	_, err := core.Verify(ctx, "sensor2._device.example.test", Presented{Chain: []*x509.Certificate{fresh.Cert}})
	if perParent < slowMaxInFlight && err != nil {
		t.Fatalf("new client under another parent refused during the flood: %v", err)
	}
	if perParent == slowMaxInFlight && ReasonOf(err) != ReasonOverloaded {
		// Without a cap per parent the flood takes every slot.
		t.Fatalf("new client during a flood without a cap per parent: %v, want %s", err, ReasonOverloaded)
	}
	if d := time.Since(start); d > slowDelay/2 {
		t.Errorf("the other clients waited %s", d)
	}
	wg.Wait()
	close(reasons)
	count := map[Reason]int{}
	for r := range reasons {
		count[r]++
	}
	if count[ReasonLookupTimeout] == 0 || count[ReasonLookupTimeout]+count[ReasonOverloaded] != flood {
		t.Fatalf("flood outcomes %v, want only %s and %s", count, ReasonLookupTimeout, ReasonOverloaded)
	}
	if count[ReasonOverloaded] == 0 {
		t.Errorf("no lookup refused by the in-flight cap: %v", count)
	}
	if core.InFlight() != 0 {
		t.Errorf("%d lookups still in flight", core.InFlight())
	}
	if m := slow.maxHeld.Load(); m != perParent {
		t.Errorf("the slow authority held up to %d queries at once, want the cap per parent %d", m, perParent)
	}
	// Goroutines of the flood and of its lookups are gone: the count comes
	// back near where it was (generous slack for runtime and DNS client
	// goroutines winding down).
	const slack = 20
	testwait.Until(15*time.Second, func() bool { return runtime.NumGoroutine() <= before+slack })
	if n := runtime.NumGoroutine(); n > before+slack {
		t.Errorf("%d goroutines after the flood, %d before", n, before)
	}
}
