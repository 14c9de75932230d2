package proxy_test

import (
	"bufio"
	"io"
	"net/http"
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

// TestDanceEngineKeepAlive: with EngineDance in ModeHTTP, a client sends
// several requests on one connection, and an expired verdict is renewed
// between them by the claimed name and the raw key.
func TestDanceEngineKeepAlive(t *testing.T) {
	w := newEngineWorld(t)
	backend, _ := echoBackend(t)
	addr, _ := startEngineProxy(t, w, proxy.Config{Mode: proxy.ModeHTTP, Backend: backend.URL})
	c, err := danceClient(t, addr, tls13.Certificate{PrivateKey: w.rawKey}, "rawdev._device.example.test", false)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func() (int, error) {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			return 0, err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for i := range 3 {
		if code, err := get(); err != nil || code != http.StatusOK {
			t.Fatalf("request %d on the connection: %d, %v", i+1, code, err)
		}
	}
	w.offset.Add(int64(10 * time.Minute))
	if code, err := get(); err != nil || code != http.StatusOK {
		t.Fatalf("after expiry, still allowed: %d, %v", code, err)
	}
	none, _ := verify.ParseAllowList([]string{"nobody._device.example.test"})
	w.core.SetAllowList(none)
	w.offset.Add(int64(10 * time.Minute))
	if code, err := get(); err != nil || code != http.StatusForbidden {
		t.Fatalf("after expiry, no longer allowed: %d, %v; want 403 on the same connection", code, err)
	}
}
