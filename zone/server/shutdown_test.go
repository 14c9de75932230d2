package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dnsbound/dance/zone"
)

// Serve returns when its context ends, however early: also when it ends
// before the TCP server has started (which then refuses to shut down and
// would otherwise keep Serve waiting for it for ever).
func TestServeStopsWhenCancelledAtOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "zone")
	if _, err := zone.Init(dir, zone.InitOptions{Origin: origin}); err != nil {
		t.Fatal(err)
	}
	z, err := zone.Open(dir, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	for i := 0; i < 50; i++ {
		srv, err := New(Config{Zone: z})
		if err != nil {
			t.Fatal(err)
		}
		ls, err := Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ls) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: Serve did not return after its context ended", i)
		}
	}
}
