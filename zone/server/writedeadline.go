package server

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tcpWriteTimeout bounds each write of a message on a stream connection.
// A client that stops reading (its receive window closed) would otherwise
// block the write for as long as it keeps the connection open: the read
// and idle timeouts do not run while the server writes, and miekg/dns
// sets no write deadline. A zone transfer holds its snapshot of the zone
// meanwhile (the nodes and arena slabs of that version, however much the
// zone has changed since), so a stalled secondary would pin an old copy
// of the zone without bound. One message of a transfer is at most
// xfrMaxBytes octets: a client reading at all takes it in far less.
const tcpWriteTimeout = 20 * time.Second

// writeDeadlineListener hands out connections whose every Write must
// complete within timeout. It keeps the connections open, so that
// stopWrites can end every write at once when the server stops.
type writeDeadlineListener struct {
	net.Listener
	timeout time.Duration
	stopped atomic.Bool
	mu      sync.Mutex
	conns   map[*writeDeadlineConn]struct{}
}

// withWriteDeadlines returns ln with a write deadline on every write of
// its connections (timeout zero or less: tcpWriteTimeout).
func withWriteDeadlines(ln net.Listener, timeout time.Duration) *writeDeadlineListener {
	if timeout <= 0 {
		timeout = tcpWriteTimeout
	}
	return &writeDeadlineListener{Listener: ln, timeout: timeout, conns: map[*writeDeadlineConn]struct{}{}}
}

// stopWrites makes every write on the listener's connections, those
// blocked now and those to come, fail at once: the server is stopping,
// and a transfer must not go on reading its snapshot of the zone after
// Serve has returned.
func (l *writeDeadlineListener) stopWrites() {
	l.stopped.Store(true)
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Conn.SetWriteDeadline(pastDeadline)
	}
}

// pastDeadline is a deadline that has passed.
var pastDeadline = time.Unix(1, 0)

func (l *writeDeadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	wc := &writeDeadlineConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[wc] = struct{}{}
	l.mu.Unlock()
	// A TLS connection keeps ConnectionState, which miekg/dns hands to
	// handlers (the TLS version of transfers, XoT's peer certificate).
	if cs, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return &writeDeadlineStateConn{writeDeadlineConn: wc, cs: cs}, nil
	}
	return wc, nil
}

// writeDeadlineConn sets the write deadline before every write.
type writeDeadlineConn struct {
	net.Conn
	l *writeDeadlineListener
}

func (c *writeDeadlineConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.l.timeout)); err != nil {
		return 0, err
	}
	// stopWrites sets stopped before it sets the deadlines: either it
	// comes after the deadline set above, or stopped is seen here.
	if c.l.stopped.Load() {
		c.Conn.SetWriteDeadline(pastDeadline)
	}
	return c.Conn.Write(b)
}

func (c *writeDeadlineConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// writeDeadlineStateConn is a writeDeadlineConn over a TLS connection.
type writeDeadlineStateConn struct {
	*writeDeadlineConn
	cs interface{ ConnectionState() tls.ConnectionState }
}

func (c *writeDeadlineStateConn) ConnectionState() tls.ConnectionState {
	return c.cs.ConnectionState()
}

// streamListener is ln as a stream server of s serves it: under the
// connection cap (capListener), with write deadlines.
func (s *Server) streamListener(ln net.Listener, transport string) *writeDeadlineListener {
	return withWriteDeadlines(s.capListener(ln, transport), s.cfg.writeTimeout)
}

// running counts tasks that must end before the server has stopped.
type running struct {
	mu      sync.Mutex
	n       int
	stopped bool
	idle    chan struct{} // closed when n drops to zero after stop
	ctx     context.Context
	cancel  context.CancelFunc
}

// context returns a context cancelled when stop is called: a task's long
// work (presigning for a transfer) gives up then.
func (r *running) context() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.initLocked()
	return r.ctx
}

func (r *running) initLocked() {
	if r.ctx == nil {
		r.ctx, r.cancel = context.WithCancel(context.Background())
	}
}

// begin counts a task in; false once the server is stopping.
func (r *running) begin() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return false
	}
	r.n++
	return true
}

// end counts a task out.
func (r *running) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n--
	if r.n == 0 && r.idle != nil {
		close(r.idle)
		r.idle = nil
	}
}

// stop lets no task begin any more, and returns a channel closed when
// the running ones have ended.
func (r *running) stop() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	r.initLocked()
	r.cancel()
	ch := make(chan struct{})
	if r.n == 0 {
		close(ch)
	} else {
		r.idle = ch
	}
	return ch
}
