package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dnsbound/dance/internal/logtext"
	"github.com/dnsbound/dance/verify"
	"github.com/prometheus/client_golang/prometheus"
)

// handshakeListener accepts TCP connections, at most cap(sem) open at once,
// and completes each TLS handshake (verification included) in its own
// goroutine under a deadline. Accept returns only connections whose
// handshake succeeded, so a slow or failing client never holds up the
// accept loop nor reaches the HTTP server.
type handshakeListener struct {
	inner   net.Listener
	timeout time.Duration
	sem     chan struct{}
	s       *Server

	out    chan net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and handshakes in progress
	errMu  sync.Mutex
	err    error
	once   sync.Once
}

func newHandshakeListener(s *Server, inner net.Listener) *handshakeListener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &handshakeListener{
		inner: inner, timeout: s.cfg.HandshakeTimeout, sem: s.sem, s: s,
		out: make(chan net.Conn), ctx: ctx, cancel: cancel,
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *handshakeListener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		select {
		case l.sem <- struct{}{}:
		case <-l.ctx.Done():
			return
		}
		c, err := l.inner.Accept()
		if err != nil {
			<-l.sem
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
				errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.s.log.Warn("proxy: accept failed, retrying", "err", err, "in", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-l.ctx.Done():
					return
				}
			}
			l.fail(err)
			return
		}
		backoff = 0
		l.s.metrics.accepted.Inc()
		l.s.metrics.active.Inc()
		lc := &limitedConn{Conn: c, done: make(chan struct{})}
		// Renewals run under lc.ctx: their verdicts are logged with the
		// client's address too.
		lc.ctx, lc.cancel = context.WithCancelCause(verify.WithPeerAddr(l.s.ctx, c.RemoteAddr().String()))
		lc.release = func() { <-l.sem; l.s.metrics.active.Dec(); l.s.forgetHijacked(lc); l.s.renewals.Delete(lc) }
		l.wg.Add(1)
		go l.handshake(lc)
	}
}

func (l *handshakeListener) handshake(c net.Conn) {
	defer l.wg.Done()
	remote := c.RemoteAddr().String()
	ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
	defer cancel()
	// The verification core logs its verdict with the client's address.
	ctx = verify.WithPeerAddr(ctx, remote)
	_ = c.SetDeadline(time.Now().Add(l.timeout))
	start := time.Now()
	tc, err := l.s.serverHandshake(ctx, c)
	l.s.metrics.handshakeSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		// Logged before it is counted: once the counter moves, the log
		// has what it will get about this handshake.
		l.s.handshakeFailed(l.ctx, remote, err)
		l.s.metrics.handshakeResult(ctx, err).Inc()
		tc.Close()
		return
	}
	if l.s.cfg.AccessLog {
		l.s.logAccepted(tc, remote)
	}
	l.s.metrics.handshakeOK.Inc()
	_ = c.SetDeadline(time.Time{})
	select {
	case l.out <- tc:
	case <-l.ctx.Done():
		tc.Close()
	}
}

// handshakeResult returns the counter of a failed handshake: timeout or
// failed.
func (m *metrics) handshakeResult(ctx context.Context, err error) prometheus.Counter {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return m.handshakeTimeout
	}
	return m.handshakeFailed
}

func (l *handshakeListener) fail(err error) {
	l.errMu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.errMu.Unlock()
	l.Close()
}

// Accept returns the next connection whose handshake succeeded.
func (l *handshakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.out:
		return c, nil
	case <-l.ctx.Done():
		l.errMu.Lock()
		defer l.errMu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting and aborts the handshakes in progress; established
// connections stay open.
func (l *handshakeListener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.inner.Close()
	})
	return err
}

// wait returns when the accept loop and every handshake have ended.
func (l *handshakeListener) wait() { l.wg.Wait() }

func (l *handshakeListener) Addr() net.Addr { return l.inner.Addr() }

// limitedConn gives its slot back when closed, once.
type limitedConn struct {
	net.Conn
	once   sync.Once
	closed atomic.Bool
	done   chan struct{} // closed by Close
	// ctx is the connection's context: the work done for it (renewing
	// its identity, dialing its backend) ends when it is closed (cause
	// net.ErrClosed) or the server stops (Server.ctx).
	ctx     context.Context
	cancel  context.CancelCauseFunc
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.closed.Store(true)
	c.once.Do(func() {
		c.cancel(net.ErrClosed)
		close(c.done)
		c.release()
	})
	return err
}

// connContext returns the context of c, a connection this server
// accepted (a client connection over a *limitedConn), or the server's.
func (s *Server) connContext(c net.Conn) context.Context {
	if lc, ok := transportOf(c).(*limitedConn); ok {
		return lc.ctx
	}
	return s.ctx
}

// CloseWrite half-closes a TCP connection (used after the TLS close_notify
// in ModeTCP).
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// handshakeFailed logs a failed handshake at Info when the TLS exchange
// broke (the client's error text, bounded). A client the verifier refused
// is not logged here: the verification core logged the refusal, with the
// client's address (verify.WithPeerAddr), and one line per refused client
// is enough at every level.
// A handshake cut because the listener is closing (listening, the
// listener's context, has ended) is logged at Debug: the server is
// stopping, the client did nothing wrong.
func (s *Server) handshakeFailed(listening context.Context, remote string, err error) {
	var ve *verify.Error
	switch {
	case errors.As(err, &ve):
	case listening.Err() != nil:
		s.log.Debug("proxy: handshake cut; server stopping", "remote", remote)
	default:
		s.log.Info("proxy: handshake failed", "remote", remote, "err", logtext.Bound(err.Error(), logtext.MaxText))
	}
}

// logAccepted is the access log (Config.AccessLog): one line per client
// whose handshake succeeded.
func (s *Server) logAccepted(c net.Conn, remote string) {
	in := infoOf(c)
	attrs := []any{"remote", remote, "tls", tls.VersionName(in.version)}
	if a := in.auth; a != nil {
		id := a.id
		attrs = append(attrs, "subject", id.Subject(), "kind", id.Kind.String(), "name", id.Name)
		if a.claimed != "" {
			attrs = append(attrs, "claimed", "dane_clientid")
		}
		if len(a.presented.Chain) == 0 {
			attrs = append(attrs, "credential", "raw public key")
		}
	} else if len(in.chain) > 0 {
		// Passthrough: the application authenticates; this is only what
		// the certificate says.
		attrs = append(attrs, "certificate_subject", logtext.Bound(in.chain[0].Subject.String(), logtext.MaxText))
	}
	s.log.Info("proxy: client accepted", attrs...)
}
