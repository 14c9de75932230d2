package dotgate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/danetls"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/verify"
)

// fakeUpstream is a TCP DNS server whose conduct a test scripts: serve
// runs for each connection, reading queries with readFramed and writing
// answers with writeFramed.
type fakeUpstream struct {
	addr  string
	conns atomic.Int64 // connections accepted
}

func startFakeUpstream(t *testing.T, serve func(c net.Conn)) *fakeUpstream {
	t.Helper()
	return startFakeUpstreamTLS(t, nil, serve)
}

// startFakeUpstreamTLS is startFakeUpstream over TLS with cfg (plain TCP
// when cfg is nil).
func startFakeUpstreamTLS(t *testing.T, cfg *tls.Config, serve func(c net.Conn)) *fakeUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	u := &fakeUpstream{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return u
}

// reply is the A answer 192.0.2.1 to q.
func reply(q *dns.Msg) []byte {
	r := new(dns.Msg)
	r.SetReply(q)
	rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A 192.0.2.1")
	r.Answer = append(r.Answer, rr)
	wire, _ := r.Pack()
	return wire
}

// query packs an A query for name with the given ID.
func query(t *testing.T, id uint16, name string) []byte {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	q.Id = id
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return wire
}

// TestOutOfOrder: on one client connection, a query the upstream holds
// back does not hold back the one after it (RFC 7766 §6.2.1.1): the
// second is answered first, each answer under its own ID and question,
// although the upstream saw other IDs.
func TestOutOfOrder(t *testing.T) {
	release := make(chan struct{})
	var seenIDs sync.Map
	up := startFakeUpstream(t, func(c net.Conn) {
		var wmu sync.Mutex
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			q, err := readFramed(c)
			if err != nil {
				return
			}
			seenIDs.Store(q.Id, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if strings.HasPrefix(q.Question[0].Name, "slow.") {
					<-release
				}
				wmu.Lock()
				defer wmu.Unlock()
				_ = writeFramed(c, reply(q))
			}()
		}
	})
	e := startGate(t, up.addr, nil)
	c := mustDial(t, e, e.clients[nameAll])
	if err := writeFramed(c, query(t, 0xAAAA, "slow.example.test")); err != nil {
		t.Fatal(err)
	}
	if err := writeFramed(c, query(t, 0xBBBB, "fast.example.test")); err != nil {
		t.Fatal(err)
	}
	r, err := readFramed(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Id != 0xBBBB || r.Question[0].Name != "fast.example.test." || len(r.Answer) != 1 {
		t.Fatalf("first answer: want fast (0xBBBB), got %v", r)
	}
	close(release)
	r, err = readFramed(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Id != 0xAAAA || r.Question[0].Name != "slow.example.test." || len(r.Answer) != 1 {
		t.Fatalf("second answer: want slow (0xAAAA), got %v", r)
	}
	for _, id := range []uint16{0xAAAA, 0xBBBB} {
		if _, ok := seenIDs.Load(id); ok {
			t.Errorf("the upstream saw the client's ID %#x: IDs are not rewritten", id)
		}
	}
}

// TestInFlightCap: one client pipelines far more queries than its
// connection's cap while the upstream holds every answer back; the
// upstream sees no more than the cap, and once it answers every query
// is answered, each under its own ID.
func TestInFlightCap(t *testing.T) {
	const limit, total = 4, 64
	release := make(chan struct{})
	var received atomic.Int64
	up := startFakeUpstream(t, func(c net.Conn) {
		var wmu sync.Mutex
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			q, err := readFramed(c)
			if err != nil {
				return
			}
			received.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-release
				wmu.Lock()
				defer wmu.Unlock()
				_ = writeFramed(c, reply(q))
			}()
		}
	})
	e := startGate(t, up.addr, func(c *Config) { c.MaxInFlight = limit; c.UpstreamTimeout = time.Minute })
	c := mustDial(t, e, e.clients[nameAll])
	// The client writes from a goroutine: past the cap the gate stops
	// reading, and the client's writes back up.
	wrote := make(chan error, 1)
	go func() {
		for i := range total {
			if err := writeFramed(c, query(t, uint16(i+1), fmt.Sprintf("q%d.example.test", i))); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	testwait.For(t, "the cap's worth of queries at the upstream", func() bool { return received.Load() >= limit })
	// Another connection has a cap of its own: its query reaches the
	// upstream although this one's cap is full.
	other := mustDial(t, e, e.clients[nameAll])
	if err := writeFramed(other, query(t, 7, "other.example.test")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the other connection's query at the upstream", func() bool { return received.Load() == limit+1 })
	if n := received.Load(); n != limit+1 {
		t.Fatalf("the upstream got %d queries, want %d (the cap) + 1", n, limit+1)
	}
	close(release)
	seen := map[uint16]bool{}
	for range total {
		r, err := readFramed(c)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("q%d.example.test.", r.Id-1); r.Question[0].Name != want || len(r.Answer) != 1 {
			t.Fatalf("answer %d is for %s, want %s: %v", r.Id, r.Question[0].Name, want, r)
		}
		seen[r.Id] = true
	}
	if len(seen) != total {
		t.Fatalf("%d distinct answers, want %d", len(seen), total)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if r, err := readFramed(other); err != nil || r.Id != 7 {
		t.Fatalf("other connection: %v %v", r, err)
	}
}

// TestUpstreamDies: the upstream breaks its connections with queries in
// flight. While it does so every time, clients get SERVFAIL at once (not
// at their timeout) and the gate keeps serving; when it is back, queries
// are answered on a fresh connection, with no restart of the gate.
func TestUpstreamDies(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	up := startFakeUpstream(t, func(c net.Conn) {
		for {
			q, err := readFramed(c)
			if err != nil {
				return
			}
			if broken.Load() {
				return // closes the connection with the query unanswered
			}
			_ = writeFramed(c, reply(q))
		}
	})
	e := startGate(t, up.addr, func(c *Config) { c.UpstreamTimeout = time.Hour })
	c := mustDial(t, e, e.clients[nameAll])
	const n = 8
	pipelineWantServfail(t, c, n, "d", "with the upstream breaking")
	if up.conns.Load() < 2 {
		t.Errorf("the upstream saw %d connections: lost queries were not sent again", up.conns.Load())
	}
	broken.Store(false)
	for i := range n {
		r, err := ask(c, fmt.Sprintf("ok%d.example.test", i), dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("after the upstream recovered: %v", r)
		}
	}
}

// TestSlowUpstream: an upstream that reads queries and never answers.
// Each query gets SERVFAIL at UpstreamTimeout; past UpstreamMaxInFlight
// waiting queries, the next waits for room only until its own timeout;
// the stalled connection is dropped, so once the upstream answers again
// queries go through.
func TestSlowUpstream(t *testing.T) {
	var stalled atomic.Bool
	stalled.Store(true)
	up := startFakeUpstream(t, func(c net.Conn) {
		for {
			q, err := readFramed(c)
			if err != nil {
				return
			}
			if stalled.Load() {
				continue // read, never answered
			}
			_ = writeFramed(c, reply(q))
		}
	})
	e := startGate(t, up.addr, func(c *Config) {
		// Short enough for the test not to wait long; the test waits for
		// answers, not for a time.
		c.UpstreamTimeout = 300 * time.Millisecond
		c.UpstreamMaxInFlight = 2
		c.UpstreamConns = 1
	})
	c := mustDial(t, e, e.clients[nameAll])
	const n = 6
	pipelineWantServfail(t, c, n, "s", "from a stalled upstream")
	if got := e.counter(t, "dance_dotgate_queries_total", queryUpstreamError); got != n {
		t.Fatalf("queries_total{upstream_error} = %v, want %d", got, n)
	}
	stalled.Store(false)
	testwait.Eventually(t, 30*time.Second, func() error {
		r, err := ask(c, "back.example.test", dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeSuccess {
			return fmt.Errorf("after the upstream recovered: %v", dns.RcodeToString[r.Rcode])
		}
		return nil
	})
	if up.conns.Load() < 2 {
		t.Errorf("the stalled connection was kept: %d connections", up.conns.Load())
	}
}

// TestUpstreamWrongAnswer: an answer under the right ID but for another
// question, or not marked as a response, is not taken: SERVFAIL.
func TestUpstreamWrongAnswer(t *testing.T) {
	up := startFakeUpstream(t, func(c net.Conn) {
		for {
			q, err := readFramed(c)
			if err != nil {
				return
			}
			r := new(dns.Msg)
			switch q.Question[0].Name {
			case "other.example.test.":
				r.SetReply(q)
				r.Question[0].Name = "elsewhere.example.test."
			case "noqr.example.test.":
				r.SetReply(q)
				r.Response = false
			default:
				r.SetReply(q)
			}
			wire, _ := r.Pack()
			_ = writeFramed(c, wire)
		}
	})
	e := startGate(t, up.addr, nil)
	c := mustDial(t, e, e.clients[nameAll])
	for _, tc := range []struct {
		name  string
		rcode int
	}{{"other.example.test", dns.RcodeServerFailure}, {"noqr.example.test", dns.RcodeServerFailure}, {"fine.example.test", dns.RcodeSuccess}} {
		r, err := ask(c, tc.name, dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != tc.rcode {
			t.Errorf("%s: rcode %s, want %s", tc.name, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
		}
	}
}

// TestUpstreamSwappedIDs: an upstream that answers two clients' queries,
// in flight on one connection, each under the other's ID does not hand
// either client the other's answer: the question check catches both, and
// each client gets SERVFAIL.
func TestUpstreamSwappedIDs(t *testing.T) {
	var swapped atomic.Bool
	up := startFakeUpstream(t, func(c net.Conn) {
		for {
			q1, err := readFramed(c)
			if err != nil {
				return
			}
			if swapped.Load() {
				_ = writeFramed(c, reply(q1))
				continue
			}
			q2, err := readFramed(c)
			if err != nil {
				return
			}
			a1, a2 := reply(q1), reply(q2)
			binary.BigEndian.PutUint16(a1, q2.Id)
			binary.BigEndian.PutUint16(a2, q1.Id)
			swapped.Store(true)
			_ = writeFramed(c, a1)
			_ = writeFramed(c, a2)
		}
	})
	// One upstream connection: both queries are in flight on it together.
	e := startGate(t, up.addr, func(c *Config) { c.UpstreamConns = 1 })
	clients := []struct {
		conn net.Conn
		name string
	}{
		{mustDial(t, e, e.clients[nameAll]), "a.example.test."},
		{mustDial(t, e, e.clients[nameNarrow]), "b.insecure.example.test."},
	}
	for i, c := range clients {
		if err := writeFramed(c.conn, query(t, uint16(0x100+i), c.name)); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range clients {
		r, err := readFramed(c.conn)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
			t.Errorf("%s got an answer under another query's ID: %v", c.name, r)
		}
		if r.Id != uint16(0x100+i) || len(r.Question) != 1 || r.Question[0].Name != c.name {
			t.Errorf("%s: SERVFAIL not for its own query: %v", c.name, r)
		}
	}
	if !swapped.Load() {
		t.Fatal("the upstream did not see both queries on one connection")
	}
	if got := e.counter(t, "dance_dotgate_queries_total", queryUpstreamError); got != 2 {
		t.Errorf("queries_total{upstream_error} = %v, want 2", got)
	}
	// The connection goes on serving.
	for _, c := range clients {
		r, err := ask(c.conn, c.name, dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].Header().Name != c.name {
			t.Errorf("%s after the swap: %v", c.name, r)
		}
	}
}

// TestKeepalive: a query with edns-tcp-keepalive gets the gate's idle
// timeout in 100 ms units (RFC 7828), on forwarded and refused answers;
// the upstream never sees the client's option, and its own does not
// reach the client. A query without the option gets none.
func TestKeepalive(t *testing.T) {
	var upstreamSawOption atomic.Bool
	up := startFakeUpstream(t, func(c net.Conn) {
		for {
			q, err := readFramed(c)
			if err != nil {
				return
			}
			if o := q.IsEdns0(); o != nil {
				for _, e := range o.Option {
					if e.Option() == dns.EDNS0TCPKEEPALIVE {
						upstreamSawOption.Store(true)
					}
				}
			}
			r := new(dns.Msg)
			r.SetReply(q)
			r.SetEdns0(1232, false)
			r.IsEdns0().Option = append(r.IsEdns0().Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE, Timeout: 1})
			wire, _ := r.Pack()
			_ = writeFramed(c, wire)
		}
	})
	e := startGate(t, up.addr, func(c *Config) { c.IdleTimeout = 7 * time.Second })
	c := mustDial(t, e, e.clients[nameNarrow])
	ask := func(name string, keepalive bool) []uint16 {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		q.SetEdns0(1232, false)
		if keepalive {
			q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE})
		}
		wire, _ := q.Pack()
		if err := writeFramed(c, wire); err != nil {
			t.Fatal(err)
		}
		r, err := readFramed(c)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint16
		if o := r.IsEdns0(); o != nil {
			for _, e := range o.Option {
				if k, ok := e.(*dns.EDNS0_TCP_KEEPALIVE); ok {
					out = append(out, k.Timeout)
				}
			}
		}
		return out
	}
	if got := ask("a.insecure.example.test.", true); len(got) != 1 || got[0] != 70 {
		t.Errorf("forwarded: keepalive %v, want [70]", got)
	}
	if got := ask("a.example.test.", true); len(got) != 1 || got[0] != 70 {
		t.Errorf("refused: keepalive %v, want [70]", got)
	}
	if got := ask("b.insecure.example.test.", false); len(got) != 0 {
		t.Errorf("not asked: keepalive %v, want none", got)
	}
	if upstreamSawOption.Load() {
		t.Error("the client's keepalive option reached the upstream")
	}
}

// TestPolicySwapWhileServing: a policy replaced while a client has
// queries in flight applies from the next query read; every query is
// answered, by the old rule or the new, none is lost, and every query
// sent after the swap is refused.
func TestPolicySwapWhileServing(t *testing.T) {
	e := startGate(t, stubUpstream(t), nil)
	c := mustDial(t, e, e.clients[nameAll])
	narrowed, err := ParsePolicy(strings.NewReader("all._device.example.test insecure.example.test rate=0\n"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	swapped := make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		for i := range n {
			if i == n/2 {
				<-swapped
			}
			if err := writeFramed(c, query(t, uint16(i), "www.example.test")); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	var ok int
	for i := range n {
		r, err := readFramed(c)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.srv.SetPolicy(narrowed)
			close(swapped)
		}
		switch {
		case r.Rcode == dns.RcodeSuccess && r.Id < n/2:
			ok++
		case r.Rcode == dns.RcodeRefused:
		default:
			t.Fatalf("answer to query %d: %v", r.Id, r)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if ok == 0 {
		t.Fatal("no query answered before the swap")
	}
}

// TestUpstreamTLS: with UpstreamTLS the gate reaches its upstream over
// TLS, verifying the upstream's certificate: queries are answered by an
// upstream it trusts, and get SERVFAIL from one it does not.
func TestUpstreamTLS(t *testing.T) {
	serve := func(c net.Conn) {
		for {
			q, err := readFramed(c)
			if err != nil {
				return
			}
			_ = writeFramed(c, reply(q))
		}
	}
	cert, pool := testident.ServerCert(t)
	up := startFakeUpstreamTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}}, serve)
	_, otherPool := testident.ServerCert(t)
	for _, tc := range []struct {
		name  string
		pool  *x509.CertPool
		rcode int
	}{{"trusted", pool, dns.RcodeSuccess}, {"untrusted", otherPool, dns.RcodeServerFailure}} {
		t.Run(tc.name, func(t *testing.T) {
			e := startGate(t, up.addr, func(c *Config) { c.UpstreamTLS = &tls.Config{RootCAs: tc.pool, ServerName: "localhost"} })
			r, err := ask(mustDial(t, e, e.clients[nameAll]), "www.example.test", dns.TypeA)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
		})
	}
}

// TestNotIdleWhileInFlight: a connection whose query is still with the
// upstream is not idle (RFC 7766 §6.2.3), however long the upstream
// takes: an idle bystander is cut meanwhile, the waiting connection gets
// its answer and is cut only after IdleTimeout with nothing in flight.
func TestNotIdleWhileInFlight(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	var got atomic.Bool
	up := startFakeUpstream(t, func(c net.Conn) {
		for {
			q, err := readFramed(c)
			if err != nil {
				return
			}
			if strings.HasPrefix(q.Question[0].Name, "slow.") {
				got.Store(true)
				<-release
			}
			_ = writeFramed(c, reply(q))
		}
	})
	e := startGate(t, up.addr, func(c *Config) {
		c.IdleTimeout = 200 * time.Millisecond // the test waits for events, not for this
		c.UpstreamTimeout = time.Hour
	})
	t.Cleanup(free) // before the gate and the upstream stop, on failure too
	waiting := mustDial(t, e, e.clients[nameAll])
	if err := writeFramed(waiting, query(t, 1, "slow.example.test")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the slow query at the upstream", got.Load)
	// The bystander's cut shows that IdleTimeout has passed since it
	// connected, which was after the slow query went out.
	bystander := mustDial(t, e, e.clients[nameAll])
	mustAnswer(t, bystander, "b.example.test.")
	if !closedByGate(bystander) {
		t.Fatal("the idle bystander was not closed")
	}
	// The bystander's cut is counted before it is closed; the waiting
	// connection, older, would have been cut first.
	if n := e.counter(t, "dance_dotgate_connections_cut_total", closeIdle); n != 1 {
		t.Fatalf("connections cut as idle: %v, want 1 (the bystander)", n)
	}
	free()
	r, err := readFramed(waiting)
	if err != nil {
		t.Fatalf("the connection with a query in flight was closed as idle: %v", err)
	}
	if r.Id != 1 || len(r.Answer) != 1 {
		t.Fatalf("answer: %v", r)
	}
	if !closedByGate(waiting) {
		t.Fatal("the connection was not closed once idle")
	}
}

// TestNewLimits: New refuses negative limits and more upstream queries in
// flight than a connection has message IDs to give.
func TestNewLimits(t *testing.T) {
	p, err := ParsePolicy(strings.NewReader("a._device.example.test .\n"))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := testident.ServerCert(t)
	base := func() Config {
		return Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Verifier: nopVerifier{}, Policy: p, Upstream: "127.0.0.1:53"}
	}
	for _, tc := range []struct {
		name string
		tune func(*Config)
		want string
	}{
		{"negative in-flight", func(c *Config) { c.MaxInFlight = -1 }, "negative limit"},
		{"negative upstream conns", func(c *Config) { c.UpstreamConns = -1 }, "negative limit"},
		{"upstream in-flight over the IDs", func(c *Config) { c.UpstreamMaxInFlight = 1 << 16 }, "UpstreamMaxInFlight 65536 is over 32768"},
		{"defaults", func(*Config) {}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.tune(&cfg)
			s, err := New(cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.cfg.MaxInFlight != DefaultMaxInFlight || len(s.up.pool) != DefaultUpstreamConns || cap(s.up.slots) != DefaultUpstreamMaxInFlight {
					t.Fatalf("defaults not taken: %+v", s.cfg)
				}
				s.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

type nopVerifier struct{}

func (nopVerifier) Verify(context.Context, string, verify.Presented) (*verify.Identity, error) {
	return nil, errors.New("nop")
}

// TestSlowReader: a client that pipelines queries and does not read the
// answers is cut once an answer waits IdleTimeout to go out; the gate
// keeps answering others meanwhile.
func TestSlowReader(t *testing.T) {
	big := strings.Repeat("x", 255)
	up := startFakeUpstream(t, func(c net.Conn) {
		for {
			q, err := readFramed(c)
			if err != nil {
				return
			}
			r := new(dns.Msg)
			r.SetReply(q)
			txt := &dns.TXT{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}}
			for range 100 { // about 25 kB an answer
				txt.Txt = append(txt.Txt, big)
			}
			r.Answer = append(r.Answer, txt)
			wire, err := r.Pack()
			if err != nil {
				panic(err)
			}
			_ = writeFramed(c, wire)
		}
	})
	e := startGate(t, up.addr, func(c *Config) {
		c.IdleTimeout = 300 * time.Millisecond // the test waits for the cut, not for this
		c.MaxQueries = 1 << 20
	})
	// A small receive buffer: the client's window closes soon.
	raw, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.(*net.TCPConn).SetReadBuffer(4096)
	c := tls.Client(raw, danetls.ClientConfig(&tls.Config{InsecureSkipVerify: true}, e.clients[nameAll].cert))
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	// Queries until the gate stops taking them (or closes): about 10 MB
	// of answers fill any socket buffers on the way.
	for i := 0; i < 2000; i++ {
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := writeFramed(c, query(t, uint16(i), "big.example.test")); err != nil {
			break
		}
	}
	testwaitCounter(t, e, "dance_dotgate_connections_cut_total", closeSlowReader, 1)
	mustAnswer(t, mustDial(t, e, e.clients[nameAll]), "b.insecure.example.test.")
}

// TestUpstreamClosesAfterN: an upstream that closes each connection after
// a few queries of its own choosing (as servers do: miekg/dns after 128),
// with pipelined queries of the gate still unanswered on it, costs the
// client nothing: every query lost that way is sent again and answered.
func TestUpstreamClosesAfterN(t *testing.T) {
	const perConn = 20 // far below any count the gate could guess
	up := startFakeUpstream(t, func(c net.Conn) {
		for range perConn {
			q, err := readFramed(c)
			if err != nil {
				return
			}
			if err := writeFramed(c, reply(q)); err != nil {
				return
			}
		}
	})
	e := startGate(t, up.addr, func(c *Config) {
		c.UpstreamTimeout = time.Minute
		c.MaxQueries = 1 << 20
	})
	c := mustDial(t, e, e.clients[nameAll])
	const window, rounds = 32, 20
	askRounds(t, c, window, rounds)
	if n := up.conns.Load(); n < window*rounds/perConn {
		t.Errorf("%d upstream connections for %d queries at %d a connection", n, window*rounds, perConn)
	}
}

// TestUpstreamRetire: against an upstream that never closes, a
// connection that has carried upstreamConnQueries queries is replaced,
// and the queries in flight on it when it is still get their answers.
func TestUpstreamRetire(t *testing.T) {
	up := startFakeUpstream(t, func(c net.Conn) {
		for {
			q, err := readFramed(c)
			if err != nil {
				return
			}
			if err := writeFramed(c, reply(q)); err != nil {
				return
			}
		}
	})
	e := startGate(t, up.addr, func(c *Config) {
		c.UpstreamConns = 1
		c.MaxQueries = 1 << 20
	})
	c := mustDial(t, e, e.clients[nameAll])
	const window, rounds = 32, 10
	askRounds(t, c, window, rounds)
	if n, want := up.conns.Load(), int64(window*rounds/upstreamConnQueries); n < want {
		t.Errorf("%d upstream connections for %d queries, want at least %d", n, window*rounds, want)
	}
	// No query was lost to a retired connection and sent again.
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "dance_dotgate_upstream_retries_total" {
			found = true
			if n := mf.GetMetric()[0].GetCounter().GetValue(); n != 0 {
				t.Errorf("upstream_retries_total = %v, want 0", n)
			}
		}
	}
	if !found {
		t.Error("no upstream_retries_total")
	}
}

// askRounds sends window queries at once on c, reads their answers, and
// does so rounds times; every answer must be NOERROR with one record.
func askRounds(t *testing.T, c net.Conn, window, rounds int) {
	t.Helper()
	for round := range rounds {
		for i := range window {
			if err := writeFramed(c, query(t, uint16(round*window+i), fmt.Sprintf("q%d.example.test", i))); err != nil {
				t.Fatal(err)
			}
		}
		for range window {
			r, err := readFramed(c)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
				t.Fatalf("round %d: %v", round, r)
			}
		}
	}
}

// pipelineWantServfail writes n queries for <prefix><i>.example.test on c
// before reading any answer, and fails the test (saying when: what) unless
// each of the n answers is SERVFAIL.
func pipelineWantServfail(t *testing.T, c net.Conn, n int, prefix, what string) {
	t.Helper()
	for i := range n {
		if err := writeFramed(c, query(t, uint16(i+1), fmt.Sprintf("%s%d.example.test", prefix, i))); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		r, err := readFramed(c)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeServerFailure {
			t.Fatalf("%s: %v", what, r)
		}
	}
}
