package danetls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/dnsbound/dance/identity"
	"github.com/dnsbound/dance/internal/testident"
	"github.com/dnsbound/dance/internal/testwait"
	"github.com/dnsbound/dance/resolver"
	"github.com/dnsbound/dance/verify"
)

// blockingResolver is a resolver whose lookups block until their context
// ends (or the test does): an authority that never answers. It reports
// each lookup's context when the lookup starts, and the context's cause
// when it returns.
type blockingResolver struct {
	started  chan context.Context
	returned chan error
	stop     chan struct{}
}

func newBlockingResolver() *blockingResolver {
	return &blockingResolver{started: make(chan context.Context, 1), returned: make(chan error, 1), stop: make(chan struct{})}
}

func (r *blockingResolver) Lookup(ctx context.Context, name string, qtype uint16) (*resolver.Result, error) {
	r.started <- ctx
	select {
	case <-ctx.Done():
		r.returned <- context.Cause(ctx)
		return nil, ctx.Err()
	case <-r.stop:
		return nil, errors.New("test over")
	}
}

var _ verify.Resolver = (*blockingResolver)(nil)

// TestLookupUnderHandshakeContext: the verifier's lookups run under the
// handshake's context, so that a handshake given up by its caller (its
// deadline, its cancellation) or by a server that shuts down stops its DNS
// work instead of leaving it to the verifier's own deadline (two hours
// here).
func TestLookupUnderHandshakeContext(t *testing.T) {
	t.Parallel()
	dev := selfSigned(t, "sensor1._device.example.test", identity.KeyECDSAP256)
	sc, pool := testident.ServerCert(t)
	errGiveUp := errors.New("the handshake's caller gave up")

	tests := []struct {
		name string
		// start serves cfg and returns its address and a function that
		// gives up on the handshake in progress with errGiveUp.
		start func(t *testing.T, cfg *tls.Config) (addr string, deadline time.Time, giveUp func())
	}{
		{"HandshakeContext", func(t *testing.T, cfg *tls.Config) (string, time.Time, func()) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			deadline := time.Now().Add(time.Hour)
			ctx, cancel := context.WithCancelCause(context.Background())
			ctx, cancelDeadline := context.WithDeadline(ctx, deadline)
			t.Cleanup(cancelDeadline)
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				tls.Server(c, cfg).HandshakeContext(ctx)
			}()
			t.Cleanup(func() { ln.Close(); cancel(nil); <-done })
			return ln.Addr().String(), deadline, func() { cancel(errGiveUp) }
		}},
		{"http.Server shut down", func(t *testing.T, cfg *tls.Config) (string, time.Time, func()) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			base, cancel := context.WithCancelCause(context.Background())
			srv := &http.Server{
				TLSConfig:   cfg,
				ConnContext: ConnContext,
				BaseContext: func(net.Listener) context.Context { return base },
				ErrorLog:    log.New(io.Discard, "", 0),
				Handler:     http.HandlerFunc(whoami),
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				srv.ServeTLS(ln, "", "")
			}()
			t.Cleanup(func() { cancel(nil); srv.Close(); <-done })
			return ln.Addr().String(), time.Time{}, func() { cancel(errGiveUp); srv.Close() }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := newBlockingResolver()
			core, err := verify.New(verify.Config{Resolver: res, Allow: mustAllow(t, dev.name), LookupTimeout: 2 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			addr, deadline, giveUp := tc.start(t, ServerConfig(&tls.Config{Certificates: []tls.Certificate{sc}}, core))
			// Registered after the server's cleanup, so run before it: a
			// lookup that did not end with the handshake ends now.
			t.Cleanup(func() { close(res.stop) })
			clientCfg := whoClient(t, pool, &dev, tls.VersionTLS13)
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { raw.Close() })
			go func() {
				c := tls.Client(raw, clientCfg)
				if c.Handshake() == nil {
					c.Read(make([]byte, 1)) // until the server refuses or closes
				}
			}()

			var lookup context.Context
			select {
			case lookup = <-res.started:
			case <-time.After(30 * time.Second):
				t.Fatal("no lookup started")
			}
			if !deadline.IsZero() {
				if d, ok := lookup.Deadline(); !ok || !d.Equal(deadline) {
					t.Errorf("lookup deadline %v (%v), want the handshake's, %v", d, ok, deadline)
				}
			}
			giveUp()
			select {
			case cause := <-res.returned:
				if !errors.Is(cause, errGiveUp) {
					t.Errorf("lookup ended by %v, want the handshake's cancellation", cause)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("lookup still running 30 s after the handshake was given up")
			}
			// The core's slot is free again.
			if !testwait.Until(30*time.Second, func() bool { return core.InFlight() == 0 }) {
				t.Errorf("%d lookups still in flight", core.InFlight())
			}
		})
	}
}
