// Package httplimit bounds what one client can hold of an HTTP server we
// run (the zone's admin API and metrics, the proxy's metrics, the
// quickstart's servers): how long it may take to send a request, how long
// a response may take to leave, how long an idle keep-alive connection
// stays open, how large a request body may be, and how many connections
// are open at once.
//
// For most uses:
//
//	l := httplimit.Defaults()
//	srv := l.Server(handler)          // timeouts, header and body limits
//	go srv.Serve(l.Listener(ln, log)) // the connection cap
//
// A handler that legitimately streams for longer than the totals allow (a
// bulk import, an export) calls Stream for that request: the totals and
// the body limit give way to progress deadlines, each read or write of the
// stream having ReadTimeout or WriteTimeout to complete. A server whose
// every request may stream (the proxy) uses ProgressHandler instead of
// the totals.
//
// # Security considerations
//
// Without these bounds a client holds a connection, and its goroutine,
// forever (slowloris): by sending a header slowly (ReadHeaderTimeout alone
// guards that), by announcing a body that never comes, by never reading
// the response, or by keeping an idle keep-alive open after any answer
// (a 401 included: net/http reads up to 256 KiB of an unread body before
// it reuses a connection). The connection cap bounds what many such
// clients hold at once until the timeouts cut them; a connection over the
// cap is closed at once, counted and logged, never queued.
package httplimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/dnsbound/dance/internal/connlimit"
)

// Defaults: generous for an operator's API client or a metrics scraper on
// any network, short for a client that holds a connection without using
// it.
const (
	// DefaultHeaderTimeout bounds the reading of a request's header.
	DefaultHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds the reading of a whole request, header
	// and body (1 MiB at 35 KiB/s).
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds the writing of a response, from the end
	// of the request's header.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultIdleTimeout closes a keep-alive connection with no request.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultMaxHeaderBytes bounds a request's header (net/http's own
	// default is 1 MiB).
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxBodyBytes bounds a request's body; larger bodies get 413.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxConns caps the connections open at once.
	DefaultMaxConns = 128
)

// Limits are the bounds of one server. Zero fields take the defaults;
// Defaults returns them filled in.
type Limits struct {
	// HeaderTimeout bounds the reading of a request's header
	// (http.Server.ReadHeaderTimeout).
	HeaderTimeout time.Duration
	// ReadTimeout bounds the reading of a whole request, header and body
	// (http.Server.ReadTimeout); in a Stream, each read of the body.
	ReadTimeout time.Duration
	// WriteTimeout bounds the writing of a response
	// (http.Server.WriteTimeout); in a Stream, each write.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection waiting for its next
	// request (http.Server.IdleTimeout).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request's body (http.MaxBytesReader: reading
	// beyond it fails, the answer is 413 and the connection closes).
	MaxBodyBytes int64
	// MaxConns caps the connections Listener lets through at once.
	MaxConns int
}

// Defaults returns the default limits.
func Defaults() Limits { return Limits{}.withDefaults() }

func (l Limits) withDefaults() Limits {
	if l.HeaderTimeout <= 0 {
		l.HeaderTimeout = DefaultHeaderTimeout
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	return l
}

// streamKey carries a request's *streamState to Stream.
type streamKey struct{}

// streamState is what Stream needs of a request: the body before the
// limit was put on it, and the limits.
type streamState struct {
	body io.ReadCloser
	l    Limits
}

// Server returns an http.Server that serves h within l: its timeouts and
// header limit set, and every request body limited to l.MaxBodyBytes. The
// caller sets the other fields it needs (TLSConfig, ErrorLog, ...) and
// serves on l.Listener.
func (l Limits) Server(h http.Handler) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st := &streamState{body: r.Body, l: l}
			r2 := r.WithContext(context.WithValue(r.Context(), streamKey{}, st))
			r2.Body = http.MaxBytesReader(w, r.Body, l.MaxBodyBytes)
			h.ServeHTTP(w, r2)
		}),
		ReadHeaderTimeout: l.HeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// ErrBodyStalled is the error of a read of a request body that got no
// data within its progress deadline (Stream, ProgressHandler); it wraps
// the connection's timeout.
var ErrBodyStalled = errors.New("httplimit: request body stalled")

// ErrNotLimited is Stream's error for a request not served by a Limits'
// Server.
var ErrNotLimited = errors.New("httplimit: request not served by Limits.Server")

// Stream lets one request run as long as it makes progress: the body limit
// is lifted and the totals of ReadTimeout and WriteTimeout give way to
// deadlines renewed by each read of the body it returns (ReadTimeout) and
// each write to the writer it returns (WriteTimeout). The writer keeps
// http.Flusher and reaches the connection through Unwrap
// (http.ResponseController). A client that stops sending or reading for
// longer than those is cut, however long the stream has run.
func Stream(w http.ResponseWriter, r *http.Request) (io.Reader, http.ResponseWriter, error) {
	st, ok := r.Context().Value(streamKey{}).(*streamState)
	if !ok {
		return nil, nil, ErrNotLimited
	}
	rc := http.NewResponseController(w)
	now := time.Now()
	rd := now.Add(st.l.ReadTimeout)
	if st.body == nil || st.body == http.NoBody {
		// No body: net/http is already reading ahead to notice the
		// client's going away, and that read meeting a deadline would
		// cancel the request; the writes' deadlines bound the stream.
		rd = time.Time{}
	}
	if err := rc.SetReadDeadline(rd); err != nil {
		return nil, nil, err
	}
	if err := rc.SetWriteDeadline(now.Add(st.l.WriteTimeout)); err != nil {
		return nil, nil, err
	}
	return &progressReader{r: st.body, rc: rc, d: st.l.ReadTimeout},
		&progressWriter{ResponseWriter: w, rc: rc, d: st.l.WriteTimeout}, nil
}

// progressReader renews the connection's read deadline before each read.
type progressReader struct {
	r   io.Reader
	rc  *http.ResponseController
	d   time.Duration
	eof bool
}

func (p *progressReader) Read(b []byte) (int, error) {
	if p.eof {
		return 0, io.EOF
	}
	if err := p.rc.SetReadDeadline(time.Now().Add(p.d)); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return n, fmt.Errorf("%w: %w", ErrBodyStalled, err)
	}
	if err == io.EOF {
		// The body is done; net/http's own read for the next request (or
		// for the client's going away) must not meet this deadline.
		p.eof = true
		p.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// progressBody is a progressReader that is also the request's Body.
type progressBody struct {
	progressReader
	c io.Closer
}

func (p *progressBody) Close() error { return p.c.Close() }

// progressWriter renews the connection's write deadline before each write,
// header and flush.
type progressWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (p *progressWriter) renew() error { return p.rc.SetWriteDeadline(time.Now().Add(p.d)) }

func (p *progressWriter) WriteHeader(code int) {
	p.renew()
	p.ResponseWriter.WriteHeader(code)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	if err := p.renew(); err != nil {
		return 0, err
	}
	return p.ResponseWriter.Write(b)
}

func (p *progressWriter) Flush() {
	if p.renew() == nil {
		p.rc.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// ProgressHandler serves h with deadlines that follow each request's
// progress instead of totals, for servers whose requests and responses
// legitimately stream for long (a reverse proxy): each read of a request
// body must complete within read of the previous one, each write of the
// response within write. The final flush, after h returns, gets write too.
// A request that asks to switch protocols (Connection: Upgrade) gets no
// deadline from here and has those of earlier requests on its connection
// cleared: once switched, the connection belongs to whoever hijacks it.
// Use it with an http.Server whose ReadTimeout and WriteTimeout are zero.
func ProgressHandler(h http.Handler, read, write time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if isUpgrade(r) {
			rc.SetWriteDeadline(time.Time{})
			h.ServeHTTP(w, r)
			return
		}
		pw := &progressWriter{ResponseWriter: w, rc: rc, d: write}
		pw.renew()
		r2 := r
		if r.Body != nil && r.Body != http.NoBody {
			r2 = r.WithContext(r.Context()) // a shallow copy, for its Body
			r2.Body = &progressBody{progressReader: progressReader{r: r.Body, rc: rc, d: read}, c: r.Body}
		}
		h.ServeHTTP(pw, r2)
		pw.renew()
	})
}

// isUpgrade reports whether r asks to switch protocols (RFC 9110 §7.8).
func isUpgrade(r *http.Request) bool {
	if r.Header.Get("Upgrade") == "" {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return true
			}
		}
	}
	return false
}

// Listener caps the connections ln hands out at l.MaxConns open at once: a
// connection over the cap is closed as soon as it is accepted, counted,
// and logged on log, which may be nil, at most once per
// connlimit.LogInterval.
func (l Limits) Listener(ln net.Listener, log *slog.Logger) *Listener {
	l = l.withDefaults()
	return connlimit.New(ln, l.MaxConns, log)
}

// Listener is a net.Listener with a cap on open connections (see
// Limits.Listener and internal/connlimit).
type Listener = connlimit.Listener

// ErrorLog returns a log.Logger for http.Server.ErrorLog that writes to
// l at level Info with component set: net/http reports there the
// connections it cut (TLS handshake errors, timeouts).
func ErrorLog(l *slog.Logger, component string) *log.Logger {
	return slog.NewLogLogger(l.With("component", component).Handler(), slog.LevelInfo)
}
