package dotgate

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/testwait"
)

// stubUpstream answers every A question with 192.0.2.1, over TCP.
func stubUpstream(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A 192.0.2.1")
		r.Answer = append(r.Answer, rr)
		_ = w.WriteMsg(r)
	})
	srv := &dns.Server{Listener: ln, Handler: h}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan struct{})
	go func() { _ = srv.ActivateAndServe(); close(done) }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return ln.Addr().String()
}

func mustDial(t *testing.T, e *gateEnv, c client) *tls.Conn {
	t.Helper()
	conn, err := e.dial(t, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func mustAnswer(t *testing.T, conn net.Conn, name string) {
	t.Helper()
	r, err := ask(conn, name, dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("answer: %v", r)
	}
}

// closedByGate reports whether the gate closed conn: a read ends with EOF
// or a reset, not by the test's own deadline.
func closedByGate(conn net.Conn) bool {
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := conn.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestRateLimit: with the clock stopped, an identity with rate=3 gets 3
// answers and then REFUSED, on all its connections together; a second
// later it gets 3 more. Another identity is not limited by it.
func TestRateLimit(t *testing.T) {
	e := startGate(t, stubUpstream(t), nil)
	narrow := e.clients[nameNarrow]
	c1, c2 := mustDial(t, e, narrow), mustDial(t, e, narrow)
	const q = "a.insecure.example.test."
	rcodes := func(n int) []int {
		var out []int
		for i := 0; i < n; i++ {
			conn := c1
			if i%2 == 1 {
				conn = c2
			}
			r, err := ask(conn, q, dns.TypeA)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r.Rcode)
		}
		return out
	}
	want := []int{0, 0, 0, dns.RcodeRefused, dns.RcodeRefused}
	if got := rcodes(5); !equalInts(got, want) {
		t.Fatalf("rcodes = %v, want %v", got, want)
	}
	all := mustDial(t, e, e.clients[nameAll])
	for i := 0; i < 10; i++ {
		mustAnswer(t, all, "b.example.test.")
	}
	e.clock.add(time.Second)
	if got := rcodes(4); !equalInts(got, []int{0, 0, 0, dns.RcodeRefused}) {
		t.Fatalf("after a second: rcodes = %v", got)
	}
	if n := e.counter(t, "dance_dotgate_queries_total", queryRefusedRate); n != 3 {
		t.Errorf("refused_rate = %v, want 3", n)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestAbuse: garbage, an oversized length prefix, a slow client, garbage
// before TLS, a connection over its query budget: each is closed, and an
// authenticated client beside them keeps getting answers.
func TestAbuse(t *testing.T) {
	e := startGate(t, stubUpstream(t), func(c *Config) {
		c.IdleTimeout = 300 * time.Millisecond // a slow client is cut; the test waits for the close, not for a time
		c.MaxQueries = 3
		c.HandshakeTimeout = 5 * time.Second // a silent client is cut; the test waits for the close
	})
	all := e.clients[nameAll]
	cases := []struct {
		name   string
		run    func(t *testing.T) net.Conn // returns the connection the gate must close
		reason string                      // connections_cut_total label, "" for none
	}{
		{"garbage after TLS", func(t *testing.T) net.Conn {
			c := mustDial(t, e, all)
			_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			return c
		}, closeOversize},
		{"oversized length prefix", func(t *testing.T) net.Conn {
			c := mustDial(t, e, all)
			_, _ = c.Write([]byte{0xff, 0xff})
			return c
		}, closeOversize},
		{"length under a header", func(t *testing.T) net.Conn {
			c := mustDial(t, e, all)
			_, _ = c.Write([]byte{0, 3, 1, 2, 3})
			return c
		}, closeOversize},
		{"a response instead of a query", func(t *testing.T) net.Conn {
			c := mustDial(t, e, all)
			m := new(dns.Msg)
			m.SetQuestion("x.example.test.", dns.TypeA)
			m.Response = true
			wire, _ := m.Pack()
			_ = writeFramed(c, wire)
			return c
		}, closeMalformed},
		{"slow client", func(t *testing.T) net.Conn {
			c := mustDial(t, e, all)
			_, _ = c.Write([]byte{0}) // half a length prefix, then nothing
			return c
		}, closeIdle},
		{"over the query budget", func(t *testing.T) net.Conn {
			c := mustDial(t, e, all)
			for i := 0; i < 3; i++ {
				mustAnswer(t, c, "x.example.test.")
			}
			return c
		}, closeMaxQueries},
		{"garbage before TLS", func(t *testing.T) net.Conn {
			c, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			_, _ = io.WriteString(c, strings.Repeat("\x00garbage", 100))
			return c
		}, ""},
	}
	silent := func(t *testing.T) net.Conn {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("silent before TLS", func(t *testing.T) {
		before := e.counter(t, "dance_dotgate_handshakes_total", handshakeTimeout)
		c := silent(t)
		mustAnswer(t, mustDial(t, e, all), "y.example.test.")
		if !closedByGate(c) {
			t.Fatal("the gate did not close the connection")
		}
		testwaitCounter(t, e, "dance_dotgate_handshakes_total", handshakeTimeout, before+1)
		mustAnswer(t, mustDial(t, e, all), "z.example.test.")
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.counter(t, "dance_dotgate_connections_cut_total", tc.reason)
			// A client connected before the abuse is answered while it
			// goes on, and after.
			bystander := mustDial(t, e, all)
			c := tc.run(t)
			mustAnswer(t, bystander, "y.example.test.")
			if !closedByGate(c) {
				t.Fatal("the gate did not close the connection")
			}
			switch tc.reason {
			case "":
			case closeIdle:
				// Bystanders left idle are cut too: at least this one.
				testwait.Eventually(t, 30*time.Second, func() error {
					if n := e.counter(t, "dance_dotgate_connections_cut_total", closeIdle); n < before+1 {
						return fmt.Errorf("connections_cut_total{idle} = %v, want more than %v", n, before)
					}
					return nil
				})
			default:
				testwaitCounter(t, e, "dance_dotgate_connections_cut_total", tc.reason, before+1)
			}
			mustAnswer(t, mustDial(t, e, all), "z.example.test.")
		})
	}
}

// TestFormErr: a query whose header reads but whose question does not gets
// FORMERR with its ID, and the connection goes on.
func TestFormErr(t *testing.T) {
	e := startGate(t, stubUpstream(t), nil)
	c := mustDial(t, e, e.clients[nameAll])
	// ID 0x1234, a query, one question, then a name that runs off the end.
	_ = writeFramed(c, []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'a', 'b'})
	r, err := readFramed(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Id != 0x1234 || r.Rcode != dns.RcodeFormatError || !r.Response {
		t.Fatalf("got %v", r)
	}
	mustAnswer(t, c, "z.example.test.")
}

// TestMaxConns: over the cap a connection is closed at once; the ones
// under it still get answers.
func TestMaxConns(t *testing.T) {
	e := startGate(t, stubUpstream(t), func(c *Config) { c.MaxConns = 2 })
	all := e.clients[nameAll]
	c1, c2 := mustDial(t, e, all), mustDial(t, e, all)
	raw, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if !closedByGate(raw) {
		t.Fatal("third connection not closed")
	}
	mustAnswer(t, c1, "a.example.test.")
	mustAnswer(t, c2, "b.example.test.")
}

// testwaitCounter waits until a counter reaches want: the gate counts
// just after it closes.
func testwaitCounter(t *testing.T, e *gateEnv, name, label string, want float64) {
	t.Helper()
	testwait.Eventually(t, 30*time.Second, func() error {
		if n := e.counter(t, name, label); n != want {
			return fmt.Errorf("%s{%s} = %v, want %v", name, label, n, want)
		}
		return nil
	})
}

// TestVerdictExpiry: a connection whose identity's verdict has expired is
// closed before its next query; before that it is answered.
func TestVerdictExpiry(t *testing.T) {
	e := startGate(t, stubUpstream(t), nil)
	c := mustDial(t, e, e.clients[nameAll])
	mustAnswer(t, c, "a.example.test.")
	e.clock.add(time.Second)
	mustAnswer(t, c, "b.example.test.")
	e.clock.add(24 * time.Hour) // past the records' 300s TTL
	if r, err := ask(c, "c.example.test.", dns.TypeA); err == nil {
		t.Fatalf("answered after the verdict expired: %v", r)
	}
	testwaitCounter(t, e, "dance_dotgate_connections_cut_total", closeExpired, 1)
}
