package proxy_test

import (
	"bufio"
	"testing"
	"time"

	"github.com/dnsbound/dance/proxy"
	"github.com/dnsbound/dance/tls13"
	"github.com/dnsbound/dance/verify"
)

// TestDanceEngineRenewal: a forwarded connection of a raw-key client that
// claimed its name in dane_clientid is verified again, by that name and
// that key, once its verdict has expired; once the name is refused (taken
// off the allow-list) the connection is closed.
func TestDanceEngineRenewal(t *testing.T) {
	w := newEngineWorld(t)
	addr, _ := startEngineProxy(t, w, proxy.Config{Mode: proxy.ModeTCP, Backend: echoTCP(t)})
	const name = "rawdev._device.example.test"
	c, err := danceClient(t, addr, tls13.Certificate{PrivateKey: w.rawKey}, name, false)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if line, err := roundTrip(c, br, "one"); err != nil || line != name+": one\n" {
		t.Fatalf("first: %q, %v", line, err)
	}
	// Past the verdict's expiry, still allowed: renewed from the claimed
	// name and the raw key (the key names no one: without the claimed name
	// the renewal would fail).
	w.offset.Add(int64(10 * time.Minute))
	if line, err := roundTrip(c, br, "two"); err != nil || line != name+": two\n" {
		t.Fatalf("renewed: %q, %v", line, err)
	}
	none, _ := verify.ParseAllowList([]string{"nobody._device.example.test"})
	w.core.SetAllowList(none)
	w.offset.Add(int64(10 * time.Minute))
	if line, err := roundTrip(c, br, "three"); err == nil {
		t.Fatalf("after the name was refused the connection still works: %q", line)
	}
}
