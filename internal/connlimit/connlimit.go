// Package connlimit caps the connections a net.Listener hands out at once,
// for every stream server we run: the HTTP servers (internal/httplimit) and
// the zone's DNS-over-TCP and DNS-over-TLS listeners.
//
// For most uses:
//
//	capped := connlimit.New(ln, 256, log)
//	go srv.Serve(capped)
//
// # Security considerations
//
// Timeouts cut a client that holds a connection without using it, but
// only after they run out; meanwhile many such clients would hold a file
// descriptor and a goroutine each, without bound. The cap bounds that. A
// connection over the cap is accepted and closed at once, so it neither
// waits in the kernel's accept queue (where it would hold a slot of the
// backlog and then be served late) nor costs more than the accept. Each
// one is counted; the log gets at most one line per LogInterval, with the
// number refused since the previous line, so a flood of connections cannot
// flood the log.
package connlimit

import (
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// LogInterval spaces the log lines that report refused connections.
const LogInterval = 10 * time.Second

// New returns ln with at most max connections open at once (max < 1 is
// taken as 1). Connections over the cap are closed as soon as they are
// accepted, counted (Refused), and reported on log, which may be nil, at
// most once per LogInterval.
func New(ln net.Listener, max int, log *slog.Logger) *Listener {
	if max < 1 {
		max = 1
	}
	return &Listener{Listener: ln, sem: make(chan struct{}, max), log: log, now: time.Now}
}

// Listener is a net.Listener with a cap on open connections (see New).
// A connection it returns gives its slot back when it is closed; one from
// a TLS listener keeps its ConnectionState method, which DNS-over-TLS
// handlers use to see the TLS version.
type Listener struct {
	net.Listener
	sem     chan struct{}
	log     *slog.Logger
	now     func() time.Time
	refused atomic.Uint64
	// nextLog is when the next line may be logged (Unix nanoseconds);
	// held counts the refusals since the last line.
	nextLog atomic.Int64
	held    atomic.Uint64
}

// Accept returns the next connection under the cap, closing those over it.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return wrap(c, func() { <-l.sem }), nil
		default:
			// Counted before the close, so that whoever sees the
			// close sees the count.
			l.refused.Add(1)
			l.report()
			c.Close()
		}
	}
}

// report logs a refusal unless a line was logged within LogInterval.
func (l *Listener) report() {
	n := l.held.Add(1)
	if l.log == nil {
		return
	}
	next := l.nextLog.Load()
	t := l.now().UnixNano()
	if t < next || !l.nextLog.CompareAndSwap(next, t+int64(LogInterval)) {
		return
	}
	l.held.Add(-n)
	l.log.Warn("connection cap reached: connections over it closed at accept",
		"cap", cap(l.sem), "refused", n, "addr", l.Addr().String())
}

// Refused returns how many connections were closed over the cap.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// Open returns how many connections are open under the cap.
func (l *Listener) Open() int { return len(l.sem) }

// conn gives its slot back once, when it is closed.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// tlsConn is a conn over a *tls.Conn: it keeps the methods that callers
// find by interface (miekg/dns's ConnectionStater, handshakes).
type tlsConn struct {
	*conn
	tc *tls.Conn
}

func (c *tlsConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }
func (c *tlsConn) Handshake() error                     { return c.tc.Handshake() }

// connectionStater is a TLS connection of another engine that reports
// its state as crypto/tls does.
type connectionStater interface {
	ConnectionState() tls.ConnectionState
}

// stateConn is a conn over a connectionStater: it keeps ConnectionState.
type stateConn struct {
	*conn
	cs connectionStater
}

func (c *stateConn) ConnectionState() tls.ConnectionState { return c.cs.ConnectionState() }

func wrap(c net.Conn, release func()) net.Conn {
	cc := &conn{Conn: c, release: release}
	if tc, ok := c.(*tls.Conn); ok {
		return &tlsConn{conn: cc, tc: tc}
	}
	if cs, ok := c.(connectionStater); ok {
		return &stateConn{conn: cc, cs: cs}
	}
	return cc
}
