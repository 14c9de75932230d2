package proxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
)

// gatedResolver answers through inner until it is armed; from then on its
// lookups block until their context ends (or the test does): an authority
// that stopped answering. It reports each blocked lookup when it starts
// and the cause of its context when it returns.
type gatedResolver struct {
	inner    verify.Resolver
	armed    atomic.Bool
	started  chan struct{}
	returned chan error
	stop     chan struct{}
}

func newGatedResolver(inner verify.Resolver) *gatedResolver {
	return &gatedResolver{inner: inner, started: make(chan struct{}, 16), returned: make(chan error, 16), stop: make(chan struct{})}
}

func (r *gatedResolver) Lookup(ctx context.Context, name string, qtype uint16) (*resolver.Result, error) {
	if !r.armed.Load() {
		return r.inner.Lookup(ctx, name, qtype)
	}
	r.started <- struct{}{}
	select {
	case <-ctx.Done():
		r.returned <- context.Cause(ctx)
		return nil, ctx.Err()
	case <-r.stop:
		return nil, errors.New("test over")
	}
}

// renewConn is a connection through the proxy: expire makes its verdict
// expire and starts the renewal of its identity.
type renewConn struct {
	expire, close func()
}

// TestRenewalUnderConnectionContext: the verification that renews the
// identity of a long-lived connection (ModeTCP, an upgraded ModeHTTP
// connection, a keep-alive request) runs under a context that ends with the
// connection or the server, so that a proxy shutting down, or a connection
// closed, stops its DNS work instead of leaving it to the lookup's own
// deadline (two hours here) and, in ModeTCP, holding Shutdown past its
// deadline.
func TestRenewalUnderConnectionContext(t *testing.T) {
	w := newWorld(t)
	backendTCP := echoTCP(t)
	backendUpgrade := upgradeBackend(t)
	backendHTTP, _ := echoBackend(t)

	tcp := func(t *testing.T, addr string) renewConn {
		c, err := tls.Dial("tcp", addr, w.clientTLS(w.clients[ecdsaClient]))
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		if _, err := roundTrip(c, br, "one"); err != nil {
			t.Fatal(err)
		}
		return renewConn{
			// The first bytes after the expiry renew the identity.
			expire: func() { w.advance(10 * time.Minute); fmt.Fprintf(c, "two\n") },
			close:  func() { c.Close() },
		}
	}
	upgraded := func(t *testing.T, addr string) renewConn {
		c, _ := upgrade(t, w, addr)
		// The verdict lasts a second (MaxVerdictTTL below); the renewal
		// timer fires after it and finds it expired.
		return renewConn{expire: func() { w.advance(10 * time.Minute) }, close: func() { c.Close() }}
	}
	// A keep-alive request whose body has not come yet: net/http does not
	// watch its connection meanwhile.
	request := func(t *testing.T, addr string) renewConn {
		conf := w.clientTLS(w.clients[ecdsaClient])
		conf.NextProtos = []string{"http/1.1"}
		c, err := tls.Dial("tcp", addr, conf)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("first request: %v, %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return renewConn{
			expire: func() {
				w.advance(10 * time.Minute)
				io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")
			},
			close: func() { c.Close() },
		}
	}
	// Shut down and cut at once: a context that has already ended.
	cutShutdown := func(s *proxy.Server) error {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return s.Shutdown(ctx)
	}
	closeServer := func(s *proxy.Server) error { return s.Close() }
	tests := []struct {
		name    string
		mode    proxy.Mode
		backend string
		open    func(t *testing.T, addr string) renewConn
		// end stops the server; nil: the client closes its connection.
		end func(s *proxy.Server) error
	}{
		{"tcp/Close", proxy.ModeTCP, backendTCP, tcp, closeServer},
		{"tcp/Shutdown cut", proxy.ModeTCP, backendTCP, tcp, cutShutdown},
		{"upgraded/Close", proxy.ModeHTTP, backendUpgrade, upgraded, closeServer},
		{"upgraded/Shutdown cut", proxy.ModeHTTP, backendUpgrade, upgraded, cutShutdown},
		// The proxy reads an upgraded connection throughout: its
		// closing is seen at once.
		{"upgraded/client closes", proxy.ModeHTTP, backendUpgrade, upgraded, nil},
		{"request/Close", proxy.ModeHTTP, backendHTTP.URL, request, closeServer},
		{"request/Shutdown cut", proxy.ModeHTTP, backendHTTP.URL, request, cutShutdown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := newGatedResolver(w.resolver)
			allow, _ := verify.ParseAllowList([]string{"*._device.example.test"})
			core, err := verify.New(verify.Config{Allow: allow, Resolver: res, Time: w.now, MaxVerdictTTL: time.Second, LookupTimeout: 2 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			addr, s := startProxy(t, w, proxy.Config{Mode: tc.mode, Backend: tc.backend, Verifier: core})
			// Registered after the proxy's cleanup, so run before it: a
			// lookup that did not end with its connection ends now.
			t.Cleanup(func() { close(res.stop) })
			c := tc.open(t, addr)
			defer c.close()
			res.armed.Store(true)
			c.expire()
			select {
			case <-res.started:
			case <-time.After(30 * time.Second):
				t.Fatal("no renewal started")
			}
			ended := make(chan error, 1)
			if tc.end == nil {
				c.close()
			} else {
				go func() { ended <- tc.end(s) }()
			}
			select {
			case cause := <-res.returned:
				if !errors.Is(cause, proxy.ErrServerClosed) && !errors.Is(cause, net.ErrClosed) {
					t.Errorf("renewal ended by %v, want the end of the server or the connection", cause)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("renewal still looking up 30 s after its connection or server ended")
			}
			if tc.end != nil {
				select {
				case <-ended:
				case <-time.After(30 * time.Second):
					t.Fatal("the proxy did not stop within 30 s")
				}
			}
			if !testwait.Until(30*time.Second, func() bool { return core.InFlight() == 0 }) {
				t.Errorf("%d lookups still in flight", core.InFlight())
			}
		})
	}
}
