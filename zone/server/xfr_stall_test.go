package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsbound/dance/zone"
)

// pipeListener is a net.Listener whose connections are in-memory pipes:
// a write blocks until the other end reads, so a client that stops
// reading stalls the server's next write at once, whatever the size of
// the zone or of the kernel's socket buffers.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr }

var pipeAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}

// dial returns the client's end of a new connection.
func (l *pipeListener) dial(t *testing.T) net.Conn {
	srv, cli := net.Pipe()
	select {
	case l.conns <- addrConn{srv}:
	case <-time.After(30 * time.Second):
		t.Fatal("the server accepts no connection")
	}
	return cli
}

// addrConn reports loopback addresses, which the transfer address list
// admits (a pipe has none).
type addrConn struct{ net.Conn }

func (addrConn) RemoteAddr() net.Addr { return pipeAddr }
func (addrConn) LocalAddr() net.Addr  { return pipeAddr }

// A secondary that asks for the zone and then stops reading is cut off:
// the transfer's write gives up after the write timeout, the connection
// is closed, and the transfer lets go of its snapshot of the zone. Without
// a write deadline the transfer waits on the write for as long as the
// client keeps the connection, holding the snapshot (and a connection
// slot) all that time.
func TestStalledTransferIsCutOff(t *testing.T) {
	pl := newPipeListener()
	ts := startServerListeners(t, zone.InitOptions{}, func(c *Config) {
		c.TransferFrom = loopback
		c.writeTimeout = 200 * time.Millisecond
	}, nil, func(ls *Listeners) {
		ls.TCP.Close()
		ls.TCP = pl
	})
	for i := range 20 {
		addRR(t, ts.zone, fmt.Sprintf("d%d._device.%s 300 IN TLSA 3 1 1 %064x", i, origin, i))
	}
	open := func() int {
		if l := ts.srv.limits.tcpLn.Load(); l != nil {
			return l.Open()
		}
		return -1
	}
	cli := pl.dial(t)
	defer cli.Close()
	q := new(dns.Msg)
	q.SetAxfr(origin)
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	cli.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := cli.Write(append([]byte{byte(len(b) >> 8), byte(len(b))}, b...)); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing: the server's first message stalls.
	deadline := time.Now().Add(30 * time.Second)
	for open() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a stalled transfer still holds its connection (%d open)", open())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The connection is gone: no message is read from it any more.
	cli.SetReadDeadline(time.Now().Add(30 * time.Second))
	var lb [2]byte
	if _, err := io.ReadFull(cli, lb[:]); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("read after the cut: %v, want the connection closed", err)
	}
	// Another client that reads gets the whole zone from the same
	// listener.
	c2 := pl.dial(t)
	defer c2.Close()
	conn := &dns.Conn{Conn: c2}
	c2.SetDeadline(time.Now().Add(30 * time.Second))
	if err := conn.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	var soas, n int
	for soas < 2 {
		m, err := conn.ReadMsg()
		if err != nil {
			t.Fatalf("after %d RRs: %v", n, err)
		}
		for _, r := range m.Answer {
			n++
			if r.Header().Rrtype == dns.TypeSOA {
				soas++
			}
		}
	}
	if n < 20 {
		t.Fatalf("the full transfer has %d RRs", n)
	}
}

// A transfer still sending when the server stops is cut off, and Serve
// returns only after it has ended: once Serve has returned (the journal
// saved, the zone free to be closed) no transfer reads its snapshot of
// the zone any more. Here the secondary stops reading mid-transfer and
// the write timeout is far longer than the test, so only the stop can
// end the transfer's blocked write.
func TestServeEndsRunningTransfers(t *testing.T) {
	dir := t.TempDir() + "/zone"
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	for i := range 200 {
		addRR(t, z, fmt.Sprintf("d%d._device.%s 300 IN TLSA 3 1 1 %064x", i, origin, i))
	}
	srv, err := New(Config{Zone: z, TransferFrom: loopback, writeTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls.TCP.Close()
	pl := newPipeListener()
	ls.TCP = pl
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls) }()
	cli := pl.dial(t)
	defer cli.Close()
	conn := &dns.Conn{Conn: cli}
	cli.SetDeadline(time.Now().Add(30 * time.Second))
	q := new(dns.Msg)
	q.SetAxfr(origin)
	if err := conn.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	// The first message: the transfer runs, from its snapshot.
	if _, err := conn.ReadMsg(); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Serve did not return")
	}
	// Serve has returned: the transfer has given up, and its connection
	// carries nothing more.
	if m, err := conn.ReadMsg(); err == nil {
		t.Fatalf("a transfer still sends after Serve returned: %d RRs", len(m.Answer))
	}
}
