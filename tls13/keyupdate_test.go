package tls13

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/dnsbound/dance/tls13/internal/keysched"
)

// TestKeyUpdateRequestsAnsweredOnce: three KeyUpdates with update_requested
// in a row get one KeyUpdate back, before the echoed data (RFC 8446 §4.6.3:
// a peer that receives several while silent answers with a single update).
// The client's read secret shows how many it received.
func TestKeyUpdateRequestsAnsweredOnce(t *testing.T) {
	p := testPKI(t)
	addr, res := startOurServer(t, ourServerConfig(p))
	c := dial(t, addr, &Config{ServerName: "server.test", RootCAs: p.roots})
	if err := c.HandshakeContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.inMu.Lock()
	want := keysched.NextTrafficSecret(c.suite.Hash, bytes.Clone(c.inSec))
	c.inMu.Unlock()
	for range 3 {
		if err := c.UpdateKeys(true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo %q, %v", got, err)
	}
	c.inMu.Lock()
	once := bytes.Equal(c.inSec, want)
	c.inMu.Unlock()
	if !once {
		t.Error("the server did not answer three KeyUpdate requests with exactly one KeyUpdate")
	}
	c.Close()
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	}
}
