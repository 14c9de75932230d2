// Package connserve runs the accept loops of a stream server that serves
// each connection in its own goroutine (the LDAP server, the DNS-over-TLS
// gate): it caps the open connections (internal/connlimit), keeps track of
// listeners and connections, and closes them all at Close.
//
// For most uses, with the server's own ErrServerClosed:
//
//	g := connserve.New(ErrServerClosed)
//	go g.Serve(ln, 256, log, func(c net.Conn) { ... })
//	...
//	g.Close() // listeners and connections closed, Serve returns
//	cancel()  // whatever the handlers wait on
//	g.Wait()  // every handler has returned
package connserve

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/dnsbound/dance/internal/connlimit"
)

// Backoff after a temporary accept error (out of file descriptors, say):
// it doubles from MinBackoff up to MaxBackoff, and restarts at the next
// connection accepted.
const (
	MinBackoff = 5 * time.Millisecond
	MaxBackoff = time.Second
)

// Group is the set of listeners and connections of one server. Its zero
// value is not usable: make one with New.
type Group struct {
	closedErr error
	mu        sync.Mutex
	lns       map[net.Listener]bool
	conns     map[net.Conn]bool
	closed    bool
	wg        sync.WaitGroup
}

// New returns an open Group whose Serve returns closedErr after Close.
func New(closedErr error) *Group {
	return &Group{closedErr: closedErr, lns: map[net.Listener]bool{}, conns: map[net.Conn]bool{}}
}

// Serve accepts connections on ln, at most maxConns open at once (those over
// it are closed at accept and reported on log: see connlimit.New), and
// runs handle on each in its own goroutine; the connection is closed when
// handle returns. After Close it closes ln and returns the Group's closed
// error; it returns any other accept error that is not temporary.
func (g *Group) Serve(ln net.Listener, maxConns int, log *slog.Logger, handle func(net.Conn)) error {
	capped := connlimit.New(ln, maxConns, log)
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		ln.Close()
		return g.closedErr
	}
	g.lns[capped] = true
	g.mu.Unlock()
	var delay time.Duration
	for {
		c, err := capped.Accept()
		if err != nil {
			if g.isClosed() {
				return g.closedErr
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				delay = min(max(2*delay, MinBackoff), MaxBackoff)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if !g.track(c) {
			c.Close()
			return g.closedErr
		}
		go func() {
			defer g.wg.Done()
			defer g.untrack(c)
			handle(c)
		}()
	}
}

func (g *Group) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

func (g *Group) track(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.conns[c] = true
	g.wg.Add(1)
	return true
}

func (g *Group) untrack(c net.Conn) {
	c.Close()
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// Close closes the listeners and every open connection; Serve returns and
// takes no more. It does not wait for the handlers: Wait does.
func (g *Group) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for ln := range g.lns {
		ln.Close()
	}
	for c := range g.conns {
		c.Close()
	}
}

// Wait waits until every handler Serve started has returned.
func (g *Group) Wait() { g.wg.Wait() }
