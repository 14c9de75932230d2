package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/internal/testwait"
)

// tcpQuery sends one query for the zone's SOA on c and reads the answer.
func tcpQuery(c net.Conn) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(origin, dns.TypeSOA)
	b, err := m.Pack()
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(append([]byte{byte(len(b) >> 8), byte(len(b))}, b...)); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, int(l[0])<<8|int(l[1]))
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, err
	}
	r := new(dns.Msg)
	return r, r.Unpack(buf)
}

// TestTCPConnectionCap holds every slot of a small cap with clients that
// send nothing or half a message, then tries to get past it: connections
// over the cap are closed at accept without an answer, counted and logged
// once; a slot freed by a client is taken by the next; and the slow
// clients are cut by the read timeout, so that the cap never locks the
// server out for good.
func TestTCPConnectionCap(t *testing.T) {
	const maxConns = 3
	var logBuf lockedBuffer
	ts := startServerWith(t, func(c *Config) {
		c.MaxTCPConns = maxConns
		c.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// The slots are taken: two silent clients and one that sends the
	// first octet of a length prefix and no more.
	var held []net.Conn
	for i := 0; i < maxConns; i++ {
		c := dial()
		if i == maxConns-1 {
			c.Write([]byte{0})
		}
		held = append(held, c)
	}
	testwait.For(t, "the held connections to be accepted", func() bool {
		// Serve caps the listener when it starts, in its goroutine.
		return ts.srv.limits.tcpLn.Load() != nil &&
			limitMetric(t, ts.srv, "dance_zone_tcp_connections", "tcp") == maxConns
	})
	// Over the cap: closed at once, no answer, however often tried.
	const over = 5
	for i := 0; i < over; i++ {
		c := dial()
		if r, err := tcpQuery(c); err == nil {
			t.Fatalf("connection %d over the cap answered: %v", i+1, r.Rcode)
		} else if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			t.Fatalf("connection %d over the cap left open: %v", i+1, err)
		}
	}
	if got := limitMetric(t, ts.srv, "dance_zone_tcp_refused_total", "tcp"); got != over {
		t.Errorf("dance_zone_tcp_refused_total{transport=tcp} = %v, want %d", got, over)
	}
	if n := strings.Count(logBuf.String(), "connection cap reached"); n != 1 {
		t.Errorf("%d log lines for %d refused connections, want 1:\n%s", n, over, logBuf.String())
	}
	// A client that closes frees its slot for the next.
	held[0].Close()
	var next net.Conn
	testwait.For(t, "a connection to be served after one closed", func() bool {
		c := dial()
		if _, err := tcpQuery(c); err != nil {
			c.Close()
			return false
		}
		next = c
		return true
	})
	next.Close()
	// The slow clients do not keep their slots: the read timeout cuts
	// them (the server closes; the client reads EOF), and new clients
	// are served.
	for i, c := range held[1:] {
		c.SetReadDeadline(time.Now().Add(3 * tcpReadTimeout))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("slow client %d got data", i)
		} else if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			t.Fatalf("slow client %d not cut by the server: %v", i, err)
		}
	}
	testwait.For(t, "the slots of the slow clients to be freed", func() bool {
		return limitMetric(t, ts.srv, "dance_zone_tcp_connections", "tcp") == 0
	})
	var fresh []net.Conn
	for i := 0; i < maxConns; i++ {
		c := dial()
		if r, err := tcpQuery(c); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("client %d after the slow ones were cut: %v %v", i, r, err)
		}
		fresh = append(fresh, c)
	}
	for _, c := range fresh {
		c.Close()
	}
}
