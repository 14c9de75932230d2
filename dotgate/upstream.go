package dotgate

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of an exchange with the upstream; the client gets SERVFAIL.
var (
	// ErrUpstreamBusy: UpstreamMaxInFlight queries were already waiting
	// for the upstream, and none finished before the query's deadline.
	ErrUpstreamBusy = errors.New("dotgate: upstream busy: too many queries in flight")
	// ErrUpstreamLost: the connection the query went out on broke (closed
	// by the upstream, reset, stalled) before its answer came.
	ErrUpstreamLost = errors.New("dotgate: upstream connection lost")
	// errUpstreamStalled closes a connection on which a query timed out
	// with nothing at all read since it was sent.
	errUpstreamStalled = errors.New("dotgate: upstream connection stalled")
	errUpstreamClosed  = errors.New("dotgate: server closed")
	errUpstreamRetired = errors.New("dotgate: upstream connection retired")
)

// upstream is a small pool of persistent connections to the upstream
// resolver, each carrying many queries at once (RFC 7766 §6.2.1.1: a
// client may pipeline, and a server may answer out of order). Each query
// gets a message ID of its connection's, unique among the queries in
// flight on it, and its answer is matched back by that ID and restored to
// the client's ID. A broken connection fails its queries and is dialled
// again by the next query that picks it.
type upstream struct {
	addr    string
	tls     *tls.Config // nil: plain TCP
	dialTO  time.Duration
	slots   chan struct{} // one per query in flight, all connections together
	pool    []*upSlot
	next    atomic.Uint32
	m       *metrics
	mu      sync.Mutex
	closed  bool
	readers sync.WaitGroup
}

// upSlot is one place of the pool: a connection, dialled when first
// needed and again after it broke.
type upSlot struct {
	mu sync.Mutex
	c  *upConn
}

// upConn is one connection to the upstream and the queries in flight on
// it.
type upConn struct {
	c        net.Conn
	wmu      sync.Mutex // one writer at a time
	mu       sync.Mutex
	pending  map[uint16]chan []byte
	nextID   uint16
	lastRead atomic.Int64 // unix nanoseconds of the last whole answer read
	used     int          // queries handed this connection; under its slot's mutex
	active   int          // queries handed it and not finished; under mu
	retiring bool         // no more queries: closed when the last active one ends; under mu
	done     chan struct{}
	once     sync.Once
	err      error // why it broke; set before done is closed
}

func newUpstream(addr string, tlsCfg *tls.Config, conns, inFlight int, dialTO time.Duration, m *metrics) *upstream {
	u := &upstream{addr: addr, tls: tlsCfg, dialTO: dialTO, slots: make(chan struct{}, inFlight), m: m}
	for range conns {
		u.pool = append(u.pool, &upSlot{})
	}
	return u
}

// upstreamConnQueries is how many queries one upstream connection
// carries; then it takes no more and is closed once its last answer is
// in. Servers may close a connection after some number of queries of
// their own choosing (miekg/dns servers after 128 by default), and every
// query in flight on it when they do must be sent again: the gate moves
// on first. It saves those retries; it is not what makes a lower limit
// work (exchange sends a lost query again on a new connection).
const upstreamConnQueries = 100

// upstreamAttempts is how many connections one query is sent on, at most.
const upstreamAttempts = 3

// exchange sends one query (a whole DNS message) and returns the answer
// as the upstream sent it, with the query's own ID. A query whose
// connection broke before its answer came (the upstream closes idle
// connections, and connections after so many queries, with queries of
// ours maybe already on the way) is sent again on a new one, up to
// upstreamAttempts times in all: queries are idempotent.
func (u *upstream) exchange(ctx context.Context, q []byte) ([]byte, error) {
	select {
	case u.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w (%d)", ErrUpstreamBusy, cap(u.slots))
	}
	u.m.upInFlight.Inc()
	defer func() {
		u.m.upInFlight.Dec()
		<-u.slots
	}()
	// A lost query is sent again in the same place of the pool, on the
	// connection that took its own's place, not on another of the pool:
	// an upstream that closes connections after so many queries closes
	// the others, filled round robin, at about the same time, and a retry
	// on one of them would be lost as well.
	s := u.pool[int(u.next.Add(1))%len(u.pool)]
	for attempt := 1; ; attempt++ {
		uc, err := u.conn(ctx, s)
		if err != nil {
			return nil, err
		}
		a, err := uc.roundTrip(ctx, q)
		if err == nil || attempt == upstreamAttempts || ctx.Err() != nil || !errors.Is(err, ErrUpstreamLost) {
			return a, err
		}
		u.m.upRetries.Inc()
	}
}

// conn returns the live connection of slot s, dialling one where the
// slot has none.
func (u *upstream) conn(ctx context.Context, s *upSlot) (*upConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil && s.c.alive() {
		if s.c.used < upstreamConnQueries {
			s.c.used++
			s.c.mu.Lock()
			s.c.active++
			s.c.mu.Unlock()
			return s.c, nil
		}
		s.c.retire()
	}
	c, err := u.dial(ctx)
	if err != nil {
		u.m.upDials.WithLabelValues(dialFailed).Inc()
		return nil, err
	}
	uc := &upConn{c: c, pending: map[uint16]chan []byte{}, done: make(chan struct{})}
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		c.Close()
		return nil, errUpstreamClosed
	}
	u.readers.Add(1)
	u.mu.Unlock()
	u.m.upDials.WithLabelValues(dialOK).Inc()
	go func() {
		defer u.readers.Done()
		uc.read()
	}()
	uc.used, uc.active = 1, 1
	s.c = uc
	return uc, nil
}

func (u *upstream) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, u.dialTO)
	defer cancel()
	if u.tls != nil {
		d := &tls.Dialer{Config: u.tls}
		return d.DialContext(ctx, "tcp", u.addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", u.addr)
}

// close breaks every connection and waits for their readers.
func (u *upstream) close() {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	for _, s := range u.pool {
		s.mu.Lock()
		if s.c != nil {
			s.c.fail(errUpstreamClosed)
		}
		s.mu.Unlock()
	}
	u.readers.Wait()
}

func (uc *upConn) alive() bool {
	select {
	case <-uc.done:
		return false
	default:
		return true
	}
}

// retire closes the connection once no query handed it is active: one
// handed it but not yet sent still goes out on it.
func (uc *upConn) retire() {
	uc.mu.Lock()
	uc.retiring = true
	idle := uc.active == 0
	uc.mu.Unlock()
	if idle {
		uc.fail(errUpstreamRetired)
	}
}

// fail breaks the connection: every query in flight on it gets err.
func (uc *upConn) fail(err error) {
	uc.once.Do(func() {
		uc.err = err
		close(uc.done)
		uc.c.Close()
	})
}

// roundTrip sends q under an ID of the connection's and waits for the
// answer with that ID. It ends the activity conn counted.
func (uc *upConn) roundTrip(ctx context.Context, q []byte) ([]byte, error) {
	defer func() {
		uc.mu.Lock()
		uc.active--
		last := uc.retiring && uc.active == 0
		uc.mu.Unlock()
		if last {
			uc.fail(errUpstreamRetired)
		}
	}()
	ch := make(chan []byte, 1)
	uc.mu.Lock()
	if !uc.alive() {
		uc.mu.Unlock()
		return nil, fmt.Errorf("%w: %v", ErrUpstreamLost, uc.err)
	}
	// IDs go round; one still in flight is skipped. The in-flight bound
	// (far below 65536) leaves free ones.
	id := uc.nextID
	for uc.pending[id] != nil {
		id++
	}
	uc.nextID = id + 1
	uc.pending[id] = ch
	uc.mu.Unlock()
	defer func() {
		uc.mu.Lock()
		delete(uc.pending, id)
		uc.mu.Unlock()
	}()
	msg := make([]byte, 2+len(q))
	binary.BigEndian.PutUint16(msg, uint16(len(q)))
	copy(msg[2:], q)
	orig := binary.BigEndian.Uint16(q)
	binary.BigEndian.PutUint16(msg[2:], id)
	sent := time.Now()
	uc.wmu.Lock()
	if d, ok := ctx.Deadline(); ok {
		_ = uc.c.SetWriteDeadline(d)
	}
	_, err := uc.c.Write(msg)
	uc.wmu.Unlock()
	if err != nil {
		// A write cut short leaves the stream unusable.
		uc.fail(err)
		return nil, fmt.Errorf("%w: %v", ErrUpstreamLost, err)
	}
	select {
	case a := <-ch:
		binary.BigEndian.PutUint16(a, orig)
		return a, nil
	case <-uc.done:
		return nil, fmt.Errorf("%w: %v", ErrUpstreamLost, uc.err)
	case <-ctx.Done():
		// Nothing read since this query went out: the upstream (or the
		// path to it) has stopped, not just this query's recursion. The
		// queries after it get a fresh connection.
		if uc.lastRead.Load() < sent.UnixNano() {
			uc.fail(errUpstreamStalled)
		}
		return nil, ctx.Err()
	}
}

// read delivers answers to the queries waiting for them until the
// connection breaks. An answer nobody waits for (its query timed out) is
// dropped.
func (uc *upConn) read() {
	var p [2]byte
	for {
		if _, err := io.ReadFull(uc.c, p[:]); err != nil {
			uc.fail(err)
			return
		}
		n := int(binary.BigEndian.Uint16(p[:]))
		if n < dnsHeaderLen {
			uc.fail(fmt.Errorf("dotgate: upstream sent a %d-octet message", n))
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(uc.c, buf); err != nil {
			uc.fail(err)
			return
		}
		uc.lastRead.Store(time.Now().UnixNano())
		id := binary.BigEndian.Uint16(buf)
		uc.mu.Lock()
		ch := uc.pending[id]
		delete(uc.pending, id)
		uc.mu.Unlock()
		if ch != nil {
			ch <- buf
		}
	}
}
